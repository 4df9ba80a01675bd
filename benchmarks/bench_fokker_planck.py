r"""Fokker–Planck peers on the OU stress problem, in one run.

Problem (seed 000): :math:`dL = \kappa(\bar L - L)\,dt + \sigma\,dW` with
:math:`\kappa = 0.45`, :math:`\sigma = 0.32`, :math:`\bar L = 1`, a point mass at
:math:`L_0 = -0.5`, horizon :math:`T = 2` years. Exact law at :math:`T`:
:math:`N(m, s^2)`, :math:`m = 1 - 1.5e^{-0.9}`,
:math:`s^2 = \sigma^2/(2\kappa)(1 - e^{-1.8})`, so
:math:`P(L_2 < -0.5) = \Phi((-0.5 - m)/s) = 0.0019356487804036227`.

Every solver gets the same domain (gelav's automatic one, tail 1e-10, shifted so
that :math:`-0.5` is a grid node or a cell face), the same point-mass start and
the same probability estimator (mass below the threshold, half of the mass of a
node sitting on it). Measured per run: wall time, :math:`|\Delta P|`, the L1
error of the density at the grid points :math:`\sum_i V_i|\rho_i - \rho(x_i)|`,
the mass error :math:`|\sum_i m_i - 1|` and the minimum density at :math:`T`.

Solvers:

* gelav ``forward`` (Crank–Nicolson + Rannacher, Scharfetter–Gummel fluxes,
  O(N) per step), plus two library-level variants: Richardson extrapolation of
  two nested grids, and a sinh-stretched grid around the threshold;
* an *experimental* variant (not in gelav): the same solver with
  square-root-approximation (SqRA) fluxes, patched in for this run only;
* fplanck (``propagate``: ``scipy.sparse.linalg.expm_multiply``, exact in time;
  needs ``numpy.product``, removed in NumPy 2 — a one-line shim is installed);
* py-pde (explicit Euler at 0.45 of the stability limit, numba backend;
  cold = first ``solve`` incl. compilation, warm = second ``solve``,
  stepping = a compiled stepper reused; the implicit solver is tried once);
* FiPy (backward Euler — FiPy's transient scheme —, exponential convection
  scheme, SciPy LU solver).

A peer that cannot be imported or fails is reported with the reason.

Usage::

    python benchmarks/bench_fokker_planck.py            # full run (~3-5 min on 2 cores)
    python benchmarks/bench_fokker_planck.py --quick    # coarse grids only
    python benchmarks/bench_fokker_planck.py --json out.json
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import time
import traceback
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
from scipy.special import ndtr

KAPPA, MEAN, SIGMA, X0, T, C = 0.45, 1.0, 0.32, -0.5, 2.0, -0.5
D = SIGMA**2 / 2
M_T = MEAN + (X0 - MEAN) * math.exp(-KAPPA * T)
S_T = math.sqrt(SIGMA**2 / (2 * KAPPA) * -math.expm1(-2 * KAPPA * T))
P_EXACT = float(ndtr((C - M_T) / S_T))
TARGET = 1e-6


def exact_pdf(x: np.ndarray) -> np.ndarray:
    return np.exp(-0.5 * ((x - M_T) / S_T) ** 2) / (S_T * math.sqrt(2 * math.pi))


def metrics(x: np.ndarray, vol: np.ndarray, rho: np.ndarray, p: float) -> dict[str, float]:
    """Accuracy numbers of a density ``rho`` at points ``x`` with control volumes ``vol``."""
    return {
        "P": p,
        "dP": p - P_EXACT,
        "absdP": abs(p - P_EXACT),
        "L1": float(np.sum(vol * np.abs(rho - exact_pdf(x)))),
        "mass_err": abs(float(np.sum(vol * rho)) - 1.0),
        "min_density": float(np.min(rho)),
    }


def best_time(fn: Callable[[], Any], repeats: int) -> tuple[Any, float]:
    best, out = math.inf, None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return out, best


def domain() -> tuple[float, float]:
    from gelav.grid import auto_domain
    from gelav.processes import OrnsteinUhlenbeck

    return auto_domain(OrnsteinUhlenbeck(KAPPA, MEAN, SIGMA), X0, T)


def aligned(lo: float, hi: float, n: int, *, face: bool) -> tuple[float, float, int]:
    """Uniform grid of ``n`` cells near [lo, hi] with the threshold on a node (or a face)."""
    h = (hi - lo) / n
    k = round((C - lo) / h)
    return C - k * h, h, k


# --------------------------------------------------------------------------- gelav
def gelav_runs(ns: list[int], *, steps: Callable[[int], int], repeats: int) -> list[dict[str, Any]]:
    from gelav.forward import forward
    from gelav.processes import OrnsteinUhlenbeck

    ou = OrnsteinUhlenbeck(KAPPA, MEAN, SIGMA)
    rows = []
    for n in ns:
        m = steps(n)

        def run(n: int = n, m: int = m) -> tuple[Any, float]:
            d = forward(ou, X0, T, n_cells=n, n_steps=m)
            return d, d.prob(below=C)

        (d, p), sec = best_time(run, repeats)
        g = d.grid
        rows.append({"N": n, "steps": m, "seconds": sec, **metrics(g.nodes, g.volumes, d.at(), p)})
    return rows


def gelav_richardson(ns: list[int], *, steps: Callable[[int], int], repeats: int) -> list[dict[str, Any]]:
    r""":math:`P_R = (4P_{2N} - P_N)/3` from nested grids (N cells, then 2N; steps scaled alike)."""
    from gelav.forward import forward
    from gelav.processes import OrnsteinUhlenbeck

    ou = OrnsteinUhlenbeck(KAPPA, MEAN, SIGMA)
    rows = []
    for n in ns:

        def run(n: int = n) -> tuple[Any, Any, float]:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # the coarsest grids trip the cells-per-sd warning
                d1 = forward(ou, X0, T, n_cells=n, n_steps=steps(n))
                d2 = forward(ou, X0, T, n_cells=2 * n, n_steps=steps(2 * n))
            return d1, d2, (4 * d2.prob(below=C) - d1.prob(below=C)) / 3

        (d1, d2, p), sec = best_time(run, repeats)
        xc, xf = d1.grid.nodes, d2.grid.nodes
        idx = np.rint((xc - xf[0]) / (xf[1] - xf[0])).astype(int)
        ok = (idx >= 0) & (idx < xf.size)
        ok[ok] &= np.abs(xf[idx[ok]] - xc[ok]) < 1e-9
        rho_c = d1.at()
        rho_f = np.zeros_like(rho_c)
        rho_f[ok] = d2.at()[idx[ok]]
        # extrapolated density on the coarse nodes shared by both grids
        rho = np.where(ok, (4 * rho_f - rho_c) / 3, rho_c)
        rows.append({
            "N": f"{n}+{2 * n}", "steps": f"{steps(n)}+{steps(2 * n)}", "seconds": sec,
            **metrics(xc, d1.grid.volumes, rho, p),
        })
    return rows


def gelav_stretched(ns: list[int], *, intensity: float, steps: Callable[[int], int], repeats: int) -> list[dict[str, Any]]:
    """``Grid.stretched`` around the threshold (timed including ``auto_domain``)."""
    from gelav.forward import forward
    from gelav.grid import Grid, auto_domain
    from gelav.processes import OrnsteinUhlenbeck

    ou = OrnsteinUhlenbeck(KAPPA, MEAN, SIGMA)
    rows = []
    for n in ns:

        def run(n: int = n) -> tuple[Any, float]:
            lo, hi = auto_domain(ou, X0, T)
            g = Grid.stretched(lo, hi, n, center=C, intensity=intensity)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # coarse stretched grids trip the cells-per-sd warning
                d = forward(ou, X0, T, grid=g, n_steps=steps(n))
            return d, d.prob(below=C)

        (d, p), sec = best_time(run, repeats)
        g = d.grid
        rows.append({"N": n, "steps": steps(n), "seconds": sec, **metrics(g.nodes, g.volumes, d.at(), p)})
    return rows


def gelav_sqra(ns: list[int], *, steps: Callable[[int], int], repeats: int) -> list[dict[str, Any]]:
    r"""EXPERIMENTAL: gelav with SqRA fluxes :math:`(D/h)e^{\pm z/2}`, :math:`z = ch/D` (patched in)."""
    import gelav.fd.generator as gen

    def sqra_rates(Dd: np.ndarray, c: np.ndarray, h: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        s = Dd / h
        z = np.clip(c / s, -50.0, 50.0)
        return s * np.exp(0.5 * z), s * np.exp(-0.5 * z)

    orig = gen.fitted_rates
    gen.fitted_rates = sqra_rates
    try:
        return gelav_runs(ns, steps=steps, repeats=repeats)
    finally:
        gen.fitted_rates = orig


# --------------------------------------------------------------------------- fplanck
def fplanck_runs(ns: list[int], lo0: float, hi0: float, repeats: int) -> list[dict[str, Any]]:
    if not hasattr(np, "product"):  # fplanck 0.2.x calls np.product, removed in NumPy 2
        setattr(np, "product", np.prod)  # noqa: B010 - the shim
    import fplanck
    from scipy import constants

    rows = []
    for n in ns:
        lo, h, j0 = aligned(lo0, hi0, n, face=False)
        centre = lo + n * h / 2  # fplanck centres its axis on 0

        def run(n: int = n, h: float = h, j0: int = j0, centre: float = centre) -> tuple[np.ndarray, np.ndarray]:
            # drag 1 => mobility 1, D = k_B T; force = drift
            sim = fplanck.fokker_planck(
                temperature=D / constants.k, drag=1.0, extent=(n + 0.5) * h, resolution=h,
                force=lambda y, centre=centre: KAPPA * (MEAN - (y + centre)), boundary=fplanck.boundary.reflecting,
            )
            y = sim.grid[0]
            p = sim.propagate(lambda yy, y0=y[j0], h=h: (np.abs(yy - y0) < h / 2).astype(float), T)
            return y + centre, p

        (x, p), sec = best_time(run, repeats)
        assert x.size == n + 1 and abs(x[j0] - C) < 1e-9
        prob = float(p[:j0].sum() + 0.5 * p[j0])
        rows.append({"N": n, "steps": "expm", "seconds": sec, **metrics(x, np.full(x.size, h), p / h, prob)})
    return rows


# --------------------------------------------------------------------------- py-pde
def pypde_runs(ns: list[int], lo0: float, hi0: float, frac: float) -> list[dict[str, Any]]:
    import pde

    rows = []
    expr = f"{KAPPA}*p - {KAPPA}*({MEAN} - x)*d_dx(p) + {D}*laplace(p)"  # -d_x(b p) + D p_xx
    for n in ns:
        lo, h, k = aligned(lo0, hi0, n, face=True)
        grid = pde.CartesianGrid([[lo, lo + n * h]], n)
        data = np.zeros(n)
        data[k - 1] = data[k] = 0.5 / h  # point mass on the face at -0.5
        f0 = pde.ScalarField(grid, data)
        n_steps = math.ceil(T / (frac * h * h / D))
        dt = T / n_steps
        times = {}
        eq = pde.PDE({"p": expr}, bc={"derivative": 0})
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t0 = time.perf_counter()
            eq.solve(f0.copy(), t_range=T, dt=dt, solver="euler", adaptive=False, tracker=None)
            times["cold"] = time.perf_counter() - t0
            t0 = time.perf_counter()
            eq.solve(f0.copy(), t_range=T, dt=dt, solver="euler", adaptive=False, tracker=None)
            times["warm"] = time.perf_counter() - t0
            solver = pde.EulerSolver(eq, backend="numba", adaptive=False)
            stepper = solver.make_stepper(f0, dt=dt)
            best = math.inf
            for _ in range(2):
                f = f0.copy()
                t0 = time.perf_counter()
                stepper(f, 0.0, T)
                best = min(best, time.perf_counter() - t0)
            times["stepping"] = best
        rho = f.data
        prob = float(rho[:k].sum() * h)
        x = grid.axes_coords[0]
        rows.append({
            "N": n, "steps": n_steps, "seconds": times["stepping"], "cold": times["cold"], "warm": times["warm"],
            **metrics(x, np.full(n, h), rho, prob),
        })
    return rows


def pypde_implicit(lo0: float, hi0: float, n: int, dt: float) -> dict[str, Any]:
    import pde

    lo, h, k = aligned(lo0, hi0, n, face=True)
    grid = pde.CartesianGrid([[lo, lo + n * h]], n)
    data = np.zeros(n)
    data[k - 1] = data[k] = 0.5 / h
    eq = pde.PDE({"p": f"{KAPPA}*p - {KAPPA}*({MEAN} - x)*d_dx(p) + {D}*laplace(p)"}, bc={"derivative": 0})
    t0 = time.perf_counter()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = eq.solve(pde.ScalarField(grid, data), t_range=T, dt=dt, solver="implicit", tracker=None)
    except Exception as exc:  # reported, not hidden
        return {"N": n, "dt": dt, "status": f"{type(exc).__name__}: {exc}", "seconds": time.perf_counter() - t0}
    return {"N": n, "dt": dt, "status": "ok", "seconds": time.perf_counter() - t0,
            "dP": float(res.data[:k].sum() * h) - P_EXACT}


# --------------------------------------------------------------------------- FiPy
def fipy_runs(cases: list[tuple[int, int]], lo0: float, hi0: float) -> list[dict[str, Any]]:
    os.environ.setdefault("FIPY_SOLVERS", "scipy")
    from fipy import (
        CellVariable,
        DiffusionTerm,
        ExponentialConvectionTerm,
        FaceVariable,
        Grid1D,
        TransientTerm,
    )
    from fipy.solvers.scipy import LinearLUSolver

    rows = []
    for n, m in cases:
        lo, h, k = aligned(lo0, hi0, n, face=True)
        t0 = time.perf_counter()
        mesh = Grid1D(nx=n, dx=h) + lo
        phi = CellVariable(mesh=mesh, value=0.0)
        v = np.zeros(n)
        v[k - 1] = v[k] = 0.5 / h
        phi.setValue(v)
        u = FaceVariable(mesh=mesh, rank=1, value=(KAPPA * (MEAN - mesh.faceCenters[0]),))
        eq = TransientTerm() == DiffusionTerm(coeff=D) - ExponentialConvectionTerm(coeff=u)
        solver = LinearLUSolver()
        for _ in range(m):
            eq.solve(var=phi, dt=T / m, solver=solver)
        sec = time.perf_counter() - t0
        rho = np.asarray(phi.value, dtype=float)
        x = np.asarray(mesh.cellCenters[0], dtype=float)
        rows.append({"N": n, "steps": m, "seconds": sec, **metrics(x, np.full(n, h), rho, float(rho[:k].sum() * h))})
    return rows


# --------------------------------------------------------------------------- report
def guarded(name: str, fn: Callable[[], Any]) -> tuple[Any, str | None]:
    print(f"... {name}", file=sys.stderr, flush=True)
    try:
        return fn(), None
    except ImportError as exc:
        return None, f"not installed ({exc})"
    except Exception as exc:  # a failing peer is reported, never faked
        traceback.print_exc()
        return None, f"failed: {type(exc).__name__}: {str(exc)[:200]}"


def fmt_s(x: float) -> str:
    return f"{x * 1e3:.2f} ms" if x < 1 else f"{x:.2f} s"


def table(results: dict[str, Any]) -> str:
    lines = [
        "| solver | N | steps | time | ΔP | L1 error | mass error | min density |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, res in results.items():
        if res["error"]:
            lines.append(f"| {name} | — | — | — | {res['error']} | | | |")
            continue
        for r in res["rows"]:
            t = fmt_s(r["seconds"])
            if "cold" in r:
                t = f"{t} (warm solve {fmt_s(r['warm'])}, cold {fmt_s(r['cold'])})"
            lines.append(
                f"| {name} | {r['N']} | {r['steps']} | {t} | {r['dP']:+.2e} | {r['L1']:.2e} | "
                f"{r['mass_err']:.1e} | {r['min_density']:.1e} |"
            )
    return "\n".join(lines)


def cheapest(rows: list[dict[str, Any]], tol: float, key: str = "seconds") -> dict[str, Any] | None:
    ok = [r for r in rows if r["absdP"] <= tol]
    return min(ok, key=lambda r: r[key]) if ok else None


def matched(results: dict[str, Any], refs: dict[str, list[str]]) -> str:
    """Speed ratio of each peer to gelav at matched |ΔP| (cheapest measured run reaching it)."""
    ref_rows = {
        label: [dict(r, solver=n) for n in names if results.get(n, {}).get("rows") for r in results[n]["rows"]]
        for label, names in refs.items()
    }
    lines = []
    for label, rows in ref_rows.items():
        g = cheapest(rows, TARGET)
        lines.append(
            f"- {label}: cheapest measured run with |ΔP| ≤ {TARGET:g}: "
            + (f"{g['solver']}, N={g['N']}, {fmt_s(g['seconds'])} (|ΔP| = {g['absdP']:.2e})" if g else "none")
        )
    head = " | ".join(f"ratio vs {label}" for label in ref_rows)
    lines += ["", f"| peer | cheapest run with \\|ΔP\\| ≤ 1e-6 | peer time | {head} |",
              "|---|---|---:|" + "---:|" * len(ref_rows)]
    for name, res in results.items():
        if name.startswith(("gelav", "EXPERIMENTAL")) or res["error"] or not res["rows"]:
            continue
        keys = [("seconds", "")]
        if "cold" in res["rows"][0]:
            keys = [("seconds", " — compiled stepper reused"), ("warm", " — warm solve()"), ("cold", " — cold solve()")]
        for key, label in keys:
            p = cheapest(res["rows"], TARGET, key)
            if p is not None:
                tol, what = TARGET, f"N={p['N']}, \\|ΔP\\|={p['absdP']:.1e}"
            else:  # not reached: compare at the peer's own best accuracy
                p = min(res["rows"], key=lambda r: r["absdP"])
                tol, what = p["absdP"], f"not reached; best \\|ΔP\\|={p['absdP']:.1e} at N={p['N']} (ratio at that accuracy)"
            cells = []
            for rows in ref_rows.values():
                g = cheapest(rows, tol)
                cells.append(f"**{p[key] / g['seconds']:.3g}×** ({fmt_s(g['seconds'])})" if g else "n/a")
            lines.append(f"| {name}{label} | {what} | {fmt_s(p[key])} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def environment() -> dict[str, str]:
    import numpy
    import scipy

    env = {"python": platform.python_version(), "machine": f"{platform.machine()}, {os.cpu_count()} cores",
           "numpy": numpy.__version__, "scipy": scipy.__version__}
    for dist in ("gelav", "fplanck", "py-pde", "fipy", "numba"):
        try:
            from importlib.metadata import version

            env[dist] = version(dist)
        except Exception:
            env[dist] = "not installed"
    return env


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="coarse grids only (smoke run)")
    ap.add_argument("--json", metavar="FILE", help="write all numbers to this JSON file")
    ap.add_argument("--repeats", type=int, default=7, help="best-of repeats for the gelav runs")
    ap.add_argument("--skip", default="", help="comma-separated solvers to skip: fplanck,py-pde,fipy")
    args = ap.parse_args(argv)
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    quick = args.quick
    r = args.repeats
    lo0, hi0 = domain()
    def geometric(lo: int, hi: int, per_doubling: int) -> list[int]:
        k = round(per_doubling * math.log2(hi / lo))
        return sorted({round(lo * 2 ** (i / per_doubling)) for i in range(k + 1)})

    fine = geometric(100, 1600, 4)  # 100, 119, 141, 168, 200, ... 1600 (factor 2^(1/4))
    results: dict[str, Any] = {}

    def add(name: str, fn: Callable[[], Any]) -> None:
        rows, err = guarded(name, fn)
        results[name] = {"rows": rows or [], "error": err}

    t_all = time.perf_counter()
    add("gelav (N/2 steps)", lambda: gelav_runs([100, 141, 200] if quick else fine, steps=lambda n: n // 2, repeats=r))
    add("gelav Richardson (N/4 steps)", lambda: gelav_richardson(
        [50, 100] if quick else geometric(50, 200, 4), steps=lambda n: max(n // 4, 4), repeats=r))
    add("gelav stretched ×12 (N/2 steps)", lambda: gelav_stretched(
        [100, 141, 200] if quick else geometric(100, 800, 2), intensity=12.0, steps=lambda n: n // 2, repeats=r))
    add("EXPERIMENTAL gelav + SqRA flux (N steps)", lambda: gelav_sqra(
        [100, 141, 200] if quick else geometric(100, 566, 2), steps=lambda n: n, repeats=r))
    if "fplanck" not in skip:
        add("fplanck 0.2.2 (expm_multiply)", lambda: fplanck_runs(
            [100, 141, 200] if quick else geometric(100, 800, 4), lo0, hi0, repeats=3))
    if "py-pde" not in skip:
        add("py-pde (explicit Euler, numba)", lambda: pypde_runs(
            [100, 200] if quick else [100, 200, 400, 800, 1600, 1903, 2263], lo0, hi0, frac=0.45))
        implicit, err = guarded("py-pde implicit", lambda: pypde_implicit(lo0, hi0, 200, 0.01))
        results["_pypde_implicit"] = implicit or {"status": err}
    if "fipy" not in skip:
        add("FiPy (backward Euler, LU)", lambda: fipy_runs(
            [(100, 100)] if quick else [(100, 100), (200, 400), (400, 1600)], lo0, hi0))
    wall = time.perf_counter() - t_all

    peers = {k: v for k, v in results.items() if not k.startswith("_")}
    env = environment()
    print(f"\nOU stress problem: P(L_2 < -0.5 | L_0 = -0.5) = {P_EXACT!r}; domain [{lo0:.6f}, {hi0:.6f}]")
    print("environment: " + ", ".join(f"{k} {v}" for k, v in env.items()))
    print(f"total benchmark wall time {wall:.1f} s\n")
    print(table(peers))
    print()
    lib = [n for n in peers if n.startswith("gelav")]
    exp = [n for n in peers if n.startswith("EXPERIMENTAL")]
    refs = {"gelav (N/2 steps)": ["gelav (N/2 steps)"], "best gelav variant": lib}
    if exp:
        refs["EXPERIMENTAL SqRA"] = exp
    print("Matched accuracy:\n")
    print(matched(peers, refs))
    imp = results.get("_pypde_implicit")
    if imp:
        print(f"\npy-pde implicit solver, N={imp.get('N')}, dt={imp.get('dt')}: {imp.get('status')}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"P_exact": P_EXACT, "domain": [lo0, hi0], "environment": env, "wall_seconds": wall,
                       "results": results}, fh, indent=1, default=str)
    return 0


if __name__ == "__main__":
    sys.exit(main())
