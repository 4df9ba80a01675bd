"""The exact-in-time scheme ``"expm"`` (:mod:`gelav.fd.expm`) and the automatic mode built on it.

Checked against independent answers: the rational rule against :math:`e^x` itself (and its poles against
the Carathéodory–Fejér recipe the module documents), one step against ``scipy.linalg.expm`` within the
step's own error bound, the Ornstein–Uhlenbeck transition law at several parameters with the space order
measured, Crank–Nicolson stepping converging to it at order 2 in time, the forward/backward duality, the
invariants (mass, positivity, the absorbed/killed ledger) and hostile inputs.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import scipy.linalg
from scipy.stats import norm

from gelav import CIR, BrownianMotion, OrnsteinUhlenbeck, Process, forward, stress_test
from gelav.backward import backward, duality_gap
from gelav.errors import ConvergenceError
from gelav.fd.expm import (
    MAX_TIME_ERROR,
    PHI_WEIGHTS,
    POLES,
    SUP_ERROR,
    WEIGHTS,
    ExpmStep,
    _combine,
    expm_apply,
)
from gelav.fd.generator import Generator, batch_bands
from gelav.fd.grid import TimeGrid
from gelav.fd.schemes import SCHEMES, is_exact
from gelav.grid import Grid

OU = OrnsteinUhlenbeck(0.45, 1.0, 0.32)
P_SEED = float(norm.cdf((-0.5 - (1 - 1.5 * math.exp(-0.9))) / math.sqrt(0.32**2 / 0.9 * -math.expm1(-1.8))))


def _ou_law(kappa: float, mean: float, sigma: float, x0: float, t: float) -> tuple[float, float]:
    """Mean and sd of the OU law, written out here (not gelav's transition)."""
    return mean + (x0 - mean) * math.exp(-kappa * t), sigma * math.sqrt(-math.expm1(-2 * kappa * t) / (2 * kappa))


def _r(x: np.ndarray, w: np.ndarray = WEIGHTS) -> np.ndarray:
    return (w[None, :] / (POLES[None, :] - x[:, None])).imag.sum(axis=1)


# ------------------------------------------------------------------------------------------ the rule
def _cf_poles(n: int = 14, K: int = 75, nf: int = 1024, scl: float = 9.0) -> np.ndarray:
    """The type-(n, n) Carathéodory–Fejér poles of e^x on (-inf, 0] by the recipe of gelav.fd.expm: the
    (n+1)-st singular vector of the Hankel matrix of the Chebyshev coefficients of exp(9(s-1)/(s+1))."""
    w = np.exp(2j * np.pi * np.arange(nf) / nf)
    t = w.real
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        F = np.exp(scl * (t - 1) / (t + 1 + 1e-16))
    c = np.fft.fft(F).real / nf
    idx = 1 + np.arange(K)[:, None] + np.arange(K)[None, :]
    H = np.where(idx <= K, c[np.minimum(idx, K)], 0.0)
    q = np.roots(np.linalg.svd(H)[2][n])
    q = q[np.abs(q) > 1.0]
    assert q.size == n
    z = scl * (q - 1) ** 2 / (q + 1) ** 2
    return np.sort_complex(z[z.imag > 0])


def test_the_poles_are_the_cf_poles_and_the_weights_their_least_squares_fit() -> None:
    z = _cf_poles()
    np.testing.assert_allclose(np.sort_complex(POLES), z, rtol=1e-8)
    x = -np.concatenate(([0.0], np.logspace(-8, 10, 4000), np.linspace(1e-3, 40, 4000)))
    A = 1.0 / (POLES[None, :] - x[:, None])
    for target, w in ((np.exp(x), WEIGHTS), (np.where(x < 0, np.expm1(x) / np.where(x < 0, x, 1.0), 1.0), PHI_WEIGHTS)):
        coef = np.linalg.lstsq(np.hstack([A.imag, A.real]), target, rcond=None)[0]
        fit = coef[:7] + 1j * coef[7:]
        fit = fit / np.sum((fit / POLES).imag)
        np.testing.assert_allclose(fit, w, rtol=1e-6, atol=1e-9)


def test_the_rule_approximates_exp_on_the_negative_axis_to_its_sup_error() -> None:
    x = -np.concatenate(([0.0], np.logspace(-10, 16, 60001), np.linspace(0.0, 50.0, 20001)))
    err = np.abs(_r(x) - np.exp(x))
    assert 1e-15 < err.max() <= SUP_ERROR  # measured 4.0e-14: the bound is not vacuous
    assert abs(_r(np.zeros(1))[0] - 1.0) < 1e-15  # r(0) = 1: the mass is conserved
    phi = np.where(x < 0, np.expm1(x) / np.where(x < 0, x, 1.0), 1.0)
    assert np.abs(_r(x, PHI_WEIGHTS) - phi).max() < 1e-12  # measured 6.0e-13
    # an odd step count of poles would leave a real part: the rule is real by its conjugate pairs
    assert np.all(POLES.imag > 0)


# ------------------------------------------------------------------------------------- one step
def _cases() -> list[tuple[str, Generator]]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # CIR's Feller warning
        cir = CIR(1.0, 0.05, 0.2)
    cir_grid = Grid.graded(0.0, 0.3, 60, ends="lower")
    return [
        ("OU sg", Generator(OU, Grid.uniform(-1.7, 2.46, 130))),
        ("OU sqra", Generator(OU, Grid.uniform(-1.7, 2.46, 130), flux="sqra")),
        ("OU absorbing", Generator(OU, Grid.uniform(-1.0, 2.46, 90), lower="absorbing", upper="absorbing")),
        ("OU killing", Generator(OU, Grid.uniform(-1.7, 2.46, 60), killing=lambda t, x: 0.3 + 0 * x)),
        ("OU killing array", Generator(OU, Grid.uniform(-1.7, 2.46, 60), killing=0.2 + 0.1 * np.linspace(0, 1, 61))),
        ("BM mild drift", Generator(BrownianMotion(0.1, 1.0), Grid.uniform(-5, 5, 65))),
        ("CIR graded (scale-speed chain)", Generator(cir, cir_grid)),
    ]


@pytest.mark.parametrize("T", [0.01, 2.0, 1e4])
@pytest.mark.parametrize("case", range(7))
def test_one_step_matches_scipy_expm_within_its_bound(case: int, T: float) -> None:
    name, gen = _cases()[case]
    A = gen.bands(0.0)
    x = gen.grid.nodes
    p0 = gen.grid.point_mass(float(x[x.size // 3]))
    ref = scipy.linalg.expm(T * A.to_sparse().toarray().T) @ p0
    op = ExpmStep(A, T)
    p, bound = op.forward_bounded(p0)
    err = float(np.abs(p - ref).sum())
    assert err <= bound, (name, err, bound)
    assert bound <= 1e-7  # a bound that says something (these chains are near detailed balance)
    assert p.min() >= 0.0
    if not gen.has_killing and gen.lower == gen.upper == "reflecting":  # mass: conserved to the bound
        assert abs(p.sum() - 1.0) <= bound


def test_backward_step_is_the_transpose() -> None:
    """u = e^{TA} g and p = e^{TA^T} p0 pair to rounding: the dual of every application."""
    _, gen = _cases()[2]
    A = gen.bands(0.0)
    op = ExpmStep(A, 1.5)
    rng = np.random.default_rng(3)
    for _ in range(5):
        g, p0 = rng.random(A.diag.size), rng.random(A.diag.size)
        assert abs(p0 @ op.backward(g) - op.forward(p0) @ g) <= 1e-13 * (p0.sum() * np.abs(g).max())


def test_one_step_backward_error_bound_is_the_backward_bound() -> None:
    """``ExpmStep.error_bound(v, transpose=False)`` is the largest node bound of :func:`backward_step_bound`
    (one way to bound a backward step), and it holds against dense expm."""
    from gelav.fd.expm import backward_step_bound

    _, gen = _cases()[2]
    A = gen.bands(0.0)
    op = ExpmStep(A, 1.5)
    g = np.random.default_rng(5).random(A.diag.size)
    b = op.error_bound(g, transpose=False)
    assert b == float(backward_step_bound(op, g).max())
    exact = scipy.linalg.expm(1.5 * A.to_sparse().toarray()) @ g
    assert float(np.abs(op.backward(g) - exact).max()) <= b


def test_negative_masses_are_rounding_within_the_bound_and_are_cleared() -> None:
    """Deep in the tails the rational approximation leaves negative masses of rounding size; the step
    sets them to 0 only when they lie within its error bound (the exact exponential is >= 0)."""
    for lo, hi, n, T in ((-4.0, 5.0, 200, 2.0), (-3.0, 4.0, 300, 0.2)):
        gen = Generator(OU, Grid.uniform(lo, hi, n))
        op = ExpmStep(gen.bands(0.0), T)
        p0 = gen.grid.point_mass(-0.5)
        raw = op._growth * _combine(op._w, op._solve(p0, True))
        p, bound = op.forward_bounded(p0)
        assert raw.min() < 0.0 and -raw.min() <= bound  # a real clipping case, within the bound
        assert p.min() >= 0.0 and np.array_equal(p[raw >= 0], raw[raw >= 0]) and np.all(p[raw < 0] == 0.0)
        assert float(np.abs(raw[raw < 0]).sum()) <= bound


def test_batch_and_single_chain_give_the_same_numbers() -> None:
    """expm_apply stacks several chains into one LAPACK call: each chain's numbers are those of its own step,
    and batch_bands builds the chains of Generator to the last bit."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cir = CIR(1.0, 0.05, 0.2)
    ladders = [(OU, [Grid.uniform(-1.7, 2.46, n) for n in (16, 32, 64)], "natural"),
               (OU, [Grid.uniform(-1.0, 2.0, n) for n in (20, 40)], "absorbing"),
               (cir, [Grid.graded(0.0, 0.3, n, ends="lower") for n in (20, 40)], "reflecting")]
    for proc, grids, end in ladders:
        bands = batch_bands(proc, grids, ["sg", "sqra"], lower=end, upper=end)
        for (j, f), B in bands.items():
            ref = Generator(proc, grids[j], flux=f, lower=end, upper=end).bands(0.0)
            for k in ("sub", "diag", "sup"):
                assert np.array_equal(getattr(B, k)[1:-1], getattr(ref, k)[1:-1]), (j, f, k)
        keys = list(bands)
        starts = [grids[j].point_mass(float(grids[j].nodes[grids[j].n_nodes // 2])) for j, _ in keys]
        out, bounds = expm_apply([bands[k] for k in keys], starts, 0.7)
        for k, v, o, b in zip(keys, starts, out, bounds, strict=True):
            one, b1 = ExpmStep(bands[k], 0.7).forward_bounded(v)
            assert np.array_equal(o, one) and b == pytest.approx(b1, rel=1e-12)


# ------------------------------------------------------------------ the OU law, order in space
@pytest.mark.parametrize("kappa,mean,sigma,x0,T,c", [
    (0.45, 1.0, 0.32, -0.5, 2.0, -0.5),  # seed 000
    (2.0, 0.0, 0.5, 1.0, 0.5, 0.2),
    (0.1, -1.0, 1.0, 0.0, 5.0, -3.0),
])
def test_ou_law_is_reached_at_second_order_in_space(kappa, mean, sigma, x0, T, c) -> None:  # type: ignore[no-untyped-def]
    """On nested grids with the start and the threshold on nodes (those of the automatic mode), one exact
    step: P(X_T < c) and the density at the nodes against the OU law at several parameters; the errors
    fall like h^2 (time exact: the space error alone)."""
    from gelav.grid import auto_domain
    from gelav.stress import threshold_spacing, uniform_nested_grids

    proc = OrnsteinUhlenbeck(kappa, mean, sigma)
    m, s = _ou_law(kappa, mean, sigma, x0, T)
    exact = float(norm.cdf((c - m) / s))
    lo, hi = auto_domain(proc, x0, T, include=[c])
    grids = uniform_nested_grids(proc, x0, lo, hi, threshold_spacing(x0, c, (hi - lo) / 100), levels=4)
    assert grids is not None
    errs, l1 = [], []
    for g in grids:
        d = forward(proc, x0, T, grid=g, n_steps=1, scheme="expm")
        assert d.diagnostics["scheme"] == "expm" and d.diagnostics["n_steps"] == 1
        assert d.diagnostics["time_error_bound"] <= 1e-8
        errs.append(abs(d.prob(below=c) - exact))
        l1.append(float(np.sum(g.volumes * np.abs(d.at() - norm.pdf(g.nodes, m, s)))))
    cells = [g.n_nodes - 1 for g in grids]
    for e in (errs, l1):
        slope = -np.polyfit(np.log(cells), np.log(e), 1)[0]
        assert 1.85 <= slope <= 2.15, (e, slope)
    assert errs[-1] < errs[0] / 40


def test_seed_numbers_match_the_crank_nicolson_reference_and_cn_converges_to_it_at_order_2() -> None:
    """On one grid the exponential is the limit of Crank–Nicolson as the steps shrink: the gap falls
    like dt^2 (the time error of CN alone), so the exact answer is what the stepping converges to."""
    grid = Grid.aligned(-1.728, 2.464, 200, node=-0.5)
    p_exact = forward(OU, -0.5, 2.0, grid=grid, n_steps=1, scheme="expm").prob(below=-0.5)
    gaps = [abs(forward(OU, -0.5, 2.0, grid=grid, n_steps=m).prob(below=-0.5) - p_exact) for m in (50, 100, 200, 400)]
    slope = -np.polyfit(np.log([50, 100, 200, 400]), np.log(gaps), 1)[0]
    assert 1.8 <= slope <= 2.2, (gaps, slope)
    assert abs(p_exact - P_SEED) < 3e-5  # the space error on 200 cells (2.2e-5 in docs/forward.md)


def test_steps_are_the_saved_times() -> None:
    assert is_exact(SCHEMES["expm"]) and not is_exact(SCHEMES["cn"])
    tg, saved = TimeGrid.for_run(2.0, 200, scheme="expm")
    assert tg.n_steps == 50 and np.array_equal(tg.times, saved) and set(tg.schemes or ()) == {"expm"}
    d = forward(OU, -0.5, 2.0, n_cells=200, scheme="expm", times=[0.5, 1.0])
    assert d.time_grid.n_steps == 3 and np.allclose(d.times, [0.0, 0.5, 1.0, 2.0])
    # one exact step or three: the same law at T to the error bound
    one = forward(OU, -0.5, 2.0, grid=d.grid, n_steps=1, scheme="expm")
    assert np.abs(one.masses[-1] - d.masses[-1]).sum() <= one.diagnostics["time_error_bound"] + \
        d.diagnostics["time_error_bound"] + 1e-14


# ---------------------------------------------------------------------------------- invariants
def test_mass_positivity_and_the_ledger() -> None:
    d = forward(OU, -0.5, 2.0, n_cells=300, scheme="expm")
    assert d.masses.min() >= 0.0 and np.abs(d.masses.sum(axis=1) - 1.0).max() <= 1e-12
    assert d.diagnostics["mass_balance_error"] <= 1e-12 and d.diagnostics["min_mass"] >= 0.0
    k = forward(OU, -0.5, 2.0, domain=(-1.0, 2.46), n_cells=200, scheme="expm", lower="absorbing",
                upper="absorbing", killing=0.2 + 0.05 * np.linspace(0, 1, 202), times=np.linspace(0, 2, 9))
    ledger = k.masses.sum(axis=1) + k.absorbed_lower + k.absorbed_upper + k.killed
    assert k.masses.min() >= 0.0 and np.abs(ledger - 1.0).max() <= 1e-12
    assert np.all(np.diff(k.absorbed_lower) >= 0) and np.all(np.diff(k.killed) > 0)
    assert k.absorbed_lower[-1] > 1e-4  # the barrier at -1 is felt


def test_duality_with_the_backward_exponential() -> None:
    """p_0 . u_0 = p_T . g + what the barriers absorbed, with both sides by the same exponential."""
    d = forward(OU, -0.5, 2.0, domain=(-1.0, 2.0), n_cells=150, scheme="expm", lower="absorbing",
                upper="absorbing", times=np.linspace(0.0, 2.0, 11))
    v = backward(OU, lambda x: (x < 0.3).astype(float), 2.0, grid=d.grid, time_grid=d.time_grid, scheme="expm",
                 lower="knockout", upper=1.0, times=d.time_grid.times)
    gap = duality_gap(v, d, -0.5)
    assert abs(gap["gap"]) <= 1e-13 and 0.1 < gap["backward"] < 0.9


def test_running_reward_by_phi1() -> None:
    """A constant running reward f adds exactly T f without discount (Q1 = 0, so phi_1(TQ) 1 = 1), and
    f (1 - e^{-rT}) / r with a constant discount r: the phi_1 weights of the rule."""
    # x0: the time-error bound is checked at x0 (the grid reaches 8 stationary sd below the mean, where the
    # largest bound over the nodes, 4.6e-5, is refused)
    kw = {"domain": (-1.7, 2.46), "n_cells": 120, "scheme": "expm", "x0": 1.0}
    a = backward(OU, lambda x: x, 2.0, n_steps=4, **kw)
    b = backward(OU, lambda x: x, 2.0, n_steps=4, running=0.25, **kw)
    assert np.abs(b.values[0] - a.values[0] - 0.5).max() < 1e-12
    w = backward(OU, lambda x: 0 * x + 1.0, 2.0, n_steps=1, running=0.25, discount=0.1, **kw)
    exact = math.exp(-0.2) + 0.25 * -math.expm1(-0.2) / 0.1
    assert np.abs(w.values[0] - exact).max() < 1e-11


# ------------------------------------------------------------------------------ automatic mode
def test_stress_tol_is_exact_in_time_for_a_time_homogeneous_process() -> None:
    tol = 1e-6
    r = stress_test(OU, -0.5, 2.0, -0.5, methods=["pde"], tol=tol).results["pde"]
    d = r.details
    assert d["scheme"] == "expm" and d["steps"] == 1 and d["validated"]
    assert d["time_error_bound"] <= 0.01 * tol
    assert abs(r.probability - P_SEED) <= r.error <= tol
    last = d["flux_choice"]["rounds"][-1][d["flux"]]
    assert last["time_error_bound"] <= 0.01 * tol and last["error_estimate"] == r.error
    assert "exact_time" not in d["flux_choice"]
    dens = r.details.get("_density")
    assert dens is None  # popped into the StressResult
    s = stress_test(OU, -0.5, 2.0, -0.5, methods=["pde"], tol=tol)
    assert s.density.diagnostics["scheme"] == "expm" and s.density.times.size == 2
    assert s.density.masses.min() >= 0.0 and abs(s.density.mass() - 1.0) < 1e-12
    # the fan chart (plot, export) re-runs the same exponential with the law saved over time
    from gelav.stress import fan_density

    fan = fan_density(s.density)
    assert fan.times.size == 41 and fan.grid is s.density.grid and fan.diagnostics["scheme"] == "expm"
    assert np.abs(fan.masses[-1] - s.density.masses[-1]).sum() <= fan.diagnostics["time_error_bound"] + 1e-13
    assert fan_density(fan) is fan


def test_stress_tol_above_a_threshold_off_the_start() -> None:
    """P(X_T > c) with c away from the start: the answer within its estimate of the exact law, and the
    unextrapolated answer forward's own on that grid (Density.prob(above=), the same numbers)."""
    from gelav.stress import _nested_grids

    m, s = _ou_law(0.45, 1.0, 0.32, -0.5, 2.0)
    r = stress_test(OU, -0.5, 2.0, 0.3, direction="above", methods=["pde"], tol=1e-6).results["pde"]
    assert r.details["scheme"] == "expm" and abs(r.probability - norm.sf((0.3 - m) / s)) <= r.error <= 1e-6
    grids = _nested_grids(OU, -0.5, 2.0, 0.3, 16, 1e-10, levels=8, clip=True)
    assert grids is not None
    g = next(g for g in grids if g.n_nodes - 1 == r.details["cells"])
    d = forward(OU, -0.5, 2.0, grid=g, n_steps=1, scheme="expm", flux=r.details["flux"])
    assert d.prob(above=0.3) == r.details["unextrapolated"]


def _same_process_declared_time_dependent(proc):  # type: ignore[no-untyped-def]
    """The same model (law, domain) declared time-dependent: no exponential, Crank–Nicolson throughout."""
    import copy

    out = copy.copy(proc)
    out.time_homogeneous = False
    return out


def test_stress_tol_steps_in_time_where_the_bound_refuses_and_for_a_time_dependent_process() -> None:
    """The drift-dominated BM: the chain is far from detailed balance, the exponential's bound refuses it,
    and the search steps in time — the same numbers as the process declared time-dependent (no exponential)."""
    bm = BrownianMotion(2.0, 0.2)
    r = stress_test(bm, 0.0, 1.0, 1.6, methods=["pde"], tol=1e-6, cells=4096).results["pde"]
    note = r.details["flux_choice"]["exact_time"]
    assert r.details["scheme"] == "cn" and not note["used"] and "time-error bound" in note["reason"]
    same = stress_test(_same_process_declared_time_dependent(bm), 0.0, 1.0, 1.6, methods=["pde"], tol=1e-6,
                       cells=4096).results["pde"]
    assert same.probability == r.probability and same.error == r.error
    assert same.details["flux_choice"]["exact_time"]["reason"] == "the process is not time-homogeneous"
    assert abs(r.probability - float(norm.cdf(-2.0))) <= r.error


# -------------------------------------------------------------------------------------- hostile
def test_hostile_inputs() -> None:
    td = Process(lambda t, x: (1 + np.sin(t)) * (0.5 - x), lambda t, x: 0.3 + 0 * x)
    with pytest.raises(ValueError, match=r"scheme='expm'.*depend on time"):
        forward(td, 0.0, 1.0, n_cells=50, scheme="expm")
    with pytest.raises(ValueError, match="scheme='expm'"):
        forward(OU, 0.0, 1.0, n_cells=50, scheme="expm", killing=lambda t, x: 0.1 + 0 * x)
    # a strongly drift-dominated chain: refused with the reason, never a silent wrong number
    with pytest.raises(ValueError, match="cannot certify"):
        forward(BrownianMotion(2.0, 0.2), 0.0, 1.0, n_cells=200, scheme="expm")
    # sigma vanishing inside the domain: one-way faces, no detailed balance, no bound
    flat = Process(lambda t, x: 0.5 + 0 * x, lambda t, x: np.where(np.abs(x) < 0.3, 0.0, 0.4), time_homogeneous=True)
    with pytest.raises(ValueError, match="reversible"):
        forward(flat, -1.0, 1.0, domain=(-2.0, 3.0), n_cells=60, scheme="expm")
    # a negative killing rate over a long step: the growth factor overflows
    with pytest.raises(ValueError, match="overflows"):
        forward(OU, 0.0, 1e4, domain=(-2.0, 4.0), n_cells=40, n_steps=1, scheme="expm", killing=-0.5)
    # a huge horizon: the stationary law N(1, 0.32^2/0.9), mass kept
    d = forward(OU, -0.5, 1e5, domain=(-1.0, 3.0), n_cells=200, n_steps=1, scheme="expm")
    sd = 0.32 / math.sqrt(0.9)
    assert abs(d.mean() - 1.0) < 1e-3 and abs(d.std() - sd) < 1e-3 and abs(d.mass() - 1.0) < 1e-9
    assert d.diagnostics["time_error_bound"] <= MAX_TIME_ERROR
    # a tolerance the budget cannot reach: ConvergenceError with both searches in the history
    # (the exponential's bounds, ~1e-10, exceed tol/100 here: the stepping search runs, and fails)
    with pytest.raises(ConvergenceError, match=r"exact time steps first: .*time-error bound") as info:
        stress_test(OU, -0.5, 2.0, -0.5, methods=["pde"], tol=1e-12, cells=128)
    assert info.value.history and {r["time_scheme"] for r in info.value.history} == {"cn"}
    assert all("cells" in r for r in info.value.history)
    # a budget the exponential's search exhausts: both searches' rounds in the history
    with pytest.raises(ConvergenceError, match="exact time steps first") as info:
        stress_test(OU, -0.5, 2.0, -0.5, methods=["pde"], tol=1e-7, cells=140)
    assert {r["time_scheme"] for r in info.value.history} == {"expm", "cn"}


# ------------------------------------------------------------------------- the backward bound
def _backward_chains() -> list[tuple[str, object, dict]]:  # type: ignore[type-arg]
    """Ten chains for backward(scheme="expm"): process and keywords (grid or domain, boundaries, discount,
    flux), x0 a node of the bulk. Each is built by gelav.backward.backward_problem, as the solver builds it."""
    from gelav import GeometricBrownianMotion

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # CIR's Feller warning
        cir = CIR(1.0, 0.05, 0.2)
    gbm = GeometricBrownianMotion(0.05, 0.2)
    return [
        ("OU sg", OU, {"domain": (-0.5, 2.5), "n_cells": 120, "x0": 0.8}),
        ("OU sqra", OU, {"domain": (-0.5, 2.5), "n_cells": 90, "x0": 0.8, "flux": "sqra"}),
        ("OU knockout / Dirichlet 1", OU, {"domain": (0.0, 2.0), "n_cells": 100, "x0": 0.8, "lower": "knockout",
                                           "upper": 1.0}),
        ("OU discounted", OU, {"domain": (-0.5, 2.5), "n_cells": 60, "x0": 1.2, "discount": 0.05}),
        ("CIR graded grid", cir, {"grid": Grid.graded(0.0, 0.3, 60, ends="lower"), "x0": 0.05}),
        ("GBM uniform grid", gbm, {"domain": (0.3, 3.0), "n_cells": 100, "x0": 1.0}),
        ("GBM log grid, barrier, discount", gbm, {"grid": Grid.logarithmic(0.5, 2.5, 80), "x0": 1.0,
                                                  "lower": "knockout", "discount": 0.03}),
        ("BM mild drift", BrownianMotion(0.1, 1.0), {"domain": (-5.0, 5.0), "n_cells": 64, "x0": 0.0}),
        ("BM drift, absorbing lower", BrownianMotion(0.3, 0.5), {"domain": (-2.0, 2.0), "n_cells": 80, "x0": 0.0,
                                                                  "lower": "knockout"}),
        ("OU negative discount, barriers", OU, {"domain": (0.0, 2.0), "n_cells": 80, "x0": 0.8, "discount": -0.2,
                                                "lower": "knockout", "upper": 1.0}),  # growth e^{0.2 dt}
    ]


def _backward_payoffs(x0: float) -> list[tuple[str, object, object]]:  # type: ignore[type-arg]
    return [("smooth", lambda x: np.cos(x) + 0.5 * x, None),
            ("digital", lambda x: (x > x0).astype(float), None),
            ("running reward", 0.0, lambda x: 1.0 + 0.5 * np.sin(3.0 * x))]


def _dense_backward(proc, payoff, running, T, kw):  # type: ignore[no-untyped-def]
    """The same run by dense scipy.linalg.expm of the same generator (backward_problem builds it as the
    solver does): u_n = e^{dt A} u_{n+1} + dt phi_1(dt A) f (phi_1 by the augmented matrix), with the
    Dirichlet values set before and after every step. Returns the values at t0, the solver's run and the
    per-node bound of BackwardBound along the same steps."""
    from gelav.backward import backward_problem
    from gelav.fd.expm import BackwardBound
    from gelav.fd.stepping import Stepper

    times = np.array([0.0, 0.4 * T, T])
    v = backward(proc, payoff, T, running=running, scheme="expm", times=times, **kw)
    pkw = {k: kw.get(k) for k in ("grid", "domain", "x0")}
    s = backward_problem(proc, payoff, T, discount=kw.get("discount"), running=running, lower=kw.get("lower", "reflecting"),
                         upper=kw.get("upper", "reflecting"), n_cells=kw.get("n_cells", 400), n_steps=200, times=times,
                         time_grid=None, scheme="expm", damping_steps=4, start=0.0, flux=kw.get("flux", "sg"), **pkw)
    assert np.array_equal(s.grid.nodes, v.grid.nodes)
    D = s.generator.bands(0.0).to_sparse().toarray()
    x, tg = s.grid.nodes, s.time_grid.times
    n = x.size
    u = s.terminal.copy()
    s.apply_boundaries(u, float(tg[-1]))
    computed = u.copy()
    stepper = Stepper(s.generator)
    bound = None
    for k in range(s.time_grid.n_steps - 1, -1, -1):
        dt = float(tg[k + 1] - tg[k])
        for w in (u, computed):
            s.lower.before_step(w, 0, float(tg[k + 1]))
            s.upper.before_step(w, -1, float(tg[k + 1]))
        f = None if s.running is None else s.running(0.5 * (tg[k] + tg[k + 1]), x) * s.mask
        aug = np.zeros((n + 1, n + 1))
        aug[:n, :n] = dt * D
        if f is not None:
            aug[:n, n] = dt * f
        E = scipy.linalg.expm(aug)
        u = E[:n, :n] @ u + E[:n, n]
        op = stepper.at(s.time_grid, k)
        bound = bound or BackwardBound(op.bands)
        bound.add(op, computed, f)
        computed = op.backward(computed, f)
        for w in (u, computed):
            s.apply_boundaries(w, float(tg[k]))
    assert np.array_equal(computed, v.values[0])  # the loop above is the solver's
    return u, v, bound.profile()  # type: ignore[union-attr]


@pytest.mark.parametrize("payoff", range(3))
@pytest.mark.parametrize("T", [0.05, 1.0, 20.0])
@pytest.mark.parametrize("chain", range(10))
def test_backward_values_within_their_bound_of_dense_expm(chain: int, T: float, payoff: int) -> None:
    """Three steps of the backward exponential against dense scipy.linalg.expm of the same generator:
    at every node the error is at most the bound there (BackwardBound), the reported bound is its value
    at x0 (point_mass weights) and bounds the error of v.value(x0), and it is not vacuous: within 3e4 of
    the error at x0 (or of rounding, 1e-14 of the largest value, where the error is rounding alone).
    Measured over the 90 cases: bound / error at x0 from 12 to 1.2e4 (errors 1.5e-16 to 1.2e-11, bounds
    2.8e-13 to 8.1e-8, the largest ratios on the GBM grid, whose weights pi vary most); at every node the
    bound is at least 11.9 times the error."""
    name, proc, kw = _backward_chains()[chain]
    pname, g, f = _backward_payoffs(float(kw["x0"]))[payoff]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref, v, prof = _dense_backward(proc, g, f, T, kw)
    err = np.abs(v.values[0] - ref)
    assert np.all(err <= prof), (name, pname, T, float(np.max(err / prof)))
    p0 = v.grid.point_mass(float(kw["x0"]))
    b = v.diagnostics["time_error_bound"]
    assert b == pytest.approx(float(p0 @ prof), rel=1e-12) and v.diagnostics["time_error_bound_max"] == prof.max()
    e0 = abs(float(v.value(kw["x0"])) - float(p0 @ ref))
    scale = float(np.abs(v.values).max())
    assert e0 <= b <= MAX_TIME_ERROR * scale
    assert b <= 3e4 * max(e0, 1e-14 * scale), (name, pname, T, e0, b)


def test_backward_bound_without_x0_is_the_largest_over_the_nodes() -> None:
    """No x0: the reported bound is the largest over the nodes, and bounds every node's error."""
    _, proc, kw = _backward_chains()[2]
    kw = {k: w for k, w in kw.items() if k != "x0"}
    kw["x0"] = None
    ref, v, prof = _dense_backward(proc, lambda x: np.cos(x), None, 1.0, kw)
    assert "time_error_bound_max" not in v.diagnostics
    assert v.diagnostics["time_error_bound"] == prof.max() >= np.abs(v.values[0] - ref).max()
    assert v.diagnostics["time_error_bound"] <= 1e-9


def test_backward_refuses_what_its_bound_cannot_certify() -> None:
    """A strongly drift-dominated chain (the weights pi grow like e^{100 x}) is refused even at x0, and a
    grid reaching 8 stationary sd into a tail without x0 is refused where its bound is largest (4.6e-5
    at x = -1.7) and accepted with x0 (the bound there 1.3e-10); never a silent wrong number."""
    with pytest.raises(ValueError, match=r"scheme='expm' cannot certify.*at x0 = 0.*drift-dominated.*scheme='cn'"):
        backward(BrownianMotion(2.0, 0.2), lambda x: (x > 1.0).astype(float), 1.0, domain=(-0.5, 2.5), x0=0.0,
                 n_cells=200, scheme="expm")
    kw = {"domain": (-1.7, 2.46), "n_cells": 120, "scheme": "expm", "n_steps": 4}
    with pytest.raises(ValueError, match=r"scheme='expm' cannot certify.*at x = -1.7.*far tail.*x0=.*scheme='cn'"):
        backward(OU, lambda x: x, 2.0, **kw)
    ok = backward(OU, lambda x: x, 2.0, x0=1.0, **kw)
    assert ok.diagnostics["time_error_bound"] < 1e-9 < MAX_TIME_ERROR < ok.diagnostics["time_error_bound_max"]
    # Crank–Nicolson is what the message suggests: the same problem, no bound and no refusal
    cn = backward(OU, lambda x: x, 2.0, **{**kw, "scheme": "cn"})
    assert "time_error_bound" not in cn.diagnostics
    # an x0 off the grid is an error naming it
    with pytest.raises(ValueError, match="`x0`"):
        backward(OU, lambda x: x, 2.0, grid=ok.grid, x0=5.0, scheme="expm")


def test_phi_rule_error_is_within_phi_sup_error() -> None:
    """The running reward's rule: its sup error on the negative axis within PHI_SUP_ERROR (measured 6.0e-13),
    and a shifted rule's (a negative killing rate) measured bound above its own measured error."""
    from gelav.fd.expm import PHI_SUP_ERROR, phi_sup_error, rational_rule

    x = -np.concatenate(([0.0], np.logspace(-10, 16, 60001), np.linspace(0.0, 50.0, 20001)))
    phi = np.where(x < 0, np.expm1(x) / np.where(x < 0, x, 1.0), 1.0)
    err = float(np.abs(_r(x, PHI_WEIGHTS) - phi).max())
    assert 1e-14 < err <= PHI_SUP_ERROR == phi_sup_error(0.0)
    c = 0.3
    y = x + c
    w = rational_rule(c)[1]
    err_c = float(np.abs(_r(x, w) - np.where(y != 0, np.expm1(y) / np.where(y != 0, y, 1.0), 1.0)).max())
    assert err_c <= phi_sup_error(c) <= 1e-9
