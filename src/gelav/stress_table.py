r"""Stress probabilities over a grid of thresholds × horizons in one run, with value at risk and expected shortfall.

:func:`stress_table` answers :math:`P(X_{T_i} < c_j \mid X_0 = x_0)` (or :math:`>`)
for every horizon :math:`T_i` and threshold :math:`c_j` by each method of
:data:`gelav.stress.METHODS`, without repeating work a method can share:

- ``pde``: one Fokker–Planck solve per set of *commensurate* thresholds (their
  distances to :math:`x_0` are integer multiples of one spacing between half the
  default cell and the default cell, so all of them lie on nodes of the three nested
  grids, as the scalar method's threshold does), saving every horizon; the Richardson
  step and its error estimate are those of the scalar method, cell by cell.
- ``mc``: one set of paths per horizon (the same paths and seed as the scalar run,
  so each cell equals the scalar answer), every threshold counted on it.
- ``analytic``, ``lattice`` and any registered method: cell by cell.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple, cast

import numpy as np
from numpy.typing import NDArray

from gelav._random import SeedLike
from gelav._validation import MAX_STATE, check_finite, check_horizon
from gelav.errors import AccuracyWarning
from gelav.stress import (
    MIN_RESOLUTION,
    TAIL_FRACTION,
    MethodOmitted,
    MethodResult,
    StressResult,
    check_graded_refinement,
    check_mc_trust,
    check_unvalidated_upwinding,
    far_lower_end,
    graded_nested_grids,
    is_graded,
    refinement_estimate,
    run_method,
    threshold_resolution,
    threshold_spacing,
    uniform_nested_grids,
)

if TYPE_CHECKING:
    from gelav.processes.protocol import ProcessLike

__all__ = ["MethodTable", "StressTable", "scalar_tail", "stress_table"]


# -- the pde method on nested grids shared by several thresholds and saved times ---------------------------
def _nested_densities(
    process: ProcessLike,
    x0: float,
    horizon: float,
    c: float,
    cells: int,
    steps: int,
    *,
    times: Sequence[float] | None = None,
    domain: tuple[float, float] | None = None,
    include: Sequence[float] = (),
    spacing: float | None = None,
) -> list[Any]:
    """Fokker–Planck densities on the three nested grids (N/4, N/2, N cells and steps) of the ``pde``
    method; by default the scalar method's grids for threshold ``c``. ``times`` are saved (with the
    default's ~50 step end points, for the fan chart); ``domain``, ``spacing``: those of the coarsest grid."""
    from gelav.forward import forward
    from gelav.grid import auto_domain

    lo, hi = auto_domain(process, x0, horizon, include=[c]) if domain is None else domain
    h = threshold_spacing(x0, c, (hi - lo) / max(cells // 4, 8)) if spacing is None else spacing
    grids = graded_nested_grids(process, x0, horizon, [c, *include], max(cells // 4, 8), (lo, hi))
    if grids is None:
        grids = uniform_nested_grids(process, x0, lo, hi, h)
    lower = far_lower_end(process, grids) if grids is not None else "natural"
    out = []
    for j, k in enumerate((4, 2, 1)):
        n_steps = max(steps // k, 2)
        saved = None
        if times is not None:
            saved = np.unique(
                np.concatenate(
                    (
                        horizon / n_steps * np.arange(0, n_steps + 1, max(1, n_steps // 50)),
                        np.asarray(times, dtype=float),
                    )
                )
            )
        if grids is None:
            out.append(
                forward(
                    process,
                    x0,
                    horizon,
                    n_cells=max(cells // k, 8),
                    n_steps=n_steps,
                    include=[c, *include],
                    times=saved,
                )
            )
        else:
            out.append(forward(process, x0, horizon, grid=grids[j], n_steps=n_steps, times=saved, lower=lower))
    return out


def _exact_tails(
    process: ProcessLike,
    x0: float,
    hs: Sequence[float] | NDArray[np.float64],
    levels: Sequence[float],
    side: str,
) -> dict[float, dict[str, NDArray[np.float64]]]:
    """level -> {"var", "es"} of the exact law at each horizon."""
    from gelav._tail import exact_tail

    out: dict[float, dict[str, NDArray[np.float64]]] = {}
    for lv in levels:
        vals = np.array([exact_tail(process, x0, float(t), lv, side) for t in hs])
        out[lv] = {"var": vals[:, 0], "es": vals[:, 1]}
    return out


def scalar_tail(
    process: ProcessLike,
    x0: float,
    horizon: float,
    threshold: float,
    below: bool,
    opts: dict[str, Any],
    methods: Sequence[str],
) -> dict[str, dict[float, dict[str, float]]]:
    """VaR/ES of :math:`X_T` for :func:`gelav.stress.stress_test` (``levels``): from the exact law
    (``analytic``) and from densities on the scalar ``pde`` method's nested grids (a solve of their own,
    so the scalar probability's code path is untouched)."""
    from gelav._tail import density_tail

    side = "lower" if below else "upper"
    out: dict[str, dict[float, dict[str, float]]] = {}
    if "analytic" in methods:
        out["analytic"] = {
            lv: {k: float(v[0]) for k, v in t.items()}
            for lv, t in _exact_tails(process, x0, [horizon], opts["levels"], side).items()
        }
    if "pde" in methods:
        n = int(opts.get("cells", 800))
        dens = _nested_densities(
            process, x0, horizon, threshold, n, int(opts.get("steps", max(n // 2, 50)))
        )
        out["pde"] = {lv: density_tail(dens, horizon, lv, side) for lv in opts["levels"]}
    if not out:
        raise ValueError(
            "`levels`: the value at risk and expected shortfall need the 'analytic' or 'pde' method."
        )
    return out


@dataclass(frozen=True)
class MethodTable:
    """One method's answers on the grid: ``probability[i, j]`` for horizon ``i`` and threshold ``j``,
    the error (standard error for ``mc``, else an error estimate) and the run time (seconds).

    ``bound[i, j]`` marks the cells whose error is not of ``error_kind`` but the one-sided 95 %
    upper bound of a Monte Carlo probability with no hit (``mc``: no path in the event); they
    are ``None`` under ``error_kind`` in :meth:`as_dict`, which lists them as ``upper_bound_95``."""

    method: str
    probability: NDArray[np.float64]
    error: NDArray[np.float64]
    error_kind: str
    seconds: float
    #: level -> {"var": (n_horizons,), "es": ..., and for ``pde`` their error estimates}
    tail: dict[float, dict[str, NDArray[np.float64]]] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)
    bound: NDArray[np.bool_] | None = None

    def is_bound(self, i: int, j: int) -> bool:
        """Whether cell ``(i, j)``'s error is a one-sided 95 % bound (no Monte Carlo hit)."""
        return self.bound is not None and bool(self.bound[i, j])

    def cell(self, i: int, j: int) -> MethodResult:
        """The answer for horizon ``i`` and threshold ``j`` as a scalar :class:`MethodResult`."""
        n = self.probability.size
        details = dict(self.details)
        if self.is_bound(i, j):
            details["upper_bound_95"] = float(self.error[i, j])
        return MethodResult(
            self.method,
            float(self.probability[i, j]),
            float(self.error[i, j]),
            "bound" if self.is_bound(i, j) else self.error_kind,
            self.seconds / n,
            details,
        )

    def as_dict(self) -> dict[str, Any]:
        err: Any = self.error.tolist()
        out: dict[str, Any] = {"probability": self.probability.tolist(), self.error_kind: err}
        if self.bound is not None and self.bound.any():
            b, e = self.bound.tolist(), self.error.tolist()
            out[self.error_kind] = [[None if bb else v for bb, v in zip(br, er, strict=True)]
                                    for br, er in zip(b, e, strict=True)]
            out["upper_bound_95"] = [[v if bb else None for bb, v in zip(br, er, strict=True)]
                                     for br, er in zip(b, e, strict=True)]
        out.update({"seconds": self.seconds, **self.details})
        return out


@dataclass(frozen=True)
class StressTable:
    """Every method's answers over ``horizons`` × ``thresholds`` (see :func:`stress_table`)."""

    inputs: dict[str, Any]
    horizons: NDArray[np.float64]
    thresholds: NDArray[np.float64]
    results: dict[str, MethodTable]
    #: the finest PDE density (every horizon saved) of the solve that holds ``thresholds[0]``
    density: Any = None
    #: ``bands[i][j]``: the :class:`gelav.stress_band.StressBand` of each cell (``fit=``), else None
    bands: Any = None
    #: method -> why it was left out (it cannot be trusted for this model): never a number
    omitted: dict[str, str] = field(default_factory=dict)

    @property
    def best_method(self) -> str:
        """``analytic`` when it ran, else the method with the smallest largest error."""
        if "analytic" in self.results:
            return "analytic"
        return min(self.results, key=lambda m: float(np.max(self.results[m].error)))

    @property
    def best(self) -> NDArray[np.float64]:
        """The probabilities of :attr:`best_method` (horizons × thresholds)."""
        return self.results[self.best_method].probability

    @property
    def tail_method(self) -> str | None:
        """The method whose VaR/ES the table shows: ``analytic``, else ``pde``, else None."""
        return next(
            (m for m in ("analytic", "pde") if m in self.results and self.results[m].tail), None
        )

    def cell(self, i: int, j: int) -> StressResult:
        """Horizon ``i`` and threshold ``j`` as a scalar :class:`StressResult` (the density only for the
        last horizon and the first threshold, whose solve it is)."""
        inputs = {
            **{
                k: v
                for k, v in self.inputs.items()
                if k not in ("horizons", "thresholds", "levels")
            },
            "horizon": float(self.horizons[i]),
            "threshold": float(self.thresholds[j]),
            "direction": self.inputs["direction"],
        }
        tail = {
            m: {lv: {k: float(v[i]) for k, v in t.items()} for lv, t in r.tail.items()}
            for m, r in self.results.items()
            if r.tail
        }
        last = int(np.argmax(self.horizons))
        density = self.density if (i == last and j == 0) else None
        return StressResult(
            inputs=inputs,
            results={m: r.cell(i, j) for m, r in self.results.items()},
            density=density,
            tail=tail,
            band=None if self.bands is None else self.bands[i][j],
        )

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "inputs": self.inputs,
            "horizons": self.horizons.tolist(),
            "thresholds": self.thresholds.tolist(),
            "best_method": self.best_method,
            "probability": self.best.tolist(),
            "methods": {k: v.as_dict() for k, v in self.results.items()},
        }
        tails = {
            m: {str(lv): {k: v.tolist() for k, v in t.items()} for lv, t in r.tail.items()}
            for m, r in self.results.items()
            if r.tail
        }
        if tails:
            out["tail_risk"] = tails
        if self.omitted:
            out["omitted"] = dict(self.omitted)
        if self.bands is not None:
            first = self.bands[0][0].to_dict()
            out["band"] = {
                "level": first["level"],
                "method": first["method"],
                "draws": first["draws"],
                "rejected": first["rejected"],
                **{
                    k: [[getattr(b, k) for b in row] for row in self.bands]
                    for k in (
                        "value",
                        "lower",
                        "upper",
                        "stderr",
                        "delta_stderr",
                        "delta_lower",
                        "delta_upper",
                    )
                },
            }
        return out


class _Question(NamedTuple):
    """What every method of :func:`stress_table` answers: from ``x0``, ``P(X_T < c)`` (``below``) or
    ``P(X_T > c)`` for each horizon of ``hs`` and threshold of ``cs`` (checked, distinct), with the
    methods' options ``opts`` (:func:`gelav.stress.stress_options`)."""

    process: ProcessLike
    x0: float
    hs: NDArray[np.float64]
    cs: NDArray[np.float64]
    below: bool
    opts: dict[str, Any]


def _per_cell(name: str, question: _Question) -> MethodTable:
    """Any registered method, cell by cell (the time is the sum of the method's own timings; the exact
    law's VaR/ES with ``levels``)."""
    process, x0, hs, cs, below, opts = question
    seconds = 0.0
    p, e = np.empty((hs.size, cs.size)), np.empty((hs.size, cs.size))
    bound = np.zeros((hs.size, cs.size), dtype=bool)
    kinds: set[str] = set()
    details: dict[str, Any] = {}
    for i, t in enumerate(hs):
        for j, c in enumerate(cs):
            r = run_method(name, process, x0, float(t), float(c), below, opts)
            r.details.pop("_density", None)
            p[i, j], e[i, j] = r.probability, r.error
            if r.error_kind == "bound":
                bound[i, j] = True
            else:
                kinds.add(r.error_kind)
            seconds += r.seconds
            details = {
                k: v
                for k, v in r.details.items()
                if (not isinstance(v, (int, float)) or k == "paths") and k != "upper_bound_95"
            }
    kind = kinds.pop() if len(kinds) == 1 else ("stderr" if bound.any() else "error_estimate")
    tail = (
        _exact_tails(process, x0, hs, opts["levels"], "lower" if below else "upper")
        if name == "analytic"
        else {}
    )
    return MethodTable(name, p, e, kind, seconds, tail, details, bound if bound.any() else None)


def _common_divisor(a: float, b: float) -> float:
    """The largest g with a/g and b/g whole (Euclid on floats, to 1e-9 relative; 0 when only one is > 0)."""
    tol = 1e-9 * max(a, b, 1e-300)
    a, b = max(a, b), min(a, b)
    while b > tol:
        r = a % b
        a, b = b, (0.0 if r > b - tol else r)
    return a


def _commensurate(x0: float, cs: NDArray[np.float64], h0: float) -> list[tuple[float, list[int]]]:
    r"""Thresholds grouped so that each group lies on the nodes of one grid through ``x0``: ``(spacing,
    indices)``. A threshold joins a group when the distances to ``x0`` keep a common divisor
    :math:`g \ge h_0/2`; the spacing is then :math:`g/\lceil g/h_0 \rceil \in [h_0/2, h_0]` (at most twice
    the cells of the scalar method). A lone threshold keeps the scalar method's spacing."""
    d = np.abs(cs - x0)
    groups: list[tuple[float, list[int]]] = []
    for j in sorted(range(cs.size), key=lambda k: d[k] == 0):  # a threshold at x0 joins any group
        for gi, (g, idx) in enumerate(groups):
            g2 = _common_divisor(g, float(d[j]))
            if g2 >= h0 / 2 or d[j] == 0:
                groups[gi] = (g2, [*idx, j])
                break
        else:
            groups.append((float(d[j]), [j]))
    out = []
    for g, idx in groups:
        moving = [i for i in idx if d[i] > 0]
        h = (
            threshold_spacing(x0, float(cs[moving[0]]), h0)
            if len(moving) == 1
            else (h0 if not moving else g / math.ceil(g / h0 - 1e-9))
        )
        out.append((h, idx))
    return out


def _pde_table(question: _Question) -> tuple[MethodTable, Any]:
    from gelav._tail import density_tail
    from gelav.grid import auto_domain

    process, x0, hs, cs, below, opts = question
    t0 = time.perf_counter()
    n = int(opts.get("cells", 800))
    m = int(opts.get("steps", max(n // 2, 50)))
    T = float(hs.max())
    p, e = np.empty((hs.size, cs.size)), np.empty((hs.size, cs.size))
    unext, unext_err, plain = np.empty_like(p), np.empty_like(p), np.empty_like(p)
    tail_mass = 1e-10
    for attempt in range(2):
        domain = auto_domain(process, x0, T, include=list(cs), tail=tail_mass)
        groups = _commensurate(x0, cs, (domain[1] - domain[0]) / max(n // 4, 8))
        not_validated: dict[str, str] = {}  # "horizon, threshold" -> why the cell's estimate is not validated
        first: list[Any] = []
        for h, g in groups:
            dens = _nested_densities(process, x0, T, float(cs[g[0]]), n, m, times=sorted(set(hs.tolist())),
                                     domain=domain, include=[float(c) for c in cs[g]], spacing=h)
            graded = is_graded([d.grid for d in dens])
            coarse, fine_nodes = dens[0].grid.nodes, dens[2].grid.nodes
            nested = fine_nodes.size == 4 * (coarse.size - 1) + 1 and bool(np.allclose(fine_nodes[::4], coarse))
            if 0 in g:
                first = dens
            for i, t in enumerate(hs):
                masses = dens[2].masses[int(np.argmin(np.abs(dens[2].times - float(t))))]
                for j in g:
                    q = {"below": float(cs[j])} if below else {"above": float(cs[j])}
                    ps = [d.prob(t=float(t), **q) for d in dens]
                    if graded:  # towards a singular end: converging, or left out (MethodOmitted)
                        check_graded_refinement(ps)
                    ref = refinement_estimate(ps, nested)  # the scalar method's estimate, cell by cell
                    p[i, j], e[i, j], unext_err[i, j] = ref.value, ref.error, ref.unextrapolated_error
                    unext[i, j], plain[i, j] = ps[2], ref.extrapolation_error
                    why = ref.why
                    res = math.nan if graded else threshold_resolution(masses, dens[2].grid, float(cs[j]))
                    if not why and not math.isnan(res) and not res >= MIN_RESOLUTION:
                        why = (f"the coarsest grid has {res:.2f} cells per decay length of the law at the "
                               f"threshold (needs {MIN_RESOLUTION:g}); increase `cells`")
                        e[i, j] = max(e[i, j], abs(ps[2] - ps[1]))
                    if why:
                        not_validated[f"{float(t):g}, {float(cs[j]):g}"] = why
        # A deep tail: the domain's left-out mass (tail_mass/2 a side) must be negligible against the
        # refinement estimates, as in the scalar method (gelav.stress._pde); else widen it once.
        deep = 0.5 * tail_mass > 0.1 * plain
        if attempt or not np.any(deep):
            break
        pilot = float(np.min(np.where(deep, np.abs(unext), np.inf)))  # the smallest answer it matters for
        tail_mass = min(tail_mass, max(TAIL_FRACTION * pilot, 1e-300))
    if not_validated:  # as the scalar method
        check_unvalidated_upwinding(process, first[-1].grid, x0,
                                    f"{len(not_validated)} cell(s) of the table are not validated")
    e = np.maximum(e + 0.5 * tail_mass, 1e-13 * np.abs(p))  # plus the mass the domain leaves out; rounding
    if getattr(process, "feller", True) is False:  # as the scalar method warns
        warnings.warn(
            f"CIR without the Feller condition: the density is singular at 0, so the PDE answers converge "
            f"slowly and their error estimates (up to {float(e.max()):.2g}) may be optimistic; compare the 'mc' "
            "and 'lattice' methods.",
            AccuracyWarning,
            stacklevel=3,
        )
    tail: dict[float, dict[str, NDArray[np.float64]]] = {}
    for lv in opts["levels"]:
        rows = [density_tail(first, float(t), lv, "lower" if below else "upper") for t in hs]
        tail[lv] = {k: np.array([r[k] for r in rows]) for k in rows[0]}
    fine = first[-1]
    details = {
        "cells": n,
        "steps": m,
        "solves": len(groups),
        "unextrapolated": unext.tolist(),
        "unextrapolated_error_estimate": unext_err.tolist(),
        "mass_balance_error": fine.diagnostics["mass_balance_error"],
        "validated": not not_validated,
        "domain_tail": tail_mass,
    }
    if not_validated:
        details["not_validated"] = not_validated
    return MethodTable("pde", p, e, "error_estimate", time.perf_counter() - t0, tail, details), fine


def _mc_table(question: _Question) -> MethodTable:
    """One set of paths per horizon, drawn exactly as :func:`gelav.montecarlo.stress_probability` draws them."""
    from gelav.mc.montecarlo import simulate
    from gelav.mc.schemes import get_scheme

    process, x0, hs, cs, below, opts = question
    check_mc_trust(process)
    t0 = time.perf_counter()
    n = int(opts.get("paths", 1_000_000))
    try:
        get_scheme("exact").check(process)
        scheme = "exact"
    except ValueError:
        scheme = "euler"
    p, e = np.empty((hs.size, cs.size)), np.empty((hs.size, cs.size))
    bound = np.zeros((hs.size, cs.size), dtype=bool)
    for i, t in enumerate(hs):
        paths = simulate(
            process,
            x0,
            float(t),
            1 if scheme == "exact" else 200,
            n,
            scheme=scheme,
            seed=opts.get("seed"),
        )
        for j, c in enumerate(cs):
            est = paths.prob(below=float(c)) if below else paths.prob(above=float(c))
            p[i, j], e[i, j] = float(est.value), float(est.stderr)
            bound[i, j] = est.kind == "bound"  # no path hit: the error is the 95 % upper bound
    return MethodTable(
        "mc", p, e, "stderr", time.perf_counter() - t0, {}, {"paths": n, "scheme": scheme},
        bound if bound.any() else None,
    )


def _values(name: str, values: Any, check: Any) -> NDArray[np.float64]:
    """Distinct checked values; errors name the list (``horizons``) and each item by its singular
    (``horizon``, the command-line option)."""
    vals = [values] if np.ndim(values) == 0 else list(values)
    if not vals:
        raise ValueError(f"`{name}` is empty.")
    out = np.array([check(name[:-1], v) for v in vals], dtype=float)
    if np.unique(out).size != out.size:
        raise ValueError(
            f"`{name}` (`{name[:-1]}`) names a value twice: {', '.join(f'{v:g}' for v in out)}."
        )
    return out


def stress_table(
    process: ProcessLike | None,
    x0: float,
    horizons: float | Sequence[float],
    thresholds: float | Sequence[float],
    *,
    direction: str = "below",
    methods: Sequence[str] | None = None,
    paths: int = 1_000_000,
    seed: SeedLike = 0,
    cells: int = 800,
    steps: int | None = None,
    levels: Sequence[float] | None = None,
    fit: Any = None,
    draws: int = 1000,
    band_level: float | None = None,
) -> StressTable:
    r"""Stress probabilities for every horizon and threshold, by several methods, in one run.

    .. math:: P(X_{T_i} < c_j \mid X_0 = x_0) \quad\text{or}\quad P(X_{T_i} > c_j \mid X_0 = x_0)

    Parameters
    ----------
    process : Process
    x0 : float
        Starting state.
    horizons : float or sequence of float
        :math:`T_i` in years, > 0, distinct.
    thresholds : float or sequence of float
        :math:`c_j`, distinct.
    direction, methods, paths, seed, cells, steps
        As in :func:`gelav.stress.stress_test` (``cells`` and ``steps`` are those of the
        finest PDE grid over the longest horizon).
    levels : sequence of float, optional
        Confidence levels of the value at risk and expected shortfall of
        :math:`X_{T_i}` (the lower tail for ``"below"``, the upper for ``"above"``),
        from the exact law and from the PDE density.
    fit, draws, band_level
        A calibration: a confidence band for every cell from one set of parameter
        draws (``StressTable.bands``), as in :func:`~gelav.stress.stress_test`.

    Returns
    -------
    StressTable
        ``results[method].probability[i, j]`` for horizon ``i`` and threshold ``j``;
        each cell agrees with :func:`~gelav.stress.stress_test` for that pair (``analytic``,
        ``mc`` and ``lattice`` exactly; ``pde`` within the two error estimates, its grid
        covering every threshold).

    Examples
    --------
    >>> from gelav import OrnsteinUhlenbeck
    >>> t = stress_table(OrnsteinUhlenbeck(0.45, 1.0, 0.32), -0.5, [1.0, 2.0], [-0.5, 0.0], methods=["analytic"])
    >>> t.best.shape
    (2, 2)
    """
    from gelav.stress import resolve_fit, stress_options

    process, fp = resolve_fit(process, fit)
    x0 = check_finite("x0", x0, maximum=MAX_STATE)
    hs = _values("horizons", horizons, check_horizon)
    cs = _values("thresholds", thresholds, lambda n, v: check_finite(n, v, maximum=MAX_STATE))
    methods, opts = stress_options(process, direction, methods, paths, seed, cells, steps, levels, draws=draws,
                                   band_level=band_level)
    question = _Question(process, x0, hs, cs, direction == "below", opts)
    results: dict[str, MethodTable] = {}
    density = None
    omitted: dict[str, str] = {}
    for name in methods:
        try:
            if name == "pde":
                results[name], density = _pde_table(question)
            elif name == "mc":
                results[name] = _mc_table(question)
            else:
                results[name] = _per_cell(name, question)
        except MethodOmitted as why:  # as stress_test: the reason, never a number
            omitted[name] = str(why)
    if not results:
        raise ValueError("No method gave an answer: " + "; ".join(f"{k}: {v}" for k, v in omitted.items()))
    if opts["levels"] and not any(r.tail for r in results.values()):
        raise ValueError(
            "`levels`: the value at risk and expected shortfall need the 'analytic' or 'pde' method."
        )
    inputs = {
        "process": type(process).__name__,
        **cast(Any, process).params(),
        "x0": x0,
        "horizons": hs.tolist(),
        "thresholds": cs.tolist(),
        "direction": direction,
        "levels": list(opts["levels"]),
    }
    bands = None
    if fp is not None:
        from gelav.stress_band import band_seed, stress_bands

        bands = stress_bands(
            fp,
            x0,
            hs.tolist(),
            cs.tolist(),
            direction=direction,
            draws=draws,
            seed=band_seed(seed),
            level=band_level,
            cells=cells,
        )
    return StressTable(
        inputs=inputs, horizons=hs, thresholds=cs, results=results, density=density, bands=bands, omitted=omitted
    )
