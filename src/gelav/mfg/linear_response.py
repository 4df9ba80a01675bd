r"""Linear response of an equilibrium to its starting law: :math:`\delta U/\delta m`.

For a single-type equilibrium with starting node masses :math:`m_0` the response of
the value to a mass-preserving perturbation :math:`\rho` (:math:`\sum_j \rho_j = 0`)
is the directional derivative

.. math:: dU[\rho] = \frac{d}{d\varepsilon} V^{m_0 + \varepsilon \rho}(t_0, \cdot)\Big|_{\varepsilon=0},

computed here by centred differences of full equilibria (error :math:`O(h^2)`),
with the Richardson estimate :math:`|D_h - D_{h/2}| \cdot 4/3` of that error reported.
The flat derivative :math:`\frac{\delta U}{\delta m}(t_0, L, m_0)(y_j) = dU[e_j - m_0](L)`
(a unit mass moved to node :math:`y_j`, total mass kept) satisfies the zero-mean
convention :math:`\sum_j m_{0,j}\,\frac{\delta U}{\delta m}(y_j) = 0` by linearity.
"""

from __future__ import annotations

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
        Richardson estimate of the finite-difference error of ``value`` (max over nodes).
    step : float
    diagnostics : dict
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
        e = solve(eq.model.with_initial([m0 + s * rho]), numerics=eq.numerics, grid=eq.grid,
                  time_grid=eq.time_grid, no_feedback=False)
        out.append((e.value0[0], e.price[0], float(e.cumulative_exits[0, -1])))
    (vp, pp, xp), (vm, pm, xm) = out
    return (vp - vm) / (2 * h), (pp - pm) / (2 * h), (xp - xm) / (2 * h)


def sensitivity(equilibrium: Any, directions: ArrayLike | None = None, *, nodes: Sequence[int] | None = None,
                step: float = 0.05) -> Sensitivity:
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
        Finite-difference step :math:`h` in (0, 1); perturbed laws :math:`m_0 \pm h\rho` must stay >= 0.

    Returns
    -------
    Sensitivity
        ``value[d]`` is :math:`dU[\rho_d]`; with the default directions ``value[j]`` is
        :math:`\frac{\delta U}{\delta m}(t_0, \cdot, m_0)(y_j)` (zero mean under :math:`m_0`).
    """
    if isinstance(step, bool) or not isinstance(step, (int, float)) or not np.isfinite(step) or not 0 < step < 1:
        raise ValueError(f"`step` must be a number in (0, 1), got {step!r}.")
    if len(equilibrium.model.types) != 1:
        raise ValueError("`equilibrium` must have a single LP type.")
    m0 = np.asarray(equilibrium.density[0, 0], dtype=float)
    N = m0.size
    if directions is None:
        idx = list(range(N)) if nodes is None else [int(j) for j in nodes]
        if any(not 0 <= j < N for j in idx):
            raise ValueError(f"`nodes` must be indices in [0, {N}).")
        R = np.eye(N)[idx] - m0[None, :]
    else:
        R = np.atleast_2d(np.asarray(directions, dtype=float))
        if R.shape[1] != N or not np.all(np.isfinite(R)):
            raise ValueError(f"`directions` must be finite with {N} columns, got shape {R.shape}.")
        R = R - R.sum(axis=1, keepdims=True) * m0[None, :] / m0.sum()
    if np.any(m0[None, :] - step * np.abs(R) < -1e-14):
        raise ValueError(f"`step` = {step} makes a perturbed starting law negative; use a smaller step.")
    vals, prices, exits, errs = [], [], [], []
    for rho in R:
        v, _, _ = _responses(equilibrium, rho, step)
        v2, p2, x2 = _responses(equilibrium, rho, step / 2)
        vals.append(v2)  # the step h/2 estimates; `error` is their Richardson error bound
        prices.append(p2)
        exits.append(x2)
        errs.append(float(np.max(np.abs(v - v2))) / 3.0)
    return Sensitivity(R, np.array(vals), np.array(prices), np.array(exits), np.array(errs), float(step),
                       {"n_solves": 4 * len(R)})
