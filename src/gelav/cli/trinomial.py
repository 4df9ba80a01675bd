"""``gelav trinomial``: the trinomial walk of seed 003 against its Gaussian limit (a thin layer over
:func:`gelav.tasks.trinomial`)."""

from __future__ import annotations

import math
from typing import Any

import click

from gelav.cli._common import Output, print_table, shared_options
from gelav.tasks._base import DEFAULTS as _ALL

__all__ = ["trinomial"]

DEFAULTS: dict[str, Any] = _ALL["trinomial"]  # kept importable under its old name


def _fmt(x: float, digits: int = 5, scale: float = 1.0) -> str:
    """``digits`` significant figures; "0" only for rounding noise below 1e-12 of the moment's own ``scale``
    (an absolute 1e-12 printed δy = 1e-8's variance 1.5e-14 as 0), "–" where it is undefined."""
    if x != x:
        return "–"
    return "0" if abs(x) < 1e-12 * scale else f"{x:.{digits}g}"


@click.command("trinomial")
@click.option("--alpha", type=float, default=None, help="Up (= down) probability α in (0, 1/2]. [default 0.3]")
@click.option("--dy", type=float, default=None, help="Step size δy > 0. [default 1]")
@click.option("--dt", type=float, default=None, help="Time step δt > 0. [default 1]")
@click.option("--steps", type=int, default=None, help="Steps per walk. [default 252, a year of days]")
@click.option("--paths", type=int, default=None, help="Number of simulated walks. [default 10000]")
@click.option("--seed", type=int, default=None, help="Random seed (results depend on it only). [default 2023]")
@click.option("--x0", type=float, default=None, help="Starting position. [default 0]")
@shared_options("trinomial", config_help="Scenario TOML file; reads its [trinomial] table (options override it).",
                plot_help="Save the histogram-vs-limit figure to FILE (or FOLDER/trinomial.png).")
def trinomial(alpha: float | None, dy: float | None, dt: float | None, steps: int | None, paths: int | None,
              seed: int | None, x0: float | None, out: Output) -> None:
    r"""Simulate the trinomial walk of seed 003 and compare it with its Gaussian limit.

    Each step moves ±δy with probability α and stays with probability 1 − 2α.
    The walk's law solves the master equation exactly (computed here), and in the
    limit solves ∂P/∂t = C² ∂²P/∂y² with C² = α δy²/δt, so y_t ~ N(x0, 2C²t).
    Prints moments (sample ± standard error, exact lattice, Gaussian limit) and
    Kolmogorov–Smirnov distances to the exact lattice law and to the limit.
    """
    from gelav import tasks

    rep = tasks.trinomial(out.config, keep_paths=out.plot is not None or out.export is not None, alpha=alpha, dy=dy,
                          dt=dt, steps=steps, paths=paths, seed=seed, x0=x0)
    out.emit(rep, lambda: _table(rep), json_extra=lambda files: {"plot": files[0]} if out.plot else {})


def _table(rep: Any) -> None:
    summary, walk, sample = rep.summary, rep.walk, rep.sample
    mo = summary["moments"]
    rows = []
    var = float(summary["limit_variance"])
    # each moment's own scale: the spread (about the start), the variance, 1 for the shape moments
    scales = {"mean": math.sqrt(var) + abs(float(mo["mean"]["lattice"])), "variance": var}
    for key, label in (("mean", "mean"), ("variance", "variance"), ("skewness", "skewness"),
                       ("excess_kurtosis", "excess kurtosis")):
        m = mo[key]
        sc = scales.get(key, 1.0)
        z = (m["sample"] - m["lattice"]) / m["stderr"] if m["stderr"] > 0 else float("nan")
        rows.append([label, f"{_fmt(m['sample'], scale=sc)} ± {_fmt(m['stderr'], 2, sc)}", _fmt(m["lattice"], scale=sc),
                     _fmt(m["gaussian"], scale=sc), "–" if z != z else f"{z:+.2f}"])
    print_table(
        f"Trinomial walk: α = {walk.alpha:g}, δy = {walk.dy:g}, δt = {walk.dt:g}, C² = {walk.c2:.4g}, "
        f"{sample.n_steps} steps (t = {sample.horizon:g}), {sample.n_paths:,} walks",
        ["moment", "sample ± s.e.", "exact lattice", "limit N(x0, 2C²t)", "z vs lattice"],
        rows,
        caption=f"2C²t = {summary['limit_variance']:.6g} (the lattice variance is exactly this)",
    )
    ksl, ksg = summary["ks_lattice"], summary["ks_gaussian"]
    print_table(
        "Kolmogorov–Smirnov",
        ["against", "statistic", "p-value"],
        [
            ["exact lattice law", f"{ksl['statistic']:.4g}", f"{ksl['pvalue']:.3g}"],
            ["Gaussian limit (continuity-corrected)", f"{ksg['statistic']:.4g}", f"{ksg['pvalue']:.3g}"],
            ["lattice law vs limit (exact, no sampling)", f"{summary['lattice_gaussian_gap']:.4g}", "-"],
        ],
        caption="KS p-values are conservative for a discrete law; the last row is the O(1/n) lattice effect.",
    )
