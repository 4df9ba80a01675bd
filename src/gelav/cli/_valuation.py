"""Helpers shared by the valuation commands (premium, exit-boundary, jensen): config sections, option names."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["load_section", "renamed_errors"]


def load_section(config: str | None, name: str, fields: Mapping[str, str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Read the ``[name]`` table of a scenario file: ``fields`` maps key -> kind (number, positive, integer, bool,
    string). Returns ``(values, whole file)``; unknown fields raise :class:`~gelav.scenario.ScenarioError`."""
    if config is None:
        return {}, {}
    from gelav.scenario import load
    from gelav.tasks._base import read_table

    data = load(config)
    return read_table(data, name, fields), data


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
