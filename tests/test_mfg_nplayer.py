"""N-player game vs the mean-field limit (issue 6)."""

from __future__ import annotations

import numpy as np
import pytest

from gelav.mfg import LPType, Market, MFGModel, Numerics, solve
from gelav.mfg.nplayer import n_player

EULER = Numerics(n_cells=40, n_steps=40, scheme="euler")


@pytest.fixture(scope="module")
def eq():  # type: ignore[no-untyped-def]
    return solve(MFGModel((LPType(initial=("normal", -1.5, 0.3)),), Market()), numerics=EULER, no_feedback=False)


@pytest.fixture(scope="module")
def result(eq):  # type: ignore[no-untyped-def]
    return n_player(eq, (10, 100, 1000, 10_000, 100_000), replications=100, gain_replications=6, seed=7)


def test_price_gap_rate_is_one_over_sqrt_n(result) -> None:  # type: ignore[no-untyped-def]
    assert -0.65 <= result.rate_price <= -0.35, result.rate_price
    # each tenfold N shrinks the RMS gap by about sqrt(10) (CLT), within the statistical error
    ratio = result.price_gap[:-1] / result.price_gap[1:]
    assert np.all((ratio > 2.2) & (ratio < 4.5)), ratio


def test_empirical_price_is_unbiased(result) -> None:  # type: ignore[no-untyped-def]
    """Linear price, same Markov chain: E[π^N] = π exactly, so |mean gap| < 4 stderr."""
    assert np.all(np.abs(result.price_bias) < 4 * result.price_bias_se + 1e-15), (result.price_bias, result.price_bias_se)


def test_deviation_gain_vanishes(result) -> None:  # type: ignore[no-untyped-def]
    g = np.abs(result.gain)
    assert g[-1] < 1e-3 * g[0] + 4 * result.gain_se[-1]
    assert g[0] < 1e-2  # small even for 10 LPs (in NAV)


def test_reproducible_and_plot(eq) -> None:  # type: ignore[no-untyped-def]
    import matplotlib

    matplotlib.use("Agg")
    a = n_player(eq, (20, 200), replications=20, gain_replications=0, seed=3)
    b = n_player(eq, (20, 200), replications=20, gain_replications=0, seed=3)
    np.testing.assert_array_equal(a.price_gap, b.price_gap)
    fig = a.plot()
    assert fig.axes[0].get_xlabel() and fig.axes[0].get_title()


def test_bad_inputs(eq) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match="`n_players`"):
        n_player(eq, (10,))
    # a rate fitted through repeated N was returned (-0.916 for N = 10, 10, with a RankWarning)
    for ns in ((10, 10), (10, 100, 10)):
        with pytest.raises(ValueError, match="`n_players` must list distinct"):
            n_player(eq, ns, replications=5, gain_replications=0)
    with pytest.raises(ValueError, match="`replications`"):
        n_player(eq, (10, 100), replications=1)
    cn = solve(MFGModel((LPType(initial=("normal", -1.5, 0.3)),), Market()), numerics=Numerics(n_cells=40, n_steps=40),
               no_feedback=False)
    with pytest.raises(ValueError, match="scheme='euler'"):
        n_player(cn, (10, 100))
    fb = solve(MFGModel((LPType(initial=-0.5, feedback=0.3),), Market()), numerics=EULER, no_feedback=False)
    with pytest.raises(ValueError, match="herding = feedback = 0"):
        n_player(fb, (10, 100))
