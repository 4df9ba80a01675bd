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

A second flux, the *square-root approximation* (SqRA; Lie, Fackeldey & Weber,
SIAM J. Matrix Anal. Appl. 34 (2013); Donati, Heida, Keller & Weber, J. Chem.
Phys. 149 (2018); convergence: Heida, M3AS 28 (2018)), takes the rates from the
ratio of the stationary (Boltzmann) weights of the two nodes,

.. math::

    q_{i,i+1} = \frac{D}{h V_i}\sqrt{\frac{\pi_{i+1}}{\pi_i}}, \qquad
    q_{i+1,i} = \frac{D}{h V_{i+1}}\sqrt{\frac{\pi_i}{\pi_{i+1}}}, \qquad
    \ln\frac{\pi_{i+1}}{\pi_i} = \int_{x_i}^{x_{i+1}} \frac{c}{D}\,dx \approx z ,

where :math:`\pi \propto \exp\int c/D = \exp(\int 2b/\sigma^2)/\sigma^2` is the
zero-flux (stationary, speed) density of the diffusion; with the same :math:`z`
as above, the face coefficients are :math:`\frac{D}{h}e^{\pm z/2}`
(:func:`sqra_rates`). Both fluxes satisfy detailed balance with the same weights
(:math:`B(-z)/B(z) = e^z`), so they have the *same* stationary chain and differ
only in the dynamics: the SqRA conductance :math:`\frac{D}{h}\sqrt{\pi_i\pi_{i+1}}`
is the geometric mean of the nodal weights, Scharfetter–Gummel's their
logarithmic mean, larger by :math:`\sinh(z/2)/(z/2)`. SqRA is second order too;
on moderately advective problems (the seed's OU) its error constant is an order
of magnitude smaller, but its rates grow like :math:`e^{|z|/2}` at large cell
Péclet numbers (drift-dominated problems), where Scharfetter–Gummel tends to
upwinding. Where the diffusion vanishes on a face (:math:`D = 0`), SqRA is
undefined and the face takes the upwind rates (Scharfetter–Gummel's limit).
:data:`FLUXES` names the two; the solvers take ``flux=``, and
:func:`gelav.forward` with ``flux="auto"`` chooses by an error estimate.

On the scale–speed chain of a singular end, ``flux="sqra"`` rescales the rates
of every face but the end cell by the same factor :math:`\sinh(z_i/2)/(z_i/2)`,
:math:`z_i = \ln\big(q_{i,i+1}V_i/(q_{i+1,i}V_{i+1})\big)` (:func:`sqra_from_fitted`,
which maps the Scharfetter–Gummel rates exactly onto :func:`sqra_rates`); the end
cell keeps its exact integrals, which decide the end's Feller class.

Boundaries, per side: ``"reflecting"`` (zero flux through the end face: the
end node only jumps inwards) or ``"absorbing"`` (the end node is an absorbing
state; the solvers move what arrives there to an absorbed-mass counter and pay
a boundary value in the backward direction).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from gelav.fd.boundaries import Boundary, as_boundary
from gelav.fd.grid import Grid
from gelav.fd.linalg import Bands
from gelav.fd.singular import scale_speed_rates, singular_ends
from gelav.processes.protocol import ProcessLike, domain_of, is_time_homogeneous, name_of

if TYPE_CHECKING:  # scipy.sparse costs a third of `import gelav`: imported where a matrix is built
    from scipy import sparse

__all__ = ["BOUNDARY_KINDS", "FLUXES", "PECLET_WARNING", "Bands", "Generator", "batch_bands", "cell_peclet", "chained_bands",
           "check_flux", "fitted_bands", "fitted_rates", "sqra_from_fitted", "sqra_rates", "warn_peclet"]

BOUNDARY_KINDS = ("reflecting", "absorbing")

#: the face fluxes of the generator: Scharfetter–Gummel (exponentially fitted, the default) and the
#: square-root approximation
FLUXES = ("sg", "sqra")

Rate = Callable[[float, NDArray[np.float64]], ArrayLike]


def check_coefficients(a: NDArray[np.float64], b: NDArray[np.float64], a_face: NDArray[np.float64],
                       faces: NDArray[np.float64], t: float) -> None:
    """Refuse coefficients the rates cannot be built from: not finite, σ² < 0, or a σ² at a face that is
    positive but subnormal (it keeps a few bits: GBM on prices of 1e-170 printed a ratio of 1.0033 for the
    scale-free 0.7909, with no warning)."""
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        raise ValueError(f"The process coefficients are not finite on the grid at t={t} (if the state is "
                         "very large, express it in smaller units).")
    if (a_face < 0).any():
        raise ValueError("The variance rate σ² must be >= 0.")
    tiny = (a_face > 0) & (a_face < np.finfo(float).tiny)
    if tiny.any():
        k = int(np.flatnonzero(tiny)[0])
        raise ValueError(f"The variance rate σ² = {a_face[k]:.3g} at x = {faces[k]:.3g} is below the smallest "
                         "normal float: the rates would keep only a few of its bits. Express the state in "
                         "larger units (rescale it).")


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
        if (z > 1e-12).all() and (s > 0).all():  # the usual case (the same numbers, fewer passes)
            common = absc / np.expm1(z)
        else:
            common = np.where(z > 1e-12, absc / np.expm1(z), s * (1.0 - 0.5 * z))
            common = np.where(s > 0, common, 0.0)
    if not np.isfinite(common).all():
        common = np.where(np.isfinite(common), common, 0.0)
    up = np.maximum(c, 0.0) + common
    down = np.maximum(-c, 0.0) + common
    return up, down


#: above this cell Péclet number at the start, :func:`warn_peclet` warns (numerical diffusion 5x the process's)
PECLET_WARNING = 10.0


def cell_peclet(process: ProcessLike, grid: Grid, t: float, x: float) -> float:
    r"""The cell Péclet number :math:`|b|h/D` at the node nearest ``x`` (:math:`D = \sigma^2/2`, :math:`h` the
    mean of the spacings beside the node); ``inf`` where :math:`\sigma = 0` there.

    Above a few units the fitted flux upwinds: its chain diffuses like :math:`D\,\frac{z}{2}\coth\frac{z}{2}`,
    about :math:`z/2` times the process's, and the answers are first order in :math:`h`."""
    nodes, spacing = grid.nodes, grid.spacing
    i = min(int(nodes.searchsorted(x)), nodes.size - 1)  # the nearest node (scalar work: forward calls this per run)
    if i > 0 and x - nodes[i - 1] <= nodes[i] - x:
        i -= 1
    h = float(spacing[0]) if i == 0 else float(spacing[-1]) if i == nodes.size - 1 else \
        0.5 * (float(spacing[i - 1]) + float(spacing[i]))
    xi = nodes[i:i + 1]
    b = float(np.asarray(process.drift(t, xi), dtype=float).reshape(-1)[0])  # type: ignore[attr-defined]
    a = float(np.asarray(process.variance_rate(t, xi), dtype=float).reshape(-1)[0])  # type: ignore[attr-defined]
    return abs(b) * h / (0.5 * a) if a > 0 else math.inf


def warn_peclet(process: ProcessLike, grid: Grid, t: float, x: float, *, stacklevel: int = 3) -> float:
    """:func:`cell_peclet` at ``x``; an :class:`~gelav.errors.AccuracyWarning` when it exceeds
    :data:`PECLET_WARNING` (finite: a degenerate diffusion is the singular ends' business). An OU from
    x0 = 1000 (κ = 0.45, σ = 0.32) has 8,300 on the default 400 cells: the value of the payoff x was 0.42 %
    off and the density's variance 222 for 0.068, with no other sign of it."""
    z = cell_peclet(process, grid, t, x)
    if PECLET_WARNING < z < math.inf:
        from gelav.errors import AccuracyWarning

        warnings.warn(f"The cell Péclet number |b|h/D at x0 = {x:g} is {z:.3g}: the fitted flux upwinds there, with "
                      f"a numerical diffusion about {z / 2:.3g} times the process's, so the answer is first order "
                      "in h and may be far off. Refine the grid where the law goes (`n_cells`, `grid`), or ask "
                      "for a tolerance (backward(..., tol=), stress_test(..., tol=)).", AccuracyWarning,
                      stacklevel=stacklevel)
    return z


def check_flux(flux: object, *, allow_auto: bool = False) -> str:
    """The flux name checked against :data:`FLUXES` (plus ``"auto"`` where a solver chooses)."""
    names = (*FLUXES, "auto") if allow_auto else FLUXES
    if isinstance(flux, str) and flux.lower() == "auto" and not allow_auto:
        raise ValueError("`flux`='auto' is a choice gelav.forward makes; here give 'sg' or 'sqra' (for duality, "
                         "the forward run's diagnostics['flux']).")
    if not isinstance(flux, str) or flux.lower() not in names:
        raise ValueError(f"Unknown `flux` {flux!r}; use one of {', '.join(map(repr, names))}.")
    return flux.lower()


def sqra_rates(
    D: NDArray[np.float64], c: NDArray[np.float64], h: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    r"""Square-root-approximation face coefficients :math:`\frac{D}{h}e^{z/2}` (up) and :math:`\frac{D}{h}e^{-z/2}` (down).

    :math:`z = ch/D` is the potential difference :math:`\ln(\pi_{i+1}/\pi_i)` of the stationary
    density across the face (the same as in :func:`fitted_rates`, so both fluxes have the same
    detailed balance). A face with :math:`D = 0` takes the upwind coefficients :math:`c^\pm`.

    Raises
    ------
    ValueError
        When a coefficient overflows (cell Péclet number :math:`|z| \gtrsim 1400`).
    """
    s = D / h
    pos = s > 0
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        if pos.all():  # the usual case: diffusion on every face
            e = np.exp(0.5 * c / s)
            up, down = s * e, s / e
        else:
            ss = np.where(pos, s, 1.0)
            e = np.exp(np.where(pos, 0.5 * c / ss, 0.0))
            up = np.where(pos, ss * e, np.maximum(c, 0.0))
            down = np.where(pos, ss / e, np.maximum(-c, 0.0))
    if not (np.isfinite(up).all() and np.isfinite(down).all()):
        raise ValueError("The square-root-approximation rates overflow (cell Péclet number |c h / D| too large); "
                         "refine the grid or use flux='sg'.")
    return up, down


_RATES = {"sg": fitted_rates, "sqra": sqra_rates}


def sqra_from_fitted(sub: NDArray[np.float64], sup: NDArray[np.float64], volumes: NDArray[np.float64],
                     keep: tuple[bool, bool] = (False, False)) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    r"""The SqRA chain from an exponentially fitted one (padded bands ``sub``, ``sup``, reflecting).

    Per face, :math:`z_i = \ln\big(q_{i,i+1}V_i/(q_{i+1,i}V_{i+1})\big)` (the potential difference the
    fitted chain's detailed balance encodes) and both rates are multiplied by
    :math:`\sinh(z_i/2)/(z_i/2)`, turning the logarithmic-mean conductance into the geometric mean:
    on the Scharfetter–Gummel bands this gives :func:`sqra_rates` to rounding; on the scale–speed
    chain of :mod:`gelav.fd.singular` its SqRA analogue. ``keep`` leaves the first / last face as
    it is (the end cell at a singular end, whose exact integrals carry the Feller class); a face
    with a zero rate is left as it is.
    """
    up = sup[:-1] * volumes[:-1]
    down = sub[1:] * volumes[1:]
    ok = (up > 0) & (down > 0)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        z = np.where(ok, np.log(np.where(ok, up, 1.0) / np.where(ok, down, 1.0)), 0.0)
        hz = 0.5 * np.abs(z)
        # sinh(w)/w = (1 - e^{-2w}) e^{w} / (2w), without overflow of sinh for large w
        f = np.where(hz > 1e-8, -np.expm1(-2.0 * hz) * np.exp(hz) / (2.0 * np.where(hz > 0, hz, 1.0)),
                     1.0 + hz * hz / 6.0)
    if keep[0]:
        f[0] = 1.0
    if keep[1]:
        f[-1] = 1.0
    if not np.all(np.isfinite(f)):
        raise ValueError("The square-root-approximation rates overflow (cell Péclet number too large); "
                         "refine the grid or use flux='sg'.")
    out_sub, out_sup = sub.copy(), sup.copy()
    out_sup[:-1] *= f
    out_sub[1:] *= f
    return out_sub, out_sup


def fitted_bands(D: NDArray[np.float64], c: NDArray[np.float64], grid: Grid, *, flux: str = "sg"
                 ) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    r"""Padded bands ``(sub, diag, sup)`` of the reflecting chain with face coefficients ``D`` and ``c``.

    ``D`` (:math:`\sigma^2/2`) and ``c`` (:math:`b - \tfrac12\partial_x\sigma^2`) are given
    at the ``n - 1`` faces of ``grid``, with any leading batch axes (several LP types,
    several times): the result has the same leading axes and ``n`` on the last.
    Rates :math:`q_{i,i+1} = \frac{D}{h}B(-z)/V_i`, :math:`q_{i+1,i} = \frac{D}{h}B(z)/V_{i+1}`
    (:func:`fitted_rates`), ``diag = -(sub + sup)``; ``flux="sqra"``: the face coefficients of
    :func:`sqra_rates` instead. This is the one place that computes the flux rates:
    :class:`Generator` and the mean-field game build on it.
    """
    D, c = np.asarray(D, dtype=float), np.asarray(c, dtype=float)
    if D.shape != c.shape:
        D, c = np.broadcast_arrays(D, c)
    h = grid.spacing if c.shape == grid.spacing.shape else np.broadcast_to(grid.spacing, c.shape)
    up, down = _RATES[flux](D, c, h)
    shape = (*c.shape[:-1], grid.n_nodes)
    sup = np.zeros(shape)
    sub = np.zeros(shape)
    sup[..., :-1] = up / grid.volumes[:-1]
    sub[..., 1:] = down / grid.volumes[1:]
    return sub, -(sub + sup), sup


def batch_bands(process: ProcessLike, grids: Sequence[Grid], fluxes: Sequence[str], *, t: float = 0.0,
                lower: str | Boundary = "reflecting", upper: str | Boundary = "reflecting"
                ) -> dict[tuple[int, str], Bands]:
    """``Generator(process, grids[j], flux=f, lower=lower, upper=upper).bands(t)`` for every grid ``j`` and flux ``f``.

    The same numbers (the rates are computed face by face), with the coefficients evaluated once on all
    the grids together and the rates of each flux in one pass: a ladder of nested grids (the automatic
    mode of :func:`gelav.stress_test`) builds all its chains for the cost of about one. Grids that reach
    a singular end of the state space (the scale–speed chain of :mod:`gelav.fd.singular`) are built one by
    one by :class:`Generator`.
    """
    names = [check_flux(f) for f in fluxes]
    (sub, diag, sup), sizes = chained_bands(process, grids, names, t=t, lower=lower, upper=upper)
    ends = np.cumsum(sizes)
    keys = [(j, f) for f in names for j in range(len(grids))]
    return {k: Bands(sub[a:b], diag[a:b], sup[a:b])
            for k, a, b in zip(keys, (ends - sizes).tolist(), ends.tolist(), strict=True)}


def chained_bands(process: ProcessLike, grids: Sequence[Grid], fluxes: Sequence[str], *, t: float = 0.0,
                  lower: str | Boundary = "reflecting", upper: str | Boundary = "reflecting"
                  ) -> tuple[tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]], NDArray[np.int64]]:
    """The bands of :func:`batch_bands` laid end to end, ``(sub, diag, sup)``: the chains of every grid for the
    first flux, then for the next ... (``sub`` zero at each chain's first node, ``sup`` at its last), and the
    chains' sizes."""
    lo_bc, hi_bc = _check_boundary("lower", lower), _check_boundary("upper", upper)
    sizes = np.array([g.n_nodes for g in grids])
    lo_dom, hi_dom = domain_of(process)

    def at_end(v: float, end: float) -> bool:  # where singular_ends can answer True (an end of the state space)
        return math.isfinite(end) and abs(v - end) <= 1e-12 * max(1.0, abs(end))

    n_f = len(fluxes)
    bounded = math.isfinite(lo_dom) or math.isfinite(hi_dom)  # (on the real line no grid leaves or reaches an end)
    if bounded and any(g.lower < lo_dom - 1e-12 or g.upper > hi_dom + 1e-12 or (
            (at_end(g.lower, lo_dom) or at_end(g.upper, hi_dom)) and any(singular_ends(process, g))) for g in grids):
        bs = [Generator(process, g, lower=lo_bc, upper=hi_bc, flux=f).bands(t) for f in fluxes for g in grids]
        sub, diag, sup = (np.concatenate([getattr(b, k) for b in bs]) for k in ("sub", "diag", "sup"))
        all_sizes = np.concatenate([sizes] * n_f)
        ends = np.cumsum(all_sizes)
        sub[ends - all_sizes] = 0.0
        sup[ends - 1] = 0.0
        return (sub, diag, sup), all_sizes
    ends = sizes.cumsum()
    first = ends - sizes
    if len(grids) == 1:
        g = grids[0]
        x, h, vol, xm = g.nodes, g.spacing, g.volumes, g.faces[1:-1]  # the faces are the midpoints of the nodes
        below: Any = slice(0, x.size - 1)
        above: Any = slice(1, x.size)
    else:
        x = np.concatenate([g.nodes for g in grids])
        h = np.concatenate([g.spacing for g in grids])
        vol = np.concatenate([g.volumes for g in grids])
        xm = np.concatenate([g.faces[1:-1] for g in grids])
        is_face = np.ones(x.size - 1, dtype=bool)
        is_face[ends[:-1] - 1] = False  # the pairs of nodes that straddle two grids are no faces
        below = is_face.nonzero()[0]  # the node below each face (the node above is below + 1)
        above = below + 1
    proc = process
    # σ² at the faces and the nodes in one call (the coefficients are pointwise: the same numbers)
    with np.errstate(over="ignore", invalid="ignore"):  # a coefficient that overflows is refused below
        a_all = np.asarray(proc.variance_rate(t, np.concatenate((xm, x))), dtype=float)  # type: ignore[attr-defined]
        b_face = np.asarray(proc.drift(t, xm), dtype=float)  # type: ignore[attr-defined]
    a_face, a_node = a_all[:xm.size], a_all[xm.size:]
    check_coefficients(a_all, b_face, a_face, xm, t)
    D = 0.5 * a_face
    c = b_face - 0.5 * (a_node[above] - a_node[below]) / h
    vol_lo, vol_hi = vol[below], vol[above]
    m = x.size
    sub = np.zeros(n_f * m)
    sup = np.zeros(n_f * m)
    rows = [(bc, i) for bc, i in ((lo_bc, 0), (hi_bc, -1)) if type(bc).rows is not Boundary.rows or bc.absorbing]
    for k, f in enumerate(fluxes):
        up, down = _RATES[f](D, c, h)
        sub_f, sup_f = sub[k * m:(k + 1) * m], sup[k * m:(k + 1) * m]
        sup_f[below] = up / vol_lo
        sub_f[above] = down / vol_hi
        for bc, i in rows:  # the boundary rows of each chain, as Generator.bands sets them
            for a, b in zip(first.tolist(), ends.tolist(), strict=True):
                bc.rows(sub_f[a:b], sup_f[a:b], None, i)
    return (sub, -(sub + sup), sup), (np.concatenate([sizes] * n_f) if n_f > 1 else sizes)


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
    flux : {"sg", "sqra"}
        The face flux (:data:`FLUXES`): Scharfetter–Gummel (default) or the square-root
        approximation; see the module notes.

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
        flux: str = "sg",
    ) -> None:
        if not isinstance(grid, Grid):
            raise TypeError(f"`grid` must be a gelav.Grid, got {type(grid).__name__}.")
        self.process = process
        self.grid = grid
        #: the face flux, a name in :data:`FLUXES`
        self.flux = check_flux(flux)
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
        xm = g.faces[1:-1]  # the midpoints of the nodes
        proc = self.process
        with np.errstate(over="ignore", invalid="ignore"):  # a coefficient that overflows is refused below
            a_face = proc.variance_rate(t, xm)  # type: ignore[attr-defined]
            b_face = proc.drift(t, xm)  # type: ignore[attr-defined]
            a_node = proc.variance_rate(t, x)  # type: ignore[attr-defined]
        a_face, b_face, a_node = (np.asarray(v, dtype=float) for v in (a_face, b_face, a_node))
        check_coefficients(np.concatenate((a_face, a_node)), b_face, a_face, xm, t)
        if any(self.singular_ends):  # σ² vanishes at an end of the state space: scale–speed rates
            t_key = 0.0 if is_time_homogeneous(proc) else float(t)  # cached apart from a callable killing
            if self._rates_key != t_key:
                self._rates = scale_speed_rates(proc, g, t, self.singular_ends)
                self._rates_key = t_key
            sub, sup = (r.copy() for r in self._rates)
            if self.flux == "sqra":  # the end cells keep their exact integrals (the Feller class)
                sub, sup = sqra_from_fitted(sub, sup, g.volumes, keep=self.singular_ends)
        else:
            D = 0.5 * a_face
            c = b_face - 0.5 * np.diff(a_node) / h
            sub, _, sup = fitted_bands(D, c, g, flux=self.flux)
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
                         signed_killing=self.signed_killing, killing_name=self.killing_name, flux=self.flux)

    def __repr__(self) -> str:
        flux = "" if self.flux == "sg" else f", flux={self.flux!r}"
        return f"Generator({name_of(self.process)!s}, {self.grid!r}, lower={self.lower!r}, upper={self.upper!r}{flux})"
