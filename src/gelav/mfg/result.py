"""The :class:`Equilibrium` result of :func:`gelav.mfg.solve` and its plots."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from gelav.grid import Grid

__all__ = ["Equilibrium", "build_equilibrium", "exit_boundary"]

Array = NDArray[np.float64]


def exit_boundary(x: Array, gap: Array) -> Array:
    r"""Exit boundary per row of ``gap`` = :math:`\pi - V` (exit where gap > 0, below the boundary).

    The largest zero crossing from exit (gap > 0) to hold (gap ≤ 0) going up in
    ``x``, linearly interpolated; NaN where nobody exits, ``x[-1]`` where
    everybody does.
    """
    gap = np.atleast_2d(gap)
    out = np.full(gap.shape[0], np.nan)
    pos = gap > 0
    for i in range(gap.shape[0]):
        p = pos[i]
        if not p.any():
            continue
        if p.all():
            out[i] = x[-1]
            continue
        j = int(np.nonzero(p)[0].max())
        if j == x.size - 1:
            out[i] = x[-1]
            continue
        g0, g1 = gap[i, j], gap[i, j + 1]
        out[i] = x[j] + (x[j + 1] - x[j]) * g0 / (g0 - g1)
    return out


@dataclass(frozen=True, eq=False)
class Equilibrium:
    r"""An equilibrium of the mean-field game of LP exits.

    Arrays are indexed ``[type, time, node]``; ``times`` are the step end points
    (M+1), ``t_mid`` the step midpoints (M) where prices and flows live.

    Attributes
    ----------
    price : ndarray (K, M)
        Secondary price [NAV] for a seller of each type at its long-run
        liquidity (no own-distress term) — the market price path.
    no_feedback_price : ndarray (K, M)
        The price with no crowding (what a DCF-style single-LP view assumes).
    boundary : ndarray (K, M+1)
        Exit boundary :math:`b_k(t)`: LPs with :math:`L < b_k(t)` sell (NaN: nobody sells).
    exit_flow : ndarray (K, M)
        Exits per year, as a fraction of the type's initial population.
    cumulative_exits, holders : ndarray (K, M+1)
        Fraction of the type that has sold / still holds (holders + exits = 1 up to the fund end).
    density : ndarray (K, M+1, N)
        Holder masses per node (divide by ``grid.volumes`` for a density).
    value : ndarray (K, M+1, N)
        :math:`V_k(t, L)` [NAV].
    exit_rate : ndarray (K, M, N)
        Relaxed exit intensity [1/year].
    value0, no_feedback_value0 : ndarray (K, N)
        Liquidity-adjusted value at the start, in equilibrium and in the no-feedback (DCF-like) view.
    dcf : ndarray (K,)
        Hold-to-maturity discounted cash flows, ignoring liquidity (the plain DCF value).
    aggregates : dict
        The equilibrium aggregate path (``distressed``, ``flow``, ``mean``, ``holders``) at the midpoints,
        and ``pressure`` at the step end points.
    history : list of dict
        One record per evaluation of Φ: ``iteration``, ``method``, ``epsilon``, ``residual``,
        ``exploitability``, ``seconds``, ``start``.
    diagnostics : dict
        ``converged``, ``iterations``, ``residual``, ``exploitability``, ``mass_balance_error``,
        ``duality_error``, ``epsilon``, ``notes``, ``start``, grid sizes.
    timings : dict
        Seconds spent in set-up, the no-feedback reference, the fixed point, in total.
    others : tuple of Equilibrium
        Further distinct equilibria (non-monotone games).
    time_grid, numerics, initial_pressure :
        The exact discretisation (for restarts, the N-player game and the master field).
    """

    model: Any
    grid: Grid
    times: Array
    t_mid: Array
    type_names: tuple[str, ...]
    weights: Array
    price: Array
    no_feedback_price: Array
    base_price: Array
    boundary: Array
    exit_flow: Array
    cumulative_exits: Array
    holders: Array
    density: Array
    value: Array
    exit_rate: Array
    value0: Array
    no_feedback_value0: Array
    no_feedback_cumulative_exits: Array
    dcf: Array
    aggregates: dict[str, Array]
    path: Array
    history: list[dict[str, Any]] = field(default_factory=list)
    diagnostics: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    others: tuple[Equilibrium, ...] = ()
    time_grid: Any = None
    numerics: Any = None
    initial_pressure: float = 0.0

    # -- convenience ---------------------------------------------------------
    @property
    def converged(self) -> bool:
        return bool(self.diagnostics.get("converged", False))

    @property
    def iterations(self) -> int:
        return int(self.diagnostics.get("iterations", 0))

    @property
    def residual(self) -> float:
        return float(self.diagnostics.get("residual", math.nan))

    @property
    def exploitability(self) -> float:
        return float(self.diagnostics.get("exploitability", math.nan))

    @property
    def discount(self) -> Array:
        """Discount to NAV of the market price, ``1 - price/NAV`` (K, M)."""
        return 1.0 - self.price / self.model.market.nav

    @property
    def n_equilibria(self) -> int:
        return 1 + len(self.others)

    def _type(self, type: int | str) -> int:
        if isinstance(type, str):
            if type not in self.type_names:
                raise ValueError(f"Unknown `type` {type!r}; types are {', '.join(self.type_names)}.")
            return self.type_names.index(type)
        k = int(type)
        if not 0 <= k < len(self.type_names):
            raise ValueError(f"`type` must be in [0, {len(self.type_names) - 1}], got {type}.")
        return k

    def _t(self, t: float | None) -> int:
        if t is None:
            return 0
        i = int(np.argmin(np.abs(self.times - float(t))))
        if abs(self.times[i] - float(t)) > 1e-9 * max(1.0, abs(float(t))):
            raise ValueError(f"t = {t} is not a time of the solution grid ({self.times[0]:g}..{self.times[-1]:g}).")
        return i

    def value_at(self, L: ArrayLike, t: float | None = None, *, type: int | str = 0) -> Array | float:
        """Equilibrium (liquidity-adjusted) value :math:`V_k(t, L)` [NAV], linear interpolation in ``L``."""
        k = self._type(type)
        v = np.interp(np.asarray(L, dtype=float), self.grid.nodes, self.value[k, self._t(t)])
        return float(v) if np.ndim(v) == 0 else v

    def no_feedback_value_at(self, L: ArrayLike, *, type: int | str = 0) -> Array | float:
        """The no-feedback (DCF-like, single-LP) value at the start."""
        k = self._type(type)
        v = np.interp(np.asarray(L, dtype=float), self.grid.nodes, self.no_feedback_value0[k])
        return float(v) if np.ndim(v) == 0 else v

    def pdf(self, t: float | None = None, *, type: int | str = 0) -> Array:
        """Holder density :math:`\\mu_k(t, L)` [1/unit of L] at the nodes (mass < 1 after exits)."""
        return self.density[self._type(type), self._t(t)] / self.grid.volumes

    def stress_probability(self, threshold: float, t: float, *, type: int | str = 0) -> float:
        """:math:`P(L_t < \\text{threshold})` among the type's holders at ``t`` (conditional on holding)."""
        k = self._type(type)
        p = self.density[k, self._t(t)]
        tot = p.sum()
        if tot <= 0:
            return math.nan
        from gelav.mfg.engine import _volume_fraction_below

        return float(p @ _volume_fraction_below(self.grid, threshold) / tot)

    def summary(self, L: ArrayLike = (-0.5, 0.0, 1.0)) -> dict[str, Any]:
        """The numbers of the CLI table as a dict."""
        Ls = np.atleast_1d(np.asarray(L, dtype=float))
        lo, hi = float(self.grid.nodes[0]), float(self.grid.nodes[-1])
        bad = Ls[~(np.isfinite(Ls) & (Ls >= lo) & (Ls <= hi))]
        if bad.size:  # np.interp would silently clamp to the end values
            raise ValueError(f"`L` = {bad[0]:g} must be a finite liquidity state on the grid [{lo:g}, {hi:g}].")
        out: dict[str, Any] = {"types": []}
        for k, name in enumerate(self.type_names):
            d = self.discount[k]
            i = int(np.argmax(d))
            out["types"].append({
                "type": name,
                "weight": float(self.weights[k]),
                "discount_now": float(d[0]),
                "discount_worst": float(d[i]),
                "worst_at": float(self.t_mid[i]),
                "no_feedback_discount_now": float(1.0 - self.no_feedback_price[k, 0] / self.model.market.nav),
                "total_exits": float(self.cumulative_exits[k].max()),
                "no_feedback_exits": float(self.no_feedback_cumulative_exits[k].max()),
                "values": {f"{x:g}": {"equilibrium": float(np.interp(x, self.grid.nodes, self.value0[k])),
                                      "no_feedback": float(np.interp(x, self.grid.nodes, self.no_feedback_value0[k])),
                                      "dcf": float(self.dcf[k])} for x in Ls},
            })
        out.update({k: self.diagnostics.get(k) for k in ("converged", "iterations", "residual", "exploitability",
                                                         "mass_balance_error", "duality_error", "epsilon", "method")})
        out["n_equilibria"] = self.n_equilibria
        out["seconds"] = self.timings.get("total")
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly summary with the main paths."""
        d = self.summary()
        d["t_mid"] = self.t_mid
        d["price"] = {n: self.price[k] for k, n in enumerate(self.type_names)}
        d["exit_flow"] = {n: self.exit_flow[k] for k, n in enumerate(self.type_names)}
        d["boundary"] = {n: self.boundary[k] for k, n in enumerate(self.type_names)}
        d["history"] = self.history
        d["notes"] = self.diagnostics.get("notes", [])
        return d

    # -- plots ---------------------------------------------------------------
    def plot(self, kind: str = "density", *, ax: Any = None, type: int | str = 0) -> Any:
        """One of the figures: ``"density"``, ``"price"``, ``"values"``, ``"exits"``, ``"convergence"``."""
        kinds: dict[str, Any] = {"density": self.plot_density, "price": self.plot_price,
                                 "values": self.plot_values, "exits": self.plot_exits,
                                 "convergence": self.plot_convergence}
        if kind not in kinds:
            raise ValueError(f"Unknown `kind` {kind!r}; choose from {', '.join(kinds)}.")
        if kind in ("density", "values"):
            return kinds[kind](ax=ax, type=type)
        return kinds[kind](ax=ax)

    def plot_density(self, *, ax: Any = None, type: int | str = 0) -> Any:
        """Heat map of the holders' density over (t, L) with the exit boundary drawn over it."""
        from gelav.plot import new_axes

        k = self._type(type)
        fig, ax = new_axes(ax)
        dens = self.density[k] / self.grid.volumes
        mesh = ax.pcolormesh(self.times, self.grid.nodes, dens.T, shading="auto", cmap="viridis")
        fig.colorbar(mesh, ax=ax, label="holder density [1/unit of L]")
        ax.plot(self.times, self.boundary[k], color="w", lw=2, label="exit boundary $b(t)$")
        ax.set_xlabel("time t [years]")
        ax.set_ylabel("liquidity state L")
        ax.set_title(f"Equilibrium density of holders ({self.type_names[k]})")
        ax.legend(loc="upper right", labelcolor="k", facecolor="w", frameon=True)
        return fig

    def plot_price(self, *, ax: Any = None) -> Any:
        """Equilibrium price path against the no-feedback price."""
        from gelav.plot import new_axes

        fig, ax = new_axes(ax)
        for k, n in enumerate(self.type_names):
            line, = ax.plot(self.t_mid, self.price[k], label=f"equilibrium ({n})")
            ax.plot(self.t_mid, self.no_feedback_price[k], ls="--", color=line.get_color(),
                    label=f"no feedback ({n})")
        ax.set_xlabel("time t [years]")
        ax.set_ylabel("secondary price [NAV]")
        ax.set_title("Secondary-market price: equilibrium vs no feedback")
        ax.legend()
        return fig

    def plot_values(self, *, ax: Any = None, type: int | str = 0) -> Any:
        """Liquidity-adjusted value at the start vs the no-feedback value and the DCF value."""
        from gelav.plot import new_axes

        k = self._type(type)
        fig, ax = new_axes(ax)
        x = self.grid.nodes
        ax.plot(x, self.value0[k], label="equilibrium value $V(0, L)$")
        ax.plot(x, self.no_feedback_value0[k], ls="--", label="no-feedback value")
        ax.axhline(self.dcf[k], color="0.5", ls=":", label="DCF (hold to maturity)")
        ax.axhline(self.price[k, 0], color="C3", lw=0.8, label="exit price now")
        ax.set_xlabel("liquidity state L")
        ax.set_ylabel("value [NAV]")
        ax.set_title(f"Liquidity-adjusted value at t = {self.times[0]:g} ({self.type_names[k]})")
        ax.legend()
        return fig

    def plot_exits(self, *, ax: Any = None) -> Any:
        """Exit flow per type [fraction of the type per year]."""
        from gelav.plot import new_axes

        fig, ax = new_axes(ax)
        for k, n in enumerate(self.type_names):
            ax.plot(self.t_mid, self.exit_flow[k], label=n)
        ax.set_xlabel("time t [years]")
        ax.set_ylabel("exit flow [fraction / year]")
        ax.set_title("Secondary sales (exit flow)")
        ax.legend()
        return fig

    def plot_convergence(self, *, ax: Any = None) -> Any:
        """Residual and |exploitability| per evaluation of Φ."""
        from gelav.plot import new_axes

        fig, ax = new_axes(ax)
        it = np.arange(1, len(self.history) + 1)
        ax.semilogy(it, [max(h["residual"], 1e-300) for h in self.history], label="residual ‖Φ(Z) − Z‖∞")
        ex = np.array([abs(h["exploitability"]) for h in self.history], dtype=float)
        ax.semilogy(it, np.where(ex > 0, ex, np.nan), ls="--", label="|exploitability| [NAV]")
        ax.set_xlabel("evaluation of Φ")
        ax.set_ylabel("size")
        ax.set_title("Fixed-point convergence")
        ax.legend()
        return fig

    def __repr__(self) -> str:
        return (f"Equilibrium({len(self.type_names)} type(s), {self.grid.n_nodes} nodes × {self.times.size - 1} steps, "
                f"discount now {self.discount[0, 0]:.3%}, exits {self.cumulative_exits[0].max():.3%}, "
                f"residual {self.residual:.2e}, {self.iterations} iterations)")


def build_equilibrium(problem: Any, ev: Any, Z: Array, notes: list[str], label: str, opts: Any,
                      nf: Any, timings: dict[str, float], total: float) -> Equilibrium:
    """Assemble the result from the last evaluation of Φ at the fixed point ``Z``."""
    Zin, Zn, bw, fw, res = ev.last
    pb = problem
    K, M, N = pb.K, pb.M, pb.N
    V = bw.V.reshape(M + 1, K, N).transpose(1, 0, 2)
    kk = bw.k.reshape(M, K, N).transpose(1, 0, 2)
    P = fw.P.transpose(1, 0, 2)
    price_nodes = np.concatenate((bw.price, bw.price[:, -1:]), axis=1)  # (K, M+1, N)
    boundary = np.stack([exit_boundary(pb.x, price_nodes[k] - V[k]) for k in range(K)])
    for k in range(K):
        boundary[k, pb.end_idx[k]:] = np.nan
    exits = fw.exits.T  # (K, M)
    cum = np.concatenate((np.zeros((K, 1)), np.cumsum(exits, axis=1)), axis=1)
    holders = P.sum(axis=2)
    p0tot = pb.p0.sum(axis=1)
    mb = 0.0
    for k in range(K):
        e = pb.end_idx[k]
        mb = max(mb, float(np.max(np.abs(holders[k, :e + 1] + cum[k, :e + 1] - p0tot[k]))))
    dual = pb.duality_gap(bw, fw)
    x = pb.x
    width = x[-1] - x[0]
    edge = (x < x[0] + 0.02 * width) | (x > x[-1] - 0.02 * width)
    boundary_mass = float(P[:, :, edge].sum(axis=2).max())
    if boundary_mass > 1e-6:
        import warnings

        from gelav.errors import MassLossWarning

        warnings.warn(f"{boundary_mass:.3g} of a type's mass reached the outer 2% of the liquidity domain "
                      f"[{x[0]:.3g}, {x[-1]:.3g}] (reflecting ends); widen it with Numerics(domain=...).",
                      MassLossWarning, stacklevel=4)
    own_hist = [h for h in ev.history if h.get("start", "") == label]
    r = np.array([pt.discount_rate for pt in pb.model.types])
    y = np.array([pt.yield_rate for pt in pb.model.types])
    T = np.array([pb.model.fund_end(k) for k in range(K)]) - pb.times[0]
    with np.errstate(divide="ignore", invalid="ignore"):
        ann = np.where(r > 0, (1 - np.exp(-r * T)) / np.where(r > 0, r, 1.0), T)
    dcf = y * ann + np.exp(-r * T) * pb.model.market.nav
    if nf is not None:
        _pnf, bnf, fnf = nf
        nf_price = bnf.market
        nf_v0 = bnf.V[0].reshape(K, N)
        nf_cum = np.concatenate((np.zeros((K, 1)), np.cumsum(fnf.exits.T, axis=1)), axis=1)
    else:
        nf_price = np.full_like(bw.market, np.nan)
        nf_v0 = np.full((K, N), np.nan)
        nf_cum = np.full_like(cum, np.nan)
    _, S = pb.pressure(fw.exits @ pb.weights)
    aggregates = {"distressed": Zin[0].copy(), "flow": Zin[1].copy(), "mean": Zin[2].copy(),
                  "holders": Zin[3].copy(), "pressure": S}
    expl = own_hist[-1]["exploitability"] if own_hist else math.nan
    if opts.exploitability and not pb.model.decoupled:
        # exploitability of the equilibrium policy itself (one more evaluation)
        v_br = pb.population_value(bw)
        v_pol = pb.policy_value(fw, bw, Zn, ev.eps, ev.delta)
        bw2 = pb.backward(Zn, ev.eps, ev.delta, guess=bw, newton="global")
        expl = float(pb.weights @ (pb.population_value(bw2) - v_pol))
        del v_br
    elif pb.model.decoupled:
        expl = 0.0
    timings = {**timings, "total": total}
    diagnostics = {
        "converged": True,
        "iterations": len(own_hist),
        "evaluations": ev.n_eval,
        "residual": float(res),
        "exploitability": float(expl),
        "mass_balance_error": mb,
        "duality_error": dual,
        "boundary_mass": boundary_mass,
        "epsilon": ev.eps,
        "temperature": ev.delta,
        "method": opts.method,
        "tol": opts.tol,
        "start": label,
        "notes": notes,
        "n_nodes": N,
        "n_steps": M,
        "newton_iterations_last": bw.newton_iterations,
        "monotone": pb.model.monotone,
    }
    return Equilibrium(
        model=pb.model, grid=pb.grid, times=pb.times.copy(), t_mid=pb.t_mid.copy(),
        type_names=tuple(t.name for t in pb.model.types), weights=pb.weights.copy(),
        price=bw.market.copy(), no_feedback_price=nf_price, base_price=bw.base.copy(), boundary=boundary,
        exit_flow=exits / pb.dt[None, :], cumulative_exits=cum, holders=holders, density=P, value=V,
        exit_rate=kk, value0=V[:, 0].copy(), no_feedback_value0=nf_v0, no_feedback_cumulative_exits=nf_cum,
        dcf=dcf, aggregates=aggregates, path=Zin.copy(), history=list(ev.history), diagnostics=diagnostics,
        timings=timings, time_grid=pb.tg, numerics=pb.numerics, initial_pressure=pb.initial_pressure,
    )
