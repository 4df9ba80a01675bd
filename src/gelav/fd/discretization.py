r"""One frozen settings object for the discretisation, and the set-up the solvers share.

:class:`Discretization` groups the keywords that :func:`gelav.forward`,
:func:`gelav.backward` and :func:`gelav.optimal_stopping` all take (space grid,
time steps, scheme); each solver still accepts them one by one and also takes
``discretization=Discretization(...)``. :func:`run_time_grid` is the one copy of
the time-grid set-up (default grid, or a given one checked against the run)
and :func:`edge_mass` the one measure behind the mass-loss warnings.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from gelav._validation import check_finite, check_int, check_positive
from gelav.fd.grid import Grid, TimeGrid
from gelav.fd.schemes import get_scheme

__all__ = ["Discretization", "edge_mass", "resolve_discretization", "run_time_grid"]


@dataclass(frozen=True)
class Discretization:
    """How a PDE is discretised (validated on construction).

    Parameters
    ----------
    grid : Grid, optional
        The space grid; default ``n_cells`` uniform cells over ``domain`` (or an
        automatic domain).
    domain : (float, float), optional
        The interval of the default grid.
    n_cells : int
        Cells of the default grid (>= 4; default 400).
    n_steps : int
        Regular time steps of the default time grid (>= 1; default 200).
    time_grid : TimeGrid, optional
        The exact steps (share one between forward and backward for duality to rounding).
    scheme : str
        A name in :data:`gelav.fd.schemes.SCHEMES` (default ``"cn"``).
    damping_steps : int
        Rannacher backward-Euler half steps at each end (default 4).
    tail : float
        Probability allowed outside an automatic domain (default 1e-10).
    flux : str
        The face flux of the generator: ``"sg"`` (Scharfetter–Gummel, default), ``"sqra"``
        (square-root approximation, :data:`gelav.fd.generator.FLUXES`) or, for
        :func:`gelav.forward`, ``"auto"`` (chosen by an error estimate).
    """

    grid: Grid | None = None
    domain: tuple[float, float] | None = None
    n_cells: int = 400
    n_steps: int = 200
    time_grid: TimeGrid | None = None
    scheme: str = "cn"
    damping_steps: int = 4
    tail: float = 1e-10
    flux: str = "sg"

    def __post_init__(self) -> None:
        if self.grid is not None and not isinstance(self.grid, Grid):
            raise TypeError(f"`grid` must be a gelav.Grid, got {type(self.grid).__name__}.")
        if self.time_grid is not None and not isinstance(self.time_grid, TimeGrid):
            raise TypeError(f"`time_grid` must be a gelav.TimeGrid, got {type(self.time_grid).__name__}.")
        if self.grid is None:
            check_int("n_cells", self.n_cells, minimum=4)
        check_int("n_steps", self.n_steps, minimum=1)
        check_positive("tail", self.tail)
        if isinstance(self.damping_steps, bool) or not isinstance(self.damping_steps, (int, np.integer)):
            raise TypeError(f"`damping_steps` must be an int, got {self.damping_steps!r}.")
        get_scheme(self.scheme)
        from gelav.fd.generator import check_flux

        check_flux(self.flux, allow_auto=True)
        if self.domain is not None:
            if len(self.domain) != 2:
                raise ValueError(f"`domain` must be a pair (lo, hi), got {self.domain!r}.")
            lo, hi = check_finite("domain[0]", self.domain[0]), check_finite("domain[1]", self.domain[1])
            if not lo < hi:
                raise ValueError(f"`domain` must satisfy lo < hi, got {self.domain!r}.")


_DEFAULTS = {f.name: f.default for f in fields(Discretization)}


def resolve_discretization(discretization: Discretization | None, **keywords: Any) -> dict[str, Any]:
    """The discretisation keywords a solver runs with.

    Without ``discretization`` the keywords are returned as given (each solver
    validates them where it always did). With one, its fields are used; a
    keyword that was also given with a non-default value raises, since the
    two would disagree, and so does a non-default ``flux`` for a solver that
    does not take one (it would be ignored).

    Raises
    ------
    TypeError
        ``discretization`` of the wrong type, given together with a conflicting keyword, or
        with a setting the solver does not use.
    """
    if discretization is None:
        return _checked(keywords)
    if not isinstance(discretization, Discretization):
        raise TypeError(f"`discretization` must be a gelav.fd.Discretization, got {type(discretization).__name__}.")
    out = dict(keywords)
    for name, value in keywords.items():
        if name not in _DEFAULTS:
            continue
        default = _DEFAULTS[name]
        if value is not default and not (isinstance(value, (int, float, str)) and value == default):
            raise TypeError(f"Give `{name}` either as a keyword or in `discretization`, not both.")
        out[name] = getattr(discretization, name)
    # a flux the solver would not use (added later than the other fields, which solvers ignore as they always did)
    if "flux" not in keywords and discretization.flux != _DEFAULTS["flux"]:
        raise TypeError(f"`discretization.flux` = {discretization.flux!r} is not used by this solver.")
    return _checked(out)


def _checked(kw: dict[str, Any]) -> dict[str, Any]:
    """Name the keyword at fault (``domain=0.0`` was "object of type 'float' has no len()")."""
    from gelav._validation import MAX_CELLS, check_int, check_interval

    if kw.get("domain") is not None:
        kw["domain"] = check_interval("domain", kw["domain"])
    if "damping_steps" in kw:
        kw["damping_steps"] = check_int("damping_steps", kw["damping_steps"], minimum=0, maximum=MAX_CELLS)
    return kw


#: (horizon, start, n_steps, times, scheme, damping_steps) -> (TimeGrid, saved indices) of recent default runs
_TIME_GRIDS: dict[tuple[Any, ...], tuple[TimeGrid, NDArray[np.int64]]] = {}


def run_time_grid(horizon: float, *, start: float, n_steps: int, times: Sequence[float] | ArrayLike | None,
                  time_grid: TimeGrid | None, scheme: str, damping_steps: int, n_nodes: int | None = None
                  ) -> tuple[TimeGrid, NDArray[np.int64]]:
    """The time grid of a run on ``[start, start + horizon]`` and the indices of the saved times.

    The default grid is :meth:`TimeGrid.for_run`; a given ``time_grid`` must span
    the run, and then ``times`` (default: every step) are saved. With
    ``n_nodes`` (the space grid's nodes), the nodes × steps arrays must fit
    in memory (:func:`gelav._validation.check_size`).

    Raises
    ------
    TypeError, ValueError
        A ``time_grid`` of the wrong type or span; a grid × steps product over
        :data:`gelav._validation.MAX_CELLS`.
    """
    from gelav._validation import MAX_CELLS, check_size

    n_steps = check_int("n_steps", n_steps, minimum=1, maximum=MAX_CELLS)
    if n_nodes is not None:
        steps = n_steps if time_grid is None or not isinstance(time_grid, TimeGrid) else time_grid.n_steps
        check_size({"n_cells": n_nodes, "n_steps": steps})
    end = start + horizon
    if times is not None:  # named `times` here, not `include` in TimeGrid.build
        from gelav._validation import check_times

        times = check_times("times", times, start, end)
    if time_grid is None:
        # the default grids of recent runs (TimeGrid is immutable): a Richardson ladder, a flux choice or a
        # table of runs over the same horizon builds each once
        key: tuple[Any, ...] | None = (float(horizon), float(start), n_steps,
                                       None if times is None else tuple(np.ravel(times).tolist()), scheme,
                                       damping_steps)
        try:
            hit = _TIME_GRIDS.get(key)  # type: ignore[arg-type]
        except TypeError:  # an unhashable argument (a bad `scheme`): no memo, TimeGrid names it
            key, hit = None, None
        if hit is not None:
            return hit
        time_grid, save_t = TimeGrid.for_run(horizon, n_steps, start=start, times=times, scheme=scheme,
                                             damping_steps=damping_steps)
        idx = time_grid.indices(save_t)
        idx.setflags(write=False)
        if key is not None:
            if len(_TIME_GRIDS) >= 64:
                _TIME_GRIDS.pop(next(iter(_TIME_GRIDS)))
            _TIME_GRIDS[key] = (time_grid, idx)
        return time_grid, idx
    else:
        if not isinstance(time_grid, TimeGrid):
            raise TypeError(f"`time_grid` must be a gelav.TimeGrid, got {type(time_grid).__name__}.")
        if abs(time_grid.start - start) > 1e-12 or abs(time_grid.end - end) > 1e-9 * max(1.0, abs(end)):
            raise ValueError(f"`time_grid` spans [{time_grid.start}, {time_grid.end}] but the run is [{start}, {end}].")
        save_t = time_grid.times if times is None else np.unique(
            np.concatenate(([start, end], np.asarray(times, dtype=float).ravel())))
    return time_grid, time_grid.indices(save_t)


def edge_mass(masses: NDArray[np.float64], grid: Grid, *, lower: bool = True, upper: bool = True,
              fraction: float = 0.02, log_origin: float | None = None) -> float:
    r"""The largest mass in the outer ``fraction`` of the domain at the chosen ends.

    With ``log_origin`` (a logarithmic grid towards a GBM-like natural end, :func:`gelav.fd.grid.grid_for`)
    the fraction is of the width in :math:`\ln(x - \text{log\_origin})`, the coordinate of the grid.

    ``masses`` has the nodes on the last axis and any leading axes (times,
    types); the maximum is over them. This is the measure of the mass-loss
    warnings: mass near a far boundary means the domain truncates the law.
    """
    x = grid.nodes
    if log_origin is not None:
        x = np.log(x - log_origin)
    width = x[-1] - x[0]
    if not (lower or upper):
        return 0.0
    if lower and upper:
        edge = (x < x[0] + fraction * width) | (x > x[-1] - fraction * width)
    else:
        edge = x < x[0] + fraction * width if lower else x > x[-1] - fraction * width
    if not edge.any():
        return 0.0
    return float(np.asarray(masses)[..., edge].sum(axis=-1).max())
