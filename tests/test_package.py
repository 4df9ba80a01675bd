"""The package surface: lazy exports, light import, README's Python example."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import gelav


def test_every_public_name_resolves():
    for name in gelav.__all__:
        assert getattr(gelav, name) is not None
    for name in gelav._LAZY:
        assert getattr(gelav, name) is not None, name


def test_functions_named_like_their_modules_win_over_the_module():
    # Regression: `from gelav import backward` returned the module gelav.backward,
    # because importing a submodule binds it on the package.
    code = (
        "import gelav.exits, gelav.stopping  # import the same-named modules first\n"
        "from gelav import *\n"
        "assert callable(backward) and callable(pdepe)\n"
        "from gelav import backward, pdepe, optimal_stopping, forward\n"
        "import types\n"
        "assert callable(backward) and not isinstance(backward, types.ModuleType)\n"
        "assert callable(pdepe) and not isinstance(pdepe, types.ModuleType)\n"
        "import gelav\n"
        "assert callable(gelav.backward)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_import_is_light():
    code = (
        "import sys, gelav\n"
        "from gelav import OrnsteinUhlenbeck, forward\n"
        "forward(OrnsteinUhlenbeck(), -0.5, 2.0, n_cells=50, n_steps=20)\n"
        "heavy = [m for m in ('sympy', 'matplotlib', 'dask', 'pandas', 'numba', 'scipy.stats', 'scipy.sparse')\n"
        "         if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_cli_and_numerical_modules_import_light():
    # Importing the CLI and the lattice / McKean-Vlasov / Monte Carlo modules must not
    # pull in scipy.stats, matplotlib, sympy or pandas (they are imported lazily).
    code = (
        "import sys, gelav, gelav.cli, gelav.lattice, gelav.mc\n"
        "import gelav.processes.mckean_vlasov\n"
        "heavy = [m for m in ('sympy', 'matplotlib', 'pandas', 'scipy.stats') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_unknown_attribute_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'forwards'"):
        gelav.forwards  # noqa: B018


def test_readme_python_example():
    from gelav import (
        GeometricBrownianMotion,
        OrnsteinUhlenbeck,
        backward,
        forward,
        optimal_stopping,
    )

    ou = OrnsteinUhlenbeck(kappa=0.45, mean=1.0, sigma=0.32)
    d = forward(ou, -0.5, 2.0)
    assert d.prob(below=-0.5) == pytest.approx(0.0019356, abs=1e-5)
    v = backward(ou, lambda x: np.maximum(x - 0.5, 0.0), 2.0, x0=-0.5)
    law = ou.transition(-0.5, 2.0)
    m, s = law.mean(), law.std()
    z = (m - 0.5) / s
    from scipy.stats import norm

    exact = (m - 0.5) * norm.cdf(z) + s * norm.pdf(z)  # E[(X - K)^+] for a Gaussian
    assert v.value(-0.5) == pytest.approx(exact, abs=2e-5)
    put = optimal_stopping(GeometricBrownianMotion(0.06, 0.2), lambda x: np.maximum(40 - x, 0), 1.0,
                           discount=0.06, domain=(0.0, 200.0), n_cells=800)
    assert put.value(36.0) == pytest.approx(4.48667, abs=2e-3)  # converged FD value (tests/test_optimal_stopping.py)


def test_import_gelav_loads_no_numerics():
    # every command imports the package first (issue 16: start-up latency): NumPy and SciPy load with
    # the first name that needs them
    code = (
        "import sys, gelav\n"
        "heavy = [m for m in ('numpy', 'scipy', 'sympy', 'matplotlib', 'click') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
        "assert gelav.Density.__module__ == 'gelav.density' and 'numpy' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize(("command", "heavy"), [
    # scipy.stats costs about 1.4x a bare `import scipy.linalg` of start-up: the exact McKean-Vlasov
    # law is gelav.processes.laws.Normal on the command's path
    (["mckean-vlasov", "-q", "--particles", "200", "--steps", "8", "--cells", "40"],
     ("scipy.stats", "matplotlib", "sympy", "pandas")),
    # SymPy alone costs about 1x; the symbolic commands and the closed-form ones need no SciPy at all
    (["ito", "--drift", "mu*X", "--diffusion", "sigma*X", "-q"], ("scipy", "matplotlib", "pandas")),
    (["jensen", "-q"], ("scipy", "sympy", "matplotlib", "pandas")),
    # the mean-field game's normal starting laws go through gelav.processes.laws.Normal (scipy.special only)
    (["mfg", "-q"], ("scipy.stats", "matplotlib", "sympy", "pandas")),
    # the exact finite-n KS p-values are gelav._stats's (Durbin's matrix), not scipy.stats.kstwo's
    (["trinomial", "-q", "--paths", "2000", "--steps", "40"], ("scipy.stats",)),
    (["calibrate", "FILE", "-q"], ("scipy.stats",)),
])
def test_default_commands_import_only_what_they_use(command, heavy, tmp_path):
    if "FILE" in command:
        from gelav.datasets import liquidity_history

        command[command.index("FILE")] = str(liquidity_history(seed=3).to_csv(tmp_path / "liquidity.csv"))
    code = (
        "import sys\n"
        "from gelav.cli import main\n"
        "try:\n"
        f"    main({command!r}, standalone_mode=False)\n"
        "except SystemExit as e:\n"
        "    assert not e.code, e.code\n"
        f"heavy = [m for m in {heavy!r} if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)


def test_tasks_load_their_modules_on_first_use():
    # every command would otherwise import all the task modules (issue 16: start-up latency)
    code = (
        "import sys, types\n"
        "from gelav import tasks\n"
        "from gelav.tasks.feynman_kac import FIELDS\n"
        "loaded = sorted(m for m in sys.modules if m.startswith('gelav.tasks.'))\n"
        "assert loaded == ['gelav.tasks._base', 'gelav.tasks.feynman_kac'], loaded\n"
        "assert callable(tasks.feynman_kac) and not isinstance(tasks.feynman_kac, types.ModuleType)\n"
        "assert tasks.TASKS['feynman_kac'] is tasks.feynman_kac and tasks.TASKS['calibration'] is tasks.calibrate\n"
        "from gelav.tasks import *\n"
        "assert callable(lav) and not isinstance(lav, types.ModuleType)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_light_normal_is_scipy_norm_to_the_last_bit():
    import numpy as np
    from scipy import stats

    from gelav.processes.laws import Normal

    rng = np.random.default_rng(7)
    x = rng.normal(size=2000) * 6.0
    q = np.r_[rng.uniform(size=500), 0.5e-10, 1e-300, 1 - 1e-12]
    for loc, scale in ((0.0, 1.0), (-2.0, 0.3), (1e3, 4e-3)):
        ref, law = stats.norm(loc, scale), Normal(loc, scale)
        for name, arg in (("cdf", x), ("sf", x), ("pdf", x), ("ppf", q), ("isf", q)):
            assert np.array_equal(getattr(law, name)(arg), getattr(ref, name)(arg)), (name, loc, scale)
        assert (law.mean(), law.std(), law.var()) == (ref.mean(), ref.std(), ref.var())
    with pytest.raises(ValueError, match="scale"):
        Normal(0.0, 0.0)


def test_reading_a_series_does_not_import_the_estimators():
    # `gelav premium FILE` / `gelav metrics FILE` read CSVs through gelav.calibrate.io: the
    # package is lazy, so scipy.stats / scipy.optimize (estimators only) stay unloaded.
    code = (
        "import sys\n"
        "from gelav.calibrate import read_series\n"
        "import gelav.calibrate.io\n"
        "heavy = [m for m in ('scipy.stats', 'scipy.optimize', 'gelav.calibrate.ou') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
        "from gelav.calibrate import fit_ou, MODELS\n"
        "assert callable(fit_ou) and MODELS\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_submodules_resolve_by_attribute_after_a_bare_import():
    """`import gelav` loads no submodule eagerly any more (issue 16); what it used to load as a side effect
    stays reachable by attribute (`gelav.fd.linalg`, `gelav.pde.forward`, ...), imported on first access."""
    import subprocess
    import sys

    code = ("import gelav, types\n"
            "for path in ['fd.linalg', 'fd.grid', 'fd.generator', 'fd.stepping', 'pde.forward', 'processes.base',\n"
            "             'processes.families', 'processes.protocol', 'mc.schemes', 'grid', 'density']:\n"
            "    obj = gelav\n"
            "    for part in path.split('.'):\n"
            "        obj = getattr(obj, part)\n"
            "    assert isinstance(obj, types.ModuleType), path\n"
            "try:\n"
            "    gelav.fd.no_such_module\n"
            "except AttributeError:\n"
            "    pass\n"
            "else:\n"
            "    raise SystemExit('no AttributeError')\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def test_commands_leave_the_interpreter_s_exit_collections_out():
    # issue 16: the shutdown collections walk every object still alive (~50-65 ms of a 0.5 s command);
    # every command freezes them at exit (atexit, once per process), as `gelav report` does
    code = (
        "import atexit, gc, sys\n"
        "atexit.register(lambda: sys.stderr.write(f'frozen={gc.get_freeze_count()}'))  # runs after gelav's\n"
        "from gelav.cli import main\n"
        "for _ in range(3):\n"
        "    try:\n"
        "        main(['jensen', '-q'])\n"
        "    except SystemExit as e:\n"
        "        assert not e.code, e.code\n"
        "assert gc.get_freeze_count() == 0  # not during the run\n"
    )
    r = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    frozen = int(r.stderr.rsplit("frozen=", 1)[1])
    assert frozen > 10_000, r.stderr


def test_commands_collect_young_objects_less_often_and_restore_the_threshold(monkeypatch):
    # issue 16: while a command runs, the collector's youngest generation is collected every
    # COLLECT_EVERY allocations (not Python's 700), and the caller's thresholds come back after it
    import gc

    from gelav.cli import COLLECT_EVERY, main
    from gelav.cli.jensen import jensen

    seen = []
    run = jensen.callback

    def spy(*args, **kwargs):
        seen.append(gc.get_threshold()[0])
        return run(*args, **kwargs)

    monkeypatch.setattr(jensen, "callback", spy)
    before = gc.get_threshold()
    main(["jensen", "-q"], standalone_mode=False)
    assert seen == [max(before[0], COLLECT_EVERY)] and COLLECT_EVERY > 700
    assert gc.get_threshold() == before


def test_python_dash_m_gelav_is_the_command_line() -> None:
    import subprocess
    import sys

    r = subprocess.run([sys.executable, "-m", "gelav", "--help"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and r.stdout.startswith("Usage: gelav ")
    bad = subprocess.run([sys.executable, "-m", "gelav", "stress", "--paths", "-5"], capture_output=True, text=True,
                         timeout=120)
    assert bad.returncode == 2 and "--paths" in bad.stderr
