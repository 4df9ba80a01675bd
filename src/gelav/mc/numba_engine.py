r"""Optional Numba kernel for :func:`gelav.montecarlo.simulate` (``engine="numba"``).

The NumPy engine is limited by how fast NumPy fills buffers with normals. This
kernel never stores a normal: groups of 64 paths are advanced from start to
horizon in L1-resident scratch, each path drawing its normals from its own
counter-based stream (the 64 independent dependency chains overlap in the CPU's
pipeline), and groups are spread over the cores with ``numba.prange``.

Random numbers
--------------
Path ``i`` has the SplitMix64 stream :math:`u_k = \mathrm{mix}(s_i + k\gamma)`
(Steele, Lea & Flood 2014; the generator behind Java's ``SplittableRandom``,
which passes BigCrush), with the start :math:`s_i` hashed from the run's
SeedSequence and the path index, so a path's numbers depend on the seed and
its index only — never on chunks, threads or Dask workers. Normals come from
the 256-layer ziggurat of Marsaglia & Tsang (2000) in NumPy's 52-bit layout.
With ``antithetic``, paths ``2j`` and ``2j+1`` share stream ``j`` with opposite signs.

The numbers differ from the NumPy engine's (another generator), but have the
same law; the tests check both against closed forms. Numba is an optional
extra (``pip install numba``); only the built-in processes with closed-form
steps are supported (Ornstein–Uhlenbeck, Brownian motion, geometric Brownian
motion; schemes ``exact``, ``euler``, ``milstein``), without barriers.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

if TYPE_CHECKING:
    from gelav.processes.protocol import ProcessLike

__all__ = ["available", "kernel_coefficients", "run_paths"]


def available() -> bool:
    try:
        import numba  # noqa: F401
    except ImportError:
        return False
    return True


def _ziggurat_tables() -> tuple[NDArray[np.uint64], NDArray[np.float64], NDArray[np.float64]]:
    r, v = 3.6541528853610088, 0.00492867323399
    two52 = 2.0**52
    ki = np.zeros(256, dtype=np.uint64)
    wi = np.zeros(256)
    fi = np.zeros(256)
    dn = tn = r
    q = v / math.exp(-0.5 * dn * dn)
    ki[0] = np.uint64(int((dn / q) * two52))
    ki[1] = np.uint64(0)
    wi[0] = q / two52
    wi[255] = dn / two52
    fi[0] = 1.0
    fi[255] = math.exp(-0.5 * dn * dn)
    for i in range(254, 0, -1):
        dn = math.sqrt(-2.0 * math.log(v / dn + math.exp(-0.5 * dn * dn)))
        ki[i + 1] = np.uint64(int((dn / tn) * two52))
        tn = dn
        fi[i] = math.exp(-0.5 * dn * dn)
        wi[i] = dn / two52
    return ki, wi, fi


_KERNEL: Any = None


def _build() -> Any:
    global _KERNEL
    if _KERNEL is not None:
        return _KERNEL
    import numba
    from numba import njit, prange, uint64

    KI, WI, FI = _ziggurat_tables()
    R = 3.6541528853610088
    INV_R = 1.0 / R
    GAMMA = uint64(0x9E3779B97F4A7C15)
    M1 = uint64(0xBF58476D1CE4E5B9)
    M2 = uint64(0x94D049BB133111EB)
    S30, S27, S31 = uint64(30), uint64(27), uint64(31)
    S8, S1, S11 = uint64(8), uint64(1), uint64(11)
    MASK52 = uint64(0x000FFFFFFFFFFFFF)
    FF = uint64(0xFF)
    ONE = uint64(1)

    @njit(inline="always")
    def mix(z: Any) -> Any:
        z = (z ^ (z >> S30)) * M1
        z = (z ^ (z >> S27)) * M2
        return z ^ (z >> S31)

    @njit(inline="always")
    def next_u64(s: Any) -> Any:
        s = s + GAMMA
        return mix(s), s

    @njit(inline="always")
    def next_double(s: Any) -> Any:
        u, s = next_u64(s)
        return (u >> S11) * (1.0 / 9007199254740992.0), s

    @njit(inline="always")
    def normal(s: Any, ki: Any, wi: Any, fi: Any) -> Any:
        while True:
            r, s = next_u64(s)
            idx = r & FF
            r = r >> S8
            sign = r & ONE
            rabs = (r >> S1) & MASK52
            x = rabs * wi[idx]
            if sign == ONE:
                x = -x
            if rabs < ki[idx]:
                return x, s
            if idx == 0:
                while True:
                    u1, s = next_double(s)
                    u2, s = next_double(s)
                    xx = -INV_R * math.log1p(-u1)
                    yy = -math.log1p(-u2)
                    if yy + yy > xx * xx:
                        if (rabs >> S8) & ONE:
                            return -(R + xx), s
                        return R + xx, s
            else:
                u, s = next_double(s)
                if (fi[idx - 1] - fi[idx]) * u + fi[idx] < math.exp(-0.5 * x * x):
                    return x, s

    G = 64  # paths advanced together: independent dependency chains overlap in the CPU (≈1.6× faster)

    @njit(parallel=True, cache=False)
    def kernel(out: Any, first: Any, n: Any, x0: Any, kind: Any, c0: Any, c1: Any, c2: Any, c3: Any,
               n_steps: Any, save_idx: Any, key: Any, antithetic: Any, ki: Any, wi: Any, fi: Any) -> None:
        # kind 0: affine  x' = c0 x + c1 + c2 z
        # kind 1: multiplicative exp  x' = x exp(c1 + c2 z)
        # kind 2: multiplicative poly x' = x (c0 + c2 z + c3 z^2)
        n_save = save_idx.shape[0]
        n_groups = (n + G - 1) // G
        for g in prange(n_groups):
            lo = g * G
            m = min(G, n - lo)
            xs = np.empty(G)
            ss = np.empty(G, dtype=np.uint64)
            sg = np.empty(G)
            for j in range(m):
                i = first + lo + j
                if antithetic:
                    sid = i // 2
                    sg[j] = 1.0 - 2.0 * (i % 2)
                else:
                    sid = i
                    sg[j] = 1.0
                ss[j] = mix(key ^ mix(uint64(sid) * GAMMA + GAMMA))
                xs[j] = x0
            si = 0
            if n_save > 0 and save_idx[0] == 0:
                for j in range(m):
                    out[0, lo + j] = x0
                si = 1
            for step in range(n_steps):
                if kind == 0:
                    for j in range(m):
                        z, s = normal(ss[j], ki, wi, fi)
                        ss[j] = s
                        xs[j] = c0 * xs[j] + c1 + c2 * (sg[j] * z)
                elif kind == 1:
                    for j in range(m):
                        z, s = normal(ss[j], ki, wi, fi)
                        ss[j] = s
                        xs[j] = xs[j] * math.exp(c1 + c2 * (sg[j] * z))
                else:
                    for j in range(m):
                        z, s = normal(ss[j], ki, wi, fi)
                        ss[j] = s
                        z = sg[j] * z
                        xs[j] = xs[j] * (c0 + c2 * z + c3 * z * z)
                if si < n_save and save_idx[si] == step + 1:
                    for j in range(m):
                        out[si, lo + j] = xs[j]
                    si += 1

    _KERNEL = (kernel, KI, WI, FI, numba)
    return _KERNEL


def kernel_coefficients(process: ProcessLike, scheme: str, dt: float) -> tuple[int, float, float, float, float]:
    """``(kind, c0, c1, c2, c3)`` of the closed-form step, or raise ValueError."""
    from gelav.processes import BrownianMotion, GeometricBrownianMotion, OrnsteinUhlenbeck
    from gelav.processes.protocol import name_of, params_of

    sq = math.sqrt(dt)
    t = type(process)
    p = params_of(process)  # a built-in family's own parameters (exact types: a subclass may change the law)
    if t is OrnsteinUhlenbeck:
        k, m, s = p["kappa"], p["mean"], p["sigma"]
        if scheme == "exact":
            e = math.exp(-k * dt)
            return 0, e, m * (1 - e), s * math.sqrt(-math.expm1(-2 * k * dt) / (2 * k)), 0.0
        return 0, 1 - k * dt, k * m * dt, s * sq, 0.0
    if t is BrownianMotion:
        return 0, 1.0, p["mu"] * dt, p["sigma"] * sq, 0.0
    if t is GeometricBrownianMotion:
        mu, s = p["mu"], p["sigma"]
        if scheme == "exact":
            return 1, 0.0, (mu - 0.5 * s * s) * dt, s * sq, 0.0
        if scheme == "euler":
            return 2, 1 + mu * dt, 0.0, s * sq, 0.0
        h = 0.5 * s * s * dt
        return 2, 1 + mu * dt - h, 0.0, s * sq, h
    raise ValueError(
        f"`engine='numba'` supports OrnsteinUhlenbeck, BrownianMotion and GeometricBrownianMotion, "
        f"got {name_of(process)}; use engine='numpy'."
    )


def run_paths(process: ProcessLike, scheme: str, x0: float, dt: float, n_steps: int, save_idx: tuple[int, ...],
              first: int, n: int, key: int, antithetic: bool, threads: int | None = None) -> NDArray[np.float64]:
    """Simulate paths ``first .. first + n - 1``; returns values at the saved step indices, shape (n_save, n)."""
    kind, c0, c1, c2, c3 = kernel_coefficients(process, scheme, dt)
    kernel, ki, wi, fi, numba = _build()
    out = np.empty((len(save_idx), n))
    if threads is not None:
        numba.set_num_threads(max(1, min(int(threads), numba.config.NUMBA_NUM_THREADS)))
    kernel(out, np.int64(first), np.int64(n), float(x0), np.int64(kind), float(c0), float(c1), float(c2), float(c3),
           np.int64(n_steps), np.asarray(save_idx, dtype=np.int64), np.uint64(key), bool(antithetic), ki, wi, fi)
    return out
