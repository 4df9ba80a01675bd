"""Typed-in LP dynamics in the mean-field game (issue 14, item 4): LPType(dynamics=...), `gelav mfg --drift
--diffusion`, and `dynamics = {kind = "custom", ...}` in [[mfg.types]]."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
from click.testing import CliRunner

from gelav.cli import main
from gelav.mfg import SCENARIOS, LPType, Market, MFGModel, Numerics, solve
from gelav.tasks._models import custom_process

OU = custom_process("k*(m - x)", "s", parameters={"k": 0.45, "m": 1.0, "s": 0.32})


@pytest.mark.parametrize("name", ["crisis", "fire-sale"])
def test_typed_ou_dynamics_equal_the_builtin_type(name: str) -> None:
    base = SCENARIOS[name].model
    typed = replace(base, types=tuple(replace(t, dynamics=OU) for t in base.types))
    num = Numerics(n_cells=40, n_steps=40, domain=(-4.0, 3.0))  # the same grid: the same scheme to rounding
    a, b = solve(base, numerics=num), solve(typed, numerics=num)
    assert np.max(np.abs(a.price - b.price)) < 1e-12
    assert np.max(np.abs(a.value0 - b.value0)) < 1e-12
    assert np.max(np.abs(a.cumulative_exits - b.cumulative_exits)) < 1e-12


def test_nonlinear_dynamics_population_agrees_with_monte_carlo() -> None:
    # dL = (a - L^3) dt + s dW with no reason to sell (no liquidity cost, no crowding): the holders are the
    # Fokker–Planck solution of the typed-in SDE; their mean at T against Euler Monte Carlo
    from gelav.mc.montecarlo import simulate

    dyn = custom_process("a - x^3", "s", parameters={"a": 1.0, "s": 0.5})
    model = MFGModel((LPType(initial=-0.5, liquidity_cost=0.0, dynamics=dyn),),
                     Market(distress_impact=0.0, flow_impact=0.0, horizon=1.0))
    eq = solve(model, numerics=Numerics(n_cells=300, n_steps=200, domain=(-3.0, 3.0)), no_feedback=False)
    assert eq.cumulative_exits[0, -1] < 1e-12 and eq.diagnostics["mass_balance_error"] < 1e-12
    x = eq.grid.nodes
    p = eq.density[0, -1]
    mean_fp = float(p @ x / p.sum())
    paths = simulate(dyn, -0.5, 1.0, 400, 40_000, seed=11, workers=1)
    mc = paths.mean()
    # sampling band 4 s.e. (s.e. 0.002); the PDE's error is far below it (150/300/600 cells: 0.45885, 0.45967,
    # 0.45988), and so is Euler's weak bias at dt = 1/400 (1600 steps: 0.4590 ± 0.002 against 0.4605 ± 0.002)
    assert abs(mc.value - mean_fp) < 4 * mc.stderr, (mc.value, mc.stderr, mean_fp)


def test_cli_and_toml_typed_dynamics_same_numbers_as_python(tmp_path) -> None:  # type: ignore[no-untyped-def]
    cfg = tmp_path / "s.toml"
    cfg.write_text('[mfg]\npreset = "crisis"\n[mfg.numerics]\nn_cells = 40\nn_steps = 40\ndomain = [-4.0, 3.0]\n'
                   '[[mfg.types]]\ninitial = { normal = [-2.0, 0.3] }\n'
                   'dynamics = { kind = "custom", drift = "k*(m - x)", diffusion = "s", '
                   "parameters = { k = 0.45, m = 1.0, s = 0.32 } }\n")
    r = CliRunner().invoke(main, ["mfg", "--config", str(cfg), "--json"])
    assert r.exit_code == 0, r.output
    toml_exits = json.loads(r.output)["types"][0]["total_exits"]
    r = CliRunner().invoke(main, ["mfg", "--scenario", "crisis", "--drift", "k*(m - x)", "--diffusion", "s",
                                  "--param", "k=0.45", "--param", "m=1", "--param", "s=0.32", "--n-cells", "40",
                                  "--n-steps", "40", "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["converged"] and json.loads(r.output)["residual"] < 1e-8
    eq = solve(SCENARIOS["crisis"].model, numerics=Numerics(n_cells=40, n_steps=40, domain=(-4.0, 3.0)))
    assert toml_exits == pytest.approx(float(eq.cumulative_exits[0].max()), abs=1e-10)


def test_typed_dynamics_bad_input(tmp_path) -> None:  # type: ignore[no-untyped-def]
    r = CliRunner().invoke(main, ["mfg", "--scenario", "calm", "--drift", "x", "--diffusion", "1"])
    assert r.exit_code == 2 and "explicit `initial` law" in r.output
    cfg = tmp_path / "s.toml"
    cfg.write_text('[[mfg.types]]\ninitial = -0.5\ndynamics = { kind = "ou" }\n')
    r = CliRunner().invoke(main, ["mfg", "--config", str(cfg)])
    assert r.exit_code == 2 and "`dynamics`" in r.output
    with pytest.raises(TypeError, match="`dynamics`"):
        LPType(initial=-0.5, dynamics="a - x")
