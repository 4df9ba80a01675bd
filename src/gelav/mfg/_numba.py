r"""Optional Numba kernels for the two sweeps of the mean-field game (``Numerics(engine="numba")``).

The same scheme as the NumPy engine of :mod:`gelav.mfg.engine`, step for step:
per step the Newton iteration for the implicit relaxed exit intensity (same
predictors, same stopping rule), then the frozen-intensity solve, and the
population by the exact transpose. Only the per-step Python and LAPACK call
overhead goes away: the tridiagonal systems are solved by the Thomas algorithm
without pivoting, which is stable here because every matrix solved — :math:`L_n
= I - \theta\Delta t\,Q_n + \Delta t\,\mathrm{diag}\,k_n`, the Newton Jacobian
(a larger non-negative diagonal) and their transposes — is a nonsingular
M-matrix (strictly diagonally dominant rows, non-positive off-diagonals).
Results agree with the NumPy engine to rounding. Needs the optional extra
``numba`` (``pip install gelav[fast]``); the kernels are compiled on first use
(≈ 3 s) and cached on disk next to this module when it is writable (later
processes load them in well under a second).
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["available", "kernels"]

_KERNELS: Any = None


def available() -> bool:
    """True when Numba can be imported."""
    try:
        import numba  # noqa: F401
    except ImportError:
        return False
    return True


def kernels() -> tuple[Any, Any]:
    """The compiled ``(backward, forward)`` sweep kernels (compiled once per process, cached on disk)."""
    global _KERNELS
    if _KERNELS is None:
        _KERNELS = _build()
    return _KERNELS


def _build() -> tuple[Any, Any]:
    from numba import njit

    # compile the module-level functions (module-level so that Numba can cache them on disk);
    # _backward and _forward call the compiled _thomas through the module global
    g = globals()
    g["_thomas"] = njit(cache=True)(_thomas_py)
    return njit(cache=True)(_backward_py), njit(cache=True)(_forward_py)


# -- the kernels (plain Python until compiled by _build) ---------------------------------
def _thomas_py(sub: Any, d: Any, sup: Any, rhs: Any, out: Any, cw: Any) -> None:  # pragma: no cover - jitted
    # solves the tridiagonal system with sub-diagonal sub (n-1), diagonal d (n), super-diagonal sup (n-1)
    n = d.shape[0]
    inv = 1.0 / d[0]
    out[0] = rhs[0] * inv
    for i in range(1, n):
        c = sup[i - 1] * inv
        cw[i - 1] = c
        inv = 1.0 / (d[i] - sub[i - 1] * c)
        out[i] = (rhs[i] - sub[i - 1] * out[i - 1]) * inv
    for i in range(n - 2, -1, -1):
        out[i] -= cw[i] * out[i + 1]


def _backward_py(al: Any, ad: Any, au: Any, rbd: Any, rbl: Any, rbu: Any, hsrc: Any, pf: Any, pc: Any,
                 alive: Any, inv_eps: float, dt: Any, inv_d: float, Vs: Any, ks: Any, exiting: Any, n_top: int,
                 mode: int, gV: Any, has_guess: bool, policy: Any, newton_tol: float) -> int:  # pragma: no cover
    # mode 0: Newton for the implicit intensity; 1: intensity lagged from the next level; 2: fixed policy
    KN = Vs.shape[1]
    b = np.empty(KN)
    W = np.empty(KN)
    G = np.empty(KN)
    J = np.empty(KN)
    dW = np.empty(KN)
    kk = np.empty(KN)
    Vn = np.empty(KN)
    cw = np.empty(KN)
    tol2 = newton_tol * newton_tol
    n_newton = 0
    M = ks.shape[0]
    for n in range(n_top - 1, -1, -1):
        h = dt[n]
        V = Vs[n + 1]
        b[0] = rbd[n, 0] * V[0] + rbu[n, 0] * V[1] + hsrc[n, 0]
        for i in range(1, KN - 1):
            b[i] = rbd[n, i] * V[i] + rbl[n, i - 1] * V[i - 1] + rbu[n, i] * V[i + 1] + hsrc[n, i]
        b[KN - 1] = rbd[n, KN - 1] * V[KN - 1] + rbl[n, KN - 2] * V[KN - 2] + hsrc[n, KN - 1]
        accepted = False
        if mode == 2:
            for i in range(KN):
                kk[i] = policy[n, i]
        elif mode == 1:
            for i in range(KN):
                z = (pf[n, i] - V[i]) * inv_d
                kk[i] = z * z / (1.0 + z) * (alive[n, i] * inv_eps) if z > 0.0 else 0.0
        else:
            have_w = False
            prev_exit = n + 1 < M and exiting[n + 1]
            g_exit = False
            if has_guess:
                for i in range(KN):
                    if pc[n, i] > gV[n, i]:
                        g_exit = True
                        break
            if (not has_guess) and prev_exit:
                # cold start inside an exit episode: keep the next level's value gap where it exited
                for i in range(KN):
                    W[i] = V[i] + (pf[n, i] - pf[n + 1, i]) if pf[n + 1, i] > V[i] else V[i]
                have_w = True
            elif (not has_guess) or (not g_exit):
                _thomas(al[n], ad[n], au[n], b, Vn, cw)
                any_exit = False
                for i in range(KN):
                    if pc[n, i] > Vn[i]:
                        any_exit = True
                        break
                if not any_exit:
                    accepted = True  # nobody exits at this step: the exit intensity is exactly zero
                elif not has_guess:
                    if n + 1 < n_top:  # keep the next level's value gap where it exited
                        for i in range(KN):
                            W[i] = V[i] + (pf[n, i] - pf[n + 1, i]) if pf[n + 1, i] > V[i] else Vn[i]
                    else:
                        for i in range(KN):
                            W[i] = Vn[i]
                    have_w = True
            if not accepted:
                if not have_w:
                    for i in range(KN):
                        W[i] = gV[n, i] + (V[i] - gV[n + 1, i])
                smax = 0.0
                for i in range(KN):
                    smax = max(smax, abs(V[i]))
                smax2 = (1.0 + smax) ** 2 * tol2
                for it in range(60):
                    active = False
                    for i in range(KN):
                        z = (pf[n, i] - W[i]) * inv_d
                        if z > 0.0:
                            active = True
                            u = 1.0 / (1.0 + z)
                            hk = z * z * u * h * (alive[n, i] * inv_eps)
                            J[i] = ad[n, i] + hk * u * (3.0 + 2.0 * z)
                            G[i] = ad[n, i] * W[i] + hk * (W[i] - pf[n, i]) - b[i]
                        else:
                            J[i] = ad[n, i]
                            G[i] = ad[n, i] * W[i] - b[i]
                    if it > 0 and not active:
                        break
                    for i in range(1, KN):
                        G[i] += al[n, i - 1] * W[i - 1]
                    for i in range(KN - 1):
                        G[i] += au[n, i] * W[i + 1]
                    _thomas(al[n], J, au[n], G, dW, cw)
                    n_newton += 1
                    s = 0.0
                    for i in range(KN):
                        W[i] -= dW[i]
                        s += dW[i] * dW[i]
                    if s <= smax2:
                        break
                for i in range(KN):
                    z = (pf[n, i] - W[i]) * inv_d
                    kk[i] = z * z / (1.0 + z) * (alive[n, i] * inv_eps) if z > 0.0 else 0.0
        if accepted:
            for i in range(KN):
                Vs[n, i] = Vn[i]
            continue
        nz = False
        for i in range(KN):
            if kk[i] != 0.0:
                nz = True
                break
        if nz:
            for i in range(KN):
                J[i] = ad[n, i] + h * kk[i]
                G[i] = b[i] + h * kk[i] * pf[n, i]
                ks[n, i] = kk[i]
            exiting[n] = True
            _thomas(al[n], J, au[n], G, Vn, cw)
        else:
            _thomas(al[n], ad[n], au[n], b, Vn, cw)
        for i in range(KN):
            Vs[n, i] = Vn[i]
    return n_newton


def _forward_py(al: Any, ad: Any, au: Any, rfd: Any, rfl: Any, rfu: Any, k: Any, exiting: Any, dt: Any,
                p0: Any, n0: int, P: Any, qs: Any, exits: Any, end_idx: Any, N: int) -> None:  # pragma: no cover
    # P: (M+1, KN) holders (pre-payout at a fund end); p0: running holders at n0
    M = qs.shape[0]
    KN = p0.shape[0]
    p = p0.copy()
    q = np.empty(KN)
    d = np.empty(KN)
    cw = np.empty(KN)
    for n in range(n0, M):
        if exiting[n]:
            for i in range(KN):
                d[i] = ad[n, i] + dt[n] * k[n, i]
        else:
            for i in range(KN):
                d[i] = ad[n, i]
        _thomas(au[n], d, al[n], p, q, cw)  # the transpose: sub- and super-diagonal swapped
        if exiting[n]:
            for j in range(end_idx.shape[0]):
                e = 0.0
                for i in range(j * N, (j + 1) * N):
                    e += k[n, i] * q[i]
                exits[n, j] = dt[n] * e
        for i in range(KN):
            p[i] = rfd[n, i] * q[i]
        for i in range(KN - 1):
            p[i] += rfl[n, i] * q[i + 1]
            p[i + 1] += rfu[n, i] * q[i]
        for i in range(KN):
            qs[n, i] = q[i]
            P[n + 1, i] = p[i]
        for j in range(end_idx.shape[0]):
            if end_idx[j] == n + 1:
                for i in range(j * N, (j + 1) * N):
                    p[i] = 0.0


_thomas: Any = _thomas_py
