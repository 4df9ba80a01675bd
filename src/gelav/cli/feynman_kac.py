"""``gelav feynman-kac``: seed 002's expected selling price of an asset with limit orders."""

from __future__ import annotations

import math
from typing import Any

import click

from gelav.cli._common import dump_json, handle_errors, print_table, save_figure

PAYOFFS = ("price", "call", "put")
BOUNDARIES = ("sold", "knockout", "reflecting")
FIELDS = ("mu0", "sigma0", "horizon", "lower", "upper", "n_cells", "n_steps", "n_times", "payoff", "strike",
          "boundary", "discount", "pdepe")


def _payoff(kind: str, strike: float) -> Any:
    import numpy as np

    if kind == "price":
        return lambda y: y
    if kind == "call":
        return lambda y: np.maximum(y - strike, 0.0)
    return lambda y: np.maximum(strike - y, 0.0)


def run_feynman_kac(*, mu0: float = 0.0, sigma0: float = 1.0, horizon: float = 1.0, lower: float = 0.0,
                    upper: float = 1.0, n_cells: int = 100, n_steps: int = 200, n_times: int = 21,
                    payoff: str = "price", strike: float = 0.5, boundary: str = "sold", discount: float = 0.0,
                    pdepe: bool = True) -> dict[str, Any]:
    """Solve seed 002's problem with :func:`gelav.backward` (and :func:`gelav.pdepe`); return the numbers."""
    import numpy as np

    from gelav.backward import Dirichlet, Reflecting, backward
    from gelav.processes import GeometricBrownianMotion

    if payoff not in PAYOFFS:
        raise ValueError(f"`payoff` must be one of {', '.join(PAYOFFS)}, got {payoff!r}.")
    if boundary not in BOUNDARIES:
        raise ValueError(f"`boundary` must be one of {', '.join(BOUNDARIES)}, got {boundary!r}.")
    if not 0 <= lower < upper:
        raise ValueError(f"The price grid needs 0 <= lower < upper, got lower={lower}, upper={upper}.")
    mu = mu0 + 0.5 * sigma0**2  # Itô: Y = exp(mu0 t + sigma0 W) has dY = (mu0 + sigma0²/2) Y dt + sigma0 Y dW
    proc = GeometricBrownianMotion(mu, sigma0)
    g = _payoff(payoff, strike)
    side = {"sold": Dirichlet("payoff"), "knockout": Dirichlet(0.0), "reflecting": Reflecting()}[boundary]
    tau = np.linspace(0.0, horizon, n_times)  # time left, as in the seed's tgrid
    val = backward(proc, g, horizon, discount=discount or None, lower=side, upper=side,
                   domain=(lower, upper), n_cells=n_cells, n_steps=n_steps, times=horizon - tau)
    y = val.x
    surface = np.array([val.at(horizon - t) for t in tau])  # sol[tau, y] like the seed's pdepe output
    expected = np.exp(mu * tau)[:, None] * y[None, :]  # E[Y_T] without a sales order
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(expected > 0, surface / expected, np.nan)
    out: dict[str, Any] = {
        "process": {"kind": "gbm", "mu": mu, "sigma": sigma0, "mu0": mu0, "sigma0": sigma0},
        "payoff": payoff, "boundary": boundary, "discount": discount, "horizon": horizon,
        "price_grid": [lower, upper, n_cells], "n_steps": n_steps,
        "time_left": tau, "price": y, "expected_selling_price": surface, "ratio": ratio,
        "seconds_backward": val.diagnostics["seconds"],
    }
    for label, frac in (("limit_2x", 0.5), ("limit_4x", 0.25)):
        y0 = lower + frac * (upper - lower)
        row = np.array([val.value(y0, horizon - t) for t in tau])
        out[label] = {"price": y0, "expected_selling_price": row, "ratio": row / (y0 * np.exp(mu * tau))}
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


def plot_feynman_kac(res: dict[str, Any], folder: str) -> list[str]:
    """Write the seed's three figures into ``folder``; return the paths."""
    import numpy as np

    from gelav.plot import new_axes

    files = []
    y, tau = np.asarray(res["price"]), np.asarray(res["time_left"])
    Y, Tm = np.meshgrid(y, tau)
    for name, Z, zl, title in (
        ("expected_selling_price.png", np.asarray(res["expected_selling_price"]), "expected final price",
         "Expected selling price of asset"),
        ("ratio_surface.png", np.asarray(res["ratio"], dtype=float), "ratio of final prices",
         "Ratio of expected final prices: with / without sales order"),
    ):
        fig, ax = new_axes(projection="3d")
        ax.plot_surface(Y, Tm, np.nan_to_num(Z, nan=np.nan), cmap="viridis", linewidth=0)
        ax.set_xlabel("price")
        ax.set_ylabel("time left T - t [years]")
        ax.set_zlabel(zl)
        ax.set_title(title)
        path = f"{folder}/{name}"
        save_figure(fig, path)
        files.append(path)
    fig, ax = new_axes()
    ax.plot(tau, res["limit_2x"]["ratio"], label="Limit at two times current price")
    ax.plot(tau, res["limit_4x"]["ratio"], label="Limit at four times current price")
    ax.set_xlabel("timespan the order is valid [years]")
    ax.set_ylabel("ratio of final prices: with / without sales order")
    ax.set_title("Cost of a limit sales order (seed 002)")
    ax.legend()
    path = f"{folder}/ratio_limits.png"
    save_figure(fig, path)
    files.append(path)
    return files


@click.command("feynman-kac")
@click.option("--mu0", type=float, default=None, help="Drift of log-price X (seed: 0).")
@click.option("--sigma0", type=float, default=None, help="Volatility of X (seed: 1).")
@click.option("--horizon", "-T", type=float, default=None, help="Horizon T in years (seed: 1).")
@click.option("--lower", type=float, default=None, help="Lower limit price (seed: 0).")
@click.option("--upper", type=float, default=None, help="Upper limit price (seed: 1).")
@click.option("--n-cells", type=int, default=None, help="Price cells (seed: 100).")
@click.option("--n-steps", type=int, default=None, help="Time steps (default 200).")
@click.option("--payoff", type=click.Choice(PAYOFFS), default=None, help="g(y): the price (seed), a call or a put.")
@click.option("--strike", type=float, default=None, help="Strike for call/put payoffs [default 0.5].")
@click.option("--boundary", type=click.Choice(BOUNDARIES), default=None,
              help="At the limits: sold (u = g, seed), knockout (u = 0) or reflecting.")
@click.option("--discount", type=float, default=None, help="Discount rate r >= 0 (seed: 0).")
@click.option("--no-pdepe", is_flag=True, help="Skip the pdepe cross-check.")
@click.option("--config", "config", type=click.Path(dir_okay=False), default=None,
              help="Scenario TOML file with a [feynman_kac] table.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("--plot", "plot_dir", type=click.Path(file_okay=False), default=None, help="Write figures here.")
@click.option("--quiet", "-q", is_flag=True, help="No table.")
@handle_errors
def feynman_kac(mu0: float | None, sigma0: float | None, horizon: float | None, lower: float | None,
                upper: float | None, n_cells: int | None, n_steps: int | None, payoff: str | None,
                strike: float | None, boundary: str | None, discount: float | None, no_pdepe: bool,
                config: str | None, as_json: bool, plot_dir: str | None, quiet: bool) -> None:
    """Seed 002: expected selling price of Y = e^X, dX = mu0 dt + sigma0 dW, sold at the limits.

    Solves u_t + mu Y u_Y + (sigma0² Y²/2) u_YY - r u = 0, u(T, y) = g(y), u = g at the
    limits (mu = mu0 + sigma0²/2), with gelav.backward and cross-checks with pdepe.
    """
    from gelav.scenario import Section, load

    settings: dict[str, Any] = {}
    if config is not None:
        data = load(config)
        sec = Section(data.get("feynman_kac"), "feynman_kac", source=data["_path"])
        for k in ("mu0", "sigma0", "discount", "lower", "upper", "strike"):
            v = sec.number(k)
            if v is not None:
                settings[k] = v
        v = sec.positive("horizon")
        if v is not None:
            settings["horizon"] = v
        for k in ("n_cells", "n_steps", "n_times"):
            iv = sec.integer(k, minimum=4 if k == "n_cells" else 1)
            if iv is not None:
                settings[k] = iv
        for k, opts in (("payoff", PAYOFFS), ("boundary", BOUNDARIES)):
            c = sec.choice(k, opts)
            if c is not None:
                settings[k] = c
        p = sec.get("pdepe")
        if p is not None:
            settings["pdepe"] = bool(p)
        sec.check_unknown(FIELDS)
    given: dict[str, Any] = {"mu0": mu0, "sigma0": sigma0, "horizon": horizon, "lower": lower, "upper": upper,
                             "n_cells": n_cells, "n_steps": n_steps, "payoff": payoff, "strike": strike,
                             "boundary": boundary, "discount": discount}
    settings.update({k: v for k, v in given.items() if v is not None})
    if no_pdepe:
        settings["pdepe"] = False
    from gelav._validation import check_finite

    for k in ("mu0", "sigma0", "strike"):  # before `mu` = mu0 + sigma0²/2 is formed, so errors name these
        if k in settings:
            check_finite(k, settings[k])
    if settings.get("sigma0", 1.0) <= 0:
        raise ValueError(f"`sigma0` must be > 0, got {settings['sigma0']}.")
    if settings.get("horizon", 1.0) <= 0:
        raise ValueError(f"`horizon` must be > 0, got {settings['horizon']}.")
    if settings.get("discount", 0.0) < 0:
        raise ValueError(f"`discount` must be >= 0, got {settings['discount']}.")
    res = run_feynman_kac(**settings)
    if plot_dir:
        res["plots"] = plot_feynman_kac(res, plot_dir)
    if as_json:
        dump_json(res)
        return
    if quiet:
        return
    import numpy as np

    T = res["horizon"]
    mu = res["process"]["mu"]
    rows = []
    for frac in (0.25, 0.5, 0.75):
        y0 = res["price_grid"][0] + frac * (res["price_grid"][1] - res["price_grid"][0])
        u = float(np.interp(y0, res["price"], res["expected_selling_price"][-1]))
        e = y0 * math.exp(mu * T)
        rows.append([f"{y0:.3g}", f"{u:.6f}", f"{e:.6f}", f"{u / e:.4f}" if e > 0 else "-"])
    print_table(f"Expected selling price at T = {T:g} (GBM mu = {mu:g}, sigma = {res['process']['sigma']:g}, "
                f"{res['boundary']} at [{res['price_grid'][0]:g}, {res['price_grid'][1]:g}])",
                ["price now", "E(selling price)", "E(Y_T), no order", "ratio"], rows,
                caption=(f"pdepe cross-check: max |diff| = {res['pdepe_max_abs_diff']:.2e}"
                         if "pdepe_max_abs_diff" in res else None))
    if plot_dir:
        click.echo("Figures: " + ", ".join(res["plots"]))
