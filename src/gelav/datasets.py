"""Small seeded synthetic data sets in the course's layouts (see :mod:`gelav.valuation.datasets`)."""

from __future__ import annotations

from gelav.valuation.datasets import Dataset, fund_cashflows, liquidity_history, secondary_trades

__all__ = ["Dataset", "fund_cashflows", "liquidity_history", "secondary_trades"]
