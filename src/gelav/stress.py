r"""Stress-test probabilities computed several independent ways.

The question of seed 000: starting from :math:`X_0 = x_0`, what is
:math:`P(X_T < c)` (or :math:`P(X_T > c)`)? Each *method* answers it with its
own error estimate:

- ``analytic``: the exact transition law (OU, BM, GBM, CIR); error 0 up to
  special-function rounding.
- ``pde``: the Fokker–Planck solver on three nested grids :math:`N/4, N/2, N`
  (cells and steps); the second-order answers are Richardson-extrapolated
  pairwise and the error estimate is :math:`|R_N - R_{N/2}|/7`. The observed
  order :math:`p = \log_2(|P_{N/2} - P_{N/4}|/|P_N - P_{N/2}|)` is checked
  against the scheme's order 2: outside 2 ± 0.25 the estimate is widened and
  marked ``validated = False`` (with the reason in ``not_validated``). The
  domain leaves out at most :data:`TAIL_FRACTION` of the answer (widened for
  deep tails), so the estimate is relative: ``relative_error_estimate``. The
  plain finest-grid answer and its estimate :math:`|P_N - P_{N/2}|/3` are
  kept in the details. With ``tol=``, the grids, the flux (Scharfetter–Gummel
  or the square-root approximation) and the time steps (exact, ``scheme="expm"``,
  for a time-homogeneous process whose chains the exponential's error bound
  certifies; Crank–Nicolson otherwise) are chosen instead, refining from 16 cells
  until a validated estimate is at most ``tol`` (:func:`_pde_to_tolerance`).
- ``mc``: Monte Carlo; value ± standard error; with no path in the event the
  exact one-sided 95 % upper bound :math:`1 - 0.05^{1/n}` (``error_kind = "bound"``).
- ``lattice``: a trinomial lattice (Hull–White tree for OU/BM/GBM, the exact
  chain of the generator otherwise), Richardson-extrapolated over two sizes;
  the error estimate is that of the finer lattice (conservative).

Methods live in the :data:`METHODS` registry (name -> function), so a new one is
one function.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from gelav._random import SeedLike
from gelav._validation import MAX_CELLS, MAX_STATE, check_finite, check_horizon, check_int
from gelav.fd.grid import Grid, auto_domain, log_grid_lower
from gelav.processes.protocol import domain_of, gaussian_law, has_exact_law, name_of, params_of

if TYPE_CHECKING:  # the table names live in gelav.stress_table (loaded on first use)
    from gelav.processes.protocol import ProcessLike
    from gelav.stress_band import FitParameters
    from gelav.stress_table import MethodTable, StressTable, stress_table

__all__ = [
    "METHODS",
    "MethodOmitted",
    "MethodResult",
    "MethodTable",
    "StressResult",
    "StressTable",
    "check_mc_trust",
    "default_methods",
    "stress_table",
    "stress_test",
]


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
    error_kind: str  # "stderr" (Monte Carlo), "bound" (Monte Carlo, no hit: 95 % upper bound) or "error_estimate"
    seconds: float
    details: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        out = {"probability": self.probability, self.error_kind: self.error, "seconds": self.seconds, **self.details}
        if self.error_kind == "bound":  # no hit: no standard error exists (null, not 0), the bound stands beside it
            out = {"probability": self.probability, "stderr": None, **{k: v for k, v in out.items()
                                                                       if k != "probability"}}
        return out

    def error_text(self, *, long: bool = False) -> str:
        """The error as printed (CLI table and report): ``± s.e.``, the zero-hit bound, ``exact``,
        or the estimate with a note when its observed order did not validate it."""
        if self.error_kind == "stderr":
            # Euler steps (no exact sampler): the time-discretization bias is not in the standard error
            euler = self.details.get("scheme") == "euler"
            return (f"± {self.error:.2e} ({'standard error' if long else 's.e.'}"
                    + ("; plus the Euler steps' O(Δt) bias, not estimated" if long else ", Euler: + bias") * euler + ")")
        if self.error_kind == "bound":
            return f"< {self.error:.2e} " + ("(95 % upper bound, no hit)" if long else "(95% bound)")
        if self.method == "analytic":
            return "exact"
        text = f"≈ {self.error:.1e} (refinement estimate)" if long else f"~ {self.error:.1e}"
        if self.details.get("validated") is False:
            text += f" (not validated: {self.details.get('not_validated', 'observed order off')})"
        return text

    @property
    def estimate(self) -> Any:
        """The answer as a :class:`gelav.results.Estimate` (kind ``exact``, ``stderr``, ``bound`` or ``a-priori``)."""
        from gelav.results import Estimate

        kind = self.error_kind if self.error_kind in ("stderr", "bound") else (
            "exact" if self.method == "analytic" else "a-priori")
        n = self.details.get("paths") if kind in ("stderr", "bound") else None
        return Estimate(self.probability, self.error, n, kind=kind)


@dataclass(frozen=True)
class StressResult:
    """Answers of every method for one stress question, with the inputs."""

    inputs: dict[str, Any]
    results: dict[str, MethodResult]
    density: Any = None  # the PDE Density when the pde method ran
    #: method -> level -> {"var", "es", ...}: value at risk and expected shortfall of X_T (``levels=``)
    tail: dict[str, dict[float, dict[str, float]]] = field(default_factory=dict)
    #: the confidence band from the parameters' uncertainty (``fit=``), a :class:`gelav.stress_band.StressBand`
    band: Any = None
    #: method -> why it was left out (it cannot be trusted for this model): never a number
    omitted: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"inputs": self.inputs, "methods": {k: v.as_dict() for k, v in self.results.items()}}
        if self.omitted:
            out["omitted"] = dict(self.omitted)
        if self.tail:
            out["tail_risk"] = {m: {str(lv): dict(v) for lv, v in t.items()} for m, t in self.tail.items()}
        if self.band is not None:
            out["band"] = self.band.to_dict()
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
        exact = proc is not None and has_exact_law(proc)
        if exact:
            normal = gaussian_law(proc, self.inputs["x0"], self.inputs["horizon"])
            if normal is not None:  # the transition's numbers without importing scipy.stats
                from gelav.processes.laws import Normal

                law = Normal(*normal)
            else:
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
        fan_density(d).plot_fan(ax=a2)
        a2.set_title("Spread of the distribution over time")
        a2.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=3, fontsize=8)
        fig.tight_layout()
        return fig

    @property
    def best(self) -> float:
        """The most accurate available answer (analytic, else the smallest validated error; a
        zero-hit Monte Carlo bound only when nothing else ran)."""
        if not self.results:
            raise ValueError("No method gave an answer: " + "; ".join(f"{k}: {v}" for k, v in self.omitted.items()))
        r = min(self.results.values(), key=lambda m: (m.method != "analytic", m.error_kind == "bound",
                                                      m.details.get("validated") is False, m.error))
        return r.probability


def fan_density(density: Any, n_times: int = 40) -> Any:
    """``density`` itself when it saved the law at several times; else (the automatic mode's exact step,
    which saves the start and the horizon only) the same run on the same grid, flux and scheme, saved at
    ``n_times`` equal steps: the fan chart and its export over time."""
    if density.times.size >= 3:
        return density
    from gelav.forward import forward

    inp, diag = density.inputs, density.diagnostics
    t0, T = float(inp["start"]), float(inp["horizon"])
    return forward(density.process, inp["initial"], T, grid=density.grid, start=t0, n_steps=n_times,
                   times=np.linspace(t0, t0 + T, n_times + 1), flux=diag["flux"], scheme=diag["scheme"],
                   lower=inp["lower"], upper=inp["upper"])


def _analytic(process: ProcessLike, x0: float, horizon: float, c: float, below: bool, opts: dict[str, Any]) -> MethodResult:
    if not has_exact_law(process):
        raise ValueError(f"{name_of(process)} has no closed-form law; the 'analytic' method is unavailable.")
    normal = gaussian_law(process, x0, horizon)
    if normal is None:  # warm SciPy's import (~1 s on a first call): the time column is the formula's cost
        import scipy.stats  # noqa: F401
    t0 = time.perf_counter()
    if normal is not None:  # Gaussian law: Φ(z) = erfc(-z/√2)/2, without building a SciPy distribution
        # a spread that underflowed to 0 (σ = 1e-308) is a step at the mean, 1/2 on it
        z = (c - normal[0]) / normal[1] if normal[1] > 0 else (0.0 if c == normal[0] else
                                                                 math.copysign(math.inf, c - normal[0]))
        p = 0.5 * math.erfc((z if below else -z) / -math.sqrt(2.0))
    else:
        law = process.transition(x0, horizon)
        p = float(law.cdf(c) if below else law.sf(c))
    return MethodResult("analytic", p, 0.0, "error_estimate", time.perf_counter() - t0)


def graded_nested_grids(process: ProcessLike, x0: float, horizon: float, points: Sequence[float], n0: int,
                        domain: tuple[float, float], levels: int = 3) -> list[Any] | None:
    """Three (``levels``) nested grids graded towards a singular end of the state space inside ``domain`` (CIR at 0,
    Jacobi at 0 and 1: :meth:`gelav.fd.grid.Grid.graded`), or logarithmic towards a GBM-like natural end
    (:meth:`gelav.fd.grid.Grid.logarithmic`), with ``x0`` and ``points`` on nodes of each; ``None`` when
    ``domain`` reaches no such end (uniform grids serve). The scale–speed chain is second order on them."""
    from gelav.fd.singular import log_scale_ends, singular_ends

    lo, hi = domain
    sing = singular_ends(process, (lo, hi))
    log_end = log_scale_ends(process, (lo, hi))[0] and not sing[1]
    if not (log_end or any(sing)):
        return None
    if log_end:
        # GBM-like natural end: logarithmic grids from below the lower 1e-10 quantile of the path
        inside = [v for v in (x0, *points) if v > lo]
        low = min(inside) if inside else hi
        if has_exact_law(process):  # the default grid's lower end, and the points'
            low = min(log_grid_lower(process, [x0], horizon, lo, hi) or hi, lo + 0.5 * (low - lo))
        else:
            low = lo + 0.5 * (min(low, lo + 1e-6 * (hi - lo)) - lo)
        anchors = sorted({v for v in (x0, *points) if low < v < hi})
    else:
        anchors = sorted({v for v in (x0, *points) if lo < v < hi})
    n_base = max(n0, 4 * (len(anchors) + 1))
    for _ in range(8):  # anchors close together need more cells to sit on distinct nodes
        try:
            if log_end:
                return [Grid.logarithmic(low, hi, n_base, origin=lo, nodes=anchors, refine=j) for j in range(levels)]
            ends = "both" if all(sing) else ("lower" if sing[0] else "upper")
            return [Grid.graded(lo, hi, n_base, ends=ends, nodes=anchors, refine=j) for j in range(levels)]
        except ValueError:
            n_base *= 2
    return None


def far_lower_end(process: ProcessLike, grids: list[Any]) -> str:
    """The lower boundary condition on :func:`graded_nested_grids`: a logarithmic grid's lower end lies
    below the exact law's 5e-11 quantile, inside the state space, an intended far end (reflecting)."""
    if is_graded(grids) and has_exact_law(process) and grids[0].lower > domain_of(process)[0]:
        return "reflecting"
    return "natural"


def _nested_grids(process: ProcessLike, x0: float, horizon: float, c: float, n0: int, tail: float = 1e-10,
                  levels: int = 3, clip: bool = False, domain: tuple[float, float] | None = None) -> list[Any] | None:
    """Three (``levels``) nested grids (spacing h, h/2, h/4, ...) with both ``x0`` and ``c`` on nodes.

    With ``c`` at a varying position inside its cell the h² error constant of
    P(X_T < c) changes from grid to grid and Richardson extrapolation fails (a
    Brownian motion with x0 = 0, c = -1 was off by 1.5e-7 against an estimate of
    2e-10); on these grids the error is a clean C·h². Uniform grids, or, when the
    domain reaches a singular end of the state space (CIR at 0, Jacobi at 0 and 1),
    grids graded towards it (:meth:`gelav.fd.grid.Grid.graded`, one map refined:
    the scale–speed chain there is second order on them). ``None`` when a uniform
    grid would have to end at a regular boundary of the state space: the caller then
    uses the default grids. ``tail`` is the mass the domain may leave out; ``domain`` the automatic
    domain when the caller has it already.
    """
    lo, hi = auto_domain(process, x0, horizon, include=[c], tail=tail) if domain is None else domain
    graded = graded_nested_grids(process, x0, horizon, [c], n0, (lo, hi), levels)
    if graded is not None:
        return graded
    return uniform_nested_grids(process, x0, lo, hi, threshold_spacing(x0, c, (hi - lo) / n0), levels, clip)


def threshold_spacing(x0: float, c: float, h: float) -> float:
    """The spacing closest to ``h`` that puts ``c`` on a node of a uniform grid through ``x0``."""
    return h if c == x0 else abs(c - x0) / max(1, round(abs(c - x0) / h))


def uniform_nested_grids(process: ProcessLike, x0: float, lo: float, hi: float, h: float, levels: int = 3,
                         clip: bool = False) -> list[Any] | None:
    """Three (``levels``) nested uniform grids through ``x0`` (spacing h, h/2, h/4, ...) covering [lo, hi] up to a cell;
    ``None`` when one would reach a boundary of the state space (CIR, at 0): the caller then uses the
    default grids. With ``clip``, such a grid ends at ``lo`` (``hi``) instead, the same end node on
    every level, after the last lattice node at least half a cell inside (the end cell, where the
    domain leaves out ``tail`` of the mass, is then not halved exactly; ``None`` if that end is the
    boundary itself)."""
    d_lo, d_hi = domain_of(process)
    out = []
    for j in range(levels):
        hj = h / 2**j
        k_lo = math.ceil((x0 - lo) / hj - 1e-9)
        k_hi = math.ceil((hi - x0) / hj - 1e-9)
        nodes = x0 + hj * np.arange(-k_lo, k_hi + 1)
        if not (nodes[0] > d_lo and nodes[-1] < d_hi):
            if not clip or not (d_lo < lo and hi < d_hi):
                return None
            if nodes[0] <= d_lo:
                nodes = np.concatenate(([lo], nodes[nodes > lo + 0.5 * hj]))
            if nodes[-1] >= d_hi:
                nodes = np.concatenate((nodes[nodes < hi - 0.5 * hj], [hi]))
        out.append(Grid(nodes))
    return out


def is_graded(grids: list[Any]) -> bool:
    """True for the graded grids of :func:`_nested_grids` (their spacing is not uniform)."""
    h = grids[0].spacing
    return bool(h.max() > 1.5 * h.min())


def check_graded_refinement(ps: Sequence[float]) -> None:
    """On grids graded towards a singular end the answers must converge (same-sign differences
    shrinking at an observed order >= 1); otherwise the PDE is left out (:class:`MethodOmitted`)."""
    d1, d2 = ps[1] - ps[0], ps[2] - ps[1]
    if abs(d2) <= 1e-12 * max(abs(ps[2]), 1e-300) or abs(d2) < 1e-15:
        return
    if d1 * d2 <= 0 or abs(d1) < 2.0 * abs(d2):
        raise MethodOmitted(
            f"the PDE answers on nested grids graded towards the singular end ({ps[0]:.6g}, {ps[1]:.6g}, "
            f"{ps[2]:.6g}) do not converge at order >= 1, so no error bound can be given")


#: the domain of the PDE may leave out at most this fraction of the answer (its truncation error)
TAIL_FRACTION = 1e-8
#: the observed order must lie within this distance of the scheme's order for the estimate to be validated
ORDER_TOLERANCE = 0.25
#: and the coarsest grid must have this many cells per decay length sd/max(1, |z|) of the law at the
#: threshold (below it the observed order matched by chance on the seed's OU: estimates 4x optimistic)
MIN_RESOLUTION = 0.4


class Refinement(NamedTuple):
    """The result of :func:`refinement_estimate`."""

    value: float
    error: float
    extrapolation_error: float
    unextrapolated_error: float
    order: float
    why: str


def refinement_estimate(ps: Sequence[float], nested: bool, nominal: float = 2.0) -> Refinement:
    r"""Richardson extrapolation of three answers on nested grids (N/4, N/2, N cells and steps).

    Returns a :class:`Refinement`: the extrapolated finest answer and its error estimate (with
    the observed-order check), the plain extrapolation estimate before that check, the estimate for
    the plain finest answer
    ``ps[2]``, the observed order :math:`p = \log_2(d_1/d_2)` of the differences
    :math:`d_1 = P_{N/2} - P_{N/4}`, :math:`d_2 = P_N - P_{N/2}` (NaN if undefined), and the
    reason the estimate is not validated (``""`` when :math:`|p - p_{nominal}|` ≤
    :data:`ORDER_TOLERANCE`).

    The remainder after removing :math:`h^2` is taken as third order (divide by :math:`2^3 - 1`):
    on the seed's OU at thresholds −1 … −1.8 the fourth-order /15 was up to 1.3 times optimistic.
    Without nested grids (the threshold moves inside its cell) the remainder is no clean power of
    :math:`h`: the whole difference of the extrapolations is the estimate (CIR, P(X_1 > 2): /7 was
    2.4 times optimistic). Where the observed order is reduced (e.g. CIR's density
    :math:`\sim x^{2\kappa\theta/\sigma^2-1}` at 0) the :math:`h^2` extrapolation leaves about
    :math:`|d_2|\,|1/(2^p-1) - 1/3|`; with differences of opposite sign the last difference is the
    estimate.
    """
    r_coarse = ps[1] + (ps[1] - ps[0]) / (2**nominal - 1)
    r_fine = ps[2] + (ps[2] - ps[1]) / (2**nominal - 1)
    err = plain = abs(r_fine - r_coarse) / (7.0 if nested else 1.0)
    d1, d2 = ps[1] - ps[0], ps[2] - ps[1]
    unextrapolated_err = abs(d2) / 3.0
    order = math.nan
    why = ""
    if d2 != 0.0:
        if d1 * d2 > 0:
            order = math.log2(d1 / d2)
            if abs(order - nominal) > ORDER_TOLERANCE:
                p_c = min(max(order, 0.5), 4.0)
                err = max(err, abs(d2) * abs(1.0 / (2.0**p_c - 1.0) - 1.0 / 3.0))
                unextrapolated_err = abs(d2) / (2.0**p_c - 1.0)
                why = f"observed order {order:.2f}, expected {nominal:g}"
        else:
            err = max(err, abs(d2))
            unextrapolated_err = abs(d2)
            why = "the refinement differences change sign (no observed order)"
    elif d1 != 0.0:
        why = "the two finest grids agree exactly while the coarse one differs"
    if why:  # an estimate that is not validated is the last refinement correction, at least
        err = max(err, abs(d2))
    return Refinement(r_fine, err, plain, unextrapolated_err, order, why)


def threshold_resolution(masses: Any, grid: Any, c: float) -> float:
    """Cells of the coarsest of three nested grids (4× the spacing of ``grid``) per decay length
    sd/max(1, |z|) of the law ``masses`` (node masses on ``grid``) at the threshold ``c``; NaN without mass.
    Below :data:`MIN_RESOLUTION` a matching observed order may be chance, not the asymptotic range."""
    mass = float(masses.sum())
    if not mass > 0:
        return math.nan
    mean = float(masses @ grid.nodes) / mass
    sd = math.sqrt(max(float(masses @ (grid.nodes - mean) ** 2) / mass, 0.0))
    return float(sd / max(1.0, abs(c - mean) / sd if sd > 0 else math.inf) / (4.0 * grid.max_spacing))


def _pde_answers(process: ProcessLike, x0: float, horizon: float, c: float, q: dict[str, float], n: int, m: int,
                 tail: float) -> tuple[list[float], Any, bool, bool]:
    """P on the three nested grids (N/4, N/2, N cells and steps), the finest density, whether
    the grids were nested with ``x0`` and ``c`` on nodes (else the default grids of each size), and
    whether they are graded towards a singular end."""
    from gelav.forward import forward

    grids = _nested_grids(process, x0, horizon, c, max(n // 4, 8), tail)
    graded = grids is not None and is_graded(grids)
    far_lower = far_lower_end(process, grids) if grids is not None else "natural"
    ps, fine = [], None
    for j, k in enumerate((4, 2, 1)):
        if grids is None:
            fine = forward(process, x0, horizon, n_cells=max(n // k, 8), n_steps=max(m // k, 2), include=[c],
                           tail=tail)
        else:
            fine = forward(process, x0, horizon, grid=grids[j], n_steps=max(m // k, 2), lower=far_lower)
        ps.append(fine.prob(**q))
    return ps, fine, grids is not None, graded


def _assess(ps: Sequence[float], ref: Refinement, fine: Any, nested: bool, graded: bool, tail: float, c: float
            ) -> tuple[float, float, float, float, bool, str, float]:
    """The PDE method's answer from three nested answers ``ps`` and their :func:`refinement_estimate`:
    ``(value, error, unextrapolated error, observed order, validated, why not, resolution)``.

    On grids graded towards a singular end the answers must converge (:func:`check_graded_refinement`,
    :class:`MethodOmitted` otherwise) and the bound is the last extrapolation difference; the coarsest
    grid must resolve the law at the threshold (:data:`MIN_RESOLUTION`); an estimate that is not
    validated is at least the last refinement correction; plus the mass the domain leaves out
    (``tail / 2``) and the rounding of a sum of positive masses."""
    r_fine, err, unextrapolated_err, order, why = ref.value, ref.error, ref.unextrapolated_error, ref.order, ref.why
    if graded:
        check_graded_refinement(ps)
        # Grids graded towards a singular end: the answers are second order (the h² term is
        # removed), but the remainder converges at a rate between h^2 and h^3 (not faster), so the
        # extrapolated value's error is bounded by the last extrapolation difference itself.
        err = max(err, ref.extrapolation_error * (7.0 if nested else 1.0))
    d2 = ps[2] - ps[1]
    validated = not why
    # The observed order can match by chance before the asymptotic range: the coarsest grid must
    # resolve the law near the threshold, whose decay length there is about sd/max(1, |z|).
    # (on grids graded towards a singular end the largest cell is far from the law: the resolution is
    # not that of a uniform grid, and check_graded_refinement checks convergence instead)
    resolution = math.nan if graded else threshold_resolution(fine.masses[-1], fine.grid, c)
    if not math.isnan(resolution):
        if validated and not resolution >= MIN_RESOLUTION:
            validated = False
            why = (f"the coarsest grid has {resolution:.2f} cells per decay length of the law at the threshold "
                   f"(needs {MIN_RESOLUTION:g}); increase `cells`")
    if not validated:  # (also after the resolution check below)
        err = max(err, abs(d2))
    # plus the mass the domain leaves out on the threshold's side; rounding: the probability is a
    # sum of positive masses, each computed to a few ulps per step
    err = max(err + 0.5 * tail, 1e-13 * abs(r_fine))
    return r_fine, err, unextrapolated_err, order, validated, why, resolution


def _pde(process: ProcessLike, x0: float, horizon: float, c: float, below: bool, opts: dict[str, Any]) -> MethodResult:
    from gelav.fd.schemes import get_scheme

    if opts.get("tol") is not None:
        return _pde_to_tolerance(process, x0, horizon, c, below, opts)

    t0 = time.perf_counter()
    n = int(opts.get("cells", 800))
    m = int(opts.get("steps", max(n // 2, 50)))
    q = {"below": c} if below else {"above": c}
    # Three nested grids (N/4, N/2, N cells and steps): the scheme is second order in
    # space and time together, so Richardson extrapolation of consecutive pairs
    # removes the h² term and the difference of the two extrapolations estimates
    # the error of the finer one.
    nominal = float(get_scheme("cn").order)

    tail = 1e-10
    ps, fine, nested, graded = _pde_answers(process, x0, horizon, c, q, n, m, tail)
    ref = refinement_estimate(ps, nested, nominal)
    # A deep tail: the default domain leaves out ~1e-10 of the mass (about tail/2 on the
    # threshold's side), which is then a large part of a tiny answer (P = 4e-10 was 1 % off,
    # with an estimate 1e4 times smaller). Where that is not negligible against the
    # refinement estimate, widen the domain to leave out TAIL_FRACTION of the answer.
    widened = False
    if 0.5 * tail > 0.1 * ref.extrapolation_error:
        p_pilot = max(ps[0], ps[2])
        tail = min(tail, max(TAIL_FRACTION * p_pilot, 1e-300))
        ps, fine, nested, graded = _pde_answers(process, x0, horizon, c, q, n, m, tail)
        ref = refinement_estimate(ps, nested, nominal)
        widened = True
    r_fine, err, unextrapolated_err, order, validated, why, resolution = _assess(ps, ref, fine, nested, graded,
                                                                                  tail, c)
    if not validated:
        check_unvalidated_upwinding(process, fine.grid, x0, f"the refinement estimate is not validated ({why})")
    details = {"cells": n, "steps": m, "unextrapolated": ps[2], "unextrapolated_error_estimate": unextrapolated_err,
               "mass_balance_error": fine.diagnostics["mass_balance_error"],
               "relative_error_estimate": err / abs(r_fine) if r_fine else math.inf,
               "observed_order": order, "nominal_order": nominal, "validated": validated, "nested_grids": nested,
               "resolution": resolution,
               "_density": fine}
    if why:
        details["not_validated"] = why
    if widened:
        details["domain_tail"] = tail  # the domain was widened for a deep tail
    return MethodResult("pde", r_fine, err, "error_estimate", time.perf_counter() - t0, details)


#: the coarsest grid (cells) of the search to a tolerance; each level doubles the cells and the steps
TOL_START_CELLS = 16
#: with exact time steps, every answer's time-error bound must be at most this fraction of ``tol``
TIME_ERROR_FRACTION = 0.01


def _unit_mass(grid: Any, x0: float) -> Any:
    """``grid.point_mass(x0)`` (the same numbers), without its checks when ``x0`` is a node (nested grids)."""
    nodes = grid.nodes
    j = int(nodes.searchsorted(x0))
    if j < nodes.size and nodes[j] == x0:
        m = np.zeros(nodes.size)
        m[j] = 1.0
        return m
    return grid.point_mass(x0)


def _cdfs(y: Any, starts: Any, sizes: Any, faces: Sequence[Any], c: float, upper: bool = False) -> list[float]:
    r""":meth:`gelav.density.Density.cdf` at ``c`` of each chain's masses in ``y`` (laid end to end; the chains
    cycle through the grids of ``faces``), the same numbers: the piecewise-linear interpolant of the
    running sums at the faces, the running sums taken chain by chain (a sequential sum, as ``np.cumsum``
    of each chain) and interpolated as ``np.interp`` does
    (:math:`(F_{k+1} - F_k)/(f_{k+1} - f_k)\,(c - f_k) + F_k`). ``upper``: :meth:`~gelav.density.Density.sf`
    instead (the sums from the upper end, the same numbers as it)."""
    n_g = len(faces)
    if upper:
        out = []
        for i, (a, m) in enumerate(zip(starts.tolist(), sizes.tolist(), strict=True)):
            Ui = np.concatenate((np.cumsum(y[a:a + m][::-1])[::-1], [0.0]))
            out.append(float(np.interp(c, faces[i % n_g], Ui, left=Ui[0], right=0.0)))
        return out
    js = [int(f.searchsorted(c, side="right")) - 1 for f in faces]  # f[j] <= c < f[j + 1]
    if all(0 < j < f.size - 1 and f[j] < c for j, f in zip(js, faces, strict=True)):  # c inside a cell
        out = []
        for i, a in enumerate(starts.tolist()):
            j, f = js[i % n_g], faces[i % n_g]
            run = y[a:a + j + 1].cumsum()  # the running sums up to the faces f[j] and f[j + 1]
            lo, hi, f_lo = float(run[-2]), float(run[-1]), float(f[j])
            out.append((hi - lo) / (float(f[j + 1]) - f_lo) * (c - f_lo) + lo)
        return out
    out = []
    for i, (a, m) in enumerate(zip(starts.tolist(), sizes.tolist(), strict=True)):  # an end or a face: np.interp
        Fi = np.concatenate(([0.0], np.cumsum(y[a:a + m])))
        out.append(float(np.interp(c, faces[i % n_g], Fi, left=0.0, right=Fi[-1])))
    return out


class _Final(NamedTuple):
    """The final masses of an exact-time answer on its grid (what :func:`_assess` reads of a run) and the
    start's."""

    masses: Any
    grid: Any
    start: Any


def _pde_to_tolerance(process: ProcessLike, x0: float, horizon: float, c: float, below: bool, opts: dict[str, Any],
                      fluxes: Sequence[str] | None = None) -> MethodResult:
    r"""The PDE method to an absolute tolerance ``opts["tol"]``, choosing the flux, the grid and the time steps.

    Nested grids of :data:`TOL_START_CELLS`, twice, four times ... as many cells (``x0`` and the
    threshold on nodes, graded or logarithmic where :func:`_nested_grids` says). A flux (of ``fluxes``,
    default :data:`gelav.fd.generator.FLUXES`) with three answers is assessed exactly as the fixed-grid
    method assesses its three answers (:func:`refinement_estimate`, the observed-order and resolution
    checks of :func:`_assess`); from four answers on, the last three pair extrapolations are assessed the
    same way (nominal order 3) and their estimate is taken when larger (the remainder converging slower
    than the third order the three-answer estimate assumes).

    Time: for a time-homogeneous process the answers are exact in time (:mod:`gelav.fd.expm`, one
    exponential per grid; only the space error is left and extrapolated), every answer certified by its
    time-error bound, which must be at most :data:`TIME_ERROR_FRACTION` of ``tol`` (a flux whose bound is
    larger drops out: a chain far from detailed balance, e.g. drift-dominated) and is added, twice, to
    the estimate. Otherwise, or when no flux is left or none reaches ``tol`` that way, Crank–Nicolson
    steps (half the coarsest grid's cells, doubling exactly with each level: the time error is
    extrapolated too); ``details["flux_choice"]["exact_time"]`` then says why.

    Every flux first runs on the two coarsest grids; the one whose answer moved least
    (:math:`|P_1 - P_0|/3`) is refined first, and the others join it only if its three-grid estimate
    is not validated (with exact time steps: on two levels in a row, the coarsest grids being often
    short of the asymptotic range in space alone; the four coarsest levels of every flux are then solved
    in one batch, which costs less than solving them as they are needed).
    Each round then assesses the fluxes in the running:

    - a validated estimate ≤ ``tol``: done, with the smallest such estimate;
    - else, if some estimates are validated, the flux expected to reach ``tol`` in the fewest
      refinements (the extrapolated error taken to fall 8-fold per level, the third-order
      remainder :func:`refinement_estimate` assumes) goes on alone;
    - else every flux is refined once more (the coarse grids are not in the asymptotic range).

    The finest grid may have at most ``opts["cells"]`` cells; beyond it a
    :class:`~gelav.errors.ConvergenceError` carries the history. The choice never looks at the
    process, only at the estimates; ``details["flux_choice"]`` records them, round by round.
    """
    from gelav.errors import ConvergenceError
    from gelav.fd.generator import FLUXES
    from gelav.forward import forward
    from gelav.processes.protocol import is_time_homogeneous

    t0 = time.perf_counter()
    tol = float(opts["tol"])
    budget = int(opts["cells"])
    fluxes = list(FLUXES if fluxes is None else fluxes)
    q = {"below": c} if below else {"above": c}
    nominal = 2.0  # Crank–Nicolson with Rannacher damping, space and time refined together; or space alone
    tail = min(1e-10, 0.01 * tol)  # the mass the domain may leave out: a small part of the tolerance
    n0 = TOL_START_CELLS
    n_levels = max(3, math.floor(math.log2(max(budget, n0) / n0)) + 1)
    domain = auto_domain(process, x0, horizon, include=[c], tail=tail)
    exact_first = is_time_homogeneous(process)
    grids = _nested_grids(process, x0, horizon, c, n0, tail, levels=4 if exact_first else 3, clip=True,
                          domain=domain)
    nested = grids is not None
    graded = nested and is_graded(grids)  # type: ignore[arg-type]
    far_lower = far_lower_end(process, grids) if grids is not None else "natural"

    def level(j: int) -> Any:
        """The nested grid of level ``j`` (the finer levels are built when they are needed)."""
        nonlocal grids
        assert grids is not None
        if j >= len(grids):
            grids = _nested_grids(process, x0, horizon, c, n0, tail, levels=j + 1, clip=True, domain=domain)
            assert grids is not None and len(grids) == j + 1
        return grids[j]

    def cells(j: int) -> int:
        return level(j).n_nodes - 1 if grids is not None else n0 * 2**j

    def steps(j: int) -> int:  # exactly doubling with the level (the time error is extrapolated too)
        return max(cells(0) // 2, 2) * 2**j

    if cells(2) > budget:
        raise ValueError(f"`cells` = {budget} is below the three coarsest grids of the search to `tol` "
                         f"({cells(0)}, {cells(1)}, {cells(2)} cells).")

    def search(exact: bool) -> tuple[str, str, int, dict[str, Any], Any]:
        """One search (exact time steps or Crank–Nicolson): ``(chosen, reason, top, state, history)``."""
        ps: dict[str, list[float]] = {f: [] for f in fluxes}
        runs: dict[Any, Any] = {}  # flux -> the latest run (stepping), (flux, level) -> its final masses (exact)
        caught: dict[str, list[Any]] = {}
        bounds: dict[str, list[float]] = {f: [] for f in fluxes}
        failed: dict[str, str] = {}

        def solve(f: str, j: int) -> None:
            with warnings.catch_warnings(record=True) as w:
                warnings.simplefilter("always")
                if grids is None:
                    d = forward(process, x0, horizon, n_cells=cells(j), n_steps=steps(j), include=[c], tail=tail,
                                flux=f)
                else:
                    d = forward(process, x0, horizon, grid=level(j), n_steps=steps(j), lower=far_lower, flux=f)
            ps[f].append(d.prob(**q))
            runs[f], caught[f] = d, list(w)

        def solve_exact(names: Sequence[str], js: Sequence[int]) -> list[str]:
            """The exact answers of the fluxes ``names`` on the levels ``js`` (one batch); the fluxes that fail."""
            from gelav.fd.expm import Chains, expm_chains
            from gelav.fd.generator import chained_bands

            gs = [level(j) for j in js]
            try:
                (sub, diag, sup), sizes = chained_bands(process, gs, names, lower=far_lower, upper="natural")
            except (ValueError, np.linalg.LinAlgError):
                if len(names) == 1:
                    raise
                lost = []
                for f in names:  # find the flux that cannot be built (SqRA rates overflowing ...)
                    try:
                        lost += solve_exact([f], js)
                    except (ValueError, np.linalg.LinAlgError) as exc:
                        failed[f] = str(exc)
                        lost.append(f)
                return lost
            n_g = len(gs)
            start = np.zeros(diag.size)  # the point mass on each grid, for each flux
            at, m0 = 0, []
            for g in gs:
                m0.append(_unit_mass(g, x0))
                start[at:at + g.n_nodes] = m0[-1]
                at += g.n_nodes
            if len(names) > 1:
                start[at:] = np.concatenate([start[:at]] * (len(names) - 1))
            ch = Chains(sub, diag, sup, sizes)
            y, bnd = expm_chains(ch, start, horizon)
            cdf = _cdfs(y, ch.starts, ch.sizes, [g.faces for g in gs], c, upper=not below)
            lost = []
            for i, (a, b) in enumerate(zip(ch.starts.tolist(), ch.ends.tolist(), strict=True)):
                f, j = names[i // n_g], i % n_g
                if f in lost:
                    continue
                if not bnd[i] <= TIME_ERROR_FRACTION * tol:
                    failed[f] = (f"time-error bound {bnd[i]:.3g} of the exponential on {gs[j].n_nodes - 1} cells "
                                 f"exceeds {TIME_ERROR_FRACTION:g} × tol (the bound is on the unit mass: a tol far below it, "
                                 f"or a chain far from detailed balance)")
                    lost.append(f)
                    continue
                pT = y[a:b]
                ps[f].append(max(cdf[i], 0.0))  # as Density.prob (an upper tail summed from the top: Density.sf)
                bounds[f].append(bnd[i])
                runs[f, js[j]] = _Final(pT[None, :], gs[j], m0[j])  # every level's (the next one may be solved ahead)
            return lost

        ran: list[str] = []
        if exact:  # the four coarsest levels of every flux in one batch: one LAPACK call costs less than two
            lost = solve_exact(fluxes, list(range(4 if n_levels > 3 and cells(3) <= budget else 3)))
            ran = [f for f in fluxes if f not in lost and f not in failed]
        else:
            for f in fluxes:
                try:
                    for j in range(2):
                        solve(f, j)
                    ran.append(f)
                except (ValueError, np.linalg.LinAlgError) as exc:  # e.g. SqRA rates overflowing at a huge Péclet number
                    failed[f] = str(exc)
        if not ran:
            raise MethodOmitted("no flux could be run on the grids of the search to `tol`: "
                                + "; ".join(f"{k}: {v}" for k, v in failed.items()))
        # screening on the two coarsest grids: the flux whose answer moved least (|P_1 - P_0| / 3, the second-order
        # estimate of the error on the finer one) is refined first; the others wait until its estimate fails
        screen = {f: abs(ps[f][1] - ps[f][0]) / (2**nominal - 1) for f in ran}
        first = min(ran, key=lambda f: (screen[f], fluxes.index(f)))
        alive, waiting = [first], [f for f in ran if f != first]
        history: list[dict[str, Any]] = [{"cells": [cells(0), cells(1)], "screening_estimates": screen,
                                          "decision": f"{first} is refined first (smallest screening estimate)"}]
        misses = 0  # rounds in a row without a validated estimate while fluxes wait
        top = 2

        def advance(names: list[str], upto: int) -> None:
            """Bring every flux of ``names`` to level ``upto`` (those that fail are dropped)."""
            if exact:
                need = {f: list(range(len(ps[f]), upto + 1)) for f in names}
                for js in {tuple(v) for v in need.values() if v}:
                    for f in solve_exact([f for f in names if tuple(need[f]) == js], list(js)):
                        names.remove(f)
                return
            for f in list(names):  # every flux in the running has its answers up to the current level
                try:
                    for j in range(len(ps[f]), upto + 1):
                        solve(f, j)
                except (ValueError, np.linalg.LinAlgError) as exc:
                    failed[f] = str(exc)
                    names.remove(f)

        while True:
            advance(alive, top)
            if not alive:
                if not waiting:
                    raise MethodOmitted("no flux could be run on the grids of the search to `tol`: "
                                        + "; ".join(f"{k}: {v}" for k, v in failed.items()))
                alive, waiting = waiting, []
                continue
            rnd: dict[str, Any] = {"cells": [cells(top - 2), cells(top - 1), cells(top)]}
            assessed: dict[str, tuple[float, float, float, float, bool, str, float]] = {}
            for f in alive:
                three = ps[f][top - 2:top + 1]
                ref = refinement_estimate(three, nested, nominal)
                try:
                    assessed[f] = _assess(three, ref, runs[f, top] if exact else runs[f], nested, graded, tail, c)
                except MethodOmitted as omitted:  # graded grids on which the answers do not converge (yet)
                    err = max(abs(three[2] - three[1]), ref.error) + 0.5 * tail
                    assessed[f] = (ref.value, err, ref.unextrapolated_error, ref.order, False, str(omitted), math.nan)
                value, err, unext, order, validated, why, res = assessed[f]
                remainder = math.nan
                if len(ps[f]) >= top + 1 >= 4:
                    # four answers: three pair extrapolations, whose own observed order checks the third-order
                    # remainder the estimate assumes (a time-dependent OU's converged like h^2.3: /7 was 2x optimistic)
                    pairs = [ps[f][j] + (ps[f][j] - ps[f][j - 1]) / (2**nominal - 1) for j in (top - 2, top - 1, top)]
                    rem = refinement_estimate(pairs, nested, nominal + 1.0)
                    remainder = rem.order
                    if rem.unextrapolated_error > err:
                        err = rem.unextrapolated_error
                if exact:  # the answers' time errors, at most their bounds, enter the extrapolation and its estimate
                    time_bound = max(bounds[f][top - 2:top + 1])
                    err += 2.0 * time_bound
                assessed[f] = (value, err, unext, order, validated, why, res)
                rnd[f] = {"probabilities": list(three), "value": value, "error_estimate": err,
                          "observed_order": order, "validated": validated}
                if exact:
                    rnd[f]["time_error_bound"] = time_bound
                if not math.isnan(remainder):
                    rnd[f]["remainder_order"] = remainder
                if why:
                    rnd[f]["not_validated"] = why
            history.append(rnd)
            # only a validated estimate may end the search: an unvalidated one can be small by accident (SqRA at
            # a cell Péclet number of 7 sent all the mass to the far end on every grid: answers agreeing to 1e-9, all 0)
            done = [f for f in alive if assessed[f][4] and assessed[f][1] <= tol]
            if done:
                chosen = min(done, key=lambda f: (assessed[f][1], fluxes.index(f)))
                reason = (f"validated error estimate {assessed[chosen][1]:.3g} <= tol on {cells(top)} cells"
                          + (f" (smallest of {', '.join(done)})" if len(done) > 1 else ""))
                return chosen, reason, top, {"assessed": assessed, "ps": ps, "runs": runs, "caught": caught,
                                             "failed": failed, "bounds": bounds}, history
            valid = [f for f in alive if assessed[f][4]]
            if not valid and waiting:  # the screening's pick has no validated estimate: the others join it
                misses += 1
                if not exact or misses >= 2:
                    rnd["decision"] = f"no validated estimate for {', '.join(alive)}: {', '.join(waiting)} join(s)"
                    alive, waiting = alive + waiting, []
                    continue
                rnd["decision"] = (f"no validated estimate for {', '.join(alive)} yet: refined once more before "
                                   f"{', '.join(waiting)} join(s)")
            else:
                waiting = []  # a validated estimate exists: the waiting fluxes are not needed
            if valid and len(alive) > 1:
                need = {f: max(1, math.ceil(math.log(assessed[f][1] / tol) / math.log(8.0))) for f in valid}
                best = min(valid, key=lambda f: (need[f], assessed[f][1], fluxes.index(f)))
                rnd["decision"] = (f"{best} goes on alone: validated estimate {assessed[best][1]:.3g}, about "
                                   f"{need[best]} more refinement(s) to tol")
                alive = [best]
            if top + 1 >= n_levels or cells(top + 1) > budget:
                raise ConvergenceError(
                    f"The PDE estimate did not reach tol={tol:g} within cells={budget} (last: "
                    + "; ".join(f"{f}: {assessed[f][1]:.3g} on {cells(top)} cells"
                                + ("" if assessed[f][4] else f" (not validated: {assessed[f][5] or 'observed order off'})")
                                for f in assessed)
                    + "); raise `cells` or `tol`.", history)
            top += 1
            if not exact:
                for f in alive:
                    solve(f, top)

    exact_note: dict[str, Any] | None = None
    exact_history: list[dict[str, Any]] = []
    result = None
    if exact_first and nested:
        try:
            result = search(True)
        except (MethodOmitted, ConvergenceError) as given_up:
            exact_history = list(getattr(given_up, "history", None) or [])
            exact_note = {"used": False, "reason": str(given_up), "rounds": exact_history}
    elif exact_first:
        exact_note = {"used": False, "reason": "no nested grids through x0 and the threshold"}
    else:
        exact_note = {"used": False, "reason": "the process is not time-homogeneous"}
    if result is None:
        try:
            result = search(False)
        except ConvergenceError as failure:
            if exact_note is not None and "rounds" in exact_note:  # the exponential was tried first
                cn_rounds: list[dict[str, Any]] = list(failure.history or [])  # type: ignore[call-overload]
                raise ConvergenceError(f"{failure} (with exact time steps first: {exact_note['reason']})",
                                       [{**r, "time_scheme": "expm"} for r in exact_history]
                                       + [{**r, "time_scheme": "cn"} for r in cn_rounds]) from None
            raise
        scheme = "cn"
    else:
        scheme = "expm"
    chosen, reason, top, state, history = result
    assessed, ps, runs, caught, failed = (state[k] for k in ("assessed", "ps", "runs", "caught", "failed"))
    value, err, unextrapolated_err, order, validated, why, resolution = assessed[chosen]
    if scheme == "expm":  # the Density of the chosen answer, with the diagnostics and warnings of a forward run
        from gelav.pde.forward import ForwardRun

        run = ForwardRun(process, x0, horizon, far_lower, "natural", None, 1e-10, 0.0, "expm", 0, None)
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            fine = run.exact_result(level(top), chosen, runs[chosen, top].masses[-1], state["bounds"][chosen][top],
                                    time.perf_counter(), runs[chosen, top].start)
        caught[chosen] = list(w)
    else:
        fine = runs[chosen]
    for w in caught[chosen]:  # the finest run's own warnings (mass loss ...), for the caller
        warnings.warn(w.message, w.category, stacklevel=4)
    details: dict[str, Any] = {
        "cells": cells(top), "steps": 1 if scheme == "expm" else steps(top), "scheme": scheme, "tol": tol,
        "flux": chosen,
        "unextrapolated": ps[chosen][top], "unextrapolated_error_estimate": unextrapolated_err,
        "mass_balance_error": fine.diagnostics["mass_balance_error"],
        "relative_error_estimate": err / abs(value) if value else math.inf,
        "observed_order": order, "nominal_order": nominal, "validated": validated, "nested_grids": nested,
        "resolution": resolution,
        "flux_choice": {"chosen": chosen, "reason": reason, "rounds": history, **({"failed": failed} if failed else {}),
                        **({"exact_time": exact_note} if exact_note is not None else {})},
        "_density": fine,
    }
    if scheme == "expm":
        details["time_error_bound"] = state["bounds"][chosen][top]
    if why:
        details["not_validated"] = why
    if tail < 1e-10:
        details["domain_tail"] = tail
    return MethodResult("pde", value, err, "error_estimate", time.perf_counter() - t0, details)


def check_mc_trust(process: ProcessLike) -> None:
    """Raise :class:`MethodOmitted` where Euler Monte Carlo cannot be trusted: no exact sampler and an
    attainable (regular or exit) end of the state space where σ² vanishes, which Euler steps overshoot."""
    if has_exact_law(process):
        return
    from gelav.fd.singular import end_kinds

    kinds = [k for k in end_kinds(process, domain_of(process)) if k is not None and k[0] in ("regular", "exit")]
    if kinds:
        raise MethodOmitted(
            f"Euler Monte Carlo cannot be trusted here: the state space has an attainable "
            f"{kinds[0][0]} end where σ² vanishes, which Euler steps overshoot (no exact sampler)")


#: a spread σ(x0)√T below this fraction of max(|x0|, |c|) is within a few thousand ulps of the states: paths
#: and lattice nodes cannot resolve the threshold there (:func:`check_spread_resolved`)
SPREAD_RESOLUTION = 1e-12


def check_unvalidated_upwinding(process: ProcessLike, grid: Any, x0: float, what: str) -> None:
    """Raise :class:`MethodOmitted` for an unvalidated PDE estimate where the flux upwinds at the start (cell
    Péclet number above :data:`gelav.fd.generator.PECLET_WARNING`): there it is no estimate (an OU from 1000:
    0.4949 "~ 5.5e-3" for 0.5145, the error 3.5 times the estimate). ``what`` says what is not validated."""
    from gelav.fd.generator import PECLET_WARNING, cell_peclet

    z = cell_peclet(process, grid, 0.0, x0)
    if PECLET_WARNING < z < math.inf:
        raise MethodOmitted(f"the grids do not resolve this drift-dominated problem: the cell Péclet number at x0 "
                            f"is {z:.3g} (the flux upwinds there) and {what}; ask for a tolerance (tol=, --tol)")


def check_spread_resolved(process: ProcessLike, x0: float, horizon: float, c: float, method: str) -> None:
    """Raise :class:`MethodOmitted` where the law at ``horizon`` straddles the threshold with a spread
    below floating-point resolution at the states: e.g. T = 1e-300, x0 = c, where P = 1/2 but every path
    ends at x0 to the bit (X_T < c false: Monte Carlo and the lattice said 0). The PDE and the analytic
    law work with the spread itself and are unaffected."""
    scale = max(abs(x0), abs(c))
    if scale == 0.0:
        return
    sd = abs(float(np.asarray(process.diffusion(0.0, np.array([x0])), dtype=float).ravel()[0])) * math.sqrt(horizon)
    if not math.isfinite(sd) or sd >= SPREAD_RESOLUTION * scale:
        return
    if abs(x0 - c) <= 40.0 * sd + SPREAD_RESOLUTION * scale:
        raise MethodOmitted(
            f"{method} cannot resolve this question: the spread at T, σ(x0)√T = {sd:.2g}, is below "
            f"{SPREAD_RESOLUTION:g} of the states (|x0|, |c| up to {scale:.3g}), where the states are rounded; "
            "the threshold lies within it")


def _mc(process: ProcessLike, x0: float, horizon: float, c: float, below: bool, opts: dict[str, Any]) -> MethodResult:
    from gelav.montecarlo import stress_probability

    check_mc_trust(process)
    check_spread_resolved(process, x0, horizon, c, "Monte Carlo")
    t0 = time.perf_counter()
    n = int(opts.get("paths", 1_000_000))
    e = stress_probability(process, x0, horizon, c, below=below, n_paths=n, seed=opts.get("seed"))
    scheme = "exact" if has_exact_law(process) else "euler"
    details: dict[str, Any] = {"paths": n, "scheme": scheme}
    if e.kind == "bound":  # no path hit: the error is the one-sided 95 % upper bound
        details["upper_bound_95"] = float(e.stderr)
    return MethodResult("mc", float(e.value), float(e.stderr), "bound" if e.kind == "bound" else "stderr",
                        time.perf_counter() - t0, details)


def _lattice(process: ProcessLike, x0: float, horizon: float, c: float, below: bool, opts: dict[str, Any]) -> MethodResult:
    from gelav.lattice import stress_probability

    check_spread_resolved(process, x0, horizon, c, "the lattice")
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


def run_method(name: str, process: ProcessLike, x0: float, horizon: float, c: float, below: bool,
               opts: dict[str, Any]) -> MethodResult:
    """``METHODS[name](...)``, its probability kept in [0, 1]: an estimate outside by less than its error is
    the end point (σ = 1e-308 printed P = −1.1e-157 "~ 2.1e-80"), by more a :class:`MethodOmitted`."""
    r = METHODS[name](process, x0, horizon, c, below, opts)
    p = r.probability
    if 0.0 <= p <= 1.0 or not math.isfinite(p):
        return r
    end = 0.0 if p < 0.0 else 1.0
    if abs(p - end) > r.error:
        raise MethodOmitted(f"its estimate {p:.4g} lies outside [0, 1] by more than its error {r.error:.2g}")
    r.details["outside_unit_interval"] = p
    return MethodResult(r.method, end, r.error, r.error_kind, r.seconds, r.details)


def default_methods(process: ProcessLike, methods: Sequence[str] | None) -> list[str]:
    """The methods to run: ``methods`` checked against :data:`METHODS`, or every one that applies
    (``analytic`` and ``mc`` need the exact law)."""
    if methods is None:
        methods = [m for m in METHODS if m != "analytic" or has_exact_law(process)]
        if not has_exact_law(process):
            methods = [m for m in methods if m != "mc"]
    methods = list(methods)
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise ValueError(f"Unknown method(s) {', '.join(map(repr, unknown))}; registered methods are {', '.join(METHODS)}.")
    if not methods:
        raise ValueError("`methods` is empty.")
    return methods


def resolve_fit(process: ProcessLike | None, fit: Any) -> tuple[ProcessLike, FitParameters | None]:
    """``(process, FitParameters or None)``: the fitted process when ``process`` is None; a ``ValueError``
    when both are given and disagree (the band is about the fit's parameters)."""
    if fit is None:
        if process is None:
            raise TypeError("`process` is required unless `fit` is given.")
        return process, None
    from gelav.stress_band import read_fit

    fp = read_fit(fit)
    fitted = fp.process()
    if process is None:
        return fitted, fp
    same = type(process) is type(fitted) and all(
        math.isclose(float(v), float(params_of(fitted)[k]), rel_tol=1e-12, abs_tol=0.0)
        for k, v in params_of(process).items())
    if not same:
        raise ValueError(f"`process` {process!r} is not the fitted {fitted!r}: the band is about the fit's "
                         "parameters; pass process=None to use the fitted process.")
    return process, fp


def stress_options(process: ProcessLike, direction: str, methods: Sequence[str] | None, paths: Any, seed: SeedLike,
                   cells: Any, steps: Any, levels: Sequence[float] | None, *, draws: Any = 1000,
                   band_level: Any = None) -> tuple[list[str], dict[str, Any]]:
    """The checked settings :func:`stress_test` and :func:`~gelav.stress_table.stress_table` share:
    ``(methods, opts)`` with ``opts`` the ``paths``, ``seed``, ``cells``, ``levels`` (and ``steps``)
    every method reads; errors name the argument. ``draws`` and ``band_level`` (read only with a fit) are
    checked too, so that a bad value is an error with or without one."""
    from gelav._tail import check_levels

    check_int("draws", draws, minimum=20, maximum=MAX_CELLS)
    if band_level is not None and not 0.0 < check_finite("band_level", band_level) < 1.0:
        raise ValueError(f"`band_level` must lie in (0, 1), got {band_level!r}.")

    paths = check_int("paths", paths, minimum=100, maximum=MAX_CELLS)
    cells = check_int("cells", cells, minimum=16, maximum=MAX_CELLS)
    if isinstance(seed, (bool, float, str, int, np.integer)):  # an integer seed >= 0 (SeedSequence: as is)
        seed = check_int("seed", seed, minimum=0)
    if direction not in ("below", "above"):
        raise ValueError(f"`direction` must be 'below' or 'above', got {direction!r}.")
    methods = default_methods(process, methods)
    opts: dict[str, Any] = {"paths": paths, "seed": seed, "cells": cells, "levels": check_levels(levels)}
    if steps is not None:
        opts["steps"] = check_int("steps", steps, minimum=2)
    return methods, opts


def stress_test(
    process: ProcessLike | None,
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
    levels: Sequence[float] | None = None,
    fit: Any = None,
    draws: int = 1000,
    band_level: float | None = None,
    tol: float | None = None,
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
    levels : sequence of float, optional
        Confidence levels in (0, 1) of the value at risk and expected shortfall of
        :math:`X_T` (``StressResult.tail``), from the exact law (``analytic``) and the
        PDE density (``pde``, with refinement error estimates); the tail side follows
        ``direction`` (``"below"``: the lower tail, see :mod:`gelav._tail`).
    fit : calibration result, path or mapping, optional
        A calibration with the covariance of its estimates (an ``OUFit``/``CIRFit``/
        ``GBMFit``, or the file ``gelav calibrate --save FIT.toml`` writes): adds
        ``StressResult.band``, the probability's confidence band from the parameters'
        uncertainty (parametric bootstrap, delta method as a check; see
        :func:`gelav.stress_band.stress_band`). ``process`` may then be None (the fitted
        process).
    draws, band_level : int, float
        Bootstrap draws (default 1000) and the band's level (default the fit's, 0.95);
        the draws are seeded from ``seed``.
    tol : float, optional
        An absolute tolerance for the ``pde`` method: instead of three fixed grids, nested
        grids from 16 cells are refined, and the flux (Scharfetter–Gummel or the square-root
        approximation, :data:`gelav.fd.generator.FLUXES`) chosen, until the error estimate is
        at most ``tol`` (:func:`_pde_to_tolerance`); the answers are exact in time
        (:mod:`gelav.fd.expm`) for a time-homogeneous process where the exponential's error
        bound allows, Crank–Nicolson steps otherwise (``details["scheme"]``). ``cells`` is then
        the largest grid allowed (:class:`~gelav.errors.ConvergenceError` beyond it) and
        ``steps`` must not be given. ``results["pde"].details["flux_choice"]`` explains the choice.

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
    process, fp = resolve_fit(process, fit)
    x0 = check_finite("x0", x0, maximum=MAX_STATE)  # levels beyond 1e12 overflow the coefficients' squares
    horizon = check_horizon("horizon", horizon)
    threshold = check_finite("threshold", threshold, maximum=MAX_STATE)
    methods, opts = stress_options(process, direction, methods, paths, seed, cells, steps, levels, draws=draws,
                                   band_level=band_level)
    if tol is not None:
        tol = check_finite("tol", tol)
        if not 0.0 < tol < 1.0:
            raise ValueError(f"`tol` must lie in (0, 1) (an absolute error of a probability), got {tol!r}.")
        if steps is not None:
            raise ValueError("Give `steps` or `tol`, not both: with `tol` the steps follow the grids (cells / 2).")
        opts["tol"] = tol
    below = direction == "below"
    results: dict[str, MethodResult] = {}
    density = None
    omitted: dict[str, str] = {}
    for name in methods:
        try:
            r = run_method(name, process, x0, horizon, threshold, below, opts)
        except MethodOmitted as why:
            omitted[name] = str(why)
            continue
        if "_density" in r.details:
            density = r.details.pop("_density")
        results[name] = r
    tail: dict[str, dict[float, dict[str, float]]] = {}
    if opts["levels"]:
        from gelav.stress_table import scalar_tail

        tail = scalar_tail(process, x0, horizon, threshold, below, opts, methods)
    inputs = {"process": type(process).__name__, **params_of(process), "x0": x0, "horizon": horizon,
              "threshold": threshold, "direction": direction}
    band = None
    if fp is not None:
        from gelav.stress_band import band_seed, stress_band

        band = stress_band(fp, x0, horizon, threshold, direction=direction, draws=draws, seed=band_seed(seed),
                           level=band_level, cells=cells)
    return StressResult(inputs=inputs, results=results, density=density, tail=tail, band=band, omitted=omitted)



def __getattr__(name: str) -> Any:
    """The grid version lives in :mod:`gelav.stress_table` (it uses the helpers above)."""
    if name in ("MethodTable", "StressTable", "stress_table"):
        import gelav.stress_table as table

        return getattr(table, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
