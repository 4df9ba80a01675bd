r"""The compiled engine of the mean-field game (``Numerics(engine="numba")``): the same kernels, compiled.

:mod:`gelav.mfg.kernels` holds the two sweeps once, as NumPy code; this module
compiles those functions with Numba, binding their tridiagonal primitives to
the Thomas kernels of :mod:`gelav.fd._numba` (the numba backend of
:mod:`gelav.fd.linalg`) instead of LAPACK. Elimination without pivoting is
exact here because every matrix solved — :math:`L_n = I - \theta\Delta t\,Q_n +
\Delta t\,\mathrm{diag}\,k_n`, the Newton Jacobian (a larger non-negative
diagonal) and their transposes — is a nonsingular M-matrix. Only the per-step
Python and LAPACK call overhead goes away; results agree with the NumPy engine
to rounding. Needs the optional extra ``numba`` (``pip install gelav[fast]``);
the kernels are compiled on first use (a few seconds per process).
"""

from __future__ import annotations

import types
from typing import Any

import numpy as np

__all__ = ["available", "kernels"]

_KERNELS: Any = None


def available() -> bool:
    """True when Numba can be imported."""
    from gelav.fd import _numba

    return _numba.available()


def kernels() -> Any:
    """The compiled kernels of :mod:`gelav.mfg.kernels` (a namespace: ``backward_sweep``, ``forward_sweep``, ...)."""
    global _KERNELS
    if _KERNELS is None:
        _KERNELS = _build()
    return _KERNELS


# -- the tridiagonal primitives of the kernels, on the numba backend of gelav.fd.linalg ---------------
def _solve_nb(dl: Any, d: Any, du: Any, b: Any) -> Any:  # pragma: no cover - jitted
    # the kernels' contract lets this overwrite ``b``: eliminate in place (one scratch band, no output array)
    _thomas(dl, d, du, b, b, np.empty(b.shape[0]))
    return b


def _solve_t_nb(dl: Any, d: Any, du: Any, b: Any) -> Any:  # pragma: no cover - jitted
    _thomas(du, d, dl, b, b, np.empty(b.shape[0]))  # the transpose: sub- and super-diagonal swapped
    return b


def _solve0_nb(lu0: Any, n: int, dl: Any, d: Any, du: Any, b: Any) -> Any:  # pragma: no cover - jitted
    out = np.empty_like(b)  # no cached factorisation here: one elimination (cheaper than LAPACK's call)
    _thomas(dl, d, du, b, out, np.empty_like(b))
    return out


def _solve0_t_nb(lu0: Any, n: int, dl: Any, d: Any, du: Any, b: Any) -> Any:  # pragma: no cover - jitted
    out = np.empty_like(b)
    _thomas(du, d, dl, b, out, np.empty_like(b))
    return out


def _dot_nb(a: Any, b: Any) -> float:  # pragma: no cover - jitted
    s = 0.0
    for i in range(a.shape[0]):
        s += a[i] * b[i]
    return s


def _apply_nb(d: Any, lo: Any, up: Any, x: Any) -> Any:  # pragma: no cover - jitted
    n = x.shape[0]
    out = np.empty(n)
    for i in range(n):
        s = d[i] * x[i]
        if i > 0:
            s += lo[i - 1] * x[i - 1]
        if i < n - 1:
            s += up[i] * x[i + 1]
        out[i] = s
    return out


def _apply_t_nb(d: Any, lo: Any, up: Any, x: Any) -> Any:  # pragma: no cover - jitted
    n = x.shape[0]
    out = np.empty(n)
    for i in range(n):
        s = d[i] * x[i]
        if i < n - 1:
            s += lo[i] * x[i + 1]
        if i > 0:
            s += up[i - 1] * x[i - 1]
        out[i] = s
    return out


def _newton_system_nb(ad: Any, al: Any, au: Any, W: Any, pi: Any, b: Any, inv_d: float,
                      hae: Any, check: bool) -> Any:  # pragma: no cover - jitted
    # gelav.mfg.kernels._newton_system in one loop, each expression evaluated in the same order
    n = W.shape[0]
    G = np.empty(n)
    J = np.empty(n)
    active = False
    for i in range(n):
        z = max(pi[i] - W[i], 0.0) * inv_d
        if z > 0.0:
            active = True
        u = 1.0 / (1.0 + z)
        hk = z * z * u * hae[i]
        s = ad[i] * W[i]
        if i > 0:
            s += al[i - 1] * W[i - 1]
        if i < n - 1:
            s += au[i] * W[i + 1]
        G[i] = s + hk * (W[i] - pi[i]) - b[i]
        J[i] = hk * u * (3.0 + 2.0 * z) + ad[i]
    return G, J, active


_thomas: Any = None


def _build() -> Any:
    from numba import njit

    from gelav.fd import _numba as fd_numba
    from gelav.mfg import kernels as src

    g = globals()
    g["_thomas"] = fd_numba.kernels().thomas
    prims = {name: njit(cache=True)(g[name + "_nb"]) for name in ("_solve", "_solve_t", "_solve0", "_solve0_t", "_dot", "_apply",
                                                      "_apply_t", "_newton_system")}
    # the kernels' own module namespace, with the primitives bound to the compiled ones
    ns: dict[str, Any] = dict(vars(src))
    ns.update(prims)
    out = {}
    for name in src.KERNELS:
        f = getattr(src, name)
        clone = types.FunctionType(f.__code__, ns, name, f.__defaults__, f.__closure__)
        ns[name] = out[name] = njit(cache=True)(clone)
    return types.SimpleNamespace(**out)
