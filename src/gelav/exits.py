"""Old import path of :mod:`gelav.pde.exits` (exit problems); kept so existing code keeps working."""

from gelav.pde.exits import (
    BoundaryClass,
    ExitResult,
    ExitTimeDistribution,
    classify_boundary,
    exit_probability,
    exit_time,
    exit_time_distribution,
)

__all__ = [
    "BoundaryClass",
    "ExitResult",
    "ExitTimeDistribution",
    "classify_boundary",
    "exit_probability",
    "exit_time",
    "exit_time_distribution",
]
