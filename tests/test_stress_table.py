"""Stress tables over thresholds × horizons: every cell against the scalar run, VaR/ES against the exact
OU and CIR laws, the CLI's list options, TOML lists and exports."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from click.testing import CliRunner
from scipy import integrate, stats

from gelav import CIR, OrnsteinUhlenbeck, tasks
from gelav.cli import main
from gelav.stress import stress_table, stress_test

OU = OrnsteinUhlenbeck(0.45, 1.0, 0.32)
HS = [0.5, 1.0, 2.0]
# distances 0, 0.25, 0.5, 0.8 from x0: multiples of 0.05, so one PDE solve
CS = [-0.5, -0.25, 0.0, 0.3]


def run(*args):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


@pytest.fixture(scope="module")
def ou_table():
    return stress_table(OU, -0.5, HS, CS, paths=20_000, seed=3, levels=[0.95, 0.99])


def test_every_cell_equals_the_scalar_run(ou_table):
    t = ou_table
    assert t.results["pde"].details["solves"] == 1  # not one per threshold
    for i, T in enumerate(HS):
        for j, c in enumerate(CS):
            s = stress_test(OU, -0.5, T, c, paths=20_000, seed=3)
            for m in ("analytic", "mc", "lattice"):  # same formula, paths and tree: identical
                assert t.results[m].probability[i, j] == s.results[m].probability
                assert t.results[m].error[i, j] == s.results[m].error
            # pde: a grid covering every threshold, so equal within the two error estimates
            a, b = t.results["pde"], s.results["pde"]
            assert (
                abs(a.probability[i, j] - b.probability) <= 1.5 * (a.error[i, j] + b.error) + 1e-13
            )
            exact = s.results["analytic"].probability
            assert abs(a.probability[i, j] - exact) <= 1.5 * a.error[i, j] + 1e-13


def test_incommensurate_thresholds_get_their_own_solve():
    cs = [-0.5, 0.0, 0.1 * math.pi]  # π/10 + 0.5 shares no divisor >= half a cell with 0.5
    t = stress_table(OU, -0.5, [1.0, 2.0], cs, methods=["analytic", "pde"])
    assert t.results["pde"].details["solves"] == 2
    exact, pde = t.results["analytic"], t.results["pde"]
    assert np.all(np.abs(pde.probability - exact.probability) <= 1.5 * pde.error + 1e-13)
    assert np.all(pde.error < 1e-6)


def test_cell_is_a_scalar_result(ou_table):
    c = ou_table.cell(2, 0)
    assert c.inputs["horizon"] == 2.0 and c.inputs["threshold"] == -0.5
    assert c.results["analytic"].probability == pytest.approx(0.0019356487804036227, rel=1e-12)
    assert c.density is ou_table.density is not None
    assert ou_table.cell(0, 1).density is None
    # the fan chart has the scalar run's ~50 saved times, and every horizon among them
    assert ou_table.density.times.size >= 50 and set(HS) <= set(ou_table.density.times.tolist())


def gaussian_tail(m, s, level, side):
    z = stats.norm.ppf(level)
    return (
        (m - s * z, m - s * stats.norm.pdf(z) / (1 - level))
        if side == "lower"
        else (m + s * z, m + s * stats.norm.pdf(z) / (1 - level))
    )


@pytest.mark.parametrize("direction", ["below", "above"])
def test_var_es_against_the_exact_ou_law(direction):
    t = stress_table(
        OU, -0.5, HS, [-0.5], methods=["analytic", "pde"], levels=[0.95, 0.99], direction=direction
    )
    side = "lower" if direction == "below" else "upper"
    for i, T in enumerate(HS):
        law = OU.transition(-0.5, T)
        for lv in (0.95, 0.99):
            v, es = gaussian_tail(law.mean(), law.std(), lv, side)
            an, pde = t.results["analytic"].tail[lv], t.results["pde"].tail[lv]
            assert an["var"][i] == pytest.approx(v, abs=1e-12)
            assert an["es"][i] == pytest.approx(es, abs=1e-12)
            # the PDE's within its refinement estimates (not vacuous: < 1 % of the spread; about 3x the error)
            assert abs(pde["var"][i] - v) <= pde["var_error_estimate"][i]
            assert abs(pde["es"][i] - es) <= pde["es_error_estimate"][i]
            assert pde["es_error_estimate"][i] < 1e-2 * law.std()
    if direction == "below":  # the lower tail lies below the mean, the ES below the VaR
        an = t.results["analytic"].tail[0.99]
        assert np.all(an["es"] < an["var"])


def test_var_es_against_the_exact_cir_law():
    cir = CIR(kappa=1.0, mean=0.5, sigma=0.3)
    t = stress_table(cir, 0.4, [0.25, 1.0], [0.3], methods=["analytic", "pde"], levels=[0.95, 0.99])
    for i, T in enumerate([0.25, 1.0]):
        law = cir.transition(0.4, T)
        for lv in (0.95, 0.99):
            v = float(law.ppf(1 - lv))
            es = integrate.quad(
                lambda x, law=law: x * law.pdf(x), 0.0, v, epsabs=0, epsrel=1e-12, limit=200
            )[0] / (1 - lv)
            an, pde = t.results["analytic"].tail[lv], t.results["pde"].tail[lv]
            assert an["var"][i] == pytest.approx(v, rel=1e-10)
            assert an["es"][i] == pytest.approx(es, rel=1e-8)
            assert abs(pde["var"][i] - v) <= pde["var_error_estimate"][i]
            assert abs(pde["es"][i] - es) <= pde["es_error_estimate"][i]


def test_scalar_var_adds_tail_risk_and_nothing_else():
    plain = stress_test(OU, -0.5, 2.0, -0.5, methods=["analytic", "pde"])
    with_var = stress_test(OU, -0.5, 2.0, -0.5, methods=["analytic", "pde"], levels=[0.99])
    assert "tail_risk" not in plain.as_dict()
    assert with_var.results["pde"].probability == plain.results["pde"].probability
    law = OU.transition(-0.5, 2.0)
    assert with_var.tail["analytic"][0.99]["var"] == pytest.approx(law.ppf(0.01), abs=1e-12)
    with pytest.raises(ValueError, match="levels"):
        stress_test(OU, -0.5, 2.0, -0.5, methods=["mc"], paths=1000, levels=[0.99])
    with pytest.raises(ValueError, match="levels"):
        stress_test(OU, -0.5, 2.0, -0.5, methods=["analytic"], levels=[1.5])


def test_bad_lists_name_the_argument():
    with pytest.raises(ValueError, match="thresholds"):
        stress_table(OU, -0.5, [1.0], [0.0, 0.0], methods=["analytic"])
    with pytest.raises(ValueError, match="horizon"):
        stress_table(OU, -0.5, [1.0, -1.0], [0.0], methods=["analytic"])
    with pytest.raises(ValueError, match="thresholds"):
        stress_table(OU, -0.5, [1.0], [], methods=["analytic"])


def test_cli_lists_give_one_table_and_json():
    args = ["stress", "--threshold", "-0.5,-0.25,0", "--horizon", "1,2", "--method", "analytic,pde"]
    out = json.loads(run(*args, "--var", "0.95,0.99", "--json").output)
    assert out["thresholds"] == [-0.5, -0.25, 0.0] and out["horizons"] == [1.0, 2.0]
    p = np.array(out["probability"])
    assert p.shape == (2, 3)
    for i, T in enumerate((1.0, 2.0)):
        for j, c in enumerate((-0.5, -0.25, 0.0)):
            assert p[i, j] == pytest.approx(float(OU.transition(-0.5, T).cdf(c)), rel=1e-12)
    assert out["methods"]["pde"]["solves"] == 1
    assert set(out["tail_risk"]["analytic"]) == {"0.95", "0.99"}
    r = run(*args, "--var", "0.99")
    assert r.exit_code == 0, r.output
    assert "0.00193565" in r.output and "VaR 99%" in r.output and "ES 99%" in r.output
    # a scalar --var keeps the scalar table and adds the VaR/ES table
    r = run("stress", "--method", "analytic", "--var", "0.95")
    assert "0.001935649" in r.output and "VaR 95%" in r.output


def test_cli_scalar_json_keys_unchanged():
    out = json.loads(run("stress", "--method", "analytic,pde", "--json").output)
    assert set(out) == {"inputs", "methods", "worked_example"}
    assert out["inputs"]["threshold"] == -0.5 and out["inputs"]["horizon"] == 2.0


def test_cli_var_still_names_the_state_variable_of_a_typed_model():
    r = run(
        "stress",
        "--drift",
        "k*(1 - Y)",
        "--diffusion",
        "0.3",
        "--var",
        "Y",
        "--param",
        "k=0.5",
        "--var",
        "0.95",
        "--method",
        "pde",
        "--x0",
        "0.5",
        "--threshold",
        "0.2",
        "--horizon",
        "1",
        "--json",
    )
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    law = OrnsteinUhlenbeck(0.5, 1.0, 0.3).transition(0.5, 1.0)
    assert out["methods"]["pde"]["probability"] == pytest.approx(float(law.cdf(0.2)), abs=1e-6)
    assert out["tail_risk"]["pde"]["0.95"]["var"] == pytest.approx(float(law.ppf(0.05)), abs=1e-3)


@pytest.mark.parametrize(
    "bad", [["--threshold", "a,b"], ["--var", "1.5"], ["--var", "0.9,x"], ["--horizon", "1,1"]]
)
def test_cli_bad_lists_exit_2_naming_the_option(bad):
    r = CliRunner().invoke(main, ["stress", "--method", "analytic", *bad])
    assert r.exit_code == 2
    assert bad[0] in r.output or bad[0].lstrip("-") in r.output


def test_toml_lists_and_export(tmp_path):
    sc = tmp_path / "s.toml"
    sc.write_text(
        "[stress]\nthreshold = [-0.5, 0.0]\nhorizon = [1.0, 2.0]\nvar = [0.99]\n"
        "methods = ['analytic', 'pde']\ncells = 400\n"
    )
    rep = tasks.stress(sc)
    assert rep.grid is not None and rep.grid.best.shape == (2, 2)
    assert (
        rep.result.inputs["horizon"] == 2.0 and rep.result.inputs["threshold"] == -0.5
    )  # the figure's cell
    keys = rep.key_numbers()
    assert keys["P(X_T < c), T = 2 y, c = -0.5 (analytic)"] == pytest.approx(
        0.0019356487804036227, rel=1e-12
    )
    assert "VaR 99% of X_T, T = 1 y (analytic)" in keys
    cli = json.loads(run("stress", "--config", str(sc), "--json").output)
    assert cli["probability"] == rep.to_dict()["probability"]
    files = tasks.export_tables(rep.tables(), tmp_path / "out.csv")
    names = sorted(f.name for f in files)
    assert names == ["out_density.csv", "out_fan.csv", "out_grid.csv", "out_tail_risk.csv"]
    grid = np.genfromtxt(tmp_path / "out_grid.csv", delimiter=",", names=True)
    assert grid["probability_analytic"][-1] == pytest.approx(
        float(OU.transition(-0.5, 2.0).cdf(0.0)), rel=1e-12
    )
    (tmp_path / "bad.toml").write_text("[stress]\nthreshold = [-0.5, 'x']\n")
    with pytest.raises(ValueError, match="threshold"):
        tasks.stress(tmp_path / "bad.toml")


def test_scalar_toml_still_scalar(tmp_path):
    sc = tmp_path / "s.toml"
    sc.write_text("[stress]\nthreshold = [-0.5]\nhorizon = 2.0\nmethods = ['analytic']\n")
    rep = tasks.stress(sc)
    assert rep.grid is None and rep.best == pytest.approx(0.0019356487804036227, rel=1e-12)
    assert math.isfinite(rep.worked_example["z"])


def test_table_estimates_bound_the_true_error_in_deep_tails():
    # Issue 11 class 2 on the table path: the domain is widened for tiny answers and the
    # estimate carries the left-out mass, as the scalar pde method does.
    from gelav import OrnsteinUhlenbeck
    from gelav.stress_table import stress_table

    t = stress_table(OrnsteinUhlenbeck(0.45, 1.0, 0.32), -0.5, [0.5, 1.0, 2.0], [-0.5, -1.2, -1.5, -1.8],
                     methods=["analytic", "pde"])
    exact, pde = t.results["analytic"].probability, t.results["pde"]
    assert np.all(exact[:, -1] < 1e-11)  # down to ~1e-15: a relative question
    assert np.all(np.abs(pde.probability - exact) <= pde.error)
    assert pde.details["domain_tail"] < 1e-10  # widened


def test_mc_cells_without_a_hit_carry_a_bound_not_a_standard_error():
    """A cell where no path hit the event reports the one-sided 95 % bound as a bound (the table
    used to file it under ``stderr``, as if 0 ± 0.0003 were a standard error)."""
    from gelav import OrnsteinUhlenbeck
    from gelav.stress_table import stress_table

    g = stress_table(OrnsteinUhlenbeck(0.45, 1.0, 0.32), -0.5, [1.0, 2.0], [-2.0, -0.5],
                     methods=["mc"], paths=10_000, seed=0)
    mc = g.results["mc"]
    assert mc.bound is not None and mc.bound[:, 0].all() and not mc.bound[:, 1].any()
    d = mc.as_dict()
    assert d["stderr"][0][0] is None and d["upper_bound_95"][0][0] == pytest.approx(1 - 0.05 ** 1e-4)
    assert d["upper_bound_95"][0][1] is None and d["stderr"][0][1] > 0
    assert mc.cell(0, 0).error_kind == "bound" and mc.cell(0, 1).error_kind == "stderr"


def test_export_files_a_zero_hit_bound_in_its_own_column(tmp_path):
    """``gelav stress --export`` of such a grid: the bound in ``upper_bound_95_mc``, NaN under ``stderr_mc``
    (the export wrote the bound as the cell's standard error)."""
    import csv

    from click.testing import CliRunner

    from gelav.cli import main

    out = tmp_path / "grid.csv"
    r = CliRunner().invoke(main, ["stress", "--threshold", "-2,-0.5", "--horizon", "1,2", "--paths", "10000",
                                  "--method", "mc", "--export", str(out)])
    assert r.exit_code == 0, r.output
    files = sorted(tmp_path.glob("*.csv"))
    rows = [row for f in files for row in csv.DictReader(f.open()) if "stderr_mc" in row]
    assert len(rows) == 4
    for row in rows:
        hit = float(row["probability_mc"]) > 0
        assert (row["stderr_mc"] != "nan") == hit and (row["upper_bound_95_mc"] == "nan") == hit
        if not hit:
            assert float(row["upper_bound_95_mc"]) == pytest.approx(1 - 0.05 ** 1e-4)
