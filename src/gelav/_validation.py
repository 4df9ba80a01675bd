"""Small argument checks with messages that name the argument."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["check_callable", "check_finite", "check_int", "check_nonnegative", "check_positive"]


def check_finite(name: str, value: Any) -> float:
    """Return ``value`` as a float, or raise if it is not a finite real number."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"`{name}` must be a real number, got {value!r}.") from None
    if not math.isfinite(v):
        raise ValueError(f"`{name}` must be finite, got {v}.")
    return v


def check_positive(name: str, value: Any) -> float:
    """Return ``value`` as a float, or raise unless it is finite and > 0."""
    v = check_finite(name, value)
    if v <= 0.0:
        raise ValueError(f"`{name}` must be > 0, got {v}.")
    return v


def check_nonnegative(name: str, value: Any) -> float:
    """Return ``value`` as a float, or raise unless it is finite and >= 0."""
    v = check_finite(name, value)
    if v < 0.0:
        raise ValueError(f"`{name}` must be >= 0, got {v}.")
    return v


def check_int(name: str, value: Any, minimum: int = 1) -> int:
    """Return ``value`` as an int, or raise unless it is an integer >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        else:
            raise ValueError(f"`{name}` must be an integer, got {value!r}.")
    v = int(value)
    if v < minimum:
        raise ValueError(f"`{name}` must be >= {minimum}, got {v}.")
    return v


def check_callable(name: str, value: Any) -> Callable[..., Any]:
    """Raise unless ``value`` is callable."""
    if not callable(value):
        raise TypeError(f"`{name}` must be callable, got {type(value).__name__}.")
    return value
