r"""The Carmona–Fouque–Sun systemic-risk game (herding liquidity) and its closed form.

Each LP's liquidity (log-monetary reserve) :math:`X` drifts towards the
population mean :math:`\bar m_t = E[X_t]` (seed 001's herding pull
:math:`\lambda = a`) and the LP borrows or lends at rate :math:`\alpha`:

.. math::

    dX_t = \big[\kappa(\bar L - X_t) + a(\bar m_t - X_t) + \alpha_t\big]dt + \sigma\,dW_t,

minimising

.. math::

    E\Big[\int_0^T \tfrac12\alpha_t^2 - q\,\alpha_t(\bar m_t - X_t) + \tfrac\varepsilon2(\bar m_t - X_t)^2\,dt
    + \tfrac c2(\bar m_T - X_T)^2\Big], \qquad q \ge 0,\ q^2 \le \varepsilon,\ c \ge 0

(:math:`\kappa = 0` is the game of Carmona, Fouque and Sun, 2015; the optional
pull :math:`\kappa` to a long-run level :math:`\bar L` is seed 001's OU part).

**Closed form.** Try :math:`V(t, x) = \frac12\eta_t y^2 + \chi_t` with :math:`y = x - \bar m_t`.
The Hamiltonian :math:`\min_\alpha[\alpha\,\eta y + \frac12\alpha^2 + q\alpha y]` is attained at

.. math:: \alpha^*(t, x) = -(q + \eta_t)\,y = (q + \eta_t)(\bar m_t - x),

with minimum :math:`-\frac12(q+\eta)^2y^2`; averaging the drift over the
population gives :math:`\bar m' = \kappa(\bar L - \bar m)` (the control and the herding
average to zero), i.e. :math:`\bar m_t = \bar L + (\bar m_0 - \bar L)e^{-\kappa t}`,
constant for :math:`\kappa = 0`. The term :math:`\kappa(\bar L - \bar m)\,\eta y` of the
drift then cancels :math:`-\eta y\,\bar m'` from :math:`\partial_t V`, and matching
the :math:`y^2` and constant terms of the HJB equation
:math:`-\partial_t V = \min_\alpha[\dots] + \frac12\sigma^2\eta` gives

.. math::

    \eta' = 2(a + \kappa + q)\,\eta + \eta^2 - (\varepsilon - q^2), \quad \eta_T = c, \qquad
    \chi_t = \tfrac12\sigma^2\int_t^T \eta_s\,ds .

With :math:`A = a + \kappa + q`, :math:`R = A^2 + \varepsilon - q^2` and the roots
:math:`\delta^\pm = -A \pm \sqrt R` of :math:`\eta^2 + 2A\eta - (\varepsilon - q^2)`, the
Riccati equation reads :math:`\eta' = (\eta - \delta^+)(\eta - \delta^-)`. In
:math:`\tau = T - t` the ratio :math:`w = (\eta - \delta^+)/(\eta - \delta^-)` satisfies
:math:`(\log w)' = -(\delta^+ - \delta^-)`, so

.. math::

    \eta = \frac{\delta^+ - \delta^- w}{1 - w},\quad w = \frac{c - \delta^+}{c - \delta^-}e^{-2\sqrt R\,\tau},
    \qquad
    \int_t^T\eta_s\,ds = \delta^+\tau - \log\frac{\eta_t - \delta^-}{c - \delta^-},

the second from :math:`(\log(\eta - \delta^-))' = -(\eta - \delta^+)` in :math:`\tau`
(for :math:`R = 0`: :math:`\eta = c/(1 + c\tau)`, integral :math:`\log(1 + c\tau)`).
Both are evaluated in the equivalent forms :math:`\eta = \delta^+ + (c - \delta^+)E/h`,
:math:`\int_t^T\eta_s\,ds = \delta^+\tau + \log h` with :math:`E = e^{-2\sqrt R\tau}`,
:math:`h = 1 + (c - \delta^+)(1 - E)/(2\sqrt R)` and :math:`\delta^+ = (\varepsilon - q^2)/(A + \sqrt R)`,
which do not cancel as :math:`R \to 0` and contain the case :math:`R = 0`.
The tests check both against :func:`scipy.integrate.solve_ivp`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from gelav._validation import (
    MAX_HORIZON,
    MAX_RATE,
    MAX_STATE,
    check_finite,
    check_nonnegative,
    check_positive,
)
from gelav.mfg.control.game import ControlGame

__all__ = ["SystemicRiskClosedForm", "SystemicRiskGame", "systemic_risk"]

Array = NDArray[np.float64]


@dataclass(frozen=True)
class SystemicRiskClosedForm:
    r"""Closed-form equilibrium of :func:`systemic_risk` (see the module docstring).

    Attributes are the game's parameters; ``m0`` and ``v0`` the start law's mean and variance.
    """

    a: float
    q: float
    epsilon: float
    c: float
    sigma: float
    horizon: float
    m0: float
    v0: float
    kappa: float = 0.0
    level: float = 1.0

    @property
    def _roots(self) -> tuple[float, float, float]:
        r""":math:`\delta^+, \delta^-, \sqrt R`; :math:`\delta^+ = (\varepsilon - q^2)/(A + \sqrt R)` without the
        cancellation of :math:`-A + \sqrt R` (all terms are >= 0)."""
        A = self.a + self.kappa + self.q
        d = max(self.epsilon - self.q**2, 0.0)
        sr = math.hypot(A, math.sqrt(d))
        return (d / (A + sr) if sr > 0 else 0.0), -A - sr, sr

    def _decay(self, t: ArrayLike) -> tuple[Array, Array, Array, Array]:
        r""":math:`\tau = T - t`, :math:`E = e^{-2\sqrt R\tau}`, :math:`g = (1 - E)/(2\sqrt R)` and :math:`h = 1 + (c - \delta^+)g`.

        :math:`h = (c - \delta^-)(1 - E)/(2\sqrt R) + E` is a sum of non-negative terms, and
        :math:`(1 - E)/(2\sqrt R)` comes from ``expm1`` (:math:`= \tau` for :math:`R = 0`), so neither
        cancels for small :math:`R` (the form :math:`(\delta^+ - \delta^- w)/(1 - w)` lost
        :math:`10^{-16}/(\sqrt R\,\tau)` relative: 3e-4 at :math:`\sqrt R = 10^{-13}`).
        """
        tau = self.horizon - np.asarray(t, dtype=float)
        _, dm, sr = self._roots
        E = np.exp(-2.0 * sr * tau)
        g = -np.expm1(-2.0 * sr * tau) / (2.0 * sr) if sr > 0 else tau
        return tau, E, g, (self.c - dm) * g + E

    def eta(self, t: ArrayLike) -> Array:
        r""":math:`\eta_t`, the solution of the Riccati equation with :math:`\eta_T = c`:
        :math:`\eta = \delta^+ + (c - \delta^+)E/h` (see :meth:`_decay`)."""
        dp = self._roots[0]
        _, E, _, h = self._decay(t)
        return dp + (self.c - dp) * E / h  # type: ignore[no-any-return]

    def eta_integral(self, t: ArrayLike) -> Array:
        r""":math:`\int_t^T \eta_s\,ds = \delta^+\tau + \log h` (see :meth:`_decay`; ``log1p`` keeps it
        accurate relative to :math:`c\tau` near the horizon)."""
        dp = self._roots[0]
        tau, _, g, _ = self._decay(t)
        return dp * tau + np.log1p((self.c - dp) * g)  # type: ignore[no-any-return]

    def mean(self, t: ArrayLike) -> Array:
        r""":math:`\bar m_t = \bar L + (\bar m_0 - \bar L)e^{-\kappa t}` (constant :math:`\bar m_0` for :math:`\kappa = 0`)."""
        t = np.asarray(t, dtype=float)
        return self.level + (self.m0 - self.level) * np.exp(-self.kappa * t)

    def control(self, t: float, x: ArrayLike) -> Array:
        r""":math:`\alpha^*(t, x) = (q + \eta_t)(\bar m_t - x)`."""
        return (self.q + self.eta(t)) * (self.mean(t) - np.asarray(x, dtype=float))

    def value(self, t: float, x: ArrayLike) -> Array:
        r""":math:`V(t, x) = \frac12\eta_t(x - \bar m_t)^2 + \frac12\sigma^2\int_t^T\eta_s\,ds`."""
        y = np.asarray(x, dtype=float) - self.mean(t)
        return 0.5 * self.eta(t) * y * y + 0.5 * self.sigma**2 * self.eta_integral(t)

    def population_cost(self) -> float:
        r""":math:`E[V(0, X_0)] = \frac12\eta_0 v_0 + \frac12\sigma^2\int_0^T\eta_s\,ds`."""
        return float(0.5 * self.eta(0.0) * self.v0 + 0.5 * self.sigma**2 * self.eta_integral(0.0))


class SystemicRiskGame(ControlGame):
    """The :class:`ControlGame` of :func:`systemic_risk`, carrying its ``closed_form``."""

    closed_form: SystemicRiskClosedForm


def _param(name: str, v: Any, maximum: float = MAX_RATE) -> float:
    # rates and volatilities <= 1e6 per year, penalties and levels <= 1e12, T <= 1e6 years: the
    # Riccati coefficients A², ε and σ²T stay far from overflow (1e300 made the closed form NaN)
    if isinstance(v, (bool, np.bool_)):
        raise TypeError(f"`{name}` must be a real number, got a bool.")
    return check_finite(name, v, maximum=maximum)


def _spread_bound(A: float, e: float, c: float, sigma: float, horizon: float, v0: float) -> float:
    r"""A bound on the equilibrium variance :math:`v_t` of :math:`X_t - \bar m_t` over :math:`[0, T]`.

    The deviation :math:`y = X - \bar m` follows :math:`dy = -(A + \eta_t)y\,dt + \sigma\,dW`, so
    :math:`v' = -2(A + \eta_t)v + \sigma^2`. The Riccati solution runs monotonically from :math:`\eta_T = c`
    towards its stable root :math:`\delta^+ = e/(A + \sqrt{A^2 + e})` (``e`` = ε − q²), so
    :math:`A + \eta_t \ge k = A + \min(c, \delta^+)` and, by comparison,
    :math:`v_t \le \max(v_0, \sigma^2/2k)`; always :math:`v_t \le v_0 + \sigma^2 t`. (The bound
    :math:`v_0 + \sigma^2T` alone spread a 1000-year game's population, sd 0.2, over ±2240: two nodes.)"""
    crude = v0 + sigma * sigma * horizon
    k = A + min(c, e / (A + math.sqrt(A * A + e)) if A > 0 or e > 0 else 0.0)
    return min(crude, max(v0, sigma * sigma / (2.0 * k))) if k > 0 else crude


def systemic_risk(
    a: float = 0.5,
    q: float = 0.5,
    epsilon: float = 1.0,
    c: float = 1.0,
    sigma: float = 0.32,
    horizon: float = 1.0,
    initial: Any = None,
    *,
    kappa: float = 0.0,
    level: float = 1.0,
    domain: tuple[float, float] | None = None,
) -> SystemicRiskGame:
    r"""The Carmona–Fouque–Sun systemic-risk game as a :class:`ControlGame`, with its closed form.

    .. math::

        dX = [\kappa(\bar L - X) + a(\bar m - X) + \alpha]\,dt + \sigma\,dW, \qquad
        f = \tfrac12\alpha^2 - q\alpha(\bar m - x) + \tfrac\varepsilon2(\bar m - x)^2, \quad
        g = \tfrac c2(\bar m - x)^2 .

    Parameters
    ----------
    a : float
        Herding pull towards the population mean, per year, in [0, 1e6] (seed 001's λ = 0.5).
    q : float
        Incentive to borrow when below the mean, in [0, 1e6], with :math:`q^2 \le \varepsilon`.
    epsilon : float
        Running penalty on the distance to the mean, >= q², <= 1e12.
    c : float
        Terminal penalty, in [0, 1e12].
    sigma : float
        Volatility per square-root year, in (0, 1e6] (seed 001: 0.32).
    horizon : float
        :math:`T` [years], in (0, 1e6].
    initial : float or frozen SciPy distribution, optional
        Law of :math:`X_0`; default :math:`N(-0.5, 0.2^2)` (seed 001's stressed start L₀ = −0.5).
    kappa : float
        Optional pull to the long-run level, in [0, 1e6] per year (default 0: the CFS game, constant mean).
    level : float
        :math:`\bar L`, :math:`|\bar L| \le 10^{12}` (seed 001: 1.0).
    domain : (float, float), optional
        Grid interval; default seven standard deviations beyond the mean path on each side, the
        standard deviation being a bound on the equilibrium spread: :math:`\sqrt{v_0 + \sigma^2 T}`, or
        :math:`\sqrt{\max(v_0, \sigma^2/2k)}` when smaller, :math:`k = a + \kappa + q + \min(c, \delta^+)`
        the weakest pull to the mean (see the module docstring for :math:`\delta^+`).

    Returns
    -------
    SystemicRiskGame
        A :class:`ControlGame` with the attribute ``closed_form`` (:class:`SystemicRiskClosedForm`).

    Examples
    --------
    >>> g = systemic_risk()
    >>> round(float(g.closed_form.eta(1.0)), 6)
    1.0
    """
    a = check_nonnegative("a", _param("a", a))
    q = check_nonnegative("q", _param("q", q))
    epsilon = check_nonnegative("epsilon", _param("epsilon", epsilon, MAX_STATE))
    if q * q > epsilon * (1 + 1e-12):
        raise ValueError(f"`q`² must not exceed `epsilon` (q² = {q * q:g} > epsilon = {epsilon:g}).")
    c = check_nonnegative("c", _param("c", c, MAX_STATE))
    sigma = check_positive("sigma", _param("sigma", sigma))
    horizon = check_positive("horizon", _param("horizon", horizon, MAX_HORIZON))
    kappa = check_nonnegative("kappa", _param("kappa", kappa))
    level = _param("level", level, MAX_STATE)
    if initial is None:
        from scipy import stats

        initial = stats.norm(loc=-0.5, scale=0.2)
    if isinstance(initial, (bool, np.bool_)):
        raise TypeError("`initial` must be a number or a frozen SciPy distribution, got a bool.")
    if isinstance(initial, (int, float, np.integer, np.floating)):
        m0, v0 = check_finite("initial", initial, maximum=MAX_STATE), 0.0
    elif hasattr(initial, "mean") and hasattr(initial, "var") and hasattr(initial, "cdf"):
        m0, v0 = float(initial.mean()), float(initial.var())
        if not (math.isfinite(m0) and math.isfinite(v0)) or abs(m0) > MAX_STATE or v0 > MAX_STATE**2:
            raise ValueError(f"`initial` must have a finite mean and variance, |mean| and sd <= {MAX_STATE:g} "
                             f"(got mean {m0:g}, variance {v0:g}).")
    else:
        raise TypeError(f"`initial` must be a number or a frozen SciPy distribution, got {type(initial).__name__}.")

    if domain is None:
        s = math.sqrt(_spread_bound(a + kappa + q, epsilon - q * q, c, sigma, horizon, v0))
        m_end = level + (m0 - level) * math.exp(-kappa * horizon)
        domain = (min(m0, m_end) - 7.0 * s, max(m0, m_end) + 7.0 * s)

    def drift(t: float, x: Array, m: Any) -> Array:
        return kappa * (level - x) + a * (m - x)

    def running(t: float, x: Array, alpha: Array, m: Any) -> Array:
        y = m - x
        return 0.5 * alpha * alpha - q * alpha * y + 0.5 * epsilon * y * y

    def terminal(x: Array, m: Any) -> Array:
        return 0.5 * c * (m - x) ** 2

    def minimizer(t: float, x: Array, p: Array, m: Any) -> Array:
        return q * (m - x) - p

    game = SystemicRiskGame(running, terminal, horizon, initial, drift=drift, volatility=sigma,
                            minimizer=minimizer, domain=domain, name="systemic risk")
    game.closed_form = SystemicRiskClosedForm(a=a, q=q, epsilon=epsilon, c=c, sigma=sigma, horizon=horizon,
                                              m0=m0, v0=v0, kappa=kappa, level=level)
    return game
