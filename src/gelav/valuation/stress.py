r"""Portfolio stress under liquidity paths (GELAV.md §8): marks, exits, drawdown from the starting mark, VaR/ES.

A fund with book NAV :math:`N` and remaining life :math:`T` is marked at

.. math::

    M(t) = N\,\big(1 - \pi(L_t, T - t)\big)

along a monthly liquidity path :math:`L_t` (:class:`Scenario`). With an exit
boundary :math:`L^*`, the stake is sold the first month :math:`L_t < L^*` and
its mark is frozen at the sale price from then on. The drawdown is measured
**from the t = 0 mark** :math:`M(0)`, not from book NAV:
:math:`\mathrm{DD}(t) = \Pi(t)/\Pi(0) - 1` for the portfolio mark
:math:`\Pi = \sum M`. Measuring from book NAV (the course) adds the starting
discount :math:`\sum N\pi(L_0, T)/\sum N` to every scenario: with
:math:`L_0 = 0` the √-premium already marks a fund of remaining life T at
:math:`0.045\sqrt T` below book (5.87 years gives the course's −10.9 % for
"reverse", a path along which marks only *rise*).

The distributional view (:func:`mark_distribution`) pushes the Fokker–Planck
density of :math:`L_h` (:func:`gelav.forward`) through the mark map
:math:`L \mapsto \Pi(h, L)` and reports VaR and expected shortfall of the loss
:math:`\Pi(0) - \Pi(h, L_h)`. The map is not monotone (π is quadratic in L),
so the law is computed by integrating the density over the level sets of the
loss (quadrature on a refined sub-grid), not by mapping quantiles of L.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from gelav._random import SeedLike
from gelav._validation import (
    check_finite,
    check_int,
    check_named,
    check_nonnegative,
    check_positive,
)

if TYPE_CHECKING:
    from gelav.processes.protocol import ProcessLike

__all__ = ["SCENARIOS", "Fund", "MarkDistribution", "PortfolioStress", "Scenario", "mark_distribution",
           "report_mark_distribution", "report_portfolio", "stress_portfolio"]


# ---------------------------------------------------------------------------
# funds
# ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Fund:
    """A fund stake: book ``nav`` (currency, ≥ 0), ``remaining_life`` T (years, ≥ 0), a ``type`` label."""

    name: str
    nav: float
    remaining_life: float
    type: str = "buyout"

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"`name` must be a non-empty string, got {self.name!r}.")
        for n in ("nav", "remaining_life"):
            v = getattr(self, n)
            if isinstance(v, (bool, np.bool_)):
                raise TypeError(f"`{n}` of fund {self.name!r} must be a number, got a bool.")
            try:
                object.__setattr__(self, n, check_nonnegative(n, v))
            except ValueError as exc:
                raise ValueError(f"fund {self.name!r}: {exc}") from None
        if not isinstance(self.type, str):
            raise TypeError(f"`type` of fund {self.name!r} must be a string, got {type(self.type).__name__}.")


#: the longest stochastic scenario, in months (1 000 years)
MAX_SCENARIO_MONTHS = 12_000


def _funds(funds: Any) -> tuple[Fund, ...]:
    return check_named("funds", funds, Fund)


# ---------------------------------------------------------------------------
# scenarios
# ---------------------------------------------------------------------------
def _linear(L0: float, target: float, months: int, total: int | None = None) -> NDArray[np.float64]:
    m = np.arange((total if total is not None else months) + 1, dtype=float)
    return L0 + (target - L0) * np.minimum(m / months, 1.0)


def _gfc(L0: float) -> NDArray[np.float64]:
    s = np.arange(19, dtype=float) / 18.0
    return L0 + (-1.5 - L0) * (1.0 - np.exp(-3.0 * s)) / (1.0 - math.exp(-3.0))


_COVID = (0.0, -0.4, -1.0, -1.2, -0.9, -0.5, -0.3)

#: The six standard monthly paths of GELAV.md §8, as functions of L₀.
SCENARIOS: dict[str, Callable[[float], NDArray[np.float64]]] = {
    "mild": lambda L0: _linear(L0, -0.5, 12),
    "recession": lambda L0: _linear(L0, -1.0, 24),
    "gfc": _gfc,
    "covid": lambda L0: L0 + np.asarray(_COVID),
    "stagnation": lambda L0: _linear(L0, -0.5, 6, total=60),
    "reverse": lambda L0: _linear(L0, 1.0, 12),
}


@dataclass(frozen=True, eq=False)
class Scenario:
    """A liquidity path :math:`L_t` on monthly dates (``months`` 0, 1, ..., in months from now).

    Build with :meth:`standard` (the six paths of GELAV.md §8), :meth:`custom`
    or :meth:`stochastic` (a seeded OU path).

    The standard paths (L₀ = 0 unless given): ``mild`` linear to −0.5 over 12
    months; ``recession`` linear to −1.0 over 24; ``gfc``
    :math:`L_0 + (-1.5 - L_0)(1 - e^{-3s})/(1 - e^{-3})`, s = month/18, over 18;
    ``covid`` :math:`L_0` + (0, −0.4, −1.0, −1.2, −0.9, −0.5, −0.3) (6 months);
    ``stagnation`` linear to −0.5 over 6 months, then flat to month 60;
    ``reverse`` linear to +1.0 over 12.
    """

    name: str
    months: NDArray[np.float64]
    L: NDArray[np.float64]
    notes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        m = np.asarray(self.months, dtype=float).ravel()
        L = np.asarray(self.L, dtype=float).ravel()
        if m.size != L.size or m.size < 1:
            raise ValueError(f"`months` and `L` must have the same length >= 1, got {m.size} and {L.size}.")
        for field_name, v in (("months", m), ("L", L)):
            if not np.all(np.isfinite(v)):
                i = int(np.flatnonzero(~np.isfinite(v))[0])
                raise ValueError(f"scenario {self.name!r}: `{field_name}` entry {i} is {v[i]}; "
                                 f"`months` and `L` must be finite.")
        if m[0] != 0.0 or np.any(np.diff(m) <= 0):
            raise ValueError("`months` must start at 0 and increase.")
        object.__setattr__(self, "months", m)
        object.__setattr__(self, "L", L)

    @property
    def times(self) -> NDArray[np.float64]:
        """Dates in years (months / 12)."""
        return self.months / 12.0

    @classmethod
    def standard(cls, name: str, L0: float = 0.0) -> Scenario:
        """One of :data:`SCENARIOS` (``mild``, ``recession``, ``gfc``, ``covid``, ``stagnation``, ``reverse``)."""
        if not isinstance(name, str) or name.lower() not in SCENARIOS:
            raise ValueError(f"Unknown scenario {name!r}; the standard scenarios are {', '.join(SCENARIOS)}.")
        L = SCENARIOS[name.lower()](check_finite("L0", L0))
        return cls(name.lower(), np.arange(L.size, dtype=float), L)

    @classmethod
    def custom(cls, L: ArrayLike, *, months: ArrayLike | None = None, name: str = "custom") -> Scenario:
        """A user path: levels ``L`` on ``months`` (default 0, 1, 2, ...)."""
        Lv = np.asarray(L, dtype=float).ravel()
        m = np.arange(Lv.size, dtype=float) if months is None else np.asarray(months, dtype=float)
        return cls(name, m, Lv)

    @classmethod
    def stochastic(cls, process: ProcessLike | None = None, *, months: int = 60, L0: float = 0.0, seed: SeedLike = None,
                   name: str = "ou") -> Scenario:
        """One seeded monthly path of ``process`` (default the OU liquidity state) from ``L0``."""
        from gelav.montecarlo import simulate
        from gelav.processes import OrnsteinUhlenbeck

        process = OrnsteinUhlenbeck(0.45, 1.0, 0.32) if process is None else process
        n = check_int("months", months, minimum=1)
        if n > MAX_SCENARIO_MONTHS:  # the path would be simulated in full (1e9 months blamed `horizon`)
            raise ValueError(f"`months` = {n} is more than {MAX_SCENARIO_MONTHS} ({MAX_SCENARIO_MONTHS // 12} years): "
                             "a portfolio scenario spans the funds' lives.")
        sch = "exact" if type(process).__name__ == "OrnsteinUhlenbeck" else "euler"
        p = simulate(process, check_finite("L0", L0), n / 12.0, n, 2, scheme=sch, seed=seed, save="all")
        return cls(name, np.arange(n + 1, dtype=float), p.values[:, 0])

    def at(self, month: float) -> float:
        """:math:`L` at a month (linear interpolation)."""
        return float(np.interp(check_finite("month", month), self.months, self.L))


# ---------------------------------------------------------------------------
# the deterministic stress
# ---------------------------------------------------------------------------
def _premium(premium: Any) -> Any:
    if premium is None or (isinstance(premium, str) and premium == "default"):
        from gelav.valuation.premium import IlliquidityPremium

        return IlliquidityPremium()
    if not callable(premium):
        raise TypeError(f"`premium` must be an IlliquidityPremium or a callable pi(L, T), got {type(premium).__name__}.")
    return premium


def _boundary_fn(boundary: Any) -> Callable[[float, float], float] | None:
    """``L*(remaining_life, t)``: from an ExitBoundary-like object (``.boundary(t)`` on [0, fund_life]) or a callable."""
    if boundary is None:
        return None
    if hasattr(boundary, "boundary") and callable(boundary.boundary):
        life = getattr(boundary, "fund_life", None)
        if life is None:
            life = getattr(boundary, "inputs", {}).get("fund_life") if isinstance(getattr(boundary, "inputs", None), dict) else None
        if life is None:
            raise TypeError("`boundary` has .boundary(t) but no `fund_life`: cannot map a fund's remaining life "
                            "to the boundary's time; pass a callable L*(remaining_life) instead.")
        life = float(life)

        def from_object(remaining: float, t: float) -> float:
            if remaining > life * (1.0 + 1e-12):
                # clamping to L*(0) would use a shorter fund's boundary for this one
                raise ValueError(f"`boundary` was solved for a fund life of {life:g} y, shorter than a remaining "
                                 f"life of {remaining:g} y: L* is not known there; solve the ExitBoundary with "
                                 f"fund_life >= {remaining:g}.")
            return float(boundary.boundary(max(life - remaining, 0.0)))

        return from_object
    if callable(boundary):
        return lambda remaining, t: float(boundary(remaining))
    if isinstance(boundary, (int, float)) and not isinstance(boundary, bool):
        c = check_finite("boundary", boundary)
        return lambda remaining, t: c
    raise TypeError(f"`boundary` must be an ExitBoundary, a callable L*(remaining_life), a number or None, "
                    f"got {type(boundary).__name__}.")


@dataclass(frozen=True, eq=False)
class PortfolioStress:
    """Marks of a portfolio along a scenario (returned by :func:`stress_portfolio`).

    Attributes
    ----------
    funds : tuple of Fund
    scenario : Scenario
    marks : ndarray, shape (n_months, n_funds)
        :math:`N_i(1 - \\pi(L_t, T_i - t))` (frozen at the sale price after an exit;
        book NAV after the fund's end).
    total : ndarray
        Portfolio mark per month.
    exit_month : dict
        Month of each fund's sale (None if held).
    drawdown : ndarray
        :math:`\\Pi(t)/\\Pi(0) - 1` (from the starting mark).
    max_drawdown : float
        :math:`\\min_t \\mathrm{DD}(t)` (≤ 0).
    trough_month : float
    recovery_month : float or None
        First month after the trough with :math:`\\Pi(t) \\ge \\Pi(0)` (None: not within the path).
    drawdown_from_book : ndarray
        :math:`\\Pi(t)/\\sum N - 1`, the course's measure, which includes the starting discount.
    """

    funds: tuple[Fund, ...]
    scenario: Scenario
    marks: NDArray[np.float64]
    total: NDArray[np.float64]
    exit_month: dict[str, float | None]
    drawdown: NDArray[np.float64]
    max_drawdown: float
    trough_month: float
    recovery_month: float | None
    drawdown_from_book: NDArray[np.float64]
    premium: Any = None
    diagnostics: dict[str, Any] = field(default_factory=dict)

    @property
    def book_nav(self) -> float:
        return float(sum(f.nav for f in self.funds))

    @property
    def starting_discount(self) -> float:
        """:math:`1 - \\Pi(0)/\\sum N`."""
        return 1.0 - float(self.total[0]) / self.book_nav if self.book_nav > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario.name, "months": self.scenario.months, "L": self.scenario.L,
            "total": self.total, "drawdown": self.drawdown, "max_drawdown": self.max_drawdown,
            "trough_month": self.trough_month, "recovery_month": self.recovery_month,
            "starting_mark": float(self.total[0]), "book_nav": self.book_nav,
            "starting_discount": self.starting_discount,
            "max_drawdown_from_book": float(self.drawdown_from_book.min()),
            "funds": {f.name: {"nav": f.nav, "remaining_life": f.remaining_life, "type": f.type,
                               "start_mark": float(self.marks[0, i]), "end_mark": float(self.marks[-1, i]),
                               "exit_month": self.exit_month[f.name]} for i, f in enumerate(self.funds)},
        }

    def plot(self, *, ax: Any = None) -> Any:
        """Path of L (top) and the portfolio mark relative to its starting value (bottom)."""
        import matplotlib.pyplot as plt

        from gelav.plot import STYLE

        with plt.rc_context(STYLE):  # type: ignore[arg-type]
            fig, (a1, a2) = plt.subplots(2, 1, sharex=True, figsize=(7.0, 5.5))
            m = self.scenario.months
            a1.plot(m, self.scenario.L, color="tab:blue")
            a1.set_ylabel("L_t")
            a1.set_title(f"Scenario {self.scenario.name!r}: liquidity path and portfolio mark")
            a2.plot(m, 100 * self.drawdown, label="from the t = 0 mark (gelav)")
            a2.plot(m, 100 * self.drawdown_from_book, ls="--", label="from book NAV (course)")
            for f in self.funds:
                em = self.exit_month[f.name]
                if em is not None:
                    a2.axvline(em, color="tab:red", lw=0.7)
            a2.set_xlabel("month")
            a2.set_ylabel("drawdown [%]")
            a2.legend()
        return fig


def stress_portfolio(funds: Fund | Sequence[Fund], scenario: Scenario | str, *, premium: Any = None,
                     boundary: Any = None, L0: float = 0.0) -> PortfolioStress:
    r"""Mark a portfolio along a liquidity path, with exits below :math:`L^*`; drawdown from the t = 0 mark.

    .. math::

        M_i(t) = N_i\big(1 - \pi(L_t, (T_i - t)^+)\big),\qquad
        \mathrm{DD}(t) = \frac{\sum_i M_i(t)}{\sum_i M_i(0)} - 1 .

    Parameters
    ----------
    funds : Fund or sequence of Fund
    scenario : Scenario or str
        A :class:`Scenario` or the name of a standard one (then from ``L0``).
    premium : IlliquidityPremium or callable pi(L, T), optional
        Default ``gelav.IlliquidityPremium()``.
    boundary : ExitBoundary, callable, number or None
        Exit rule: an object with ``.boundary(t)`` and ``fund_life`` (the
        boundary's time t corresponds to remaining life ``fund_life − t``; a
        fund with a longer remaining life is an error), a
        callable ``L*(remaining_life)``, or a constant level. A fund is sold at
        the first month with :math:`L_t < L^*`, at its mark; None: no exits.
    L0 : float
        Start of a named scenario.

    Returns
    -------
    PortfolioStress
    """
    fs = _funds(funds)
    if isinstance(scenario, str):
        scenario = Scenario.standard(scenario, L0)
    if not isinstance(scenario, Scenario):
        raise TypeError(f"`scenario` must be a Scenario or a scenario name, got {type(scenario).__name__}.")
    prem = _premium(premium)
    bfn = _boundary_fn(boundary)
    if bfn is not None:
        for f in fs:
            try:
                bfn(f.remaining_life, 0.0)
            except ValueError as exc:
                raise ValueError(f"fund {f.name!r}: {exc}") from exc
    t = scenario.times
    L = scenario.L
    marks = np.zeros((t.size, len(fs)))
    exit_month: dict[str, float | None] = {}
    for i, f in enumerate(fs):
        rem = np.maximum(f.remaining_life - t, 0.0)
        try:
            pi = np.broadcast_to(np.asarray(prem(L, rem), dtype=float), t.shape)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"`premium` failed for fund {f.name!r}: {exc}") from exc
        if not np.all(np.isfinite(pi)):
            raise ValueError(f"`premium` is not finite along the path for fund {f.name!r}.")
        mk = f.nav * (1.0 - pi)
        mk = np.where(rem > 0, mk, f.nav)  # matured: paid out at book
        exit_month[f.name] = None
        if bfn is not None:
            for j in range(t.size):
                if rem[j] > 0 and L[j] < bfn(float(rem[j]), float(t[j])):
                    exit_month[f.name] = float(scenario.months[j])
                    mk[j:] = mk[j]
                    break
        marks[:, i] = mk
    with np.errstate(over="ignore"):
        total = marks.sum(axis=1)
    if not np.all(np.isfinite(total)) or not math.isfinite(sum(f.nav for f in fs)):
        raise ValueError("The portfolio's total mark overflows a float: the funds' `nav` values are too large "
                         "(express them in larger units).")
    if total[0] <= 0 and sum(f.nav for f in fs) == 0:
        zero = ", ".join(repr(f.name) for f in fs)
        raise ValueError(f"Every fund has `nav` = 0 (fund{'s' if len(fs) > 1 else ''} {zero}): the book NAV and the "
                         "starting mark are 0 and drawdowns from it are undefined; give a fund a `nav` > 0.")
    if total[0] <= 0:
        raise ValueError(f"The starting portfolio mark is {total[0]:g} <= 0 (π ≥ 1 at t = 0): drawdowns from it "
                         "are undefined; check the premium and the remaining lives.")
    dd = total / total[0] - 1.0
    j = int(np.argmin(dd))
    max_dd = min(0.0, float(dd[j]))
    rec = None
    if max_dd < 0:
        after = np.flatnonzero(total[j:] >= total[0])
        rec = float(scenario.months[j + after[0]]) if after.size else None
    book = sum(f.nav for f in fs)
    dd_book = total / book - 1.0 if book > 0 else np.zeros_like(total)
    return PortfolioStress(fs, scenario, marks, total, exit_month, dd, max_dd,
                           float(scenario.months[j]) if max_dd < 0 else 0.0, rec, dd_book, prem,
                           {"n_months": int(t.size - 1)})


# ---------------------------------------------------------------------------
# the distributional view
# ---------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class MarkDistribution:
    """Law of the portfolio loss :math:`\\Pi(0) - \\Pi(h, L_h)` at a horizon (from :func:`mark_distribution`).

    Attributes
    ----------
    horizon : float
    levels : tuple of float
    var, es : dict
        Value at risk and expected shortfall of the loss at each level (currency).
    start_mark : float
    loss, weights : ndarray
        The quadrature atoms (loss values and their probabilities) behind the law.
    density : Density or None
        The Fokker–Planck density of :math:`L_h`; None where :math:`\\sigma(L_0)\\sqrt h` is below
        floating-point resolution of the state (``diagnostics["deterministic"]``: the loss is then the one
        atom of the marks' change at :math:`L_0`).
    mass_lost : float
        Probability mass not on the grid at the horizon.
    """

    horizon: float
    levels: tuple[float, ...]
    var: dict[float, float]
    es: dict[float, float]
    start_mark: float
    loss: NDArray[np.float64]
    weights: NDArray[np.float64]
    density: Any
    mass_lost: float
    diagnostics: dict[str, Any] = field(default_factory=dict)

    def cdf(self, loss: float) -> float:
        """:math:`P(\\text{loss} \\le \\ell)`."""
        return float(self.weights[self.loss <= check_finite("loss", loss)].sum())

    def mean(self) -> float:
        return float(self.weights @ self.loss)

    def as_dict(self) -> dict[str, Any]:
        return {"horizon": self.horizon, "start_mark": self.start_mark, "expected_loss": self.mean(),
                "var": {str(k): v for k, v in self.var.items()}, "es": {str(k): v for k, v in self.es.items()},
                "mass_lost": self.mass_lost}

    def plot(self, *, ax: Any = None) -> Any:
        """Histogram of the loss law with the VaR levels."""
        from gelav.plot import new_axes

        fig, ax = new_axes(ax)
        # from the smallest loss to the 99.95 % quantile (and every VaR and ES): a gain (negative loss) too
        order = np.argsort(self.loss, kind="stable")
        q = self.loss[order][min(int(np.searchsorted(np.cumsum(self.weights[order]), 0.9995)), self.loss.size - 1)]
        lo = float(self.loss.min())
        hi = max([float(q), *self.var.values(), *self.es.values()])
        bins = np.linspace(lo, max(hi, lo + 1e-9), 80)
        ax.hist(self.loss, bins=bins, weights=self.weights, color="tab:blue", alpha=0.7)
        for q, v in self.var.items():
            ax.axvline(v, color="tab:red", ls="--", lw=0.8, label=f"VaR {q:g} = {v:.4g}")
        ax.set_xlabel("loss from the t = 0 mark [currency]")
        ax.set_ylabel("probability")
        ax.set_title(f"Portfolio loss at h = {self.horizon:g} y")
        from gelav.plot import legend_below

        legend_below(ax, ncol=2)
        return fig


def _var_es(loss: NDArray[np.float64], w: NDArray[np.float64], q: float) -> tuple[float, float]:
    order = np.argsort(loss, kind="stable")
    x, p = loss[order], w[order]
    c = np.cumsum(p)
    i = int(np.searchsorted(c, q))
    i = min(i, x.size - 1)
    var = float(x[i])
    # ES_q = (1/(1-q)) [ sum_{x > VaR} p x + VaR (P(X <= VaR) - q) ]
    es = (float(p[i + 1:] @ x[i + 1:]) + var * (float(c[i]) - q)) / (1.0 - q)
    return var, es


def mark_distribution(funds: Fund | Sequence[Fund], horizon: float, *, process: ProcessLike | None = None, L0: float = 0.0,
                      premium: Any = None, levels: Sequence[float] = (0.95, 0.99), n_cells: int = 400,
                      n_steps: int = 200, refine: int = 16, equilibrium: Any = None,
                      equilibrium_type: int | str = 0) -> MarkDistribution:
    r"""Law of the portfolio loss at ``horizon`` from the Fokker–Planck density of the liquidity state.

    .. math::

        P(\text{loss} \le \ell) = \int \mathbf 1\{\Pi(0) - \Pi(h, x) \le \ell\}\,\rho_h(x)\,dx,
        \qquad \Pi(h, x) = \sum_i N_i\big(1 - \pi(x, (T_i - h)^+)\big),

    :math:`\rho_h` from :func:`gelav.forward` started at ``L0``. The integral is
    taken over the level sets of the (non-monotone) loss by midpoint
    quadrature on ``refine`` sub-cells per grid cell (density interpolated
    linearly): the law is a sum of atoms (``loss``, ``weights``), VaR is exact to
    one sub-cell of L and ES to the quadrature and PDE errors. For a monotone
    map this reproduces loss(quantile of L) (tested).

    **Equilibrium prices.** With ``equilibrium`` (a solved
    :class:`gelav.mfg.Equilibrium`) every mark also carries the equilibrium's
    crowding discount at its date, the part of the secondary-market discount
    caused by the other sellers (distressed mass, selling pressure, buyers'
    capital):

    .. math::

        \Pi(t, x) = \sum_i N_i\big(1 - \pi(x, (T_i - t)^+) - c(t)\big), \qquad
        c(t) = \frac{P^{\mathrm{base}}_k(t) - P_k(t)}{\mathrm{NAV}},

    with :math:`P_k` the equilibrium price path of LP type ``equilibrium_type``
    and :math:`P^{\mathrm{base}}_k` the same market's price without crowding
    (``Equilibrium.price`` and ``base_price``, linearly interpolated in time
    between the step midpoints; both marks, at 0 and at ``horizon``, use it).
    Without price coupling :math:`c \equiv 0` and the result is the plain one.

    Parameters
    ----------
    funds : Fund or sequence of Fund
    horizon : float
        h > 0, years.
    process : Process, optional
        Default OU(0.45, 1.0, 0.32).
    L0 : float
    premium : IlliquidityPremium or callable, optional
    levels : sequence of float in (0, 1)
    n_cells, n_steps : int
        Fokker–Planck grid.
    refine : int
        Quadrature sub-cells per cell.
    equilibrium : gelav.mfg.Equilibrium, optional
        Price the marks with the crowding discount of this equilibrium; its
        horizon must cover ``horizon``.
    equilibrium_type : int or str
        The LP type whose price path is used. Default the first.

    Returns
    -------
    MarkDistribution
        ``diagnostics["crowding_discount"]`` holds :math:`(c(0), c(h))` when
        ``equilibrium`` is given.
    """
    from gelav.forward import forward
    from gelav.grid import auto_domain
    from gelav.processes import OrnsteinUhlenbeck

    fs = _funds(funds)
    h = check_positive("horizon", horizon)
    process = OrnsteinUhlenbeck(0.45, 1.0, 0.32) if process is None else process
    L0 = check_finite("L0", L0)
    prem = _premium(premium)
    qs = tuple(float(check_finite("levels", q)) for q in levels)
    if any(not 0.0 < q < 1.0 for q in qs):
        raise ValueError(f"`levels` must lie in (0, 1), got {list(qs)}.")
    refine = check_int("refine", refine, minimum=1)
    crowding = _crowding_discount(equilibrium, equilibrium_type, h)

    def total(Lv: Any, t: float) -> Any:
        out: Any = 0.0
        for f in fs:
            rem = max(f.remaining_life - t, 0.0)
            pi = np.asarray(prem(Lv, rem), dtype=float) if rem > 0 else 0.0
            out = out + f.nav * (1.0 - pi - crowding(t))
        return out

    def loss_at(Lv: Any) -> Any:
        """Π(0) − Π(h, L) as Σ N_i (π_i(h, L) − π_i(0, L0) + c(h) − c(0)): the same number as
        ``total(L0, 0) - total(L, h)`` without cancelling the marks (h = 1e-22: 1e-4 of the VaR)."""
        out: Any = 0.0
        dc = crowding(h) - crowding(0.0)
        for f in fs:
            pi0 = float(np.asarray(prem(np.array(L0), f.remaining_life), dtype=float)) if f.remaining_life > 0 else 0.0
            rem = max(f.remaining_life - h, 0.0)
            pih = np.asarray(prem(Lv, rem), dtype=float) if rem > 0 else 0.0
            out = out + f.nav * ((pih - pi0) + dc)
        return out

    from gelav.stress import SPREAD_RESOLUTION

    sd = abs(float(np.asarray(process.diffusion(0.0, np.array([L0])), dtype=float).ravel()[0])) * math.sqrt(h)
    matured = all(f.remaining_life <= h for f in fs)
    if matured or sd < SPREAD_RESOLUTION * max(1.0, abs(L0)):
        # L_h is L0 to the bit, or no mark at h depends on it (every fund has matured: marked at NAV): the
        # loss is the marks' own change, known exactly (h = 1e-308: the Fokker–Planck steps overflowed, ES
        # NaN; h = 1e-30: the loss atoms were the marks' rounding, ES 1.3e-23; a horizon past every fund's
        # life: an IndexError, the loss a 0-d array)
        with np.errstate(over="ignore", invalid="ignore"):
            start = float(total(np.array(L0), 0.0))
            point = float(loss_at(np.array(L0)))
        if not (math.isfinite(start) and math.isfinite(point)):
            raise ValueError("The portfolio's mark overflows a float: the funds' `nav` values are too large "
                             "(express them in larger units).")
        diag_point: dict[str, Any] = {"deterministic": (
            f"every fund's remaining life is at most the horizon {h:g} y: the marks at h are the NAVs, whatever "
            "L_h, and the loss is certain (minus the premium of today's marks)" if matured else
            f"σ(L0)√h = {sd:.2g} is below {SPREAD_RESOLUTION:g} of the state: L_h = L0 to "
            "floating-point precision, and the loss is the marks' change at L0")}
        if equilibrium is not None:
            diag_point["crowding_discount"] = (crowding(0.0), crowding(h))
        return MarkDistribution(h, qs, dict.fromkeys(qs, point), dict.fromkeys(qs, point), start, np.array([point]),
                                np.array([1.0]), None, 0.0, diag_point)
    dom = auto_domain(process, L0, h, tail=1e-12)
    dens = forward(process, L0, h, domain=dom, n_cells=check_int("n_cells", n_cells, minimum=8),
                   n_steps=check_int("n_steps", n_steps, minimum=1), times=[h])
    x = dens.grid.nodes
    k = np.arange(refine)
    xs = (x[:-1, None] + (k[None, :] + 0.5) / refine * np.diff(x)[:, None]).ravel()
    dx = np.repeat(np.diff(x) / refine, refine)
    pdf = np.maximum(dens.pdf(xs, h), 0.0)
    w = pdf * dx
    mass = float(w.sum())

    with np.errstate(over="ignore", invalid="ignore"):
        start = float(total(np.array(L0), 0.0))
        loss = np.asarray(loss_at(xs), dtype=float)
    if not (math.isfinite(start) and np.all(np.isfinite(loss))):
        raise ValueError("The portfolio's mark overflows a float: the funds' `nav` values are too large "
                         "(express them in larger units).")
    w = w / mass
    var, es = {}, {}
    for q in qs:
        var[q], es[q] = _var_es(loss, w, q)
    diag: dict[str, Any] = {"n_cells": n_cells, "n_steps": n_steps, "refine": refine, "domain": dom}
    if equilibrium is not None:
        diag["crowding_discount"] = (crowding(0.0), crowding(h))
    return MarkDistribution(h, qs, var, es, start, loss, w, dens, max(0.0, 1.0 - float(dens.mass(h))), diag)


def _crowding_discount(equilibrium: Any, which: int | str, horizon: float) -> Callable[[float], float]:
    """``c(t) = (base price − equilibrium price)/NAV`` of one LP type, interpolated in t (0 without equilibrium)."""
    if equilibrium is None:
        return lambda t: 0.0
    for attr in ("price", "base_price", "t_mid", "times", "model", "type_names"):
        if not hasattr(equilibrium, attr):
            raise TypeError(f"`equilibrium` must be a solved gelav.mfg Equilibrium, got {type(equilibrium).__name__}.")
    names = tuple(equilibrium.type_names)
    if isinstance(which, str):
        if which not in names:
            raise ValueError(f"`equilibrium_type` = {which!r} is not a type of the equilibrium ({', '.join(names)}).")
        k = names.index(which)
    else:
        k = check_int("equilibrium_type", which, minimum=0)
        if k >= len(names):
            raise ValueError(f"`equilibrium_type` must be in [0, {len(names) - 1}], got {k}.")
    end = float(equilibrium.times[-1])
    if horizon > end * (1 + 1e-12):
        raise ValueError(f"`horizon` = {horizon:g} y is beyond the equilibrium's horizon {end:g} y.")
    nav = float(equilibrium.model.market.nav)
    t_mid = np.asarray(equilibrium.t_mid, dtype=float)
    c = (np.asarray(equilibrium.base_price[k], dtype=float) - np.asarray(equilibrium.price[k], dtype=float)) / nav
    return lambda t: float(np.interp(t, t_mid, c))


def report_portfolio(result: PortfolioStress | None = None, **kwargs: Any) -> tuple[dict[str, Any], Any]:
    """Report hook: marks, drawdown (from the t = 0 mark and from book) and the figure of a stress run.

    ``result`` or ``stress_portfolio(**kwargs)``.
    """
    if result is None:
        result = stress_portfolio(**kwargs)
    d = result.as_dict()
    keys = ("scenario", "max_drawdown", "trough_month", "recovery_month", "starting_mark", "book_nav",
            "starting_discount", "max_drawdown_from_book", "funds")
    return {k: d[k] for k in keys}, result.plot()


def report_mark_distribution(result: MarkDistribution | None = None, **kwargs: Any) -> tuple[dict[str, Any], Any]:
    """Report hook: VaR and ES of the portfolio loss (``result`` or ``mark_distribution(**kwargs)``) and the figure."""
    if result is None:
        result = mark_distribution(**kwargs)
    return result.as_dict(), result.plot()
