"""``gelav exit-time``: expected exit times and hitting probabilities of a built-in process."""

from __future__ import annotations

import math
from typing import Any

import click

from gelav.cli._common import dump_json, handle_errors, print_table, save_figure

KINDS = ("brownian", "ornstein-uhlenbeck", "gbm", "cir")
FIELDS = ("a", "b", "x0", "horizon", "n_cells", "n_steps")


def run_exit_time(process: Any, a: float, b: float, x0: list[float], *, horizon: float | None = None,
                  n_cells: int = 400, n_steps: int = 200) -> dict[str, Any]:
    """Classification of the ends, P(hit b first), E[τ] (or why it is infinite), optional E[τ∧T] and P(τ > T)."""
    import numpy as np

    from gelav._validation import check_finite
    from gelav.errors import DivergenceError
    from gelav.exits import classify_boundary, exit_probability, exit_time, exit_time_distribution

    a, b = check_finite("a", a), check_finite("b", b)
    if not a < b:
        raise ValueError(f"`a` must be < `b`, got a={a}, b={b}.")
    for x in x0:
        if not a < x < b:
            raise ValueError(f"`x0` = {x} must lie strictly inside (a, b) = ({a}, {b}).")
    lo, hi = classify_boundary(process, a, b)
    prob = exit_probability(process, a, b, n_cells=n_cells)
    out: dict[str, Any] = {
        "process": repr(process), "a": a, "b": b, "x0": x0,
        "boundaries": {c.side: {"point": c.point, "kind": c.kind, "accessible": c.accessible,
                                "scale_finite": c.scale_finite, "exit_time_finite": c.exit_time_finite}
                       for c in (lo, hi)},
        "p_upper_first": [prob.value(x) for x in x0],
        "curve": {"x": prob.x, "p_upper_first": prob.values},
    }
    try:
        et = exit_time(process, a, b, n_cells=n_cells)
        out["mean_exit_time"] = [et.value(x) for x in x0]
        out["curve"]["mean_exit_time"] = et.values
        out["divergence"] = None
    except DivergenceError as exc:
        out["mean_exit_time"] = [math.inf for _ in x0]
        out["divergence"] = str(exc)
    if horizon is not None:
        bounded = exit_time(process, a, b, horizon=horizon, n_cells=n_cells, n_steps=n_steps)
        out["horizon"] = horizon
        out["mean_exit_time_bounded"] = [bounded.value(x) for x in x0]
        out["survival_at_horizon"] = []
        out["survival"] = {}
        for x in x0:
            d = exit_time_distribution(process, a, b, x, horizon, n_cells=n_cells, n_steps=n_steps)
            out["survival_at_horizon"].append(float(d.survival[-1]))
            out["survival"][f"{x:g}"] = {"t": d.times, "survival": d.survival}
        out["curve"]["t"] = np.asarray(d.times)
    return out


def plot_exit_time(res: dict[str, Any], path: str) -> list[str]:
    from pathlib import Path

    import numpy as np

    from gelav.plot import new_axes

    p = Path(path)
    folder = p if not p.suffix else p.parent
    files = []
    fig, ax = new_axes()
    c = res["curve"]
    ax.plot(c["x"], c["p_upper_first"], label="P(hit b before a)")
    ax.set_xlabel("starting point x")
    ax.set_ylabel("probability")
    if "mean_exit_time" in c:
        ax2 = ax.twinx()
        ax2.plot(c["x"], c["mean_exit_time"], color="C1", label="E[τ]")
        ax2.set_ylabel("mean exit time [years]")
        ax2.legend(loc="lower right")
    ax.set_title(f"Exit from ({res['a']:g}, {res['b']:g}) of {res['process']}")
    ax.legend(loc="upper left")
    f = str(folder / "exit_time.png") if not p.suffix else str(p)
    save_figure(fig, f)
    files.append(f)
    if "survival" in res:
        fig, ax = new_axes()
        for k, s in res["survival"].items():
            ax.plot(np.asarray(s["t"]), np.asarray(s["survival"]), label=f"x0 = {k}")
        ax.set_xlabel("time t [years]")
        ax.set_ylabel("P(τ > t)")
        ax.set_title("Survival in the interval")
        ax.legend()
        f2 = str(folder / "exit_time_survival.png")
        save_figure(fig, f2)
        files.append(f2)
    return files


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
@click.option("--config", "config", type=click.Path(dir_okay=False), default=None,
              help="Scenario TOML with [process] and [exit_time] tables.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("--plot", "plot_path", type=click.Path(), default=None, help="Figure file or folder.")
@click.option("--quiet", "-q", is_flag=True, help="No table.")
@handle_errors
def exit_time(kind: str | None, mu: float | None, sigma: float | None, kappa: float | None, mean: float | None,
              a: float | None, b: float | None, x0: tuple[float, ...], horizon: float | None, n_cells: int | None,
              config: str | None, as_json: bool, plot_path: str | None, quiet: bool) -> None:
    """Expected exit time from (a, b) and the probability of hitting b first.

    Solves (σ²/2) y'' + b y' = -1 with y = 0 at a, b (E[τ]) and (σ²/2) h'' + b h' = 0 with
    h(a) = 0, h(b) = 1; classifies each end (Feller) and reports E[τ] = inf, with the reason,
    when it diverges (the default is seed 002: Y = e^W on (0, 1)).
    """
    from gelav.scenario import Section, load, process_from_config

    table: dict[str, Any] = {"kind": "gbm", "mu": 0.5, "sigma": 1.0}
    s: dict[str, Any] = {"a": 0.0, "b": 1.0, "n_cells": 400, "n_steps": 200}
    if config is not None:
        data = load(config)
        if "process" in data:
            table = dict(data["process"])
        sec = Section(data.get("exit_time"), "exit_time", source=data["_path"])
        for k in ("a", "b"):
            v = sec.number(k)
            if v is not None:
                s[k] = v
        v = sec.positive("horizon")
        if v is not None:
            s["horizon"] = v
        for k in ("n_cells", "n_steps"):
            iv = sec.integer(k, minimum=4)
            if iv is not None:
                s[k] = iv
        x = sec.get("x0")
        if x is not None:
            xs = x if isinstance(x, list) else [x]
            if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in xs):
                raise ValueError(f"{data['_path']}: [exit_time] field `x0` = {x!r}: expected a number or list of numbers.")
            s["x0"] = [float(v) for v in xs]
        sec.check_unknown(FIELDS)
    if kind is not None:
        if kind != table.get("kind"):
            table = {"kind": kind}
    for k, v in (("mu", mu), ("sigma", sigma), ("kappa", kappa), ("mean", mean)):
        if v is not None:
            table[k] = v
    proc = process_from_config(table, source="command line" if config is None else config)
    for k, v in (("a", a), ("b", b), ("horizon", horizon), ("n_cells", n_cells)):
        if v is not None:
            s[k] = v
    if x0:
        s["x0"] = list(x0)
    if "x0" not in s:
        s["x0"] = [s["a"] + f * (s["b"] - s["a"]) for f in (0.25, 0.5, 0.75)]
    res = run_exit_time(proc, s["a"], s["b"], s["x0"], horizon=s.get("horizon"), n_cells=s["n_cells"],
                        n_steps=s["n_steps"])
    if plot_path:
        res["plots"] = plot_exit_time(res, plot_path)
    if as_json:
        dump_json({k: v for k, v in res.items() if k not in ("curve", "survival")} | {"curve": res["curve"]})
        return
    if quiet:
        return
    cols = ["x0", "P(hit b first)", "E(τ) (years)"]
    if "horizon" in res:
        cols += [f"E(min(τ, {res['horizon']:g}))", f"P(τ > {res['horizon']:g})"]
    rows = []
    for i, x in enumerate(res["x0"]):
        r = [f"{x:g}", f"{res['p_upper_first'][i]:.6f}",
             "inf" if math.isinf(res["mean_exit_time"][i]) else f"{res['mean_exit_time'][i]:.6f}"]
        if "horizon" in res:
            r += [f"{res['mean_exit_time_bounded'][i]:.6f}", f"{res['survival_at_horizon'][i]:.6f}"]
        rows.append(r)
    bd = res["boundaries"]
    print_table(f"Exit from ({res['a']:g}, {res['b']:g}) of {res['process']}", cols, rows,
                caption=f"lower end: {bd['lower']['kind']}, upper end: {bd['upper']['kind']}")
    if res["divergence"]:
        click.echo(f"E[τ] is infinite: {res['divergence']}")
    if plot_path:
        click.echo("Figures: " + ", ".join(res["plots"]))
