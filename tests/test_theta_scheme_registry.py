"""The time-scheme registry reaches optimal stopping and the mean-field game (θ-schemes), not only
forward/backward: a θ-scheme registered with one line works there, a non-θ scheme is refused by name."""

from __future__ import annotations

import numpy as np
import pytest

from gelav.fd.schemes import SCHEMES, ThetaScheme, get_theta_scheme, theta_schemes
from gelav.mfg import Numerics, solve
from gelav.mfg.engine import Problem
from gelav.mfg.scenarios import SCENARIOS
from gelav.processes import OrnsteinUhlenbeck
from gelav.stopping import optimal_stopping


class Implicit(ThetaScheme):
    """Backward Euler under another name (θ = 1, no damping): must give the 'euler' numbers exactly."""

    name = "implicit"
    order = 1
    theta = 1.0


class Theta06(ThetaScheme):
    name = "theta-0.6"
    order = 1
    theta = 0.6


class NotTheta(ThetaScheme):
    name = "not-theta"
    order = 2
    theta = None


@pytest.fixture
def registry(monkeypatch):
    for sch in (Implicit(), Theta06(), NotTheta()):
        monkeypatch.setitem(SCHEMES, sch.name, sch)


def test_theta_schemes_come_from_the_registry(registry):
    assert {"cn", "euler", "implicit", "theta-0.6"} <= set(theta_schemes())
    assert "not-theta" not in theta_schemes()
    with pytest.raises(ValueError, match=r"not a θ-scheme.*registered θ-schemes are 'cn', 'euler'"):
        get_theta_scheme("not-theta")
    with pytest.raises(ValueError, match="registered schemes are 'cn', 'euler'"):
        get_theta_scheme("rk4")


def test_optimal_stopping_takes_a_registered_theta_scheme(registry):
    proc = OrnsteinUhlenbeck(1.0, 0.0, 0.4)
    kw = dict(discount=0.05, domain=(-2.5, 2.5), n_cells=120, n_steps=40)
    a = optimal_stopping(proc, lambda x: np.maximum(0.2 - x, 0.0), 1.0, scheme="euler", **kw)
    b = optimal_stopping(proc, lambda x: np.maximum(0.2 - x, 0.0), 1.0, scheme="implicit", **kw)
    assert np.array_equal(a.values, b.values)
    c = optimal_stopping(proc, lambda x: np.maximum(0.2 - x, 0.0), 1.0, scheme="theta-0.6", **kw)
    # another θ: a different, first-order-close answer (not the same numbers, not far)
    assert 0 < np.max(np.abs(c.values - a.values)) < 5e-3
    with pytest.raises(ValueError, match="θ-scheme"):
        optimal_stopping(proc, lambda x: np.maximum(0.2 - x, 0.0), 1.0, scheme="not-theta", **kw)


def test_mfg_numerics_take_a_registered_theta_scheme(registry):
    model = SCENARIOS["crisis"].model
    a = solve(model, numerics=Numerics(n_cells=30, n_steps=30, scheme="euler"), no_feedback=False)
    b = solve(model, numerics=Numerics(n_cells=30, n_steps=30, scheme="implicit"), no_feedback=False)
    assert np.array_equal(a.price, b.price) and np.array_equal(a.value, b.value)
    pb = Problem(model, Numerics(n_cells=30, n_steps=30, scheme="theta-0.6"))
    assert np.allclose(pb.theta, 0.6)
    with pytest.raises(ValueError, match="not a θ-scheme"):
        Numerics(scheme="not-theta")
