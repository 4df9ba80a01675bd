"""Old import path of :mod:`gelav.mc.montecarlo` (path simulation); kept so existing code keeps working."""

from gelav.mc.montecarlo import (
    BLOCK_SIZE,
    SCHEMES,
    Estimate,
    Paths,
    integrate,
    simulate,
    stress_probability,
)

__all__ = ["BLOCK_SIZE", "SCHEMES", "Estimate", "Paths", "integrate", "simulate", "stress_probability"]
