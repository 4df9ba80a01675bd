"""Old import path of :mod:`gelav.mc.schemes` (Monte Carlo schemes); kept so existing code keeps working."""

from gelav.mc.schemes import SCHEMES, Euler, Exact, Milstein, Scheme, get_scheme

__all__ = ["SCHEMES", "Euler", "Exact", "Milstein", "Scheme", "get_scheme"]
