"""Old import path of :mod:`gelav.processes.mckean_vlasov`; kept so existing code keeps working."""

from gelav.processes.mckean_vlasov import *  # noqa: F403  (the same public names)
from gelav.processes.mckean_vlasov import __all__ as __all__
