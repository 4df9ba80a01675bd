"""Monte Carlo engine: closed forms within 4 standard errors, convergence orders, reproducibility."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from gelav import CIR, BrownianMotion, GeometricBrownianMotion, OrnsteinUhlenbeck, Process
from gelav.mc_schemes import SCHEMES, get_scheme
from gelav.montecarlo import Estimate, Paths, integrate, simulate, stress_probability

OU = OrnsteinUhlenbeck(0.45, 1.0, 0.32)
STRESS_P = float(OU.transition(-0.5, 2.0).cdf(-0.5))  # 0.0019356...


def fit_slope(h, err):
    return float(np.polyfit(np.log(h), np.log(err), 1)[0])


# -- statistical agreement with closed forms ---------------------------------
@pytest.mark.parametrize("scheme", ["exact", "euler"])
def test_ou_mean_and_probability_within_4_stderr(scheme):
    n_steps = 1 if scheme == "exact" else 100
    n = 200_000
    p = simulate(OU, -0.5, 2.0, n_steps, n, scheme=scheme, seed=11)
    if scheme == "exact":
        law = OU.transition(-0.5, 2.0)
    else:
        # Euler on OU is an AR(1) with a Gaussian law known exactly:
        # mean m + (x0 - m) a^n, variance σ²h (1 - a^{2n}) / (1 - a²), a = 1 - κh
        h = 2.0 / n_steps
        a = 1 - 0.45 * h
        law = stats.norm(1.0 - 1.5 * a**n_steps, math.sqrt(0.32**2 * h * (1 - a ** (2 * n_steps)) / (1 - a * a)))
    assert abs(p.mean().zscore(law.mean())) < 4
    for c in (0.0, 0.5):
        assert abs(p.prob(below=c).zscore(law.cdf(c))) < 4
    # sample variance: se ≈ var·sqrt(2/n) for a Gaussian
    assert abs(p.var() - law.var()) < 4 * law.var() * math.sqrt(2 / n)


def test_stress_probability_within_4_stderr():
    assert STRESS_P == pytest.approx(0.0019356, abs=1e-7)
    e = stress_probability(OU, -0.5, 2.0, -0.5, n_paths=1_000_000, seed=2026)
    assert isinstance(e, Estimate)
    assert abs(e.zscore(STRESS_P)) < 4
    assert e.stderr < 0.03 * STRESS_P  # 1e6 paths: relative error ~2.3 %
    lo, hi = e.ci(0.999)
    assert lo < e.value < hi
    # Euler with many steps and the complementary event agree too
    e2 = stress_probability(OU, -0.5, 2.0, -0.5, below=False, n_paths=200_000, seed=5)
    assert abs(e2.zscore(1 - STRESS_P)) < 4


def test_gbm_mean_and_lognormal_probability():
    g = GeometricBrownianMotion(0.1, 0.3)
    p = simulate(g, 1.0, 1.0, 1, 200_000, scheme="exact", seed=3)
    assert abs(p.mean().zscore(math.exp(0.1))) < 4
    law = g.transition(1.0, 1.0)
    assert abs(p.prob(below=1.0).zscore(law.cdf(1.0))) < 4
    assert abs(p.prob(above=0.8, below=1.3).zscore(law.cdf(1.3) - law.cdf(0.8))) < 4


def test_cir_exact_noncentral_chi2():
    c = CIR(1.2, 0.05, 0.2)
    p = simulate(c, 0.03, 1.0, 4, 200_000, scheme="exact", seed=4, save="all")
    for t in (0.5, 1.0):
        law = c.transition(0.03, t)
        assert abs(p.mean(t).zscore(law.mean())) < 4
        assert abs(p.prob(below=0.05, t=t).zscore(law.cdf(0.05))) < 4
    assert np.all(p.values >= 0)


def test_cir_euler_weak_bias_small():
    c = CIR(1.2, 0.05, 0.2)
    p = simulate(c, 0.03, 1.0, 100, 100_000, scheme="milstein", seed=4)
    # weak order 1 with h = 0.01: bias O(1e-4·θ) far below 4 stderr ~ 4e-4·θ
    assert abs(p.mean().zscore(c.conditional_mean(0.03, 1.0))) < 4


def test_general_process_matches_ou_subclass():
    gen = Process(lambda t, x: 0.45 * (1.0 - x), lambda t, x: 0.32 + 0 * x, time_homogeneous=True)
    a = simulate(gen, -0.5, 2.0, 50, 10_000, seed=9, scheme="euler")
    b = simulate(OU, -0.5, 2.0, 50, 10_000, seed=9, scheme="euler")
    np.testing.assert_allclose(a.values, b.values, rtol=1e-10, atol=1e-12)


def test_antithetic_unbiased_and_variance_reduced():
    g = GeometricBrownianMotion(0.1, 0.3)
    plain = simulate(g, 1.0, 1.0, 1, 100_000, scheme="exact", seed=8)
    anti = simulate(g, 1.0, 1.0, 1, 100_000, scheme="exact", seed=8, antithetic=True)
    assert abs(anti.mean().zscore(math.exp(0.1))) < 4
    assert anti.mean().n == 50_000
    assert anti.mean().stderr < 0.5 * plain.mean().stderr  # near-linear payoff: large reduction
    z = np.log(anti.values[-1])
    np.testing.assert_allclose(z[0::2] + z[1::2], 2 * (0.1 - 0.045), atol=1e-12)  # pairs mirror


# -- convergence orders on nested grids with fixed Brownian paths ---------------
@pytest.fixture(scope="module")
def gbm_brownian():
    rng = np.random.default_rng(20261121)
    n_fine, n_paths, T = 2**10, 4000, 1.0
    dW = rng.standard_normal((n_fine, n_paths)) * math.sqrt(T / n_fine)
    return dW, T


@pytest.mark.parametrize("name", ["euler", "milstein"])
def test_strong_order_gbm(name, gbm_brownian):
    dW, T = gbm_brownian
    g = GeometricBrownianMotion(0.3, 0.6)
    exact = np.exp((0.3 - 0.18) * T + 0.6 * dW.sum(axis=0))
    hs, errs = [], []
    for lev in range(3, 9):
        n = 2**lev
        dWc = dW.reshape(n, -1, dW.shape[1]).sum(axis=1)
        X = integrate(g, 1.0, dWc, T / n, scheme=name)
        hs.append(T / n)
        errs.append(np.mean(np.abs(X[-1] - exact)))
    slope = fit_slope(hs, errs)
    assert abs(slope - get_scheme(name).strong_order) < 0.1, (slope, errs)


def test_exact_scheme_pathwise_exact_gbm(gbm_brownian):
    dW, T = gbm_brownian
    g = GeometricBrownianMotion(0.3, 0.6)
    X = integrate(g, 1.0, dW.reshape(16, -1, dW.shape[1]).sum(axis=1), T / 16, scheme="exact")
    np.testing.assert_allclose(X[-1], np.exp(0.12 * T + 0.6 * dW.sum(axis=0)), rtol=1e-12)
    assert SCHEMES["exact"].strong_order == math.inf


@pytest.mark.parametrize("name", ["euler", "milstein"])
def test_weak_order_gbm(name, gbm_brownian):
    # E[X_n] = (1 + μh)^n for both schemes; the weak error e^{μT} - (1+μh)^n is O(h).
    dW, T = gbm_brownian
    mu = 0.3
    g = GeometricBrownianMotion(mu, 0.6)
    exact = np.exp((mu - 0.18) * T + 0.6 * dW.sum(axis=0))
    hs, errs = [], []
    for lev in range(2, 7):
        n = 2**lev
        X = integrate(g, 1.0, dW.reshape(n, -1, dW.shape[1]).sum(axis=1), T / n, scheme=name)
        d = exact - X[-1]  # common random numbers: the noise of the error estimate is small
        se = d.std(ddof=1) / math.sqrt(d.size)
        known = math.exp(mu * T) - (1 + mu * T / n) ** n
        assert abs(d.mean() - known) < 4 * se + 4 * exact.std() / math.sqrt(d.size)
        hs.append(T / n)
        errs.append(known)
    assert abs(fit_slope(hs, errs) - get_scheme(name).weak_order) < 0.1
    # and the engine itself: sample mean of the simulated scheme vs its exact mean
    n = 8
    p = simulate(g, 1.0, T, n, 200_000, scheme=name, seed=1)
    assert abs(p.mean().zscore((1 + mu * T / n) ** n)) < 4


def test_weak_order_ou_engine():
    # Euler on OU: E[X_n] - E[X_T] = 1.5 (e^{-κT} - (1 - κh)^n), first order in h
    errs, hs = [], []
    for n in (2, 4, 8, 16):
        p = simulate(OU, -0.5, 2.0, n, 100_000, scheme="euler", seed=n, antithetic=True)
        bias = p.mean().value - OU.conditional_mean(-0.5, 2.0)
        known = -1.5 * ((1 - 0.45 * 2.0 / n) ** n - math.exp(-0.9))
        assert abs(bias - known) < 4 * p.mean().stderr + 1e-12
        hs.append(2.0 / n)
        errs.append(abs(known))
    assert abs(fit_slope(hs, errs) - 1.0) < 0.15


# -- barriers ------------------------------------------------------------------
def test_brownian_bridge_exit_probability():
    mu, sig, L, T = 0.2, 1.0, -1.0, 1.0
    exact = stats.norm.cdf((L - mu * T) / (sig * math.sqrt(T))) + math.exp(2 * mu * L / sig**2) * stats.norm.cdf(
        (L + mu * T) / (sig * math.sqrt(T)))
    bm = BrownianMotion(mu, sig)
    # only 8 steps: discrete monitoring alone would miss ~30 % of the exits
    p = simulate(bm, 0.0, T, 8, 200_000, seed=21, lower=L, save="all")
    e = p.exit_probability()
    assert abs(e.zscore(exact)) < 4
    assert p.exit_probability(side="lower").value == e.value
    assert np.all(np.isnan(p.values[-1][p.exit_side == -1]))
    assert np.all(np.isinf(p.exit_time[p.exit_side == 0]))
    # the survivors never sit below the barrier
    assert np.nanmin(p.values) > L


@pytest.mark.parametrize("sigma, side, level, steps", [(0.8, "lower", 0.5, 4), (0.8, "upper", 2.0, 4),
                                                    (0.3, "lower", 0.8, 4)])
def test_gbm_bridge_exit_is_exact_in_lamperti_units(sigma, side, level, steps):
    # ln X is a BM with drift nu = mu - sigma²/2: the reflection formula is exact. The bridge with sigma frozen at
    # x_n gave 0.596 ± 0.0008 against 0.5036 (z = +120) at 4 steps, and z = -46 for the upper barrier.
    mu, T, x0 = 0.05, 1.0, 1.0
    nu, a, sT = mu - sigma**2 / 2, math.log(level / x0), sigma * math.sqrt(T)
    sgn = 1.0 if side == "upper" else -1.0
    exact = (stats.norm.cdf(sgn * (nu * T - a) / sT)
             + math.exp(2 * nu * a / sigma**2) * stats.norm.cdf(sgn * (-a - nu * T) / sT))
    p = simulate(GeometricBrownianMotion(mu, sigma), x0, T, steps, 200_000, scheme="exact", seed=2,
                 **{side: level})
    assert abs(p.exit_probability().zscore(exact)) < 4


def test_lamperti_closed_forms_match_the_quadrature():
    # the families' closed forms against the base class's Gauss–Legendre on the same coefficients
    x = np.array([0.55, 0.9, 1.7, 3.0])
    for proc, ref in ((GeometricBrownianMotion(0.05, 0.8), 0.5), (CIR(0.8, 0.5, 0.3), 0.5),
                      (OrnsteinUhlenbeck(0.45, 1.0, 0.32), -0.5), (BrownianMotion(0.1, 2.0), 1.0)):
        np.testing.assert_allclose(proc.lamperti(0.0, x, ref), Process.lamperti(proc, 0.0, x, ref), rtol=1e-5)
    g = Process(lambda t, x: 0.05 * x, lambda t, x: 0.8 * x, domain=(0.0, math.inf), time_homogeneous=True)
    np.testing.assert_allclose(g.lamperti(0.0, x, 0.5), np.log(x / 0.5) / 0.8, rtol=1e-5)


def test_mean_exit_time_brownian_interval():
    # E[τ] = (1 - x²)/σ² = 1 for standard BM from 0 on (-1, 1); P(τ > 6) ≈ 1.4e-3 so E[τ ∧ 6] ≈ 1 - 1.1e-3.
    p = simulate(BrownianMotion(0.0, 1.0), 0.0, 6.0, 300, 20_000, seed=4, lower=-1.0, upper=1.0)
    e = p.mean_exit_time()
    dt = 6.0 / 300
    # exits are dated at the end of their step: bias in [0, dt]
    assert -4 * e.stderr - 2e-3 < e.value - 1.0 < 4 * e.stderr + dt
    sides = p.exit_side[p.exit_side != 0]
    assert abs(np.mean(sides == 1) - 0.5) < 4 * 0.5 / math.sqrt(sides.size)


def test_two_barriers_ou_exit_matches_pde():
    from gelav.forward import forward

    p = simulate(OU, 0.5, 1.0, 50, 100_000, seed=7, lower=0.0, upper=1.5)
    d = forward(OU, 0.5, 1.0, domain=(0.0, 1.5), lower="absorbing", upper="absorbing", n_cells=400, n_steps=400)
    ab = d.absorbed()
    for side in ("lower", "upper"):
        e = p.exit_probability(side=side)
        # bridge correction with frozen σ: remaining bias O(h) ≪ 4 se here
        assert abs(e.zscore(ab[side])) < 4, (side, e, ab[side])


# -- reproducibility -------------------------------------------------------------
def test_same_numbers_for_any_chunk_size_and_threads():
    kw = dict(scheme="euler", seed=123, save="all")
    ref = simulate(OU, -0.5, 1.0, 20, 30_000, chunk_size=30_000, workers=1, **kw)
    for chunk, workers in ((1, 2), (8192, 2), (20_000, 1), (10**6, 3)):
        other = simulate(OU, -0.5, 1.0, 20, 30_000, chunk_size=chunk, workers=workers, **kw)
        np.testing.assert_array_equal(other.values, ref.values)
    # a bigger run extends the smaller one: the first blocks are the same paths
    more = simulate(OU, -0.5, 1.0, 20, 40_000, workers=2, **kw)
    np.testing.assert_array_equal(more.values[:, :24_576], ref.values[:, :24_576])
    # the seed matters
    assert not np.array_equal(simulate(OU, -0.5, 1.0, 20, 30_000, scheme="euler", seed=124, save="all").values,
                              ref.values)
    # seed=None records its entropy so the run can be repeated
    a = simulate(OU, -0.5, 1.0, 5, 1000, seed=None)
    b = simulate(OU, -0.5, 1.0, 5, 1000, seed=np.random.SeedSequence(a.seed_entropy))
    np.testing.assert_array_equal(a.values, b.values)


def test_save_times_and_paths_api():
    p = simulate(OU, -0.5, 2.0, 20, 4000, seed=1, save=[0.5, 1.0, 2.0])
    assert isinstance(p, Paths)
    np.testing.assert_allclose(p.times, [0.5, 1.0, 2.0])
    assert p.at(1.0).shape == (4000,)
    q = p.quantile([0.1, 0.5, 0.9])
    assert np.all(np.diff(q) > 0)
    with pytest.raises(ValueError, match="was not saved"):
        p.at(0.7)
    assert p.expectation(lambda x: x**2).value == pytest.approx(np.mean(p.at() ** 2))
    assert "mean" in p.summary()
    assert "Paths(" in repr(p)


def test_progress_bar_runs():
    p = simulate(OU, -0.5, 1.0, 10, 20_000, seed=1, progress=True)
    assert p.n_paths == 20_000


def test_plots():
    import matplotlib

    matplotlib.use("Agg")
    p = simulate(OU, -0.5, 2.0, 40, 5000, seed=1, save="all")
    fig = p.plot_fan()
    assert fig.axes[0].get_xlabel().startswith("time")
    fig2 = p.plot_histogram()
    assert len(fig2.axes[0].lines) == 1  # the exact density
    from gelav.forward import forward

    fig3 = p.plot_histogram(exact=forward(OU, -0.5, 2.0, n_cells=100, n_steps=40))
    assert "Fokker" in fig3.axes[0].get_legend_handles_labels()[1][1]
    import matplotlib.pyplot as plt

    plt.close("all")


# -- bad inputs --------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        (dict(n_paths=0), ValueError, "`n_paths`"),
        (dict(n_steps=0), ValueError, "`n_steps`"),
        (dict(horizon=-1.0), ValueError, "`horizon`"),
        (dict(x0=float("nan")), ValueError, "`x0`"),
        (dict(scheme="rk4"), ValueError, "Registered schemes are 'euler', 'milstein', 'exact'"),
        (dict(antithetic=True, n_paths=1001), ValueError, "must be even"),
        (dict(save="some"), ValueError, "`save`"),
        (dict(save=[0.123]), ValueError, "step dates"),
        (dict(lower=0.0), ValueError, "`lower` barrier"),
        (dict(upper=-1.0), ValueError, "`upper` barrier"),
        (dict(seed=-3), ValueError, "`seed`"),
        (dict(seed="abc"), TypeError, "`seed`"),
        (dict(chunk_size=0), ValueError, "`chunk_size`"),
        (dict(client=object()), TypeError, "`client`"),
    ],
)
def test_bad_inputs(kwargs, exc, match):
    args = dict(process=OU, x0=-0.5, horizon=1.0, n_steps=10, n_paths=1000)
    args.update(kwargs)
    with pytest.raises(exc, match=match):
        simulate(**args)


def test_bad_inputs_processes():
    gen = Process(lambda t, x: -x, lambda t, x: 1 + 0 * x)
    with pytest.raises(ValueError, match="scheme='exact'"):
        simulate(gen, 0.0, 1.0, 10, 100, scheme="exact")
    with pytest.raises(ValueError, match="outside the domain"):
        simulate(GeometricBrownianMotion(0.1, 0.2), -1.0, 1.0, 10, 100)
    with pytest.raises(ValueError, match="antithetic"):
        simulate(CIR(1.0, 0.05, 0.2), 0.03, 1.0, 10, 100, scheme="exact", antithetic=True)
    with pytest.raises(ValueError, match="`level`"):
        Estimate(1.0, 0.1, 10).ci(1.5)
    with pytest.raises(ValueError, match="without barriers"):
        simulate(OU, 0.0, 1.0, 2, 100, seed=1).exit_probability()


# -- optional numba engine ------------------------------------------------------------
def test_numba_engine_laws_and_reproducibility():
    pytest.importorskip("numba")
    from gelav import mc_numba

    # the ziggurat normals: one Brownian step of unit variance is a standard normal sample
    z = mc_numba.run_paths(BrownianMotion(0.0, 1.0), "euler", 0.0, 1.0, 1, (1,), 0, 400_000, 99, False)[0]
    assert stats.kstest(z, "norm").pvalue > 1e-3
    assert abs(z.mean()) < 4 / math.sqrt(z.size)
    assert abs(z.var() - 1) < 4 * math.sqrt(2 / z.size)
    p = simulate(OU, -0.5, 2.0, 20, 200_000, scheme="exact", seed=5, engine="numba", save="all")
    assert p.diagnostics["engine"] == "numba"
    for t in (1.0, 2.0):
        law = OU.transition(-0.5, t)
        assert abs(p.mean(t).zscore(law.mean())) < 4
        assert abs(p.prob(below=0.0, t=t).zscore(law.cdf(0.0))) < 4
    g = GeometricBrownianMotion(0.1, 0.3)
    for name, exact in (("exact", math.exp(0.1)), ("euler", 1.002**50), ("milstein", 1.002**50)):
        e = simulate(g, 1.0, 1.0, 50, 100_000, scheme=name, seed=6, engine="numba", antithetic=True).mean()
        assert abs(e.zscore(exact)) < 4, (name, e)
    # same numbers for any chunk size and thread count
    a = simulate(OU, -0.5, 1.0, 10, 30_000, seed=3, engine="numba", chunk_size=30_000, workers=1, save="all")
    b = simulate(OU, -0.5, 1.0, 10, 30_000, seed=3, engine="numba", chunk_size=1, workers=2, save="all")
    np.testing.assert_array_equal(a.values, b.values)
    with pytest.raises(ValueError, match="barriers"):
        simulate(OU, -0.5, 1.0, 10, 100, engine="numba", lower=-1.0)
    with pytest.raises(ValueError, match="engine='numpy'"):
        simulate(CIR(1.0, 0.05, 0.2), 0.03, 1.0, 10, 100, engine="numba")
    with pytest.raises(ValueError, match="engines are"):
        simulate(OU, -0.5, 1.0, 10, 100, engine="cuda")


def test_time_dependent_process_and_start():
    # dX = t dt + (1 + t) dW from t = 1: Euler uses left points, so E[X_n] = Σ t_k Δt exactly
    p_td = Process(lambda t, x: t + 0 * x, lambda t, x: 1 + t + 0 * x)
    n, h = 10, 0.1
    p = simulate(p_td, 0.0, 1.0, n, 100_000, seed=12, start=1.0, save=[1.5, 2.0])
    np.testing.assert_allclose(p.times, [1.5, 2.0])
    tk = 1.0 + h * np.arange(n)
    assert abs(p.mean().zscore(np.sum(tk) * h)) < 4
    # variance of the scheme: Σ (1 + t_k)² Δt
    assert abs(p.var() - np.sum((1 + tk) ** 2) * h) < 4 * p.var() * math.sqrt(2 / 100_000)


# -- confidence intervals of probabilities: exact coverage, also for tiny p and near 1 ----------
@pytest.mark.parametrize("p", [1e-5, 1e-4, 3e-4, 5e-4, 2e-3, 0.5, 0.9995, 0.99995])
def test_frequency_interval_covers_at_its_level(p):
    """The interval of a Monte Carlo frequency covers at its level, computed exactly over the
    binomial law of the hit count (the normal interval covered 85 % at p = 3e-4, n = 10,000,
    and 39 % at p = 0.99995, where every draw a hit gave (1, 1))."""
    from gelav.mc.montecarlo import _frequency

    n = 10_000
    ks = np.arange(n + 1)
    pmf = stats.binom.pmf(ks, n, p)
    for level in (0.95, 0.99):
        cover = 0.0
        for k in ks[pmf > 1e-10]:
            y = np.zeros(n)
            y[:k] = 1.0
            lo, hi = _frequency(y, False).ci(level)
            assert 0.0 <= lo <= k / n <= hi <= 1.0
            cover += pmf[k] * (lo <= p <= hi)
        assert cover >= level - 1e-9, (p, level, cover)


def test_zero_and_all_hits_intervals_from_paths():
    p = simulate(OU, -0.5, 2.0, 1, 1000, scheme="exact", seed=1)
    none = p.prob(below=-2.0)  # no path: the bound, and an interval starting at 0 (was −0.0059)
    assert none.kind == "bound" and none.hits == 0.0
    lo, hi = none.ci(0.95)
    assert lo == 0.0 and hi == pytest.approx(1 - 0.025 ** (1 / 1000))
    assert none.to_dict()["ci95_low"] == 0.0
    every = p.prob(below=100.0)  # every path: the interval reaches below 1 (was (1, 1))
    lo, hi = every.ci(0.95)
    assert hi == 1.0 and lo == pytest.approx(0.025 ** (1 / 1000))
    assert 0.0 < p.prob(below=0.4).ci(0.95)[0] < p.prob(below=0.4).value


def test_antithetic_frequency_interval_covers():
    """Antithetic frequencies: the pairs are the draws, the hit count the sum of the pair means."""
    ou = OrnsteinUhlenbeck(0.45, 1.0, 0.32)
    law = ou.transition(-0.5, 2.0)
    c = float(law.ppf(4e-4))  # about 0.8 hits expected among 2,000 paths
    cover = 0
    for s in range(300):
        e = simulate(ou, -0.5, 2.0, 1, 2000, scheme="exact", antithetic=True, seed=s).prob(below=c)
        lo, hi = e.ci(0.95)
        cover += lo <= 4e-4 <= hi
    assert cover >= 0.95 * 300 - 2
