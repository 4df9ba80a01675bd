"""Monte Carlo throughput on the seed-000 OU problem: gelav vs NumPy, sdeint and torchsde, in one run.

Problem: dL = 0.45 (1 - L) dt + 0.32 dW, L_0 = -0.5, T = 2 years, 504 steps
(two years of trading days), 100,000 paths. The figure of merit is
path-steps per second (paths × steps / wall time); accuracy is the z-score of
the sample mean and of P(L_T < 0.39) (≈ the median) against the exact law
(the scheme's own law for Euler, whose bias is known in closed form).

Baselines
- "NumPy fill": the rate at which NumPy alone fills a (504, 100000) array with
  normals — the naive ceiling of any method that first draws all its normals
  (default_rng = PCG64, and SFC64, the bit generator gelav uses).
- "NumPy loop": the obvious vectorised loop, one rng.standard_normal(n_paths)
  per step.
- sdeint (pure-Python loop, one path at a time): timed on a subset of paths.
- torchsde (batched tensors, Euler, float64): timed on all paths with 1 and
  with all torch threads; the faster is the reference for the × torchsde column.

Run:  python benchmarks/bench_mc.py [--paths 100000] [--steps 504] [--repeat 3] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import time

import numpy as np
from scipy import stats

KAPPA, MEAN, SIGMA, X0, T = 0.45, 1.0, 0.32, -0.5, 2.0


CPU = {}


def best_of(fn, repeat):
    """Best wall time of ``repeat`` runs; the CPU time (all threads) of that run goes to CPU[fn]."""
    best, out, cpu = math.inf, None, math.inf
    for _ in range(repeat):
        c0, t0 = time.process_time(), time.perf_counter()
        out = fn()
        w, c = time.perf_counter() - t0, time.process_time() - c0
        if w < best:
            best, cpu = w, c
    CPU["last"] = cpu
    return best, out


def euler_law(n_steps):
    h = T / n_steps
    a = 1 - KAPPA * h
    m = MEAN + (X0 - MEAN) * a**n_steps
    v = SIGMA**2 * h * (1 - a ** (2 * n_steps)) / (1 - a * a)
    return stats.norm(m, math.sqrt(v))


def exact_law():
    from gelav import OrnsteinUhlenbeck

    return OrnsteinUhlenbeck(KAPPA, MEAN, SIGMA).transition(X0, T)


def zscores(x, law):
    x = np.asarray(x, dtype=float)
    n = x.size
    zm = (x.mean() - law.mean()) / (x.std(ddof=1) / math.sqrt(n))
    c = float(law.mean())
    p = float((x < c).mean())
    zp = (p - law.cdf(c)) / math.sqrt(law.cdf(c) * (1 - law.cdf(c)) / n)
    return float(zm), float(zp)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--paths", type=int, default=100_000)
    ap.add_argument("--steps", type=int, default=504)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--sdeint-paths", type=int, default=200)
    ap.add_argument("--json", default=None)
    a = ap.parse_args(argv)
    N, M, R = a.paths, a.steps, a.repeat
    dt = T / M
    ps = N * M
    rows = []

    def add(name, secs, n_ps, z=(math.nan, math.nan), note=""):
        cpu = CPU.get("last", math.nan)
        rows.append({"method": name, "seconds": secs, "cpu_seconds": cpu, "path_steps_per_s": n_ps / secs,
                     "path_steps_per_cpu_s": n_ps / cpu, "z_mean": z[0], "z_prob": z[1], "note": note})
        print(f"  {name:<44s} {n_ps / secs / 1e6:9.1f} M path-steps/s  ({secs:.3f} s wall, {cpu:.3f} s CPU, "
              f"load {os.getloadavg()[0]:.2f}) {note}", flush=True)

    print(f"OU, {N:,} paths × {M} steps; {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} cores, numpy {np.__version__}, load {os.getloadavg()[0]:.2f}")

    # The fast methods run in interleaved rounds (A B C … A B C …) and each keeps its best
    # round, so a neighbour's load on this shared machine hits them alike.
    from gelav import OrnsteinUhlenbeck
    from gelav.montecarlo import simulate

    buf = np.empty((M, N))
    rng = np.random.default_rng(0)
    rng.standard_normal(out=buf)  # touch the pages
    rng2 = np.random.Generator(np.random.SFC64(0))

    def numpy_loop():
        g = np.random.default_rng(1)
        x = np.full(N, X0)
        for _ in range(M):
            x = x + KAPPA * (MEAN - x) * dt + SIGMA * math.sqrt(dt) * g.standard_normal(N)
        return x

    ou = OrnsteinUhlenbeck(KAPPA, MEAN, SIGMA)
    cases = [
        ("NumPy fill (default_rng, PCG64)", lambda: rng.standard_normal(out=buf), None, "normals only, no path"),
        ("NumPy fill (SFC64)", lambda: rng2.standard_normal(out=buf), None, "normals only, no path"),
        ("NumPy vectorised Euler loop", numpy_loop, euler_law(M), ""),
    ]
    engines = ["numpy"]
    try:
        import numba  # noqa: F401

        engines.append("numba")
        simulate(ou, X0, T, 4, 1000, scheme="exact", seed=0, engine="numba")  # compile once, outside the timing
    except ImportError:
        print("  numba not installed: engine='numba' skipped")
    for engine in engines:
        for scheme in ("exact", "euler"):
            for workers in (1, os.cpu_count() or 1):
                def fn(s=scheme, w=workers, e=engine):
                    return simulate(ou, X0, T, M, N, scheme=s, seed=1, workers=w, engine=e).at()

                law = exact_law() if scheme == "exact" else euler_law(M)
                cases.append((f"gelav {scheme}, {engine} engine, {workers} thread{'s' if workers > 1 else ''}",
                              fn, law, ""))
    best = {name: (math.inf, math.nan, None) for name, *_ in cases}
    for _ in range(R):
        for name, fn, _law, _note in cases:
            c0, t0 = time.process_time(), time.perf_counter()
            out = fn()
            w, c = time.perf_counter() - t0, time.process_time() - c0
            if w < best[name][0]:
                best[name] = (w, c, out)
    gel = {}
    for name, _fn, law, note in cases:
        w, c, out = best[name]
        CPU["last"] = c
        add(name, w, ps, zscores(out, law) if law is not None else (math.nan, math.nan), note)
        if name.startswith("gelav"):
            gel[name] = ps / w
    fill_pcg = ps / best["NumPy fill (default_rng, PCG64)"][0]
    fill_sfc = ps / best["NumPy fill (SFC64)"][0]
    loop_rate = ps / best["NumPy vectorised Euler loop"][0]

    # -- sdeint -------------------------------------------------------------------------
    sde_rate = None
    try:
        import sdeint

        n_sub = a.sdeint_paths
        tspan = np.linspace(0.0, T, M + 1)
        f = lambda x, t: KAPPA * (MEAN - x)  # noqa: E731
        G = lambda x, t: np.array([[SIGMA]])  # noqa: E731

        def run_sdeint():
            g = np.random.default_rng(2)
            out = np.empty(n_sub)
            for i in range(n_sub):
                dW = g.standard_normal((M, 1)) * math.sqrt(dt)
                out[i] = sdeint.itoEuler(f, G, np.array([X0]), tspan, dW=dW)[-1, 0]
            return out

        secs, x = best_of(run_sdeint, 1)
        add(f"sdeint itoEuler ({n_sub} paths, 1 by 1)", secs, n_sub * M, note="per-path loop; rate extrapolates")
        sde_rate = n_sub * M / secs
    except ImportError as exc:  # pragma: no cover
        rows.append({"method": "sdeint", "note": f"not installed: {exc}"})
        print("  sdeint not installed")

    # -- torchsde -----------------------------------------------------------------------
    ts_rate = None
    try:
        import torch
        import torchsde

        class OU(torch.nn.Module):
            noise_type = "diagonal"
            sde_type = "ito"

            def f(self, t, y):
                return KAPPA * (MEAN - y)

            def g(self, t, y):
                return torch.full_like(y, SIGMA)

        sde = OU()
        ts_ = torch.tensor([0.0, T], dtype=torch.float64)

        def run_torchsde():
            torch.manual_seed(3)
            y0 = torch.full((N, 1), X0, dtype=torch.float64)
            with torch.no_grad():
                ys = torchsde.sdeint(sde, y0, ts_, method="euler", dt=dt)
            return ys[-1, :, 0].numpy()

        # torch's intra-op threads spin when the cores are shared: time 1 and all threads, keep the best
        for nt in sorted({1, os.cpu_count() or 1}):
            torch.set_num_threads(nt)
            secs, x = best_of(run_torchsde, 1)
            add(f"torchsde Euler (float64, {nt} thread{'s' if nt > 1 else ''})", secs, ps, zscores(x, euler_law(M)))
            ts_rate = max(ts_rate or 0.0, ps / secs)
    except ImportError as exc:  # pragma: no cover
        rows.append({"method": "torchsde", "note": f"not installed: {exc}"})
        print("  torchsde not installed")

    best_gel = max(gel.values())
    print()
    print("| method | M path-steps/s (wall) | M path-steps per CPU-s | × NumPy fill (PCG64) | × NumPy fill (SFC64) "
          "| × torchsde | z(mean) | z(P) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        if "path_steps_per_s" not in r:
            print(f"| {r['method']} | — | — | — | — | — | — | — | {r['note']}")
            continue
        v = r["path_steps_per_s"]
        tsr = f"{v / ts_rate:.1f}" if ts_rate else "—"
        zm = "—" if math.isnan(r["z_mean"]) else f"{r['z_mean']:+.2f}"
        zp = "—" if math.isnan(r["z_prob"]) else f"{r['z_prob']:+.2f}"
        print(f"| {r['method']} | {v / 1e6:.1f} | {r['path_steps_per_cpu_s'] / 1e6:.1f} | {v / fill_pcg:.2f} | "
              f"{v / fill_sfc:.2f} | {tsr} | {zm} | {zp} |")
    print()
    print(f"best gelav: {best_gel / 1e6:.1f} M/s = {best_gel / fill_pcg:.2f}× NumPy fill (PCG64), "
          f"{best_gel / fill_sfc:.2f}× fill (SFC64), {best_gel / loop_rate:.1f}× NumPy loop"
          + (f", {best_gel / ts_rate:.1f}× torchsde" if ts_rate else "")
          + (f", {best_gel / sde_rate:.0f}× sdeint" if sde_rate else ""))
    if a.json:
        with open(a.json, "w") as fh:
            json.dump({"paths": N, "steps": M, "rows": rows, "python": sys.version}, fh, indent=2)


if __name__ == "__main__":
    main()
