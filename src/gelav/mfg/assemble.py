r"""From the last evaluation of the fixed-point map to the :class:`~gelav.mfg.result.Equilibrium`.

Everything a result reports beyond the solution arrays is computed here: the
exit boundary, cumulative exits, the mass ledger (holders + exits = initial
mass), the duality gap of the two sweeps, the boundary mass, the plain DCF
value, the selling-pressure path and the exploitability of the equilibrium
policy. :mod:`gelav.mfg.result` only holds the result.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from gelav.mfg.result import Equilibrium
from gelav.results import Diagnostics

if TYPE_CHECKING:
    from gelav.mfg.engine import Backward, Forward, Problem
    from gelav.mfg.fixed_point import Evaluator
    from gelav.mfg.model import SolverOptions

__all__ = ["NoFeedback", "build_equilibrium", "exit_boundary"]

Array = NDArray[np.float64]


@dataclass(frozen=True, eq=False)
class NoFeedback:
    """The no-feedback (single-LP, DCF-like) reference: its problem, best response and population."""

    problem: Problem
    backward: Backward
    forward: Forward


def exit_boundary(x: Array, gap: Array) -> Array:
    r"""Exit boundary per row of ``gap`` = :math:`\pi - V` (exit where gap > 0, below the boundary).

    The largest zero crossing from exit (gap > 0) to hold (gap ≤ 0) going up in
    ``x``, linearly interpolated; NaN where nobody exits, ``x[-1]`` where
    everybody does.
    """
    gap = np.atleast_2d(gap)
    out = np.full(gap.shape[0], np.nan)
    pos = gap > 0
    for i in range(gap.shape[0]):
        p = pos[i]
        if not p.any():
            continue
        if p.all():
            out[i] = x[-1]
            continue
        j = int(np.nonzero(p)[0].max())
        if j == x.size - 1:
            out[i] = x[-1]
            continue
        g0, g1 = gap[i, j], gap[i, j + 1]
        out[i] = x[j] + (x[j + 1] - x[j]) * g0 / (g0 - g1)
    return out


def build_equilibrium(problem: Problem, ev: Evaluator, Z: Array, notes: list[str], label: str,
                      opts: SolverOptions, nf: NoFeedback | None, timings: dict[str, float],
                      total: float, positivity: dict[str, Any] | None = None) -> Equilibrium:
    """Assemble the result from the last evaluation of Φ at the fixed point ``Z``.

    ``nf``: the no-feedback reference (its problem, best response and population), or None;
    ``positivity``: the record of the steps taken as backward Euler against negative masses
    (``diagnostics["positivity"]``), or None.
    """
    if ev.last is None:
        raise ValueError("`ev` has not evaluated the fixed-point map yet.")
    last = ev.last
    Zin, Zn, bw, fw, res = last.Z, last.image, last.backward, last.forward, last.residual
    pb = problem
    K, M, N = pb.K, pb.M, pb.N
    V = bw.V.reshape(M + 1, K, N).transpose(1, 0, 2)
    kk = bw.k.reshape(M, K, N).transpose(1, 0, 2)
    P = fw.P.transpose(1, 0, 2)
    price_nodes = np.concatenate((bw.price, bw.price[:, -1:]), axis=1)  # (K, M+1, N)
    boundary = np.stack([exit_boundary(pb.x, price_nodes[k] - V[k]) for k in range(K)])
    for k in range(K):
        boundary[k, pb.end_idx[k]:] = np.nan
    exits = fw.exits.T  # (K, M)
    cum = np.concatenate((np.zeros((K, 1)), np.cumsum(exits, axis=1)), axis=1)
    holders = P.sum(axis=2)
    p0tot = pb.p0.sum(axis=1)
    mb = 0.0
    for k in range(K):
        e = pb.end_idx[k]
        mb = max(mb, float(np.max(np.abs(holders[k, :e + 1] + cum[k, :e + 1] - p0tot[k]))))
    dual = pb.duality_gap(bw, fw)
    x = pb.x
    width = x[-1] - x[0]
    edge = (x < x[0] + 0.02 * width) | (x > x[-1] - 0.02 * width)
    boundary_mass = float(P[:, :, edge].sum(axis=2).max())
    if boundary_mass > 1e-6:
        import warnings

        from gelav.errors import MassLossWarning

        warnings.warn(f"{boundary_mass:.3g} of a type's mass reached the outer 2% of the liquidity domain "
                      f"[{x[0]:.3g}, {x[-1]:.3g}] (reflecting ends); widen it with Numerics(domain=...).",
                      MassLossWarning, stacklevel=4)
    own_hist = [h for h in ev.history if h.get("start", "") == label]
    r = np.array([pt.discount_rate for pt in pb.model.types])
    y = np.array([pt.yield_rate for pt in pb.model.types])
    T = np.array([pb.model.fund_end(k) for k in range(K)]) - pb.times[0]
    with np.errstate(divide="ignore", invalid="ignore"):
        ann = np.where(r > 0, (1 - np.exp(-r * T)) / np.where(r > 0, r, 1.0), T)
    dcf = (y * ann + np.exp(-r * T)) * pb.model.market.nav
    if nf is not None:
        bnf, fnf = nf.backward, nf.forward
        nf_price = bnf.market
        nf_v0 = bnf.V[0].reshape(K, N)
        nf_cum = np.concatenate((np.zeros((K, 1)), np.cumsum(fnf.exits.T, axis=1)), axis=1)
    else:
        nf_price = np.full_like(bw.market, np.nan)
        nf_v0 = np.full((K, N), np.nan)
        nf_cum = np.full_like(cum, np.nan)
    _, S = pb.pressure(fw.exits @ pb.weights)
    aggregates = {"distressed": Zin[0].copy(), "flow": Zin[1].copy(), "mean": Zin[2].copy(),
                  "holders": Zin[3].copy(), "pressure": S}
    expl = own_hist[-1]["exploitability"] if own_hist else math.nan
    if opts.exploitability and not pb.model.decoupled:
        # exploitability of the equilibrium policy itself (one more evaluation)
        v_br = pb.population_value(bw)
        v_pol = pb.policy_value(fw, bw, Zn, ev.eps, ev.delta)
        bw2 = pb.backward(Zn, ev.eps, ev.delta, guess=bw, newton="global")
        expl = float(pb.weights @ (pb.population_value(bw2) - v_pol))
        del v_br
    elif pb.model.decoupled:
        expl = 0.0
    timings = {**timings, "total": total}
    extra = {
        "converged": True,
        "iterations": len(own_hist),
        "evaluations": ev.n_eval,
        "residual": float(res),
        "exploitability": float(expl),
        "mass_balance_error": mb,
        "duality_error": dual,
        "boundary_mass": boundary_mass,
        "epsilon": ev.eps,
        "temperature": ev.delta,
        "method": opts.method,
        "tol": opts.tol,
        "start": label,
        "notes": notes,
        "n_nodes": N,
        "n_steps": M,
        "newton_iterations_last": bw.newton_iterations,
        "monotone": pb.model.monotone,
    }
    if positivity is not None:
        extra["positivity"] = positivity
    diagnostics = Diagnostics(timings=dict(timings), iterations=len(own_hist),
                              residuals=tuple(float(h["residual"]) for h in own_hist), extra=extra)
    return Equilibrium(
        model=pb.model, grid=pb.grid, times=pb.times.copy(), t_mid=pb.t_mid.copy(),
        type_names=tuple(t.name for t in pb.model.types), weights=pb.weights.copy(),
        price=bw.market.copy(), no_feedback_price=nf_price, base_price=bw.base.copy(), boundary=boundary,
        exit_flow=exits / pb.dt[None, :], cumulative_exits=cum, holders=holders, density=P, value=V,
        exit_rate=kk, value0=V[:, 0].copy(), no_feedback_value0=nf_v0, no_feedback_cumulative_exits=nf_cum,
        dcf=dcf, aggregates=aggregates, path=Zin.copy(), history=list(ev.history), diagnostics=diagnostics,
        timings=timings, time_grid=pb.tg, numerics=pb.numerics, initial_pressure=pb.initial_pressure,
    )
