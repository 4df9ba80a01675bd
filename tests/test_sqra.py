"""The square-root-approximation (SqRA) flux and the accuracy-driven flux choice.

Checked here: the SqRA generator is a generator (non-negative rates, rows summing to minus the
killing rate, absorbing rows zero) for every boundary class and at singular ends; it has the
same detailed balance as Scharfetter–Gummel; it converges at order 2 to closed forms (OU, BM
with drift) with a smaller constant on the seed's OU; it conserves mass and is dual to the
backward solver with the same flux; ``forward(flux="auto")`` and ``stress_test(tol=)`` choose by
error estimates (never the process's name) and the latter meets its tolerance on several models.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from scipy.stats import ncx2, norm

from gelav import CIR, BrownianMotion, GeometricBrownianMotion, Grid, OrnsteinUhlenbeck, Process
from gelav.backward import backward, duality_gap
from gelav.errors import ConvergenceError
from gelav.fd.discretization import Discretization
from gelav.fd.generator import FLUXES, Generator, fitted_bands, sqra_from_fitted, sqra_rates
from gelav.forward import forward
from gelav.stress import _nested_grids, refinement_estimate, stress_test

OU = OrnsteinUhlenbeck(0.45, 1.0, 0.32)
P_SEED = float(norm.cdf((-0.5 - (1 - 1.5 * math.exp(-0.9))) / math.sqrt(0.32**2 / 0.9 * (1 - math.exp(-1.8)))))


def _cir(kappa: float, mean: float, sigma: float) -> CIR:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the Feller warning of the non-Feller model
        return CIR(kappa, mean, sigma)


def _cir_cdf(k: float, th: float, s: float, x0: float, t: float, c: float) -> float:
    """P(X_t < c) of CIR from the non-central chi-square law (independent of gelav's transition)."""
    scale = s * s * (1 - math.exp(-k * t)) / (4 * k)
    return float(ncx2.cdf(c / scale, 4 * k * th / s**2, x0 * math.exp(-k * t) / scale))


# time-dependent OU: dX = K (1 + A sin(W t) - X) dt + S dW, normal law with the mean below
K, A, W, S = 1.0, 0.5, 2 * math.pi, 0.3


def _td_ou() -> Process:
    return Process(lambda t, x: K * (1 + A * math.sin(W * t) - x), lambda t, x: S + 0 * x)


def _td_ou_cdf(x0: float, t: float, c: float) -> float:
    e = math.exp(-K * t)
    mean = x0 * e + 1 - e + A * K * ((K * math.sin(W * t) - W * math.cos(W * t)) + W * e) / (K * K + W * W)
    return float(norm.cdf((c - mean) / math.sqrt(S**2 / (2 * K) * (1 - math.exp(-2 * K * t)))))


# ------------------------------------------------------------------------------------------ rates
def test_sqra_rates_closed_form_upwind_limit_and_overflow() -> None:
    D = np.array([0.05, 0.05, 0.0, 0.0])
    c = np.array([0.3, -0.2, 0.7, -0.4])
    h = np.full(4, 0.1)
    up, down = sqra_rates(D, c, h)
    z = c[:2] * h[:2] / D[:2]
    assert np.allclose(up[:2], D[:2] / h[:2] * np.exp(z / 2), rtol=1e-14, atol=0)
    assert np.allclose(down[:2], D[:2] / h[:2] * np.exp(-z / 2), rtol=1e-14, atol=0)
    assert up[2:].tolist() == [0.7, 0.0] and down[2:].tolist() == [0.0, 0.4]  # no diffusion: upwind
    with pytest.raises(ValueError, match="overflow"):
        sqra_rates(np.array([1e-6]), np.array([1.0]), np.array([1.0]))  # cell Péclet number 1e6


def test_sqra_from_fitted_maps_scharfetter_gummel_onto_sqra() -> None:
    grid = Grid.stretched(-1.7, 2.5, 80, center=-0.5, intensity=4.0)
    x = grid.nodes
    xm = 0.5 * (x[1:] + x[:-1])
    D = 0.5 * (0.3 + 0.2 * np.sin(xm)) ** 2
    a_node = (0.3 + 0.2 * np.sin(x)) ** 2
    c = 0.45 * (1 - xm) - 0.5 * np.diff(a_node) / grid.spacing
    sub, _, sup = fitted_bands(D, c, grid)
    s2, u2 = sqra_from_fitted(sub, sup, grid.volumes)
    sq_sub, _, sq_sup = fitted_bands(D, c, grid, flux="sqra")
    assert np.allclose(s2, sq_sub, rtol=1e-13, atol=0) and np.allclose(u2, sq_sup, rtol=1e-13, atol=0)


def _generators() -> list[tuple[str, Generator, float]]:
    td = _td_ou()
    return [
        ("OU reflecting", Generator(OU, Grid.uniform(-1.7, 2.5, 60), flux="sqra"), 0.0),
        ("BM absorbing + killing", Generator(BrownianMotion(1.0, 0.5), Grid.uniform(-1.0, 3.0, 50), lower="absorbing",
                                             killing=lambda t, x: 0.1 + 0.05 * x**2, flux="sqra"), 0.0),
        ("GBM logarithmic grid", Generator(GeometricBrownianMotion(0.05, 0.3), Grid.logarithmic(0.05, 5.0, 60),
                                           upper="absorbing", flux="sqra"), 0.0),
        ("CIR non-Feller (regular end)", Generator(_cir(0.5, 0.04, 0.3), Grid.graded(0.0, 0.5, 60, ends="lower"),
                                                   flux="sqra"), 0.0),
        ("CIR Feller (entrance end)", Generator(_cir(1.0, 0.05, 0.2), Grid.graded(0.0, 0.4, 60, ends="lower"),
                                                flux="sqra"), 0.0),
        ("time-dependent OU at t=0.3", Generator(td, Grid.uniform(-1.5, 2.5, 60), killing=0.2, flux="sqra"), 0.3),
    ]


@pytest.mark.parametrize("name,gen,t", _generators(), ids=[g[0] for g in _generators()])
def test_sqra_generator_is_a_generator(name: str, gen: Generator, t: float) -> None:
    with np.errstate(divide="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # log(0) of the end-cell quadrature weights
        b = gen.bands(t)
    k = gen.killing_rate(t)
    if gen.lower == "absorbing":
        k[0] = 0.0
    if gen.upper == "absorbing":
        k[-1] = 0.0
    assert np.all(b.sub >= 0) and np.all(b.sup >= 0)
    assert b.sub[0] == 0 and b.sup[-1] == 0
    scale = float(np.max(np.abs(b.diag)))
    assert np.max(np.abs(b.sub + b.diag + b.sup + k)) <= 1e-13 * scale  # rows sum to minus the killing rate
    for side, i in (("lower", 0), ("upper", -1)):
        if getattr(gen, side) == "absorbing":
            assert b.sub[i] == 0 and b.sup[i] == 0 and b.diag[i] == 0  # a stopped state
    # same detailed balance as Scharfetter–Gummel: q_{i,i+1} / q_{i+1,i} face by face
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        sg = Generator(gen.process, gen.grid, lower=gen.boundaries[0], upper=gen.boundaries[1],
                       killing=gen._killing, flux="sg").bands(t)
    lo = 1 if gen.lower == "absorbing" else 0
    hi = gen.n - 2 if gen.upper == "absorbing" else gen.n - 1
    inner = slice(lo, hi)
    both = (sg.sup[:-1][inner] > 0) & (sg.sub[1:][inner] > 0)
    with np.errstate(divide="ignore", invalid="ignore"):  # faces with a zero rate are left out
        ratio_sqra = b.sup[:-1][inner] / b.sub[1:][inner]
        ratio_sg = sg.sup[:-1][inner] / sg.sub[1:][inner]
    assert both.sum() >= gen.n - 4
    assert np.allclose(ratio_sqra[both], ratio_sg[both], rtol=1e-12, atol=0)
    assert not np.allclose(b.sup, sg.sup, rtol=1e-6)  # and it is another flux


def test_sqra_keeps_the_singular_end_cell() -> None:
    """At a singular end the end cell keeps the scale–speed integrals (they carry the Feller class)."""
    grid = Grid.graded(0.0, 0.5, 40, ends="lower")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        sg = Generator(_cir(0.5, 0.04, 0.3), grid).bands()
        sq = Generator(_cir(0.5, 0.04, 0.3), grid, flux="sqra").bands()
    assert sq.sup[0] == sg.sup[0] and sq.sub[1] == sg.sub[1]
    assert np.all(sq.sup[1:-1] > sg.sup[1:-1])  # elsewhere the geometric mean exceeds the logarithmic one


# ------------------------------------------------------------------------------------ convergence
@pytest.mark.parametrize("case", ["ou", "bm"])
def test_sqra_converges_at_order_two(case: str) -> None:
    """P(X_T < c) on three nested grids (x0 and c on nodes, steps doubling): order 2 and the
    errors against the closed form falling by 4 per refinement; on the seed's OU the SqRA error
    is an order of magnitude below Scharfetter–Gummel's (the module's claim)."""
    if case == "ou":
        proc, x0, T, c, exact = OU, -0.5, 2.0, -0.5, P_SEED
    else:
        proc, x0, T, c = BrownianMotion(1.0, 0.5), 0.0, 1.0, 0.2
        exact = float(norm.cdf((c - 1.0) / 0.5))
    grids = _nested_grids(proc, x0, T, c, 32, 1e-10, levels=4)
    assert grids is not None
    err = {}
    for flux in FLUXES:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the 32-cell grid trips the cells-per-sd warning
            ps = [forward(proc, x0, T, grid=g, n_steps=16 * 2**j, flux=flux).prob(below=c)
                  for j, g in enumerate(grids)]
        e = np.abs(np.array(ps) - exact)
        err[flux] = e
        if flux == "sqra":
            ref = refinement_estimate(ps[1:], True)
            assert abs(ref.order - 2.0) <= 0.25, ref
            assert np.all((e[:-1] / e[1:] > 3.0) & (e[:-1] / e[1:] < 5.0)), e
            assert abs(ref.value - exact) <= ref.error  # its Richardson estimate bounds the error
    if case == "ou":
        assert err["sqra"][-1] < err["sg"][-1] / 5


def test_sqra_conserves_mass_and_accounts_for_absorption_and_killing() -> None:
    d = forward(OU, -0.5, 2.0, n_cells=100, n_steps=50, flux="sqra")
    assert d.diagnostics["flux"] == "sqra"
    assert d.diagnostics["mass_balance_error"] <= 1e-13 and abs(d.mass() - 1) <= 1e-13
    d = forward(OU, 0.0, 2.0, domain=(-0.3, 2.0), lower="absorbing", upper="reflecting", killing=lambda t, x: 0.2 + 0 * x,
                n_cells=100, n_steps=50, flux="sqra")
    total = d.mass() + d.absorbed_lower[-1] + d.killed[-1]
    assert d.absorbed_lower[-1] > 1e-3 and d.killed[-1] > 0.1
    assert abs(total - 1) <= 1e-12 and d.diagnostics["mass_balance_error"] <= 1e-12


def test_sqra_forward_is_dual_to_sqra_backward() -> None:
    grid = Grid.uniform(-0.5, 2.5, 120)
    x0 = 0.5
    v = backward(OU, lambda x: np.maximum(x - 1.0, 0.0), 1.5, grid=grid, lower="knockout", n_steps=60,
                 flux="sqra")
    v = backward(OU, lambda x: np.maximum(x - 1.0, 0.0), 1.5, grid=grid, lower="knockout", time_grid=v.time_grid,
                 times=v.time_grid.times, flux="sqra")
    assert v.diagnostics["flux"] == "sqra"
    d = forward(OU, x0, 1.5, grid=grid, lower="absorbing", time_grid=v.time_grid, times=v.time_grid.times,
                flux="sqra")
    gap = duality_gap(v, d, x0)
    assert abs(gap["gap"]) <= 1e-13 * abs(gap["backward"])
    v_sg = backward(OU, lambda x: np.maximum(x - 1.0, 0.0), 1.5, grid=grid, lower="knockout", n_steps=60)
    assert abs(v_sg.value(x0) - v.value(x0)) > 1e-6  # the flux is really used


# ---------------------------------------------------------------------------------- the choice
def test_forward_auto_chooses_by_the_estimate_and_says_why() -> None:
    d = forward(OU, -0.5, 2.0, n_cells=100, n_steps=50, flux="auto", include=[-0.5])
    choice = d.diagnostics["flux_choice"]
    assert choice["chosen"] == d.diagnostics["flux"] == "sqra"
    assert set(choice["candidates"]) == set(FLUXES) and "validated" in choice["reason"]
    est = {f: v["error_estimate"] for f, v in choice["candidates"].items()}
    assert est["sqra"] < est["sg"]
    same = forward(OU, -0.5, 2.0, n_cells=100, n_steps=50, flux="sqra", include=[-0.5])
    assert np.array_equal(same.masses, d.masses)  # the chosen run, not another one
    # the estimate is of the run returned: the error of P(X_2 < -0.5) (1.31e-5) is the estimate (1.30e-5)
    # to within the factor two an h^2 estimate from an observed order of 2 +- 0.25 allows
    assert 0.5 <= abs(d.prob(below=-0.5) - P_SEED) / est["sqra"] <= 2.0
    # a callback sees the chosen run only
    seen: list[float] = []
    forward(OU, -0.5, 2.0, n_cells=100, n_steps=50, flux="auto", callback=lambda t, m: seen.append(t))
    assert len(seen) == d.diagnostics["n_steps"]


def test_forward_auto_keeps_scharfetter_gummel_without_a_validated_estimate() -> None:
    """Drift-dominated BM (cell Péclet number ~15): SqRA's rates e^{z/2} send the mass to the far end
    on every grid (small changes, no order 2): the choice stays with the default."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        d = forward(BrownianMotion(5.0, 0.1), 0.0, 1.0, n_cells=400, n_steps=200, flux="auto")
    choice = d.diagnostics["flux_choice"]
    assert choice["chosen"] == "sg" and not any(v["validated"] for v in choice["candidates"].values())
    assert "no flux has a validated estimate" in choice["reason"]


def test_flux_arguments_are_checked() -> None:
    with pytest.raises(ValueError, match="`flux`"):
        forward(OU, -0.5, 2.0, flux="upwind")
    with pytest.raises(ValueError, match="`flux`"):
        Generator(OU, Grid.uniform(-1, 3, 20), flux="auto")  # the generator needs a concrete flux
    with pytest.raises(ValueError, match="`flux`"):
        Discretization(flux="central")
    with pytest.raises(ValueError, match="`flux`"):
        backward(OU, lambda x: x, 1.0, domain=(-1, 3), flux="auto")
    disc = Discretization(n_cells=100, n_steps=50, flux="sqra")
    assert np.array_equal(forward(OU, -0.5, 2.0, discretization=disc).masses,
                          forward(OU, -0.5, 2.0, n_cells=100, n_steps=50, flux="sqra").masses)
    from gelav.stopping import optimal_stopping

    with pytest.raises(TypeError, match=r"discretization\.flux"):  # a flux the solver would ignore
        optimal_stopping(OU, lambda x: np.maximum(1 - x, 0), 1.0,
                         discretization=Discretization(domain=(-1, 3), n_cells=100, n_steps=50, flux="sqra"))


# ----------------------------------------------------------------------------- stress to a tol
MODELS = {
    "OU seed": (OU, -0.5, 2.0, -0.5, P_SEED),
    "BM with drift": (BrownianMotion(1.0, 0.5), 0.0, 1.0, 0.2, float(norm.cdf(-1.6))),
    "BM drift-dominated": (BrownianMotion(2.0, 0.2), 0.0, 1.0, 1.6, float(norm.cdf(-2.0))),
    "GBM": (GeometricBrownianMotion(0.05, 0.3), 1.0, 1.0, 0.6, float(norm.cdf((math.log(0.6) - 0.005) / 0.3))),
    "CIR Feller": (_cir(1.0, 0.05, 0.2), 0.05, 1.0, 0.02, _cir_cdf(1.0, 0.05, 0.2, 0.05, 1.0, 0.02)),
    "CIR non-Feller": (_cir(0.5, 0.04, 0.3), 0.04, 1.0, 0.005, _cir_cdf(0.5, 0.04, 0.3, 0.04, 1.0, 0.005)),
    "OU time-dependent": (_td_ou(), 0.0, 1.0, 0.2, _td_ou_cdf(0.0, 1.0, 0.2)),
}


@pytest.mark.parametrize("name", list(MODELS))
def test_stress_tol_meets_its_tolerance(name: str) -> None:
    proc, x0, T, c, exact = MODELS[name]
    tol = 1e-6
    r = stress_test(proc, x0, T, c, methods=["pde"], tol=tol, cells=4096).results["pde"]
    assert r.error <= tol and abs(r.probability - exact) <= tol, (r.probability - exact, r.error)
    d = r.details
    assert d["validated"] and d["tol"] == tol and d["flux"] in FLUXES
    choice = d["flux_choice"]
    assert choice["chosen"] == d["flux"] and choice["reason"] and choice["rounds"]
    last = choice["rounds"][-1][d["flux"]]
    assert last["validated"] and last["error_estimate"] == r.error
    # the answer is the pair extrapolation of the finest two PDE answers (the method's Richardson)
    p1, p2 = last["probabilities"][1:]
    assert r.probability == p2 + (p2 - p1) / 3


def test_stress_tol_answer_is_forward_on_the_nested_grids() -> None:
    r = stress_test(OU, -0.5, 2.0, -0.5, methods=["pde"], tol=1e-6).results["pde"]
    flux, cells = r.details["flux"], r.details["cells"]
    grids = _nested_grids(OU, -0.5, 2.0, -0.5, 16, 1e-10, levels=8, clip=True)
    assert grids is not None
    j = next(i for i, g in enumerate(grids) if g.n_nodes - 1 == cells)
    p = forward(OU, -0.5, 2.0, grid=grids[j], n_steps=r.details["steps"], flux=flux,
                scheme=r.details["scheme"]).prob(below=-0.5)
    assert p == r.details["unextrapolated"]


def test_stress_tol_decides_by_the_estimate_not_the_name() -> None:
    """The seed's OU as an anonymous Process (no family, no parameters): the same choice, the same numbers."""
    anon = Process(lambda t, x: 0.45 * (1.0 - x), lambda t, x: 0.32 + 0 * x, time_homogeneous=True)
    a = stress_test(OU, -0.5, 2.0, -0.5, methods=["pde"], tol=1e-6).results["pde"]
    b = stress_test(anon, -0.5, 2.0, -0.5, methods=["pde"], tol=1e-6).results["pde"]
    assert a.details["flux"] == b.details["flux"]
    assert abs(a.probability - b.probability) <= a.error + b.error


def test_stress_tol_arguments_and_budget() -> None:
    for bad in (0.0, 1.0, -1e-6, math.nan):
        with pytest.raises(ValueError, match="`tol`"):
            stress_test(OU, -0.5, 2.0, -0.5, methods=["pde"], tol=bad)
    with pytest.raises(ValueError, match="`steps` or `tol`"):
        stress_test(OU, -0.5, 2.0, -0.5, methods=["pde"], tol=1e-6, steps=100)
    with pytest.raises(ValueError, match="`cells`"):
        stress_test(OU, -0.5, 2.0, -0.5, methods=["pde"], tol=1e-6, cells=32)
    with pytest.raises(ConvergenceError) as info:
        stress_test(OU, -0.5, 2.0, -0.5, methods=["pde"], tol=1e-12, cells=128)
    history = info.value.history
    assert isinstance(history, list) and history and "cells" in history[-1]


def test_stress_tol_screening_and_its_fallback() -> None:
    """Both fluxes run on the two coarsest grids; the smaller screening estimate is refined first. On the
    seed's OU that is SqRA, validated on the third grid; on the drift-dominated BM SqRA's answers agree
    (all the mass at the far end) but never validate, so Scharfetter–Gummel joins and is chosen."""
    seed = stress_test(OU, -0.5, 2.0, -0.5, methods=["pde"], tol=1e-6).results["pde"].details["flux_choice"]
    assert set(seed["rounds"][0]["screening_estimates"]) == set(FLUXES)
    assert seed["rounds"][0]["decision"].startswith("sqra") and seed["chosen"] == "sqra"
    assert "sg" not in seed["rounds"][-1]  # SG never ran on the finest grid
    proc, x0, T, c, _ = MODELS["BM drift-dominated"]
    bm = stress_test(proc, x0, T, c, methods=["pde"], tol=1e-6, cells=4096).results["pde"].details["flux_choice"]
    assert bm["rounds"][0]["decision"].startswith("sqra")
    assert any("join" in r.get("decision", "") for r in bm["rounds"])
    assert bm["chosen"] == "sg"
