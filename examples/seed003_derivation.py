"""Seed 003 as code: from the trinomial walk to the forward Kolmogorov (heat) equation.

The walk moves +dy or -dy with probability alpha each and stays with 1 - 2 alpha.
:func:`gelav.symbolic.trinomial_derivation` Taylor-expands its forward equation
(dy^2 ~ dt), reads off dP/dt = C^2 d2P/dy2 with C^2 = alpha dy^2/dt (also from the
walk's moments), reduces it by similarity P = t^a f(y/t^b), solves the ODE and
checks that N(0, 2 C^2 t) solves the PDE. Then a simulated walk is compared with
that density, and seed 000's OU Fokker–Planck equation is shown term by term and
mapped onto the heat equation.

Run:  MPLBACKEND=Agg python examples/seed003_derivation.py
Files are written under $GELAV_EXAMPLE_OUT (default: a temporary folder).
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import numpy as np
import sympy as sp

from gelav.symbolic import ou_fokker_planck_terms, ou_heat_transform, trinomial_derivation


def main() -> None:
    out = Path(os.environ.get("GELAV_EXAMPLE_OUT") or tempfile.mkdtemp(prefix="gelav_seed003_"))
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    d = trinomial_derivation()
    print(d)
    print("\nChecks:")
    for claim, ok in d.check().items():
        print(f"  [{'ok' if ok else 'FAILED'}] {claim}")
    sym = trinomial_derivation(alpha=sp.Rational(1, 2))
    print(f"\nSymmetric random walk (alpha = 1/2): C^2 = {sym.C2}")

    # the seed's numbers: alpha = 0.3, 252 daily steps of size 1 -> variance 2 C^2 t = 2 alpha n
    alpha, n_steps, n_paths = 0.3, 252, 20000
    rng = np.random.default_rng(2023)
    u = rng.random((n_paths, n_steps))
    steps = np.where(u < alpha, -1, np.where(u > 1 - alpha, 1, 0))
    y_end = steps.sum(axis=1)
    dens = sp.lambdify(d.y, d.density.subs({d.alpha: alpha, d.dy: 1, d.dt: 1, d.t: n_steps}))
    var_exact = 2 * alpha * n_steps
    se = var_exact * np.sqrt(2 / (n_paths - 1))
    print(f"\nSimulated walk, {n_paths} paths x {n_steps} steps: var = {y_end.var(ddof=1):.1f}, "
          f"2 C^2 t = {var_exact:.1f} (4 standard errors = {4 * se:.1f})")

    ft = ou_fokker_planck_terms()
    print("\nSeed 000, OU Fokker–Planck by terms:")
    print(ft)
    ht = ou_heat_transform()
    print(f"\nChange of variables: {ht}\n  substitution check: {ht.check()}")
    (out / "seed003_equations.tex").write_text(
        "\n".join(f"\\[ {s} \\]" for s in (d.latex(), ft.latex(), ht.latex())) + "\n", encoding="utf-8")

    import matplotlib.pyplot as plt

    from gelav.plot import new_axes

    fig, ax = new_axes(None)
    edges = np.arange(y_end.min() - 0.5, y_end.max() + 1.5)
    ax.hist(y_end, bins=edges, density=True, alpha=0.5, label=f"trinomial walk, {n_paths} paths")
    ys = np.linspace(edges[0], edges[-1], 400)
    ax.plot(ys, dens(ys), label="N(0, 2 C² t), C² = α δy²/δt")
    ax.set_xlabel("position after 252 steps (steps of δy = 1)")
    ax.set_ylabel("density (per unit of y)")
    ax.set_title("Seed 003: trinomial walk vs its forward-Kolmogorov limit (α = 0.3)")
    ax.legend()
    fig.savefig(out / "seed003_walk_vs_density.png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    print(f"\nWrote {out} files ({time.perf_counter() - t0:.1f} s)")


if __name__ == "__main__":
    main()
