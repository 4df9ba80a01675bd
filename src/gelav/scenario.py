"""Scenario files: one TOML format for a model and the runs asked of it.

A scenario file has a ``[process]`` table and one table per kind of run; every
``gelav`` command reads its own table with ``--config FILE`` and command-line
options override the file. Example::

    title = "Seed 000 stress test"

    [process]
    kind = "ornstein-uhlenbeck"   # brownian | ornstein-uhlenbeck | gbm | cir
    kappa = 0.45
    mean = 1.0
    sigma = 0.32

    [stress]
    x0 = -0.5
    horizon = 2.0
    threshold = -0.5
    direction = "below"
    methods = ["analytic", "pde", "mc"]

Errors name the file, the table, the field, the value given and what is
expected.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gelav.processes.protocol import ProcessLike

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

__all__ = [
    "PROCESS_KINDS",
    "ScenarioError",
    "Section",
    "dump_toml",
    "load",
    "process_from_config",
    "process_to_config",
]


class ScenarioError(ValueError):
    """A scenario file is unreadable or a field is invalid."""


#: Largest scenario file read (bytes) and deepest nesting of arrays/inline tables accepted.
MAX_BYTES = 1_000_000
MAX_DEPTH = 32


def _nesting_depth(text: str) -> int:
    """Deepest nesting of ``[``/``{`` outside strings and comments (a cheap over-estimate for tables)."""
    depth = deepest = 0
    quote: str | None = None
    escape = comment = False
    for ch in text:
        if comment:
            comment = ch != "\n"
        elif quote is not None:
            if escape:
                escape = False
            elif ch == "\\" and quote == '"':
                escape = True
            elif ch == quote:
                quote = None
        elif ch in "\"'":
            quote = ch
        elif ch == "#":
            comment = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth = max(depth - 1, 0)
    return deepest


def load(path: str | Path) -> dict[str, Any]:
    """Read a scenario TOML file into a dict (with the path recorded under ``"_path"``)."""
    p = Path(path)
    if not p.exists():
        raise ScenarioError(f"Scenario file {str(p)!r} does not exist.")
    try:
        if p.stat().st_size > MAX_BYTES:
            raise ScenarioError(f"{p}: {p.stat().st_size} bytes is too large for a scenario file "
                                f"(at most {MAX_BYTES}).")
        raw = p.read_bytes()
        # Checked before parsing: tomllib recurses once per level (RecursionError otherwise).
        depth = _nesting_depth(raw.decode("utf-8", errors="replace"))
        if depth > MAX_DEPTH:
            raise ScenarioError(f"{p}: arrays/inline tables nested {depth} deep; at most {MAX_DEPTH} levels are "
                                "accepted.")
        data = tomllib.loads(raw.decode("utf-8"))
    except RecursionError:
        raise ScenarioError(f"{p}: nested too deeply to parse (at most {MAX_DEPTH} levels).") from None
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{p}: not valid TOML: {exc}") from None
    except UnicodeDecodeError as exc:  # TOML must be UTF-8
        raise ScenarioError(f"{p}: not valid TOML: not UTF-8 text ({exc.reason} at byte {exc.start}).") from None
    except OSError as exc:
        raise ScenarioError(f"{p}: cannot be read: {exc}") from None
    data["_path"] = str(p)
    return data


class Section:
    """Typed, validated access to one table of a scenario.

    Examples
    --------
    >>> s = Section({"horizon": 2.0}, "stress")
    >>> s.positive("horizon")
    2.0
    >>> s.number("x0", default=-0.5)
    -0.5
    """

    def __init__(self, table: Mapping[str, Any] | None, name: str, *, source: str = "scenario") -> None:
        if table is not None and not isinstance(table, Mapping):
            raise ScenarioError(f"{source}: [{name}] must be a table, got {type(table).__name__}.")
        self.table = dict(table or {})
        self.name = name
        self.source = source
        self._used: set[str] = set()

    def error(self, key: str, value: Any, expected: str) -> ScenarioError:
        """The error for field ``key`` holding ``value`` where ``expected`` was wanted (names file, table, field)."""
        where = f"[{self.name}] field" if self.name else "top-level field"  # name "": the file's top level
        return ScenarioError(f"{self.source}: {where} `{key}` = {value!r}: expected {expected}.")

    def has(self, key: str) -> bool:
        return key in self.table

    def _take(self, key: str, required: bool = False, expected: str = "") -> bool:
        """Mark ``key`` as read; True when the table has it (a missing ``required`` field is an error
        naming what was ``expected``)."""
        self._used.add(key)
        if key in self.table:
            return True
        if required:
            raise ScenarioError(f"{self.source}: [{self.name}] is missing the field `{key}` ({expected}).")
        return False

    def get(self, key: str, default: Any = None) -> Any:
        self._used.add(key)
        return self.table.get(key, default)

    def string(self, key: str, *, default: str | None = None) -> str | None:
        """The text field ``key`` (a TOML string; a number or a table there is an error naming the field)."""
        if not self._take(key):
            return default
        value = self.table[key]
        if not isinstance(value, str):
            raise self.error(key, value, "a string")
        return value

    def number(self, key: str, *, default: float | None = None, required: bool = False,
               check: Callable[[float], bool] | None = None, expected: str = "a finite number") -> float | None:
        if not self._take(key, required, expected):
            return default
        v = self.table[key]
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(float(v)):
            raise self.error(key, v, expected)
        if check is not None and not check(float(v)):
            raise self.error(key, v, expected)
        return float(v)

    def positive(self, key: str, *, default: float | None = None, required: bool = False) -> float | None:
        return self.number(key, default=default, required=required, check=lambda x: x > 0, expected="a number > 0")

    def integer(self, key: str, *, default: int | None = None, minimum: int = 1, required: bool = False) -> int | None:
        if not self._take(key, required, f"an integer >= {minimum}"):
            return default
        v = self.table[key]
        if isinstance(v, bool) or not isinstance(v, int) or v < minimum:
            raise self.error(key, v, f"an integer >= {minimum}")
        return int(v)

    def choice(self, key: str, options: tuple[str, ...] | list[str], *, default: str | None = None) -> str | None:
        if not self._take(key):
            return default
        v = self.table[key]
        if v not in options:
            raise self.error(key, v, "one of " + ", ".join(repr(o) for o in options))
        return str(v)

    def string_list(self, key: str, *, default: list[str] | None = None, options: tuple[str, ...] | None = None) -> list[str] | None:
        if not self._take(key):
            return default
        v = self.table[key]
        if isinstance(v, str):
            v = [s.strip() for s in v.split(",") if s.strip()]
        if not isinstance(v, list) or not all(isinstance(s, str) for s in v):
            raise self.error(key, v, "a list of strings")
        if options is not None:
            bad = [s for s in v if s not in options]
            if bad:
                raise self.error(key, v, "items among " + ", ".join(repr(o) for o in options))
        return list(v)

    def check_unknown(self, allowed: tuple[str, ...] | None = None) -> None:
        """Raise on fields this section does not know (typos should not pass silently)."""
        known = set(allowed) if allowed is not None else self._used
        unknown = sorted(set(self.table) - known)
        if unknown:
            raise ScenarioError(
                f"{self.source}: [{self.name}] has unknown field(s) {', '.join(unknown)}; "
                f"known fields are {', '.join(sorted(known))}."
            )


#: kind -> (constructor path, parameter names)
PROCESS_KINDS: dict[str, tuple[str, tuple[str, ...]]] = {
    "brownian": ("BrownianMotion", ("mu", "sigma")),
    "ornstein-uhlenbeck": ("OrnsteinUhlenbeck", ("kappa", "mean", "sigma")),
    "gbm": ("GeometricBrownianMotion", ("mu", "sigma")),
    "cir": ("CIR", ("kappa", "mean", "sigma")),
}
_ALIASES = {"ou": "ornstein-uhlenbeck", "bm": "brownian", "brownian-motion": "brownian",
            "geometric-brownian-motion": "gbm", "cox-ingersoll-ross": "cir"}


def process_from_config(table: Mapping[str, Any] | None, *, source: str = "scenario") -> Any:
    """Build a built-in process from a ``[process]`` table.

    Raises
    ------
    ScenarioError
        Unknown ``kind``, a missing or invalid parameter, or an unknown field.
    """
    import gelav.processes as procs

    sec = Section(table, "process", source=source)
    kind = sec.get("kind", "ornstein-uhlenbeck")
    kind = _ALIASES.get(str(kind).lower(), str(kind).lower())
    if kind not in PROCESS_KINDS:
        raise ScenarioError(
            f"{source}: [process] field `kind` = {sec.get('kind')!r}: expected one of "
            + ", ".join(repr(k) for k in PROCESS_KINDS) + "."
        )
    cls_name, names = PROCESS_KINDS[kind]
    kwargs = {}
    for n in names:
        v = sec.number(n)
        if v is not None:
            kwargs[n] = v
    sec.check_unknown(("kind", *names))
    import inspect

    cls = getattr(procs, cls_name)
    missing = [n for n, p in inspect.signature(cls).parameters.items()
               if p.default is inspect.Parameter.empty and p.kind is not p.VAR_KEYWORD
               and p.kind is not p.VAR_POSITIONAL and n not in kwargs]
    if missing:
        raise ScenarioError(f"{source}: [process] kind {kind!r} needs "
                            + ", ".join(f"`{n}`" for n in missing) + " (missing).")
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:
        raise ScenarioError(f"{source}: [process]: {exc}") from None


def process_to_config(process: ProcessLike) -> dict[str, Any]:
    """The ``[process]`` table of a built-in process (inverse of :func:`process_from_config`)."""
    for kind, (cls_name, names) in PROCESS_KINDS.items():
        if type(process).__name__ == cls_name:
            from gelav.processes.protocol import params_of

            return {"kind": kind, **{n: float(params_of(process)[n]) for n in names}}
    raise ScenarioError(f"Only built-in processes can be written to a scenario file, got {type(process).__name__}.")


def _toml_key(k: str) -> str:
    import re

    return k if re.fullmatch(r"[A-Za-z0-9_-]+", k) else _toml_value(k)


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        f = float(v)
        if isinstance(v, int):
            return str(v)
        return "inf" if f == math.inf else "-inf" if f == -math.inf else "nan" if f != f else repr(f)
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, Mapping):
        return "{ " + ", ".join(f"{_toml_key(k)} = {_toml_value(x)}" for k, x in v.items()) + " }"
    raise ScenarioError(f"Cannot write {type(v).__name__} to TOML.")


def dump_toml(data: Mapping[str, Any]) -> str:
    """Serialise a scenario dict: scalars first, then tables (nested tables dotted, lists of tables inline)."""
    lines: list[str] = []
    tables: list[tuple[str, Mapping[str, Any]]] = []
    for k, v in data.items():
        if k.startswith("_"):
            continue
        if isinstance(v, Mapping):
            tables.append((k, v))
        else:
            lines.append(f"{_toml_key(k)} = {_toml_value(v)}")

    def emit(name: str, table: Mapping[str, Any]) -> None:
        lines.append("")
        lines.append(f"[{name}]")
        sub = []
        for k, v in table.items():
            if isinstance(v, Mapping):
                sub.append((f"{name}.{k}", v))
            else:
                lines.append(f"{_toml_key(k)} = {_toml_value(v)}")
        for n, t in sub:
            emit(n, t)

    for name, table in tables:
        emit(name, table)
    return "\n".join(lines).lstrip("\n") + "\n"
