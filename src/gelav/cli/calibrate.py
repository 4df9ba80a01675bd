"""``gelav calibrate``: fit the OU, CIR or GBM liquidity model to a CSV or Parquet series, and compare them."""

from __future__ import annotations

import math

import click

from gelav.cli._common import dump_json, handle_errors, print_table, save_figure


def _fmt(v: float, digits: int = 4) -> str:
    if isinstance(v, float) and math.isinf(v):
        return "∞" if v > 0 else "−∞"
    return f"{v:.{digits}g}"


@click.command()
@click.argument("file", type=click.Path(dir_okay=False), required=False)
@click.option("--date-column", default=None, help="Column with the dates (or times in years) [detected].")
@click.option("--value-column", default=None, help="Column with the observations [detected].")
@click.option("--level", type=float, default=None, help="Confidence level of the intervals [default 0.95].")
@click.option("--config", "config", type=click.Path(dir_okay=False), default=None,
              help="Scenario TOML file whose [calibration] table gives data, columns, level, model and criterion "
                   "(options override).")
@click.option("--save", "save", type=click.Path(dir_okay=False), default=None,
              help="Write the fitted model as a scenario TOML file (accepted by every command's --config).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of tables.")
@click.option("--plot", "plot", type=click.Path(dir_okay=False), default=None,
              help="Write the goodness-of-fit figure (data, residuals, QQ plot, ACF) to this image file.")
@click.option("--model", "model", default=None,
              help="Model(s) to fit, comma-separated among ou, cir, gbm; with several, a comparison table "
                   "(log-likelihood, AIC, BIC, residual tests) and the best model's estimates "
                   "[default: [calibration] model, else ou].")
@click.option("--criterion", type=click.Choice(["aic", "bic"]), default=None,
              help="How --model with several models picks the best one (the one --save and --plot use) "
                   "[default: [calibration] criterion, else aic].")
@click.option("--quiet", "-q", is_flag=True, help="Print nothing but errors (with --save or --plot).")
@click.option("--export", "export_path", type=click.Path(dir_okay=False), default=None,
              help="Write the series and the residuals (of the fit --save uses) to FILE.csv, FILE.parquet or "
                   "FILE.nc.")
@handle_errors
def calibrate(file, date_column, value_column, level, config, save, as_json, plot, model, criterion, quiet,
              export_path=None):
    """Fit dL = κ(L̄ − L)dt + σ dW (or CIR, GBM) to the series in FILE by exact maximum likelihood.

    --model ou,cir,gbm fits each model (CIR: exact non-central χ² likelihood; GBM:
    exact log-normal) and prints a comparison; CIR and GBM are skipped with a note
    when the series has values ≤ 0. --save writes the best model's scenario, with the
    estimates' covariance matrix in its [fit] table.

    FILE may be omitted when --config names it in its [calibration] table (`data`).

    FILE is a CSV (any common delimiter) or Parquet file with a date column and a
    value column; both are detected unless named. Irregular dates are used as
    they are (the exact transition handles unequal steps); rows with missing
    values are dropped with a note. Prints κ, L̄, σ with standard errors and
    confidence intervals, the half-life and stationary spread, and residual
    checks (Ljung–Box, Kolmogorov–Smirnov, Jarque–Bera).
    """
    from gelav.calibrate import read_series

    if config is not None:
        from gelav.scenario import load
        from gelav.tasks.calibrate import data_path, read_calibration_table

        data = load(config)
        table = read_calibration_table(data)
        date_column = date_column or table.get("date_column")
        value_column = value_column or table.get("value_column")
        level = level if level is not None else table.get("level")
        model = model if model is not None else table.get("model")
        criterion = criterion or table.get("criterion")
        if file is None and table.get("data") is not None:
            file = str(data_path(data, table["data"]))
    if file is None:
        raise click.UsageError("Give the data FILE (or a --config whose [calibration] table names `data`).")
    from gelav.calibrate import compare_models, fit_model
    from gelav.tasks.calibrate import model_keys

    try:
        keys = list(model_keys(model if model is not None else "ou"))
    except ValueError as exc:
        raise click.BadParameter(str(exc).replace("`model`: ", "").replace("`model` = ", ""),
                                 param_hint="'--model'") from None
    criterion = criterion or "aic"
    series = read_series(file, date_column=date_column, value_column=value_column)
    lv = level if level is not None else 0.95
    comparison = None
    if len(keys) == 1:
        fit = fit_model(keys[0], series, level=lv)
    else:
        comparison = compare_models(series, models=keys, level=lv, criterion=criterion)
        fit = comparison.best_fit
        if fit is None:
            from gelav.cli._common import fail

            fail("no model could be fitted: " + "; ".join(f"{r['model']}: {r['note']}" for r in comparison.rows))
    if save:
        from pathlib import Path

        from gelav.scenario import dump_toml

        p = Path(save)
        p.parent.mkdir(parents=True, exist_ok=True)
        cfg = fit.to_config()
        cfg["calibration"]["data"] = str(Path(file).resolve())
        from gelav._io import atomic_write

        atomic_write(p, dump_toml(cfg))
    if plot:
        save_figure(fit.plot(), plot)
    exported: list[str] = []
    if export_path:
        from gelav.tasks import export_tables
        from gelav.tasks.calibrate import fit_tables

        exported = [str(f) for f in export_tables(fit_tables(fit), export_path)]
    if as_json:
        out = fit.summary() if comparison is None else comparison.summary()
        out.update({k: v for k, v in (("saved", save), ("plot", plot), ("exported", exported)) if v})
        dump_json(out)
        return
    if quiet:
        return
    if comparison is not None:
        _print_comparison(comparison)
    if fit.model != "ou":
        _print_parametric(fit, series, file)
    else:
        _print_ou(fit, series, file)
    if save:
        click.echo(f"scenario written to {save}")
    if plot:
        click.echo(f"figure written to {plot}")
    if exported:
        click.echo("Files written: " + ", ".join(exported))


def _print_comparison(c) -> None:
    rows = []
    for r in c.rows:
        def num(v: float, d: int = 2) -> str:
            return "–" if not math.isfinite(v) else f"{v:.{d}f}"

        def pv(v: float) -> str:
            return "–" if not math.isfinite(v) else f"{v:.3g}"

        rows.append([r["model"].upper() + (" ★" if r["model"] == c.best else ""), num(r["loglik"]), num(r["aic"]),
                     num(r["bic"]), num(r["delta_aic"]), pv(r["ljung_box_p"]), pv(r["ks_p"]), pv(r["jarque_bera_p"])])
    print_table(f"Model comparison: {c.n_obs} observations", ["model", "log-lik.", "AIC", "BIC", "ΔAIC",
                "Ljung–Box p", "KS p", "Jarque–Bera p"], rows,
                caption=f"★ best by {c.criterion.upper()} (smallest); likelihoods of the same data, comparable")
    for r in c.rows:
        if r["note"]:
            click.echo(f"note: {r['model'].upper()} {r['note']}")


def _print_parametric(fit, series, file) -> None:
    se, ci = fit.stderr, fit.conf_int
    rows = [[fit.labels.get(k, k), _fmt(v), _fmt(se[k], 2), f"[{_fmt(ci[k][0])}, {_fmt(ci[k][1])}]"]
            for k, v in fit.estimates.items()]
    steps = "irregular" if fit.diagnostics.get("irregular_steps") else "regular"
    print_table(
        f"{fit.model.upper()} fit ({fit.equation}) of {series.value_column!r} in {file}: {fit.n_obs} observations "
        f"over {fit.span:.3g} years ({steps} steps)",
        ["parameter", "estimate", "std. error", f"{fit.level:.0%} interval"], rows,
        caption=f"exact maximum likelihood, log-likelihood {fit.loglik:.2f}, AIC {fit.aic:.2f}, BIC {fit.bic:.2f}",
    )
    _print_gof(fit, "probability-integral-transform residuals")
    for n in fit.notes:
        click.echo(f"note: {n}")


def _print_gof(fit, what: str) -> None:
    g = fit.goodness_of_fit
    gof_rows = [
        ["Ljung–Box (residual autocorrelation)", f"{g['ljung_box']['statistic']:.3g}", f"{g['ljung_box']['pvalue']:.3g}",
         f"{int(g['ljung_box']['lags'])} lags"],
        ["Kolmogorov–Smirnov (vs N(0,1))", f"{g['ks']['statistic']:.3g}", f"{g['ks']['pvalue']:.3g}", ""],
        ["Jarque–Bera (normality)", f"{g['jarque_bera']['statistic']:.3g}", f"{g['jarque_bera']['pvalue']:.3g}", ""],
    ]
    verdict = "no test rejects at 1 %" if fit.adequate else "at least one test rejects at 1 %: read the residual plot"
    print_table(f"Goodness of fit of the {what}", ["test", "statistic", "p-value", ""], gof_rows, caption=verdict)


def _print_ou(fit, series, file) -> None:
    se, ci = fit.stderr, fit.conf_int
    lv = f"{fit.level:.0%} interval"
    rows = [
        ["κ  mean reversion [1/y]", _fmt(fit.kappa), _fmt(se["kappa"], 2), f"[{_fmt(ci['kappa'][0])}, {_fmt(ci['kappa'][1])}]"],
        ["L̄  long-run level", _fmt(fit.mean), _fmt(se["mean"], 2), f"[{_fmt(ci['mean'][0])}, {_fmt(ci['mean'][1])}]"],
        ["σ  volatility [1/√y]", _fmt(fit.sigma), _fmt(se["sigma"], 2), f"[{_fmt(ci['sigma'][0])}, {_fmt(ci['sigma'][1])}]"],
        ["half-life ln2/κ [y]", _fmt(fit.half_life), _fmt(se["half_life"], 2),
         f"[{_fmt(ci['half_life'][0])}, {_fmt(ci['half_life'][1])}]"],
        ["stationary sd σ/√(2κ)", _fmt(fit.stationary_sd), _fmt(se["stationary_sd"], 2),
         f"[{_fmt(ci['stationary_sd'][0])}, {_fmt(ci['stationary_sd'][1])}]"],
    ]
    steps = "irregular" if fit.diagnostics["irregular_steps"] else "regular"
    print_table(
        f"OU fit of {series.value_column!r} in {file}: {fit.n_obs} observations over {fit.span:.3g} years ({steps} steps)",
        ["parameter", "estimate", "std. error", lv], rows,
        caption=f"exact maximum likelihood, log-likelihood {fit.loglik:.2f}",
    )
    _print_gof(fit, "standardised residuals")
    for n in fit.notes:
        click.echo(f"note: {n}")
