r"""Space and time grids.

Space: a vertex-centred grid of nodes :math:`x_0 < x_1 < \dots < x_N` (uniform or
stretched around a point of interest). Node :math:`i` owns the control volume
between the face midpoints :math:`x_{i\pm 1/2}`; its width is ``volumes[i]``
(half cells at the two ends). Masses live on nodes, so a boundary node can be
an absorbing state sitting exactly on a barrier.

Time: a :class:`TimeGrid` is the list of step end points and, per step, the
implicitness :math:`\theta` (1 = backward Euler, 1/2 = Crank–Nicolson). The
forward and backward solvers walk the same ``TimeGrid`` in opposite directions,
which is what makes their answers dual to rounding.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
from numpy.typing import ArrayLike, NDArray

from gelav._validation import check_finite, check_int, check_positive
from gelav.processes.protocol import ProcessLike, domain_of, gaussian_laws, has_exact_law

__all__ = ["Grid", "TimeGrid", "auto_domain", "grid_for", "log_grid_lower"]


def _anchored(n: int, refine: int, nodes: Sequence[float], lower: float, upper: float,
              to_psi: Callable[[float], float]) -> NDArray[np.float64]:
    """Map values ψ ∈ [0, 1] at the ``n·2^refine + 1`` uniform points ξ: piecewise linear through
    (0, 0), (j/n, ψ(a)) for each anchor a of ``nodes`` (j the nearest base node) and (1, 1)."""
    anchors = sorted({check_finite("nodes", v) for v in nodes})
    if any(not lower < a < upper for a in anchors):
        raise ValueError(f"`nodes` must lie strictly inside ({lower}, {upper}), got {anchors}.")
    xi_a, psi_a, last = [0.0], [0.0], 0
    for a in anchors:
        j = max(last + 1, round(to_psi(a) * n))
        if j >= n:
            raise ValueError(f"n_cells={n} is too small to put all of `nodes`={anchors} on distinct nodes.")
        xi_a.append(j / n)
        psi_a.append(to_psi(a))
        last = j
    xi_a.append(1.0)
    psi_a.append(1.0)
    return np.interp(np.linspace(0.0, 1.0, n * 2**refine + 1), xi_a, psi_a)


def _pin(x: NDArray[np.float64], lower: float, upper: float, nodes: Sequence[float]) -> NDArray[np.float64]:
    """Put the ends and the anchors exactly on the nodes the map sent them to (rounding)."""
    x[0], x[-1] = lower, upper
    for a in nodes:
        i = int(np.argmin(np.abs(x - a)))
        x[i] = a
    return x


@dataclass(frozen=True, eq=False)
class Grid:
    """Nodes of a one-dimensional vertex-centred grid.

    Parameters
    ----------
    nodes : array_like
        Strictly increasing, finite node positions (at least 3).

    Attributes
    ----------
    nodes : ndarray, shape (N+1,)
    faces : ndarray, shape (N+2,)
        Control-volume edges: the two ends, then midpoints between nodes.
    volumes : ndarray, shape (N+1,)
        Control-volume widths (sum to the domain length).
    spacing : ndarray, shape (N,)
        Distances :math:`h_{i+1/2} = x_{i+1} - x_i`.
    """

    nodes: NDArray[np.float64]
    faces: NDArray[np.float64] = field(init=False, repr=False)
    volumes: NDArray[np.float64] = field(init=False, repr=False)
    spacing: NDArray[np.float64] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        x = np.asarray(self.nodes, dtype=float)
        if x.ndim != 1 or x.size < 3:
            raise ValueError(f"`nodes` must be a 1-D array of at least 3 points, got shape {x.shape}.")
        h = x[1:] - x[:-1]
        # finite ends and positive steps make every node finite (NaN and inf fail one of the two)
        if not (math.isfinite(x[0]) and math.isfinite(x[-1]) and (h > 0).all()):
            if not np.all(np.isfinite(x)):
                raise ValueError("`nodes` must be finite.")
            i = int(np.argmin(h))
            raise ValueError(f"`nodes` must be strictly increasing; nodes[{i}]={x[i]} >= nodes[{i + 1}]={x[i + 1]}.")
        x.setflags(write=False)
        faces = np.empty(x.size + 1)
        faces[0], faces[-1] = x[0], x[-1]
        # halves first: the same numbers (halving is exact) without overflow for nodes near ±1.8e308
        np.add(0.5 * x[1:], 0.5 * x[:-1], out=faces[1:-1])
        vol = faces[1:] - faces[:-1]
        for a in (faces, vol, h):
            a.setflags(write=False)
        object.__setattr__(self, "nodes", x)
        object.__setattr__(self, "faces", faces)
        object.__setattr__(self, "volumes", vol)
        object.__setattr__(self, "spacing", h)

    # -- constructors -------------------------------------------------------
    @classmethod
    def uniform(cls, lower: float, upper: float, n_cells: int) -> Grid:
        """``n_cells`` equal intervals on ``[lower, upper]`` (``n_cells + 1`` nodes)."""
        lower, upper = check_finite("lower", lower), check_finite("upper", upper)
        n = check_int("n_cells", n_cells, minimum=2)
        if not lower < upper:
            raise ValueError(f"`lower` must be < `upper`, got {lower} and {upper}.")
        return cls(np.linspace(lower, upper, n + 1))

    @classmethod
    def stretched(
        cls, lower: float, upper: float, n_cells: int, *, center: float, intensity: float = 3.0
    ) -> Grid:
        r"""Nodes concentrated around ``center`` by a sinh map.

        :math:`x(\xi) = c + \alpha \sinh(\beta\xi + \gamma)` with :math:`\xi` uniform on
        [0, 1], :math:`\alpha = (\text{upper} - \text{lower})/(2\,\text{intensity})`-ish
        scaling chosen so the end points are hit exactly. ``intensity`` is the ratio
        of the largest to the smallest spacing, roughly; 1 gives a nearly uniform grid.
        """
        lower, upper = check_finite("lower", lower), check_finite("upper", upper)
        center = check_finite("center", center)
        n = check_int("n_cells", n_cells, minimum=2)
        intensity = check_positive("intensity", intensity)
        if not lower < center < upper:
            raise ValueError(f"`center` must lie strictly inside ({lower}, {upper}), got {center}.")
        # alpha sets the smallest spacing near the centre: width / intensity.
        alpha = (upper - lower) / (2.0 * intensity)
        a = math.asinh((lower - center) / alpha)
        b = math.asinh((upper - center) / alpha)
        xi = np.linspace(0.0, 1.0, n + 1)
        x = center + alpha * np.sinh(a + (b - a) * xi)
        x[0], x[-1] = lower, upper
        return cls(x)

    @classmethod
    def aligned(cls, lower: float, upper: float, n_cells: int, *, node: float) -> Grid:
        """A uniform grid of about ``n_cells`` intervals with ``node`` exactly on a node.

        The end points move outwards by less than one spacing so the mesh stays
        uniform and contains ``node``.
        """
        lower, upper = check_finite("lower", lower), check_finite("upper", upper)
        node = check_finite("node", node)
        n = check_int("n_cells", n_cells, minimum=2)
        if not lower <= node <= upper:
            raise ValueError(f"`node` = {node} must lie in [{lower}, {upper}].")
        h = (upper - lower) / n
        k_lo = math.ceil((node - lower) / h - 1e-9)
        k_hi = math.ceil((upper - node) / h - 1e-9)
        return cls(np.asarray(node + h * np.arange(-k_lo, k_hi + 1), dtype=np.float64))

    @classmethod
    def graded(
        cls,
        lower: float,
        upper: float,
        n_cells: int,
        *,
        ends: str = "lower",
        power: float = 2.0,
        nodes: Sequence[float] = (),
        refine: int = 0,
    ) -> Grid:
        r"""Nodes graded towards a singular end (or both): :math:`x = L + W\,\psi^p` near it.

        With :math:`\xi` uniform on [0, 1], the map is :math:`\psi(\xi)` piecewise
        linear through the anchors (so each point of ``nodes`` is a node) and

        .. math:: x = L + W\psi^p \ (\text{ends="lower"}), \quad
                  x = U - W(1-\psi)^p \ (\text{"upper"}), \quad
                  x = L + W\frac{\psi^p}{\psi^p + (1-\psi)^p} \ (\text{"both"}),

        :math:`W = U - L`. The spacing near the end is :math:`\sim W n^{-p}`, which
        resolves a density :math:`\sim (x-L)^{\nu-1}` (CIR without the Feller
        condition): the scale–speed chain of :mod:`gelav.fd.singular` is second
        order on it.

        Parameters
        ----------
        lower, upper : float
            The interval.
        n_cells : int
            Cells of the base grid (>= 2).
        ends : {"lower", "upper", "both"}
            The graded end(s).
        power : float
            :math:`p \ge 1` (default 2; 1 is uniform).
        nodes : sequence of float
            Points strictly inside that must be nodes (start, threshold).
        refine : int
            Halve every cell ``refine`` times, keeping the map and the anchors of the
            base grid: ``refine = 0, 1, 2`` give nested grids of ``n, 2n, 4n`` cells
            whose answers Richardson extrapolation can combine.
        """
        lower, upper = check_finite("lower", lower), check_finite("upper", upper)
        n = check_int("n_cells", n_cells, minimum=2)
        k = check_int("refine", refine, minimum=0)
        p = check_positive("power", power)
        if p < 1:
            raise ValueError(f"`power` must be >= 1, got {power}.")
        if ends not in ("lower", "upper", "both"):
            raise ValueError(f"`ends` must be 'lower', 'upper' or 'both', got {ends!r}.")
        if not lower < upper:
            raise ValueError(f"`lower` must be < `upper`, got {lower} and {upper}.")
        width = upper - lower

        def to_psi(x: float) -> float:
            r = (x - lower) / width
            if ends == "lower":
                return float(r ** (1.0 / p))
            if ends == "upper":
                return float(1.0 - (1.0 - r) ** (1.0 / p))
            q = (r / (1.0 - r)) ** (1.0 / p)
            return float(q / (1.0 + q))

        psi = _anchored(n, k, nodes, lower, upper, to_psi)
        if ends == "lower":
            x = lower + width * psi**p
        elif ends == "upper":
            x = upper - width * (1.0 - psi) ** p
        else:
            x = lower + width * psi**p / (psi**p + (1.0 - psi) ** p)
        return cls(_pin(x, lower, upper, nodes))

    @classmethod
    def logarithmic(
        cls,
        lower: float,
        upper: float,
        n_cells: int,
        *,
        origin: float = 0.0,
        nodes: Sequence[float] = (),
        refine: int = 0,
    ) -> Grid:
        r"""Nodes uniform in :math:`\ln(x - \text{origin})` on ``[lower, upper]`` (``origin < lower``).

        The grid of a natural end where :math:`\sigma^2 \sim (x - \text{origin})^2` (GBM at 0): the
        law spreads over decades and a uniform grid cannot resolve it near the end. ``nodes``
        and ``refine`` as in :meth:`graded` (anchors on nodes, nested refinement).
        """
        lower, upper = check_finite("lower", lower), check_finite("upper", upper)
        origin = check_finite("origin", origin)
        n = check_int("n_cells", n_cells, minimum=2)
        k = check_int("refine", refine, minimum=0)
        if not origin < lower < upper:
            raise ValueError(f"Need `origin` < `lower` < `upper`, got {origin}, {lower}, {upper}.")
        a, b = math.log(lower - origin), math.log(upper - origin)
        psi = _anchored(n, k, nodes, lower, upper, lambda x: (math.log(x - origin) - a) / (b - a))
        return cls(_pin(origin + np.exp(a + (b - a) * psi), lower, upper, nodes))

    # -- queries -----------------------------------------------------------
    @property
    def n_nodes(self) -> int:
        return int(self.nodes.size)

    @property
    def lower(self) -> float:
        return float(self.nodes[0])

    @property
    def upper(self) -> float:
        return float(self.nodes[-1])

    @property
    def max_spacing(self) -> float:
        return float(self.spacing.max())

    def point_mass(self, x0: float) -> NDArray[np.float64]:
        """Node masses of a unit point mass at ``x0``.

        The mass is split linearly between the two nodes around ``x0``, which
        keeps total mass and mean exact; this is the discrete Dirac whose
        pairing with a nodal function is linear interpolation, so
        ``point_mass(x0) @ u`` is exactly the interpolated value of ``u`` at ``x0``.
        """
        x0 = check_finite("x0", x0)
        x = self.nodes
        if not x[0] <= x0 <= x[-1]:
            raise ValueError(f"`x0` = {x0} lies outside the grid [{x[0]}, {x[-1]}].")
        m = np.zeros_like(x)
        j = int(np.clip(np.searchsorted(x, x0, side="right") - 1, 0, x.size - 2))
        w = (x0 - x[j]) / (x[j + 1] - x[j])
        m[j] += 1.0 - w
        m[j + 1] += w
        return m

    def cell_masses(self, pdf: ArrayLike | None = None, *, cdf: object | None = None) -> NDArray[np.float64]:
        """Node masses from a density: exact control-volume integrals when ``cdf`` is given.

        Parameters
        ----------
        pdf : array_like or callable, optional
            Density values at the nodes (or a callable of x); masses are
            ``pdf * volumes`` (midpoint rule).
        cdf : callable, optional
            Cumulative distribution function; masses are ``cdf(face_{i+1}) - cdf(face_i)``
            with the mass beyond the ends lumped into the end nodes.
        """
        if cdf is not None:
            F = np.asarray(cdf(self.faces), dtype=np.float64)  # type: ignore[operator]
            m = np.diff(F)
            m[0] += F[0]
            m[-1] += 1.0 - F[-1]
            return m
        if pdf is None:
            raise ValueError("Give `pdf` or `cdf`.")
        vals = pdf(self.nodes) if callable(pdf) else np.asarray(pdf, dtype=float)
        vals = np.asarray(vals, dtype=float)
        if vals.shape != self.nodes.shape:
            raise ValueError(f"`pdf` must have shape {self.nodes.shape}, got {vals.shape}.")
        return vals * self.volumes

    def __repr__(self) -> str:
        return f"Grid({self.n_nodes} nodes on [{self.lower:g}, {self.upper:g}], max h={self.max_spacing:.3g})"


@dataclass(frozen=True, eq=False)
class TimeGrid:
    r"""Step end points :math:`t_0 < \dots < t_M` with an implicitness per step.

    Step ``n`` goes from ``times[n]`` to ``times[n+1]`` with the θ-scheme
    :math:`(I - \theta\Delta t A)\,u_n = (I + (1-\theta)\Delta t A)\,u_{n+1}`
    (backward) and its transpose (forward), where :math:`A` is the generator
    at the step's midpoint. ``theta = 1`` is backward Euler, ``1/2`` Crank–Nicolson.

    Use :meth:`build` for the usual grid: uniform steps, the requested output
    times hit exactly, and Rannacher damping (``damping_steps`` backward-Euler
    half steps) at both ends so a point mass (forward) and a kinked payoff
    (backward) both keep second order.

    ``schemes`` (optional) names, per step, a scheme of the registry
    :data:`gelav.fd.schemes.SCHEMES` for grids built for a scheme that is not a
    θ-scheme (``None``: every step is the θ-step with its ``theta``; on steps
    of another scheme ``theta`` is unused).
    """

    times: NDArray[np.float64]
    theta: NDArray[np.float64]
    schemes: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        t = np.asarray(self.times, dtype=float)
        th = np.asarray(self.theta, dtype=float)
        if t.ndim != 1 or t.size < 2:
            raise ValueError("`times` must hold at least two points.")
        if not (np.isfinite(t).all() and (t[1:] > t[:-1]).all()):
            raise ValueError("`times` must be finite and strictly increasing.")
        if th.shape != (t.size - 1,):
            raise ValueError(f"`theta` must have one entry per step ({t.size - 1}), got shape {th.shape}.")
        if ((th < 0.5) | (th > 1.0)).any():
            raise ValueError("`theta` must lie in [0.5, 1] (A-stable θ-schemes only).")
        if self.schemes is not None:
            sch = tuple(str(v) for v in self.schemes)
            if len(sch) != t.size - 1:
                raise ValueError(f"`schemes` must name one scheme per step ({t.size - 1}), got {len(sch)}.")
            object.__setattr__(self, "schemes", sch)
        t.setflags(write=False)
        th.setflags(write=False)
        object.__setattr__(self, "times", t)
        object.__setattr__(self, "theta", th)

    def step_scheme(self, n: int) -> str | None:
        """Name of the scheme of step ``n`` (``None``: the θ-step with ``theta[n]``)."""
        return None if self.schemes is None else self.schemes[n]

    @classmethod
    def build(
        cls,
        horizon: float,
        n_steps: int,
        *,
        start: float = 0.0,
        include: Sequence[float] | ArrayLike = (),
        scheme: str = "cn",
        damping_steps: int = 4,
    ) -> TimeGrid:
        """Uniform steps on ``[start, start + horizon]`` that land on every time in ``include``.

        Parameters
        ----------
        horizon : float
            Length of the time interval, > 0 (years).
        n_steps : int
            Number of regular steps (before damping half steps are added).
        include : sequence of float
            Times that must be grid points (output or exercise dates).
        scheme : str
            A name in :data:`gelav.fd.schemes.SCHEMES`: ``"cn"``: Crank–Nicolson
            with Rannacher damping at both ends (order 2); ``"euler"``: backward
            Euler throughout (order 1, unconditionally positive); ``"expm"``: exact in time (the
            steps are then ``include`` alone, :class:`gelav.fd.schemes.Exponential`); or a registered one.
        damping_steps : int
            Number of backward-Euler half steps replacing the first and last
            ``damping_steps // 2`` steps of the Crank–Nicolson scheme (default 4, i.e.
            two full steps at each end split into four implicit half steps, which
            damps the stiff modes of a point mass or kinked payoff by ~(Δt λ/2)⁻⁴).
        """
        horizon = check_positive("horizon", horizon)
        start = check_finite("start", start)
        n = check_int("n_steps", n_steps, minimum=1)
        from gelav.fd.schemes import get_scheme, is_exact

        sch = get_scheme(scheme)
        end = start + horizon
        # a scheme exact in time needs no steps between the times it must land on
        base = np.array([start, end]) if is_exact(sch) else np.linspace(start, end, n + 1)
        dt = horizon / n
        extra = np.asarray(list(np.atleast_1d(np.asarray(include, dtype=float))), dtype=float)
        if not np.all(np.isfinite(extra)):  # NaN was silently dropped
            raise ValueError(f"Times in `include` must be finite, got {extra.tolist()}.")
        if extra.size and (np.any(extra < start - 1e-12 * max(1.0, abs(end))) or np.any(extra > end + 1e-12 * max(1.0, abs(end)))):
            raise ValueError(f"Times in `include` must lie in [{start}, {end}], got {extra.tolist()}.")
        d = max(0, int(damping_steps))
        # The first and last k steps are each split into two backward-Euler half steps.
        k = min(max(1, d // 2), max(1, n // 4)) if (sch.damped and d > 0) else 0
        if k:
            halves = [start + 0.5 * dt * j for j in range(1, 2 * k)] + [end - 0.5 * dt * j for j in range(1, 2 * k)]
            base = np.concatenate((base, halves))
        t = np.unique(np.concatenate((base, extra)))
        # merge points closer than a tiny fraction of a step (rounding of `include`)
        keep = np.concatenate(([True], np.diff(t) > 1e-9 * dt))
        t = t[keep]
        t[0], t[-1] = start, end
        theta = np.full(t.size - 1, 0.5 if sch.theta is None else sch.theta)
        damp = np.zeros(t.size - 1, dtype=bool)
        if k:
            mid = 0.5 * (t[1:] + t[:-1])
            damp = (mid < start + k * dt - 1e-12 * dt) | (mid > end - k * dt + 1e-12 * dt)
            theta[damp] = 1.0
        if sch.theta is None:  # not a θ-scheme: name it per step (the damping steps are backward Euler)
            return cls(t, theta, tuple("euler" if dm else sch.name for dm in damp))
        return cls(t, theta)

    @classmethod
    def for_run(
        cls,
        horizon: float,
        n_steps: int,
        *,
        start: float = 0.0,
        times: Sequence[float] | ArrayLike | None = None,
        scheme: str = "cn",
        damping_steps: int = 4,
    ) -> tuple[TimeGrid, NDArray[np.float64]]:
        """The default grid of a solver run and the times it saves.

        Without ``times``, about 50 evenly spaced step end points (every
        ``n_steps // 50``-th step, plus the end) are saved; otherwise ``times`` plus
        the two ends. All saved times are grid points. The forward and backward
        solvers both use this, so their default grids are identical (duality).
        """
        horizon = check_positive("horizon", horizon)
        n = check_int("n_steps", n_steps, minimum=1)
        end = start + horizon
        if times is None:
            stride = max(1, n // 50)
            save_t = np.unique(np.concatenate((start + horizon / n * np.arange(0, n + 1, stride), [end])))
        else:
            save_t = np.unique(np.concatenate(([start, end], np.asarray(times, dtype=float).ravel())))
        tg = cls.build(horizon, n, start=start, include=save_t, scheme=scheme, damping_steps=damping_steps)
        return tg, save_t

    @property
    def n_steps(self) -> int:
        return int(self.times.size - 1)

    @property
    def start(self) -> float:
        return float(self.times[0])

    @property
    def end(self) -> float:
        return float(self.times[-1])

    def indices(self, ts: ArrayLike) -> NDArray[np.int64]:
        """Sorted unique indices of the grid times ``ts`` (each must be a grid point, to rounding)."""
        t = np.atleast_1d(np.asarray(ts, dtype=float))
        j = np.clip(np.searchsorted(self.times, t), 1, self.times.size - 1)
        i = np.where(np.abs(self.times[j - 1] - t) <= np.abs(self.times[j] - t), j - 1, j)
        bad = np.abs(self.times[i] - t) > 1e-9 * np.maximum(1.0, np.abs(t))
        if np.any(bad):
            raise ValueError(f"t = {t[bad][0]} is not a point of this time grid.")
        return np.unique(i)

    def index(self, t: float) -> int:
        """Index of grid time ``t`` (which must be a grid point, to rounding)."""
        i = int(np.argmin(np.abs(self.times - t)))
        if abs(self.times[i] - t) > 1e-9 * max(1.0, abs(t)):
            raise ValueError(f"t = {t} is not a point of this time grid.")
        return i

    def __repr__(self) -> str:
        return f"TimeGrid({self.n_steps} steps on [{self.start:g}, {self.end:g}])"


def log_grid_lower(process: ProcessLike, x0s: Sequence[float], horizon: float, lower: float, upper: float, *,
                   tail: float = 1e-10, start: float = 0.0) -> float | None:
    r"""The lower end of a logarithmic grid towards a GBM-like natural end ``lower`` of the state space
    (:func:`gelav.fd.singular.log_scale_ends`), or ``None`` when ``[lower, upper]`` does not reach one.

    Half the lowest ``tail/2`` quantile over ``[start, start + horizon]`` of the path from the points
    ``x0s``: from the exact law when the process has one, else from the linearised mean and variance of
    :math:`Y = \ln(X - L)` (drift :math:`b/d - \sigma^2/(2d^2)`, variance rate :math:`\sigma^2/d^2`,
    :math:`d = X - L`) widened by 1.5 as in :func:`auto_domain`.
    """
    from gelav.fd.singular import log_scale_ends, singular_ends

    if not log_scale_ends(process, (lower, upper))[0] or singular_ends(process, (lower, upper))[1]:
        return None
    inside = [float(v) for v in x0s if lower < float(v) < upper]
    if not inside:
        return None
    low = min(inside)
    from statistics import NormalDist  # lazy: it imports fractions and decimal (~2 ms of start-up)

    z = -NormalDist().inv_cdf(tail / 2)
    times = start + horizon * np.linspace(0.05, 1.0, 20)
    for xs in sorted({min(inside), max(inside)}):
        if has_exact_law(process):
            for t in times:
                low = min(low, float(process.transition(xs, float(t), start).ppf(tail / 2)))  # type: ignore[attr-defined]
            continue
        m, v, n_sub = math.log(xs - lower), 0.0, 400
        dt = horizon / n_sub
        for k in range(n_sub):
            t = start + k * dt
            d = math.exp(m)
            xm = np.array([lower + d])
            a = float(np.asarray(process.variance_rate(t, xm)).ravel()[0])  # type: ignore[attr-defined]
            b = float(np.asarray(process.drift(t, xm)).ravel()[0])  # type: ignore[attr-defined]
            m, v = m + dt * (b / d - 0.5 * a / d**2), v + dt * a / d**2
            low = min(low, lower + math.exp(m - 1.5 * z * math.sqrt(v)))
    low = lower + 0.5 * (low - lower)
    return low if low > lower else None


def grid_for(initial: object, lower: float, upper: float, n_cells: int, *, process: ProcessLike | None = None,
             horizon: float | None = None, tail: float = 1e-10, start: float = 0.0,
             include: Sequence[float] = ()) -> Grid:
    r"""Uniform grid on ``[lower, upper]``; a point start ``initial`` is put on a node.

    The ends stay where they are (they may be barriers), so the spacing next
    to them can be slightly smaller. With ``process``, an end of the interval that
    is a singular end of its state space where the density is not smooth
    (:func:`gelav.fd.singular.graded_ends`: CIR with :math:`2\kappa\theta/\sigma^2 < 3`,
    Jacobi) gets a grid graded towards it (:meth:`Grid.graded`, power 2), on which the
    scale–speed chain there is second order.

    With ``horizon`` as well, a ``lower`` that is a GBM-like natural end (:func:`log_grid_lower`:
    :math:`\sigma^2 \sim (x - L)^2`, the law spreads over decades towards it) gives a grid uniform in
    :math:`\ln(x - L)` (:meth:`Grid.logarithmic`) from below the law's ``tail/2`` quantile, with the
    start and the ``include`` points on nodes (a uniform grid there put 0.0026 for 0.309 on
    ``P(X_1 < 0.05)`` of a GBM with σ = 2).
    """
    point = isinstance(initial, (int, float, np.integer, np.floating)) and lower < float(initial) < upper
    if process is not None and horizon is not None and point:
        low = log_grid_lower(process, [float(initial)], horizon, lower, upper, tail=tail,  # type: ignore[arg-type]
                             start=start)
        if low is not None:
            anchors = sorted({float(v) for v in (initial, *include) if low < float(v) < upper})  # type: ignore[arg-type]
            n = n_cells
            for _ in range(8):  # anchors close together need more cells to sit on distinct nodes
                try:
                    return Grid.logarithmic(low, upper, n, origin=lower, nodes=anchors)
                except ValueError:
                    n *= 2
    if process is not None:
        from gelav.fd.singular import graded_ends

        sing = graded_ends(process, (lower, upper))
        if any(sing):
            ends = "both" if all(sing) else ("lower" if sing[0] else "upper")
            return Grid.graded(lower, upper, n_cells, ends=ends, nodes=[float(initial)] if point else [])  # type: ignore[arg-type]
    if point:
        grid = Grid.aligned(lower, upper, n_cells, node=float(initial))  # type: ignore[arg-type]
        if grid.lower < lower or grid.upper > upper:
            grid = Grid(np.unique(np.clip(grid.nodes, lower, upper)))
        return grid
    return Grid.uniform(lower, upper, n_cells)


#: the sampled times of :func:`auto_domain`, as fractions of the horizon: 40 uniform ones and, before the
#: first, 16 geometric ones down to 1e-4 (a law's upper or lower quantile may peak early: CIR(2, 0.1, 0.05)
#: from 0.2 reaches 0.228 near t = 0.1, and over 30 years the uniform samples, from 0.75 on, gave 0.2029:
#: a reflecting wall 0.003 above the start and a bond price 100 times further off than its estimate)
_FRACTIONS = np.concatenate((np.geomspace(1e-4, 1.0 / 40, 17)[:-1], np.linspace(0.0, 1.0, 41)[1:]))
_FRACTIONS.setflags(write=False)


@lru_cache(maxsize=16)
def _tail_quantile(tail: float) -> float:
    """The standard normal quantile :math:`z` with P(|Z| > z) = ``tail`` (a pure function of it: cached).

    stdlib: keeps SciPy's special functions off the import path; below 1e-12 the lower quantile
    (1 - tail/2 rounds to 1 for tail < 2e-16: deep-tail questions need such tails)."""
    from statistics import NormalDist  # lazy: it imports fractions and decimal (~2 ms of start-up)

    return NormalDist().inv_cdf(1.0 - tail / 2) if tail > 1e-12 else -NormalDist().inv_cdf(tail / 2)


def auto_domain(
    process: ProcessLike,
    x0: float | ArrayLike,
    horizon: float,
    *,
    tail: float = 1e-10,
    start: float = 0.0,
    include: Sequence[float] = (),
) -> tuple[float, float]:
    r"""An interval that holds all but ``tail`` of the mass over ``[start, start + horizon]``.

    With an exact transition law, the union over sampled times (40 uniform in the horizon and 16
    geometric ones from :math:`10^{-4}T` to :math:`T/40`, where a quantile may peak) of the
    ``tail/2`` and ``1 - tail/2`` quantiles; otherwise a moment bound from the
    linearised mean and variance ODEs

    .. math:: m' = b(t, m), \qquad v' = 2\,\partial_x b(t, m)\,v + a(t, m),

    widened by the Gaussian quantile of ``tail`` and a safety factor of 1.5.
    The result is clipped to the process's ``domain``. Callers should still
    check the mass that reaches the boundary (the solvers warn).

    Parameters
    ----------
    process : Process
    x0 : float or array_like
        Starting point(s); an array is read as a set of points to cover.
    horizon : float
    tail : float
        Probability allowed outside, default 1e-10.
    include : sequence of float
        Points that must lie inside (thresholds, barriers).
    """
    horizon = check_positive("horizon", horizon)
    tail = check_positive("tail", tail)
    if tail >= 0.5:
        raise ValueError(f"`tail` must be < 0.5, got {tail}.")
    if isinstance(x0, (float, int)) and not isinstance(x0, bool):  # one start (the usual case: no arrays)
        if not math.isfinite(x0):
            raise ValueError("`x0` must be finite.")
        lo = hi = float(x0)
        starts = [lo]
    else:
        x0s = np.atleast_1d(np.asarray(x0, dtype=float))
        if not np.all(np.isfinite(x0s)):
            raise ValueError("`x0` must be finite.")
        lo, hi = float(np.min(x0s)), float(np.max(x0s))
        starts = sorted({lo, hi})
    z = _tail_quantile(tail)
    lo_dom, hi_dom = domain_of(process)
    times = start + horizon * _FRACTIONS
    has_law = has_exact_law(process)
    for xs in starts:
        if has_law:
            normal = gaussian_laws(process, float(xs), times, start)
            if normal is not None:
                # Gaussian laws: quantiles from the moments, without freezing 40
                # SciPy distributions (about 0.5 ms each).
                loc, scale = normal
                lo = min(lo, float((loc - z * scale).min()))
                hi = max(hi, float((loc + z * scale).max()))
                continue
            for t in times:
                d = process.transition(float(xs), float(t), start)  # type: ignore[attr-defined]
                lo = min(lo, float(d.ppf(tail / 2)))
                hi = max(hi, float(d.isf(tail / 2)))
        else:
            m, v = float(xs), 0.0
            n_sub = 400
            dt = horizon / n_sub
            for k in range(n_sub):
                t = start + k * dt
                xm = np.array([m - 1e-5, m, m + 1e-5])
                b = process.drift(t, xm)  # type: ignore[attr-defined]
                a = float(process.variance_rate(t, xm)[1])  # type: ignore[attr-defined]
                db = (b[2] - b[0]) / 2e-5
                m = m + dt * float(b[1])
                v = max(v + dt * (2 * db * v + a), 0.0)
                s = 1.5 * z * math.sqrt(v)
                lo, hi = min(lo, m - s), max(hi, m + s)
    for p in include:
        lo, hi = min(lo, float(p)), max(hi, float(p))
    width = hi - lo
    if width <= 0:
        width = 1.0
    lo, hi = lo - 0.02 * width, hi + 0.02 * width
    lo, hi = max(lo, lo_dom), min(hi, hi_dom)
    if not (math.isfinite(lo) and math.isfinite(hi)) or not lo < hi:
        raise ValueError(
            f"Could not find a finite domain holding the mass (got [{lo}, {hi}]); pass `grid=` explicitly."
        )
    return lo, hi
