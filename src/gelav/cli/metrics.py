"""``gelav metrics``: IRR, TVPI, DPI, RVPI, PME, Direct Alpha, LA-IRR and LA-PME of a cash-flow file."""

from __future__ import annotations

from typing import Any

import click

from gelav._display import fmt_fixed, fmt_rate
from gelav.cli._common import figure_and_json, handle_errors, output_options, print_table
from gelav.cli._valuation import premium_options, renamed_errors, resolve_premium  # noqa: F401  (resolve_premium: its old home)


def _pct(v: float | None) -> str:
    return "—" if v is None else fmt_rate(v, 2)


def _x(v: float | None) -> str:
    """A multiple with 3 decimals, scientific from 1e7 and below 1e-3 (a TVPI of 1e306 printed 307 digits)."""
    return "—" if v is None else fmt_fixed(v, 3, small=1e-3)


@click.command()
@click.argument("file", type=click.Path(dir_okay=False), required=False)
@click.option("--nav", type=float, default=None, help="Residual NAV at the last date [default: a nav column, else 0].")
@click.option("--time-column", default=None, help="Date or time column [detected].")
@click.option("--flow-column", default=None, help="Signed cash-flow column [detected].")
@click.option("--liquidity-column", default=None, help="Liquidity-state column [detected, e.g. L_t].")
@click.option("--index-column", default=None, help="Benchmark total-return index column [detected].")
@premium_options
@output_options(config_help="Scenario TOML file with [metrics] (data, nav, columns) and [premium] tables (options override).",
                plot_help="Write the cash-flow chart to this image file.")
@handle_errors
def metrics(file, nav, time_column, flow_column, liquidity_column, index_column, alpha, beta, gamma, scaling,
            config, as_json, plot, quiet):
    """All fund metrics of the cash flows in FILE, with liquidity-adjusted versions under π(L, T).

    FILE is CSV or Parquet, e.g. the course layout `date, year, cashflow, L_t,
    benchmark_index` (contributions negative). Prints IRR (every root when there
    are several), TVPI, DPI, RVPI, Kaplan–Schoar PME and Direct Alpha (with an
    index column), and LA-IRR and LA-PME (with a liquidity column): distributions
    × (1 − π), contributions × (1 + π), π = π(L_t, T_N − t).
    """
    from gelav import tasks
    from gelav.scenario import load

    data = load(config) if config is not None else None
    table = data.get("metrics") if data is not None else None
    if file is None and not (isinstance(table, dict) and "data" in table):
        raise click.UsageError("Give the cash-flow FILE (or a --config whose [metrics] table names `data`).")
    if nav is not None and nav < 0:
        raise click.BadParameter(f"must be >= 0, got {nav}.", param_hint="'--nav'")
    rep = renamed_errors(lambda: tasks.metrics(data, data=file, nav=nav, time_column=time_column,
                                               flow_column=flow_column, liquidity_column=liquidity_column,
                                               index_column=index_column, alpha=alpha, beta=beta, gamma=gamma,
                                               scaling=scaling),
                         {"premium": "--alpha`/`--beta`/`--gamma`/`--scaling", "nav": "--nav",
                          "time_column": "--time-column", "flow_column": "--flow-column",
                          "liquidity_column": "--liquidity-column", "index_column": "--index-column"})
    fc, m, premium = rep.cashflows, rep.metrics, rep.premium
    file = rep.inputs["data"]
    if not figure_and_json(fc.plot, plot, as_json, quiet, rep.to_dict):
        return

    def irr_text(r: Any) -> str:
        if r is None:
            return "—"
        if r.unique:
            return _pct(r.rate)
        return "none" if r.status == "none" else "several: " + ", ".join(_pct(x) for x in r.roots)

    rows = [["IRR", irr_text(m.irr)], ["TVPI", _x(m.tvpi)], ["DPI", _x(m.dpi)], ["RVPI", _x(m.rvpi)],
            ["PME (Kaplan–Schoar)", _x(m.pme)], ["Direct Alpha (continuous)", irr_text(m.direct_alpha)],
            ["LA-IRR", irr_text(m.la_irr)], ["LA-PME", _x(m.la_pme)]]
    print_table(f"Fund metrics of {file} ({len(fc)} flows over {fc.times[-1]:.3g} years, residual NAV {fc.nav:g})",
                ["metric", "value"], rows,
                caption=str(premium))
    for r in (m.irr, m.la_irr):
        if r is not None and not r.unique:
            click.echo(f"note: {r.message}")
    for n in fc.notes:
        click.echo(f"note: {n}")
    if plot:
        click.echo(f"figure written to {plot}")
