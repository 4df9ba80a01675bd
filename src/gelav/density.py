r"""The :class:`Density` result of the Fokker–Planck solver.

It holds node masses :math:`p_i(t)` on a :class:`~gelav.grid.Grid` at the saved
times, the mass absorbed at each boundary and killed inside, and diagnostics.
Densities are :math:`p_i / V_i` (mass over control volume); the distribution
function is the piecewise-linear interpolant of the cumulative masses at the
control-volume faces, which is second-order accurate and monotone.

Probabilities and moments refer to the mass still in the domain at time ``t``
(the sub-probability law of the surviving process); ``mean``, ``var`` and
``quantile`` are conditional on survival, and :meth:`Density.mass` gives the
surviving mass.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from gelav._validation import saved_index
from gelav.grid import Grid

if TYPE_CHECKING:
    from gelav.processes.mckean_vlasov import McKeanVlasov
    from gelav.processes.protocol import ProcessLike

__all__ = ["Density"]


@dataclass(frozen=True, eq=False)
class Density:
    """Distribution of :math:`X_t` over time, as returned by :func:`gelav.forward`.

    Attributes
    ----------
    grid : Grid
        Space grid (nodes, control volumes).
    times : ndarray, shape (n_t,)
        Saved times (years).
    masses : ndarray, shape (n_t, n_nodes)
        Probability mass of each node's control volume at each saved time.
    absorbed_lower, absorbed_upper : ndarray, shape (n_t,)
        Cumulative mass absorbed at the lower / upper boundary.
    killed : ndarray, shape (n_t,)
        Cumulative mass removed by the killing rate.
    process : Process
        The process solved.
    diagnostics : dict
        Grid and step counts, run time, mass balance error, minimum density,
        mass near reflecting boundaries, scheme.
    inputs : dict
        The arguments of the run (for reports).
    time_grid : TimeGrid or None
        The steps actually taken (with the implicit half steps the positivity
        check put in, see ``diagnostics["positivity"]``): pass it to
        :func:`gelav.backward` for duality to rounding.
    """

    grid: Grid
    times: NDArray[np.float64]
    masses: NDArray[np.float64]
    absorbed_lower: NDArray[np.float64]
    absorbed_upper: NDArray[np.float64]
    killed: NDArray[np.float64]
    process: ProcessLike | McKeanVlasov | None = None
    diagnostics: dict[str, Any] = field(default_factory=dict)
    inputs: dict[str, Any] = field(default_factory=dict)
    time_grid: Any = None

    # -- time selection -----------------------------------------------------
    def _index(self, t: float | None) -> int:
        return saved_index(self.times, t, self.times.size - 1, "Pass `times=[...]` to gelav.forward to save it.")

    @property
    def x(self) -> NDArray[np.float64]:
        """Grid nodes."""
        return self.grid.nodes

    @property
    def horizon(self) -> float:
        return float(self.times[-1])

    def at(self, t: float | None = None) -> NDArray[np.float64]:
        """Density values :math:`p_i/V_i` at the nodes at saved time ``t`` (default: the horizon)."""
        return self.masses[self._index(t)] / self.grid.volumes

    def pdf(self, x: ArrayLike, t: float | None = None) -> NDArray[np.float64]:
        """Density at arbitrary points ``x`` (linear interpolation of nodal densities; 0 outside)."""
        return np.interp(np.asarray(x, dtype=float), self.grid.nodes, self.at(t), left=0.0, right=0.0)

    def mass(self, t: float | None = None) -> float:
        """Mass still in the domain at ``t`` (1 minus absorbed and killed, for a unit start)."""
        return float(self.masses[self._index(t)].sum())

    def cdf(self, x: ArrayLike, t: float | None = None) -> NDArray[np.float64]:
        r""":math:`P(X_t \le x,\ \text{still in the domain})`, piecewise linear between faces."""
        m = self.masses[self._index(t)]
        F = np.concatenate(([0.0], np.cumsum(m)))
        return np.interp(np.asarray(x, dtype=float), self.grid.faces, F, left=0.0, right=F[-1])

    def sf(self, x: ArrayLike, t: float | None = None) -> NDArray[np.float64]:
        r""":math:`P(X_t > x,\ \text{still in the domain})`: the surviving mass minus :meth:`cdf`, the same
        piecewise-linear function, but summed from the upper end, so that an upper tail keeps its relative
        accuracy (``mass - cdf`` is a multiple of the last bit of 1: a tail of 3.3e-14 came out 150 × 2⁻⁵²)."""
        m = self.masses[self._index(t)]
        U = np.concatenate((np.cumsum(m[::-1])[::-1], [0.0]))
        return np.interp(np.asarray(x, dtype=float), self.grid.faces, U, left=U[0], right=0.0)

    def prob(
        self, *, below: float | None = None, above: float | None = None, t: float | None = None
    ) -> float:
        """Probability that :math:`X_t` lies below ``below`` and/or above ``above``.

        ``prob(below=c)`` is :math:`P(X_t < c)`, ``prob(above=c)`` is :math:`P(X_t > c)`,
        and both together give :math:`P(\\text{above} < X_t < \\text{below})`.
        Mass absorbed or killed before ``t`` is not counted.
        """
        if below is None and above is None:
            raise ValueError("Give `below`, `above` or both.")
        from gelav._validation import check_finite

        for name, v in (("below", below), ("above", above)):
            if v is not None:
                check_finite(name, v)  # NaN used to give a probability of nan
        if below is not None and above is not None and above >= below:
            raise ValueError(f"`above` ({above}) must be < `below` ({below}).")
        if above is None:
            assert below is not None
            return max(float(self.cdf(below, t)), 0.0)
        if below is None:
            return max(float(self.sf(above, t)), 0.0)
        lo = float(self.cdf(above, t))
        if lo <= 0.5 * self.mass(t):  # an interval: the difference of the two tails that are smaller
            return max(float(self.cdf(below, t)) - lo, 0.0)
        return max(float(self.sf(above, t)) - float(self.sf(below, t)), 0.0)

    def mean(self, t: float | None = None) -> float:
        """Mean of the surviving law at ``t``."""
        m = self.masses[self._index(t)]
        return float(m @ self.grid.nodes / m.sum())

    def var(self, t: float | None = None) -> float:
        """Variance of the surviving law at ``t``."""
        m = self.masses[self._index(t)]
        mu = m @ self.grid.nodes / m.sum()
        return float(m @ (self.grid.nodes - mu) ** 2 / m.sum())

    def std(self, t: float | None = None) -> float:
        return float(np.sqrt(self.var(t)))

    def quantile(self, q: float | ArrayLike, t: float | None = None) -> NDArray[np.float64] | float:
        """Quantile(s) of the surviving law at ``t`` (inverse of the normalised piecewise-linear cdf)."""
        qa = np.asarray(q, dtype=float)
        if np.any((qa < 0) | (qa > 1)) or not np.all(np.isfinite(qa)):
            raise ValueError(f"`q` must lie in [0, 1], got {q!r}.")
        m = self.masses[self._index(t)]
        F = np.concatenate(([0.0], np.cumsum(np.maximum(m, 0.0))))
        F = F / F[-1]
        xf = self.grid.faces
        # first knot at or above q, then linear inverse on that control volume
        k = np.clip(np.searchsorted(F, qa, side="left"), 1, F.size - 1)
        dF = F[k] - F[k - 1]
        w = np.where(dF > 0, (qa - F[k - 1]) / np.where(dF > 0, dF, 1.0), 1.0)
        out = xf[k - 1] + np.clip(w, 0.0, 1.0) * (xf[k] - xf[k - 1])
        return float(out) if out.ndim == 0 else out

    # -- tail risk -------------------------------------------------------------
    def _tail_level(self, level: float, side: str) -> float:
        if isinstance(level, bool) or not isinstance(level, (int, float, np.integer, np.floating)):
            raise TypeError(f"`level` must be a number in (0, 1), got {type(level).__name__}.")
        level = float(level)
        if not (math.isfinite(level) and 0.0 < level < 1.0):
            raise ValueError(f"`level` must lie in (0, 1) (e.g. 0.99), got {level}.")
        if side not in ("lower", "upper"):
            raise ValueError(f"`side` must be 'lower' or 'upper', got {side!r}.")
        return level

    def value_at_risk(self, level: float = 0.99, t: float | None = None, *, side: str = "lower") -> float:
        r"""Value at risk of the state at ``t``: the tail quantile at confidence ``level``.

        The stress side of a liquidity state is *low* :math:`L`, so by default
        (``side="lower"``) the VaR at level :math:`\alpha` is the lower
        :math:`1 - \alpha` quantile, :math:`\operatorname{VaR}_\alpha = F^{-1}(1 - \alpha)`
        (level 0.99 → the 1 % quantile); ``side="upper"`` gives :math:`F^{-1}(\alpha)`.
        :math:`F` is the law of the surviving mass, normalised (as in :meth:`quantile`);
        the value is in units of the state, not a loss relative to a start.

        Accuracy: the quantile of the piecewise-linear distribution function through the
        cumulative masses at the control-volume faces, second order in the cell width.

        Raises
        ------
        ValueError
            ``level`` outside (0, 1), unknown ``side``, ``t`` not saved.
        """
        level = self._tail_level(level, side)
        q = 1.0 - level if side == "lower" else level
        return float(self.quantile(q, t))

    def expected_shortfall(self, level: float = 0.99, t: float | None = None, *, side: str = "lower") -> float:
        r"""Expected shortfall: the mean of the state beyond its value at risk.

        .. math::

            \operatorname{ES}_\alpha = E[L \mid L \le \operatorname{VaR}_\alpha]
            = \frac{1}{1 - \alpha}\int_{-\infty}^{\operatorname{VaR}_\alpha} x\,p(x)\,dx
            \quad(\text{side="lower"}), \qquad
            E[L \mid L \ge \operatorname{VaR}_\alpha] \quad(\text{side="upper"}),

        for the normalised law of the surviving mass (see :meth:`value_at_risk`). The
        integral is exact for the reconstructed density — constant on each control
        volume, :math:`p_i/V_i`, the derivative of the piecewise-linear distribution
        function — including the partial cell that holds the VaR, so the result is
        second order in the cell width (a sum over nodes would be first order).

        Raises
        ------
        ValueError
            ``level`` outside (0, 1), unknown ``side``, ``t`` not saved.
        """
        level = self._tail_level(level, side)
        m = np.maximum(self.masses[self._index(t)], 0.0)
        total = float(m.sum())
        if not total > 0:
            raise ValueError("No mass is left in the domain at this time: the expected shortfall is undefined.")
        w = m / total
        xf = self.grid.faces
        if side == "upper":  # mirror: E[L | L >= q] = -E[-L | -L <= -q]
            w, xf = w[::-1], -xf[::-1]
        tail = 1.0 - level
        F = np.concatenate(([0.0], np.cumsum(w)))
        k = int(np.clip(np.searchsorted(F, tail, side="left"), 1, F.size - 1))  # cell k-1 holds the quantile
        full = float(w[: k - 1] @ (0.5 * (xf[: k - 1] + xf[1:k])))  # ∫ x p dx over whole cells
        dF = F[k] - F[k - 1]
        frac = (tail - F[k - 1]) / dF if dF > 0 else 0.0
        q = xf[k - 1] + frac * (xf[k] - xf[k - 1])
        part = (tail - F[k - 1]) * 0.5 * (xf[k - 1] + q)  # uniform density on the partial cell
        es = (full + part) / tail
        return float(-es if side == "upper" else es)

    def tail_risk(self, levels: ArrayLike = (0.95, 0.99), t: float | None = None, *,
                  side: str = "lower") -> dict[float, dict[str, float]]:
        """``{level: {"var": ..., "es": ...}}`` for several levels (a table for reports and JSON)."""
        return {float(a): {"var": self.value_at_risk(float(a), t, side=side),
                           "es": self.expected_shortfall(float(a), t, side=side)}
                for a in np.atleast_1d(np.asarray(levels, dtype=float))}

    def absorbed(self, t: float | None = None) -> dict[str, float]:
        """Cumulative mass absorbed at each boundary and killed by ``t``."""
        i = self._index(t)
        return {
            "lower": float(self.absorbed_lower[i]),
            "upper": float(self.absorbed_upper[i]),
            "killed": float(self.killed[i]),
        }

    # -- output ----------------------------------------------------------------
    def plot(self, times: ArrayLike | None = None, *, ax: Any = None, **kwargs: Any) -> Any:
        """Plot the density at the chosen saved times (default: five spread over the run)."""
        from gelav.plot import plot_density

        return plot_density(self, times=times, ax=ax, **kwargs)

    def plot_fan(self, quantiles: ArrayLike = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99), *, ax: Any = None, **kwargs: Any) -> Any:
        """Fan chart of quantiles over time."""
        from gelav.plot import plot_fan

        return plot_fan(self, quantiles=quantiles, ax=ax, **kwargs)

    def to_xarray(self) -> Any:
        """The density as an ``xarray.DataArray`` over (t, x) (needs xarray)."""
        try:
            import xarray as xr
        except ImportError as exc:  # pragma: no cover - optional
            raise ImportError("to_xarray needs xarray: pip install 'gelav[xarray]'") from exc
        return xr.DataArray(
            self.masses / self.grid.volumes,
            coords={"t": self.times, "x": self.grid.nodes},
            dims=("t", "x"),
            name="density",
            attrs={"process": repr(self.process), **{k: str(v) for k, v in self.diagnostics.items()}},
        )

    def summary(self) -> dict[str, Any]:
        """Key numbers at the horizon (for tables and JSON)."""
        return {
            "horizon": self.horizon,
            "mass": self.mass(),
            "mean": self.mean(),
            "std": self.std(),
            **{f"absorbed_{k}": v for k, v in self.absorbed().items()},
            **self.diagnostics,
        }

    def _display(self, levels: tuple[float, ...] = (0.95, 0.99)) -> Any:
        from gelav._display import KeyTable

        rows: list[tuple[Any, ...]] = [("horizon t [y]", self.horizon), ("mass in the domain", self.mass()),
                                       ("mean", self.mean()), ("standard deviation", self.std())]
        rows += [(f"{k} mass", v) for k, v in self.absorbed().items() if v > 0]
        for lv in levels:
            rows.append((f"VaR {lv:.0%} (lower {1 - lv:.0%} quantile)", self.value_at_risk(lv)))
            rows.append((f"ES {lv:.0%} = E[X | X ≤ VaR]", self.expected_shortfall(lv)))
        return KeyTable(f"Density of {self.process!r}: {self.grid.n_nodes} nodes, {self.times.size} saved times",
                        rows, columns=("", "value"))

    def _repr_html_(self) -> str:
        return str(self._display().html())

    def _repr_markdown_(self) -> str:
        return str(self._display().markdown())

    def __repr__(self) -> str:
        return (
            f"Density({self.process!r}, {self.grid.n_nodes} nodes, {self.times.size} saved times up to "
            f"t={self.horizon:g}, mass={self.mass():.6g})"
        )
