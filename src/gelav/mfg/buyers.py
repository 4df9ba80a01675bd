r"""Market clearing with secondary buyers: finite dry powder and the illiquidity premium λ*(t).

Secondary buyers hold dry powder :math:`K(t)`, measured in NAV of stakes they
can absorb (per unit NAV of the LP population). They raise it at the rate
:math:`\iota` and spend it on what the LPs sell,

.. math::

    \frac{dK}{dt} = \iota - \mathrm{NAV}\,F(t), \qquad K(0) = K_0 ,

where :math:`F(t)` is the selling pressure (the exit flow hitting the market,
fraction of the population per year; see :class:`gelav.mfg.Market`). Their
inverse demand curve :math:`g(F, K)` is the extra discount (the illiquidity
premium) at which they absorb the flow :math:`F` with capital :math:`K`; the
market clears at

.. math::

    \lambda^*(t) = \min\big(g(F(t), K(t)),\ \lambda_{\max}\big), \qquad
    g(F, K) = s\,F/K \ \text{(linear demand, the default)},

and every seller's price is lowered by :math:`\mathrm{NAV}\,\lambda^*(t)`. The
premium depends on the flow path, the flow depends on the exits, the exits on
the price: :math:`\lambda^*` is part of the equilibrium fixed point. With
unlimited capital (:math:`K_0 = \infty`) :math:`\lambda^* \equiv 0` and the price is
the base price exactly.

On the time grid the capital is stepped explicitly,
:math:`K_{n+1} = K_n + \Delta t_n(\iota - \mathrm{NAV}\,F_n)`, floored at
:math:`10^{-12}` (an exhausted market charges :math:`\lambda_{\max}`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from gelav._validation import check_nonnegative, check_positive

__all__ = ["Buyers", "MarketHooks", "capital_path", "check_buyers", "clearing_premium", "equilibrium_capital",
           "equilibrium_premium", "premium_jacobian",
           "wrap_coupling"]

Array = NDArray[np.float64]

_K_FLOOR = 1e-12


@dataclass(frozen=True, eq=False)
class Buyers:
    r"""Secondary buyers with finite dry powder (see the module docstring).

    Parameters
    ----------
    capital : float
        :math:`K_0` [NAV of stakes per unit NAV of the LP population]; ``math.inf``
        (default) is the unlimited market (no premium).
    inflow : float
        :math:`\iota \ge 0` [NAV/year]: new dry powder raised per year. Default 0.
    demand : float or callable
        The inverse demand curve. A float :math:`s > 0` [years] is the linear curve
        :math:`g(F, K) = sF/K`; a callable ``demand(flow, capital) -> premium``
        (vectorised, non-negative, non-decreasing in the flow) any other. Default 0.02.
    max_premium : float
        :math:`\lambda_{\max} \in (0, 1]` [fraction of NAV]: the premium when capital
        runs out. Default 0.5.

    Examples
    --------
    >>> Buyers(capital=0.3, demand=0.02).premium(np.array([0.5]), np.array([0.25]))
    array([0.04])
    """

    capital: float = math.inf
    inflow: float = 0.0
    demand: float | Callable[..., Any] = 0.02
    max_premium: float = 0.5

    def __post_init__(self) -> None:
        for name in ("capital", "inflow", "max_premium"):
            if isinstance(getattr(self, name), bool):
                raise TypeError(f"`{name}` must be a number, not a bool.")
        cap = self.capital
        try:
            capf = float(cap)
        except (TypeError, ValueError):
            raise ValueError(f"`capital` must be a positive number or math.inf, got {cap!r}.") from None
        if math.isnan(capf) or capf <= 0:
            raise ValueError(f"`capital` must be > 0 (math.inf: unlimited), got {capf}.")
        object.__setattr__(self, "capital", capf)
        object.__setattr__(self, "inflow", check_nonnegative("inflow", self.inflow))
        mp = check_positive("max_premium", self.max_premium)
        if mp > 1:
            raise ValueError(f"`max_premium` must lie in (0, 1], got {mp}.")
        object.__setattr__(self, "max_premium", mp)
        d = self.demand
        if isinstance(d, bool):
            raise TypeError("`demand` must be a positive number or a callable, not a bool.")
        if not callable(d):
            object.__setattr__(self, "demand", check_positive("demand", d))

    @property
    def unlimited(self) -> bool:
        """True for infinite capital (the premium is identically 0)."""
        return math.isinf(self.capital)

    def premium(self, flow: Array, capital: Array) -> Array:
        r"""Clearing premium :math:`\min(g(F, K), \lambda_{\max})` (vectorised)."""
        F = np.maximum(np.asarray(flow, dtype=float), 0.0)
        K = np.maximum(np.asarray(capital, dtype=float), _K_FLOOR)
        if callable(self.demand):
            g = np.asarray(self.demand(F, K), dtype=float)
            if g.shape != np.broadcast_shapes(F.shape, K.shape) or not np.all(np.isfinite(g)) or np.any(g < 0):
                raise ValueError("The buyers' `demand(flow, capital)` must return finite, non-negative premia "
                                 "of the shape of its arguments.")
        else:
            g = float(self.demand) * F / K
        return np.minimum(g, self.max_premium)

    def slopes(self, F: Array, K: Array) -> tuple[Array, Array]:
        """:math:`\\partial g/\\partial F` and :math:`\\partial g/\\partial K` (0 where capped or floored)."""
        Kc = np.maximum(K, _K_FLOOR)
        if callable(self.demand):
            hF = 1e-6 * np.maximum(np.abs(F), 1e-3)
            hK = 1e-6 * Kc
            gF = (np.asarray(self.demand(F + hF, Kc)) - np.asarray(self.demand(np.maximum(F - hF, 0.0), Kc))) \
                / (F + hF - np.maximum(F - hF, 0.0))
            gK = (np.asarray(self.demand(F, Kc + hK)) - np.asarray(self.demand(F, Kc - hK))) / (2 * hK)
        else:
            s = float(self.demand)
            gF = s / Kc
            gK = -s * F / (Kc * Kc)
        g = self.premium(F, K)
        capped = g >= self.max_premium
        gF = np.where(capped, 0.0, gF)
        gK = np.where(capped | (K <= _K_FLOOR), 0.0, gK)
        return gF, gK


def capital_path(buyers: Buyers, flow: Array, dt: Array, nav: float) -> Array:
    """Dry powder at the start of every step, :math:`K_n` (M,), given the pressure ``flow`` (M,)."""
    M = flow.size
    K = np.empty(M)
    k = buyers.capital
    for n in range(M):
        K[n] = k
        k = max(k + dt[n] * (buyers.inflow - nav * max(float(flow[n]), 0.0)), _K_FLOOR)
    return K


def clearing_premium(buyers: Buyers | None, flow: Array, dt: Array, nav: float) -> tuple[Array, Array]:
    r"""The clearing premium :math:`\lambda^*_n` and the capital :math:`K_n` over the steps (each (M,)).

    ``buyers`` None or with unlimited capital: zero premium, infinite capital.
    """
    flow = np.asarray(flow, dtype=float)
    if buyers is None or buyers.unlimited:
        return np.zeros(flow.size), np.full(flow.size, math.inf)
    K = capital_path(buyers, flow, dt, nav)
    return buyers.premium(flow, K), K


def premium_jacobian(buyers: Buyers | None, flow: Array, dt: Array, nav: float) -> Array:
    r""":math:`\partial\lambda^*_n/\partial F_m` (M, M), lower triangular.

    :math:`\lambda^*_n = g(F_n, K_n)` and :math:`K_n = K_0 + \sum_{m<n}\Delta t_m(\iota - \mathrm{NAV}F_m)`, so
    :math:`\partial\lambda^*_n/\partial F_m = g_F\,\delta_{nm} - g_K\,\mathrm{NAV}\,\Delta t_m\,[m < n]`.
    """
    M = flow.size
    J = np.zeros((M, M))
    if buyers is None or buyers.unlimited:
        return J
    K = capital_path(buyers, flow, dt, nav)
    gF, gK = buyers.slopes(np.maximum(flow, 0.0), K)
    # once the capital is floored it no longer depends on earlier flows
    floored_after = np.maximum.accumulate(K <= _K_FLOOR)
    for n in range(M):
        J[n, n] = gF[n] * (flow[n] >= 0)
        if n and not floored_after[n]:
            J[n, :n] = -gK[n] * nav * dt[:n]
    return J


@dataclass(frozen=True, eq=False)
class MarketHooks:
    """A price coupling with the buyers' premium and a tax on sales applied on top.

    ``prices`` returns ``(price − NAV λ* − τ, market − NAV λ*, base)``: the seller
    receives the cleared price net of the tax; the market price (what others see,
    and what the fire-sale feedback responds to) is the cleared price.
    """

    inner: Any
    buyers: Buyers | None
    tax: Any
    dt: Array | None = None

    def __getattr__(self, name: str) -> Any:  # pass through attributes of the wrapped coupling
        if name == "inner":
            raise AttributeError(name)
        return getattr(self.inner, name)

    def premium(self, stats: Mapping[str, Array]) -> Array:
        """:math:`\\lambda^*` (M,) for the aggregate path ``stats``."""
        assert self.dt is not None
        return clearing_premium(self.buyers, np.asarray(stats["flow"]), self.dt, self.inner.market.nav)[0]

    def prices(self, ctx: Any, stats: Mapping[str, Array]) -> tuple[Array, Array, Array]:
        price, market, base = self.inner.prices(ctx, stats)
        nav = self.inner.market.nav
        if self.buyers is not None and not self.buyers.unlimited:
            lam = self.premium(stats)
            price = price - nav * lam[None, :, None]
            market = market - nav * lam[None, :]
        if self.tax is not None:
            price = price - nav * self.tax.charge(ctx.t_mid, ctx.x, price.shape[0])  # the charge [NAV]
        return price, market, base


def wrap_coupling(coupling: Any, market: Any, dt: Array) -> Any:
    """The engine's hook: ``coupling`` itself, or wrapped in :class:`MarketHooks` when the market has buyers or a tax.

    ``dt`` (M,) are the step lengths of the time grid (the buyers' capital is stepped on it).
    """
    buyers = getattr(market, "buyers", None)
    tax = getattr(market, "tax", None)
    if (buyers is None or buyers.unlimited) and tax is None:
        return coupling
    return MarketHooks(coupling, buyers, tax, np.asarray(dt, dtype=float))


def check_buyers(buyers: Any) -> Buyers | None:
    """Validate ``Market(buyers=...)``."""
    if buyers is None or isinstance(buyers, Buyers):
        return buyers
    raise TypeError(f"`buyers` must be a gelav.mfg.Buyers or None, got {type(buyers).__name__}.")


def equilibrium_premium(eq: Any) -> Array:
    r"""The clearing premium :math:`\lambda^*(t)` (M,) [fraction of NAV] of an equilibrium (0 without buyers)."""
    b = eq.model.market.buyers
    return clearing_premium(b, np.asarray(eq.aggregates["flow"], dtype=float), np.diff(eq.times),
                            eq.model.market.nav)[0]


def equilibrium_capital(eq: Any) -> Array:
    """The buyers' dry powder :math:`K_n` (M,) at the step starts of an equilibrium (inf without buyers)."""
    b = eq.model.market.buyers
    return clearing_premium(b, np.asarray(eq.aggregates["flow"], dtype=float), np.diff(eq.times),
                            eq.model.market.nav)[1]
