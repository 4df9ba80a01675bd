"""Issue 11, class 3: positivity of the forward solver as an invariant.

Crank–Nicolson on strongly stretched grids with killing or absorbing ends can
return negative masses; the forward solver takes such a step again as two
backward-Euler half steps (gelav.fd.step_control.positive_forward_step) and
records it. Checked on seeded random models (OU/CIR/GBM/BM): no negative mass,
the mass ledger (inside + absorbed + killed) closed to 1e-10, duality with the
backward solver on the steps actually taken, second order in time kept.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import warnings
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from gelav import CIR, BrownianMotion, GeometricBrownianMotion, Grid, OrnsteinUhlenbeck, forward
from gelav.backward import backward, duality_gap

N_MODELS = 120


def random_model(seed: int) -> dict:
    """A random OU/CIR/GBM/BM run on a stretched grid with random killing and ends."""
    rng = np.random.default_rng(seed)
    kind = ("ou", "cir", "gbm", "bm")[seed % 4]
    if kind == "ou":
        proc = OrnsteinUhlenbeck(rng.uniform(0.1, 3), rng.uniform(-1, 1), rng.uniform(0.1, 1.5))
        lo, hi, x0 = -4.0, 4.0, rng.uniform(-1, 1)
    elif kind == "bm":
        proc = BrownianMotion(rng.uniform(-1, 1), rng.uniform(0.1, 1.5))
        lo, hi, x0 = -4.0, 4.0, rng.uniform(-1, 1)
    elif kind == "gbm":
        proc = GeometricBrownianMotion(rng.uniform(-0.5, 0.5), rng.uniform(0.1, 1.0))
        lo, hi, x0 = 0.05, 5.0, rng.uniform(0.5, 2)
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Feller may fail: not the subject here
            proc = CIR(rng.uniform(0.2, 3), rng.uniform(0.05, 1), rng.uniform(0.1, 0.8))
        lo, hi, x0 = 0.01, 3.0, rng.uniform(0.1, 1)
    grid = Grid.stretched(
        lo, hi, int(rng.integers(20, 120)), center=x0, intensity=float(rng.uniform(1, 30))
    )
    killing = None
    if rng.random() < 0.6:
        c = float(rng.uniform(0, 5))
        killing = (lambda t, x, c=c, x0=x0: c * (x - x0) ** 2) if rng.random() < 0.5 else c
    return {
        "process": proc,
        "x0": float(x0),
        "horizon": float(rng.uniform(0.1, 3)),
        "grid": grid,
        "n_steps": int(rng.integers(4, 60)),
        "killing": killing,
        "lower": ("reflecting", "absorbing")[int(rng.integers(2))],
        "upper": ("reflecting", "absorbing")[int(rng.integers(2))],
    }


def run(m: dict):
    with warnings.catch_warnings():
        warnings.simplefilter(
            "ignore"
        )  # narrow laws on coarse grids warn; the invariants must hold anyway
        return forward(
            m["process"],
            m["x0"],
            m["horizon"],
            grid=m["grid"],
            n_steps=m["n_steps"],
            killing=m["killing"],
            lower=m["lower"],
            upper=m["upper"],
        )


def test_random_models_never_carry_negative_mass_and_close_the_ledger():
    fired = 0
    for seed in range(N_MODELS):
        m = random_model(seed)
        d = run(m)
        density = d.masses / d.grid.volumes
        assert density.min() >= -1e-14, (seed, density.min())
        ledger = d.masses.sum(axis=1) + d.absorbed_lower + d.absorbed_upper + d.killed
        assert np.abs(ledger - 1.0).max() < 1e-10, seed
        assert np.all(np.diff(d.absorbed_lower) >= -1e-15) and np.all(
            np.diff(d.absorbed_upper) >= -1e-15
        )
        if m["killing"] is not None:
            assert np.all(np.diff(d.killed) >= -1e-15)
        rec = d.diagnostics.get("positivity")
        if rec is not None:
            fired += 1
            assert rec["steps_replaced"] >= 1
            assert d.time_grid.n_steps == d.diagnostics["n_steps"] + rec["steps_replaced"]
    # the class is real: plain Crank–Nicolson goes negative on some of these models
    assert fired >= 5
    page = (Path(__file__).resolve().parent.parent / "docs" / "validation.md").read_text(
        encoding="utf-8"
    )
    assert (
        f"({fired} of the {N_MODELS} random OU/CIR/GBM/BM models" in page
    )  # the number the docs quote


def test_ordinary_runs_are_untouched():
    """No negative mass, no replaced step: the steps (and so the numbers) are those of the grid."""
    d = forward(OrnsteinUhlenbeck(0.45, 1.0, 0.32), -0.5, 2.0)
    assert "positivity" not in d.diagnostics
    assert d.time_grid.n_steps == d.diagnostics["n_steps"]


def fired_models(count: int) -> list[tuple[dict, object]]:
    out = []
    for seed in range(N_MODELS):
        m = random_model(seed)
        d = run(m)
        if "positivity" in d.diagnostics:
            out.append((m, d))
            if len(out) == count:
                break
    return out


def test_duality_holds_on_the_steps_taken():
    """p0·u0 = p_T·g + absorbed·φ to rounding when the backward solver walks ``density.time_grid``."""
    cases = fired_models(4)
    assert len(cases) == 4
    for m, d0 in cases:
        check_duality(m, d0)


def check_duality(m: dict, d0) -> None:
    tg = d0.time_grid
    lower = "knockout" if m["lower"] == "absorbing" else "reflecting"
    upper = 1.0 if m["upper"] == "absorbing" else "reflecting"
    v = backward(
        m["process"],
        lambda x: np.sin(x),
        m["horizon"],
        grid=m["grid"],
        time_grid=tg,
        times=tg.times,
        discount=m["killing"],
        lower=lower,
        upper=upper,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        d = forward(
            m["process"],
            m["x0"],
            m["horizon"],
            grid=m["grid"],
            time_grid=tg,
            times=tg.times,
            killing=m["killing"],
            lower=m["lower"],
            upper=m["upper"],
        )
    assert "positivity" not in d.diagnostics  # the implicit half steps are already in tg
    gap = duality_gap(v, d, m["x0"])
    assert abs(gap["gap"]) < 1e-12, gap


def test_second_order_in_time_is_kept_when_the_check_fires():
    """A smooth start on a strongly stretched grid, absorbing end, killing, no Rannacher start:
    the check replaces steps on the coarse time grids; the observed order stays 2."""
    proc = OrnsteinUhlenbeck(1.0, 0.0, 0.5)
    grid = Grid.stretched(-2.0, 2.0, 200, center=0.5, intensity=100.0)
    probs, fired = [], []
    for m in (10, 20, 40, 80, 160):
        d = forward(
            proc,
            stats.norm(0.5, 0.02),
            1.0,
            grid=grid,
            n_steps=m,
            upper="absorbing",
            killing=2.0,
            damping_steps=0,
        )
        assert (d.masses / grid.volumes).min() >= -1e-14
        probs.append(d.prob(below=0.0))
        fired.append(d.diagnostics.get("positivity", {}).get("steps_replaced", 0))
    assert fired[0] >= 1  # the check did fire (else this test shows nothing)
    diffs = np.abs(np.diff(probs))
    orders = np.log2(diffs[:-1] / diffs[1:])
    assert np.all((orders > 1.85) & (orders < 2.2)), orders


# -- the mean-field game -------------------------------------------------------------------------
# Its forward step is the exact transpose of the best response's step, so a step is not re-taken in
# the forward sweep alone: an offending step is taken as backward Euler (θ = 1) in both sweeps and the
# fixed point solved again (gelav.mfg.solver._iterate_positive; eq.time_grid.theta records it).
MFG_GAMES = 30


def _relative_min(eq) -> float:
    """Lowest holder mass relative to the largest of its time level."""
    P = np.asarray(eq.density)
    return float((P / np.abs(P).max(axis=(0, 2))[None, :, None]).min())


def _undamped(model, numerics, options=None):
    """The fixed point on the plain Crank–Nicolson steps (what solve did before issue 11's fix)."""
    from gelav.mfg import SolverOptions
    from gelav.mfg.engine import Problem
    from gelav.mfg.solver import _iterate

    pb = Problem(model, numerics)
    _, ev, _ = _iterate(pb, pb.zero_path(), options or SolverOptions(), [], None, "calm")
    P = ev.last.forward.P
    return pb, ev, float((P / np.abs(P).max(axis=(1, 2))[:, None, None]).min())


def _check_positive_equilibrium(eq, tg_default) -> None:
    from gelav.mfg.engine import NEGATIVE_MASS_TOLERANCE

    assert _relative_min(eq) >= -NEGATIVE_MASS_TOLERANCE
    d = eq.diagnostics
    assert d["mass_balance_error"] < 1e-12 and d["duality_error"] < 1e-12
    tg = eq.time_grid
    np.testing.assert_array_equal(tg.times, tg_default.times)  # the same times: the same path shapes
    rec = d.get("positivity")
    changed = np.flatnonzero(tg.theta != tg_default.theta)
    if rec is None:
        assert tg is tg_default or not changed.size
    else:
        assert rec["steps"] == changed.tolist() and np.all(tg.theta[changed] == 1.0)
        assert rec["steps_damped"] == len(rec["steps"]) >= 1 and rec["rounds"] >= 1


def test_mfg_takes_negative_crank_nicolson_steps_as_backward_euler():
    # the class is real: the crisis preset on 40 cells x 10 steps went down to -0.0026 (an AccuracyWarning)
    from gelav.errors import AccuracyWarning
    from gelav.mfg import solve
    from gelav.mfg.engine import Problem
    from gelav.mfg.io import load_scenario

    sc = load_scenario("crisis")
    coarse = dataclasses.replace(sc.numerics, n_cells=40, n_steps=10)
    pb, ev, low = _undamped(sc.model, coarse, sc.options)
    assert low < -1e-3
    with warnings.catch_warnings():
        warnings.simplefilter("error", AccuracyWarning)  # nothing left to warn about
        eq = solve(sc.model, numerics=coarse, options=sc.options)
        e = solve(sc.model, numerics=dataclasses.replace(coarse, scheme="euler"), options=sc.options)
    _check_positive_equilibrium(eq, pb.tg)
    rec = eq.diagnostics["positivity"]
    assert eq.converged and eq.residual < sc.options.tol
    assert any("backward Euler" in n for n in eq.diagnostics["notes"])
    # the equilibrium of the steps taken: a problem on eq.time_grid (as tangent, welfare, the
    # planner and the N-player game build it) maps the path to itself, to the fixed-point tolerance
    pd = Problem(eq.model, eq.numerics, grid=eq.grid, time_grid=eq.time_grid)
    Zn, bw, fw = pd.phi(eq.path, eq.numerics.epsilon, eq.numerics.delta)
    assert np.max(np.abs(Zn - eq.path)) < 1e-6  # the inner Newton tolerance (1e-7) of an unwarmed evaluation
    assert np.max(np.abs(pb.phi(eq.path, eq.numerics.epsilon, eq.numerics.delta)[0] - eq.path)) > 1e-4
    assert pd.duality_gap(bw, fw) < 1e-13
    assert not pd.negative_steps(bw, fw).size
    # backward Euler everywhere was positive already: nothing to do
    assert float(np.min(e.density)) >= 0.0 and "positivity" not in e.diagnostics
    page = (Path(__file__).resolve().parent.parent / "docs" / "validation.md").read_text(encoding="utf-8")
    quote = (f"the crisis preset at 40 cells × 10 steps went down to {float(ev.last.forward.P.min()):.2g}"
             f"; now {rec['steps_damped']} of its {eq.time_grid.n_steps} steps")
    assert quote in page, quote


def random_game(seed: int):
    """A random game of 1-2 LP types (OU, Gaussian starts mostly in distress, herding, fire-sale
    feedback, fund ends inside the horizon) on a coarse grid."""
    from gelav.mfg import LPType, Market, MFGModel, Numerics

    rng = np.random.default_rng(seed)
    types = []
    for k in range(int(rng.integers(1, 3))):
        types.append(LPType(
            name=f"t{k}", weight=float(rng.uniform(0.5, 2)), kappa=float(rng.uniform(0.1, 1.5)),
            sigma=float(rng.uniform(0.2, 0.8)),
            initial=("normal", float(rng.uniform(-2.5, 0.5)), float(rng.uniform(0.1, 0.5))),
            herding=float(rng.uniform(0, 0.5)) if rng.random() < 0.3 else 0.0,
            feedback=float(rng.uniform(0, 1.0)) if rng.random() < 0.3 else 0.0,
            fund_end=float(rng.uniform(3, 5)) if rng.random() < 0.3 else None))
    num = Numerics(n_cells=int(rng.integers(20, 60)), n_steps=int(rng.integers(6, 24)),
                   epsilon=float(rng.choice([1e-2, 1e-3])))
    return MFGModel(tuple(types), Market()), num


def test_random_games_never_carry_negative_masses():
    """Seeded random games on coarse grids: no negative holder mass, the ledger closed, duality to
    rounding, the steps taken recorded; both engines take the same steps."""
    from gelav.errors import ConvergenceError
    from gelav.mfg import solve
    from gelav.mfg.engine import Problem

    fired = solved = 0
    for seed in range(MFG_GAMES):
        model, num = random_game(seed)
        try:
            eq = solve(model, numerics=num, no_feedback=False)
        except ConvergenceError:  # a coarse game whose fixed point does not converge: not the subject
            continue
        solved += 1
        _check_positive_equilibrium(eq, Problem(model, num).tg)
        fired += "positivity" in eq.diagnostics
    assert solved >= MFG_GAMES - 3
    assert fired >= MFG_GAMES // 2  # Crank-Nicolson goes negative on most of these coarse games
    page = (Path(__file__).resolve().parent.parent / "docs" / "validation.md").read_text(encoding="utf-8")
    assert f"({fired} of the {solved} random games" in page


def test_numba_engine_takes_the_same_steps():
    pytest.importorskip("numba")
    from gelav.mfg import solve

    model, num = random_game(4)
    a = solve(model, numerics=num, no_feedback=False)
    b = solve(model, numerics=dataclasses.replace(num, engine="numba"), no_feedback=False)
    assert a.diagnostics["positivity"]["steps"] == b.diagnostics["positivity"]["steps"]
    np.testing.assert_array_equal(a.time_grid.theta, b.time_grid.theta)
    np.testing.assert_allclose(b.density, a.density, atol=1e-9)
    np.testing.assert_allclose(b.value, a.value, atol=1e-9)


def test_mfg_backward_euler_steps_keep_duality_in_both_engines():
    """The engine's forward sweep on a problem with implicit steps is the exact transpose of its backward
    sweep: <p0, V0> equals the duality sum to rounding, for any environment (not only the equilibrium)."""
    from gelav.mfg.engine import Problem

    model, num = random_game(0)
    engines = ["numpy"]
    if importlib.util.find_spec("numba") is not None:
        engines.append("numba")
    for engine in engines:
        pb = Problem(model, dataclasses.replace(num, engine=engine))
        pd = pb.with_implicit_steps([2, 3, 5])
        assert np.all(pd.theta[[2, 3, 5]] == 1.0) and pd.M == pb.M
        Z = pd.phi(pd.zero_path(), num.epsilon, num.delta)[0]
        _, bw, fw = pd.phi(Z, num.epsilon, num.delta)
        assert pd.duality_gap(bw, fw) < 1e-13
        assert abs(fw.P.sum(axis=(1, 2))[-1] + fw.exits.sum() - pd.p0.sum()) < 1e-12
    with pytest.raises(ValueError, match="steps"):
        Problem(model, num).with_implicit_steps([num.n_steps + 10])


def test_mfg_second_order_in_time_is_kept_when_steps_are_damped():
    """A point-mass start without the Rannacher start-up (no exits: the relaxed exit is implicit, first
    order): the coarse steps take the first step as backward Euler, finer ones none; order 2 in time."""
    from gelav.fd.grid import TimeGrid
    from gelav.mfg import LPType, Market, MFGModel, Numerics, solve
    from gelav.mfg.engine import volume_fraction_below

    model = MFGModel((LPType(initial=0.5),), Market(base_discount=0.9))  # prices far below values
    vals, masses, fired = [], [], []
    for m in (5, 10, 20, 40, 80, 160, 320):
        tg = TimeGrid.build(model.horizon, m, damping_steps=0)
        eq = solve(model, numerics=Numerics(n_cells=60, n_steps=m), time_grid=tg, no_feedback=False)
        assert float(eq.cumulative_exits.max()) == 0.0
        assert _relative_min(eq) >= -1e-10
        fired.append(eq.diagnostics.get("positivity", {}).get("steps", []))
        vals.append(eq.value_at(0.5))
        masses.append(float(np.asarray(eq.density)[0, m // 5] @ volume_fraction_below(eq.grid, 0.0)))
    assert fired[0] and fired[1] and not fired[-1] and not fired[-2]  # damped coarse, vanishing fine
    dv, dm = np.abs(np.diff(vals)), np.abs(np.diff(masses))
    ov, om = np.log2(dv[:-1] / dv[1:]), np.log2(dm[:-1] / dm[1:])
    assert np.all((ov > 1.8) & (ov < 2.2)), ov
    assert np.all((om[-2:] > 1.8) & (om[-2:] < 2.2)), om  # the masses at t = 1 (asymptotic from 40 steps)
