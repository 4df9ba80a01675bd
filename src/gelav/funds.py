"""Fund metrics and the liquidity-adjusted value of a fund stake (GELAV.md §4–5).

The public face of :mod:`gelav.valuation.metrics`, :mod:`gelav.valuation.cashflows`
and :mod:`gelav.valuation.lav`; see ``docs/funds.md`` for the formulas.
"""

from __future__ import annotations

from gelav.valuation.cashflows import FundCashflows, FundMetrics, read_cashflows
from gelav.valuation.lav import LAVResult, TakahashiAlexander, TASchedule, liquidity_adjusted_value
from gelav.valuation.metrics import (
    IRRResult,
    direct_alpha,
    dpi,
    generalised_pme,
    irr,
    la_irr,
    la_pme,
    liquidity_adjusted_flows,
    pme,
    rvpi,
    tvpi,
)

__all__ = [
    "FundCashflows",
    "FundMetrics",
    "IRRResult",
    "LAVResult",
    "TASchedule",
    "TakahashiAlexander",
    "direct_alpha",
    "dpi",
    "generalised_pme",
    "irr",
    "la_irr",
    "la_pme",
    "liquidity_adjusted_flows",
    "liquidity_adjusted_value",
    "pme",
    "read_cashflows",
    "rvpi",
    "tvpi",
]
