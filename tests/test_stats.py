"""gelav._stats: the exact finite-n Kolmogorov–Smirnov law and the residual tests, without scipy.stats.

The reference is scipy.stats where it is exact (kstwo: Durbin's matrix or Pomeranz's
recursion for n ≤ 140 and for n d^{3/2} ≤ 1.4, 2 P(D⁺ ≥ d) for d ≥ 1/2), closed forms
at the ends of the range, and a 40-digit evaluation of Durbin's formula (mpmath) where
scipy.stats approximates (Pelz–Good, or 2 P(D⁺ ≥ d) below d = 1/2).
"""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
from scipy import special, stats

from gelav import _stats
from gelav._stats import jarque_bera, ks_normal, ks_sf


def _scipy_is_exact(n: int, d: float) -> bool:
    """Where scipy.stats.kstwo(n).sf(d) evaluates an exact formula (Simard & L'Ecuyer's choice)."""
    return d >= 0.5 or n * d <= 1.0 or n <= 140 or (n * d**1.5 <= 1.4 and n * d * d < 2.2)


def _durbin_mp(n: int, d: float, dps: int = 40) -> mpmath.mpf:
    """P(D_n < d) by Durbin's matrix formula in ``dps``-digit arithmetic (d is a binary float: exact in mpf)."""
    with mpmath.workdps(dps):
        t = mpmath.mpf(n) * mpmath.mpf(d)
        k = int(mpmath.ceil(t))
        m = 2 * k - 1
        h = k - t
        H = np.empty((m, m), dtype=object)
        for i in range(m):
            for j in range(m):
                H[i, j] = 1 / mpmath.factorial(i - j + 1) if i - j + 1 >= 0 else mpmath.mpf(0)
        for i in range(m):
            H[i, 0] = (1 - h ** (i + 1)) / mpmath.factorial(i + 1)
            H[m - 1, i] = (1 - h ** (m - i)) / mpmath.factorial(m - i)
        H[m - 1, 0] = (1 - 2 * h**m + max(mpmath.mpf(0), 2 * h - 1) ** m) / mpmath.factorial(m)
        col = np.array([mpmath.mpf(int(i == k - 1)) for i in range(m)], dtype=object)
        power, rest = H, n
        while rest:
            if rest & 1:
                col = power.dot(col)
            rest >>= 1
            if rest:
                power = power.dot(power)
        return mpmath.factorial(n) / mpmath.mpf(n) ** n * col[k - 1]


def test_ks_sf_is_scipy_kstwo_where_scipy_is_exact():
    rng = np.random.default_rng(16)
    checked, worst = 0, 0.0
    for n in [*range(1, 141), 141, 200, 500, 1000, 3000, 10_000, 30_000, 100_000]:
        ds = np.r_[rng.uniform(0, 1, 12), rng.uniform(0, 3 / math.sqrt(n), 12), 1 / (2 * n), 1 / n, 0.5, 1 - 1 / n,
                   (1.4 / n) ** (2 / 3) * rng.uniform(0.5, 1, 4)]
        for d in ds:
            if not _scipy_is_exact(n, d):
                continue
            a, b = ks_sf(n, float(d)), float(stats.kstwo(n).sf(d))
            worst = max(worst, abs(a - b))
            assert a == pytest.approx(b, abs=1e-10), (n, d)
            if b < 1e-3:  # the small tail agrees in relative terms too
                assert a == pytest.approx(b, rel=1e-8), (n, d)
            checked += 1
    assert checked > 2500
    assert worst < 1e-12  # measured 1.5e-14: the two are the same exact law


@pytest.mark.parametrize(("n", "d"), [(141, 0.0511825), (300, 0.05), (500, 0.04), (2_000, 0.0095), (200, 0.11)])
def test_ks_sf_is_the_40_digit_value_where_scipy_approximates(n, d):
    # Pelz–Good (scipy.stats for 140 < n ≤ 1e5 and n d^{3/2} > 1.4) is off by 1e-9 .. 2e-6 here, and
    # 2 P(D⁺ ≥ d) (scipy.stats for n d² ≥ 2.2) by the probability of crossing both bands
    assert not _scipy_is_exact(n, d)
    exact = 1 - float(_durbin_mp(n, d))
    assert ks_sf(n, d) == pytest.approx(exact, abs=2e-14)
    scipy_err = abs(float(stats.kstwo(n).sf(d)) - exact)
    assert 1e-12 < scipy_err < 5e-6, scipy_err  # an approximation, within its documented accuracy


def _durbin_long(n: int, d: float) -> np.longdouble:
    """P(D_n < d) by Durbin's matrix formula in NumPy's extended precision (x86: a 64-bit mantissa)."""
    L = np.longdouble
    t = L(n) * L(d)
    k = int(np.ceil(t))
    m = 2 * k - 1
    h = L(k) - t
    inv = np.cumprod(np.r_[L(1), L(1) / np.arange(1, m + 1, dtype=L)])  # 1/j!
    lag = np.arange(m)[:, None] - np.arange(m)[None, :] + 1
    H = np.where(lag >= 0, inv[np.clip(lag, 0, m)], L(0))
    hp = h ** np.arange(1, m + 1, dtype=L)
    H[:, 0] -= hp * inv[1:]
    H[-1, :] -= hp[::-1] * inv[:0:-1]
    H[-1, 0] = (1 - 2 * hp[-1] + max(L(0), 2 * h - 1) ** m) * inv[m]
    col = np.zeros(m, dtype=L)
    col[k - 1] = 1
    col_exp = power_exp = 0
    power, rest = H, n
    while True:
        if rest & 1:
            col = power @ col
            col_exp += power_exp
            e = int(np.frexp(np.max(col))[1])
            col, col_exp = np.ldexp(col, -e), col_exp + e
        rest >>= 1
        if not rest:
            break
        power, power_exp = power @ power, 2 * power_exp
        e = int(np.frexp(np.max(power))[1])
        power, power_exp = np.ldexp(power, -e), power_exp + e
    mant, ex = np.frexp(np.arange(1, n + 1, dtype=L) / L(n))  # n!/n^n
    fact_exp = int(ex.sum())
    f_m, f_e = L(1), 0
    for block in np.array_split(mant, max(1, n // 32)):  # ~32 mantissas in [1/2, 1) a block: no underflow
        f_m *= np.prod(block)
        e = int(np.frexp(f_m)[1])
        f_m, f_e = np.ldexp(f_m, -e), f_e + e
    return np.ldexp(col[k - 1] * f_m, col_exp + fact_exp + f_e)


@pytest.mark.skipif(np.finfo(np.longdouble).nmant < 60, reason="needs an extended-precision long double")
def test_default_trinomial_p_values_are_exact():
    # `gelav trinomial` (n = 10^4 walks) prints these statistics: Durbin's matrix is 181 × 181 there, too
    # large for 40 digits here; the float64 evaluation agrees with an extended-precision one, and with
    # Pelz–Good, scipy.stats' approximation, to the latter's accuracy (3.7e-10 measured)
    for d in (0.009041581588195235, 0.008983255180295413):
        p = ks_sf(10_000, d)
        assert p == pytest.approx(float(1 - _durbin_long(10_000, d)), abs=1e-12)
        assert p == pytest.approx(float(stats.kstwo(10_000).sf(d)), abs=1e-9)
        assert p != float(stats.kstwo(10_000).sf(d))
    # the same law at ten times n, where scipy.stats evaluates the exact matrix too
    assert ks_sf(100_000, 4e-4) == pytest.approx(float(stats.kstwo(100_000).sf(4e-4)), abs=1e-12)


def test_ks_sf_closed_forms_at_the_ends():
    for n in (1, 2, 3, 7, 50, 300, 5_000):
        assert ks_sf(n, 0.0) == ks_sf(n, -1.0) == ks_sf(n, 1 / (2 * n)) == 1.0
        assert ks_sf(n, 1.0) == ks_sf(n, 2.0) == 0.0
        for t in (0.55, 0.7, 0.99):  # 1/(2n) < d ≤ 1/n: P(D_n < d) = n!/n^n (2nd - 1)^n (Ruben & Gambino)
            d = t / n
            exact = 1 - float(mpmath.factorial(n) / mpmath.mpf(n) ** n * (2 * mpmath.mpf(t) - 1) ** n)
            assert ks_sf(n, d) == pytest.approx(exact, rel=1e-12, abs=1e-15), (n, d)
        if n >= 2:  # d ≥ 1 - 1/n: P(D_n ≥ d) = 2 (1 - d)^n
            for d in (1 - 1 / n, 1 - 0.3 / n):
                assert ks_sf(n, d) == pytest.approx(2 * (1 - d) ** n, rel=1e-12), (n, d)
    assert ks_sf(1, 0.8) == pytest.approx(0.4, rel=1e-15)  # D_1 = max(U, 1 - U)
    assert math.isnan(ks_sf(10, math.nan))


@pytest.mark.parametrize("n", [50, 141, 500, 5_000, 40_000])
def test_one_sided_switch_is_seamless(n):
    # above n d² = 4 the answer is 2 P(D⁺ ≥ d): there the exact matrix and it agree to rounding
    d = math.sqrt(_stats.ONE_SIDED_FROM / n)
    below = 1.0 - _stats._durbin_cdf(n, d * (1 - 1e-12))
    above = 2.0 * float(special.smirnov(n, d))
    assert above == pytest.approx(below, rel=1e-8, abs=1e-14)
    assert ks_sf(n, d * (1 + 1e-12)) == pytest.approx(above, rel=1e-10)


def test_ks_sf_is_monotone_and_large_matrices_fall_back_on_scipy():
    d = np.linspace(0.001, 0.2, 400)
    p = np.array([ks_sf(300, x) for x in d])
    assert np.all(np.diff(p) <= 1e-15) and p[0] == 1.0 and p[-1] < 1e-4
    n, d_big = 100_000, 0.006  # Durbin's matrix would have 1199 rows
    assert 2 * math.ceil(n * d_big) - 1 > _stats.DURBIN_MAX_ROWS
    assert ks_sf(n, d_big) == float(stats.kstwo(n).sf(d_big))
    with pytest.raises(ValueError, match="`n`"):
        ks_sf(0, 0.1)


def test_ks_normal_and_jarque_bera_are_scipy_stats():
    rng = np.random.default_rng(5)
    for n in (5, 30, 79, 140, 800):
        for z in (rng.normal(size=n) * 1.1 + 0.05, rng.standard_t(4, size=n)):
            ks = stats.kstest(z, "norm")
            d, p = ks_normal(z)
            assert d == ks.statistic  # the same bits
            if _scipy_is_exact(n, d):
                assert p == pytest.approx(ks.pvalue, abs=1e-12)
            else:
                assert p == pytest.approx(ks.pvalue, abs=5e-6)
            jb = stats.jarque_bera(z)
            assert jarque_bera(z) == (jb.statistic, jb.pvalue)  # the same bits
    with pytest.raises(ValueError, match="empty"):
        ks_normal([])
    with pytest.raises(ValueError, match="empty"):
        jarque_bera([])


def test_residual_tests_and_ou_quantiles_are_those_of_scipy_stats():
    # gelav calibrate's goodness of fit and intervals: the numbers scipy.stats gave, without importing it
    from gelav.calibrate._common import residual_tests
    from gelav.datasets import liquidity_history
    from gelav.tasks.calibrate import calibrate

    z = np.random.default_rng(3).normal(size=79)
    g = residual_tests(z, None)
    ks, jb = stats.kstest(z, "norm"), stats.jarque_bera(z)
    assert g["ks"]["statistic"] == ks.statistic and g["ks"]["pvalue"] == pytest.approx(ks.pvalue, abs=1e-15)
    assert (g["jarque_bera"]["statistic"], g["jarque_bera"]["pvalue"]) == (jb.statistic, jb.pvalue)
    lb = g["ljung_box"]
    assert lb["pvalue"] == stats.chi2.sf(lb["statistic"], lb["df"])
    for level in (0.5, 0.9, 0.95, 0.99):
        assert 2.0 * special.gammaincinv(0.5, level) == stats.chi2.ppf(level, 1)
        assert special.stdtrit(7.3, 0.5 + level / 2) == stats.t.ppf(0.5 + level / 2, 7.3)
        assert special.ndtri(0.5 + level / 2) == stats.norm.ppf(0.5 + level / 2)
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as tmp:
        path = liquidity_history(seed=3).to_csv(Path(tmp) / "liquidity.csv")
        fit = calibrate(data=str(path)).fit
    gof = fit.goodness_of_fit
    ks = stats.kstest(fit.residuals, "norm")
    assert gof["ks"]["statistic"] == ks.statistic
    assert gof["ks"]["pvalue"] == pytest.approx(ks.pvalue, abs=1e-15)  # n = 79: both exact (Durbin's matrix)
    jb = stats.jarque_bera(fit.residuals)
    assert (gof["jarque_bera"]["statistic"], gof["jarque_bera"]["pvalue"]) == (jb.statistic, jb.pvalue)


@pytest.mark.parametrize("z, match", [
    (np.array([0.1, np.nan, 2.0]), "finite"),
    (np.array([1.0, np.inf]), "finite"),
])
def test_sample_tests_refuse_non_finite_data(z, match):
    for test in (ks_normal, jarque_bera):
        with pytest.raises(ValueError, match=match):
            test(z)


def test_jarque_bera_refuses_a_sample_without_spread_or_with_an_overflowing_variance():
    with pytest.raises(ValueError, match="no spread"):
        jarque_bera(np.ones(7))
    with pytest.raises(ValueError, match="overflows"):
        jarque_bera(np.array([1e308, -1e308, 0.0]))
