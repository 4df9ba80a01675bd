r"""The McKean–Vlasov task: seed 001's herding particles against the exact law and the nonlinear PDE.

:math:`dL = \kappa(\bar L - L)dt + \lambda(E[L] - L)dt + \sigma dW`; from a point start the
law is Gaussian with the OU mean and variance :math:`v' = -2(\kappa + \lambda)v + \sigma^2`.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

from gelav.tasks._base import ScenarioLike, TaskResult, read_table, settings

__all__ = ["FIELDS", "McKeanVlasovReport", "mckean_vlasov", "read_mckean_vlasov_table"]

FIELDS = ("kappa", "mean", "sigma", "lam", "x0", "horizon", "particles", "systems", "steps", "scheme", "cells",
          "seed")
_INT = ("particles", "systems", "steps", "cells", "seed")
#: the smallest sizes, the same from the command line and from a scenario file (the file asked cells >= 16 and
#: steps >= 4 where the options took 4 and 2): the Fokker–Planck grid needs 4 cells (was named `n_cells`)
MIN_SIZES = {"seed": 0, "cells": 4, "steps": 2, "particles": 2, "systems": 2}
#: the nonlinear Fokker–Planck columns are left out below this many cells per standard deviation of the law
MIN_CELLS_PER_SD = 4.0


def read_mckean_vlasov_table(scenario: Mapping[str, Any]) -> dict[str, Any]:
    """The validated fields of the ``[mckean_vlasov]`` table."""
    return read_table(scenario, "mckean_vlasov", FIELDS, lambda sec: {
        "kappa": sec.positive("kappa"), "mean": sec.number("mean"), "sigma": sec.positive("sigma"),
        "lam": sec.number("lam", check=lambda v: v >= 0, expected="a number >= 0"),
        "x0": sec.number("x0"), "horizon": sec.positive("horizon"),
        "particles": sec.integer("particles", minimum=2), "systems": sec.integer("systems", minimum=2),
        "steps": sec.integer("steps", minimum=MIN_SIZES["steps"]),
        "cells": sec.integer("cells", minimum=MIN_SIZES["cells"]),
        "seed": sec.integer("seed", minimum=0), "scheme": sec.choice("scheme", ("euler", "exact")),
    })


class McKeanVlasovReport(TaskResult):
    """Exact law, particles and PDE at T/4, T/2, 3T/4, T (``data``: the JSON of ``gelav mckean-vlasov``)."""

    data: Any = TaskResult.json_field()
    model: Any = None
    particles: Any = None
    pde: Any = None
    chaos: Any = None

    name = "mckean_vlasov"

    def key_numbers(self) -> dict[str, Any]:
        d = self.data
        T = d["inputs"]["horizon"]
        return {
            f"mean at T = {T:g}: exact": d["exact"]["mean"],
            f"mean at T = {T:g}: particles": d["particles"]["mean"],
            "mean: particles' standard error": d["particles"]["mean_stderr"],
            f"mean at T = {T:g}: Fokker–Planck": "not resolved" if d["pde"]["mean"] is None else d["pde"]["mean"],
            f"variance at T = {T:g}: exact": d["exact"]["var"],
            f"variance at T = {T:g}: particles": d["particles"]["var"],
            "variance: particles' standard error": d["particles"]["var_stderr"],
            f"variance at T = {T:g}: Fokker–Planck": "not resolved" if d["pde"]["var"] is None else d["pde"]["var"],
            **({"variance: the Euler particles' time-step bias": d["particles"]["euler_bias"]["var"]}
               if "euler_bias" in d["particles"] else {}),
        }

    def figures(self) -> dict[str, Any]:
        d = self.data["inputs"]
        return {"mckean_vlasov": _figure(self.model, d["x0"], d["horizon"], self.particles, self.pde, self.chaos)}

    def tables(self) -> dict[str, dict[str, Any]]:
        import numpy as np

        rec = self.data["table"]
        out = {"moments": {k: np.array([r[k] for r in rec]) for k in rec[0]}}
        out["final_particles"] = {"L": np.asarray(self.particles.final[0])}
        return out


def mckean_vlasov(scenario: ScenarioLike = None, *, chaos: bool | None = None, **options: Any) -> McKeanVlasovReport:
    """Seed 001's particles from a scenario's ``[mckean_vlasov]`` table and options (``None``: not given)."""
    from gelav.mckean_vlasov import (
        MeanFieldOU,
        check_euler_steps,
        propagation_of_chaos,
        simulate_particles,
        solve_fokker_planck,
    )

    _, o = settings("mckean_vlasov", scenario, {**options, "chaos": chaos}, (*FIELDS, "chaos"),
                    read_mckean_vlasov_table)
    for key in _INT:
        lo = MIN_SIZES.get(key, 2)
        if int(o[key]) < lo:
            raise ValueError(f"`--{key}` must be >= {lo}, got {o[key]}.")
    from gelav._validation import MAX_CELLS, MAX_STATE, check_finite, check_horizon, check_size

    for key in ("particles", "systems", "steps", "cells"):  # sizes that fit in memory (was out of memory)
        check_size({f"--{key}": int(o[key])}, maximum=MAX_CELLS)
    check_size({"--particles": int(o["particles"]), "--systems": int(o["systems"])})
    # named as given, not as the solver's `initial`; as large as the model's mean may be (1e308 overflowed the
    # particles' sums with RuntimeWarnings before an error that did not name it)
    check_finite("x0", o["x0"], maximum=MAX_STATE)
    check_horizon("horizon", o["horizon"])
    mv = MeanFieldOU(o["kappa"], o["mean"], o["sigma"], lam=o["lam"])
    T, X0 = float(o["horizon"]), float(o["x0"])
    n_steps = 4 * max(1, -(-int(o["steps"]) // 4))  # the table dates T/4, T/2, 3T/4, T are step dates
    if o["scheme"] == "euler":
        check_euler_steps(mv, T, n_steps, name="steps")  # before any work, naming the option
    # The particles and the nonlinear Fokker–Planck equation are independent: the solve may run in a
    # forked child beside the particles (_fork_fokker_planck). The same numbers either way.
    import functools

    from gelav import _forked

    cells = int(o["cells"])
    fp = functools.partial(_fokker_planck, solve_fokker_planck, mv, X0, T, cells, n_steps)
    with _forked.beside(fp, fork=_fork_fokker_planck(cells, n_steps)) as fokker_planck:
        ps = simulate_particles(mv, X0, T, n_steps, int(o["particles"]), n_systems=int(o["systems"]),
                                scheme=o["scheme"], seed=int(o["seed"]))
        pde = dataclasses.replace(fokker_planck(), process=mv)
    # The law must be resolved by the PDE grid (λ = 1e5: a point mass that never moved, the mean printed as
    # -0.5 against 0.39; λ = 1000: 2.7 cells per sd, 2.7 % off). The exact law's spread, not only the PDE's:
    # numerical diffusion widens an unresolved law (σ = 1e-6, λ = 0: variance 5.1e-4 for 1e-13, the mean 1.4 % off)
    cells_per_sd = min(min(math.sqrt(max(pde.var(T * j / 4), 0.0)), mv.normal_law(T * j / 4, X0).std())
                       / pde.grid.max_spacing for j in (1, 2, 3, 4))
    pde_omitted = None
    if not cells_per_sd >= MIN_CELLS_PER_SD:
        pde_omitted = (f"the law is not resolved by the PDE grid: {cells_per_sd:.2g} cells per standard deviation "
                       f"(at least {MIN_CELLS_PER_SD:g}); raise --cells")
    euler_bias = None
    if o["scheme"] == "euler":  # the time-step bias the standard errors leave out (exact for this model)
        em, ev = mv.euler_moments(T, n_steps, X0)
        euler_bias = {"mean": float(em[-1] - mv.exact_mean(T, X0)), "var": float(ev[-1] - mv.exact_var(T))}
    records = []
    for j in (1, 2, 3, 4):
        t = T * j / 4
        k = n_steps * j // 4
        law = mv.normal_law(t, X0)  # mv.law's numbers without importing scipy.stats
        pm, pv = ps.mean[k], ps.var[k]
        nsys = pm.size
        se_m = float(pm.std(ddof=1) / math.sqrt(nsys)) if nsys > 1 else math.nan
        se_v = float(pv.std(ddof=1) / math.sqrt(nsys)) if nsys > 1 else math.nan
        records.append({"t": t, "exact_mean": float(law.mean()), "exact_var": float(law.var()),
                        "particle_mean": float(pm.mean()), "particle_mean_stderr": se_m,
                        "particle_var": float(pv.mean()), "particle_var_stderr": se_v,
                        "pde_mean": None if pde_omitted else pde.mean(t),
                        "pde_var": None if pde_omitted else pde.var(t)})
    last = records[-1]
    data: dict[str, Any] = {
        "inputs": {**mv.params(), "x0": X0, "horizon": T, "particles": int(o["particles"]),
                   "systems": int(o["systems"]), "steps": n_steps, "scheme": o["scheme"], "cells": int(o["cells"]),
                   "seed": int(o["seed"])},
        "exact": {"mean": last["exact_mean"], "var": last["exact_var"]},
        "particles": {"mean": last["particle_mean"], "mean_stderr": last["particle_mean_stderr"],
                      "var": last["particle_var"], "var_stderr": last["particle_var_stderr"],
                      "seconds": ps.diagnostics["seconds"]},
        "pde": {"mean": last["pde_mean"], "var": last["pde_var"], "seconds": pde.diagnostics["seconds"],
                "cells_per_sd": cells_per_sd, **({"omitted": pde_omitted} if pde_omitted else {})},
        "table": records,
    }
    if euler_bias is not None:
        data["particles"]["euler_bias"] = euler_bias
    res_chaos = None
    if o["chaos"]:
        res_chaos = propagation_of_chaos(mv, X0, T, seed=int(o["seed"]))
        data["chaos"] = {"slope_ks": res_chaos.slope, "slope_mean": res_chaos.slope_mean,
                         "slope_var": res_chaos.slope_var, "table": res_chaos.table()}
    from gelav.results import Diagnostics

    diag = Diagnostics(timings={"particles": ps.diagnostics["seconds"], "pde": pde.diagnostics["seconds"]})
    return McKeanVlasovReport(inputs=o, diagnostics=diag, data=data, model=mv, particles=ps, pde=pde, chaos=res_chaos)


def _fork_fokker_planck(cells: int, n_steps: int) -> bool:
    """Whether the nonlinear Fokker–Planck solve runs in a forked child beside the particles: when it is
    short and has SciPy's LAPACK to import, which is most of what it costs in a new process (0.15 s of the
    default solve's 0.2 s; the particles take 0.3 s)."""
    import sys

    return "scipy.linalg" not in sys.modules and cells * n_steps <= 10**6


def _fokker_planck(solve: Any, mv: Any, x0: float, T: float, cells: int, n_steps: int) -> Any:
    """The nonlinear Fokker–Planck solution without its process (the model's coefficients are lambdas,
    which do not pickle: a forked child sends the rest back)."""
    return dataclasses.replace(solve(mv, x0, T, n_cells=cells, n_steps=n_steps), process=None)


def _figure(mv: Any, x0: float, T: float, ps: Any, pde: Any, chaos: Any) -> Any:
    import matplotlib.pyplot as plt
    import numpy as np

    from gelav.plot import STYLE, new_axes

    plt.close(new_axes()[0])  # selects a headless backend when there is no display
    with plt.rc_context(STYLE):  # type: ignore[arg-type]
        ncol = 3 if chaos is not None else 2
        fig, axes = plt.subplots(1, ncol, figsize=(5.2 * ncol, 4.0))
    ax = axes[0]
    x = ps.final[0]
    ax.hist(x, bins=60, density=True, alpha=0.45, color="C0", label=f"{x.size:,} particles")
    g = np.linspace(x.min(), x.max(), 300)
    ax.plot(g, mv.normal_law(T, x0).pdf(g), color="C3", lw=1.5, label="exact law")
    ax.plot(g, pde.pdf(g), color="k", ls="--", lw=1, label="nonlinear Fokker–Planck")
    ax.set_xlabel("liquidity state L")
    ax.set_ylabel("density [1/unit of L]")
    ax.set_title(f"Law at t = {T:g} y")
    ax.legend(fontsize=8, loc="best")
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
    ax.legend(fontsize=8, loc="best")
    if chaos is not None:
        chaos.plot(ax=axes[2])
    fig.suptitle(f"McKean–Vlasov: κ={mv.kappa:g}, L̄={mv.mean:g}, σ={mv.sigma:g}, λ={mv.lam:g}")
    fig.tight_layout()
    return fig
