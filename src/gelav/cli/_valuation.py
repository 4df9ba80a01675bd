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
    from gelav.scenario import ScenarioError, Section, load

    data = load(config)
    sec = Section(data.get(name), name, source=data["_path"])
    out: dict[str, Any] = {}
    for key, kind in fields.items():
        if not sec.has(key):
            sec.get(key)
            continue
        if kind == "number":
            out[key] = sec.number(key)
        elif kind == "positive":
            out[key] = sec.positive(key)
        elif kind == "integer":
            out[key] = sec.integer(key, minimum=1)
        elif kind == "bool":
            v = sec.get(key)
            if not isinstance(v, bool):
                raise ScenarioError(f"{data['_path']}: [{name}] field `{key}` = {v!r}: expected true or false.")
            out[key] = v
        else:
            v = sec.get(key)
            if not isinstance(v, str):
                raise ScenarioError(f"{data['_path']}: [{name}] field `{key}` = {v!r}: expected a string.")
            out[key] = v
    sec.check_unknown(tuple(fields))
    return out, data


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
