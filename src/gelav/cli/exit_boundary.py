"""``gelav exit-boundary``: when to sell a fund stake — the exit boundary L*(t) of the stake's obstacle problem."""

from __future__ import annotations

import math

import click

from gelav.cli._common import figure_and_json, handle_errors, output_options, print_table
from gelav.cli._valuation import premium_options, renamed_errors

_OPTION = {"fund_life": "--fund-life", "discount": "--discount", "nav_growth": "--nav-growth",
           "distribution_rate": "--distribution-rate", "holding_cost": "--holding-cost", "n_cells": "--cells",
           "n_steps": "--steps", "alpha": "--alpha", "beta": "--beta", "gamma": "--gamma", "scaling": "--scaling",
           "kappa": "--kappa", "mean": "--mean", "sigma": "--sigma", "method": "--method"}


@click.command("exit-boundary")
@click.option("--kappa", type=float, default=None, help="Liquidity mean-reversion κ per year [0.45].")
@click.option("--mean", "mean", type=float, default=None, help="Long-run liquidity L̄ [1.0].")
@click.option("--sigma", type=float, default=None, help="Liquidity volatility σ per √year [0.32].")
@click.option("--discount", "-r", "discount", type=float, default=None, help="Discount rate r per year [0.08].")
@click.option("--fund-life", type=float, default=None, help="Remaining fund life T in years [10].")
@click.option("--nav-growth", type=float, default=None, help="NAV total return g per year while held [0.08].")
@click.option("--distribution-rate", type=float, default=None, help="Distributions δ per year, fraction of NAV [0].")
@click.option("--holding-cost", type=float, default=None,
              help="Stress liquidity cost c0: c(L) = c0·max(−L, 0) per year [0.5].")
@premium_options
@click.option("--cells", type=int, default=None, help="Grid cells in L on [−3, 3] [300].")
@click.option("--steps", type=int, default=None, help="Time steps [400].")
@click.option("--method", type=click.Choice(["policy", "brennan-schwartz"]), default=None,
              help="LCP solver [policy]; Brennan–Schwartz falls back to policy iteration in the steps where the exit "
                   "region is not one interval at an end (the caption says which answer is printed).")
@click.option("--sensitivity/--no-sensitivity", default=None, help="Also dL*/dκ, dL*/dσ, dL*/dr, each with the change from the bump h to h/2 (12 more solves).")
@click.option("--check/--no-check", default=None,
              help="The grid indicator of L*(t): the same problem on half the cells and steps [on].")
@output_options(config_help="Scenario TOML file: [process], [premium] and [exit_boundary] tables (options override).",
                plot_help="Write the exit region and L*(t) to this image file.")
@handle_errors
def exit_boundary(kappa, mean, sigma, discount, fund_life, nav_growth, distribution_rate, holding_cost, alpha, beta,
                  gamma, scaling, cells, steps, method, sensitivity, check, config, as_json, plot, quiet):
    """Exit boundary L*(t) of a fund stake: sell when L ≤ L*(t).

    Solves min(−V_t − 𝓛V + (r − g + δ)V − (δ − c(L)), V − (1 − π(L, T − t))) = 0,
    V(T) = 1, per unit NAV, as an LCP (gelav's optimal stopping), with the carry
    the course leaves out (its no-carry band around argmin π is not a boundary).
    """
    from gelav import tasks
    from gelav.tasks.exit_boundary import lcp_method

    given = {"kappa": kappa, "mean": mean, "sigma": sigma, "discount": discount, "fund_life": fund_life,
             "nav_growth": nav_growth, "distribution_rate": distribution_rate, "holding_cost": holding_cost,
             "alpha": alpha, "beta": beta, "gamma": gamma, "scaling": scaling, "cells": cells, "steps": steps,
             "sensitivity": sensitivity, "check": check, "method": method}
    rep = renamed_errors(lambda: tasks.exit_boundary(config, **given), _OPTION)
    res, v, sens = rep.result, rep.inputs, rep.sensitivity or {}
    process = res.process
    if not figure_and_json(res.plot, plot, as_json, quiet, rep.to_dict):
        return
    T = res.fund_life
    rows = []
    for t in [T * k / 10 for k in range(10)]:
        b = res.boundary(t)
        reg = res.stopping_region(t)
        rows.append([f"{t:g}", f"{T - t:g}",
                     "not resolved" if not rep.resolved(t) else "—" if math.isnan(b) else f"{b:.4f}",
                     "; ".join(f"[{a:.2f}, {c:.2f}]" for a, c in reg) or "never"])
    sp = res.smooth_pasting(0.0)
    cap = f"V(0, L̄ = {process.mean:g}) = {res.value(0.0, min(max(process.mean, -3.0), 3.0)):.5f} per unit NAV"
    cap += f" (LCP solved by {lcp_method(res)})"
    if math.isfinite(sp["relative_jump"]):  # no boundary at t = 0: nothing to check
        cap += f"; smooth pasting at L*(0): relative slope jump {sp['relative_jump']:.3g}"
    chk = rep.check
    if chk is not None:
        n, n2 = chk["n_cells"]
        cap += (f"; L*(t) grid indicator ± {chk['indicator']:.2g} (largest |L*({n} cells) − L*({n2})| over the "
                "rows; an indicator, not a bound)" if math.isfinite(chk["indicator"]) else
                f"; L*(t) not resolved: the exit region differs between {n} and {n2} cells at t = "
                + ", ".join(f"{t:g}" for t in chk["unresolved"]) + " (raise --cells)")
    if sens:
        from gelav.tasks.exit_boundary import SENSITIVITY_RESOLVED

        parts = []
        for key, sym in (("kappa", "κ"), ("sigma", "σ"), ("r", "r")):
            d, ind = sens[key], sens[f"{key}_indicator"]
            txt = f"dL*(0)/d{sym} = {d:.3f} (± {ind:.2g}"
            parts.append(txt + (")" if ind <= SENSITIVITY_RESOLVED * abs(d) else ": not resolved by the grid)"))
        cap += ("; " + ", ".join(parts) + " (± the change from the bump h = 5 % to h/2; an indicator, not a bound;"
                " raise --cells where it is not resolved)")
    if plot:
        cap += f"; figure written to {plot}"
    print_table(f"Exit boundary of a fund stake: T = {T:g} y, r = {v['discount']:g}, g = {v['nav_growth']:g}, "
                f"δ = {v['distribution_rate']:g}, c(L) = {v['holding_cost']:g}·max(−L, 0)",
                ["t [y]", "remaining [y]", "L*(t)", "exit region in L"], rows, caption=cap)
    # as `gelav premium` does: where on the grid the sale price is not positive (π ≥ 1) or above NAV
    # (π < 0); --gamma -1 printed V(0, 1) = 5.12 per unit NAV with no word of it
    nodes = res.nodes
    chk_p = res.premium.check((float(nodes[0]), float(nodes[-1])), (0.0, T), warn=False)
    for m in chk_p["messages"][0 if chk_p["monotone"] else 1:]:
        click.echo(f"note: on the grid's range of L and the remaining lives, {m}")
