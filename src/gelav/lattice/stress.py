"""Stress probabilities by Richardson-extrapolated lattices, and convergence studies.

Part of :mod:`gelav.lattice` (see the package docstring for the methods).
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

import numpy as np
from numpy.typing import ArrayLike, NDArray

from gelav._validation import MAX_CELLS, check_finite, check_horizon, check_int, check_positive
from gelav.errors import AccuracyWarning
from gelav.fd.grid import Grid, auto_domain
from gelav.fd.singular import singular_ends
from gelav.lattice.counting import fit_order, lattice_cdf
from gelav.lattice.generator_lattice import GeneratorLattice
from gelav.lattice.tree import TREE_KINDS, TrinomialTree, tree_family
from gelav.processes.protocol import domain_of, has_exact_law, name_of

if TYPE_CHECKING:
    from gelav.processes.protocol import ProcessLike


# =============================================================================
# stress probabilities
# =============================================================================
@dataclass(frozen=True)
class StressEstimate:
    r"""A lattice probability with its error estimate (iterates as ``(probability, error_estimate)``).

    Attributes
    ----------
    probability : float
        Richardson-extrapolated value :math:`p_{2N} + (p_{2N} - p_N)/(2^q - 1)`.
    error_estimate : float
        :math:`|p_{2N} - p_N|/(2^q - 1)`, the estimated error of the finer
        lattice value :math:`p_{2N}`; a conservative bound for ``probability``.
        On grids graded towards a singular end of the state space (CIR at 0)
        the cdf is read piecewise linearly between the faces (the threshold is a
        node), which keeps the error a clean :math:`C/N^2`.
    values : tuple of float
        :math:`(p_N, p_{2N})`.
    sizes : tuple of int
        :math:`(N, 2N)`: steps of the tree, or cells of the generator lattice.
    method : str
        ``"tree"`` or ``"generator"``.
    order : float
        Order :math:`q` assumed in the extrapolation (1 in steps for the tree,
        2 in cells for the generator lattice).
    elapsed : float
    """

    probability: float
    error_estimate: float
    values: tuple[float, float]
    sizes: tuple[int, int]
    method: str
    order: float
    elapsed: float = field(default=0.0, compare=False)

    def __iter__(self) -> Iterator[float]:
        return iter((self.probability, self.error_estimate))


def _generator_grid(process: ProcessLike, x0: float, threshold: float, n_cells: int, domain: tuple[float, float],
                    refine: int = 0) -> Grid:
    """The generator lattice's grid: uniform with ``x0`` on a node, or, at a singular end of the state space,
    graded towards it with ``x0`` and the threshold on nodes (refined ``refine`` times, nested)."""
    lo, hi = domain
    sing = singular_ends(process, domain)
    if any(sing):
        ends = "both" if all(sing) else ("lower" if sing[0] else "upper")
        anchors = sorted({v for v in (x0, threshold) if lo < v < hi})
        return Grid.graded(lo, hi, max(n_cells, 4 * (len(anchors) + 1)), ends=ends, nodes=anchors, refine=refine)
    grid = Grid.aligned(lo, hi, n_cells * 2**refine, node=x0)
    d_lo, d_hi = domain_of(process)
    if grid.lower < d_lo or grid.upper > d_hi:  # keep the aligned nodes that lie in the domain
        x = grid.nodes
        grid = Grid(x[(x >= d_lo) & (x <= d_hi)])
    return grid


#: the generator lattice leaves itself out where the threshold lies closer to a singular end than this
#: many first cells of the coarser graded grid (its answer and estimate cannot be trusted there)
END_CELLS = 2.0


def _check_threshold_resolved(process: ProcessLike, threshold: float, n_cells: int,
                              domain: tuple[float, float]) -> None:
    r"""Raise :class:`gelav.stress.MethodOmitted` where the threshold lies within :data:`END_CELLS` first cells
    of the coarser graded grid from a singular end of the state space.

    There (CIR at 0 with or without the Feller condition, Jacobi at 0 or 1) the threshold node is followed
    by a cell thousands of times wider than its own, whose scale and speed integrals 8-point Gauss–Legendre
    does not resolve: the two lattices agree with each other and not with the law (CIR(0.2, 0.1, 0.5),
    x0 = 0.05, T = 1, c = 1e-9: 0.0812 "~ 5.1e-3" for 0.0385). The decision reads only the Feller class of
    the end (:func:`gelav.fd.singular.singular_ends`) and the graded grid's first spacing.
    """
    lo, hi = domain
    sing = singular_ends(process, domain)
    if not any(sing):
        return
    ends = "both" if all(sing) else ("lower" if sing[0] else "upper")
    x = Grid.graded(lo, hi, max(n_cells, 4), ends=ends).nodes
    for flag, end, h in ((sing[0], lo, x[1] - x[0]), (sing[1], hi, x[-1] - x[-2])):
        if flag and abs(threshold - end) < END_CELLS * h:
            from gelav.stress import MethodOmitted

            need = 2 * math.ceil(math.sqrt(END_CELLS * (hi - lo) / max(abs(threshold - end), 1e-300)))
            raise MethodOmitted(
                f"the threshold {threshold:.3g} lies within {END_CELLS:g} first cells ({END_CELLS * h:.2g}) of the "
                f"singular end x={end:g} of the state space: the generator lattice does not resolve the law there "
                f"and its error estimate would not bound its error (the first cell shrinks like 1/n_cells²; "
                + (f"n_cells >= {need} would put the threshold beyond them)" if need <= MAX_CELLS
                   else "no lattice of at most MAX_CELLS cells puts the threshold beyond them)"))


def _generator_prob(process: ProcessLike, x0: float, horizon: float, threshold: float, below: bool, grid: Grid) -> float:
    lat = GeneratorLattice(process, grid, method="exact")
    p = lat.forward(grid.point_mass(x0), horizon)
    if grid.spacing.max() > 1.5 * grid.spacing.min():
        # graded towards a singular end, the threshold on a node: the cdf piecewise linear between
        # the faces (second order); the cubic through four faces of very different spacing is not
        if below:
            return float(np.interp(threshold, grid.faces, np.concatenate(([0.0], np.cumsum(p)))))
        # the upper tail summed from the top (1 - F rounds to multiples of ulp(1))
        upper = np.concatenate((np.cumsum(p[::-1])[::-1], [0.0]))
        return float(np.interp(threshold, grid.faces, upper))
    if below:
        return float(lattice_cdf(grid.nodes, p, threshold))
    return float(lattice_cdf(-grid.nodes[::-1], p[::-1], -threshold))


def stress_probability(
    process: ProcessLike,
    x0: float,
    horizon: float,
    threshold: float,
    *,
    below: bool = True,
    n_steps: int = 800,
    method: str = "auto",
    n_cells: int = 200,
) -> StressEstimate:
    r"""Probability :math:`P(X_T < c \mid X_0 = x_0)` (or :math:`>`) from a lattice, with an error estimate.

    The lattice is solved at two resolutions, :math:`N` and :math:`2N`, with
    smooth counting (:func:`lattice_cdf`), so the error is
    :math:`e_N \approx a/N^q` and Richardson extrapolation applies:

    .. math:: \hat p = p_{2N} + \frac{p_{2N} - p_N}{2^q - 1}, \qquad
        \text{error estimate} = \frac{|p_{2N} - p_N|}{2^q - 1}.

    Methods: ``"tree"`` (Hull–White :class:`TrinomialTree`, :math:`N` = time
    steps, :math:`q = 1`) for OU, Brownian motion and GBM; ``"generator"``
    (:class:`GeneratorLattice` with the exact embedded chain
    :math:`e^{TQ}`, :math:`N` = cells, :math:`q = 2`) for any process. ``"auto"``
    picks the tree when it applies.

    Parameters
    ----------
    process : Process
    x0 : float
    horizon : float
        Years, > 0.
    threshold : float
        The level :math:`c`.
    below : bool
        ``True`` for :math:`P(X_T < c)`, ``False`` for :math:`P(X_T > c)`.
    n_steps : int
        Tree steps :math:`2N` of the finer tree (the coarse one has half). Doubled
        as needed until the truncated mean-reverting tree spans the threshold with
        two standard deviations to spare (its half-width grows like
        :math:`\sqrt{N}`; see :meth:`TrinomialTree.covers`). A threshold more than
        8.5 standard deviations out (in the tree's Gaussian coordinate) that the trees
        do not reach is not refined for: the answer is 0 (1 for the complement) with
        the Mills bound :math:`\varphi(z)/z` of the exact tail as its error estimate.
    method : {"auto", "tree", "generator"}
    n_cells : int
        Cells of the finer generator lattice.

    Returns
    -------
    StressEstimate
        Unpacks as ``(probability, error_estimate)``.

    Raises
    ------
    ValueError
        On bad arguments or an unknown ``method``.
    gelav.stress.MethodOmitted
        The generator lattice where the threshold lies within two first cells of the coarser
        graded grid from a singular end of the state space (CIR at 0: a threshold of 1e-9 printed
        0.0812 "~ 5.1e-3" for 0.0385); the message says how many cells would resolve it.

    Examples
    --------
    >>> from gelav.processes import OrnsteinUhlenbeck
    >>> p, err = stress_probability(OrnsteinUhlenbeck(0.45, 1.0, 0.32), -0.5, 2.0, -0.5)
    >>> abs(p - 0.0019356) < 1e-6 and err < 1e-5
    True
    """
    x0 = check_finite("x0", x0)
    horizon = check_horizon("horizon", horizon)
    threshold = check_finite("threshold", threshold)
    methods = ("auto", "tree", "generator")
    if not isinstance(method, str) or method not in methods:
        raise ValueError(f"Unknown `method` {method!r}; registered methods are " + ", ".join(map(repr, methods)) + ".")
    t0 = time.perf_counter()
    tree_ok = tree_family(process) is not None
    if method == "tree" and not tree_ok:
        raise TypeError(f"method='tree' needs one of {', '.join(TREE_KINDS)}; got {type(process).__name__}.")
    use_tree = method == "tree" or (method == "auto" and tree_ok)
    if use_tree:
        n2 = check_int("n_steps", n_steps, minimum=4, maximum=MAX_CELLS)
        n1 = n2 // 2
        kw = {"below": threshold} if below else {"above": threshold}
        probe = TrinomialTree(process, x0, horizon, n1)
        level = math.log(threshold) if (probe.kind == "log" and threshold > 0) else threshold
        # a mean-reverting tree is truncated at ±j_max·δx ∝ sqrt(n): refine until it covers the threshold,
        # unless the threshold is so far out (> 8.5 sd, tail < 1e-17) that truncation cannot matter.
        # "auto" stops at 2**13 steps (the cost grows like n²: long horizons need n ∝ κT) and falls
        # back to the generator lattice.
        cap = 2**22 if method == "tree" else 2**13
        far = abs(level - probe.mean_path(horizon)) >= 8.5 * probe.terminal_std
        while not far and not probe.covers(level) and n1 < cap:
            n1 *= 2
            probe = TrinomialTree(process, x0, horizon, n1)
        use_tree = method == "tree" or far or probe.covers(level)
    if use_tree:
        fine = TrinomialTree(process, x0, horizon, 2 * n1)
        with warnings.catch_warnings():
            if far:  # the truncation bias is bounded below, not warned about
                warnings.simplefilter("ignore", AccuracyWarning)
            p1 = probe.prob(**kw)
            p2 = fine.prob(**kw)
        q, sizes, name = 1.0, (n1, 2 * n1), "tree"
        tail = 0.0  # a tree has no truncated domain
        if far and not (probe.covers(level) and fine.covers(level)):
            # beyond 8.5 sd of the (Gaussian) law in the tree's coordinate and outside the truncated tree:
            # the trees see no mass there, the exact tail is below the Mills bound φ(z)/z, reported as the
            # error of a zero answer (a threshold at 8.7 sd printed "0 ~ 0.0e+00" for 1.7e-18)
            z = abs(level - probe.mean_path(horizon)) / probe.terminal_std
            bound = math.exp(-0.5 * z * z) / (z * math.sqrt(2.0 * math.pi))
            inside = (level < probe.mean_path(horizon)) == below  # the threshold's tail is the asked one
            p_far = 0.0 if inside else 1.0
            return StressEstimate(p_far, bound, (p1, p2), sizes, name, q, time.perf_counter() - t0)
    else:
        m2 = check_int("n_cells", n_cells, minimum=8)
        m1 = m2 // 2
        tail = 1e-12
        dom = auto_domain(process, x0, horizon, tail=tail, include=(threshold,))
        _check_threshold_resolved(process, threshold, m1, dom)
        p1 = _generator_prob(process, x0, horizon, threshold, below, _generator_grid(process, x0, threshold, m1, dom))
        p2 = _generator_prob(process, x0, horizon, threshold, below,
                             _generator_grid(process, x0, threshold, m1, dom, refine=1))
        q, sizes, name = 2.0, (m1, 2 * m1), "generator"
        if 0.5 * tail > 0.1 * abs(p2 - p1) / 3.0:
            # a deep tail: the domain leaves out ~tail/2 on the threshold's side, most of a tiny
            # answer (issue 11, class 2); widen it to leave out 1e-8 of the answer
            tail = min(tail, max(1e-8 * max(p1, p2), 1e-300))
            dom = auto_domain(process, x0, horizon, tail=tail, include=(threshold,))
            _check_threshold_resolved(process, threshold, m1, dom)
            p1 = _generator_prob(process, x0, horizon, threshold, below,
                                 _generator_grid(process, x0, threshold, m1, dom))
            p2 = _generator_prob(process, x0, horizon, threshold, below,
                                 _generator_grid(process, x0, threshold, m1, dom, refine=1))
    corr = (p2 - p1) / (2.0**q - 1.0)
    # the generator lattice's estimate includes the mass its domain leaves out on the threshold's side
    return StressEstimate(p2 + corr, abs(corr) + 0.5 * tail, (p1, p2), sizes, name, q, time.perf_counter() - t0)


# =============================================================================
# convergence of lattice answers
# =============================================================================
@dataclass(frozen=True, eq=False)
class ConvergenceStudy:
    r"""Errors of a lattice answer on refinement, with the fitted order.

    Attributes
    ----------
    sizes : ndarray
        Tree steps (``"tree"``) or grid cells (``"generator"``, ``"generator-explicit"``).
    values : ndarray
        Lattice answers.
    errors : ndarray
        ``values - reference``.
    order : float
        Least-squares slope of :math:`\log|e|` against :math:`\log N` (see :func:`fit_order`).
    reference : float
    reference_kind : str
        ``"analytic"`` or ``"pde"`` (gelav.forward on a fine grid, Richardson-extrapolated).
    seconds : ndarray
        Wall time of each lattice solve.
    method : str
    """

    sizes: NDArray[np.float64]
    values: NDArray[np.float64]
    errors: NDArray[np.float64]
    order: float
    reference: float
    reference_kind: str
    seconds: NDArray[np.float64]
    method: str

    def summary(self) -> dict[str, Any]:
        return {
            "method": self.method, "order": self.order, "reference": self.reference,
            "reference_kind": self.reference_kind, "sizes": self.sizes, "values": self.values,
            "errors": self.errors, "seconds": self.seconds,
        }

    def plot(self, *, ax: Any = None) -> Any:
        """Log-log error against size with the fitted slope."""
        from gelav.plot import new_axes

        fig, ax = new_axes(ax)
        e = np.abs(self.errors)
        ax.loglog(self.sizes, e, "o-", label=f"{self.method} (fitted order {self.order:.2f})")
        ref = e[0] * (self.sizes / self.sizes[0]) ** (-round(self.order))
        ax.loglog(self.sizes, ref, "--", color="0.5", label=f"slope −{round(self.order)}")
        unit = "time steps" if self.method == "tree" else "grid cells"
        ax.set_xlabel(f"N [{unit}]")
        ax.set_ylabel(f"|error| vs {self.reference_kind} [probability]")
        ax.set_title("Lattice convergence")
        ax.legend()
        return fig


def lattice_convergence(
    process: ProcessLike,
    x0: float,
    horizon: float,
    threshold: float,
    *,
    sizes: ArrayLike = (100, 200, 400, 800),
    method: str = "tree",
    below: bool = True,
    reference: str = "auto",
) -> ConvergenceStudy:
    r"""Measure the convergence order of a lattice probability :math:`P(X_T < c)`.

    Parameters
    ----------
    process, x0, horizon, threshold, below
        As in :func:`stress_probability`.
    sizes : sequence of int
        Tree steps (``method="tree"``) or grid cells (generator lattices).
    method : {"tree", "generator", "generator-explicit"}
        Hull–White tree (order 1 in steps), exact chain :math:`e^{TQ}` (order 2
        in cells), or the explicit chain :math:`I + \Delta t Q` with
        :math:`\Delta t \propto h^2` (order 2 in cells).
    reference : {"auto", "analytic", "pde"}
        The exact value from the process's transition law, or the PDE
        (:func:`gelav.forward`, Crank–Nicolson, 1600 and 3200 cells,
        Richardson-extrapolated at order 2). ``"auto"``: analytic when known.

    Returns
    -------
    ConvergenceStudy
    """
    x0 = check_finite("x0", x0)
    horizon = check_positive("horizon", horizon)
    threshold = check_finite("threshold", threshold)
    ns = [check_int("sizes", int(n), minimum=4) for n in np.atleast_1d(np.asarray(sizes))]
    if len(ns) < 2:
        raise ValueError("`sizes` must hold at least two sizes.")
    methods = ("tree", "generator", "generator-explicit")
    if method not in methods:
        raise ValueError(f"Unknown `method` {method!r}; registered methods are " + ", ".join(map(repr, methods)) + ".")
    if reference not in ("auto", "analytic", "pde"):
        raise ValueError(f"Unknown `reference` {reference!r}; use 'auto', 'analytic' or 'pde'.")
    has_law = has_exact_law(process)
    if reference == "analytic" and not has_law:
        raise ValueError(f"{name_of(process)} has no closed-form law; use reference='pde'.")
    if reference == "analytic" or (reference == "auto" and has_law):
        d = cast(Any, process).transition(x0, horizon)  # has_law: the exact-law capability
        ref = float(d.cdf(threshold)) if below else float(d.sf(threshold))
        kind = "analytic"
    else:
        from gelav.pde.forward import forward

        vals = []
        for m in (1600, 3200):
            dens = forward(process, x0, horizon, n_cells=m, n_steps=m // 2, include=(threshold,))
            vals.append(dens.prob(below=threshold) if below else dens.prob(above=threshold))
        ref = vals[1] + (vals[1] - vals[0]) / 3.0
        kind = "pde"
    dom = auto_domain(process, x0, horizon, tail=1e-12, include=(threshold,)) if method != "tree" else None
    values, secs = [], []
    for n in ns:
        t0 = time.perf_counter()
        if method == "tree":
            tree = TrinomialTree(process, x0, horizon, n)
            v = tree.prob(below=threshold) if below else tree.prob(above=threshold)
        else:
            lo, hi = dom  # type: ignore[misc]
            grid = Grid.aligned(lo, hi, n, node=x0)
            d_lo, d_hi = domain_of(process)
            x = grid.nodes
            grid = Grid(x[(x >= d_lo) & (x <= d_hi)])
            if method == "generator":
                p = GeneratorLattice(process, grid, method="exact").forward(grid.point_mass(x0), horizon)
            else:
                # Δt = λh² with λ fixed by the coarsest grid (its P ≥ 0 bound is the tightest)
                lat = GeneratorLattice(process, grid)
                if n == ns[0]:
                    ratio = lat.n_steps_for(horizon) / n**2
                steps = max(lat.n_steps_for(horizon), math.ceil(ratio * n * n))
                p = lat.forward(grid.point_mass(x0), horizon, n_steps=steps)
            F = float(lattice_cdf(grid.nodes, p, threshold))
            v = F if below else float(p.sum()) - F
        secs.append(time.perf_counter() - t0)
        values.append(v)
    vals_a = np.asarray(values)
    err = vals_a - ref
    return ConvergenceStudy(np.asarray(ns, dtype=float), vals_a, err, fit_order(ns, err), ref, kind,
                            np.asarray(secs), method)
