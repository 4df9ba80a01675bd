"""The grid indicator of L*(t) (ExitBoundary.grid_check, on by default in the exit-boundary task and
command): it covers the boundary's error against a fine grid, and marks the times where the exit region
exists on one grid only as not resolved."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from click.testing import CliRunner

from gelav import OrnsteinUhlenbeck, exit_boundary, tasks
from gelav.cli import main


def run(*args: object):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


@pytest.mark.parametrize(("carry", "share"), [({}, 0.37), ({"nav_growth": 0.05}, 0.99), ({"discount": 0.12}, 0.88)])
def test_indicator_covers_the_error_against_a_fine_grid(carry: dict, share: float) -> None:
    """The defaults, and the cases closest to the indicator of 13 parameter sets: a boundary near the kink
    of the carry at L = 0 (nav_growth 0.05: the smooth fit falls back to nodes) and a higher rate. ``share``:
    the largest error over the indicator, as docs/valuation.md quotes it."""
    eb = exit_boundary(**carry)
    chk = eb.grid_check()
    assert chk["n_cells"] == [300, 150] and chk["n_steps"] == [400, 200] and not chk["unresolved"]
    fine = exit_boundary(n_cells=2400, n_steps=3200, **carry)
    err = np.abs(np.asarray(chk["boundary"]) - np.asarray(fine.boundary(chk["times"])))
    assert np.all(np.isfinite(err))
    assert err.max() <= chk["indicator"]
    assert round(err.max() / chk["indicator"], 2) == share
    assert chk["indicator"] == pytest.approx(np.nanmax(chk["difference"]), rel=0, abs=0)
    assert chk["times"] == pytest.approx([k for k in range(10)])


def test_region_on_one_grid_only_is_not_resolved() -> None:
    """κ = 1: the exit region appears with about 7.15 years left, a little earlier on 300 cells than on 150."""
    eb = exit_boundary(OrnsteinUhlenbeck(1.0, 1.0, 0.32))
    chk = eb.grid_check(times=np.linspace(2.0, 3.0, 101))
    assert chk["indicator"] == math.inf and chk["unresolved"]
    assert all(2.8 < t < 2.9 for t in chk["unresolved"])


def test_task_reports_the_indicator() -> None:
    rep = tasks.exit_boundary(None)
    key = "grid indicator of L*(t): largest |L*(300 cells) − L*(150)|"
    assert rep.key_numbers()[key] == rep.check["indicator"] > 0
    assert rep.to_dict()["boundary_check"]["indicator"] == rep.check["indicator"]
    assert tasks.exit_boundary(None, check=False).check is None
    rep = tasks.exit_boundary(None, kappa=1.0, fund_life=7.94)
    assert rep.key_numbers()["exit boundary L*(0): sell when L ≤ L*"] == "no exit region"
    assert not rep.resolved(0.794) and rep.resolved(0.0)
    assert rep.key_numbers()[key] == "not resolved"


def test_command(tmp_path) -> None:
    r = run("exit-boundary")
    assert r.exit_code == 0
    text = " ".join(r.output.split())
    assert "L*(t) grid indicator ± 0.018 (largest |L*(300 cells) − L*(150)| over the rows" in text
    assert "grid indicator" not in run("exit-boundary", "--no-check").output
    out = json.loads(run("exit-boundary", "--json").output)
    assert out["boundary_check"]["indicator"] == pytest.approx(0.018186, abs=1e-6)
    r = run("exit-boundary", "--kappa", "1", "--fund-life", "7.94")
    text = " ".join(r.output.split())
    assert r.exit_code == 0 and "│ 0.794 │ 7.146 │ not resolved │" in text
    assert "not resolved: the exit region differs between 300 and 150 cells at t = 0.794 (raise --cells)" in text
    assert "nan" not in r.output  # no boundary at t = 0: no smooth-pasting figure
    cfg = tmp_path / "e.toml"
    cfg.write_text("[exit_boundary]\ncheck = false\n")
    assert "boundary_check" not in json.loads(run("exit-boundary", "--config", cfg, "--json").output)
