"""``gelav portfolio``: stress a portfolio of fund stakes along a liquidity scenario."""

from __future__ import annotations

import click

from gelav.cli._common import figure_and_json, handle_errors, output_options, print_table
from gelav.cli._valuation import premium_options, renamed_errors, resolve_premium

_OPTION = {"scenario": "--scenario", "horizon": "--horizon", "levels": "--levels", "L0": "--L0",
           "exit_level": "--exit-level", "exit_boundary": "--exit-boundary", "seed": "--seed",
           "equilibrium": "--equilibrium"}


@click.command()
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--scenario", "scenario", default=None,
              help="mild, recession, gfc, covid, stagnation, reverse, or a [scenarios.NAME] table of FILE "
                   "[default: FILE's [portfolio] scenario, else gfc].")
@click.option("--L0", "L0", type=float, default=None, help="Starting liquidity state of a standard scenario [0].")
@click.option("--exit-level", type=float, default=None,
              help="Sell a fund the first month L_t falls below this level [default: no exits].")
@click.option("--exit-boundary/--no-exit-boundary", "exit_boundary", default=None,
              help="Sell a fund the first month L_t falls below its stake's exit boundary L*(T − t), solved with "
                   "FILE's [process], [premium] and [exit_boundary] settings over the longest remaining life.")
@click.option("--horizon", type=float, default=None,
              help="Also give VaR/ES of the loss at this horizon (years) from the Fokker–Planck density.")
@click.option("--levels", default=None, help="VaR/ES levels (with --horizon) [default 0.95,0.99].")
@click.option("--equilibrium/--no-equilibrium", "equilibrium", default=None,
              help="Price the marks at the horizon with the crowding discount of FILE's [mfg] equilibrium.")
@click.option("--seed", type=int, default=None, help="Seed of a stochastic (kind = 'ou') scenario.")
@premium_options
@output_options(config_help="Another TOML file whose [premium] table applies (FILE's own [premium] otherwise).",
                plot_help="Write the path and drawdown figure to this image file.",
                json_help="Print one JSON object instead of tables.")
@handle_errors
def portfolio(file, scenario, L0, exit_level, exit_boundary, horizon, levels, equilibrium, seed, alpha, beta, gamma,
              scaling, config, as_json, plot, quiet):
    """Mark the funds of FILE.toml along a liquidity scenario: NAV·(1 − π(L_t, T − t)), exits, drawdown.

    FILE is TOML with a [[funds]] list (`name`, `nav`, `remaining_life`, `type`),
    an optional [premium] table (alpha, beta, gamma, scaling) and optional
    [scenarios.NAME] tables (`L = [...]` monthly levels, or `kind = "ou"` with
    `months`, `seed`, `L0`) and an optional [portfolio] table (scenario, L0,
    exit_level or exit_boundary, horizon, levels, seed, cells, steps, equilibrium). The drawdown is measured from the t = 0 mark; the
    course's measure from book NAV (which includes the starting discount) is
    printed beside it.
    """
    from gelav import tasks
    from gelav.scenario import load

    qs = None
    if levels is not None:
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
    extra = load(config) if config is not None else None
    premium = resolve_premium(extra if extra is not None and "premium" in extra else data, alpha, beta, gamma, scaling)
    rep = renamed_errors(lambda: tasks.portfolio(data, name=scenario, L0=L0, exit_level=exit_level, horizon=horizon,
                                                 levels=qs, seed=seed, equilibrium=equilibrium, premium=premium,
                                                 exit_boundary=exit_boundary),
                         _OPTION)
    funds, sc, res, dist = rep.funds, rep.scenario, rep.stress, rep.distribution
    horizon = None if dist is None else dist.horizon
    if not figure_and_json(res.plot, plot, as_json, quiet, rep.to_dict):
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
    if rep.boundary is not None:
        b = rep.boundary.result
        chk = rep.boundary.check
        ind = f", grid indicator ± {chk['indicator']:.2g}" if chk is not None and chk["indicator"] == chk["indicator"] else ""
        click.echo(f"exit rule: sell when L_t < L*(T − t), the boundary of a {b.fund_life:g}-year stake "
                   f"(L*(0) = {b.boundary(0.0):.4g}{ind})")
    if dist is not None:
        crowd = dist.diagnostics.get("crowding_discount")
        how = "Fokker–Planck" if dist.density is not None else "certain"
        print_table(f"Loss from the t = 0 mark at h = {horizon:g} y ({how})", ["level", "VaR", "ES"],
                    [[f"{q:g}", f"{dist.var[q]:.4g}", f"{dist.es[q]:.4g}"] for q in dist.levels],
                    caption=None if crowd is None else (f"marks carry the equilibrium's crowding discount "
                                                        f"{crowd[0]:.2%} now, {crowd[1]:.2%} at h"))
        if "deterministic" in dist.diagnostics:
            click.echo(f"note: {dist.diagnostics['deterministic']}")
    if plot:
        click.echo(f"figure written to {plot}")
