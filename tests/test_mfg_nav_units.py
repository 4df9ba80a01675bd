"""``Market.nav`` is the unit of value: the mean-field game, the planner and the Pigouvian tax scale with it.

Every NAV input (yield, liquidity cost, temperature, tax) is a multiple of ``nav`` and the fire-sale
feedback reads the discount as a share of it. So with ``nav`` = a the equations are those of ``nav`` = 1
multiplied by a: values, prices, the DCF and welfare are a times those of ``nav`` = 1; exits, discounts
and τ* [share of NAV] are the same. Before, the running reward ignored ``nav``: at ``nav`` = 2 the exits
fell from 62 % to 19.5 % and the DCF scaled only its terminal NAV.

Tolerance: the two solves run the same iteration on the same numbers times a (exact for a power of two),
so they agree to rounding; for a = 100 the rounding of the products can move the stopping test by one
iteration, whose change is below the solver's ``tol`` (1e-8) — hence 10 × tol, relative. Every absolute
threshold on values (the Newton stop, the test for distinct equilibria, the share of the gap closed) is
relative to one NAV, so nav = 1e-6 solves as nav = 1 (it took 58 iterations and found two equilibria).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from gelav.mfg import (
    LPType,
    Market,
    MFGModel,
    Numerics,
    SolverOptions,
    solve,
    solve_planner,
    welfare,
)

NUM = Numerics(n_cells=40, n_steps=40, epsilon=1e-2)
TOL = SolverOptions().tol
REL = 10 * TOL


def _model(nav: float, **lp: float) -> MFGModel:
    return MFGModel((LPType(initial=("normal", -1.5, 0.4), liquidity_cost=0.3, **lp),),
                    Market(nav=nav, horizon=3.0))


@pytest.mark.parametrize("nav", [2.0, 100.0, 1e6, 1e-6])
@pytest.mark.parametrize("lp", [{}, {"feedback": 0.5, "herding": 0.3}], ids=["plain", "feedback"])
def test_equilibrium_scales_with_nav(nav: float, lp: dict[str, float]) -> None:
    one, a = solve(_model(1.0, **lp), numerics=NUM), solve(_model(nav, **lp), numerics=NUM)
    np.testing.assert_allclose(a.value / nav, one.value, rtol=REL, atol=REL)
    np.testing.assert_allclose(a.price / nav, one.price, rtol=REL)
    np.testing.assert_allclose(a.dcf / nav, one.dcf, rtol=1e-14)
    np.testing.assert_allclose(a.cumulative_exits, one.cumulative_exits, rtol=REL, atol=REL)
    np.testing.assert_allclose(a.discount, one.discount, rtol=REL, atol=REL)
    assert one.cumulative_exits[0, -1] > 0.3  # a case with exits, so the comparison can fail


def test_numba_engine_scales_with_nav() -> None:
    pytest.importorskip("numba")
    num = replace(NUM, engine="numba")
    one, a = solve(_model(1.0, feedback=0.5), numerics=num), solve(_model(1e-6, feedback=0.5), numerics=num)
    np.testing.assert_allclose(a.value / 1e-6, one.value, rtol=REL, atol=REL)
    np.testing.assert_allclose(a.cumulative_exits, one.cumulative_exits, rtol=REL, atol=REL)


def test_nav_below_a_millionth_is_refused() -> None:
    """Values of order ``nav`` × the temperature would leave the normal floats (nav = 1e-308 gave NaN)."""
    with pytest.raises(ValueError, match="`nav` must be at least 1e-06"):
        Market(nav=1e-7)


def test_dcf_is_the_hold_to_maturity_value() -> None:
    """DCF = NAV (y (1 - e^{-rT})/r + e^{-rT}), the yield and the terminal NAV both in NAV."""
    eq = solve(_model(2.0), numerics=NUM)
    t = eq.model.types[0]
    r, y, T = t.discount_rate, t.yield_rate, 3.0
    assert eq.dcf[0] == pytest.approx(2.0 * (y * (1 - np.exp(-r * T)) / r + np.exp(-r * T)), rel=1e-14)


def test_planner_tax_and_welfare_scale_with_nav() -> None:
    one, ten = (solve_planner(_model(nav, feedback=0.3), numerics=NUM) for nav in (1.0, 10.0))
    np.testing.assert_allclose(ten.tax.values, one.tax.values, rtol=REL, atol=REL)
    assert np.abs(one.tax.values).max() > 0.01  # a real externality
    assert ten.welfare / 10 == pytest.approx(one.welfare, rel=REL)
    assert ten.equilibrium_welfare / 10 == pytest.approx(one.equilibrium_welfare, rel=REL)
    w1, w10 = welfare(one.equilibrium, planner=one), welfare(ten.equilibrium, planner=ten)
    assert w10.gap_per_year == pytest.approx(w1.gap_per_year, rel=1e-6)
    # the game taxed by τ* [share of NAV] reproduces the planner's welfare at nav = 10 too
    m = _model(10.0, feedback=0.3)
    taxed = solve(replace(m, market=replace(m.market, tax=ten.tax)), numerics=NUM)
    assert welfare(taxed, planner=ten).lp_welfare == pytest.approx(ten.welfare, rel=1e-9)


def test_tol_above_a_tenth_is_refused() -> None:
    with pytest.raises(ValueError, match="`tol`"):
        SolverOptions(tol=1e308)
    with pytest.raises(ValueError, match="`stage_tol`"):
        SolverOptions(stage_tol=0.5)
