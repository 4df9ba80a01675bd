r"""The exit-time task: :math:`E[\tau]`, :math:`P(\text{hit } b \text{ first})` and the ends' Feller classes.

Solves :math:`\tfrac12\sigma^2 y'' + b y' = -1`, :math:`y(a) = y(b) = 0` and
:math:`\tfrac12\sigma^2 h'' + b h' = 0`, :math:`h(a) = 0, h(b) = 1` on the generator.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from gelav.tasks._base import ScenarioLike, TaskResult, read_table, settings, source_of

if TYPE_CHECKING:
    from gelav.processes.protocol import ProcessLike

__all__ = ["FIELDS", "KINDS", "ExitTimeReport", "exit_time", "plot_exit_time", "read_exit_time_table",
           "run_exit_time"]

KINDS = ("brownian", "ornstein-uhlenbeck", "gbm", "cir")
FIELDS = ("a", "b", "x0", "horizon", "n_cells", "n_steps")


def run_exit_time(process: ProcessLike, a: float, b: float, x0: list[float], *, horizon: float | None = None,
                  n_cells: int = 400, n_steps: int = 200) -> dict[str, Any]:
    """Classification of the ends, P(hit b first), E[τ] (or why it is infinite), optional E[τ∧T] and P(τ > T)."""
    import numpy as np

    from gelav._validation import check_finite
    from gelav.errors import DivergenceError
    from gelav.exits import classify_boundary, exit_probability, exit_time_distribution
    from gelav.exits import exit_time as _exit_time

    a, b = check_finite("a", a), check_finite("b", b)
    if not a < b:
        raise ValueError(f"`a` must be < `b`, got a={a}, b={b}.")
    for x in x0:
        if not a < x < b:
            raise ValueError(f"`x0` = {x} must lie strictly inside (a, b) = ({a}, {b}).")
    lo, hi = classify_boundary(process, a, b)
    prob = exit_probability(process, a, b, n_cells=n_cells)
    from gelav.fd.generator import warn_peclet

    for x in x0:  # a drift-dominated start: the refinement estimate, too, is first order there
        warn_peclet(process, prob.grid, 0.0, float(x), stacklevel=4)
    coarse = max(n_cells // 2, 2)  # the same problem on half the cells (and steps): a second-order estimate
    prob_c = exit_probability(process, a, b, n_cells=coarse)
    out: dict[str, Any] = {
        "process": repr(process), "a": a, "b": b, "x0": x0,
        "boundaries": {c.side: {"point": c.point, "kind": c.kind, "accessible": c.accessible,
                                "scale_finite": c.scale_finite, "exit_time_finite": c.exit_time_finite}
                       for c in (lo, hi)},
        "p_upper_first": [prob.value(x) for x in x0],
        "p_upper_first_error": [_estimate(prob.value(x), prob_c.value(x)) for x in x0],
        "curve": {"x": prob.x, "p_upper_first": prob.values},
    }
    try:
        et = _exit_time(process, a, b, n_cells=n_cells)
        et_c = _exit_time(process, a, b, n_cells=coarse)
        out["mean_exit_time"] = [et.value(x) for x in x0]
        out["mean_exit_time_error"] = [_estimate(et.value(x), et_c.value(x)) for x in x0]
        out["curve"]["mean_exit_time"] = et.values
        out["divergence"] = None
    except DivergenceError as exc:
        out["mean_exit_time"] = [math.inf for _ in x0]
        out["divergence"] = str(exc)
    if horizon is not None:
        half = max(n_steps // 2, 2)
        bounded = _exit_time(process, a, b, horizon=horizon, n_cells=n_cells, n_steps=n_steps)
        bounded_c = _exit_time(process, a, b, horizon=horizon, n_cells=coarse, n_steps=half)
        out["horizon"] = horizon
        out["mean_exit_time_bounded"] = [bounded.value(x) for x in x0]
        out["mean_exit_time_bounded_error"] = [_estimate(bounded.value(x), bounded_c.value(x)) for x in x0]
        out["survival_at_horizon"] = []
        out["survival_at_horizon_error"] = []
        out["survival"] = {}
        for x in x0:
            d = exit_time_distribution(process, a, b, x, horizon, n_cells=n_cells, n_steps=n_steps)
            d_c = exit_time_distribution(process, a, b, x, horizon, n_cells=coarse, n_steps=half)
            out["survival_at_horizon"].append(float(d.survival[-1]))
            # the exit probability 1 - S is the small number near t = 0: its estimate, from the upper sums
            out["survival_at_horizon_error"].append(_estimate(float(d.survival[-1]), float(d_c.survival[-1])))
            out["survival"][f"{x:g}"] = {"t": d.times, "survival": d.survival}
        out["curve"]["t"] = np.asarray(d.times)
    return out


def _estimate(fine: Any, coarse: Any) -> float:
    r"""The refinement estimate :math:`|X_h - X_{2h}|/3` of a second-order answer (cells, and steps, halved:
    the Richardson error of :math:`X_h`; an indicator, not a bound). ``inf`` when either is infinite.
    (Without it ``P(τ > 0.05)`` = 0.999974 was printed to six decimals for 0.999979: the exit
    probability 2.6e-5 for 2.06e-5, space-resolution error on 400 cells of (−10, 1).)"""
    fine, coarse = float(fine), float(coarse)
    if not (math.isfinite(fine) and math.isfinite(coarse)):
        return math.inf
    return abs(fine - coarse) / 3.0


def _figures(res: Mapping[str, Any]) -> dict[str, Any]:
    import numpy as np

    from gelav.plot import new_axes

    figs: dict[str, Any] = {}
    fig, ax = new_axes()
    c = res["curve"]
    handles = ax.plot(c["x"], c["p_upper_first"], label="P(hit b before a)")
    ax.set_xlabel("starting point x")
    ax.set_ylabel("probability")
    if "mean_exit_time" in c:
        ax2 = ax.twinx()
        handles += ax2.plot(c["x"], c["mean_exit_time"], color="C1", label="E[τ]")
        ax2.set_ylabel("mean exit time [years]")
    elif res.get("divergence"):
        # E[τ] = ∞ from every start: say so on the figure, not only in the table
        ax.text(0.5, 0.5, "E[τ] = ∞ from every starting point\n(" + _short(str(res["divergence"])) + ")",
                transform=ax.transAxes, ha="center", va="center", fontsize=9, color="C3",
                bbox={"facecolor": "white", "edgecolor": "C3", "alpha": 0.9})
    ax.set_title(f"Exit from ({res['a']:g}, {res['b']:g}) of {res['process']}")
    # one legend for both axes, outside the plotting area so it never covers the curves
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(0.0, -0.14), ncol=2, frameon=False)
    figs["exit_time"] = fig
    if "survival" in res:
        fig, ax = new_axes()
        for k, s in res["survival"].items():
            ax.plot(np.asarray(s["t"]), np.asarray(s["survival"]), label=f"x0 = {k}")
        ax.set_xlabel("time t [years]")
        ax.set_ylabel("P(τ > t)")
        ax.set_title("Survival in the interval")
        ax.legend(loc="best")
        figs["survival"] = fig
    return figs


def _short(text: str, width: int = 60) -> str:
    import textwrap

    return "\n".join(textwrap.wrap(text, width)[:3])


def plot_exit_time(res: dict[str, Any], path: str) -> list[str]:
    """Write the figures for ``--plot PATH`` (a file, or a folder: ``exit_time.png``, ``exit_time_survival.png``)."""
    from gelav.tasks._figures import figure_targets, save_figure

    figs = _figures(res)
    targets = figure_targets(path, "exit_time", list(figs))
    for name, fig in figs.items():
        save_figure(fig, targets[name])
    return [str(targets[n]) for n in figs]


def read_exit_time_table(scenario: Mapping[str, Any]) -> dict[str, Any]:
    """The validated fields of the ``[exit_time]`` table."""
    from gelav.scenario import ScenarioError

    def read(sec: Any) -> dict[str, Any]:
        out: dict[str, Any] = {"a": sec.number("a"), "b": sec.number("b"), "horizon": sec.positive("horizon")}
        for k in ("n_cells", "n_steps"):
            out[k] = sec.integer(k, minimum=4)
        x = sec.get("x0")
        if x is not None:
            xs = x if isinstance(x, list) else [x]
            if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in xs):
                raise ScenarioError(f"{source_of(scenario)}: [exit_time] field `x0` = {x!r}: expected a number or "
                                    "list of numbers.")
            out["x0"] = [float(v) for v in xs]
        return out

    return read_table(scenario, "exit_time", FIELDS, read)


class ExitTimeReport(TaskResult):
    """Numbers of :func:`run_exit_time` (``data``: the JSON of ``gelav exit-time``)."""

    data: Any = None
    process: ProcessLike | None = None

    name = "exit_time"

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.data.items() if k not in ("curve", "survival")} | {"curve": self.data["curve"]}

    def key_numbers(self) -> dict[str, Any]:
        from gelav._display import Probability  # small: scientific notation, never 0

        d = self.data
        out: dict[str, Any] = {}
        for i, x in enumerate(d["x0"]):
            out[f"P(hit b = {d['b']:g} before a = {d['a']:g}) from x0 = {x:g}"] = Probability(d["p_upper_first"][i])
            out[f"E[τ] from x0 = {x:g} [years]"] = d["mean_exit_time"][i]
            if "horizon" in d:
                out[f"E[min(τ, {d['horizon']:g})] from x0 = {x:g} [years]"] = d["mean_exit_time_bounded"][i]
                out[f"P(τ > {d['horizon']:g}) from x0 = {x:g}"] = Probability(d["survival_at_horizon"][i])
        for side, label in (("lower", "lower end a"), ("upper", "upper end b")):
            out[f"{label}: Feller class"] = d["boundaries"][side]["kind"]
        return out

    def figures(self) -> dict[str, Any]:
        return _figures(self.data)

    def tables(self) -> dict[str, dict[str, Any]]:
        import numpy as np

        c = self.data["curve"]
        out = {"curve": {k: np.asarray(v) for k, v in c.items() if k != "t"}}
        for k, s in self.data.get("survival", {}).items():
            out[f"survival_x0_{k}"] = {"t": np.asarray(s["t"]), "survival": np.asarray(s["survival"])}
        return out


def _check_in_state_space(process: ProcessLike, a: Any, b: Any) -> None:
    """Refuse a limit outside the process's state space, naming its option (GBM with ``--a -1`` said "Cannot
    classify the end at x=-1: the coefficients are not finite")."""
    from gelav.processes.protocol import domain_of, name_of

    lo, hi = domain_of(process)
    space = f"({'-∞' if lo == -math.inf else f'{lo:g}'}, {'∞' if hi == math.inf else f'{hi:g}'})"
    for name, v in (("a", a), ("b", b)):
        if v is not None and isinstance(v, (int, float)) and (v < lo or v > hi):
            raise ValueError(f"`--{name}` = {v:g} lies outside the state space {space} of {name_of(process)}: "
                             "the limits of the interval must be states of the process (or its ends).")


def exit_time(scenario: ScenarioLike = None, *, process: ProcessLike | None = None, kind: str | None = None,
              x0: Any = None, **options: Any) -> ExitTimeReport:
    """Exit from (a, b): a scenario's ``[process]`` and ``[exit_time]`` tables, overridden by the options.

    ``kind`` with ``mu, sigma, kappa, mean`` builds the process (a new ``kind``
    drops the file's parameters); the default is seed 002's Y = e^W on (0, 1).
    """
    from gelav.tasks._base import DEFAULTS
    from gelav.tasks._models import build_process as process_from_config

    params = {k: options.pop(k) for k in ("mu", "sigma", "kappa", "mean") if k in options}
    if x0 is not None:
        options["x0"] = [float(v) for v in (x0 if isinstance(x0, (list, tuple)) else [x0])] or None
    sc, s = settings("exit_time", scenario, options, FIELDS, read_exit_time_table,
                     extra=("kind", "mu", "sigma", "kappa", "mean", "process"))
    if process is None:
        table: dict[str, Any] = dict(sc["process"]) if "process" in sc else dict(DEFAULTS["exit_time"]["process"])
        if kind is not None and kind != table.get("kind"):
            table = {"kind": kind}
        table.update({k: v for k, v in params.items() if v is not None})
        process = process_from_config(table, source=source_of(sc) if sc else "command line")
    _check_in_state_space(process, s["a"], s["b"])
    if s["x0"] is None:
        s["x0"] = [s["a"] + f * (s["b"] - s["a"]) for f in (0.25, 0.5, 0.75)]
    data = run_exit_time(process, s["a"], s["b"], s["x0"], horizon=s["horizon"], n_cells=s["n_cells"],
                         n_steps=s["n_steps"])
    inputs = {k: s[k] for k in FIELDS}
    return ExitTimeReport(inputs=inputs, data=data, process=process)
