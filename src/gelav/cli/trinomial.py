"""``gelav trinomial``: the trinomial walk of seed 003 against its Gaussian limit."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from gelav.cli._common import dump_json, handle_errors, print_table, save_figure

__all__ = ["trinomial"]

DEFAULTS: dict[str, Any] = {"alpha": 0.3, "dy": 1.0, "dt": 1.0, "steps": 252, "paths": 10_000, "seed": 2023, "x0": 0.0}


def _resolve(cli: dict[str, Any], config: str | None) -> dict[str, Any]:
    """Command-line values override the ``[trinomial]`` table, which overrides the defaults."""
    out = dict(DEFAULTS)
    if config is not None:
        from gelav.scenario import Section, load

        data = load(config)
        sec = Section(data.get("trinomial"), "trinomial", source=str(data.get("_path", config)))
        file_vals = {
            "alpha": sec.positive("alpha"),
            "dy": sec.positive("dy"),
            "dt": sec.positive("dt"),
            "steps": sec.integer("steps"),
            "paths": sec.integer("paths"),
            "seed": sec.integer("seed", minimum=0),
            "x0": sec.number("x0"),
        }
        unknown = sorted(set(sec.table) - set(file_vals))
        if unknown:
            raise ValueError(
                f"{sec.source}: [trinomial] has unknown field(s) {', '.join(map(repr, unknown))}; "
                f"known fields are {', '.join(sorted(file_vals))}."
            )
        out.update({k: v for k, v in file_vals.items() if v is not None})
    out.update({k: v for k, v in cli.items() if v is not None})
    return out


def _plot_path(plot: str) -> Path:
    p = Path(plot)
    if p.is_dir() or p.suffix == "":
        return p / "trinomial.png"
    return p


def _fmt(x: float, digits: int = 5) -> str:
    return "0" if abs(x) < 1e-12 else f"{x:.{digits}g}"


@click.command("trinomial")
@click.option("--alpha", type=float, default=None, help="Up (= down) probability α in (0, 1/2]. [default 0.3]")
@click.option("--dy", type=float, default=None, help="Step size δy > 0. [default 1]")
@click.option("--dt", type=float, default=None, help="Time step δt > 0. [default 1]")
@click.option("--steps", type=int, default=None, help="Steps per walk. [default 252, a year of days]")
@click.option("--paths", type=int, default=None, help="Number of simulated walks. [default 10000]")
@click.option("--seed", type=int, default=None, help="Random seed (results depend on it only). [default 2023]")
@click.option("--x0", type=float, default=None, help="Starting position. [default 0]")
@click.option("--config", type=click.Path(dir_okay=False), default=None,
              help="Scenario TOML file; reads its [trinomial] table (options override it).")
@click.option("--plot", "plot", type=click.Path(), default=None,
              help="Save the histogram-vs-limit figure to FILE (or FOLDER/trinomial.png).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of tables.")
@click.option("--quiet", is_flag=True, help="Print nothing but errors (and --json output).")
@handle_errors
def trinomial(alpha: float | None, dy: float | None, dt: float | None, steps: int | None, paths: int | None,
              seed: int | None, x0: float | None, config: str | None, plot: str | None, as_json: bool,
              quiet: bool) -> None:
    r"""Simulate the trinomial walk of seed 003 and compare it with its Gaussian limit.

    Each step moves ±δy with probability α and stays with probability 1 − 2α.
    The walk's law solves the master equation exactly (computed here), and in the
    limit solves ∂P/∂t = C² ∂²P/∂y² with C² = α δy²/δt, so y_t ~ N(x0, 2C²t).
    Prints moments (sample ± standard error, exact lattice, Gaussian limit) and
    Kolmogorov–Smirnov distances to the exact lattice law and to the limit.
    """
    from gelav.lattice import TrinomialWalk

    cfg = _resolve({"alpha": alpha, "dy": dy, "dt": dt, "steps": steps, "paths": paths, "seed": seed, "x0": x0},
                   config)
    for key, least in (("steps", 1), ("paths", 2)):  # one walk has no sample variance (nan ± nan)
        if cfg[key] < least:
            raise ValueError(f"`--{key}` must be >= {least}, got {cfg[key]}.")
    if cfg["seed"] is not None and cfg["seed"] < 0:
        raise ValueError(f"`--seed` must be >= 0, got {cfg['seed']}.")
    walk = TrinomialWalk(cfg["alpha"], dy=cfg["dy"], dt=cfg["dt"])
    keep = plot is not None and cfg["paths"] * (cfg["steps"] + 1) <= 20_000_000
    sample = walk.simulate(cfg["steps"], cfg["paths"], seed=cfg["seed"], x0=cfg["x0"], keep_paths=keep)
    summary = sample.summary()
    summary["x0"] = cfg["x0"]
    summary["seed"] = cfg["seed"]
    summary["limit_variance"] = walk.variance(sample.horizon)
    if plot is not None:
        out = _plot_path(plot)
        save_figure(sample.plot(), str(out))
        summary["plot"] = str(out)
    if as_json:
        dump_json(summary)
        return
    if quiet:
        return
    mo = summary["moments"]
    rows = []
    for key, label in (("mean", "mean"), ("variance", "variance"), ("skewness", "skewness"),
                       ("excess_kurtosis", "excess kurtosis")):
        m = mo[key]
        z = (m["sample"] - m["lattice"]) / m["stderr"] if m["stderr"] > 0 else float("nan")
        rows.append([label, f"{_fmt(m['sample'])} ± {_fmt(m['stderr'], 2)}", _fmt(m["lattice"]),
                     _fmt(m["gaussian"]), f"{z:+.2f}"])
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
    if plot is not None:
        click.echo(f"Figure saved to {summary['plot']}")
