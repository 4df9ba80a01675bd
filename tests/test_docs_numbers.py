"""Numbers quoted in the docs and the README come from runs this test repeats (issue 17, item 6).

Each entry of ``QUOTES`` is ``(page, template, producer)``: ``producer()`` returns the
values that fill the ``{}`` fields of ``template`` (with their format specs, e.g.
``{:.4f}``), and the filled text must appear verbatim in ``page``. A changed result
or an edited page fails the test; adding a page's number is one line here.
Entries marked ``slow`` run with the slow tests.
"""

from __future__ import annotations

import functools
import importlib.util
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent


# ---------------------------------------------------------------------------------- producers
def _seed_ou():
    from gelav import OrnsteinUhlenbeck

    return OrnsteinUhlenbeck(kappa=0.45, mean=1.0, sigma=0.32)


@functools.cache
def _seed000_density():
    from gelav import forward

    return forward(_seed_ou(), -0.5, 2.0)


def seed000_tail() -> tuple[float, ...]:
    from scipy import stats

    d = _seed000_density()
    law = _seed_ou().transition(-0.5, 2.0)
    z = stats.norm.ppf(0.99)
    return (d.value_at_risk(0.99), d.expected_shortfall(0.99), law.mean() - law.std() * z,
            law.mean() - law.std() * stats.norm.pdf(z) / 0.01)


def seed000_probability() -> tuple[float]:
    return (_seed000_density().prob(below=-0.5),)


def seed000_exact() -> tuple[float]:
    return (float(_seed_ou().transition(-0.5, 2.0).cdf(-0.5)),)


def readme_call_value() -> tuple[float, float]:
    from gelav import backward

    v = backward(_seed_ou(), lambda x: np.maximum(x - 0.5, 0.0), 2.0, x0=-0.5)
    return v.value(-0.5), v.delta(-0.5)


def readme_american_put() -> tuple[float]:
    from gelav import GeometricBrownianMotion, optimal_stopping

    put = optimal_stopping(GeometricBrownianMotion(0.06, 0.2), lambda s: np.maximum(40 - s, 0), 1.0,
                           discount=0.06, domain=(0.0, 200.0), n_cells=800)
    return (put.value(36.0),)


@functools.cache
def _example(name: str) -> Any:
    spec = importlib.util.spec_from_file_location(f"_docs_{name}", ROOT / "examples" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


@functools.cache
def _compare_example() -> dict[str, Any]:
    import tempfile

    return _example("compare_models").worked_example(Path(tempfile.mkdtemp(prefix="gelav_docs_")))  # type: ignore[no-any-return]


def compare_best() -> tuple[Any, ...]:
    r = _compare_example()
    return r["best"], r["delta_aic_ou"], r["delta_aic_gbm"]


def compare_kappa() -> tuple[float, ...]:
    r = _compare_example()
    return r["kappa"], r["kappa_ci"][0], r["kappa_ci"][1]


def compare_tail() -> tuple[float, float]:
    r = _compare_example()
    return r["var99"], r["es99"]


def symbolic_undecided_limit() -> tuple[str]:
    import sympy as sp

    from gelav.symbolic import ItoProcess

    t = sp.Symbol("t", real=True)
    Y, a = sp.Symbol("Y", positive=True), sp.Symbol("a", positive=True)
    et = ItoProcess(Y / 2, Y, t, Y).exit_time(a, 1)
    return (str(et.limit(a, 0, "+")),)


def symbolic_decided_limit() -> tuple[str]:
    import sympy as sp

    from gelav.symbolic import ItoProcess

    t = sp.Symbol("t", real=True)
    Y, a = sp.Symbol("Y", positive=True), sp.Symbol("a", positive=True)
    et = ItoProcess(Y / 2, Y, t, Y).exit_time(a, 1)
    return (str(et.limit(a, 0, "+", assume="0<Y<1")),)


def thin_market_exits() -> tuple[float, float]:
    from gelav.mfg.scenarios import SCENARIOS

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        eq = SCENARIOS["thin-market"].solve()
    ex = sorted(float(e.cumulative_exits[0, -1]) for e in (eq, *eq.others))
    return ex[0], ex[-1]


# -- docs/research.md (issue 14 item 1, issue 16 target 4) --
_RES_NUM = {"n_cells": 30, "n_steps": 30, "domain": (-4.0, 3.5)}


def _research_model():
    from gelav.mfg import LPType, Market, MFGModel

    return MFGModel((LPType(),), Market())


def research_tangent_vs_fd() -> tuple[float, ...]:
    from gelav.mfg import Numerics, sensitivity, solve

    eq = solve(_research_model().with_initial([("normal", -1.0, 0.5)]), numerics=Numerics(**_RES_NUM),
               no_feedback=False)
    m0, x = eq.density[0, 0], eq.grid.nodes
    dirs = 0.2 * np.stack([m0 * (x - (m0 * x).sum()), m0 * np.sin(x), m0 * np.cos(2 * x)])
    tan = sensitivity(eq, dirs)
    gaps = [float(np.abs(sensitivity(eq, dirs, step=h, method="fd").value - tan.value).max()) for h in (0.2, 0.1)]
    return gaps[0], gaps[1], gaps[0] / gaps[1]


def research_master_residual() -> tuple[float, ...]:
    from gelav.mfg import Numerics, solve

    model = _research_model().with_initial([("normal", -1.0, 0.5)])
    norms = []
    for n in (20, 40, 80):
        eq = solve(model, numerics=Numerics(n_cells=n, n_steps=n, domain=(-4.0, 3.5)), no_feedback=False)
        norms.append(float(eq.master_residual((0.5, 1.0, 2.0)).norm.max()))
    return (*norms, float(np.log2(norms[0] / norms[1])), float(np.log2(norms[1] / norms[2])))


def research_warm_starts() -> tuple[float, ...]:
    from gelav.mfg import Numerics
    from gelav.mfg.master import master_field

    kw = {"means": (-1.5, -1.0, -0.5, 0.0), "spreads": (0.3, 0.5), "workers": 1,
          "numerics": Numerics(n_cells=40, n_steps=40, domain=(-4.0, 3.5))}
    per = [master_field(_research_model(), warm_start=w, **kw).diagnostics["evaluations_per_law"]
           for w in ("off", "neighbour", "tangent")]
    return per[0], per[1], per[2], per[0] / per[1], per[0] / per[2]


def research_warm_starts_newton() -> tuple[float, ...]:
    from gelav.mfg import Numerics
    from gelav.mfg.master import master_field

    kw = {"means": (-1.5, -1.0, -0.5, 0.0), "spreads": (0.3, 0.5), "workers": 1,
          "numerics": Numerics(n_cells=40, n_steps=40, domain=(-4.0, 3.5))}
    cold, nw = (master_field(_research_model(), warm_start=w, **kw).diagnostics for w in ("off", "newton"))
    return (nw["evaluations_per_law"], cold["evaluations_per_law"] / nw["evaluations_per_law"],
            nw["sweeps_per_law"], nw["tangent_products_per_law"])


# ---------------------------------------------------------------------------------- the table
@functools.cache
def _thin_market_branches():  # type: ignore[no-untyped-def]
    from gelav.mfg import SCENARIOS, Numerics, continuation

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return continuation(SCENARIOS["thin-market"].model, "thin_discount", [0.2, 0.3],
                            numerics=Numerics(n_cells=40, n_steps=40, epsilon=0.05), step=0.02)


def branches_fold() -> tuple[float, float]:
    f = _thin_market_branches().folds[0]
    return (f.parameter, 100 * f.scalars["exits"])


def branches_three() -> tuple[float, float, float, int]:
    br = _thin_market_branches()
    ex = sorted(100 * br._family.scalars(x, 0.25)[0]["exits"] for x in br.paths_at(0.25))
    return (*ex, br.diagnostics["evaluations"])


@functools.cache
def _thin_market_branches_at(n: int, epsilon: float):  # type: ignore[no-untyped-def]
    from gelav.mfg import SCENARIOS, Numerics, continuation

    if (n, epsilon) == (40, 0.05):
        return _thin_market_branches()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return continuation(SCENARIOS["thin-market"].model, "thin_discount", [0.2, 0.3],
                            numerics=Numerics(n_cells=n, n_steps=n, epsilon=epsilon), step=0.02, stability=False)


def _selling_wave(br: Any) -> float:
    """The largest total exits [%] among the branches' equilibria at d_thin = 0.25."""
    return max(100 * br._family.scalars(x, 0.25)[0]["exits"] for x in br.paths_at(0.25))


def branches_refinement() -> tuple[float, ...]:
    """The 40-cell diagram on refinement (audit B, item 4): the fold moves (0.2574 at 40 cells, 0.2923 at
    50) and is gone from 60 cells on; the selling wave's exits at 0.25 fall with every refinement."""
    from gelav.mfg import SCENARIOS, Numerics, find_equilibria
    from gelav.mfg.branches import set_parameter

    fold50 = _thin_market_branches_at(50, 0.05).folds
    assert len(fold50) == 1
    for n in (60, 80, 120):
        assert not _thin_market_branches_at(n, 0.05).folds
    # 120 cells: a third, low branch near 2 % at 0.25
    low = sorted(100 * b._family.scalars(x, 0.25)[0]["exits"] for b in [_thin_market_branches_at(120, 0.05)]
                 for x in b.paths_at(0.25))
    assert len(low) == 3 and 1.5 < low[1] < 2.5
    # continuation holds three equilibria at 0.25 on 40 and 50 cells; multi-start finds two on every grid
    for n in (40, 50):
        assert len(_thin_market_branches_at(n, 0.05).paths_at(0.25)) == 3
    model = set_parameter(SCENARIOS["thin-market"].model, "thin_discount", 0.25)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for n in (40, 50, 60, 80, 120):
            assert len(find_equilibria(model, numerics=Numerics(n_cells=n, n_steps=n, epsilon=0.05),
                                       no_feedback=False)) == 2
    return (fold50[0].parameter, *(_selling_wave(_thin_market_branches_at(n, 0.05)) for n in (40, 50, 60, 80, 120)))


def branches_relaxation() -> tuple[float, float]:
    """The selling wave's exits at 0.25 at epsilon = 0.02 on 40 and 80 cells; a fold near 0.217 on 40, none on 80."""
    f40 = _thin_market_branches_at(40, 0.02).folds
    assert len(f40) == 1 and abs(f40[0].parameter - 0.217) < 0.001
    assert not _thin_market_branches_at(80, 0.02).folds
    return tuple(_selling_wave(_thin_market_branches_at(n, 0.02)) for n in (40, 80))  # type: ignore[return-value]


def branches_fd() -> tuple[int]:
    from gelav.mfg import SCENARIOS, Numerics, continuation

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        br = continuation(SCENARIOS["thin-market"].model, "thin_discount", [0.2, 0.3],
                          numerics=Numerics(n_cells=40, n_steps=40, epsilon=0.05), step=0.02, jacobian="fd")
    ref = _thin_market_branches()
    # the same fold and the same equilibria at 0.25 as with the exact tangent
    assert br.folds[0].parameter == pytest.approx(ref.folds[0].parameter, abs=1e-4)
    exits = [sorted(b._family.scalars(x, 0.25)[0]["exits"] for x in b.paths_at(0.25)) for b in (br, ref)]
    np.testing.assert_allclose(exits[0], exits[1], atol=1e-6)
    return (br.diagnostics["evaluations"],)


slow = pytest.mark.slow
def gbm_log_grid_issue_case() -> tuple[float, float]:
    """Issue 11, class 1: GBM(0, 2) from 1, P(X_1 < 0.05) on forward's default (logarithmic) grid."""
    from gelav import GeometricBrownianMotion, forward

    g = GeometricBrownianMotion(0.0, 2.0)
    p = forward(g, 1.0, 1.0).prob(below=0.05)
    return p, p - float(g.transition(1.0, 1.0).cdf(0.05))


def expm_sup_error() -> tuple[float]:
    """sup_{x <= 0} |r(x) - e^x| of gelav.fd.expm's rational rule (tests/test_expm.py asserts the bound)."""
    from gelav.fd.expm import POLES, WEIGHTS

    x = -np.concatenate(([0.0], np.logspace(-10, 16, 60001), np.linspace(0.0, 50.0, 20001)))
    r = (WEIGHTS[None, :] / (POLES[None, :] - x[:, None])).imag.sum(axis=1)
    return (float(np.abs(r - np.exp(x)).max()),)


def stress_tol_seed() -> tuple[Any, ...]:
    """The automatic mode on the seed's OU: cells, |dP| against the exact law, the estimate, the time bound."""
    from gelav import stress_test

    r = stress_test(_seed_ou(), -0.5, 2.0, -0.5, methods=["analytic", "pde"], tol=1e-6)
    pde = r.results["pde"]
    return (pde.details["cells"], abs(pde.probability - r.results["analytic"].probability), pde.error,
            pde.details["time_error_bound"])


def steep_stress_repro() -> tuple[Any, ...]:
    """The stress preset at discount_rate 0.12 (200 x 200, eps = 1e-3): solved by the safeguarded
    continuation after the ladder failed (tests/test_mfg_refine_continuation.py on a coarse grid)."""
    import dataclasses
    import re

    from gelav.mfg import solve
    from gelav.mfg.scenarios import SCENARIOS

    sc = SCENARIOS["stress"]
    m = dataclasses.replace(sc.model, types=tuple(dataclasses.replace(t, discount_rate=0.12) for t in sc.model.types))
    eq = solve(m, numerics=sc.numerics, options=sc.options, no_feedback=False)
    note = next(n for n in eq.diagnostics["notes"] if "safeguarded" in n)
    stages = note.split("per stage: ")[1].split(" (")[0]
    refined = int(re.search(r"\((\d+) evaluations\)", note).group(1))  # type: ignore[union-attr]
    n = eq.diagnostics["evaluations"]
    expl = "below 1e-13" if abs(eq.exploitability) < 1e-13 else f"{eq.exploitability:.1e}"
    return n, n - refined, refined, stages, eq.residual, expl


def backward_tol_seed() -> tuple[float, float, int, float]:
    import math

    from gelav import backward

    v = backward(_seed_ou(), lambda x: x, 1.0, x0=1.3, tol=1e-6)
    d = v.diagnostics
    return (float(v.value(1.3)), d["error_estimate"], d["refinement"][-1]["cells"],
            abs(float(v.value(1.3)) - (1.0 + 0.3 * math.exp(-0.45))))


def backward_tol_drift_dominated() -> tuple[float, int, float, float, float]:
    import math

    from gelav import ConvergenceError, backward

    exact = 1.0 + 999.0 * math.exp(-0.45)
    with warnings.catch_warnings():  # the cell Péclet number's AccuracyWarning: the point of the example
        warnings.simplefilter("ignore")
        plain = float(backward(_seed_ou(), lambda x: x, 1.0, x0=1e3).value(1e3))
    v = backward(_seed_ou(), lambda x: x, 1.0, x0=1e3, tol=1.0)
    try:
        backward(_seed_ou(), lambda x: x, 1.0, x0=1e3, tol=0.01)
    except ConvergenceError as e:
        refused = e.history[-1]["error_estimate"]  # type: ignore[index]
    return (plain / exact - 1.0, v.diagnostics["refinement"][-1]["cells"], float(v.value(1e3)) - exact,
            v.diagnostics["error_estimate"], refused)


def _e(x: float, sign: bool = False) -> str:
    """``x`` as the docs write it: one decimal, a one-digit exponent (3.0e-4, +1.2e-3)."""
    return f"{x:{'+' if sign else ''}.1e}".replace("e-0", "e-").replace("e+0", "e")


def mv_pde_orders() -> tuple[str, ...]:
    from gelav.mckean_vlasov import MeanFieldOU, solve_fokker_planck

    mv = MeanFieldOU(0.45, 1.0, 0.32, lam=0.5)
    v = mv.exact_var(2.0)
    return tuple(_e(abs(solve_fokker_planck(mv, -0.5, 2.0, n_cells=n, n_steps=n // 2).var() - v)) for n in (100, 200, 400))


def mv_strong_herding() -> tuple[str]:
    from gelav.mckean_vlasov import MeanFieldOU, solve_fokker_planck

    mv = MeanFieldOU(0.45, 1.0, 0.32, lam=100.0)
    return (_e(abs(solve_fokker_planck(mv, -0.5, 2.0).mean() - mv.exact_mean(2.0, -0.5))),)


def mv_euler_bias() -> tuple[str, str]:
    from gelav.mckean_vlasov import MeanFieldOU

    mv = MeanFieldOU(0.45, 1.0, 0.32, lam=0.5)
    m, v = mv.euler_moments(2.0, 200, -0.5)
    return (_e(m[-1] - mv.exact_mean(2.0, -0.5), sign=True), _e(v[-1] - mv.exact_var(2.0), sign=True))


QUOTES: list[tuple[str, str, Callable[[], tuple[Any, ...]]] | Any] = [
    ("docs/monte-carlo.md", "variance error {}, {}, {} at (100, 200, 400) cells", mv_pde_orders),
    ("docs/monte-carlo.md", "At λ = 100 the mean's error is {} on 400 cells", mv_strong_herding),
    ("docs/monte-carlo.md", "leave out: {} in the mean and {} in the variance at the seed's defaults",
     mv_euler_bias),
    ("docs/backward.md", "The example gives **{:.8g}** with estimate {:.1e} on {} cells\n(true error {:.1e}).",
     backward_tol_seed),
    ("docs/backward.md", "plain run is **{:.2%}** off (first order in `h`).\nWith `tol=1.0` the search validates the "
     "first-order regime and returns the value on\n{} cells: error {:.3f}, estimate {:.3f}. With `tol=0.01` it\n"
     "refuses: `ConvergenceError` after 12,800 cells, last estimate {:.3g}.", backward_tol_drift_dominated),
    ("docs/validation.md", "the sup error of $r$ on the negative axis, {:.1e} as measured by", expm_sup_error),
    ("docs/methods.md", "SqRA on {} cells, $|\\Delta P|$ = {:.1e} against an estimate of {:.1e} (time-error bound {:.0e}).",
     stress_tol_seed),
    ("docs/validation.md", "The issue's case now gives {:.7f} (error {:.1e} on 400 cells)", gbm_log_grid_issue_case),
    ("README.md", "│ analytic │ {:.9f} │", seed000_exact),
    ("README.md", "v.value(-0.5), v.delta(-0.5)            # {:.6f} (exact 0.075745), {:.4f}", readme_call_value),
    ("README.md", "put.value(36.0)                         # {:.4f}", readme_american_put),
    ("docs/symbolic.md", "forward(proc, -0.5, 2.0).prob(below=-0.5)                # seed 000: {:.3g}",
     seed000_probability),
    ("docs/forward.md", "# {:.4f}, {:.4f} (exact {:.4f}, {:.4f})", seed000_tail),
    ("docs/calibration.md", "AIC picks **{}**; OU is\nbehind by ΔAIC = {:.2f} and GBM by {:.2f}", compare_best),
    ("docs/calibration.md", "$\\hat\\kappa$ = {:.3g} with 95 %\ninterval [{:.3g}, {:.3g}]", compare_kappa),
    ("docs/calibration.md", "99 % value at risk is {:.4f} with\nexpected shortfall {:.4f}", compare_tail),
    ("docs/symbolic.md", "et.limit(a, 0, \"+\")                                 # {}  (undecided)",
     symbolic_undecided_limit),
    ("docs/symbolic.md", "et.limit(a, 0, \"+\", assume=\"0<Y<1\")                 # {}", symbolic_decided_limit),
    pytest.param("docs/tutorials/mean-field-game.md", "# [{:.4f}, {:.2f}]: no trade vs a selling wave",
                 thin_market_exits, marks=slow),
    pytest.param("docs/research.md", "full equilibria at steps $h = 0.2$ and $0.1$ differ from the tangent by "
                 "{:.2e} and {:.2e} (ratio {:.2f})", research_tangent_vs_fd, marks=slow),
    pytest.param("docs/research.md", "mean residual under the holders' law is {:.2e}, {:.2e} and {:.2e} at 20, 40 "
                 "and 80 cells and steps (observed orders {:.1f} and {:.1f})", research_master_residual, marks=slow),
    pytest.param("docs/research.md", "evaluations per law: {:.2f} cold, {:.2f} warm from the neighbour, {:.2f} "
                 "with the tangent predictor ({:.2f}× and {:.2f}× fewer)", research_warm_starts, marks=slow),
    pytest.param("docs/research.md", "With `\"newton\"`: {:.2f} evaluations per law ({:.2f}× fewer than cold), plus "
                 "{:.2f} population sweeps and {:.1f} tangent products per law", research_warm_starts_newton,
                 marks=slow),
    pytest.param("docs/research.md", "$d_\\text{{thin}} \\approx {:.4f}$ (total exits {:.2f} %)", branches_fold,
                 marks=slow),
    pytest.param("docs/research.md", "a fold at $d_\\text{{thin}} \\approx {:.4f}$ on 50, none on 60, 80 and 120;\n"
                 "the selling wave's total exits at $d_\\text{{thin}} = 0.25$ are {:.2f}, {:.2f}, {:.2f}, {:.2f} and "
                 "{:.2f} %\non 40, 50, 60, 80 and 120", branches_refinement, marks=slow),
    pytest.param("docs/cli.md", "the thin-market example's fold ({:.4f} on 40 cells)",
                 lambda: branches_fold()[:1], marks=slow),
    pytest.param("docs/research.md", "at $\\varepsilon = 0.02$ they are {:.2f} % (40 cells) and {:.2f} % (80)",
                 branches_relaxation, marks=slow),
    pytest.param("docs/research.md", "(`jacobian=\"fd\"`) the same branches, fold and equilibria take {} evaluations "
                 "of $\\Phi$", branches_fd, marks=slow),
    pytest.param("docs/research.md", "hold three equilibria, with total exits {:.2f} %, {:.2f} % (unstable) and "
                 "{:.2f} %; multi-start\nfinds two of them (to $10^{{-6}}$), and one equilibrium above the fold\n"
                 "(`tests/test_mfg_branches.py`; {} evaluations of $\\Phi$)", branches_three, marks=slow),
    pytest.param("docs/model.md", "solves in {} evaluations ({} of them the ladder's failed attempt; {} in the stages {}), "
                 "residual {:.1e}, exploitability {};", steep_stress_repro, marks=slow),
]


def _id(q: Any) -> str:
    vals = q.values if hasattr(q, "values") else q
    return f"{vals[0]}:{vals[2].__name__}"


@pytest.mark.parametrize(("page", "template", "producer"), QUOTES, ids=[_id(q) for q in QUOTES])
def test_quoted_number_is_what_the_code_gives(page, template, producer):
    text = (ROOT / page).read_text(encoding="utf-8")
    filled = template.format(*producer())
    assert filled in text, f"{page} should quote {filled!r} (the template {template!r} filled by {producer.__name__})"
