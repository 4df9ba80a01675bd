"""Old import path of :mod:`gelav.fd.grid` (space and time grids); kept so existing code keeps working."""

from gelav.fd.grid import Grid, TimeGrid, auto_domain, grid_for

__all__ = ["Grid", "TimeGrid", "auto_domain", "grid_for"]
