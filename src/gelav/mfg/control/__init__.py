"""Mean-field games with a continuous control on gelav's fitted generator.

:class:`ControlGame` (dynamics, control set, costs, aggregates),
:func:`solve_control` → :class:`ControlEquilibrium`, and the systemic-risk
preset :func:`systemic_risk` with its closed form. Costs are minimised: the
value is a cost-to-go.
"""

from __future__ import annotations

from gelav.mfg.control.fixed_point import METHODS as CONTROL_METHODS
from gelav.mfg.control.game import ControlGame, mean_statistic
from gelav.mfg.control.result import ControlEquilibrium, ControlSimulation
from gelav.mfg.control.solver import ControlOptions, solve_control
from gelav.mfg.control.systemic_risk import SystemicRiskClosedForm, SystemicRiskGame, systemic_risk

__all__ = [
    "CONTROL_METHODS",
    "ControlEquilibrium",
    "ControlGame",
    "ControlOptions",
    "ControlSimulation",
    "SystemicRiskClosedForm",
    "SystemicRiskGame",
    "mean_statistic",
    "solve_control",
    "systemic_risk",
]
