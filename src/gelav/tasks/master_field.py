r"""The master-field task: :math:`U(t_0, L; N(m, s^2))` over a family of starting laws of the crowd.

One equilibrium per law (:func:`gelav.mfg.master_field`) on one common grid; reported at chosen
liquidity states ``L`` (default 0), with the price at the start and the total exits. Options come
from the ``[master_field]`` table; the model from a preset or the file's ``[mfg]`` tables.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from gelav.tasks._base import ScenarioLike, TaskResult, recorded_warnings, warning_texts

__all__ = ["MasterFieldReport", "master_field"]

FIELDS = ("preset", "means", "spreads", "t0", "at", "n_cells", "n_steps", "scheme", "workers", "warm_start")


class MasterFieldReport(TaskResult):
    """The tabulated master field (``field``: :class:`gelav.mfg.MasterField`) at the states ``at``."""

    scenario: Any = None
    field: Any = None
    at: tuple[float, ...] = ()

    name = "master_field"

    def rows(self) -> list[dict[str, Any]]:
        """One row per (law, type): mean, spread, price at t0, exits, the value at every state of ``at``."""
        f = self.field
        out = []
        for i, m in enumerate(f.means):
            for j, s in enumerate(f.spreads):
                for k, name in enumerate(f.type_names):
                    row = {"mean": float(m), "spread": float(s), "type": name, "price0": float(f.price0[i, j, k]),
                           "exits": float(f.exits[i, j, k]), "residual": float(f.residuals[i, j])}
                    for L in self.at:
                        row[f"value_at_{L:g}"] = float(np.interp(L, f.grid.nodes, f.values[i, j, k]))
                    out.append(row)
        return out

    def to_dict(self) -> dict[str, Any]:
        f = self.field
        return {"scenario": self.scenario.name, "t0": f.t0, "means": f.means, "spreads": f.spreads,
                "types": list(f.type_names), "at": list(self.at), "rows": self.rows(), "L": f.grid.nodes,
                "values": f.values, "price0": f.price0, "exits": f.exits, "iterations": f.iterations,
                "residuals": f.residuals, "warnings": list(self.diagnostics.warnings)}

    def key_numbers(self) -> dict[str, Any]:
        return {f"U(L={r_L:g}; N({r['mean']:g}, {r['spread']:g}²)) [NAV]": r[f"value_at_{r_L:g}"]
                for r in self.rows() for r_L in self.at}

    def figures(self) -> dict[str, Any]:
        figs = {"master_field": self.field.plot(self.at[0])}
        figs["master_field_heatmap"] = self.field.plot_heatmap()
        return figs

    def tables(self) -> dict[str, dict[str, Any]]:
        f = self.field
        rows = self.rows()
        summary = {k: np.array([r[k] for r in rows]) for k in rows[0]} if rows else {}
        K = f.values.shape[2]
        mi, sj, kk, ln = np.meshgrid(f.means, f.spreads, np.arange(K), f.grid.nodes, indexing="ij")
        values = {"mean": mi.ravel(), "spread": sj.ravel(), "type_index": kk.ravel().astype(float), "L": ln.ravel(),
                  "value": f.values.ravel()}
        return {"master_field": summary, "values": values}


def master_field(scenario: ScenarioLike = None, *, preset: str | None = None, means: Sequence[float] | None = None,
                 spreads: Sequence[float] | None = None, t0: float | None = None, at: Sequence[float] | None = None,
                 n_cells: int | None = None, n_steps: int | None = None, scheme: str | None = None,
                 workers: int | None = None, warm_start: str | None = None, **options: Any) -> MasterFieldReport:
    """Tabulate the master field of a preset (default ``stress``) or the file's ``[mfg]`` model.

    ``warm_start``: how each law starts from its neighbour's equilibrium (:func:`gelav.mfg.master_field`:
    ``"neighbour"`` by default, ``"tangent"``, ``"newton"`` — fewest fixed-point evaluations — or ``"off"``).
    """
    import math

    from gelav.mfg import master_field as tabulate
    from gelav.results import Diagnostics
    from gelav.tasks.n_player import game_settings

    sc, opts, inputs = game_settings("master_field", scenario, FIELDS, {
        "preset": preset, "means": means, "spreads": spreads, "t0": t0, "at": at, "n_cells": n_cells,
        "n_steps": n_steps, "scheme": scheme, "workers": workers, "warm_start": warm_start}, options)
    Ls = tuple(float(v) for v in opts["at"])
    if not Ls or not all(math.isfinite(v) for v in Ls):
        raise ValueError(f"`at` must be finite numbers, got {opts['at']!r}.")
    with recorded_warnings() as caught:
        f = tabulate(sc.model, means=[float(m) for m in opts["means"]], spreads=[float(s) for s in opts["spreads"]],
                     t0=opts["t0"], numerics=sc.numerics, options=sc.options, workers=opts["workers"],
                     warm_start=str(opts["warm_start"]))
    lo, hi = float(f.grid.nodes[0]), float(f.grid.nodes[-1])
    bad = [v for v in Ls if not lo <= v <= hi]
    if bad:
        raise ValueError(f"`at` = {bad[0]:g} must be a liquidity state on the grid [{lo:g}, {hi:g}].")
    diag = Diagnostics(warnings=warning_texts(caught))
    return MasterFieldReport(inputs=inputs, diagnostics=diag, scenario=sc, field=f, at=Ls)
