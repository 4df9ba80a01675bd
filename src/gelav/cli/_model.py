"""The command-line options of a typed-in model (``--drift --diffusion --var --param --domain``), shared by
every command that takes a process; the model is built by :func:`gelav.tasks._models.build_process`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

__all__ = ["model_options", "typed_process"]


def model_options(func: Callable[..., Any] | None = None, *, var: bool = True) -> Any:
    """Add ``--drift``, ``--diffusion``, ``--var``, ``--param NAME=VALUE`` (repeatable) and ``--domain a,b``.

    ``@model_options(var=False)`` leaves ``--var`` to the command (``gelav stress`` gives it a
    second meaning, the VaR levels); the command then passes the state variable to
    :func:`typed_process` itself.
    """
    if func is None:
        return lambda f: model_options(f, var=var)
    opts = [
        click.option("--drift", default=None, help='Typed-in model: the drift b(t, x), e.g. "a - x^3".'),
        click.option("--diffusion", default=None, help='Typed-in model: the volatility σ(t, x), e.g. "s*sqrt(x)".'),
        click.option("--var", "var", default=None, help="The state variable of --drift/--diffusion [default x]."),
        click.option("--param", "params", multiple=True, help="A parameter of the typed-in model, NAME=VALUE "
                     "(repeatable)."),
        click.option("--domain", default=None, help="State space of the typed-in model, a,b (inf allowed) "
                     "[default the real line]."),
    ]
    if not var:
        del opts[2]
    for o in reversed(opts):
        func = o(func)
    return func


def typed_process(drift: str | None, diffusion: str | None, var: str | None, params: tuple[str, ...],
                  domain: str | None) -> Any:
    """The typed-in process of the options, or None when ``--drift``/``--diffusion`` are not given."""
    from gelav.tasks._models import build_process, custom_table

    table = custom_table(drift, diffusion, var=var, params=params, domain=domain)
    return None if table is None else build_process(table, source="command line")
