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
from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np
from numpy.typing import ArrayLike, NDArray

from gelav._validation import MAX_HORIZON, check_callable, check_finite

__all__ = ["Coefficient", "Process", "Step"]

Coefficient = Callable[[float, NDArray[np.float64]], ArrayLike]
_GAUSS_LEGENDRE = np.polynomial.legendre.leggauss(8)
#: an in-place Monte Carlo step ``step(t, x, z, rng)`` (``z``: standard normals, may be overwritten)
Step = Callable[[float, NDArray[np.float64], Any, np.random.Generator], None]


class Parametrised:
    """A model named by its parameters: ``params()`` (empty unless a family says otherwise) and the
    ``repr`` ``Name(k=v, ...)`` built from them (processes, McKean–Vlasov models)."""

    def params(self) -> dict[str, float]:
        """The model parameters as a dict (empty for a general model)."""
        return {}

    def __repr__(self) -> str:
        p = ", ".join(f"{k}={v:g}" for k, v in self.params().items())
        return f"{type(self).__name__}({p})"


class Process(Parametrised):
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

    def lamperti(self, t: float, x: ArrayLike, ref: float) -> NDArray[np.float64]:
        r"""The Lamperti distance :math:`\int_{\mathrm{ref}}^{x} du/\sigma(t, u)`: the state in units in which
        the noise is a standard Brownian motion (Monte Carlo's bridge test across a barrier ``ref``).

        By 8-point Gauss–Legendre at time ``t``; the families override it with the closed form
        (:math:`(x - r)/\sigma`, :math:`\ln(x/r)/\sigma`, :math:`2(\sqrt x - \sqrt r)/\sigma`). A zero
        volatility on the way gives an infinite distance.
        """
        x = np.asarray(x, dtype=float)
        z, w = _GAUSS_LEGENDRE
        half = 0.5 * (x - ref)
        u = (ref + half)[..., None] + half[..., None] * z
        with np.errstate(divide="ignore"):
            inv = 1.0 / self.diffusion(t, u.ravel()).reshape(u.shape)
        return np.asarray(half * (inv @ w))

    # -- exact laws (overridden where known) ----------------------------------
    #: whether :meth:`exact_step` consumes one standard normal per path (else it draws from ``rng``)
    exact_uses_normals: ClassVar[bool] = True

    def euler_step(self, dt: float) -> Step | None:
        r"""A fused in-place Euler–Maruyama step :math:`X' = X + b\Delta t + \sigma\sqrt{\Delta t}\,Z` for
        coefficients known in closed form, or None (Monte Carlo then evaluates :meth:`drift` and
        :meth:`diffusion` at every step). The capability behind the fast ``scheme="euler"``."""
        return None

    def milstein_step(self, dt: float) -> Step | None:
        r"""A fused in-place Milstein step (Euler plus :math:`\tfrac12\sigma\sigma'\Delta t(Z^2 - 1)`) for
        coefficients known in closed form, or None (the generic step with :meth:`diffusion_derivative`)."""
        return None

    def exact_step(self, dt: float) -> Step | None:
        r"""An in-place step that samples the exact law of :math:`X_{t+\Delta t}` given :math:`X_t`, or None.

        The capability behind Monte Carlo's ``scheme="exact"``: a process with a
        known transition law overrides this (and :meth:`transition`).
        """
        return None

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
        if t - s > MAX_HORIZON:  # sigma^2 (t - s) and mu (t - s) must not overflow
            raise ValueError(f"`t` - `s` = {t - s:g} years is out of range: the horizon must be <= {MAX_HORIZON:g}.")
        return t - s

    def _check_times(self, t: ArrayLike, s: float) -> NDArray[np.float64]:
        """:meth:`_check_time` for an array of times: the elapsed times ``t - s``."""
        ts = np.asarray(t, dtype=float)
        s = check_finite("s", s)
        if not np.all(np.isfinite(ts)):
            raise ValueError(f"`t` must be finite, got {ts[~np.isfinite(ts)][0]!r}.")
        if np.any(ts < s):
            raise ValueError(f"`t` must be >= `s`, got t={float(ts.min())}, s={s}.")
        tau = ts - s
        if np.any(tau > MAX_HORIZON):
            raise ValueError(f"`t` - `s` = {float(tau.max()):g} years is out of range: the horizon must be <= "
                             f"{MAX_HORIZON:g}.")
        return tau

    def _check_state(self, x0: float) -> float:
        x0 = check_finite("x0", x0)
        lo, hi = self.domain
        if not lo <= x0 <= hi:
            raise ValueError(f"`x0` = {x0} lies outside the domain {self.domain} of {self.name}.")
        return x0

