r"""The built-in diffusion families: Brownian motion, Ornstein–Uhlenbeck, geometric Brownian motion, CIR.

Each is a :class:`~gelav.processes.base.Process` with its closed forms: the
transition law, the stationary law where there is one, and the exact Monte
Carlo step (:meth:`~gelav.processes.base.Process.exact_step`).
"""

from __future__ import annotations

import math
import warnings
from typing import Any, ClassVar

import numpy as np
from numpy.typing import ArrayLike, NDArray

from gelav._validation import check_finite, check_nonnegative, check_positive, check_rate
from gelav.errors import FellerConditionWarning
from gelav.processes.base import Process, Step

__all__ = ["CIR", "BrownianMotion", "GeometricBrownianMotion", "OrnsteinUhlenbeck"]


def _affine_step(a: float, c: float, s: float) -> Step:
    r"""The in-place step :math:`x \leftarrow a x + c + s z` (``z`` is overwritten; no product when a = 1)."""
    if a == 1.0:

        def shift(t: float, x: NDArray[np.float64], z: Any, rng: Any) -> None:
            z *= s
            x += c
            x += z
        return shift

    def step(t: float, x: NDArray[np.float64], z: Any, rng: Any) -> None:
        z *= s
        x *= a
        x += c
        x += z
    return step


class _AdditiveNoise:
    r"""A constant diffusion coefficient :math:`\sigma`: :math:`\partial_x\sigma = 0`, so the Milstein
    correction vanishes and the Milstein step is the Euler step (Brownian motion, Ornstein–Uhlenbeck)."""

    def diffusion_derivative(self, t: float, x: ArrayLike) -> NDArray[np.float64]:
        return np.zeros_like(np.asarray(x, dtype=float))

    def lamperti(self, t: float, x: ArrayLike, ref: float) -> NDArray[np.float64]:
        r""":math:`(x - \mathrm{ref})/\sigma`."""
        if type(self) not in (BrownianMotion, OrnsteinUhlenbeck):
            return super().lamperti(t, x, ref)  # type: ignore[misc]
        return (np.asarray(x, dtype=float) - ref) / self.sigma  # type: ignore[attr-defined]

    def euler_step(self, dt: float) -> Step | None:  # pragma: no cover - defined by each family
        raise NotImplementedError

    def milstein_step(self, dt: float) -> Step | None:
        """Additive noise: the Milstein step is the Euler step."""
        return self.euler_step(dt)


class BrownianMotion(_AdditiveNoise, Process):
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
        self.mu = check_rate("mu", mu, positive=False)
        self.sigma = check_rate("sigma", sigma)
        mu_, s_ = self.mu, self.sigma
        super().__init__(
            lambda t, x: np.full_like(x, mu_), lambda t, x: np.full_like(x, s_),
            time_homogeneous=True, name="BrownianMotion",
        )

    def euler_step(self, dt: float) -> Step | None:
        r""":math:`X' = X + \mu\Delta t + \sigma\sqrt{\Delta t}\,Z` (None for a subclass: its coefficients may differ)."""
        if type(self) is not BrownianMotion:
            return None
        return self.exact_step(dt)

    def exact_step(self, dt: float) -> Step:
        r""":math:`X' = X + \mu\Delta t + \sigma\sqrt{\Delta t}\,Z` (the Euler step is exact here)."""
        return _affine_step(1.0, self.mu * dt, self.sigma * math.sqrt(dt))

    @property
    def has_transition(self) -> bool:
        return True

    def normal_law(self, x0: float, t: float, s: float = 0.0) -> tuple[float, float]:
        tau = self._check_time(t, s)
        return self._check_state(x0) + self.mu * tau, self.sigma * math.sqrt(tau)

    def normal_laws(self, x0: float, t: ArrayLike, s: float = 0.0) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """:meth:`normal_law` at several times ``t`` at once (arrays of means and standard deviations)."""
        tau = self._check_times(t, s)
        return self._check_state(x0) + self.mu * tau, self.sigma * np.sqrt(tau)

    def transition(self, x0: float, t: float, s: float = 0.0) -> Any:
        from scipy import stats

        return stats.norm(*self.normal_law(x0, t, s))

    def params(self) -> dict[str, float]:
        return {"mu": self.mu, "sigma": self.sigma}


class OrnsteinUhlenbeck(_AdditiveNoise, Process):
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
        self.kappa = check_rate("kappa", kappa)
        self.mean = check_finite("mean", mean, maximum=1e12)
        self.sigma = check_rate("sigma", sigma)
        k, m, s = self.kappa, self.mean, self.sigma
        super().__init__(
            lambda t, x: k * (m - x), lambda t, x: np.full_like(x, s),
            time_homogeneous=True, name="OrnsteinUhlenbeck",
        )

    def euler_step(self, dt: float) -> Step | None:
        r""":math:`X' = (1 - \kappa\Delta t)X + \kappa\bar x\Delta t + \sigma\sqrt{\Delta t}\,Z` (None for a subclass)."""
        if type(self) is not OrnsteinUhlenbeck:
            return None
        return _affine_step(1.0 - self.kappa * dt, self.kappa * self.mean * dt, self.sigma * math.sqrt(dt))

    def exact_step(self, dt: float) -> Step:
        r""":math:`X' = \bar x + (X - \bar x)e^{-\kappa\Delta t} + \sqrt{\sigma^2(1-e^{-2\kappa\Delta t})/2\kappa}\,Z`."""
        e = math.exp(-self.kappa * dt)
        c = self.mean * (1.0 - e)
        s = self.sigma * math.sqrt(-math.expm1(-2 * self.kappa * dt) / (2 * self.kappa))
        return _affine_step(e, c, s)

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

    def normal_laws(self, x0: float, t: ArrayLike, s: float = 0.0) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """:meth:`normal_law` at several times ``t`` at once (arrays of means and standard deviations)."""
        tau = self._check_times(t, s)
        mean = self.mean + (self._check_state(x0) - self.mean) * np.exp(-self.kappa * tau)
        return mean, np.sqrt(self.sigma**2 / (2 * self.kappa) * -np.expm1(-2 * self.kappa * tau))

    def transition(self, x0: float, t: float, s: float = 0.0) -> Any:
        from scipy import stats

        return stats.norm(*self.normal_law(x0, t, s))

    def stationary(self) -> Any:
        return self.stationary_normal().scipy()

    def stationary_normal(self) -> Any:
        r""":meth:`stationary`, :math:`N(\bar L, \sigma^2/(2\kappa))`, as a light
        :class:`~gelav.processes.laws.Normal` (the same numbers without importing ``scipy.stats``)."""
        from gelav.processes.laws import Normal

        return Normal(self.mean, self.sigma / math.sqrt(2 * self.kappa))

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
        self.mu = check_rate("mu", mu, positive=False)
        self.sigma = check_rate("sigma", sigma)
        m, s = self.mu, self.sigma
        super().__init__(
            lambda t, x: m * x, lambda t, x: s * x, domain=(0.0, math.inf),
            time_homogeneous=True, name="GeometricBrownianMotion",
        )

    def diffusion_derivative(self, t: float, x: ArrayLike) -> NDArray[np.float64]:
        return np.full_like(np.asarray(x, dtype=float), self.sigma)

    def lamperti(self, t: float, x: ArrayLike, ref: float) -> NDArray[np.float64]:
        r""":math:`\ln(x/\mathrm{ref})/\sigma` (NaN unless both are > 0)."""
        if type(self) is not GeometricBrownianMotion:
            return super().lamperti(t, x, ref)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.asarray((np.log(np.asarray(x, dtype=float)) - math.log(ref) if ref > 0 else
                               np.full_like(np.asarray(x, dtype=float), np.nan)) / self.sigma)

    def euler_step(self, dt: float) -> Step | None:
        r""":math:`X' = X(1 + \mu\Delta t + \sigma\sqrt{\Delta t}\,Z)` (None for a subclass)."""
        if type(self) is not GeometricBrownianMotion:
            return None
        c, s = 1.0 + self.mu * dt, self.sigma * math.sqrt(dt)

        def step(t: float, x: NDArray[np.float64], z: Any, rng: Any) -> None:
            z *= s
            z += c
            x *= z
        return step

    def milstein_step(self, dt: float) -> Step | None:
        r""":math:`X' = X(1 + \mu\Delta t - \tfrac12\sigma^2\Delta t + \sigma\sqrt{\Delta t}Z
        + \tfrac12\sigma^2\Delta t Z^2)` (None for a subclass)."""
        if type(self) is not GeometricBrownianMotion:
            return None
        sq = math.sqrt(dt)
        c, s, h = 1.0 + self.mu * dt - 0.5 * self.sigma**2 * dt, self.sigma * sq, 0.5 * self.sigma**2 * dt

        def step(t: float, x: NDArray[np.float64], z: Any, rng: Any) -> None:
            zz = z * z
            zz *= h
            z *= s
            z += c
            z += zz
            x *= z
        return step

    def exact_step(self, dt: float) -> Step:
        r""":math:`X' = X\exp((\mu - \sigma^2/2)\Delta t + \sigma\sqrt{\Delta t}Z)`."""
        c, s = (self.mu - 0.5 * self.sigma**2) * dt, self.sigma * math.sqrt(dt)

        def step(t: float, x: NDArray[np.float64], z: Any, rng: Any) -> None:
            z *= s
            z += c
            np.exp(z, out=z)
            x *= z
        return step

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
        self.kappa = check_rate("kappa", kappa)
        self.mean = check_positive("mean", mean, maximum=1e12)
        self.sigma = check_rate("sigma", sigma)
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

    def lamperti(self, t: float, x: ArrayLike, ref: float) -> NDArray[np.float64]:
        r""":math:`2(\sqrt x - \sqrt{\mathrm{ref}})/\sigma` (NaN below 0)."""
        if type(self) is not CIR:
            return super().lamperti(t, x, ref)
        with np.errstate(invalid="ignore"):
            return np.asarray(2.0 * (np.sqrt(np.asarray(x, dtype=float)) - math.sqrt(ref) if ref >= 0 else
                                     np.full_like(np.asarray(x, dtype=float), np.nan)) / self.sigma)

    exact_uses_normals: ClassVar[bool] = False

    def exact_step(self, dt: float) -> Step:
        r""":math:`X' = c\,\chi'^2_d(X e^{-\kappa\Delta t}/c)`, :math:`c = \sigma^2(1-e^{-\kappa\Delta t})/4\kappa`, :math:`d = 4\kappa\theta/\sigma^2`."""
        k, th, sig = self.kappa, self.mean, self.sigma
        cc = sig**2 * -math.expm1(-k * dt) / (4 * k)
        df = 4 * k * th / sig**2
        ek = math.exp(-k * dt)

        def step(t: float, x: NDArray[np.float64], z: Any, rng: np.random.Generator) -> None:
            nc = np.maximum(x, 0.0) * (ek / cc)
            x[...] = cc * rng.noncentral_chisquare(df, np.maximum(nc, 1e-300))
        return step

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
