r"""Feynman–Kac (backward Kolmogorov) solver on the shared generator.

Solves, for :math:`dX = b\,dt + \sigma\,dW` on :math:`[x_{lo}, x_{hi}]`,

.. math::

    \partial_t u + b\,\partial_x u + \tfrac12\sigma^2\partial_x^2 u - r\,u + f = 0,
    \qquad u(T, x) = g(x),

i.e. :math:`u(t, x) = E\big[e^{-\int_t^{\tau\wedge T} r}\,\phi(\tau\wedge T, X_{\tau\wedge T})
+ \int_t^{\tau\wedge T} e^{-\int_t^s r} f(s, X_s)\,ds \,\big|\, X_t = x\big]`, where
:math:`\tau` is the first time a Dirichlet side is hit, :math:`\phi = g` at
:math:`T` and the boundary value at a hit. Semi-discretely
:math:`-\dot u = Q u - r u + f` with the rate matrix :math:`Q` of
:class:`gelav.generator.Generator` (exactly the chain the forward solver moves
mass with), stepped by Crank–Nicolson with Rannacher damping (order 2 in time,
also for kinked payoffs) or backward Euler.

Duality
-------
A Dirichlet side is an absorbing end node of the chain. The forward solver
removes the mass arriving there after every step (and at :math:`t_0`); the
backward solver sets :math:`u` at that node to its boundary value at
:math:`t_{n+1}` before taking step :math:`n`. Because each backward step is the
exact transpose of the forward step on the same :class:`~gelav.grid.TimeGrid`,

.. math::

    p_0\cdot u_0 = p_T\cdot g + \sum_n a^{lo}_{n}\,\phi_{lo}(t_n) + a^{hi}_{n}\,\phi_{hi}(t_n)

holds to rounding (~1e-13), where :math:`a_n` is the mass absorbed at step
:math:`n` (:func:`duality_gap` computes both sides).
"""

from __future__ import annotations

import math
import time as _time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from gelav._validation import (
    MAX_CELLS,
    MAX_HORIZON,
    MAX_STATE,
    check_finite,
    check_int,
    check_interval,
    check_positive,
    saved_index,
)
from gelav.errors import MassLossWarning
from gelav.fd import expm as _expm
from gelav.fd.boundaries import BOUNDARIES, Boundary, Dirichlet, Reflecting, as_boundary
from gelav.fd.discretization import Discretization, resolve_discretization, run_time_grid
from gelav.fd.expm import BackwardBound, ExpmStep
from gelav.fd.generator import Generator, warn_peclet
from gelav.fd.grid import Grid, TimeGrid, auto_domain, grid_for
from gelav.fd.step_control import signed_rate_run
from gelav.fd.stepping import Stepper
from gelav.pde.refinement import MAX_CELLS_DEFAULT, backward_to_tolerance
from gelav.processes.protocol import check_process, domain_of, name_of

if TYPE_CHECKING:
    from gelav.processes.protocol import ProcessLike

__all__ = [
    "BOUNDARY_ALIASES",
    "MAX_TIME_ERROR",
    "BackwardProblem",
    "Dirichlet",
    "Reflecting",
    "Value",
    "as_boundary",
    "backward",
    "backward_problem",
    "duality_gap",
]  # exit_time, exit_probability, exit_time_distribution, optimal_stopping: re-exported lazily

# Boundary specifications live in gelav.fd.boundaries (one registry for every solver).
#: string -> boundary object (the registry :data:`gelav.fd.boundaries.BOUNDARIES`, the same dict)
BOUNDARY_ALIASES = BOUNDARIES
#: ``scheme="expm"``: a run whose time-error bound exceeds this fraction of its largest value is refused
#: (:data:`gelav.fd.expm.MAX_TIME_ERROR`, the same number as the forward's fraction of the mass)
MAX_TIME_ERROR = _expm.MAX_TIME_ERROR


def _as_space_function(name: str, g: Any, grid: Grid, *, allow_time: bool = False) -> Callable[[float, NDArray[np.float64]], NDArray[np.float64]]:
    """Return ``fn(t, x)`` for a payoff / running reward given as number, array on nodes or callable."""
    if g is None:
        raise TypeError(f"`{name}` must be a callable, a number or an array, got None.")
    if isinstance(g, (int, float, np.integer, np.floating)) and not isinstance(g, bool):
        c = check_finite(name, g)
        return lambda t, x: np.full(np.shape(x), c)
    if callable(g):
        import inspect

        n_args = 1
        try:
            params = [p for p in inspect.signature(g).parameters.values()
                      if p.default is inspect.Parameter.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
            n_args = len(params)
        except (TypeError, ValueError):  # pragma: no cover - builtins
            n_args = 1
        if n_args >= 3 or (n_args == 2 and not allow_time):
            raise TypeError(f"`{name}` must be a function g(x)" + (" or g(t, x)" if allow_time else "")
                            + f"; got a function of {n_args} arguments.")
        if n_args == 2:
            fn2 = g
        else:
            fn2 = lambda t, x: g(x)  # noqa: E731

        def fn(t: float, x: NDArray[np.float64]) -> NDArray[np.float64]:
            try:
                with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                    v = np.asarray(fn2(t, x), dtype=float)
            except Exception as exc:  # re-raised with context
                raise ValueError(f"`{name}` failed on the grid: {exc}") from exc
            try:
                v = np.broadcast_to(v, np.shape(x)).astype(float)
            except ValueError:
                raise ValueError(f"`{name}` must return a number or an array shaped like x {np.shape(x)}, "
                                 f"got shape {v.shape}.") from None
            if not np.all(np.isfinite(v)):
                bad = np.asarray(x)[~np.isfinite(v)]
                raise ValueError(f"`{name}` is not finite at x = {bad[:3].tolist()} (t = {t:g}).")
            return v

        return fn
    try:
        arr = np.asarray(g, dtype=float)
    except (TypeError, ValueError):
        raise TypeError(f"`{name}` must be a callable, a number or an array of numbers, got {g!r:.40}.") from None
    if arr.shape != grid.nodes.shape:
        raise ValueError(f"`{name}` array must hold values at the {grid.n_nodes} grid nodes, got shape {arr.shape}.")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"`{name}` must be finite.")
    return lambda t, x: arr if np.shape(x) == arr.shape else np.interp(x, grid.nodes, arr)


def _cell_average(fn: Callable[[float, NDArray[np.float64]], NDArray[np.float64]], grid: Grid,
                  t: float) -> NDArray[np.float64]:
    """Control-volume averages of ``fn(t, ·)`` (8-point Gauss–Legendre on each half volume).

    The usual smoothing of discontinuous payoffs: the error of a jump or kink
    is then O(h²) wherever it falls, not O(h) (Pooley, Vetzal & Forsyth 2003).
    """
    z, w = np.polynomial.legendre.leggauss(8)
    x, f = grid.nodes, grid.faces
    out = np.zeros(grid.n_nodes)
    for lo, hi, idx in ((f[:-1], x, np.arange(grid.n_nodes)), (x, f[1:], np.arange(grid.n_nodes))):
        half = 0.5 * (hi - lo)
        pts = (0.5 * (hi + lo))[:, None] + half[:, None] * z[None, :]
        vals = fn(t, pts.ravel()).reshape(pts.shape)
        out[idx] += (vals * w[None, :]).sum(axis=1) * half
    return out / grid.volumes


def _discount_rate(discount: Any) -> Any:
    if discount is None:
        return None
    if callable(discount):
        return discount
    from gelav._validation import check_rates

    r = check_rates("discount", discount)  # no bools, finite, bounded
    # a signed rate (r < 0 somewhere) is allowed: the steps are sub-stepped to keep
    # θ Δt max(-r) <= 1/4 (gelav.fd.step_control.signed_rate_substeps)
    if r.ndim == 0 and float(r) == 0.0:
        return None
    return float(r) if r.ndim == 0 else r


# ---------------------------------------------------------------------------
# The result
# ---------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Value:
    r"""Values :math:`u(t, x)` of a Feynman–Kac problem at saved times, as returned by :func:`backward`.

    Attributes
    ----------
    grid : Grid
        Space grid.
    times : ndarray, shape (n_t,)
        Saved times, increasing (the first is the start, the last the horizon).
    values : ndarray, shape (n_t, n_nodes)
        :math:`u` at the nodes at each saved time (boundary nodes hold the
        boundary value at that time).
    time_grid : TimeGrid
        The steps used (pass it to :func:`gelav.forward` for duality).
    lower, upper : Dirichlet or Reflecting
        The boundary conditions.
    process : Process
    diagnostics : dict
        Nodes, steps, scheme, run time (and LCP iterations for optimal stopping). With
        ``scheme="expm"`` also ``"time_error_bound"``: a bound on the error of the exponential
        steps (the rational approximation of :math:`e^{\Delta t A}` and its rounding, summed over the
        steps), of the value at ``x0`` when ``x0`` was given (then ``"time_error_bound_max"`` is the
        largest over the nodes), else the largest over the nodes (:class:`gelav.fd.expm.BackwardBound`).
    inputs : dict
    killing : float, array, callable or None
        The discount rate as given to the generator (zero on Dirichlet nodes);
        pass it as ``killing=`` to :func:`gelav.forward` for duality.
    """

    grid: Grid
    times: NDArray[np.float64]
    values: NDArray[np.float64]
    time_grid: TimeGrid
    lower: Any = None
    upper: Any = None
    process: ProcessLike | None = None
    diagnostics: dict[str, Any] = field(default_factory=dict)
    inputs: dict[str, Any] = field(default_factory=dict)
    killing: Any = None

    @property
    def x(self) -> NDArray[np.float64]:
        return self.grid.nodes

    def _index(self, t: float | None) -> int:
        return saved_index(self.times, t, 0, "Pass `times=[...]` to save it, or use value(x, t) to interpolate.")

    def at(self, t: float | None = None) -> NDArray[np.float64]:
        """Nodal values at saved time ``t`` (default: the start time, i.e. today's value)."""
        return self.values[self._index(t)]

    def value(self, x: ArrayLike, t: float | None = None) -> NDArray[np.float64] | float:
        """:math:`u(t, x)` by linear interpolation in x (and in t between saved times).

        Linear interpolation in x is the pairing with :meth:`Grid.point_mass`,
        so ``value(x0)`` equals ``point_mass(x0) @ at()`` exactly.
        """
        xa = np.asarray(x, dtype=float)
        if not (np.all(xa >= self.grid.lower - 1e-12) and np.all(xa <= self.grid.upper + 1e-12)):  # NaN too
            raise ValueError(f"`x` must lie in the grid [{self.grid.lower:g}, {self.grid.upper:g}].")
        if t is None:
            row = self.values[0]
        else:
            t = float(t)
            if not self.times[0] - 1e-12 <= t <= self.times[-1] + 1e-12:
                raise ValueError(f"`t` = {t} lies outside [{self.times[0]:g}, {self.times[-1]:g}].")
            j = int(np.clip(np.searchsorted(self.times, t) - 1, 0, self.times.size - 2))
            w = (t - self.times[j]) / (self.times[j + 1] - self.times[j])
            w = min(max(w, 0.0), 1.0)
            row = (1 - w) * self.values[j] + w * self.values[j + 1]
        out = np.interp(xa, self.grid.nodes, row)
        return float(out) if out.ndim == 0 else out

    __call__ = value

    def delta(self, x: ArrayLike | None = None, t: float | None = None) -> NDArray[np.float64]:
        r""":math:`\partial_x u` at the nodes (second-order differences on the non-uniform grid),
        or interpolated at the points ``x``."""
        d = np.gradient(self.at(t), self.grid.nodes, edge_order=2)
        return d if x is None else np.interp(np.asarray(x, dtype=float), self.grid.nodes, d)

    def gamma(self, x: ArrayLike | None = None, t: float | None = None) -> NDArray[np.float64]:
        r""":math:`\partial_x^2 u` at the nodes (three-point formula; one-sided copies at the ends),
        or interpolated at the points ``x``."""
        g = self._gamma_nodes(t)
        return g if x is None else np.interp(np.asarray(x, dtype=float), self.grid.nodes, g)

    def _gamma_nodes(self, t: float | None) -> NDArray[np.float64]:
        u, x = self.at(t), self.grid.nodes
        h = np.diff(x)
        g = np.empty_like(u)
        g[1:-1] = 2 * (h[:-1] * u[2:] - (h[:-1] + h[1:]) * u[1:-1] + h[1:] * u[:-2]) / (h[:-1] * h[1:] * (h[:-1] + h[1:]))
        g[0], g[-1] = g[1], g[-2]
        return g

    _plot_title = "Feynman–Kac value"  # class attribute, not a field

    def summary(self) -> dict[str, Any]:
        return {
            "start": float(self.times[0]),
            "horizon": float(self.times[-1]),
            "domain": (self.grid.lower, self.grid.upper),
            "min_value": float(self.values[0].min()),
            "max_value": float(self.values[0].max()),
            **self.diagnostics,
        }

    def plot(self, kind: str = "surface", *, times: ArrayLike | None = None, ax: Any = None,
             xlabel: str = "state x", zlabel: str = "value u(t, x)", title: str | None = None) -> Any:
        """``kind="surface"``: u over (x, t); ``"slices"``: u(·, t) at a few saved times."""
        from gelav.plot import new_axes

        if kind == "surface":
            fig, ax = new_axes(ax, projection="3d")
            X, T = np.meshgrid(self.grid.nodes, self.times)
            ax.plot_surface(X, T, self.values, cmap="viridis", linewidth=0, antialiased=True)
            ax.set_xlabel(xlabel)
            ax.set_ylabel("time t [years]")
            ax.set_zlabel(zlabel)
            ax.set_title(title or f"{self._plot_title} of {name_of(self.process)}")
            return fig
        if kind == "slices":
            fig, ax = new_axes(ax)
            if times is None:
                idx = np.unique(np.linspace(0, self.times.size - 1, 5).round().astype(int))
                times = self.times[idx]
            for t in np.atleast_1d(np.asarray(times, dtype=float)):
                ax.plot(self.grid.nodes, self.value(self.grid.nodes, t), label=f"t = {t:g} y")
            ax.set_xlabel(xlabel)
            ax.set_ylabel(zlabel)
            ax.set_title(title or f"{self._plot_title} of {name_of(self.process)}")
            ax.legend()
            return fig
        raise ValueError(f"Unknown plot `kind` {kind!r}; use 'surface' or 'slices'.")

    def to_xarray(self) -> Any:
        """The values as an ``xarray.DataArray`` over (t, x) (needs xarray)."""
        try:
            import xarray as xr
        except ImportError as exc:  # pragma: no cover - optional
            raise ImportError("to_xarray needs xarray") from exc
        return xr.DataArray(self.values, coords={"t": self.times, "x": self.grid.nodes}, dims=("t", "x"), name="value")

    def __repr__(self) -> str:
        return (f"Value({self.process!r}, {self.grid.n_nodes} nodes on [{self.grid.lower:g}, {self.grid.upper:g}], "
                f"{self.times.size} saved times on [{self.times[0]:g}, {self.times[-1]:g}])")


# ---------------------------------------------------------------------------
# Set-up shared by backward() and optimal_stopping()
# ---------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class BackwardProblem:
    """A backward (Feynman–Kac) problem set up on the grid: what :func:`backward` and
    :func:`gelav.optimal_stopping` step through (made by :func:`backward_problem`).

    Attributes
    ----------
    grid, generator, time_grid : the discretisation (the generator includes the discount as killing)
    save_idx : indices of the saved times in ``time_grid``
    lower, upper : the two :class:`~gelav.fd.boundaries.Boundary` objects
    payoff : ``g(t, x)``; terminal : its values at the horizon
    running : ``f(t, x)`` or None
    killing : the discount rate as given to the generator
    mask : 0 on absorbing end nodes (no discount or running reward at a stopped state), else 1
    step_control : what :func:`gelav.fd.step_control.signed_rate_substeps` did for a negative
        discount (None: nothing was needed)
    """

    grid: Grid
    generator: Generator
    time_grid: TimeGrid
    save_idx: NDArray[np.int64]
    lower: Boundary
    upper: Boundary
    payoff: Callable[[float, NDArray[np.float64]], NDArray[np.float64]]
    terminal: NDArray[np.float64]
    running: Callable[[float, NDArray[np.float64]], NDArray[np.float64]] | None
    killing: Any
    mask: NDArray[np.float64]
    step_control: dict[str, Any] | None = None

    def apply_boundaries(self, u: NDArray[np.float64], t: float) -> None:
        """The boundaries' ``after_backward`` hooks on the values ``u`` at time ``t`` (in place)."""
        x = self.grid.nodes
        self.lower.after_backward(u, 0, t, float(x[0]), self.payoff)
        self.upper.after_backward(u, -1, t, float(x[-1]), self.payoff)


def _warn_explosion(process: ProcessLike, x0: float, domain: tuple[float, float], t: float,
                    ends: tuple[Boundary, Boundary]) -> None:
    """Say so when an automatic domain truncates an infinite end the process reaches in finite time.

    Paths that explode are killed (the Feynman–Kac value is that of the process up to its explosion
    time); a reflecting end at the truncation turns them back, which changes the value, and an
    absorbing one converges only like the time to explode from the truncation point (about 1/R for
    a drift x²)."""
    from gelav.fd.feller import explosive_ends

    for side, explodes, x, end in zip(("lower", "upper"), explosive_ends(process, x0, t), domain, ends,
                                      strict=True):
        if explodes:
            what = "turns them back, which changes the value" if not end.absorbing else (
                "kills them, but the value converges only slowly as the end moves out")
            warnings.warn(f"The process explodes towards {'-' if side == 'lower' else '+'}inf in finite time "
                          f"(Feller: an exit end); the automatic domain's {side} end at x={x:.4g} {what}. "
                          f"Give `domain=` and the `{side}=` condition you mean, or a bounded model.",
                          MassLossWarning, stacklevel=4)


def backward_problem(process: ProcessLike, payoff: Any, horizon: float, *, discount: Any, running: Any, lower: Any,
                     upper: Any, grid: Grid | None, domain: tuple[float, float] | None, x0: float | None,
                     n_cells: int, n_steps: int, times: Any, time_grid: TimeGrid | None, scheme: str,
                     damping_steps: int, start: float, tail: float = 1e-10, payoff_name: str = "payoff",
                     smooth_payoff: bool = False, flux: str = "sg") -> BackwardProblem:
    """Validate the inputs of a backward problem and set it up on the grid (the one copy of this set-up).

    Raises
    ------
    TypeError, ValueError
        As documented by :func:`backward`.
    """
    check_process(process)
    horizon = check_positive("horizon", horizon)
    start = check_finite("start", start, maximum=MAX_HORIZON)
    n_steps = check_int("n_steps", n_steps, minimum=1, maximum=MAX_CELLS)
    lo_b = as_boundary("lower", lower)
    hi_b = as_boundary("upper", upper)
    if grid is None:
        n_cells = check_int("n_cells", n_cells, minimum=4, maximum=MAX_CELLS)
        automatic = domain is None and x0 is not None  # an automatic domain: logarithmic at a GBM-like end
        if domain is None:
            if x0 is None:
                lo_d, hi_d = domain_of(process)
                if math.isfinite(lo_d) and math.isfinite(hi_d):
                    domain = (lo_d, hi_d)
                else:
                    raise ValueError("Give `domain=(lo, hi)`, `grid=` or `x0=` (for an automatic domain around x0).")
            else:
                domain = auto_domain(process, check_finite("x0", x0, maximum=MAX_STATE), horizon, tail=tail, start=start)
                _warn_explosion(process, float(x0), domain, start, (lo_b, hi_b))
        lo, hi = check_interval("domain", domain)
        if x0 is not None and not lo <= check_finite("x0", x0) <= hi:  # was silently ignored
            raise ValueError(f"`x0` = {x0} lies outside the domain [{lo:g}, {hi:g}].")
        # graded at a singular end, logarithmic at a GBM-like natural one (issue 11)
        grid = grid_for(x0, lo, hi, n_cells, process=process, horizon=horizon if automatic else None, tail=tail,
                        start=start)
    elif not isinstance(grid, Grid):
        raise TypeError(f"`grid` must be a gelav.Grid, got {type(grid).__name__}.")
    r = _discount_rate(discount)
    # No discounting and no running reward at a Dirichlet node: it is the stopped
    # state, paid its boundary value at the hitting time.
    mask = np.ones(grid.n_nodes)
    if lo_b.absorbing:
        mask[0] = 0.0
    if hi_b.absorbing:
        mask[-1] = 0.0
    if r is not None and not np.all(mask == 1.0):
        if callable(r):
            r_fun = r
            r = lambda t, x: np.asarray(r_fun(t, x), dtype=float) * mask  # noqa: E731
        else:
            r = np.broadcast_to(np.asarray(r, dtype=float), grid.nodes.shape) * mask
    gen = Generator(process, grid, lower=lo_b, upper=hi_b, killing=r, signed_killing=True, killing_name="discount",
                    flux=flux)
    end = start + horizon
    time_grid, save_idx = run_time_grid(horizon, start=start, n_steps=n_steps, times=times, time_grid=time_grid,
                                        scheme=scheme, damping_steps=damping_steps, n_nodes=grid.n_nodes)
    # A negative rate: split the steps where θ Δt max(-r) > 1/4 (the step matrix stays an M-matrix).
    time_grid, save_idx, control = signed_rate_run(time_grid, save_idx, gen)
    g = _as_space_function(payoff_name, payoff, grid, allow_time=True)
    f = None if running is None else _as_space_function("running", running, grid, allow_time=True)
    terminal = _cell_average(g, grid, end) if smooth_payoff else g(end, grid.nodes)  # validates now
    return BackwardProblem(grid, gen, time_grid, save_idx, lo_b, hi_b, g, terminal, f, r, mask, control)


def backward(
    process: ProcessLike,
    payoff: Callable[[NDArray[np.float64]], ArrayLike] | ArrayLike | float,
    horizon: float,
    *,
    discount: float | ArrayLike | Callable[[float, NDArray[np.float64]], ArrayLike] | None = None,
    running: float | Callable[..., ArrayLike] | None = None,
    lower: Any = "reflecting",
    upper: Any = "reflecting",
    grid: Grid | None = None,
    domain: tuple[float, float] | None = None,
    x0: float | None = None,
    n_cells: int = 400,
    n_steps: int = 200,
    times: Sequence[float] | ArrayLike | None = None,
    time_grid: TimeGrid | None = None,
    scheme: str = "cn",
    damping_steps: int = 4,
    start: float = 0.0,
    smooth_payoff: bool = False,
    discretization: Discretization | None = None,
    flux: str = "sg",
    tol: float | None = None,
    max_cells: int = MAX_CELLS_DEFAULT,
) -> Value:
    r"""Solve the Feynman–Kac equation backwards from the payoff.

    .. math::

        \partial_t u + b\,\partial_x u + \tfrac12\sigma^2\partial_x^2 u - r u + f = 0
        \ \text{on}\ (t_0, T)\times(x_{lo}, x_{hi}),\qquad u(T, \cdot) = g,

    with, per side, :math:`u = \phi(t)` (Dirichlet: the value received when the
    side is hit) or zero flux (reflecting). Discretely
    :math:`(I - \theta\Delta t A)u_n = (I + (1-\theta)\Delta t A)u_{n+1} + \Delta t f`
    with :math:`A = Q - r` of :class:`~gelav.generator.Generator` at the step
    midpoint: second order in space and time (Crank–Nicolson with Rannacher
    damping at both ends), first order with ``scheme="euler"``; with ``scheme="expm"``
    exact in time for a time-homogeneous chain, :math:`u_n = e^{\Delta t A}u_{n+1} +
    \Delta t\,\varphi_1(\Delta t A) f` (:mod:`gelav.fd.expm`; a running reward or boundary
    value that depends on time is frozen over each step). The exponential is a rational
    approximation with a certified error: ``diagnostics["time_error_bound"]`` bounds the error of
    the value at ``x0`` (the largest over the nodes without ``x0``). The bound at a node :math:`i` is
    :math:`\varepsilon\,\pi_i^{-1/2}\lVert\Pi^{1/2}w\rVert_2` per step plus terms of the size
    :math:`\varepsilon\lVert u\rVert_\infty` (:math:`\pi` the chain's detailed-balance weights,
    :math:`w` the values less their extension from the Dirichlet nodes, :math:`\varepsilon \approx 6\cdot10^{-14}`
    and :data:`gelav.fd.expm.PHI_SUP_ERROR` for the running reward; :class:`gelav.fd.expm.BackwardBound`):
    small in the bulk of a chain near detailed balance, large where :math:`\pi_i` is tiny (a far
    tail of the grid) and everywhere on a strongly drift-dominated chain. A run whose bound exceeds
    :data:`MAX_TIME_ERROR` (1e-6) times its largest :math:`|u|` is refused.

    Parameters
    ----------
    process : Process
    payoff : callable ``g(x)`` or ``g(t, x)``, number, or array of nodal values
        Terminal value :math:`g(T, x)` (currency units); with ``g(t, x)`` a
        ``"payoff"`` boundary pays :math:`g(\tau, x_b)` at the hitting time.
    horizon : float
        :math:`T - t_0` > 0 (years).
    discount : float, array or callable ``r(t, x)``, optional
        Discount rate :math:`r` per year (the generator's killing rate). It may
        be negative (a signed short rate, e.g. ``lambda t, x: x`` for a Vasicek
        rate): steps with :math:`\theta\Delta t \max(-r) > 1/4` are then split
        so the step matrix stays an M-matrix (recorded as
        ``diagnostics["step_control"]``). Must be finite.
    running : float or callable ``f(x)`` / ``f(t, x)``, optional
        Running reward :math:`f` per year.
    lower, upper : str, number, callable or :class:`Dirichlet` / :class:`Reflecting`
        ``"reflecting"``/``"natural"`` (default), ``"knockout"`` (= ``Dirichlet(0)``),
        ``"payoff"``/``"sold"`` (= ``Dirichlet("payoff")``: receive :math:`g(x_b)`),
        a number or a callable of t (``Dirichlet(value)``).
    grid, domain, x0, n_cells : optional
        Space grid, or a domain with ``n_cells`` uniform cells (a node on ``x0``
        when given), or an automatic domain around ``x0``.
    n_steps, times, time_grid, scheme, damping_steps, start :
        Time stepping as in :func:`gelav.forward` (same defaults, so the two
        solvers walk the same :class:`~gelav.grid.TimeGrid`). With ``scheme="expm"``,
        ``x0`` (also with ``grid=``/``domain=``) is where the time-error bound is checked.
    smooth_payoff : bool
        Use control-volume averages of ``payoff`` as terminal values (recommended
        for discontinuous payoffs such as digitals: O(h²) instead of O(h) wherever
        the jump falls). Default False: nodal values.
    discretization : Discretization, optional
        ``grid``, ``domain``, ``n_cells``, ``n_steps``, ``time_grid``, ``scheme``,
        ``damping_steps``, ``flux`` in one object (instead of the keywords).
    flux : {"sg", "sqra"}
        The generator's face flux (:data:`gelav.fd.generator.FLUXES`): Scharfetter–Gummel
        (default) or the square-root approximation. Use the flux of the forward run
        (``density.diagnostics["flux"]``) for duality.
    tol : float, optional
        Refine until the value at ``x0`` has a validated error estimate at most ``tol`` (absolute,
        the payoff's units): ``n_cells``, ``n_steps`` and their doubles
        (:mod:`gelav.pde.refinement`). The finest run is returned, with
        ``diagnostics["error_estimate"]``, ``["observed_order"]``, ``["order"]`` (the order the
        estimate assumes: 2, or 1 where a drift-dominated problem converges like :math:`h`) and
        ``["refinement"]`` (every level's cells, steps and value). Needs ``x0``; not with ``grid``
        or ``time_grid``.
    max_cells : int
        With ``tol``: the finest grid may have at most this many cells (default 12,800).

    Returns
    -------
    Value

    Raises
    ------
    ValueError
        Bad horizon, domain, boundary, payoff (non-finite on the grid) or discount. With
        ``scheme="expm"``: a chain the exponential does not apply to (time-dependent, one-way
        faces, an overflowing growth factor), or a time-error bound above :data:`MAX_TIME_ERROR`
        of the largest value (a strongly drift-dominated chain, or the far tail of the grid
        without ``x0``); the message names ``scheme='expm'``, says why and suggests ``scheme='cn'``.
        With ``tol``: no ``x0``, a ``grid``/``time_grid``, or ``max_cells`` below the four grids
        the estimate needs.
    gelav.errors.ConvergenceError
        With ``tol``: no validated estimate at most ``tol`` within ``max_cells`` (``history``: every
        level's answer and observed order).
    TypeError
        A payoff or boundary of the wrong type.

    Examples
    --------
    >>> from gelav import GeometricBrownianMotion
    >>> from gelav.backward import backward
    >>> v = backward(GeometricBrownianMotion(0.5, 1.0), lambda x: x, 1.0,
    ...              domain=(0.0, 1.0), lower="payoff", upper="payoff", n_cells=100, n_steps=20)
    >>> round(v.value(0.5), 3)  # seed 002: expected selling price from 0.5, limits at 0 and 1
    0.652
    """
    t_start = _time.perf_counter()
    kw = resolve_discretization(discretization, grid=grid, domain=domain, n_cells=n_cells, n_steps=n_steps,
                                time_grid=time_grid, scheme=scheme, damping_steps=damping_steps, flux=flux)
    if tol is not None:
        fixed = {k: v for k, v in kw.items() if k not in ("n_cells", "n_steps")}

        def solve(n_cells: int, n_steps: int) -> Value:
            return backward(process, payoff, horizon, discount=discount, running=running, lower=lower, upper=upper,
                            x0=x0, times=times, start=start, smooth_payoff=smooth_payoff, n_cells=n_cells,
                            n_steps=n_steps, **fixed)

        return backward_to_tolerance(solve, x0, tol, max_cells, kw)
    scheme = kw["scheme"]
    s = backward_problem(process, payoff, horizon, discount=discount, running=running, lower=lower, upper=upper,
                         x0=x0, times=times, start=start, smooth_payoff=smooth_payoff, **kw)
    tg = s.time_grid.times
    x = s.grid.nodes
    if x0 is not None:  # is the flux first order where the value is read?
        warn_peclet(process, s.grid, float(s.time_grid.times[0]), float(x0))
    stepper = Stepper(s.generator)
    M = s.time_grid.n_steps
    u = s.terminal.copy()
    s.apply_boundaries(u, float(tg[-1]))
    lo_b, hi_b = s.lower, s.upper
    values = np.empty((s.save_idx.size, x.size))
    k = s.save_idx.size - 1
    if s.save_idx[k] == M:
        values[k] = u
        k -= 1
    bound: BackwardBound | None = None  # the error bound of the exponential steps (scheme "expm")
    scale = float(np.abs(u).max())  # the largest value of the run: the bound is relative to it
    for n in range(M - 1, -1, -1):
        op = stepper.at(s.time_grid, n)
        lo_b.before_step(u, 0, float(tg[n + 1]))
        hi_b.before_step(u, -1, float(tg[n + 1]))
        src = None if s.running is None else s.running(0.5 * (tg[n] + tg[n + 1]), x) * s.mask
        if isinstance(op, ExpmStep):
            if bound is None:
                bound = BackwardBound(op.bands)
            bound.add(op, u, src)
        u = op.backward(u, src)
        s.apply_boundaries(u, float(tg[n]))
        if bound is not None:
            scale = max(scale, float(np.abs(u).max()))
        if k >= 0 and s.save_idx[k] == n:
            values[k] = u
            k -= 1
    diagnostics = {
        "n_nodes": s.grid.n_nodes,
        "n_steps": M,
        "max_spacing": s.grid.max_spacing,
        "scheme": scheme,
        "flux": s.generator.flux,
        "lower": s.generator.lower,
        "upper": s.generator.upper,
        "seconds": _time.perf_counter() - t_start,
    }
    if bound is not None:
        diagnostics.update(_certified_values(bound.profile(), s.grid, x0, scale))
    if s.step_control is not None:
        diagnostics["step_control"] = s.step_control
    inputs = {"horizon": horizon, "start": start, "domain": (s.grid.lower, s.grid.upper),
              "discount": discount if isinstance(discount, (int, float, type(None))) else "function",
              "lower": repr(s.lower), "upper": repr(s.upper)}
    return Value(grid=s.grid, times=tg[s.save_idx].copy(), values=values, time_grid=s.time_grid,
                 lower=s.lower, upper=s.upper, process=process, diagnostics=diagnostics, inputs=inputs,
                 killing=s.killing)


def _certified_values(profile: NDArray[np.float64], grid: Grid, x0: float | None, scale: float) -> dict[str, float]:
    """The time-error diagnostics of a run of exponential steps from its bound at each node, or the refusal.

    The bound reported is that of the value at ``x0`` (the interpolation weights of
    :meth:`Grid.point_mass` on the bound at its two nodes) when ``x0`` is given, else the largest over the
    nodes; it must be at most :data:`MAX_TIME_ERROR` times ``scale``, the largest value of the run.

    Raises
    ------
    ValueError
        Naming ``scheme='expm'``, when the bound exceeds that.
    """
    worst = int(np.argmax(profile))
    top = float(profile[worst])
    if x0 is None:
        out = {"time_error_bound": top}
        where = f"at x = {float(grid.nodes[worst]):.4g} (the largest over the nodes; no `x0` given)"
    else:
        out = {"time_error_bound": float(grid.point_mass(float(x0)) @ profile), "time_error_bound_max": top}
        where = f"at x0 = {float(x0):g}"
    b = out["time_error_bound"]
    if not b <= MAX_TIME_ERROR * max(scale, 1e-300):  # NaN too
        if not math.isfinite(scale):
            why = "the values overflow"
        elif x0 is None:
            why = ("the bound is largest where the chain's detailed-balance weights are smallest: a far tail of the "
                   "grid or a strongly drift-dominated chain, where the rational approximation loses its accuracy; "
                   "pass `x0=` to bound the value at x0 alone")
        else:
            why = ("the chain is far from detailed balance over the grid, e.g. strongly drift-dominated, or x0 lies "
                   "in a far tail, where the rational approximation loses its accuracy")
        raise ValueError(f"scheme='expm' cannot certify the backward values: the time-error bound {b:.3g} {where} "
                         f"exceeds {MAX_TIME_ERROR:g} of the largest value {scale:.3g} ({why}); use scheme='cn'.")
    return out


def duality_gap(value: Value, density: Any, x0: float) -> dict[str, float]:
    r"""Both sides of the duality identity for a :class:`Value` and a forward :class:`~gelav.density.Density`.

    ``density`` must come from :func:`gelav.forward` started at the point ``x0``
    on the same grid and ``time_grid`` with the same boundaries (Dirichlet ->
    ``"absorbing"``) and killing, saving every step (``times=time_grid.times``).

    Returns ``{"backward": p0·u0, "forward": p_T·g + Σ absorbed·φ, "gap": difference}``.
    """
    grid = value.grid
    if density.grid.n_nodes != grid.n_nodes or not np.allclose(density.grid.nodes, grid.nodes, rtol=0, atol=0):
        raise ValueError("`density` and `value` must share the same grid.")
    if density.times.size != value.time_grid.times.size:
        raise ValueError("`density` must save every step of the time grid (pass times=time_grid.times).")
    p0 = grid.point_mass(float(x0))
    lhs = float(p0 @ value.values[0]) if value.times.size and abs(value.times[0] - density.times[0]) < 1e-12 else math.nan
    payoff_T = value.at(float(value.times[-1]))
    rhs = float(density.masses[-1] @ payoff_T)
    for side, arr in (("lower", density.absorbed_lower), ("upper", density.absorbed_upper)):
        b = getattr(value, side)
        if b.absorbing:
            inc = np.diff(np.concatenate(([0.0], arr)))
            idx = 0 if side == "lower" else -1
            # the boundary node of value.values holds phi(t) at every saved (= every) time
            vals = value.values[:, idx] if value.times.size == density.times.size else None
            if vals is None:
                raise ValueError("`value` must save every step too (pass times=time_grid.times).")
            rhs += float(inc @ vals)
    return {"backward": lhs, "forward": rhs, "gap": lhs - rhs}

