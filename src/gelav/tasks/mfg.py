r"""The mean-field-game task: the equilibrium of LP exits for a preset or a scenario's ``[mfg]`` tables.

The backward obstacle problem :math:`-\partial_t V = \max(\mathcal H V - \rho V + f, \pi - V)` gives the
exit region, the forward equation the holders' distribution, and the distribution the secondary-market
price; the fixed point is the equilibrium (:func:`gelav.mfg.solve`).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from gelav.tasks._base import DEFAULTS, ScenarioLike, TaskResult, read_scenario, source_of

__all__ = ["MFGReport", "mfg", "preset_table", "presets"]


def presets() -> dict[str, str]:
    """The preset names and their descriptions, from the registry (:data:`gelav.mfg.SCENARIOS`)."""
    from gelav.mfg import SCENARIOS

    return {name: sc.description for name, sc in SCENARIOS.items()}


def preset_table() -> str:
    """The presets as a Markdown table (the block between ``<!-- presets -->`` marks in the docs)."""
    return "| preset | what it is |\n|---|---|\n" + "".join(f"| `{k}` | {v} |\n" for k, v in presets().items())


@dataclass(frozen=True)
class MFGReport(TaskResult):
    """The equilibrium (``equilibrium``), its summary at the states ``at`` and the warnings raised."""

    scenario: Any = None
    equilibrium: Any = None
    at: tuple[float, ...] = ()
    summary: Any = None

    name = "mfg"

    def to_dict(self) -> dict[str, Any]:
        eq = self.equilibrium
        out = {"scenario": self.scenario.name, **self.summary, "notes": eq.diagnostics.get("notes", []),
               "warnings": list(self.diagnostics.warnings), "timings": eq.timings, "n_nodes": eq.grid.n_nodes,
               "n_steps": eq.times.size - 1}
        if eq.others:
            out["other_equilibria"] = [o.summary(list(self.at)) for o in eq.others]
        out["where_the_mass_is"] = self.mass_values()
        return out

    def mass_values(self) -> list[dict[str, float]]:
        """Per type: the holders' mean state at t = 0 and the values there (equilibrium, no feedback, DCF),
        and the mass-weighted mean value :math:`\\sum_i p_i V_0(L_i) / \\sum_i p_i`."""
        eq = self.equilibrium
        x = eq.grid.nodes
        out = []
        for k, name in enumerate(eq.type_names):
            p = np.asarray(eq.density[k, 0], dtype=float)
            tot = float(p.sum())
            m = float(p @ x / tot) if tot > 0 else math.nan
            out.append({"type": name, "mean_state": m,
                        "value_at_mean_state": float(np.interp(m, x, eq.value0[k])),
                        "no_feedback_value_at_mean_state": float(np.interp(m, x, eq.no_feedback_value0[k])),
                        "mass_weighted_value": float(p @ eq.value0[k] / tot) if tot > 0 else math.nan,
                        "dcf": float(eq.dcf[k])})
        return out

    def key_numbers(self) -> dict[str, Any]:
        eq = self.equilibrium
        multi = len(eq.type_names) > 1
        out: dict[str, Any] = {}
        for t, mv in zip(self.summary["types"], self.mass_values(), strict=False):
            who = f" ({t['type']})" if multi else ""
            out[f"discount to NAV now{who}"] = t["discount_now"]
            out[f"worst discount{who} (at t = {t['worst_at']:.2f} y)"] = t["discount_worst"]
            out[f"discount without feedback{who}"] = t["no_feedback_discount_now"]
            out[f"total exits{who} [share of holders]"] = t["total_exits"]
            out[f"exits without feedback{who}"] = t["no_feedback_exits"]
            out[f"holders' mean state L at t = 0{who}"] = mv["mean_state"]
            out[f"value there [NAV]{who}"] = mv["value_at_mean_state"]
            out[f"value there without feedback [NAV]{who}"] = mv["no_feedback_value_at_mean_state"]
            out[f"mass-weighted value [NAV]{who}"] = mv["mass_weighted_value"]
            out[f"DCF value (hold) [NAV]{who}"] = mv["dcf"]
        out["equilibria found"] = eq.n_equilibria
        out["fixed-point residual"] = eq.residual
        return out

    def figures(self) -> dict[str, Any]:
        eq = self.equilibrium
        figs = {kind: eq.plot(kind) for kind in ("price", "exits", "convergence")}
        for k, name in enumerate(eq.type_names):
            figs[f"density_{name}"] = eq.plot_density(type=k)
            figs[f"values_{name}"] = eq.plot_values(type=k)
        return figs

    def figure_paths(self, path: Any, names: list[str]) -> dict[str, Any]:
        """``--plot FOLDER``: ``<scenario>_<figure>.png`` per figure (a file: the price figure there)."""
        from pathlib import Path

        from gelav.tasks._figures import figure_targets, is_folder

        if is_folder(path):
            return {n: Path(path) / f"{self.scenario.name}_{n}.png" for n in names}
        return figure_targets(path, "mfg", names)

    def tables(self) -> dict[str, dict[str, Any]]:
        eq = self.equilibrium
        out: dict[str, dict[str, Any]] = {}
        for k, name in enumerate(eq.type_names):
            out[f"paths_{name}"] = {"t_mid": eq.t_mid, "price": eq.price[k], "discount": eq.discount[k],
                                    "exit_flow": eq.exit_flow[k]}
            out[f"values_{name}"] = {"L": eq.grid.nodes, "value": eq.value0[k],
                                     "no_feedback_value": eq.no_feedback_value0[k]}
            T, X = np.meshgrid(eq.times, eq.grid.nodes, indexing="ij")
            out[f"density_{name}"] = {"t": T.ravel(), "L": X.ravel(),
                                      "density": (eq.density[k] / eq.grid.volumes).ravel()}
        return out


def _scenario(sc: Mapping[str, Any], preset: str | None) -> Any:
    from gelav.mfg import SCENARIOS, load_scenario

    if preset is not None:
        return load_scenario(preset)
    if sc:  # a scenario file or mapping (without an [mfg] table: the model's defaults)
        from gelav.mfg.io import scenario_from_dict

        return scenario_from_dict(sc, source=source_of(sc))
    return SCENARIOS[DEFAULTS["mfg"]["preset"]]


def mfg(scenario: ScenarioLike = None, *, preset: str | None = None, method: str | None = None,
        tol: float | None = None, n_cells: int | None = None, n_steps: int | None = None,
        epsilon: float | None = None, at: Sequence[float] | None = None,
        callback: Callable[[dict[str, Any]], None] | None = None) -> MFGReport:
    """Solve the equilibrium of a preset (``preset``) or a scenario's ``[mfg]`` tables (default: the
    ``stress`` preset); options override the scenario's numerics and solver settings."""
    import warnings

    from gelav.mfg import solve
    from gelav.results import Diagnostics

    if preset is None and isinstance(scenario, str) and not scenario.endswith(".toml"):
        from gelav.mfg import SCENARIOS

        if scenario in SCENARIOS:
            preset, scenario = scenario, None
    sc = _scenario(read_scenario(scenario) if preset is None else {}, preset)
    Ls = tuple(float(v) for v in (at if at is not None else DEFAULTS["mfg"]["at"]))
    if not Ls or not all(math.isfinite(v) for v in Ls):
        raise ValueError(f"`at` must be finite numbers, got {list(at or ())!r}.")
    nkw = {k: v for k, v in (("n_cells", n_cells), ("n_steps", n_steps), ("epsilon", epsilon)) if v is not None}
    numerics = dataclasses.replace(sc.numerics, **nkw)
    okw = {k: v for k, v in (("method", method), ("tol", tol)) if v is not None}
    options = dataclasses.replace(sc.options, **okw)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        eq = solve(sc.model, numerics=numerics, options=options, callback=callback)
    for w in caught:  # shown again to the caller, who decides how to print them
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    summary = eq.summary(list(Ls))
    diag = Diagnostics(timings=dict(eq.timings), iterations=eq.iterations,
                       warnings=tuple(str(w.message) for w in caught))
    return MFGReport(inputs={"scenario": sc.name, "at": Ls, **nkw, **okw}, diagnostics=diag, scenario=sc,
                     equilibrium=eq, at=Ls, summary=summary)
