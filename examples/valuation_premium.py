"""Workflow: fit the illiquidity premium π(L, T) to secondary-market trades (GELAV.md §2).

1. Simulate 600 seeded trades (two fund types) from known premium curves, with
   heteroskedastic noise (sd ∝ √T) and, for the robust fit, 5 % mis-recorded trades.
2. Fit π = (α + βL + γL²)√T by least squares with HC3 standard errors, per fund type.
3. Refit the contaminated trades by least squares and by Huber's M-estimate.
4. Check the fitted curve: where it is non-monotone in L or reaches 1 (a negative price).

Every number docs/valuation.md quotes comes from ``compute()`` (tests/test_valuation_docs.py).
Run:  MPLBACKEND=Agg python examples/valuation_premium.py   (figures to $GELAV_EXAMPLE_OUT)
"""

from __future__ import annotations

import os
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np

import gelav

TRUE = {"buyout": (0.045, -0.025, 0.021), "venture": (0.060, -0.010, 0.015)}


def trades(seed: int = 2026, n: int = 600) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    L = 1.0 + 0.6 * rng.standard_normal(n)  # roughly the stationary law of L, a little wider
    T = rng.uniform(0.5, 12.0, n)
    ft = rng.choice(list(TRUE), n)
    a = np.array([TRUE[f][0] + TRUE[f][1] * x + TRUE[f][2] * x * x for f, x in zip(ft, L, strict=True)])
    pi = a * np.sqrt(T) + 0.01 * np.sqrt(T) * rng.standard_normal(n)
    return {"L": L, "T": T, "fund_type": ft, "pi": pi}


def compute() -> dict[str, Any]:
    t = trades()
    fit = gelav.fit_premium(t["L"], t["T"], t["pi"], groups=t["fund_type"])
    bad = t["pi"].copy()
    idx = np.random.default_rng(7).choice(bad.size, 30, replace=False)
    bad[idx] += 0.25  # 5 % of trades recorded 25 points too wide
    b = t["fund_type"] == "buyout"
    ols = gelav.fit_premium(t["L"][b], t["T"][b], bad[b])
    hub = gelav.fit_premium(t["L"][b], t["T"][b], bad[b], robust=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", gelav.PremiumWarning)
        check = gelav.IlliquidityPremium().check((-3.0, 3.0), (0.0, 12.0))
    return {"fit": fit, "ols": ols, "huber": hub, "check": check}


def quoted(res: dict[str, Any]) -> dict[str, str]:
    """The strings docs/valuation.md shows, keyed by what they are."""
    out: dict[str, str] = {}
    for g in ("buyout", "venture"):
        f = res["fit"].by_group(g)
        for k in ("alpha", "beta", "gamma"):
            out[f"{g}_{k}"] = f"{f.params[k]:.4f} ± {f.stderr[k]:.4f}"
        out[f"{g}_r2"] = f"{f.r_squared:.3f}"
    for name in ("ols", "huber"):
        for k in ("alpha", "beta", "gamma"):
            out[f"{name}_{k}"] = f"{res[name].params[k]:.4f}"
    c = res["check"]
    out["argmin"] = f"{c['turning_point']:.4f}"
    out["max_premium"] = f"{c['max_premium']:.4f}"
    out["neg_L"] = f"{c['negative_price_L'][0][1]:.3f}"
    out["neg_T"] = f"{c['negative_price_from_T']:.2f}"
    return out


def main() -> Path:
    out = Path(os.environ.get("GELAV_EXAMPLE_OUT") or tempfile.mkdtemp(prefix="gelav_premium_"))
    out.mkdir(parents=True, exist_ok=True)
    res = compute()
    print(res["fit"])
    for g in ("buyout", "venture"):
        f = res["fit"].by_group(g)
        for k, v in zip(("alpha", "beta", "gamma"), TRUE[g], strict=True):
            lo, hi = f.conf_int(0.99)[k]
            assert lo <= v <= hi, (g, k, v, lo, hi)  # the truth is inside the 99 % interval
    # Huber is closer to the truth than least squares on the contaminated trades
    assert abs(res["huber"].params["alpha"] - 0.045) < abs(res["ols"].params["alpha"] - 0.045) / 3
    for k, v in quoted(res).items():
        print(f"{k:>16}: {v}")
    res["fit"].plot().savefig(out / "premium_fit.png", dpi=100)
    gelav.IlliquidityPremium().plot().savefig(out / "premium_curves.png", dpi=100)
    return out


if __name__ == "__main__":
    print(f"figures in {main()}")
