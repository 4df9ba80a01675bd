"""`gelav ito` is a thin layer over `gelav.tasks.ito`: the same keys in [ito], the same output."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from gelav import tasks
from gelav.cli import main
from gelav.tasks.ito import ItoInputError

CFG = """[ito]
var = "Y"
drift = "mu*Y"
diffusion = "sigma*Y"
assume = "0<Y<1, sigma>0"
transform = "log(Y)"
exit_time = "a,b"
limit = ["b=1"]
pdepe = true
"""


def test_config_and_task_give_identical_output(tmp_path):
    cfg = tmp_path / "ito.toml"
    cfg.write_text(CFG)
    r = CliRunner().invoke(main, ["ito", "--config", str(cfg), "--json"])
    assert r.exit_code == 0, r.output
    rep = tasks.ito(cfg)
    assert json.loads(r.output) == json.loads(json.dumps(rep.to_dict()))
    out = rep.to_dict()
    for key in ("process", "ito_lemma", "pdepe", "exit_time_ode", "exit_time", "exit_time_step_1"):
        assert key in out
    assert out["assumptions"] == ["0 < Y < 1", "sigma > 0"]
    assert out["ito_lemma"]["drift"] == "mu - sigma**2/2"  # d log Y = (μ − σ²/2) dt + σ dW
    # the same from keyword options, and options override the file
    kw = tasks.ito(
        None,
        var="Y",
        drift="mu*Y",
        diffusion="sigma*Y",
        assume="0<Y<1, sigma>0",
        transform="log(Y)",
        exit_time="a,b",
        limit=["b=1"],
        pdepe=True,
    )
    assert kw.to_dict() == rep.to_dict()
    assert rep.texts()["pdepe form c v_t = ∂x f + s (m = 0)"].startswith("c = ")


def test_report_section_takes_the_same_keys(tmp_path):
    from gelav.report import section_ito
    from gelav.scenario import load

    cfg = tmp_path / "ito.toml"
    cfg.write_text(CFG)
    sec = section_ito(load(cfg))
    assert "Expected exit time" in sec.html and "pdepe" in sec.html


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"var": "exp"}, "var"),
        ({"assume": "x<y"}, "assume"),
        ({"exit_time": "a"}, "exit_time"),
        ({"exit_time": "a,b", "limit": ["a to 0"]}, "limit"),
        ({"limit": ["a->0"]}, "limit"),
    ],
)
def test_task_errors_name_the_field(options, field):
    with pytest.raises(ItoInputError, match=f"`{field}`") as err:
        tasks.ito(None, drift="0", diffusion="1", **options)
    assert err.value.field == field


def test_resolve_keeps_its_tuple():
    from gelav.tasks.ito import resolve

    assert resolve({"ito": {"drift": "-x", "diffusion": "1", "pdepe": True}}) == (
        "-x",
        "1",
        None,
        "r",
        "0",
    )


def test_bad_table_types_are_scenario_errors():
    from gelav.scenario import ScenarioError

    with pytest.raises(ScenarioError, match="limit"):
        tasks.ito({"ito": {"drift": "0", "diffusion": "1", "exit_time": "a,b", "limit": [1]}})
    with pytest.raises(ScenarioError, match="pdepe"):
        tasks.ito({"ito": {"drift": "0", "diffusion": "1", "pdepe": "yes"}})
