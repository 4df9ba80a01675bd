r"""The stress task: :math:`P(X_T < c \mid X_0 = x_0)` by every method, with the seed's worked example."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from gelav.tasks._base import ScenarioLike, TaskResult, settings, source_of

if TYPE_CHECKING:
    from gelav.processes.protocol import ProcessLike

__all__ = ["FIELDS", "StressReport", "read_stress_table", "stress"]

#: the fields of a scenario's ``[stress]`` table (``horizon`` and ``threshold`` may be lists: a table of
#: probabilities; ``var``: VaR/ES levels; ``fit``: a FIT.toml for a confidence band, with ``draws``, ``band_level``)
FIELDS = ("x0", "horizon", "threshold", "direction", "methods", "paths", "seed", "cells", "var", "fit", "draws",
          "band_level", "tol")
#: defaults of the fields :data:`gelav.tasks.DEFAULTS` ``["stress"]`` does not list
MORE_DEFAULTS: dict[str, Any] = {"var": None, "fit": None, "draws": 1000, "band_level": None, "tol": None}


def _numbers(sec: Any, key: str, *, positive: bool = False, unit: bool = False) -> float | list[float] | None:
    """A number or a non-empty list of numbers (> 0 with ``positive``, in (0, 1) with ``unit``)."""
    v = sec.get(key)
    if v is None:
        return None
    items = v if isinstance(v, list) else [v]
    ok = bool(items) and all(not isinstance(x, bool) and isinstance(x, (int, float)) and math.isfinite(x)
                             and (not positive or x > 0) and (not unit or 0 < x < 1) for x in items)
    if not ok:
        what = "a number in (0, 1)" if unit else ("a number > 0" if positive else "a finite number")
        raise sec.error(key, v, f"{what} or a list of them")
    return [float(x) for x in items] if isinstance(v, list) else float(v)


def read_stress_table(scenario: Mapping[str, Any]) -> dict[str, Any]:
    """The validated fields of the ``[stress]`` table (absent fields are left out)."""
    from gelav.scenario import Section
    from gelav.stress import METHODS

    sec = Section(scenario.get("stress"), "stress", source=source_of(scenario))
    vals: dict[str, Any] = {"x0": sec.number("x0"), "threshold": _numbers(sec, "threshold")}
    vals["horizon"] = _numbers(sec, "horizon", positive=True)
    var = _numbers(sec, "var", unit=True)
    vals["var"] = None if var is None else (var if isinstance(var, list) else [var])
    fit = sec.get("fit")
    if fit is not None and not isinstance(fit, str):
        raise sec.error("fit", fit, "the path of a FIT.toml written by `gelav calibrate --save`")
    if fit is not None:
        from pathlib import Path

        fp = Path(fit)
        vals["fit"] = str(fp if fp.is_absolute() or "_path" not in scenario else Path(scenario["_path"]).parent / fp)
    vals["draws"] = sec.integer("draws", minimum=20)
    vals["band_level"] = sec.number("band_level", check=lambda x: 0 < x < 1, expected="a number in (0, 1)")
    vals["tol"] = sec.number("tol", check=lambda x: 0 < x < 1, expected="a tolerance in (0, 1)")
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


class StressReport(TaskResult):
    """The stress question answered by each method (``result``: a :class:`gelav.stress.StressResult`).

    ``worked_example`` is the seed's check from the exact law: the conditional
    mean and standard deviation of :math:`X_T` and :math:`z = (c - m)/s`
    (empty when the process has no closed-form law; ``z`` only for a Gaussian law).

    With several horizons or thresholds, ``grid`` is the :class:`gelav.stress.StressTable`
    of every pair and ``result`` its cell for the longest horizon and the first
    threshold (the one the figure shows). ``result.tail`` holds VaR/ES (``var``) and
    ``result.band`` (``grid.bands``) the confidence band from a fit's uncertainty (``fit``).
    """

    result: Any = None
    process: ProcessLike | None = None
    worked_example: dict[str, float] | None = None
    grid: Any = None

    name = "stress"

    def to_dict(self) -> dict[str, Any]:
        if self.grid is not None:
            return self.grid.as_dict()
        out = self.result.as_dict()
        if self.worked_example:
            out["worked_example"] = dict(self.worked_example)
        if self.skipped:
            out["skipped"] = self.skipped
        return out

    @property
    def skipped(self) -> dict[str, str]:
        """Methods not run for this process, with the reason (a typed-in model has no exact law)."""
        from gelav.processes.protocol import has_exact_law

        if self.process is not None and has_exact_law(self.process):
            return {}
        out = {}
        if "analytic" not in self.result.results:
            out["analytic"] = "no exact transition law for this model"
        if "mc" not in self.result.results and self.inputs.get("methods") is None:
            out["mc"] = ("not run by default without an exact law (Euler steps, biased at O(dt)); ask for "
                         "the 'mc' method (--method pde,lattice,mc)")
        return out

    @property
    def best(self) -> float:
        return float(self.result.best)

    @property
    def estimates(self) -> dict[str, Any]:
        """Method -> :class:`gelav.results.Estimate` of the probability."""
        return {name: r.estimate for name, r in self.result.results.items()}

    @property
    def band(self) -> Any:
        """The confidence band of the probability from the fit's uncertainty (None without ``fit``)."""
        return self.result.band

    def key_numbers(self) -> dict[str, Any]:
        from gelav._display import Probability

        # Probability: a KeyTable prints a tiny one in scientific notation, never as 0
        out: dict[str, Any] = {f"probability ({name})": Probability(r.probability)
                               for name, r in self.result.results.items()}
        for name, why in getattr(self.result, "omitted", {}).items():  # untrusted: a reason, never a number
            out[f"probability ({name})"] = f"left out: {why}"
        labels = {"mean": "conditional mean of X_T", "sd": "conditional sd of X_T", "z": "z = (c − mean)/sd"}
        for k, v in (self.worked_example or {}).items():
            out[labels[k]] = v
        return self._more_numbers(out)

    def _more_numbers(self, out: dict[str, Any]) -> dict[str, Any]:
        """The grid's numbers instead of ``out`` (the headline cell's), else ``out`` with VaR/ES and the band."""
        if self.grid is not None:
            return self._grid_numbers()
        out.update(self._tail_numbers(self.result.tail, ""))
        if self.result.band is not None:
            out.update(_band_numbers(self.result.band, ""))
        return out

    def _tail_numbers(self, tail: dict[str, Any], where: str) -> dict[str, Any]:
        method = next((m for m in ("analytic", "pde") if m in tail), None)
        out: dict[str, Any] = {}
        for lv, v in (tail[method] if method else {}).items():
            out[f"VaR {lv:.0%} of X_T{where} ({method})"] = v["var"]
            out[f"ES {lv:.0%} of X_T{where} ({method})"] = v["es"]
        return out

    def _grid_numbers(self) -> dict[str, Any]:
        g = self.grid
        sym = "<" if g.inputs["direction"] == "below" else ">"
        out: dict[str, Any] = {}
        best = g.best_method
        for i, t in enumerate(g.horizons):
            cell = g.cell(i, 0)
            for j, c in enumerate(g.thresholds):
                where = f"T = {t:g} y, c = {c:g}"
                out[f"P(X_T {sym} c), {where} ({best})"] = float(g.best[i, j])
                if g.bands is not None:
                    out.update(_band_numbers(g.bands[i][j], f", {where}"))
            out.update(self._tail_numbers(cell.tail, f", T = {t:g} y"))
        return out

    def figures(self) -> dict[str, Any]:
        return {"stress": self.result.plot()} if self.result.density is not None else {}

    def tables(self) -> dict[str, dict[str, Any]]:
        import numpy as np

        out: dict[str, dict[str, Any]] = {}
        if self.grid is not None:
            g = self.grid
            T, C = np.meshgrid(g.horizons, g.thresholds, indexing="ij")
            cols: dict[str, Any] = {"horizon": T.ravel(), "threshold": C.ravel()}
            for name, r in g.results.items():
                cols[f"probability_{name}"] = r.probability.ravel()
                err = r.error.ravel()
                if r.bound is not None and r.bound.any():  # no Monte Carlo hit: a one-sided bound, as in --json
                    cols[f"{r.error_kind}_{name}"] = np.where(r.bound.ravel(), np.nan, err)
                    cols[f"upper_bound_95_{name}"] = np.where(r.bound.ravel(), err, np.nan)
                else:
                    cols[f"{r.error_kind}_{name}"] = err
            if g.bands is not None:
                for k in ("lower", "upper", "delta_stderr"):
                    cols[f"band_{k}"] = np.array([getattr(b, k) for row in g.bands for b in row])
            out["grid"] = cols
            tail_cols: dict[str, Any] = {"horizon": g.horizons}
            for name, r in g.results.items():
                for lv, v in r.tail.items():
                    for k, arr in v.items():
                        tail_cols[f"{k}_{round(100 * lv, 4):g}_{name}"] = arr
            if len(tail_cols) > 1:
                out["tail_risk"] = tail_cols
        else:
            methods = list(self.result.results.values())
            out["methods"] = {
                "method": np.array([m.method for m in methods]),
                "probability": np.array([m.probability for m in methods]),
                "error": np.array([m.error for m in methods]),
            }
            rows = [(m, lv, v) for m, t in self.result.tail.items() for lv, v in t.items()]
            if rows:
                out["tail_risk"] = {"method": np.array([r[0] for r in rows]), "level": np.array([r[1] for r in rows]),
                                    "var": np.array([r[2]["var"] for r in rows]),
                                    "es": np.array([r[2]["es"] for r in rows])}
        d = self.result.density if self.grid is None else self.grid.density
        if d is not None:
            out["density"] = {"x": d.grid.nodes, "density": d.at()}
            qs = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)
            from gelav.stress import fan_density

            f = fan_density(d)  # (the automatic mode's exact step saves the horizon only)
            fan = np.array([np.atleast_1d(f.quantile(qs, t)) for t in f.times])
            out["fan"] = {"t": f.times, **{f"q{round(100 * q):02d}": fan[:, i] for i, q in enumerate(qs)}}
        return out


def _band_numbers(b: Any, where: str) -> dict[str, Any]:
    lv = f"{b.level:.0%}"
    return {f"band {lv} lower{where} (parametric bootstrap)": b.lower,
            f"band {lv} upper{where} (parametric bootstrap)": b.upper,
            f"sd of the probability{where} (delta method)": b.delta_stderr}


def _worked_example(process: ProcessLike, x0: float, horizon: float, c: float) -> dict[str, float] | None:
    from gelav.processes.protocol import gaussian_law, has_exact_law

    normal = gaussian_law(process, x0, horizon)
    if normal is not None:
        m, s = float(normal[0]), float(normal[1])
        return {"mean": m, "sd": s, "z": (c - m) / s if s > 0 else math.copysign(math.inf, c - m)}
    if has_exact_law(process):
        law = process.transition(x0, horizon)
        return {"mean": float(law.mean()), "sd": float(law.std())}
    return None


def stress(scenario: ScenarioLike = None, *, process: ProcessLike | None = None, kappa: float | None = None,
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
        ``x0, horizon, threshold, direction, methods, paths, seed, cells, var, fit,
        draws, band_level, tol`` (``None`` means "not given"); they override the
        ``[stress]`` table, which overrides :data:`gelav.tasks.DEFAULTS` ``["stress"]``.
        ``horizon`` and ``threshold`` may be lists: every pair is answered in one run
        (:func:`gelav.stress.stress_table`, ``StressReport.grid``). ``var``: levels of
        the VaR and ES of :math:`X_T` (e.g. ``[0.95, 0.99]``). ``fit``: a calibration
        (the ``gelav calibrate --save`` file, or a fit object) whose process is stressed,
        with a confidence band from its covariance (``draws`` bootstrap draws, level
        ``band_level``, default the fit's). ``tol``: the PDE to that absolute error, its
        flux and grids chosen by validated error estimates (:func:`gelav.stress.stress_test`).

    Returns
    -------
    StressReport
    """
    from gelav.stress import stress_table, stress_test

    sc, s = settings("stress", scenario, options, FIELDS, read_stress_table)
    s = {**MORE_DEFAULTS, **s}
    fit = s["fit"]
    if fit is not None:
        given = [n for n, v in (("process", process), ("kappa", kappa), ("mean", mean), ("sigma", sigma)) if v is not None]
        if given:
            raise ValueError(f"`fit` gives the process: do not also give {', '.join(f'`{n}`' for n in given)}.")
        proc = None
    else:
        proc = process if process is not None else _process(sc, kappa, mean, sigma)
    _check_cells(s["cells"], s["methods"], s["tol"])
    hs, cs = _as_list(s["horizon"]), _as_list(s["threshold"])
    common = {"direction": s["direction"], "methods": s["methods"], "paths": s["paths"], "seed": s["seed"],
              "cells": s["cells"], "levels": s["var"], "fit": fit, "draws": s["draws"], "band_level": s["band_level"]}
    from gelav.results import Diagnostics

    grid = None
    if s["tol"] is not None and not (len(hs) == 1 and len(cs) == 1):
        raise ValueError("`tol` (the PDE to a tolerance) takes one horizon and one threshold, not a table.")
    if len(hs) == 1 and len(cs) == 1:
        res = stress_test(proc, s["x0"], hs[0], cs[0], **common, tol=s["tol"])
        timings = {name: r.seconds for name, r in res.results.items()}
    else:
        grid = stress_table(proc, s["x0"], hs, cs, **common)
        res = grid.cell(int(max(range(len(hs)), key=lambda i: hs[i])), 0)
        timings = {name: r.seconds for name, r in grid.results.items()}
    if proc is None:
        from gelav.stress_band import read_fit

        proc = read_fit(fit).process()
    diag = Diagnostics(timings=timings, extra=dict(res.density.diagnostics) if res.density is not None else {})
    example = _worked_example(proc, res.inputs["x0"], res.inputs["horizon"], res.inputs["threshold"])
    return StressReport(inputs={k: s[k] for k in FIELDS}, diagnostics=diag, result=res, process=proc,
                        worked_example=example, grid=grid)


def _check_cells(cells: Any, methods: Any, tol: Any) -> None:
    """Refuse a ``--cells`` whose PDE arrays (``cells + 1`` nodes × ``cells / 2`` steps on the finest grid) would
    not fit in :data:`gelav._validation.MAX_CELLS` elements, naming the option (``--cells 100000000`` named
    ``n_cells`` and ``n_steps``). With ``tol`` the cells are the search's budget, checked there."""
    from gelav._validation import MAX_CELLS

    if cells is None or tol is not None or (methods is not None and "pde" not in methods):
        return
    n = int(cells)
    if (n + 1) * max(n // 2, 50) > MAX_CELLS:
        most = math.isqrt(2 * MAX_CELLS)
        while (most + 1) * max(most // 2, 50) > MAX_CELLS:
            most -= 1
        raise ValueError(f"`--cells` = {n:,} is too large: the PDE's finest grid ({n + 1:,} nodes × {n // 2:,} "
                         f"steps) must fit in {MAX_CELLS:.0e} array elements, so `--cells` <= {most:,}.")


def _as_list(v: Any) -> list[float]:
    """A scalar or a sequence as a list (a one-element list is the scalar question)."""
    if isinstance(v, (list, tuple)):
        return list(v)
    import numpy as np

    return list(np.atleast_1d(v).tolist()) if isinstance(v, np.ndarray) else [v]
