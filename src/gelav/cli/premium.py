"""``gelav premium FILE``: fit the illiquidity premium π(L, T) to secondary-market trades."""

from __future__ import annotations

import math

import click

from gelav.cli._common import figure_and_json, handle_errors, output_options, print_table
from gelav.cli._valuation import renamed_errors

_OPTION = {"by": "--by", "scaling": "--scaling", "robust": "--robust", "L": "L_t", "T": "T_remaining",
           "observed": "pi_observed"}


def _r2(r2: float) -> str:
    return f"{r2:.4f}" if math.isfinite(r2) else "–"


@click.command()
@click.argument("file", type=click.Path(dir_okay=False), required=False)
@click.option("--by", "by", default=None, help="Also fit per group of this column (fund_type or trade_year).")
@click.option("--robust/--ols", "robust", default=None, help="Huber M-estimate (IRLS) instead of least squares.")
@click.option("--scaling", type=click.Choice(["sqrt", "linear", "none"]), default=None,
              help="Term-structure shape f(T) [default sqrt].")
@output_options(config_help="Scenario TOML file with a [premium] table (data, scaling, robust, by); options override.",
                plot_help="Write π/f(T) against L with the fitted a(L) to this image file.")
@handle_errors
def premium(file, by, robust, scaling, config, as_json, plot, quiet):
    """Fit π(L, T) = (α + βL + γL²)·f(T) to trades (columns trade_year, fund_type, L_t, T_remaining, pi_observed).

    Least squares on [f, L·f, L²·f] with HC3 heteroskedasticity-robust standard
    errors, or a Huber fit with --robust; --by fund_type adds one fit per fund type.
    FILE may be omitted when --config names it in its [premium] table (`data`).
    """
    from gelav import tasks

    rep = renamed_errors(lambda: tasks.premium(config, data=file, scaling=scaling, robust=robust, by=by), _OPTION)
    if rep.fit is None:
        raise click.UsageError("Give the trades FILE (or a --config whose [premium] table names `data`).")
    fit = rep.fit
    scaling = fit.premium.scaling
    if not figure_and_json(fit.plot, plot, as_json, quiet, rep.to_dict):
        return
    rows = []
    for label, f in [("all trades", fit), *sorted(fit.groups.items())]:
        ci = f.conf_int(0.95)
        for i, k in enumerate(("alpha", "beta", "gamma")):
            rows.append([label if i == 0 else "", k, f"{f.params[k]:.5f}", f"{f.stderr[k]:.5f}",
                         f"[{ci[k][0]:.5f}, {ci[k][1]:.5f}]", _r2(f.r_squared) if i == 0 else "",
                         str(f.n) if i == 0 else ""])
    se = "HC3" if fit.method == "ols-hc3" else "Huber sandwich"
    p = fit.premium
    turn = (f"minimum of π at L = {p.argmin:.3f}" if p.gamma > 0 else
            f"maximum of π at L = {-p.beta / (2 * p.gamma):.3f} (γ < 0: π is largest there)" if p.gamma < 0 else
            "π is linear in L (γ = 0): no turning point")
    print_table(f"Illiquidity premium π(L, T) = (α + βL + γL²)·f(T), f = {scaling} — {fit.method}",
                ["group", "parameter", "estimate", f"s.e. ({se})", "95 % interval", "R²", "trades"], rows,
                caption=turn + (f"; figure written to {plot}" if plot else ""))
    if any(not math.isfinite(f.r_squared) for f in [fit, *fit.groups.values()]):
        click.echo("note: R² is undefined where every observed discount is the same (no variation to explain).")
    # the fitted premium on the data's own ranges: a non-positive price (π ≥ 1) or a price above NAV (π < 0);
    # the turning point is the caption
    L, T = fit.data["L"], fit.data["T"]
    chk = p.check((float(L.min()), float(L.max())), (float(T.min()), float(T.max())), warn=False)
    for m in chk["messages"][0 if chk["monotone"] else 1:]:
        click.echo(f"note: on the trades' range, {m}")

