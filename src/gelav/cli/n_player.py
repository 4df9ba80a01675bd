"""``gelav n-player``: the N-player game with the equilibrium exit rule against the mean-field limit (a thin
layer over :func:`gelav.tasks.n_player`)."""

from __future__ import annotations

from typing import Any

import click

from gelav.cli._common import Output, print_table, shared_options

__all__ = ["n_player"]


@click.command("n-player")
@click.option("--scenario", "scenario_name", default=None, help="MFG preset [default crisis].")
@click.option("--n", "n_players", default=None, help="Population sizes, comma separated [default 10,100,1000,10000].")
@click.option("--replications", type=int, default=None, help="Populations per N for the price gap [default 100].")
@click.option("--gain-replications", type=int, default=None,
              help="Populations per N for the ε-Nash gain (0 skips it) [default 8].")
@click.option("--seed", type=int, default=None, help="Random seed [default 0].")
@click.option("--n-cells", type=int, default=None, help="Liquidity cells (default from the scenario).")
@click.option("--n-steps", type=int, default=None, help="Time steps (default from the scenario).")
@shared_options("n-player", config_help="Scenario TOML with [mfg] tables and an [n_player] table.")
def n_player(scenario_name: str | None, n_players: str | None, replications: int | None,
             gain_replications: int | None, seed: int | None, n_cells: int | None, n_steps: int | None,
             out: Output) -> None:
    """N LPs follow the mean-field exit rule: the gap of the realised price to the mean-field price and the
    gain of one deviating LP, against N (expect N^(-1/2)).

    Example: `gelav n-player --scenario crisis --n 100,1000,10000`.
    """
    from gelav import tasks

    ns = None
    if n_players is not None:
        try:
            ns = [int(v) for v in n_players.split(",") if v.strip()]
        except ValueError:
            raise click.BadParameter(f"`--n` must be integers separated by commas, got {n_players!r}.") from None
        if not ns:
            raise click.BadParameter("`--n` must list at least one population size.")
    if scenario_name is not None and out.config is not None:
        raise click.UsageError("Give either --scenario NAME or --config FILE, not both.")
    rep = tasks.n_player(out.config, preset=scenario_name, n_players=ns, replications=replications,
                         gain_replications=gain_replications, seed=seed, n_cells=n_cells, n_steps=n_steps)
    out.emit(rep, lambda: _table(rep))


def _table(rep: Any) -> None:
    r = rep.result
    rows = [[int(row["N"]), f"{row['price_gap']:.3e} ± {row['price_gap_se']:.1e}",
             "—" if row["gain"] != row["gain"] else f"{row['gain']:.3e} ± {row['gain_se']:.1e}"]
            for row in r.table()]
    cap = f"rate of the price gap in N: {r.rate_price:.3f} (mean-field theory: -1/2)"
    if r.rate_gain == r.rate_gain:
        cap += f"; of the gain: {r.rate_gain:.3f}"
    print_table(f"N-player game vs mean-field equilibrium: {rep.scenario.name}",
                ["N", "RMS price gap [NAV]", "ε-Nash gain [NAV]"], rows, caption=cap)
