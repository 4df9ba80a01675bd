r"""A MATLAB-compatible ``pdepe``: 1-D parabolic systems by the method of lines.

Solves, for :math:`u(x, t) \in \mathbb{R}^{n}` on :math:`a \le x \le b`,
:math:`t_0 \le t \le t_f`,

.. math::

    c\Big(x, t, u, \frac{\partial u}{\partial x}\Big) \frac{\partial u}{\partial t}
    = x^{-m}\frac{\partial}{\partial x}\Big(x^m f\Big(x, t, u, \frac{\partial u}{\partial x}\Big)\Big)
      + s\Big(x, t, u, \frac{\partial u}{\partial x}\Big),

with :math:`m \in \{0, 1, 2\}` (slab, cylinder, sphere), ``c`` diagonal, the
initial value :math:`u(x, t_0) = u_0(x)` and at each end

.. math:: p(x, t, u) + q(x, t)\, f\Big(x, t, u, \frac{\partial u}{\partial x}\Big) = 0 ,

exactly MATLAB's conventions (``pdefun(x, t, u, dudx) -> (c, f, s)``,
``icfun(x) -> u0``, ``bcfun(xl, ul, xr, ur, t) -> (pl, ql, pr, qr)``). For
:math:`m > 0` and :math:`a = 0` the symmetry condition :math:`f(0) = 0` is
imposed and the left boundary condition ignored, as in MATLAB.

Space: the Skeel–Berzins (1990) scheme MATLAB uses — a Petrov–Galerkin
discretisation whose flux points :math:`\xi_{k+1/2}` make the two-point flux
exact for :math:`(x^m u_x)_x = 0` (midpoint for m = 0,
:math:`\Delta x/\ln(x_{k+1}/x_k)` for m = 1, :math:`\sqrt{x_k x_{k+1}}` for m = 2),
``c`` and ``s`` evaluated at the flux points; second order in space. Time:
SciPy's stiff integrators (``BDF`` by default, or ``Radau``) with the
block-tridiagonal Jacobian sparsity, at the tolerances ``RelTol`` (1e-3) and
``AbsTol`` (1e-6), MATLAB's defaults. Components with ``q = 0`` at an end are
algebraic there (``p = 0`` is solved by Newton's method at every evaluation).

Differences from MATLAB: components with ``c = 0`` (elliptic equations) are
not supported (SciPy's integrators take no singular mass matrix) and raise
``ValueError``. The result is always three-dimensional, ``sol[t, x, component]``
(also for one component, so MATLAB's ``u = sol(:,:,1)`` reads ``u = sol[:, :, 0]``).
"""

from __future__ import annotations

import time as _time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, overload

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import sparse
from scipy.integrate import solve_ivp

__all__ = ["PdepeResult", "pdepe", "pdeval"]

_OPTION_NAMES = {"reltol": "rtol", "abstol": "atol", "maxstep": "max_step", "initialstep": "first_step",
                 "rtol": "rtol", "atol": "atol", "max_step": "max_step", "first_step": "first_step"}


@dataclass(frozen=True, eq=False)
class PdepeResult:
    """Full output of :func:`pdepe` (``full_output=True``).

    Attributes
    ----------
    sol : ndarray, shape (n_t, n_x, n_pde) (also for one component: ``sol[:, :, 0]``)
    t, x : ndarray
    stats : dict
        Integrator statistics: function and Jacobian evaluations, LU
        decompositions, run time, message.
    """

    sol: NDArray[np.float64]
    t: NDArray[np.float64]
    x: NDArray[np.float64]
    stats: dict[str, Any] = field(default_factory=dict)


class _Model:
    """Wraps the user's pdefun, evaluated pointwise or vectorised."""

    def __init__(self, pdefun: Callable[..., Any], npde: int, vectorized: bool | None) -> None:
        self.f = pdefun
        self.npde = npde
        self.vectorized = vectorized
        self.calls = 0

    def _pointwise(self, x: NDArray[np.float64], t: float, U: NDArray[np.float64],
                   D: NDArray[np.float64]) -> tuple[NDArray[np.float64], ...]:
        n = self.npde
        c = np.empty((n, x.size))
        f = np.empty((n, x.size))
        s = np.empty((n, x.size))
        for k in range(x.size):
            out = self.f(float(x[k]), t, U[:, k].copy() if n > 1 else float(U[0, k]),
                         D[:, k].copy() if n > 1 else float(D[0, k]))
            if not isinstance(out, (tuple, list)) or len(out) != 3:
                raise ValueError("`pdefun` must return three values (c, f, s).")
            c[:, k], f[:, k], s[:, k] = (np.broadcast_to(np.asarray(o, dtype=float).ravel(), (n,)) for o in out)
        self.calls += x.size
        return c, f, s

    def _vector(self, x: NDArray[np.float64], t: float, U: NDArray[np.float64],
                D: NDArray[np.float64]) -> tuple[NDArray[np.float64], ...]:
        n = self.npde
        uu = U if n > 1 else U[0]
        dd = D if n > 1 else D[0]
        out = self.f(x, t, uu, dd)
        if not isinstance(out, (tuple, list)) or len(out) != 3:
            raise ValueError("`pdefun` must return three values (c, f, s).")
        res = []
        for o in out:
            a = np.asarray(o, dtype=float)
            if n == 1:
                a = (a if a.shape == x.shape else np.broadcast_to(a, x.shape))[None, :]
            else:
                if a.ndim == 1 and a.size == n:
                    a = a[:, None]
                a = np.broadcast_to(a, (n, x.size))
            res.append(np.array(a, dtype=float))
        self.calls += 1
        return tuple(res)

    def __call__(self, x: NDArray[np.float64], t: float, U: NDArray[np.float64],
                 D: NDArray[np.float64]) -> tuple[NDArray[np.float64], ...]:
        if self.vectorized is None:
            ok = False
            try:
                with np.errstate(all="ignore"):
                    vec = self._vector(x, t, U, D)
                k = min(3, x.size)
                idx = np.unique(np.array([0, x.size // 2, x.size - 1])[:k])
                pw = self._pointwise(x[idx], t, U[:, idx], D[:, idx])
                ok = all(np.allclose(v[:, idx], p, rtol=1e-12, atol=1e-14, equal_nan=True) for v, p in zip(vec, pw, strict=True))
            except Exception:  # not vectorisable: evaluate point by point
                ok = False
            self.vectorized = ok
        if self.vectorized:
            return self._vector(x, t, U, D)
        return self._pointwise(x, t, U, D)


def _bc_row(o: Any, npde: int) -> NDArray[np.float64]:
    """One of ``bcfun``'s four outputs as a new float array of length ``npde`` (a scalar is repeated)."""
    a = np.array(o, dtype=float).ravel()  # a copy: bcfun may hand back arrays it mutates later
    return a if a.size == npde else np.broadcast_to(a, (npde,)).copy()


def _flux_points(x: NDArray[np.float64], m: int) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Flux points ξ and the interpolation weight φ(ξ) on each interval (φ' = 1/Δx by construction)."""
    xl, xr = x[:-1], x[1:]
    dx = xr - xl
    xi = 0.5 * (xl + xr)
    w = np.full(dx.shape, 0.5)
    if m > 0:
        pos = xl > 0
        lr = np.log(xr[pos] / xl[pos])
        if m == 1:
            xi_p = dx[pos] / lr
            w_p = np.log(xi_p / xl[pos]) / lr
        else:
            xi_p = np.sqrt(xl[pos] * xr[pos])
            w_p = (1.0 / xl[pos] - 1.0 / xi_p) / (1.0 / xl[pos] - 1.0 / xr[pos])
        xi[pos] = xi_p
        w[pos] = w_p
    return xi, w


def _singular_points(x: NDArray[np.float64], m: int) -> tuple[NDArray[np.float64], ...]:
    """Skeel–Berzins' singular case: flux points ξ, the weight and slope of the x² interpolant there, and the
    cell splits ζ (m = 1: √(ξγ); m = 2: ∛(αβγ); γ the midpoint) of every interval [α, β]."""
    a, b = x[:-1], x[1:]
    xi = (2.0 / 3.0) * (a + b - a * b / (a + b))
    g = 0.5 * (a + b)
    zeta = np.sqrt(xi * g) if m == 1 else np.cbrt(a * b * g)
    den = b * b - a * a
    return xi, (xi * xi - a * a) / den, 2.0 * xi / den, zeta


@overload
def pdepe(m: int, pdefun: Callable[..., Any], icfun: Callable[..., Any], bcfun: Callable[..., Any],
          xmesh: ArrayLike, tspan: ArrayLike, options: dict[str, Any] | None = None, *, method: str = ...,
          vectorized: bool | None = ..., full_output: Literal[False] = ..., **kwargs: Any) -> NDArray[np.float64]: ...
@overload
def pdepe(m: int, pdefun: Callable[..., Any], icfun: Callable[..., Any], bcfun: Callable[..., Any],
          xmesh: ArrayLike, tspan: ArrayLike, options: dict[str, Any] | None = None, *, method: str = ...,
          vectorized: bool | None = ..., full_output: Literal[True], **kwargs: Any) -> PdepeResult: ...
def pdepe(
    m: int,
    pdefun: Callable[..., Any],
    icfun: Callable[..., Any],
    bcfun: Callable[..., Any],
    xmesh: ArrayLike,
    tspan: ArrayLike,
    options: dict[str, Any] | None = None,
    *,
    method: str = "BDF",
    vectorized: bool | None = None,
    full_output: bool = False,
    **kwargs: Any,
) -> NDArray[np.float64] | PdepeResult:
    r"""Solve 1-D parabolic–elliptic PDE systems like MATLAB's ``pdepe``.

    .. math::

        c\,u_t = x^{-m}\partial_x\big(x^m f(x, t, u, u_x)\big) + s(x, t, u, u_x),
        \qquad p + q f = 0 \text{ at } x = a, b .

    Parameters
    ----------
    m : {0, 1, 2}
        Symmetry: slab, cylindrical, spherical.
    pdefun : callable ``(x, t, u, dudx) -> (c, f, s)``
        Called with a scalar ``x`` and ``u``/``dudx`` of length ``npde`` (floats
        for one component), like MATLAB; when it also works on arrays (``x`` of
        shape (k,), ``u`` of shape (npde, k)) it is called vectorised (detected
        automatically; force with ``vectorized=``).
    icfun : callable ``x -> u0``
    bcfun : callable ``(xl, ul, xr, ur, t) -> (pl, ql, pr, qr)``
    xmesh : array_like
        Increasing mesh, at least 3 points.
    tspan : array_like
        Increasing output times, at least 3 (the first is the initial time).
    options : dict, optional
        MATLAB ``odeset`` names: ``RelTol`` (default 1e-3), ``AbsTol`` (1e-6),
        ``MaxStep``, ``InitialStep``; the same may be passed as keywords
        (also SciPy's ``rtol``, ``atol``, ``max_step``, ``first_step``).
    method : {"BDF", "Radau", "LSODA"}
        SciPy stiff integrator.
    vectorized : bool, optional
        Whether ``pdefun`` accepts arrays (default: detect).
    full_output : bool
        Return a :class:`PdepeResult` with integrator statistics.

    Returns
    -------
    sol : ndarray, shape (len(tspan), len(xmesh), npde)
        ``sol[j, i, k]`` is component ``k`` at ``tspan[j]``, ``xmesh[i]``; the third axis is kept
        for one component too (shape ``(nt, nx, 1)``, as MATLAB's ``nt×nx×1``): use
        ``sol[:, :, 0]`` for the ``(nt, nx)`` array.

    Raises
    ------
    ValueError
        ``m`` not in {0, 1, 2}, meshes too short or not increasing, a negative
        left end with m > 0, ``c = 0`` somewhere (elliptic components), a
        function returning the wrong shape, or integration failure.

    Examples
    --------
    MATLAB's ``pdex1``: :math:`\pi^2 u_t = u_{xx}`, :math:`u(x, 0) = \sin\pi x`,
    exact :math:`e^{-t}\sin\pi x`.

    >>> import numpy as np
    >>> from gelav.pdepe import pdepe
    >>> sol = pdepe(0, lambda x, t, u, dudx: (np.pi**2, dudx, 0.0),
    ...             lambda x: np.sin(np.pi * x),
    ...             lambda xl, ul, xr, ur, t: (ul, 0.0, np.pi * np.exp(-t), 1.0),
    ...             np.linspace(0, 1, 21), np.linspace(0, 2, 5))
    >>> sol.shape
    (5, 21, 1)
    >>> u = sol[:, :, 0]  # the one component, shape (nt, nx)
    >>> bool(abs(u[-1, 10] - np.exp(-2)) < 2e-3)
    True
    """
    t_start = _time.perf_counter()
    if isinstance(m, bool) or m not in (0, 1, 2):
        raise ValueError(f"`m` must be 0, 1 or 2 (slab, cylinder, sphere), got {m!r}.")
    for name, fn in (("pdefun", pdefun), ("icfun", icfun), ("bcfun", bcfun)):
        if not callable(fn):
            raise TypeError(f"`{name}` must be callable, got {type(fn).__name__}.")
    x = np.asarray(xmesh, dtype=float).ravel()
    tout = np.asarray(tspan, dtype=float).ravel()
    if x.size < 3:
        raise ValueError(f"`xmesh` must have at least 3 points, got {x.size}.")
    if tout.size < 3:
        raise ValueError(f"`tspan` must have at least 3 points (MATLAB's rule), got {tout.size}.")
    if not np.all(np.isfinite(x)) or np.any(np.diff(x) <= 0):
        raise ValueError("`xmesh` must be finite and strictly increasing.")
    if not np.all(np.isfinite(tout)) or np.any(np.diff(tout) <= 0):
        raise ValueError("`tspan` must be finite and strictly increasing.")
    if m > 0 and x[0] < 0:
        raise ValueError(f"With m = {m} the mesh must start at x >= 0, got {x[0]}.")
    opts: dict[str, Any] = {"rtol": 1e-3, "atol": 1e-6}
    for k, v in {**(options or {}), **kwargs}.items():
        key = _OPTION_NAMES.get(k.lower())
        if key is None:
            raise TypeError(f"Unknown option {k!r}; known options are RelTol, AbsTol, MaxStep, InitialStep.")
        opts[key] = v
    if method not in ("BDF", "Radau", "LSODA"):
        raise ValueError(f"Unknown `method` {method!r}; registered stiff methods are 'BDF', 'Radau', 'LSODA'.")

    N = x.size
    # initial values
    try:
        u0 = np.array([np.atleast_1d(np.asarray(icfun(float(xi)), dtype=float)).ravel() for xi in x])
    except Exception as exc:  # re-raised as ValueError
        raise ValueError(f"`icfun` failed: {exc}") from exc
    if u0.ndim != 2 or u0.shape[0] != N:
        raise ValueError("`icfun` must return the same number of components at every x.")
    npde = u0.shape[1]
    U0 = u0.T.copy()  # (npde, N)
    if not np.all(np.isfinite(U0)):
        raise ValueError("`icfun` returned non-finite values.")
    model = _Model(pdefun, npde, vectorized)
    symmetric = m > 0 and x[0] == 0.0
    dx = np.diff(x)
    if symmetric:
        # Skeel–Berzins' singular case (a symmetry point at x = 0): a Petrov–Galerkin scheme with trial
        # functions in x² on every interval (the solution is even in x), flux points ξ, and ζ splitting the
        # cells. The regular formulas with a midpoint on [0, x_1] were first order at x = 0 (order 1.3-1.7
        # for m = 1, 2 before the initial layer decays, the error 100x the slab's).
        xi, wphi, dphi, zeta = _singular_points(x, m)
        flux_weight = zeta ** (m + 1) / xi
    else:
        xi, wphi = _flux_points(x, m)
        dphi = 1.0 / dx
        zeta = xi
        flux_weight = xi**m
    # half-cell x^m-volumes around node i: left [ζ_{i-1}, x_i], right [x_i, ζ_i]
    wr = np.zeros(N)
    wl = np.zeros(N)
    wr[:-1] = (zeta ** (m + 1) - x[:-1] ** (m + 1)) / (m + 1)
    wl[1:] = (x[1:] ** (m + 1) - zeta ** (m + 1)) / (m + 1)
    xm_end = x[[0, -1]] ** m
    t0 = float(tout[0])

    def bc(t: float, U: NDArray[np.float64]) -> tuple[NDArray[np.float64], ...]:
        ul, ur = U[:, 0], U[:, -1]
        out = bcfun(float(x[0]), ul.copy() if npde > 1 else float(ul[0]), float(x[-1]),
                    ur.copy() if npde > 1 else float(ur[0]), t)
        if not isinstance(out, (tuple, list)) or len(out) != 4:
            raise ValueError("`bcfun` must return four values (pl, ql, pr, qr).")
        return tuple(_bc_row(o, npde) for o in out)

    _, ql, _, qr = bc(t0, U0)
    dir_l = (ql == 0.0) & (not symmetric)
    dir_r = qr == 0.0
    free = np.ones((npde, N), dtype=bool)
    free[dir_l, 0] = False
    free[dir_r, -1] = False
    free_flat = free.T.ravel()  # node-major ordering
    fixed_flat = ~free_flat
    n_free = int(free_flat.sum())
    sides = [(side, np.flatnonzero(mask), col) for side, mask, col in (("l", dir_l, 0), ("r", dir_r, -1))
             if mask.any()]

    def fill(t: float, y: NDArray[np.float64], guess: NDArray[np.float64]
             ) -> tuple[NDArray[np.float64], tuple[NDArray[np.float64], ...] | None]:
        """Nodal values from the free unknowns, solving p = 0 for the algebraic boundary values; and
        ``bc(t, U)`` at the returned ``U`` when it was evaluated (else None), so callers need not repeat it."""
        Ut = np.empty(npde * N)
        Ut[free_flat] = y
        Ut[fixed_flat] = guess[fixed_flat]
        U = Ut.reshape(N, npde).T.copy()
        at_U = None  # bc(t, U) for the current U: one call serves both sides while U is unchanged
        for side, idx, col in sides:
            for _ in range(20):
                if at_U is None:
                    at_U = bc(t, U)
                p = at_U[0 if side == "l" else 2][idx]
                if np.all(np.abs(p) <= 1e-13 * (1.0 + np.abs(U[idx, col]))):
                    break
                J = np.empty((idx.size, idx.size))
                for jj, k in enumerate(idx):
                    h = 1e-7 * max(1.0, abs(U[k, col]))
                    Uh = U.copy()
                    Uh[k, col] += h
                    J[:, jj] = (bc(t, Uh)[0 if side == "l" else 2][idx] - p) / h
                try:
                    step = np.linalg.solve(J, p)
                except np.linalg.LinAlgError:
                    raise ValueError(f"The {'left' if side == 'l' else 'right'} boundary condition with q = 0 "
                                     "does not determine u there (∂p/∂u is singular).") from None
                U[idx, col] -= step
                at_U = None
                if np.all(np.abs(step) <= 1e-14 * (1.0 + np.abs(U[idx, col]))):
                    break
        return U, at_U

    last = {"U": U0.T.ravel().copy()}

    def rhs(t: float, y: NDArray[np.float64]) -> NDArray[np.float64]:
        U, at_U = fill(t, y, last["U"])
        last["U"] = U.T.ravel().copy()
        dU = np.diff(U, axis=1)
        Uxi = U[:, :-1] + wphi * dU
        Dxi = dU * dphi
        c, f, s = model(xi, t, Uxi, Dxi)
        flux = flux_weight * f  # (npde, N-1)
        M = np.zeros((npde, N))
        F = np.zeros((npde, N))
        M[:, :-1] += wr[:-1] * c
        M[:, 1:] += wl[1:] * c
        F[:, :-1] += flux + wr[:-1] * s
        F[:, 1:] += -flux + wl[1:] * s
        if symmetric:
            # the centre: c u_t = (m + 1) f/ξ + s on the first interval (its cell [0, ζ_0] may be empty, m = 2)
            M[:, 0] = c[:, 0]
            F[:, 0] = (m + 1) * f[:, 0] / xi[0] + s[:, 0]
        pl_, ql_, pr_, qr_ = at_U if at_U is not None else bc(t, U)
        if not symmetric:
            with np.errstate(divide="ignore", invalid="ignore"):
                fl = np.where(ql_ != 0, -pl_ / np.where(ql_ != 0, ql_, 1.0), 0.0)
            F[:, 0] -= xm_end[0] * fl
        with np.errstate(divide="ignore", invalid="ignore"):
            fr = np.where(qr_ != 0, -pr_ / np.where(qr_ != 0, qr_, 1.0), 0.0)
        F[:, -1] += xm_end[1] * fr
        Mf = M.T.ravel()[free_flat]
        if np.any(Mf == 0.0):
            raise ValueError("`pdefun` returned c = 0 at some point: elliptic components are not supported "
                             "by this pdepe (SciPy has no singular mass matrix); make c > 0.")
        return F.T.ravel()[free_flat] / Mf

    # Jacobian sparsity: unknowns at nodes within one of each other are coupled.
    node_of = np.repeat(np.arange(N), npde)[free_flat]
    rows: list[int] = []
    cols: list[int] = []
    starts = np.searchsorted(node_of, np.arange(N + 1))
    for i in range(N):
        lo, hi = starts[max(i - 1, 0)], starts[min(i + 2, N)]
        for r in range(starts[i], starts[i + 1]):
            rows.extend([r] * (hi - lo))
            cols.extend(range(lo, hi))
    sparsity = sparse.coo_array((np.ones(len(rows)), (rows, cols)), shape=(n_free, n_free)).tocsc()
    sparsity.data[:] = 1.0
    y0 = U0.T.ravel()[free_flat]
    with np.errstate(all="ignore"):
        res = solve_ivp(rhs, (t0, float(tout[-1])), y0, method=method, t_eval=tout,
                        jac_sparsity=sparsity if method != "LSODA" else None, **opts)
    if not res.success:
        raise ValueError(f"pdepe: time integration failed at t = {res.t[-1] if res.t.size else t0:g}: {res.message}")
    sol = np.empty((tout.size, N, npde))
    guess = U0.T.ravel().copy()
    for j in range(tout.size):
        sol[j] = fill(float(tout[j]), res.y[:, j], guess)[0].T
    stats = {"nfev": int(res.nfev), "njev": int(res.njev), "nlu": int(res.nlu), "pdefun_calls": model.calls,
             "vectorized": bool(model.vectorized), "message": res.message,
             "seconds": _time.perf_counter() - t_start, "method": method, **opts}
    out = sol  # always sol[t, x, component], as the MATLAB indexing sol(:, :, i) reads
    if full_output:
        return PdepeResult(out, tout, x, stats)
    return out


def pdeval(m: int, xmesh: ArrayLike, ui: ArrayLike, xout: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """MATLAB's ``pdeval``: interpolate one solution row ``ui = sol[j, :, i]`` and its x-derivative at ``xout``.

    Uses the same basis as :func:`pdepe`: linear in x for m = 0; for m > 0, in
    x² on every interval when the mesh starts at the symmetry point x = 0, else
    in log x (m = 1) and in 1/x (m = 2).
    """
    if isinstance(m, bool) or m not in (0, 1, 2):
        raise ValueError(f"`m` must be 0, 1 or 2, got {m!r}.")
    x = np.asarray(xmesh, dtype=float)
    u = np.asarray(ui, dtype=float)
    xo = np.atleast_1d(np.asarray(xout, dtype=float))
    if u.shape != x.shape:
        raise ValueError(f"`ui` must have one value per mesh point ({x.size}), got shape {u.shape}.")
    if np.any(xo < x[0]) or np.any(xo > x[-1]):
        raise ValueError("`xout` must lie within `xmesh`.")
    k = np.clip(np.searchsorted(x, xo, side="right") - 1, 0, x.size - 2)
    xl, xr = x[k], x[k + 1]
    du = u[k + 1] - u[k]
    if m == 0:
        phi = (xo - xl) / (xr - xl)
        dphi = 1.0 / (xr - xl)
    elif x[0] == 0.0:  # pdepe's singular case: x² on every interval
        den = xr * xr - xl * xl
        phi = (xo * xo - xl * xl) / den
        dphi = 2.0 * xo / den
    else:
        phi = np.empty_like(xo)
        dphi = np.empty_like(xo)
        zero = xl == 0
        phi[zero] = (xo[zero] - xl[zero]) / (xr[zero] - xl[zero])
        dphi[zero] = 1.0 / (xr[zero] - xl[zero])
        nz = ~zero
        if m == 1:
            lr = np.log(xr[nz] / xl[nz])
            phi[nz] = np.log(xo[nz] / xl[nz]) / lr
            dphi[nz] = 1.0 / (xo[nz] * lr)
        else:
            den = 1.0 / xl[nz] - 1.0 / xr[nz]
            phi[nz] = (1.0 / xl[nz] - 1.0 / xo[nz]) / den
            dphi[nz] = 1.0 / (xo[nz] ** 2 * den)
    return u[k] + phi * du, du * dphi
