r"""The mean-field-game task: the equilibrium of LP exits for a preset or a scenario's ``[mfg]`` tables.

The backward obstacle problem :math:`-\partial_t V = \max(\mathcal H V - \rho V + f, \pi - V)` gives the
exit region, the forward equation the holders' distribution, and the distribution the secondary-market
price; the fixed point is the equilibrium (:func:`gelav.mfg.solve`).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from gelav.tasks._base import (
    DEFAULTS,
    ScenarioLike,
    TaskResult,
    read_scenario,
    recorded_warnings,
    source_of,
    warning_texts,
)

__all__ = ["ContinuationReport", "MFGReport", "equilibrium_paths", "mass_states", "mfg", "mfg_continuation",
           "mfg_scenario", "preset_or_file", "preset_table", "presets", "refinement_check", "with_given"]


def presets() -> dict[str, str]:
    """The preset names and their descriptions, from the registry (:data:`gelav.mfg.SCENARIOS`)."""
    from gelav.mfg import SCENARIOS

    return {name: sc.description for name, sc in SCENARIOS.items()}


def preset_table() -> str:
    """The presets as a Markdown table (the block between ``<!-- presets -->`` marks in the docs)."""
    return "| preset | what it is |\n|---|---|\n" + "".join(f"| `{k}` | {v} |\n" for k, v in presets().items())


class MFGReport(TaskResult):
    """The equilibrium (``equilibrium``), its summary at the states ``at`` and the warnings raised."""

    scenario: Any = None
    equilibrium: Any = None
    at: tuple[float, ...] = ()
    summary: Any = None
    densities: bool = False
    check: dict[str, Any] | None = None

    name = "mfg"

    @property
    def equilibria(self) -> list[Any]:
        """Every distinct equilibrium found (the first is ``equilibrium``)."""
        return [self.equilibrium, *self.equilibrium.others]

    def to_dict(self) -> dict[str, Any]:
        eq = self.equilibrium
        out = {"scenario": self.scenario.name, **self.summary, "notes": eq.diagnostics.get("notes", []),
               "warnings": list(self.diagnostics.warnings), "timings": eq.timings, "n_nodes": eq.grid.n_nodes,
               "n_steps": eq.times.size - 1, "at": list(self.at)}
        if eq.others:
            out["other_equilibria"] = [o.summary(list(self.at)) for o in eq.others]
        if self.check is not None:
            out["check"] = self.check
        out["where_the_mass_is"] = self.mass_values()
        out.update(equilibrium_paths(eq, densities=self.densities))
        out["equilibria"] = [{"index": i + 1, "start": e.diagnostics.get("start"), **e.summary(list(self.at)),
                              **equilibrium_paths(e, densities=self.densities)}
                             for i, e in enumerate(self.equilibria)]
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
        out: dict[str, dict[str, Any]] = {}
        for i, eq in enumerate(self.equilibria):
            tag = "" if i == 0 else f"_eq{i + 1}"  # further equilibria: <table>_eq2, ...
            for k, name in enumerate(eq.type_names):
                out[f"paths_{name}{tag}"] = {"t_mid": eq.t_mid, "price": eq.price[k], "discount": eq.discount[k],
                                             "exit_flow": eq.exit_flow[k]}
                out[f"nodes_{name}{tag}"] = {"t": eq.times, "boundary": eq.boundary[k], "holders": eq.holders[k],
                                             "cumulative_exits": eq.cumulative_exits[k],
                                             "pressure": eq.aggregates["pressure"]}
                out[f"values_{name}{tag}"] = {"L": eq.grid.nodes, "value": eq.value0[k],
                                              "no_feedback_value": eq.no_feedback_value0[k]}
                T, X = np.meshgrid(eq.times, eq.grid.nodes, indexing="ij")
                out[f"density_{name}{tag}"] = {"t": T.ravel(), "L": X.ravel(),
                                               "density": (eq.density[k] / eq.grid.volumes).ravel()}
        return out


def equilibrium_paths(eq: Any, *, densities: bool = False) -> dict[str, Any]:
    """The paths of an equilibrium for JSON: per type the price, discount and exit flow (at the step
    midpoints ``t_mid``), the exit boundary b(t), holders and cumulative exits (at the step ends ``t``),
    the selling pressure, and with ``densities`` the holder densities (``[t][L]``, per unit of L)."""
    out: dict[str, Any] = {"t": eq.times, "t_mid": eq.t_mid, "pressure": eq.aggregates["pressure"],
                           "distressed": eq.aggregates["distressed"], "paths": {}}
    for k, name in enumerate(eq.type_names):
        out["paths"][name] = {"price": eq.price[k], "discount": eq.discount[k], "exit_flow": eq.exit_flow[k],
                              "boundary": eq.boundary[k], "holders": eq.holders[k],
                              "cumulative_exits": eq.cumulative_exits[k]}
    if densities:
        out["L"] = eq.grid.nodes
        out["densities"] = {name: eq.density[k] / eq.grid.volumes for k, name in enumerate(eq.type_names)}
    return out


def mass_states(eq: Any, quantiles: Sequence[float] = (0.1, 0.5, 0.9)) -> tuple[float, ...]:
    """Where the starting mass is: the quantiles of the pooled starting law (the type weights applied),
    rounded to two decimals and kept on the grid (the default states of the value table)."""
    x = eq.grid.nodes
    mass = np.einsum("k,kn->n", np.asarray(eq.weights, dtype=float), np.asarray(eq.density[:, 0], dtype=float))
    mass = mass / mass.sum()
    cdf = np.cumsum(mass) - 0.5 * mass  # the CDF at the nodes, each node's mass centred on it
    out: list[float] = []
    for q in quantiles:
        v = round(float(np.interp(q, cdf, x)), 2)
        v = min(max(v, float(x[0])), float(x[-1]))
        if v not in out:
            out.append(v + 0.0)
    return tuple(out)


def mfg_scenario(sc: Mapping[str, Any], preset: str | None) -> Any:
    """The :class:`gelav.mfg.Scenario` to solve: the ``preset``, else the parsed scenario ``sc``'s ``[mfg]``
    tables (the model's defaults without them), else (an empty ``sc``) the default preset."""
    from gelav.mfg import SCENARIOS, load_scenario

    if preset is not None:
        return load_scenario(preset)
    if sc:  # a scenario file or mapping (without an [mfg] table: the model's defaults)
        from gelav.mfg.io import scenario_from_dict

        return scenario_from_dict(sc, source=source_of(sc))
    return SCENARIOS[DEFAULTS["mfg"]["preset"]]


def preset_or_file(scenario: ScenarioLike, preset: str | None) -> Any:
    """:func:`mfg_scenario` of ``preset``, else of the scenario (a preset's name given as the scenario is
    that preset)."""
    if preset is None and isinstance(scenario, str) and not scenario.endswith(".toml"):
        from gelav.mfg import SCENARIOS

        if scenario in SCENARIOS:
            preset, scenario = scenario, None
    return mfg_scenario(read_scenario(scenario) if preset is None else {}, preset)


def with_given(settings: Any, **given: Any) -> tuple[Any, dict[str, Any]]:
    """``settings`` (a dataclass: the numerics, the solver options) with the fields given (not None)
    replaced, and those fields."""
    nkw = {k: v for k, v in given.items() if v is not None}
    return dataclasses.replace(settings, **nkw), nkw


def mfg(scenario: ScenarioLike = None, *, preset: str | None = None, method: str | None = None,
        tol: float | None = None, n_cells: int | None = None, n_steps: int | None = None,
        epsilon: float | None = None, at: Sequence[float] | None = None,
        callback: Callable[[dict[str, Any]], None] | None = None, densities: bool = False,
        dynamics: Any = None, check: bool = False) -> MFGReport:
    """Solve the equilibrium of a preset (``preset``) or a scenario's ``[mfg]`` tables (default: the
    ``stress`` preset); options override the scenario's numerics and solver settings. ``at``: the
    liquidity states of the value table (default :func:`mass_states`, where the starting mass is);
    ``densities``: put the holder densities in the JSON; ``dynamics``: every type's own liquidity dynamics
    (a process, e.g. typed in; see :class:`gelav.mfg.LPType`); ``check``: solve again at ε/2 and on half
    the grid and report how far the key numbers move (:func:`refinement_check`, ``report.check``)."""
    from gelav.mfg import solve
    from gelav.results import Diagnostics

    sc = preset_or_file(scenario, preset)
    if at is not None:
        Ls = tuple(float(v) for v in at)
        if not Ls or not all(math.isfinite(v) for v in Ls):
            raise ValueError(f"`at` must be finite numbers, got {list(at or ())!r}.")
    if dynamics is not None:
        try:
            sc = dataclasses.replace(sc, model=dataclasses.replace(sc.model, types=tuple(
                dataclasses.replace(t, dynamics=dynamics) for t in sc.model.types)))
        except ValueError as exc:
            raise ValueError(f"`drift`/`diffusion`: {exc}") from None
    numerics, nkw = with_given(sc.numerics, n_cells=n_cells, n_steps=n_steps, epsilon=epsilon)
    options, okw = with_given(sc.options, method=method, tol=tol)
    with recorded_warnings() as caught:
        eq = solve(sc.model, numerics=numerics, options=options, callback=callback)
    if at is None:
        Ls = mass_states(eq)
    try:
        summary = eq.summary(list(Ls))
    except ValueError as exc:  # a state off the grid, known only once the grid is built: name the option
        raise ValueError(f"`at`: {exc}") from None
    diag = Diagnostics(timings=dict(eq.timings), iterations=eq.iterations, warnings=warning_texts(caught))
    checked = refinement_check(sc, numerics, options, summary, Ls) if check else None
    return MFGReport(inputs={"scenario": sc.name, "at": Ls, **nkw, **okw}, diagnostics=diag, scenario=sc,
                     equilibrium=eq, at=Ls, summary=summary, densities=bool(densities), check=checked)


def _checked_numbers(summary: dict[str, Any]) -> dict[str, float]:
    """The key numbers :func:`refinement_check` follows: per type the discount now, at its worst, the total
    exits and the equilibrium value at each state of the table."""
    multi = len(summary["types"]) > 1
    out: dict[str, float] = {}
    for t in summary["types"]:
        who = f" ({t['type']})" if multi else ""
        out[f"discount now{who}"] = t["discount_now"]
        out[f"worst discount{who}"] = t["discount_worst"]
        out[f"total exits{who}"] = t["total_exits"]
        for L, v in t["values"].items():
            out[f"value at L = {L}{who} [NAV]"] = v["equilibrium"]
    return out


def refinement_check(scenario: Any, numerics: Any, options: Any, summary: dict[str, Any],
                     at: Sequence[float]) -> dict[str, Any]:
    r"""How far the equilibrium's key numbers move when the numerics are refined: an error indicator.

    The equilibrium is solved again at :math:`\varepsilon/2` on the same grid and at :math:`\varepsilon`
    on half the cells and half the steps. For each key number :math:`g` (discount now and at its worst,
    total exits, values at ``at``) the indicator is :math:`2|g(\varepsilon/2) - g| + |g(h_2) - g|`: the
    error of :math:`g` if it converges at first order in :math:`\varepsilon` (as the relaxed stopping
    does) and in the grid. Not a bound: pre-asymptotic runs can move by more.

    Returns
    -------
    dict
        ``{"epsilon": ε/2, "coarse": (n_cells, n_steps), "numbers": {label: {"value", "half_epsilon",
        "coarse", "indicator"}}, "failed": reason or ""}``; a refinement without an equilibrium leaves its
        column None and the indicator ``inf``.
    """
    from gelav.mfg import solve
    from gelav.tasks._refine import first_order_error, refine, refinements

    def numbers_at(nm: Any) -> dict[str, float]:
        with recorded_warnings():
            eq = solve(scenario.model, numerics=nm, options=options)
        return _checked_numbers(eq.summary(list(at)))

    base = _checked_numbers(summary)
    (half, coarse), failed = refine(numerics, numbers_at)
    numbers = {}
    for label, g in base.items():
        h = None if half is None else half.get(label)
        c = None if coarse is None else coarse.get(label)
        numbers[label] = {"value": g, "half_epsilon": h, "coarse": c, "indicator": first_order_error(g, h, c)}
    half_eps, coarse_grid = refinements(numerics)
    return {"epsilon": half_eps["epsilon"], "coarse": (coarse_grid["n_cells"], coarse_grid["n_steps"]),
            "numbers": numbers, "failed": "; ".join(failed)}


class ContinuationReport(TaskResult):
    """The branches of equilibria over a parameter range (:func:`gelav.mfg.continuation`)."""

    scenario: Any = None
    branches: Any = None

    name = "mfg_continuation"

    def counts(self, n: int = 5) -> list[tuple[float, list[tuple[float, bool | None]]]]:
        """At ``n`` parameter values across the range: (total exits, stable) of every equilibrium on the
        branches (interpolated between the branch points; stable None where it was not computed)."""
        br = self.branches
        out = []
        for p in np.linspace(br.range[0], br.range[1], n):
            row = []
            for b in br.branches:
                pp, ex, st, kn = b.parameter, b.scalars["exits"], b.stable, b.known
                for j in range(len(b)):
                    if pp[j] == p and (j == 0 or pp[j - 1] != p):
                        row.append((float(ex[j]), bool(st[j]) if kn[j] else None))
                    elif j + 1 < len(b) and (pp[j] - p) * (pp[j + 1] - p) < 0:
                        w = (p - pp[j]) / (pp[j + 1] - pp[j])
                        s = bool(st[j] and st[j + 1]) if kn[j] and kn[j + 1] else None
                        row.append((float((1 - w) * ex[j] + w * ex[j + 1]), s))
            out.append((float(p), sorted(row, key=lambda r: r[0])))
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"scenario": self.scenario.name, **self.branches.to_dict(),
                "warnings": list(self.diagnostics.warnings)}

    def key_numbers(self) -> dict[str, Any]:
        br = self.branches
        out: dict[str, Any] = {"branches": len(br.branches), "folds": len(br.folds)}
        for i, f in enumerate(br.folds, start=1):
            out[f"fold {i}: {br.parameter_name}"] = f.parameter
        return out

    def figures(self) -> dict[str, Any]:
        return {"branches": self.branches.plot()}

    def figure_paths(self, path: Any, names: list[str]) -> dict[str, Any]:
        from pathlib import Path

        from gelav.tasks._figures import figure_targets, is_folder

        if is_folder(path):
            return {n: Path(path) / f"{self.scenario.name}_{n}.png" for n in names}
        return figure_targets(path, "mfg", names)

    def tables(self) -> dict[str, dict[str, Any]]:
        return {"branches": self.branches.table()}


def mfg_continuation(scenario: ScenarioLike = None, *, preset: str | None = None, parameter: str = "feedback",
                     start: float = 0.0, stop: float = 1.0, n: int = 21, n_cells: int | None = None,
                     n_steps: int | None = None, epsilon: float | None = None, tol: float | None = None,
                     stability: bool = True) -> ContinuationReport:
    """Follow the equilibria of a preset or scenario as ``parameter`` runs from ``start`` to ``stop``
    (first arclength step ``(stop - start)/(n - 1)``; see :func:`gelav.mfg.continuation`)."""
    from gelav.mfg import continuation
    from gelav.results import Diagnostics

    sc = preset_or_file(scenario, preset)
    numerics, nkw = with_given(sc.numerics, n_cells=n_cells, n_steps=n_steps, epsilon=epsilon)
    with recorded_warnings() as caught:
        br = continuation(sc.model, parameter, np.linspace(start, stop, max(int(n), 2)), numerics=numerics,
                          tol=tol if tol is not None else sc.options.tol, stability=stability)
    diag = Diagnostics(timings={"total": br.diagnostics["seconds"]}, iterations=br.diagnostics["evaluations"],
                       warnings=warning_texts(caught))
    return ContinuationReport(inputs={"scenario": sc.name, "parameter": parameter, "start": start, "stop": stop,
                                      "n": n, **nkw}, diagnostics=diag, scenario=sc, branches=br)
