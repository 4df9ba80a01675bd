"""Issue 11, class 2: honest error estimates where the answer is tiny.

The PDE stress probability's error estimate must bound the true error (against
the exact law) at deep thresholds, with its observed order checked; where the
check fails the result says it is not validated. Tiny probabilities print in
scientific notation; Monte Carlo with no hit gives the exact 95 % upper bound.
"""

from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pytest
from click.testing import CliRunner

from gelav import CIR, BrownianMotion, GeometricBrownianMotion, OrnsteinUhlenbeck
from gelav._display import KeyTable, Probability, fmt_probability
from gelav.cli import main
from gelav.montecarlo import simulate, stress_probability
from gelav.stress import MIN_RESOLUTION, ORDER_TOLERANCE, stress_test

SEED_OU = OrnsteinUhlenbeck(0.45, 1.0, 0.32)


def exact_and_pde(process, x0, horizon, c, direction="below", cells=800):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = stress_test(
            process, x0, horizon, c, direction=direction, methods=["analytic", "pde"], cells=cells
        )
    return r.results["analytic"].probability, r.results["pde"]


@pytest.mark.parametrize("c", [-1.2, -1.5, -1.8])
def test_seed_model_deep_tail_error_bounds_the_true_error(c):
    exact, pde = exact_and_pde(SEED_OU, -0.5, 2.0, c)
    assert exact < 2e-7  # a deep tail: 1.2e-7 ... 5.9e-13
    assert abs(pde.probability - exact) <= pde.error
    assert pde.details["validated"] is True
    assert abs(pde.details["observed_order"] - 2.0) <= ORDER_TOLERANCE
    # relative, not absolute: the estimate is a small fraction of the answer itself
    assert pde.details["relative_error_estimate"] == pytest.approx(pde.error / pde.probability)
    assert pde.details["relative_error_estimate"] < 1e-4
    assert pde.details["domain_tail"] < 1e-7 * exact  # the domain was widened for the tail


@pytest.mark.parametrize(
    ("process", "x0", "horizon", "c", "direction"),
    [
        (BrownianMotion(0.1, 0.5), 0.0, 1.0, -2.5, "below"),
        (BrownianMotion(0.1, 0.5), 0.0, 1.0, 3.0, "above"),
        (GeometricBrownianMotion(0.05, 0.2), 1.0, 1.0, 0.4, "below"),
        (GeometricBrownianMotion(0.05, 0.2), 1.0, 1.0, 2.6, "above"),
        (OrnsteinUhlenbeck(1.0, 0.0, 0.3), 0.0, 0.5, 1.2, "above"),
        (CIR(1.0, 0.5, 0.3), 0.5, 1.0, 0.05, "below"),
        (CIR(1.0, 0.5, 0.3), 0.5, 1.0, 2.0, "above"),
    ],
)
@pytest.mark.parametrize("cells", [96, 400])
def test_error_estimate_bounds_the_error_across_models_and_thresholds(
    process, x0, horizon, c, direction, cells
):
    """Validated or not, the reported error bounds the true one (1e-13 ... 1e-6 answers)."""
    exact, pde = exact_and_pde(process, x0, horizon, c, direction, cells=cells)
    assert exact < 2e-6
    assert abs(pde.probability - exact) <= pde.error
    if not pde.details["validated"]:
        assert pde.details["not_validated"]  # says why
        assert "not validated" in pde.error_text()


@pytest.mark.parametrize(
    ("process", "x0", "horizon", "c", "direction"),
    [
        (SEED_OU, -0.5, 2.0, -1.5, "below"),
        (SEED_OU, -0.5, 2.0, -1.8, "below"),
        (BrownianMotion(0.1, 0.5), 0.0, 1.0, 3.0, "above"),
        (GeometricBrownianMotion(0.05, 0.2), 1.0, 1.0, 0.4, "below"),
        (CIR(1.0, 0.5, 0.3), 0.5, 1.0, 0.05, "below"),
        (
            CIR(1.0, 0.5, 0.3),
            0.5,
            1.0,
            2.0,
            "above",
        ),  # the generator lattice: its domain is widened
    ],
)
def test_lattice_error_estimate_bounds_the_error_in_deep_tails(process, x0, horizon, c, direction):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = stress_test(
            process, x0, horizon, c, direction=direction, methods=["analytic", "lattice"]
        )
    exact, lat = r.results["analytic"].probability, r.results["lattice"]
    assert exact < 2e-6
    assert abs(lat.probability - exact) <= lat.error


def test_a_chance_order_match_on_a_coarse_grid_is_not_validated():
    """48 cells: the observed order is 1.9 by chance while the estimate was 4x optimistic."""
    exact, pde = exact_and_pde(SEED_OU, -0.5, 2.0, -1.2, cells=48)
    assert abs(pde.details["observed_order"] - 2.0) <= ORDER_TOLERANCE
    assert pde.details["resolution"] < MIN_RESOLUTION
    assert (
        pde.details["validated"] is False
        and "cells per decay length" in pde.details["not_validated"]
    )
    assert abs(pde.probability - exact) <= pde.error


def test_ordinary_threshold_keeps_its_numbers():
    exact, pde = exact_and_pde(SEED_OU, -0.5, 2.0, -0.5)
    assert "domain_tail" not in pde.details  # the default domain: the same grids as before
    assert pde.probability == pytest.approx(0.0019356470, abs=1e-10)
    assert abs(pde.probability - exact) <= pde.error < 1e-8


def test_monte_carlo_with_no_hit_gives_the_exact_upper_bound():
    n = 20_000
    e = stress_probability(SEED_OU, -0.5, 2.0, -1.5, n_paths=n, seed=1)
    assert e.kind == "bound" and e.value == 0.0 and e.n == n
    assert e.stderr == pytest.approx(1 - 0.05 ** (1 / n), rel=1e-12)
    assert (1 - e.stderr) ** n == pytest.approx(0.05, rel=1e-9)  # P(no hit | p = bound) = 5 %
    assert e.stderr > SEED_OU.transition(-0.5, 2.0).cdf(-1.5)
    assert format(e, ".3g") == f"0 ≤ {e.stderr:.2g}"
    # an event that does happen keeps its standard error
    hit = stress_probability(SEED_OU, -0.5, 2.0, -0.5, n_paths=n, seed=1)
    assert hit.kind == "stderr" and hit.value > 0
    # exit probabilities too
    paths = simulate(BrownianMotion(0.0, 0.1), 0.0, 0.1, 10, 500, lower=-2.0, seed=2)
    assert paths.exit_probability().kind == "bound"


def test_monte_carlo_bound_covers_the_probability():
    """Coverage of the one-sided bound: p = 1e-3, n = 1000 (no hit in ~37 % of the runs)."""
    p, n = 1e-3, 1000
    rng = np.random.default_rng(11)
    zero = rng.binomial(n, p, size=4000) == 0
    bound = 1 - 0.05 ** (1 / n)
    assert bound >= p  # every zero-hit run's bound holds p
    assert zero.mean() == pytest.approx((1 - p) ** n, abs=0.03)


def test_stress_result_reports_the_bound_kind():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = stress_test(SEED_OU, -0.5, 2.0, -1.8, methods=["analytic", "mc"], paths=10_000)
    mc = r.results["mc"]
    assert mc.error_kind == "bound" and mc.estimate.kind == "bound"
    assert mc.details["upper_bound_95"] == pytest.approx(1 - 0.05 ** (1 / 10_000))
    assert "95% bound" in mc.error_text() and "95 % upper bound" in mc.error_text(long=True)
    assert r.best == r.results["analytic"].probability


def test_small_probabilities_print_in_scientific_notation():
    assert fmt_probability(0.0019356) == "0.001935600"
    assert fmt_probability(0.0019356, percent=True) == "0.1936%"
    assert fmt_probability(4.301e-10) == "4.301e-10"
    assert fmt_probability(4.301e-10, percent=True) == "4.301e-08 %"
    assert fmt_probability(0.0) == "0"
    assert fmt_probability(math.nan) == "–"
    # a KeyTable rounds entries below 1e-12 x its largest to 0, but never a probability
    t = KeyTable("t", [("horizon", 2.0), ("P", Probability(5.9e-13)), ("noise", 1e-14)])
    md = t.markdown()
    assert "5.900e-13" in md and "| noise | 0 |" in md


def test_cli_prints_deep_tail_probabilities_and_the_zero_hit_bound():
    res = CliRunner().invoke(main, ["stress", "--threshold", "-1.8", "--paths", "10000"])
    assert res.exit_code == 0, res.output
    assert (
        "5.935e-13" in res.output
        and "0.000000000" not in res.output
        and "0.0000%" not in res.output
    )
    assert "< 3.00e-04 (95% bound)" in res.output and "± 0.00e+00" not in res.output
    js = CliRunner().invoke(main, ["stress", "--threshold", "-1.8", "--paths", "10000", "--json"])
    assert js.exit_code == 0, js.output
    out = json.loads(js.output)["methods"]
    assert out["mc"]["bound"] == pytest.approx(1 - 0.05 ** (1 / 10_000))
    assert out["mc"]["stderr"] is None  # the key stays (scripts read it); no standard error exists, never 0
    assert out["pde"]["validated"] is True


def test_docs_quote_these_numbers():
    """docs/validation.md, class 2: the table is what stress_test gives."""
    from pathlib import Path

    page = (Path(__file__).resolve().parent.parent / "docs" / "validation.md").read_text(
        encoding="utf-8"
    )
    for c in (-1.2, -1.5, -1.8):
        exact, pde = exact_and_pde(SEED_OU, -0.5, 2.0, c)
        row = (
            f"| {c:g} | {exact:.4e} | {pde.probability:.4e} | {pde.error:.1e} | "
            f"{abs(pde.probability - exact):.1e} | {pde.details['observed_order']:.2f} |"
        )
        assert row in page, row


def test_tiny_hitting_probabilities_keep_their_relative_accuracy():
    """P(hit b before a) ~ 2e-16 for BM with strong downward drift: the tridiagonal solve gave
    -2.7e-15 (absolute rounding); the chain's scale function gives it to 1e-12 relative."""
    from gelav.exits import exit_probability

    mu, s, x = -3.0, 0.5, 0.5
    exact = math.expm1(-2 * mu * x / s**2) / math.expm1(-2 * mu * 2.0 / s**2)
    r = exit_probability(BrownianMotion(mu, s), 0.0, 2.0, n_cells=400)
    assert exact < 1e-15
    assert r.value(x) == pytest.approx(exact, rel=1e-11)  # SG flux: exact for constant coefficients
    assert np.all(r.values >= 0) and np.all(np.diff(r.values) >= 0)
    # OU (varying coefficients) towards a far upper end: at least second order, relative
    ou = OrnsteinUhlenbeck(2.0, 0.0, 0.3)

    def scale(y):
        return np.exp(2.0 * y**2 / 0.09)

    from scipy.integrate import quad

    ex = quad(scale, -0.5, 0.0)[0] / quad(scale, -0.5, 1.0, points=[0.9, 0.99], limit=200)[0]
    vals = [exit_probability(ou, -0.5, 1.0, n_cells=n).value(0.0) for n in (100, 200, 400)]
    rel = np.abs(np.array(vals) / ex - 1)
    assert ex < 1e-6 and np.all(np.log2(rel[:-1] / rel[1:]) > 1.8) and rel[-1] < 1e-7


def test_cli_exit_time_prints_tiny_probabilities():
    args = [
        "exit-time",
        "--process",
        "brownian",
        "--mu",
        "-3",
        "--sigma",
        "0.5",
        "--a",
        "0",
        "--b",
        "2",
    ]
    res = CliRunner().invoke(main, [*args, "--x0", "0.5", "-T", "0.05"])
    assert res.exit_code == 0, res.output
    assert "2.320e-16" in res.output and "-0.000000" not in res.output


def test_unvalidated_pde_where_the_flux_upwinds_is_left_out():
    """An OU from 1000 (cell Péclet number 4,160 at x0 on the 800-cell grids): the fixed-grid PDE gave 0.4949
    "~ 5.5e-3 (not validated)" for 0.5145, the error 3.5 times the estimate. It is now left out, with the reason;
    the analytic law and the lattice answer."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = stress_test(SEED_OU, 1e3, 1.0, 638.0, methods=["analytic", "pde", "lattice"])
    assert "pde" not in r.results and "Péclet" in r.omitted["pde"] and "not validated" in r.omitted["pde"]
    assert abs(r.results["lattice"].probability - r.results["analytic"].probability) <= r.results["lattice"].error
    from gelav.stress_table import stress_table

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t = stress_table(SEED_OU, 1e3, [0.5, 1.0], [637.0, 638.0], methods=["analytic", "pde"])
    assert "Péclet" in t.omitted["pde"]  # the table's PDE the same way
