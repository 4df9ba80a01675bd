"""``gelav exit-time``: expected exit times and hitting probabilities of a built-in process (a thin layer
over :func:`gelav.tasks.exit_time`)."""

from __future__ import annotations

import math
from typing import Any

import click

from gelav._display import fmt_fixed, fmt_probability
from gelav.cli._common import Output, print_table, shared_options
from gelav.cli._model import model_options, typed_process
from gelav.tasks.exit_time import FIELDS, KINDS, plot_exit_time, run_exit_time  # noqa: F401  (old names)

__all__ = ["exit_time", "plot_exit_time", "run_exit_time"]


@click.command("exit-time")
@click.option("--process", "kind", type=click.Choice(KINDS), default=None, help="Process kind (seed 002: gbm).")
@click.option("--mu", type=float, default=None, help="Drift (brownian, gbm).")
@click.option("--sigma", type=float, default=None, help="Volatility.")
@click.option("--kappa", type=float, default=None, help="Mean-reversion speed (ou, cir).")
@click.option("--mean", type=float, default=None, help="Long-run mean (ou, cir).")
@click.option("--a", "a", type=float, default=None, help="Lower limit (seed: 0).")
@click.option("--b", "b", type=float, default=None, help="Upper limit (seed: 1).")
@click.option("--x0", multiple=True, type=float, help="Starting point(s); default the quartiles of (a, b).")
@click.option("--horizon", "-T", type=float, default=None, help="Also E[min(τ, T)] and P(τ > T).")
@click.option("--n-cells", type=int, default=None, help="Grid cells (default 400).")
@model_options
@shared_options("exit-time", config_help="Scenario TOML with [process] and [exit_time] tables.",
                plot_help="Figure FILE, or FOLDER (exit_time.png, exit_time_survival.png).")
def exit_time(kind: str | None, mu: float | None, sigma: float | None, kappa: float | None, mean: float | None,
              a: float | None, b: float | None, x0: tuple[float, ...], horizon: float | None, n_cells: int | None,
              out: Output, drift: str | None = None, diffusion: str | None = None, var: str | None = None,
              params: tuple[str, ...] = (), domain: str | None = None) -> None:
    """Expected exit time from (a, b) and the probability of hitting b first.

    Solves (σ²/2) y'' + b y' = -1 with y = 0 at a, b (E[τ]) and (σ²/2) h'' + b h' = 0 with
    h(a) = 0, h(b) = 1; classifies each end (Feller) and reports E[τ] = inf, with the reason,
    when it diverges (the default is seed 002: Y = e^W on (0, 1)).
    """
    from gelav import tasks

    typed = typed_process(drift, diffusion, var, params, domain)  # --drift/--diffusion: any model typed in
    rep = tasks.exit_time(out.config, process=typed, kind=kind, mu=mu, sigma=sigma, kappa=kappa, mean=mean, a=a, b=b,
                          x0=list(x0) or None, horizon=horizon, n_cells=n_cells)
    out.emit(rep, lambda: _table(rep.data), json_extra=lambda files: {"plots": files} if files else {})


def _table(res: dict[str, Any]) -> None:
    cols = ["x0", "P(hit b first)", "E(τ) (years)"]
    if "horizon" in res:
        cols += [f"E(min(τ, {res['horizon']:g}))", f"P(τ > {res['horizon']:g})"]
    rows = []
    for i, x in enumerate(res["x0"]):
        r = [f"{x:g}", fmt_probability(res["p_upper_first"][i], 6),
             "inf" if math.isinf(res["mean_exit_time"][i]) else fmt_fixed(res["mean_exit_time"][i])]
        if "horizon" in res:
            r += [fmt_fixed(res["mean_exit_time_bounded"][i]), fmt_probability(res["survival_at_horizon"][i], 6)]
        rows.append(r)
    bd = res["boundaries"]
    est = [f"P(hit b first) {max(res['p_upper_first_error']):.1e}"]
    if "mean_exit_time_error" in res:
        est.append(f"E(τ) {max(res['mean_exit_time_error']):.1e}")
    if "horizon" in res:
        est += [f"E(min(τ, T)) {max(res['mean_exit_time_bounded_error']):.1e}",
                f"P(τ > T) {max(res['survival_at_horizon_error']):.1e}"]
    print_table(f"Exit from ({res['a']:g}, {res['b']:g}) of {res['process']}", cols, rows,
                caption=f"lower end: {bd['lower']['kind']}, upper end: {bd['upper']['kind']}; largest refinement "
                        f"estimates |X(n) − X(n/2)|/3: " + ", ".join(est))
    if res["divergence"]:
        click.echo(f"E[τ] is infinite: {res['divergence']}")
