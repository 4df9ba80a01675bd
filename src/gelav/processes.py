r"""One-dimensional Itô diffusions.

A process is data: the coefficients of

.. math::

    dX_t = b(t, X_t)\,dt + \sigma(t, X_t)\,dW_t ,

with ``drift`` :math:`b` and ``diffusion`` :math:`\sigma` (the volatility, *not*
its square; :meth:`Process.variance_rate` returns :math:`a = \sigma^2`), the
state space ``domain`` and, where it is known in closed form, the exact law of
:math:`X_t` given :math:`X_s = x` (:meth:`Process.transition`) and the
stationary law (:meth:`Process.stationary`).

Units: time in years, the state in its own units (the GE-LAV liquidity index
:math:`L` is dimensionless), so ``kappa`` is per year and ``sigma`` is per
square-root year.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from gelav._validation import check_callable, check_finite, check_nonnegative, check_positive
from gelav.errors import FellerConditionWarning

__all__ = [
    "CIR",
    "BrownianMotion",
    "GeometricBrownianMotion",
    "OrnsteinUhlenbeck",
    "Process",
]

Coefficient = Callable[[float, NDArray[np.float64]], ArrayLike]


class Process:
    r"""A general diffusion :math:`dX = b(t,X)\,dt + \sigma(t,X)\,dW`.

    Parameters
    ----------
    drift : callable ``(t, x) -> array``
        :math:`b(t, x)`, vectorised in ``x`` (a float ``t`` and an array ``x``).
    diffusion : callable ``(t, x) -> array``
        :math:`\sigma(t, x) \ge 0`, vectorised the same way.
    domain : (float, float), optional
        The state space (default the real line); solvers keep grids inside it.
    time_homogeneous : bool, optional
        Declare that the coefficients do not depend on ``t`` (lets the solvers
        factorise their matrices once). Default False.
    name : str, optional
        Used in reports and ``repr``.

    Examples
    --------
    >>> import numpy as np
    >>> from gelav import Process
    >>> p = Process(lambda t, x: -x, lambda t, x: 0.5 + 0 * x, time_homogeneous=True)
    >>> float(p.drift(0.0, np.array([2.0]))[0])
    -2.0
    """

    def __init__(
        self,
        drift: Coefficient,
        diffusion: Coefficient,
        *,
        domain: tuple[float, float] = (-math.inf, math.inf),
        time_homogeneous: bool = False,
        name: str | None = None,
    ) -> None:
        self._drift = check_callable("drift", drift)
        self._diffusion = check_callable("diffusion", diffusion)
        lo, hi = (float(domain[0]), float(domain[1]))
        if math.isnan(lo) or math.isnan(hi) or not lo < hi:
            raise ValueError(f"`domain` must be an interval (lo, hi) with lo < hi, got {domain!r}.")
        self.domain = (lo, hi)
        self.time_homogeneous = bool(time_homogeneous)
        self.name = name or type(self).__name__

    # -- coefficients -------------------------------------------------------
    def drift(self, t: float, x: ArrayLike) -> NDArray[np.float64]:
        """Drift :math:`b(t, x)`, broadcast to the shape of ``x``."""
        x = np.asarray(x, dtype=float)
        return np.broadcast_to(np.asarray(self._drift(t, x), dtype=float), x.shape).copy()

    def diffusion(self, t: float, x: ArrayLike) -> NDArray[np.float64]:
        r"""Diffusion (volatility) :math:`\sigma(t, x)`, broadcast to the shape of ``x``."""
        x = np.asarray(x, dtype=float)
        return np.broadcast_to(np.asarray(self._diffusion(t, x), dtype=float), x.shape).copy()

    def variance_rate(self, t: float, x: ArrayLike) -> NDArray[np.float64]:
        r""":math:`a(t, x) = \sigma(t, x)^2`, the infinitesimal variance per unit time."""
        s = self.diffusion(t, x)
        return s * s

    def diffusion_derivative(self, t: float, x: ArrayLike) -> NDArray[np.float64]:
        r""":math:`\partial_x \sigma(t, x)` (used by Milstein); central differences by default."""
        x = np.asarray(x, dtype=float)
        h = 1e-6 * np.maximum(1.0, np.abs(x))
        return (self.diffusion(t, x + h) - self.diffusion(t, x - h)) / (2 * h)

    # -- exact laws (overridden where known) ----------------------------------
    @property
    def has_transition(self) -> bool:
        """True when :meth:`transition` gives the exact law of :math:`X_t`."""
        return False

    def transition(self, x0: float, t: float, s: float = 0.0) -> Any:
        """Frozen SciPy distribution of :math:`X_t` given :math:`X_s = x_0`."""
        raise NotImplementedError(
            f"{self.name} has no closed-form transition law; solve numerically with gelav.forward."
        )

    def conditional_mean(self, x0: float, t: float, s: float = 0.0) -> float:
        """Conditional mean :math:`E[X_t \\mid X_s = x_0]`."""
        return float(self.transition(x0, t, s).mean())

    def conditional_var(self, x0: float, t: float, s: float = 0.0) -> float:
        """Conditional variance :math:`\\mathrm{Var}[X_t \\mid X_s = x_0]`."""
        return float(self.transition(x0, t, s).var())

    def stationary(self) -> Any:
        """Frozen SciPy distribution of the stationary law, or None when there is none."""
        return None

    def normal_law(self, x0: float, t: float, s: float = 0.0) -> tuple[float, float] | None:
        """``(mean, std)`` when the law of :math:`X_t` given :math:`X_s = x_0` is Gaussian, else None.

        A fast path (no SciPy distribution object) for grids and closed forms.
        """
        return None

    def _check_time(self, t: float, s: float) -> float:
        t = check_finite("t", t)
        s = check_finite("s", s)
        if t < s:
            raise ValueError(f"`t` must be >= `s`, got t={t}, s={s}.")
        return t - s

    def _check_state(self, x0: float) -> float:
        x0 = check_finite("x0", x0)
        lo, hi = self.domain
        if not lo <= x0 <= hi:
            raise ValueError(f"`x0` = {x0} lies outside the domain {self.domain} of {self.name}.")
        return x0

    def params(self) -> dict[str, float]:
        """The model parameters as a dict (empty for a general process)."""
        return {}

    def __repr__(self) -> str:
        p = ", ".join(f"{k}={v:g}" for k, v in self.params().items())
        return f"{type(self).__name__}({p})"


class BrownianMotion(Process):
    r"""Brownian motion with drift, :math:`dX = \mu\,dt + \sigma\,dW`.

    The law of :math:`X_t` given :math:`X_s = x` is
    :math:`N(x + \mu (t-s),\ \sigma^2 (t-s))`.

    Parameters
    ----------
    mu : float
        Drift per year. Default 0.
    sigma : float
        Volatility per square-root year, > 0. Default 1.
    """

    def __init__(self, mu: float = 0.0, sigma: float = 1.0) -> None:
        self.mu = check_finite("mu", mu)
        self.sigma = check_positive("sigma", sigma)
        mu_, s_ = self.mu, self.sigma
        super().__init__(
            lambda t, x: np.full_like(x, mu_), lambda t, x: np.full_like(x, s_),
            time_homogeneous=True, name="BrownianMotion",
        )

    def diffusion_derivative(self, t: float, x: ArrayLike) -> NDArray[np.float64]:
        return np.zeros_like(np.asarray(x, dtype=float))

    @property
    def has_transition(self) -> bool:
        return True

    def normal_law(self, x0: float, t: float, s: float = 0.0) -> tuple[float, float]:
        tau = self._check_time(t, s)
        return self._check_state(x0) + self.mu * tau, self.sigma * math.sqrt(tau)

    def transition(self, x0: float, t: float, s: float = 0.0) -> Any:
        from scipy import stats

        return stats.norm(*self.normal_law(x0, t, s))

    def params(self) -> dict[str, float]:
        return {"mu": self.mu, "sigma": self.sigma}


class OrnsteinUhlenbeck(Process):
    r"""Ornstein–Uhlenbeck process :math:`dX = \kappa(\bar{x} - X)\,dt + \sigma\,dW`.

    The GE-LAV liquidity state (seed 000) with :math:`\kappa = 0.45`,
    :math:`\bar L = 1.0`, :math:`\sigma_L = 0.32`. Given :math:`X_s = x`,

    .. math::

        X_t \sim N\!\left(\bar{x} + (x - \bar{x})e^{-\kappa\tau},\
        \frac{\sigma^2}{2\kappa}(1 - e^{-2\kappa\tau})\right), \quad \tau = t - s,

    and the stationary law is :math:`N(\bar{x}, \sigma^2/2\kappa)`.

    Parameters
    ----------
    kappa : float
        Mean-reversion speed per year, > 0 (half-life :math:`\ln 2/\kappa`).
    mean : float
        Long-run level :math:`\bar{x}` (kept as the attribute ``mean``).
    sigma : float
        Volatility per square-root year, > 0.

    Examples
    --------
    >>> from gelav import OrnsteinUhlenbeck
    >>> ou = OrnsteinUhlenbeck(kappa=0.45, mean=1.0, sigma=0.32)
    >>> round(float(ou.transition(-0.5, 2.0).cdf(-0.5)), 6)
    0.001936
    """

    def __init__(self, kappa: float = 0.45, mean: float = 1.0, sigma: float = 0.32) -> None:
        self.kappa = check_positive("kappa", kappa)
        self.mean = check_finite("mean", mean)
        self.sigma = check_positive("sigma", sigma)
        k, m, s = self.kappa, self.mean, self.sigma
        super().__init__(
            lambda t, x: k * (m - x), lambda t, x: np.full_like(x, s),
            time_homogeneous=True, name="OrnsteinUhlenbeck",
        )

    def diffusion_derivative(self, t: float, x: ArrayLike) -> NDArray[np.float64]:
        return np.zeros_like(np.asarray(x, dtype=float))

    @property
    def has_transition(self) -> bool:
        return True

    def conditional_mean(self, x0: float, t: float, s: float = 0.0) -> float:
        tau = self._check_time(t, s)
        return self.mean + (self._check_state(x0) - self.mean) * math.exp(-self.kappa * tau)

    def conditional_var(self, x0: float, t: float, s: float = 0.0) -> float:
        tau = self._check_time(t, s)
        return self.sigma**2 / (2 * self.kappa) * -math.expm1(-2 * self.kappa * tau)

    def normal_law(self, x0: float, t: float, s: float = 0.0) -> tuple[float, float]:
        return self.conditional_mean(x0, t, s), math.sqrt(self.conditional_var(x0, t, s))

    def transition(self, x0: float, t: float, s: float = 0.0) -> Any:
        from scipy import stats

        return stats.norm(*self.normal_law(x0, t, s))

    def stationary(self) -> Any:
        from scipy import stats

        return stats.norm(loc=self.mean, scale=self.sigma / math.sqrt(2 * self.kappa))

    @property
    def half_life(self) -> float:
        r"""Half-life of a deviation from the mean, :math:`\ln 2 / \kappa` years."""
        return math.log(2.0) / self.kappa

    def params(self) -> dict[str, float]:
        return {"kappa": self.kappa, "mean": self.mean, "sigma": self.sigma}


class GeometricBrownianMotion(Process):
    r"""Geometric Brownian motion :math:`dX = \mu X\,dt + \sigma X\,dW` on :math:`(0, \infty)`.

    Given :math:`X_s = x > 0`, :math:`\ln X_t \sim N(\ln x + (\mu - \sigma^2/2)\tau,\ \sigma^2\tau)`,
    so :math:`E[X_t] = x e^{\mu\tau}`. Seed 002's :math:`Y = e^X` with
    :math:`X = \mu_0 t + \sigma_0 W` is this process with :math:`\mu = \mu_0 + \sigma_0^2/2`.

    Parameters
    ----------
    mu : float
        Drift rate per year.
    sigma : float
        Volatility per square-root year, > 0.
    """

    def __init__(self, mu: float = 0.0, sigma: float = 1.0) -> None:
        self.mu = check_finite("mu", mu)
        self.sigma = check_positive("sigma", sigma)
        m, s = self.mu, self.sigma
        super().__init__(
            lambda t, x: m * x, lambda t, x: s * x, domain=(0.0, math.inf),
            time_homogeneous=True, name="GeometricBrownianMotion",
        )

    def diffusion_derivative(self, t: float, x: ArrayLike) -> NDArray[np.float64]:
        return np.full_like(np.asarray(x, dtype=float), self.sigma)

    @property
    def has_transition(self) -> bool:
        return True

    def _check_state(self, x0: float) -> float:
        x0 = check_finite("x0", x0)
        if x0 <= 0:
            raise ValueError(f"`x0` must be > 0 for {self.name}, got {x0}.")
        return x0

    def transition(self, x0: float, t: float, s: float = 0.0) -> Any:
        from scipy import stats

        tau = self._check_time(t, s)
        x0 = self._check_state(x0)
        if tau == 0.0:
            return stats.norm(loc=x0, scale=0.0)
        loc = math.log(x0) + (self.mu - 0.5 * self.sigma**2) * tau
        return stats.lognorm(s=self.sigma * math.sqrt(tau), scale=math.exp(loc))

    def conditional_mean(self, x0: float, t: float, s: float = 0.0) -> float:
        return self._check_state(x0) * math.exp(self.mu * self._check_time(t, s))

    def conditional_var(self, x0: float, t: float, s: float = 0.0) -> float:
        tau = self._check_time(t, s)
        x0 = self._check_state(x0)
        return x0**2 * math.exp(2 * self.mu * tau) * math.expm1(self.sigma**2 * tau)

    def params(self) -> dict[str, float]:
        return {"mu": self.mu, "sigma": self.sigma}


class CIR(Process):
    r"""Cox–Ingersoll–Ross process :math:`dX = \kappa(\theta - X)\,dt + \sigma\sqrt{X}\,dW`.

    Given :math:`X_s = x \ge 0`, :math:`X_t / c` is non-central :math:`\chi^2` with
    :math:`c = \sigma^2(1 - e^{-\kappa\tau})/(4\kappa)`, :math:`4\kappa\theta/\sigma^2`
    degrees of freedom and non-centrality :math:`x e^{-\kappa\tau}/c`; the stationary
    law is Gamma(:math:`2\kappa\theta/\sigma^2`, scale :math:`\sigma^2/2\kappa`).
    Zero is unattainable iff the Feller condition :math:`2\kappa\theta \ge \sigma^2` holds;
    a :class:`~gelav.errors.FellerConditionWarning` is issued when it fails.

    Parameters
    ----------
    kappa : float
        Mean-reversion speed per year, > 0.
    mean : float
        Long-run level :math:`\theta`, > 0.
    sigma : float
        Volatility parameter, > 0.
    """

    def __init__(self, kappa: float, mean: float, sigma: float) -> None:
        self.kappa = check_positive("kappa", kappa)
        self.mean = check_positive("mean", mean)
        self.sigma = check_positive("sigma", sigma)
        if 2 * self.kappa * self.mean < self.sigma**2:
            warnings.warn(
                f"CIR Feller condition fails: 2κθ = {2 * self.kappa * self.mean:.4g} < "
                f"σ² = {self.sigma**2:.4g}; zero is attainable and the density is unbounded there.",
                FellerConditionWarning, stacklevel=2,
            )
        k, m, s = self.kappa, self.mean, self.sigma
        super().__init__(
            lambda t, x: k * (m - x), lambda t, x: s * np.sqrt(np.maximum(x, 0.0)),
            domain=(0.0, math.inf), time_homogeneous=True, name="CIR",
        )

    @property
    def feller(self) -> bool:
        r"""True when :math:`2\kappa\theta \ge \sigma^2`."""
        return 2 * self.kappa * self.mean >= self.sigma**2

    def diffusion_derivative(self, t: float, x: ArrayLike) -> NDArray[np.float64]:
        x = np.maximum(np.asarray(x, dtype=float), 1e-300)
        return 0.5 * self.sigma / np.sqrt(x)

    @property
    def has_transition(self) -> bool:
        return True

    def _check_state(self, x0: float) -> float:
        return check_nonnegative("x0", x0)

    def transition(self, x0: float, t: float, s: float = 0.0) -> Any:
        from scipy import stats

        tau = self._check_time(t, s)
        x0 = self._check_state(x0)
        if tau == 0.0:
            return stats.norm(loc=x0, scale=0.0)
        c = self.sigma**2 * -math.expm1(-self.kappa * tau) / (4 * self.kappa)
        df = 4 * self.kappa * self.mean / self.sigma**2
        nc = x0 * math.exp(-self.kappa * tau) / c
        if nc == 0.0:
            return stats.chi2(df, scale=c)
        return stats.ncx2(df, nc, scale=c)

    def conditional_mean(self, x0: float, t: float, s: float = 0.0) -> float:
        tau = self._check_time(t, s)
        return self.mean + (self._check_state(x0) - self.mean) * math.exp(-self.kappa * tau)

    def conditional_var(self, x0: float, t: float, s: float = 0.0) -> float:
        tau = self._check_time(t, s)
        x0 = self._check_state(x0)
        e = math.exp(-self.kappa * tau)
        k, th, s2 = self.kappa, self.mean, self.sigma**2
        return x0 * s2 * e * (1 - e) / k + th * s2 * (1 - e) ** 2 / (2 * k)

    def stationary(self) -> Any:
        from scipy import stats

        shape = 2 * self.kappa * self.mean / self.sigma**2
        return stats.gamma(shape, scale=self.sigma**2 / (2 * self.kappa))

    def params(self) -> dict[str, float]:
        return {"kappa": self.kappa, "mean": self.mean, "sigma": self.sigma}
