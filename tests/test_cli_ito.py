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
    res = run("--drift", "mu0", "--diffusion", "sigma0", "--transform", "exp(x)")
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
