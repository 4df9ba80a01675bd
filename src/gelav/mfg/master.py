r"""The master field :math:`U(t_0, L; \mu_0)`: equilibrium value as a function of the crowd's state.

For each starting law :math:`\mu_0` of a family the game is solved from
:math:`t_0`, and :math:`U(t_0, L; \mu_0) = V^{\mu_0}(t_0, L)` is tabulated. This
is the solution of the master equation (Cardaliaguet–Delarue–Lasry–Lions)
restricted to the family. Families:

* Gaussian laws :math:`N(m, s^2)` over ``means`` × ``spreads`` (the default);
* any parametrised family: a callable ``family(x, *theta)`` returning a density
  at the liquidity nodes ``x`` (node masses ``density × volumes``, normalised)
  over a tensor grid of parameters ``params={"name": values, ...}``;
* user-supplied laws (``laws=[masses or law specs]``), indexed ``0, 1, ...``.

Between tabulated parameters :meth:`MasterField.value` interpolates smoothly
(tensor-product interpolation, one axis at a time: a not-a-knot cubic spline,
:class:`scipy.interpolate.CubicSpline`, on axes with at least 4 values; linear on
axes with 2–3; an axis with one value must be matched). Off the family,
:meth:`MasterField.expand` is the first-order expansion through the derivative
in the measure (:func:`gelav.mfg.sensitivity`, the tangent):

.. math:: U(t_0, L; \mu) \approx U(t_0, L; \mu_0)
    + \int \frac{\delta U}{\delta m}(t_0, L, \mu_0)(y)\,(\mu - \mu_0)(dy),

with an error :math:`O(\|\mu - \mu_0\|^2)`.

Solves run in parallel over *chains*: the laws along the first parameter axis,
for each value of the others, in the table's order; with ``warm_start`` each law
of a chain starts the fixed point from its predecessor's equilibrium path
(``"neighbour"``), or from that path moved by the tangent response to the change
of law (``"tangent"``); ``"newton"`` starts each chain at its calmest law, evaluates
each further law's map at its neighbour's path by a population sweep alone (the
neighbour's best response to that path serves: it does not depend on the law) and
corrects by Newton's method with the exact tangent. A chain always runs on one
worker in the same order, so the table is the same (bit for bit) serial, on local
processes or on Dask.

Time consistency (the defining property of the master field): restarting the
game at :math:`t_0` from the equilibrium law :math:`\mu(t_0)` (and the selling
pressure then) reproduces :math:`V(t_0, \cdot)` — see :func:`restart`.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray

from gelav._progress import track
from gelav._validation import check_int
from gelav.grid import Grid, TimeGrid
from gelav.mfg.model import MAX_LEVEL, MFGModel, Numerics, SolverOptions

__all__ = ["WARM_STARTS", "MasterField", "chain_order", "master_field", "restart", "restart_from"]

Array = NDArray[np.float64]

#: how a law of a chain starts its fixed point
WARM_STARTS = ("off", "neighbour", "tangent", "newton")


@dataclass(frozen=True, eq=False)
class MasterField:
    """:math:`U(t_0, L; \\mu_0)` over a family of starting laws :math:`\\mu_0(\\theta)`.

    Attributes
    ----------
    means, spreads : ndarray
        The Gaussian family's axes (for other families: the mean and standard deviation of
        each tabulated law, shape of the table).
    grid : Grid
        Liquidity nodes (common to every solve).
    values : ndarray (*shape, K, N)
        Equilibrium value at :math:`t_0` [NAV]; ``shape`` is the table's
        (``(n_means, n_spreads)`` for the Gaussian family).
    price0 : ndarray (*shape, K)
        Equilibrium price at the start.
    exits : ndarray (*shape, K)
        Total exits per type.
    iterations, residuals : ndarray (*shape)
    diagnostics : dict
        ``seconds``, ``mode``, ``n_solves``, ``warm_start``, ``chains``, ``chain_starts`` (table
        indices of the laws each chain starts from, cold), ``evaluations`` (evaluations of the
        fixed-point map, each a best response and a population sweep, summed over the table),
        ``sweeps`` (population sweeps alone, from a neighbour's best response), and
        ``tangent_products`` (linear backward + forward sweep pairs of the tangent's linear
        solves), each also ``..._per_law``.
    axes, axis_names : tuple
        The family's parameter axes and their names (Gaussian: ``("mean", "spread")``).
    laws : ndarray (*shape, N)
        The tabulated starting node masses.
    evaluations : ndarray (*shape)
        Fixed-point evaluations of each law's solve.
    family : str
        ``"normal"``, ``"callable"`` or ``"laws"``.
    """

    t0: float
    means: Array
    spreads: Array
    grid: Grid
    type_names: tuple[str, ...]
    values: Array
    price0: Array
    exits: Array
    iterations: Array
    residuals: Array
    diagnostics: dict[str, Any] = field(default_factory=dict)
    axes: tuple[Array, ...] = ()
    axis_names: tuple[str, ...] = ()
    laws: Array | None = None
    evaluations: Array | None = None
    family: str = "normal"
    model: Any = field(default=None, repr=False)
    numerics: Any = field(default=None, repr=False)
    options: Any = field(default=None, repr=False)
    time_grid: Any = field(default=None, repr=False)
    law_of: Any = field(default=None, repr=False)

    @property
    def shape(self) -> tuple[int, ...]:
        """Shape of the table (one entry per tabulated law)."""
        return tuple(int(a.size) for a in self.axes)

    def _index(self, params: Sequence[float]) -> tuple[int, ...] | None:
        """The table index of ``params`` when every parameter is tabulated (to 1e-12), else None."""
        idx = []
        for a, p in zip(self.axes, params, strict=True):
            i = int(np.argmin(np.abs(a - p)))
            if abs(a[i] - p) > 1e-12 * max(1.0, abs(p)):
                return None
            idx.append(i)
        return tuple(idx)

    def _params(self, params: Sequence[Any], name: str = "params") -> tuple[float, ...]:
        if len(params) != len(self.axes):
            raise TypeError(
                f"`{name}`: give {len(self.axes)} parameters ({', '.join(self.axis_names)}), "
                f"got {len(params)}."
            )
        out = []
        for n, p in zip(self.axis_names, params, strict=True):
            if (
                isinstance(p, bool)
                or not isinstance(p, (int, float, np.floating, np.integer))
                or not math.isfinite(float(p))
            ):
                raise ValueError(f"`{n}` must be a finite number, got {p!r}.")
            out.append(float(p))
        return tuple(out)

    def axis_interpolation(self) -> tuple[str, ...]:
        """Per parameter axis: ``"cubic"`` (>= 4 values), ``"linear"`` (2-3), ``"none"`` (one value,
        or user-supplied laws)."""
        if self.family == "laws":
            return tuple("none" for _ in self.axes)
        return tuple(
            "cubic" if a.size >= 4 else ("linear" if a.size > 1 else "none") for a in self.axes
        )

    def interpolation(self) -> str:
        """The interpolation between tabulated laws: ``"cubic"`` or ``"linear"`` when every axis that
        interpolates uses it, ``"name: cubic, name: linear"`` when mixed, ``"none"`` (user-supplied
        laws, or a single law)."""
        methods = [
            (n, m)
            for n, m in zip(self.axis_names, self.axis_interpolation(), strict=True)
            if m != "none"
        ]
        if not methods:
            return "none"
        kinds = {m for _, m in methods}
        if len(kinds) == 1:
            return kinds.pop()
        return ", ".join(f"{n}: {m}" for n, m in methods)

    def table(self, *params: float, type: int = 0) -> Array:
        r""":math:`U(t_0, \cdot; \mu_0(\theta))` at the nodes (N,): tabulated, or interpolated between laws.

        Raises
        ------
        ValueError
            ``params`` outside the table, off a single-valued axis, or between user-supplied laws.
        """
        th = self._params(params)
        idx = self._index(th)
        if idx is not None:
            return self.values[(*idx, type)].copy()  # type: ignore[no-any-return]
        for k, (a, p) in enumerate(zip(self.axes, th, strict=True)):
            if a.size == 1 and abs(a[0] - p) > 1e-12 * max(1.0, abs(p)):
                raise ValueError(
                    f"`{self.axis_names[k]}` = {p} is not tabulated (the table has only "
                    f"{a[0]:g}); tabulate more values to interpolate."
                )
            if a.size > 1 and not a.min() - 1e-12 <= p <= a.max() + 1e-12:
                raise ValueError(
                    f"`{self.axis_names[k]}` = {p} is not tabulated and lies outside the table "
                    f"[{a.min():g}, {a.max():g}]."
                )
        method = self.interpolation()
        if method == "none":
            raise ValueError(
                f"{tuple(th)} is not tabulated and a table of user-supplied laws does not "
                "interpolate; use `expand(L, law)` for a law off the table."
            )
        # tensor-product interpolation, one axis at a time (the last first): a not-a-knot cubic
        # spline on axes with >= 4 values, linear on shorter ones, the single value otherwise
        from scipy.interpolate import CubicSpline

        vals = self.values[..., type, :]
        for k in range(len(self.axes) - 1, -1, -1):
            a, p, how = self.axes[k], th[k], self.axis_interpolation()[k]
            if how == "none":
                vals = vals[..., 0, :] if vals.ndim > 1 else vals
            elif how == "cubic":
                vals = CubicSpline(a, np.moveaxis(vals, k, 0), axis=0)(p)
            else:
                j = min(int(np.searchsorted(a, p, side="right")) - 1, a.size - 2)
                w = (p - a[j]) / (a[j + 1] - a[j])
                vals = (1 - w) * np.take(vals, j, axis=k) + w * np.take(vals, j + 1, axis=k)
        return np.asarray(vals, dtype=float)

    def value(self, L: ArrayLike, *params: float, type: int = 0) -> Array | float:
        """:math:`U(t_0, L; \\mu_0(\\theta))` — Gaussian: ``value(L, mean, spread)``.

        At tabulated parameters the table itself; between them the interpolation of
        :meth:`interpolation` (:meth:`table`); linear in ``L`` between the nodes.
        """
        v = np.interp(np.asarray(L, dtype=float), self.grid.nodes, self.table(*params, type=type))
        return float(v) if np.ndim(v) == 0 else v

    def law(self, *params: float) -> Array:
        """The starting node masses :math:`\\mu_0(\\theta)` of the family (N,) (tabulated or not)."""
        th = self._params(params)
        idx = self._index(th)
        if idx is not None and self.laws is not None:
            return self.laws[idx].copy()  # type: ignore[no-any-return]
        if self.law_of is None:
            raise ValueError(f"{tuple(th)} is not a tabulated law of this family.")
        return self.law_of(th)  # type: ignore[no-any-return]

    def expand(
        self,
        L: ArrayLike,
        law: ArrayLike | Any,
        *,
        at: Sequence[float] | None = None,
        type: int = 0,
    ) -> Array | float:
        r"""First-order expansion off the family: :math:`U(\mu_0) + \int \frac{\delta U}{\delta m}(\mu_0)\,(\mu - \mu_0)`.

        Parameters
        ----------
        L : array_like
            Own liquidity states.
        law : array (N,) or law spec
            The crowd's starting law :math:`\mu` (node masses on ``grid``, or a spec accepted by
            :meth:`~gelav.mfg.MFGModel.with_initial`, e.g. ``("normal", m, s)``).
        at : parameters, optional
            The tabulated law :math:`\mu_0` to expand around (default: the nearest in total variation).

        One equilibrium solve at :math:`\mu_0` (same grid, time grid and settings as the table)
        and one tangent solve in the direction :math:`\mu - \mu_0`; single-type models.
        """
        if self.model is None or self.laws is None:
            raise ValueError("This MasterField carries no model; build it with `master_field`.")
        if len(self.type_names) != 1:
            raise ValueError(
                "`expand` needs a single-type model (the derivative in the measure of one law)."
            )
        mu = _masses(self.model, law, self.numerics, self.grid, self.time_grid, self.t0)
        flat = self.laws.reshape(-1, mu.size)
        if at is None:
            i = int(np.argmin(np.abs(flat - mu[None, :]).sum(axis=1)))
            idx = tuple(int(k) for k in np.unravel_index(i, self.shape))
        else:
            th = self._params(tuple(at), "at")
            found = self._index(th)
            if found is None:
                raise ValueError(f"`at` = {tuple(th)} is not a tabulated law.")
            idx = found
        from gelav.mfg.linear_response import sensitivity
        from gelav.mfg.solver import solve

        mu0 = self.laws[tuple(idx)]
        eq0 = solve(
            self.model.with_initial(mu0.copy()),
            numerics=self.numerics,
            options=self.options,
            start=self.t0,
            grid=self.grid,
            time_grid=self.time_grid,
            no_feedback=False,
        )
        u = eq0.value0[0]
        if np.any(mu != mu0):
            u = u + sensitivity(eq0, [mu - mu0]).value[0]
        v = np.interp(np.asarray(L, dtype=float), self.grid.nodes, u)
        return float(v) if np.ndim(v) == 0 else v

    def plot(self, L: float = 0.0, *, ax: Any = None, type: int = 0) -> Any:
        """Value of the same LP state ``L`` against the first parameter, one line per value of the second."""
        from gelav.plot import new_axes

        fig, ax = new_axes(ax)
        a0 = self.axes[0]
        rest = int(np.prod(self.shape[1:])) if len(self.shape) > 1 else 1
        vals = self.values[..., type, :].reshape(a0.size, rest, -1)
        for j in range(rest):
            v = [np.interp(L, self.grid.nodes, vals[i, j]) for i in range(a0.size)]
            label = (
                f"crowd spread {self.axes[1][j]:g}"
                if self.family == "normal"
                else (f"{self.axis_names[1]} #{j}" if len(self.axes) > 1 else None)
            )
            ax.plot(a0, v, "o-", label=label)
        ax.set_xlabel(
            "mean liquidity of the crowd at t₀" if self.family == "normal" else self.axis_names[0]
        )
        ax.set_ylabel(f"value U(t₀, L={L:g}; μ₀) [NAV]")
        ax.set_title(
            f"Master field: the same LP state in different crowds ({self.type_names[type]})"
        )
        if len(self.axes) > 1:
            ax.legend()
        return fig

    def plot_heatmap(self, *, spread_index: int = 0, ax: Any = None, type: int = 0) -> Any:
        """:math:`U(t_0, L; \\mu_0)` over (L, first parameter) for one index of the second."""
        from gelav.plot import new_axes

        fig, ax = new_axes(ax)
        vals = self.values[..., type, :].reshape(self.axes[0].size, -1, self.grid.n_nodes)[
            :, spread_index
        ]
        mesh = ax.pcolormesh(self.grid.nodes, self.axes[0], vals, shading="auto")
        fig.colorbar(mesh, ax=ax, label="value [NAV]")
        ax.set_xlabel("own liquidity state L")
        if self.family == "normal":
            ax.set_ylabel("mean liquidity of the crowd")
            ax.set_title(f"Master field U(t₀, L; N(m, {self.spreads[spread_index]:g}²))")
        else:
            ax.set_ylabel(self.axis_names[0])
            ax.set_title("Master field U(t₀, L; μ₀(θ))")
        return fig


def _masses(
    model: MFGModel, law: Any, numerics: Numerics, grid: Grid, tg: TimeGrid, t0: float
) -> Array:
    """Starting node masses of ``law`` (an array of node masses or a law spec) on ``grid``."""
    from gelav.mfg.engine import Problem

    if isinstance(law, np.ndarray) or (
        isinstance(law, (list, tuple)) and law and not isinstance(law[0], str)
    ):
        m = np.asarray(law, dtype=float)
        if (
            m.shape != (grid.n_nodes,)
            or not np.all(np.isfinite(m))
            or np.any(m < 0)
            or m.sum() <= 0
        ):
            raise ValueError(
                f"A law must be {grid.n_nodes} finite non-negative node masses with a positive "
                f"total, got shape {m.shape}."
            )
        return m / m.sum()  # type: ignore[no-any-return]
    one = replace(model, types=model.types[:1])
    return Problem(one.with_initial(law), numerics, start=t0, grid=grid, time_grid=tg).p0[0]  # type: ignore[no-any-return]


def _record(eq: Any, sweeps: int = 0, products: int = 0, start: bool = False) -> tuple[Any, ...]:
    """What the table keeps of one law's equilibrium (what its solve cost; whether it starts its chain)."""
    return (
        eq.value0,
        eq.price[:, 0],
        eq.cumulative_exits.max(axis=1),
        eq.iterations,
        eq.residual,
        int(eq.diagnostics.get("evaluations", 0)),
        sweeps,
        products,
        start,
    )


def _solve_chain(args: tuple[Any, ...]) -> list[tuple[Any, ...]]:
    """Solve the laws of one chain in order, each warm-started from its predecessor (``warm``)."""
    from gelav.mfg.solver import solve

    model, numerics, options, t0, grid_nodes, tg, laws, warm = args
    grid = Grid(grid_nodes)
    if warm == "newton":
        return _newton_chain(model, _Chain(numerics, options, t0, grid, tg), laws)
    out = []
    prev = None
    for mu in laws:
        guess = None
        products = 0
        if prev is not None and warm == "neighbour":
            guess = prev.path
        elif prev is not None and warm == "tangent":
            from gelav.mfg.linear_response import tangent_response

            resp, info = tangent_response(
                prev, (mu - prev.density[0, 0])[:, None], linear_solver="gmres"
            )
            guess = prev.path + resp["Z"][..., 0]
            products = int(info["n_jvp"])
        eq = solve(
            model.with_initial(mu.copy()),
            numerics=numerics,
            options=options,
            start=t0,
            grid=grid,
            time_grid=tg,
            no_feedback=False,
            initial_guess=guess,
        )
        out.append(_record(eq, 0, products, prev is None))
        prev = eq
    return out


def chain_order(distressed: Sequence[float]) -> list[tuple[int, int | None]]:
    """The solve order of a chain with ``warm_start="newton"``: ``(law, neighbour)`` pairs.

    The chain starts from its calmest law (the least mass ``distressed`` below the distress
    level: the calm starting path, nobody distressed, is closest to its equilibrium; the first
    such law on ties) and runs outward on both sides, each law from its neighbour towards the
    start (``None`` for the start).
    """
    n = len(distressed)
    h = int(np.argmin(np.asarray(distressed, dtype=float)))
    order: list[tuple[int, int | None]] = [(h, None)]
    order += [(i, i - 1) for i in range(h + 1, n)]
    order += [(i, i + 1) for i in range(h - 1, -1, -1)]
    return order


class _Chain(NamedTuple):
    """What every law of a ``warm_start="newton"`` chain is solved with."""

    numerics: Numerics
    options: SolverOptions
    t0: float
    grid: Grid
    tg: TimeGrid

    def problem(self, model: MFGModel) -> Any:
        """The :class:`~gelav.mfg.engine.Problem` of ``model`` on the chain's grids from ``t0``."""
        from gelav.mfg.engine import Problem

        return Problem(model, self.numerics, start=self.t0, grid=self.grid, time_grid=self.tg)


def _newton_chain(model: MFGModel, chain: _Chain, laws: Sequence[Array]) -> list[tuple[Any, ...]]:
    """``warm_start="newton"``: the calmest law cold, then each neighbour by :func:`_continue`.

    The calmest law of a monotone game is solved like :func:`gelav.mfg.solve` solves it (its
    method from the calm path, the only start solve tries), keeping its last best response for
    its neighbours; a non-monotone game's by :func:`gelav.mfg.solve` itself (every start, the
    first equilibrium), a decoupled game's laws all by :func:`gelav.mfg.solve` (one best response).
    """
    from gelav.mfg.solver import solve

    out: list[tuple[Any, ...] | None] = [None] * len(laws)
    state: dict[int, tuple[Array, Any]] = {}
    pb = chain.problem(model.with_initial(laws[0].copy()))
    for i, j in chain_order([float(pb.dist_w @ mu) for mu in laws]):
        mdl = model.with_initial(laws[i].copy())
        if model.decoupled or (j is None and not model.monotone):
            eq = solve(mdl, numerics=chain.numerics, options=chain.options, start=chain.t0, grid=chain.grid,
                       time_grid=chain.tg, no_feedback=False)
            out[i] = _record(eq, start=j is None)
            state[i] = (eq.path, None)
            continue
        Zn, bw_n = (None, None) if j is None else state[j]  # the calmest law cold
        eq, bw, sweeps, products = _continue(mdl, chain, Zn, bw_n)
        out[i] = _record(eq, sweeps, products, j is None)
        state[i] = (eq.path, bw)
    return out  # type: ignore[return-value]


def _continue(model: MFGModel, chain: _Chain, Zn: Array | None, bw_n: Any) -> tuple[Any, Any, int, int]:
    r"""The equilibrium of ``model`` from its neighbour's path ``Zn`` (best response ``bw_n`` or None), or
    cold from the calm path (``Zn`` None).

    :math:`\Phi(Z_n)` is one population sweep when the neighbour's best response to :math:`Z_n` is
    known (:meth:`~gelav.mfg.fixed_point.Evaluator.sweep`: it does not depend on the starting
    law); that Picard step predicts the path, and Newton's method with the exact tangent
    (:func:`gelav.mfg.tangent.newton`) corrects it. Where Newton gives up, or with
    ``control="lagged"`` (no tangent), the solver's own method (``options.method``) continues from
    its best iterate. Cold, the solver's method runs from the calm path as in :func:`gelav.mfg.solve`. Returns the equilibrium, the best response to its path, and the
    population sweeps and tangent products used.
    """
    from gelav.mfg.assemble import build_equilibrium
    from gelav.mfg.fixed_point import Evaluator, fixed_point_method
    from gelav.mfg.solver import warn_negative_masses
    from gelav.mfg.tangent import NEWTON_MAX_STEPS, newton

    t_start = time.perf_counter()
    numerics, options = chain.numerics, chain.options
    label = "calm" if Zn is None else "neighbour"
    pb = chain.problem(model)
    history: list[dict[str, Any]] = []
    ev = Evaluator(pb, options, history, None, label, deadline=t_start + options.max_seconds)
    notes: list[str] = []
    timings = {"setup": time.perf_counter() - t_start}
    t1 = time.perf_counter()
    products = 0
    method = fixed_point_method(options.method)
    if Zn is None:
        Z = method.solve(ev, pb.zero_path(), options, notes, label)
    else:
        ev.set_relaxation(numerics.epsilon)
        Z = ev.sweep(Zn, bw_n, "neighbour's best response") if bw_n is not None else ev(Zn, label)
        if ev.residual < options.tol:
            Z = Zn
        else:
            done = False
            if numerics.control == "newton":
                Z, products, done = newton(ev, Z, options.tol,
                                           max_steps=min(NEWTON_MAX_STEPS, options.max_iter))
                if not done:
                    notes.append(f"Newton gave up after {ev.n_eval} evaluations (best residual "
                                 f"{min(h['residual'] for h in history):.3g}); continued with "
                                 f"method {options.method!r} from its best iterate")
            if not done:
                Z = method.solve(ev, Z, options, notes, label)
    timings["fixed_point"] = time.perf_counter() - t1
    eq = build_equilibrium(pb, ev, Z, notes, label, options, None, timings, time.perf_counter() - t_start)
    warn_negative_masses(eq)
    assert ev.last is not None
    return eq, ev.last.backward, ev.n_sweep, products


def _as_completed(futures: Any) -> Any:
    from dask.distributed import as_completed

    return as_completed(futures)


def _family_laws(
    model: MFGModel,
    numerics: Numerics,
    grid: Grid,
    tg: TimeGrid,
    t0: float,
    family: Any,
    axes: tuple[Array, ...],
) -> tuple[Array, Callable[[tuple[float, ...]], Array]]:
    """Node masses of every tabulated law (*shape, N) and the map parameters -> masses."""
    if family == "normal":

        def law_of(th: tuple[float, ...]) -> Array:
            if th[1] <= 0:
                raise ValueError(f"`spread` must be > 0, got {th[1]}.")
            return _masses(model, ("normal", th[0], th[1]), numerics, grid, tg, t0)
    else:

        def law_of(th: tuple[float, ...]) -> Array:
            f = np.asarray(family(grid.nodes, *th), dtype=float)
            if f.shape != grid.nodes.shape or not np.all(np.isfinite(f)) or np.any(f < 0):
                raise ValueError(
                    f"`family` must return {grid.n_nodes} finite non-negative density values at the "
                    f"nodes, got shape {f.shape} for parameters {th}."
                )
            return _masses(model, grid.cell_masses(f), numerics, grid, tg, t0)

    shape = tuple(a.size for a in axes)
    laws = np.empty((*shape, grid.n_nodes))
    for idx in np.ndindex(*shape):
        laws[idx] = law_of(tuple(float(a[i]) for a, i in zip(axes, idx, strict=True)))
    return laws, law_of


def master_field(
    model: MFGModel,
    *,
    means: Sequence[float] = (-2.0, -1.5, -1.0, -0.5, 0.0, 0.5, 1.0),
    spreads: Sequence[float] = (0.2, 0.5),
    family: Callable[..., ArrayLike] | None = None,
    params: Mapping[str, Sequence[float]] | None = None,
    laws: Sequence[Any] | None = None,
    t0: float = 0.0,
    numerics: Numerics | None = None,
    options: SolverOptions | None = None,
    warm_start: str = "neighbour",
    workers: int | None = None,
    client: Any = None,
    progress: bool = False,
) -> MasterField:
    r"""Tabulate :math:`U(t_0, L; \mu_0)` over a family of starting laws :math:`\mu_0`.

    Parameters
    ----------
    model : MFGModel
        Every type starts from the same law of the family (its own ``initial`` is ignored).
    means, spreads : sequences of float
        The Gaussian family :math:`N(m, s^2)`, used unless ``family`` or ``laws`` is given: each
        strictly increasing (unsorted or repeated values are refused, not reordered), spreads > 0,
        :math:`|m| \le 10^6`, and, with the automatic domain, :math:`|m| + 6.47\,s \le 10^6` (the
        grid spans the laws' :math:`10^{-10}` quantiles).
    family : callable ``family(x, *theta) -> density at the nodes``, optional
        Any parametrised family; with ``params`` (name -> values, a tensor grid, in order).
        Node masses are ``density × volumes``, normalised to 1.
    laws : sequence, optional
        User-supplied laws (node masses on the grid, or law specs such as ``("normal", m, s)``),
        tabulated along one axis ``law`` = 0, 1, ...
    t0 : float
        Start time [years], before every fund end.
    numerics, options :
        As in :func:`gelav.mfg.solve`; one common grid covers the whole family (for ``family`` and
        ``laws`` give ``numerics.domain`` or the model's default domain is used).
    warm_start : {"neighbour", "tangent", "newton", "off"}
        How each law of a chain (the first parameter axis) starts its fixed point: from the
        previous law's equilibrium path, from that path plus its tangent response to the change of
        law (:func:`gelav.mfg.sensitivity`'s linear solve), or from the calm start (``"off"``); the
        solver's method (``options.method``) corrects. ``"newton"``: the chain starts at its calmest
        law (least mass below the distress level) and runs outward; each further law evaluates its
        map at the neighbour's equilibrium path :math:`Z_n` by one population sweep (the best
        response to a path does not depend on the starting law), steps to :math:`\Phi(Z_n)` and
        corrects by Newton's method with the exact tangent (:func:`gelav.mfg.tangent.newton`; the
        solver's method takes over where Newton gives up, and with ``control="lagged"``). It halves
        the evaluations of the map, at the price of tangent products (see ``diagnostics``). For a
        game with several equilibria a warm start follows the neighbour's branch.
    workers : int, optional
        Local processes (default: all cores, serial for one chain or one core); 0 or 1 solves the
        chains here, one after the other (as ``build_report(workers=0)`` runs its sections here).
    client : dask.distributed.Client, optional
        Run the chains on a Dask cluster instead.
    progress : bool
        Show a Rich progress bar over the chains.

    Returns
    -------
    MasterField

    Raises
    ------
    ValueError
        Empty family, a spread <= 0, unsorted or repeated ``means``/``spreads``, a mean or
        spread beyond the liquidity range, bad laws or ``warm_start``, ``t0`` outside ``[0, T)`` (``T`` the
        earliest fund end), or ``workers`` < 0.
    """
    t_start = time.perf_counter()
    if warm_start not in WARM_STARTS:
        raise ValueError(
            f"Unknown `warm_start` {warm_start!r}; use one of {', '.join(map(repr, WARM_STARTS))}."
        )
    if family is not None and laws is not None:
        raise ValueError("Give `family` (with `params`) or `laws`, not both.")
    t0 = _check_t0(model, t0)
    if workers is not None:
        workers = check_int("workers", workers, minimum=0)
    numerics = numerics or Numerics()
    options = options or SolverOptions()
    from gelav.mfg.engine import Problem

    if family is None and laws is None:
        ms = np.asarray(means, dtype=float)
        ss = np.asarray(spreads, dtype=float)
        if (
            ms.size == 0
            or ss.size == 0
            or not np.all(np.isfinite(ms))
            or not np.all(np.isfinite(ss))
        ):
            raise ValueError("`means` and `spreads` must be non-empty lists of finite numbers.")
        if np.any(ss <= 0):
            raise ValueError(f"`spreads` must be > 0, got {ss.tolist()}.")
        # unsorted axes interpolated between laws of the wrong bracket (spreads [0.5, 0.2, 0.35]: off by
        # 1.2e-3 at 0.42) or raised SciPy's "`x` must be strictly increasing" (>= 4 means): refuse them,
        # as the `family=` path does (sorting silently would reorder the table a caller indexes)
        for name, a in (("means", ms), ("spreads", ss)):
            if a.size > 1 and np.any(np.diff(a) <= 0):
                raise ValueError(f"`{name}` must be strictly increasing (no repeats), got {a.tolist()}; "
                                 f"sort them, e.g. {sorted(set(a.tolist()))}.")
        if np.any(np.abs(ms) > MAX_LEVEL):
            raise ValueError(f"`means` must lie in [-{MAX_LEVEL:g}, {MAX_LEVEL:g}] (the liquidity range), "
                             f"got {ms.tolist()}.")
        # the automatic grid spans each law's 1e-10 quantiles, mean ± z·spread: keep them in the liquidity
        # range as the means are (spread 1e6 put the model's unit-scale dynamics inside one cell and
        # the fixed point failed, blaming `flow_impact`)
        from gelav.processes.laws import Normal

        z = float(Normal().isf(0.5e-10))  # as in Problem's automatic domain
        reach = float(np.max(np.abs(ms))) + z * float(ss.max())
        if numerics.domain is None and reach > MAX_LEVEL:
            raise ValueError(f"`spreads` must be <= {(MAX_LEVEL - float(np.max(np.abs(ms)))) / z:.4g} here: the "
                             f"grid spans mean ± {z:.2f} spreads, which must stay within ±{MAX_LEVEL:g} (the "
                             f"liquidity range); got max spread {float(ss.max()):g}.")
        if numerics.domain is None:
            lo_m = Problem(
                model.with_initial(("normal", float(ms.min()), float(ss.max()))), numerics, start=t0
            )
            hi_m = Problem(
                model.with_initial(("normal", float(ms.max()), float(ss.max()))), numerics, start=t0
            )
            numerics = replace(numerics, domain=(lo_m.grid.lower, hi_m.grid.upper))
        axes: tuple[Array, ...] = (ms, ss)
        names: tuple[str, ...] = ("mean", "spread")
        kind = "normal"
    elif family is not None:
        if not callable(family):
            raise TypeError(f"`family` must be callable, got {type(family).__name__}.")
        if not params:
            raise ValueError("`family` needs `params`: a mapping name -> parameter values.")
        axes = tuple(np.asarray(v, dtype=float).ravel() for v in params.values())
        names = tuple(str(k) for k in params)
        if any(a.size == 0 or not np.all(np.isfinite(a)) for a in axes):
            raise ValueError("Every `params` axis must be a non-empty list of finite numbers.")
        if any(np.any(np.diff(a) <= 0) for a in axes if a.size > 1):
            raise ValueError("Every `params` axis must be strictly increasing.")
        kind = "callable"
    else:
        if laws is None or len(laws) == 0:
            raise ValueError("`laws` must be a non-empty sequence.")
        axes = (np.arange(len(laws), dtype=float),)
        names = ("law",)
        kind = "laws"
    if numerics.domain is None:
        numerics = replace(
            numerics,
            domain=(
                Problem(model, numerics, start=t0).grid.lower,
                Problem(model, numerics, start=t0).grid.upper,
            ),
        )
    grid = Grid.uniform(numerics.domain[0], numerics.domain[1], numerics.n_cells)  # type: ignore[index]
    tg = Problem(model, numerics, start=t0, grid=grid).tg
    if kind == "laws":
        assert laws is not None
        table_laws = np.stack([_masses(model, law, numerics, grid, tg, t0) for law in laws])
        law_of = None
    else:
        table_laws, law_of = _family_laws(
            model, numerics, grid, tg, t0, "normal" if kind == "normal" else family, axes
        )
    shape = tuple(a.size for a in axes)
    # chains: the first axis, one chain per index of the other axes (order fixed by the table)
    rest = list(np.ndindex(*shape[1:]))
    tasks = [
        (
            model,
            numerics,
            options,
            float(t0),
            grid.nodes,
            tg,
            [table_laws[(i, *r)] for i in range(shape[0])],
            warm_start,
        )
        for r in rest
    ]
    mode = "serial"
    label = f"master field: {int(np.prod(shape))} equilibria in {len(tasks)} chains"
    if client is not None:
        futures = client.map(_solve_chain, tasks)
        for _ in track(_as_completed(futures), total=len(futures), label=label, show=progress):
            pass
        out = client.gather(futures)
        mode = "dask"
    else:
        n_work = workers if workers is not None else (os.cpu_count() or 1)
        if n_work > 1 and len(tasks) > 1:
            import pickle
            from concurrent.futures import ProcessPoolExecutor

            try:
                pickle.dumps(tasks[0])
            except Exception:  # user couplings defined in __main__ or lambdas
                n_work = 1
        if n_work > 1 and len(tasks) > 1:
            with ProcessPoolExecutor(max_workers=min(n_work, len(tasks))) as ex:
                out = list(
                    track(ex.map(_solve_chain, tasks), total=len(tasks), label=label, show=progress)
                )
            mode = f"processes ({min(n_work, len(tasks))})"
        else:
            out = [
                _solve_chain(t) for t in track(tasks, total=len(tasks), label=label, show=progress)
            ]
    K = len(model.types)
    N = grid.n_nodes
    values = np.empty((*shape, K, N))
    price0 = np.empty((*shape, K))
    exits = np.empty((*shape, K))
    its = np.empty(shape)
    res = np.empty(shape)
    evals = np.empty(shape, dtype=int)
    sweeps = np.empty(shape, dtype=int)
    products = np.empty(shape, dtype=int)
    starts = []
    for r, chain in zip(rest, out, strict=True):
        for i, o in enumerate(chain):
            idx = (i, *r)
            (values[idx], price0[idx], exits[idx], its[idx], res[idx], evals[idx], sweeps[idx],
             products[idx], head) = o
            if head:
                starts.append(idx)
    if kind == "normal":
        means_out, spreads_out = axes
    else:
        x = grid.nodes
        means_out = table_laws @ x
        spreads_out = np.sqrt(np.maximum(table_laws @ (x * x) - means_out**2, 0.0))
    n_laws = int(np.prod(shape))
    diag = {
        "seconds": time.perf_counter() - t_start,
        "mode": mode,
        "n_solves": n_laws,
        "warm_start": warm_start,
        "chains": len(tasks),
        "evaluations": int(evals.sum()),
        "evaluations_per_law": float(evals.sum()) / n_laws,
        "sweeps": int(sweeps.sum()),
        "sweeps_per_law": float(sweeps.sum()) / n_laws,
        "tangent_products": int(products.sum()),
        "tangent_products_per_law": float(products.sum()) / n_laws,
        "chain_starts": starts,
    }
    return MasterField(
        float(t0),
        means_out,
        spreads_out,
        grid,
        tuple(t.name for t in model.types),
        values,
        price0,
        exits,
        its,
        res,
        diag,
        axes=axes,
        axis_names=names,
        laws=table_laws,
        evaluations=evals,
        family=kind,
        model=model,
        numerics=numerics,
        options=options,
        time_grid=tg,
        law_of=law_of,
    )


def _check_t0(model: MFGModel, t0: Any) -> float:
    """``t0`` as a float in ``[0, T_min)``, ``T_min`` the earliest fund end, or a ValueError naming `t0`."""
    if isinstance(t0, (bool, np.bool_)) or not isinstance(t0, (int, float, np.integer, np.floating)):
        raise ValueError(f"`t0` must be a number of years, got {t0!r}.")
    t = float(t0)
    end = min(model.fund_end(k) for k in range(len(model.types)))
    if not (math.isfinite(t) and 0.0 <= t < end - 1e-12):
        raise ValueError(f"`t0` must lie in [0, {end:g}) (now up to the earliest fund end), got {t0!r}.")
    return t


def restart(eq: Any, t0: float, **kwargs: Any) -> Any:
    r"""Solve the game again from :math:`t_0` starting at the equilibrium law :math:`\mu(t_0)` of ``eq``.

    Uses the same grid, the remaining steps of the same time grid and the
    selling pressure at :math:`t_0`; by time consistency the result's
    ``value0`` equals ``eq.value[:, i0]`` to the fixed-point tolerance.
    """
    i0 = int(np.argmin(np.abs(eq.times - t0)))
    if abs(eq.times[i0] - t0) > 1e-9 * max(1.0, abs(t0)):
        raise ValueError(
            f"`t0` = {t0} is not a time of the equilibrium's grid (nearest {eq.times[i0]:g})."
        )
    if i0 >= eq.times.size - 1:
        raise ValueError("`t0` must lie before the horizon.")
    if any(eq.model.fund_end(k) <= eq.times[i0] + 1e-12 for k in range(len(eq.model.types))):
        raise ValueError("`t0` must lie before every fund end.")
    kwargs.setdefault("no_feedback", False)
    return restart_from(eq, i0, eq.density[:, i0], float(eq.aggregates["pressure"][i0]), **kwargs)


def restart_from(eq: Any, i0: int, masses: Array, pressure: float, **kwargs: Any) -> Any:
    """The game of ``eq`` restarted at ``eq.times[i0]`` from any state: holders ``masses`` (K, N)
    and selling pressure ``pressure`` (same grid, the remaining steps of the same time grid).

    Masses below zero by rounding (the Crank–Nicolson steps leave some of order 1e-17) are set
    to zero. Keywords go to :func:`gelav.mfg.solve` (default ``no_feedback=False``).
    """
    from gelav.mfg.solver import solve

    tg = TimeGrid(eq.time_grid.times[i0:], eq.time_grid.theta[i0:])
    model = eq.model.with_initial([np.maximum(masses[k], 0.0) for k in range(masses.shape[0])])
    kwargs.setdefault("no_feedback", False)
    return solve(
        model,
        numerics=eq.numerics,
        start=float(eq.times[i0]),
        grid=eq.grid,
        time_grid=tg,
        initial_pressure=pressure,
        **kwargs,
    )


_ = math  # keep the import for doctest namespaces
