"""Fit OU, CIR and GBM to one liquidity series, compare them, and read the tail of the chosen model.

The series is ten years of weekly observations simulated (seed 17) from a CIR
process with κ = 1.5/y, L̄ = 0.8, σ = 0.3 — so we know the answer. The script

1. writes the series as CSV and reads it back (gelav.calibrate.read_series);
2. fits the three models by exact maximum likelihood and compares them
   (gelav.calibrate.compare_models: log-likelihood, AIC, BIC, residual tests);
3. saves the best model's scenario with the estimates' covariance ([fit] table);
4. computes the 1-year-ahead law of the fitted model from the last observation
   and its 99 % value at risk and expected shortfall (Density.value_at_risk,
   Density.expected_shortfall).

Command line equivalent:

    gelav calibrate series.csv --model ou,cir,gbm --save best.toml

The numbers quoted in docs/calibration.md are those of `worked_example()`
(tests/test_docs_numbers.py re-runs it and compares).
"""

from __future__ import annotations

import os
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from gelav import forward
from gelav.calibrate import compare_models, read_series
from gelav.scenario import dump_toml


def simulate_cir(kappa: float, mean: float, sigma: float, n: int, dt: float, seed: int) -> np.ndarray:
    """Exact CIR path: scaled non-central χ² steps."""
    rng = np.random.default_rng(seed)
    x = np.empty(n + 1)
    x[0] = mean
    c = sigma**2 * (-np.expm1(-kappa * dt)) / (4 * kappa)
    for i in range(n):
        x[i + 1] = c * rng.noncentral_chisquare(4 * kappa * mean / sigma**2, x[i] * np.exp(-kappa * dt) / c)
    return x


def worked_example(out: Path | None = None) -> dict[str, Any]:
    """The numbers of the worked example (docs/calibration.md)."""
    out = Path(out or tempfile.mkdtemp(prefix="gelav_compare_"))
    out.mkdir(parents=True, exist_ok=True)
    x = simulate_cir(1.5, 0.8, 0.3, 520, 7 / 365.25, seed=17)
    dates = np.datetime64("2015-01-02") + 7 * np.arange(x.size)
    csv = out / "series.csv"
    csv.write_text("date,liquidity\n" + "".join(f"{d},{v:.8f}\n" for d, v in zip(dates, x, strict=True)))
    series = read_series(csv)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        comp = compare_models(series, models=("ou", "cir", "gbm"))
    best = comp.best_fit
    (out / "best.toml").write_text(dump_toml(best.to_config()), encoding="utf-8")
    d = forward(best.process, float(x[-1]), 1.0, n_cells=800, n_steps=200)
    rows = {r["model"]: r for r in comp.rows}
    return {
        "best": comp.best,
        "delta_aic_ou": rows["ou"]["delta_aic"],
        "delta_aic_gbm": rows["gbm"]["delta_aic"],
        "kappa": best.kappa, "kappa_ci": best.conf_int["kappa"],
        "mean": best.mean, "sigma": best.sigma,
        "last": float(x[-1]),
        "var99": d.value_at_risk(0.99), "es99": d.expected_shortfall(0.99),
        "comparison": comp, "out": out,
    }


def main() -> None:
    out = Path(os.environ.get("GELAV_EXAMPLE_OUT") or tempfile.mkdtemp(prefix="gelav_compare_"))
    r = worked_example(out)
    comp = r["comparison"]
    print(comp._repr_markdown_())
    print(f"\nbest model: {r['best']} (ΔAIC of OU {r['delta_aic_ou']:.2f}, of GBM {r['delta_aic_gbm']:.2f})")
    print(f"κ = {r['kappa']:.3g} [{r['kappa_ci'][0]:.3g}, {r['kappa_ci'][1]:.3g}], L̄ = {r['mean']:.3g}, σ = {r['sigma']:.3g}")
    print(f"one year after the last value {r['last']:.3f}: VaR 99 % = {r['var99']:.4f}, ES 99 % = {r['es99']:.4f}")
    # the fit must contain the truth, and the tail measures must be ordered
    assert r["best"] == "cir"
    assert r["kappa_ci"][0] < 1.5 < r["kappa_ci"][1]
    assert r["es99"] < r["var99"] < r["last"]
    print(f"files written to {out}")


if __name__ == "__main__":
    main()
