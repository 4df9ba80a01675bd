"""``gelav ito``: Itô's lemma, generator, Fokker–Planck, Feynman–Kac, pdepe and exit-time equations of a typed SDE."""

from __future__ import annotations

from typing import Any

import click

from gelav.cli._common import dump_json, handle_errors

__all__ = ["ito"]


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

    A thin layer over :func:`gelav.tasks.ito` (the report's [ito] section runs the same task).

    Other names (mu, sigma, kappa, ...) become real parameters. Only mathematical
    expressions are accepted: numbers, names, + - * / ** ^ and functions such as
    exp, log, sqrt; anything else (attribute access, strings, lambdas, ...) is an
    error (exit code 2). Examples:

        gelav ito --drift mu0 --diffusion sigma0 --transform "exp(x)"

        gelav ito --var Y --drift "(mu0 + sigma0^2/2)*Y" --diffusion "sigma0*Y" --assume "0<Y<1"
        --exit-time a,b --limit sigma0=1 --limit "mu0->0" --limit b=1 --limit "a->0+"
    """
    if as_latex and as_plain:
        raise click.UsageError("Give at most one of '--latex' and '--plain'.")
    from gelav import tasks
    from gelav.tasks.ito import ItoInputError, plain_text

    try:
        rep = tasks.ito(config, drift=drift, diffusion=diffusion, var=var, transform=transform, rate=rate,
                        source=source, assume=assume, exit_time=exit_time, limit=list(limits) or None, pdepe=pdepe)
    except ItoInputError as exc:
        option = f"--{exc.field.replace('_', '-')}"
        if exc.field in ("drift", "diffusion"):
            raise click.UsageError(f"Missing option '{option}' (give it, or a --config whose [ito] table has it)."
                                   ) from None
        raise click.BadParameter(exc.detail, param_hint=f"'{option}'") from None
    sections = rep.sections
    if plot_path is not None:
        _render(plot_path, [(title, obj.latex()) for _, title, obj in sections])
    if as_json:
        out: dict[str, Any] = rep.to_dict()
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
            body = plain_text(obj)
        else:
            body = obj.pretty()
        click.echo("\n".join("  " + line for line in body.splitlines()))
    if rep.assumptions:
        click.echo("assuming " + ", ".join(rep.assumptions))
    if rep.note:
        click.echo(f"(no transformed process: {rep.note})")


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

