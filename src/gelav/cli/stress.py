"""``gelav stress``: the seed-000 stress test, by several independent methods (a thin layer over
:func:`gelav.tasks.stress`)."""

from __future__ import annotations

from typing import Any

import click

from gelav._display import fmt_probability
from gelav.cli._common import Output, print_table, shared_options
from gelav.cli._model import model_options, typed_process
from gelav.tasks._base import DEFAULTS

_DEFAULTS = DEFAULTS["stress"]  # kept importable under its old name
_D = _DEFAULTS


@click.command()
@click.option("--kappa", type=float, default=None, help=f"Mean-reversion speed κ per year [default {_D['kappa']:g}].")
@click.option("--mean", "mean", type=float, default=None, help=f"Long-run level L̄ [default {_D['mean']:g}].")
@click.option("--sigma", type=float, default=None, help=f"Volatility σ per √year [default {_D['sigma']:g}].")
@click.option("--x0", type=float, default=None, help=f"Starting state L₀ [default {_D['x0']:g}].")
@click.option("--horizon", default=None,
              help=f"Horizon T in years, or several, comma-separated (a table) [default {_D['horizon']:g}].")
@click.option("--threshold", default=None,
              help=f"Threshold c, or several, comma-separated (a table) [default {_D['threshold']:g}].")
@click.option("--below/--above", "below", default=None, help="P(L_T < c) (default) or P(L_T > c).")
@click.option("--method", "methods", default=None,
              help="Comma-separated methods among analytic, pde, mc, lattice [default: all available].")
@click.option("--paths", type=int, default=None, help=f"Monte Carlo paths (exact sampler) [default {_D['paths']}].")
@click.option("--seed", type=int, default=None, help=f"Seed for Monte Carlo [default {_D['seed']}].")
@click.option("--cells", type=int, default=None, help=f"PDE grid cells [default {_D['cells']}].")
@click.option("--var", "var", multiple=True,
              help="Value-at-risk levels, e.g. 0.95,0.99: VaR and expected-shortfall columns (exact law and PDE). "
                   "With --drift/--diffusion a name instead gives the state variable [default x]; repeatable.")
@click.option("--fit", "fit", type=click.Path(dir_okay=False), default=None,
              help="Stress the model fitted by `gelav calibrate --save FIT.toml`, with a confidence band from "
                   "its estimates' covariance (parametric bootstrap; delta method as a check).")
@click.option("--draws", type=int, default=None, help="Bootstrap draws of the parameters for --fit [default 1000].")
@click.option("--band-level", "band_level", type=float, default=None,
              help="Confidence level of the --fit band [default the fit's, 0.95].")
@click.option("--tol", type=float, default=None,
              help="Solve the PDE to this absolute error: nested grids refined and the flux chosen by their "
                   "validated error estimates (one horizon and threshold).")
@model_options(var=False)
@shared_options("stress", config_help="Scenario TOML file: [process] and [stress] tables (options override).",
                plot_help="Write the density at the horizon and the fan chart to FILE (or FOLDER/stress.png).")
def stress(kappa: float | None, mean: float | None, sigma: float | None, x0: float | None, horizon: str | None,
           threshold: str | None, below: bool | None, methods: str | None, paths: int | None, seed: int | None,
           cells: int | None, out: Output, var: tuple[str, ...] = (), fit: str | None = None,
           draws: int | None = None, band_level: float | None = None, tol: float | None = None, drift: str | None = None,
           diffusion: str | None = None, params: tuple[str, ...] = (), domain: str | None = None) -> None:
    """Probability that the liquidity state ends beyond a threshold (seed 000).

    Defaults reproduce the seed: OU with κ = 0.45, L̄ = 1, σ = 0.32 from L₀ = −0.5;
    P(L₂ < −0.5) = Φ(−2.89) ≈ 0.19 %, computed analytically, by the Fokker–Planck
    PDE (with a grid-refinement error estimate), by Monte Carlo (± standard error)
    and on a trinomial lattice (Richardson error estimate).

    Lists give one table over every pair, in one run (one Fokker–Planck solve for
    all horizons): --threshold -0.5,-0.25,0 --horizon 1,2 --var 0.95,0.99.
    --fit FIT.toml reports the probability with a band from the fit's uncertainty.
    """
    from gelav import tasks

    direction = None if below is None else ("below" if below else "above")
    method_list = [m.strip() for m in methods.split(",") if m.strip()] if methods is not None else None
    levels, state = _split_var(var)
    typed = typed_process(drift, diffusion, state, params, domain)  # --drift/--diffusion: any model typed in
    if fit is not None and (typed is not None or any(v is not None for v in (kappa, mean, sigma))):
        raise click.UsageError("'--fit' gives the model: drop '--kappa/--mean/--sigma' and '--drift/--diffusion'.")
    rep = tasks.stress(out.config, process=typed, kappa=kappa, mean=mean, sigma=sigma, x0=x0,
                       horizon=_floats(horizon, "--horizon"), threshold=_floats(threshold, "--threshold"),
                       direction=direction, methods=method_list, paths=paths, seed=seed, cells=cells, var=levels,
                       fit=fit, draws=draws, band_level=band_level, tol=tol)
    out.emit(rep, lambda: _grid_table(rep) if rep.grid is not None else _table(rep, out))


def _floats(text: str | None, option: str) -> float | list[float] | None:
    """``"-0.5"`` -> -0.5, ``"-0.5,0,0.3"`` -> a list (a UsageError naming ``option`` otherwise)."""
    if text is None:
        return None
    parts = [p.strip() for p in text.split(",")]
    try:
        vals = [float(p) for p in parts]
    except ValueError:
        raise click.BadParameter(f"{text!r}: give a number or comma-separated numbers.", param_hint=f"'{option}'") from None
    return vals[0] if len(vals) == 1 else vals


def _split_var(values: tuple[str, ...]) -> tuple[list[float] | None, str | None]:
    """``--var`` values: numbers are VaR levels, a name is the typed-in model's state variable."""
    levels: list[float] = []
    state = None
    for text in values:
        parts = [p.strip() for p in text.split(",") if p.strip()]
        try:
            nums = [float(p) for p in parts]
        except ValueError:
            if len(parts) != 1 or state is not None:
                raise click.BadParameter(f"{text!r}: give VaR levels (e.g. 0.95,0.99) or one state-variable name.",
                                         param_hint="'--var'") from None
            state = parts[0]
            continue
        bad = [v for v in nums if not 0.0 < v < 1.0]
        if bad or not nums:
            raise click.BadParameter(f"{text!r}: VaR levels must lie in (0, 1), e.g. 0.95,0.99.", param_hint="'--var'")
        levels += nums
    if len(set(levels)) != len(levels):
        raise click.BadParameter(f"{','.join(values)!r} names a level twice.", param_hint="'--var'")
    return (levels or None), state


def _table(rep: Any, out: Output) -> None:
    res = rep.result
    inp = res.inputs
    sym = "<" if inp["direction"] == "below" else ">"
    rows = []
    for name, r in res.results.items():
        rows.append([name, fmt_probability(r.probability), fmt_probability(r.probability, percent=True),
                     r.error_text(), f"{r.seconds * 1e3:.1f} ms"])
    params = ", ".join(f"{k}={v:g}" for k, v in rep.process.params().items())
    ex = rep.worked_example
    caption = None
    if ex:
        caption = f"exact law of X_T: mean {ex['mean']:.5g}, sd {ex['sd']:.5g}"
        if "z" in ex:
            caption += f", z = (c − mean)/sd = {ex['z']:.4g}"
    for name, why in rep.skipped.items():
        rows.append([name, "skipped", "", why, ""])
    for name, why in getattr(res, "omitted", {}).items():  # a method that cannot be trusted prints no number
        rows.append([name, "—", "—", "left out (see below)", "—"])
        caption = (caption + "\n" if caption else "") + f"{name} left out: {why}."
    print_table(
        f"P(X_T {sym} {inp['threshold']:g} | X_0 = {inp['x0']:g}), T = {inp['horizon']:g} y — "
        f"{type(rep.process).__name__}({params})",
        ["method", "probability", "percent", "error", "time"], rows, caption=caption,
    )
    if res.tail:
        _tail_table(res.tail, [inp["horizon"]], inp["direction"], lambda m, lv, k: res.tail[m][lv][k])
    if res.band is not None:
        _band_table([(inp["horizon"], inp["threshold"], res.band)], sym)


def _tail_table(tail: Any, horizons: Any, direction: str, value: Any) -> None:
    """VaR/ES of X_T per horizon and method; ``value(method, level, key)`` is a number or an array over horizons."""
    from gelav._display import fmt_number

    side = "lower" if direction == "below" else "upper"
    levels = sorted({lv for t in tail.values() for lv in t})
    rows = []
    for i, t in enumerate(horizons):
        for m in tail:
            row = [f"{t:g}", m]
            for lv in levels:
                for k in ("var", "es"):
                    v = value(m, lv, k)
                    v = v[i] if hasattr(v, "__len__") else v
                    err = value(m, lv, f"{k}_error_estimate") if f"{k}_error_estimate" in tail[m][lv] else None
                    err = err[i] if err is not None and hasattr(err, "__len__") else err
                    row.append(fmt_number(v, 6) + ("" if err is None else f" ± {fmt_number(err, 1)}"))
            rows.append(row)
    cols = ["T (y)", "method"] + [f"{k} {lv:.0%}" for lv in levels for k in ("VaR", "ES")]
    print_table(f"Value at risk and expected shortfall of X_T ({side} tail)", cols, rows,
                caption=("VaR_α = F⁻¹(1 − α), ES_α = E[X_T | X_T ≤ VaR_α]" if side == "lower" else
                         "VaR_α = F⁻¹(α), ES_α = E[X_T | X_T ≥ VaR_α]") + "; ± refinement error estimate")


def _band_table(cells: list[tuple[float, float, Any]], sym: str) -> None:
    from gelav._display import fmt_number

    b0 = cells[0][2]
    rows = [[f"{t:g}", f"{c:g}", fmt_number(b.value), f"[{fmt_number(b.lower)}, {fmt_number(b.upper)}]",
             f"± {fmt_number(b.delta_stderr, 2)}", f"[{fmt_number(b.delta_lower)}, {fmt_number(b.delta_upper)}]"]
            for t, c, b in cells]
    print_table(f"P(X_T {sym} c) with its {b0.level:.0%} band from the fit's parameter uncertainty",
                ["T (y)", "c", "at the estimates", "bootstrap band", "delta-method sd", "delta-method interval"],
                rows, caption=f"parametric bootstrap: {b0.draws} draws of the parameters from their asymptotic "
                              f"normal law ({b0.rejected} outside the parameter space dropped), {b0.method} "
                              "probability at each draw")


def _grid_table(rep: Any) -> None:
    from gelav._display import fmt_number

    g = rep.grid
    inp = g.inputs
    sym = "<" if inp["direction"] == "below" else ">"
    best = g.best_method
    tm = g.tail_method
    tail = g.results[tm].tail if tm is not None else {}
    rows = []
    best_table = g.results[best]

    def shown(i: int, j: int) -> str:  # a cell with no Monte Carlo hit shows its 95 % bound, not "0"
        if best_table.is_bound(i, j):
            return f"≤ {fmt_number(float(best_table.error[i, j]), 2)} (95 %)"
        return fmt_number(float(g.best[i, j]), 6)

    for i, t in enumerate(g.horizons):
        rows.append([f"{t:g}"] + [shown(i, j) for j in range(g.thresholds.size)]
                    + [fmt_number(float(tail[lv][k][i]), 6) for lv in tail for k in ("var", "es")])
    params = ", ".join(f"{k}={v:g}" for k, v in rep.process.params().items())
    errs = best_table.error if best_table.bound is None else best_table.error[~best_table.bound]
    caption = ("probabilities from the exact law" if best == "analytic" else
               f"probabilities by {best}: largest error "
               + (fmt_number(float(errs.max()), 2) if errs.size else "– (no hit in any cell)"))
    if tail:
        caption += f"; VaR and ES of X_T from the {'exact law' if tm == 'analytic' else tm}"
    for name, why in g.omitted.items():  # a method that cannot be trusted prints no number
        caption += f"\n{name} left out: {why}."
    print_table(f"P(X_T {sym} c | X_0 = {inp['x0']:g}) — {type(rep.process).__name__}({params})",
                ["T (y) \\ c"] + [f"{c:g}" for c in g.thresholds]
                + [f"{k} {lv:.0%}" for lv in tail for k in ("VaR", "ES")], rows, caption=caption)
    check = []
    for name, r in g.results.items():
        dev = float(abs(r.probability - g.best).max())
        kind = "standard error" if r.error_kind == "stderr" else "error estimate"
        nb = 0 if r.bound is None else int(r.bound.sum())
        if nb:  # no hit in those cells: their error is a 95 % upper bound, not a standard error
            kind += f"; {nb} cell(s) with no hit: 0 ≤ 95 % bound {fmt_number(float(r.error[r.bound].max()), 2)}"
            rest = r.error[~r.bound]
            largest = fmt_number(float(rest.max()), 2) if rest.size else "–"
        else:
            largest = fmt_number(float(r.error.max()), 2)
        err = "exact" if name == "analytic" else f"{largest} ({kind})"
        check.append([name, fmt_number(dev, 2) if name != best else "–", err, f"{r.seconds * 1e3:.1f} ms"])
    print_table("Methods over the whole table", ["method", f"largest |difference| from {best}", "largest error",
                                                  "time"], check,
                caption=f"pde: {g.results['pde'].details['solves']} Fokker–Planck solve(s) for every horizon"
                if "pde" in g.results else None)
    tails = {m: r.tail for m, r in g.results.items() if r.tail}
    if len(tails) > 1:  # the cross-check, with the PDE's error estimates
        _tail_table(tails, g.horizons, inp["direction"], lambda m, lv, k: tails[m][lv][k])
    if g.bands is not None:
        _band_table([(float(t), float(c), g.bands[i][j]) for i, t in enumerate(g.horizons)
                     for j, c in enumerate(g.thresholds)], sym)
