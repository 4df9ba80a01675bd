"""``gelav ito``: Itô's lemma, generator, Fokker–Planck and Feynman–Kac equations of a typed SDE."""

from __future__ import annotations

from typing import Any

import click

from gelav.cli._common import Output, dump_json, shared_options

__all__ = ["ito"]


@click.command("ito")
@click.option("--drift", default=None, help="Drift b(t, x), e.g. 'kappa*(theta - x)' (required unless in --config).")
@click.option("--diffusion", default=None,
              help="Diffusion (volatility) sigma(t, x), e.g. 'sigma*sqrt(x)' (required unless in --config).")
@click.option("--transform", "transform", default=None, help="G(t, x) for Itô's lemma, e.g. 'exp(x)' or 'log(x)'.")
@click.option("--rate", default=None, help="Discount rate r(t, x) in the Feynman–Kac equation.  [default: r]")
@click.option("--source", default=None, help="Running payoff f(t, x) in the Feynman–Kac equation.  [default: 0]")
@click.option("--latex", "as_latex", is_flag=True, help="Print LaTeX instead of plain expressions.")
@shared_options("ito", export=False, plot_help="Also render the equations (Matplotlib mathtext) to this file or folder.")
def ito(drift: str | None, diffusion: str | None, transform: str | None, rate: str | None, source: str | None,
        as_latex: bool, out: Output) -> None:
    """Itô calculus for dX = drift dt + diffusion dW, typed as strings in t and x.

    Other names (mu, sigma, kappa, ...) become real parameters. Only mathematical
    expressions are accepted: numbers, names, + - * / ** ^ and functions such as
    exp, log, sqrt; anything else (attribute access, strings, lambdas, ...) is an
    error (exit code 2). Example:

        gelav ito --drift mu0 --diffusion sigma0 --transform "exp(x)"
    """
    from gelav.symbolic import ItoProcess, parse_expression
    from gelav.tasks.ito import resolve

    drift, diffusion, transform, rate, source = resolve(out.config, drift=drift, diffusion=diffusion,
                                                        transform=transform, rate=rate, source=source)
    as_json, plot_path = out.as_json, out.plot
    b = parse_expression(drift, name="drift")
    s = parse_expression(diffusion, name="diffusion")
    r = parse_expression(rate, name="rate")
    f = parse_expression(source, name="source")
    proc = ItoProcess(b, s)
    sections: list[tuple[str, Any]] = [("process", proc)]
    inverse_note = None
    if transform is not None:
        G = parse_expression(transform, name="transform")
        lemma = proc.ito_lemma(G)
        sections.append(("ito_lemma", lemma))
        try:
            sections.append(("transformed_process", lemma.in_terms_of()))
        except (ValueError, NotImplementedError) as exc:
            inverse_note = str(exc)
    import sympy as sp

    u = sp.Function("u")(proc.t, proc.x)
    sections.append(("generator", _GeneratorView(proc.generator(u), u)))
    sections.append(("fokker_planck", proc.fokker_planck_equation()))
    sections.append(("backward", proc.backward_equation()))
    sections.append(("feynman_kac", proc.feynman_kac_equation(r, f)))

    titles = {
        "process": "SDE", "ito_lemma": "Itô's lemma", "transformed_process": "Transformed process (in y = G)",
        "generator": "Generator", "fokker_planck": "Fokker–Planck equation", "backward": "Kolmogorov backward equation",
        "feynman_kac": "Feynman–Kac equation",
    }
    if plot_path is not None:
        _render(plot_path, [(titles[k], obj.latex()) for k, obj in sections])
    if as_json:
        data: dict[str, Any] = {}
        for key, obj in sections:
            data[key] = obj.to_dict() if hasattr(obj, "to_dict") else {"text": str(obj), "latex": obj.latex()}
        data["parameters"] = [p.name for p in sorted(
            (b.free_symbols | s.free_symbols | r.free_symbols | f.free_symbols) - {proc.t, proc.x}, key=str)]
        if inverse_note:
            data["transformed_process"] = {"error": inverse_note}
        if plot_path is not None:
            data["plot"] = plot_path
        dump_json(data)
        return
    if out.quiet:
        return
    for key, obj in sections:
        click.echo(f"{titles[key]}:")
        click.echo(f"  {obj.latex() if as_latex else _plain(obj)}")
    if inverse_note:
        click.echo(f"(no transformed process: {inverse_note})")


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

    def to_dict(self) -> dict[str, str]:
        import sympy as sp

        return {"text": f"L u = {sp.sstr(self.expr)}", "expression": sp.sstr(self.expr), "latex": self.latex()}
