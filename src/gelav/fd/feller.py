r"""Feller's boundary test by integration, for any end: finite or infinite.

For :math:`dX = b\,dt + \sigma\,dW` with scale density and speed density

.. math::

    s'(y) = \exp\Big(-\int_c^y \frac{2b}{\sigma^2}\Big), \qquad m(y) = \frac{2}{\sigma^2(y)\,s'(y)},

an end :math:`l` (approached from an interior point :math:`c`) is classified by
the four integrals (Karlin & Taylor, *A Second Course in Stochastic Processes*,
§15.6)

.. math::

    S = \int_l^c s', \quad M = \int_l^c m, \quad
    \Sigma = \int_l^c S(l, \xi]\,m(\xi)\,d\xi, \quad N = \int_l^c M(l, \xi]\,s'(\xi)\,d\xi :

regular (:math:`S, M < \infty`), exit (:math:`\Sigma < \infty = M`), entrance
(:math:`\Sigma = \infty > N`), natural (:math:`\Sigma = N = \infty`). At an
infinite end an exit is an explosion in finite time (:math:`dX = X^2dt + dW`),
an entrance a process that comes down from infinity (:math:`dX = -X^3dt + dW`);
OU, Brownian motion, GBM and CIR have natural infinite ends.

The integrals are taken on points geometric in the distance to a finite end
(down to :math:`10^{-13}` of :math:`|c - l|`) or from :math:`c` towards an
infinite one (up to :math:`10^{8}` times the scale), in logarithms: each cell
integrates :math:`e^{f}` with :math:`f` linear across it (exact for the
exponential tails of the scale and speed densities), and the nested integrals
are carried as :math:`S(l,\xi]/s'(\xi)` and :math:`M(l,\xi]\,s'(\xi)` by a
recursion over the cells, so that only differences of :math:`\ln s'` between
neighbouring points enter (at :math:`10^{8}`, :math:`\ln s'` of an OU process is
:math:`\sim 10^{16}`). An integral is finite when its contribution per decade
shrinks geometrically (a divergent one grows, or shrinks by less than a factor
0.85 per decade). :func:`gelav.fd.singular.feller_kind` classifies the ends
whose coefficients follow power laws from their exponents; this test serves the
others, and the two agree where both apply (``tests/test_feller_classes.py``).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
from numpy.typing import NDArray

from gelav.fd.singular import coefficients, integral_of_2b_over_a

if TYPE_CHECKING:
    from gelav.processes.protocol import ProcessLike

__all__ = ["FellerIntegrals", "explosive_ends", "feller_integrals"]

#: decades of the distance to a finite end, and of the distance from the start towards an infinite one
DECADES_FINITE = 13
DECADES_INFINITE = 8
#: points per decade
PER_DECADE = 60
#: a decade's contribution shrinking by less than this factor reads as divergence
SHRINK = 0.85


class FellerIntegrals(NamedTuple):
    """Which of the four Feller integrals of an end are finite, and the end's ``kind``."""

    scale_finite: bool
    speed_finite: bool
    sigma_finite: bool
    n_finite: bool

    @property
    def kind(self) -> str:
        """``"regular"``, ``"exit"``, ``"entrance"`` or ``"natural"``."""
        if self.scale_finite and self.speed_finite:
            return "regular"
        if self.sigma_finite:
            return "exit"
        return "entrance" if self.n_finite else "natural"


def _log_phi(z: NDArray[np.float64]) -> NDArray[np.float64]:
    r""":math:`\ln\big((e^z - 1)/z\big)`, stable for every real :math:`z`."""
    out = 0.5 * z  # |z| small
    big = np.abs(z) > 1e-8
    zb = z[big]
    with np.errstate(divide="ignore"):
        out[big] = np.where(zb > 0, zb + np.log(-np.expm1(-np.abs(zb))) - np.log(np.abs(zb)),
                            np.log(-np.expm1(-np.abs(zb))) - np.log(np.abs(zb)))
    return out


def _log_cells(f: NDArray[np.float64], h: NDArray[np.float64]) -> NDArray[np.float64]:
    r"""Per cell, :math:`\ln\int e^{f}` with :math:`f` linear between the end values (``h``: cell lengths)."""
    f0, f1 = f[:-1], f[1:]
    with np.errstate(invalid="ignore"):
        dz = f1 - f0
    ok = np.isfinite(dz)
    out = np.log(h) + np.maximum(f0, f1)  # a -inf end: the cell is worth its larger end (a bound)
    out[ok] = np.log(h[ok]) + f0[ok] + _log_phi(dz[ok])
    return out


def _by_decade(cells: NDArray[np.float64], decade: NDArray[np.int64]) -> NDArray[np.float64]:
    """Log of the sum of the cells in each decade (in order of approach to the end)."""
    return np.array([np.logaddexp.reduce(cells[decade == j]) if np.any(decade == j) else -np.inf
                     for j in range(int(decade.max()) + 1)])


def _finite(per_decade: NDArray[np.float64]) -> bool:
    r"""Does the integral converge? Its contributions per decade (logs, towards the end; the last decade
    is left out: the nested integrals are truncated there) must shrink geometrically."""
    lv = per_decade[:-1]
    top = float(np.max(lv))
    if not math.isfinite(top):
        return top < 0  # all -inf: nothing to integrate
    if lv[-1] < top + math.log(1e-12):  # negligible against what came before
        return True
    with np.errstate(invalid="ignore"):
        steps = np.diff(lv[-3:])
    steps = np.where(np.isnan(steps), -np.inf, steps)
    return bool(np.max(steps) < math.log(SHRINK))


def _recursion(cell: NDArray[np.float64], shift: NDArray[np.float64]) -> NDArray[np.float64]:
    r"""Logs of :math:`X_i = e^{c_i} + e^{g_i} X_{i+1}`, :math:`X_n = 0`, from the end back to the start
    (``cell`` :math:`= c`, ``shift`` :math:`= g`; scalar floats: the loop is short and exact in logs)."""
    out = [-math.inf] * (cell.size + 1)
    x = -math.inf
    for i, (c, g) in enumerate(zip(cell.tolist()[::-1], shift.tolist()[::-1], strict=True)):
        v = g + x
        hi, lo = (c, v) if c >= v else (v, c)
        x = hi if lo == -math.inf else hi + math.log1p(math.exp(lo - hi))
        out[cell.size - 1 - i] = x
    return np.array(out)


def _path(end: float, start: float, scale: float) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """Points from ``start`` towards ``end`` and the decade of each cell."""
    if math.isfinite(end):
        k = np.linspace(0.0, DECADES_FINITE, DECADES_FINITE * PER_DECADE + 1)
        y = end + (start - end) * 10.0 ** (-k)
        return y, np.minimum(k[:-1].astype(np.int64), DECADES_FINITE - 1)
    k = np.linspace(-2.0, DECADES_INFINITE, (DECADES_INFINITE + 2) * PER_DECADE + 1)
    y = np.concatenate(([start], start + math.copysign(scale, end) * 10.0 ** k))
    dec = np.concatenate(([0], np.clip(np.floor(k[:-1]), 0, None).astype(np.int64)))
    return y, dec


def feller_integrals(process: ProcessLike, end: float, start: float, t: float = 0.0) -> FellerIntegrals:
    r"""Which Feller integrals of the end ``end`` (finite or :math:`\pm\infty`) are finite, seen from the
    regular interior point ``start``; ``.kind`` is the Feller class (see the module).

    Raises
    ------
    ValueError
        When the coefficients are not finite (or :math:`\sigma^2 \le 0`) on the way to the end over
        fewer than four decades, so that the test cannot be read.
    """
    scale = max(1.0, abs(start))
    y, dec = _path(float(end), float(start), scale)
    with np.errstate(all="ignore"):  # overflow on the way to infinity is found below, not warned
        a, _ = coefficients(process, t, y)
        delta = integral_of_2b_over_a(process, t, y[:-1], y[1:])  # ∫_{y_i}^{y_{i+1}} 2b/σ² (signed: along increasing x)
    good = np.isfinite(a) & (a > 0)
    good[1:] &= np.isfinite(delta)
    stop = int(np.argmin(good)) if not np.all(good) else y.size  # the first point the test can't use
    if stop < y.size:
        y, a, delta, dec = y[:stop], a[:stop], delta[: max(stop - 1, 0)], dec[: max(stop - 1, 0)]
    if dec.size == 0 or int(dec.max()) < 4:
        where = "infinity" if not math.isfinite(float(end)) else f"x={end:g}"
        raise ValueError(f"Cannot classify the end at {where}: the coefficients are not finite (or the "
                         f"diffusion vanishes) on the way to it, from x={start:g}.")
    h = np.abs(np.diff(y))
    ln_sp = np.concatenate(([0.0], -np.cumsum(delta)))  # ln s'(y_i) - ln s'(start)
    ln_2a = np.log(2.0 / a)
    S = _finite(_by_decade(_log_cells(ln_sp, h), dec))
    M = _finite(_by_decade(_log_cells(ln_2a - ln_sp, h), dec))
    if S and M:
        return FellerIntegrals(True, True, True, True)
    if S:
        # T_i = S(l, y_i]/s'(y_i): T_i = ∫_cell s'/s'(y_i) + e^{-Δ_i} T_{i+1}
        lT = _recursion(np.log(h) + _log_phi(-delta), -delta)
        sigma = _finite(_by_decade(_log_cells(ln_2a + lT, h), dec))
        return FellerIntegrals(True, False, sigma, False)
    if not M:
        return FellerIntegrals(False, False, False, False)
    # R_i = M(l, y_i] s'(y_i): R_i = ∫_cell (2/σ²) s'(y_i)/s' + e^{Δ_i} R_{i+1}
    cell = np.log(h) + ln_2a[:-1] + _log_phi(ln_2a[1:] + delta - ln_2a[:-1])
    lR = _recursion(cell, delta)
    n_finite = _finite(_by_decade(_log_cells(lR, h), dec))
    return FellerIntegrals(False, True, False, n_finite)


def explosive_ends(process: ProcessLike, x0: float, t: float = 0.0) -> tuple[bool, bool]:
    r"""Which infinite ends of the state space the process reaches in finite time (Feller: an *exit* at
    :math:`\pm\infty`, an explosion), seen from ``x0``.

    A process with an exact transition law keeps its mass (its law is a probability law at every time),
    so it is not tested; an end the integrals cannot classify is reported as not explosive (the solvers'
    mass checks still apply).
    """
    from gelav.processes.protocol import domain_of, has_exact_law

    if has_exact_law(process):
        return False, False
    out = []
    for end in domain_of(process):
        if math.isfinite(end):
            out.append(False)
            continue
        try:
            out.append(feller_integrals(process, end, x0, t).kind == "exit")
        except ValueError:
            out.append(False)
    return out[0], out[1]
