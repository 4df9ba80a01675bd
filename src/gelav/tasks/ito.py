"""The Itô task: Itô's lemma, generator, Fokker–Planck, backward, Feynman–Kac, pdepe and exit-time equations of
a typed SDE (``gelav ito`` is a thin layer over it; the report's ``[ito]`` section calls it)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from gelav.tasks._base import (
    ScenarioLike,
    TaskResult,
    check_options,
    merge,
    read_scenario,
    source_of,
)

__all__ = [
    "FIELDS",
    "ItoInputError",
    "ItoReport",
    "ito",
    "plain_text",
    "read_ito_table",
    "resolve",
    "resolve_fields",
]

#: the fields of the ``[ito]`` table and the keyword options of :func:`ito` (those of ``gelav ito``)
FIELDS = (
    "drift",
    "diffusion",
    "var",
    "transform",
    "rate",
    "source",
    "assume",
    "exit_time",
    "limit",
    "pdepe",
)
_TEXT_FIELDS = ("drift", "diffusion", "var", "transform", "rate", "source", "assume", "exit_time")
TITLES = {
    "process": "SDE",
    "ito_lemma": "Itô's lemma",
    "transformed_process": "Transformed process (in y = G)",
    "generator": "Generator",
    "fokker_planck": "Fokker–Planck equation",
    "backward": "Kolmogorov backward equation",
    "feynman_kac": "Feynman–Kac equation",
    "feynman_kac_reversed": "Feynman–Kac equation in reversed time τ = T − t",
    "pdepe": "pdepe form c v_t = ∂x f + s (m = 0)",
    "exit_time_ode": "Expected exit time: ODE and boundary conditions",
}


class ItoInputError(ValueError):
    """A bad value of one field (``field``: ``var``, ``assume``, ``exit_time``, ``limit``, ``drift``, ...)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"`{field}`: {message}")
        self.field = field
        self.detail = message


def read_ito_table(scenario: Mapping[str, Any]) -> dict[str, Any]:
    """The ``[ito]`` table: expressions (strings) in t and x, ``limit`` (a string or a list of them)
    and ``pdepe`` (true or false)."""
    from gelav.scenario import ScenarioError, Section

    src = source_of(scenario)
    sec = Section(scenario.get("ito"), "ito", source=src)
    out: dict[str, Any] = {}
    for key in _TEXT_FIELDS:
        v = sec.get(key)
        if v is None:
            continue
        if not isinstance(v, str):
            raise ScenarioError(
                f"{src}: [ito] field `{key}` = {v!r}: expected an expression as a string."
            )
        out[key] = v
    lim = sec.get("limit")
    if lim is not None:
        lim = [lim] if isinstance(lim, str) else lim
        if not isinstance(lim, list) or not all(isinstance(v, str) for v in lim):
            raise ScenarioError(
                f"{src}: [ito] field `limit` = {sec.get('limit')!r}: expected a list of strings "
                "such as ['b=1', 'a->0+']."
            )
        out["limit"] = list(lim)
    pdepe = sec.get("pdepe")
    if pdepe is not None:
        if not isinstance(pdepe, bool):
            raise ScenarioError(f"{src}: [ito] field `pdepe` = {pdepe!r}: expected true or false.")
        out["pdepe"] = pdepe
    sec.check_unknown(FIELDS)
    return out


def resolve(scenario: ScenarioLike = None, **options: Any) -> tuple[Any, ...]:
    """``(drift, diffusion, transform, rate, source)``: defaults < the ``[ito]`` table < the options
    (as before the other fields existed; :func:`resolve_fields` gives every field)."""
    s = resolve_fields(scenario, **options)
    return tuple(s[k] for k in ("drift", "diffusion", "transform", "rate", "source"))


def resolve_fields(scenario: ScenarioLike = None, **options: Any) -> dict[str, Any]:
    """Every field: defaults < the ``[ito]`` table < the options (``None`` means "not given")."""
    sc = read_scenario(scenario)
    s = merge("ito", read_ito_table(sc), options)
    for key in ("drift", "diffusion"):
        if s.get(key) is None:
            where = f"{source_of(sc)}: [ito] is missing the field `{key}`" if sc else "missing"
            raise ItoInputError(
                key,
                f"{where}: give --{key} (an expression in t and x) or a --config file whose "
                f"[ito] table has `{key}`.",
            )
    s["limit"] = tuple(s.get("limit") or ())
    s["pdepe"] = bool(s.get("pdepe") or False)
    return {k: s.get(k) for k in FIELDS}


class ItoReport(TaskResult):
    """The equations, by name (``equations``: name -> ``{"text", "latex", ...}``, the JSON of ``gelav ito``).

    ``sections`` lists ``(name, title, view)`` in print order; each view has ``latex()``,
    ``pretty()`` (Unicode) and ``str()`` (SymPy text). ``assumptions`` are the bounds
    stated (``assume``), ``note`` why there is no transformed process (if so).
    """

    equations: Any = None
    parameters: tuple[str, ...] = ()
    sections: tuple[tuple[str, str, Any], ...] = ()
    assumptions: tuple[str, ...] = ()
    note: str | None = None

    name = "ito"

    def to_dict(self) -> dict[str, Any]:
        out = {
            **self.equations,
            "parameters": list(self.parameters),
            "assumptions": list(self.assumptions),
        }
        if self.note:
            out["transformed_process"] = {"error": self.note}
        return out

    def texts(self) -> dict[str, str]:
        """Title -> the equation as plain text."""
        out = {title: plain_text(view) for _key, title, view in self.sections}
        if self.note:
            out[TITLES["transformed_process"]] = f"(none: {self.note})"
        return out


def plain_text(obj: Any) -> str:
    """One-line SymPy text of a view (without the ``name: `` prefix some equations carry)."""
    text = str(obj)
    return text.split(": ", 1)[1] if ": " in text and not text.startswith("d") else text


def ito(scenario: ScenarioLike = None, **options: Any) -> ItoReport:
    """Itô calculus for dX = drift dt + diffusion dW from a scenario's ``[ito]`` table and options.

    Options (and ``[ito]`` fields): ``drift``, ``diffusion`` (expressions in t and the
    state), ``var`` (the state's name, default x), ``transform`` (G for Itô's lemma),
    ``rate``, ``source`` (of the Feynman–Kac equation, default r and 0), ``assume``
    (bounds such as ``"0<Y<1"``), ``exit_time`` (``"a,b"``: the expected exit time's ODE,
    solution and limits), ``limit`` (steps ``"a->0+"`` or ``"b=1"`` applied in order to
    the exit time), ``pdepe`` (the (c, f, s) form in reversed time).

    Raises
    ------
    ItoInputError
        A bad field (its ``field`` names it); expressions that are not mathematics raise
        the parser's ``ValueError``.
    """
    import sympy as sp

    from gelav.symbolic import (
        ItoProcess,
        parse_assumptions,
        parse_expression,
        pdepe_form,
        time_reversal,
    )
    from gelav.symbolic.parsing import ALLOWED_CONSTANTS, ALLOWED_FUNCTIONS

    check_options("ito", options, FIELDS)
    s = resolve_fields(scenario, **options)
    if s["limit"] and s["exit_time"] is None:
        raise ItoInputError(
            "limit", "a limit applies to the exit time: give `exit_time` ('a,b') too."
        )
    var = s["var"]
    vname = "x" if var is None else var.strip()
    if (
        not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", vname)
        or vname in ("t", "T", "dt", "dW")
        or vname in ALLOWED_FUNCTIONS
        or vname in ALLOWED_CONSTANTS
    ):
        raise ItoInputError(
            "var", f"{var!r} is not usable as the state variable; give a name such as Y or L."
        )
    try:
        bounds = parse_assumptions(s["assume"])
    except ValueError as exc:
        raise ItoInputError("assume", str(exc).replace("`assume`", "the bound")) from None
    positive = {b.name for b in bounds if b.lo != -sp.oo and bool(sp.sympify(b.lo) >= 0)}
    state_bound = next((b for b in bounds if b.name == vname), None)
    t = sp.Symbol("t", real=True)
    X = sp.Symbol(vname, positive=True) if vname in positive else sp.Symbol(vname, real=True)
    variables: dict[str, sp.Symbol] = {"t": t, vname: X}
    variables.update({n: sp.Symbol(n, positive=True) for n in positive - {vname}})

    def parse(text: str, name: str, **kw: Any) -> sp.Expr:
        return parse_expression(text, name=name, variables=variables, **kw)

    b, sig = parse(s["drift"], "drift"), parse(s["diffusion"], "diffusion")
    r, f = parse(s["rate"], "rate"), parse(s["source"], "source")
    domain = (state_bound.lo, state_bound.hi) if state_bound is not None else (-sp.oo, sp.oo)
    proc = ItoProcess(b, sig, t, X, domain=domain)
    sections: list[tuple[str, str, Any]] = [("process", TITLES["process"], proc)]
    note = None
    if s["transform"] is not None:
        lemma = proc.ito_lemma(parse(s["transform"], "transform"))
        sections.append(("ito_lemma", TITLES["ito_lemma"], lemma))
        try:
            sections.append(
                ("transformed_process", TITLES["transformed_process"], lemma.in_terms_of())
            )
        except (ValueError, NotImplementedError) as exc:
            note = str(exc)
    u = sp.Function("u")(proc.t, proc.x)
    sections.append(("generator", TITLES["generator"], _GeneratorView(proc.generator(u), u)))
    sections.append(("fokker_planck", TITLES["fokker_planck"], proc.fokker_planck_equation()))
    sections.append(("backward", TITLES["backward"], proc.backward_equation()))
    sections.append(("feynman_kac", TITLES["feynman_kac"], proc.feynman_kac_equation(r, f)))
    if s["pdepe"]:
        v = sp.Function("v")
        rev = time_reversal(
            proc.feynman_kac_equation(r, f, u=u), u, v, T=sp.Symbol("T", positive=True)
        )
        sections.append(("feynman_kac_reversed", TITLES["feynman_kac_reversed"], rev))
        sections.append(("pdepe", TITLES["pdepe"], _PdepeView(pdepe_form(rev, v(proc.t, proc.x)))))
    if s["exit_time"] is not None:
        sections += _exit_time_sections(
            proc, s["exit_time"], s["limit"], bounds, state_bound, parse, positive=vname in positive
        )
    eqs = {
        key: (
            obj.to_dict() if hasattr(obj, "to_dict") else {"text": str(obj), "latex": obj.latex()}
        )
        for key, _title, obj in sections
    }
    params = tuple(
        p.name
        for p in sorted(
            (b.free_symbols | sig.free_symbols | r.free_symbols | f.free_symbols)
            - {proc.t, proc.x},
            key=str,
        )
    )
    return ItoReport(
        inputs=s,
        equations=eqs,
        parameters=params,
        sections=tuple(sections),
        assumptions=tuple(bd.text() for bd in bounds),
        note=note,
    )


def _parse_step(step: str, parse: Any) -> tuple[str, str, Any, str]:
    """``'a->0+'`` → (kind 'limit', name, value, direction); ``'b=1'`` → ('subs', name, value, '')."""
    import sympy as sp

    text = step.strip()
    m = re.fullmatch(r"([A-Za-z][A-Za-z0-9_]*)\s*(->|→)\s*(.+?)\s*(\+|-)?", text)
    if m and m.group(3) not in ("", "+", "-"):
        raw, direction = m.group(3).strip(), m.group(4) or "+-"
        if raw.endswith(("+", "-")) and m.group(4) is None:
            raw, direction = raw[:-1].strip(), raw[-1]
        value = (
            sp.oo
            if raw in ("oo", "+oo", "inf")
            else -sp.oo
            if raw in ("-oo", "-inf")
            else parse(raw, "limit")
        )
        return "limit", m.group(1), value, direction
    m = re.fullmatch(r"([A-Za-z][A-Za-z0-9_]*)\s*=\s*(.+)", text)
    if m:
        return "subs", m.group(1), parse(m.group(2), "limit"), ""
    raise ItoInputError(
        "limit",
        f"cannot read {step!r}; write a limit such as 'a->0+' or 'mu0->0', or a "
        "substitution such as 'b=1'.",
    )


def _exit_time_sections(
    proc: Any,
    spec: str,
    limits: tuple[str, ...],
    bounds: Any,
    state_bound: Any,
    parse: Any,
    *,
    positive: bool,
) -> list[tuple[str, str, Any]]:
    import sympy as sp

    from gelav.symbolic import Equation

    parts = list(spec.split(","))
    if len(parts) != 2 or not all(p.strip() for p in parts):
        raise ItoInputError(
            "exit_time", f"{spec!r}: give the two end points 'a,b' (symbols or numbers)."
        )
    kw = {"assumptions": {"positive": True}} if positive else {}
    a, b = (parse(p, "exit-time", **kw) for p in parts)
    if proc.x in a.free_symbols | b.free_symbols:
        raise ItoInputError(
            "exit_time", f"the end points may not contain the state variable {proc.x}."
        )
    if a.is_number and b.is_number and not bool(a < b):
        raise ItoInputError("exit_time", f"the end points must satisfy a < b, got {a}, {b}.")
    y = sp.Function("y")(proc.x)
    ode = proc.exit_time_ode(y)
    ode_bc = Equation(
        ode.lhs,
        ode.rhs,
        "exit-time ODE",
        (Equation(y.subs(proc.x, a), 0), Equation(y.subs(proc.x, b), 0)),
    )
    et = proc.exit_time(a, b, assume=bounds)
    out: list[tuple[str, str, Any]] = [
        ("exit_time_ode", TITLES["exit_time_ode"], ode_bc),
        (
            "exit_time",
            f"Expected exit time from ({a}, {b}) [{et.method}"
            f"{'' if et.is_closed_form else ', with integrals evaluated numerically by numeric()'}]",
            _ExitView(et, ""),
        ),
    ]
    steps: list[tuple[str, str, Any, str]] = [_parse_step(st, parse) for st in limits]
    if steps:
        cur = et
        for i, (kind, name, value, direction) in enumerate(steps):
            syms = {sym.name: sym for sym in sp.sympify(cur.expression).free_symbols}
            if name not in syms:
                raise ItoInputError(
                    "limit",
                    f"{limits[i]!r}: {name} is not a symbol of the exit time (its symbols "
                    f"are {', '.join(sorted(syms))}).",
                )
            sym = syms[name]
            try:
                nxt = cur.subs(sym, value) if kind == "subs" else cur.limit(sym, value, direction)
                if kind == "subs" and sp.sympify(nxt.expression).has(sp.nan, sp.zoo):
                    # 0/0 at a removable singularity (mu = 0 in a drift's exit time): the value is the limit
                    nxt = cur.limit(sym, value, "+-")
            except (NotImplementedError, ValueError, TypeError) as exc:  # SymPy gives up (a → -oo with mu's sign)
                raise ItoInputError("limit", f"{limits[i]!r}: SymPy could not compute it ({exc}); give the "
                                             "symbols' signs with --assume, or another order of steps.") from None
            if sp.sympify(nxt.expression).has(sp.nan, sp.zoo, sp.I):
                raise ItoInputError("limit", f"{limits[i]!r} gives an undefined exit time ({nxt.expression}).")
            cur = nxt
            label = (
                f"{name} = {value}"
                if kind == "subs"
                else f"{name} → {value}{'' if direction == '+-' else '⁺' if direction == '+' else '⁻'}"
            )
            out.append((f"exit_time_step_{i + 1}", f"  then {label}", _ExitView(cur, label)))
    elif et.is_closed_form:
        import warnings

        from gelav.errors import GelavWarning
        from gelav.symbolic import Bound

        lo = state_bound.lo if state_bound is not None else proc.domain[0]
        hi = state_bound.hi if state_bound is not None else proc.domain[1]
        for end, target, direction, sup in ((a, lo, "+", "⁺"), (b, hi, "-", "⁻")):
            if isinstance(end, sp.Symbol):
                # the start lies inside the interval: a < x < b, with the other end kept
                inside = Bound(proc.x.name, lo, b) if end is a else Bound(proc.x.name, a, hi)
                try:
                    lim = et.limit(end, target, direction, assume=(inside,))
                except (
                    NotImplementedError,
                    ValueError,
                ) as exc:  # pragma: no cover - SymPy gives up
                    warnings.warn(f"the limit {end} → {target} was not found ({exc})", GelavWarning, stacklevel=2)
                    continue
                label = f"{end} → {target}{sup}"
                out.append((f"exit_time_limit_{end}", f"  limit {label}", _ExitView(lim, label)))
    return out


class _Delegate:
    """A printable view of one symbolic object ``self.shown``: LaTeX, pretty text and ``str`` are its own."""

    shown: Any

    def latex(self) -> str:
        return str(self.shown.latex())

    def pretty(self) -> str:
        return str(self.shown.pretty())

    def __str__(self) -> str:
        return str(self.shown)


class _ExitView(_Delegate):
    """Printable exit-time expression (after a limit or substitution step)."""

    def __init__(self, et: Any, step: str) -> None:
        self.et, self.step = et, step
        self.shown = et

    def to_dict(self) -> dict[str, Any]:
        import sympy as sp

        return {
            "step": self.step,
            "expression": sp.sstr(self.et.expression),
            "latex": self.latex(),
            "method": self.et.method,
            "closed_form": self.et.is_closed_form,
        }


class _PdepeView(_Delegate):
    """Printable pdepe (c, f, s)."""

    def __init__(self, form: Any) -> None:
        self.form = self.shown = form

    def to_dict(self) -> dict[str, Any]:
        import sympy as sp

        return {
            "c": sp.sstr(self.form.c),
            "f": sp.sstr(self.form.f),
            "s": sp.sstr(self.form.s),
            "m": self.form.m,
            "V": "V",
            "dvdx": "dvdx",
            "latex": self.latex(),
        }


class _GeneratorView:
    """Printable ``(L u)(t, x) = ...``."""

    def __init__(self, expr: Any, u: Any) -> None:
        self.expr, self.u = expr, u

    def latex(self) -> str:
        import sympy as sp

        return rf"\mathcal{{L}}{sp.latex(self.u)} = {sp.latex(self.expr)}"

    def __str__(self) -> str:
        import sympy as sp

        return f"L {sp.sstr(self.u)} = {sp.sstr(self.expr)}"

    def pretty(self) -> str:
        import sympy as sp

        return str(
            sp.pretty(sp.Eq(sp.Symbol("L") * self.u, self.expr, evaluate=False), use_unicode=True)
        )

    def to_dict(self) -> dict[str, str]:
        import sympy as sp

        return {
            "text": f"L u = {sp.sstr(self.expr)}",
            "expression": sp.sstr(self.expr),
            "latex": self.latex(),
        }
