"""Benchmark: master field warm starts — fixed-point evaluations per law, cold against warm.

Tabulates U(t0, L; N(m, s²)) over a Gaussian table with ``warm_start="off"`` (every law
from the calm start), ``"neighbour"`` (each law of a chain from its predecessor's
equilibrium path), ``"tangent"`` (that path moved by the tangent response to the change
of law) and ``"newton"`` (each chain from its calmest law; each further law's map evaluated
at the neighbour's path by a population sweep, from the neighbour's best response, then
Newton with the exact tangent), side by side in one run. Records per law the evaluations of
the fixed-point map Φ (a best response and a population sweep each), the population sweeps
alone, the tangent products (a linear backward and a linear forward sweep each), the wall
time, the largest distance of the table to the cold one, and whether the table is the same
(bit for bit) on 1 and 2 local processes and on a Dask client (in-process workers) — chains
are worker-independent blocks. The three kinds of work are also timed one by one on the most
distressed law (median of 5), to state every mode's work in evaluations of Φ.

Usage::

    python benchmarks/bench_master_field.py [--n-cells 200] [--n-steps 200] [--means -2:1:0.5]
        [--spreads 0.2,0.5] [--no-dask] [--out FILE.md]

Issue 16 target 4 asks for >= 2x fewer evaluations per law; the counts are stable between
runs, the times are wall-clock on a shared 2-core machine.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from gelav.mfg import LPType, Market, MFGModel, Numerics
from gelav.mfg.master import master_field

#: the warm tables must agree with the cold one to this (measured 1.4e-11 to 2.9e-11)
AGREE = 3e-11
MODES = ("off", "neighbour", "tangent", "newton")


def _axis(text: str) -> tuple[float, ...]:
    if ":" in text:
        lo, hi, step = (float(v) for v in text.split(":"))
        return tuple(float(v) for v in np.arange(lo, hi + 1e-9, step))
    return tuple(float(v) for v in text.split(","))


def _unit_costs(model: MFGModel, mf) -> tuple[float, float, float]:  # type: ignore[no-untyped-def]
    """Seconds of one Φ (warm inner start), one population sweep and one tangent product."""
    from gelav.mfg.engine import Problem
    from gelav.mfg.solver import solve
    from gelav.mfg.tangent import Tangent

    i = int(np.argmax(mf.laws @ (mf.grid.nodes < model.market.distress_level)))
    law = model.with_initial(mf.laws.reshape(-1, mf.grid.n_nodes)[i].copy())
    eq = solve(law, numerics=mf.numerics, grid=mf.grid, time_grid=mf.time_grid, no_feedback=False)
    pb = Problem(law, mf.numerics, grid=mf.grid, time_grid=mf.time_grid)
    eps, delta = mf.numerics.epsilon, mf.numerics.delta
    bw = pb.backward(eq.path, eps, delta)
    tan = Tangent.at(pb, eq.path, bw, pb.forward(bw), eps, delta)
    v = np.random.default_rng(0).standard_normal((*eq.path.shape, 1))

    def median(f) -> float:  # type: ignore[no-untyped-def]
        ts = []
        for _ in range(5):
            t = time.perf_counter()
            f()
            ts.append(time.perf_counter() - t)
        return float(np.median(ts))

    return (
        median(lambda: pb.phi(eq.path, eps, delta, guess=bw)),
        median(lambda: pb.forward(bw)),
        median(lambda: tan.jvp(v)),
    )


def run(
    n_cells: int, n_steps: int, means: tuple[float, ...], spreads: tuple[float, ...], dask: bool
) -> str:
    model = MFGModel((LPType(),), Market())
    num = Numerics(n_cells=n_cells, n_steps=n_steps)
    kw = dict(means=means, spreads=spreads, numerics=num)
    out = {}
    for warm in MODES:
        t = time.perf_counter()
        mf = master_field(model, warm_start=warm, workers=1, **kw)
        out[warm] = (mf, time.perf_counter() - t)
    cold = out["off"][0]
    c_phi, c_sweep, c_prod = _unit_costs(model, cold)
    n_laws = cold.evaluations.size
    lines = [
        f"Table: {len(means)} means × {len(spreads)} spreads, {n_cells} cells × {n_steps} steps, "
        f"default single-type model; load {os.getloadavg()[0]:.2f} (1-minute average at the end of "
        "the solves).",
        "",
        f"Unit costs on the most distressed law (median of 5): one Φ {1e3 * c_phi:.1f} ms (inner "
        f"Newton warm-started), one population sweep {1e3 * c_sweep:.1f} ms "
        f"({c_sweep / c_phi:.2f} Φ), one tangent product {1e3 * c_prod:.1f} ms "
        f"({c_prod / c_phi:.2f} Φ).",
        "",
        "| warm start | Φ evaluations per law | per law, chain starts excluded | population sweeps "
        "per law | tangent products per law | work per law [Φ] | seconds | max abs ΔU vs cold |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    per = {}
    for warm, (mf, sec) in out.items():
        d = mf.diagnostics
        starts = np.zeros(mf.shape, dtype=bool)
        for idx in d["chain_starts"]:
            starts[tuple(idx)] = True
        inner = mf.evaluations[~starts].mean() if (~starts).any() else float("nan")
        work = d["evaluations_per_law"] + (
            c_sweep * d["sweeps_per_law"] + c_prod * d["tangent_products_per_law"]
        ) / c_phi
        per[warm] = (d["evaluations_per_law"], d["sweeps_per_law"], work)
        lines.append(
            f"| {warm} | {d['evaluations_per_law']:.2f} | {inner:.2f} | {d['sweeps_per_law']:.2f} | "
            f"{d['tangent_products_per_law']:.1f} | {work:.2f} | {sec:.2f} | "
            f"{np.abs(mf.values - cold.values).max():.1e} |"
        )
    base = per["off"][0]
    agree = all(np.abs(mf.values - cold.values).max() <= AGREE for mf, _ in out.values())
    ratios = ", ".join(f"{w} **{base / per[w][0]:.2f}×**" for w in MODES[1:])
    e, s, w = per["newton"]
    lines += [
        "",
        f"Φ evaluations per law, cold / warm ({n_laws} laws): {ratios}. Counting each population "
        f"sweep of `newton` as a whole Φ: {base / (e + s):.2f}×; its work in Φ (sweeps and tangent "
        f"products at their unit costs): {per['off'][2] / w:.2f}×. Every warm table within "
        f"{AGREE:g} of the cold one: **{agree}**.",
        "",
    ]
    for warm in ("neighbour", "newton"):
        serial = out[warm][0]
        t = time.perf_counter()
        par = master_field(model, warm_start=warm, workers=2, **kw)
        sec2 = time.perf_counter() - t
        same = bool(np.array_equal(par.values, serial.values))
        lines.append(
            f"`{warm}`, 2 local processes ({par.diagnostics['mode']}, {sec2:.1f} s): table identical "
            f"to the serial one bit for bit: **{same}**."
        )
    if dask:
        try:
            from dask.distributed import Client
        except ImportError:
            lines.append("Dask: not installed.")
        else:
            with Client(
                processes=False, n_workers=1, threads_per_worker=2, dashboard_address=None
            ) as client:
                for warm in ("neighbour", "newton"):
                    t = time.perf_counter()
                    dk = master_field(model, warm_start=warm, client=client, **kw)
                    sec3 = time.perf_counter() - t
                    same = bool(np.array_equal(dk.values, out[warm][0].values))
                    lines.append(
                        f"`{warm}`, Dask client ({sec3:.1f} s): table identical to the serial one "
                        f"bit for bit: **{same}**."
                    )
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n-cells", type=int, default=200)
    ap.add_argument("--n-steps", type=int, default=200)
    ap.add_argument("--means", default="-2:1:0.5")
    ap.add_argument("--spreads", default="0.2,0.5")
    ap.add_argument("--no-dask", action="store_true")
    ap.add_argument("--out")
    a = ap.parse_args()
    text = run(a.n_cells, a.n_steps, _axis(a.means), _axis(a.spreads), not a.no_dask)
    print(text)
    if a.out:
        with open(a.out, "w", encoding="utf-8") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
