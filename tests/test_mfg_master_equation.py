"""The discrete master equation along the equilibrium flow (issue 14 item 1, ``master_residual``)."""

from __future__ import annotations

import numpy as np
import pytest

from gelav.mfg import LPType, Market, MFGModel, Numerics, solve

MODEL = MFGModel((LPType(),), Market()).with_initial([("normal", -1.0, 0.5)])
TIMES = (0.5, 1.0, 2.0)


def _residual(n: int):
    eq = solve(
        MODEL, numerics=Numerics(n_cells=n, n_steps=n, domain=(-4.0, 3.5)), no_feedback=False
    )
    return eq.master_residual(TIMES)


def test_master_residual_small_and_shrinking_on_refinement() -> None:
    """U(t, L, m_t, S_t) equals the equilibrium value along the flow (time consistency), and
    time derivative + generator + transport cancel to a remainder that shrinks on refinement.

    Measured (mean under the holders' law, max over t = 0.5, 1, 2): 1.1e-4, 1.6e-5, 1.8e-6 at
    20, 40, 80 cells and steps (observed order 2.8, 3.1; 2.0 to 160), against terms of 1.6e-2.
    """
    res = [_residual(n) for n in (20, 40, 80)]
    for r in res:
        np.testing.assert_allclose(r.times, TIMES, atol=1e-12)
        assert r.consistency.max() < 1e-9  # the restarted value is the equilibrium's
        assert np.all(r.norm < 1e-2 * r.terms)
    norms = [float(r.norm.max()) for r in res]
    assert norms[0] / norms[1] > 3.0 and norms[1] / norms[2] > 3.0, norms
    assert norms[2] < 3e-4 * float(res[2].terms.min())  # 1.2e-4 measured
    # the transport term matters: without it the remainder is 5.6-11x larger (measured)
    r = res[2]
    w = r.weights
    without = (w * np.abs(r.residual - r.transport)).sum(axis=(1, 2)) / w.sum(axis=(1, 2))
    assert np.all(without > 4 * r.norm)


def test_master_residual_errors() -> None:
    eq = solve(
        MODEL, numerics=Numerics(n_cells=20, n_steps=20, domain=(-4.0, 3.5)), no_feedback=False
    )
    with pytest.raises(ValueError, match="`times`"):
        eq.master_residual((eq.times[-1],))
