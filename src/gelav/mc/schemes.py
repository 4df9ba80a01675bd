r"""Time-stepping schemes for Monte Carlo path simulation.

Each scheme advances :math:`N` paths of :math:`dX = b(t,X)\,dt + \sigma(t,X)\,dW`
over one step :math:`[t, t+\Delta t]` in place, from standard normals
:math:`Z` (so :math:`\Delta W = \sqrt{\Delta t}\,Z`):

- Euler–Maruyama: :math:`X' = X + b\,\Delta t + \sigma\,\Delta W`
  (strong order 1/2, weak order 1);
- Milstein: adds :math:`\tfrac12\sigma\sigma_x(\Delta W^2 - \Delta t)`
  (strong order 1, weak order 1);
- exact: samples the transition law of :math:`X_{t+\Delta t}` given
  :math:`X_t` (Brownian motion, Ornstein–Uhlenbeck, geometric Brownian
  motion, CIR through non-central :math:`\chi^2`): no time-discretisation
  error at the step dates.

Orders are data on the classes (``strong_order``, ``weak_order``) and the
tests read them when they fit convergence slopes.

Adding a scheme
---------------
1. Subclass :class:`Scheme`, set ``name``, ``strong_order``, ``weak_order``
   (and ``uses_normals = False`` if it draws its own randomness).
2. Implement ``stepper(process, dt)`` returning ``step(t, x, z, rng)`` that
   updates ``x`` in place; it may overwrite ``z`` (a scratch buffer).
3. Register it in :data:`SCHEMES`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar, cast

import numpy as np
from numpy.typing import NDArray

from gelav.processes import CIR, BrownianMotion, GeometricBrownianMotion, OrnsteinUhlenbeck
from gelav.processes.protocol import exact_uses_normals, has_exact_step, name_of

if TYPE_CHECKING:
    from gelav.processes.protocol import ProcessLike

__all__ = ["SCHEMES", "Euler", "Exact", "Milstein", "Scheme", "get_scheme"]

Step = Callable[[float, NDArray[np.float64], "NDArray[np.float64] | None", np.random.Generator], None]


class Scheme:
    """Base class: a scheme is data (its orders) plus a step factory.

    Attributes
    ----------
    name : str
        Registry name.
    strong_order, weak_order : float
        Theoretical orders for smooth coefficients (``math.inf`` for an exact scheme).
    uses_normals : bool
        True when a step consumes one standard normal per path (the engine then
        supplies them, handling antithetic pairs); False when the step draws
        its own variates from ``rng``.
    """

    name: ClassVar[str] = "base"
    strong_order: ClassVar[float] = 0.0
    weak_order: ClassVar[float] = 0.0
    uses_normals: ClassVar[bool] = True

    def check(self, process: ProcessLike) -> None:
        """Raise ValueError when the scheme cannot simulate ``process``."""

    def uses_normals_for(self, process: ProcessLike) -> bool:
        return self.uses_normals

    #: name of the process method that gives a fused step for this scheme (``euler_step``, ...), if any
    capability: ClassVar[str | None] = None

    def stepper(self, process: ProcessLike, dt: float) -> Step:
        """The process's fused step (``process.<capability>(dt)``) when it has one, else :meth:`generic_step`."""
        if self.capability is not None:
            fused = _capability_step(process, self.capability, dt)
            if fused is not None:
                return fused
        return self.generic_step(process, dt)

    def generic_step(self, process: ProcessLike, dt: float) -> Step:  # pragma: no cover - abstract
        """The step from the coefficients ``process.drift`` / ``process.diffusion`` alone."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}(strong_order={self.strong_order}, weak_order={self.weak_order})"


def _capability_step(process: ProcessLike, capability: str, dt: float) -> Step | None:
    """The process's fused step for coefficients in closed form (``process.<capability>(dt)``), or None."""
    fast = getattr(process, capability, None)
    return fast(dt) if fast is not None else None  # type: ignore[no-any-return]


class Euler(Scheme):
    r"""Euler–Maruyama: :math:`X_{n+1} = X_n + b(t_n, X_n)\Delta t + \sigma(t_n, X_n)\sqrt{\Delta t}\,Z_n`."""

    name = "euler"
    strong_order = 0.5
    weak_order = 1.0

    capability = "euler_step"

    def generic_step(self, process: ProcessLike, dt: float) -> Step:
        sq = math.sqrt(dt)

        def step4(t: float, x: NDArray[np.float64], z: Any, rng: Any) -> None:
            euler_update(x, process.drift(t, x), process.diffusion(t, x), z, dt, sq)
        return step4


def euler_update(x: NDArray[np.float64], b: NDArray[np.float64], sig: NDArray[np.float64], z: Any, dt: float,
                 sq: float) -> None:
    r""":math:`x \leftarrow x + b\,\Delta t + \sigma\sqrt{\Delta t}\,z` in place (``b`` and ``z`` are
    overwritten: no temporaries in the hot loop); ``sq`` is :math:`\sqrt{\Delta t}`."""
    z *= sig
    z *= sq
    b *= dt
    x += b
    x += z


class Milstein(Scheme):
    r"""Milstein: Euler plus :math:`\tfrac12\sigma\,\partial_x\sigma\,\Delta t\,(Z_n^2 - 1)`."""

    name = "milstein"
    strong_order = 1.0
    weak_order = 1.0

    capability = "milstein_step"

    def generic_step(self, process: ProcessLike, dt: float) -> Step:
        sq = math.sqrt(dt)

        def step6(t: float, x: NDArray[np.float64], z: Any, rng: Any) -> None:
            b = process.drift(t, x)
            sig = process.diffusion(t, x)
            dsig = cast(Any, process).diffusion_derivative(t, x)  # checked by Milstein.check
            corr = 0.5 * dt * sig * dsig * (z * z - 1.0)
            euler_update(x, b, sig, z, dt, sq)
            x += corr
        return step6


class Exact(Scheme):
    r"""Sampling from the exact transition law (no discretisation error at the step dates).

    A capability of the process, not a list of families: any process whose
    :meth:`~gelav.processes.Process.exact_step` returns a step is supported
    (Ornstein–Uhlenbeck, Brownian motion, geometric Brownian motion and CIR
    among the built-in ones; see their ``exact_step`` for the formulas).
    """

    name = "exact"
    strong_order = math.inf
    weak_order = math.inf

    def check(self, process: ProcessLike) -> None:
        if not has_exact_step(process):
            raise ValueError(
                "`scheme='exact'` needs a process with a known transition law (one whose `exact_step(dt)` "
                f"returns a step, e.g. {', '.join(c.__name__ for c in (OrnsteinUhlenbeck, BrownianMotion, GeometricBrownianMotion, CIR))}), "
                f"got {name_of(process)}; use scheme='euler' or 'milstein'."
            )

    def uses_normals_for(self, process: ProcessLike) -> bool:
        return exact_uses_normals(process)

    def stepper(self, process: ProcessLike, dt: float) -> Step:
        self.check(process)
        return cast(Any, process).exact_step(dt)  # type: ignore[no-any-return]


#: name -> scheme class
SCHEMES: dict[str, type[Scheme]] = {"euler": Euler, "milstein": Milstein, "exact": Exact}


def get_scheme(scheme: str | Scheme) -> Scheme:
    """Resolve a scheme name (or pass an instance through).

    Raises
    ------
    ValueError
        Unknown name; the message lists the registered schemes.
    """
    if isinstance(scheme, Scheme):
        return scheme
    if isinstance(scheme, type) and issubclass(scheme, Scheme):
        return scheme()
    if not isinstance(scheme, str) or scheme.lower() not in SCHEMES:
        raise ValueError(
            f"Unknown `scheme` {scheme!r}. Registered schemes are {', '.join(repr(s) for s in SCHEMES)}."
        )
    return SCHEMES[scheme.lower()]()
