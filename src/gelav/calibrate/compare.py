r"""Comparing the liquidity models on one series: log-likelihood, AIC, BIC and residual tests.

All three likelihoods are densities of the same observations :math:`x_1, \dots, x_n`
given :math:`x_0`, in the data's units (the GBM one includes the Jacobian of the
log transform), so they compare directly:

.. math:: \mathrm{AIC} = 2k - 2\hat\ell,\qquad \mathrm{BIC} = k\log n - 2\hat\ell,

with :math:`k` fitted parameters (3 for OU and CIR, 2 for GBM) and :math:`n`
transitions; the smallest wins. A model that does not apply (CIR and GBM need
values > 0) gets a note instead of numbers; so does one whose fit fails.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from gelav.calibrate._common import prepare
from gelav.calibrate.cir import fit_cir
from gelav.calibrate.gbm import fit_gbm
from gelav.calibrate.ou import fit_ou

__all__ = ["MODELS", "ModelComparison", "compare_models", "fit_model"]

#: model key -> (estimator, number of parameters, equation, needs positive values)
MODELS: dict[str, tuple[Callable[..., Any], int, str, bool]] = {
    "ou": (fit_ou, 3, "dL = κ(L̄ − L)dt + σ dW", False),
    "cir": (fit_cir, 3, "dL = κ(L̄ − L)dt + σ√L dW", True),
    "gbm": (fit_gbm, 2, "dL = μL dt + σL dW", True),
}


def _model_key(name: Any) -> str:
    if not isinstance(name, str):
        raise TypeError(f"`models` entries must be model names, got {type(name).__name__}.")
    key = name.strip().lower()
    if key not in MODELS:
        raise ValueError(f"Unknown model {name!r} in `models`; the models are {', '.join(MODELS)}.")
    return key


def fit_model(model: str, times_or_dates: Any, values: ArrayLike | None = None, **kw: Any) -> Any:
    """Fit the model named ``model`` (``"ou"``, ``"cir"``, ``"gbm"``) with its estimator."""
    return MODELS[_model_key(model)][0](times_or_dates, values, **kw)


@dataclass(frozen=True, eq=False)
class ModelComparison:
    """Result of :func:`compare_models`.

    Attributes
    ----------
    rows : list of dict
        One per model asked for, in order: ``model``, ``equation``, ``k``, ``loglik``,
        ``aic``, ``bic``, ``ljung_box_p``, ``ks_p``, ``jarque_bera_p``, ``adequate``,
        ``delta_aic`` (to the best) and ``note`` (why a model has no numbers, or its
        warnings); numbers are NaN when the model does not apply.
    fits : dict
        ``model -> fit`` for the models that were fitted.
    criterion : str
        ``"aic"`` or ``"bic"``, the one ``best`` minimises.
    n_obs : int
        Observations in the series.
    """

    rows: list[dict[str, Any]]
    fits: dict[str, Any]
    criterion: str = "aic"
    n_obs: int = 0
    notes: tuple[str, ...] = field(default=())

    @property
    def best(self) -> str | None:
        """The fitted model with the smallest criterion (None when none applies)."""
        ok = [r for r in self.rows if math.isfinite(r[self.criterion])]
        return min(ok, key=lambda r: r[self.criterion])["model"] if ok else None

    @property
    def best_fit(self) -> Any:
        return self.fits.get(self.best) if self.best else None

    def summary(self) -> dict[str, Any]:
        """Rows, the best model and the criterion, as plain data (NaN → None for JSON)."""
        def clean(v: Any) -> Any:
            return None if isinstance(v, float) and not math.isfinite(v) else v

        return {"criterion": self.criterion, "best": self.best, "n_obs": self.n_obs,
                "models": [{k: clean(v) for k, v in r.items()} for r in self.rows],
                "fits": {k: f.summary() for k, f in self.fits.items()}, "notes": list(self.notes)}

    def _display(self) -> Any:
        from gelav._display import KeyTable

        rows = [(r["model"].upper(), r["loglik"], r["aic"], r["bic"], r["ljung_box_p"], r["ks_p"],
                 r["jarque_bera_p"], r["note"] or "") for r in self.rows]
        return KeyTable(f"Model comparison ({self.n_obs} observations; best by {self.criterion.upper()}: "
                        f"{(self.best or 'none').upper()})", rows,
                        columns=("model", "log-likelihood", "AIC", "BIC", "Ljung–Box p", "KS p", "Jarque–Bera p",
                                 "note"), notes=self.notes)

    def _repr_html_(self) -> str:
        return str(self._display().html())

    def _repr_markdown_(self) -> str:
        return str(self._display().markdown())

    def __repr__(self) -> str:
        inner = ", ".join(f"{r['model']}: AIC {r['aic']:.2f}" if math.isfinite(r["aic"]) else f"{r['model']}: n/a"
                          for r in self.rows)
        return f"ModelComparison({inner}; best={self.best})"


def compare_models(
    times_or_dates: Any,
    values: ArrayLike | None = None,
    *,
    models: Sequence[str] = ("ou", "cir", "gbm"),
    criterion: str = "aic",
    level: float = 0.95,
    lags: int | None = None,
) -> ModelComparison:
    """Fit several models to one series and compare them (log-likelihood, AIC, BIC, residual tests).

    Parameters
    ----------
    times_or_dates, values
        The series (a :class:`~gelav.calibrate.TimeSeries` alone, or times/dates and values).
    models : sequence of str
        Model names among ``"ou"``, ``"cir"``, ``"gbm"`` (a comma-separated string is accepted).
    criterion : {"aic", "bic"}
        What :attr:`ModelComparison.best` minimises.
    level, lags
        Passed to every estimator.

    Returns
    -------
    ModelComparison

    Raises
    ------
    ValueError
        Unknown or repeated model name, bad ``criterion``, or a series no model can use
        (too short, constant, non-finite, unsorted — naming the entry).

    Examples
    --------
    >>> import numpy as np
    >>> from gelav.calibrate import compare_models
    >>> rng = np.random.default_rng(0)
    >>> x = [1.0]
    >>> for _ in range(520): x.append(1 + (x[-1] - 1) * np.exp(-0.5 / 52) + 0.03 * rng.standard_normal())
    >>> compare_models(np.arange(521) / 52, x).best in ("ou", "cir", "gbm")
    True
    """
    if isinstance(models, str):
        models = [m for m in models.split(",") if m.strip()]
    keys = [_model_key(m) for m in models]
    if not keys:
        raise ValueError("`models` is empty; give at least one of " + ", ".join(MODELS) + ".")
    if len(set(keys)) != len(keys):
        raise ValueError(f"`models` names a model twice: {list(models)}.")
    if criterion not in ("aic", "bic"):
        raise ValueError(f"`criterion` must be 'aic' or 'bic', got {criterion!r}.")
    t, dates, x, src, notes = prepare(times_or_dates, values, model="any")
    series: Any = times_or_dates if values is None else None
    n = x.size - 1
    rows: list[dict[str, Any]] = []
    fits: dict[str, Any] = {}
    nan = float("nan")
    for key in keys:
        est, k, eq, positive = MODELS[key]
        row: dict[str, Any] = {"model": key, "equation": eq, "k": k, "loglik": nan, "aic": nan, "bic": nan,
                               "ljung_box_p": nan, "ks_p": nan, "jarque_bera_p": nan, "adequate": None,
                               "delta_aic": nan, "note": ""}
        if positive and float(np.min(x)) <= 0:
            nbad = int(np.sum(x <= 0))
            row["note"] = (f"does not apply: {nbad} value{'s' if nbad > 1 else ''} ≤ 0 "
                           f"(minimum {float(np.min(x)):.4g}); {key.upper()} lives on (0, ∞)")
            rows.append(row)
            continue
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                fit = est(series, level=level, lags=lags) if series is not None else est(
                    times_or_dates, values, level=level, lags=lags)
            except (ValueError, RuntimeError) as exc:
                row["note"] = f"fit failed: {exc}"
                rows.append(row)
                continue
        ll = float(fit.loglik)
        g = fit.goodness_of_fit
        row.update(loglik=ll, aic=2 * k - 2 * ll, bic=k * math.log(n) - 2 * ll,
                   ljung_box_p=g["ljung_box"]["pvalue"], ks_p=g["ks"]["pvalue"],
                   jarque_bera_p=g["jarque_bera"]["pvalue"], adequate=bool(fit.adequate))
        msgs = sorted({str(w.message) for w in caught})
        if msgs:
            row["note"] = "; ".join(msgs)
        fits[key] = fit
        rows.append(row)
    best = min((r["aic"] for r in rows if math.isfinite(r["aic"])), default=nan)
    for r in rows:
        r["delta_aic"] = r["aic"] - best if math.isfinite(r["aic"]) else nan
    _ = (t, dates, src)
    return ModelComparison(rows=rows, fits=fits, criterion=criterion, n_obs=int(x.size), notes=tuple(notes))
