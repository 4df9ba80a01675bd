"""``gelav stress``: the seed-000 stress test, by several independent methods."""

from __future__ import annotations

import click

from gelav.cli._common import dump_json, handle_errors, print_table, save_figure

_DEFAULTS = {"kappa": 0.45, "mean": 1.0, "sigma": 0.32, "x0": -0.5, "horizon": 2.0, "threshold": -0.5}


@click.command()
@click.option("--kappa", type=float, default=None, help="Mean-reversion speed κ per year [default 0.45].")
@click.option("--mean", "mean", type=float, default=None, help="Long-run level L̄ [default 1.0].")
@click.option("--sigma", type=float, default=None, help="Volatility σ per √year [default 0.32].")
@click.option("--x0", type=float, default=None, help="Starting state L₀ [default -0.5].")
@click.option("--horizon", type=float, default=None, help="Horizon T in years [default 2].")
@click.option("--threshold", type=float, default=None, help="Threshold c [default -0.5].")
@click.option("--below/--above", "below", default=None, help="P(L_T < c) (default) or P(L_T > c).")
@click.option("--method", "methods", default=None,
              help="Comma-separated methods among analytic, pde, mc, lattice [default: all available].")
@click.option("--paths", type=int, default=None, help="Monte Carlo paths (exact sampler) [default 1000000].")
@click.option("--seed", type=int, default=None, help="Seed for Monte Carlo [default 0].")
@click.option("--cells", type=int, default=None, help="PDE grid cells [default 800].")
@click.option("--config", "config", type=click.Path(dir_okay=False), default=None,
              help="Scenario TOML file: [process] and [stress] tables (options override).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of a table.")
@click.option("--plot", "plot", type=click.Path(dir_okay=False), default=None,
              help="Write the density at the horizon and the fan chart to this image file.")
@click.option("--quiet", "-q", is_flag=True, help="Print nothing but errors (with --plot).")
@handle_errors
def stress(kappa, mean, sigma, x0, horizon, threshold, below, methods, paths, seed, cells, config, as_json, plot,
           quiet):
    """Probability that the liquidity state ends beyond a threshold (seed 000).

    Defaults reproduce the seed: OU with κ = 0.45, L̄ = 1, σ = 0.32 from L₀ = −0.5;
    P(L₂ < −0.5) = Φ(−2.89) ≈ 0.19 %, computed analytically, by the Fokker–Planck
    PDE (with a grid-refinement error estimate), by Monte Carlo (± standard error)
    and on a trinomial lattice (Richardson error estimate).
    """
    from gelav.processes import OrnsteinUhlenbeck
    from gelav.stress import METHODS, stress_test

    sec_vals: dict = {}
    process = None
    if config is not None:
        from gelav.scenario import Section, load, process_from_config

        data = load(config)
        src = data["_path"]
        if "process" in data:
            process = process_from_config(data["process"], source=src)
        sec = Section(data.get("stress"), "stress", source=src)
        for k in ("x0", "horizon", "threshold"):
            v = sec.number(k)
            if v is not None:
                sec_vals[k] = v
        sec_vals["direction"] = sec.choice("direction", ("below", "above"))
        sec_vals["methods"] = sec.string_list("methods", options=tuple(METHODS))
        sec_vals["paths"] = sec.integer("paths", minimum=100)
        sec_vals["seed"] = sec.integer("seed", minimum=0)
        sec_vals["cells"] = sec.integer("cells", minimum=16)
        sec.check_unknown(("x0", "horizon", "threshold", "direction", "methods", "paths", "seed", "cells"))
    if process is None or any(v is not None for v in (kappa, mean, sigma)):
        base = process.params() if process is not None and type(process).__name__ == "OrnsteinUhlenbeck" else {}
        process = OrnsteinUhlenbeck(
            kappa=kappa if kappa is not None else base.get("kappa", _DEFAULTS["kappa"]),
            mean=mean if mean is not None else base.get("mean", _DEFAULTS["mean"]),
            sigma=sigma if sigma is not None else base.get("sigma", _DEFAULTS["sigma"]),
        )

    def pick(name, cli_value):
        if cli_value is not None:
            return cli_value
        if sec_vals.get(name) is not None:
            return sec_vals[name]
        return _DEFAULTS.get(name)

    direction = ("below" if below else "above") if below is not None else (sec_vals.get("direction") or "below")
    method_list = [m.strip() for m in methods.split(",") if m.strip()] if methods is not None else sec_vals.get("methods")
    result = stress_test(
        process, pick("x0", x0), pick("horizon", horizon), pick("threshold", threshold),
        direction=direction, methods=method_list,
        paths=pick("paths", paths) if pick("paths", paths) is not None else 1_000_000,
        seed=pick("seed", seed) if pick("seed", seed) is not None else 0,
        cells=pick("cells", cells) if pick("cells", cells) is not None else 800,
    )
    if plot:
        save_figure(result.plot(), plot)
    if as_json:
        dump_json(result.as_dict())
        return
    if quiet:
        return
    inp = result.inputs
    sym = "<" if inp["direction"] == "below" else ">"
    rows = []
    for name, r in result.results.items():
        err = f"± {r.error:.2e} (s.e.)" if r.error_kind == "stderr" else ("exact" if name == "analytic" else f"~ {r.error:.1e}")
        rows.append([name, f"{r.probability:.9f}", f"{r.probability:.4%}", err, f"{r.seconds * 1e3:.1f} ms"])
    params = ", ".join(f"{k}={v:g}" for k, v in process.params().items())
    print_table(
        f"P(X_T {sym} {inp['threshold']:g} | X_0 = {inp['x0']:g}), T = {inp['horizon']:g} y — {type(process).__name__}({params})",
        ["method", "probability", "percent", "error", "time"], rows,
        caption=f"figure written to {plot}" if plot else None,
    )
