"""Tests for `gelav ito` (symbolic Itô calculus from the command line)."""

from __future__ import annotations

import json

import pytest
import sympy as sp
from click.testing import CliRunner

from gelav.cli import main

t, x = sp.symbols("t x", real=True)


def run(*args: str):
    return CliRunner().invoke(main, ["ito", *args])


def parse(s: str) -> sp.Expr:
    """Read back the command's own SymPy output (trusted) with real symbols."""
    e = sp.sympify(s)
    return e.xreplace({s_: sp.Symbol(s_.name, real=True) for s_ in e.free_symbols})


def test_seed002_exp_transform_text():
    res = run("--drift", "mu0", "--diffusion", "sigma0", "--transform", "exp(x)", "--plain")
    assert res.exit_code == 0, res.output
    for title in ("Itô's lemma", "Generator", "Fokker–Planck equation", "Feynman–Kac equation", "Transformed process"):
        assert title in res.output
    assert "dY = y*(2*mu0 + sigma0**2)/2 dt + sigma0*y dW" in res.output


def test_json_expressions_are_right():
    res = run("--drift", "mu0", "--diffusion", "sigma0", "--transform", "exp(x)", "--json")
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    mu0, s0 = sp.symbols("mu0 sigma0", real=True)
    assert sp.simplify(parse(out["ito_lemma"]["drift"]) - (mu0 + s0**2 / 2) * sp.exp(x)) == 0
    assert sp.simplify(parse(out["ito_lemma"]["diffusion"]) - s0 * sp.exp(x)) == 0
    assert out["parameters"] == ["mu0", "r", "sigma0"]
    assert out["fokker_planck"]["latex"].startswith(r"\frac{\partial}{\partial t} p")
    assert "feynman_kac" in out and out["feynman_kac"]["rhs"] == "0"


def test_feynman_kac_with_rate_and_source_json():
    res = run("--drift", "kappa*(theta - x)", "--diffusion", "sigma*sqrt(x)", "--rate", "x", "--source", "1", "--json")
    assert res.exit_code == 0, res.output
    fk = json.loads(res.output)["feynman_kac"]
    u = sp.Function("u")(t, x)
    k, th, s = sp.symbols("kappa theta sigma", real=True)
    expected = u.diff(t) + k * (th - x) * u.diff(x) + s**2 * x / 2 * u.diff(x, 2) - x * u + 1
    got = sp.sympify(fk["lhs"], locals={"u": sp.Function("u"), "t": t, "x": x, "kappa": k, "theta": th, "sigma": s})
    assert sp.simplify(got - expected) == 0


def test_latex_output():
    res = run("--drift", "-x", "--diffusion", "1", "--transform", "x^2", "--latex")
    assert res.exit_code == 0, res.output
    assert r"\frac{\partial}{\partial t}" in res.output and r"\mathcal{L}" in res.output
    assert "dW_t" in res.output


def test_non_invertible_transform_is_reported_not_fatal():
    res = run("--drift", "0", "--diffusion", "1", "--transform", "x^2")
    assert res.exit_code == 0
    assert "no transformed process" in res.output


@pytest.mark.parametrize(
    ("option", "bad"),
    [
        ("--drift", "__import__('os').system('echo pwned')"),
        ("--drift", "x.__class__.__bases__"),
        ("--diffusion", "(lambda: 1)()"),
        ("--transform", "exec('import os')"),
        ("--drift", "[c for c in ().__class__.__base__.__subclasses__()]"),
        ("--diffusion", "open('/etc/passwd')"),
        ("--transform", "globals()"),
        ("--drift", "9**9**9**9"),
        ("--rate", "__builtins__"),
        ("--source", "x if t else 0"),
        ("--drift", "x;y"),
    ],
)
def test_malicious_strings_rejected_with_exit_code_2(option, bad):
    args = {"--drift": "x", "--diffusion": "1"}
    args[option] = bad
    flat = [v for kv in args.items() for v in kv]
    res = run(*flat)
    assert res.exit_code == 2, res.output
    assert "not a mathematical expression" in res.output or "not a valid expression" in res.output
    assert res.output.startswith("Error: `")


def test_missing_option_and_help():
    assert run("--drift", "x").exit_code == 2
    res = run("--help")
    assert res.exit_code == 0 and "--transform" in res.output


def test_plot_writes_equation_figure(tmp_path):
    pytest.importorskip("matplotlib")
    res = run("--drift", "kappa*(theta - x)", "--diffusion", "sigma*sqrt(x)", "--transform", "log(x)",
              "--json", "--plot", str(tmp_path))
    assert res.exit_code == 0, res.output
    png = tmp_path / "ito_equations.png"
    assert png.exists() and png.stat().st_size > 5000


# ---------------------------------------------------------------------------- issue 17, item 7
def test_default_output_is_pretty_unicode_in_the_process_variable():
    res = run("--var", "Y", "--drift", "mu*Y", "--diffusion", "sigma*Y")
    assert res.exit_code == 0, res.output
    assert "dY = " in res.output and "dX" not in res.output
    assert "∂" in res.output and "Derivative(" not in res.output  # sympy.pretty, not SymPy source text
    plain = run("--var", "Y", "--drift", "mu*Y", "--diffusion", "sigma*Y", "--plain")
    assert "dY = Y*mu dt + Y*sigma dW" in plain.output and "Derivative(" in plain.output


def test_exit_time_ode_solution_and_default_limits_for_brownian_motion():
    res = run("--drift", "0", "--diffusion", "sigma", "--assume", "sigma>0", "--exit-time", "a,b", "--json")
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    a, b, s = sp.symbols("a b sigma", real=True)
    assert sp.simplify(parse(out["exit_time"]["expression"]) - (x - a) * (b - x) / s**2) == 0
    assert out["exit_time"]["closed_form"] is True
    assert out["exit_time_ode"]["rhs"] == "-1"
    # default limits: each end point to the edge of the state space (the real line): infinite
    assert out["exit_time_limit_a"]["expression"] == "oo" and out["exit_time_limit_b"]["expression"] == "oo"


@pytest.mark.slow
def test_seed002_a_to_zero_limit_is_clean_under_an_assumption():
    args = ["--var", "Y", "--drift", "(mu0 + sigma0^2/2)*Y", "--diffusion", "sigma0*Y", "--exit-time", "a,b",
            "--limit", "sigma0=1", "--limit", "mu0->0", "--limit", "b=1", "--limit", "a->0+"]
    res = run(*args, "--assume", "0<Y<1")
    assert res.exit_code == 0, res.output
    last = res.output.split("then a → 0⁺:")[1]
    assert "∞" in last and "sign" not in last
    assert "-(log(Y) - log(a))⋅(log(Y) - log(b))" in res.output  # the mu0 -> 0 step, pretty
    res = run(*args, "--json")  # without the assumption SymPy cannot decide the sign of log(Y)
    out = json.loads(res.output)
    assert "sign" in out["exit_time_step_4"]["expression"]


def test_pdepe_form_of_the_reversed_feynman_kac_equation():
    res = run("--var", "Y", "--drift", "0", "--diffusion", "Y", "--rate", "0", "--pdepe", "--json")
    assert res.exit_code == 0, res.output
    f = json.loads(res.output)["pdepe"]
    Y, dvdx = sp.symbols("Y dvdx", real=True)
    assert parse(f["c"]) == 1
    assert sp.simplify(parse(f["f"]) - Y**2 * dvdx / 2) == 0
    assert sp.simplify(parse(f["s"]) + Y * dvdx) == 0  # -v_Y d(Y²/2)/dY
    res = run("--var", "Y", "--drift", "0", "--diffusion", "Y", "--pdepe")
    assert "pdepe form" in res.output and "dvdx" in res.output


def test_config_file_and_quiet(tmp_path):
    cfg = tmp_path / "ito.toml"
    cfg.write_text('[ito]\ndrift = "-x"\ndiffusion = "1"\nexit_time = "-1,1"\n')
    res = run("--config", str(cfg), "--json")
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert sp.simplify(parse(out["process"]["drift"]) + x) == 0 and "exit_time" in out
    assert run("--config", str(cfg), "-q").output == ""
    cfg.write_text('[ito]\ndrift = "-x"\ndiffusion = "1"\nvolatility = "2"\n')
    res = run("--config", str(cfg))
    assert res.exit_code == 2 and "volatility" in res.output


@pytest.mark.parametrize(("args", "option"), [
    (["--drift", "0", "--diffusion", "1", "--assume", "x<y"], "--assume"),
    (["--drift", "0", "--diffusion", "1", "--assume", "1<x<0"], "--assume"),
    (["--drift", "0", "--diffusion", "1", "--exit-time", "a"], "--exit-time"),
    (["--drift", "0", "--diffusion", "1", "--exit-time", "1,0"], "--exit-time"),
    (["--drift", "0", "--diffusion", "1", "--exit-time", "a,b", "--limit", "a to 0"], "--limit"),
    (["--drift", "0", "--diffusion", "1", "--exit-time", "a,b", "--limit", "z->0"], "--limit"),
    (["--drift", "0", "--diffusion", "1", "--limit", "a->0"], "--limit"),
    (["--drift", "0", "--diffusion", "1", "--var", "exp"], "--var"),
    (["--diffusion", "1"], "--drift"),
])
def test_bad_options_exit_2_naming_the_option(args, option):
    res = run(*args)
    assert res.exit_code == 2, res.output
    assert option in res.output
