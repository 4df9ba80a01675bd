r"""Stress-test probabilities computed several independent ways.

The question of seed 000: starting from :math:`X_0 = x_0`, what is
:math:`P(X_T < c)` (or :math:`P(X_T > c)`)? Each *method* answers it with its
own error estimate:

- ``analytic``: the exact transition law (OU, BM, GBM, CIR); error 0 up to
  special-function rounding.
- ``pde``: the Fokker–Planck solver on three nested grids :math:`N/4, N/2, N`
  (cells and steps); the second-order answers are Richardson-extrapolated
  pairwise and the error estimate is :math:`|R_N - R_{N/2}|/15`. The plain
  finest-grid answer and its estimate :math:`|P_N - P_{N/2}|/3` are kept in
  the details.
- ``mc``: Monte Carlo; value ± standard error.
- ``lattice``: a trinomial lattice (Hull–White tree for OU/BM/GBM, the exact
  chain of the generator otherwise), Richardson-extrapolated over two sizes;
  the error estimate is that of the finer lattice (conservative).

Methods live in the :data:`METHODS` registry (name -> function), so a new one is
one function.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gelav._random import SeedLike
from gelav._validation import check_finite, check_horizon, check_int

__all__ = ["METHODS", "MethodOmitted", "MethodResult", "StressResult", "stress_test"]


class MethodOmitted(Exception):
    """Raised by a method that cannot be trusted for this model; its message is the reason.

    :func:`stress_test` leaves the method out of the results and records the reason
    in :attr:`StressResult.omitted` (printed, and in the JSON, instead of a number).
    """


@dataclass(frozen=True)
class MethodResult:
    """One method's answer: probability, its error estimate and run time."""

    method: str
    probability: float
    error: float
    error_kind: str  # "stderr" (Monte Carlo) or "error_estimate"
    seconds: float
    details: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"probability": self.probability, self.error_kind: self.error, "seconds": self.seconds, **self.details}

    @property
    def estimate(self) -> Any:
        """The answer as a :class:`gelav.results.Estimate` (kind ``exact``, ``stderr`` or ``a-priori``)."""
        from gelav.results import Estimate

        kind = "stderr" if self.error_kind == "stderr" else ("exact" if self.method == "analytic" else "a-priori")
        n = self.details.get("paths") if kind == "stderr" else None
        return Estimate(self.probability, self.error, n, kind=kind)


@dataclass(frozen=True)
class StressResult:
    """Answers of every method for one stress question, with the inputs."""

    inputs: dict[str, Any]
    results: dict[str, MethodResult]
    density: Any = None  # the PDE Density when the pde method ran
    #: method -> why it was left out (it cannot be trusted for this model): never a number
    omitted: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        out = {"inputs": self.inputs, "methods": {k: v.as_dict() for k, v in self.results.items()}}
        if self.omitted:
            out["omitted"] = dict(self.omitted)
        return out

    def plot(self) -> Any:
        """Three panels: the density at the horizon (threshold region shaded), its tail on a log scale,
        and the fan chart. Legends sit below the axes, so they never cover the curves."""
        import matplotlib.pyplot as plt

        from gelav.plot import STYLE, new_axes

        if self.density is None:
            raise ValueError("No PDE density to plot: include the 'pde' method.")
        d = self.density
        c = self.inputs["threshold"]
        below = self.inputs["direction"] == "below"
        plt.close(new_axes()[0])  # selects a headless backend when there is no display
        with plt.rc_context(STYLE):  # type: ignore[arg-type]
            fig, (a1, a3, a2) = plt.subplots(1, 3, figsize=(15, 4.4), gridspec_kw={"width_ratios": [1.2, 0.8, 1.2]})
        x = d.grid.nodes
        y = d.at()
        a1.plot(x, y, label="Fokker–Planck (PDE)")
        proc = d.process
        exact = getattr(proc, "has_transition", False)
        if exact:
            law = proc.transition(self.inputs["x0"], self.inputs["horizon"])
            a1.plot(x, law.pdf(x), "--", lw=1, label="exact law")
        mask = x <= c if below else x >= c
        a1.fill_between(x[mask], y[mask], alpha=0.4, color="C3",
                        label=f"P(X_T {'<' if below else '>'} {c:g}) = {self.best:.4%}")
        a1.axvline(c, color="C3", lw=0.8)
        a1.set_xlabel("state x")
        a1.set_ylabel("density [1/unit of x]")
        a1.set_title(f"Density at T = {self.inputs['horizon']:g} y from x0 = {self.inputs['x0']:g}")
        a1.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2, fontsize=8)
        # The tail that matters is invisible on a linear scale: show it on a log scale.
        tail = x <= c + 0.5 * (d.mean() - c) if below else x >= c - 0.5 * (c - d.mean())
        a3.semilogy(x[tail], np.maximum(y[tail], 1e-300), lw=1, label="PDE")
        if exact:
            a3.semilogy(x[tail], law.pdf(x[tail]), "--", lw=1, label="exact law")
        a3.axvline(c, color="C3", lw=0.8, label=f"threshold {c:g}")
        a3.set_ylim(bottom=max(1e-8, float(np.max(y)) * 1e-9))
        a3.set_xlabel("state x")
        a3.set_title("Tail (log scale)")
        a3.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=3, fontsize=8)
        a2.axhline(c, color="C3", lw=0.8, label=f"threshold {c:g}")
        d.plot_fan(ax=a2)
        a2.set_title("Spread of the distribution over time")
        a2.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=3, fontsize=8)
        fig.tight_layout()
        return fig

    @property
    def best(self) -> float:
        """The most accurate available answer (analytic, else the smallest error)."""
        if not self.results:
            raise ValueError("No method gave an answer: " + "; ".join(f"{k}: {v}" for k, v in self.omitted.items()))
        r = min(self.results.values(), key=lambda m: (m.method != "analytic", m.error))
        return r.probability


def _analytic(process: Any, x0: float, horizon: float, c: float, below: bool, opts: dict[str, Any]) -> MethodResult:
    if not getattr(process, "has_transition", False):
        raise ValueError(f"{process.name} has no closed-form law; the 'analytic' method is unavailable.")
    normal = process.normal_law(x0, horizon) if hasattr(process, "normal_law") else None
    if normal is None:  # warm SciPy's import (~1 s on a first call): the time column is the formula's cost
        import scipy.stats  # noqa: F401
    t0 = time.perf_counter()
    if normal is not None:  # Gaussian law: Φ(z) = erfc(-z/√2)/2, without building a SciPy distribution
        z = (c - normal[0]) / normal[1]
        p = 0.5 * math.erfc((z if below else -z) / -math.sqrt(2.0))
    else:
        law = process.transition(x0, horizon)
        p = float(law.cdf(c) if below else law.sf(c))
    return MethodResult("analytic", p, 0.0, "error_estimate", time.perf_counter() - t0)


def _nested_grids(process: Any, x0: float, horizon: float, c: float, n0: int) -> list[Any] | None:
    """Three nested grids (spacing h, h/2, h/4) with both ``x0`` and ``c`` on nodes.

    With ``c`` at a varying position inside its cell the h² error constant of
    P(X_T < c) changes from grid to grid and Richardson extrapolation fails (a
    Brownian motion with x0 = 0, c = -1 was off by 1.5e-7 against an estimate of
    2e-10); on these grids the error is a clean C·h². Uniform grids, or, when the
    domain reaches a singular end of the state space (CIR at 0, Jacobi at 0 and 1),
    grids graded towards it (:meth:`gelav.fd.grid.Grid.graded`, one map refined:
    the scale–speed chain there is second order on them). ``None`` when a uniform
    grid would have to end at a regular boundary of the state space: the caller then
    uses the default grids.
    """
    from gelav.fd.singular import log_scale_ends, singular_ends
    from gelav.grid import Grid, auto_domain

    lo, hi = auto_domain(process, x0, horizon, include=[c])
    sing = singular_ends(process, (lo, hi))
    if log_scale_ends(process, (lo, hi))[0] and not sing[1]:
        # GBM-like natural end: logarithmic grids from below the lower 1e-10 quantile of the path
        low = min(v for v in (x0, c) if v > lo) if any(v > lo for v in (x0, c)) else hi
        if getattr(process, "has_transition", False):
            for t in horizon * np.linspace(0.05, 1.0, 20):
                low = min(low, float(process.transition(x0, float(t)).ppf(5e-11)))
        else:
            low = min(low, lo + 1e-6 * (hi - lo))
        low = lo + 0.5 * (low - lo)
        anchors = sorted({v for v in (x0, c) if low < v < hi})
        n_base = max(n0, 4 * (len(anchors) + 1))
        return [Grid.logarithmic(low, hi, n_base, origin=lo, nodes=anchors, refine=j) for j in range(3)]
    if any(sing):
        ends = "both" if all(sing) else ("lower" if sing[0] else "upper")
        anchors = sorted({v for v in (x0, c) if lo < v < hi})
        n_base = max(n0, 4 * (len(anchors) + 1))
        return [Grid.graded(lo, hi, n_base, ends=ends, nodes=anchors, refine=j) for j in range(3)]
    d_lo, d_hi = getattr(process, "domain", (-math.inf, math.inf))
    h = (hi - lo) / n0
    if c != x0:
        h = abs(c - x0) / max(1, round(abs(c - x0) / h))
    out = []
    for j in range(3):
        hj = h / 2**j
        k_lo = math.ceil((x0 - lo) / hj - 1e-9)
        k_hi = math.ceil((hi - x0) / hj - 1e-9)
        nodes = x0 + hj * np.arange(-k_lo, k_hi + 1)
        if not (nodes[0] > d_lo and nodes[-1] < d_hi):
            return None
        out.append(Grid(nodes))
    return out


def _graded(grids: list[Any]) -> bool:
    """True for the graded grids of :func:`_nested_grids` (their spacing is not uniform)."""
    h = grids[0].spacing
    return bool(h.max() > 1.5 * h.min())


def _check_refinement(ps: Sequence[float]) -> None:
    """On grids graded towards a singular end the answers must converge (same-sign differences
    shrinking at an observed order >= 1); otherwise the PDE is left out (:class:`MethodOmitted`)."""
    d1, d2 = ps[1] - ps[0], ps[2] - ps[1]
    if abs(d2) <= 1e-12 * max(abs(ps[2]), 1e-300) or abs(d2) < 1e-15:
        return
    if d1 * d2 <= 0 or abs(d1) < 2.0 * abs(d2):
        raise MethodOmitted(
            f"the PDE answers on nested grids graded towards the singular end ({ps[0]:.6g}, {ps[1]:.6g}, "
            f"{ps[2]:.6g}) do not converge at order >= 1, so no error bound can be given")


def _pde(process: Any, x0: float, horizon: float, c: float, below: bool, opts: dict[str, Any]) -> MethodResult:
    from gelav.forward import forward

    t0 = time.perf_counter()
    n = int(opts.get("cells", 800))
    m = int(opts.get("steps", max(n // 2, 50)))
    q = {"below": c} if below else {"above": c}
    # Three nested grids (N/4, N/2, N cells and steps): the scheme is second order in
    # space and time together, so Richardson extrapolation of consecutive pairs
    # removes the h² term and the difference of the two extrapolations estimates
    # the error of the finer one (fourth order: divide by 2⁴ - 1).
    grids = _nested_grids(process, x0, horizon, c, max(n // 4, 8))
    # a logarithmic grid's lower end lies below the exact law's 5e-11 quantile: an intended far end
    far_lower = "natural"
    if grids is not None and getattr(process, "has_transition", False) and _graded(grids):
        far_lower = "reflecting" if grids[0].lower > getattr(process, "domain", (-math.inf,))[0] else "natural"
    ps, fine = [], None
    for j, k in enumerate((4, 2, 1)):
        if grids is None:
            fine = forward(process, x0, horizon, n_cells=max(n // k, 8), n_steps=max(m // k, 2), include=[c])
        else:
            fine = forward(process, x0, horizon, grid=grids[j], n_steps=max(m // k, 2), lower=far_lower)
        ps.append(fine.prob(**q))
    r_coarse = ps[1] + (ps[1] - ps[0]) / 3.0
    r_fine = ps[2] + (ps[2] - ps[1]) / 3.0
    err = abs(r_fine - r_coarse) / 15.0
    # The observed order p = log2(d1/d2) checks the assumed 2. Where it is reduced (e.g. CIR's
    # density ~ x^(2κθ/σ²-1) at 0, p ≈ 1.6) the h² extrapolation leaves an error of about
    # |d2|·|1/(2^p-1) - 1/3|, and the fine grid's error is |d2|/(2^p-1); with no clear order
    # (differences of opposite sign) the last difference itself is the estimate.
    d1, d2 = ps[1] - ps[0], ps[2] - ps[1]
    unextrapolated_err = abs(d2) / 3.0
    if d2 != 0.0:
        if d1 * d2 > 0:
            order = min(max(math.log2(d1 / d2), 0.5), 4.0)
            if abs(order - 2.0) > 0.25:
                err = max(err, abs(d2) * abs(1.0 / (2.0**order - 1.0) - 1.0 / 3.0))
                unextrapolated_err = abs(d2) / (2.0**order - 1.0)
        else:
            err = max(err, abs(d2))
            unextrapolated_err = abs(d2)
    assert fine is not None
    if grids is not None and _graded(grids):
        _check_refinement(ps)
        # Grids graded towards a singular end: the answers are second order (the h² term is
        # removed), but the remainder converges at a rate between h^2 and h^3 (not h⁴), so the
        # extrapolated value's error is bounded by the last extrapolation difference itself.
        err = max(err, abs(r_fine - r_coarse))
    return MethodResult(
        "pde", r_fine, err, "error_estimate", time.perf_counter() - t0,
        {"cells": n, "steps": m, "unextrapolated": ps[2], "unextrapolated_error_estimate": unextrapolated_err,
         "mass_balance_error": fine.diagnostics["mass_balance_error"], "_density": fine},
    )


def _mc(process: Any, x0: float, horizon: float, c: float, below: bool, opts: dict[str, Any]) -> MethodResult:
    from gelav.montecarlo import stress_probability

    if not getattr(process, "has_transition", False):
        from gelav.fd.singular import end_kinds
        from gelav.processes.protocol import domain_of

        kinds = [k for k in end_kinds(process, domain_of(process)) if k is not None and k[0] in ("regular", "exit")]
        if kinds:
            raise MethodOmitted(
                f"Euler Monte Carlo cannot be trusted here: the state space has an attainable "
                f"{kinds[0][0]} end where σ² vanishes, which Euler steps overshoot (no exact sampler)")
    t0 = time.perf_counter()
    n = int(opts.get("paths", 1_000_000))
    e = stress_probability(process, x0, horizon, c, below=below, n_paths=n, seed=opts.get("seed"))
    scheme = "exact" if getattr(process, "has_transition", False) else "euler"
    return MethodResult("mc", float(e.value), float(e.stderr), "stderr", time.perf_counter() - t0,
                        {"paths": n, "scheme": scheme})


def _lattice(process: Any, x0: float, horizon: float, c: float, below: bool, opts: dict[str, Any]) -> MethodResult:
    from gelav.lattice import stress_probability

    t0 = time.perf_counter()
    est = stress_probability(process, x0, horizon, c, below=below, n_steps=int(opts.get("lattice_steps", 800)))
    p, err = est
    return MethodResult(
        "lattice", float(p), float(err), "error_estimate", time.perf_counter() - t0,
        {"lattice": est.method, "sizes": list(est.sizes)},
    )


#: method name -> function(process, x0, horizon, threshold, below, options) -> MethodResult
METHODS: dict[str, Callable[..., MethodResult]] = {
    "analytic": _analytic,
    "pde": _pde,
    "mc": _mc,
    "lattice": _lattice,
}


def stress_test(
    process: Any,
    x0: float,
    horizon: float,
    threshold: float,
    *,
    direction: str = "below",
    methods: Sequence[str] | None = None,
    paths: int = 1_000_000,
    seed: SeedLike = 0,
    cells: int = 800,
    steps: int | None = None,
) -> StressResult:
    r"""Probability that :math:`X_T` ends below (or above) ``threshold``, by several methods.

    .. math:: P(X_T < c \mid X_0 = x_0) \quad\text{or}\quad P(X_T > c \mid X_0 = x_0)

    Parameters
    ----------
    process : Process
    x0 : float
        Starting state.
    horizon : float
        :math:`T` in years, > 0.
    threshold : float
        :math:`c`.
    direction : {"below", "above"}
    methods : sequence of str, optional
        Names from :data:`METHODS`; default all that apply to the process.
    paths, seed : Monte Carlo settings.
    cells, steps : PDE grid cells and time steps of the finest of three nested grids.

    Returns
    -------
    StressResult

    Examples
    --------
    >>> from gelav import OrnsteinUhlenbeck
    >>> r = stress_test(OrnsteinUhlenbeck(0.45, 1.0, 0.32), -0.5, 2.0, -0.5, methods=["analytic", "pde"])
    >>> abs(r.results["pde"].probability - r.results["analytic"].probability) < 1e-5
    True
    """
    x0 = check_finite("x0", x0)
    horizon = check_horizon("horizon", horizon)
    threshold = check_finite("threshold", threshold)
    paths = check_int("paths", paths, minimum=100)
    cells = check_int("cells", cells, minimum=16)
    if direction not in ("below", "above"):
        raise ValueError(f"`direction` must be 'below' or 'above', got {direction!r}.")
    if methods is None:
        methods = [m for m in METHODS if m != "analytic" or getattr(process, "has_transition", False)]
        if not getattr(process, "has_transition", False):
            methods = [m for m in methods if m != "mc"]
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise ValueError(f"Unknown method(s) {', '.join(map(repr, unknown))}; registered methods are {', '.join(METHODS)}.")
    if not methods:
        raise ValueError("`methods` is empty.")
    opts = {"paths": paths, "seed": seed, "cells": cells}
    if steps is not None:
        opts["steps"] = check_int("steps", steps, minimum=2)
    below = direction == "below"
    results: dict[str, MethodResult] = {}
    density = None
    omitted: dict[str, str] = {}
    for name in methods:
        try:
            r = METHODS[name](process, x0, horizon, threshold, below, opts)
        except MethodOmitted as why:
            omitted[name] = str(why)
            continue
        if "_density" in r.details:
            density = r.details.pop("_density")
        results[name] = r
    inputs = {"process": type(process).__name__, **process.params(), "x0": x0, "horizon": horizon,
              "threshold": threshold, "direction": direction}
    return StressResult(inputs=inputs, results=results, density=density, omitted=omitted)

