"""Exit times, hitting probabilities, exit-time laws and the Feller classification."""

from __future__ import annotations

import math

import numpy as np
import pytest

from gelav import CIR, BrownianMotion, GeometricBrownianMotion, OrnsteinUhlenbeck
from gelav.errors import DivergenceError
from gelav.exits import classify_boundary, exit_probability, exit_time, exit_time_distribution

MU, S, A, B = 0.3, 0.7, -1.0, 2.0


def p_upper(x, mu=MU, s=S, a=A, b=B):
    return (1 - np.exp(-2 * mu * (x - a) / s**2)) / (1 - np.exp(-2 * mu * (b - a) / s**2))


def mean_exit(x, mu=MU, s=S, a=A, b=B):
    return ((b - a) * p_upper(x, mu, s, a, b) - (x - a)) / mu


def slope(n, err):
    return -np.polyfit(np.log(n), np.log(np.abs(err)), 1)[0]


def test_brownian_motion_with_drift_closed_forms():
    """The fitted (Scharfetter–Gummel) generator is exact for constant coefficients: errors are rounding."""
    r = exit_time(BrownianMotion(MU, S), A, B, n_cells=200)
    p = exit_probability(BrownianMotion(MU, S), A, B, n_cells=200)
    assert np.abs(r.values - mean_exit(r.x)).max() < 1e-9
    assert np.abs(p.values - p_upper(p.x)).max() < 1e-9
    # driftless: E τ = (x - a)(b - x)/σ², P = (x - a)/(b - a)
    r0 = exit_time(BrownianMotion(0.0, 0.5), -1.0, 1.0, n_cells=64)
    assert np.abs(r0.values - (1 - r0.x**2) / 0.25).max() < 1e-10
    assert r0.value(0.0) == pytest.approx(4.0, abs=1e-10)


def test_exit_time_order_two_gbm_entrance_boundary():
    """GBM μ = σ² = 1 on (0, 1): 0 is an entrance boundary, E τ = 2 ln(1/x) (order 2 in h)."""
    ns = np.array([50, 100, 200, 400])
    errs = [exit_time(GeometricBrownianMotion(1.0, 1.0), 0.0, 1.0, n_cells=int(n)).value(0.5) - 2 * math.log(2)
            for n in ns]
    assert abs(errs[-1]) < 2e-5
    assert 1.8 < slope(ns, errs) < 2.2


def test_exit_probability_order_ou():
    """OU: P(hit b before a) = ∫_a^x s' / ∫_a^b s' with s' = exp(κ(y - m)²/σ²).

    At the nodes the exponentially fitted scheme superconverges for this steady
    problem: the measured order is 4 (ratio 16 per halving), not the generic 2.
    """
    from scipy.special import erfi

    k, m, s, a, b = 1.5, 0.0, 0.6, -0.5, 1.0
    c = k / s**2  # ∫ exp(c y²) dy = √π/(2√c) erfi(√c y)
    S = lambda y: erfi(math.sqrt(c) * (y - m))  # noqa: E731
    exact = (S(0.25) - S(a)) / (S(b) - S(a))
    ns = np.array([50, 100, 200, 400])
    errs = [exit_probability(OrnsteinUhlenbeck(k, m, s), a, b, n_cells=int(n)).value(0.25) - exact for n in ns]
    assert 3.7 < slope(ns, errs) < 4.3


def test_seed002_expected_exit_time_is_infinite():
    """Seed 002: Y = e^W on (0, 1) (μ = 1/2, σ = 1): E[τ] = ∞ — an error, not a big number."""
    with pytest.raises(DivergenceError, match=r"infinite.*natural boundary"):
        exit_time(GeometricBrownianMotion(0.5, 1.0), 0.0, 1.0)
    lo, hi = classify_boundary(GeometricBrownianMotion(0.5, 1.0), 0.0, 1.0)
    assert lo.kind == "natural" and not lo.scale_finite and not lo.exit_time_finite
    assert hi.kind == "regular"
    # the seed's hitting probability of the limit is 1 (log Y is a recurrent Brownian motion)
    assert np.allclose(exit_probability(GeometricBrownianMotion(0.5, 1.0), 0.0, 1.0).values, 1.0)
    # ... and the bounded E[min(τ, T)] is finite: log Y = W from w = ln 0.5 hits 0 at τ with
    # P(τ > t) = 2Φ(|w|/√t) - 1, so E[min(τ, T)] = ∫_0^T (2Φ(|w|/√t) - 1) dt (0.712165, 1.775775)
    from scipy.integrate import quad
    from scipy.stats import norm

    w = math.log(2.0)
    for horizon in (1.0, 4.0):
        exact = quad(lambda t: 2 * norm.cdf(w / math.sqrt(t)) - 1, 0, horizon)[0]
        v = exit_time(GeometricBrownianMotion(0.5, 1.0), 0.0, 1.0, horizon=horizon, n_cells=200, n_steps=200)
        assert abs(v.value(0.5) - exact) < 2e-4


@pytest.mark.parametrize(
    "mu, kind, finite",
    [(0.0, "natural", False), (0.2, "natural", False), (0.5, "natural", False), (1.0, "natural", True),
     (2.0, "natural", True)],
)
def test_feller_classification_gbm_at_zero(mu, kind, finite):
    """s'(y) = y^{-2μ/σ²}: finite scale at 0 iff μ < σ²/2 (attracting, never reached).

    0 is natural for every μ (issue 11: μ ≥ σ²/2 was called "entrance"): with β = 2μ/σ², m ~ y^{β-2},
    N = ∫ M ds ~ ∫ y^{β-1} y^{-β} dy = ∞, so the process cannot start from 0; but from y > 0 the
    end's part of E[τ], M(0, y] ~ y^{β-1}, is finite for β > 1."""
    lo, _ = classify_boundary(GeometricBrownianMotion(mu, 1.0), 0.0, 1.0)
    assert lo.kind == kind and lo.exit_time_finite is finite
    assert lo.scale_finite is (mu < 0.5)
    if not finite:
        with pytest.raises(DivergenceError, match="infinite"):
            exit_time(GeometricBrownianMotion(mu, 1.0), 0.0, 1.0)


def test_gbm_attracting_zero_hitting_probability():
    """μ = 0: s(y) = y, so P(hit 1 before going to 0) = y.

    The diffusion degenerates at the attracting end 0 (σ² = y²), which costs one
    order: the measured order is 1 (error 2.9e-4 ... 3.6e-5 at y = 0.5, 100 ... 800 cells).
    """
    ns = np.array([100, 200, 400])
    errs = [exit_probability(GeometricBrownianMotion(0.0, 1.0), 0.0, 1.0, n_cells=int(n)).value(0.5) - 0.5 for n in ns]
    assert abs(errs[0]) < 5e-4
    assert 0.9 < slope(ns, errs) < 1.1


def test_cir_zero_classification():
    lo, _ = classify_boundary(CIR(1.0, 0.5, 0.5), 0.0, 1.0)  # Feller holds: 0 unreachable
    assert lo.kind == "entrance" and not lo.accessible
    with pytest.warns(Warning):
        proc = CIR(1.0, 0.1, 1.0)  # Feller fails: 0 reachable
    lo, _ = classify_boundary(proc, 0.0, 1.0)
    assert lo.accessible and lo.kind == "regular"


def test_time_bounded_exit_time_and_law():
    """E[τ∧T] from the backward solver = ∫_0^T P(τ > t) dt from the forward solver; both → E τ."""
    P = BrownianMotion(MU, S)
    v = exit_time(P, A, B, horizon=3.0, n_cells=300, n_steps=300)
    d = exit_time_distribution(P, A, B, 0.0, 3.0, n_cells=300, n_steps=300)
    assert abs(v.value(0.0) - d.mean_truncated()) < 2e-3
    assert v.value(0.0) < mean_exit(0.0)
    long = exit_time(P, A, B, horizon=40.0, n_cells=150, n_steps=400)
    assert abs(long.value(0.0) - mean_exit(0.0)) < 1e-3
    # exit side probabilities at the horizon tend to the hitting probability
    d2 = exit_time_distribution(P, A, B, 0.0, 30.0, n_cells=150, n_steps=300)
    assert abs(d2.exit_upper[-1] + d2.survival[-1] * p_upper(0.0) - p_upper(0.0)) < 2e-3
    bounded_p = exit_probability(P, A, B, horizon=30.0, n_cells=150, n_steps=300)
    assert abs(bounded_p.value(0.0) - d2.exit_upper[-1]) < 2e-3


def test_exit_time_survival_series_driftless():
    """P(τ > t) for BM on (a, b) from x: Σ_odd 4/(nπ) sin(nπ(x-a)/L) exp(-n²π²σ²t/(2L²))."""
    s, a, b, x = 1.0, -1.0, 1.0, 0.3
    L = b - a
    d = exit_time_distribution(BrownianMotion(0.0, s), a, b, x, 1.0, n_cells=400, n_steps=200)
    n = np.arange(1, 400, 2)[:, None]
    t = d.times[None, 1:]
    exact = (4 / (n * np.pi) * np.sin(n * np.pi * (x - a) / L) * np.exp(-(n**2) * np.pi**2 * s**2 * t / (2 * L**2))).sum(0)
    assert np.abs(d.survival[1:] - exact).max() < 2e-3
    assert np.abs(d.survival[10:] - exact[9:]).max() < 2e-4
    assert d.quantile(0.5) == pytest.approx(np.interp(0.5, 1 - np.r_[1.0, exact], d.times), abs=5e-3)
    assert d.quantile(0.9999) == math.inf
    assert d.pdf().shape == d.times.shape


def test_bad_intervals():
    with pytest.raises(ValueError, match="`a` must be < `b`"):
        exit_time(BrownianMotion(), 1.0, 0.0)
    with pytest.raises(ValueError, match="leaves the domain"):
        exit_time(GeometricBrownianMotion(0.5, 1.0), -1.0, 1.0)
    with pytest.raises(ValueError, match="`x0`"):
        exit_time_distribution(BrownianMotion(), 0.0, 1.0, 2.0, 1.0)
    with pytest.raises(ValueError, match="`lower` must be"):
        exit_time(BrownianMotion(), 0.0, 1.0, lower="sticky")
    with pytest.raises(DivergenceError, match="never exits"):
        exit_time(BrownianMotion(), 0.0, 1.0, lower="reflecting", upper="reflecting")
    # regressions: a non-process raised AttributeError; value(nan) returned nan
    with pytest.raises(TypeError, match="`process` must be a gelav Process"):
        exit_time("bm", 0.0, 1.0)
    with pytest.raises(ValueError, match=r"`x` must lie in \[0, 1\]"):
        exit_time(BrownianMotion(), 0.0, 1.0, n_cells=20).value(float("nan"))


def test_exit_result_plot():
    import matplotlib

    matplotlib.use("Agg")
    r = exit_time(BrownianMotion(MU, S), A, B, n_cells=50)
    fig = r.plot(exact=mean_exit)
    assert fig.axes[0].get_ylabel().startswith("mean exit time")
    d = exit_time_distribution(BrownianMotion(MU, S), A, B, 0.0, 1.0, n_cells=50, n_steps=20)
    assert d.plot().axes[0].get_xlabel().startswith("time")


@pytest.mark.parametrize("x", [0.987, 0.5123, 0.0301])
def test_values_between_nodes_are_exact_for_constant_coefficients(x):
    # linear interpolation between nodes was 1.3e-3 (E[τ]) and 5.4e-4 (P) off for BM with drift -2, σ = 0.3 at
    # x = 0.987 on 400 cells; the cell's own equation with the nodal values as data is exact there
    import math

    from gelav import BrownianMotion
    from gelav.exits import exit_probability, exit_time

    mu, sig = -2.0, 0.3
    g = 2 * mu / sig**2
    p_exact = math.expm1(-g * x) / math.expm1(-g)
    e_exact = (p_exact - x) / mu
    bm = BrownianMotion(mu, sig)
    assert exit_probability(bm, 0.0, 1.0).value(x) == pytest.approx(p_exact, rel=1e-11)
    assert exit_time(bm, 0.0, 1.0).value(x) == pytest.approx(e_exact, rel=1e-11)


def test_values_between_nodes_keep_the_nodal_accuracy():
    # OU from (-1, 2): off-node values on 100 cells are as close to a 6400-cell reference as the nodes are
    # (linear interpolation added errors 36x larger near the ends, where E[τ] drops to 0)
    from gelav import OrnsteinUhlenbeck
    from gelav.exits import exit_time

    ou = OrnsteinUhlenbeck(0.45, 1.0, 0.32)
    ref, coarse = exit_time(ou, -1, 2, n_cells=6400), exit_time(ou, -1, 2, n_cells=100)
    xs = np.linspace(-0.99, 1.99, 37)
    node_err = np.max(np.abs(coarse.values - ref.value(coarse.x)))
    assert np.max(np.abs(coarse.value(xs) - ref.value(xs))) <= 1.05 * node_err


def test_exit_time_task_reports_refinement_estimates_that_cover_the_error():
    """``gelav exit-time`` printed P(τ > 0.05) = 0.999974 to six decimals for 0.999979 (BM with drift 1 from 0
    below the barrier 1, lower end -10: the exit probability 2.6e-5 for 2.06e-5, space error on 400 cells) with
    no estimate; now every column carries |X(n) - X(n/2)|/3, which covers the error here (second order)."""
    import math

    from scipy.stats import norm

    from gelav import tasks

    rep = tasks.exit_time(None, kind="brownian", mu=1.0, sigma=1.0, a=-10.0, b=1.0, x0=[0.0], horizon=0.05)
    d = rep.data
    T = 0.05
    exact_exit = norm.cdf((T - 1) / math.sqrt(T)) + math.exp(2.0) * norm.cdf((-1 - T) / math.sqrt(T))
    err = abs(d["survival_at_horizon"][0] - (1.0 - exact_exit))
    assert err > 1e-6  # the grid's error is visible at six decimals ...
    assert err <= d["survival_at_horizon_error"][0] <= 3 * err  # ... and the estimate covers it
    assert d["p_upper_first_error"][0] < 1e-12 and d["mean_exit_time_error"][0] < 1e-12  # exact for BM
    ou = tasks.exit_time(None, kind="ornstein-uhlenbeck", a=-1.0, b=2.0, x0=[1.25]).data
    fine = tasks.exit_time(None, kind="ornstein-uhlenbeck", a=-1.0, b=2.0, x0=[1.25], n_cells=6400).data
    assert abs(ou["mean_exit_time"][0] - fine["mean_exit_time"][0]) <= 1.5 * ou["mean_exit_time_error"][0]


def test_exit_time_task_warns_where_its_estimate_is_first_order():
    """σ = 1e-8 (drift 1 on (-1, 1)): from x0 = 0 the exit is at t = 1 exactly, and E[min(τ, 1)] = 0.9717 was
    printed for 1 with a refinement estimate of 4e-3; the cell Péclet number (1e14) now warns."""
    from gelav import tasks
    from gelav.errors import AccuracyWarning

    with pytest.warns(AccuracyWarning, match="cell Péclet number"):
        tasks.exit_time(None, kind="brownian", mu=1.0, sigma=1e-8, a=-1.0, b=1.0, x0=[0.0], horizon=1.0)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error", AccuracyWarning)
        tasks.exit_time(None, kind="brownian", mu=1.0, sigma=1.0, a=-10.0, b=1.0, x0=[0.0], horizon=0.05)
