r"""The LAV operator (GELAV.md §5): the liquidity-adjusted value of a fund stake's future cash flows.

.. math::

    V(t, L) = E\Big[\int_t^T e^{-\int_t^s (r + \lambda(L_u, T - u))\,du}\, dCF_s \,\Big|\, L_t = L\Big],

with :math:`dL = \kappa(\bar L - L)dt + \sigma dW` (any gelav process) and
:math:`\lambda` the premium's instantaneous form
(:meth:`gelav.IlliquidityPremium.instantaneous`, :math:`a(L) f'(\tau)` at
remaining life :math:`\tau`), so the value depends on the whole liquidity path.

How the discrete Yale model enters the continuous-time Feynman–Kac problem
--------------------------------------------------------------------------
The Takahashi–Alexander model moves on dates :math:`t_k = k/p`
(``periods_per_year`` = p; p = 1 is the original annual model). Its state
after the date-k flows is (NAV :math:`N_k`, unfunded commitment :math:`U_k`)
and every step is *linear* in that state with coefficients depending on the
liquidity state :math:`\ell = L_{t_k}` on the date:

.. math::

    C_k = RC_k(\ell)\,U_{k-1},\quad D_k = RD_k(\ell)(1+G)N_{k-1},\quad
    N_k = (1+G)N_{k-1} + C_k - D_k,\quad U_k = U_{k-1} - C_k .

Hence the value is linear too, :math:`V(t, L; N, U) = N\,a(t, L) + U\,b(t, L)`.
Between dates :math:`a` and :math:`b` solve the Feynman–Kac equation
:math:`\partial_t u + \mathcal L u - (r + \lambda)u = 0` (no running reward: no
cash moves between dates), solved by :func:`gelav.backward`; at each date the
cash flows enter as a *jump condition* (from just after to just before
:math:`t_k`, pointwise in :math:`\ell`):

.. math::

    a^-(\ell) = (1+G)\big[RD_k(\ell) + (1 - RD_k(\ell))\,a^+(\ell)\big],\qquad
    b^-(\ell) = RC_k(\ell)\,(a^+(\ell) - 1) + (1 - RC_k(\ell))\,b^+(\ell),

with :math:`a = b = 0` after the last date (the fund is liquidated:
:math:`RD = 1` once :math:`t \ge L_f`). The value of a new commitment is
:math:`\text{commitment}\cdot b(0, L_0)`. The discount of each time step is
the premium accrued over it (:meth:`~gelav.IlliquidityPremium.accrued`), so the
integrable :math:`1/(2\sqrt\tau)` singularity of the ``"sqrt"`` scaling at the
fund's end is integrated exactly in time. The part of that discount that is the
same at every node (:math:`r\Delta t` and the premium at its smallest level on
the grid) commutes with the generator and is applied exactly; Crank–Nicolson
only sees the rest, with at most 0.25 of discount per step (the steps of a
period are refined to that, up to 1024, beyond which the period starts with
Rannacher backward-Euler half steps): its factor :math:`(1 - z/2)/(1 + z/2)`
tends to :math:`-1` for a large step discount :math:`z` and would keep, not
damp, the value.

The DCF counterpart freezes :math:`L` at a level :math:`\bar L` (default: the
process's long-run mean): the same recursion with deterministic discounting
:math:`e^{-r\Delta t - a(\bar L)(f(\tau_{k-1}) - f(\tau_k))}`. The Monte Carlo
cross-check simulates :math:`L` with :func:`gelav.simulate` (exact OU
transitions), discounts each path by the trapezoidal rule in :math:`L` (exact
in :math:`\tau`) and runs the Yale recursion along it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from gelav._random import SeedLike
from gelav._validation import MAX_RATE, check_finite, check_int, check_nonnegative, check_positive
from gelav.errors import ConvergenceError

if TYPE_CHECKING:
    from gelav.processes.protocol import ProcessLike

__all__ = ["LAVResult", "TASchedule", "TakahashiAlexander", "liquidity_adjusted_value", "report_lav"]


def _rate(name: str, v: Any) -> float:
    if isinstance(v, (bool, np.bool_)):
        raise TypeError(f"`{name}` must be a number, got a bool.")
    x = check_finite(name, v)
    if not 0.0 <= x <= 1.0:
        raise ValueError(f"`{name}` must be a rate in [0, 1], got {x}.")
    return x


@dataclass(frozen=True)
class TASchedule:
    """Cash-flow schedule of a :class:`TakahashiAlexander` fund along one liquidity path.

    Attributes
    ----------
    times : ndarray
        Dates :math:`t_k` (years), k = 1..K.
    calls, distributions : ndarray
        :math:`C_k \\ge 0` and :math:`D_k \\ge 0` on each date.
    nav, unfunded : ndarray
        :math:`N_k` and :math:`U_k` after the date's flows.
    L : ndarray
        The liquidity state used on each date.
    """

    times: NDArray[np.float64]
    calls: NDArray[np.float64]
    distributions: NDArray[np.float64]
    nav: NDArray[np.float64]
    unfunded: NDArray[np.float64]
    L: NDArray[np.float64]

    @property
    def net(self) -> NDArray[np.float64]:
        """Signed flows :math:`D_k - C_k` (the LP's view)."""
        return self.distributions - self.calls


@dataclass(frozen=True)
class TakahashiAlexander:
    r"""The Takahashi–Alexander (Yale) model of a fund's calls, distributions and NAV.

    On dates :math:`t_k = k/p` (p = ``periods_per_year``), with per-period rates
    converted from the annual ones (:math:`1 - (1 - x)^{1/p}`, growth
    :math:`(1+G)^{1/p} - 1`; p = 1 is the original model):

    .. math::

        C_k = RC_k(\text{commitment} - \text{paid-in}_{k-1}),\quad
        D_k = RD_k\,N_{k-1}(1 + G),\quad RD_k = \max\big(Y, (t_k/L_f)^B\big) \wedge 1,\quad
        N_k = N_{k-1}(1 + G) + C_k - D_k .

    Liquidity dependence (optional): on a date with state :math:`\ell` the rates
    are :math:`\min(1, RC_k e^{c(\ell - \bar L)})` and
    :math:`\min(1, RD_k e^{d(\ell - \bar L)})`, ``c = call_liquidity``,
    ``d = distribution_liquidity`` (c, d > 0: fewer calls and distributions in
    stress, as observed in 2008–09).

    Parameters
    ----------
    commitment : float
        Committed capital (currency), > 0.
    call_rates : float or sequence of float
        Annual call rates :math:`RC` for fund years 1, 2, ... (the last one repeats).
    growth : float
        Annual NAV growth :math:`G` > −1.
    yield_rate : float
        Minimum annual distribution rate :math:`Y` in [0, 1].
    bow : float
        :math:`B` > 0.
    fund_life : float
        :math:`L_f` (years) > 0; at the first date :math:`\ge L_f` the fund is liquidated:
        :math:`RD = 1` and no call (the unfunded commitment lapses), so :math:`N_K = 0`.
    call_liquidity, distribution_liquidity, liquidity_mean : float
        :math:`c`, :math:`d`, :math:`\bar L` above.
    periods_per_year : int
        p (1 annual, 4 quarterly).
    """

    commitment: float = 100.0
    call_rates: float | Sequence[float] = (0.25, 0.333, 0.5)
    growth: float = 0.13
    yield_rate: float = 0.0
    bow: float = 2.5
    fund_life: float = 12.0
    call_liquidity: float = 0.0
    distribution_liquidity: float = 0.0
    liquidity_mean: float = 1.0
    periods_per_year: int = 1

    def __post_init__(self) -> None:
        object.__setattr__(self, "commitment", check_positive("commitment", self.commitment))
        rc = self.call_rates
        rcs = (rc,) if isinstance(rc, (int, float, np.floating, np.integer)) or isinstance(rc, bool) else tuple(rc)
        if not rcs:
            raise ValueError("`call_rates` is empty.")
        object.__setattr__(self, "call_rates", tuple(_rate(f"call_rates[{i}]", v) for i, v in enumerate(rcs)))
        g = check_finite("growth", self.growth)
        if g <= -1.0:
            raise ValueError(f"`growth` must be > -1, got {g}.")
        object.__setattr__(self, "growth", g)
        object.__setattr__(self, "yield_rate", _rate("yield_rate", self.yield_rate))
        object.__setattr__(self, "bow", check_positive("bow", self.bow))
        object.__setattr__(self, "fund_life", check_positive("fund_life", self.fund_life))
        for n in ("call_liquidity", "distribution_liquidity", "liquidity_mean"):
            object.__setattr__(self, n, check_finite(n, getattr(self, n)))
        object.__setattr__(self, "periods_per_year", check_int("periods_per_year", self.periods_per_year, minimum=1))

    # -- the dates and their base rates ------------------------------------------------
    @property
    def dates(self) -> NDArray[np.float64]:
        """:math:`t_k = k/p`, k = 1..K, the last the first date :math:`\\ge L_f`."""
        p = self.periods_per_year
        K = math.ceil(self.fund_life * p - 1e-9)
        return np.arange(1, K + 1, dtype=float) / p

    @property
    def period_growth(self) -> float:
        return (1.0 + self.growth) ** (1.0 / self.periods_per_year) - 1.0

    def _base_rates(self) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        t = self.dates
        p = self.periods_per_year
        year = np.ceil(t - 1e-9).astype(int)  # fund year 1, 2, ...
        rcs: tuple[float, ...] = tuple(self.call_rates)  # type: ignore[arg-type]  # a tuple after __post_init__
        rc_y = np.array([rcs[min(y - 1, len(rcs) - 1)] for y in year])
        rd_y = np.minimum(1.0, np.maximum(self.yield_rate, (t / self.fund_life) ** self.bow))
        rd_y[-1] = 1.0  # liquidation on the last date (and no call: see rates())
        return 1.0 - (1.0 - rc_y) ** (1.0 / p), 1.0 - (1.0 - rd_y) ** (1.0 / p)

    def rates(self, k: int, L: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Per-period call and distribution rates on date ``k`` (0-based) at liquidity state(s) ``L``."""
        rc, rd = self._base_rates()
        ell = np.asarray(L, dtype=float)
        x = ell - self.liquidity_mean
        with np.errstate(over="ignore"):
            c = np.minimum(1.0, rc[k] * np.exp(self.call_liquidity * x))
            d = np.minimum(1.0, rd[k] * np.exp(self.distribution_liquidity * x))
        if k == rc.size - 1:  # liquidation: everything distributed, the unfunded commitment lapses
            c, d = np.zeros_like(c), np.ones_like(d)
        return c, d

    def schedule(self, L: ArrayLike | None = None, *, growth: ArrayLike | None = None) -> TASchedule:
        """Calls, distributions and NAV on every date along a liquidity path.

        Parameters
        ----------
        L : float or array of length K, optional
            Liquidity state on each date (default ``liquidity_mean``).
        growth : array of length K, optional
            Per-period NAV growth overriding :math:`G` (e.g. index returns).
        """
        t = self.dates
        K = t.size
        ell = np.full(K, self.liquidity_mean) if L is None else np.broadcast_to(np.asarray(L, dtype=float), (K,)).copy()
        if not np.all(np.isfinite(ell)):
            raise ValueError("`L` must be finite.")
        g = np.full(K, self.period_growth) if growth is None else np.asarray(growth, dtype=float)
        if g.shape != (K,) or not np.all(np.isfinite(g)) or np.any(g <= -1):
            raise ValueError(f"`growth` must hold {K} finite per-period rates > -1.")
        calls, dist, nav, unf = (np.zeros(K) for _ in range(4))
        N, U = 0.0, self.commitment
        for k in range(K):
            c, d = self.rates(k, ell[k])
            C = float(c) * U
            D = float(d) * N * (1.0 + g[k])
            N = N * (1.0 + g[k]) + C - D
            U -= C
            calls[k], dist[k], nav[k], unf[k] = C, D, N, U
        return TASchedule(t, calls, dist, nav, unf, ell)


# ---------------------------------------------------------------------------
# the LAV solve
# ---------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class LAVResult:
    """Liquidity-adjusted value of a fund stake, its DCF counterpart and (optionally) a Monte Carlo check.

    Attributes
    ----------
    value : float
        :math:`V = N a(t_0, L_0) + U b(t_0, L_0)` by Feynman–Kac.
    dcf : float
        The same with :math:`L` frozen at ``dcf_level``.
    monte_carlo : Estimate or None
        Pathwise estimate ± standard error.
    a, b : ndarray
        :math:`a(t_0, \\cdot)`, :math:`b(t_0, \\cdot)` on the grid nodes.
    grid : Grid
    inputs, diagnostics : dict
    """

    value: float
    dcf: float
    a: NDArray[np.float64]
    b: NDArray[np.float64]
    grid: Any
    monte_carlo: Any = None
    inputs: dict[str, Any] = field(default_factory=dict)
    diagnostics: dict[str, Any] = field(default_factory=dict)

    @property
    def liquidity_discount(self) -> float:
        """:math:`1 - V/\\text{DCF}`: how much the liquidity path lowers the value against DCF."""
        return 1.0 - self.value / self.dcf if self.dcf != 0 else math.nan

    def value_at(self, L: ArrayLike, *, nav: float | None = None, unfunded: float | None = None) -> Any:
        """:math:`N a(t_0, L) + U b(t_0, L)` at other starting states (linear interpolation between nodes)."""
        N = self.inputs["nav"] if nav is None else check_nonnegative("nav", nav)
        U = self.inputs["unfunded"] if unfunded is None else check_nonnegative("unfunded", unfunded)
        x = np.asarray(L, dtype=float)
        v = N * np.interp(x, self.grid.nodes, self.a) + U * np.interp(x, self.grid.nodes, self.b)
        return float(v) if v.ndim == 0 else v

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"value": self.value, "dcf": self.dcf, "liquidity_discount": self.liquidity_discount,
               **{k: v for k, v in self.inputs.items() if isinstance(v, (int, float, str))}}
        if self.monte_carlo is not None:
            out["monte_carlo"] = {"value": self.monte_carlo.value, "stderr": self.monte_carlo.stderr,
                                  "n_paths": self.monte_carlo.n}
        return out

    def plot(self, *, ax: Any = None) -> Any:
        """The value as a function of the starting liquidity state, with the DCF level."""
        from gelav.plot import new_axes

        fig, ax = new_axes(ax)
        x = self.grid.nodes
        m = (x >= self.inputs["L0"] - 3) & (x <= self.inputs["L0"] + 3)
        ax.plot(x[m], self.value_at(x[m]), label="LAV  V(t₀, L)")
        ax.axhline(self.dcf, color="gray", ls="--", label=f"DCF (L = {self.inputs['dcf_level']:g})")
        ax.axvline(self.inputs["L0"], color="k", lw=0.6)
        if self.monte_carlo is not None:
            ax.errorbar([self.inputs["L0"]], [self.monte_carlo.value], yerr=[4 * self.monte_carlo.stderr], fmt="o",
                        color="tab:red", label="Monte Carlo ± 4 s.e.")
        ax.set_xlabel("starting liquidity state L₀")
        ax.set_ylabel("value [currency]")
        ax.set_title("Liquidity-adjusted value of the fund stake")
        ax.legend()
        return fig


def _premium_parts(premium: Any) -> tuple[Any, Any]:
    """``(level a(L), term f(τ))`` of an IlliquidityPremium, or ``(λ(L), None)`` for a plain callable rate."""
    if premium is None:
        return (lambda x: np.zeros_like(np.asarray(x, dtype=float))), None
    if hasattr(premium, "level") and hasattr(premium, "term") and hasattr(premium, "scaling"):
        if premium.scaling == "none":
            raise ValueError("`premium` has scaling 'none' (a lump haircut): it has no instantaneous rate to "
                             "discount at; use scaling 'sqrt' or 'linear'.")
        return (lambda x: np.asarray(premium.level(x), dtype=float)), (lambda tau: np.asarray(premium.term(tau), dtype=float))
    if callable(premium):
        return (lambda x: np.asarray(premium(x), dtype=float)), None
    raise TypeError(f"`premium` must be an IlliquidityPremium, a callable λ(L) or None, got {type(premium).__name__}.")


def _accrual(level_fn: Any, term_fn: Any, x: NDArray[np.float64], end: float, t0: float, t1: float) -> NDArray[np.float64]:
    """:math:`\\int_{t_0}^{t_1}\\lambda(x, T - u)du` with x frozen."""
    if term_fn is None:
        return level_fn(x) * (t1 - t0)
    f0 = float(term_fn(max(end - t0, 0.0)))
    f1 = float(term_fn(max(end - t1, 0.0)))
    return level_fn(x) * (f0 - f1)


#: Largest discount per time step left to Crank–Nicolson, max_x (λ - min λ)Δt (its factor
#: (1 - z/2)/(1 + z/2) is then within z³/12 ≈ 1.3e-3 of e^{-z} and positive).
_MAX_STEP_DISCOUNT = 0.25
#: Refinement cap per period; beyond it Rannacher start-up steps are used instead.
_MAX_STEPS_PER_PERIOD = 1024


def _period_steps(spread: float, term_fn: Any, end: float, t0: float, t1: float, steps: int, scheme: str,
                  damping_steps: int, cap: int = _MAX_STEPS_PER_PERIOD) -> tuple[int, int]:
    """Steps for the period [t0, t1] so the node-dependent step discount stays <= _MAX_STEP_DISCOUNT.

    Returns ``(n_steps, damping_steps)``; ``damping_steps`` is raised to 2 (one step split into two
    backward-Euler halves at each end) when the cap on the steps is reached first.
    """
    if spread == 0.0:
        return steps, damping_steps

    def worst(n: int) -> float:
        ts = np.linspace(t0, t1, n + 1)
        if term_fn is None:
            return spread * float(np.max(np.diff(ts)))
        f = np.asarray(term_fn(np.maximum(end - ts, 0.0)), dtype=float)
        return spread * float(np.max(np.abs(np.diff(f))))

    n = steps
    cap = max(cap, steps)
    while worst(n) > _MAX_STEP_DISCOUNT and n < cap:
        n = min(2 * n, cap)
    if worst(n) > _MAX_STEP_DISCOUNT and scheme == "cn":
        return n, max(damping_steps, 2)
    return n, damping_steps


def _fk_solve(model: TakahashiAlexander, process: ProcessLike, grid: Any, lam_nodes: NDArray[np.float64],
              level_fn: Any, term_fn: Any, r: float, age: float, steps: int, scheme: str,
              damping_steps: int, cap: int) -> dict[str, Any]:
    """:math:`a(t_0, \\cdot)`, :math:`b(t_0, \\cdot)` on ``grid``: backward through the dates, jump condition at each.

    The part of the discount that is the same at every node (r and the premium at its
    smallest level) is integrated exactly, e^{-c} with c = rΔt + min_x a(x)Δf: it commutes
    with the generator. Crank–Nicolson only sees the rest, λ(x) - min λ >= 0, whose step
    discount z = (max - min λ)Δt is kept <= _MAX_STEP_DISCOUNT by refining the steps;
    where that would take more than _MAX_STEPS_PER_PERIOD steps, Rannacher start-up
    steps damp what CN's factor (1 - z/2)/(1 + z/2) -> -1 would otherwise keep.
    """
    from gelav.backward import backward
    from gelav.grid import TimeGrid

    dates = model.dates
    end = float(dates[-1])
    x = grid.nodes
    a = np.zeros_like(x)
    b = np.zeros_like(x)
    k_first = int(np.searchsorted(dates, age, side="right"))  # first date after the valuation
    n_backward = 0
    lam_min = float(lam_nodes.min())
    lam_spread = float(lam_nodes.max()) - lam_min
    max_steps_used = steps
    damped_periods = 0
    for k in range(dates.size - 1, k_first - 1, -1):
        c, d = model.rates(k, x)
        g = model.period_growth
        a, b = (1.0 + g) * (d + (1.0 - d) * a), c * (a - 1.0) + (1.0 - c) * b
        t_prev = max(float(dates[k - 1]) if k > 0 else 0.0, age)
        t_k = float(dates[k])
        n_k, damp_k = _period_steps(lam_spread, term_fn, end, t_prev, t_k, steps, scheme, damping_steps, cap)
        max_steps_used = max(max_steps_used, n_k)
        damped_periods += damp_k > damping_steps
        tg = TimeGrid.build(t_k - t_prev, n_k, start=t_prev, scheme=scheme, damping_steps=damp_k)
        ts = tg.times

        def disc(t: float, xx: NDArray[np.float64], ts: NDArray[np.float64] = ts) -> NDArray[np.float64]:
            i = min(max(int(np.searchsorted(ts, t)) - 1, 0), ts.size - 2)
            dt = ts[i + 1] - ts[i]
            return np.maximum(_accrual(level_fn, term_fn, xx, end, ts[i], ts[i + 1])
                              - _accrual(lambda v: np.full_like(np.asarray(v, dtype=float), lam_min), term_fn,
                                         xx, end, ts[i], ts[i + 1]), 0.0) / dt

        common = math.exp(-r * (t_k - t_prev)
                          - float(_accrual(lambda v: np.asarray(lam_min), term_fn, np.array(0.0), end, t_prev, t_k)))
        if lam_spread == 0.0:  # the discount is the same at every node: nothing left for the scheme
            disc = None  # type: ignore[assignment]
        va = backward(process, a, t_k - t_prev, discount=disc, grid=grid, time_grid=tg, start=t_prev, times=[t_prev])
        vb = backward(process, b, t_k - t_prev, discount=disc, grid=grid, time_grid=tg, start=t_prev, times=[t_prev])
        a, b = common * va.values[0], common * vb.values[0]
        n_backward += 2
    return {"a": a, "b": b, "backward_solves": n_backward, "max_steps_per_period": max_steps_used,
            "damped_periods": int(damped_periods)}


#: Largest cell Péclet number |b| h / σ² of the grid at the reference resolution (200 cells on the
#: uniform part): the Scharfetter–Gummel flux is second order where the cells resolve the drift and
#: falls to first order (upwinding) where they do not.
_PECLET = 1.0
_REFERENCE_CELLS = 200


def _cell_density(process: ProcessLike, age: float, lo: float, hi: float) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """``(xs, G)``: cells per unit length, per reference cell, on a fine auxiliary mesh of [lo, hi].

    :math:`G(x) = \\max\\big(1/(hi - lo),\\ |b(x)|/(\\mathrm{Pe}\\,\\sigma^2(x)\\,n_0)\\big)`: uniform where
    the drift is resolved, finer in proportion to :math:`|b|/\\sigma^2` where it is not (a start far from
    the long-run level, where the OU drift :math:`\\kappa(\\bar L - L)` is large). A grid of ``n`` cells
    on the uniform part puts ``n G(x)`` cells per unit length at x.
    """
    xs = np.linspace(lo, hi, 4001)
    G = np.full_like(xs, 1.0 / (hi - lo))
    drift, var = getattr(process, "drift", None), getattr(process, "variance_rate", None)
    if drift is not None and var is not None:
        try:
            bx = np.abs(np.asarray(drift(age, xs), dtype=float))
            sx = np.asarray(var(age, xs), dtype=float)
        except Exception:
            return xs, G
        ok = np.isfinite(bx) & np.isfinite(sx) & (sx > 0)
        G[ok] = np.maximum(G[ok], bx[ok] / (_PECLET * sx[ok] * _REFERENCE_CELLS))
    return xs, G


def _lav_grid(lo: float, hi: float, n: int, L0: float, density: tuple[NDArray[np.float64], NDArray[np.float64]]) -> Any:
    """Nodes at :math:`s(x) = k/n`, :math:`s(x) = \\int_{L_0}^x G`: ``L0`` is a node, the grids of n and 2n are nested."""
    from gelav.grid import Grid

    xs, G = density
    if np.all(G == G[0]):  # the drift is resolved everywhere: the uniform grid
        return Grid.aligned(lo, hi, n, node=L0)
    cum = np.concatenate(([0.0], np.cumsum(0.5 * (G[1:] + G[:-1]) * np.diff(xs))))
    cum -= np.interp(L0, xs, cum)
    k_lo = math.ceil(-cum[0] * n - 1e-9)
    k_hi = math.ceil(cum[-1] * n - 1e-9)
    s = np.arange(-k_lo, k_hi + 1) / n
    x = np.interp(s, cum, xs)
    # beyond the ends (less than one cell out): the end spacing
    x = np.where(s < cum[0], xs[0] + (s - cum[0]) / G[0], x)
    x = np.where(s > cum[-1], xs[-1] + (s - cum[-1]) / G[-1], x)
    x[k_lo] = L0
    return Grid(np.asarray(x, dtype=np.float64))


#: the furthest start, in stationary standard deviations from the long-run level, at which the value is
#: validated against the exact (Riccati) value: L0 = -20 ... 20 for the default OU (62 sd) agree within the
#: estimate; at L0 = 50 (145 sd) the levels converge to a limit 1.07e-3 (relative) from the exact one
VALIDATED_START_SD = 65.0


def _check_validated_start(process: ProcessLike, L0: float) -> None:
    """Refuse a start beyond :data:`VALIDATED_START_SD` stationary standard deviations of an OU-type
    process (``kappa``, ``mean``, ``sigma`` parameters) from its long-run level: not validated there."""
    from gelav.processes.protocol import params_of

    prm = params_of(process)
    try:
        kappa, mean, sigma = (float(prm[k]) for k in ("kappa", "mean", "sigma"))
    except (KeyError, TypeError, ValueError):
        return
    if not kappa > 0:
        return
    sd = sigma / math.sqrt(2.0 * kappa)
    far = abs(L0 - mean) / sd
    if far > VALIDATED_START_SD:
        lo, hi = mean - VALIDATED_START_SD * sd, mean + VALIDATED_START_SD * sd
        raise ValueError(f"`L0` = {L0:g} lies {far:.0f} stationary standard deviations ({sd:.3g}) from the long-run "
                         f"level {mean:g}: the value is validated against the exact one only within "
                         f"{VALIDATED_START_SD:g} of them (at L0 = 50, 145 of them, it converged 1e-3 away from it); give "
                         f"`L0` in [{lo:.4g}, {hi:.4g}].")


def liquidity_adjusted_value(
    model: TakahashiAlexander | None = None,
    process: ProcessLike | None = None,
    *,
    premium: Any = "default",
    rate: float = 0.08,
    L0: float | None = None,
    age: float = 0.0,
    nav: float | None = None,
    unfunded: float | None = None,
    dcf_level: float | None = None,
    n_cells: int = 200,
    steps_per_period: int = 16,
    scheme: str = "cn",
    damping_steps: int = 0,
    domain: tuple[float, float] | None = None,
    rtol: float | None = 1e-4,
    atol: float = 0.0,
    max_cells: int = 40_000,
    monte_carlo: int = 0,
    mc_steps_per_period: int = 16,
    seed: SeedLike = None,
) -> LAVResult:
    r"""Liquidity-adjusted value of a Takahashi–Alexander fund stake by Feynman–Kac (see the module notes).

    .. math::

        V(t_0, L_0) = E\Big[\sum_{t_k > t_0} e^{-\int_{t_0}^{t_k}(r + \lambda(L_u, T - u))du}
        (D_k - C_k)\,\Big|\,L_{t_0} = L_0\Big],

    :math:`T` the fund's last date.

    Parameters
    ----------
    model : TakahashiAlexander, optional
        The fund (default ``TakahashiAlexander()``).
    process : Process, optional
        Liquidity state (default ``OrnsteinUhlenbeck(0.45, 1.0, 0.32)``).
    premium : IlliquidityPremium, callable λ(L) [1/year], None or "default"
        Discount spread; ``"default"`` is ``gelav.IlliquidityPremium()``; None prices at ``rate`` alone.
    rate : float
        Risk-free (or required) rate r per year, continuously compounded, ≥ 0.
    L0 : float, optional
        Liquidity state at ``age`` (default: the process's long-run mean).
    age : float
        Fund age :math:`t_0` (years) at the valuation, before the last date.
    nav, unfunded : float, optional
        The state at ``age`` (default: a new commitment, NAV 0 and the whole commitment unfunded).
    dcf_level : float, optional
        Level at which DCF freezes L (default: the process's long-run mean).
    n_cells, steps_per_period, scheme, domain :
        Space cells, Crank–Nicolson steps between two dates (at least; more where the
        node-dependent discount per step would exceed 0.25, see the module notes),
        ``"cn"``/``"euler"``, L-domain.
    damping_steps : int
        Rannacher (backward-Euler half) steps at the ends of each period; default 0:
        the functions :math:`a, b` are smooth in :math:`L` at every date (no kinked
        payoff), so Crank–Nicolson needs no damping and keeps order 2 throughout.
        Raised to 2 in a period whose discount per step cannot be brought under 0.25
        within 1024 steps (``diagnostics["damped_periods"]`` counts them).
    rtol, atol : float
        The value is refined (cells and steps doubled, up to ``max_cells``) until its error estimate
        is at most ``rtol |V| + atol`` (default 1e-4, 0); otherwise a ConvergenceError leaves it out.
        The estimate is Richardson's from three nested levels (the run asked for and its halves),
        trusted only when their observed order is 1.5-3.5 (``diagnostics["error_estimate"]``,
        ``["observed_order"]``, ``["refinement"]``). ``rtol=None``: no refinement (the estimate is
        still reported, NaN when not trusted).
    max_cells : int
        Most cells of a grid (default 40,000). The grid is uniform where the cells resolve the
        drift (cell Péclet number at most 1 at 200 cells) and finer where they do not: a start far
        from the long-run level (the OU drift κ(L̄ − L) is large) needs many more cells.
    monte_carlo : int
        Paths for the Monte Carlo cross-check (0: none).
    mc_steps_per_period : int
        Monte Carlo steps between two dates (trapezoidal discounting).
    seed : int, SeedSequence, Generator or None

    Returns
    -------
    LAVResult

    Raises
    ------
    gelav.errors.ConvergenceError
        No trusted error estimate within ``rtol``/``atol`` before the grid would exceed ``max_cells``
        (e.g. L0 = 100 for the default OU process and premium).

    Examples
    --------
    >>> from gelav.valuation.lav import liquidity_adjusted_value
    >>> r = liquidity_adjusted_value(premium=None, n_cells=40, steps_per_period=8)
    >>> abs(r.value / r.dcf - 1) < 1e-5   # no premium, L-free rates: the value is the DCF (to the CN error)
    True
    """
    from gelav.grid import auto_domain
    from gelav.processes import OrnsteinUhlenbeck

    model = TakahashiAlexander() if model is None else model
    if not isinstance(model, TakahashiAlexander):
        raise TypeError(f"`model` must be a TakahashiAlexander, got {type(model).__name__}.")
    process = OrnsteinUhlenbeck(0.45, 1.0, 0.32) if process is None else process
    if isinstance(premium, str):
        if premium != "default":
            raise ValueError(f"`premium` must be an IlliquidityPremium, a callable, None or 'default', got {premium!r}.")
        from gelav.valuation.premium import IlliquidityPremium

        premium = IlliquidityPremium()
    level_fn, term_fn = _premium_parts(premium)
    r = check_nonnegative("rate", rate, maximum=MAX_RATE)
    from gelav.processes.protocol import params_of

    mean = params_of(process).get("mean")
    if L0 is None:
        if mean is None:
            raise ValueError("Give `L0`: the process has no long-run mean attribute.")
        L0 = float(mean)
    L0 = check_finite("L0", L0)
    _check_validated_start(process, L0)
    if dcf_level is not None:
        lbar = check_finite("dcf_level", dcf_level)
    else:
        lbar = float(mean) if mean is not None else L0
    dates = model.dates
    end = float(dates[-1])
    age = check_nonnegative("age", age)
    if age >= end:
        raise ValueError(f"`age` = {age} must be before the fund's last date {end:g}.")
    N0 = 0.0 if nav is None else check_nonnegative("nav", nav)
    U0 = model.commitment if unfunded is None else check_nonnegative("unfunded", unfunded)
    n_cells = check_int("n_cells", n_cells, minimum=8)
    steps = check_int("steps_per_period", steps_per_period, minimum=1)
    damping_steps = check_int("damping_steps", damping_steps, minimum=0)
    n_mc = check_int("monte_carlo", monte_carlo, minimum=0)
    from gelav.fd.schemes import get_theta_scheme

    get_theta_scheme(scheme, why=" (the fund value steps with the θ-stepper)")

    if domain is None:
        lo, hi = auto_domain(process, L0, end - age, tail=1e-9, include=(lbar,))
    else:
        lo, hi = check_finite("domain[0]", domain[0]), check_finite("domain[1]", domain[1])
        if not lo < L0 < hi:
            raise ValueError(f"`L0` = {L0} must lie inside `domain` {domain}.")
    rtol_v = None if rtol is None else check_positive("rtol", rtol)
    atol_v = check_nonnegative("atol", atol)
    max_cells = check_int("max_cells", max_cells, minimum=2 * n_cells)
    density = _cell_density(process, age, lo, hi)

    def check_premium(x: NDArray[np.float64]) -> NDArray[np.float64]:
        lam_nodes = level_fn(x)
        if np.any(~np.isfinite(lam_nodes)) or (term_fn is None and np.any(r + lam_nodes < 0)):
            raise ValueError("`premium` gives a negative or non-finite discount rate r + λ(L) on the L-domain.")
        if term_fn is not None and np.any(lam_nodes < 0):
            # a(L) < 0 somewhere: r + a(L) f'(τ) turns negative as τ -> 0 for the sqrt scaling
            neg = x[lam_nodes < 0]
            raise ValueError(f"`premium` level a(L) is negative for L in [{neg.min():g}, {neg.max():g}]: the "
                             "discount rate r + λ(L, τ) would be negative; restrict `domain` or use another premium.")
        return lam_nodes

    def run(n: int, steps_n: int) -> dict[str, Any]:
        grid = _lav_grid(lo, hi, n, L0, density)
        if grid.n_nodes - 1 > max_cells:
            raise ConvergenceError(
                f"liquidity_adjusted_value: the grid that resolves the drift from `L0` = {L0:g} to the long-run "
                f"level needs {grid.n_nodes - 1} cells, more than `max_cells` = {max_cells}; the value is left "
                "out. Raise `max_cells` (the run time grows with it) or value from a starting state closer to "
                "the process's long-run law.", history=levels)
        # the cap on the steps of a period scales with the level too (a fixed cap would hide the
        # time error from the differences between levels)
        cap = max(1, round(_MAX_STEPS_PER_PERIOD * steps_n / steps))
        out = _fk_solve(model, process, grid, check_premium(grid.nodes), level_fn, term_fn, r, age, steps_n,
                        scheme, damping_steps, cap)
        i0 = int(np.argmin(np.abs(grid.nodes - L0)))
        out["value"] = N0 * float(out["a"][i0]) + U0 * float(out["b"][i0])
        out["grid"], out["n_cells"], out["steps"] = grid, n, steps_n
        levels.append({"n_cells": grid.n_nodes - 1, "steps_per_period": steps_n, "value": out["value"]})
        return out

    # Error estimate: the same solve on nested grids (every other node; the map of _lav_grid is
    # the same at every level) with half the time steps, three levels h, h/2, h/4 (the last the
    # one asked for): the observed order p = log2|d1/d2| of the last two differences must be
    # that of the scheme (1.5 <= p <= 3.5) before Richardson's err = |d2|/(2^min(p, 2) - 1) is
    # trusted. With `rtol` the grids and steps are halved until a trusted err <= rtol |V| + atol.
    levels: list[dict[str, Any]] = []
    # (the value returned is the run asked for; with n_cells or steps_per_period not divisible by
    # 4 the coarser levels round down and the ratio of their spacings is only close to 2)
    if n_cells < 32:
        runs = [run(n_cells, steps), run(2 * n_cells, 2 * steps), run(4 * n_cells, 4 * steps)]
    else:
        runs = [run(n_cells // 4, max(1, steps // 4)), run(n_cells // 2, max(1, steps // 2)), run(n_cells, steps)]
    while True:
        vals = [u["value"] for u in runs]
        d1 = runs[1]["value"] - runs[0]["value"]
        d2 = runs[2]["value"] - runs[1]["value"]
        roundoff = 64 * np.finfo(float).eps * max(abs(v) for v in vals)
        if abs(d2) <= roundoff:  # the levels agree to rounding (e.g. no L-dependence at all)
            order, err = math.inf, abs(d2)
        else:
            order = math.log2(abs(d1 / d2)) if d1 != 0.0 else -math.inf
            err = abs(d2) / (2.0 ** min(max(order, 0.0), 2.0) - 1.0) if order > 0 else math.inf
        trusted = abs(d2) <= roundoff or 1.5 <= order <= 3.5
        if rtol_v is None or (trusted and err <= rtol_v * abs(runs[2]["value"]) + atol_v):
            break
        if 2 * (runs[2]["grid"].n_nodes - 1) > max_cells:
            raise ConvergenceError(
                f"liquidity_adjusted_value: no value within `rtol` = {rtol_v:g} (+ `atol` = {atol_v:g}) at "
                f"`L0` = {L0:g}: the last grids ({', '.join(str(u['grid'].n_nodes - 1) for u in runs)} cells) "
                f"give {', '.join(f'{v:.10g}' for v in vals)} "
                f"(observed order {order:.3g}, error estimate {err:.3g}); the next grid would exceed "
                f"`max_cells` = {max_cells}. The value is left out: raise `max_cells`, loosen `rtol`/`atol`, "
                "or value from a starting state closer to the process's long-run law.", history=levels)
        runs = [runs[1], runs[2], run(2 * runs[2]["n_cells"], 2 * runs[2]["steps"])]
    fine = runs[2]
    if not trusted:
        err = math.nan
    grid, a, b, value = fine["grid"], fine["a"], fine["b"], fine["value"]
    x = grid.nodes
    n_backward = sum(u["backward_solves"] for u in runs)
    max_steps_used, damped_periods = fine["max_steps_per_period"], fine["damped_periods"]

    # DCF: L frozen at lbar
    k_first = int(np.searchsorted(dates, age, side="right"))  # first date after the valuation
    ad, bd = 0.0, 0.0
    for k in range(dates.size - 1, k_first - 1, -1):
        cs, ds = (float(v) for v in model.rates(k, lbar))
        g = model.period_growth
        ad, bd = (1.0 + g) * (ds + (1.0 - ds) * ad), cs * (ad - 1.0) + (1.0 - cs) * bd
        t_prev = max(float(dates[k - 1]) if k > 0 else 0.0, age)
        acc = float(_accrual(level_fn, term_fn, np.array(lbar), end, t_prev, float(dates[k])))
        df = math.exp(-r * (float(dates[k]) - t_prev) - acc)
        ad, bd = ad * df, bd * df
    dcf = N0 * ad + U0 * bd

    mc = None
    if n_mc:
        mc = _monte_carlo(model, process, level_fn, term_fn, r, L0, age, N0, U0, n_mc,
                          check_int("mc_steps_per_period", mc_steps_per_period, minimum=1), seed)
    inputs = {"L0": L0, "age": age, "nav": N0, "unfunded": U0, "rate": r, "dcf_level": lbar,
              "premium": getattr(premium, "to_dict", lambda: repr(premium))(), "model": model, "process": process}
    diagnostics = {"n_cells": x.size - 1, "steps_per_period": fine["steps"],
                   "error_estimate": err, "observed_order": order, "refinement": levels,
                   "scheme": scheme, "domain": (float(x[0]), float(x[-1])), "backward_solves": n_backward,
                   "max_steps_per_period": max_steps_used, "damped_periods": int(damped_periods)}
    return LAVResult(value=value, dcf=dcf, a=a, b=b, grid=grid, monte_carlo=mc, inputs=inputs,
                     diagnostics=diagnostics)


def _monte_carlo(model: TakahashiAlexander, process: ProcessLike, level_fn: Any, term_fn: Any, r: float, L0: float,
                 age: float, N0: float, U0: float, n_paths: int, m: int, seed: SeedLike) -> Any:
    from gelav.montecarlo import simulate
    from gelav.results import Estimate

    dates = model.dates
    end = float(dates[-1])
    int(np.searchsorted(dates, age, side="right"))
    # uniform steps of about 1/(p m) years from `age`; each date falls on its nearest step
    # (exactly on a step when `age` is itself a date, e.g. 0)
    horizon = end - age
    n_steps = max(1, math.ceil(horizon * model.periods_per_year * m - 1e-9))
    sch = "exact" if type(process).__name__ == "OrnsteinUhlenbeck" else "euler"
    paths = simulate(process, L0, horizon, n_steps, n_paths, scheme=sch, seed=seed, save="all", start=age)
    t = paths.times
    Lp = paths.values  # (n_t, n_paths)
    acc = np.zeros(n_paths)
    total = np.zeros(n_paths)
    N = np.full(n_paths, N0)
    U = np.full(n_paths, U0)
    g = model.period_growth
    date_idx = {int(np.argmin(np.abs(t - d))): k for k, d in enumerate(dates) if d > age}
    for j in range(1, t.size):
        inc = 0.5 * (_accrual(level_fn, term_fn, Lp[j - 1], end, t[j - 1], t[j])
                     + _accrual(level_fn, term_fn, Lp[j], end, t[j - 1], t[j]))
        acc += r * (t[j] - t[j - 1]) + inc
        if j in date_idx:
            k = date_idx[j]
            c, d = model.rates(k, Lp[j])
            C = c * U
            D = d * N * (1.0 + g)
            N = N * (1.0 + g) + C - D
            U = U - C
            total += np.exp(-acc) * (D - C)
    return Estimate(float(total.mean()), float(total.std(ddof=1) / math.sqrt(n_paths)), n_paths)


def report_lav(result: LAVResult | None = None, **kwargs: Any) -> tuple[dict[str, Any], Any]:
    """Report hook: value, DCF and liquidity discount (``result`` or ``liquidity_adjusted_value(**kwargs)``) and the figure."""
    if result is None:
        result = liquidity_adjusted_value(**kwargs)
    return result.as_dict(), result.plot()
