r"""Step conditions: what a backward step does besides the linear solve.

A backward θ-step solves :math:`L u = b` with :math:`L = I - \theta\Delta t A`
(padded bands ``sub, diag, sup``; absorbing rows already set to
:math:`u_i = \phi_i`). A *step condition* may replace that solve
(:meth:`StepCondition.solve`) and keeps its own record of what it did. The
default is the plain linear solve.

- :class:`EarlyExercise` — optimal stopping: the step becomes the LCP
  :math:`\min(Lu - b,\ u - g) = 0` with the obstacle :math:`g(t)`, solved by
  policy iteration or Brennan–Schwartz (:func:`gelav.fd.linalg.solve_lcp`);
  it records the stopping region and the iterations.

Design for the other conditions of the package (exit intensity, control):
a relaxed exit intensity :math:`k(t, x) \ge 0` (the mean-field game's penalised
exit) is the same hook with ``solve`` adding :math:`\Delta t\,k` to ``diag``
and :math:`\Delta t\,k\,\psi` to ``b`` (or a Newton iteration when :math:`k`
depends on :math:`u`); a control enters ``A`` itself and is applied by building
the generator with the controlled drift (:func:`gelav.fd.generator.fitted_bands`).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

from gelav.fd.linalg import brennan_schwartz, lcp_terms, policy_iteration, solve

__all__ = ["EarlyExercise", "StepCondition"]

Array = NDArray[np.float64]


class StepCondition:
    """Base class: the plain linear solve of the step (subclasses replace :meth:`solve`)."""

    def solve(self, sub: Array, diag: Array, sup: Array, rhs: Array, t: float) -> Array:
        """Solve the step at time ``t`` (the earlier end) for the padded bands and right-hand side."""
        return solve(sub[1:], diag, sup[:-1], rhs)


class EarlyExercise(StepCondition):
    r"""Early exercise: :math:`\min(Lu - b,\ u - g(t)) = 0` in every step.

    Parameters
    ----------
    obstacle : callable ``t -> array``
        The exercise value :math:`g(t, x_i)` at the nodes (``-inf`` where stopping is not allowed).
    method : {"policy", "bs"}
        Howard's policy iteration or Brennan–Schwartz (the LCP kind of :data:`gelav.fd.linalg.LCP_METHODS`).
    side : {"lower", "upper"} or None
        The side of the stopping region for Brennan–Schwartz (None: found from a
        policy iteration at the first step and kept).
    max_iter : int
        Policy-iteration cap per step.
    stop : array of bool
        The initial guess of the stopping region (the horizon's).
    nodes : array
        The grid nodes (to place a guessed ``side``).

    Brennan–Schwartz is exact only when the stopping region is one interval touching the ``side``
    end. Its answer is checked in every step against the LCP (:math:`|\min(Lu - b, u - g)|` within
    the rounding of :func:`gelav.fd.linalg.lcp_terms`); where it fails (an exit region inside the
    domain, a two-sided region) that step is solved by policy iteration instead and counted in
    ``fallback_steps``.

    Attributes
    ----------
    stop : the stopping region of the last step; iterations : LCP iterations per step; side : as used;
    fallback_steps : Brennan–Schwartz steps solved by policy iteration instead.
    """

    def __init__(self, obstacle: Callable[[float], Array], *, method: str, side: str | None, max_iter: int,
                 stop: NDArray[np.bool_], nodes: Array) -> None:
        self.obstacle = obstacle
        self.method = method
        self.side = side
        self.max_iter = max_iter
        self.stop = stop
        self.nodes = nodes
        self.iterations: list[int] = []
        self.fallback_steps = 0
        self.last_obstacle: Array | None = None

    def solve(self, sub: Array, diag: Array, sup: Array, rhs: Array, t: float) -> Array:
        obstacle = self.obstacle(t)
        self.last_obstacle = obstacle
        x = self.nodes
        if self.method == "bs":
            if self.side is None:
                _, st, _ = policy_iteration(sub, diag, sup, rhs, obstacle, self.stop, self.max_iter)
                # the end the region touches; else the half its nodes lie in (checked below in every step)
                self.side = ("lower" if st[0] and not st[-1] else "upper" if st[-1] and not st[0] else
                             "lower" if (st.any() and float(x[st].mean()) < 0.5 * (x[0] + x[-1])) else "upper")
            u = brennan_schwartz(sub, diag, sup, rhs, obstacle, self.side)
            cont, tie = lcp_terms(sub, diag, sup, rhs, obstacle, u)
            with np.errstate(invalid="ignore"):
                resid = np.minimum(cont, u - obstacle)  # u - (-inf) = inf: a row without obstacle checks Lu = b
            stop = np.isfinite(obstacle) & ((u - obstacle) < cont - tie)
            if np.all(np.abs(resid) <= tie):  # Brennan–Schwartz's answer solves the LCP
                self.stop = stop
                self.iterations.append(1)
                return u
            # Its assumption (one interval of stopping at the `side` end) fails in this step (an exit region
            # inside the domain, or two-sided): its answer is not the LCP's. Policy iteration, from the last step's region.
            self.fallback_steps += 1
            u, self.stop, it = policy_iteration(sub, diag, sup, rhs, obstacle, self.stop, self.max_iter)
            self.iterations.append(it)
            return u
        u, self.stop, it = policy_iteration(sub, diag, sup, rhs, obstacle, self.stop, self.max_iter)
        self.iterations.append(it)
        return u
