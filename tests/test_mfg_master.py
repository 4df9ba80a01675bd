"""Master field U(t0, L; μ0): tabulation, parallel runs, time consistency (issue 6)."""

from __future__ import annotations

import numpy as np
import pytest

from gelav.mfg import LPType, Market, MFGModel, Numerics, solve
from gelav.mfg.master import master_field, restart

NUM = Numerics(n_cells=40, n_steps=40, domain=(-4.0, 3.5))
MODEL = MFGModel((LPType(),), Market())


def test_time_consistency_restart_reproduces_value() -> None:
    """Restarting at t0 from μ(t0) (and the pressure then) reproduces V(t0, ·) to solver precision."""
    eq = solve(MODEL.with_initial([("normal", -1.5, 0.3)]), numerics=NUM, no_feedback=False)
    for t0 in (0.5, 2.0):
        i0 = int(np.argmin(np.abs(eq.times - t0)))
        eq2 = restart(eq, float(eq.times[i0]))
        assert eq2.residual < 1e-8
        np.testing.assert_allclose(eq2.value0, eq.value[:, i0], atol=1e-7)
        np.testing.assert_allclose(eq2.price[0], eq.price[0, i0:], atol=1e-7)
    with pytest.raises(ValueError, match="not a time"):
        restart(eq, 0.123456)


def test_master_field_parallel_matches_serial_and_direct_solves() -> None:
    kw = dict(means=(-1.5, 0.0), spreads=(0.2, 0.5), numerics=NUM)
    par = master_field(MODEL, workers=2, progress=True, **kw)
    ser = master_field(MODEL, workers=1, **kw)
    assert par.diagnostics["mode"].startswith("processes")
    np.testing.assert_allclose(par.values, ser.values, atol=1e-12)
    assert np.all(par.residuals < 1e-8)
    direct = solve(MODEL.with_initial([("normal", -1.5, 0.5)]), numerics=NUM, grid=par.grid, no_feedback=False)
    np.testing.assert_allclose(par.value(direct.grid.nodes, -1.5, 0.5), direct.value0[0], atol=1e-12)
    # a more distressed crowd lowers the price and the value of a distressed LP
    assert par.price0[0, 0, 0] < par.price0[1, 0, 0]
    assert par.value(-1.5, -1.5, 0.2) <= par.value(-1.5, 0.0, 0.2) + 1e-12
    with pytest.raises(ValueError, match="not tabulated"):
        par.value(0.0, 0.3, 0.2)


@pytest.mark.slow
def test_master_field_with_dask_client() -> None:
    distributed = pytest.importorskip("dask.distributed")
    with distributed.Client(processes=False, n_workers=1, threads_per_worker=2, dashboard_address=None) as client:
        mf = master_field(MODEL, means=(-1.0, 0.5), spreads=(0.3,), numerics=NUM, client=client, progress=True)
    assert mf.diagnostics["mode"] == "dask"
    ser = master_field(MODEL, means=(-1.0, 0.5), spreads=(0.3,), numerics=NUM, workers=1)
    np.testing.assert_allclose(mf.values, ser.values, atol=1e-12)


def test_master_field_plots_and_errors() -> None:
    import matplotlib

    matplotlib.use("Agg")
    mf = master_field(MODEL, means=(-1.0, 0.5), spreads=(0.3,), numerics=NUM, workers=1)
    for fig in (mf.plot(L=-1.0), mf.plot_heatmap()):
        ax = fig.axes[0]
        assert ax.get_xlabel() and ax.get_ylabel() and ax.get_title()
    with pytest.raises(ValueError, match="`spreads`"):
        master_field(MODEL, spreads=(0.0,), numerics=NUM)
    with pytest.raises(ValueError, match="`means`"):
        master_field(MODEL, means=(), numerics=NUM)
