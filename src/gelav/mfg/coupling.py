r"""Secondary-market prices: how the population's state sets the exit price.

The default coupling is linear in moments of the holders' law (monotone, so
the equilibrium is unique):

.. math::

    \pi_k(t, L; \mu) = \mathrm{NAV}\,\big[1 - d_0 - d_1 (T_k - t)
        - \beta\,D(t) - \gamma\,F(t) - \delta\,(L_d - L)^+\big],
    \qquad D(t) = \sum_k w_k\,\mu_k(t, \{L < L_d\}),

where :math:`F(t)` is the exit flow (fraction of the initial population selling
per year). A user may pass any ``coupling(t, L, stats)``; it is wrapped in
:class:`CallableCoupling`.

Every coupling turns the aggregate path ``stats`` (arrays over the time steps)
into the price each type faces at each step and node, plus the "market price"
(the price for a seller at the type's long-run liquidity) used by the
fire-sale feedback.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["AGGREGATES", "CallableCoupling", "CouplingContext", "LinearCoupling", "make_coupling"]

#: names of the aggregate statistics the fixed point iterates on (rows of Z)
AGGREGATES = ("distressed", "flow", "mean", "holders")


@dataclass(frozen=True, eq=False)
class CouplingContext:
    """What a coupling needs to know about the discretisation.

    Attributes
    ----------
    t_mid : ndarray (M,)
        Step midpoints [years].
    remaining : ndarray (K, M)
        Remaining fund life :math:`T_k - t` at the midpoints (clipped at 0).
    x : ndarray (N,)
        Liquidity nodes.
    long_run : ndarray (K,)
        Each type's :math:`\\bar L`.
    """

    t_mid: NDArray[np.float64]
    remaining: NDArray[np.float64]
    x: NDArray[np.float64]
    long_run: NDArray[np.float64]


class LinearCoupling:
    """The default monotone price (see the module docstring)."""

    monotone = True

    def __init__(self, market: Any) -> None:
        self.market = market

    def base(self, ctx: CouplingContext) -> NDArray[np.float64]:
        """Price without crowding, :math:`\\mathrm{NAV}(1 - d_0 - d_1(T_k - t))`, shape (K, M)."""
        m = self.market
        return m.nav * (1.0 - m.base_discount - m.discount_per_year * ctx.remaining)

    def prices(self, ctx: CouplingContext, stats: Mapping[str, NDArray[np.float64]]
               ) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
        """Return ``(price (K, M, N), market price (K, M), no-crowding price (K, M))``."""
        m = self.market
        base = self.base(ctx)
        crowd = m.nav * (m.distress_impact * stats["distressed"] + m.flow_impact * stats["flow"])
        market = base - crowd[None, :]
        own = m.nav * m.own_distress * np.maximum(m.distress_level - ctx.x, 0.0)
        price = market[:, :, None] - own[None, None, :]
        return price, market, base


class CallableCoupling:
    """A user price function ``coupling(t, L, stats) -> price`` (vectorised in ``L``).

    ``stats`` holds floats ``distressed``, ``flow``, ``mean``, ``holders``,
    ``remaining``, ``nav`` and the int ``type``. Treated as non-monotone (the
    solver then tries several starting guesses).
    """

    monotone = False

    def __init__(self, func: Callable[..., Any], market: Any) -> None:
        if not callable(func):
            raise TypeError(f"`coupling` must be callable, got {type(func).__name__}.")
        self.func = func
        self.market = market

    def _eval(self, ctx: CouplingContext, stats: Mapping[str, NDArray[np.float64]], zero: bool
              ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        K, M = ctx.remaining.shape
        N = ctx.x.size
        price = np.empty((K, M, N))
        market = np.empty((K, M))
        for k in range(K):
            for n in range(M):
                s = {key: (0.0 if zero and key in ("distressed", "flow") else float(stats[key][n]))
                     for key in ("distressed", "flow", "mean", "holders")}
                s.update(remaining=float(ctx.remaining[k, n]), nav=self.market.nav, type=k)
                t = float(ctx.t_mid[n])
                if not zero:
                    v = np.asarray(self.func(t, ctx.x, s), dtype=float)
                    price[k, n] = np.broadcast_to(v, (N,))
                market[k, n] = float(np.asarray(self.func(t, np.array([ctx.long_run[k]]), s), dtype=float).ravel()[0])
        if not np.all(np.isfinite(market)) or (not zero and not np.all(np.isfinite(price))):
            raise ValueError("The user `coupling` returned non-finite prices.")
        return price, market

    def prices(self, ctx: CouplingContext, stats: Mapping[str, NDArray[np.float64]]
               ) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
        price, market = self._eval(ctx, stats, zero=False)
        _, base = self._eval(ctx, stats, zero=True)
        return price, market, base


def make_coupling(market: Any) -> LinearCoupling | CallableCoupling:
    """The coupling object for a :class:`~gelav.mfg.model.Market`."""
    if market.coupling is None:
        return LinearCoupling(market)
    return CallableCoupling(market.coupling, market)
