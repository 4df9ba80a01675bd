"""One function per job, under the command line, the report and Python.

Each task reads a scenario (a parsed TOML mapping, a path, or nothing), applies
the defaults once (:data:`DEFAULTS`: the scenario's table overrides them and
keyword arguments override the table), calls the library and returns a frozen
result with ``to_dict()`` (the command's JSON), ``key_numbers()`` (readable
labels), ``figures()`` (drawn on request) and ``tables()`` (for ``--export``).
``gelav <command>`` and ``gelav report`` are thin layers over these::

    >>> from gelav import tasks
    >>> r = tasks.stress({"stress": {"methods": ["analytic"]}})
    >>> round(r.best, 7)
    0.0019356
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from gelav._package import Package as _Package
from gelav._package import lazy_getattr
from gelav.tasks._base import DEFAULTS, TaskResult, export_tables, read_scenario

if TYPE_CHECKING:  # the names, as functions (the submodules of the same names do not hide them: _Package)
    from gelav.tasks.calibrate import CalibrationReport, calibrate
    from gelav.tasks.exit_boundary import ExitBoundaryReport, exit_boundary
    from gelav.tasks.exit_time import ExitTimeReport, exit_time
    from gelav.tasks.feynman_kac import FeynmanKacReport, feynman_kac
    from gelav.tasks.ito import ItoReport, ito
    from gelav.tasks.jensen import JensenReport, jensen
    from gelav.tasks.lav import LAVReport, lav
    from gelav.tasks.master_field import MasterFieldReport, master_field
    from gelav.tasks.mckean_vlasov import McKeanVlasovReport, mckean_vlasov
    from gelav.tasks.metrics import MetricsReport, metrics
    from gelav.tasks.mfg import ContinuationReport, MFGReport, mfg, mfg_continuation
    from gelav.tasks.n_player import NPlayerReport, n_player
    from gelav.tasks.portfolio import PortfolioReport, portfolio
    from gelav.tasks.premium import PremiumReport, premium
    from gelav.tasks.stress import StressReport, stress
    from gelav.tasks.trinomial import TrinomialReport, trinomial
    from gelav.tasks.welfare import WelfareReport, welfare

    TASKS: dict[str, Callable[..., TaskResult]]

# Each task's module loads on first use (every command would otherwise pay for all of them).
#: module -> the class of its task's result (each module also gives its task, named like the module)
_REPORTS: dict[str, str] = {
    "calibrate": "CalibrationReport", "exit_boundary": "ExitBoundaryReport", "exit_time": "ExitTimeReport",
    "feynman_kac": "FeynmanKacReport", "ito": "ItoReport", "jensen": "JensenReport", "lav": "LAVReport",
    "master_field": "MasterFieldReport", "mckean_vlasov": "McKeanVlasovReport", "metrics": "MetricsReport",
    "mfg": "MFGReport", "n_player": "NPlayerReport", "portfolio": "PortfolioReport", "premium": "PremiumReport",
    "stress": "StressReport", "trinomial": "TrinomialReport", "welfare": "WelfareReport",
}
#: module -> the names it gives the package (``mfg`` also its continuation task and result)
_MODULES: dict[str, tuple[str, ...]] = {m: (r, m) for m, r in _REPORTS.items()}
_MODULES["mfg"] = ("ContinuationReport", "MFGReport", "mfg", "mfg_continuation")
#: lazy name -> module that defines it
_LAZY: dict[str, str] = {n: f"gelav.tasks.{m}" for m, names in _MODULES.items() for n in names}

#: scenario table name -> name of its task function (:data:`TASKS` maps it to the function): each table
#: is named like its task but ``[calibration]``
_TASKS: dict[str, str] = {"calibration": "calibrate", **{t: t for t in (
    "stress", "feynman_kac", "exit_time", "trinomial", "mckean_vlasov", "ito", "mfg", "premium", "metrics",
    "portfolio", "exit_boundary", "jensen", "welfare", "lav")}}

# the function feynman_kac keeps its name once the submodule gelav.tasks.feynman_kac is imported
sys.modules[__name__].__class__ = _Package


def _tasks(name: str) -> Any:
    if name == "TASKS":  # scenario table name -> task function (loads every task's module)
        tasks: dict[str, Callable[..., TaskResult]] = {k: __getattr__(v) for k, v in _TASKS.items()}
        globals()["TASKS"] = tasks
        return tasks
    raise AttributeError(f"module 'gelav.tasks' has no attribute {name!r}")


__getattr__ = lazy_getattr(__name__, globals(), _LAZY, fallback=_tasks)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY) | {"TASKS"})


__all__ = [
    "DEFAULTS",
    "TASKS",
    "CalibrationReport",
    "ContinuationReport",
    "ExitBoundaryReport",
    "ExitTimeReport",
    "FeynmanKacReport",
    "ItoReport",
    "JensenReport",
    "LAVReport",
    "MFGReport",
    "MasterFieldReport",
    "McKeanVlasovReport",
    "MetricsReport",
    "NPlayerReport",
    "PortfolioReport",
    "PremiumReport",
    "StressReport",
    "TaskResult",
    "TrinomialReport",
    "WelfareReport",
    "calibrate",
    "exit_boundary",
    "exit_time",
    "export_tables",
    "feynman_kac",
    "ito",
    "jensen",
    "lav",
    "master_field",
    "mckean_vlasov",
    "metrics",
    "mfg",
    "mfg_continuation",
    "n_player",
    "portfolio",
    "premium",
    "read_scenario",
    "stress",
    "trinomial",
    "welfare",
]
