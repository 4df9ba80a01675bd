"""Monte Carlo: path simulation (:mod:`gelav.mc.montecarlo`), its time schemes
(:mod:`gelav.mc.schemes`, a registry) and the optional Numba engine (:mod:`gelav.mc.numba_engine`)."""

from gelav._package import submodule_getattr as _submodule_getattr

__getattr__ = _submodule_getattr(__name__)
