"""``gelav mckean-vlasov``: seed 001's interacting particles against their exact McKean–Vlasov law."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import click

from gelav.cli._common import dump_json, handle_errors, print_table, save_figure

__all__ = ["mckean_vlasov"]

DEFAULTS: dict[str, Any] = {
    "kappa": 0.45, "mean": 1.0, "sigma": 0.32, "lam": 0.5, "x0": -0.5, "horizon": 2.0,
    "particles": 10_000, "systems": 10, "steps": 200, "scheme": "euler", "cells": 400, "seed": 0,
}
_INT = ("particles", "systems", "steps", "cells", "seed")


def _resolve(cli: dict[str, Any], config: str | None) -> dict[str, Any]:
    """Command-line values override the ``[mckean_vlasov]`` table, which overrides the defaults."""
    out = dict(DEFAULTS)
    if config is not None:
        from gelav.scenario import Section, load

        data = load(config)
        sec = Section(data.get("mckean_vlasov"), "mckean_vlasov", source=str(data.get("_path", config)))
        vals: dict[str, Any] = {
            "kappa": sec.positive("kappa"), "mean": sec.number("mean"), "sigma": sec.positive("sigma"),
            "lam": sec.number("lam", check=lambda v: v >= 0, expected="a number >= 0"),
            "x0": sec.number("x0"), "horizon": sec.positive("horizon"),
            "particles": sec.integer("particles", minimum=2), "systems": sec.integer("systems", minimum=2),
            "steps": sec.integer("steps", minimum=4), "cells": sec.integer("cells", minimum=16),
            "seed": sec.integer("seed", minimum=0), "scheme": sec.choice("scheme", ("euler", "exact")),
        }
        sec.check_unknown(tuple(vals))
        out.update({k: v for k, v in vals.items() if v is not None})
    out.update({k: v for k, v in cli.items() if v is not None})
    for k in _INT:
        lo = 0 if k == "seed" else 2
        if int(out[k]) < lo:
            raise ValueError(f"`--{k}` must be >= {lo}, got {out[k]}.")
    return out


@click.command("mckean-vlasov")
@click.option("--kappa", type=float, default=None, help="Mean reversion κ per year. [default 0.45]")
@click.option("--mean", "mean", type=float, default=None, help="Long-run level L̄. [default 1.0]")
@click.option("--sigma", type=float, default=None, help="Volatility σ per √year. [default 0.32]")
@click.option("--lam", type=float, default=None, help="Herding strength λ ≥ 0 per year. [default 0.5]")
@click.option("--x0", type=float, default=None, help="Common starting state L₀. [default -0.5]")
@click.option("--horizon", type=float, default=None, help="Horizon T in years. [default 2]")
@click.option("--particles", type=int, default=None, help="Particles N per system. [default 10000]")
@click.option("--systems", type=int, default=None, help="Independent systems (for error bars). [default 10]")
@click.option("--steps", type=int, default=None, help="Time steps (particles and PDE). [default 200]")
@click.option("--scheme", type=click.Choice(["euler", "exact"]), default=None,
              help="Particle scheme: Euler (general) or exact (linear model). [default euler]")
@click.option("--cells", type=int, default=None, help="Nonlinear Fokker–Planck grid cells. [default 400]")
@click.option("--seed", type=int, default=None, help="Random seed. [default 0]")
@click.option("--chaos", is_flag=True, help="Also run the propagation-of-chaos experiment (N = 100…6400).")
@click.option("--config", type=click.Path(dir_okay=False), default=None,
              help="Scenario TOML file; reads its [mckean_vlasov] table (options override it).")
@click.option("--plot", "plot", type=click.Path(), default=None,
              help="Save the figure to FILE (or FOLDER/mckean_vlasov.png).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of tables.")
@click.option("--quiet", is_flag=True, help="Print nothing but errors (and --json output).")
@handle_errors
def mckean_vlasov(kappa: float | None, mean: float | None, sigma: float | None, lam: float | None,
                  x0: float | None, horizon: float | None, particles: int | None, systems: int | None,
                  steps: int | None, scheme: str | None, cells: int | None, seed: int | None, chaos: bool,
                  config: str | None, plot: str | None, as_json: bool, quiet: bool) -> None:
    r"""Run seed 001's interacting particles against the exact McKean–Vlasov law.

    dL = κ(L̄ − L)dt + λ(E[L] − L)dt + σ dW. From a point start the law stays
    Gaussian: the mean follows the OU mean and the variance solves
    v' = −2(κ+λ)v + σ². Prints, at four dates, the exact mean and variance, the
    particle estimates (± standard error over independent systems) and the
    nonlinear Fokker–Planck solution (predictor–corrector, second order).
    """
    import numpy as np

    from gelav.mckean_vlasov import (
        MeanFieldOU,
        propagation_of_chaos,
        simulate_particles,
        solve_fokker_planck,
    )

    cli = {"kappa": kappa, "mean": mean, "sigma": sigma, "lam": lam, "x0": x0, "horizon": horizon,
           "particles": particles, "systems": systems, "steps": steps, "scheme": scheme, "cells": cells, "seed": seed}
    o = _resolve(cli, config)
    mv = MeanFieldOU(o["kappa"], o["mean"], o["sigma"], lam=o["lam"])
    T, X0 = float(o["horizon"]), float(o["x0"])
    n_steps = 4 * max(1, -(-int(o["steps"]) // 4))  # the table dates T/4, T/2, 3T/4, T are step dates
    ps = simulate_particles(mv, X0, T, n_steps, int(o["particles"]), n_systems=int(o["systems"]),
                            scheme=o["scheme"], seed=int(o["seed"]))
    pde = solve_fokker_planck(mv, X0, T, n_cells=int(o["cells"]), n_steps=n_steps)
    rows, records = [], []
    for j in (1, 2, 3, 4):
        t = T * j / 4
        k = n_steps * j // 4
        law = mv.law(t, X0)
        pm, pv = ps.mean[k], ps.var[k]
        nsys = pm.size
        se_m = float(pm.std(ddof=1) / math.sqrt(nsys)) if nsys > 1 else math.nan
        se_v = float(pv.std(ddof=1) / math.sqrt(nsys)) if nsys > 1 else math.nan
        rec = {"t": t, "exact_mean": float(law.mean()), "exact_var": float(law.var()),
               "particle_mean": float(pm.mean()), "particle_mean_stderr": se_m,
               "particle_var": float(pv.mean()), "particle_var_stderr": se_v,
               "pde_mean": pde.mean(t), "pde_var": pde.var(t)}
        records.append(rec)
        rows.append([f"{t:g}", f"{rec['exact_mean']:.5f}", f"{rec['particle_mean']:.5f} ± {se_m:.1e}",
                     f"{rec['pde_mean']:.5f}", f"{rec['exact_var']:.5f}",
                     f"{rec['particle_var']:.5f} ± {se_v:.1e}", f"{rec['pde_var']:.5f}"])
    last = records[-1]
    result: dict[str, Any] = {
        "inputs": {**mv.params(), "x0": X0, "horizon": T, "particles": int(o["particles"]),
                   "systems": int(o["systems"]), "steps": n_steps, "scheme": o["scheme"], "cells": int(o["cells"]),
                   "seed": int(o["seed"])},
        "exact": {"mean": last["exact_mean"], "var": last["exact_var"]},
        "particles": {"mean": last["particle_mean"], "mean_stderr": last["particle_mean_stderr"],
                      "var": last["particle_var"], "var_stderr": last["particle_var_stderr"],
                      "seconds": ps.diagnostics["seconds"]},
        "pde": {"mean": last["pde_mean"], "var": last["pde_var"], "seconds": pde.diagnostics["seconds"]},
        "table": records,
    }
    res_chaos = None
    if chaos:
        res_chaos = propagation_of_chaos(mv, X0, T, seed=int(o["seed"]))
        result["chaos"] = {"slope_ks": res_chaos.slope, "slope_mean": res_chaos.slope_mean,
                           "slope_var": res_chaos.slope_var, "table": res_chaos.table()}
    if plot:
        p = Path(plot)
        if p.is_dir() or p.suffix == "":
            p = p / "mckean_vlasov.png"
        save_figure(_figure(mv, X0, T, ps, pde, res_chaos, np), str(p))
        result["plot"] = str(p)
    if as_json:
        dump_json(result)
        return
    if quiet:
        return
    print_table(
        f"McKean–Vlasov (seed 001): κ={mv.kappa:g}, L̄={mv.mean:g}, σ={mv.sigma:g}, λ={mv.lam:g}, L₀={X0:g}; "
        f"{int(o['systems'])} systems × {int(o['particles']):,} particles ({o['scheme']})",
        ["t [y]", "mean exact", "mean particles", "mean PDE", "var exact", "var particles", "var PDE"], rows,
        caption=f"figure written to {result['plot']}" if plot else None,
    )
    if res_chaos is not None:
        print_table("Propagation of chaos (error vs N at the horizon)", ["N", "KS distance", "RMS mean error",
                    "RMS var error"], [[f"{r['N']:,}", f"{r['ks']:.4f} ± {r['ks_stderr']:.1e}", f"{r['mean_rmse']:.2e}",
                                        f"{r['var_rmse']:.2e}"] for r in res_chaos.table()],
                    caption=f"fitted slopes: KS {res_chaos.slope:.3f}, mean {res_chaos.slope_mean:.3f}, "
                            f"variance {res_chaos.slope_var:.3f} (theory −0.5)")


def _figure(mv: Any, x0: float, T: float, ps: Any, pde: Any, chaos: Any, np: Any) -> Any:
    import matplotlib

    if matplotlib.get_backend().lower() not in ("agg",):
        import os

        if not os.environ.get("DISPLAY"):
            matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from gelav.plot import STYLE

    with plt.rc_context(STYLE):  # type: ignore[arg-type]
        ncol = 3 if chaos is not None else 2
        fig, axes = plt.subplots(1, ncol, figsize=(5.2 * ncol, 4.0))
    ax = axes[0]
    x = ps.final[0]
    ax.hist(x, bins=60, density=True, alpha=0.45, color="C0", label=f"{x.size:,} particles")
    g = np.linspace(x.min(), x.max(), 300)
    ax.plot(g, mv.law(T, x0).pdf(g), color="C3", lw=1.5, label="exact law")
    ax.plot(g, pde.pdf(g), color="k", ls="--", lw=1, label="nonlinear Fokker–Planck")
    ax.set_xlabel("liquidity state L")
    ax.set_ylabel("density [1/unit of L]")
    ax.set_title(f"Law at t = {T:g} y")
    ax.legend(fontsize=8)
    ax = axes[1]
    ts = ps.times
    ax.plot(ts, [mv.exact_var(t) for t in ts], color="C3", label="exact v(t)")
    ax.plot(ts, ps.var.mean(axis=1), color="C0", ls="--", label="particles")
    ax.plot(pde.times, [pde.var(t) for t in pde.times], color="k", ls=":", label="Fokker–Planck")
    lam0 = mv.sigma**2 / (2 * mv.kappa) * -np.expm1(-2 * mv.kappa * ts)
    ax.plot(ts, lam0, color="0.5", lw=0.8, label="no herding (λ = 0)")
    ax.set_xlabel("time t [years]")
    ax.set_ylabel("variance of L [units²]")
    ax.set_title("Cross-sectional variance")
    ax.legend(fontsize=8)
    if chaos is not None:
        chaos.plot(ax=axes[2])
    fig.suptitle(f"McKean–Vlasov: κ={mv.kappa:g}, L̄={mv.mean:g}, σ={mv.sigma:g}, λ={mv.lam:g}")
    fig.tight_layout()
    return fig
