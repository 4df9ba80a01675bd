r"""Exit problems: expected exit time, hitting probabilities, exit-time law.

For :math:`dX = b\,dt + \sigma\,dW` started in :math:`(a, b)` and
:math:`\tau = \inf\{t: X_t \notin (a, b)\}`:

.. math::

    \mathcal{L} y = -1,\ y(a) = y(b) = 0 \quad (y = E_x[\tau]); \qquad
    \mathcal{L} h = 0,\ h(a) = 0,\ h(b) = 1 \quad (h = P_x(X_\tau = b)),

with :math:`\mathcal{L} = b\,\partial_x + \frac12\sigma^2\partial_x^2`, solved on the
generator :math:`Q` of :class:`gelav.generator.Generator` (the same chain as
:func:`gelav.forward` / :func:`gelav.backward`; order 2 in :math:`h`). With a
``horizon`` the time-bounded versions :math:`E_x[\tau\wedge T]` and
:math:`P_x(X_\tau = b,\ \tau \le T)` are solved by :func:`gelav.backward`, and
:func:`exit_time_distribution` gives the survival function
:math:`P_x(\tau > t)` by the forward solver with absorbing ends.

End points where the diffusion degenerates or that lie on the edge of the
process's state space are classified (Feller) with the scale density
:math:`s'(y) = \exp(-\int^y 2b/\sigma^2)` and speed density
:math:`m = 2/(\sigma^2 s')`: an end that cannot be reached is treated as
reflecting (natural/entrance), and when

.. math:: E_x[\tau] = \int_a^b G(x, y)\,m(y)\,dy, \qquad
          G(x, y) = \frac{(s(x\wedge y) - s(a))(s(b) - s(x\vee y))}{s(b) - s(a)}

diverges (seed 002: :math:`Y = e^{W}` on (0, 1), :math:`dY = \frac12 Y dt + Y dW`),
:func:`exit_time` raises :class:`~gelav.errors.DivergenceError` instead of
returning a large finite number.
"""

from __future__ import annotations

import math
import time as _time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from gelav._validation import MAX_CELLS, check_finite, check_horizon, check_int
from gelav.errors import DivergenceError
from gelav.fd.generator import Generator
from gelav.fd.grid import Grid
from gelav.fd.linalg import solve as tridiagonal_solve
from gelav.pde.backward import Dirichlet, Reflecting, Value, backward
from gelav.processes.protocol import check_process, domain_of, name_of

if TYPE_CHECKING:
    from gelav.processes.protocol import ProcessLike

__all__ = [
    "BoundaryClass",
    "ExitResult",
    "ExitTimeDistribution",
    "classify_boundary",
    "exit_probability",
    "exit_time",
    "exit_time_distribution",
]


# ---------------------------------------------------------------------------
# Feller classification by scale and speed integrals
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class BoundaryClass:
    """Feller classification of one end of an interval.

    Attributes
    ----------
    side : {"lower", "upper"}
    point : float
    singular : bool
        False for a regular interior point (σ > 0, coefficients finite): then the
        end is reachable and the rest is trivially true.
    scale_finite : bool
        :math:`|s(\\text{end})| < \\infty` (the end attracts with positive probability).
    accessible : bool
        The end is reached in finite time with positive probability (regular or exit).
    exit_time_finite : bool
        The contribution of this end to :math:`E[\\tau]` is finite.
    kind : str
        "regular", "exit", "entrance" or "natural".
    """

    side: str
    point: float
    singular: bool
    scale_finite: bool
    accessible: bool
    exit_time_finite: bool
    kind: str


def _singular(process: ProcessLike, x: float, t: float, inward: float) -> bool:
    lo, hi = domain_of(process)
    if x <= lo + 1e-14 * max(1.0, abs(lo)) or x >= hi - 1e-14 * max(1.0, abs(hi)):
        return True
    xs = np.array([x])
    with np.errstate(all="ignore"):
        v = float(np.asarray(process.variance_rate(t, xs))[0])
        d = float(np.asarray(process.drift(t, xs))[0])
    return not (math.isfinite(v) and math.isfinite(d) and v > 0)


def _power_law_class(side: str, point: float, kind: str, ex: Any) -> BoundaryClass:
    r"""The :class:`BoundaryClass` of a power-law end of Feller class ``kind`` (:func:`gelav.fd.singular.feller_kind`):
    :math:`s' \sim d^{-\beta}` (:math:`S` finite iff :math:`\beta < 1`), :math:`m \sim d^{\beta - \alpha}`;
    the end's part of :math:`E[\tau]` is :math:`\Sigma` (finite iff :math:`\alpha < 2`) when :math:`S` is finite,
    else :math:`M` (finite iff :math:`\beta - \alpha > -1`)."""
    scale_finite = ex.beta < 1.0
    exit_finite = ex.alpha < 2.0 - 1e-9 if scale_finite else ex.beta - ex.alpha > -1.0
    return BoundaryClass(side, point, True, scale_finite, kind in ("regular", "exit"), bool(exit_finite), kind)


def classify_boundary(process: ProcessLike, a: float, b: float, *, t: float = 0.0) -> tuple[BoundaryClass, BoundaryClass]:
    r"""Feller classification of the ends of :math:`(a, b)` for ``process`` (coefficients frozen at ``t``).

    ``a`` may be ``-inf`` and ``b`` ``+inf`` where the state space extends there: an
    infinite end is natural (OU, Brownian motion, GBM, CIR), an exit (the process
    explodes in finite time: :math:`dX = X^2dt + dW`) or an entrance (it comes down
    from infinity: :math:`dX = -X^3dt + dW`). Regular ends (σ > 0, finite
    coefficients, inside the state space) are not integrated.

    An end of the state space where the coefficients follow power laws
    (:math:`\sigma^2 \sim d^\alpha`, :math:`2b/\sigma^2 \sim \beta/d`, :math:`d` the distance;
    CIR, GBM, Jacobi, ...) is classified by the package's one Feller test,
    :func:`gelav.fd.singular.end_kinds` (textbook: :math:`S(l, x]`, :math:`M(l, x]`,
    :math:`\Sigma = \int S\,dm`, :math:`N = \int M\,ds` finite or not), so the exit solvers and
    the Fokker–Planck / Feynman–Kac boundary rows agree: GBM's 0 is natural for every
    :math:`\mu, \sigma`. Its end then contributes a finite amount to :math:`E[\tau]` iff
    :math:`\Sigma < \infty` (when :math:`S` is finite) or :math:`M < \infty` (when it is not).
    The other ends (infinite ones, or exponents that cannot be read) are classified by
    the four Feller integrals themselves, :func:`gelav.fd.feller.feller_integrals`
    (scale and speed integrals in logarithms on points geometric towards the end, each
    integral finite when its contribution per decade shrinks geometrically).

    Returns
    -------
    (BoundaryClass, BoundaryClass)
        Lower and upper end.
    """
    check_process(process)
    a, b = _end_point("a", a, -1.0), _end_point("b", b, 1.0)
    if not a < b:
        raise ValueError(f"`a` must be < `b`, got a={a}, b={b}.")
    lo_dom, hi_dom = domain_of(process)
    for name, x, ok in (("a", a, math.isfinite(a) or lo_dom == -math.inf),
                        ("b", b, math.isfinite(b) or hi_dom == math.inf)):
        if not ok:
            raise ValueError(f"`{name}` = {x} is outside the process's state space ({lo_dom:g}, {hi_dom:g}).")
    sing = (not math.isfinite(a) or _singular(process, a, t, 1.0),
            not math.isfinite(b) or _singular(process, b, t, -1.0))
    if not any(sing):
        return (BoundaryClass("lower", a, False, True, True, True, "regular"),
                BoundaryClass("upper", b, False, True, True, True, "regular"))
    from gelav.fd.feller import feller_integrals
    from gelav.fd.singular import end_kinds

    kinds = end_kinds(process, (a, b), t)
    start = _interior_point(a, b)
    out = []
    for side, point, is_sing, power_law in (("lower", a, sing[0], kinds[0]), ("upper", b, sing[1], kinds[1])):
        if not is_sing:
            out.append(BoundaryClass(side, point, False, True, True, True, "regular"))
            continue
        if power_law is not None and math.isfinite(power_law[1].alpha) and math.isfinite(power_law[1].beta):
            out.append(_power_law_class(side, point, power_law[0], power_law[1]))
            continue
        f = feller_integrals(process, point, start, t)
        # E[τ] through this end: Σ when the end attracts (S finite), else M (the Green function is bounded)
        exit_finite = f.sigma_finite if f.scale_finite else f.speed_finite
        out.append(BoundaryClass(side, point, True, f.scale_finite, f.kind in ("regular", "exit"),
                                 bool(exit_finite), f.kind))
    return out[0], out[1]


def _end_point(name: str, x: Any, sign: float) -> float:
    """A finite end, or the infinity on its own side (``a = -inf``, ``b = +inf``)."""
    if isinstance(x, (int, float, np.floating, np.integer)) and not isinstance(x, bool) and x == sign * math.inf:
        return float(x)
    return check_finite(name, x)


def _interior_point(a: float, b: float) -> float:
    """The point the end tests start from: the midpoint, or one unit (of the finite end's size) inside."""
    if math.isfinite(a) and math.isfinite(b):
        return 0.5 * (a + b)
    if math.isfinite(a):
        return a + max(1.0, abs(a))
    if math.isfinite(b):
        return b - max(1.0, abs(b))
    return 0.0


# ---------------------------------------------------------------------------
# Results
# ---------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class ExitResult:
    """A function of the starting point on ``[a, b]`` (mean exit time or hitting probability).

    Attributes
    ----------
    grid : Grid
    values : ndarray
        At the nodes.
    quantity : str
        "mean exit time [years]" or "P(hit upper before lower)".
    boundaries : tuple of BoundaryClass
    diagnostics : dict
    """

    grid: Grid
    values: NDArray[np.float64]
    quantity: str
    process: ProcessLike | None = None
    boundaries: tuple[Any, Any] | None = None
    diagnostics: dict[str, Any] = field(default_factory=dict)

    @property
    def x(self) -> NDArray[np.float64]:
        return self.grid.nodes

    def value(self, x: ArrayLike) -> NDArray[np.float64] | float:
        r"""The value at ``x`` (in ``[a, b]``): the nodal value at a node; between two nodes the solution of
        the cell's own equation :math:`\tfrac12\sigma^2 u'' + b u' = -f` (``f`` = 1 for the mean exit time,
        0 for the probability) with the coefficients frozen at the cell's midpoint and the two nodal values
        as boundary data. Exact for constant coefficients (like the nodal values), :math:`O(h^3)` locally
        otherwise; linear interpolation (error :math:`h^2 u''/8`) was 1.3e-3 off for a BM with drift −2.
        """
        xa = np.asarray(x, dtype=float)
        if not (np.all(xa >= self.grid.lower - 1e-12) and np.all(xa <= self.grid.upper + 1e-12)):  # NaN too
            raise ValueError(f"`x` must lie in [{self.grid.lower:g}, {self.grid.upper:g}].")
        out = np.interp(xa, self.grid.nodes, self.values)
        running = self.diagnostics.get("running")
        if self.process is not None and running is not None:
            out = self._cell_solution(np.clip(xa, self.grid.lower, self.grid.upper), out, float(running))
        return float(out) if out.ndim == 0 else out

    def _cell_solution(self, x: NDArray[np.float64], linear: NDArray[np.float64], f: float) -> NDArray[np.float64]:
        """:meth:`value` between nodes; ``linear`` where a cell's coefficients give no local solution."""
        nodes, u = self.grid.nodes, self.values
        k = np.clip(np.searchsorted(nodes, x, side="right") - 1, 0, nodes.size - 2)
        xl, H = nodes[k], nodes[k + 1] - nodes[k]
        s = x - xl
        mid = xl + 0.5 * H
        t = float(self.diagnostics.get("start", 0.0))
        with np.errstate(all="ignore"):
            a2 = np.asarray(self.process.variance_rate(t, mid), dtype=float)  # type: ignore[union-attr]
            gam = 2.0 * np.asarray(self.process.drift(t, mid), dtype=float) / a2  # type: ignore[union-attr]
            g = 2.0 * f / a2
            gh = gam * H
            # φ = (1 − e^{−γs})/(1 − e^{−γH}), written so that no exponent is positive
            phi = np.where(gam >= 0, np.expm1(-gam * s) / np.expm1(-gh),
                           np.exp(gam * (H - s)) * np.expm1(gam * s) / np.expm1(gh))
            small = np.abs(gh) < 1e-6
            phi = np.where(small, s / H, phi)
            # u = u_k + (Δu + gH/γ)φ − (g/γ)s = u_k + Δu·φ + g(Hφ − s)/γ, and (Hφ − s)/γ → s(H − s)/2 as γ → 0
            psi = np.where(small, 0.5 * s * (H - s), (H * phi - s) / np.where(small, 1.0, gam))
            local = u[k] + (u[k + 1] - u[k]) * phi + g * psi
        good = np.isfinite(local) & (a2 > 0)
        return np.where(good, local, linear)

    __call__ = value

    def plot(self, *, ax: Any = None, exact: Any = None, xlabel: str = "starting point x") -> Any:
        from gelav.plot import new_axes

        fig, ax = new_axes(ax)
        ax.plot(self.grid.nodes, self.values, label="gelav (generator Q)")
        if exact is not None:
            ax.plot(self.grid.nodes, exact(self.grid.nodes), "--", label="closed form")
        ax.set_xlabel(xlabel)
        ax.set_ylabel(self.quantity)
        ax.set_title(f"{self.quantity} of {name_of(self.process)} on "
                     f"[{self.grid.lower:g}, {self.grid.upper:g}]")
        ax.legend()
        return fig


@dataclass(frozen=True, eq=False)
class ExitTimeDistribution:
    r"""Law of the exit time :math:`\tau` from :math:`(a, b)` started at ``x0``, up to the horizon.

    Attributes
    ----------
    times : ndarray
    survival : ndarray
        :math:`P(\tau > t)`.
    exit_lower, exit_upper : ndarray
        :math:`P(\tau \le t,\ X_\tau = a)` and :math:`P(\tau \le t,\ X_\tau = b)`.
    """

    times: NDArray[np.float64]
    survival: NDArray[np.float64]
    exit_lower: NDArray[np.float64]
    exit_upper: NDArray[np.float64]
    x0: float
    a: float
    b: float
    process: ProcessLike | None = None
    diagnostics: dict[str, Any] = field(default_factory=dict)

    def cdf(self, t: ArrayLike) -> NDArray[np.float64] | float:
        r""":math:`P(\tau \le t)` (linear interpolation between saved times)."""
        out = np.interp(np.asarray(t, dtype=float), self.times, 1.0 - self.survival)
        return float(out) if out.ndim == 0 else out

    def pdf(self) -> NDArray[np.float64]:
        r"""Density :math:`-dS/dt` at the saved times (second-order differences)."""
        return -np.gradient(self.survival, self.times, edge_order=2)

    def mean_truncated(self) -> float:
        r""":math:`E[\tau\wedge T] = \int_0^T S(t)\,dt` (trapezoid)."""
        S, t = self.survival, self.times
        return float(np.sum(0.5 * (S[1:] + S[:-1]) * np.diff(t)))

    def quantile(self, q: float) -> float:
        """Smallest saved-time interpolated t with P(τ ≤ t) ≥ q (inf when not reached by the horizon)."""
        F = 1.0 - self.survival
        if q > F[-1]:
            return math.inf
        return float(np.interp(q, np.maximum.accumulate(F), self.times))

    def plot(self, *, ax: Any = None) -> Any:
        from gelav.plot import new_axes

        fig, ax = new_axes(ax)
        ax.plot(self.times, self.survival, label=r"survival $P(\tau > t)$")
        ax.plot(self.times, self.exit_lower, label=f"exited at a = {self.a:g}")
        ax.plot(self.times, self.exit_upper, label=f"exited at b = {self.b:g}")
        ax.set_xlabel("time t [years]")
        ax.set_ylabel("probability")
        ax.set_title(f"Exit time of {name_of(self.process)} from ({self.a:g}, {self.b:g}), x0 = {self.x0:g}")
        ax.legend()
        return fig


# ---------------------------------------------------------------------------
# Solvers
# ---------------------------------------------------------------------------


def _interval_grid(a: float, b: float, grid: Grid | None, n_cells: int, x0: float | None) -> Grid:
    if grid is not None:
        if not isinstance(grid, Grid):
            raise TypeError(f"`grid` must be a gelav.Grid, got {type(grid).__name__}.")
        if abs(grid.lower - a) > 1e-12 * max(1, abs(a)) or abs(grid.upper - b) > 1e-12 * max(1, abs(b)):
            raise ValueError(f"`grid` must span exactly [a, b] = [{a}, {b}], got [{grid.lower}, {grid.upper}].")
        return grid
    n_cells = check_int("n_cells", n_cells, minimum=4, maximum=MAX_CELLS)
    return Grid.uniform(a, b, n_cells)


def _end(kind: str, value: float) -> Dirichlet | Reflecting:
    """The boundary condition of an end of the interval: ``u = value`` where the process is
    absorbed, a wall where it is not."""
    return Dirichlet(value) if kind == "absorbing" else Reflecting()


def _exit_result(g: Grid, values: NDArray[np.float64], what: str, process: ProcessLike,
                 classes: tuple[BoundaryClass, BoundaryClass], lo_kind: str, hi_kind: str, t0: float,
                 running: float, t: float) -> ExitResult:
    """The :class:`ExitResult` of a stationary exit problem with its grid, ends and timing; ``running`` (the
    equation's right-hand side) and the time ``t`` of the coefficients serve :meth:`ExitResult.value`."""
    return ExitResult(g, values, what, process, classes,
                      {"n_nodes": g.n_nodes, "lower": lo_kind, "upper": hi_kind,
                       "seconds": _time.perf_counter() - t0, "running": running, "start": t})


def _check_interval(process: ProcessLike, a: float, b: float) -> tuple[float, float]:
    a, b = check_finite("a", a), check_finite("b", b)
    if not a < b:
        raise ValueError(f"`a` must be < `b`, got a={a}, b={b}.")
    lo, hi = domain_of(process)
    if a < lo - 1e-12 or b > hi + 1e-12:
        raise ValueError(f"The interval [{a:g}, {b:g}] leaves the domain ({lo:g}, {hi:g}) of "
                         f"{name_of(process)}.")
    return a, b


def _sides(classes: tuple[BoundaryClass, BoundaryClass], lower: str, upper: str) -> tuple[str, str]:
    """Chain boundary per side: absorbing unless the user says reflecting or the end is unreachable."""
    out = []
    for cls, user, name in ((classes[0], lower, "lower"), (classes[1], upper, "upper")):
        if user not in ("absorbing", "reflecting"):
            raise ValueError(f"`{name}` must be 'absorbing' or 'reflecting', got {user!r}.")
        out.append("reflecting" if (user == "reflecting" or not cls.accessible) else "absorbing")
    return out[0], out[1]


def _stationary_solve(gen: Generator, rhs: NDArray[np.float64], fixed: dict[int, float]) -> NDArray[np.float64]:
    """Solve (Q y)_i = rhs_i on free nodes, y_i = fixed values on the others (tridiagonal)."""
    B = gen.bands(0.0)
    n = gen.n
    dl, d, du = (v.copy() for v in B.lapack())
    r = rhs.astype(float).copy()
    for i, v in fixed.items():
        i = i % n
        d[i] = 1.0
        if i + 1 < n:
            du[i] = 0.0  # row i, column i+1
        if i - 1 >= 0:
            dl[i - 1] = 0.0  # row i, column i-1
        r[i] = v
    if np.all(d <= 0) and not fixed:
        raise DivergenceError("Both ends are unreachable: the process never leaves the interval.")
    return tridiagonal_solve(dl, d, du, r, overwrite=True)


def _hitting_probability(gen: Generator) -> NDArray[np.float64]:
    r"""The solution of :math:`(Qh)_i = 0` inside, :math:`h_0 = 0`, :math:`h_{n-1} = 1`, by the chain's scale function.

    On the interior the increments obey
    :math:`h_{i+1} - h_i = (q_{i,i-1}/q_{i,i+1})(h_i - h_{i-1})`, so
    :math:`h_i = \sum_{k<i}\Delta_k / \sum_k \Delta_k` with
    :math:`\log\Delta_k = \sum_{j \le k}\log(q_{j,j-1}/q_{j,j+1})`: the same discrete
    answer as the tridiagonal solve, but a sum of positive terms, so a tiny
    probability (:math:`10^{-16}` and below) keeps its relative accuracy instead
    of an absolute rounding error of ~1e-15 (which printed as a negative probability).
    Falls back to the solve where a rate vanishes.
    """
    B = gen.bands(0.0)
    sub, sup = B.sub[1:-1], B.sup[1:-1]
    if not (np.all(sub > 0) and np.all(sup > 0)):
        return _stationary_solve(gen, np.zeros(gen.n), {0: 0.0, -1: 1.0})
    log_d = np.concatenate(([0.0], np.cumsum(np.log(sub) - np.log(sup))))  # log Δ_k, k = 0 .. n-2
    log_d -= log_d.max()
    d = np.exp(log_d)
    h = np.concatenate(([0.0], np.cumsum(d)))
    return h / h[-1]


def exit_time(
    process: ProcessLike,
    a: float,
    b: float,
    *,
    horizon: float | None = None,
    lower: str = "absorbing",
    upper: str = "absorbing",
    grid: Grid | None = None,
    n_cells: int = 400,
    n_steps: int = 200,
    t: float = 0.0,
    check_divergence: bool = True,
) -> ExitResult | Value:
    r"""Expected exit time from :math:`(a, b)` as a function of the start.

    .. math::

        \tfrac12\sigma^2 y'' + b\,y' = -1 \ \text{on}\ (a, b), \qquad y(a) = y(b) = 0,

    solved as :math:`Q y = -1` on the generator (order 2 in the spacing). With
    ``horizon`` :math:`T`, the bounded :math:`E_x[\tau \wedge T]` from
    :func:`gelav.backward` (running reward 1, knock-out at both limits).

    Parameters
    ----------
    process : Process
        Time-homogeneous coefficients are used at time ``t``.
    a, b : float
        Limits (units of the state), ``a < b``.
    horizon : float, optional
        Bound :math:`T` (years); then a :class:`~gelav.backward.Value` over (t, x) is returned.
    lower, upper : {"absorbing", "reflecting"}
        "reflecting" makes a side a wall instead of an exit (unreachable ends are
        always walls).
    grid, n_cells, n_steps :
        Space grid on exactly [a, b] (default ``n_cells`` uniform cells), time steps.
    check_divergence : bool
        Classify singular ends and raise when :math:`E[\tau] = \infty`.

    Returns
    -------
    ExitResult (``horizon=None``) or Value

    Raises
    ------
    DivergenceError
        When :math:`E_x[\tau] = \infty` (an attracting end that is never reached,
        or a natural end whose speed measure has infinite mass), e.g. seed 002's
        :math:`Y = e^W` on (0, 1).

    Examples
    --------
    >>> from gelav import BrownianMotion
    >>> from gelav.exits import exit_time
    >>> round(exit_time(BrownianMotion(0.0, 1.0), -1.0, 1.0).value(0.0), 6)  # (1 - x²)/σ²
    1.0
    """
    t0 = _time.perf_counter()
    a, b = _check_interval(process, a, b)
    classes = classify_boundary(process, a, b, t=t) if check_divergence else (
        BoundaryClass("lower", a, False, True, True, True, "regular"),
        BoundaryClass("upper", b, False, True, True, True, "regular"))
    lo_kind, hi_kind = _sides(classes, lower, upper)
    if horizon is not None:
        horizon = check_horizon("horizon", horizon)
        g = _interval_grid(a, b, grid, n_cells, None)
        return backward(process, 0.0, horizon, running=1.0, grid=g, n_steps=n_steps, start=t,
                        lower=_end(lo_kind, 0.0), upper=_end(hi_kind, 0.0))
    if lo_kind == "reflecting" and hi_kind == "reflecting":
        raise DivergenceError(
            f"E[τ] = ∞: neither end of ({a:g}, {b:g}) can be reached ({classes[0].kind} lower end, "
            f"{classes[1].kind} upper end), so the process never exits.")
    if check_divergence:
        bad = [c for c in classes if not c.exit_time_finite]
        if bad:
            why = []
            for c in bad:
                if c.scale_finite:
                    why.append(f"the {c.side} end {c.point:g} is attracting (finite scale s({c.point:g})) but "
                               f"∫(s - s({c.point:g})) m dy = ∞: it is approached without being reached, so τ = ∞ "
                               "with positive probability")
                else:
                    why.append(f"the {c.side} end {c.point:g} is a {c.kind} boundary (s = ∞ there) whose speed "
                               f"measure has infinite mass near it (∫ m dy = ∞)")
            raise DivergenceError(
                f"The expected exit time of {process!r} from ({a:g}, {b:g}) is infinite: " + "; ".join(why)
                + ". Use `horizon=` for the bounded E[min(τ, T)].")
    g = _interval_grid(a, b, grid, n_cells, None)
    gen = Generator(process, g, lower=lo_kind, upper=hi_kind)
    fixed = {}
    if lo_kind == "absorbing":
        fixed[0] = 0.0
    if hi_kind == "absorbing":
        fixed[-1] = 0.0
    y = _stationary_solve(gen, -np.ones(g.n_nodes), fixed)
    return _exit_result(g, y, "mean exit time [years]", process, classes, lo_kind, hi_kind, t0, 1.0, t)


def exit_probability(
    process: ProcessLike,
    a: float,
    b: float,
    *,
    horizon: float | None = None,
    grid: Grid | None = None,
    n_cells: int = 400,
    n_steps: int = 200,
    t: float = 0.0,
) -> ExitResult | Value:
    r"""Probability of reaching ``b`` before ``a``.

    .. math::

        \tfrac12\sigma^2 h'' + b\,h' = 0, \quad h(a) = 0,\ h(b) = 1
        \qquad\Big(h = \frac{s(x) - s(a)}{s(b) - s(a)}\Big),

    on the generator (order 2). An end that cannot be reached (infinite scale)
    is a wall. With ``horizon``: :math:`P_x(X_\tau = b,\ \tau \le T)` as a
    :class:`~gelav.backward.Value` from :func:`gelav.backward`.

    Examples
    --------
    >>> from gelav import BrownianMotion
    >>> from gelav.exits import exit_probability
    >>> round(exit_probability(BrownianMotion(0.0, 1.0), 0.0, 1.0).value(0.25), 6)
    0.25
    """
    t0 = _time.perf_counter()
    a, b = _check_interval(process, a, b)
    classes = classify_boundary(process, a, b, t=t)
    lo_kind = "absorbing" if (classes[0].accessible or classes[0].scale_finite) else "reflecting"
    hi_kind = "absorbing" if (classes[1].accessible or classes[1].scale_finite) else "reflecting"
    g = _interval_grid(a, b, grid, n_cells, None)
    if horizon is not None:
        horizon = check_horizon("horizon", horizon)
        return backward(process, 0.0, horizon, grid=g, n_steps=n_steps, start=t,
                        lower=_end(lo_kind, 0.0), upper=_end(hi_kind, 1.0))
    if hi_kind == "reflecting":
        vals = np.zeros(g.n_nodes)
    elif lo_kind == "reflecting":
        vals = np.ones(g.n_nodes)
    else:
        gen = Generator(process, g, lower=lo_kind, upper=hi_kind)
        vals = _hitting_probability(gen)
    return _exit_result(g, vals, "P(hit upper before lower)", process, classes, lo_kind, hi_kind, t0, 0.0, t)


def exit_time_distribution(
    process: ProcessLike,
    a: float,
    b: float,
    x0: float,
    horizon: float,
    *,
    lower: str = "absorbing",
    upper: str = "absorbing",
    n_cells: int = 400,
    n_steps: int = 200,
    times: Sequence[float] | None = None,
    start: float = 0.0,
) -> ExitTimeDistribution:
    r"""Survival function :math:`P_{x_0}(\tau > t)` of the exit time from :math:`(a, b)`, :math:`t \le T`.

    The forward (Fokker–Planck) solver with absorbing ends: the mass left in
    the domain is the survival probability, the absorbed masses the
    probabilities of having exited at each side (order 2 in space and time).

    Examples
    --------
    >>> from gelav import BrownianMotion
    >>> from gelav.exits import exit_time_distribution
    >>> d = exit_time_distribution(BrownianMotion(0.0, 1.0), -1.0, 1.0, 0.0, 1.0)
    >>> round(float(d.survival[-1]), 2)
    0.37
    """
    from gelav.pde.forward import forward

    a, b = _check_interval(process, a, b)
    x0 = check_finite("x0", x0)
    if not a < x0 < b:
        raise ValueError(f"`x0` = {x0} must lie strictly inside (a, b) = ({a}, {b}).")
    horizon = check_horizon("horizon", horizon)
    for nm, v in (("lower", lower), ("upper", upper)):
        if v not in ("absorbing", "reflecting"):
            raise ValueError(f"`{nm}` must be 'absorbing' or 'reflecting', got {v!r}.")
    n_steps = check_int("n_steps", n_steps, maximum=MAX_CELLS)
    save = np.linspace(start, start + horizon, n_steps + 1) if times is None else times
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the end law is concentrated near the walls: not a defect here
        d = forward(process, x0, horizon, domain=(a, b), n_cells=n_cells, n_steps=n_steps, times=save,
                    lower=lower, upper=upper, start=start)
    surv = d.masses.sum(axis=1)
    return ExitTimeDistribution(d.times, surv, d.absorbed_lower.copy(), d.absorbed_upper.copy(), x0, a, b,
                                process, dict(d.diagnostics))
