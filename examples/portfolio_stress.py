"""Workflows 7 and 8: a portfolio under the six standard liquidity paths, then VaR/ES of its mark.

Marks NAV·(1 − π(L_t, T − t)) along mild, recession, gfc, covid, stagnation and
reverse (GELAV.md §8), with exits under the exit boundary L*(t) of
gelav.exit_boundary, and reports the drawdown from the t = 0 mark next to the
course's drawdown from book NAV (which includes the starting discount). Then
the one-year loss law from the Fokker–Planck density, checked against Monte
Carlo of L.

Run:  MPLBACKEND=Agg python examples/portfolio_stress.py
Files go to $GELAV_EXAMPLE_OUT (default: a fresh temporary folder).
"""

from __future__ import annotations

import math
import os
import tempfile
from pathlib import Path

import numpy as np

import gelav
from gelav.cli._common import save_figure
from gelav.montecarlo import simulate
from gelav.portfolio import SCENARIOS, Fund, mark_distribution, stress_portfolio


def main() -> Path:
    out = Path(os.environ.get("GELAV_EXAMPLE_OUT") or tempfile.mkdtemp(prefix="gelav_portfolio_"))
    out.mkdir(parents=True, exist_ok=True)
    prem = gelav.IlliquidityPremium()
    funds = [Fund("Buyout 2018", 100.0, 6.0), Fund("Venture 2020", 50.0, 9.0, type="venture"),
             Fund("Infra 2015", 80.0, 3.0, type="infrastructure")]
    eb = gelav.exit_boundary(fund_life=10.0)
    for name in SCENARIOS:
        s = stress_portfolio(funds, name, premium=prem, boundary=eb)
        exits = {k: v for k, v in s.exit_month.items() if v is not None}
        print(f"{name:>10}: drawdown {s.max_drawdown:7.2%} from the t = 0 mark, {s.drawdown_from_book.min():7.2%} "
              f"from book; recovery {s.recovery_month}; exits {exits or 'none'}")
        save_figure(s.plot(), str(out / f"stress_{name}.png"))
    ou = gelav.OrnsteinUhlenbeck(0.45, 1.0, 0.32)
    d = mark_distribution(funds, 1.0, process=ou, L0=0.0, premium=prem, levels=(0.95, 0.99))
    x = simulate(ou, 0.0, 1.0, 1, 200_000, scheme="exact", seed=3).values[-1]
    loss = d.start_mark - sum(f.nav * (1 - prem(x, f.remaining_life - 1.0)) for f in funds)
    for q in d.levels:
        p = float(np.mean(loss <= d.var[q]))
        print(f"level {q}: VaR {d.var[q]:.3f}, ES {d.es[q]:.3f}; Monte Carlo P(loss <= VaR) = {p:.4f}")
        assert abs(p - q) < 4 * math.sqrt(q * (1 - q) / x.size) + 1e-3
    save_figure(d.plot(), str(out / "loss_distribution.png"))
    return out


if __name__ == "__main__":
    main()
