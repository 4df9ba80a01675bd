"""``gelav mfg``: solve the mean-field game of LP exits for a preset or a scenario file."""

from __future__ import annotations

import math
from typing import Any

import click

from gelav.cli._common import dump_json, handle_errors, print_table, save_figure
from gelav.cli.mfg_control import control_options, run_control


def _pct(x: float) -> str:
    return f"{100 * x:.2f} %"


@click.command("mfg")
@click.option("--scenario", "scenario_name", default=None,
              help="Preset: calm, stress, crisis, heterogeneous, fire-sale, vintages, thin-market, q4-seasonality.")
@click.option("--config", "config", default=None, type=click.Path(dir_okay=False),
              help="Scenario TOML file with an [mfg] table.")
@click.option("--method", default=None,
              type=click.Choice(["auto", "picard", "fictitious", "anderson", "newton-krylov"]),
              help="Fixed-point method (default from the scenario: auto).")
@click.option("--tol", default=None, type=float, help="Residual tolerance (default 1e-8).")
@click.option("--n-cells", default=None, type=int, help="Liquidity cells (default from the scenario).")
@click.option("--n-steps", default=None, type=int, help="Time steps (default from the scenario).")
@click.option("--epsilon", default=None, type=float, help="Relaxation of the exit decision (default 1e-3).")
@click.option("--at", "at", default="-0.5,0,1", show_default=True,
              help="Liquidity states at which to report values (comma separated).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of tables.")
@click.option("--plot", "plot", default=None, type=click.Path(),
              help="Folder for the figures (density, price, values, exits, convergence).")
@click.option("--quiet", is_flag=True, help="No progress display.")
@control_options
@handle_errors
def mfg(scenario_name: str | None, config: str | None, method: str | None, tol: float | None,
        n_cells: int | None, n_steps: int | None, epsilon: float | None, at: str, as_json: bool,
        plot: str | None, quiet: bool, game: str | None = None, **game_params: float | None) -> None:
    """Equilibrium of the GE-LAV mean-field game of LP exits.

    Prints the equilibrium discount now and at its worst, total exits, the
    liquidity-adjusted value at selected states against the no-feedback
    (DCF-like) value, iterations, residual and time.

    Examples: `gelav mfg --scenario stress`, `gelav mfg --config pension.toml --json`.
    """
    if game is not None:  # continuous-control games: gelav.cli.mfg_control
        return run_control(game=game, config=config, scenario=scenario_name, method=method, tol=tol, n_cells=n_cells,
                           n_steps=n_steps, epsilon=epsilon, as_json=as_json, plot=plot, quiet=quiet, **game_params)
    import dataclasses

    from gelav.mfg.io import load_scenario
    from gelav.mfg.solver import solve

    if scenario_name is not None and config is not None:
        raise click.UsageError("Give either --scenario NAME or --config FILE, not both.")
    if scenario_name is None and config is None:
        scenario_name = "stress"  # the seed's start, L0 = -0.5 for every LP
    sc = load_scenario(scenario_name if scenario_name is not None else config)  # type: ignore[arg-type]
    try:
        Ls = [float(s) for s in at.split(",") if s.strip()]
    except ValueError:
        raise click.BadParameter(f"`--at` must be numbers separated by commas, got {at!r}.") from None
    if not Ls or not all(math.isfinite(v) for v in Ls):
        raise click.BadParameter(f"`--at` must be finite numbers separated by commas, got {at!r}.")
    nkw: dict[str, Any] = {}
    if n_cells is not None:
        nkw["n_cells"] = n_cells
    if n_steps is not None:
        nkw["n_steps"] = n_steps
    if epsilon is not None:
        nkw["epsilon"] = epsilon
    numerics = dataclasses.replace(sc.numerics, **nkw)
    options = sc.options
    if method is not None:
        options = dataclasses.replace(options, method=method)
    if tol is not None:
        options = dataclasses.replace(options, tol=tol)

    progress = None
    callback = None
    if not quiet and not as_json:
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(), TextColumn("{task.fields[info]}"),
                            TimeElapsedColumn(), transient=True)
        task = progress.add_task(f"solving {sc.name}", total=None, info="")

        def callback(rec: dict[str, Any]) -> None:
            progress.update(task, advance=1, info=f"it {rec['iteration']} ε={rec['epsilon']:.0e} "
                                                  f"residual {rec['residual']:.2e} ({rec['method']})")

        progress.start()
    import warnings

    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            eq = solve(sc.model, numerics=numerics, options=options, callback=callback)
    finally:
        if progress is not None:
            progress.stop()
    warned = [str(w.message) for w in caught]
    summ = eq.summary(Ls)
    if plot:
        from pathlib import Path

        folder = Path(plot)
        for kind in ("price", "exits", "convergence"):
            save_figure(eq.plot(kind), str(folder / f"{sc.name}_{kind}.png"))
        for k, name in enumerate(eq.type_names):
            save_figure(eq.plot_density(type=k), str(folder / f"{sc.name}_density_{name}.png"))
            save_figure(eq.plot_values(type=k), str(folder / f"{sc.name}_values_{name}.png"))
    if as_json:
        out = {"scenario": sc.name, **summ, "notes": eq.diagnostics.get("notes", []), "warnings": warned,
               "timings": eq.timings, "n_nodes": eq.grid.n_nodes, "n_steps": eq.times.size - 1}
        if eq.others:
            out["other_equilibria"] = [o.summary(Ls) for o in eq.others]
        if plot:
            out["plot_folder"] = plot
        dump_json(out)
        return
    rows = []
    for t in summ["types"]:
        row = [t["type"], _pct(t["discount_now"]), f"{_pct(t['discount_worst'])} (t={t['worst_at']:.2f})",
               _pct(t["no_feedback_discount_now"]), _pct(t["total_exits"]), _pct(t["no_feedback_exits"])]
        rows.append(row)
    for i, o in enumerate(eq.others, start=2):
        for t in o.summary(Ls)["types"]:
            rows.append([f"{t['type']} (equilibrium {i})", _pct(t["discount_now"]),
                         f"{_pct(t['discount_worst'])} (t={t['worst_at']:.2f})", _pct(t["no_feedback_discount_now"]),
                         _pct(t["total_exits"]), _pct(t["no_feedback_exits"])])
    print_table(f"GE-LAV mean-field equilibrium: {sc.name}",
                ["type", "discount now", "worst discount", "no-feedback discount", "total exits", "no-feedback exits"],
                rows)
    vrows = []
    for t in summ["types"]:
        for L, v in t["values"].items():
            vrows.append([t["type"], L, f"{v['equilibrium']:.4f}", f"{v['no_feedback']:.4f}", f"{v['dcf']:.4f}",
                          f"{v['equilibrium'] - v['no_feedback']:+.4f}"])
    print_table("Liquidity-adjusted value at t = 0 [NAV]",
                ["type", "L", "equilibrium", "no feedback (DCF-like)", "DCF (hold)", "difference"], vrows)
    print_table("Solver", ["quantity", "value"], [
        ["iterations", eq.iterations], ["residual", f"{eq.residual:.2e}"],
        ["exploitability", f"{eq.exploitability:.2e}"],
        ["mass balance error", f"{eq.diagnostics['mass_balance_error']:.1e}"],
        ["relaxation ε", f"{eq.diagnostics['epsilon']:g}"],
        ["equilibria found", eq.n_equilibria],
        ["grid", f"{eq.grid.n_nodes} nodes × {eq.times.size - 1} steps"],
        ["time", f"{eq.timings['total']:.2f} s"],
    ], caption="; ".join([*eq.diagnostics.get("notes", []), *warned]) or None)
