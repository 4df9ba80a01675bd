"""Equations as small frozen values: ``lhs = rhs`` with a name, LaTeX and checks."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import sympy as sp

__all__ = ["Equation", "is_zero"]


def is_zero(expr: Any, *, simplify: bool = True) -> bool:
    """True when ``expr`` simplifies to zero (``simplify(expr) == 0``).

    Tries cheap rewrites first (``expand``, ``together``, ``powsimp``) before
    :func:`sympy.simplify`, so identities that are exact but slow to
    simplify are still decided quickly.
    """
    e = sp.sympify(expr)
    if e == 0:
        return True
    e = e.doit()
    for f in (sp.expand, lambda z: sp.together(sp.expand(z)), lambda z: sp.powsimp(sp.expand(z), force=True)):
        if f(e) == 0:
            return True
    if not simplify:
        return False
    return bool(sp.simplify(e) == 0)


class LatexRepr:
    """Jupyter shows a symbolic result as its :meth:`latex` in display math."""

    def latex(self) -> str:  # pragma: no cover - defined by each result
        raise NotImplementedError

    def _repr_latex_(self) -> str:
        return f"$\\displaystyle {self.latex()}$"


@dataclass(frozen=True)
class Equation(LatexRepr):
    r"""An equation ``lhs = rhs`` between SymPy expressions.

    Parameters
    ----------
    lhs, rhs : sympy.Expr
        The two sides.
    name : str
        What the equation is ("Fokker–Planck", "Itô's lemma", ...).
    conditions : tuple of Equation
        Side conditions (terminal, boundary or initial conditions).

    Examples
    --------
    >>> import sympy as sp
    >>> x = sp.Symbol("x")
    >>> eq = Equation(x**2, 4, name="toy")
    >>> eq.latex()
    'x^{2} = 4'
    >>> str(eq)
    'toy: x**2 = 4'
    """

    lhs: Any
    rhs: Any
    name: str = ""
    conditions: tuple[Equation, ...] = field(default=())

    def __post_init__(self) -> None:
        object.__setattr__(self, "lhs", sp.sympify(self.lhs))
        object.__setattr__(self, "rhs", sp.sympify(self.rhs))
        object.__setattr__(self, "conditions", tuple(self.conditions))

    # -- views ------------------------------------------------------------------
    @property
    def residual(self) -> sp.Expr:
        """``lhs - rhs`` (zero when the equation holds)."""
        return self.lhs - self.rhs

    @property
    def sympy(self) -> sp.Eq:
        """The unevaluated :class:`sympy.Eq`."""
        return sp.Eq(self.lhs, self.rhs, evaluate=False)

    def latex(self) -> str:
        """LaTeX ``lhs = rhs`` (conditions follow after commas)."""
        s = f"{sp.latex(self.lhs)} = {sp.latex(self.rhs)}"
        if self.conditions:
            s += r",\quad " + r",\quad ".join(c.latex() for c in self.conditions)
        return s

    def __str__(self) -> str:
        body = f"{sp.sstr(self.lhs)} = {sp.sstr(self.rhs)}"
        if self.conditions:
            body += ", " + ", ".join(f"{sp.sstr(c.lhs)} = {sp.sstr(c.rhs)}" for c in self.conditions)
        return f"{self.name}: {body}" if self.name else body

    def pretty(self) -> str:
        """Unicode rendering (``sympy.pretty``) of ``lhs = rhs`` and its conditions."""
        lines = [str(sp.pretty(self.sympy, use_unicode=True))]
        lines += [str(sp.pretty(c.sympy, use_unicode=True)) for c in self.conditions]
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form: name, lhs, rhs (SymPy strings) and LaTeX."""
        return {"name": self.name, "lhs": sp.sstr(self.lhs), "rhs": sp.sstr(self.rhs), "latex": self.latex(),
                "conditions": [c.to_dict() for c in self.conditions]}

    # -- transformations -----------------------------------------------------------
    def _map(self, f: Any) -> Equation:
        return Equation(f(self.lhs), f(self.rhs), self.name, tuple(c._map(f) for c in self.conditions))

    def subs(self, *args: Any, **kwargs: Any) -> Equation:
        """Substitute in both sides (same arguments as :meth:`sympy.Basic.subs`)."""
        return self._map(lambda e: e.subs(*args, **kwargs))

    def doit(self) -> Equation:
        """Evaluate derivatives and ``Subs`` objects on both sides."""
        return self._map(lambda e: e.doit())

    def simplify(self) -> Equation:
        """Simplify both sides."""
        return self._map(sp.simplify)

    def equivalent(self, other: Equation) -> bool:
        """True when ``self`` and ``other`` have the same residual up to simplification."""
        return is_zero(self.residual - other.residual)

    def holds_for(self, unknown: Any, solution: Any, *, values: Mapping[Any, Any] | None = None) -> bool:
        """Substitute ``unknown`` (e.g. ``u(t, x)``) by ``solution`` and check the residual is zero.

        ``unknown`` is an applied undefined function; its derivatives are
        replaced consistently. ``values`` optionally fixes parameters first.
        """
        func = unknown.func
        args = unknown.args
        lam = sp.Lambda(args, solution)
        r = self.residual.replace(func, lam).doit()
        if values:
            r = r.subs(values)
        return is_zero(r)
