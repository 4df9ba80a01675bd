"""Old import path of :mod:`gelav.pde.exits` (exit problems); kept so existing code keeps working."""

from gelav.pde.exits import *  # noqa: F403  (the same public names)
from gelav.pde.exits import __all__ as __all__
