"""Matplotlib figures for gelav results (imported lazily: Matplotlib is not loaded by ``import gelav``).

Every function takes an optional ``ax`` and returns the Figure, with labelled
axes (units in brackets), a title and a legend where there is more than one line.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["STYLE", "headless_backend", "legend_below", "new_axes", "plot_density", "plot_fan"]

#: rc settings applied to every gelav figure
STYLE: dict[str, Any] = {
    "figure.figsize": (7.0, 4.2),
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "legend.frameon": False,
    "font.size": 10,
}


def headless_backend() -> str:
    """Select Matplotlib's Agg backend where no display is available (unless the backend is already
    Agg or Jupyter's inline one); returns the backend's name, lower case."""
    import matplotlib

    backend = matplotlib.get_backend().lower()
    if backend not in ("agg", "module://matplotlib_inline.backend_inline"):
        import os

        if not os.environ.get("DISPLAY") and os.name != "nt":
            matplotlib.use("Agg")
            backend = "agg"
    return backend


def new_axes(ax: Any = None, *, projection: str | None = None) -> tuple[Any, Any]:
    """Return ``(fig, ax)``: the given axes' figure, or a new figure in gelav's style."""
    if ax is not None:
        return ax.figure, ax
    headless_backend()
    import matplotlib.pyplot as plt

    with plt.rc_context(STYLE):  # type: ignore[arg-type]
        fig = plt.figure()
        ax = fig.add_subplot(projection=projection) if projection else fig.add_subplot()
    for k, v in STYLE.items():
        if k.startswith("axes.grid") and v:
            ax.grid(True, alpha=STYLE["grid.alpha"])
    return fig, ax


def legend_below(ax: Any, *others: Any, ncol: int = 3) -> Any:
    """A legend under the axes (outside the data, so it never covers a curve), with the labelled
    artists of ``ax`` and of ``others`` (e.g. a twin axis)."""
    handles, labels = ax.get_legend_handles_labels()
    for o in others:
        h, lab = o.get_legend_handles_labels()
        handles, labels = handles + h, labels + lab
    return ax.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=ncol, frameon=False)


def plot_density(density: Any, times: ArrayLike | None = None, *, ax: Any = None, exact: Any = None,
                 xlabel: str = "state x", title: str | None = None) -> Any:
    """Density at chosen saved times; ``exact(t)`` may return a frozen distribution to overlay."""
    fig, ax = new_axes(ax)
    if times is None:
        idx = np.unique(np.linspace(0, density.times.size - 1, 5).round().astype(int))[1:]
        times = density.times[idx]
    x = density.grid.nodes
    for t in np.atleast_1d(np.asarray(times, dtype=float)):
        line, = ax.plot(x, density.at(t), label=f"t = {t:g} y")
        if exact is not None:
            ax.plot(x, exact(t).pdf(x), ls="--", color=line.get_color(), lw=1)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("density [1/unit of x]")
    ax.set_title(title or f"Fokker–Planck density of {getattr(density.process, 'name', 'X')}")
    ax.legend()
    return fig


def plot_fan(density: Any, quantiles: ArrayLike = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99), *,
             ax: Any = None, ylabel: str = "state x", title: str | None = None) -> Any:
    """Fan chart: bands between symmetric quantiles over time, median as a line."""
    fig, ax = new_axes(ax)
    q = np.sort(np.asarray(quantiles, dtype=float))
    ts = density.times
    Q = np.array([np.atleast_1d(density.quantile(q, t)) for t in ts])
    n = q.size
    for i in range(n // 2):
        ax.fill_between(ts, Q[:, i], Q[:, n - 1 - i], alpha=0.15 + 0.15 * i, color="C0", lw=0,
                        label=f"{q[i]:.0%}–{q[n - 1 - i]:.0%}")
    if n % 2:
        ax.plot(ts, Q[:, n // 2], color="C0", label=f"{q[n // 2]:.0%} (median)")
    ax.set_xlabel("time t [years]")
    ax.set_ylabel(ylabel)
    ax.set_title(title or "Spread of the distribution over time")
    ax.legend(loc="best")
    return fig
