"""Old import path of :mod:`gelav.pde.pdepe` (MATLAB-compatible pdepe); kept so existing code keeps working."""

from gelav.pde.pdepe import PdepeResult, pdepe, pdeval

__all__ = ["PdepeResult", "pdepe", "pdeval"]
