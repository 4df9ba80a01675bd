"""``gelav master-field``: the value of one LP state in crowds with different starting laws (a thin layer
over :func:`gelav.tasks.master_field`)."""

from __future__ import annotations

from typing import Any

import click

from gelav.cli._common import Output, print_table, shared_options
from gelav.cli.mfg import float_list

__all__ = ["master_field"]


@click.command("master-field")
@click.option("--scenario", "scenario_name", default=None, help="MFG preset [default stress].")
@click.option("--means", default=None, help="Crowd means m of the laws N(m, s²), comma separated [default -2,-1,0,1].")
@click.option("--spreads", default=None, help="Crowd spreads s, comma separated [default 0.2,0.5].")
@click.option("--t0", type=float, default=None, help="Start time [years], in [0, earliest fund end) [default 0].")
@click.option("--at", default=None, help="Liquidity states L of the table, comma separated [default 0].")
@click.option("--n-cells", type=int, default=None, help="Liquidity cells (default from the scenario).")
@click.option("--n-steps", type=int, default=None, help="Time steps (default from the scenario).")
@click.option("--workers", type=int, default=None, help="Local processes, >= 0; 0 or 1 solves here [default 1].")
@click.option("--warm-start", "warm_start", type=click.Choice(["neighbour", "tangent", "newton", "off"]), default=None,
              help="How each law starts from its neighbour's equilibrium; 'newton' needs the fewest fixed-point "
                   "evaluations [default neighbour].")
@shared_options("master-field", config_help="Scenario TOML with [mfg] tables and a [master_field] table.",
                plot_help="Folder for the figures (master_field.png, master_field_heatmap.png), or a FILE.")
def master_field(scenario_name: str | None, means: str | None, spreads: str | None, t0: float | None,
                 at: str | None, n_cells: int | None, n_steps: int | None, workers: int | None, warm_start: str | None,
                 out: Output) -> None:
    """The master field U(t0, L; N(m, s²)): the equilibrium value of the same LP state when the crowd
    starts from different Gaussian laws, with the price at t0 and the total exits.

    Example: `gelav master-field --scenario stress --means -1,0,1 --spreads 0.3 --at -0.5,0`.
    """
    from gelav import tasks

    if scenario_name is not None and out.config is not None:
        raise click.UsageError("Give either --scenario NAME or --config FILE, not both.")
    rep = tasks.master_field(out.config, preset=scenario_name, means=float_list("means", means),
                             spreads=float_list("spreads", spreads), t0=t0, at=float_list("at", at), n_cells=n_cells,
                             n_steps=n_steps, workers=workers, warm_start=warm_start)
    out.emit(rep, lambda: _table(rep))


def _table(rep: Any) -> None:
    rows = []
    multi = len(rep.field.type_names) > 1
    for r in rep.rows():
        rows.append([f"N({r['mean']:g}, {r['spread']:g}²)" + (f" {r['type']}" if multi else ""),
                     *[f"{r[f'value_at_{L:g}']:.4f}" for L in rep.at], f"{r['price0']:.4f}",
                     f"{100 * r['exits']:.2f} %"])
    print_table(f"Master field at t0 = {rep.field.t0:g}: {rep.scenario.name}",
                ["crowd's law", *[f"U(L={L:g}) [NAV]" for L in rep.at], "price at t0 [NAV]", "total exits"], rows)
