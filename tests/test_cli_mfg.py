"""`gelav mfg` command (issue 6)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from gelav.cli import main


def test_mfg_json_preset() -> None:
    r = CliRunner().invoke(main, ["mfg", "--scenario", "crisis", "--n-cells", "40", "--n-steps", "40", "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    t = out["types"][0]
    assert out["converged"] and out["residual"] < 1e-8
    assert out["mass_balance_error"] < 1e-12
    assert t["discount_worst"] >= t["discount_now"] > t["no_feedback_discount_now"]
    assert 0 < t["total_exits"] < t["no_feedback_exits"]
    # issue 14: the default states are where the starting mass N(-2, 0.3^2) is (its 10/50/90 % quantiles),
    # no longer -0.5, 0, 1 where the crisis preset puts nobody
    assert [float(v) for v in t["values"]] == pytest.approx([-2 - 1.2816 * 0.3, -2.0, -2 + 1.2816 * 0.3], abs=0.1)  # half a cell
    assert out["at"] == [float(v) for v in t["values"]]
    # the paths: price, exit flow, selling pressure, exit boundary per type, holders
    p = out["paths"]["LP"]
    n = out["n_steps"]
    assert len(p["price"]) == len(p["exit_flow"]) == len(out["t_mid"]) == n
    assert len(p["boundary"]) == len(p["holders"]) == len(out["pressure"]) == len(out["t"]) == n + 1
    assert "densities" not in out and len(out["equilibria"]) == out["n_equilibria"] == 1


def test_mfg_table_config_and_plots(tmp_path) -> None:  # type: ignore[no-untyped-def]
    cfg = tmp_path / "s.toml"
    cfg.write_text('[mfg]\npreset = "heterogeneous"\n[mfg.numerics]\nn_cells = 40\nn_steps = 40\n')
    r = CliRunner().invoke(main, ["mfg", "--config", str(cfg), "--plot", str(tmp_path / "figs"), "--no-progress",
                                  "--at", "-1,1"])
    assert r.exit_code == 0, r.output
    assert "discount" in r.output and "pension" in r.output and "iterations" in r.output
    figs = sorted(p.name for p in (tmp_path / "figs").iterdir())
    assert "heterogeneous_price.png" in figs and "heterogeneous_density_pension.png" in figs


def test_mfg_bad_input_exit_codes(tmp_path) -> None:  # type: ignore[no-untyped-def]
    runner = CliRunner()
    r = runner.invoke(main, ["mfg", "--scenario", "calm", "--config", str(tmp_path / "x.toml")])
    assert r.exit_code == 2 and "not both" in r.output
    r = runner.invoke(main, ["mfg", "--scenario", "nope"])
    assert r.exit_code == 2 and "Unknown scenario" in r.output
    cfg = tmp_path / "bad.toml"
    cfg.write_text("[mfg.market]\nflow_impact = -2\n")
    r = runner.invoke(main, ["mfg", "--config", str(cfg)])
    assert r.exit_code == 2 and "`flow_impact`" in r.output
    # regressions: NaN / empty --at printed nan rows, states off the grid were silently clamped
    for at in ("nan", ""):
        r = runner.invoke(main, ["mfg", "--at", at])
        assert r.exit_code == 2 and "`--at` must be finite numbers" in r.output
    r = runner.invoke(main, ["mfg", "--scenario", "crisis", "--n-cells", "40", "--n-steps", "40", "--at", "1e9"])
    assert r.exit_code == 2 and "`L` = 1e+09 must be a finite liquidity state on the grid" in r.output
    assert "`at`: " in r.output  # the option is named (the grid is known only after the solve)



def test_mfg_numerical_failure_exit_code_1(tmp_path) -> None:  # type: ignore[no-untyped-def]
    cfg = tmp_path / "s.toml"
    cfg.write_text('[mfg]\npreset = "crisis"\n[mfg.numerics]\nn_cells = 30\nn_steps = 30\n'
                   '[mfg.solver]\nmethod = "picard"\nmax_iter = 2\n')
    r = CliRunner().invoke(main, ["mfg", "--config", str(cfg), "--quiet"])
    assert r.exit_code == 1 and "did not reach" in r.output


def test_mfg_json_densities_all_equilibria_and_export(tmp_path) -> None:  # type: ignore[no-untyped-def]
    # issue 14: with several equilibria every one is listed (values and paths), densities on request
    r = CliRunner().invoke(main, ["mfg", "--scenario", "thin-market", "--n-cells", "30", "--n-steps", "30", "--json",
                                  "--densities", "--export", str(tmp_path / "e.csv")])
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert out["n_equilibria"] == len(out["equilibria"]) == 2
    exits = sorted(e["types"][0]["total_exits"] for e in out["equilibria"])
    assert exits[0] < 0.01 < 0.3 < exits[1]  # the no-trade market and the selling wave
    d = out["densities"]["LP"]
    assert len(d) == out["n_steps"] + 1 and len(d[0]) == len(out["L"])
    # holder densities integrate to the holders (trapezoid-free: node masses / volumes * volumes)
    L = out["L"]
    h = L[1] - L[0]
    assert sum(d[0]) * h == pytest.approx(1.0, abs=0.02)
    files = sorted(p.name for p in tmp_path.iterdir())
    assert "e_paths_LP.csv" in files and "e_paths_LP_eq2.csv" in files and "e_nodes_LP.csv" in files
