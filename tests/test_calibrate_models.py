"""CIR and GBM calibration, model comparison, saved covariance (issue 17, item 3)."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import tomllib
from click.testing import CliRunner
from scipy import stats

from gelav.calibrate import (
    CIRFit,
    GBMFit,
    ModelComparison,
    compare_models,
    fit_cir,
    fit_gbm,
    fit_ou,
    read_series,
)
from gelav.calibrate.cir import cir_loglik
from gelav.cli import main

WEEK = 1 / 52


def irregular_times(n, rng):
    return np.concatenate(([0.0], np.cumsum(rng.uniform(0.5, 1.5, n) * WEEK)))


def sim_cir(k, m, s, t, rng, reps, x0=None):
    X = np.empty((reps, t.size))
    X[:, 0] = m if x0 is None else x0
    for i, d in enumerate(np.diff(t)):
        c = s**2 * (-np.expm1(-k * d)) / (4 * k)
        X[:, i + 1] = c * rng.noncentral_chisquare(4 * k * m / s**2, X[:, i] * np.exp(-k * d) / c)
    return X


def sim_ou(k, m, s, t, rng, reps):
    X = np.empty((reps, t.size))
    X[:, 0] = m
    for i, d in enumerate(np.diff(t)):
        X[:, i + 1] = m + (X[:, i] - m) * np.exp(-k * d) + s * np.sqrt(-np.expm1(-2 * k * d) / (2 * k)) * rng.standard_normal(reps)
    return X


def sim_gbm(mu, s, t, rng, reps):
    d = np.diff(t)
    r = (mu - s**2 / 2) * d + s * np.sqrt(d) * rng.standard_normal((reps, d.size))
    return np.exp(np.concatenate((np.zeros((reps, 1)), np.cumsum(r, axis=1)), axis=1))


# --------------------------------------------------------------------------- likelihoods
def test_cir_loglik_matches_scipy_noncentral_chi2_and_stays_finite_for_large_arguments():
    rng = np.random.default_rng(0)
    dt = rng.uniform(0.01, 0.5, 50)
    x0, x1 = rng.uniform(0.2, 2.0, 50), rng.uniform(0.2, 2.0, 50)
    for k, m, s in ((1.5, 0.8, 0.3), (0.2, 1.0, 0.9), (3.0, 0.5, 0.05)):
        c = 2 * k / (s**2 * -np.expm1(-k * dt))
        ref = stats.ncx2.logpdf(2 * c * x1, 4 * k * m / s**2, 2 * c * x0 * np.exp(-k * dt)) + np.log(2 * c)
        got = cir_loglik(k, m, s, dt, x0, x1)
        ok = np.isfinite(ref)
        np.testing.assert_allclose(got[ok], ref[ok], rtol=1e-9, atol=1e-9)
        assert np.all(np.isfinite(got))
    # Bessel argument 2√(uv) ~ 1e7: the density is then nearly Gaussian with the exact conditional moments
    k, m, s, d = 1.0, 1.0, 1e-3, 1.0 / 52
    x_0 = np.array([1.0])
    mean = m + (x_0 - m) * np.exp(-k * d)
    var = x_0 * s**2 / k * (np.exp(-k * d) - np.exp(-2 * k * d)) + m * s**2 / (2 * k) * (1 - np.exp(-k * d)) ** 2
    y = mean + np.sqrt(var) * np.array([0.5])
    got = cir_loglik(k, m, s, np.array([d]), x_0, y)
    assert np.isfinite(got).all()
    assert got[0] == pytest.approx(stats.norm.logpdf(y, mean, np.sqrt(var))[0], abs=1e-3)


def test_gbm_closed_form_is_the_maximum_and_information_is_exact():
    rng = np.random.default_rng(1)
    t = irregular_times(300, rng)
    x = sim_gbm(0.08, 0.25, t, rng, 1)[0]
    fit = fit_gbm(t, x)
    assert isinstance(fit, GBMFit)
    # log-likelihood equals the log-normal density of the levels
    d = np.diff(t)
    nu = fit.mu - fit.sigma**2 / 2
    ref = stats.lognorm.logpdf(x[1:], fit.sigma * np.sqrt(d), scale=x[:-1] * np.exp(nu * d)).sum()
    assert fit.loglik == pytest.approx(ref, rel=1e-12)
    # no perturbation improves it, and the numerical information matches the closed-form covariance
    from gelav.calibrate._common import observed_information

    def ll(p):
        m, s = p
        n_ = m - s**2 / 2
        return float(stats.lognorm.logpdf(x[1:], s * np.sqrt(d), scale=x[:-1] * np.exp(n_ * d)).sum())

    for dp in ([1e-3, 0], [0, 1e-3], [-1e-3, 0], [0, -1e-3]):
        assert ll(np.array([fit.mu, fit.sigma]) + dp) < fit.loglik
    cov_num, ok = observed_information(ll, np.array([fit.mu, fit.sigma]))
    assert ok
    np.testing.assert_allclose(cov_num, fit.cov, rtol=1e-4)


# --------------------------------------------------------------------------- coverage
@pytest.mark.slow
def test_cir_intervals_cover_the_true_parameters():
    """≥ 90 % coverage of the nominal 95 % intervals in 100 seeded series (measured: see docs/calibration.md)."""
    k, m, s = 2.0, 0.8, 0.3
    rng = np.random.default_rng(2024)
    t = irregular_times(400, rng)  # about 7.7 years of irregular weekly data, κT ≈ 15
    X = sim_cir(k, m, s, t, rng, 100)
    hits = np.zeros(3)
    for x in X:
        fit = fit_cir(t, x)
        hits += [fit.conf_int[p][0] < v < fit.conf_int[p][1] for p, v in (("kappa", k), ("mean", m), ("sigma", s))]
    cover = hits / X.shape[0]
    assert np.all(cover >= 0.90), cover


def test_gbm_intervals_cover_the_true_parameters():
    mu, s = 0.05, 0.2
    rng = np.random.default_rng(7)
    t = irregular_times(260, rng)
    X = sim_gbm(mu, s, t, rng, 300)
    hits = np.zeros(2)
    for x in X:
        fit = fit_gbm(t, x)
        hits += [fit.conf_int["mu"][0] < mu < fit.conf_int["mu"][1],
                 fit.conf_int["sigma"][0] < s < fit.conf_int["sigma"][1]]
    cover = hits / X.shape[0]
    # binomial sd of a 95 % coverage over 300 series is 1.26 %: [0.90, 0.995] is a ≥ 3.6 sd band
    assert np.all((cover >= 0.90) & (cover <= 0.995)), cover


def test_cir_fit_result_and_derived_quantities():
    rng = np.random.default_rng(3)
    t = np.arange(521) * WEEK
    x = sim_cir(1.5, 0.8, 0.3, t, rng, 1)[0]
    fit = fit_cir(t, x)
    assert isinstance(fit, CIRFit)
    assert fit.half_life == pytest.approx(math.log(2) / fit.kappa)
    assert fit.feller == pytest.approx(2 * fit.kappa * fit.mean / fit.sigma**2)
    assert fit.cov.shape == (3, 3) and np.allclose(fit.cov, fit.cov.T)
    assert np.all(np.linalg.eigvalsh(fit.cov) > 0)
    assert fit.stderr["kappa"] == pytest.approx(math.sqrt(fit.cov[0, 0]))
    # PIT residuals are N(0, 1) under the model
    assert fit.goodness_of_fit["ks"]["pvalue"] > 0.01
    assert fit.process.kappa == fit.kappa
    r = repr(fit)
    assert r.startswith("CIRFit(kappa=") and "array" not in r and len(r) < 200
    assert "<table" in fit._repr_html_() and "| κ mean reversion" in fit._repr_markdown_()


# --------------------------------------------------------------------------- comparison
@pytest.mark.slow
def test_compare_models_picks_the_true_model():
    """Each of OU, CIR, GBM is picked by AIC for most series simulated from it (measured 95–100 %)."""
    t = np.arange(261) * WEEK  # five years, weekly
    rng = np.random.default_rng(11)
    cases = {"ou": sim_ou(2.0, 1.0, 0.5, t, rng, 8), "cir": sim_cir(2.0, 1.0, 0.5, t, rng, 8),
             "gbm": sim_gbm(0.05, 0.35, t, rng, 8)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        right = {m: sum(compare_models(t, x).best == m for x in X if x.min() > 0 or m == "ou") for m, X in cases.items()}
    assert all(v >= 6 for v in right.values()), right  # ≥ 75 % each


def test_comparison_table_and_models_that_do_not_apply():
    rng = np.random.default_rng(4)
    t = np.arange(261) * WEEK
    x = sim_ou(1.0, 0.0, 0.3, t, rng, 1)[0]  # crosses zero
    c = compare_models(t, x)
    assert isinstance(c, ModelComparison)
    assert [r["model"] for r in c.rows] == ["ou", "cir", "gbm"]
    assert c.best == "ou" and set(c.fits) == {"ou"}
    for r in c.rows[1:]:
        assert "does not apply" in r["note"] and "≤ 0" in r["note"] and math.isnan(r["aic"])
    ou = c.rows[0]
    fit = fit_ou(t, x)
    assert ou["loglik"] == pytest.approx(fit.loglik) and ou["aic"] == pytest.approx(fit.aic)
    assert ou["bic"] == pytest.approx(3 * math.log(len(x) - 1) - 2 * fit.loglik)
    s = c.summary()
    assert s["best"] == "ou" and s["models"][1]["aic"] is None
    assert "does not apply" in c._repr_markdown_()


@pytest.mark.parametrize(("kw", "exc", "match"), [
    ({"models": ("ou", "vasicek")}, ValueError, "Unknown model 'vasicek'.*ou, cir, gbm"),
    ({"models": ("ou", "ou")}, ValueError, "twice"),
    ({"models": ()}, ValueError, "`models` is empty"),
    ({"models": (1,)}, TypeError, "`models`"),
    ({"criterion": "hqic"}, ValueError, "`criterion`"),
])
def test_compare_models_bad_arguments(kw, exc, match):
    t = np.arange(30) * WEEK
    x = 1 + 0.1 * np.sin(np.arange(30))
    with pytest.raises(exc, match=match):
        compare_models(t, x, **kw)


@pytest.mark.parametrize("fit", [fit_cir, fit_gbm])
def test_hostile_series_name_the_entry(fit, tmp_path):
    t = np.arange(30) * WEEK
    x = 1 + 0.1 * np.sin(np.arange(30))
    bad = x.copy()
    bad[7] = -0.2
    with pytest.raises(ValueError, match=r"`values`\[7\] is -0.2"):
        fit(t, bad)
    bad[7] = np.nan
    with pytest.raises(ValueError, match=r"`values`\[7\]"):
        fit(t, bad)
    with pytest.raises(ValueError, match="too short"):
        fit(t[:5], x[:5])
    with pytest.raises(ValueError, match="strictly increasing: entry 4"):
        fit(np.r_[t[:4], t[3], t[5:]], x)
    with pytest.raises(ValueError, match="constant"):
        fit(t, np.ones(30))
    with pytest.raises(TypeError, match="`level`"):
        fit(t, x, level=True)
    with pytest.raises(ValueError, match="`level`"):
        fit(t, x, level=1.5)
    # a file: the error names the file row
    p = tmp_path / "s.csv"
    p.write_text("date,L\n" + "".join(f"2024-01-{i + 1:02d},{v}\n" for i, v in enumerate(np.r_[x[:3], 0.0, x[4:30]])))
    with pytest.raises(ValueError, match=r"row 4 of .*s\.csv is 0"):
        fit(read_series(p))


# --------------------------------------------------------------------------- command line and saved files
def _write_csv(path, t_days, x):
    import datetime as dt

    d0 = dt.date(2015, 1, 2)
    path.write_text("date,L\n" + "".join(f"{d0 + dt.timedelta(days=int(d))},{v:.8f}\n" for d, v in zip(t_days, x, strict=True)))


@pytest.mark.parametrize("model", ["ou", "cir", "gbm"])
def test_cli_save_writes_fit_table_with_covariance(tmp_path, model):
    rng = np.random.default_rng(5)
    t = np.arange(261) * WEEK
    x = sim_cir(1.5, 0.8, 0.3, t, rng, 1)[0]
    data = tmp_path / "l.csv"
    _write_csv(data, np.arange(261) * 7, x)
    out = tmp_path / "fit.toml"
    res = CliRunner().invoke(main, ["calibrate", str(data), "--model", model, "--save", str(out), "-q"])
    assert res.exit_code == 0, res.output
    cfg = tomllib.loads(out.read_text())
    f = cfg["fit"]
    assert f["model"] == model
    k = len(f["parameters"])
    cov = np.array(f["covariance"])
    assert cov.shape == (k, k) and np.allclose(cov, cov.T) and np.all(np.linalg.eigvalsh(cov) > 0)
    assert np.allclose(np.sqrt(np.diag(cov)), f["stderr"])
    kind = {"ou": "ornstein-uhlenbeck", "cir": "cir", "gbm": "gbm"}[model]
    assert cfg["process"]["kind"] in (kind, model)
    series = read_series(data)
    direct = {"ou": fit_ou, "cir": fit_cir, "gbm": fit_gbm}[model](series)
    np.testing.assert_allclose(cov, direct.cov, rtol=1e-6)
    assert f["estimates"] == pytest.approx([getattr(direct, p) for p in f["parameters"]], rel=1e-9)


def test_cli_compares_models_and_names_bad_options(tmp_path):
    rng = np.random.default_rng(6)
    t = np.arange(261) * WEEK
    x = sim_ou(1.0, 0.1, 0.3, t, rng, 1)[0]
    data = tmp_path / "l.csv"
    _write_csv(data, np.arange(261) * 7, x)
    res = CliRunner().invoke(main, ["calibrate", str(data), "--model", "ou,cir,gbm"])
    assert res.exit_code == 0, res.output
    assert "Model comparison" in res.output and "OU ★" in res.output
    assert "CIR does not apply" in res.output
    res = CliRunner().invoke(main, ["calibrate", str(data), "--model", "ou,cir,gbm", "--json"])
    import json

    out = json.loads(res.output)
    assert out["best"] == "ou" and [m["model"] for m in out["models"]] == ["ou", "cir", "gbm"]
    res = CliRunner().invoke(main, ["calibrate", str(data), "--model", "ou,heston"])
    assert res.exit_code == 2 and "--model" in res.output and "heston" in res.output
    res = CliRunner().invoke(main, ["calibrate", str(data), "--model", "cir"])
    assert res.exit_code == 2 and "values > 0" in res.output and "row" in res.output


@pytest.mark.parametrize("scale", [1e-99, 1e-30, 1e-13, 1e20, 1e99])
def test_fits_are_unit_free_with_their_standard_errors(scale):
    # OU: (κ, c·L̄, c·σ); CIR: (κ, c·θ, √c·σ). Before: 1e-13 was "constant" (an absolute 1e-12 test), 1e-30 had
    # no standard errors (a 1e-12 floor on the mean's step), CIR at 1e20 none either (positive definiteness read
    # on the unscaled information: a κ of 0.8 beside a mean of 5e19), 1e200 a SciPy NaN message
    import warnings

    from gelav import CIR, OrnsteinUhlenbeck, simulate
    from gelav.calibrate import fit_cir, fit_ou

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        p = simulate(OrnsteinUhlenbeck(0.45, 1.0, 0.32), 1.0, 20.0, 1040, 2, scheme="exact", save="all", seed=0)
        t, x = p.times, p.values[:, 0]
        f0, f = fit_ou(t, x), fit_ou(t, scale * x)
        assert f.kappa == pytest.approx(f0.kappa, rel=1e-6)
        assert f.mean == pytest.approx(scale * f0.mean, rel=1e-6)
        for k, power in (("kappa", 0), ("mean", 1), ("sigma", 1)):
            assert f.stderr[k] == pytest.approx(scale**power * f0.stderr[k], rel=1e-3)
        p = simulate(CIR(0.8, 0.5, 0.3), 0.5, 20.0, 1040, 2, scheme="exact", save="all", seed=0)
        t, x = p.times, p.values[:, 0]
        g0, g = fit_cir(t, x), fit_cir(t, scale * x)
        assert g.sigma == pytest.approx(scale**0.5 * g0.sigma, rel=1e-6)
        for k, power in (("kappa", 0), ("mean", 1), ("sigma", 0.5)):
            assert g.stderr[k] == pytest.approx(scale**power * g0.stderr[k], rel=1e-3)


@pytest.mark.parametrize("scale", [1e-150, 1e200])
def test_series_beyond_the_float_safe_sizes_are_refused_by_name(scale):
    from gelav import OrnsteinUhlenbeck, simulate
    from gelav.calibrate import fit_ou

    p = simulate(OrnsteinUhlenbeck(0.45, 1.0, 0.32), 1.0, 5.0, 260, 2, scheme="exact", save="all", seed=0)
    with pytest.raises(ValueError, match="express the series in other units"):
        fit_ou(p.times, scale * p.values[:, 0])


@pytest.mark.parametrize("model", ["ou", "cir"])
def test_a_ramp_near_the_values_rounding_is_refused_clearly(model):
    """1.5 + 1e-13 i (weekly) is no path of either model. The OU fit raised SciPy's bare "f(a) and f(b)
    must have different signs", the CIR fit "`z` must be finite" (SciPy's non-central chi-square is NaN
    at 1e12 degrees of freedom), each with an overflow RuntimeWarning on the way."""
    import warnings as _w

    from gelav.calibrate import fit_cir, fit_ou
    from gelav.errors import AccuracyWarning

    t = np.arange(60) / 52.0
    with _w.catch_warnings():
        _w.simplefilter("ignore", AccuracyWarning)  # no mean reversion over the span
        _w.simplefilter("error", RuntimeWarning)
        with pytest.raises(ValueError, match=r"not maximal at the estimate|not a path of this model"):
            (fit_ou if model == "ou" else fit_cir)(t, 1.5 + 1e-13 * np.arange(60))


def test_cir_residuals_at_huge_degrees_of_freedom_are_normal_limits():
    from gelav.calibrate.cir import _pit

    # 4κL̄/σ² = 4e12: SciPy's ncx2.cdf is NaN there and its sf 0.16 for 0.31
    kappa, mean, sigma, dt = 1.0, 1.0, 1e-6, np.array([0.02])
    e = math.exp(-kappa * dt[0])
    c = 2 * kappa / (sigma**2 * (1 - e))
    df, nc = 4 * kappa * mean / sigma**2, 2 * c * 1.0 * e
    x1 = (df + nc + 0.5 * math.sqrt(2 * (df + 2 * nc))) / (2 * c)
    z = _pit(kappa, mean, sigma, dt, np.array([1.0]), np.array([x1]))
    assert z[0] == pytest.approx(0.5, abs=1e-4)
