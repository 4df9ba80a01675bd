"""The practitioner track: the GE-LAV course's eight workflows end to end, on gelav's own synthetic data.

1. fit the OU liquidity state (gelav.fit_ou) to a quarterly history;
2. fit the illiquidity premium π(L, T) to secondary trades (gelav.fit_premium);
3. the exit boundary L*(t) of a fund stake (gelav.exit_boundary);
4. fund metrics IRR, TVPI, PME, Direct Alpha, LA-IRR, LA-PME (gelav.funds);
5. the liquidity-adjusted value (LAV) against DCF, with a Monte Carlo check;
6. the Jensen bias of DCF (gelav.jensen_bias);
7. portfolio stress under the six standard liquidity paths (gelav.portfolio);
8. distributional stress: VaR and ES of the portfolio mark from the Fokker–Planck density.

Every number quoted in docs/tutorials/practitioner.md comes from `compute()`
(tests/test_practitioner_doc.py checks that the page quotes them).

Run:  MPLBACKEND=Agg python examples/practitioner_track.py
Files go to $GELAV_EXAMPLE_OUT (default: a fresh temporary folder).
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

SEED = 2026
FUNDS = (("Buyout 2018", 100.0, 6.0, "buyout"), ("Venture 2020", 50.0, 9.0, "venture"),
         ("Infra 2015", 80.0, 3.0, "infrastructure"))


def compute(out: Path | None = None) -> dict[str, Any]:
    """Run the eight workflows; return the key numbers (and write data files and figures to ``out``)."""
    import gelav
    from gelav.datasets import fund_cashflows, liquidity_history, secondary_trades
    from gelav.funds import TakahashiAlexander, liquidity_adjusted_value, read_cashflows
    from gelav.portfolio import SCENARIOS, Fund, mark_distribution, stress_portfolio

    tmp = Path(out) if out is not None else Path(tempfile.mkdtemp(prefix="gelav_practitioner_"))
    res: dict[str, Any] = {}
    prem = gelav.IlliquidityPremium()

    # 1. OU liquidity state from 25 years of quarterly history
    hist = liquidity_history(100, seed=SEED).to_csv(tmp / "liquidity_history.csv")
    ou = gelav.fit_ou(gelav.read_series(hist))
    res["ou"] = {"kappa": ou.kappa, "mean": ou.mean, "sigma": ou.sigma, "half_life": ou.half_life}

    # 2. premium from 400 secondary trades generated with the book's parameters
    trades = secondary_trades(400, seed=SEED, premium=prem, noise=0.01)
    pf = gelav.fit_premium(trades["L_t"], trades["T_remaining"], trades["pi_observed"])
    res["premium"] = {**pf.params, "r_squared": pf.r_squared}

    # 3. exit boundary of a 10-year stake (course defaults r = 8 %, L in [-3, 3])
    eb = gelav.exit_boundary(fund_life=10.0)
    res["exit"] = {"L_star_0": float(eb.boundary(0.0)), "L_star_5": float(eb.boundary(5.0))}

    # 4. fund metrics of a synthetic quarterly fund in the course's layout
    fpath = fund_cashflows(seed=SEED).to_csv(tmp / "fund_cashflows.csv")
    m = read_cashflows(fpath).metrics(prem)
    res["metrics"] = {"irr": m.irr.rate, "tvpi": m.tvpi, "dpi": m.dpi, "pme": m.pme,
                      "direct_alpha": m.direct_alpha.rate if m.direct_alpha else None,
                      "la_irr": m.la_irr.rate if m.la_irr else None, "la_pme": m.la_pme}

    # 5. LAV vs DCF of a new commitment (Yale model, L-dependent rates), L0 = -0.5 and 1.0
    model = TakahashiAlexander(call_liquidity=0.3, distribution_liquidity=0.5)
    lav = {}
    for L0 in (-0.5, 1.0):
        r = liquidity_adjusted_value(model, premium=prem, L0=L0, monte_carlo=20000, seed=SEED)
        lav[str(L0)] = {"value": r.value, "dcf": r.dcf, "mc": r.monte_carlo.value, "mc_se": r.monte_carlo.stderr}
    res["lav"] = lav

    # 6. Jensen bias: the course's VC example
    jb = gelav.jensen_bias(10.0, 0.08, 0.05)
    res["jensen"] = {"exact": float(jb.bias), "second_order": float(jb.second_order or 0.0)}

    # 7. portfolio stress under the six standard paths, exits below L* = -1
    funds = [Fund(n, nav, T, type=k) for n, nav, T, k in FUNDS]
    stress = {}
    for name in SCENARIOS:
        s = stress_portfolio(funds, name, premium=prem)
        stress[name] = {"dd": s.max_drawdown, "dd_book": float(s.drawdown_from_book.min()),
                        "recovery": s.recovery_month}
    res["stress"] = stress
    res["starting_discount"] = stress_portfolio(funds, "mild", premium=prem).starting_discount
    ex = stress_portfolio(funds, "gfc", premium=prem, boundary=eb)
    res["gfc_exits"] = ex.exit_month
    # the course's "reverse" -10.9 %: one fund of 5.87 years, drawdown from book NAV
    res["reverse_course"] = float(stress_portfolio([Fund("A", 100.0, 5.87)], "reverse").drawdown_from_book.min())

    # 8. distributional stress at one year from L0 = 0
    d = mark_distribution(funds, 1.0, L0=0.0, premium=prem, levels=(0.95, 0.99))
    res["distribution"] = {"start_mark": d.start_mark, "var95": d.var[0.95], "es95": d.es[0.95],
                           "var99": d.var[0.99], "es99": d.es[0.99]}

    if out is not None:
        import matplotlib

        matplotlib.use("Agg")
        from gelav.cli._common import save_figure

        save_figure(read_cashflows(fpath).plot(), str(tmp / "fund_cashflows.png"))
        save_figure(stress_portfolio(funds, "gfc", premium=prem, boundary=eb).plot(), str(tmp / "stress_gfc.png"))
        save_figure(d.plot(), str(tmp / "loss_distribution.png"))
        (tmp / "practitioner_numbers.json").write_text(json.dumps(res, indent=2, default=float))
    return res


def quoted(res: dict[str, Any]) -> dict[str, str]:
    """The numbers as the tutorial quotes them (the doc test looks for each string on the page)."""
    def pct(x: float, d: int = 1) -> str:
        return f"{100 * x:.{d}f} %"

    q = {
        "kappa": f"{res['ou']['kappa']:.3f}", "mean": f"{res['ou']['mean']:.3f}", "sigma": f"{res['ou']['sigma']:.3f}",
        "alpha": f"{res['premium']['alpha']:.4f}", "beta": f"{res['premium']['beta']:.4f}",
        "gamma": f"{res['premium']['gamma']:.4f}", "r2": f"{res['premium']['r_squared']:.3f}",
        "L_star_0": f"{res['exit']['L_star_0']:.3f}", "L_star_5": f"{res['exit']['L_star_5']:.3f}",
        "irr": pct(res["metrics"]["irr"]), "tvpi": f"{res['metrics']['tvpi']:.2f}×",
        "pme": f"{res['metrics']['pme']:.2f}", "la_irr": pct(res["metrics"]["la_irr"]),
        "la_pme": f"{res['metrics']['la_pme']:.2f}", "direct_alpha": pct(res["metrics"]["direct_alpha"]),
        "jensen_exact": f"{res['jensen']['exact']:.6f}", "jensen_2nd": f"{res['jensen']['second_order']:.6f}",
        "start_disc": pct(res["starting_discount"]), "reverse_course": pct(res["reverse_course"]),
        "var95": f"{res['distribution']['var95']:.2f}", "es95": f"{res['distribution']['es95']:.2f}",
        "var99": f"{res['distribution']['var99']:.2f}", "es99": f"{res['distribution']['es99']:.2f}",
        "start_mark": f"{res['distribution']['start_mark']:.2f}",
    }
    for L0, v in res["lav"].items():
        q[f"lav_{L0}"] = f"{v['value']:.3f}"
        q[f"dcf_{L0}"] = f"{v['dcf']:.3f}"
        q[f"mc_{L0}"] = f"{v['mc']:.3f} ± {v['mc_se']:.3f}"
    for name, v in res["stress"].items():
        q[f"dd_{name}"] = pct(v["dd"])
        q[f"ddb_{name}"] = pct(v["dd_book"])
    return q


def main() -> Path:
    out = Path(os.environ.get("GELAV_EXAMPLE_OUT") or tempfile.mkdtemp(prefix="gelav_practitioner_"))
    out.mkdir(parents=True, exist_ok=True)
    res = compute(out)
    for k, v in quoted(res).items():
        print(f"{k:>16}: {v}")
    # self-checks: the Monte Carlo agrees with the PDE within 4 standard errors
    for v in res["lav"].values():
        assert abs(v["value"] - v["mc"]) < 4 * v["mc_se"], v
    assert np.isclose(res["reverse_course"], -0.045 * np.sqrt(5.87))
    return out


if __name__ == "__main__":
    main()
