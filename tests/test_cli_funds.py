"""`gelav metrics` and `gelav portfolio` (issue 12): output, JSON, plot, config, exit code 2 naming the option/row."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from gelav.cli import main

TOML = """
[premium]
alpha = 0.045
[[funds]]
name = "A"
nav = 100.0
remaining_life = 5.87
[scenarios.mine]
L = [0.0, -0.3, -0.8, -0.2]
[scenarios.sim]
kind = "ou"
months = 12
seed = 3
"""


@pytest.fixture
def fund_file(tmp_path):
    from gelav.datasets import fund_cashflows

    return str(fund_cashflows(seed=5).to_csv(tmp_path / "fund.csv"))


@pytest.fixture
def toml_file(tmp_path):
    p = tmp_path / "p.toml"
    p.write_text(TOML)
    return str(p)


def test_metrics_json_matches_api(fund_file):
    from gelav.funds import read_cashflows
    from gelav.valuation.premium import IlliquidityPremium

    r = CliRunner().invoke(main, ["metrics", fund_file, "--json", "--alpha", "0.05"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    m = read_cashflows(fund_file).metrics(IlliquidityPremium(alpha=0.05))
    assert out["irr"] == pytest.approx(m.irr.rate) and out["la_pme"] == pytest.approx(m.la_pme)
    assert out["premium"]["alpha"] == 0.05


def test_metrics_table_plot_config(fund_file, toml_file, tmp_path):
    png = tmp_path / "f.png"
    r = CliRunner().invoke(main, ["metrics", fund_file, "--config", toml_file, "--plot", str(png)])
    assert r.exit_code == 0, r.output
    assert "LA-IRR" in r.output and png.exists()
    r = CliRunner().invoke(main, ["metrics", fund_file, "-q"])
    assert r.exit_code == 0 and r.output == ""


def test_metrics_several_irrs_are_listed(tmp_path):
    p = tmp_path / "two.csv"
    p.write_text("year,cashflow\n0,-1\n1,2.3\n2,-1.32\n")
    r = CliRunner().invoke(main, ["metrics", str(p)])
    assert r.exit_code == 0, r.output
    assert "several" in r.output and "10.00%" in r.output and "20.00%" in r.output


@pytest.mark.parametrize("args, match", [
    (["--nav", "-1"], "--nav"),
    (["--flow-column", "zzz"], "`--flow-column` 'zzz'"),
    (["--scaling", "cubic"], "--scaling"),
])
def test_metrics_bad_options_exit_2(fund_file, args, match):
    r = CliRunner().invoke(main, ["metrics", fund_file, *args])
    assert r.exit_code == 2 and match in r.output


def test_metrics_bad_row_exit_2(tmp_path):
    p = tmp_path / "bad.csv"
    p.write_text("date,cashflow\n2020-03-31,-1\n2020-06-30,x\n")
    r = CliRunner().invoke(main, ["metrics", str(p)])
    assert r.exit_code == 2 and "row 2, column 'cashflow'" in r.output
    for cell in ("", "NA", "nan"):  # was dropped with a note, IRR 4.88 % printed for the rest
        p.write_text(f"year,cashflow\n0,-100\n1,{cell}\n2,110\n")
        r = CliRunner().invoke(main, ["metrics", str(p)])
        assert r.exit_code == 2 and "row 2, column 'cashflow': missing value" in r.output and "IRR" not in r.output


def test_portfolio_reverse_json_and_custom(toml_file, tmp_path):
    r = CliRunner().invoke(main, ["portfolio", toml_file, "--scenario", "reverse", "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert out["max_drawdown"] == 0.0 and round(100 * out["max_drawdown_from_book"], 1) == -10.9
    r = CliRunner().invoke(main, ["portfolio", toml_file, "--scenario", "mine", "--horizon", "1", "--plot",
                                  str(tmp_path / "p.png")])
    assert r.exit_code == 0, r.output
    assert "VaR" in r.output and (tmp_path / "p.png").exists()
    r = CliRunner().invoke(main, ["portfolio", toml_file, "--scenario", "sim", "-q"])
    assert r.exit_code == 0 and r.output == ""


@pytest.mark.parametrize("args, match", [
    (["--scenario", "crash"], "--scenario"),
    (["--horizon", "-1"], "--horizon"),
    (["--levels", "0.5,2"], "--levels"),
])
def test_portfolio_bad_options_exit_2(toml_file, args, match):
    r = CliRunner().invoke(main, ["portfolio", toml_file, *args])
    assert r.exit_code == 2 and match in r.output


def test_portfolio_bad_toml_exit_2(tmp_path):
    p = tmp_path / "bad.toml"
    p.write_text('[[funds]]\nname = "A"\nnav = -5\nremaining_life = 3\n')
    r = CliRunner().invoke(main, ["portfolio", str(p)])
    assert r.exit_code == 2 and "`nav`" in r.output
    p.write_text('[[funds]]\nname = "A"\nnav = 5\nremaining_life = 3\ncolour = "red"\n')
    r = CliRunner().invoke(main, ["portfolio", str(p)])
    assert r.exit_code == 2 and "colour" in r.output


def test_report_hooks_return_numbers_and_a_figure(fund_file):
    from gelav.portfolio import Fund
    from gelav.valuation.cashflows import report_metrics
    from gelav.valuation.lav import report_lav
    from gelav.valuation.stress import report_mark_distribution, report_portfolio

    nums, fig = report_metrics(fund_file)
    assert nums["tvpi"] > 0 and fig is not None
    nums, fig = report_lav(n_cells=40, steps_per_period=4)
    assert nums["value"] > 0 and fig is not None
    funds = [Fund("A", 100.0, 5.87)]
    nums, fig = report_portfolio(funds=funds, scenario="reverse")
    assert nums["max_drawdown"] == 0.0 and fig is not None
    nums, fig = report_mark_distribution(funds=funds, horizon=1.0)
    assert set(nums["var"]) == {"0.95", "0.99"} and fig is not None


def test_portfolio_horizon_past_every_fund_s_life_prints_the_certain_loss(tmp_path):
    # was an IndexError (exit 1); the number is the one quoted in docs/funds.md
    p = tmp_path / "p.toml"
    p.write_text('[[funds]]\nname = "A"\nnav = 100.0\nremaining_life = 5.87\n'
                 '[[funds]]\nname = "B"\nnav = 50.0\nremaining_life = 3.0\n')
    r = CliRunner().invoke(main, ["portfolio", str(p), "--horizon", "6"])
    assert r.exit_code == 0, r.output
    assert "(certain)" in r.output and "-14.8 " in r.output and "remaining life is at most" in r.output


def test_portfolio_exit_boundary_sells_below_each_stake_s_boundary(tmp_path):
    # --exit-boundary solves L*(t) over the longest remaining life (every stake is covered: the problem depends
    # on the remaining life only) and sells each fund the first month L_t < L*(life − (T_i − t))
    import numpy as np

    from gelav import tasks

    text = ('[[funds]]\nname = "A"\nnav = 100.0\nremaining_life = 5.87\n'
            '[[funds]]\nname = "B"\nnav = 50.0\nremaining_life = 3.0\n'
            '[exit_boundary]\ncells = 150\nsteps = 200\n')
    p = tmp_path / "p.toml"
    p.write_text(text)
    from gelav.scenario import load

    rep = tasks.portfolio(load(p), exit_boundary=True)
    b = rep.boundary.result
    assert b.fund_life == 5.87
    L, t = rep.scenario.L, rep.scenario.times
    for f in rep.funds:
        rem = f.remaining_life - t
        below = np.flatnonzero((rem > 0) & (L < np.array([b.boundary(b.fund_life - r) for r in rem])))
        expected = None if below.size == 0 else float(rep.scenario.months[below[0]])
        assert rep.stress.exit_month[f.name] == expected
    assert any(v is not None for v in rep.stress.exit_month.values())
    assert "exit rule: L_t < L*(T − t)" in " ".join(rep.key_numbers())
    r = CliRunner().invoke(main, ["portfolio", str(p), "--exit-boundary"])
    assert r.exit_code == 0 and "exit rule: sell when L_t < L*(T − t)" in r.output
    r = CliRunner().invoke(main, ["portfolio", str(p), "--exit-boundary", "--exit-level", "-1"])
    assert r.exit_code == 2 and "`--exit-level` or `--exit-boundary`" in r.output


def test_metrics_huge_multiples_print_in_scientific_notation(fund_file):
    # --nav 1e308 printed TVPI as a 307-digit fixed-point number
    from gelav.funds import read_cashflows

    m = read_cashflows(fund_file, nav=1e308).metrics()
    r = CliRunner().invoke(main, ["metrics", fund_file, "--nav", "1e308"])
    assert r.exit_code == 0, r.output
    tvpi_row = next(line for line in r.output.splitlines() if "TVPI" in line)
    assert f"{m.tvpi:.2e}" == "1.27e+306" and "1.27e+306" in tvpi_row and len(tvpi_row) < 60  # docs/cli.md
    assert max(len(line) for line in r.output.splitlines()) < 100
    r = CliRunner().invoke(main, ["metrics", fund_file])
    m0 = read_cashflows(fund_file).metrics()
    assert f"{m0.tvpi:.3f}" in next(line for line in r.output.splitlines() if "TVPI" in line)


def test_metrics_column_errors_name_the_option(tmp_path):
    # "name it with `time_column`": the option is --time-column
    p = tmp_path / "w.csv"
    p.write_text("a,b,c\n1,2,3\n")
    r = CliRunner().invoke(main, ["metrics", str(p)])
    assert r.exit_code == 2 and "`--time-column`" in r.output and "`time_column`" not in r.output
    p.write_text("year,b\n0,1\n1,2\n")
    r = CliRunner().invoke(main, ["metrics", str(p)])
    assert r.exit_code == 2 and "`--flow-column`" in r.output


def test_metrics_huge_liquidity_state_names_row_and_column(tmp_path):
    from click.testing import CliRunner

    from gelav.cli import main

    f = tmp_path / "m.csv"
    f.write_text("year,cashflow,L_t\n0,-100,1.0\n1,10,-1e300\n2,120,0.5\n")
    res = CliRunner().invoke(main, ["metrics", str(f)])
    assert res.exit_code == 2
    assert "row 2, column 'L_t'" in res.output and "--alpha" not in res.output


@pytest.mark.parametrize("body, args, want", [
    ('[[funds]]\nname = "A"\nnav = 0\nremaining_life = 5\n', [], "`nav` = 0 (fund 'A')"),
    ('[[funds]]\nname = "A"\nnav = 10\nremaining_life = 5\n[scenarios.s1]\nL = [0.0, nan, -1.0]\n',
     ["--scenario", "s1"], "[scenarios.s1] field `L` entry 1"),
])
def test_portfolio_messages_name_the_cause(tmp_path, body, args, want):
    from click.testing import CliRunner

    from gelav.cli import main

    f = tmp_path / "p.toml"
    f.write_text(body)
    res = CliRunner().invoke(main, ["portfolio", str(f), *args])
    assert res.exit_code == 2 and want in res.output, res.output
