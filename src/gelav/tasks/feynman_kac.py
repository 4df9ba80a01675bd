r"""The Feynman–Kac task: seed 002's expected selling price (or a call/put) with limit orders.

Solves :math:`u_t + \mu y u_y + \tfrac12\sigma_0^2 y^2 u_{yy} - r u = 0`,
:math:`u(T, y) = g(y)`, with the chosen condition at the limits, for
:math:`Y = e^X`, :math:`dX = \mu_0 dt + \sigma_0 dW` (so :math:`\mu = \mu_0 + \sigma_0^2/2`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from gelav.tasks._base import ScenarioLike, TaskResult, settings, source_of

if TYPE_CHECKING:
    from gelav.processes.protocol import ProcessLike

__all__ = ["BOUNDARIES", "FIELDS", "PAYOFFS", "SKIP_EXACT", "SKIP_PDEPE", "FeynmanKacReport", "feynman_kac", "free_value", "payoff_function", "payoff_label",
           "plot_feynman_kac", "read_feynman_kac_table", "run_feynman_kac"]

PAYOFFS = ("price", "call", "put")
BOUNDARIES = ("sold", "knockout", "reflecting")
FIELDS = ("mu0", "sigma0", "horizon", "lower", "upper", "n_cells", "n_steps", "n_times", "payoff", "strike",
          "boundary", "discount", "pdepe", "mc_paths", "mc_steps", "seed", "tol")
#: the table's prices, as fractions of the price grid
TABLE_FRACTIONS = (0.25, 0.5, 0.75)


def payoff_label(payoff: str, strike: float) -> dict[str, str]:
    """Labels that say what is being valued: the seed's selling price, or a call/put."""
    if payoff == "price":
        return {"value": "expected selling price", "Value": "Expected selling price",
                "free": "E(Y_T), no order", "ratio": "ratio of final prices: with / without sales order",
                "title": "Expected selling price of asset"}
    g = f"max(y − {strike:g}, 0)" if payoff == "call" else f"max({strike:g} − y, 0)"
    return {"value": f"value of the {payoff} {g}", "Value": f"Value of the {payoff} {g}",
            "free": "value without limits", "ratio": f"ratio of {payoff} values: with / without limits",
            "title": f"Value of the {payoff}, strike {strike:g}, with limits"}


def payoff_function(kind: str, strike: float) -> Any:
    """The terminal value :math:`g(y)` of a :data:`PAYOFFS` kind: ``y``, :math:`(y - K)^+` or :math:`(K - y)^+`."""
    if kind == "price":
        return lambda y: y
    if kind == "call":
        return lambda y: np.maximum(y - strike, 0.0)
    return lambda y: np.maximum(strike - y, 0.0)


def free_value(payoff: str, strike: float, y: Any, tau: Any, mu: float, sigma: float, discount: float) -> Any:
    r"""Value with no limits: :math:`e^{-r\tau} E[g(Y_\tau) \mid Y_0 = y]`, :math:`Y` a GBM (drift μ, volatility σ).

    Price: :math:`y e^{(\mu - r)\tau}`; call/put: the Black–Scholes formulas
    with the forward :math:`y e^{\mu\tau}`.
    """
    from scipy.special import ndtr

    y = np.asarray(y, dtype=float)
    tau = np.asarray(tau, dtype=float)
    fwd = y * np.exp(mu * tau)
    disc = np.exp(-discount * tau)
    if payoff == "price":
        return disc * fwd
    sd = sigma * np.sqrt(tau)
    with np.errstate(divide="ignore", invalid="ignore"):
        d1 = (np.log(y / strike) + (mu + 0.5 * sigma**2) * tau) / sd
        d2 = d1 - sd
        call = fwd * ndtr(d1) - strike * ndtr(d2)
        put = strike * ndtr(-d2) - fwd * ndtr(-d1)
    v = call if payoff == "call" else put
    at_expiry = np.maximum(y - strike, 0.0) if payoff == "call" else np.maximum(strike - y, 0.0)
    return disc * np.where((tau > 0) & (y > 0), v, at_expiry + 0 * tau)


#: why the closed-form methods are skipped for a typed-in model
SKIP_EXACT = "no exact law for a typed-in model (the value without limits is the GBM's Black–Scholes formula)"
SKIP_PDEPE = "the pdepe cross-check is written for the GBM price; a typed-in model is cross-checked by Monte Carlo"


def run_feynman_kac(*, mu0: float = 0.0, sigma0: float = 1.0, horizon: float = 1.0, lower: float = 0.0,
                    upper: float = 1.0, n_cells: int = 100, n_steps: int = 200, n_times: int = 21,
                    payoff: str = "price", strike: float = 0.5, boundary: str = "sold", discount: float = 0.0,
                    pdepe: bool = True, process: ProcessLike | None = None, mc_paths: int = 20_000, mc_steps: int = 1600,
                    seed: int = 0, tol: float | None = None) -> dict[str, Any]:
    r"""Solve seed 002's problem with :func:`gelav.backward` (and :func:`gelav.pdepe`); return the numbers.

    With ``process`` (a typed-in model for the price :math:`Y`, see :mod:`gelav.tasks._models`) the
    same PDE is solved with its generator; the GBM-only methods (the value without limits, pdepe) are
    listed under ``skipped`` with the reason, and a Monte Carlo estimate of
    :math:`E[e^{-r(\tau\wedge T)} g(Y_{\tau\wedge T})]` (Euler, ``mc_paths`` paths, ``mc_steps``
    steps, absorbing limits with the Brownian-bridge correction) is given at the table's prices.

    With ``tol`` the table's values come from :func:`gelav.backward` with ``tol=`` at each price
    (``out["to_tolerance"]``: value, validated error estimate, cells, order); the surface, the figures and
    the cross-checks stay on ``n_cells``."""
    from gelav.backward import Dirichlet, Reflecting, backward
    from gelav.processes import GeometricBrownianMotion

    if process is not None:
        return _run_typed(process, horizon=horizon, lower=lower, upper=upper, n_cells=n_cells, n_steps=n_steps,
                          n_times=n_times, payoff=payoff, strike=strike, boundary=boundary, discount=discount,
                          mc_paths=mc_paths, mc_steps=mc_steps, seed=seed, tol=tol)
    if payoff not in PAYOFFS:
        raise ValueError(f"`payoff` must be one of {', '.join(PAYOFFS)}, got {payoff!r}.")
    if boundary not in BOUNDARIES:
        raise ValueError(f"`boundary` must be one of {', '.join(BOUNDARIES)}, got {boundary!r}.")
    if not 0 <= lower < upper:
        raise ValueError(f"The price grid needs 0 <= lower < upper, got lower={lower}, upper={upper}.")
    mu = mu0 + 0.5 * sigma0**2  # Itô: Y = exp(mu0 t + sigma0 W) has dY = (mu0 + sigma0²/2) Y dt + sigma0 Y dW
    proc = GeometricBrownianMotion(mu, sigma0)
    g = payoff_function(payoff, strike)
    side = {"sold": Dirichlet("payoff"), "knockout": Dirichlet(0.0), "reflecting": Reflecting()}[boundary]
    tau = np.linspace(0.0, horizon, n_times)  # time left, as in the seed's tgrid
    val = backward(proc, g, horizon, discount=discount or None, lower=side, upper=side,
                   domain=(lower, upper), n_cells=n_cells, n_steps=n_steps, times=horizon - tau)
    y = val.x
    surface = np.array([val.at(horizon - t) for t in tau])  # sol[tau, y] like the seed's pdepe output

    def ratio_to_free(u: Any, y0: Any) -> Any:  # with / without limits; undefined where the free value is 0
        free = free_value(payoff, strike, y0, tau if np.ndim(y0) == 0 else tau[:, None], mu, sigma0, discount)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(free > 0, u / np.where(free > 0, free, 1.0), np.nan)

    out: dict[str, Any] = {
        "process": {"kind": "gbm", "mu": mu, "sigma": sigma0, "mu0": mu0, "sigma0": sigma0},
        "payoff": payoff, "boundary": boundary, "discount": discount, "horizon": horizon,
        "price_grid": [lower, upper, n_cells], "n_steps": n_steps,
        "time_left": tau, "price": y, "expected_selling_price": surface, "ratio": ratio_to_free(surface, y[None, :]),
        "seconds_backward": val.diagnostics["seconds"],
    }
    _add_limits(out, val, payoff, strike, lower, upper, horizon, tau, ratio_to_free)
    if tol is not None:
        out["to_tolerance"] = _to_tolerance(proc, g, horizon, discount, side, lower, upper, n_cells, n_steps, tol)
    if pdepe and payoff == "price" and boundary == "sold" and discount == 0.0:
        import time

        from gelav.pdepe import pdepe as _pdepe

        t0 = time.perf_counter()
        # v(τ, Y) = u(T - τ, Y):  v_τ = (σ²Y²/2 v_Y)_Y + (μ - σ²) Y v_Y
        sol = _pdepe(0, lambda x, t, v, d: (1.0, 0.5 * sigma0**2 * x**2 * d, (mu - sigma0**2) * x * d),
                     lambda x: x, lambda xl, vl, xr, vr, t: (vl - xl, 0.0, vr - xr, 0.0), y, tau,
                     RelTol=1e-8, AbsTol=1e-10)[:, :, 0]
        out["pdepe_max_abs_diff"] = float(np.abs(sol - surface).max())
        out["seconds_pdepe"] = time.perf_counter() - t0
    return out


def _to_tolerance(process: ProcessLike, g: Any, horizon: float, discount: float, side: Any, lower: float, upper: float,
                  n_cells: int, n_steps: int, tol: float) -> dict[str, Any]:
    """The value at each of the table's prices by :func:`gelav.backward` with ``tol`` (its validated refinement
    estimate, from ``n_cells`` and ``n_steps`` up)."""
    from gelav.backward import backward

    rows = []
    for frac in TABLE_FRACTIONS:
        y0 = lower + frac * (upper - lower)
        v = backward(process, g, horizon, discount=discount or None, lower=side, upper=side, domain=(lower, upper),
                     x0=y0, n_cells=n_cells, n_steps=n_steps, tol=tol)
        d = v.diagnostics
        rows.append({"price": y0, "value": float(v.value(y0)), "error_estimate": d["error_estimate"],
                     "cells": d["refinement"][-1]["cells"], "steps": d["refinement"][-1]["steps"],
                     "order": d["order"]})
    return {"tol": tol, "rows": rows}


def _add_limits(out: dict[str, Any], val: Any, payoff: str, strike: float, lower: float, upper: float,
                horizon: float, tau: Any, ratio: Any) -> None:
    """The payoff's labels and the seed's two limit rows (orders at two and four times the price)."""
    if payoff != "price":
        out["strike"] = strike
        out["labels"] = payoff_label(payoff, strike)
    for label, frac in (("limit_2x", 0.5), ("limit_4x", 0.25)):
        y0 = lower + frac * (upper - lower)
        row = np.array([val.value(y0, horizon - t) for t in tau])
        out[label] = {"price": y0, "expected_selling_price": row, "ratio": ratio(row, y0)}


def _run_typed(process: ProcessLike, *, horizon: float, lower: float, upper: float, n_cells: int, n_steps: int,
               n_times: int, payoff: str, strike: float, boundary: str, discount: float, mc_paths: int,
               mc_steps: int, seed: int, tol: float | None = None) -> dict[str, Any]:
    """:func:`run_feynman_kac` for a typed-in process: the PDE, and Monte Carlo at the table's prices."""
    import math

    from gelav.backward import Dirichlet, Reflecting, backward
    from gelav.mc.montecarlo import simulate
    from gelav.processes.protocol import domain_of, name_of

    if payoff not in PAYOFFS:
        raise ValueError(f"`payoff` must be one of {', '.join(PAYOFFS)}, got {payoff!r}.")
    if boundary not in BOUNDARIES:
        raise ValueError(f"`boundary` must be one of {', '.join(BOUNDARIES)}, got {boundary!r}.")
    dom = domain_of(process)
    if not (dom[0] <= lower < upper <= dom[1]):
        raise ValueError(f"The price grid needs lower < upper inside the model's domain {list(dom)}, got "
                         f"lower={lower}, upper={upper}.")
    g = payoff_function(payoff, strike)
    side = {"sold": Dirichlet("payoff"), "knockout": Dirichlet(0.0), "reflecting": Reflecting()}[boundary]
    tau = np.linspace(0.0, horizon, n_times)
    val = backward(process, g, horizon, discount=discount or None, lower=side, upper=side,
                   domain=(lower, upper), n_cells=n_cells, n_steps=n_steps, times=horizon - tau)
    y = val.x
    surface = np.array([val.at(horizon - t) for t in tau])
    nan = np.full_like(surface, np.nan)
    out: dict[str, Any] = {
        "process": {"kind": "custom", "name": name_of(process)},
        "payoff": payoff, "boundary": boundary, "discount": discount, "horizon": horizon,
        "price_grid": [lower, upper, n_cells], "n_steps": n_steps, "time_left": tau, "price": y,
        "expected_selling_price": surface, "ratio": nan, "seconds_backward": val.diagnostics["seconds"],
        "skipped": {"exact_law": SKIP_EXACT, "pdepe": SKIP_PDEPE},
    }
    _add_limits(out, val, payoff, strike, lower, upper, horizon, tau, lambda row, y0: np.full_like(row, np.nan))
    if tol is not None:
        out["to_tolerance"] = _to_tolerance(process, g, horizon, discount, side, lower, upper, n_cells, n_steps, tol)
    if boundary == "reflecting":
        out["skipped"]["monte_carlo"] = "the Monte Carlo engine has absorbing limits only"
        return out
    mc = []
    for k, frac in enumerate(TABLE_FRACTIONS):
        y0 = lower + frac * (upper - lower)
        paths = simulate(process, y0, horizon, mc_steps, mc_paths, lower=lower, upper=upper, workers=1,
                         seed=np.random.SeedSequence([seed, k]))
        assert paths.exit_time is not None and paths.exit_side is not None
        hit = np.isfinite(paths.exit_time)
        t_end = np.where(hit, paths.exit_time, horizon)
        y_end = np.where(paths.exit_side < 0, lower, np.where(paths.exit_side > 0, upper, paths.values[-1]))
        pay = g(y_end) if boundary == "sold" else np.where(hit, 0.0, g(y_end))
        v = np.exp(-discount * t_end) * pay
        mc.append({"price": y0, "value": float(v.mean()), "stderr": float(v.std(ddof=1) / math.sqrt(v.size)),
                   "pde": float(np.interp(y0, y, surface[-1]))})
    out["monte_carlo"] = {"paths": mc_paths, "steps": mc_steps, "scheme": "euler", "seed": seed, "rows": mc}
    return out


def _figures(res: Mapping[str, Any]) -> dict[str, Any]:
    """The seed's three figures (surface of the value, surface of the ratio, ratio at two limits)."""
    from gelav.plot import new_axes

    lab = payoff_label(str(res["payoff"]), float(res.get("strike", 0.5)))
    y, tau = np.asarray(res["price"]), np.asarray(res["time_left"])
    Y, Tm = np.meshgrid(y, tau)
    figs: dict[str, Any] = {}
    for name, Z, zl, title in (
        ("expected_selling_price", np.asarray(res["expected_selling_price"]), lab["value"], lab["title"]),
        ("ratio_surface", np.asarray(res["ratio"], dtype=float), "ratio", lab["ratio"].capitalize()),
    ):
        fig, ax = new_axes(projection="3d")
        ax.plot_surface(Y, Tm, Z, cmap="viridis", linewidth=0)
        ax.set_xlabel("price")
        ax.set_ylabel("time left T - t [years]")
        ax.set_zlabel(zl)
        ax.set_title(title)
        figs[name] = fig
    fig, ax = new_axes()
    what = "sales order" if res["payoff"] == "price" else "limit"
    ax.plot(tau, res["limit_2x"]["ratio"], label=f"{what} at two times the current price")
    ax.plot(tau, res["limit_4x"]["ratio"], label=f"{what} at four times the current price")
    ax.set_xlabel("timespan the order is valid [years]")
    ax.set_ylabel(lab["ratio"])
    ax.set_title("Cost of a limit sales order (seed 002)" if res["payoff"] == "price" else lab["title"])
    ax.legend(loc="best")
    figs["ratio_limits"] = fig
    return figs


def plot_feynman_kac(res: dict[str, Any], folder: str) -> list[str]:
    """Write the seed's three figures into ``folder``; return the paths."""
    from gelav.tasks._figures import save_figure

    files = []
    for name, fig in _figures(res).items():
        path = f"{folder}/{name}.png"
        save_figure(fig, path)
        files.append(path)
    return files


def read_feynman_kac_table(scenario: Mapping[str, Any]) -> dict[str, Any]:
    """The validated fields of the ``[feynman_kac]`` table."""
    from gelav.scenario import Section

    sec = Section(scenario.get("feynman_kac"), "feynman_kac", source=source_of(scenario))
    out: dict[str, Any] = {k: sec.number(k) for k in ("mu0", "sigma0", "discount", "lower", "upper", "strike")}
    out["horizon"] = sec.positive("horizon")
    for k in ("n_cells", "n_steps", "n_times", "mc_paths", "mc_steps"):
        out[k] = sec.integer(k, minimum=4 if k == "n_cells" else (2 if k == "mc_paths" else 1))
    out["seed"] = sec.integer("seed", minimum=0)
    out["payoff"] = sec.choice("payoff", PAYOFFS)
    out["boundary"] = sec.choice("boundary", BOUNDARIES)
    p = sec.get("pdepe")
    out["pdepe"] = None if p is None else bool(p)
    out["tol"] = sec.positive("tol")
    sec.check_unknown(FIELDS)
    return {k: v for k, v in out.items() if v is not None}


class FeynmanKacReport(TaskResult):
    """Numbers of :func:`run_feynman_kac` (``data``, the JSON of ``gelav feynman-kac``)."""

    data: Any = TaskResult.json_field()

    name = "feynman_kac"

    @property
    def labels(self) -> dict[str, str]:
        return payoff_label(str(self.data["payoff"]), float(self.data.get("strike", self.inputs["strike"])))

    @property
    def title(self) -> str:
        """What is valued: the seed's expected selling price, or the call/put."""
        if self.data["payoff"] == "price":
            return "Feynman–Kac: expected selling price (seed 002)"
        return f"Feynman–Kac: {self.labels['value']} with limits"

    def rows(self) -> list[list[float]]:
        """At a quarter, half and three quarters of the price grid: price, value, value without limits, ratio (the
        value to ``tol`` where it was asked for)."""
        d = self.data
        lo, hi = d["price_grid"][0], d["price_grid"][1]
        T = d["horizon"]
        refined = {r["price"]: r["value"] for r in d.get("to_tolerance", {}).get("rows", [])}
        out = []
        for frac in TABLE_FRACTIONS:
            y0 = lo + frac * (hi - lo)
            u = refined.get(y0, float(np.interp(y0, d["price"], d["expected_selling_price"][-1])))
            if d["process"]["kind"] == "custom":  # no value without limits (no exact law): skipped
                out.append([y0, u, float("nan"), float("nan")])
                continue
            e = float(free_value(str(d["payoff"]), float(self.inputs["strike"]), y0, T, d["process"]["mu"],
                                 d["process"]["sigma"], float(d["discount"])))
            out.append([y0, u, e, u / e if e > 0 else float("nan")])
        return out

    def key_numbers(self) -> dict[str, Any]:
        lab = self.labels
        out: dict[str, Any] = {}
        for y0, u, e, r in self.rows():
            out[f"{lab['value']} from y = {y0:.3g}"] = u
            if e == e:  # a typed-in model has no value without limits (skipped)
                out[f"{lab['free']} from y = {y0:.3g}"] = e
                out[f"ratio from y = {y0:.3g}"] = r
        for row in self.data.get("to_tolerance", {}).get("rows", []):
            out[f"error estimate from y = {row['price']:.3g} (tol {self.data['to_tolerance']['tol']:g})"] = \
                row["error_estimate"]
        for row in self.data.get("monte_carlo", {}).get("rows", []):
            out[f"Monte Carlo from y = {row['price']:.3g}"] = row["value"]
        if "pdepe_max_abs_diff" in self.data:
            out["pdepe cross-check: max |difference|"] = self.data["pdepe_max_abs_diff"]
        return out

    def figures(self) -> dict[str, Any]:
        return _figures(self.data)

    def figure_paths(self, path: Any, names: list[str]) -> dict[str, Any]:
        """``--plot FOLDER``: the seed's file names (``expected_selling_price.png``, ...)."""
        from pathlib import Path

        from gelav.tasks._figures import figure_targets, is_folder

        if is_folder(path):
            return {n: Path(path) / f"{n}.png" for n in names}
        return figure_targets(path, self.name, names)

    def tables(self) -> dict[str, dict[str, Any]]:
        d = self.data
        tau, y = np.asarray(d["time_left"]), np.asarray(d["price"])
        T, Y = np.meshgrid(tau, y, indexing="ij")
        return {"values": {"time_left": T.ravel(), "price": Y.ravel(),
                           "value": np.asarray(d["expected_selling_price"]).ravel(),
                           "ratio": np.asarray(d["ratio"], dtype=float).ravel()}}


def feynman_kac(scenario: ScenarioLike = None, *, process: ProcessLike | None = None, **options: Any) -> FeynmanKacReport:
    """Seed 002 from a scenario's ``[feynman_kac]`` table and keyword options (``None``: not given).

    ``process`` (or a ``[process]`` table with ``kind = "custom"``): a typed-in model of the price
    instead of the seed's GBM (``mu0``/``sigma0`` are then unused)."""
    from gelav._validation import check_finite, check_horizon, check_rate
    from gelav.tasks._models import build_process, is_custom

    sc, s = settings("feynman_kac", scenario, options, FIELDS, read_feynman_kac_table)
    if process is None and is_custom(sc.get("process")):
        process = build_process(sc["process"], source=source_of(sc))
    if process is not None:
        if s["horizon"] <= 0:
            raise ValueError(f"`horizon` must be > 0, got {s['horizon']}.")
        if s["discount"] < 0:
            raise ValueError(f"`discount` must be >= 0, got {s['discount']}.")
        check_finite("strike", s["strike"])
        data = run_feynman_kac(**{k: v for k, v in s.items() if k not in ("mu0", "sigma0", "pdepe")},
                               process=process)
        from gelav.results import Diagnostics

        return FeynmanKacReport(inputs=s, diagnostics=Diagnostics(timings={"backward": data["seconds_backward"]}),
                                data=data)
    for k in ("mu0", "sigma0", "strike"):  # before `mu` = mu0 + sigma0²/2 is formed, so errors name these
        check_finite(k, s[k])
    check_rate("mu0", s["mu0"], positive=False)
    check_rate("sigma0", s["sigma0"])  # σ0 = 1e308 overflowed σ0²/2 ("Numerical result out of range")
    check_horizon("horizon", s["horizon"])
    for k in ("lower", "upper"):  # the price grid's ends, named as given (not `domain[1]`)
        check_finite(k, s[k])
    if s["discount"] < 0:
        raise ValueError(f"`discount` must be >= 0, got {s['discount']}.")
    data = run_feynman_kac(**s)
    from gelav.results import Diagnostics

    timings = {"backward": data["seconds_backward"]}
    if "seconds_pdepe" in data:
        timings["pdepe"] = data["seconds_pdepe"]
    return FeynmanKacReport(inputs=s, diagnostics=Diagnostics(timings=timings), data=data)
