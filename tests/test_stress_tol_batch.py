"""The automatic mode's exact-time batch (``stress_test(..., tol=)``) gives forward's own numbers.

:func:`gelav.stress._pde_to_tolerance` solves the chains of every flux on the four coarsest nested grids in
one LAPACK call (:func:`gelav.fd.generator.chained_bands`, :func:`gelav.fd.expm.expm_chains`) and reads
each chain's probability with :func:`gelav.stress._cdfs`. Checked here against the slow, independent path:
one ``forward(..., grid=level, scheme="expm", flux=f)`` per answer (a :class:`~gelav.fd.generator.Generator`,
one :class:`~gelav.fd.expm.ExpmStep`, :meth:`Density.prob <gelav.density.Density.prob>` through
``np.interp``) — every answer of every round equal to the last bit, its time-error bound to rounding — and
the seed's numbers against the values the code gave before the batch was restructured (session 7).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from gelav import CIR, GeometricBrownianMotion, OrnsteinUhlenbeck, forward, stress_test
from gelav.stress import _cdfs, _nested_grids, far_lower_end

OU = OrnsteinUhlenbeck(0.45, 1.0, 0.32)


def _cir() -> CIR:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # (the Feller condition holds; no warning expected, none wanted)
        return CIR(1.0, 0.05, 0.2)


def _exact(proc, x0, T, grid, flux, lower):  # type: ignore[no-untyped-def]
    """forward's own exact-time run on one grid (the coarse levels warn that they are coarse: they are)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return forward(proc, x0, T, grid=grid, n_steps=1, scheme="expm", flux=flux, lower=lower)


CASES = [
    ("seed OU below", OU, -0.5, 2.0, -0.5, "below"),
    ("OU above, threshold off the start", OU, -0.5, 2.0, 0.3, "above"),
    ("CIR, graded grids", _cir(), 0.05, 1.0, 0.02, "below"),
    ("GBM, logarithmic grids", GeometricBrownianMotion(0.05, 0.3), 1.0, 1.0, 0.6, "below"),
]


@pytest.mark.parametrize("name,proc,x0,T,c,direction", CASES, ids=[c[0] for c in CASES])
def test_every_batched_answer_is_forwards_own(name, proc, x0, T, c, direction) -> None:  # type: ignore[no-untyped-def]
    tol = 1e-6
    r = stress_test(proc, x0, T, c, direction=direction, methods=["pde"], tol=tol).results["pde"]
    assert r.details["scheme"] == "expm", name
    grids = _nested_grids(proc, x0, T, c, 16, min(1e-10, 0.01 * tol), levels=6, clip=True)
    assert grids is not None
    by_cells = {g.n_nodes - 1: g for g in grids}
    lower = far_lower_end(proc, grids)
    q = {direction: c}
    checked = 0
    for rd in r.details["flux_choice"]["rounds"]:
        for f in ("sg", "sqra"):
            if f not in rd:
                continue
            for cells, p in zip(rd["cells"], rd[f]["probabilities"], strict=True):
                d = _exact(proc, x0, T, by_cells[cells], f, lower)
                assert d.prob(**q) == p, (name, f, cells)
                checked += 1
            bound = max(_exact(proc, x0, T, by_cells[n], f, lower).diagnostics["time_error_bound"]
                        for n in rd["cells"])
            assert rd[f]["time_error_bound"] == pytest.approx(bound, rel=1e-12, abs=0.0)
    assert checked >= 3
    g = by_cells[r.details["cells"]]
    assert _exact(proc, x0, T, g, r.details["flux"], lower).prob(**q) == r.details["unextrapolated"]


def test_seed_numbers_are_those_before_the_restructuring() -> None:
    """The seed's automatic answer, estimate and round answers as the batch gave them before session 7's
    restructuring (``_cdfs`` by chain, the stacked systems without broadcast copies, ...): the same numbers
    to rounding (these are the values printed then, to 17 digits)."""
    r = stress_test(OU, -0.5, 2.0, -0.5, methods=["pde"], tol=1e-6).results["pde"]
    d = r.details
    assert (d["flux"], d["cells"], d["scheme"]) == ("sqra", 129, "expm")
    assert r.probability == pytest.approx(0.0019357647225552316, rel=1e-12, abs=0.0)
    assert r.error == pytest.approx(2.4647848337428324e-07, rel=1e-12, abs=0.0)
    assert d["time_error_bound"] == pytest.approx(9.068616240224296e-10, rel=1e-12, abs=0.0)
    rounds = d["flux_choice"]["rounds"]
    assert rounds[0]["screening_estimates"] == pytest.approx(
        {"sg": 0.0017541922041766356, "sqra": 1.286990116344666e-05}, rel=1e-12, abs=0.0)
    assert rounds[2]["sqra"]["probabilities"] == pytest.approx(
        [0.001975611057158258, 0.001947010533696651, 0.0019385761753405865], rel=1e-12, abs=0.0)


def test_cdfs_is_np_interp_of_each_chains_running_sums() -> None:
    """``_cdfs`` against ``np.interp`` of ``np.cumsum`` chain by chain, with the threshold inside a cell
    (the fast branch), on a face and beyond the ends (``np.interp`` itself): the same numbers."""
    rng = np.random.default_rng(7)
    grids = _nested_grids(OU, -0.5, 2.0, -0.5, 16, 1e-10, levels=3, clip=True)
    assert grids is not None
    sizes = np.array([g.n_nodes for g in grids] * 2)
    starts = np.cumsum(sizes) - sizes
    y = rng.random(int(sizes.sum())) * 1e-2
    faces = [g.faces for g in grids]
    for c in (-0.5, -0.4321, float(faces[0][3]), float(faces[1][-1]) + 1.0, float(faces[0][0]) - 1.0):
        ref = []
        for i, (a, m) in enumerate(zip(starts.tolist(), sizes.tolist(), strict=True)):
            F = np.concatenate(([0.0], np.cumsum(y[a:a + m])))
            ref.append(float(np.interp(c, faces[i % len(faces)], F, left=0.0, right=F[-1])))
        assert _cdfs(y, starts, sizes, faces, c) == ref, c
