r"""Calibration of geometric Brownian motion by exact (log-normal) maximum likelihood.

For :math:`dL = \mu L\,dt + \sigma L\,dW` the log-returns over any steps
:math:`\Delta_i` are independent,
:math:`r_i = \log(x_{i+1}/x_i) \sim N(\nu\Delta_i, \sigma^2\Delta_i)` with
:math:`\nu = \mu - \sigma^2/2`. The likelihood is maximised in closed form,

.. math::

    \hat\nu = \frac{\sum_i r_i}{\sum_i \Delta_i} = \frac{\log(x_n/x_0)}{T},\qquad
    \hat\sigma^2 = \frac1n\sum_i \frac{(r_i - \hat\nu\Delta_i)^2}{\Delta_i},\qquad
    \hat\mu = \hat\nu + \hat\sigma^2/2,

and the log-likelihood of the levels, :math:`\ell = \sum_i \log\varphi(r_i) - \log x_{i+1}`
(with the Jacobian, so it compares with the OU and CIR likelihoods). The observed
information is exact: :math:`\operatorname{Var}\hat\nu = \sigma^2/T`,
:math:`\operatorname{Var}\hat\sigma = \sigma^2/2n`, independent, so
:math:`\operatorname{Var}\hat\mu = \sigma^2/T + \sigma^4/2n` and
:math:`\operatorname{Cov}(\hat\mu, \hat\sigma) = \sigma^3/2n`. Intervals are exact
for :math:`\sigma` (:math:`n\hat\sigma^2/\sigma^2 \sim \chi^2_{n-1}`) and
:math:`\nu` (Student t), delta-method for :math:`\mu`. Residuals
:math:`(r_i - \hat\nu\Delta_i)/(\hat\sigma\sqrt{\Delta_i})` are iid N(0, 1) under the model.
"""

from __future__ import annotations

import math
import time as _time
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from numpy.typing import ArrayLike

from gelav.calibrate._common import prepare, residual_tests, step_diagnostics
from gelav.calibrate._result import Named, ParametricFit
from gelav.calibrate.cir import check_level

__all__ = ["GBMFit", "fit_gbm"]


@dataclass(frozen=True, eq=False, repr=False)
class GBMFit(ParametricFit):
    r"""Exact maximum-likelihood fit of :math:`dL = \mu L\,dt + \sigma L\,dW`.

    ``estimates`` holds ``mu`` (drift rate, 1/year), ``sigma`` (volatility, 1/√year) and
    the derived ``log_drift`` :math:`\nu = \mu - \sigma^2/2` (the growth rate of
    :math:`\log L`, 1/year). No mean reversion: half-life and stationary law do not apply.
    """

    model: ClassVar[str] = "gbm"
    parameters: ClassVar[tuple[str, ...]] = ("mu", "sigma")
    equation: ClassVar[str] = "dL = μL dt + σL dW"
    labels: ClassVar[dict[str, str]] = {"mu": "μ drift [1/y]", "sigma": "σ volatility [1/√y]",
                                        "log_drift": "ν = μ − σ²/2 [1/y]"}

    mu = Named()
    sigma = Named()
    log_drift = Named()

    @property
    def process(self) -> Any:
        """The fitted :class:`~gelav.processes.GeometricBrownianMotion`."""
        from gelav.processes import GeometricBrownianMotion

        return GeometricBrownianMotion(mu=self.mu, sigma=self.sigma)


def fit_gbm(
    times_or_dates: ArrayLike | Any,
    values: ArrayLike | None = None,
    *,
    level: float = 0.95,
    lags: int | None = None,
) -> GBMFit:
    r"""Fit geometric Brownian motion by exact maximum likelihood (closed form).

    .. math::

        \log\frac{L_{t_{i+1}}}{L_{t_i}} \sim N\big((\mu - \tfrac12\sigma^2)\Delta_i,\ \sigma^2\Delta_i\big).

    Parameters
    ----------
    times_or_dates, values
        As for :func:`~gelav.calibrate.fit_ou`; values must be > 0.
    level : float
        Confidence level of the intervals, in (0, 1).
    lags : int, optional
        Ljung–Box lags (default ``min(20, n // 5)``).

    Returns
    -------
    GBMFit

    Raises
    ------
    ValueError
        Too few points, constant, non-finite or non-positive values (naming the entry or file
        row), times not increasing, a bad ``level``.

    Examples
    --------
    Five years of weekly observations drawn from the exact (log-normal) transition law:

    >>> from gelav import GeometricBrownianMotion, simulate
    >>> from gelav.calibrate import fit_gbm
    >>> weekly = simulate(GeometricBrownianMotion(mu=0.03, sigma=0.2), 1.0, 5.0, 260, 2, scheme="exact", save="all", seed=0)
    >>> fit = fit_gbm(weekly.times, weekly.values[:, 0])
    >>> bool(fit.conf_int["sigma"][0] < 0.2 < fit.conf_int["sigma"][1])
    True
    """
    from scipy import stats

    t_start = _time.perf_counter()
    level = check_level(level)
    t, dates, x, src, notes = prepare(times_or_dates, values, model="GBM", positive=True)
    dt = np.diff(t)
    r = np.diff(np.log(x))
    n, T = dt.size, float(t[-1] - t[0])
    nu = float(r.sum() / T)
    res = r - nu * dt
    s2 = float(np.sum(res**2 / dt) / n)
    sigma = math.sqrt(s2)
    mu = nu + s2 / 2
    loglik = float(np.sum(stats.norm.logpdf(r, nu * dt, sigma * np.sqrt(dt)) - np.log(x[1:])))
    # exact inverse information in (mu, sigma): nu and sigma independent
    v_nu, v_sig = s2 / T, s2 / (2 * n)
    cov = np.array([[v_nu + sigma**2 * v_sig, sigma * v_sig], [sigma * v_sig, v_sig]])
    tq = float(stats.t.ppf(0.5 + level / 2, n - 1))
    zq = float(stats.norm.ppf(0.5 + level / 2))
    s_unb = math.sqrt(n * s2 / (n - 1))
    chi_lo, chi_hi = stats.chi2.ppf(0.5 - level / 2, n - 1), stats.chi2.ppf(0.5 + level / 2, n - 1)
    est = {"mu": mu, "sigma": sigma, "log_drift": nu}
    stderr = {"mu": math.sqrt(cov[0, 0]), "sigma": math.sqrt(cov[1, 1]), "log_drift": math.sqrt(v_nu)}
    conf_int = {
        "mu": (mu - zq * stderr["mu"], mu + zq * stderr["mu"]),
        "sigma": (math.sqrt(n * s2 / chi_hi), math.sqrt(n * s2 / chi_lo)),
        "log_drift": (nu - tq * s_unb / math.sqrt(T), nu + tq * s_unb / math.sqrt(T)),
    }
    z = res / (sigma * np.sqrt(dt))
    gof = residual_tests(z, lags, n_ar=0)
    if T * nu**2 < s2:
        notes.append(f"the drift is not significant over {T:.3g} years (|ν̂|√T/σ̂ = {abs(nu) * math.sqrt(T) / sigma:.2g} < 1)")
    diagnostics = {
        "method": "exact maximum likelihood (closed form), exact information; exact χ² / t intervals for σ, ν",
        **step_diagnostics(dt),
        "seconds": _time.perf_counter() - t_start,
    }
    return GBMFit(estimates=est, stderr=stderr, conf_int=conf_int, cov=cov, level=level, loglik=loglik,
                  times=t - t[0], values=x, dates=dates, residuals=z, goodness_of_fit=gof, notes=tuple(notes),
                  diagnostics=diagnostics, source=src)
