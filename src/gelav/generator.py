"""Old import path of :mod:`gelav.fd.generator` (the discrete generator Q); kept so existing code keeps working."""

from gelav.fd.generator import BOUNDARY_KINDS, Bands, Generator, Rate, fitted_rates

__all__ = ["BOUNDARY_KINDS", "Bands", "Generator", "Rate", "fitted_rates"]
