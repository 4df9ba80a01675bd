r"""Numba kernels of :mod:`gelav.fd.linalg` (the ``backend="numba"`` implementation).

The same operations as the LAPACK backend, compiled: the Thomas algorithm
(tridiagonal elimination without pivoting, exact for the nonsingular
M-matrices gelav solves), a stored elimination for factor-once-solve-many,
and the Brennan–Schwartz projected elimination. Numba is optional: nothing
here imports it until :func:`kernels` is called. The compiled functions can be
called from other jitted code (the mean-field-game sweeps do), e.g.::

    from gelav.fd import _numba
    thomas = _numba.kernels().thomas      # thomas(dl, d, du, b, out, work)
"""

from __future__ import annotations

from types import SimpleNamespace
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


def kernels() -> Any:
    """The compiled kernels (a namespace: ``thomas``, ``factor``, ``lu_solve``, ``lu_solve_columns``,
    ``brennan_schwartz_lower``), compiled once per process and cached on disk."""
    global _KERNELS
    if _KERNELS is None:
        from numba import njit

        jit = njit(cache=True)
        _KERNELS = SimpleNamespace(
            thomas=jit(thomas_py),
            factor=jit(factor_py),
            lu_solve=jit(lu_solve_py),
            lu_solve_columns=jit(lu_solve_columns_py),
            brennan_schwartz_lower=jit(brennan_schwartz_lower_py),
        )
    return _KERNELS


# -- the kernels (plain Python until compiled by kernels()) ------------------------------------
def thomas_py(dl: Any, d: Any, du: Any, b: Any, out: Any, work: Any) -> None:  # pragma: no cover - jitted
    """Solve ``A out = b`` in place for bands ``dl`` (n-1), ``d`` (n), ``du`` (n-1); ``work`` has length >= n-1."""
    n = d.shape[0]
    inv = 1.0 / d[0]
    out[0] = b[0] * inv
    for i in range(1, n):
        c = du[i - 1] * inv
        work[i - 1] = c
        inv = 1.0 / (d[i] - dl[i - 1] * c)
        out[i] = (b[i] - dl[i - 1] * out[i - 1]) * inv
    for i in range(n - 2, -1, -1):
        out[i] -= work[i] * out[i + 1]


def factor_py(dl: Any, d: Any, du: Any) -> Any:  # pragma: no cover - jitted
    """The Thomas elimination stored: ``(dl, c, inv)`` with ``c[i] = du[i] / piv[i]`` and ``inv = 1 / piv``."""
    n = d.shape[0]
    c = np.empty(max(n - 1, 0))
    inv = np.empty(n)
    inv[0] = 1.0 / d[0]
    for i in range(1, n):
        c[i - 1] = du[i - 1] * inv[i - 1]
        inv[i] = 1.0 / (d[i] - dl[i - 1] * c[i - 1])
    return dl.copy(), c, inv


def lu_solve_py(dl: Any, c: Any, inv: Any, b: Any) -> Any:  # pragma: no cover - jitted
    n = inv.shape[0]
    out = np.empty(n)
    out[0] = b[0] * inv[0]
    for i in range(1, n):
        out[i] = (b[i] - dl[i - 1] * out[i - 1]) * inv[i]
    for i in range(n - 2, -1, -1):
        out[i] -= c[i] * out[i + 1]
    return out


def lu_solve_columns_py(dl: Any, c: Any, inv: Any, b: Any) -> Any:  # pragma: no cover - jitted
    n, m = b.shape
    out = np.empty((n, m))
    for j in range(m):
        out[0, j] = b[0, j] * inv[0]
    for i in range(1, n):
        for j in range(m):
            out[i, j] = (b[i, j] - dl[i - 1] * out[i - 1, j]) * inv[i]
    for i in range(n - 2, -1, -1):
        for j in range(m):
            out[i, j] -= c[i] * out[i + 1, j]
    return out


def brennan_schwartz_lower_py(sub: Any, diag: Any, sup: Any, rhs: Any, g: Any) -> Any:
    """Brennan–Schwartz towards the lower end (the one implementation: plain Python or compiled)."""
    n = diag.shape[0]
    d = diag.copy()
    r = rhs.copy()
    for i in range(n - 2, -1, -1):  # eliminate the super-diagonal from the top row down
        f = sup[i] / d[i + 1]
        d[i] -= f * sub[i + 1]
        r[i] -= f * r[i + 1]
    u = np.empty(n)
    u[0] = max(r[0] / d[0], g[0])
    for i in range(1, n):
        u[i] = max((r[i] - sub[i] * u[i - 1]) / d[i], g[i])
    return u
