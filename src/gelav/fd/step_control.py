r"""Step conditions that keep every step positive: checked, and met by changing the steps.

One θ-step of the generator :math:`A = Q - \operatorname{diag}(r)` is

.. math::

    L = I - \theta\Delta t A, \qquad R = I + (1-\theta)\Delta t A ,
    \qquad u_n = L^{-1}(R u_{n+1} + \Delta t f), \qquad p_{n+1} = R^\top L^{-\top} p_n .

:math:`L` has non-positive off-diagonals; its row sums are
:math:`1 + \theta\Delta t\, r_i`, so :math:`L` is a strictly diagonally dominant
M-matrix (:math:`L^{-1} \ge 0`, a discrete maximum principle, an LCP with a
unique solution) exactly when

.. math:: \theta\,\Delta t\, \max_i r_i^- < 1 .                                   \tag{1}

With :math:`r \ge 0` (a killing rate) this always holds; a *signed* short rate
(:math:`r < 0` somewhere, e.g. a Vasicek rate) needs it checked.
:func:`signed_rate_substeps` splits every step that breaks (1) — with the
safety margin ``limit`` = 1/4, i.e. :math:`\theta\Delta t\,r^- \le 1/4` —
into equal sub-steps that meet it.

:math:`R` is non-negative, and so the whole step, when

.. math:: 1 + (1-\theta)\Delta t\,(q_{ii} - r_i) \ge 0 \quad\text{for all } i.   \tag{2}

Crank–Nicolson (:math:`\theta = 1/2`) breaks (2) on almost every practical
grid (:math:`\Delta t\,|q_{ii}| \sim \Delta t/h^2 \gg 2`) and is still positive
there, because the Rannacher start damps the stiff modes; on strongly
stretched grids, with killing or absorbing ends, it is not. Enforcing (2)
would change every ordinary answer, so the forward solver checks the
*result* instead (:func:`positive_forward_step`): a step that returns a
negative mass is taken again as two backward-Euler half steps (θ = 1,
:math:`R = I`, :math:`p_{n+1} = L^{-\top}p_n \ge 0`), Rannacher's smoothing
at the offending time. Steps where nothing is negative are untouched, so
ordinary answers are the same numbers. :func:`with_implicit_halves` is the
time grid actually walked (for duality with :func:`gelav.backward`).

The mean-field game cannot re-step its forward sweep alone (it is the exact
transpose of the best response, and the exit intensity is a fixed point), so
it takes the offending steps as whole backward-Euler steps in *both* sweeps
and solves again: :func:`with_implicit_steps` keeps the times and sets
:math:`\theta_n = 1` there (:math:`R_n = I`, the step is positive for any
generator and exit intensity).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from gelav.fd.grid import TimeGrid

__all__ = [
    "M_MATRIX_LIMIT",
    "positive_forward_step",
    "positive_step",
    "signed_rate_run",
    "signed_rate_substeps",
    "with_implicit_halves",
    "with_implicit_steps",
]

#: the margin in condition (1): every step has θ Δt max(r⁻) ≤ M_MATRIX_LIMIT (< 1); at 1/4 the
#: step's growth factor 1/(1 - θΔt r⁻) is within 4 % of the exact e^{θΔt r⁻} (at 1 it is infinite)
M_MATRIX_LIMIT = 0.25


def _growth(generator: Any, t: float) -> float:
    """:math:`\\max_i r_i^-` at time ``t``: the largest negative discount (0 for a killing rate)."""
    k = generator.killing_rate(t)
    return float(max(0.0, -float(np.min(k)))) if k.size else 0.0


def signed_rate_run(time_grid: TimeGrid, save_idx: NDArray[np.int64], generator: Any
                    ) -> tuple[TimeGrid, NDArray[np.int64], dict[str, Any] | None]:
    """A run's time grid after :func:`signed_rate_substeps`, with the saved indices moved onto it:
    ``(time_grid, save_idx, record)`` (the inputs and None when no step is split). Used by
    :func:`gelav.forward` and :func:`gelav.backward` (a signed rate is the dual of a signed killing)."""
    refined, control = signed_rate_substeps(time_grid, generator)
    if control is not None:
        return refined, refined.indices(time_grid.times[save_idx]), control
    return time_grid, save_idx, control


def signed_rate_substeps(
    time_grid: TimeGrid, generator: Any, *, limit: float = M_MATRIX_LIMIT
) -> tuple[TimeGrid, dict[str, Any] | None]:
    r"""The time grid with every step that breaks :math:`\theta\Delta t\,r^- \le` ``limit`` sub-stepped.

    A step from :math:`t_n` to :math:`t_{n+1}` with
    :math:`\theta_n\Delta t_n \max_i r_i^-(t_m) > \text{limit}` (rate at the
    midpoint :math:`t_m`, as the step uses it) is split into
    :math:`k = \lceil \theta_n\Delta t_n r^- / \text{limit}\rceil` equal steps of
    the same θ (and scheme); each sub-step is checked again at its own midpoint.

    Returns
    -------
    (TimeGrid, dict or None)
        The grid (``time_grid`` itself when no step breaks the condition) and a
        record ``{"condition", "steps_split", "substeps_added", "max_theta_dt_r_minus"}``
        (``None`` when nothing was done).
    """
    if not generator.has_killing:
        return time_grid, None
    t, th = time_grid.times, time_grid.theta
    names = time_grid.schemes
    new_t: list[float] = [float(t[0])]
    new_th: list[float] = []
    new_names: list[str] = []
    split = added = 0
    worst = 0.0
    exact = _exact_steps(names)
    for n in range(time_grid.n_steps):
        t0, t1, theta = float(t[n]), float(t[n + 1]), float(th[n])
        pieces = [(t0, t1)]
        if n in exact:  # an exact step (e^{dt A}) needs no M-matrix condition: it is not split
            new_t.append(t1)
            new_th.append(theta)
            if names is not None:
                new_names.append(names[n])
            continue
        for _ in range(60):  # a time-dependent rate: check each piece at its own midpoint
            bad = False
            out = []
            for a, b in pieces:
                c = theta * (b - a) * _growth(generator, 0.5 * (a + b))
                worst = max(worst, c)
                if c > limit:
                    k = math.ceil(c / limit)
                    out += [(a + (b - a) * j / k, a + (b - a) * (j + 1) / k) for j in range(k)]
                    bad = True
                else:
                    out.append((a, b))
            pieces = out
            if not bad:
                break
        else:  # pragma: no cover - a rate that grows without bound
            raise ValueError(
                "`discount` is too negative to meet the step condition θ Δt max(-r) <= "
                f"{limit:g} near t = {t0:g}; check the rate."
            )
        if len(pieces) > 1:
            split += 1
            added += len(pieces) - 1
        new_t += [b for _, b in pieces]
        new_th += [theta] * len(pieces)
        if names is not None:
            new_names += [names[n]] * len(pieces)
    if not split:
        return time_grid, None
    record = {
        "condition": f"theta*dt*max(-r) <= {limit:g} (step matrix an M-matrix)",
        "steps_split": split,
        "substeps_added": added,
        "max_theta_dt_r_minus": max(
            theta * (b - a) * _growth(generator, 0.5 * (a + b))
            for a, b, theta in zip(new_t[:-1], new_t[1:], new_th, strict=True)
        ),
    }
    tg = TimeGrid(
        np.asarray(new_t), np.asarray(new_th), tuple(new_names) if names is not None else None
    )
    return tg, record


def _exact_steps(names: Sequence[str] | None) -> set[int]:
    """The steps of a time grid taken by a scheme exact in time (:func:`gelav.fd.schemes.is_exact`)."""
    if names is None:
        return set()
    from gelav.fd.schemes import SCHEMES, is_exact

    exact = {k for k, v in SCHEMES.items() if is_exact(v)}
    return {n for n, name in enumerate(names) if name in exact}


def positive_forward_step(
    stepper: Any, time_grid: TimeGrid, n: int, p: NDArray[np.float64], *, op: Any = None
) -> tuple[NDArray[np.float64], bool]:
    r"""Step ``n`` of ``time_grid`` on the masses ``p``, never returning a negative mass.

    The step of the grid is taken; when it is not backward Euler and the
    result has a negative entry, the step is taken again as two backward-Euler
    half steps (each :math:`p \mapsto L^{-\top}p`, non-negative for the
    M-matrix :math:`L`). Returns the masses and whether the step was replaced.
    ``op`` is the step's operator when the caller has it (``stepper.at(time_grid, n)``).
    """
    out, replaced, _ = positive_step(stepper, time_grid, n, p, op)
    return out, replaced


def positive_step(
    stepper: Any, time_grid: TimeGrid, n: int, p: NDArray[np.float64], op: Any = None
) -> tuple[NDArray[np.float64], bool, float]:
    """:func:`positive_forward_step` that also returns the smallest mass of the result."""
    out = (stepper.at(time_grid, n) if op is None else op).forward(p)
    low = float(out.min())
    if not low < 0.0:
        return out, False, low
    name = time_grid.step_scheme(n)
    if name == "euler" or (name is None and time_grid.theta[n] == 1.0):
        return out, False, low
    t0, t1 = float(time_grid.times[n]), float(time_grid.times[n + 1])
    tm = 0.5 * (t0 + t1)
    out = stepper.step(tm, t1, 1.0).forward(stepper.step(t0, tm, 1.0).forward(p))
    return out, True, float(out.min())


def with_implicit_halves(time_grid: TimeGrid, steps: Sequence[int]) -> TimeGrid:
    """``time_grid`` with each step in ``steps`` replaced by two backward-Euler half steps."""
    if not len(steps):
        return time_grid
    t, th = time_grid.times, time_grid.theta
    names = time_grid.schemes
    chosen = set(int(s) for s in steps)
    new_t, new_th, new_names = [float(t[0])], [], []
    for n in range(time_grid.n_steps):
        if n in chosen:
            new_t += [0.5 * (float(t[n]) + float(t[n + 1])), float(t[n + 1])]
            new_th += [1.0, 1.0]
            new_names += ["euler", "euler"]
        else:
            new_t.append(float(t[n + 1]))
            new_th.append(float(th[n]))
            new_names.append(names[n] if names is not None else "")
    return TimeGrid(
        np.asarray(new_t), np.asarray(new_th), tuple(new_names) if names is not None else None
    )


def with_implicit_steps(time_grid: TimeGrid, steps: Sequence[int]) -> TimeGrid:
    r"""``time_grid`` with the same times and :math:`\theta_n = 1` (backward Euler) at each step in ``steps``.

    The step :math:`p_{n+1} = R_n^\top L_n^{-\top} p_n` then has :math:`R_n = I` and is
    non-negative whatever the generator (:math:`L_n` an M-matrix). ``time_grid`` itself
    is returned when no step changes.
    """
    th = np.array(time_grid.theta, dtype=float)
    idx = np.asarray(sorted(set(int(s) for s in steps)), dtype=np.int64)
    if idx.size and (idx[0] < 0 or idx[-1] >= th.size):
        raise ValueError(f"`steps` must lie in [0, {th.size - 1}], got {idx.tolist()}.")
    if not idx.size or np.all(th[idx] == 1.0):
        return time_grid
    th[idx] = 1.0
    names = time_grid.schemes
    if names is not None:
        chosen = set(idx.tolist())
        names = tuple("euler" if n in chosen else names[n] for n in range(th.size))
    return TimeGrid(np.asarray(time_grid.times), th, names)
