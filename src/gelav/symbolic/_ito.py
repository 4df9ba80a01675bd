r"""One-dimensional Itô calculus: Itô's lemma, generators, Kolmogorov, Feynman–Kac and exit-time equations.

For :math:`dX = b(t, X)\,dt + \sigma(t, X)\,dW` the generator and its adjoint are

.. math::

    \mathcal{L}u = b\,\partial_x u + \tfrac12\sigma^2\,\partial_x^2 u, \qquad
    \mathcal{L}^*p = -\partial_x(b\,p) + \tfrac12\partial_x^2(\sigma^2 p),

giving the Fokker–Planck equation :math:`\partial_t p = \mathcal{L}^*p`, the
backward equation :math:`\partial_t u + \mathcal{L}u = 0` and the Feynman–Kac
equation :math:`\partial_t u + \mathcal{L}u - r u + f = 0`.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import sympy as sp

from gelav.symbolic._equation import Equation, LatexRepr, is_zero

if TYPE_CHECKING:
    from gelav.processes.protocol import ProcessLike

__all__ = [
    "ExitTime",
    "HittingProbability",
    "ItoLemma",
    "ItoProcess",
    "PdepeForm",
    "SymbolicProcess",
    "default_symbols",
    "ito_lemma",
    "ito_rule",
    "pdepe_form",
    "time_reversal",
]


def _pretty_eq(lhs: Any, rhs: Any) -> str:
    """``lhs = rhs`` as multi-line Unicode (``sympy.pretty``)."""
    return str(sp.pretty(sp.Eq(sp.sympify(lhs), sp.sympify(rhs), evaluate=False), use_unicode=True))


def _pretty_sde(lhs: str, drift: Any, diffusion: Any) -> str:
    """``dY = (b) dt + (σ) dW`` as multi-line Unicode, terms in that order."""
    from sympy.printing.pretty.pretty import PrettyPrinter
    from sympy.printing.pretty.stringpict import prettyForm, stringPict

    pp = PrettyPrinter({"use_unicode": True})

    def part(e: Any) -> Any:
        f = pp._print(sp.sympify(e))
        return prettyForm(*f.parens()) if isinstance(e, sp.Add) else f

    pic = stringPict(*stringPict.next(pp._print(sp.Symbol(lhs)), " = ", part(drift), " dt + ", part(diffusion), " dW"))
    return "\n".join(line.rstrip() for line in pic.render(wrap_line=False).splitlines())


def default_symbols() -> tuple[sp.Symbol, sp.Symbol]:
    """The default time and state symbols ``t`` and ``x`` (real)."""
    return sp.Symbol("t", real=True), sp.Symbol("x", real=True)


def _sym(value: Any, name: str) -> sp.Expr:
    if isinstance(value, str):
        from gelav.symbolic.parsing import parse_expression

        return parse_expression(value, name=name)
    try:
        e = sp.sympify(value, strict=True)
    except (sp.SympifyError, TypeError):
        raise TypeError(f"`{name}` must be a SymPy expression, a number or a string, got {type(value).__name__}.") from None
    if not isinstance(e, sp.Expr):
        raise TypeError(f"`{name}` must be a scalar SymPy expression, got {type(e).__name__}.")
    return e


def _generic_branch(expr: sp.Expr) -> sp.Expr:
    """Replace every ``Piecewise`` by its first (generic-parameter) branch."""
    return expr.replace(lambda e: isinstance(e, sp.Piecewise), lambda e: e.args[0][0])


def ito_rule(mu: Any, sigma: Any, G: Any, t: sp.Symbol, x: sp.Symbol) -> tuple[sp.Expr, sp.Expr]:
    r"""Seed 002's ``ito`` function: drift and diffusion of :math:`G(t, X)`.

    .. math::

        dG = \left(\partial_t G + \mu\,\partial_x G + \tfrac12\sigma^2\partial_x^2 G\right)dt
             + \sigma\,\partial_x G\,dW.

    Examples
    --------
    >>> import sympy as sp
    >>> t, x, mu0, s0 = sp.symbols("t x mu0 sigma0")
    >>> ito_rule(mu0, s0, sp.exp(x), t, x)
    (mu0*exp(x) + sigma0**2*exp(x)/2, sigma0*exp(x))
    """
    G = sp.sympify(G)
    return mu * sp.diff(G, x) + sigma**2 / 2 * sp.diff(G, x, 2) + sp.diff(G, t), sp.diff(G, x) * sigma


# ---------------------------------------------------------------------------------------
def _exact_end(v: Any) -> Any:
    """A domain end as SymPy: ±oo for infinite floats, an Integer for a float equal to one, else as given."""
    e = sp.sympify(v)
    if isinstance(e, sp.Float) and e.is_finite and float(e).is_integer():
        return sp.Integer(int(e))
    return e


@dataclass(frozen=True)
class ItoProcess(LatexRepr):
    r"""A scalar Itô diffusion :math:`dX = b(t, X)\,dt + \sigma(t, X)\,dW` with symbolic coefficients.

    Parameters
    ----------
    drift, diffusion : sympy.Expr, number or str
        :math:`b(t, x)` and :math:`\sigma(t, x)` (the volatility, not its square).
        Strings go through the safe parser :func:`gelav.symbolic.parse_expression`.
    t, x : sympy.Symbol, optional
        Time and state symbols (default real ``t``, ``x``).
    name : str, optional
        Name of the process in printed equations: by default the state symbol's name
        (``dY = ...`` for a process in ``Y``), ``"X"`` for the default ``x``.
    domain : (lo, hi)
        State space (SymPy numbers or floats; default the real line).
    transition : sympy.Expr, optional
        Known transition density :math:`p(t, x \mid X_0 = x_0)`, in ``t``, ``x`` and ``x0``.
    x0 : sympy.Symbol, optional
        The starting-point symbol used in ``transition``.

    Examples
    --------
    >>> import sympy as sp
    >>> t, x, k, m, s = sp.symbols("t x kappa m sigma")
    >>> ou = ItoProcess(k * (m - x), s, t, x)
    >>> ou.generator(x**2)
    2*kappa*x*(m - x) + sigma**2
    >>> print(ou)
    dX = kappa*(m - x) dt + sigma dW
    """

    drift: Any
    diffusion: Any
    t: Any = None
    x: Any = None
    name: str | None = None
    domain: tuple[Any, Any] = (-sp.oo, sp.oo)
    transition: Any = None
    x0: Any = None

    def __post_init__(self) -> None:
        t0, x0 = default_symbols()
        t = t0 if self.t is None else self.t
        x = x0 if self.x is None else self.x
        if not isinstance(t, sp.Symbol) or not isinstance(x, sp.Symbol):
            raise TypeError("`t` and `x` must be SymPy symbols.")
        if t == x:
            raise ValueError("`t` and `x` must be different symbols.")
        object.__setattr__(self, "t", t)
        object.__setattr__(self, "x", x)
        if self.name is None:
            object.__setattr__(self, "name", "X" if x.name == "x" else x.name)
        b = _sym(self.drift, "drift")
        s = _sym(self.diffusion, "diffusion")
        if isinstance(self.drift, str) or isinstance(self.diffusion, str):  # parsed with default t, x
            td, xd = default_symbols()
            b, s = b.xreplace({td: t, xd: x}), s.xreplace({td: t, xd: x})
        object.__setattr__(self, "drift", b)
        object.__setattr__(self, "diffusion", s)
        # a float end that is an integer is that integer: Float(0.0) == 0 is False in SymPy >= 1.13, so a domain
        # typed as 0,inf (the CLI's floats) did not recognise CIR or GBM, and Monte Carlo fell back to Euler
        lo, hi = (_exact_end(self.domain[0]), _exact_end(self.domain[1]))
        object.__setattr__(self, "domain", (lo, hi))
        if self.transition is not None:
            object.__setattr__(self, "transition", sp.sympify(self.transition))

    # -- named models --------------------------------------------------------------------
    @classmethod
    def brownian_motion(cls, mu: Any = None, sigma: Any = None) -> ItoProcess:
        r"""Brownian motion with drift :math:`dX = \mu\,dt + \sigma\,dW` (symbolic parameters by default)."""
        t, x = default_symbols()
        mu = sp.Symbol("mu", real=True) if mu is None else sp.sympify(mu)
        sigma = sp.Symbol("sigma", positive=True) if sigma is None else sp.sympify(sigma)
        x0 = sp.Symbol("x0", real=True)
        dens = sp.exp(-(x - x0 - mu * t) ** 2 / (2 * sigma**2 * t)) / sp.sqrt(2 * sp.pi * sigma**2 * t)
        return cls(mu, sigma, t, x, transition=dens, x0=x0)

    @classmethod
    def ornstein_uhlenbeck(cls, kappa: Any = None, mean: Any = None, sigma: Any = None) -> ItoProcess:
        r"""OU process :math:`dX = \kappa(\bar x - X)\,dt + \sigma\,dW` with its Gaussian transition density."""
        t, x = default_symbols()
        kappa = sp.Symbol("kappa", positive=True) if kappa is None else sp.sympify(kappa)
        mean = sp.Symbol("m", real=True) if mean is None else sp.sympify(mean)
        sigma = sp.Symbol("sigma", positive=True) if sigma is None else sp.sympify(sigma)
        x0 = sp.Symbol("x0", real=True)
        m_t = mean + (x0 - mean) * sp.exp(-kappa * t)
        v_t = sigma**2 / (2 * kappa) * (1 - sp.exp(-2 * kappa * t))
        dens = sp.exp(-(x - m_t) ** 2 / (2 * v_t)) / sp.sqrt(2 * sp.pi * v_t)
        return cls(kappa * (mean - x), sigma, t, x, transition=dens, x0=x0)

    @classmethod
    def geometric_brownian_motion(cls, mu: Any = None, sigma: Any = None) -> ItoProcess:
        r"""GBM :math:`dX = \mu X\,dt + \sigma X\,dW` on :math:`(0, \infty)` with its lognormal density."""
        t = sp.Symbol("t", real=True)
        x = sp.Symbol("x", positive=True)
        mu = sp.Symbol("mu", real=True) if mu is None else sp.sympify(mu)
        sigma = sp.Symbol("sigma", positive=True) if sigma is None else sp.sympify(sigma)
        x0 = sp.Symbol("x0", positive=True)
        m = sp.log(x0) + (mu - sigma**2 / 2) * t
        dens = sp.exp(-(sp.log(x) - m) ** 2 / (2 * sigma**2 * t)) / (x * sp.sqrt(2 * sp.pi * sigma**2 * t))
        return cls(mu * x, sigma * x, t, x, domain=(0, sp.oo), transition=dens, x0=x0)

    @classmethod
    def cir(cls, kappa: Any = None, mean: Any = None, sigma: Any = None) -> ItoProcess:
        r"""CIR :math:`dX = \kappa(\theta - X)\,dt + \sigma\sqrt{X}\,dW` with its non-central :math:`\chi^2` density.

        .. math::

            p = c\,e^{-(u + v)}\,(v/u)^{q/2}\,I_q\!\big(2\sqrt{uv}\big),\quad
            c = \frac{2\kappa}{\sigma^2(1 - e^{-\kappa t})},\ u = c\,x_0 e^{-\kappa t},\ v = c\,x,\
            q = \frac{2\kappa\theta}{\sigma^2} - 1.
        """
        t = sp.Symbol("t", real=True)
        x = sp.Symbol("x", positive=True)
        kappa = sp.Symbol("kappa", positive=True) if kappa is None else sp.sympify(kappa)
        mean = sp.Symbol("theta", positive=True) if mean is None else sp.sympify(mean)
        sigma = sp.Symbol("sigma", positive=True) if sigma is None else sp.sympify(sigma)
        x0 = sp.Symbol("x0", positive=True)
        c = 2 * kappa / (sigma**2 * (1 - sp.exp(-kappa * t)))
        u = c * x0 * sp.exp(-kappa * t)
        v = c * x
        q = 2 * kappa * mean / sigma**2 - 1
        dens = c * sp.exp(-u - v) * (v / u) ** (q / 2) * sp.besseli(q, 2 * sp.sqrt(u * v))
        return cls(kappa * (mean - x), sigma * sp.sqrt(x), t, x, domain=(0, sp.oo), transition=dens, x0=x0)

    @classmethod
    def from_process(cls, process: ProcessLike) -> ItoProcess:
        """The symbolic twin of a built-in :mod:`gelav.processes` process (numeric parameters).

        Supports :class:`~gelav.processes.BrownianMotion`, :class:`~gelav.processes.OrnsteinUhlenbeck`,
        :class:`~gelav.processes.GeometricBrownianMotion`, :class:`~gelav.processes.CIR` and
        processes made by :meth:`to_process`.

        Raises
        ------
        TypeError
            For a process whose coefficients are opaque Python functions.
        """
        from gelav import processes as P

        if isinstance(process, SymbolicProcess):
            return process.ito
        def num(v: float) -> sp.Rational:  # exact: float(num(v)) == v, and prints as a short fraction
            return sp.Rational(repr(float(v)))

        if isinstance(process, P.OrnsteinUhlenbeck):
            return cls.ornstein_uhlenbeck(num(process.kappa), num(process.mean), num(process.sigma))
        if isinstance(process, P.CIR):
            return cls.cir(num(process.kappa), num(process.mean), num(process.sigma))
        if isinstance(process, P.GeometricBrownianMotion):
            return cls.geometric_brownian_motion(num(process.mu), num(process.sigma))
        if isinstance(process, P.BrownianMotion):
            return cls.brownian_motion(num(process.mu), num(process.sigma))
        raise TypeError(
            f"`process` must be one of BrownianMotion, OrnsteinUhlenbeck, GeometricBrownianMotion, CIR "
            f"or a SymbolicProcess, got {type(process).__name__}; build an ItoProcess from expressions instead."
        )

    # -- basics ---------------------------------------------------------------------------
    @property
    def variance_rate(self) -> sp.Expr:
        r""":math:`a = \sigma^2`."""
        return self.diffusion**2

    @property
    def parameters(self) -> tuple[sp.Symbol, ...]:
        """Free symbols other than ``t`` and ``x``, sorted by name."""
        syms = (self.drift.free_symbols | self.diffusion.free_symbols) - {self.t, self.x}
        return tuple(sorted(syms, key=lambda s: s.name))

    @property
    def time_homogeneous(self) -> bool:
        """True when neither coefficient depends on ``t``."""
        return self.t not in (self.drift.free_symbols | self.diffusion.free_symbols)

    def _values(self, values: Mapping[Any, Any] | None, kw: Mapping[str, Any]) -> dict[sp.Symbol, Any]:
        by_name = {s.name: s for s in self.parameters}
        if self.x0 is not None:
            by_name.setdefault(self.x0.name, self.x0)
        out: dict[sp.Symbol, Any] = {}
        for k, v in {**(dict(values) if values else {}), **kw}.items():
            key = k if isinstance(k, sp.Symbol) else by_name.get(str(k))
            if key is None:
                raise ValueError(f"Unknown parameter {k!r}; the parameters are {sorted(by_name)}.")
            out[key] = sp.sympify(v)
        return out

    def subs(self, values: Mapping[Any, Any] | None = None, **kw: Any) -> ItoProcess:
        """Fix parameters: ``p.subs(kappa=0.45)`` or ``p.subs({kappa: 0.45})``."""
        vals = self._values(values, kw)
        tr = None if self.transition is None else self.transition.subs(vals)
        return replace(self, drift=self.drift.subs(vals), diffusion=self.diffusion.subs(vals),
                       domain=(sp.sympify(self.domain[0]).subs(vals), sp.sympify(self.domain[1]).subs(vals)),
                       transition=tr)

    def latex(self) -> str:
        """LaTeX of the SDE."""
        n = self.name
        return rf"d{n}_t = \left({sp.latex(self.drift)}\right) dt + \left({sp.latex(self.diffusion)}\right) dW_t"

    def __str__(self) -> str:
        return f"d{self.name} = {sp.sstr(self.drift)} dt + {sp.sstr(self.diffusion)} dW"

    def pretty(self) -> str:
        """Unicode rendering ``dY = (b) dt + (σ) dW`` (``sympy.pretty``)."""
        return _pretty_sde(f"d{self.name}", self.drift, self.diffusion)

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly description."""
        return {"drift": sp.sstr(self.drift), "diffusion": sp.sstr(self.diffusion), "t": self.t.name,
                "x": self.x.name, "latex": self.latex(), "parameters": [s.name for s in self.parameters]}

    # -- operators ---------------------------------------------------------------------------
    def _u(self, u: Any, name: str) -> sp.Expr:
        return sp.Function(name)(self.t, self.x) if u is None else sp.sympify(u)

    def generator(self, f: Any = None) -> sp.Expr:
        r"""Apply :math:`\mathcal{L} f = b\,f_x + \tfrac12\sigma^2 f_{xx}` (default ``f = u(t, x)``)."""
        f = self._u(f, "u")
        return self.drift * sp.diff(f, self.x) + self.variance_rate / 2 * sp.diff(f, self.x, 2)

    def adjoint(self, p: Any = None) -> sp.Expr:
        r"""Apply the Fokker–Planck operator :math:`\mathcal{L}^* p = -(b p)_x + \tfrac12(\sigma^2 p)_{xx}`."""
        p = self._u(p, "p")
        return -sp.diff(self.drift * p, self.x) + sp.diff(self.variance_rate * p, self.x, 2) / 2

    def fokker_planck_equation(self, p: Any = None) -> Equation:
        r"""The forward equation :math:`\partial_t p = -\partial_x(b p) + \tfrac12\partial_x^2(\sigma^2 p)`."""
        p = self._u(p, "p")
        return Equation(sp.Derivative(p, self.t), self.adjoint(p), "Fokker–Planck (forward Kolmogorov) equation")

    def backward_equation(self, u: Any = None) -> Equation:
        r"""The Kolmogorov backward equation :math:`\partial_t u + b u_x + \tfrac12\sigma^2 u_{xx} = 0`."""
        u = self._u(u, "u")
        return Equation(sp.Derivative(u, self.t) + self.generator(u), 0, "Kolmogorov backward equation")

    def feynman_kac_equation(
        self, r: Any = 0, f: Any = 0, *, u: Any = None, terminal: Any = None, T: Any = None
    ) -> Equation:
        r"""Feynman–Kac PDE :math:`\partial_t u + b u_x + \tfrac12\sigma^2 u_{xx} - r u + f = 0`.

        Its solution is :math:`u(t, x) = E\big[e^{-\int_t^T r}g(X_T) + \int_t^T e^{-\int_t^s r} f(s, X_s)\,ds
        \mid X_t = x\big]` with terminal payoff ``terminal`` :math:`g` at time ``T``.
        """
        u = self._u(u, "u")
        r, f = sp.sympify(r), sp.sympify(f)
        cond: tuple[Equation, ...] = ()
        if terminal is not None:
            T = sp.Symbol("T", positive=True) if T is None else sp.sympify(T)
            cond = (Equation(u.subs(self.t, T), sp.sympify(terminal)),)
        return Equation(sp.Derivative(u, self.t) + self.generator(u) - r * u + f, 0, "Feynman–Kac equation", cond)

    # -- Itô's lemma ----------------------------------------------------------------------------
    def ito_lemma(self, G: Any, *, name: str = "Y") -> ItoLemma:
        r"""Drift and diffusion of :math:`Y = G(t, X)` by Itô's lemma (see :func:`ito_rule`)."""
        G = _sym(G, "G")
        if isinstance(G, sp.Expr):
            td, xd = default_symbols()
            G = G.xreplace({td: self.t, xd: self.x}) if (td in G.free_symbols or xd in G.free_symbols) else G
        b, s = ito_rule(self.drift, self.diffusion, G, self.t, self.x)
        return ItoLemma(G=G, drift=b, diffusion=s, process=self, name=name)

    # -- exit times, scale, speed, stationary law ------------------------------------------------
    def _require_homogeneous(self, what: str) -> None:
        if not self.time_homogeneous:
            raise ValueError(f"{what} needs time-independent coefficients; this process depends on {self.t}.")

    def exit_time_ode(self, y: Any = None) -> Equation:
        r"""Expected exit time ODE :math:`b\,y' + \tfrac12\sigma^2 y'' = -1` (Feynman–Kac with ``f = 1``).

        The seed writes it as ``subs(eq, {r, u}, {0, y(X)}) == -1``.
        """
        self._require_homogeneous("exit_time_ode")
        y = sp.Function("y")(self.x) if y is None else y
        return Equation(self.generator(y), -1, "Expected exit time equation")

    def exit_time(self, a: Any = None, b: Any = None, *, method: str = "auto", simplify: bool = False,
                  assume: Any = None) -> ExitTime:
        r"""Expected exit time :math:`y(x) = E_x[\tau_{(a,b)}]`: :math:`b y' + \tfrac12\sigma^2 y'' = -1`, :math:`y(a) = y(b) = 0`.

        Two routes:

        * ``"dsolve"`` -- :func:`sympy.dsolve` with the boundary conditions fitted. ``Piecewise``
          results are reduced to their generic branch (e.g. :math:`\mu_0 \ne 0`); take
          :meth:`ExitTime.limit` for the special cases, as seed 002 does for :math:`\mu_0 \to 0`.
        * ``"green"`` -- the Green's-function representation through the scale function
          :math:`S` and the speed density :math:`m` (always exists for a regular diffusion):

          .. math::

              E_x[\tau] = \int_a^b G(x, y)\,m(y)\,dy,\qquad
              G(x, y) = \frac{(S(x\wedge y) - S(a))(S(b) - S(x\vee y))}{S(b) - S(a)},

          with the integrals done by SymPy when their integrands are elementary and left as
          unevaluated :class:`sympy.Integral` otherwise (OU: :math:`S` involves
          :math:`\operatorname{erfi}`); :meth:`ExitTime.numeric` evaluates them by quadrature.

        ``"auto"`` (default) uses ``dsolve`` when the scale function and the speed measure have
        elementary antiderivatives (BM, GBM, Cauchy--Euler types: ``dsolve`` then finds the closed
        form quickly) and falls back to ``"green"`` otherwise or when ``dsolve`` fails -- so it never
        fails for a regular diffusion (SymPy's ``dsolve`` on the OU equation runs for minutes).

        Raises
        ------
        ValueError
            Unknown ``method``, time-dependent coefficients, or (``method="dsolve"``) when
            ``dsolve`` gives no solution that fits the boundary conditions.

        Examples
        --------
        >>> import sympy as sp
        >>> x = sp.Symbol("x", real=True)
        >>> et = ItoProcess(0, 1, x=x).exit_time(-1, 1)
        >>> sp.factor(et.expression), et.method
        (-(x - 1)*(x + 1), 'dsolve')
        """
        if method not in ("auto", "dsolve", "green"):
            raise ValueError(f"`method` must be 'auto', 'dsolve' or 'green', got {method!r}.")
        from gelav.symbolic import _exits

        a = sp.Symbol("a", real=True) if a is None else sp.sympify(a)
        b = sp.Symbol("b", real=True) if b is None else sp.sympify(b)
        from gelav.symbolic._assume import parse_assumptions

        bounds = parse_assumptions(assume)
        y = sp.Function("y")
        ode = self.exit_time_ode(y(self.x))
        cond = (Equation(y(a), 0), Equation(y(b), 0))
        ode = replace(ode, conditions=cond)
        use_dsolve = method == "dsolve"
        parts = None
        if method == "auto":
            parts = _exits.scale_parts(self, a)
            _, S, m, closed = parts
            use_dsolve = closed and _exits.is_elementary(S, self.x) and _exits.is_elementary(m, self.x)
            if use_dsolve:
                use_dsolve = _exits.is_elementary(_exits.generic_branch(sp.integrate(m, self.x)), self.x)
        if use_dsolve:
            try:
                expr = self._exit_time_dsolve(ode, y, a, b)
            except (ValueError, NotImplementedError, TypeError):
                if method == "dsolve":
                    raise
            else:
                if not expr.has(sp.Integral) or method == "dsolve":
                    if simplify:
                        expr = sp.simplify(expr)
                    return ExitTime(expression=expr, ode=ode, x=self.x, a=a, b=b, method="dsolve", process=self,
                                    assumptions=bounds)
        expr, _closed = _exits.green_exit_time(self, a, b, parts=parts)
        if simplify and _closed:
            expr = sp.simplify(expr)
        return ExitTime(expression=expr, ode=ode, x=self.x, a=a, b=b, method="green", process=self,
                        assumptions=bounds)

    def _exit_time_dsolve(self, ode: Equation, y: Any, a: sp.Expr, b: sp.Expr) -> sp.Expr:
        gen = sp.dsolve(ode.sympy, y(self.x))
        sol = _generic_branch(gen.rhs)
        consts = sorted(sol.free_symbols - ode.sympy.free_symbols - {a, b}, key=lambda s: s.name)
        cs = sp.solve([sol.subs(self.x, a), sol.subs(self.x, b)], consts, dict=True)
        if len(cs) != 1:
            raise ValueError(f"Could not fit the boundary conditions y({a}) = y({b}) = 0 to {gen}.")
        return sp.together(sol.subs(cs[0]))

    def hitting_probability(self, a: Any = None, b: Any = None) -> HittingProbability:
        r"""Probability of reaching ``b`` before ``a`` from :math:`x \in (a, b)`.

        .. math::

            h(x) = \frac{S(x) - S(a)}{S(b) - S(a)},\qquad b\,h' + \tfrac12\sigma^2 h'' = 0,\
            h(a) = 0,\ h(b) = 1,

        with :math:`S` the scale function (closed form when SymPy integrates the scale density,
        e.g. :math:`\operatorname{erfi}` for OU; an unevaluated integral otherwise).

        Examples
        --------
        >>> import sympy as sp
        >>> x = sp.Symbol("x", real=True)
        >>> ItoProcess(0, 1, x=x).hitting_probability(0, 2).expression
        x/2
        """
        self._require_homogeneous("hitting_probability")
        from gelav.symbolic import _exits

        a = sp.Symbol("a", real=True) if a is None else sp.sympify(a)
        b = sp.Symbol("b", real=True) if b is None else sp.sympify(b)
        h = sp.Function("h")
        ode = Equation(self.generator(h(self.x)), 0, "Hitting probability equation",
                       (Equation(h(a), 0), Equation(h(b), 1)))
        expr, _ = _exits.hitting_probability(self, a, b)
        return HittingProbability(expression=expr, ode=ode, x=self.x, a=a, b=b, process=self)

    def scale_density(self) -> sp.Expr:
        r"""Scale density :math:`s(x) = \exp\big(-\int^x 2b/\sigma^2\big)` (up to a constant factor)."""
        self._require_homogeneous("scale_density")
        integral = sp.expand(sp.integrate(sp.simplify(2 * self.drift / self.variance_rate), self.x))
        integral = sp.expand(sp.expand_log(integral, force=True))
        factors = []
        for term in sp.Add.make_args(integral):
            c, rest = term.as_independent(self.x, as_Add=False)
            factors.append(self.x ** (-c) if rest == sp.log(self.x) else sp.exp(-term))
        return sp.powsimp(sp.Mul(*factors))

    def scale_function(self) -> sp.Expr:
        r"""Scale function :math:`S(x) = \int^x s(y)\,dy` (up to an affine map)."""
        return sp.integrate(self.scale_density(), self.x)

    def speed_density(self) -> sp.Expr:
        r"""Speed density :math:`m(x) = 2 / (\sigma^2(x)\,s(x))`."""
        return sp.powsimp(sp.expand(2 / self.variance_rate / self.scale_density()))

    def stationary_density(self) -> sp.Expr | None:
        r"""Normalised speed density :math:`m(x)/\int m` over ``domain``, or None when :math:`\int m = \infty`."""
        m = self.speed_density()
        total = sp.sympify(sp.integrate(m, (self.x, self.domain[0], self.domain[1])))
        if isinstance(total, sp.Piecewise):
            sure = [e for e, c in total.args if c == sp.true]
            total = sure[0] if sure else total.args[-1][0]
        if total.has(sp.Integral):
            warnings.warn(f"SymPy could not integrate the speed density {m}; no stationary density.", stacklevel=2)
            return None
        if total in (sp.oo, -sp.oo, sp.zoo, sp.nan) or total.has(sp.oo):
            return None
        return sp.simplify(m / total)

    # -- transition density checks -----------------------------------------------------------------
    def check_transition(
        self, density: Any = None, *, method: str = "auto", points: Any = None, digits: int = 40
    ) -> TransitionCheck:
        r"""Verify that a transition density solves the Fokker–Planck equation.

        ``method="auto"`` first tries ``simplify`` of :math:`\partial_t p - \mathcal{L}^*p`; if SymPy cannot reduce it to
        zero (e.g. CIR's Bessel-function density) the residual is evaluated with ``digits``-digit
        arithmetic at sample ``points`` ``(t, x, x0, *parameter values)`` and compared with the
        size of the largest term.
        """
        p = self.transition if density is None else sp.sympify(density)
        if p is None:
            raise ValueError("No transition density given and none is known for this process.")
        if method not in ("auto", "symbolic", "numeric"):
            raise ValueError(f"`method` must be 'auto', 'symbolic' or 'numeric', got {method!r}.")
        res = sp.diff(p, self.t) - self.adjoint(p)
        symbolic = False
        if method != "numeric":
            try:
                symbolic = is_zero(res)
            except Exception:  # pragma: no cover - simplify failures
                symbolic = False
        if symbolic or method == "symbolic":
            return TransitionCheck(symbolic=symbolic, max_relative_residual=0.0 if symbolic else math.nan, n_points=0)
        free = sorted(res.free_symbols, key=lambda s: s.name)
        rng = np.random.default_rng(12345)
        if points is None:
            points = []
            for _ in range(6):
                pt = {}
                for s in free:
                    if s == self.t:
                        pt[s] = sp.Float(rng.uniform(0.2, 2.0), digits)
                    elif s.is_positive or (s in (self.x, self.x0) and (self.domain[0] == 0)):
                        pt[s] = sp.Float(rng.uniform(0.3, 2.0), digits)
                    else:
                        pt[s] = sp.Float(rng.uniform(-1.0, 1.0), digits)
                points.append(pt)
        terms = [sp.diff(p, self.t), -sp.diff(self.drift * p, self.x), sp.diff(self.variance_rate * p, self.x, 2) / 2]
        worst = 0.0
        for pt in points:
            r = abs(sp.N(res.subs(pt), digits))
            scale = max(abs(sp.N(tm.subs(pt), digits)) for tm in terms)
            worst = max(worst, float(r / scale) if scale != 0 else float(r))
        return TransitionCheck(symbolic=False, max_relative_residual=worst, n_points=len(points))

    # -- bridge to the numerical solvers ------------------------------------------------------------
    def to_process(self, values: Mapping[Any, Any] | None = None, *, domain: tuple[float, float] | None = None,
                   name: str | None = None, **kw: Any) -> SymbolicProcess:
        r"""Lambdify to NumPy and return a :class:`~gelav.processes.Process` for the numerical solvers.

        Parameters must all be fixed (pass them here or with :meth:`subs` first).

        Raises
        ------
        ValueError
            When parameters remain free.

        Examples
        --------
        >>> import sympy as sp
        >>> t, x = sp.symbols("t x")
        >>> p = ItoProcess(-x, 1, t, x).to_process()
        >>> float(p.drift(0.0, [2.0])[0])
        -2.0
        """
        proc = self.subs(values, **kw) if (values or kw) else self
        free = proc.parameters
        if free:
            raise ValueError(
                f"Parameters {[s.name for s in free]} are still symbolic; give values, "
                f"e.g. to_process({', '.join(f'{s.name}=...' for s in free)})."
            )
        return SymbolicProcess(proc, domain=domain, name=name)


# ---------------------------------------------------------------------------------------------------
def ito_lemma(process: ItoProcess, G: Any, *, name: str = "Y") -> ItoLemma:
    """Itô's lemma for :math:`G(t, X)`; same as ``process.ito_lemma(G)``."""
    if not isinstance(process, ItoProcess):
        process = ItoProcess.from_process(process)
    return process.ito_lemma(G, name=name)


@dataclass(frozen=True)
class ItoLemma(LatexRepr):
    r"""Result of Itô's lemma for :math:`Y = G(t, X)`: :math:`dY = \tilde b\,dt + \tilde\sigma\,dW`.

    ``drift`` and ``diffusion`` are expressed in the old variable ``x``; use
    :meth:`in_terms_of` to rewrite them in ``y`` (the seed's ``subs(mu1, X, log(Y))``).
    """

    G: Any
    drift: Any
    diffusion: Any
    process: ItoProcess
    name: str = "Y"

    @property
    def equation(self) -> Equation:
        """:math:`dY = \\tilde b\\,dt + \\tilde\\sigma\\,dW` as an Equation."""
        d = sp.Symbol(f"d{self.name}")
        return Equation(d, self.drift * sp.Symbol("dt") + self.diffusion * sp.Symbol("dW"), "Itô's lemma")

    def latex(self) -> str:
        return (rf"d\left({sp.latex(self.G)}\right) = \left({sp.latex(self.drift)}\right) dt"
                rf" + \left({sp.latex(self.diffusion)}\right) dW_t")

    def __str__(self) -> str:
        return f"Itô's lemma: d({sp.sstr(self.G)}) = ({sp.sstr(self.drift)}) dt + ({sp.sstr(self.diffusion)}) dW"

    def pretty(self) -> str:
        r"""Unicode rendering of :math:`dG = \tilde b\,dt + \tilde\sigma\,dW`."""
        return _pretty_sde(f"d{self.name}", self.drift, self.diffusion)

    def inverse(self, y: sp.Symbol) -> sp.Expr:
        """Solve :math:`y = G(t, x)` for ``x`` (must have one solution)."""
        sols = sp.solve(sp.Eq(y, self.G), self.process.x)
        if len(sols) != 1:
            raise ValueError(f"Cannot invert y = {self.G} uniquely (solutions {sols}); pass `inverse=`.")
        return sols[0]

    def in_terms_of(self, y: Any = None, inverse: Any = None) -> ItoProcess:
        """The process :math:`Y` with coefficients written in ``y`` (substituting ``x = G^{-1}(y)``)."""
        p = self.process
        if y is None:
            dom_pos = p.domain[0] == -sp.oo and self.G.func == sp.exp
            y = sp.Symbol("y", positive=True) if dom_pos else sp.Symbol("y", real=True)
        inv = self.inverse(y) if inverse is None else sp.sympify(inverse)
        b = sp.simplify(self.drift.subs(p.x, inv))
        s = sp.simplify(self.diffusion.subs(p.x, inv))
        dom: tuple[Any, Any] = (-sp.oo, sp.oo)
        if p.time_homogeneous and p.t not in self.G.free_symbols:
            try:
                ends = [sp.limit(self.G, p.x, p.domain[0], "+"), sp.limit(self.G, p.x, p.domain[1], "-")]
                if all(e.is_real or e.is_infinite for e in ends):
                    dom = (sp.Min(*ends), sp.Max(*ends))
            except (NotImplementedError, ValueError):  # pragma: no cover
                pass
        return ItoProcess(b, s, p.t, y, name=self.name, domain=dom)

    def to_dict(self) -> dict[str, Any]:
        return {"G": sp.sstr(self.G), "drift": sp.sstr(self.drift), "diffusion": sp.sstr(self.diffusion),
                "latex": self.latex()}


@dataclass(frozen=True)
class TransitionCheck:
    """Outcome of :meth:`ItoProcess.check_transition`."""

    symbolic: bool
    max_relative_residual: float
    n_points: int

    @property
    def ok(self) -> bool:
        """Symbolically zero, or numerically below 1e-20 of the largest term."""
        return self.symbolic or self.max_relative_residual < 1e-20


_S = TypeVar("_S", bound="_ScaleSolution")


class _ScaleSolution(LatexRepr):
    """Shared numerics, checks and printing of :class:`ExitTime` and :class:`HittingProbability`."""

    expression: Any
    ode: Equation
    x: Any
    a: Any
    b: Any
    process: ItoProcess | None
    _boundary: tuple[int, int] = (0, 0)
    _label: str = "y"
    _latex_label: str = "y(x)"

    assumptions: tuple[Any, ...] = ()

    @property
    def closed_form(self) -> Any:
        """The expression when it holds no unevaluated :class:`sympy.Integral`, else None.

        Truthiness still answers "is there a closed form?" (``if et.closed_form: ...``).
        """
        e = sp.sympify(self.expression)
        return None if e.has(sp.Integral) else e

    @property
    def is_closed_form(self) -> bool:
        """True when the expression holds no unevaluated :class:`sympy.Integral`."""
        return self.closed_form is not None

    def subs(self: _S, *args: Any, **kw: Any) -> _S:
        """Substitute in the expression (and in the limits ``a``, ``b``)."""
        return replace(self, expression=self.expression.subs(*args, **kw),  # type: ignore[type-var]
                       a=sp.sympify(self.a).subs(*args, **kw), b=sp.sympify(self.b).subs(*args, **kw))

    def latex(self) -> str:
        return rf"{self._latex_label} = {sp.latex(self.expression)}"

    def _sympy_(self) -> Any:
        """SymPy sees the expression: ``sp.limit(et, a, 0)``, ``expr.subs(y, et)`` and ``sp.simplify(et)`` work."""
        return sp.sympify(self.expression)

    def _symbol(self, var: Any) -> Any:
        if isinstance(var, str):
            syms = {s.name: s for s in sp.sympify(self.expression).free_symbols | {self.x}}
            if var not in syms:
                raise ValueError(f"`var` {var!r} is not a symbol of the expression; its symbols are {sorted(syms)}.")
            return syms[var]
        return var

    def _bounds(self, assume: Any) -> tuple[Any, ...]:
        from gelav.symbolic._assume import parse_assumptions

        extra = parse_assumptions(assume)
        names = {b.name for b in extra}
        return tuple(b for b in self.assumptions if b.name not in names) + extra

    def assuming(self, assume: Any) -> Any:
        """The same result with bounds on symbols (``"0<Y<1"`` or ``{"Y": (0, 1)}``) used by
        :meth:`limit` and :meth:`simplify`."""
        return replace(self, assumptions=self._bounds(assume))  # type: ignore[type-var]

    def limit(self, var: Any, value: Any, direction: str = "+-", *, assume: Any = None) -> Any:
        """Limit of the expression as ``var -> value`` (``direction`` ``"+"``, ``"-"`` or ``"+-"``).

        ``assume`` (e.g. ``"0<X<1"``) adds bounds on other symbols, on top of the result's
        :attr:`assumptions`, so that signs such as ``sign(log(X))`` are decided. The result
        is of the same type (it has ``.subs``, ``.limit``, ``.latex``; ``sympy.sympify``
        gives the expression).
        """
        from gelav.symbolic._assume import under

        if direction not in ("+", "-", "+-"):
            raise ValueError(f"`direction` must be '+', '-' or '+-', got {direction!r}.")
        v = self._symbol(var)
        value = sp.oo if value in ("oo", "+oo") else (-sp.oo if value == "-oo" else sp.sympify(value))
        bounds = tuple(b for b in self._bounds(assume) if b.name != getattr(v, "name", None))
        e = under(bounds, sp.sympify(self.expression), lambda z: sp.limit(z, v, value, direction))
        if e.is_finite is not False:
            e = sp.factor(sp.expand_log(e, force=True))
        return replace(self, expression=e, a=sp.sympify(self.a).subs(v, value) if sp.sympify(self.a).has(v) else self.a,  # type: ignore[type-var]
                       b=sp.sympify(self.b).subs(v, value) if sp.sympify(self.b).has(v) else self.b,
                       assumptions=self._bounds(assume))

    def simplify(self, *, assume: Any = None) -> Any:
        """Simplify the expression under the bounds (``assume`` and :attr:`assumptions`)."""
        from gelav.symbolic._assume import under

        return replace(self, expression=under(self._bounds(assume), self.expression))  # type: ignore[type-var]

    def pretty(self) -> str:
        """Unicode rendering (``sympy.pretty``) of ``label(x) = expression``."""
        label = getattr(self, "_pretty_label", self._label)
        return _pretty_eq(sp.Symbol(f"{label}({self.x})"), self.expression)

    def _free(self) -> list[str]:
        e = sp.sympify(self.expression)
        return sorted(s.name for s in e.free_symbols - {self.x})

    def numeric(self) -> Callable[[Any], Any]:
        r"""Vectorised NumPy function :math:`x \mapsto` value (quadrature for unevaluated integrals).

        Closed forms are lambdified; integrals become ``scipy.integrate.quad`` calls at relative
        tolerance 1e-12 (a loop over the points).

        Raises
        ------
        ValueError
            When parameters or the limits are still symbolic.
        """
        free = self._free()
        if free:
            raise ValueError(f"Parameters {free} are still symbolic; use .subs first.")
        from gelav.symbolic._exits import lambdify_with_integrals

        return lambdify_with_integrals(self.x, self.expression)  # type: ignore[no-any-return]

    def evalf(self, x: Any, n: int = 15) -> float:
        """Value at the point ``x`` by SymPy's arbitrary-precision evaluation (mpmath quadrature)."""
        free = self._free()
        if free:
            raise ValueError(f"Parameters {free} are still symbolic; use .subs first.")
        return float(sp.N(sp.sympify(self.expression).subs(self.x, sp.sympify(x)), n))

    def check(self) -> bool:
        """True when the expression solves its ODE and takes its boundary values at ``a`` and ``b``."""
        from gelav.symbolic._exits import solves_exit_ode, vanishes_at

        expr = sp.sympify(self.expression)
        if expr.has(sp.Integral):
            if self.process is None:  # the integrals are checked against the generator
                raise ValueError("check(): the expression has unevaluated integrals and no `process` to check them.")
            ok = solves_exit_ode(self.process, expr, self.ode.rhs)
        else:
            funcs = self.ode.lhs.atoms(sp.Function)
            func = next(f for f in funcs if isinstance(f.func, sp.core.function.UndefinedFunction))
            ok = self.ode.holds_for(func, expr)
        lo, hi = self._boundary
        return ok and vanishes_at(expr, self.x, self.a, lo) and vanishes_at(expr, self.x, self.b, hi)

    def __str__(self) -> str:
        return f"{self._label}({self.x}) = {sp.sstr(self.expression)}"


@dataclass(frozen=True)
class ExitTime(_ScaleSolution):
    r"""Expected exit time :math:`y(x) = E[\tau_{(a,b)} \mid X_0 = x]`.

    ``method`` is ``"dsolve"`` (closed form from :func:`sympy.dsolve`) or ``"green"`` (the
    Green's-function representation :math:`\int_a^b G(x, y) m(y)\,dy`, possibly with
    unevaluated integrals; see :attr:`closed_form`). :meth:`numeric` gives NumPy values
    either way.
    """

    expression: Any
    ode: Equation
    x: Any
    a: Any
    b: Any
    method: str = "dsolve"
    process: ItoProcess | None = field(default=None, compare=False, repr=False)
    assumptions: tuple[Any, ...] = field(default=(), compare=False)

    _label = "E[tau]"
    _pretty_label = "E[τ]"
    _latex_label = r"E[\tau]"


@dataclass(frozen=True)
class HittingProbability(_ScaleSolution):
    r"""Probability :math:`h(x) = P_x(X \text{ reaches } b \text{ before } a) = (S(x) - S(a))/(S(b) - S(a))`."""

    expression: Any
    ode: Equation
    x: Any
    a: Any
    b: Any
    process: ItoProcess | None = field(default=None, compare=False, repr=False)
    assumptions: tuple[Any, ...] = field(default=(), compare=False)

    _boundary = (0, 1)
    _label = "P(hit b first)"
    _latex_label = r"P_x(\tau_b < \tau_a)"

    def __str__(self) -> str:
        return f"P(hit {self.b} before {self.a})({self.x}) = {sp.sstr(self.expression)}"


# ---------------------------------------------------------------------------------------------------
def time_reversal(equation: Equation, u: Any, v: Any = None, *, T: Any = None) -> Equation:
    r"""Rewrite a backward equation for :math:`u(t, x)` in :math:`v(\tau, x) = u(T - \tau, x)`.

    The seed's ``subs(eq, {u, t}, {v(T - t, X), T - t})``: the terminal condition at
    :math:`t = T` becomes an initial condition at :math:`\tau = 0`; the result is returned
    solved for :math:`\partial_\tau v` (the form ``pdepe`` needs).
    """
    t, x = u.args[0], u.args[1]
    T = sp.Symbol("T", positive=True) if T is None else sp.sympify(T)
    v = sp.Function("v") if v is None else v
    vf = v if not isinstance(v, sp.Expr) else v.func
    e2 = equation.residual.subs(u, vf(T - t, x)).doit()
    e3 = e2.subs(t, T - t, simultaneous=True).doit()
    vt = sp.Derivative(vf(t, x), t)
    k = sp.Symbol("_dvt")
    e4 = e3.subs(vt, k)
    sol = sp.solve(e4, k)
    if len(sol) != 1:
        raise ValueError(f"Cannot solve the reversed equation for the time derivative: {e3}.")
    cond = tuple(Equation(vf(0, x), c.rhs) for c in equation.conditions)
    return Equation(vt, sp.expand(sol[0]), f"{equation.name or 'equation'} in reversed time τ = T − t", cond)


@dataclass(frozen=True)
class PdepeForm(LatexRepr):
    r"""Coefficients of MATLAB's ``pdepe`` form :math:`c\,v_t = x^{-m}\partial_x(x^m f) + s`.

    ``c``, ``f``, ``s`` are expressions in ``t``, ``x``, ``V`` (the solution value) and ``dvdx``.
    """

    c: Any
    f: Any
    s: Any
    t: Any
    x: Any
    V: Any
    dvdx: Any
    m: int = 0

    def subs(self, *args: Any, **kw: Any) -> PdepeForm:
        return replace(self, c=sp.sympify(self.c).subs(*args, **kw), f=sp.sympify(self.f).subs(*args, **kw),
                       s=sp.sympify(self.s).subs(*args, **kw))

    def pde(self, v: Any = None) -> Equation:
        """The PDE the coefficients encode, for ``v(t, x)``."""
        v = sp.Function("v")(self.t, self.x) if v is None else v
        vx = sp.Derivative(v, self.x)
        rep = {self.dvdx: vx, self.V: v}
        f = sp.sympify(self.f).subs(rep)
        s = sp.sympify(self.s).subs(rep)
        flux = sp.diff(f, self.x) if self.m == 0 else sp.diff(self.x**self.m * f, self.x) / self.x**self.m
        return Equation(sp.sympify(self.c).subs(rep) * sp.Derivative(v, self.t), flux + s, "pdepe form")

    def to_callable(self) -> Callable[..., tuple[Any, Any, Any]]:
        """NumPy function ``pdefun(x, t, u, dudx) -> (c, f, s)`` in ``pdepe``'s argument order."""
        free = (sp.sympify(self.c).free_symbols | sp.sympify(self.f).free_symbols | sp.sympify(self.s).free_symbols)
        extra = free - {self.t, self.x, self.V, self.dvdx}
        if extra:
            raise ValueError(f"Parameters {sorted(s.name for s in extra)} are still symbolic; use .subs first.")
        fn = sp.lambdify((self.x, self.t, self.V, self.dvdx), (self.c, self.f, self.s), modules="numpy")

        def pdefun(x: Any, t: Any, u: Any, dudx: Any) -> tuple[Any, Any, Any]:
            c, f, s = fn(x, t, u, dudx)
            shape = np.broadcast(np.asarray(x), np.asarray(u), np.asarray(dudx)).shape
            return tuple(np.broadcast_to(np.asarray(z, dtype=float), shape).copy() for z in (c, f, s))  # type: ignore[return-value]

        return pdefun

    def latex(self) -> str:
        return (rf"c = {sp.latex(self.c)},\quad f = {sp.latex(self.f)},\quad s = {sp.latex(self.s)}")

    def __str__(self) -> str:
        return f"pdepe form (m={self.m}): c = {sp.sstr(self.c)}, f = {sp.sstr(self.f)}, s = {sp.sstr(self.s)}"

    def pretty(self) -> str:
        """Unicode rendering of ``c``, ``f`` and ``s``, one per line."""
        return "\n".join(_pretty_eq(sp.Symbol(n), e) for n, e in (("c", self.c), ("f", self.f), ("s", self.s)))


def pdepe_form(equation: Equation, v: Any, *, V: Any = None, dvdx: Any = None) -> PdepeForm:
    r"""Map an equation in :math:`v(t, x)` to ``pdepe``'s :math:`(c, f, s)` by integration by parts.

    Writing the equation as :math:`k_1 v_t + k_2 v_{xx} + k_3 = 0` (the seed's ``coeffs``), so that
    :math:`v_t = D v_{xx} + S` with :math:`D = -k_2/k_1`, :math:`S = -k_3/k_1`, and using
    :math:`D v_{xx} = \partial_x(D v_x) - v_x\,\partial_x D`:

    .. math:: c = 1,\qquad f = D\,v_x,\qquad s = S - v_x\,\partial_x D .
    """
    t, x = v.args[0], v.args[1]
    V = sp.Symbol("V") if V is None else V
    dvdx = sp.Symbol("dvdx") if dvdx is None else dvdx
    dvt, dvxx = sp.Symbol("_dvt"), sp.Symbol("_dvxx")
    e = sp.expand(equation.residual.doit().subs({sp.Derivative(v, t): dvt, sp.Derivative(v, (x, 2)): dvxx}))
    k1, k2 = e.coeff(dvt), e.coeff(dvxx)
    k3 = sp.expand(e - k1 * dvt - k2 * dvxx)
    if k1 == 0 or k1.has(dvxx) or k2.has(dvt) or k3.has(dvt) or k3.has(dvxx):
        raise ValueError(f"The equation is not of the form k1*v_t + k2*v_xx + k3 = 0: {equation}.")
    D = sp.simplify(-k2 / k1)
    S = -k3 / k1
    vx = sp.Derivative(v, x)
    f = D * vx
    s = S - vx * sp.diff(D, x)
    rep = {vx: dvdx}
    f2 = sp.simplify(f.subs(rep).subs(v, V))
    s2 = sp.simplify(s.subs(rep).subs(v, V))
    return PdepeForm(c=sp.Integer(1), f=f2, s=s2, t=t, x=x, V=V, dvdx=dvdx)


# ---------------------------------------------------------------------------------------------------
from gelav.processes import Process  # noqa: E402


def _real_on_domain(f: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """A lambdified real function whose SymPy form has negative bases with fractional powers, read in complex
    arithmetic where the real one fails: Jacobi's Beta density printed as (-1)**(2/5)·x**(7/5)·(x-1)**(23/5) was
    NaN on (0, 1), and the law 'did not integrate to a positive finite mass'."""

    def g(v: Any) -> Any:
        x = np.asarray(v, dtype=float)
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = np.asarray(f(x))
            if np.iscomplexobj(out) or not np.all(np.isfinite(out)):
                z = np.broadcast_to(np.asarray(f(x.astype(complex)), dtype=complex), x.shape)
                out = np.where(np.abs(z.imag) <= 1e-9 * np.abs(z.real), z.real, np.nan)
        return np.asarray(out, dtype=float)

    return g


class SymbolicProcess(Process):
    r"""A :class:`~gelav.processes.Process` whose coefficients are lambdified SymPy expressions.

    Made by :meth:`ItoProcess.to_process`; ``ito`` keeps the symbolic model. The exact
    :math:`\partial_x\sigma` is lambdified too (for Milstein). Exact laws: when the model is
    recognised as OU, Brownian motion, GBM or CIR (``family``, ``family_params``, ``builtin``),
    :meth:`transition`, :meth:`stationary`, :meth:`normal_law` and the conditional moments are
    the built-in's SciPy laws; otherwise :meth:`transition` uses the model's transition density
    and :meth:`stationary` the symbolic stationary density (see :meth:`stationary_from_density`),
    so ``gelav.forward(p, "stationary", ...)`` works whenever a stationary density exists.

    Examples
    --------
    >>> import sympy as sp
    >>> x = sp.Symbol("x", real=True)
    >>> p = ItoProcess(sp.Rational(9, 20) * (1 - x), sp.Rational(8, 25), x=x).to_process()
    >>> p.family, round(float(p.stationary().std()), 6)
    ('ou', 0.33731)
    """

    def __init__(self, ito: ItoProcess, *, domain: tuple[float, float] | None = None, name: str | None = None) -> None:
        self.ito = ito
        args = (ito.t, ito.x)
        b = sp.lambdify(args, ito.drift, modules="numpy")
        s = sp.lambdify(args, ito.diffusion, modules="numpy")
        ds = sp.lambdify(args, sp.diff(ito.diffusion, ito.x), modules="numpy")
        self._ds = ds
        if domain is None:
            domain = (float(ito.domain[0]), float(ito.domain[1]))
        lo, hi = domain
        if lo > -math.inf and any(isinstance(a, sp.Pow) and a.exp == sp.S.Half for a in sp.preorder_traversal(ito.diffusion)):
            s_raw = s

            def s(t: float, x: Any) -> Any:  # keep sqrt(x - lo) real on rounding below the boundary
                with np.errstate(invalid="ignore"):
                    return np.nan_to_num(s_raw(t, np.maximum(x, lo)))
        super().__init__(b, s, domain=(lo, hi), time_homogeneous=ito.time_homogeneous,
                         name=name or f"SymbolicProcess[{ito}]")
        self._density = None
        if ito.transition is not None and ito.x0 is not None and not (
            ito.transition.free_symbols - {ito.t, ito.x, ito.x0}
        ):
            self._density = sp.lambdify((ito.x, ito.t, ito.x0), ito.transition, modules=["numpy", "scipy"])
        from gelav.symbolic._laws import recognise_family

        fam = recognise_family(ito) if (self.domain == (float(ito.domain[0]), float(ito.domain[1]))) else None
        self.family: str | None = None if fam is None else fam[0]
        self.family_params: dict[str, float] = {} if fam is None else dict(fam[1])
        self._twin: Any = None
        self._stationary: Any = None
        self._stationary_done = False

    def diffusion_derivative(self, t: float, x: Any) -> Any:
        x = np.asarray(x, dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.broadcast_to(np.asarray(self._ds(t, x), dtype=float), x.shape).copy()

    def exact_step(self, dt: float) -> Any:
        """The recognised family's exact sampler (Monte Carlo ``scheme="exact"``), or None: a typed-in CIR
        fell back to Euler steps, whose O(Δt) bias the standard error does not show (z = +2.3 over seeds)."""
        b = self.builtin
        return None if b is None else b.exact_step(dt)

    @property  # type: ignore[misc]
    def exact_uses_normals(self) -> bool:  # type: ignore[override]
        """Whether the exact sampler consumes one normal per path (the recognised family's)."""
        b = self.builtin
        return True if b is None else bool(b.exact_uses_normals)

    def transition_pdf(self, x: Any, t: float, x0: float, s: float = 0.0) -> Any:
        """The symbolic transition density evaluated with NumPy (time-homogeneous models)."""
        if self._density is None:
            raise NotImplementedError(f"{self.name} carries no transition density.")
        return np.asarray(self._density(np.asarray(x, dtype=float), float(t - s), float(x0)), dtype=float)

    # -- exact laws ---------------------------------------------------------------------------------
    @property
    def builtin(self) -> Process | None:
        """The built-in process of the recognised family (``family``), or None.

        E.g. ``simulate(p.builtin, ..., scheme="exact")`` samples the exact transition law.
        """
        if self.family is None:
            return None
        if self._twin is None:
            from gelav.symbolic._laws import builtin_twin

            self._twin = builtin_twin(self.family, self.family_params)
        return self._twin  # type: ignore[no-any-return]

    @property
    def has_transition(self) -> bool:
        """True for a recognised family (OU, BM, GBM, CIR) or when the model carries a transition density."""
        return self.family is not None or (self._density is not None and self.time_homogeneous)

    def transition(self, x0: float, t: float, s: float = 0.0) -> Any:
        r"""Frozen SciPy law of :math:`X_t` given :math:`X_s = x_0`.

        The built-in family's distribution when the model is recognised (normal, lognormal,
        non-central :math:`\chi^2`); otherwise a :func:`~gelav.symbolic._laws.density_distribution`
        of the model's lambdified transition density.

        Raises
        ------
        NotImplementedError
            When neither is available.
        """
        twin = self.builtin
        if twin is not None:
            return twin.transition(x0, t, s)
        if self._density is None or not self.time_homogeneous:
            return super().transition(x0, t, s)
        tau = self._check_time(t, s)
        x0 = self._check_state(x0)
        from scipy import stats

        if tau == 0.0:
            return stats.norm(loc=x0, scale=0.0)
        from gelav.symbolic._laws import density_distribution

        dens = self._density
        return density_distribution(lambda z: dens(z, tau, x0), *self.domain, name="symbolic transition",
                                    normalise=False)

    def normal_law(self, x0: float, t: float, s: float = 0.0) -> tuple[float, float] | None:
        twin = self.builtin
        return None if twin is None else twin.normal_law(x0, t, s)

    def conditional_mean(self, x0: float, t: float, s: float = 0.0) -> float:
        twin = self.builtin
        return float(twin.conditional_mean(x0, t, s)) if twin is not None else super().conditional_mean(x0, t, s)

    def conditional_var(self, x0: float, t: float, s: float = 0.0) -> float:
        twin = self.builtin
        return float(twin.conditional_var(x0, t, s)) if twin is not None else super().conditional_var(x0, t, s)

    def stationary(self) -> Any:
        r"""Frozen SciPy stationary law, or None when there is none.

        A recognised family gives its built-in law (OU: :math:`N(\bar x, \sigma^2/2\kappa)`; CIR:
        Gamma(:math:`2\kappa\theta/\sigma^2`, scale :math:`\sigma^2/2\kappa`); BM and GBM: None).
        Otherwise :meth:`stationary_from_density`: the normalised speed density
        :math:`m/\int m` found by SymPy, as a distribution.
        """
        if self.family is not None:
            return self.builtin.stationary()  # type: ignore[union-attr]
        return self.stationary_from_density()

    def stationary_from_density(self) -> Any:
        r"""The stationary law built from the symbolic density :math:`m(x)/\int m` (cached).

        A :class:`scipy.stats.rv_continuous` whose pdf is the lambdified density and whose cdf
        is computed by adaptive quadrature (relative tolerance 1e-12); None when the process is
        time-dependent or :meth:`ItoProcess.stationary_density` finds no normalisable density.
        """
        if not self._stationary_done:
            self._stationary_done = True
            if self.time_homogeneous:
                dens = self.ito.stationary_density()
                if dens is not None and not (dens.free_symbols - {self.ito.x}):
                    from gelav.symbolic._laws import density_distribution

                    f = _real_on_domain(sp.lambdify(self.ito.x, dens, modules=["numpy", "scipy"]))
                    self._stationary = density_distribution(f, *self.domain, name="symbolic stationary")
        return self._stationary

    def params(self) -> dict[str, float]:
        return {}

    def __repr__(self) -> str:
        return f"SymbolicProcess({self.ito})"
