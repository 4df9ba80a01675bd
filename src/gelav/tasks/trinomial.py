r"""The trinomial task: seed 003's walk against its exact lattice law and its Gaussian limit.

Each step moves ±δy with probability α and stays with 1 − 2α; in the limit the
law solves :math:`\partial_t P = C^2 \partial_y^2 P`, :math:`C^2 = \alpha\,\delta y^2/\delta t`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

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


#: the walk's δy²·steps (its spread in units of y, squared) the moments up to the fourth can carry
SPREAD_RANGE = (1e-150, 1e150)
#: most steps per walk: the exact lattice law (the reference of the KS distance) costs O(steps²)
MAX_WALK_STEPS = 20_000


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
    if cfg["steps"] > MAX_WALK_STEPS:  # the exact lattice law costs O(steps²): 1e6 steps ran for minutes
        raise ValueError(f"`--steps` = {cfg['steps']} is too large: it must be <= {MAX_WALK_STEPS:,} (the exact "
                         f"lattice law the walks are compared with costs time ∝ steps²; {MAX_WALK_STEPS:,} steps "
                         "take a few seconds). Raise `--dt` for a longer horizon.")
    if cfg["steps"] * cfg["paths"] > MAX_CELLS:
        raise ValueError(f"`--steps` × `--paths` = {cfg['steps'] * cfg['paths']:.3g} is too large: it must be "
                         f"<= {MAX_CELLS:.0e} (the simulated steps); lower `--paths` or `--steps`.")
    if cfg["seed"] is not None and cfg["seed"] < 0:
        raise ValueError(f"`--seed` must be >= 0, got {cfg['seed']}.")
    walk = TrinomialWalk(cfg["alpha"], dy=cfg["dy"], dt=cfg["dt"])
    # the moments go up to the fourth (the kurtosis divides by var²): the spread of the walk in units of y
    # must keep var² a normal float (δy = 1e-300 raised "Normal law needs ... scale", 1e-160 a bare division
    # by zero)
    with np.errstate(all="ignore"):
        spread = float(cfg["dy"]) ** 2 * cfg["steps"]
    if not (SPREAD_RANGE[0] <= spread <= SPREAD_RANGE[1]):
        raise ValueError(f"`--dy` = {cfg['dy']:g} gives δy²·steps = {spread:.3g} after {cfg['steps']} steps; the "
                         f"moments (up to the fourth) need it in [{SPREAD_RANGE[0]:.0e}, {SPREAD_RANGE[1]:.0e}]: "
                         "express y in other units (rescale `--dy`).")
    limit = 2.0 * walk.c2 * cfg["steps"] * cfg["dt"]
    if not (math.isfinite(limit) and limit >= np.finfo(float).tiny):
        raise ValueError(f"`--alpha`, `--dy`, `--dt` = {cfg['alpha']:g}, {cfg['dy']:g}, {cfg['dt']:g} give the limit's "
                         f"variance 2C²t = {limit:.3g} (C² = αδy²/δt), not a positive finite float; rescale `--dt`.")
    keep = keep_paths and cfg["paths"] * (cfg["steps"] + 1) <= _KEEP_PATHS
    sample = walk.simulate(cfg["steps"], cfg["paths"], seed=cfg["seed"], x0=cfg["x0"], keep_paths=keep)
    summary = sample.summary()
    summary["x0"] = cfg["x0"]
    summary["seed"] = cfg["seed"]
    summary["limit_variance"] = walk.variance(sample.horizon)
    from gelav.results import Diagnostics

    return TrinomialReport(inputs=cfg, diagnostics=Diagnostics(timings={"total": float(sample.elapsed)}),
                           walk=walk, sample=sample, summary=summary)
