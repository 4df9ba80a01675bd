"""Seed 003 worked example: the trinomial walk and its Gaussian limit.

The seed builds a walk that moves up or down by δy with probability α = 0.3
each and stays with probability 1 − 2α = 0.4, runs it for 252 steps (a year
of daily moves), and derives the forward equation ∂P/∂t = C²∂²P/∂y² with
C² = αδy²/δt, whose solution is y_t ~ N(0, 2C²t).

This script reproduces it with gelav:

1. one instance of the walk (the seed's first figure);
2. 20,000 walks against the exact lattice law (the master equation solved
   exactly) and the Gaussian limit: moments and Kolmogorov–Smirnov distances;
3. the lattice law converging to the Gaussian like 1/n;
4. the same idea made into a lattice for the seed-000 OU stress test
   (Hull–White tree), with its 1/N convergence.

Run:  MPLBACKEND=Agg python examples/seed003_trinomial.py
Figures go to $GELAV_EXAMPLE_OUT (default: a fresh temporary folder).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np

from gelav.lattice import TrinomialWalk, fit_order, lattice_convergence, stress_probability
from gelav.plot import new_axes
from gelav.processes import OrnsteinUhlenbeck


def main() -> Path:
    out = Path(os.environ.get("GELAV_EXAMPLE_OUT") or tempfile.mkdtemp(prefix="gelav_seed003_"))
    out.mkdir(parents=True, exist_ok=True)

    alpha, n_steps = 0.3, 252
    walk = TrinomialWalk(alpha)  # δy = δt = 1, so C² = α = 0.3
    print(f"C² = α δy²/δt = {walk.c2:g};  limit after {n_steps} steps: N(0, 2C²t) = N(0, {walk.variance(n_steps):g})")

    # 1. one instance of the walk
    one = walk.simulate(n_steps, 1, seed=3)
    fig, ax = new_axes()
    ax.step(one.times, one.paths[0], where="post", lw=1)
    ax.set_xlabel("step [days]")
    ax.set_ylabel("cumulative distance [δy]")
    ax.set_title("Instance of a trinomial walk (252 steps, α = 0.3)")
    fig.savefig(out / "seed003_one_walk.png", dpi=110, bbox_inches="tight")

    # 2. many walks vs exact law and Gaussian limit
    sample = walk.simulate(n_steps, 20_000, seed=2023)
    mo = sample.moments()
    print("\nmoment            sample ± s.e.        exact lattice   Gaussian limit")
    for key in ("mean", "variance", "skewness", "excess_kurtosis"):
        m = mo[key]
        lat = m["lattice"] if abs(m["lattice"]) > 1e-12 else 0.0
        print(f"{key:16s} {m['sample']:10.4f} ± {m['stderr']:<8.4f} {lat:14.6f} {m['gaussian']:14.6f}")
    # checks: exact lattice variance 2C²t, sample moments within 4 standard errors
    assert abs(mo["variance"]["lattice"] - 2 * walk.c2 * n_steps) < 1e-9
    for key in ("mean", "variance"):
        assert abs(mo[key]["sample"] - mo[key]["lattice"]) < 4 * mo[key]["stderr"], key
    ksl, ksg = sample.ks_lattice(), sample.ks_gaussian()
    assert ksl.pvalue > 1e-3
    print(f"\nKS vs exact lattice law:        D = {ksl.statistic:.4f}  (p = {ksl.pvalue:.2f})")
    print(f"KS vs N(0, 2C²t), cont.-corr.:  D = {ksg.statistic:.4f}  (p = {ksg.pvalue:.2f})")
    print(f"exact lattice-vs-limit gap:     {sample.lattice_gap():.2e}")
    sample.plot().savefig(out / "seed003_histogram.png", dpi=110, bbox_inches="tight")

    # 3. the lattice law tends to the Gaussian like 1/n
    ns = [25, 50, 100, 200, 400, 800]
    gaps = []
    for n in ns:
        law = walk.law(n)
        gaps.append(np.max(np.abs(np.cumsum(law.probabilities) - walk.limit(n).cdf(law.positions + 0.5))))
    assert 0.97 < fit_order(ns, gaps) < 1.03
    print(f"\nsup |F_lattice − Φ| at the faces: {', '.join(f'{g:.2e}' for g in gaps)} → order {fit_order(ns, gaps):.3f}")
    print(f"excess kurtosis of the lattice law at n = 252: {walk.law(252).kurtosis():.6f} = (1 − 6α)/(2αn) = "
          f"{(1 - 6 * alpha) / (2 * alpha * 252):.6f}")

    # 4. a trinomial lattice for the seed-000 stress test
    ou = OrnsteinUhlenbeck(kappa=0.45, mean=1.0, sigma=0.32)
    exact = float(ou.transition(-0.5, 2.0).cdf(-0.5))
    p, err = stress_probability(ou, -0.5, 2.0, -0.5, n_steps=800)
    print(f"\nOU stress test P(L_2 < −0.5 | L_0 = −0.5): exact {exact:.7f}, tree {p:.7f} ± {err:.1e}")
    assert abs(p - exact) < err
    study = lattice_convergence(ou, -0.5, 2.0, -0.5, sizes=(100, 200, 400, 800, 1600))
    assert 0.97 < study.order < 1.03
    print("tree errors:", ", ".join(f"{e:.2e}" for e in study.errors), f"→ order {study.order:.3f}")
    study.plot().savefig(out / "seed003_tree_convergence.png", dpi=110, bbox_inches="tight")

    import matplotlib.pyplot as plt

    plt.close("all")
    print(f"\nfigures in {out}")
    return out


if __name__ == "__main__":
    main()
