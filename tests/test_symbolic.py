"""Tests for gelav.symbolic: seed 002 step by step, seeds 000/003 teaching views, the bridge."""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pytest
import sympy as sp

from gelav import CIR, BrownianMotion, GeometricBrownianMotion, OrnsteinUhlenbeck, Process, forward
from gelav.symbolic import (
    Equation,
    ItoProcess,
    MultiItoProcess,
    is_zero,
    ito_lemma,
    ito_rule,
    ou_fokker_planck_terms,
    ou_heat_transform,
    parse_expression,
    pdepe_form,
    seed002_walkthrough,
    time_reversal,
    trinomial_derivation,
)

t, x = sp.symbols("t x", real=True)
kappa, sigma = sp.symbols("kappa sigma", positive=True)
m, mu = sp.symbols("m mu", real=True)


def zero(e):
    return sp.simplify(e) == 0


# ------------------------------------------------------------------------------------------ seed 002
@pytest.fixture(scope="module")
def walk():
    return seed002_walkthrough(solve_exit_time=False)


def test_seed002_step1_time_reversal(walk):
    S = walk.symbols
    X, T = S["X"], S["T"]
    v = sp.Function("v")(t, X)
    mu_, sig_, r_ = (sp.Function(n)(T - t, X) for n in ("mu", "sigma", "r"))
    expected = mu_ * v.diff(X) - r_ * v + sig_**2 * v.diff(X, 2) / 2
    assert walk.reversed.lhs == sp.Derivative(v, t)
    assert zero(walk.reversed.rhs - expected)


def test_seed002_step1_coeffs_and_pdepe_form(walk):
    S = walk.symbols
    X, T, V, dvdx = S["X"], S["T"], S["V"], S["dvdx"]
    v = sp.Function("v")(t, X)
    mu_, sig_, r_ = (sp.Function(n)(T - t, X) for n in ("mu", "sigma", "r"))
    k1, k2, k3 = walk.coefficients
    assert k1 == -1  # the seed's k(1): -diff(v, t)
    assert zero(k2 - sig_**2 / 2)
    assert zero(k3 - (mu_ * v.diff(X) - r_ * v))
    g = walk.pdepe_general
    assert g.c == 1
    assert zero(g.f - sig_**2 * dvdx / 2)
    # s = k(3) - diff(v, X) * diff(k(2), X)
    assert zero(g.s - (mu_ * dvdx - r_ * V - dvdx * sp.diff(sig_**2 / 2, X)))


def test_seed002_step2_ito_rule_exp(walk):
    S = walk.symbols
    mu0, s0, X, Y = S["mu0"], S["sigma0"], S["X"], S["Y"]
    mu1, sigma1 = ito_rule(mu0, s0, sp.exp(X), t, X)
    assert zero(mu1 - (mu0 * sp.exp(X) + s0**2 * sp.exp(X) / 2))
    assert zero(sigma1 - s0 * sp.exp(X))
    assert zero(walk.mu1_Y - (mu0 + s0**2 / 2) * Y)
    assert zero(walk.sigma1_Y - s0 * Y)


def test_seed002_step3_seed_pdepe_handle_reproduced(walk):
    """The seed's @(t,Y,V,dvdx)deal(1.0,(Y.^2.*dvdx)./2.0,(Y.*dvdx)./2.0), by its substitution order."""
    S = walk.symbols
    Y, dvdx = S["Y"], S["dvdx"]
    f = walk.seed_pdepe.subs({S["mu0"]: 0, S["sigma0"]: 1})
    assert f.c == 1
    assert zero(f.f - Y**2 * dvdx / 2)
    assert zero(f.s - Y * dvdx / 2)


def test_seed002_step3_integration_by_parts_in_Y(walk):
    """Redone in Y the source term is -(Y dvdx)/2; only that form has E[Y_T] = Y e^{T/2} as solution."""
    S = walk.symbols
    Y, dvdx, mu0, s0 = S["Y"], S["dvdx"], S["mu0"], S["sigma0"]
    assert zero(walk.pdepe.s - (mu0 - s0**2 / 2) * Y * dvdx)
    ours = walk.pdepe.subs({mu0: 0, s0: 1})
    assert zero(ours.f - Y**2 * dvdx / 2) and zero(ours.s + Y * dvdx / 2)
    # the two differ by exactly the dropped -v_Y d/dY(sigma1^2/2) = -Y dvdx term
    seed = walk.seed_pdepe.subs({mu0: 0, s0: 1})
    assert zero((seed.s - ours.s) - Y * dvdx)
    checks = walk.checks()
    assert checks["correct pdepe form solved by Y exp(t/2)"]
    assert checks["seed pdepe form is NOT solved by Y exp(t/2) (it drops -v_Y d(sigma1^2/2)/dY)"]
    assert checks["correct pdepe form equals the reversed backward equation"]


def test_seed002_pdepe_callable_argument_order(walk):
    S = walk.symbols
    fn = walk.pdepe.subs({S["mu0"]: 0, S["sigma0"]: 1}).to_callable()
    xg = np.linspace(0.0, 1.0, 5)
    c, f, s = fn(xg, 0.3, xg, np.ones(5))  # pdepe order (x, t, u, dudx)
    np.testing.assert_allclose(c, 1.0)
    np.testing.assert_allclose(f, xg**2 / 2, rtol=0, atol=1e-15)
    np.testing.assert_allclose(s, -xg / 2, rtol=0, atol=1e-15)
    with pytest.raises(ValueError, match="still symbolic"):
        walk.pdepe.to_callable()


def test_seed002_step4_exit_time_equation(walk):
    S = walk.symbols
    Xp, mu0, s0 = S["Xp"], S["mu0"], S["sigma0"]
    y = sp.Function("y")(Xp)
    expected = s0**2 * Xp**2 / 2 * y.diff(Xp, 2) + (mu0 + s0**2 / 2) * Xp * y.diff(Xp)
    assert zero(walk.exit_time_gbm.lhs - expected) and walk.exit_time_gbm.rhs == -1
    assert is_zero(sp.expand_log(walk.exit_time_mu0_limit
                                 - (sp.log(Xp) - sp.log(S["a"])) * (sp.log(S["b"]) - sp.log(Xp)), force=True))
    assert walk.exit_time_a_limit == sp.oo


@pytest.mark.slow
def test_seed002_exit_time_dsolve_and_limits():
    """dsolve for general a, b; mu0 -> 0 gives (log X - log a)(log b - log X); a -> 0+ gives oo."""
    w = seed002_walkthrough()
    checks = w.checks()
    assert all(checks.values()), checks
    S = w.symbols
    L = w.exit_time.subs(S["sigma0"], 1).limit(S["mu0"], 0)
    assert is_zero(sp.expand_log(L.expression - (sp.log(S["Xp"]) - sp.log(S["a"])) * (sp.log(S["b"]) - sp.log(S["Xp"])), force=True))


def test_exit_time_brownian_closed_form():
    a, b = sp.symbols("a b", real=True)
    s = sp.Symbol("s", positive=True)
    et = ItoProcess(0, s, t, x).exit_time(a, b)
    assert zero(et.expression - (x - a) * (b - x) / s**2)
    assert et.check()
    assert "E[\\tau]" in et.latex()


def test_exit_time_needs_time_homogeneous():
    with pytest.raises(ValueError, match="time-independent"):
        ItoProcess(t * x, 1, t, x).exit_time_ode()


# ------------------------------------------------------------------------------------------ operators
def test_generator_adjoint_and_equations():
    ou = ItoProcess(kappa * (m - x), sigma, t, x)
    assert zero(ou.generator(x**2) - (2 * kappa * x * (m - x) + sigma**2))
    p = sp.Function("p")(t, x)
    fp = ou.fokker_planck_equation()
    assert fp.lhs == sp.Derivative(p, t)
    assert zero(fp.rhs - (-sp.diff(kappa * (m - x) * p, x) + sigma**2 / 2 * sp.diff(p, x, 2)))
    # adjoint identity: int (L f) g = int f (L* g) for rapidly decaying f, g (checked on Gaussians)
    f, g = sp.exp(-(x**2)), (2 + x) * sp.exp(-((x - 1) ** 2) / 3)
    num = {kappa: sp.Rational(9, 20), m: 1, sigma: sp.Rational(8, 25)}
    from scipy.integrate import quad

    lf = sp.lambdify(x, (ou.generator(f) * g).subs(num))
    rf = sp.lambdify(x, (f * ou.adjoint(g)).subs(num))
    lhs, rhs = quad(lf, -np.inf, np.inf, epsabs=1e-14)[0], quad(rf, -np.inf, np.inf, epsabs=1e-14)[0]
    assert abs(lhs) > 0.1 and abs(lhs - rhs) < 1e-12


def test_feynman_kac_solution_by_substitution():
    """u = exp(-r(T-t)) (x + mu(T-t)) solves u_t + mu u_x + s^2/2 u_xx - r u = 0 with u(T) = x."""
    r, T = sp.Symbol("r", positive=True), sp.Symbol("T", positive=True)
    bm = ItoProcess(mu, sigma, t, x)
    u = sp.Function("u")(t, x)
    eq = bm.feynman_kac_equation(r, u=u, terminal=x, T=T)
    sol = sp.exp(-r * (T - t)) * (x + mu * (T - t))
    assert eq.holds_for(u, sol)
    assert not eq.holds_for(u, sp.exp(-r * (T - t)) * x)
    assert zero(sol.subs(t, T) - eq.conditions[0].rhs)
    # with a running payoff f = 1 and r = 0 the solution is T - t (time to maturity)
    eq2 = ItoProcess(kappa * (m - x), sigma, t, x).feynman_kac_equation(0, 1, u=u)
    assert eq2.holds_for(u, T - t)


def test_time_reversal_and_pdepe_form_general():
    T = sp.Symbol("T", positive=True)
    u, v = sp.Function("u"), sp.Function("v")
    proc = ItoProcess(kappa * (m - x), sigma * x, t, x)
    eq = proc.feynman_kac_equation(sp.Symbol("r"), u=u(t, x), terminal=x, T=T)
    rev = time_reversal(eq, u(t, x), v, T=T)
    assert rev.lhs == sp.Derivative(v(t, x), t)
    assert zero(rev.rhs - (proc.generator(v(t, x)) - sp.Symbol("r") * v(t, x)))
    assert rev.conditions[0].lhs == v(0, x)
    form = pdepe_form(rev, v(t, x))
    assert form.pde(v(t, x)).equivalent(rev)  # integration by parts is exact
    assert form.c == 1


def test_ito_lemma_exp_gives_gbm_and_log_gives_bm():
    bm = ItoProcess.brownian_motion()
    lemma = bm.ito_lemma(sp.exp(bm.x))
    y = sp.Symbol("y", positive=True)
    Yp = lemma.in_terms_of(y)
    assert zero(Yp.drift - (bm.drift + bm.diffusion**2 / 2) * y)
    assert zero(Yp.diffusion - bm.diffusion * y)
    assert Yp.domain == (0, sp.oo)
    gbm = ItoProcess.geometric_brownian_motion()
    back = ito_lemma(gbm, sp.log(gbm.x))
    assert zero(back.drift - (sp.Symbol("mu", real=True) - sp.Symbol("sigma", positive=True) ** 2 / 2))
    assert zero(back.diffusion - sp.Symbol("sigma", positive=True))
    assert "dW_t" in lemma.latex() and "Itô" in str(lemma)


def test_ito_lemma_time_dependent_G():
    """Discounting: d(e^{-rt} X) for GBM has drift (mu - r) e^{-rt} X."""
    r = sp.Symbol("r")
    res = ItoProcess(mu * x, sigma * x, t, x).ito_lemma(sp.exp(-r * t) * x)
    assert zero(res.drift - (mu - r) * sp.exp(-r * t) * x)
    assert zero(res.diffusion - sigma * sp.exp(-r * t) * x)


# ------------------------------------------------------------------------------------------ densities
@pytest.mark.parametrize("factory", [ItoProcess.ornstein_uhlenbeck, ItoProcess.geometric_brownian_motion,
                                     ItoProcess.brownian_motion])
def test_transition_densities_solve_fokker_planck_symbolically(factory):
    chk = factory().check_transition()
    assert chk.symbolic and chk.ok


def test_cir_transition_density_numeric_symbolic_check():
    """simplify cannot reduce the Bessel-function residual; 40-digit evaluation at 6 points can."""
    chk = ItoProcess.cir().check_transition(method="numeric")
    assert not chk.symbolic and chk.n_points == 6
    assert chk.max_relative_residual < 1e-30 and chk.ok


def test_wrong_density_fails_the_check():
    ou = ItoProcess.ornstein_uhlenbeck()
    bad = ou.transition.subs(sp.Symbol("sigma", positive=True), 2 * sp.Symbol("sigma", positive=True))
    chk = ou.check_transition(bad, method="numeric")
    assert not chk.ok and chk.max_relative_residual > 1e-3


def test_stationary_scale_and_speed():
    ou = ItoProcess.ornstein_uhlenbeck()
    kk, mm, ss = sp.Symbol("kappa", positive=True), sp.Symbol("m", real=True), sp.Symbol("sigma", positive=True)
    normal = sp.exp(-((ou.x - mm) ** 2) * kk / ss**2) * sp.sqrt(kk) / (sp.sqrt(sp.pi) * ss)
    assert zero(ou.stationary_density() - normal)  # N(m, sigma^2 / (2 kappa))
    assert zero(ou.adjoint(ou.stationary_density()))
    assert zero(ou.generator(ou.scale_function()))  # the scale function is L-harmonic
    cir = ItoProcess.cir()
    pi = cir.stationary_density()
    k, th, s = (sp.Symbol(n, positive=True) for n in ("kappa", "theta", "sigma"))
    shape, rate = 2 * k * th / s**2, 2 * k / s**2
    gamma_pdf = rate**shape * cir.x ** (shape - 1) * sp.exp(-rate * cir.x) / sp.gamma(shape)
    assert zero(sp.powsimp(sp.expand_power_base(pi / gamma_pdf, force=True), force=True) - 1)
    gbm = ItoProcess.from_process(GeometricBrownianMotion(0.05, 0.3))
    assert gbm.stationary_density() is None  # x**(2mu/s^2 - 2) is not integrable on (0, oo)


# ------------------------------------------------------------------------------------------ multi-d
def test_multidimensional_product_rule_with_correlation():
    X, Y = sp.symbols("X Y", positive=True)
    mx, my, sx, sy, rho = sp.symbols("mu_x mu_y sigma_x sigma_y rho", real=True)
    p = MultiItoProcess([mx * X, my * Y], [sx * X, sy * Y], [X, Y], t, correlation=[[1, rho], [rho, 1]])
    res = p.ito_lemma(X * Y)
    assert zero(res.drift - (mx + my + rho * sx * sy) * X * Y)
    assert zero(res.diffusion[0] - sx * X * Y) and zero(res.diffusion[1] - sy * X * Y)
    assert zero(res.variance_rate - (sx**2 + sy**2 + 2 * rho * sx * sy) * X**2 * Y**2)
    ratio = p.ito_lemma(X / Y)
    assert zero(ratio.drift - (mx - my + sy**2 - rho * sx * sy) * X / Y)
    # one component reduces to the scalar lemma
    g = p.ito_lemma(sp.log(X))
    assert zero(g.drift - (mx - sx**2 / 2))
    assert "dW1" in str(g) and g.latex().startswith("d\\left(")


def test_multidimensional_from_processes_and_matrix_form():
    a, b = ItoProcess(kappa * (m - x), sigma, t, x), ItoProcess(0, 1, t, sp.Symbol("z", real=True))
    p = MultiItoProcess.from_processes([a, b])
    assert p.covariance_rate == sp.diag(sigma**2, 1)
    z = b.x
    # matrix form: X = W1 + W2 shares both noises; variance rate 2 when independent
    q = MultiItoProcess([0], [[1, 1]], [x], t)
    assert q.ito_lemma(x).variance_rate == 2
    assert zero(p.ito_lemma(x * z).drift - z * kappa * (m - x))
    with pytest.raises(ValueError, match="correlation"):
        MultiItoProcess([0, 0], [1, 1], [x, z], t, correlation=[[1, 2], [3, 1]])


# ------------------------------------------------------------------------------------------ seeds 000 / 003
def test_ou_fokker_planck_three_named_terms():
    ft = ou_fokker_planck_terms()
    assert [n for n, _ in ft.terms] == ["drift transport", "mean-reverting concentration", "diffusion spreading"]
    assert ft.check()
    assert r"\text{drift transport}" in ft.latex()
    p = sp.Function("p")(ft.process.t, ft.process.x)
    assert zero(ft.terms[1][1] - ft.process.drift.diff(ft.process.x) * -p)  # +kappa p = -b'(x) p


def test_ou_heat_transform_checked_by_substitution():
    ht = ou_heat_transform()
    assert ht.check()
    # the heat kernel mapped back is the OU transition density from x0
    ou = ItoProcess.ornstein_uhlenbeck(mean=sp.Symbol("Lbar", real=True))
    assert zero(ht.ou_density_from_heat_kernel() - ou.transition)
    assert r"\tau" in ht.latex()


def test_trinomial_derivation_seed003():
    d = trinomial_derivation()
    checks = d.check()
    assert all(checks.values()), checks
    alpha, dy, dt = d.alpha, d.dy, d.dt
    assert zero(d.C2 - alpha * dy**2 / dt)
    assert d.exponents == {"a": sp.Rational(-1, 2), "b": sp.Rational(1, 2)}
    assert zero(d.A - 1 / (2 * sp.Symbol("C", positive=True) * sp.sqrt(sp.pi)))
    sym = trinomial_derivation(alpha=sp.Rational(1, 2))  # the seed's symmetric random walk
    assert zero(sym.C2 - dy**2 / (2 * dt))


# ------------------------------------------------------------------------------------------ bridge
@pytest.mark.parametrize(
    ("proc", "x0"),
    [(OrnsteinUhlenbeck(0.45, 1.0, 0.32), -0.5), (CIR(0.8, 0.5, 0.4), 0.6),
     (GeometricBrownianMotion(0.05, 0.3), 1.0), (BrownianMotion(0.1, 0.7), 0.0)],
)
def test_lambdified_process_matches_builtin(proc, x0):
    sym = ItoProcess.from_process(proc).to_process()
    assert isinstance(sym, Process) and sym.time_homogeneous and sym.domain == proc.domain
    xs = np.linspace(0.05, 3.0, 41) if proc.domain[0] == 0 else np.linspace(-2.0, 3.0, 41)
    np.testing.assert_allclose(sym.drift(0.0, xs), proc.drift(0.0, xs), rtol=1e-15, atol=1e-15)
    np.testing.assert_allclose(sym.diffusion(0.0, xs), proc.diffusion(0.0, xs), rtol=1e-15, atol=1e-15)
    np.testing.assert_allclose(sym.transition_pdf(xs, 1.3, x0), proc.transition(x0, 1.3).pdf(xs), rtol=1e-12, atol=1e-14)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        d1 = forward(proc, x0, 2.0, n_cells=120, n_steps=60)
        d2 = forward(sym, x0, 2.0, grid=d1.grid, n_steps=60)
    assert np.max(np.abs(d1.masses - d2.masses)) < 1e-13


def test_ou_stress_test_through_symbolic_process():
    """Seed 000's P(L_2 < -0.5 | L_0 = -0.5) = 0.0019356... from the symbolic model."""
    t_, x_ = sp.symbols("t x", real=True)
    k_, m_, s_ = sp.symbols("kappa m sigma", positive=True)
    p = ItoProcess(k_ * (m_ - x_), s_, t_, x_).to_process(kappa=0.45, m=1.0, sigma=0.32)
    d = forward(p, -0.5, 2.0, n_cells=400, n_steps=200)
    exact = OrnsteinUhlenbeck(0.45, 1.0, 0.32).transition(-0.5, 2.0).cdf(-0.5)
    assert abs(d.prob(below=-0.5) - exact) < 1e-4  # foundation: error 9e-5 at 100 cells, 2nd order


def test_to_process_errors_and_time_dependence():
    with pytest.raises(ValueError, match="still symbolic"):
        ItoProcess(kappa * (m - x), sigma, t, x).to_process(kappa=1.0)
    with pytest.raises(ValueError, match="Unknown parameter"):
        ItoProcess(kappa * (m - x), sigma, t, x).to_process(nope=1.0)
    with pytest.raises(TypeError, match="process"):
        ItoProcess.from_process(Process(lambda t, x: -x, lambda t, x: 1.0 + 0 * x))
    p = ItoProcess(sp.sin(t) - x, 1 + x**2 / 10, t, x).to_process()
    assert not p.time_homogeneous
    np.testing.assert_allclose(p.drift(1.0, [0.5]), [np.sin(1.0) - 0.5])
    np.testing.assert_allclose(p.diffusion_derivative(0.0, [2.0]), [0.4])
    assert ItoProcess.from_process(p).drift == sp.sin(t) - x


# ------------------------------------------------------------------------------------------ output
def test_equation_value_latex_and_str():
    ou = ItoProcess(kappa * (m - x), sigma, t, x)
    eq = ou.fokker_planck_equation()
    assert isinstance(eq, Equation)
    with pytest.raises(dataclasses.FrozenInstanceError):
        eq.name = "x"  # type: ignore[misc]
    assert eq.latex().startswith(r"\frac{\partial}{\partial t} p")
    assert eq._repr_latex_().startswith("$") and eq._repr_latex_().endswith("$")
    assert str(eq).startswith("Fokker–Planck")
    assert eq.to_dict()["rhs"] and ou.latex().startswith("dX_t")
    assert str(ou) == "dX = kappa*(m - x) dt + sigma dW"
    assert ou._repr_latex_().startswith("$")


def test_string_coefficients_use_safe_parser():
    p = ItoProcess("kappa*(theta - x)", "sigma*sqrt(x)")
    assert {s.name for s in p.parameters} == {"kappa", "theta", "sigma"}
    with pytest.raises(ValueError, match="not a mathematical expression"):
        ItoProcess("__import__('os').getcwd()", 1)
    with pytest.raises(TypeError, match="drift"):
        ItoProcess(object(), 1)


@pytest.mark.parametrize(
    "bad",
    ["__import__('os').system('echo hi')", "x.__class__", "(lambda: 1)()", "x[0]", "eval('1')", "exec(x)",
     "getattr(x, 'y')", "__builtins__", "x if t else 1", "10**10**10", "open(x)", "{x}", "x; y", "f(x)",
     "exp(x, y=1)", "_x", "x__y", "sin.__doc__", "Symbol(x)", ""],
)
def test_parser_rejects_non_mathematics(bad):
    with pytest.raises(ValueError):
        parse_expression(bad, name="drift")


def test_parser_accepts_mathematics():
    e = parse_expression("kappa*(theta - x) + sigma^2/2 - exp(-t)*log(x) + sqrt(abs(x))")
    th, k, s = sp.symbols("theta kappa sigma", real=True)
    xx, tt = sp.symbols("x t", real=True)
    assert zero(e - (k * (th - xx) + s**2 / 2 - sp.exp(-tt) * sp.log(xx) + sp.sqrt(sp.Abs(xx))))
    with pytest.raises(TypeError, match="string"):
        parse_expression(3)  # type: ignore[arg-type]


def test_seed002_pdepe_forms_solved_numerically_against_backward(walk):
    """Bridge: the symbolic pdepe coefficients, solved by gelav.pdepe, against gelav.backward on the
    lambdified GBM (seed 002's grid: 101 prices on [0, 1], sold at the limits, T = 1)."""
    from gelav.backward import backward
    from gelav.grid import Grid
    from gelav.pdepe import pdepe

    S = walk.symbols
    num = {S["mu0"]: 0, S["sigma0"]: 1}
    xg, tg = np.linspace(0.0, 1.0, 101), np.linspace(0.0, 1.0, 21)

    def bc(xl, ul, xr, ur, t):
        return xl - ul, 0.0, xr - ur, 0.0

    ours = pdepe(0, walk.pdepe.subs(num).to_callable(), lambda z: z, bc, xg, tg)[-1, :, 0]
    seed = pdepe(0, walk.seed_pdepe.subs(num).to_callable(), lambda z: z, bc, xg, tg)[-1, :, 0]
    ref = backward(walk.gbm.subs(num).to_process(), lambda z: z, 1.0, grid=Grid(xg), upper="payoff",
                   lower="payoff", n_steps=400).values[0]
    # two second-order discretisations of one PDE on h = 0.01: differences O(h^2) ~ 1e-4
    assert np.max(np.abs(ours - ref)) < 1e-3
    assert np.max(np.abs(seed - ref)) > 0.1  # the seed's literal coefficients solve another PDE


def test_symbolic_exit_time_is_reference_for_numerical_exit_time():
    """dsolve's E[tau] for GBM(0.1, 0.4) on (1/2, 2) against gelav's generator solve: order 2."""
    import gelav.exits as exits
    g = ItoProcess.from_process(GeometricBrownianMotion(0.1, 0.4))
    et = g.exit_time(sp.Rational(1, 2), 2)
    assert et.check()
    f = sp.lambdify(g.x, et.expression)
    proc = g.to_process()
    errs = []
    for n in (50, 100, 200, 400):
        r = exits.exit_time(proc, 0.5, 2.0, n_cells=n)
        errs.append(np.max(np.abs(r.values[1:-1] - f(r.x[1:-1]))))
    slope = np.polyfit(np.log([50, 100, 200, 400]), np.log(errs), 1)[0]
    assert -2.1 < slope < -1.9, (errs, slope)


# ------------------------------------------------------------------------------------------ exit times: Green's route
@pytest.mark.parametrize(
    ("proc", "a", "b"),
    [(BrownianMotion(0.3, 0.7), -1, 1), (GeometricBrownianMotion(0.1, 0.4), sp.Rational(1, 2), 2)],
)
def test_exit_time_green_representation_equals_dsolve(proc, a, b):
    """The scale/speed Green's function integrated by SymPy is dsolve's closed form exactly."""
    ip = ItoProcess.from_process(proc)
    d = ip.exit_time(a, b, method="dsolve")
    g = ip.exit_time(a, b, method="green")
    assert (d.method, g.method) == ("dsolve", "green")
    assert g.closed_form and d.closed_form
    assert zero(d.expression - g.expression)
    assert g.check() and d.check()
    assert ip.exit_time(a, b).method == "dsolve"  # auto: elementary scale and speed -> dsolve


def test_exit_time_green_equals_dsolve_symbolic_brownian():
    a, b = sp.symbols("a b", real=True)
    bm = ItoProcess(mu, sigma, t, x)
    g, d = bm.exit_time(a, b, method="green"), bm.exit_time(a, b, method="dsolve")
    assert g.closed_form and zero(g.expression - d.expression)
    h = bm.hitting_probability(a, b)
    expected = (sp.exp(-2 * mu * a / sigma**2) - sp.exp(-2 * mu * x / sigma**2)) / (
        sp.exp(-2 * mu * a / sigma**2) - sp.exp(-2 * mu * b / sigma**2))
    assert zero(h.expression - expected) and h.check()


def test_exit_time_ou_auto_uses_green_and_checks_symbolically():
    """dsolve runs for minutes on the OU equation; auto takes the Green's route (erfi scale function)."""
    a, b = sp.symbols("a b", real=True)
    ou = ItoProcess(kappa * (m - x), sigma, t, x)
    et = ou.exit_time(a, b)
    assert et.method == "green" and not et.closed_form
    assert et.expression.has(sp.erfi) and et.expression.has(sp.Integral)
    assert et.check()  # L y = -1 by Leibniz's rule, y(a) = y(b) = 0
    assert not dataclasses.replace(et, expression=2 * et.expression).check()
    assert not dataclasses.replace(et, expression=et.expression + x - a).check()  # solves the ODE, wrong at b
    assert "E[\\tau]" in et.latex() and str(et).startswith("E[tau](x) =")
    with pytest.raises(ValueError, match="still symbolic"):
        et.numeric()
    with pytest.raises(ValueError, match="method"):
        ou.exit_time(a, b, method="magic")


def test_ou_exit_time_and_hitting_probability_against_generator_solver():
    """OU(0.45, 1, 0.32) on (0, 2): Green's-function integrals by quadrature vs gelav.exits (order 2)."""
    import gelav.exits as exits

    ip = ItoProcess.from_process(OrnsteinUhlenbeck(0.45, 1.0, 0.32))
    et, hp = ip.exit_time(0, 2), ip.hitting_probability(0, 2)
    assert et.method == "green" and hp.closed_form and hp.check()
    xs = np.array([0.25, 0.5, 1.0, 1.5, 1.75])  # nodes of every grid below
    ref_t, ref_h = et.numeric()(xs), hp.numeric()(xs)
    # symmetry about the mean: E[tau] even, P(hit 2 first) - 1/2 odd in x - 1
    np.testing.assert_allclose(ref_t, ref_t[::-1], rtol=1e-11)
    np.testing.assert_allclose(ref_h + ref_h[::-1], 1.0, rtol=0, atol=1e-12)
    assert abs(hp.evalf(0.5) - ref_h[1]) < 1e-13  # SymPy/mpmath path agrees with the lambdified one
    proc = ip.to_process()
    ns = [40, 80, 160, 320]
    vt = [exits.exit_time(proc, 0.0, 2.0, n_cells=n).value(xs) for n in ns]
    vh = [exits.exit_probability(proc, 0.0, 2.0, n_cells=n).value(xs) for n in ns]
    et_err = [np.max(np.abs(v - ref_t)) for v in vt]
    eh_err = [np.max(np.abs(v - ref_h)) for v in vh]
    slope_t = np.polyfit(np.log(ns), np.log(et_err), 1)[0]
    slope_h = np.polyfit(np.log(ns), np.log(eh_err), 1)[0]
    assert -2.1 < slope_t < -1.9, (et_err, slope_t)
    assert slope_h < -1.9, (eh_err, slope_h)  # at least order 2 (measured: 4, the fitted fluxes are exact-ish here)
    # refinement-based tolerance: the finest error is within the Richardson estimate |v_N - v_{N/2}|/(2^2 - 1)
    assert et_err[-1] <= 1.2 * np.max(np.abs(vt[-1] - vt[-2])) / 3
    assert eh_err[-1] <= 1.2 * np.max(np.abs(vh[-1] - vh[-2])) / 3


def test_cir_exit_time_green_against_generator_solver():
    """CIR(0.8, 0.5, 0.4) on (1/5, 1): the scale function involves Ei, the Green's integrals stay open."""
    import gelav.exits as exits

    ip = ItoProcess.from_process(CIR(0.8, 0.5, 0.4))
    et = ip.exit_time(sp.Rational(1, 5), 1)
    assert et.method == "green" and et.check()
    xs = np.array([0.4, 0.6, 0.8])
    ref = et.numeric()(xs)
    errs = [np.max(np.abs(exits.exit_time(ip.to_process(), 0.2, 1.0, n_cells=n).value(xs) - ref)) for n in (40, 80, 160)]
    slope = np.polyfit(np.log([40, 80, 160]), np.log(errs), 1)[0]
    assert -2.15 < slope < -1.85, (errs, slope)


def test_exit_time_numeric_and_evalf_closed_form():
    s_ = sp.Symbol("s", positive=True)
    et = ItoProcess(0, s_, t, x).exit_time(-1, 1).subs(s_, 2)
    f = et.numeric()
    np.testing.assert_allclose(f(np.array([-0.5, 0.0, 0.5])), (1 - np.array([0.25, 0.0, 0.25])) / 4, rtol=1e-15)
    assert abs(et.evalf(0.5) - 0.1875) < 1e-15


def test_hitting_probability_needs_time_homogeneous():
    with pytest.raises(ValueError, match="time-independent"):
        ItoProcess(t * x, 1, t, x).hitting_probability(0, 1)


# ------------------------------------------------------------------------------------------ exact laws of the bridge
def test_symbolic_ou_stationary_law_and_forward_from_stationary():
    """Symbolic OU: stationary law N(Lbar, sigma^2/2kappa); forward(..., 'stationary') keeps it (to O(h^2))."""
    from scipy import stats

    Lbar = sp.Symbol("Lbar", real=True)
    p = ItoProcess(kappa * (Lbar - x), sigma, t, x).to_process(kappa=0.45, Lbar=1.0, sigma=0.32)
    assert p.family == "ou" and p.family_params == {"kappa": 0.45, "mean": 1.0, "sigma": 0.32}
    exact = stats.norm(1.0, 0.32 / np.sqrt(0.9))
    law = p.stationary()
    xs = np.linspace(-0.5, 2.5, 13)
    np.testing.assert_allclose(law.cdf(xs), exact.cdf(xs), rtol=1e-15, atol=1e-16)
    assert (law.mean(), law.std()) == (exact.mean(), exact.std())
    # the same law from the lambdified symbolic density (quadrature cdf at rtol 1e-12)
    dens = p.stationary_from_density()
    np.testing.assert_allclose(dens.pdf(xs), exact.pdf(xs), rtol=1e-13)
    np.testing.assert_allclose(dens.cdf(xs), exact.cdf(xs), rtol=1e-11, atol=1e-15)
    np.testing.assert_allclose(dens.sf(xs), exact.sf(xs), rtol=1e-11, atol=1e-15)
    np.testing.assert_allclose([dens.mean(), dens.var()], [1.0, 0.32**2 / 0.9], rtol=1e-11)
    np.testing.assert_allclose([dens.ppf(1e-8), dens.isf(1e-8)], [exact.ppf(1e-8), exact.isf(1e-8)], rtol=1e-11)
    # forward from the stationary law: the discrete chain's stationary law differs by O(h^2)
    drift = []
    for n in (100, 200, 400):
        d = forward(p, "stationary", 2.0, n_cells=n, n_steps=40)
        drift.append(np.max(np.abs(d.masses[-1] - d.masses[0])) / np.max(d.masses[0]))
        assert abs(d.mean() - 1.0) < 1e-9  # symmetric grid and law: the mean stays put
    slope = np.polyfit(np.log([100, 200, 400]), np.log(drift), 1)[0]
    assert -2.2 < slope < -1.8, (drift, slope)
    assert abs(d.var() - 0.32**2 / 0.9) < 1e-4 * 0.32**2 / 0.9


def test_stationary_law_from_density_for_unrecognised_model():
    """dX = -X^3 dt + dW: pi = 2^{3/4} e^{-x^4/2}/Gamma(1/4), variance sqrt(2) Gamma(3/4)/Gamma(1/4)."""
    from math import gamma, sqrt

    p = ItoProcess(-(x**3), 1, t, x).to_process()
    assert p.family is None and p.builtin is None and not p.has_transition
    law = p.stationary()
    var = sqrt(2) * gamma(0.75) / gamma(0.25)
    assert abs(law.mean()) < 1e-14 and abs(law.var() - var) < 1e-12 * var
    assert abs(law.cdf(0.0) - 0.5) < 1e-13 and abs(law.cdf(1.0) + law.sf(1.0) - 1) < 1e-13
    errs = []
    for n in (100, 200, 400):
        d = forward(p, "stationary", 1.0, n_cells=n, n_steps=40)
        errs.append(np.max(np.abs(d.masses[-1] - d.masses[0])) / np.max(d.masses[0]))
    slope = np.polyfit(np.log([100, 200, 400]), np.log(errs), 1)[0]
    assert -2.2 < slope < -1.8, (errs, slope)
    # no stationary law: Brownian motion, GBM, time-dependent coefficients
    assert ItoProcess(0, 1, t, x).to_process().stationary() is None
    assert ItoProcess.from_process(GeometricBrownianMotion(0.05, 0.3)).to_process().stationary() is None
    assert ItoProcess(sp.sin(t) - x, 1, t, x).to_process().stationary() is None
    from gelav.forward import initial_masses
    from gelav.grid import Grid

    with pytest.raises(ValueError, match="no stationary law"):
        initial_masses("stationary", Grid.uniform(-1.0, 1.0, 10), ItoProcess(0, 1, t, x).to_process())


@pytest.mark.parametrize(
    ("proc", "x0", "family"),
    [(OrnsteinUhlenbeck(0.45, 1.0, 0.32), -0.5, "ou"), (CIR(0.8, 0.5, 0.4), 0.6, "cir"),
     (GeometricBrownianMotion(0.05, 0.3), 1.0, "gbm"), (BrownianMotion(0.1, 0.7), 0.0, "bm")],
)
def test_symbolic_process_exact_laws_match_builtin(proc, x0, family):
    sym = ItoProcess.from_process(proc).to_process()
    assert sym.family == family and sym.has_transition and sym.family_params == proc.params()
    qs = np.array([0.01, 0.3, 0.5, 0.9])
    law_s, law_b = sym.transition(x0, 1.3), proc.transition(x0, 1.3)
    np.testing.assert_array_equal(law_s.ppf(qs), law_b.ppf(qs))
    assert sym.conditional_mean(x0, 1.3) == proc.conditional_mean(x0, 1.3)
    assert sym.conditional_var(x0, 1.3) == proc.conditional_var(x0, 1.3)
    st_s, st_b = sym.stationary(), proc.stationary()
    assert (st_s is None) == (st_b is None)
    if st_b is not None:
        np.testing.assert_array_equal(st_s.ppf(qs), st_b.ppf(qs))


def test_transition_from_model_density_when_family_not_used():
    """A custom domain turns family recognition off: the law comes from the lambdified OU density."""
    p = ItoProcess.from_process(OrnsteinUhlenbeck(0.45, 1.0, 0.32)).to_process(domain=(-30.0, 30.0))
    assert p.family is None and p.has_transition and p.normal_law(-0.5, 2.0) is None
    law, exact = p.transition(-0.5, 2.0), OrnsteinUhlenbeck(0.45, 1.0, 0.32).transition(-0.5, 2.0)
    xs = np.array([-0.5, 0.5, 1.5])
    np.testing.assert_allclose(law.cdf(xs), exact.cdf(xs), rtol=1e-11)
    assert abs(p.conditional_mean(-0.5, 2.0) - exact.mean()) < 1e-11
    assert abs(p.conditional_var(-0.5, 2.0) - exact.var()) < 1e-11 * exact.var()


# ------------------------------------------------------------------------------------------ Monte Carlo and lattice
@pytest.mark.parametrize(("proc", "x0", "c"), [(OrnsteinUhlenbeck(0.45, 1.0, 0.32), -0.5, -0.5), (CIR(0.8, 0.5, 0.4), 0.6, 0.3)])
def test_symbolic_process_in_monte_carlo_euler(proc, x0, c):
    """Same seed, same normals: the lambdified model's Euler paths equal the built-in's to rounding."""
    from gelav.montecarlo import simulate

    sym = ItoProcess.from_process(proc).to_process()
    a = simulate(proc, x0, 2.0, 100, 20_000, scheme="euler", seed=7, save="all")
    b = simulate(sym, x0, 2.0, 100, 20_000, scheme="euler", seed=7, save="all")
    assert np.max(np.abs(a.values - b.values)) < 1e-12
    pa, pb = a.prob(below=c), b.prob(below=c)
    assert pa.value == pb.value and pa.stderr == pb.stderr
    exact = proc.transition(x0, 2.0).cdf(c)
    assert abs(pb.value - exact) < 4 * pb.stderr + 0.01 * exact  # Euler bias O(dt) is far below the noise here


@pytest.mark.parametrize(("proc", "x0", "c"), [(OrnsteinUhlenbeck(0.45, 1.0, 0.32), -0.5, -0.5), (CIR(0.8, 0.5, 0.4), 0.6, 0.3)])
def test_symbolic_process_in_generator_lattice(proc, x0, c):
    from gelav.grid import Grid
    from gelav.lattice import GeneratorLattice, stress_probability

    sym = ItoProcess.from_process(proc).to_process()
    g = Grid.uniform(-2.0, 3.0, 100) if proc.domain[0] < 0 else Grid.uniform(0.0, 3.0, 100)
    pa = GeneratorLattice(proc, g).forward(g.point_mass(x0), 2.0)
    pb = GeneratorLattice(sym, g).forward(g.point_mass(x0), 2.0)
    assert np.max(np.abs(pa - pb)) < 1e-14
    sa = stress_probability(proc, x0, 2.0, c, method="generator")
    sb = stress_probability(sym, x0, 2.0, c, method="generator")
    # the same chain by two code paths; the matrix exponentials' multithreaded BLAS sums round
    # differently from run to run (1.4e-14 seen under pytest-xdist): agreement to rounding, 1e-13
    assert sb.sizes == sa.sizes and abs(sa.probability - sb.probability) < 1e-13
    assert abs(sb.probability - proc.transition(x0, 2.0).cdf(c)) <= sb.error_estimate
