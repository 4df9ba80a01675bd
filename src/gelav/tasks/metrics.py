r"""The fund-metrics task: IRR, multiples, PME, Direct Alpha and the liquidity-adjusted LA-IRR and LA-PME.

The cash-flow file is named by the ``[metrics]`` table (``data``, with optional
``nav`` and column names); the premium :math:`\pi(L, T)` of the liquidity
adjustment comes from the ``[premium]`` table (:func:`gelav.tasks.premium.premium_model`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gelav._display import fmt_rate
from gelav.tasks._base import ScenarioLike, TaskResult, read_scenario, read_table

__all__ = ["FIELDS", "MetricsReport", "metrics"]

#: the fields of the ``[metrics]`` table and their kinds
FIELDS = {"data": "string", "nav": "number", "time_column": "string", "flow_column": "string",
          "liquidity_column": "string", "index_column": "string"}


def _irr_text(r: Any) -> Any:
    """A unique IRR as a number; otherwise the roots in words."""
    if r is None:
        return "not defined"
    if r.unique:
        return r.rate
    return "none" if r.status == "none" else "several: " + ", ".join(fmt_rate(x, 2) for x in r.roots)


class MetricsReport(TaskResult):
    """The cash flows (``cashflows``), their metrics (``metrics``) and the premium used (``premium``)."""

    cashflows: Any = TaskResult.plotted_field()
    metrics: Any = None
    premium: Any = None

    name = "metrics"

    def to_dict(self) -> dict[str, Any]:
        fc = self.cashflows
        return {"file": self.inputs["data"], "n_flows": len(fc), "nav": fc.nav, "columns": fc.columns,
                **self.metrics.as_dict()}

    def key_numbers(self) -> dict[str, Any]:
        m, fc = self.metrics, self.cashflows
        out: dict[str, Any] = {"cash flows": len(fc), "years of cash flows": float(fc.times[-1]),
                               "residual NAV": fc.nav, "IRR [per year]": _irr_text(m.irr), "TVPI": m.tvpi,
                               "DPI": m.dpi, "RVPI": m.rvpi}
        out["PME (Kaplan–Schoar)"] = "no benchmark index" if m.pme is None else m.pme
        out["Direct Alpha [per year, continuous]"] = (_irr_text(m.direct_alpha) if m.direct_alpha is not None
                                                      else "no benchmark index")
        out["LA-IRR [per year]"] = _irr_text(m.la_irr) if m.la_irr is not None else "no liquidity column"
        out["LA-PME"] = "needs a benchmark index and a liquidity column" if m.la_pme is None else m.la_pme
        return out

def metrics(scenario: ScenarioLike = None, *, data: str | Path | None = None, nav: float | None = None,
            time_column: str | None = None, flow_column: str | None = None, liquidity_column: str | None = None,
            index_column: str | None = None, alpha: float | None = None, beta: float | None = None,
            gamma: float | None = None, scaling: str | None = None) -> MetricsReport:
    """The metrics of the cash-flow file ``data`` (default ``[metrics] data``); options override the tables.

    Raises
    ------
    ScenarioError
        No file given, or a bad field in ``[metrics]`` or ``[premium]``.
    ValueError
        ``nav`` < 0, or a bad row or column of the file (named).
    """
    from gelav.funds import read_cashflows
    from gelav.scenario import ScenarioError
    from gelav.tasks._base import source_of
    from gelav.tasks.calibrate import data_path
    from gelav.tasks.premium import premium_model

    sc = read_scenario(scenario)
    table = read_table(sc, "metrics", FIELDS)
    given = {"nav": nav, "time_column": time_column, "flow_column": flow_column,
             "liquidity_column": liquidity_column, "index_column": index_column}
    v: dict[str, Any] = {**{k: table.get(k) for k in given}, **{k: x for k, x in given.items() if x is not None}}
    if v["nav"] is not None and v["nav"] < 0:
        raise ValueError(f"`nav` must be >= 0, got {v['nav']}.")
    path = Path(data) if data is not None else data_path(sc, table.get("data"))
    if path is None:
        raise ScenarioError(f"{source_of(sc)}: [metrics] needs the field `data` (a cash-flow CSV or Parquet file).")
    premium = premium_model(sc, alpha=alpha, beta=beta, gamma=gamma, scaling=scaling)
    fc = read_cashflows(path, **v)
    inputs = {"data": str(data if data is not None else table["data"]), **v, "premium": premium.to_dict()}
    return MetricsReport(inputs=inputs, cashflows=fc, metrics=fc.metrics(premium), premium=premium)
