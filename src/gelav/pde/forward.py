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
from gelav.fd.discretization import Discretization, edge_mass, resolve_discretization, run_time_grid
from gelav.fd.generator import Generator, Rate
from gelav.fd.grid import Grid, TimeGrid, auto_domain, grid_for, log_grid_lower
from gelav.fd.step_control import (
    positive_forward_step,
    signed_rate_run,
    with_implicit_halves,
)
from gelav.fd.stepping import Stepper
from gelav.processes.protocol import check_process, domain_of, name_of, stationary_law

if TYPE_CHECKING:
    from gelav.processes.protocol import ProcessLike

__all__ = ["forward", "initial_masses"]


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
        (``"euler"``, order 1) or another scheme of :data:`gelav.fd.schemes.SCHEMES`.
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
        ``damping_steps``, ``tail`` in one object (instead of the keywords).

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
                                time_grid=time_grid, scheme=scheme, damping_steps=damping_steps, tail=tail)
    grid, domain, n_cells, n_steps = kw["grid"], kw["domain"], kw["n_cells"], kw["n_steps"]
    time_grid, scheme, damping_steps, tail = kw["time_grid"], kw["scheme"], kw["damping_steps"], kw["tail"]
    horizon = check_positive("horizon", horizon)
    start = check_finite("start", start, maximum=MAX_HORIZON)
    tail = check_positive("tail", tail)
    n_steps = check_int("n_steps", n_steps, minimum=1, maximum=MAX_CELLS)
    natural = {side: str(kind).lower() == "natural" for side, kind in (("lower", lower), ("upper", upper))}
    log_origin = None  # a logarithmic default grid towards a GBM-like natural end: its origin
    if grid is None:
        n_cells = check_int("n_cells", n_cells, minimum=4, maximum=MAX_CELLS)
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
    gen = Generator(process, grid, lower=lower, upper=upper, killing=killing, signed_killing=True)
    m = initial_masses(initial, grid, process)
    end = start + horizon
    time_grid, save_idx = run_time_grid(horizon, start=start, n_steps=n_steps, times=times, time_grid=time_grid,
                                        scheme=scheme, damping_steps=damping_steps, n_nodes=grid.n_nodes)
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

    def absorb(v: NDArray[np.float64]) -> tuple[float, float]:
        return lo_bc.after_forward(v, 0), hi_bc.after_forward(v, -1)

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
    for n in range(time_grid.n_steps):
        before = float(m.sum()) if kills else 0.0
        m, replaced = positive_forward_step(stepper, time_grid, n, m)
        if replaced:
            implicit.append(n)
        if kills:
            acc_k += before - float(m.sum())
        a, b = absorb(m)
        acc_lo += a
        acc_hi += b
        min_mass = min(min_mass, float(m.min()))
        if callback is not None:
            callback(float(tg[n + 1]), m)
        if k_save < n_save and save_idx[k_save] == n + 1:
            masses[k_save], ab_lo[k_save], ab_hi[k_save], killed[k_save] = m, acc_lo, acc_hi, acc_k
            k_save += 1
    if killing is None:
        # No killing: any change of total mass is rounding, report it as such.
        killed[:] = 0.0
    mass_error = abs(float(m.sum()) + acc_lo + acc_hi + (acc_k if killing is not None else 0.0) - m0_total)
    if killing is None:
        mass_error = abs(float(m.sum()) + acc_lo + acc_hi - m0_total)

    # Diagnostics and warnings -------------------------------------------------
    width = grid.upper - grid.lower
    # An end that is the process's own state-space boundary (0 for GBM and CIR) is
    # not a truncation: mass near it is the answer, not a leak.
    lo_dom, hi_dom = domain_of(process)
    tol_dom = 1e-12 * max(1.0, width)
    boundary_mass = edge_mass(masses, grid, lower=natural["lower"] and grid.lower > lo_dom + tol_dom,
                              upper=natural["upper"] and grid.upper < hi_dom - tol_dom, log_origin=log_origin)
    if boundary_mass > max(1e-7, 1e3 * tail):
        warnings.warn(
            f"{boundary_mass:.3g} of the mass reached the outer 2% of the domain "
            f"[{grid.lower:.4g}, {grid.upper:.4g}] at a 'natural' boundary; widen the domain "
            "(`domain=`, `grid=` or a smaller `tail`) or declare the boundary 'reflecting'.",
            MassLossWarning, stacklevel=2,
        )
    peak = float(np.max(masses))
    if min_mass < -1e-9 * peak:
        warnings.warn(
            f"The scheme produced negative masses down to {min_mass:.3g} (peak {peak:.3g}); "
            "use more time steps or scheme='euler'.", AccuracyWarning, stacklevel=2,
        )
    # A grid that starts at a GBM-like natural end (σ² ~ (x - L)², the law spreads over decades towards it)
    # without being logarithmic there: mass piled in the end cell means the law is not resolved
    # (GBM(0, 2) on the uniform default grid of [0, 57165] put 0.0026 for 0.309 on P(X_1 < 0.05)).
    if log_origin is None and abs(grid.lower - lo_dom) <= tol_dom and float(masses[-1, :2].sum()) > 1e-3 \
            and log_grid_lower(process, [grid.nodes[1]], horizon, grid.lower, grid.upper) is not None:
        warnings.warn(
            f"{float(masses[-1, :2].sum()):.3g} of the final mass lies in the first cell [{grid.lower:g}, "
            f"{grid.nodes[1]:.4g}] at the natural end {grid.lower:g}, where the law spreads over decades: it is not "
            "resolved; use the automatic domain (a logarithmic grid) or `grid=Grid.logarithmic(...)`.",
            AccuracyWarning, stacklevel=2,
        )
    final = masses[-1]
    tot = final.sum()
    if tot > 0:
        sd = math.sqrt(max(float(final @ (grid.nodes - final @ grid.nodes / tot) ** 2 / tot), 0.0))
        h_near = float(np.interp(final @ grid.nodes / tot, 0.5 * (grid.nodes[1:] + grid.nodes[:-1]), grid.spacing))
        if sd < 4 * h_near:
            warnings.warn(
                f"The distribution at t={end:g} has standard deviation {sd:.3g}, only {sd / h_near:.1f} "
                f"cells of width {h_near:.3g}; refine the grid.", AccuracyWarning, stacklevel=2,
            )
    diagnostics = {
        "n_nodes": grid.n_nodes,
        "n_steps": time_grid.n_steps,
        "max_spacing": grid.max_spacing,
        "scheme": scheme,
        "mass_balance_error": mass_error,
        "min_mass": min_mass,
        "boundary_mass": boundary_mass,
        "seconds": _time.perf_counter() - t_start,
    }
    if control is not None:
        diagnostics["step_control"] = control
    if implicit:
        diagnostics["positivity"] = {
            "check": "a step returned a negative mass",
            "action": "taken again as two backward-Euler half steps",
            "steps_replaced": len(implicit),
            "first_time": float(tg[implicit[0]]),
            "last_time": float(tg[implicit[-1] + 1]),
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
        times=tg[save_idx].copy(),
        masses=masses,
        absorbed_lower=ab_lo,
        absorbed_upper=ab_hi,
        killed=killed,
        process=process,
        diagnostics=diagnostics,
        inputs=inputs,
        time_grid=with_implicit_halves(time_grid, implicit),
    )
