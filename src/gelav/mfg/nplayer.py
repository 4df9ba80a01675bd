r"""The N-player game behind the mean-field limit.

N LPs (split over the types by weight) each follow the equilibrium exit rule;
the secondary price is computed from the *finite* empirical measure. Each LP
moves by the same discrete Markov chain as the mean-field solver — the step
transition matrix

.. math::

    T_n = L_n^{-1} R_n, \qquad P(\text{node } i \to j) = (T_n)_{ij}, \qquad
    P(\text{exit from } i) = 1 - (T_n\mathbf 1)_i = \Delta t\,(L_n^{-1} k_n)_i ,

so the empirical measure converges to the mean-field solution exactly as
:math:`N \to \infty` (law of large numbers, no discretisation mismatch) and
the gap is pure finite-population noise. Populations are simulated as node
counts (one multinomial draw per node and step), so :math:`N = 10^5` costs the
same as :math:`N = 10`.

Reported per N: the RMS gap between the N-player price path and the MFG path,
and the ε-Nash gain of one deviating LP — the population-average gain, at the
start, of the best response to the realised price path over following the
equilibrium rule in it (a clairvoyant deviation, an upper bound on what a
non-anticipating deviator can gain; the deviator's own O(1/N) price impact is
ignored). Fitted rates :math:`\log(\text{gap}) \sim a \log N`: theory
:math:`a = -1/2` for the price gap.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from gelav._random import SeedLike, as_seed_sequence
from gelav._validation import MAX_CELLS, check_int

__all__ = ["NPlayerResult", "n_player"]

Array = NDArray[np.float64]


@dataclass(frozen=True, eq=False)
class NPlayerResult:
    r"""N-player vs mean-field comparison.

    Attributes
    ----------
    n_players : ndarray (J,)
    price_gap, price_gap_se : ndarray (J,)
        RMS over time and replications of :math:`\\pi^N(t) - \\pi(t)` [NAV] and its standard error.
    gain, gain_se : ndarray (J,)
        Mean ε-Nash gain of one deviating LP [NAV] and its standard error (NaN when not computed).
    rate_price, rate_gain : float
        Fitted exponents of :math:`N` (expect about −1/2 for the price gap).
    replications, gain_replications : int
    price_bias, price_bias_se : ndarray (J,)
        Mean over time and replications of :math:`\pi^N - \pi` (zero in expectation for the linear
        price: the empirical aggregates are unbiased) and its standard error.
    diagnostics : dict
    """

    n_players: Array
    price_gap: Array
    price_gap_se: Array
    gain: Array
    gain_se: Array
    rate_price: float
    rate_gain: float
    replications: int
    gain_replications: int
    price_bias: Array
    price_bias_se: Array
    diagnostics: dict[str, Any] = field(default_factory=dict)

    def plot(self, *, ax: Any = None) -> Any:
        """Log-log plot of the price gap and the deviation gain against N with the N^{-1/2} guide."""
        from gelav.plot import new_axes

        fig, ax = new_axes(ax)
        n = self.n_players
        ax.errorbar(n, self.price_gap, yerr=2 * self.price_gap_se, fmt="o-",
                    label=f"price gap (rate {self.rate_price:.2f})")
        if np.all(np.isfinite(self.gain)):
            ax.errorbar(n, np.maximum(self.gain, 1e-300), yerr=2 * self.gain_se, fmt="s-",
                        label=f"ε-Nash gain (rate {self.rate_gain:.2f})")
        ax.plot(n, self.price_gap[0] * np.sqrt(n[0] / n), "k:", label=r"$N^{-1/2}$")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("number of LPs N")
        ax.set_ylabel("gap to the mean-field game [NAV]")
        ax.set_title("N-player game vs mean-field limit")
        ax.legend()
        return fig

    def table(self) -> list[dict[str, float]]:
        return [{"N": int(n), "price_gap": float(g), "price_gap_se": float(s), "gain": float(a), "gain_se": float(b)}
                for n, g, s, a, b in zip(self.n_players, self.price_gap, self.price_gap_se, self.gain, self.gain_se, strict=True)]


def _transitions(pb: Any, bw: Any) -> Array:
    """Dense step transition matrices with an exit column: (M, K, N, N+1)."""
    K, M, N = pb.K, pb.M, pb.N
    Qs, Qd, Qp = bw.Q
    out = np.empty((M, K, N, N + 1))
    eye = np.eye(N)
    for n in range(M):
        h, th = float(pb.dt[n]), float(pb.theta[n])
        b = (1.0 - th) * h
        for k in range(K):
            sl = slice(k * N, (k + 1) * N)
            R = eye * (1.0 + b * Qd[n, sl])
            R[np.arange(1, N), np.arange(N - 1)] = b * Qs[n, sl][1:]
            R[np.arange(N - 1), np.arange(1, N)] = b * Qp[n, sl][:-1]
            # L^{-1} R for the block: solve with the stored factorisation of the stacked system
            rhs = np.zeros((K * N, N))
            rhs[sl] = R
            X = bw.lu[n].solve(rhs)
            T = X[sl]
            if T.min() < -1e-12:
                raise ValueError(
                    f"The step transition matrix has negative entries ({T.min():.2e}) at step {n}: the "
                    "Crank–Nicolson step is not a Markov chain on this grid; use Numerics(scheme='euler') "
                    "or more time steps for the N-player game.")
            T = np.maximum(T, 0.0)
            out[n, k, :, :N] = T
            out[n, k, :, N] = np.maximum(1.0 - T.sum(axis=1), 0.0)
    out /= out.sum(axis=3, keepdims=True)
    return out


def n_player(eq: Any, n_players: tuple[int, ...] | list[int] = (10, 100, 1000, 10_000, 100_000), *,
             replications: int = 200, gain_replications: int = 16, seed: SeedLike = 0) -> NPlayerResult:
    r"""Simulate the N-player game with the equilibrium exit rule and compare with the mean-field game.

    Parameters
    ----------
    eq : Equilibrium
        A converged equilibrium without herding or fire-sale feedback
        (:math:`\lambda = \eta = 0`: the dynamics do not depend on the population),
        whose steps are Markov transitions (``scheme="euler"``, or Crank–Nicolson
        with :math:`\Delta t\,|q_{ii}| \le 2`).
    n_players : sequence of int
        At least two distinct population sizes (each ≥ the number of types); repeats
        are refused, since the rates are fitted through distinct N.
    replications : int
        Independent populations per N for the price gap.
    gain_replications : int
        Populations per N for the deviation gain (two backward solves each), >= 0: the first
        ones of the price-gap sample, so at most ``replications`` are used (the result's
        ``gain_replications`` is the number used); 0 skips it.
    seed : int, SeedSequence, Generator or None

    Returns
    -------
    NPlayerResult

    Raises
    ------
    ValueError
        Herding/feedback present, too few players or sizes, repeated sizes, or a step
        that is not a Markov chain.

    Examples
    --------
    >>> from gelav.mfg import MFGModel, LPType, Market, Numerics, solve, n_player
    >>> eq = solve(MFGModel((LPType(initial=("normal", -1.5, 0.3)),), Market()),
    ...            numerics=Numerics(n_cells=40, n_steps=40, scheme="euler"))
    >>> res = n_player(eq, (100, 10_000), replications=50, gain_replications=0)
    >>> -0.65 < res.rate_price < -0.35
    True
    """
    from gelav.mfg.engine import Problem

    t_start = time.perf_counter()
    model = eq.model
    if any(t.herding or t.feedback for t in model.types):
        raise ValueError("n_player needs herding = feedback = 0 (population-independent dynamics).")
    ns = np.array(sorted(int(n) for n in n_players))
    K = len(model.types)
    if ns.size < 2 or ns[0] < K:
        raise ValueError(f"`n_players` needs at least two sizes, each >= the number of types ({K}); got {list(n_players)}.")
    if np.unique(ns).size < ns.size:  # a rate fitted through repeated N was printed (-0.916 for N = 10, 10)
        raise ValueError(f"`n_players` must list distinct population sizes (the rate in N is fitted through "
                         f"them); got {list(n_players)} with repeats.")
    replications = check_int("replications", replications, minimum=2, maximum=MAX_CELLS)
    # a negative count skipped the gain silently; one above `replications` used only `replications`
    # populations while the result reported the larger count (now it reports the count used)
    gain_replications = min(check_int("gain_replications", gain_replications, minimum=0), replications)
    pb = Problem(model, eq.numerics, start=float(eq.times[0]), grid=eq.grid, time_grid=eq.time_grid,
                 initial_pressure=eq.initial_pressure)
    eps, delta = eq.diagnostics["epsilon"], eq.diagnostics["temperature"]
    bw = pb.backward(eq.path, eps, delta)
    T = _transitions(pb, bw)
    M, N = pb.M, pb.N
    w = pb.weights
    ss = as_seed_sequence(seed)
    children = ss.spawn(ns.size)
    gaps, gap_se, gains, gain_se, bias, bias_se = [], [], [], [], [], []
    price_mfg = bw.market
    for j, n_tot in enumerate(ns):
        rng = np.random.Generator(np.random.PCG64(children[j]))
        nk = np.maximum(1, np.round(w * n_tot).astype(int))
        sq = np.empty(replications)
        mean_d = np.empty(replications)
        paths = []
        for r in range(replications):
            P = np.empty((M + 1, K, N))
            exits = np.empty((M, K))
            for k in range(K):
                p0 = pb.p0[k] / pb.p0[k].sum()
                P[0, k] = rng.multinomial(nk[k], p0)
            counts = P[0].astype(np.int64)
            for n in range(M):
                for k in range(K):
                    moved = rng.multinomial(counts[k], T[n, k])  # (N, N+1)
                    new = moved[:, :N].sum(axis=0)
                    exits[n, k] = moved[:, N].sum()
                    counts[k] = new
                    P[n + 1, k] = new
                for k in range(K):
                    if pb.end_idx[k] == n + 1:
                        counts[k] = 0
            frac = P / nk[None, :, None]
            Z = pb.aggregates(frac, exits / nk[None, :])
            _, market, _ = pb.coupling.prices(pb.ctx, pb.stats_dict(Z))
            d = (market - price_mfg)[pb.alive]
            sq[r] = float(np.mean(d * d))
            mean_d[r] = float(np.mean(d))
            if r < gain_replications:
                paths.append(Z)
        bias.append(float(mean_d.mean()))
        bias_se.append(float(mean_d.std(ddof=1) / math.sqrt(replications)))
        ms = sq.mean()
        gaps.append(math.sqrt(ms))
        gap_se.append(sq.std(ddof=1) / math.sqrt(replications) / (2 * math.sqrt(ms)) if ms > 0 else 0.0)
        if gain_replications > 0:
            g = []
            for Z in paths:
                env = pb.environment(Z)
                v_br = pb.population_value(pb.backward(None, eps, delta, env=env))
                v_eq = pb.population_value(pb.backward(None, eps, delta, env=env, policy=bw.k))
                g.append(float(w @ (v_br - v_eq)))
            gains.append(float(np.mean(g)))
            gain_se.append(float(np.std(g, ddof=1) / math.sqrt(len(g))) if len(g) > 1 else math.nan)
        else:
            gains.append(math.nan)
            gain_se.append(math.nan)
    gaps_a = np.array(gaps)
    rate_p = float(np.polyfit(np.log(ns), np.log(gaps_a), 1)[0])
    gains_a = np.array(gains)
    rate_g = float(np.polyfit(np.log(ns), np.log(np.abs(gains_a)), 1)[0]) if np.all(np.isfinite(gains_a)) and np.all(gains_a != 0) else math.nan
    return NPlayerResult(ns.astype(float), gaps_a, np.array(gap_se), gains_a, np.array(gain_se), rate_p, rate_g,
                         replications, gain_replications, np.array(bias), np.array(bias_se),
                         {"seconds": time.perf_counter() - t_start, "n_nodes": N, "n_steps": M, "seed": ss.entropy})
