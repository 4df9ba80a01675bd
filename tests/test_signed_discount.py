"""Issue 11, class 5: Feynman–Kac and optimal stopping with a signed short rate (r < 0 reachable).

References: the Vasicek zero-coupon bond in closed form; e^{-rT} E[g] for a constant
negative rate; the step condition θ Δt max(-r) <= 1/4 (gelav.fd.step_control) on
every step actually taken; stopping value >= reward and >= the European value.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from gelav import BrownianMotion, OrnsteinUhlenbeck
from gelav.backward import backward
from gelav.fd.step_control import M_MATRIX_LIMIT
from gelav.stopping import optimal_stopping

# Vasicek dr = κ(θ - r)dt + σ dW from r0 = 0: about half the paths go negative.
KAPPA, THETA, SIGMA, R0, T = 0.5, 0.01, 0.06, 0.0, 5.0
DOMAIN = (-0.5, 0.5)  # 10 stationary sd (0.06) either side: the reflecting ends are not felt


def vasicek_bond(r0: float, tau: float) -> float:
    """P(0, τ) = A(τ) exp(-B(τ) r0), B = (1 - e^{-κτ})/κ, ln A = (θ - σ²/2κ²)(B - τ) - σ²B²/4κ."""
    b = (1 - math.exp(-KAPPA * tau)) / KAPPA
    ln_a = (THETA - SIGMA**2 / (2 * KAPPA**2)) * (b - tau) - SIGMA**2 * b**2 / (4 * KAPPA)
    return math.exp(ln_a - b * r0)


def observed_orders(errors: list[float]) -> np.ndarray:
    e = np.abs(np.asarray(errors))
    return np.log2(e[:-1] / e[1:])


def test_vasicek_bond_with_negative_rates_is_second_order():
    proc = OrnsteinUhlenbeck(KAPPA, THETA, SIGMA)
    exact = vasicek_bond(R0, T)
    values = []
    for n in (50, 100, 200, 400):
        v = backward(
            proc, 1.0, T, discount=lambda t, x: x, domain=DOMAIN, x0=R0, n_cells=n, n_steps=n // 2
        )
        assert v.grid.nodes.min() < 0  # the rate is negative on part of the domain
        values.append(v.value(R0))
    errors = [u - exact for u in values]
    assert np.all((observed_orders(errors) > 1.9) & (observed_orders(errors) < 2.1))
    # the a-posteriori estimate |u_h - u_2h|/3 of the finest answer bounds its true error
    assert abs(errors[-1]) <= abs(values[-1] - values[-2]) / 3 * 1.05
    # and it is a bond price above 1 where the rate is negative, below 1 where positive
    v = backward(proc, 1.0, T, discount=lambda t, x: x, domain=DOMAIN, n_cells=200, n_steps=100)
    assert v.value(-0.2) > 1.0 > v.value(0.2)


def test_constant_negative_rate_grows_the_expectation():
    """u = e^{0.02 T} E[X_T] for r = -0.02 (OU mean θ + (x0 - θ)e^{-κT}), second order."""
    proc = OrnsteinUhlenbeck(KAPPA, THETA, SIGMA)
    x0 = 0.05
    exact = math.exp(0.02 * T) * (THETA + (x0 - THETA) * math.exp(-KAPPA * T))
    values = [
        backward(
            proc, lambda x: x, T, discount=-0.02, domain=DOMAIN, x0=x0, n_cells=n, n_steps=n // 2
        ).value(x0)
        for n in (50, 100, 200)
    ]
    errors = [u - exact for u in values]
    assert np.all(observed_orders(errors) > 1.8)
    assert abs(errors[-1]) <= abs(values[-1] - values[-2]) / 3 * 1.1
    # against the undiscounted expectation on the same grid: the factor e^{0.02T} to O(Δt²)
    plain = backward(proc, lambda x: x, T, domain=DOMAIN, x0=x0, n_cells=200, n_steps=100).value(x0)
    assert values[-1] == pytest.approx(math.exp(0.02 * T) * plain, rel=1e-4)


def test_long_steps_are_split_to_keep_an_m_matrix():
    """r = -0.1 over 40 years in 2 steps: θ Δt r⁻ = 1 would make the step matrix singular."""
    proc = BrownianMotion(0.0, 0.2)
    v = backward(proc, 1.0, 40.0, discount=-0.1, domain=(-3.0, 3.0), x0=0.0, n_cells=40, n_steps=2)
    rec = v.diagnostics["step_control"]
    assert rec["steps_split"] >= 1 and rec["substeps_added"] >= 1
    tg = v.time_grid
    assert np.all(tg.theta * np.diff(tg.times) * 0.1 <= M_MATRIX_LIMIT + 1e-12)
    assert rec["max_theta_dt_r_minus"] <= M_MATRIX_LIMIT + 1e-12
    u = v.at()
    assert np.all(np.isfinite(u)) and np.all(u > 1.0)
    # with enough steps the condition never fires and the answer converges to e^{4}
    ws = [
        backward(proc, 1.0, 40.0, discount=-0.1, domain=(-3.0, 3.0), x0=0.0, n_cells=40, n_steps=m)
        for m in (400, 800)
    ]
    assert all("step_control" not in w.diagnostics for w in ws)
    errs = [w.value(0.0) - math.exp(4.0) for w in ws]
    assert abs(errs[1]) < abs(errs[0]) / 1.9 and abs(errs[1]) / math.exp(4.0) < 1e-4


def test_ordinary_positive_discount_takes_the_same_steps():
    proc = OrnsteinUhlenbeck(KAPPA, THETA, SIGMA)
    v = backward(proc, 1.0, T, discount=0.03, domain=DOMAIN, n_cells=50, n_steps=25)
    plain = backward(proc, 1.0, T, domain=DOMAIN, n_cells=50, n_steps=25)
    assert "step_control" not in v.diagnostics
    np.testing.assert_array_equal(v.time_grid.times, plain.time_grid.times)


@pytest.mark.parametrize("discount", [-0.02, lambda t, x: x])
def test_stopping_value_dominates_reward_and_european_with_negative_rates(discount):
    proc = OrnsteinUhlenbeck(KAPPA, THETA, SIGMA)

    def put(x):
        return np.maximum(0.02 - x, 0.0)  # pays when the rate is low

    am = optimal_stopping(
        proc, put, 3.0, discount=discount, domain=DOMAIN, n_cells=200, n_steps=100
    )
    eu = backward(proc, put, 3.0, discount=discount, domain=DOMAIN, n_cells=200, n_steps=100)
    x = am.grid.nodes
    assert np.all(am.values >= put(x)[None, :] - 1e-13)
    assert np.all(am.at() >= eu.at() - 1e-12)
    assert am.stopping_region().any()


def test_perpetual_stopping_refuses_a_negative_rate():
    with pytest.raises(ValueError, match="`discount` must be >= 0 for the perpetual"):
        optimal_stopping(
            BrownianMotion(0.0, 0.3),
            lambda x: np.maximum(1 - x, 0),
            math.inf,
            discount=-0.01,
            domain=(0.0, 3.0),
            n_cells=50,
        )


def test_non_finite_discount_is_refused_naming_discount():
    proc = BrownianMotion(0.0, 0.3)
    for bad in (float("nan"), float("inf"), np.r_[np.zeros(10), np.nan]):
        with pytest.raises(ValueError, match="`discount`"):
            backward(proc, 1.0, 1.0, discount=bad, domain=(-1.0, 1.0), n_cells=10)
    with pytest.raises(ValueError, match="`discount` returned non-finite"):
        optimal_stopping(
            proc,
            1.0,
            1.0,
            discount=lambda t, x: np.full_like(x, np.inf),
            domain=(-1.0, 1.0),
            n_cells=10,
        )


@pytest.mark.parametrize(
    ("discount", "n_steps", "horizon"), [(lambda t, x: x, 50, T), (-0.1, 2, 40.0)]
)
def test_duality_with_a_signed_rate(discount, n_steps, horizon):
    """forward(killing=r) on the backward's steps: p0·u0 = p_T·g to rounding, also after sub-steps."""
    from gelav import forward
    from gelav.backward import duality_gap

    proc = OrnsteinUhlenbeck(KAPPA, THETA, SIGMA)
    v = backward(
        proc,
        lambda x: 1.0 + x,
        horizon,
        discount=discount,
        domain=DOMAIN,
        x0=R0,
        n_cells=150,
        n_steps=n_steps,
    )
    tg = v.time_grid
    d = forward(
        proc,
        R0,
        horizon,
        grid=v.grid,
        time_grid=tg,
        times=tg.times,
        killing=v.killing,
        lower="reflecting",
        upper="reflecting",
    )
    assert "step_control" not in d.diagnostics  # the sub-steps are already in the backward's grid
    assert abs(duality_gap(v, d, R0)["gap"]) < 1e-12 * abs(v.value(R0))
    # mass is created where r < 0, and the ledger still closes
    ledger = d.masses.sum(axis=1) + d.killed
    np.testing.assert_allclose(ledger, 1.0, atol=1e-12)
    # forward alone meets the step condition by itself
    d2 = forward(proc, R0, horizon, grid=v.grid, n_steps=n_steps, killing=discount)
    if n_steps == 2:
        assert d2.diagnostics["step_control"]["steps_split"] >= 1
    assert np.all(d2.masses >= 0)
