"""The calibration task: exact maximum-likelihood OU fit of the series a ``[calibration]`` table names."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gelav.tasks._base import ScenarioLike, TaskResult, read_table, settings, source_of

__all__ = ["FIELDS", "CalibrationReport", "calibrate", "data_path", "read_calibration_table"]

FIELDS = ("data", "date_column", "value_column", "level", "result")


def read_calibration_table(scenario: Mapping[str, Any]) -> dict[str, Any]:
    """The validated fields of the ``[calibration]`` table."""
    return read_table(scenario, "calibration", FIELDS, lambda sec: {
        "data": sec.get("data"), "date_column": sec.get("date_column"), "value_column": sec.get("value_column"),
        "level": sec.number("level", check=lambda v: 0 < v < 1, expected="a number in (0, 1)"),
        "result": sec.get("result")})


def data_path(scenario: Mapping[str, Any], data: Any) -> Path | None:
    """The data file (relative paths are relative to the scenario file)."""
    if data is None:
        return None
    p = Path(str(data))
    if not p.is_absolute() and "_path" in scenario:
        p = Path(scenario["_path"]).parent / p
    return p


@dataclass(frozen=True)
class CalibrationReport(TaskResult):
    """The fit (:class:`gelav.calibrate.OUFit`) and the series it was fitted to."""

    fit: Any = None
    series: Any = None
    path: Any = None

    name = "calibrate"

    def to_dict(self) -> dict[str, Any]:
        return dict(self.fit.summary())

    def key_numbers(self) -> dict[str, Any]:
        f = self.fit
        return {"κ mean reversion [1/y]": f.kappa, "L̄ long-run level": f.mean, "σ volatility [1/√y]": f.sigma,
                "half-life ln2/κ [y]": f.half_life, "stationary sd σ/√(2κ)": f.stationary_sd,
                "observations": f.n_obs}

    def figures(self) -> dict[str, Any]:
        return {"calibrate": self.fit.plot()}


def calibrate(scenario: ScenarioLike = None, **options: Any) -> CalibrationReport:
    """Fit the OU model to the ``data`` file of a scenario's ``[calibration]`` table (options override it)."""
    from gelav.calibrate import fit_ou, read_series
    from gelav.scenario import ScenarioError

    sc, s = settings("calibrate", scenario, options, FIELDS, read_calibration_table, table="calibration")
    path = data_path(sc, s.get("data"))
    if path is None or not path.exists():
        raise ScenarioError(f"{source_of(sc)}: [calibration] field `data` = {s.get('data')!r}: expected an existing "
                            "CSV or Parquet file (relative paths are relative to the scenario file).")
    series = read_series(path, date_column=s["date_column"], value_column=s["value_column"])
    fit = fit_ou(series, level=s["level"])
    return CalibrationReport(inputs=s, fit=fit, series=series, path=path)
