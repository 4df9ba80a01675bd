"""Monte Carlo's fast Euler / Milstein steps come from a process capability (``euler_step``,
``milstein_step``), not from a switch on the built-in families."""

from __future__ import annotations

import math

import numpy as np

from gelav import Process, simulate
from gelav.processes import OrnsteinUhlenbeck


class LinearDrift(Process):
    """dX = -a X dt + s dW with its own fused Euler step (a capability, one method)."""

    def __init__(self, a: float, s: float) -> None:
        self.a, self.s = a, s
        super().__init__(lambda t, x: -a * x, lambda t, x: s + 0.0 * x, time_homogeneous=True)
        self.calls = 0

    def euler_step(self, dt):
        self.calls += 1
        f, sd = 1.0 - self.a * dt, self.s * math.sqrt(dt)

        def step(t, x, z, rng):
            z *= sd
            x *= f
            x += z
        return step


def test_simulate_uses_the_processes_euler_step():
    p = LinearDrift(0.45, 0.32)
    fast = simulate(p, 1.0, 1.0, 40, 4000, scheme="euler", seed=5)
    assert p.calls >= 1
    generic = simulate(Process(p.drift, p.diffusion, time_homogeneous=True), 1.0, 1.0, 40, 4000, scheme="euler",
                       seed=5)
    # the same scheme: equal to rounding
    assert np.max(np.abs(np.asarray(fast.values) - np.asarray(generic.values))) < 1e-12


def test_a_subclass_with_other_coefficients_does_not_inherit_the_fast_step():
    class Faster(OrnsteinUhlenbeck):
        def drift(self, t, x):
            return 2.0 * super().drift(t, x)

    p = Faster(0.45, 1.0, 0.32)
    assert p.euler_step(0.01) is None and p.milstein_step(0.01) is None
    ref = OrnsteinUhlenbeck(0.9, 1.0, 0.32)  # the same dynamics
    a = simulate(p, -0.5, 1.0, 50, 4000, scheme="euler", seed=2)
    b = simulate(ref, -0.5, 1.0, 50, 4000, scheme="euler", seed=2)
    assert np.max(np.abs(np.asarray(a.values) - np.asarray(b.values))) < 1e-12
