"""gelav — general-equilibrium, liquidity-adjusted valuation (GE-LAV) mathematics in Python.

One discrete generator per process drives every view of a model: the
Fokker–Planck equation (:func:`forward`), the Feynman–Kac equation and optimal
stopping, trinomial lattices, Monte Carlo and the mean-field game of LP exits.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from gelav._package import Package as _Package
from gelav._package import lazy_getattr as _lazy_getattr
from gelav._package import submodule_getattr as _submodule_getattr
from gelav.errors import (
    AccuracyWarning,
    ConvergenceError,
    DivergenceError,
    FellerConditionWarning,
    GelavWarning,
    MassLossWarning,
)

if TYPE_CHECKING:
    from gelav.density import Density
    from gelav.fd.generator import Generator
    from gelav.fd.grid import Grid, TimeGrid, auto_domain
    from gelav.pde.forward import forward
    from gelav.processes import (
        CIR,
        BrownianMotion,
        GeometricBrownianMotion,
        OrnsteinUhlenbeck,
        Process,
    )

__version__ = "0.1.0"

# Everything but the exceptions loads on first use, so `import gelav` (and every command, which imports
# the package first) stays light: not even NumPy or SciPy until a name needs them. Each name maps to the
# module that defines it.
_LAZY: dict[str, str] = {
    # processes, grids, the generator, the Fokker–Planck solver and its result
    "Process": "gelav.processes",
    "BrownianMotion": "gelav.processes",
    "OrnsteinUhlenbeck": "gelav.processes",
    "GeometricBrownianMotion": "gelav.processes",
    "CIR": "gelav.processes",
    "Grid": "gelav.fd.grid",
    "TimeGrid": "gelav.fd.grid",
    "auto_domain": "gelav.fd.grid",
    "Generator": "gelav.fd.generator",
    "forward": "gelav.pde.forward",
    "Density": "gelav.density",
    # Feynman–Kac, exit problems, optimal stopping, MATLAB-compatible pdepe
    "backward": "gelav.pde.backward",
    "Value": "gelav.pde.backward",
    "Dirichlet": "gelav.fd.boundaries",
    "Reflecting": "gelav.fd.boundaries",
    "duality_gap": "gelav.pde.backward",
    "exit_time": "gelav.pde.exits",
    "exit_probability": "gelav.pde.exits",
    "exit_time_distribution": "gelav.pde.exits",
    "classify_boundary": "gelav.pde.exits",
    "BoundaryClass": "gelav.pde.exits",
    "ExitResult": "gelav.pde.exits",
    "ExitTimeDistribution": "gelav.pde.exits",
    "optimal_stopping": "gelav.pde.stopping",
    "StoppingValue": "gelav.pde.stopping",
    "solve_lcp": "gelav.pde.stopping",
    "pdepe": "gelav.pde.pdepe",
    "pdeval": "gelav.pde.pdepe",
    "PdepeResult": "gelav.pde.pdepe",
    # Monte Carlo and McKean–Vlasov
    "simulate": "gelav.mc.montecarlo",
    "Paths": "gelav.mc.montecarlo",
    "Estimate": "gelav.mc.montecarlo",
    "McKeanVlasov": "gelav.processes.mckean_vlasov",
    "MeanFieldOU": "gelav.processes.mckean_vlasov",
    "simulate_particles": "gelav.processes.mckean_vlasov",
    "propagation_of_chaos": "gelav.processes.mckean_vlasov",
    # lattices
    "TrinomialWalk": "gelav.lattice",
    "TrinomialTree": "gelav.lattice",
    "GeneratorLattice": "gelav.lattice",
    "WalkSample": "gelav.lattice",
    "LatticeLaw": "gelav.lattice",
    "TreeValue": "gelav.lattice",
    "StressEstimate": "gelav.lattice",
    "ConvergenceStudy": "gelav.lattice",
    "lattice_cdf": "gelav.lattice",
    "lattice_convergence": "gelav.lattice",
    # symbolic Itô calculus (SymPy loads only when these are used)
    "ItoProcess": "gelav.symbolic",
    "MultiItoProcess": "gelav.symbolic",
    "SymbolicProcess": "gelav.symbolic",
    "ito_lemma": "gelav.symbolic",
    # mean-field game of LP exits
    "MFGModel": "gelav.mfg",
    "LPType": "gelav.mfg",
    "Market": "gelav.mfg",
    "Equilibrium": "gelav.mfg",
    # calibration
    "fit_ou": "gelav.calibrate",
    "OUFit": "gelav.calibrate",
    "TimeSeries": "gelav.calibrate",
    "read_series": "gelav.calibrate",
    # calibration of CIR and GBM, model comparison (issue 17)
    "fit_cir": "gelav.calibrate",
    "fit_gbm": "gelav.calibrate",
    "compare_models": "gelav.calibrate",
    "CIRFit": "gelav.calibrate",
    "GBMFit": "gelav.calibrate",
    "ModelComparison": "gelav.calibrate",
    # reports and scenario files
    "build_report": "gelav.report",
    "render_report": "gelav.report",
    "Report": "gelav.report",
    "ReportSection": "gelav.report",
    "ScenarioError": "gelav.scenario",
    # stress tests
    "stress_test": "gelav.stress",
    # mean-field games with a continuous control (issue 15)
    "ControlGame": "gelav.mfg",
    "solve_control": "gelav.mfg",
    "systemic_risk": "gelav.mfg",
    # valuation layer: premium, exit boundary, Jensen bias (issue 12, VAL-A)
    "IlliquidityPremium": "gelav.valuation.premium",
    "PremiumWarning": "gelav.errors",
    "PremiumFit": "gelav.valuation.fit",
    "fit_premium": "gelav.valuation.fit",
    "ExitBoundary": "gelav.valuation.exit_boundary",
    "exit_boundary": "gelav.valuation.exit_boundary",
    "JensenBias": "gelav.valuation.jensen",
    "JensenTable": "gelav.valuation.jensen",
    "jensen_bias": "gelav.valuation.jensen",
    "jensen_table": "gelav.valuation.jensen",
    # valuation layer: fund metrics, LAV, portfolio stress, datasets (issue 12, VAL-B)
    "IRRResult": "gelav.valuation.metrics",
    "FundCashflows": "gelav.valuation.cashflows",
    "read_cashflows": "gelav.valuation.cashflows",
    "TakahashiAlexander": "gelav.valuation.lav",
    "liquidity_adjusted_value": "gelav.valuation.lav",
    "stress_portfolio": "gelav.valuation.stress",
    "mark_distribution": "gelav.valuation.stress",
    # the finite-difference core (gelav.fd): settings, registries of schemes and boundaries
    "Discretization": "gelav.fd.discretization",
    "Boundary": "gelav.fd.boundaries",
    "TimeScheme": "gelav.fd.schemes",
}
_MODULES: tuple[str, ...] = (
    "symbolic", "mfg", "lattice", "montecarlo", "mckean_vlasov", "backward", "exits", "stopping", "pdepe",
    "calibrate", "plot", "report", "scenario", "stress",
    "funds", "portfolio", "datasets", "valuation",
    "fd", "pde", "processes", "density", "grid", "generator", "errors",
)
# the task layer (issue 10): one function per job under the CLI and the report
_MODULES += ("tasks",)


sys.modules[__name__].__class__ = _Package


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY) | set(_MODULES))


# lazy exports; any subpackage (gelav.mc, gelav.fd, ...) is imported on first access
__getattr__ = _lazy_getattr(__name__, globals(), _LAZY, fallback=_submodule_getattr(__name__))


__all__ = [
    "CIR",
    "AccuracyWarning",
    "BrownianMotion",
    "ConvergenceError",
    "Density",
    "DivergenceError",
    "FellerConditionWarning",
    "GelavWarning",
    "Generator",
    "GeometricBrownianMotion",
    "Grid",
    "MassLossWarning",
    "OrnsteinUhlenbeck",
    "Process",
    "TimeGrid",
    "__version__",
    "auto_domain",
    "forward",
]
# Star imports get the lazy names too (which loads their modules).
__all__ += sorted(set(_LAZY) - set(__all__))
