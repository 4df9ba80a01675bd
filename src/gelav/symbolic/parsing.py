r"""Safe parsing of user-typed mathematical expressions.

Strings typed on the command line (``gelav ito --drift "mu*x"``) are never
passed to :func:`eval`. :func:`parse_expression` first checks the text's Python
syntax tree against a whitelist (numbers, names, ``+ - * / ** ^``, calls of a
fixed list of mathematical functions), rejects attribute access, subscripts,
strings, lambdas, comprehensions, keyword arguments, dunder names and
oversized constants, and only then lets :func:`sympy.parsing.sympy_parser.parse_expr`
build the expression with an empty ``__builtins__`` and the whitelisted names.
"""

from __future__ import annotations

import ast
import keyword
import math
import re
from collections.abc import Iterable

import sympy as sp
from sympy.parsing.sympy_parser import auto_number, auto_symbol, convert_xor, parse_expr

__all__ = ["ALLOWED_CONSTANTS", "ALLOWED_FUNCTIONS", "parse_expression"]

#: name usable in an expression -> SymPy object
ALLOWED_FUNCTIONS: dict[str, object] = {
    "exp": sp.exp, "log": sp.log, "ln": sp.log, "sqrt": sp.sqrt,
    "sin": sp.sin, "cos": sp.cos, "tan": sp.tan, "asin": sp.asin, "acos": sp.acos, "atan": sp.atan,
    "sinh": sp.sinh, "cosh": sp.cosh, "tanh": sp.tanh,
    "abs": sp.Abs, "Abs": sp.Abs, "sign": sp.sign, "erf": sp.erf, "erfc": sp.erfc,
    "Heaviside": sp.Heaviside, "max": sp.Max, "Max": sp.Max, "min": sp.Min, "Min": sp.Min,
}
ALLOWED_CONSTANTS: dict[str, object] = {"pi": sp.pi, "E": sp.E}

_MAX_LENGTH = 500
_MAX_DEPTH = 40
_MAX_CONSTANT = 1e12
#: the largest constant exponent accepted
_MAX_EXPONENT = 1e4
#: names SymPy or Python read as numbers: refused rather than taken as real parameters
_RESERVED = frozenset({"nan", "NaN", "inf", "Inf", "infinity", "oo", "zoo", "I"})
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_CHARS = re.compile(r"^[A-Za-z0-9_+\-*/^().,\s]*$")
_BINOPS = (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Pow)
_UNARY = (ast.UAdd, ast.USub)


def _reject(what: str, text: str, name: str) -> ValueError:
    return ValueError(
        f"`{name}` is not a mathematical expression: {what} in {text!r}. Use numbers, "
        f"t, x, parameter names, + - * / ** ^ and the functions "
        f"{', '.join(sorted(set(ALLOWED_FUNCTIONS)))}."
    )


def _const_value(node: ast.AST) -> float | None:
    """Float value of a constant-only subtree (None when it holds names)."""
    if isinstance(node, ast.Constant):
        return float(node.value) if isinstance(node.value, (int, float)) else None
    if isinstance(node, ast.UnaryOp):
        v = _const_value(node.operand)
        return None if v is None else (-v if isinstance(node.op, ast.USub) else v)
    if isinstance(node, ast.BinOp):
        a, b = _const_value(node.left), _const_value(node.right)
        if a is None or b is None:
            return None
        try:
            if isinstance(node.op, ast.Add):
                return a + b
            if isinstance(node.op, ast.Sub):
                return a - b
            if isinstance(node.op, ast.Mult):
                return a * b
            if isinstance(node.op, ast.Div):
                return a / b if b != 0 else math.inf
            if isinstance(node.op, ast.Pow):
                v = abs(a) ** b if a != 0 else 0.0
                return float(v.real) if isinstance(v, complex) else v
        except (OverflowError, ZeroDivisionError):
            return math.inf
    return None


def _check_tree(tree: ast.AST, text: str, name: str, variables: Iterable[str]) -> None:
    reserved = set(variables)

    def visit(node: ast.AST, depth: int) -> None:
        if depth > _MAX_DEPTH:
            raise _reject("the expression is nested too deeply", text, name)
        if isinstance(node, ast.Expression):
            visit(node.body, depth + 1)
        elif isinstance(node, ast.Constant):
            if isinstance(node.value, bool) or not isinstance(node.value, (int, float)):
                raise _reject(f"the literal {node.value!r} is not a number", text, name)
            if abs(float(node.value)) > _MAX_CONSTANT:
                raise _reject(f"the constant {node.value!r} is too large", text, name)
        elif isinstance(node, ast.Name):
            ident = node.id
            if ident.startswith("_") or "__" in ident or not _NAME.match(ident) or keyword.iskeyword(ident):
                raise _reject(f"the name {ident!r} is not allowed", text, name)
            if ident in _RESERVED:  # read as a real parameter called "nan", "inf", ... they printed y(nan) = 0
                raise _reject(f"the name {ident!r} is reserved (not a number or a parameter here)", text, name)
            if ident in ALLOWED_FUNCTIONS and ident not in reserved:
                raise _reject(f"the function {ident!r} must be called with an argument", text, name)
        elif isinstance(node, ast.BinOp):
            if not isinstance(node.op, _BINOPS):
                raise _reject(f"the operator {type(node.op).__name__} is not allowed", text, name)
            v = _const_value(node)
            if v is not None and not (math.isfinite(v) and abs(v) <= _MAX_CONSTANT**2):
                raise _reject("a constant sub-expression overflows", text, name)
            if isinstance(node.op, ast.Pow):
                e = _const_value(node.right)
                if e is not None and not abs(e) <= _MAX_EXPONENT:  # x^(9^9): SymPy's inversions did not return
                    raise _reject(f"the exponent {e:g} is too large (at most {_MAX_EXPONENT:g} in size)", text, name)
            visit(node.left, depth + 1)
            visit(node.right, depth + 1)
        elif isinstance(node, ast.UnaryOp):
            if not isinstance(node.op, _UNARY):
                raise _reject(f"the operator {type(node.op).__name__} is not allowed", text, name)
            visit(node.operand, depth + 1)
        elif isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name) or node.func.id not in ALLOWED_FUNCTIONS:
                called = node.func.id if isinstance(node.func, ast.Name) else type(node.func).__name__
                raise _reject(f"calling {called!r} is not allowed", text, name)
            if node.keywords:
                raise _reject("keyword arguments are not allowed", text, name)
            if not node.args:
                raise _reject(f"{node.func.id}() needs an argument", text, name)
            for a in node.args:
                if isinstance(a, ast.Starred):
                    raise _reject("starred arguments are not allowed", text, name)
                visit(a, depth + 1)
        elif isinstance(node, ast.Attribute):
            raise _reject("attribute access ('.') is not allowed", text, name)
        elif isinstance(node, ast.Lambda):
            raise _reject("lambda is not allowed", text, name)
        else:
            raise _reject(f"{type(node).__name__} syntax is not allowed", text, name)

    visit(tree, 0)


def parse_expression(
    text: str,
    *,
    name: str = "expression",
    variables: dict[str, sp.Symbol] | None = None,
    assumptions: dict[str, bool] | None = None,
) -> sp.Expr:
    r"""Parse ``text`` into a SymPy expression without evaluating user code.

    Parameters
    ----------
    text : str
        E.g. ``"kappa*(theta - x)"``, ``"sigma*sqrt(x)"``, ``"exp(x)"``; ``^`` means power.
    name : str
        Argument name used in error messages (``drift``, ``diffusion``, ...).
    variables : dict, optional
        Names bound to given symbols (default ``t`` and ``x`` real symbols).
    assumptions : dict, optional
        Assumptions for all other (parameter) symbols, default ``{"real": True}``.

    Returns
    -------
    sympy.Expr

    Raises
    ------
    TypeError
        If ``text`` is not a string.
    ValueError
        If the text is empty, too long, not valid syntax, or anything other than
        a mathematical expression (attribute access, strings, lambdas, dunder
        names, unknown functions, subscripts, oversized constants, ...).

    Examples
    --------
    >>> parse_expression("mu*x + sigma^2/2")
    mu*x + sigma**2/2
    >>> parse_expression("__import__('os').system('ls')")
    Traceback (most recent call last):
    ...
    ValueError: `expression` is not a mathematical expression: ...
    """
    if not isinstance(text, str):
        raise TypeError(f"`{name}` must be a string, got {type(text).__name__}.")
    src = text.strip()
    if not src:
        raise ValueError(f"`{name}` is empty; give an expression such as 'mu*x'.")
    if len(src) > _MAX_LENGTH:
        raise ValueError(f"`{name}` is longer than {_MAX_LENGTH} characters.")
    if not _CHARS.match(src):
        bad = sorted({c for c in src if not _CHARS.match(c)})
        raise _reject(f"the characters {''.join(bad)!r} are not allowed", text, name)
    py = src.replace("^", "**")
    try:
        tree = ast.parse(py, mode="eval")
    except SyntaxError as exc:
        raise ValueError(f"`{name}` is not a valid expression: {text!r} ({exc.msg}).") from None
    if variables is None:
        variables = {"t": sp.Symbol("t", real=True), "x": sp.Symbol("x", real=True)}
    _check_tree(tree, text, name, variables)
    assumptions = {"real": True} if assumptions is None else dict(assumptions)
    local: dict[str, object] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id not in ALLOWED_FUNCTIONS and node.id not in ALLOWED_CONSTANTS:
            local[node.id] = variables.get(node.id) or sp.Symbol(node.id, **assumptions)
    local.update({k: v for k, v in variables.items() if k in local})
    global_dict: dict[str, object] = {
        "__builtins__": {}, "Integer": sp.Integer, "Float": sp.Float, "Rational": sp.Rational, "Symbol": sp.Symbol,
    }
    global_dict.update(ALLOWED_FUNCTIONS)
    global_dict.update(ALLOWED_CONSTANTS)
    try:
        expr = parse_expr(py, local_dict=local, global_dict=global_dict,
                          transformations=(auto_symbol, auto_number, convert_xor), evaluate=True)
    except (SyntaxError, TypeError, ValueError, AttributeError, NameError) as exc:
        raise ValueError(f"`{name}` could not be parsed: {text!r} ({exc}).") from None
    if not isinstance(expr, sp.Expr):
        raise ValueError(f"`{name}` is not a scalar expression: {text!r}.")
    if expr.has(sp.I) or expr.has(sp.zoo) or expr.has(sp.nan):
        raise ValueError(f"`{name}` evaluates to a complex or undefined value: {text!r} -> {expr}.")
    _check_constants(expr, text, name)
    return expr


def _check_constants(expr: sp.Expr, text: str, name: str) -> None:
    """Every constant sub-expression is a finite real of at most ``_MAX_CONSTANT²`` in size: acos(2) and
    (-8)^(1/3) (complex principal values) passed as drifts, exp(exp(exp(1000))) failed later as 'int too large'."""
    seen: set[sp.Expr] = set()
    for sub in sp.preorder_traversal(expr):
        if not isinstance(sub, sp.Expr) or not sub.is_number or isinstance(sub, (sp.Integer, sp.Rational, sp.Float)):
            continue
        if sub in seen:
            continue
        seen.add(sub)
        try:
            z = complex(sp.N(sub, 17))
        except (OverflowError, TypeError, ValueError):
            raise _reject(f"the constant {sub} is not a finite number", text, name) from None
        if not (math.isfinite(z.real) and math.isfinite(z.imag)) or abs(z) > _MAX_CONSTANT**2:
            raise _reject(f"the constant {sub} overflows", text, name)
        if abs(z.imag) > 1e-12 * max(abs(z.real), 1e-300):
            raise _reject(f"the constant {sub} is complex ({z.real:.6g}{z.imag:+.6g}i)", text, name)
