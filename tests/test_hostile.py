"""Hostile input (issue 11, class 4): every bad value is a clear error naming the argument."""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner

from gelav import (
    BrownianMotion,
    GeometricBrownianMotion,
    OrnsteinUhlenbeck,
    backward,
    forward,
    optimal_stopping,
)
from gelav.cli import main
from gelav.montecarlo import simulate

OU = OrnsteinUhlenbeck()


def put(x):
    return np.maximum(1.0 - x, 0.0)


@pytest.mark.parametrize("call, name", [
    (lambda: OrnsteinUhlenbeck(mean=True), "mean"),
    (lambda: OrnsteinUhlenbeck(kappa=True), "kappa"),
    (lambda: OrnsteinUhlenbeck(kappa=1e308), "kappa"),
    (lambda: BrownianMotion(sigma=1e308), "sigma"),
    (lambda: GeometricBrownianMotion(mu=np.bool_(True)), "mu"),
    (lambda: simulate(OU, 0.0, 1e308, 10, 100), "horizon"),
    (lambda: simulate(OU, 0.0, 1.0, 10, 100, save={}), "save"),
    (lambda: OU.transition(0.0, 1e300), "t"),
    (lambda: optimal_stopping(OU, put, 1.0, domain=0.0), "domain"),
    (lambda: backward(OU, put, 1.0, domain=0.0), "domain"),
    (lambda: forward(OU, 0.0, 1.0, domain=0.0), "domain"),
    (lambda: forward(OU, 0.0, 1.0, domain=(1.0, 0.0)), "domain"),
    (lambda: optimal_stopping(OU, put, 1.0, x0=0.0, damping_steps=float("nan")), "damping_steps"),
    (lambda: backward(OU, put, 1.0, x0=0.0, times=3.5), "times"),
    (lambda: optimal_stopping(OU, put, 1.0, x0=0.0, times=3.5), "times"),
])
def test_api_error_names_the_argument(call, name):
    with pytest.raises((ValueError, TypeError), match=f"`{name}"):
        call()


@pytest.mark.parametrize("option", ["--horizon", "--kappa", "--sigma"])
def test_cli_overflowing_values_exit_2_naming_the_option(option):
    r = CliRunner().invoke(main, ["stress", option, "1e308"])
    assert r.exit_code == 2, r.output
    assert option in r.output and "Traceback" not in r.output


@pytest.mark.parametrize("text", [
    "x = " + "[" * 5000 + "]" * 5000 + "\n",
    "x = " + "{a = " * 3000 + "1" + "}" * 3000 + "\n",
    "[process]\nkind = 'ou'\n" + "# " + "[" * 100 + "\n",  # brackets in comments do not count
])
def test_deep_toml_is_a_clear_error_not_a_recursion_traceback(tmp_path, text):
    from gelav.scenario import ScenarioError, load

    f = tmp_path / "deep.toml"
    f.write_text(text)
    if text.startswith("[process]"):
        assert load(f)["process"]["kind"] == "ou"
        return
    with pytest.raises(ScenarioError, match="nested"):
        load(f)
    r = CliRunner().invoke(main, ["stress", "--config", str(f)])
    assert r.exit_code == 2 and "nested" in r.output and "Traceback" not in r.output


def test_atomic_write_replaces_whole_file_and_cleans_up_on_error(tmp_path):
    from gelav._io import atomic_write

    f = tmp_path / "sub" / "page.html"
    atomic_write(f, "first")
    atomic_write(f, "second")
    assert f.read_text() == "second"

    def broken(fh):
        fh.write("half")
        raise RuntimeError("killed mid-write")

    with pytest.raises(RuntimeError):
        atomic_write(f, broken)
    assert f.read_text() == "second"  # the old file survives intact
    assert [p.name for p in f.parent.iterdir()] == ["page.html"]  # no temporary left behind


@pytest.mark.parametrize("call, names", [
    (lambda: forward(OU, 0.0, 1.0, n_cells=20_000, n_steps=20_000), ("n_cells", "n_steps")),
    (lambda: backward(OU, put, 1.0, x0=0.0, n_cells=20_000, n_steps=20_000), ("n_cells", "n_steps")),
    (lambda: optimal_stopping(OU, put, 1.0, x0=0.0, n_cells=20_000, n_steps=20_000), ("n_cells", "n_steps")),
    (lambda: forward(OU, 0.0, 1.0, n_cells=10**12), ("n_cells",)),
    (lambda: simulate(OU, 0.0, 1.0, 10**5, 10**4, save="all"), ("n_paths", "n_steps")),
    (lambda: simulate(OU, 0.0, 1.0, 10, 10**12), ("n_paths",)),
])
def test_allocations_that_do_not_fit_in_memory_name_the_sizes(call, names):
    with pytest.raises(ValueError) as info:
        call()
    for name in names:
        assert f"`{name}`" in str(info.value)


def test_mfg_sizes_and_ranges_name_the_argument():
    from gelav.mfg import LPType, Market, Numerics

    with pytest.raises(ValueError, match=r"`n_cells`.*`n_steps`"):
        Numerics(n_cells=100_000, n_steps=100_000)
    for kw in ({"initial": 1e12}, {"feedback": 1e12}, {"kappa": 1e308}, {"mean": 1e12},
               {"initial": ("normal", 1e12, 1.0)}, {"fund_end": 1e308}):
        name = next(iter(kw))
        with pytest.raises(ValueError, match=f"`{name}"):
            LPType(**kw)
    with pytest.raises(ValueError, match="`horizon`"):
        Market(horizon=1e308)


def test_mfg_wall_time_budget_ends_in_convergence_error_with_history():
    from gelav.errors import ConvergenceError
    from gelav.mfg import LPType, Market, MFGModel, Numerics, SolverOptions, solve

    model = MFGModel((LPType(initial=-0.5, feedback=5.0),), Market(distress_impact=0.5))
    with pytest.raises(ConvergenceError, match="max_seconds") as info:
        solve(model, numerics=Numerics(n_cells=40, n_steps=40), options=SolverOptions(max_seconds=1e-6))
    assert isinstance(info.value.history, list)
    with pytest.raises(ValueError, match="`max_seconds`"):
        SolverOptions(max_seconds=0.0)


def test_mfg_tol_below_the_rounding_of_the_path_is_refused_at_once():
    """tol = 1e-308 ran 52 s down the ε-continuation ladder before failing with advice about a steep map; a tol
    below one ulp of the aggregate path's largest entry is unreachable and is refused at the first evaluation."""
    import time

    from click.testing import CliRunner

    from gelav.cli import main
    from gelav.mfg import LPType, Market, MFGModel, Numerics, SolverOptions, solve

    model = MFGModel((LPType(),), Market())
    t0 = time.perf_counter()
    with pytest.raises(ValueError, match=r"`tol` = 1e-300 is below the rounding of the aggregate path"):
        solve(model, numerics=Numerics(n_cells=40, n_steps=40), options=SolverOptions(tol=1e-300))
    assert time.perf_counter() - t0 < 5.0  # one evaluation, not the continuation ladder (generous: no timing test)
    eq = solve(model, numerics=Numerics(n_cells=40, n_steps=40), options=SolverOptions(tol=1e-14))
    assert eq.residual < 1e-14
    r = CliRunner().invoke(main, ["mfg", "--tol", "1e-308"])
    assert r.exit_code == 2 and "(option --tol)" in r.output
