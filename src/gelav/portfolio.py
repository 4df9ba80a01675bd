"""Portfolio stress under liquidity scenarios (GELAV.md §8).

The public face of :mod:`gelav.valuation.stress`: :class:`Fund`, :class:`Scenario`
(the six standard paths, custom and OU paths), :func:`stress_portfolio` (marks,
exits, drawdown from the t = 0 mark) and :func:`mark_distribution` (VaR and ES
of the portfolio mark from the Fokker–Planck density).
"""

from __future__ import annotations

from gelav.valuation.stress import (
    SCENARIOS,
    Fund,
    MarkDistribution,
    PortfolioStress,
    Scenario,
    mark_distribution,
    stress_portfolio,
)

__all__ = ["SCENARIOS", "Fund", "MarkDistribution", "PortfolioStress", "Scenario", "mark_distribution",
           "stress_portfolio"]
