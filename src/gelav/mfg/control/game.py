r"""A mean-field game with a continuous control (costs are minimised).

Each agent controls its drift,

.. math::

    dX_t = \big[b(t, X_t, s_t) + \alpha_t\big]\,dt + \sigma(t, X_t)\,dW_t,
    \qquad \alpha_t \in A = [\alpha_{\min}, \alpha_{\max}] \ (\text{or } \mathbb R),

and minimises the expected discounted cost

.. math::

    J(\alpha; s) = E\Big[\int_0^T e^{-\rho t} f(t, X_t, \alpha_t, s_t)\,dt
                   + e^{-\rho T} g(X_T, s_T)\Big],

where :math:`s_t = \Phi(\mu_t)` are the population's aggregates (the mean by
default, or any user functional of the law). The value :math:`V(t, x)` is a
cost-to-go and solves the HJB equation

.. math::

    -\partial_t V + \rho V = \min_{\alpha\in A}\big[(b + \alpha)\,\partial_x V + f(t, x, \alpha, s_t)\big]
    + \tfrac12\sigma^2\partial_x^2 V, \qquad V(T, x) = g(x, s_T);

an equilibrium is an aggregate path :math:`s` reproduced by the law of the
agents that play the minimiser :math:`\alpha^*(t, x)`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from gelav._validation import (
    MAX_HORIZON,
    check_callable,
    check_finite,
    check_nonnegative,
    check_positive,
)
from gelav.errors import ConvergenceError

__all__ = ["ControlGame", "mean_statistic"]

Array = NDArray[np.float64]


def mean_statistic(x: Array, p: Array) -> float:
    r""":math:`\Phi(\mu) = \int x\,\mu(dx)` of the discrete law with atoms ``x`` and weights ``p`` (sum 1)."""
    return float(np.dot(x, p))


def _number(name: str, value: Any) -> float:
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"`{name}` must be a real number, got a bool.")
    return check_finite(name, value)


class ControlGame:
    r"""A mean-field game in which each agent steers its drift at a cost.

    .. math::

        dX = [b(t, X, s) + \alpha]\,dt + \sigma(t, X)\,dW, \qquad
        \min_\alpha E\Big[\int_0^T e^{-\rho t} f(t, X, \alpha, s)\,dt + e^{-\rho T} g(X_T, s_T)\Big].

    Parameters
    ----------
    running_cost : callable ``(t, x, alpha, stats) -> array``
        :math:`f`, vectorised in ``x`` and ``alpha`` (same shape); convex in ``alpha``.
    terminal_cost : callable ``(x, stats) -> array``
        :math:`g`.
    horizon : float
        :math:`T` [years], in :math:`(0, 10^6]`.
    initial : float or frozen SciPy distribution or callable density
        The law of :math:`X_0` (a number is a point mass). With the automatic domain a
        distribution must have a finite variance (a Cauchy law is refused: its
        :math:`10^{-10}` quantiles, which the grid spans, are of order :math:`10^{9}`).
    drift : callable ``(t, x, stats) -> array``, optional
        The uncontrolled drift :math:`b` (default 0).
    volatility : float or callable ``(t, x) -> array``
        :math:`\sigma` (per square-root year). Default 0.32 (seed 001).
    control_set : (float, float)
        :math:`A = [\alpha_{\min}, \alpha_{\max}]`, :math:`\alpha_{\min} \le \alpha_{\max}`;
        infinite ends allowed (default :math:`\mathbb R`), but not both on the same side.
        ``(0, 0)`` is the uncontrolled (McKean–Vlasov) dynamics.
    discount : float
        :math:`\rho \ge 0` per year (the population is not killed by it).
    statistic : "mean" or callable ``(x, p) -> float or array``
        :math:`\Phi`: the aggregates of a discrete law with atoms ``x`` and
        weights ``p`` summing to one. It sees the grid's node masses and the
        particles of :meth:`ControlEquilibrium.simulate` alike. ``stats``
        passed to the other functions is its value (a float or a 1-D array).
    minimizer : callable ``(t, x, p, stats) -> array``, optional
        :math:`\arg\min_{\alpha\in A}\,[\alpha p + f(t, x, \alpha, s)]` for a
        gradient :math:`p = \partial_x V` (closed form when known). Default: a
        projected Newton iteration on the convex function of :math:`\alpha`.
    domain : (float, float), optional
        State interval for the grid (reflecting ends); default automatic.
    name : str
    """

    def __init__(
        self,
        running_cost: Callable[..., ArrayLike],
        terminal_cost: Callable[..., ArrayLike],
        horizon: float,
        initial: Any,
        *,
        drift: Callable[..., ArrayLike] | None = None,
        volatility: float | Callable[[float, Array], ArrayLike] = 0.32,
        control_set: tuple[float, float] = (-math.inf, math.inf),
        discount: float = 0.0,
        statistic: str | Callable[[Array, Array], Any] = "mean",
        minimizer: Callable[..., ArrayLike] | None = None,
        domain: tuple[float, float] | None = None,
        name: str = "control game",
    ) -> None:
        self.running_cost = check_callable("running_cost", running_cost)
        self.terminal_cost = check_callable("terminal_cost", terminal_cost)
        if isinstance(horizon, (bool, np.bool_)):
            raise TypeError("`horizon` must be a real number, got a bool.")
        # capped as systemic_risk caps it: horizon=1e300 failed later with an unrelated convexity message
        self.horizon = check_positive("horizon", horizon, maximum=MAX_HORIZON)
        if isinstance(initial, (bool, np.bool_)):
            raise TypeError("`initial` must be a number, a frozen SciPy distribution or a density, got a bool.")
        if isinstance(initial, (int, float, np.integer, np.floating)):
            initial = check_finite("initial", initial)
        elif not (callable(initial) or hasattr(initial, "cdf")):
            raise TypeError(f"`initial` must be a number, a frozen SciPy distribution or a callable density, "
                            f"got {type(initial).__name__}.")
        self.initial = initial
        self._drift = None if drift is None else check_callable("drift", drift)
        if callable(volatility):
            self._sigma: float | None = None
            self._sigma_fn: Callable[[float, Array], ArrayLike] | None = volatility
        else:
            self._sigma = check_positive("volatility", _number("volatility", volatility))
            self._sigma_fn = None
        try:
            lo, hi = control_set
        except (TypeError, ValueError):
            raise ValueError(f"`control_set` must be a pair (lo, hi), got {control_set!r}.") from None
        lo, hi = float(_number_or_inf("control_set[0]", lo)), float(_number_or_inf("control_set[1]", hi))
        if not lo <= hi:
            raise ValueError(f"`control_set` must satisfy lo <= hi, got {control_set!r}.")
        if lo == hi and math.isinf(lo):  # (inf, inf) was accepted, (-inf, -inf) failed in the generator
            raise ValueError(f"`control_set` must not have both ends infinite on the same side, got "
                             f"{control_set!r}; use (0, 0) for the uncontrolled dynamics.")
        self.control_set = (lo, hi)
        self.discount = check_nonnegative("discount", _number("discount", discount))
        if isinstance(statistic, str):
            if statistic != "mean":
                raise ValueError(f"Unknown `statistic` {statistic!r}; use 'mean' or a callable (x, p) -> aggregates.")
            self.statistic: Callable[[Array, Array], Any] = mean_statistic
        else:
            self.statistic = check_callable("statistic", statistic)
        self.minimizer = None if minimizer is None else check_callable("minimizer", minimizer)
        if domain is not None:
            dlo, dhi = _number("domain[0]", domain[0]), _number("domain[1]", domain[1])
            if not dlo < dhi:
                raise ValueError(f"`domain` must satisfy lo < hi, got {domain!r}.")
            domain = (dlo, dhi)
        self.domain = domain
        self.name = str(name)

    # -- coefficients --------------------------------------------------------
    @property
    def controlled(self) -> bool:
        """False when the control set is a single point."""
        return self.control_set[0] < self.control_set[1]

    def drift(self, t: float, x: Array, stats: Any) -> Array:
        """:math:`b(t, x, s)` at ``x``."""
        if self._drift is None:
            return np.zeros_like(x)
        return _values("drift", self._drift(t, x, stats), x)

    def volatility(self, t: float, x: Array) -> Array:
        r""":math:`\sigma(t, x)` at ``x``."""
        if self._sigma_fn is None:
            return np.full_like(x, self._sigma)
        s = _values("volatility", self._sigma_fn(t, x), x)
        if np.any(s < 0):
            raise ValueError(f"`volatility` must be >= 0, got {float(s.min())} at t={t}.")
        return s

    def cost(self, t: float, x: Array, alpha: Array, stats: Any) -> Array:
        """:math:`f(t, x, \\alpha, s)`."""
        return _values("running_cost", self.running_cost(t, x, alpha, stats), x)

    def terminal(self, x: Array, stats: Any) -> Array:
        """:math:`g(x, s)`."""
        return _values("terminal_cost", self.terminal_cost(x, stats), x)

    def aggregates(self, x: Array, p: Array) -> Array:
        """:math:`\\Phi` of the discrete law (weights normalised to one) as a 1-D array."""
        s = np.atleast_1d(np.asarray(self.statistic(x, p / p.sum()), dtype=float)).ravel()
        if not np.all(np.isfinite(s)):
            raise ValueError("`statistic` returned non-finite aggregates.")
        return s

    def best_control(self, t: float, x: Array, p: Array, stats: Any, start: Array | None = None) -> Array:
        r""":math:`\alpha^* = \arg\min_{\alpha\in A}[\alpha p + f(t, x, \alpha, s)]` at every node."""
        lo, hi = self.control_set
        if lo == hi:
            return np.full_like(x, lo)
        if self.minimizer is not None:
            a = _values("minimizer", self.minimizer(t, x, p, stats), x)
            return np.clip(a, lo, hi)
        return self._newton_argmin(t, x, p, stats, start)

    def _newton_argmin(self, t: float, x: Array, p: Array, stats: Any, start: Array | None) -> Array:
        # projected Newton on the convex phi(a) = a p + f(t, x, a, s), derivatives by central differences
        lo, hi = self.control_set
        a = np.zeros_like(x) if start is None else np.array(start, dtype=float)
        a = np.clip(a, lo, hi)
        for _ in range(60):
            h = 1e-4 * (1.0 + np.abs(a))
            fm = self.cost(t, x, a - h, stats)
            f0 = self.cost(t, x, a, stats)
            fp = self.cost(t, x, a + h, stats)
            d1 = p + (fp - fm) / (2 * h)
            d2 = (fp - 2 * f0 + fm) / (h * h)
            if np.any(d2 <= 0):
                raise ValueError("`running_cost` must be strictly convex in the control (second difference "
                                 f"{float(d2.min()):.3g} <= 0 at t={t}); pass a `minimizer`.")
            a_new = np.clip(a - d1 / d2, lo, hi)
            done = np.max(np.abs(a_new - a) / (1.0 + np.abs(a_new))) < 1e-11
            a = a_new
            if done:
                return a
        raise ConvergenceError(f"The minimisation of the Hamiltonian did not converge in 60 Newton steps at t={t}.")

    def __repr__(self) -> str:
        return f"ControlGame({self.name!r}, horizon={self.horizon:g}, control_set={self.control_set})"


def _number_or_inf(name: str, value: Any) -> float:
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"`{name}` must be a real number, got a bool.")
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"`{name}` must be a real number, got {value!r}.") from None
    if math.isnan(v):
        raise ValueError(f"`{name}` must not be NaN.")
    return v


def _values(name: str, value: ArrayLike, x: Array) -> Array:
    a = np.asarray(value, dtype=float)
    try:
        v = np.broadcast_to(a, x.shape).copy()
    except ValueError:  # was numpy's "operands could not be broadcast together ..."
        raise ValueError(f"`{name}` returned an array of shape {a.shape}; it must be a scalar or match the "
                         f"state array's shape {x.shape} (vectorise it in `x`).") from None
    if not np.all(np.isfinite(v)):
        raise ValueError(f"`{name}` returned non-finite values.")
    return v
