"""``gelav jensen``: the Jensen bias of DCF at the expected rate (static table, one row, or a rate process)."""

from __future__ import annotations

import click

from gelav.cli._common import dump_json, handle_errors, output_options, print_table, save_figure
from gelav.cli._valuation import load_section, renamed_errors

_FIELDS = {"horizon": "positive", "mu": "number", "sigma_r": "number", "model": "string", "kappa": "positive",
           "sigma": "positive", "r0": "number", "theta": "number", "L0": "number", "cells": "integer",
           "steps": "integer"}
_OPTION = {"horizon": "--horizon", "mu": "--mu", "sigma_r": "--sigma-r", "model": "--model", "kappa": "--kappa",
           "sigma": "--sigma", "r0": "--r0", "theta": "--theta", "L0": "--l0", "n_cells": "--cells",
           "n_steps": "--steps"}


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
    from gelav.valuation.jensen import jensen_bias, jensen_table

    cfg, _ = load_section(config, "jensen", _FIELDS)
    given = {"horizon": horizon, "mu": mu, "sigma_r": sigma_r, "model": model, "kappa": kappa, "sigma": sigma,
             "r0": r0, "theta": theta, "L0": L0, "cells": cells, "steps": steps}
    v = {**cfg, **{k: x for k, x in given.items() if x is not None}}
    mdl = v.get("model", "static")
    mu_v = v.get("mu", 0.08)
    if mdl == "static" and "horizon" not in v:
        for k in ("sigma_r", "kappa", "sigma", "r0", "theta", "L0"):
            if k in v:
                raise click.BadParameter("give --horizon for one row (the table uses each class's own T and σ_r).",
                                         param_hint=f"'{_OPTION[k]}'")
        table = renamed_errors(lambda: jensen_table(mu_v), _OPTION)
        if plot:
            save_figure(table.plot(), plot)
        if as_json:
            dump_json(table.to_dict())
            return
        if quiet:
            return
        from rich.console import Console

        Console().print(table)
        return
    kw = {k: v[k] for k in ("kappa", "sigma", "r0", "theta", "L0") if k in v}
    if mdl != "static":
        kw.update({"n_cells": v.get("cells", 400), "n_steps": v.get("steps", 400)})
    res = renamed_errors(lambda: jensen_bias(v.get("horizon", 10.0), mu_v, v.get("sigma_r", 0.05), model=mdl, **kw),
                         _OPTION)
    if plot:
        save_figure(_plot_one(res), plot)
    if as_json:
        dump_json(res.to_dict())
        return
    if quiet:
        return
    rows = [["E(discount factor)", f"{res.expected_discount:.6f}"], ["DCF at the expected rate", f"{res.dcf:.6f}"],
            ["bias", f"{res.bias:.6f}"], ["relative bias", f"{res.relative:.4%}"],
            ["annualised bias", f"{res.annualised:.4%}"]]
    if res.second_order is not None:
        rows.append(["second order ½T²σ²e^{−μT}", f"{res.second_order:.6f}"])
    if res.feynman_kac is not None:
        rows.append(["Feynman–Kac E[exp(−∫r)]", f"{res.feynman_kac:.6f}"])
        rows.append(["  minus closed form", f"{res.diagnostics['fk_minus_closed_form']:.2e}"])
        rows.append(["static bias, same T, σ_r", f"{res.diagnostics['static_bias']:.6f}"])
    params = ", ".join(f"{k} = {x:g}" for k, x in res.params.items())
    print_table(f"Jensen bias, model {mdl}, T = {res.horizon:g} y ({params})", ["quantity", "value"], rows,
                caption=f"figure written to {plot}" if plot else None)


def _plot_one(res):
    """Bias of one model against the horizon (static for comparison)."""
    import numpy as np

    from gelav.plot import new_axes
    from gelav.valuation.jensen import jensen_bias

    fig, ax = new_axes()
    Ts = np.linspace(0.5, max(res.horizon, 1.0) * 1.5, 30)
    mu, s = res.params.get("mu", 0.08), res.params.get("sigma_r", None)
    if res.model == "static":
        ax.plot(Ts, [jensen_bias(t, mu, s).bias for t in Ts], label="static (exact)")
        ax.plot(Ts, [jensen_bias(t, mu, s).second_order for t in Ts], ls="--", label="static (second order)")
    else:
        from gelav.valuation.jensen import cir_bond, vasicek_bond

        p = res.params
        if res.model == "cir":
            bond = [cir_bond(t, p["r0"], p["kappa"], p["mu"], p["sigma"]) for t in Ts]
            k = p["kappa"]
        else:
            k = p.get("kappa", p.get("kappa_L"))
            vol = p.get("sigma", p.get("rate_sigma"))
            bond = [vasicek_bond(t, p["r0"], k, p["mu"], vol) for t in Ts]
        B = (1 - np.exp(-k * Ts)) / k
        dcf = np.exp(-(p["mu"] * Ts + (p["r0"] - p["mu"]) * B))
        ax.plot(Ts, np.asarray(bond) - dcf, label=f"{res.model} (closed form)")
    ax.axvline(res.horizon, color="0.5", ls=":", lw=1)
    ax.set_xlabel("horizon T [years]")
    ax.set_ylabel("bias of the discount factor [per unit]")
    ax.set_title(f"Jensen bias of DCF, model {res.model}")
    ax.legend()
    return fig
