"""The LAV operator (issue 12): Takahashi–Alexander schedules by hand, DCF closed form, Monte Carlo within 4 s.e., order 2."""

from __future__ import annotations

import math

import numpy as np
import pytest

from gelav import OrnsteinUhlenbeck
from gelav.funds import TakahashiAlexander, liquidity_adjusted_value
from gelav.valuation.premium import IlliquidityPremium


def test_schedule_by_hand_first_years():
    m = TakahashiAlexander()  # commitment 100, RC = 25 %, 33.3 %, 50 %..., G = 13 %, Y = 0, B = 2.5, L_f = 12
    s = m.schedule()
    # year 1: C = 25, D = 0, NAV = 25
    assert (s.calls[0], s.distributions[0], s.nav[0]) == pytest.approx((25.0, 0.0, 25.0))
    # year 2: C = 0.333 * 75, D = (2/12)^2.5 * 25 * 1.13, NAV = 25 * 1.13 + C - D
    c2 = 0.333 * 75.0
    d2 = (2 / 12) ** 2.5 * 25.0 * 1.13
    assert s.calls[1] == pytest.approx(c2) and s.distributions[1] == pytest.approx(d2)
    assert s.nav[1] == pytest.approx(25.0 * 1.13 + c2 - d2)
    assert (c2, d2) == pytest.approx((24.975, 0.3203615), abs=1e-7)
    # year 3 onwards RC = 50 %; last year everything is distributed
    assert s.calls[2] == pytest.approx(0.5 * (75.0 - c2))
    assert s.nav[-1] == 0.0 and s.distributions[-1] == pytest.approx(s.nav[-2] * 1.13)
    assert s.calls[-1] == 0.0 and s.calls.sum() + s.unfunded[-1] == pytest.approx(100.0)


def test_schedule_liquidity_dependent_rates_and_yield():
    m = TakahashiAlexander(call_rates=0.4, yield_rate=0.1, call_liquidity=0.5, distribution_liquidity=1.0,
                           liquidity_mean=1.0, fund_life=5)
    L = np.array([0.0, -1.0, 1.0, 2.0, 1.0])
    s = m.schedule(L)
    rc = np.minimum(1, 0.4 * np.exp(0.5 * (L - 1)))
    rd = np.minimum(1, np.maximum(0.1, (np.arange(1, 6) / 5) ** 2.5) * np.exp(1.0 * (L - 1)))
    rc[-1], rd[-1] = 0.0, 1.0  # liquidation date
    N, U = 0.0, 100.0
    for k in range(5):
        C, D = rc[k] * U, rd[k] * N * 1.13
        N, U = N * 1.13 + C - D, U - C
        assert (s.calls[k], s.distributions[k], s.nav[k], s.unfunded[k]) == pytest.approx((C, D, N, U))


def test_quarterly_model_converts_rates():
    a = TakahashiAlexander(periods_per_year=4, fund_life=3)
    assert a.dates.size == 12 and a.period_growth == pytest.approx(1.13 ** 0.25 - 1)
    s = a.schedule()
    # four quarters of the converted call rate call the annual fraction 25 % in year 1
    assert s.calls[:4].sum() == pytest.approx(25.0, rel=1e-12)
    assert s.nav[-1] == 0.0


@pytest.mark.parametrize("bad, match", [
    (dict(commitment=0), "`commitment` must be > 0"),
    (dict(call_rates=(0.2, 1.5)), r"`call_rates\[1\]` must be a rate"),
    (dict(growth=-1.0), "`growth` must be > -1"),
    (dict(periods_per_year=0), "`periods_per_year` must be >= 1"),
    (dict(yield_rate=True), "bool"),
])
def test_model_bad_input(bad, match):
    with pytest.raises((ValueError, TypeError), match=match):
        TakahashiAlexander(**bad)


def test_dcf_closed_form_and_no_premium_value_equals_dcf():
    m = TakahashiAlexander(call_liquidity=0.4)
    p = IlliquidityPremium()
    r = liquidity_adjusted_value(m, premium=p, rate=0.08, n_cells=60, steps_per_period=8)
    s = m.schedule(1.0)  # L frozen at the OU mean 1.0
    T = m.dates[-1]
    df = np.exp(-0.08 * s.times - p.level(1.0) * (math.sqrt(T) - np.sqrt(T - s.times)))
    assert r.dcf == pytest.approx(float(df @ s.net), rel=1e-12)
    # without a premium and with L-free rates the L-path does not matter: V = DCF up to the CN error
    r0 = liquidity_adjusted_value(TakahashiAlexander(), premium=None, n_cells=60, steps_per_period=16)
    assert r0.value == pytest.approx(r0.dcf, rel=1e-5)
    assert r0.dcf == pytest.approx(float(np.exp(-0.08 * s.times) @ TakahashiAlexander().schedule().net), rel=1e-12)


def test_lav_against_monte_carlo_within_4_se():
    m = TakahashiAlexander(call_liquidity=0.3, distribution_liquidity=0.5)
    ou = OrnsteinUhlenbeck(0.45, 1.0, 0.32)
    for L0 in (-0.5, 1.0):
        r = liquidity_adjusted_value(m, ou, L0=L0, n_cells=200, steps_per_period=16, monte_carlo=20000,
                                     mc_steps_per_period=16, seed=11)
        mc = r.monte_carlo
        assert abs(r.value - mc.value) < 4 * mc.stderr, (L0, r.value, mc)
        assert r.value != pytest.approx(r.dcf, rel=1e-3)  # the liquidity path matters


def test_lav_midlife_state_against_monte_carlo():
    m = TakahashiAlexander()
    r = liquidity_adjusted_value(m, L0=0.0, age=4.0, nav=80.0, unfunded=10.0, monte_carlo=20000, seed=2)
    assert abs(r.value - r.monte_carlo.value) < 4 * r.monte_carlo.stderr
    assert r.value_at(0.0) == pytest.approx(r.value)


def test_lav_second_order_on_refinement():
    m = TakahashiAlexander(call_liquidity=0.3)
    vals = [liquidity_adjusted_value(m, L0=0.0, n_cells=n, steps_per_period=s, domain=(-3.0, 5.0), rtol=None).value
            for n, s in ((40, 2), (80, 4), (160, 8), (320, 16))]
    d = np.abs(np.diff(vals))
    orders = np.log2(d[:-1] / d[1:])
    assert np.all((orders > 1.8) & (orders < 2.2)), orders


def test_lav_bad_input():
    with pytest.raises(ValueError, match="scaling 'none'"):
        liquidity_adjusted_value(premium=IlliquidityPremium(scaling="none"))
    with pytest.raises(ValueError, match="`age`"):
        liquidity_adjusted_value(age=12.0)
    with pytest.raises(ValueError, match="`rate` must be >= 0"):
        liquidity_adjusted_value(rate=-0.1)
    with pytest.raises(TypeError, match="`model`"):
        liquidity_adjusted_value(model="yale")
    with pytest.raises(ValueError, match="negative"):
        liquidity_adjusted_value(premium=IlliquidityPremium(-0.05, 0.0, 0.0))


@pytest.mark.parametrize("rate", [0.08, 5.0, 10.0, 100.0, 1e5])
def test_lav_no_premium_equals_exact_sum_at_any_rate(rate):
    # Σ e^{-r t_k}(D_k - C_k) with the model's own (L-free) schedule. Crank–Nicolson
    # alone kept the value for a large r Δt (factor -> -1): 76.08 at r = 1e5, -8.03e-4
    # for -1.135e-3 at r = 10. The uniform discount is now applied exactly.
    m = TakahashiAlexander()
    s = m.schedule()
    exact = float(np.exp(-rate * s.times) @ s.net)
    r = liquidity_adjusted_value(m, premium=None, rate=rate)
    assert r.value == pytest.approx(exact, rel=1e-12, abs=1e-300)
    assert r.dcf == pytest.approx(exact, rel=1e-12, abs=1e-300)


def test_lav_large_constant_premium_is_exact():
    # a callable λ(L) = 50 (constant): the whole discount is uniform, e^{-(r + 50) t_k}
    m = TakahashiAlexander()
    s = m.schedule()
    r = liquidity_adjusted_value(m, premium=lambda x: 50.0 + 0.0 * x, rate=0.05)
    assert r.value == pytest.approx(float(np.exp(-50.05 * s.times) @ s.net), rel=1e-12)


def test_lav_default_value_within_its_error_estimate_of_the_old_scheme():
    # Before the exact uniform factor: 14.722149552960667 (16 steps), 14.72224064481727
    # (32 steps); the time error of the old default was about 4/3 of their difference.
    old16, old32 = 14.722149552960667, 14.72224064481727
    new = liquidity_adjusted_value().value
    assert abs(new - old16) <= 4.0 / 3.0 * abs(old32 - old16) * 1.05
    # and the new default is second-order close to its own refinement
    fine = liquidity_adjusted_value(n_cells=400, steps_per_period=32).value
    assert abs(new - fine) < 3e-5


def test_lav_steep_premium_refines_the_steps():
    # a premium with a large spread over the grid: the steps of a period are refined
    # (the node-dependent discount per step is kept <= 0.25)
    p = IlliquidityPremium(0.05, 0.0, 0.5)  # a(L) = 0.05 + 0.5 L²
    r = liquidity_adjusted_value(premium=p, L0=1.0)
    assert r.diagnostics["max_steps_per_period"] > 16
    r2 = liquidity_adjusted_value(premium=p, L0=1.0, steps_per_period=64, n_cells=400)
    assert r.value == pytest.approx(r2.value, rel=5e-5)


# --- exact reference: E[exp(-∫ a(L_u) f'(T - u) du)] = exp(A + B L0 + C L0²) for OU (Riccati ODEs) ---
def _riccati_log_discount(kappa, theta, sigma, alpha, beta, gamma, T, t, L0, scaling="sqrt"):
    """log E[exp(-∫_0^t a(L_u) f'(T - u) du) | L_0 = L0], a(L) = α + βL + γL², dL = κ(θ - L)dt + σ dW.

    u(s, x) = exp(A + Bx + Cx²) solves ∂_s u + κ(θ - x)u_x + σ²/2 u_xx - w(s) a(x) u = 0, u(t) = 1,
    w = f'(T - s): matching powers of x gives Riccati ODEs; for the √ scaling they are integrated
    in ρ = √(T - s) (w ds = -dρ: no singularity at the fund's end).
    """
    from scipy.integrate import solve_ivp

    s2 = sigma ** 2

    def gen(y):
        _, B, C = y
        return -np.array([kappa * theta * B + 0.5 * s2 * B * B + s2 * C,
                          2 * kappa * theta * C - kappa * B + 2 * s2 * B * C,
                          -2 * kappa * C + 2 * s2 * C * C])

    w = np.array([alpha, beta, gamma])
    if scaling == "linear":
        sol = solve_ivp(lambda s, y: gen(y) + w, (t, 0.0), [0.0, 0.0, 0.0], method="DOP853", rtol=1e-12, atol=1e-14)
    else:
        sol = solve_ivp(lambda r, y: -2 * r * gen(y) - w, (math.sqrt(T - t), math.sqrt(T)), [0.0, 0.0, 0.0],
                        method="DOP853", rtol=1e-12, atol=1e-14)
    A, B, C = sol.y[:, -1]
    return A + B * L0 + C * L0 * L0


def _reference_value(m, p, L0, rate=0.08, ou=(0.45, 1.0, 0.32)):
    s = m.schedule()
    T = m.dates[-1]
    logs = np.array([_riccati_log_discount(*ou, p.alpha, p.beta, p.gamma, T, t, L0, p.scaling) for t in s.times])
    return float(np.sum(s.net * np.exp(-rate * s.times + logs)))


def test_riccati_reference_against_vasicek_closed_form():
    # γ = 0, linear scaling: E[exp(-∫(α + βL))] is the Vasicek bond price, an independent closed form
    k, th, sg, al, be, t = 0.45, 1.0, 0.32, 0.03, 0.2, 7.0
    Bv = (1 - math.exp(-k * t)) / k
    L0 = 3.0
    logP = -al * t - be * (th * (t - Bv) + L0 * Bv) + 0.5 * be ** 2 * sg ** 2 / k ** 2 * (t - 2 * Bv
                                                                                        + (1 - math.exp(-2 * k * t)) / (2 * k))
    assert _riccati_log_discount(k, th, sg, al, be, 0.0, 12.0, t, L0, "linear") == pytest.approx(logP, rel=1e-11)


@pytest.mark.parametrize("L0", [-20.0, -10.0, 0.0, 10.0, 20.0])
def test_lav_far_starting_states_against_riccati_reference(L0):
    # L-free rates: V = Σ (D_k - C_k) e^{-r t_k} E[e^{-∫λ}], the expectation exact (Riccati). Before the
    # drift-resolving grid and the error estimate: -1.03 % at L0 = 10, +2.3 % at 20, +2.0 % at 50, no warning.
    m, p = TakahashiAlexander(), IlliquidityPremium()
    ref = _reference_value(m, p, L0)
    r = liquidity_adjusted_value(m, premium=p, L0=L0)
    err = r.diagnostics["error_estimate"]
    assert err <= 1e-4 * abs(r.value)
    assert abs(r.value - ref) <= 2.0 * err + 1e-12 * abs(ref), (r.value, ref, err)


def test_lav_refuses_what_it_cannot_resolve():
    # L0 = 100: the drift κ(θ - L) of the long way back needs a grid beyond `max_cells`: refused, not printed
    from gelav.errors import ConvergenceError

    with pytest.raises(ConvergenceError, match="`max_cells`"):
        liquidity_adjusted_value(L0=20.0, max_cells=400)
    # beyond 65 stationary sd the value is not validated: L0 = 50 (145 sd) converged to a limit 1.07e-3 from
    # the exact (Riccati) value with an estimate of 6e-5, L0 = 100 was 60 % off: refused, naming L0
    for far in (50.0, 100.0, -30.0):
        with pytest.raises(ValueError, match=r"`L0` = .* stationary standard deviations .* give `L0` in \[-20.93, 22.93\]"):
            liquidity_adjusted_value(L0=far)
    with pytest.raises(ValueError, match="`rtol` must be > 0"):
        liquidity_adjusted_value(rtol=0.0)
