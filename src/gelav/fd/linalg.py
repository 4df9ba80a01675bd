r"""Tridiagonal linear algebra: the one module every tridiagonal solve in gelav goes through.

Every implicit step in gelav solves a tridiagonal system: the θ-steps of the
Feynman–Kac and Fokker–Planck equations, the exit-problem ODEs, the LCP of
optimal stopping and the sweeps of the mean-field game. They all call the
functions below, which run on one of two backends with the same interface:

``"lapack"`` (default)
    NumPy arrays and LAPACK through SciPy: ``?gttrf`` (LU with partial
    pivoting), ``?gttrs`` (solve, ``trans='T'`` for the transpose), ``?gtsv``
    (one-shot factor-and-solve).
``"numba"``
    Compiled kernels in :mod:`gelav.fd._numba` (optional extra ``numba``;
    imported lazily): the Thomas algorithm without pivoting, which is exact
    elimination for the nonsingular M-matrices gelav solves (every step matrix
    :math:`I - \theta\Delta t\,Q + \Delta t\,\mathrm{diag}\,k` has a positive
    diagonal, non-positive off-diagonals and dominant rows). The kernels are
    also callable from other jitted code (``gelav.fd._numba.kernels()``).
    Results agree with the LAPACK backend to rounding (tested to 1e-12).
``"auto"``
    ``"numba"`` when Numba imports, else ``"lapack"``.

API summary
-----------
Bands follow the LAPACK convention: ``dl`` (sub-diagonal, length ``n-1``),
``d`` (diagonal, ``n``), ``du`` (super-diagonal, ``n-1``), i.e.
``A[i+1, i] = dl[i]``, ``A[i, i] = d[i]``, ``A[i, i+1] = du[i]``. A leading
axis of length ``B`` on all three (``dl`` of shape ``(B, n-1)`` …) is a
*batch* of ``B`` independent systems (e.g. one per time step or LP type).

=====================================  ==================================================
``lu = factor(dl, d, du)``             factorise once (batched if ``d.ndim == 2``)
``lu.solve(b)``                        :math:`A^{-1} b`; ``b`` of shape ``(n,)`` or ``(n, k)``
``lu.solve(b, transpose=True)``        :math:`A^{-\top} b` (the forward / adjoint step)
``lu[i].solve(b)``                     the ``i``-th system of a batch
``lu.solve(B)`` (batched)              all systems at once, ``B`` of shape ``(batch, n[, k])``
``solve(dl, d, du, b)``                one-shot solve of a freshly built system (Newton steps);
                                       ``transpose=True``, ``overwrite=True`` (may reuse ``d``, ``b``)
``solve_inplace(dl, d, du, x)``,       the same in place, one bare LAPACK call (sequential sweeps);
``lu_solve_inplace(lu, x)``            with the raw factors ``lu.lapack_factors``
``symmetrizer(dl, du)``,               :math:`D` with :math:`DAD^{-1}` symmetric (M-matrices: positive
``ptsv_inplace(d, e, x)``              definite) and its bare ``?ptsv`` solve
``Bands(sub, diag, sup)``              padded bands of a generator (``sub[0]``, ``sup[-1]``
                                       unused) with ``matvec``, ``rmatvec``, ``lapack()``
``matvec(dl, d, du, x)``, ``rmatvec``  :math:`A x`, :math:`A^\top x` on LAPACK-convention bands
``solve_lcp(sub, diag, sup, b, g)``    :math:`\min(Au - b, u - g) = 0` (policy iteration or
                                       Brennan–Schwartz), padded-band convention
``numba_kernels()``                    the compiled kernels, callable from other jitted code:
                                       ``thomas(dl, d, du, b, out, work)`` (in place),
                                       ``factor``/``lu_solve``/``lu_solve_columns``,
                                       ``brennan_schwartz_lower``
=====================================  ==================================================
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.linalg import lapack

from gelav.errors import ConvergenceError

if TYPE_CHECKING:  # scipy.sparse is imported where a matrix is built (start-up cost)
    from scipy import sparse

__all__ = [
    "BACKENDS",
    "LCP_METHODS",
    "Bands",
    "TridiagonalLU",
    "brennan_schwartz",
    "factor",
    "lcp_terms",
    "lu_solve_inplace",
    "matvec",
    "numba_available",
    "numba_kernels",
    "policy_iteration",
    "ptsv_factor_inplace",
    "ptsv_inplace",
    "pttrs_inplace",
    "resolve_backend",
    "rmatvec",
    "solve",
    "solve_inplace",
    "solve_lcp",
    "symmetrizer",
]

Array = NDArray[np.float64]
#: real bands (every solver) or complex ones (the shifted systems of :mod:`gelav.fd.expm`)
Scalar = TypeVar("Scalar", np.float64, np.complex128)

#: the registered backends (``"auto"`` resolves to one of them)
BACKENDS = ("lapack", "numba")

_dgttrf = lapack.dgttrf
_dgttrs = lapack.dgttrs
_dgtsv = lapack.dgtsv
_zgtsv = lapack.zgtsv
_dptsv = lapack.dptsv
_dpttrs = lapack.dpttrs


def resolve_backend(backend: str) -> str:
    """The backend name ``backend`` stands for (``"auto"`` → ``"numba"`` if installed, else ``"lapack"``).

    Raises
    ------
    ValueError
        For an unknown name.
    ImportError
        For ``"numba"`` when Numba is not installed.
    """
    if backend == "auto":
        from gelav.fd import _numba

        return "numba" if _numba.available() else "lapack"
    if backend not in BACKENDS:
        raise ValueError(f"Unknown `backend` {backend!r}; registered backends are 'auto', "
                         + ", ".join(map(repr, BACKENDS)) + ".")
    if backend == "numba":
        from gelav.fd import _numba

        if not _numba.available():
            raise ImportError("`backend='numba'` needs Numba: pip install gelav[fast] (or use backend='lapack').")
    return backend


def numba_available() -> bool:
    """True when Numba can be imported (the ``"numba"`` backend can be used)."""
    from gelav.fd import _numba

    return _numba.available()


def numba_kernels() -> Any:
    """The compiled Numba kernels of the ``"numba"`` backend (a namespace), for use inside other jitted code.

    ``thomas(dl, d, du, b, out, work)`` solves in place (``work`` of length >= n-1);
    ``factor(dl, d, du) -> (dl, c, inv)`` with ``lu_solve(dl, c, inv, b)`` and
    ``lu_solve_columns`` solve many times; ``brennan_schwartz_lower(sub, diag, sup, rhs, g)``.

    Raises
    ------
    ImportError
        When Numba is not installed.
    """
    resolve_backend("numba")
    from gelav.fd import _numba

    return _numba.kernels()


# -- bands ---------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class Bands:
    """Tridiagonal bands of a matrix: ``sub[i] = Q[i, i-1]``, ``diag[i] = Q[i, i]``, ``sup[i] = Q[i, i+1]``.

    All three have the length ``n`` of the diagonal; ``sub[0]`` and ``sup[-1]``
    lie outside the matrix and are ignored.
    """

    sub: Array
    diag: Array
    sup: Array

    def matvec(self, u: Array) -> Array:
        """:math:`Q u` (u may be 1-D or have nodes on axis 0)."""
        out = self.diag[:, None] * u if u.ndim > 1 else self.diag * u
        if u.ndim > 1:
            out[1:] += self.sub[1:, None] * u[:-1]
            out[:-1] += self.sup[:-1, None] * u[1:]
        else:
            out[1:] += self.sub[1:] * u[:-1]
            out[:-1] += self.sup[:-1] * u[1:]
        return out

    def rmatvec(self, p: Array) -> Array:
        r""":math:`Q^\top p`."""
        out = self.diag * p
        out[:-1] += self.sub[1:] * p[1:]
        out[1:] += self.sup[:-1] * p[:-1]
        return out

    def lapack(self) -> tuple[Array, Array, Array]:
        """``(dl, d, du)`` in the LAPACK convention (views, no copies)."""
        return self.sub[1:], self.diag, self.sup[:-1]

    def to_sparse(self) -> sparse.csr_array:
        from scipy import sparse

        n = self.diag.size
        return sparse.diags_array(
            [self.sub[1:], self.diag, self.sup[:-1]], offsets=[-1, 0, 1], shape=(n, n)
        ).tocsr()


def matvec(dl: Array, d: Array, du: Array, x: Array) -> Array:
    """:math:`A x` for LAPACK-convention bands (``x`` of shape ``(n,)`` or ``(n, k)``)."""
    if x.ndim > 1:
        out = d[:, None] * x
        out[1:] += dl[:, None] * x[:-1]
        out[:-1] += du[:, None] * x[1:]
        return out
    out = d * x
    out[1:] += dl * x[:-1]
    out[:-1] += du * x[1:]
    return out


def rmatvec(dl: Array, d: Array, du: Array, x: Array) -> Array:
    r""":math:`A^\top x` for LAPACK-convention bands."""
    return matvec(du, d, dl, x)


# -- factor once, solve many times ------------------------------------------------------------
class TridiagonalLU:
    r"""A factorised tridiagonal matrix :math:`A` (or a batch of them); made by :func:`factor`.

    ``solve(b)`` returns :math:`A^{-1} b`, ``solve(b, transpose=True)``
    :math:`A^{-\top} b`. For a batch, ``lu[i]`` is the ``i``-th factorisation
    and ``solve`` takes right-hand sides with the batch on axis 0.
    """

    __slots__ = ("_bands", "_items", "_lu", "_pad", "_tlu", "backend", "batched", "n")

    def __init__(self, dl: Array, d: Array, du: Array, backend: str) -> None:
        self.backend = backend
        self.batched = d.ndim == 2
        self.n = int(d.shape[-1])
        self._bands = (dl, d, du)
        self._items: list[TridiagonalLU] | None = None
        self._lu: Any = None
        self._tlu: Any = None
        self._pad = False
        if self.batched:
            self._items = [TridiagonalLU(dl[i], d[i], du[i], backend) for i in range(d.shape[0])]
            return
        if backend == "lapack":
            if self.n < 3:  # SciPy's ?gttrf wrapper rejects n = 2: append an identity row (exact)
                self._pad = True
                dl, d, du = (np.append(dl, 0.0), np.append(d, 1.0), np.append(du, 0.0))
            dl2, d2, du_, du2, ipiv, info = _dgttrf(dl, d, du)
            if info != 0:
                raise np.linalg.LinAlgError(f"The tridiagonal matrix is singular (LAPACK dgttrf info={info}).")
            self._lu = (dl2, d2, du_, du2, ipiv)
        else:
            from gelav.fd import _numba

            self._lu = _numba.kernels().factor(np.ascontiguousarray(dl, dtype=float),
                                               np.ascontiguousarray(d, dtype=float),
                                               np.ascontiguousarray(du, dtype=float))

    def __len__(self) -> int:
        if self._items is None:
            raise TypeError("A single factorisation has no len(); it is not a batch.")
        return len(self._items)

    def __getitem__(self, i: int) -> TridiagonalLU:
        if self._items is None:
            raise TypeError("A single factorisation cannot be indexed; it is not a batch.")
        return self._items[i]

    @property
    def lapack_factors(self) -> tuple[Array, ...]:
        """The raw ``?gttrf`` output ``(dl, d, du, du2, ipiv)`` (LAPACK backend, single system)."""
        if self.backend != "lapack" or self._lu is None:
            raise TypeError("`lapack_factors` exists for a single LAPACK-backend factorisation only.")
        return self._lu  # type: ignore[no-any-return]

    def _solve_lapack(self, b: Array, transpose: bool) -> Array:
        x, info = _dgttrs(*self._lu, b, trans="T" if transpose else "N")
        if info != 0:  # pragma: no cover - LAPACK argument error
            raise RuntimeError(f"LAPACK dgttrs failed (info={info}).")
        return x  # type: ignore[no-any-return]

    def solve(self, b: Array, *, transpose: bool = False) -> Array:
        r""":math:`A^{-1} b` (or :math:`A^{-\top} b`); ``b`` of shape ``(n,)``/``(n, k)``, batched ``(B, n[, k])``."""
        if self._items is not None:
            if b.shape[0] != len(self._items):
                raise ValueError(f"`b` must have the batch ({len(self._items)}) on axis 0, got shape {b.shape}.")
            return np.stack([lu.solve(b[i], transpose=transpose) for i, lu in enumerate(self._items)])
        if self.backend == "lapack":
            if self._pad:
                pad = np.zeros((1, *b.shape[1:]))
                return self._solve_lapack(np.concatenate((b, pad)), transpose)[:-1]
            return self._solve_lapack(b, transpose)
        from gelav.fd import _numba

        k = _numba.kernels()
        if transpose:
            if self._tlu is None:
                dl, d, du = self._bands
                self._tlu = k.factor(np.ascontiguousarray(du, dtype=float), np.ascontiguousarray(d, dtype=float),
                                     np.ascontiguousarray(dl, dtype=float))
            fac = self._tlu
        else:
            fac = self._lu
        bb = np.ascontiguousarray(b, dtype=float)
        if bb.ndim == 1:
            return k.lu_solve(*fac, bb)  # type: ignore[no-any-return]
        return k.lu_solve_columns(*fac, bb)  # type: ignore[no-any-return]


def factor(dl: ArrayLike, d: ArrayLike, du: ArrayLike, *, backend: str = "lapack") -> TridiagonalLU:
    """Factorise the tridiagonal matrix with bands ``dl``, ``d``, ``du`` (LAPACK convention).

    A leading batch axis on all three gives a batch of factorisations.

    Raises
    ------
    numpy.linalg.LinAlgError
        When the matrix is singular (LAPACK backend).
    """
    dl_, d_, du_ = (np.asarray(v, dtype=float) for v in (dl, d, du))
    _check_bands(dl_, d_, du_)
    return TridiagonalLU(dl_, d_, du_, resolve_backend(backend))


def _check_bands(dl: Array, d: Array, du: Array) -> None:
    if d.ndim not in (1, 2) or dl.shape != du.shape or dl.shape[:-1] != d.shape[:-1] \
            or dl.shape[-1] != max(d.shape[-1] - 1, 0):
        raise ValueError(f"Tridiagonal bands need `dl`, `du` of length n-1 and `d` of length n "
                         f"(same batch axis), got shapes {dl.shape}, {d.shape}, {du.shape}.")


# -- one-shot solve -----------------------------------------------------------------------------
def solve(dl: NDArray[Scalar], d: NDArray[Scalar], du: NDArray[Scalar], b: NDArray[Scalar], *,
          transpose: bool = False, overwrite: bool = False, backend: str = "lapack") -> NDArray[Scalar]:
    r"""Solve :math:`A x = b` (or :math:`A^\top x = b`) for a freshly built tridiagonal :math:`A`.

    One LAPACK ``?gtsv`` call (LU with partial pivoting; ``zgtsv`` for complex
    bands) or one Thomas sweep (numba, real bands). ``overwrite=True`` lets the LAPACK backend reuse the storage of
    ``d`` and ``b`` (the caller must not need them afterwards). A leading batch
    axis on the bands and on ``b`` solves each system of the batch.

    Raises
    ------
    numpy.linalg.LinAlgError
        When the matrix is singular (LAPACK backend).
    """
    if transpose:
        dl, du = du, dl
    if d.ndim == 2:
        return np.stack([solve(dl[i], d[i], du[i], b[i], overwrite=overwrite, backend=backend)
                         for i in range(d.shape[0])])
    if backend == "lapack":
        gtsv, name = (_zgtsv, "zgtsv") if np.iscomplexobj(d) else (_dgtsv, "dgtsv")  # complex: fd.expm's shifts
        x, info = gtsv(dl, d, du, b, overwrite_d=overwrite, overwrite_b=overwrite)[3:]
        if info != 0:
            _gtsv_failed(info, name)
        return x  # type: ignore[no-any-return]
    from gelav.fd import _numba

    resolve_backend(backend)
    k = _numba.kernels()
    c = [np.ascontiguousarray(v, dtype=float) for v in (dl, d, du, b)]
    if c[3].ndim == 1:
        out = np.empty_like(c[3])
        k.thomas(c[0], c[1], c[2], c[3], out, np.empty_like(c[3]))
        return out
    return k.lu_solve_columns(*k.factor(c[0], c[1], c[2]), c[3])  # type: ignore[no-any-return]


# -- in place, for hot loops ------------------------------------------------------------------------
def solve_inplace(dl: Array, d: Array, du: Array, x: Array) -> Array:
    r"""``x`` :math:`\leftarrow A^{-1} x` for a freshly built tridiagonal :math:`A`: one LAPACK ``?gtsv`` call.

    The per-step primitive of sequential sweeps (the mean-field game's NumPy engine): no
    checks of shapes or backend, no copies of ``d`` or ``x``. ``d`` is overwritten (by the
    factor's diagonal) and ``x`` must be a C-contiguous float64 vector (a row of a C array):
    LAPACK then writes the solution into it. For the transpose pass ``du, d, dl``. Returns ``x``.

    Raises
    ------
    numpy.linalg.LinAlgError
        When the matrix is singular.
    """
    info = _dgtsv(dl, d, du, x, 0, 1, 0, 1)[4]
    if info != 0:
        _gtsv_failed(info)
    return x


def lu_solve_inplace(lu: tuple[Array, ...], x: Array, transpose: bool = False) -> Array:
    r"""``x`` :math:`\leftarrow A^{-1} x` (or :math:`A^{-\top} x`) with the raw ``?gttrf`` factors ``lu``
    (:attr:`TridiagonalLU.lapack_factors`): one LAPACK ``?gttrs`` call, into the C-contiguous float64
    vector ``x``. Returns ``x``."""
    info = _dgttrs(*lu, x, "T" if transpose else "N", 1)[1]
    if info != 0:  # pragma: no cover - LAPACK argument error
        raise RuntimeError(f"LAPACK dgttrs failed (info={info}).")
    return x


def symmetrizer(dl: Array, du: Array, max_range: float = 1e100) -> tuple[Array, Array] | None:
    r"""A positive diagonal :math:`D` with :math:`S = D A D^{-1}` symmetric, and the off-diagonal of :math:`S`.

    For bands with :math:`\mathrm{dl}_i\,\mathrm{du}_i > 0` (or both zero: the matrix splits
    there), :math:`D_{i+1} = D_i\sqrt{\mathrm{du}_i/\mathrm{dl}_i}` (a running product: each ratio
    :math:`D_{i+1}/D_i` is then exact to an ulp) and :math:`e_i = \pm\sqrt{\mathrm{dl}_i\mathrm{du}_i}`
    (the sign of the bands); the diagonal is unchanged. The step matrices of gelav are M-matrices,
    so :math:`S` is a symmetric M-matrix, i.e. positive definite: solved by ``?ptsv`` (LDLᵀ, no
    pivoting) as :math:`A^{-1}b = D^{-1}S^{-1}(Db)` and :math:`A^{-\top}b = D S^{-1}(D^{-1}b)`, with a
    componentwise backward error of a few ulps of :math:`|A|`. A leading batch axis gives one
    :math:`D` per system. Returns ``(D, e)``, or None when a pair of bands has opposite signs or one
    zero, or :math:`D` spans more than ``max_range`` (its products would lose digits to under- or overflow).
    """
    dl = np.asarray(dl, dtype=float)
    du = np.asarray(du, dtype=float)
    prod = dl * du
    zero = (dl == 0.0) & (du == 0.0)
    if not np.all((prod > 0.0) | zero) or not np.all(np.isfinite(prod)):
        return None
    ratio = np.sqrt(np.where(zero, 1.0, du) / np.where(zero, 1.0, dl))
    D = np.ones((*dl.shape[:-1], dl.shape[-1] + 1))
    with np.errstate(over="ignore", under="ignore"):  # a steep chain: refused below
        np.cumprod(ratio, axis=-1, out=D[..., 1:])
    lo, hi = D.min(axis=-1), D.max(axis=-1)
    if not (np.all(np.isfinite(hi)) and np.all(lo > 0.0) and np.all(hi <= max_range * lo)):
        return None
    e = np.copysign(np.sqrt(prod), du)
    return D, e


def _ptsv_failed(info: int) -> None:
    """Raise for a ``?ptsv`` that returned ``info`` != 0 (checked by the caller: the solves are a hot path)."""
    if info > 0:
        raise np.linalg.LinAlgError(f"The symmetrised tridiagonal matrix is not positive definite "
                                    f"(LAPACK dptsv info={info}): not an M-matrix.")
    raise RuntimeError(f"LAPACK dptsv failed (info={info}).")  # pragma: no cover


def ptsv_inplace(d: Array, e: Array, x: Array) -> Array:
    r"""``x`` :math:`\leftarrow S^{-1} x` for a symmetric positive definite tridiagonal :math:`S`
    (diagonal ``d``, off-diagonal ``e``): one LAPACK ``?ptsv`` call (LDLᵀ without pivoting). ``d`` is
    overwritten, ``e`` kept; ``x`` a C-contiguous float64 vector. Returns ``x``.

    Raises
    ------
    numpy.linalg.LinAlgError
        When :math:`S` is not positive definite.
    """
    info = _dptsv(d, e, x, 1, 0, 1)[3]
    if info != 0:
        _ptsv_failed(info)
    return x


def ptsv_factor_inplace(d: Array, e: Array, x: Array) -> Array:
    r""":func:`ptsv_inplace`, keeping the factorisation :math:`S = LDL^\top` in place of the bands: ``d``
    is overwritten with :math:`D` and ``e`` with the subdiagonal of :math:`L` (both C-contiguous float64
    vectors). With them :func:`pttrs_inplace` solves :math:`S` again without refactorising (the same
    numbers as ``?ptsv``, which is ``?pttrf`` followed by ``?pttrs``). Returns ``x``; raises as
    :func:`ptsv_inplace` does (both bodies kept inline: the MFG sweeps call them once per time step).
    """
    info = _dptsv(d, e, x, 1, 1, 1)[3]
    if info != 0:
        _ptsv_failed(info)
    return x


def pttrs_inplace(d: Array, e: Array, x: Array) -> Array:
    """``x`` ← :math:`S^{-1}x` from the factors ``(d, e)`` of :func:`ptsv_factor_inplace` (one LAPACK
    ``?pttrs`` call in place; ``x`` a C-contiguous float64 vector). Returns ``x``."""
    info = _dpttrs(d, e, x, 1)[1]
    if info != 0:  # pragma: no cover - only for invalid arguments
        raise RuntimeError(f"LAPACK dpttrs failed (info={info}).")
    return x


def _gtsv_failed(info: int, name: str = "dgtsv") -> None:
    if info > 0:
        raise np.linalg.LinAlgError(f"The tridiagonal matrix is singular (LAPACK {name} info={info}).")
    raise RuntimeError(f"LAPACK {name} failed (info={info}).")  # pragma: no cover


# -- linear complementarity ---------------------------------------------------------------------------
#: relative size of a tie between holding and stopping in :func:`policy_iteration` (rounding of the rows)
_TIE = 64 * float(np.finfo(float).eps)
#: the smallest normal float64: below it a value's rounding is absolute (:func:`policy_iteration`'s tie)
_TINY = float(np.finfo(float).tiny)


def lcp_terms(sub: Array, diag: Array, sup: Array, rhs: Array, g: Array, u: Array) -> tuple[Array, Array]:
    r"""The continuation residual :math:`Lu - b` of a candidate ``u`` of the LCP :math:`\min(Lu - b, u - g) = 0`
    and the rounding of each row, the tie below which holding and stopping count as equal.

    The tie is 64 ε times the size of the row's terms, each :math:`|u_j|` counted as at least the
    smallest normal number (below it floating point keeps only an absolute precision, 2^-1074).
    :func:`policy_iteration` stops a row only where :math:`u_i - g_i < (Lu - b)_i - \text{tie}_i`
    (a tie continues, as an exact tie does; flipping ties on rounding noise made the policies cycle:
    an exit boundary with no premium and no holding cost, where V = payoff everywhere, and a put's
    far field, whose values decay to subnormals, where a tie without the floor underflowed to 0);
    :class:`gelav.fd.conditions.EarlyExercise` accepts a Brennan–Schwartz answer only where
    :math:`|\min(Lu - b, u - g)| \le \text{tie}`. Padded-band convention (:class:`Bands`); returns
    ``(Lu - b, tie)``.
    """
    Lu = diag * u
    Lu[1:] += sub[1:] * u[:-1]
    Lu[:-1] += sup[:-1] * u[1:]
    au = np.maximum(np.abs(u), _TINY)
    scale = np.abs(diag) * au + np.abs(rhs) + au + np.where(np.isfinite(g), np.abs(g), 0.0)
    scale[1:] += np.abs(sub[1:]) * au[:-1]
    scale[:-1] += np.abs(sup[:-1]) * au[1:]
    return Lu - rhs, _TIE * scale


def policy_iteration(sub: Array, diag: Array, sup: Array, rhs: Array, g: Array, stop0: NDArray[np.bool_],
                     max_iter: int = 100) -> tuple[Array, NDArray[np.bool_], int]:
    r"""Howard's algorithm for :math:`\min(Lu - b, u - g) = 0` (``g = -inf`` where stopping is not allowed).

    Padded-band convention (:class:`Bands`). Each iteration solves the linear
    system of the current policy (stop rows become :math:`u_i = g_i`) with
    :func:`solve`; it stops when the policy repeats (finitely many steps for an
    M-matrix :math:`L`). A row stops only where :math:`u_i - g_i < (Lu - b)_i` by more than 64 ε
    times the size of its terms (each :math:`|u_j|` counted as at least the smallest normal number,
    below which the rounding is absolute): a tie to rounding continues (as an exact tie does);
    flipping such ties on rounding noise made the policies cycle. Returns ``(u, stop, iterations)``.

    Raises
    ------
    ConvergenceError
        After ``max_iter`` policies, with the number of changed rows per iteration.
    """
    stop = stop0 & np.isfinite(g)
    history = []
    for it in range(1, max_iter + 1):
        d = np.where(stop, 1.0, diag)
        lo = np.where(stop, 0.0, sub)
        up = np.where(stop, 0.0, sup)
        r = np.where(stop, np.where(np.isfinite(g), g, 0.0), rhs)
        u = solve(lo[1:], d, up[:-1], r, overwrite=True)
        cont, tie = lcp_terms(sub, diag, sup, rhs, g, u)
        new = (u - g) < cont - tie
        new &= np.isfinite(g)
        history.append(int(np.count_nonzero(new != stop)))
        if np.array_equal(new, stop):
            return u, stop, it
        stop = new
    raise ConvergenceError(f"Policy iteration did not converge in `max_iter` = {max_iter} iterations (the last "
                           f"one changed {history[-1]} row(s); the history has the count of every one): raise "
                           "`max_iter`, or refine the grid if the counts cycle.", history)


def brennan_schwartz(sub: Array, diag: Array, sup: Array, rhs: Array, g: Array, side: str = "lower", *,
                     backend: str = "lapack") -> Array:
    """Brennan–Schwartz: eliminate towards the stopping side, then substitute away from it with projection.

    Exact for the LCP :math:`\\min(Lu - b, u - g) = 0` when the stopping region is
    one interval touching the ``side`` end. Padded-band convention.
    """
    if side == "upper":
        return brennan_schwartz(sup[::-1].copy(), diag[::-1].copy(), sub[::-1].copy(), rhs[::-1].copy(),
                                g[::-1].copy(), "lower", backend=backend)[::-1]
    from gelav.fd import _numba

    # one kernel: run as plain Python by the LAPACK backend, compiled by the numba one
    kernel: Callable[..., Array] = _numba.brennan_schwartz_lower_py
    if resolve_backend(backend) == "numba":
        kernel = _numba.kernels().brennan_schwartz_lower
    return kernel(*(np.ascontiguousarray(v, dtype=float) for v in (sub, diag, sup, rhs, g)))


#: name -> LCP solver kind
LCP_METHODS = {"policy": "policy", "howard": "policy", "brennan-schwartz": "bs", "bs": "bs"}


def solve_lcp(sub: ArrayLike, diag: ArrayLike, sup: ArrayLike, rhs: ArrayLike, obstacle: ArrayLike, *,
              method: str = "policy", side: str = "lower") -> tuple[Array, int]:
    r"""Solve the tridiagonal LCP :math:`\min(Lu - b,\ u - g) = 0` for an M-matrix :math:`L`.

    ``sub[i] = L[i, i-1]``, ``diag[i] = L[i, i]``, ``sup[i] = L[i, i+1]``.
    Entries of ``obstacle`` equal to ``-inf`` are rows without an obstacle.
    Returns the solution and the number of iterations (1 for Brennan–Schwartz).
    """
    sub, diag, sup = (np.asarray(v, dtype=float) for v in (sub, diag, sup))
    rhs, g = np.asarray(rhs, dtype=float), np.asarray(obstacle, dtype=float)
    kind = LCP_METHODS.get(method)
    if kind is None:
        raise ValueError(f"Unknown `method` {method!r}; registered LCP methods are {', '.join(map(repr, LCP_METHODS))}.")
    if kind == "bs":
        if side not in ("lower", "upper"):
            raise ValueError(f"`side` must be 'lower' or 'upper' for Brennan–Schwartz, got {side!r}.")
        return brennan_schwartz(sub, diag, sup, rhs, g, side), 1
    u, _, it = policy_iteration(sub, diag, sup, rhs, g, g >= rhs / np.maximum(diag, 1e-300))
    return u, it
