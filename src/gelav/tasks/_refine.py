r"""The refinement check shared by the ``mfg`` and ``welfare`` tasks.

A number :math:`g` of the exit game carries the relaxation error of the exit decision
(:math:`O(\varepsilon)`) and the grid's error. The check solves again at :math:`\varepsilon/2` on the
same grid and at :math:`\varepsilon` on half the cells and half the steps, and takes
:math:`2|g(\varepsilon/2) - g| + |g(h_2) - g|` as the error indicator: the error of :math:`g` if it
converges at first order in both (:math:`g(\varepsilon) - g(0) \approx 2(g(\varepsilon) -
g(\varepsilon/2))`). An indicator, not a bound: pre-asymptotic runs can move by more.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["first_order_error", "refine", "refinements"]

T = TypeVar("T")


def refinements(numerics: Any) -> tuple[dict[str, float], dict[str, int]]:
    """The settings the check changes: ε/2 on the same grid, and half the cells and half the steps."""
    return ({"epsilon": numerics.epsilon / 2},
            {"n_cells": max(numerics.n_cells // 2, 4), "n_steps": max(numerics.n_steps // 2, 2)})


def refine(numerics: Any, solve: Callable[[Any], T]) -> tuple[list[T | None], list[str]]:
    """``solve`` at ε/2 and on half the grid: the two results (None where no solution was found, or where
    the refinement is not a valid setting, e.g. ε/2 below :data:`gelav.mfg.model.MIN_RELAXATION`) and the
    reasons for the Nones."""
    from gelav.errors import ConvergenceError

    results: list[T | None] = []
    reasons: list[str] = []
    for change in refinements(numerics):
        what = ", ".join(f"{k}={v:g}" for k, v in change.items())
        try:
            nm = dataclasses.replace(numerics, **change)
            results.append(solve(nm))
        except (ConvergenceError, ValueError) as exc:
            results.append(None)
            reasons.append(f"{what}: {exc}")
    return results, reasons


def first_order_error(g: float, half: float | None, coarse: float | None) -> float:
    """:math:`2|g(\\varepsilon/2) - g| + |g(h_2) - g|`; ``inf`` when a refinement has no value."""
    if half is None or coarse is None:
        return math.inf
    return 2.0 * abs(half - g) + abs(coarse - g)
