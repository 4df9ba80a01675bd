r"""Welfare accounting of an allocation of the mean-field game of exits.

For an allocation (an equilibrium, possibly of a taxed market, or the planner's optimum):

* **LP welfare** :math:`W = \sum_k w_k\int V_k\,d\mu_{0,k}` with the values of the
  allocation's policy at the *untaxed* market prices: the LPs' private value
  (sales net of the tax) plus the **tax revenue**, rebated to the LPs lump-sum
  (a transfer; nobody's decision can change his rebate),
  :math:`R = \sum_k w_k\sum_n D_{k,n}\,\Delta t_n\,q_{k,n}\cdot(k_{k,n}\tau_{k,n})`;
* **buyers' surplus** (with :class:`~gelav.mfg.Buyers` and a demand curve):
  :math:`B = \sum_n \bar D_n\Delta t_n\,\mathrm{NAV}\int_0^{F_n}(\lambda^*_n - g(f, K_n))\,df`
  (:math:`\bar D` the population-weighted discount), the premium buyers earn above
  their reservation premium; reported, not part of the planner's objective;
* the **welfare gap** :math:`W_P - W_E` (planner minus the untaxed equilibrium), and
  annualised as a fraction of NAV per year, :math:`(W_P - W_E)/(\mathrm{NAV}\,a)` with
  the annuity factor :math:`a = \sum_k w_k(1 - e^{-r_kT_k})/r_k` [years];
* the **share of the gap closed** by the allocation's tax, :math:`(W - W_E)/(W_P - W_E)`;
* the **price of anarchy** :math:`W_P/W_E \ge 1`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["Welfare", "welfare", "welfare_figure", "welfare_section"]

Array = NDArray[np.float64]


@dataclass(frozen=True)
class Welfare:
    """The welfare accounting of an allocation (see the module docstring); NAV per unit of LP population."""

    lp_welfare: float
    private_value: float
    tax_revenue: float
    rebate: str
    buyers_surplus: float
    total_welfare: float
    planner_welfare: float
    equilibrium_welfare: float
    gap: float
    gap_per_year: float
    share_closed: float
    price_of_anarchy: float
    annuity: float
    tax_at_start: dict[str, float]

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _annuity(model: Any) -> float:
    w = model.weights
    a = 0.0
    for k, t in enumerate(model.types):
        T = model.fund_end(k)
        r = t.discount_rate
        a += w[k] * ((1.0 - math.exp(-r * T)) / r if r > 0 else T)
    return float(a)


def _buyers_surplus(eq: Any, pb: Any) -> float:
    b = eq.model.market.buyers
    if b is None or b.unlimited:
        return 0.0
    from gelav.mfg.buyers import capital_path

    F = np.maximum(np.asarray(eq.aggregates["flow"], dtype=float), 0.0)
    K = capital_path(b, F, pb.dt, eq.model.market.nav)
    lam = b.premium(F, K)
    # Gauss-Legendre in the flow for the area under the inverse demand curve
    u, wq = np.polynomial.legendre.leggauss(16)
    f = 0.5 * (u[:, None] + 1.0) * F[None, :]
    area = 0.5 * F * np.sum(wq[:, None] * b.premium(f, np.broadcast_to(K, f.shape)), axis=0)
    Dbar = pb.weights @ pb.D[:, :-1]
    return float(np.sum(Dbar * pb.dt * eq.model.market.nav * (lam * F - area)))


def _accounts(eq: Any) -> tuple[float, float, float, Any]:
    """(LP welfare, private value, tax revenue, problem) of an equilibrium."""
    from gelav.mfg.engine import Problem

    mk = eq.model.market
    untaxed = replace(eq.model, market=replace(mk, tax=None))
    kw = dict(start=float(eq.times[0]), grid=eq.grid, time_grid=eq.time_grid, initial_pressure=eq.initial_pressure)
    pt = Problem(eq.model, eq.numerics, **kw)
    eps, delta = eq.numerics.epsilon, eq.numerics.delta
    bw = pt.backward(eq.path, eps, delta)
    private = float(pt.weights @ pt.population_value(bw))
    if mk.tax is None:
        return private, private, 0.0, pt
    pb = Problem(untaxed, eq.numerics, **kw)
    lp = float(pb.weights @ pb.population_value(pb.backward(eq.path, eps, delta, policy=bw.k)))
    return lp, private, lp - private, pb


def welfare(result: Any, *, planner: Any = None, baseline: Any = None) -> Welfare:
    r"""Welfare accounting of ``result`` (an :class:`~gelav.mfg.Equilibrium` or a :class:`~gelav.mfg.PlannerSolution`).

    Parameters
    ----------
    result : Equilibrium or PlannerSolution
        The allocation. An equilibrium of a taxed market (``Market(tax=...)``) is
        accounted with its revenue rebated lump-sum.
    planner : PlannerSolution, optional
        The planner's optimum of the untaxed model (solved on ``result``'s grid if omitted).
    baseline : Equilibrium, optional
        The untaxed equilibrium (``planner.equilibrium`` if omitted).

    Returns
    -------
    Welfare
        With ``lp_welfare = private_value + tax_revenue`` to rounding.
    """
    from gelav.mfg.planner import PlannerSolution, solve_planner
    from gelav.mfg.result import Equilibrium

    if isinstance(result, PlannerSolution):
        eq = result.allocation
        planner = result if planner is None else planner
    elif isinstance(result, Equilibrium):
        eq = result
    else:
        raise TypeError(f"`result` must be an Equilibrium or a PlannerSolution, got {type(result).__name__}.")
    if planner is not None and not isinstance(planner, PlannerSolution):
        raise TypeError(f"`planner` must be a PlannerSolution, got {type(planner).__name__}.")
    lp, private, revenue, pb = _accounts(eq)
    if planner is None:
        untaxed = replace(eq.model, market=replace(eq.model.market, tax=None))
        planner = solve_planner(untaxed, numerics=eq.numerics, start=float(eq.times[0]), grid=eq.grid,
                                time_grid=eq.time_grid, initial_pressure=eq.initial_pressure)
    if baseline is None:
        baseline = planner.equilibrium
    WE = lp if baseline is eq else _accounts(baseline)[0]  # the planner kept the equilibrium: the same accounts
    WP = float(planner.welfare)
    gap = WP - WE
    a = _annuity(eq.model)
    nav = eq.model.market.nav
    share = (lp - WE) / gap if gap > 1e-12 * nav else (1.0 if abs(lp - WE) <= 1e-12 * nav else math.nan)
    bs = _buyers_surplus(eq, pb)
    tax = planner.tax
    at = {f"{L:g}": float(tax(float(tax.times[0]), L)) for L in (0.0, -0.5, -1.0, -1.5, -2.0)
          if tax.nodes is not None and tax.nodes[0] <= L <= tax.nodes[-1]}
    return Welfare(lp_welfare=lp, private_value=private, tax_revenue=revenue, rebate="lump-sum to the LPs",
                   buyers_surplus=bs, total_welfare=lp + bs, planner_welfare=WP, equilibrium_welfare=WE, gap=gap,
                   gap_per_year=gap / (nav * a), share_closed=float(share),
                   price_of_anarchy=WP / WE if WE > 0 else math.nan, annuity=a, tax_at_start=at)


def welfare_figure(planner: Any, *, type: int = 0) -> Any:
    """Three panels side by side: :math:`\\tau^*(t, L)`, the exit boundaries and the price paths (game vs planner)."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(14, 4))
    planner.tax.plot(axes[0], type=type)
    eq, al = planner.equilibrium, planner.allocation
    axes[1].plot(eq.times, eq.boundary[type], label="equilibrium (game)")
    axes[1].plot(al.times, al.boundary[type], "--", label="planner (= game with τ*)")
    axes[1].set_xlabel("t [years]")
    axes[1].set_ylabel("exit boundary b(t): sell when L < b")
    axes[1].set_title("Exit policies")
    axes[1].legend()
    axes[2].plot(eq.t_mid, eq.price[type], label="equilibrium")
    axes[2].plot(al.t_mid, al.price[type], "--", label="planner")
    axes[2].plot(eq.t_mid, eq.no_feedback_price[type], ":", label="no crowding")
    axes[2].set_xlabel("t [years]")
    axes[2].set_ylabel("market price [NAV]")
    axes[2].set_title("Secondary price paths")
    axes[2].legend()
    fig.tight_layout()
    return fig


def welfare_section(planner: Any) -> dict[str, Any]:
    """Key numbers and the figure for a report section (``{"numbers": {...}, "figure": Figure}``).

    Hook into a report by adding a section titled "Welfare and the Pigouvian tax" that
    prints ``numbers`` as a table and embeds ``figure`` (see ``docs/welfare.md``).
    """
    w = welfare(planner)
    numbers = {"planner_welfare": w.planner_welfare, "equilibrium_welfare": w.equilibrium_welfare,
               "gap": w.gap, "gap_per_year": w.gap_per_year, "price_of_anarchy": w.price_of_anarchy,
               "tax_revenue": w.tax_revenue, "buyers_surplus": w.buyers_surplus,
               "planner_exits": float(planner.allocation.cumulative_exits[:, -1] @ planner.allocation.weights),
               "equilibrium_exits": float(planner.equilibrium.cumulative_exits[:, -1] @ planner.equilibrium.weights),
               **{f"tax_at_{k}": v for k, v in w.tax_at_start.items()}}
    return {"numbers": numbers, "figure": welfare_figure(planner)}
