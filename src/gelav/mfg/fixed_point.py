r"""Fixed-point methods for the aggregate path, in a registry.

An equilibrium is a path :math:`Z` with :math:`\Phi(Z) = Z`, where one
evaluation of :math:`\Phi` (an :class:`Evaluator`) is a best response followed
by the population sweep (:meth:`gelav.mfg.engine.Problem.phi`). A method is a
small class with a ``description`` and an :meth:`FixedPointMethod.iterate`
that drives the evaluator at the current relaxation until the residual
:math:`\|\Phi(Z) - Z\|_\infty` is below ``tol``; it is made available to
:func:`gelav.mfg.solve` by one line in :data:`FIXED_POINT_REGISTRY`::

    class Halving(FixedPointMethod):
        description = "Z <- (Z + Phi(Z)) / 2"

        def iterate(self, ev, Z, tol, options, notes):
            for _ in range(options.max_iter):
                Zn = ev(Z, "halving")
                if ev.last.residual < tol:
                    return Z
                Z = 0.5 * (Z + Zn)
            raise ConvergenceError("halving did not converge", ev.history)

    FIXED_POINT_REGISTRY["halving"] = Halving()

A method that wants more than one stage (e.g. continuation in the relaxation
:math:`\varepsilon`, as ``auto`` does) overrides :meth:`FixedPointMethod.solve`.
Every evaluation is recorded by the evaluator (``ev.history``: residual,
exploitability, wall time); ``ev.last`` is the typed :class:`Evaluation` of the
latest one.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from gelav.errors import ConvergenceError

if TYPE_CHECKING:
    from gelav.mfg.engine import Backward, Forward, Problem
    from gelav.mfg.model import SolverOptions

__all__ = [
    "FIXED_POINT_REGISTRY",
    "Anderson",
    "Auto",
    "Cycling",
    "Evaluation",
    "Evaluator",
    "Fictitious",
    "FixedPointMethod",
    "MapEvaluator",
    "NewtonKrylov",
    "Picard",
    "StageFailed",
    "Stalled",
    "fixed_point_method",
    "refine_continuation",
]

Array = np.ndarray

#: Newton tolerance of the exact scheme (relative size of the last correction per step)
NEWTON_TOL = 1e-7
#: outer residual below which Φ is warm-started from the previous best response
WARM_BELOW = 0.3
#: inexact best responses far from the fixed point: Newton tolerance = factor × residual, at most cap.
#: Off (0): measured on the crisis preset it saved under 10 % at ε = 1e-3 but made Anderson take
#: 23-159 instead of 18-19 evaluations at ε = 1e-4 (the Newton error ~tol²/δ grows as δ shrinks).
INEXACT_FACTOR = 0.0
INEXACT_CAP = 1e-5
#: last Newton count per exiting step below which the next best response runs Newton on all steps at once
GLOBAL_RATIO = 1.02


class Cycling(Exception):
    """The iterates revisit themselves with period ``period`` (a method may catch it and damp)."""

    def __init__(self, period: int) -> None:
        super().__init__(f"cycling with period {period}")
        self.period = period


class Stalled(Exception):
    """No progress in the residual for many iterations."""


class StageFailed(ConvergenceError):
    """A relaxation stage of ``auto`` where Anderson and damped Picard (damping halved to 1/32) stalled or
    cycled, within their budgets: the map is too steep for them there (:func:`refine_continuation`)."""


@dataclass(frozen=True, eq=False)
class Evaluation:
    """One evaluation of the fixed-point map: ``image`` = Φ(``Z``) and what produced it."""

    Z: Array  # the aggregate path evaluated (4, M)
    image: Array  # Φ(Z)
    backward: Backward  # the best response to Z
    forward: Forward  # the population following it
    residual: float  # ‖Φ(Z) − Z‖∞


#: ``tol`` may not be below one unit in the last place of the aggregate path's largest entry
ROUNDING = float(np.finfo(float).eps)


class Evaluator:
    """Φ with bookkeeping: history, exploitability, warm starts, the last :class:`Evaluation`.

    Call it as ``ev(Z, method_name)``; it returns Φ(Z) and records
    ``{"iteration", "method", "epsilon", "residual", "exploitability", "seconds", "start"}``
    in ``history`` (and passes the record to ``callback``).
    """

    def __init__(self, problem: Problem, opts: SolverOptions, history: list[dict[str, Any]],
                 callback: Callable[[dict[str, Any]], None] | None, label: str = "",
                 deadline: float | None = None) -> None:
        self.pb = problem
        self.opts = opts
        self.history = history
        self.callback = callback
        self.label = label
        self.eps = problem.numerics.epsilon
        self.delta = problem.numerics.delta
        self.prev: tuple[Backward, Forward] | None = None
        self.prev_eps = math.nan
        self.last: Evaluation | None = None
        self.n_eval = 0
        self.n_sweep = 0  # evaluations from a known best response (:meth:`sweep`)
        self.last_res = math.nan
        self.inexact = INEXACT_FACTOR > 0
        self.inexact_factor = INEXACT_FACTOR
        self.inexact_cap = INEXACT_CAP
        self.accept_below = 10.0 * opts.tol
        self.one_correction = False
        #: set by :func:`refine_continuation` once it solved (the map needed the safeguarded continuation)
        self.refined = False
        self.t0 = time.perf_counter()
        #: ``time.perf_counter()`` after which no evaluation starts (the solve's wall-time budget)
        self.deadline = deadline

    def spent(self) -> bool:
        """Whether the wall-time budget (``deadline``) is spent: no further evaluation would start."""
        return self.deadline is not None and time.perf_counter() > self.deadline

    @property
    def residual(self) -> float:
        """Residual of the latest evaluation (NaN before the first)."""
        return self.last.residual if self.last is not None else math.nan

    def set_relaxation(self, eps: float) -> None:
        """Relaxation :math:`\\varepsilon` of the next evaluations (δ keeps its ratio to ε)."""
        ratio = self.pb.numerics.delta / self.pb.numerics.epsilon
        self.eps, self.delta = eps, eps * ratio

    def __call__(self, Z: Array, method: str, record: bool = True) -> Array:
        pb = self.pb
        if not np.all(np.isfinite(Z)):
            raise FloatingPointError("non-finite aggregate path")
        if self.spent():
            residuals = [h["residual"] for h in self.history]
            best = f"best residual {min(residuals):.3g}" if residuals else "no residual yet"
            raise ConvergenceError(
                f"the wall-time budget `max_seconds`={self.opts.max_seconds:g} s is spent after "
                f"{len(self.history)} evaluations ({best}, tol={self.opts.tol:g})", self.history)
        same = self.prev is not None and self.prev_eps == self.eps
        # warm start from the previous best response once the iterates are close; far from the
        # fixed point the step-to-step predictor of a cold start is better
        guess = self.prev[0] if (same and self.prev is not None and self.last_res < WARM_BELOW) else None
        # inexact best responses while far from the fixed point: the Newton error after a last
        # correction of size tol is ~tol²/δ, far below the residual; the exact 1e-7 near it
        ntol = NEWTON_TOL
        if self.inexact and same and math.isfinite(self.last_res):
            ntol = min(self.inexact_cap, max(NEWTON_TOL, self.inexact_factor * self.last_res))
        # one Newton correction per step sufficed last time: Newton on all steps at once is cheaper
        newton = "global" if (guess is not None and self.one_correction) else "step"
        Zn, bw, fw = pb.phi(Z, self.eps, self.delta, guess=guess, newton_tol=ntol, newton=newton)
        self.n_eval += 1
        res = float(np.max(np.abs(Zn - Z)))
        if ntol > NEWTON_TOL and res < self.accept_below:
            # never accept an inexact best response: redo this evaluation with the exact inner solve
            Zn, bw, fw = pb.phi(Z, self.eps, self.delta, guess=bw, newton_tol=NEWTON_TOL)
            self.n_eval += 1
            res = float(np.max(np.abs(Zn - Z)))
        scale = max(float(np.max(np.abs(Zn))), float(np.max(np.abs(Z))))
        if not self.opts.tol >= ROUNDING * scale:  # (an O(1) path: tol = 1e-308 ran 52 s down the ε ladder)
            raise ValueError(f"`tol` = {self.opts.tol:g} is below the rounding of the aggregate path: its largest "
                             f"entry is {scale:.3g}, whose last bit is {ROUNDING * scale:.2g}; give tol >= "
                             f"{ROUNDING * scale:.2g} (the default is 1e-8).")
        n_exit = int(bw.exiting.sum())
        self.one_correction = bool(bw.newton_iterations <= (1 if bw.newton == "global" else GLOBAL_RATIO * n_exit))
        self.last_res = res
        expl = math.nan
        if self.opts.exploitability and self.prev is not None:
            v_br = pb.population_value(bw)
            v_pol = pb.policy_value(self.prev[1], self.prev[0], Z, self.eps, self.delta, price=bw.price)
            expl = float(pb.weights @ (v_br - v_pol))
        self.prev = (bw, fw)
        self.prev_eps = self.eps
        self.last = Evaluation(Z.copy(), Zn, bw, fw, res)
        if record:
            rec = {"iteration": len(self.history) + 1, "method": method, "epsilon": self.eps,
                   "residual": res, "exploitability": expl, "seconds": time.perf_counter() - self.t0,
                   "start": self.label}
            self.history.append(rec)
            if self.callback is not None:
                self.callback(rec)
        return Zn

    def sweep(self, Z: Array, backward: Backward, method: str) -> Array:
        """Φ(Z) when the best response to ``Z`` is already known: the population sweep alone.

        The best response to a path depends on the path, not on the starting law, so the last
        best response of a neighbouring law's solve (same grids and relaxation) evaluates this
        law's map at the neighbour's path (master-field chains). Counted in ``n_sweep``, not in
        ``n_eval``; recorded in ``history`` like an evaluation (``"sweep": True``).
        """
        fw = self.pb.forward(backward)
        self.n_sweep += 1
        res = float(np.max(np.abs(fw.Z - Z)))
        self.last_res = res
        self.prev, self.prev_eps = (backward, fw), self.eps
        self.last = Evaluation(Z.copy(), fw.Z, backward, fw, res)
        rec = {"iteration": len(self.history) + 1, "method": method, "epsilon": self.eps, "residual": res,
               "exploitability": math.nan, "seconds": time.perf_counter() - self.t0, "start": self.label,
               "sweep": True}
        self.history.append(rec)
        if self.callback is not None:
            self.callback(rec)
        return fw.Z


class MapEvaluator:
    r"""An evaluator for a fixed point on any array of aggregates, from ``phi(Z) -> (Φ(Z), residual)``.

    What a registered method asks of an evaluator, for a map given as a function
    (the control game's: :func:`gelav.mfg.solve_control`): ``ev(Z, name)`` returns
    :math:`\Phi(Z)` (any shape; the methods work on it flattened), ``ev.residual`` is
    the residual :math:`\|\Phi(Z) - Z\|_\infty` of the latest evaluation and
    ``ev.history`` the records, which ``phi`` keeps. There is no relaxation to
    continue in (``set_relaxation`` is a no-op), so methods that need the stopping
    game's :class:`Evaluator` say so in :attr:`FixedPointMethod.games`.
    """

    def __init__(self, phi: Callable[[Array], tuple[Array, float]], history: list[dict[str, Any]]) -> None:
        self.phi = phi
        self.history = history
        self.residual = math.nan
        self.eps = math.nan
        self.inexact = False

    def __call__(self, Z: Array, method: str, record: bool = True) -> Array:
        Zn, self.residual = self.phi(Z)
        return Zn

    def set_relaxation(self, eps: float) -> None:
        """No relaxation here."""


class FixedPointMethod:
    """A fixed-point iteration for :math:`\\Phi(Z) = Z`.

    To add a method:

    1. subclass and set ``description`` (one line, shown by ``gelav.mfg.METHODS``);
    2. implement :meth:`iterate`: call ``ev(Z, name)`` for Φ(Z), read
       ``ev.last.residual``, return the path once it is below ``tol``; raise
       :class:`~gelav.errors.ConvergenceError` (with ``ev.history``) when the
       budget ``options.max_iter`` is spent;
    3. register an instance: ``FIXED_POINT_REGISTRY["name"] = MyMethod()``.

    :meth:`solve` runs :meth:`iterate` once at the target relaxation;
    override it for multi-stage strategies (continuation in ε).

    ``games`` names the games whose evaluator the method can drive: a method
    that only calls ``ev(Z, name)`` and reads ``ev.residual`` / ``ev.history``
    works on any map (also a :class:`MapEvaluator`: the control game).
    """

    description: str = ""
    games: tuple[str, ...] = ("stopping", "control")

    def iterate(self, ev: Evaluator, Z: Array, tol: float, options: SolverOptions, notes: list[str]) -> Array:
        """Iterate at the evaluator's current relaxation until the residual is below ``tol``."""
        raise NotImplementedError

    def solve(self, ev: Evaluator, Z0: Array, options: SolverOptions, notes: list[str], label: str) -> Array:
        """The fixed point from the starting path ``Z0`` (label: which starting guess)."""
        ev.set_relaxation(ev.pb.numerics.epsilon)
        return self.iterate(ev, Z0, options.tol, options, notes)


# -- helpers of the iterations ----------------------------------------------------
def _lstsq(A: Array, b: Array, rcond: float) -> Array:
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
    return np.asarray(Vt[keep].T @ ((U[:, keep].T @ qb) / s[keep]))


def check_cycle(Zs: list[Array], res: list[float]) -> None:
    """Raise :class:`Cycling` when the iterates revisit themselves, :class:`Stalled` when no progress."""
    j = len(res)
    if j < 40:
        return
    if min(res[-20:]) < 0.98 * min(res[:-20]):
        return  # still making progress
    step = np.max(np.abs(Zs[-1] - Zs[-2]))
    for p in range(2, 9):
        if np.max(np.abs(Zs[-1] - Zs[-1 - p])) < 0.05 * step:
            raise Cycling(p)
    raise Stalled()


def reached(ev: Evaluator | MapEvaluator, tol: float) -> str:
    r"""What a failed iteration asked for and reached, for its message (issue 11).

    The residual :math:`\|\Phi(Z) - Z\|_\infty` is the one the stopping test compares with
    ``tol``; best and last are over the evaluations of this attempt only (this start, this
    relaxation :math:`\varepsilon`): the shared history also holds other starts and the coarser
    stages of the continuation, whose residuals belong to other maps.
    """
    if isinstance(ev, MapEvaluator):  # one map, no relaxation stages or starts (e.g. a control game)
        own = [h["residual"] for h in ev.history if "residual" in h] or [ev.residual]
        return (f"tol={tol:g} asked for; residual reached {min(own):.3g} (best) / {own[-1]:.3g} (last) "
                f"over {len(own)} evaluations")
    own = [h["residual"] for h in ev.history if h.get("start") == ev.label and h.get("epsilon") == ev.eps]
    if not own:
        own = [ev.residual]
    best = min(own)
    return (f"tol={tol:g} asked for at epsilon={ev.eps:g}; residual reached {best:.3g} (best) / "
            f"{own[-1]:.3g} (last) over the {len(own)} evaluations at this epsilon from start {ev.label!r}")


def damped_picard(ev: Evaluator, Z: Array, tol: float, max_iter: int, damping: float,
                  name: str = "picard", detect: bool = True, adaptive: bool = False) -> Array:
    r"""Damped Picard :math:`Z \leftarrow Z + a(\Phi(Z) - Z)`; raises :class:`Cycling` / :class:`Stalled`."""
    Zs: list[Array] = []
    res: list[float] = []
    a = damping
    for _ in range(max_iter):
        Zn = ev(Z, name)
        r = ev.residual
        if r < tol:
            return Z
        if adaptive and res:
            # backtracking damping: shrink when the residual grows, grow slowly otherwise
            a = a * 0.5 if r > res[-1] else min(damping, a * 1.1)
        Zs.append(Z)
        res.append(r)
        if detect:
            check_cycle(Zs, res)
        Z = Z + a * (Zn - Z)
    raise ConvergenceError(f"{name} did not reach tol={tol:g} in {max_iter} iterations: {reached(ev, tol)}.", ev.history)


def anderson(ev: Evaluator, Z: Array, tol: float, max_iter: int, memory: int, damping: float = 1.0) -> Array:
    """Anderson acceleration (type II, memory ``memory``) with a safeguard; raises :class:`Stalled`."""
    shape = Z.shape
    x = Z.ravel().copy()
    X: list[Array] = []
    F: list[Array] = []
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
            raise Stalled()
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
    raise ConvergenceError(f"Anderson did not reach tol={tol:g} in {max_iter} iterations: {reached(ev, tol)}.",
                           ev.history)


# -- the registered methods -------------------------------------------------------------
class Picard(FixedPointMethod):
    description = "damped Picard Z ← (1-a)Z + aΦ(Z)"

    def iterate(self, ev: Evaluator, Z: Array, tol: float, options: SolverOptions, notes: list[str]) -> Array:
        try:
            return damped_picard(ev, Z, tol, options.max_iter, options.damping)
        except Cycling as exc:
            raise ConvergenceError(f"damped Picard (damping {options.damping:g}) cycles with period {exc.period} "
                                   f"({reached(ev, tol)}); try a smaller damping.", ev.history) from None
        except Stalled:
            raise ConvergenceError(f"damped Picard (damping {options.damping:g}) stalled ({reached(ev, tol)}); "
                                   "try a smaller damping.", ev.history) from None


class Fictitious(FixedPointMethod):
    description = "fictitious play (averaging with weight 1/(j+2))"

    def iterate(self, ev: Evaluator, Z: Array, tol: float, options: SolverOptions, notes: list[str]) -> Array:
        for j in range(options.max_iter):
            Zn = ev(Z, "fictitious")
            if ev.residual < tol:
                return Z
            Z = Z + (Zn - Z) / (j + 2.0)
        raise ConvergenceError(f"fictitious play did not reach tol={tol:g} in {options.max_iter} iterations: "
                               f"{reached(ev, tol)}.", ev.history)


class Anderson(FixedPointMethod):
    description = "Anderson acceleration (type II)"

    def iterate(self, ev: Evaluator, Z: Array, tol: float, options: SolverOptions, notes: list[str]) -> Array:
        try:
            return anderson(ev, Z, tol, options.max_iter, options.memory)
        except Stalled:
            raise ConvergenceError(f"Anderson stalled: {reached(ev, tol)}.", ev.history) from None


class NewtonKrylov(FixedPointMethod):
    description = "scipy.optimize.newton_krylov on Φ(Z) - Z"
    #: its finite-difference Jacobian products need Φ smooth to rounding; the control game's
    #: policy iteration stops at ``howard_tol``
    games = ("stopping",)

    def iterate(self, ev: Evaluator, Z: Array, tol: float, options: SolverOptions, notes: list[str]) -> Array:
        from scipy.optimize import NoConvergence, newton_krylov

        shape = Z.shape
        ev.inexact = False  # finite-difference Jacobian products need the exact map

        def G(v: Array) -> Array:
            return ev(v.reshape(shape), "newton-krylov").ravel() - v

        try:
            sol = newton_krylov(G, Z.ravel(), f_tol=tol, maxiter=options.max_iter, method="lgmres")
        except NoConvergence as exc:
            raise ConvergenceError(f"Newton–Krylov did not reach tol={tol:g}: {reached(ev, tol)}.", ev.history) from exc
        except (ValueError, FloatingPointError, np.linalg.LinAlgError) as exc:
            raise ConvergenceError(f"Newton–Krylov failed ({exc}): {reached(ev, tol)}.", ev.history) from exc
        out: Array = sol.reshape(shape)
        ev(out, "newton-krylov")
        return out


class Auto(FixedPointMethod):
    """Anderson at the target relaxation; if it fails, continuation in ε with Anderson per stage and
    damped Picard (adaptive damping, from the best iterate) when Anderson stalls; if a stage still
    fails, :func:`refine_continuation` from the last solved stage (shorter, safeguarded steps in ε,
    Newton with the exact tangent per stage)."""

    description = ("continuation in ε + Anderson, fallback to damped Picard, then safeguarded continuation "
                   "steps with Newton")
    games = ("stopping",)  # continuation in the stopping game's relaxation ε

    def iterate(self, ev: Evaluator, Z: Array, tol: float, options: SolverOptions, notes: list[str]) -> Array:
        try:
            return anderson(ev, Z, tol, options.max_iter, options.memory)
        except (Stalled, ConvergenceError, FloatingPointError, np.linalg.LinAlgError) as exc:
            notes.append(f"Anderson failed at epsilon={ev.eps:g} ({type(exc).__name__}); fell back to damped Picard")
            Zb = ev.last.Z if ev.last is not None else Z
            damping = options.damping
            for _ in range(4):
                try:
                    return damped_picard(ev, Zb, tol, options.max_iter, damping, name="picard (fallback)",
                                         adaptive=True)
                except Cycling as cyc:
                    notes.append(f"damped Picard cycles (period {cyc.period}) with damping {damping:g}; halving it")
                    damping /= 2.0
                except Stalled:
                    notes.append(f"damped Picard stalled with damping {damping:g}; halving it")
                    damping /= 2.0
            raise StageFailed(
                f"Anderson and damped Picard (damping down to {damping:g}) both failed: {reached(ev, tol)}. "
                "The map may be too steep (a large "
                "`flow_impact` with a short `absorption_time` makes block exits self-defeating): try a larger "
                "`epsilon` or `absorption_time`.", ev.history) from None

    def solve(self, ev: Evaluator, Z0: Array, options: SolverOptions, notes: list[str], label: str) -> Array:
        num = ev.pb.numerics
        if not options.continuation:
            # 1) Anderson directly at the target relaxation (fastest when it works)
            ev.set_relaxation(num.epsilon)
            try:
                return anderson(ev, Z0, options.tol, min(options.max_iter, 60), options.memory)
            except (Stalled, ConvergenceError, FloatingPointError, np.linalg.LinAlgError) as exc:
                notes.append(f"direct Anderson at epsilon={num.epsilon:g} failed ({type(exc).__name__}); "
                             "continuation in the relaxation")
            ev.prev = None
        schedule = num.schedule()
        if label in ("panic", "no-feedback"):
            # other basins: a large relaxation can erase them (slow exits cannot produce a panic), so start at ε
            schedule = (num.epsilon,)
        Z = Z0
        solved: tuple[float, Array] | None = None
        for i, eps in enumerate(schedule):
            ev.set_relaxation(eps)
            last = i == len(schedule) - 1
            tol = options.tol if last else max(options.stage_tol, options.tol)
            try:
                Z = self.iterate(ev, Z, tol, options, notes)
            except (StageFailed, FloatingPointError) as exc:
                if solved is None or ev.spent():
                    raise
                # the ladder's step was too long for the map at this ε: shorter, safeguarded steps (a stage
                # that spent its `max_iter` raises as before: the budget asked for is kept)
                return refine_continuation(ev, solved, eps, options, notes, exc)
            solved = (eps, Z)
        return Z


#: a continuation step ε → ρε is halved in log ε (ρ → √ρ) when its stage fails; below this
#: ratio's log-step (ρ > 0.9: ε down by under 10 %) :func:`refine_continuation` gives up
REFINE_MAX_RATIO = 0.9
#: a stage solved in at most this many evaluations doubles the next step in log ε (ρ → ρ², at most
#: a decade: ρ >= :data:`REFINE_MIN_RATIO`); other solved stages keep ρ. Measured on the stress preset
#: at discount_rate 0.12 (200 x 200): keeping ρ = √0.1 took 31 evaluations (4 stages, 4-7 each),
#: doubling after every stage 47 (two failed stages)
REFINE_EASY = 3
REFINE_MIN_RATIO = 0.1
#: evaluations of Φ a stage of :func:`refine_continuation` spends with Anderson (no exact tangent)
REFINE_STAGE_EVALUATIONS = 60


def _stage(ev: Evaluator, Z: Array, tol: float, options: SolverOptions) -> tuple[Array, bool]:
    """One stage of :func:`refine_continuation` at the evaluator's relaxation: Newton with the exact
    tangent (``control="newton"``), else Anderson; ``(path, converged)``, never raising on a stall."""
    if ev.pb.numerics.control == "newton":
        from gelav.mfg.tangent import NEWTON_MAX_STEPS, newton

        Zn, _, ok = newton(ev, Z, tol, max_steps=min(NEWTON_MAX_STEPS, options.max_iter))
        return Zn, ok
    try:
        return anderson(ev, Z, tol, min(REFINE_STAGE_EVALUATIONS, options.max_iter), options.memory), True
    except (Stalled, FloatingPointError, np.linalg.LinAlgError):
        return Z, False
    except ConvergenceError:
        if ev.spent():
            raise
        return Z, False


def refine_continuation(ev: Evaluator, solved: tuple[float, Array], failed: float, options: SolverOptions,
                        notes: list[str], cause: BaseException) -> Array:
    r"""Continuation in :math:`\varepsilon` with a safeguarded step, from the last solved stage to the target.

    Where the fixed-point map is steep (:math:`\|\partial_Z\Phi\|` grows like a power of
    :math:`1/\varepsilon`: the exit intensity :math:`\varepsilon^{-1}\varphi((\pi - V)/\delta)` responds
    to the price at the rate :math:`\varphi'/(\varepsilon\delta)`, and with many LPs at the margin the
    eigenvalues of :math:`\partial_Z\Phi` reach hundreds, complex with negative real part: exits lower
    the price), damped Picard needs a damping below :math:`2(1 - \Re\lambda)/|1 - \lambda|^2` and
    Anderson stalls from a distant start, while Newton on :math:`\Phi(Z) = Z` converges from a
    start close enough. The continuation supplies that start: from ``solved = (ε_0, Z_0)`` each stage
    solves at :math:`\varepsilon_{j+1} = \max(\varepsilon, \rho\,\varepsilon_j)` from the last solved path
    by Newton with the exact tangent (:func:`gelav.mfg.tangent.newton`; Anderson without it); a
    failed stage halves the step in :math:`\log\varepsilon` (:math:`\rho \to \sqrt\rho`) and starts
    again from the last solved stage; a stage solved in at most :data:`REFINE_EASY` evaluations
    doubles it (:math:`\rho \to \rho^2`, at most a decade). Once two stages are solved, a stage
    that fails from :math:`Z_j` is tried again from the secant predictor
    :math:`Z_j + (Z_j - Z_{j-1})\log(\varepsilon_{j+1}/\varepsilon_j)/\log(\varepsilon_j/\varepsilon_{j-1})`
    before the step is halved. The first step is half the failed one (``failed``: the ε whose
    ladder stage failed). Intermediate stages are solved to ``stage_tol``, the last to ``tol``.

    Raises
    ------
    ConvergenceError
        A step shorter than :data:`REFINE_MAX_RATIO` failed, or ``options.max_iter`` evaluations
        were spent here; the message has both the first failure (``cause``) and where this stopped.
    """
    target = ev.pb.numerics.epsilon
    eps_ok, Z_ok = solved
    rho = math.sqrt(failed / eps_ok) if failed < eps_ok else math.sqrt(target / eps_ok)
    n0 = ev.n_eval
    stages: list[str] = []
    before: tuple[float, Array] | None = None  # the solved stage before (eps_ok, Z_ok)
    while True:
        eps = max(target, eps_ok * rho)
        last = eps <= target * (1.0 + 1e-12)
        eps = target if last else eps
        tol = options.tol if last else max(options.stage_tol, options.tol)
        ev.set_relaxation(eps)
        n_stage = ev.n_eval
        Z, ok = _stage(ev, Z_ok, tol, options)
        if not ok and before is not None:
            # from the secant predictor along the solved branch (in log ε) before a shorter step
            slope = math.log(eps / eps_ok) / math.log(eps_ok / before[0])
            Z, ok = _stage(ev, Z_ok + slope * (Z_ok - before[1]), tol, options)
        n_stage = ev.n_eval - n_stage
        stages.append(f"{eps:.3g}" + ("" if ok else " (failed)"))
        if ok:
            if last:
                notes.append(f"the ladder's stage epsilon={failed:g} failed; continuation in epsilon from "
                             f"{solved[0]:g} with safeguarded steps and "
                             + ("Newton (exact tangent)" if ev.pb.numerics.control == "newton" else "Anderson")
                             + f" per stage: {', '.join(stages)} ({ev.n_eval - n0} evaluations)")
                ev.refined = True
                return Z
            before, (eps_ok, Z_ok) = (eps_ok, Z_ok), (eps, Z)
            if n_stage <= REFINE_EASY:
                rho = max(REFINE_MIN_RATIO, rho * rho)
            continue
        rho = math.sqrt(rho)
        spent = ev.n_eval - n0 >= options.max_iter
        if rho > REFINE_MAX_RATIO or spent:
            why = (f"{ev.n_eval - n0} evaluations (`max_iter`={options.max_iter})" if spent else
                   f"a step down to {eps_ok * rho * rho:.3g} (under {100 * (1 - REFINE_MAX_RATIO):.0f} % in epsilon)")
            raise ConvergenceError(
                f"{cause} Continuation in epsilon with safeguarded steps from {solved[0]:g} solved down to "
                f"epsilon={eps_ok:g} and failed after {why} (stages {', '.join(stages)}): {reached(ev, tol)}.",
                ev.history) from None


#: The fixed-point methods by name (``SolverOptions(method=name)``); add one with one line.
FIXED_POINT_REGISTRY: dict[str, FixedPointMethod] = {
    "auto": Auto(),
    "picard": Picard(),
    "fictitious": Fictitious(),
    "anderson": Anderson(),
    "newton-krylov": NewtonKrylov(),
}


def fixed_point_method(name: str) -> FixedPointMethod:
    """The registered method ``name``; ``ValueError`` listing the registered ones otherwise."""
    method = FIXED_POINT_REGISTRY.get(name) if isinstance(name, str) else None
    if method is None:
        raise ValueError(f"Unknown `method` {name!r}; registered methods are "
                         + ", ".join(repr(m) for m in FIXED_POINT_REGISTRY) + ".")
    return method


class MethodDescriptions(Mapping[str, str]):
    """Read-only view ``name -> description`` of :data:`FIXED_POINT_REGISTRY` (``gelav.mfg.METHODS``)."""

    def __getitem__(self, name: str) -> str:
        return FIXED_POINT_REGISTRY[name].description

    def __iter__(self) -> Iterator[str]:
        return iter(FIXED_POINT_REGISTRY)

    def __len__(self) -> int:
        return len(FIXED_POINT_REGISTRY)

    def __repr__(self) -> str:
        return repr(dict(self))
