"""Monte Carlo: path simulation (:mod:`gelav.mc.montecarlo`), its time schemes
(:mod:`gelav.mc.schemes`, a registry) and the optional Numba engine (:mod:`gelav.mc.numba_engine`)."""
