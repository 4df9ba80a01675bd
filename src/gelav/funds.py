"""Fund metrics and the liquidity-adjusted value of a fund stake (GELAV.md §4–5).

The public face of :mod:`gelav.valuation.metrics`, :mod:`gelav.valuation.cashflows`
and :mod:`gelav.valuation.lav`; see ``docs/funds.md`` for the formulas.
"""

from gelav.valuation import cashflows as _cashflows
from gelav.valuation import lav as _lav
from gelav.valuation import metrics as _metrics
from gelav.valuation.cashflows import *  # noqa: F403
from gelav.valuation.lav import *  # noqa: F403
from gelav.valuation.metrics import *  # noqa: F403

__all__ = sorted({*_cashflows.__all__, *_lav.__all__, *_metrics.__all__})
