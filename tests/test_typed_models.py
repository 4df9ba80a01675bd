"""Any model typed in (issue 14, item 4): one builder (gelav.tasks._models) behind stress and exit-time,
on the command line (--drift --diffusion --param --var --domain) and in TOML (kind = "custom")."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from gelav import tasks
from gelav.cli import main
from gelav.processes import CIR, OrnsteinUhlenbeck
from gelav.tasks._models import build_process, custom_process


def run(*args: str) -> tuple[int, str]:
    r = CliRunner().invoke(main, list(args))
    return r.exit_code, r.output


def test_typed_ou_equals_builtin_stress() -> None:
    typed = custom_process("k*(m - y)", "s", var="y", parameters={"k": 0.45, "m": 1.0, "s": 0.32})
    kw = {"x0": -0.5, "horizon": 2.0, "threshold": -0.5, "methods": ["analytic", "pde"]}
    a = tasks.stress(process=typed, **kw).result.results
    b = tasks.stress(process=OrnsteinUhlenbeck(0.45, 1.0, 0.32), **kw).result.results
    assert a["analytic"].probability == pytest.approx(b["analytic"].probability, rel=1e-12)
    # the same PDE on the same grid: equal to rounding
    assert a["pde"].probability == pytest.approx(b["pde"].probability, rel=1e-9, abs=1e-14)


def test_typed_cir_equals_builtin_exit_time() -> None:
    table = {"kind": "custom", "drift": "k*(m - x)", "diffusion": "s*sqrt(x)", "domain": [0.0, float("inf")],
             "parameters": {"k": 1.5, "m": 0.8, "s": 0.6}}
    kw = {"a": 0.2, "b": 1.5, "x0": [0.5, 1.0], "n_cells": 200}
    typed = tasks.exit_time({"process": table}, **kw).data
    built = tasks.exit_time(process=CIR(1.5, 0.8, 0.6), **kw).data
    for key in ("p_upper_first", "mean_exit_time"):
        assert typed[key] == pytest.approx(built[key], rel=1e-9)


def test_nonlinear_pde_agrees_with_monte_carlo() -> None:
    """dX = (a − X³)dt + σdW has no exact law: the Fokker–Planck answer against Euler Monte Carlo."""
    from gelav.mc.montecarlo import stress_probability

    p = build_process({"kind": "custom", "drift": "a - x^3", "diffusion": "s", "parameters": {"a": 1.0, "s": 0.5}})
    rep = tasks.stress(process=p, x0=0.0, horizon=1.0, threshold=0.5, methods=["pde"], cells=400)
    pde = rep.result.results["pde"].probability
    mc = stress_probability(p, 0.0, 1.0, 0.5, n_paths=100_000, n_steps=400, seed=7)
    # Euler's weak error at dt = 1/400 is O(1e-3) of the s.e. scale here; 4 s.e. is the sampling band
    assert abs(mc.value - pde) < 4 * mc.stderr, (mc.value, mc.stderr, pde)


def test_cli_typed_in_json_and_exact_law_skipped() -> None:
    code, out = run("stress", "--drift", "a - x^3", "--diffusion", "s", "--param", "a=1", "--param", "s=0.5",
                    "--x0", "0", "--horizon", "1", "--threshold", "0.5", "--cells", "200", "--json")
    assert code == 0, out
    d = json.loads(out)
    assert "pde" in d["methods"] and "analytic" not in d["methods"]
    code, out = run("exit-time", "--drift", "0.5*x", "--diffusion", "x", "--domain", "0,inf", "--json")
    assert code == 0, out
    built = tasks.exit_time().data  # the default: the same GBM (seed 002)
    assert json.loads(out)["p_upper_first"] == pytest.approx(built["p_upper_first"], rel=1e-9)


@pytest.mark.parametrize(("args", "named"), [
    (["--drift", "__import__('os')", "--diffusion", "1"], "drift"),
    (["--drift", "x", "--diffusion", "exec(1)"], "diffusion"),
    (["--drift", "x"], "--diffusion"),
    (["--drift", "a*x", "--diffusion", "1"], "--param a"),
    (["--drift", "x", "--diffusion", "1", "--param", "a"], "--param"),
    (["--drift", "x", "--diffusion", "1", "--domain", "1,0"], "domain"),
    (["--drift", "x", "--diffusion", "log(x)", "--domain", "-2,-1"], "diffusion"),
])
def test_hostile_expressions_exit_2(args: list[str], named: str) -> None:
    code, out = run("stress", *args)
    assert code == 2, out
    assert named in out and "Traceback" not in out


def test_stress_lists_the_skipped_methods_with_the_reason() -> None:
    # issue 14, item 4: the exact-law method is listed as skipped, with the reason, in the JSON and the table
    args = ("stress", "--drift", "a - x^3", "--diffusion", "s", "--param", "a=1", "--param", "s=0.5", "--x0", "0",
            "--horizon", "1", "--threshold", "0.5", "--cells", "200")
    code, out = run(*args, "--json")
    assert code == 0, out
    d = json.loads(out)
    assert d["skipped"]["analytic"] == "no exact transition law for this model" and "mc" in d["skipped"]
    code, out = run(*args)
    assert code == 0 and "skipped" in out and "no exact transition" in out
    assert "skipped" not in json.loads(run("stress", "--method", "analytic", "--json")[1])  # the OU has its law
