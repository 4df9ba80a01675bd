r"""Rates of the generator near a singular end: the scale–speed chain.

Where the diffusion degenerates at an end :math:`L` of the state space
(:math:`\sigma^2(L) = 0`: CIR at 0, Jacobi at 0 and 1, GBM at 0), the density
behaves like a power of :math:`x - L` that the locally frozen
Scharfetter–Gummel flux of :func:`gelav.fd.generator.fitted_rates` cannot
represent: for CIR without the Feller condition (density
:math:`\sim x^{2\kappa\theta/\sigma^2 - 1}`) the answers then converge at
order :math:`\approx 2\kappa\theta/\sigma^2` instead of 2. The generator is
then built from the process's scale density and speed density,

.. math::

    s'(x) = \exp\Big(-\int^x \frac{2b}{\sigma^2}\Big), \qquad m(x) = \frac{2}{\sigma^2(x)\,s'(x)},
    \qquad \mathcal{L}u = \frac{1}{m}\,\frac{d}{dx}\Big(\frac{1}{s'}\frac{du}{dx}\Big),

as the birth–death chain with the exact cell integrals

.. math::

    q_{i,i+1} = \frac{1}{\Delta S_i\,M_i}, \quad q_{i+1,i} = \frac{1}{\Delta S_i\,M_{i+1}}, \qquad
    \Delta S_i = \int_{x_i}^{x_{i+1}} s', \quad M_i = \int_{V_i} m .

Its error is a pure flux error (the speed masses :math:`M_i` are exact), so on
a grid graded towards the end (:meth:`gelav.fd.grid.Grid.graded`) it is second
order. In the end cell the integrands are :math:`(x - L)^{\gamma}` times a
smooth function, with :math:`\beta = \lim (x - L)\,2b/\sigma^2` and
:math:`\alpha = \lim d\ln\sigma^2/d\ln(x - L)` measured from the
coefficients; Gauss–Jacobi quadrature integrates them. The end's behaviour is
then the Feller one, with no choice to make: a regular end (finite
:math:`\Delta S_0` and :math:`M_0`) reflects instantaneously (the law CIR's
non-central :math:`\chi^2` describes), an exit end (:math:`M_0 = \infty`) is
absorbing, an entrance end (:math:`\Delta S_0 = \infty`) is never entered.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from gelav.fd.grid import Grid
from gelav.processes.protocol import domain_of

if TYPE_CHECKING:
    from gelav.processes.protocol import ProcessLike

__all__ = [
    "EndExponents",
    "coefficients",
    "end_exponents",
    "end_kinds",
    "feller_kind",
    "graded_ends",
    "integral_of_2b_over_a",
    "log_scale_ends",
    "scale_speed_rates",
    "singular_ends",
]

_GL = np.polynomial.legendre.leggauss(8)


class EndExponents(tuple):  # type: ignore[type-arg]
    """``(alpha, beta)``: :math:`\\sigma^2 \\sim (x-L)^\\alpha` and :math:`2b/\\sigma^2 \\sim \\beta/(x-L)`."""

    @property
    def alpha(self) -> float:
        return float(self[0])

    @property
    def beta(self) -> float:
        return float(self[1])


def coefficients(
    process: ProcessLike, t: float, y: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """``(σ², b)`` at the points ``y`` (broadcast to their shape; non-finite values left for the caller)."""
    with np.errstate(all="ignore"):
        a = np.asarray(process.variance_rate(t, y), dtype=float) * np.ones_like(y)
        b = np.asarray(process.drift(t, y), dtype=float) * np.ones_like(y)
    return a, b


def feller_kind(ex: EndExponents) -> str:
    r"""Feller class of a power-law end from its exponents (:math:`\sigma^2 \sim d^\alpha`, :math:`2b/\sigma^2 \sim \beta/d`).

    Scale :math:`s' \sim d^{-\beta}`, speed :math:`m \sim d^{\beta-\alpha}`: the scale is finite iff
    :math:`\beta < 1`, the speed mass iff :math:`\beta - \alpha > -1`, and
    :math:`\int (s - s(L))\,m` (or :math:`\int s\,m`) is finite iff :math:`\alpha < 2`.
    """
    if ex.alpha >= 2.0 - 1e-9:
        return "natural"
    # beta is read at a distance 1e-10 of the width: CIR with 2κθ/σ² = 1 measures 1 - 1e-10 (entrance)
    if ex.beta < 1.0 - 1e-7:
        return "regular" if ex.beta - ex.alpha > -1.0 else "exit"
    return "entrance"


def end_kinds(
    process: ProcessLike, grid: Grid | tuple[float, float], t: float = 0.0
) -> tuple[tuple[str, EndExponents] | None, tuple[str, EndExponents] | None]:
    r"""Per end of ``grid`` (or of an interval): ``(Feller kind, exponents)`` when it is an end of the
    state space where :math:`\sigma^2` vanishes (or the coefficients blow up), else ``None``."""
    lo, hi = domain_of(process)
    out: list[tuple[str, EndExponents] | None] = []
    g_lo, g_hi = (
        (grid.lower, grid.upper) if isinstance(grid, Grid) else (float(grid[0]), float(grid[1]))
    )
    width = g_hi - g_lo if math.isfinite(g_hi - g_lo) else 1.0
    for x, end, inward in ((g_lo, lo, 1.0), (g_hi, hi, -1.0)):
        if not (math.isfinite(end) and abs(x - end) <= 1e-12 * max(1.0, abs(end))):
            out.append(None)
            continue
        a, b = coefficients(process, t, np.array([x]))
        if np.isfinite(a[0]) and np.isfinite(b[0]) and a[0] > 0.0:
            out.append(None)
            continue
        try:
            ex = end_exponents(process, x, inward, width, t)
        except CoefficientUnderflow:
            raise
        except ValueError:
            ex = EndExponents((math.nan, math.nan))
        out.append((feller_kind(ex) if math.isfinite(ex.alpha) else "natural", ex))
    return out[0], out[1]


def singular_ends(
    process: ProcessLike, grid: Grid | tuple[float, float], t: float = 0.0
) -> tuple[bool, bool]:
    r"""Which ends of ``grid`` are non-natural singular ends of the state space (σ² vanishes there).

    True for an end of the state space where :math:`\sigma^2 = 0` whose Feller class
    (:func:`feller_kind`) is regular, exit or entrance: there the density or the
    value behaves like a power of the distance that the fitted flux cannot follow.
    A natural end (GBM at 0) keeps the fitted flux.
    """
    k = end_kinds(process, grid, t)
    return (k[0] is not None and k[0][0] != "natural"), (k[1] is not None and k[1][0] != "natural")


def log_scale_ends(
    process: ProcessLike, grid: Grid | tuple[float, float], t: float = 0.0
) -> tuple[bool, bool]:
    r"""Natural singular ends with :math:`\sigma^2 \sim d^{\alpha}`, :math:`\alpha \ge 2` (GBM at 0): the law
    spreads over decades towards them, so grids there are logarithmic (:meth:`Grid.logarithmic`)."""
    k = end_kinds(process, grid, t)
    return tuple(  # type: ignore[return-value]
        e is not None
        and e[0] == "natural"
        and math.isfinite(e[1].alpha)
        and e[1].alpha >= 2.0 - 1e-9
        for e in k
    )


def graded_ends(
    process: ProcessLike, interval: Grid | tuple[float, float], t: float = 0.0
) -> tuple[bool, bool]:
    r"""The singular ends (:func:`singular_ends`) at which the speed density :math:`m \sim d^{\beta-\alpha}`
    is not twice differentiable (:math:`\beta - \alpha < 2`): there a uniform grid loses order
    (CIR with :math:`2\kappa\theta/\sigma^2 = 1.1`: order 1.25) and the default grid is graded."""
    sing = singular_ends(process, interval, t)
    if not any(sing):
        return sing
    g_lo, g_hi = (interval.lower, interval.upper) if isinstance(interval, Grid) else interval
    width = float(g_hi) - float(g_lo)
    out = []
    for flag, x, inward in ((sing[0], float(g_lo), 1.0), (sing[1], float(g_hi), -1.0)):
        if not flag:
            out.append(False)
            continue
        ex = end_exponents(process, x, inward, width, t)
        out.append(ex.beta - ex.alpha < 2.0)
    return out[0], out[1]


class CoefficientUnderflow(ValueError):
    """The coefficients underflow near a singular end: the state's units are too small for floats."""


def end_exponents(
    process: ProcessLike, end: float, inward: float, width: float, t: float = 0.0
) -> EndExponents:
    r"""Local exponents of :math:`\sigma^2` and of :math:`2b/\sigma^2` at the end ``end``.

    ``inward`` is +1 at a lower end, -1 at an upper end; ``width`` a length scale
    of the grid. Measured at distances :math:`10^{-9}` and :math:`10^{-10}` of
    ``width`` (exact for the power laws of CIR, Jacobi and GBM), or at
    :math:`10^{-6}`, :math:`10^{-3}` where :math:`\sigma^2` underflows closer in;
    :class:`CoefficientUnderflow` where it underflows there too.
    """
    for rel in (1e-9, 1e-6, 1e-3):
        d = width * np.array([rel, 0.1 * rel])
        a, b = coefficients(process, t, end + inward * d)
        if not (np.all(np.isfinite(a)) and np.all(a >= 0) and not np.all(a >= np.finfo(float).tiny)):
            break
    else:
        # σ² underflows even at 1e-4 of the width from the end (GBM on a width of 1e-170): its power law
        # cannot be read, and calling the end natural would be a guess
        raise CoefficientUnderflow(
            f"σ² underflows near the singular end x={end:g} (at {d[1]:.3g} from it, within the grid's width "
            f"{width:.3g}): express the state in larger units (rescale it).")
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        alpha = float(np.log(a[0] / a[1]) / np.log(d[0] / d[1]))
        beta = float(inward * 2.0 * b[1] * d[1] / a[1])
    if not (math.isfinite(alpha) and math.isfinite(beta)):
        raise ValueError(
            f"Cannot read the local behaviour of the coefficients at the singular end x={end:g}."
        )
    return EndExponents((round(alpha, 6), beta))


def _B(process: ProcessLike, t: float, y: NDArray[np.float64]) -> NDArray[np.float64]:
    a, b = coefficients(process, t, y)
    return 2.0 * b / a


def integral_of_2b_over_a(
    process: ProcessLike, t: float, lo: NDArray[np.float64], hi: NDArray[np.float64]
) -> NDArray[np.float64]:
    """:math:`\\int_{lo}^{hi} 2b/\\sigma^2` by 8-point Gauss–Legendre (elementwise, regular integrands)."""
    z, w = _GL
    mid, half = 0.5 * (hi + lo), 0.5 * (hi - lo)
    y = mid[..., None] + half[..., None] * z
    return np.asarray((_B(process, t, y) * w).sum(axis=-1) * half)


def _regular_integrals(
    process: ProcessLike,
    t: float,
    r: NDArray[np.float64],
    lo: NDArray[np.float64],
    hi: NDArray[np.float64],
    sign: float,
) -> NDArray[np.float64]:
    r"""Logarithms of ``sign=-1``: :math:`\int_{lo}^{hi} e^{-I(r,y)}dy`; ``sign=+1``:
    :math:`\int_{lo}^{hi} (2/\sigma^2) e^{I(r,y)}dy` (in logs: a strong drift across a cell
    makes :math:`e^{\pm I}` overflow while the rates stay finite)."""
    z, w = _GL
    mid, half = 0.5 * (hi + lo), 0.5 * (hi - lo)
    y = mid[..., None] + half[..., None] * z
    at_lo, at_hi = r == lo, r == hi
    if np.all(at_lo | at_hi):
        # I(r, y_k) from one pass: 2-point Gauss on the 9 pieces between lo, the nodes and hi, summed
        edges = np.concatenate((lo[..., None], y, hi[..., None]), axis=-1)
        a_, b_ = edges[..., :-1], edges[..., 1:]
        zm, hw = 0.5 * (a_ + b_), 0.5 * (b_ - a_)
        g = 1.0 / math.sqrt(3.0)
        pieces = (_B(process, t, zm - g * hw) + _B(process, t, zm + g * hw)) * hw
        cum = np.cumsum(pieces, axis=-1)
        inner = cum[..., :-1] - np.where(at_lo, 0.0, cum[..., -1])[..., None]
    else:  # a reference inside the interval: nested Gauss-Legendre
        inner = integral_of_2b_over_a(process, t, np.broadcast_to(r[..., None], y.shape), y)
    if sign < 0:
        lf = -inner
    else:
        a, _ = coefficients(process, t, y)
        with np.errstate(divide="ignore"):
            lf = np.log(2.0 / a) + inner
    with np.errstate(divide="ignore"):  # an empty interval (lo = hi): the integral is 0, its logarithm -inf
        return np.log(half) + _logsumexp(lf + np.log(w))


def _logsumexp(v: NDArray[np.float64]) -> NDArray[np.float64]:
    r""":math:`\ln\sum_k e^{v_k}` over the last axis, without overflow."""
    m = np.max(v, axis=-1)
    m_safe = np.where(np.isfinite(m), m, 0.0)
    with np.errstate(divide="ignore"):
        return np.asarray(m_safe + np.log(np.sum(np.exp(v - m_safe[..., None]), axis=-1)))


def _end_integral(
    process: ProcessLike,
    t: float,
    L: float,
    inward: float,
    r: float,
    y1: float,
    ex: EndExponents,
    sign: float,
) -> float:
    r"""The logarithm of the same integrals over the end interval between ``L`` and ``y1`` (reference ``r``),
    singular at ``L``.

    With :math:`2b/\sigma^2 = \beta/(x-L) + R` and :math:`\sigma^2 = (x-L)^\alpha A`, the integrand is
    :math:`(x-L)^\gamma` times a smooth factor: Gauss–Jacobi with that weight; ``inf`` when
    :math:`\gamma \le -1`.
    """
    from scipy.special import roots_jacobi

    beta, alpha = ex.beta, ex.alpha
    gamma = -beta if sign < 0 else beta - alpha
    if gamma <= -1.0 + 1e-9:
        return math.inf
    w_len = abs(y1 - L)
    dr = abs(r - L)
    zj, wj = roots_jacobi(12, 0.0, gamma)  # weight (1 + z)^gamma on [-1, 1]
    u = 0.5 * (zj + 1.0) * w_len  # distance from L
    y = L + inward * u
    # ∫ from y to r of R = B - beta/(x - L) (bounded), in the direction away from L
    z, w = _GL
    lo_d, hi_d = u[:, None], np.full((u.size, 1), dr)
    mid, half = 0.5 * (hi_d + lo_d), 0.5 * (hi_d - lo_d)
    dd = mid + half * z
    R = inward * _B(process, t, L + inward * dd) - beta / dd
    int_R = (R * w).sum(axis=1) * half[:, 0]  # ∫_{u}^{dr} R in distance, B oriented inwards
    # I(r, y) = ∫_r^y B dx; along the inward distance d: B dx = inward·B dd, so ∫_r^y = -(beta ln(dr/u) + int_R)
    if sign < 0:  # e^{-I} = (dr/u)^beta e^{int_R}; weight u^{-beta}
        ln_smooth = beta * math.log(dr) + int_R
    else:  # (2/a) e^{I}: a = u^alpha A; e^{I} = (u/dr)^beta e^{-int_R}; weight u^{beta-alpha}
        a, _ = coefficients(process, t, y)
        ln_smooth = np.log(2.0 * u**alpha / a) - beta * math.log(dr) - int_R
    return float((gamma + 1.0) * math.log(0.5 * w_len) + _logsumexp(ln_smooth + np.log(wj)))


def _log_rates(process: ProcessLike, grid: Grid, t: float,
               ends: tuple[bool, bool]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Logs of the rates ``q_{i,i+1}`` and ``q_{i+1,i}`` of :func:`scale_speed_rates`."""
    x, f = grid.nodes, grid.faces
    n = x.size
    width = grid.upper - grid.lower
    # reference point of each node's speed mass and each cell's scale increment
    ref_node = x.copy()
    ref_cell = x[:-1].copy()
    if ends[0]:
        ref_node[0] = x[1]
        ref_cell[0] = x[1]
    if ends[1]:
        ref_node[-1] = x[-2]
    # logs of the scale increments ΔS_i relative to s'(ref_cell)
    dS = np.empty(n - 1)
    reg = np.ones(n - 1, dtype=bool)
    if ends[0]:
        reg[0] = False
    if ends[1]:
        reg[-1] = False
    dS[reg] = _regular_integrals(process, t, ref_cell[reg], x[:-1][reg], x[1:][reg], -1.0)
    # logs of the speed masses M_j relative to 1/s'(ref_node): two half cells each
    M = np.zeros(n)
    left, right = f[:-1], f[1:]
    regn = np.ones(n, dtype=bool)
    if ends[0]:
        regn[0] = False
    if ends[1]:
        regn[-1] = False
    idx = np.nonzero(regn)[0]
    M[idx] = np.logaddexp(
        _regular_integrals(process, t, ref_node[idx], left[idx], x[idx], 1.0),
        _regular_integrals(process, t, ref_node[idx], x[idx], right[idx], 1.0),
    )
    if ends[0]:
        ex = end_exponents(process, x[0], 1.0, width, t)
        dS[0] = _end_integral(process, t, x[0], 1.0, x[1], x[1], ex, -1.0)
        M[0] = _end_integral(process, t, x[0], 1.0, x[1], f[1], ex, 1.0)
    if ends[1]:
        ex = end_exponents(process, x[-1], -1.0, width, t)
        # cell n-2 between x[-2] and the end, referenced at x[-2]
        dS[-1] = _end_integral(process, t, x[-1], -1.0, x[-2], x[-2], ex, -1.0)
        M[-1] = _end_integral(process, t, x[-1], -1.0, x[-2], f[-2], ex, 1.0)
    # q_{i,i+1} = s'(ref_node_i)/(s'(ref_cell_i) dS_i M_i); q_{i+1,i} = s'(ref_node_{i+1})/(s'(ref_cell_i) dS_i M_{i+1})
    shift_up = -integral_of_2b_over_a(process, t, ref_cell, ref_node[:-1])  # ln s'(ref_node_i) - ln s'(ref_cell_i)
    shift_dn = -integral_of_2b_over_a(process, t, ref_cell, ref_node[1:])
    # an infinite ΔS or M (entrance / exit end): rate 0
    return shift_up - dS - M[:-1], shift_dn - dS - M[1:]


def scale_speed_rates(
    process: ProcessLike, grid: Grid, t: float = 0.0, ends: tuple[bool, bool] | None = None
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    r"""Padded rate bands ``(sub, sup)`` of the scale–speed chain on ``grid`` (reflecting; see the module).

    ``sub[i] = q_{i,i-1}``, ``sup[i] = q_{i,i+1}``. ``ends`` marks singular ends
    (default :func:`singular_ends`); their end cells are integrated with the
    measured exponents, and an infinite integral gives a zero rate.
    """
    if ends is None:
        ends = singular_ends(process, grid, t)
    # over/underflow on the way (coefficients of the size of subnormals: CIR with κ = 1e-308) ends as a
    # NaN or huge log rate, refused below with its reason, not as a RuntimeWarning
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        ln_up, ln_dn = _log_rates(process, grid, t, ends)
    n = grid.nodes.size
    sup = np.zeros(n)
    sub = np.zeros(n)
    if (
        np.any(np.isnan(ln_up))
        or np.any(np.isnan(ln_dn))
        or max(np.max(ln_up), np.max(ln_dn)) > 700.0
    ):
        raise ValueError(
            "The scale–speed rates at the singular end are not finite on this grid "
            "(coefficients not finite, or a drift too strong for the cells); refine the grid."
        )
    sup[:-1] = np.exp(ln_up)
    sub[1:] = np.exp(ln_dn)
    return sub, sup
