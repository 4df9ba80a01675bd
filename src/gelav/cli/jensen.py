"""``gelav jensen``: the Jensen bias of DCF at the expected rate (static table, one row, or a rate process)."""

from __future__ import annotations

import click

from gelav._display import fmt_fixed
from gelav.cli._common import figure_and_json, handle_errors, output_options, print_table
from gelav.cli._valuation import renamed_errors

_OPTION = {"horizon": "--horizon", "mu": "--mu", "sigma_r": "--sigma-r", "model": "--model", "kappa": "--kappa",
           "sigma": "--sigma", "r0": "--r0", "theta": "--theta", "L0": "--l0", "n_cells": "--cells",
           "n_steps": "--steps", "cells": "--cells", "steps": "--steps"}


@click.command()
@click.option("--horizon", type=float, default=None, help="Holding period T in years (one row instead of the table).")
@click.option("--mu", type=float, default=None, help="Expected (long-run) rate μ [0.08].")
@click.option("--sigma-r", "sigma_r", type=float, default=None, help="Rate uncertainty σ_r [0.05].")
@click.option("--model", type=click.Choice(["static", "vasicek", "cir", "liquidity"]), default=None,
              help="static: one normal draw (the course); vasicek, cir, liquidity: a rate process.")
@click.option("--kappa", type=float, default=None, help="Rate mean reversion κ (vasicek, cir) [0.45].")
@click.option("--sigma", type=float, default=None, help="Rate volatility (vasicek, cir) [σ_r at stationarity].")
@click.option("--r0", type=float, default=None, help="Starting rate (vasicek, cir) [μ].")
@click.option("--theta", type=float, default=None, help="liquidity: ∂r/∂L [−σ_r/sd(L)].")
@click.option("--l0", "L0", type=float, default=None, help="liquidity: starting state L₀ [L̄].")
@click.option("--cells", type=int, default=None, help="Feynman–Kac grid cells [400].")
@click.option("--steps", type=int, default=None, help="Feynman–Kac time steps [400].")
@output_options(config_help="Scenario TOML file with a [jensen] table (options override).",
                plot_help="Write the asset-class bias chart to this image file.")
@handle_errors
def jensen(horizon, mu, sigma_r, model, kappa, sigma, r0, theta, L0, cells, steps, config, as_json, plot, quiet):
    """Jensen bias of discounting at the expected rate.

    Without options: the course's asset-class table (book Table 23.1) with the
    exact, second-order and annualised static bias. With --horizon/--mu/--sigma-r:
    one static row. With --model vasicek|cir|liquidity: E[exp(−∫r)] by Feynman–Kac
    and the affine closed form against exp(−∫E[r]).
    """
    from gelav import tasks
    from gelav.tasks.jensen import bias_figure

    given = {"horizon": horizon, "mu": mu, "sigma_r": sigma_r, "model": model, "kappa": kappa, "sigma": sigma,
             "r0": r0, "theta": theta, "L0": L0, "cells": cells, "steps": steps}
    rep = renamed_errors(lambda: tasks.jensen(config, **given), _OPTION)
    if rep.table is not None:
        table = rep.table
        if not figure_and_json(table.plot, plot, as_json, quiet, table.to_dict):
            return
        from rich.console import Console

        Console().print(table)
        return
    res = rep.result
    mdl = res.model
    if not figure_and_json(lambda: bias_figure(res), plot, as_json, quiet, res.to_dict):
        return
    rows = [["E(discount factor)", fmt_fixed(res.expected_discount)], ["DCF at the expected rate", fmt_fixed(res.dcf)],
            ["bias", fmt_fixed(res.bias)], ["relative bias", f"{res.relative:.4%}"],
            ["annualised bias", f"{res.annualised:.4%}"]]
    if res.second_order is not None:
        rows.append(["second order ½T²σ²e^{−μT}", fmt_fixed(res.second_order)])
    if res.feynman_kac is not None:
        rows.append(["Feynman–Kac E[exp(−∫r)]", fmt_fixed(res.feynman_kac)])
        rows.append(["  minus closed form", f"{res.diagnostics['fk_minus_closed_form']:.2e}"])
    elif "feynman_kac_unresolved" in res.diagnostics:
        rows.append(["Feynman–Kac E[exp(−∫r)]", "not resolved on this grid (see --json diagnostics)"])
    if "static_bias" in res.diagnostics:
        rows.append(["static bias, same T, σ_r", fmt_fixed(res.diagnostics['static_bias'])])
    params = ", ".join(f"{k} = {x:g}" for k, x in res.params.items())
    print_table(f"Jensen bias, model {mdl}, T = {res.horizon:g} y ({params})", ["quantity", "value"], rows,
                caption=f"figure written to {plot}" if plot else None)

