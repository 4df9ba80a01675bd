"""``gelav feynman-kac``: seed 002's expected selling price of an asset with limit orders (a thin layer
over :func:`gelav.tasks.feynman_kac`)."""

from __future__ import annotations

from typing import Any

import click

from gelav._display import fmt_fixed
from gelav.cli._common import Output, print_table, shared_options
from gelav.cli._model import model_options, typed_process
from gelav.tasks._base import DEFAULTS
from gelav.tasks.feynman_kac import (  # noqa: F401  (the old names stay importable from here)
    BOUNDARIES,
    FIELDS,
    PAYOFFS,
    payoff_function,
    plot_feynman_kac,
    run_feynman_kac,
)

__all__ = ["feynman_kac", "plot_feynman_kac", "run_feynman_kac"]
_D = DEFAULTS["feynman_kac"]


@click.command("feynman-kac")
@click.option("--mu0", type=float, default=None, help=f"Drift of log-price X (seed: {_D['mu0']:g}).")
@click.option("--sigma0", type=float, default=None, help=f"Volatility of X (seed: {_D['sigma0']:g}).")
@click.option("--horizon", "-T", type=float, default=None, help=f"Horizon T in years (seed: {_D['horizon']:g}).")
@click.option("--lower", type=float, default=None, help=f"Lower limit price (seed: {_D['lower']:g}).")
@click.option("--upper", type=float, default=None, help=f"Upper limit price (seed: {_D['upper']:g}).")
@click.option("--n-cells", type=int, default=None, help=f"Price cells (seed: {_D['n_cells']}).")
@click.option("--n-steps", type=int, default=None, help=f"Time steps (default {_D['n_steps']}).")
@click.option("--payoff", type=click.Choice(PAYOFFS), default=None, help="g(y): the price (seed), a call or a put.")
@click.option("--strike", type=float, default=None, help=f"Strike for call/put payoffs [default {_D['strike']:g}].")
@click.option("--boundary", type=click.Choice(BOUNDARIES), default=None,
              help="At the limits: sold (u = g, seed), knockout (u = 0) or reflecting.")
@click.option("--discount", type=float, default=None, help=f"Discount rate r >= 0 (seed: {_D['discount']:g}).")
@click.option("--no-pdepe", is_flag=True, help="Skip the pdepe cross-check.")
@click.option("--tol", type=float, default=None,
              help="The table's values to this absolute error: backward(..., tol=) at each price, with its "
                   "validated refinement estimate (the surface and figures stay on --n-cells).")
@model_options
@shared_options("feynman-kac", config_help="Scenario TOML file with a [feynman_kac] table.",
                plot_help="Write the figures into FOLDER (expected_selling_price.png, ratio_surface.png, "
                          "ratio_limits.png), or the first to FILE.")
def feynman_kac(mu0: float | None, sigma0: float | None, horizon: float | None, lower: float | None,
                upper: float | None, n_cells: int | None, n_steps: int | None, payoff: str | None,
                strike: float | None, boundary: str | None, discount: float | None, no_pdepe: bool,
                tol: float | None, out: Output, drift: str | None = None, diffusion: str | None = None, var: str | None = None,
                params: tuple[str, ...] = (), domain: str | None = None) -> None:
    """Seed 002: expected selling price of Y = e^X, dX = mu0 dt + sigma0 dW, sold at the limits.

    Solves u_t + mu Y u_Y + (sigma0² Y²/2) u_YY - r u = 0, u(T, y) = g(y), u = g at the
    limits (mu = mu0 + sigma0²/2), with gelav.backward and cross-checks with pdepe.
    With --payoff call/put the table values that payoff against its value without limits.
    With --drift/--diffusion the price follows a typed-in model: the same PDE, cross-checked by
    Monte Carlo (the GBM's closed form and pdepe are skipped, with the reason).
    """
    from gelav import tasks

    typed = typed_process(drift, diffusion, var, params, domain)
    rep = tasks.feynman_kac(out.config, process=typed, mu0=mu0, sigma0=sigma0, horizon=horizon, lower=lower, upper=upper,
                            n_cells=n_cells, n_steps=n_steps, payoff=payoff, strike=strike, boundary=boundary,
                            discount=discount, pdepe=False if no_pdepe else None, tol=tol)
    out.emit(rep, lambda: _table(rep), json_extra=lambda files: {"plots": files} if files else {})


def _table(rep: Any) -> None:
    d = rep.data
    if d["process"]["kind"] == "custom":
        return _typed_table(rep)
    lab = rep.labels
    rows = [[f"{y0:.3g}", _value(rep, y0, u), fmt_fixed(e), f"{r:.4f}" if r == r else "-"] for y0, u, e, r in rep.rows()]
    head = (f"{lab['Value']} at T = {d['horizon']:g} (GBM mu = {d['process']['mu']:g}, sigma = "
            f"{d['process']['sigma']:g}, {d['boundary']} at [{d['price_grid'][0]:g}, {d['price_grid'][1]:g}])")
    cols = (["price now", "E(selling price)", "E(Y_T), no order", "ratio"] if d["payoff"] == "price"
            else ["price now", lab["value"], lab["free"], "ratio with / without limits"])
    notes = [f"pdepe cross-check: max |diff| = {d['pdepe_max_abs_diff']:.2e}"] if "pdepe_max_abs_diff" in d else []
    notes += _tol_note(rep)
    print_table(head, cols, rows, caption="; ".join(notes) or None)
    if d["payoff"] != "price":
        click.echo(f"Note: this values the {d['payoff']} payoff; the seed's Expected selling price is --payoff price.")


def _value(rep: Any, y0: float, u: float) -> str:
    """The table's value: :func:`gelav._display.fmt_fixed`, or to ``--tol`` with its error estimate (decimals to the estimate)."""
    rows = {r["price"]: r for r in rep.data.get("to_tolerance", {}).get("rows", [])}
    r = rows.get(y0)
    if r is None:
        return fmt_fixed(u)
    import math

    if not (u == 0 or 1e-3 <= abs(u) < 1e7):
        return f"{fmt_fixed(u)} ± {r['error_estimate']:.1e}"
    digits = max(6, min(15, 1 - math.floor(math.log10(max(r["error_estimate"], 1e-300)))))
    return f"{u:.{digits}f} ± {r['error_estimate']:.1e}"


def _tol_note(rep: Any) -> list[str]:
    t = rep.data.get("to_tolerance")
    if t is None:
        return []
    cells = sorted({r["cells"] for r in t["rows"]})
    return [f"values to tol {t['tol']:g} by refinement (validated estimates; up to {cells[-1]} cells); the "
            f"surface and the figures are on {rep.data['price_grid'][2]} cells"]


def _typed_table(rep: Any) -> None:
    d = rep.data
    lab = rep.labels
    mc = {r["price"]: r for r in d.get("monte_carlo", {}).get("rows", [])}
    rows = []
    for y0, u, _, _ in rep.rows():
        m = mc.get(y0)
        rows.append([f"{y0:.3g}", _value(rep, y0, u),
                     "skipped" if m is None else f"{fmt_fixed(m['value'])} ± {m['stderr']:.1e}"])
    skipped = "; ".join([*(f"{k.replace('_', ' ')} skipped: {v}" for k, v in d["skipped"].items()), *_tol_note(rep)])
    print_table(f"{lab['Value']} at T = {d['horizon']:g} ({d['process']['name']}, {d['boundary']} at "
                f"[{d['price_grid'][0]:g}, {d['price_grid'][1]:g}])",
                ["price now", f"{lab['value']} (PDE)", "Monte Carlo (± s.e.)"], rows, caption=skipped)
