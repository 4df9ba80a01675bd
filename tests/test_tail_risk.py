"""Density.value_at_risk / expected_shortfall against the exact OU (Gaussian) and CIR (non-central χ²) laws."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate, stats

from gelav import CIR, OrnsteinUhlenbeck, forward

OU = OrnsteinUhlenbeck(kappa=0.45, mean=1.0, sigma=0.32)
CIR_P = CIR(kappa=2.0, mean=0.05, sigma=0.2)


def slope(ns, errs):
    return float(np.polyfit(np.log(1.0 / np.asarray(ns)), np.log(np.abs(errs)), 1)[0])


def gaussian_tail(m, s, level, side):
    z = stats.norm.ppf(level)
    if side == "lower":
        return m - s * z, m - s * stats.norm.pdf(z) / (1 - level)
    return m + s * z, m + s * stats.norm.pdf(z) / (1 - level)


def law_tail(law, level, lo, hi):
    """Exact lower VaR and ES of a SciPy law by quadrature (relative tolerance 1e-13)."""
    v = float(law.ppf(1 - level))
    es = integrate.quad(lambda x: x * law.pdf(x), lo, v, epsabs=0, epsrel=1e-13, limit=200)[0] / (1 - level)
    return v, es


@pytest.mark.parametrize("side", ["lower", "upper"])
@pytest.mark.parametrize("level", [0.95, 0.99])
def test_ou_var_es_second_order(level, side):
    law = OU.transition(-0.5, 2.0)
    exact_var, exact_es = gaussian_tail(law.mean(), law.std(), level, side)
    ns = [100, 200, 400, 800]
    ev, ee = [], []
    for n in ns:
        d = forward(OU, -0.5, 2.0, domain=(-1.8, 2.6), n_cells=n, n_steps=600)
        ev.append(d.value_at_risk(level, side=side) - exact_var)
        ee.append(d.expected_shortfall(level, side=side) - exact_es)
    # the VaR's interpolation error h²F''/8-type constant depends on where the quantile falls in
    # its cell, so its slope scatters more than the ES's (an integral, which averages it out)
    assert slope(ns, ev) == pytest.approx(2.0, abs=0.3)
    assert slope(ns, ee) == pytest.approx(2.0, abs=0.15)
    assert abs(ee[-1]) < 1e-4 and abs(ev[-1]) < 1e-4
    # ES lies beyond VaR on the stress side
    d400 = d
    v, e = d400.value_at_risk(level, side=side), d400.expected_shortfall(level, side=side)
    assert (e < v) if side == "lower" else (e > v)


def test_cir_var_es_second_order_against_noncentral_chi2():
    law = CIR_P.transition(0.04, 1.0)
    exact_var, exact_es = law_tail(law, 0.99, 0.0, 0.25)
    ns = [100, 200, 400]
    ev, ee = [], []
    for n in ns:
        d = forward(CIR_P, 0.04, 1.0, domain=(0.0, 0.25), lower="reflecting", n_cells=n, n_steps=n)
        ev.append(d.value_at_risk(0.99) - exact_var)
        ee.append(d.expected_shortfall(0.99) - exact_es)
    assert slope(ns, ev) == pytest.approx(2.0, abs=0.1)
    assert slope(ns, ee) == pytest.approx(2.0, abs=0.1)
    assert abs(ee[-1]) < 2e-5


def test_tail_risk_table_and_consistency():
    d = forward(OU, -0.5, 2.0, n_cells=400, n_steps=200)
    tab = d.tail_risk((0.9, 0.99))
    assert set(tab) == {0.9, 0.99}
    assert tab[0.99]["var"] < tab[0.9]["var"]
    assert tab[0.99]["var"] == d.value_at_risk(0.99)
    # VaR is the quantile; P(L <= VaR) equals the tail mass (of the surviving law)
    assert d.prob(below=d.value_at_risk(0.99)) / d.mass() == pytest.approx(0.01, abs=1e-12)
    # ES at a level → 0 tends to the mean
    assert d.expected_shortfall(1e-9) == pytest.approx(d.mean(), abs=2e-3)


@pytest.mark.parametrize(("kw", "exc", "match"), [
    ({"level": 1.0}, ValueError, "`level`"),
    ({"level": 0.0}, ValueError, "`level`"),
    ({"level": math.nan}, ValueError, "`level`"),
    ({"level": True}, TypeError, "`level`"),
    ({"level": "0.9"}, TypeError, "`level`"),
    ({"level": 0.9, "side": "left"}, ValueError, "`side`"),
])
def test_bad_arguments(kw, exc, match):
    d = forward(OU, -0.5, 1.0, n_cells=100, n_steps=20)
    with pytest.raises(exc, match=match):
        d.value_at_risk(**kw)
    with pytest.raises(exc, match=match):
        d.expected_shortfall(**kw)
