"""δU/δm by the linearised forward–backward system (issue 14 item 1): tangent against full equilibria."""

from __future__ import annotations

import warnings
from dataclasses import replace

import numpy as np
import pytest

from gelav.mfg import Buyers, LPType, Market, MFGModel, Numerics, sensitivity, solve
from gelav.mfg.linear_response import tangent_response
from gelav.mfg.tangent import Tangent

NUM = Numerics(n_cells=30, n_steps=30, domain=(-4.0, 3.5))
START = [("normal", -1.0, 0.5)]
MODELS = {
    "default": MFGModel((LPType(),), Market()),
    # population-dependent dynamics: the generator moves with the crowd (δQ enters both sweeps)
    "herding+feedback": MFGModel((LPType(herding=0.3, feedback=0.2),), Market()),
    # a nonlinear price: the buyers' clearing premium
    "buyers": MFGModel((LPType(),), Market(buyers=Buyers(capital=0.3, demand=0.02))),
}


def _eq(name: str):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return solve(MODELS[name].with_initial(START), numerics=NUM, no_feedback=False)


def _directions(eq) -> np.ndarray:
    m0 = eq.density[0, 0]
    x = eq.grid.nodes
    return 0.2 * np.stack([m0 * (x - (m0 * x).sum()), m0 * np.sin(x), m0 * np.cos(2 * x)])


def test_jvp_is_the_derivative_of_the_fixed_point_map() -> None:
    """∂Φ/∂Z·δZ against centred differences of Φ itself: the gap shrinks ≈ 4× per halving of h."""
    eq = _eq("herding+feedback")
    tan = Tangent(eq)
    pb = tan.pb
    t = pb.t_mid
    dZ = np.stack([0.05 * np.sin(t), 0.02 * np.cos(t), 0.1 * np.ones_like(t), 0.03 * t / t[-1]])
    jv = tan.jvp(dZ[:, :, None])[:, :, 0]
    gaps = []
    for h in (2e-2, 1e-2):
        zp = pb.phi(tan.Z + h * dZ, tan.eps, tan.delta)[0]
        zm = pb.phi(tan.Z - h * dZ, tan.eps, tan.delta)[0]
        gaps.append(float(np.abs((zp - zm) / (2 * h) - jv).max()))
    assert 3.5 < gaps[0] / gaps[1] < 4.5, gaps
    assert gaps[1] < 1e-4 * np.abs(jv).max()


@pytest.mark.parametrize("name", list(MODELS))
def test_tangent_matches_full_equilibria_at_second_order(name: str) -> None:
    """dU[ρ] by the tangent vs centred differences of full equilibria, over several directions.

    The gap is the finite-difference error: within 1.5× its Richardson estimate, and it shrinks
    by 4 (3.5–4.5) when the step h halves (the same for the price path and the exits).
    """
    eq = _eq(name)
    # 3 directions, 2 for the others
    dirs = _directions(eq) if name == "default" else _directions(eq)[::2]
    tan = sensitivity(eq, dirs)
    assert tan.diagnostics["method"] == "tangent" and tan.diagnostics["linear_solver"] == "gmres"
    assert np.all(tan.error < 1e-12)
    gaps, price_gaps, exit_gaps = [], [], []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for h in (0.2, 0.1):
            fd = sensitivity(eq, dirs, step=h, method="fd")
            gap = np.abs(fd.value - tan.value).max(axis=1)
            assert np.all(gap <= 1.5 * fd.error + 1e-13), (gap, fd.error)
            gaps.append(gap)
            price_gaps.append(np.abs(fd.price - tan.price).max())
            exit_gaps.append(np.abs(fd.exits - tan.exits).max())
    ratio = gaps[0] / gaps[1]
    assert np.all((ratio > 3.5) & (ratio < 4.5)), ratio
    for g in (price_gaps, exit_gaps):
        if name == "herding+feedback":
            # few exits (1 %): the price path and exits see nodes crossing the C¹ kink of φ at the
            # exit boundary, and the difference quotient's error is irregular (ratios 1.4-13 measured)
            assert g[1] < 0.75 * g[0], g
        else:
            assert 3.5 < g[0] / g[1] < 4.5, g


def test_flat_derivative_dense_equals_gmres_and_zero_mean() -> None:
    """All nodes at once (dense route) equals per-direction GMRES; Σ m0 δU/δm = 0; exact linearity."""
    eq = _eq("default")
    full = sensitivity(eq)  # every node: the dense route
    assert full.diagnostics["linear_solver"] == "dense"
    m0 = eq.density[0, 0]
    assert np.abs(m0 @ full.value).max() < 1e-13
    some = [3, int(np.argmax(m0)), 25]
    out, diag = tangent_response(eq, full.directions[some].T, linear_solver="gmres")
    assert diag["linear_solver"] == "gmres"
    np.testing.assert_allclose(out["V"][0].T, full.value[some], atol=1e-13)
    dirs = _directions(eq)
    s = sensitivity(eq, dirs)
    comb = sensitivity(eq, [2 * dirs[0] - dirs[1]])
    np.testing.assert_allclose(comb.value[0], 2 * s.value[0] - s.value[1], atol=1e-13)
    # a direction is a combination of the node rows: dU[ρ] = Σ_j ρ_j δU/δm(y_j)
    np.testing.assert_allclose(s.value, s.directions @ full.value, atol=1e-13)


def test_tangent_errors() -> None:
    eq = _eq("default")
    with pytest.raises(ValueError, match="`method`"):
        sensitivity(eq, method="adjoint-free")
    with pytest.raises(ValueError, match="`linear_solver`"):
        tangent_response(eq, np.zeros((eq.grid.n_nodes, 1)), linear_solver="lu")
    with pytest.raises(ValueError, match="`directions`"):
        sensitivity(eq, np.ones((2, 3)))
    lagged = solve(
        MODELS["default"].with_initial(START),
        numerics=replace(NUM, control="lagged"),
        no_feedback=False,
    )
    with pytest.raises(ValueError, match="method='fd'"):
        sensitivity(lagged)
    assert sensitivity(lagged, _directions(lagged)[:1], method="fd").diagnostics["method"] == "fd"


def test_sweep_from_another_laws_best_response_is_the_map_bit_for_bit() -> None:
    """The best response to a path does not depend on the starting law: Φ of one law at a path,
    from another law's best response to that path, is its own Φ there (master-field chains)."""
    from gelav.mfg import SolverOptions
    from gelav.mfg.engine import Problem
    from gelav.mfg.fixed_point import Evaluator

    model = MODELS["herding+feedback"]
    eq = _eq("herding+feedback")
    pa = Problem(model.with_initial(START), NUM, grid=eq.grid, time_grid=eq.time_grid)
    pb = Problem(model.with_initial(("normal", -1.4, 0.4)), NUM, grid=eq.grid, time_grid=eq.time_grid)
    eps, delta = NUM.epsilon, NUM.delta
    ev = Evaluator(pb, SolverOptions(), [], None, "x")
    ev.set_relaxation(eps)
    image = ev.sweep(eq.path, pa.backward(eq.path, eps, delta), "sweep")
    np.testing.assert_array_equal(image, pb.phi(eq.path, eps, delta)[0])
    assert (ev.n_sweep, ev.n_eval) == (1, 0) and ev.history[-1]["sweep"]
    assert ev.residual == pytest.approx(float(np.abs(image - eq.path).max()), abs=0)


@pytest.mark.parametrize("name", ["default", "herding+feedback"])
def test_newton_with_the_exact_tangent_converges_quadratically(name: str) -> None:
    """Newton on Φ(Z) = Z for a neighbouring law, from the first law's path: the same fixed point
    as Anderson (to 1e-11), in at most 8 evaluations (measured 6 and 5; Anderson from the calm
    start: 13 and 29), and the observed order of convergence reaches 2."""
    from gelav.mfg import SolverOptions
    from gelav.mfg.engine import Problem
    from gelav.mfg.fixed_point import Evaluator
    from gelav.mfg.tangent import newton

    num = replace(NUM, n_cells=80, n_steps=80)
    model = MODELS[name]
    a = solve(model.with_initial(START), numerics=num, no_feedback=False)
    law = model.with_initial(("normal", -1.3, 0.5))
    pb = Problem(law, num, grid=a.grid, time_grid=a.time_grid)
    ev = Evaluator(pb, SolverOptions(), [], None, "x")
    ev.set_relaxation(num.epsilon)
    Z, products, ok = newton(ev, a.path, 1e-12)
    assert ok and products > 0 and ev.n_eval <= 8
    b = solve(law, numerics=num, grid=a.grid, time_grid=a.time_grid, no_feedback=False, tol=1e-12)
    np.testing.assert_allclose(Z, b.path, atol=1e-11)
    r = np.array([h["residual"] for h in ev.history])
    ok_r = r > 1e-10  # above the inner solves' rounding
    orders = [np.log(r[i + 1] / r[i]) / np.log(r[i] / r[i - 1]) for i in range(1, r.size - 1)
              if ok_r[i + 1] and r[i] < r[i - 1]]
    # measured 1.9 (default) and 3.0 (herding + feedback)
    assert max(orders) > 1.8, (r, orders)
