"""Helpers shared by the valuation commands (premium, exit-boundary, jensen): config sections, option names."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

import click

__all__ = ["load_section", "premium_options", "renamed_errors", "resolve_premium"]


def load_section(config: str | None, name: str, fields: Mapping[str, str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Read the ``[name]`` table of a scenario file: ``fields`` maps key -> kind (number, positive, integer, bool,
    string). Returns ``(values, whole file)``; unknown fields raise :class:`~gelav.scenario.ScenarioError`."""
    if config is None:
        return {}, {}
    from gelav.scenario import load
    from gelav.tasks._base import read_table

    data = load(config)
    return read_table(data, name, fields), data


def premium_options(func: Any) -> Any:
    """The ``--alpha/--beta/--gamma/--scaling`` options of π(L, T) = (α + βL + γL²) f(T)."""
    for opt in reversed((
        click.option("--alpha", type=float, default=None, help="Premium α [default 0.045]."),
        click.option("--beta", type=float, default=None, help="Premium β [default -0.025]."),
        click.option("--gamma", type=float, default=None, help="Premium γ [default 0.021]."),
        click.option("--scaling", type=click.Choice(["sqrt", "linear", "none"]), default=None,
                     help="Term scaling f(T) [default sqrt]."),
    )):
        func = opt(func)
    return func


def resolve_premium(data: dict[str, Any] | None, alpha: float | None, beta: float | None, gamma: float | None,
                    scaling: str | None) -> Any:
    """An IlliquidityPremium from the options, over a ``[premium]`` TOML table, over the defaults
    (:func:`gelav.tasks.premium.premium_model`)."""
    from gelav.tasks.premium import premium_model

    return premium_model(data, alpha=alpha, beta=beta, gamma=gamma, scaling=scaling)


def renamed_errors(func: Callable[[], Any], names: Mapping[str, str]) -> Any:
    """Call ``func``; a ValueError/TypeError naming an argument `x` is re-raised naming the option ``names[x]``."""
    try:
        return func()
    except (ValueError, TypeError) as exc:
        msg = str(exc)
        new = re.sub(r"`([A-Za-z_][A-Za-z_0-9]*)`", lambda m: f"`{names.get(m.group(1), m.group(1))}`", msg)
        if new == msg:
            raise
        raise type(exc)(new) from None
