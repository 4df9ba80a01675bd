"""One set of command-line conventions: every command has the shared options and honours them the same way."""

from __future__ import annotations

import importlib
import json

import pytest
from click.testing import CliRunner

from gelav.cli import COMMANDS, main

#: fast arguments per command (the defaults are the seeds' full-size runs)
FAST = {
    "stress": ["--method", "analytic,pde", "--cells", "200"],
    "feynman-kac": ["--n-cells", "40", "--n-steps", "40", "--no-pdepe"],
    "exit-time": ["--process", "brownian", "--mu", "0.3", "--sigma", "0.7", "--a", "-1", "--b", "2", "--n-cells", "80"],
    "trinomial": ["--paths", "300", "--steps", "20"],
    "mckean-vlasov": ["--particles", "300", "--systems", "3", "--steps", "20", "--cells", "60"],
    "mfg": ["--scenario", "calm", "--n-cells", "40", "--n-steps", "30"],
    "ito": ["--drift", "kappa*(theta - x)", "--diffusion", "sigma"],
}
WITH_ARRAYS = ("stress", "feynman-kac", "exit-time", "trinomial", "mckean-vlasov", "mfg")
ONE_FIGURE = ("stress", "trinomial", "mckean-vlasov")


def _command(name):
    module, attr = COMMANDS[name].split(":")
    return getattr(importlib.import_module(module), attr)


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_has_the_shared_options(name):
    opts = {o for p in _command(name).params for o in (*p.opts, *p.secondary_opts)}
    assert {"--json", "--plot", "--config", "--quiet", "-q"} <= opts, name
    if name in WITH_ARRAYS:
        assert "--export" in opts, name


@pytest.mark.parametrize("name", sorted(FAST))
def test_quiet_prints_nothing(name):
    r = CliRunner().invoke(main, [name, *FAST[name], "-q"])
    assert r.exit_code == 0, r.output
    assert r.output == "", r.output


@pytest.mark.parametrize("name", (*ONE_FIGURE, "exit-time"))
def test_plot_into_a_folder_writes_command_png(name, tmp_path):
    figs = tmp_path / "figs"
    r = CliRunner().invoke(main, [name, *FAST[name], "-q", "--plot", f"{figs}/"])
    assert r.exit_code == 0, r.output
    assert (figs / f"{name.replace('-', '_')}.png").stat().st_size > 5_000
    assert not (tmp_path / "figs.png").exists()


@pytest.mark.parametrize("name", WITH_ARRAYS)
def test_export_writes_the_arrays(name, tmp_path):
    r = CliRunner().invoke(main, [name, *FAST[name], "--json", "--export", str(tmp_path / "out.csv")])
    assert r.exit_code == 0, r.output
    json.loads(r.output)  # --export does not disturb --json
    files = list(tmp_path.glob("out*.csv"))
    assert files and all(len(f.read_text().splitlines()) >= 2 for f in files)


def test_config_for_ito(tmp_path):
    cfg = tmp_path / "s.toml"
    cfg.write_text('[ito]\ndrift = "mu*x"\ndiffusion = "sigma*x"\ntransform = "log(x)"\n')
    r = CliRunner().invoke(main, ["ito", "--config", str(cfg), "--json"])
    assert r.exit_code == 0, r.output
    d = json.loads(r.output)
    assert d["ito_lemma"]["drift"] == "mu - sigma**2/2"  # d log X = (μ − σ²/2) dt + σ dW
    r = CliRunner().invoke(main, ["ito", "--config", str(cfg), "--transform", "x**2", "--json"])
    assert json.loads(r.output)["ito_lemma"]["G"] == "x**2"  # options override the file
    r = CliRunner().invoke(main, ["ito"])
    assert r.exit_code == 2 and "--drift" in r.output


def test_warnings_are_one_line_messages(tmp_path):
    cfg = tmp_path / "cir.toml"
    cfg.write_text('[process]\nkind = "cir"\nkappa = 0.5\nmean = 0.04\nsigma = 0.3\n'
                   '[stress]\nx0 = 0.02\nhorizon = 1.0\nthreshold = 0.01\nmethods = ["pde"]\ncells = 100\n')
    r = CliRunner().invoke(main, ["stress", "--config", str(cfg)])
    assert r.exit_code == 0, r.output
    lines = [ln for ln in r.output.splitlines() if "Warning" in ln]
    # issue 11: the PDE no longer warns that it is inaccurate without Feller (it is second order now);
    # the model's own warning is the one-line message checked here
    assert any(ln.startswith("Warning: FellerConditionWarning: CIR Feller condition fails") for ln in lines)
    assert all(ln.startswith("Warning: ") for ln in lines)
    assert ".py:" not in r.output  # no "…/stress.py:211" source lines
    d = json.loads(CliRunner().invoke(main, ["stress", "--config", str(cfg), "--json"]).output)
    assert any(w.startswith("FellerConditionWarning: ") for w in d["warnings"])


def test_failure_messages_name_options(tmp_path):
    cfg = tmp_path / "s.toml"
    cfg.write_text('[mfg]\npreset = "crisis"\n[mfg.numerics]\nn_cells = 30\nn_steps = 30\n'
                   '[mfg.solver]\nmethod = "picard"\nmax_iter = 2\n')
    r = CliRunner().invoke(main, ["mfg", "--config", str(cfg), "-q"])
    assert r.exit_code == 1
    assert "--method picard" in r.output and "method='picard'" not in r.output
    from gelav.cli._common import _as_options

    assert _as_options("Try method='picard' or tol=1e-6, not x=1.", ["method", "tol"]) == \
        "Try --method picard or --tol 1e-6, not x=1."


def test_preset_list_comes_from_the_registry():
    from gelav.mfg import SCENARIOS

    text = " ".join(CliRunner().invoke(main, ["mfg", "--help"]).output.split())
    for name in SCENARIOS:
        assert name in text
    assert "thin-market" in text


def test_error_names_the_option_a_user_types() -> None:
    """A parameter whose option is spelled differently (`n_players` is `--n`) is named by its real option,
    not by the parameter name with dashes (`--n-players` does not exist); `--n` is not mistaken for a
    prefix of `--n-cells` when deciding whether the message already names it."""
    import click

    from gelav.cli import main
    from gelav.cli._common import _as_options, _name_options, option_flags

    flags = option_flags(main.get_command(click.Context(main), "n-player"))
    assert flags["n_players"] == "--n" and flags["n_cells"] == "--n-cells"
    assert _name_options("`n_players` is bad", flags) == "`n_players` is bad (option --n)"
    assert _name_options("`n_players` is bad; see --n-cells", flags).endswith("(option --n)")
    assert _name_options("`n_players` is bad (--n)", flags) == "`n_players` is bad (--n)"
    assert _as_options("try n_players=5", flags) == "try --n 5"
    assert _name_options("`horizon` bad", ["horizon"]) == "`horizon` bad (option --horizon)"
