"""McKean–Vlasov (seed 001): particles, nonlinear Fokker–Planck and the exact Gaussian law agree."""

from __future__ import annotations

import importlib
import json
import math

import numpy as np
import pytest
from click.testing import CliRunner
from scipy import integrate as sint
from scipy import stats

from gelav import tasks
from gelav.errors import ConvergenceError
from gelav.mckean_vlasov import (
    McKeanVlasov,
    MeanFieldOU,
    propagation_of_chaos,
    simulate_particles,
    solve_fokker_planck,
)

MV = MeanFieldOU(0.45, 1.0, 0.32, lam=0.5)


def slope(x, y):
    return float(np.polyfit(np.log(x), np.log(y), 1)[0])


def test_exact_law_solves_the_moment_odes():
    # m' = κ(L̄ - m), v' = -2(κ+λ)v + σ² integrated numerically from a Gaussian start
    m0, v0 = -0.5, 0.02
    sol = sint.solve_ivp(lambda t, y: [0.45 * (1.0 - y[0]), -2 * 0.95 * y[1] + 0.32**2], (0, 2.0), [m0, v0],
                         rtol=1e-11, atol=1e-13)
    law = MV.law(2.0, stats.norm(m0, math.sqrt(v0)))
    assert law.mean() == pytest.approx(sol.y[0, -1], abs=1e-9)
    assert law.var() == pytest.approx(sol.y[1, -1], abs=1e-9)
    # λ = 0 is the plain OU transition
    from gelav import OrnsteinUhlenbeck

    ou = OrnsteinUhlenbeck(0.45, 1.0, 0.32)
    assert MeanFieldOU(0.45, 1.0, 0.32, lam=0.0).law(2.0, -0.5).var() == pytest.approx(ou.conditional_var(-0.5, 2.0))


def test_light_normal_law_is_the_scipy_law_to_the_last_bit():
    # normal_law (no scipy.stats import, the command's path) gives law's numbers exactly
    x = np.linspace(-2.0, 3.0, 501)
    q = np.r_[np.linspace(0.001, 0.999, 99), 0.5e-10]
    for t, initial in ((0.5, -0.5), (2.0, -0.5), (2.0, stats.norm(0.3, 0.2)), (0.0, stats.norm(1.0, 0.5))):
        ref, light = MV.law(t, initial), MV.normal_law(t, initial)
        assert (light.mean(), light.std(), light.var()) == (ref.mean(), ref.std(), ref.var())
        for name, arg in (("pdf", x), ("cdf", x), ("ppf", q)):
            assert np.array_equal(getattr(light, name)(arg), getattr(ref, name)(arg)), (name, t)
    with pytest.raises(ValueError, match="scale"):  # a point mass has no normal density
        MV.normal_law(0.0, -0.5)


@pytest.mark.parametrize("scheme", ["exact", "euler"])
def test_particles_match_exact_law_within_4_stderr(scheme):
    n_steps = 4 if scheme == "exact" else 200
    ps = simulate_particles(MV, -0.5, 2.0, n_steps, 5000, n_systems=40, scheme=scheme, seed=5)
    law = MV.law(2.0, -0.5)
    means, vars_ = ps.mean[-1], ps.var[-1]
    se_m = means.std(ddof=1) / math.sqrt(means.size)
    se_v = vars_.std(ddof=1) / math.sqrt(vars_.size)
    assert abs(means.mean() - law.mean()) < 4 * se_m
    if scheme == "exact":
        # E[sample var] = v(T)(1 - 1/N·...) — the deviation part has N-1 d.o.f. and rate κ+λ exactly
        assert abs(vars_.mean() - law.var()) < 4 * se_v
    else:
        # Euler bias of the variance is O(Δt): the AR(1) law of the scheme gives it exactly
        h, a = 2.0 / n_steps, 1 - 0.95 * 2.0 / n_steps
        v_euler = 0.32**2 * h * (1 - a ** (2 * n_steps)) / (1 - a * a)
        assert abs(vars_.mean() - v_euler) < 4 * se_v
    # the functional seen by the drift is the empirical mean
    np.testing.assert_allclose(ps.m, ps.mean)


def test_general_functional_matches_mean_field_ou():
    # the same model written with a user functional: E[X] via a lambda, drift reads m
    gen = McKeanVlasov(lambda t, x, m: 0.45 * (1.0 - x) + 0.5 * (m - x), lambda t, x: 0.32 + 0 * x,
                       functional=lambda x, w: (x * w).sum(axis=-1))
    a = simulate_particles(gen, -0.5, 1.0, 20, 500, n_systems=3, seed=3)
    b = simulate_particles(MV, -0.5, 1.0, 20, 500, n_systems=3, seed=3)
    np.testing.assert_allclose(a.final, b.final, rtol=1e-12, atol=1e-12)


def test_mean_field_ou_euler_step_is_the_generic_step_to_the_last_bit():
    # MeanFieldOU's in-place Euler step against the generic one (drift() and diffusion() arrays) on the
    # same coefficients and draws: the same operations in the same order, so the same bits
    gen = McKeanVlasov(lambda t, x, mu: 0.45 * (1.0 - x) + 0.5 * (mu - x), lambda t, x: np.full_like(x, 0.32))
    for n_systems, start in ((4, -0.5), (1, stats.norm(0.2, 0.3))):
        a = simulate_particles(gen, start, 2.0, 40, 3000, n_systems=n_systems, seed=9)
        b = simulate_particles(MV, start, 2.0, 40, 3000, n_systems=n_systems, seed=9)
        for name in ("m", "mean", "var", "final"):
            assert np.array_equal(getattr(a, name), getattr(b, name)), name
        # the recorded moments are NumPy's mean and variance of the particles, to the last bit
        assert np.array_equal(b.mean[-1], b.final.mean(axis=1))
        assert np.array_equal(b.var[-1], b.final.var(axis=1, ddof=1))
        assert np.array_equal(b.m[-1], np.sum(b.final * np.full(3000, 1 / 3000), axis=-1))

    class Pushed(MeanFieldOU):  # a subclass with its own drift keeps it (the in-place step is not used)
        def drift(self, t, x, m):
            return super().drift(t, x, m) + 1.0

    pushed = McKeanVlasov(lambda t, x, mu: 0.45 * (1.0 - x) + 0.5 * (mu - x) + 1.0, lambda t, x: np.full_like(x, 0.32))
    c = simulate_particles(Pushed(0.45, 1.0, 0.32, lam=0.5), -0.5, 1.0, 20, 500, n_systems=2, seed=4)
    d = simulate_particles(pushed, -0.5, 1.0, 20, 500, n_systems=2, seed=4)
    assert np.array_equal(c.final, d.final)


def test_normal_draws_ahead_are_the_draws_step_by_step(monkeypatch):
    """Drawn ahead in a thread (blocks of several steps, the last one short) or step by step: the same
    normals and the same generator state after the last; closing early ends the thread."""
    import threading

    import gelav.processes.mckean_vlasov as mod

    shape, n_steps = (3, 40_000), 23  # 2**18 // 120000 = 2 steps a block: 11 full blocks and one of 1
    seq = np.random.default_rng(5)
    expected = [seq.standard_normal(shape) for _ in range(n_steps)]
    after = seq.standard_normal(4)
    monkeypatch.setattr(mod, "_usable_cpus", lambda: 2)
    threads = threading.active_count()
    for ahead in (1, 10**12):  # in a thread, and in the loop
        monkeypatch.setattr(mod, "DRAW_AHEAD", ahead)
        rng = np.random.default_rng(5)
        got = [z.copy() for z in mod._normal_draws(rng, shape, n_steps)]
        assert len(got) == n_steps and all(np.array_equal(a, b) for a, b in zip(got, expected, strict=True))
        assert np.array_equal(rng.standard_normal(4), after)  # the generator where the draws left it
        assert threading.active_count() == threads
    monkeypatch.setattr(mod, "DRAW_AHEAD", 1)
    draws = mod._normal_draws(np.random.default_rng(5), shape, n_steps)
    assert np.array_equal(next(draws), expected[0])
    assert threading.active_count() == threads + 1
    draws.close()
    assert threading.active_count() == threads


def test_task_forks_the_fokker_planck_solve_with_the_same_numbers(request, monkeypatch):
    """The task's nonlinear Fokker–Planck solve, in a forked child beside the particles or here: the
    same table, the same masses, the model attached."""
    import os
    import sys

    if not sys.platform.startswith("linux"):
        pytest.skip("forks on Linux only")
    from test_report_figures import _ran_elsewhere

    if _ran_elsewhere(request):
        return
    import importlib

    import gelav.mckean_vlasov as mod
    from gelav import tasks

    task = importlib.import_module("gelav.tasks.mckean_vlasov")  # the module (the package exports the function)

    solve, rule = mod.solve_fokker_planck, task._fork_fokker_planck

    def solve_and_say_where(*args, **kwargs):
        d = solve(*args, **kwargs)
        d.diagnostics["pid"] = os.getpid()
        return d

    monkeypatch.setattr(mod, "solve_fokker_planck", solve_and_say_where)
    opts = {"particles": 2000, "systems": 3, "steps": 40, "cells": 120, "seed": 2}
    runs = {}
    for fork in (False, True):
        monkeypatch.setattr(task, "_fork_fokker_planck", lambda cells, n_steps, fork=fork: fork)
        runs[fork] = tasks.mckean_vlasov(**opts)
    here, child = runs[False], runs[True]
    assert here.pde.diagnostics["pid"] == os.getpid() != child.pde.diagnostics["pid"]
    assert child.pde.process is child.model and here.pde.process is here.model
    assert np.array_equal(here.pde.masses, child.pde.masses)
    strip = lambda d: {k: strip(v) for k, v in d.items() if k != "seconds"} if isinstance(d, dict) else d  # noqa: E731
    assert strip(here.data) == strip(child.data)
    # the rule: fork a short solve when SciPy's LAPACK is still to be imported
    monkeypatch.delitem(sys.modules, "scipy.linalg")
    assert rule(400, 200) and not rule(4000, 2000)
    monkeypatch.undo()
    assert "scipy.linalg" in sys.modules and not rule(400, 200)


def test_nonlinear_fokker_planck_second_order():
    law = MV.law(2.0, -0.5)
    errs = []
    for nc, ns in ((100, 50), (200, 100), (400, 200)):
        d = solve_fokker_planck(MV, -0.5, 2.0, n_cells=nc, n_steps=ns)
        errs.append(abs(d.var() - law.var()) + abs(d.mean() - law.mean()) + abs(d.prob(below=0.0) - law.cdf(0.0)))
        assert d.diagnostics["mass_balance_error"] < 1e-12
        assert d.diagnostics["min_mass"] > -1e-12
    s = slope([100, 200, 400], errs)
    assert abs(s + 2.0) < 0.15, (s, errs)
    assert errs[-1] < 5e-4


def test_predictor_corrector_is_second_order_in_time():
    ref = solve_fokker_planck(MV, -0.5, 2.0, n_cells=100, n_steps=640)
    e_pc, e_plain = [], []
    for ns in (10, 20, 40, 80):
        e_pc.append(np.abs(solve_fokker_planck(MV, -0.5, 2.0, n_cells=100, n_steps=ns).masses[-1] - ref.masses[-1]).sum())
        e_plain.append(np.abs(solve_fokker_planck(MV, -0.5, 2.0, n_cells=100, n_steps=ns, corrector=False).masses[-1]
                              - ref.masses[-1]).sum())
    assert abs(slope([10, 20, 40, 80], e_pc) + 2.0) < 0.2, e_pc
    assert abs(slope([10, 20, 40, 80], e_plain) + 1.0) < 0.2, e_plain


def test_pde_matches_particles_for_nonlinear_functional():
    # a nonlinear law functional m = E[tanh X] and a state-dependent volatility: no closed form,
    # so the nonlinear PDE and the particle system must agree with each other.
    mv = McKeanVlasov(lambda t, x, m: 0.45 * (1.0 - x) + 0.8 * (m - np.tanh(x)), lambda t, x: 0.32 + 0.1 * np.tanh(x),
                      functional=lambda x, w: (np.tanh(x) * w).sum(axis=-1))
    x0 = stats.norm(-0.5, 0.2)
    d = solve_fokker_planck(mv, x0, 1.0, n_cells=300, n_steps=100, domain=(-2.5, 2.5))
    d2 = solve_fokker_planck(mv, x0, 1.0, n_cells=600, n_steps=200, domain=(-2.5, 2.5))
    ps = simulate_particles(mv, x0, 1.0, 200, 4000, n_systems=20, seed=8)
    # tolerance: 4 standard errors over the systems + the PDE's refinement error estimate
    # + Euler's O(Δt) weak bias at Δt = 0.005 (≈ (κ+λ)Δt/2 ≈ 0.3 % of the spread, < 5e-4)
    m, v = ps.mean[-1], ps.var[-1]
    assert abs(m.mean() - d2.mean()) < 4 * m.std(ddof=1) / math.sqrt(m.size) + abs(d2.mean() - d.mean()) + 5e-4
    assert abs(v.mean() - d2.var()) < 4 * v.std(ddof=1) / math.sqrt(v.size) + abs(d2.var() - d.var()) + 5e-4


def test_propagation_of_chaos_slope():
    r = propagation_of_chaos(MV, -0.5, 2.0, n_particles=(100, 400, 1600, 6400), n_systems=40, seed=1)
    assert abs(r.slope + 0.5) < 0.1, r.table()
    assert abs(r.slope_mean + 0.5) < 0.15
    # KS distance of N exact samples has mean ≈ 0.8687/√N: the particle system matches it
    N = r.n_particles.astype(float)
    np.testing.assert_allclose(r.ks * np.sqrt(N), 0.8687, rtol=0.2)
    assert len(r.table()) == 4


def test_plots():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    r = propagation_of_chaos(MV, -0.5, 2.0, n_particles=(100, 400), n_systems=5, seed=1)
    assert r.plot().axes[0].get_xlabel().startswith("number")
    ps = simulate_particles(MV, -0.5, 2.0, 10, 500, seed=1)
    assert ps.plot(initial=-0.5).axes[0].get_ylabel().startswith("density")
    plt.close("all")


def test_bad_inputs():
    with pytest.raises(ValueError, match="`lam`"):
        MeanFieldOU(lam=-1.0)
    with pytest.raises(TypeError, match="`drift`"):
        McKeanVlasov(1.0, lambda t, x: x)
    with pytest.raises(TypeError, match="`process`"):
        simulate_particles("ou", 0.0, 1.0, 10, 10)
    with pytest.raises(ValueError, match="`n_particles`"):
        simulate_particles(MV, 0.0, 1.0, 10, 1)
    with pytest.raises(ValueError, match="particle schemes"):
        simulate_particles(MV, 0.0, 1.0, 10, 10, scheme="rk4")
    gen = McKeanVlasov(lambda t, x, m: m - x, lambda t, x: 1 + 0 * x)
    with pytest.raises(ValueError, match="MeanFieldOU only"):
        simulate_particles(gen, 0.0, 1.0, 10, 10, scheme="exact")
    with pytest.raises(ValueError, match="`domain="):
        solve_fokker_planck(gen, 0.0, 1.0)
    with pytest.raises(ValueError, match="`reference=`"):
        propagation_of_chaos(gen, 0.0, 1.0)
    with pytest.raises(ValueError, match="two sizes"):
        propagation_of_chaos(MV, 0.0, 1.0, n_particles=(100,))


# -- CLI -------------------------------------------------------------------------
def test_cli_json_and_plot(tmp_path):
    from gelav.cli import main

    r = CliRunner().invoke(main, ["mckean-vlasov", "--json", "--particles", "2000", "--seed", "3", "--chaos",
                                  "--plot", str(tmp_path)])
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    law = MV.law(2.0, -0.5)
    assert out["exact"]["mean"] == pytest.approx(law.mean())
    assert abs(out["particles"]["mean"] - law.mean()) < 4 * out["particles"]["mean_stderr"]
    assert abs(out["pde"]["var"] - law.var()) < 1e-3
    assert list(tmp_path.glob("*.png"))
    assert abs(out["chaos"]["slope_ks"] + 0.5) < 0.1


def test_cli_config_and_errors(tmp_path):
    from gelav.cli import main

    cfg = tmp_path / "s.toml"
    cfg.write_text("[mckean_vlasov]\nkappa = 0.45\nmean = 1.0\nsigma = 0.32\nlam = 1.0\nx0 = -0.5\nhorizon = 1.0\n"
                   "particles = 1000\n")
    r = CliRunner().invoke(main, ["mckean-vlasov", "--config", str(cfg), "--json", "--seed", "1"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["inputs"]["lam"] == 1.0
    cfg.write_text("[mckean_vlasov]\nlamda = 1.0\n")
    r = CliRunner().invoke(main, ["mckean-vlasov", "--config", str(cfg)])
    assert r.exit_code == 2 and "lamda" in r.output
    r = CliRunner().invoke(main, ["mckean-vlasov", "--particles", "1"])
    assert r.exit_code == 2
    r = CliRunner().invoke(main, ["mckean-vlasov", "--particles", "500", "--seed", "1"])
    assert r.exit_code == 0 and "exact" in r.output


def test_strong_herding_keeps_the_mean_on_the_ou_path():
    """λ = 100 on 200 steps (λΔt = 1): the corrector's value at the step's θ-point solves its own fixed point,
    so the interaction drops out of the mean's update. One midpoint pass left the mean 20 % off (-0.2365 for
    -0.1978 at t = 0.5): the damping steps slowed it by 1/(1 + λΔt/2). Now the error is the grid's, order 2
    in space (the domain from the exact law: 1.2 wide, not the 5.6 of the plain OU)."""
    mv = MeanFieldOU(0.45, 1.0, 0.32, lam=100.0)
    law = mv.law(2.0, -0.5)
    errs = []
    for n in (400, 800, 1600):
        d = solve_fokker_planck(mv, -0.5, 2.0, n_cells=n, n_steps=200)
        errs.append(abs(d.mean() - law.mean()))
        assert d.mean(0.5) == pytest.approx(mv.exact_mean(0.5, -0.5), abs=2e-3)
    assert d.grid.upper - d.grid.lower < 1.25
    assert errs[0] < 2e-3 and abs(slope([400, 800, 1600], errs) + 2.0) < 0.15, errs
    m = d.diagnostics["m"]  # the law's value at every step is the PDE's mean, on the OU path
    assert np.max(np.abs(m - np.array([mv.exact_mean(t, -0.5) for t in d.times]))) < 2e-4


def test_corrector_budget_ends_in_convergence_error(monkeypatch):
    mod = importlib.import_module("gelav.processes.mckean_vlasov")
    monkeypatch.setattr(mod, "CORRECTOR_ITERATIONS", 1)
    with pytest.raises(ConvergenceError, match="corrector") as info:
        solve_fokker_planck(MV, -0.5, 2.0, n_cells=50, n_steps=20)
    assert info.value.history["change"] > 0  # type: ignore[index]


def test_euler_moments_are_the_particles_law():
    """The Euler particles estimate their discrete law, not the exact one: at (κ+λ)Δt = 0.5 the variance is
    1/3 too large, and the particles agree with euler_moments, not with exact_var."""
    mv = MeanFieldOU(0.45, 1.0, 0.32, lam=9.55)  # κ + λ = 10
    T, n = 2.0, 40
    em, ev = mv.euler_moments(T, n, -0.5)
    ps = simulate_particles(mv, -0.5, T, n, 4000, n_systems=20, seed=5)
    m, v = ps.mean[-1], ps.var[-1]
    se_m, se_v = m.std(ddof=1) / math.sqrt(m.size), v.std(ddof=1) / math.sqrt(v.size)
    assert abs(m.mean() - em[-1]) < 4 * se_m and abs(v.mean() - ev[-1]) < 4 * se_v
    assert ev[-1] / mv.exact_var(T) == pytest.approx(1 / (1 - 0.5 * 10 * T / n), rel=1e-6)  # σ²/(2a − a²Δt)
    assert abs(v.mean() - mv.exact_var(T)) > 20 * se_v
    em2, ev2 = mv.euler_moments(T, 4000, -0.5)  # first order in Δt towards the exact law
    assert ev2[-1] / mv.exact_var(T) == pytest.approx(1 / (1 - 0.5 * 10 * T / 4000), rel=1e-6)
    bias = [e[-1] - mv.exact_mean(T, -0.5) for e in (em, em2)]
    assert 95 < bias[0] / bias[1] < 105  # first order: 100 times the steps, 1/100 of the bias


def test_euler_steps_beyond_the_limit_are_refused():
    """λ = 3e9 on 200 steps overflowed to NaN particles; (κ+λ)Δt ≥ 1 is an error naming the steps."""
    mv = MeanFieldOU(0.45, 1.0, 0.32, lam=99.55)  # 1/(κ+λ) = 0.01 = Δt on 200 steps of 2 years
    assert mv.euler_step_limit() == pytest.approx(0.01)
    with pytest.raises(ValueError, match=r"`n_steps` = 200 is too few .* n_steps > 200"):
        simulate_particles(mv, -0.5, 2.0, 200, 100, seed=1)
    simulate_particles(mv, -0.5, 2.0, 201, 100, seed=1)
    simulate_particles(mv, -0.5, 2.0, 200, 100, seed=1, scheme="exact")
    with pytest.raises(ValueError, match="`lam`"):
        MeanFieldOU(lam=3e9)
    with pytest.raises(ValueError, match="`sigma`"):
        MeanFieldOU(sigma=1e308)


def test_task_leaves_out_what_it_cannot_vouch_for():
    from gelav.cli import main

    rep = tasks.mckean_vlasov(lam=1000.0, scheme="exact", particles=2000, systems=4)
    assert rep.data["pde"]["cells_per_sd"] < 4 and "not resolved" in rep.data["pde"]["omitted"]
    assert all(r["pde_mean"] is None for r in rep.data["table"])
    assert rep.key_numbers()["mean at T = 2: Fokker–Planck"] == "not resolved"
    assert "euler_bias" not in rep.data["particles"]
    # numerical diffusion widens an unresolved law: the exact law's spread decides too (σ = 1e-6: the PDE's
    # variance was 5.1e-4 for 1e-13 and its mean 1.4 % off, printed)
    rep = tasks.mckean_vlasov(lam=0.0, sigma=1e-6, scheme="exact", particles=2000, systems=4)
    assert rep.data["pde"]["cells_per_sd"] < 1e-3 and "omitted" in rep.data["pde"]
    rep = tasks.mckean_vlasov(particles=2000, systems=4)  # the defaults: resolved, with the Euler bias
    assert rep.data["pde"]["cells_per_sd"] > 20 and "omitted" not in rep.data["pde"]
    bias = rep.data["particles"]["euler_bias"]
    assert bias["mean"] == pytest.approx(1.2e-3, rel=0.05) and bias["var"] == pytest.approx(2.7e-4, rel=0.05)
    out = " ".join(CliRunner().invoke(main, ["mckean-vlasov", "--lam", "1000", "--scheme", "exact", "--particles",
                                             "2000", "--systems", "4"]).output.split())
    assert "PDE left out: the law is not resolved by the PDE grid: 2.7 cells per standard deviation" in out
    r = CliRunner().invoke(main, ["mckean-vlasov", "--lam", "100"])
    assert r.exit_code == 2 and "--steps" in r.output and "--scheme exact" in r.output
    out = " ".join(CliRunner().invoke(main, ["mckean-vlasov"]).output.split())
    assert "time-step bias at T is +1.2e-03 in the mean and +2.7e-04 in the variance" in out


def test_cli_too_few_cells_names_the_option():
    from gelav.cli import main

    r = CliRunner().invoke(main, ["mckean-vlasov", "--cells", "3"])
    assert r.exit_code == 2 and "`--cells` must be >= 4" in r.output and "n_cells" not in r.output


def test_file_and_options_take_the_same_smallest_sizes(tmp_path):
    """A scenario file takes the sizes the options take (it asked cells >= 16 and steps >= 4 where --cells 4
    and --steps 2 ran): the same numbers either way, and below them the same refusal."""
    import json

    from gelav.cli import main

    cfg = tmp_path / "mv.toml"
    cfg.write_text("[mckean_vlasov]\ncells = 8\nsteps = 2\nparticles = 200\nsystems = 2\n")
    by_file = CliRunner().invoke(main, ["mckean-vlasov", "--config", str(cfg), "--json"])
    by_options = CliRunner().invoke(main, ["mckean-vlasov", "--cells", "8", "--steps", "2", "--particles", "200",
                                           "--systems", "2", "--json"])
    assert by_file.exit_code == 0 and by_options.exit_code == 0, (by_file.output, by_options.output)

    def untimed(d):  # type: ignore[no-untyped-def]
        return {k: untimed(v) for k, v in d.items() if "second" not in k} if isinstance(d, dict) else d

    def numbers(out: str) -> dict:
        return untimed(json.loads(out[out.index("{"):out.rindex("}") + 1]))  # type: ignore[no-any-return]

    assert numbers(by_file.output) == numbers(by_options.output)
    cfg.write_text("[mckean_vlasov]\ncells = 3\n")
    bad = CliRunner().invoke(main, ["mckean-vlasov", "--config", str(cfg)])
    assert bad.exit_code == 2 and "expected an integer >= 4" in bad.output
