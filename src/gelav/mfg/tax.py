r"""Taxes on secondary sales and the Pigouvian tax :math:`\tau^*(t, L)`.

A tax schedule :math:`\tau(t, L)` [NAV: a share of ``Market.nav``, the charge being
:math:`\mathrm{NAV}\,\tau`] is charged on every sale: a seller of
type :math:`k` at :math:`(t, L)` receives :math:`\pi_k(t, L; \mu) - \mathrm{NAV}\,\tau(t, L)`,
while the market price (what the other sellers see, and what the fire-sale
feedback responds to) stays :math:`\pi_k`. The revenue is rebated to the LPs
lump-sum (it does not depend on anyone's decision), so the LPs' welfare is
their private value plus the revenue (see :func:`gelav.mfg.welfare`).

``Market(tax=...)`` accepts

* a number (the same charge on every sale),
* a callable ``tax(t, L) -> charge`` (vectorised in ``L``; ``t`` a float),
* a table ``(times, nodes, values)`` with ``values`` of shape (len(times), len(nodes))
  or (K, len(times), len(nodes)) per LP type, interpolated bilinearly (held
  constant outside the table),
* a :class:`PigouvianTax` (the table :func:`pigouvian_tax` computes).

:func:`pigouvian_tax` solves the planner's problem (:func:`gelav.mfg.solve_planner`)
and returns :math:`\tau^*`, the charge that makes every LP's best response the
planner's policy.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["PigouvianTax", "TaxSchedule", "check_tax", "pigouvian_tax"]

Array = NDArray[np.float64]


def _interp_table(times: Array, nodes: Array, values: Array, t: Array, x: Array) -> Array:
    """Bilinear interpolation of ``values`` (..., T, X) onto ``t`` × ``x`` (constant outside)."""
    # in L first (every time row), then in t
    rows = np.stack([np.stack([np.interp(x, nodes, v[j]) for j in range(times.size)]) for v in
                     values.reshape(-1, times.size, nodes.size)])  # (B, T, len(x))
    if times.size == 1:
        out = np.repeat(rows, t.size, axis=1)
    else:
        j = np.clip(np.searchsorted(times, t) - 1, 0, times.size - 2)
        w = np.clip((t - times[j]) / (times[j + 1] - times[j]), 0.0, 1.0)
        out = rows[:, j] * (1 - w)[None, :, None] + rows[:, j + 1] * w[None, :, None]
    return out.reshape(*values.shape[:-2], t.size, x.size)


@dataclass(frozen=True, eq=False)
class TaxSchedule:
    r"""A charge :math:`\tau(t, L)` [NAV] on each sale (see the module docstring).

    Build it with :func:`check_tax` (what ``Market(tax=...)`` does) from a
    number, a callable or a table.
    """

    constant: float | None = None
    func: Callable[..., Any] | None = None
    times: Array | None = None
    nodes: Array | None = None
    values: Array | None = None  # (T, X) or (K, T, X)

    def charge(self, t: Array, x: Array, n_types: int) -> Array:
        """The charge on the steps ``t`` (M,) and nodes ``x`` (N,), shape (K, M, N)."""
        t = np.asarray(t, dtype=float)
        x = np.asarray(x, dtype=float)
        K, M, N = n_types, t.size, x.size
        if self.constant is not None:
            return np.full((K, M, N), self.constant)
        if self.func is not None:
            out = np.empty((M, N))
            for n in range(M):
                v = np.asarray(self.func(float(t[n]), x), dtype=float)
                out[n] = np.broadcast_to(v, (N,))
            if not np.all(np.isfinite(out)):
                raise ValueError("The `tax` function returned non-finite charges.")
            return np.broadcast_to(out, (K, M, N))
        assert self.times is not None and self.nodes is not None and self.values is not None
        if (self.values.ndim == 2 or self.values.shape[0] == K) and self.times.size == M \
                and self.nodes.size == N and np.allclose(self.times, t, rtol=0, atol=1e-12) \
                and np.allclose(self.nodes, x, rtol=0, atol=1e-12):
            v = self.values  # the table lives on this grid: exact
        else:
            v = _interp_table(self.times, self.nodes, self.values, t, x)
        if v.ndim == 3 and v.shape[0] != K:
            raise ValueError(f"The `tax` table has {v.shape[0]} LP types, the model {K}.")
        return np.broadcast_to(v, (K, M, N))

    def __call__(self, t: float, L: Any, type: int = 0) -> Any:
        """:math:`\\tau(t, L)` for LP type ``type`` (vectorised in ``L``)."""
        x = np.atleast_1d(np.asarray(L, dtype=float))
        K = 1 if self.values is None or self.values.ndim == 2 else self.values.shape[0]
        v = self.charge(np.array([float(t)]), x, K)[type if K > 1 else 0, 0]
        return float(v[0]) if np.ndim(L) == 0 else v


def check_tax(tax: Any) -> TaxSchedule | None:
    """Normalise ``Market(tax=...)`` to a :class:`TaxSchedule` (None: no tax)."""
    if tax is None or isinstance(tax, TaxSchedule):
        return tax
    if isinstance(tax, bool):
        raise TypeError("`tax` must be a number, a callable (t, L), a table (times, nodes, values) or None, "
                        "not a bool.")
    if isinstance(tax, (int, float, np.integer, np.floating)):
        v = float(tax)
        if not math.isfinite(v):
            raise ValueError(f"`tax` must be finite, got {v}.")
        return TaxSchedule(constant=v)
    if callable(tax):
        return TaxSchedule(func=tax)
    if isinstance(tax, (tuple, list)) and len(tax) == 3:
        times, nodes, values = (np.asarray(a, dtype=float) for a in tax)
        if times.ndim != 1 or nodes.ndim != 1 or times.size < 1 or nodes.size < 2:
            raise ValueError("`tax` table: `times` and `nodes` must be 1-D (at least 1 time and 2 nodes).")
        if np.any(np.diff(times) <= 0) or np.any(np.diff(nodes) <= 0):
            raise ValueError("`tax` table: `times` and `nodes` must be strictly increasing.")
        if values.shape[-2:] != (times.size, nodes.size) or values.ndim not in (2, 3):
            raise ValueError(f"`tax` table: `values` must have shape ({times.size}, {nodes.size}) or "
                             f"(K, {times.size}, {nodes.size}), got {values.shape}.")
        if not np.all(np.isfinite(values)) or not np.all(np.isfinite(times)) or not np.all(np.isfinite(nodes)):
            raise ValueError("`tax` table must be finite.")
        return TaxSchedule(times=times, nodes=nodes, values=values)
    raise TypeError(f"`tax` has unsupported type {type(tax).__name__}; use a number, a callable (t, L), "
                    "a table (times, nodes, values) or a PigouvianTax.")


@dataclass(frozen=True, eq=False)
class PigouvianTax(TaxSchedule):
    r"""The Pigouvian tax :math:`\tau^*_k(t, L)` [NAV] on the solver's (step midpoints × nodes) table.

    :math:`\tau^* = X - e_F`: a sale costs the other LPs :math:`-e_F(t)` through the selling
    pressure (and the buyers' capital), and the seller's leaving the population
    of holders loses the externality value :math:`X(t, L)` a holder carries through the
    distressed mass, the holders' mean and the dynamics (see ``docs/welfare.md``).
    Pass it as ``Market(tax=...)``; on another grid it is interpolated.

    Attributes
    ----------
    times, nodes, values :
        The table (step midpoints [years], liquidity nodes, (K, M, N) charges [NAV]).
    flow_part : ndarray (K, M)
        :math:`-e_F`: the part due to the exit flow.
    holder_part : ndarray (K, M, N)
        :math:`X`: the part due to the holder's presence in the aggregates.
    """

    flow_part: Array | None = None
    holder_part: Array | None = None

    def at(self, L: Any, t: float | None = None, *, type: int = 0, cap: float | None = None) -> Any:
        """:math:`\\tau^*(t, L)` (default: the first step), optionally capped at ``cap`` [NAV]."""
        assert self.times is not None
        v = self(float(self.times[0]) if t is None else float(t), L, type=type)
        return np.minimum(v, cap) if cap is not None else v

    def plot(self, ax: Any = None, *, type: int = 0, times: Any = None) -> Any:
        """Plot :math:`\\tau^*(t, L)` against ``L`` at a few times (percent of NAV)."""
        import matplotlib.pyplot as plt

        assert self.times is not None and self.nodes is not None and self.values is not None
        if ax is None:
            _, ax = plt.subplots()
        ts = self.times[[0, self.times.size // 2, -1]] if times is None else np.atleast_1d(times)
        for t in ts:
            ax.plot(self.nodes, 100 * np.asarray(self(float(t), self.nodes, type=type)), label=f"t = {t:.2f}")
        ax.axhline(0.0, color="grey", lw=0.5)
        ax.set_xlabel("liquidity L")
        ax.set_ylabel("Pigouvian tax τ* [% of NAV]")
        ax.set_title("Pigouvian tax on sales")
        ax.legend()
        return ax


def pigouvian_tax(model: Any, **kwargs: Any) -> PigouvianTax:
    r"""The Pigouvian tax :math:`\tau^*(t, L)` of ``model``: ``solve_planner(model, **kwargs).tax``.

    The game with ``Market(tax=τ*)`` has the planner's policy, exits and welfare
    (on the same grid exactly at the fixed point; on other grids to interpolation error).
    """
    from gelav.mfg.planner import solve_planner

    return solve_planner(model, **kwargs).tax
