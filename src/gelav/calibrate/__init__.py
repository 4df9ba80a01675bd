r"""Calibration of the liquidity models from a time series, and their comparison.

* :func:`fit_ou` — Ornstein–Uhlenbeck :math:`dL = \kappa(\bar L - L)dt + \sigma dW`
  (exact Gaussian transition, :mod:`gelav.calibrate.ou`);
* :func:`fit_cir` — Cox–Ingersoll–Ross :math:`dL = \kappa(\bar L - L)dt + \sigma\sqrt{L}\,dW`
  (exact non-central :math:`\chi^2` transition, :mod:`gelav.calibrate.cir`);
* :func:`fit_gbm` — geometric Brownian motion :math:`dL = \mu L\,dt + \sigma L\,dW`
  (exact log-normal transition, :mod:`gelav.calibrate.gbm`);
* :func:`compare_models` — log-likelihood, AIC, BIC and residual tests of several
  models on one series (:mod:`gelav.calibrate.compare`);
* :func:`read_series` — a date and a value column from CSV or Parquet
  (:mod:`gelav.calibrate.io`).

Every estimator is exact maximum likelihood conditional on the first observation,
with any (unequal) time steps; standard errors come from the observed information
and every fit carries the covariance matrix of its estimates (``cov``), residual
diagnostics and ``to_config()`` for scenario files. Times are in years.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gelav._package import lazy_getattr

if TYPE_CHECKING:
    from gelav.calibrate._common import MIN_OBSERVATIONS
    from gelav.calibrate.cir import CIRFit, fit_cir
    from gelav.calibrate.compare import MODELS, ModelComparison, compare_models, fit_model
    from gelav.calibrate.gbm import GBMFit, fit_gbm
    from gelav.calibrate.io import DAYS_PER_YEAR, TimeSeries, read_series
    from gelav.calibrate.ou import OUFit, fit_ou

# Lazy: reading a series (the valuation commands' CSV/Parquet readers) must not import
# scipy.optimize / scipy.stats, which only the estimators need.
_LAZY = {
    "MIN_OBSERVATIONS": "_common",
    "CIRFit": "cir", "fit_cir": "cir",
    "MODELS": "compare", "ModelComparison": "compare", "compare_models": "compare", "fit_model": "compare",
    "GBMFit": "gbm", "fit_gbm": "gbm",
    "DAYS_PER_YEAR": "io", "TimeSeries": "io", "read_series": "io",
    "OUFit": "ou", "fit_ou": "ou",
}


__getattr__ = lazy_getattr(__name__, globals(), _LAZY)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


__all__ = [
    "DAYS_PER_YEAR",
    "MIN_OBSERVATIONS",
    "MODELS",
    "CIRFit",
    "GBMFit",
    "ModelComparison",
    "OUFit",
    "TimeSeries",
    "compare_models",
    "fit_cir",
    "fit_gbm",
    "fit_model",
    "fit_ou",
    "read_series",
]
