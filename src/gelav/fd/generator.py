r"""The discrete generator :math:`Q` of a diffusion on a grid.

Every solver in gelav sees a process only through its generator: a tridiagonal
rate matrix :math:`Q(t)` of a continuous-time Markov chain on the grid nodes
(non-negative off-diagonals, rows summing to :math:`-k(t, x_i)` where
:math:`k \ge 0` is a killing rate). The backward (Feynman–Kac) equation is
:math:`-\partial_t u = Q u - r u + f`, the forward (Fokker–Planck) equation for
node masses is :math:`\partial_t p = Q^\top p`.

Construction (vertex-centred finite volumes with an exponentially fitted flux).
Write the Fokker–Planck flux as

.. math::

    J = b\rho - \tfrac12\partial_x(a\rho) = c\,\rho - D\,\partial_x\rho, \qquad
    D = \tfrac{a}{2},\quad c = b - \tfrac12 \partial_x a ,

with :math:`a = \sigma^2`. Across the face between nodes :math:`i` and :math:`i+1`
(spacing :math:`h`), the Scharfetter–Gummel / Chang–Cooper flux is

.. math::

    J_{i+1/2} = \frac{D}{h}\left[B(-z)\,\rho_i - B(z)\,\rho_{i+1}\right],
    \qquad z = \frac{c h}{D}, \quad B(z) = \frac{z}{e^z - 1},

with :math:`D, c` at the face midpoint (:math:`\partial_x a` by the difference of
the nodal values). It is exact for a constant-coefficient steady state, keeps
both coefficients non-negative for any cell Péclet number :math:`|z|`, and is
second-order accurate; dividing by the control volume :math:`V_i` gives the
rates :math:`q_{i,i+1} = \frac{D}{h}B(-z)/V_i` and :math:`q_{i+1,i} = \frac{D}{h}B(z)/V_{i+1}`.

Where the grid ends at an end of the state space at which :math:`\sigma^2`
vanishes (CIR at 0, Jacobi, GBM at 0), the rates are instead those of the
scale–speed chain of :mod:`gelav.fd.singular` (exact speed masses; the end
behaves as its Feller class says).

Boundaries, per side: ``"reflecting"`` (zero flux through the end face: the
end node only jumps inwards) or ``"absorbing"`` (the end node is an absorbing
state; the solvers move what arrives there to an absorbed-mass counter and pay
a boundary value in the backward direction).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike, NDArray

from gelav.fd.boundaries import Boundary, as_boundary
from gelav.fd.grid import Grid
from gelav.fd.linalg import Bands
from gelav.fd.singular import scale_speed_rates, singular_ends
from gelav.processes.protocol import ProcessLike, domain_of, is_time_homogeneous, name_of

if TYPE_CHECKING:  # scipy.sparse costs a third of `import gelav`: imported where a matrix is built
    from scipy import sparse

__all__ = ["BOUNDARY_KINDS", "Bands", "Generator", "fitted_bands", "fitted_rates"]

BOUNDARY_KINDS = ("reflecting", "absorbing")

Rate = Callable[[float, NDArray[np.float64]], ArrayLike]


def _check_boundary(name: str, kind: str | Boundary) -> Boundary:
    """The boundary object for a name (the registry :data:`gelav.fd.boundaries.BOUNDARIES`) or a Boundary."""
    if isinstance(kind, Boundary):
        return kind
    if not isinstance(kind, str):
        raise ValueError(f"Unknown boundary `{name}`={kind!r}; pass a registered name "
                         "('reflecting', 'absorbing', ...) or a gelav.fd.boundaries.Boundary.")
    return as_boundary(name, kind)


def fitted_rates(
    D: NDArray[np.float64], c: NDArray[np.float64], h: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    r"""Face transfer coefficients :math:`\frac{D}{h}B(-z)` (up) and :math:`\frac{D}{h}B(z)` (down).

    Evaluated as :math:`c^\pm + |c|/(e^{|c|/s} - 1)` with :math:`s = D/h`, which is
    stable for every Péclet number and tends to pure upwinding as :math:`D \to 0`.
    """
    s = D / h
    absc = np.abs(c)
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        z = absc / s
        common = np.where(z > 1e-12, absc / np.expm1(z), s * (1.0 - 0.5 * z))
    common = np.where(s > 0, common, 0.0)
    common = np.where(np.isfinite(common), common, 0.0)
    up = np.maximum(c, 0.0) + common
    down = np.maximum(-c, 0.0) + common
    return up, down


def fitted_bands(D: NDArray[np.float64], c: NDArray[np.float64], grid: Grid
                 ) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    r"""Padded bands ``(sub, diag, sup)`` of the reflecting chain with face coefficients ``D`` and ``c``.

    ``D`` (:math:`\sigma^2/2`) and ``c`` (:math:`b - \tfrac12\partial_x\sigma^2`) are given
    at the ``n - 1`` faces of ``grid``, with any leading batch axes (several LP types,
    several times): the result has the same leading axes and ``n`` on the last.
    Rates :math:`q_{i,i+1} = \frac{D}{h}B(-z)/V_i`, :math:`q_{i+1,i} = \frac{D}{h}B(z)/V_{i+1}`
    (:func:`fitted_rates`), ``diag = -(sub + sup)``. This is the one place that
    computes the flux rates: :class:`Generator` and the mean-field game build on it.
    """
    D, c = np.broadcast_arrays(np.asarray(D, dtype=float), np.asarray(c, dtype=float))
    up, down = fitted_rates(D, c, np.broadcast_to(grid.spacing, c.shape))
    shape = (*c.shape[:-1], grid.n_nodes)
    sup = np.zeros(shape)
    sub = np.zeros(shape)
    sup[..., :-1] = up / grid.volumes[:-1]
    sub[..., 1:] = down / grid.volumes[1:]
    return sub, -(sub + sup), sup


class Generator:
    r"""Rate matrix :math:`Q(t)` of the Markov chain that approximates ``process`` on ``grid``.

    Parameters
    ----------
    process : Process
        Supplies ``drift(t, x)`` and ``variance_rate(t, x)``.
    grid : Grid
        The nodes; the end nodes are the boundaries.
    lower, upper : {"reflecting", "absorbing"}
        Boundary behaviour at each end (aliases: "natural"/"neumann" for
        reflecting, "dirichlet"/"knockout" for absorbing).
    killing : float, array or callable ``(t, x) -> array``, optional
        Killing (or discount) rate :math:`k(t, x) \ge 0` subtracted on the
        diagonal. Mass killed leaves the chain; in the backward direction this
        is discounting.
    signed_killing : bool
        Accept a signed rate (a short rate that can be negative: the backward
        solvers' ``discount``); the step condition that keeps the step matrix
        an M-matrix is then met by :mod:`gelav.fd.step_control`. Default False.
    killing_name : str
        The argument named in error messages (``"discount"`` for the backward solvers).

    Notes
    -----
    ``bands(t)`` returns the three diagonals (fast path used by the solvers);
    ``matrix(t)`` a SciPy sparse matrix. For a reflecting chain every row sums
    to zero, so :math:`\mathbf{1}^\top` is preserved by :math:`Q^\top` (mass
    conservation); absorbing rows are zero.

    Examples
    --------
    >>> from gelav import OrnsteinUhlenbeck, Grid, Generator
    >>> Q = Generator(OrnsteinUhlenbeck(0.45, 1.0, 0.32), Grid.uniform(-1, 3, 80))
    >>> bool(abs(Q.matrix(0.0).sum(axis=1)).max() < 1e-12)
    True
    """

    def __init__(
        self,
        process: ProcessLike,
        grid: Grid,
        *,
        lower: str | Boundary = "reflecting",
        upper: str | Boundary = "reflecting",
        killing: float | ArrayLike | Rate | None = None,
        signed_killing: bool = False,
        killing_name: str = "killing",
    ) -> None:
        if not isinstance(grid, Grid):
            raise TypeError(f"`grid` must be a gelav.Grid, got {type(grid).__name__}.")
        self.process = process
        self.grid = grid
        self.boundaries = (_check_boundary("lower", lower), _check_boundary("upper", upper))
        #: "absorbing" or "reflecting": the kind of the chain's end node at each side
        self.lower = "absorbing" if self.boundaries[0].absorbing else "reflecting"
        self.upper = "absorbing" if self.boundaries[1].absorbing else "reflecting"
        lo_dom, hi_dom = domain_of(process)
        if grid.lower < lo_dom - 1e-12 or grid.upper > hi_dom + 1e-12:
            raise ValueError(
                f"The grid [{grid.lower:g}, {grid.upper:g}] leaves the domain ({lo_dom:g}, {hi_dom:g}) "
                f"of {name_of(process)}."
            )
        self._killing = killing
        if killing is not None and not callable(killing):
            from gelav._validation import check_rates

            k_in = check_rates("killing", killing)
            if k_in.size != 1 and k_in.shape != grid.nodes.shape:  # was NumPy's "could not be broadcast"
                raise ValueError(f"`killing` array must hold a rate at each of the {grid.n_nodes} grid nodes, "
                                 f"got shape {k_in.shape}.")
            k = np.broadcast_to(k_in, grid.nodes.shape).copy()
            if not np.all(np.isfinite(k)):
                raise ValueError(f"`{killing_name}` must be finite.")
            if not signed_killing and np.any(k < 0):
                raise ValueError(f"`{killing_name}` must be finite and >= 0.")
            self._killing = k
        self.signed_killing = bool(signed_killing)
        self.killing_name = killing_name
        self.time_homogeneous = is_time_homogeneous(process) and not callable(killing)
        #: ends of the grid where the diffusion degenerates at the edge of the state space; there the rates
        #: are those of the scale–speed chain (:mod:`gelav.fd.singular`), which follows the end's Feller class
        self.singular_ends = singular_ends(process, grid)
        self._rates_key: float | None = None
        self._rates: tuple[NDArray[np.float64], NDArray[np.float64]] = (np.zeros(0), np.zeros(0))
        self._cache: dict[tuple[float, bool], Bands] = {}

    @property
    def n(self) -> int:
        """Number of states (grid nodes)."""
        return self.grid.n_nodes

    @property
    def has_killing(self) -> bool:
        """Whether the generator has a killing (or signed discount) rate."""
        return self._killing is not None

    def killing_rate(self, t: float) -> NDArray[np.float64]:
        """:math:`k(t, x_i)` at the nodes (zeros when there is no killing)."""
        k = self._killing
        if k is None:
            return np.zeros(self.n)
        if callable(k):
            kk = np.broadcast_to(np.asarray(k(t, self.grid.nodes), dtype=float), (self.n,)).copy()
            if not np.all(np.isfinite(kk)):
                raise ValueError(f"`{self.killing_name}` returned non-finite rates at t={t}.")
            if self.signed_killing:
                return kk
            if np.any(kk < -1e-14):
                raise ValueError(f"`{self.killing_name}` returned negative rates at t={t} (min {float(kk.min()):g}).")
            return np.maximum(kk, 0.0)
        return np.asarray(k, dtype=np.float64)

    def bands(self, t: float = 0.0, *, killing: bool = True) -> Bands:
        """The three diagonals of :math:`Q(t)` (minus the killing rate when ``killing``)."""
        key = (0.0 if self.time_homogeneous else float(t), killing)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        g = self.grid
        x, h = g.nodes, g.spacing
        xm = 0.5 * (x[1:] + x[:-1])
        proc = self.process
        a_face = proc.variance_rate(t, xm)  # type: ignore[attr-defined]
        b_face = proc.drift(t, xm)  # type: ignore[attr-defined]
        a_node = proc.variance_rate(t, x)  # type: ignore[attr-defined]
        if not (np.all(np.isfinite(a_face)) and np.all(np.isfinite(b_face)) and np.all(np.isfinite(a_node))):
            raise ValueError(f"The process coefficients are not finite on the grid at t={t}.")
        if np.any(a_face < 0):
            raise ValueError("The variance rate σ² must be >= 0.")
        if any(self.singular_ends):  # σ² vanishes at an end of the state space: scale–speed rates
            t_key = 0.0 if is_time_homogeneous(proc) else float(t)  # cached apart from a callable killing
            if self._rates_key != t_key:
                self._rates = scale_speed_rates(proc, g, t, self.singular_ends)
                self._rates_key = t_key
            sub, sup = (r.copy() for r in self._rates)
        else:
            D = 0.5 * a_face
            c = b_face - 0.5 * np.diff(a_node) / h
            sub, _, sup = fitted_bands(D, c, g)
        k = self.killing_rate(t).copy() if (killing and self._killing is not None) else None
        lo_bc, hi_bc = self.boundaries
        lo_bc.rows(sub, sup, k, 0)
        hi_bc.rows(sub, sup, k, -1)
        diag = -(sub + sup)
        if k is not None:
            diag = diag - k
        out = Bands(sub, diag, sup)
        if self.time_homogeneous:
            self._cache[key] = out
        return out

    def matrix(self, t: float = 0.0, *, killing: bool = True) -> sparse.csr_array:
        """:math:`Q(t)` as a SciPy sparse CSR matrix."""
        return self.bands(t, killing=killing).to_sparse()

    def apply(self, u: ArrayLike, t: float = 0.0) -> NDArray[np.float64]:
        r"""The backward action :math:`(Qu)_i`, the discrete :math:`\mathcal{L}u - k u`."""
        return self.bands(t).matvec(np.asarray(u, dtype=float))

    def apply_adjoint(self, p: ArrayLike, t: float = 0.0) -> NDArray[np.float64]:
        r"""The forward action :math:`Q^\top p` on node masses."""
        return self.bands(t).rmatvec(np.asarray(p, dtype=float))

    def with_killing(self, killing: float | ArrayLike | Rate | None) -> Generator:
        """The same chain with another killing (discount) rate."""
        return Generator(self.process, self.grid, lower=self.boundaries[0], upper=self.boundaries[1], killing=killing,
                         signed_killing=self.signed_killing, killing_name=self.killing_name)

    def __repr__(self) -> str:
        return f"Generator({name_of(self.process)!s}, {self.grid!r}, lower={self.lower!r}, upper={self.upper!r})"
