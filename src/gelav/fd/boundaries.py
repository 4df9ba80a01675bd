r"""Boundary conditions as small classes with hooks, in one registry.

A boundary is what happens at an end node of the grid. The solvers call its
hooks and nothing else (no type switches):

1. :meth:`Boundary.rows` — while the generator :math:`Q` is built: an
   ``absorbing`` side makes its end node a stopped state (no rate out, no
   killing there); a reflecting side keeps the zero-flux end face.
2. :meth:`Boundary.before_step` — before each backward step (default: nothing).
3. :meth:`Boundary.after_backward` — after each backward step and on the
   terminal values: e.g. :class:`Dirichlet` writes the value received at the
   hitting time into the end node.
4. :meth:`Boundary.after_forward` — after each forward step: an absorbing side
   moves the mass that arrived to its counter (returned) so mass is accounted.

Adding a boundary condition is one subclass overriding the hooks it needs
plus one line in :data:`BOUNDARIES`::

    class Rebate(Boundary):          # absorbing, pays 1 at the hitting time
        absorbing = True
        def after_backward(self, u, index, t, x_b, payoff):
            u[index] = 1.0

    BOUNDARIES["rebate"] = Rebate()

after which ``lower="rebate"`` works in :func:`gelav.forward`,
:func:`gelav.backward` and :func:`gelav.optimal_stopping`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from gelav._validation import check_finite

__all__ = ["BOUNDARIES", "Boundary", "Dirichlet", "Reflecting", "as_boundary"]

Payoff = Callable[[float, NDArray[np.float64]], NDArray[np.float64]]


class Boundary:
    """Base class of boundary conditions: the hooks the solvers call (all no-ops here).

    Class attributes
    ----------------
    absorbing : bool
        True when the end node is a stopped state of the chain (its row of
        :math:`Q` is zero; mass arriving there is absorbed; a value is paid).
    """

    absorbing: ClassVar[bool] = False

    def rows(self, sub: NDArray[np.float64], sup: NDArray[np.float64], killing: NDArray[np.float64] | None,
             index: int) -> None:
        """Adjust the end row ``index`` (0 or -1) of the generator's bands and killing rate in place."""
        if self.absorbing:
            if index == 0:
                sup[0] = 0.0
            else:
                sub[-1] = 0.0
            if killing is not None:
                killing[index] = 0.0  # a stopped state: nothing more happens to it

    def before_step(self, u: NDArray[np.float64], index: int, t: float) -> None:
        """Called on the values at ``t`` (the later time) before a backward step (default: nothing)."""

    def after_backward(self, u: NDArray[np.float64], index: int, t: float, x_b: float, payoff: Payoff) -> None:
        """Fix up the end node of the values ``u`` at time ``t`` after a backward step (default: nothing)."""

    def after_forward(self, p: NDArray[np.float64], index: int) -> float:
        """Fix up the end node of the masses ``p`` after a forward step; returns the mass absorbed."""
        if not self.absorbing:
            return 0.0
        a = float(p[index])
        p[index] = 0.0
        return a


@dataclass(frozen=True)
class Dirichlet(Boundary):
    r"""A side where the process stops and the holder receives a value.

    Parameters
    ----------
    value : float, callable ``t -> float`` or ``"payoff"``
        What is received when the side is hit at time :math:`t`: a number
        (``Dirichlet(0)`` is a knock-out), a function of time, or ``"payoff"``
        for :math:`g(x_b)` (the asset is sold at the limit; seed 002's
        :math:`u = x` at the boundary for :math:`g(x) = x`).

    Notes
    -----
    The value is what is paid at the hitting time; discounting from then to
    :math:`t` is done by the solver.
    """

    absorbing: ClassVar[bool] = True
    value: float | Callable[[float], float] | str = 0.0

    def __post_init__(self) -> None:
        v = self.value
        if isinstance(v, str):
            if v != "payoff":
                raise ValueError(f"`Dirichlet.value` must be a number, a callable of t or 'payoff', got {v!r}.")
        elif not callable(v):
            check_finite("Dirichlet.value", v)

    def at(self, t: float, x_b: float, payoff: Payoff) -> float:
        """The value received when the side at ``x_b`` is hit at time ``t``."""
        v = self.value
        if isinstance(v, str):
            out = float(np.asarray(payoff(t, np.array([x_b])), dtype=float).ravel()[0])
        elif callable(v):
            out = float(np.asarray(v(t), dtype=float))
        else:
            out = float(v)
        if not math.isfinite(out):
            raise ValueError(f"The Dirichlet boundary value at x={x_b:g}, t={t:g} is not finite ({out}).")
        return out

    def after_backward(self, u: NDArray[np.float64], index: int, t: float, x_b: float, payoff: Payoff) -> None:
        u[index] = self.at(t, x_b, payoff)


@dataclass(frozen=True)
class Reflecting(Boundary):
    """A side the process does not leave (zero flux; natural for an unattainable end)."""


#: name -> boundary object (the registry every solver resolves names through)
BOUNDARIES: dict[str, Boundary] = {
    "reflecting": Reflecting(),
    "natural": Reflecting(),
    "neumann": Reflecting(),
    "no-flux": Reflecting(),
    "noflux": Reflecting(),
    "knockout": Dirichlet(0.0),
    "knock-out": Dirichlet(0.0),
    "killing": Dirichlet(0.0),
    "absorbing": Dirichlet(0.0),
    "dirichlet": Dirichlet(0.0),
    "payoff": Dirichlet("payoff"),
    "sold": Dirichlet("payoff"),
    "sell": Dirichlet("payoff"),
}


def as_boundary(name: str, spec: Any) -> Boundary:
    """Normalise a boundary spec: a :class:`Boundary`, a registered name, a number or a callable of t.

    Raises
    ------
    ValueError
        For an unknown name (the message lists the registered ones).
    """
    if isinstance(spec, Boundary):
        return spec
    if isinstance(spec, str):
        key = spec.lower()
        if key in BOUNDARIES:
            return BOUNDARIES[key]
        raise ValueError(
            f"Unknown boundary `{name}`={spec!r}; registered names are "
            + ", ".join(repr(k) for k in BOUNDARIES)
            + ", or pass Dirichlet(value), a number or a callable of t."
        )
    if isinstance(spec, bool) or spec is None:
        raise TypeError(f"`{name}` must be a boundary name, Dirichlet(...), a number or a callable, got {spec!r}.")
    if isinstance(spec, (int, float, np.integer, np.floating)):
        return Dirichlet(float(check_finite(name, spec)))
    if callable(spec):
        return Dirichlet(spec)
    raise TypeError(f"`{name}` must be a boundary name, Dirichlet(...), a number or a callable, got {type(spec).__name__}.")
