"""Issue 11, class 6: smaller wrong-looking answers (trinomial parity, pdepe shape docs,
perpetual put far field, MFG failure messages)."""

from __future__ import annotations

import doctest
import math

import numpy as np
import pytest

from gelav.lattice.walk import TrinomialWalk


@pytest.mark.parametrize("n_steps", [252, 101])
def test_symmetric_walk_is_compared_on_its_reachable_sublattice(n_steps):
    """α = 1/2 never stays: after n steps only sites of the parity of n carry mass. On them the law
    is the Gaussian limit (gap O(1/n)) and the seed's KS test accepts it; on all sites it did not."""
    w = TrinomialWalk(0.5)
    assert w.period == 2 and TrinomialWalk(0.3).period == 1
    s = w.simulate(n_steps, 20_000, seed=3, keep_paths=False)
    law, h = s.reachable_law()
    assert h == 2.0 and abs(law.probabilities.sum() - 1.0) < 1e-12
    assert np.all(((law.positions - s.x0) / w.dy - n_steps) % 2 == 0)
    assert s.exact_law().probabilities.min() == 0.0  # every other site of the full lattice is empty
    gap = s.lattice_gap()
    assert gap < 1.0 / n_steps  # was 0.0125 at n = 252 (half a two-site jump)
    ks = s.ks_gaussian()
    assert ks.statistic < 4 / math.sqrt(20_000) + gap and ks.pvalue > 1e-3
    # the density on the reachable sites is the Gaussian's, not twice it
    peak = law.probabilities.max() / h
    assert abs(peak - w.limit(s.horizon).pdf(0.0)) < 0.02 * peak


def test_symmetric_walk_plot_density_matches_the_limit(tmp_path):
    s = TrinomialWalk(0.5).simulate(252, 5000, seed=1, keep_paths=False)
    fig = s.plot()
    ax = fig.axes[0]
    lattice_line = next(ln for ln in ax.get_lines() if ln.get_label().startswith("exact lattice"))
    limit_line = next(ln for ln in ax.get_lines() if ln.get_label().startswith("limit"))
    assert abs(lattice_line.get_ydata().max() / limit_line.get_ydata().max() - 1.0) < 0.02
    heights = [p.get_height() for p in ax.patches]
    assert max(heights) < 1.2 * limit_line.get_ydata().max()  # histogram on 2δy bins
    import matplotlib.pyplot as plt

    plt.close(fig)


def test_pdepe_docstring_example_runs_and_states_the_shape():
    import gelav.pde.pdepe as mod
    from gelav.pde.pdepe import pdepe

    res = doctest.testmod(mod, optionflags=doctest.ELLIPSIS)
    assert res.attempted >= 3 and res.failed == 0
    assert "(nt, nx, 1)" in pdepe.__doc__
    sol = pdepe(
        0,
        lambda x, t, u, dudx: (1.0, dudx, 0.0),
        lambda x: np.sin(np.pi * x),
        lambda xl, ul, xr, ur, t: (ul, 0.0, ur, 0.0),
        np.linspace(0, 1, 11),
        [0.0, 0.05, 0.1],
    )
    assert sol.shape == (3, 11, 1)  # the contract: one component keeps its axis (MATLAB's nt×nx×1)


def _perpetual_put_exact(s: float, r: float, sig: float, k: float) -> float:
    g = 2 * r / sig**2
    b = g * k / (1 + g)
    return k - s if s <= b else (k - b) * (s / b) ** (-g)


@pytest.mark.parametrize(
    ("r", "sig", "s0"), [(0.06, 0.2, 36.0), (0.06, 0.2, 44.0), (0.03, 0.35, 40.0)]
)
def test_perpetual_put_default_far_end_is_widened_until_it_does_not_matter(r, sig, s0):
    """The default domain (sized for a 1-year horizon) made the perpetual put 0.7-1.1 % too high;
    the far ends now move out until the value at x0 changes by < 1e-4 relative."""
    from gelav import GeometricBrownianMotion
    from gelav.pde.stopping import FAR_FIELD_TOL
    from gelav.stopping import optimal_stopping

    k = 40.0
    v = optimal_stopping(
        GeometricBrownianMotion(r, sig),
        lambda x: np.maximum(k - x, 0.0),
        math.inf,
        discount=r,
        x0=s0,
        n_cells=400,
    )
    ff = v.diagnostics["far_field"]
    assert (
        ff["checked"]
        and ff["converged"]
        and ff["widenings"] >= 1
        and ff["change"] <= ff["tolerance"]
    )
    assert ff["tolerance"] == pytest.approx(FAR_FIELD_TOL * v.value(s0))
    exact = _perpetual_put_exact(s0, r, sig, k)
    assert abs(v.value(s0) / exact - 1.0) < 3 * FAR_FIELD_TOL  # far field + O(h²) discretisation


def test_perpetual_put_on_a_narrow_given_domain_warns_with_the_far_field_error():
    from gelav import GeometricBrownianMotion
    from gelav.errors import AccuracyWarning
    from gelav.stopping import optimal_stopping

    with pytest.warns(AccuracyWarning, match="far ends"):
        v = optimal_stopping(
            GeometricBrownianMotion(0.06, 0.2),
            lambda x: np.maximum(40.0 - x, 0.0),
            math.inf,
            discount=0.06,
            domain=(0.0, 80.0),
            x0=36.0,
            n_cells=400,
        )
    ff = v.diagnostics["far_field"]
    assert ff["checked"] and not ff["converged"] and ff["widenings"] == 0
    err = v.value(36.0) - _perpetual_put_exact(36.0, 0.06, 0.2, 40.0)
    assert ff["change"] > 0.3 * abs(err)  # the reported change is the size of the truncation error
    assert v.grid.upper == 80.0  # the caller's domain is kept


@pytest.mark.parametrize("method", ["picard", "anderson", "fictitious", "auto"])
def test_mfg_failure_states_the_tolerance_asked_for_and_the_residual_reached(method):
    """Issue 11: '... best residual 6.07e-06' for tol = 1e-5 mixed residuals of other starts and of
    the continuation's coarser stages. The message now gives the tolerance, ε and the best/last
    residual of the failing attempt itself, so the best reached is never below the tolerance."""
    import re

    from gelav.errors import ConvergenceError
    from gelav.mfg import Numerics, SolverOptions, solve
    from gelav.mfg.scenarios import SCENARIOS

    model = SCENARIOS["stress"].model
    opts = SolverOptions(method=method, max_iter=2, tol=1e-13, continuation=False)
    with pytest.raises(ConvergenceError) as info:
        solve(model, numerics=Numerics(n_cells=50, n_steps=50), options=opts, no_feedback=False)
    msg = str(info.value)
    found = re.findall(
        r"tol=([0-9.e+-]+) asked for at epsilon=[0-9.e+-]+; residual reached ([0-9.e+-]+) \(best\)",
        msg,
    )
    assert found, msg
    for asked, best in found:
        assert float(asked) == 1e-13 and float(best) >= float(asked)
