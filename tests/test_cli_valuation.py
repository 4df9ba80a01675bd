"""`gelav premium`, `gelav exit-boundary`, `gelav jensen`: numbers, JSON, config files, plots, errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from gelav.cli import main


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture
def trades(tmp_path):
    rng = np.random.default_rng(4)
    n = 600
    L, T = rng.normal(1.0, 1.0, n), rng.uniform(0.5, 12.0, n)
    ft = rng.choice(["buyout", "venture"], n)
    a = np.where(ft == "buyout", 0.045 - 0.025 * L + 0.021 * L**2, 0.06 - 0.01 * L + 0.015 * L**2)
    pi = a * np.sqrt(T) + rng.normal(0, 0.005, n)
    yr = rng.integers(2005, 2025, n)
    p = tmp_path / "trades.csv"
    lines = ["trade_year,fund_type,L_t,T_remaining,pi_observed"]
    lines += [f"{y},{f},{x:.6f},{t:.6f},{v:.6f}" for y, f, x, t, v in zip(yr, ft, L, T, pi, strict=True)]
    p.write_text("\n".join(lines) + "\n")
    return p


def test_premium_fit_table_json_groups_and_plot(trades, tmp_path) -> None:
    r = run("premium", trades)
    assert r.exit_code == 0, r.output
    assert "alpha" in r.output and "HC3" in r.output
    r = run("premium", trades, "--by", "fund_type", "--json", "--plot", tmp_path / "p.png")
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert set(out["groups"]) == {"buyout", "venture"}
    for k, v in {"alpha": 0.06, "beta": -0.01, "gamma": 0.015}.items():
        g = out["groups"]["venture"]
        assert abs(g["params"][k] - v) < 4 * g["stderr"][k]
    assert (tmp_path / "p.png").stat().st_size > 0
    r = run("premium", trades, "--robust", "--json")
    assert json.loads(r.output)["method"] == "huber"
    cfg = tmp_path / "c.toml"
    cfg.write_text('[premium]\nscaling = "linear"\nrobust = true\n')
    out = json.loads(run("premium", trades, "--config", cfg, "--json").output)
    assert out["scaling"] == "linear" and out["method"] == "huber"
    assert run("premium", trades, "-q").output == ""


def test_premium_bad_input(trades, tmp_path) -> None:
    r = run("premium", tmp_path / "none.csv")
    assert r.exit_code == 2 and "does not exist" in r.output
    r = run("premium", trades, "--by", "vintage")
    assert r.exit_code == 2 and "--by" in r.output
    r = run("premium", trades, "--scaling", "cubic")
    assert r.exit_code == 2 and "--scaling" in r.output
    bad = tmp_path / "bad.csv"
    bad.write_text("L_t,T_remaining,pi_observed\n0.5,4,x\n")
    r = run("premium", bad)
    assert r.exit_code == 2 and "pi_observed" in r.output and "row 1" in r.output
    cfg = tmp_path / "c.toml"
    cfg.write_text("[premium]\nscalin = 'sqrt'\n")
    r = run("premium", trades, "--config", cfg)
    assert r.exit_code == 2 and "scalin" in r.output


def test_exit_boundary_command(tmp_path) -> None:
    r = run("exit-boundary", "--cells", "150", "--steps", "150", "--json", "--plot", tmp_path / "e.png")
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    from gelav import exit_boundary

    assert out["boundary_t0"] == pytest.approx(exit_boundary(n_cells=150, n_steps=150).boundary(0.0), rel=1e-12)
    assert (tmp_path / "e.png").stat().st_size > 0
    r = run("exit-boundary", "--cells", "150", "--steps", "150")
    assert r.exit_code == 0 and "L*(t)" in r.output
    cfg = tmp_path / "e.toml"
    cfg.write_text("[process]\nkind = 'ornstein-uhlenbeck'\nkappa = 0.9\nmean = 1.0\nsigma = 0.32\n"
                   "[exit_boundary]\nfund_life = 6.0\ncells = 120\nsteps = 120\nholding_cost = 0.4\n")
    out = json.loads(run("exit-boundary", "--config", cfg, "--json").output)
    assert out["fund_life"] == 6.0 and out["process"]["kappa"] == 0.9 and out["settings"]["holding_cost"] == 0.4
    for args, opt in ((("--fund-life", "-1"), "--fund-life"), (("--holding-cost", "-0.2"), "--holding-cost"),
                      (("--sigma", "0"), "--sigma"), (("--cells", "2"), "--cells")):
        r = run("exit-boundary", *args)
        assert r.exit_code == 2 and opt in r.output, r.output


def test_jensen_command(tmp_path) -> None:
    r = run("jensen")
    assert r.exit_code == 0 and "0.059827" in r.output and "0.056166" in r.output
    out = json.loads(run("jensen", "--json").output)
    assert len(out["rows"]) == 7
    out = json.loads(run("jensen", "--horizon", "10", "--mu", "0.08", "--sigma-r", "0.05", "--json").output)
    assert round(out["bias"], 6) == 0.059827 and round(out["second_order"], 6) == 0.056166
    r = run("jensen", "--model", "vasicek", "--json", "--plot", tmp_path / "j.png")
    out = json.loads(r.output)
    assert out["model"] == "vasicek" and abs(out["feynman_kac"] - out["expected_discount"]) < 1e-4
    assert (tmp_path / "j.png").stat().st_size > 0
    cfg = tmp_path / "j.toml"
    cfg.write_text("[jensen]\nmodel = 'liquidity'\nhorizon = 5.0\nL0 = -0.5\n")
    out = json.loads(run("jensen", "--config", cfg, "--json").output)
    assert out["model"] == "liquidity" and out["params"]["L0"] == -0.5
    r = run("jensen", "--model", "cir", "--horizon", "-1")
    assert r.exit_code == 2 and "--horizon" in r.output
    r = run("jensen", "--sigma-r", "0.1")
    assert r.exit_code == 2 and "--horizon" in r.output
    r = run("jensen", "--model", "hjm")
    assert r.exit_code == 2 and "--model" in r.output
    assert run("jensen", "-q").output == ""


def test_exit_boundary_notes_a_sale_price_above_nav() -> None:
    # --gamma -1: π < 0 on part of the grid (a sale price above NAV); V(0, 1) = 5.12 was printed
    # with no word of it, while `gelav premium` notes the same thing
    from gelav import IlliquidityPremium

    r = run("exit-boundary", "--gamma", "-1", "--cells", "60", "--steps", "40", "--no-check")
    assert r.exit_code == 0, r.output
    chk = IlliquidityPremium(gamma=-1.0).check((-3.0, 3.0), (0.0, 10.0), warn=False)
    assert chk["negative_premium"] and "note:" in r.output and "a price above NAV" in r.output
    assert f"{chk['min_premium']:.2f}" in r.output
    r = run("exit-boundary", "--cells", "60", "--steps", "40", "--no-check")
    assert r.exit_code == 0 and "note:" not in r.output


def test_jensen_grid_errors_name_the_options() -> None:
    # "`cells` must be >= 8": the option is --cells
    r = run("jensen", "--model", "vasicek", "--cells", "2")
    assert r.exit_code == 2 and "`--cells` must be >= 8, got 2" in r.output
    r = run("jensen", "--model", "vasicek", "--steps", "0")
    assert r.exit_code == 2 and "`--steps`" in r.output
