"""Seed 002 end to end with SymPy: Feynman–Kac, Itô's rule, the pdepe form, the expected exit time.

Every symbolic step of the MATLAB example "Simulate a Stochastic Process Using the
Feynman–Kac Formula" is redone with :mod:`gelav.symbolic`, checked, and then solved
numerically from the *same* objects (``to_process`` for gelav's solvers,
``PdepeForm.to_callable`` for :func:`gelav.pdepe.pdepe`).

Run:  MPLBACKEND=Agg python examples/seed002_symbolic.py
Files are written under $GELAV_EXAMPLE_OUT (default: a temporary folder).
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import numpy as np
import sympy as sp

from gelav.symbolic import seed002_walkthrough


def main() -> None:
    out = Path(os.environ.get("GELAV_EXAMPLE_OUT") or tempfile.mkdtemp(prefix="gelav_seed002_"))
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    w = seed002_walkthrough()
    S = w.symbols
    print(w)
    print("\nChecks:")
    for claim, ok in w.checks().items():
        print(f"  [{'ok' if ok else 'FAILED'}] {claim}")
    print(f"(symbolic part: {time.perf_counter() - t0:.1f} s)")

    # LaTeX of every equation, for a report or a notebook
    tex = [
        w.feynman_kac.latex(), w.reversed.latex(), w.pdepe_general.latex(),
        rf"\mu_1 = {sp.latex(w.mu1)},\quad \sigma_1 = {sp.latex(w.sigma1)}",
        w.seed_pdepe.subs({S['mu0']: 0, S['sigma0']: 1}).latex(),
        w.pdepe.subs({S['mu0']: 0, S['sigma0']: 1}).latex(),
        w.exit_time_gbm.latex(), w.exit_time.latex() if w.exit_time else "",
        rf"\lim_{{\mu_0\to 0}} E[\tau] = {sp.latex(w.exit_time_mu0_limit)}",
    ]
    (out / "seed002_equations.tex").write_text("\n".join(f"\\[ {s} \\]" for s in tex if s) + "\n", encoding="utf-8")

    # numbers from the same objects: pdepe (both coefficient sets) and gelav.backward on the lambdified GBM
    num = {S["mu0"]: 0, S["sigma0"]: 1}
    xg, tg = np.linspace(0.0, 1.0, 101), np.linspace(0.0, 1.0, 21)
    try:
        from gelav.backward import backward
        from gelav.grid import Grid
        from gelav.pdepe import pdepe
    except ImportError as exc:  # pragma: no cover - optional parts of the package
        print(f"(numerical part skipped: {exc})")
        return

    def bc(xl, ul, xr, ur, t):  # sold at the limits: v = x there
        return xl - ul, 0.0, xr - ur, 0.0

    ours = pdepe(0, w.pdepe.subs(num).to_callable(), lambda z: z, bc, xg, tg)[:, :, 0]
    seed = pdepe(0, w.seed_pdepe.subs(num).to_callable(), lambda z: z, bc, xg, tg)[:, :, 0]
    gbm = w.gbm.subs(num).to_process()
    ref = backward(gbm, lambda z: z, 1.0, grid=Grid(xg), upper="payoff", lower="payoff", n_steps=400)
    print("\nExpected selling price at T = 1 (sold at 1), pdepe vs gelav.backward on the lambdified GBM:")
    print(f"  max |pdepe(integration by parts in Y) - backward| = {np.max(np.abs(ours[-1] - ref.values[0])):.2e}")
    print(f"  max |pdepe(seed's literal coefficients) - backward| = {np.max(np.abs(seed[-1] - ref.values[0])):.2e}")
    expected = np.exp(tg[:, None] / 2) * xg[None, :]
    i = int(np.argmin(np.abs(xg - 0.5)))
    print(f"  ratio to E[Y_T] = Y e^(T/2) at Y = 0.5, T = 1: {ours[-1, i] / expected[-1, i]:.4f}")

    import matplotlib.pyplot as plt

    from gelav.plot import new_axes

    fig, ax = new_axes(None)
    ax.plot(xg, ours[-1], label="pdepe, coefficients from integration by parts in Y")
    ax.plot(xg, ref.values[0], "--", label="gelav.backward on ItoProcess.to_process()")
    ax.plot(xg, seed[-1], ":", label="pdepe, seed's literal coefficients")
    ax.plot(xg, expected[-1], color="0.6", label="E[Y_T] without a sales limit")
    ax.set_xlabel("price Y (sold at Y = 1)")
    ax.set_ylabel("expected selling price")
    ax.set_title("Seed 002: expected selling price, T = 1, mu0 = 0, sigma0 = 1")
    ax.legend()
    fig.savefig(out / "seed002_selling_price.png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    print(f"\nWrote {out / 'seed002_equations.tex'} and {out / 'seed002_selling_price.png'}"
          f" ({time.perf_counter() - t0:.1f} s)")


if __name__ == "__main__":
    main()
