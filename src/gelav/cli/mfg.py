"""``gelav mfg``: solve the mean-field game of LP exits for a preset or a scenario file (a thin layer over
:func:`gelav.tasks.mfg`)."""

from __future__ import annotations

import math
from typing import Any

import click

from gelav.cli._common import Output, print_table, shared_options
from gelav.cli.mfg_control import control_options, run_control


def _pct(x: float) -> str:
    return f"{100 * x:.2f} %"


def _preset_help() -> str:
    from gelav.tasks.mfg import presets

    return "Preset: " + ", ".join(presets()) + " [default stress]."


@click.command("mfg")
@click.option("--scenario", "scenario_name", default=None, help=_preset_help())
@click.option("--method", default=None,
              type=click.Choice(["auto", "picard", "fictitious", "anderson", "newton-krylov"]),
              help="Fixed-point method (default from the scenario: auto).")
@click.option("--tol", default=None, type=float, help="Residual tolerance (default 1e-8).")
@click.option("--n-cells", default=None, type=int, help="Liquidity cells (default from the scenario).")
@click.option("--n-steps", default=None, type=int, help="Time steps (default from the scenario).")
@click.option("--epsilon", default=None, type=float, help="Relaxation of the exit decision (default 1e-3).")
@click.option("--at", "at", default="-0.5,0,1", show_default=True,
              help="Liquidity states at which to report values (comma separated).")
@click.option("--no-progress", is_flag=True, help="No progress display (the tables are still printed).")
@control_options
@shared_options("mfg", config_help="Scenario TOML file with an [mfg] table.",
                plot_help="Folder for the figures (<scenario>_price.png, _exits, _convergence, _density_<type>, "
                          "_values_<type>), or an image FILE.")
def mfg(scenario_name: str | None, method: str | None, tol: float | None, n_cells: int | None,
        n_steps: int | None, epsilon: float | None, at: str, no_progress: bool, out: Output,
        game: str | None = None, **game_params: float | None) -> None:
    """Equilibrium of the GE-LAV mean-field game of LP exits.

    Prints the equilibrium discount now and at its worst, total exits, the
    liquidity-adjusted value at selected states against the no-feedback
    (DCF-like) value, iterations, residual and time.

    Examples: `gelav mfg --scenario stress`, `gelav mfg --config pension.toml --json`.
    """
    if game is not None:  # continuous-control games: gelav.cli.mfg_control
        return run_control(game=game, config=out.config, scenario=scenario_name, method=method, tol=tol,
                           n_cells=n_cells, n_steps=n_steps, epsilon=epsilon, as_json=out.as_json, plot=out.plot,
                           quiet=out.quiet, **game_params)
    ignored = sorted(k for k, v in game_params.items() if v is not None)
    if ignored:  # the control-game parameters were silently ignored without --game
        raise click.UsageError(", ".join(f"--{k.removeprefix('game_').replace('_', '-')}" for k in ignored)
                               + " apply only to a control game: add --game.")
    from gelav import tasks

    if scenario_name is not None and out.config is not None:
        raise click.UsageError("Give either --scenario NAME or --config FILE, not both.")
    try:
        Ls = [float(s) for s in at.split(",") if s.strip()]
    except ValueError:
        raise click.BadParameter(f"`--at` must be numbers separated by commas, got {at!r}.") from None
    if not Ls or not all(math.isfinite(v) for v in Ls):
        raise click.BadParameter(f"`--at` must be finite numbers separated by commas, got {at!r}.")
    progress = None
    callback = None
    if out.tables and not no_progress:
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(), TextColumn("{task.fields[info]}"),
                            TimeElapsedColumn(), transient=True)
        task = progress.add_task(f"solving {scenario_name or 'the equilibrium'}", total=None, info="")

        def callback(rec: dict[str, Any]) -> None:
            progress.update(task, advance=1, info=f"it {rec['iteration']} ε={rec['epsilon']:.0e} "
                                                  f"residual {rec['residual']:.2e} ({rec['method']})")

        progress.start()
    try:
        rep = tasks.mfg(out.config, preset=scenario_name, method=method, tol=tol, n_cells=n_cells, n_steps=n_steps,
                        epsilon=epsilon, at=Ls, callback=callback)
    finally:
        if progress is not None:
            progress.stop()
    out.emit(rep, lambda: _tables(rep), json_extra=lambda files: {"plot_folder": out.plot} if out.plot else {})


def _tables(rep: Any) -> None:
    eq, summ = rep.equilibrium, rep.summary
    rows = []
    for t in summ["types"]:
        rows.append([t["type"], _pct(t["discount_now"]), f"{_pct(t['discount_worst'])} (t={t['worst_at']:.2f})",
                     _pct(t["no_feedback_discount_now"]), _pct(t["total_exits"]), _pct(t["no_feedback_exits"])])
    for i, o in enumerate(eq.others, start=2):
        for t in o.summary(list(rep.at))["types"]:
            rows.append([f"{t['type']} (equilibrium {i})", _pct(t["discount_now"]),
                         f"{_pct(t['discount_worst'])} (t={t['worst_at']:.2f})", _pct(t["no_feedback_discount_now"]),
                         _pct(t["total_exits"]), _pct(t["no_feedback_exits"])])
    print_table(f"GE-LAV mean-field equilibrium: {rep.scenario.name}",
                ["type", "discount now", "worst discount", "no-feedback discount", "total exits", "no-feedback exits"],
                rows)
    vrows = []
    for t in summ["types"]:
        for L, v in t["values"].items():
            vrows.append([t["type"], L, f"{v['equilibrium']:.4f}", f"{v['no_feedback']:.4f}", f"{v['dcf']:.4f}",
                          f"{v['equilibrium'] - v['no_feedback']:+.4f}"])
    for m in rep.mass_values():
        vrows.append([m["type"], f"{m['mean_state']:.3g} (holders' mean)", f"{m['value_at_mean_state']:.4f}",
                      f"{m['no_feedback_value_at_mean_state']:.4f}", f"{m['dcf']:.4f}",
                      f"{m['value_at_mean_state'] - m['no_feedback_value_at_mean_state']:+.4f}"])
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
    ], caption="; ".join([*eq.diagnostics.get("notes", []), *rep.diagnostics.warnings]) or None)
