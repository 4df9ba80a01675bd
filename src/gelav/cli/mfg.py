"""``gelav mfg``: solve the mean-field game of LP exits for a preset or a scenario file (a thin layer over
:func:`gelav.tasks.mfg`)."""

from __future__ import annotations

import math
from typing import Any

import click

from gelav.cli._common import Output, print_table, shared_options
from gelav.cli._model import model_options, typed_process
from gelav.cli.mfg_control import control_options, run_control


def _pct(x: float) -> str:
    return f"{100 * x:.2f} %"


def float_list(name: str, text: str | None) -> list[float] | None:
    """``"-1,0.5"`` -> ``[-1.0, 0.5]`` for the option ``--name`` (None when not given; BadParameter otherwise)."""
    if text is None:
        return None
    try:
        vals = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise click.BadParameter(f"`--{name}` must be numbers separated by commas, got {text!r}.") from None
    if not vals or not all(math.isfinite(v) for v in vals):
        raise click.BadParameter(f"`--{name}` must be finite numbers separated by commas, got {text!r}.")
    return vals


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
@click.option("--at", "at", default=None,
              help="Liquidity states at which to report values (comma separated) [default: the 10/50/90 % "
                   "quantiles of the starting mass].")
@click.option("--densities", is_flag=True, help="Put the holder densities in the JSON.")
@click.option("--continue", "continue_", default=None, metavar="PARAM=START:STOP[:N]",
              help="Follow the equilibria as PARAM runs from START to STOP (pseudo-arclength; first step "
                   "(STOP-START)/(N-1), default N = 21): branches, folds, stability; e.g. feedback=0:1.")
@click.option("--no-stability", is_flag=True, help="With --continue: skip the leading eigenvalue at each point.")
@click.option("--no-progress", is_flag=True, help="No progress display (the tables are still printed).")
@click.option("--check", is_flag=True,
              help="Solve again at ε/2 and on half the grid and show how far the key numbers move (2-3× the time).")
@control_options
@model_options
@shared_options("mfg", config_help="Scenario TOML file with an [mfg] table.",
                plot_help="Folder for the figures (<scenario>_price.png, _exits, _convergence, _density_<type>, "
                          "_values_<type>), or an image FILE.")
def mfg(scenario_name: str | None, method: str | None, tol: float | None, n_cells: int | None,
        n_steps: int | None, epsilon: float | None, at: str | None, densities: bool, continue_: str | None,
        no_stability: bool, no_progress: bool, check: bool, out: Output, game: str | None = None, drift: str | None = None,
        diffusion: str | None = None, var: str | None = None, params: tuple[str, ...] = (),
        domain: str | None = None, **game_params: float | None) -> None:
    """Equilibrium of the GE-LAV mean-field game of LP exits.

    Prints the equilibrium discount now and at its worst, total exits, the
    liquidity-adjusted value at selected states against the no-feedback
    (DCF-like) value, iterations, residual and time.

    Examples: `gelav mfg --scenario stress`, `gelav mfg --config pension.toml --json`.
    With --drift/--diffusion every LP type's own liquidity dynamics are typed in (replacing the OU part).
    """
    if game is not None:  # continuous-control games: gelav.cli.mfg_control
        unused = [opt for opt, v in (("--at", at), ("--densities", densities), ("--continue", continue_),
                                     ("--check", check),
                                     ("--no-stability", no_stability), ("--drift", drift),
                                     ("--diffusion", diffusion), ("--var", var), ("--param", params),
                                     ("--domain", domain), ("--export", out.export)) if v]
        if unused:  # they were silently ignored (`--at nan` printed the default table)
            raise click.UsageError(", ".join(unused) + " do not apply to a control game (--game).")
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
    dynamics = typed_process(drift, diffusion, var, params, domain)
    if dynamics is not None and (game is not None or continue_ is not None):
        raise click.UsageError("--drift/--diffusion apply to the equilibrium of LP exits, not with --game or "
                               "--continue.")
    if continue_ is not None and check:
        raise click.UsageError("--check applies to one equilibrium, not with --continue.")
    if continue_ is not None:
        return _continuation(continue_, scenario_name, n_cells, n_steps, epsilon, tol, not no_stability, out)
    Ls = float_list("at", at)
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
                        epsilon=epsilon, at=Ls, callback=callback, densities=densities, dynamics=dynamics,
                        check=check)
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
    for i, e in enumerate(rep.equilibria, start=1):
        tag = "" if i == 1 else f" (equilibrium {i})"
        for t in (summ if i == 1 else e.summary(list(rep.at)))["types"]:
            for L, v in t["values"].items():
                vrows.append([t["type"] + tag, L, f"{v['equilibrium']:.4f}", f"{v['no_feedback']:.4f}",
                              f"{v['dcf']:.4f}", f"{v['equilibrium'] - v['no_feedback']:+.4f}"])
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
    if rep.check is not None:
        c = rep.check

        def num(v: float | None, share: bool) -> str:
            return "failed" if v is None else _pct(v) if share else f"{v:.4f}"

        def ind(v: float, share: bool) -> str:
            return "n/a" if v == float("inf") else f"{100 * v:.2g} pp" if share else f"{v:.2g}"

        print_table(f"Refinement check (ε/2 = {c['epsilon']:g}; half grid {c['coarse'][0]} cells × "
                    f"{c['coarse'][1]} steps)", ["quantity", "value", "at ε/2", "half grid", "error indicator"],
                    [[k, num(v["value"], "NAV" not in k), num(v["half_epsilon"], "NAV" not in k),
                      num(v["coarse"], "NAV" not in k), ind(v["indicator"], "NAV" not in k)]
                     for k, v in c["numbers"].items()],
                    caption=("2|g(ε/2) − g| + |g(half grid) − g|: the error if first order in ε and the grid"
                             + (f"; {c['failed']}" if c["failed"] else "")))


def _continuation(spec: str, scenario_name: str | None, n_cells: int | None, n_steps: int | None,
                  epsilon: float | None, tol: float | None, stability: bool, out: Output) -> None:
    from gelav import tasks

    name, sep, rng = spec.partition("=")
    parts = rng.split(":")
    try:
        nums = [float(v) for v in parts]
    except ValueError:
        nums = []
    if not sep or not name.strip() or len(nums) not in (2, 3) or not all(math.isfinite(v) for v in nums):
        raise click.BadParameter(f"`--continue` must be PARAM=START:STOP[:N], e.g. feedback=0:1, got {spec!r}.")
    n = 21 if len(nums) == 2 else nums[2]
    if n != int(n) or n < 2:
        raise click.BadParameter(f"`--continue` N must be an integer >= 2, got {parts[2]!r}.")
    if nums[0] == nums[1]:  # was "`values` must be ..., got array([0.2, 0.2, ...])"
        raise click.BadParameter(f"`--continue` START and STOP must differ, got {spec!r}.")
    if scenario_name is not None and out.config is not None:
        raise click.UsageError("Give either --scenario NAME or --config FILE, not both.")
    from gelav.mfg.branches import ParameterValueError

    try:
        rep = tasks.mfg_continuation(out.config, preset=scenario_name, parameter=name.strip(), start=nums[0],
                                     stop=nums[1], n=int(n), n_cells=n_cells, n_steps=n_steps, epsilon=epsilon,
                                     tol=tol, stability=stability)
    except ParameterValueError as exc:  # was "The user `coupling` returned non-finite prices." alone
        raise click.BadParameter(f"`--continue` {name.strip()}={rng}: the model fails at {exc.parameter} = "
                                 f"{exc.value:g}: {exc.cause} Narrow the range.") from None
    out.emit(rep, lambda: _continuation_tables(rep))


def _continuation_tables(rep: Any) -> None:
    br = rep.branches
    rows = [[b["branch"], b["start"], b["points"], f"{b['parameter_min']:.4g} .. {b['parameter_max']:.4g}",
             f"{_pct(b['exits_min'])} .. {_pct(b['exits_max'])}", "not computed" if b["stable_points"] is None else f"{b['stable_points']}/{b['points']}"]
            for b in br.summary()["branches"]]
    print_table(f"Equilibrium branches in {br.parameter_name}: {rep.scenario.name}",
                ["branch", "from", "points", br.parameter_name, "total exits", "stable points"], rows)
    if br.folds:
        print_table("Folds (two equilibria meet and vanish)", ["branch", br.parameter_name, "total exits"],
                    [[f.branch, f"{f.parameter:.5g}", _pct(f.scalars["exits"])] for f in br.folds])
    counts = rep.counts()
    print_table("Equilibria along the range", [br.parameter_name, "equilibria", "total exits (stable?)"],
                [[f"{p:.4g}", len(c), ", ".join(_pct(e) + ("" if s is None else f" ({'stable' if s else 'unstable'})") for e, s in c)]
                 for p, c in counts], caption=f"{br.diagnostics['evaluations']} evaluations of the fixed-point map, "
                                             f"{br.diagnostics['seconds']:.1f} s")
