"""Extending the core: a time scheme, a boundary condition and a process are each one class + one registry line.

Each is defined here, registered, and run through the solvers it concerns; the
answers are checked against closed forms and known orders.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from gelav import Grid, OrnsteinUhlenbeck, forward
from gelav.fd.boundaries import BOUNDARIES, Boundary
from gelav.fd.discretization import Discretization
from gelav.fd.grid import TimeGrid
from gelav.fd.linalg import Bands, factor
from gelav.fd.schemes import SCHEMES, TimeScheme
from gelav.mc.montecarlo import simulate
from gelav.pde.backward import backward
from gelav.processes import PROCESSES, Process


def _slope(n: list[int], err: list[float]) -> float:
    return float(-np.polyfit(np.log(n), np.log(err), 1)[0])


# -- (a) a time scheme: TR-BDF2 -------------------------------------------------------------
class TRBDF2(TimeScheme):
    r"""TR-BDF2 with :math:`\gamma = 2 - \sqrt2` (L-stable, order 2): a trapezoidal stage to
    :math:`\gamma\Delta t`, then BDF2; both stages solve with the same :math:`L = I - \tfrac{\gamma}{2}\Delta t A`."""

    name = "tr-bdf2"
    order = 2

    def operator(self, A: Bands, dt: float) -> _TRBDF2Step:
        return _TRBDF2Step(A, dt)


class _TRBDF2Step:
    """u0 = L^{-1}(a L^{-1}(R u1 + γΔt f) - b u1 + c f); forward is its exact transpose."""

    G = 2.0 - math.sqrt(2.0)

    def __init__(self, A: Bands, dt: float) -> None:
        c = 0.5 * self.G * dt
        self.dt, self.c = dt, c
        self.a = 1.0 / (self.G * (2.0 - self.G))
        self.b = (1.0 - self.G) ** 2 / (self.G * (2.0 - self.G))
        self.lu = factor(-c * A.sub[1:], 1.0 - c * A.diag, -c * A.sup[:-1])
        self.R = Bands(c * A.sub, 1.0 + c * A.diag, c * A.sup)

    def backward(self, u1: np.ndarray, source: np.ndarray | None = None) -> np.ndarray:
        r = self.R.matvec(u1)
        if source is not None:
            r = r + self.G * self.dt * source
        rhs = self.a * self.lu.solve(r) - self.b * u1
        if source is not None:
            rhs = rhs + self.c * source
        return self.lu.solve(rhs)

    def forward(self, p: np.ndarray) -> np.ndarray:
        q = self.lu.solve(p, transpose=True)
        return self.a * self.R.rmatvec(self.lu.solve(q, transpose=True)) - self.b * q

    def source_weights(self, p: np.ndarray) -> np.ndarray:
        q = self.lu.solve(p, transpose=True)
        return self.a * self.G * self.dt * self.lu.solve(q, transpose=True) + self.c * q


SCHEMES["tr-bdf2"] = TRBDF2()

OU = OrnsteinUhlenbeck(0.8, 0.5, 0.4)
GRID = Grid.uniform(-1.5, 2.5, 160)


def test_new_scheme_backward_is_second_order_in_time():
    ns = [5, 10, 20, 40]
    payoff = lambda x: np.cos(2.0 * x)  # noqa: E731 - smooth, so only the time error is measured
    ref = backward(OU, payoff, 1.0, grid=GRID, n_steps=4000, scheme="cn").value(0.3)
    errs = [abs(backward(OU, payoff, 1.0, grid=GRID, n_steps=n, scheme="tr-bdf2").value(0.3) - ref) for n in ns]
    assert abs(_slope(ns, errs) - TRBDF2.order) < 0.25, errs
    # a running reward goes through the source term; the constant solution u = f/r is kept exactly
    v = backward(OU, 2.0, 1.0, grid=GRID, n_steps=7, scheme="tr-bdf2", discount=0.5, running=1.0)
    np.testing.assert_allclose(v.values[0], 2.0, rtol=1e-12)


def test_new_scheme_forward_is_second_order_and_the_transpose():
    ns = [5, 10, 20, 40]
    init = stats.norm(0.3, 0.25)
    ref = forward(OU, init, 1.0, grid=GRID, n_steps=4000).mean()
    errs = [abs(forward(OU, init, 1.0, grid=GRID, n_steps=n, scheme="tr-bdf2").mean() - ref) for n in ns]
    assert abs(_slope(ns, errs) - TRBDF2.order) < 0.25, errs
    # duality to rounding: the forward step is the exact transpose of the backward one
    tg = TimeGrid.build(1.0, 9, scheme="tr-bdf2")
    assert tg.schemes is not None and set(tg.schemes) == {"tr-bdf2"}
    g = np.sin(GRID.nodes)
    d = forward(OU, init, 1.0, grid=GRID, time_grid=tg)
    v = backward(OU, lambda x: np.sin(x), 1.0, grid=GRID, time_grid=tg)
    assert abs(d.masses[0] @ v.values[0] - d.masses[-1] @ g) < 1e-13
    assert abs(d.masses[-1].sum() - 1.0) < 1e-13


def test_unknown_scheme_lists_the_registry():
    with pytest.raises(ValueError, match="registered schemes are 'cn', 'euler', 'expm', 'tr-bdf2'"):
        forward(OU, 0.3, 1.0, grid=GRID, scheme="rk4")


# -- (b) a boundary condition: an absorbing barrier that pays a rebate of 1 -----------------------------
class Rebate(Boundary):
    """Absorbing; the holder receives 1 when the side is hit."""

    absorbing = True

    def after_backward(self, u, index, t, x_b, payoff):
        u[index] = 1.0


BOUNDARIES["rebate"] = Rebate()

MU, SIG, B, T = 0.2, 0.5, 0.6, 1.0


def _hit_probability(x0: float) -> float:
    """P(max_{s<=T} X_s >= B) for X = x0 + MU s + SIG W (reflection principle)."""
    m, s = B - x0, SIG * math.sqrt(T)
    return float(stats.norm.cdf((-m + MU * T) / s) + math.exp(2 * MU * m / SIG**2) * stats.norm.cdf((-m - MU * T) / s))


def test_new_boundary_in_forward_and_backward_against_the_reflection_principle():
    from gelav import BrownianMotion

    bm = BrownianMotion(MU, SIG)
    exact = _hit_probability(0.0)
    errs_f, errs_b, ns = [], [], [100, 200, 400]
    for n in ns:
        grid = Grid.uniform(-3.0, B, n)
        d = forward(bm, 0.0, T, grid=grid, upper="rebate", lower="reflecting", n_steps=n)
        v = backward(bm, 0.0, T, grid=grid, upper="rebate", n_steps=n)
        errs_f.append(abs(d.absorbed_upper[-1] - exact))
        errs_b.append(abs(v.value(0.0) - exact))
        # the same chain both ways: absorbed mass = value of the rebate
        assert abs(d.absorbed_upper[-1] - v.value(0.0)) < 1e-12
    # first-passage probabilities converge at order 1 in h (Δt ∝ h) for the chain of the generator
    assert 0.8 < _slope(ns, errs_f) < 2.2, errs_f
    assert errs_f[-1] < 2e-3


# -- (c) a process with an exact (Gaussian) law ---------------------------------------------------
class LinearDrift(Process):
    r""":math:`dX = (\alpha + \beta t)\,dt + \sigma\,dW`: Gaussian, mean :math:`x + \alpha\tau + \beta(t^2-s^2)/2`,
    variance :math:`\sigma^2\tau` (time-dependent, so not a built-in family)."""

    def __init__(self, alpha: float, beta: float, sigma: float) -> None:
        self.alpha, self.beta, self.sigma = alpha, beta, sigma
        super().__init__(lambda t, x: np.full_like(x, alpha + beta * t), lambda t, x: np.full_like(x, sigma),
                         name="LinearDrift")

    @property
    def has_transition(self) -> bool:
        return True

    def normal_law(self, x0: float, t: float, s: float = 0.0) -> tuple[float, float]:
        tau = self._check_time(t, s)
        return x0 + self.alpha * tau + 0.5 * self.beta * (t * t - s * s), self.sigma * math.sqrt(tau)

    def transition(self, x0: float, t: float, s: float = 0.0):
        m, sd = self.normal_law(x0, t, s)
        return stats.norm(m, sd)

    def exact_step(self, dt: float):
        a, b, sq = self.alpha, self.beta, self.sigma * math.sqrt(dt)

        def step(t, x, z, rng):
            x += a * dt + 0.5 * b * ((t + dt) ** 2 - t * t) + sq * z
        return step


PROCESSES["linear-drift"] = LinearDrift

X0, HOR = 0.2, 1.5


def test_new_process_monte_carlo_exact_within_four_standard_errors():
    from gelav.processes import has_exact_step, make_process

    p = make_process("linear-drift", alpha=0.1, beta=-0.4, sigma=0.3)
    assert has_exact_step(p)
    law = p.transition(X0, HOR)
    paths = simulate(p, X0, HOR, 3, 20000, scheme="exact", seed=11)
    est = paths.mean()
    assert abs(est.value - law.mean()) < 4 * est.stderr
    below = paths.prob(below=0.0)
    assert abs(below.value - law.cdf(0.0)) < 4 * below.stderr


def test_new_process_forward_and_backward_second_order_against_the_exact_law():
    p = PROCESSES["linear-drift"](0.1, -0.4, 0.3)
    law = p.transition(X0, HOR)
    exact = float(law.moment(2))
    ns = [80, 160, 320]
    ef, eb = [], []
    for n in ns:
        d = forward(p, X0, HOR, domain=(-2.5, 2.5), n_cells=n, n_steps=n)
        v = backward(p, lambda x: x * x, HOR, domain=(-2.5, 2.5), x0=X0, n_cells=n, n_steps=n)
        ef.append(abs(float(d.masses[-1] @ d.grid.nodes**2) - exact))
        eb.append(abs(v.value(X0) - exact))
    assert abs(_slope(ns, ef) - 2.0) < 0.35, ef
    assert abs(_slope(ns, eb) - 2.0) < 0.35, eb


# -- the Discretization settings object --------------------------------------------------------
def test_discretization_object_gives_the_same_numbers_as_the_keywords():
    disc = Discretization(n_cells=120, n_steps=40, scheme="euler", domain=(-1.5, 2.5))
    a = forward(OU, 0.3, 1.0, discretization=disc)
    b = forward(OU, 0.3, 1.0, n_cells=120, n_steps=40, scheme="euler", domain=(-1.5, 2.5))
    np.testing.assert_array_equal(a.masses, b.masses)
    va = backward(OU, lambda x: x, 1.0, x0=0.3, discretization=disc)
    vb = backward(OU, lambda x: x, 1.0, x0=0.3, n_cells=120, n_steps=40, scheme="euler", domain=(-1.5, 2.5))
    np.testing.assert_array_equal(va.values, vb.values)
    with pytest.raises(TypeError, match="`n_steps` either as a keyword or in `discretization`"):
        forward(OU, 0.3, 1.0, n_steps=10, discretization=disc)
    with pytest.raises(ValueError, match="`n_cells`"):
        Discretization(n_cells=2)
    with pytest.raises(ValueError, match="Unknown `scheme`"):
        Discretization(scheme="leapfrog")
