"""Old import path of :mod:`gelav.processes.mckean_vlasov`; kept so existing code keeps working."""

from gelav.processes.mckean_vlasov import (
    ChaosResult,
    McKeanVlasov,
    MeanFieldOU,
    ParticleSystem,
    propagation_of_chaos,
    simulate_particles,
    solve_fokker_planck,
)

__all__ = [
    "ChaosResult",
    "McKeanVlasov",
    "MeanFieldOU",
    "ParticleSystem",
    "propagation_of_chaos",
    "simulate_particles",
    "solve_fokker_planck",
]
