"""Extreme but valid scales in the core solvers: no internal exception, no negative probability, no
variance printed as 0 (issue: no silent wrong number; found by the session-10 core audit)."""

from __future__ import annotations

import math

import pytest
from click.testing import CliRunner

from gelav import OrnsteinUhlenbeck
from gelav.cli import main
from gelav.stress import stress_test


def test_lattice_at_vanishing_mean_reversion_is_the_brownian_answer():
    # κ = 1e-308: 0.184/|M| overflowed math.ceil ("cannot convert float infinity to integer", exit 1); the
    # reversion is too slow to truncate the tree, and from x0 = c the answer is 1/2 (a Gaussian law)
    r = stress_test(OrnsteinUhlenbeck(1e-308, 1.0, 0.32), -0.5, 2.0, -0.5, methods=["lattice"])
    p = r.results["lattice"]
    assert abs(p.probability - 0.5) <= max(p.error, 1e-12)


@pytest.mark.parametrize("c, expected", [(-0.5, 0.0), (1 + 1.5 * -math.expm1(-0.9) - 1.5, 0.5), (0.5, 1.0)])
def test_analytic_law_with_an_underflowed_spread_is_a_step(c, expected):
    # σ = 1e-308: sd = 0 divided by zero (exit 1); the law is a point at the mean to float precision
    mean = 1.0 - 1.5 * math.exp(-0.9)
    c = mean if expected == 0.5 else c
    r = stress_test(OrnsteinUhlenbeck(0.45, 1.0, 1e-308), -0.5, 2.0, c, methods=["analytic"])
    assert r.results["analytic"].probability == expected


def test_a_probability_estimate_is_never_printed_below_zero():
    # σ = 1e-308 on the PDE printed P = -1.120e-157 "~ 2.1e-80": now 0 within its error, the raw value kept
    r = stress_test(OrnsteinUhlenbeck(0.45, 1.0, 1e-308), -0.5, 2.0, -0.5, methods=["pde"])
    if "pde" in r.results:
        p = r.results["pde"]
        assert 0.0 <= p.probability <= 1.0
        assert p.probability == 0.0 and p.details.get("outside_unit_interval", 0.0) <= 0.0
    out = CliRunner().invoke(main, ["stress", "--sigma", "1e-308", "--method", "pde"]).output
    assert "-1.1" not in out and "Traceback" not in out


def test_trinomial_prints_small_moments_relative_to_their_scale():
    # δy = 1e-8: the variance 1.5e-14 was printed "0 ± 0" (an absolute 1e-12 cut-off); α = 1e-308 printed nan
    r = CliRunner().invoke(main, ["trinomial", "--dy", "1e-8"])
    assert r.exit_code == 0 and "1.512e-14" in r.output
    r = CliRunner().invoke(main, ["trinomial", "--alpha", "1e-308"])
    assert r.exit_code == 0 and "nan" not in r.output and "Traceback" not in r.output


@pytest.mark.parametrize("upper", ["1e-100", "1e100"])
def test_feynman_kac_is_scale_free_where_floats_allow(upper):
    # GBM is scale-invariant: the ratio at U/2 is 0.7909 for any U; tiny and huge prices print in scientific
    # notation (they printed 0.000000, or 100-digit integers)
    r = CliRunner().invoke(main, ["feynman-kac", "--no-pdepe", "--upper", upper])
    assert r.exit_code == 0 and "0.7909" in r.output and "0.000000 " not in r.output
    assert "e-101" in r.output or "e+99" in r.output


@pytest.mark.parametrize("upper", ["1e-170", "1e-160"])
def test_feynman_kac_refuses_a_scale_where_sigma_squared_underflows(upper):
    # U = 1e-170 printed the ratio 1.0033 for 0.7909 (σ²x² subnormal near 0), exit 0 and no warning
    r = CliRunner().invoke(main, ["feynman-kac", "--no-pdepe", "--upper", upper])
    assert r.exit_code == 2 and "underflows" in r.output and "larger units" in r.output


@pytest.mark.parametrize("args", [["exit-time", "--b", "1e308"], ["feynman-kac", "--upper", "1e308"]])
def test_overflowing_states_are_refused_without_runtime_warnings(args):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        r = CliRunner().invoke(main, args)
    assert r.exit_code == 2 and "RuntimeWarning" not in r.output and "Traceback" not in r.output


def test_grid_faces_are_the_midpoints_to_the_bit_and_do_not_overflow():
    import numpy as np

    from gelav.fd.grid import Grid

    x = np.sort(np.random.default_rng(0).uniform(-5, 7, 50))
    np.testing.assert_array_equal(Grid(x).faces[1:-1], (x[1:] + x[:-1]) * 0.5)
    g = Grid(np.array([1e308, 1.5e308, 1.7e308]))
    assert np.all(np.isfinite(g.faces))


def test_tolerance_failure_says_when_a_small_estimate_is_not_validated():
    # a deep tail (P = 3.4e-21) at --tol 1e-12: "did not reach tol (last: sqra: 5e-15 ...)" read as if it had
    r = CliRunner().invoke(main, ["stress", "--threshold", "-2.5", "--tol", "1e-12", "--method", "pde"])
    assert r.exit_code == 1 and "not validated: observed order" in r.output


@pytest.mark.parametrize("drift, diffusion, family", [("k*(m-x)", "s*sqrt(x)", "cir"), ("k*x", "s*x", "gbm")])
def test_typed_models_on_a_float_domain_are_recognised_and_sampled_exactly(drift, diffusion, family):
    # the CLI passes --domain 0,inf as floats; SymPy's Float(0.0) == 0 is False, so CIR and GBM were not recognised:
    # no analytic law, and Monte Carlo took Euler steps (CIR: 0.069198 ± 2.5e-4 for 0.068482, z = +2.3 over seeds)
    import json

    from gelav.symbolic import ItoProcess

    params = {"k": "0.8", "m": "0.5", "s": "0.4"} if family == "cir" else {"k": "0.05", "s": "0.3"}
    p = ItoProcess(drift, diffusion, domain=(0.0, float("inf"))).to_process({k: float(v) for k, v in params.items()})
    assert p.family == family and p.exact_step(0.1) is not None
    args = ["stress", "--method", "mc,analytic", "--drift", drift, "--diffusion", diffusion, "--x0", "0.3",
            "--domain", "0,inf", "--threshold", "0.2", "--json"]
    for k, v in params.items():
        args += ["--param", f"{k}={v}"]
    d = json.loads(CliRunner().invoke(main, args).output)
    res = d["methods"] if "methods" in d else d
    mc, exact = res["mc"], res["analytic"]["probability"]
    assert mc["scheme"] == "exact" and abs(mc["probability"] - exact) <= 4 * mc["stderr"]


def test_euler_monte_carlo_says_its_bias_is_not_in_the_error():
    r = CliRunner().invoke(main, ["stress", "--method", "mc", "--drift", "a - x^3", "--diffusion", "0.5",
                                  "--param", "a=0.1", "--x0", "0", "--threshold", "-0.5", "--paths", "10000"])
    flat = " ".join(r.output.replace("│", " ").split())
    assert r.exit_code == 0 and "Euler: +" in flat and "bias)" in flat


def test_tiny_and_huge_values_keep_their_digits_in_the_tables():
    # fixed 6 decimals printed an expected discount of 4.6e-33 (T = 1000) as 0.000000; fmt_fixed switches to
    # scientific notation below 1e-3 and from 1e7
    from gelav._display import fmt_fixed

    assert [fmt_fixed(v) for v in (0.449329, 3.7e-11, 0.0, 2.5e99, float("nan"))] == [
        "0.449329", "3.70000e-11", "0.000000", "2.50000e+99", "–"]
    r = CliRunner().invoke(main, ["jensen", "--horizon", "1000", "--model", "vasicek"])
    assert r.exit_code == 0 and "0.000000" not in r.output and "e-33" in r.output


@pytest.mark.parametrize("c", [2.7, 3.0, 3.2])
def test_upper_tail_keeps_its_relative_accuracy(c):
    """P(L_2 > c) for the seed OU, 3e-14 down to 4e-20: the PDE's mass above c is summed from the upper end
    (Density.sf). As the mass minus the distribution function it was a multiple of the last bit of 1
    (c = 2.7: 3.18e-14 = 150 × 2⁻⁵² for 3.31e-14, with an estimate of 2.2e-22, validated; c = 3 with
    tol = 1e-20: 0, validated, for 1.24e-17). The estimate covers the error; a tol below what the
    exponential's bound on the unit mass allows ends in ConvergenceError, not in a number."""
    from gelav.errors import ConvergenceError
    from gelav.forward import forward

    ou = OrnsteinUhlenbeck(0.45, 1.0, 0.32)
    m = 1.0 - 1.5 * math.exp(-0.9)
    s = math.sqrt(0.32**2 / 0.9 * -math.expm1(-1.8))
    exact = 0.5 * math.erfc((c - m) / (s * math.sqrt(2.0)))
    r = stress_test(ou, -0.5, 2.0, c, direction="above", methods=["pde"]).results["pde"]
    assert abs(r.probability - exact) <= r.error, (r.probability, exact, r.error)
    assert abs(r.probability / exact - 1) < 0.02
    d = forward(ou, -0.5, 2.0, include=[c + 1.0])
    assert float(d.sf(c)) == pytest.approx(d.mass() - float(d.cdf(c)), abs=4e-16)
    assert d.prob(above=c) == float(d.sf(c)) and d.prob(above=c) > 0
    assert d.prob(above=c, below=c + 1.0) == pytest.approx(float(d.sf(c)) - float(d.sf(c + 1.0)), rel=1e-12)
    with pytest.raises(ConvergenceError, match="did not reach"):
        stress_test(ou, -0.5, 2.0, c, direction="above", methods=["pde"], tol=1e-20)
