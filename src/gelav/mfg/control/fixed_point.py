r"""Fixed-point iterations on the aggregate path :math:`Z = \Phi(Z)` of a control game.

A small registry of its own (:data:`METHODS`): the stopping game's iterations in
:mod:`gelav.mfg.solver` are private functions tied to its evaluator (relaxation
continuation, warm starts of the exit Newton iteration), so they are not reused.

``picard``
    :math:`Z \leftarrow (1-a)Z + a\Phi(Z)` (damping :math:`a`, default 1).
``fictitious``
    fictitious play, :math:`Z_{j+1} = Z_j + (\Phi(Z_j) - Z_j)/(j+2)`.
``anderson`` (default; also ``auto``)
    Anderson acceleration (type II, memory ``m``) with a safeguard: a step that
    raises the residual tenfold resets the memory and takes a damped Picard step.

Each takes ``phi(Z) -> (Φ(Z), residual)`` and stops when the residual
:math:`\|\Phi(Z) - Z\|_\infty` is below ``tol``, or raises
:class:`gelav.errors.ConvergenceError` with the history after ``max_iter`` evaluations.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray

from gelav.errors import ConvergenceError

__all__ = ["METHODS"]

Array = NDArray[np.float64]
Phi = Callable[[Array], tuple[Array, float]]


def _fail(name: str, tol: float, max_iter: int, res: float, history: Any) -> ConvergenceError:
    return ConvergenceError(f"{name} did not reach tol={tol:g} in {max_iter} iterations (residual {res:.3g}).",
                            history)


def picard(phi: Phi, Z: Array, tol: float, max_iter: int, *, damping: float = 1.0, memory: int = 5,
           history: Any = None) -> Array:
    res = float("nan")
    for _ in range(max_iter):
        Zn, res = phi(Z)
        if res < tol:
            return Z
        Z = Z + damping * (Zn - Z)
    raise _fail("picard", tol, max_iter, res, history)


def fictitious(phi: Phi, Z: Array, tol: float, max_iter: int, *, damping: float = 1.0, memory: int = 5,
               history: Any = None) -> Array:
    res = float("nan")
    for j in range(max_iter):
        Zn, res = phi(Z)
        if res < tol:
            return Z
        Z = Z + (Zn - Z) / (j + 2.0)
    raise _fail("fictitious play", tol, max_iter, res, history)


def anderson(phi: Phi, Z: Array, tol: float, max_iter: int, *, damping: float = 1.0, memory: int = 5,
             history: Any = None) -> Array:
    shape = Z.shape
    x = Z.ravel().copy()
    dX: list[Array] = []
    dF: list[Array] = []
    x_prev = f_prev = None
    res_prev = np.inf
    res = float("nan")
    for _ in range(max_iter):
        gx, res = phi(x.reshape(shape))
        if res < tol:
            return x.reshape(shape)
        fx = gx.ravel() - x
        if res > 10.0 * res_prev:  # safeguard: forget the secants, damped Picard step from here
            dX.clear()
            dF.clear()
            x_prev = f_prev = None
            x = x + 0.5 * fx
            res_prev = res
            continue
        if x_prev is not None and f_prev is not None:
            dX.append(x - x_prev)
            dF.append(fx - f_prev)
            if len(dX) > memory:
                dX.pop(0)
                dF.pop(0)
        x_prev, f_prev, res_prev = x.copy(), fx.copy(), res
        if dF:
            Fm = np.array(dF).T
            gamma = np.linalg.lstsq(Fm, fx, rcond=1e-12)[0]
            x = x + damping * fx - (np.array(dX).T + damping * Fm) @ gamma
        else:
            x = x + damping * fx
    raise _fail("anderson", tol, max_iter, res, history)


#: name -> iteration ``(phi, Z0, tol, max_iter, *, damping, memory, history) -> Z``
METHODS: dict[str, Callable[..., Array]] = {
    "picard": picard,
    "fictitious": fictitious,
    "anderson": anderson,
    "auto": anderson,
}
