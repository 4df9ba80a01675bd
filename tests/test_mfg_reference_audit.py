"""Independent reference cases for the researcher's toolkit (session 6 audit).

Closed forms re-derived here, independent integrators, re-solved equilibria and brute-force
scans, at parameters the other test files do not use.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from scipy.integrate import solve_ivp

from gelav.mfg import ControlOptions, Numerics, solve_control, systemic_risk


def _riccati_reference(cf, ts):
    """η and ∫_t^T η by DOP853 in τ = T - t from η(τ=0) = c: dη/dτ = -(η² + 2Aη - (ε - q²))."""
    A = cf.a + cf.kappa + cf.q
    d = cf.epsilon - cf.q**2

    def rhs(tau, y):
        return [-(y[0] ** 2 + 2 * A * y[0] - d), y[0]]

    taus = cf.horizon - np.asarray(ts, dtype=float)
    sol = solve_ivp(rhs, (0.0, float(taus.max())), [cf.c, 0.0], t_eval=np.sort(taus), rtol=1e-13,
                    atol=1e-16, method="DOP853")
    order = np.argsort(taus)
    eta, integral = np.empty_like(taus), np.empty_like(taus)
    eta[order], integral[order] = sol.y[0], sol.y[1]
    return eta, integral


@pytest.mark.parametrize("p", [
    dict(a=0.0, q=0.0, epsilon=1e-24),  # √R = 1e-12: the old form lost 3e-6 relative
    dict(a=1e-10, q=0.0, epsilon=0.0),
    dict(a=0.0, q=1e-7, epsilon=1e-14),  # q² = ε with a tiny incentive
    dict(a=1e-13, q=0.0, epsilon=1e-26, kappa=1e-13),
])
def test_riccati_closed_form_near_the_degenerate_root(p):
    """For R = A² + ε - q² → 0 the closed form stays at rounding against an independent integrator.

    The ODE is benign there (η ≈ c/(1 + cτ)); DOP853 at rtol 1e-13 is the reference.
    """
    cf = systemic_risk(**p, c=0.8, horizon=3.0).closed_form
    ts = np.linspace(0.0, 3.0, 7)
    eta, integral = _riccati_reference(cf, ts)
    np.testing.assert_allclose(cf.eta(ts), eta, rtol=1e-11, atol=0)
    np.testing.assert_allclose(cf.eta_integral(ts[:-1]), integral[:-1], rtol=1e-11, atol=0)
    assert cf.eta_integral(3.0) == 0.0


@pytest.mark.parametrize("p", [
    dict(a=0.3, q=0.8, epsilon=0.64, c=0.0),  # q² = ε: the running cost is a perfect square
    dict(a=0.1, q=0.2, epsilon=3.0, c=5.0),  # c above the stationary root δ+
    dict(a=0.0, q=1.5, epsilon=2.25, c=0.4),  # q² = ε, no herding
])
def test_riccati_large_horizon_and_stationary_root(p):
    """T = 200: η_0 is the stationary root δ+ = -A + √R and ∫_0^T η = δ+ T + log h_∞ (re-derived here)."""
    cf = systemic_risk(**p, horizon=200.0).closed_form
    A = cf.a + cf.q
    sr = math.sqrt(A * A + cf.epsilon - cf.q**2)
    dp, dm = -A + sr, -A - sr
    assert float(cf.eta(0.0)) == pytest.approx(dp, rel=1e-13, abs=1e-15)
    # far from the horizon η - δ+ decays like e^{-2√R τ}: log h -> log((c - δ-)/(2√R))
    lim = dp * 200.0 + math.log((cf.c - dm) / (2 * sr))
    assert float(cf.eta_integral(0.0)) == pytest.approx(lim, rel=1e-13)
    ts = np.array([0.0, 150.0, 199.0, 199.9, 200.0])
    eta, integral = _riccati_reference(cf, ts)
    np.testing.assert_allclose(cf.eta(ts), eta, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(cf.eta_integral(ts), integral, rtol=1e-10, atol=1e-12)


def _restarted_equilibrium():
    from gelav.mfg import LPType, Market, MFGModel, solve
    from gelav.mfg.master import restart

    num = Numerics(n_cells=30, n_steps=30, domain=(-4.0, 3.5))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        eq0 = solve(MFGModel((LPType(),), Market()).with_initial([("normal", -1.0, 0.5)]), numerics=num,
                    no_feedback=False)
        return restart(eq0, float(eq0.times[10]))


def test_fd_sensitivity_of_a_restarted_game_matches_the_tangent_at_second_order():
    """A game restarted at t0 = 4/3 with selling pressure S0 = 2.3e-3: centred differences of
    full equilibria re-solved from the same (t0, S0) against the tangent. The gap is the
    difference quotient's O(h²) error: within 1.5x its Richardson estimate, /4 per halving of h.
    (The finite differences used to re-solve from t = 0 without the pressure: a ValueError.)"""
    from gelav.mfg import sensitivity

    eq = _restarted_equilibrium()
    assert eq.times[0] > 1.3 and eq.initial_pressure > 1e-3
    m0, x = eq.density[0, 0], eq.grid.nodes
    dirs = 0.2 * np.stack([m0 * (x - (m0 * x).sum()), m0 * np.sin(x)])
    tan = sensitivity(eq, dirs)
    gaps = []
    for h in (0.2, 0.1):
        fd = sensitivity(eq, dirs, step=h, method="fd")
        gap = np.abs(fd.value - tan.value).max(axis=1)
        assert np.all(gap <= 1.5 * fd.error), (gap, fd.error)
        gaps.append(gap)
    ratio = gaps[0] / gaps[1]
    assert np.all((ratio > 3.5) & (ratio < 4.5)), ratio
    assert np.all(gaps[1] < 1e-3 * np.abs(tan.value).max(axis=1))


# -- hostile parameters of the systemic-risk game and the `gelav mfg --game` command ----------------

CTL = ["mfg", "--game", "systemic-risk", "--n-cells", "30", "--n-steps", "10"]


@pytest.mark.parametrize("option", ["a", "q", "c", "sigma", "horizon", "kappa", "epsilon"])
def test_control_game_parameters_beyond_range_exit_2_naming_the_option(option):
    """1e300 made the closed form NaN (A² overflows; printed with exit 0 for --a/--kappa), blamed
    `running_cost`/`minimizer` (--c, --epsilon, --horizon) or was an OverflowError (exit 1, --sigma)."""
    from click.testing import CliRunner

    from gelav.cli import main as cli

    r = CliRunner().invoke(cli, [*CTL, f"--{option}", "1e300"])
    assert r.exit_code == 2, r.output
    assert f"`--{option}`" in r.output and "out of range" in r.output
    assert "nan" not in r.output.lower() and "Traceback" not in r.output
    with pytest.raises(ValueError, match=f"`{option}`"):
        systemic_risk(**{option: 1e300})


def test_control_game_closed_form_finite_at_the_parameter_bounds():
    """At the largest accepted rates, penalties and horizon the closed form stays finite and >= 0."""
    cf = systemic_risk(a=1e6, q=1e6, epsilon=1e12, c=1e12, sigma=1e6, horizon=1e6, kappa=1e6).closed_form
    ts = np.array([0.0, 0.5e6, 1e6])
    for f in (cf.eta(ts), cf.eta_integral(ts), cf.value(0.0, [-1.0, 3.0]), cf.control(0.0, [-1.0, 3.0])):
        assert np.all(np.isfinite(f))
    assert np.all(cf.eta(ts) >= 0) and cf.population_cost() >= 0


def test_runaway_policy_iteration_is_a_convergence_error():
    """c = 1e6 on 10 steps: the policy iterates run away (changes 8.7e5 -> 2.9e18 -> ... 1e167)
    until α² overflowed, and the solve raised ValueError('`running_cost` returned non-finite
    values') - the CLI's exit 2 for bad input. It is a numerical failure: ConvergenceError."""
    from gelav.errors import ConvergenceError

    with pytest.raises(ConvergenceError, match="diverged") as info:
        solve_control(systemic_risk(c=1e6), Numerics(n_cells=30, n_steps=10), ControlOptions(method="picard"))
    assert info.value.history["change"] > 1e6 * 8e5


@pytest.mark.parametrize("extra", [["--at", "nan"], ["--at", "0.3"], ["--densities"], ["--continue", "feedback=0:1"],
                                   ["--drift", "-x"], ["--export", "out.csv"]])
def test_exit_game_options_with_a_control_game_exit_2(extra, tmp_path):
    """They were silently ignored with --game (`--at nan` printed the default table, exit 0)."""
    from click.testing import CliRunner

    from gelav.cli import main as cli

    r = CliRunner().invoke(cli, [*CTL, *extra])
    assert r.exit_code == 2, r.output
    assert extra[0] in r.output and "control game" in r.output


def test_quiet_control_game_prints_nothing():
    from click.testing import CliRunner

    from gelav.cli import main as cli

    r = CliRunner().invoke(cli, [*CTL, "-q"])
    assert r.exit_code == 0 and r.output == "", r.output


def _euler_equilibrium():
    from gelav.mfg import LPType, Market, MFGModel, solve

    return solve(MFGModel((LPType(initial=("normal", -1.5, 0.3)),), Market()),
                 numerics=Numerics(n_cells=30, n_steps=20, scheme="euler"))


def test_n_player_gain_replications_checked_and_reported_as_used():
    """A negative count skipped the gain silently (the CLI exited 0); a count above `replications`
    computed the gain on `replications` populations but reported the larger count."""
    from gelav.mfg import n_player

    eq = _euler_equilibrium()
    with pytest.raises(ValueError, match="`gain_replications`"):
        n_player(eq, (10, 20), replications=4, gain_replications=-1)
    with pytest.raises(ValueError, match="`replications`"):
        n_player(eq, (10, 20), replications=2.5)
    a = n_player(eq, (10, 20), replications=3, gain_replications=50, seed=3)
    b = n_player(eq, (10, 20), replications=3, gain_replications=3, seed=3)
    assert a.gain_replications == 3
    np.testing.assert_array_equal(a.gain, b.gain)


# -- folds of equilibrium branches --------------------------------------------------------------------

def test_fold_of_an_exact_parabola_is_its_vertex():
    """p(s) = p_f - k(s - s_f)², x(s) = s·e (weighted arclength known): the quadratic estimate
    is exact; the old one returned the nearer bracket point, off by k·(s - s_f)²."""
    from gelav.mfg.branches import Branch, _folds

    n, k, p_f, s_f = 8, 3.0, 0.4, 0.37
    # unit-speed curve in the norm sqrt(|dx|²/n + dp²): dx/ds = sqrt(n (1 - p'(s)²)) e/sqrt(n)... built
    # numerically by integrating ds along a fine grid and sampling two points around the vertex
    s_fine = np.linspace(0.0, 1.0, 200_001)
    dp = -2 * k * (s_fine - s_f)
    speed_x = np.sqrt(np.maximum(1.0 - dp**2, 0.0))  # |dx|/sqrt(n) per unit s, so the tangent is unit
    x_fine = np.concatenate([[0.0], np.cumsum(0.5 * (speed_x[1:] + speed_x[:-1]) * np.diff(s_fine))])
    idx = [np.searchsorted(s_fine, s) for s in (0.33, 0.42)]
    s2 = s_fine[idx]
    paths = np.stack([np.full((1, n), x_fine[i]) for i in idx])  # |δx|²/n = δ(x_fine)²
    par = p_f - k * (s2 - s_f) ** 2
    br = Branch(parameter=par, paths=paths, scalars={"exits": np.array([1.0, 2.0])},
                tangent_p=-2 * k * (s2 - s_f), eigenvalue=np.full(2, np.nan + 0j), residual=np.zeros(2), start="")
    (fold,) = _folds(br, 0, n)
    # the chord length differs from the arc by O(Δs³ k²): far below the old error k(0.42 - 0.37)² = 7.5e-3
    assert abs(fold.parameter - p_f) < 1e-4 and fold.parameter >= par.max()


def test_thin_market_fold_brackets_the_last_fixed_point():
    """A tiny thin-market instance (20 cells, 20 steps, ε = 0.05, steps 0.005): every branch point
    is a fixed point (residual re-evaluated here), and the fold estimate p_f separates parameters
    with a fixed point near the fold (Newton from the bracket converges at p_f - 1e-4) from those
    without (it fails at p_f + 1e-4). Measured: p_f within 2.5e-5 of the fold of a 10x finer
    continuation (0.26568) at steps 0.02-0.0025; the old estimate (the nearer bracket point) was
    0.26532 at this step, 3.6e-4 low, so Newton still converged at its p_f + 1e-4."""
    from gelav.mfg import SCENARIOS, continuation

    num = Numerics(n_cells=20, n_steps=20, epsilon=0.05)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        br = continuation(SCENARIOS["thin-market"].model, "thin_discount", [0.24, 0.28], numerics=num,
                          step=0.005, max_step=0.005, stability=False)
    fam = br._family
    for b in br.branches:
        for p, z in zip(b.parameter, b.paths, strict=True):
            assert float(np.max(np.abs(fam.G(z.ravel(), float(p))))) < 1e-7
    (fold,) = br.folds
    b = br.branches[fold.branch]
    x0 = 0.5 * (b.paths[fold.index] + b.paths[fold.index + 1]).ravel()
    below = fam.newton(x0.copy(), fold.parameter - 1e-4, max_iter=20)
    assert below is not None and float(np.max(np.abs(fam.G(below, fold.parameter - 1e-4)))) < 1e-7
    for start in (x0, b.paths[fold.index].ravel(), b.paths[fold.index + 1].ravel()):
        assert fam.newton(start.copy(), fold.parameter + 1e-4, max_iter=20) is None
