r"""The N-player task: the finite game with the equilibrium exit rule against its mean-field limit.

Solves the equilibrium of a preset or a scenario's ``[mfg]`` tables (with ``scheme = "euler"`` by
default, so that every step is a Markov transition), then :func:`gelav.mfg.n_player`: the RMS gap
:math:`\pi^N - \pi` of the realised price and the ε-Nash gain of one deviating LP, against N
(expect the rate :math:`N^{-1/2}`). Options come from the ``[n_player]`` table.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from gelav.tasks._base import (
    ScenarioLike,
    TaskResult,
    check_options,
    merge,
    read_scenario,
    recorded_warnings,
    warning_texts,
)

__all__ = ["NPlayerReport", "n_player"]

FIELDS = ("preset", "n_players", "replications", "gain_replications", "seed", "n_cells", "n_steps", "scheme")


class NPlayerReport(TaskResult):
    """The N-player comparison (``result``: :class:`gelav.mfg.NPlayerResult`) and its equilibrium."""

    scenario: Any = None
    equilibrium: Any = None
    result: Any = TaskResult.plotted_field()

    name = "n_player"

    def to_dict(self) -> dict[str, Any]:
        r = self.result
        return {"scenario": self.scenario.name, "inputs": self.inputs, "n_players": r.n_players,
                "price_gap": r.price_gap, "price_gap_se": r.price_gap_se, "gain": r.gain, "gain_se": r.gain_se,
                "price_bias": r.price_bias, "price_bias_se": r.price_bias_se, "rate_price": r.rate_price,
                "rate_gain": r.rate_gain, "replications": r.replications, "gain_replications": r.gain_replications,
                "rows": r.table(), "warnings": list(self.diagnostics.warnings)}

    def key_numbers(self) -> dict[str, Any]:
        r = self.result
        out: dict[str, Any] = {f"price gap at N = {int(n)} [NAV]": float(g) for n, g in zip(r.n_players, r.price_gap,
                                                                                            strict=True)}
        out["rate of the price gap in N"] = r.rate_price
        if np.all(np.isfinite(r.gain)):
            out["rate of the ε-Nash gain in N"] = r.rate_gain
        return out

    def tables(self) -> dict[str, dict[str, Any]]:
        r = self.result
        return {"n_player": {"N": r.n_players, "price_gap": r.price_gap, "price_gap_se": r.price_gap_se,
                             "gain": r.gain, "gain_se": r.gain_se, "price_bias": r.price_bias,
                             "price_bias_se": r.price_bias_se}}


def solve_for(task: str, scenario: ScenarioLike, preset: str | None, opts: dict[str, Any]) -> tuple[Any, Any]:
    """The scenario (a preset, else the file's ``[mfg]`` tables) with the task's numerics applied, and the
    parsed file."""
    from gelav.tasks.mfg import mfg_scenario, with_given

    data = read_scenario(scenario)
    sc = mfg_scenario(data if preset is None else {}, preset)
    numerics, _ = with_given(sc.numerics, **{k: opts.get(k) for k in ("n_cells", "n_steps", "scheme")})
    return dataclasses.replace(sc, numerics=numerics), data


def game_settings(task: str, scenario: ScenarioLike, fields: tuple[str, ...], given: Mapping[str, Any],
                  options: Mapping[str, Any]) -> tuple[Any, dict[str, Any], dict[str, Any]]:
    """What the games of a solved equilibrium (``n_player``, ``master_field``) start with:
    ``(scenario, settings, inputs)``. The keyword ``options`` and the ``[task]`` table are checked against
    ``fields``; the settings are the defaults < the table < ``given`` (``None``: not given); the scenario
    is the preset given, else the file's ``[mfg]`` tables, else the settings' preset, with their numerics;
    ``inputs`` the settings as JSON (lists for tuples), with the scenario's name."""
    check_options(task, options, fields)
    data = read_scenario(scenario)
    table = dict(data.get(task) or {})
    check_options(f"[{task}]", table, fields)
    opts = merge(task, table, given)
    use_preset = opts["preset"] if (given.get("preset") is not None or not data.get("mfg")) else None
    sc, _ = solve_for(task, data or None, use_preset, opts)
    inputs = {"scenario": sc.name, **{k: (list(v) if isinstance(v, tuple) else v) for k, v in opts.items()}}
    return sc, opts, inputs


def n_player(scenario: ScenarioLike = None, *, preset: str | None = None, n_players: Sequence[int] | None = None,
             replications: int | None = None, gain_replications: int | None = None, seed: int | None = None,
             n_cells: int | None = None, n_steps: int | None = None, scheme: str | None = None,
             **options: Any) -> NPlayerReport:
    """Solve the equilibrium (default preset ``crisis``, Euler steps) and simulate the N-player game."""
    from gelav.mfg import n_player as simulate
    from gelav.results import Diagnostics

    sc, opts, inputs = game_settings("n_player", scenario, FIELDS, {
        "preset": preset, "n_players": n_players, "replications": replications,
        "gain_replications": gain_replications, "seed": seed, "n_cells": n_cells, "n_steps": n_steps,
        "scheme": scheme}, options)
    ns = tuple(int(n) for n in opts["n_players"])
    with recorded_warnings() as caught:
        eq = sc.solve(no_feedback=False)
        res = simulate(eq, ns, replications=int(opts["replications"]),
                       gain_replications=int(opts["gain_replications"]), seed=opts["seed"])
    diag = Diagnostics(timings=dict(res.diagnostics.get("timings", {})) if isinstance(
        res.diagnostics.get("timings"), dict) else {}, warnings=warning_texts(caught))
    return NPlayerReport(inputs=inputs, diagnostics=diag, scenario=sc, equilibrium=eq, result=res)
