"""Benchmark: gelav's Feynman–Kac / optimal stopping solvers vs QuantLib's FD engines and py-pde.

Problems (same run, same machine):

1. American put S=36, K=40, r=6%, σ=20%, T=1 (Longstaff–Schwartz's first case).
   Reference: 4.486671 (Richardson extrapolation of gelav at 1600/3200 cells,
   confirmed by QuantLib's FD engine at 4000 x 4000).
2. Down-and-out call S=100, K=100, B=85, r=5%, σ=30%, T=182/365, continuous
   monitoring. Reference: QuantLib's AnalyticBarrierEngine (closed form).

For each solver and resolution: value, |error|, wall time (best of 3).
py-pde has no early-exercise step condition, so it only runs the barrier
(Black–Scholes PDE in log-price with Dirichlet data, its implicit stepper).

Run:  python benchmarks/bench_backward.py  [--quick]   (needs QuantLib, py-pde)
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np

from gelav import GeometricBrownianMotion
from gelav.backward import backward
from gelav.stopping import optimal_stopping

S0, K, R, SIG, T = 36.0, 40.0, 0.06, 0.2, 1.0
BS0, BK, BB, BR, BSIG, BT = 100.0, 100.0, 85.0, 0.05, 0.3, 182 / 365  # a whole number of days for QuantLib
AMERICAN_REF = 4.486671


def best_of(fn, repeat=3):
    best, out = math.inf, None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return out, best


# --- gelav ---------------------------------------------------------------------------------------
def gelav_american(n):
    v = optimal_stopping(GeometricBrownianMotion(R, SIG), lambda s: np.maximum(K - s, 0.0), T, discount=R,
                         domain=(0.0, 5 * K), x0=S0, n_cells=n, n_steps=max(n // 2, 10))
    return v.value(S0)


def gelav_barrier(n):
    v = backward(GeometricBrownianMotion(BR, BSIG), lambda s: np.maximum(s - BK, 0.0), BT, discount=BR,
                 domain=(BB, 5 * BK), x0=BS0, lower="knockout", n_cells=n, n_steps=max(n // 2, 10))
    return v.value(BS0)


def gelav_american_log(n):
    """The same put in x = ln S (Brownian motion with drift r - σ²/2): a uniform grid in log-price."""
    from gelav import BrownianMotion

    x0, w = math.log(S0), 8 * SIG * math.sqrt(T)
    v = optimal_stopping(BrownianMotion(R - 0.5 * SIG**2, SIG), lambda x: np.maximum(K - np.exp(x), 0.0), T,
                         discount=R, domain=(x0 - w, x0 + w), x0=x0, n_cells=n, n_steps=max(n // 2, 10))
    return v.value(x0)


def gelav_barrier_log(n):
    from gelav import BrownianMotion

    x0 = math.log(BS0)
    v = backward(BrownianMotion(BR - 0.5 * BSIG**2, BSIG), lambda x: np.maximum(np.exp(x) - BK, 0.0), BT,
                 discount=BR, domain=(math.log(BB), x0 + 8 * BSIG * math.sqrt(BT)), x0=x0, lower="knockout",
                 upper="payoff", n_cells=n, n_steps=max(n // 2, 10))
    return v.value(x0)


def gelav_barrier_log_stretched(n):
    """Log-price grid concentrated at the spot (sinh map, intensity 6; spot snapped onto a node)."""
    from gelav import BrownianMotion, Grid

    x0 = math.log(BS0)
    g = Grid.stretched(math.log(BB), x0 + 8 * BSIG * math.sqrt(BT), n, center=x0, intensity=6.0)
    nodes = g.nodes.copy()
    nodes[np.argmin(np.abs(nodes - x0))] = x0
    v = backward(BrownianMotion(BR - 0.5 * BSIG**2, BSIG), lambda x: np.maximum(np.exp(x) - BK, 0.0), BT,
                 discount=BR, grid=Grid(nodes), lower="knockout", upper="payoff", n_steps=max(n // 2, 10))
    return v.value(x0)


# --- QuantLib --------------------------------------------------------------------------------------
def _ql_process(spot, r, sig):
    import QuantLib as ql

    today = ql.Date(15, 1, 2025)
    ql.Settings.instance().evaluationDate = today
    dc = ql.Actual365Fixed()
    proc = ql.BlackScholesMertonProcess(
        ql.QuoteHandle(ql.SimpleQuote(spot)),
        ql.YieldTermStructureHandle(ql.FlatForward(today, 0.0, dc)),
        ql.YieldTermStructureHandle(ql.FlatForward(today, r, dc)),
        ql.BlackVolTermStructureHandle(ql.BlackConstantVol(today, ql.NullCalendar(), sig, dc)))
    return ql, today, proc


def ql_american(n):
    ql, today, proc = _ql_process(S0, R, SIG)
    maturity = today + round(365 * T)
    opt = ql.VanillaOption(ql.PlainVanillaPayoff(ql.Option.Put, K), ql.AmericanExercise(today, maturity))
    opt.setPricingEngine(ql.FdBlackScholesVanillaEngine(proc, max(n // 2, 10), n))
    return opt.NPV()


def ql_barrier(n):
    ql, today, proc = _ql_process(BS0, BR, BSIG)
    maturity = today + round(365 * BT)
    opt = ql.BarrierOption(ql.Barrier.DownOut, BB, 0.0, ql.PlainVanillaPayoff(ql.Option.Call, BK),
                           ql.EuropeanExercise(maturity))
    if n == 0:
        opt.setPricingEngine(ql.AnalyticBarrierEngine(proc))
    else:
        opt.setPricingEngine(ql.FdBlackScholesBarrierEngine(proc, max(n // 2, 10), n))
    return opt.NPV()


# --- py-pde ----------------------------------------------------------------------------------------
def pypde_barrier(n):
    """u_τ = ½σ²u_xx + (r - ½σ²)u_x - r u in x = ln S on [ln B, ln 5K]; u = 0 at B, u = S - K e^{-rτ} on top."""
    import pde

    lo, hi = math.log(BB), math.log(5 * BK)
    grid = pde.CartesianGrid([[lo, hi]], [n])
    field = pde.ScalarField(grid, np.maximum(np.exp(grid.axes_coords[0]) - BK, 0.0))
    bc = [{"value": 0.0}, {"value_expression": f"exp(x) - {BK} * exp(-{BR} * t)"}]
    a, b = 0.5 * BSIG**2, BR - 0.5 * BSIG**2
    eq = pde.PDE({"u": f"{a} * laplace(u) + {b} * d_dx(u) - {BR} * u"}, bc=bc)
    # py-pde's own "implicit" stepper uses fixed-point iterations, which diverge at these
    # step sizes; its "scipy" solver hands the method of lines to solve_ivp (BDF here)
    res = eq.solve(field, t_range=BT, solver="scipy", method="BDF", rtol=1e-8, atol=1e-8, tracker=None)
    return float(np.interp(math.log(BS0), grid.axes_coords[0], res.data))


def table(title, ref, rows):
    print(f"\n{title}  (reference {ref:.6f})")
    print(f"{'solver':<32}{'cells':>7}{'value':>12}{'|error|':>11}{'time [ms]':>11}")
    for name, n, v, t in rows:
        print(f"{name:<32}{n:>7}{v:>12.6f}{abs(v - ref):>11.2e}{1e3 * t:>11.2f}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="fewer resolutions")
    args = ap.parse_args()
    ns = [100, 200, 400] if args.quick else [100, 200, 400, 800, 1600]
    rows = []
    for n in ns:
        v, t = best_of(lambda n=n: gelav_american(n))
        rows.append(("gelav optimal_stopping", n, v, t))
    for n in ns:
        v, t = best_of(lambda n=n: gelav_american_log(n))
        rows.append(("gelav, log-price grid", n, v, t))
    try:
        for n in ns:
            v, t = best_of(lambda n=n: ql_american(n))
            rows.append(("QuantLib FdBlackScholes", n, v, t))
    except ImportError:
        print("QuantLib not installed: pip install QuantLib")
    table("American put S=36 K=40 r=0.06 σ=0.2 T=1", AMERICAN_REF, rows)

    try:
        ref = ql_barrier(0)
    except ImportError:
        ref = float("nan")
    rows = []
    for n in ns:
        v, t = best_of(lambda n=n: gelav_barrier(n))
        rows.append(("gelav backward (knockout)", n, v, t))
    for n in ns:
        v, t = best_of(lambda n=n: gelav_barrier_log(n))
        rows.append(("gelav, log-price grid", n, v, t))
    for n in ns:
        v, t = best_of(lambda n=n: gelav_barrier_log_stretched(n))
        rows.append(("gelav, stretched log grid", n, v, t))
    if math.isfinite(ref):
        for n in ns:
            v, t = best_of(lambda n=n: ql_barrier(n))
            rows.append(("QuantLib FdBlackScholesBarrier", n, v, t))
    try:
        for n in ns[:3]:
            v, t = best_of(lambda n=n: pypde_barrier(n), repeat=2)  # first call includes numba compilation
            rows.append(("py-pde (scipy BDF)", n, v, t))
    except ImportError:
        print("py-pde not installed: pip install py-pde")
    table("Down-and-out call S=100 K=100 B=85 r=0.05 σ=0.3 T=182/365 (ref: QuantLib analytic)", ref, rows)


if __name__ == "__main__":
    main()
