"""Report sections of the valuation layer, the welfare accounts and the model comparison (issues 12, 13, 17).

One scenario file gives the same numbers through ``gelav <command> --config``,
``gelav report`` and the Python task; the page reads well (no paths, dotted keys or
rounding noise; a key-number table per section; legends off the data).
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from click.testing import CliRunner

from gelav import tasks
from gelav.cli import main
from test_report import _dump_dom, _figure_status, _page_problems, _require_chromium, _series_csv
from test_tasks import _legend_covers_data

SCENARIO = """
title = "Valuation layer"

[process]
kind = "ornstein-uhlenbeck"
kappa = 0.45
mean = 1.0
sigma = 0.32

[calibration]
data = "series.csv"
model = "ou,cir,gbm"

[premium]
data = "trades.csv"
by = "fund_type"

[exit_boundary]
fund_life = 6.0
cells = 60
steps = 60

[metrics]
data = "fund.csv"

[jensen]
model = "vasicek"
horizon = 10.0
cells = 60
steps = 60

[[funds]]
name = "Buyout IX"
nav = 100.0
remaining_life = 5.87

[[funds]]
name = "Venture III"
nav = 50.0
remaining_life = 8.0
type = "venture"

[portfolio]
scenario = "gfc"
horizon = 1.0
levels = [0.95, 0.99]
cells = 150
steps = 60
equilibrium = true

[lav]
cells = 60
steps = 4
monte_carlo = 4000
seed = 1

[lav.fund]
call_liquidity = 0.3

[mfg]
preset = "crisis"

[mfg.numerics]
n_cells = 30
n_steps = 20

[welfare]
n_cells = 16
n_steps = 12
epsilon = 0.01
"""

VALUATION = ("premium", "exit_boundary", "metrics", "jensen", "portfolio", "lav", "welfare")


@pytest.fixture(scope="module")
def scenario_file(tmp_path_factory):
    from gelav.datasets import fund_cashflows, secondary_trades

    d = tmp_path_factory.mktemp("valuation")
    secondary_trades(300, seed=1).to_csv(d / "trades.csv")
    fund_cashflows(seed=5).to_csv(d / "fund.csv")
    _series_csv(d / "series.csv")
    (d / "s.toml").write_text(SCENARIO)
    return d / "s.toml"


@pytest.fixture(scope="module")
def report(scenario_file):
    """``gelav report --config s.toml --json``: the numbers of every section, and the page."""
    out = scenario_file.parent / "r.html"
    r = CliRunner().invoke(main, ["report", "--config", str(scenario_file), "--json", "-o", str(out), "--dpi", "40"])
    assert r.exit_code == 0, r.output
    d = json.loads(r.output)
    assert d["failed"] == [], d
    return {k: s["numbers"] for k, s in d["sections"].items()}, out


@pytest.fixture(scope="module")
def results(scenario_file):
    """The Python tasks on the same file."""
    return {name: tasks.TASKS[name](scenario_file) for name in (*VALUATION, "calibration")}


def _cli(*args):
    r = CliRunner().invoke(main, [str(a) for a in args])
    assert r.exit_code == 0, r.output
    return json.loads(r.output)


def test_every_new_section_runs_from_its_table(report):
    numbers, _ = report
    assert list(numbers) == ["model", "calibration", "mfg", *VALUATION]
    for name in VALUATION:
        assert numbers[name], name


def test_premium_and_exit_boundary_same_numbers(scenario_file, report, results):
    numbers, _ = report
    cli = _cli("premium", "--config", scenario_file, "--json")
    fit = results["premium"].fit
    assert cli["params"] == fit.params and set(cli["groups"]) == set(fit.groups)
    assert numbers["premium"]["α level"] == fit.params["alpha"] == cli["params"]["alpha"]
    assert numbers["premium"]["γ for venture"] == cli["groups"]["venture"]["params"]["gamma"]
    # the seeded trades follow the book premium: the fit recovers it within 4 standard errors
    for k, v in {"alpha": 0.045, "beta": -0.025, "gamma": 0.021}.items():
        assert abs(fit.params[k] - v) < 4 * fit.stderr[k]

    cli = _cli("exit-boundary", "--config", scenario_file, "--json")
    res = results["exit_boundary"].result
    key = numbers["exit_boundary"]
    assert cli["boundary_t0"] == res.boundary(0.0) == key["exit boundary L*(0): sell when L ≤ L*"]
    assert cli["fund_life"] == 6.0 and cli["premium"] == {"alpha": 0.045, "beta": -0.025, "gamma": 0.021,
                                                          "scaling": "sqrt"}
    # holding is worth at least selling (the obstacle), and the exit region lies in stress
    assert key["value of holding V(0, L̄ = 1) [per unit NAV]"] >= key["sale price 1 − π(L̄, T) [per unit NAV]"]
    assert res.boundary(0.0) < 0


def test_metrics_and_jensen_same_numbers(scenario_file, report, results):
    numbers, _ = report
    cli = _cli("metrics", "--config", scenario_file, "--json")
    m = results["metrics"].metrics
    assert cli["irr"] == m.irr.rate == numbers["metrics"]["IRR [per year]"]
    assert cli["la_pme"] == m.la_pme == numbers["metrics"]["LA-PME"]
    assert cli["tvpi"] == numbers["metrics"]["TVPI"] and cli["n_flows"] == numbers["metrics"]["cash flows"]
    # the liquidity adjustment marks distributions down and contributions up: it lowers the PME
    assert m.la_pme < m.pme

    cli = _cli("jensen", "--config", scenario_file, "--json")
    res = results["jensen"].result
    assert cli["bias"] == res.bias == numbers["jensen"]["bias of the discount factor"]
    # Vasicek: the Feynman–Kac value matches the affine bond price to the grid's error
    assert abs(res.feynman_kac - res.expected_discount) < 5e-3 and res.bias > 0


def test_portfolio_same_numbers_and_equilibrium_prices(scenario_file, report, results):
    numbers, _ = report
    cli = _cli("portfolio", scenario_file, "--json")
    rep = results["portfolio"]
    key = numbers["portfolio"]
    assert cli["max_drawdown"] == rep.stress.max_drawdown == key["max drawdown from the t = 0 mark"]
    assert cli["distribution"]["var"]["0.99"] == rep.distribution.var[0.99] == key["VaR 99% of the loss at 1 y"]
    # the crowding discount is the crisis equilibrium's own price path at 0 and 1 year
    eq = tasks.mfg(scenario_file).equilibrium
    c = (eq.base_price[0] - eq.price[0]) / eq.model.market.nav
    assert key["equilibrium crowding discount at 1 y [share of NAV]"] == pytest.approx(
        float(np.interp(1.0, eq.t_mid, c)), abs=1e-12)
    # and the law is the plain one shifted by ΣN (c(h) − c(0)), atom by atom
    plain = tasks.portfolio(scenario_file, equilibrium=False)
    c0, ch = rep.distribution.diagnostics["crowding_discount"]
    shift = 150.0 * (ch - c0)
    assert rep.distribution.var[0.95] == pytest.approx(plain.distribution.var[0.95] + shift, abs=1e-9)


def test_lav_same_numbers_and_monte_carlo(scenario_file, report, results):
    numbers, _ = report
    r = results["lav"].result
    key = numbers["lav"]
    assert key["liquidity-adjusted value (LAV) [currency]"] == r.value and key["DCF value, L frozen at 1 [currency]"] == r.dcf
    assert results["lav"].model.call_liquidity == 0.3  # [lav.fund] reached the fund model
    # Feynman–Kac against the seeded Monte Carlo of the same stake: within 4 standard errors
    assert abs(r.value - r.monte_carlo.value) < 4 * r.monte_carlo.stderr
    assert 0 < key["liquidity discount 1 − LAV/DCF"] < 1


def test_lav_table_errors():
    from gelav.scenario import ScenarioError

    with pytest.raises(ScenarioError, match=r"\[lav.fund\] has unknown field"):
        tasks.lav({"lav": {"fund": {"comitment": 5}}})
    with pytest.raises(ScenarioError, match=r"\[lav\] field `cells`"):
        tasks.lav({"lav": {"cells": 0}})


def test_welfare_same_numbers_as_the_welfare_section(scenario_file, report, results):
    from gelav.mfg.accounts import welfare_section

    numbers, _ = report
    cli = _cli("welfare", "--config", scenario_file, "--json")
    rep = results["welfare"]
    assert cli["gap"] == rep.welfare.gap and cli["n_nodes"] == rep.planner.allocation.grid.n_nodes
    hook = welfare_section(rep.planner)["numbers"]
    key = numbers["welfare"]
    # the report shows the hook's numbers to 1e-6 NAV
    for label, k in (("welfare gap [NAV]", "gap"), ("price of anarchy", "price_of_anarchy"),
                     ("LP welfare, planner [NAV]", "planner_welfare"),
                     ("total exits, planner [share of LPs]", "planner_exits"),
                     ("Pigouvian tax τ*(0, L = -1) [share of NAV]", "tax_at_-1")):
        assert abs(key[label] - hook[k]) <= 0.5e-6 + 1e-15, label
    assert key["welfare gap [NAV]"] > 0 and key["price of anarchy"] >= 1  # coupling: the planner does better


def test_calibration_compares_models_with_the_same_numbers(scenario_file, report, results):
    numbers, _ = report
    cli = _cli("calibrate", "--config", scenario_file, "--json")
    c = results["calibration"].comparison
    rows = {r["model"]: r for r in cli["models"]}
    assert set(rows) == {"ou", "cir", "gbm"} and cli["best"] == c.best == numbers["calibration"]["best_model"]
    for r in c.rows:
        assert rows[r["model"]]["aic"] == r["aic"] == numbers["calibration"]["models"][r["model"]]["aic"]
        assert r["aic"] == pytest.approx(2 * r["k"] - 2 * r["loglik"], rel=1e-14)
    # the series is a simulated OU path: OU wins
    assert c.best == "ou"


def test_calibration_table_field_errors(tmp_path):
    from gelav.scenario import ScenarioError

    (tmp_path / "s.toml").write_text('[calibration]\ndata = "x.csv"\nmodel = "ou,vasicek"\n')
    with pytest.raises(ScenarioError, match=r"\[calibration\] field `model` = 'ou,vasicek'"):
        tasks.calibrate(tmp_path / "s.toml")
    r = CliRunner().invoke(main, ["calibrate", "--config", str(tmp_path / "s.toml")])
    assert r.exit_code == 2 and "`model`" in r.output


def test_page_reads_well_and_legends_are_off_the_data(report, results):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    _, page = report
    html = page.read_text()
    assert _page_problems(html) == []
    for name in VALUATION:
        assert f'<section id="s-{name}" data-status="ok">' in html
    figs = [f for rep in results.values() for f in rep.figures().values()]
    figs += [*tasks.premium({}).figures().values(), *tasks.jensen({}).figures().values()]  # no trades; the table
    for fig in figs:
        assert _legend_covers_data(fig) == 0, fig.axes[0].get_title()
        assert _legend_covers_markers(fig) == 0, fig.axes[0].get_title()
        plt.close(fig)


def _legend_covers_markers(fig) -> int:
    """Scatter markers (collections with offsets) inside a legend's box, in display coordinates."""
    fig.canvas.draw()
    boxes = [a.get_legend().get_window_extent() for a in fig.axes if a.get_legend() is not None]
    hits = 0
    for ax in fig.axes:
        for coll in ax.collections:
            pts = np.asarray(coll.get_offsets(), dtype=float)
            if pts.ndim != 2 or pts.shape[0] == 0:
                continue
            xy = coll.get_offset_transform().transform(pts)
            for b in boxes:
                hits += int(np.sum((xy[:, 0] > b.x0) & (xy[:, 0] < b.x1) & (xy[:, 1] > b.y0) & (xy[:, 1] < b.y1)))
    return hits


def test_marker_check_can_fail():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.scatter(np.linspace(0, 1, 50), np.ones(50), label="points")
    ax.legend(loc="center")
    assert _legend_covers_markers(fig) > 0
    plt.close(fig)


def test_premium_section_without_trades_shows_the_premium_used():
    from gelav.report import build_report

    rep = build_report({"premium": {"alpha": 0.05}}, sections=["premium"])
    key = rep.sections["premium"].table
    assert key["α level of a(L)"] == 0.05 and key["term scaling f(T)"] == "sqrt"
    assert key["π at L = 0, T = 5 y [share of NAV]"] == pytest.approx(0.05 * math.sqrt(5), rel=1e-14)


@pytest.mark.browser
def test_valuation_page_reads_well_in_chromium(report, tmp_path):
    _, page = report
    dom = _dump_dom(_require_chromium(), page, tmp_path)
    assert _page_problems(dom) == []
    total, ok, errors = _figure_status(dom)
    assert total == ok == page.read_text().count('<img class="gelav-figure"') > 0 and errors == 0


def test_portfolio_table_and_option_errors(tmp_path):
    from gelav.scenario import ScenarioError

    base = '[[funds]]\nname = "A"\nnav = 100.0\nremaining_life = 5.87\n'
    (tmp_path / "p.toml").write_text(base)
    r = CliRunner().invoke(main, ["portfolio", str(tmp_path / "p.toml"), "--equilibrium"])
    assert r.exit_code == 2 and "`--horizon`" in r.output
    (tmp_path / "p.toml").write_text(base + "[portfolio]\nlevels = [0.5, 1.5]\n")
    with pytest.raises(ScenarioError, match=r"\[portfolio\] field `levels`"):
        tasks.portfolio(tmp_path / "p.toml")
    (tmp_path / "p.toml").write_text(base + '[portfolio]\nscenario = "crash"\n')
    r = CliRunner().invoke(main, ["portfolio", str(tmp_path / "p.toml")])
    assert r.exit_code == 2 and "`--scenario` 'crash'" in r.output and "gfc" in r.output


def test_saved_gbm_calibration_shows_its_own_parameters(tmp_path):
    """A `gelav calibrate --model gbm --save` scenario whose data file is gone: μ and σ with their intervals."""
    from gelav.report import build_report

    _series_csv(tmp_path / "series.csv")
    r = CliRunner().invoke(main, ["calibrate", str(tmp_path / "series.csv"), "--model", "gbm", "--save",
                                  str(tmp_path / "fit.toml"), "-q"])
    assert r.exit_code == 0, r.output
    fit = tasks.calibrate({"calibration": {"data": str(tmp_path / "series.csv"), "model": "gbm"}}).fit
    (tmp_path / "series.csv").unlink()
    rep = build_report(tmp_path / "fit.toml", sections=["calibration"])
    sec = rep.sections["calibration"]
    assert sec.title == "Calibration (saved)" and sec.numbers == {"mu": fit.estimates["mu"], "sigma": fit.estimates["sigma"]}
    assert f"[{fit.conf_int['sigma'][0]:.4g}, {fit.conf_int['sigma'][1]:.4g}]" in sec.html
    assert _page_problems(rep.html) == []
