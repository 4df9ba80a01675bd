"""``gelav mckean-vlasov``: seed 001's interacting particles against their exact McKean–Vlasov law (a thin
layer over :func:`gelav.tasks.mckean_vlasov`)."""

from __future__ import annotations

from typing import Any

import click

from gelav.cli._common import Output, print_table, shared_options
from gelav.tasks._base import DEFAULTS as _ALL

__all__ = ["mckean_vlasov"]

DEFAULTS: dict[str, Any] = {k: v for k, v in _ALL["mckean_vlasov"].items() if k != "chaos"}  # the old name


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
@shared_options("mckean-vlasov",
                config_help="Scenario TOML file; reads its [mckean_vlasov] table (options override it).",
                plot_help="Save the figure to FILE (or FOLDER/mckean_vlasov.png).")
def mckean_vlasov(kappa: float | None, mean: float | None, sigma: float | None, lam: float | None,
                  x0: float | None, horizon: float | None, particles: int | None, systems: int | None,
                  steps: int | None, scheme: str | None, cells: int | None, seed: int | None, chaos: bool,
                  out: Output) -> None:
    r"""Run seed 001's interacting particles against the exact McKean–Vlasov law.

    dL = κ(L̄ − L)dt + λ(E[L] − L)dt + σ dW. From a point start the law stays
    Gaussian: the mean follows the OU mean and the variance solves
    v' = −2(κ+λ)v + σ². Prints, at four dates, the exact mean and variance, the
    particle estimates (± standard error over independent systems) and the
    nonlinear Fokker–Planck solution (predictor–corrector, second order).
    """
    from gelav import tasks

    rep = tasks.mckean_vlasov(out.config, chaos=chaos or None, kappa=kappa, mean=mean, sigma=sigma, lam=lam, x0=x0,
                              horizon=horizon, particles=particles, systems=systems, steps=steps, scheme=scheme,
                              cells=cells, seed=seed)
    out.emit(rep, lambda: _table(rep), json_extra=lambda files: {"plot": files[0]} if out.plot else {})


def _table(rep: Any) -> None:
    mv, o = rep.model, rep.data["inputs"]
    def pde(v: float | None) -> str:
        return "—" if v is None else f"{v:.5f}"

    rows = [[f"{r['t']:g}", f"{r['exact_mean']:.5f}", f"{r['particle_mean']:.5f} ± {r['particle_mean_stderr']:.1e}",
             pde(r["pde_mean"]), f"{r['exact_var']:.5f}",
             f"{r['particle_var']:.5f} ± {r['particle_var_stderr']:.1e}", pde(r["pde_var"])]
            for r in rep.data["table"]]
    notes = []
    if "omitted" in rep.data["pde"]:
        notes.append(f"PDE left out: {rep.data['pde']['omitted']}")
    bias, last = rep.data["particles"].get("euler_bias"), rep.data["table"][-1]
    if bias is not None and (abs(bias["mean"]) > last["particle_mean_stderr"]
                             or abs(bias["var"]) > last["particle_var_stderr"]):
        notes.append(f"the Euler particles estimate their discrete law, whose time-step bias at T is {bias['mean']:+.1e} "
                     f"in the mean and {bias['var']:+.1e} in the variance (more than a standard error); raise "
                     f"--steps or use --scheme exact")
    print_table(
        f"McKean–Vlasov (seed 001): κ={mv.kappa:g}, L̄={mv.mean:g}, σ={mv.sigma:g}, λ={mv.lam:g}, L₀={o['x0']:g}; "
        f"{o['systems']} systems × {o['particles']:,} particles ({o['scheme']})",
        ["t [y]", "mean exact", "mean particles", "mean PDE", "var exact", "var particles", "var PDE"], rows,
        caption="; ".join(notes) or None,
    )
    ch = rep.chaos
    if ch is not None:
        print_table("Propagation of chaos (error vs N at the horizon)", ["N", "KS distance", "RMS mean error",
                    "RMS var error"], [[f"{r['N']:,}", f"{r['ks']:.4f} ± {r['ks_stderr']:.1e}", f"{r['mean_rmse']:.2e}",
                                        f"{r['var_rmse']:.2e}"] for r in ch.table()],
                    caption=f"fitted slopes: KS {ch.slope:.3f}, mean {ch.slope_mean:.3f}, "
                            f"variance {ch.slope_var:.3f} (theory −0.5)")
