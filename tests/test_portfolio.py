"""Portfolio stress (issue 12): the six paths, marks and drawdowns by hand, exits, VaR/ES against the exact law and MC."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import norm

from gelav import OrnsteinUhlenbeck
from gelav.portfolio import SCENARIOS, Fund, Scenario, mark_distribution, stress_portfolio
from gelav.valuation.premium import IlliquidityPremium


def test_six_standard_paths_at_key_months():
    s = {n: Scenario.standard(n) for n in SCENARIOS}
    assert s["mild"].months[-1] == 12 and s["mild"].at(6) == pytest.approx(-0.25) and s["mild"].L[-1] == -0.5
    assert s["recession"].months[-1] == 24 and s["recession"].at(12) == pytest.approx(-0.5)
    assert s["recession"].L[-1] == pytest.approx(-1.0)
    assert s["gfc"].months[-1] == 18 and s["gfc"].L[-1] == pytest.approx(-1.5)
    assert s["gfc"].at(9) == pytest.approx(-1.5 * (1 - math.exp(-1.5)) / (1 - math.exp(-3)))
    assert list(s["covid"].L) == [0.0, -0.4, -1.0, -1.2, -0.9, -0.5, -0.3]
    assert s["stagnation"].months[-1] == 60 and s["stagnation"].at(3) == pytest.approx(-0.25)
    assert np.all(s["stagnation"].L[6:] == -0.5)
    assert s["reverse"].L[-1] == pytest.approx(1.0) and s["reverse"].at(6) == pytest.approx(0.5)
    g = Scenario.standard("gfc", L0=0.5)
    assert g.L[0] == 0.5 and g.L[-1] == pytest.approx(-1.5)
    assert Scenario.standard("mild", L0=1.0).at(6) == pytest.approx(0.25)
    with pytest.raises(ValueError, match="standard scenarios are mild, recession"):
        Scenario.standard("crash")


def test_linear_path_marks_and_drawdown_by_hand():
    # one fund, NAV 100, T = 4; L falls linearly 0 -> -1 over 12 months; linear premium pi = a(L) T
    p = IlliquidityPremium(0.02, -0.01, 0.0, scaling="linear")
    sc = Scenario.custom(np.linspace(0.0, -1.0, 13))
    res = stress_portfolio([Fund("A", 100.0, 4.0)], sc, premium=p)
    t = np.arange(13) / 12
    L = -t
    mark = 100 * (1 - (0.02 - 0.01 * L) * (4 - t))
    np.testing.assert_allclose(res.total, mark, rtol=1e-14)
    np.testing.assert_allclose(res.drawdown, mark / mark[0] - 1, rtol=1e-12)
    j = int(np.argmin(mark))
    assert res.max_drawdown == pytest.approx(mark[j] / 92.0 - 1) and mark[0] == pytest.approx(92.0)
    assert res.trough_month == j and res.recovery_month is None
    assert res.drawdown_from_book.min() == pytest.approx(mark.min() / 100 - 1)


def test_reverse_from_book_is_the_starting_discount():
    # the course's -10.9 % for "reverse": a fund of 5.87 years marked at 0.045 sqrt(T) below book at L0 = 0
    res = stress_portfolio([Fund("A", 100.0, 5.87)], "reverse")
    assert res.max_drawdown == 0.0  # marks only rise along "reverse"
    assert res.drawdown_from_book.min() == pytest.approx(-0.045 * math.sqrt(5.87), rel=1e-12)
    assert round(100 * res.drawdown_from_book.min(), 1) == -10.9
    assert res.starting_discount == pytest.approx(0.045 * math.sqrt(5.87))


def test_exits_below_boundary_freeze_the_mark():
    funds = [Fund("A", 100.0, 6.0), Fund("B", 50.0, 3.0)]
    res = stress_portfolio(funds, "gfc", boundary=lambda remaining: -1.0)
    L = Scenario.standard("gfc").L
    first = int(np.flatnonzero(L < -1.0)[0])
    assert res.exit_month == {"A": float(first), "B": float(first)}
    assert np.all(res.marks[first:, 0] == res.marks[first, 0])
    none = stress_portfolio(funds, "gfc")
    assert none.exit_month == {"A": None, "B": None}
    np.testing.assert_allclose(none.marks[: first + 1], res.marks[: first + 1])


def test_boundary_object_maps_remaining_life():
    class Boundary:
        fund_life = 10.0

        def boundary(self, t):
            return -0.4 if t >= 5.0 else -5.0  # only funds with <= 5 years left exit

    res = stress_portfolio([Fund("old", 10.0, 4.0), Fund("young", 10.0, 9.0)], "recession", boundary=Boundary())
    assert res.exit_month["old"] is not None and res.exit_month["young"] is None


def test_recovery_and_stochastic_path():
    res = stress_portfolio([Fund("A", 1.0, 8.0)], Scenario.custom([0.0, -1.0, -0.5, 0.0, 0.2]))
    assert res.trough_month == 1.0 and res.recovery_month == 3.0
    a = Scenario.stochastic(months=24, L0=0.0, seed=4)
    b = Scenario.stochastic(months=24, L0=0.0, seed=4)
    assert a.L.size == 25 and np.array_equal(a.L, b.L) and a.L[0] == 0.0


def test_bad_inputs():
    with pytest.raises(ValueError, match="`nav` must be >= 0"):
        Fund("A", -1.0, 3.0)
    with pytest.raises(TypeError, match="`funds\\[1\\]` must be a Fund"):
        stress_portfolio([Fund("A", 1.0, 2.0), "B"], "mild")
    with pytest.raises(ValueError, match="duplicate names"):
        stress_portfolio([Fund("A", 1.0, 2.0), Fund("A", 1.0, 3.0)], "mild")
    with pytest.raises(ValueError, match="`months` must start at 0"):
        Scenario.custom([0.0, 1.0], months=[1.0, 2.0])
    with pytest.raises(TypeError, match="`boundary`"):
        stress_portfolio([Fund("A", 1.0, 2.0)], "mild", boundary="low")
    # two funds of NAV 1e308: the total mark (2e308) printed as inf, drawdowns NaN
    big = [Fund("A", 1e308, 6.0), Fund("B", 1e308, 6.0)]
    with pytest.raises(ValueError, match="`nav`"):
        stress_portfolio(big, "mild")
    # the loss law is summed without the marks (their differences stay finite), and the start mark is 1.78e308
    m = mark_distribution(big, 1.0, n_cells=200, n_steps=20)
    assert math.isfinite(m.start_mark) and all(math.isfinite(v) for v in (*m.var.values(), *m.es.values()))
    small = mark_distribution([Fund("A", 1.0, 6.0), Fund("B", 1.0, 6.0)], 1.0, n_cells=200, n_steps=20)
    assert m.es[0.99] == pytest.approx(1e308 * small.es[0.99], rel=1e-12)
    with pytest.raises(ValueError, match="`nav`"):  # three of them: the start mark itself overflows
        mark_distribution([*big, Fund("C", 1e308, 6.0)], 1.0, n_cells=200, n_steps=20)


# ---------------------------------------------------------------------------
# distributional view
# ---------------------------------------------------------------------------
def _exact_loss_cdf(funds, prem, h, L0, ou, ell):
    """P(loss <= ell) exactly: the loss is a convex quadratic in L_h ~ N(m, s^2) (gamma > 0)."""
    m = ou.mean + (L0 - ou.mean) * math.exp(-ou.kappa * h)
    s = ou.sigma * math.sqrt((1 - math.exp(-2 * ou.kappa * h)) / (2 * ou.kappa))
    f = [(F.nav, math.sqrt(max(F.remaining_life - h, 0))) for F in funds]
    start = sum(n * (1 - prem(L0, F.remaining_life)) for (n, _), F in zip(f, funds, strict=True))
    W = sum(n * ft for n, ft in f)
    # loss(x) = start - sum n + W a(x) <= ell  <=>  gamma x^2 + beta x + alpha - (ell - start + sum n)/W <= 0
    c = prem.alpha - (ell - start + sum(n for n, _ in f)) / W
    disc = prem.beta ** 2 - 4 * prem.gamma * c
    if disc <= 0:
        return 0.0
    x1 = (-prem.beta - math.sqrt(disc)) / (2 * prem.gamma)
    x2 = (-prem.beta + math.sqrt(disc)) / (2 * prem.gamma)
    return norm.cdf((x2 - m) / s) - norm.cdf((x1 - m) / s)


def test_var_matches_exact_law_of_nonmonotone_loss():
    ou = OrnsteinUhlenbeck(0.45, 1.0, 0.32)
    prem = IlliquidityPremium()
    funds = [Fund("A", 100.0, 6.0), Fund("B", 50.0, 9.0)]
    d = mark_distribution(funds, 1.0, process=ou, L0=0.0, premium=prem, levels=(0.95, 0.99), n_cells=400)
    for q in (0.95, 0.99):
        assert _exact_loss_cdf(funds, prem, 1.0, 0.0, ou, d.var[q]) == pytest.approx(q, abs=5e-4)
        assert d.es[q] >= d.var[q]
    assert d.cdf(d.var[0.99]) == pytest.approx(0.99, abs=1e-3)


def test_var_es_against_monte_carlo_within_error():
    from gelav.montecarlo import simulate

    ou = OrnsteinUhlenbeck(0.45, 1.0, 0.32)
    prem = IlliquidityPremium()
    funds = [Fund("A", 100.0, 6.0), Fund("B", 50.0, 9.0)]
    h, L0, n = 2.0, -0.5, 200_000
    d = mark_distribution(funds, h, process=ou, L0=L0, premium=prem, levels=(0.9, 0.99))
    x = simulate(ou, L0, h, 1, n, scheme="exact", seed=8).values[-1]
    loss = d.start_mark - sum(F.nav * (1 - prem(x, F.remaining_life - h)) for F in funds)
    for q in (0.9, 0.99):
        p_hat = float(np.mean(loss <= d.var[q]))
        assert abs(p_hat - q) < 4 * math.sqrt(q * (1 - q) / n) + 1e-3
        tail = loss[loss >= np.quantile(loss, q)]
        assert abs(tail.mean() - d.es[q]) < 4 * tail.std(ddof=1) / math.sqrt(tail.size) + 0.01 * abs(d.es[q])


def test_monotone_map_reproduces_mapped_quantile():
    # a linear-in-L premium with beta < 0 and gamma = 0: loss decreasing in L, VaR_q = loss(L quantile 1 - q)
    ou = OrnsteinUhlenbeck(0.45, 1.0, 0.32)
    prem = IlliquidityPremium(0.05, -0.02, 0.0)
    funds = [Fund("A", 100.0, 5.0)]
    d = mark_distribution(funds, 1.0, process=ou, L0=0.0, premium=prem, levels=(0.95,), n_cells=800, refine=32)
    m = 1.0 - math.exp(-0.45)
    s = 0.32 * math.sqrt((1 - math.exp(-0.9)) / 0.9)
    xq = m + s * norm.ppf(0.05)
    exact = d.start_mark - 100 * (1 - prem(xq, 4.0))
    assert d.var[0.95] == pytest.approx(exact, abs=2e-3)


# ---------------------------------------------------------------------------
# marks priced with a mean-field equilibrium
# ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def stress_equilibria():
    """The stress preset's equilibrium (price coupling on) and the same market with no coupling (small grid)."""
    import dataclasses

    from gelav.mfg import SCENARIOS, Numerics, solve

    model = SCENARIOS["stress"].model
    uncoupled = dataclasses.replace(model, market=dataclasses.replace(model.market, distress_impact=0.0,
                                                                      flow_impact=0.0))
    num = Numerics(n_cells=40, n_steps=30)
    return solve(model, numerics=num), solve(uncoupled, numerics=num)


def test_equilibrium_marks_without_coupling_are_the_plain_marks(stress_equilibria):
    _, eq0 = stress_equilibria
    funds = [Fund("A", 100.0, 6.0), Fund("B", 50.0, 9.0)]
    plain = mark_distribution(funds, 1.0, L0=-0.5, levels=(0.95, 0.99), n_cells=200)
    priced = mark_distribution(funds, 1.0, L0=-0.5, levels=(0.95, 0.99), n_cells=200, equilibrium=eq0)
    assert priced.diagnostics["crowding_discount"] == (0.0, 0.0)  # no coupling: the price is the base price
    assert priced.start_mark == plain.start_mark
    assert np.array_equal(priced.loss, plain.loss)
    assert priced.var == plain.var and priced.es == plain.es


def test_equilibrium_marks_carry_the_equilibrium_price_path(stress_equilibria):
    eq, _ = stress_equilibria
    funds = [Fund("A", 100.0, 6.0), Fund("B", 50.0, 9.0)]
    h = 1.5
    # the crowding discount from the equilibrium's own price path: discount to NAV minus the base discount
    c = eq.discount[0] - (1.0 - eq.base_price[0] / eq.model.market.nav)
    c0, ch = float(np.interp(0.0, eq.t_mid, c)), float(np.interp(h, eq.t_mid, c))
    assert ch > 0 and c0 > 0  # the stress preset's sellers depress the price
    # a zero premium: the mark is NAV·(1 − c(t)), the loss a point mass at ΣN (c(h) − c(0))
    zero = mark_distribution(funds, h, L0=-0.5, premium=lambda L, T: 0.0 * np.asarray(L), levels=(0.95,),
                             n_cells=100, equilibrium=eq)
    shift = 150.0 * (ch - c0)
    assert zero.start_mark == pytest.approx(150.0 * (1.0 - c0), rel=1e-14)
    assert zero.var[0.95] == pytest.approx(shift, rel=1e-12) and zero.es[0.95] == pytest.approx(shift, rel=1e-12)
    # with the premium: the plain law shifted by the same amount, atom by atom
    plain = mark_distribution(funds, h, L0=-0.5, levels=(0.95, 0.99), n_cells=200)
    priced = mark_distribution(funds, h, L0=-0.5, levels=(0.95, 0.99), n_cells=200, equilibrium=eq)
    assert np.allclose(priced.loss, plain.loss + shift, rtol=0, atol=1e-10)
    for q in (0.95, 0.99):
        assert priced.var[q] == pytest.approx(plain.var[q] + shift, abs=1e-10)
        assert priced.es[q] == pytest.approx(plain.es[q] + shift, abs=1e-10)


def test_equilibrium_marks_bad_arguments(stress_equilibria):
    eq, _ = stress_equilibria
    funds = [Fund("A", 100.0, 6.0)]
    with pytest.raises(ValueError, match="beyond the equilibrium's horizon"):
        mark_distribution(funds, 6.0, equilibrium=eq, n_cells=50)
    with pytest.raises(ValueError, match="`equilibrium_type`"):
        mark_distribution(funds, 1.0, equilibrium=eq, equilibrium_type="nobody", n_cells=50)
    with pytest.raises(ValueError, match="`equilibrium_type`"):
        mark_distribution(funds, 1.0, equilibrium=eq, equilibrium_type=3, n_cells=50)
    with pytest.raises(TypeError, match="`equilibrium` must be a solved"):
        mark_distribution(funds, 1.0, equilibrium=0.5, n_cells=50)


def test_mark_distribution_at_vanishing_horizons():
    """h = 1e-308 gave ES = NaN (the Fokker–Planck steps overflowed) and h = 1e-30 an ES of 1.3e-23, the
    marks' rounding. Below a spread σ(L0)√h of 1e-12 the loss is the one atom of the marks' change at L0; above
    it the loss is summed without cancelling the marks, so VaR and ES scale like √h down to h = 1e-22."""
    from gelav.valuation.stress import Fund, mark_distribution

    fs = [Fund("A", 100.0, 6.0), Fund("B", 40.0, 8.0, "venture")]
    for h in (1e-308, 1e-30):
        m = mark_distribution(fs, h)
        assert m.density is None and "deterministic" in m.diagnostics
        assert all(v == 0.0 for v in (*m.var.values(), *m.es.values()))
    a, b = mark_distribution(fs, 1e-22), mark_distribution(fs, 1e-20)
    for q in (0.95, 0.99):
        assert b.var[q] / a.var[q] == pytest.approx(10.0, rel=1e-4)
        assert b.es[q] / a.es[q] == pytest.approx(10.0, rel=1e-4)


def test_mark_distribution_past_every_fund_s_life_is_the_certain_loss():
    """A horizon at or past every fund's remaining life was an IndexError (the loss a 0-d array). The marks
    at h are then the NAVs whatever L_h: the loss is minus today's premium, -Σ N_i π(L0, T_i), with
    probability 1; one fund still alive keeps the law random."""
    prem = IlliquidityPremium()
    fs = [Fund("A", 100.0, 5.87), Fund("B", 50.0, 3.0)]
    certain = -(100.0 * prem(0.3, 5.87) + 50.0 * prem(0.3, 3.0))
    for h in (5.87, 6.0, 30.0):
        m = mark_distribution(fs, h, L0=0.3)
        assert m.density is None and "remaining life" in m.diagnostics["deterministic"]
        for q in m.levels:
            assert m.var[q] == pytest.approx(certain, rel=1e-14) and m.es[q] == pytest.approx(certain, rel=1e-14)
    m = mark_distribution(fs, 4.0, L0=0.3)
    assert m.density is not None and m.var[0.99] > m.var[0.95]


def test_boundary_object_shorter_than_a_fund_s_life_is_refused():
    # a 14-year stake under a 10-year boundary silently used L*(0), the boundary of a fund with 10 years left
    class Boundary:
        fund_life = 10.0

        def boundary(self, t):
            return -0.4

    with pytest.raises(ValueError, match=r"fund 'long'.*fund life of 10 y.*remaining life of 14 y"):
        stress_portfolio([Fund("ok", 10.0, 10.0), Fund("long", 10.0, 14.0)], "recession", boundary=Boundary())


def test_stochastic_scenario_months_are_bounded_naming_months():
    # months = 1e9 blamed `horizon` (the simulation's, 8.3e7 years) and would have simulated the whole path
    with pytest.raises(ValueError, match=r"`months` = 1000000000 is more than 12000"):
        Scenario.stochastic(months=1_000_000_000, seed=1)
    assert Scenario.stochastic(months=12_000, seed=1).months[-1] == 12_000
