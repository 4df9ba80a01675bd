r"""A Feynman–Kac value to a tolerance: refinement at ``x0`` with a validated error estimate.

:func:`gelav.backward` with ``tol=`` runs the solver on :math:`N, 2N, 4N, \dots` cells and
:math:`M, 2M, 4M, \dots` time steps (space and time refined together, on the grids a plain run
builds) and reads the value :math:`u_k` at ``x0`` on each. Of three consecutive answers the
differences :math:`d_1 = u_{k-1} - u_{k-2}`, :math:`d_2 = u_k - u_{k-1}` give the observed order
:math:`p = \log_2(d_1/d_2)`, and, in the asymptotic range of a method of order :math:`q`, the
error estimate of the finest answer

.. math::

    |u_k - u| \lesssim \frac{|d_2|}{2^{\min(p, q)} - 1} + |r_k - r_{k-1}|,
    \qquad r_k = u_k + \frac{d_2}{2^{\min(p, q)} - 1},

the first term the asymptotic estimate, the second the change of the Richardson extrapolation
:math:`r_k`, which is of the next order and covers what the first leaves out (an error
:math:`Ch^2 + Dh^3` with :math:`D` of the other sign than :math:`C` makes the first term short by
:math:`\tfrac43|D|h^3`; the second is :math:`\tfrac{28}{3}|D|h^3`).

An estimate is *validated* only when the last two triples of answers (four grids at least) both
show an order in the band from first order to the scheme's:

- both at least the scheme's order less :data:`gelav.stress.ORDER_TOLERANCE` (0.25), and at most
  one above it (``q`` = 2 for Crank–Nicolson and for exact time steps, 1 for backward Euler): the
  estimate above, conservative where the answers converge faster (CIR on grids graded towards 0:
  2.4–2.6);
- otherwise both in :math:`1 - 0.25 \le p \le q + 1`: the estimate with :math:`q = 1`, an
  upper estimate anywhere in that band. This is the regime of a drift-dominated
  problem, where the Scharfetter–Gummel flux upwinds at a large cell Péclet number
  :math:`|b|h/D` and the answers converge like :math:`h` until the grid resolves the diffusion
  (an OU from :math:`x_0 = 10^3`, :math:`\kappa = 0.45`, :math:`\sigma = 0.32`: 0.42 % off on
  the default 400 cells, halving with each refinement).

The search ends at the first validated estimate :math:`\le` ``tol`` (absolute, currency units of
the payoff). Added to the estimate: with exact time steps twice the certified time-error bound;
on the automatic domain :data:`DOMAIN_TAIL` times the largest value (the mass it leaves out); at
least :data:`ROUNDING` times the largest value. Refinement stops before a grid of more than
``max_cells`` cells (or one whose nodes × steps exceed :data:`gelav._validation.MAX_CELLS`, the
memory limit of one run), with a :class:`~gelav.errors.ConvergenceError` carrying every level's
answer.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

import numpy as np
from numpy.typing import NDArray

from gelav._validation import MAX_CELLS, check_int, check_positive


class _Run(Protocol):
    """What the search reads of a run: the value at a state, the saved values, the diagnostics."""

    @property
    def values(self) -> NDArray[np.float64]: ...

    @property
    def diagnostics(self) -> dict[str, Any]: ...

    def value(self, x: float) -> Any: ...


V = TypeVar("V", bound=_Run)

#: the fewest grids the estimate is validated on (two triples of answers)
MIN_LEVELS = 4
#: the default budget: the finest grid may have at most this many cells
MAX_CELLS_DEFAULT = 12_800
#: the rounding of an answer, relative to the largest value of its run
ROUNDING = 1e-13
#: an observed order up to this much above the scheme's is taken as the scheme's (faster convergence: the
#: estimate is conservative; CIR on grids graded towards 0 converged at 2.4-2.6)
FASTER = 1.0
#: the mass the automatic domain leaves out (:func:`gelav.backward_problem`'s ``tail``): its share of the
#: value, at most about this times the largest value, does not refine away and is added to the estimate
DOMAIN_TAIL = 1e-10
#: the lowest observed order accepted (the first-order, upwinding regime), less the order tolerance
FIRST_ORDER = 1.0


def regime(d1: float, d2: float, nominal: float, noise: float = 0.0) -> tuple[float, float | None]:
    """The observed order of two refinement differences and the order an estimate may assume from them:
    ``nominal`` from :data:`gelav.stress.ORDER_TOLERANCE` below it to :data:`FASTER` above it,
    :data:`FIRST_ORDER` from first order (less that tolerance) up to ``nominal``, ``None`` outside that band or
    without an observed order (a sign change, one exact 0). Two differences both at most ``noise`` (the rounding of
    the answers) are converged: ``nominal``."""
    from gelav.stress import ORDER_TOLERANCE

    if abs(d1) <= noise and abs(d2) <= noise:
        return math.nan, nominal
    if not d1 * d2 > 0.0:
        return math.nan, None
    p = math.log2(d1 / d2)
    if nominal - ORDER_TOLERANCE <= p <= nominal + FASTER:
        return p, nominal
    if min(FIRST_ORDER, nominal) - ORDER_TOLERANCE <= p <= nominal:
        return p, FIRST_ORDER
    return p, None


def backward_to_tolerance(solve: Callable[..., V], x0: float | None, tol: float, max_cells: int,
                          kw: dict[str, Any], most: float = math.inf) -> V:
    """Refine ``solve(n_cells=, n_steps=)`` (a plain run of :func:`gelav.backward` or
    :func:`gelav.optimal_stopping`) until the value at ``x0`` has a validated error estimate at most ``tol``
    (the module's docstring); the finest run's :class:`~gelav.pde.backward.Value`, with the estimate in its
    diagnostics.

    ``kw`` holds the solver's discretisation keywords (:func:`gelav.fd.discretization.resolve_discretization`):
    ``n_cells`` and ``n_steps`` are the coarsest level, ``scheme`` sets the order; ``grid`` and ``time_grid``
    cannot be refined and must be ``None``. ``most`` caps the order the estimate may assume (optimal stopping:
    first order, the free boundary's).

    Raises
    ------
    ValueError
        ``tol`` not positive and finite, no ``x0``, a ``grid`` or ``time_grid`` given, or ``max_cells``
        below the :data:`MIN_LEVELS` grids of the search.
    gelav.errors.ConvergenceError
        No validated estimate at most ``tol`` within ``max_cells``; ``history`` lists every level.
    """
    from gelav.errors import AccuracyWarning, ConvergenceError
    from gelav.fd.schemes import get_scheme

    tol = check_positive("tol", tol)
    if x0 is None:
        raise ValueError("`tol` needs `x0`: the state whose value the error estimate is for.")
    for name in ("grid", "time_grid"):
        if kw[name] is not None:
            raise ValueError(f"`tol` refines the grids itself: give `n_cells` and `n_steps` (the coarsest level), "
                             f"not `{name}`.")
    max_cells = check_int("max_cells", max_cells, minimum=1)
    n_cells = check_int("n_cells", kw["n_cells"], minimum=4, maximum=MAX_CELLS)
    n_steps = check_int("n_steps", kw["n_steps"], minimum=1, maximum=MAX_CELLS)

    def fits(j: int) -> bool:  # level j within the budget and the memory limit of one run's arrays
        return n_cells * 2**j <= max_cells and (n_cells * 2**j + 1) * n_steps * 2**j <= MAX_CELLS

    if not fits(MIN_LEVELS - 1):
        raise ValueError(f"`max_cells` = {max_cells} is below the {MIN_LEVELS} grids the estimate needs "
                         f"({', '.join(str(n_cells * 2**j) for j in range(MIN_LEVELS))} cells, "
                         f"{n_steps * 2 ** (MIN_LEVELS - 1)} steps on the finest, within {MAX_CELLS:.0e} nodes × "
                         f"steps); raise it or lower `n_cells` or `n_steps`.")
    order = float(get_scheme(kw["scheme"]).order)
    nominal = min(order, 2.0)  # exact time steps: the space error, second order
    x = float(x0)
    answers: list[float] = []
    history: list[dict[str, Any]] = []
    regimes: list[float | None] = []
    j = 0
    while True:
        cells, steps = n_cells * 2**j, n_steps * 2**j
        with warnings.catch_warnings():  # the refinement estimate, not a cell Péclet number, says how far off
            warnings.filterwarnings("ignore", message="The cell Péclet number", category=AccuracyWarning)
            run = solve(n_cells=cells, n_steps=steps)
        answers.append(float(run.value(x)))
        level: dict[str, Any] = {"cells": cells, "steps": steps, "value": answers[-1]}
        if j >= 2:
            d1, d2 = answers[-2] - answers[-3], answers[-1] - answers[-2]
            # rounding: the values carry a few ulps of the largest of them per step
            noise = ROUNDING * float(abs(run.values).max())
            p, q = regime(d1, d2, nominal, noise)
            regimes.append(q)
            level["observed_order"] = p
            if len(regimes) >= 2 and q is not None and regimes[-2] is not None:
                q = min(q, regimes[-2], most)  # both triples second order, or both in the band: first order
                # an observed order below the regime's: the slower rate (p = 1.8 with /3 was 1.2x optimistic)
                f = 1.0 / (2.0 ** (q if math.isnan(p) else min(p, q)) - 1.0)
                # plus the change of the extrapolation u_k + f d_2: the next-order term, which makes the first
                # term short by up to (4/3)|D|h^3 (error C h^2 + D h^3, D against C) and is covered 7-fold here
                err = abs(d2) * f + abs(d2 * (1.0 + f) - d1 * f)
                if kw["domain"] is None:  # the automatic domain: what it leaves out (x^2 of an OU: 1e-4 of the error)
                    err += DOMAIN_TAIL * float(abs(run.values).max())
                err = max(err, noise)
                err += 2.0 * float(run.diagnostics.get("time_error_bound", 0.0))
                # a truncated domain's far-field error (the perpetual stopping problem), bounded by the run
                err += float(run.diagnostics.get("truncation_error_bound", 0.0))
                level["error_estimate"] = err
                level["order"] = q
                if err <= tol:
                    history.append(level)
                    run.diagnostics.update({"tol": tol, "error_estimate": err, "observed_order": p, "order": q,
                                            "refinement": history})
                    return run
        history.append(level)
        j += 1
        if not fits(j):
            last = history[-1]
            est = (f"last estimate {last['error_estimate']:.3g}" if "error_estimate" in last else
                   "no validated estimate (observed orders "
                   + ", ".join(f"{h['observed_order']:.2f}" for h in history if "observed_order" in h) + ")")
            limit = ("raise `max_cells` or `tol`" if n_cells * 2**j > max_cells else
                     f"raise `tol` (the next grid, {n_cells * 2**j} cells × {n_steps * 2**j} steps, would exceed "
                     f"{MAX_CELLS:.0e} nodes × steps)")
            raise ConvergenceError(f"The value at x0 = {x:g} did not reach tol={tol:g} within max_cells={max_cells} "
                                   f"({est} on {last['cells']} cells); {limit}.", history)
