r"""Exact time integration of a time-homogeneous chain: the exponential of a tridiagonal generator.

When the generator :math:`A = Q - \operatorname{diag}(k)` does not depend on time, the semi-discrete
equations of :mod:`gelav.fd.generator` have exact solutions over a step :math:`\Delta t`:

.. math::

    \text{forward:}\quad p(t + \Delta t) = e^{\Delta t A^\top} p(t), \qquad
    \text{backward:}\quad u(t) = e^{\Delta t A} u(t + \Delta t) + \Delta t\,\varphi_1(\Delta t A)\,f,
    \qquad \varphi_1(z) = \frac{e^z - 1}{z},

(``f`` a running reward constant over the step), with no time error: only the space grid is left.

Evaluation (a rational approximation). For a real matrix :math:`M` with spectrum on :math:`(-\infty, 0]`,
:math:`e^M v \approx r(M)v` with the partial fractions

.. math::

    r(x) = \sum_{k=1}^{7} \operatorname{Im}\frac{w_k}{z_k - x}
         = \sum_{k=1}^{7} 2\operatorname{Re}\frac{c_k}{x - z_k}, \qquad w_k = -2i c_k ,

the real rational function of type (13, 14) whose poles :math:`z_k, \bar z_k` are those of the
Carathéodory–Fejér approximation of type (14, 14) to :math:`e^x` on :math:`(-\infty, 0]` (Trefethen,
Weideman & Schmelzer, *Talbot quadratures and rational approximations*, BIT 46 (2006); the
(n+1)-st singular vector of the Hankel matrix of the Chebyshev coefficients of :math:`e^{9(s-1)/(s+1)}`,
:math:`s \in [-1, 1]`) and whose weights are the least-squares fit of :math:`e^x` with these poles,
normalised to :math:`r(0) = 1` exactly (so the mass is conserved to rounding). The numbers,
:data:`POLES` and :data:`WEIGHTS`, are computed by that recipe in tests/test_expm.py, which checks
them and measures :math:`\sup_{x \le 0}|r(x) - e^x| = 4.0\cdot10^{-14}` (:data:`SUP_ERROR` bounds it).
Seven complex tridiagonal solves per application: the seven shifted systems are stacked into one
tridiagonal system (zero couplings between them) and solved by one LAPACK call (``zgtsv``); the
systems of several chains stack the same way (:func:`expm_apply`, the automatic mode's ladder of
grids in one call). :math:`\varphi_1` has weights of its own on the same poles (:data:`PHI_WEIGHTS`).

Why every gelav generator qualifies: it is the rate matrix of a birth–death chain (off-diagonals
:math:`\ge 0`). Across a face with rates both ways it satisfies detailed balance with the weights
:math:`\pi_{i+1}/\pi_i = q_{i,i+1}/q_{i+1,i}`, so :math:`S = \Pi^{1/2} A\,\Pi^{-1/2}` is symmetric and the
spectrum is real; absorbing end nodes (zero rows) add the eigenvalue 0 in a triangular block.
The spectrum lies left of the largest row sum :math:`s = \max_i(-k_i)` (Gershgorin): the approximation
is applied to :math:`\Delta t(A - s^+ I)` and the result multiplied by :math:`e^{\Delta t s^+}`.

Error bound. Since :math:`r(\Delta t A^\top) = \Pi^{1/2} r(\Delta t S)\,\Pi^{-1/2}` exactly, the error of a
forward step is :math:`\Pi^{1/2}(r - \exp)(\Delta t S)\,\Pi^{-1/2}p` and, :math:`S` being symmetric
(:math:`\lVert (r - \exp)(\Delta t S)\rVert_2 \le \sup_{x \le 0}|r(x) - e^x|`),

.. math:: \lVert r(\Delta t A^\top)p - e^{\Delta t A^\top}p\rVert_1
          \le \varepsilon \sum_i \sqrt{\pi_i}\;\Big(\sum_j p_j^2/\pi_j\Big)^{1/2}
          \quad(\text{per block of two-way faces; twice that with absorbing nodes}),

with :math:`\varepsilon` = :data:`SUP_ERROR` plus a model of the rounding (:meth:`Chains.epsilons`; the
factor is :func:`amplification`). It is moderate for a chain near detailed balance over the domain (an
Ornstein–Uhlenbeck law: a few thousand from the seed's start) and astronomically large for a strongly
drift-dominated one (:math:`\pi` growing like :math:`e^{2\mu x/\sigma^2}`), whose generator is far from
normal: :class:`ExpmStep` then refuses with a clear error, and the automatic mode of
:func:`gelav.stress_test` steps in time instead. Forward results are non-negative: the exact
exponential of a generator is, and an entry the rational approximation puts below zero by at most the
bound is set to 0 (counted in the mass balance); one below that is an error.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import lru_cache

import numpy as np
from numpy.typing import NDArray

from gelav.fd import linalg
from gelav.fd.linalg import Bands

__all__ = ["MAX_TIME_ERROR", "PHI_SUP_ERROR", "PHI_WEIGHTS", "POLES", "SUP_ERROR", "WEIGHTS", "BackwardBound",
           "BackwardWeights", "Chains", "ExpmStep", "amplification", "backward_step_bound", "backward_weights",
           "expm_apply", "expm_chains", "phi_sup_error", "rational_rule"]

Array = NDArray[np.float64]

#: the poles :math:`z_k` (one of each conjugate pair) of the rational approximation of :math:`e^x` on
#: :math:`(-\infty, 0]` (the type-(14, 14) Carathéodory–Fejér poles; tests/test_expm.py recomputes them)
POLES = np.array([
    5.62317153475742 + 1.1940664287021552j, 5.089374564875054 + 3.588816095602845j,
    3.993400429650635 + 6.004818060139016j, 2.2698165258521406 + 8.461717806877203j,
    -0.20872377764902525 + 10.991232026333313j, -3.703239160176677 + 13.656333463712498j,
    -8.897735413180298 + 16.63093520842446j])
#: the weights :math:`w_k` of :math:`e^x \approx \sum_k \operatorname{Im}(w_k/(z_k - x))` (least squares, r(0) = 1)
WEIGHTS = np.array([
    -204.30001262806405 + 55.752324556843654j, 91.28908767514372 - 93.869809134699j,
    -11.616438393718687 + 46.997958829446084j, -2.642224413970937 - 9.614466626253156j,
    0.6704093643221526 + 0.7527267378253634j, -0.034371471956183286 - 0.018877440822110243j,
    0.0002872380791349187 + 0.0001430775061334958j])
#: the weights of :math:`\varphi_1(x) = (e^x - 1)/x` on the same poles (sup error 6.0e-13, tests/test_expm.py)
PHI_WEIGHTS = np.array([
    -32.74971476720906 + 16.869061297972888j, 3.29340926159285 - 20.76664326759j,
    4.534658136967704 + 4.950213226245204j, -1.1381001609855512 + 0.006964782137021489j,
    0.06730131173950399 - 0.06227275759545521j, -0.0006518180474770426 + 0.0026937293801178523j,
    -4.892339059356134e-07 - 1.7010656819960195e-05j])
for _a in (POLES, WEIGHTS, PHI_WEIGHTS):
    _a.setflags(write=False)
#: :math:`\sup_{x \le 0}|r(x) - e^x|` (measured 4.0e-14 on 6·10⁴ points from 0 to -1e16 by tests/test_expm.py)
SUP_ERROR = 6e-14
#: a forward step whose error bound exceeds this fraction of the mass is refused
MAX_TIME_ERROR = 1e-6



def rational_rule(shift: float | None = None) -> tuple[NDArray[np.complex128], NDArray[np.complex128]]:
    r"""Poles :math:`z_k` and weights :math:`w_k` of :math:`e^M v \approx \sum_k \operatorname{Im}(w_k(z_k - M)^{-1}v)`.

    With ``shift`` = :math:`c`, the weights of :math:`\varphi_1(x + c)` instead (:data:`PHI_WEIGHTS` for
    :math:`c = 0`; otherwise fitted on the same poles by least squares, :func:`_phi_weights`): the running
    reward of a step whose generator was shifted by :math:`c` (a negative killing rate).
    """
    if shift is None:
        return POLES, WEIGHTS
    if shift == 0.0:
        return POLES, PHI_WEIGHTS
    return POLES, _phi_weights(float(shift))


@lru_cache(maxsize=16)
def _phi_weights(c: float) -> NDArray[np.complex128]:
    r"""Least-squares weights of :math:`\varphi_1(x + c)` on :math:`x \le 0` with the poles :data:`POLES`."""
    x = -np.concatenate(([0.0], np.logspace(-8, 10, 4000), np.linspace(1e-3, 40.0, 4000)))
    y = x + c
    target = np.where(y != 0.0, np.expm1(y) / np.where(y != 0.0, y, 1.0), 1.0)
    A = 1.0 / (POLES[None, :] - x[:, None])
    coef = np.linalg.lstsq(np.hstack([A.imag, A.real]), target, rcond=None)[0]
    out = coef[:POLES.size] + 1j * coef[POLES.size:]
    out.setflags(write=False)
    return out  # type: ignore[no-any-return]


def _log_weights(A: Bands) -> tuple[Array, NDArray[np.int64] | None, bool] | None:
    r"""Detailed-balance weights :math:`\ln\pi` (0 at the first node of each block of two-way faces), the
    block of each node (None: one block; -1 for an absorbing node) and whether there are absorbing
    nodes; None when a face is one-way into a node that is not absorbing (the chain is not reversible
    and the bound does not apply)."""
    up, down = A.sup[:-1], A.sub[1:]  # face i: q_{i,i+1}, q_{i+1,i}
    two = (up > 0.0) & (down > 0.0)
    if two.all():  # the usual case: one block, no absorbing node
        return np.concatenate(([0.0], np.cumsum(np.log(up) - np.log(down)))), None, False
    n = A.diag.size
    left = np.zeros(n)
    right = np.zeros(n)
    left[1:] = A.sub[1:]
    right[:-1] = A.sup[:-1]
    sink = (left == 0.0) & (right == 0.0)
    one_up = (up > 0.0) & (down == 0.0)
    one_down = (down > 0.0) & (up == 0.0)
    if np.any(one_up & ~sink[1:]) or np.any(one_down & ~sink[:-1]):
        return None
    inc = np.where(two, np.log(np.where(two, up, 1.0)) - np.log(np.where(two, down, 1.0)), 0.0)
    logpi = np.concatenate(([0.0], np.cumsum(inc)))
    starts = np.concatenate(([True], ~two))
    # each node's block starts at the last start at or before it: subtract the weight there
    first = np.maximum.accumulate(np.where(starts, np.arange(n), 0))
    block = np.where(sink, -1, np.cumsum(starts) - 1).astype(np.int64)
    return logpi - logpi[first], block, bool(sink.any())


def _logsumexp(v: Array) -> float:
    if v.size == 0:
        return -math.inf
    m = float(v.max())
    if not math.isfinite(m):
        return m
    return m + math.log(float(np.exp(v - m).sum()))


def amplification(A: Bands, v: Array, *, transpose: bool = True) -> float:
    r"""The factor :math:`\alpha(v)` with :math:`\lVert r(M)v - e^M v\rVert \le \varepsilon\,\alpha(v)`, ``M`` = ``A`` scaled.

    Forward (``transpose``: :math:`M \propto A^\top`, ``v`` masses, the 1-norm of the error): the sum over
    blocks of two-way faces of :math:`\sum_i \sqrt{\pi_i}\,(\sum_j v_j^2/\pi_j)^{1/2}`, doubled when the chain
    has absorbing nodes (what leaves a block arrives there). Backward (:math:`M \propto A`, ``v`` values,
    the largest error at a node): the largest over blocks of :math:`\max_i \pi_i^{-1/2}\,(\sum_j \pi_j v_j^2)^{1/2}`
    (the far tails, where :math:`\pi` is smallest, dominate it; the error of the value at a node
    :math:`i` alone is bounded with :math:`\pi_i`). ``inf`` when the chain is not reversible. The backward
    factor leaves out what the absorbing nodes' values feed into the interior: the bound of a backward
    step is :func:`backward_step_bound` (:class:`BackwardBound`), which :meth:`ExpmStep.error_bound` uses.
    """
    lw = _log_weights(A)
    if lw is None:
        return math.inf
    logpi, block, sink = lw
    av = np.abs(np.asarray(v, dtype=float))
    groups = [slice(None)] if block is None else [block == b for b in np.unique(block[block >= 0]).tolist()]
    logs = []
    for idx in groups:
        lp, vb = logpi[idx], av[idx]
        pos = vb > 0
        if not pos.any():
            continue
        with np.errstate(divide="ignore"):
            lv = 2.0 * np.log(vb[pos])
        if transpose:
            logs.append(_logsumexp(0.5 * lp) + 0.5 * _logsumexp(lv - lp[pos]))
        else:
            logs.append(float(np.max(-0.5 * lp)) + 0.5 * _logsumexp(lv + lp[pos]))
    if not logs:
        return 0.0
    if transpose:
        total = _logsumexp(np.asarray(logs)) + (math.log(2.0) if sink else 0.0)
    else:
        total = max(logs)
    return math.exp(total) if total < 700.0 else math.inf


class Chains:
    """Several chains' bands laid end to end (padding entries zero), with what every step needs of each:
    the spectral shift :math:`s^+`, the row-sum norm and, for the bound, the weights of a one-block chain."""

    def __init__(self, sub: Array, diag: Array, sup: Array, sizes: NDArray[np.int64]) -> None:
        self.ends = ends = sizes.cumsum()
        self.starts = starts = ends - sizes
        self.sizes = sizes
        sub[starts] = 0.0  # the entries outside each matrix (callers pass copies or fresh arrays)
        sup[ends - 1] = 0.0
        self.sub, self.diag, self.sup = sub, diag, sup
        off = sub + sup  # off-diagonals are >= 0
        # s+ = max(0, max row sum): the spectrum of a Metzler matrix lies left of its largest row sum
        self.shift = np.maximum(np.maximum.reduceat(diag + off, starts), 0.0)
        self.norm = np.maximum.reduceat(off - diag, starts)  # the diagonal is <= 0
        up, down = sup[:-1], sub[1:]
        two = (up > 0.0) & (down > 0.0)  # never across the pairs of nodes that straddle two chains (sup = 0 there)
        self.logpi: Array | None = None
        #: every chain one block of two-way faces: the fast bound (else chain by chain)
        self.simple = int(two.sum()) == up.size - (sizes.size - 1)
        if self.simple:  # (then the two-way faces are exactly the faces)
            lp = np.empty(diag.size)
            lp[0] = 0.0
            np.cumsum(np.log(np.divide(up, down, out=np.ones(up.size), where=two)), out=lp[1:])
            self.logpi = lp - lp[starts].repeat(sizes)

    @classmethod
    def of(cls, bands: Sequence[Bands]) -> Chains:
        """The chains of a list of bands (copied end to end)."""
        if len(bands) == 1:
            A = bands[0]
            return cls(A.sub.copy(), A.diag, A.sup.copy(), np.array([A.diag.size]))
        return cls(np.concatenate([b.sub for b in bands]), np.concatenate([b.diag for b in bands]),
                   np.concatenate([b.sup for b in bands]), np.array([b.diag.size for b in bands]))

    def chain(self, j: int) -> Bands:
        a, b = int(self.starts[j]), int(self.ends[j])
        return Bands(self.sub[a:b], self.diag[a:b], self.sup[a:b])

    def amplifications(self, v: Array) -> Array:
        """:func:`amplification` (forward) of each chain for its part of the concatenated masses ``v``."""
        if self.logpi is None:
            return np.array([amplification(self.chain(j), v[self.starts[j]:self.ends[j]])
                             for j in range(self.sizes.size)])
        sizes = self.sizes
        lp = self.logpi
        top = np.maximum.reduceat(lp, self.starts).repeat(sizes)
        sq = np.exp(0.5 * (lp - top))  # sqrt(pi / max pi) in (0, 1]: the bound is scale-free in pi
        if (sq > 0.0).all():
            ratio = v / sq
        else:
            with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                ratio = np.where(v != 0.0, v / sq, 0.0)
        out = np.add.reduceat(sq, self.starts) * np.sqrt(np.add.reduceat(ratio * ratio, self.starts))
        bad = ~np.isfinite(out)  # sqrt(pi) underflowed where there is mass: the log-domain formula
        for j in bad.nonzero()[0].tolist():
            out[j] = amplification(self.chain(j), v[self.starts[j]:self.ends[j]])
        return out  # type: ignore[no-any-return]

    def epsilons(self, dts: Array) -> tuple[Array, Array]:
        r"""Per chain ``(e_amp, e_stiff)``: the error of one application is at most ``e_amp`` ×
        :func:`amplification` + ``e_stiff`` × the vector's 1-norm (times :math:`e^{\Delta t s^+}`).

        ``e_amp`` = :data:`SUP_ERROR` + :math:`8u\sum_k|w_k|` (the quadrature, a bound through the
        symmetrised chain, and the rounding of the sum); ``e_stiff`` = :math:`u\,\Delta t\lVert A\rVert_\infty
        \sum_k|w_k|/|z_k|^2`, the rounding of the shifted solves, which grows with the stiffness (a huge
        horizon on a fine grid) but is not amplified (measured by tests/test_expm.py against ``scipy.linalg.expm``).
        """
        e_amp, stiff = _error_constants()
        return np.full(dts.size, e_amp), stiff * dts * self.norm

    def stacked(self, dts: Array, z: NDArray[np.complex128], *, transpose: bool
                ) -> tuple[NDArray[np.complex128], NDArray[np.complex128], NDArray[np.complex128]]:
        r"""LAPACK bands of the systems :math:`z_k I - \Delta t_j(A_j - s_j^+ I)` (or with :math:`A_j^\top`) for every
        contour node ``k`` (outer) and chain ``j`` (inner), stacked with zero couplings between them."""
        sizes = self.sizes
        h = dts[0] if dts.size == 1 else dts.repeat(sizes)
        s = self.shift[0] if dts.size == 1 else self.shift.repeat(sizes)
        d = h * (self.diag - s)
        lo, up = self.sub[1:], self.sup[:-1]  # A[i+1, i], A[i, i+1]
        if transpose:
            lo, up = up, lo
        hl = h if dts.size == 1 else h[1:]
        k, m = z.size, d.size
        DL = np.zeros((k, m), dtype=complex)  # the same bands for every node k (zero past each block's end)
        DU = np.zeros((k, m), dtype=complex)
        DL[:, :-1] = -hl * lo
        DU[:, :-1] = -hl * up
        D = (z[:, None] - d[None, :]).ravel()
        return DL.ravel()[:-1], D, DU.ravel()[:-1]


@lru_cache(maxsize=1)
def _error_constants() -> tuple[float, float]:
    r""":data:`SUP_ERROR` + :math:`8u\sum_k|w_k|/d_k` and :math:`u\sum_k|w_k|/d_k^2` (see :meth:`Chains.epsilons`),
    :math:`d_k` the distance of the pole :math:`z_k` from :math:`(-\infty, 0]` (the norm of the resolvent of a
    symmetric matrix with its spectrum there is at most :math:`1/d_k`)."""
    z, w = rational_rule()
    u = float(np.finfo(float).eps)
    d = np.where(z.real > 0.0, np.abs(z), np.abs(z.imag))
    aw = np.abs(w)
    return SUP_ERROR + 8.0 * u * float((aw / d).sum()), u * float((aw / d**2).sum())


def _solve_stacked(system: tuple[NDArray[np.complex128], ...], v: Array, k: int, *, overwrite: bool = False
                   ) -> NDArray[np.complex128]:
    """The stacked shifted systems solved for ``v`` (the same right-hand side for every node): one ``zgtsv``
    (``overwrite``: the system's arrays may be used as workspace). The systems are independent blocks, so
    each block's solution is the same to the last bit whatever else is stacked with it (a chain solved alone
    or in a batch gives the same numbers)."""
    dl, d, du = system
    B = np.empty((k, v.size), dtype=complex)
    B[:] = v
    B = B.reshape(-1, 1)
    # the shifted systems are nonsingular off the spectrum (LinAlgError otherwise); the right-hand side is a
    # fresh array, always free to overwrite
    x = linalg.solve(dl, d, du, B, overwrite=overwrite)
    return x.reshape(k, v.size)


def _combine(w: NDArray[np.complex128], x: NDArray[np.complex128]) -> Array:
    r""":math:`\sum_k \operatorname{Im}(w_k x_k)`, summed node by node in the same order for any number of
    columns (``einsum``; a BLAS product may not, and a batch must give a single chain's numbers)."""
    return np.einsum("k,km->m", w, x).imag  # type: ignore[no-any-return]


def _growth(dt: float, s: float) -> float:
    if dt * s >= 700.0:
        raise ValueError(f"scheme='expm': the step's growth factor exp({dt:g} * {s:g}) overflows (a negative "
                         "killing rate over a long step); use more steps or scheme='cn'.")
    return math.exp(dt * s)


def _certified(out: Array, bound: float, mass: float) -> Array:
    """A forward result checked against its bound: negative entries within it set to 0 (else an error)."""
    if not bound <= MAX_TIME_ERROR * max(mass, 1e-300):
        why = ("the masses overflow" if not math.isfinite(mass) else
               "the chain is far from detailed balance over the grid, e.g. strongly drift-dominated, where the "
               "rational approximation loses its accuracy")
        raise ValueError(f"scheme='expm' cannot certify this step: its error bound {bound:.3g} exceeds "
                         f"{MAX_TIME_ERROR:g} of the mass ({why}); use scheme='cn'.")
    low = float(out.min())
    if low < 0.0:
        if -low > bound + 1e-15 * float(np.abs(out).max()):  # pragma: no cover - the bound held in every test
            raise ValueError(f"scheme='expm': a mass of {low:.3g} came out below its error bound {bound:.3g}.")
        np.maximum(out, 0.0, out=out)
    return out


class ExpmStep:
    r"""The exact step :math:`e^{\Delta t A}` (backward) / :math:`e^{\Delta t A^\top}` (forward) of a time-homogeneous generator.

    The step operator of the ``"expm"`` scheme (:class:`gelav.fd.schemes.Exponential`): ``forward(p)``,
    ``backward(u, source)``, ``source_weights(p)`` and ``dt`` as :class:`gelav.fd.stepping.StepOperator`.
    Every application is one ``zgtsv`` on the twelve stacked shifted systems (of :math:`A^\top` forward,
    of :math:`A` backward: the two are dual to rounding), the same numbers as :func:`expm_apply` gives
    for the chain in a batch. ``forward_bounded(p)`` also
    returns the error bound of the step (:func:`amplification`, :meth:`Chains.epsilons`).

    Raises
    ------
    ValueError
        For a chain that is not reversible (a one-way face into a node that is not absorbing: the
        bound does not hold), or when :math:`e^{\Delta t s^+}` overflows (a negative killing rate over a
        long step). ``forward`` raises when its bound exceeds :data:`MAX_TIME_ERROR` of the mass (a
        strongly drift-dominated chain, far from normal, where the quadrature fails).
    """

    def __init__(self, A: Bands, dt: float) -> None:
        self.dt = float(dt)
        self.bands = A
        if _log_weights(A) is None:
            raise ValueError("scheme='expm' needs a reversible chain (rates both ways across every face but "
                             "one into an absorbing end); this generator has a one-way face (σ = 0 inside the "
                             "domain?). Use scheme='cn'.")
        ch = Chains.of([A])
        s = float(ch.shift[0])
        self._growth = _growth(self.dt, s)
        e_amp, e_stiff = ch.epsilons(np.array([self.dt]))
        self._eps = (float(e_amp[0]) * self._growth, float(e_stiff[0]) * self._growth)
        z, w = rational_rule()
        self._z, self._w = z, w
        self._wphi = rational_rule(self.dt * s)[1]
        self._chains = ch
        self._systems: dict[bool, tuple[NDArray[np.complex128], ...]] = {}

    def _solve(self, v: Array, transpose: bool) -> NDArray[np.complex128]:
        r"""The solutions of :math:`(z_k - \Delta t(A - s^+))x_k = v` (or with :math:`A^\top`), one row per node."""
        system = self._systems.get(transpose)
        if system is None:
            system = self._systems[transpose] = self._chains.stacked(np.array([self.dt]), self._z, transpose=transpose)
        return _solve_stacked(system, np.asarray(v, dtype=float), self._z.size)

    def error_bound(self, v: Array, *, transpose: bool = True) -> float:
        """The bound of one application to ``v``: the 1-norm of the error forward; backward the largest error
        at a node, that of :func:`backward_step_bound` (the one ``backward(scheme="expm")`` reports)."""
        if not transpose:
            return float(backward_step_bound(self, v).max())
        return self._eps[0] * amplification(self.bands, v, transpose=True) + self._eps[1] * float(np.abs(v).sum())

    def forward_bounded(self, p: Array) -> tuple[Array, float]:
        r""":math:`e^{\Delta t A^\top}p` (non-negative) and its error bound in the 1-norm.

        Raises
        ------
        ValueError
            When the bound exceeds :data:`MAX_TIME_ERROR` of the mass.
        """
        out = self._growth * _combine(self._w, self._solve(p, True))
        bound = self.error_bound(p)
        return _certified(out, bound, float(np.abs(p).sum())), bound

    def forward(self, p: Array) -> Array:
        r""":math:`e^{\Delta t A^\top}p`, non-negative (:meth:`forward_bounded`)."""
        return self.forward_bounded(p)[0]

    def backward(self, u_next: Array, source: Array | None = None) -> Array:
        r""":math:`e^{\Delta t A}u_{next} + \Delta t\,\varphi_1(\Delta t A) f`."""
        out = self._growth * _combine(self._w, self._solve(u_next, False))
        if source is not None:
            out = out + self.dt * _combine(self._wphi, self._solve(np.asarray(source, dtype=float), False))
        return out

    def source_weights(self, p: Array) -> Array:
        r""":math:`\Delta t\,\varphi_1(\Delta t A^\top)p`: pairs with a running reward ``f`` as the forward dual of the source."""
        return self.dt * _combine(self._wphi, self._solve(p, True))


def expm_apply(bands: Sequence[Bands], vectors: Sequence[Array], dt: float | Sequence[float]
               ) -> tuple[list[Array], list[float]]:
    r""":math:`[e^{\Delta t_j A_j^\top} p_j]` for several chains in one LAPACK call, with their error bounds.

    The systems of every chain and every contour node are stacked into one tridiagonal system
    (``zgtsv``): the results are those of :meth:`ExpmStep.forward` to the last bit, clipped at 0 as
    there. Returns the results and their bounds in the 1-norm; a chain that is not reversible, or whose
    bound exceeds :data:`MAX_TIME_ERROR` of its mass, gets ``inf`` (its result is not certified: a caller
    must not use it).
    """
    ch = Chains.of(bands)
    v = np.concatenate([np.asarray(p, dtype=float) for p in vectors]) if len(vectors) > 1 \
        else np.asarray(vectors[0], dtype=float)
    y, bounds = expm_chains(ch, v, dt)
    return [y[a:b] for a, b in zip(ch.starts.tolist(), ch.ends.tolist(), strict=True)], bounds


def expm_chains(ch: Chains, v: Array, dt: float | Sequence[float]) -> tuple[Array, list[float]]:
    """:func:`expm_apply` on chains already laid end to end (``v`` the masses of all, in order): the
    results end to end and the bounds."""
    k_chains = ch.sizes.size
    dts = np.full(k_chains, float(dt)) if isinstance(dt, (int, float)) else np.asarray(dt, dtype=float)
    z, w = rational_rule()
    y = _combine(w, _solve_stacked(ch.stacked(dts, z, transpose=True), v, z.size, overwrite=True))
    growth = None
    if ch.shift.any():  # a negative killing rate: the spectrum was shifted left by s+, multiply e^{dt s+} back
        growth = np.array([_growth(h, s) for h, s in zip(dts.tolist(), ch.shift.tolist(), strict=True)])
        y *= growth.repeat(ch.sizes)
    e_amp, e_stiff = ch.epsilons(dts)
    mass = np.add.reduceat(np.abs(v), ch.starts)
    bounds = e_amp * ch.amplifications(v) + e_stiff * mass
    if growth is not None:
        bounds *= growth
    low = np.minimum.reduceat(y, ch.starts)
    certified = bounds <= MAX_TIME_ERROR * np.maximum(mass, 1e-300)
    if (low < 0.0).any():  # below zero within the bound: 0 (the exact exponential of a generator is >= 0)
        peak = np.maximum.reduceat(np.abs(y), ch.starts)
        certified &= -low <= bounds + 1e-15 * peak
        np.maximum(y, 0.0, out=y)
    return y, np.where(certified, bounds, math.inf).tolist()


# ------------------------------------------------------------------------------------ the backward bound
#: :math:`\sup_{x \le 0}|r_\varphi(x) - \varphi_1(x)|` of the weights :data:`PHI_WEIGHTS` (measured 6.0e-13 by
#: tests/test_expm.py): the error of the running-reward term :math:`\Delta t\,\varphi_1(\Delta t A) f`
PHI_SUP_ERROR = 1e-12


@lru_cache(maxsize=16)
def phi_sup_error(shift: float = 0.0) -> float:
    r""":math:`\sup_{x \le 0}|r_{\varphi,c}(x) - \varphi_1(x + c)|` for the weights :func:`rational_rule` (``shift``) = c.

    :data:`PHI_SUP_ERROR` for :math:`c = 0`; for a shifted rule (a negative killing rate) twice the largest
    error measured on :math:`4\cdot10^4` points from 0 to :math:`-10^{16}` (at least :data:`PHI_SUP_ERROR`).
    """
    c = float(shift)
    if c == 0.0:
        return PHI_SUP_ERROR
    z, w = rational_rule(c)
    x = -np.concatenate(([0.0], np.logspace(-10, 16, 20001), np.linspace(0.0, 50.0, 20001)))
    y = x + c
    target = np.where(y != 0.0, np.expm1(y) / np.where(y != 0.0, y, 1.0), 1.0)
    r = (w[None, :] / (z[None, :] - x[:, None])).imag.sum(axis=1)
    return max(PHI_SUP_ERROR, 2.0 * float(np.abs(r - target).max()))


@lru_cache(maxsize=16)
def _phi_error_constants(shift: float) -> tuple[float, float]:
    r"""As :func:`_error_constants` for the :math:`\varphi_1` weights of ``shift``: :func:`phi_sup_error` +
    :math:`8u\sum_k|w_k|/d_k` and :math:`u\sum_k|w_k|/d_k^2`."""
    z, w = rational_rule(shift)
    u = float(np.finfo(float).eps)
    d = np.where(z.real > 0.0, np.abs(z), np.abs(z.imag))
    aw = np.abs(w)
    return phi_sup_error(shift) + 8.0 * u * float((aw / d).sum()), u * float((aw / d**2).sum())


class BackwardWeights:
    r"""What the bound of backward steps needs of a reversible chain (made by :func:`backward_weights`).

    Attributes
    ----------
    logpi : ndarray
        :math:`\ln\pi` at each node, largest 0 in each block of two-way faces (0 at an absorbing node).
    block : ndarray of int
        The block of each node, -1 at an absorbing node.
    n_blocks : int
    interior, sinks : ndarray of int
        The nodes that are not absorbing, and those that are.
    """

    def __init__(self, A: Bands, logpi: Array, block: NDArray[np.int64]) -> None:
        inner = block >= 0
        ids, compact = np.unique(block[inner], return_inverse=True)  # the blocks numbered 0, 1, ...
        block = np.full(block.size, -1, dtype=np.int64)
        block[inner] = compact
        self.block = block
        self.n_blocks = int(ids.size)
        lp = logpi.copy()
        for b in range(self.n_blocks):
            idx = block == b
            lp[idx] -= lp[idx].max()
        lp[block < 0] = 0.0
        self.logpi = lp
        self.sinks = np.flatnonzero(block < 0)
        self.interior = np.flatnonzero(block >= 0)
        self._A = A
        sq = np.exp(0.5 * lp[self.interior])  # <= 1 (the largest weight of each block is 1)
        self._sqrt_pi = sq if self.n_blocks == 1 and bool(np.all(sq > 1e-150)) else None
        if self.sinks.size and self.interior.size:
            i = self.interior
            n = A.diag.size
            # the interior matrix M (no couplings across a removed absorbing node)
            self._m_diag = A.diag[i].copy()
            nxt = i[1:] == i[:-1] + 1
            self._m_up = np.where(nxt, A.sup[i[:-1]], 0.0)
            self._m_lo = np.where(nxt, A.sub[i[1:]], 0.0)
            # C: the rates from interior nodes into absorbing ones: (row in the interior, absorbing node, rate)
            pos = np.full(n, -1)
            pos[i] = np.arange(i.size)
            rows, cols, rates = [], [], []
            for s in self.sinks.tolist():
                if s > 0 and pos[s - 1] >= 0 and A.sup[s - 1] > 0.0:
                    rows.append(int(pos[s - 1]))
                    cols.append(s)
                    rates.append(float(A.sup[s - 1]))
                if s < n - 1 and pos[s + 1] >= 0 and A.sub[s + 1] > 0.0:
                    rows.append(int(pos[s + 1]))
                    cols.append(s)
                    rates.append(float(A.sub[s + 1]))
            self._c = (np.array(rows, dtype=np.int64), np.array(cols, dtype=np.int64), np.array(rates))

    def harmonic(self, v: Array) -> Array | None:
        r"""The extension :math:`Hv_B` into the interior of the values at the absorbing nodes: the sum over
        them of :math:`v_b h_b`, :math:`(M - a_{bb})h_b = -Ce_b` (:math:`[h_b; e_b]` an eigenvector of
        :math:`A`, the discounted probability of ending at :math:`b`). Zeros without absorbing nodes; None
        when a system is singular (the bound does not apply)."""
        out = np.zeros(self.interior.size)
        if not self.sinks.size or not self.interior.size:
            return out
        rows, cols, rates = self._c
        vb = v[cols]
        if not np.any(vb != 0.0):
            return out
        a = self._A.diag[cols]
        for level in np.unique(a).tolist():  # one solve per distinct diagonal entry (usually one: 0)
            sel = (a == level) & (vb != 0.0)
            if not sel.any():
                continue
            rhs = np.zeros(self.interior.size)
            np.add.at(rhs, rows[sel], -rates[sel] * vb[sel])
            try:
                with np.errstate(all="ignore"):
                    h = linalg.solve(self._m_lo.copy(), self._m_diag - level, self._m_up.copy(), rhs)
            except np.linalg.LinAlgError:
                return None
            if not np.all(np.isfinite(h)):
                return None
            out += h
        return out

    def norms(self, w: Array) -> Array:
        r""":math:`\ln\lVert\Pi_b^{1/2}w_b\rVert_2` for each block ``b`` (``w`` on the interior nodes)."""
        lp = self.logpi[self.interior]
        if self._sqrt_pi is not None:  # one block, no weight below the float range: directly
            with np.errstate(over="ignore", under="ignore", divide="ignore"):
                out = np.log(np.array([np.linalg.norm(self._sqrt_pi * w)]))
            if np.isfinite(out[0]):  # else (overflow, underflow or w = 0) in the log domain
                return out  # type: ignore[no-any-return]
        blk = self.block[self.interior]
        with np.errstate(divide="ignore"):
            terms = lp + 2.0 * np.log(np.abs(w))
        return np.array([0.5 * _logsumexp(terms[blk == b]) for b in range(self.n_blocks)])


def backward_weights(A: Bands) -> BackwardWeights | None:
    """The :class:`BackwardWeights` of the chain ``A``; None when it is not reversible (a one-way face into a
    node that is not absorbing)."""
    lw = _log_weights(A)
    if lw is None:
        return None
    logpi, block, _ = lw
    if block is None:
        block = np.zeros(A.diag.size, dtype=np.int64)
    return BackwardWeights(A, logpi, block)


class BackwardBound:
    r"""The error bound of a run of backward exponential steps (:meth:`ExpmStep.backward`), step by step.

    One step maps the computed values :math:`v` to :math:`r(\Delta t A')v\,e^{\Delta t s^+} + \Delta t\,
    r_\varphi(\Delta t A')f` (:math:`A' = A - s^+ I`). Write :math:`v = [w; 0] + \sum_b v_b[h_b; e_b]` with the
    absorbing nodes :math:`b` (:meth:`BackwardWeights.harmonic`): :math:`[h_b; e_b]` is an eigenvector of
    :math:`A`, and :math:`A` restricted to the other nodes, :math:`M`, satisfies detailed balance with the
    weights :math:`\pi`, so :math:`M = \Pi^{-1/2}S\,\Pi^{1/2}` with :math:`S` symmetric. The step's error is then

    .. math:: e^{\Delta t s^+}\big(\Pi^{-1/2}F(\Delta t S)\Pi^{1/2}w + \textstyle\sum_b v_b F(\lambda_b)[h_b; e_b]\big),
              \qquad |F| \le \varepsilon \text{ on } (-\infty, 0],

    at most :math:`\varepsilon\,\pi_i^{-1/2}\lVert\Pi^{1/2}w\rVert_2` at the node :math:`i` plus
    :math:`\varepsilon\max(|Hv_B|, |v_B|)` everywhere (and the same for the running reward with
    :func:`phi_sup_error`, times :math:`\Delta t`); the rounding is modelled as forward
    (:meth:`Chains.epsilons`, the sup norm of the vector). Later steps carry an earlier step's error with the
    exact exponential, of norm at most :math:`e^{\Delta t s^+}` both in :math:`\lVert\Pi^{1/2}\cdot\rVert_2`
    (on the interior) and in the sup norm: the errors add in those two parts, and the bound at node
    :math:`i` is :math:`\pi_i^{-1/2}` times the first plus the second (:meth:`profile`). Resetting the values at
    absorbing nodes (Dirichlet boundaries) only removes error. It is small where :math:`\pi_i` is not: near the
    bulk of a chain near detailed balance, not in the far tails (where :math:`\pi` is tiny) nor anywhere on a
    strongly drift-dominated chain (:math:`\pi` growing like :math:`e^{2\mu x/\sigma^2}`).

    Raises
    ------
    ValueError
        For a chain that is not reversible.
    """

    def __init__(self, A: Bands) -> None:
        w = backward_weights(A)
        if w is None:
            raise ValueError("scheme='expm' needs a reversible chain for its error bound; use scheme='cn'.")
        self.weights = w
        self._log_amp = np.full(w.n_blocks, -math.inf)  # ln of the accumulated Pi-norm part, per block
        self._uniform = 0.0  # the accumulated sup-norm part
        self.n_steps = 0

    def add(self, op: ExpmStep, v: Array, source: Array | None = None) -> None:
        """Account for one step ``op.backward(v, source)`` (``v`` the values it is applied to)."""
        wts = self.weights
        g = op._growth
        if g != 1.0:  # what earlier steps left is carried by this step's exact exponential
            self._log_amp = self._log_amp + math.log(g)
            self._uniform *= g
        e_amp, e_stiff = op._eps  # times the growth already
        parts = [(e_amp, e_stiff, np.asarray(v, dtype=float))]
        if source is not None:
            c = op.dt * float(op._chains.shift[0])
            p_amp, p_stiff = _phi_error_constants(c)
            parts.append((op.dt * p_amp, op.dt * p_stiff * op.dt * float(op._chains.norm[0]),
                          np.asarray(source, dtype=float)))
        for amp, stiff, vec in parts:
            if not np.all(np.isfinite(vec)):
                self._uniform = math.inf
                return
            top = float(np.abs(vec).max()) if vec.size else 0.0
            if top == 0.0:
                continue
            hv = wts.harmonic(vec)
            if hv is None:
                self._uniform = math.inf
                return
            w = vec[wts.interior] - hv
            if wts.n_blocks:
                self._log_amp = np.logaddexp(self._log_amp, math.log(amp) + wts.norms(w))
            far = max(float(np.abs(hv).max()) if hv.size else 0.0,
                      float(np.abs(vec[wts.sinks]).max()) if wts.sinks.size else 0.0)
            self._uniform += amp * far + stiff * top
        self.n_steps += 1

    def profile(self) -> Array:
        """The bound at each node of the error of the values after the steps added so far."""
        wts = self.weights
        out = np.full(wts.block.size, self._uniform)
        i = wts.interior
        if i.size:
            with np.errstate(over="ignore"):
                out[i] += np.exp(np.minimum(-0.5 * wts.logpi[i] + self._log_amp[wts.block[i]], 710.0))
        return out


def backward_step_bound(op: ExpmStep, v: Array, source: Array | None = None) -> Array:
    r"""The bound at each node of the error of one backward step ``op.backward(v, source)``
    (:math:`e^{\Delta t A}v + \Delta t\,\varphi_1(\Delta t A)f` by the rational approximation; :class:`BackwardBound`)."""
    b = BackwardBound(op.bands)
    b.add(op, v, source)
    return b.profile()

