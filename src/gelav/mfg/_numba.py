r"""The compiled engine of the mean-field game (``Numerics(engine="numba")``): the same kernels, compiled.

:mod:`gelav.mfg.kernels` holds the two sweeps once, as NumPy code; this module
compiles those functions with Numba, binding their tridiagonal primitives to
the Thomas kernels of :func:`gelav.fd.linalg.numba_kernels` (the numba backend
of :mod:`gelav.fd.linalg`) instead of LAPACK. Elimination without pivoting is
exact here because every matrix solved — :math:`L_n = I - \theta\Delta t\,Q_n +
\Delta t\,\mathrm{diag}\,k_n`, the Newton Jacobian (a larger non-negative
diagonal) and their transposes — is a nonsingular M-matrix. Only the per-step
Python and LAPACK call overhead goes away; results agree with the NumPy engine
to rounding. Needs the optional extra ``numba`` (``pip install gelav[fast]``);
the kernels are compiled on first use (a few seconds per process) and cached on
disk under names carrying :func:`sources_digest` (a changed primitive is recompiled).
"""

from __future__ import annotations

import types
from typing import Any

__all__ = ["available", "kernels", "sources_digest"]

_KERNELS: Any = None


def available() -> bool:
    """True when Numba can be imported."""
    from gelav.fd import linalg

    return linalg.numba_available()


def kernels() -> Any:
    """The compiled kernels of :mod:`gelav.mfg.kernels` (a namespace: ``backward_sweep``, ``forward_sweep``, ...)."""
    global _KERNELS
    if _KERNELS is None:
        _KERNELS = _build()
    return _KERNELS


# -- the primitives of the kernels, on the numba backend of gelav.fd.linalg (no allocation) ---------
def _row_nb(aux: Any, r: int) -> Any:  # pragma: no cover - jitted
    return 0  # no per-row solver data: every solve is one elimination


def _solve_nb(fac: Any, dl: Any, d: Any, du: Any, b: Any, out: Any, cw: Any) -> Any:  # pragma: no cover
    _thomas(dl, d, du, b, out, cw)  # ``out`` may be ``b``: the elimination runs in place
    return out


def _solve_t_nb(fac: Any, dl: Any, d: Any, du: Any, b: Any, out: Any, cw: Any) -> Any:  # pragma: no cover
    _thomas(du, d, dl, b, out, cw)  # the transpose: sub- and super-diagonal swapped
    return out


def _solve_keep_nb(fac: Any, dl: Any, d: Any, du: Any, b: Any, out: Any, cw: Any, keep: Any,
                   n: int) -> Any:  # pragma: no cover - jitted
    _thomas(dl, d, du, b, out, cw)  # nothing kept: the compiled forward sweep eliminates again (cheaper)
    return out


def _solve_t_kept_nb(fac: Any, dl: Any, ad: Any, du: Any, k: Any, h: float, b: Any, out: Any, d: Any, cw: Any,
                     kept: Any, n: int) -> Any:  # pragma: no cover - jitted
    for i in range(ad.shape[0]):  # _diag_add
        d[i] = ad[i] + k[i] * h
    _thomas(du, d, dl, b, out, cw)
    return out


def _solve0_nb(fac: Any, dl: Any, d: Any, du: Any, b: Any, out: Any, cw: Any) -> Any:  # pragma: no cover
    _thomas(dl, d, du, b, out, cw)  # no cached factorisation here: one elimination (cheaper than LAPACK's call)
    return out


def _solve0_t_nb(fac: Any, dl: Any, d: Any, du: Any, b: Any, out: Any, cw: Any) -> Any:  # pragma: no cover
    _thomas(du, d, dl, b, out, cw)
    return out


def _descend_nb(W: Any, dW: Any) -> float:  # pragma: no cover - jitted
    s = 0.0
    for i in range(W.shape[0]):
        W[i] -= dW[i]
        s += dW[i] * dW[i]
    return s


def _shift_nb(gn: Any, gn1: Any, V: Any, out: Any) -> float:  # pragma: no cover - jitted
    m = 0.0
    for i in range(V.shape[0]):
        out[i] = gn[i] + (V[i] - gn1[i])
        m = max(m, abs(V[i]))
    return m


def _shift3_nb(gn: Any, gn1: Any, gn2: Any, gn3: Any, V: Any, V2: Any, V3: Any, w: Any, out: Any,
               tmp: Any) -> float:  # pragma: no cover - jitted
    m = 0.0
    w0, w1, w2 = w[0], w[1], w[2]
    for i in range(V.shape[0]):
        out[i] = gn[i] + (((V[i] - gn1[i]) * w0 + (V2[i] - gn2[i]) * w1) + (V3[i] - gn3[i]) * w2)
        m = max(m, abs(V[i]))
    return m


def _diag_add_nb(ad: Any, k: Any, h: float, out: Any) -> Any:  # pragma: no cover - jitted
    for i in range(ad.shape[0]):
        out[i] = ad[i] + k[i] * h
    return out


def _nonzero_nb(x: Any) -> bool:  # pragma: no cover - jitted
    for i in range(x.shape[0]):
        if x[i] != 0.0:
            return True
    return False


def _positive_part_nb(x: Any) -> Any:  # pragma: no cover - jitted
    for i in range(x.shape[0]):
        x[i] = max(x[i], 0.0)
    return x


def _absmax_nb(x: Any) -> float:  # pragma: no cover - jitted
    m = 0.0
    for i in range(x.shape[0]):
        m = max(m, abs(x[i]))
    return m


def _exceeds_nb(a: Any, b: Any) -> bool:  # pragma: no cover - jitted
    for i in range(a.shape[0]):
        if a[i] > b[i]:
            return True
    return False


def _gap_start_nb(pf1: Any, V: Any, pi: Any, other: Any, out: Any) -> Any:  # pragma: no cover - jitted
    for i in range(V.shape[0]):
        out[i] = V[i] + (pi[i] - pf1[i]) if pf1[i] > V[i] else other[i]
    return out


def _gap_start3_nb(pf1: Any, pf2: Any, pf3: Any, V: Any, V2: Any, V3: Any, pi: Any, w: Any, out: Any,
                   tmp: Any) -> Any:  # pragma: no cover - jitted
    w0, w1, w2 = w[0], w[1], w[2]
    for i in range(V.shape[0]):
        if pf1[i] > V[i]:
            out[i] = pi[i] - (((pf1[i] - V[i]) * w0 + (pf2[i] - V2[i]) * w1) + (pf3[i] - V3[i]) * w2)
        else:
            out[i] = (V[i] * w0 + V2[i] * w1) + V3[i] * w2
    return out


def _exit_rate_nb(pi: Any, W: Any, inv_d: float, ae: Any, out: Any, tmp: Any) -> Any:  # pragma: no cover
    for i in range(W.shape[0]):
        z = max(pi[i] - W[i], 0.0) * inv_d
        out[i] = z * z / (1.0 + z) * ae[i]
    return out


def _exit_rate_system_nb(pi: Any, W: Any, inv_d: float, ae: Any, h: float, b: Any, ad: Any, kk: Any, J: Any, G: Any,
                         tmp: Any) -> bool:  # pragma: no cover - jitted
    active = False
    for i in range(W.shape[0]):
        z = max(pi[i] - W[i], 0.0) * inv_d
        k = z * z / (1.0 + z) * ae[i]
        kk[i] = k
        if k != 0.0:
            active = True
        hk = k * h
        G[i] = hk * pi[i] + b[i]
        J[i] = ad[i] + hk
    return active


def _exit_system_nb(kk: Any, h: float, pi: Any, b: Any, ad: Any, J: Any, G: Any) -> None:  # pragma: no cover
    for i in range(kk.shape[0]):
        hk = kk[i] * h
        G[i] = hk * pi[i] + b[i]
        J[i] = ad[i] + hk


def _apply_nb(d: Any, lo: Any, up: Any, x: Any, out: Any) -> Any:  # pragma: no cover - jitted
    n = x.shape[0]
    for i in range(n):
        s = d[i] * x[i]
        if i > 0:
            s += lo[i - 1] * x[i - 1]
        if i < n - 1:
            s += up[i] * x[i + 1]
        out[i] = s
    return out


def _apply_add_nb(d: Any, lo: Any, up: Any, x: Any, add: Any, out: Any) -> Any:  # pragma: no cover - jitted
    n = x.shape[0]
    for i in range(n):
        s = d[i] * x[i]
        if i > 0:
            s += lo[i - 1] * x[i - 1]
        if i < n - 1:
            s += up[i] * x[i + 1]
        out[i] = s + add[i]
    return out


def _apply_t_nb(d: Any, lo: Any, up: Any, x: Any, out: Any) -> Any:  # pragma: no cover - jitted
    n = x.shape[0]
    for i in range(n):
        s = d[i] * x[i]
        if i < n - 1:
            s += lo[i] * x[i + 1]
        if i > 0:
            s += up[i - 1] * x[i - 1]
        out[i] = s
    return out


def _newton_system_nb(ad: Any, al: Any, au: Any, W: Any, pi: Any, b: Any, inv_d: float, hae: Any,
                      check: bool, G: Any, J: Any) -> bool:  # pragma: no cover - jitted
    # gelav.mfg.kernels._newton_system in one loop, each expression evaluated in the same order
    n = W.shape[0]
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
    return active if check else True


_thomas: Any = None

#: the backend-specific primitives of :mod:`gelav.mfg.kernels` (each ``<name>_nb`` here)
PRIMITIVES = ("_row", "_solve", "_solve_keep", "_solve_t", "_solve_t_kept", "_solve0", "_solve0_t", "_descend", "_shift", "_diag_add", "_nonzero",
              "_positive_part",
              "_absmax", "_exceeds", "_gap_start", "_gap_start3", "_shift3", "_exit_rate", "_exit_rate_system",
              "_exit_system", "_apply", "_apply_add", "_apply_t",
              "_newton_system")


def sources_digest(paths: Any = None) -> str:
    """A digest of the sources the compiled kernels are built from (``paths``: default this module,
    :mod:`gelav.mfg.kernels` and :mod:`gelav.fd._numba`, the Thomas kernel the primitives call).

    Numba's disk cache watches only the file that defines a function: a kernel of
    :mod:`gelav.mfg.kernels` compiled against the primitives here would be loaded stale
    after a primitive (or the Thomas kernel) changed. Every compiled function's name carries
    this digest, so a changed source is a new cache entry.
    """
    import hashlib
    from pathlib import Path

    if paths is None:
        from gelav.fd import _numba as fd_numba
        from gelav.mfg import kernels as src

        paths = (__file__, src.__file__, fd_numba.__file__)
    h = hashlib.sha256()
    for p in paths:
        h.update(Path(p).read_bytes())
    return h.hexdigest()[:16]


def _named(f: Any, ns: dict[str, Any], name: str, tag: str) -> Any:
    """``f`` with globals ``ns`` under the name ``<name>_<tag>`` (the disk-cache key of numba)."""
    clone = types.FunctionType(f.__code__, ns, name, f.__defaults__, f.__closure__)
    clone.__qualname__ = f"{name}_{tag}"
    return clone


def _build() -> Any:
    from numba import njit

    from gelav.fd import linalg
    from gelav.mfg import kernels as src

    g = globals()
    g["_thomas"] = linalg.numba_kernels().thomas
    tag = sources_digest()
    prims = {name: njit(cache=True)(_named(g[name + "_nb"], g, name + "_nb", tag)) for name in PRIMITIVES}
    # the kernels' own module namespace, with the primitives bound to the compiled ones
    ns: dict[str, Any] = dict(vars(src))
    ns.update(prims)
    out = {}
    for name in src.KERNELS:
        ns[name] = out[name] = njit(cache=True)(_named(getattr(src, name), ns, name, tag))
    return types.SimpleNamespace(**out)
