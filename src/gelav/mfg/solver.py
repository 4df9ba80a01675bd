r"""Fixed point on the aggregate path: the equilibrium of the mean-field game of exits.

Let :math:`Z` be the aggregate path the prices depend on (distressed mass,
selling pressure, holders' mean liquidity and holder mass at every time step).
One evaluation of the fixed-point map

.. math::

    \Phi(Z) = \text{aggregates}\Big(\text{forward}\big(\text{best response}(Z)\big)\Big)

solves the relaxed obstacle problem backward (see :mod:`gelav.mfg.engine`) and
moves the population forward with the exact transpose of the same steps. An
equilibrium is a path with :math:`\Phi(Z) = Z`. Methods (registry
:data:`METHODS`):

``picard``
    :math:`Z \leftarrow (1-a)Z + a\Phi(Z)` (damping :math:`a`).
``fictitious``
    fictitious play, :math:`Z_{j+1} = Z_j + (\Phi(Z_j) - Z_j)/(j+2)`.
``anderson``
    Anderson acceleration (type II, memory ``m``) with a safeguard: a step that
    raises the residual tenfold resets the memory and damps.
``newton-krylov``
    :func:`scipy.optimize.newton_krylov` on :math:`\Phi(Z) - Z`.
``auto`` (default)
    Anderson directly at the target relaxation; if it stalls, continuation in
    the relaxation :math:`\varepsilon` (0.1, 0.01, ... with warm starts),
    Anderson at each stage, and damped Picard (adaptive damping, from the best
    iterate) when Anderson stalls, so the default converges wherever damped
    Picard does. Where a stage still fails (a map too steep for both: many LPs
    at the exit margin, :math:`|\lambda(\partial_Z\Phi)|` in the hundreds), the
    continuation goes on from the last solved stage in shorter steps, halved on
    failure, Newton with the exact tangent at each
    (:func:`gelav.mfg.fixed_point.refine_continuation`); cases the ladder solves
    never take that path.

Cost of one evaluation (the discretisation is the same in every case; see
:meth:`gelav.mfg.engine.Problem.backward`): far from the fixed point
(residual above 0.3) the best response starts cold, each step's Newton
iteration predicted from the next three time levels (extrapolated, quadratic in
time); closer, it is warm-started from the previous best response plus its
extrapolated change at those levels, and once that needed a single Newton correction
per step, Newton runs on all steps at once (residuals vectorised over the
steps, one sweep of tridiagonal solves). Every evaluation solves the inner
Newton iterations to the exact scheme's tolerance (inexact early inner solves
are available through ``gelav.mfg.fixed_point.INEXACT_FACTOR`` but off: they upset Anderson at
small relaxations; an inexact evaluation that would be accepted is always
redone exactly).

Each evaluation records the residual :math:`\|\Phi(Z) - Z\|_\infty` and the
exploitability: the population-weighted gain at :math:`t_0` of the (relaxed)
best response to the current aggregate path over following the previous
iteration's policy in it. It vanishes at the equilibrium.

For a possibly non-monotone game (fire-sale feedback :math:`\eta > 0` or a user
coupling) the solver detects cycling, tries several starting guesses (calm,
no-feedback, panic) and reports every distinct equilibrium it finds.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

import numpy as np

from gelav.errors import AccuracyWarning, ConvergenceError
from gelav.grid import Grid, TimeGrid
from gelav.mfg.assemble import NoFeedback, build_equilibrium
from gelav.mfg.engine import NEGATIVE_MASS_TOLERANCE, Problem, lowest_relative_mass
from gelav.mfg.fixed_point import (
    Cycling,
    Evaluation,
    Evaluator,
    MethodDescriptions,
    Stalled,
    fixed_point_method,
)
from gelav.mfg.model import MFGModel, Numerics, SolverOptions, check_model
from gelav.mfg.result import Equilibrium

__all__ = ["METHODS", "equilibrium", "find_equilibria", "solve", "warn_negative_masses"]


def _iterate(problem: Problem, Z0: np.ndarray, opts: SolverOptions, history: list[dict[str, Any]],
             callback: Callable[[dict[str, Any]], None] | None, label: str = "", deadline: float | None = None,
             newton_first: bool = False) -> tuple[np.ndarray, Evaluator, list[str]]:
    """The fixed point from ``Z0`` by the method of ``opts``; ``newton_first``: first Newton with the exact
    tangent at the target relaxation from ``Z0`` (a re-solve from the equilibrium of a neighbouring map
    that needed :func:`gelav.mfg.fixed_point.refine_continuation`), the method where it gives up."""
    ev = Evaluator(problem, opts, history, callback, label, deadline=deadline)
    notes: list[str] = []
    if newton_first and not problem.model.decoupled and problem.numerics.control == "newton":
        from gelav.mfg.tangent import newton

        ev.set_relaxation(problem.numerics.epsilon)
        Z, _, ok = newton(ev, Z0, opts.tol)
        if ok:
            return Z, ev, ["Newton (exact tangent) from the previous round's equilibrium"]
        ev.prev = None
    if problem.model.decoupled:
        ev.set_relaxation(problem.numerics.epsilon)
        ev(Z0, "single best response")
        assert ev.last is not None
        # the map is constant: Φ(Z) is the fixed point, one best response suffices
        Zf = ev.last.image
        ev.last = replace(ev.last, Z=Zf, residual=0.0)
        history[-1]["residual"] = 0.0
        notes.append("no coupling: one best response is the equilibrium")
        return Zf, ev, notes
    Z = fixed_point_method(opts.method).solve(ev, Z0, opts, notes, label)
    return Z, ev, notes


#: re-solves with more backward-Euler steps before negative holder masses are only reported
MAX_POSITIVITY_ROUNDS = 8


def _iterate_positive(problem: Problem, Z0: np.ndarray, opts: SolverOptions, history: list[dict[str, Any]],
                      callback: Callable[[dict[str, Any]], None] | None, label: str, deadline: float | None
                      ) -> tuple[np.ndarray, Evaluator, list[str], Problem, dict[str, Any] | None]:
    r"""The fixed point, with every step that leaves a negative holder mass taken as backward Euler.

    Issue 11, class 3: a coarse Crank–Nicolson step can make negative masses
    (:meth:`gelav.mfg.engine.Problem.negative_steps`). Those steps get θ = 1 in both sweeps (the forward
    stays the exact transpose of the backward: duality to rounding) and the fixed point is solved again
    from the equilibrium found; θ is fixed during each fixed-point solve (the map Φ does not change
    between iterations) and the set of implicit steps only grows, so this ends. Returns
    ``(Z, evaluator, notes, problem, record)``; ``record`` (None when no step changed) goes to the
    equilibrium's diagnostics under ``"positivity"``.
    """
    Z, ev, notes = _iterate(problem, Z0, opts, history, callback, label, deadline)
    damped: list[int] = []
    rounds = evaluations = 0
    first = ev.n_eval
    refined = False
    for _ in range(MAX_POSITIVITY_ROUNDS):
        assert ev.last is not None
        steps = problem.negative_steps(ev.last.backward, ev.last.forward)
        if not steps.size:
            break
        damped += steps.tolist()
        problem = problem.with_implicit_steps(steps)
        # warm: the last equilibrium; where that needed the safeguarded continuation, Newton from it first
        refined = refined or ev.refined
        Z, ev, more = _iterate(problem, Z, opts, history, callback, label, deadline, newton_first=refined)
        notes = [*notes, *(m for m in more if m not in notes)]
        rounds += 1
        evaluations += ev.n_eval
    if not damped:
        return Z, ev, notes, problem, None
    ev.n_eval += first  # the equilibrium's "evaluations" count every round (as its history does)
    damped.sort()
    times = problem.times
    record = {
        "check": f"a forward step made a holder mass below -{NEGATIVE_MASS_TOLERANCE:g} x the largest of its level",
        "action": "those steps taken as backward Euler (theta = 1) in the backward and forward sweeps; "
                  "the fixed point solved again (time_grid.theta)",
        "steps_damped": len(damped),
        "steps": damped,
        "first_time": float(times[damped[0]]),
        "last_time": float(times[damped[-1] + 1]),
        "rounds": rounds,
        "evaluations": evaluations,
    }
    notes = [*notes, f"{len(damped)} Crank-Nicolson step(s) made negative holder masses: taken as backward "
                     f"Euler (t = {record['first_time']:g} .. {record['last_time']:g})"]
    return Z, ev, notes, problem, record


def _no_feedback(model: MFGModel, numerics: Numerics, problem: Problem) -> tuple[NoFeedback, np.ndarray]:
    """The no-feedback reference on the grids of ``problem`` and its aggregate path."""
    pnf = _make_problem(model.without_feedback(), numerics, float(problem.times[0]), problem.grid, problem.tg,
                        problem.initial_pressure)
    Znf, bnf, fnf = pnf.phi(pnf.zero_path(), numerics.epsilon, numerics.delta)
    return NoFeedback(pnf, bnf, fnf), Znf


def _make_problem(model: MFGModel, numerics: Numerics, start: float, grid: Grid | None,
                  time_grid: TimeGrid | None, initial_pressure: float) -> Problem:
    return Problem(model, numerics, start=start, grid=grid, time_grid=time_grid, initial_pressure=initial_pressure)


def _starts(problem: Problem, ev_nf: np.ndarray | None) -> list[tuple[str, np.ndarray]]:
    calm = problem.zero_path()
    out = [("calm", calm)]
    if ev_nf is not None:
        out.append(("no-feedback", ev_nf))
    panic = calm.copy()
    panic[0] = 1.0
    panic[1] = 2.0
    panic[2] = calm[2] - 1.0
    out.append(("panic", panic))
    return out


def solve(model: MFGModel, *, numerics: Numerics | None = None, options: SolverOptions | None = None,
          method: str | None = None, tol: float | None = None, start: float = 0.0, grid: Grid | None = None,
          time_grid: TimeGrid | None = None, initial_guess: np.ndarray | None = None,
          initial_pressure: float = 0.0, callback: Callable[[dict[str, Any]], None] | None = None,
          no_feedback: bool = True) -> Equilibrium:
    r"""Equilibrium of the mean-field game of LP exits.

    Finds the aggregate path :math:`Z^*` with :math:`\Phi(Z^*) = Z^*`: every LP
    type solves the relaxed obstacle problem

    .. math::

        -\partial_t V_k - \mathcal L_k V_k + r_k V_k - f_k
            = \varepsilon^{-1}\varphi\big((\pi_k - V_k)/\delta\big)\,(\pi_k - V_k),
        \qquad V_k(T_k) = \mathrm{NAV},

    the population moves by the transposed scheme with the same exit intensity
    as killing, and the aggregates of :math:`\mu = \sum_k w_k\mu_k` give the
    price :math:`\pi_k(t, L; \mu)`. As :math:`\varepsilon \to 0` the value
    tends to the obstacle problem :math:`\min(-\partial_t V - \mathcal L V + rV - f, V - \pi) = 0`.

    Parameters
    ----------
    model : MFGModel
    numerics : Numerics, optional
        Grid, steps, relaxation (defaults: 200 cells, 200 steps, ε = 1e-3).
    options : SolverOptions, optional
        Fixed-point settings; ``method`` and ``tol`` override its fields.
    method : {"auto", "picard", "fictitious", "anderson", "newton-krylov"}, optional
    tol : float, optional
        Residual tolerance :math:`\|\Phi(Z) - Z\|_\infty` (default 1e-8).
    start : float
        Start of the game [years] (master field, restarts).
    grid, time_grid : optional
        Exact grids (restarts and refinement studies).
    initial_guess : ndarray (4, M), optional
        Starting aggregate path (default: calm — nobody distressed or selling).
    initial_pressure : float
        Selling pressure at ``start`` (restarts).
    callback : callable ``(record) -> None``, optional
        Called after every evaluation with the iteration record (progress bars).
    no_feedback : bool
        Also solve the no-feedback (single-LP, DCF-like) reference. Default True.

    Returns
    -------
    Equilibrium
        Its ``time_grid`` is the steps taken: a Crank–Nicolson step that made a negative holder
        mass is taken as backward Euler (θ = 1, same times) in both sweeps and the fixed point
        solved again (``diagnostics["positivity"]`` lists those steps; issue 11, class 3).

    Raises
    ------
    ConvergenceError
        No starting guess converged; ``.history`` holds every iteration.
    ValueError, TypeError
        Invalid model or settings.

    Examples
    --------
    >>> from gelav.mfg import MFGModel, LPType, Market, Numerics, solve
    >>> eq = solve(MFGModel((LPType(initial=-0.5),), Market()), numerics=Numerics(n_cells=60, n_steps=60))
    >>> eq.converged
    True
    """
    t_start = time.perf_counter()
    model, numerics = check_model(model, numerics)
    opts = options or SolverOptions()
    if not isinstance(opts, SolverOptions):
        raise TypeError(f"`options` must be a gelav.mfg.SolverOptions, got {type(opts).__name__}.")
    if method is not None:
        opts = replace(opts, method=method)
    if tol is not None:
        opts = replace(opts, tol=tol)
    problem = _make_problem(model, numerics, start, grid, time_grid, initial_pressure)
    timings: dict[str, float] = {"setup": time.perf_counter() - t_start}

    nf: NoFeedback | None = None
    nf_Z = None
    if no_feedback:
        t0 = time.perf_counter()
        nf, Znf = _no_feedback(model, numerics, problem)
        timings["no_feedback"] = time.perf_counter() - t0
        if model.types == model.without_feedback().types:
            nf_Z = Znf

    history: list[dict[str, Any]] = []
    t0 = time.perf_counter()
    if initial_guess is not None:
        Z0 = np.asarray(initial_guess, dtype=float)
        if Z0.shape != problem.zero_path().shape:
            raise ValueError(f"`initial_guess` must have shape {problem.zero_path().shape}, got {Z0.shape}.")
        starts = [("given", Z0)]
    else:
        starts = _starts(problem, nf_Z)
        if model.monotone:
            starts = starts[:1]
    found: list[tuple[np.ndarray, Evaluator, list[str], str, Problem, dict[str, Any] | None]] = []
    failures: list[str] = []
    for label, Z0 in starts:
        try:
            Z, ev, notes, pb, record = _iterate_positive(problem, Z0, opts, history, callback, label,
                                                         deadline=t_start + opts.max_seconds)
        except (ConvergenceError, Cycling, Stalled, FloatingPointError) as exc:
            failures.append(f"start {label!r}: {exc}")
            continue
        found.append((Z, ev, notes, label, pb, record))
    timings["fixed_point"] = time.perf_counter() - t0
    if not found:
        raise ConvergenceError(
            "No equilibrium found (" + "; ".join(failures) + "). Try method='picard' with a smaller "
            "damping, a larger `epsilon`, or more iterations.", history)
    # distinct equilibria (by the market price path, as a share of NAV)
    distinct: list[tuple[np.ndarray, Evaluator, list[str], str, Problem, dict[str, Any] | None]] = []
    nav = model.market.nav
    for item in found:
        pr = _last(item[1]).backward.market
        if all(np.max(np.abs(pr - _last(d[1]).backward.market)) > (1e3 * opts.tol + 1e-6) * nav for d in distinct):
            distinct.append(item)
    eqs = []
    for Z, ev, notes, label, pb, record in distinct:
        if failures:
            notes = [*notes, *failures]
        nf_pb = nf
        if nf is not None and pb.tg is not nf.problem.tg:  # the reference on the steps the equilibrium took
            nf_pb = _no_feedback(model, numerics, pb)[0]
        eqs.append(build_equilibrium(pb, ev, Z, notes, label, opts, nf_pb, dict(timings),
                                     time.perf_counter() - t_start, positivity=record))
    main = eqs[0]
    if len(eqs) > 1:
        warnings.warn(f"{len(eqs)} distinct equilibria found (non-monotone coupling); returning the one from "
                      f"start {distinct[0][3]!r}, the others are in `.others`.", AccuracyWarning, stacklevel=2)
        main = replace(main, others=tuple(eqs[1:]))
    warn_negative_masses(main)
    return main


def warn_negative_masses(eq: Equilibrium) -> None:
    """Say so when negative holder masses are left: only when :data:`MAX_POSITIVITY_ROUNDS` re-solves
    with more backward-Euler steps did not remove them (:func:`_iterate_positive`); finer steps or
    ``Numerics(scheme="euler")`` avoid them."""
    P = np.asarray(eq.density)  # (K, M+1, N)
    rel, where = lowest_relative_mass(np.moveaxis(P, 1, 0))
    if rel < -NEGATIVE_MASS_TOLERANCE:
        n, k, i = where
        low = float(P[k, n, i])
        warnings.warn(f"The equilibrium's holder masses go negative (down to {low:.3g}, type {int(k)}, time "
                      f"{float(eq.times[n]):g}): Crank-Nicolson steps too coarse for the exit intensity or the "
                      f"drift; use more `n_steps` or Numerics(scheme='euler').", AccuracyWarning, stacklevel=3)


#: alias
equilibrium = solve

#: fixed-point methods (name -> short description): a live view of
#: :data:`gelav.mfg.fixed_point.FIXED_POINT_REGISTRY`
METHODS: Mapping[str, str] = MethodDescriptions()


def _last(ev: Evaluator) -> Evaluation:
    assert ev.last is not None  # a converged evaluator has evaluated Φ
    return ev.last


def find_equilibria(model: MFGModel, **kwargs: Any) -> list[Equilibrium]:
    """Every distinct equilibrium reached from the calm, no-feedback and panic starting guesses.

    Same keywords as :func:`solve`. For a non-monotone game this is
    ``[eq, *eq.others]`` of :func:`solve`; for a monotone game every start is
    solved separately (one result per start), which checks uniqueness.
    """
    if not model.monotone:
        eq = solve(model, **kwargs)
        return [eq, *eq.others]
    numerics = kwargs.pop("numerics", None) or Numerics()
    problem = Problem(model, numerics, start=kwargs.get("start", 0.0), grid=kwargs.get("grid"),
                      time_grid=kwargs.get("time_grid"))
    pnf = Problem(model.without_feedback(), numerics, start=problem.times[0], grid=problem.grid,
                  time_grid=problem.tg)
    z_nf = pnf.phi(pnf.zero_path(), numerics.epsilon, numerics.delta)[0]
    return [solve(model, numerics=numerics, initial_guess=Z0, **kwargs) for _, Z0 in _starts(problem, z_nf)]
