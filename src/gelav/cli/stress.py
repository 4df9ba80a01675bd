"""``gelav stress``: the seed-000 stress test, by several independent methods (a thin layer over
:func:`gelav.tasks.stress`)."""

from __future__ import annotations

from typing import Any

import click

from gelav.cli._common import Output, print_table, shared_options
from gelav.cli._model import model_options, typed_process
from gelav.tasks._base import DEFAULTS

_DEFAULTS = DEFAULTS["stress"]  # kept importable under its old name
_D = _DEFAULTS


@click.command()
@click.option("--kappa", type=float, default=None, help=f"Mean-reversion speed κ per year [default {_D['kappa']:g}].")
@click.option("--mean", "mean", type=float, default=None, help=f"Long-run level L̄ [default {_D['mean']:g}].")
@click.option("--sigma", type=float, default=None, help=f"Volatility σ per √year [default {_D['sigma']:g}].")
@click.option("--x0", type=float, default=None, help=f"Starting state L₀ [default {_D['x0']:g}].")
@click.option("--horizon", type=float, default=None, help=f"Horizon T in years [default {_D['horizon']:g}].")
@click.option("--threshold", type=float, default=None, help=f"Threshold c [default {_D['threshold']:g}].")
@click.option("--below/--above", "below", default=None, help="P(L_T < c) (default) or P(L_T > c).")
@click.option("--method", "methods", default=None,
              help="Comma-separated methods among analytic, pde, mc, lattice [default: all available].")
@click.option("--paths", type=int, default=None, help=f"Monte Carlo paths (exact sampler) [default {_D['paths']}].")
@click.option("--seed", type=int, default=None, help=f"Seed for Monte Carlo [default {_D['seed']}].")
@click.option("--cells", type=int, default=None, help=f"PDE grid cells [default {_D['cells']}].")
@model_options
@shared_options("stress", config_help="Scenario TOML file: [process] and [stress] tables (options override).",
                plot_help="Write the density at the horizon and the fan chart to FILE (or FOLDER/stress.png).")
def stress(kappa: float | None, mean: float | None, sigma: float | None, x0: float | None, horizon: float | None,
           threshold: float | None, below: bool | None, methods: str | None, paths: int | None, seed: int | None,
           cells: int | None, out: Output, drift: str | None = None, diffusion: str | None = None,
           var: str | None = None, params: tuple[str, ...] = (), domain: str | None = None) -> None:
    """Probability that the liquidity state ends beyond a threshold (seed 000).

    Defaults reproduce the seed: OU with κ = 0.45, L̄ = 1, σ = 0.32 from L₀ = −0.5;
    P(L₂ < −0.5) = Φ(−2.89) ≈ 0.19 %, computed analytically, by the Fokker–Planck
    PDE (with a grid-refinement error estimate), by Monte Carlo (± standard error)
    and on a trinomial lattice (Richardson error estimate).
    """
    from gelav import tasks

    direction = None if below is None else ("below" if below else "above")
    method_list = [m.strip() for m in methods.split(",") if m.strip()] if methods is not None else None
    typed = typed_process(drift, diffusion, var, params, domain)  # --drift/--diffusion: any model typed in
    rep = tasks.stress(out.config, process=typed, kappa=kappa, mean=mean, sigma=sigma, x0=x0, horizon=horizon, threshold=threshold,
                       direction=direction, methods=method_list, paths=paths, seed=seed, cells=cells)
    out.emit(rep, lambda: _table(rep, out))


def _table(rep: Any, out: Output) -> None:
    res = rep.result
    inp = res.inputs
    sym = "<" if inp["direction"] == "below" else ">"
    rows = []
    for name, r in res.results.items():
        err = f"± {r.error:.2e} (s.e.)" if r.error_kind == "stderr" else ("exact" if name == "analytic" else f"~ {r.error:.1e}")
        rows.append([name, f"{r.probability:.9f}", f"{r.probability:.4%}", err, f"{r.seconds * 1e3:.1f} ms"])
    params = ", ".join(f"{k}={v:g}" for k, v in rep.process.params().items())
    ex = rep.worked_example
    caption = None
    if ex:
        caption = f"exact law of X_T: mean {ex['mean']:.5g}, sd {ex['sd']:.5g}"
        if "z" in ex:
            caption += f", z = (c − mean)/sd = {ex['z']:.4g}"
    for name, why in getattr(res, "omitted", {}).items():  # a method that cannot be trusted prints no number
        rows.append([name, "—", "—", "left out (see below)", "—"])
        caption = (caption + "\n" if caption else "") + f"{name} left out: {why}."
    print_table(
        f"P(X_T {sym} {inp['threshold']:g} | X_0 = {inp['x0']:g}), T = {inp['horizon']:g} y — "
        f"{type(rep.process).__name__}({params})",
        ["method", "probability", "percent", "error", "time"], rows, caption=caption,
    )
