"""Preset scenarios and the phenomena of seed 001 as reproducible experiments.

Presets (:data:`SCENARIOS`, name -> :class:`Scenario`):

``calm``
    one LP type starting at its stationary law N(1, 0.32²/0.9).
``stress``
    the seed's stress test: every LP at L₀ = −0.5 (seed 000).
``crisis``
    mass far below zero: L₀ ~ N(−2, 0.3²).
``heterogeneous``
    three LP types (pension funds, endowments, sovereign funds) with their own
    dynamics, costs, weights and stressed starting laws.
``fire-sale``
    the crisis with fire-sale feedback η = 0.8 (falling prices push liquidity down):
    non-monotone, the solver tries several starting guesses.
``vintages``
    three fund vintages (ends at 3, 6, 9 years) sharing one market; only the
    middle vintage starts stressed.
``thin-market``
    a non-monotone user coupling (the discount shrinks when many sell): two
    equilibria, a thin no-trade market and a selling wave; the solver reports both.
``q4-seasonality``
    a year-end denominator effect (illiquidity costs more in Q4): exit volume peaks every Q4.

Phenomena (:data:`PHENOMENA`, name -> function returning a :class:`Phenomenon`):
``crisis-amplification``, ``fire-sales``, ``recovery``, ``spillover``,
``seasonality``, ``stress-probability``. Each returns the numbers and a figure.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from gelav.mfg.model import LPType, Market, MFGModel, Numerics, SolverOptions

__all__ = ["PHENOMENA", "SCENARIOS", "Phenomenon", "Scenario", "ThickMarket", "phenomenon", "scenario"]


@dataclass(frozen=True)
class Scenario:
    """A named model with its numerical settings."""

    name: str
    description: str
    model: MFGModel
    numerics: Numerics = field(default_factory=Numerics)
    options: SolverOptions = field(default_factory=SolverOptions)

    def solve(self, **kwargs: Any) -> Any:
        """Solve the scenario (keywords as :func:`gelav.mfg.solve`, e.g. ``numerics=``)."""
        from gelav.mfg.solver import solve

        kwargs.setdefault("numerics", self.numerics)
        kwargs.setdefault("options", self.options)
        return solve(self.model, **kwargs)

    def with_numerics(self, **changes: Any) -> Scenario:
        return replace(self, numerics=replace(self.numerics, **changes))


class ThickMarket:
    r"""A non-monotone user coupling: the discount shrinks when many sell (thick-market externality).

    .. math::

        \pi = \mathrm{NAV}\,\big[1 - d_0 - d_1 (T - t) - d_{\text{thin}}\,e^{-F/F_0}\big]

    More sellers make the market deeper and the discount smaller, so selling is
    a strategic complement: a no-trade equilibrium (thin market, wide
    discount) and a selling-wave equilibrium can coexist.
    """

    def __init__(self, thin_discount: float = 0.25, flow_scale: float = 0.5, base_discount: float = 0.08,
                 discount_per_year: float = 0.02) -> None:
        self.thin_discount = thin_discount
        self.flow_scale = flow_scale
        self.base_discount = base_discount
        self.discount_per_year = discount_per_year

    def __call__(self, t: float, L: Any, stats: dict[str, float]) -> Any:
        d = self.base_discount + self.discount_per_year * stats["remaining"]
        d = d + self.thin_discount * np.exp(-stats["flow"] / self.flow_scale)
        return stats["nav"] * (1.0 - d) + 0.0 * np.asarray(L)


def _heterogeneous() -> MFGModel:
    return MFGModel((
        LPType(name="pension", weight=0.5, kappa=0.35, mean=0.9, sigma=0.35, liquidity_cost=0.18,
               initial=("normal", -1.2, 0.35)),
        LPType(name="endowment", weight=0.3, kappa=0.6, mean=1.2, sigma=0.28, liquidity_cost=0.10,
               initial=("normal", -0.5, 0.3)),
        LPType(name="sovereign", weight=0.2, kappa=0.5, mean=1.5, sigma=0.22, liquidity_cost=0.05,
               yield_rate=0.035, initial=("normal", 0.5, 0.3)),
    ), Market(), name="heterogeneous")


SCENARIOS: dict[str, Scenario] = {
    "calm": Scenario("calm", "One LP type at its stationary liquidity law.",
                     MFGModel((LPType(initial="stationary"),), Market(), name="calm")),
    "stress": Scenario("stress", "Seed 000 stress test: every LP starts at L0 = -0.5.",
                       MFGModel((LPType(initial=-0.5),), Market(), name="stress")),
    "crisis": Scenario("crisis", "Mass far below zero: L0 ~ N(-2, 0.3^2).",
                       MFGModel((LPType(initial=("normal", -2.0, 0.3)),), Market(), name="crisis")),
    "heterogeneous": Scenario("heterogeneous", "Pension funds, endowments and sovereign funds in one market.",
                              _heterogeneous()),
    "fire-sale": Scenario("fire-sale", "Crisis with fire-sale feedback eta = 0.8 (non-monotone).",
                          MFGModel((LPType(initial=("normal", -1.5, 0.3), feedback=0.8),), Market(),
                                   name="fire-sale")),
    "vintages": Scenario("vintages", "Three vintages (ends 3, 6, 9 years); only the 6-year vintage is stressed.",
                         MFGModel((
                             LPType(name="vintage-3y", weight=1 / 3, fund_end=3.0),
                             LPType(name="vintage-6y", weight=1 / 3, fund_end=6.0, initial=("normal", -2.0, 0.3)),
                             LPType(name="vintage-9y", weight=1 / 3, fund_end=9.0),
                         ), Market(horizon=9.0), name="vintages")),
    "thin-market": Scenario("thin-market", "Non-monotone thick-market coupling: a no-trade and a "
                            "selling-wave equilibrium coexist.",
                            MFGModel((LPType(initial=("normal", -1.0, 0.4)),),
                                     Market(coupling=ThickMarket(), absorption_time=0.0), name="thin-market")),
    "q4-seasonality": Scenario("q4-seasonality", "Year-end denominator effect: illiquidity costs 7x more at "
                               "mid-Q4; secondary volume peaks every fourth quarter.",
                               MFGModel((LPType(mean=0.5, initial="stationary", q4_cost=6.0),),
                                        Market(horizon=5.0), name="q4-seasonality")),
}


def scenario(name: str) -> Scenario:
    """The preset called ``name``.

    Raises
    ------
    ValueError
        Unknown name (the message lists the presets).
    """
    if name not in SCENARIOS:
        raise ValueError(f"Unknown scenario {name!r}; presets are {', '.join(SCENARIOS)}.")
    return SCENARIOS[name]


# -- phenomena ------------------------------------------------------------------
@dataclass(frozen=True)
class Phenomenon:
    """Numbers and a figure for one of the seed's phenomena."""

    name: str
    description: str
    metrics: dict[str, Any]
    figure: Callable[[], Any]


_FAST = Numerics(n_cells=120, n_steps=120)


def _solve(model: MFGModel, numerics: Numerics | None, **kw: Any) -> Any:
    from gelav.mfg.solver import solve

    return solve(model, numerics=numerics or _FAST, **kw)


def _against_reference(x: Any, y: Any, fmt: str, label: str, ref: Any, ref_label: str, xlabel: str, ylabel: str,
                       title: str) -> Any:
    """One figure: the equilibrium curve ``y`` (format ``fmt``) against the dashed reference ``ref``."""
    from gelav.plot import new_axes

    f, ax = new_axes()
    ax.plot(x, y, fmt, label=label)
    ax.plot(x, ref, "--", label=ref_label)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend()
    return f


def crisis_amplification(numerics: Numerics | None = None, means: tuple[float, ...] = (0.5, 0.0, -0.5, -1.0, -1.5, -2.0, -2.5)) -> Phenomenon:
    """Worst discount against the initial distress: it widens more than in proportion.

    Sweeps the mean of the starting law N(m, 0.3²); reports the distressed mass
    at the start (before any exit), the worst equilibrium discount and the
    part due to selling pressure: once nearly everybody is distressed the
    discount keeps widening through fire sales, beyond the proportional
    β·D line.
    """
    rows = []
    for m in means:
        eq = _solve(MFGModel((LPType(initial=("normal", m, 0.3)),), Market()), numerics)
        d0 = eq.stress_probability(eq.model.market.distress_level, t=float(eq.times[0]))  # before any exit
        worst = float(eq.discount[0].max())
        base = float(1 - eq.base_price[0, 0])
        flow_part = float(eq.model.market.flow_impact * eq.aggregates["flow"].max())
        rows.append({"start_mean": m, "distressed": d0, "worst_discount": worst, "base_discount": base,
                     "pressure_discount": flow_part, "exits": float(eq.cumulative_exits[0, -1])})
    excess = np.array([r["worst_discount"] - r["base_discount"] for r in rows])
    dist = np.array([r["distressed"] for r in rows])
    lin = np.array([eq.model.market.distress_impact * d for d in dist])

    def fig() -> Any:
        return _against_reference(dist, excess, "o-", "equilibrium excess discount", lin,
                                  "proportional to distress (β·D)", "distressed mass at the start D(0)",
                                  "worst discount beyond the base [NAV]", "Crisis amplification")

    return Phenomenon("crisis-amplification", crisis_amplification.__doc__.splitlines()[0],  # type: ignore[union-attr]
                      {"rows": rows, "max_excess_over_proportional": float(np.max(excess - lin))}, fig)


def fire_sales(numerics: Numerics | None = None) -> Phenomenon:
    """Exit spike at the start of a crisis: a large share sells within weeks."""
    eq = _solve(SCENARIOS["crisis"].model, numerics)
    i = int(np.argmax(eq.exit_flow[0]))
    first_q = float(np.interp(0.25, eq.times, eq.cumulative_exits[0]))
    return Phenomenon("fire-sales", fire_sales.__doc__.splitlines()[0],  # type: ignore[union-attr]
                      {"peak_flow_per_year": float(eq.exit_flow[0, i]), "peak_at": float(eq.t_mid[i]),
                       "exits_first_quarter": first_q, "total_exits": float(eq.cumulative_exits[0, -1]),
                       "no_feedback_total_exits": float(eq.no_feedback_cumulative_exits[0, -1])},
                      eq.plot_exits)


def recovery(numerics: Numerics | None = None) -> Phenomenon:
    """After the crisis the discount returns to its long-run level non-linearly (not like the OU mean)."""
    eq = _solve(SCENARIOS["crisis"].model, numerics)
    exc = eq.price[0] - eq.base_price[0]
    e0 = exc[0]
    t = eq.t_mid - eq.t_mid[0]
    kappa = eq.model.types[0].kappa
    ou = e0 * np.exp(-kappa * t)
    below = np.nonzero(exc / e0 <= 0.5)[0] if e0 != 0 else np.array([], dtype=int)
    half = float(t[below[0]]) if below.size else float("nan")
    dev = float(np.max(np.abs(exc - ou)) / abs(e0)) if e0 != 0 else 0.0

    def fig() -> Any:
        return _against_reference(eq.t_mid, -exc, "-", "equilibrium excess discount", -ou,
                                  "exponential (OU mean-reversion) recovery", "time t [years]",
                                  "discount beyond the base [NAV]", "Non-linear recovery after a crisis")

    return Phenomenon("recovery", recovery.__doc__.splitlines()[0],  # type: ignore[union-attr]
                      {"initial_excess_discount": float(-e0), "half_recovery_years": half,
                       "ou_half_life_years": float(np.log(2) / kappa), "max_relative_deviation_from_ou": dev}, fig)


def spillover(numerics: Numerics | None = None) -> Phenomenon:
    """Stress in one vintage lowers the prices of the other vintages (one shared market)."""
    sc = SCENARIOS["vintages"]
    num = numerics or Numerics(n_cells=120, n_steps=180)
    eq = _solve(sc.model, num)
    calm = sc.model.with_initial(["stationary"] * 3)
    eq0 = _solve(calm, num)
    drop = {n: float(np.max(eq0.price[k] - eq.price[k])) for k, n in enumerate(eq.type_names)}

    def fig() -> Any:
        from gelav.plot import new_axes

        f, ax = new_axes()
        for k, n in enumerate(eq.type_names):
            line, = ax.plot(eq.t_mid, eq.price[k], label=f"{n} (6y vintage stressed)")
            ax.plot(eq0.t_mid, eq0.price[k], ls=":", color=line.get_color(), label=f"{n} (all calm)")
        ax.set_xlabel("time t [years]")
        ax.set_ylabel("secondary price [NAV]")
        ax.set_title("Cross-vintage spillover")
        ax.legend(fontsize=8)
        return f

    return Phenomenon("spillover", spillover.__doc__.splitlines()[0],  # type: ignore[union-attr]
                      {"max_price_drop": drop}, fig)


def seasonality(numerics: Numerics | None = None) -> Phenomenon:
    """A year-end denominator effect concentrates secondary volume in the fourth quarter."""
    sc = SCENARIOS["q4-seasonality"]
    eq = _solve(sc.model, numerics or Numerics(n_cells=120, n_steps=200))
    q4 = (eq.t_mid % 1.0) >= 0.75
    dt = np.diff(eq.times)
    vol = eq.exit_flow[0] * dt
    year = np.floor(eq.t_mid).astype(int)
    share = []
    for y in np.unique(year):
        sel = year == y
        tot = vol[sel].sum()
        share.append(float(vol[sel & q4].sum() / tot) if tot > 0 else float("nan"))

    def fig() -> Any:
        return eq.plot_exits()

    return Phenomenon("seasonality", seasonality.__doc__.splitlines()[0],  # type: ignore[union-attr]
                      {"q4_share_by_year": share, "q4_share_uniform": 0.25}, fig)


def stress_probability(numerics: Numerics | None = None, feedbacks: tuple[float, ...] = (0.0, 0.4, 0.8)) -> Phenomenon:
    r"""Seed 000's remark made measurable: P(L_2 < −0.5 | L_0 = −0.5) for one LP vs inside the equilibrium.

    The single-LP Fokker–Planck answer is 0.19 %; inside the population the
    liquidity dynamics include the equilibrium price feedback. From the
    seed's −0.5 (stable regime) the two agree; from a crisis start with
    fire-sale feedback the externality takes over.
    """
    from gelav.forward import forward
    from gelav.processes import OrnsteinUhlenbeck, Process

    num = numerics or _FAST
    single = forward(OrnsteinUhlenbeck(0.45, 1.0, 0.32), -0.5, 2.0).prob(below=-0.5)
    rows = []
    for start, label in ((-0.5, "stress L0=-0.5"), (("normal", -1.5, 0.3), "crisis N(-1.5, 0.3)")):
        for eta in feedbacks:
            model = MFGModel((LPType(initial=start, feedback=eta),), Market())
            eq = _solve(model, num, no_feedback=False)
            pressure = eq.price[0] - eq.base_price[0]
            tm = eq.t_mid

            def drift(t: float, x: Any, _p=pressure, _tm=tm, _eta=eta) -> Any:
                return 0.45 * (1.0 - x) + _eta * float(np.interp(t, _tm, _p))

            proc = Process(drift, lambda t, x: 0.32 + 0 * x, name="L in equilibrium")
            pe = forward(proc, -0.5, 2.0, domain=(-4.0, 3.0), n_cells=400, n_steps=200).prob(below=-0.5)
            rows.append({"population": label, "feedback": eta, "single_lp": single, "in_equilibrium": pe,
                         "ratio": pe / single})

    def fig() -> Any:
        from gelav.plot import new_axes

        f, ax = new_axes()
        for label in dict.fromkeys(r["population"] for r in rows):
            rr = [r for r in rows if r["population"] == label]
            ax.semilogy([r["feedback"] for r in rr], [r["in_equilibrium"] for r in rr], "o-", label=label)
        ax.axhline(single, color="0.4", ls="--", label="single-LP Fokker–Planck (0.19 %)")
        ax.set_xlabel("fire-sale feedback η")
        ax.set_ylabel("P(L₂ < −0.5 | L₀ = −0.5)")
        ax.set_title("Stress probability: one LP vs the equilibrium population")
        ax.legend()
        return f

    return Phenomenon("stress-probability", "P(L_2 < -0.5) for one LP vs inside the equilibrium population.",
                      {"rows": rows, "single_lp": single}, fig)


PHENOMENA: dict[str, Callable[..., Phenomenon]] = {
    "crisis-amplification": crisis_amplification,
    "fire-sales": fire_sales,
    "recovery": recovery,
    "spillover": spillover,
    "seasonality": seasonality,
    "stress-probability": stress_probability,
}


def phenomenon(name: str, numerics: Numerics | None = None) -> Phenomenon:
    """Run the phenomenon experiment ``name`` (see :data:`PHENOMENA`)."""
    if name not in PHENOMENA:
        raise ValueError(f"Unknown phenomenon {name!r}; registered: {', '.join(PHENOMENA)}.")
    return PHENOMENA[name](numerics)
