"""Workflow: when should an LP sell a fund stake? The exit boundary L*(t) (GELAV.md §3).

1. The course's set-up without carry (g = δ = c = 0): the exit set is a band around
   the premium's minimum L = −β/2γ ≈ 0.595 — every typical LP "should" sell now.
2. With the carry (NAV earning r = 8 %, a stress cost c(L) = 0.5·max(−L, 0)): exit
   only in stress, below L*(t) < 0; its value, smooth pasting, convergence order.
3. Monte Carlo of the exit rule from L₀ = 0 against the PDE value; the grid indicator of L*(t)
   against a run on 2,400 cells.
4. Sensitivities of L*(0) to κ, σ and r.

Every number docs/valuation.md quotes comes from ``compute()`` (tests/test_valuation_docs.py).
Run:  MPLBACKEND=Agg python examples/valuation_exit_boundary.py   (figures to $GELAV_EXAMPLE_OUT)
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import gelav


def compute() -> dict[str, Any]:
    no_carry = gelav.exit_boundary(nav_growth=0.0, distribution_rate=0.0, holding_cost=0.0)
    eb = gelav.exit_boundary()  # defaults: r = g = 8 %, δ = 0, c(L) = 0.5·max(−L, 0), T = 10, L in [−3, 3]
    return {
        "no_carry": no_carry, "eb": eb,
        "conv": eb.convergence(0.0),
        "check": eb.grid_check(),  # the grid indicator gelav exit-boundary prints
        "fine": gelav.exit_boundary(n_cells=2400, n_steps=3200),  # what it is measured against
        "mc": eb.monte_carlo(0.0, 40_000, seed=2026),
        "sens": {p: eb.sensitivity(p)["derivative"][0] for p in ("kappa", "sigma", "r")},
    }


def quoted(res: dict[str, Any]) -> dict[str, str]:
    eb, nc = res["eb"], res["no_carry"]
    (lo, hi), = nc.stopping_region(0.0)
    (elo, ehi), = eb.stopping_region(0.0)
    b = eb.boundary()
    out = {
        "band": f"[{lo:.2f}, {hi:.2f}]",
        "region": f"[{elo:.2f}, {ehi:.2f}]",
        "L*0": f"{b[0]:.3f}",
        "L*5": f"{eb.boundary(5.0):.3f}",
        "L*9": f"{eb.boundary(9.0):.3f}",
        "V0": f"{eb.value(0.0, 0.0):.5f}",
        "order": f"{res['conv']['order']:.2f}",
        "mc": f"{res['mc'].value:.5f} ± {res['mc'].stderr:.5f}",
        "sp": f"{eb.smooth_pasting(0.0)['relative_jump']:.3f}",
        "indicator": f"± {res['check']['indicator']:.3f}",
        "fine L*0": f"{res['fine'].boundary(0.0):.4f}",
        "fine L*5": f"{res['fine'].boundary(5.0):.4f}",
        "fine L*9": f"{res['fine'].boundary(9.0):.4f}",
        "largest error": f"{max(abs(eb.boundary(t) - res['fine'].boundary(t)) for t in range(10)):.4f}",
    }
    for p, v in res["sens"].items():
        out[f"d_{p}"] = f"{v:.3f}"
    return out


def main() -> Path:
    out = Path(os.environ.get("GELAV_EXAMPLE_OUT") or tempfile.mkdtemp(prefix="gelav_exit_"))
    out.mkdir(parents=True, exist_ok=True)
    res = compute()
    eb = res["eb"]
    print(eb)
    assert abs(res["mc"].value - eb.value(0.0, 0.0)) < 4 * res["mc"].stderr + 1e-4  # the rule is optimal
    assert 1.7 < res["conv"]["order"] < 2.3
    for k, v in quoted(res).items():
        print(f"{k:>8}: {v}")
    eb.plot().savefig(out / "exit_boundary.png", dpi=100)
    res["no_carry"].plot().savefig(out / "exit_band_no_carry.png", dpi=100)
    return out


if __name__ == "__main__":
    print(f"figures in {main()}")
