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
