r"""The exit-boundary task: when to sell a fund stake, :math:`L^*(t)` of the stake's obstacle problem.

Values: defaults < ``[process]`` (an OU liquidity state) < ``[premium]`` (α, β, γ,
scaling) < ``[exit_boundary]`` < keyword options; solved by
:func:`gelav.valuation.exit_boundary.exit_boundary` (an LCP in every step).
"""

from __future__ import annotations

import math
from typing import Any

from gelav.tasks._base import ScenarioLike, TaskResult, check_options, read_scenario, read_table

__all__ = ["DEFAULTS", "FIELDS", "ExitBoundaryReport", "exit_boundary", "lcp_method"]

#: the fields of the ``[exit_boundary]`` table and their kinds
FIELDS = {"fund_life": "positive", "discount": "number", "nav_growth": "number", "distribution_rate": "number",
          "holding_cost": "number", "alpha": "number", "beta": "number", "gamma": "number", "scaling": "string",
          "cells": "integer", "steps": "integer", "sensitivity": "bool", "check": "bool", "method": "string"}

#: the defaults of ``gelav exit-boundary``
DEFAULTS = {"fund_life": 10.0, "discount": 0.08, "nav_growth": 0.08, "distribution_rate": 0.0, "holding_cost": 0.5,
            "alpha": 0.045, "beta": -0.025, "gamma": 0.021, "scaling": "sqrt", "cells": 300, "steps": 400,
            "kappa": 0.45, "mean": 1.0, "sigma": 0.32, "sensitivity": False, "check": True, "method": "policy"}

def lcp_method(res: Any) -> str:
    """Which LCP solver's answer a solved exit boundary holds: policy iteration, Brennan–Schwartz, or
    Brennan–Schwartz with the steps where its one-sided assumption failed solved by policy iteration."""
    from gelav.fd.linalg import LCP_METHODS

    if LCP_METHODS.get(res.settings["method"]) != "bs":
        return "policy iteration"
    k, n = int(res.diagnostics.get("lcp_fallback_steps", 0)), int(res.diagnostics.get("n_steps", 0))
    if k == 0:
        return "Brennan–Schwartz (its answer checked against the LCP in every step)"
    return (f"policy iteration in {k} of {n} steps, Brennan–Schwartz in the rest (there the exit region was not "
            "one interval at an end of the domain, which Brennan–Schwartz assumes)")


_SENSITIVITY = (("kappa", "κ"), ("sigma", "σ"), ("r", "r"))
#: the relative bump of the sensitivities (ExitBoundary.sensitivity's default); h/2 gives their indicator
SENSITIVITY_BUMP = 0.05
#: a sensitivity whose indicator exceeds this fraction of it is printed as not resolved
SENSITIVITY_RESOLVED = 0.1


class ExitBoundaryReport(TaskResult):
    """The solved boundary (``result``, an :class:`~gelav.valuation.exit_boundary.ExitBoundary`),
    ``sensitivity`` (``dL*(0)/dκ``, ``/dσ``, ``/dr`` when asked) and ``check``
    (:meth:`~gelav.valuation.exit_boundary.ExitBoundary.grid_check`: the grid indicator of L*(t), unless
    ``check=False``)."""

    result: Any = TaskResult.plotted_field()
    sensitivity: dict[str, float] | None = None
    check: dict[str, Any] | None = None

    def resolved(self, t: float) -> bool:
        """Whether the grid check found the exit region at ``t`` on both grids or on neither (True without a
        check)."""
        return self.check is None or all(abs(u - t) > 1e-9 * max(1.0, self.result.fund_life)
                                         for u in self.check["unresolved"])

    name = "exit-boundary"

    def to_dict(self) -> dict[str, Any]:
        out = self.result.summary()
        out["lcp_solved_by"] = lcp_method(self.result)
        if self.sensitivity:
            out["sensitivity_t0"] = dict(self.sensitivity)
        if self.check is not None:
            out["boundary_check"] = dict(self.check)
        return out

    def key_numbers(self) -> dict[str, Any]:
        res = self.result
        T = res.fund_life
        from gelav.processes.protocol import params_of

        L_bar = min(max(float(params_of(res.process).get("mean", 0.0)), float(res.nodes[0])), float(res.nodes[-1]))
        out: dict[str, Any] = {"remaining fund life T [y]": T}
        for t in (0.0, T / 2):
            b = res.boundary(t)
            out[f"exit boundary L*({t:g}): sell when L ≤ L*"] = ("not resolved" if not self.resolved(t) else
                                                                "no exit region" if math.isnan(b) else b)
        if self.check is not None:
            ind = self.check["indicator"]
            out[f"grid indicator of L*(t): largest |L*({self.check['n_cells'][0]} cells) − "
                f"L*({self.check['n_cells'][1]})|"] = ind if math.isfinite(ind) else "not resolved"
        out["LCP solved by"] = lcp_method(res)
        region = res.stopping_region(0.0)
        out["exit region in L now"] = "; ".join(f"[{a:.2f}, {c:.2f}]" for a, c in region) or "never"
        out[f"value of holding V(0, L̄ = {L_bar:g}) [per unit NAV]"] = res.value(0.0, L_bar)
        out["sale price 1 − π(L̄, T) [per unit NAV]"] = 1.0 - float(res.premium(L_bar, T))
        sp = res.smooth_pasting(0.0)
        jump = sp.get("relative_jump")
        if jump is not None and math.isfinite(jump):
            out["smooth pasting at L*(0): relative slope jump"] = jump
        for key, sym in _SENSITIVITY:
            if self.sensitivity and key in self.sensitivity:
                out[f"dL*(0)/d{sym}"] = self.sensitivity[key]
                out[f"dL*(0)/d{sym}: change from bump h to h/2"] = self.sensitivity[f"{key}_indicator"]
        return out

def exit_boundary(scenario: ScenarioLike = None, **options: Any) -> ExitBoundaryReport:
    """Solve the exit boundary of the scenario's stake (options: the fields of ``[exit_boundary]`` and
    ``kappa``, ``mean``, ``sigma``; ``None`` means "not given")."""
    from gelav.processes import OrnsteinUhlenbeck
    from gelav.scenario import ScenarioError, process_from_config
    from gelav.tasks._base import source_of
    from gelav.tasks.premium import FIELDS as PREMIUM_FIELDS
    from gelav.valuation.exit_boundary import exit_boundary as solve
    from gelav.valuation.premium import IlliquidityPremium

    check_options("exit_boundary", options, (*FIELDS, "kappa", "mean", "sigma"))
    sc = read_scenario(scenario)
    v: dict[str, Any] = dict(DEFAULTS)
    if "process" in sc:
        proc = process_from_config(sc["process"], source=source_of(sc))
        if type(proc).__name__ != "OrnsteinUhlenbeck":
            raise ScenarioError(f"{source_of(sc)}: [process] must be an ornstein-uhlenbeck liquidity state.")
        v.update(proc.params())
    prem = read_table(sc, "premium", PREMIUM_FIELDS)
    v.update({k: prem[k] for k in ("alpha", "beta", "gamma", "scaling") if k in prem})
    v.update(read_table(sc, "exit_boundary", FIELDS))
    v.update({k: x for k, x in options.items() if x is not None})
    process = OrnsteinUhlenbeck(v["kappa"], v["mean"], v["sigma"])
    premium = IlliquidityPremium(v["alpha"], v["beta"], v["gamma"], v["scaling"])
    res = solve(process, premium, v["fund_life"], nav_growth=v["nav_growth"], distribution_rate=v["distribution_rate"],
                holding_cost=v["holding_cost"], discount=v["discount"], n_cells=v["cells"], n_steps=v["steps"],
                method=v["method"])
    sens = None
    if v.get("sensitivity"):
        sens = {}
        for p, _ in _SENSITIVITY:
            d_h = float(res.sensitivity(p)["derivative"][0])
            d_half = float(res.sensitivity(p, rel_bump=0.5 * SENSITIVITY_BUMP)["derivative"][0])
            sens[p] = d_h
            # the change from the bump h to h/2: the boundary moves with the grid as well as with θ, and a
            # small bump divides that by h (dL*(0)/dσ: 0.63, 0.65, 0.53, 0.95 at bumps of 10, 5, 2.5, 1.25 %)
            sens[f"{p}_indicator"] = abs(d_h - d_half)
    check = res.grid_check() if v.get("check") else None
    return ExitBoundaryReport(inputs=v, result=res, sensitivity=sens, check=check)
