"""Old import path of :mod:`gelav.mc.montecarlo` (path simulation); kept so existing code keeps working."""

from gelav.mc.montecarlo import *  # noqa: F403  (the same public names)
from gelav.mc.montecarlo import __all__ as __all__
