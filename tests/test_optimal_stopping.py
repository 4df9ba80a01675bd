"""Optimal stopping as an LCP per step: American put, perpetual put, free boundary, LCP solvers."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import norm

from gelav import BrownianMotion, GeometricBrownianMotion
from gelav.backward import Dirichlet, backward
from gelav.errors import ConvergenceError
from gelav.stopping import StoppingValue, optimal_stopping, solve_lcp

S0, K, R, SIG, T = 36.0, 40.0, 0.06, 0.2, 1.0
GBM = GeometricBrownianMotion(R, SIG)  # risk-neutral drift r


def put(s):
    return np.maximum(K - s, 0.0)


def american(n, **kw):
    return optimal_stopping(GBM, put, T, discount=R, domain=(0.0, 200.0), x0=S0, n_cells=n, n_steps=n // 2, **kw)


def test_american_put_longstaff_schwartz_case():
    """S=36, K=40, r=6%, σ=20%, T=1.

    Longstaff–Schwartz (2001, Table 1) list 4.478 for their finite-difference
    value; the converged value is 4.48667 (our Richardson extrapolation of
    400..3200 cells: 4.485101, 4.486259, 4.486563, 4.486644; QuantLib's FD
    engine agrees, see benchmarks/README_backward.md). The tolerance below is the
    refinement error estimate |v_2n - v_n|/3 (order 2), plus a margin of 2.
    """
    v = [american(n).value(S0) for n in (200, 400, 800)]
    d1, d2 = v[1] - v[0], v[2] - v[1]
    order = math.log2(d1 / d2)
    assert 1.7 < order < 2.2
    extrapolated = v[2] + d2 / (2**order - 1)
    assert abs(extrapolated - 4.48667) < 2 * abs(d2) / 3 + 2e-5
    assert abs(v[2] - 4.48667) < 2 * abs(d2)
    # 4.478 (the tabulated FD value) is off by ~9e-3, far outside our error bar
    assert abs(v[2] - 4.478) > 5 * abs(d2)


def test_american_at_least_european_and_payoff():
    am = american(400)
    eu = backward(GBM, put, T, discount=R, domain=(0.0, 200.0), x0=S0, n_cells=400, n_steps=200)
    assert np.all(am.at() >= eu.at() - 1e-12)
    assert np.all(am.at() >= put(am.x) - 1e-12)
    d1 = (math.log(S0 / K) + (R + SIG**2 / 2) * T) / (SIG * math.sqrt(T))
    bs = K * math.exp(-R * T) * norm.cdf(-(d1 - SIG * math.sqrt(T))) - S0 * norm.cdf(-d1)
    assert abs(eu.value(S0) - bs) < 2e-3
    assert am.value(S0) - eu.value(S0) > 0.6  # early-exercise premium ≈ 0.64


def test_free_boundary_shape():
    am = american(800)
    b = am.free_boundary()
    assert am.diagnostics["side"] is None
    assert np.isnan(b[-1])  # at the horizon everything stops
    inner = b[:-1]
    assert np.all(np.diff(inner) >= -1e-9)  # the exercise boundary rises towards K as t -> T
    perpetual = K * (2 * R / SIG**2) / (1 + 2 * R / SIG**2)
    assert perpetual < inner.min() and inner.max() < K
    assert 32.5 < inner[0] < 33.5
    # smooth-fit location converges: b(0) = 32.900, 32.917, 32.921, 32.917 at 400 ... 3200 cells
    assert abs(inner[0] - american(400).free_boundary()[0]) < 0.03
    # the region really is {S <= b(t)}
    st = am.stopping_region(0.0)
    assert st[am.x < inner[0] - 0.5].all() and not st[am.x > inner[0] + 0.5].any()
    assert isinstance(am, StoppingValue)


def test_brennan_schwartz_equals_policy_iteration():
    a = american(400)
    b = american(400, method="brennan-schwartz")
    c = american(400, method="brennan-schwartz", side="lower")
    assert np.abs(a.values - b.values).max() < 1e-11
    assert np.abs(a.values - c.values).max() < 1e-11
    assert b.diagnostics["side"] == "lower"
    assert a.diagnostics["lcp_iterations_max"] <= 8


def test_upper_region_and_two_sided_region():
    """A one-sided upper region (discounted x⁺ on BM) by both LCP solvers; a running cost makes it two-sided."""
    proc = BrownianMotion(0.0, 1.0)
    kw = dict(discount=0.1, domain=(-4.0, 4.0), n_cells=200, n_steps=100)
    a = optimal_stopping(proc, lambda x: np.maximum(x, 0.0), 1.0, **kw)
    b = optimal_stopping(proc, lambda x: np.maximum(x, 0.0), 1.0, method="brennan-schwartz", side="upper", **kw)
    assert np.abs(a.values - b.values).max() < 1e-11
    assert a.stop[0, -1] and not a.stop[0, 0]
    assert np.isfinite(a.free_boundary("upper")[0])
    # paying 0.05 per year to wait: stopping (for 0) is also optimal far below — policy iteration handles
    # the two-sided region, Brennan–Schwartz (one-sided by construction) does not
    c = optimal_stopping(proc, lambda x: np.maximum(x, 0.0), 1.0, running=-0.05, **kw)
    assert c.stop[0, 0] and c.stop[0, -1] and not c.stop[0].all()
    assert np.all(c.at() <= a.at() + 1e-12)


def test_perpetual_put_closed_form_and_order():
    """V = (K - b)(S/b)^{-γ}, γ = 2r/σ², b = γK/(1+γ) = 30 (upper end held at the exact value)."""
    g = 2 * R / SIG**2
    b = g * K / (1 + g)

    def exact(s):
        return np.where(s <= b, K - s, (K - b) * (np.maximum(s, b) / b) ** (-g))

    ns = np.array([100, 200, 400, 800])
    errs = []
    for n in ns:
        v = optimal_stopping(GBM, put, math.inf, discount=R, domain=(0.0, 100.0), n_cells=int(n),
                             upper=Dirichlet(float(exact(100.0))))
        errs.append(v.value(36.0) - float(exact(36.0)))
        if n == 800:
            assert abs(v.free_boundary()[0] - b) < 0.25
            assert np.abs(v.at() - exact(v.x)).max() < 1e-3
    order = -np.polyfit(np.log(ns), np.log(np.abs(errs)), 1)[0]
    assert 1.8 < order < 2.2


def test_time_dependent_reward_equals_discounting():
    """sup E[e^{-rτ}(K - S_τ)^+]: discount in the generator, or in a reward g(t, S) = e^{-rt}(K - S)^+."""
    kw = dict(domain=(0.0, 200.0), x0=S0, n_cells=800, n_steps=400)
    a = optimal_stopping(GBM, put, T, discount=R, **kw)
    b = optimal_stopping(GBM, lambda t, s: math.exp(-R * t) * put(s), T, **kw)
    assert abs(a.value(S0) - b.value(S0)) < 2e-3  # same problem, different O(h², Δt²) discretisation
    assert b.obstacle.shape == b.values.shape
    assert abs(np.nanmean(a.free_boundary()[:-1] - b.free_boundary()[:-1])) < 0.3


def test_obstacle_problem_without_time_reduces_to_payoff():
    """With a reward that is the discounted-martingale maximum, stopping at once is optimal."""
    v = optimal_stopping(BrownianMotion(0.0, 1.0), lambda x: 5.0 + 0 * x, 1.0, discount=0.2,
                         domain=(-2, 2), n_cells=50, n_steps=20)
    assert np.allclose(v.at(), 5.0) and v.stop[0].all()


def test_solve_lcp_small_and_bad_inputs():
    # L = tridiag(-1, 2.5, -1), b = 0, obstacle g: solution u >= g with complementarity
    n = 20
    sub = np.full(n, -1.0)
    sup = np.full(n, -1.0)
    diag = np.full(n, 2.5)
    g = np.maximum(1 - np.linspace(0, 2, n), 0)
    u, _ = solve_lcp(sub, diag, sup, np.zeros(n), g)
    Lu = diag * u
    Lu[1:] += sub[1:] * u[:-1]
    Lu[:-1] += sup[:-1] * u[1:]
    assert np.all(u >= g - 1e-14) and np.all(Lu >= -1e-14)
    assert np.abs((u - g) * Lu).max() < 1e-14
    u2, _ = solve_lcp(sub, diag, sup, np.zeros(n), g, method="brennan-schwartz", side="lower")
    assert np.abs(u - u2).max() < 1e-14
    with pytest.raises(ValueError, match="registered LCP methods"):
        solve_lcp(sub, diag, sup, np.zeros(n), g, method="psor-ish")
    with pytest.raises(ValueError, match="registered LCP methods"):
        american(100, method="projection")
    with pytest.raises(ValueError, match="`side` must be"):
        american(100, side="middle")
    with pytest.raises(ValueError, match=r"`reward` is not finite"):
        optimal_stopping(GBM, lambda s: 1 / s, 1.0, domain=(0.0, 10.0), n_cells=10, n_steps=4)
    # regressions: max_iter=0 raised ConvergenceError; x0 outside the domain was ignored
    with pytest.raises(ValueError, match="`max_iter` must be >= 1"):
        optimal_stopping(GBM, lambda s: np.maximum(1 - s, 0), 1.0, domain=(0.0, 10.0), max_iter=0)
    with pytest.raises(ValueError, match=r"`x0` = 300 lies outside the domain \[0, 200\]"):
        optimal_stopping(GBM, lambda s: np.maximum(40 - s, 0), 1.0, domain=(0.0, 200.0), x0=300)


def test_policy_iteration_reports_non_convergence():
    with pytest.raises(ConvergenceError, match="did not converge"):
        optimal_stopping(BrownianMotion(0.0, 1.0), lambda x: np.sin(5 * x), 1.0, domain=(-3, 3),
                         n_cells=200, n_steps=5, max_iter=1)


def test_stopping_region_plot():
    import matplotlib

    matplotlib.use("Agg")
    fig = american(200).plot_region(xlabel="S")
    assert fig.axes[0].get_title().startswith("Stopping region")
    # regression: the value surface of a stopping problem was titled "Feynman–Kac value"
    fig = american(200).plot()
    assert fig.axes[0].get_title().startswith("Optimal stopping value of GeometricBrownianMotion")


def test_perpetual_put_with_a_slowly_decaying_value_converges_in_the_default_budget():
    # GBM(0.02, 0.4): from the in-the-money set Howard's algorithm moved the boundary one node per iteration
    # (109 on 2180 nodes) and raised ConvergenceError with the default max_iter = 100. Brennan–Schwartz's set,
    # verified against the LCP, is the first policy: one iteration. Closed form (K - x*)(x/x*)^(-2r/σ²),
    # x* = 2rK/(2r + σ²); the automatic domain's truncation is stated (AccuracyWarning) and bounds the error.
    import warnings

    from gelav.errors import AccuracyWarning

    r, s, K = 0.02, 0.4, 100.0
    beta = 2 * r / s**2
    xs = beta * K / (1 + beta)
    exact = (K - xs) * (100 / xs) ** (-beta)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        v = optimal_stopping(GeometricBrownianMotion(r, s), lambda x: np.clip(K - x, 0, None), math.inf,
                             discount=r, x0=100.0)
    assert v.diagnostics["lcp_iterations_total"] <= 3
    far = v.diagnostics["far_field"]
    stated = any(issubclass(x.category, AccuracyWarning) for x in w)
    assert abs(v.value(100.0) - exact) <= (2 * far["change"] if stated else 1e-3 * exact)


@pytest.mark.parametrize(("r", "sigma", "strike", "x0", "tol"), [
    (0.02, 0.5, 1.0, 1.3, 1e-4),  # γ = 0.16: the value decays like S^-0.16
    (0.01, 0.6, 100.0, 120.0, 1e-2),  # γ = 0.056
    (0.05, 0.3, 1.0, 1.2, 1e-4),  # γ = 1.1
])
def test_perpetual_put_to_tolerance_covers_the_far_field(r: float, sigma: float, strike: float, x0: float,
                                                         tol: float) -> None:
    """The perpetual put (K - S*)(S/S*)^-γ, γ = 2r/σ², S* = γK/(1 + γ): with tol the automatic domain's
    reflecting far end was left at a relative 1e-4 (0.60216952 ± 1.44e-6 for 0.60208387 at tol = 1e-5)."""
    import math as _m

    from gelav import GeometricBrownianMotion
    from gelav.stopping import optimal_stopping

    g = 2 * r / sigma**2
    b = g * strike / (1 + g)
    exact = (strike - b) * (x0 / b) ** (-g)
    v = optimal_stopping(GeometricBrownianMotion(r, sigma), lambda s: np.maximum(strike - s, 0.0), _m.inf,
                         discount=r, x0=x0, tol=tol)
    err = v.diagnostics["error_estimate"]
    assert err <= tol and abs(float(v.value(x0)) - exact) <= err
    assert 0.0 < v.diagnostics["truncation_error_bound"] <= 0.1 * tol


def test_policy_iteration_tie_on_subnormal_values_continues() -> None:
    """Far out of the money a put's values decay to subnormals, where rounding is absolute: one row with
    b = 32 ulps of 2^-1074 continues to u = 1 ulp but then reads Lu - b = 31 ulps > u - g, stops (u = g = 0,
    Lu - b = -32 ulps) and continues again. The tie (64 ε of the row's terms) underflowed to 0 and the policy
    flipped until the budget (GBM(0.03, 0.35), K = 105, tol = 2.1e-3 on 12,800 cells)."""
    from gelav.fd.linalg import policy_iteration

    ulp = 5e-324
    for k in (32, 40, 100):
        u, stop, it = policy_iteration(np.zeros(2), np.array([62.95, 1.0]), np.zeros(2), np.array([k * ulp, 0.0]),
                                       np.array([0.0, -np.inf]), np.array([False, False]))
        assert it == 1 and not stop.any() and 0.0 <= u[0] <= 2 * ulp


def test_american_put_to_tolerance_with_subnormal_far_field_values() -> None:
    """GBM(0.03, 0.35), K = 105, S = 100, T = 2 to tol = 2.1e-3 raised ConvergenceError (policy iteration cycling
    on a row of subnormal values at 12,800 cells). Reference 19.699394: a binomial Black–Scholes tree with
    Richardson (BBSR) at 20,000/40,000 steps gives 19.69939629/19.69939422 (CRR even/odd mean 19.69945)."""
    v = optimal_stopping(GeometricBrownianMotion(0.03, 0.35), lambda s: np.maximum(105 - s, 0), 2.0, discount=0.03,
                         x0=100, tol=2.1e-3)
    err = v.diagnostics["error_estimate"]
    assert err <= 2.1e-3
    assert abs(float(v.value(100.0)) - 19.699394) <= err


@pytest.mark.parametrize("tol", [1e-4, 1e-5])
def test_american_put_out_of_the_money_to_tolerance_covers_the_tree(tol: float) -> None:
    """GBM(0.06, 0.2), K = 40, S = 45, T = 1: the observed orders are erratic (2.52, 1.27, 2.01, 0.78: the strike's
    place in its cell doubles mod 1 with each nested level, 0.82, 0.64, 0.28, 0.55, 0.10, and the free boundary
    crosses nodes), all in the first-order band, so the first-order estimate applies. Reference 0.9163275: a
    binomial Black–Scholes tree with Richardson (BBSR) at 20,000/40,000 steps, 0.91632752/0.91632749."""
    v = optimal_stopping(GeometricBrownianMotion(0.06, 0.2), lambda s: np.maximum(40 - s, 0), 1.0, discount=0.06,
                         x0=45, tol=tol)
    err = v.diagnostics["error_estimate"]
    assert err <= tol and v.diagnostics["order"] == 1.0
    assert abs(float(v.value(45.0)) - 0.9163275) <= err


def test_brennan_schwartz_is_checked_and_falls_back_on_a_two_sided_region() -> None:
    """Brennan–Schwartz assumes one interval of stopping at the `side` end; on a two-sided region (x⁺ on BM with
    a running cost) its answer failed the LCP silently. Now every step is checked and solved by policy iteration
    where it fails; on the one-sided put it is never needed."""
    proc = BrownianMotion(0.0, 1.0)
    kw = dict(discount=0.1, domain=(-4.0, 4.0), n_cells=200, n_steps=100, running=-0.05)
    a = optimal_stopping(proc, lambda x: np.maximum(x, 0.0), 1.0, **kw)
    b = optimal_stopping(proc, lambda x: np.maximum(x, 0.0), 1.0, method="brennan-schwartz", side="upper", **kw)
    assert a.stop[0, 0] and a.stop[0, -1]
    assert b.diagnostics["lcp_fallback_steps"] > 0
    assert np.abs(a.values - b.values).max() < 1e-11
    assert american(400, method="brennan-schwartz").diagnostics["lcp_fallback_steps"] == 0
