"""The equilibrium of a control game and the particle simulation of its feedback."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from gelav._random import SeedLike, as_generator
from gelav._validation import check_int
from gelav.grid import Grid
from gelav.mfg.control.game import ControlGame, mean_statistic

__all__ = ["ControlEquilibrium", "ControlSimulation"]

Array = NDArray[np.float64]


def _interp_tx(times: Array, nodes: Array, table: Array, t: float, x: ArrayLike) -> Array:
    """Linear in time between the saved times, linear in space (constant beyond the grid)."""
    xs = np.asarray(x, dtype=float)
    t = float(np.clip(t, times[0], times[-1]))
    j = int(np.clip(np.searchsorted(times, t, side="right") - 1, 0, times.size - 2))
    w = (t - times[j]) / (times[j + 1] - times[j])
    row = (1.0 - w) * table[j] + w * table[j + 1]
    return np.interp(xs, nodes, row)


@dataclass(frozen=True, eq=False)
class ControlSimulation:
    """Particles driven by the equilibrium feedback (:meth:`ControlEquilibrium.simulate`).

    Attributes
    ----------
    times : ndarray (n_steps + 1,)
    means : ndarray (replications, n_steps + 1)
        Empirical mean of each replication's particles.
    costs : ndarray (replications, n_particles)
        Realised discounted cost of every particle.
    final : ndarray (replications, n_particles)
        :math:`X_T`.
    coupled : bool
        True: the aggregates are the particles' own (the N-player game); False:
        the equilibrium path (independent agents).
    """

    times: Array
    means: Array
    costs: Array
    final: Array
    coupled: bool

    @property
    def mean_cost(self) -> float:
        """Average realised cost over all particles."""
        return float(self.costs.mean())

    @property
    def standard_error(self) -> float:
        """Standard error of :attr:`mean_cost` (from the replication means when there are several)."""
        if self.costs.shape[0] > 1:
            m = self.costs.mean(axis=1)
            return float(m.std(ddof=1) / math.sqrt(m.size))
        c = self.costs.ravel()
        return float(c.std(ddof=1) / math.sqrt(c.size))


@dataclass(frozen=True, eq=False)
class ControlEquilibrium:
    r"""Equilibrium of a :class:`ControlGame` (from :func:`solve_control`). Costs are minimised.

    Attributes
    ----------
    game : ControlGame
    grid : Grid
    times : ndarray (n_t + 1,)
    value : ndarray (n_t + 1, N)
        Cost-to-go :math:`V(t_n, x_i)`.
    control : ndarray (n_t + 1, N)
        Feedback :math:`\alpha^*(t_n, x_i)`, the minimiser of the Hamiltonian at :math:`\partial_x V(t_n)`.
    policy : ndarray (n_t, N)
        The control each time step used (at the step's θ-time).
    masses : ndarray (n_t + 1, N)
        Node masses of the population.
    statistics : ndarray (n_t + 1, k)
        The aggregates :math:`s_n` at every time.
    history : list of dict
        Per fixed-point iteration: ``residual`` :math:`\|\Phi(Z) - Z\|_\infty`,
        ``exploitability`` (the population's average gain from the best response
        over the previous iteration's policy, against the current aggregates), seconds.
    method : str
    diagnostics : dict
        ``mass_balance_error``, ``duality_error`` (relative), ``howard_iterations``
        (max and mean per step), ``boundary_mass``, grid sizes and time.
    """

    game: ControlGame
    grid: Grid
    times: Array
    value: Array
    control: Array
    policy: Array
    masses: Array
    statistics: Array
    history: list[dict[str, Any]]
    method: str
    diagnostics: dict[str, Any] = field(default_factory=dict)

    # -- summary numbers ------------------------------------------------------
    @property
    def iterations(self) -> int:
        """Fixed-point evaluations :math:`\\Phi(Z)`."""
        return len(self.history)

    @property
    def residual(self) -> float:
        return float(self.history[-1]["residual"])

    @property
    def exploitability(self) -> float:
        return float(self.history[-1]["exploitability"])

    @property
    def converged(self) -> bool:
        return bool(self.diagnostics.get("converged", True))

    @property
    def nodes(self) -> Array:
        return self.grid.nodes

    @property
    def mean(self) -> Array:
        """Population mean :math:`E[X_{t_n}]` at every time."""
        return self.masses @ self.grid.nodes / self.masses.sum(axis=1)

    @property
    def densities(self) -> Array:
        """Density :math:`\\rho(t_n, x_i)` (node masses over control volumes)."""
        return self.masses / self.grid.volumes

    @property
    def population_cost(self) -> float:
        r""":math:`\int V(0, x)\,\mu_0(dx)`: the expected cost of an agent drawn from the start law."""
        p0 = self.masses[0]
        return float(p0 @ self.value[0] / p0.sum())

    def value_at(self, x: ArrayLike, t: float = 0.0) -> Array:
        """:math:`V(t, x)` (linear interpolation in time and space)."""
        return _interp_tx(self.times, self.grid.nodes, self.value, t, x)

    def feedback(self, t: float, x: ArrayLike) -> Array:
        r""":math:`\alpha^*(t, x)` (linear interpolation in time and space)."""
        return _interp_tx(self.times, self.grid.nodes, self.control, t, x)

    def stats_at(self, t: float) -> Array:
        """The aggregates at time ``t`` (linear interpolation)."""
        return np.array([np.interp(t, self.times, self.statistics[:, j]) for j in range(self.statistics.shape[1])])

    def summary(self) -> dict[str, Any]:
        return {"game": self.game.name, "population_cost": self.population_cost,
                "mean_start": float(self.mean[0]), "mean_end": float(self.mean[-1]),
                "iterations": self.iterations, "residual": self.residual, "exploitability": self.exploitability,
                "method": self.method, **{k: v for k, v in self.diagnostics.items() if k != "converged"}}

    # -- particles -------------------------------------------------------------
    def simulate(self, n_particles: int, *, replications: int = 1, seed: SeedLike = None,
                 n_steps: int | None = None, coupled: bool = True) -> ControlSimulation:
        r"""Euler–Maruyama simulation of agents playing the feedback :math:`\alpha^*(t, x)`.

        .. math:: X^i_{k+1} = X^i_k + [b(t_k, X^i_k, s_k) + \alpha^*(t_k, X^i_k)]\Delta t + \sigma\sqrt{\Delta t}\,\xi^i_k,

        with the running cost summed by the left-point rule (weak error
        :math:`O(\Delta t)`). ``coupled=True``: :math:`s_k` are the particles'
        own aggregates (the N-player game with the mean-field feedback);
        ``False``: the equilibrium aggregates (independent agents, whose mean
        cost estimates :attr:`population_cost`).

        Parameters
        ----------
        n_particles : int
            Particles per replication, >= 2.
        replications : int
            Independent systems (default 1).
        seed : int, SeedSequence, Generator or None
        n_steps : int, optional
            Euler steps (default four times the solver's).
        coupled : bool
        """
        n = check_int("n_particles", n_particles, minimum=2)
        reps = check_int("replications", replications, minimum=1)
        m = check_int("n_steps", n_steps, minimum=1) if n_steps is not None else 4 * (self.times.size - 1)
        if not isinstance(coupled, (bool, np.bool_)):
            raise TypeError(f"`coupled` must be a bool, got {type(coupled).__name__}.")
        rng = as_generator(seed)
        g = self.game
        T0, T = float(self.times[0]), float(self.times[-1])
        dt = (T - T0) / m
        X = self._sample_initial((reps, n), rng)
        scalar = self.statistics.shape[1] == 1

        def stats_now(t: float, X: Array) -> Any:
            if not coupled:
                s = self.stats_at(t)
                return float(s[0]) if scalar else s
            if scalar and g.statistic is mean_statistic:
                return X.mean(axis=1, keepdims=True)
            rows = [g.aggregates(xr, np.full(n, 1.0 / n)) for xr in X]
            if scalar:
                return np.array([r[0] for r in rows])[:, None]
            if reps > 1:
                raise ValueError("`replications` > 1 needs a scalar `statistic` for coupled simulations.")
            return rows[0]

        costs = np.zeros((reps, n))
        means = np.empty((reps, m + 1))
        means[:, 0] = X.mean(axis=1)
        sq = math.sqrt(dt)
        for k in range(m):
            t = T0 + k * dt
            s = stats_now(t, X)
            a = self.feedback(t, X)
            disc = math.exp(-g.discount * (t - T0))
            costs += disc * dt * np.broadcast_to(np.asarray(g.running_cost(t, X, a, s), dtype=float), X.shape)
            b = g.drift(t, X, s)
            sig = g.volatility(t, X)
            X = X + (b + a) * dt + sig * sq * rng.standard_normal(X.shape)
            means[:, k + 1] = X.mean(axis=1)
        s = stats_now(T, X)
        costs += math.exp(-g.discount * (T - T0)) * np.broadcast_to(
            np.asarray(g.terminal_cost(X, s), dtype=float), X.shape)
        if not np.all(np.isfinite(costs)):
            raise FloatingPointError("The simulated costs are not finite.")
        return ControlSimulation(times=np.linspace(T0, T, m + 1), means=means, costs=costs, final=X,
                                 coupled=bool(coupled))

    def _sample_initial(self, shape: tuple[int, int], rng: np.random.Generator) -> Array:
        init = self.game.initial
        if isinstance(init, (int, float, np.integer, np.floating)):
            return np.full(shape, float(init))
        if hasattr(init, "rvs") and hasattr(init, "cdf"):
            return np.asarray(init.rvs(size=shape, random_state=rng), dtype=float)
        # a density: draw a control volume by its mass, then uniformly inside it
        p0 = self.masses[0] / self.masses[0].sum()
        idx = rng.choice(p0.size, size=shape, p=p0)
        f = self.grid.faces
        return f[idx] + (f[idx + 1] - f[idx]) * rng.random(shape)

    # -- figures ------------------------------------------------------------------
    def plot(self, kind: str = "overview", *, ax: Any = None) -> Any:
        """Figures: ``"overview"`` (value, feedback, density and mean path), ``"value"``,
        ``"control"``, ``"density"``, ``"convergence"``. Returns the Matplotlib Figure."""
        kinds = ("overview", "value", "control", "density", "convergence")
        if kind not in kinds:
            raise ValueError(f"Unknown `kind` {kind!r}; use one of " + ", ".join(map(repr, kinds)) + ".")
        from gelav.plot import new_axes

        if kind == "overview":
            import matplotlib.pyplot as plt

            from gelav.plot import STYLE

            with plt.rc_context(STYLE):  # type: ignore[arg-type]
                fig, axes = plt.subplots(2, 2, figsize=(10, 7))
            for a, k in zip(axes.ravel(), kinds[1:], strict=True):
                self.plot(k, ax=a)
            fig.suptitle(f"{self.game.name}: equilibrium")
            fig.tight_layout()
            return fig
        fig, ax = new_axes(ax)
        x = self.grid.nodes
        idx = sorted({0, (self.times.size - 1) // 2, self.times.size - 1})
        if kind in ("value", "control"):
            table = self.value if kind == "value" else self.control
            for j in idx:
                ax.plot(x, table[j], label=f"t = {self.times[j]:.2f}")
            ax.set_xlabel("state x")
            ax.set_ylabel("cost-to-go V(t, x)" if kind == "value" else "feedback α*(t, x) [per year]")
            ax.set_title("Value (a cost)" if kind == "value" else "Equilibrium feedback control")
            ax.legend()
        elif kind == "density":
            for j in idx:
                ax.plot(x, self.densities[j], label=f"t = {self.times[j]:.2f}")
            ax.set_xlabel("state x")
            ax.set_ylabel("density")
            ax.set_title(f"Population (mean {self.mean[0]:.3f} → {self.mean[-1]:.3f})")
            ax.legend()
        else:
            it = [h["iteration"] for h in self.history]
            ax.semilogy(it, [max(h["residual"], 1e-300) for h in self.history], "o-", label="residual")
            ex = [(h["iteration"], abs(h["exploitability"])) for h in self.history
                  if math.isfinite(h["exploitability"]) and h["exploitability"] != 0]
            if ex:
                ax.semilogy(*zip(*ex, strict=True), "s--", label="|exploitability|")
            ax.set_xlabel("fixed-point iteration")
            ax.set_ylabel("size")
            ax.set_title(f"Convergence ({self.method})")
            ax.legend()
        return fig
