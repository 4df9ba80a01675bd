r"""The discretised mean-field game: one best response (backward) and one population sweep (forward).

All types are stacked into one block-tridiagonal system (zero coupling between
blocks), so a step for K types costs one LAPACK call. Per time step
:math:`t_n \to t_{n+1}` and type, with :math:`Q_n` the fitted generator of the
liquidity dynamics (reflecting ends), :math:`k_n` the exit intensity,
:math:`\rho_n = e^{-r\Delta t_n}` and :math:`s_n = e^{-r\Delta t_n/2} f_n + k_n \pi_n`:

.. math::

    \underbrace{(I - \theta\Delta t\,Q_n + \Delta t\,\mathrm{diag}\,k_n)}_{L_n} V_n
        = \rho_n \underbrace{(I + (1-\theta)\Delta t\,Q_n)}_{R_n} V_{n+1} + \Delta t\, s_n ,
    \qquad V_M = \mathrm{NAV},

with the relaxed exit intensity :math:`k_n = \varepsilon^{-1}\varphi((\pi_n - V_n)/\delta)`,
:math:`\varphi(z) = z_+^2/(1+z_+)`, found by Newton's method inside the step
(``control="newton"``) or from :math:`V_{n+1}` (``"lagged"``). The population
sweep is the exact transpose,

.. math::

    p_{n+1} = R_n^\top L_n^{-\top} p_n, \qquad
    \text{exits}_n = \Delta t\, k_n \cdot L_n^{-\top} p_n ,

so holders plus cumulative exits stay equal to 1 to rounding
(:math:`Q_n\mathbf 1 = 0`), and :math:`\langle p_0, V_0\rangle = \sum_n D_n\,\Delta t\,
(L_n^{-\top}p_n)\cdot s_n + D_M \langle p_M, \mathrm{NAV}\rangle` with
:math:`D_n = \prod_{j<n}\rho_j` (duality, exact to rounding).

Positivity. :math:`L_n` is an M-matrix, so the step keeps masses non-negative when
:math:`R_n \ge 0`; Crank–Nicolson breaks that on almost every grid and is positive
anyway unless a coarse step meets rough data (the exit front). The steps that make a
negative mass are found on the result (:meth:`Problem.negative_steps`) and taken with
:math:`\theta_n = 1` (:math:`R_n = I`) in both sweeps (:meth:`Problem.with_implicit_steps`:
the time grid's ``theta``, same times); :func:`gelav.mfg.solve` then solves the fixed
point again.

Cost. The step operators without exits (bands of :math:`L^0_n = I - \theta\Delta t\,Q_n`
and of :math:`\rho_n R_n`, :math:`R_n^\top`) are built for all steps at once; when the
dynamics do not depend on the population they are built and factorised once per
problem, together with the no-exit backward and forward sweeps, which are
population independent: the trailing steps whose no-exit values lie above every
price, and the population before the first exit, are taken from them. A step where
nobody exits is a solve with the cached factorisation (accepted when
:math:`\pi_n \le V_n` everywhere, where the exit intensity is exactly zero); a step
with exits runs Newton's method, predicted from the next three levels extrapolated
in time (:func:`extrapolation_weights`; warm: the previous fixed-point iterate plus
its extrapolated change, when given), and a frozen-intensity solve; the forward sweep reuses the stored
intensities (NumPy engine: the transposed solve from the factorisation the frozen-intensity solve kept,
:meth:`Problem._factor_store`; compiled engine: one elimination on the transposed bands). Every solve goes through
:mod:`gelav.fd.linalg`; the sweeps are the kernels of :mod:`gelav.mfg.kernels`. With a close warm start Newton can
run on all steps at once (``newton="global"``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
from numpy.typing import NDArray

from gelav.fd import linalg
from gelav.fd.generator import fitted_bands
from gelav.fd.grid import Grid, TimeGrid
from gelav.mfg import kernels
from gelav.mfg.buyers import wrap_coupling
from gelav.mfg.coupling import AGGREGATES, CouplingContext, make_coupling
from gelav.mfg.model import MFGModel, Numerics

__all__ = ["NEGATIVE_MASS_TOLERANCE", "Backward", "Forward", "Problem", "StepOps", "exit_intensity",
           "extrapolation_weights",
           "lowest_relative_mass",
           "volume_fraction_below"]

Array = NDArray[np.float64]

#: holder masses below ``-NEGATIVE_MASS_TOLERANCE ×`` (the largest mass of their time level) are negative
#: (issue 11, class 3): the steps making them are taken as backward Euler (:meth:`Problem.negative_steps`).
#: Far above rounding (a step's rounding is ~1e-16 Δt|q_ii| of the largest mass), so both engines agree on
#: the steps; Crank–Nicolson's far tails (~1e-20 of the largest mass on ordinary grids) stay untouched.
NEGATIVE_MASS_TOLERANCE = 1e-10

#: entries per block of steps in the vectorised parts of Newton on all steps at once (they stay in cache)
GLOBAL_BLOCK = 32768


def exit_intensity(gap: Array, eps: float, delta: float) -> Array:
    r"""Relaxed exit intensity :math:`\varepsilon^{-1}\varphi(\text{gap}/\delta)`, :math:`\varphi(z) = z_+^2/(1+z_+)` [1/year]."""
    z = np.maximum(gap / delta, 0.0)
    return z * z / (1.0 + z) / eps


class StepOps:
    r"""The step operators without exits, stacked over the steps (arrays (M, KN) or (M, KN-1)).

    :math:`L^0_n = I - \theta\Delta t\,Q_n` has bands ``(al, ad, au)`` (sub-, main,
    super-diagonal, LAPACK layout); :math:`R_n = I + (1-\theta)\Delta t\,Q_n` is
    applied backward scaled by :math:`\rho_n` (``rbd, rbl, rbu``: ``b = rbd*V``,
    ``b[1:] += rbl*V[:-1]``, ``b[:-1] += rbu*V[1:]``) and forward transposed
    (``rfd, rfl, rfu``: ``p = rfd*q``, ``p[:-1] += rfl*q[1:]``, ``p[1:] += rfu*q[:-1]``).
    ``lu0`` caches the factorisations of :math:`L^0_n` (a batch of
    :class:`gelav.fd.linalg.TridiagonalLU`, static dynamics only).

    With ``rows`` (M,) the bands given are *distinct* operators (R rows) and step ``n``
    uses row ``rows[n]`` (population-independent dynamics: a uniform grid has a handful);
    ``bands`` and ``rows`` are what the sweeps read, and the attributes ``al``, ...,
    ``rfu`` are the per-step arrays, built on first use. ``lu0`` then factorises the rows.
    """

    BANDS = ("al", "ad", "au", "rbd", "rbl", "rbu", "rfd", "rfl", "rfu")
    al: Array
    ad: Array
    au: Array
    rbd: Array
    rbl: Array
    rbu: Array
    rfd: Array
    rfl: Array
    rfu: Array

    def __init__(self, al: Array, ad: Array, au: Array, rbd: Array, rbl: Array, rbu: Array, rfd: Array,
                 rfl: Array, rfu: Array, lu0: linalg.TridiagonalLU | None = None,
                 rows: NDArray[np.int64] | None = None) -> None:
        self.bands = (al, ad, au, rbd, rbl, rbu, rfd, rfl, rfu)
        self.lu0 = lu0
        self.compact = rows is not None
        self.rows = (np.arange(ad.shape[0], dtype=np.int64) if rows is None
                     else np.ascontiguousarray(rows, dtype=np.int64))
        if rows is None:
            for name, band in zip(self.BANDS, self.bands, strict=True):
                setattr(self, name, band)

    @property
    def aux(self) -> list[tuple[tuple[Array, ...] | None, tuple[Array, Array, Array] | None]]:
        r"""Per row, what the NumPy kernels solve with (:func:`gelav.mfg.kernels._solve`): the raw LAPACK
        factors of ``lu0`` (None without factorisations, or under 3 unknowns) and the symmetrizer
        ``(D, 1/D, e)`` of :math:`L^0` (:func:`gelav.fd.linalg.symmetrizer`; None if it has none). Every matrix
        a sweep solves differs from its row's :math:`L^0` only on the diagonal, so one :math:`D` per row serves
        the Newton Jacobians, the frozen-intensity steps and their transposes. Computed on first use."""
        lu0 = self.lu0
        cached = self.__dict__.get("_aux")
        if cached is not None and cached[0] is lu0:
            return cached[1]  # type: ignore[no-any-return]
        al, au = self.bands[0], self.bands[2]
        R = self.bands[1].shape[0]
        lus: list[tuple[Array, ...] | None] = [None] * R
        if lu0 is not None and lu0.backend == "lapack" and lu0.n >= 3:
            lus = [lu0[i].lapack_factors for i in range(len(lu0))]
        syms: list[tuple[Array, Array, Array] | None] = [None] * R
        if al.shape[1] > 0:
            both = linalg.symmetrizer(al, au)
            for i in range(R):
                one = (both[0][i], both[1][i]) if both is not None else linalg.symmetrizer(al[i], au[i])
                if one is not None:
                    syms[i] = (one[0], 1.0 / one[0], one[1])
        aux = list(zip(lus, syms, strict=True))
        self.__dict__["_aux"] = (lu0, aux)
        return aux

    @cached_property
    def row_lists(self) -> tuple[list[Any], list[int]]:
        """The bands as lists of row views and ``rows`` as a list of ints: what the NumPy kernels index step
        by step (a list item is cheaper than a new view of a 2-D array, the same numbers)."""
        return [list(band) for band in self.bands], self.rows.tolist()

    def __getattr__(self, name: str) -> Any:
        bands = self.__dict__.get("bands")
        if bands is None or name not in StepOps.BANDS:
            raise AttributeError(name)
        full = np.ascontiguousarray(bands[StepOps.BANDS.index(name)][self.rows])  # per step, on first use
        setattr(self, name, full)
        return full


@dataclass(eq=False)
class Backward:
    """A best response: values, exit intensities and the step operators."""

    V: Array  # (M+1, KN)
    k: Array  # (M, KN)
    ops: StepOps
    price: Array  # (K, M, N)
    market: Array  # (K, M)
    base: Array  # (K, M)
    Q: tuple[Array, Array, Array]
    newton_iterations: int  # Newton corrections summed over the steps ("global": sweeps over all steps)
    exiting: Array  # (M,) bool: steps with a nonzero exit intensity
    dt: Array  # (M,)
    newton: str = "step"  # how the exit intensity was solved: "step" (per step), "global" (all steps), "numba"
    #: ``(problem, buffer, generation)``: where the NumPy sweep kept the factorisations of its frozen-intensity
    #: steps (``Problem._factor_store``); the forward sweep solves their transposes with them
    #: (:func:`gelav.mfg.kernels._solve_keep`) while the buffer still holds them. None: nothing kept
    factors: tuple[Any, int, int] | None = None

    @property
    def diag(self) -> Array:
        r"""Main diagonal of :math:`L_n = L^0_n + \Delta t_n\,\mathrm{diag}\,k_n`, shape (M, KN)."""
        return self.ops.ad + self.dt[:, None] * self.k

    @cached_property
    def lu(self) -> linalg.TridiagonalLU:
        """Factorisations of the steps :math:`L_n` (a batch: ``lu[n].solve(b)``; computed on first use)."""
        return linalg.factor(self.ops.al, self.diag, self.ops.au)


@dataclass(eq=False)
class Forward:
    """The population under a policy: holder masses, exits and aggregate path."""

    P: Array  # (M+1, K, N) holder masses (at T_k: before the payout)
    q: Array  # (M, KN) L^{-T} p_n
    exits: Array  # (M, K) exit mass per step
    Z: Array  # (n_aggregates, M)


def extrapolation_weights(times: Array) -> Array:
    r"""Weights (M, 3) extrapolating a function of time from the levels :math:`t_{n+1}, t_{n+2}, t_{n+3}` to
    :math:`t_n`: the quadratic Lagrange weights :math:`w_j = \prod_{k \ne j}(t_n - t_k)/(t_j - t_k)`
    ((3, -3, 1) on uniform steps), linear where only two levels follow, (1, 0, 0) at the last step.

    The backward sweep's Newton predictors extrapolate the values (cold) or their change against the
    previous best response (warm) with them: an error of :math:`O(\Delta t^3)` instead of the
    :math:`O(\Delta t)` of the next level alone, hence fewer Newton corrections (the scheme, solved
    to the same tolerance, is unchanged).
    """
    t = np.asarray(times, dtype=float)
    M = t.size - 1
    w = np.zeros((M, 3))
    if M >= 1:
        w[M - 1, 0] = 1.0
    if M >= 2:
        x, a, b = t[M - 2], t[M - 1], t[M]
        w[M - 2, :2] = (x - b) / (a - b), (x - a) / (b - a)
    if M >= 3:
        x, a, b, c = t[:-3], t[1:-2], t[2:-1], t[3:]
        w[:M - 2, 0] = (x - b) * (x - c) / ((a - b) * (a - c))
        w[:M - 2, 1] = (x - a) * (x - c) / ((b - a) * (b - c))
        w[:M - 2, 2] = (x - a) * (x - b) / ((c - a) * (c - b))
    return w


def lowest_relative_mass(P: Array) -> tuple[float, tuple[int, ...]]:
    """The lowest holder mass relative to the largest mass of its time level (``P``: time levels first),
    and its index: below ``-NEGATIVE_MASS_TOLERANCE`` a mass counts as negative."""
    if not P.size:
        return 0.0, ()
    level = np.abs(P).reshape(P.shape[0], -1).max(axis=1).reshape((-1,) + (1,) * (P.ndim - 1))
    rel = P / np.where(level > 0, level, 1.0)
    i = int(np.argmin(rel))
    return float(rel.flat[i]), tuple(int(v) for v in np.unravel_index(i, P.shape))


def volume_fraction_below(grid: Grid, level: float) -> Array:
    """Fraction of each node's control volume lying below ``level``."""
    lo = grid.faces[:-1]
    hi = grid.faces[1:]
    return np.clip((level - lo) / (hi - lo), 0.0, 1.0)


class Problem:
    """Everything about a model that does not change during the fixed point.

    Parameters
    ----------
    model : MFGModel
    numerics : Numerics
    start : float
        Initial time of the game [years].
    grid : Grid, optional
        Liquidity grid (default from ``numerics``).
    time_grid : TimeGrid, optional
        Steps (default ``TimeGrid.build`` from ``start`` to the horizon, landing
        on every fund end and, with a Q4 cost, every quarter boundary).
    initial_pressure : float
        Selling pressure at ``start`` (exits before the start still weighing on
        the market; used by restarts).
    """

    def __init__(self, model: MFGModel, numerics: Numerics, *, start: float = 0.0,
                 grid: Grid | None = None, time_grid: TimeGrid | None = None,
                 initial_pressure: float = 0.0) -> None:
        from gelav._validation import MAX_HORIZON, check_finite

        start = check_finite("start", start, maximum=MAX_HORIZON)  # NaN used to surface as "`horizon` must be finite"
        self.model = model
        self.initial_pressure = check_finite("initial_pressure", initial_pressure)  # NaN: ConvergenceError
        self.numerics = numerics
        types = model.types
        K = len(types)
        self.K = K
        T = model.horizon
        ends = np.array([model.fund_end(k) for k in range(K)])
        if np.any(ends <= start + 1e-12):
            raise ValueError(f"Every fund end must lie after `start` = {start}; got fund ends {ends.tolist()}.")
        if time_grid is None:
            include = [e for e in ends if start < e < T]
            if any(t.q4_drain or t.q4_cost for t in types):
                qs = np.arange(math.floor(start), math.ceil(T) + 1)
                include += [q + f for q in qs for f in (0.75, 1.0) if start < q + f < T]
            time_grid = TimeGrid.build(T - start, numerics.n_steps, start=start, include=include,
                                       scheme=numerics.scheme)
        else:
            if not isinstance(time_grid, TimeGrid):
                raise TypeError(f"`time_grid` must be a gelav.TimeGrid, got {type(time_grid).__name__}.")
            if abs(time_grid.start - start) > 1e-9 or abs(time_grid.end - T) > 1e-9 * max(1.0, T):
                raise ValueError(f"`time_grid` must span [{start}, {T}], got [{time_grid.start}, {time_grid.end}].")
        self.tg = time_grid
        self.times = time_grid.times
        M = time_grid.n_steps
        self.M = M
        self.dt = np.diff(self.times)
        self.theta = np.asarray(time_grid.theta, dtype=float)
        self.t_mid = 0.5 * (self.times[1:] + self.times[:-1])
        self.end_idx = np.array([time_grid.index(float(e)) for e in ends])
        if grid is None:
            grid = Grid.uniform(*self._domain(start), numerics.n_cells)
        elif not isinstance(grid, Grid):
            raise TypeError(f"`grid` must be a gelav.Grid, got {type(grid).__name__}.")
        self.grid = grid
        x = grid.nodes
        self.x = x
        N = x.size
        from gelav._validation import check_size

        # the (K, M, N) arrays (rewards, bands, paths) must fit in memory
        check_size({"n_cells": N, "n_steps": M, "types": K})
        self.N = N
        self.weights = model.weights
        self.alive = (self.t_mid[None, :] < ends[:, None])  # (K, M)
        al = self.alive.astype(float)
        r = np.array([t.discount_rate for t in types])
        self.rho = np.where(self.alive, np.exp(-r[:, None] * self.dt[None, :]), 1.0)  # (K, M)
        src = np.where(self.alive, np.exp(-0.5 * r[:, None] * self.dt[None, :]), 0.0)
        nav = model.market.nav  # the unit of value: rewards [NAV/year], prices, the temperature scale with it
        self.nav = nav
        f = np.stack([t.running_reward(self.t_mid[:, None], x[None, :]) for t in types])  # (K, M, N)
        self.f = nav * f * al[:, :, None]
        # flattened (M, KN) per-step arrays
        self.srcf = (src[:, :, None] * self.f).transpose(1, 0, 2).reshape(M, K * N)
        self.rho_f = np.repeat(self.rho.T, N, axis=1)  # (M, KN)
        self.alive_f = np.repeat(al.T, N, axis=1)
        self.D = np.concatenate((np.ones((K, 1)), np.cumprod(self.rho, axis=1)), axis=1)  # (K, M+1)
        # initial masses
        self.p0 = np.stack([self._initial(t) for t in types])
        self.dist_w = volume_fraction_below(grid, model.market.distress_level)
        #: (N, 3) weights of the distress mass, the total mass and the mean (the tangent reads them too)
        self.moment_weights = np.stack((self.dist_w, np.ones(N), x), axis=1)
        remaining = np.maximum(ends[:, None] - self.t_mid[None, :], 0.0)
        self.ctx = CouplingContext(self.t_mid, remaining, x, np.array([t.mean for t in types]))
        self.coupling = wrap_coupling(make_coupling(model.market), model.market, self.dt)  # buyers, tax
        # a type with its own dynamics (LPType.dynamics) has no OU part: its drift and volatility come from
        # the process at the cell faces (self._own_drift, self._own_half_var)
        self.kappa = np.array([0.0 if t.dynamics is not None else t.kappa for t in types])
        self.lbar = np.array([t.mean for t in types])
        self.lam = np.array([t.herding for t in types])
        # fire-sale feedback per unit of the NAV discount (a fraction): the price gap divided by NAV
        self.eta = np.array([t.feedback for t in types]) / nav
        self.sig = np.array([t.sigma for t in types])
        self.static_Q = bool(np.all(self.lam == 0) and np.all(self.eta == 0))
        self._own_drift, self._own_half_var = self._own_coefficients()
        from gelav.mfg.model import q4_profile

        q4 = np.array([t.q4_drain for t in types])
        self.alpha0 = (self.kappa * self.lbar)[:, None] - q4[:, None] * q4_profile(self.t_mid)[None, :]  # (K, M)
        self._Q_rows: tuple[tuple[Array, Array, Array], NDArray[np.int64]] | None = None
        if self.static_Q:
            compact, rows = self._bands(self.alpha0, compact=True)
            self._Q_rows = (compact, rows)
            self._Q_static: tuple[Array, Array, Array] | None = tuple(np.ascontiguousarray(q[rows]) for q in compact)  # type: ignore[assignment]
        else:
            self._Q_static = None
        self.hsrc = self.dt[:, None] * self.srcf
        self._dt_list = self.dt.tolist()  # the NumPy kernels' step lengths (Python floats, the same values)
        self.xw = extrapolation_weights(self.times)
        self._all_alive = bool(self.alive.all())
        self._ops_static: StepOps | None = None
        self._V_lin: Array | None = None
        self._P_lin: tuple[Array, Array] | None = None
        self._ae: tuple[float, Array] | None = None
        # where the NumPy backward sweeps keep their frozen-step factorisations (_factor_store): two
        # buffers used in turn, each with a generation count that a new sweep into it increments
        self._factor_bufs: list[tuple[Array, Array, NDArray[np.bool_]] | None] = [None, None]
        self._factor_gen = [0, 0]
        self._factor_next = 0

    # -- set-up helpers ------------------------------------------------------
    def _own_coefficients(self) -> tuple[Array | None, Array | None]:
        """Drift and half variance (K, M, N-1) at the cell faces of the types with their own dynamics."""
        types = self.model.types
        if all(t.dynamics is None for t in types):
            return None, None
        xm = 0.5 * (self.x[1:] + self.x[:-1])
        K, M = self.K, self.M
        drift = np.zeros((K, M, xm.size))
        half = np.broadcast_to((0.5 * self.sig ** 2)[:, None, None], drift.shape).copy()
        for k, t in enumerate(types):
            if t.dynamics is None:
                continue
            for n, tm in enumerate(self.t_mid):
                drift[k, n] = np.asarray(t.dynamics.drift(float(tm), xm), dtype=float)
                half[k, n] = 0.5 * np.asarray(t.dynamics.diffusion(float(tm), xm), dtype=float) ** 2
        if not (np.all(np.isfinite(drift)) and np.all(np.isfinite(half))):
            raise ValueError("A type's `dynamics` has a drift or volatility that is not finite on the grid "
                             f"[{self.x[0]:g}, {self.x[-1]:g}]; choose Numerics(domain=...) inside its domain.")
        return drift, half

    def _domain(self, start: float) -> tuple[float, float]:
        if self.numerics.domain is not None:
            return self.numerics.domain
        from gelav.processes.laws import Normal

        lo, hi = math.inf, -math.inf
        z = float(Normal().isf(0.5e-10))
        for t in self.model.types:
            if t.dynamics is not None:  # own dynamics: the starting law spread by its volatility over the horizon
                law = t.initial_law()
                m0 = float(law) if isinstance(law, float) else (float(law.mean()) if hasattr(law, "mean") and
                                                                not isinstance(law, np.ndarray) else t.mean)
                s0 = abs(float(np.asarray(t.dynamics.diffusion(0.0, np.array([m0])))[0]))
                sd = max(s0, 1e-3) * math.sqrt(self.model.horizon)
                lo, hi = min(lo, m0 - z * sd / 2), max(hi, m0 + z * sd / 2)
            sd = t.stationary_sd if t.kappa > 0 else t.sigma * math.sqrt(self.model.horizon)
            if t.dynamics is not None:
                dom = getattr(t.dynamics, "domain", None)
                if dom is not None:  # keep inside the process's state space
                    lo, hi = max(lo, float(dom[0])), min(hi, float(dom[1]))
                continue
            lo, hi = min(lo, t.mean - z * sd), max(hi, t.mean + z * sd)
            law = t.initial_normal() or t.initial_law()
            if isinstance(law, float):
                lo, hi = min(lo, law - z * t.sigma * 0.5), max(hi, law + z * t.sigma * 0.5)
            elif hasattr(law, "ppf"):
                lo, hi = min(lo, float(law.ppf(0.5e-10))), max(hi, float(law.isf(0.5e-10)))
            lo = min(lo, t.distress_level)
            if t.feedback > 0 and t.kappa > 0:
                lo -= t.feedback / (t.kappa + t.herding) * 0.5  # a discount of half the NAV
        lo = min(lo, self.model.market.distress_level)
        w = hi - lo
        lo, hi = lo - 0.1 * w, hi + 0.1 * w
        for t in self.model.types:  # own dynamics: stay inside their state spaces
            dom = getattr(t.dynamics, "domain", None) if t.dynamics is not None else None
            if dom is not None:
                lo, hi = max(lo, float(dom[0])), min(hi, float(dom[1]))
        return lo, hi

    def _initial(self, t: Any) -> Array:
        law = t.initial_normal() or t.initial_law()
        g = self.grid
        if isinstance(law, np.ndarray):
            if law.shape != (g.n_nodes,):
                raise ValueError(f"Type {t.name!r}: `initial` node masses have shape {law.shape}, "
                                 f"the grid has {g.n_nodes} nodes (pass the same `grid=`).")
            return law.astype(float).copy()
        if isinstance(law, float) and not g.lower <= law <= g.upper:
            raise ValueError(f"Type {t.name!r}: `initial` = {law} lies outside the grid [{g.lower}, {g.upper}].")
        from gelav.pde.forward import initial_masses

        m = initial_masses(law, g)  # a point mass split between its two nodes, or a law's cell masses
        return m if isinstance(law, float) else m / m.sum()

    def _bands(self, alpha: Array, compact: bool = False) -> Any:
        """Generator bands for drift ``alpha[k, n] - (kappa+lambda)_k x``, stacked to (M, KN); dead blocks zero.

        ``compact``: ``((sub, diag, sup), rows)`` with one row per distinct step (step ``n`` is row ``rows[n]``)."""
        g = self.grid
        K, M, N = self.K, self.M, self.N
        xm = 0.5 * (g.nodes[1:] + g.nodes[:-1])
        slope = (self.kappa + self.lam)[:, None, None]
        alive = self.alive
        rows = None
        if self._own_drift is None and M > 1:
            # the bands of a step depend on (alpha[:, n], alive[:, n]) only: compute each distinct one once
            # (the same numbers: the same elementwise formulas on the same inputs)
            key, rows = np.unique(np.vstack((alpha, alive)), axis=1, return_inverse=True)
            alpha, alive = np.asarray(key[:K], dtype=float), np.asarray(key[K:], dtype=float) > 0
        c = alpha[:, :, None] - slope * xm[None, None, :]
        if self._own_drift is not None:
            c = c + self._own_drift
        Dd = (np.broadcast_to((0.5 * self.sig ** 2)[:, None, None], c.shape) if self._own_half_var is None
              else self._own_half_var)
        al = alive[:, :, None]
        sub, diag, sup = (band * al for band in fitted_bands(Dd, c, g))  # (K, M, N), batched over types and steps

        def flat(a: Array) -> Array:
            out = a.transpose(1, 0, 2).reshape(-1, K * N)
            return np.ascontiguousarray(out if rows is None or compact else out[np.ravel(rows)])

        bands = (flat(sub), flat(diag), flat(sup))
        if compact:
            return bands, (np.arange(M, dtype=np.int64) if rows is None else np.ravel(rows).astype(np.int64))
        return bands

    # -- the two sweeps --------------------------------------------------------
    def stats_dict(self, Z: Array) -> dict[str, Array]:
        return {name: Z[i] for i, name in enumerate(AGGREGATES)}

    def environment(self, Z: Array) -> tuple[Array, Array, Array, tuple[Array, Array, Array]]:
        """Prices and generator bands given the aggregate path ``Z``."""
        price, market, base = self.coupling.prices(self.ctx, self.stats_dict(Z))
        if self.static_Q:
            Q = self._Q_static
        else:
            alpha = self.alpha0 + self.lam[:, None] * Z[2][None, :] \
                + self.eta[:, None] * (market - base)
            Q = self._bands(alpha)
        return price, market, base, Q  # type: ignore[return-value]

    # -- step operators ----------------------------------------------------------
    def step_ops(self, Q: tuple[Array, Array, Array], *, factorise: bool = False,
                 theta: Array | None = None) -> StepOps:
        """Bands of :math:`L^0_n` and :math:`R_n` for all steps at once (vectorised); optionally the LU of :math:`L^0_n`.

        ``theta`` (M,): the implicitness per step (default: the time grid's)."""
        sub, dg, sup = Q
        th = self.theta if theta is None else np.asarray(theta, dtype=float)
        dt, rho, rows = self.dt, self.rho_f, None
        if self._Q_rows is not None and Q is self._Q_static:
            # population-independent dynamics: one operator per distinct (Q row, Δt, θ, ρ) (the same numbers)
            (sub, dg, sup), qrows = self._Q_rows
            key = np.column_stack((qrows, dt, th, self.rho.T))
            _, first, rows = np.unique(key, axis=0, return_index=True, return_inverse=True)
            rows = np.ravel(rows)
            sub, dg, sup = sub[qrows[first]], dg[qrows[first]], sup[qrows[first]]
            dt, th, rho = dt[first], th[first], rho[first]
        h = dt[:, None]
        a = th[:, None] * h
        c = (1.0 - th)[:, None] * h
        # one pass per band (in place; the same products as -a*sub, 1 - a*dg, ...: the same numbers)
        al = (-a) * sub[:, 1:]
        au = (-a) * sup[:, :-1]
        ad = np.multiply(a, dg)
        np.subtract(1.0, ad, out=ad)
        rfd = np.multiply(c, dg)
        np.add(1.0, rfd, out=rfd)
        rfl = c * sub[:, 1:]
        rfu = c * sup[:, :-1]
        ops = StepOps(al, ad, au, rho * rfd, rho[:, 1:] * rfl, rho[:, :-1] * rfu, rfd, rfl, rfu, rows=rows)
        if factorise:
            ops.lu0 = linalg.factor(al, ad, au)
        return ops

    def _ops(self, Q: tuple[Array, Array, Array]) -> StepOps:
        """Step operators for ``Q``: cached (with factorisations) for population-independent dynamics."""
        if self.static_Q and Q is self._Q_static:
            if self._ops_static is None:
                # the compiled engine needs no LAPACK factorisations (nor the cached no-exit sweeps built on them)
                self._ops_static = self.step_ops(Q, factorise=self.numerics.resolved_engine == "numpy")
            return self._ops_static
        return self.step_ops(Q)

    def _factor_store(self) -> tuple[tuple[Array, Array, NDArray[np.bool_]], tuple[int, int]]:
        """Storage for the factorisations of one backward sweep's frozen-intensity steps (``keep`` of
        :func:`gelav.mfg.kernels._solve_keep`) and its ticket ``(buffer, generation)``.

        Two buffers are used in turn (preallocated, so a sweep writes into memory already mapped: fresh
        arrays per step cost as much in page faults as the forward sweep saves), so the best response of
        the previous evaluation keeps its factors while the next one is solved; :meth:`_kept` hands a
        :class:`Backward`'s factors to the forward sweep only while its buffer still holds them.
        """
        i = self._factor_next
        self._factor_next = 1 - i
        buf = self._factor_bufs[i]
        if buf is None:
            KN = self.K * self.N
            buf = (np.empty((self.M, KN)), np.empty((self.M, max(KN - 1, 0))), np.zeros(self.M, dtype=bool))
            self._factor_bufs[i] = buf
        buf[2][:] = False
        self._factor_gen[i] += 1
        return buf, (i, self._factor_gen[i])

    def _kept(self, bw: Backward) -> tuple[Array, Array, NDArray[np.bool_]] | None:
        """The factorisations ``bw``'s backward sweep kept, if its buffer still holds them (else None)."""
        t = bw.factors
        if t is None or t[0] is not self or self._factor_gen[t[1]] != t[2]:
            return None
        return self._factor_bufs[t[1]]

    def _alive_over(self, eps: float) -> Array:
        """:math:`1/\varepsilon` where a type is alive, else 0 (M, KN); kept for the last ``eps``."""
        if self._ae is None or self._ae[0] != eps:
            self._ae = (eps, self.alive_f * (1.0 / eps))
        return self._ae[1]

    def _linear_values(self) -> Array:
        """Backward sweep with no exits on the cached static operators (population independent), (M+1, KN)."""
        if self._V_lin is None:
            ops = self._ops(self._Q_static)  # type: ignore[arg-type]
            assert ops.lu0 is not None
            Vs = np.empty((self.M + 1, self.K * self.N))
            Vs[self.M] = self.model.market.nav
            zero = np.zeros((self.M, self.K * self.N))
            self._sweep_backward(ops, zero, zero, 1.0, 1.0, Vs, zero.copy(), np.zeros(self.M, dtype=bool), self.M,
                                 2, None, np.zeros(self.M, dtype=np.int8), zero, 1e-7, "numpy")
            self._V_lin = Vs
        return self._V_lin

    def _linear_population(self) -> tuple[Array, Array]:
        """Forward sweep with no exits on the cached static operators: (P (M+1, K, N), q (M, KN))."""
        if self._P_lin is None:
            ops = self._ops(self._Q_static)  # type: ignore[arg-type]
            P = np.empty((self.M + 1, self.K, self.N))
            qs = np.empty((self.M, self.K * self.N))
            self._sweep_forward(ops, None, np.zeros(self.M, dtype=bool), 0, P, qs, np.zeros((self.M, self.K)))
            self._P_lin = (P, qs)
        return self._P_lin

    # -- positivity (issue 11, class 3) -------------------------------------------
    def negative_steps(self, bw: Backward, fw: Forward, tol: float | None = None) -> NDArray[np.int64]:
        r"""Steps whose forward step makes a negative holder mass, to be taken as backward-Euler steps.

        A mass is negative when it lies below ``-tol`` (default :data:`NEGATIVE_MASS_TOLERANCE`)
        times the largest mass of its time level. The forward step
        :math:`p_{n+1} = R_n^\top L_n^{-\top} p_n` is non-negative when :math:`R_n = I + (1-\theta_n)
        \Delta t_n Q_n \ge 0`, which Crank–Nicolson breaks on almost every grid
        (:math:`\Delta t|q_{ii}| \gg 2`) and is positive anyway unless the data are rough for the step
        (a coarse step against the exit front). So the check is on the result: one pass with the
        policy of ``bw`` frozen, in which every offending step (θ < 1) is recorded and taken
        instead with θ = 1 (:math:`R_n = I`, positive for the M-matrix :math:`L_n`), so that the steps after
        it are judged on non-negative data. Returns the steps (empty when ``fw`` has no negative mass).
        """
        tol = NEGATIVE_MASS_TOLERANCE if tol is None else float(tol)
        M, K, N = self.M, self.K, self.N
        if lowest_relative_mass(fw.P)[0] >= -tol:
            return np.zeros(0, dtype=np.int64)
        P = fw.P.reshape(M + 1, K * N)
        ops, k, dt = bw.ops, bw.k, self.dt
        one = self.step_ops(bw.Q, theta=np.ones(M))
        al, ad, au, _, _, _, rfd, rfl, rfu = ops.bands
        one_l, one_d, one_u = one.bands[:3]
        out: list[int] = []
        p = P[0].copy()
        pn = np.empty(K * N)
        for n in range(M):
            r = ops.rows[n]
            q = linalg.solve(al[r], ad[r] + dt[n] * k[n], au[r], p, transpose=True)
            pn[:] = linalg.rmatvec(rfl[r], rfd[r], rfu[r], q)  # R^T q (a sign check: the sum's order is free)
            if self.theta[n] < 1.0 and pn.min() < -tol * np.abs(pn).max():
                out.append(n)
                r = one.rows[n]
                pn[:] = linalg.solve(one_l[r], one_d[r] + dt[n] * k[n], one_u[r], p, transpose=True)  # R = I
            p, pn = pn, p
            for j in range(K):
                if self.end_idx[j] == n + 1:
                    p[j * N:(j + 1) * N] = 0.0
        return np.asarray(out, dtype=np.int64)

    def with_implicit_steps(self, steps: Any) -> Problem:
        """The same problem with the steps ``steps`` taken as backward Euler (θ = 1) in both sweeps
        (:func:`gelav.fd.step_control.with_implicit_steps`: same times, so the same path shapes)."""
        from gelav.fd.step_control import with_implicit_steps

        tg = with_implicit_steps(self.tg, steps)
        if tg is self.tg:
            return self
        return Problem(self.model, self.numerics, start=float(self.times[0]), grid=self.grid, time_grid=tg,
                       initial_pressure=self.initial_pressure)

    # -- the two sweeps --------------------------------------------------------
    def backward(self, Z: Array | None, eps: float, delta: float, *, policy: Array | None = None,
                 control: str | None = None, env: tuple[Any, ...] | None = None,
                 guess: Backward | Array | None = None, newton_tol: float = 1e-7,
                 newton: str = "step") -> Backward:
        r"""Best response to the aggregate path ``Z`` (or the value of a fixed ``policy``).

        ``env = (price, market, base, Q)`` replaces the environment computed from ``Z``
        (e.g. a realised N-player price path); ``guess`` warm-starts the Newton
        iteration of every step with the values of a previous :class:`Backward` or an
        array (M+1, KN), e.g. the previous fixed-point iterate (shifted at each step by
        the change of the next level's values). ``newton_tol`` is the relative
        size of the last Newton correction at which a step stops (the error after it
        is of its square); larger values give inexact best responses (early
        fixed-point iterations), the default is the exact scheme. ``newton="global"``
        (with a warm start) runs Newton's method on all steps at once — residuals
        vectorised over the steps, one backward sweep of tridiagonal solves per Newton
        iteration — cheaper when the guess is close (late fixed-point iterations); it
        falls back to the step-by-step iteration if it does not converge in a few sweeps.

        Steps where nobody exits are solved with the cached factorisation of
        :math:`L^0_n` and accepted when :math:`\pi_n \le V_n` everywhere (then the
        exit intensity is exactly zero); with population-independent dynamics the
        trailing steps where the no-exit values already lie above every price are
        taken from one cached no-exit sweep.
        """
        price, market, base, Q = self.environment(Z) if env is None else env  # type: ignore[arg-type]
        delta = delta * self.nav  # the temperature [NAV] in the units of the prices
        control = control or self.numerics.control
        K, M, N = self.K, self.M, self.N
        KN = K * N
        ops = self._ops(Q)
        pf = np.ascontiguousarray(price.transpose(1, 0, 2).reshape(M, KN))
        # prices where a type is still alive (dead blocks never exit)
        pc = pf if self._all_alive else np.where(self.alive_f > 0, pf, -np.inf)
        ae = self._alive_over(eps)
        Vs = np.empty((M + 1, KN))
        ks = np.zeros((M, KN))
        exiting = np.zeros(M, dtype=bool)
        n_top = M
        Vs[M] = self.model.market.nav
        if policy is None and ops.lu0 is not None and control in ("newton", "lagged"):
            Vl = self._linear_values()
            can = (pc > (Vl[1:] if control == "lagged" else Vl[:-1])).any(axis=1)
            idx = np.flatnonzero(can)
            n_top = int(idx[-1]) + 1 if idx.size else 0
            Vs[n_top:] = Vl[n_top:]
        gV = guess.V if isinstance(guess, Backward) else guess
        if newton not in ("step", "global"):
            raise ValueError(f"Unknown `newton` {newton!r}; use 'step' or 'global'.")
        engine = self.numerics.resolved_engine
        if policy is None and control == "newton" and gV is not None and n_top > 0 and newton == "global" \
                and engine == "numpy":
            out = self._global_newton(ops, pf, pc, ae, eps, delta, Vs, n_top, gV, newton_tol)
            if out is not None:
                ks, exiting, n_sweeps, kept = out
                return Backward(Vs, ks, ops, price, market, base, Q, n_sweeps, exiting, self.dt, "global", kept)
        mode = 2 if policy is not None else (1 if control == "lagged" else 0)
        warm = gV if mode == 0 else None
        pol = np.ascontiguousarray(policy, dtype=float) if policy is not None else ks
        if warm is None:
            g_exit = np.zeros(M, dtype=np.int8)  # unused
        elif engine == "numba":
            g_exit = np.full(M, -1, dtype=np.int8)  # tested step by step, when needed
        else:  # where the guess exits, vectorised over the steps
            g_exit = np.asarray((pc > warm[:M]).any(axis=1), dtype=np.int8)
        keep, ticket = self._factor_store() if engine != "numba" else (None, None)
        n_newton = self._sweep_backward(ops, pf, pc, eps, delta, Vs, ks, exiting, n_top, mode, warm, g_exit, pol,
                                        newton_tol, engine, keep)
        return Backward(Vs, ks, ops, price, market, base, Q, n_newton, exiting, self.dt,
                        "numba" if engine == "numba" else "step", None if ticket is None else (self, *ticket))

    def _sweep_backward(self, ops: StepOps, pf: Array, pc: Array, eps: float, delta: float, Vs: Array, ks: Array,
                        exiting: Array, n_top: int, mode: int, gV: Array | None, g_exit: NDArray[np.int8],
                        policy: Array, newton_tol: float, engine: str, keep: Any = None) -> int:
        """Run :func:`gelav.mfg.kernels.backward_sweep` on the NumPy/LAPACK or the compiled backend (``keep``:
        where to keep the factorisations of the frozen-intensity steps, :meth:`_factor_store`; NumPy only)."""
        ae = self._alive_over(eps)
        has_guess = gV is not None
        bands: Any
        rows: Any
        dt: Any
        if engine == "numba":
            from gelav.mfg import _numba

            sweep = _numba.kernels().backward_sweep
            lu0 = None  # the compiled engine solves every step by elimination (no cached LAPACK factors)
            pc = np.ascontiguousarray(pc)
            gV = np.ascontiguousarray(gV) if has_guess else Vs
            bands, rows, dt = ops.bands, ops.rows, self.dt
        else:
            sweep = kernels.backward_sweep
            lu0 = ops.aux
            (bands, rows), dt = ops.row_lists, self._dt_list
        return int(sweep(*bands[:6], rows, self.hsrc, pf, pc, self.alive_f, ae,
                         float(eps), float(delta), dt, Vs, ks, exiting, n_top, mode, gV, has_guess, g_exit,
                         policy, float(newton_tol), float(self.nav), lu0, self.xw, kernels.work(Vs.shape[1]),
                         None if engine == "numba" else keep))

    def _global_newton(self, ops: StepOps, pf: Array, pc: Array, ae: Array, eps: float, delta: float, Vs: Array,
                       n_top: int, gV: Array, newton_tol: float, max_sweeps: int = 3
                       ) -> tuple[Array, Array, int, tuple[Any, int, int]] | None:
        r"""Newton's method on all steps at once (warm start), then one sweep with the exit intensity frozen.

        The residual :math:`F_n(W) = L_n(W_n)W_n - \rho_n R_n W_{n+1} - \Delta t_n s_n(W_n)` and the
        diagonal of its Jacobian are evaluated for every step at once (the exit terms of
        :func:`gelav.mfg.kernels.newton_terms`, as in the step-by-step Newton); the correction solves the
        block-bidiagonal system :math:`J_n\delta_n - \rho_n R_n\delta_{n+1} = -F_n` in one backward sweep
        of tridiagonal solves. The values are then the backward kernel's sweep with the intensity frozen
        (:func:`gelav.mfg.kernels.exit_rate` of the solution), so the scheme solved is the same as step by
        step; only the order of the work changes. Fills ``Vs[:n_top]`` and returns ``(k, exiting, sweeps, ticket)``,
        or None if Newton did not converge (the caller then falls back to the step-by-step iteration).
        """
        M, KN = self.M, self.K * self.N
        al, ad, au = ops.al, ops.ad, ops.au
        rbd, rbl, rbu, hsrc, dt = ops.rbd, ops.rbl, ops.rbu, self.hsrc, self.dt
        inv_d = 1.0 / delta
        W = np.empty((n_top + 1, KN))
        W[:n_top] = gV[:n_top]
        W[n_top] = Vs[n_top]
        D = np.empty((n_top, KN))
        F = np.empty((n_top, KN))
        Jd = np.empty((n_top, KN))
        act = np.empty(n_top, dtype=bool)
        aux, ((b_al, b_ad, b_au, b_rbd, b_rbl, b_rbu, *_), rows) = ops.aux, ops.row_lists
        r, cw = np.empty(KN), np.empty(KN)
        # the residual and the Jacobian over blocks of steps that stay in cache (per entry the same
        # operations, in the same order, as over all steps at once: the same numbers)
        B = max(1, GLOBAL_BLOCK // KN)
        zp, u, hk, t = np.empty((4, B, KN))
        sweeps = 0
        for _ in range(max_sweeps):
            for s0 in range(0, n_top, B):
                s1 = min(n_top, s0 + B)
                m = s1 - s0
                Wn, Wn1, Fb, Jb, tb = W[s0:s1], W[s0 + 1:s1 + 1], F[s0:s1], Jd[s0:s1], t[:m]
                np.multiply(ad[s0:s1], Wn, Fb)
                np.multiply(al[s0:s1], Wn[:, :-1], tb[:, 1:])
                Fb[:, 1:] += tb[:, 1:]
                np.multiply(au[s0:s1], Wn[:, 1:], tb[:, :-1])
                Fb[:, :-1] += tb[:, :-1]
                np.multiply(rbd[s0:s1], Wn1, tb)
                Fb -= tb
                np.multiply(rbl[s0:s1], Wn1[:, :-1], tb[:, 1:])
                Fb[:, 1:] -= tb[:, 1:]
                np.multiply(rbu[s0:s1], Wn1[:, 1:], tb[:, :-1])
                Fb[:, :-1] -= tb[:, :-1]
                Fb -= hsrc[s0:s1]
                np.multiply(dt[s0:s1, None], ae[s0:s1], tb)  # Δt/ε where alive
                kernels.newton_terms(pf[s0:s1], Wn, inv_d, tb, zp[:m], u[:m], hk[:m])
                np.subtract(Wn, pf[s0:s1], tb)
                tb *= hk[:m]
                Fb += tb
                np.multiply(hk[:m], u[:m], Jb)
                np.multiply(zp[:m], 2.0, tb)
                tb += 3.0
                Jb *= tb
                np.add(ad[s0:s1], Jb, Jb)
                np.any(zp[:m] > 0.0, axis=1, out=act[s0:s1])
            kernels.correction_sweep(rows, b_al, b_ad, b_au, b_rbd, b_rbl, b_rbu, aux, F, Jd, act, D, r, cw)
            sweeps += 1
            W[:n_top] += D
            dmax = max(float(D.max()), -float(D.min()))  # NaN propagates: not finite
            if not math.isfinite(dmax):
                return None
            if dmax <= newton_tol * (self.nav + max(float(W.max()), -float(W.min()))):
                break
        else:
            return None
        # the values: the backward kernel with the solution's exit intensity frozen (exact duality)
        kk = np.zeros((M, KN))
        for s0 in range(0, n_top, B):
            s1 = min(n_top, s0 + B)
            kernels.exit_rate(pf[s0:s1], W[s0:s1], inv_d, ae[s0:s1], kk[s0:s1], t[:s1 - s0])
        ks = np.zeros((M, KN))
        exiting = np.zeros(M, dtype=bool)
        keep, ticket = self._factor_store()
        self._sweep_backward(ops, pf, pc, eps, delta, Vs, ks, exiting, n_top, 2, None, np.zeros(M, dtype=np.int8), kk,
                             newton_tol, "numpy", keep)
        return ks, exiting, sweeps, (self, *ticket)

    def _sweep_forward(self, ops: StepOps, k: Array | None, exiting: Array, n0: int, P: Array, qs: Array,
                       exits: Array, engine: str = "numpy", kept: Any = None) -> None:
        """Forward steps ``n0 .. M-1`` (in place, :func:`gelav.mfg.kernels.forward_sweep`), starting from the
        holders ``P[n0]`` (pre-payout masses); fills the exit masses ``exits`` (M, K) of those steps."""
        K, N, M = self.K, self.N, self.M
        p = P[n0].reshape(-1).copy() if n0 > 0 else self.p0.reshape(-1).copy()
        if n0 == 0:
            P[0] = self.p0
        for kk in range(K):
            if self.end_idx[kk] <= n0:
                p[kk * N:(kk + 1) * N] = 0.0
        if k is None:
            k = np.zeros((M, K * N))
        bands: Any
        rows: Any
        dt: Any
        if engine == "numba":
            from gelav.mfg import _numba

            sweep, lu0 = _numba.kernels().forward_sweep, None
            bands, rows, dt = ops.bands, ops.rows, self.dt
        else:
            sweep, lu0 = kernels.forward_sweep, ops.aux
            (bands, rows), dt = ops.row_lists, self._dt_list
        ends = self.end_idx.astype(np.int64) if engine == "numba" else self.end_idx.tolist()
        sweep(*bands[:3], *bands[6:], rows, k, exiting, dt, p, n0,
              P.reshape(M + 1, K * N), qs, ends, N, lu0, kernels.work(K * N), None if engine == "numba" else kept)
        if exiting[n0:].any():  # exit masses Δt Σ k q per type (one pass over the steps, no copies)
            exits[n0:] = np.einsum("mkn,mkn->mk", k[n0:].reshape(-1, K, N), qs[n0:].reshape(-1, K, N))
            exits[n0:] *= self.dt[n0:, None]

    def forward(self, bw: Backward) -> Forward:
        """The population following the best response ``bw`` (exact transpose of its steps)."""
        K, M, N = self.K, self.M, self.N
        P = np.empty((M + 1, K, N))
        qs = np.empty((M, K * N))
        ex = np.flatnonzero(bw.exiting)
        n0 = 0
        if bw.ops.lu0 is not None and bw.ops is self._ops_static:
            # before the first exit the population does not depend on the policy: cached no-exit sweep
            n0 = int(ex[0]) if ex.size else M
            if n0 > 0:
                Pl, ql = self._linear_population()
                P[:n0 + 1] = Pl[:n0 + 1]
                qs[:n0] = ql[:n0]
        exits = np.zeros((M, K))
        if n0 < M:
            self._sweep_forward(bw.ops, bw.k, bw.exiting, n0, P, qs, exits, self.numerics.resolved_engine,
                                self._kept(bw))
        Z = self.aggregates(P, exits)
        return Forward(P, qs, exits, Z)

    def aggregates(self, P: Array, exits: Array) -> Array:
        """Aggregate path (distressed mass, exit flow, holders' mean, holders) over the steps."""
        w = self.weights
        K = self.K
        # moments of every level first (they are linear in P), then the step midpoints
        # (einsum, not a BLAS product: a multithreaded BLAS call leaves worker threads spinning
        # against the sequential sweeps that follow)
        flat = P.reshape(-1, self.N)
        mom = np.stack([np.einsum("mn,n->m", flat, self.moment_weights[:, j]) for j in range(3)],
                       axis=1).reshape(P.shape[0], K, 3)  # (M+1, K, 3)
        post = mom[:-1].copy()
        for k in range(K):
            post[self.end_idx[k]:, k] = 0.0
        mid = np.einsum("k,mkj->mj", w, 0.5 * (post + mom[1:]))  # (M, 3)
        D, H, S = mid[:, 0], mid[:, 1], mid[:, 2]
        fallback = float(w @ self.lbar)
        m = np.where(H > 1e-300, S / np.where(H > 1e-300, H, 1.0), fallback)
        F = self.pressure(exits @ w)[0]
        return np.vstack((D, F, m, H))

    def pressure(self, E: Array) -> tuple[Array, Array]:
        r"""Selling pressure from exit masses per step ``E``: (step averages (M,), values at the nodes (M+1,)).

        :math:`S' = (e - S)/\tau` with the exit rate :math:`e = E_n/\Delta t_n` constant over a
        step, solved exactly; ``absorption_time`` 0 gives the raw flow.
        """
        tau = self.model.market.absorption_time
        rate = E / self.dt
        S = np.empty(self.M + 1)
        S[0] = self.initial_pressure
        if tau == 0:
            S[1:] = rate
            return rate, S
        a = np.exp(-self.dt / tau)
        frac = tau * (1.0 - a) / self.dt
        # the recurrence on Python floats (the same IEEE operations, ~3x faster than on NumPy scalars)
        rl, fl, al = rate.tolist(), frac.tolist(), a.tolist()
        s = float(S[0])
        avg = [0.0] * self.M
        out = [s]
        for n in range(self.M):
            r = rl[n]
            avg[n] = r + (s - r) * fl[n]
            s = al[n] * s + r * (1.0 - al[n])
            out.append(s)
        return np.array(avg), np.array(out)

    def phi(self, Z: Array, eps: float, delta: float, guess: Backward | Array | None = None,
            newton_tol: float = 1e-7, newton: str = "step") -> tuple[Array, Backward, Forward]:
        """The fixed-point map :math:`\\Phi(Z)` = aggregates of the population best-responding to ``Z``."""
        bw = self.backward(Z, eps, delta, guess=guess, newton_tol=newton_tol, newton=newton)
        fw = self.forward(bw)
        return fw.Z, bw, fw

    # -- values of policies -------------------------------------------------------
    def population_value(self, bw: Backward) -> Array:
        """:math:`\\langle p_0, V_0\\rangle` per type."""
        return np.einsum("kn,kn->k", self.p0, bw.V[0].reshape(self.K, self.N))

    def policy_value(self, fw: Forward, bw_policy: Backward, Z: Array, eps: float, delta: float,
                     price: Array | None = None) -> Array:
        r"""Population value per type of the policy of ``bw_policy`` when the environment is ``Z``.

        When the dynamics do not depend on the population this is the duality
        sum over the stored forward sweep (no extra solve); otherwise a linear
        backward sweep with the policy frozen. ``price`` (K, M, N): the prices of
        ``Z`` when already known.
        """
        if self.static_Q:
            if price is None:
                price, _, _ = self.coupling.prices(self.ctx, self.stats_dict(Z))
            K, M, N = self.K, self.M, self.N
            s = bw_policy.k * price.transpose(1, 0, 2).reshape(M, K * N)
            s += self.srcf
            per = np.einsum("mkn,mkn->mk", fw.q.reshape(M, K, N), s.reshape(M, K, N))
            per *= self.dt[:, None]  # (M, K)
            run = np.einsum("km,mk->k", self.D[:, :-1], per)
            end_mass = np.array([fw.P[self.end_idx[k], k].sum() for k in range(K)])
            term = self.D[np.arange(K), self.end_idx] * end_mass * self.model.market.nav
            return run + term
        bw = self.backward(Z, eps, delta, policy=bw_policy.k)
        return self.population_value(bw)

    def duality_gap(self, bw: Backward, fw: Forward) -> float:
        """:math:`|\\langle p_0, V_0\\rangle - \\text{forward duality sum}|` (max over types)."""
        K, M, N = self.K, self.M, self.N
        s = self.srcf + bw.k * bw.price.transpose(1, 0, 2).reshape(M, K * N)
        per = (fw.q * s).reshape(M, K, N).sum(axis=2) * self.dt[:, None]
        run = np.einsum("km,mk->k", self.D[:, :-1], per)
        end_mass = np.array([fw.P[self.end_idx[k], k].sum() for k in range(K)])
        term = self.D[np.arange(K), self.end_idx] * end_mass * self.model.market.nav
        return float(np.max(np.abs(self.population_value(bw) - (run + term))))

    def zero_path(self) -> Array:
        """Aggregate path of nobody distressed, nobody selling (the "calm" starting guess)."""
        Z = np.zeros((len(AGGREGATES), self.M))
        Z[2] = float(self.weights @ (self.p0 @ self.x))
        Z[3] = 1.0
        return Z
