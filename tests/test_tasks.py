"""gelav.tasks: one function per job under the CLI and the report; the same scenario gives the same numbers."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from gelav import tasks
from gelav.cli import main

SCENARIO = """
[process]
kind = "ornstein-uhlenbeck"
kappa = 0.6
mean = 0.8
sigma = 0.4

[stress]
x0 = -0.2
horizon = 1.5
threshold = -0.4
methods = ["analytic", "pde", "mc"]
paths = 20000
seed = 5
cells = 200

[feynman_kac]
horizon = 0.5
payoff = "put"
strike = 0.6
boundary = "knockout"
n_cells = 60
n_steps = 60

[mfg]
preset = "crisis"

[mfg.numerics]
n_cells = 40
n_steps = 30
"""


@pytest.fixture(scope="module")
def scenario_file(tmp_path_factory):
    p = tmp_path_factory.mktemp("tasks") / "s.toml"
    p.write_text(SCENARIO)
    return p


@pytest.fixture(scope="module")
def report_numbers(scenario_file, tmp_path_factory):
    r = CliRunner().invoke(main, ["report", "--config", str(scenario_file), "--json",
                                  "-o", str(tmp_path_factory.mktemp("out") / "r.html")])
    assert r.exit_code == 0, r.output
    return {k: s["numbers"] for k, s in json.loads(r.output)["sections"].items()}


def _cli_json(*args):
    r = CliRunner().invoke(main, list(args))
    assert r.exit_code == 0, r.output
    return json.loads(r.output)


def test_stress_same_numbers_from_cli_report_and_python(scenario_file, report_numbers):
    cli = _cli_json("stress", "--config", str(scenario_file), "--json")["methods"]
    task = tasks.stress(scenario_file).result.results
    rep = report_numbers["stress"]
    assert set(cli) == set(task) == {"analytic", "pde", "mc"}
    for m in cli:  # identical, not merely close: one parser, one defaults table, one call
        assert cli[m]["probability"] == task[m].probability == rep[f"P[{m}]"]
    # and they are right: the OU law, the PDE within its estimate, Monte Carlo within 4 s.e.
    from gelav import OrnsteinUhlenbeck

    exact = float(OrnsteinUhlenbeck(0.6, 0.8, 0.4).transition(-0.2, 1.5).cdf(-0.4))
    assert task["analytic"].probability == pytest.approx(exact, rel=1e-12)
    assert abs(task["pde"].probability - exact) <= 2 * task["pde"].error + 1e-12
    assert abs(task["mc"].probability - exact) < 4 * task["mc"].error
    est = tasks.stress(scenario_file).estimates
    assert est["analytic"].kind == "exact" and est["pde"].kind == "a-priori" and est["mc"].kind == "stderr"
    assert abs(est["mc"].zscore(exact)) < 4 and est["mc"].n == 20000


def test_feynman_kac_same_numbers_from_cli_report_and_python(scenario_file, report_numbers):
    cli = _cli_json("feynman-kac", "--config", str(scenario_file), "--json")
    rep = tasks.feynman_kac(scenario_file)
    assert np.array_equal(np.asarray(cli["expected_selling_price"]), rep.data["expected_selling_price"])
    assert report_numbers["feynman_kac"] == pytest.approx(rep.key_numbers(), rel=0, abs=0)


def test_mfg_same_numbers_from_cli_report_and_python(scenario_file, report_numbers):
    cli = _cli_json("mfg", "--config", str(scenario_file), "--json")
    rep = tasks.mfg(scenario_file)
    t = rep.summary["types"][0]
    assert cli["types"][0]["discount_now"] == t["discount_now"]
    assert cli["types"][0]["total_exits"] == t["total_exits"]
    key = report_numbers["mfg"]
    assert key["discount to NAV now"] == t["discount_now"] and key["total exits [share of holders]"] == t["total_exits"]
    # the value where the mass is: the holders start at N(-2, 0.3²), so their mean state is near -2
    mv = rep.mass_values()[0]
    assert abs(mv["mean_state"] + 2.0) < 0.05
    assert key["value there [NAV]"] == mv["value_at_mean_state"]


def test_report_imports_no_click():
    code = "import sys, gelav.report; sys.exit('click' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True).returncode == 0
    import gelav.report

    src = Path(gelav.report.__file__).read_text()
    assert "click" not in src and "CliRunner" not in src


def test_defaults_are_applied_once_and_options_override_the_table(scenario_file):
    from gelav.cli.stress import _DEFAULTS

    assert _DEFAULTS is tasks.DEFAULTS["stress"]
    r = tasks.stress(None, methods=["analytic"])
    assert r.inputs["x0"] == -0.5 and r.inputs["paths"] == 1_000_000  # the command's documented defaults
    r = tasks.stress(scenario_file, x0=0.0, methods=["analytic"])
    assert r.inputs["x0"] == 0.0 and r.inputs["horizon"] == 1.5
    with pytest.raises(TypeError, match="unknown option"):
        tasks.stress(None, horizn=2.0)


def test_stress_worked_example_is_the_exact_law():
    """z = (c − m)/s with Φ(z) = the analytic probability; mean/sd from the OU law."""
    from scipy.special import ndtr

    r = tasks.stress(None, methods=["analytic"])
    ex = r.worked_example
    assert ex["mean"] == pytest.approx(1.0 + (-0.5 - 1.0) * math.exp(-0.9), rel=1e-14)
    assert ex["sd"] == pytest.approx(0.32 * math.sqrt(-math.expm1(-1.8) / 0.9), rel=1e-14)
    assert float(ndtr(ex["z"])) == pytest.approx(r.best, rel=1e-12)
    assert round(ex["z"], 2) == -2.89  # the seed's worked example
    d = _cli_json("stress", "--method", "analytic", "--json")
    assert d["worked_example"] == pytest.approx(ex)
    out = " ".join(CliRunner().invoke(main, ["stress", "--method", "analytic"]).output.split())
    assert "z = (c − mean)/sd = -2.888" in out and "mean 0.39015" in out


def test_free_value_is_black_scholes_put_call_parity_and_monte_carlo():
    from gelav.tasks.feynman_kac import free_value

    mu, sig, r, K, y, tau = 0.3, 0.5, 0.05, 0.6, np.array([0.3, 0.6, 0.9]), 0.8
    c = free_value("call", K, y, tau, mu, sig, r)
    p = free_value("put", K, y, tau, mu, sig, r)
    assert np.allclose(c - p, math.exp(-r * tau) * (y * math.exp(mu * tau) - K), rtol=0, atol=1e-14)
    assert np.allclose(free_value("price", K, y, tau, mu, sig, r), y * math.exp((mu - r) * tau), rtol=1e-15)
    rng = np.random.default_rng(1)
    z = rng.standard_normal(400_000)
    yt = 0.6 * np.exp((mu - sig**2 / 2) * tau + sig * math.sqrt(tau) * z)
    pay = math.exp(-r * tau) * np.maximum(yt - K, 0.0)
    assert abs(pay.mean() - c[1]) < 4 * pay.std(ddof=1) / math.sqrt(pay.size)


def test_feynman_kac_put_is_bounded_by_its_free_value_and_labelled():
    """A knocked-out put is worth less than the put without limits (the limits only remove payoffs)."""
    rep = tasks.feynman_kac(payoff="put", strike=0.6, boundary="knockout", n_cells=80, n_steps=80)
    for _y0, u, e, ratio in rep.rows():
        assert 0 <= u <= e + 1e-9 and 0 <= ratio <= 1 + 1e-9
    assert all("selling price" not in k for k in rep.key_numbers()) and "selling price" not in rep.title
    out = CliRunner().invoke(main, ["feynman-kac", "--payoff", "put", "--n-cells", "40", "--n-steps", "40"]).output
    assert "value of the put" in out and "E(selling price)" not in out


def test_seed_feynman_kac_numbers_unchanged():
    """The seed's ratio (price payoff, no discount) is E[selling price]/(y e^{μτ}) exactly as before."""
    rep = tasks.feynman_kac()
    d = rep.data
    tau, y = np.asarray(d["time_left"]), np.asarray(d["price"])
    with np.errstate(divide="ignore", invalid="ignore"):
        old = np.where(y[None, :] > 0, d["expected_selling_price"] / (np.exp(0.5 * tau)[:, None] * y[None, :]), np.nan)
    assert np.array_equal(np.isnan(old), np.isnan(d["ratio"]))
    assert np.allclose(old[~np.isnan(old)], d["ratio"][~np.isnan(old)], rtol=1e-15, atol=0)


def test_export_round_trips(tmp_path):
    rep = tasks.stress(None, methods=["analytic", "pde"], cells=200)
    files = tasks.export_tables(rep.tables(), tmp_path / "s.csv")
    assert sorted(f.name for f in files) == ["s_density.csv", "s_fan.csv", "s_methods.csv"]
    import pandas as pd

    dens = pd.read_csv(tmp_path / "s_density.csv")
    # the exported density is a probability density: trapezoid mass 1 to second order in h
    assert abs(np.trapezoid(dens["density"], dens["x"]) - 1.0) < 1e-3
    tasks.export_tables(rep.tables(), tmp_path / "s.parquet")
    assert np.array_equal(pd.read_parquet(tmp_path / "s_density.parquet")["density"], dens["density"])
    from scipy.io import netcdf_file

    tasks.export_tables(rep.tables(), tmp_path / "s.nc")
    with netcdf_file(str(tmp_path / "s.nc"), "r", mmap=False) as nc:
        assert np.array_equal(nc.variables["density_density"][:], dens["density"].to_numpy())
        assert np.all(np.diff(nc.variables["fan_q50"][:]) >= 0)  # the median rises towards L̄
    with pytest.raises(ValueError, match=r"\.csv, \.parquet or \.nc"):
        tasks.export_tables(rep.tables(), tmp_path / "s.xlsx")


def _legend_covers_data(fig) -> int:
    """How many plotted points fall inside a legend's box (display coordinates)."""
    fig.canvas.draw()
    hits = 0
    for ax in fig.axes:
        for leg in [a.get_legend() for a in fig.axes if a.get_legend() is not None]:
            box = leg.get_window_extent()
            for line in ax.get_lines():
                xy = line.get_transform().transform(line.get_xydata())  # unit-converted (dates too)
                xy = xy[np.all(np.isfinite(xy), axis=1)]
                win = ax.get_window_extent()  # points outside the axes are clipped: not drawn
                xy = xy[(xy[:, 0] >= win.x0) & (xy[:, 0] <= win.x1) & (xy[:, 1] >= win.y0) & (xy[:, 1] <= win.y1)]
                inside = (xy[:, 0] > box.x0) & (xy[:, 0] < box.x1) & (xy[:, 1] > box.y0) & (xy[:, 1] < box.y1)
                hits += int(inside.sum())
    return hits


def test_legends_do_not_cover_the_curves():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    st = tasks.stress(None, methods=["analytic", "pde"], cells=200)
    ex = tasks.exit_time(kind="brownian", mu=0.3, sigma=0.7, a=-1, b=2, n_cells=100)
    for fig in [*st.figures().values(), *ex.figures().values()]:
        assert _legend_covers_data(fig) == 0
        plt.close(fig)


def test_infinite_exit_time_is_said_on_the_figure():
    import matplotlib

    matplotlib.use("Agg")
    rep = tasks.exit_time()  # seed 002: E[τ] = ∞ (0 is natural for Y = e^W)
    assert all(math.isinf(v) for v in rep.data["mean_exit_time"])
    fig = rep.figures()["exit_time"]
    texts = [t.get_text() for ax in fig.axes for t in ax.texts]
    assert any("E[τ] = ∞" in t for t in texts)


def test_every_task_is_registered_and_reads_its_table():
    assert set(tasks.TASKS) == {"calibration", "stress", "feynman_kac", "exit_time", "trinomial", "mckean_vlasov",
                                "ito", "mfg", "premium", "exit_boundary", "metrics", "jensen", "portfolio", "welfare",
                                "lav"}
    from gelav.scenario import ScenarioError

    for name in ("stress", "feynman_kac", "exit_time", "trinomial", "mckean_vlasov", "ito", "premium",
                 "exit_boundary", "metrics", "jensen", "portfolio", "welfare", "lav"):
        with pytest.raises(ScenarioError, match=rf"\[{name}\] has unknown field"):
            tasks.TASKS[name]({name: {"not_a_field": 1}})
