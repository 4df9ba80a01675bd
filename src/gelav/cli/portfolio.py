"""``gelav portfolio``: stress a portfolio of fund stakes along a liquidity scenario."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from gelav.cli._common import dump_json, handle_errors, output_options, print_table, save_figure
from gelav.cli.metrics import premium_options, resolve_premium


def _funds(data: dict[str, Any], src: str) -> list[Any]:
    from gelav.portfolio import Fund
    from gelav.scenario import ScenarioError, Section

    rows = data.get("funds")
    if not isinstance(rows, list) or not rows:
        raise ScenarioError(f"{src}: needs a [[funds]] list (name, nav, remaining_life, type).")
    out = []
    for i, t in enumerate(rows, start=1):
        sec = Section(t, f"funds #{i}", source=src)
        name = sec.get("name")
        if not isinstance(name, str) or not name:
            raise ScenarioError(f"{src}: [funds #{i}] field `name` = {name!r}: expected a non-empty string.")
        nav = sec.number("nav", required=True, check=lambda v: v >= 0, expected="a number >= 0")
        life = sec.number("remaining_life", required=True, check=lambda v: v >= 0, expected="a number >= 0 (years)")
        kind = sec.get("type", "buyout")
        if not isinstance(kind, str):
            raise ScenarioError(f"{src}: [funds #{i}] field `type` = {kind!r}: expected a string.")
        sec.check_unknown(("name", "nav", "remaining_life", "type"))
        out.append(Fund(name, float(nav or 0.0), float(life or 0.0), type=kind))  # required: never None
    return out


def _scenario(data: dict[str, Any], name: str, src: str, L0: float | None, seed: int | None) -> Any:
    from gelav.portfolio import SCENARIOS, Scenario
    from gelav.scenario import ScenarioError, Section, process_from_config

    start = 0.0 if L0 is None else L0
    if name.lower() in SCENARIOS:
        return Scenario.standard(name, start)
    custom = data.get("scenarios", {})
    if not isinstance(custom, dict) or name not in custom:
        known = list(SCENARIOS) + (sorted(custom) if isinstance(custom, dict) else [])
        raise click.BadParameter(f"unknown scenario {name!r}; choose among {', '.join(known)}.",
                                 param_hint="'--scenario'")
    sec = Section(custom[name], f"scenarios.{name}", source=src)
    kind = sec.choice("kind", ("path", "ou"), default="path")
    if kind == "path":
        L = sec.get("L")
        if not isinstance(L, list) or not L or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in L):
            raise ScenarioError(f"{src}: [scenarios.{name}] field `L` must be a non-empty list of numbers.")
        months = sec.get("months")
        sec.check_unknown(("kind", "L", "months"))
        return Scenario.custom(L, months=months, name=name)
    months = int(sec.integer("months", default=60) or 60)
    s = sec.integer("seed", minimum=0)
    x0 = float(sec.number("L0", default=start) or 0.0) if L0 is None else L0
    proc = sec.get("process")
    sec.check_unknown(("kind", "months", "seed", "L0", "process"))
    process = process_from_config(proc, source=src) if proc is not None else None
    return Scenario.stochastic(process, months=months, L0=x0, seed=seed if seed is not None else s, name=name)


@click.command()
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--scenario", "scenario", default="gfc", show_default=True,
              help="mild, recession, gfc, covid, stagnation, reverse, or a [scenarios.NAME] table of FILE.")
@click.option("--L0", "L0", type=float, default=None, help="Starting liquidity state of a standard scenario [0].")
@click.option("--exit-level", type=float, default=None,
              help="Sell a fund the first month L_t falls below this level [default: no exits].")
@click.option("--horizon", type=float, default=None,
              help="Also give VaR/ES of the loss at this horizon (years) from the Fokker–Planck density.")
@click.option("--levels", default="0.95,0.99", show_default=True, help="VaR/ES levels (with --horizon).")
@click.option("--seed", type=int, default=None, help="Seed of a stochastic (kind = 'ou') scenario.")
@premium_options
@output_options(config_help="Another TOML file whose [premium] table applies (FILE's own [premium] otherwise).",
                plot_help="Write the path and drawdown figure to this image file.",
                json_help="Print one JSON object instead of tables.")
@handle_errors
def portfolio(file, scenario, L0, exit_level, horizon, levels, seed, alpha, beta, gamma, scaling, config, as_json,
              plot, quiet):
    """Mark the funds of FILE.toml along a liquidity scenario: NAV·(1 − π(L_t, T − t)), exits, drawdown.

    FILE is TOML with a [[funds]] list (`name`, `nav`, `remaining_life`, `type`),
    an optional [premium] table (alpha, beta, gamma, scaling) and optional
    [scenarios.NAME] tables (`L = [...]` monthly levels, or `kind = "ou"` with
    `months`, `seed`, `L0`). The drawdown is measured from the t = 0 mark; the
    course's measure from book NAV (which includes the starting discount) is
    printed beside it.
    """
    from gelav.portfolio import mark_distribution, stress_portfolio
    from gelav.scenario import load

    try:
        qs = [float(v) for v in levels.split(",") if v.strip()]
    except ValueError:
        raise click.BadParameter(f"must be comma-separated numbers in (0, 1), got {levels!r}.",
                                 param_hint="'--levels'") from None
    if not qs or any(not 0 < q < 1 for q in qs):
        raise click.BadParameter(f"must be numbers in (0, 1), got {levels!r}.", param_hint="'--levels'")
    if horizon is not None and not horizon > 0:
        raise click.BadParameter(f"must be > 0, got {horizon}.", param_hint="'--horizon'")
    data = load(file)
    src = data["_path"]
    extra = load(config) if config is not None else None
    premium = resolve_premium(extra if extra is not None and "premium" in extra else data, alpha, beta, gamma, scaling)
    funds = _funds(data, src)
    sc = _scenario(data, scenario, src, L0, seed)
    res = stress_portfolio(funds, sc, premium=premium, boundary=exit_level)
    dist = None
    if horizon is not None:
        dist = mark_distribution(funds, horizon, L0=float(sc.L[0]), premium=premium, levels=qs)
    if plot:
        save_figure(res.plot(), plot)
    if as_json:
        out = {"file": str(Path(file)), "premium": premium.to_dict(), **res.as_dict()}
        if dist is not None:
            out["distribution"] = dist.as_dict()
        dump_json(out)
        return
    if quiet:
        return
    rows = [[f.name, f.type, f"{f.nav:g}", f"{f.remaining_life:g}", f"{res.marks[0, i]:.4g}", f"{res.marks[-1, i]:.4g}",
             "held" if res.exit_month[f.name] is None else f"month {res.exit_month[f.name]:g}"]
            for i, f in enumerate(funds)]
    rows.append(["total", "", f"{res.book_nav:g}", "", f"{res.total[0]:.4g}", f"{res.total[-1]:.4g}", ""])
    rec = "not within the path" if res.recovery_month is None else f"month {res.recovery_month:g}"
    print_table(f"Scenario {sc.name!r} ({sc.months[-1]:g} months, L from {sc.L[0]:g} to {sc.L[-1]:g})",
                ["fund", "type", "NAV", "T [y]", "mark t=0", "mark end", "exit"], rows,
                caption=(f"max drawdown from the t = 0 mark {res.max_drawdown:.2%} (month {res.trough_month:g}), "
                         f"recovery {rec}; from book NAV {res.drawdown_from_book.min():.2%} "
                         f"(includes the starting discount {res.starting_discount:.2%})"))
    if dist is not None:
        print_table(f"Loss from the t = 0 mark at h = {horizon:g} y (Fokker–Planck)", ["level", "VaR", "ES"],
                    [[f"{q:g}", f"{dist.var[q]:.4g}", f"{dist.es[q]:.4g}"] for q in dist.levels])
    if plot:
        click.echo(f"figure written to {plot}")
