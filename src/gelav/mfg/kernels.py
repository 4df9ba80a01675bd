r"""The two sweeps of the mean-field game, written once for both engines.

Backward (one best response), per step :math:`t_n \to t_{n+1}` on the stacked
types (see :mod:`gelav.mfg.engine` for the notation),

.. math::

    (L^0_n + \Delta t_n\,\mathrm{diag}\,k_n)\,V_n = b_n + \Delta t_n\,k_n\pi_n, \qquad
    b_n = \rho_n R_n V_{n+1} + \Delta t_n\,s^0_n, \qquad
    k_n = \varepsilon^{-1}\varphi\big((\pi_n - V_n)/\delta\big),

with the implicit exit intensity found by Newton's method (:func:`newton_step`),
taken from :math:`V_{n+1}` (lagged) or given (a fixed policy); forward, the
exact transpose :math:`q_n = L_n^{-\top}p_n`, :math:`p_{n+1} = R_n^\top q_n`.

The functions here are plain NumPy code that Numba can also compile. The
tridiagonal solves are the only backend-specific operations: they are the
module-level primitives ``_solve`` (a freshly built system, may overwrite its
arguments), ``_solve0`` (the no-exit system :math:`L^0_n`, from its cached
factorisation when there is one) and their transposes, which call
:mod:`gelav.fd.linalg` (LAPACK) here, and the Thomas kernels of
:mod:`gelav.fd._numba` in the compiled engine (:mod:`gelav.mfg._numba`
compiles these same functions with those primitives). The NumPy engine, the
compiled engine and Newton on all steps at once (:func:`newton_terms`,
:func:`exit_rate`, then :func:`backward_sweep` with the intensity frozen) all
run these kernels.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gelav.fd import linalg

__all__ = ["KERNELS", "backward_sweep", "exit_rate", "forward_sweep", "newton_step", "newton_terms", "rhs"]

#: Newton iterations per step before the step gives up improving (the last iterate is used)
MAX_NEWTON = 60

#: the functions the compiled engine compiles (in dependency order)
KERNELS = ("rhs", "newton_terms", "exit_rate", "newton_step", "backward_sweep", "forward_sweep")


# -- backend primitives (replaced by Thomas kernels in the compiled engine) -----------------------
def _solve(dl: Any, d: Any, du: Any, b: Any) -> Any:
    """Solve a freshly built tridiagonal system (``d`` and ``b`` may be overwritten)."""
    return linalg.solve(dl, d, du, b, overwrite=True)


def _solve_t(dl: Any, d: Any, du: Any, b: Any) -> Any:
    """Transposed solve of a freshly built system (``d`` and ``b`` may be overwritten)."""
    return linalg.solve(dl, d, du, b, transpose=True, overwrite=True)


def _solve0(lu0: Any, n: int, dl: Any, d: Any, du: Any, b: Any) -> Any:
    """Solve with the no-exit step matrix :math:`L^0_n` (its cached factorisation ``lu0[n]`` when given).

    Keeps ``d`` and ``b`` (both are used again)."""
    if lu0 is None:
        return linalg.solve(dl, d, du, b)
    return lu0[n].solve(b)


def _solve0_t(lu0: Any, n: int, dl: Any, d: Any, du: Any, b: Any) -> Any:
    r""":math:`(L^0_n)^{-\top} b` (keeps ``d``: it is the stored operator)."""
    if lu0 is None:
        return linalg.solve(dl, d, du, b, transpose=True)
    return lu0[n].solve(b, transpose=True)


def _dot(a: Any, b: Any) -> float:
    return float(a @ b)


def _apply(d: Any, lo: Any, up: Any, x: Any) -> Any:
    """Tridiagonal product ``d*x + lo*x[i-1] + up*x[i+1]`` (in this order: the compiled one rounds alike)."""
    out = d * x
    out[1:] += lo * x[:-1]
    out[:-1] += up * x[1:]
    return out


def _apply_t(d: Any, lo: Any, up: Any, x: Any) -> Any:
    """Transposed product ``d*x + lo*x[i+1] + up*x[i-1]`` (in this order)."""
    out = d * x
    out[:-1] += lo * x[1:]
    out[1:] += up * x[:-1]
    return out


def _newton_system(ad: Any, al: Any, au: Any, W: Any, pi: Any, b: Any, inv_d: float, hae: Any,
                   check: bool) -> tuple[Any, Any, bool]:
    r"""Residual :math:`G = L^0 W + \Delta t\,k(W)(W - \pi) - b`, Jacobian diagonal and whether anybody exits.

    The exit terms are :func:`newton_terms`; the compiled engine fuses the same
    expressions, in the same order, into one loop.
    """
    zp, u, hk = newton_terms(pi, W, inv_d, hae)
    G = _apply(ad, al, au, W) + hk * (W - pi) - b
    J = hk * u * (3.0 + 2.0 * zp) + ad
    return G, J, bool(zp.any()) if check else True  # whether anybody exits (asked from the 2nd iteration)


# -- the kernels ---------------------------------------------------------------------------------
def rhs(rbd: Any, rbl: Any, rbu: Any, hsrc: Any, V: Any) -> Any:
    r"""Right-hand side :math:`b_n = \rho_n R_n V_{n+1} + \Delta t_n s^0_n` of one step."""
    b = _apply(rbd, rbl, rbu, V)
    b += hsrc
    return b


def newton_terms(pi: Any, W: Any, inv_d: float, hae: Any) -> tuple[Any, Any, Any]:
    r"""Relaxed exit terms at the iterate ``W``: :math:`z_+ = (\pi - W)_+/\delta`, :math:`u = 1/(1+z_+)`
    and :math:`\Delta t\,k = \Delta t\,\varphi(z_+)/\varepsilon` (``hae`` = :math:`\Delta t/\varepsilon`
    where the type is alive), elementwise (any shape)."""
    zp = np.maximum(pi - W, 0.0) * inv_d
    u = 1.0 / (1.0 + zp)
    hk = zp * zp * u * hae
    return zp, u, hk


def exit_rate(pi: Any, W: Any, inv_d: float, ae: Any) -> Any:
    r"""Exit intensity :math:`k = \varepsilon^{-1}\varphi((\pi - W)/\delta)` [1/year], ``ae`` = alive/ε."""
    zp = np.maximum(pi - W, 0.0) * inv_d
    return zp * zp / (1.0 + zp) * ae


def newton_step(al: Any, ad: Any, au: Any, b: Any, pi: Any, W: Any, hae: Any, inv_d: float,
                smax2: float) -> tuple[Any, int]:
    r"""Newton's method for :math:`L^0 W + \Delta t\,k(W)(W - \pi) = b` from ``W``; returns ``(W, corrections)``.

    The Jacobian is tridiagonal with diagonal :math:`\mathrm{ad} + \Delta t\,(\varphi + z\varphi')/\varepsilon`,
    :math:`\varphi + z\varphi' = \varphi(3 + 2z)/(1 + z)`. Stops when the squared correction is below
    ``smax2`` (quadratic convergence: the error is then ~tol²/δ) or nobody exits at the iterate.
    """
    count = 0
    for it in range(MAX_NEWTON):
        G, J, active = _newton_system(ad, al, au, W, pi, b, inv_d, hae, it > 0)
        if it > 0 and not active:
            break
        dW = _solve(al, J, au, G)
        count += 1
        W = W - dW
        if _dot(dW, dW) <= smax2:
            break
    return W, count


def backward_sweep(al: Any, ad: Any, au: Any, rbd: Any, rbl: Any, rbu: Any, hsrc: Any, pf: Any, pc: Any,
                   alive: Any, ae: Any, eps: float, delta: float, dt: Any, Vs: Any, ks: Any, exiting: Any,
                   n_top: int, mode: int, gV: Any, has_guess: bool, g_exit: Any, policy: Any,
                   newton_tol: float, lu0: Any) -> int:
    r"""Backward steps ``n_top-1 .. 0`` in place (``Vs[n_top]`` given); returns the Newton corrections.

    ``mode`` 0: the implicit intensity by Newton's method per step, 1: lagged
    (from :math:`V_{n+1}`), 2: the fixed ``policy`` (M, KN). ``pf``/``pc``: prices
    (``pc`` is ``-inf`` where a type is dead); ``gV`` (with ``has_guess``): a
    previous best response to warm-start Newton, ``g_exit[n]``: whether it exits at
    step ``n``. Fills ``Vs``, ``ks`` (intensities) and ``exiting`` (steps with exits).

    A step where nobody exits is one solve with :math:`L^0_n`, accepted when
    :math:`\pi_n \le V_n` everywhere (then the intensity is exactly zero).
    """
    inv_d = 1.0 / delta
    tol2 = newton_tol * newton_tol
    n_newton = 0
    V = Vs[n_top]
    for n in range(n_top - 1, -1, -1):
        h = float(dt[n])
        b = rhs(rbd[n], rbl[n], rbu[n], hsrc[n], V)
        pi = pf[n]
        accepted = False
        Vn = V
        if mode == 2:
            kk = policy[n].copy()
        elif mode == 1:
            z = np.maximum((pi - V) / delta, 0.0)
            kk = z * z / (1.0 + z) / eps * alive[n]
        else:
            have_prev = n + 1 < n_top  # the next level was solved here: keep its value gap where it exited
            have_w = False
            W = V
            if (not has_guess) and have_prev and exiting[n + 1]:
                # cold start inside an exit episode: keep the next level's value gap where it exited
                W = np.where(pf[n + 1] > V, V + (pi - pf[n + 1]), V)
                have_w = True
            elif (not has_guess) or (not g_exit[n]):
                V0 = _solve0(lu0, n, al[n], ad[n], au[n], b)
                if not (pc[n] > V0).any():
                    Vn = V0  # nobody exits at this step: the exit intensity is exactly zero
                    accepted = True
                elif not has_guess:
                    # cold start: keep the next level's value gap where it exited
                    W = np.where(pf[n + 1] > V, V + (pi - pf[n + 1]), V0) if have_prev else V0
                    have_w = True
            kk = ks[n]  # zeros; replaced below unless accepted
            if not accepted:
                if not have_w:
                    # warm start: the previous best response, shifted by the change of the next level
                    W = gV[n] + (V - gV[n + 1])
                smax2 = (1.0 + float(np.abs(V).max())) ** 2 * tol2
                W, c = newton_step(al[n], ad[n], au[n], b, pi, W, h * ae[n], inv_d, smax2)
                n_newton += c
                kk = exit_rate(pi, W, inv_d, ae[n])
        if not accepted:
            if kk.any():
                hk = h * kk
                r = hk * pi
                r += b
                Vn = _solve(al[n], ad[n] + hk, au[n], r)
                ks[n] = kk
                exiting[n] = True
            else:
                Vn = _solve0(lu0, n, al[n], ad[n], au[n], b)
        V = Vn
        Vs[n] = V
    return n_newton


def forward_sweep(al: Any, ad: Any, au: Any, rfd: Any, rfl: Any, rfu: Any, k: Any, exiting: Any, dt: Any,
                  p: Any, n0: int, P: Any, qs: Any, end_idx: Any, N: int, lu0: Any) -> None:
    r"""Forward steps ``n0 .. M-1`` in place from the holders ``p`` at ``n0``: :math:`q_n = L_n^{-\top}p_n`,
    :math:`p_{n+1} = R_n^\top q_n` (``P``: (M+1, KN) holders, pre-payout at a fund end; a type's block is
    emptied after its fund end ``end_idx``)."""
    M = qs.shape[0]
    for n in range(n0, M):
        if exiting[n]:
            q = _solve_t(al[n], ad[n] + dt[n] * k[n], au[n], p)
        else:
            q = _solve0_t(lu0, n, al[n], ad[n], au[n], p)
        p = _apply_t(rfd[n], rfl[n], rfu[n], q)
        qs[n] = q
        P[n + 1] = p
        for j in range(end_idx.shape[0]):
            if end_idx[j] == n + 1:
                p[j * N:(j + 1) * N] = 0.0
