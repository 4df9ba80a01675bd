r"""The portfolio-stress task: marks :math:`N(1 - \pi(L_t, T - t))` of the ``[[funds]]`` along a liquidity scenario.

Tables read: ``[[funds]]`` (``name``, ``nav``, ``remaining_life``, ``type``),
``[premium]`` (:func:`gelav.tasks.premium.premium_model`), optional
``[scenarios.NAME]`` (``L = [...]`` monthly levels with optional ``months``, or
``kind = "ou"`` with ``months``, ``seed``, ``L0``, ``process``) and ``[portfolio]``:
``scenario`` (a standard name or a ``[scenarios.NAME]``, default ``"gfc"``),
``L0``, ``exit_level`` (sell below a level) or ``exit_boundary = true`` (sell below the stake's
exit boundary :math:`L^*(T - t)`, solved by :func:`gelav.tasks.exit_boundary.exit_boundary` with the
file's ``[process]``, ``[premium]`` and ``[exit_boundary]`` settings and ``fund_life`` the longest
remaining life), ``seed``, and for the law of the mark at a horizon
(Fokker–Planck, :func:`gelav.portfolio.mark_distribution`) ``horizon``,
``levels``, ``cells``, ``steps`` and ``equilibrium = true`` (price the marks
with the crowding discount of the scenario's ``[mfg]`` equilibrium).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from gelav.tasks._base import ScenarioLike, TaskResult, read_scenario, read_table, source_of

__all__ = ["FIELDS", "PortfolioReport", "portfolio", "read_funds", "read_liquidity_scenario"]

#: the fields of the ``[portfolio]`` table and their kinds (``levels`` is a list of numbers)
FIELDS = {"scenario": "string", "L0": "number", "exit_level": "number", "exit_boundary": "bool", "seed": "natural",
          "horizon": "positive", "cells": "integer", "steps": "integer", "equilibrium": "bool"}

_DEFAULTS = {"scenario": "gfc", "levels": (0.95, 0.99), "cells": 400, "steps": 200}


def read_funds(scenario: Mapping[str, Any]) -> list[Any]:
    """The :class:`~gelav.portfolio.Fund` list of the ``[[funds]]`` tables (errors name the entry and field)."""
    from gelav.portfolio import Fund
    from gelav.scenario import ScenarioError, Section

    src = source_of(scenario)
    rows = scenario.get("funds")
    if not isinstance(rows, list) or not rows:
        raise ScenarioError(f"{src}: needs a [[funds]] list (name, nav, remaining_life, type).")
    out = []
    for i, t in enumerate(rows, start=1):
        sec = Section(t, f"funds #{i}", source=src)
        name = sec.get("name")
        if not isinstance(name, str) or not name:
            raise ScenarioError(f"{src}: [funds #{i}] field `name` = {name!r}: expected a non-empty string.")
        nav = sec.number("nav", required=True, check=lambda v: v >= 0, expected="a number >= 0")
        life = sec.number("remaining_life", required=True, check=lambda v: v >= 0, expected="a number >= 0 (years)")
        kind = sec.get("type", "buyout")
        if not isinstance(kind, str):
            raise ScenarioError(f"{src}: [funds #{i}] field `type` = {kind!r}: expected a string.")
        sec.check_unknown(("name", "nav", "remaining_life", "type"))
        out.append(Fund(name, float(nav or 0.0), float(life or 0.0), type=kind))  # required: never None
    return out


def read_liquidity_scenario(scenario: Mapping[str, Any], name: str, *, L0: float | None = None,
                            seed: int | None = None) -> Any:
    """The :class:`~gelav.portfolio.Scenario` called ``name``: a standard path or a ``[scenarios.NAME]`` table.

    Raises
    ------
    ValueError
        ``name`` is neither (the message lists the choices and names `scenario`).
    """
    from gelav.portfolio import SCENARIOS, Scenario
    from gelav.scenario import ScenarioError, Section, process_from_config

    src = source_of(scenario)
    start = 0.0 if L0 is None else L0
    if name.lower() in SCENARIOS:
        return Scenario.standard(name, start)
    custom = scenario.get("scenarios", {})
    if not isinstance(custom, dict) or name not in custom:
        known = list(SCENARIOS) + (sorted(custom) if isinstance(custom, dict) else [])
        raise ValueError(f"unknown `scenario` {name!r}; choose among {', '.join(known)}.")
    sec = Section(custom[name], f"scenarios.{name}", source=src)
    kind = sec.choice("kind", ("path", "ou"), default="path")
    if kind == "path":
        L = sec.get("L")
        if not isinstance(L, list) or not L or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in L):
            raise ScenarioError(f"{src}: [scenarios.{name}] field `L` must be a non-empty list of numbers.")
        bad = [i for i, v in enumerate(L) if not math.isfinite(v)]
        if bad:
            raise ScenarioError(f"{src}: [scenarios.{name}] field `L` entry {bad[0]} (0-based) is {L[bad[0]]}: "
                                "expected a finite number.")
        months = sec.get("months")
        sec.check_unknown(("kind", "L", "months"))
        return Scenario.custom(L, months=months, name=name)
    months = int(sec.integer("months", default=60) or 60)
    s = sec.integer("seed", minimum=0)
    x0 = float(sec.number("L0", default=start) or 0.0) if L0 is None else L0
    proc = sec.get("process")
    sec.check_unknown(("kind", "months", "seed", "L0", "process"))
    process = process_from_config(proc, source=src) if proc is not None else None
    return Scenario.stochastic(process, months=months, L0=x0, seed=seed if seed is not None else s, name=name)


def _levels(scenario: Mapping[str, Any]) -> tuple[float, ...] | None:
    from gelav.scenario import ScenarioError

    table = scenario.get("portfolio")
    if not isinstance(table, Mapping) or "levels" not in table:
        return None
    v = table["levels"]
    if (not isinstance(v, list) or not v
            or not all(isinstance(q, (int, float)) and not isinstance(q, bool) and 0 < q < 1 for q in v)):
        raise ScenarioError(f"{source_of(scenario)}: [portfolio] field `levels` = {v!r}: expected a list of "
                            "numbers in (0, 1).")
    return tuple(float(q) for q in v)


class PortfolioReport(TaskResult):
    """The stress run (``stress``), the law of the mark at a horizon (``distribution``, or None) and what they used."""

    funds: tuple[Any, ...] = ()
    scenario: Any = None
    premium: Any = None
    stress: Any = None
    distribution: Any = None
    equilibrium: Any = None
    boundary: Any = None

    name = "portfolio"

    def to_dict(self) -> dict[str, Any]:
        out = {"file": self.inputs.get("file"), "premium": self.premium.to_dict(), **self.stress.as_dict()}
        if self.distribution is not None:
            out["distribution"] = self.distribution.as_dict()
        return out

    def key_numbers(self) -> dict[str, Any]:
        r, sc = self.stress, self.scenario
        rec = "not within the path" if r.recovery_month is None else r.recovery_month
        out: dict[str, Any] = {
            "scenario": sc.name, "months": float(sc.months[-1]), "book NAV": r.book_nav,
            "starting mark (t = 0)": float(r.total[0]), "starting discount to book": r.starting_discount,
            "mark at the end": float(r.total[-1]), "max drawdown from the t = 0 mark": r.max_drawdown,
            "trough month": r.trough_month, "recovery month": rec,
            "max drawdown from book NAV (the course's measure)": float(r.drawdown_from_book.min()),
        }
        if self.boundary is not None:
            b = self.boundary.result
            out[f"exit rule: L_t < L*(T − t) of a {b.fund_life:g}-year stake, L*(0)"] = b.boundary(0.0)
            chk = self.boundary.check
            if chk is not None and math.isfinite(chk["indicator"]):
                out["exit boundary grid indicator"] = chk["indicator"]
        elif self.inputs.get("exit_level") is not None:
            out["exit rule: L_t below"] = self.inputs["exit_level"]
        exits = [f"{f.name} (month {r.exit_month[f.name]:g})" for f in self.funds if r.exit_month[f.name] is not None]
        out["funds sold"] = ", ".join(exits) if exits else "none"
        d = self.distribution
        if d is not None:
            h = f"{d.horizon:g} y"
            out[f"expected loss at {h}"] = d.mean()
            for q in d.levels:
                out[f"VaR {q:.0%} of the loss at {h}"] = d.var[q]
                out[f"ES {q:.0%} of the loss at {h}"] = d.es[q]
            if "crowding_discount" in d.diagnostics:
                c0, ch = d.diagnostics["crowding_discount"]
                out["equilibrium crowding discount now [share of NAV]"] = c0
                out[f"equilibrium crowding discount at {h} [share of NAV]"] = ch
        return out

    def figures(self) -> dict[str, Any]:
        figs = {"portfolio": self.stress.plot()}
        if self.distribution is not None:
            figs["loss"] = self.distribution.plot()
        return figs

    def tables(self) -> dict[str, dict[str, Any]]:
        r = self.stress
        return {"marks": {"month": r.scenario.months, "L": r.scenario.L, "total": r.total, "drawdown": r.drawdown}}


def portfolio(scenario: ScenarioLike = None, *, name: str | None = None, L0: float | None = None,
              exit_level: float | None = None, horizon: float | None = None, levels: Sequence[float] | None = None,
              seed: int | None = None, equilibrium: bool | None = None, premium: Any = None,
              exit_boundary: bool | None = None) -> PortfolioReport:
    """Stress the ``[[funds]]`` of a scenario along the liquidity scenario ``name`` (default ``[portfolio]
    scenario``, else ``"gfc"``); with ``horizon``, also VaR/ES of the loss from the Fokker–Planck density.
    ``premium`` (an IlliquidityPremium) replaces the ``[premium]`` table's. ``exit_boundary``: sell each
    fund the first month :math:`L_t < L^*(T - t)` (the report's ``boundary`` is the solved
    :class:`~gelav.tasks.exit_boundary.ExitBoundaryReport`); it excludes ``exit_level``."""
    from gelav.portfolio import mark_distribution, stress_portfolio
    from gelav.tasks.premium import premium_model

    sc = read_scenario(scenario)
    table = read_table(sc, "portfolio", {**FIELDS, "levels": "any"})
    given = {"scenario": name, "L0": L0, "exit_level": exit_level, "horizon": horizon, "seed": seed,
             "equilibrium": equilibrium, "exit_boundary": exit_boundary,
             "levels": tuple(levels) if levels is not None else None}
    v = {**_DEFAULTS, **{k: x for k, x in table.items() if k != "levels"}}
    lv = _levels(sc)
    if lv is not None:
        v["levels"] = lv
    v.update({k: x for k, x in given.items() if x is not None})
    if v.get("horizon") is not None and not v["horizon"] > 0:
        raise ValueError(f"`horizon` must be > 0, got {v['horizon']}.")
    qs = tuple(float(q) for q in v["levels"])
    if not qs or any(not 0 < q < 1 for q in qs):
        raise ValueError(f"`levels` must be numbers in (0, 1), got {list(qs)}.")
    prem = premium if premium is not None else premium_model(sc)
    funds = read_funds(sc)
    path = read_liquidity_scenario(sc, str(v["scenario"]), L0=v.get("L0"), seed=v.get("seed"))
    rule: Any = v.get("exit_level")
    boundary = None
    if v.get("exit_boundary"):
        if rule is not None:
            raise ValueError("give `exit_level` or `exit_boundary`, not both: each is an exit rule.")
        boundary = _exit_boundary(sc, funds, prem)
        rule = None if boundary is None else boundary.result
    res = stress_portfolio(funds, path, premium=prem, boundary=rule)
    dist, eq = None, None
    if v.get("horizon") is not None:
        if v.get("equilibrium"):
            from gelav.tasks.mfg import mfg

            eq = mfg(sc).equilibrium
        dist = mark_distribution(funds, v["horizon"], L0=float(path.L[0]), premium=prem, levels=qs,
                                 n_cells=v["cells"], n_steps=v["steps"], equilibrium=eq)
    elif v.get("equilibrium"):
        raise ValueError("`equilibrium` prices the law of the mark at a horizon: give `horizon` too.")
    inputs = {"file": sc.get("_path"), **{k: x for k, x in v.items() if x is not None}, "levels": qs}
    return PortfolioReport(inputs=inputs, funds=tuple(funds), scenario=path, premium=prem, stress=res,
                           distribution=dist, equilibrium=eq, boundary=boundary)


def _exit_boundary(sc: Mapping[str, Any], funds: Sequence[Any], prem: Any) -> Any:
    """The exit boundary of the file's stake over the longest remaining life, with the portfolio's premium
    (None when every fund has matured: nothing is left to sell)."""
    from gelav.tasks.exit_boundary import exit_boundary as solve_boundary
    from gelav.valuation.premium import IlliquidityPremium

    life = max(f.remaining_life for f in funds)
    if life <= 0:
        return None
    if not isinstance(prem, IlliquidityPremium):
        raise TypeError("`exit_boundary` needs an IlliquidityPremium (the boundary's obstacle is its sale price).")
    return solve_boundary(sc, fund_life=life, alpha=prem.alpha, beta=prem.beta, gamma=prem.gamma,
                          scaling=prem.scaling)
