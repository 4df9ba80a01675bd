"""Fokker–Planck solver: closed forms, convergence orders, invariants, warnings and errors."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from scipy import stats

from gelav import (
    CIR,
    AccuracyWarning,
    BrownianMotion,
    Generator,
    Grid,
    MassLossWarning,
    OrnsteinUhlenbeck,
    Process,
    TimeGrid,
    forward,
)

SEED_OU = OrnsteinUhlenbeck(kappa=0.45, mean=1.0, sigma=0.32)
SEED_P = 0.0019356487804036227  # Φ((-0.5 - m)/s), seed 000
DOMAIN = (-1.8, 2.6)  # holds all but ~1e-10 of the mass over [0, 2]


def fitted_order(hs, errs):
    """Least-squares slope of log(err) against log(h)."""
    return float(np.polyfit(np.log(hs), np.log(errs), 1)[0])


def l1_error(d, law):
    """Σ|p_i - exact mass of control volume i|: the discrete L1 distance of the laws."""
    return float(np.abs(d.masses[-1] - d.grid.cell_masses(cdf=law.cdf)).sum())


def test_seed000_probability_within_richardson_error():
    law = SEED_OU.transition(-0.5, 2.0)
    assert law.cdf(-0.5) == pytest.approx(SEED_P, rel=1e-14)
    coarse = forward(SEED_OU, -0.5, 2.0, n_cells=400, n_steps=200)
    fine = forward(SEED_OU, -0.5, 2.0, n_cells=800, n_steps=400)
    p1, p2 = coarse.prob(below=-0.5), fine.prob(below=-0.5)
    estimate = abs(p2 - p1) / 3  # second order: error(fine) ≈ (p2 - p1)/(2² - 1)
    assert abs(p2 - SEED_P) < 1.5 * estimate
    assert abs(p2 - SEED_P) < 2e-6
    assert fine.prob(below=-0.5) + fine.prob(above=-0.5) == pytest.approx(1.0, abs=1e-12)


def test_space_convergence_order_is_two():
    law = SEED_OU.transition(-0.5, 2.0)
    ns = [50, 100, 200, 400]
    errs_l1, errs_p = [], []
    for n in ns:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", AccuracyWarning)  # n = 50 is deliberately coarse
            d = forward(SEED_OU, -0.5, 2.0, domain=DOMAIN, n_cells=n, n_steps=1000)
        errs_l1.append(l1_error(d, law))
        errs_p.append(abs(d.prob(below=-0.5) - SEED_P))
    hs = [1.0 / n for n in ns]
    assert fitted_order(hs, errs_l1) == pytest.approx(2.0, abs=0.1)
    assert fitted_order(hs, errs_p) == pytest.approx(2.0, abs=0.1)


@pytest.mark.parametrize(("scheme", "order"), [("cn", 2.0), ("euler", 1.0)])
def test_time_convergence_order(scheme, order):
    law = SEED_OU.transition(-0.5, 2.0)
    ms = [10, 20, 40, 80]
    errs = []
    for m in ms:
        d = forward(SEED_OU, -0.5, 2.0, domain=DOMAIN, n_cells=3200, n_steps=m, scheme=scheme)
        errs.append(l1_error(d, law))
    assert fitted_order([1 / m for m in ms], errs) == pytest.approx(order, abs=0.1)


def test_mass_conserved_to_1e12_with_reflecting_boundaries():
    d = forward(SEED_OU, -0.5, 5.0, domain=(-1.5, 1.2), lower="reflecting", upper="reflecting",
                n_cells=300, n_steps=500)
    total = d.masses.sum(axis=1)
    assert np.max(np.abs(total - 1.0)) < 1e-12
    assert d.diagnostics["mass_balance_error"] < 1e-12
    assert d.masses.min() >= -1e-15


def test_generator_rows_and_signs():
    gen = Generator(SEED_OU, Grid.stretched(-2, 3, 120, center=-0.5))
    Q = gen.matrix(0.0).toarray()
    off = Q - np.diag(np.diag(Q))
    assert off.min() >= 0.0
    assert np.max(np.abs(Q.sum(axis=1))) < 1e-9 * np.max(np.abs(Q))


def test_positivity_with_strong_drift():
    # Cell Péclet |b| h / D up to ~1000: central differences would give negative
    # off-diagonals; the fitted flux keeps Q an M-matrix generator, and implicit
    # steps keep masses non-negative.
    ou = OrnsteinUhlenbeck(kappa=40.0, mean=0.0, sigma=0.05)
    grid = Grid.uniform(-0.5, 1.5, 100)
    x, h = grid.nodes, grid.spacing[0]
    peclet = np.abs(ou.drift(0, x)) * h / (0.5 * 0.05**2)
    assert peclet.max() > 500
    bands = Generator(ou, grid).bands(0.0)
    assert bands.sub.min() >= 0 and bands.sup.min() >= 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AccuracyWarning)  # the final law is narrower than a cell
        d = forward(ou, 1.0, 1.0, grid=grid, n_steps=50, scheme="euler")
    assert d.masses.min() >= 0.0
    assert d.mass() == pytest.approx(1.0, abs=1e-12)
    # The exponentially fitted steady state is exact at the nodes for piecewise-constant
    # coefficients: the chain's stationary law puts the mean where the OU law does.
    assert d.mean() == pytest.approx(0.0, abs=h)


def test_stationary_law_is_preserved_and_reached():
    st = SEED_OU.stationary()
    d = forward(SEED_OU, "stationary", 3.0, n_cells=400, n_steps=100)
    assert d.mean() == pytest.approx(1.0, abs=1e-4)
    assert d.var() == pytest.approx(st.var(), rel=1e-3)
    d2 = forward(SEED_OU, -0.5, 25.0, domain=(-1.8, 3.0), n_cells=480, n_steps=250)
    err = float(np.abs(d2.masses[-1] - d2.grid.cell_masses(cdf=st.cdf)).sum())
    assert err < 5e-4  # O(h²) spatial error with h = 0.01


def test_brownian_absorbing_barrier_matches_reflection_principle():
    # Survival of BM with drift above 0: Φ((x+μt)/σ√t) - e^{-2μx/σ²} Φ((-x+μt)/σ√t).
    bm = BrownianMotion(mu=-0.2, sigma=1.0)
    x0, T = 1.0, 1.0
    exact = stats.norm.cdf((x0 + bm.mu * T) / math.sqrt(T)) - math.exp(-2 * bm.mu * x0) * stats.norm.cdf(
        (-x0 + bm.mu * T) / math.sqrt(T)
    )
    errs = []
    ns = [100, 200, 400]
    for n in ns:
        d = forward(bm, x0, T, domain=(0.0, 9.0), lower="absorbing", n_cells=n, n_steps=n)
        errs.append(abs(d.mass() - exact))
        assert d.mass() + d.absorbed()["lower"] == pytest.approx(1.0, abs=1e-12)
    assert errs[-1] < 1e-4
    assert fitted_order([1 / n for n in ns], errs) == pytest.approx(2.0, abs=0.2)


def test_cir_density_matches_noncentral_chi2():
    cir = CIR(kappa=2.0, mean=0.05, sigma=0.2)  # Feller holds: 2κθ = 0.2 > σ² = 0.04
    law = cir.transition(0.04, 1.0)
    errs = []
    ns = [100, 200, 400]
    for n in ns:
        d = forward(cir, 0.04, 1.0, domain=(0.0, 0.25), lower="reflecting", n_cells=n, n_steps=n)
        errs.append(l1_error(d, law))
    assert errs[-1] < 2e-3
    assert fitted_order([1 / n for n in ns], errs) > 1.5


def test_time_dependent_coefficients():
    # dX = sin(t) dt + (1 + t/2) dW: X_T ~ N(x0 + 1 - cos T, ∫(1 + t/2)² dt).
    p = Process(lambda t, x: np.sin(t) + 0 * x, lambda t, x: (1 + 0.5 * t) + 0 * x)
    T = 1.5
    var = T + T**2 / 2 + T**3 / 12
    law = stats.norm(0.2 + 1 - math.cos(T), math.sqrt(var))
    errs = []
    for m in (10, 20, 40):
        d = forward(p, 0.2, T, domain=(-12, 14), n_cells=4000, n_steps=m)
        errs.append(l1_error(d, law))
    assert fitted_order([1, 0.5, 0.25], errs) == pytest.approx(2.0, abs=0.2)


def test_gaussian_and_array_initial_conditions():
    law0 = stats.norm(0.2, 0.3)
    d = forward(SEED_OU, law0, 1.0, n_cells=400, n_steps=100)
    # OU maps N(m, s²) to N(L̄ + (m - L̄)e^{-κt}, s² e^{-2κt} + σ²/2κ (1 - e^{-2κt})).
    e = math.exp(-0.45)
    mean = 1.0 + (0.2 - 1.0) * e
    var = 0.09 * e**2 + 0.32**2 / 0.9 * (1 - e**2)
    assert d.mean() == pytest.approx(mean, abs=2e-4)
    assert d.var() == pytest.approx(var, rel=2e-3)
    grid = Grid.uniform(-2, 3, 400)
    d2 = forward(SEED_OU, law0.pdf(grid.nodes), 1.0, grid=grid, n_steps=100)
    assert d2.mean() == pytest.approx(mean, abs=2e-4)


def test_density_queries_are_consistent():
    d = forward(SEED_OU, -0.5, 2.0, n_cells=400, n_steps=200, times=[0.5, 1.0])
    law = SEED_OU.transition(-0.5, 1.0)
    assert d.mean(1.0) == pytest.approx(law.mean(), abs=1e-3)
    q = d.quantile([0.1, 0.5, 0.9], t=1.0)
    assert np.allclose(d.cdf(q, t=1.0), [0.1, 0.5, 0.9], atol=1e-12)
    assert np.allclose(q, law.ppf([0.1, 0.5, 0.9]), atol=2e-3)
    assert d.prob(above=0.0, below=0.5) == pytest.approx(float(d.cdf(0.5) - d.cdf(0.0)))
    assert d.pdf([0.39], t=2.0)[0] == pytest.approx(SEED_OU.transition(-0.5, 2.0).pdf(0.39), rel=1e-3)
    # a point mass on a node: every quantile lies in that node's control volume
    h = d.grid.max_spacing
    assert np.all(np.abs(np.asarray(d.quantile([0.01, 0.5, 0.99], t=0.0)) + 0.5) <= 0.5 * h + 1e-12)
    with pytest.raises(ValueError, match="was not saved"):
        d.at(0.123)
    with pytest.raises(ValueError, match="`q` must lie"):
        d.quantile(1.5)


def test_duality_of_forward_step_with_backward_step():
    # p0·u0 = pT·g for the same TimeGrid: the forward step is the exact transpose.
    from gelav.stepping import ThetaStepper

    grid = Grid.uniform(-1.8, 2.6, 200)
    gen = Generator(SEED_OU, grid, killing=lambda t, x: 0.05 + 0.01 * x**2)
    tg = TimeGrid.build(2.0, 50)
    st = ThetaStepper(gen)
    g = np.maximum(grid.nodes - 0.5, 0.0)
    u = g.copy()
    for n in range(tg.n_steps - 1, -1, -1):
        u = st.step(tg.times[n], tg.times[n + 1], tg.theta[n]).backward(u)
    p = grid.point_mass(-0.43)
    d = forward(SEED_OU, -0.43, 2.0, grid=grid, time_grid=tg, killing=lambda t, x: 0.05 + 0.01 * x**2)
    assert abs(d.masses[-1] @ g - p @ u) < 1e-13


def test_warns_when_mass_reaches_a_natural_boundary():
    with pytest.warns(MassLossWarning, match="natural"):
        forward(SEED_OU, -0.5, 2.0, domain=(-1.0, 0.5), n_cells=100, n_steps=50)


def test_warns_on_coarse_grid():
    with pytest.warns(AccuracyWarning, match="refine the grid"):
        forward(SEED_OU, -0.5, 0.01, domain=(-3, 3), n_cells=20, n_steps=5)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"horizon": 0.0}, "`horizon` must be > 0"),
        ({"horizon": -1.0}, "`horizon` must be > 0"),
        ({"horizon": float("nan")}, "`horizon` must be finite"),
        ({"initial": float("nan")}, "`initial` must be finite"),
        ({"n_steps": 0}, "`n_steps` must be >= 1"),
        ({"n_cells": 2}, "`n_cells` must be >= 4"),
        ({"scheme": "rk4"}, "Unknown `scheme`"),
        ({"lower": "sticky"}, "Unknown boundary `lower`"),
        ({"grid": Grid.uniform(0.0, 1.0, 10)}, "outside the grid"),
        ({"initial": "uniform"}, "Unknown `initial`"),
        ({"process": BrownianMotion(), "initial": "stationary"}, "has no stationary law"),
        ({"domain": (1.0, -1.0)}, "`domain` must satisfy"),
        ({"times": [float("nan")]}, "`times` must be finite"),  # regression: NaN was dropped
    ],
)
def test_bad_inputs_raise(kwargs, match):
    args = {"process": SEED_OU, "initial": -0.5, "horizon": 2.0, **kwargs}
    with pytest.raises(ValueError, match=match):
        forward(**args)


def test_non_process_and_nan_threshold_are_rejected():
    """Regressions: a non-process gave AttributeError, prob(below=nan) returned nan."""
    with pytest.raises(TypeError, match="`process` must be a gelav Process, got str"):
        forward("ou", -0.5, 2.0)
    d = forward(SEED_OU, -0.5, 2.0, n_cells=200, n_steps=10)
    with pytest.raises(ValueError, match="`below` must be finite"):
        d.prob(below=float("nan"))
    with pytest.raises(ValueError, match="`t` must be finite"):  # NaN picked the first saved time
        d.at(float("nan"))
    with pytest.raises(ValueError, match="`killing` array must hold a rate at each of the"):
        forward(SEED_OU, -0.5, 2.0, n_cells=200, n_steps=10, killing=np.ones(5))


def test_grid_that_leaves_the_state_space_is_rejected():
    with pytest.raises(ValueError, match="leaves the domain"):
        forward(CIR(2.0, 0.05, 0.2), 0.04, 1.0, domain=(-0.1, 0.3))


def test_no_mass_warning_at_the_process_own_boundary():
    # GBM lives on (0, ∞): mass near 0 is part of the answer, not a leak through a truncation.
    from gelav import GeometricBrownianMotion

    g = GeometricBrownianMotion(0.08, 0.35)
    with warnings.catch_warnings():
        warnings.simplefilter("error", MassLossWarning)
        d = forward(g, 1.0, 1.5, n_cells=400, n_steps=200)
    law = g.transition(1.0, 1.5)
    # issue 11: the default grid is logarithmic towards the natural end 0 (it was uniform from 0)
    assert 0.0 < d.grid.lower < law.ppf(5e-11)
    assert abs(float(d.cdf(0.5)) - law.cdf(0.5)) < 5e-4  # uniform grid: O(h²) with h = 0.04
