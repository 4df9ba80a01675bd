r"""Fokker–Planck (forward Kolmogorov) solver.

Solves, for the density :math:`\rho(t, x)` of :math:`dX = b\,dt + \sigma\,dW`
killed at rate :math:`k`,

.. math::

    \partial_t \rho = -\partial_x\big(b\,\rho\big) + \tfrac12 \partial_x^2\big(\sigma^2 \rho\big) - k\,\rho ,

as the master equation :math:`\dot p = Q^\top p` of the chain of
:mod:`gelav.generator` (node masses :math:`p_i \approx \int_{V_i}\rho`), stepped by
Crank–Nicolson with Rannacher start-up (second order in space and time) or
backward Euler, each step being the exact transpose of the backward solver's step.
"""

from __future__ import annotations

import math
import time as _time
import warnings
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from gelav._validation import MAX_CELLS, MAX_HORIZON, check_finite, check_int, check_positive
from gelav.density import Density
from gelav.errors import AccuracyWarning, MassLossWarning
from gelav.fd.boundaries import Boundary
from gelav.fd.discretization import Discretization, edge_mass, resolve_discretization, run_time_grid
from gelav.fd.generator import FLUXES, Generator, Rate, check_flux, warn_peclet
from gelav.fd.grid import Grid, TimeGrid, auto_domain, grid_for, log_grid_lower
from gelav.fd.step_control import (
    positive_step,
    signed_rate_run,
    with_implicit_halves,
)
from gelav.fd.stepping import Stepper, step_operators
from gelav.processes.protocol import check_process, domain_of, name_of, params_of, stationary_law

if TYPE_CHECKING:
    from gelav.processes.protocol import ProcessLike

__all__ = ["ForwardRun", "forward", "initial_masses"]


def _is_distribution(obj: Any) -> bool:
    return hasattr(obj, "cdf") and hasattr(obj, "ppf")


def initial_masses(initial: Any, grid: Grid, process: ProcessLike | None = None) -> NDArray[np.float64]:
    """Node masses of an initial condition on ``grid``.

    ``initial`` may be a number (unit point mass, split linearly between the two
    nearest nodes), ``"stationary"`` (the process's stationary law), a frozen SciPy
    distribution (exact control-volume masses from its cdf), a callable density
    ``pdf(x)``, or an array of density values at the nodes.
    """
    if isinstance(initial, str):
        if initial != "stationary":
            raise ValueError(f"Unknown `initial` {initial!r}; use a number, 'stationary', a distribution or an array.")
        law = stationary_law(process) if process is not None else None
        if law is None:
            raise ValueError(f"{name_of(process)} has no stationary law.")
        return grid.cell_masses(cdf=law.cdf)
    if isinstance(initial, (int, float, np.integer, np.floating)):
        return grid.point_mass(float(initial))
    if _is_distribution(initial):
        return grid.cell_masses(cdf=initial.cdf)
    if callable(initial):
        m = grid.cell_masses(pdf=initial)
    else:
        arr = np.asarray(initial, dtype=float)
        if arr.shape != grid.nodes.shape:
            raise ValueError(
                f"`initial` array must hold the density at the {grid.n_nodes} grid nodes, got shape {arr.shape}."
            )
        m = grid.cell_masses(pdf=arr)
    if not np.all(np.isfinite(m)) or np.any(m < 0):
        raise ValueError("The initial density must be finite and non-negative.")
    if m.sum() <= 0:
        raise ValueError("The initial density has no mass on the grid.")
    return m


def _cover_points(initial: Any, process: ProcessLike, tail: float) -> NDArray[np.float64] | None:
    if isinstance(initial, str) and initial != "stationary":
        raise ValueError(f"Unknown `initial` {initial!r}; use a number, 'stationary', a distribution or an array.")
    if isinstance(initial, (int, float, np.integer, np.floating)):
        return np.array([check_finite("initial", initial)])
    law = None
    if isinstance(initial, str) and initial == "stationary":
        law = stationary_law(process)
        if law is None:
            raise ValueError(f"{name_of(process)} has no stationary law.")
    elif _is_distribution(initial):
        law = initial
    if law is not None:
        return np.array([float(law.ppf(tail / 2)), float(law.isf(tail / 2))])
    return None


def forward(
    process: ProcessLike,
    initial: Any,
    horizon: float,
    *,
    grid: Grid | None = None,
    domain: tuple[float, float] | None = None,
    n_cells: int = 400,
    n_steps: int = 200,
    times: Sequence[float] | ArrayLike | None = None,
    scheme: str = "cn",
    damping_steps: int = 4,
    lower: str = "natural",
    upper: str = "natural",
    killing: float | ArrayLike | Rate | None = None,
    tail: float = 1e-10,
    include: Sequence[float] = (),
    time_grid: TimeGrid | None = None,
    start: float = 0.0,
    callback: Callable[[float, NDArray[np.float64]], None] | None = None,
    discretization: Discretization | None = None,
    flux: str = "sg",
) -> Density:
    r"""Evolve a distribution under the Fokker–Planck equation.

    .. math::

        \partial_t \rho = -\partial_x(b\rho) + \tfrac12\partial_x^2(\sigma^2\rho) - k\rho,
        \qquad \rho(0, \cdot) = \text{initial}.

    Parameters
    ----------
    process : Process
        The diffusion (drift and diffusion may depend on time).
    initial : float, "stationary", scipy distribution, callable or array
        Start: a point :math:`x_0` (unit point mass), the stationary law, a frozen
        SciPy distribution, a density function, or density values at ``grid`` nodes.
    horizon : float
        Final time minus ``start``, > 0 (years).
    grid : Grid, optional
        Space grid. Default: ``n_cells`` uniform cells over an automatic domain
        that holds all but ``tail`` of the mass (a point mass sits on a node).
    domain : (float, float), optional
        Use this interval instead of the automatic one (e.g. an absorbing barrier).
    n_cells, n_steps : int
        Grid cells and time steps when ``grid`` / ``time_grid`` are not given.
    times : array_like, optional
        Times at which to save the distribution (always including start and end).
    scheme : str
        Crank–Nicolson with Rannacher damping (``"cn"``, order 2), backward Euler
        (``"euler"``, order 1), exact in time for a time-homogeneous process (``"expm"``:
        the steps are the saved times, each :math:`e^{\Delta t Q^\top}` with an error bound,
        ``diagnostics["time_error_bound"]``; :mod:`gelav.fd.expm`) or another scheme of
        :data:`gelav.fd.schemes.SCHEMES`.
    lower, upper : {"natural", "reflecting", "absorbing"}
        Boundary conditions. ``"natural"`` (default) is a far boundary the
        mass should never feel: it is treated as reflecting and a
        :class:`~gelav.errors.MassLossWarning` is issued if mass reaches it;
        ``"reflecting"`` is an intended no-flux barrier; ``"absorbing"`` removes
        what arrives and counts it in the result.
    killing : float, array or callable, optional
        Killing rate :math:`k(t, x)`, finite. A negative rate creates mass (the
        forward dual of a signed discount in :func:`gelav.backward`; the same
        step condition is met by the same sub-steps, see ``diagnostics["step_control"]``).
    tail : float
        Probability allowed outside the automatic domain (default 1e-10).
    include : sequence of float
        Points the automatic domain must contain (thresholds of interest).
    time_grid : TimeGrid, optional
        Exact steps to use (pass the same one to :func:`gelav.backward` for
        duality to rounding).
    start : float
        Initial time (default 0).
    callback : callable ``(t, masses)``, optional
        Called after every step.
    discretization : Discretization, optional
        ``grid``, ``domain``, ``n_cells``, ``n_steps``, ``time_grid``, ``scheme``,
        ``damping_steps``, ``tail``, ``flux`` in one object (instead of the keywords).
    flux : {"sg", "sqra", "auto"}
        The generator's face flux (:mod:`gelav.fd.generator`): Scharfetter–Gummel
        (``"sg"``, default), the square-root approximation (``"sqra"``), or ``"auto"``:
        each flux is run on the grid and on the grid coarsened once and twice (every
        second node, then every fourth, the start node kept; steps halved alike); the
        changes of the final distribution function (at the ``include`` points, else at
        the coarsest grid's nodes) give each flux's observed order and error estimate
        (:func:`gelav.stress.refinement_estimate`), and the run with the smaller validated
        estimate is returned (Scharfetter–Gummel when neither is validated). About 2.6
        times the cost of one run; ``diagnostics["flux_choice"]`` holds the estimates and
        the reason, ``diagnostics["flux"]`` the flux used. For a probability to a
        tolerance (flux and grid chosen), see :func:`gelav.stress_test` with ``tol=``.

    Returns
    -------
    Density

    Raises
    ------
    ValueError
        Invalid horizon, grid, boundary or initial condition.

    Warns
    -----
    MassLossWarning
        When mass reaches a ``"natural"`` boundary (the domain is too narrow).
    AccuracyWarning
        When the final distribution spans too few cells.

    Notes
    -----
    Positivity is an invariant: a step that would return a negative mass
    (Crank–Nicolson on strongly stretched grids, with killing or absorbing
    ends) is taken again as two backward-Euler half steps; the result's
    ``diagnostics["positivity"]`` says how many and when, and
    ``Density.time_grid`` holds the steps actually taken.

    Examples
    --------
    >>> from gelav import OrnsteinUhlenbeck, forward
    >>> d = forward(OrnsteinUhlenbeck(0.45, 1.0, 0.32), -0.5, 2.0)
    >>> round(d.prob(below=-0.5), 5)
    0.00194
    """
    t_start = _time.perf_counter()
    check_process(process)
    # also validates `domain` and `damping_steps` without a `discretization`
    kw = resolve_discretization(discretization, grid=grid, domain=domain, n_cells=n_cells, n_steps=n_steps,
                                time_grid=time_grid, scheme=scheme, damping_steps=damping_steps, tail=tail,
                                flux=flux)
    grid, domain, n_cells, n_steps = kw["grid"], kw["domain"], kw["n_cells"], kw["n_steps"]
    time_grid, scheme, damping_steps, tail = kw["time_grid"], kw["scheme"], kw["damping_steps"], kw["tail"]
    flux = check_flux(kw["flux"], allow_auto=True)
    horizon = check_positive("horizon", horizon)
    start = check_finite("start", start, maximum=MAX_HORIZON)
    tail = check_positive("tail", tail)
    n_steps = check_int("n_steps", n_steps, minimum=1, maximum=MAX_CELLS)
    log_origin = None  # a logarithmic default grid towards a GBM-like natural end: its origin
    if grid is None:
        n_cells = check_int("n_cells", n_cells, minimum=4, maximum=MAX_CELLS)
        grid, log_origin = _default_grid(process, initial, horizon, n_cells, domain, tail, start, include)
    run = ForwardRun(process, initial, horizon, lower, upper, killing, tail, start, scheme, damping_steps, log_origin)
    if flux == "auto":
        run.callback = callback
        return _choose_flux(run, grid, n_steps=n_steps, times=times, time_grid=time_grid, include=include,
                            t_start=t_start)
    return run.solve(grid, flux, n_steps=n_steps, times=times, time_grid=time_grid, callback=callback,
                     t_start=t_start)


#: default grids of recent calls: (process key, inputs) -> (grid, log origin); a `forward` loop over
#: the same question (the stress table, Richardson ladders, benchmarks) builds its domain once
_GRIDS: dict[tuple[Any, ...], tuple[Grid, float | None]] = {}
_GRID_CACHE_SIZE = 64


def _process_key(process: ProcessLike) -> tuple[Any, ...] | None:
    """A key that identifies a built-in family by value (type and parameters), or None (a general
    process: its coefficients are functions, which may change behind a reused object)."""
    try:
        params = params_of(process)  # empty for a process-like object without params()
    except TypeError:
        return None
    if not params:
        return None
    try:
        values = tuple(sorted((str(k), float(v)) for k, v in params.items()))
    except (TypeError, ValueError):  # a parameter that is not a number: no key
        return None
    return (type(process), values, domain_of(process), bool(getattr(process, "time_homogeneous", False)))


def _default_grid(process: ProcessLike, initial: Any, horizon: float, n_cells: int, domain: tuple[float, float] | None,
                  tail: float, start: float, include: Sequence[float]) -> tuple[Grid, float | None]:
    """The default grid of a run (automatic domain unless ``domain``) and its logarithmic origin, if any.

    Memoised for built-in families and a number or ``"stationary"`` start (the same grid object is
    returned for the same inputs; grids are immutable)."""
    key = None
    pkey = _process_key(process)
    if pkey is not None and (isinstance(initial, str) or (isinstance(initial, (int, float, np.integer, np.floating))
                                                          and not isinstance(initial, bool))):
        try:
            key = (pkey, initial if isinstance(initial, str) else float(initial), float(horizon), n_cells,
                   None if domain is None else (float(domain[0]), float(domain[1])), float(tail), float(start),
                   tuple(float(v) for v in include))
        except (TypeError, ValueError):
            key = None
    if key is not None:
        hit = _GRIDS.get(key)
        if hit is not None:
            return hit
    automatic = domain is None  # an automatic domain: logarithmic at a GBM-like natural end
    if domain is None:
        cover = _cover_points(initial, process, tail)
        if cover is None:
            raise ValueError(
                "Cannot choose a domain for this `initial`; pass `grid=` or `domain=`."
            )
        lo, hi = auto_domain(process, cover, horizon, tail=tail, start=start, include=include)
    else:
        lo, hi = check_finite("domain[0]", domain[0]), check_finite("domain[1]", domain[1])
        if not lo < hi:
            raise ValueError(f"`domain` must satisfy lo < hi, got {domain!r}.")
    grid = grid_for(initial, lo, hi, n_cells, process=process, horizon=horizon if automatic else None,
                    tail=tail, start=start, include=include)
    log_origin = lo if automatic and grid.lower > lo \
        and log_grid_lower(process, [grid.lower], horizon, lo, hi) is not None else None
    if key is not None:
        if len(_GRIDS) >= _GRID_CACHE_SIZE:
            _GRIDS.pop(next(iter(_GRIDS)))
        _GRIDS[key] = (grid, log_origin)
    return grid, log_origin


def _coarsened(grid: Grid, keep: int | None) -> tuple[Grid, int | None]:
    """Every second node of ``grid`` (with the node ``keep`` and both ends), and ``keep``'s new index."""
    n = grid.n_nodes
    first = 0 if keep is None else keep % 2
    idx = np.arange(first, n, 2)
    idx = np.unique(np.concatenate(([0], idx, [n - 1])))
    new_keep = None if keep is None else int(np.searchsorted(idx, keep))
    return Grid(grid.nodes[idx]), new_keep


def _choose_flux(run: ForwardRun, grid: Grid, *, n_steps: int, times: Any, time_grid: TimeGrid | None,
                 include: Sequence[float], t_start: float) -> Density:
    r"""The run on ``grid`` with the flux an error estimate prefers (``flux="auto"`` of :func:`forward`).

    Each flux of :data:`gelav.fd.generator.FLUXES` is run on ``grid`` and on ``grid`` coarsened
    once and twice (:func:`_coarsened`, steps halved alike). The changes
    :math:`\Delta_1 = \max|F_{2h} - F_{4h}|` and :math:`\Delta_2 = \max|F_h - F_{2h}|` of the final
    distribution function (at the ``include`` points, else at the coarsest grid's nodes) give, by
    :func:`gelav.stress.refinement_estimate`, the observed order :math:`\log_2(\Delta_1/\Delta_2)` and
    the error of the run on ``grid``, :math:`\Delta_2/3` when that order is 2 within
    :data:`gelav.stress.ORDER_TOLERANCE` (validated). The flux with the smaller validated estimate is
    returned; with none validated (grids too coarse for either flux, e.g. a drift-dominated problem
    where SqRA's rates grow like :math:`e^{|z|/2}`), Scharfetter–Gummel, whose large-Péclet limit is
    upwinding. ``diagnostics["flux_choice"]`` records the estimates and the reason.
    """
    from gelav.stress import refinement_estimate

    t0 = _time.perf_counter()
    if grid.n_nodes < 9:
        raise ValueError(f"`flux`='auto' coarsens the grid twice; it needs at least 8 cells, got {grid.n_nodes - 1}.")
    keep = None
    if isinstance(run.initial, (int, float, np.integer, np.floating)):
        j = int(np.argmin(np.abs(grid.nodes - float(run.initial))))
        keep = j if grid.nodes[j] == float(run.initial) else None
    g2, k2 = _coarsened(grid, keep)
    g4, _ = _coarsened(g2, k2)
    steps = time_grid.n_steps if time_grid is not None else n_steps
    points = np.asarray([float(v) for v in include], dtype=float) if len(include) else g4.nodes[1:-1]
    runs: dict[str, tuple[Density, list[warnings.WarningMessage]]] = {}
    candidates: dict[str, dict[str, Any]] = {}
    failed: dict[str, str] = {}
    for f in FLUXES:
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                d1 = run.solve(grid, f, n_steps=n_steps, times=times, time_grid=time_grid)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # the coarse grids trip the cells-per-sd warning
                d2 = run.solve(g2, f, n_steps=max(1, steps // 2))
                d4 = run.solve(g4, f, n_steps=max(1, steps // 4))
        except (ValueError, np.linalg.LinAlgError) as exc:  # e.g. SqRA rates overflowing at a huge Péclet number
            failed[f] = str(exc)
            continue
        change1 = float(np.max(np.abs(d2.cdf(points) - d4.cdf(points))))
        change2 = float(np.max(np.abs(d1.cdf(points) - d2.cdf(points))))
        # the sup-norm changes scale like the answers' differences: the scalar estimate applies to them
        ref = refinement_estimate([0.0, change1, change1 + change2], nested=True)
        runs[f] = (d1, list(caught))
        candidates[f] = {"changes": [change1, change2], "observed_order": ref.order, "validated": not ref.why,
                         "error_estimate": ref.unextrapolated_error if not ref.why else change2}
        if ref.why:
            candidates[f]["not_validated"] = ref.why
    if not runs:
        raise ValueError("`flux`='auto': no flux could be run on this grid: "
                         + "; ".join(f"{k}: {v}" for k, v in failed.items()))
    validated = [f for f in candidates if candidates[f]["validated"]]
    if validated:
        chosen = min(validated, key=lambda f: (candidates[f]["error_estimate"], FLUXES.index(f)))
        reason = f"smallest validated error estimate ({candidates[chosen]['error_estimate']:.3g})"
    else:
        chosen = "sg" if "sg" in runs else next(iter(runs))
        reason = "no flux has a validated estimate on this grid (observed order not 2): the default is kept"
    record: dict[str, Any] = {
        "chosen": chosen,
        "reason": reason,
        "candidates": candidates,
        "measure": "max |F_h - F_2h| of the final distribution function at "
                   + ("the `include` points" if len(include) else "the coarsest grid's nodes")
                   + ", /3 when the observed order is 2",
        "cells": [grid.n_nodes - 1, g2.n_nodes - 1, g4.n_nodes - 1],
        "seconds": _time.perf_counter() - t0,
    }
    if failed:
        record["failed"] = failed
    d, caught = runs[chosen]
    for w in caught:  # the chosen run's own warnings, for the caller
        warnings.warn(w.message, w.category, stacklevel=3)
    if run.callback is not None:  # the callback sees the chosen run only
        d = run.solve(grid, chosen, n_steps=n_steps, times=times, time_grid=time_grid, callback=run.callback)
    d.diagnostics["flux_choice"] = record
    d.diagnostics["seconds"] = _time.perf_counter() - t_start
    return d


class ForwardRun:
    """The settings of one forward problem, solved on any grid with any flux (:meth:`solve`)."""

    def __init__(self, process: ProcessLike, initial: Any, horizon: float, lower: str, upper: str, killing: Any,
                 tail: float, start: float, scheme: str, damping_steps: int, log_origin: float | None) -> None:
        self.process, self.initial, self.horizon = process, initial, horizon
        self.lower, self.upper, self.killing, self.tail, self.start = lower, upper, killing, tail, start
        self.scheme, self.damping_steps, self.log_origin = scheme, damping_steps, log_origin
        self.callback: Callable[[float, NDArray[np.float64]], None] | None = None

    def solve(self, grid: Grid, flux: str, *, n_steps: int, times: Any = None, time_grid: TimeGrid | None = None,
              callback: Callable[[float, NDArray[np.float64]], None] | None = None, t_start: float | None = None
              ) -> Density:
        """The run on ``grid`` with ``flux``: the Density with its diagnostics and warnings."""
        if t_start is None:
            t_start = _time.perf_counter()
        process, initial, horizon, start = self.process, self.initial, self.horizon, self.start
        lower, upper, killing, scheme = self.lower, self.upper, self.killing, self.scheme
        gen = Generator(process, grid, lower=lower, upper=upper, killing=killing, signed_killing=True, flux=flux)
        m = initial_masses(initial, grid, process)
        time_grid, save_idx = run_time_grid(horizon, start=start, n_steps=n_steps, times=times, time_grid=time_grid,
                                            scheme=scheme, damping_steps=self.damping_steps, n_nodes=grid.n_nodes)
        # A negative killing rate (mass created: the dual of a signed discount) keeps every step
        # matrix an M-matrix by the same sub-steps as gelav.backward.
        time_grid, save_idx, control = signed_rate_run(time_grid, save_idx, gen)
        tg = time_grid.times

        stepper = Stepper(gen)
        n_save = save_idx.size
        masses = np.empty((n_save, grid.n_nodes))
        ab_lo = np.zeros(n_save)
        ab_hi = np.zeros(n_save)
        killed = np.zeros(n_save)
        m0_total = float(m.sum())
        acc_lo = acc_hi = acc_k = 0.0

        lo_bc, hi_bc = gen.boundaries
        # the boundary hook only where it can do something (a reflecting side absorbs nothing)
        hooks = [(bc, i) for bc, i in ((lo_bc, 0), (hi_bc, -1))
                 if bc.absorbing or type(bc).after_forward is not Boundary.after_forward]

        def absorb(v: NDArray[np.float64]) -> tuple[float, float]:
            a_lo = a_hi = 0.0
            for bc, i in hooks:
                if i == 0:
                    a_lo = bc.after_forward(v, 0)
                else:
                    a_hi = bc.after_forward(v, -1)
            return a_lo, a_hi

        a, b = absorb(m)
        acc_lo += a
        acc_hi += b
        k_save = 0
        if save_idx[0] == 0:
            masses[0], ab_lo[0], ab_hi[0], killed[0] = m, acc_lo, acc_hi, acc_k
            k_save = 1
        min_mass = float(m.min())
        kills = killing is not None  # without killing the total changes only by rounding: skip the sums
        implicit: list[int] = []  # steps the positivity check took again as two backward-Euler half steps
        ops = step_operators(stepper, time_grid)
        time_bound = 0.0  # the error bound of the exact steps (scheme "expm"), summed
        exact = any(hasattr(op, "forward_bounded") for op in ops)
        for n in range(time_grid.n_steps):
            before = float(m.sum()) if kills else 0.0
            op = ops[n]
            if exact and hasattr(op, "forward_bounded"):  # certified and non-negative: no positivity re-step
                m, bound = op.forward_bounded(m)
                time_bound += bound
                low = float(m.min())
            else:
                m, replaced, low = positive_step(stepper, time_grid, n, m, op)
                if replaced:
                    implicit.append(n)
            if kills:
                acc_k += before - float(m.sum())
            if hooks:
                a, b = absorb(m)
                acc_lo += a
                acc_hi += b
                low = float(m.min())
            if low < min_mass:
                min_mass = low
            if callback is not None:
                callback(float(tg[n + 1]), m)
            if k_save < n_save and save_idx[k_save] == n + 1:
                masses[k_save], ab_lo[k_save], ab_hi[k_save], killed[k_save] = m, acc_lo, acc_hi, acc_k
                k_save += 1
        if killing is None:
            # No killing: any change of total mass is rounding, report it as such.
            killed[:] = 0.0
            mass_error = abs(float(m.sum()) + acc_lo + acc_hi - m0_total)
        else:
            mass_error = abs(float(m.sum()) + acc_lo + acc_hi + acc_k - m0_total)
        extra: dict[str, Any] = {"time_error_bound": time_bound} if exact else {}
        if control is not None:
            extra["step_control"] = control
        if implicit:
            extra["positivity"] = {
                "check": "a step returned a negative mass",
                "action": "taken again as two backward-Euler half steps",
                "steps_replaced": len(implicit),
                "first_time": float(tg[implicit[0]]),
                "last_time": float(tg[implicit[-1] + 1]),
            }
        return self._result(grid, flux, tg[save_idx].copy(), masses, ab_lo, ab_hi, killed, min_mass, mass_error,
                            with_implicit_halves(time_grid, implicit), time_grid.n_steps, t_start, extra)

    def exact_result(self, grid: Grid, flux: str, final: NDArray[np.float64], time_bound: float,
                     t_start: float, m0: NDArray[np.float64] | None = None) -> Density:
        """The Density of one exact step over the whole horizon from the start masses ``m0`` (default:
        ``initial_masses``) to ``final`` (computed elsewhere, e.g. by :func:`gelav.fd.expm.expm_apply` in a
        batch), with the diagnostics and warnings of :meth:`solve` (no absorbing or killing: reflecting
        or natural ends)."""
        masses = np.empty((2, grid.n_nodes))
        masses[0] = initial_masses(self.initial, grid, self.process) if m0 is None else m0
        masses[1] = final
        m0 = masses[0]
        zeros = np.zeros(2)
        end = self.start + self.horizon
        tg = TimeGrid(np.array([self.start, end]), np.array([0.5]), ("expm",))
        return self._result(grid, flux, tg.times.copy(), masses, zeros, zeros.copy(), zeros.copy(),
                            float(masses.min()), abs(float(final.sum()) - float(m0.sum())), tg, 1, t_start,
                            {"time_error_bound": time_bound}, scheme="expm")

    def _result(self, grid: Grid, flux: str, times: NDArray[np.float64], masses: NDArray[np.float64],
                ab_lo: NDArray[np.float64], ab_hi: NDArray[np.float64], killed: NDArray[np.float64],
                min_mass: float, mass_error: float, time_grid: TimeGrid, n_steps: int, t_start: float,
                extra: dict[str, Any], scheme: str | None = None) -> Density:
        """The Density of a run with its diagnostics, and the warnings its masses call for."""
        process, initial, horizon, start = self.process, self.initial, self.horizon, self.start
        lower, upper, tail, log_origin = self.lower, self.upper, self.tail, self.log_origin
        natural = {side: str(kind).lower() == "natural" for side, kind in (("lower", lower), ("upper", upper))}
        end = start + horizon
        # Diagnostics and warnings -------------------------------------------------
        width = grid.upper - grid.lower
        # An end that is the process's own state-space boundary (0 for GBM and CIR) is
        # not a truncation: mass near it is the answer, not a leak.
        lo_dom, hi_dom = domain_of(process)
        tol_dom = 1e-12 * max(1.0, width)
        # the mass that reached the edge after the start (x0 at the extreme of its own law, e.g. an OU from 1000
        # falling towards its mean, lies in the outer 2 % at t = 0: "1 of the mass reached" was the start itself)
        boundary_mass = edge_mass(masses[1:] if masses.shape[0] > 1 else masses, grid,
                                  lower=natural["lower"] and grid.lower > lo_dom + tol_dom,
                                  upper=natural["upper"] and grid.upper < hi_dom - tol_dom, log_origin=log_origin)
        if boundary_mass > max(1e-7, 1e3 * tail):
            warnings.warn(
                f"{boundary_mass:.3g} of the mass reached the outer 2% of the domain "
                f"[{grid.lower:.4g}, {grid.upper:.4g}] at a 'natural' boundary; widen the domain "
                "(`domain=`, `grid=` or a smaller `tail`) or declare the boundary 'reflecting'.",
                MassLossWarning, stacklevel=4,
            )
        if isinstance(initial, (int, float, np.integer, np.floating)):  # a point start: is the flux first order there?
            warn_peclet(process, grid, start, float(initial), stacklevel=5)
        peak = float(masses.max())
        if min_mass < -1e-9 * peak:
            warnings.warn(
                f"The scheme produced negative masses down to {min_mass:.3g} (peak {peak:.3g}); "
                "use more time steps or scheme='euler'.", AccuracyWarning, stacklevel=4,
            )
        # A grid that starts at a GBM-like natural end (σ² ~ (x - L)², the law spreads over decades towards it)
        # without being logarithmic there: mass piled in the end cell means the law is not resolved
        # (GBM(0, 2) on the uniform default grid of [0, 57165] put 0.0026 for 0.309 on P(X_1 < 0.05)).
        if log_origin is None and abs(grid.lower - lo_dom) <= tol_dom and float(masses[-1, :2].sum()) > 1e-3 \
                and log_grid_lower(process, [grid.nodes[1]], horizon, grid.lower, grid.upper) is not None:
            warnings.warn(
                f"{float(masses[-1, :2].sum()):.3g} of the final mass lies in the first cell [{grid.lower:g}, "
                f"{grid.nodes[1]:.4g}] at the natural end {grid.lower:g}, where the law spreads over decades: it is "
                "not resolved; use the automatic domain (a logarithmic grid) or `grid=Grid.logarithmic(...)`.",
                AccuracyWarning, stacklevel=4,
            )
        final = masses[-1]
        tot = final.sum()
        if tot > 0:
            mean = final @ grid.nodes / tot
            sd = math.sqrt(max(float(final @ (grid.nodes - mean) ** 2 / tot), 0.0))
            h_near = float(np.interp(mean, grid.faces[1:-1], grid.spacing))  # (the faces are the node midpoints)
            if sd < 4 * h_near:
                warnings.warn(
                    f"The distribution at t={end:g} has standard deviation {sd:.3g}, only {sd / h_near:.1f} "
                    f"cells of width {h_near:.3g}; refine the grid.", AccuracyWarning, stacklevel=4,
                )
        diagnostics: dict[str, Any] = {
            "n_nodes": grid.n_nodes,
            "n_steps": n_steps,
            "max_spacing": grid.max_spacing,
            "scheme": self.scheme if scheme is None else scheme,
            "flux": flux,
            "mass_balance_error": mass_error,
            "min_mass": min_mass,
            "boundary_mass": boundary_mass,
            "seconds": _time.perf_counter() - t_start,
            **extra,
        }
        inputs = {
            "initial": initial if isinstance(initial, (int, float, str)) else type(initial).__name__,
            "horizon": horizon,
            "start": start,
            "lower": str(lower),
            "upper": str(upper),
            "domain": (grid.lower, grid.upper),
        }
        return Density(
            grid=grid,
            times=times,
            masses=masses,
            absorbed_lower=ab_lo,
            absorbed_upper=ab_hi,
            killed=killed,
            process=process,
            diagnostics=diagnostics,
            inputs=inputs,
            time_grid=time_grid,
        )
