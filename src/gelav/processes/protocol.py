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
parameters                 ``params()``                                    result inputs, reports
=========================  ==============================================  ========================
"""

from __future__ import annotations

import math
from typing import Any, Protocol, TypeGuard, cast, runtime_checkable

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "ExactLawProcess",
    "ProcessLike",
    "check_process",
    "domain_of",
    "exact_uses_normals",
    "gaussian_law",
    "has_exact_law",
    "has_exact_step",
    "is_process",
    "is_time_homogeneous",
    "name_of",
    "params_of",
    "stationary_law",
]


@runtime_checkable
class ProcessLike(Protocol):
    """The part of a process every solver needs: drift, diffusion (and its square), state space."""

    @property
    def domain(self) -> tuple[float, float]: ...

    def drift(self, t: float, x: ArrayLike) -> NDArray[np.float64]: ...

    def diffusion(self, t: float, x: ArrayLike) -> NDArray[np.float64]: ...

    def variance_rate(self, t: float, x: ArrayLike) -> NDArray[np.float64]: ...


@runtime_checkable
class ExactLawProcess(ProcessLike, Protocol):
    """A process with the exact-law capability: ``transition(x0, t, s)`` is the law of :math:`X_t`
    given :math:`X_s = x_0` (a frozen SciPy distribution) and ``has_transition`` is true."""

    @property
    def has_transition(self) -> bool: ...

    def transition(self, x0: float, t: float, s: float = 0.0) -> Any: ...


def is_process(obj: Any) -> bool:
    """True when ``obj`` has the coefficients a solver needs (drift, diffusion, variance rate)."""
    return all(callable(getattr(obj, a, None)) for a in ("drift", "diffusion", "variance_rate"))


def check_process(process: object) -> ProcessLike:
    """``process`` when it has the coefficients a solver needs (:func:`is_process`), else a ``TypeError``."""
    if not is_process(process):
        raise TypeError(f"`process` must be a gelav Process, got {type(process).__name__}.")
    return cast(ProcessLike, process)


def domain_of(process: ProcessLike) -> tuple[float, float]:
    """The state space of ``process`` (the real line when it does not say)."""
    lo, hi = getattr(process, "domain", (-math.inf, math.inf))
    return float(lo), float(hi)


def name_of(process: object) -> str:
    """A display name for ``process``."""
    return str(getattr(process, "name", type(process).__name__))


def params_of(process: object) -> dict[str, float]:
    """The parameters ``process.params()`` names (empty for a general model, or one without ``params``)."""
    params = getattr(process, "params", None)
    return dict(params()) if callable(params) else {}


def has_exact_law(process: ProcessLike) -> TypeGuard[ExactLawProcess]:
    """True when ``process.transition`` gives the exact law of :math:`X_t` given :math:`X_s`."""
    return bool(getattr(process, "has_transition", False))


def has_exact_step(process: ProcessLike) -> bool:
    """True when ``process.exact_step(dt)`` samples the exact transition (Monte Carlo ``scheme="exact"``)."""
    step = getattr(process, "exact_step", None)
    return callable(step) and step(1.0) is not None


def stationary_law(process: ProcessLike) -> Any:
    """The stationary law (a frozen SciPy distribution) of ``process``, or None when it has none or does not say."""
    law = getattr(process, "stationary", None)
    return law() if callable(law) else None


def exact_uses_normals(process: ProcessLike) -> bool:
    """Whether ``process.exact_step`` consumes one standard normal per path (else it draws from ``rng``;
    default true)."""
    return bool(getattr(process, "exact_uses_normals", True))


def is_time_homogeneous(process: ProcessLike) -> bool:
    """True when ``process`` declares coefficients that do not depend on time."""
    return bool(getattr(process, "time_homogeneous", False))


def gaussian_law(process: ProcessLike, x0: float, t: float, s: float = 0.0) -> tuple[float, float] | None:
    """``(mean, std)`` of :math:`X_t` given :math:`X_s = x_0` when ``process`` knows it is Gaussian, else None."""
    law = getattr(process, "normal_law", None)
    return None if law is None else law(x0, t, s)


def _owner(cls: type, name: str) -> type | None:
    return next((k for k in cls.__mro__ if name in vars(k)), None)


def gaussian_laws(process: ProcessLike, x0: float, times: Any, s: float = 0.0) -> tuple[Any, Any] | None:
    """:func:`gaussian_law` at several times: arrays ``(means, stds)``, or None when the law is not Gaussian.

    Vectorised by ``process.normal_laws`` where the class that defines ``normal_law`` defines it too
    (a subclass that overrides only ``normal_law`` is asked time by time)."""
    laws = getattr(process, "normal_laws", None)
    if laws is not None and _owner(type(process), "normal_laws") is _owner(type(process), "normal_law"):
        return laws(x0, times, s)  # type: ignore[no-any-return]
    normal = [gaussian_law(process, x0, float(t), s) for t in times]
    if any(n is None for n in normal):
        return None
    loc, scale = np.array(normal).T
    return loc, scale
