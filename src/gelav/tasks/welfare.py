r"""The welfare task: the planner's optimum, the Pigouvian tax :math:`\tau^*(t, L)` and the welfare gap.

The model is a preset (``preset``, or ``[welfare] preset``) or the scenario's
``[mfg]`` tables (as for :func:`gelav.tasks.mfg`); ``[welfare]`` may also set
``n_cells``, ``n_steps`` and ``epsilon`` (over ``[mfg.numerics]``) and ``starts``, the
initial taxes of the planner's iteration (a list of numbers, see :func:`gelav.mfg.solve_planner`). Solved by
:func:`gelav.mfg.solve_planner`; accounted by :func:`gelav.mfg.accounts.welfare`.

The gap :math:`W_P - W_E` is a small difference of two large welfares, each carrying the
relaxation error of the exit decision (:math:`O(\varepsilon)`) and the grid's error, so the task
also solves the planner at :math:`\varepsilon/2` and on the grid halved in both directions
(:class:`GapCheck`): when the gap moves under refinement by as much as half of itself it is
reported as *not resolved* (``check=False`` skips this).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any

from gelav.tasks._base import ScenarioLike, TaskResult, read_scenario, read_table

__all__ = ["FIELDS", "RESOLUTION", "GapCheck", "WelfareReport", "welfare", "welfare_model"]

#: the fields of the ``[welfare]`` table and their kinds
FIELDS = {"preset": "string", "n_cells": "integer", "n_steps": "integer", "epsilon": "positive", "starts": "any"}

#: key numbers are shown to this resolution [NAV]: far below the discretisation error, above solver noise
RESOLUTION = 1e-6


@dataclasses.dataclass(frozen=True)
class GapCheck:
    r"""How the welfare gap moves when the numerics are refined: an error indicator, not a bound.

    Attributes
    ----------
    gap : float
        The gap at the scenario's numerics [NAV].
    half_epsilon_gap, coarse_gap : float or None
        The gap at :math:`\varepsilon/2` on the same grid, and at :math:`\varepsilon` on half the cells
        and half the steps (None: that solve found no solution; ``reason`` says why).
    error : float
        :math:`2|\Delta_\varepsilon| + |\Delta_h|`, the error of ``gap`` if it converges to first order in
        :math:`\varepsilon` and in the grid (:math:`g(\varepsilon) - g(0) \approx 2(g(\varepsilon) -
        g(\varepsilon/2))`); ``inf`` when a refinement failed. Pre-asymptotic runs can move by more.
    resolved : bool
        ``error < max(|gap| / 2, RESOLUTION)``: the sign and the leading digit of the gap are known, or
        the gap is below the resolution the task shows numbers to.
    reason : str
        Why the check was skipped or failed ("" otherwise).
    """

    gap: float
    half_epsilon_gap: float | None
    coarse_gap: float | None
    error: float
    resolved: bool
    reason: str = ""

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _gap_check(model: Any, numerics: Any, starts: Any, sol: Any,
               callback: Callable[[dict[str, Any]], None] | None = None) -> GapCheck:
    """Solve the planner again at ε/2 and on the halved grid (same starts) and compare the gaps
    (:mod:`gelav.tasks._refine`)."""
    import numpy as np

    from gelav.mfg.planner import solve_planner
    from gelav.tasks._refine import first_order_error, refine

    gap = float(sol.welfare - sol.equilibrium_welfare)
    if sol.diagnostics.get("iterations") == 1 and float(np.max(np.abs(sol.tax.values))) < RESOLUTION:
        # the planner stopped at the untaxed equilibrium, whose externality is nil to RESOLUTION: gap = 0
        return GapCheck(gap, None, None, 0.0, True,
                        f"skipped: |τ*| < {RESOLUTION:g} NAV at the equilibrium allocation (no externality)")

    def gap_at(nm: Any) -> float:
        p = solve_planner(model.model, numerics=nm, options=model.options, starts=starts, callback=callback)
        return float(p.welfare - p.equilibrium_welfare)

    (half, coarse), reasons = refine(numerics, gap_at)
    error = first_order_error(gap, half, coarse)
    return GapCheck(gap, half, coarse, error, error < max(0.5 * abs(gap), RESOLUTION), "; ".join(reasons))


def _r(x: float) -> float:
    """``x`` rounded to :data:`RESOLUTION` (and ``-0.0`` to ``0.0``)."""
    return round(float(x) / RESOLUTION) * RESOLUTION + 0.0


class WelfareReport(TaskResult):
    """The planner's solution (``planner``, a :class:`~gelav.mfg.PlannerSolution`), its accounts (``welfare``)
    and the scenario solved."""

    scenario: Any = None
    planner: Any = None
    welfare: Any = None
    check: GapCheck | None = None

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
                "n_steps": al.times.size - 1, "gap_check": None if self.check is None else self.check.as_dict()}

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
        if self.check is not None:
            out["welfare gap, error indicator [NAV]"] = _r(self.check.error) if math.isfinite(self.check.error) \
                else "refinement failed"
            if not self.check.resolved:
                out["welfare gap [NAV]"] = "not resolved"
                out["welfare gap per year [share of NAV]"] = "not resolved"
                out["price of anarchy"] = "not resolved"
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
            callback: Callable[[dict[str, Any]], None] | None = None, check: bool = True) -> WelfareReport:
    """Solve the planner's problem of :func:`welfare_model` (options override its numerics) and account
    for welfare.

    With ``check`` (default) the planner is solved again at ε/2 and on half the grid, and the gap's
    movement is reported (:class:`GapCheck`, ``report.check``): two to three times the work; the gap,
    its yearly form and the price of anarchy are shown as "not resolved" when it moves by half of itself.
    """
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
    gap_check = _gap_check(model, numerics, starts, sol, callback) if check else None
    return WelfareReport(inputs=inputs, scenario=model, planner=sol, welfare=account(sol), check=gap_check)
