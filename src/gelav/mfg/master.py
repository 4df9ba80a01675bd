r"""The master field :math:`U(t_0, L; \mu_0)`: equilibrium value as a function of the crowd's state.

For each starting law :math:`\mu_0` of a family (here Gaussian, parametrised by
mean and spread, shared by all types) the game is solved from :math:`t_0`, and
:math:`U(t_0, L; \mu_0) = V^{\mu_0}(t_0, L)` is tabulated. This is the solution
of the master equation (Cardaliaguet–Delarue–Lasry–Lions) restricted to the
family. Solves run in parallel: local processes by default, or a Dask client.

Time consistency (the defining property of the master field): restarting the
game at :math:`t_0` from the equilibrium law :math:`\mu(t_0)` (and the selling
pressure then) reproduces :math:`V(t_0, \cdot)` — see :func:`restart`.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from gelav._progress import track
from gelav.grid import Grid, TimeGrid
from gelav.mfg.model import MFGModel, Numerics, SolverOptions

__all__ = ["MasterField", "master_field", "restart"]

Array = NDArray[np.float64]


@dataclass(frozen=True, eq=False)
class MasterField:
    """:math:`U(t_0, L; N(m, s^2))` on a grid of crowd means ``m`` and spreads ``s``.

    Attributes
    ----------
    means, spreads : ndarray
        The family of starting laws.
    grid : Grid
        Liquidity nodes (common to every solve).
    values : ndarray (n_means, n_spreads, K, N)
        Equilibrium value at :math:`t_0` [NAV].
    price0 : ndarray (n_means, n_spreads, K)
        Equilibrium price at the start.
    exits : ndarray (n_means, n_spreads, K)
        Total exits per type.
    iterations, residuals : ndarray (n_means, n_spreads)
    diagnostics : dict
    """

    t0: float
    means: Array
    spreads: Array
    grid: Grid
    type_names: tuple[str, ...]
    values: Array
    price0: Array
    exits: Array
    iterations: Array
    residuals: Array
    diagnostics: dict[str, Any] = field(default_factory=dict)

    def value(self, L: ArrayLike, mean: float, spread: float, *, type: int = 0) -> Array | float:
        """:math:`U(t_0, L; N(\\text{mean}, \\text{spread}^2))` (must be a tabulated law)."""
        i = int(np.argmin(np.abs(self.means - mean)))
        j = int(np.argmin(np.abs(self.spreads - spread)))
        if abs(self.means[i] - mean) > 1e-12 or abs(self.spreads[j] - spread) > 1e-12:
            raise ValueError(f"(mean={mean}, spread={spread}) is not tabulated; means {self.means.tolist()}, "
                             f"spreads {self.spreads.tolist()}.")
        v = np.interp(np.asarray(L, dtype=float), self.grid.nodes, self.values[i, j, type])
        return float(v) if np.ndim(v) == 0 else v

    def plot(self, L: float = 0.0, *, ax: Any = None, type: int = 0) -> Any:
        """Value of the same LP state ``L`` against the crowd's mean liquidity, one line per spread."""
        from gelav.plot import new_axes

        fig, ax = new_axes(ax)
        for j, s in enumerate(self.spreads):
            v = [np.interp(L, self.grid.nodes, self.values[i, j, type]) for i in range(self.means.size)]
            ax.plot(self.means, v, "o-", label=f"crowd spread {s:g}")
        ax.set_xlabel("mean liquidity of the crowd at t₀")
        ax.set_ylabel(f"value U(t₀, L={L:g}; μ₀) [NAV]")
        ax.set_title(f"Master field: the same LP state in different crowds ({self.type_names[type]})")
        ax.legend()
        return fig

    def plot_heatmap(self, *, spread_index: int = 0, ax: Any = None, type: int = 0) -> Any:
        """:math:`U(t_0, L; \\mu_0)` over (L, crowd mean) for one spread."""
        from gelav.plot import new_axes

        fig, ax = new_axes(ax)
        mesh = ax.pcolormesh(self.grid.nodes, self.means, self.values[:, spread_index, type], shading="auto")
        fig.colorbar(mesh, ax=ax, label="value [NAV]")
        ax.set_xlabel("own liquidity state L")
        ax.set_ylabel("mean liquidity of the crowd")
        ax.set_title(f"Master field U(t₀, L; N(m, {self.spreads[spread_index]:g}²))")
        return fig


def _solve_one(args: tuple[Any, ...]) -> tuple[Any, ...]:
    from gelav.mfg.solver import solve

    model, numerics, options, t0, grid_nodes, tg, m, s = args
    grid = Grid(grid_nodes)
    eq = solve(model.with_initial(("normal", m, s)), numerics=numerics, options=options, start=t0, grid=grid,
               time_grid=tg, no_feedback=False)
    return (eq.value0, eq.price[:, 0], eq.cumulative_exits.max(axis=1), eq.iterations, eq.residual)


def _as_completed(futures: Any) -> Any:
    from dask.distributed import as_completed

    return as_completed(futures)


def master_field(model: MFGModel, *, means: Sequence[float] = (-2.0, -1.5, -1.0, -0.5, 0.0, 0.5, 1.0),
                 spreads: Sequence[float] = (0.2, 0.5), t0: float = 0.0, numerics: Numerics | None = None,
                 options: SolverOptions | None = None, workers: int | None = None, client: Any = None,
                 progress: bool = False) -> MasterField:
    r"""Tabulate :math:`U(t_0, L; \mu_0)` over Gaussian starting laws :math:`\mu_0 = N(m, s^2)`.

    Parameters
    ----------
    model : MFGModel
        Every type starts from the same law of the family (its own ``initial`` is ignored).
    means, spreads : sequences of float
        The family (spreads > 0).
    t0 : float
        Start time [years], before every fund end.
    numerics, options :
        As in :func:`gelav.mfg.solve`; one common grid covers the whole family.
    workers : int, optional
        Local processes (default: all cores, serial for one task or one core).
    client : dask.distributed.Client, optional
        Run the solves on a Dask cluster instead.
    progress : bool
        Show a Rich progress bar over the equilibrium solves.

    Returns
    -------
    MasterField

    Raises
    ------
    ValueError
        Empty family, a spread <= 0, or ``t0`` after a fund end.
    """
    t_start = time.perf_counter()
    ms = np.asarray(means, dtype=float)
    ss = np.asarray(spreads, dtype=float)
    if ms.size == 0 or ss.size == 0 or not np.all(np.isfinite(ms)) or not np.all(np.isfinite(ss)):
        raise ValueError("`means` and `spreads` must be non-empty lists of finite numbers.")
    if np.any(ss <= 0):
        raise ValueError(f"`spreads` must be > 0, got {ss.tolist()}.")
    numerics = numerics or Numerics()
    options = options or SolverOptions()
    if numerics.domain is None:
        from gelav.mfg.engine import Problem

        lo_m = Problem(model.with_initial(("normal", float(ms.min()), float(ss.max()))), numerics, start=t0)
        hi_m = Problem(model.with_initial(("normal", float(ms.max()), float(ss.max()))), numerics, start=t0)
        numerics = replace(numerics, domain=(lo_m.grid.lower, hi_m.grid.upper))
    grid = Grid.uniform(numerics.domain[0], numerics.domain[1], numerics.n_cells)  # type: ignore[index]
    from gelav.mfg.engine import Problem

    tg = Problem(model, numerics, start=t0, grid=grid).tg
    tasks = [(model, numerics, options, float(t0), grid.nodes, tg, float(m), float(s)) for m in ms for s in ss]
    mode = "serial"
    label = f"master field: {len(tasks)} equilibria"
    if client is not None:
        futures = client.map(_solve_one, tasks)
        for _ in track(_as_completed(futures), total=len(futures), label=label, show=progress):
            pass
        out = client.gather(futures)
        mode = "dask"
    else:
        n_work = workers if workers is not None else (os.cpu_count() or 1)
        if n_work > 1 and len(tasks) > 1:
            import pickle
            from concurrent.futures import ProcessPoolExecutor

            try:
                pickle.dumps(tasks[0])
            except Exception:  # user couplings defined in __main__ or lambdas
                n_work = 1
        if n_work > 1 and len(tasks) > 1:
            with ProcessPoolExecutor(max_workers=min(n_work, len(tasks))) as ex:
                out = list(track(ex.map(_solve_one, tasks), total=len(tasks), label=label, show=progress))
            mode = f"processes ({min(n_work, len(tasks))})"
        else:
            out = [_solve_one(t) for t in track(tasks, total=len(tasks), label=label, show=progress)]
    K = len(model.types)
    N = grid.n_nodes
    values = np.empty((ms.size, ss.size, K, N))
    price0 = np.empty((ms.size, ss.size, K))
    exits = np.empty((ms.size, ss.size, K))
    its = np.empty((ms.size, ss.size))
    res = np.empty((ms.size, ss.size))
    for idx, o in enumerate(out):
        i, j = divmod(idx, ss.size)
        values[i, j], price0[i, j], exits[i, j], its[i, j], res[i, j] = o
    return MasterField(float(t0), ms, ss, grid, tuple(t.name for t in model.types), values, price0, exits, its, res,
                       {"seconds": time.perf_counter() - t_start, "mode": mode, "n_solves": len(tasks)})


def restart(eq: Any, t0: float, **kwargs: Any) -> Any:
    r"""Solve the game again from :math:`t_0` starting at the equilibrium law :math:`\mu(t_0)` of ``eq``.

    Uses the same grid, the remaining steps of the same time grid and the
    selling pressure at :math:`t_0`; by time consistency the result's
    ``value0`` equals ``eq.value[:, i0]`` to the fixed-point tolerance.
    """
    from gelav.mfg.solver import solve

    i0 = int(np.argmin(np.abs(eq.times - t0)))
    if abs(eq.times[i0] - t0) > 1e-9 * max(1.0, abs(t0)):
        raise ValueError(f"`t0` = {t0} is not a time of the equilibrium's grid (nearest {eq.times[i0]:g}).")
    if i0 >= eq.times.size - 1:
        raise ValueError("`t0` must lie before the horizon.")
    if any(eq.model.fund_end(k) <= eq.times[i0] + 1e-12 for k in range(len(eq.model.types))):
        raise ValueError("`t0` must lie before every fund end.")
    tg = TimeGrid(eq.time_grid.times[i0:], eq.time_grid.theta[i0:])
    model = eq.model.with_initial([eq.density[k, i0].copy() for k in range(len(eq.model.types))])
    kwargs.setdefault("no_feedback", False)
    return solve(model, numerics=eq.numerics, start=float(eq.times[i0]), grid=eq.grid, time_grid=tg,
                 initial_pressure=float(eq.aggregates["pressure"][i0]), **kwargs)


_ = math  # keep the import for doctest namespaces
