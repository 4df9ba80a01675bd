"""Symbolic results a student can use (issue 17, item 7): closed forms, composing limits and substitutions,
assumptions on symbols, processes printed in their own variable, pretty output."""

from __future__ import annotations

import pytest
import sympy as sp

from gelav.symbolic import ItoProcess, is_zero
from gelav.symbolic._assume import Bound, parse_assumptions, under

t = sp.Symbol("t", real=True)
X = sp.Symbol("X", positive=True)
a, b = sp.symbols("a b", positive=True)
mu, s = sp.Symbol("mu", real=True), sp.Symbol("sigma", positive=True)


def gbm():
    return ItoProcess(mu * X, s * X, t, X, domain=(0, sp.oo))


def test_closed_form_is_the_expression_and_stays_truthy():
    bm = ItoProcess(0, 1)
    et = bm.exit_time(-1, 1)
    assert et.closed_form is not None and et.is_closed_form
    assert is_zero(et.closed_form - (1 - bm.x**2))
    assert bool(et.closed_form)
    # an exit time with unevaluated integrals has no closed form (None, falsy)
    ou = ItoProcess(-bm.x, 1)
    g = ou.exit_time(-1, 1)
    assert g.method == "green" and g.closed_form is None and not g.closed_form and not g.is_closed_form


def half_gbm():
    """dX = X/2 dt + X dW: log X is a driftless Brownian motion."""
    return ItoProcess(X / 2, X, t, X, domain=(0, sp.oo))


def test_limits_and_substitutions_compose():
    et = half_gbm().exit_time(a, b)
    exact = (sp.log(X) - sp.log(a)) * (sp.log(b) - sp.log(X))
    assert is_zero(sp.expand_log(et.expression - exact, force=True))
    # .limit returns something .subs accepts, and back again; SymPy functions accept the result too
    lim = et.limit(b, sp.E)
    v = lim.subs(a, 1).expression
    assert is_zero(sp.expand_log(v - sp.log(X) * (1 - sp.log(X)), force=True))
    assert lim.b == sp.E and lim.subs(a, 1).a == 1
    assert is_zero(sp.expand_log(sp.sympify(lim) - lim.expression, force=True))
    assert is_zero(sp.expand_log(sp.limit(et, b, sp.E) - lim.expression, force=True))
    assert et.limit("b", sp.E).subs(a, 1).limit("X", 1).expression == 0  # names work as limit variables


def test_assumptions_decide_signs_in_a_limit():
    et = half_gbm().exit_time(a, 1)
    raw = et.limit(a, 0, "+").expression
    assert raw.has(sp.sign)  # SymPy alone: oo*sign(-log(X)), undecided
    assert et.limit(a, 0, "+", assume="0<X<1").expression == sp.oo
    assert et.assuming({"X": (0, 1)}).limit(a, 0, "+").expression == sp.oo
    et2 = half_gbm().exit_time(a, 1, assume="0<X<1")  # the process's own exit_time takes them too
    assert et2.assumptions and et2.limit(a, 0, "+").expression == sp.oo
    with pytest.raises(ValueError, match="`direction`"):
        et.limit(a, 0, "up")


@pytest.mark.parametrize(("spec", "expected"), [
    ("0<Y<1", [Bound("Y", 0, 1)]),
    ("Y > 0, z<2", [Bound("Y", 0, sp.oo), Bound("z", -sp.oo, 2)]),
    ("1 > w > -1 and 0 <= q", [Bound("w", -1, 1), Bound("q", 0, sp.oo)]),
    ({"Y": (0, None)}, [Bound("Y", 0, sp.oo)]),
])
def test_parse_assumptions(spec, expected):
    assert list(parse_assumptions(spec)) == expected


@pytest.mark.parametrize(("spec", "exc", "match"), [
    ("0<Y<", ValueError, "cannot read"),
    ("Y<z", ValueError, "cannot read"),
    ("1<Y<0", ValueError, "empty"),
    ("Y>0, Y<1", ValueError, "twice"),
    (3, TypeError, "`assume`"),
    ({"Y": 1}, ValueError, "pair"),
])
def test_parse_assumptions_errors(spec, exc, match):
    with pytest.raises(exc, match=match):
        parse_assumptions(spec)


def test_under_maps_back_to_the_original_symbol():
    Y = sp.Symbol("Y", positive=True)
    assert under(parse_assumptions("0<Y<1"), sp.sign(sp.log(Y))) == -1
    assert under(parse_assumptions("Y>2"), sp.Abs(Y - 1)) == Y - 1
    Yr = sp.Symbol("Y", real=True)
    assert under(parse_assumptions("Y<-1"), sp.Abs(Yr)) == -Yr
    e = under(parse_assumptions("0<Y<1"), Y * sp.log(Y))
    assert is_zero(e - Y * sp.log(Y))


def test_process_prints_in_its_variable_and_pretty():
    Y = sp.Symbol("Y", positive=True)
    p = ItoProcess(mu * Y, s * Y, t, Y)
    assert str(p).startswith("dY = ") and p.name == "Y"
    assert str(ItoProcess(mu, s)).startswith("dX = ")  # default x keeps the name X
    assert ItoProcess(mu, s, name="L").name == "L"
    pr = p.pretty()
    assert "dY = " in pr and " dt + " in pr and pr.rstrip().endswith("dW")
    assert "σ" in pr  # Unicode
    et = ItoProcess(0, 1).exit_time(-1, 1)
    assert "E[τ](x) = " in et.pretty()
    assert "∂" in ItoProcess(mu, s).fokker_planck_equation().pretty()
