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

from collections.abc import Callable

from gelav.tasks._base import DEFAULTS, TaskResult, export_tables, read_scenario
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

#: scenario table name -> task function
TASKS: dict[str, Callable[..., TaskResult]] = {
    "calibration": calibrate,
    "stress": stress,
    "feynman_kac": feynman_kac,
    "exit_time": exit_time,
    "trinomial": trinomial,
    "mckean_vlasov": mckean_vlasov,
    "ito": ito,
    "mfg": mfg,
    "premium": premium,
    "metrics": metrics,
    "portfolio": portfolio,
    "exit_boundary": exit_boundary,
    "jensen": jensen,
    "welfare": welfare,
    "lav": lav,
}
