"""Scenario files: TOML round trip, validated fields with precise messages, processes from config."""

from __future__ import annotations

import math

import numpy as np
import pytest
from click.testing import CliRunner

from gelav.processes import CIR, BrownianMotion, GeometricBrownianMotion, OrnsteinUhlenbeck
from gelav.scenario import (
    PROCESS_KINDS,
    ScenarioError,
    Section,
    dump_toml,
    load,
    process_from_config,
    process_to_config,
)

FULL = {
    "title": 'Seed 000 — "stress" test',
    "seed": 7,
    "process": {"kind": "ornstein-uhlenbeck", "kappa": 0.45, "mean": 1.0, "sigma": 0.32},
    "stress": {"x0": -0.5, "horizon": 2.0, "threshold": -0.5, "direction": "below",
               "methods": ["analytic", "pde", "mc"], "paths": 100000},
    "calibration": {"data": "C:\\data\\l.csv", "level": 0.95,
                    "result": {"kappa_ci": [0.1, math.inf], "n_obs": 1041, "ok": True}},
    "mfg": {"population": {"weights": [0.5, 0.5]}, "market": {"slope": 0.2, "types": [{"a": 1}, {"a": 2}]}},
}


def test_dump_and_load_round_trip(tmp_path):
    p = tmp_path / "s.toml"
    p.write_text(dump_toml(FULL), encoding="utf-8")
    back = load(p)
    assert back.pop("_path") == str(p)
    assert back == FULL
    # and a second trip is byte-identical
    assert dump_toml(back) == dump_toml(FULL)


@pytest.mark.parametrize("proc", [OrnsteinUhlenbeck(0.45, 1.0, 0.32), BrownianMotion(0.1, 0.2),
                                  GeometricBrownianMotion(0.05, 0.3), CIR(2.0, 0.5, 0.4)])
def test_process_round_trip(proc, tmp_path):
    cfg = process_to_config(proc)
    p = tmp_path / "p.toml"
    p.write_text(dump_toml({"process": cfg}))
    back = process_from_config(load(p)["process"])
    assert type(back) is type(proc) and back.params() == proc.params()
    assert cfg["kind"] in PROCESS_KINDS


def test_process_errors_name_field_value_and_expectation():
    with pytest.raises(ScenarioError, match=r"\[process\] field `kind` = 'heston': expected one of 'brownian'"):
        process_from_config({"kind": "heston"})
    with pytest.raises(ScenarioError, match=r"\[process\] field `kappa` = 'fast': expected a finite number"):
        process_from_config({"kind": "ou", "kappa": "fast"})
    with pytest.raises(ScenarioError, match=r"\[process\] has unknown field\(s\) sigmaa"):
        process_from_config({"kind": "ou", "sigmaa": 0.3})
    with pytest.raises(ScenarioError, match=r"`sigma` must be > 0"):
        process_from_config({"kind": "ou", "sigma": -0.3})
    with pytest.raises(ScenarioError, match="Only built-in processes"):
        from gelav.processes import Process

        process_to_config(Process(lambda t, x: x, lambda t, x: 1 + 0 * x))
    assert process_from_config({"kind": "OU"}).params() == OrnsteinUhlenbeck().params()
    # regression: a missing required parameter surfaced as "CIR.__init__() missing 3 required ..."
    with pytest.raises(ScenarioError, match=r"\[process\] kind 'cir' needs `kappa`, `mean`, `sigma` \(missing\)"):
        process_from_config({"kind": "cir"})


def test_section_validation_messages():
    s = Section({"h": 2.0, "n": 3, "flag": True, "m": "pde, mc", "bad": "x", "neg": -1.0}, "stress", source="f.toml")
    assert s.positive("h") == 2.0 and s.integer("n") == 3 and s.string_list("m") == ["pde", "mc"]
    with pytest.raises(ScenarioError, match=r"f.toml: \[stress\] field `flag` = True: expected a finite number"):
        s.number("flag")
    with pytest.raises(ScenarioError, match=r"field `neg` = -1.0: expected a number > 0"):
        s.positive("neg")
    with pytest.raises(ScenarioError, match=r"field `h` = 2.0: expected an integer >= 1"):
        s.integer("h")
    with pytest.raises(ScenarioError, match=r"field `bad` = 'x': expected one of 'a', 'b'"):
        s.choice("bad", ("a", "b"))
    with pytest.raises(ScenarioError, match=r"is missing the field `x0`"):
        s.number("x0", required=True)
    t = Section({"h": 2.0, "flag": True, "neg": -1.0}, "stress")
    t.positive("h")
    with pytest.raises(ScenarioError, match=r"unknown field\(s\) flag, neg; known fields are h"):
        t.check_unknown()
    with pytest.raises(ScenarioError, match=r"\[stress\] must be a table"):
        Section([1, 2], "stress")


def test_load_errors(tmp_path):
    with pytest.raises(ScenarioError, match="does not exist"):
        load(tmp_path / "none.toml")
    p = tmp_path / "bad.toml"
    p.write_text("[process\nkappa = 1")
    with pytest.raises(ScenarioError, match="not valid TOML"):
        load(p)
    p.write_bytes(b"\xff\xfe[process]")  # regression: a bare UnicodeDecodeError without the file name
    with pytest.raises(ScenarioError, match=r"bad\.toml: not valid TOML: not UTF-8"):
        load(p)


def test_calibrate_save_is_accepted_by_other_commands(tmp_path):
    """`gelav calibrate --save` writes a scenario that `gelav stress --config` and `gelav report` run."""
    from gelav.cli import main

    rng = np.random.default_rng(0)
    x = np.empty(400)
    x[0] = 1.0
    for i in range(399):
        x[i + 1] = 1 + (x[i] - 1) * np.exp(-0.45 / 52) + 0.32 * np.sqrt((1 - np.exp(-0.9 / 52)) / 0.9) * rng.standard_normal()
    lines = ["t,L"] + [f"{i / 52:.8f},{v:.6f}" for i, v in enumerate(x)]
    (tmp_path / "d.csv").write_text("\n".join(lines) + "\n")
    r = CliRunner().invoke(main, ["calibrate", str(tmp_path / "d.csv"), "--save", str(tmp_path / "fit.toml"), "-q"])
    assert r.exit_code == 0, r.output
    cfg = load(tmp_path / "fit.toml")
    assert cfg["process"]["kind"] == "ornstein-uhlenbeck" and "result" in cfg["calibration"]
    r = CliRunner().invoke(main, ["stress", "--config", str(tmp_path / "fit.toml"), "--method", "analytic", "--json"])
    assert r.exit_code == 0, r.output
    proc = process_from_config(cfg["process"])
    import json

    p = json.loads(r.output)["methods"]["analytic"]["probability"]
    assert p == pytest.approx(float(proc.transition(-0.5, 2.0).cdf(-0.5)), rel=1e-12)
    r = CliRunner().invoke(main, ["calibrate", str(tmp_path / "d.csv"), "--config", str(tmp_path / "fit.toml"), "--json"])
    assert r.exit_code == 0 and json.loads(r.output)["estimates"]["kappa"] == pytest.approx(cfg["process"]["kappa"])


def test_calibrate_cli_bad_file_exit_code_2(tmp_path):
    from gelav.cli import main

    (tmp_path / "b.csv").write_text("date,v\n2020-01-01,1\n2020-01-08,x\n")
    r = CliRunner().invoke(main, ["calibrate", str(tmp_path / "b.csv")])
    assert r.exit_code == 2 and "row 2, column 'v'" in r.output
    (tmp_path / "s.csv").write_text("date,v\n2020-01-01,1\n2020-01-08,2\n")
    r = CliRunner().invoke(main, ["calibrate", str(tmp_path / "s.csv")])
    assert r.exit_code == 2 and "too short" in r.output
    (tmp_path / "g.csv").write_bytes(b"date,v\n\xff\xfe\x00")  # regression: bare UnicodeDecodeError
    r = CliRunner().invoke(main, ["calibrate", str(tmp_path / "g.csv")])
    assert r.exit_code == 2 and "g.csv: not a UTF-8 text (CSV) file" in r.output


def test_calibrate_reads_the_data_file_named_in_the_config(tmp_path):
    from gelav.cli import main

    rng = np.random.default_rng(1)
    x = 1 + 0.1 * np.cumsum(rng.standard_normal(60)) * 0.1
    (tmp_path / "d.csv").write_text("date,L\n" + "\n".join(
        f"{np.datetime64('2020-01-03') + np.timedelta64(7 * i, 'D')},{v:.5f}" for i, v in enumerate(x)) + "\n")
    (tmp_path / "c.toml").write_text('[calibration]\ndata = "d.csv"\nlevel = 0.9\n')
    r = CliRunner().invoke(main, ["calibrate", "--config", str(tmp_path / "c.toml"), "--json"])
    assert r.exit_code == 0, r.output
    import json

    assert json.loads(r.output)["level"] == 0.9
    r = CliRunner().invoke(main, ["calibrate"])
    assert r.exit_code == 2 and "Give the data FILE" in r.output
