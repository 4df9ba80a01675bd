r"""The exit boundary :math:`L^*(t)` of a fund stake (GELAV.md §3; book Ch. 20, 25).

The problem
-----------
An LP holds a stake of NAV :math:`N_t` in a fund ending at :math:`T` (``fund_life``),
while the liquidity state :math:`L_t` follows ``process`` (generator :math:`\mathcal L`).
Holding, the NAV grows at :math:`g(L)` (``nav_growth``, total return) and pays out
distributions at rate :math:`\delta(L)` (``distribution_rate``), so
:math:`dN = (g - \delta)N\,dt`; the LP receives :math:`\delta N\,dt` in cash and pays a
liquidity cost :math:`c(L)N\,dt \ge 0` in stress (``holding_cost``; a number
:math:`c_0` means :math:`c(L) = c_0\max(-L, 0)`). At :math:`T` the fund liquidates at
NAV. Selling at :math:`t` pays :math:`N_t(1 - \pi(L_t, T - t))`. With discount
rate :math:`r` the value :math:`W(t, L, N) = \sup_\tau E[\ldots]` is homogeneous of
degree one in :math:`N`, :math:`W = N\,V(t, L)`, and :math:`V` (per unit NAV) solves
the obstacle problem of GELAV.md §3 with the carry written out:

.. math::

    \min\Big(-V_t - \mathcal L V + (r - g(L) + \delta(L))\,V - (\delta(L) - c(L)),\;
    V - (1 - \pi(L, T - t))\Big) = 0, \qquad V(T, L) = 1 .

(Substitute :math:`W = NV` into :math:`-W_t - \mathcal L W - (g-\delta)NW_N + rW -
(\delta - c)N`.) It is solved by :func:`gelav.optimal_stopping` — an LCP at every
Crank–Nicolson step (Rannacher start), not a projection — on ``domain`` with
reflecting ends. If the effective rate :math:`r - g + \delta` is negative somewhere
(growth above the discount rate), the equivalent problem for
:math:`\tilde V = e^{-s(T-t)}V` with the shift :math:`s = \max(0, -\min(r - g +
\delta))` is solved instead (same stopping region; the factor is divided out).

Why the course's :math:`L^* \approx 0.99` is an artefact
---------------------------------------------------------
The course's continuation value has no carry (:math:`g = \delta = c = 0`): holding
is worth :math:`E[e^{-r(T-t)}] \approx e^{-r(T-t)}` per unit NAV, far below the
sale price wherever :math:`\pi` is small, so the stopping set is the band
:math:`\{L : \pi(L, T - t) \lesssim 1 - e^{-r(T-t)}\}` *around* the premium's minimum
:math:`L = -\beta/2\gamma \approx 0.595`: every LP "should" sell at once, and a
reported single boundary is one edge of that band. With the carry (the NAV earns
:math:`g \approx r`) holding is worth about NAV, selling costs the premium, and
exit is optimal only where the liquidity cost of stress outweighs the discount:
the region :math:`\{L \le L^*(t)\}` lies in stress (:math:`L^* < 0`).

Defaults: OU(κ = 0.45, L̄ = 1, σ = 0.32), the book premium, :math:`T = 10`,
:math:`r = 0.08`, :math:`g = 0.08` (the NAV earns the discount rate),
:math:`\delta = 0`, :math:`c(L) = 0.5\max(-L, 0)`, :math:`L \in [-3, 3]`.
"""

from __future__ import annotations

import math
import time as _time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from gelav._random import SeedLike
from gelav._validation import (
    MAX_CELLS,
    MAX_RATE,
    MAX_STATE,
    check_finite,
    check_horizon,
    check_int,
    check_nonnegative,
    check_positive,
    check_size,
)
from gelav.processes.protocol import has_exact_law, params_of
from gelav.results import Estimate
from gelav.valuation.premium import IlliquidityPremium

if TYPE_CHECKING:
    from gelav.processes.protocol import ProcessLike

__all__ = ["SENSITIVITY_PARAMS", "ExitBoundary", "exit_boundary", "report_exit_boundary"]

#: parameters :meth:`ExitBoundary.sensitivity` can bump (process ones need a process with that attribute)
SENSITIVITY_PARAMS = ("kappa", "sigma", "mean", "discount", "nav_growth", "distribution_rate")
_ALIASES = {"r": "discount", "kappa": "kappa", "sigma": "sigma", "mean": "mean"}
#: lower end of each parameter's range (value, whether it is allowed) for the sensitivity's one-sided difference
_LOWER_BOUNDS = {"discount": (0.0, True), "distribution_rate": (0.0, True), "kappa": (0.0, False), "sigma": (0.0, False)}


def _rate(name: str, value: Any, nodes: NDArray[np.float64], *, nonnegative: bool = False,
          stress_cost: bool = False) -> tuple[Callable[[NDArray[np.float64]], NDArray[np.float64]], Any]:
    """A rate given as a number or a callable of L, as a vectorised function (validated on the grid)."""
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"`{name}` must be a number or a callable of L, got a bool.")
    if callable(value):
        fn = value

        def rate(x: NDArray[np.float64]) -> NDArray[np.float64]:
            return np.broadcast_to(np.asarray(fn(x), dtype=float), np.shape(x)).astype(float)

        try:
            vals = rate(nodes)
        except Exception as exc:
            raise ValueError(f"`{name}` could not be evaluated on the grid: {exc}") from exc
        if not np.all(np.isfinite(vals)):
            raise ValueError(f"`{name}` returned non-finite values on the grid.")
        if np.any(np.abs(vals) > MAX_RATE):
            i = int(np.argmax(np.abs(vals)))
            raise ValueError(f"`{name}` is out of range: |{name}| must be <= {MAX_RATE:g} a year; it is "
                             f"{vals[i]:.4g} at L = {nodes[i]:.4g}.")
        if nonnegative and np.any(vals < 0):
            i = int(np.argmin(vals))
            raise ValueError(f"`{name}` must be >= 0; it is {vals[i]:.4g} at L = {nodes[i]:.4g}.")
        return rate, "callable"
    v = check_nonnegative(name, value, maximum=MAX_RATE) if nonnegative else check_finite(name, value, maximum=MAX_RATE)
    if stress_cost:
        return (lambda x: v * np.maximum(-np.asarray(x, dtype=float), 0.0)), v
    return (lambda x: np.full(np.shape(x), v)), v


@dataclass(frozen=True, eq=False)
class ExitBoundary:
    r"""Value of holding a fund stake per unit NAV and its exit region, from :func:`exit_boundary`.

    Attributes
    ----------
    times : ndarray (n_t,)
        Saved times :math:`t` [years from now]; the remaining life is ``fund_life - t``.
    nodes : ndarray (n,)
        Grid of the liquidity state :math:`L`.
    values : ndarray (n_t, n)
        :math:`V(t, L)` per unit NAV.
    sale : ndarray (n_t, n)
        The sale price :math:`1 - \pi(L, T - t)` per unit NAV (the obstacle).
    stop : ndarray of bool (n_t, n)
        The exit region (the LCP's active set); every state stops at :math:`T`.
    premium, process, fund_life, settings :
        The inputs (``settings``: carry, discount, grid), so the problem can be re-solved.
    diagnostics : dict
        Grid sizes, LCP iterations, the rate shift, timings.
    """

    times: NDArray[np.float64]
    nodes: NDArray[np.float64]
    values: NDArray[np.float64]
    sale: NDArray[np.float64]
    stop: NDArray[np.bool_]
    premium: IlliquidityPremium
    process: ProcessLike
    fund_life: float
    settings: dict[str, Any] = field(repr=False)
    diagnostics: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def _params(self) -> dict[str, float]:
        """The process's parameters (``kappa``, ``mean``, ``sigma`` of an OU; empty for a general process)."""
        return params_of(self.process)

    # -- look-ups ----------------------------------------------------------------------------
    def _k(self, t: float | None) -> int:
        if t is None:
            return 0
        t = check_finite("t", t)
        if not -1e-12 <= t <= self.fund_life + 1e-12:
            raise ValueError(f"`t` must lie in [0, {self.fund_life:g}] (years), got {t}.")
        return int(np.argmin(np.abs(self.times - t)))

    def value(self, t: float | None = None, L: ArrayLike = 1.0) -> Any:
        """:math:`V(t, L)` per unit NAV at the saved time nearest ``t`` (default 0), linear in ``L``."""
        from gelav.valuation.premium import as_array

        x = as_array("L", L)
        lo, hi = self.nodes[0], self.nodes[-1]
        if np.any((x < lo - 1e-12) | (x > hi + 1e-12)):
            raise ValueError(f"`L` must lie in the grid [{lo:g}, {hi:g}].")
        v = np.interp(x, self.nodes, self.values[self._k(t)])
        return float(v) if v.ndim == 0 else v

    def stopping_region(self, t: float | None = None) -> list[tuple[float, float]]:
        """The exit region at saved time ``t`` as node intervals ``[(L_lo, L_hi), ...]`` (empty: never exit)."""
        s = self.stop[self._k(t)]
        out = []
        i = 0
        n = s.size
        while i < n:
            if s[i]:
                j = i
                while j + 1 < n and s[j + 1]:
                    j += 1
                out.append((float(self.nodes[i]), float(self.nodes[j])))
                i = j + 1
            else:
                i += 1
        return out

    def _edge(self, k: int, j: int, direction: int) -> float:
        """Free-boundary position past stop node ``j`` towards ``direction`` (±1), from the smooth fit.

        Just outside the region :math:`V - g \\approx C(L - b)^2` (smooth pasting), so
        :math:`\\sqrt{V - g}` is linear: extrapolate it to zero from the 2nd and 3rd
        continuation nodes (the first carries the discrete kink). Node position if that fails.
        """
        x = self.nodes
        e = np.maximum(self.values[k] - self.sale[k], 0.0)
        i2, i3 = j + 2 * direction, j + 3 * direction
        b = float(x[j])
        if 0 <= min(i2, i3) and max(i2, i3) < x.size and 0 < e[i2] < e[i3]:
            r2, r3 = math.sqrt(e[i2]), math.sqrt(e[i3])
            cand = x[i2] - r2 * (x[i3] - x[i2]) / (r3 - r2)
            lo, hi = sorted((x[j - direction] if 0 <= j - direction < x.size else x[j], x[j + direction]))
            if lo - 1e-12 <= cand <= hi + 1e-12:
                b = float(cand)
        return b

    def boundary(self, t: float | ArrayLike | None = None) -> Any:
        r"""The exit boundary :math:`L^*(t)`: the upper edge of the *lowest* component of the exit region.

        The LP exits when :math:`L_t \le L^*(t)` (in stress). Located between nodes by
        the smooth fit (see :meth:`_edge`). NaN where the region is empty, and at the
        fund's end (where every state stops). ``t=None``: the array at all saved times.
        If the region is a band that does not reach stress (the no-carry artefact),
        this is the band's upper edge: inspect :meth:`stopping_region`.
        """
        if t is None:
            ks = np.arange(self.times.size)
        else:
            ks = np.array([self._k(float(v)) for v in np.atleast_1d(np.asarray(t, dtype=float))])
        out = np.full(ks.size, np.nan)
        for m, k in enumerate(ks):
            if k == self.times.size - 1:
                continue
            s = self.stop[k]
            if not s.any() or s.all():
                continue
            i = int(np.argmax(s))
            j = i
            while j + 1 < s.size and s[j + 1]:
                j += 1
            if j + 1 < s.size:
                out[m] = self._edge(int(k), j, +1)
        if t is not None and np.ndim(t) == 0:
            return float(out[0])
        return out

    # -- diagnostics ---------------------------------------------------------------------------
    def smooth_pasting(self, t: float | None = None) -> dict[str, float]:
        r"""Smooth-pasting check at :math:`L^*(t)` (upper edge of the lowest exit component).

        The slope of :math:`V` at the boundary from the continuation side,
        ``slope_value`` — the derivative at :math:`L^*` of the quadratic through the
        2nd–4th continuation nodes (second order; the first node carries the
        discrete kink) — against the exact slope of the sale price,
        ``slope_sale`` :math:`= -(eta + 2\gamma L^*) f(T - t)`. Smooth fit says they are
        equal; ``jump`` is their difference (``relative_jump`` over ``|slope_sale|``),
        which shrinks on refinement (a kinked, continuous-only fit would leave an
        O(1) jump). NaN entries when there is no boundary at ``t``.
        """
        from gelav.valuation.premium import SCALINGS

        k = self._k(t)
        s = self.stop[k]
        nan = {"t": float(self.times[k]), "boundary": math.nan, "slope_value": math.nan, "slope_sale": math.nan,
               "jump": math.nan, "relative_jump": math.nan, "h": float(np.max(np.diff(self.nodes)))}
        if k == self.times.size - 1 or not s.any() or s.all():
            return nan
        j = int(np.argmax(s))
        while j + 1 < s.size and s[j + 1]:
            j += 1
        if j + 4 >= s.size:
            return nan
        b = self._edge(k, j, +1)
        x, v = self.nodes[j + 2:j + 5], self.values[k, j + 2:j + 5]
        dv = float(np.polyval(np.polyder(np.polyfit(x - b, v, 2)), 0.0))
        p = self.premium
        tau = self.fund_life - float(self.times[k])
        dg = -(p.beta + 2.0 * p.gamma * b) * float(SCALINGS[p.scaling][0](np.asarray(tau)))
        jump = abs(dv - dg)
        return {**nan, "boundary": b, "slope_value": dv, "slope_sale": dg, "jump": jump,
                "relative_jump": jump / abs(dg) if dg != 0 else math.nan}

    def resolve(self, **changes: Any) -> ExitBoundary:
        """Solve the same problem with some inputs changed (any keyword of :func:`exit_boundary`)."""
        kw = {**{k: v for k, v in self.settings.items() if not k.startswith("_")}, "process": self.process, "premium": self.premium, "fund_life": self.fund_life}
        kw.update(changes)
        return exit_boundary(**kw)

    def sensitivity(self, param: str, *, rel_bump: float = 0.05, abs_bump: float | None = None) -> dict[str, Any]:
        r"""Sensitivity :math:`\partial L^*(t)/\partial\theta` by central differences of re-solved problems.

        ``param`` is one of :data:`SENSITIVITY_PARAMS` (``"r"`` is an alias of
        ``"discount"``): ``kappa``, ``sigma``, ``mean`` bump the process (rebuilt as
        ``type(process)(kappa=, mean=, sigma=)``); ``discount``, ``nav_growth``,
        ``distribution_rate`` bump the (constant) carry. The bump is
        ``rel_bump·|θ|`` (``abs_bump`` if given or θ = 0). Where θ − h would leave the
        parameter's range (``distribution_rate`` and ``discount`` ≥ 0, ``kappa`` and
        ``sigma`` > 0; e.g. the default δ = 0) the difference is one-sided,
        :math:`(L^*(\theta + h) - L^*(\theta))/h` (first order), and ``down`` is the base.
        Returns ``times``, ``boundary`` (base), ``up``, ``down``, ``derivative`` (NaN
        where either side has no boundary), the bump ``h`` and ``difference``
        (``"central"`` or ``"forward"``).
        """
        name = _ALIASES.get(param, param)
        if name not in SENSITIVITY_PARAMS:
            raise ValueError(f"Unknown `param` {param!r}; the parameters are {', '.join(map(repr, SENSITIVITY_PARAMS))} "
                             "(or 'r').")
        rel_bump = check_positive("rel_bump", rel_bump)
        if name in ("kappa", "sigma", "mean"):
            if not all(a in self._params for a in ("kappa", "mean", "sigma")):
                raise ValueError(f"`param` {param!r} needs a process with `kappa`, `mean` and `sigma` "
                                 f"(an Ornstein–Uhlenbeck), got {type(self.process).__name__}.")
            theta = float(self._params[name])
        else:
            theta = self.settings[name]
            if callable(theta):
                raise ValueError(f"`{name}` is a callable here; the sensitivity needs a constant {name}.")
            theta = float(theta)
        h = check_positive("abs_bump", abs_bump) if abs_bump is not None else (rel_bump * abs(theta) or rel_bump)

        def bumped(v: float) -> ExitBoundary:
            if name in ("kappa", "sigma", "mean"):
                kw = {a: float(self._params[a]) for a in ("kappa", "mean", "sigma")}
                kw[name] = v
                return self.resolve(process=type(self.process)(**kw))
            return self.resolve(**{name: v})

        base = self.boundary()
        up = bumped(theta + h).boundary()
        lo, closed = _LOWER_BOUNDS.get(name, (-math.inf, True))
        if theta - h < lo or (not closed and theta - h <= lo):
            # θ - h leaves the parameter's range (δ = 0 by default: a bump to -0.05 was refused):
            # a one-sided (forward) difference, first order in h
            return {"param": name, "value": theta, "h": h, "times": self.times.copy(), "boundary": base,
                    "up": up, "down": base, "derivative": (up - base) / h, "difference": "forward"}
        down = bumped(theta - h).boundary()
        return {"param": name, "value": theta, "h": h, "times": self.times.copy(), "boundary": base,
                "up": up, "down": down, "derivative": (up - down) / (2 * h), "difference": "central"}

    def monte_carlo(self, L0: float, n_paths: int = 20_000, *, seed: SeedLike = None,
                    antithetic: bool = True) -> Estimate:
        r"""Monte Carlo value of the solved exit rule from :math:`L_0` (per unit NAV).

        Paths of the process are simulated (``gelav.simulate``, exact steps when the
        process has them) on the saved times; a path exits at the first saved time
        at which it lies in the exit region (the node mask interpolated at ``L``),
        earning the carry :math:`\int e^{-\int(r - g + \delta)}(\delta - c)\,dt`
        (trapezoid) before and :math:`e^{-\int(r-g+\delta)}(1 - \pi)` at exit, or 1 at
        :math:`T`. Because the rule is (close to) optimal, the estimate matches
        :math:`V(0, L_0)` within its standard error plus the discretisation error.
        """
        from gelav.montecarlo import simulate

        L0 = check_finite("L0", L0)
        n_paths = check_int("n_paths", n_paths, minimum=2)
        dts = np.diff(self.times)
        if not np.allclose(dts, dts[0], rtol=1e-9):
            raise ValueError("Monte Carlo of the rule needs uniformly saved times.")
        M = dts.size
        scheme = "exact" if has_exact_law(self.process) else "euler"
        paths = simulate(self.process, L0, self.fund_life, M, n_paths, scheme=scheme, antithetic=antithetic,
                         seed=seed, save="all")
        X = np.asarray(paths.values, dtype=float)  # (M + 1, n)
        X = np.clip(X, self.nodes[0], self.nodes[-1])  # the PDE reflects at the domain ends
        g, d, c = self.settings["_rates"]
        r = float(self.settings["discount"])
        n = X.shape[1]
        pay = np.zeros(n)
        alive = np.ones(n, dtype=bool)
        logD = np.zeros(n)
        for k in range(M + 1):
            t = float(self.times[k])
            x = X[k]
            if k == M:
                pay[alive] += np.exp(-logD[alive])
                break
            mask = np.interp(x, self.nodes, self.stop[k].astype(float)) >= 0.5
            ex = alive & mask
            if ex.any():
                sale = 1.0 - np.asarray(self.premium(x[ex], self.fund_life - t))
                pay[ex] += np.exp(-logD[ex]) * sale
                alive &= ~ex
            x1 = X[k + 1]
            dt = float(dts[k])
            reff0, reff1 = r - g(x) + d(x), r - g(x1) + d(x1)
            logD1 = logD + 0.5 * dt * (reff0 + reff1)
            f0, f1 = d(x) - c(x), d(x1) - c(x1)
            pay[alive] += 0.5 * dt * (np.exp(-logD[alive]) * f0[alive] + np.exp(-logD1[alive]) * f1[alive])
            logD = logD1
        if antithetic:
            h = n // 2
            pay = 0.5 * (pay[:h] + pay[h:2 * h])
        return Estimate(float(pay.mean()), float(pay.std(ddof=1) / math.sqrt(pay.size)), int(pay.size))

    def convergence(self, L0: float = 1.0, levels: int = 3) -> dict[str, Any]:
        r"""Observed order of :math:`V(0, L_0)` on grids refined by 2 in L and t (``levels`` ≥ 3 solves).

        ``order = log2(|V_h - V_{h/2}| / |V_{h/2} - V_{h/4}|)`` from the last three
        levels, with the Richardson estimate of the error of the finest value.
        """
        L0 = check_finite("L0", L0)
        levels = check_int("levels", levels, minimum=3)
        n0, m0 = int(self.settings["n_cells"]), int(self.settings["n_steps"])
        vals = []
        for lev in range(levels):
            res = self if lev == 0 else self.resolve(n_cells=n0 * 2**lev, n_steps=m0 * 2**lev)
            vals.append(float(res.value(0.0, L0)))
        d1, d2 = vals[-3] - vals[-2], vals[-2] - vals[-1]
        order = math.log2(abs(d1 / d2)) if d2 != 0 and d1 != 0 else math.nan
        err = abs(d2) / (2**order - 1) if math.isfinite(order) and order > 0 else abs(d2)
        return {"L0": L0, "n_cells": [n0 * 2**k for k in range(levels)], "n_steps": [m0 * 2**k for k in range(levels)],
                "values": vals, "differences": [vals[k] - vals[k + 1] for k in range(levels - 1)],
                "order": order, "error_estimate": err}

    def grid_check(self, times: ArrayLike | None = None) -> dict[str, Any]:
        r"""The grid indicator of :math:`L^*(t)`: the same problem on half the cells and half the steps.

        ``indicator`` is the largest :math:`|L^*_h(t) - L^*_{2h}(t)|` over ``times`` (default the ten
        times :math:`kT/10`, :math:`k = 0 \dots 9`, that ``gelav exit-boundary`` prints). The largest over
        the times, not each time's own difference: the located boundary converges unevenly (the smooth fit
        falls back to a node near a kink of the carry), and two grids can agree at one time by chance
        while both are a cell off. Against 2,400 cells, the largest error of :math:`L^*` at 300 cells is
        0.37 of this indicator at the defaults, 0.99 with ``nav_growth=0.05`` and 0.88 with
        ``discount=0.12``; each time's own difference was as low as 0 of its error. An indicator, not a
        bound.

        Returns
        -------
        dict
            ``times``, ``boundary`` (this grid), ``boundary_coarse``, ``difference`` (per time; NaN where
            both grids have no region), ``indicator`` (``inf`` when the exit region exists on one grid and
            not on the other at some time: ``unresolved`` lists those times), ``n_cells``, ``n_steps``.
        """
        n, m = int(self.settings["n_cells"]), int(self.settings["n_steps"])
        coarse = self.resolve(n_cells=max(n // 2, 4), n_steps=max(m // 2, 1))
        ts = (np.array([self.fund_life * k / 10 for k in range(10)]) if times is None
              else np.atleast_1d(np.asarray(times, dtype=float)))
        b, bc = np.asarray(self.boundary(ts), dtype=float), np.asarray(coarse.boundary(ts), dtype=float)
        unresolved = [float(t) for t, x, y in zip(ts, b, bc, strict=True) if np.isnan(x) != np.isnan(y)]
        diff = np.abs(b - bc)
        both = np.isfinite(diff)
        indicator = math.inf if unresolved else (float(diff[both].max()) if both.any() else 0.0)
        return {"times": ts.tolist(), "boundary": b.tolist(), "boundary_coarse": bc.tolist(),
                "difference": diff.tolist(), "indicator": indicator, "unresolved": unresolved,
                "n_cells": [n, max(n // 2, 4)], "n_steps": [m, max(m // 2, 1)]}

    def summary(self) -> dict[str, Any]:
        """Key numbers (JSON-ready)."""
        b = self.boundary()
        sp = self.smooth_pasting()
        s = {k: v for k, v in self.settings.items() if not k.startswith("_")}
        return {
            "fund_life": self.fund_life, "premium": self.premium.to_dict(),
            "process": {a: float(v) for a, v in self._params.items() if a in ("kappa", "mean", "sigma")},
            "settings": {k: (v if isinstance(v, (int, float, str, type(None), tuple, list)) else "callable")
                         for k, v in s.items()},
            "boundary_t0": None if math.isnan(b[0]) else float(b[0]),
            "boundary": {f"{t:g}": (None if math.isnan(v) else float(v))
                         for t, v in zip(self.times[:: max(1, self.times.size // 10)],
                                         b[:: max(1, self.times.size // 10)], strict=True)},
            "stopping_region_t0": self.stopping_region(0.0),
            "value_at_mean": self.value(0.0, float(self._params.get("mean", 0.0))),
            "smooth_pasting_t0": sp,
            "diagnostics": {k: v for k, v in self.diagnostics.items() if isinstance(v, (int, float, str))},
        }

    def __repr__(self) -> str:
        b = self.boundary()
        ok = b[np.isfinite(b)]
        rng = f"L*(t) in [{ok.min():.3f}, {ok.max():.3f}]" if ok.size else "no exit region"
        return (f"ExitBoundary(fund_life={self.fund_life:g}, {rng}, V(0, L̄)="
                f"{self.value(0.0, float(np.clip(self._params.get('mean', 0.0), self.nodes[0], self.nodes[-1]))):.4f}, "
                f"grid={self.nodes.size}×{self.times.size})")

    def plot(self, *, ax: Any = None) -> Any:
        """Exit region over (t, L) (shaded) with :math:`L^*(t)` and the premium's minimum."""
        from gelav.plot import new_axes

        fig, ax = new_axes(ax)
        T, X = np.meshgrid(self.times, self.nodes, indexing="ij")
        ax.contourf(T[:-1], X[:-1], self.stop[:-1].astype(float), levels=[0.5, 1.5], colors=["C3"], alpha=0.3)
        ax.plot(self.times, self.boundary(), color="C3", label="exit boundary L*(t)")
        if self.premium.argmin is not None:
            ax.axhline(self.premium.argmin, color="0.5", ls=":", lw=1, label="argmin π")
        ax.set_xlabel("time t [years]")
        ax.set_ylabel("liquidity state L")
        ax.set_title("Exit region (shaded): sell the stake when L ≤ L*(t)")
        ax.legend()
        return fig


def exit_boundary(
    process: ProcessLike | None = None,
    premium: IlliquidityPremium | None = None,
    fund_life: float = 10.0,
    *,
    nav_growth: float | Callable[[NDArray[np.float64]], ArrayLike] = 0.08,
    distribution_rate: float | Callable[[NDArray[np.float64]], ArrayLike] = 0.0,
    holding_cost: float | Callable[[NDArray[np.float64]], ArrayLike] = 0.5,
    discount: float = 0.08,
    domain: tuple[float, float] = (-3.0, 3.0),
    n_cells: int = 300,
    n_steps: int = 400,
    scheme: str = "cn",
    method: str = "policy",
) -> ExitBoundary:
    r"""Exit boundary :math:`L^*(t)` and value per unit NAV of a fund stake (an LCP; see the module notes).

    .. math::

        \min\Big(-V_t - \mathcal L V + (r - g + \delta)V - (\delta - c),\ V - (1 - \pi(L, T-t))\Big) = 0,
        \quad V(T) = 1 .

    Parameters
    ----------
    process : Process, optional
        Liquidity state (default ``OrnsteinUhlenbeck(0.45, 1.0, 0.32)``).
    premium : IlliquidityPremium, optional
        :math:`\pi(L, T)` (default: the book's).
    fund_life : float
        Remaining fund life :math:`T` [years] (course default 10).
    nav_growth : float or callable ``g(L)``
        NAV total return per year while held (default 0.08 = the discount rate).
    distribution_rate : float or callable ``δ(L)`` ≥ 0
        Distributions per year as a fraction of NAV (default 0).
    holding_cost : float or callable ``c(L)`` ≥ 0
        Liquidity cost per year as a fraction of NAV; a number :math:`c_0` means
        :math:`c(L) = c_0\max(-L, 0)` (default 0.5).
    discount : float
        Discount rate :math:`r` ≥ 0 per year (course default 0.08).
    domain : (float, float)
        Range of :math:`L` (reflecting ends; course default [−3, 3]).
    n_cells, n_steps, scheme, method :
        Grid cells, uniform time steps (all saved), time scheme and LCP method of
        :func:`gelav.optimal_stopping`.

    Returns
    -------
    ExitBoundary

    Examples
    --------
    >>> eb = exit_boundary(n_cells=150, n_steps=100)
    >>> -1.0 < eb.boundary(0.0) < 0.0      # exit only in stress
    True
    """
    from gelav.processes import OrnsteinUhlenbeck
    from gelav.processes.protocol import check_process
    from gelav.stopping import optimal_stopping

    t0 = _time.perf_counter()
    process = OrnsteinUhlenbeck(0.45, 1.0, 0.32) if process is None else process
    check_process(process)
    premium = IlliquidityPremium() if premium is None else premium
    if not isinstance(premium, IlliquidityPremium):
        raise TypeError(f"`premium` must be an IlliquidityPremium, got {type(premium).__name__}.")
    if isinstance(fund_life, bool):
        raise TypeError("`fund_life` must be a positive number of years, got a bool.")
    T = check_horizon("fund_life", fund_life)
    if isinstance(discount, bool):
        raise TypeError("`discount` must be a number >= 0, got a bool.")
    r = check_nonnegative("discount", discount, maximum=MAX_RATE)
    try:
        lo, hi = domain
    except (TypeError, ValueError):
        raise ValueError(f"`domain` must be a pair (lo, hi), got {domain!r}.") from None
    # |L| bounded so that π(L, T) = (α + βL + γL²) f(T) stays finite on the grid
    lo, hi = check_finite("domain[0]", lo, maximum=MAX_STATE), check_finite("domain[1]", hi, maximum=MAX_STATE)
    if not lo < hi:
        raise ValueError(f"`domain` must satisfy lo < hi, got {domain!r}.")
    n_cells = check_int("n_cells", n_cells, minimum=8, maximum=MAX_CELLS)
    n_steps = check_int("n_steps", n_steps, minimum=4, maximum=MAX_CELLS)
    check_size({"n_cells": n_cells, "n_steps": n_steps})
    nodes = np.linspace(lo, hi, n_cells + 1)
    g, _ = _rate("nav_growth", nav_growth, nodes)
    d, _ = _rate("distribution_rate", distribution_rate, nodes, nonnegative=True)
    c, c_in = _rate("holding_cost", holding_cost, nodes, nonnegative=True, stress_cost=True)
    reff_nodes = r - g(nodes) + d(nodes)
    shift = max(0.0, -float(np.min(reff_nodes)))  # V~ = exp(-shift (T - t)) V keeps the killing rate >= 0
    if shift * T > 700.0:  # V ~ e^{(g - r - δ)T} per unit NAV: past e^700 it is no longer a float (was inf)
        raise ValueError(f"`nav_growth` exceeds `discount` + `distribution_rate` by {shift:.4g} a year: over "
                         f"`fund_life` = {T:g} years a unit of NAV grows to e^{shift * T:.4g}, beyond the "
                         "floating-point range.")

    def sale(t: float, x: NDArray[np.float64]) -> NDArray[np.float64]:
        tau = T - t
        if tau <= 1e-14:
            return np.ones_like(x, dtype=float)  # the fund liquidates at NAV
        return 1.0 - np.asarray(premium(x, tau), dtype=float)

    def reward(t: float, x: NDArray[np.float64]) -> NDArray[np.float64]:
        return sale(t, x) * math.exp(-shift * (T - t))

    def running(t: float, x: NDArray[np.float64]) -> NDArray[np.float64]:
        return (d(x) - c(x)) * math.exp(-shift * (T - t))

    const_reff = not any(callable(v) for v in (nav_growth, distribution_rate))
    if const_reff:
        k0 = float(reff_nodes[0]) + shift
        disc: Any = k0 if k0 > 0 else None
    else:
        def disc(t: float, x: NDArray[np.float64]) -> NDArray[np.float64]:
            return np.maximum(r - g(x) + d(x) + shift, 0.0)

    times = np.linspace(0.0, T, n_steps + 1)
    reward_fn: Any = reward  # optimal_stopping accepts a time-dependent reward g(t, x)
    # Howard's iteration on an M-matrix obstacle problem ends within n + 1 policies (each flips at
    # least one row, never back); 100 was too few where the exit region moves far in one step
    # (σ = 100: one row a side per policy over 300 cells), so give it the n + 1 it may need
    sol = optimal_stopping(process, reward_fn, T, running=running, discount=disc, domain=(lo, hi), n_cells=n_cells,
                           n_steps=n_steps, times=times, scheme=scheme, method=method, max_iter=n_cells + 2)
    if sol.grid.nodes.size != nodes.size or not np.allclose(sol.grid.nodes, nodes):
        nodes = sol.grid.nodes
    factor = np.exp(shift * (T - sol.times))[:, None]
    values = sol.values * factor
    sale_vals = np.array([sale(float(t), nodes) for t in sol.times])
    settings = {"nav_growth": nav_growth, "distribution_rate": distribution_rate, "holding_cost": holding_cost,
                "discount": r, "domain": (lo, hi), "n_cells": n_cells, "n_steps": n_steps, "scheme": scheme,
                "method": method, "_rates": (g, d, c)}
    diagnostics = {**{k: v for k, v in sol.diagnostics.items()}, "rate_shift": shift,
                   "holding_cost_c0": c_in if not callable(holding_cost) else "callable",
                   "seconds": _time.perf_counter() - t0}
    return ExitBoundary(times=sol.times.copy(), nodes=nodes.copy(), values=values, sale=sale_vals,
                        stop=sol.stop.copy(), premium=premium, process=process, fund_life=T, settings=settings,
                        diagnostics=diagnostics)


def report_exit_boundary(result: ExitBoundary | None = None, **kwargs: Any) -> tuple[dict[str, Any], Any]:
    """Report hook: the key numbers of an exit-boundary solve (``result`` or ``exit_boundary(**kwargs)``) and its figure."""
    if result is None:
        result = exit_boundary(**kwargs)
    return result.summary(), result.plot()
