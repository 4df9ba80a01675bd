r"""Fund performance metrics (GELAV.md §4): IRR, TVPI, DPI, RVPI, Kaplan–Schoar PME, Direct Alpha, LA-IRR, LA-PME.

Conventions
-----------
Signed cash flows :math:`CF_i` at times :math:`t_i` (years): contributions
(capital calls) are negative, distributions positive, from the limited
partner's side. A residual NAV (the value still held at the last date)
counts as a distribution at the last date :math:`T_N` wherever a metric needs
a terminal value (IRR, PME, Direct Alpha, TVPI, RVPI).

- IRR: the roots :math:`r > -1` of :math:`\sum_i CF_i (1 + r)^{-t_i} = 0`
  (annual compounding). There may be none or several: :func:`irr` returns an
  :class:`IRRResult` listing every root found, and ``rate`` is set only when
  the root is unique.
- :math:`\mathrm{TVPI} = (\sum D + \mathrm{NAV})/\sum C`,
  :math:`\mathrm{DPI} = \sum D/\sum C`, :math:`\mathrm{RVPI} = \mathrm{NAV}/\sum C`.
- Kaplan–Schoar: :math:`\mathrm{PME} = \sum_i (D_i/R_i) / \sum_i (C_i/R_i)`
  with :math:`R` a total-return index level.
- Direct Alpha (Gredil, Griffiths & Stucke 2014): the IRR :math:`a` of the flows
  compounded by the index to :math:`T_N`, :math:`CF_i R_N / R_i`, reported as
  the continuous rate :math:`\ln(1 + a)`.
- LA-IRR / LA-PME (the framework's definition): with
  :math:`\pi_i = \pi(L_{t_i}, T_N - t_i)`, distributions become
  :math:`D_i(1 - \pi_i)` and contributions :math:`C_i(1 + \pi_i)`; LA-IRR is the
  IRR and LA-PME the Kaplan–Schoar PME of the adjusted flows. The residual NAV
  is a distribution at :math:`T_N` and is adjusted with
  :math:`\pi(L_{T_N}, 0)` (zero for the ``"sqrt"`` and ``"linear"`` scalings).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from gelav._display import fmt_rate
from gelav._validation import check_nonnegative

__all__ = [
    "IRRResult",
    "direct_alpha",
    "dpi",
    "generalised_pme",
    "irr",
    "la_irr",
    "la_pme",
    "liquidity_adjusted_flows",
    "pme",
    "rvpi",
    "tvpi",
]

#: log(1 + r) range scanned for IRR sign changes: r from about -99.99 % to +40 000 % a year
_X_RANGE = (-9.2, 6.0)
_N_SCAN = 3001


# ---------------------------------------------------------------------------
# inputs
# ---------------------------------------------------------------------------
def as_vector(name: str, value: Any, n: int | None = None) -> NDArray[np.float64]:
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"`{name}` must be an array of numbers, got a bool.")
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise TypeError(f"`{name}` must be an array of numbers, got {value!r:.60}.") from None
    if arr.dtype == bool:
        raise TypeError(f"`{name}` must hold numbers, not bools.")
    arr = np.atleast_1d(arr)
    if arr.ndim != 1:
        raise ValueError(f"`{name}` must be one-dimensional, got shape {arr.shape}.")
    if arr.size == 0:
        raise ValueError(f"`{name}` is empty.")
    if n is not None and arr.size != n:
        raise ValueError(f"`{name}` has {arr.size} entries but `flows` has {n}.")
    bad = np.flatnonzero(~np.isfinite(arr))
    if bad.size:
        raise ValueError(f"`{name}` must be finite; entry {int(bad[0])} is {arr[bad[0]]}.")
    return arr


def flows_and_times(flows: Any, times: Any) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    cf = as_vector("flows", flows)
    t = np.arange(cf.size, dtype=float) if times is None else as_vector("times", times, cf.size)
    if np.any(np.diff(t) < 0):
        i = int(np.flatnonzero(np.diff(t) < 0)[0])
        raise ValueError(f"`times` must be non-decreasing; entry {i + 1} ({t[i + 1]:g}) < entry {i} ({t[i]:g}).")
    return cf, t


def residual_nav(nav: Any) -> float:
    if isinstance(nav, (bool, np.bool_)):
        raise TypeError("`nav` must be a number, got a bool.")
    return check_nonnegative("nav", nav)


def with_residual_nav(cf: NDArray[np.float64], t: NDArray[np.float64], nav: float) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    if nav == 0.0:
        return cf, t
    return np.append(cf, nav), np.append(t, t[-1])


def _ratio(num: NDArray[np.float64], den: NDArray[np.float64], name: str, hint: str = "") -> float:
    """``Σ num / Σ den`` (non-negative terms), both summed over the largest term: flows near 1e308 overflowed
    the sums (TVPI printed inf, or 0). A ValueError when ``den`` sums to 0 (no contributions) or the ratio
    itself leaves the float range."""
    if not np.any(den > 0):
        raise ValueError(f"`flows` has no contributions (negative flows): the {name} is undefined.")
    s = float(max(np.max(num, initial=0.0), np.max(den)))
    c = float(np.sum(den / s))
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        v = float(np.divide(np.sum(num / s), c))
    if not math.isfinite(v):  # also a denominator that underflowed against the numerator
        raise ValueError(f"The {name} is beyond the floating-point range{hint}.")
    return v


def _contributions(cf: NDArray[np.float64]) -> NDArray[np.float64]:
    return -cf[cf < 0]


# ---------------------------------------------------------------------------
# IRR
# ---------------------------------------------------------------------------
@dataclass(frozen=True)
class IRRResult:
    """All internal rates of return of a cash-flow stream.

    Attributes
    ----------
    roots : tuple of float
        Every annual rate :math:`r > -1` with :math:`\\sum CF_i (1+r)^{-t_i} = 0`
        found on the scan (increasing).
    rate : float or None
        The IRR when it is unique, else None (see ``status``).
    status : {"unique", "none", "multiple"}
    message : str
        Why there is no single IRR, or "".
    """

    roots: tuple[float, ...]
    status: str
    message: str = ""
    diagnostics: dict[str, Any] = field(default_factory=dict)

    @property
    def rate(self) -> float | None:
        return self.roots[0] if self.status == "unique" else None

    @property
    def unique(self) -> bool:
        return self.status == "unique"

    @property
    def continuous(self) -> float | None:
        """The unique root as a continuously compounded rate ``ln(1 + r)``, else None."""
        return None if self.rate is None else math.log1p(self.rate)

    def __float__(self) -> float:
        if self.rate is None:
            raise ValueError(f"No single IRR: {self.message}")
        return self.rate

    def as_dict(self) -> dict[str, Any]:
        return {"rate": self.rate, "roots": list(self.roots), "status": self.status, "message": self.message}

    def __repr__(self) -> str:
        if self.unique:
            return f"IRRResult(rate={self.roots[0]:.6g})"
        return f"IRRResult(status={self.status!r}, roots={[round(r, 6) for r in self.roots]})"


def _npv_scaled(cf: NDArray[np.float64], t: NDArray[np.float64], x: NDArray[np.float64]) -> NDArray[np.float64]:
    """:math:`\\sum CF_i e^{-x t_i}` over its largest weight, :math:`\\max_i e^{-x t_i}`.

    Same sign and roots as the NPV (:math:`x = \\ln(1+r)`), continuous in :math:`x`, and no
    weight exceeds 1, so it never overflows, whatever the horizon (a stream over 2000 years
    with :math:`|x| = 6` would need :math:`e^{6000}`).
    """
    E = -np.outer(x, t)
    E -= E.max(axis=1, keepdims=True)
    return np.exp(E) @ cf


#: ln(1 + r) above which a rate is not a float (expm1 overflows)
_X_LIMIT = 700.0
#: beyond the scan's ends the grid is geometric, x_{k+1} = (1 + _GROWTH) x_k (12 times the scan's step at
#: its top end, and finer than the NPV's variation, which slows as |x| grows)
_GROWTH = 2e-3
_BATCH = 512
#: |ln(1 + r)| past which the scan gives up excluding roots (flows 1e-13 years apart)
_X_CAP = 1e15


def _partial_sum_sign_changes(cf: NDArray[np.float64], t: NDArray[np.float64], x: NDArray[np.float64],
                              outwards: float) -> NDArray[np.int64]:
    r"""Laguerre's bound on the number of NPV roots beyond each ``x`` (above if ``outwards`` > 0, below if < 0).

    With :math:`v = e^{-x}` the NPV is :math:`\sum_i CF_i v^{t_i}` with distinct increasing :math:`t_i`
    (one net flow per date). Laguerre's rule of signs: its zeros in :math:`0 < v < v_0` number at most
    the sign changes of the partial sums of :math:`CF_i v_0^{t_i}` in time order; its zeros in
    :math:`v > v_0` at most those of the partial sums in reverse time order (:math:`v = v_0/u`). Far
    enough out the earliest (latest) date's term outweighs the rest and the bound is 0.
    """
    E = -np.outer(x, t)
    E -= E.max(axis=1, keepdims=True)
    w = np.exp(E) * cf
    P = np.cumsum(w if outwards > 0 else w[:, ::-1], axis=1)
    s = np.sign(P)
    # zeros carry no sign: fill each with the last nonzero sign before it
    idx = np.where(s != 0, np.arange(s.shape[1]), 0)
    np.maximum.accumulate(idx, axis=1, out=idx)
    s = np.take_along_axis(s, idx, axis=1)
    return np.sum(s[:, 1:] * s[:, :-1] < 0, axis=1)


def _grid_beyond(cf: NDArray[np.float64], t: NDArray[np.float64], edge: float) -> tuple[NDArray[np.float64], bool]:
    """Scan points beyond the scan's ``edge`` (away from 0), geometric by ``1 + _GROWTH``, up to where
    Laguerre's bound says no root lies further out (none if it says so at ``edge``), and whether that
    point was reached before :math:`|x|` = ``_X_CAP``."""
    if _partial_sum_sign_changes(cf, t, np.array([edge]), edge)[0] == 0:
        return np.empty(0), True
    ratios = (1.0 + _GROWTH) ** np.arange(1.0, _BATCH + 1.0)
    pieces, a = [], edge
    while abs(a) < _X_CAP:
        pts: NDArray[np.float64] = a * ratios
        done = np.flatnonzero(_partial_sum_sign_changes(cf, t, pts, edge) == 0)
        if done.size:
            pieces.append(pts[: done[0] + 1])
            return np.concatenate(pieces), True
        pieces.append(pts)
        a = float(pts[-1])
    return np.concatenate(pieces), False


def irr(flows: ArrayLike, times: ArrayLike | None = None, *, xtol: float = 1e-14) -> IRRResult:
    r"""Internal rates of return: every root :math:`r > -1` of :math:`\sum_i CF_i(1+r)^{-t_i} = 0`.

    In :math:`x = \ln(1 + r)` the NPV is the exponential polynomial
    :math:`\sum_i CF_i e^{-x t_i}`; it is scanned on 3001 points of
    :math:`x \in [-9.2, 6]` (rates from −99.99 % to 40 000 % a year), every
    sign change is refined by Brent's method to ``xtol``, and local extrema
    that touch zero (double roots) are reported too. Beyond each end the scan
    goes on, on a geometric grid, for as long as Laguerre's rule of signs (the
    sign changes of the partial sums of the discounted net flows, in time
    order above the end and in reverse below it) leaves room for a root
    further out; so extreme roots, in any number, are found and never dropped
    to call the IRR unique. Roots at :math:`\ln(1 + r) > 700` or
    :math:`1 + r < 2^{-54}` are not float rates: the result says so and
    gives no IRR. By Descartes' rule of signs for exponential sums, at most
    as many roots exist as there are sign changes in the (time-ordered)
    flows.

    Parameters
    ----------
    flows : array
        Signed cash flows (contributions < 0, distributions > 0).
    times : array, optional
        Their times in years (non-decreasing); default 0, 1, 2, ....
    xtol : float
        Tolerance on :math:`\ln(1 + r)`.

    Returns
    -------
    IRRResult
        ``rate`` is the IRR when exactly one root exists; ``status`` is
        ``"none"`` (e.g. all flows of one sign) or ``"multiple"`` (``roots``
        lists them) otherwise.

    Examples
    --------
    >>> round(irr([-100.0, 121.0], [0.0, 2.0]).rate, 12)
    0.1
    >>> [round(r, 6) for r in irr([-1.0, 2.3, -1.32]).roots]
    [0.1, 0.2]
    """
    from scipy.optimize import brentq, minimize_scalar

    cf, t = flows_and_times(flows, times)
    if not (np.any(cf > 0) and np.any(cf < 0)):
        return IRRResult((), "none", "the flows do not change sign (an IRR needs both contributions and "
                         "distributions)")
    signs = np.sign(cf[cf != 0])
    n_changes = int(np.sum(signs[1:] != signs[:-1]))
    diag: dict[str, Any] = {"sign_changes_in_flows": n_changes,
                            "scan": (math.expm1(_X_RANGE[0]), math.expm1(_X_RANGE[1]))}
    # one net flow per date: Laguerre's rule needs distinct exponents; over the largest flow (the roots do
    # not change), so that no sum overflows (flows of 1e308 gave a second, spurious root)
    tn, inv = np.unique(t, return_inverse=True)
    net = np.bincount(inv, weights=cf / np.max(np.abs(cf)))
    tn, net = tn[net != 0.0], net[net != 0.0]
    if not net.size:
        return IRRResult((), "multiple", "the flows net to zero on every date: the NPV vanishes at every rate",
                         diag)
    # The scan, extended beyond its ends (r -> inf, r -> -100 %) for as long as Laguerre's rule of signs
    # leaves room for a root further out: roots beyond an end come in any number (two beyond the top
    # leave the end's sign unchanged, so a sign test alone would call the stream's IRR unique).
    core = np.linspace(*_X_RANGE, _N_SCAN)
    above, certain_above = _grid_beyond(net, tn, float(core[-1]))
    below, certain_below = _grid_beyond(net, tn, float(core[0]))
    x = np.concatenate((below[::-1], core, above))
    f = _npv_scaled(net, tn, x)
    scale = float(np.abs(net).sum())
    roots: list[float] = []

    def g(z: float) -> float:
        return float(_npv_scaled(net, tn, np.array([z]))[0])

    sgn = np.sign(f)
    for i in np.flatnonzero(sgn[:-1] * sgn[1:] < 0):
        roots.append(brentq(g, x[i], x[i + 1], xtol=xtol, rtol=4 * np.finfo(float).eps))
    roots.extend(float(x[i]) for i in np.flatnonzero(f == 0.0))
    # double roots: |f| has a local minimum where f does not change sign (the weights are <= 1, so
    # the terms are at most `scale`)
    af = np.abs(f)
    for i in np.flatnonzero((af[1:-1] < af[:-2]) & (af[1:-1] < af[2:]) & (sgn[:-2] == sgn[2:]) & (sgn[1:-1] != 0)) + 1:
        m = minimize_scalar(lambda z: abs(g(z)), bounds=(x[i - 1], x[i + 1]), method="bounded",
                            options={"xatol": 1e-12})
        if abs(m.fun) <= 1e-10 * scale:
            roots.append(float(m.x))
    # one root per cluster of refinements (a root on a grid point is also a zero of both brackets)
    zs = sorted(roots)
    zs = [z for k, z in enumerate(zs) if k == 0 or z - zs[k - 1] > 1e-12 * max(1.0, abs(z))]
    beyond: list[str] = []
    if any(z > _X_LIMIT for z in zs):
        beyond.append("above 1e300 % a year")
    # 1 + r below 5.6e-17 is not a float rate: r rounds to -1, where the NPV is undefined
    if any(z < 0 and math.expm1(z) == -1.0 for z in zs):
        beyond.append("within 1e-16 of -100 %")
    rates = [math.expm1(z) for z in zs if z <= _X_LIMIT and math.expm1(z) > -1.0]
    if not (certain_above and certain_below):
        where = " and ".join(w for w, ok in (("above", certain_above), ("below", certain_below)) if not ok)
        return IRRResult(tuple(rates), "multiple" if len(rates) > 1 else "none",
                         f"roots at |ln(1 + r)| beyond {_X_CAP:.0e} ({where}) cannot be excluded (flows on "
                         "dates less than about 1e-13 years apart): no IRR can be given", diag)
    if beyond:
        found = f" besides {', '.join(fmt_rate(r) for r in rates)}" if rates else ""
        return IRRResult(tuple(rates), "multiple" if rates else "none",
                         f"the NPV has a root at a rate {' and '.join(beyond)}{found}, beyond the "
                         "floating-point range: no IRR can be given", diag)
    if not rates:
        return IRRResult((), "none", "the NPV has no root for annual rates above -100 %", diag)
    if len(rates) > 1:
        return IRRResult(tuple(rates), "multiple",
                         f"the NPV vanishes at {len(rates)} rates ({', '.join(fmt_rate(r) for r in rates)}): "
                         "the flows change sign more than once; use PME or Direct Alpha", diag)
    return IRRResult(tuple(rates), "unique", "", diag)


# ---------------------------------------------------------------------------
# multiples
# ---------------------------------------------------------------------------
def dpi(flows: ArrayLike) -> float:
    r"""Distributed to paid-in, :math:`\sum D / \sum C` (contributions are the negative flows)."""
    cf = as_vector("flows", flows)
    return _ratio(cf[cf > 0], _contributions(cf), "DPI")


def rvpi(flows: ArrayLike, nav: float = 0.0) -> float:
    r"""Residual value to paid-in, :math:`\mathrm{NAV} / \sum C`."""
    cf = as_vector("flows", flows)
    return _ratio(np.array([residual_nav(nav)]), _contributions(cf), "RVPI")


def tvpi(flows: ArrayLike, nav: float = 0.0) -> float:
    r"""Total value to paid-in, :math:`(\sum D + \mathrm{NAV}) / \sum C` (= DPI + RVPI).

    Examples
    --------
    >>> tvpi([-100.0, 50.0, 80.0], nav=20.0)
    1.5
    """
    cf = as_vector("flows", flows)
    return _ratio(np.append(cf[cf > 0], residual_nav(nav)), _contributions(cf), "TVPI")


# ---------------------------------------------------------------------------
# index-based metrics
# ---------------------------------------------------------------------------
def index_levels(index: Any, n: int) -> NDArray[np.float64]:
    R = as_vector("index", index, n)
    if np.any(R <= 0):
        i = int(np.flatnonzero(R <= 0)[0])
        raise ValueError(f"`index` must be a positive total-return level; entry {i} is {R[i]:g}.")
    return R


def pme(flows: ArrayLike, index: ArrayLike, *, nav: float = 0.0) -> float:
    r"""Kaplan–Schoar public market equivalent :math:`\sum_i (D_i/R_i) / \sum_i (C_i/R_i)`.

    ``index`` holds the total-return index level :math:`R_i` at each flow's date;
    the residual ``nav`` is a distribution at the last date. With a flat index
    the PME equals TVPI.

    Examples
    --------
    >>> round(pme([-100.0, 150.0], [1.0, 1.25]), 6)  # the index grew 25 %, the fund 50 %
    1.2
    """
    cf = as_vector("flows", flows)
    R = index_levels(index, cf.size)
    n = residual_nav(nav)
    with np.errstate(over="ignore"):  # an overflow is refused by _ratio
        return _ratio(np.append(np.where(cf > 0, cf, 0.0) / R, n / R[-1]), np.where(cf < 0, -cf, 0.0) / R, "PME",
                      _INDEX_HINT)


#: why a PME leaves the float range
_INDEX_HINT = ": check `index` (its levels span too many orders of magnitude) and `flows`"


def direct_alpha(flows: ArrayLike, times: ArrayLike, index: ArrayLike, *, nav: float = 0.0) -> IRRResult:
    r"""Direct Alpha (Gredil–Griffiths–Stucke): IRR of the index-compounded flows, as a continuous rate.

    The flows are carried to the last date by the index, :math:`CF_i\,R_N/R_i`
    (the residual NAV is a distribution at :math:`T_N`), and their IRR :math:`a`
    is reported as :math:`\ln(1 + a)` per year. A fund whose flows exactly track
    the index has Direct Alpha 0.

    Returns
    -------
    IRRResult
        Its ``roots`` are the continuous rates :math:`\ln(1 + a)` (``rate`` when unique).
    """
    cf, t = flows_and_times(flows, times)
    R = index_levels(index, cf.size)
    fv = cf * (R[-1] / R)
    fv, t2 = with_residual_nav(fv, t, residual_nav(nav))
    res = irr(fv, t2)
    return IRRResult(tuple(math.log1p(r) for r in res.roots), res.status, res.message,
                     {**res.diagnostics, "compounding": "continuous"})


# ---------------------------------------------------------------------------
# liquidity-adjusted metrics
# ---------------------------------------------------------------------------
def _premium_values(premium: Any, L: NDArray[np.float64], T: NDArray[np.float64]) -> NDArray[np.float64]:
    if premium is None:
        raise TypeError("`premium` is required: an IlliquidityPremium or a callable pi(L, T).")
    if not callable(premium):
        raise TypeError(f"`premium` must be an IlliquidityPremium or a callable pi(L, T), got {type(premium).__name__}.")
    try:
        p = np.broadcast_to(np.asarray(premium(L, T), dtype=float), L.shape).astype(float)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"`premium` failed on the cash-flow dates: {exc}") from exc
    if not np.all(np.isfinite(p)):
        raise ValueError("`premium` is not finite at some cash-flow date.")
    return p


def liquidity_adjusted_flows(flows: ArrayLike, times: ArrayLike, L: ArrayLike, *,
                             premium: Callable[[Any, Any], Any] | Any,
                             nav: float = 0.0) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    r"""The framework's adjusted flows: :math:`D_i(1-\pi_i)`, :math:`C_i(1+\pi_i)`, :math:`\pi_i = \pi(L_{t_i}, T_N - t_i)`.

    Returns ``(adjusted_flows, times, pi)``, the residual ``nav`` (if > 0)
    appended as a distribution at :math:`T_N` with :math:`\pi(L_{T_N}, 0)`.
    A ValueError names ``premium`` where :math:`\pi \ge 1` on a distribution
    or :math:`\pi \le -1` on a contribution (the flow would change sign).
    """
    cf, t = flows_and_times(flows, times)
    Lv = as_vector("L", L, cf.size)
    n = residual_nav(nav)
    cf2, t2 = with_residual_nav(cf, t, n)
    L2 = Lv if n == 0.0 else np.append(Lv, Lv[-1])
    pi = _premium_values(premium, L2, t2[-1] - t2)
    # D(1 − π) with π ≥ 1 is a non-positive price, C(1 + π) with π ≤ −1 a contribution paid to the LP: either
    # turns a flow into its opposite (alpha = 0.5 printed an LA-IRR of −23.78 %, alpha = −1e5 "no contributions")
    flipped = np.flatnonzero(((cf2 > 0) & (pi >= 1.0)) | ((cf2 < 0) & (pi <= -1.0)))
    if flipped.size:
        i = int(flipped[0])
        kind = "distribution" if cf2[i] > 0 else "contribution"
        raise ValueError(f"`premium` gives π = {pi[i]:.4g} at t = {t2[i]:g} (L = {L2[i]:g}, T = {t2[-1] - t2[i]:g}): "
                         f"it turns a {kind} into its opposite. The liquidity adjustment needs −1 < π < 1 on the "
                         "fund's dates (π ≥ 1 is a non-positive price).")
    adj = np.where(cf2 > 0, cf2 * (1.0 - pi), cf2 * (1.0 + pi))
    return adj, t2, pi


def la_irr(flows: ArrayLike, times: ArrayLike, L: ArrayLike, *, premium: Callable[[Any, Any], Any] | Any,
           nav: float = 0.0) -> IRRResult:
    r"""Liquidity-adjusted IRR: the IRR of :func:`liquidity_adjusted_flows` (GELAV.md §4).

    Equals :func:`irr` when :math:`\pi \equiv 0`.
    """
    adj, t2, _ = liquidity_adjusted_flows(flows, times, L, premium=premium, nav=nav)
    return irr(adj, t2)


def la_pme(flows: ArrayLike, times: ArrayLike, L: ArrayLike, index: ArrayLike, *,
           premium: Callable[[Any, Any], Any] | Any, nav: float = 0.0) -> float:
    r"""Liquidity-adjusted Kaplan–Schoar PME of :func:`liquidity_adjusted_flows`.

    With a constant :math:`\pi`, :math:`\mathrm{LA\text{-}PME} = \mathrm{PME}\,(1-\pi)/(1+\pi)`.
    """
    cf = as_vector("flows", flows)
    R = index_levels(index, cf.size)
    n = residual_nav(nav)
    adj, _, _ = liquidity_adjusted_flows(flows, times, L, premium=premium, nav=nav)
    R2 = R if n == 0.0 else np.append(R, R[-1])
    return pme(adj, R2)


def generalised_pme(flows: ArrayLike, times: ArrayLike, L: ArrayLike, *, premium: Any,
                    index: ArrayLike | None = None, rate: float | None = None, nav: float = 0.0) -> float:
    r"""PME under the liquidity-adjusted deflator :math:`\exp(-\int_0^t (r_u + \lambda(L_u, T_N - u))du)`.

    .. math::

        \mathrm{GPME} = \frac{\sum_i D_i\,\xi_{t_i}}{\sum_i C_i\,\xi_{t_i}},\qquad
        \xi_t = \frac{R_0}{R_t}\,e^{-\int_0^t \lambda(L_u, T_N - u)\,du}
        \ \big(\text{or } e^{-rt - \int_0^t\lambda}\ \text{with a constant } r\big),

    the model-consistent alternative of GELAV.md §4: instead of haircutting
    realised cash, each flow is discounted by the benchmark and by the
    instantaneous premium :math:`\lambda = a(L) f'(\tau)` along the observed
    liquidity path (:math:`L` linear between flow dates, trapezoidal rule in
    :math:`a(L)`, exact in :math:`\tau`). With :math:`\lambda \equiv 0` and an
    index it is the Kaplan–Schoar PME.

    Parameters
    ----------
    flows, times, L : array
        Signed flows, their times (years) and the liquidity state on each date.
    premium : IlliquidityPremium or callable λ(L) [1/year]
    index : array, optional
        Benchmark levels (one of ``index`` and ``rate``).
    rate : float, optional
        Constant continuously compounded rate instead of an index.
    nav : float
        Residual NAV, a distribution at the last date.
    """
    cf, t = flows_and_times(flows, times)
    Lv = as_vector("L", L, cf.size)
    if (index is None) == (rate is None):
        raise TypeError("Give exactly one of `index` (benchmark levels) and `rate` (a constant rate).")
    if index is not None:
        R = index_levels(index, cf.size)
        base = R[0] / R
    else:
        from gelav._validation import check_finite

        base = np.exp(-check_finite("rate", rate) * (t - t[0]))
    end = float(t[-1])
    if hasattr(premium, "level") and hasattr(premium, "term"):
        if getattr(premium, "scaling", None) == "none":
            raise ValueError("`premium` has scaling 'none' (a lump haircut): it has no instantaneous rate.")
        a = np.asarray(premium.level(Lv), dtype=float)
        f = np.asarray(premium.term(end - t), dtype=float)
        inc = 0.5 * (a[1:] + a[:-1]) * (f[:-1] - f[1:])
    elif callable(premium):
        lam = np.broadcast_to(np.asarray(premium(Lv), dtype=float), Lv.shape)
        if not np.all(np.isfinite(lam)):  # a NaN rate made the GPME NaN, silently
            raise ValueError("`premium` (the rate λ(L)) is not finite at some cash-flow date.")
        inc = 0.5 * (lam[1:] + lam[:-1]) * np.diff(t)
    else:
        raise TypeError(f"`premium` must be an IlliquidityPremium or a callable λ(L), got {type(premium).__name__}.")
    xi = base * np.exp(-np.concatenate(([0.0], np.cumsum(inc))))
    n = residual_nav(nav)
    with np.errstate(over="ignore"):
        return _ratio(np.append(np.where(cf > 0, cf, 0.0) * xi, n * xi[-1]), np.where(cf < 0, -cf, 0.0) * xi,
                      "PME", _INDEX_HINT)
