"""`gelav feynman-kac` and `gelav exit-time`."""

from __future__ import annotations

import json
import math

import numpy as np
from click.testing import CliRunner

from gelav.cli import main


def run(*args):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_feynman_kac_json_seed002():
    r = run("feynman-kac", "--json")
    assert r.exit_code == 0, r.output
    d = json.loads(r.output)
    assert d["process"]["mu"] == 0.5 and d["boundary"] == "sold"
    assert d["pdepe_max_abs_diff"] < 1e-4
    ratio2, ratio4 = np.array(d["limit_2x"]["ratio"]), np.array(d["limit_4x"]["ratio"])
    assert ratio2[0] == 1.0 and ratio4[0] == 1.0  # no time left: the price itself
    assert np.all(ratio2[1:] < ratio4[1:]) and 0.78 < ratio2[-1] < 0.80 and 0.91 < ratio4[-1] < 0.92
    sp = np.array(d["expected_selling_price"])
    assert sp.shape == (21, 101)


def test_feynman_kac_table_plots_and_config(tmp_path):
    cfg = tmp_path / "s.toml"
    cfg.write_text("[feynman_kac]\nhorizon = 0.5\npayoff = 'call'\nstrike = 0.4\nboundary = 'knockout'\n"
                   "n_cells = 50\nn_steps = 50\n")
    r = run("feynman-kac", "--config", str(cfg), "--plot", str(tmp_path / "figs"))
    assert r.exit_code == 0, r.output
    assert "Expected selling price" in r.output
    assert sorted(p.name for p in (tmp_path / "figs").iterdir()) == [
        "expected_selling_price.png", "ratio_limits.png", "ratio_surface.png"]
    bad = tmp_path / "bad.toml"
    bad.write_text("[feynman_kac]\nhorizn = 1.0\n")
    r = CliRunner().invoke(main, ["feynman-kac", "--config", str(bad)])
    assert r.exit_code == 2 and "unknown field" in r.output
    r = CliRunner().invoke(main, ["feynman-kac", "--sigma0", "-1"])
    assert r.exit_code == 2 and "`sigma0` must be > 0" in r.output
    # regression: NaN used to be reported as "`mu` must be finite" (mu = mu0 + sigma0²/2)
    for opt in ("--sigma0", "--mu0", "--strike"):
        r = CliRunner().invoke(main, ["feynman-kac", opt, "nan", "--payoff", "call"])
        assert r.exit_code == 2 and f"`{opt[2:]}` must be finite" in r.output


def test_feynman_kac_to_a_tolerance(tmp_path):
    """--tol: the table's values by backward(..., tol=) at each price, each within its estimate of a run to a
    100 times smaller tol; the surface stays on --n-cells (the 100-cell value at 0.25 is 3.0e-6 off)."""
    d = json.loads(run("feynman-kac", "--tol", "1e-7", "--json").output)
    fine = json.loads(run("feynman-kac", "--tol", "1e-9", "--json").output)["to_tolerance"]["rows"]
    rows = d["to_tolerance"]["rows"]
    assert [r["price"] for r in rows] == [0.25, 0.5, 0.75] and d["to_tolerance"]["tol"] == 1e-7
    for r, f in zip(rows, fine, strict=True):
        assert r["error_estimate"] <= 1e-7 and r["order"] == 2.0
        assert abs(r["value"] - f["value"]) <= r["error_estimate"] + f["error_estimate"]
    coarse = float(np.interp(0.25, d["price"], d["expected_selling_price"][-1]))
    assert abs(coarse - fine[0]["value"]) > 2.9e-6  # what the 6 decimals of the plain table could not say
    text = " ".join(run("feynman-kac", "--tol", "1e-7").output.split())
    assert "│ 0.25 │ 0.377603276 ± 4.7e-08 │" in text
    assert "values to tol 1e-07 by refinement (validated estimates; up to 800 cells)" in text
    cfg = tmp_path / "fk.toml"
    cfg.write_text("[feynman_kac]\ntol = 1e-6\n")
    assert json.loads(run("feynman-kac", "--config", str(cfg), "--json").output)["to_tolerance"]["tol"] == 1e-6
    r = CliRunner().invoke(main, ["feynman-kac", "--tol", "0"])
    assert r.exit_code == 2 and "--tol" in r.output
    r = CliRunner().invoke(main, ["feynman-kac", "--tol", "1e-15"])
    assert r.exit_code == 1 and "did not reach --tol 1e-15" in r.output


def test_exit_time_seed_reports_divergence():
    r = run("exit-time", "--json")
    assert r.exit_code == 0, r.output
    d = json.loads(r.output)
    assert d["mean_exit_time"] == ["inf", "inf", "inf"]
    assert "infinite" in d["divergence"] and d["boundaries"]["lower"]["kind"] == "natural"
    assert np.allclose(d["p_upper_first"], 1.0)


def test_exit_time_brownian_with_horizon(tmp_path):
    mu, s, a, b = 0.3, 0.7, -1.0, 2.0
    r = run("exit-time", "--process", "brownian", "--mu", str(mu), "--sigma", str(s), "--a", "-1", "--b", "2",
            "--x0", "0", "-T", "2", "--n-cells", "150", "--json", "--plot", str(tmp_path))
    assert r.exit_code == 0, r.output
    d = json.loads(r.output)
    p = (1 - math.exp(-2 * mu * (0 - a) / s**2)) / (1 - math.exp(-2 * mu * (b - a) / s**2))
    assert abs(d["p_upper_first"][0] - p) < 1e-9
    assert abs(d["mean_exit_time"][0] - ((b - a) * p - (0 - a)) / mu) < 1e-9
    assert d["mean_exit_time_bounded"][0] < 2.0 and 0 < d["survival_at_horizon"][0] < 1
    assert (tmp_path / "exit_time.png").exists() and (tmp_path / "exit_time_survival.png").exists()


def test_exit_time_config_and_errors(tmp_path):
    cfg = tmp_path / "e.toml"
    cfg.write_text("[process]\nkind = 'ou'\nkappa = 0.45\nmean = 1.0\nsigma = 0.32\n\n"
                   "[exit_time]\na = -0.5\nb = 2.0\nx0 = [0.0, 1.0]\n")
    r = run("exit-time", "--config", str(cfg))
    assert r.exit_code == 0, r.output
    assert "Exit from (-0.5, 2)" in r.output
    r = CliRunner().invoke(main, ["exit-time", "--a", "1", "--b", "0"])
    assert r.exit_code == 2 and "`a` must be < `b`" in r.output
    r = CliRunner().invoke(main, ["exit-time", "--x0", "5"])
    assert r.exit_code == 2 and "`x0`" in r.output
    # regressions: an infinite limit was reported as "`x0` = nan", a missing CIR parameter as a TypeError
    r = CliRunner().invoke(main, ["exit-time", "--process", "brownian", "--a", "-inf"])
    assert r.exit_code == 2 and "`a` must be finite" in r.output
    r = CliRunner().invoke(main, ["exit-time", "--process", "cir", "--kappa", "1"])
    assert r.exit_code == 2 and "needs `mean`, `sigma` (missing)" in r.output
