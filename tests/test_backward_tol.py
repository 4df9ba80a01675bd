"""``backward(..., tol=)`` and ``optimal_stopping(..., tol=)``: the value at x0 to a tolerance, with a
validated refinement estimate (gelav.pde.refinement), checked against closed forms."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.special import ndtr

from gelav import (
    CIR,
    BrownianMotion,
    ConvergenceError,
    Discretization,
    GeometricBrownianMotion,
    Grid,
    OrnsteinUhlenbeck,
    TimeGrid,
    backward,
)
from gelav.pde.refinement import DOMAIN_TAIL, MIN_LEVELS, ROUNDING, regime
from gelav.stopping import optimal_stopping


def _ou_linear(kappa: float, mean: float, x0: float, t: float) -> float:
    """E[X_T | X_0 = x0] of an OU: the value of the payoff x."""
    return mean + (x0 - mean) * math.exp(-kappa * t)


def _black_scholes_call(s: float, k: float, r: float, sigma: float, t: float) -> float:
    d1 = (math.log(s / k) + (r + 0.5 * sigma**2) * t) / (sigma * math.sqrt(t))
    return float(s * ndtr(d1) - k * math.exp(-r * t) * ndtr(d1 - sigma * math.sqrt(t)))


@pytest.mark.parametrize(("kappa", "mean", "sigma", "x0", "horizon"),
                         [(0.45, 1.0, 0.32, 1.3, 1.0), (2.0, -0.5, 0.8, 0.7, 0.5), (0.1, 0.0, 0.2, 3.0, 4.0)])
def test_ou_value_within_its_estimate(kappa: float, mean: float, sigma: float, x0: float, horizon: float) -> None:
    exact = _ou_linear(kappa, mean, x0, horizon)
    v = backward(OrnsteinUhlenbeck(kappa, mean, sigma), lambda x: x, horizon, x0=x0, n_cells=50, n_steps=25,
                 tol=1e-5)
    d = v.diagnostics
    err = abs(float(v.value(x0)) - exact)
    assert err <= d["error_estimate"] <= 1e-5
    assert d["error_estimate"] <= 1.001 * err  # sharp: the asymptotic range (docs/backward.md)
    assert d["order"] == 2.0 and abs(d["observed_order"] - 2.0) <= 0.25
    levels = d["refinement"]
    assert len(levels) >= MIN_LEVELS
    assert [lv["cells"] for lv in levels] == [50 * 2**j for j in range(len(levels))]
    assert [lv["steps"] for lv in levels] == [25 * 2**j for j in range(len(levels))]
    assert levels[-1]["value"] == float(v.value(x0))


@pytest.mark.parametrize("scheme", ["cn", "expm"])
def test_black_scholes_call_within_its_estimate(scheme: str) -> None:
    """The strike on a node of every level (domain (0, 5), h = 0.05/2^j): the kink's error is a clean h²."""
    s0, k, r, sigma, t = 1.0, 1.1, 0.05, 0.3, 1.0
    v = backward(GeometricBrownianMotion(r, sigma), lambda x: np.maximum(x - k, 0.0), t, discount=r, x0=s0,
                 domain=(0.0, 5.0), upper=lambda t: 5.0 - k * math.exp(-r * (1.0 - t)), n_cells=100, n_steps=50,
                 tol=1e-5, scheme=scheme)
    d = v.diagnostics
    assert abs(float(v.value(s0)) - _black_scholes_call(s0, k, r, sigma, t)) <= d["error_estimate"] <= 1e-5
    if scheme == "expm":  # the certified time error is part of the estimate
        assert d["error_estimate"] >= 2.0 * d["time_error_bound"] > 0.0


def test_digital_with_cell_averages() -> None:
    """P(B_T > k) of a Brownian motion: a jump in the payoff, averaged over the cells (second order)."""
    k, t = 0.3, 0.8
    v = backward(BrownianMotion(0.0, 1.0), lambda x: (x > k).astype(float), t, x0=0.0, smooth_payoff=True,
                 domain=(-6.0, 6.0), n_cells=120, n_steps=60, tol=1e-6)
    assert abs(float(v.value(0.0)) - float(ndtr(-k / math.sqrt(t)))) <= v.diagnostics["error_estimate"] <= 1e-6


def test_euler_is_first_order() -> None:
    kappa, mean, sigma, x0, t = 0.45, 1.0, 0.32, 1.3, 1.0
    v = backward(OrnsteinUhlenbeck(kappa, mean, sigma), lambda x: x, t, x0=x0, scheme="euler", n_cells=50,
                 n_steps=25, tol=1e-3)
    d = v.diagnostics
    assert d["order"] == 1.0 and 0.75 <= d["observed_order"] <= 2.0
    assert abs(float(v.value(x0)) - _ou_linear(kappa, mean, x0, t)) <= d["error_estimate"] <= 1e-3


def test_drift_dominated_is_first_order_or_refused() -> None:
    """An OU from x0 = 1000: the fitted flux upwinds at a cell Péclet number of ~4000, and the default
    400 cells are 0.42 % off (2.69 on 638.0). The estimate takes the first-order regime, and where the
    search cannot validate one at most tol it refuses, with every level in the error's history."""
    p, x0, t = OrnsteinUhlenbeck(), 1e3, 1.0
    exact = _ou_linear(p.kappa, p.mean, x0, t)
    v = backward(p, lambda x: x, t, x0=x0, tol=1.0)
    d = v.diagnostics
    assert d["order"] == 1.0
    assert abs(float(v.value(x0)) - exact) <= d["error_estimate"] <= 1.0
    with pytest.raises(ConvergenceError, match=r"tol=0\.01.*max_cells=12800") as info:
        backward(p, lambda x: x, t, x0=x0, tol=0.01)
    history = info.value.history
    assert [lv["cells"] for lv in history] == [400 * 2**j for j in range(6)]  # type: ignore[union-attr]
    assert all("value" in lv for lv in history)  # type: ignore[union-attr]


def test_a_large_cell_peclet_number_at_x0_is_said() -> None:
    """The plain runs from x0 = 1000 warn (cell Péclet number 8,300: the flux upwinds there); the search to a
    tolerance does not (its estimate says how far off), nor do the seed's problems."""
    import warnings

    from gelav import AccuracyWarning, forward
    from gelav.fd.generator import PECLET_WARNING, cell_peclet

    p = OrnsteinUhlenbeck()
    with pytest.warns(AccuracyWarning, match=r"cell Péclet number \|b\|h/D at x0 = 1000 is 8.3e\+03"):
        v = backward(p, lambda x: x, 1.0, x0=1e3)
    assert cell_peclet(p, v.grid, 0.0, 1e3) == pytest.approx(449.55 * 0.94559 / 0.0512, rel=1e-3)
    with pytest.warns(AccuracyWarning, match="cell Péclet number"):
        optimal_stopping(p, lambda x: np.maximum(700.0 - x, 0.0), 1.0, x0=1e3)
    with pytest.warns(AccuracyWarning, match="cell Péclet number"):
        d = forward(p, 1e3, 1.0)
    assert d.diagnostics["boundary_mass"] == pytest.approx(0.461, abs=1e-3)  # numerical diffusion, not the start
    # what it warns of (docs/backward.md): the density's variance 223 for the law's 0.068
    assert round(d.var()) == 223 and round(float(p.transition(1e3, 1.0).var()), 3) == 0.068
    # the mass-loss measure starts after t = 0: x0 at the extreme of its own law lies in the outer 2 % of the
    # automatic domain at the start ("1 of the mass reached" it); what reached the edge later is the leak
    d = forward(OrnsteinUhlenbeck(2.0, 1.0, 0.1), 10.0, 1.0)
    assert d.grid.upper - 10.0 < 0.02 * (d.grid.upper - d.grid.lower)
    assert 0.03 < d.diagnostics["boundary_mass"] < 0.04
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message="The cell Péclet number", category=AccuracyWarning)
        backward(p, lambda x: x, 1.0, x0=1e3, tol=1.0)
        v = backward(p, lambda x: x, 1.0, x0=1.3)
        forward(p, -0.5, 2.0)
    assert cell_peclet(p, v.grid, 0.0, 1.3) < PECLET_WARNING / 100


def test_american_put_first_order() -> None:
    """The American put of Longstaff–Schwartz (S = 36, K = 40, σ = 0.2, r = 0.06, T = 1) on (0, 160):
    4.48667 (the answers on up to 6,400 cells, converging at order 1.7, extrapolated; ± 1e-5)."""
    v = optimal_stopping(GeometricBrownianMotion(0.06, 0.2), lambda s: np.maximum(40.0 - s, 0.0), 1.0,
                         discount=0.06, domain=(0.0, 160.0), x0=36.0, n_cells=100, n_steps=25, tol=1e-3)
    d = v.diagnostics
    assert d["order"] == 1.0  # the estimate never assumes more for a free boundary
    assert abs(float(v.value(36.0)) - 4.48667) + 1e-5 <= d["error_estimate"] <= 1e-3


def test_levels_are_plain_runs() -> None:
    """The search changes no number: each level is the plain run on its cells and steps, to the bit."""
    p = OrnsteinUhlenbeck()
    v = backward(p, lambda x: np.sin(x), 1.0, x0=1.2, n_cells=40, n_steps=20, tol=1e-4, discount=0.03)
    for lv in v.diagnostics["refinement"]:
        plain = backward(p, lambda x: np.sin(x), 1.0, x0=1.2, n_cells=lv["cells"], n_steps=lv["steps"],
                         discount=0.03)
        assert float(plain.value(1.2)) == lv["value"]
    assert np.array_equal(plain.values, v.values)


def test_exactly_converged_answers() -> None:
    """A constant payoff without discounting is 1 on every grid, to rounding: the estimate is the rounding
    floor on a given domain, plus the share of the mass the automatic domain leaves out."""
    v = backward(OrnsteinUhlenbeck(), 1.0, 1.0, x0=1.0, domain=(-1.0, 3.0), n_cells=16, n_steps=8, tol=1e-12)
    assert len(v.diagnostics["refinement"]) == MIN_LEVELS
    assert v.diagnostics["error_estimate"] == pytest.approx(ROUNDING)
    v = backward(OrnsteinUhlenbeck(), 1.0, 1.0, x0=1.0, n_cells=16, n_steps=8, tol=1e-9)
    assert v.diagnostics["error_estimate"] == pytest.approx(DOMAIN_TAIL, rel=1e-2)
    with pytest.raises(ConvergenceError, match=r"last estimate 1e-10 on 256 cells"):  # tol below the tail share
        backward(OrnsteinUhlenbeck(), 1.0, 1.0, x0=1.0, n_cells=16, n_steps=8, tol=1e-12, max_cells=256)


def test_regime() -> None:
    assert regime(4e-3, 1e-3, 2.0) == (2.0, 2.0)
    assert regime(2e-3, 1e-3, 2.0) == (1.0, 1.0)
    assert regime(2.8e-3, 1e-3, 2.0)[1] == 1.0  # p = 1.49: in the band
    assert regime(8e-3, 1e-3, 2.0) == (3.0, 2.0)  # faster than the scheme: its order, conservative
    assert regime(16e-3, 1e-3, 2.0) == (4.0, None)  # much faster: not the asymptotic range
    assert regime(1.5e-3, 1e-3, 2.0)[1] is None  # p = 0.58
    assert regime(-1e-3, 1e-3, 2.0)[1] is None and regime(0.0, 1e-3, 2.0)[1] is None
    assert regime(0.0, 0.0, 2.0)[1] == 2.0


@pytest.mark.parametrize(("kw", "match"), [
    ({"tol": math.nan}, "`tol` must be finite"),
    ({"tol": math.inf}, "`tol` must be finite"),
    ({"tol": 0.0}, "`tol` must be > 0"),
    ({"tol": -1e-3}, "`tol` must be > 0"),
    ({"tol": 1e-3, "x0": None}, "`tol` needs `x0`"),
    ({"tol": 1e-3, "grid": Grid.uniform(0.0, 2.0, 20), "x0": 1.0}, "not `grid`"),
    ({"tol": 1e-3, "time_grid": TimeGrid.build(1.0, 10)}, "not `time_grid`"),
    ({"tol": 1e-3, "discretization": Discretization(grid=Grid.uniform(0.0, 2.0, 20))}, "not `grid`"),
    ({"tol": 1e-3, "max_cells": 3000}, "`max_cells` = 3000 is below the 4 grids"),
    ({"tol": 1e-3, "max_cells": 0}, "`max_cells` must be >= 1"),
    ({"tol": 1e-3, "n_cells": 2000, "n_steps": 20000}, "below the 4 grids"),
])
def test_bad_input_names_the_argument(kw: dict, match: str) -> None:
    kw = {"x0": 1.0, **kw}
    with pytest.raises(ValueError, match=match):
        backward(OrnsteinUhlenbeck(), lambda x: x, 1.0, **kw)
    with pytest.raises(ValueError, match=match):
        optimal_stopping(OrnsteinUhlenbeck(), lambda x: x, 1.0, **kw)


def _cir_bond(k: float, th: float, s: float, r0: float, T: float) -> float:
    h = math.sqrt(k * k + 2 * s * s)
    e = math.expm1(h * T)
    B = 2 * e / ((h + k) * e + 2 * h)
    A = (2 * h * math.exp((k + h) * T / 2) / ((h + k) * e + 2 * h)) ** (2 * k * th / s**2)
    return A * math.exp(-B * r0)


def _vasicek_bond(k: float, th: float, s: float, r0: float, T: float) -> float:
    B = -math.expm1(-k * T) / k
    return math.exp((th - s * s / (2 * k * k)) * (B - T) - s * s * B * B / (4 * k) - B * r0)


@pytest.mark.parametrize("kind,params,r0,T", [("cir", (2.0, 0.1, 0.05), 0.2, 30.0),
                                              ("ou", (3.0, 0.02, 0.2), 0.5, 40.0)])
def test_long_horizon_domain_holds_the_early_spread(kind, params, r0, T):
    """Zero-coupon bonds started above the mean over long horizons: the law's upper quantile peaks early
    (CIR(2, 0.1, 0.05) from 0.2: 0.228 near t = 0.1). ``auto_domain`` sampled it from T/40 on only, so the
    reflecting wall sat 0.003 above the start and the answers were 3.0e-6 (CIR) and 1.2e-6 (Vasicek) off
    against estimates of 3.0e-8 and 8.6e-9; now the errors are within the estimates."""
    import warnings

    from gelav.grid import auto_domain

    proc = CIR(*params) if kind == "cir" else OrnsteinUhlenbeck(*params)
    exact = (_cir_bond if kind == "cir" else _vasicek_bond)(*params, r0, T)
    if kind == "cir":
        assert auto_domain(proc, r0, T)[1] > 0.2275  # over one year it is 0.2278
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        v = backward(proc, 1.0, T, discount=lambda t, x: x, x0=r0, tol=1e-7)
    assert abs(v.value(r0, 0.0) - exact) <= v.diagnostics["error_estimate"] <= 1e-7
