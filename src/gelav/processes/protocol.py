r"""What a solver may ask of a process: the :class:`ProcessLike` protocol and its optional capabilities.

Every solver needs the coefficients of :math:`dX = b(t,X)\,dt + \sigma(t,X)\,dW`
and the state space; some use more when a process offers it. The required part
is the typing :class:`ProcessLike` protocol; each optional capability is one
method or attribute, asked for by the ``has_*`` helpers below (capability
checks, not ``isinstance`` switches on the built-in families):

=========================  ==============================================  ========================
capability                 provided by                                     used by
=========================  ==============================================  ========================
exact law                  ``has_transition``, ``transition(x0, t, s)``    plots, tests, lattices
exact step                 ``exact_step(dt)`` (and ``exact_uses_normals``)  Monte Carlo ``"exact"``
Gaussian law               ``normal_law(x0, t, s)``                        automatic domains
stationary law             ``stationary()``                                ``initial="stationary"``
time homogeneity           ``time_homogeneous``                            factor-once stepping
=========================  ==============================================  ========================
"""

from __future__ import annotations

import math
from typing import Any, Protocol, runtime_checkable

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "ProcessLike",
    "domain_of",
    "gaussian_law",
    "has_exact_law",
    "has_exact_step",
    "is_process",
    "is_time_homogeneous",
    "name_of",
]


@runtime_checkable
class ProcessLike(Protocol):
    """The part of a process every solver needs: drift, diffusion (and its square), state space."""

    @property
    def domain(self) -> tuple[float, float]: ...

    def drift(self, t: float, x: ArrayLike) -> NDArray[np.float64]: ...

    def diffusion(self, t: float, x: ArrayLike) -> NDArray[np.float64]: ...

    def variance_rate(self, t: float, x: ArrayLike) -> NDArray[np.float64]: ...


def is_process(obj: Any) -> bool:
    """True when ``obj`` has the coefficients a solver needs (drift, diffusion, variance rate)."""
    return all(callable(getattr(obj, a, None)) for a in ("drift", "diffusion", "variance_rate"))


def domain_of(process: Any) -> tuple[float, float]:
    """The state space of ``process`` (the real line when it does not say)."""
    lo, hi = getattr(process, "domain", (-math.inf, math.inf))
    return float(lo), float(hi)


def name_of(process: Any) -> str:
    """A display name for ``process``."""
    return str(getattr(process, "name", type(process).__name__))


def has_exact_law(process: Any) -> bool:
    """True when ``process.transition`` gives the exact law of :math:`X_t` given :math:`X_s`."""
    return bool(getattr(process, "has_transition", False))


def has_exact_step(process: Any) -> bool:
    """True when ``process.exact_step(dt)`` samples the exact transition (Monte Carlo ``scheme="exact"``)."""
    step = getattr(process, "exact_step", None)
    return callable(step) and step(1.0) is not None


def is_time_homogeneous(process: Any) -> bool:
    """True when ``process`` declares coefficients that do not depend on time."""
    return bool(getattr(process, "time_homogeneous", False))


def gaussian_law(process: Any, x0: float, t: float, s: float = 0.0) -> tuple[float, float] | None:
    """``(mean, std)`` of :math:`X_t` given :math:`X_s = x_0` when ``process`` knows it is Gaussian, else None."""
    law = getattr(process, "normal_law", None)
    return None if law is None else law(x0, t, s)
