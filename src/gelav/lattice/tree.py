"""The Hull–White trinomial tree for Gaussian (and log-Gaussian) diffusions.

Part of :mod:`gelav.lattice` (see the package docstring for the methods).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike, NDArray

from gelav._validation import MAX_CELLS, check_finite, check_horizon, check_int
from gelav.lattice.counting import lattice_cdf
from gelav.processes.protocol import params_of

if TYPE_CHECKING:
    from gelav.processes.protocol import ProcessLike

# =============================================================================
# Hull–White trinomial trees
# =============================================================================
#: process class name -> how the tree treats it (state transform)
TREE_KINDS: dict[str, str] = {
    "OrnsteinUhlenbeck": "identity",
    "BrownianMotion": "identity",
    "GeometricBrownianMotion": "log",
}


def tree_family(process: ProcessLike) -> str | None:
    """The :data:`TREE_KINDS` key of ``process``'s class or of its nearest registered base class."""
    for cls in type(process).__mro__:
        if cls.__name__ in TREE_KINDS:
            return cls.__name__
    return None


@dataclass(frozen=True, eq=False)
class TreeValue:
    """Result of backward induction on a lattice.

    Attributes
    ----------
    value : float
        Value at the root (time 0, state ``x0``).
    n_steps : int
    exercise_boundary : ndarray or None
        Per level, the largest (put-like) or smallest state where exercising is optimal (NaN if none).
    elapsed : float
    """

    value: float
    n_steps: int
    exercise_boundary: NDArray[np.float64] | None = None
    elapsed: float = 0.0

    def __float__(self) -> float:
        return self.value


class TrinomialTree:
    r"""Hull–White trinomial tree for a Gaussian (or log-Gaussian) diffusion.

    The state :math:`Y = X` (OU, Brownian motion) or :math:`Y = \ln X` (GBM)
    is written :math:`Y_t = m(t) + x_t` with :math:`m(t) = E[Y_t \mid Y_0]`
    exact, so :math:`x` is an OU process with zero mean (rate :math:`\kappa`,
    0 for Brownian motion) started at 0. The tree for :math:`x` has nodes
    :math:`j\,\delta x` and in one step :math:`\Delta t`

    .. math::

        E[\Delta x] = M x, \quad M = e^{-\kappa\Delta t} - 1, \qquad
        \operatorname{Var}[\Delta x] = V = \frac{\sigma^2}{2\kappa}(1 - e^{-2\kappa\Delta t}),
        \qquad \delta x = \sqrt{3V}.

    From node :math:`j` the tree branches to :math:`k+1, k, k-1` with
    :math:`k = j` (standard), :math:`k = j - 1` at :math:`j = j_{\max}` and
    :math:`k = j + 1` at :math:`j = -j_{\max}` (switched branching),
    :math:`j_{\max} = \lceil 0.184/|M| \rceil` (Hull and White 1994; with the
    exact :math:`|M| = 1 - e^{-\kappa\Delta t}` this is their
    :math:`\lceil 0.184/(\kappa\Delta t) \rceil` to first order, and it keeps
    :math:`p_m \ge 0` at the switched nodes for every :math:`\Delta t`). With
    :math:`\eta = j + jM - k` and :math:`v = V/\delta x^2 = 1/3`, the
    probabilities that match the two moments are

    .. math::

        p_u = \tfrac12(v + \eta^2 + \eta),\quad p_m = 1 - v - \eta^2,\quad
        p_d = \tfrac12(v + \eta^2 - \eta),

    i.e. :math:`p_u = \tfrac16 + \tfrac12(j^2M^2 + jM)`, :math:`p_m = \tfrac23 - j^2M^2`, ...
    at standard nodes. Node values are :math:`m(t_i) + j\,\delta x` (OU,
    Brownian motion) or :math:`\exp` of it (GBM).

    Parameters
    ----------
    process : OrnsteinUhlenbeck, BrownianMotion or GeometricBrownianMotion
    x0 : float
        Starting state (the root node).
    horizon : float
        Length of the tree in years, > 0.
    n_steps : int
        Number of time steps (>= 1).
    j_max : int, optional
        Override the switching level (must keep the probabilities >= 0).

    Raises
    ------
    TypeError
        If ``process`` is not one of :data:`TREE_KINDS` (use :class:`GeneratorLattice`).
    ValueError
        On a bad ``x0``, ``horizon``, ``n_steps`` or a ``j_max`` giving negative probabilities.

    Examples
    --------
    >>> from gelav.processes import OrnsteinUhlenbeck
    >>> tree = TrinomialTree(OrnsteinUhlenbeck(0.45, 1.0, 0.32), -0.5, 2.0, 200)
    >>> tree.j_max, round(float(tree.probabilities[0].min()), 3) >= 0
    (41, True)
    """

    def __init__(self, process: ProcessLike, x0: float, horizon: float, n_steps: int, *, j_max: int | None = None) -> None:
        family = tree_family(process)
        kind = TREE_KINDS.get(family) if family is not None else None
        if kind is None:
            raise TypeError(
                f"TrinomialTree needs a Gaussian process; got {type(process).__name__}. Registered kinds are "
                + ", ".join(TREE_KINDS) + ". Use GeneratorLattice for any other process."
            )
        self.process = process
        self._params = params_of(process)  # the family's parameters: mu, sigma (BM, GBM); kappa, mean, sigma (OU)
        self.kind = kind
        self.family = family
        self.x0 = check_finite("x0", x0)
        if kind == "log" and self.x0 <= 0:
            raise ValueError(f"`x0` must be > 0 for {type(process).__name__}, got {self.x0}.")
        self.horizon = check_horizon("horizon", horizon)
        self.n_steps = check_int("n_steps", n_steps, minimum=1, maximum=MAX_CELLS)
        dt = self.horizon / self.n_steps
        self.dt = dt
        sigma = float(self._params["sigma"])
        kappa = float(self._params["kappa"]) if family == "OrnsteinUhlenbeck" else 0.0
        self.kappa = kappa
        if kappa > 0:
            self.M = math.expm1(-kappa * dt)
            self.V = sigma**2 / (2 * kappa) * -math.expm1(-2 * kappa * dt)
        else:
            self.M = 0.0
            self.V = sigma**2 * dt
        self.dx = math.sqrt(3.0 * self.V)
        if j_max is None:
            # a reversion so slow that 0.184/|M| passes the step count needs no truncation: the tree never
            # reaches j_max (κ = 1e-308 overflowed the ceiling)
            jm = math.ceil(0.184 / -self.M) if -self.M * self.n_steps > 0.184 else self.n_steps + 1
        else:
            jm = check_int("j_max", j_max, minimum=1)
        self.j_max = int(min(jm, self.n_steps)) if (j_max is None and self.M == 0) else int(jm)
        self.J = int(min(self.j_max, self.n_steps))
        J = self.J
        j = np.arange(-J, J + 1)
        k = j.copy()
        if self.M < 0 and J == self.j_max:
            k[-1] = J - 1
            k[0] = -J + 1
        eta = j + j * self.M - k
        v = self.V / self.dx**2
        pu = 0.5 * (v + eta**2 + eta)
        pm = 1.0 - v - eta**2
        pd = 0.5 * (v + eta**2 - eta)
        P = np.vstack((pd, pm, pu))
        if np.any(P < -1e-14):
            bad = int(np.argmin(P.min(axis=0)))
            raise ValueError(
                f"`j_max` = {self.j_max} gives negative branching probabilities at node j = {bad - J} "
                f"(min {P.min():.3g}); use j_max between 0.184/|M| and 0.816/|M| (|M| = {-self.M:.4g})."
            )
        P = np.maximum(P, 0.0)
        self._k = k
        self._P = P  # rows: down, middle, up
        # child columns, clipped: only unreachable edge nodes of an unbounded tree are affected
        self._child = np.clip(np.vstack((k - 1, k, k + 1)) + J, 0, 2 * J)
        self._times = np.linspace(0.0, self.horizon, self.n_steps + 1)

    # -- geometry -----------------------------------------------------------
    @property
    def probabilities(self) -> NDArray[np.float64]:
        """Branching probabilities, shape (3, 2J+1): rows down, middle, up; column j + J."""
        return self._P

    @property
    def branch_centres(self) -> NDArray[np.int_]:
        """Middle child :math:`k(j)` of every node (``j`` at standard nodes, ``j ∓ 1`` at ``±j_max``)."""
        return self._k

    @property
    def times(self) -> NDArray[np.float64]:
        return self._times

    def mean_path(self, t: float) -> float:
        """:math:`m(t) = E[Y_t]` of the tree's state :math:`Y` (``X`` or ``ln X``), the centre of the nodes."""
        return self._mean_path(t)

    def _mean_path(self, t: float) -> float:
        p = self._params
        if self.kind == "log":
            return math.log(self.x0) + (p["mu"] - 0.5 * p["sigma"]**2) * t
        if self.family == "OrnsteinUhlenbeck":
            return p["mean"] + (self.x0 - p["mean"]) * math.exp(-p["kappa"] * t)
        return self.x0 + p["mu"] * t

    def offsets(self, i: int) -> NDArray[np.float64]:
        """Transformed node positions :math:`m(t_i) + j\\,\\delta x` at level ``i`` (all 2J+1 columns)."""
        return np.asarray(self._mean_path(float(self._times[i])) + self.dx * np.arange(-self.J, self.J + 1), dtype=float)

    def states(self, i: int) -> NDArray[np.float64]:
        """Node states at level ``i`` (all 2J+1 columns; columns beyond ``min(i, J)`` are unreachable)."""
        y = self.offsets(i)
        return np.exp(y) if self.kind == "log" else y

    @property
    def half_width(self) -> float:
        """Half-width :math:`J\\,\\delta x` of the tree around the mean path (transformed coordinate)."""
        return self.J * self.dx

    @property
    def terminal_std(self) -> float:
        """Exact standard deviation of the (transformed) state at the horizon."""
        T = self.horizon
        if self.kappa > 0:
            return math.sqrt(self._params["sigma"]**2 / (2 * self.kappa) * -math.expm1(-2 * self.kappa * T))
        return float(self._params["sigma"]) * math.sqrt(T)

    def covers(self, level: float, *, n_std: float = 2.0) -> bool:
        """Whether ``level`` (transformed coordinate) lies at least ``n_std`` terminal
        standard deviations inside the truncated tree, where truncation does not bias
        the mass below or above it."""
        if self.J >= self.n_steps:  # never truncated
            return True
        gap = abs(level - self._mean_path(self.horizon))
        return gap + n_std * self.terminal_std <= self.half_width

    def moment_errors(self) -> dict[str, float]:
        r"""Largest deviation of the tree's one-step conditional moments from the exact ones.

        Checks :math:`\sum p = 1`, :math:`E[\Delta x] = Mx` and
        :math:`E[(\Delta x - Mx)^2] = V` at every node (all should be ~1e-16).
        """
        J = self.J
        j = np.arange(-J, J + 1)
        ch = np.vstack((self._k - 1, self._k, self._k + 1)) * self.dx
        x = j * self.dx
        mean = (self._P * ch).sum(axis=0)
        var = (self._P * (ch - (x + self.M * x)) ** 2).sum(axis=0)
        return {
            "sum": float(np.max(np.abs(self._P.sum(axis=0) - 1.0))),
            "mean": float(np.max(np.abs(mean - (x + self.M * x)))) / self.dx,
            "variance": float(np.max(np.abs(var - self.V))) / self.V,
            "min_probability": float(self._P.min()),
        }

    # -- induction ---------------------------------------------------------
    def _step_forward(self, q: NDArray[np.float64]) -> NDArray[np.float64]:
        n = q.size
        out = np.zeros(n)
        for r in range(3):
            # children outside the array only come from unreachable (zero-mass) edge nodes
            out += np.bincount(self._child[r], weights=q * self._P[r], minlength=n)
        return out

    def _discount_factors(self, discount: float | Callable[..., ArrayLike] | None, i: int) -> NDArray[np.float64] | float:
        if discount is None:
            return 1.0
        if callable(discount):
            r = np.asarray(discount(self._times[i], self.states(i)), dtype=float)
            return np.exp(-r * self.dt)
        return math.exp(-check_finite("discount", discount) * self.dt)

    def forward(self, *, discount: float | Callable[..., ArrayLike] | None = None, keep: bool = False
                ) -> NDArray[np.float64]:
        r"""Forward induction: state probabilities (or Arrow–Debreu prices) level by level.

        .. math:: Q_{i+1}(k) = \sum_j Q_i(j)\, p_{j\to k}\, e^{-r(t_i, x_{ij})\Delta t},
            \qquad Q_0 = \delta_{\text{root}}.

        Without ``discount`` the :math:`Q_i` are the probabilities of the nodes.

        Parameters
        ----------
        discount : float or callable ``(t, x) -> r``, optional
            Short rate per year for Arrow–Debreu prices.
        keep : bool
            Return every level, shape (n_steps + 1, 2J + 1); else only the last, shape (2J + 1,).
        """
        q = np.zeros(2 * self.J + 1)
        q[self.J] = 1.0
        levels = [q] if keep else None
        for i in range(self.n_steps):
            q = self._step_forward(q * self._discount_factors(discount, i))
            if keep:
                levels.append(q)  # type: ignore[union-attr]
        return np.array(levels) if keep else q

    def backward(
        self,
        payoff: Callable[[NDArray[np.float64]], ArrayLike],
        *,
        discount: float | Callable[..., ArrayLike] | None = None,
        exercise: Callable[[float, NDArray[np.float64]], ArrayLike] | bool | None = None,
    ) -> TreeValue:
        r"""Backward induction of a terminal payoff, with optional early exercise.

        .. math:: u_i(j) = \max\Big(e^{-r\Delta t}\sum_{c} p_{j\to c}\,u_{i+1}(c),\ g(t_i, x_{ij})\Big),
            \qquad u_N = \text{payoff}(x_N).

        Parameters
        ----------
        payoff : callable ``x -> value``
            Terminal payoff at the leaves (vectorised).
        discount : float or callable ``(t, x) -> r``, optional
            Discount (short) rate per year.
        exercise : callable ``(t, x) -> value`` or True, optional
            Exercise value at every node (``True``: the payoff itself, an
            American option). Omitted: European.
        """
        t0 = time.perf_counter()
        u = np.asarray(payoff(self.states(self.n_steps)), dtype=float) * np.ones(2 * self.J + 1)
        if not np.all(np.isfinite(u)):
            raise ValueError("`payoff` returned non-finite values on the tree.")
        ex = None
        if exercise is True:
            ex = lambda t, x: payoff(x)  # noqa: E731
        elif callable(exercise):
            ex = exercise
        elif exercise not in (None, False):
            raise TypeError("`exercise` must be a callable (t, x) -> value, True or None.")
        cd, cm, cu = self._child
        boundary = np.full(self.n_steps + 1, np.nan) if ex is not None else None
        for i in range(self.n_steps - 1, -1, -1):
            cont = self._P[0] * u[cd] + self._P[1] * u[cm] + self._P[2] * u[cu]
            cont = cont * self._discount_factors(discount, i)
            if ex is not None:
                xs = self.states(i)
                g = np.asarray(ex(self._times[i], xs), dtype=float) * np.ones_like(cont)
                exer = g > cont
                w = min(i, self.J)
                reach = slice(self.J - w, self.J + w + 1)
                if np.any(exer[reach]):
                    boundary[i] = float(xs[reach][exer[reach]].max())  # type: ignore[index]
                cont = np.maximum(cont, g)
            u = cont
        return TreeValue(float(u[self.J]), self.n_steps, boundary, time.perf_counter() - t0)

    def law(self) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """``(states, probabilities)`` at the horizon (reachable nodes only)."""
        q = self.forward()
        return self.states(self.n_steps), q

    def prob(self, *, below: float | None = None, above: float | None = None) -> float:
        r""":math:`P(X_T < \text{below})` or :math:`P(X_T > \text{above})` with smooth counting.

        Counting is done in the tree's own (possibly log) coordinate, where
        the nodes are uniform, by :func:`lattice_cdf`; the upper tail is counted
        from the upper masses (mirrored), so a tiny :math:`P(X_T > c)` keeps its
        relative accuracy instead of rounding to multiples of ulp(1).
        """
        if (below is None) == (above is None):
            raise ValueError("Give exactly one of `below` and `above`.")
        c = check_finite("below" if below is not None else "above", below if below is not None else above)
        q = self.forward()
        y = self.offsets(self.n_steps)
        if self.kind == "log":
            if c <= 0:
                return 0.0 if below is not None else 1.0
            c = math.log(c)
        # beyond 8.5 sd the exact tail is < 1e-17 and the truncated tree's is no larger: no bias to report
        if not self.covers(c) and abs(c - self._mean_path(self.horizon)) < 8.5 * self.terminal_std:
            import warnings

            from gelav.errors import AccuracyWarning

            warnings.warn(
                f"The threshold lies {abs(c - self._mean_path(self.horizon)) / self.terminal_std:.2f} standard "
                f"deviations from the mean but the tree truncated at j_max = {self.j_max} spans only "
                f"{self.half_width / self.terminal_std:.2f}; the probability is biased. Use more steps "
                "(the width grows like sqrt(n_steps)).",
                AccuracyWarning,
                stacklevel=2,
            )
        if below is not None:
            return float(lattice_cdf(y, q, c))
        # the upper tail from the upper masses (mirrored counting), not as 1 - F: that rounds to
        # multiples of ulp(1) ~ 1e-16 (5.55e-16 printed for 1.9e-16)
        return float(lattice_cdf(-y[::-1], q[::-1], -c))

    def __repr__(self) -> str:
        return (f"TrinomialTree({type(self.process).__name__}, x0={self.x0:g}, horizon={self.horizon:g}, "
                f"n_steps={self.n_steps}, j_max={self.j_max}, dx={self.dx:.4g})")
