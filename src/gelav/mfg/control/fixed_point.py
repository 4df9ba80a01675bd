r"""Fixed-point iterations on the aggregate path :math:`Z = \Phi(Z)` of a control game.

The control game uses the registry of the stopping game,
:data:`gelav.mfg.fixed_point.FIXED_POINT_REGISTRY`, through a
:class:`gelav.mfg.fixed_point.MapEvaluator` (``phi(Z) -> (Φ(Z), residual)``):
every registered method whose :attr:`~gelav.mfg.fixed_point.FixedPointMethod.games`
includes ``"control"`` is available, among them

``picard``
    :math:`Z \leftarrow (1-a)Z + a\Phi(Z)` (damping :math:`a`, default 1).
``fictitious``
    fictitious play, :math:`Z_{j+1} = Z_j + (\Phi(Z_j) - Z_j)/(j+2)`.
``anderson`` (default; also ``auto``)
    Anderson acceleration (type II, memory ``m``) with a safeguard (a step that
    raises the residual tenfold restarts from the best iterate).

``auto`` is an alias of ``anderson`` here (the stopping game's ``auto`` continues
in its relaxation ε, which a control game does not have). Each stops when the
residual :math:`\|\Phi(Z) - Z\|_\infty` is below ``tol``, or raises
:class:`gelav.errors.ConvergenceError` with the history after ``max_iter`` evaluations.

:data:`METHODS` maps each name to a function ``(phi, Z0, tol, max_iter, *, damping,
memory, history) -> Z`` running the registered method.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from types import SimpleNamespace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from gelav.mfg.fixed_point import FIXED_POINT_REGISTRY, FixedPointMethod, MapEvaluator

__all__ = ["ALIASES", "METHODS", "control_method", "iterate"]

Array = NDArray[np.float64]
Phi = Callable[[Array], tuple[Array, float]]

#: control-game names that stand for a registered method
ALIASES = {"auto": "anderson"}


def _names() -> list[str]:
    names = [n for n, m in FIXED_POINT_REGISTRY.items() if "control" in m.games]
    return names + [a for a, n in ALIASES.items() if n in names and a not in names]


def control_method(name: str) -> FixedPointMethod:
    """The registered method ``name`` for a control game; ``ValueError`` listing the valid names otherwise."""
    target = ALIASES.get(name, name) if isinstance(name, str) else None
    method = FIXED_POINT_REGISTRY.get(target) if target is not None else None
    if method is None or "control" not in method.games or name not in _names():
        raise ValueError(f"Unknown `method` {name!r}; registered methods are "
                         + ", ".join(repr(m) for m in _names()) + ".")
    return method


def iterate(name: str, phi: Phi, Z: Array, tol: float, max_iter: int, *, damping: float = 1.0, memory: int = 5,
            history: Any = None) -> Array:
    """Run the registered method ``name`` on ``phi(Z) -> (Φ(Z), residual)`` from ``Z``; the fixed point."""
    ev = MapEvaluator(phi, history if history is not None else [])
    options = SimpleNamespace(max_iter=max_iter, damping=damping, memory=memory)
    return control_method(name).iterate(ev, Z, tol, options, [])  # type: ignore[arg-type]


class _Methods(Mapping[str, Callable[..., Array]]):
    """Read-only view ``name -> iteration`` of the methods a control game can use (follows the registry)."""

    def __getitem__(self, name: str) -> Callable[..., Array]:
        if name not in _names():
            raise KeyError(name)

        def run(phi: Phi, Z: Array, tol: float, max_iter: int, **kw: Any) -> Array:
            return iterate(name, phi, Z, tol, max_iter, **kw)

        run.__name__ = run.__qualname__ = name.replace("-", "_")
        return run

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name in _names()

    def __iter__(self) -> Iterator[str]:
        return iter(_names())

    def __len__(self) -> int:
        return len(_names())

    def __repr__(self) -> str:
        return repr(list(self))


#: name -> iteration ``(phi, Z0, tol, max_iter, *, damping, memory, history) -> Z`` (registry methods)
METHODS: Mapping[str, Callable[..., Array]] = _Methods()
