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
