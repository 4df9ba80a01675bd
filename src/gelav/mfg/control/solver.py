r"""Equilibrium of a mean-field control game: HJB backward, Fokker–Planck forward, fixed point on the aggregates.

One evaluation of the fixed-point map on the aggregate path :math:`Z = (s_0, \dots, s_N)`,

.. math::

    \Phi(Z) = \text{aggregates}\Big(\text{forward}\big(\text{HJB}(Z)\big)\Big),

solves the HJB equation backward by policy iteration in every θ-step on the
fitted generator of the drift :math:`b + \alpha` (:mod:`gelav.mfg.control.hjb`)
and moves the population with the exact transpose of the final linear steps.
The equilibrium :math:`\Phi(Z) = Z` is found by a method of the fixed-point
registry the stopping game uses, :data:`gelav.mfg.fixed_point.FIXED_POINT_REGISTRY`
(:mod:`gelav.mfg.control.fixed_point`).
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from gelav._validation import check_int, check_positive
from gelav.errors import AccuracyWarning
from gelav.fd.generator import PECLET_WARNING
from gelav.mfg.control.fixed_point import METHODS, iterate
from gelav.mfg.control.game import ControlGame
from gelav.mfg.control.hjb import Discretisation, Sweep
from gelav.mfg.control.result import ControlEquilibrium
from gelav.mfg.model import Numerics, SolverOptions, check_iteration_settings

__all__ = ["ControlEquilibrium", "ControlOptions", "solve_control"]


@dataclass(frozen=True)
class ControlOptions:
    """Fixed-point and policy-iteration settings of :func:`solve_control`.

    Parameters
    ----------
    method : {"anderson", "picard", "fictitious", "auto"}
        Iteration on the aggregate path (``auto`` = Anderson). Default "anderson".
    tol : float
        Stop when :math:`\\|\\Phi(Z) - Z\\|_\\infty <` tol. Default 1e-10.
    max_iter : int
        Evaluations of :math:`\\Phi` before :class:`ConvergenceError`. Default 200.
    damping : float
        Weight of :math:`\\Phi(Z)` in a Picard/Anderson step, in (0, 1]. Default 1.
    memory : int
        Anderson memory. Default 5.
    howard_tol : float
        Policy iteration stops when the step's values change by less than this
        (relative to max(1, |V|)). Default 1e-11.
    howard_max_iter : int
        Policy iterations per step before :class:`ConvergenceError`. Default 50.
    exploitability : bool
        Record the exploitability at every iteration (one extra linear sweep). Default True.
    guess : array_like, optional
        Starting aggregate path, shape ``(n_t + 1, k)``, ``(n_t + 1,)`` or a
        constant; default the start law's aggregates at every time.
    """

    method: str = "anderson"
    tol: float = 1e-10
    max_iter: int = 200
    damping: float = 1.0
    memory: int = 5
    howard_tol: float = 1e-11
    howard_max_iter: int = 50
    exploitability: bool = True
    guess: Any = None

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"Unknown `method` {self.method!r}; registered methods are "
                             + ", ".join(repr(m) for m in METHODS) + ".")
        check_iteration_settings(self)
        object.__setattr__(self, "howard_tol", check_positive("howard_tol", self.howard_tol))
        object.__setattr__(self, "howard_max_iter", check_int("howard_max_iter", self.howard_max_iter))
        if not isinstance(self.exploitability, (bool, np.bool_)):
            raise TypeError("`exploitability` must be a bool.")


def _options(options: ControlOptions | SolverOptions | None) -> ControlOptions:
    if options is None:
        return ControlOptions()
    if isinstance(options, ControlOptions):
        return options
    if isinstance(options, SolverOptions):
        if options.method == "newton-krylov":
            raise ValueError("`method` 'newton-krylov' is not registered for control games; "
                             "use 'anderson', 'picard' or 'fictitious'.")
        return ControlOptions(method=options.method, tol=options.tol, max_iter=options.max_iter,
                              damping=options.damping, memory=options.memory,
                              exploitability=options.exploitability)
    raise TypeError(f"`options` must be ControlOptions or SolverOptions, got {type(options).__name__}.")


def _grid(game: ControlGame, numerics: Numerics) -> Any:
    from gelav.grid import auto_domain, grid_for
    from gelav.processes import Process

    dom = numerics.domain or game.domain
    if dom is None:
        init = game.initial
        if isinstance(init, float):
            pts: Any = np.array([init])
        elif hasattr(init, "ppf"):
            # the grid spans the 1e-10 quantiles: a law without a finite variance (Cauchy: +-3e9) put
            # the population in a cell or two and failed later with an unrelated convexity message
            var = float(init.var()) if hasattr(init, "var") else math.nan
            if not math.isfinite(var):
                raise ValueError(f"`initial` must have a finite variance when the domain is automatic (got "
                                 f"variance {var:g}); pass an explicit `domain` (on the game or in `numerics`).")
            pts = np.array([float(init.ppf(1e-10)), float(init.isf(1e-10))])
        else:
            raise ValueError("An `initial` density needs an explicit `domain` (on the game or in `numerics`).")
        s0 = float(np.mean(pts))
        # the uncontrolled drift at the start's aggregates, plus what a bounded control can add
        cover = Process(lambda t, x: game.drift(t, x, s0), lambda t, x: game.volatility(t, x))
        lo, hi = auto_domain(cover, pts, game.horizon)
        push = max((abs(a) for a in game.control_set if math.isfinite(a)), default=0.0) * game.horizon
        w = hi - lo
        dom = (lo - 0.2 * w - push, hi + 0.2 * w + push)
    return grid_for(game.initial, dom[0], dom[1], numerics.n_cells)


#: below this many cells of standard deviation (at any time) the law is not resolved: an AccuracyWarning
MIN_SPREAD_CELLS = 3.0


def _resolution(game: ControlGame, grid: Any, times: Any, masses: np.ndarray, control: np.ndarray, disc: Any,
                stats: np.ndarray) -> tuple[float, float]:
    r"""How well the grid resolves the equilibrium law: ``(min_spread_cells, bulk_peclet)``.

    ``min_spread_cells``: the smallest, over the saved times, standard deviation of the population
    divided by the grid spacing at its mean. ``bulk_peclet``: the largest, over the times, population
    average of the cell Péclet number :math:`|b + \alpha^*|h/D` (``inf`` where the population sits
    where :math:`\sigma = 0`); above :data:`~gelav.fd.generator.PECLET_WARNING` the fitted flux upwinds
    and the law's spread carries a numerical diffusion :math:`\approx |b + \alpha^*|h/2`.
    (A 1000-year systemic-risk game on a domain of ±2240 kept its sd-0.2 population on two nodes and
    printed a cost of 0.13 for 16.5 with no other sign of it.)"""
    x, h = grid.nodes, grid.volumes.copy()  # a node's spacing: its control volume, a whole cell at the ends
    h[[0, -1]] = grid.spacing[[0, -1]]
    worst_cells, worst_pe = math.inf, 0.0
    for n, t in enumerate(np.asarray(times, dtype=float).tolist()):
        w = masses[n] / masses[n].sum()
        m = float(w @ x)
        sd = math.sqrt(max(float(w @ (x - m) ** 2), 0.0))
        i = min(int(np.searchsorted(x, m)), x.size - 1)
        worst_cells = min(worst_cells, sd / float(h[i]))
        b = game.drift(t, x, disc.stats(stats[n])) + control[n]
        d = 0.5 * game.volatility(t, x) ** 2
        with np.errstate(divide="ignore", invalid="ignore"):
            z = np.where(d > 0, np.abs(b) * h / np.where(d > 0, d, 1.0), np.where(b != 0, math.inf, 0.0))
        worst_pe = max(worst_pe, float(w[w > 0] @ z[w > 0]))
    return worst_cells, worst_pe


def _guess(opts: ControlOptions, z0: np.ndarray, n_times: int) -> np.ndarray:
    k = z0.size
    if opts.guess is None:
        return np.tile(z0, (n_times, 1))
    g = np.asarray(opts.guess, dtype=float)
    if g.ndim == 0:
        g = np.full((n_times, k), float(g))
    elif g.ndim == 1 and k == 1 and g.size == n_times:
        g = g[:, None]
    if g.shape != (n_times, k) or not np.all(np.isfinite(g)):
        raise ValueError(f"`guess` must be finite with shape ({n_times}, {k}) (one aggregate row per time), "
                         f"got shape {np.asarray(opts.guess).shape}.")
    return g.copy()


def solve_control(
    game: ControlGame,
    numerics: Numerics | None = None,
    options: ControlOptions | SolverOptions | None = None,
    *,
    callback: Callable[[dict[str, Any]], None] | None = None,
) -> ControlEquilibrium:
    r"""Solve the mean-field control game: :math:`V` (a cost-to-go), :math:`\alpha^*`, the population.

    .. math::

        -\partial_t V + \rho V = \min_{\alpha\in A}\big[(b + \alpha)\partial_x V + f\big] + \tfrac12\sigma^2\partial_x^2 V,
        \qquad
        \partial_t\mu = -\partial_x\big((b + \alpha^*)\mu\big) + \tfrac12\partial_x^2(\sigma^2\mu),
        \qquad s_t = \Phi(\mu_t).

    Parameters
    ----------
    game : ControlGame
    numerics : gelav.mfg.Numerics, optional
        ``n_cells`` (space cells), ``n_steps`` (time steps), ``domain``
        (reflecting ends; default automatic) and ``scheme`` ("cn":
        Crank–Nicolson with Rannacher start-up, second order; "euler"). The
        relaxation settings of the stopping game (``epsilon``, ``temperature``,
        ``continuation``, ``control``) do not apply here.
    options : ControlOptions or SolverOptions, optional
    callback : callable ``(record) -> None``, optional
        Called after every fixed-point evaluation.

    Returns
    -------
    ControlEquilibrium

    Raises
    ------
    ConvergenceError
        The fixed point or a step's policy iteration ran out of budget (with the history).
    ValueError, TypeError
        Bad arguments.

    Examples
    --------
    >>> from gelav.mfg import systemic_risk, solve_control, Numerics
    >>> game = systemic_risk()
    >>> eq = solve_control(game, Numerics(n_cells=80, n_steps=40))
    >>> bool(abs(eq.population_cost - game.closed_form.population_cost()) < 1e-3)
    True
    """
    from gelav.forward import initial_masses
    from gelav.grid import TimeGrid

    t_start = time.perf_counter()
    if not isinstance(game, ControlGame):
        raise TypeError(f"`game` must be a ControlGame, got {type(game).__name__}.")
    numerics = Numerics(n_cells=200, n_steps=200) if numerics is None else numerics
    if not isinstance(numerics, Numerics):
        raise TypeError(f"`numerics` must be gelav.mfg.Numerics, got {type(numerics).__name__}.")
    if numerics.engine == "numba":
        raise ValueError(f"`engine` {numerics.engine!r} is not available for control games; use 'numpy'.")
    opts = _options(options)
    grid = _grid(game, numerics)
    tg = TimeGrid.build(game.horizon, numerics.n_steps, scheme=numerics.scheme)
    p0 = initial_masses(game.initial, grid)
    raw = game.statistic(grid.nodes, p0 / p0.sum())
    disc = Discretisation(game, grid, tg, scalar_stats=np.ndim(raw) == 0, howard_tol=opts.howard_tol,
                          howard_max_iter=opts.howard_max_iter)
    z0 = game.aggregates(grid.nodes, p0)
    Z = _guess(opts, z0, tg.times.size)

    history: list[dict[str, Any]] = []
    last: dict[str, Any] = {}

    def phi(Zin: np.ndarray) -> tuple[np.ndarray, float]:
        if not np.all(np.isfinite(Zin)):
            raise FloatingPointError("The aggregate path is not finite.")
        sw = disc.backward(Zin)
        masses = disc.forward(sw, p0)
        Zn = disc.aggregates(masses)
        res = float(np.max(np.abs(Zn - Zin)))
        expl = math.nan
        if opts.exploitability and "sweep" in last:
            prev: Sweep = disc.evaluate(Zin, last["sweep"].policy)
            expl = float(p0 @ (prev.value[0] - sw.value[0]) / p0.sum())
        last.update(Z=Zin.copy(), Zn=Zn, sweep=sw, masses=masses)
        rec = {"iteration": len(history) + 1, "method": opts.method, "residual": res, "exploitability": expl,
               "howard_max": int(sw.howard.max()), "seconds": time.perf_counter() - t_start}
        history.append(rec)
        if callback is not None:
            callback(rec)
        return Zn, res

    iterate(opts.method, phi, Z, opts.tol, opts.max_iter, damping=opts.damping, memory=opts.memory,
            history=history)
    sw, masses, Zn = last["sweep"], last["masses"], last["Zn"]
    x = grid.nodes
    control = np.empty_like(sw.value)
    for n, t in enumerate(tg.times):
        control[n] = game.best_control(float(t), x, disc.gradient(sw.value[n]), disc.stats(Zn[n]))
    total = masses.sum(axis=1)
    boundary = float(np.max(masses[:, 0] + masses[:, -1]) / total[0])
    spread_cells, peclet = _resolution(game, grid, tg.times, masses, control, disc, Zn)
    diag = {
        "converged": True,
        "mass_balance_error": float(np.max(np.abs(total - total[0]))),
        "duality_error": disc.duality_gap(sw, p0),
        "min_mass": float(masses.min()),
        "howard_iterations_max": int(sw.howard.max()),
        "howard_iterations_mean": float(sw.howard.mean()),
        "boundary_mass": boundary,
        "min_spread_cells": spread_cells,
        "bulk_peclet": peclet,
        "n_nodes": grid.n_nodes,
        "n_steps": tg.n_steps,
        "domain": (grid.lower, grid.upper),
        "scheme": numerics.scheme,
        "seconds": time.perf_counter() - t_start,
    }
    if boundary > 1e-6:
        warnings.warn(f"{boundary:.2e} of the population sits on the reflecting ends of the grid "
                      f"[{grid.lower:g}, {grid.upper:g}]; widen `domain`.", AccuracyWarning, stacklevel=2)
    if spread_cells < MIN_SPREAD_CELLS:
        warnings.warn(f"The population's standard deviation falls to {spread_cells:.3g} grid cells: the grid "
                      f"[{grid.lower:g}, {grid.upper:g}] with {grid.n_nodes - 1} cells does not resolve the law, and "
                      "the values and costs may be far off; narrow `domain` to where the population goes or raise "
                      "`n_cells`.", AccuracyWarning, stacklevel=2)
    if peclet > PECLET_WARNING:
        warnings.warn(f"The cell Péclet number |b + α|h/D averaged over the population reaches {peclet:.3g}: the "
                      f"fitted flux upwinds there, with a numerical diffusion about {peclet / 2:.3g} times the "
                      "process's, so the law's spread and the costs are first order in h and may be far off; "
                      "refine the grid (`n_cells`, `domain`).", AccuracyWarning, stacklevel=2)
    return ControlEquilibrium(game=game, grid=grid, times=np.asarray(tg.times).copy(), value=sw.value,
                              control=control, policy=sw.policy, masses=masses, statistics=Zn,
                              history=history, method=opts.method, diagnostics=diag)
