r"""The LAV task: the liquidity-adjusted value of a Takahashi–Alexander fund stake, against its DCF.

.. math::

    V(t_0, L_0) = E\Big[\sum_{t_k > t_0} e^{-\int_{t_0}^{t_k}(r + \lambda(L_u, T - u))\,du}(D_k - C_k)
    \,\Big|\, L_{t_0} = L_0\Big]

by Feynman–Kac on the generator of ``[process]`` (default the OU liquidity state),
with :math:`\lambda` the instantaneous form of the ``[premium]`` table's premium.
Tables: ``[lav]`` (``rate``, ``L0``, ``age``, ``nav``, ``unfunded``, ``dcf_level``,
``cells``, ``steps`` per period, ``monte_carlo`` paths, ``seed``) and ``[lav.fund]``
(the fields of :class:`~gelav.valuation.lav.TakahashiAlexander`).
"""

from __future__ import annotations

from typing import Any

from gelav.tasks._base import (
    ScenarioLike,
    TaskResult,
    check_options,
    read_scenario,
    read_table,
    source_of,
)

__all__ = ["FIELDS", "FUND_FIELDS", "LAVReport", "lav"]

#: the fields of the ``[lav]`` table and their kinds (``fund`` is the ``[lav.fund]`` sub-table)
FIELDS = {"rate": "number", "L0": "number", "age": "number", "nav": "number", "unfunded": "number",
          "dcf_level": "number", "cells": "integer", "steps": "integer", "monte_carlo": "natural", "seed": "natural",
          "fund": "any"}

#: the fields of ``[lav.fund]``: the Takahashi–Alexander model
FUND_FIELDS = {"commitment": "positive", "call_rates": "any", "growth": "number", "yield_rate": "number",
               "bow": "number", "fund_life": "positive", "call_liquidity": "number",
               "distribution_liquidity": "number", "liquidity_mean": "number", "periods_per_year": "integer"}

_DEFAULTS = {"cells": 200, "steps": 16, "monte_carlo": 0}


class LAVReport(TaskResult):
    """The valuation (``result``, a :class:`~gelav.valuation.lav.LAVResult`) and the fund model (``model``)."""

    result: Any = TaskResult.plotted_field()
    model: Any = None

    name = "lav"

    def to_dict(self) -> dict[str, Any]:
        return self.result.as_dict()

    def key_numbers(self) -> dict[str, Any]:
        r = self.result
        inp = r.inputs
        out: dict[str, Any] = {
            "starting liquidity state L₀": inp["L0"], "fund age t₀ [y]": inp["age"],
            "liquidity-adjusted value (LAV) [currency]": r.value,
            f"DCF value, L frozen at {inp['dcf_level']:g} [currency]": r.dcf,
            "liquidity discount 1 − LAV/DCF": r.liquidity_discount,
        }
        mc = r.monte_carlo
        if mc is not None:
            out[f"Monte Carlo value ({mc.n} paths) [currency]"] = mc.value
            out["Monte Carlo standard error"] = mc.stderr
            out["LAV − Monte Carlo [standard errors]"] = (r.value - mc.value) / mc.stderr if mc.stderr > 0 else "–"
        return out

def lav(scenario: ScenarioLike = None, **options: Any) -> LAVReport:
    """Value the ``[lav.fund]`` stake under ``[process]`` and ``[premium]`` (options: the ``[lav]`` fields)."""
    from gelav.scenario import process_from_config
    from gelav.tasks.premium import premium_model
    from gelav.valuation.lav import TakahashiAlexander, liquidity_adjusted_value

    check_options("lav", options, tuple(k for k in FIELDS if k != "fund"))
    sc = read_scenario(scenario)
    v = {**_DEFAULTS, **read_table(sc, "lav", FIELDS), **{k: x for k, x in options.items() if x is not None}}
    fund = read_table({"lav.fund": v.pop("fund", None), "_path": source_of(sc)}, "lav.fund", FUND_FIELDS)
    if isinstance(fund.get("call_rates"), list):
        fund["call_rates"] = tuple(fund["call_rates"])
    model = TakahashiAlexander(**fund)
    process = process_from_config(sc["process"], source=source_of(sc)) if "process" in sc else None
    kw = {k: v[k] for k in ("rate", "L0", "age", "nav", "unfunded", "dcf_level", "seed") if k in v}
    res = liquidity_adjusted_value(model, process, premium=premium_model(sc), n_cells=v["cells"],
                                   steps_per_period=v["steps"], monte_carlo=v["monte_carlo"], **kw)
    return LAVReport(inputs=v, result=res, model=model)
