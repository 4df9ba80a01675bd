"""The :class:`Equilibrium` result of :func:`gelav.mfg.solve` and its plots.

This module holds the result only; its numbers are computed by :mod:`gelav.mfg.assemble`
(``build_equilibrium`` and ``exit_boundary`` are still importable from here).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from gelav.grid import Grid

__all__ = ["Equilibrium"]

Array = NDArray[np.float64]


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
    diagnostics : gelav.results.Diagnostics
        ``timings``, ``iterations``, ``residuals`` (the residual history of this start) and, read
        as a mapping, ``converged``, ``iterations``, ``residual``, ``exploitability``,
        ``mass_balance_error``, ``duality_error``, ``epsilon``, ``notes``, ``start``, grid sizes, and
        ``positivity`` (the steps taken as backward Euler against negative masses) when there are any.
    timings : dict
        Seconds spent in set-up, the no-feedback reference, the fixed point, in total.
    others : tuple of Equilibrium
        Further distinct equilibria (non-monotone games).
    time_grid, numerics, initial_pressure :
        The exact discretisation (for restarts, the N-player game and the master field); the
        time grid's ``theta`` includes the steps taken as backward Euler.
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
    diagnostics: Mapping[str, Any] = field(default_factory=dict)
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
    def premium(self) -> Array:
        """Illiquidity premium :math:`\\lambda^*(t)` (M,) [fraction of NAV] clearing the exit flow against the
        secondary buyers' capital (0 without ``Market(buyers=...)``; see :mod:`gelav.mfg.buyers`)."""
        from gelav.mfg.buyers import equilibrium_premium

        return equilibrium_premium(self)

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
        from gelav.mfg.engine import volume_fraction_below

        return float(p @ volume_fraction_below(self.grid, threshold) / tot)

    def master_residual(self, times: Any = None, *, n_times: int = 4) -> Any:
        """The discrete master equation along this equilibrium's flow (:func:`gelav.mfg.master_equation.master_residual`)."""
        from gelav.mfg.master_equation import master_residual

        return master_residual(self, times, n_times=n_times)

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


def __getattr__(name: str) -> Any:
    # ``build_equilibrium`` moved to :mod:`gelav.mfg.assemble` (it computes; this module only holds the result)
    if name in ("build_equilibrium", "exit_boundary"):
        from gelav.mfg import assemble

        return getattr(assemble, name)
    raise AttributeError(f"module 'gelav.mfg.result' has no attribute {name!r}")
