"""gelav — general-equilibrium, liquidity-adjusted valuation (GE-LAV) mathematics in Python.

One discrete generator per process drives every view of a model: the
Fokker–Planck equation (:func:`forward`), the Feynman–Kac equation and optimal
stopping, trinomial lattices, Monte Carlo and the mean-field game of LP exits.
"""

from __future__ import annotations

from gelav.density import Density
from gelav.errors import (
    AccuracyWarning,
    ConvergenceError,
    DivergenceError,
    FellerConditionWarning,
    GelavWarning,
    MassLossWarning,
)
from gelav.forward import forward
from gelav.generator import Generator
from gelav.grid import Grid, TimeGrid, auto_domain
from gelav.processes import CIR, BrownianMotion, GeometricBrownianMotion, OrnsteinUhlenbeck, Process

__version__ = "0.1.0"

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
