"""The calibration task: exact maximum-likelihood fit of the series a ``[calibration]`` table names.

``model`` is one of ``"ou"``, ``"cir"``, ``"gbm"`` or several (``"ou,cir,gbm"`` or a
list): then every model is fitted and compared (log-likelihood, AIC, BIC,
residual tests) and ``fit`` is the best by ``criterion`` (``"aic"`` or ``"bic"``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from gelav.tasks._base import ScenarioLike, TaskResult, read_table, settings, source_of

__all__ = ["FIELDS", "CalibrationReport", "calibrate", "data_path", "fit_tables", "read_calibration_table"]

FIELDS = ("data", "date_column", "value_column", "level", "result", "model", "criterion")


def read_calibration_table(scenario: Mapping[str, Any]) -> dict[str, Any]:
    """The validated fields of the ``[calibration]`` table."""
    return read_table(scenario, "calibration", FIELDS, lambda sec: {
        "data": sec.get("data"), "date_column": sec.get("date_column"), "value_column": sec.get("value_column"),
        "level": sec.number("level", check=lambda v: 0 < v < 1, expected="a number in (0, 1)"),
        "result": sec.get("result"), "model": _models(sec), "criterion": sec.choice("criterion", ("aic", "bic"))})


def _models(sec: Any) -> tuple[str, ...] | None:
    """The ``model`` field: one name or several (a comma-separated string or a list), each known, none twice."""
    from gelav.calibrate import MODELS

    v = sec.get("model")
    if v is None:
        return None
    expected = "model names among " + ", ".join(map(repr, MODELS)) + " (comma-separated or a list), each once"
    if not (isinstance(v, str) or (isinstance(v, list) and all(isinstance(x, str) for x in v))):
        raise sec.error("model", v, expected)
    try:
        return model_keys(v)
    except ValueError:
        raise sec.error("model", v, expected) from None


def model_keys(model: Any) -> tuple[str, ...]:
    """``"ou,cir"``, ``["ou", "cir"]`` or ``("ou",)`` as a tuple of model keys (``ValueError`` naming `model`)."""
    from gelav.calibrate import MODELS

    items = model.split(",") if isinstance(model, str) else list(model)
    keys = tuple(str(m).strip().lower() for m in items if str(m).strip())
    unknown = [m for m in keys if m not in MODELS]
    if not keys or unknown:
        raise ValueError(f"`model`: {', '.join(map(repr, unknown)) or 'nothing'} given; choose among "
                         f"{', '.join(MODELS)} (comma-separated).")
    if len(set(keys)) != len(keys):
        raise ValueError(f"`model` = {model!r} names a model twice.")
    return keys


def data_path(scenario: Mapping[str, Any], data: Any) -> Path | None:
    """The data file (relative paths are relative to the scenario file)."""
    if data is None:
        return None
    p = Path(str(data))
    if not p.is_absolute() and "_path" in scenario:
        p = Path(scenario["_path"]).parent / p
    return p


class CalibrationReport(TaskResult):
    """The fit (:class:`gelav.calibrate.OUFit`, or the CIR/GBM fit asked for, or the best of several) and
    the series it was fitted to; with several models, ``comparison`` (a
    :class:`gelav.calibrate.ModelComparison`), else None."""

    fit: Any = TaskResult.plotted_field()
    series: Any = None
    path: Any = None
    comparison: Any = None

    name = "calibrate"

    def to_dict(self) -> dict[str, Any]:
        return dict(self.fit.summary() if self.comparison is None else self.comparison.summary())

    def key_numbers(self) -> dict[str, Any]:
        f = self.fit
        out: dict[str, Any] = {}
        if self.comparison is not None:
            c = self.comparison
            out[f"best model by {c.criterion.upper()}"] = (c.best or "none").upper()
            for r in c.rows:
                m = r["model"].upper()
                for key, label in (("loglik", "log-likelihood"), ("aic", "AIC"), ("bic", "BIC")):
                    out[f"{label}, {m}"] = r[key] if math.isfinite(r[key]) else "does not apply"
        if f.model == "ou":
            out.update({"κ mean reversion [1/y]": f.kappa, "L̄ long-run level": f.mean, "σ volatility [1/√y]": f.sigma,
                        "half-life ln2/κ [y]": f.half_life, "stationary sd σ/√(2κ)": f.stationary_sd})
        else:
            out.update({f.labels.get(k, k): v for k, v in f.estimates.items()})
        out["observations"] = f.n_obs
        return out

    def tables(self) -> dict[str, dict[str, Any]]:
        return fit_tables(self.fit)


def fit_tables(fit: Any) -> dict[str, dict[str, Any]]:
    """The arrays of any fit (OU, CIR, GBM) for ``--export``: the series (``t`` in years, ``value``) and
    the one-step residuals at the end of each step (standardised for OU, probability-integral-transform
    normal scores for CIR and GBM)."""
    import numpy as np

    t = np.asarray(fit.times, dtype=float)
    res = np.asarray(fit.residuals, dtype=float)
    return {"series": {"t": t, "value": np.asarray(fit.values, dtype=float)},
            "residuals": {"t": t[t.size - res.size:], "residual": res}}


def calibrate(scenario: ScenarioLike = None, **options: Any) -> CalibrationReport:
    """Fit the model(s) ``model`` (default OU) to the ``data`` file of a scenario's ``[calibration]`` table
    (options override it)."""
    from gelav.calibrate import compare_models, fit_model, read_series
    from gelav.scenario import ScenarioError

    sc, s = settings("calibrate", scenario, options, FIELDS, read_calibration_table, table="calibration")
    path = data_path(sc, s.get("data"))
    if path is None or not path.exists():
        raise ScenarioError(f"{source_of(sc)}: [calibration] field `data` = {s.get('data')!r}: expected an existing "
                            "CSV or Parquet file (relative paths are relative to the scenario file).")
    keys = model_keys(s["model"])
    series = read_series(path, date_column=s["date_column"], value_column=s["value_column"])
    if len(keys) == 1:
        return CalibrationReport(inputs=s, fit=fit_model(keys[0], series, level=s["level"]), series=series, path=path)
    comparison = compare_models(series, models=keys, level=s["level"], criterion=s["criterion"])
    if comparison.best_fit is None:
        raise ValueError("no model could be fitted: " + "; ".join(f"{r['model']}: {r['note']}" for r in comparison.rows))
    return CalibrationReport(inputs=s, fit=comparison.best_fit, series=series, path=path, comparison=comparison)
