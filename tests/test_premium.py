"""The illiquidity premium π(L, T) (GELAV.md §2): formula, instantaneous form, checks, bad input."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from scipy.integrate import quad

from gelav import IlliquidityPremium, PremiumWarning


def test_formula_and_broadcasting() -> None:
    p = IlliquidityPremium()
    L = np.array([-1.0, 0.0, 1.0])
    T = np.array([[1.0], [4.0], [9.0]])
    expect = (0.045 - 0.025 * L + 0.021 * L**2) * np.sqrt(T)
    np.testing.assert_allclose(p(L, T), expect, rtol=1e-15)
    assert p(0.0, 4.0) == pytest.approx(0.09, rel=1e-15)
    assert IlliquidityPremium(scaling="linear")(1.0, 3.0) == pytest.approx(0.041 * 3, rel=1e-15)
    assert IlliquidityPremium(scaling="none")(1.0, 3.0) == pytest.approx(0.041, rel=1e-15)
    assert p.price(-1.0, 9.0, nav=100.0) == pytest.approx(100 * (1 - 0.091 * 3), rel=1e-14)
    assert p.argmin == pytest.approx(0.025 / 0.042, rel=1e-15)


@pytest.mark.parametrize("scaling", ["sqrt", "linear"])
@pytest.mark.parametrize("L", [-2.0, 0.3, 2.5])
def test_instantaneous_integrates_to_the_premium(scaling: str, L: float) -> None:
    p = IlliquidityPremium(scaling=scaling)
    T = 7.0 if scaling == "sqrt" else 4.0  # π < 1 for the exact form
    additive, _ = quad(lambda tau: p.instantaneous(L, tau), 0.0, T, limit=200)
    assert additive == pytest.approx(p(L, T), rel=1e-8)
    assert p.accrued(L, 0.0, T) == pytest.approx(p(L, T), rel=1e-14)
    exact, _ = quad(lambda tau: p.instantaneous(L, tau, exact=True), 0.0, T, limit=200)
    assert math.exp(-exact) == pytest.approx(1.0 - p(L, T), rel=1e-8)


def test_instantaneous_errors() -> None:
    with pytest.raises(ValueError, match="`remaining`"):
        IlliquidityPremium().instantaneous(0.0)
    with pytest.raises(ValueError, match="`remaining`"):
        IlliquidityPremium().instantaneous(0.0, 0.0)
    with pytest.raises(ValueError, match="`scaling='none'`"):
        IlliquidityPremium(scaling="none").instantaneous(0.0, 1.0)
    with pytest.raises(ValueError, match="π\\(L, τ\\) < 1"):
        IlliquidityPremium().instantaneous(-3.0, 12.0, exact=True)
    assert IlliquidityPremium(scaling="linear").instantaneous(1.0) == pytest.approx(0.041)


def test_check_reports_non_monotonicity_and_negative_price() -> None:
    p = IlliquidityPremium()
    with pytest.warns(PremiumWarning) as rec:
        out = p.check((-3.0, 3.0), (0.0, 12.0))
    msgs = " ".join(str(w.message) for w in rec)
    assert "non-monotone" in msgs and "0.5952" in msgs
    assert "≥ 1" in msgs
    assert out["max_premium"] == pytest.approx(0.309 * math.sqrt(12.0), rel=1e-12)
    assert out["argmax"] == (-3.0, 12.0)
    lo, hi = out["negative_price_L"][0]
    assert lo == -3.0 and p(hi, 12.0) == pytest.approx(1.0, rel=1e-12)
    assert p(-3.0, out["negative_price_from_T"]) == pytest.approx(1.0, rel=1e-12)
    # a range with neither problem: silent
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        clean = p.check((-1.0, 0.5), (0.0, 5.0))
    assert clean["monotone"] and not clean["negative_price"]


@pytest.mark.parametrize(("kwargs", "name"), [
    ({"alpha": float("nan")}, "alpha"), ({"beta": True}, "beta"), ({"gamma": "x"}, "gamma"),
    ({"scaling": "log"}, "scaling"),
])
def test_bad_parameters_name_the_argument(kwargs: dict, name: str) -> None:
    with pytest.raises((ValueError, TypeError), match=f"`{name}`"):
        IlliquidityPremium(**kwargs)


def test_bad_states_name_the_argument() -> None:
    p = IlliquidityPremium()
    with pytest.raises(ValueError, match="`T`"):
        p(0.0, -1.0)
    with pytest.raises(ValueError, match="`L`"):
        p(np.nan, 1.0)
    with pytest.raises(TypeError, match="`L`"):
        p(True, 1.0)
    with pytest.raises(ValueError, match="`L_range`"):
        p.check((1.0, 0.0))
    with pytest.raises(ValueError, match="`T_range`"):
        p.check((0.0, 1.0), (-1.0, 2.0))
