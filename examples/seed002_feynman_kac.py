"""Seed 002, numerically: the expected selling price of an asset with limit orders (Feynman–Kac).

The seed (a MATLAB Symbolic Math Toolbox example) prices an asset Y = e^X with
X = μ0 t + σ0 W, sold when Y hits a limit: u(t, y) = E[Y_{τ∧T} | Y_t = y] solves

    u_t + μ y u_y + ½σ0² y² u_yy = 0,   u(T, y) = y,   u = y at the limits,

with μ = μ0 + σ0²/2 (Itô's rule). Seed values: μ0 = 0, σ0 = 1, price grid [0, 1],
T = 1, r = 0. Here we:

1. solve it with gelav.backward (the shared generator, Crank–Nicolson);
2. solve it again with gelav.pdepe in MATLAB's (c, f, s) form and compare;
3. show what the seed's printed pdepe coefficients actually solve;
4. plot the expected-selling-price surface and the ratio to E[Y_T] = y e^{T/2}
   (limit at 2x and 4x the current price);
5. check forward/backward duality to rounding;
6. compute exit times: infinite for the seed (DivergenceError), finite in the
   bounded version and for μ0 > 0, and the survival function P(τ > t).

Run:  MPLBACKEND=Agg GELAV_EXAMPLE_OUT=out python examples/seed002_feynman_kac.py
(the symbolic half of the seed is examples/seed002_symbolic.py).
"""

from __future__ import annotations

import math
import os
import tempfile
from pathlib import Path

import numpy as np

from gelav import GeometricBrownianMotion, TimeGrid, forward
from gelav.backward import backward, duality_gap
from gelav.errors import DivergenceError
from gelav.exits import classify_boundary, exit_probability, exit_time, exit_time_distribution
from gelav.pdepe import pdepe

OUT = Path(os.environ.get("GELAV_EXAMPLE_OUT") or tempfile.mkdtemp(prefix="gelav_seed002_"))
OUT.mkdir(parents=True, exist_ok=True)

# 1. the model ------------------------------------------------------------------------------
mu0, sigma0, T = 0.0, 1.0, 1.0
mu = mu0 + 0.5 * sigma0**2  # Itô: d(e^X) = (μ0 + σ0²/2) e^X dt + σ0 e^X dW
Y = GeometricBrownianMotion(mu, sigma0)
xgrid = np.linspace(0.0, 1.0, 101)
tgrid = np.linspace(0.0, 1.0, 21)  # time LEFT until T, as in the seed

value = backward(Y, lambda y: y, T, domain=(0.0, 1.0), lower="payoff", upper="payoff",
                 n_cells=100, n_steps=200, times=T - tgrid)
sol_backward = np.array([value.at(T - tau) for tau in tgrid])  # sol[tau, y], MATLAB's layout
print(f"backward: {value.diagnostics['n_nodes']} nodes, {value.diagnostics['n_steps']} steps, "
      f"{value.diagnostics['seconds'] * 1e3:.1f} ms")

# 2. the same with pdepe, MATLAB conventions: v(τ, y) = u(T - τ, y)
#    v_τ = ½σ0²y²v_yy + μ y v_y = (½σ0²y² v_y)_y + (μ - σ0²) y v_y
sol_pdepe = pdepe(0,
                  lambda x, t, v, dvdx: (1.0, 0.5 * sigma0**2 * x**2 * dvdx, (mu - sigma0**2) * x * dvdx),
                  lambda x: x,
                  lambda xl, vl, xr, vr, t: (xl - vl, 0, xr - vr, 0),
                  xgrid, tgrid, RelTol=1e-8, AbsTol=1e-10)[:, :, 0]  # sol[t, x, component]
print(f"pdepe vs backward: max |difference| = {np.abs(sol_pdepe - sol_backward).max():.2e}")
assert np.abs(sol_pdepe - sol_backward).max() < 1e-4  # two methods, one answer

# 3. the seed's printed coefficients. matlabFunction(..., 'Vars', [t, Y, V, dvdx]) makes a
#    handle @(t,Y,V,dvdx) but pdepe calls pdefun(x, t, u, dudx): inside, 't' is the price and
#    'Y' the time. Its source term s = +Y v_Y/2 also has the wrong sign (the flux form of
#    ½Y²v_YY + ½Y v_Y needs s = -Y v_Y/2). Reproduced with our pdepe:
seed_handle = lambda t, Y_, V, dvdx: (1.0, Y_**2 * dvdx / 2.0, Y_ * dvdx / 2.0)  # noqa: E731
sol_seed = pdepe(0, seed_handle, lambda x: x, lambda xl, vl, xr, vr, t: (xl - vl, 0, xr - vr, 0), xgrid,
                 tgrid)[:, :, 0]
print(f"seed's handle as printed: max |v - x| = {np.abs(sol_seed - xgrid).max():.3f} "
      f"(the 'weak dependence on t' the seed remarks on); correct model moves by "
      f"{np.abs(sol_pdepe - xgrid).max():.3f}")

# 4. figures: surface, ratio surface, ratio for limits at 2x and 4x the current price
expected = np.exp(mu * tgrid)[:, None] * xgrid[None, :]
with np.errstate(invalid="ignore", divide="ignore"):
    ratio = sol_backward / expected
import matplotlib  # noqa: E402

matplotlib.use(os.environ.get("MPLBACKEND", "Agg"))
import matplotlib.pyplot as plt  # noqa: E402

from gelav.plot import new_axes  # noqa: E402

Xs, Ts = np.meshgrid(xgrid, tgrid)
for name, Z, zlabel, title in (
    ("expected_selling_price.png", sol_backward, "expected final price", "Expected selling price of asset"),
    ("ratio_surface.png", ratio, "ratio of final prices", "Ratio of expected final prices: with / without sales order at x=1"),
):
    fig, ax = new_axes(projection="3d")
    ax.plot_surface(Xs, Ts, Z, cmap="viridis", linewidth=0)
    ax.set_xlabel("price")
    ax.set_ylabel("time left [years]")
    ax.set_zlabel(zlabel)
    ax.set_title(title)
    fig.savefig(OUT / name, dpi=110, bbox_inches="tight")
    plt.close(fig)
fig, ax = new_axes()
ax.plot(tgrid, ratio[:, 50], label="Limit at two times current price")
ax.plot(tgrid, ratio[:, 25], label="Limit at four times current price")
ax.set_xlabel("timespan the order is valid [years]")
ax.set_ylabel("ratio of final prices: with / without sales order")
ax.set_title("Seed 002: cost of a limit sales order")
ax.legend()
fig.savefig(OUT / "ratio_limits.png", dpi=110, bbox_inches="tight")
plt.close(fig)
print(f"ratio after 1 year: limit at 2x -> {ratio[-1, 50]:.4f}, limit at 4x -> {ratio[-1, 25]:.4f}")
assert 0.78 < ratio[-1, 50] < ratio[-1, 25] < 0.93

# 5. duality: E[payoff at exit or at T] from the forward density = p0 · u0 to rounding
tg = TimeGrid.build(T, 200)
v = backward(Y, lambda y: y, T, grid=value.grid, time_grid=tg, times=tg.times, lower="payoff", upper="payoff")
d = forward(Y, 0.5, T, grid=value.grid, time_grid=tg, times=tg.times, lower="absorbing", upper="absorbing")
gap = duality_gap(v, d, 0.5)
print(f"duality: backward p0·u0 = {gap['backward']:.15f}, forward = {gap['forward']:.15f}, gap = {gap['gap']:.1e}")
assert abs(gap["gap"]) < 1e-12

# 6. exit times --------------------------------------------------------------------------------
print("Feller classification on (0, 1):", [f"{c.side}: {c.kind}" for c in classify_boundary(Y, 0.0, 1.0)])
try:
    exit_time(Y, 0.0, 1.0)
    raise AssertionError("the seed's expected exit time is infinite")
except DivergenceError as exc:
    print("E[τ] for the seed:", exc)
print(f"P(the limit 1 is ever hit from 0.5) = {exit_probability(Y, 0.0, 1.0).value(0.5):.6f}")
from scipy.integrate import quad  # noqa: E402
from scipy.stats import norm  # noqa: E402

for horizon in (1.0, 4.0, 16.0):
    b = exit_time(Y, 0.0, 1.0, horizon=horizon, n_cells=200, n_steps=200)
    exact = quad(lambda t: 2 * norm.cdf(math.log(2) / math.sqrt(t)) - 1, 0, horizon)[0]  # log Y = W hits 0
    print(f"E[min(τ, {horizon:>4g})] from 0.5 = {b.value(0.5):.4f} years (closed form {exact:.4f})")
    assert abs(b.value(0.5) - exact) < 2e-3
up = GeometricBrownianMotion(0.5 + 0.5, 1.0)  # μ0 = 0.5: log-price drifts up, E[τ] = ln(1/y)/μ0
et = exit_time(up, 0.0, 1.0, n_cells=400)
print(f"μ0 = 0.5: E[τ] from 0.5 = {et.value(0.5):.6f} (closed form 2 ln 2 = {2 * math.log(2):.6f})")
assert abs(et.value(0.5) - 2 * math.log(2)) < 1e-4
law = exit_time_distribution(Y, 1e-3, 1.0, 0.5, 4.0, n_cells=400, n_steps=200)
fig = law.plot()
fig.savefig(OUT / "exit_time_survival.png", dpi=110, bbox_inches="tight")
plt.close(fig)
print(f"P(τ > 4) from 0.5 (lower limit 0.001) = {law.survival[-1]:.4f}; median τ = {law.quantile(0.5):.3f} years")
print(f"figures written to {OUT}")
