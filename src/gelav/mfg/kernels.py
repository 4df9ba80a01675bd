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
tridiagonal solves and a few fused loops are the only backend-specific
operations: they are the module-level primitives ``_solve`` (a freshly built
system, may overwrite its right-hand side), ``_solve0`` (the no-exit system
:math:`L^0_n`, from its cached factorisation when there is one), their
transposes, the tridiagonal products and the Newton residual, which call
:mod:`gelav.fd.linalg` (bare in-place LAPACK calls) here, and the Thomas kernels of
:func:`gelav.fd.linalg.numba_kernels` in the compiled engine. Each operator row
carries backend data (``aux``, read by ``_row``): for the NumPy engine the cached
``?gttrf`` factors of :math:`L^0` and the symmetrizer :math:`D` with which every
matrix of the row (Newton Jacobian, frozen-intensity step, transposes: they differ
from :math:`L^0` on the diagonal only) is solved as a symmetric positive definite
system by ``?ptsv``; nothing for the compiled engine
(:mod:`gelav.mfg._numba` compiles these same functions with those
primitives). The NumPy engine, the compiled engine and Newton on all steps at
once (:func:`newton_terms`, :func:`exit_rate`, then :func:`backward_sweep`
with the intensity frozen) all run these kernels.

No kernel allocates inside its step loop: the sweeps take a scratch block
``work`` (:data:`N_WORK` rows of the state length, see :func:`work`) and every
elementwise operation writes into a row of it (ufuncs with an output array, in
the same order of operations as the expressions they replace, so the results
are the same to the last bit); each primitive returns its result, held in the
``out`` row it is given (the LAPACK backend may return another array instead,
except for the transposed solves, which always fill ``out``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gelav.fd import linalg

__all__ = ["KERNELS", "N_WORK", "backward_sweep", "exit_rate", "forward_sweep", "newton_step", "newton_terms", "rhs",
           "work"]

#: Newton iterations per step before the step gives up improving (the last iterate is used)
MAX_NEWTON = 60

#: the functions the compiled engine compiles (in dependency order)
KERNELS = ("rhs", "newton_terms", "exit_rate", "newton_step", "backward_sweep", "forward_sweep")


# -- backend primitives (replaced by compiled loops in the compiled engine) -------------------------
def _row(aux: Any, r: int) -> Any:
    """The solver data of operator row ``r`` (``aux[r]``; None without any: every solve is then ``?gtsv``)."""
    return None if aux is None else aux[r]


def _solve(fac: Any, dl: Any, d: Any, du: Any, b: Any, out: Any, cw: Any) -> Any:
    r"""Solve a freshly built tridiagonal system (bands of the row whose data is ``fac``, diagonal ``d``) into
    ``out`` (may be ``b``; ``d`` and ``b`` may be overwritten; ``cw``: scratch).

    One bare LAPACK call in place: ``?ptsv`` on the symmetrised system :math:`D^{-1}S^{-1}(Db)` when the
    row has a symmetrizer (``fac[1]``, :func:`gelav.fd.linalg.symmetrizer`: the step matrices differ from
    the row's :math:`L^0` only on the diagonal, which the similarity keeps), else ``?gtsv``.
    """
    sym = None if fac is None else fac[1]
    if sym is None:
        if out is not b:
            np.copyto(out, b)
        return linalg.solve_inplace(dl, d, du, out)
    np.multiply(b, sym[0], out)
    linalg.ptsv_inplace(d, sym[2], out)
    return np.multiply(out, sym[1], out)


def _solve_t(fac: Any, dl: Any, d: Any, du: Any, b: Any, out: Any, cw: Any) -> Any:
    r"""Transposed solve of a freshly built system into ``out`` (``d`` may be overwritten, ``b`` is kept):
    :math:`D S^{-1}(D^{-1}b)` with the row's symmetrizer, else ``?gtsv`` on the swapped bands."""
    sym = None if fac is None else fac[1]
    if sym is None:
        np.copyto(out, b)
        return linalg.solve_inplace(du, d, dl, out)
    np.multiply(b, sym[1], out)
    linalg.ptsv_inplace(d, sym[2], out)
    return np.multiply(out, sym[0], out)


def _solve_keep(fac: Any, dl: Any, d: Any, du: Any, b: Any, out: Any, cw: Any, keep: Any, n: int) -> Any:
    r""":func:`_solve` of step ``n``'s frozen-intensity system, keeping its factorisation when ``keep`` is
    given: ``(Df, Ef, kept)``, rows ``Df[n]``, ``Ef[n]`` for the diagonal and subdiagonal of
    :math:`LDL^\top` (:func:`gelav.fd.linalg.ptsv_factor_inplace`) and ``kept[n]`` whether they hold it
    (the symmetrised ``?ptsv`` rows; a ``?gtsv`` row keeps nothing), for the transposed solve of the
    forward sweep (:func:`_solve_t_kept`)."""
    sym = None if fac is None else fac[1]
    if keep is None or sym is None:
        if keep is not None:
            keep[2][n] = False
        return _solve(fac, dl, d, du, b, out, cw)
    df, ef = keep[0][n], keep[1][n]
    np.copyto(df, d)
    np.copyto(ef, sym[2])
    np.multiply(b, sym[0], out)
    linalg.ptsv_factor_inplace(df, ef, out)
    keep[2][n] = True
    return np.multiply(out, sym[1], out)


def _solve_t_kept(fac: Any, dl: Any, ad: Any, du: Any, k: Any, h: float, b: Any, out: Any, d: Any, cw: Any,
                  kept: Any, n: int) -> Any:
    r"""Transposed solve of step ``n`` with diagonal ``ad + h k`` into ``out`` (``d``: scratch for the
    diagonal): from the factorisation the backward sweep kept (``kept`` as ``keep`` of :func:`_solve_keep`:
    the same matrix, so the same numbers without refactorising, :math:`D\,S^{-1}(D^{-1}b)`), else
    :func:`_diag_add` and :func:`_solve_t`."""
    if kept is None or not kept[2][n]:
        _diag_add(ad, k, h, d)
        return _solve_t(fac, dl, d, du, b, out, cw)
    sym = fac[1]
    np.multiply(b, sym[1], out)
    linalg.pttrs_inplace(kept[0][n], kept[1][n], out)
    return np.multiply(out, sym[0], out)


def _solve0(fac: Any, dl: Any, d: Any, du: Any, b: Any, out: Any, cw: Any) -> Any:
    """Solve with the no-exit step matrix :math:`L^0_n` into ``out`` (its cached factorisation ``fac[0]``,
    raw LAPACK factors, when given). Keeps ``d`` and ``b`` (both are used again)."""
    lu = None if fac is None else fac[0]
    if lu is None:
        np.copyto(cw, d)
        return _solve(fac, dl, cw, du, b, out, cw)
    np.copyto(out, b)
    return linalg.lu_solve_inplace(lu, out)


def _solve0_t(fac: Any, dl: Any, d: Any, du: Any, b: Any, out: Any, cw: Any) -> Any:
    r""":math:`(L^0_n)^{-\top} b` into ``out`` (keeps ``d``: it is the stored operator)."""
    lu = None if fac is None else fac[0]
    if lu is None:
        np.copyto(cw, d)
        return _solve_t(fac, dl, cw, du, b, out, cw)
    np.copyto(out, b)
    return linalg.lu_solve_inplace(lu, out, True)


def _nonzero(x: Any) -> bool:
    """Whether ``x`` has a nonzero (or NaN) entry."""
    return bool(np.count_nonzero(x))


def _positive_part(x: Any) -> Any:
    r"""``x`` replaced by :math:`\max(x, 0)` in place (a NaN stays NaN)."""
    return np.maximum(x, 0.0, out=x)


def _descend(W: Any, dW: Any) -> float:
    r"""A Newton correction: ``W -= dW`` in place; returns :math:`\|dW\|_2^2`."""
    W -= dW
    return float(dW @ dW)


def _absmax(x: Any) -> float:
    return float(np.abs(x).max())


def _exceeds(a: Any, b: Any) -> bool:
    """Whether ``a > b`` anywhere."""
    return bool((a > b).any())


def _shift(gn: Any, gn1: Any, V: Any, out: Any) -> float:
    r"""Warm start ``gn + (V - gn1)`` (a previous best response shifted by the change of the next level)
    into ``out``; returns :math:`\max|V|`."""
    np.subtract(V, gn1, out)
    np.add(gn, out, out)
    return float(np.abs(V).max())


def _shift3(gn: Any, gn1: Any, gn2: Any, gn3: Any, V: Any, V2: Any, V3: Any, w: Any, out: Any,
            tmp: Any) -> float:
    r"""Warm start: the previous best response ``gn`` plus its change at the next three levels
    (:math:`d_j = V_{n+j} - g_{n+j}`) extrapolated to this level, ``gn + ((w0 d1 + w1 d2) + w2 d3)``
    with the weights ``w`` of :meth:`gelav.mfg.engine.Problem` (Lagrange, quadratic in time), into
    ``out`` (``tmp``: scratch); returns :math:`\max|V|`."""
    np.subtract(V, gn1, out)
    np.multiply(out, w[0], out)
    np.subtract(V2, gn2, tmp)
    np.multiply(tmp, w[1], tmp)
    np.add(out, tmp, out)
    np.subtract(V3, gn3, tmp)
    np.multiply(tmp, w[2], tmp)
    np.add(out, tmp, out)
    np.add(gn, out, out)
    return float(np.abs(V).max())


def _diag_add(ad: Any, k: Any, h: float, out: Any) -> Any:
    r"""Main diagonal :math:`\mathrm{ad} + \Delta t\,k` of :math:`L_n` into ``out``."""
    np.multiply(k, h, out)
    np.add(ad, out, out)
    return out


def _gap_start(pf1: Any, V: Any, pi: Any, other: Any, out: Any) -> Any:
    r"""Predictor keeping the next level's value gap where it exited: ``V + (pi - pf1)`` where
    ``pf1 > V``, else ``other``."""
    out[...] = np.where(pf1 > V, V + (pi - pf1), other)
    return out


def _gap_start3(pf1: Any, pf2: Any, pf3: Any, V: Any, V2: Any, V3: Any, pi: Any, w: Any, out: Any,
                tmp: Any) -> Any:
    r"""Cold predictor from the next three levels extrapolated to this one (Lagrange weights ``w``): where
    the next level exited (``pf1 > V``) its value gap :math:`g_j = \pi_{n+j} - V_{n+j}`,
    ``pi - ((w0 g1 + w1 g2) + w2 g3)``, elsewhere the value, ``(w0 V + w1 V2) + w2 V3``; into ``out``
    (``tmp``: scratch)."""
    np.multiply(V, w[0], tmp)
    tmp += V2 * w[1]
    tmp += V3 * w[2]  # the value, extrapolated
    g = (pf1 - V) * w[0]
    g += (pf2 - V2) * w[1]
    g += (pf3 - V3) * w[2]
    np.subtract(pi, g, g)  # the gap, extrapolated
    out[...] = np.where(pf1 > V, g, tmp)
    return out


def _exit_rate(pi: Any, W: Any, inv_d: float, ae: Any, out: Any, tmp: Any) -> Any:
    """:func:`exit_rate` (the compiled engine fuses it into one loop)."""
    np.subtract(pi, W, out)
    _positive_part(out)
    np.multiply(out, inv_d, out)  # z+
    np.add(out, 1.0, tmp)
    np.multiply(out, out, out)
    np.divide(out, tmp, out)
    np.multiply(out, ae, out)
    return out


def _exit_rate_system(pi: Any, W: Any, inv_d: float, ae: Any, h: float, b: Any, ad: Any, kk: Any, J: Any, G: Any,
                      tmp: Any) -> bool:
    """:func:`_exit_rate` at ``W`` into ``kk`` and, when anybody exits, :func:`_exit_system` into ``J``, ``G``;
    returns whether anybody exits (the compiled engine fuses the three into one loop)."""
    np.subtract(pi, W, kk)  # _exit_rate, inline
    np.maximum(kk, 0.0, out=kk)
    np.multiply(kk, inv_d, kk)
    np.add(kk, 1.0, tmp)
    np.multiply(kk, kk, kk)
    np.divide(kk, tmp, kk)
    np.multiply(kk, ae, kk)
    if not _nonzero(kk):
        return False
    np.multiply(kk, h, J)  # _exit_system, inline
    np.multiply(J, pi, G)
    np.add(G, b, G)
    np.add(ad, J, J)
    return True


def _exit_system(kk: Any, h: float, pi: Any, b: Any, ad: Any, J: Any, G: Any) -> None:
    r"""The step with the exit intensity ``kk`` frozen: diagonal ``J`` = :math:`\mathrm{ad} + \Delta t\,k` and
    right-hand side ``G`` = :math:`b + \Delta t\,k\pi` (written into the given rows)."""
    np.multiply(kk, h, J)  # Δt k
    np.multiply(J, pi, G)
    np.add(G, b, G)
    np.add(ad, J, J)


def _apply(d: Any, lo: Any, up: Any, x: Any, out: Any) -> Any:
    """Tridiagonal product ``d*x + lo*x[i-1] + up*x[i+1]`` into ``out`` (in this order: the compiled one
    rounds alike)."""
    np.multiply(d, x, out=out)
    out[1:] += lo * x[:-1]
    out[:-1] += up * x[1:]
    return out


def _apply_add(d: Any, lo: Any, up: Any, x: Any, add: Any, out: Any) -> Any:
    """:func:`_apply`, then ``+ add``, into ``out``."""
    np.multiply(d, x, out=out)
    out[1:] += lo * x[:-1]
    out[:-1] += up * x[1:]
    out += add
    return out


def _apply_t(d: Any, lo: Any, up: Any, x: Any, out: Any) -> Any:
    """Transposed product ``d*x + lo*x[i+1] + up*x[i-1]`` into ``out`` (in this order)."""
    np.multiply(d, x, out=out)
    out[:-1] += lo * x[1:]
    out[1:] += up * x[:-1]
    return out


def _newton_system(ad: Any, al: Any, au: Any, W: Any, pi: Any, b: Any, inv_d: float, hae: Any,
                   check: bool, G: Any, J: Any) -> bool:
    r"""Residual :math:`G = L^0 W + \Delta t\,k(W)(W - \pi) - b` and Jacobian diagonal ``J`` (written into
    the given rows); returns whether anybody exits (asked from the 2nd iteration, else True).

    The exit terms are :func:`newton_terms`; the compiled engine fuses the same
    expressions, in the same order, into one loop.
    """
    s = pi - W  # newton_terms, inline
    zp = np.maximum(s, 0.0)
    zp *= inv_d
    u = zp + 1.0
    np.divide(1.0, u, out=u)
    hk = zp * zp
    hk *= u
    hk *= hae
    _apply(ad, al, au, W, G)
    t = s * hk  # G + (W - pi) hk == G - (pi - W) hk to the bit: one subtraction less
    G -= t
    G -= b
    np.multiply(hk, u, out=J)
    np.multiply(zp, 2.0, out=t)
    t += 3.0
    J *= t
    J += ad
    return _nonzero(zp) if check else True


# -- the kernels ---------------------------------------------------------------------------------
#: rows of the scratch block the sweeps take (:func:`work`)
N_WORK = 8


def correction_sweep(rows: Any, al: Any, ad: Any, au: Any, rbd: Any, rbl: Any, rbu: Any, aux: Any, F: Any,
                     Jd: Any, active: Any, D: Any, r: Any, cw: Any) -> None:
    r"""The correction of Newton's method on all steps at once: :math:`J_n\delta_n - R_n\delta_{n+1} = -F_n`,
    :math:`\delta_{n_{top}} = 0`, solved backwards in time into ``D`` (one row per step).

    ``F`` the residuals, ``Jd`` the Jacobian's diagonals (its off-diagonals are the operator row's ``al``,
    ``au``), ``active`` whether anybody exits at a step (else the no-exit matrix :math:`L^0_n` with diagonal
    ``ad``, from its cached factors); ``r`` and ``cw`` work vectors. The NumPy engine's loop of primitives
    (bare in-place LAPACK calls); :meth:`gelav.mfg.engine.Problem` calls it."""
    d = np.zeros(r.size)
    for n in range(len(active) - 1, -1, -1):
        row = rows[n]
        _apply(rbd[row], rbl[row], rbu[row], d, r)
        r -= F[n]
        if active[n]:
            d = _solve(aux[row], al[row], Jd[n], au[row], r, D[n], cw)
        else:
            d = _solve0(aux[row], al[row], ad[row], au[row], r, D[n], cw)


def work(n: int) -> Any:
    """A scratch block for :func:`backward_sweep` and :func:`forward_sweep` on states of length ``n``."""
    return np.empty((N_WORK, n))


def rhs(rbd: Any, rbl: Any, rbu: Any, hsrc: Any, V: Any, out: Any) -> Any:
    r"""Right-hand side :math:`b_n = \rho_n R_n V_{n+1} + \Delta t_n s^0_n` of one step, into ``out``."""
    return _apply_add(rbd, rbl, rbu, V, hsrc, out)


def newton_terms(pi: Any, W: Any, inv_d: float, hae: Any, zp: Any, u: Any, hk: Any) -> tuple[Any, Any, Any]:
    r"""Relaxed exit terms at the iterate ``W``: :math:`z_+ = (\pi - W)_+/\delta`, :math:`u = 1/(1+z_+)`
    and :math:`\Delta t\,k = \Delta t\,\varphi(z_+)/\varepsilon` (``hae`` = :math:`\Delta t/\varepsilon`
    where the type is alive), elementwise (any shape), written into ``zp``, ``u``, ``hk``."""
    np.subtract(pi, W, zp)
    _positive_part(zp)
    np.multiply(zp, inv_d, zp)
    np.add(zp, 1.0, u)
    np.divide(1.0, u, u)
    np.multiply(zp, zp, hk)
    np.multiply(hk, u, hk)
    np.multiply(hk, hae, hk)
    return zp, u, hk


def exit_rate(pi: Any, W: Any, inv_d: float, ae: Any, out: Any, tmp: Any) -> Any:
    r"""Exit intensity :math:`k = \varepsilon^{-1}\varphi((\pi - W)/\delta)` [1/year], ``ae`` = alive/ε,
    into ``out`` (``tmp``: scratch of the same shape), elementwise (any shape)."""
    return _exit_rate(pi, W, inv_d, ae, out, tmp)


def newton_step(fac: Any, al: Any, ad: Any, au: Any, b: Any, pi: Any, W: Any, hae: Any, inv_d: float,
                smax2: float, G: Any, J: Any, cw: Any) -> int:
    r"""Newton's method for :math:`L^0 W + \Delta t\,k(W)(W - \pi) = b` from ``W`` (updated in place);
    returns the number of corrections (``G``, ``J``, ``cw``: scratch rows; ``fac``: the row's solver data).

    The Jacobian is tridiagonal with diagonal :math:`\mathrm{ad} + \Delta t\,(\varphi + z\varphi')/\varepsilon`,
    :math:`\varphi + z\varphi' = \varphi(3 + 2z)/(1 + z)`. Stops when the squared correction is below
    ``smax2`` (quadratic convergence: the error is then ~tol²/δ) or nobody exits at the iterate.
    """
    count = 0
    for it in range(MAX_NEWTON):
        active = _newton_system(ad, al, au, W, pi, b, inv_d, hae, it > 0, G, J)
        if it > 0 and not active:
            break
        dW = _solve(fac, al, J, au, G, G, cw)
        count += 1
        if _descend(W, dW) <= smax2:
            break
    return count


def backward_sweep(al: Any, ad: Any, au: Any, rbd: Any, rbl: Any, rbu: Any, rows: Any, hsrc: Any, pf: Any, pc: Any,
                   alive: Any, ae: Any, eps: float, delta: float, dt: Any, Vs: Any, ks: Any, exiting: Any,
                   n_top: int, mode: int, gV: Any, has_guess: bool, g_exit: Any, policy: Any,
                   newton_tol: float, unit: float, aux: Any, xw: Any, work: Any, keep: Any = None) -> int:
    r"""Backward steps ``n_top-1 .. 0`` in place (``Vs[n_top]`` given); returns the Newton corrections.

    Step ``n`` uses row ``rows[n]`` of the bands and of the backend's solver data ``aux`` (NumPy: per row
    the cached factorisation of :math:`L^0` and the symmetrizer, see :func:`_solve`; None: none).

    ``mode`` 0: the implicit intensity by Newton's method per step, 1: lagged
    (from :math:`V_{n+1}`), 2: the fixed ``policy`` (M, KN). ``pf``/``pc``: prices
    (``pc`` is ``-inf`` where a type is dead); ``gV`` (with ``has_guess``): a
    previous best response to warm-start Newton (steps where it exits skip the
    trial no-exit solve), ``g_exit[n]`` (int8): 1 if it exits at step ``n``, 0 if
    not, -1 to test it here; ``xw`` (M, 3): the weights extrapolating levels ``n+1 .. n+3`` to level
    ``n`` (the Newton predictors); ``work``: a scratch block (:func:`work`); ``keep``: None, or where
    the NumPy engine keeps the factorisation of every frozen-intensity step for the forward sweep
    (:func:`_solve_keep`). Fills ``Vs``, ``ks`` (intensities) and ``exiting`` (steps with
    exits).

    A step where nobody exits is one solve with :math:`L^0_n`, accepted when
    :math:`\pi_n \le V_n` everywhere (then the intensity is exactly zero).
    """
    M = Vs.shape[0] - 1
    inv_d = 1.0 / delta
    tol2 = newton_tol * newton_tol
    n_newton = 0
    bw, W, G, J, cw, tmp = work[0], work[1], work[2], work[3], work[5], work[7]
    V = Vs[n_top]
    for n in range(n_top - 1, -1, -1):
        h = float(dt[n])
        r = rows[n]
        sl, sd, su = al[r], ad[r], au[r]
        fac = _row(aux, r)
        b = rhs(rbd[r], rbl[r], rbu[r], hsrc[n], V, bw)
        pi = pf[n]
        accepted = False
        exits = False
        Vn = Vs[n]  # every branch solves into its level
        kk = ks[n]  # the intensity is written in place (a fixed policy is copied below)
        if mode == 2:
            kk = policy[n]
        elif mode == 1:
            np.subtract(pi, V, kk)
            np.divide(kk, delta, kk)
            _positive_part(kk)  # z
            np.add(kk, 1.0, tmp)
            np.multiply(kk, kk, kk)
            np.divide(kk, tmp, kk)
            np.divide(kk, eps, kk)
            np.multiply(kk, alive[n], kk)  # z²/(1 + z)/ε · alive
        else:
            have_prev = n + 1 < n_top  # the next level was solved here: keep its value gap where it exited
            have_w = False
            if (not has_guess) and have_prev and exiting[n + 1]:
                # cold start inside an exit episode: extrapolate the next two levels (their value gap where
                # the next one exited); keep the next level's gap when there is one level only
                if n + 3 < pf.shape[0]:
                    _gap_start3(pf[n + 1], pf[n + 2], pf[n + 3], V, Vs[n + 2], Vs[n + 3], pi, xw[n], W, G)
                else:
                    _gap_start(pf[n + 1], V, pi, V, W)
                have_w = True
            elif (not has_guess) or g_exit[n] == 0 or (g_exit[n] < 0 and not _exceeds(pc[n], gV[n])):
                Vz = _solve0(fac, sl, sd, su, b, Vn, cw)
                if not _exceeds(pc[n], Vz):
                    accepted = True  # nobody exits at this step: the exit intensity is exactly zero
                elif not has_guess:
                    # cold start: keep the next level's value gap where it exited
                    if have_prev:
                        _gap_start(pf[n + 1], V, pi, Vz, W)
                    else:
                        W[:] = Vz
                    have_w = True
            if not accepted:
                if have_w:
                    vmax = _absmax(V)
                else:
                    # warm start: the previous best response shifted by its change at the next levels,
                    # extrapolated in time (levels past the last one have weight 0)
                    i2, i3 = min(n + 2, M), min(n + 3, M)
                    vmax = _shift3(gV[n], gV[n + 1], gV[i2], gV[i3], V, Vs[i2], Vs[i3], xw[n], W, G)
                smax2 = (unit + vmax) ** 2 * tol2  # relative to the values, or to one NAV (``unit``) near 0
                np.multiply(ae[n], h, tmp)  # Δt/ε where alive
                n_newton += newton_step(fac, sl, sd, su, b, pi, W, tmp, inv_d, smax2, G, J, cw)
                exits = _exit_rate_system(pi, W, inv_d, ae[n], h, b, sd, kk, J, G, tmp)
        if not accepted:
            if mode != 0:
                exits = _nonzero(kk)
                if exits:
                    _exit_system(kk, h, pi, b, sd, J, G)
            if exits:
                _solve_keep(fac, sl, J, su, G, Vn, cw, keep, n)
                if mode == 2:
                    ks[n] = kk
                exiting[n] = True
            else:
                _solve0(fac, sl, sd, su, b, Vn, cw)
        V = Vn
    return n_newton


def forward_sweep(al: Any, ad: Any, au: Any, rfd: Any, rfl: Any, rfu: Any, rows: Any, k: Any, exiting: Any, dt: Any,
                  p: Any, n0: int, P: Any, qs: Any, end_idx: Any, N: int, aux: Any, work: Any,
                  kept: Any = None) -> None:
    r"""Forward steps ``n0 .. M-1`` in place from the holders ``p`` at ``n0``: :math:`q_n = L_n^{-\top}p_n`,
    :math:`p_{n+1} = R_n^\top q_n` (``P``: (M+1, KN) holders, pre-payout at a fund end; a type's block is
    emptied after its fund end ``end_idx``); step ``n`` uses row ``rows[n]`` of the bands and of ``aux``;
    ``work``: a scratch block (:func:`work`); ``kept``: None, or the factorisations the backward sweep
    kept (:func:`_solve_keep`; the forward solves are their transposes)."""
    M = qs.shape[0]
    d, pw, cw = work[0], work[1], work[2]
    for n in range(n0, M):
        r = rows[n]
        fac = _row(aux, r)
        if exiting[n]:
            q = _solve_t_kept(fac, al[r], ad[r], au[r], k[n], dt[n], p, qs[n], d, cw, kept, n)  # into ``qs[n]``
        else:
            q = _solve0_t(fac, al[r], ad[r], au[r], p, qs[n], cw)
        p = _apply_t(rfd[r], rfl[r], rfu[r], q, P[n + 1])  # straight into the holders' level
        ends = False
        for j in range(len(end_idx)):
            if end_idx[j] == n + 1:
                ends = True
        if ends:  # a fund end: the pre-payout masses stay in P, the sweep goes on without the block
            pw[:] = p
            for j in range(len(end_idx)):
                if end_idx[j] == n + 1:
                    pw[j * N:(j + 1) * N] = 0.0
            p = pw
