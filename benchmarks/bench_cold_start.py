"""Cold start of ``gelav stress --method analytic,pde`` against a bare SciPy import.

Each sample is a new process (import and solve). The commands are run
interleaved, ``--repeats`` times each, after one untimed warm-up of each (to
load the files into the OS cache, so "cold" means a cold interpreter, not a
cold disk). Two ways of launching are timed:

* ``shim``: the commands as a user types them (``gelav`` and ``python`` found on
  PATH, which may be pyenv shims);
* ``direct``: the interpreter and the ``gelav`` console script of this
  environment called by absolute path (no shim overhead).

The target (issue 2) is ratio ≤ 3 of the medians. The script also prints the
slowest imports of the gelav command (``python -X importtime``).

Usage::

    python benchmarks/bench_cold_start.py [--repeats 15] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time

SOLVE = (
    "import gelav; from gelav import OrnsteinUhlenbeck, forward; "
    "forward(OrnsteinUhlenbeck(0.45,1,0.32), -0.5, 2.0).prob(below=-0.5)"
)


def gelav_script() -> str | None:
    cand = os.path.join(os.path.dirname(sys.executable), "gelav")
    return cand if os.path.exists(cand) else shutil.which("gelav")


def has_stress(exe: str) -> bool:
    r = subprocess.run([exe, "stress", "--help"], capture_output=True, text=True)
    return r.returncode == 0


def commands() -> dict[str, list[str]]:
    py = sys.executable
    script = gelav_script()
    cmds: dict[str, list[str]] = {
        "direct: python -c 'import scipy.linalg'": [py, "-c", "import scipy.linalg"],
        "direct: python -c '<import gelav; forward(...)>'": [py, "-c", SOLVE],
        # attribution rows: what the gelav command pays for
        "direct: python -c 'import scipy.stats'": [py, "-c", "import scipy.stats"],
        "direct: python -c 'import gelav'": [py, "-c", "import gelav"],
    }
    if script and has_stress(script):
        cmds["direct: gelav stress --method analytic,pde"] = [script, "stress", "--method", "analytic,pde"]
    shim_py, shim_gelav = shutil.which("python"), shutil.which("gelav")
    if shim_py:
        cmds["shim: python -c 'import scipy.linalg'"] = [shim_py, "-c", "import scipy.linalg"]
    if shim_gelav and has_stress(shim_gelav):
        cmds["shim: gelav stress --method analytic,pde"] = [shim_gelav, "stress", "--method", "analytic,pde"]
    return cmds


#: the children's environment: as a user's shell, with .pyc caching on (PYTHONDONTWRITEBYTECODE, set in some
#: sandboxes and CI, would make every sample compile gelav's sources again: 0.05-0.2 s a command here, which no user pays)
CHILD_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def run_once(cmd: list[str], *, clock: str = "wall") -> float:
    """Seconds of one new process running ``cmd``: elapsed (``clock="wall"``) or its user + system CPU time
    (``"cpu"``: what the process itself costs, much less inflated than the wall clock when other jobs
    share the cores)."""
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=CHILD_ENV)
    assert p.stderr is not None
    err = p.stderr.read()
    p.stderr.close()
    _, status, usage = os.wait4(p.pid, 0)  # wait4: the child's resource usage with its exit status
    dt = time.perf_counter() - t0
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({p.returncode}): {err[-500:]}")
    return usage.ru_utime + usage.ru_stime if clock == "cpu" else dt


WATCH = ("gelav", "gelav.cli", "scipy.stats", "scipy.linalg", "scipy.sparse", "scipy.special", "scipy.optimize",
         "numpy", "click", "rich", "matplotlib", "sympy", "dask", "pandas", "numba")


def import_profile(cmd: list[str]) -> dict[str, float | None]:
    """Cumulative import time (s, from ``-X importtime``) of watched modules; None = not imported."""
    if os.path.basename(cmd[0]) == "gelav":  # run the console script's entry point under the interpreter
        cmd = [sys.executable, "-X", "importtime", "-c",
               "import sys; from gelav.cli import main; sys.argv=['gelav']+sys.argv[1:]; main()", *cmd[1:]]
    else:
        cmd = [cmd[0], "-X", "importtime", *cmd[1:]]
    r = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    entries = []
    for line in r.stderr.splitlines():
        m = re.match(r"import time:\s+(\d+)\s+\|\s+(\d+)\s+\|( *)(\S+)", line)
        if m:
            entries.append((len(m.group(3)), m.group(4), int(m.group(2)) / 1e6))
    found: dict[str, float | None] = {}
    for mod in WATCH:
        exact = [c for _, name, c in entries if name == mod]
        if exact:
            found[mod] = exact[0]
            continue
        # packages loaded through a lazy loader show only their sub-modules: add the shallowest ones
        subs = [(d, c) for d, name, c in entries if name.startswith(mod + ".")]
        top = min((d for d, _ in subs), default=None)
        found[mod] = sum(c for d, c in subs if d == top) if subs else None
    return found


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--json", metavar="FILE")
    args = ap.parse_args(argv)
    cmds = commands()
    for cmd in cmds.values():  # warm-up: OS file cache, .pyc files
        run_once(cmd)
    samples: dict[str, list[float]] = {k: [] for k in cmds}
    for _ in range(args.repeats):
        for name, cmd in cmds.items():
            samples[name].append(run_once(cmd))
    stats = {k: {"min": min(v), "median": statistics.median(v), "mean": statistics.fmean(v)} for k, v in samples.items()}
    print(f"{args.repeats} interleaved runs each (seconds); machine load shared with other work may inflate all rows\n")
    print("| command | min | median | mean |")
    print("|---|---:|---:|---:|")
    for k, s in stats.items():
        print(f"| `{k}` | {s['min']:.3f} | {s['median']:.3f} | {s['mean']:.3f} |")
    ratios = {}
    for mode in ("direct", "shim"):
        base = stats.get(f"{mode}: python -c 'import scipy.linalg'")
        for k, s in stats.items():
            if k.startswith(mode) and "scipy.linalg" not in k and base:
                ratios[k] = {"median": s["median"] / base["median"], "min": s["min"] / base["min"]}
    print("\n| command | ratio to the same-mode `import scipy.linalg` (medians) | (minima) | target |")
    print("|---|---:|---:|---:|")
    for k, r in ratios.items():
        print(f"| `{k}` | {r['median']:.2f}× | {r['min']:.2f}× | ≤ 3× |")
    stress = next((c for k, c in cmds.items() if k.startswith("direct: gelav stress")), None)
    imports = import_profile(stress or cmds["direct: python -c '<import gelav; forward(...)>'"])
    print("\nImports of the gelav command (cumulative s under -X importtime, which inflates them; '-' = not imported):")
    for mod, sec in imports.items():
        print(f"  {mod:16s} {'-' if sec is None else f'{sec:.3f}'}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"samples": samples, "stats": stats, "ratios": ratios, "imports": imports}, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
