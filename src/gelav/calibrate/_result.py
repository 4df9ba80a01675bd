"""The result shared by :func:`~gelav.calibrate.fit_cir` and :func:`~gelav.calibrate.fit_gbm`.

A :class:`ParametricFit` holds the estimates with their standard errors, intervals
and covariance matrix (inverse observed information), the data, the probability-
integral-transform residuals :math:`z_i = \\Phi^{-1}(F(x_{i+1} \\mid x_i))` (iid
N(0, 1) when the model holds, whatever the transition law), residual tests and
notes; model-specific subclasses add named properties and the fitted process.
"""

from __future__ import annotations

import datetime as _dt
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, overload

import numpy as np
from numpy.typing import NDArray

__all__ = ["FitChecks", "Named", "ParametricFit", "fit_config"]


class Named:
    """A read-only attribute that is ``estimates[<its name>]`` (``CIRFit.kappa``, ``GBMFit.mu``, ...)."""

    def __init__(self, doc: str | None = None) -> None:
        self.__doc__ = doc

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, obj: None, owner: type | None = None) -> Named: ...
    @overload
    def __get__(self, obj: object, owner: type | None = None) -> float: ...
    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        return self if obj is None else obj.estimates[self.name]


@dataclass(frozen=True, eq=False)
class FitChecks:
    """The record every time-series fit (OU, CIR, GBM) holds after its estimates, and what each derives
    from it the same way: ``n_obs``, ``span``, ``adequate``, the information criteria and the estimate
    table with the likelihood, information criteria and test p-values appended.

    A fit is a dataclass whose bases are this record and, before it, its estimates
    (``ParametricFit(estimates, stderr, ...)``, ``OUFit(kappa, mean, sigma, stderr, ...)``): the
    estimates' fields come first.

    Attributes
    ----------
    stderr : dict
        Standard errors (observed information; delta method for derived quantities).
    conf_int : dict
        ``name -> (low, high)`` at ``level``.
    cov : ndarray, shape (k, k)
        Inverse observed information of the parameters, in ``parameters`` order.
    level : float
        Confidence level of the intervals.
    loglik : float
        Maximised log-likelihood of :math:`x_1, \\dots, x_n` given :math:`x_0` (a density in
        the data's units, comparable across models).
    times, values : ndarray
        The data (times in years since the first observation).
    dates : ndarray of datetime64 or None
        Calendar dates when given.
    residuals : ndarray
        One-step residuals, iid N(0, 1) under the model.
    goodness_of_fit : dict
        Ljung–Box, Kolmogorov–Smirnov and Jarque–Bera statistics and p-values of ``residuals``.
    notes : tuple of str
        Data handling and warnings.
    diagnostics : dict
        Optimiser, evaluations, timings.
    source : dict
        Where the data came from (file, columns).
    """

    stderr: dict[str, float]
    conf_int: dict[str, tuple[float, float]]
    cov: NDArray[np.float64]
    level: float
    loglik: float
    times: NDArray[np.float64]
    values: NDArray[np.float64]
    dates: NDArray[Any] | None
    residuals: NDArray[np.float64]
    goodness_of_fit: dict[str, dict[str, float]]
    notes: tuple[str, ...] = ()
    diagnostics: dict[str, Any] = field(default_factory=dict)
    source: dict[str, Any] = field(default_factory=dict)

    #: parameter names in ``cov`` order (their number is the k of the information criteria)
    parameters: ClassVar[tuple[str, ...]] = ()

    @property
    def n_obs(self) -> int:
        return int(self.values.size)

    @property
    def span(self) -> float:
        """Years between the first and the last observation."""
        return float(self.times[-1] - self.times[0])

    @property
    def adequate(self) -> bool:
        """True when no goodness-of-fit test rejects at the 1 % level."""
        return all(v["pvalue"] >= 0.01 for v in self.goodness_of_fit.values())

    @property
    def aic(self) -> float:
        """Akaike information criterion :math:`2k - 2\\hat\\ell`."""
        return 2.0 * len(self.parameters) - 2.0 * self.loglik

    @property
    def bic(self) -> float:
        """Bayesian information criterion :math:`k\\log n - 2\\hat\\ell` (n transitions)."""
        return len(self.parameters) * math.log(self.n_obs - 1) - 2.0 * self.loglik

    def _fit_table(self, title: str, rows: list[tuple[Any, ...]]) -> Any:
        """``rows`` (label, estimate, std. error, interval) then log-likelihood, AIC, BIC and the
        Ljung–Box, KS and Jarque–Bera p-values, as one :class:`~gelav._display.KeyTable`."""
        from gelav._display import KeyTable

        rows = [*rows, ("log-likelihood", self.loglik, None, None), ("AIC", self.aic, None, None),
                ("BIC", self.bic, None, None)]
        g = self.goodness_of_fit
        rows += [(f"{name} p-value", g[k]["pvalue"], None, None)
                 for name, k in (("Ljung–Box", "ljung_box"), ("KS", "ks"), ("Jarque–Bera", "jarque_bera"))]
        return KeyTable(f"{title} ({self.n_obs} observations, {self.span:.3g} years)", rows,
                        columns=("", "estimate", "std. error", f"{self.level:.0%} interval"), notes=self.notes)

    def _checks(self) -> dict[str, Any]:
        """The end of every fit's ``summary()``: residual tests, verdict, notes, source and diagnostics."""
        return {"goodness_of_fit": self.goodness_of_fit, "adequate": self.adequate, "notes": list(self.notes),
                "source": dict(self.source), "diagnostics": dict(self.diagnostics)}

    def _display(self) -> Any:  # pragma: no cover - defined by each fit
        raise NotImplementedError

    def _repr_html_(self) -> str:
        return str(self._display().html())

    def _repr_markdown_(self) -> str:
        return str(self._display().markdown())


@dataclass(frozen=True, eq=False)
class _Estimates:
    """The first field of a :class:`ParametricFit` (before the :class:`FitChecks` record)."""

    estimates: dict[str, float]


@dataclass(frozen=True, eq=False)
class ParametricFit(FitChecks, _Estimates):
    """Exact maximum-likelihood fit of a diffusion with named parameters.

    Attributes
    ----------
    estimates : dict
        ``name -> value`` of the parameters (``parameters`` order) and derived quantities.
    stderr, conf_int, cov, level, loglik, times, values, dates, residuals, goodness_of_fit, notes, diagnostics, source
        The record of every fit (:class:`FitChecks`); ``residuals`` are the probability-integral-transform
        residuals :math:`\\Phi^{-1}(F(x_{i+1} \\mid x_i))`.
    """

    #: model key (``"cir"``, ``"gbm"``), parameter names in ``cov`` order, SDE as text
    model: ClassVar[str] = ""
    parameters: ClassVar[tuple[str, ...]] = ()
    equation: ClassVar[str] = ""
    labels: ClassVar[dict[str, str]] = {}

    # -- derived (n_obs, span, adequate, aic, bic from FitChecks) ---------------
    @property
    def process(self) -> Any:  # pragma: no cover - overridden
        raise NotImplementedError

    # -- output ----------------------------------------------------------------
    def summary(self) -> dict[str, Any]:
        """Estimates, errors, intervals, covariance and checks as plain numbers (for JSON and tables)."""
        return {
            "model": self.model,
            "equation": self.equation,
            "estimates": dict(self.estimates),
            "stderr": dict(self.stderr),
            "conf_int": {k: list(v) for k, v in self.conf_int.items()},
            "parameters": list(self.parameters),
            "covariance": self.cov.tolist(),
            "level": self.level,
            "n_obs": self.n_obs,
            "span_years": self.span,
            "loglik": self.loglik,
            "aic": self.aic,
            "bic": self.bic,
            **self._checks(),
        }

    def to_config(self, *, title: str | None = None) -> dict[str, Any]:
        """A scenario dict: the fitted ``[process]``, a ``[calibration]`` record and the ``[fit]`` table
        (model, parameter names, estimates, covariance; see :func:`fit_config`)."""
        return fit_config(self, title=title)

    def _display(self) -> Any:
        rows: list[tuple[Any, ...]] = [(self.labels.get(k, k), self.estimates[k], self.stderr.get(k, math.nan),
                 self.conf_int.get(k, (math.nan, math.nan))) for k in self.estimates]
        return self._fit_table(f"{self.model.upper()} fit: {self.equation}", rows)

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}={self.estimates[k]:.4g} ± {self.stderr[k]:.2g}" for k in self.parameters)
        return f"{type(self).__name__}({inner}, n={self.n_obs}, span={self.span:.3g} y, loglik={self.loglik:.2f})"

    def plot(self, *, fig: Any = None) -> Any:
        """Four panels: data, PIT residuals over time, normal QQ plot, residual autocorrelation."""
        return plot_fit(self, fig=fig)


def fit_config(fit: Any, *, title: str | None = None) -> dict[str, Any]:
    """Scenario dict of any fit (OU, CIR, GBM): ``[process]``, ``[calibration]``, ``[fit]``.

    ``[fit]`` holds ``model`` (``"ou"``, ``"cir"``, ``"gbm"``), ``parameters`` (names, the
    order of the matrix), ``estimates``, ``stderr``, ``covariance`` (inverse observed
    information, a list of rows), ``level``, ``loglik``, ``aic``, ``bic``, ``n_obs``.
    """
    from gelav import __version__
    from gelav.scenario import process_to_config

    cal: dict[str, Any] = {}
    if fit.source.get("data"):
        cal["data"] = str(fit.source["data"])
    for k in ("date_column", "value_column"):
        if fit.source.get(k):
            cal[k] = str(fit.source[k])
    cal["level"] = float(fit.level)
    names = list(fit.parameters)
    est = {k: float(getattr(fit, k)) if hasattr(fit, k) else float(fit.estimates[k]) for k in names}
    cal["result"] = {
        "n_obs": fit.n_obs,
        "span_years": round(fit.span, 6),
        "loglik": fit.loglik,
        **{f"{k}_stderr": float(fit.stderr[k]) for k in names},
        **{f"{k}_ci": [float(fit.conf_int[k][0]), float(fit.conf_int[k][1])] for k in names},
        "gelav_version": __version__,
        "created": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    cov = np.asarray(fit.cov, dtype=float)
    fit_table = {
        "model": fit.model,
        "parameters": names,
        "estimates": [est[k] for k in names],
        "stderr": [float(fit.stderr[k]) for k in names],
        "covariance": [[float(v) for v in row] for row in cov],
        "level": float(fit.level),
        "loglik": float(fit.loglik),
        "aic": float(fit.aic),
        "bic": float(fit.bic),
        "n_obs": int(fit.n_obs),
    }
    name = Path(fit.source.get("data", "data")).name
    return {
        "title": title or f"{fit.model.upper()} model calibrated from {name}",
        "process": process_to_config(fit.process),
        "calibration": cal,
        "fit": fit_table,
    }


def plot_fit(fit: Any, *, fig: Any = None) -> Any:
    """The four goodness-of-fit panels of a :class:`ParametricFit`."""
    return fit_panels(fit, fig=fig)[0]


def fit_panels(fit: Any, *, fig: Any = None, residual_label: str = "PIT residual",
               suptitle: str | None = None) -> tuple[Any, Any]:
    """The figure of :func:`plot_fit` and its 2 × 2 axes (data, residuals over time, normal QQ plot,
    residual autocorrelation), for any fit (OU, CIR, GBM); a fit adds its own marks to the data panel."""
    from scipy import special

    from gelav.calibrate._common import acf
    from gelav.plot import STYLE, new_axes

    new_axes  # noqa: B018 - selects a headless backend when needed
    import matplotlib.pyplot as plt

    if fig is None:
        _f, _a = new_axes()
        plt.close(_f)
        with plt.rc_context(STYLE):  # type: ignore[arg-type]
            fig, axs = plt.subplots(2, 2, figsize=(10, 6.6), layout="constrained")
    else:
        axs = np.array(fig.subplots(2, 2))
    x_t: Any = fit.dates.astype("datetime64[D]").astype(object) if fit.dates is not None else fit.times
    xlabel = "date" if fit.dates is not None else "time t [years]"
    ax = axs[0, 0]
    ax.plot(x_t, fit.values, lw=0.8, color="C0", label="observed")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("value [units of the data]")
    ax.set_title(f"Data ({fit.model.upper()} fit)")
    ax.legend(loc="best", fontsize=8)
    ax = axs[0, 1]
    z = fit.residuals
    ax.plot(x_t[1:], z, ".", ms=2, color="C0", label=residual_label)
    ax.axhline(0, color="k", lw=0.6)
    for k in (-2, 2):
        ax.axhline(k, color="C3", lw=0.8, ls="--", label="±2" if k > 0 else None)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("residual [standard deviations]")
    ax.set_title(f"Residuals (Ljung–Box p = {fit.goodness_of_fit['ljung_box']['pvalue']:.2g})")
    ax.legend(loc="best", fontsize=8)
    ax = axs[1, 0]
    zs = np.sort(z)
    q = special.ndtri((np.arange(1, zs.size + 1) - 0.5) / zs.size)  # normal quantiles (= scipy.stats.norm.ppf)
    ax.plot(q, zs, ".", ms=3, color="C0", label="residual quantiles")
    lim = [min(q[0], zs[0]), max(q[-1], zs[-1])]
    ax.plot(lim, lim, color="C3", lw=1, label="N(0, 1)")
    ax.set_xlabel("normal quantile [sd]")
    ax.set_ylabel("residual quantile [sd]")
    ax.set_title(f"Normal QQ plot (KS p = {fit.goodness_of_fit['ks']['pvalue']:.2g})")
    ax.legend(loc="best", fontsize=8)
    ax = axs[1, 1]
    nl = int(fit.goodness_of_fit["ljung_box"]["lags"])
    rho = acf(z, nl)
    ax.bar(np.arange(1, nl + 1), rho, color="C0", width=0.6, label="autocorrelation")
    band = 1.96 / math.sqrt(z.size)
    ax.axhline(band, color="C3", ls="--", lw=0.8, label="±1.96/√n")
    ax.axhline(-band, color="C3", ls="--", lw=0.8)
    ax.set_xlabel("lag [observations]")
    ax.set_ylabel("autocorrelation [–]")
    ax.set_title("Residual autocorrelation")
    ax.legend(loc="best", fontsize=8)
    fig.suptitle(suptitle or f"{fit.model.upper()} calibration: goodness of fit")
    return fig, axs
