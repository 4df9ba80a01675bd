"""Synthetic data sets (issue 12): seeded, in the course's layouts, read back by gelav's readers."""

from __future__ import annotations

import numpy as np
import pytest

from gelav.datasets import fund_cashflows, liquidity_history, secondary_trades
from gelav.valuation.premium import IlliquidityPremium


def test_fund_cashflows_layout_and_seed(tmp_path):
    a, b, c = fund_cashflows(seed=1), fund_cashflows(seed=1), fund_cashflows(seed=2)
    assert a.names == ["date", "year", "cashflow", "L_t", "benchmark_index"]
    assert np.array_equal(a["cashflow"], b["cashflow"]) and not np.array_equal(a["cashflow"], c["cashflow"])
    assert np.allclose(np.diff(a["year"]), 0.25) and a["date"][0] == "2010-03-31" and a["date"][1] == "2010-06-30"
    # net flows: early quarters are net calls of at most the commitment (100); the last is the liquidation
    calls = -a["cashflow"][a["cashflow"] < 0].sum()
    assert 50.0 < calls <= 100.0 and a["cashflow"][-1] > 0 and a["cashflow"][0] == 0.0
    p = a.to_csv(tmp_path / "f.csv")
    assert p.stat().st_size < 50_000


def test_fund_cashflows_excess_return_shows_in_pme():
    from gelav.funds import pme

    hi = [pme(d["cashflow"], d["benchmark_index"]) for d in (fund_cashflows(seed=s, excess_return=0.05) for s in range(5))]
    lo = [pme(d["cashflow"], d["benchmark_index"]) for d in (fund_cashflows(seed=s, excess_return=-0.05) for s in range(5))]
    assert min(hi) > 1.0 > max(lo)


def test_secondary_trades_follow_the_premium():
    prem = IlliquidityPremium()
    d = secondary_trades(2000, seed=3, premium=prem, noise=0.01)
    assert d.names == ["trade_year", "fund_type", "L_t", "T_remaining", "pi_observed"]
    resid = d["pi_observed"] - prem(d["L_t"], d["T_remaining"])
    assert abs(resid.mean()) < 4 * 0.01 / np.sqrt(2000) and resid.std() == pytest.approx(0.01, rel=0.1)
    assert d["trade_year"].min() >= 2005 and d["trade_year"].max() <= 2024


def test_liquidity_history_recovers_ou_parameters(tmp_path):
    from gelav.calibrate import fit_ou, read_series

    d = liquidity_history(400, seed=9)
    s = read_series(d.to_csv(tmp_path / "l.csv"))
    fit = fit_ou(s)
    for name, true in (("kappa", 0.45), ("mean", 1.0), ("sigma", 0.32)):
        assert abs(getattr(fit, name) - true) < 4 * fit.stderr[name], (name, getattr(fit, name), fit.stderr[name])


def test_bad_arguments():
    with pytest.raises(ValueError, match="`n` must be >= 1"):
        secondary_trades(0)
    with pytest.raises(ValueError, match="`start` must be an ISO date"):
        liquidity_history(8, start="March")
    with pytest.raises(TypeError, match="`process` must be an OrnsteinUhlenbeck"):
        liquidity_history(8, process="ou")
