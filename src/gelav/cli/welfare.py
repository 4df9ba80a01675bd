"""``gelav welfare``: the planner's optimum, the Pigouvian tax τ*(t, L) and the welfare gap of a preset or scenario."""

from __future__ import annotations

import math
from typing import Any

import click

from gelav._display import fmt_fixed
from gelav.cli._common import dump_json, handle_errors, print_table, save_figure


def _pct(x: float) -> str:
    return f"{100 * x:.3f} %" if math.isfinite(x) else "n/a"


@click.command("welfare")
@click.option("--preset", "preset", default=None,
              help="Preset: calm, stress, crisis, heterogeneous, fire-sale, vintages, q4-seasonality (default stress).")
@click.option("--config", "config", default=None, type=click.Path(dir_okay=False),
              help="Scenario TOML file with an [mfg] table (and optionally [welfare]: preset, n_cells, n_steps, "
                   "epsilon).")
@click.option("--n-cells", default=None, type=click.IntRange(min=4), help="Liquidity cells (default from the scenario).")
@click.option("--n-steps", default=None, type=click.IntRange(min=2), help="Time steps (default from the scenario).")
@click.option("--epsilon", default=None, type=float, help="Relaxation of the exit decision (default from the scenario).")
@click.option("--starts", default=None, metavar="TAX,TAX,...",
              help="Initial taxes of the planner's iteration [NAV], e.g. 0,-0.1,0.05 (a negative one is a subsidy); "
                   "the best stationary point is kept (default 0, or [welfare] starts).")
@click.option("--check/--no-check", "check", default=True, show_default=True,
              help="Solve again at ε/2 and on half the grid and show how far the gap moves; an unresolved gap "
                   "is not printed.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of tables.")
@click.option("--plot", "plot", default=None, type=click.Path(dir_okay=False),
              help="Figure file: τ*(t, L), the exit policies and the price paths side by side.")
@click.option("-q", "--quiet", is_flag=True, help="No progress display.")
@handle_errors
def welfare(preset: str | None, config: str | None, n_cells: int | None, n_steps: int | None,
            epsilon: float | None, starts: str | None, check: bool, as_json: bool, plot: str | None,
            quiet: bool) -> None:
    """Planner vs equilibrium: the Pigouvian tax τ*(L), the welfare gap and the price of anarchy.

    Welfare is the LPs' expected discounted payoff; tax revenue is rebated lump-sum.
    Examples: `gelav welfare --preset crisis`, `gelav welfare --config pension.toml --json`.
    """
    from gelav import tasks
    from gelav.mfg.accounts import welfare_figure
    from gelav.scenario import load
    from gelav.tasks.welfare import welfare_model

    if preset is not None and config is not None:
        raise click.UsageError("Give either --preset NAME or --config FILE, not both.")
    if epsilon is not None and (not math.isfinite(epsilon) or epsilon <= 0):
        raise click.BadParameter(f"`--epsilon` must be a positive number, got {epsilon}.")
    start_taxes = None
    if starts is not None:
        try:
            start_taxes = tuple(float(x) for x in starts.split(","))
        except ValueError:
            raise click.BadParameter(f"give numbers separated by commas, got {starts!r}.",
                                     param_hint="'--starts'") from None
        if not all(math.isfinite(x) for x in start_taxes):
            raise click.BadParameter(f"every start must be finite, got {starts!r}.", param_hint="'--starts'")
    data = load(config) if config is not None else None
    sc = welfare_model(data, preset)
    if sc.model.market.coupling is not None and not quiet and not as_json:
        click.echo("Note: a user price coupling is differentiated numerically.", err=True)

    progress = None
    callback = None
    if not quiet and not as_json:
        from rich.progress import Progress, TextColumn, TimeElapsedColumn

        progress = Progress(TextColumn("[bold]{task.description}"), TextColumn("{task.fields[info]}"),
                            TimeElapsedColumn(), transient=True)
        task = progress.add_task(f"planner for {sc.name}", total=None, info="")

        def callback(rec: dict[str, Any]) -> None:
            progress.update(task, info=f"it {rec['iteration']} Δτ = {rec['tax_change']:.2e}")

        progress.start()
    try:
        rep = tasks.welfare(data, preset=preset, n_cells=n_cells, n_steps=n_steps, epsilon=epsilon,
                            starts=start_taxes, callback=callback, check=check)
    finally:
        if progress is not None:
            progress.stop()
    sol, w = rep.planner, rep.welfare
    if plot:
        save_figure(welfare_figure(sol), plot)
    exits_eq, exits_pl = rep.exits
    if as_json:
        out = rep.to_dict()
        if plot:
            out["plot"] = plot
        dump_json(out)
        return
    gc = rep.check
    unresolved = gc is not None and not gc.resolved
    gap, per_year, poa = fmt_fixed(w.gap), _pct(w.gap_per_year), fmt_fixed(w.price_of_anarchy)
    if gc is not None and math.isfinite(gc.error) and gc.error > 0:
        gap += f" ± {fmt_fixed(gc.error)}"
    if unresolved:
        gap = per_year = poa = "not resolved"
    print_table(f"Welfare: {sc.name} (NAV per unit of LP population)", ["quantity", "value"], [
        ["LP welfare, planner", fmt_fixed(w.planner_welfare)],
        ["LP welfare, equilibrium", fmt_fixed(w.equilibrium_welfare)],
        ["welfare gap", gap],
        ["gap per year, fraction of NAV", per_year],
        ["price of anarchy", poa],
        ["tax revenue under τ* (rebated lump-sum)", fmt_fixed(w.tax_revenue)],
        ["buyers' surplus under τ*", fmt_fixed(w.buyers_surplus)],
        ["total exits, equilibrium / planner", f"{_pct(exits_eq)} / {_pct(exits_pl)}"],
    ])
    print_table("Pigouvian tax τ*(t0, L) [% of NAV]", ["L", "τ*"],
                [[L, _pct(v)] for L, v in w.tax_at_start.items()])
    d = sol.diagnostics
    points = d.get("stationary_points", [])
    if len(points) > 1:
        print_table("Stationary points of the planner's iteration (the best is kept)", ["start τ", "welfare",
                                                                                        "iterations", "exits"],
                    [[p["start"], f"{p['welfare']:.6f}", p["iterations"], _pct(p["exits"])] if "failed" not in p
                     else [p["start"], "failed", "-", p["failed"][:60]] for p in points])
    print_table("Solver", ["quantity", "value"], [
        ["outer iterations", d["iterations"]], ["last tax change", f"{d['tax_change']:.2e}"],
        ["mass balance error", f"{d['mass_balance_error']:.1e}"], ["duality error", f"{d['duality_error']:.1e}"],
        ["seconds", f"{d['seconds']:.2f}"]])
    if unresolved:
        assert gc is not None
        if gc.error < math.inf:
            click.echo(f"Note: the welfare gap is not resolved at these numerics (it is {gc.gap:.2e} here, "
                       f"{gc.half_epsilon_gap:.2e} at ε/2 and {gc.coarse_gap:.2e} on half the grid); lower "
                       "--epsilon and refine --n-cells/--n-steps.", err=True)
        else:
            click.echo(f"Note: the welfare gap is not resolved: its refinement check found no answer ({gc.reason}).",
                       err=True)
