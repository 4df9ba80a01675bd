"""The Pigouvian tax τ*(L) and the welfare gap for the seed scenario and the crisis and fire-sale presets.

Prints, for each scenario, τ*(t0, L) at the course's liquidity states, the welfare gap
(planner − equilibrium; present value and per year as a fraction of NAV), the price of
anarchy and the share of the gap the course's flat constants close; then the downward
spiral test (exits with and without fire-sale feedback; exits as the price impact rises).
Every number printed here is checked below and quoted in docs/tutorials/welfare.md.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import numpy as np

from gelav.mfg import LPType, Market, MFGModel, Numerics, scenario, solve, solve_planner, welfare
from gelav.mfg.accounts import welfare_figure

OUT = Path(os.environ.get("GELAV_EXAMPLE_OUT", "."))
NUM = Numerics(n_cells=32, n_steps=32, epsilon=1e-2)
COURSE = {0.0: 0.0, -0.5: 0.015, -1.0: 0.04, -1.5: 0.07, -2.0: 0.11}  # GELAV.md §7, Table 24.2


def course_tax(t: float, L: np.ndarray) -> np.ndarray:
    """The course's τ*(L): piecewise linear through its table, 0 for L ≥ 0, capped at 15 %."""
    xs = np.array(sorted(COURSE))
    v = np.interp(L, xs, [COURSE[x] for x in xs], left=np.nan, right=0.0)
    slope = (0.11 - 0.07) / 0.5
    v = np.where(L < -2.0, 0.11 + slope * (-2.0 - L), v)
    return np.minimum(v, 0.15)


rows = {}
for name in ("stress", "crisis", "fire-sale"):
    model = scenario(name).model
    P = solve_planner(model, numerics=NUM)
    w = welfare(P)
    eq_course = solve(replace(model, market=replace(model.market, tax=course_tax)), numerics=NUM,
                      grid=P.allocation.grid, time_grid=P.allocation.time_grid, no_feedback=False)
    wc = welfare(eq_course, planner=P)
    rows[name] = (w, wc, P)
    taus = "  ".join(f"{L:+.1f}: {100 * v:+.2f}%" for L, v in ((float(k), v) for k, v in w.tax_at_start.items()))
    print(f"{name:10s} tau*(t0, L) {taus}")
    print(f"{'':10s} gap {w.gap:.5f} NAV = {100 * w.gap_per_year:.3f} %/yr of NAV, price of anarchy "
          f"{w.price_of_anarchy:.5f}; exits {P.equilibrium.cumulative_exits[0, -1]:.3f} (game) vs "
          f"{P.cumulative_exits[0, -1]:.3f} (planner)"
          + (f"; course tax closes {100 * wc.share_closed:.0f} % of the gap" if w.gap > 0 else "; no gap"))
    welfare_figure(P).savefig(OUT / f"welfare_{name}.png", dpi=100)
    assert P.converged and P.diagnostics["mass_balance_error"] < 1e-12 and P.diagnostics["duality_error"] < 1e-12
    assert w.gap >= 0 and w.price_of_anarchy >= 1

# the downward spiral: falling prices push liquidity down (η > 0) -> more exits
start = LPType(initial=("normal", -1.5, 0.3))
spiral = {}
for eta in (0.0, 0.8):
    eq = solve(MFGModel((replace(start, feedback=eta),), Market()), numerics=NUM)
    spiral[eta] = float(eq.cumulative_exits[0, -1])
print(f"exits from L0 ~ N(-1.5, 0.3^2): eta = 0: {spiral[0.0]:.3f}, eta = 0.8: {spiral[0.8]:.3f}")
# strategic substitutes without feedback: a stronger price impact means fewer exits
subst = {}
for g in (0.05, 0.10, 0.20):
    eq = solve(MFGModel((start,), Market(flow_impact=g)), numerics=NUM)
    subst[g] = float(eq.cumulative_exits[0, -1])
print("exits by flow impact (eta = 0): " + ", ".join(f"gamma = {g:.2f}: {v:.3f}" for g, v in subst.items()))
assert spiral[0.8] > spiral[0.0]
assert subst[0.05] > subst[0.10] > subst[0.20]

# the numbers quoted in docs/tutorials/welfare.md (rounded as printed there)
ws, wcr, wf = rows["stress"][0], rows["crisis"][0], rows["fire-sale"][0]
quoted = {"stress gap %/yr": (100 * ws.gap_per_year, 2), "crisis gap %/yr": (100 * wcr.gap_per_year, 2),
          "fire-sale gap %/yr": (100 * wf.gap_per_year, 2),
          "crisis tau*(-2) %": (100 * wcr.tax_at_start["-2"], 1), "crisis tau*(0) %": (100 * wcr.tax_at_start["0"], 1)}
expected = {"stress gap %/yr": 0.00, "crisis gap %/yr": 0.05, "fire-sale gap %/yr": 0.03,
            "crisis tau*(-2) %": -1.8, "crisis tau*(0) %": 2.8}
for k, (v, nd) in quoted.items():
    print(f"quoted {k}: {v:.{nd}f}")
    assert round(v, nd) == expected[k], (k, v)
Pc = rows["crisis"][2]
assert (round(Pc.cumulative_exits[0, -1], 3), round(Pc.equilibrium.cumulative_exits[0, -1], 3)) == (0.669, 0.515)
assert (round(100 * wf.tax_at_start["0"], 1), round(100 * wf.tax_at_start["-2"], 1)) == (1.1, -2.0)
assert all(v == 0 for v in ws.tax_at_start.values())
assert [round(spiral[e], 3) for e in (0.0, 0.8)] == [0.065, 0.167]
assert [round(subst[g], 3) for g in (0.05, 0.10, 0.20)] == [0.065, 0.056, 0.050]
assert rows["crisis"][1].share_closed < 0 and rows["fire-sale"][1].share_closed < 0  # the course's tax widens the gap
