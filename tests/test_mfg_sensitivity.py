"""Linear response dU[ρ] and the flat derivative δU/δm (issue 14 item 1)."""

from __future__ import annotations

import numpy as np
import pytest

from gelav.mfg import LPType, Market, MFGModel, Numerics, sensitivity, solve

NUM = Numerics(n_cells=30, n_steps=30, domain=(-4.0, 3.5))
EQ = solve(MFGModel((LPType(),), Market()).with_initial([("normal", -1.0, 0.5)]), numerics=NUM, no_feedback=False)


def test_centred_differences_converge_at_second_order() -> None:
    """D_h − D_{h/2} shrinks by ≈ 4 per halving of h (O(h²)), for several directions."""
    m0 = EQ.density[0, 0]
    x = EQ.grid.nodes
    dirs = 0.2 * np.stack([m0 * (x - (m0 * x).sum()), m0 * np.sin(x)])
    errs = [sensitivity(EQ, dirs, step=h, method="fd").error for h in (0.4, 0.2)]
    ratio = errs[0] / errs[1]
    assert np.all((ratio > 3.0) & (ratio < 5.5)), ratio
    s = sensitivity(EQ, dirs, step=0.1, method="fd")
    assert np.all(np.abs(s.directions.sum(axis=1)) < 1e-12)
    # linearity: dU[a ρ1 + b ρ2] = a dU[ρ1] + b dU[ρ2] within the FD error
    comb = sensitivity(EQ, [2 * dirs[0] - dirs[1]], step=0.05, method="fd")
    lin = 2 * s.value[0] - s.value[1]
    assert np.max(np.abs(comb.value[0] - lin)) < 10 * (comb.error[0] + 3 * s.error.max()) + 1e-9
    # moving mass to more liquid LPs (positive direction of L) raises the price
    assert s.price[0, 0] > 0


def test_flat_derivative_zero_mean_and_errors() -> None:
    m0 = EQ.density[0, 0]
    j = [int(np.argmax(m0)), int(np.argmax(m0)) + 3]
    s = sensitivity(EQ, nodes=j, step=0.05, method="fd")
    np.testing.assert_allclose(s.directions, np.eye(m0.size)[j] - m0, atol=1e-15)
    with pytest.raises(ValueError, match="`step`"):
        sensitivity(EQ, step=True)
    with pytest.raises(ValueError, match="`nodes`"):
        sensitivity(EQ, nodes=[10 ** 6])
