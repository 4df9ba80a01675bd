r"""The trinomial task: seed 003's walk against its exact lattice law and its Gaussian limit.

Each step moves ±δy with probability α and stays with 1 − 2α; in the limit the
law solves :math:`\partial_t P = C^2 \partial_y^2 P`, :math:`C^2 = \alpha\,\delta y^2/\delta t`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gelav.tasks._base import ScenarioLike, TaskResult, read_table, settings

__all__ = ["FIELDS", "TrinomialReport", "read_trinomial_table", "trinomial"]

FIELDS = ("alpha", "dy", "dt", "steps", "paths", "seed", "x0")
_KEEP_PATHS = 20_000_000  # keep the sample paths for the figure up to this many numbers


def read_trinomial_table(scenario: Mapping[str, Any]) -> dict[str, Any]:
    """The validated fields of the ``[trinomial]`` table."""
    return read_table(scenario, "trinomial", FIELDS, lambda sec: {
        "alpha": sec.positive("alpha"), "dy": sec.positive("dy"), "dt": sec.positive("dt"),
        "steps": sec.integer("steps"), "paths": sec.integer("paths"), "seed": sec.integer("seed", minimum=0),
        "x0": sec.number("x0")})


class TrinomialReport(TaskResult):
    """The walk (``walk``), the sample (``sample``) and its summary (``summary``, the JSON)."""

    walk: Any = None
    sample: Any = TaskResult.plotted_field()
    summary: Any = TaskResult.json_field()

    name = "trinomial"

    def key_numbers(self) -> dict[str, Any]:
        mo = self.summary["moments"]
        out: dict[str, Any] = {}
        for key, label in (("mean", "mean"), ("variance", "variance"), ("skewness", "skewness"),
                           ("excess_kurtosis", "excess kurtosis")):
            out[f"{label}: sample"] = mo[key]["sample"]
            out[f"{label}: standard error"] = mo[key]["stderr"]
            out[f"{label}: exact lattice"] = mo[key]["lattice"]
        out["limit variance 2C²t"] = self.summary["limit_variance"]
        out["KS distance to the lattice law"] = self.summary["ks_lattice"]["statistic"]
        out["KS distance to the Gaussian limit"] = self.summary["ks_gaussian"]["statistic"]
        return out

    def tables(self) -> dict[str, dict[str, Any]]:
        import numpy as np

        law = self.sample.exact_law()
        out = {"final": {"position": np.asarray(self.sample.final)},
               "lattice_law": {"position": law.positions, "probability": law.probabilities}}
        if self.sample.paths is not None:
            out["paths"] = {"t": np.repeat(self.sample.times[None, :], self.sample.paths.shape[0], 0).ravel(),
                            "path": np.repeat(np.arange(self.sample.paths.shape[0]), self.sample.times.size),
                            "position": np.asarray(self.sample.paths).ravel()}
        return out


def trinomial(scenario: ScenarioLike = None, *, keep_paths: bool = False, **options: Any) -> TrinomialReport:
    """Simulate the walk from a scenario's ``[trinomial]`` table and options (``None``: not given)."""
    from gelav.lattice import TrinomialWalk

    _, cfg = settings("trinomial", scenario, options, FIELDS, read_trinomial_table)
    from gelav._validation import MAX_CELLS

    for key, least in (("steps", 1), ("paths", 2)):  # one walk has no sample variance (nan ± nan)
        if cfg[key] < least:
            raise ValueError(f"`--{key}` must be >= {least}, got {cfg[key]}.")
        if cfg[key] > MAX_CELLS:  # was an out-of-memory exit
            raise ValueError(f"`--{key}` = {cfg[key]} is too large: it must be <= {MAX_CELLS:.0e}.")
    if cfg["seed"] is not None and cfg["seed"] < 0:
        raise ValueError(f"`--seed` must be >= 0, got {cfg['seed']}.")
    walk = TrinomialWalk(cfg["alpha"], dy=cfg["dy"], dt=cfg["dt"])
    keep = keep_paths and cfg["paths"] * (cfg["steps"] + 1) <= _KEEP_PATHS
    sample = walk.simulate(cfg["steps"], cfg["paths"], seed=cfg["seed"], x0=cfg["x0"], keep_paths=keep)
    summary = sample.summary()
    summary["x0"] = cfg["x0"]
    summary["seed"] = cfg["seed"]
    summary["limit_variance"] = walk.variance(sample.horizon)
    from gelav.results import Diagnostics

    return TrinomialReport(inputs=cfg, diagnostics=Diagnostics(timings={"total": float(sample.elapsed)}),
                           walk=walk, sample=sample, summary=summary)
