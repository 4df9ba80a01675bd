r"""The Jensen-bias task: the bias of discounting at the expected rate, :math:`E[e^{-\int r}] - e^{-\int E[r]}`.

The ``[jensen]`` table: without ``horizon`` and with the static model, the
course's asset-class table (:func:`gelav.valuation.jensen.jensen_table`); with
``horizon`` (and ``mu``, ``sigma_r``) one static row; with ``model = "vasicek"``,
``"cir"`` or ``"liquidity"`` a rate process, by Feynman–Kac and the affine closed form.
"""

from __future__ import annotations

from typing import Any

from gelav.tasks._base import ScenarioLike, TaskResult, check_options, read_scenario, read_table

__all__ = ["FIELDS", "JensenReport", "bias_figure", "jensen"]

#: the fields of the ``[jensen]`` table and their kinds
FIELDS = {"horizon": "positive", "mu": "number", "sigma_r": "number", "model": "string", "kappa": "positive",
          "sigma": "positive", "r0": "number", "theta": "number", "L0": "number", "cells": "integer",
          "steps": "integer"}

_PROCESS_ONLY = ("sigma_r", "kappa", "sigma", "r0", "theta", "L0")


class JensenReport(TaskResult):
    """The asset-class table (``table``) or one bias (``result``, a :class:`~gelav.valuation.jensen.JensenBias`)."""

    table: Any = None
    result: Any = None

    name = "jensen"

    def to_dict(self) -> dict[str, Any]:
        return self.table.to_dict() if self.table is not None else self.result.to_dict()

    def key_numbers(self) -> dict[str, Any]:
        if self.table is not None:
            out: dict[str, Any] = {"expected rate μ": self.table.mu}
            for name, T, _s, exact, _so, ann in self.table.rows:
                out[f"{name} (T = {T:g} y): bias of the discount factor"] = exact
                out[f"{name}: annualised bias [per year]"] = ann
            return out
        r = self.result
        out = {"model": r.model, "horizon T [y]": r.horizon, "E[discount factor]": r.expected_discount,
               "DCF at the expected rate": r.dcf, "bias of the discount factor": r.bias,
               "relative bias": r.relative, "annualised bias [per year]": r.annualised}
        if r.second_order is not None:
            out["second-order bias ½T²σ²e^{−μT}"] = r.second_order
        if r.feynman_kac is not None:
            out["Feynman–Kac E[exp(−∫r)]"] = r.feynman_kac
            out["Feynman–Kac minus closed form"] = r.diagnostics["fk_minus_closed_form"]
        return out

    def figures(self) -> dict[str, Any]:
        return {"jensen": self.table.plot() if self.table is not None else bias_figure(self.result)}


def jensen(scenario: ScenarioLike = None, **options: Any) -> JensenReport:
    """The Jensen bias of the ``[jensen]`` table (options, the same fields, override it).

    Raises
    ------
    ValueError
        A process parameter for the static table (which uses each class's own T and σ_r) without ``horizon``.
    """
    from gelav.valuation.jensen import jensen_bias, jensen_table

    check_options("jensen", options, tuple(FIELDS))
    v = {**read_table(read_scenario(scenario), "jensen", FIELDS), **{k: x for k, x in options.items() if x is not None}}
    model = v.get("model", "static")
    mu = v.get("mu", 0.08)
    from gelav._validation import MAX_CELLS, check_int

    for k, least in (("cells", 8), ("steps", 2)):  # checked even where the static model ignores them
        if k in v:
            check_int(k, v[k], minimum=least, maximum=MAX_CELLS)
    if model == "static" and "horizon" not in v:
        for k in _PROCESS_ONLY:
            if k in v:
                raise ValueError(f"`{k}` needs `horizon` for one row (the table uses each class's own T and σ_r).")
        return JensenReport(inputs=v, table=jensen_table(mu))
    kw: dict[str, Any] = {k: v[k] for k in ("kappa", "sigma", "r0", "theta", "L0") if k in v}
    if model != "static":
        kw.update({"n_cells": v.get("cells", 400), "n_steps": v.get("steps", 400)})
    res = jensen_bias(v.get("horizon", 10.0), mu, v.get("sigma_r", 0.05), model=model, **kw)
    return JensenReport(inputs=v, result=res)


def bias_figure(res: Any) -> Any:
    """Bias of one model against the horizon (the static model's exact and second-order forms for it)."""
    import numpy as np

    from gelav.plot import new_axes
    from gelav.valuation.jensen import jensen_bias

    fig, ax = new_axes()
    Ts = np.linspace(0.5, max(res.horizon, 1.0) * 1.5, 30)
    mu, s = res.params.get("mu", 0.08), res.params.get("sigma_r", None)
    if res.model == "static":
        ax.plot(Ts, [jensen_bias(t, mu, s).bias for t in Ts], label="static (exact)")
        ax.plot(Ts, [jensen_bias(t, mu, s).second_order for t in Ts], ls="--", label="static (second order)")
    else:
        from gelav.valuation.jensen import cir_bond, vasicek_bond

        p = res.params
        if res.model == "cir":
            bond = [cir_bond(t, p["r0"], p["kappa"], p["mu"], p["sigma"]) for t in Ts]
            k = p["kappa"]
        else:
            k = p.get("kappa", p.get("kappa_L"))
            vol = p.get("sigma", p.get("rate_sigma"))
            bond = [vasicek_bond(t, p["r0"], k, p["mu"], vol) for t in Ts]
        B = (1 - np.exp(-k * Ts)) / k
        dcf = np.exp(-(p["mu"] * Ts + (p["r0"] - p["mu"]) * B))
        ax.plot(Ts, np.asarray(bond) - dcf, label=f"{res.model} (closed form)")
    ax.axvline(res.horizon, color="0.5", ls=":", lw=1)
    ax.set_xlabel("horizon T [years]")
    ax.set_ylabel("bias of the discount factor [per unit]")
    ax.set_title(f"Jensen bias of DCF, model {res.model}")
    from gelav.plot import legend_below

    legend_below(ax)
    return fig
