r"""Teaching views of the seeds, as code that checks itself.

* Seed 000: the OU Fokker–Planck equation split into its three named terms, and the change of
  variables that turns it into the heat equation (:func:`ou_fokker_planck_terms`,
  :func:`ou_heat_transform`).
* Seed 003: the trinomial walk's moment expansion gives :math:`\partial_t P = C^2\partial_y^2 P`
  with :math:`C^2 = \alpha\,\delta y^2/\delta t`, solved by similarity reduction
  (:func:`trinomial_derivation`).
* Seed 002: every symbolic step of the Feynman–Kac example (:func:`seed002_walkthrough`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sympy as sp

from gelav.symbolic._equation import Equation, LatexRepr, is_zero
from gelav.symbolic._ito import ExitTime, ItoProcess, PdepeForm, ito_rule, pdepe_form, time_reversal

__all__ = [
    "FokkerPlanckTerms",
    "HeatTransform",
    "Seed002Walkthrough",
    "TrinomialDerivation",
    "ou_fokker_planck_terms",
    "ou_heat_transform",
    "seed002_walkthrough",
    "trinomial_derivation",
]


def _ou_symbols(kappa: Any, mean: Any, sigma: Any) -> tuple[Any, Any, Any]:
    return (
        sp.Symbol("kappa", positive=True) if kappa is None else sp.sympify(kappa),
        sp.Symbol("Lbar", real=True) if mean is None else sp.sympify(mean),
        sp.Symbol("sigma", positive=True) if sigma is None else sp.sympify(sigma),
    )


def _ou_process(kappa: Any, mean: Any, sigma: Any) -> tuple[Any, Any, Any, ItoProcess]:
    """``(κ, L̄, σ, dX = κ(L̄ - x) dt + σ dW)``: the OU symbols and the symbolic process."""
    k, m, s = _ou_symbols(kappa, mean, sigma)
    return k, m, s, ItoProcess(k * (m - sp.Symbol("x", real=True)), s)


# ---------------------------------------------------------------------------------- seed 000
@dataclass(frozen=True)
class FokkerPlanckTerms(LatexRepr):
    r"""The OU Fokker–Planck equation with its right-hand side split into named terms."""

    equation: Equation
    terms: tuple[tuple[str, Any], ...]
    process: ItoProcess

    def check(self) -> bool:
        """True when the named terms add up to :math:`\\mathcal{L}^* p`."""
        p = self.equation.lhs.args[0]
        return is_zero(sum((e for _, e in self.terms), sp.Integer(0)) - self.process.adjoint(p))

    def latex(self) -> str:
        parts = " + ".join(rf"\underbrace{{{sp.latex(e)}}}_{{\text{{{n}}}}}" for n, e in self.terms)
        return rf"{sp.latex(self.equation.lhs)} = {parts}"

    def __str__(self) -> str:
        lines = [f"{sp.sstr(self.equation.lhs)} ="]
        lines += [f"    + {sp.sstr(e):<45s} [{n}]" for n, e in self.terms]
        return "\n".join(lines)


def ou_fokker_planck_terms(kappa: Any = None, mean: Any = None, sigma: Any = None) -> FokkerPlanckTerms:
    r"""Seed 000's three terms of the OU Fokker–Planck equation.

    .. math::

        \partial_t p = \underbrace{-\kappa(\bar L - x)\,\partial_x p}_{\text{drift transport}}
        + \underbrace{\kappa\,p}_{\text{mean-reverting concentration}}
        + \underbrace{\tfrac12\sigma^2\,\partial_x^2 p}_{\text{diffusion spreading}} .

    Examples
    --------
    >>> ou_fokker_planck_terms().check()
    True
    """
    k, m, s, proc = _ou_process(kappa, mean, sigma)
    p = sp.Function("p")(proc.t, proc.x)
    terms = (
        ("drift transport", -k * (m - proc.x) * sp.Derivative(p, proc.x)),
        ("mean-reverting concentration", k * p),
        ("diffusion spreading", s**2 / 2 * sp.Derivative(p, (proc.x, 2))),
    )
    eq = Equation(sp.Derivative(p, proc.t), sum((e for _, e in terms), sp.Integer(0)), "OU Fokker–Planck equation")
    return FokkerPlanckTerms(eq, terms, proc)


def _jet(expr: sp.Expr, w: Any, names: tuple[str, str]) -> sp.Expr:
    """Replace ``w(A, B)``, its derivatives and ``Subs`` of them by symbols ``W``, ``W_tau``, ...."""

    def sym(counts: tuple[int, int]) -> sp.Symbol:
        suffix = "".join(n * c for n, c in zip(names, counts, strict=True))
        return sp.Symbol("W" + (f"_{suffix}" if suffix else ""))

    def convert(e: Any) -> Any:
        if isinstance(e, sp.Subs) and isinstance(e.expr, sp.Derivative) and e.expr.expr.func == w:
            f = e.expr.expr
            counts = [0, 0]
            for var, c in e.expr.variable_count:
                counts[list(f.args).index(var)] += int(c)
            return sym((counts[0], counts[1]))
        if isinstance(e, sp.Derivative) and e.expr.func == w:
            f = e.expr
            counts = [0, 0]
            for var, c in e.variable_count:
                counts[list(f.args).index(var)] += int(c)
            return sym((counts[0], counts[1]))
        if getattr(e, "func", None) == w:
            return sym((0, 0))
        return None

    for kind in (sp.Subs, sp.Derivative):
        mapping = {e: convert(e) for e in expr.atoms(kind)}
        expr = expr.xreplace({k: v for k, v in mapping.items() if v is not None})
    mapping = {e: sym((0, 0)) for e in expr.atoms(sp.Function) if e.func == w}
    return expr.xreplace(mapping)


@dataclass(frozen=True)
class HeatTransform(LatexRepr):
    r"""Change of variables :math:`p(t, x) = e^{\kappa t}\,w(\tau(t), \xi(t, x))` from OU Fokker–Planck to heat."""

    xi: Any
    tau: Any
    prefactor: Any
    heat_equation: Equation
    fokker_planck: Equation
    process: ItoProcess

    def substituted_residual(self) -> sp.Expr:
        r"""Fokker–Planck residual of :math:`e^{\kappa t} w(\tau, \xi)` with :math:`w`'s derivatives as symbols."""
        w = sp.Function("w")
        p = self.prefactor * w(self.tau, self.xi)
        res = (sp.diff(p, self.process.t) - self.process.adjoint(p)).doit()
        return sp.expand(_jet(res, w, ("tau", "xi")))

    def check(self) -> bool:
        r"""True when the residual equals :math:`e^{\kappa t}\,\tau'(t)\,(w_\tau - w_{\xi\xi})` identically."""
        W_tau, W_xixi = sp.Symbol("W_tau"), sp.Symbol("W_xixi")
        expected = self.prefactor * sp.diff(self.tau, self.process.t) * (W_tau - W_xixi)
        return is_zero(self.substituted_residual() - expected)

    def ou_density_from_heat_kernel(self, x0: Any = None) -> sp.Expr:
        r"""The heat kernel from :math:`\xi_0 = x_0 - \bar L` mapped back: the OU transition density."""
        x0 = sp.Symbol("x0", real=True) if x0 is None else x0
        T, X = sp.Symbol("tau_", positive=True), sp.Symbol("xi_", real=True)
        xi0 = self.xi.subs({self.process.t: 0, self.process.x: x0})
        kernel = sp.exp(-(X - xi0) ** 2 / (4 * T)) / sp.sqrt(4 * sp.pi * T)
        return self.prefactor * kernel.subs({T: self.tau, X: self.xi})

    def latex(self) -> str:
        return (rf"p = {sp.latex(self.prefactor)}\,w(\tau, \xi),\quad \xi = {sp.latex(self.xi)},\quad "
                rf"\tau = {sp.latex(self.tau)}\ \Longrightarrow\ {self.heat_equation.latex()}")

    def __str__(self) -> str:
        return (f"p(t, x) = {sp.sstr(self.prefactor)} * w(tau, xi), xi = {sp.sstr(self.xi)}, "
                f"tau = {sp.sstr(self.tau)}  =>  {self.heat_equation}")


def ou_heat_transform(kappa: Any = None, mean: Any = None, sigma: Any = None) -> HeatTransform:
    r"""Turn the OU Fokker–Planck equation into the heat equation :math:`w_\tau = w_{\xi\xi}`.

    With :math:`\xi = (x - \bar L)e^{\kappa t}`, :math:`\tau = \sigma^2(e^{2\kappa t} - 1)/(4\kappa)`
    and :math:`p = e^{\kappa t} w(\tau, \xi)`, the chain rule gives

    .. math::

        \partial_t p - \mathcal{L}^* p = e^{\kappa t}\,\tau'(t)\,\big(w_\tau - w_{\xi\xi}\big),

    so :math:`p` solves Fokker–Planck exactly when :math:`w` solves the heat equation
    (:meth:`HeatTransform.check` verifies the identity by substitution).

    Examples
    --------
    >>> ou_heat_transform().check()
    True
    """
    k, m, s, proc = _ou_process(kappa, mean, sigma)
    t, x = proc.t, proc.x
    xi = (x - m) * sp.exp(k * t)
    tau = s**2 * (sp.exp(2 * k * t) - 1) / (4 * k)
    w = sp.Function("w")
    T, X = sp.symbols("tau xi", real=True)
    heat = Equation(sp.Derivative(w(T, X), T), sp.Derivative(w(T, X), (X, 2)), "heat equation")
    return HeatTransform(xi=xi, tau=tau, prefactor=sp.exp(k * t), heat_equation=heat,
                         fokker_planck=proc.fokker_planck_equation(), process=proc)


# ---------------------------------------------------------------------------------- seed 003
@dataclass(frozen=True)
class TrinomialDerivation(LatexRepr):
    r"""Seed 003's derivation of :math:`\partial_t P = C^2 \partial_y^2 P` from the trinomial walk.

    Attributes hold each step: the master equation, its Taylor expansion by order in
    :math:`\epsilon` (:math:`\delta y = \epsilon h`, :math:`\delta t = \epsilon^2 k`), the walk's
    moments, the PDE and :math:`C^2`, the similarity exponents, the ODE for :math:`f(\xi)`,
    its solution, the normalising constant and the density.
    """

    alpha: Any
    dy: Any
    dt: Any
    master: Equation
    expansion: tuple[Any, ...]  # coefficients of eps**0, eps**1, eps**2
    moments: tuple[Any, Any]  # E[Δy], E[Δy²]
    pde: Equation
    C2: Any
    exponents: dict[str, Any]
    ode: Equation
    f: Any
    A: Any
    density: Any
    y: Any
    t: Any

    def check(self) -> dict[str, bool]:
        """Each claim of the derivation, verified."""
        y, t = self.y, self.t
        P = sp.Function("P")(y, t)
        C2 = self.C2
        normal = sp.exp(-(y**2) / (2 * 2 * C2 * t)) / sp.sqrt(2 * sp.pi * 2 * C2 * t)
        km_C2 = self.moments[1] / (2 * self.dt)
        return {
            "first order cancels": is_zero(self.expansion[1]),
            "second order gives the PDE": is_zero(
                self.expansion[2] - (self.alpha * self.dy**2 * sp.Derivative(P, (y, 2)) - self.dt * sp.Derivative(P, t))
            ),
            "moment expansion agrees (C² = E[Δy²]/(2δt))": is_zero(km_C2 - C2) and is_zero(self.moments[0]),
            "density solves the PDE": self.pde.holds_for(P, self.density),
            "density integrates to 1": is_zero(sp.integrate(self.density, (y, -sp.oo, sp.oo)) - 1),
            "density is N(0, 2 C² t)": is_zero(self.density - normal),
        }

    def latex(self) -> str:
        return rf"{self.master.latex()}\ \Longrightarrow\ {self.pde.latex()},\quad C^2 = {sp.latex(self.C2)}"

    def __str__(self) -> str:
        return "\n".join([
            f"master equation: {self.master}",
            f"order eps^1: {sp.sstr(self.expansion[1])}",
            f"order eps^2: {sp.sstr(self.expansion[2])} = 0",
            f"moments: E[dy] = {sp.sstr(self.moments[0])}, E[dy^2] = {sp.sstr(self.moments[1])}",
            f"PDE: {self.pde}   with C^2 = {sp.sstr(self.C2)}",
            f"similarity: P = t^a f(y/t^b), b = {self.exponents['b']}, a = {self.exponents['a']}",
            f"ODE: {self.ode}",
            f"f(xi) = {sp.sstr(self.f)}, A = {sp.sstr(self.A)}",
            f"P(y, t) = {sp.sstr(self.density)}  (N(0, 2 C^2 t))",
        ])


def trinomial_derivation(alpha: Any = None, dy: Any = None, dt: Any = None) -> TrinomialDerivation:
    r"""Derive the forward Kolmogorov equation of the trinomial walk (seed 003), step by step.

    The walk moves :math:`\pm\delta y` with probability :math:`\alpha` each and stays with
    :math:`1 - 2\alpha`; its forward equation

    .. math:: P(y, t) = \alpha P(y + \delta y, t - \delta t) + (1 - 2\alpha) P(y, t - \delta t)
              + \alpha P(y - \delta y, t - \delta t)

    expanded with :math:`\delta y^2 \sim \delta t` gives :math:`\partial_t P = C^2\partial_y^2 P`,
    :math:`C^2 = \alpha\,\delta y^2/\delta t`, whose similarity solution is :math:`N(0, 2C^2 t)`.
    ``alpha = 1/2`` is the seed's symmetric random walk (:math:`C^2 = \delta y^2/(2\delta t)`).

    Examples
    --------
    >>> all(trinomial_derivation().check().values())
    True
    """
    alpha = sp.Symbol("alpha", positive=True) if alpha is None else sp.sympify(alpha)
    dy = sp.Symbol("delta_y", positive=True) if dy is None else sp.sympify(dy)
    dt = sp.Symbol("delta_t", positive=True) if dt is None else sp.sympify(dt)
    y = sp.Symbol("y", real=True)
    t = sp.Symbol("t", positive=True)
    P = sp.Function("P")
    master = Equation(P(y, t), alpha * P(y + dy, t - dt) + (1 - 2 * alpha) * P(y, t - dt)
                      + alpha * P(y - dy, t - dt), "trinomial walk forward equation")

    # Taylor jets with eps scaling dy = eps*h, dt = eps**2*k (terms up to eps**2 kept exactly)
    eps, h, k = sp.symbols("epsilon h k", positive=True)

    def shifted(u: Any, v: Any) -> sp.Expr:
        tot = sp.Integer(0)
        for i in range(0, 4):
            for j in range(0, 2):
                if i + 2 * j <= 3:
                    d = P(y, t) if i == j == 0 else sp.Derivative(P(y, t), *(((y, i),) if i else ()), *(((t, j),) if j else ()))
                    tot += d * u**i * v**j / (sp.factorial(i) * sp.factorial(j))
        return tot

    rhs = alpha * shifted(eps * h, -eps**2 * k) + (1 - 2 * alpha) * shifted(0, -eps**2 * k) \
        + alpha * shifted(-eps * h, -eps**2 * k)
    diff = sp.expand(rhs - P(y, t))
    back = {h: dy, k: dt}
    expansion = tuple(sp.expand(diff.coeff(eps, n).subs(back)) for n in range(3))
    # moments of one step
    steps = ((dy, alpha), (0, 1 - 2 * alpha), (-dy, alpha))
    m1 = sp.simplify(sum(s * q for s, q in steps))
    m2 = sp.simplify(sum(s**2 * q for s, q in steps))
    # order eps**2: dt P_t = alpha dy**2 P_yy
    Pt, Pyy = sp.symbols("P_t P_yy")
    e2 = expansion[2].subs({sp.Derivative(P(y, t), t): Pt, sp.Derivative(P(y, t), (y, 2)): Pyy})
    pt_solved = sp.solve(e2, Pt)[0]
    C2 = sp.simplify(pt_solved / Pyy)
    Csym = sp.Symbol("C", positive=True)
    pde = Equation(sp.Derivative(P(y, t), t), Csym**2 * sp.Derivative(P(y, t), (y, 2)), "forward Kolmogorov (heat) equation")
    # similarity reduction P = t**a f(y / t**b)
    a, b = sp.symbols("a b", real=True)
    xi = sp.Symbol("xi", real=True)
    f = sp.Function("f")
    # exponents of t on both sides: a - 1 (from P_t) and a - 2b (from P_yy)
    b_val = sp.solve(sp.Eq(a - 1, a - 2 * b), b)[0]
    # normalisation: int t**a f(y/sqrt t) dy = t**(a + 1/2) int f -> a + 1/2 = 0
    a_val = sp.solve(sp.Eq(a + b_val, 0), a)[0]
    Psim = t**a_val * f(y / t**b_val)
    reduced = sp.simplify((sp.diff(Psim, t) - Csym**2 * sp.diff(Psim, y, 2)).doit() * t ** (1 - a_val))
    reduced = reduced.subs(y, xi * sp.sqrt(t)).doit()
    reduced = sp.simplify(reduced)
    ode = Equation(-f(xi) / 2 - xi * sp.Derivative(f(xi), xi) / 2, Csym**2 * sp.Derivative(f(xi), (xi, 2)),
                   "similarity ODE")
    if not is_zero(reduced - ode.residual) and not is_zero(reduced + ode.residual):
        raise RuntimeError(f"similarity reduction gave {reduced}")  # pragma: no cover
    # integrate once (constant 0 by symmetry / decay): C^2 f' = -xi f / 2
    first = sp.dsolve(sp.Eq(Csym**2 * sp.Derivative(f(xi), xi), -xi * f(xi) / 2), f(xi))
    Aconst = sp.Symbol("A", positive=True)
    fsol = first.rhs.subs(sp.Symbol("C1"), Aconst)
    A_val = sp.simplify(1 / sp.integrate(fsol / Aconst, (xi, -sp.oo, sp.oo)))
    density = sp.simplify((t**a_val * fsol.subs(Aconst, A_val).subs(xi, y / t**b_val)).subs(Csym, sp.sqrt(C2)))
    pde_c = pde.subs(Csym, sp.sqrt(C2))
    return TrinomialDerivation(alpha=alpha, dy=dy, dt=dt, master=master, expansion=expansion, moments=(m1, m2),
                               pde=pde_c, C2=C2, exponents={"a": a_val, "b": b_val}, ode=ode,
                               f=fsol.subs(Aconst, A_val), A=A_val, density=density, y=y, t=t)


# ---------------------------------------------------------------------------------- seed 002
@dataclass(frozen=True)
class Seed002Walkthrough:
    r"""Every symbolic step of seed 002 (Feynman–Kac, Itô's rule, ``pdepe`` form, exit time).

    ``seed_pdepe`` follows the seed's substitution order literally (the coefficients are
    rewritten in :math:`Y = e^X` *after* :math:`\partial_X\sigma` was taken, so
    :math:`\partial_X \sigma_1` is dropped) and reproduces its
    ``@(t,Y,V,dvdx)deal(1.0,(Y.^2.*dvdx)./2.0,(Y.*dvdx)./2.0)``; ``pdepe`` redoes the
    integration by parts in :math:`Y` and gives :math:`s = (\mu_0 - \sigma_0^2/2)\,Y\,v_Y`,
    i.e. ``-(Y.*dvdx)./2`` for :math:`\mu_0 = 0, \sigma_0 = 1`. Only the latter is solved
    by :math:`E[Y_T] = Y e^{T/2}` (see :meth:`checks`).
    """

    symbols: dict[str, Any]
    feynman_kac: Equation
    reversed: Equation
    coefficients: tuple[Any, Any, Any]
    pdepe_general: PdepeForm
    mu1: Any
    sigma1: Any
    mu1_Y: Any
    sigma1_Y: Any
    gbm: ItoProcess
    seed_pdepe: PdepeForm
    pdepe: PdepeForm
    exit_time_equation: Equation
    exit_time_gbm: Equation
    exit_time: ExitTime | None
    exit_time_mu0_limit: Any
    exit_time_a_limit: Any

    def checks(self) -> dict[str, bool]:
        """Claims of the seed, verified (see the class docstring for the ``pdepe`` discrepancy)."""
        S = self.symbols
        Y, t, dvdx = S["Y"], S["t"], S["dvdx"]
        mu0, s0 = S["mu0"], S["sigma0"]
        v = sp.Function("v")(t, Y)
        expected = Y * sp.exp(t / 2)  # E[Y_t] for mu0 = 0, sigma0 = 1
        num = {mu0: 0, s0: 1}
        seed_form = self.seed_pdepe.subs(num)
        ours = self.pdepe.subs(num)
        out = {
            "seed pdepe coefficients reproduced": (seed_form.c == 1 and is_zero(seed_form.f - Y**2 * dvdx / 2)
                                                   and is_zero(seed_form.s - Y * dvdx / 2)),
            "correct pdepe form solved by Y exp(t/2)": ours.pde(v).holds_for(v, expected),
            "seed pdepe form is NOT solved by Y exp(t/2) (it drops -v_Y d(sigma1^2/2)/dY)": not seed_form.pde(v).holds_for(v, expected),
            "correct pdepe form equals the reversed backward equation": ours.pde(v).equivalent(
                time_reversal(self.gbm.subs(num).feynman_kac_equation(0, u=sp.Function("u")(t, Y)),
                              sp.Function("u")(t, Y), sp.Function("v"), T=S["T"])
            ),
            "mu1 = (mu0 + sigma0^2/2) exp(X)": is_zero(self.mu1 - (mu0 + s0**2 / 2) * sp.exp(S["X"])),
            "sigma1 = sigma0 exp(X)": is_zero(self.sigma1 - s0 * sp.exp(S["X"])),
        }
        if self.exit_time is not None:
            out["exit time solves its ODE with y(a) = y(b) = 0"] = self.exit_time.check()
        X, a, b = S["Xp"], S["a"], S["b"]
        out["mu0 -> 0 limit is (log X - log a)(log b - log X)"] = is_zero(
            sp.expand_log(self.exit_time_mu0_limit - (sp.log(X) - sp.log(a)) * (sp.log(b) - sp.log(X)), force=True))
        out["a -> 0+ limit is infinite"] = self.exit_time_a_limit == sp.oo
        return out

    def __str__(self) -> str:
        S = self.symbols
        return "\n".join([
            f"1. {self.feynman_kac}",
            f"   {self.reversed}",
            f"   k = {tuple(sp.sstr(c) for c in self.coefficients)}",
            f"   {self.pdepe_general}",
            f"2. Itô's rule for exp(X): mu1 = {sp.sstr(self.mu1)}, sigma1 = {sp.sstr(self.sigma1)}",
            f"   in Y = exp(X): mu1 = {sp.sstr(self.mu1_Y)}, sigma1 = {sp.sstr(self.sigma1_Y)}",
            f"   seed's substitution order, mu0=0, sigma0=1: {self.seed_pdepe.subs({S['mu0']: 0, S['sigma0']: 1})}",
            f"   integration by parts in Y, mu0=0, sigma0=1: {self.pdepe.subs({S['mu0']: 0, S['sigma0']: 1})}",
            f"4. {self.exit_time_equation}",
            f"   GBM: {self.exit_time_gbm}",
            f"   {self.exit_time}",
            f"   limit mu0 -> 0 (sigma0 = 1): {sp.sstr(self.exit_time_mu0_limit)}",
            f"   limit a -> 0+ (b = 1, 0 < X < 1): {self.exit_time_a_limit}",
        ])


def seed002_walkthrough(*, solve_exit_time: bool = True) -> Seed002Walkthrough:
    r"""Reproduce seed 002 step by step with SymPy (what the MATLAB example does with ``syms``).

    1. Feynman–Kac :math:`u_t + \tfrac12\sigma^2 u_{XX} + \mu u_X - r u = 0`; time reversal
       :math:`u(t, X) = v(T - t, X)`; ``coeffs`` :math:`k`; integration by parts to ``pdepe``'s
       :math:`c = 1,\ f = k_2 v_X,\ s = k_3 - v_X\,\partial_X k_2`.
    2. Itô's rule for :math:`G = e^X` of :math:`dX = \mu_0 dt + \sigma_0 dW`, rewritten in :math:`Y`.
    3. ``pdepe`` coefficients for :math:`\mu_0 = 0, \sigma_0 = 1`, :math:`r = 0`.
    4. Exit-time ODE, ``dsolve`` with :math:`y(a) = y(b) = 0`, limit :math:`\mu_0 \to 0`, then
       :math:`a \to 0^+` with :math:`b = 1`: infinite.
    """
    t, X, T = sp.Symbol("t", real=True), sp.Symbol("X", real=True), sp.Symbol("T", positive=True)
    Y = sp.Symbol("Y", positive=True)
    mu0 = sp.Symbol("mu0", real=True)
    s0 = sp.Symbol("sigma0", positive=True)
    a, b = sp.Symbol("a", positive=True), sp.Symbol("b", positive=True)
    V, dvdx = sp.Symbol("V"), sp.Symbol("dvdx")
    muF, sigF, rF = sp.Function("mu"), sp.Function("sigma"), sp.Function("r")
    u, v = sp.Function("u"), sp.Function("v")
    mu, sig, r = muF(t, X), sigF(t, X), rF(t, X)
    # 1. Feynman–Kac and time reversal
    eq = Equation(u(t, X).diff(t) + sig**2 * u(t, X).diff(X, 2) / 2 + mu * u(t, X).diff(X) - u(t, X) * r, 0,
                  "Feynman–Kac equation")
    eq2 = time_reversal(eq, u(t, X), v, T=T)
    dvt, dvXX = sp.Symbol("dvt"), sp.Symbol("dvXX")
    e3 = sp.expand((eq2.rhs - eq2.lhs).subs({sp.Derivative(v(t, X), t): dvt, sp.Derivative(v(t, X), (X, 2)): dvXX}))
    k = (e3.coeff(dvt), e3.coeff(dvXX), sp.expand(e3 - e3.coeff(dvt) * dvt - e3.coeff(dvXX) * dvXX))
    general = pdepe_form(eq2, v(t, X), V=V, dvdx=dvdx)
    # 2. Itô's rule: additive BM -> GBM
    mu1, sigma1 = ito_rule(mu0, s0, sp.exp(X), t, X)
    mu1_Y = sp.simplify(mu1.subs(X, sp.log(Y)))
    sigma1_Y = sp.simplify(sigma1.subs(X, sp.log(Y)))
    # 3. seed's literal order: f, s in X, then X -> log(Y), then mu, sigma, r replaced as *expressions*
    vx = sp.Derivative(v(t, X), X)
    f_X = k[1] * vx
    s_X = k[2] - vx * sp.diff(k[1], X)
    a1, a2 = sp.Dummy("a1"), sp.Dummy("a2")
    repl = {muF: sp.Lambda((a1, a2), mu1_Y), sigF: sp.Lambda((a1, a2), sigma1_Y), rF: sp.Lambda((a1, a2), 0)}

    def seed_subs(e: sp.Expr) -> sp.Expr:
        e = e.subs(vx, dvdx).subs(v(t, X), V)  # the seed's subs({dvX, v}, {dvdx, V})
        e = e.subs(X, sp.log(Y))  # f = f(t, log(Y)); s = s(t, log(Y))
        for F, lam in repl.items():
            e = e.replace(F, lam)
        return sp.simplify(e.doit())

    seed_form = PdepeForm(c=sp.Integer(1), f=seed_subs(f_X), s=seed_subs(s_X), t=t, x=Y, V=V, dvdx=dvdx)
    # the same step done in Y: GBM process, Feynman–Kac with r = 0, reversal, integration by parts
    gbm = ItoProcess(mu1_Y, sigma1_Y, t, Y, name="Y", domain=(0, sp.oo))
    uY = u(t, Y)
    eqY = time_reversal(gbm.feynman_kac_equation(0, u=uY), uY, v, T=T)
    ours = pdepe_form(eqY, v(t, Y), V=V, dvdx=dvdx)
    # 4. exit time
    y = sp.Function("y")
    exit_eq = Equation(sp.expand(eq.lhs.subs({u(t, X): y(X)}).doit().replace(rF, sp.Lambda((a1, a2), 0))), -1,
                       "Expected exit time equation")
    Xp = sp.Symbol("X", positive=True)  # the price variable of the exit problem (seed: Y renamed X)
    gbm_X = ItoProcess(mu1_Y.subs(Y, Xp), sigma1_Y.subs(Y, Xp), t, Xp, name="Y", domain=(0, sp.oo))
    exit_gbm = gbm_X.exit_time_ode(y(Xp))
    sol = gbm_X.exit_time(a, b) if solve_exit_time else None
    if sol is not None:
        L = sp.factor(sp.expand_log(sp.limit(sol.expression.subs(s0, 1), mu0, 0), force=True))
    else:  # closed form of the mu0 -> 0 limit (what the seed's limit returns)
        L = -(sp.log(Xp) - sp.log(a)) * (sp.log(Xp) - sp.log(b))
    z = sp.Symbol("z", positive=True)  # 0 < X < 1 written as X = exp(-z), z > 0
    a_lim = sp.limit(L.subs(b, 1).subs(Xp, sp.exp(-z)), a, 0, "+")
    syms = {"t": t, "X": X, "Xp": Xp, "T": T, "Y": Y, "mu0": mu0, "sigma0": s0, "a": a, "b": b, "V": V, "dvdx": dvdx}
    return Seed002Walkthrough(
        symbols=syms, feynman_kac=eq, reversed=eq2, coefficients=k, pdepe_general=general, mu1=mu1, sigma1=sigma1,
        mu1_Y=mu1_Y, sigma1_Y=sigma1_Y, gbm=gbm, seed_pdepe=seed_form, pdepe=ours, exit_time_equation=exit_eq,
        exit_time_gbm=exit_gbm, exit_time=sol, exit_time_mu0_limit=L, exit_time_a_limit=a_lim,
    )
