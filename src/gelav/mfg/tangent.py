r"""The linearised forward–backward system of an equilibrium (tangent sweeps of the fixed-point map).

At an equilibrium :math:`Z^* = \Phi(Z^*; p_0)` (see :mod:`gelav.mfg.engine` for
the scheme and the notation) a perturbation :math:`\rho` of the starting node
masses moves the aggregate path by :math:`\delta Z` solving

.. math:: (I - \partial_Z\Phi)\,\delta Z = \partial_{p_0}\Phi\,\rho ,

and the value by :math:`\delta V = \partial_Z V\,\delta Z`. Each product with
:math:`\partial_Z\Phi` is one linear backward and one linear forward sweep with
the equilibrium's own step matrices (:meth:`Tangent.jvp`):

* environment: :math:`\delta\pi, \delta Q` from :math:`\delta Z` — the coupling is
  evaluated, never differentiated by hand: a centred difference of
  :meth:`~gelav.mfg.engine.Problem.environment` in the direction
  :math:`\delta Z` (with Richardson extrapolation of two steps, exact to rounding for the affine
  default price and population-independent dynamics; :math:`O(s^4)`,
  :math:`s = 10^{-3}` relative, for user couplings, buyers or fire-sale feedback);
* backward: differentiating the step :math:`L^0_n V_n + \Delta t\,k(V_n)(V_n - \pi_n)
  = \rho_n R_n V_{n+1} + \Delta t\,s^0_n`, :math:`k = \varepsilon^{-1}\varphi((\pi - V)/\delta)`,

  .. math:: (L^0_n + \mathrm{diag}\,j_n)\,\delta V_n = \rho_n R_n\,\delta V_{n+1}
      + \rho_n\,\delta R_n V_{n+1} - \delta L^0_n V_n + j_n\,\delta\pi_n ,
      \qquad j_n = \Delta t_n\varepsilon^{-1}\psi'(z_n),\ \psi(z) = z\varphi(z),

  :math:`\delta V_M = 0` — the exact derivative of the discrete best response
  (the relaxed exit intensity is :math:`C^1`; where nobody exits :math:`j_n = 0`);
* forward: differentiating :math:`q_n = L_n^{-\top}p_n`, :math:`p_{n+1} = R_n^\top q_n`,

  .. math:: \delta q_n = L_n^{-\top}\big(\delta p_n - \delta L_n^\top q_n\big), \qquad
      \delta p_{n+1} = R_n^\top\delta q_n + \delta R_n^\top q_n, \qquad
      \delta L_n = \delta L^0_n + \Delta t_n\,\mathrm{diag}\,\delta k_n ,

  :math:`\delta k_n = \varepsilon^{-1}\varphi'(z_n)(\delta\pi_n - \delta V_n)/\delta`, exits
  :math:`\delta E_n = \Delta t_n(\delta k_n\cdot q_n + k_n\cdot\delta q_n)`;
* aggregates: the moments are linear in the masses, the holders' mean
  :math:`S/H` is linearised, the selling pressure is affine in the exits.

Everything is vectorised over a trailing axis of directions (``C`` columns), so
one sweep carries many directions; every tridiagonal solve goes through
:mod:`gelav.fd.linalg` with the factorisations of the equilibrium's steps.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import NDArray

from gelav.fd import linalg

__all__ = ["NEWTON_HALVINGS", "NEWTON_MAX_STEPS", "Tangent", "newton"]

Array = NDArray[np.float64]


#: the bands of :class:`gelav.mfg.engine.StepOps`
_OPS = ("al", "ad", "au", "rbd", "rbl", "rbu", "rfd", "rfl", "rfu")


class Tangent:
    """The linearisation of the fixed-point map of ``eq`` at its aggregate path.

    Parameters
    ----------
    eq : Equilibrium
        A converged equilibrium (its ``path``, ``numerics``, grids and relaxation are reused),
        solved with ``Numerics(control="newton")`` (the default).

    Raises
    ------
    ValueError
        A lagged exit intensity (``control="lagged"``).
    """

    def __init__(self, eq: Any) -> None:
        from gelav.mfg.engine import Problem

        if eq.numerics.control != "newton":
            raise ValueError(
                f"The tangent linearises the implicit exit intensity (`control`='newton'); this "
                f"equilibrium uses {eq.numerics.control!r}: use method='fd'."
            )

        pb = Problem(
            eq.model,
            eq.numerics,
            start=float(eq.times[0]),
            grid=eq.grid,
            time_grid=eq.time_grid,
            initial_pressure=float(eq.initial_pressure),
        )
        eps = float(eq.diagnostics.get("epsilon"))
        delta = float(eq.diagnostics.get("temperature"))
        Z = np.asarray(eq.path, dtype=float)
        bw = pb.backward(Z, eps, delta)
        self._setup(pb, Z, bw, pb.forward(bw), eps, delta)

    @classmethod
    def at(cls, problem: Any, Z: Array, backward: Any, forward: Any, eps: float, delta: float) -> Tangent:
        r"""The linearisation of :math:`\Phi` at any path ``Z`` from its evaluation (no new sweep).

        ``backward``, ``forward``: the best response to ``Z`` and the population following it
        (:meth:`gelav.mfg.engine.Problem.phi`); ``eps``, ``delta``: the relaxation they used.
        The problem must use ``control="newton"`` (the implicit exit intensity).
        """
        if problem.numerics.control != "newton":
            raise ValueError(
                "The tangent linearises the implicit exit intensity (`control`='newton'); this "
                f"problem uses {problem.numerics.control!r}."
            )
        tan = cls.__new__(cls)
        tan._setup(problem, np.asarray(Z, dtype=float), backward, forward, float(eps), float(delta))
        return tan

    def _setup(self, pb: Any, Z: Array, bw: Any, fw: Any, eps: float, delta: float) -> None:
        self.pb = pb
        self.eps = eps
        self.delta = delta * pb.nav  # the temperature [NAV] in the units of the prices, as in Problem.backward
        self.Z = Z
        self.bw, self.fw = bw, fw
        K, M, N = pb.K, pb.M, pb.N
        self.KN = K * N
        pf = bw.price.transpose(1, 0, 2).reshape(M, K * N)
        ae = pb.alive_f / self.eps
        z = np.maximum(pf - bw.V[:-1], 0.0) / self.delta * (pb.alive_f > 0)
        u = 1.0 / (1.0 + z)
        phi = z * z * u
        h = pb.dt[:, None]
        self.j = h * ae * phi * u * (3.0 + 2.0 * z)  # Δt ψ'(z)/ε, the Newton Jacobian's exit part
        self.dk_dgap = ae * z * (2.0 + z) * u * u / self.delta  # ∂k/∂(π − V) = φ'(z)/(εδ)
        # steps where the exit intensity responds to the prices
        self.exits: NDArray[np.bool_] = np.asarray(self.dk_dgap.any(axis=1), dtype=bool)
        ops = bw.ops
        self.lu_backward = linalg.factor(ops.al, ops.ad + self.j, ops.au)
        self.lu_forward = bw.lu
        self.static = pb.static_Q
        self.price_scale = 1.0 + float(np.abs(self.Z).max())

    # -- pieces of the map -----------------------------------------------------------------
    def environment(self, dZ: Array) -> tuple[Array, Array, Any]:
        r"""``(δπ (M, KN), δmarket (K, M), δops)`` for one direction ``dZ`` (4, M); ``δops`` None for static dynamics."""
        pb = self.pb
        K, M = pb.K, pb.M
        size = float(np.abs(dZ).max())
        if size == 0.0:
            return np.zeros((M, self.KN)), np.zeros((K, M)), None
        s = 1e-3 * self.price_scale / size
        a, b = self._difference(dZ, s), self._difference(dZ, 0.5 * s)
        # Richardson on the centred differences: O(s^4), exact to rounding for affine environments
        dprice = (4.0 * b[0] - a[0]) / 3.0
        dmarket = (4.0 * b[1] - a[1]) / 3.0
        dops = None if self.static else {k: (4.0 * b[2][k] - a[2][k]) / 3.0 for k in _OPS}
        return dprice.transpose(1, 0, 2).reshape(M, self.KN), dmarket, dops

    def _difference(self, dZ: Array, s: float) -> tuple[Array, Array, Any]:
        """Centred difference of the environment with step ``s`` in the direction ``dZ``."""
        pb = self.pb
        ep = pb.environment(self.Z + s * dZ)
        em = pb.environment(self.Z - s * dZ)
        dops = None
        if not self.static:
            op, om = pb.step_ops(ep[3]), pb.step_ops(em[3])
            dops = {n: (getattr(op, n) - getattr(om, n)) / (2 * s) for n in _OPS}
        return (ep[0] - em[0]) / (2 * s), (ep[1] - em[1]) / (2 * s), dops

    def backward(self, dpf: Array, dops: list[Any] | None) -> Array:
        """Tangent of the best response: δV (M+1, KN, C) from the price changes ``dpf`` (M, KN, C)."""
        pb, ops, V = self.pb, self.bw.ops, self.bw.V
        M = pb.M
        C = dpf.shape[2]
        dV = np.zeros((M + 1, self.KN, C))
        src = self.j[:, :, None] * dpf  # the price terms of every step at once (0 where nobody exits)
        for n in range(M - 1, -1, -1):
            r = linalg.matvec(ops.rbl[n], ops.rbd[n], ops.rbu[n], dV[n + 1])
            if self.exits[n]:
                r += src[n]
            if dops is not None:
                for c, d in enumerate(dops):
                    if d is None:
                        continue
                    r[:, c] += linalg.matvec(d["rbl"][n], d["rbd"][n], d["rbu"][n], V[n + 1])
                    r[:, c] -= linalg.matvec(d["al"][n], d["ad"][n], d["au"][n], V[n])
            dV[n] = self.lu_backward[n].solve(r)
        return dV

    def forward(
        self, dV: Array, dpf: Array, dp0: Array, dops: list[Any] | None
    ) -> tuple[Array, Array]:
        """Tangent of the population: ``(δP (M+1, K, N, C), δexits (M, K, C))``."""
        pb, ops, bw, fw = self.pb, self.bw.ops, self.bw, self.fw
        K, M, N = pb.K, pb.M, pb.N
        C = dpf.shape[2]
        dP = np.empty((M + 1, self.KN, C))
        dQ = np.zeros((M, self.KN, C))
        dp = dp0.copy()
        for kk in range(K):
            if pb.end_idx[kk] <= 0:
                dp[kk * N : (kk + 1) * N] = 0.0
        dP[0] = dp
        h = pb.dt[:, None, None]
        # everything that does not depend on the recursion, for every step at once: the intensity
        # change δk (0 where nobody exits) and its killing of the mass, Δt δk q
        dk = self.dk_dgap[:, :, None] * (dpf - dV[:-1])
        kill = h * dk * fw.q[:, :, None]
        end_at = {int(e): kk for kk, e in enumerate(pb.end_idx)}
        for n in range(M):
            r = dp - kill[n] if self.exits[n] else dp
            if dops is not None:
                q = fw.q[n]
                for c, d in enumerate(dops):
                    if d is not None:
                        r[:, c] -= linalg.rmatvec(d["al"][n], d["ad"][n], d["au"][n], q)
            dq = self.lu_forward[n].solve(r, transpose=True)
            dQ[n] = dq
            # p = rfd*q, p[:-1] += rfl*q[1:], p[1:] += rfu*q[:-1]: the transpose of the backward R_n bands
            dp = linalg.matvec(ops.rfu[n], ops.rfd[n], ops.rfl[n], dq)
            if dops is not None:
                for c, d in enumerate(dops):
                    if d is not None:
                        dp[:, c] += linalg.matvec(d["rfu"][n], d["rfd"][n], d["rfl"][n], fw.q[n])
            dP[n + 1] = dp
            if n + 1 in end_at:
                for kk in range(K):
                    if pb.end_idx[kk] == n + 1:
                        dp[kk * N : (kk + 1) * N] = 0.0
        # exits Δt (δk q + k δq), summed over the nodes of each type (0 on steps nobody exits)
        dE = (kill + h * bw.k[:, :, None] * dQ).reshape(M, K, N, C).sum(axis=2)
        dE[~(np.asarray(bw.exiting, dtype=bool) | self.exits)] = 0.0
        return dP.reshape(M + 1, K, N, C), dE

    def aggregates(self, dP: Array, dE: Array) -> Array:
        """Tangent of :meth:`gelav.mfg.engine.Problem.aggregates`: δZ (4, M, C)."""
        pb, fw = self.pb, self.fw
        K = pb.K
        C = dP.shape[3]
        mw = pb.moment_weights
        mom = np.einsum("mknc,nj->mkjc", dP, mw)  # (M+1, K, 3, C)
        post = mom[:-1].copy()
        for k in range(K):
            post[pb.end_idx[k] :, k] = 0.0
        mid = np.einsum("k,mkjc->mjc", pb.weights, 0.5 * (post + mom[1:]))
        Z = fw.Z
        H = Z[3]
        ok = (H > 1e-300)[:, None]
        Hs = np.where(ok, H[:, None], 1.0)
        dm = np.where(ok, (mid[:, 2] - Z[2][:, None] * mid[:, 1]) / Hs, 0.0)
        E = fw.exits @ pb.weights
        base = pb.pressure(E)[0]
        dEw = np.einsum("mkc,k->mc", dE, pb.weights)
        # the pressure is affine in the exits: differences are exact
        dF = np.stack([pb.pressure(E + dEw[:, c])[0] - base for c in range(C)], axis=1)
        return np.stack((mid[:, 0], dF, dm, mid[:, 1]))

    # -- the linearised map --------------------------------------------------------------------
    def environment_columns(self, dZ: Array) -> tuple[Array, Array, list[Any] | None]:
        """:meth:`environment` for each column of ``dZ`` (4, M, C): δπ (M, KN, C), δmarket (K, M, C), the δops (None if static)."""
        C = dZ.shape[2]
        dpf = np.empty((self.pb.M, self.KN, C))
        dmk = np.empty((self.pb.K, self.pb.M, C))
        dops: list[Any] = []
        for c in range(C):
            dpf[:, :, c], dmk[:, :, c], d = self.environment(dZ[:, :, c])
            dops.append(d)
        return dpf, dmk, (None if self.static else dops)

    def response(self, dZ: Array, dp0: Array) -> dict[str, Array]:
        r"""Everything the linear map gives for the columns ``dZ`` (4, M, C) and ``dp0`` (KN, C).

        Keys ``image`` (:math:`\partial_Z\Phi\,\delta Z + \partial_{p_0}\Phi\,\delta p_0`, (4, M, C)),
        ``V`` (δV, (M+1, KN, C)), ``price`` (δπ, (M, KN, C)), ``market`` ((K, M, C)), ``P``, ``exits``.
        """
        dpf, dmk, dops = self.environment_columns(dZ)
        dV = self.backward(dpf, dops)
        dP, dE = self.forward(dV, dpf, dp0, dops)
        return {
            "image": self.aggregates(dP, dE),
            "V": dV,
            "price": dpf,
            "market": dmk,
            "P": dP,
            "exits": dE,
        }

    def jvp(self, dZ: Array) -> Array:
        r""":math:`\partial_Z\Phi\,\delta Z` for the columns ``dZ`` (4, M, C)."""
        return self.response(dZ, np.zeros((self.KN, dZ.shape[2])))["image"]

    def solve(
        self, b: Array, *, rtol: float, restart: int | None = None, maxiter: int | None = None
    ) -> tuple[Array, int, int]:
        r"""``δZ`` (4, M) solving :math:`(I - \partial_Z\Phi)\,\delta Z = b` by GMRES on :meth:`jvp`.

        Matrix-free (:func:`scipy.sparse.linalg.gmres`, relative tolerance ``rtol``, restart
        ``restart``, at most ``maxiter`` restart cycles; defaults ``min(n, 200)`` and
        ``n // 200 + 1`` for ``n = 4M`` unknowns). Returns ``(δZ, info, products)``: GMRES's
        ``info`` (0 when ``rtol`` is reached) and the tangent products used, one linear
        backward and one linear forward sweep each.
        """
        from scipy.sparse.linalg import LinearOperator, gmres

        shape = self.Z.shape
        n = int(np.prod(shape))
        count = [0]

        def mv(v: Array) -> Array:
            count[0] += 1
            return v - self.jvp(v.reshape(*shape, 1))[..., 0].ravel()  # type: ignore[no-any-return]

        x, info = gmres(
            LinearOperator((n, n), matvec=mv, dtype=float),  # a dtype: no probing product
            np.asarray(b, dtype=float).ravel(),
            rtol=rtol,
            atol=0.0,
            restart=min(n, 200) if restart is None else restart,
            maxiter=max(1, n // 200 + 1) if maxiter is None else maxiter,
        )
        return x.reshape(shape), int(info), count[0]

    def source(self, dp0: Array, dS0: Array | None = None) -> Array:
        r""":math:`\partial_{p_0}\Phi\,\delta p_0 + \partial_{S_0}\Phi\,\delta S_0` for the columns
        ``dp0`` (KN, C) and initial-pressure changes ``dS0`` (C,) (a forward sweep only)."""
        C = dp0.shape[1]
        M = self.pb.M
        zero = np.zeros((M, self.KN, C))
        dP, dE = self.forward(np.zeros((M + 1, self.KN, C)), zero, dp0, None)
        out = self.aggregates(dP, dE)
        if dS0 is not None:
            out[1] += self.pressure_memory()[:, None] * np.asarray(dS0, dtype=float)[None, :]
        return out

    def pressure_memory(self) -> Array:
        r""":math:`\partial F_n/\partial S_0` (M,): the step average of :math:`S' = (e - S)/\tau` from
        :math:`S_0 = 1` with no exits, :math:`\prod_{j<n} a_j\,\tau(1 - a_n)/\Delta t_n`,
        :math:`a_j = e^{-\Delta t_j/\tau}` (0 for the raw flow, :math:`\tau = 0`)."""
        pb = self.pb
        tau = pb.model.market.absorption_time
        if tau == 0:
            return np.zeros(pb.M)
        a = np.exp(-pb.dt / tau)
        return np.concatenate(([1.0], np.cumprod(a[:-1]))) * tau * (1.0 - a) / pb.dt  # type: ignore[no-any-return]


#: evaluations of Φ :func:`newton` spends before it gives up (it converges quadratically where
#: the map is smooth: 2-7 measured on the master field's chains)
NEWTON_MAX_STEPS = 30
#: step halvings of the backtracking line search before :func:`newton` gives up
NEWTON_HALVINGS = 3


def newton(ev: Any, Z: Array, tol: float, *, max_steps: int = NEWTON_MAX_STEPS) -> tuple[Array, int, bool]:
    r"""Newton's method on :math:`\Phi(Z) = Z` with the exact tangent as the Jacobian.

    Each step linearises the map at the latest evaluation (:meth:`Tangent.at`, no further sweep)
    and solves :math:`(I - \partial_Z\Phi(Z))\,\delta Z = \Phi(Z) - Z` by GMRES
    (:meth:`Tangent.solve`) to the relative forcing term
    :math:`\eta = \min(0.1, \max(0.1\,\mathrm{tol}/r, r^2))`, :math:`r = \|\Phi(Z) - Z\|_\infty`
    (a forcing term :math:`O(r)` keeps the convergence quadratic, and the floor
    :math:`0.1\,\mathrm{tol}/r` stops oversolving once the next residual will be below ``tol``;
    measured on the master field's chains: as many evaluations as the forcing
    :math:`0.1\,\mathrm{tol}/r` alone, with three quarters of its products). The step
    :math:`Z + \lambda\,\delta Z` is accepted at the first :math:`\lambda = 1, 1/2, \dots` whose
    residual falls below :math:`(1 - \lambda/10)\,r` (at most :data:`NEWTON_HALVINGS` halvings;
    the discrete map is only :math:`C^1` where exit regions start, and on coarse grids a full
    step can cycle). Every trial is one evaluation of Φ (``ev(Z, "newton")``).

    Parameters
    ----------
    ev : gelav.mfg.fixed_point.Evaluator
        The map at the target relaxation (``ev.eps``), for a problem with ``control="newton"``.
    Z : ndarray (4, M)
        Starting path.
    tol : float
        Stop when :math:`\|\Phi(Z) - Z\|_\infty <` ``tol`` (the returned path's evaluation is ``ev.last``).
    max_steps : int
        Evaluations of Φ before giving up.

    Returns
    -------
    (Z, products, converged)
        The fixed point (or, not converged, the iterate of the smallest residual), the tangent
        products used (one linear backward and one linear forward sweep each), and whether the
        residual reached ``tol``. Newton gives up when a step finds no decrease in its halvings,
        when a residual is not finite, or after ``max_steps`` evaluations: the caller continues
        with a globally convergent method.
    """
    products = 0
    image = ev(Z, "newton")
    r = ev.residual
    used = 1
    while math.isfinite(r):
        if r < tol:
            return Z, products, True
        last = ev.last
        try:
            tan = Tangent.at(ev.pb, Z, last.backward, last.forward, ev.eps, ev.delta)
            dZ, _, k = tan.solve(image - Z, rtol=min(0.1, max(0.1 * tol / r, r * r)), restart=60, maxiter=2)
        except (np.linalg.LinAlgError, FloatingPointError, ValueError):
            return Z, products, False  # a singular step matrix or a non-finite product
        products += k
        if not np.all(np.isfinite(dZ)):
            return Z, products, False
        lam = 1.0
        for _ in range(NEWTON_HALVINGS + 1):
            if used >= max_steps:
                return Z, products, False
            Zt = Z + lam * dZ
            try:
                image_t = ev(Zt, "newton")
            except FloatingPointError:  # the trial path left the map's domain
                return Z, products, False
            used += 1
            rt = ev.residual
            if rt < tol or rt <= (1.0 - 0.1 * lam) * r:
                break
            lam *= 0.5
        else:
            return Z, products, False
        Z, image, r = Zt, image_t, rt
    return Z, products, False
