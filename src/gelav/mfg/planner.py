r"""The planner's problem (mean-field control of exits) and its adjoint.

The planner chooses the exit policy of every LP to maximise the LPs' total
welfare

.. math::

    W = \sum_k w_k \int V_k^{\text{policy}}(t_0, L)\,\mu_{0,k}(dL),

the population's expected discounted payoff (running reward, sale proceeds at
the market price, NAV at the fund end) under the policy, with the prices set
by the aggregates the policy itself produces. A tax rebated lump-sum is a
transfer and leaves :math:`W` unchanged.

Optimality system (derived in ``docs/welfare.md``). Let :math:`\zeta_{j,n} =
dW/dZ_{j,n}` be the total effect on welfare of the aggregate path (distressed
mass, selling pressure, holders' mean, holders) at step :math:`n` with the
policy frozen: the price channel :math:`\sum_k S_{k,n}\,\partial\pi_k/\partial Z`
(:math:`S` the discounted sales), the buyers' capital (the premium at later
steps depends on earlier flows) and, with herding or fire-sale feedback, the
dynamics channel (the aggregates move the drift of every holder, which moves
welfare and again the aggregates: :math:`\zeta = \zeta_0 + \zeta A_Z`, solved
with the adjoint sweep). The planner's effective sale reward is the
individual's price plus the externality of one more exit,

.. math::

    \tilde\pi_k(t, L) = \pi_k(t, L) + e_F(t) - X_k(t, L) = \pi_k - \tau^*_k, \qquad
    e_F(t_m) = \frac{1}{D_{k,m}} \sum_n \zeta_{F,n}\,\frac{\partial F_n}{\partial E_m},

where :math:`X_k` is the value to everybody else of one more holder at
:math:`(t, L)`, the adjoint of the aggregate functional :math:`\zeta\cdot Z`
propagated backward **without exits** (an exit pays :math:`X` and leaves, so
the killing cancels). The planner's policy is the relaxed best response to
:math:`\tilde\pi`; iterating "game with the tax :math:`\tau^*` → population →
:math:`\zeta` → :math:`\tau^*`" to a fixed point solves the system with the
equilibrium engine. At the fixed point the game with :math:`\tau^*` *is* the
planner's solution.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from gelav.errors import ConvergenceError
from gelav.fd import linalg
from gelav.mfg.buyers import MarketHooks, premium_jacobian
from gelav.mfg.engine import Backward, Forward, Problem
from gelav.mfg.model import MFGModel, Numerics, SolverOptions
from gelav.mfg.tax import PigouvianTax

__all__ = ["PlannerSolution", "Social", "decentralise", "pressure_matrix", "social_state", "solve_planner"]

Array = NDArray[np.float64]


def pressure_matrix(problem: Problem) -> Array:
    r""":math:`G_{nm} = \partial F_n/\partial E_m` (M, M): the selling pressure's response to exit mass (lower triangular)."""
    M = problem.M
    dt = problem.dt
    tau = problem.model.market.absorption_time
    if tau == 0:
        return np.diag(1.0 / dt)
    G = np.zeros((M, M))
    a = np.exp(-dt / tau)
    frac = tau * (1.0 - a) / dt
    s = np.zeros(M)  # ∂S_n/∂E_m for all m, stepped in n
    for n in range(M):
        rate = np.zeros(M)
        rate[n] = 1.0 / dt[n]
        G[n] = rate + (s - rate) * frac[n]
        s = a[n] * s + rate * (1.0 - a[n])
    return G


@dataclass(eq=False)
class Social:
    """The adjoint quantities at one allocation (all in time-0 welfare units)."""

    zeta: Array  # (4, M) dW/dZ
    flow_reward: Array  # (M,) g = G^T zeta_F: welfare effect of a unit of aggregate exit mass at step m
    holder_value: Array  # (M+1, KN) y: value to the others of a holder (no exits), per unit of type mass x w_k
    tax: Array  # (K, M, N) tau* as a share of the NAV (current value)
    welfare: float  # LP welfare (untaxed values of the policy; tax rebated)
    per_type: Array  # (K,) per-type population values (untaxed)
    adjoint_iterations: int


def _bands(problem: Problem, alpha: Array) -> tuple[Array, Array, Array]:
    """Generator bands (K, M, N) for the drift intercepts ``alpha`` (K, M), as the engine builds them."""
    from gelav.fd.generator import fitted_bands

    g = problem.grid
    xm = 0.5 * (g.nodes[1:] + g.nodes[:-1])
    slope = (problem.kappa + problem.lam)[:, None, None]
    c = alpha[:, :, None] - slope * xm[None, None, :]
    Dd = np.broadcast_to((0.5 * problem.sig ** 2)[:, None, None], c.shape)
    al = problem.alive[:, :, None]
    sub, diag, sup = fitted_bands(Dd, c, g)
    return sub * al, diag * al, sup * al


def _apply_bands(bands: tuple[Array, Array, Array], u: Array) -> Array:
    """:math:`(Q u)_i = \\text{sub}_i u_{i-1} + \\text{diag}_i u_i + \\text{sup}_i u_{i+1}` over (K, M, N)."""
    sub, dg, sup = bands
    out = dg * u
    out[..., 1:] += sub[..., 1:] * u[..., :-1]
    out[..., :-1] += sup[..., :-1] * u[..., 1:]
    return out


class _Adjoint:
    """Builds :math:`\\zeta` and :math:`\\tau^*` for the untaxed problem at an allocation."""

    def __init__(self, problem: Problem) -> None:
        self.pb = problem
        self.G = pressure_matrix(problem)
        c = problem.coupling
        self.inner = c.inner if isinstance(c, MarketHooks) else c
        self.buyers = c.buyers if isinstance(c, MarketHooks) else None
        if isinstance(c, MarketHooks) and c.tax is not None:
            raise ValueError("The planner's problem is posed without a tax: pass the model with `tax`=None.")

    # -- price derivatives -------------------------------------------------
    def price_derivatives(self, Z: Array) -> tuple[list[Array], list[Array], Array]:
        """Step-local :math:`\\partial\\pi/\\partial Z_j` (K, M, N), :math:`\\partial(\\text{market} - \\text{base})/\\partial Z_j`
        (K, M) for the four aggregates, and the buyers' :math:`\\partial\\lambda^*_n/\\partial F_m` (M, M)."""
        pb = self.pb
        dP, dM = [], []
        for j in range(Z.shape[0]):
            h = 1e-6 * (1.0 + float(np.abs(Z[j]).max()))
            Zp, Zm = Z.copy(), Z.copy()
            Zp[j] += h
            Zm[j] -= h
            pp, mp, bp = self.inner.prices(pb.ctx, pb.stats_dict(Zp))
            pm, mm, bm = self.inner.prices(pb.ctx, pb.stats_dict(Zm))
            dP.append((pp - pm) / (2 * h))
            dM.append(((mp - bp) - (mm - bm)) / (2 * h))
        lamJ = premium_jacobian(self.buyers, Z[1], pb.dt, pb.model.market.nav)
        return dP, dM, lamJ

    # -- the linear sweeps ---------------------------------------------------
    def sweep(self, bw: Backward, level: Array, exit_reward: Array | None, kill: bool) -> Array:
        r"""Backward sweep of a population functional (no discounting; the sources carry it).

        ``level`` (M+1, KN): sources on the holder masses of every level; ``exit_reward`` (M, KN):
        source per unit of exit mass at each step; ``kill``: with the policy's exits (else none).
        Returns the value-to-go *before* each level's own source, ``y`` (M+1, KN)
        (:math:`L_n y_n = R_n(y_{n+1} + c_{n+1}) + \Delta t_n k_n g_n`), and resets each type at its
        fund end (the stake is paid out).
        """
        pb = self.pb
        K, M, N = pb.K, pb.M, pb.N
        o = bw.ops
        y = np.zeros((M + 1, K * N))
        Y = level[M].copy()
        for n in range(M - 1, -1, -1):
            for k in range(K):
                if pb.end_idx[k] == n + 1:
                    Y[k * N:(k + 1) * N] = level[n + 1, k * N:(k + 1) * N]
                    y[n + 1, k * N:(k + 1) * N] = 0.0
            b = o.rfd[n] * Y
            b[1:] += o.rfl[n] * Y[:-1]
            b[:-1] += o.rfu[n] * Y[1:]
            d = o.ad[n]
            if kill and bw.exiting[n]:
                d = d + pb.dt[n] * bw.k[n]
                if exit_reward is not None:
                    b += pb.dt[n] * bw.k[n] * exit_reward[n]
            yn = linalg.solve(o.al[n], d, o.au[n], b)
            y[n] = yn
            Y = yn + level[n]
        return y

    def level_sources(self, zeta: Array, P: Array, Z: Array) -> Array:
        """Sources (M+1, KN) on the holder masses of the levels of the functional :math:`\\zeta\\cdot Z`."""
        pb = self.pb
        K, M, N = pb.K, pb.M, pb.N
        H = Z[3]
        m = Z[2]
        safe = np.where(H > 1e-300, H, 1.0)
        # a_n(i): the per-holder weight of step n's aggregates (the mean linearised: δm = (δS - m δH)/H)
        a = (zeta[0][:, None] * pb.dist_w[None, :] + zeta[3][:, None]
             + np.where(H > 1e-300, zeta[2] / safe, 0.0)[:, None] * (pb.x[None, :] - m[:, None]))  # (M, N)
        c = np.zeros((M + 1, K, N))
        for k in range(K):
            e = int(pb.end_idx[k])
            c[:e, k] += 0.5 * a[:e]  # level n as the start of step n (before the payout)
            c[1:e + 1, k] += 0.5 * a[:e]  # level n + 1 as the end of step n
            c[:, k] *= pb.weights[k]
        return c.reshape(M + 1, K * N)

    def alpha_gradient(self, bw: Backward, fw: Forward, V: Array, Vnext_weight: Array, dQ: tuple[Array, Array, Array]
                       ) -> Array:
        r""":math:`\sum_n \Delta t_n q_n^\top \partial Q_n/\partial\alpha_{k,n}\,(\theta_n V_n + (1-\theta_n) c_n V_{n+1})` per (K, M)."""
        pb = self.pb
        K, M, N = pb.K, pb.M, pb.N
        th = pb.theta[None, :, None]
        Vn = V[:-1].reshape(M, K, N).transpose(1, 0, 2)  # rows: levels n and n + 1 of the sweep
        Vn1 = V[1:].reshape(M, K, N).transpose(1, 0, 2)
        u = th * Vn + (1.0 - th) * Vnext_weight[:, :, None] * Vn1
        Qu = _apply_bands(dQ, u)
        q = fw.q.reshape(M, K, N).transpose(1, 0, 2)
        return pb.dt[None, :] * np.einsum("kmn,kmn->km", q, Qu)

    def state(self, Z: Array, bw: Backward, fw: Forward, eps: float, delta: float,
              tol: float = 1e-12, max_iter: int = 500) -> Social:
        """:math:`\\zeta`, the holders' externality value and :math:`\\tau^*` at the allocation (``bw``, ``fw``) with path ``Z``."""
        pb = self.pb
        K, M, N = pb.K, pb.M, pb.N
        w = pb.weights
        nav = pb.model.market.nav
        # values of the policy at the untaxed prices (welfare; tax rebated lump-sum)
        bw0 = pb.backward(Z, eps, delta, policy=bw.k)
        per_type = pb.population_value(bw0)
        W = float(w @ per_type)
        dP, dM, lamJ = self.price_derivatives(Z)
        Dd = pb.D[:, :-1]  # (K, M) discount at the step starts
        exm = (fw.q * bw.k).reshape(M, K, N).transpose(1, 0, 2) * pb.dt[None, :, None]  # exit masses (K, M, N)
        S = w[:, None] * Dd * exm.sum(axis=2)  # discounted sales (K, M)
        zeta0 = np.zeros((4, M))
        for j in range(4):
            zeta0[j] = np.einsum("k,km,kmn,kmn->m", w, Dd, exm, dP[j])
        zeta0[1] -= nav * (S.sum(axis=0) @ lamJ)
        iterations = 0
        zeta = zeta0
        if not pb.static_Q:
            _, market, base = pb.coupling.prices(pb.ctx, pb.stats_dict(Z))
            alpha = pb.alpha0 + pb.lam[:, None] * Z[2][None, :] + pb.eta[:, None] * (market - base)
            h = 1e-6 * (1.0 + float(np.abs(alpha).max()))
            bp, bm = _bands(pb, alpha + h), _bands(pb, alpha - h)
            dQ = tuple((p - m_) / (2 * h) for p, m_ in zip(bp, bm, strict=True))
            rho = pb.rho

            def through_alpha(galpha: Array) -> Array:
                out = np.zeros((4, M))
                out[2] = np.einsum("km,k->m", galpha, pb.lam)
                for j in range(4):
                    out[j] += np.einsum("km,k,km->m", galpha, pb.eta, dM[j])
                out[1] -= nav * (np.einsum("km,k->m", galpha, pb.eta) @ lamJ)
                return out

            gW: Array = self.alpha_gradient(bw0, fw, bw0.V, rho, dQ) * (w[:, None] * Dd)  # type: ignore[arg-type,assignment]
            zeta0 = zeta0 + through_alpha(gW)
            zeta = zeta0.copy()
            change = math.inf
            for it in range(1, max_iter + 1):
                iterations = it
                # ζ = ζ0 + ζ A_Z: the aggregates' response to the drift, through the adjoint of ζ·Z
                lev = self.level_sources(zeta, fw.P, Z)
                g = self.G.T @ zeta[1]
                er = np.repeat(g[:, None], K * N, axis=1) * np.repeat(w, N)[None, :]
                y = self.sweep(bw, lev, er, kill=True)
                gA = self._alpha_gradient_split(fw, y[:-1], y[1:] + lev[1:], dQ)  # type: ignore[arg-type]
                new = zeta0 + through_alpha(gA)
                change = float(np.abs(new - zeta).max())
                zeta = new
                if change <= tol * (1.0 + float(np.abs(zeta).max())):
                    break
            else:
                raise ConvergenceError(f"The planner's adjoint equation did not converge in {max_iter} iterations "
                                       f"(last change {change:.3g}): the aggregate feedback is too strong.",
                                       history=[{"change": change}])
        g = self.G.T @ zeta[1]  # welfare effect of one unit of aggregate exit mass at each step
        lev = self.level_sources(zeta, fw.P, Z)
        y = self.sweep(bw, lev, None, kill=False)
        yk = y[:-1].reshape(M, K, N).transpose(1, 0, 2)  # (K, M, N)
        tax = (yk / w[:, None, None] - g[None, :, None]) / (Dd[:, :, None] * pb.nav)  # [NAV]: a share of the NAV
        tax *= pb.alive[:, :, None]
        return Social(zeta, g, y, tax, W, per_type, iterations)

    def _alpha_gradient_split(self, fw: Forward, yn: Array, Yn1: Array, dQ: tuple[Array, Array, Array]) -> Array:
        pb = self.pb
        K, M, N = pb.K, pb.M, pb.N
        th = pb.theta[None, :, None]
        u = th * yn.reshape(M, K, N).transpose(1, 0, 2) + (1.0 - th) * Yn1.reshape(M, K, N).transpose(1, 0, 2)
        Qu = _apply_bands(dQ, u)
        q = fw.q.reshape(M, K, N).transpose(1, 0, 2)
        return pb.dt[None, :] * np.einsum("kmn,kmn->km", q, Qu)


def social_state(eq: Any) -> Social:
    """The planner's adjoint quantities (:math:`\\zeta`, :math:`\\tau^*`, welfare) at the allocation of the equilibrium ``eq``.

    ``eq`` is an :class:`~gelav.mfg.Equilibrium` (of the model with or without a tax); the
    externalities are evaluated for the untaxed market.
    """
    untaxed = replace(eq.model, market=replace(eq.model.market, tax=None))
    pb = Problem(untaxed, eq.numerics, start=float(eq.times[0]), grid=eq.grid, time_grid=eq.time_grid,
                 initial_pressure=eq.initial_pressure)
    pt = Problem(eq.model, eq.numerics, start=float(eq.times[0]), grid=eq.grid, time_grid=eq.time_grid,
                 initial_pressure=eq.initial_pressure) if eq.model.market.tax is not None else pb
    eps, delta = eq.numerics.epsilon, eq.numerics.delta
    bw = pt.backward(eq.path, eps, delta)
    fw = pt.forward(bw)
    return _Adjoint(pb).state(eq.path, bw, fw, eps, delta)


@dataclass(frozen=True, eq=False)
class PlannerSolution:
    r"""The planner's optimum: its policy is the best response of the game taxed with :math:`\tau^*`.

    Attributes
    ----------
    model : MFGModel
        The (untaxed) model.
    tax : PigouvianTax
        :math:`\tau^*_k(t, L)` [NAV]: the charge on a sale that decentralises the optimum.
    allocation : Equilibrium
        The game with ``Market(tax=τ*)`` at the fixed point: the planner's policy
        (``exit_rate``, ``boundary``), exits, population and prices.
    welfare : float
        LP welfare :math:`W` of the optimum [NAV per unit of LP population].
    equilibrium, equilibrium_welfare :
        The untaxed game's equilibrium (the first iterate) and its welfare.
    per_type_welfare : ndarray (K,)
        :math:`\int V_k\,d\mu_{0,k}` under the planner's policy (untaxed prices).
    zeta : ndarray (4, M)
        :math:`dW/dZ`: the marginal welfare of the aggregates (distressed, flow, mean, holders).
    history : list of dict
        One record per outer iteration: ``iteration``, ``tax_change``, ``welfare``, ``seconds``.
    diagnostics : dict
        ``converged``, ``iterations``, ``tax_change``, ``mass_balance_error``, ``duality_error``,
        ``adjoint_iterations``, ``epsilon``.
    """

    model: MFGModel
    tax: PigouvianTax
    allocation: Any
    welfare: float
    equilibrium: Any
    equilibrium_welfare: float
    per_type_welfare: Array
    zeta: Array
    history: list[dict[str, Any]] = field(default_factory=list)
    diagnostics: dict[str, Any] = field(default_factory=dict)

    @property
    def converged(self) -> bool:
        return bool(self.diagnostics.get("converged", False))

    @property
    def exit_rate(self) -> Array:
        """The planner's exit intensity (K, M, N) [1/year]."""
        return self.allocation.exit_rate  # type: ignore[no-any-return]

    @property
    def cumulative_exits(self) -> Array:
        return self.allocation.cumulative_exits  # type: ignore[no-any-return]

    @property
    def price(self) -> Array:
        """Market price path under the planner's policy (K, M) [NAV]."""
        return self.allocation.price  # type: ignore[no-any-return]

    def plot(self, ax: Any = None) -> Any:
        """:math:`\\tau^*(t_0, L)` (see :meth:`PigouvianTax.plot`)."""
        return self.tax.plot(ax)


def _tax_table(problem: Problem, values: Array, social: Social | None) -> PigouvianTax:
    K, M = problem.K, problem.M
    flow: Array = np.zeros((K, M)) if social is None else np.asarray(
        -social.flow_reward[None, :] / (problem.D[:, :-1] * problem.nav), dtype=float)
    holder: Array = np.asarray(values - flow[:, :, None], dtype=float)
    return PigouvianTax(times=problem.t_mid.copy(), nodes=problem.x.copy(), values=values.copy(),
                        flow_part=flow, holder_part=holder)


def decentralise(update: Callable[[Array, int], tuple[Array, dict[str, Any]]], tau0: Array, *, tol: float,
                 max_iter: int, damping: float = 1.0, memory: int = 5,
                 callback: Callable[[dict[str, Any]], None] | None = None, label: str = "decentralise"
                 ) -> tuple[Array, list[dict[str, Any]]]:
    r"""Fixed point :math:`\tau = T(\tau)` of "the game with the tax τ → the externality at its allocation".

    ``update(tau, iteration)`` returns :math:`T(\tau)` and extra record fields. Anderson
    acceleration (``memory``) of the damped map; the damping halves whenever the update
    grows. Stops when :math:`\|T(\tau) - \tau\|_\infty \le` ``tol`` and returns the
    last *input* :math:`\tau` (whose allocation the caller holds) and the history;
    :class:`~gelav.errors.ConvergenceError` with the history otherwise.
    """
    tau = np.asarray(tau0, dtype=float).copy()
    history: list[dict[str, Any]] = []
    xs: list[Array] = []
    fs: list[Array] = []
    a = damping
    prev = math.inf
    for it in range(1, max_iter + 1):
        new, extra = update(tau, it)
        change = float(np.abs(new - tau).max())
        rec = {"iteration": it, "tax_change": change, "damping": a, **extra}
        history.append(rec)
        if callback is not None:
            callback(rec)
        if not math.isfinite(change):
            raise ConvergenceError(f"{label}: non-finite tax update.", history=history)
        if change <= tol:
            return tau, history
        if change > prev:
            a = max(0.5 * a, 0.05)
        prev = change
        f = (new - tau).ravel()
        xs.append(tau.ravel().copy())
        fs.append(f)
        if len(fs) > memory + 1:
            xs.pop(0)
            fs.pop(0)
        if len(fs) >= 2:
            dF = np.stack([fs[i + 1] - fs[i] for i in range(len(fs) - 1)], axis=1)
            dX = np.stack([xs[i + 1] - xs[i] for i in range(len(xs) - 1)], axis=1)
            gam = np.linalg.lstsq(dF, f, rcond=None)[0]
            tau = (tau.ravel() + a * f - (dX + a * dF) @ gam).reshape(tau.shape)
        else:
            tau = tau + a * (new - tau)
    raise ConvergenceError(f"{label}: the tax did not converge in {max_iter} iterations "
                           f"(last change {history[-1]['tax_change']:.3g}).", history=history)


def solve_planner(model: MFGModel, *, numerics: Numerics | None = None, options: SolverOptions | None = None,
                  tol: float = 1e-6, max_iter: int = 60, damping: float = 1.0, start: float = 0.0,
                  grid: Any = None, time_grid: Any = None, initial_pressure: float = 0.0,
                  callback: Callable[[dict[str, Any]], None] | None = None,
                  starts: Sequence[Any] = (0.0,)) -> PlannerSolution:
    r"""The exit policy maximising the LPs' total welfare (mean-field control), and :math:`\tau^*`.

    Iterates: solve the game with the current tax :math:`\tau` (warm-started); at its
    allocation compute the externalities (:math:`\zeta`, the holders' value :math:`X`, the
    flow effect :math:`e_F`) and :math:`\tau_{\text{new}} = X - e_F`; stop when
    :math:`\|\tau_{\text{new}} - \tau\|_\infty <` ``tol`` [NAV]. See the module docstring and
    ``docs/welfare.md`` for the optimality system.

    Parameters
    ----------
    model : MFGModel
        Without a tax (``market.tax`` None); any price coupling, buyers, herding, feedback.
    numerics, options, start, grid, time_grid, initial_pressure :
        As for :func:`gelav.mfg.solve` (every game on the same grid).
    tol : float
        Tolerance on the tax update [NAV]. Default 1e-6.
    max_iter : int
        Outer iterations before :class:`~gelav.errors.ConvergenceError` (with the history). Default 60.
    damping : float
        Weight of the new tax in the (Anderson-accelerated, memory 5) update, in (0, 1]; halved
        automatically when the update grows.
    callback : callable, optional
        Called with each history record.
    starts : sequence of float or ndarray, optional
        Initial taxes of the decentralising iteration [NAV]: a constant (a negative one is a
        subsidy) or an array (K, M, N) on the problem's mid-step times and nodes. The
        iteration converges to a stationary point of :math:`W`; with several starts every one
        is run and the stationary point of the highest welfare is returned (all of them are
        listed in ``diagnostics["stationary_points"]``; a start whose taxed games find no
        equilibrium is listed with ``"failed"`` and its reason). Default ``(0.0,)``: start at
        the equilibrium.

    Returns
    -------
    PlannerSolution
        Its welfare is never below the equilibrium's: if no stationary point found beats the
        untaxed equilibrium, :class:`~gelav.errors.ConvergenceError` says so.
    """
    from gelav._validation import check_int, check_positive
    from gelav.mfg.solver import solve

    if not isinstance(model, MFGModel):
        raise TypeError(f"`model` must be an MFGModel, got {type(model).__name__}.")
    if model.market.tax is not None:
        raise ValueError("`model` must have no tax (`market.tax` None): the planner chooses the policy directly.")
    tol = check_positive("tol", tol)
    max_iter = check_int("max_iter", max_iter, minimum=1)
    damping = check_positive("damping", damping)
    if damping > 1:
        raise ValueError(f"`damping` must lie in (0, 1], got {damping}.")
    numerics = numerics or Numerics()
    pb = Problem(model, numerics, start=start, grid=grid, time_grid=time_grid, initial_pressure=initial_pressure)
    adj = _Adjoint(pb)
    K, M, N = pb.K, pb.M, pb.N
    taus = _starting_taxes(starts, (K, M, N))
    eps, delta = numerics.epsilon, numerics.delta
    base: tuple[Any, float] | None = None
    t0 = time.perf_counter()

    def run(tau0: Array, untaxed_first: bool) -> tuple[Array, list[dict[str, Any]], Any, Social]:
        """One decentralising iteration from ``tau0``; returns its tax, history, allocation and adjoint state."""
        state: dict[str, Any] = {"Z0": None, "social": None, "eq": None}

        def update(tau: Array, it: int) -> tuple[Array, dict[str, Any]]:
            nonlocal base, pb, adj
            tab = _tax_table(pb, tau, state["social"])
            mt = replace(model, market=replace(model.market, tax=None if untaxed_first and it == 1 else tab))
            eq = solve(mt, numerics=numerics, options=options, start=start, grid=pb.grid, time_grid=pb.tg,
                       initial_guess=state["Z0"], initial_pressure=initial_pressure, no_feedback=False)
            if eq.time_grid is not pb.tg:
                # the solve took steps as backward Euler against negative masses (same times): the adjoint
                # and every later game use those steps too, so the set only grows and the map settles
                pb = Problem(model, numerics, start=start, grid=pb.grid, time_grid=eq.time_grid,
                             initial_pressure=initial_pressure)
                adj = _Adjoint(pb)
            pt = Problem(mt, numerics, start=start, grid=pb.grid, time_grid=pb.tg, initial_pressure=initial_pressure)
            bw = pt.backward(eq.path, eps, delta)
            social = adj.state(eq.path, bw, pt.forward(bw), eps, delta)
            state.update(Z0=eq.path, social=social, eq=eq)
            if base is None and untaxed_first and it == 1:
                base = (eq, social.welfare)
            return social.tax, {"welfare": social.welfare, "seconds": time.perf_counter() - t0}

        tau, history = decentralise(update, tau0, tol=tol, max_iter=max_iter, damping=damping,
                                    callback=callback, label="solve_planner")
        return tau, history, state["eq"], state["social"]

    points = []
    failed: list[tuple[Array, ConvergenceError]] = []
    for tau0 in taus:
        untaxed_first = not np.any(tau0)
        try:
            points.append((tau0, *run(tau0, untaxed_first)))
        except ConvergenceError as e:  # a start whose taxed games do not solve is reported, not fatal
            failed.append((tau0, e))
    if not points:
        raise failed[0][1]
    if base is None:  # no start at the equilibrium: solve the untaxed game for the baseline
        eq0 = solve(model, numerics=numerics, options=options, start=start, grid=pb.grid, time_grid=pb.tg,
                    initial_pressure=initial_pressure, no_feedback=False)
        base = (eq0, social_state(eq0).welfare)
    # Points within the solve's tolerance of the best are the same optimum: keep the first start's.
    slack = 10 * tol * (1.0 + abs(base[1]))
    top = max(p[4].welfare for p in points)
    _, tau, history, eq, social = next(p for p in points if p[4].welfare >= top - slack)
    # A stationary point below the equilibrium is not the optimum (the equilibrium itself is feasible).
    if social.welfare < base[1] - slack:
        raise ConvergenceError(
            f"solve_planner: the best stationary point found (welfare {social.welfare:.6g}) is below the "
            f"equilibrium's ({base[1]:.6g}) by {base[1] - social.welfare:.3g}; try other `starts`, or a smaller "
            f"`epsilon` (now {eps:g}): the relaxed exits meet the planner's first-order condition only to O(epsilon), "
            f"which can exceed the gain from a weak externality.", history=history)
    change = history[-1]["tax_change"]
    tab = _tax_table(pb, tau, social)
    d = eq.diagnostics
    stationary = [{"start": float(p[0].flat[0]) if np.ptp(p[0]) == 0 else "array", "welfare": p[4].welfare,
                   "iterations": len(p[2]), "exits": float(np.sum(p[3].cumulative_exits[:, -1] * model.weights))}
                  for p in points]
    stationary += [{"start": float(t.flat[0]) if np.ptp(t) == 0 else "array", "failed": str(e)} for t, e in failed]
    diagnostics = {"converged": True, "iterations": len(history), "tax_change": change,
                   "mass_balance_error": d.get("mass_balance_error"), "duality_error": d.get("duality_error"),
                   "adjoint_iterations": social.adjoint_iterations, "epsilon": eps,
                   "stationary_points": stationary, "seconds": time.perf_counter() - t0}
    return PlannerSolution(model, tab, eq, social.welfare, base[0], base[1], social.per_type, social.zeta, history,
                           diagnostics)


#: largest |initial tax| accepted by :func:`solve_planner` ``starts`` [NAV]
MAX_START_TAX = 1e3


def _starting_taxes(starts: Sequence[Any], shape: tuple[int, int, int]) -> list[Array]:
    """The initial taxes of :func:`solve_planner` as arrays of ``shape`` (finite)."""
    if isinstance(starts, (str, bytes)) or not isinstance(starts, Sequence) or len(starts) == 0:
        raise TypeError("`starts` must be a non-empty sequence of constants or (K, M, N) arrays.")
    out = []
    for i, s in enumerate(starts):
        if isinstance(s, bool):
            raise TypeError(f"`starts[{i}]` must be a number or an array, got a bool.")
        a = np.asarray(s, dtype=float)
        if a.ndim == 0:
            a = np.full(shape, float(a))
        if a.shape != shape:
            raise ValueError(f"`starts[{i}]` must be a constant or an array of shape {shape}, got {a.shape}.")
        if not np.all(np.isfinite(a)):
            raise ValueError(f"`starts[{i}]` must be finite.")
        if np.any(np.abs(a) > MAX_START_TAX):  # a tax is a share of NAV: beyond this it is a typo, not a start
            raise ValueError(f"`starts[{i}]` is out of range: |tax| must be <= {MAX_START_TAX:g} NAV.")
        out.append(a.copy())
    return out
