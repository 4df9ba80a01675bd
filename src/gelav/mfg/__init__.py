"""The GE-LAV mean-field game of LP exits.

Build a model from LP types and a secondary market, then :func:`solve` it::

    >>> from gelav.mfg import MFGModel, LPType, Market, Numerics, solve
    >>> eq = solve(MFGModel((LPType(initial=-0.5),), Market()), numerics=Numerics(n_cells=60, n_steps=60))
    >>> eq.converged
    True

Public API: model classes (:class:`LPType`, :class:`Market`, :class:`MFGModel`,
:class:`Numerics`, :class:`SolverOptions`), :func:`solve` (alias
:func:`equilibrium`), :class:`Equilibrium`, :func:`find_equilibria`,
:func:`n_player`, :func:`master_field`, :func:`load_scenario`, :data:`SCENARIOS`.
"""

from __future__ import annotations

from gelav._package import lazy_getattr
from gelav.mfg.coupling import CallableCoupling, LinearCoupling
from gelav.mfg.model import FIXED_POINT_METHODS, LPType, Market, MFGModel, Numerics, SolverOptions
from gelav.mfg.result import Equilibrium
from gelav.mfg.solver import METHODS, equilibrium, find_equilibria, solve

__all__ = [
    "FIXED_POINT_METHODS",
    "METHODS",
    "PHENOMENA",
    "SCENARIOS",
    "Buyers",
    "CallableCoupling",
    "Equilibrium",
    "LPType",
    "LinearCoupling",
    "MFGModel",
    "Market",
    "MasterField",
    "NPlayerResult",
    "Numerics",
    "PigouvianTax",
    "PlannerSolution",
    "Scenario",
    "SolverOptions",
    "Welfare",
    "equilibrium",
    "find_equilibria",
    "load_scenario",
    "master_field",
    "n_player",
    "phenomenon",
    "pigouvian_tax",
    "restart",
    "scenario",
    "solve",
    "solve_planner",
    "welfare",
]
# -- continuous-control games (issue 15) --
__all__ += [
    "ControlEquilibrium",
    "ControlGame",
    "ControlOptions",
    "ControlSimulation",
    "SystemicRiskClosedForm",
    "solve_control",
    "systemic_risk",
]
# -- linear response to the starting law (issue 14) --
__all__ += ["Sensitivity", "sensitivity"]
# -- the tangent of the equilibrium and the master equation (issue 14 item 1) --
__all__ += ["MasterResidual", "Tangent", "master_residual", "restart_from", "tangent_response"]
# -- branches of equilibria (issue 14) --
__all__ += ["Branch", "Branches", "Fold", "continuation"]

_LAZY = {
    "continuation": "gelav.mfg.branches",
    "Branches": "gelav.mfg.branches",
    "Branch": "gelav.mfg.branches",
    "Fold": "gelav.mfg.branches",
    "sensitivity": "gelav.mfg.linear_response",
    "Sensitivity": "gelav.mfg.linear_response",
    "tangent_response": "gelav.mfg.linear_response",
    "Tangent": "gelav.mfg.tangent",
    "MasterResidual": "gelav.mfg.master_equation",
    "master_residual": "gelav.mfg.master_equation",
    "n_player": "gelav.mfg.nplayer",
    "NPlayerResult": "gelav.mfg.nplayer",
    "master_field": "gelav.mfg.master",
    "MasterField": "gelav.mfg.master",
    "restart": "gelav.mfg.master",
    "restart_from": "gelav.mfg.master",
    "PHENOMENA": "gelav.mfg.scenarios",
    "phenomenon": "gelav.mfg.scenarios",
    "SCENARIOS": "gelav.mfg.scenarios",
    "Scenario": "gelav.mfg.scenarios",
    "scenario": "gelav.mfg.scenarios",
    "load_scenario": "gelav.mfg.io",
    # -- continuous-control games (issue 15) --
    "ControlGame": "gelav.mfg.control",
    "ControlEquilibrium": "gelav.mfg.control",
    "ControlOptions": "gelav.mfg.control",
    "ControlSimulation": "gelav.mfg.control",
    "SystemicRiskClosedForm": "gelav.mfg.control",
    "solve_control": "gelav.mfg.control",
    "systemic_risk": "gelav.mfg.control",
    # general equilibrium and welfare (market clearing, the planner, the Pigouvian tax)
    "Buyers": "gelav.mfg.buyers",
    "PigouvianTax": "gelav.mfg.tax",
    "pigouvian_tax": "gelav.mfg.tax",
    "PlannerSolution": "gelav.mfg.planner",
    "solve_planner": "gelav.mfg.planner",
    "Welfare": "gelav.mfg.accounts",
    "welfare": "gelav.mfg.accounts",
}


__getattr__ = lazy_getattr(__name__, globals(), _LAZY)
