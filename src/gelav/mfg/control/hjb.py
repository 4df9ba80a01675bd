r"""The backward (HJB) and forward (Fokker–Planck) sweeps of a control game.

For a frozen control :math:`\alpha_i` at the nodes, the agents' chain is the
shared fitted generator :math:`Q^\alpha` (:class:`gelav.generator.Generator`)
of the diffusion with drift :math:`b + \alpha` (the control at a face is the
mean of its two nodes, so the fitted flux sees a second-order face drift).
One θ-step from :math:`t_n` to :math:`t_{n+1}`, coefficients and aggregates
at the midpoint :math:`t_m` (:math:`s_m = \frac12(s_n + s_{n+1})`), is

.. math::

    \big(I - \theta\Delta t\,(Q^\alpha - \rho)\big)\,V_n
    = \big(I + (1-\theta)\Delta t\,(Q^\alpha - \rho)\big)\,V_{n+1} + \Delta t\, f(t_m, x, \alpha, s_m).

Every :math:`Q^\alpha` has non-negative off-diagonals and zero row sums, so
each linear step is monotone (an M-matrix on the left, for
:math:`(1-\theta)\Delta t\,|q_{ii}| \le 1` a non-negative matrix on the right).
The HJB step is solved by policy iteration (Howard): evaluate the step for a
policy, improve the policy pointwise,

.. math::

    \alpha_i \leftarrow \arg\min_{a\in A}\big[a\,(D W)_i + f(t_m, x_i, a, s_m)\big],
    \qquad W = \theta V_n + (1-\theta) V_{n+1},

with :math:`D` the centred difference, and repeat until :math:`V_n` stops
changing (quadratic convergence: the minimiser makes the step residual
stationary in :math:`\alpha`). The Hamiltonian is thus evaluated at the time
:math:`t_m` of the step's θ-average (second order for Crank–Nicolson).

The population moves with the exact transpose of the final linear step,

.. math::

    p_{n+1} = \big(I + (1-\theta)\Delta t\,Q^\alpha\big)^{\!\top}\big(I - \theta\Delta t\,Q^\alpha\big)^{-\top} p_n,

so :math:`\mathbf 1^\top p` is kept to rounding and, without discounting,
:math:`p_0^\top V_0 = p_N^\top g + \sum_n \Delta t\,\big(L_n^{-\top}p_n\big)^\top f_n` (duality).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from gelav.errors import ConvergenceError
from gelav.fd import linalg
from gelav.generator import Generator
from gelav.grid import Grid, TimeGrid
from gelav.mfg.control.game import ControlGame

Array = NDArray[np.float64]

#: a policy iteration whose change grows to this many times its smallest in the step has diverged
DIVERGED = 1e6


class _ControlledDiffusion:
    """The diffusion with drift ``b(t, x, s) + α(x)`` (α linear between the nodes), frozen at one step."""

    domain = (-math.inf, math.inf)
    time_homogeneous = False
    name = "controlled diffusion"

    def __init__(self, game: ControlGame, stats: Any, nodes: Array, alpha: Array) -> None:
        self.game, self.stats, self.nodes, self.alpha = game, stats, nodes, alpha

    def drift(self, t: float, x: ArrayLike) -> Array:
        x = np.asarray(x, dtype=float)
        return self.game.drift(t, x, self.stats) + np.interp(x, self.nodes, self.alpha)

    def diffusion(self, t: float, x: ArrayLike) -> Array:
        return np.abs(self.game.volatility(t, np.asarray(x, dtype=float)))

    def variance_rate(self, t: float, x: ArrayLike) -> Array:
        return self.game.volatility(t, np.asarray(x, dtype=float)) ** 2


@dataclass
class Sweep:
    """One backward sweep: values, step policies, and the step data the forward sweep transposes."""

    value: Array  # (n_t + 1, N)
    policy: Array  # (n_steps, N), control of step n at its nodes
    sub: Array  # (n_steps, N) bands of Q^alpha of step n (no discounting)
    diag: Array
    sup: Array
    source: Array  # (n_steps, N) f(t_m, x, alpha, s_m)
    howard: NDArray[np.int64]  # (n_steps,) policy iterations per step


class Discretisation:
    """Grid, time grid and the game's aggregate shape: builds the sweeps."""

    def __init__(self, game: ControlGame, grid: Grid, tgrid: TimeGrid, *, scalar_stats: bool,
                 howard_tol: float = 1e-11, howard_max_iter: int = 50) -> None:
        self.game, self.grid, self.tg = game, grid, tgrid
        self.x = grid.nodes
        self.scalar = scalar_stats
        self.howard_tol, self.howard_max_iter = howard_tol, howard_max_iter

    # -- helpers ------------------------------------------------------------------
    def gradient(self, v: Array) -> Array:
        """Centred differences (second order on any grid), one-sided at the ends."""
        x = self.x
        out = np.empty_like(v)
        h0, h1 = x[1:-1] - x[:-2], x[2:] - x[1:-1]
        out[1:-1] = (h0 * h0 * v[2:] - h1 * h1 * v[:-2] + (h1 * h1 - h0 * h0) * v[1:-1]) / (h0 * h1 * (h0 + h1))
        out[0] = (v[1] - v[0]) / (x[1] - x[0])
        out[-1] = (v[-1] - v[-2]) / (x[-1] - x[-2])
        return out

    def stats(self, z: Array) -> Any:
        return float(z[0]) if self.scalar else z.copy()

    def _bands(self, t: float, s: Any, alpha: Array) -> tuple[Array, Array, Array]:
        B = Generator(_ControlledDiffusion(self.game, s, self.x, alpha), self.grid).bands(t, killing=False)
        return B.sub, B.diag, B.sup

    def _step(self, bands: tuple[Array, Array, Array], v1: Array, f: Array, dt: float, theta: float) -> Array:
        sub, diag, sup = bands
        d = diag - self.game.discount
        a, b = theta * dt, (1.0 - theta) * dt
        rhs = v1 + b * (d * v1)
        rhs[1:] += b * sub[1:] * v1[:-1]
        rhs[:-1] += b * sup[:-1] * v1[1:]
        rhs += dt * f
        return linalg.factor(-a * sub[1:], 1.0 - a * d, -a * sup[:-1]).solve(rhs)

    def terminal(self, Z: Array) -> Array:
        return self.game.terminal(self.x, self.stats(Z[-1]))

    def _alloc(self) -> tuple[Array, ...]:
        n, N = self.tg.n_steps, self.x.size
        return (np.empty((n + 1, N)), np.empty((n, N)), np.empty((n, N)), np.empty((n, N)),
                np.empty((n, N)), np.empty((n, N)))

    # -- backward -----------------------------------------------------------------
    def backward(self, Z: Array) -> Sweep:
        """HJB sweep for the aggregate path ``Z`` (shape ``(n_t + 1, k)``), policy iteration per step."""
        g = self.game
        tg, x = self.tg, self.x
        value, policy, sub, diag, sup, source = self._alloc()
        howard = np.zeros(tg.n_steps, dtype=np.int64)
        v1 = self.terminal(Z)
        value[-1] = v1
        alpha: Array | None = None
        for n in range(tg.n_steps - 1, -1, -1):
            t0, t1, th = float(tg.times[n]), float(tg.times[n + 1]), float(tg.theta[n])
            dt, tm = t1 - t0, 0.5 * (t0 + t1)
            s = self.stats(0.5 * (Z[n] + Z[n + 1]))
            # start from the previous step's policy and a linear extrapolation of the values
            v0 = v1 if n == tg.n_steps - 1 else v1 + (v1 - value[n + 2]) * dt / float(tg.times[n + 2] - t1)
            alpha = g.best_control(tm, x, self.gradient(th * v0 + (1.0 - th) * v1), s, start=alpha)
            prev_change = least = math.inf
            for k in range(1, self.howard_max_iter + 1):
                bands = self._bands(tm, s, alpha)
                f = g.cost(tm, x, alpha, s)
                v_new = self._step(bands, v1, f, dt, th)
                change = float(np.max(np.abs(v_new - v0)))
                least = min(least, change)
                if not change <= DIVERGED * max(least, 1e-8 * max(1.0, float(np.max(np.abs(v1))))):
                    # the improvement step (centred gradient) is not Howard's exact one: for a stiff step
                    # it can run away; stop before the controls overflow the user's cost
                    raise ConvergenceError(
                        f"Policy iteration diverged at t={t0:g} (iteration {k}: change {change:.3g}, "
                        f"{DIVERGED:g} times its smallest {least:.3g}); use more time steps.",
                        {"step": n, "time": t0, "change": change, "iteration": k})
                v0 = v_new
                # the iteration contracts (rate r measured from the last two changes): stop when the
                # remaining error r/(1-r) * change is below the tolerance
                r = change / prev_change if prev_change > 0 else 0.0
                remaining = change * r / (1.0 - r) if r < 0.5 else change
                prev_change = change
                if k > 1 and remaining <= self.howard_tol * max(1.0, float(np.max(np.abs(v0)))):
                    break
                if not g.controlled:
                    break
                alpha_new = g.best_control(tm, x, self.gradient(th * v0 + (1.0 - th) * v1), s, start=alpha)
                if k > 1 and np.array_equal(alpha_new, alpha):
                    break
                alpha = alpha_new
            else:
                raise ConvergenceError(
                    f"Policy iteration did not converge in {self.howard_max_iter} iterations at t={t0:g} "
                    f"(last change {change:.3g}).", {"step": n, "time": t0, "change": change})
            howard[n] = k
            value[n], policy[n], source[n] = v0, alpha, f
            sub[n], diag[n], sup[n] = bands
            v1 = v0
        return Sweep(value, policy, sub, diag, sup, source, howard)

    def evaluate(self, Z: Array, policy: Array) -> Sweep:
        """The cost of playing the frozen step ``policy`` against the aggregate path ``Z`` (linear sweep)."""
        g, tg, x = self.game, self.tg, self.x
        value, _, sub, diag, sup, source = self._alloc()
        v1 = self.terminal(Z)
        value[-1] = v1
        for n in range(tg.n_steps - 1, -1, -1):
            t0, t1, th = float(tg.times[n]), float(tg.times[n + 1]), float(tg.theta[n])
            tm, s = 0.5 * (t0 + t1), self.stats(0.5 * (Z[n] + Z[n + 1]))
            bands = self._bands(tm, s, policy[n])
            f = g.cost(tm, x, policy[n], s)
            v1 = value[n] = self._step(bands, v1, f, t1 - t0, th)
            sub[n], diag[n], sup[n] = bands
            source[n] = f
        return Sweep(value, policy.copy(), sub, diag, sup, source, np.ones(tg.n_steps, dtype=np.int64))

    # -- forward ------------------------------------------------------------------
    def _lhs_transpose_solve(self, sw: Sweep, n: int, p: Array, *, discounted: bool) -> Array:
        dt, th = float(self.tg.times[n + 1] - self.tg.times[n]), float(self.tg.theta[n])
        d = sw.diag[n] - (self.game.discount if discounted else 0.0)
        a = th * dt
        return linalg.factor(-a * sw.sub[n][1:], 1.0 - a * d, -a * sw.sup[n][:-1]).solve(p, transpose=True)

    def _rhs_transpose(self, sw: Sweep, n: int, y: Array, *, discounted: bool) -> Array:
        dt, th = float(self.tg.times[n + 1] - self.tg.times[n]), float(self.tg.theta[n])
        d = sw.diag[n] - (self.game.discount if discounted else 0.0)
        b = (1.0 - th) * dt
        out = y + b * d * y
        out[:-1] += b * sw.sub[n][1:] * y[1:]
        out[1:] += b * sw.sup[n][:-1] * y[:-1]
        return out

    def forward(self, sw: Sweep, p0: Array) -> Array:
        """Node masses at every time: the exact transpose of the sweep's linear steps (no discounting)."""
        masses = np.empty((self.tg.n_steps + 1, p0.size))
        masses[0] = p = p0
        for n in range(self.tg.n_steps):
            p = self._rhs_transpose(sw, n, self._lhs_transpose_solve(sw, n, p, discounted=False), discounted=False)
            masses[n + 1] = p
        return masses

    def duality_gap(self, sw: Sweep, p0: Array) -> float:
        r"""Relative gap of :math:`q_0^\top V_0 = q_N^\top g + \sum_n \Delta t (L_n^{-\top} q_n)^\top f_n`.

        :math:`q` is moved by the transposed *discounted* step (for :math:`\rho = 0` the
        population's own masses), so the identity holds to rounding for any data.
        """
        q = p0
        total = 0.0
        for n in range(self.tg.n_steps):
            dt = float(self.tg.times[n + 1] - self.tg.times[n])
            y = self._lhs_transpose_solve(sw, n, q, discounted=True)
            total += dt * float(y @ sw.source[n])
            q = self._rhs_transpose(sw, n, y, discounted=True)
        total += float(q @ sw.value[-1])
        lhs = float(p0 @ sw.value[0])
        return abs(lhs - total) / max(1.0, abs(lhs))

    def aggregates(self, masses: Array) -> Array:
        return np.array([self.game.aggregates(self.x, m) for m in masses])
