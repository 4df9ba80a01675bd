"""Fund metrics (issue 12): IRR (unique, multiple, none), multiples, PME, Direct Alpha, LA-IRR, LA-PME, read_cashflows."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from gelav.funds import (
    FundCashflows,
    IRRResult,
    direct_alpha,
    dpi,
    irr,
    la_irr,
    la_pme,
    liquidity_adjusted_flows,
    pme,
    read_cashflows,
    rvpi,
    tvpi,
)
from gelav.valuation.premium import IlliquidityPremium


def test_irr_two_flows_closed_form():
    # -C at 0, D at T: (1 + r)^T = D / C
    for C, D, T in ((100.0, 121.0, 2.0), (50.0, 40.0, 3.5), (1.0, 7.0, 0.75)):
        res = irr([-C, D], [0.0, T])
        assert res.unique and isinstance(res, IRRResult)
        assert res.rate == pytest.approx((D / C) ** (1 / T) - 1, rel=1e-12, abs=1e-13)
        assert float(res) == res.rate


def test_irr_two_roots_reported():
    # -1 + 2.3 y - 1.32 y^2 = 0, y = 1/(1+r): y = 10/11 or 5/6, r = 10 % or 20 %
    res = irr([-1.0, 2.3, -1.32])
    assert res.status == "multiple" and res.rate is None
    assert res.roots == pytest.approx((0.1, 0.2), abs=1e-10)
    with pytest.raises(ValueError, match="No single IRR"):
        float(res)


def test_irr_a_second_root_beyond_the_scan_is_not_dropped():
    # NPV = -(y - y1)(y - y2), y = 1/(1 + r): roots r = 10 % and r = 1/y2 - 1 (49 900 %, 10^8 - 1), the second
    # beyond the 40 000 % scan: the stream has no single IRR (it was reported "unique" at 10 %)
    y1 = 1 / 1.1
    for r2 in (499.0, 1e8 - 1):
        y2 = 1 / (1 + r2)
        res = irr([-y1 * y2, y1 + y2, -1.0])
        assert res.status == "multiple" and res.rate is None
        assert res.roots == pytest.approx((0.1, r2), rel=1e-9)


def test_irr_root_beyond_the_scan_is_found():
    # a 1 % gain in 0.01 y: r = 1.1^100 - 1 = 1 377 961 % a year (was status "none");
    # a near-total loss: r = 1e-8 - 1 (below the scan's -99.99 %)
    res = irr([-100.0, 110.0], [0.0, 0.01])
    assert res.unique and res.rate == pytest.approx(1.1**100 - 1, rel=1e-10)
    assert irr([-100.0, 1e-6], [0.0, 1.0]).rate == pytest.approx(1e-8 - 1, abs=1e-15)
    # beyond the floating-point range: no number, and says so
    res = irr([-1.0, 1e300], [0.0, 1e-3])
    assert res.rate is None and "beyond the floating-point range" in res.message


@pytest.mark.parametrize("rates", [
    (0.1, 1.1**100 - 1, 1.2**100 - 1),       # two roots beyond the top of the scan (40 000 %)
    (1.1**1000 - 1, 1.2**1000 - 1),          # only two, both beyond it: was status "none"
    (0.1, 1e-5 - 1, 1e-6 - 1),               # two below its bottom (-99.99 %)
])
def test_irr_an_even_number_of_roots_beyond_the_scan_is_found(rates):
    # NPV = prod (y - y_k) in y = v^h, v = 1/(1 + r), flows on dates 0, h, 2h, ...: each root r_k is known.
    # Two roots beyond one end leave that end's sign unchanged: a sign test alone called the first case's
    # IRR unique (10 %); Laguerre's rule of signs keeps the scan going until no root can lie further out.
    from numpy.polynomial import polynomial as P

    h = 0.01 if max(rates) < 1e40 else 1e-3
    h = 1.0 if min(rates) < -0.999 else h
    ys = [(1 + r) ** (-h) for r in rates]
    cf = P.polyfromroots(ys)
    res = irr(cf, h * np.arange(cf.size))
    assert res.status == "multiple" and res.rate is None
    # rel 1e-9: the roots of the rounded coefficients move by ~1e-12 relative (conditioning, not the search)
    assert res.roots == pytest.approx(sorted(rates), rel=1e-9, abs=1e-13)


def test_irr_roots_match_a_dense_independent_scan():
    # every root on a 3.3e-3 grid of ln(1 + r) over [-1500, 800] (brute force; dates 0.01-0.19 years apart, so the
    # NPV varies on scales >> the grid) is found, and those that are not float rates are reported as such
    from gelav.valuation.metrics import _npv_scaled

    rng = np.random.default_rng(1)
    x = np.linspace(-1500.0, 800.0, 690_001)
    for _ in range(15):
        n = int(rng.integers(3, 9))
        t = np.sort(rng.choice(np.arange(20) * 0.01, n, replace=False))
        cf = rng.normal(size=n)
        f = np.concatenate([_npv_scaled(cf, t, xx) for xx in np.array_split(x, 10)])
        z = x[np.flatnonzero(np.sign(f[:-1]) * np.sign(f[1:]) < 0)]
        floats = [v for v in z if v <= 700 and math.expm1(v) > -1.0]
        res = irr(cf, t)
        assert len(res.roots) == len(floats)
        # to the grid in ln(1 + r), or to a float's spacing near -1 (where 1 + r ~ 1e-16 has no digits left)
        r = np.array(res.roots)
        assert np.all((np.abs(np.log1p(r) - floats) <= 3.4e-3) | (np.abs(r - np.expm1(floats)) <= 2.3e-16))
        assert ("floating-point range" in res.message) == (len(z) > len(floats))
        assert res.unique == (len(z) == 1 and len(floats) == 1)


def test_irr_docs_example_two_roots_past_the_top():
    # docs/funds.md: the stream printed a unique 10 % before the scan went on past 40 000 %
    res = irr([-4.973963882966274, 55.25224064055793, -150.2262076667265, 100.0], [0.0, 0.01, 0.02, 0.03])
    assert res.status == "multiple"
    assert res.roots == pytest.approx((0.1, 2.688e43, 7.226e86), rel=5e-4)


def test_irr_huge_rates_print_in_scientific_notation():
    res = irr([-100.0, 230.0, -132.0], [0.0, 1e-3, 2e-3])   # roots 1.1^1000 - 1 and 1.2^1000 - 1
    assert res.status == "multiple" and "2.470e+43 %" in res.message and "1.518e+81 %" in res.message


def test_irr_very_long_horizon_has_no_overflow():
    # 2000 years: the NPV weights (1 + r)^(-t) overflow a naive scan at the ends (NaN, RuntimeWarning)
    t = np.arange(2001.0)
    cf = np.zeros(2001)
    cf[0], cf[-1] = -1.0, math.exp(2000 * math.log1p(0.05))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = irr(cf, t)
    assert res.unique and res.rate == pytest.approx(0.05, rel=1e-12)


def test_irr_flows_netting_to_zero_on_every_date():
    res = irr([-1.0, 1.0, -2.0, 2.0], [0.0, 0.0, 3.0, 3.0])
    assert res.rate is None and "every rate" in res.message


def test_irr_no_root():
    assert irr([-1.0, -2.0]).status == "none"
    res = irr([1.0, -3.0, 3.0])  # 1 - 3y + 3y^2 > 0 for all y
    assert res.status == "none" and res.roots == ()


def test_irr_npv_zero_at_root_for_random_streams():
    rng = np.random.default_rng(3)
    for _ in range(20):
        t = np.sort(rng.uniform(0, 12, 8))
        cf = np.concatenate((-rng.uniform(1, 10, 3), rng.uniform(0, 10, 5)))
        res = irr(cf, t)
        for r in res.roots:
            assert abs(np.sum(cf * (1 + r) ** (-t))) < 1e-8 * np.abs(cf).sum()
        # one sign change: Descartes says at most one root, and it exists when sum(cf) and the limit differ in sign
        assert len(res.roots) <= 1


def test_multiples():
    cf = [-60.0, -40.0, 30.0, 90.0]
    assert dpi(cf) == pytest.approx(1.2)
    assert rvpi(cf, nav=25.0) == pytest.approx(0.25)
    assert tvpi(cf, nav=25.0) == pytest.approx(dpi(cf) + rvpi(cf, nav=25.0))
    with pytest.raises(ValueError, match="no contributions"):
        tvpi([10.0, 20.0])


def test_pme_flat_index_is_tvpi():
    cf = np.array([-50.0, -50.0, 20.0, 60.0, 70.0])
    assert pme(cf, np.full(5, 3.7), nav=12.0) == pytest.approx(tvpi(cf, nav=12.0), rel=1e-14)


def test_pme_and_direct_alpha_of_an_index_tracker():
    # invest C at t0, receive the index-grown amounts later: PME = 1 and Direct Alpha = 0
    t = np.array([0.0, 1.0, 2.5, 4.0])
    R = np.array([100.0, 108.0, 97.0, 131.0])
    cf = np.array([-10.0, -5.0, 0.0, 0.0])
    cf[3] = 10.0 * R[3] / R[0] * 0.4
    nav = 10.0 * R[3] / R[0] * 0.6 + 5.0 * R[3] / R[1]
    assert pme(cf, R, nav=nav) == pytest.approx(1.0, rel=1e-13)
    da = direct_alpha(cf, t, R, nav=nav)
    assert da.unique and abs(da.rate) < 1e-10


def test_direct_alpha_is_continuous_excess_rate():
    # fund returns index × e^{a t}: Direct Alpha = a
    a, T = 0.04, 5.0
    R = np.array([1.0, 1.6])
    cf = [-1.0, 1.6 * math.exp(a * T)]
    assert direct_alpha(cf, [0.0, T], R).rate == pytest.approx(a, abs=1e-12)


def test_la_metrics_with_zero_premium_equal_plain():
    t = np.array([0.0, 0.5, 2.0, 4.0, 6.0])
    cf = np.array([-40.0, -60.0, 30.0, 50.0, 80.0])
    L = np.array([0.2, -0.4, 1.1, 0.8, 0.0])
    R = np.array([1.0, 1.1, 1.3, 1.2, 1.6])
    zero = IlliquidityPremium(0.0, 0.0, 0.0)
    assert la_irr(cf, t, L, premium=zero).rate == pytest.approx(irr(cf, t).rate, abs=1e-13)
    assert la_pme(cf, t, L, R, premium=zero) == pytest.approx(pme(cf, R), rel=1e-14)


def test_la_pme_constant_premium_closed_form():
    t = np.array([0.0, 1.0, 3.0, 5.0])
    cf = np.array([-70.0, -30.0, 45.0, 110.0])
    L = np.array([0.0, -1.0, 0.5, 1.0])
    R = np.array([1.0, 0.9, 1.25, 1.4])
    for c in (0.05, 0.2):
        const = IlliquidityPremium(c, 0.0, 0.0, scaling="none")
        assert la_pme(cf, t, L, R, premium=const, nav=7.0) == pytest.approx(
            pme(cf, R, nav=7.0) * (1 - c) / (1 + c), rel=1e-13)


def test_la_flows_use_remaining_life_to_last_date():
    p = IlliquidityPremium()
    t = np.array([0.0, 2.0, 6.0])
    cf = np.array([-1.0, 0.5, 1.0])
    L = np.array([-1.0, 0.0, 2.0])
    adj, _t2, pi = liquidity_adjusted_flows(cf, t, L, premium=p)
    assert pi == pytest.approx([p(-1.0, 6.0), p(0.0, 4.0), 0.0])
    assert adj == pytest.approx([-(1 + p(-1.0, 6.0)), 0.5 * (1 - p(0.0, 4.0)), 1.0])
    assert la_irr(cf, t, L, premium=p).rate < irr(cf, t).rate


@pytest.mark.parametrize("bad, match", [
    (dict(flows=[1.0, float("nan")]), "`flows` must be finite"),
    (dict(flows=[-1.0, 2.0], times=[1.0, 0.0]), "`times` must be non-decreasing"),
    (dict(flows=[-1.0, 2.0], times=[0.0]), "`times` has 1 entries"),
    (dict(flows=True), "bool"),
])
def test_irr_bad_input(bad, match):
    with pytest.raises((ValueError, TypeError), match=match):
        irr(**bad)


def test_pme_bad_index():
    with pytest.raises(ValueError, match="`index` must be a positive"):
        pme([-1.0, 2.0], [1.0, 0.0])
    with pytest.raises(ValueError, match="`nav` must be >= 0"):
        pme([-1.0, 2.0], [1.0, 1.0], nav=-1.0)


# ---------------------------------------------------------------------------
# files
# ---------------------------------------------------------------------------
def test_read_cashflows_course_layout_roundtrip(tmp_path):
    from gelav.datasets import fund_cashflows

    d = fund_cashflows(seed=5)
    fc = read_cashflows(d.to_csv(tmp_path / "fund.csv"))
    assert isinstance(fc, FundCashflows) and len(fc) == len(d)
    assert fc.columns == {"time": "date", "flow": "cashflow", "L": "L_t", "index": "benchmark_index"}
    np.testing.assert_allclose(fc.flows, d["cashflow"], rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(fc.times, d["year"], atol=0.01)  # calendar quarters are not exactly 0.25 y
    m = fc.metrics(IlliquidityPremium())
    assert m.irr.unique and m.la_irr is not None and m.la_irr.rate < m.irr.rate
    assert m.la_pme < m.pme and m.tvpi == pytest.approx(m.dpi)


def test_read_cashflows_other_layout_numeric_time_and_split_flows(tmp_path):
    p = tmp_path / "f.csv"
    p.write_text("t,contributions,distributions,nav\n0,100,0,100\n1,0,30,90\n2,0,50,60\n")
    fc = read_cashflows(p)
    assert fc.flows == pytest.approx([-100.0, 30.0, 50.0]) and fc.nav == 60.0
    assert fc.metrics().tvpi == pytest.approx(1.4)


def test_read_cashflows_keeps_a_row_s_contribution_and_distribution_gross(tmp_path):
    # a row with both was netted (D - C): paid-in 150 read as 110 and distributions 190 as 150
    p = tmp_path / "f.csv"
    p.write_text("t,contributions,distributions,L_t,index\n0,100,0,0.0,100\n1,50,40,-1.0,105\n2,0,150,0.5,112\n")
    fc = read_cashflows(p)
    assert fc.flows.tolist() == [-100.0, -50.0, 40.0, 150.0] and fc.times.tolist() == [0.0, 1.0, 1.0, 2.0]
    assert fc.L.tolist() == [0.0, -1.0, -1.0, 0.5] and fc.index.tolist() == [100.0, 105.0, 105.0, 112.0]
    assert any("not netted" in n for n in fc.notes)
    prem = IlliquidityPremium()
    m = fc.metrics(prem)
    assert m.tvpi == pytest.approx(190 / 150, rel=1e-14)
    assert m.pme == pytest.approx((40 / 105 + 150 / 112) / (100 / 100 + 50 / 105), rel=1e-14)
    # LA-PME by hand: D(1 - pi), C(1 + pi) with pi = pi(L_t, 2 - t)
    pi = [prem(L, 2.0 - t) for L, t in ((0.0, 0.0), (-1.0, 1.0), (0.5, 2.0))]
    la = ((40 * (1 - pi[1]) / 105 + 150 * (1 - pi[2]) / 112)
          / (100 * (1 + pi[0]) / 100 + 50 * (1 + pi[1]) / 105))
    assert m.la_pme == pytest.approx(la, rel=1e-14)
    # the IRR sees the net flow on each date and is unchanged
    assert m.irr.rate == pytest.approx(irr([-100.0, -10.0, 150.0], [0.0, 1.0, 2.0]).rate, rel=1e-12)


def test_read_cashflows_parquet(tmp_path):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    p = tmp_path / "f.parquet"
    pq.write_table(pa.table({"year": [0.0, 1.0, 2.0], "cashflow": [-1.0, 0.2, 1.1]}), p)
    assert read_cashflows(p).flows == pytest.approx([-1.0, 0.2, 1.1])


@pytest.mark.parametrize("text, match", [
    ("date,cashflow\n2020-03-31,-1\n2020-06-30,abc\n", r"row 2, column 'cashflow'"),
    ("date,cashflow,L_t\n2020-03-31,-1,0.1\n2020-06-30,2,\n", r"row 2, column 'L_t': missing"),
    # a missing cash flow was dropped with a note (IRR 4.88 % printed for the rest)
    ("year,cashflow\n0,-100\n1,\n2,110\n", r"row 2, column 'cashflow': missing value \(''\).*write 0"),
    ("year,cashflow\n0,-100\n1,NA\n2,110\n", r"row 2, column 'cashflow': missing value \('NA'\)"),
    ("year,cashflow\n0,-100\n1,nan\n2,110\n", r"row 2, column 'cashflow': missing value \('nan'\)"),
    ("year,cashflow\n0,-100\n,5\n2,110\n", r"row 2, column 'year': missing value"),
    ("year,contributions,distributions\n0,100,0\n1,,3\n", r"row 2, column 'contributions': missing"),
    ("date,cashflow,benchmark_index\n2020-03-31,-1,1\n2020-06-30,2,0\n", r"row 2, column 'benchmark_index'"),
    ("date,foo\n2020-03-31,-1\n", "no cash-flow column"),
    ("x,cashflow\nA,-1\n", "no time column"),
])
def test_read_cashflows_errors_name_row_and_column(tmp_path, text, match):
    p = tmp_path / "bad.csv"
    p.write_text(text)
    with pytest.raises(ValueError, match=match):
        read_cashflows(p)


def test_read_cashflows_missing_file_and_bad_column(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_cashflows(tmp_path / "none.csv")
    p = tmp_path / "f.csv"
    p.write_text("date,cashflow\n2020-03-31,-1\n2021-03-31,2\n")
    with pytest.raises(ValueError, match="`flow_column` 'cf' is not a column"):
        read_cashflows(p, flow_column="cf")


def test_fundcashflows_plot(tmp_path):
    pytest.importorskip("matplotlib")
    fc = FundCashflows(times=[0.0, 1.0, 2.0], flows=[-1.0, 0.5, 0.8], L=[0.0, -0.5, 1.0])
    fig = fc.plot()
    fig.savefig(tmp_path / "f.png")
    assert (tmp_path / "f.png").exists()


def test_generalised_pme_closed_forms():
    from gelav.funds import generalised_pme

    t = np.array([0.0, 1.0, 2.5, 4.0])
    cf = np.array([-60.0, -40.0, 50.0, 90.0])
    R = np.array([1.0, 1.05, 1.2, 1.1])
    L = np.array([0.3, -0.5, 0.0, 1.0])
    zero = IlliquidityPremium(0.0, 0.0, 0.0)
    assert generalised_pme(cf, t, L, premium=zero, index=R, nav=5.0) == pytest.approx(pme(cf, R, nav=5.0), rel=1e-14)
    # linear scaling with a(L) = alpha constant: deflator e^{-alpha t} on top of the index
    lin = IlliquidityPremium(0.03, 0.0, 0.0, scaling="linear")
    xi = np.exp(-0.03 * t) / R
    expect = (cf[cf > 0] * xi[cf > 0]).sum() / (-cf[cf < 0] * xi[cf < 0]).sum()
    assert generalised_pme(cf, t, L, premium=lin, index=R) == pytest.approx(expect, rel=1e-13)
    # sqrt scaling, constant L: the accrued premium over [0, t] is a (sqrt(T) - sqrt(T - t)), exactly
    sq = IlliquidityPremium()
    a = sq.level(0.2)
    xi = np.exp(-0.05 * t - a * (2.0 - np.sqrt(4.0 - t)))
    expect = (cf[cf > 0] * xi[cf > 0]).sum() / (-cf[cf < 0] * xi[cf < 0]).sum()
    assert generalised_pme(cf, t, np.full(4, 0.2), premium=sq, rate=0.05) == pytest.approx(expect, rel=1e-13)
    with pytest.raises(TypeError, match="exactly one of `index`"):
        generalised_pme(cf, t, L, premium=sq)


def test_hostile_index_and_rate_are_errors_not_inf_or_nan():
    from gelav.funds import generalised_pme

    # index levels 1e300 and 1e-300: PME = 2e600 printed as inf
    with pytest.raises(ValueError, match="`index`"):
        pme([-1.0, 2.0], [1e300, 1e-300])
    # a rate λ(L) that is NaN made the generalised PME NaN
    with pytest.raises(ValueError, match="`premium`"):
        generalised_pme([-1.0, 2.0], [0.0, 1.0], [0.0, 0.0], premium=lambda L: L * math.nan, rate=0.05)
    # and a constant rate λ with r = 0: GPME = 2 e^{-λ} (trapezoid exact for a constant)
    assert generalised_pme([-1.0, 2.0], [0.0, 1.0], [0.0, 0.0], premium=lambda L: 0.03 + 0 * L,
                           rate=0.0) == pytest.approx(2 * math.exp(-0.03), rel=1e-15)


def test_premium_of_an_absurd_state_is_an_error_not_inf():
    # L = 1e200: γL² overflowed to π = inf, price -inf, with only a RuntimeWarning
    p = IlliquidityPremium()
    for f in (p.premium, p.price):
        with pytest.raises(ValueError, match="`L`"):
            f(1e200, 1.0)
    assert p(1e6, 4.0) == pytest.approx((0.045 - 0.025e6 + 0.021e12) * 2.0, rel=1e-15)


def test_flows_near_the_float_limit_keep_their_multiples_and_roots():
    # the sums overflowed: TVPI printed inf (or 0) and the IRR of -1, -1, +1 (x 1e308) gained a spurious 25.36 %
    big = 1e308
    assert tvpi([-big, big, big]) == pytest.approx(2.0) and dpi([-big, big, big]) == pytest.approx(2.0)
    assert tvpi([-big, -big, big], nav=big) == pytest.approx(1.0) and rvpi([-big, -big, big], nav=big) == 0.5
    assert pme([-big, big, big], [1.0, 1.0, 1.0]) == pytest.approx(2.0)
    assert irr([-big, big, big]).rate == pytest.approx((1 + 5**0.5) / 2 - 1, rel=1e-12)
    res = irr([-big, -big, big])
    assert res.unique and res.rate == pytest.approx(2 / (1 + 5**0.5) - 1, rel=1e-12)


@pytest.mark.parametrize("alpha, kind", [(0.5, "distribution"), (-1e5, "contribution")])
def test_a_premium_that_flips_a_flow_is_refused(alpha, kind):
    # alpha = 0.5 (π up to 1.6: D(1 - π) < 0) printed an LA-IRR of -23.78 %; alpha = -1e5 said "no contributions"
    t = np.array([0.0, 1.0, 4.0, 9.0])
    cf = np.array([-50.0, -50.0, 60.0, 90.0])
    prem = IlliquidityPremium(alpha=alpha)
    with pytest.raises(ValueError, match=rf"`premium` gives π = .* turns a {kind} into its opposite"):
        la_irr(cf, t, np.zeros(4), premium=prem)
    with pytest.raises(ValueError, match="turns a"):
        la_pme(cf, t, np.zeros(4), np.ones(4), premium=prem)
