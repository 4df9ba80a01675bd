r"""The stress task: :math:`P(X_T < c \mid X_0 = x_0)` by every method, with the seed's worked example."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gelav.tasks._base import (
    ScenarioLike,
    TaskResult,
    check_options,
    merge,
    read_scenario,
    source_of,
)

__all__ = ["FIELDS", "StressReport", "read_stress_table", "stress"]

#: the fields of a scenario's ``[stress]`` table
FIELDS = ("x0", "horizon", "threshold", "direction", "methods", "paths", "seed", "cells")


def read_stress_table(scenario: Mapping[str, Any]) -> dict[str, Any]:
    """The validated fields of the ``[stress]`` table (absent fields are left out)."""
    from gelav.scenario import Section
    from gelav.stress import METHODS

    sec = Section(scenario.get("stress"), "stress", source=source_of(scenario))
    vals: dict[str, Any] = {k: sec.number(k) for k in ("x0", "threshold")}
    vals["horizon"] = sec.positive("horizon")
    vals["direction"] = sec.choice("direction", ("below", "above"))
    vals["methods"] = sec.string_list("methods", options=tuple(METHODS))
    vals["paths"] = sec.integer("paths", minimum=100)
    vals["seed"] = sec.integer("seed", minimum=0)
    vals["cells"] = sec.integer("cells", minimum=16)
    sec.check_unknown(FIELDS)
    return {k: v for k, v in vals.items() if v is not None}


def _process(scenario: Mapping[str, Any], kappa: float | None, mean: float | None, sigma: float | None) -> Any:
    """The scenario's ``[process]`` (default: the seed's OU); κ, L̄, σ given override an OU's parameters."""
    from gelav.processes import OrnsteinUhlenbeck
    from gelav.tasks._base import DEFAULTS
    from gelav.tasks._models import build_process as process_from_config

    process = process_from_config(scenario["process"], source=source_of(scenario)) if "process" in scenario else None
    if process is None or any(v is not None for v in (kappa, mean, sigma)):
        d = DEFAULTS["stress"]
        base = process.params() if process is not None and type(process).__name__ == "OrnsteinUhlenbeck" else {}
        process = OrnsteinUhlenbeck(
            kappa=kappa if kappa is not None else base.get("kappa", d["kappa"]),
            mean=mean if mean is not None else base.get("mean", d["mean"]),
            sigma=sigma if sigma is not None else base.get("sigma", d["sigma"]),
        )
    return process


@dataclass(frozen=True)
class StressReport(TaskResult):
    """The stress question answered by each method (``result``: a :class:`gelav.stress.StressResult`).

    ``worked_example`` is the seed's check from the exact law: the conditional
    mean and standard deviation of :math:`X_T` and :math:`z = (c - m)/s`
    (empty when the process has no closed-form law; ``z`` only for a Gaussian law).
    """

    result: Any = None
    process: Any = None
    worked_example: dict[str, float] | None = None

    name = "stress"

    def to_dict(self) -> dict[str, Any]:
        out = self.result.as_dict()
        if self.worked_example:
            out["worked_example"] = dict(self.worked_example)
        return out

    @property
    def best(self) -> float:
        return float(self.result.best)

    @property
    def estimates(self) -> dict[str, Any]:
        """Method -> :class:`gelav.results.Estimate` of the probability."""
        return {name: r.estimate for name, r in self.result.results.items()}

    def key_numbers(self) -> dict[str, Any]:
        out: dict[str, Any] = {f"probability ({name})": r.probability for name, r in self.result.results.items()}
        for name, why in getattr(self.result, "omitted", {}).items():  # untrusted: a reason, never a number
            out[f"probability ({name})"] = f"left out: {why}"
        labels = {"mean": "conditional mean of X_T", "sd": "conditional sd of X_T", "z": "z = (c − mean)/sd"}
        for k, v in (self.worked_example or {}).items():
            out[labels[k]] = v
        return out

    def figures(self) -> dict[str, Any]:
        return {"stress": self.result.plot()} if self.result.density is not None else {}

    def tables(self) -> dict[str, dict[str, Any]]:
        import numpy as np

        methods = list(self.result.results.values())
        out: dict[str, dict[str, Any]] = {"methods": {
            "method": np.array([m.method for m in methods]),
            "probability": np.array([m.probability for m in methods]),
            "error": np.array([m.error for m in methods]),
        }}
        d = self.result.density
        if d is not None:
            out["density"] = {"x": d.grid.nodes, "density": d.at()}
            qs = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)
            fan = np.array([np.atleast_1d(d.quantile(qs, t)) for t in d.times])
            out["fan"] = {"t": d.times, **{f"q{round(100 * q):02d}": fan[:, i] for i, q in enumerate(qs)}}
        return out


def _worked_example(process: Any, x0: float, horizon: float, c: float) -> dict[str, float] | None:
    normal = process.normal_law(x0, horizon) if hasattr(process, "normal_law") else None
    if normal is not None:
        m, s = float(normal[0]), float(normal[1])
        return {"mean": m, "sd": s, "z": (c - m) / s if s > 0 else math.copysign(math.inf, c - m)}
    if getattr(process, "has_transition", False):
        law = process.transition(x0, horizon)
        return {"mean": float(law.mean()), "sd": float(law.std())}
    return None


def stress(scenario: ScenarioLike = None, *, process: Any = None, kappa: float | None = None,
           mean: float | None = None, sigma: float | None = None, **options: Any) -> StressReport:
    r"""Probability that the state ends beyond a threshold, by each method (seed 000).

    .. math:: P(X_T < c \mid X_0 = x_0) \;\text{or}\; P(X_T > c \mid X_0 = x_0)

    Parameters
    ----------
    scenario : dict, path or None
        A scenario with ``[process]`` (default the seed's OU, κ = 0.45/y,
        L̄ = 1, σ = 0.32/√y) and ``[stress]`` tables.
    process : Process, optional
        Use this process instead of the scenario's.
    kappa, mean, sigma : float, optional
        Override an OU's parameters (or build an OU from the defaults).
    **options
        ``x0, horizon, threshold, direction, methods, paths, seed, cells``
        (``None`` means "not given"); they override the ``[stress]`` table,
        which overrides :data:`gelav.tasks.DEFAULTS` ``["stress"]``.

    Returns
    -------
    StressReport
    """
    from gelav.stress import stress_test

    check_options("stress", options, FIELDS)
    sc = read_scenario(scenario)
    s = merge("stress", read_stress_table(sc), options)
    proc = process if process is not None else _process(sc, kappa, mean, sigma)
    res = stress_test(proc, s["x0"], s["horizon"], s["threshold"], direction=s["direction"], methods=s["methods"],
                      paths=s["paths"], seed=s["seed"], cells=s["cells"])
    from gelav.results import Diagnostics

    diag = Diagnostics(timings={name: r.seconds for name, r in res.results.items()},
                       extra=dict(res.density.diagnostics) if res.density is not None else {})
    example = _worked_example(proc, res.inputs["x0"], res.inputs["horizon"], res.inputs["threshold"])
    return StressReport(inputs={k: s[k] for k in FIELDS}, diagnostics=diag, result=res, process=proc,
                        worked_example=example)
