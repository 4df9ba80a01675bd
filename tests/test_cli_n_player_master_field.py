"""`gelav n-player` and `gelav master-field` (issue 14, item 3): the same numbers as the Python API."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
from click.testing import CliRunner

from gelav.cli import main
from gelav.mfg import SCENARIOS, Numerics, master_field, n_player, solve


def test_n_player_cli_matches_python_api(tmp_path) -> None:  # type: ignore[no-untyped-def]
    cfg = tmp_path / "s.toml"
    cfg.write_text('[mfg]\npreset = "crisis"\n[mfg.numerics]\nn_cells = 30\nn_steps = 30\nscheme = "euler"\n'
                   "[n_player]\nn_players = [20, 200]\nreplications = 20\ngain_replications = 2\nseed = 7\n")
    r = CliRunner().invoke(main, ["n-player", "--config", str(cfg), "--json", "--export", str(tmp_path / "n.csv")])
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    eq = solve(SCENARIOS["crisis"].model, numerics=Numerics(n_cells=30, n_steps=30, scheme="euler"),
               no_feedback=False)
    res = n_player(eq, (20, 200), replications=20, gain_replications=2, seed=7)
    assert out["n_players"] == [20, 200]
    np.testing.assert_allclose(out["price_gap"], res.price_gap, rtol=1e-12)
    np.testing.assert_allclose(out["gain"], res.gain, rtol=1e-12)
    assert out["rate_price"] == res.rate_price
    assert (tmp_path / "n.csv").read_text().startswith("N,price_gap")
    # the table prints the same numbers
    r = CliRunner().invoke(main, ["n-player", "--config", str(cfg)])
    assert r.exit_code == 0 and f"{res.price_gap[0]:.3e}" in r.output


def test_master_field_cli_matches_python_api(tmp_path) -> None:  # type: ignore[no-untyped-def]
    r = CliRunner().invoke(main, ["master-field", "--scenario", "stress", "--means", "-1,0", "--spreads", "0.3",
                                  "--n-cells", "30", "--n-steps", "30", "--at", "-0.5,0", "--json", "--export",
                                  str(tmp_path / "m.nc")])
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    mf = master_field(SCENARIOS["stress"].model, means=[-1.0, 0.0], spreads=[0.3],
                      numerics=Numerics(n_cells=30, n_steps=30), workers=1)
    np.testing.assert_allclose(out["values"], mf.values, rtol=1e-12)
    np.testing.assert_allclose(out["price0"], mf.price0, rtol=1e-12)
    row = out["rows"][0]
    assert row["value_at_-0.5"] == float(mf.value(-0.5, -1.0, 0.3))
    assert (tmp_path / "m.nc").exists()


def test_bad_input_exit_code_2(tmp_path) -> None:  # type: ignore[no-untyped-def]
    runner = CliRunner()
    r = runner.invoke(main, ["n-player", "--n", "ten"])
    assert r.exit_code == 2 and "`--n`" in r.output
    # repeated sizes gave a rate through one N (exit 0); the errors named a non-existent --n-players
    for ns in ("10,10", "1"):
        r = runner.invoke(main, ["n-player", "--n", ns, "--replications", "5", "--gain-replications", "0",
                                 "--n-cells", "20", "--n-steps", "20"])
        assert r.exit_code == 2 and "(option --n)" in r.output and "--n-players" not in r.output, r.output
        assert "rate" not in r.output.replace("the rate in N", "")
    r = runner.invoke(main, ["master-field", "--spreads", "0"])
    assert r.exit_code == 2 and "`spreads`" in r.output
    r = runner.invoke(main, ["master-field", "--means", "a"])
    assert r.exit_code == 2 and "`--means`" in r.output
    # a huge spread exited 1 blaming flow_impact/absorption_time; unsorted axes were used as given
    r = runner.invoke(main, ["master-field", "--means", "-1", "--spreads", "1e6"])
    assert r.exit_code == 2 and "`spreads` must be <=" in r.output and "(option --spreads)" in r.output
    r = runner.invoke(main, ["master-field", "--means", "0,-1", "--spreads", "0.3"])
    assert r.exit_code == 2 and "`means` must be strictly increasing" in r.output and "(option --means)" in r.output
    cfg = tmp_path / "s.toml"
    cfg.write_text("[n_player]\nreplicates = 3\n")
    r = runner.invoke(main, ["n-player", "--config", str(cfg)])
    assert r.exit_code == 2 and "replicates" in r.output


def test_master_field_warm_start_option(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """`--warm-start newton` (fewest fixed-point evaluations) tabulates the same field as the default to the
    fixed-point tolerance, and counts fewer evaluations; a bad value in the file is a usage error."""
    args = ["master-field", "--means", "-1,0,1", "--spreads", "0.3", "--n-cells", "30", "--n-steps", "30",
            "--json"]
    runs = {}
    for ws in ("neighbour", "newton"):
        r = CliRunner().invoke(main, [*args, "--warm-start", ws])
        assert r.exit_code == 0, r.output
        runs[ws] = json.loads(r.output)
    for a, b in zip(runs["neighbour"]["rows"], runs["newton"]["rows"], strict=True):
        assert abs(a["value_at_0"] - b["value_at_0"]) < 1e-7 and abs(a["price0"] - b["price0"]) < 1e-7
    mf = master_field(SCENARIOS["stress"].model, means=[-1.0, 0.0, 1.0], spreads=[0.3],
                      numerics=dataclasses.replace(SCENARIOS["stress"].numerics, n_cells=30, n_steps=30), warm_start="newton")
    cold = master_field(SCENARIOS["stress"].model, means=[-1.0, 0.0, 1.0], spreads=[0.3],
                        numerics=dataclasses.replace(SCENARIOS["stress"].numerics, n_cells=30, n_steps=30), warm_start="off")
    assert mf.diagnostics["evaluations"] < cold.diagnostics["evaluations"]
    cfg = tmp_path / "s.toml"
    cfg.write_text('[master_field]\nwarm_start = "sideways"\n')
    r = CliRunner().invoke(main, ["master-field", "--config", str(cfg)])
    assert r.exit_code == 2 and "warm_start" in r.output


def test_master_field_bad_options_exit_code_2(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Every master-field option out of its range is exit 2 naming it, before any solve: `--workers -1`
    and `--t0 -1` used to run (exit 0); NaN `--t0` named the internal `start`. `--workers 0` solves here
    (as `build_report(workers=0)`)."""
    runner = CliRunner()
    small = ["master-field", "--means", "0", "--spreads", "0.4", "--n-cells", "20", "--n-steps", "20"]
    cases = {("--workers", "-1"): "`workers`", ("--t0", "-1"): "`t0`", ("--t0", "nan"): "`t0`",
             ("--t0", "inf"): "`t0`", ("--t0", "5"): "`t0`", ("--means", "nan"): "`--means`",
             ("--means", ","): "`--means`", ("--spreads", "inf"): "`--spreads`", ("--spreads", "-0.1"): "`spreads`",
             ("--at", "nan"): "`--at`", ("--at", ""): "`--at`", ("--n-cells", "0"): "`n_cells`",
             ("--n-cells", "-3"): "`n_cells`", ("--n-steps", "0"): "`n_steps`", ("--n-steps", "-1"): "`n_steps`"}
    for (opt, val), name in cases.items():
        r = runner.invoke(main, [*small, opt, val])
        assert r.exit_code == 2 and name in r.output, (opt, val, r.output)
    cfg = tmp_path / "s.toml"
    for line, name in (("workers = -2", "`workers`"), ("t0 = -0.5", "`t0`"), ("means = []", "`means`"),
                       ('t0 = "soon"', "`t0`")):
        cfg.write_text(f"[master_field]\n{line}\n")
        r = runner.invoke(main, ["master-field", "--config", str(cfg)])
        assert r.exit_code == 2 and name in r.output, (line, r.output)
    r = runner.invoke(main, [*small, "--workers", "0", "--json"])
    assert r.exit_code == 0, r.output
    one = runner.invoke(main, [*small, "--workers", "1", "--json"])
    assert json.loads(r.output)["values"] == json.loads(one.output)["values"]
