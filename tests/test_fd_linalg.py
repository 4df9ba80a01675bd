"""gelav.fd.linalg: the one tridiagonal module; both backends against dense algebra and each other."""

from __future__ import annotations

import numpy as np
import pytest

from gelav.errors import ConvergenceError
from gelav.fd import _numba
from gelav.fd import linalg as la

BACKENDS = ["lapack"] + (["numba"] if _numba.available() else [])


def _m_matrix(rng: np.random.Generator, n: int, batch: int | None = None):
    """A random nonsingular M-matrix I + dt*(rates) (the kind of matrix every gelav step solves)."""
    shape = (n,) if batch is None else (batch, n)
    up = rng.random(shape)
    down = rng.random(shape)
    dl = -down[..., 1:]
    du = -up[..., :-1]
    d = 1.0 + np.concatenate((up[..., :-1], np.zeros((*shape[:-1], 1))), axis=-1) \
        + np.concatenate((np.zeros((*shape[:-1], 1)), down[..., 1:]), axis=-1) + rng.random(shape)
    return dl, d, du


def _dense(dl, d, du):
    return np.diag(d) + np.diag(dl, -1) + np.diag(du, 1)


@pytest.mark.parametrize("backend", BACKENDS)
def test_factor_solve_and_transpose_match_dense(backend):
    rng = np.random.default_rng(1)
    dl, d, du = _m_matrix(rng, 60)
    A = _dense(dl, d, du)
    b = rng.standard_normal(60)
    B = rng.standard_normal((60, 3))
    lu = la.factor(dl, d, du, backend=backend)
    scale = np.linalg.cond(A) * np.finfo(float).eps * 10
    np.testing.assert_allclose(lu.solve(b), np.linalg.solve(A, b), rtol=0, atol=scale)
    np.testing.assert_allclose(lu.solve(b, transpose=True), np.linalg.solve(A.T, b), rtol=0, atol=scale)
    np.testing.assert_allclose(lu.solve(B), np.linalg.solve(A, B), rtol=0, atol=scale)
    np.testing.assert_allclose(lu.solve(B, transpose=True), np.linalg.solve(A.T, B), rtol=0, atol=scale)
    np.testing.assert_allclose(la.solve(dl, d, du, b, backend=backend), np.linalg.solve(A, b), rtol=0, atol=scale)
    np.testing.assert_allclose(la.solve(dl, d, du, b, transpose=True, backend=backend),
                               np.linalg.solve(A.T, b), rtol=0, atol=scale)
    np.testing.assert_allclose(la.matvec(dl, d, du, b), A @ b, rtol=0, atol=1e-13)
    np.testing.assert_allclose(la.rmatvec(dl, d, du, b), A.T @ b, rtol=0, atol=1e-13)


@pytest.mark.parametrize("backend", BACKENDS)
def test_batched_factor_and_solve(backend):
    rng = np.random.default_rng(2)
    dl, d, du = _m_matrix(rng, 40, batch=5)
    b = rng.standard_normal((5, 40))
    lu = la.factor(dl, d, du, backend=backend)
    assert len(lu) == 5
    x = lu.solve(b)
    xt = lu.solve(b, transpose=True)
    for i in range(5):
        A = _dense(dl[i], d[i], du[i])
        np.testing.assert_allclose(x[i], np.linalg.solve(A, b[i]), atol=1e-12)
        np.testing.assert_allclose(xt[i], np.linalg.solve(A.T, b[i]), atol=1e-12)
        np.testing.assert_allclose(lu[i].solve(b[i]), x[i], rtol=0, atol=0)
    np.testing.assert_allclose(la.solve(dl, d, du, b, backend=backend), x, atol=1e-12)
    with pytest.raises(ValueError, match="`b` must have the batch"):
        lu.solve(b[:3])


@pytest.mark.skipif(not _numba.available(), reason="numba not installed")
def test_numba_backend_matches_lapack_to_1e12():
    rng = np.random.default_rng(3)
    for n in (2, 3, 17, 400):
        dl, d, du = _m_matrix(rng, n)
        b = rng.standard_normal(n)
        ref = la.factor(dl, d, du)
        nb = la.factor(dl, d, du, backend="numba")
        for tr in (False, True):
            r = ref.solve(b, transpose=tr)
            np.testing.assert_allclose(nb.solve(b, transpose=tr), r, rtol=1e-12, atol=1e-12 * abs(r).max())
        sub = np.concatenate(([0.0], dl))
        sup = np.concatenate((du, [0.0]))
        g = np.where(np.arange(n) < n // 3, 0.5, -np.inf)
        u_ref = la.brennan_schwartz(sub, d, sup, b, g)
        np.testing.assert_allclose(la.brennan_schwartz(sub, d, sup, b, g, backend="numba"), u_ref,
                                   rtol=1e-12, atol=1e-12 * abs(u_ref).max())
    # the jit kernel is callable in place (as the mean-field-game sweeps call it)
    k = _numba.kernels()
    dl, d, du = _m_matrix(rng, 30)
    b = rng.standard_normal(30)
    out, work = np.empty(30), np.empty(30)
    k.thomas(dl, d, du, b, out, work)
    np.testing.assert_allclose(out, la.solve(dl, d, du, b), rtol=1e-12, atol=1e-12)


def test_lcp_solvers_satisfy_complementarity():
    rng = np.random.default_rng(4)
    n = 80
    dl, d, du = _m_matrix(rng, n)
    sub, sup = np.concatenate(([0.0], dl)), np.concatenate((du, [0.0]))
    x = np.linspace(0, 1, n)
    g = np.maximum(0.6 - x, 0.0)  # a put-like obstacle: the stopping region touches the lower end
    b = 0.05 * np.ones(n)
    for method in ("policy", "brennan-schwartz"):
        u, _ = la.solve_lcp(sub, d, sup, b, g, method=method, side="lower")
        Au = la.matvec(dl, d, du, u)
        assert np.all(u >= g - 1e-14)
        assert np.all(Au - b >= -1e-12)
        assert abs(np.minimum(Au - b, u - g)).max() < 1e-12
    u1, _ = la.solve_lcp(sub, d, sup, b, g, method="policy")
    u2, _ = la.solve_lcp(sub, d, sup, b, g, method="bs")
    np.testing.assert_allclose(u1, u2, atol=1e-12)
    with pytest.raises(ValueError, match="registered LCP methods"):
        la.solve_lcp(sub, d, sup, b, g, method="psor")
    with pytest.raises(ConvergenceError):
        la.policy_iteration(sub, d, sup, b, g, np.zeros(n, bool), max_iter=1)


def test_errors_name_the_argument():
    with pytest.raises(ValueError, match="Unknown `backend`"):
        la.factor([1.0], [2.0, 2.0], [1.0], backend="cuda")
    with pytest.raises(ValueError, match="`dl`, `du` of length n-1"):
        la.factor([1.0, 1.0], [2.0, 2.0], [1.0])
    with pytest.raises(np.linalg.LinAlgError, match="singular"):
        la.factor([1.0], [0.0, 0.0], [0.0])
    with pytest.raises(np.linalg.LinAlgError, match="singular"):
        la.solve(np.array([1.0]), np.array([0.0, 0.0]), np.array([0.0]), np.ones(2))
    assert la.resolve_backend("auto") in la.BACKENDS


def test_bands_round_trip():
    rng = np.random.default_rng(5)
    sub, diag, sup = rng.random(6), rng.random(6), rng.random(6)
    B = la.Bands(sub, diag, sup)
    dl, d, du = B.lapack()
    A = B.to_sparse().toarray()
    np.testing.assert_array_equal(A, _dense(dl, d, du))
    u = rng.random(6)
    np.testing.assert_allclose(B.matvec(u), A @ u, atol=1e-15)
    np.testing.assert_allclose(B.rmatvec(u), A.T @ u, atol=1e-15)


def test_in_place_solves_are_the_one_shot_solves_to_the_bit():
    """solve_inplace / lu_solve_inplace (the bare LAPACK calls of the sweeps) write into x the numbers of
    solve / TridiagonalLU.solve."""
    rng = np.random.default_rng(7)
    dl, d, du = _m_matrix(rng, 40)
    b = rng.normal(size=40)
    for transpose in (False, True):
        x = b.copy()
        bands = (du, d.copy(), dl) if transpose else (dl, d.copy(), du)
        out = la.solve_inplace(*bands, x)
        assert out is x
        assert np.array_equal(x, la.solve(dl, d, du, b, transpose=transpose))
        lu = la.factor(dl, d, du)
        y = b.copy()
        assert la.lu_solve_inplace(lu.lapack_factors, y, transpose) is y
        assert np.array_equal(y, lu.solve(b, transpose=transpose))
    with pytest.raises(np.linalg.LinAlgError, match="singular"):
        la.solve_inplace(np.zeros(2), np.zeros(3), np.zeros(2), np.ones(3))


def test_symmetrized_solve_matches_dense_and_keeps_componentwise_accuracy():
    r"""D A D^{-1} is symmetric (the ptsv solve of an M-matrix): A^{-1}b = D^{-1} S^{-1} D b and
    A^{-T} b = D S^{-1} D^{-1} b to rounding, also in the entries where D is tiny; batched D per system."""
    rng = np.random.default_rng(3)
    dl, d, du = _m_matrix(rng, 80)
    dl[:40] *= 1e-3  # strong drift: D spans many decades
    D, e = la.symmetrizer(dl, du)
    assert D.min() < 1e-20 * D.max()
    A = _dense(dl, d, du)
    S = np.diag(D) @ A @ np.diag(1.0 / D)
    assert np.allclose(S, S.T, rtol=1e-13, atol=0.0)
    assert np.allclose(np.diag(S, 1), e, rtol=1e-14, atol=0.0)
    b = rng.normal(size=80)
    x = D * b
    la.ptsv_inplace(d.copy(), e, x)
    x /= D
    ref = np.linalg.solve(A, b)
    assert np.max(np.abs(x - ref) / np.abs(ref)) < 1e-12  # componentwise, not only relative to max |x|
    y = b / D
    la.ptsv_inplace(d.copy(), e, y)
    y *= D
    ref_t = np.linalg.solve(A.T, b)
    assert np.max(np.abs(y - ref_t) / np.abs(ref_t)) < 1e-12
    # a batch: one D per system
    bl, _, bu = _m_matrix(rng, 30, batch=3)
    Db, eb = la.symmetrizer(bl, bu)
    for i in range(3):
        Di, ei = la.symmetrizer(bl[i], bu[i])
        assert np.array_equal(Db[i], Di) and np.array_equal(eb[i], ei)


def test_kept_ptsv_factors_solve_again_bitwise():
    """?ptsv's factors kept in place (ptsv_factor_inplace) and ?pttrs on them (pttrs_inplace): the same numbers
    as ptsv_inplace, for the matrix and (through the symmetrizer) its transpose; a matrix that is not positive
    definite is refused like ptsv_inplace."""
    rng = np.random.default_rng(5)
    dl, d, du = _m_matrix(rng, 60)
    D, e = la.symmetrizer(dl, du)
    b = rng.normal(size=60)
    ref = la.ptsv_inplace(d.copy(), e, D * b) / D
    df, ef = d.copy(), e.copy()
    x = la.ptsv_factor_inplace(df, ef, D * b) / D
    assert np.array_equal(x, ref)
    assert not np.array_equal(df, d) and not np.array_equal(ef, e)  # the factors replaced the bands
    for c in (b, rng.normal(size=60)):
        assert np.array_equal(la.pttrs_inplace(df, ef, D * c) / D, la.ptsv_inplace(d.copy(), e, D * c) / D)
        assert np.array_equal(la.pttrs_inplace(df, ef, c / D) * D, la.ptsv_inplace(d.copy(), e, c / D) * D)
    assert np.max(np.abs(_dense(dl, d, du).T @ (la.pttrs_inplace(df, ef, b / D) * D) - b)) < 1e-12
    with pytest.raises(np.linalg.LinAlgError, match="positive definite"):
        la.ptsv_factor_inplace(np.array([1.0, -1.0, 1.0]), np.zeros(2), np.ones(3))


def test_symmetrizer_refuses_what_it_cannot_symmetrize():
    dl, du = -np.ones(4), -np.ones(4)
    one = dl.copy()
    one[2] = 0.0  # one band zero, the other not
    assert la.symmetrizer(one, du) is None
    flip = dl.copy()
    flip[1] = 1.0  # opposite signs
    assert la.symmetrizer(flip, du) is None
    both = dl.copy()
    both[1] = 0.0
    split = du.copy()
    split[1] = 0.0  # both zero: the matrix splits into two blocks
    D, e = la.symmetrizer(both, split)
    assert np.all(D == 1.0) and e[1] == 0.0
    steep = np.full(400, -1.0)
    assert la.symmetrizer(steep * 1e-3, steep) is None  # D would span 1e600
    assert la.symmetrizer(steep * 1e-3, steep, max_range=1e700) is None  # overflow: never returned
    with pytest.raises(np.linalg.LinAlgError, match="positive definite"):
        la.ptsv_inplace(np.array([1.0, -1.0, 1.0]), np.zeros(2), np.ones(3))
