"""Workflow 4: IRR, TVPI, PME, Direct Alpha, LA-IRR and LA-PME of a fund file in the course's layout.

Generates a seeded synthetic fund (gelav.datasets.fund_cashflows: quarterly
`date, year, cashflow, L_t, benchmark_index`), reads it back with
gelav.funds.read_cashflows, prints every metric and checks the framework's
identities: LA metrics equal the plain ones with π ≡ 0, and LA-PME = PME·(1−π)/(1+π)
for a constant π.

Run:  MPLBACKEND=Agg python examples/funds_metrics.py
Files go to $GELAV_EXAMPLE_OUT (default: a fresh temporary folder).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import gelav
from gelav.cli._common import save_figure
from gelav.datasets import fund_cashflows
from gelav.funds import generalised_pme, la_pme, pme, read_cashflows


def main() -> Path:
    out = Path(os.environ.get("GELAV_EXAMPLE_OUT") or tempfile.mkdtemp(prefix="gelav_metrics_"))
    out.mkdir(parents=True, exist_ok=True)
    path = fund_cashflows(seed=2026).to_csv(out / "fund_cashflows.csv")
    f = read_cashflows(path)
    m = f.metrics(gelav.IlliquidityPremium())
    for k, v in m.as_dict().items():
        print(f"{k:>14}: {v}")
    gp = generalised_pme(f.flows, f.times, f.L, premium=gelav.IlliquidityPremium(), index=f.index)
    print(f"{'generalised PME':>14}: {gp:.4f}")
    zero = f.metrics(gelav.IlliquidityPremium(0.0, 0.0, 0.0))
    assert abs(zero.la_irr.rate - zero.irr.rate) < 1e-12 and abs(zero.la_pme - zero.pme) < 1e-12
    c = 0.1
    const = gelav.IlliquidityPremium(c, 0.0, 0.0, scaling="none")
    assert abs(la_pme(f.flows, f.times, f.L, f.index, premium=const) - pme(f.flows, f.index) * (1 - c) / (1 + c)) < 1e-12
    save_figure(f.plot(), str(out / "fund_cashflows.png"))
    return out


if __name__ == "__main__":
    main()
