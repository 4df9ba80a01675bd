r"""Time schemes: small classes with their order as data, in one registry.

A scheme turns the generator :math:`A = Q(t_m) - k` of one step (at the step
midpoint :math:`t_m`) and the step :math:`\Delta t` into a *step operator*
(:class:`gelav.fd.stepping.StepOperator` or any object with the same methods):

- ``backward(u_next, source)`` — the Feynman–Kac step :math:`u_n = S u_{n+1} + c`;
- ``forward(p)`` — the Fokker–Planck step :math:`p_{n+1} = S^\top p_n`, the exact
  transpose of the backward step (so duality holds to rounding);
- ``source_weights(p)`` — the forward dual of the source term ``c``;
- ``dt``.

The θ-schemes are one class, :class:`ThetaScheme`; :class:`TimeGrid.build
<gelav.fd.grid.TimeGrid.build>` reads ``damped`` to add the Rannacher start
(backward-Euler half steps at both ends). Adding a scheme is one subclass of
:class:`TimeScheme` with ``name``, ``order`` and ``operator`` plus one registry
line ``SCHEMES[name] = MyScheme()``; ``scheme=name`` then works in
:func:`gelav.forward` and :func:`gelav.backward`.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

from gelav.fd.linalg import Bands

__all__ = ["SCHEMES", "BackwardEuler", "CrankNicolson", "Exponential", "ThetaScheme", "TimeScheme", "get_scheme",
           "get_theta_scheme", "is_exact", "theta_schemes"]


class TimeScheme:
    """Base class of the time schemes.

    A subclass defines

    1. ``name`` (the registry key) and ``order`` (the global order in time, read by tests;
       ``math.inf`` for a scheme exact in time, whose steps need only be the saved times);
    2. ``damped``: True to start and end with Rannacher's backward-Euler half steps;
    3. ``operator(A, dt)``: the step operator for the generator bands ``A`` and step ``dt``.

    ``theta`` is the implicitness of a θ-scheme (``None`` for other schemes).
    """

    name: ClassVar[str] = ""
    order: ClassVar[float] = 0
    damped: ClassVar[bool] = False
    theta: ClassVar[float | None] = None

    def operator(self, A: Bands, dt: float) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}(order={self.order})"


class ThetaScheme(TimeScheme):
    r"""The θ-scheme :math:`(I - \theta\Delta t A)u_n = (I + (1-\theta)\Delta t A)u_{n+1} + \Delta t f`."""

    name = "theta"
    order = 1

    def operator(self, A: Bands, dt: float, theta: float | None = None) -> Any:
        from gelav.fd.stepping import theta_step

        th = self.theta if theta is None else theta
        if th is None:  # pragma: no cover - a θ-scheme always has a θ
            raise ValueError("A θ-scheme needs `theta`.")
        return theta_step(A, dt, th)


class CrankNicolson(ThetaScheme):
    """θ = 1/2 with the Rannacher start (second order, also for a point mass or a kinked payoff)."""

    name = "cn"
    order = 2
    damped = True
    theta = 0.5


class BackwardEuler(ThetaScheme):
    """θ = 1 (first order, unconditionally positive)."""

    name = "euler"
    order = 1
    theta = 1.0


class Exponential(TimeScheme):
    r"""Exact in time for a time-homogeneous generator: :math:`p_{n+1} = e^{\Delta t A^\top}p_n`,
    :math:`u_n = e^{\Delta t A}u_{n+1} + \Delta t\,\varphi_1(\Delta t A)f` (:mod:`gelav.fd.expm`).

    Only the space grid is left: the steps are the saved times (``n_steps`` only sets how many are saved
    by default). A generator that depends on time (or a callable killing rate) is refused; a running
    reward or a boundary value that depends on time is frozen over each step (at its midpoint and end).
    """

    name = "expm"
    order = math.inf

    def operator(self, A: Bands, dt: float) -> Any:
        from gelav.fd.expm import ExpmStep

        return ExpmStep(A, dt)


def is_exact(scheme: TimeScheme) -> bool:
    """Whether ``scheme`` is exact in time (order ``inf``): its time grid is the saved times alone."""
    return math.isinf(scheme.order)


#: name -> scheme (register a new scheme with one line: ``SCHEMES["name"] = MyScheme()``)
SCHEMES: dict[str, TimeScheme] = {"cn": CrankNicolson(), "euler": BackwardEuler(), "expm": Exponential()}


def get_scheme(scheme: str | TimeScheme) -> TimeScheme:
    """The registered scheme called ``scheme`` (or ``scheme`` itself).

    Raises
    ------
    ValueError
        For an unknown name; the message lists the registered schemes.
    """
    if isinstance(scheme, TimeScheme):
        return scheme
    out = SCHEMES.get(scheme) if isinstance(scheme, str) else None
    if out is None:
        raise ValueError(f"Unknown `scheme` {scheme!r}; registered schemes are "
                         + ", ".join(repr(k) for k in SCHEMES) + ".")
    return out


def theta_schemes() -> list[str]:
    """Names of the registered θ-schemes (``theta`` set): what solvers built on the θ-step accept."""
    return [k for k, v in SCHEMES.items() if v.theta is not None]


def get_theta_scheme(scheme: str | TimeScheme, *, why: str = "") -> TimeScheme:
    """The registered θ-scheme ``scheme``, for solvers whose steps are θ-steps (optimal stopping, the MFG).

    Raises
    ------
    ValueError
        For an unknown name (the message lists the registry), or a scheme that is
        not a θ-scheme (the message lists the registered θ-schemes; ``why`` says
        why the caller needs one).
    """
    out = get_scheme(scheme)
    if out.theta is None:
        name = scheme if isinstance(scheme, str) else out.name
        raise ValueError(f"`scheme` = {name!r} is not a θ-scheme{why}; registered θ-schemes are "
                         + ", ".join(repr(k) for k in theta_schemes()) + ".")
    return out
