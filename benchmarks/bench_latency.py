r"""Latency of every gelav command's default run against a bare ``python -c "import scipy.linalg"``.

Issue 16, target 1: every command's default run ≤ 2× a bare SciPy-linalg
process, ``import gelav`` ≤ 1.2× it, ``gelav report`` with every section ≤ 8×.

Each sample is a new process. The commands run interleaved (``--repeats`` rounds,
after one untimed warm-up round that fills the OS file cache and the numba /
``.pyc`` caches), so load from other work inflates every row alike; ratios are
of medians. Commands that read a file get seeded sample files from
:mod:`gelav.datasets` written to a temporary folder; the report renders the
scenario written here with every section.

Usage::

    python benchmarks/bench_latency.py [--repeats 7] [--json FILE] [--only stress,mfg] [--clock cpu]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

from bench_cold_start import (
    run_once,  # one timer for both start-up benchmarks (a new process per sample)
)

PORTFOLIO = """\
[[funds]]
name = "Buyout A"
nav = 100.0
remaining_life = 6.0
type = "buyout"

[[funds]]
name = "Venture B"
nav = 40.0
remaining_life = 8.0
type = "venture"
"""

REPORT = """\
title = "latency benchmark: every section"

[process]
kind = "ou"
kappa = 0.45
mean = 1.0
sigma = 0.32

[stress]
x0 = -0.5
threshold = -0.5
horizon = 2.0

[feynman_kac]

[exit_time]

[trinomial]

[mckean_vlasov]

[mfg]
preset = "stress"

[ito]
drift = "mu*X"
diffusion = "sigma*X"
"""


def gelav_script() -> list[str]:
    cand = os.path.join(os.path.dirname(sys.executable), "gelav")
    return [cand] if os.path.exists(cand) else [sys.executable, "-m", "gelav.cli"]


def inputs(folder: Path) -> dict[str, Path]:
    """Seeded sample files in the course's layouts (gelav's own generators)."""
    from gelav import datasets

    files = {
        "trades": datasets.secondary_trades(seed=1).to_csv(folder / "trades.csv"),
        "funds": datasets.fund_cashflows(seed=2).to_csv(folder / "fund.csv"),
        "history": datasets.liquidity_history(seed=3).to_csv(folder / "liquidity.csv"),
    }
    (folder / "portfolio.toml").write_text(PORTFOLIO)
    (folder / "report.toml").write_text(REPORT)
    files["portfolio"] = folder / "portfolio.toml"
    files["report"] = folder / "report.toml"
    return files


def commands(files: dict[str, Path], out: Path) -> dict[str, list[str]]:
    py, g = sys.executable, gelav_script()
    return {
        "python -c 'import scipy.linalg'": [py, "-c", "import scipy.linalg"],
        "python -c 'import gelav'": [py, "-c", "import gelav"],
        "gelav stress": [*g, "stress", "-q"],
        "gelav feynman-kac": [*g, "feynman-kac", "-q"],
        "gelav exit-time": [*g, "exit-time", "-q"],
        "gelav ito": [*g, "ito", "--drift", "mu*X", "--diffusion", "sigma*X", "-q"],
        "gelav trinomial": [*g, "trinomial", "-q"],
        "gelav mckean-vlasov": [*g, "mckean-vlasov", "-q"],
        "gelav mfg": [*g, "mfg", "-q"],
        "gelav welfare": [*g, "welfare", "-q"],
        "gelav calibrate FILE": [*g, "calibrate", str(files["history"]), "-q"],
        "gelav premium FILE": [*g, "premium", str(files["trades"]), "-q"],
        "gelav metrics FILE": [*g, "metrics", str(files["funds"]), "-q"],
        "gelav exit-boundary": [*g, "exit-boundary", "-q"],
        "gelav jensen": [*g, "jensen", "-q"],
        "gelav portfolio FILE": [*g, "portfolio", str(files["portfolio"]), "-q"],
        "gelav report (every section)": [*g, "report", "--config", str(files["report"]), "-o",
                                         str(out / "report.html"), "-q"],
    }


def target(name: str) -> float:
    if name == "python -c 'import gelav'":
        return 1.2
    if name.startswith("gelav report"):
        return 8.0
    return 2.0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--json", metavar="FILE")
    ap.add_argument("--only", default=None, help="comma-separated subset of command names (substring match)")
    ap.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                    help="time each process by the wall clock (the target's) or by its user + system CPU time "
                         "(steadier when other jobs share the cores)")
    args = ap.parse_args(argv)
    folder = Path(tempfile.mkdtemp(prefix="gelav-latency-"))
    try:
        cmds = commands(inputs(folder), folder)
        base_name = "python -c 'import scipy.linalg'"
        if args.only:
            keys = [k.strip() for k in args.only.split(",")]
            cmds = {k: v for k, v in cmds.items() if k == base_name or any(s in k for s in keys)}
        failed: dict[str, str] = {}
        for name, cmd in list(cmds.items()):  # warm-up round (also drops commands that fail, with the reason)
            try:
                run_once(cmd)
            except RuntimeError as e:
                failed[name] = str(e).splitlines()[-1]
                del cmds[name]
        samples: dict[str, list[float]] = {k: [] for k in cmds}
        for _ in range(args.repeats):
            for name, cmd in cmds.items():
                samples[name].append(run_once(cmd, clock=args.clock))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    med = {k: statistics.median(v) for k, v in samples.items()}
    base = med[base_name]
    what = "wall-clock" if args.clock == "wall" else "CPU (user + system)"
    print(f"{args.repeats} interleaved runs each; medians of {what} seconds; ratio to `{base_name}` = {base:.3f} s\n")
    print("| command | median (s) | ratio | target | met |")
    print("|---|---:|---:|---:|:---:|")
    rows = []
    for k, m in med.items():
        if k == base_name:
            continue
        r, t = m / base, target(k)
        rows.append({"command": k, "median": m, "ratio": r, "target": t, "met": r <= t})
        print(f"| `{k}` | {m:.3f} | {r:.2f}× | ≤ {t:g}× | {'yes' if r <= t else 'no'} |")
    for k, why in failed.items():
        print(f"| `{k}` | failed: {why} | | | |")
    if args.json:
        Path(args.json).write_text(json.dumps({"clock": args.clock, "base": base, "rows": rows, "samples": samples,
                                               "failed": failed},
                                              indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
