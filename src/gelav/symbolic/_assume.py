r"""Assumptions on symbols stated as inequalities (``"0<Y<1"``), and simplification under them.

SymPy's symbols carry sign assumptions (``positive``, ``negative``) but no bounds, so
``sign(log(Y))`` stays unevaluated even when the user knows :math:`0 < Y < 1`. A
bound is stated here as an interval and used by a change of variables with a
*positive* dummy :math:`u`:

=================  ====================================
``lo < Y < hi``    :math:`Y = lo + (hi - lo)/(1 + u)`
``Y > lo``         :math:`Y = lo + u`
``Y < hi``         :math:`Y = hi - u`
=================  ====================================

each of which maps :math:`u > 0` onto the interval. The expression is rewritten in
:math:`u`, the operation (a limit, a simplification) runs where SymPy can decide
signs (``log(1/(1 + u)) < 0``), and the result is mapped back with the inverse
substitution. :func:`parse_assumptions` reads ``"0<Y<1"``, ``"Y>0, a<b"``-style
strings (one bound per symbol, constants on the other side) or a mapping
``{"Y": (0, 1)}``; :func:`under` applies an operation under them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import sympy as sp

__all__ = ["Bound", "parse_assumptions", "under"]


@dataclass(frozen=True)
class Bound:
    """``lo < symbol < hi`` (``lo`` = −∞ or ``hi`` = +∞ for one-sided bounds).

    Parsed bounds are numbers; a Bound built in code may have symbolic ends (``x < b``).
    """

    name: str
    lo: Any
    hi: Any

    def text(self) -> str:
        if self.lo == -sp.oo:
            return f"{self.name} < {self.hi}"
        if self.hi == sp.oo:
            return f"{self.name} > {self.lo}"
        return f"{self.lo} < {self.name} < {self.hi}"


_NUM = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?|[-+]?oo|[-+]?pi|[-+]?E"
_NAME = r"[A-Za-z][A-Za-z0-9_]*"


def _const(text: str, spec: str) -> Any:
    from gelav.symbolic.parsing import parse_expression

    t = text.strip()
    if t in ("oo", "+oo", "inf", "+inf"):
        return sp.oo
    if t in ("-oo", "-inf"):
        return -sp.oo
    v = parse_expression(t, name="assume")
    if v.free_symbols:
        raise ValueError(f"`assume`: bounds must be numbers, got {t!r} in {spec!r}.")
    return v


def parse_assumptions(spec: str | Mapping[Any, Any] | Iterable[Bound] | Bound | None) -> tuple[Bound, ...]:
    """Read bounds on symbols.

    ``spec`` is a string of comma- or ``and``-separated chains such as ``"0<Y<1"``,
    ``"Y>0"``, ``"x <= 2"`` (``<=`` is read as ``<``: the bounds are open), a mapping
    ``{"Y": (0, 1), "z": (0, None)}`` (``None`` for no bound), :class:`Bound` objects, or None.

    Raises
    ------
    ValueError
        A chain that is not ``number < name < number``, ``name < number`` or ``name > number``,
        a bound that is not a number, an empty interval, or a symbol bounded twice.
    TypeError
        Anything other than a string, a mapping or None.
    """
    if spec is None:
        return ()
    if isinstance(spec, Bound):
        return (spec,)
    if isinstance(spec, (tuple, list)) and all(isinstance(b, Bound) for b in spec):
        return tuple(spec)
    out: list[Bound] = []
    if isinstance(spec, Mapping):
        for k, v in spec.items():
            name = k.name if isinstance(k, sp.Symbol) else str(k)
            if isinstance(v, str):
                out.extend(parse_assumptions(v))
                continue
            try:
                lo, hi = v
            except (TypeError, ValueError):
                raise ValueError(f"`assumptions`[{name!r}] must be a (low, high) pair, got {v!r}.") from None
            out.append(Bound(name, -sp.oo if lo is None else sp.sympify(lo), sp.oo if hi is None else sp.sympify(hi)))
    elif isinstance(spec, str):
        for part in re.split(r",|\band\b|&", spec):
            p = part.strip().replace("<=", "<").replace(">=", ">").replace(" ", "")
            if not p:
                continue
            m = re.fullmatch(rf"({_NUM})<({_NAME})<({_NUM})", p) or re.fullmatch(rf"({_NUM})>({_NAME})>({_NUM})", p)
            if m:
                a, name, b = _const(m.group(1), spec), m.group(2), _const(m.group(3), spec)
                lo, hi = (a, b) if "<" in p else (b, a)
                out.append(Bound(name, lo, hi))
                continue
            m = re.fullmatch(rf"({_NAME})([<>])({_NUM})", p)
            if m:
                name, op, c = m.group(1), m.group(2), _const(m.group(3), spec)
                out.append(Bound(name, -sp.oo, c) if op == "<" else Bound(name, c, sp.oo))
                continue
            m = re.fullmatch(rf"({_NUM})([<>])({_NAME})", p)
            if m:
                c, op, name = _const(m.group(1), spec), m.group(2), m.group(3)
                out.append(Bound(name, c, sp.oo) if op == "<" else Bound(name, -sp.oo, c))
                continue
            raise ValueError(f"`assume`: cannot read {part.strip()!r}; write bounds such as '0<Y<1', 'Y>0' or 'a<2' "
                             "(a symbol and numbers).")
    else:
        raise TypeError(f"`assume` must be a string such as '0<Y<1' or a mapping, got {type(spec).__name__}.")
    seen: set[str] = set()
    for b in out:
        if b.name in seen:
            raise ValueError(f"`assume` bounds {b.name} twice; give one interval per symbol, e.g. '0<{b.name}<1'.")
        seen.add(b.name)
        lo, hi = sp.sympify(b.lo), sp.sympify(b.hi)
        if (lo.is_number or lo.is_infinite) and (hi.is_number or hi.is_infinite) and not bool(lo < hi):
            raise ValueError(f"`assume`: the interval of {b.name} is empty ({b.lo} ≥ {b.hi}).")
    return tuple(out)


def _maps(expr: Any, bounds: tuple[Bound, ...]) -> tuple[dict[Any, Any], dict[Any, Any]]:
    """Forward (symbol → f(u)) and backward (u → f⁻¹(symbol)) substitutions for the symbols in ``expr``."""
    fwd: dict[Any, Any] = {}
    back: dict[Any, Any] = {}
    by_name: dict[str, list[sp.Symbol]] = {}
    for s in sp.sympify(expr).free_symbols:
        by_name.setdefault(s.name, []).append(s)
    for b in bounds:
        for s in by_name.get(b.name, []):
            u = sp.Dummy(f"u_{b.name}", positive=True)
            back_sym = sp.Symbol(b.name, real=True) if not s.is_real else s
            if b.lo != -sp.oo and b.hi != sp.oo:
                fwd[s] = b.lo + (b.hi - b.lo) / (1 + u)
                back[u] = (b.hi - b.lo) / (back_sym - b.lo) - 1
            elif b.lo != -sp.oo:
                fwd[s] = b.lo + u
                back[u] = back_sym - b.lo
            else:
                fwd[s] = b.hi - u
                back[u] = b.hi - back_sym
    return fwd, back


def under(bounds: tuple[Bound, ...], expr: Any, op: Callable[[Any], Any] | None = None) -> Any:
    """Apply ``op`` (default: simplification) to ``expr`` with the bounded symbols rewritten, then map back.

    Limit variables must not be bounded (the limit is taken in the original variable).
    """
    e = sp.sympify(expr)
    fwd, back = _maps(e, bounds)
    if not fwd:
        return op(e) if op is not None else e
    e2 = e.xreplace(fwd)
    r = op(e2) if op is not None else e2
    r = sp.simplify(sp.sympify(r))
    r = r.xreplace(back)
    return sp.simplify(r) if r.free_symbols else r
