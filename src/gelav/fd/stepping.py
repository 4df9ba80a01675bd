r"""Factorised time steps shared by the forward and backward solvers.

One θ-step from :math:`t_0` to :math:`t_1 = t_0 + \Delta t` with the generator
:math:`A = Q(t_m)` at the midpoint :math:`t_m`:

.. math::

    \text{backward:}\quad (I - \theta\Delta t A)\,u_0 = (I + (1-\theta)\Delta t A)\,u_1 + \Delta t f ,
    \qquad
    \text{forward:}\quad p_1^\top = p_0^\top (I - \theta\Delta t A)^{-1}(I + (1-\theta)\Delta t A).

The forward step is the exact transpose of the backward one, so
:math:`p_0^\top u_0 = p_1^\top u_1` to rounding (duality). The tridiagonal
system is factorised once by :func:`gelav.fd.linalg.factor` (LAPACK ``?gttrf``;
cached for time-homogeneous chains) and solved in :math:`O(N)` (``?gttrs``, with
``trans='T'`` for the forward step). Other schemes (:mod:`gelav.fd.schemes`)
build their own step operators from the same generator bands.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from gelav.fd.generator import Generator
from gelav.fd.grid import TimeGrid
from gelav.fd.linalg import Bands, TridiagonalLU, factor, lu_solve_inplace
from gelav.fd.schemes import SCHEMES, ThetaScheme, TimeScheme, is_exact

__all__ = ["StepOperator", "Stepper", "ThetaStepper", "step_operators", "theta_step"]


@dataclass(frozen=True, eq=False)
class StepOperator:
    """A factorised step: ``lhs = I - θΔt A`` (LU) and ``rhs = I + (1-θ)Δt A`` (bands)."""

    lu: TridiagonalLU
    rhs: Bands
    dt: float

    def __post_init__(self) -> None:
        # the forward step's LAPACK factors and right-hand-side bands, looked up once (the step is
        # taken hundreds of times per run; the same operations as solve + Bands.rmatvec)
        fast = None
        lu = self.lu
        if lu.backend == "lapack" and not lu.batched and not lu._pad:
            fast = (lu._lu, self.rhs.diag, self.rhs.sub[1:], self.rhs.sup[:-1])
        object.__setattr__(self, "_fast", fast)

    def solve(self, b: NDArray[np.float64], *, transpose: bool = False) -> NDArray[np.float64]:
        r""":math:`L^{-1} b` (or :math:`L^{-\top} b`), ``b`` of shape ``(n,)`` or ``(n, k)``."""
        return self.lu.solve(b, transpose=transpose)

    def backward(self, u_next: NDArray[np.float64], source: NDArray[np.float64] | None = None) -> NDArray[np.float64]:
        r"""Solve :math:`(I - \theta\Delta t A) u = (I + (1-\theta)\Delta t A) u_{next} + \Delta t f`."""
        b = self.rhs.matvec(u_next)
        if source is not None:
            b = b + self.dt * source
        return self.solve(b)

    def forward(self, p: NDArray[np.float64]) -> NDArray[np.float64]:
        r"""The transposed step :math:`p_{next} = R^\top L^{-\top} p`."""
        fast = self._fast  # type: ignore[attr-defined]
        if fast is None or p.ndim != 1:
            return self.rhs.rmatvec(self.solve(p, transpose=True))
        factors, d, sub1, sup0 = fast
        y = lu_solve_inplace(factors, np.array(p, dtype=float), transpose=True)  # a copy: p stays the caller's
        out = d * y
        out[:-1] += sub1 * y[1:]
        out[1:] += sup0 * y[:-1]
        return out  # type: ignore[no-any-return]

    def source_weights(self, p: NDArray[np.float64]) -> NDArray[np.float64]:
        r""":math:`\Delta t\,L^{-\top} p`: pairs with a running reward ``f`` as the forward dual of ``Δt f``."""
        return self.dt * self.solve(p, transpose=True)


def theta_step(A: Bands, dt: float, theta: float) -> StepOperator:
    r"""The factorised θ-step for the generator bands ``A``: :math:`L = I - \theta\Delta t A`, :math:`R = I + (1-\theta)\Delta t A`.

    Raises
    ------
    numpy.linalg.LinAlgError
        When :math:`L` is singular.
    """
    a = theta * dt
    try:
        lu = factor(-a * A.sub[1:], 1.0 - a * A.diag, -a * A.sup[:-1])
    except np.linalg.LinAlgError as exc:
        raise np.linalg.LinAlgError(f"Step matrix is singular ({exc}).") from None
    b = (1.0 - theta) * dt
    return StepOperator(lu, Bands(b * A.sub, 1.0 + b * A.diag, b * A.sup), dt)


_THETA = ThetaScheme()


class Stepper:
    """Builds (and caches, for time-homogeneous chains) the step operators of a generator.

    ``step(t0, t1, theta)`` is the θ-step; ``step(t0, t1, scheme=s)`` the step of
    another scheme; ``at(time_grid, n)`` the ``n``-th step of a :class:`TimeGrid`
    (its θ, or the scheme it names for that step).
    """

    def __init__(self, generator: Generator) -> None:
        self.generator = generator
        self._cache: dict[tuple[float, float, str], Any] = {}

    def step(self, t0: float, t1: float, theta: float = 0.5, *, scheme: TimeScheme | None = None) -> Any:
        dt = float(t1 - t0)
        if dt <= 0:
            raise ValueError(f"A step needs t1 > t0, got {t0}, {t1}.")
        if scheme is not None and isinstance(scheme, ThetaScheme) and scheme.theta is not None:
            theta, scheme = scheme.theta, None
        key = (round(dt, 14), float(theta) if scheme is None else 0.0, "" if scheme is None else scheme.name)
        homog = self.generator.time_homogeneous
        if scheme is not None and not homog and is_exact(scheme):
            raise ValueError(f"scheme={scheme.name!r} is exact for a generator that does not depend on time; this one "
                             "does (time-dependent coefficients or a callable killing rate): use scheme='cn'.")
        if homog and key in self._cache:
            return self._cache[key]
        A = self.generator.bands(0.5 * (t0 + t1))
        op = theta_step(A, dt, float(theta)) if scheme is None else scheme.operator(A, dt)
        if homog:
            self._cache[key] = op
        return op

    def at(self, time_grid: TimeGrid, n: int) -> Any:
        """The operator of step ``n`` of ``time_grid``."""
        t = time_grid.times
        name = time_grid.step_scheme(n)
        if name is None:
            return self.step(t[n], t[n + 1], float(time_grid.theta[n]))
        return self.step(t[n], t[n + 1], float(time_grid.theta[n]), scheme=SCHEMES[name])


#: the historical name (θ-steps only then); the same class
ThetaStepper = Stepper


def step_operators(stepper: Stepper, time_grid: TimeGrid) -> list[Any]:
    """The operator of every step of ``time_grid`` (``stepper.at(time_grid, n)`` for each ``n``).

    For a time-homogeneous chain, steps of the same length, θ and scheme share one operator, looked
    up here once per distinct step instead of once per step (the same objects ``at`` returns).
    """
    m = time_grid.n_steps
    if not stepper.generator.time_homogeneous:
        return [stepper.at(time_grid, n) for n in range(m)]
    dts = np.diff(time_grid.times).tolist()
    thetas = time_grid.theta.tolist()
    names = time_grid.schemes
    memo: dict[tuple[float, float, Any], Any] = {}
    ops = []
    for n in range(m):
        key = (dts[n], thetas[n], None if names is None else names[n])
        op = memo.get(key)
        if op is None:
            op = memo[key] = stepper.at(time_grid, n)
        ops.append(op)
    return ops
