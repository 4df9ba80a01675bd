"""Old import path of :mod:`gelav.pde.stopping` (optimal stopping); kept so existing code keeps working."""

from gelav.pde.stopping import LCP_METHODS, StoppingValue, optimal_stopping, solve_lcp

__all__ = ["LCP_METHODS", "StoppingValue", "optimal_stopping", "solve_lcp"]
