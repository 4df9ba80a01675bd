"""`gelav trinomial`: the seed 003 walk from the command line."""

from __future__ import annotations

import json
import math

import pytest
from click.testing import CliRunner

from gelav.cli import main


def run(*args: str) -> tuple[int, str, str]:
    r = CliRunner().invoke(main, list(args))
    return r.exit_code, r.stdout, r.stderr


def test_json_output_matches_exact_lattice_and_limit() -> None:
    code, out, _ = run("trinomial", "--json", "--alpha", "0.3", "--steps", "252", "--paths", "20000", "--seed", "11")
    assert code == 0
    d = json.loads(out)
    assert d["C2"] == pytest.approx(0.3)
    assert d["limit_variance"] == pytest.approx(2 * 0.3 * 252)
    v = d["moments"]["variance"]
    assert v["lattice"] == pytest.approx(151.2, rel=1e-12)
    assert abs(v["sample"] - v["lattice"]) < 4 * v["stderr"]
    m = d["moments"]["mean"]
    assert abs(m["sample"]) < 4 * m["stderr"]
    assert d["ks_lattice"]["pvalue"] > 1e-3
    assert d["ks_gaussian"]["statistic"] < 4 / math.sqrt(20000) + d["lattice_gaussian_gap"]


def test_same_seed_same_numbers_and_dy_dt_scaling() -> None:
    a = json.loads(run("trinomial", "--json", "--paths", "500", "--steps", "30", "--seed", "5")[1])
    b = json.loads(run("trinomial", "--json", "--paths", "500", "--steps", "30", "--seed", "5")[1])
    assert a == {**b, "elapsed": a["elapsed"]}
    c = json.loads(run("trinomial", "--json", "--paths", "500", "--steps", "30", "--seed", "5",
                       "--dy", "0.1", "--dt", "0.01")[1])
    assert c["C2"] == pytest.approx(0.3 * 0.01 / 0.01)
    assert c["moments"]["variance"]["sample"] == pytest.approx(a["moments"]["variance"]["sample"] * 0.01, rel=1e-12)


def test_table_output_and_plot(tmp_path) -> None:
    code, out, _ = run("trinomial", "--paths", "2000", "--steps", "50", "--plot", str(tmp_path))
    assert code == 0
    assert "Kolmogorov" in out and "exact lattice" in out
    assert (tmp_path / "trinomial.png").stat().st_size > 10_000
    code, out, _ = run("trinomial", "--paths", "100", "--steps", "10", "--quiet")
    assert code == 0 and out == ""


def test_config_table_and_override(tmp_path) -> None:
    cfg = tmp_path / "s.toml"
    cfg.write_text("[trinomial]\nalpha = 0.2\nsteps = 40\npaths = 300\nseed = 3\n")
    d = json.loads(run("trinomial", "--json", "--config", str(cfg))[1])
    assert d["alpha"] == 0.2 and d["n_steps"] == 40 and d["n_paths"] == 300
    d = json.loads(run("trinomial", "--json", "--config", str(cfg), "--alpha", "0.25")[1])
    assert d["alpha"] == 0.25 and d["n_steps"] == 40
    bad = tmp_path / "bad.toml"
    bad.write_text("[trinomial]\nalpha = 'x'\n")
    code, _, err = run("trinomial", "--config", str(bad))
    assert code == 2 and "`alpha`" in err
    typo = tmp_path / "typo.toml"
    typo.write_text("[trinomial]\nalfa = 0.2\n")
    code, _, err = run("trinomial", "--config", str(typo))
    assert code == 2 and "alfa" in err


@pytest.mark.parametrize(
    "args,match",
    [(("--alpha", "0.7"), "`alpha`"), (("--paths", "0"), "`--paths`"), (("--paths", "1"), "`--paths` must be >= 2"), (("--steps", "-3"), "`--steps`"),
     (("--seed", "-1"), "`--seed`"), (("--dy", "0"), "`dy`"),
     # the exact law costs O(steps²): 1e6 steps ran > 120 s
     (("--steps", "1000000", "--paths", "10"), "`--steps` = 1000000 is too large: it must be <= 20,000"),
     (("--steps", "20000", "--paths", "100000"), "`--steps` × `--paths`"),
     # a variance that underflows: "Normal law needs a finite `loc`..." and a bare division by zero
     (("--dy", "1e-300"), "`--dy` = 1e-300"), (("--dy", "1e-160"), "`--dy` = 1e-160"),
     (("--dt", "1e-320"), "`--dt`")],
)
def test_bad_input_exit_code_2(args: tuple[str, ...], match: str) -> None:
    code, _, err = run("trinomial", *args)
    assert code == 2
    assert match in err
