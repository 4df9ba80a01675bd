"""`gelav stress`: the seed's number from every method, JSON shape, config files, errors."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from gelav.cli import main

EXACT = 0.0019356487804036227


def run(*args):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_default_run_reproduces_seed_000_table():
    r = run("stress", "--paths", "200000")
    assert r.exit_code == 0, r.output
    assert "0.0019356" in r.output
    for method in ("analytic", "pde", "mc", "lattice"):
        assert method in r.output


def test_json_has_an_entry_per_method_that_agrees_with_the_closed_form():
    r = run("stress", "--json", "--method", "analytic,pde,mc,lattice", "--seed", "7")
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    m = out["methods"]
    assert set(m) == {"analytic", "pde", "mc", "lattice"}
    assert m["analytic"]["probability"] == pytest.approx(EXACT, rel=1e-12)
    # PDE: extrapolated answer within its own refinement estimate, which is tiny;
    # the plain finest-grid answer within its second-order estimate.
    assert abs(m["pde"]["probability"] - EXACT) <= 2 * m["pde"]["error_estimate"] + 1e-12
    assert m["pde"]["error_estimate"] < 1e-7
    assert abs(m["pde"]["unextrapolated"] - EXACT) <= 1.5 * m["pde"]["unextrapolated_error_estimate"]
    # Lattice: the error estimate is that of the finer tree, a bound for the extrapolation
    assert abs(m["lattice"]["probability"] - EXACT) <= m["lattice"]["error_estimate"]
    # Monte Carlo: within 4 standard errors
    assert abs(m["mc"]["probability"] - EXACT) < 4 * m["mc"]["stderr"]
    for v in m.values():
        assert v["seconds"] >= 0
    assert out["inputs"]["kappa"] == 0.45 and out["inputs"]["x0"] == -0.5


def test_above_and_custom_parameters():
    r = run("stress", "--json", "--method", "analytic,pde", "--above", "--threshold", "1.5",
            "--kappa", "1.0", "--sigma", "0.5", "--x0", "0.0", "--horizon", "1.0")
    out = json.loads(r.output)
    from gelav import OrnsteinUhlenbeck

    exact = OrnsteinUhlenbeck(1.0, 1.0, 0.5).transition(0.0, 1.0).sf(1.5)
    assert out["methods"]["analytic"]["probability"] == pytest.approx(exact, rel=1e-12)
    assert out["methods"]["pde"]["probability"] == pytest.approx(exact, abs=1e-5)


@pytest.mark.parametrize(
    ("kind", "params", "x0", "horizon", "c"),
    [
        ("brownian", {"mu": 0.3, "sigma": 0.7}, 0.0, 2.0, -1.0),
        ("gbm", {"mu": 0.05, "sigma": 0.3}, 1.0, 1.0, 0.8),
        ("ou", {"kappa": 2.0, "mean": 0.5, "sigma": 0.8}, 0.2, 1.0, 0.0),
    ],
)
def test_pde_error_estimate_bounds_the_error_when_threshold_differs_from_x0(tmp_path, kind, params, x0, horizon, c):
    """Regression: with c off the grid's nodes the h² error constant changed from grid to grid, and
    Richardson understated the error (BM: error 1.5e-7, estimate 1.9e-10; GBM: 2.0e-5 vs 7.1e-6)."""
    from gelav.scenario import process_from_config
    from gelav.stress import stress_test

    proc = process_from_config({"kind": kind, **params})
    exact = float(proc.transition(x0, horizon).cdf(c))
    pde = stress_test(proc, x0, horizon, c, methods=["pde"]).results["pde"]
    assert abs(pde.probability - exact) <= 1.5 * pde.error + 1e-13
    assert pde.error < 1e-7
    un, un_err = pde.details["unextrapolated"], pde.details["unextrapolated_error_estimate"]
    assert abs(un - exact) <= 1.5 * un_err


def test_plot_file_is_written(tmp_path):
    f = tmp_path / "stress.png"
    r = run("stress", "--method", "analytic,pde", "--plot", str(f), "--quiet")
    assert r.exit_code == 0, r.output
    assert r.output == ""
    assert f.stat().st_size > 10_000


def test_config_file(tmp_path):
    cfg = tmp_path / "s.toml"
    cfg.write_text(
        '[process]\nkind = "ou"\nkappa = 0.45\nmean = 1.0\nsigma = 0.32\n'
        '[stress]\nx0 = -0.5\nhorizon = 2.0\nthreshold = -0.5\nmethods = ["analytic"]\n'
    )
    out = json.loads(run("stress", "--config", str(cfg), "--json").output)
    assert out["methods"]["analytic"]["probability"] == pytest.approx(EXACT, rel=1e-12)


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (["--sigma", "0"], "`sigma` must be > 0"),
        (["--horizon", "-1"], "`horizon` must be > 0"),
        (["--method", "quantum"], "Unknown method"),
        (["--config", "/nonexistent.toml"], "does not exist"),
        # regression: 0 used to fall back silently to the default (1e6 paths, 800 cells)
        (["--paths", "0"], "`paths` must be >= 100"),
        (["--cells", "0"], "`cells` must be >= 16"),
        (["--method", ""], "`methods` is empty"),
    ],
)
def test_bad_input_exit_code_2(args, match):
    r = CliRunner().invoke(main, ["stress", *args])
    assert r.exit_code == 2
    assert match in r.output


def test_bad_config_field(tmp_path):
    cfg = tmp_path / "bad.toml"
    cfg.write_text("[stress]\nhorizon = \"two\"\n")
    r = CliRunner().invoke(main, ["stress", "--config", str(cfg)])
    assert r.exit_code == 2
    assert "[stress] field `horizon`" in r.output


def test_resource_errors_are_messages_not_tracebacks(tmp_path, monkeypatch):
    """Regressions: an unwritable --plot path and MemoryError (--particles 1e9) printed tracebacks."""
    blocker = tmp_path / "file"
    blocker.write_text("")
    r = CliRunner().invoke(main, ["stress", "--method", "analytic", "--plot", str(blocker / "x.png")])
    assert r.exit_code == 2 and r.output.startswith("Error: ") and "Traceback" not in r.output

    import gelav.stress

    def boom(*args, **kwargs):
        raise MemoryError

    monkeypatch.setattr(gelav.stress, "stress_test", boom)
    r = CliRunner().invoke(main, ["stress"])
    assert r.exit_code == 1 and "Out of memory" in r.output


def test_pde_is_accurate_when_cir_violates_feller():
    """Issue 11: was a warning that the PDE converges slowly; the graded grid and the scale–speed
    chain at the singular end 0 make it second order, and the answer is within its estimate."""
    import warnings as _w

    from gelav import CIR, AccuracyWarning, FellerConditionWarning
    from gelav.stress import stress_test

    with _w.catch_warnings():
        _w.simplefilter("ignore", FellerConditionWarning)
        cir = CIR(0.5, 0.04, 0.3)  # 2κθ = 0.04 < σ² = 0.09
    with _w.catch_warnings():
        _w.simplefilter("error", AccuracyWarning)
        r = stress_test(cir, 0.02, 1.0, 0.01, methods=["analytic", "pde"], cells=200)
    exact, pde = r.results["analytic"].probability, r.results["pde"]
    assert abs(pde.probability - exact) < pde.error


def test_stress_tol_option_matches_the_python_api(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """`gelav stress --tol` (and `[stress] tol`) is `stress_test(..., tol=)`: the same PDE number, within its
    validated estimate of the exact law; a table or an out-of-range tolerance is a usage error (exit 2)."""
    from gelav import OrnsteinUhlenbeck, stress_test

    r = CliRunner().invoke(main, ["stress", "--tol", "1e-6", "--method", "analytic,pde", "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    ref = stress_test(OrnsteinUhlenbeck(0.45, 1.0, 0.32), -0.5, 2.0, -0.5, methods=["analytic", "pde"], tol=1e-6)
    pde = ref.results["pde"]
    got = out["results"]["pde"] if "results" in out else out["methods"]["pde"]
    assert got["probability"] == pde.probability and pde.error <= 1e-6
    assert abs(pde.probability - ref.results["analytic"].probability) <= pde.error
    cfg = tmp_path / "s.toml"
    cfg.write_text('[stress]\ntol = 1e-6\nmethods = ["pde"]\n')
    r = CliRunner().invoke(main, ["stress", "--config", str(cfg), "--json"])
    assert r.exit_code == 0, r.output
    for bad in (["--tol", "2"], ["--tol", "1e-6", "--horizon", "1,2"], ["--tol", "nan"]):
        r = CliRunner().invoke(main, ["stress", *bad])
        assert r.exit_code == 2 and "tol" in r.output, (bad, r.output)


@pytest.mark.parametrize("bad", [["--draws", "-1"], ["--draws", "5"], ["--band-level", "1.5"],
                                 ["--band-level", "0", "--horizon", "1,2"]])
def test_band_settings_are_checked_without_a_fit(bad) -> None:  # type: ignore[no-untyped-def]
    """`--draws`/`--band-level` are read only with `--fit`; a bad value was silently ignored (exit 0)."""
    r = CliRunner().invoke(main, ["stress", *bad])
    assert r.exit_code == 2 and bad[0] in r.output, r.output


@pytest.mark.parametrize("option", ["--threshold", "--x0"])
def test_levels_beyond_1e12_are_refused_naming_the_option(option):
    # the coefficients' squares overflow there: the error named no option before (session 5)
    from gelav.cli import main

    r = CliRunner().invoke(main, ["stress", option, "-1e308", "-q"])
    assert r.exit_code == 2 and option in r.output and "1e+12" in r.output


def test_a_spread_below_rounding_leaves_paths_and_lattice_out():
    """T = 1e-300 with x0 = c: P = 1/2 (analytic and PDE), but every path and lattice node ends at x0 to
    the bit, so Monte Carlo and the lattice said 0 ("< 3e-6, 95 % bound"); now they are left out with
    the reason. At T = 1e-20 (spread 3.2e-11) they run and agree with 1/2."""
    from gelav import OrnsteinUhlenbeck, stress_test

    p = OrnsteinUhlenbeck(0.45, 1.0, 0.32)
    r = stress_test(p, -0.5, 1e-300, -0.5, methods=["analytic", "mc", "lattice"], paths=10_000)
    assert r.results["analytic"].probability == 0.5
    assert set(r.omitted) == {"mc", "lattice"} and "below 1e-12 of the states" in r.omitted["mc"]
    r = stress_test(p, -0.5, 1e-20, -0.5, methods=["mc", "lattice"], paths=100_000)
    assert not r.omitted
    assert abs(r.results["mc"].probability - 0.5) <= 4 * r.results["mc"].error
    assert abs(r.results["lattice"].probability - 0.5) <= 1e-5
    # far from the threshold a tiny spread answers 0 correctly: nothing left out
    r = stress_test(p, -0.5, 1e-300, -0.6, methods=["mc", "lattice"], paths=10_000)
    assert not r.omitted and r.results["mc"].probability == 0.0


@pytest.mark.parametrize("cells", ["100000000", "14143"])
def test_cells_beyond_the_memory_limit_names_the_option(cells: str) -> None:
    """``--cells 100000000`` named `n_cells` and `n_steps`, options the command does not have."""
    r = run("stress", "--cells", cells)
    code, err = r.exit_code, r.output
    assert code == 2 and "`--cells`" in err and "<= 14,141" in err and "n_cells" not in err


@pytest.mark.parametrize("kind,params", [("gbm", ()), ("cir", ("--kappa", "1", "--mean", "0.05", "--sigma", "0.2"))])
@pytest.mark.parametrize("opt,value", [("--a", "-1"), ("--b", "-0.5")])
def test_exit_time_limit_outside_the_state_space_names_the_option(kind: str, params: tuple[str, ...], opt: str,
                                                                   value: str) -> None:
    """GBM / CIR with ``--a -1`` said "Cannot classify the end at x=-1: the coefficients are not finite"."""
    args = {"--a": "0.5", "--b": "1"}
    args[opt] = value
    r = run("exit-time", "--process", kind, *params, "--a", args["--a"], "--b", args["--b"])
    code, err = r.exit_code, r.output
    assert code == 2 and f"`{opt}` = {value}" in err and "outside the state space (0, ∞)" in err
