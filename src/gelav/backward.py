"""Old import path of :mod:`gelav.pde.backward` (the Feynman–Kac solver); kept so existing code keeps working."""

from gelav.pde.backward import *  # noqa: F403  (the same public names)
from gelav.pde.backward import __all__ as __all__
