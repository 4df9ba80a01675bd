r"""The discrete master equation evaluated along an equilibrium flow.

The state of the game at time :math:`t` is the holders' law :math:`m` (node
masses, of total mass below 1 once LPs have sold) and the selling pressure
:math:`S` (the market's memory of past sales). The master field
:math:`U(t, L, m, S)` is the value of an LP in state :math:`L` when the game
is (re)started at :math:`t` from :math:`(m, S)` — :func:`gelav.mfg.master.restart`
solves exactly that. It solves the master equation

.. math::

    \partial_t U + \mathcal L_L U - rU + f + k(\pi - U)\,(\pi - U)
      + \Big\langle \frac{\delta U}{\delta m}(t, L, m),\ \partial_t m \Big\rangle
      + \partial_S U\,\partial_t S = 0 ,

with :math:`\partial_t m = \mathcal L^* m - k\,m` (holders move and sell) and
:math:`\partial_t S = (e - S)/\tau`; the flat derivative :math:`\delta U/\delta m`
acts on directions that change the mass (sales), so no zero-mean projection is made.

**Discrete form used.** With the equilibrium's steps
:math:`L_n = I - \theta\Delta t_n Q_n + \Delta t_n\,\mathrm{diag}\,k_n`,
:math:`R_n = I + (1-\theta)\Delta t_n Q_n`, source :math:`s_n = e^{-r\Delta t_n/2}f_n + k_n\pi_n`
(see :mod:`gelav.mfg.engine`) and the flow :math:`(m_n, S_n)` of the equilibrium,

.. math::

    \mathcal R_n = \frac{1}{\Delta t_n}\Big(L_n U_n - \rho_n R_n\big[U^{+}_{n}
      + dU^{+}_n[m_{n+1} - m_n,\ S_{n+1} - S_n]\big] - \Delta t_n\,s_n\Big),

where :math:`U_n = U(t_n, \cdot, m_n, S_n)` (a restart at :math:`t_n`),
:math:`U^{+}_n = U(t_{n+1}, \cdot, m_n, S_n)` (a restart at :math:`t_{n+1}` from the
*earlier* state: the time derivative at a fixed law) and :math:`dU^{+}_n[\cdot]` its
linear response (:func:`gelav.mfg.linear_response.tangent_response`: the
measure-derivative transport term and :math:`\partial_S U`). Divided by
:math:`\Delta t_n`, the three parts are the time derivative, the generator (with
discounting, reward and exits) and the transport term of the master equation.
Dynamic programming and time consistency make
:math:`U_n = B_n[U(t_{n+1}, \cdot, m_{n+1}, S_{n+1})]` exactly, so :math:`\mathcal R_n`
is the remainder of the first-order (chain-rule) expansion of :math:`U` in the
state: :math:`O(\|m_{n+1} - m_n\|^2)/\Delta t = O(\Delta t)` where the flow is smooth.
Where the crowd is (:attr:`MasterResidual.norm`, the mean under :math:`m_n`) it
shrinks at about second order on refinement (``tests/test_mfg_master_equation.py``);
its maximum over the nodes holding mass sits at the exit boundary, where the
relaxed exit intensity (:math:`k \sim 1/\varepsilon`) removes a node's mass within a
step, and does not shrink there.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from gelav.fd import linalg

__all__ = ["MasterResidual", "master_residual"]

Array = NDArray[np.float64]


@dataclass(frozen=True, eq=False)
class MasterResidual:
    r"""The discrete master equation along an equilibrium flow (see :mod:`gelav.mfg.master_equation`).

    Attributes
    ----------
    times : ndarray (J,)
        The step starts :math:`t_n` where it is evaluated [years].
    residual : ndarray (J, K, N)
        :math:`\mathcal R_n` [NAV/year].
    time_derivative, transport : ndarray (J, K, N)
        :math:`(U^+_n - U_n)/\Delta t_n` and :math:`dU^+_n[\Delta m, \Delta S]/\Delta t_n` [NAV/year].
    consistency : ndarray (J,)
        :math:`\max_L |U(t_n, L, m_n, S_n) - V(t_n, L)|` [NAV]: the restarted value against the equilibrium's.
    weights : ndarray (J, K, N)
        The holders' masses :math:`m_n` (where the residual matters).
    diagnostics : dict
    """

    times: Array
    residual: Array
    time_derivative: Array
    transport: Array
    consistency: Array
    weights: Array
    diagnostics: dict[str, Any] = field(default_factory=dict)

    @property
    def norm(self) -> Array:
        r"""Mean :math:`|\mathcal R_n|` under the holders' law, :math:`\sum_L m_n |\mathcal R_n| / \sum_L m_n`,
        per time (J,) [NAV/year]: the residual where the crowd is."""
        w = self.weights
        return (w * np.abs(self.residual)).sum(axis=(1, 2)) / w.sum(axis=(1, 2))  # type: ignore[no-any-return]

    @property
    def terms(self) -> Array:
        """The same mean of the time-derivative term (J,) [NAV/year]: the size of what cancels."""
        w = self.weights
        return (w * np.abs(self.time_derivative)).sum(axis=(1, 2)) / w.sum(axis=(1, 2))  # type: ignore[no-any-return]

    @property
    def max(self) -> float:
        r""":math:`\max_n \max_L |\mathcal R_n|` over the nodes holding mass (:math:`m_n > 10^{-8}`) [NAV/year]."""
        mask = self.weights > 1e-8
        return float(np.max(np.abs(np.where(mask, self.residual, 0.0))))

    @property
    def scale(self) -> float:
        """The size of the terms that cancel (max of the time-derivative and transport parts on the same nodes)."""
        mask = self.weights > 1e-8
        return float(
            np.max(np.abs(np.where(mask, self.time_derivative, 0.0)))
            + np.max(np.abs(np.where(mask, self.transport, 0.0)))
        )


def master_residual(
    eq: Any, times: Sequence[float] | None = None, *, n_times: int = 4
) -> MasterResidual:
    r"""Evaluate the discrete master equation along the flow of ``eq`` (see the module docstring).

    Parameters
    ----------
    eq : Equilibrium
    times : sequence of float, optional
        Times of the equilibrium's grid (the nearest step start is used) before every fund end.
        Default: ``n_times`` step starts spread over the first half of the shortest fund life.

    Each time costs two restarts and one tangent solve.

    Raises
    ------
    ValueError
        A time after the last step before a fund end.
    """
    from gelav.mfg.linear_response import tangent_response
    from gelav.mfg.master import restart_from
    from gelav.mfg.tangent import Tangent

    tan = Tangent(eq)
    pb, bw = tan.pb, tan.bw
    K, N, M = pb.K, pb.N, pb.M
    ends = min(eq.model.fund_end(k) for k in range(K))
    last = int(np.searchsorted(eq.times, ends - 1e-12)) - 2  # restarts at t_{n+1} need a step left
    if last < 0:
        raise ValueError("The equilibrium has too few steps before the first fund end.")
    if times is None:
        idx = np.unique(np.linspace(0, max(last // 2, 0), n_times).round().astype(int))
    else:
        idx = np.array([int(np.argmin(np.abs(eq.times - t))) for t in times])
        if np.any(idx > last):
            raise ValueError(
                f"`times` must lie before t = {eq.times[last]:g} (the last step start with a "
                "step left before the first fund end)."
            )
    S = eq.aggregates["pressure"]
    ops = bw.ops
    pf = bw.price.transpose(1, 0, 2).reshape(M, K * N)
    out = {
        k: np.empty((idx.size, K, N))
        for k in ("residual", "time_derivative", "transport", "weights")
    }
    consistency = np.empty(idx.size)
    for j, n in enumerate(idx):
        h = float(pb.dt[n])
        m_n = eq.density[:, n]
        # U(t_n, ., m_n, S_n): a restart at t_n (time consistency: equals V_n)
        U_n = (
            restart_from(eq, n, m_n, float(S[n])).value0.reshape(-1)
            if n > 0
            else eq.value0.reshape(-1)
        )
        consistency[j] = float(np.max(np.abs(U_n - eq.value[:, n].reshape(-1))))
        # U(t_{n+1}, ., m_n, S_n) and its response to the change of state over the step
        up = restart_from(eq, n + 1, m_n, float(S[n]))
        dm = (eq.density[:, n + 1] - m_n).reshape(-1, 1)
        resp, _ = tangent_response(
            up, dm, dS0=np.array([float(S[n + 1] - S[n])]), linear_solver="gmres"
        )
        U_plus = up.value0.reshape(-1)
        dU = resp["V"][0][:, 0]
        W = U_plus + dU
        kk = bw.k[n]
        lhs = linalg.matvec(ops.al[n], ops.ad[n] + h * kk, ops.au[n], U_n)
        rhs = linalg.matvec(ops.rbl[n], ops.rbd[n], ops.rbu[n], W) + pb.hsrc[n] + h * kk * pf[n]
        out["residual"][j] = ((lhs - rhs) / h).reshape(K, N)
        out["time_derivative"][j] = ((U_plus - U_n) / h).reshape(K, N)
        out["transport"][j] = (dU / h).reshape(K, N)
        out["weights"][j] = m_n
    return MasterResidual(
        eq.times[idx].copy(),
        out["residual"],
        out["time_derivative"],
        out["transport"],
        consistency,
        out["weights"],
        {"steps": idx, "n_restarts": 2 * idx.size},
    )
