"""Benchmark: the single-type GE-LAV mean-field equilibrium on 500 cells × 1,000 steps to 1e-8.

Cost is reported as a multiple of (a) one linear backward (Feynman–Kac) plus one
forward (Fokker–Planck) θ-sweep on the same grid with gelav's ThetaStepper, and
(b) one evaluation of the fixed-point map Φ (relaxed optimal-stopping backward
sweep + transposed forward sweep). Methods: damped Picard, fictitious play,
Anderson, Newton–Krylov and the default ("auto": Anderson, falling back to
continuation in the relaxation and damped Picard), and the default with the
optional compiled sweeps (``Numerics(engine="numba")``) when Numba is installed.

Usage::

    python benchmarks/bench_mfg.py [--scenario crisis] [--n-cells 500] [--n-steps 1000] [--out FILE.md]
        [--quick] [--repeat R] [--old SRC [--rounds 2]]

``--old SRC`` also times the default solve on both engines with another gelav
source tree (e.g. a ``git worktree`` of an earlier commit) in a subprocess, for a
side-by-side regression check; the compiled floor (evaluations × steps × 3
compiled tridiagonal solves) is printed whenever Numba is installed.
"""

from __future__ import annotations

import argparse
import dataclasses
import time

import numpy as np

from gelav.errors import ConvergenceError
from gelav.mfg import SolverOptions, solve
from gelav.mfg.engine import Problem
from gelav.mfg.scenarios import SCENARIOS
from gelav.stepping import ThetaStepper


def unit_linear(pb: Problem, repeats: int = 3) -> float:
    """Seconds for one backward + one forward θ-sweep with the foundation's ThetaStepper (the same Q)."""
    from gelav.generator import Generator
    from gelav.processes import OrnsteinUhlenbeck

    t = pb.model.types[0]
    gen = Generator(OrnsteinUhlenbeck(t.kappa, t.mean, t.sigma), pb.grid, killing=t.discount_rate)
    best = np.inf
    for _ in range(repeats):
        stepper = ThetaStepper(gen)
        t0 = time.perf_counter()
        u = np.ones(pb.N)
        ops = []
        for n in range(pb.M - 1, -1, -1):
            op = stepper.step(pb.times[n], pb.times[n + 1], float(pb.theta[n]))
            u = op.backward(u, pb.f[0, n])
            ops.append(op)
        p = pb.p0[0].copy()
        for op in reversed(ops):
            p = op.forward(p)
        best = min(best, time.perf_counter() - t0)
    return best


def unit_lcp(pb: Problem, repeats: int = 2) -> float:
    """Seconds for gelav.stopping.optimal_stopping (LCP, policy iteration) + one forward sweep on the same grid."""
    from gelav.forward import forward
    from gelav.processes import OrnsteinUhlenbeck
    from gelav.stopping import optimal_stopping

    t = pb.model.types[0]
    proc = OrnsteinUhlenbeck(t.kappa, t.mean, t.sigma)
    price = float(pb.coupling.base(pb.ctx)[0, 0])
    best = np.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        optimal_stopping(proc, price, pb.model.horizon, running=lambda tt, x: t.running_reward(tt, x),
                         discount=t.discount_rate, grid=pb.grid, time_grid=pb.tg)
        forward(proc, t.initial_law(), pb.model.horizon, grid=pb.grid, time_grid=pb.tg)
        best = min(best, time.perf_counter() - t0)
    return best


def unit_phi(pb: Problem, repeats: int = 3) -> float:
    """Seconds for one evaluation of Φ (relaxed best response + forward) at the target relaxation, cold start."""
    Z = pb.zero_path()
    best = np.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        pb.phi(Z, pb.numerics.epsilon, pb.numerics.delta)
        best = min(best, time.perf_counter() - t0)
    return best


def unit_phi_warm(pb: Problem, Z: np.ndarray, repeats: int = 3) -> dict[str, float]:
    """Seconds for one Φ near the fixed point ``Z``, warm-started from the best response to a path 1e-8 away (late iterations).

    Returns the times of the step-by-step Newton ("step") and of Newton on all steps at
    once ("global"), and of the forward sweep alone.
    """
    eps, delta = pb.numerics.epsilon, pb.numerics.delta
    bw0 = pb.backward(Z * (1.0 + 1e-8), eps, delta)
    out = {}
    for newton in ("step", "global"):
        best = np.inf
        for _ in range(repeats):
            t0 = time.perf_counter()
            pb.phi(Z, eps, delta, guess=bw0, newton=newton)
            best = min(best, time.perf_counter() - t0)
        out[newton] = best
    bw = pb.backward(Z, eps, delta, guess=bw0)
    best = np.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        pb.forward(bw)
        best = min(best, time.perf_counter() - t0)
    out["forward"] = best
    return out


def compiled_floor(n_nodes: int, n_solves: int, repeats: int = 3) -> float:
    """Seconds for ``n_solves`` compiled Thomas solves of ``n_nodes`` unknowns (one compiled loop)."""
    from numba import njit

    from gelav.fd import linalg

    thomas = linalg.numba_kernels().thomas

    @njit(cache=False)
    def run(dl, d, du, b, out, work, m):  # type: ignore[no-untyped-def]
        for _ in range(m):
            thomas(dl, d, du, b, out, work)
            b[0] += 1e-300 * out[0]  # keep each solve live

    n = n_nodes
    dl, du, d = -np.ones(n - 1), -np.ones(n - 1), np.full(n, 3.0)
    b, out, work = np.ones(n), np.empty(n), np.empty(n)
    run(dl, d, du, b, out, work, 1)
    best = np.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        run(dl, d, du, b, out, work, n_solves)
        best = min(best, time.perf_counter() - t0)
    return best


_OLD = """
import dataclasses, json, sys, time
from gelav.mfg import SolverOptions, solve
from gelav.mfg.scenarios import SCENARIOS
sc = SCENARIOS[sys.argv[1]]
out = {}
for eng in ("numpy", "numba"):
    num = dataclasses.replace(sc.numerics, n_cells=int(sys.argv[2]), n_steps=int(sys.argv[3]), engine=eng)
    solve(sc.model, numerics=dataclasses.replace(num, n_cells=20, n_steps=20), no_feedback=False)
    opts = SolverOptions(method="auto", tol=float(sys.argv[4]), max_iter=int(sys.argv[5]))
    best = cpu = 1e300
    for _ in range(2):
        t0, c0 = time.perf_counter(), time.process_time()
        eq = solve(sc.model, numerics=num, options=opts, no_feedback=False)
        best = min(best, time.perf_counter() - t0)
        cpu = min(cpu, time.process_time() - c0)
    out[eng] = [best, float(eq.price[0, 0]), float(eq.price[0, -1]), cpu]
print(json.dumps(out))
"""


def side_by_side(src_dirs: dict[str, str], a: argparse.Namespace) -> dict[str, dict[str, list[float]]]:
    """The default solve on both engines (best of 2 per process, compiled outside the timing) per gelav
    source tree, the trees run alternately ``a.rounds`` times; the best wall and CPU times are kept
    (single-threaded BLAS: the CPU time is then the solve's own, robust on a loaded machine)."""
    import json
    import os
    import subprocess
    import sys

    res: dict[str, dict[str, list[float]]] = {}
    for _ in range(a.rounds):
        for tag, src in src_dirs.items():
            env = {**os.environ, "PYTHONPATH": src, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
                   "MKL_NUM_THREADS": "1"}
            cp = subprocess.run([sys.executable, "-c", _OLD, a.scenario, str(a.n_cells), str(a.n_steps),
                                 str(a.tol), str(a.max_iter)], env=env, capture_output=True, text=True, check=True)
            got = json.loads(cp.stdout.strip().splitlines()[-1])
            for eng, row in got.items():
                if eng in res.get(tag, {}):
                    old = res[tag][eng]
                    row = [min(old[0], row[0]), row[1], row[2], min(old[3], row[3])]
                res.setdefault(tag, {})[eng] = row
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenario", default="crisis")
    ap.add_argument("--n-cells", type=int, default=500)
    ap.add_argument("--n-steps", type=int, default=1000)
    ap.add_argument("--tol", type=float, default=1e-8)
    ap.add_argument("--max-iter", type=int, default=300)
    ap.add_argument("--out", default=None, help="write the table as Markdown to this file")
    ap.add_argument("--quick", action="store_true", help="only the default method")
    ap.add_argument("--old", default=None, help="another gelav source tree (its src/) to time side by side")
    ap.add_argument("--rounds", type=int, default=2, help="alternating old/new rounds of the side-by-side run")
    ap.add_argument("--repeat", type=int, default=1,
                    help="solves per method (best wall time kept; the linear pair is timed again after "
                         "them and the best of both kept: the ratios then compare uncontended runs)")
    a = ap.parse_args()
    sc = SCENARIOS[a.scenario]
    num = dataclasses.replace(sc.numerics, n_cells=a.n_cells, n_steps=a.n_steps)
    pb = Problem(sc.model, num)
    lin = unit_linear(pb)
    phi = unit_phi(pb)
    lcp = unit_lcp(pb)
    print(f"units: linear backward+forward {lin * 1e3:.1f} ms; optimal_stopping (LCP) + forward {lcp * 1e3:.1f} ms; "
          f"one Φ {phi * 1e3:.1f} ms", flush=True)
    rows = []
    ref = None
    warm: dict[str, float] = {}
    default_label = f"auto (default: {num.resolved_engine} engine)"
    methods = [(default_label, "auto", {}, {}), ("auto, NumPy engine", "auto", {}, {"engine": "numpy"}),
               ("picard a=0.5", "picard", {}, {}),
               ("picard a=1", "picard", {"damping": 1.0}, {}),
               ("fictitious play", "fictitious", {"max_iter": min(a.max_iter, 60)}, {}),
               ("anderson", "anderson", {}, {}), ("newton-krylov", "newton-krylov", {}, {}),
               ("auto + continuation 0.1→ε", "auto", {"continuation": True}, {}),
               ("auto, lagged exit control", "auto", {}, {"control": "lagged"})]
    from gelav.mfg import _numba

    if _numba.available():
        # the optional compiled sweeps (same scheme); compile once outside the timing
        methods.append(("auto, numba engine", "auto", {}, {"engine": "numba"}))
        solve(sc.model, numerics=dataclasses.replace(num, n_cells=20, n_steps=20, engine="numba"), no_feedback=False)
    if a.quick:
        methods = [m for m in methods if m[0] in (default_label, "auto, NumPy engine", "auto, numba engine")]
    for label, method, extra, nextra in methods:
        extra = {"max_iter": a.max_iter, **extra}
        opts = SolverOptions(method=method, tol=a.tol, **extra)
        t0 = time.perf_counter()
        try:
            eq = solve(sc.model, numerics=dataclasses.replace(num, **nextra), options=opts, no_feedback=False)
            best = time.perf_counter() - t0
            for _ in range(a.repeat - 1):
                t1 = time.perf_counter()
                solve(sc.model, numerics=dataclasses.replace(num, **nextra), options=opts, no_feedback=False)
                best = min(best, time.perf_counter() - t1)
            t0 = time.perf_counter() - best
            ok, its, res, hist = True, eq.diagnostics["evaluations"], eq.residual, eq.history
            if ref is None:
                ref = eq.price
                sec0 = time.perf_counter() - t0
                warm = unit_phi_warm(pb, eq.path)
                t0 = time.perf_counter() - sec0
            err = float(np.max(np.abs(eq.price - ref)))
        except ConvergenceError as exc:
            ok, hist = False, exc.history
            its, res, err = len(hist), hist[-1]["residual"], float("nan")
        sec = time.perf_counter() - t0
        rows.append((label, ok, its, res, sec, sec / lin, sec / lcp, sec / phi, err))
        print(f"{label:26s} converged={ok!s:5s} evaluations={its:4d} residual={res:.1e} "
              f"time={sec:7.2f}s  ×(bwd+fwd)={sec / lin:6.1f}  ×(LCP+fwd)={sec / lcp:5.1f}  ×Φ={sec / phi:5.1f}",
              flush=True)
    if a.repeat > 1:  # the unit again, after the solves: the best of both (load changes during a run)
        lin2 = unit_linear(pb)
        if lin2 < lin:
            rows = [(r[0], r[1], r[2], r[3], r[4], r[4] / lin2, r[6], r[7], r[8]) for r in rows]
            lin = lin2
        print(f"linear pair after the solves {lin2 * 1e3:.1f} ms; kept {lin * 1e3:.1f} ms", flush=True)
    if warm:
        print(f"Φ near the fixed point (warm): step-by-step Newton {warm['step'] * 1e3:.1f} ms "
              f"({warm['step'] / lin:.2f} × linear pair), Newton on all steps {warm['global'] * 1e3:.1f} ms "
              f"({warm['global'] / lin:.2f} ×); forward sweep alone {warm['forward'] * 1e3:.1f} ms", flush=True)
    head = (f"Scenario `{a.scenario}`, {pb.N} nodes × {pb.M} steps, tol {a.tol:g}; one linear backward+forward "
            f"sweep (cached LU) = {lin * 1e3:.1f} ms, `optimal_stopping` (LCP) + forward = {lcp * 1e3:.1f} ms, "
            f"one Φ evaluation from a cold start (relaxed stopping with Newton + forward) = {phi * 1e3:.1f} ms")
    if warm:
        head += (f", one Φ near the fixed point = {warm['step'] * 1e3:.1f} ms (step-by-step Newton) / "
                 f"{warm['global'] * 1e3:.1f} ms (Newton on all steps), forward sweep alone {warm['forward'] * 1e3:.1f} ms")
    head += ".\n\n"
    table = ["| method | converged | evaluations of Φ | residual | time [s] | × linear (bwd+fwd) | × (LCP bwd + fwd) | × Φ | max price diff vs default |",
             "|---|---|---|---|---|---|---|---|---|"]
    for label, ok, its, res, sec, m1, m3, m2, err in rows:
        table.append(f"| {label} | {'yes' if ok else 'no'} | {its} | {res:.1e} | {sec:.2f} | {m1:.1f} | {m3:.1f} | {m2:.1f} | {err:.1e} |")
    md = head + "\n".join(table) + "\n"
    from gelav.mfg import _numba as mfg_numba

    nb_rows = [r for r in rows if r[0] == "auto, numba engine" and r[1]]
    if mfg_numba.available() and nb_rows:
        its = nb_rows[0][2]
        floor = compiled_floor(pb.N, its * pb.M * 3)
        line = (f"\nCompiled floor ({its} evaluations × {pb.M} steps × 3 compiled tridiagonal solves of {pb.N}): "
                f"{floor:.3f} s; numba engine {nb_rows[0][4]:.2f} s = {nb_rows[0][4] / floor:.1f} × floor; "
                + "".join(f"NumPy engine {r[4]:.2f} s = {r[5]:.1f} × one linear backward+forward pair.\n"
                          for r in rows if r[0] == "auto, NumPy engine" and r[1]))
        print(line)
        md += line
    if a.old:
        import os

        here = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "src")
        sbs = side_by_side({"old": a.old, "new": os.path.abspath(here)}, a)
        lines = ["", "| engine | old [s] | new [s] | new / old | old CPU [s] | new CPU [s] | new / old (CPU) "
                 "| price diff (first, last) |", "|---|---|---|---|---|---|---|---|"]
        for eng in ("numpy", "numba"):
            o, n = sbs["old"][eng], sbs["new"][eng]
            lines.append(f"| {eng} | {o[0]:.2f} | {n[0]:.2f} | {n[0] / o[0]:.2f} | {o[3]:.2f} | {n[3]:.2f} | "
                         f"{n[3] / o[3]:.2f} | {abs(n[1] - o[1]):.1e}, {abs(n[2] - o[2]):.1e} |")
        txt = "\n".join(lines) + "\n"
        print(txt)
        md += txt
    print()
    print(md)
    if a.out:
        with open(a.out, "w") as fh:
            fh.write(md)


if __name__ == "__main__":
    main()
