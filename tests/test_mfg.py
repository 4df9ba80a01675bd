"""Mean-field game of LP exits: equilibrium, invariants, limits, methods, scenario files (issue 6)."""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pytest

from gelav.errors import AccuracyWarning, ConvergenceError
from gelav.generator import Generator
from gelav.grid import Grid
from gelav.mfg import (
    Equilibrium,
    LPType,
    Market,
    MFGModel,
    Numerics,
    SolverOptions,
    find_equilibria,
    solve,
)
from gelav.mfg.engine import Problem
from gelav.processes import OrnsteinUhlenbeck

COARSE = Numerics(n_cells=60, n_steps=60)
CRISIS = MFGModel((LPType(initial=("normal", -1.5, 0.3)),), Market())


@pytest.fixture(scope="module")
def crisis_eq() -> Equilibrium:
    return solve(CRISIS, numerics=COARSE)


@pytest.fixture(scope="module")
def hetero_eq() -> Equilibrium:
    from gelav.mfg.scenarios import SCENARIOS

    model = dataclasses.replace(SCENARIOS["heterogeneous"].model,
                                types=tuple(dataclasses.replace(t, fund_end=f) for t, f in
                                            zip(SCENARIOS["heterogeneous"].model.types, (3.0, 5.0, 4.0), strict=True)))
    return solve(model, numerics=COARSE)


# -- the discrete scheme ------------------------------------------------------------
def test_generator_bands_match_the_shared_generator() -> None:
    """The stacked, vectorised bands are the foundation's fitted generator Q (reflecting ends)."""
    pb = Problem(CRISIS, COARSE)
    Q = Generator(OrnsteinUhlenbeck(0.45, 1.0, 0.32), pb.grid).bands(0.0)
    sub, diag, sup = (b[3] for b in pb._Q_static)
    np.testing.assert_allclose(sub, Q.sub, rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(diag, Q.diag, rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(sup, Q.sup, rtol=1e-13, atol=1e-13)


def test_mass_balance_per_type_to_1e_12(hetero_eq: Equilibrium) -> None:
    """Holders + cumulative exits = 1 per type up to its fund end (three types, three vintages)."""
    eq = hetero_eq
    assert eq.diagnostics["mass_balance_error"] < 1e-12
    for k in range(3):
        e = int(np.searchsorted(eq.times, eq.model.fund_end(k) - 1e-12))
        np.testing.assert_allclose(eq.holders[k, :e + 1] + eq.cumulative_exits[k, :e + 1], 1.0, atol=1e-12)
        assert np.all(eq.holders[k, e + 1:] == 0.0)
    assert eq.cumulative_exits.max() > 0.1  # the check is not vacuous


def test_duality_forward_backward_exact(crisis_eq: Equilibrium) -> None:
    """<p0, V0> equals the forward duality sum of discounted rewards to rounding."""
    assert crisis_eq.diagnostics["duality_error"] < 1e-12


def test_positivity_and_exit_boundary(crisis_eq: Equilibrium) -> None:
    eq = crisis_eq
    assert eq.density.min() > -1e-14
    # exits happen below the boundary: the exit intensity is zero well above it
    b0 = eq.boundary[0, 0]
    assert np.isfinite(b0)
    above = eq.grid.nodes > b0 + 0.1
    assert np.all(eq.exit_rate[0, 0, above] == 0.0)
    assert np.all(eq.value[0, 0] >= eq.price[0, 0] - 10 * eq.diagnostics["epsilon"])


# -- limits ---------------------------------------------------------------------------
def _no_coupling_model() -> MFGModel:
    # r = 0 and π ≡ NAV = terminal value, so gelav.stopping.optimal_stopping solves the same LCP
    lp = LPType(initial=-0.5, discount_rate=0.0, liquidity_cost=0.12, yield_rate=0.02)
    mk = Market(base_discount=0.0, discount_per_year=0.0, distress_impact=0.0, flow_impact=0.0)
    return MFGModel((lp,), mk)


def test_no_coupling_is_optimal_stopping_in_one_iteration() -> None:
    """β = γ = λ = η = 0: one best response; → optimal_stopping as ε → 0 (order 1 in ε)."""
    from gelav.stopping import optimal_stopping

    model = _no_coupling_model()
    errs = []
    epss = (1e-4, 1e-5, 1e-6)
    for eps in epss:
        eq = solve(model, numerics=Numerics(n_cells=60, n_steps=60, epsilon=eps), no_feedback=False)
        assert eq.iterations == 1 and eq.residual == 0.0
        lp = model.types[0]
        proc = OrnsteinUhlenbeck(lp.kappa, lp.mean, lp.sigma)
        tg = Problem(model, Numerics(n_cells=60, n_steps=60)).tg
        ref = optimal_stopping(proc, 1.0, model.horizon, running=lp.running_reward,
                               grid=eq.grid, time_grid=tg)
        errs.append(float(np.max(np.abs(eq.value0[0] - ref.values[0]))))
    slope = np.polyfit(np.log(epss), np.log(errs), 1)[0]
    assert 0.85 < slope < 1.15, (errs, slope)
    assert errs[-1] < 1e-5
    assert np.max(ref.stop[0]) and np.min(ref.stop[0]) == 0  # a genuine free boundary


def test_relaxation_to_zero_values_converge() -> None:
    """Equilibrium values converge as ε → 0 (continuation with warm starts); order ≈ 1."""
    vals = []
    epss = (1e-2, 1e-3, 1e-4)
    for eps in epss:
        eq = solve(CRISIS, numerics=Numerics(n_cells=50, n_steps=50, epsilon=eps), no_feedback=False)
        vals.append(eq.value0[0])
    d1 = np.max(np.abs(vals[0] - vals[1]))
    d2 = np.max(np.abs(vals[1] - vals[2]))
    order = np.log10(d1 / d2)
    assert 0.7 < order < 1.3, (d1, d2)


def test_identical_types_equal_single_type(crisis_eq: Equilibrium) -> None:
    lp = CRISIS.types[0]
    twins = MFGModel((dataclasses.replace(lp, name="a", weight=0.3), dataclasses.replace(lp, name="b", weight=0.7)),
                     CRISIS.market)
    eq2 = solve(twins, numerics=COARSE)
    for k in range(2):
        np.testing.assert_allclose(eq2.price[k], crisis_eq.price[0], atol=1e-7)
        np.testing.assert_allclose(eq2.value0[k], crisis_eq.value0[0], atol=1e-7)
        np.testing.assert_allclose(eq2.cumulative_exits[k], crisis_eq.cumulative_exits[0], atol=1e-7)


def test_monotone_every_start_same_equilibrium_and_zero_exploitability() -> None:
    eqs = find_equilibria(CRISIS, numerics=COARSE, no_feedback=False)
    assert len(eqs) == 3
    for e in eqs[1:]:
        np.testing.assert_allclose(e.price, eqs[0].price, atol=1e-6)
    for e in eqs:
        assert abs(e.exploitability) < 1e-8
        assert e.residual < 1e-8


def test_feedback_lowers_value_and_price(crisis_eq: Equilibrium) -> None:
    """Crowding: the equilibrium price is below the no-feedback price and fewer LPs sell."""
    eq = crisis_eq
    assert np.all(eq.price[0] <= eq.no_feedback_price[0] + 1e-12)
    assert eq.cumulative_exits[0, -1] < eq.no_feedback_cumulative_exits[0, -1]
    assert eq.value_at(-2.0) < eq.no_feedback_value_at(-2.0)


@pytest.mark.slow
def test_grid_refinement_price_path_order() -> None:
    """Price path converges under joint refinement; observed order ≈ 1.3 (time: 1, space: 2)."""
    ts = np.array([0.25, 0.5, 1.0, 2.0, 3.0])
    prices, vals = [], []
    for n in (40, 80, 160):
        eq = solve(CRISIS, numerics=Numerics(n_cells=n, n_steps=n, domain=(-3.5, 3.0)), no_feedback=False)
        prices.append(np.interp(ts, eq.t_mid, eq.price[0]))
        vals.append(eq.value_at(-1.5))
    d = [np.max(np.abs(prices[i + 1] - prices[i])) for i in range(2)]
    order = np.log2(d[0] / d[1])
    assert 1.0 < order < 1.7, order
    dv = [abs(vals[i + 1] - vals[i]) for i in range(2)]
    assert 1.6 < np.log2(dv[0] / dv[1]) < 2.4


# -- fixed-point methods -------------------------------------------------------------------
@pytest.mark.parametrize("method", ["picard", "anderson", "newton-krylov"])
def test_methods_agree(method: str, crisis_eq: Equilibrium) -> None:
    eq = solve(CRISIS, numerics=COARSE, method=method, no_feedback=False, tol=1e-9)
    assert eq.residual < 1e-9
    np.testing.assert_allclose(eq.price, crisis_eq.price, atol=5e-7)


def test_fictitious_play_decreases_residual() -> None:
    with pytest.raises(ConvergenceError) as info:
        solve(CRISIS, numerics=COARSE, method="fictitious", options=SolverOptions(max_iter=30), no_feedback=False)
    res = [h["residual"] for h in info.value.history]
    assert len(res) == 30 and res[-1] < 0.2 * res[0]


def test_history_records_residual_and_exploitability(crisis_eq: Equilibrium) -> None:
    h = crisis_eq.history
    assert len(h) == crisis_eq.iterations >= 3
    assert all({"residual", "exploitability", "epsilon", "method"} <= set(r) for r in h)
    assert h[-1]["residual"] < 1e-8
    assert abs(h[-1]["exploitability"]) < 1e-8
    assert h[-1]["epsilon"] == 1e-3


def test_continuation_in_relaxation_with_warm_starts(crisis_eq: Equilibrium) -> None:
    eq = solve(CRISIS, numerics=COARSE, options=SolverOptions(continuation=True), no_feedback=False)
    eps = [r["epsilon"] for r in eq.history]
    assert eps[0] == 0.1 and 0.01 in eps and eps[-1] == 1e-3
    assert eps == sorted(eps, reverse=True)
    np.testing.assert_allclose(eq.price, crisis_eq.price, atol=1e-7)


def test_convergence_error_carries_history() -> None:
    with pytest.raises(ConvergenceError, match="did not reach") as info:
        solve(CRISIS, numerics=COARSE, method="picard", options=SolverOptions(max_iter=3, damping=0.1),
              no_feedback=False)
    assert len(info.value.history) == 3


def test_non_monotone_reports_every_equilibrium() -> None:
    from gelav.mfg.scenarios import SCENARIOS

    with pytest.warns(AccuracyWarning, match="2 distinct equilibria"):
        eq = SCENARIOS["thin-market"].solve(numerics=COARSE, no_feedback=False)
    assert eq.n_equilibria == 2
    both = sorted([eq, *eq.others], key=lambda e: e.cumulative_exits[0, -1])
    assert both[0].cumulative_exits[0, -1] < 0.01 < 0.3 < both[1].cumulative_exits[0, -1]
    assert both[1].price[0, 0] > both[0].price[0, 0] + 0.1
    for e in both:
        assert e.residual < 1e-8


def test_herding_and_feedback_run_and_conserve_mass() -> None:
    model = MFGModel((LPType(initial=("normal", -1.0, 0.3), herding=0.3, feedback=0.5),), Market())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AccuracyWarning)
        eq = solve(model, numerics=COARSE, no_feedback=False)
    assert eq.residual < 1e-8 and eq.diagnostics["mass_balance_error"] < 1e-12
    assert eq.diagnostics["duality_error"] < 1e-12
    # the McKean–Vlasov aggregate is the holders' mean liquidity
    mid = 0.5 * (eq.density[0, :-1] + eq.density[0, 1:])
    m = (mid @ eq.grid.nodes) / mid.sum(axis=1)
    np.testing.assert_allclose(eq.aggregates["mean"], m, atol=1e-7)


def test_restart_with_pressure_and_time_grid_reproduces_value(crisis_eq: Equilibrium) -> None:
    """Time consistency: restart at t0 from μ(t0) (and the pressure then) reproduces V(t0, ·)."""
    from gelav.grid import TimeGrid

    eq = crisis_eq
    pb = Problem(CRISIS, COARSE)
    i0 = int(np.argmin(np.abs(pb.times - 1.0)))
    t0 = float(pb.times[i0])
    tg = TimeGrid(pb.times[i0:], pb.theta[i0:])
    model = CRISIS.with_initial([eq.density[0, i0].copy()])
    eq2 = solve(model, numerics=COARSE, start=t0, grid=eq.grid, time_grid=tg,
                initial_pressure=float(eq.aggregates["pressure"][i0]), no_feedback=False)
    np.testing.assert_allclose(eq2.value0[0], eq.value[0, i0], atol=1e-7)


# -- results, plots, validation ------------------------------------------------------------
def test_summary_and_plots(crisis_eq: Equilibrium) -> None:
    import matplotlib

    matplotlib.use("Agg")
    s = crisis_eq.summary()
    t = s["types"][0]
    assert t["discount_worst"] >= t["discount_now"] - 1e-15
    assert 0 < t["total_exits"] < 1
    for kind in ("density", "price", "values", "exits", "convergence"):
        fig = crisis_eq.plot(kind)
        ax = fig.axes[0]
        assert ax.get_xlabel() and ax.get_ylabel() and ax.get_title()
    with pytest.raises(ValueError, match="Unknown `kind`"):
        crisis_eq.plot("nope")
    with pytest.raises(ValueError, match="Unknown `type`"):
        crisis_eq.value_at(0.0, type="nope")


def test_validation_errors_name_the_argument() -> None:
    with pytest.raises(ValueError, match="`sigma`"):
        LPType(sigma=0.0)
    with pytest.raises(ValueError, match="`weight`"):
        LPType(weight=-1)
    with pytest.raises(ValueError, match="`distress_impact`"):
        Market(distress_impact=-0.1)
    with pytest.raises(ValueError, match=r"`method`.*'picard'"):
        SolverOptions(method="bisection")
    with pytest.raises(ValueError, match="`damping`"):
        SolverOptions(damping=1.5)
    with pytest.raises(ValueError, match="`scheme`"):
        Numerics(scheme="rk4")
    # regression: epsilon = 1e-300 leaked RuntimeWarnings (inf * 0 in the sweeps) and ran the continuation
    # down to 1e-156 before its ConvergenceError
    for name in ("epsilon", "temperature"):
        with pytest.raises(ValueError, match=f"`{name}` must be at least 1e-12"):
            Numerics(**{name: 1e-300})
    with pytest.raises(ValueError, match="`continuation` must be at least 1e-12"):
        Numerics(continuation=(0.1, 1e-13))
    assert Numerics(epsilon=1e-12, temperature=1e-12).epsilon == 1e-12
    with pytest.raises(TypeError, match="`initial`"):
        LPType(initial=object())
    with pytest.raises(ValueError, match="distinct"):
        MFGModel((LPType(), LPType()))
    with pytest.raises(TypeError, match="`coupling`"):
        Market(coupling=3)
    with pytest.raises(TypeError, match="`model`"):
        solve("crisis")  # type: ignore[arg-type]
    # regressions: NaN `start` was reported as "`horizon` must be finite"; NaN `initial_pressure`
    # ran the solver into a ConvergenceError
    with pytest.raises(ValueError, match="`start` must be finite"):
        solve(MFGModel(), numerics=Numerics(n_cells=20, n_steps=20), start=float("nan"))
    with pytest.raises(ValueError, match="`initial_pressure` must be finite"):
        solve(MFGModel(), numerics=Numerics(n_cells=20, n_steps=20), initial_pressure=float("nan"))


def test_user_coupling_callable() -> None:
    def coupling(t: float, L: np.ndarray, s: dict) -> np.ndarray:
        return s["nav"] * (1 - 0.1 - 0.02 * s["remaining"] - 0.15 * s["distressed"] - 0.05 * s["flow"]) + 0 * L

    lin = MFGModel(CRISIS.types, Market(base_discount=0.1, discount_per_year=0.02))
    user = MFGModel(CRISIS.types, Market(coupling=coupling))
    num = Numerics(n_cells=40, n_steps=40)
    a = solve(lin, numerics=num, no_feedback=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AccuracyWarning)
        b = solve(user, numerics=num, no_feedback=False)
    np.testing.assert_allclose(b.price, a.price, atol=1e-7)


# -- scenario files ------------------------------------------------------------------------------
def test_toml_round_trip_and_errors_name_the_field(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from gelav.mfg.io import load_scenario, scenario_to_dict
    from gelav.mfg.scenarios import SCENARIOS
    from gelav.scenario import ScenarioError, dump_toml

    for name in ("stress", "heterogeneous", "vintages"):
        p = tmp_path / f"{name}.toml"
        p.write_text(dump_toml(scenario_to_dict(SCENARIOS[name])))
        sc = load_scenario(p)
        assert sc.model == SCENARIOS[name].model
    good = """
[mfg]
preset = "stress"
[mfg.market]
distress_impact = 0.2
[[mfg.types]]
name = "pension"
initial = { normal = [-1.0, 0.3] }
[mfg.numerics]
n_cells = 40
"""
    p = tmp_path / "good.toml"
    p.write_text(good)
    sc = load_scenario(p)
    assert sc.model.market.distress_impact == 0.2 and sc.model.types[0].initial == ("normal", -1.0, 0.3)
    assert sc.numerics.n_cells == 40
    cases = {
        "[mfg.market]\ndistress_impact = -1\n": r"\[mfg.market\] field `distress_impact`",
        "[mfg.market]\nhorizon = \"long\"\n": r"field `horizon`",
        "[[mfg.types]]\nkapa = 0.4\n": r"unknown field\(s\) kapa",
        "[[mfg.types]]\ninitial = \"calm\"\n": r"field `initial`",
        "[mfg.numerics]\nn_cells = 2.5\n": r"field `n_cells`",
        "[mfg.solver]\nmethod = \"bisection\"\n": r"field `method`",
        "[mfg]\npreset = \"nope\"\n": r"field `preset`",
        "[mfg.solver]\ndamping = 2.0\n": r"field `damping`",
    }
    for body, pattern in cases.items():
        p.write_text(body)
        with pytest.raises(ScenarioError, match=pattern):
            load_scenario(p)
    with pytest.raises(ScenarioError, match="Unknown scenario"):
        load_scenario("no-such-preset")


def test_presets_registry() -> None:
    from gelav.mfg.scenarios import SCENARIOS, scenario

    assert {"calm", "stress", "crisis", "heterogeneous"} <= set(SCENARIOS)
    with pytest.raises(ValueError, match="presets are calm"):
        scenario("nope")
    assert len(SCENARIOS["heterogeneous"].model.types) == 3
    assert SCENARIOS["stress"].model.types[0].initial == -0.5


def test_grid_argument_checked() -> None:
    with pytest.raises(TypeError, match="`grid`"):
        solve(CRISIS, numerics=COARSE, grid=np.linspace(-3, 3, 10))  # type: ignore[arg-type]
    g = Grid.uniform(-3, 3, 40)
    with pytest.raises(ValueError, match="node masses"):
        solve(CRISIS.with_initial([np.ones(10)]), numerics=COARSE, grid=g)


def test_preset_toml_files_match_presets() -> None:
    from pathlib import Path

    import gelav.mfg
    from gelav.mfg import SCENARIOS, load_scenario

    folder = Path(gelav.mfg.__file__).parent / "presets"
    files = sorted(folder.glob("*.toml"))
    assert {f.stem for f in files} == {n for n, s in SCENARIOS.items() if s.model.market.coupling is None}
    for f in files:
        sc = load_scenario(f)
        assert sc.model == SCENARIOS[f.stem].model
        assert sc.numerics == SCENARIOS[f.stem].numerics


def test_cycle_detection() -> None:
    from gelav.mfg.fixed_point import Cycling as _Cycling
    from gelav.mfg.fixed_point import Stalled as _Stalled
    from gelav.mfg.fixed_point import check_cycle as _check_cycle

    a, b = np.zeros((4, 5)), np.ones((4, 5))
    with pytest.raises(_Cycling) as info:
        _check_cycle([a if i % 2 else b for i in range(41)], [1.0] * 41)
    assert info.value.period == 2
    rng = np.random.default_rng(0)
    with pytest.raises(_Stalled):
        _check_cycle([rng.normal(size=(4, 5)) for _ in range(41)], [1.0] * 41)
    _check_cycle([a] * 41, list(np.geomspace(1, 1e-6, 41)))  # progress: no exception


def test_phenomena_on_coarse_grids() -> None:
    from gelav.mfg.scenarios import PHENOMENA

    q4 = PHENOMENA["seasonality"](Numerics(n_cells=60, n_steps=100)).metrics["q4_share_by_year"]
    assert np.mean(q4[1:4]) > 0.35  # a quarter of the year carries far more than a quarter of the volume
    sp = PHENOMENA["stress-probability"](Numerics(n_cells=60, n_steps=60), feedbacks=(0.0, 0.8)).metrics
    rows = sp["rows"]
    assert abs(sp["single_lp"] - 0.0019356) < 2e-5
    for r in rows:
        if r["feedback"] == 0.0:
            assert abs(r["ratio"] - 1.0) < 0.02  # seed 000: stable regime, single-LP Fokker–Planck is right
        else:
            assert r["ratio"] > 1.5  # the fire-sale externality takes over


def test_narrow_domain_warns_mass_at_boundary() -> None:
    from gelav.errors import MassLossWarning

    with pytest.warns(MassLossWarning, match="outer 2%"):
        eq = solve(CRISIS, numerics=Numerics(n_cells=40, n_steps=40, domain=(-2.2, 1.0)), no_feedback=False)
    assert eq.diagnostics["boundary_mass"] > 1e-6


def test_own_distress_and_scipy_initial_law() -> None:
    from scipy import stats

    base = MFGModel((LPType(initial=stats.norm(-1.5, 0.3)),), Market())
    own = MFGModel(base.types, Market(own_distress=0.05))
    a = solve(base, numerics=COARSE, no_feedback=False)
    b = solve(own, numerics=COARSE, no_feedback=False)
    np.testing.assert_allclose(a.price, solve(CRISIS, numerics=COARSE, no_feedback=False).price, atol=1e-6)
    # sellers' own distress cuts what they get, so fewer of them sell
    assert b.cumulative_exits[0, -1] < a.cumulative_exits[0, -1]


def test_no_exit_population_is_the_foundation_fokker_planck() -> None:
    """When nobody sells, the holders' law is gelav.forward's OU density (same steps), ≈ the exact law."""
    from gelav.forward import forward

    model = MFGModel((LPType(initial=-0.5, liquidity_cost=0.0),), Market(horizon=2.0))
    eq = solve(model, numerics=Numerics(n_cells=200, n_steps=100), no_feedback=False)
    assert eq.cumulative_exits.max() < 1e-12
    ou = OrnsteinUhlenbeck(0.45, 1.0, 0.32)
    d = forward(ou, -0.5, 2.0, grid=eq.grid, time_grid=eq.time_grid)
    np.testing.assert_allclose(eq.density[0], d.masses, atol=1e-13)
    # seed 000: P(L_2 < -0.5 | L_0 = -0.5) = 0.0019356; grid error of this 200-cell run < 1e-4
    assert abs(eq.stress_probability(-0.5, 2.0) - 0.0019356) < 1e-4
