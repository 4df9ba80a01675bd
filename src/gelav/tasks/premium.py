r"""The illiquidity-premium task: the premium :math:`\pi(L, T)` of a scenario's ``[premium]`` table, fitted to trades.

One ``[premium]`` table serves every command: ``alpha``, ``beta``, ``gamma`` and
``scaling`` give :math:`\pi(L, T) = (\alpha + \beta L + \gamma L^2)\,f(T)` (used by
``metrics``, ``portfolio`` and ``exit-boundary``), and ``data`` (a trades file),
``robust`` and ``by`` ask for the least-squares fit of ``gelav premium``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gelav.tasks._base import ScenarioLike, TaskResult, read_scenario, read_table

__all__ = ["FIELDS", "PremiumReport", "premium", "premium_model"]

#: the fields of the ``[premium]`` table and their kinds
FIELDS = {"alpha": "number", "beta": "number", "gamma": "number", "scaling": "string", "data": "string",
          "robust": "bool", "by": "string"}

_GROUPS = ("fund_type", "trade_year")


def premium_model(scenario: ScenarioLike = None, *, alpha: float | None = None, beta: float | None = None,
                  gamma: float | None = None, scaling: str | None = None) -> Any:
    """The :class:`~gelav.valuation.premium.IlliquidityPremium` of the defaults < ``[premium]`` < the options."""
    from gelav.valuation.premium import IlliquidityPremium

    table = read_table(read_scenario(scenario), "premium", FIELDS)
    vals: dict[str, Any] = {k: table[k] for k in ("alpha", "beta", "gamma", "scaling") if k in table}
    vals.update({k: v for k, v in (("alpha", alpha), ("beta", beta), ("gamma", gamma), ("scaling", scaling))
                 if v is not None})
    return IlliquidityPremium(**vals)


class PremiumReport(TaskResult):
    """The premium of the scenario (``premium``) and, with trades, its fit (``fit``, a ``PremiumFit``)."""

    premium: Any = None
    fit: Any = None

    name = "premium"

    def to_dict(self) -> dict[str, Any]:
        if self.fit is None:
            return {"premium": self.premium.to_dict(), "argmin_L": self.premium.argmin}
        return {"file": self.inputs["data"], **self.fit.summary()}

    def key_numbers(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.fit is None:
            p = self.premium
            out.update({"α level of a(L)": p.alpha, "β slope of a(L) in L": p.beta, "γ curvature of a(L) in L": p.gamma,
                        "term scaling f(T)": p.scaling})
        else:
            f = self.fit
            se = "HC3" if f.method == "ols-hc3" else "Huber sandwich"
            for sym, k, what in (("α", "alpha", "level"), ("β", "beta", "slope in L"), ("γ", "gamma", "curvature")):
                out[f"{sym} {what}"] = f.params[k]
                out[f"{sym} standard error ({se})"] = f.stderr[k]
            out["R² of the fit"] = f.r_squared
            out["trades"] = f.n
            for g, gf in sorted(f.groups.items()):
                for sym, k in (("α", "alpha"), ("β", "beta"), ("γ", "gamma")):
                    out[f"{sym} for {g}"] = gf.params[k]
        amin = self.premium.argmin
        out["L where π is smallest"] = amin if amin is not None else "no interior minimum"
        out["π at L = 0, T = 5 y [share of NAV]"] = float(self.premium(0.0, 5.0))
        return out

    def figures(self) -> dict[str, Any]:
        return {"premium": self.premium.plot() if self.fit is None else self.fit.plot()}


def premium(scenario: ScenarioLike = None, *, data: str | Path | None = None, scaling: str | None = None,
            robust: bool | None = None, by: str | None = None, alpha: float | None = None, beta: float | None = None,
            gamma: float | None = None) -> PremiumReport:
    """Fit :math:`\\pi(L, T)` to the trades file ``data`` (default ``[premium] data``), or, without trades,
    give the premium of the ``[premium]`` parameters; options override the table.

    Raises
    ------
    ValueError
        ``by`` is not ``"fund_type"``/``"trade_year"`` or the file lacks that column; ``scaling`` unknown.
    """
    from gelav.tasks.calibrate import data_path
    from gelav.valuation.fit import fit_premium, read_trades

    sc = read_scenario(scenario)
    table = read_table(sc, "premium", FIELDS)
    model = premium_model(sc, alpha=alpha, beta=beta, gamma=gamma, scaling=scaling)
    path = Path(data) if data is not None else data_path(sc, table.get("data"))
    scaling = scaling or table.get("scaling", "sqrt")
    robust = table.get("robust", False) if robust is None else robust
    by = by or table.get("by")
    inputs = {"data": None if path is None else str(data if data is not None else table["data"]),
              "scaling": scaling, "robust": robust, "by": by}
    if path is None:
        return PremiumReport(inputs=inputs, premium=model)
    if scaling not in ("sqrt", "linear", "none"):
        raise ValueError(f"`scaling` = {scaling!r} is not one of 'sqrt', 'linear', 'none'.")
    trades = read_trades(path)
    groups: Any = None
    if by is not None:
        if by not in _GROUPS:
            raise ValueError(f"`by` = {by!r}: group by 'fund_type' or 'trade_year'.")
        groups = trades[by]
        if groups is None:
            raise ValueError(f"`by`: the file has no column {by!r}.")
        if by == "trade_year":
            groups = [f"{int(v)}" if float(v).is_integer() else f"{v:g}" for v in groups]
    L, T, observed = (trades[k] for k in ("L", "T", "observed"))
    fit = fit_premium(L, T, observed, scaling=scaling, robust=robust, groups=groups)  # type: ignore[arg-type]
    return PremiumReport(inputs=inputs, premium=fit.premium, fit=fit)
