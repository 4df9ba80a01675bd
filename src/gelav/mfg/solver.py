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
    Picard does.

Cost of one evaluation (the discretisation is the same in every case; see
:meth:`gelav.mfg.engine.Problem.backward`): far from the fixed point
(residual above 0.3) the best response starts cold, each step's Newton
iteration predicted from the next time level; closer, it is warm-started from
the previous best response, and once that needed a single Newton correction
per step, Newton runs on all steps at once (residuals vectorised over the
steps, one sweep of tridiagonal solves). Every evaluation solves the inner
Newton iterations to the exact scheme's tolerance (inexact early inner solves
are available through ``_INEXACT_FACTOR`` but off: they upset Anderson at
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

import math
import time
import warnings
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np

from gelav.errors import AccuracyWarning, ConvergenceError
from gelav.grid import Grid, TimeGrid
from gelav.mfg.engine import Backward, Forward, Problem
from gelav.mfg.model import MFGModel, Numerics, SolverOptions
from gelav.mfg.result import Equilibrium, build_equilibrium

__all__ = ["METHODS", "equilibrium", "find_equilibria", "solve"]


#: Newton tolerance of the exact scheme (relative size of the last correction per step)
_NEWTON_TOL = 1e-7
#: outer residual below which Φ is warm-started from the previous best response
_WARM_BELOW = 0.3
#: inexact best responses far from the fixed point: Newton tolerance = factor × residual, at most cap.
#: Off (0): measured on the crisis preset it saved under 10 % at ε = 1e-3 but made Anderson take
#: 23-159 instead of 18-19 evaluations at ε = 1e-4 (the Newton error ~tol²/δ grows as δ shrinks).
_INEXACT_FACTOR = 0.0
_INEXACT_CAP = 1e-5
#: last Newton count per exiting step below which the next best response runs Newton on all steps at once
_GLOBAL_RATIO = 1.02


class _Cycling(Exception):
    def __init__(self, period: int) -> None:
        super().__init__(f"cycling with period {period}")
        self.period = period


class _Stalled(Exception):
    pass


class _Evaluator:
    """Φ with bookkeeping: history, exploitability, best iterate."""

    def __init__(self, problem: Problem, opts: SolverOptions, history: list[dict[str, Any]],
                 callback: Callable[[dict[str, Any]], None] | None, label: str = "") -> None:
        self.pb = problem
        self.opts = opts
        self.history = history
        self.callback = callback
        self.label = label
        self.eps = problem.numerics.epsilon
        self.delta = problem.numerics.delta
        self.prev: tuple[Backward, Forward] | None = None
        self.prev_eps = math.nan
        self.last: tuple[Any, ...] | None = None
        self.n_eval = 0
        self.last_res = math.nan
        self.inexact = _INEXACT_FACTOR > 0
        self.inexact_factor = _INEXACT_FACTOR
        self.inexact_cap = _INEXACT_CAP
        self.accept_below = 10.0 * opts.tol
        self.one_correction = False
        self.t0 = time.perf_counter()

    def set_relaxation(self, eps: float) -> None:
        ratio = self.pb.numerics.delta / self.pb.numerics.epsilon
        self.eps, self.delta = eps, eps * ratio

    def __call__(self, Z: np.ndarray, method: str, record: bool = True) -> np.ndarray:
        pb = self.pb
        if not np.all(np.isfinite(Z)):
            raise FloatingPointError("non-finite aggregate path")
        same = self.prev is not None and self.prev_eps == self.eps
        # warm start from the previous best response once the iterates are close; far from the
        # fixed point the step-to-step predictor of a cold start is better
        guess = self.prev[0] if (same and self.last_res < _WARM_BELOW) else None  # type: ignore[index]
        # inexact best responses while far from the fixed point: the Newton error after a last
        # correction of size tol is ~tol²/δ, far below the residual; the exact 1e-7 near it
        ntol = _NEWTON_TOL
        if self.inexact and same and math.isfinite(self.last_res):
            ntol = min(self.inexact_cap, max(_NEWTON_TOL, self.inexact_factor * self.last_res))
        # one Newton correction per step sufficed last time: Newton on all steps at once is cheaper
        newton = "global" if (guess is not None and self.one_correction) else "step"
        Zn, bw, fw = pb.phi(Z, self.eps, self.delta, guess=guess, newton_tol=ntol, newton=newton)
        self.n_eval += 1
        res = float(np.max(np.abs(Zn - Z)))
        if ntol > _NEWTON_TOL and res < self.accept_below:
            # never accept an inexact best response: redo this evaluation with the exact inner solve
            Zn, bw, fw = pb.phi(Z, self.eps, self.delta, guess=bw, newton_tol=_NEWTON_TOL)
            self.n_eval += 1
            res = float(np.max(np.abs(Zn - Z)))
        n_exit = int(bw.exiting.sum())
        self.one_correction = bool(bw.newton_iterations <= (1 if bw.newton == "global" else _GLOBAL_RATIO * n_exit))
        self.last_res = res
        expl = math.nan
        if self.opts.exploitability and self.prev is not None:
            v_br = pb.population_value(bw)
            v_pol = pb.policy_value(self.prev[1], self.prev[0], Z, self.eps, self.delta, price=bw.price)
            expl = float(pb.weights @ (v_br - v_pol))
        self.prev = (bw, fw)
        self.prev_eps = self.eps
        self.last = (Z.copy(), Zn, bw, fw, res)
        if record:
            rec = {"iteration": len(self.history) + 1, "method": method, "epsilon": self.eps,
                   "residual": res, "exploitability": expl, "seconds": time.perf_counter() - self.t0,
                   "start": self.label}
            self.history.append(rec)
            if self.callback is not None:
                self.callback(rec)
        return Zn


# -- the iterations -------------------------------------------------------------
def _lstsq(A: np.ndarray, b: np.ndarray, rcond: float) -> np.ndarray:
    """Minimum-norm least squares ``argmin ||A g - b||`` for a tall, thin ``A`` (few columns).

    Same answer as ``numpy.linalg.lstsq(A, b, rcond)`` (singular values below ``rcond``
    times the largest are dropped), computed without a multithreaded BLAS call on the
    tall matrix: reorthogonalised Gram–Schmidt (dot products by ``einsum``), then the
    SVD of the small triangular factor. Multithreaded BLAS leaves worker threads
    spinning against the sequential sweeps that follow on a busy machine.
    """
    m, k = A.shape
    Qm = np.zeros((m, k))
    R = np.zeros((k, k))
    for j in range(k):
        v = A[:, j].copy()
        for _ in range(2):  # classical Gram–Schmidt, twice (orthogonal to rounding)
            if j:
                c = np.einsum("ij,i->j", Qm[:, :j], v)
                v -= np.einsum("ij,j->i", Qm[:, :j], c)
                R[:j, j] += c
        nrm = math.sqrt(float(np.einsum("i,i->", v, v)))
        R[j, j] = nrm
        if nrm > 0.0:
            Qm[:, j] = v / nrm
    U, s, Vt = np.linalg.svd(R)
    if s[0] == 0.0:
        return np.zeros(k)
    keep = s > rcond * s[0]
    qb = np.einsum("ij,i->j", Qm, b)
    return Vt[keep].T @ ((U[:, keep].T @ qb) / s[keep])


def _check_cycle(Zs: list[np.ndarray], res: list[float]) -> None:
    """Raise :class:`_Cycling` when the iterates revisit themselves, :class:`_Stalled` when no progress."""
    j = len(res)
    if j < 40:
        return
    if min(res[-20:]) < 0.98 * min(res[:-20]):
        return  # still making progress
    step = np.max(np.abs(Zs[-1] - Zs[-2]))
    for p in range(2, 9):
        if np.max(np.abs(Zs[-1] - Zs[-1 - p])) < 0.05 * step:
            raise _Cycling(p)
    raise _Stalled()


def _picard(ev: _Evaluator, Z: np.ndarray, tol: float, max_iter: int, damping: float,
            name: str = "picard", detect: bool = True, adaptive: bool = False) -> np.ndarray:
    Zs: list[np.ndarray] = []
    res: list[float] = []
    a = damping
    for _ in range(max_iter):
        Zn = ev(Z, name)
        r = ev.last[4]  # type: ignore[index]
        if r < tol:
            return Z
        if adaptive and res:
            # backtracking damping: shrink when the residual grows, grow slowly otherwise
            a = a * 0.5 if r > res[-1] else min(damping, a * 1.1)
        Zs.append(Z)
        res.append(r)
        if detect:
            _check_cycle(Zs, res)
        Z = Z + a * (Zn - Z)
    raise ConvergenceError(f"{name} did not reach tol={tol:g} in {max_iter} iterations "
                           f"(residual {res[-1]:.3g}).", ev.history)


def _fictitious(ev: _Evaluator, Z: np.ndarray, tol: float, max_iter: int) -> np.ndarray:
    for j in range(max_iter):
        Zn = ev(Z, "fictitious")
        if ev.last[4] < tol:  # type: ignore[index]
            return Z
        Z = Z + (Zn - Z) / (j + 2.0)
    raise ConvergenceError(f"fictitious play did not reach tol={tol:g} in {max_iter} iterations "
                           f"(residual {ev.last[4]:.3g}).", ev.history)  # type: ignore[index]


def _anderson(ev: _Evaluator, Z: np.ndarray, tol: float, max_iter: int, memory: int,
              damping: float = 1.0) -> np.ndarray:
    shape = Z.shape
    x = Z.ravel().copy()
    X: list[np.ndarray] = []
    F: list[np.ndarray] = []
    best = (math.inf, x.copy())
    since_best = 0
    for _ in range(max_iter):
        g = ev(x.reshape(shape), "anderson").ravel()
        f = g - x
        r = float(np.max(np.abs(f)))
        if r < tol:
            return x.reshape(shape)
        if r < best[0]:
            best, since_best = (r, x.copy()), 0
        else:
            since_best += 1
        if since_best > 25:
            raise _Stalled()
        if r > 10.0 * best[0] or not math.isfinite(r):
            # safeguard: restart from the best iterate with a damped step
            X.clear()
            F.clear()
            x = best[1].copy()
            continue
        X.append(x.copy())
        F.append(f.copy())
        if len(X) > memory + 1:
            X.pop(0)
            F.pop(0)
        if len(X) == 1:
            x = x + damping * f
            continue
        dX = np.stack([X[i + 1] - X[i] for i in range(len(X) - 1)], axis=1)
        dF = np.stack([F[i + 1] - F[i] for i in range(len(F) - 1)], axis=1)
        scale = np.maximum(np.max(np.abs(dF), axis=0), 1e-300)
        gam = _lstsq(dF / scale, f, rcond=1e-12) / scale
        x = x - np.einsum("ij,j->i", dX, gam) + damping * (f - np.einsum("ij,j->i", dF, gam))
    raise ConvergenceError(f"Anderson did not reach tol={tol:g} in {max_iter} iterations "
                           f"(best residual {best[0]:.3g}).", ev.history)


def _newton_krylov(ev: _Evaluator, Z: np.ndarray, tol: float, max_iter: int) -> np.ndarray:
    from scipy.optimize import NoConvergence, newton_krylov

    shape = Z.shape
    ev.inexact = False  # finite-difference Jacobian products need the exact map

    def G(v: np.ndarray) -> np.ndarray:
        return ev(v.reshape(shape), "newton-krylov").ravel() - v

    try:
        sol = newton_krylov(G, Z.ravel(), f_tol=tol, maxiter=max_iter, method="lgmres")
    except NoConvergence as exc:
        raise ConvergenceError(f"Newton–Krylov did not reach tol={tol:g}.", ev.history) from exc
    except (ValueError, FloatingPointError, np.linalg.LinAlgError) as exc:
        raise ConvergenceError(f"Newton–Krylov failed: {exc}", ev.history) from exc
    out = sol.reshape(shape)
    ev(out, "newton-krylov")
    return out


def _run(ev: _Evaluator, Z: np.ndarray, method: str, tol: float, opts: SolverOptions,
         notes: list[str]) -> np.ndarray:
    if method == "picard":
        try:
            return _picard(ev, Z, tol, opts.max_iter, opts.damping)
        except _Cycling as exc:
            raise ConvergenceError(f"damped Picard (damping {opts.damping:g}) cycles with period {exc.period} "
                                   f"(residual {ev.last[4]:.3g}); try a smaller damping.", ev.history) from None  # type: ignore[index]
        except _Stalled:
            raise ConvergenceError(f"damped Picard (damping {opts.damping:g}) stalled at residual "
                                   f"{ev.last[4]:.3g}; try a smaller damping.", ev.history) from None  # type: ignore[index]
    if method == "fictitious":
        return _fictitious(ev, Z, tol, opts.max_iter)
    if method == "anderson":
        try:
            return _anderson(ev, Z, tol, opts.max_iter, opts.memory)
        except _Stalled:
            raise ConvergenceError("Anderson stalled.", ev.history) from None
    if method == "newton-krylov":
        return _newton_krylov(ev, Z, tol, opts.max_iter)
    # auto: Anderson with fallback to damped Picard from the best iterate
    try:
        return _anderson(ev, Z, tol, opts.max_iter, opts.memory)
    except (_Stalled, ConvergenceError, FloatingPointError, np.linalg.LinAlgError) as exc:
        notes.append(f"Anderson failed at epsilon={ev.eps:g} ({type(exc).__name__}); fell back to damped Picard")
        Zb = ev.last[0] if ev.last is not None else Z  # type: ignore[index]
        damping = opts.damping
        for _ in range(4):
            try:
                return _picard(ev, Zb, tol, opts.max_iter, damping, name="picard (fallback)", adaptive=True)
            except _Cycling as cyc:
                notes.append(f"damped Picard cycles (period {cyc.period}) with damping {damping:g}; halving it")
                damping /= 2.0
            except _Stalled:
                notes.append(f"damped Picard stalled with damping {damping:g}; halving it")
                damping /= 2.0
        raise ConvergenceError(
            f"Anderson and damped Picard (damping down to {damping:g}) both failed at epsilon={ev.eps:g}; best "
            f"residual {min(h['residual'] for h in ev.history):.3g}. The map may be too steep (a large "
            "`flow_impact` with a short `absorption_time` makes block exits self-defeating): try a larger "
            "`epsilon` or `absorption_time`.", ev.history) from None


def _iterate(problem: Problem, Z0: np.ndarray, opts: SolverOptions, history: list[dict[str, Any]],
             callback: Callable[[dict[str, Any]], None] | None, label: str = ""
             ) -> tuple[np.ndarray, _Evaluator, list[str]]:
    ev = _Evaluator(problem, opts, history, callback, label)
    notes: list[str] = []
    num = problem.numerics
    if problem.model.decoupled:
        ev.set_relaxation(num.epsilon)
        Z = ev(Z0, "single best response")
        # the map is constant: Φ(Z) is the fixed point, one best response suffices
        Zf = Z
        ev.last = (Zf, Zf, ev.last[2], ev.last[3], 0.0)  # type: ignore[index]
        history[-1]["residual"] = 0.0
        notes.append("no coupling: one best response is the equilibrium")
        return Zf, ev, notes
    if opts.method == "auto" and not opts.continuation:
        # 1) Anderson directly at the target relaxation (fastest when it works)
        ev.set_relaxation(num.epsilon)
        try:
            return _anderson(ev, Z0, opts.tol, min(opts.max_iter, 60), opts.memory), ev, notes
        except (_Stalled, ConvergenceError, FloatingPointError, np.linalg.LinAlgError) as exc:
            notes.append(f"direct Anderson at epsilon={num.epsilon:g} failed ({type(exc).__name__}); "
                         "continuation in the relaxation")
        ev.prev = None
    schedule = num.schedule() if opts.method in ("auto",) else (num.epsilon,)
    if label in ("panic", "no-feedback"):
        # other basins: a large relaxation can erase them (slow exits cannot produce a panic), so start at ε
        schedule = (num.epsilon,)
    Z = Z0
    for i, eps in enumerate(schedule):
        ev.set_relaxation(eps)
        last = i == len(schedule) - 1
        tol = opts.tol if last else max(opts.stage_tol, opts.tol)
        Z = _run(ev, Z, opts.method, tol, opts, notes)
    return Z, ev, notes


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
    if not isinstance(model, MFGModel):
        raise TypeError(f"`model` must be an MFGModel, got {type(model).__name__}.")
    numerics = numerics or Numerics()
    if not isinstance(numerics, Numerics):
        raise TypeError(f"`numerics` must be a gelav.mfg.Numerics, got {type(numerics).__name__}.")
    opts = options or SolverOptions()
    if not isinstance(opts, SolverOptions):
        raise TypeError(f"`options` must be a gelav.mfg.SolverOptions, got {type(opts).__name__}.")
    if method is not None:
        opts = replace(opts, method=method)
    if tol is not None:
        opts = replace(opts, tol=tol)
    problem = _make_problem(model, numerics, start, grid, time_grid, initial_pressure)
    timings: dict[str, float] = {"setup": time.perf_counter() - t_start}

    nf = None
    nf_Z = None
    if no_feedback:
        t0 = time.perf_counter()
        pnf = _make_problem(model.without_feedback(), numerics, start, problem.grid, problem.tg, initial_pressure)
        Znf, bnf, fnf = pnf.phi(pnf.zero_path(), numerics.epsilon, numerics.delta)
        nf = (pnf, bnf, fnf)
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
    found: list[tuple[np.ndarray, _Evaluator, list[str], str]] = []
    failures: list[str] = []
    for label, Z0 in starts:
        try:
            Z, ev, notes = _iterate(problem, Z0, opts, history, callback, label)
        except (ConvergenceError, _Cycling, _Stalled, FloatingPointError) as exc:
            failures.append(f"start {label!r}: {exc}")
            continue
        found.append((Z, ev, notes, label))
    timings["fixed_point"] = time.perf_counter() - t0
    if not found:
        raise ConvergenceError(
            "No equilibrium found (" + "; ".join(failures) + "). Try method='picard' with a smaller "
            "damping, a larger `epsilon`, or more iterations.", history)
    # distinct equilibria (by the market price path)
    distinct: list[tuple[np.ndarray, _Evaluator, list[str], str]] = []
    for item in found:
        pr = item[1].last[2].market  # type: ignore[index]
        if all(np.max(np.abs(pr - d[1].last[2].market)) > 1e3 * opts.tol + 1e-6 for d in distinct):  # type: ignore[index]
            distinct.append(item)
    eqs = []
    for Z, ev, notes, label in distinct:
        if failures:
            notes = [*notes, *failures]
        eqs.append(build_equilibrium(problem, ev, Z, notes, label, opts, nf, dict(timings),
                                     time.perf_counter() - t_start))
    main = eqs[0]
    if len(eqs) > 1:
        warnings.warn(f"{len(eqs)} distinct equilibria found (non-monotone coupling); returning the one from "
                      f"start {distinct[0][3]!r}, the others are in `.others`.", AccuracyWarning, stacklevel=2)
        main = replace(main, others=tuple(eqs[1:]))
    return main


#: alias
equilibrium = solve

#: fixed-point methods (name -> short description)
METHODS: dict[str, str] = {
    "auto": "continuation in ε + Anderson, fallback to damped Picard",
    "picard": "damped Picard Z ← (1-a)Z + aΦ(Z)",
    "fictitious": "fictitious play (averaging with weight 1/(j+2))",
    "anderson": "Anderson acceleration (type II)",
    "newton-krylov": "scipy.optimize.newton_krylov on Φ(Z) - Z",
}


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
