r"""The welfare task: the planner's optimum, the Pigouvian tax :math:`\tau^*(t, L)` and the welfare gap.

The model is a preset (``preset``, or ``[welfare] preset``) or the scenario's
``[mfg]`` tables (as for :func:`gelav.tasks.mfg`); ``[welfare]`` may also set
``n_cells``, ``n_steps`` and ``epsilon`` (over ``[mfg.numerics]``) and ``starts``, the
initial taxes of the planner's iteration (a list of numbers, see :func:`gelav.mfg.solve_planner`). Solved by
:func:`gelav.mfg.solve_planner`; accounted by :func:`gelav.mfg.accounts.welfare`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from gelav.tasks._base import ScenarioLike, TaskResult, read_scenario, read_table

__all__ = ["FIELDS", "RESOLUTION", "WelfareReport", "welfare", "welfare_model"]

#: the fields of the ``[welfare]`` table and their kinds
FIELDS = {"preset": "string", "n_cells": "integer", "n_steps": "integer", "epsilon": "positive", "starts": "any"}

#: key numbers are shown to this resolution [NAV]: far below the discretisation error, above solver noise
RESOLUTION = 1e-6


def _r(x: float) -> float:
    """``x`` rounded to :data:`RESOLUTION` (and ``-0.0`` to ``0.0``)."""
    return round(float(x) / RESOLUTION) * RESOLUTION + 0.0


class WelfareReport(TaskResult):
    """The planner's solution (``planner``, a :class:`~gelav.mfg.PlannerSolution`), its accounts (``welfare``)
    and the scenario solved."""

    scenario: Any = None
    planner: Any = None
    welfare: Any = None

    name = "welfare"

    @property
    def exits(self) -> tuple[float, float]:
        """Total exits (share of the LP population) in the equilibrium and under the planner."""
        eq, al = self.planner.equilibrium, self.planner.allocation
        return float(eq.cumulative_exits[:, -1] @ eq.weights), float(al.cumulative_exits[:, -1] @ al.weights)

    def to_dict(self) -> dict[str, Any]:
        al = self.planner.allocation
        exits_eq, exits_pl = self.exits
        return {"scenario": self.scenario.name, **self.welfare.as_dict(), "equilibrium_exits": exits_eq,
                "planner_exits": exits_pl, "diagnostics": self.planner.diagnostics, "n_nodes": al.grid.n_nodes,
                "n_steps": al.times.size - 1}

    def key_numbers(self) -> dict[str, Any]:
        """Per unit of LP population, in NAV, rounded to :data:`RESOLUTION`."""
        w = self.welfare
        exits_eq, exits_pl = self.exits
        out: dict[str, Any] = {
            "LP welfare, planner [NAV]": _r(w.planner_welfare),
            "LP welfare, equilibrium [NAV]": _r(w.equilibrium_welfare),
            "welfare gap [NAV]": _r(w.gap),
            "welfare gap per year [share of NAV]": _r(w.gap_per_year),
            "price of anarchy": _r(w.price_of_anarchy),
            "tax revenue under τ*, rebated lump-sum [NAV]": _r(w.tax_revenue),
            "buyers' surplus under τ* [NAV]": _r(w.buyers_surplus),
            "total exits, equilibrium [share of LPs]": _r(exits_eq),
            "total exits, planner [share of LPs]": _r(exits_pl),
        }
        for L, tau in w.tax_at_start.items():
            out[f"Pigouvian tax τ*(0, L = {L}) [share of NAV]"] = _r(tau)
        return out

    def figures(self) -> dict[str, Any]:
        from gelav.mfg.accounts import welfare_figure

        return {"welfare": welfare_figure(self.planner)}


def welfare_model(scenario: ScenarioLike = None, preset: str | None = None) -> Any:
    """The :class:`gelav.mfg.Scenario` to solve: ``preset``, else ``[welfare] preset``, else the scenario's
    ``[mfg]`` tables (an empty scenario: the ``stress`` preset), with ``[welfare]`` numerics applied."""
    from gelav.tasks.mfg import mfg_scenario, with_given

    sc = read_scenario(scenario)
    table = read_table(sc, "welfare", FIELDS)
    name = preset or table.get("preset")
    model = mfg_scenario({} if name is not None else sc, name)
    numerics, nkw = with_given(model.numerics, **{k: table.get(k) for k in ("n_cells", "n_steps", "epsilon")})
    return dataclasses.replace(model, numerics=numerics) if nkw else model


def welfare(scenario: ScenarioLike = None, *, preset: str | None = None, n_cells: int | None = None,
            n_steps: int | None = None, epsilon: float | None = None, starts: Any = None,
            callback: Callable[[dict[str, Any]], None] | None = None) -> WelfareReport:
    """Solve the planner's problem of :func:`welfare_model` (options override its numerics) and account
    for welfare."""
    from gelav.mfg.accounts import welfare as account
    from gelav.mfg.planner import solve_planner
    from gelav.tasks.mfg import with_given

    model = welfare_model(scenario, preset)
    numerics, _ = with_given(model.numerics, n_cells=n_cells, n_steps=n_steps, epsilon=epsilon)
    if starts is None:
        starts = read_table(read_scenario(scenario), "welfare", FIELDS).get("starts", (0.0,))
    if isinstance(starts, list):
        starts = tuple(starts)
    sol = solve_planner(model.model, numerics=numerics, options=model.options, callback=callback, starts=starts)
    inputs = {"scenario": model.name, "n_cells": numerics.n_cells, "n_steps": numerics.n_steps,
              "epsilon": numerics.epsilon, "starts": [float(x) for x in starts]}
    return WelfareReport(inputs=inputs, scenario=model, planner=sol, welfare=account(sol))
