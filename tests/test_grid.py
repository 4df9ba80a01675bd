"""Grids, time grids and the generator's construction."""

from __future__ import annotations

import numpy as np
import pytest

from gelav import (
    BrownianMotion,
    Generator,
    Grid,
    OrnsteinUhlenbeck,
    Process,
    TimeGrid,
    auto_domain,
    forward,
)


def test_uniform_grid_volumes_and_faces():
    g = Grid.uniform(-1.0, 3.0, 40)
    assert g.n_nodes == 41
    assert g.volumes.sum() == pytest.approx(4.0)
    assert g.volumes[0] == pytest.approx(0.05) and g.volumes[5] == pytest.approx(0.1)
    assert np.all(np.diff(g.faces) >= 0)


def test_stretched_grid_concentrates_nodes_and_keeps_ends():
    g = Grid.stretched(-2.0, 4.0, 100, center=-0.5, intensity=5.0)
    assert g.lower == -2.0 and g.upper == 4.0
    i = int(np.argmin(np.abs(g.nodes + 0.5)))
    assert g.spacing[min(i, g.spacing.size - 1)] < 0.5 * g.spacing.max()
    with pytest.raises(ValueError, match="`center` must lie strictly inside"):
        Grid.stretched(0, 1, 10, center=2.0)


def test_aligned_grid_has_the_node():
    g = Grid.aligned(-1.7, 2.4, 100, node=-0.5)
    assert np.min(np.abs(g.nodes + 0.5)) < 1e-12
    assert np.allclose(np.diff(g.nodes), g.spacing[0])


def test_point_mass_pairs_as_linear_interpolation():
    g = Grid.stretched(-1, 1, 30, center=0.1)
    u = np.sin(3 * g.nodes)
    for x0 in (-0.73, 0.1, 0.99):
        assert g.point_mass(x0) @ u == pytest.approx(np.interp(x0, g.nodes, u), rel=1e-14)
        assert g.point_mass(x0) @ g.nodes == pytest.approx(x0, rel=1e-14)


def test_bad_grids():
    with pytest.raises(ValueError, match="strictly increasing"):
        Grid(np.array([0.0, 1.0, 1.0, 2.0]))
    with pytest.raises(ValueError, match="at least 3"):
        Grid(np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match="finite"):
        Grid(np.array([0.0, np.nan, 1.0]))


def test_time_grid_hits_requested_times_and_damps_both_ends():
    tg = TimeGrid.build(2.0, 20, include=[0.37, 1.0])
    assert 0.37 in tg.times and 1.0 in tg.times
    assert tg.times[0] == 0.0 and tg.times[-1] == 2.0
    dt = np.diff(tg.times)
    # Rannacher: backward-Euler half steps at the start and at the end.
    assert np.all(tg.theta[:4] == 1.0) and np.all(tg.theta[-4:] == 1.0)
    assert dt[0] == pytest.approx(0.05) and dt[-1] == pytest.approx(0.05)
    assert np.all(tg.theta[5:-5] == 0.5)
    e = TimeGrid.build(1.0, 10, scheme="euler")
    assert np.all(e.theta == 1.0) and e.n_steps == 10
    with pytest.raises(ValueError, match="must lie in"):
        TimeGrid.build(1.0, 10, include=[1.5])


def test_fitted_flux_reproduces_constant_coefficient_steady_state_exactly():
    # For constant drift b and diffusion σ the zero-flux steady state on (0, 1) is
    # ∝ exp(2bx/σ²); Scharfetter–Gummel makes the chain's stationary law exact at the nodes
    # for any cell Péclet number.
    bm = BrownianMotion(mu=-3.0, sigma=0.5)
    g = Grid.uniform(0.0, 1.0, 12)
    Q = Generator(bm, g).matrix(0.0).toarray()
    w, v = np.linalg.eig(Q.T)
    p = np.real(v[:, np.argmin(np.abs(w))])
    dens = p / g.volumes
    exact = np.exp(2 * bm.mu * g.nodes / bm.sigma**2)
    assert np.allclose(dens / dens[0], exact / exact[0], rtol=1e-9)


def test_generator_killing_and_absorbing_rows():
    ou = OrnsteinUhlenbeck()
    g = Grid.uniform(-1, 3, 20)
    gen = Generator(ou, g, lower="absorbing", upper="dirichlet", killing=0.3)
    Q = gen.matrix(0.0).toarray()
    assert np.all(Q[0] == 0) and np.all(Q[-1, :-1] == 0)
    assert Q[5].sum() == pytest.approx(-0.3)
    with pytest.raises(ValueError, match="`killing` must be finite and >= 0"):
        Generator(ou, g, killing=-1.0)
    with pytest.raises(ValueError, match="Unknown boundary `upper`"):
        Generator(ou, g, upper="periodic")


def test_auto_domain_without_a_closed_form_law():
    # A general process: moment bounds from the linearised mean/variance ODEs.
    p = Process(lambda t, x: 0.45 * (1.0 - x), lambda t, x: 0.32 + 0 * x, time_homogeneous=True)
    lo, hi = auto_domain(p, -0.5, 2.0)
    exact = auto_domain(OrnsteinUhlenbeck(0.45, 1.0, 0.32), -0.5, 2.0)
    assert lo <= exact[0] and hi >= exact[1]
    d = forward(p, -0.5, 2.0, n_cells=600, n_steps=300)
    assert d.prob(below=-0.5) == pytest.approx(0.0019356487804036227, abs=1e-5)


def test_nonuniform_grid_keeps_second_order():
    ou = OrnsteinUhlenbeck(0.45, 1.0, 0.32)
    law = ou.transition(-0.5, 2.0)
    errs = []
    ns = [100, 200, 400]
    for n in ns:
        g = Grid.stretched(-1.8, 2.6, n, center=-0.5, intensity=3.0)
        d = forward(ou, -0.5, 2.0, grid=g, n_steps=400)
        errs.append(abs(d.prob(below=-0.5) - law.cdf(-0.5)))
    slope = np.polyfit(np.log(1 / np.array(ns)), np.log(errs), 1)[0]
    assert slope == pytest.approx(2.0, abs=0.25)
