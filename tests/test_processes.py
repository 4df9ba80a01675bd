"""Processes: exact laws against independent formulas, stationary laws, bad inputs."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate, stats

from gelav import (
    CIR,
    BrownianMotion,
    FellerConditionWarning,
    GeometricBrownianMotion,
    OrnsteinUhlenbeck,
    Process,
)


def test_seed000_stress_probability_closed_form():
    # Seed 000: mean 1 - 1.5 e^{-0.9}, variance 0.32²/0.9 (1 - e^{-1.8}); Φ(-2.89) ≈ 0.19 %.
    ou = OrnsteinUhlenbeck(kappa=0.45, mean=1.0, sigma=0.32)
    m = 1.0 - 1.5 * math.exp(-0.9)
    v = 0.32**2 / 0.9 * (1 - math.exp(-1.8))
    assert ou.conditional_mean(-0.5, 2.0) == pytest.approx(m, rel=1e-15)
    assert ou.conditional_var(-0.5, 2.0) == pytest.approx(v, rel=1e-14)
    p = ou.transition(-0.5, 2.0).cdf(-0.5)
    assert p == pytest.approx(stats.norm.cdf((-0.5 - m) / math.sqrt(v)), rel=1e-13)
    assert p == pytest.approx(0.0019356, abs=1e-7)


def test_ou_transition_is_time_homogeneous_and_markov():
    # Chapman–Kolmogorov for the mean and variance: going s -> u -> t equals s -> t.
    ou = OrnsteinUhlenbeck(1.3, -0.2, 0.7)
    m1 = ou.conditional_mean(0.4, 0.5)
    m2 = ou.conditional_mean(m1, 1.2, 0.5)
    assert m2 == pytest.approx(ou.conditional_mean(0.4, 1.2), rel=1e-14)
    v = ou.conditional_var(0.0, 0.7) * math.exp(-2 * 1.3 * 0.5) + ou.conditional_var(0.0, 0.5)
    assert v == pytest.approx(ou.conditional_var(0.0, 1.2), rel=1e-13)


def test_ou_stationary_law():
    ou = OrnsteinUhlenbeck(0.45, 1.0, 0.32)
    st = ou.stationary()
    assert st.mean() == pytest.approx(1.0)
    assert st.var() == pytest.approx(0.32**2 / 0.9)
    far = ou.transition(-3.0, 200.0)
    assert far.std() == pytest.approx(st.std(), rel=1e-12)
    assert ou.half_life == pytest.approx(math.log(2) / 0.45)


def test_light_normal_laws_are_the_scipy_laws_to_the_last_bit():
    # what the report's model section and the stress figure use instead of scipy.stats (start-up cost)
    from gelav import BrownianMotion
    from gelav.processes.laws import Normal

    x = np.linspace(-3.0, 4.0, 701)
    for kappa, mean, sigma in ((0.45, 1.0, 0.32), (2.5, -0.3, 1.7), (0.01, 0.0, 0.05)):
        ou = OrnsteinUhlenbeck(kappa, mean, sigma)
        light, ref = ou.stationary_normal(), ou.stationary()
        assert (light.mean(), light.std(), light.var()) == (ref.mean(), ref.std(), ref.var())
        assert np.array_equal(light.pdf(x), ref.pdf(x)) and np.array_equal(light.cdf(x), ref.cdf(x))
    for proc in (OrnsteinUhlenbeck(0.45, 1.0, 0.32), BrownianMotion(0.1, 0.4)):
        for x0, t in ((-0.5, 2.0), (1.0, 0.25)):
            assert np.array_equal(Normal(*proc.normal_law(x0, t)).pdf(x), proc.transition(x0, t).pdf(x))


def test_gbm_moments_match_lognormal_integrals():
    g = GeometricBrownianMotion(mu=0.5, sigma=1.0)  # seed 002: Y = e^X, X standard BM
    law = g.transition(0.3, 1.0)
    mean_num = integrate.quad(lambda y: y * law.pdf(y), 0, np.inf)[0]
    assert mean_num == pytest.approx(0.3 * math.exp(0.5), rel=1e-8)
    assert g.conditional_mean(0.3, 1.0) == pytest.approx(0.3 * math.exp(0.5))
    assert law.var() == pytest.approx(g.conditional_var(0.3, 1.0), rel=1e-10)


def test_cir_transition_is_scaled_noncentral_chi2_and_moments():
    c = CIR(kappa=1.2, mean=0.05, sigma=0.2)
    law = c.transition(0.03, 0.75)
    # Moments of the χ² law against the closed-form CIR moments.
    assert law.mean() == pytest.approx(c.conditional_mean(0.03, 0.75), rel=1e-12)
    assert law.var() == pytest.approx(c.conditional_var(0.03, 0.75), rel=1e-10)
    st = c.stationary()
    assert st.mean() == pytest.approx(0.05)
    assert st.var() == pytest.approx(0.05 * 0.2**2 / (2 * 1.2))


def test_cir_feller_warning():
    with pytest.warns(FellerConditionWarning, match="Feller"):
        c = CIR(kappa=0.1, mean=0.02, sigma=0.5)
    assert not c.feller


def test_brownian_law():
    b = BrownianMotion(mu=0.3, sigma=2.0)
    law = b.transition(1.0, 2.0, s=0.5)
    assert law.mean() == pytest.approx(1.0 + 0.3 * 1.5)
    assert law.var() == pytest.approx(4.0 * 1.5)


def test_general_process_coefficients_broadcast():
    p = Process(lambda t, x: -x, lambda t, x: 0.5, time_homogeneous=True)
    x = np.linspace(-1, 1, 5)
    assert np.allclose(p.drift(0.0, x), -x)
    assert np.allclose(p.diffusion(0.0, x), 0.5)
    assert np.allclose(p.variance_rate(0.0, x), 0.25)
    assert np.allclose(p.diffusion_derivative(0.0, x), 0.0)
    assert not p.has_transition
    with pytest.raises(NotImplementedError, match="no closed-form"):
        p.transition(0.0, 1.0)


@pytest.mark.parametrize(
    ("factory", "match"),
    [
        (lambda: OrnsteinUhlenbeck(0.45, 1.0, 0.0), "`sigma` must be > 0"),
        (lambda: OrnsteinUhlenbeck(0.45, 1.0, -0.3), "`sigma` must be > 0"),
        (lambda: OrnsteinUhlenbeck(float("nan"), 1.0, 0.3), "`kappa` must be finite"),
        (lambda: OrnsteinUhlenbeck(0.45, float("inf"), 0.3), "`mean` must be finite"),
        (lambda: OrnsteinUhlenbeck(-1.0, 1.0, 0.3), "`kappa` must be > 0"),
        (lambda: BrownianMotion(0.0, 0.0), "`sigma` must be > 0"),
        (lambda: GeometricBrownianMotion(0.1, -1.0), "`sigma` must be > 0"),
        (lambda: CIR(1.0, -0.1, 0.2), "`mean` must be > 0"),
        (lambda: CIR(1.0, 0.1, "a"), "`sigma` must be a real number"),
        (lambda: Process(1.0, lambda t, x: x), "`drift` must be callable"),
        (lambda: Process(lambda t, x: x, lambda t, x: x, domain=(1.0, 0.0)), "`domain`"),
    ],
)
def test_bad_parameters_raise(factory, match):
    with pytest.raises((ValueError, TypeError), match=match):
        factory()


def test_bad_states_and_times():
    g = GeometricBrownianMotion(0.1, 0.2)
    with pytest.raises(ValueError, match="`x0` must be > 0"):
        g.transition(-1.0, 1.0)
    ou = OrnsteinUhlenbeck()
    with pytest.raises(ValueError, match="`t` must be >= `s`"):
        ou.transition(0.0, 1.0, s=2.0)
    with pytest.raises(ValueError, match="`x0` must be finite"):
        ou.transition(float("nan"), 1.0)
