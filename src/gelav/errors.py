"""Exceptions and warnings raised by gelav.

Errors are raised for inputs that cannot give a meaningful answer; warnings
carry numbers when an answer is computed but doubtful (mass leaking through a
far boundary, a coarse grid, a fixed point that stalled).
"""

from __future__ import annotations

__all__ = [
    "AccuracyWarning",
    "ConvergenceError",
    "DivergenceError",
    "FellerConditionWarning",
    "GelavWarning",
    "MassLossWarning",
    "PremiumWarning",
]


class ConvergenceError(RuntimeError):
    """An iteration (fixed point, Newton, LCP) did not reach its tolerance.

    Attributes
    ----------
    history : list
        Whatever the solver recorded per iteration (residuals, ...), so the
        caller can see how it failed.
    """

    def __init__(self, message: str, history: object | None = None) -> None:
        super().__init__(message)
        self.history = history


class DivergenceError(ArithmeticError):
    """The quantity asked for is infinite (e.g. an exit time that diverges)."""


class GelavWarning(UserWarning):
    """Base class of gelav's warnings."""


class MassLossWarning(GelavWarning):
    """Probability mass left the computational domain through a far boundary."""


class AccuracyWarning(GelavWarning):
    """A numerical answer is likely less accurate than requested."""


class FellerConditionWarning(GelavWarning):
    """A CIR process violates the Feller condition 2κθ ≥ σ² (zero is attainable)."""


class PremiumWarning(GelavWarning):
    """An illiquidity premium π(L, T) is non-monotone in L or reaches 1 (a negative price) on the range asked."""
