"""Lattice benchmark: gelav's trinomial lattices against QuantLib's tree engines and gelav's PDE.

Two problems, every method run in the same process on the same machine:

A. Seed 000 stress probability P(L_2 < -0.5 | L_0 = -0.5) for the OU process
   (κ = 0.45, L̄ = 1, σ = 0.32); exact 0.0019356487804...
   * gelav Hull–White tree, smooth counting (gelav.lattice.TrinomialTree.prob)
   * gelav.lattice.stress_probability: trees of N/2 and N steps, Richardson-extrapolated
   * the same tree counting whole nodes (to show the 1/√N saw-tooth)
   * gelav exact generator chain e^{TQ} and explicit chain I + ΔtQ (Δt ∝ h²)
   * gelav PDE (gelav.forward, Crank–Nicolson + Rannacher)
   * QuantLib BinomialVanillaEngine (CRR, Leisen–Reimer) and FdBlackScholesVanillaEngine
     on the equivalent digital: the OU law at T is N(m, v), so
     P(L_T < c) = P(S_T < e^c) for a GBM with S_0 = 1, σ² T = v and
     ln-drift m/T, priced as a cash-or-nothing put paying 1 with r = 0.

B. American put, S = 36, K = 40, r = 6 %, σ = 20 %, T = 1 (Longstaff–Schwartz's
   first case). Reference: QuantLib FdBlackScholesVanillaEngine on a fine grid,
   checked against a Richardson-extrapolated gelav generator lattice.
   * gelav Hull–White tree on ln S (backward induction, max with exercise value)
   * gelav explicit generator chain on an S-grid (optimal stopping at every step)
   * QuantLib BinomialVanillaEngine: CRR, Leisen–Reimer, Tian, Joshi4

For each method: value, error, wall time; the fitted order (slope of log|error|
against log N). Writes benchmarks/results_lattice.json and lattice_error_vs_time.png
(to $GELAV_BENCH_OUT, default benchmarks/out/).

Run:  python benchmarks/bench_lattice.py  [--quick]
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from pathlib import Path

import numpy as np

from gelav.forward import forward
from gelav.grid import Grid, auto_domain
from gelav.lattice import (
    GeneratorLattice,
    TrinomialTree,
    fit_order,
    lattice_cdf,
    stress_probability,
)
from gelav.processes import GeometricBrownianMotion, OrnsteinUhlenbeck

try:
    import QuantLib as ql
except ImportError:  # pragma: no cover
    ql = None


def timed(fn, repeat: int = 3):
    best, val = math.inf, None
    for _ in range(repeat):
        t0 = time.perf_counter()
        val = fn()
        best = min(best, time.perf_counter() - t0)
    return val, best


# =============================================================================
# A. stress probability
# =============================================================================
KAPPA, MEAN, SIGMA, X0, T, C = 0.45, 1.0, 0.32, -0.5, 2.0, -0.5
OU = OrnsteinUhlenbeck(KAPPA, MEAN, SIGMA)
EXACT_A = float(OU.transition(X0, T).cdf(C))


def tree_smooth(n: int) -> float:
    return TrinomialTree(OU, X0, T, n).prob(below=C)


def tree_naive(n: int) -> float:
    x, q = TrinomialTree(OU, X0, T, n).law()
    return float(q[x < C].sum())


DOM = auto_domain(OU, X0, T, tail=1e-12, include=(C,))


def gen_exact(m: int) -> float:
    grid = Grid.aligned(*DOM, m, node=X0)
    p = GeneratorLattice(OU, grid, method="exact").forward(grid.point_mass(X0), T)
    return float(lattice_cdf(grid.nodes, p, C))


_RATIO: dict[str, float] = {}


def gen_explicit(m: int) -> float:
    grid = Grid.aligned(*DOM, m, node=X0)
    lat = GeneratorLattice(OU, grid)
    ratio = _RATIO.setdefault("r", lat.n_steps_for(T) / m**2)  # Δt = λh², λ from the coarsest grid
    n = max(lat.n_steps_for(T), math.ceil(ratio * m * m))
    p = lat.forward(grid.point_mass(X0), T, n_steps=n)
    return float(lattice_cdf(grid.nodes, p, C))


def pde(m: int) -> float:
    return forward(OU, X0, T, n_cells=m, n_steps=m, include=(C,)).prob(below=C)


def ql_digital(kind: str, n: int) -> float:
    m = OU.conditional_mean(X0, T)
    v = OU.conditional_var(X0, T)
    sig = math.sqrt(v / T)
    q = -(m / T) - 0.5 * sig**2  # r - q - σ²/2 = m/T with r = 0
    today = ql.Date(2, 1, 2025)
    ql.Settings.instance().evaluationDate = today
    dc = ql.Actual365Fixed()
    expiry = today + round(T * 365)
    spot = ql.QuoteHandle(ql.SimpleQuote(1.0))
    rts = ql.YieldTermStructureHandle(ql.FlatForward(today, 0.0, dc))
    qts = ql.YieldTermStructureHandle(ql.FlatForward(today, q, dc))
    vts = ql.BlackVolTermStructureHandle(ql.BlackConstantVol(today, ql.NullCalendar(), sig, dc))
    proc = ql.BlackScholesMertonProcess(spot, qts, rts, vts)
    strike = math.exp(C)
    if kind == "fd":
        opt = ql.VanillaOption(ql.CashOrNothingPayoff(ql.Option.Put, strike, 1.0), ql.EuropeanExercise(expiry))
        opt.setPricingEngine(ql.FdBlackScholesVanillaEngine(proc, n, n))
        return float(opt.NPV())
    # BinomialVanillaEngine takes plain payoffs only: with r = 0, P(S_T < K) = dPut/dK,
    # taken as a narrow put spread (spread error O(eps^2) ~ 1e-12, far below the tree error)
    eps = 1e-4 * strike
    vals = []
    for k in (strike - eps, strike + eps):
        opt = ql.VanillaOption(ql.PlainVanillaPayoff(ql.Option.Put, k), ql.EuropeanExercise(expiry))
        opt.setPricingEngine(ql.BinomialVanillaEngine(proc, kind, n))
        vals.append(opt.NPV())
    return float((vals[1] - vals[0]) / (2 * eps))


# =============================================================================
# B. American put
# =============================================================================
S0, K, R, VOL, TA = 36.0, 40.0, 0.06, 0.2, 1.0
GBM = GeometricBrownianMotion(R, VOL)


def put(s):
    return np.maximum(K - s, 0.0)


def tree_american(n: int) -> float:
    return TrinomialTree(GBM, S0, TA, n).backward(put, discount=R, exercise=True).value


def gen_american(m: int) -> float:
    grid = Grid.aligned(1.0, 200.0, m, node=S0)
    u = GeneratorLattice(GBM, grid, killing=R).backward(put, TA, exercise=True)
    return float(grid.point_mass(S0) @ u)


def ql_american(kind: str, n: int, x_grid: int | None = None) -> float:
    today = ql.Date(2, 1, 2025)
    ql.Settings.instance().evaluationDate = today
    dc = ql.Actual365Fixed()
    expiry = today + 365
    spot = ql.QuoteHandle(ql.SimpleQuote(S0))
    rts = ql.YieldTermStructureHandle(ql.FlatForward(today, R, dc))
    qts = ql.YieldTermStructureHandle(ql.FlatForward(today, 0.0, dc))
    vts = ql.BlackVolTermStructureHandle(ql.BlackConstantVol(today, ql.NullCalendar(), VOL, dc))
    proc = ql.BlackScholesMertonProcess(spot, qts, rts, vts)
    opt = ql.VanillaOption(ql.PlainVanillaPayoff(ql.Option.Put, K), ql.AmericanExercise(today, expiry))
    if kind == "fd":
        opt.setPricingEngine(ql.FdBlackScholesVanillaEngine(proc, n, x_grid or n))
    else:
        opt.setPricingEngine(ql.BinomialVanillaEngine(proc, kind, n))
    return float(opt.NPV())


# =============================================================================
def study(name: str, fn, sizes, exact: float, repeat: int = 3) -> dict:
    rows = []
    for n in sizes:
        v, t = timed(lambda n=n: fn(n), repeat=repeat)
        rows.append({"N": int(n), "value": v, "error": v - exact, "seconds": t})
    errs = [r["error"] for r in rows]
    ok = all(abs(e) > 0 for e in errs)
    order = fit_order([r["N"] for r in rows], errs) if ok else float("nan")
    # fitted order of the error *envelope* is what matters; also report max |N^p e| spread
    return {"method": name, "rows": rows, "order": order}


def print_study(s: dict, unit: str) -> None:
    print(f"\n{s['method']}   (fitted order {s['order']:.2f} in {unit})")
    print(f"  {'N':>6} {'value':>14} {'error':>11} {'seconds':>10}")
    for r in s["rows"]:
        print(f"  {r['N']:>6} {r['value']:>14.9f} {r['error']:>11.2e} {r['seconds']:>10.5f}")


def main(quick: bool = False) -> dict:
    out_dir = Path(os.environ.get("GELAV_BENCH_OUT", Path(__file__).parent / "out"))
    out_dir.mkdir(parents=True, exist_ok=True)
    sz_tree = [100, 200, 400, 800, 1600] if quick else [100, 200, 400, 800, 1600, 3200]
    sz_cells = [100, 200, 400, 800] if quick else [100, 200, 400, 800, 1600]
    res: dict = {"A_stress": {"exact": EXACT_A, "studies": []}, "B_american_put": {"studies": []}}

    print("=" * 78)
    print(f"A. OU stress probability, exact {EXACT_A:.10f}")
    A = res["A_stress"]["studies"]
    A.append(study("gelav tree (smooth counting)", tree_smooth, sz_tree, EXACT_A))
    A.append(study("gelav tree (whole-node counting)", tree_naive, sz_tree, EXACT_A))
    A.append(study("gelav stress_probability (tree N/2, N + Richardson)",
                   lambda n: stress_probability(OU, X0, T, C, n_steps=n).probability, sz_tree[1:], EXACT_A))
    A.append(study("gelav generator chain exp(TQ)", gen_exact, sz_cells, EXACT_A, repeat=1))
    A.append(study("gelav generator chain I+dtQ (dt ~ h^2)", gen_explicit, sz_cells, EXACT_A))
    A.append(study("gelav PDE (forward, CN)", pde, sz_cells, EXACT_A))
    if ql is not None:
        A.append(study("QuantLib binomial CRR (put-spread digital)", lambda n: ql_digital("crr", n), sz_tree, EXACT_A))
        A.append(study("QuantLib binomial LR (put-spread digital)", lambda n: ql_digital("lr", n + 1 - n % 2), sz_tree, EXACT_A))
        A.append(study("QuantLib FD Black-Scholes (digital)", lambda n: ql_digital("fd", n), sz_cells, EXACT_A, repeat=1))
    for s in A:
        print_study(s, "N")

    print("\n" + "=" * 78)
    # reference: two independent Richardson extrapolations that must agree
    g = [gen_american(m) for m in (800, 1600)]
    ref_gen = g[1] + (g[1] - g[0]) / 3  # generator lattice: order 2 in the spacing
    if ql is not None:
        f = [ql_american("fd", n, n) for n in (4000, 8000)]
        ref_fd = 2 * f[1] - f[0]  # QuantLib FD (American): order 1 observed
    else:
        ref_fd = float("nan")
    ref = ref_gen
    print(f"B. American put S=36 K=40 r=6% σ=20% T=1: reference = gelav generator lattice Richardson(800, 1600) "
          f"= {ref_gen:.6f}; QuantLib FD Richardson(4000², 8000²) = {ref_fd:.6f} (difference {ref_gen - ref_fd:.1e})")
    res["B_american_put"].update({"reference": ref, "reference_fd": ref_fd, "reference_gelav_generator": ref_gen})
    B = res["B_american_put"]["studies"]
    sz_am = [125, 250, 500, 1000, 2000] if quick else [125, 250, 500, 1000, 2000, 4000]
    B.append(study("gelav tree (ln S, Hull-White)", tree_american, sz_am, ref, repeat=1))
    B.append(study("gelav generator chain I+dtQ (S-grid)", gen_american, [100, 200, 400], ref, repeat=1))
    if ql is not None:
        for kind in ("crr", "lr", "tian", "joshi4"):
            f = (lambda k: (lambda n: ql_american(k, n + 1 - n % 2 if k in ("lr", "joshi4") else n)))(kind)
            B.append(study(f"QuantLib binomial {kind.upper()}", f, sz_am, ref, repeat=1))
    for s in B:
        print_study(s, "N")

    (out_dir / "results_lattice.json").write_text(json.dumps(res, indent=1))
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
        for ax, key, title in ((axes[0], "A_stress", "OU stress probability (seed 000)"),
                               (axes[1], "B_american_put", "American put (S=36, K=40)")):
            for s in res[key]["studies"]:
                t = [r["seconds"] for r in s["rows"]]
                e = [max(abs(r["error"]), 1e-16) for r in s["rows"]]
                ls = "-" if s["method"].startswith("gelav") else "--"
                ax.loglog(t, e, "o" + ls, ms=3, label=f"{s['method']} (order {s['order']:.2f})")
            ax.set_xlabel("wall time [s]")
            ax.set_ylabel("|error|")
            ax.set_title(title)
            ax.legend(fontsize=7)
            ax.grid(True, alpha=0.3)
        fig.tight_layout()
        fig.savefig(out_dir / "lattice_error_vs_time.png", dpi=110)
    except Exception as exc:  # pragma: no cover
        print("plot skipped:", exc)
    print(f"\nresults in {out_dir}")
    return res


if __name__ == "__main__":
    main(quick="--quick" in sys.argv)
