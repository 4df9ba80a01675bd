r"""The one builder of typed-in models: :math:`dX = b(t, X)\,dt + \sigma(t, X)\,dW` from text.

Used by every task that takes a process (``stress``, ``exit-time``, ...): on the command line
``--drift "..." --diffusion "..." [--var x] [--param name=value] [--domain a,b]``, in TOML a
``[process]`` table with ``kind = "custom"``, ``drift``, ``diffusion``, optional ``var``,
``domain = [a, b]`` and ``parameters = {name = value}``. The expressions go through the safe
parser :func:`gelav.symbolic.parse_expression` (no user code is run) and are lambdified by
:meth:`gelav.symbolic.ItoProcess.to_process`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

__all__ = ["CUSTOM_FIELDS", "build_process", "custom_process", "custom_table", "is_custom", "parse_params"]

#: the fields of a ``[process]`` table with ``kind = "custom"``
CUSTOM_FIELDS = ("kind", "drift", "diffusion", "var", "domain", "parameters")


def is_custom(table: Mapping[str, Any] | None) -> bool:
    """Whether a ``[process]`` table describes a typed-in model (``kind = "custom"``)."""
    return bool(table) and str(table.get("kind", "")).lower() == "custom"  # type: ignore[union-attr]


def parse_params(items: Sequence[str], *, name: str = "param") -> dict[str, float]:
    """``["a=1", "sigma=0.5"]`` -> ``{"a": 1.0, "sigma": 0.5}`` (``ValueError`` naming ``name``)."""
    out: dict[str, float] = {}
    for item in items:
        key, sep, val = str(item).partition("=")
        key = key.strip()
        if not sep or not key.isidentifier():
            raise ValueError(f"`{name}` must be NAME=VALUE, got {item!r}.")
        try:
            v = float(val)
        except ValueError:
            raise ValueError(f"`{name}` {key}: the value must be a number, got {val.strip()!r}.") from None
        if not math.isfinite(v):
            raise ValueError(f"`{name}` {key}: the value must be finite, got {val.strip()!r}.")
        out[key] = v
    return out


def _domain(domain: Any, name: str) -> tuple[float, float] | None:
    if domain is None:
        return None
    if isinstance(domain, str):
        parts = [p.strip() for p in domain.split(",")]
    else:
        parts = list(domain)
    if len(parts) != 2:
        raise ValueError(f"`{name}` must be two numbers a,b, got {domain!r}.")
    try:
        lo, hi = (float(p) for p in parts)
    except (TypeError, ValueError):
        raise ValueError(f"`{name}` must be two numbers a,b (inf allowed), got {domain!r}.") from None
    if any(isinstance(p, bool) for p in parts) or math.isnan(lo) or math.isnan(hi) or not lo < hi:
        raise ValueError(f"`{name}` must be a,b with a < b, got {domain!r}.")
    return lo, hi


def custom_process(drift: str, diffusion: str, *, var: str = "x", parameters: Mapping[str, float] | None = None,
                   domain: Any = None) -> Any:
    r"""A :class:`gelav.processes.Process` for :math:`dX = b\,dt + \sigma\,dW` typed as text.

    Parameters
    ----------
    drift, diffusion : str
        :math:`b(t, x)` and :math:`\sigma(t, x)` (the volatility), in ``t`` and the state ``var``.
    var : str
        The state variable's name (default ``x``).
    parameters : mapping, optional
        Values of the other symbols (e.g. ``{"kappa": 0.45}``); every symbol must get one.
    domain : (a, b) or "a,b", optional
        The state space (default the real line).

    Raises
    ------
    ValueError
        An expression the safe parser refuses (naming ``drift``/``diffusion``), a free
        parameter without a value, a bad domain, or coefficients that are not finite.
    """
    import sympy as sp

    from gelav.symbolic import ItoProcess, parse_expression

    for key, text in (("drift", drift), ("diffusion", diffusion), ("var", var)):
        if not isinstance(text, str) or not text.strip():
            raise ValueError(f"`{key}` must be a non-empty string, got {text!r}.")
    if not var.isidentifier() or var == "t":
        raise ValueError(f"`var` must be a variable name other than t, got {var!r}.")
    x, t = sp.Symbol(var, real=True), sp.Symbol("t", real=True)
    variables = {var: x, "t": t}
    b = parse_expression(drift, name="drift", variables=variables)
    s = parse_expression(diffusion, name="diffusion", variables=variables)
    params = dict(parameters or {})
    for k, v in params.items():
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise ValueError(f"`parameters` {k} must be a finite number, got {v!r}.")
    known = {sym.name for sym in (b.free_symbols | s.free_symbols)} - {var, "t"}
    unknown = sorted(set(params) - known)
    if unknown:
        raise ValueError(f"`parameters` {', '.join(unknown)} appear in neither `drift` nor `diffusion`.")
    missing = sorted(known - set(params))
    if missing:
        raise ValueError(f"`drift`/`diffusion` use {', '.join(missing)} without a value: give "
                         + ", ".join(f"--param {m}=..." for m in missing) + " (TOML: parameters = {...}).")
    dom = _domain(domain, "domain")
    proc = ItoProcess(b, s, t, x) if dom is None else ItoProcess(b, s, t, x, domain=dom)
    process = proc.to_process(params or None, domain=dom)
    for key, coef in (("drift", process.drift), ("diffusion", process.diffusion)):
        probe = np.asarray(coef(0.0, np.array([_probe(dom)])), dtype=float)
        if not np.all(np.isfinite(probe)):  # e.g. "1/0", "log(-1)": no number would be right
            raise ValueError(f"`{key}` is not finite at {var} = {_probe(dom):g}, t = 0: {probe.tolist()}.")
    return process


def _probe(dom: tuple[float, float] | None) -> float:
    """A point inside the domain at which to check that the coefficients are numbers."""
    lo, hi = dom if dom is not None else (-math.inf, math.inf)
    if math.isfinite(lo) and math.isfinite(hi):
        return 0.5 * (lo + hi)
    if math.isfinite(lo):
        return lo + 1.0
    if math.isfinite(hi):
        return hi - 1.0
    return 0.0


def build_process(table: Mapping[str, Any] | None, *, source: str = "scenario") -> Any:
    """The process of a ``[process]`` table: a typed-in model (``kind = "custom"``) or a built-in one."""
    from gelav.scenario import ScenarioError, process_from_config

    if not is_custom(table):
        return process_from_config(table, source=source)
    assert table is not None
    unknown = sorted(set(table) - set(CUSTOM_FIELDS))
    if unknown:
        raise ScenarioError(f"{source}: [process] kind 'custom': unknown field(s) {', '.join(unknown)}; "
                            f"known fields are {', '.join(CUSTOM_FIELDS)}.")
    for key in ("drift", "diffusion"):
        if key not in table:
            raise ScenarioError(f"{source}: [process] kind 'custom' needs `{key}` (an expression as a string).")
    params = table.get("parameters") or {}
    if not isinstance(params, Mapping):
        raise ScenarioError(f"{source}: [process] field `parameters` must be a table of numbers.")
    try:
        return custom_process(table["drift"], table["diffusion"], var=table.get("var", "x"), parameters=params,
                              domain=table.get("domain"))
    except (TypeError, ValueError) as exc:
        raise ScenarioError(f"{source}: [process]: {exc}") from None


def custom_table(drift: str | None, diffusion: str | None, *, var: str | None = None,
                 params: Sequence[str] = (), domain: str | None = None) -> dict[str, Any] | None:
    """The ``[process]`` table the command-line options ``--drift --diffusion ...`` describe (None: not given)."""
    if drift is None and diffusion is None:
        if params or domain is not None or var is not None:
            raise ValueError("`--param`, `--domain` and `--var` need `--drift` and `--diffusion`.")
        return None
    if drift is None or diffusion is None:
        raise ValueError(f"`--{'drift' if drift is None else 'diffusion'}` is missing: a typed-in model needs "
                         "both --drift and --diffusion.")
    table: dict[str, Any] = {"kind": "custom", "drift": drift, "diffusion": diffusion,
                             "parameters": parse_params(params, name="--param")}
    if var is not None:
        table["var"] = var
    if domain is not None:
        table["domain"] = domain
    return table
