"""Mean-field-game scenarios from TOML files.

A file holds an ``[mfg]`` table (optionally starting from a preset), a
``[mfg.market]`` table, one ``[[mfg.types]]`` table per LP type, and
``[mfg.numerics]`` / ``[mfg.solver]`` tables::

    title = "Pension funds under stress"

    [mfg]
    preset = "stress"            # optional: start from a preset, then override

    [mfg.market]
    horizon = 5.0
    distress_impact = 0.15
    flow_impact = 0.05

    [[mfg.types]]
    name = "pension"
    weight = 0.6
    liquidity_cost = 0.18
    initial = { normal = [-1.0, 0.3] }   # or "stationary", or a number

    [[mfg.types]]
    name = "endowment"
    weight = 0.4
    initial = -0.5
    # optional: own liquidity dynamics typed in (replaces kappa, mean-reversion and sigma)
    # dynamics = { kind = "custom", drift = "a - x^3", diffusion = "s", parameters = { a = 1.0, s = 0.3 } }

    [mfg.numerics]
    n_cells = 200
    n_steps = 200
    epsilon = 1e-3

    [mfg.solver]
    method = "auto"
    tol = 1e-8

Every field is checked; errors name the file, the table and the field.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from gelav.mfg.fixed_point import FIXED_POINT_REGISTRY
from gelav.mfg.model import LPType, MFGModel
from gelav.mfg.scenarios import SCENARIOS, Scenario
from gelav.scenario import ScenarioError, Section, load

__all__ = ["TYPE_FIELDS", "load_scenario", "scenario_from_dict", "scenario_to_dict"]

TYPE_FIELDS = ("name", "weight", "kappa", "mean", "sigma", "herding", "feedback", "fund_end", "yield_rate",
               "discount_rate", "liquidity_cost", "distress_level", "q4_drain", "q4_cost", "initial", "dynamics")
MARKET_FIELDS = ("horizon", "nav", "base_discount", "discount_per_year", "distress_impact", "flow_impact",
                 "own_distress", "distress_level", "absorption_time")
NUMERICS_FIELDS = ("n_cells", "n_steps", "domain", "scheme", "epsilon", "temperature", "continuation", "control",
                   "engine")
SOLVER_FIELDS = ("method", "tol", "max_iter", "damping", "memory", "stage_tol", "exploitability", "continuation",
                 "max_seconds")
NONNEG = {"kappa", "herding", "feedback", "discount_rate", "liquidity_cost", "q4_drain", "q4_cost", "distress_impact",
          "flow_impact", "own_distress", "absorption_time"}
POSITIVE = {"weight", "sigma", "fund_end", "horizon", "nav", "epsilon", "temperature", "tol", "stage_tol",
            "max_seconds"}


def _initial(sec: Section, value: Any) -> Any:
    if isinstance(value, str):
        if value != "stationary":
            raise ScenarioError(f"{sec.source}: [{sec.name}] field `initial` = {value!r}: expected \"stationary\", "
                                "a number or { normal = [mean, sd] }.")
        return value
    if isinstance(value, bool):
        raise sec.error("initial", value, "\"stationary\", a number or { normal = [mean, sd] }")
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, Mapping) and set(value) == {"normal"}:
        v = value["normal"]
        if (isinstance(v, list) and len(v) == 2 and all(isinstance(a, (int, float)) and not isinstance(a, bool) for a in v)
                and v[1] > 0):
            return ("normal", float(v[0]), float(v[1]))
    raise sec.error("initial", value, "\"stationary\", a number or { normal = [mean, sd > 0] }")


def _numbers(sec: Section, fields: tuple[str, ...], ints: tuple[str, ...] = ()) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in fields:
        if not sec.has(f):
            continue
        if f in ints:
            out[f] = sec.integer(f, minimum=2 if f in ("n_steps",) else 1)
        elif f in POSITIVE:
            out[f] = sec.positive(f)
        elif f in NONNEG:
            out[f] = sec.number(f, check=lambda x: x >= 0, expected="a number >= 0")
        else:
            out[f] = sec.number(f)
    return out


def _type(table: Any, i: int, source: str, base: LPType | None) -> LPType:
    sec = Section(table, f"mfg.types[{i}]", source=source)
    kw = _numbers(sec, tuple(f for f in TYPE_FIELDS if f not in ("name", "initial", "dynamics")))
    if sec.has("dynamics"):  # own dynamics typed in: dynamics = {kind = "custom", drift = "...", diffusion = "..."}
        from gelav.tasks._models import build_process, is_custom

        dyn = sec.get("dynamics")
        if not is_custom(dyn):
            raise sec.error("dynamics", dyn, 'a table with kind = "custom", drift and diffusion')
        kw["dynamics"] = build_process(dyn, source=f"{source}: [mfg.types[{i}]] field `dynamics`")
    if sec.has("name"):
        name = sec.get("name")
        if not isinstance(name, str) or not name:
            raise sec.error("name", name, "a non-empty string")
        kw["name"] = name
    elif base is None:
        kw["name"] = f"type-{i + 1}"
    if sec.has("initial"):
        kw["initial"] = _initial(sec, sec.get("initial"))
    sec.check_unknown(TYPE_FIELDS)
    try:
        return dataclasses.replace(base, **kw) if base is not None else LPType(**kw)
    except (TypeError, ValueError) as exc:
        raise ScenarioError(f"{source}: [mfg.types[{i}]]: {exc}") from None


def scenario_from_dict(data: Mapping[str, Any], *, source: str = "scenario") -> Scenario:
    """Build a :class:`~gelav.mfg.scenarios.Scenario` from a parsed TOML dict (see the module docstring)."""
    root = Section(data.get("mfg"), "mfg", source=source)
    preset = root.get("preset")
    if preset is not None:
        if preset not in SCENARIOS:
            raise ScenarioError(f"{source}: [mfg] field `preset` = {preset!r}: expected one of "
                                + ", ".join(repr(p) for p in SCENARIOS) + ".")
        base = SCENARIOS[preset]
    else:
        base = Scenario("custom", "", MFGModel())
    name = root.get("name", data.get("title", base.name))
    if not isinstance(name, str):
        raise root.error("name", name, "a string")
    # market
    msec = Section(root.get("market"), "mfg.market", source=source)
    mkw = _numbers(msec, MARKET_FIELDS)
    msec.check_unknown(MARKET_FIELDS)
    try:
        market = dataclasses.replace(base.model.market, **mkw)
    except (TypeError, ValueError) as exc:
        raise ScenarioError(f"{source}: [mfg.market]: {exc}") from None
    # types
    types_tbl = root.get("types")
    if types_tbl is None:
        types = base.model.types
    else:
        if not isinstance(types_tbl, list) or not types_tbl:
            raise ScenarioError(f"{source}: [mfg] field `types` must be a non-empty array of tables ([[mfg.types]]).")
        types = tuple(_type(t, i, source, base.model.types[i] if (preset and i < len(base.model.types)) else None)
                      for i, t in enumerate(types_tbl))
    # numerics
    nsec = Section(root.get("numerics"), "mfg.numerics", source=source)
    nkw = _numbers(nsec, ("n_cells", "n_steps", "epsilon", "temperature"), ints=("n_cells", "n_steps"))
    if nsec.has("scheme"):
        nkw["scheme"] = nsec.choice("scheme", ("cn", "euler"))
    if nsec.has("control"):
        nkw["control"] = nsec.choice("control", ("newton", "lagged"))
    if nsec.has("engine"):
        nkw["engine"] = nsec.choice("engine", ("auto", "numpy", "numba"))
    if nsec.has("domain"):
        d = nsec.get("domain")
        if not (isinstance(d, list) and len(d) == 2 and all(isinstance(a, (int, float)) and not isinstance(a, bool) for a in d)
                and d[0] < d[1]):
            raise nsec.error("domain", d, "[lo, hi] with lo < hi")
        nkw["domain"] = (float(d[0]), float(d[1]))
    if nsec.has("continuation"):
        c = nsec.get("continuation")
        if not (isinstance(c, list) and all(isinstance(a, (int, float)) and not isinstance(a, bool) and a > 0 for a in c)):
            raise nsec.error("continuation", c, "a list of numbers > 0")
        nkw["continuation"] = tuple(float(a) for a in c)
    nsec.check_unknown(NUMERICS_FIELDS)
    # solver
    ssec = Section(root.get("solver"), "mfg.solver", source=source)
    skw = _numbers(ssec, ("tol", "max_iter", "damping", "memory", "stage_tol", "max_seconds"),
                   ints=("max_iter", "memory"))
    if "damping" in skw and not 0 < skw["damping"] <= 1:
        raise ssec.error("damping", skw["damping"], "a number in (0, 1]")
    if ssec.has("method"):
        skw["method"] = ssec.choice("method", tuple(FIXED_POINT_REGISTRY))
    for flag in ("exploitability", "continuation"):
        if ssec.has(flag):
            v = ssec.get(flag)
            if not isinstance(v, bool):
                raise ssec.error(flag, v, "true or false")
            skw[flag] = v
    ssec.check_unknown(SOLVER_FIELDS)
    root.check_unknown(("preset", "name", "description", "market", "types", "numerics", "solver"))
    try:
        model = MFGModel(types, market, name=name)
        numerics = dataclasses.replace(base.numerics, **nkw)
        options = dataclasses.replace(base.options, **skw)
    except (TypeError, ValueError) as exc:
        raise ScenarioError(f"{source}: {exc}") from None
    desc = root.get("description", base.description)
    return Scenario(name, str(desc), model, numerics, options)


def load_scenario(path_or_name: str | Path) -> Scenario:
    """A preset by name, or a scenario from a TOML file.

    Raises
    ------
    ScenarioError (a ValueError)
        Missing file, invalid TOML, unknown preset, or an invalid field (the
        message names the file, table and field).
    """
    s = str(path_or_name)
    if s in SCENARIOS:
        return SCENARIOS[s]
    if not Path(s).exists() and not s.endswith(".toml"):
        raise ScenarioError(f"Unknown scenario {s!r}: not a preset ({', '.join(SCENARIOS)}) nor an existing file.")
    data = load(s)
    return scenario_from_dict(data, source=s)


def scenario_to_dict(sc: Scenario) -> dict[str, Any]:
    """The TOML-ready dict of a scenario with built-in couplings (inverse of :func:`scenario_from_dict`)."""
    if sc.model.market.coupling is not None:
        raise ScenarioError("A user coupling function cannot be written to a scenario file.")

    def ini(v: Any) -> Any:
        if isinstance(v, tuple):
            return {"normal": [v[1], v[2]]}
        if isinstance(v, (str, float, int)):
            return v
        raise ScenarioError(f"Initial law {type(v).__name__} cannot be written to a scenario file.")

    types = []
    for t in sc.model.types:
        if t.dynamics is not None:
            raise ScenarioError(f"Type {t.name!r}: own `dynamics` (a process) cannot be written to a scenario file.")
        d = {f: getattr(t, f) for f in TYPE_FIELDS if getattr(t, f) is not None}
        d["initial"] = ini(t.initial)
        types.append(d)
    num = {f: getattr(sc.numerics, f) for f in NUMERICS_FIELDS if getattr(sc.numerics, f) is not None}
    if "domain" in num:
        num["domain"] = list(num["domain"])
    if "continuation" in num:
        num["continuation"] = list(num["continuation"])
    return {"title": sc.name, "mfg": {
        "name": sc.name, "description": sc.description,
        "market": {f: getattr(sc.model.market, f) for f in MARKET_FIELDS},
        "types": types, "numerics": num,
        "solver": {f: getattr(sc.options, f) for f in SOLVER_FIELDS},
    }}
