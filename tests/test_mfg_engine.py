"""The fast sweeps of the mean-field game against a plain dense step-by-step reference.

The engine solves the same discrete scheme as a textbook implementation — per step a
dense Newton iteration for the implicit relaxed exit intensity, then the frozen-
intensity solve; the population by the transposed steps — but batches the work
(cached no-exit factorisations, cached population-independent tails, warm starts,
Newton on all steps at once). These tests pin that every path gives the reference
scheme to 1e-10.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

from gelav.mfg import LPType, Market, MFGModel, Numerics, solve
from gelav.mfg.engine import Problem
from gelav.mfg.scenarios import SCENARIOS

EPS = 1e-3
TIGHT = 1e-13  # Newton tolerance that converges every step to rounding


def _tridiag(sub: np.ndarray, dg: np.ndarray, sup: np.ndarray) -> np.ndarray:
    return np.diag(dg) + np.diag(sub[1:], -1) + np.diag(sup[:-1], 1)


def reference(pb: Problem, Z: np.ndarray, eps: float, delta: float, control: str = "newton"
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Dense step-by-step scheme: values (M+1, KN), intensities (M, KN), holders (M+1, K, N), exits, aggregates."""
    price, _, _, Q = pb.environment(Z)
    K, M, N = pb.K, pb.M, pb.N
    KN = K * N
    sub, dg, sup = Q
    pf = price.transpose(1, 0, 2).reshape(M, KN)
    eye = np.eye(KN)
    V = np.full(KN, pb.model.market.nav)
    Vs = np.empty((M + 1, KN))
    Vs[M] = V
    ks = np.zeros((M, KN))
    Ls, Rs = [None] * M, [None] * M

    def intensity(gap: np.ndarray, al: np.ndarray) -> np.ndarray:
        z = np.maximum(gap / delta, 0.0)
        return z * z / (1.0 + z) / eps * al

    for n in range(M - 1, -1, -1):
        h, th = pb.dt[n], pb.theta[n]
        Qn = _tridiag(sub[n], dg[n], sup[n])
        A = eye - th * h * Qn
        R = eye + (1.0 - th) * h * Qn
        b = pb.rho_f[n] * (R @ V) + h * pb.srcf[n]
        pi, al = pf[n], pb.alive_f[n]
        if control == "lagged":
            k = intensity(pi - V, al)
        else:
            W = np.linalg.solve(A, b)
            for _ in range(200):
                z = np.maximum((pi - W) / delta, 0.0)
                phi = z * z / (1.0 + z)
                dphi = z * (2.0 + z) / (1.0 + z) ** 2
                k = phi / eps * al
                G = A @ W + h * k * (W - pi) - b
                J = A + np.diag(h * (phi + z * dphi) / eps * al)
                dW = np.linalg.solve(J, G)
                W = W - dW
                if np.max(np.abs(dW)) < 1e-14:
                    break
            k = intensity(pi - W, al)
        L = A + np.diag(h * k)
        V = np.linalg.solve(L, b + h * k * pi)
        Vs[n], ks[n], Ls[n], Rs[n] = V, k, L, R
    # population: the exact transpose
    P = np.empty((M + 1, K, N))
    P[0] = pb.p0
    p = pb.p0.reshape(-1).copy()
    exits = np.zeros((M, K))
    for n in range(M):
        q = np.linalg.solve(Ls[n].T, p)  # type: ignore[union-attr]
        p = Rs[n].T @ q  # type: ignore[union-attr]
        exits[n] = pb.dt[n] * (ks[n] * q).reshape(K, N).sum(axis=1)
        P[n + 1] = p.reshape(K, N)
        for j in range(K):
            if pb.end_idx[j] == n + 1:
                p[j * N:(j + 1) * N] = 0.0
    # aggregates at the step midpoints (holders after the payout on the left end)
    post = P.copy()
    for j in range(K):
        post[pb.end_idx[j]:, j] = 0.0
    mid = np.einsum("k,mkn->mn", pb.weights, 0.5 * (post[:-1] + P[1:]))
    D, H, S = mid @ pb.dist_w, mid.sum(axis=1), mid @ pb.x
    m = np.where(H > 1e-300, S / np.where(H > 1e-300, H, 1.0), float(pb.weights @ pb.lbar))
    Zn = np.vstack((D, pb.pressure(exits @ pb.weights)[0], m, H))
    return Vs, ks, P, exits, Zn


MODELS = {
    "crisis": SCENARIOS["crisis"].model,
    "calm": SCENARIOS["calm"].model,  # exits stop: cached no-exit tail and head
    "vintages": SCENARIOS["vintages"].model,  # three types, fund ends inside the horizon
    "herding": MFGModel((LPType(initial=("normal", -2.0, 0.3), herding=0.3),), Market()),  # population-dependent Q
}


def _crowded(pb: Problem) -> np.ndarray:
    """A non-trivial aggregate path: one Picard step from the calm guess."""
    return pb.phi(pb.zero_path(), EPS, EPS)[0]


def _close(a: np.ndarray, b: np.ndarray, tol: float) -> float:
    err = float(np.max(np.abs(a - b)))
    assert err < tol, err
    return err


@pytest.mark.parametrize("name", list(MODELS))
@pytest.mark.parametrize("scheme", ["cn", "euler"])
def test_sweeps_match_dense_reference(name: str, scheme: str) -> None:
    pb = Problem(MODELS[name], Numerics(n_cells=24, n_steps=30, scheme=scheme))
    Z = _crowded(pb)
    Vr, kr, Pr, er, Zr = reference(pb, Z, EPS, EPS)
    # Newton converged to rounding: the same scheme, so agreement to accumulated rounding
    Zn, bw, fw = pb.phi(Z, EPS, EPS, newton_tol=TIGHT)
    _close(bw.V, Vr, 1e-12)
    _close(bw.k * EPS, kr * EPS, 1e-9)  # intensity × ε = φ(gap/δ): rounding of the gap amplified by 1/δ
    _close(fw.P, Pr, 1e-12)
    _close(fw.exits, er, 1e-12)
    _close(Zn, Zr, 1e-11)
    assert np.array_equal(bw.exiting, kr.any(axis=1))
    # the default stops each step's Newton after a correction c <= 1e-7 (1 + |V|): the error left is
    # ~c²/δ per step, accumulated over the M steps
    _, bwd, _ = pb.phi(Z, EPS, EPS)
    c = 1e-7 * (1.0 + np.abs(Vr).max())
    _close(bwd.V, Vr, pb.M * c * c / EPS)


@pytest.mark.parametrize("name", ["crisis", "vintages", "herding"])
def test_warm_starts_and_global_newton_match_reference(name: str) -> None:
    """Warm-started step-by-step and all-steps-at-once Newton reach the same scheme as a cold start."""
    pb = Problem(MODELS[name], Numerics(n_cells=24, n_steps=30))
    Z1 = _crowded(pb)
    _, bw1, _ = pb.phi(Z1, EPS, EPS)
    Z2 = 0.5 * (Z1 + pb.phi(Z1, EPS, EPS, guess=bw1)[0])  # a nearby path, as in the fixed point
    Vr, _, Pr, _, Zr = reference(pb, Z2, EPS, EPS)
    for guess in (bw1, bw1.V):
        for newton in ("step", "global"):
            Zn, bw, fw = pb.phi(Z2, EPS, EPS, guess=guess, newton=newton, newton_tol=TIGHT)
            _close(bw.V, Vr, 1e-12)
            _close(fw.P, Pr, 1e-12)
            _close(Zn, Zr, 1e-11)
    # from a converged guess the global iteration needs one sweep (no step-by-step fallback)
    _, bw2, _ = pb.phi(Z2, EPS, EPS, newton_tol=TIGHT)
    Zn, bwg, fw = pb.phi(Z2, EPS, EPS, guess=bw2, newton="global")
    assert bwg.newton == "global" and bwg.newton_iterations == 1
    _close(bwg.V, Vr, 1e-12)
    _close(Zn, Zr, 1e-11)


def test_lagged_control_and_fixed_policy_match_reference() -> None:
    pb = Problem(MODELS["crisis"], Numerics(n_cells=24, n_steps=30, control="lagged"))
    Z = _crowded(pb)
    Vr, _, _, _, Zr = reference(pb, Z, EPS, EPS, control="lagged")
    Zn, bw, _ = pb.phi(Z, EPS, EPS)
    _close(bw.V, Vr, 1e-12)
    _close(Zn, Zr, 1e-12)
    # a frozen policy is a linear sweep: the value of the best response's own policy is its value
    bp = pb.backward(Z, EPS, EPS, policy=bw.k)
    _close(bp.V, bw.V, 1e-12)


def test_cached_lu_matches_step_matrices() -> None:
    """The lazily factorised steps (used by the N-player game) solve the stored L_n."""
    pb = Problem(MODELS["vintages"], Numerics(n_cells=16, n_steps=20))
    _, bw, _ = pb.phi(_crowded(pb), EPS, EPS)
    rhs = np.linspace(0.0, 1.0, pb.K * pb.N)
    for n in (0, pb.M // 2, pb.M - 1):
        L = _tridiag(np.concatenate(([0.0], bw.ops.al[n])), bw.diag[n], np.concatenate((bw.ops.au[n], [0.0])))
        x = bw.lu[n].solve(rhs)
        _close(L @ x, rhs, 1e-12)


def test_fast_fixed_point_equals_reference_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """Warm starts, global Newton (and optional inexact early best responses) do not move the equilibrium.

    Both runs converge every step's Newton iteration to rounding (otherwise the two
    paths stop it at different iterates, ~c²/δ apart) and the fixed point to 1e-11.
    """
    import gelav.mfg.fixed_point as fp_mod

    monkeypatch.setattr(fp_mod, "NEWTON_TOL", TIGHT)
    num = Numerics(n_cells=40, n_steps=40)
    for name, inexact in (("crisis", 0.0), ("vintages", 0.0), ("crisis", 1e-4)):
        model = SCENARIOS[name].model
        with monkeypatch.context() as m:
            m.setattr(fp_mod, "INEXACT_FACTOR", inexact)  # optional inexact early inner solves
            fast = solve(model, numerics=num, tol=1e-11, no_feedback=False)
        with monkeypatch.context() as m:
            m.setattr(fp_mod, "WARM_BELOW", -1.0)  # every Φ cold and step by step
            m.setattr(fp_mod, "INEXACT_FACTOR", 0.0)  # and exact
            ref = solve(model, numerics=num, tol=1e-11, no_feedback=False)
        assert fast.converged and ref.converged
        _close(fast.price, ref.price, 1e-10)
        _close(fast.value, ref.value, 1e-10)
        _close(fast.density, ref.density, 1e-10)
        _close(fast.exit_flow, ref.exit_flow, 1e-9)  # a rate per year: sharp spike at the start


# -- optional numba engine ------------------------------------------------------------
@pytest.mark.parametrize("name", ["crisis", "vintages", "herding"])
def test_numba_engine_matches_dense_reference(name: str) -> None:
    """The compiled sweeps solve the same scheme: cold, warm, lagged and fixed-policy, to rounding."""
    pytest.importorskip("numba")
    for control in ("newton", "lagged"):
        num = Numerics(n_cells=24, n_steps=30, control=control)
        pn = Problem(MODELS[name], num)
        pb = Problem(MODELS[name], Numerics(n_cells=24, n_steps=30, control=control, engine="numba"))
        Z = _crowded(pn)
        Vr, _, Pr, er, Zr = reference(pn, Z, EPS, EPS, control=control)
        Zn, bw, fw = pb.phi(Z, EPS, EPS, newton_tol=TIGHT)
        _close(bw.V, Vr, 1e-12)
        _close(fw.P, Pr, 1e-12)
        _close(fw.exits, er, 1e-12)
        _close(Zn, Zr, 1e-11)
        # warm start from the previous best response, against the NumPy engine
        Zw, bww, _ = pb.phi(Zn, EPS, EPS, guess=bw, newton_tol=TIGHT)
        Zq, bwq, _ = pn.phi(Zn, EPS, EPS, guess=bw, newton_tol=TIGHT)
        _close(bww.V, bwq.V, 1e-12)
        _close(Zw, Zq, 1e-11)
        # a frozen policy: the value of the best response's own policy is its value
        _close(pb.backward(Z, EPS, EPS, policy=bw.k).V, bw.V, 1e-12)


def test_numba_engine_equilibrium_equals_numpy() -> None:
    pytest.importorskip("numba")
    model = SCENARIOS["crisis"].model
    a = solve(model, numerics=Numerics(n_cells=40, n_steps=40), no_feedback=False)
    b = solve(model, numerics=Numerics(n_cells=40, n_steps=40, engine="numba"), no_feedback=False)
    assert b.converged and a.iterations == b.iterations
    # the same scheme and iteration; only rounding (and where each step's Newton stops) differs
    _close(a.price, b.price, 1e-10)
    _close(a.value, b.value, 1e-10)
    assert b.diagnostics["mass_balance_error"] < 1e-12  # holders + exits = 1
    assert b.diagnostics["duality_error"] < 1e-12  # the forward sweep is the exact transpose


def _rel(a: np.ndarray, b: np.ndarray, tol: float) -> None:
    """``a`` and ``b`` agree to ``tol`` relative to the largest entry of ``a``."""
    _close(a / np.abs(a).max(), b / np.abs(a).max(), tol)


@pytest.mark.parametrize("name", ["crisis", "heterogeneous", "vintages", "fire-sale", "q4-seasonality"])
def test_numpy_and_numba_engines_agree_to_1e12_on_presets(name: str) -> None:
    """The NumPy engine (symmetrised ?ptsv solves, bare LAPACK calls) and the compiled engine (Thomas)
    solve the same kernels: cold, warm-started, lagged and fixed-policy sweeps and the population agree
    to 1e-12 relative on the presets (Newton converged to rounding, so both stop at the same scheme)."""
    pytest.importorskip("numba")
    from dataclasses import replace

    sc = SCENARIOS[name]
    num = replace(sc.numerics, n_cells=60, n_steps=80)
    pn = Problem(sc.model, replace(num, engine="numpy"))
    pb = Problem(sc.model, replace(num, engine="numba"))
    Z = _crowded(pn)
    Zn, bn, fn = pn.phi(Z, EPS, EPS, newton_tol=TIGHT)
    Zb, bb, fb = pb.phi(Z, EPS, EPS, newton_tol=TIGHT)
    assert bn.exiting.any() and np.array_equal(bn.exiting, bb.exiting)
    _rel(bn.V, bb.V, 1e-12)
    _rel(fn.P, fb.P, 1e-12)
    _rel(fn.exits, fb.exits, 1e-12)
    _rel(Zn, Zb, 1e-12)
    Z2 = 0.5 * (Z + Zn)
    for kw in ({"guess": bn}, {"control": "lagged"}, {"policy": bn.k}):
        a, b = (p.backward(Z2, EPS, EPS, newton_tol=TIGHT, **kw) for p in (pn, pb))
        _rel(a.V, b.V, 1e-12)
        _rel(pn.forward(a).P, pb.forward(b).P, 1e-12)


def test_numpy_engine_without_symmetrizer_is_the_same_scheme(monkeypatch: pytest.MonkeyPatch) -> None:
    """Rows that cannot be symmetrised fall back to ?gtsv: the same numbers to rounding."""
    from gelav.fd import linalg

    pb = Problem(MODELS["vintages"], Numerics(n_cells=24, n_steps=30))
    Z = _crowded(pb)
    ref = pb.phi(Z, EPS, EPS, newton_tol=TIGHT)
    ops = pb._ops(pb._Q_static)
    assert all(sym is not None for _, sym in ops.aux)  # the symmetrised solves ran
    monkeypatch.setattr(linalg, "symmetrizer", lambda dl, du, max_range=1e100: None)
    pg = Problem(MODELS["vintages"], Numerics(n_cells=24, n_steps=30))
    out = pg.phi(Z, EPS, EPS, newton_tol=TIGHT)
    assert all(sym is None for _, sym in pg._ops(pg._Q_static).aux)
    for a, b in ((ref[0], out[0]), (ref[1].V, out[1].V), (ref[2].P, out[2].P)):
        _rel(a, b, 1e-12)


@pytest.mark.parametrize("name", ["crisis", "vintages", "herding"])
def test_forward_from_kept_factorisations_is_bitwise_the_same(name: str) -> None:
    """The NumPy forward sweep solves each exiting step with the factorisation the backward sweep kept
    (?pttrs on the ?ptsv factors of the same matrix): bitwise the numbers of refactorising it, for the
    step-by-step, all-steps-at-once, lagged and fixed-policy backward sweeps (three types, fund ends,
    population-dependent dynamics)."""
    from dataclasses import replace

    pb = Problem(MODELS[name], Numerics(n_cells=24, n_steps=30))
    Z = _crowded(pb)
    _, bw1, _ = pb.phi(Z, EPS, EPS, newton_tol=TIGHT)
    lagged = Problem(MODELS[name], Numerics(n_cells=24, n_steps=30, control="lagged"))
    cases = [(pb, {}), (pb, {"guess": bw1, "newton": "global"}), (pb, {"policy": bw1.k}), (lagged, {})]
    for p, kw in cases:
        bw = p.backward(Z, EPS, EPS, **kw)
        assert bw.newton == kw.get("newton", "step")
        kept = p._kept(bw)
        assert kept is not None and kept[2].any()
        assert set(np.flatnonzero(kept[2])) <= set(np.flatnonzero(bw.exiting))  # factors of exiting steps only
        a, b = p.forward(bw), p.forward(replace(bw, factors=None))
        for x, y in ((a.P, b.P), (a.q, b.q), (a.exits, b.exits), (a.Z, b.Z)):
            assert np.array_equal(x, y)
    # two sweeps later the buffer holds another sweep's factors: the forward sweep refactorises (same numbers)
    bw = pb.backward(Z, EPS, EPS)
    ref = pb.forward(bw)
    pb.backward(Z, EPS, EPS, policy=bw1.k)
    assert pb._kept(bw) is not None
    pb.backward(2.0 * Z, EPS, EPS)
    assert pb._kept(bw) is None
    assert np.array_equal(pb.forward(bw).P, ref.P)


def test_extrapolation_weights_are_exact_for_quadratics_in_time() -> None:
    """The predictors' weights reproduce any quadratic in time on the steps taken (half steps, fund ends,
    quarter boundaries: unequal steps), linear functions on the last-but-one step, constants on the last."""
    from gelav.mfg.engine import extrapolation_weights

    pb = Problem(MODELS["vintages"], Numerics(n_cells=16, n_steps=40))
    t = pb.times
    assert np.ptp(np.diff(t)) > 0.1 * np.diff(t).max()  # unequal steps
    w = extrapolation_weights(t)
    M = pb.M
    n = np.arange(M - 2)
    for f in (np.full_like(t, 2.0), 3.0 * t - 1.0, (t - 0.3) ** 2):
        pred = w[n, 0] * f[n + 1] + w[n, 1] * f[n + 2] + w[n, 2] * f[n + 3]
        assert np.allclose(pred, f[n], rtol=0.0, atol=1e-12)
    lin = 3.0 * t - 1.0
    assert w[M - 2, 2] == 0.0 and np.isclose(w[M - 2, 0] * lin[M - 1] + w[M - 2, 1] * lin[M], lin[M - 2])
    assert np.array_equal(w[M - 1], [1.0, 0.0, 0.0])


def test_extrapolating_predictors_save_newton_corrections() -> None:
    """Cold and warm Newton predictors from the next three levels extrapolated in time: fewer corrections than
    from the next level alone (weights (1, 0, 0)), and the same scheme to the Newton tolerance (~M c²/δ)."""
    pb = Problem(MODELS["crisis"], Numerics(n_cells=200, n_steps=400))
    e, d = pb.numerics.epsilon, pb.numerics.delta
    Z = pb.phi(pb.zero_path(), e, d)[0]
    Z = 0.5 * (Z + pb.phi(Z, e, d)[0])
    guess = pb.backward(Z, e, d)
    Z2 = Z * (1.0 + 1e-3)
    cold, warm = pb.backward(Z2, e, d), pb.backward(Z2, e, d, guess=guess)
    pb.xw = np.tile([1.0, 0.0, 0.0], (pb.M, 1))  # the next level only
    cold1, warm1 = pb.backward(Z2, e, d), pb.backward(Z2, e, d, guess=guess)
    assert cold.newton_iterations <= 0.9 * cold1.newton_iterations  # measured 1025 against 1259
    assert warm.newton_iterations <= 0.9 * warm1.newton_iterations  # 541 against 717
    c = 1e-7 * (1.0 + np.abs(cold.V).max())
    for a, b in ((cold, cold1), (warm, warm1), (cold, warm)):
        _close(a.V, b.V, pb.M * c * c / d)


def test_engine_option_is_validated() -> None:
    with pytest.raises(ValueError, match="engine"):
        Numerics(engine="fortran")


# -- one implementation of the sweeps ---------------------------------------------------------
def test_compiled_engine_is_the_same_kernels() -> None:
    """The numba engine compiles the functions of gelav.mfg.kernels (same code objects), not a copy,
    and the two backends agree to 1e-12 on every mode of the backward sweep and on the forward sweep."""
    pytest.importorskip("numba")
    from gelav.mfg import _numba, kernels

    nb = _numba.kernels()
    for name in kernels.KERNELS:
        assert getattr(nb, name).py_func.__code__ is getattr(kernels, name).__code__
    pb = Problem(MODELS["vintages"], Numerics(n_cells=24, n_steps=30))
    pbn = Problem(MODELS["vintages"], Numerics(n_cells=24, n_steps=30, engine="numba"))
    Z = _crowded(pb)
    # Newton converged to rounding (else the backends may stop one correction apart, ~tol²/δ)
    ref = pb.backward(Z, EPS, EPS, newton_tol=TIGHT)
    cases = [{}, {"control": "lagged"}, {"policy": ref.k}, {"guess": ref}]
    for kw in cases:
        a, b = (p.backward(Z, EPS, EPS, newton_tol=TIGHT, **kw) for p in (pb, pbn))
        assert a.exiting.any()  # the exit branches run
        _close(a.V, b.V, 1e-12)
        _close(a.k / np.abs(a.k).max(), b.k / np.abs(a.k).max(), 1e-12)  # k ~ 1/ε: relative
        assert np.array_equal(a.exiting, b.exiting)
    fa, fb = pb.forward(ref), pbn.forward(pbn.backward(Z, EPS, EPS, newton_tol=TIGHT))
    _close(fa.P, fb.P, 1e-12)
    _close(fa.exits, fb.exits, 1e-12)


def test_changed_primitive_is_recompiled_not_loaded_stale(tmp_path) -> None:
    """Numba's disk cache watches only the file defining a function: a kernel of gelav.mfg.kernels
    compiled against the primitives of gelav.mfg._numba was loaded stale after a primitive changed
    (measured: the old result until the cache was deleted). The compiled names carry a digest of
    the sources (_numba.sources_digest), so an edited primitive is a new cache entry."""
    pytest.importorskip("numba")
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    src = Path(__file__).resolve().parent.parent / "src" / "gelav"
    shutil.copytree(src, tmp_path / "gelav", ignore=shutil.ignore_patterns("__pycache__"))
    script = ("import numpy as np; from gelav.mfg import _numba; k = _numba.kernels(); o = np.empty(2); "
              "print(k.exit_rate(np.array([1.0, 2.0]), np.zeros(2), 1.0, np.ones(2), o, np.empty(2)).tolist())")
    env = {**os.environ, "PYTHONPATH": str(tmp_path), "NUMBA_CACHE_DIR": str(tmp_path / "cache")}

    def run() -> list[float]:
        out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True)
        import json

        return json.loads(out.stdout.strip().splitlines()[-1])  # the printed list

    first = run()
    assert run() == first  # from the disk cache
    prim = tmp_path / "gelav" / "mfg" / "_numba.py"
    text = prim.read_text(encoding="utf-8")
    old = "out[i] = z * z / (1.0 + z) * ae[i]"
    assert old in text
    prim.write_text(text.replace(old, "out[i] = 2.0 * z * z / (1.0 + z) * ae[i]"), encoding="utf-8")
    assert run() == [2.0 * v for v in first]  # the edited primitive, not the cached kernel
    from gelav.mfg import _numba

    d0 = _numba.sources_digest()
    assert _numba.kernels().backward_sweep.py_func.__qualname__ == f"backward_sweep_{d0}"


def test_auto_engine_takes_numba_on_large_grids_only(monkeypatch) -> None:
    from gelav.mfg import _numba
    from gelav.mfg.model import AUTO_NUMBA_CELL_STEPS

    assert Numerics().engine == "auto"
    assert Numerics().resolved_engine == "numpy"  # 200 x 200: loading the compiled kernels costs more
    big = Numerics(n_cells=1000, n_steps=AUTO_NUMBA_CELL_STEPS // 1000)
    assert big.resolved_engine == ("numba" if _numba.available() else "numpy")
    assert Numerics(n_cells=1000, n_steps=AUTO_NUMBA_CELL_STEPS // 1000 - 1).resolved_engine == "numpy"
    monkeypatch.setattr(_numba, "available", lambda: False)
    assert big.resolved_engine == "numpy"  # no numba: the NumPy engine, never an error
    assert Numerics(engine="numpy", n_cells=2000, n_steps=2000).resolved_engine == "numpy"
