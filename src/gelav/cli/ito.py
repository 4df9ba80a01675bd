"""``gelav ito``: Itô's lemma, generator, Fokker–Planck, Feynman–Kac, pdepe and exit-time equations of a typed SDE."""

from __future__ import annotations

import re
from typing import Any

import click

from gelav.cli._common import dump_json, handle_errors

__all__ = ["ito"]

_CONFIG_KEYS = ("drift", "diffusion", "var", "transform", "rate", "source", "assume", "exit_time", "limit", "pdepe")


@click.command("ito")
@click.option("--drift", default=None, help="Drift b(t, x), e.g. 'kappa*(theta - x)' [required, or from --config].")
@click.option("--diffusion", default=None,
              help="Diffusion (volatility) sigma(t, x), e.g. 'sigma*sqrt(x)' [required, or from --config].")
@click.option("--var", "var", default=None, help="Name of the state variable in the expressions [default x].")
@click.option("--transform", "transform", default=None, help="G(t, x) for Itô's lemma, e.g. 'exp(x)' or 'log(x)'.")
@click.option("--rate", default=None, help="Discount rate r(t, x) in the Feynman–Kac equation [default r].")
@click.option("--source", default=None, help="Running payoff f(t, x) in the Feynman–Kac equation [default 0].")
@click.option("--assume", "assume", default=None,
              help="Bounds on symbols, e.g. '0<Y<1' or 'Y>0, mu0<0', used to simplify limits (signs, logs).")
@click.option("--exit-time", "exit_time", default=None,
              help="'a,b': the expected exit time from (a, b): its ODE, solution and limits.")
@click.option("--limit", "limits", multiple=True,
              help="With --exit-time, a step applied in order: 'a->0+' (limit; + or - for one side) or 'b=1' "
                   "(substitution); repeatable. Default: each symbolic end point to the state's bound.")
@click.option("--pdepe", "pdepe", is_flag=True, default=None,
              help="Print MATLAB pdepe's (c, f, s) form of the Feynman–Kac equation in reversed time τ = T − t.")
@click.option("--latex", "as_latex", is_flag=True, help="Print LaTeX instead of pretty Unicode.")
@click.option("--plain", "as_plain", is_flag=True, help="Print one-line SymPy text instead of pretty Unicode.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object (text and LaTeX forms).")
@click.option("--plot", "plot_path", default=None, help="Also render the equations (Matplotlib mathtext) to this file or folder.")
@click.option("--config", "config", type=click.Path(dir_okay=False), default=None,
              help="Scenario TOML file whose [ito] table gives drift, diffusion, var, transform, rate, source, "
                   "assume, exit_time, limit (a list), pdepe (options override).")
@click.option("--quiet", "-q", is_flag=True, help="Print nothing but errors (with --plot; --json still prints).")
@handle_errors
def ito(drift: str | None, diffusion: str | None, var: str | None, transform: str | None, rate: str | None,
        source: str | None, assume: str | None, exit_time: str | None, limits: tuple[str, ...], pdepe: bool | None,
        as_latex: bool, as_plain: bool, as_json: bool, plot_path: str | None, config: str | None, quiet: bool) -> None:
    """Itô calculus for dX = drift dt + diffusion dW, typed as strings in t and x (or --var).

    Other names (mu, sigma, kappa, ...) become real parameters. Only mathematical
    expressions are accepted: numbers, names, + - * / ** ^ and functions such as
    exp, log, sqrt; anything else (attribute access, strings, lambdas, ...) is an
    error (exit code 2). Examples:

        gelav ito --drift mu0 --diffusion sigma0 --transform "exp(x)"

        gelav ito --var Y --drift "(mu0 + sigma0^2/2)*Y" --diffusion "sigma0*Y" --assume "0<Y<1"
        --exit-time a,b --limit sigma0=1 --limit "mu0->0" --limit b=1 --limit "a->0+"
    """
    if config is not None:
        from gelav.scenario import Section, load

        data = load(config)
        sec = Section(data.get("ito"), "ito", source=data["_path"])
        sec.check_unknown(_CONFIG_KEYS)

        def text(key: str, current: Any) -> Any:
            if current is not None:
                return current
            v = sec.get(key)
            if v is not None and not isinstance(v, str):
                raise click.BadParameter(f"[ito] `{key}` must be a string, got {v!r}.", param_hint="'--config'")
            return v

        drift, diffusion, var = text("drift", drift), text("diffusion", diffusion), text("var", var)
        transform, rate, source = text("transform", transform), text("rate", rate), text("source", source)
        assume, exit_time = text("assume", assume), text("exit_time", exit_time)
        if not limits and sec.get("limit") is not None:
            lim = sec.get("limit")
            if isinstance(lim, str):
                lim = [lim]
            if not isinstance(lim, list) or not all(isinstance(v, str) for v in lim):
                raise click.BadParameter(f"[ito] `limit` must be a list of strings, got {lim!r}.", param_hint="'--config'")
            limits = tuple(lim)
        if pdepe is None and sec.get("pdepe") is not None:
            if not isinstance(sec.get("pdepe"), bool):
                raise click.BadParameter("[ito] `pdepe` must be true or false.", param_hint="'--config'")
            pdepe = bool(sec.get("pdepe"))
    if drift is None or diffusion is None:
        missing = "--drift" if drift is None else "--diffusion"
        raise click.UsageError(f"Missing option '{missing}' (give it, or a --config whose [ito] table has it).")
    if as_latex and as_plain:
        raise click.UsageError("Give at most one of '--latex' and '--plain'.")
    if limits and exit_time is None:
        raise click.UsageError("'--limit' applies to the exit time: give '--exit-time a,b' too.")
    rate = "r" if rate is None else rate
    source = "0" if source is None else source
    import sympy as sp

    from gelav.symbolic import ItoProcess, parse_expression
    from gelav.symbolic._assume import parse_assumptions
    from gelav.symbolic._ito import pdepe_form, time_reversal
    from gelav.symbolic.parsing import ALLOWED_CONSTANTS, ALLOWED_FUNCTIONS

    vname = "x" if var is None else var.strip()
    if (not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", vname) or vname in ("t", "T", "dt", "dW")
            or vname in ALLOWED_FUNCTIONS or vname in ALLOWED_CONSTANTS):
        raise click.BadParameter(f"{var!r} is not usable as the state variable; give a name such as Y or L.",
                                 param_hint="'--var'")
    try:
        bounds = parse_assumptions(assume)
    except ValueError as exc:
        raise click.BadParameter(str(exc).replace("`assume`", "the bound"), param_hint="'--assume'") from None
    positive = {b.name for b in bounds if b.lo != -sp.oo and bool(sp.sympify(b.lo) >= 0)}
    state_bound = next((b for b in bounds if b.name == vname), None)
    t = sp.Symbol("t", real=True)
    X = sp.Symbol(vname, positive=True) if vname in positive else sp.Symbol(vname, real=True)
    variables: dict[str, sp.Symbol] = {"t": t, vname: X}
    variables.update({n: sp.Symbol(n, positive=True) for n in positive - {vname}})

    def parse(text: str, name: str, **kw: Any) -> sp.Expr:
        return parse_expression(text, name=name, variables=variables, **kw)

    b = parse(drift, "drift")
    s = parse(diffusion, "diffusion")
    r = parse(rate, "rate")
    f = parse(source, "source")
    domain = (state_bound.lo, state_bound.hi) if state_bound is not None else (-sp.oo, sp.oo)
    proc = ItoProcess(b, s, t, X, domain=domain)
    sections: list[tuple[str, str, Any]] = [("process", "SDE", proc)]
    inverse_note = None
    if transform is not None:
        G = parse(transform, "transform")
        lemma = proc.ito_lemma(G)
        sections.append(("ito_lemma", "Itô's lemma", lemma))
        try:
            sections.append(("transformed_process", "Transformed process (in y = G)", lemma.in_terms_of()))
        except (ValueError, NotImplementedError) as exc:
            inverse_note = str(exc)
    u = sp.Function("u")(proc.t, proc.x)
    sections.append(("generator", "Generator", _GeneratorView(proc.generator(u), u)))
    sections.append(("fokker_planck", "Fokker–Planck equation", proc.fokker_planck_equation()))
    sections.append(("backward", "Kolmogorov backward equation", proc.backward_equation()))
    fk = proc.feynman_kac_equation(r, f)
    sections.append(("feynman_kac", "Feynman–Kac equation", fk))
    if pdepe:
        v = sp.Function("v")
        rev = time_reversal(proc.feynman_kac_equation(r, f, u=u), u, v, T=sp.Symbol("T", positive=True))
        form = pdepe_form(rev, v(proc.t, proc.x))
        sections.append(("feynman_kac_reversed", "Feynman–Kac equation in reversed time τ = T − t", rev))
        sections.append(("pdepe", "pdepe form c v_t = ∂x f + s (m = 0)", _PdepeView(form)))
    if exit_time is not None:
        sections += _exit_time_sections(proc, exit_time, limits, bounds, state_bound, parse, positive=vname in positive)

    if plot_path is not None:
        _render(plot_path, [(title, obj.latex()) for _, title, obj in sections])
    if as_json:
        out: dict[str, Any] = {}
        for key, _title, obj in sections:
            out[key] = obj.to_dict() if hasattr(obj, "to_dict") else {"text": str(obj), "latex": obj.latex()}
        out["parameters"] = [p.name for p in sorted(
            (b.free_symbols | s.free_symbols | r.free_symbols | f.free_symbols) - {proc.t, proc.x}, key=str)]
        out["assumptions"] = [bd.text() for bd in bounds]
        if inverse_note:
            out["transformed_process"] = {"error": inverse_note}
        if plot_path is not None:
            out["plot"] = plot_path
        dump_json(out)
        return
    if quiet:
        return
    for _key, title, obj in sections:
        click.echo(f"{title}:")
        if as_latex:
            body = obj.latex()
        elif as_plain or not hasattr(obj, "pretty"):
            body = _plain(obj)
        else:
            body = obj.pretty()
        click.echo("\n".join("  " + line for line in body.splitlines()))
    if bounds:
        click.echo("assuming " + ", ".join(bd.text() for bd in bounds))
    if inverse_note:
        click.echo(f"(no transformed process: {inverse_note})")


def _parse_step(step: str, parse: Any) -> tuple[str, str, Any, str]:
    """``'a->0+'`` → (kind 'limit', name, value, direction); ``'b=1'`` → ('subs', name, value, '')."""
    import sympy as sp

    text = step.strip()
    m = re.fullmatch(r"([A-Za-z][A-Za-z0-9_]*)\s*(->|→)\s*(.+?)\s*(\+|-)?", text)
    if m and m.group(3) not in ("", "+", "-"):
        raw, direction = m.group(3).strip(), m.group(4) or "+-"
        if raw.endswith(("+", "-")) and m.group(4) is None:
            raw, direction = raw[:-1].strip(), raw[-1]
        value = sp.oo if raw in ("oo", "+oo", "inf") else -sp.oo if raw in ("-oo", "-inf") else parse(raw, "limit")
        return "limit", m.group(1), value, direction
    m = re.fullmatch(r"([A-Za-z][A-Za-z0-9_]*)\s*=\s*(.+)", text)
    if m:
        return "subs", m.group(1), parse(m.group(2), "limit"), ""
    raise click.BadParameter(f"cannot read {step!r}; write a limit such as 'a->0+' or 'mu0->0', or a substitution "
                             "such as 'b=1'.", param_hint="'--limit'")


def _exit_time_sections(proc: Any, spec: str, limits: tuple[str, ...], bounds: Any, state_bound: Any, parse: Any,
                        *, positive: bool) -> list[tuple[str, str, Any]]:
    import sympy as sp

    from gelav.symbolic import Equation

    parts = [p for p in spec.split(",")]
    if len(parts) != 2 or not all(p.strip() for p in parts):
        raise click.BadParameter(f"{spec!r}: give the two end points 'a,b' (symbols or numbers).",
                                 param_hint="'--exit-time'")
    kw = {"assumptions": {"positive": True}} if positive else {}
    a, b = (parse(p, "exit-time", **kw) for p in parts)
    if proc.x in a.free_symbols | b.free_symbols:
        raise click.BadParameter(f"the end points may not contain the state variable {proc.x}.", param_hint="'--exit-time'")
    if a.is_number and b.is_number and not bool(a < b):
        raise click.BadParameter(f"the end points must satisfy a < b, got {a}, {b}.", param_hint="'--exit-time'")
    y = sp.Function("y")(proc.x)
    ode = proc.exit_time_ode(y)
    ode_bc = Equation(ode.lhs, ode.rhs, "exit-time ODE", (Equation(y.subs(proc.x, a), 0), Equation(y.subs(proc.x, b), 0)))
    et = proc.exit_time(a, b, assume=bounds)
    out: list[tuple[str, str, Any]] = [
        ("exit_time_ode", "Expected exit time: ODE and boundary conditions", ode_bc),
        ("exit_time", f"Expected exit time from ({a}, {b}) [{et.method}"
                      f"{'' if et.is_closed_form else ', with integrals evaluated numerically by numeric()'}]",
         _ExitView(et, "")),
    ]
    steps: list[tuple[str, str, Any, str]] = [_parse_step(st, parse) for st in limits]
    if steps:
        cur = et
        for i, (kind, name, value, direction) in enumerate(steps):
            syms = {sym.name: sym for sym in sp.sympify(cur.expression).free_symbols}
            if name not in syms:
                raise click.BadParameter(f"{limits[i]!r}: {name} is not a symbol of the exit time (its symbols are "
                                         f"{', '.join(sorted(syms))}).", param_hint="'--limit'")
            sym = syms[name]
            cur = cur.subs(sym, value) if kind == "subs" else cur.limit(sym, value, direction)
            label = f"{name} = {value}" if kind == "subs" else f"{name} → {value}{'' if direction == '+-' else '⁺' if direction == '+' else '⁻'}"
            out.append((f"exit_time_step_{i + 1}", f"  then {label}", _ExitView(cur, label)))
    elif et.is_closed_form:
        lo = state_bound.lo if state_bound is not None else proc.domain[0]
        hi = state_bound.hi if state_bound is not None else proc.domain[1]
        from gelav.symbolic._assume import Bound

        for end, target, direction, sup in ((a, lo, "+", "⁺"), (b, hi, "-", "⁻")):
            if isinstance(end, sp.Symbol):
                # the start lies inside the interval: a < x < b, with the other end kept
                inside = Bound(proc.x.name, lo, b) if end is a else Bound(proc.x.name, a, hi)
                try:
                    lim = et.limit(end, target, direction, assume=(inside,))
                except (NotImplementedError, ValueError) as exc:  # pragma: no cover - SymPy gives up
                    click.echo(f"note: the limit {end} → {target} was not found ({exc})", err=True)
                    continue
                label = f"{end} → {target}{sup}"
                out.append((f"exit_time_limit_{end}", f"  limit {label}", _ExitView(lim, label)))
    return out


class _ExitView:
    """Printable exit-time expression (after a limit or substitution step)."""

    def __init__(self, et: Any, step: str) -> None:
        self.et, self.step = et, step

    def latex(self) -> str:
        return str(self.et.latex())

    def pretty(self) -> str:
        return str(self.et.pretty())

    def __str__(self) -> str:
        return str(self.et)

    def to_dict(self) -> dict[str, Any]:
        import sympy as sp

        return {"step": self.step, "expression": sp.sstr(self.et.expression), "latex": self.latex(),
                "method": self.et.method, "closed_form": self.et.is_closed_form}


class _PdepeView:
    """Printable pdepe (c, f, s)."""

    def __init__(self, form: Any) -> None:
        self.form = form

    def latex(self) -> str:
        return str(self.form.latex())

    def pretty(self) -> str:
        return str(self.form.pretty())

    def __str__(self) -> str:
        return str(self.form)

    def to_dict(self) -> dict[str, Any]:
        import sympy as sp

        return {"c": sp.sstr(self.form.c), "f": sp.sstr(self.form.f), "s": sp.sstr(self.form.s), "m": self.form.m,
                "V": "V", "dvdx": "dvdx", "latex": self.latex()}


def _mathtext(tex: str) -> str:
    """Adapt SymPy LaTeX to Matplotlib's mathtext subset."""
    import re

    tex = tex.replace(r"\displaystyle", "").replace(r"\left", "").replace(r"\right", "")
    tex = re.sub(r"\\text\{([^}]*)\}", r"\\mathrm{\1}", tex)
    return tex.replace(r"\quad", r"\ \ ")


def _render(path: str, items: list[tuple[str, str]]) -> None:
    """Write the equations as a figure (plain text for any line mathtext cannot typeset)."""
    from pathlib import Path

    import matplotlib.pyplot as plt

    from gelav.cli._common import save_figure

    p = Path(path)
    if p.suffix == "":
        p = p / "ito_equations.png"
    fig = plt.figure(figsize=(12, 0.9 * len(items) + 0.6))
    n = len(items)
    for i, (title, tex) in enumerate(items):
        y = 1 - (i + 0.5) / n
        fig.text(0.01, y + 0.25 / n, title, fontsize=10, weight="bold", va="bottom")
        txt = fig.text(0.03, y - 0.05 / n, f"${_mathtext(tex)}$", fontsize=12, va="top")
        try:
            txt._get_layout(fig.canvas.get_renderer())  # type: ignore[attr-defined]
        except Exception:  # mathtext cannot typeset it: show the LaTeX source instead
            txt.set_text(tex)
            txt.set_fontsize(8)
    fig.suptitle("gelav ito", fontsize=11, x=0.99, ha="right")
    save_figure(fig, str(p))
    click.echo(f"Wrote {p}", err=True)


def _plain(obj: Any) -> str:
    text = str(obj)
    return text.split(": ", 1)[1] if ": " in text and not text.startswith("d") else text


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

        return str(sp.pretty(sp.Eq(sp.Symbol("L") * self.u, self.expr, evaluate=False), use_unicode=True))

    def to_dict(self) -> dict[str, str]:
        import sympy as sp

        return {"text": f"L u = {sp.sstr(self.expr)}", "expression": sp.sstr(self.expr), "latex": self.latex()}
