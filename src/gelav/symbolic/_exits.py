r"""Exit times and hitting probabilities through the scale function and the speed measure.

For a regular time-homogeneous diffusion :math:`dX = b(X)\,dt + \sigma(X)\,dW` on
:math:`(a, b)` with scale density, scale function and speed density

.. math::

    s(x) = \exp\Big(-\int^x \frac{2b}{\sigma^2}\Big),\qquad
    S(x) = \int_a^x s(z)\,dz,\qquad m(x) = \frac{2}{\sigma^2(x)\,s(x)},

the hitting probability and the expected exit time are

.. math::

    P_x(\text{hit } b \text{ first}) = \frac{S(x) - S(a)}{S(b) - S(a)},\qquad
    E_x[\tau] = \int_a^b G(x, y)\,m(y)\,dy,\quad
    G(x, y) = \frac{(S(x\wedge y) - S(a))(S(b) - S(x\vee y))}{S(b) - S(a)} .

Both always exist as expressions; when SymPy cannot integrate they keep unevaluated
:class:`sympy.Integral` objects, which :meth:`~gelav.symbolic.ExitTime.numeric` evaluates with
adaptive quadrature (``scipy.integrate.quad`` at relative tolerance 1e-12).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
import sympy as sp

if TYPE_CHECKING:  # pragma: no cover
    from gelav.symbolic._ito import ItoProcess

__all__ = ["ELEMENTARY", "is_elementary", "lambdify_with_integrals", "scale_parts"]

#: Functions of the state that count as "elementary" when deciding whether ``dsolve`` can succeed.
ELEMENTARY: tuple[type, ...] = (
    sp.exp, sp.log, sp.sin, sp.cos, sp.tan, sp.cot, sp.sinh, sp.cosh, sp.tanh, sp.coth,
    sp.asin, sp.acos, sp.atan, sp.asinh, sp.acosh, sp.atanh, sp.Abs, sp.sign,
)


def generic_branch(expr: sp.Expr) -> sp.Expr:
    """Replace every ``Piecewise`` by its first (generic-parameter) branch."""
    return sp.sympify(expr).replace(lambda e: isinstance(e, sp.Piecewise), lambda e: e.args[0][0])


def is_elementary(expr: Any, x: sp.Symbol) -> bool:
    """True when every function of ``x`` in ``expr`` is elementary (no erf, Γ, Bessel, Integral, ...)."""
    e = sp.sympify(expr)
    if e.has(sp.Integral):
        return False
    for f in e.atoms(sp.Function):
        if x in f.free_symbols and not isinstance(f, ELEMENTARY):
            return False
    return True


def _quad(f: Callable[[float], float], lo: float, hi: float, *args: Any, **kw: Any) -> tuple[float, float]:
    from scipy.integrate import quad

    kw.setdefault("epsabs", 0.0)
    kw.setdefault("epsrel", 1e-12)
    kw.setdefault("limit", 500)
    return quad(f, lo, hi, *args, **kw)  # type: ignore[no-any-return]


def lambdify_with_integrals(args: Any, expr: Any) -> Callable[..., Any]:
    """NumPy/SciPy function of ``expr``; unevaluated integrals become ``scipy.integrate.quad`` calls.

    The quadrature runs at relative tolerance 1e-12 (absolute 0). The result is vectorised
    over its arguments (a Python loop when the expression holds integrals).
    """
    e = sp.sympify(expr)
    fn = sp.lambdify(args, e, modules=[{"quad": _quad}, "scipy", "numpy"])
    if not e.has(sp.Integral):
        def closed(*a: Any) -> Any:
            shape = np.broadcast(*[np.asarray(v) for v in a]).shape
            with np.errstate(all="ignore"):
                return np.broadcast_to(np.asarray(fn(*a), dtype=float), shape).copy()
        return closed
    vec = np.vectorize(lambda *a: float(fn(*a)), otypes=[float])

    def integral(*a: Any) -> Any:
        out = vec(*a)
        return float(out) if np.ndim(out) == 0 else out
    return integral


def scale_parts(proc: ItoProcess, a: sp.Expr) -> tuple[sp.Expr, sp.Expr, sp.Expr, bool]:
    r"""``(s, S_a, m, closed)``: scale density, :math:`S_a(x) = \int_a^x s`, speed density.

    ``closed`` is True when SymPy found an antiderivative of ``s`` (then
    :math:`S_a = F(x) - F(a)`); otherwise :math:`S_a` is an unevaluated integral.
    """
    x = proc.x
    s = proc.scale_density()
    m = sp.powsimp(sp.expand(2 / proc.variance_rate / s))
    F = generic_branch(sp.integrate(s, x))
    if F.has(sp.Integral):
        z = sp.Dummy("z", real=True)
        return s, sp.Integral(s.subs(x, z), (z, a, x)), m, False
    return s, F - F.subs(x, a), m, True


def _antiderivative(expr: sp.Expr, x: sp.Symbol) -> sp.Expr | None:
    if not is_elementary(expr, x):
        return None
    F = generic_branch(sp.integrate(expr, x))
    return None if F.has(sp.Integral) else F


def green_exit_time(proc: ItoProcess, a: sp.Expr, b: sp.Expr, *, integrate: bool = True,
                    parts: tuple[sp.Expr, sp.Expr, sp.Expr, bool] | None = None) -> tuple[sp.Expr, bool]:
    r"""Expected exit time :math:`\int_a^b G(x, y)\,m(y)\,dy` written with the scale function.

    With :math:`S_a(a) = 0` and :math:`D = S_a(b)`:

    .. math::

        E_x[\tau] = \frac{(D - S_a(x))\int_a^x S_a m\,dy + S_a(x)\int_x^b (D - S_a) m\,dy}{D}.

    The two integrals are done by SymPy when their integrands are elementary
    (``integrate=True``); otherwise they stay unevaluated. ``parts`` reuses
    :func:`scale_parts` ``(proc, a)``. Returns ``(expression, closed)``.
    """
    x = proc.x
    _, S, m, _ = scale_parts(proc, a) if parts is None else parts
    y = sp.Dummy("y", real=True)
    D = S.subs(x, b)
    Sy, my = S.subs(x, y), m.subs(x, y)
    closed = False
    if integrate:
        P = _antiderivative(sp.expand(Sy * my), y)
        M = _antiderivative(my, y)
        if P is not None and M is not None:
            I1 = P.subs(y, x) - P.subs(y, a)
            I2 = D * (M.subs(y, b) - M.subs(y, x)) - (P.subs(y, b) - P.subs(y, x))
            closed = True
    if not closed:
        I1 = sp.Integral(Sy * my, (y, a, x))
        I2 = sp.Integral((D - Sy) * my, (y, x, b))
    return ((D - S) * I1 + S * I2) / D, closed


def hitting_probability(proc: ItoProcess, a: sp.Expr, b: sp.Expr) -> tuple[sp.Expr, bool]:
    r""":math:`h(x) = S_a(x)/S_a(b)`, the probability of reaching ``b`` before ``a``."""
    _, S, _, closed = scale_parts(proc, a)
    return S / S.subs(proc.x, b), closed


def solves_exit_ode(proc: ItoProcess, expr: sp.Expr, rhs: int) -> bool:
    r"""Symbolic check of :math:`\mathcal{L} y = \text{rhs}` for a representation with integrals.

    Differentiates by Leibniz's rule (no attempt to evaluate the integrals), replaces the
    remaining integrals by independent symbols and simplifies: the identity must hold
    whatever their values.
    """
    x = proc.x
    ints = sorted(expr.atoms(sp.Integral), key=sp.default_sort_key)
    funcs = [sp.Function(f"_J{k}")(x) for k in range(len(ints))]
    e = expr.xreplace(dict(zip(ints, funcs, strict=True)))
    res = proc.drift * sp.diff(e, x) + proc.variance_rate / 2 * sp.diff(e, x, 2) - rhs
    # Leibniz: d/dx of an integral whose integrand does not involve x is boundary terms only
    for integral, J in zip(ints, funcs, strict=True):
        d1, d2 = sp.diff(integral, x), sp.diff(integral, x, 2)
        res = res.subs({sp.Derivative(J, (x, 2)): d2}).subs({sp.Derivative(J, x): d1})
    res = res.xreplace({J: sp.Dummy(f"I{k}") for k, J in enumerate(funcs)})
    if res.has(sp.Integral):  # pragma: no cover - integrands that depend on x
        return False
    from gelav.symbolic._equation import is_zero

    return is_zero(res)


def vanishes_at(expr: sp.Expr, x: sp.Symbol, point: sp.Expr, value: Any = 0) -> bool:
    """True when ``expr`` at ``x = point`` equals ``value`` (integrals over empty ranges are 0)."""
    e = expr.subs(x, point)
    e = e.replace(lambda z: isinstance(z, sp.Integral) and len(z.limits) == 1 and len(z.limits[0]) == 3
                  and sp.simplify(z.limits[0][1] - z.limits[0][2]) == 0, lambda z: sp.S.Zero)
    from gelav.symbolic._equation import is_zero

    return is_zero(e - value)
