"""``gelav calibrate``: fit the OU liquidity model to a CSV or Parquet series."""

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
              help="Scenario TOML file whose [calibration] table gives columns and level (options override).")
@click.option("--save", "save", type=click.Path(dir_okay=False), default=None,
              help="Write the fitted model as a scenario TOML file (accepted by every command's --config).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of tables.")
@click.option("--plot", "plot", type=click.Path(dir_okay=False), default=None,
              help="Write the goodness-of-fit figure (data, residuals, QQ plot, ACF) to this image file.")
@click.option("--quiet", "-q", is_flag=True, help="Print nothing but errors (with --save or --plot).")
@handle_errors
def calibrate(file, date_column, value_column, level, config, save, as_json, plot, quiet):
    """Fit dL = κ(L̄ − L)dt + σ dW to the series in FILE by exact maximum likelihood.

    FILE may be omitted when --config names it in its [calibration] table (`data`).

    FILE is a CSV (any common delimiter) or Parquet file with a date column and a
    value column; both are detected unless named. Irregular dates are used as
    they are (the exact transition handles unequal steps); rows with missing
    values are dropped with a note. Prints κ, L̄, σ with standard errors and
    confidence intervals, the half-life and stationary spread, and residual
    checks (Ljung–Box, Kolmogorov–Smirnov, Jarque–Bera).
    """
    from gelav.calibrate import fit_ou, read_series

    if config is not None:
        from gelav.scenario import Section, load

        data = load(config)
        sec = Section(data.get("calibration"), "calibration", source=data["_path"])
        date_column = date_column or sec.get("date_column")
        value_column = value_column or sec.get("value_column")
        if level is None:
            level = sec.number("level", check=lambda v: 0 < v < 1, expected="a number in (0, 1)")
        data_file = sec.get("data")
        sec.get("result")
        sec.check_unknown(("data", "date_column", "value_column", "level", "result"))
        if file is None and data_file is not None:
            from pathlib import Path

            fp = Path(str(data_file))
            file = str(fp if fp.is_absolute() else Path(data["_path"]).parent / fp)
    if file is None:
        raise click.UsageError("Give the data FILE (or a --config whose [calibration] table names `data`).")
    series = read_series(file, date_column=date_column, value_column=value_column)
    fit = fit_ou(series, level=level if level is not None else 0.95)
    if save:
        from pathlib import Path

        from gelav.scenario import dump_toml

        p = Path(save)
        p.parent.mkdir(parents=True, exist_ok=True)
        cfg = fit.to_config()
        cfg["calibration"]["data"] = str(Path(file).resolve())
        p.write_text(dump_toml(cfg), encoding="utf-8")
    if plot:
        save_figure(fit.plot(), plot)
    if as_json:
        out = fit.summary()
        if save:
            out["saved"] = save
        if plot:
            out["plot"] = plot
        dump_json(out)
        return
    if quiet:
        return
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
    g = fit.goodness_of_fit
    gof_rows = [
        ["Ljung–Box (residual autocorrelation)", f"{g['ljung_box']['statistic']:.3g}", f"{g['ljung_box']['pvalue']:.3g}",
         f"{int(g['ljung_box']['lags'])} lags"],
        ["Kolmogorov–Smirnov (vs N(0,1))", f"{g['ks']['statistic']:.3g}", f"{g['ks']['pvalue']:.3g}", ""],
        ["Jarque–Bera (normality)", f"{g['jarque_bera']['statistic']:.3g}", f"{g['jarque_bera']['pvalue']:.3g}", ""],
    ]
    verdict = "no test rejects at 1 %" if fit.adequate else "at least one test rejects at 1 %: read the residual plot"
    print_table("Goodness of fit of the standardised residuals", ["test", "statistic", "p-value", ""], gof_rows,
                caption=verdict)
    for n in fit.notes:
        click.echo(f"note: {n}")
    if save:
        click.echo(f"scenario written to {save}")
    if plot:
        click.echo(f"figure written to {plot}")
