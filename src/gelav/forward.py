"""Old import path of :mod:`gelav.pde.forward` (the Fokker–Planck solver); kept so existing code keeps working."""

from gelav.pde.forward import forward, initial_masses

__all__ = ["forward", "initial_masses"]
