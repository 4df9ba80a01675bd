"""OU calibration: exact likelihood, intervals that cover, readable errors for bad files."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from scipy import optimize

from gelav.calibrate import MIN_OBSERVATIONS, OUFit, TimeSeries, fit_ou, read_series
from gelav.errors import AccuracyWarning

KAPPA, MEAN, SIGMA = 0.45, 1.0, 0.32  # seed 000


def simulate_ou(times, n_paths=1, *, kappa=KAPPA, mean=MEAN, sigma=SIGMA, seed=0):
    """Exact OU paths at the given (possibly irregular) times, stationary start; shape (n_paths, n)."""
    rng = np.random.default_rng(seed)
    t = np.asarray(times, dtype=float)
    dt = np.diff(t)
    phi = np.exp(-kappa * dt)
    sd = sigma * np.sqrt(-np.expm1(-2 * kappa * dt) / (2 * kappa))
    z = rng.standard_normal((n_paths, t.size))
    x = np.empty((n_paths, t.size))
    x[:, 0] = mean + sigma / math.sqrt(2 * kappa) * z[:, 0]
    for i in range(dt.size):
        x[:, i + 1] = mean + (x[:, i] - mean) * phi[i] + sd[i] * z[:, i + 1]
    return x


def full_loglik(p, t, x):
    k, m, s = p
    dt = np.diff(t)
    phi = np.exp(-k * dt)
    v = s * s * -np.expm1(-2 * k * dt) / (2 * k)
    r = x[1:] - m - (x[:-1] - m) * phi
    return -0.5 * np.sum(np.log(2 * np.pi * v) + r * r / v)


WEEKLY = np.arange(20 * 52 + 1) / 52.0


# -- the estimator against closed forms ------------------------------------------
def test_equal_steps_mle_is_ar1_least_squares():
    """With equal steps the conditional MLE is OLS of x_{i+1} on x_i, mapped back to (κ, L̄, σ)."""
    x = simulate_ou(WEEKLY, seed=1)[0]
    fit = fit_ou(WEEKLY, x)
    dt = 1 / 52
    slope, intercept = np.polyfit(x[:-1], x[1:], 1)
    resid = x[1:] - (intercept + slope * x[:-1])
    kappa = -math.log(slope) / dt
    mean = intercept / (1 - slope)
    sigma = math.sqrt(np.mean(resid**2) * 2 * kappa / (1 - slope**2))
    assert fit.kappa == pytest.approx(kappa, rel=1e-7)
    assert fit.mean == pytest.approx(mean, rel=1e-7)
    assert fit.sigma == pytest.approx(sigma, rel=1e-8)


def test_irregular_steps_profile_matches_full_optimisation():
    rng = np.random.default_rng(5)
    t = np.cumsum(np.concatenate(([0.0], rng.choice([1, 2, 3, 7, 14], size=900) / 365.25)))
    x = simulate_ou(t, seed=2, kappa=2.0)[0]
    fit = fit_ou(t, x)
    res = optimize.minimize(lambda p: -full_loglik(p, t, x), x0=[1.0, 0.5, 0.5], method="Nelder-Mead",
                            options={"xatol": 1e-10, "fatol": 1e-12, "maxiter": 20000})
    assert fit.kappa == pytest.approx(res.x[0], rel=1e-5)
    assert fit.mean == pytest.approx(res.x[1], rel=1e-5)
    assert fit.sigma == pytest.approx(res.x[2], rel=1e-6)
    assert fit.loglik == pytest.approx(-res.fun, abs=1e-8)
    assert fit.diagnostics["irregular_steps"]


def test_standard_errors_match_asymptotic_formulas():
    """σ̂ has SE σ/√(2n); κ̂ has SE ≈ √(2κ/T) (continuous record, small steps); delta method for derived."""
    x = simulate_ou(WEEKLY, seed=3, kappa=2.0)[0]
    fit = fit_ou(WEEKLY, x)
    n = x.size - 1
    # AR(1) x' = c + φx + s·ε: φ̂ and ŝ are asymptotically independent, Var(φ̂) = (1-φ²)/n,
    # Var(ŝ) = s²/2n; κ = -ln φ/Δ and σ = s·√(2κ/(1-φ²)) by the delta method.
    dt = 1 / 52
    phi = math.exp(-fit.kappa * dt)
    s = fit.sigma * math.sqrt((1 - phi**2) / (2 * fit.kappa))

    def sigma_of(ph, s_):
        k = -math.log(ph) / dt
        return s_ * math.sqrt(2 * k / (1 - ph**2))

    h = 1e-7
    d_phi = (sigma_of(phi + h, s) - sigma_of(phi - h, s)) / (2 * h)
    var_sigma = d_phi**2 * (1 - phi**2) / n + (sigma_of(phi, s) / s) ** 2 * s**2 / (2 * n)
    # observed vs expected information: equal up to O(1/sqrt(n)) sampling noise
    assert fit.stderr["sigma"] == pytest.approx(math.sqrt(var_sigma), rel=0.05)
    assert fit.stderr["kappa"] == pytest.approx(math.sqrt((1 - phi**2) / n) / (phi * dt), rel=0.05)
    assert fit.stderr["half_life"] == pytest.approx(math.log(2) / fit.kappa**2 * fit.stderr["kappa"], rel=1e-12)
    c = fit.cov
    g = np.array([-fit.sigma / (2 * math.sqrt(2) * fit.kappa**1.5), 0, 1 / math.sqrt(2 * fit.kappa)])
    assert fit.stderr["stationary_sd"] == pytest.approx(math.sqrt(g @ c @ g), rel=1e-12)
    lo, hi = fit.conf_int["half_life"]
    assert lo == pytest.approx(math.log(2) / fit.conf_int["kappa"][1])
    assert hi == pytest.approx(math.log(2) / fit.conf_int["kappa"][0])
    assert fit.half_life == pytest.approx(math.log(2) / fit.kappa)
    assert fit.stationary_sd == pytest.approx(fit.sigma / math.sqrt(2 * fit.kappa))


@pytest.mark.slow
def test_recovers_parameters_within_intervals_in_90_percent_of_200_series():
    """Issue 7 acceptance: 20-year weekly series, 95 % intervals cover the truth in >= 90 % of 200 runs."""
    X = simulate_ou(WEEKLY, n_paths=200, seed=20240607)
    hits = np.zeros(3)
    sigma_err = []
    for x in X:
        fit = fit_ou(WEEKLY, x)
        for j, (k, v) in enumerate((("kappa", KAPPA), ("mean", MEAN), ("sigma", SIGMA))):
            lo, hi = fit.conf_int[k]
            hits[j] += lo < v < hi
        sigma_err.append((fit.sigma - SIGMA) / fit.stderr["sigma"])
    coverage = hits / X.shape[0]
    assert np.all(coverage >= 0.90), coverage
    # σ̂ is (nearly) unbiased: the mean standardised error is within 4 standard errors of 0
    z = np.asarray(sigma_err)
    assert abs(z.mean()) < 4 * z.std() / math.sqrt(z.size)


def test_irregular_dates_with_gaps_recover_parameters():
    rng = np.random.default_rng(11)
    days = np.cumsum(rng.choice([5, 7, 7, 7, 9, 14, 28], size=1100))
    dates = np.datetime64("2000-01-07") + days.astype("timedelta64[D]")
    t = (dates - dates[0]) / np.timedelta64(1, "D") / 365.25
    x = simulate_ou(t, seed=12)[0]
    fit = fit_ou(dates, x)
    for k, v in (("kappa", KAPPA), ("mean", MEAN), ("sigma", SIGMA)):
        lo, hi = fit.conf_int[k]
        assert lo < v < hi, (k, lo, hi)
    assert fit.dates is not None and fit.times[-1] == pytest.approx(t[-1])
    # ISO strings give the same fit
    fit2 = fit_ou([str(d) for d in dates], x)
    assert fit2.kappa == pytest.approx(fit.kappa, rel=1e-12)


def test_goodness_of_fit_accepts_the_model_and_rejects_heavy_tails():
    x = simulate_ou(WEEKLY, seed=4)[0]
    fit = fit_ou(WEEKLY, x)
    assert fit.adequate, fit.goodness_of_fit
    z = fit.residuals
    assert z.size == x.size - 1
    assert abs(z.mean()) < 4 / math.sqrt(z.size) and abs(z.std() - 1) < 4 / math.sqrt(2 * z.size)
    # Student-t(2) shocks: normality tests must reject
    rng = np.random.default_rng(9)
    y = np.empty(WEEKLY.size)
    y[0] = 1.0
    for i in range(WEEKLY.size - 1):
        y[i + 1] = 1.0 + (y[i] - 1.0) * math.exp(-0.45 / 52) + 0.04 * rng.standard_t(2)
    bad = fit_ou(WEEKLY, y)
    assert bad.goodness_of_fit["jarque_bera"]["pvalue"] < 1e-6
    assert not bad.adequate


def test_random_walk_warns_that_mean_is_not_identified():
    rng = np.random.default_rng(2)
    x = np.cumsum(rng.standard_normal(300)) * 0.05
    t = np.arange(x.size) / 52
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        fit = fit_ou(t, np.cumsum(np.ones(300)) * 0.01 + x)
    if any(issubclass(i.category, AccuracyWarning) for i in w):
        assert any("mean reversion" in n or "white noise" in n for n in fit.notes)
    assert fit.conf_int["kappa"][0] >= 0.0


# -- bad input ----------------------------------------------------------------------
def test_too_short_and_constant_series():
    with pytest.raises(ValueError, match="too short: 5 observations"):
        fit_ou(np.arange(5.0), np.arange(5.0))
    with pytest.raises(ValueError, match="constant"):
        fit_ou(np.arange(40.0), np.full(40, 0.3))
    assert MIN_OBSERVATIONS == 10


def test_bad_arguments_name_themselves():
    t = np.arange(30.0)
    x = np.sin(t)
    with pytest.raises(ValueError, match="strictly increasing: entry 5"):
        fit_ou(np.r_[t[:5], t[4], t[6:]], x)
    with pytest.raises(ValueError, match=r"`values`\[3\]"):
        fit_ou(t, np.r_[x[:3], np.nan, x[4:]])
    with pytest.raises(ValueError, match="`level`"):
        fit_ou(t, x, level=1.5)
    with pytest.raises(ValueError, match="one entry per time"):
        fit_ou(t, x[:-1])
    with pytest.raises(TypeError, match="`values` is required"):
        fit_ou(t)
    with pytest.raises(ValueError, match=r"`times_or_dates`\[2\]"):
        fit_ou(["2020-01-01", "2020-01-08", "soon"] + [f"2020-02-{d:02d}" for d in range(1, 28)], np.sin(np.arange(30.0)))


# -- reading files -----------------------------------------------------------------
def _write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text)
    return p


def _weekly_csv(n=60, seed=0):
    rng = np.random.default_rng(seed)
    d0 = np.datetime64("2020-01-03")
    lines = ["date,liquidity,comment"]
    for i in range(n):
        lines.append(f"{d0 + np.timedelta64(7 * i, 'D')},{1 + 0.1 * rng.standard_normal():.5f},ok")
    return "\n".join(lines) + "\n"


def test_read_csv_detects_columns_and_drops_missing(tmp_path):
    text = _weekly_csv().splitlines()
    text[5] = text[5].split(",")[0] + ",,missing"
    text[9] = text[9].split(",")[0] + ",NA,missing"
    p = _write(tmp_path, "l.csv", "\n".join(text) + "\n")
    s = read_series(p)
    assert isinstance(s, TimeSeries)
    assert (s.date_column, s.value_column) == ("date", "liquidity")
    assert len(s) == 58
    assert s.notes and "dropped 2 rows" in s.notes[0] and "rows 5, 9" in s.notes[0]
    assert s.times[1] == pytest.approx(7 / 365.25)
    fit = fit_ou(s)
    assert fit.source["value_column"] == "liquidity" and fit.notes[0].startswith("dropped")


def test_read_csv_unparsable_date_names_row_and_column(tmp_path):
    text = _weekly_csv().splitlines()
    text[7] = "2020-02-31," + text[7].split(",", 1)[1]
    p = _write(tmp_path, "bad.csv", "\n".join(text) + "\n")
    with pytest.raises(ValueError, match=r"row 7, column 'date': cannot parse '2020-02-31'"):
        read_series(p)


def test_read_csv_non_numeric_value_names_row_and_column(tmp_path):
    text = _weekly_csv().splitlines()
    text[12] = text[12].split(",")[0] + ",abc,ok"
    p = _write(tmp_path, "bad.csv", "\n".join(text) + "\n")
    with pytest.raises(ValueError, match=r"row 12, column 'liquidity': 'abc' is not a finite number"):
        read_series(p, value_column="liquidity")


def test_read_csv_other_problems(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        read_series(tmp_path / "nope.csv")
    p = _write(tmp_path, "two.csv", "when,a,b\n2020-01-01,1,2\n2020-01-08,2,3\n")
    with pytest.raises(ValueError, match="cannot tell which column holds the values among 'a', 'b'"):
        read_series(p)
    assert read_series(p, value_column="b").values.tolist() == [2.0, 3.0]
    with pytest.raises(ValueError, match="`value_column` 'c' is not a column"):
        read_series(p, value_column="c")
    p = _write(tmp_path, "dup.csv", "date,v\n2020-01-01,1\n2020-01-08,2\n2020-01-08,3\n")
    with pytest.raises(ValueError, match="rows 2 and 3, column 'date': duplicate date"):
        read_series(p)
    p = _write(tmp_path, "x.xlsx", "")
    with pytest.raises(ValueError, match="unknown file type"):
        read_series(p)


def test_read_csv_numeric_times_semicolons_and_unsorted(tmp_path):
    p = _write(tmp_path, "t.csv", "t;x\n0.5;1.0\n0.0;2.0\n0.25;1.5\n")
    s = read_series(p)
    assert s.dates is None and s.times.tolist() == [0.0, 0.25, 0.5] and s.values.tolist() == [2.0, 1.5, 1.0]
    assert "sorted" in s.notes[-1]
    p = _write(tmp_path, "eu.csv", "Datum,Wert\n03.01.2020,1\n10.01.2020,2\n17.01.2020,3\n")
    s = read_series(p)
    assert s.date_column == "Datum" and s.times[2] == pytest.approx(14 / 365.25)
    # regression: a European export (';' and decimal commas) was rejected: "'0,2' is not a finite number"
    p = _write(tmp_path, "eu2.csv", "Datum;Wert\n2020-01-03;0,25\n2020-01-10;-1,5\n2020-01-17;2,5e-1\n")
    s = read_series(p)
    assert s.value_column == "Wert" and s.values.tolist() == [0.25, -1.5, 0.25]


def test_read_parquet_with_dates_and_nulls(tmp_path):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    t = WEEKLY[:200]
    x = simulate_ou(t, seed=8)[0]
    dates = np.datetime64("2010-01-01") + (np.round(t * 365.25)).astype("timedelta64[D]")
    vals = [float(v) for v in x]
    vals[17] = None
    table = pa.table({"as_of": pa.array(dates.astype("datetime64[ms]")), "L": pa.array(vals, type=pa.float64())})
    p = tmp_path / "l.parquet"
    pq.write_table(table, p)
    s = read_series(p)
    assert (s.date_column, s.value_column, len(s)) == ("as_of", "L", 199)
    assert "row 18" in s.notes[0] or "rows 18" in s.notes[0]
    table = pa.table({"date": pa.array(["2020-01-01", "2020-01-08", "garbage"] + [f"2020-03-{d:02d}" for d in range(1, 20)]),
                      "v": pa.array(np.arange(22.0))})
    pq.write_table(table, tmp_path / "b.parquet")
    with pytest.raises(ValueError, match="row 3, column 'date'"):
        read_series(tmp_path / "b.parquet")


# -- output ------------------------------------------------------------------------------
def test_to_config_round_trips_through_toml(tmp_path):
    from gelav.scenario import dump_toml, load, process_from_config

    x = simulate_ou(WEEKLY[:300], seed=6)[0]
    fit = fit_ou(WEEKLY[:300], x)
    cfg = fit.to_config(title="test")
    p = tmp_path / "fit.toml"
    p.write_text(dump_toml(cfg))
    back = load(p)
    proc = process_from_config(back["process"])
    assert (proc.kappa, proc.mean, proc.sigma) == (fit.kappa, fit.mean, fit.sigma)
    assert back["calibration"]["result"]["kappa_ci"] == pytest.approx(list(fit.conf_int["kappa"]))
    assert back["title"] == "test"


def test_plot_has_four_labelled_panels():
    import matplotlib

    matplotlib.use("Agg")
    x = simulate_ou(WEEKLY[:300], seed=6)[0]
    fit = fit_ou(WEEKLY[:300], x)
    fig = fit.plot()
    axes = fig.get_axes()
    assert len(axes) == 4
    for ax in axes:
        assert ax.get_xlabel() and ax.get_ylabel() and ax.get_title()
        assert ax.get_legend() is not None
    assert isinstance(fit, OUFit) and "OUFit(kappa=" in repr(fit)
    s = fit.summary()
    assert set(s["estimates"]) == {"kappa", "mean", "sigma", "half_life", "stationary_sd"}
    import matplotlib.pyplot as plt

    plt.close(fig)
