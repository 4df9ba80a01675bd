"""``gelav mfg --game systemic-risk``: JSON against the closed form, plots, bad input exits 2."""

from __future__ import annotations

import json

from click.testing import CliRunner

from gelav.cli import main as cli

ARGS = ["mfg", "--game", "systemic-risk", "--n-cells", "60", "--n-steps", "30"]


def test_json_reports_the_closed_form_and_converges(tmp_path):
    r = CliRunner().invoke(cli, [*ARGS, "--json", "--a", "0.8", "--q", "0.3", "--epsilon", "0.5",
                                 "--plot", str(tmp_path)])
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert out["parameters"]["a"] == 0.8 and out["parameters"]["epsilon"] == 0.5
    # the grid's second-order error: well inside a few per cent of the cost on this coarse grid
    assert abs(out["population_cost"] - out["population_cost_exact"]) < 0.05 * out["population_cost_exact"]
    assert out["residual"] < 1e-10 and out["duality_error"] < 1e-13
    assert (tmp_path / "systemic-risk_overview.png").exists()


def test_config_control_table(tmp_path):
    cfg = tmp_path / "game.toml"
    cfg.write_text("[control]\na = 0.2\nhorizon = 2.0\nn_cells = 50\nn_steps = 20\n")
    r = CliRunner().invoke(cli, ["mfg", "--game", "systemic-risk", "--config", str(cfg), "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert out["parameters"]["horizon"] == 2.0 and out["n_nodes"] == 51


def test_table_output_and_bad_input():
    r = CliRunner().invoke(cli, ARGS)
    assert r.exit_code == 0, r.output
    assert "closed form" in r.output
    bad = CliRunner().invoke(cli, [*ARGS, "--q", "2", "--epsilon", "1"])
    assert bad.exit_code == 2 and "`--q`" in bad.output
    bad = CliRunner().invoke(cli, [*ARGS, "--sigma", "-1"])
    assert bad.exit_code == 2 and "`--sigma`" in bad.output
    # a negative tolerance was told "|tol| must be <= 0.1"
    bad = CliRunner().invoke(cli, [*ARGS, "--tol", "-1"])
    assert bad.exit_code == 2 and "`--tol` must be > 0, got -1.0" in bad.output and "<=" not in bad.output
    bad = CliRunner().invoke(cli, [*ARGS, "--scenario", "calm"])
    assert bad.exit_code == 2
    bad = CliRunner().invoke(cli, [*ARGS, "--method", "newton-krylov"])
    assert bad.exit_code == 2 and "`--method`" in bad.output
