"""Small argument checks with messages that name the argument.

Every public entry point checks its inputs with these helpers, so that a bad
value is a ``ValueError``/``TypeError`` naming the argument in backticks
(the command line turns it into exit code 2 naming the option) and never a
traceback, a hang or a silent NaN deeper down. Bools are not numbers, NaN and
infinities are rejected, and magnitudes are bounded where the mathematics
(or the floating-point range) has no use for larger ones:

* :data:`MAX_RATE` bounds model rates and volatilities (per year): a
  mean-reversion speed of 1e308 per year only overflows ``κ τ`` or ``σ²/2κ``;
* :data:`MAX_HORIZON` bounds horizons (years): ``σ² T`` and ``μ T`` stay
  far from overflow and a time grid stays representable;
* :data:`MAX_STATE` bounds state levels and spacings (``dy`` of a walk), so
  squares and products with rates stay finite;
* :data:`MAX_CELLS` bounds grid and sample sizes so that arrays fit in memory;
  :func:`check_size` bounds the product of the sizes of one allocation
  (grid × steps × types) and names every size argument.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np

__all__ = ["MAX_CELLS", "MAX_HORIZON", "MAX_RATE", "MAX_STATE", "check_callable", "check_finite", "check_horizon", "check_int",
           "check_interval", "check_named", "check_nonnegative", "check_positive", "check_rate", "check_rates", "check_size", "check_times",
           "saved_index", "set_checked"]

#: Largest model rate or volatility accepted (per year).
MAX_RATE = 1e6
#: Longest horizon accepted (years).
MAX_HORIZON = 1e6
#: Largest state level or spacing accepted where squares and products with rates are formed.
MAX_STATE = 1e12
#: Largest grid, step or sample count accepted where arrays of that length are allocated.
MAX_CELLS = 10**8


def check_finite(name: str, value: Any, *, maximum: float | None = None) -> float:
    """Return ``value`` as a float, or raise if it is not a finite real number (a bool is not one).

    With ``maximum``, ``|value|`` must also be <= ``maximum``.
    """
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"`{name}` must be a real number, got the bool {value!r}.")
    if isinstance(value, (str, bytes)):  # float("1e3") would parse it: a string is not a number
        raise TypeError(f"`{name}` must be a real number, got the string {value!r}.")
    try:
        v = float(value)
    except (TypeError, ValueError, OverflowError):
        raise ValueError(f"`{name}` must be a real number, got {value!r}.") from None
    if not math.isfinite(v):
        raise ValueError(f"`{name}` must be finite, got {v}.")
    if maximum is not None and abs(v) > maximum:
        raise ValueError(f"`{name}` = {v:g} is out of range: |{name}| must be <= {maximum:g}.")
    return v


def check_positive(name: str, value: Any, *, maximum: float | None = None) -> float:
    """Return ``value`` as a float, or raise unless it is finite and > 0 (and <= ``maximum`` if given)."""
    v = check_finite(name, value)
    if v <= 0.0:  # the sign first: `tol` = -1 was told "|tol| must be <= 0.1"
        raise ValueError(f"`{name}` must be > 0, got {v}.")
    if maximum is not None:
        check_finite(name, v, maximum=maximum)
    return v


def check_nonnegative(name: str, value: Any, *, maximum: float | None = None) -> float:
    """Return ``value`` as a float, or raise unless it is finite and >= 0 (and <= ``maximum`` if given)."""
    v = check_finite(name, value, maximum=maximum)
    if v < 0.0:
        raise ValueError(f"`{name}` must be >= 0, got {v}.")
    return v


def check_rate(name: str, value: Any, *, positive: bool = True) -> float:
    """A model rate or volatility per year: finite, > 0 (or any sign), |value| <= :data:`MAX_RATE`."""
    if positive:
        return check_positive(name, value, maximum=MAX_RATE)
    return check_finite(name, value, maximum=MAX_RATE)


def check_horizon(name: str, value: Any) -> float:
    """A horizon in years: finite, > 0 and <= :data:`MAX_HORIZON`."""
    return check_positive(name, value, maximum=MAX_HORIZON)


def check_int(name: str, value: Any, minimum: int = 1, maximum: int | None = None) -> int:
    """Return ``value`` as an int, or raise unless it is an integer >= ``minimum`` (and <= ``maximum``)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        else:
            raise ValueError(f"`{name}` must be an integer, got {value!r}.")
    v = int(value)
    if v < minimum:
        raise ValueError(f"`{name}` must be >= {minimum}, got {v}.")
    if maximum is not None and v > maximum:
        raise ValueError(f"`{name}` = {v} is too large: it must be <= {maximum} (the arrays must fit in memory).")
    return v


def check_size(sizes: dict[str, int], *, maximum: int = MAX_CELLS) -> int:
    """The element count ``prod(sizes.values())`` of one allocation, or raise if it exceeds ``maximum``.

    ``sizes`` maps each size argument's name to its value (e.g. ``{"n_cells": 401, "n_steps": 200}``
    for a grid × steps array); the error names all of them.
    """
    total = math.prod(int(v) for v in sizes.values())
    if total > maximum:
        parts = " × ".join(f"`{k}` ({int(v):,})" for k, v in sizes.items())
        raise ValueError(f"{parts} = {total:.3g} array elements is too large: the product must be <= "
                         f"{maximum:.0e} so the arrays fit in memory.")
    return total


def check_rates(name: str, value: Any) -> np.ndarray:
    """A rate (or an array of rates per node) as a float array: no bools, strings or containers of them,
    finite, |value| <= :data:`MAX_RATE`. The sign is the caller's to check."""
    if isinstance(value, (bool, np.bool_, str, bytes, dict, set)):
        raise TypeError(f"`{name}` must be a number, an array of numbers or a callable, got {value!r:.40}.")
    try:
        arr = np.asarray(value)
        if arr.dtype == bool or arr.dtype.kind not in "iuf":
            raise TypeError
        arr = arr.astype(float)
    except (TypeError, ValueError):
        raise TypeError(f"`{name}` must be a number, an array of numbers or a callable, got {value!r:.40}.") from None
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"`{name}` must be finite.")
    if arr.size and float(np.max(np.abs(arr))) > MAX_RATE:
        raise ValueError(f"`{name}` is out of range: |{name}| must be <= {MAX_RATE:g} per year.")
    return arr


def check_interval(name: str, value: Any) -> tuple[float, float]:
    """A pair ``(lo, hi)`` of finite numbers with ``lo < hi`` (e.g. a ``domain``)."""
    if isinstance(value, (str, bytes, dict)) or not hasattr(value, "__len__") or len(value) != 2:
        raise ValueError(f"`{name}` must be a pair (lo, hi), got {value!r}.")
    lo, hi = check_finite(f"{name}[0]", value[0]), check_finite(f"{name}[1]", value[1])
    if not lo < hi:
        raise ValueError(f"`{name}` must satisfy lo < hi, got ({lo:g}, {hi:g}).")
    return lo, hi


def check_times(name: str, value: Any, lo: float | None = None, hi: float | None = None) -> np.ndarray:
    """A number or sequence of finite times (within ``[lo, hi]`` when given) as a 1-d float array."""
    if isinstance(value, (str, bytes, dict, set)) or isinstance(value, (bool, np.bool_)):
        raise TypeError(f"`{name}` must be a time or a sequence of times, got {value!r}.")
    try:
        arr = np.asarray(value, dtype=float).ravel()
    except (TypeError, ValueError):
        raise TypeError(f"`{name}` must be a time or a sequence of times, got {value!r}.") from None
    if arr.size and np.asarray(value).dtype == bool:
        raise TypeError(f"`{name}` must be times, not bools.")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"`{name}` must be finite, got {arr.tolist()}.")
    tol = 1e-12 * max(1.0, abs(lo or 0.0), abs(hi or 0.0))
    if lo is not None and hi is not None and arr.size and (arr.min() < lo - tol or arr.max() > hi + tol):
        raise ValueError(f"`{name}` must lie in [{lo:g}, {hi:g}], got {arr.tolist()}.")
    return arr


_T = TypeVar("_T")


def check_named(name: str, value: Any, cls: type[_T], *, article: str = "a") -> tuple[_T, ...]:
    """``value`` (one ``cls`` or a non-empty sequence of them with distinct ``.name``) as a tuple.

    Errors name the argument and the item (``funds[1]``); ``article`` goes before the class name
    in the messages ("a Fund", "an LPType").
    """
    if isinstance(value, cls):
        return (value,)
    kind = cls.__name__
    try:
        out = tuple(value)
    except TypeError:
        raise TypeError(f"`{name}` must be {article} {kind} or a sequence of {kind}, got {type(value).__name__}.") from None
    if not out:
        raise ValueError(f"`{name}` is empty.")
    for i, v in enumerate(out):
        if not isinstance(v, cls):
            raise TypeError(f"`{name}[{i}]` must be {article} {kind}, got {type(v).__name__}.")
    names = [str(getattr(v, "name", "")) for v in out]
    if len(set(names)) != len(names):
        raise ValueError(f"`{name}` has duplicate names (they must be distinct): "
                         f"{sorted({n for n in names if names.count(n) > 1})}.")
    return out


def set_checked(obj: Any, check: Callable[..., Any], *names: str, **kw: Any) -> None:
    """Replace each field ``name`` of the frozen dataclass ``obj`` by ``check(name, value, **kw)``
    (the checked, converted value; the check's error names the field)."""
    for name in names:
        object.__setattr__(obj, name, check(name, getattr(obj, name), **kw))


def saved_index(times: np.ndarray, t: Any, default: int, hint: str) -> int:
    r"""The index of the saved time ``t`` in ``times`` (``default`` when ``t`` is None).

    ``t`` must be finite and within :math:`10^{-9}\max(1, |t_{end}|)` of a saved time; otherwise a
    ``ValueError`` gives the saved range and ``hint`` (how to save it).
    """
    if t is None:
        return default
    t = check_finite("t", t)
    i = int(np.argmin(np.abs(times - t)))
    if abs(times[i] - t) > 1e-9 * max(1.0, abs(times[-1])):
        raise ValueError(f"t = {t} was not saved; saved times run from {times[0]:g} to {times[-1]:g} "
                         f"({times.size} points). {hint}")
    return i


def check_callable(name: str, value: Any) -> Callable[..., Any]:
    """Raise unless ``value`` is callable."""
    if not callable(value):
        raise TypeError(f"`{name}` must be callable, got {type(value).__name__}.")
    return value
