"""Old import path of :mod:`gelav.pde.backward` (the Feynman–Kac solver); kept so existing code keeps working."""

from gelav.pde.backward import (
    BOUNDARY_ALIASES,
    BackwardProblem,
    Dirichlet,
    Reflecting,
    Value,
    as_boundary,
    backward,
    backward_problem,
    duality_gap,
)

__all__ = [
    "BOUNDARY_ALIASES",
    "BackwardProblem",
    "Dirichlet",
    "Reflecting",
    "Value",
    "as_boundary",
    "backward",
    "backward_problem",
    "duality_gap",
]
