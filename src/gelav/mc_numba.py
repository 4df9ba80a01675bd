"""Old import path of :mod:`gelav.mc.numba_engine` (the Numba Monte Carlo engine); kept so existing code keeps working."""

from gelav.mc.numba_engine import available, kernel_coefficients, run_paths

__all__ = ["available", "kernel_coefficients", "run_paths"]
