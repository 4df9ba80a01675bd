r"""Linear response of an equilibrium to its starting law: :math:`\delta U/\delta m`.

For a single-type equilibrium with starting node masses :math:`m_0` the response of
the value to a mass-preserving perturbation :math:`\rho` (:math:`\sum_j \rho_j = 0`)
is the directional derivative

.. math:: dU[\rho] = \frac{d}{d\varepsilon} V^{m_0 + \varepsilon \rho}(t_0, \cdot)\Big|_{\varepsilon=0}.

``method="tangent"`` (default) computes it from the linearised forward–backward
system (:mod:`gelav.mfg.tangent`): the aggregate path moves by :math:`\delta Z`
solving :math:`(I - \partial_Z\Phi)\,\delta Z = \partial_{p_0}\Phi\,\rho`
(GMRES with Jacobian–vector products, one tangent solve per direction; with many
directions the columns of :math:`\partial_Z\Phi` on the rows of :math:`Z` the prices
read are assembled in batched sweeps and one dense solve serves every direction),
then one tangent backward sweep gives :math:`\delta V`. It is the exact
derivative of the discrete equilibrium: it agrees with centred differences of
full equilibria to their :math:`O(h^2)` error.

``method="fd"`` computes it by centred differences of full equilibria (error
:math:`O(h^2)`), with the Richardson estimate :math:`|D_h - D_{h/2}|/3` of that error reported.
The flat derivative :math:`\frac{\delta U}{\delta m}(t_0, L, m_0)(y_j) = dU[e_j - m_0](L)`
(a unit mass moved to node :math:`y_j`, total mass kept) satisfies the zero-mean
convention :math:`\sum_j m_{0,j}\,\frac{\delta U}{\delta m}(y_j) = 0` by linearity.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["Sensitivity", "sensitivity"]

Array = NDArray[np.float64]


@dataclass(frozen=True, eq=False)
class Sensitivity:
    """Directional responses of an equilibrium to perturbations of its starting law.

    Attributes
    ----------
    directions : ndarray (D, N)
        Mass-preserving perturbations of the node masses (rows sum to 0).
    value : ndarray (D, N)
        :math:`dU[\\rho_d](t_0, L_n)` [NAV per unit mass].
    price : ndarray (D, M+1)
        Response of the price path.
    exits : ndarray (D,)
        Response of total exits.
    error : ndarray (D,)
        Error estimate of ``value`` (max over nodes): ``"fd"``, the Richardson estimate of the
        finite-difference error; ``"tangent"``, the value response to the final residual of the
        linear solve (the equilibrium's own fixed-point tolerance is not included).
    step : float
        The finite-difference step (NaN for the tangent).
    diagnostics : dict
        ``method``, ``n_solves`` (full equilibria, ``"fd"``), ``n_jvp`` (Jacobian–vector
        products, ``"tangent"``), ``linear_solver`` (``"gmres"`` or ``"dense"``), ``seconds``.
    """

    directions: Array
    value: Array
    price: Array
    exits: Array
    error: Array
    step: float
    diagnostics: dict[str, Any] = field(default_factory=dict)


def _responses(eq: Any, rho: Array, h: float) -> tuple[Array, Array, float]:
    from gelav.mfg.solver import solve

    m0 = eq.density[0, 0]
    out = []
    for s in (h, -h):
        e = solve(
            eq.model.with_initial([m0 + s * rho]),
            numerics=eq.numerics,
            start=float(eq.times[0]),
            grid=eq.grid,
            time_grid=eq.time_grid,
            initial_pressure=eq.initial_pressure,  # a restarted game keeps its selling pressure
            no_feedback=False,
        )
        out.append((e.value0[0], e.price[0], float(e.cumulative_exits[0, -1])))
    (vp, pp, xp), (vm, pm, xm) = out
    return (vp - vm) / (2 * h), (pp - pm) / (2 * h), (xp - xm) / (2 * h)


def _directions(
    equilibrium: Any, directions: ArrayLike | None, nodes: Sequence[int] | None
) -> Array:
    m0 = np.asarray(equilibrium.density[0, 0], dtype=float)
    N = m0.size
    if directions is None:
        idx = list(range(N)) if nodes is None else [int(j) for j in nodes]
        if any(not 0 <= j < N for j in idx):
            raise ValueError(f"`nodes` must be indices in [0, {N}).")
        return np.eye(N)[idx] - m0[None, :]  # type: ignore[no-any-return]
    R = np.atleast_2d(np.asarray(directions, dtype=float))
    if R.ndim != 2 or R.shape[1] != N or not np.all(np.isfinite(R)):
        raise ValueError(f"`directions` must be finite with {N} columns, got shape {R.shape}.")
    return R - R.sum(axis=1, keepdims=True) * m0[None, :] / m0.sum()  # type: ignore[no-any-return]


def _fd(equilibrium: Any, R: Array, step: float) -> Sensitivity:
    m0 = np.asarray(equilibrium.density[0, 0], dtype=float)
    if np.any(m0[None, :] - step * np.abs(R) < -1e-14):
        raise ValueError(
            f"`step` = {step} makes a perturbed starting law negative; use a smaller step."
        )
    vals, prices, exits, errs = [], [], [], []
    for rho in R:
        v, _, _ = _responses(equilibrium, rho, step)
        v2, p2, x2 = _responses(equilibrium, rho, step / 2)
        vals.append(v2)  # the step h/2 estimates; `error` is their Richardson error bound
        prices.append(p2)
        exits.append(x2)
        errs.append(float(np.max(np.abs(v - v2))) / 3.0)
    return Sensitivity(
        R,
        np.array(vals),
        np.array(prices),
        np.array(exits),
        np.array(errs),
        float(step),
        {"method": "fd", "n_solves": 4 * len(R)},
    )


#: GMRES iterations expected per direction (measured 10-20): above 4M / this many directions the
#: dense route (assemble the columns of ∂Φ/∂Z once, one dense solve for all directions) is cheaper
GMRES_PER_DIRECTION = 20


def _active_rows(tan: Any) -> list[int]:
    """Rows of the aggregate path the environment (prices, dynamics) reads."""
    # a fixed generic direction per row: a row is read iff it moves the prices
    rng = np.random.default_rng(0)
    rows = []
    for r in range(tan.Z.shape[0]):
        dZ = np.zeros_like(tan.Z)
        dZ[r] = 1.0 + rng.random(tan.Z.shape[1])
        dpf, dmk, dops = tan.environment(dZ)
        if (
            np.any(dpf)
            or np.any(dmk)
            or (dops is not None and any(np.any(v) for v in dops.values()))
        ):
            rows.append(r)
    return rows


def tangent_response(
    equilibrium: Any,
    dp0: Array,
    *,
    rtol: float = 1e-10,
    linear_solver: str = "auto",
    tangent: Any = None,
    dS0: Array | None = None,
) -> tuple[dict[str, Array], dict[str, Any]]:
    r"""The linear response of ``equilibrium`` to starting-mass perturbations ``dp0`` (KN, D).

    ``dS0`` (D,): changes of the initial selling pressure in the same directions (default none).

    Solves :math:`(I - \partial_Z\Phi)\,\delta Z = \partial_{p_0}\Phi\,\delta p_0` and returns the
    tangent sweeps at the solution (:meth:`gelav.mfg.tangent.Tangent.response`: keys ``V``,
    ``price``, ``market``, ``P``, ``exits``, and ``Z`` = δZ (4, M, D), ``residual`` (D,)) with a
    diagnostics dict. ``linear_solver``: ``"gmres"`` (per direction, matrix-free), ``"dense"``
    (columns of the Jacobian on the rows the prices read, one dense solve), ``"auto"``.

    Raises
    ------
    ConvergenceError
        GMRES did not reach ``rtol`` within ``4M`` iterations.
    """
    from gelav.errors import ConvergenceError
    from gelav.mfg.tangent import Tangent

    tan = tangent if tangent is not None else Tangent(equilibrium)
    shape = tan.Z.shape
    n = int(np.prod(shape))
    D = dp0.shape[1]
    b = tan.source(dp0, dS0)  # (4, M, D)
    if linear_solver not in ("auto", "gmres", "dense"):
        raise ValueError(
            f"Unknown `linear_solver` {linear_solver!r}; use 'auto', 'gmres' or 'dense'."
        )
    if linear_solver == "auto":
        linear_solver = "dense" if D * GMRES_PER_DIRECTION >= n else "gmres"
    n_jvp = 0
    X = np.empty_like(b)
    if linear_solver == "gmres":
        for c in range(D):
            x, info, k = tan.solve(b[..., c], rtol=rtol)
            n_jvp += k
            if info != 0:
                raise ConvergenceError(
                    f"GMRES on the tangent system did not reach rtol={rtol:g} "
                    f"(direction {c}, {n_jvp} products).",
                    [],
                )
            X[..., c] = x
    else:
        rows = _active_rows(tan)
        M = shape[1]
        cols = [(r, i) for r in rows for i in range(M)]
        J = np.zeros((*shape, len(cols)))
        chunk = max(1, int(2e7 // ((M + 1) * tan.KN)))
        for s0 in range(0, len(cols), chunk):
            part = cols[s0 : s0 + chunk]
            E = np.zeros((*shape, len(part)))
            for c, (r, i) in enumerate(part):
                E[r, i, c] = 1.0
            J[..., s0 : s0 + len(part)] = tan.jvp(E)
        n_jvp = len(cols)
        Ja = J[rows].reshape(len(rows) * M, len(cols))  # ∂Φ_a/∂Z_a
        xa = np.linalg.solve(np.eye(len(cols)) - Ja, b[rows].reshape(len(rows) * M, D))
        X = b + np.einsum("rmc,cd->rmd", J, xa)  # x = b + J x (inactive columns of J are zero)
    out = tan.response(X, dp0)
    if dS0 is not None:
        out["image"][1] += tan.pressure_memory()[:, None] * np.asarray(dS0, dtype=float)[None, :]
    res = X - out["image"]  # the image is J x + ∂Φ/∂p0 δp0 = J x + b: the residual of (I − J)x = b
    out["Z"] = X
    out["residual"] = np.abs(res).reshape(n, D).max(axis=0)
    out["residual_Z"] = res
    return out, {"n_jvp": n_jvp + D, "linear_solver": linear_solver}


def sensitivity(
    equilibrium: Any,
    directions: ArrayLike | None = None,
    *,
    nodes: Sequence[int] | None = None,
    step: float = 0.05,
    method: str = "tangent",
) -> Sensitivity:
    r"""Response of ``equilibrium`` (value, price path, total exits) to its starting law.

    Parameters
    ----------
    equilibrium : Equilibrium
        A single-type equilibrium solved from ``t0`` (its ``density[0, 0]`` are the node masses :math:`m_0`).
    directions : array (D, N), optional
        Perturbations of the node masses; each is projected to zero total mass.
        Default: :math:`e_j - m_0` for ``nodes`` (all nodes if ``nodes`` is None),
        i.e. the rows of the flat derivative :math:`\delta U/\delta m(t_0, \cdot, m_0)(y_j)`.
    step : float
        ``method="fd"`` only: finite-difference step :math:`h` in (0, 1); perturbed laws
        :math:`m_0 \pm h\rho` must stay >= 0.
    method : {"tangent", "fd"}
        The linearised forward–backward system (default; see the module docstring) or
        centred differences of full equilibria (4 solves per direction).

    Returns
    -------
    Sensitivity
        ``value[d]`` is :math:`dU[\rho_d]`; with the default directions ``value[j]`` is
        :math:`\frac{\delta U}{\delta m}(t_0, \cdot, m_0)(y_j)` (zero mean under :math:`m_0`).

    Raises
    ------
    ValueError
        A multi-type equilibrium, bad ``directions``/``nodes``/``step``/``method``.
    ConvergenceError
        The tangent's linear solve did not converge.
    """
    import time

    t_start = time.perf_counter()
    if method not in ("tangent", "fd"):
        raise ValueError(f"Unknown `method` {method!r}; use 'tangent' or 'fd'.")
    if (
        isinstance(step, bool)
        or not isinstance(step, (int, float))
        or not np.isfinite(step)
        or not 0 < step < 1
    ):
        raise ValueError(f"`step` must be a number in (0, 1), got {step!r}.")
    if len(equilibrium.model.types) != 1:
        raise ValueError("`equilibrium` must have a single LP type.")
    R = _directions(equilibrium, directions, nodes)
    if method == "fd":
        out = _fd(equilibrium, R, float(step))
        out.diagnostics["seconds"] = time.perf_counter() - t_start
        return out
    from gelav.mfg.tangent import Tangent

    tan = Tangent(equilibrium)
    resp, diag = tangent_response(equilibrium, R.T, tangent=tan)
    value = resp["V"][0].T.copy()
    price = resp["market"][0].T.copy()
    exits = resp["exits"][:, 0].sum(axis=0)
    # error: the value response to the residual r of the linear solve (δV of δZ = r)
    dpf, _, dops = tan.environment_columns(resp["residual_Z"])
    err = np.abs(tan.backward(dpf, dops)[0]).max(axis=0)
    return Sensitivity(
        R,
        value,
        price,
        exits,
        err,
        math.nan,
        {"method": "tangent", **diag, "seconds": time.perf_counter() - t_start},
    )
