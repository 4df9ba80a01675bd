"""Confidence bands of stress probabilities from a calibration's covariance: coverage in seeded
calibrate-then-stress repetitions, the delta method as a check, FIT.toml round trip, CLI and task."""

from __future__ import annotations

import functools
import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from gelav import OrnsteinUhlenbeck, tasks
from gelav.calibrate import fit_ou
from gelav.cli import main
from gelav.stress import stress_table, stress_test
from gelav.stress_band import read_fit, stress_band

ROOT = Path(__file__).resolve().parent.parent
KAPPA, MEAN, SIGMA = 1.0, 1.0, 0.5
X0, T, C = 0.5, 1.0, 0.6


def ou_series(n: int, dt: float, seed) -> tuple[np.ndarray, np.ndarray]:
    """An exact OU path (stationary start) with the true parameters."""
    eps = np.random.default_rng(seed).standard_normal(n)
    a = np.exp(-KAPPA * dt)
    sd = SIGMA * np.sqrt((1 - a * a) / (2 * KAPPA))
    x = np.empty(n)
    x[0] = MEAN + SIGMA / np.sqrt(2 * KAPPA) * eps[0]
    for i in range(1, n):
        x[i] = MEAN + (x[i - 1] - MEAN) * a + sd * eps[i]
    return np.arange(n) * dt, x


@pytest.fixture(scope="module")
def fit():
    return fit_ou(*ou_series(400, 1 / 4, 11))


@functools.cache
def coverage() -> tuple[int, int]:
    """100 series of 100 years quarterly (κT = 100), each calibrated then stressed at the 95 % level: how
    many bootstrap bands and delta-method intervals hold the true P(X_1 < 0.6 | X_0 = 0.5)."""
    true = float(OrnsteinUhlenbeck(KAPPA, MEAN, SIGMA).transition(X0, T).cdf(C))
    band = delta = 0
    for k, child in enumerate(np.random.SeedSequence(2026).spawn(100)):
        b = stress_band(fit_ou(*ou_series(400, 1 / 4, child)), X0, T, C, draws=100, seed=k)
        band += b.covers(true)
        delta += b.delta_lower <= true <= b.delta_upper
    return band, delta


def test_band_covers_the_true_probability_in_90_percent_of_repetitions():
    band, delta = coverage()
    assert band >= 90
    assert (
        delta >= 85
    )  # the check: close, as p is nearly linear in θ over the confidence region here


def test_docs_quote_the_measured_coverage():
    band, delta = coverage()
    page = " ".join((ROOT / "docs" / "calibration.md").read_text().split())
    assert (
        f"the band holds it in {band} of 100 repetitions and the delta method's interval in {delta}"
        in page
    )


def test_delta_method_agrees_where_the_probability_is_nearly_linear(fit):
    b = stress_band(fit, X0, T, C, draws=4000, seed=1)
    # κT = 100, p ≈ 0.26: the bootstrap's spread and the delta method's agree to 15 %, and the band
    # sits around the estimate
    assert b.delta_stderr == pytest.approx(b.stderr, rel=0.15)
    assert b.lower < b.value < b.upper
    assert b.delta_lower < b.value < b.delta_upper
    assert b.rejected == 0 and b.draws == 4000 and b.level == 0.95
    assert b.estimate.value == b.value and b.estimate.stderr == b.stderr


def test_draws_respect_the_parameter_space_and_are_seeded(fit):
    fp = read_fit(fit)
    wide = type(fp)(
        fp.model, fp.names, fp.estimates, fp.cov * 400.0, fp.level, "wide"
    )  # κ often < 0
    b = stress_band(wide, X0, T, C, draws=200, seed=5)
    assert b.rejected > 0 and b.draws == 200
    assert 0.0 <= b.lower <= b.upper <= 1.0
    assert stress_band(wide, X0, T, C, draws=200, seed=5) == b
    assert stress_band(wide, X0, T, C, draws=200, seed=6) != b


def test_fit_file_round_trip_and_python_entry_points(fit, tmp_path):
    from gelav.scenario import dump_toml

    path = tmp_path / "fit.toml"
    path.write_text(dump_toml(fit.to_config()))
    from_file, from_obj = read_fit(path), read_fit(fit)
    np.testing.assert_allclose(from_file.cov, from_obj.cov, rtol=1e-15)
    np.testing.assert_allclose(from_file.band_cov, from_obj.band_cov, rtol=1e-12)
    b1 = stress_band(path, X0, T, C, draws=300, seed=2)
    b2 = stress_band(fit, X0, T, C, draws=300, seed=2)
    assert b1.lower == pytest.approx(b2.lower, rel=1e-10) and b1.upper == pytest.approx(
        b2.upper, rel=1e-10
    )
    r = stress_test(None, X0, T, C, methods=["analytic"], fit=path, draws=300)
    assert r.results["analytic"].probability == pytest.approx(b1.value, rel=1e-12)
    assert r.band.lower <= r.results["analytic"].probability <= r.band.upper
    assert r.as_dict()["band"]["delta_method"]["stderr"] > 0
    grid = stress_table(None, X0, [0.5, T], [0.4, C], methods=["analytic"], fit=fit, draws=300)
    assert len(grid.bands) == 2 and len(grid.bands[0]) == 2
    assert grid.bands[1][1].value == pytest.approx(b1.value, rel=1e-12)
    with pytest.raises(ValueError, match="fitted"):
        stress_test(OrnsteinUhlenbeck(0.45, 1.0, 0.32), X0, T, C, methods=["analytic"], fit=fit)


def test_task_and_cli_report_the_band(fit, tmp_path):
    from gelav.scenario import dump_toml

    path = tmp_path / "fit.toml"
    path.write_text(dump_toml(fit.to_config()))
    rep = tasks.stress(
        None, fit=str(path), x0=X0, horizon=T, threshold=C, methods=["analytic"], draws=300
    )
    keys = rep.key_numbers()
    assert keys["band 95% lower (parametric bootstrap)"] == rep.band.lower
    assert keys["sd of the probability (delta method)"] == rep.band.delta_stderr
    r = CliRunner().invoke(
        main,
        [
            "stress",
            "--fit",
            str(path),
            "--x0",
            "0.5",
            "--horizon",
            "1",
            "--threshold",
            "0.6",
            "--method",
            "analytic",
            "--draws",
            "300",
            "--json",
        ],
    )
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert out["band"]["lower"] == pytest.approx(rep.band.lower, rel=1e-12)
    r = CliRunner(env={"COLUMNS": "200"}).invoke(
        main,
        ["stress", "--fit", str(path), "--x0", "0.5", "--method", "analytic", "--draws", "300"],
    )
    assert r.exit_code == 0 and "bootstrap band" in r.output and "delta-method" in r.output
    sc = tmp_path / "s.toml"
    sc.write_text(
        f"[stress]\nfit = '{path.name}'\nx0 = 0.5\nthreshold = [0.4, 0.6]\nhorizon = 1.0\n"
        "methods = ['analytic']\ndraws = 300\n"
    )
    grid = tasks.stress(sc)
    assert "band 95% upper, T = 1 y, c = 0.6 (parametric bootstrap)" in grid.key_numbers()
    bad = CliRunner().invoke(main, ["stress", "--fit", str(path), "--kappa", "1"])
    assert bad.exit_code == 2 and "--fit" in bad.output
    (tmp_path / "nofit.toml").write_text(
        "[process]\nkind = 'ou'\nkappa = 1.0\nmean = 1.0\nsigma = 0.5\n"
    )
    bad = CliRunner().invoke(
        main, ["stress", "--fit", str(tmp_path / "nofit.toml"), "--method", "analytic"]
    )
    assert bad.exit_code == 2 and "covariance" in bad.output
