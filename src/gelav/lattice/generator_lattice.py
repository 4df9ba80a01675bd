"""A lattice for any process from its generator Q on a grid.

Part of :mod:`gelav.lattice` (see the package docstring for the methods).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import sparse

from gelav._validation import check_int, check_positive
from gelav.fd.grid import Grid

if TYPE_CHECKING:
    from gelav.processes.protocol import ProcessLike


# =============================================================================
# lattices from the generator
# =============================================================================
class GeneratorLattice:
    r"""The lattice of any process: a Markov chain built from its generator :math:`Q` on a grid.

    ``method="explicit"``: the trinomial chain :math:`P = I + \Delta t\,Q`
    (:math:`Q` from :class:`gelav.generator.Generator`, tridiagonal with
    non-negative off-diagonals and rows summing to minus the killing rate),
    with :math:`\Delta t \le \text{safety}/\max_i |q_{ii}|` so that every
    entry of :math:`P` is a probability. Its up/stay/down probabilities match
    the drift and variance of the diffusion to :math:`O(h)` (Scharfetter–Gummel
    fluxes); the lattice is the explicit Euler scheme of the Fokker–Planck
    equation, first order in :math:`\Delta t = O(h^2)`, i.e. second order in
    the grid spacing.

    ``method="exact"``: the embedded continuous-time chain,
    :math:`P = e^{\Delta t\, Q}` (no time error; second order in the spacing).

    Forward induction: :math:`p_{n+1} = P^\top p_n`; backward:
    :math:`u_n = \max(P u_{n+1}, g)`. Killing (e.g. a discount rate ``r``)
    enters :math:`Q` as :math:`-r` on the diagonal.

    Parameters
    ----------
    process : Process
    grid : Grid
    lower, upper : {"reflecting", "absorbing"}
    killing : float, array or callable, optional
        Killing / discount rate :math:`k(t, x) \ge 0`.
    method : {"explicit", "exact"}
    safety : float
        Fraction (0, 1] of the largest positive step.

    Examples
    --------
    >>> from gelav.processes import OrnsteinUhlenbeck
    >>> from gelav.grid import Grid
    >>> lat = GeneratorLattice(OrnsteinUhlenbeck(0.45, 1.0, 0.32), Grid.uniform(-2, 3, 100))
    >>> p = lat.forward(lat.grid.point_mass(-0.5), 2.0)
    >>> bool(p.min() >= 0 and abs(p.sum() - 1) < 1e-12)
    True
    """

    METHODS = ("explicit", "exact")

    def __init__(self, process: ProcessLike, grid: Grid, *, lower: str = "reflecting", upper: str = "reflecting",
                 killing: Any = None, method: str = "explicit", safety: float = 1.0) -> None:
        from gelav.fd.generator import Generator

        if method not in self.METHODS:
            raise ValueError(f"Unknown `method` {method!r}; registered methods are " + ", ".join(map(repr, self.METHODS)) + ".")
        safety = check_positive("safety", safety)
        if safety > 1:
            raise ValueError(f"`safety` must be in (0, 1] (a larger step makes P negative), got {safety}.")
        self.generator = Generator(process, grid, lower=lower, upper=upper, killing=killing)
        self.process = process
        self.grid = grid
        self.method = method
        self.safety = safety

    def max_step(self, t: float = 0.0) -> float:
        r"""Largest :math:`\Delta t` with :math:`I + \Delta t\,Q(t) \ge 0`: :math:`1/\max_i|q_{ii}|`."""
        d = np.abs(self.generator.bands(t).diag).max()
        return math.inf if d == 0 else 1.0 / float(d)

    def n_steps_for(self, horizon: float) -> int:
        """Steps the explicit chain takes over ``horizon``."""
        horizon = check_positive("horizon", horizon)
        if self.method == "exact":
            return 1
        return max(1, math.ceil(horizon / (self.safety * self.max_step()) - 1e-12))

    def transition(self, dt: float, t: float = 0.0) -> sparse.csr_array:
        r"""The one-step matrix :math:`P` (sparse; dense-backed for ``exact``)."""
        dt = check_positive("dt", dt)
        Q = self.generator.matrix(t)
        if self.method == "exact":
            from scipy.linalg import expm

            return sparse.csr_array(expm(dt * Q.toarray()))
        P = sparse.identity(Q.shape[0], format="csr") + dt * Q
        if P.min() < -1e-13:
            raise ValueError(f"`dt` = {dt:g} exceeds the largest positive step {self.max_step(t):g}.")
        return sparse.csr_array(P)

    def forward(self, p0: ArrayLike, horizon: float, *, n_steps: int | None = None) -> NDArray[np.float64]:
        """Node masses at ``horizon`` by forward induction from masses ``p0``.

        ``n_steps`` (explicit chain) fixes the number of steps; it must keep
        :math:`P \\ge 0`. Default: the fewest steps allowed by ``safety``.
        """
        p = np.asarray(p0, dtype=float).copy()
        if p.shape != (self.grid.n_nodes,):
            raise ValueError(f"`p0` must have shape ({self.grid.n_nodes},), got {p.shape}.")
        horizon = check_positive("horizon", horizon)
        if self.method == "exact" and self.generator.time_homogeneous:
            from scipy.sparse.linalg import expm_multiply

            A = horizon * self.generator.matrix(0.0).T.tocsr()
            if p.size <= 2000 and abs(A).sum(axis=0).max() > 1e4:  # expm_multiply's cost grows with ‖A‖
                from scipy.linalg import expm

                return np.asarray(expm(A.toarray()) @ p)
            return np.asarray(expm_multiply(A, p))
        if n_steps is not None and self.method == "explicit":
            n = check_int("n_steps", n_steps, minimum=1)
            need = self.n_steps_for(horizon)
            if n < need:
                raise ValueError(
                    f"`n_steps` = {n} makes I + dt Q negative; at least {need} steps are needed on this grid."
                )
        else:
            n = self.n_steps_for(horizon) if self.method == "explicit" else max(1, math.ceil(horizon / 0.01))
        dt = horizon / n
        homog = self.generator.time_homogeneous
        b = self.generator.bands(0.0)
        for i in range(n):
            if not homog:
                b = self.generator.bands((i + 0.5) * dt)
            if self.method == "explicit":
                p = p + dt * b.rmatvec(p)
            else:  # pragma: no cover - time-dependent exact chain
                from scipy.sparse.linalg import expm_multiply

                p = np.asarray(expm_multiply(dt * b.to_sparse().T.tocsr(), p))
        return p

    def backward(self, payoff: ArrayLike | Callable[..., ArrayLike], horizon: float, *,
                 exercise: ArrayLike | Callable[..., ArrayLike] | bool | None = None,
                 n_steps: int | None = None) -> NDArray[np.float64]:
        r"""Nodal values at time 0 by backward induction, :math:`u_n = \max(P u_{n+1}, g)`.

        ``payoff`` is an array on the nodes or a callable of x; ``exercise``
        (``True`` = the payoff) makes it an optimal-stopping problem exercised
        at every lattice step. ``n_steps`` sets the steps (exercise dates):
        default the fewest with :math:`P \\ge 0` (explicit), 1 or 200 (exact,
        without / with exercise).
        """
        horizon = check_positive("horizon", horizon)
        x = self.grid.nodes
        g = np.asarray(payoff(x) if callable(payoff) else payoff, dtype=float) * np.ones_like(x)
        if exercise is True:
            ex = g
        elif exercise is None or exercise is False:
            ex = None
        else:
            ex = np.asarray(exercise(x) if callable(exercise) else exercise, dtype=float) * np.ones_like(x)
        if self.method == "exact":
            n = check_int("n_steps", n_steps, minimum=1) if n_steps is not None else (1 if ex is None else 200)
        else:
            need = self.n_steps_for(horizon)
            n = need if n_steps is None else check_int("n_steps", n_steps, minimum=1)
            if n < need:
                raise ValueError(
                    f"`n_steps` = {n} makes I + dt Q negative; at least {need} steps are needed on this grid."
                )
        dt = horizon / n
        homog = self.generator.time_homogeneous
        P = self.transition(dt) if (self.method == "exact" and homog) else None
        u = g.copy()
        b = self.generator.bands(0.0)
        for i in range(n - 1, -1, -1):
            tm = (i + 0.5) * dt
            if self.method == "exact":
                u = (P if P is not None else self.transition(dt, tm)) @ u
            else:
                if not homog:
                    b = self.generator.bands(tm)
                u = u + dt * b.matvec(u)
            if ex is not None:
                u = np.maximum(u, ex)
        return u
