"""Trinomial walk (seed 003), Hull–White trees and generator lattices (issue 5, item 4).

Every check compares with a closed form, measures a convergence order on
refinement, checks an invariant or cross-checks another view (PDE).
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy import stats

from gelav.forward import forward
from gelav.grid import Grid, auto_domain
from gelav.lattice import (
    GeneratorLattice,
    TrinomialTree,
    TrinomialWalk,
    fit_order,
    lattice_cdf,
    stress_probability,
)
from gelav.processes import CIR, BrownianMotion, GeometricBrownianMotion, OrnsteinUhlenbeck, Process

# -- analytic references -------------------------------------------------------
SEED000 = dict(kappa=0.45, mean=1.0, sigma=0.32)
X0, T, C = -0.5, 2.0, -0.5


def p_seed000() -> float:
    """P(L_2 < -0.5 | L_0 = -0.5) = Φ(-2.89...) = 0.0019356... (seed 000)."""
    ou = OrnsteinUhlenbeck(**SEED000)
    m = ou.mean + (X0 - ou.mean) * math.exp(-ou.kappa * T)
    v = ou.sigma**2 / (2 * ou.kappa) * (1 - math.exp(-2 * ou.kappa * T))
    return float(stats.norm.cdf((C - m) / math.sqrt(v)))


def vasicek_bond(kappa: float, theta: float, sigma: float, r0: float, t: float) -> float:
    """Zero-coupon bond price under dr = κ(θ − r)dt + σdW."""
    B = (1 - math.exp(-kappa * t)) / kappa
    A = math.exp((theta - sigma**2 / (2 * kappa**2)) * (B - t) - sigma**2 * B**2 / (4 * kappa))
    return A * math.exp(-B * r0)


def bs_put(s: float, k: float, r: float, sigma: float, t: float) -> float:
    d1 = (math.log(s / k) + (r + 0.5 * sigma**2) * t) / (sigma * math.sqrt(t))
    d2 = d1 - sigma * math.sqrt(t)
    return k * math.exp(-r * t) * stats.norm.cdf(-d2) - s * stats.norm.cdf(-d1)


# =============================================================================
# trinomial walk
# =============================================================================
@pytest.mark.parametrize("alpha", [0.05, 0.3, 0.5])
def test_walk_step_probabilities_and_moments(alpha: float) -> None:
    w = TrinomialWalk(alpha, dy=0.1, dt=0.01)
    p = np.array(w.probabilities)
    assert np.all(p >= 0) and p.sum() == pytest.approx(1.0, abs=1e-15)
    steps = np.array([-w.dy, 0.0, w.dy])
    assert p @ steps == pytest.approx(0.0, abs=1e-15)
    # one step: variance 2α δy² = 2C² δt
    assert p @ steps**2 == pytest.approx(2 * w.c2 * w.dt, rel=1e-14)
    assert w.c2 == pytest.approx(alpha * 0.1**2 / 0.01, rel=1e-14)


@pytest.mark.parametrize("alpha,n", [(0.3, 252), (0.1, 37), (0.5, 100)])
def test_walk_law_exact_variance_and_kurtosis(alpha: float, n: int) -> None:
    w = TrinomialWalk(alpha, dy=0.5, dt=0.25)
    law = w.law(n)
    assert np.all(law.probabilities >= 0)
    assert law.probabilities.sum() == pytest.approx(1.0, abs=1e-13)
    assert law.mean() == pytest.approx(0.0, abs=1e-12)
    t = n * w.dt
    assert law.var() == pytest.approx(2 * w.c2 * t, rel=1e-12)  # 2C²t exactly on the lattice
    assert w.variance(t) == pytest.approx(law.var(), rel=1e-12)
    # cumulants add: excess kurtosis (1 − 6α)/(2αn) exactly
    assert law.kurtosis() == pytest.approx((1 - 6 * alpha) / (2 * alpha * n), abs=1e-9)


def test_walk_law_is_the_trinomial_enumeration() -> None:
    """Master equation solved by convolution = brute-force enumeration of all 3^n paths."""
    alpha, n = 0.3, 6
    w = TrinomialWalk(alpha)
    probs = dict.fromkeys(range(-n, n + 1), 0.0)
    pstep = {-1: alpha, 0: 1 - 2 * alpha, 1: alpha}
    for path in itertools.product((-1, 0, 1), repeat=n):
        probs[sum(path)] += math.prod(pstep[s] for s in path)
    law = w.law(n)
    np.testing.assert_allclose(law.probabilities, [probs[j] for j in range(-n, n + 1)], rtol=1e-13, atol=1e-16)
    # and one step of the master equation P_{n+1}(j) = αP_n(j−1) + (1−2α)P_n(j) + αP_n(j+1)
    nxt = w.law(n + 1).probabilities
    P = np.r_[0.0, 0.0, law.probabilities, 0.0, 0.0]
    np.testing.assert_allclose(nxt, alpha * P[:-2] + (1 - 2 * alpha) * P[1:-1] + alpha * P[2:], atol=1e-15)


def test_walk_continuous_time_law_variance() -> None:
    w = TrinomialWalk(0.3, dy=0.2, dt=0.1)
    d = w.continuous_law(3.0)
    assert d.var() * w.dy**2 == pytest.approx(2 * w.c2 * 3.0, rel=1e-12)


def test_walk_lattice_law_converges_to_gaussian_at_order_one() -> None:
    """Continuity-corrected sup distance to N(0, 2C²t) falls like 1/n (symmetric lattice)."""
    w = TrinomialWalk(0.3)
    ns = [50, 100, 200, 400]
    gaps = []
    for n in ns:
        law = w.law(n)
        g = w.limit(n * w.dt)
        gaps.append(np.max(np.abs(np.cumsum(law.probabilities) - g.cdf(law.positions + 0.5 * w.dy))))
    assert 0.97 < fit_order(ns, gaps) < 1.03


def test_walk_simulation_ks_and_moments() -> None:
    """Seed 003: 20,000 walks of 252 steps, α = 0.3, against the exact lattice law and N(0, 2C²t)."""
    w = TrinomialWalk(0.3)
    s = w.simulate(252, 20_000, seed=2026, keep_paths=False)
    ks = s.ks_lattice()
    assert ks.pvalue > 1e-3  # KS vs the exact law (conservative for a discrete law)
    mo = s.moments()
    for key in ("mean", "variance"):
        est, se = mo[key]["sample"], mo[key]["stderr"]
        assert abs(est - mo[key]["lattice"]) < 4 * se, key
    assert mo["variance"]["lattice"] == pytest.approx(2 * w.c2 * 252, rel=1e-12)
    # distance to the Gaussian: sampling noise (KS scale) plus the exact lattice gap
    assert s.ks_gaussian().statistic < 4 / math.sqrt(20_000) + s.lattice_gap()


def test_walk_simulation_reproducible_and_chunk_independent() -> None:
    w = TrinomialWalk(0.3)
    a = w.simulate(50, 1000, seed=7)
    b = w.simulate(50, 1000, seed=7, keep_paths=False, chunk=777)
    np.testing.assert_array_equal(a.final, b.final)
    assert a.paths is not None and a.paths.shape == (1000, 51)
    np.testing.assert_array_equal(a.paths[:, -1], a.final)
    assert np.all(np.abs(np.diff(a.paths, axis=1)) <= w.dy + 1e-12)
    c = w.simulate(50, 1000, seed=8, keep_paths=False)
    assert not np.array_equal(a.final, c.final)


def test_walk_far_from_zero_keeps_its_moments() -> None:
    """The same walks started at 1e12: every moment and its z-score as from 0. The lattice mean Σ p·y was
    0.01 off there (the probabilities sum to 1 only to rounding), a z-score of 0.08; beyond MAX_STATE the
    start is an error naming `x0` (1e308 printed inf and nan)."""
    w = TrinomialWalk(0.3)
    m0 = w.simulate(252, 10_000, seed=0, keep_paths=False).moments()
    m1 = w.simulate(252, 10_000, seed=0, keep_paths=False, x0=1e12).moments()
    for key in ("mean", "variance", "skewness", "excess_kurtosis"):
        z0 = (m0[key]["sample"] - m0[key]["lattice"]) / m0[key]["stderr"]
        z1 = (m1[key]["sample"] - m1[key]["lattice"]) / m1[key]["stderr"]
        assert z1 == pytest.approx(z0, abs=1e-3), key
    assert w.law(252, x0=1e12).mean() - 1e12 == pytest.approx(0.0, abs=1e-3)
    with pytest.raises(ValueError, match="`x0`"):
        w.simulate(10, 10, x0=1e308)
    with pytest.raises(ValueError, match="`x0`"):
        w.law(10, x0=-1e13)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(alpha=0.6), "`alpha`"),
        (dict(alpha=0.0), "`alpha`"),
        (dict(alpha=0.3, dy=-1.0), "`dy`"),
        (dict(alpha=0.3, dt=0.0), "`dt`"),
    ],
)
def test_walk_bad_input(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        TrinomialWalk(**kwargs)


def test_walk_simulate_bad_input() -> None:
    w = TrinomialWalk(0.3)
    with pytest.raises(ValueError, match="`n_paths`"):
        w.simulate(10, 0)
    with pytest.raises(ValueError, match="`n_steps`"):
        w.simulate(2.5, 10)
    with pytest.raises(TypeError, match="`seed`"):
        w.simulate(10, 10, seed="abc")


# =============================================================================
# Hull–White trees
# =============================================================================
@pytest.mark.parametrize("n_steps", [20, 200, 2000])
def test_tree_probabilities_match_two_moments(n_steps: int) -> None:
    tree = TrinomialTree(OrnsteinUhlenbeck(**SEED000), X0, T, n_steps)
    err = tree.moment_errors()
    assert err["min_probability"] >= 0.0
    assert err["sum"] < 1e-14
    assert err["mean"] < 1e-11 and err["variance"] < 1e-11
    M = math.expm1(-0.45 * T / n_steps)
    assert tree.j_max == math.ceil(0.184 / -M)
    # switched branching at ±j_max, standard inside
    k = tree.branch_centres
    assert k[-1] == tree.J - 1 and k[0] == -tree.J + 1
    np.testing.assert_array_equal(k[1:-1], np.arange(-tree.J + 1, tree.J))
    # standard-node formulas of Hull and White: p_m = 2/3 − j²M² (exact M)
    j = np.arange(-tree.J + 1, tree.J)
    np.testing.assert_allclose(tree.probabilities[1, 1:-1], 2 / 3 - j**2 * M**2, atol=1e-14)


def test_tree_law_matches_ou_exact_moments() -> None:
    """Each step matches the conditional mean and variance exactly, so the law at T does too."""
    ou = OrnsteinUhlenbeck(**SEED000)
    tree = TrinomialTree(ou, X0, T, 300)
    x, q = tree.law()
    mean = q @ x
    var = q @ (x - mean) ** 2
    assert q.min() >= 0 and q.sum() == pytest.approx(1.0, abs=1e-13)
    assert mean == pytest.approx(ou.conditional_mean(X0, T), abs=1e-12)
    assert var == pytest.approx(ou.conditional_var(X0, T), rel=1e-11)
    # CDF at the faces against the exact normal law: weak error O(1/N)
    F = np.cumsum(q)[:-1]
    faces = 0.5 * (x[1:] + x[:-1])
    assert np.max(np.abs(F - ou.transition(X0, T).cdf(faces))) < 1e-3


def test_tree_bad_input() -> None:
    ou = OrnsteinUhlenbeck(**SEED000)
    with pytest.raises(TypeError, match="GeneratorLattice"):
        TrinomialTree(CIR(0.5, 0.04, 0.1), 0.03, 1.0, 10)
    with pytest.raises(ValueError, match="`n_steps`"):
        TrinomialTree(ou, X0, T, 0)
    with pytest.raises(ValueError, match="`horizon`"):
        TrinomialTree(ou, X0, -1.0, 10)
    with pytest.raises(ValueError, match="`j_max`"):
        TrinomialTree(ou, X0, T, 200, j_max=200)  # |jM| ≈ 0.9 > 0.816: negative probabilities
    with pytest.raises(ValueError, match="`x0`"):
        TrinomialTree(GeometricBrownianMotion(0.05, 0.2), -1.0, 1.0, 10)


def test_tree_stress_probability_order_one_and_within_error_estimate() -> None:
    """Seed 000 stress test on the tree, counted smoothly: error ≈ a/N, order fitted ≈ 1."""
    ou = OrnsteinUhlenbeck(**SEED000)
    exact = p_seed000()
    assert exact == pytest.approx(0.0019356, abs=1e-7)
    ns = [100, 200, 400, 800, 1600]
    errs = [TrinomialTree(ou, X0, T, n).prob(below=C) - exact for n in ns]
    assert 0.97 < fit_order(ns, errs) < 1.03
    # the error is smooth: N·e_N is nearly constant (no 1/sqrt(N) saw-tooth)
    scaled = np.array(errs) * np.array(ns)
    assert np.ptp(scaled) < 0.1 * np.abs(scaled).mean()
    est = stress_probability(ou, X0, T, C, n_steps=800)
    p, err = est
    assert est.method == "tree" and est.sizes == (400, 800)
    assert abs(p - exact) < err
    assert abs(est.values[1] - exact) < 1.2 * err  # the estimate is the error of the finer tree
    # above = 1 − below
    p_above, _ = stress_probability(ou, X0, T, C, below=False, n_steps=800)
    assert p_above == pytest.approx(1 - p, abs=1e-12)


def test_stress_probability_far_threshold_and_long_horizon_stay_fast() -> None:
    """Regression: a threshold 1e9 sd away, or T = 1e6 y, used to refine the tree to 2**22 steps
    (minutes); now the far tail is taken as it is and long horizons fall back to the generator."""
    import time

    t0 = time.perf_counter()
    p, err = stress_probability(OrnsteinUhlenbeck(0.45, 1.0, 1e-9), X0, T, C)
    assert p == pytest.approx(0.0, abs=1e-15) and err < 1e-15
    ou = OrnsteinUhlenbeck(**SEED000)
    for horizon in (100.0, 1e6):
        est = stress_probability(ou, X0, horizon, C)
        exact = float(ou.transition(X0, horizon).cdf(C))
        assert abs(est.probability - exact) < 4 * est.error_estimate + 1e-9
    assert time.perf_counter() - t0 < 60  # generous: the old code took minutes


def test_naive_node_counting_is_not_smooth() -> None:
    """Counting whole nodes (the non-smooth way) has an error that does not scale like 1/N."""
    ou = OrnsteinUhlenbeck(**SEED000)
    exact = p_seed000()
    ns = [100, 141, 200, 283, 400]
    scaled = []
    for n in ns:
        tree = TrinomialTree(ou, X0, T, n)
        x, q = tree.law()
        scaled.append((q[x < C].sum() - exact) * n)
    assert np.ptp(scaled) > 0.5 * np.abs(scaled).mean()


def test_tree_arrow_debreu_prices_give_vasicek_bond() -> None:
    """Forward induction with discounting: Σ AD prices = zero-coupon bond, order 1 in Δt."""
    kappa, theta, sigma, r0, t = 0.3, 0.05, 0.01, 0.03, 5.0
    ou = OrnsteinUhlenbeck(kappa, theta, sigma)
    exact = vasicek_bond(kappa, theta, sigma, r0, t)
    ns = [50, 100, 200, 400]
    errs = [TrinomialTree(ou, r0, t, n).forward(discount=lambda s, x: x).sum() - exact for n in ns]
    assert 0.97 < fit_order(ns, errs) < 1.03
    # constant rate: AD prices sum to e^{-rT} exactly
    q = TrinomialTree(ou, r0, t, 50).forward(discount=0.04)
    assert q.sum() == pytest.approx(math.exp(-0.04 * t), rel=1e-13)


def test_tree_forward_backward_duality() -> None:
    """Backward value of a European payoff = forward probabilities · payoff (to rounding)."""
    tree = TrinomialTree(OrnsteinUhlenbeck(**SEED000), X0, T, 120)
    g = lambda x: np.maximum(0.2 - x, 0.0)  # noqa: E731
    v = tree.backward(g, discount=0.03).value
    x, q = tree.law()
    assert v == pytest.approx(math.exp(-0.03 * T) * (q @ g(x)), rel=1e-13)


def test_american_put_tree_vs_reference() -> None:
    """American put (S=36, K=40, r=6%, σ=20%, T=1) by backward induction with early exercise.

    Reference from refinement of an independent lattice (the generator chain on
    an S-grid, order 2 in the spacing, Richardson-extrapolated); the two agree
    within the sum of their refinement error estimates. Invariants: American ≥
    European ≥ 0, American ≥ intrinsic; European tree vs Black–Scholes is O(1/N).
    """
    s0, k, r, sigma, t = 36.0, 40.0, 0.06, 0.2, 1.0
    g = GeometricBrownianMotion(r, sigma)
    put = lambda s: np.maximum(k - s, 0.0)  # noqa: E731
    am = {n: TrinomialTree(g, s0, t, n).backward(put, discount=r, exercise=True) for n in (500, 1000)}
    eu = {n: TrinomialTree(g, s0, t, n).backward(put, discount=r).value for n in (500, 1000)}
    bs = bs_put(s0, k, r, sigma, t)
    for n in (500, 1000):
        assert am[n].value >= eu[n] >= 0 and am[n].value >= k - s0
        assert abs(eu[n] - bs) < 2.0 / n  # O(1/N), constant measured ~0.15
    tree_err = abs(am[1000].value - am[500].value)
    # exercise boundary lies below the strike and rises towards it at expiry
    b = am[1000].exercise_boundary
    assert b is not None and np.nanmax(b) < k and b[-2] > b[500] > 30.0
    vals = []
    for m in (200, 400):
        grid = Grid.aligned(1.0, 200.0, m, node=s0)
        u = GeneratorLattice(g, grid, killing=r).backward(put, t, exercise=True)
        vals.append(float(grid.point_mass(s0) @ u))
    gen_err = abs(vals[1] - vals[0]) / 3
    ref = vals[1] + (vals[1] - vals[0]) / 3
    assert abs(am[1000].value - ref) < tree_err + gen_err
    assert am[1000].value == pytest.approx(4.4866, abs=2e-3)  # literature value (binomial, 10^4 steps)


# =============================================================================
# generator lattices: any process
# =============================================================================
def test_generator_lattice_is_a_probability_chain() -> None:
    ou = OrnsteinUhlenbeck(**SEED000)
    grid = Grid.uniform(-2.0, 3.0, 60)
    lat = GeneratorLattice(ou, grid)
    P = lat.transition(lat.max_step()).toarray()
    assert P.min() >= -1e-15
    np.testing.assert_allclose(P.sum(axis=1), 1.0, atol=1e-13)
    # interior rows are trinomial: three non-zeros
    assert np.all((P[1:-1] > 0).sum(axis=1) <= 3)
    with pytest.raises(ValueError, match="largest positive step"):
        lat.transition(1.5 * lat.max_step())
    with pytest.raises(ValueError, match="`n_steps`"):
        lat.forward(grid.point_mass(X0), T, n_steps=2)
    with pytest.raises(ValueError, match="Unknown `method`"):
        GeneratorLattice(ou, grid, method="implicit")
    with pytest.raises(ValueError, match="`safety`"):
        GeneratorLattice(ou, grid, safety=2.0)
    Pe = GeneratorLattice(ou, grid, method="exact").transition(0.1).toarray()
    assert Pe.min() >= -1e-13
    np.testing.assert_allclose(Pe.sum(axis=1), 1.0, atol=1e-12)


@pytest.mark.parametrize("method", ["explicit", "exact"])
def test_generator_lattice_stress_order_two_in_spacing(method: str) -> None:
    """Explicit chain with Δt ∝ h² (n_steps = 0.02 m²) and exact chain e^{TQ}: order 2 in h."""
    ou = OrnsteinUhlenbeck(**SEED000)
    exact = p_seed000()
    lo, hi = auto_domain(ou, X0, T, tail=1e-12, include=(C,))
    ms = [100, 200, 400]
    errs = []
    for m in ms:
        grid = Grid.aligned(lo, hi, m, node=X0)
        lat = GeneratorLattice(ou, grid, method=method)
        kw = {"n_steps": int(0.02 * m * m)} if method == "explicit" else {}
        p = lat.forward(grid.point_mass(X0), T, **kw)
        assert p.min() >= -1e-15 and p.sum() == pytest.approx(1.0, abs=1e-12)
        errs.append(float(lattice_cdf(grid.nodes, p, C)) - exact)
    assert 1.95 < fit_order(ms, errs) < 2.05


def test_generator_stress_cir_within_error_estimate() -> None:
    """Any process: CIR (non-central χ² law) through the generator lattice."""
    cir = CIR(0.5, 0.04, 0.1)
    exact = float(cir.transition(0.03, 1.0).cdf(0.02))
    est = stress_probability(cir, 0.03, 1.0, 0.02, n_cells=200)
    assert est.method == "generator" and est.order == 2.0
    assert abs(est.probability - exact) < est.error_estimate
    ou = OrnsteinUhlenbeck(**SEED000)
    p, err = stress_probability(ou, X0, T, C, method="generator", n_cells=200)
    assert abs(p - p_seed000()) < err


def test_lattice_agrees_with_pde_forward() -> None:
    """Lattice view = PDE view: the exact chain e^{TQ} is the limit of gelav.forward on the same grid.

    gelav.forward (Crank–Nicolson with Rannacher steps on the same Q) differs
    from the exact chain only by its time error, which falls at order 2.
    """
    ou = OrnsteinUhlenbeck(**SEED000)
    lo, hi = auto_domain(ou, X0, T, tail=1e-12, include=(C,))
    grid = Grid.aligned(lo, hi, 200, node=X0)
    p_exact = GeneratorLattice(ou, grid, method="exact").forward(grid.point_mass(X0), T)
    ns = [25, 50, 100, 200]
    diffs = []
    for n in ns:
        d = forward(ou, X0, T, grid=grid, n_steps=n)
        diffs.append(np.abs(d.masses[-1] - p_exact).sum())
    assert 1.8 < fit_order(ns, diffs) < 2.2
    # tree and PDE stress probabilities agree within their error estimates
    p_tree, e_tree = stress_probability(ou, X0, T, C, n_steps=800)
    dens = [forward(ou, X0, T, n_cells=m, n_steps=m, include=(C,)).prob(below=C, t=T) for m in (200, 400)]
    e_pde = abs(dens[1] - dens[0])
    assert abs(p_tree - dens[1]) < e_tree + e_pde + 1e-7


def test_brownian_tree_exact_gaussian_moments() -> None:
    """κ = 0: an unbounded tree (no switching) with exact mean and variance."""
    bm = BrownianMotion(0.1, 0.5)
    tree = TrinomialTree(bm, 0.0, 1.0, 64)
    assert tree.J == 64
    x, q = tree.law()
    assert q @ x == pytest.approx(0.1, abs=1e-13)
    assert q @ (x - 0.1) ** 2 == pytest.approx(0.25, rel=1e-12)
    np.testing.assert_allclose(tree.probabilities[:, 0], [1 / 6, 2 / 3, 1 / 6], atol=1e-15)


def test_lattice_cdf_and_fit_order_inputs() -> None:
    assert lattice_cdf([0.0, 1.0, 2.0, 3.0], [0.1, 0.2, 0.3, 0.4], 1.5) == pytest.approx(0.3)
    assert lattice_cdf([0.0, 1.0], [0.5, 0.5], -1.0) == 0.0
    assert lattice_cdf([0.0, 1.0], [0.5, 0.5], 5.0) == 1.0
    with pytest.raises(ValueError, match="`nodes`"):
        lattice_cdf([0.0, 1.0], [1.0], 0.5)
    with pytest.raises(ValueError, match="`n`"):
        fit_order([1.0], [1.0])
    with pytest.raises(ValueError, match="Unknown `method`"):
        stress_probability(OrnsteinUhlenbeck(**SEED000), X0, T, C, method="bogus")
    with pytest.raises(TypeError, match="method='tree'"):
        stress_probability(CIR(0.5, 0.04, 0.1), 0.03, 1.0, 0.02, method="tree")


def test_lattice_convergence_to_pde_reference() -> None:
    """Tree answers converge to the PDE's answer (gelav.forward, fine grid) at order 1, the exact chain at 2."""
    from gelav.lattice import lattice_convergence

    ou = OrnsteinUhlenbeck(**SEED000)
    st = lattice_convergence(ou, X0, T, C, sizes=(100, 200, 400, 800), method="tree", reference="pde")
    assert st.reference_kind == "pde"
    # PDE error at 3200 cells is below 1.4e-6/16 (second order from 1.4e-6 at 800 cells) before extrapolation
    assert abs(st.reference - p_seed000()) < 1.4e-6 / 16
    assert 0.97 < st.order < 1.03
    st2 = lattice_convergence(CIR(0.5, 0.04, 0.1), 0.03, 1.0, 0.02, sizes=(50, 100, 200), method="generator")
    assert st2.reference_kind == "analytic" and 1.9 < st2.order < 2.1
    st3 = lattice_convergence(ou, X0, T, C, sizes=(100, 200, 400), method="generator-explicit")
    assert 1.9 < st3.order < 2.1
    fig = st.plot()
    assert fig.axes[0].get_xlabel().startswith("N")
    with pytest.raises(ValueError, match="`sizes`"):
        lattice_convergence(ou, X0, T, C, sizes=(100,))
    with pytest.raises(ValueError, match="reference='pde'"):
        lattice_convergence(Process(lambda t, x: -x, lambda t, x: 1 + 0 * x), 0.0, 1.0, 0.0, reference="analytic")


def test_generator_lattice_duality_killing_and_time_dependence() -> None:
    """p0·u0 = pT·g to rounding (explicit chain, time-dependent drift); killing discounts mass exactly."""
    proc = Process(lambda t, x: np.sin(3 * t) - 0.5 * x, lambda t, x: 0.4 + 0.1 * np.cos(x))
    grid = Grid.uniform(-3.0, 3.0, 120)
    lat = GeneratorLattice(proc, grid, killing=0.05)
    n = 2 * lat.n_steps_for(1.0)
    p0 = grid.point_mass(0.3)
    g = np.tanh(grid.nodes)
    pT = lat.forward(p0, 1.0, n_steps=n)
    u0 = lat.backward(g, 1.0, n_steps=n)
    assert p0 @ u0 == pytest.approx(pT @ g, abs=1e-13)
    # constant killing r: explicit chain keeps (1 - rΔt)^n of the mass, the exact chain e^{-rT}
    ou = OrnsteinUhlenbeck(**SEED000)
    g2 = Grid.uniform(-2.0, 3.0, 80)
    ex = GeneratorLattice(ou, g2, killing=0.05)
    m = ex.n_steps_for(T)
    assert ex.forward(g2.point_mass(X0), T).sum() == pytest.approx((1 - 0.05 * T / m) ** m, rel=1e-12)
    exa = GeneratorLattice(ou, g2, killing=0.05, method="exact")
    assert exa.forward(g2.point_mass(X0), T).sum() == pytest.approx(math.exp(-0.05 * T), rel=1e-12)
    with pytest.raises(ValueError, match="`n_steps`"):
        lat.backward(g, 1.0, n_steps=1)


def test_tree_backward_exercise_options() -> None:
    tree = TrinomialTree(OrnsteinUhlenbeck(**SEED000), X0, T, 60)
    g = lambda x: np.maximum(0.5 - x, 0.0)  # noqa: E731
    a = tree.backward(g, exercise=True).value
    b = tree.backward(g, exercise=lambda t, x: g(x)).value
    e = tree.backward(g).value
    assert a == b and a >= e
    with pytest.raises(TypeError, match="`exercise`"):
        tree.backward(g, exercise="yes")


def test_truncated_tree_must_cover_threshold() -> None:
    """Regression (issue 5): a fast-reverting OU tree truncated at ±j_max·δx ∝ sqrt(N) missed a 2-sd threshold.

    κ = 2, σ = 1, T = 5, c = −1 (2 stationary sd below the mean): at 50 steps the tree
    spans only ±1.5 sd, so P(X_T < c) came out as 0 with error estimate 0.
    """
    from gelav.errors import AccuracyWarning

    ou = OrnsteinUhlenbeck(2.0, 0.0, 1.0)
    exact = float(ou.transition(0.0, 5.0).cdf(-1.0))
    with pytest.warns(AccuracyWarning, match="standard deviations"):
        TrinomialTree(ou, 0.0, 5.0, 50).prob(below=-1.0)
    est = stress_probability(ou, 0.0, 5.0, -1.0, n_steps=100)
    assert est.sizes[0] > 50  # refined until the tree covers the threshold
    assert abs(est.probability - exact) < est.error_estimate


# -- CIR near a singular end: answered within the estimate, or left out ---------------------------
def _cir_cdf(cir: CIR, x0: float, horizon: float, c: float) -> float:
    """P(X_T < c) from the non-central χ² law of the CIR process (scipy.stats.ncx2)."""
    k, th, s = cir.kappa, cir.mean, cir.sigma
    scale = s * s * (1 - math.exp(-k * horizon)) / (4 * k)
    return float(stats.ncx2.cdf(c / scale, 4 * k * th / s**2, x0 * math.exp(-k * horizon) / scale))


CIR_NEAR_ZERO = [  # (kappa, mean, sigma), x0, T; Feller ratios 2κθ/σ² = 0.16, 0.3, 1.11, 2
    ((0.2, 0.1, 0.5), 0.05, 1.0), ((0.3, 0.02, 0.2), 0.02, 3.0), ((1.0, 0.05, 0.3), 0.05, 1.0),
    ((1.0, 0.04, 0.2), 0.001, 0.5), ((0.2, 0.1, 0.5), 1e-4, 1.0),
]


@pytest.mark.parametrize(("params", "x0", "horizon"), CIR_NEAR_ZERO)
@pytest.mark.parametrize("c", [1e-12, 1e-9, 1e-5, 1e-3, 1e-2])
def test_generator_stress_cir_near_zero_within_estimate_or_left_out(
        params: tuple[float, float, float], x0: float, horizon: float, c: float) -> None:
    """A threshold within two first cells of the graded grid from 0 printed 0.0812 "~ 5.1e-3" for
    0.0385 (c = 1e-9, Feller ratio 0.16): there the lattice is left out with its reason; beyond, its
    answer lies within its estimate of the ncx2 value."""
    from gelav.stress import MethodOmitted

    cir = CIR(*params)
    exact = _cir_cdf(cir, x0, horizon, c)
    try:
        p, err = stress_probability(cir, x0, horizon, c, method="generator")
    except MethodOmitted as why:
        assert "singular end x=0" in str(why) and "n_cells >=" in str(why)
        assert c < 1e-3  # the first cells of the default grid span ~1e-4 here
        return
    assert abs(p - exact) <= err, (p, err, exact)


def test_generator_stress_cir_audit_cases_are_left_out() -> None:
    """The audit's cases (lattice 0.0812, 0.1617, 0.0151, 0.0810 for 0.0385, 0.1683, 0.00477, 0.0128)."""
    from gelav.stress import MethodOmitted

    for params, x0, horizon, c in [((0.2, 0.1, 0.5), 0.05, 1.0, 1e-9), ((0.2, 0.1, 0.5), 0.05, 1.0, 1e-5),
                                   ((0.3, 0.02, 0.2), 0.02, 3.0, 1e-9), ((0.2, 0.1, 0.5), 0.05, 1.0, 1e-12)]:
        with pytest.raises(MethodOmitted, match="singular end"):
            stress_probability(CIR(*params), x0, horizon, c)


# -- tiny tails: the upper tail from the upper masses, beyond the tree a bound -------------------------
def _ou_tail(ou: OrnsteinUhlenbeck, x0: float, horizon: float, c: float, below: bool) -> float:
    m = ou.mean + (x0 - ou.mean) * math.exp(-ou.kappa * horizon)
    sd = ou.sigma * math.sqrt(-math.expm1(-2 * ou.kappa * horizon) / (2 * ou.kappa))
    return float(stats.norm.cdf(c, m, sd) if below else stats.norm.sf(c, m, sd))


@pytest.mark.parametrize("c", [2.0, 2.6, 2.8, 2.9, 3.0, 3.2, 5.0])
def test_tree_tiny_upper_tail_within_estimate(c: float) -> None:
    """P(X_2 > c) for seed 000 was 1 - F in doubles: 5.55e-16 "± 1.1e-16" at c = 2.9 for 1.9e-16,
    1.110e-15 at 3.0 and 3.2 for 1.2e-17 and 3.8e-20. Now within the estimate, and where the trees
    resolve the tail (a nonzero answer) within 5 % of norm.sf."""
    ou = OrnsteinUhlenbeck(**SEED000)
    exact = _ou_tail(ou, X0, T, c, below=False)
    p, err = stress_probability(ou, X0, T, c, below=False)
    assert abs(p - exact) <= err, (p, err, exact)
    if p > 0:
        assert abs(p - exact) <= 0.05 * exact
    else:  # beyond the tree: the answer is 0 with the tail's bound, which must be tight-ish
        assert exact <= err <= 1.1 * exact


@pytest.mark.parametrize("c", [0.45, 0.4, 0.2])
def test_tree_threshold_beyond_the_tree_reports_its_bound(c: float) -> None:
    """OU(5, 1, 0.2) from 1 over 3 y, c = 0.45 (8.7 sd): "0 ~ 0.0e+00" for 1.715e-18."""
    ou = OrnsteinUhlenbeck(5.0, 1.0, 0.2)
    exact = _ou_tail(ou, 1.0, 3.0, c, below=True)
    p, err = stress_probability(ou, 1.0, 3.0, c)
    assert p == 0.0 and exact <= err <= 1.1 * exact
    q, err_q = stress_probability(ou, 1.0, 3.0, 2.0 - c, below=False)  # the mirror image, upper tail
    assert q == 0.0 and exact <= err_q <= 1.1 * exact
    r, err_r = stress_probability(ou, 1.0, 3.0, c, below=False)  # the complement: 1 within the bound
    assert abs(r - (1.0 - exact)) <= err_r


def test_gbm_tiny_upper_tail_relative_error() -> None:
    """GBM upper tails (tree in ln S) from the upper masses: relative error, not ulp(1)."""
    gbm = GeometricBrownianMotion(0.05, 0.2)
    for c in (2.5, 3.5, 4.0):
        z = (math.log(c) - (0.05 - 0.02) * 1.0) / 0.2
        exact = float(stats.norm.sf(z))
        p, err = stress_probability(gbm, 1.0, 1.0, c, below=False)
        assert abs(p - exact) <= err, (c, p, err, exact)
        if p > 0:
            assert abs(p - exact) <= 0.05 * exact
