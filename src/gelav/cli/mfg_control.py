"""``gelav mfg --game systemic-risk``: the continuous-control mean-field game against its closed form.

Hooked into :mod:`gelav.cli.mfg` by the ``--game`` option (the options below are
added to that command by :func:`control_options`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

import click

from gelav.cli._common import dump_json, fail, print_table, save_figure

__all__ = ["GAMES", "control_options", "run_control"]

GAMES = ("systemic-risk",)

#: game parameter -> (option, help); None means the preset's default
_PARAMS = {
    "a": "Herding pull towards the population mean [1/year] (default 0.5).",
    "q": "Borrowing incentive q >= 0 with q² <= epsilon (default 0.5).",
    "c": "Terminal penalty c >= 0 (default 1).",
    "sigma": "Volatility [1/sqrt(year)] (default 0.32).",
    "horizon": "Horizon T [years] (default 1).",
    "kappa": "Pull to the long-run level 1.0 [1/year] (default 0: the Carmona–Fouque–Sun game).",
}


def control_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """Add ``--game`` and the game's parameters to a command (``--epsilon`` is the command's own)."""
    for name in reversed(list(_PARAMS)):
        func = click.option(f"--{name}", f"game_{name}", default=None, type=float, help=_PARAMS[name])(func)
    return click.option("--game", "game", default=None, type=click.Choice(GAMES),
                        help="Solve a continuous-control game instead of the exit game "
                             "(--epsilon is then the game's running penalty ε).")(func)


def _read_config(path: str) -> dict[str, Any]:
    import tomllib

    with open(path, "rb") as fh:
        data = tomllib.load(fh)
    table = data.get("control")
    if not isinstance(table, dict):
        raise ValueError(f"The file {path} has no [control] table.")
    allowed = {"game", "epsilon", "n_cells", "n_steps", "method", "tol", *_PARAMS}
    unknown = set(table) - allowed
    if unknown:
        raise ValueError(f"Unknown keys in [control] of {path}: {', '.join(sorted(unknown))}; "
                         f"allowed: {', '.join(sorted(allowed))}.")
    return table


def _option_names(msg: str) -> str:
    names = {*_PARAMS, "epsilon", "n_cells", "n_steps", "tol", "method"}
    return re.sub(r"`(\w+)`", lambda m: f"`--{m.group(1).replace('_', '-')}`" if m.group(1) in names
                  else m.group(0), msg)


def run_control(*, game: str, config: str | None, scenario: str | None, method: str | None, tol: float | None,
                n_cells: int | None, n_steps: int | None, epsilon: float | None, as_json: bool, plot: str | None,
                quiet: bool, **params: float | None) -> None:
    """Solve the selected game and print the equilibrium against its closed form."""
    import numpy as np

    from gelav.mfg import ControlOptions, Numerics, solve_control, systemic_risk

    if scenario is not None:
        raise click.UsageError("--scenario selects an exit-game preset; it cannot be combined with --game.")
    kw: dict[str, Any] = {k.removeprefix("game_"): v for k, v in params.items() if v is not None}
    cfg = _read_config(config) if config else {}
    for k in _PARAMS:
        if k not in kw and k in cfg:
            kw[k] = cfg[k]
    eps = epsilon if epsilon is not None else cfg.get("epsilon")
    if eps is not None:
        kw["epsilon"] = eps
    nc = n_cells if n_cells is not None else cfg.get("n_cells", 200)
    ns = n_steps if n_steps is not None else cfg.get("n_steps", 100)
    meth = method if method is not None else cfg.get("method", "anderson")
    tl = tol if tol is not None else cfg.get("tol", 1e-10)
    try:
        g = systemic_risk(**kw)
        numerics = Numerics(n_cells=nc, n_steps=ns)
        options = ControlOptions(method=meth, tol=tl)
    except (ValueError, TypeError) as exc:
        fail(_option_names(str(exc)), code=2)
        return
    eq = solve_control(g, numerics, options)
    cf = g.closed_form
    x = eq.grid.nodes
    s = math.sqrt(cf.v0 + cf.sigma**2 * cf.horizon)
    inner = np.abs(x - cf.mean(0.0)) <= 3 * s
    err_v = float(np.max(np.abs(eq.value[0][inner] - cf.value(0.0, x[inner]))))
    err_a = float(np.max(np.abs(eq.control[0][inner] - cf.control(0.0, x[inner]))))
    err_m = float(np.max(np.abs(eq.mean - cf.mean(eq.times))))
    points = [cf.mean(0.0) - s, float(cf.mean(0.0)), cf.mean(0.0) + s]
    rows = [[f"{p:+.4f}", f"{float(eq.value_at(p)):.6f}", f"{float(cf.value(0.0, p)):.6f}",
             f"{float(eq.feedback(0.0, p)):+.6f}", f"{float(cf.control(0.0, p)):+.6f}"] for p in points]
    out = {
        "game": game, "parameters": {k: getattr(cf, k) for k in ("a", "q", "epsilon", "c", "sigma", "horizon",
                                                                 "kappa", "level", "m0", "v0")},
        "population_cost": eq.population_cost, "population_cost_exact": cf.population_cost(),
        "eta_0": float(cf.eta(0.0)),
        "max_error_value": err_v, "max_error_control": err_a, "max_error_mean": err_m,
        "at": [{"x": p, "value": float(eq.value_at(p)), "value_exact": float(cf.value(0.0, p)),
                "control": float(eq.feedback(0.0, p)), "control_exact": float(cf.control(0.0, p))} for p in points],
        "iterations": eq.iterations, "residual": eq.residual, "exploitability": eq.exploitability,
        "method": eq.method, "mass_balance_error": eq.diagnostics["mass_balance_error"],
        "duality_error": eq.diagnostics["duality_error"], "n_nodes": eq.grid.n_nodes,
        "n_steps": eq.times.size - 1, "seconds": eq.diagnostics["seconds"],
    }
    if plot:
        from pathlib import Path

        save_figure(eq.plot(), str(Path(plot) / f"{game}_overview.png"))
        out["plot_folder"] = plot
    if as_json:
        dump_json(out)
        return
    if quiet:
        return
    print_table("Systemic-risk game (Carmona–Fouque–Sun): V and α* at t = 0",
                ["x", "V numerical", "V closed form", "α* numerical", "α* closed form"], rows)
    print_table("Equilibrium", ["quantity", "value"], [
        ["E V(0, X0) numerical", f"{eq.population_cost:.6f}"], ["E V(0, X0) closed form", f"{cf.population_cost():.6f}"],
        ["max |V - V_exact| (±3 sd)", f"{err_v:.2e}"], ["max |α - α_exact| (±3 sd)", f"{err_a:.2e}"],
        ["max |mean - mean_exact|", f"{err_m:.2e}"],
        ["iterations", eq.iterations], ["residual", f"{eq.residual:.2e}"],
        ["mass balance error", f"{eq.diagnostics['mass_balance_error']:.1e}"],
        ["duality error", f"{eq.diagnostics['duality_error']:.1e}"],
        ["grid", f"{eq.grid.n_nodes} nodes × {eq.times.size - 1} steps"],
        ["time", f"{eq.diagnostics['seconds']:.2f} s"],
    ])
