r"""Trinomial walks and lattices: the forward and backward equations on a tree.

Three objects, one idea (DESIGN.md, "the lattice view"): a diffusion is
approximated by a Markov chain that, in one step :math:`\Delta t`, moves up,
stays or moves down, with probabilities that match the first two conditional
moments of the diffusion.

:class:`TrinomialWalk`
    The walk of seed 003: :math:`y \to y \pm \delta y` with probability
    :math:`\alpha` each, :math:`y \to y` with probability :math:`1 - 2\alpha`.
    Its master equation

    .. math:: P_{n+1}(j) = \alpha P_n(j-1) + (1-2\alpha) P_n(j) + \alpha P_n(j+1)

    is solved exactly (repeated convolution, :meth:`TrinomialWalk.law`); its
    limit is the heat equation :math:`\partial_t P = C^2 \partial_y^2 P` with
    :math:`C^2 = \alpha\,\delta y^2/\delta t`, i.e. :math:`y_t \sim N(0, 2C^2 t)`.
    The lattice variance :math:`2\alpha n\,\delta y^2 = 2C^2 t_n` is exact at
    every step; the kurtosis approaches 3 like :math:`1/n`.

:class:`TrinomialTree`
    The Hull–White mean-reverting trinomial tree for Gaussian processes
    (Ornstein–Uhlenbeck; Brownian motion; geometric Brownian motion in log
    space). Nodes :math:`m(t_i) + j\,\delta x` around the exact mean
    :math:`m(t)`, :math:`\delta x = \sqrt{3V}`, branching switched at
    :math:`\pm j_{\max}` with :math:`j_{\max} = \lceil 0.184 / |M| \rceil`,
    :math:`M = e^{-\kappa\Delta t} - 1 \approx -\kappa\Delta t`; probabilities
    match the exact conditional mean and variance of every step. Forward
    induction gives state probabilities (or Arrow–Debreu prices with
    discounting); backward induction gives values, with optimal stopping as a
    ``max`` with the exercise value at every node. Weak order 1 in
    :math:`\Delta t`.

:class:`GeneratorLattice`
    A lattice for *any* process from its generator :math:`Q` on a gelav
    :class:`~gelav.grid.Grid`: the chain :math:`P = I + \Delta t\,Q` with
    :math:`\Delta t \le 1/\max_i |q_{ii}|` (so :math:`P \ge 0`, a trinomial
    chain on a non-uniform grid), or the embedded exact continuous-time chain
    :math:`P = e^{\Delta t Q}`. Second order in the grid spacing.

Probabilities such as :math:`P(X_T < c)` are read from a lattice law by
*smooth counting* (:func:`lattice_cdf`): the cumulative mass is known exactly
at the faces between nodes (midpoints), and a cubic through the four faces
nearest :math:`c` interpolates it. Counting whole nodes instead makes the
error jump by one node's mass, :math:`O(1/\sqrt N)`, as the nodes move past
:math:`c`; counted smoothly the error falls like :math:`1/N` and
Richardson extrapolation works (:func:`stress_probability`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import sparse, stats

from gelav._random import SeedLike, as_generator
from gelav._validation import check_finite, check_int, check_positive
from gelav.grid import Grid, auto_domain

__all__ = [
    "TREE_KINDS",
    "ConvergenceStudy",
    "GeneratorLattice",
    "KSResult",
    "LatticeLaw",
    "StressEstimate",
    "TreeValue",
    "TrinomialTree",
    "TrinomialWalk",
    "WalkSample",
    "fit_order",
    "lattice_cdf",
    "lattice_convergence",
    "stress_probability",
]


# =============================================================================
# smooth counting
# =============================================================================
def lattice_cdf(nodes: ArrayLike, masses: ArrayLike, x: float | ArrayLike) -> NDArray[np.float64] | float:
    r"""Smooth cumulative mass :math:`P(X \le x)` of a lattice law.

    The cumulative mass is exact at the faces :math:`f_j = (x_j + x_{j+1})/2`
    between nodes, :math:`F(f_j) = \sum_{i \le j} m_i`; at other points it is
    the cubic Lagrange interpolant through the four faces nearest ``x``
    (linear when fewer exist). This is the continuity correction of a lattice
    law: the face values converge to the true CDF at the weak rate of the
    lattice (no :math:`O(\delta x)` saw-tooth), and the interpolation adds only
    :math:`O(\delta x^4)`.

    Parameters
    ----------
    nodes : array_like, shape (n,)
        Strictly increasing node positions (n >= 2).
    masses : array_like, shape (n,)
        Node masses (non-negative).
    x : float or array_like
        Points where the cumulative mass is wanted.

    Returns
    -------
    float or ndarray
        Values clipped to ``[0, masses.sum()]``.

    Examples
    --------
    >>> round(float(lattice_cdf([-1.0, 0.0, 1.0], [0.25, 0.5, 0.25], 0.0)), 6)
    0.5
    """
    xn = np.asarray(nodes, dtype=float)
    m = np.asarray(masses, dtype=float)
    if xn.ndim != 1 or xn.shape != m.shape or xn.size < 2:
        raise ValueError(f"`nodes` and `masses` must be 1-D arrays of the same length >= 2, got {xn.shape} and {m.shape}.")
    faces = 0.5 * (xn[1:] + xn[:-1])
    F = np.cumsum(m)[:-1]
    total = float(m.sum())
    xq = np.atleast_1d(np.asarray(x, dtype=float))
    out = np.empty_like(xq)
    nf = faces.size
    for k, xv in enumerate(xq):
        if xv <= xn[0]:
            out[k] = 0.0
            continue
        if xv >= xn[-1]:
            out[k] = total
            continue
        i = int(np.searchsorted(faces, xv))  # faces[i-1] < xv <= faces[i]
        lo = max(0, min(i - 2, nf - 4))
        hi = min(nf, lo + 4)
        if hi - lo < 2:
            # only one face: between the first/last node and it, linear to 0 / total
            out[k] = float(np.interp(xv, np.r_[xn[0], faces, xn[-1]], np.r_[0.0, F, total]))
            continue
        xs, ys = faces[lo:hi], F[lo:hi]
        val = 0.0
        for a in range(xs.size):
            w = 1.0
            for b in range(xs.size):
                if b != a:
                    w *= (xv - xs[b]) / (xs[a] - xs[b])
            val += w * ys[a]
        out[k] = min(max(val, 0.0), total)
    return float(out[0]) if np.ndim(x) == 0 else out


def fit_order(n: ArrayLike, errors: ArrayLike) -> float:
    r"""Least-squares slope :math:`p` of :math:`\log|e| = c - p \log n` (the convergence order).

    Examples
    --------
    >>> round(fit_order([10, 20, 40], [1e-2, 5e-3, 2.5e-3]), 6)
    1.0
    """
    nn = np.asarray(n, dtype=float)
    ee = np.abs(np.asarray(errors, dtype=float))
    if nn.shape != ee.shape or nn.size < 2:
        raise ValueError("`n` and `errors` must have the same length >= 2.")
    if np.any(nn <= 0) or np.any(ee <= 0):
        raise ValueError("`n` and `errors` must be non-zero.")
    slope = np.polyfit(np.log(nn), np.log(ee), 1)[0]
    return float(-slope)


# =============================================================================
# the trinomial walk of seed 003
# =============================================================================
@dataclass(frozen=True)
class KSResult:
    """A Kolmogorov–Smirnov statistic with its p-value and what it was compared against."""

    statistic: float
    pvalue: float
    against: str
    n: int


@dataclass(frozen=True, eq=False)
class LatticeLaw:
    r"""An exact law on the lattice points ``positions`` at time ``time``.

    Attributes
    ----------
    positions : ndarray
        Lattice points :math:`y_0 + j\,\delta y`.
    probabilities : ndarray
        Their probabilities (sum to 1 to rounding).
    time : float
        :math:`t = n\,\delta t`.
    n_steps : int
    """

    positions: NDArray[np.float64]
    probabilities: NDArray[np.float64]
    time: float
    n_steps: int

    def mean(self) -> float:
        return float(self.probabilities @ self.positions)

    def var(self) -> float:
        mu = self.mean()
        return float(self.probabilities @ (self.positions - mu) ** 2)

    def moment(self, k: int) -> float:
        """Central moment of order ``k``."""
        mu = self.mean()
        return float(self.probabilities @ (self.positions - mu) ** k)

    def kurtosis(self) -> float:
        """Excess kurtosis :math:`\\mu_4/\\mu_2^2 - 3`."""
        v = self.var()
        return self.moment(4) / v**2 - 3.0 if v > 0 else math.nan

    def cdf(self, x: ArrayLike) -> NDArray[np.float64]:
        """Right-continuous step CDF :math:`P(Y \\le x)`."""
        F = np.cumsum(self.probabilities)
        idx = np.searchsorted(self.positions, np.asarray(x, dtype=float), side="right") - 1
        return np.where(idx >= 0, F[np.clip(idx, 0, F.size - 1)], 0.0)

    def smooth_cdf(self, x: ArrayLike) -> NDArray[np.float64] | float:
        """Continuity-corrected CDF (see :func:`lattice_cdf`)."""
        return lattice_cdf(self.positions, self.probabilities, x)


@dataclass(frozen=True, eq=False)
class WalkSample:
    """Simulated trinomial walks.

    Attributes
    ----------
    walk : TrinomialWalk
    times : ndarray, shape (n_steps + 1,)
    final : ndarray, shape (n_paths,)
        Positions after ``n_steps`` steps.
    paths : ndarray or None, shape (n_paths, n_steps + 1)
        Whole paths when kept.
    seed : object
    elapsed : float
        Seconds spent simulating.
    x0 : float
        Starting position.
    """

    walk: TrinomialWalk
    times: NDArray[np.float64]
    final: NDArray[np.float64]
    paths: NDArray[np.float64] | None
    seed: Any
    elapsed: float
    x0: float = 0.0

    @property
    def n_paths(self) -> int:
        return int(self.final.size)

    @property
    def n_steps(self) -> int:
        return int(self.times.size - 1)

    @property
    def horizon(self) -> float:
        return float(self.times[-1])

    def exact_law(self) -> LatticeLaw:
        """The exact lattice law of the final position (the master equation solved exactly)."""
        return self.walk.law(self.n_steps, x0=self.x0)

    def ks_lattice(self) -> KSResult:
        r"""KS distance between the empirical law and the exact lattice law.

        Both CDFs are steps on the same lattice, so the supremum is taken on
        the lattice points. The p-value uses the continuous KS distribution,
        which is conservative for a discrete law (the true level is below the
        nominal one).
        """
        law = self.exact_law()
        emp = np.searchsorted(np.sort(self.final), law.positions, side="right") / self.n_paths
        d = float(np.max(np.abs(emp - np.cumsum(law.probabilities))))
        return KSResult(d, float(stats.kstwo(self.n_paths).sf(d)), "exact lattice law", self.n_paths)

    def ks_gaussian(self) -> KSResult:
        r"""KS distance to the Gaussian limit :math:`N(y_0, 2C^2t)` with continuity correction.

        The empirical CDF at lattice point :math:`y_j` is compared with
        :math:`\Phi` at the face :math:`y_j + \delta y/2`. The p-value is
        approximate: the Gaussian is the limit law, not the exact one (see
        :meth:`lattice_gap` for the exact lattice-to-Gaussian distance).
        """
        law = self.exact_law()
        emp = np.searchsorted(np.sort(self.final), law.positions, side="right") / self.n_paths
        g = self.walk.limit(self.horizon, x0=self.x0)
        d = float(np.max(np.abs(emp - g.cdf(law.positions + 0.5 * self.walk.dy))))
        return KSResult(d, float(stats.kstwo(self.n_paths).sf(d)), "Gaussian limit (continuity-corrected)", self.n_paths)

    def lattice_gap(self) -> float:
        """Exact sup-distance between the lattice law and its Gaussian limit at the faces."""
        law = self.exact_law()
        g = self.walk.limit(self.horizon, x0=self.x0)
        return float(np.max(np.abs(np.cumsum(law.probabilities) - g.cdf(law.positions + 0.5 * self.walk.dy))))

    def moments(self) -> dict[str, dict[str, float]]:
        """Mean, variance, skewness and excess kurtosis: sample (± standard error), exact lattice, Gaussian limit."""
        y = self.final
        n = y.size
        mu = float(y.mean())
        d = y - mu
        v = float(d @ d / (n - 1)) if n > 1 else math.nan
        m3 = float(np.mean(d**3))
        m4 = float(np.mean(d**4))
        vb = float(np.mean(d**2))
        law = self.exact_law()
        lv = law.var()
        limit_var = 2.0 * self.walk.c2 * self.horizon
        return {
            "mean": {"sample": mu, "stderr": math.sqrt(v / n) if n > 1 else math.nan, "lattice": law.mean(), "gaussian": self.x0},
            "variance": {
                "sample": v,
                # stderr of the sample variance: sqrt((mu4 - v^2)/n)
                "stderr": math.sqrt(max(m4 - vb**2, 0.0) / n),
                "lattice": lv,
                "gaussian": limit_var,
            },
            "skewness": {"sample": m3 / vb**1.5 if vb > 0 else math.nan, "stderr": math.sqrt(6.0 / n), "lattice": 0.0, "gaussian": 0.0},
            "excess_kurtosis": {
                "sample": m4 / vb**2 - 3.0 if vb > 0 else math.nan,
                "stderr": math.sqrt(24.0 / n),
                "lattice": law.kurtosis(),
                "gaussian": 0.0,
            },
        }

    def summary(self) -> dict[str, Any]:
        ksl, ksg = self.ks_lattice(), self.ks_gaussian()
        return {
            "alpha": self.walk.alpha, "dy": self.walk.dy, "dt": self.walk.dt, "C2": self.walk.c2,
            "n_steps": self.n_steps, "n_paths": self.n_paths, "horizon": self.horizon,
            "moments": self.moments(),
            "ks_lattice": {"statistic": ksl.statistic, "pvalue": ksl.pvalue},
            "ks_gaussian": {"statistic": ksg.statistic, "pvalue": ksg.pvalue},
            "lattice_gaussian_gap": self.lattice_gap(),
            "elapsed": self.elapsed,
        }

    def plot(self, *, ax: Any = None, n_show: int = 20) -> Any:
        """Histogram of final positions against the exact lattice law and the Gaussian limit.

        When ``paths`` were kept a second panel shows ``n_show`` sample paths.
        """
        from gelav.plot import new_axes

        fig, ax1 = new_axes(ax)
        law = self.exact_law()
        dy = self.walk.dy
        edges = np.r_[law.positions - 0.5 * dy, law.positions[-1] + 0.5 * dy]
        ax1.hist(self.final, bins=edges, density=True, alpha=0.45, color="C0",
                 label=f"simulated ({self.n_paths:,} walks)")
        keep = law.probabilities > 1e-7
        ax1.plot(law.positions[keep], law.probabilities[keep] / dy, ".", color="k", ms=3, zorder=4,
                 label="exact lattice law (master equation)")
        s = math.sqrt(2 * self.walk.c2 * self.horizon)
        xs = np.linspace(self.x0 - 4.5 * s, self.x0 + 4.5 * s, 400)
        ax1.plot(xs, stats.norm(self.x0, s).pdf(xs), color="C3",
                 label=rf"limit $N(0, 2C^2t)$, $2C^2t$ = {s * s:.4g}")
        ax1.set_xlim(xs[0], xs[-1])
        ax1.set_xlabel(f"position y after {self.n_steps} steps [units of y]")
        ax1.set_ylabel("density [1 / unit of y]")
        ax1.set_title(rf"Trinomial walk, $\alpha$ = {self.walk.alpha:g}, t = {self.horizon:g}")
        ax1.legend(loc="upper left", fontsize=8)
        if self.paths is not None and ax is None and n_show > 0:
            ax1.set_position([0.08, 0.12, 0.52, 0.78])
            ax2 = fig.add_axes([0.68, 0.12, 0.30, 0.78])
            ax2.plot(self.times, self.paths[:n_show].T, lw=0.6, alpha=0.8)
            ax2.set_xlabel("time [units of t]")
            ax2.set_ylabel("position y")
            ax2.set_title(f"{min(n_show, self.n_paths)} sample walks")
            fig.set_size_inches(11, 4.2)
        return fig


@dataclass(frozen=True)
class TrinomialWalk:
    r"""The symmetric trinomial walk of seed 003.

    In each step :math:`\delta t` the position moves by :math:`+\delta y` or
    :math:`-\delta y` with probability :math:`\alpha` each and stays with
    probability :math:`1 - 2\alpha`. The law after :math:`n` steps solves the
    master equation exactly; in the limit :math:`\delta t, \delta y \to 0` with
    :math:`C^2 = \alpha\,\delta y^2/\delta t` fixed it solves

    .. math:: \frac{\partial P}{\partial t} = C^2 \frac{\partial^2 P}{\partial y^2},
        \qquad y_t \sim N(y_0,\ 2C^2 t).

    On the lattice the variance is exactly :math:`2\alpha n\,\delta y^2 = 2C^2 t_n`.

    Parameters
    ----------
    alpha : float
        Probability of an up move (and of a down move), in (0, 1/2].
    dy : float
        Step size :math:`\delta y` > 0. Default 1.
    dt : float
        Time step :math:`\delta t` > 0. Default 1.

    Examples
    --------
    >>> w = TrinomialWalk(0.3)
    >>> w.c2
    0.3
    >>> law = w.law(252)
    >>> round(law.var(), 9), round(2 * w.c2 * 252, 9)
    (151.2, 151.2)
    """

    alpha: float
    dy: float = 1.0
    dt: float = 1.0

    def __post_init__(self) -> None:
        a = check_finite("alpha", self.alpha)
        if not 0.0 < a <= 0.5:
            raise ValueError(f"`alpha` must lie in (0, 1/2] (the stay probability 1 - 2α must be >= 0), got {a}.")
        object.__setattr__(self, "alpha", a)
        object.__setattr__(self, "dy", check_positive("dy", self.dy))
        object.__setattr__(self, "dt", check_positive("dt", self.dt))

    @property
    def c2(self) -> float:
        r""":math:`C^2 = \alpha\,\delta y^2/\delta t`, the diffusion coefficient of the limit heat equation."""
        return self.alpha * self.dy**2 / self.dt

    @property
    def probabilities(self) -> tuple[float, float, float]:
        """``(p_down, p_stay, p_up)`` = ``(α, 1 − 2α, α)``."""
        return (self.alpha, 1.0 - 2.0 * self.alpha, self.alpha)

    def variance(self, t: float) -> float:
        r"""Variance :math:`2C^2 t` (exact on the lattice at :math:`t = n\,\delta t`)."""
        return 2.0 * self.c2 * check_finite("t", t)

    def limit(self, t: float, *, x0: float = 0.0) -> Any:
        r"""The Gaussian limit law :math:`N(x_0, 2C^2t)` (frozen SciPy distribution)."""
        t = check_positive("t", t)
        return stats.norm(loc=x0, scale=math.sqrt(2.0 * self.c2 * t))

    def law(self, n_steps: int, *, x0: float = 0.0) -> LatticeLaw:
        r"""Exact law after ``n_steps`` steps: the master equation solved by repeated convolution.

        :math:`P_n = k^{*n} * \delta_{x_0}` with kernel :math:`k = (\alpha, 1-2\alpha, \alpha)`,
        computed by binary powering of the convolution (exact up to rounding;
        the probabilities are the trinomial coefficients
        :math:`\sum_u \frac{n!}{u!\,d!\,(n-u-d)!}\alpha^{u+d}(1-2\alpha)^{n-u-d}`).
        """
        n = check_int("n_steps", n_steps, minimum=0)
        x0 = check_finite("x0", x0)
        kernel = np.array(self.probabilities)
        result = np.array([1.0])
        power = kernel
        k = n
        while k:
            if k & 1:
                result = np.convolve(result, power)
            k >>= 1
            if k:
                power = np.convolve(power, power)
        pos = x0 + self.dy * np.arange(-n, n + 1, dtype=float)
        return LatticeLaw(pos, result, n * self.dt, n)

    def continuous_law(self, t: float, *, x0: float = 0.0) -> Any:
        r"""Law of the continuous-time walk (jumps :math:`\pm\delta y` at rate :math:`\alpha/\delta t` each).

        The exact solution of :math:`dP_j/dt = \frac{\alpha}{\delta t}(P_{j-1} - 2P_j + P_{j+1})`:
        Skellam(:math:`\alpha t/\delta t`, :math:`\alpha t/\delta t`) in units of :math:`\delta y`;
        variance :math:`2C^2t` as well. Returns a frozen SciPy ``skellam`` (in units of ``dy``,
        shifted to ``x0 / dy``).
        """
        t = check_positive("t", t)
        lam = self.alpha * t / self.dt
        return stats.skellam(lam, lam, loc=round(x0 / self.dy))

    def simulate(
        self, n_steps: int, n_paths: int, *, seed: SeedLike = None, x0: float = 0.0, keep_paths: bool = True,
        chunk: int = 1_000_000,
    ) -> WalkSample:
        r"""Simulate ``n_paths`` independent walks of ``n_steps`` steps.

        Each step draws :math:`U \sim U(0, 1)` and moves :math:`-\delta y` if
        :math:`U < \alpha`, :math:`+\delta y` if :math:`U > 1 - \alpha`, else
        stays (as in the seed). Work is done in blocks of about ``chunk``
        path-steps so memory stays bounded when ``keep_paths`` is False.

        Raises
        ------
        ValueError
            If ``n_steps`` or ``n_paths`` is not a positive integer.
        """
        n = check_int("n_steps", n_steps, minimum=1)
        m = check_int("n_paths", n_paths, minimum=1)
        x0 = check_finite("x0", x0)
        chunk = check_int("chunk", chunk, minimum=1)
        if keep_paths and m * (n + 1) > 50_000_000:
            raise ValueError(
                f"Keeping {m} paths of {n} steps needs {m * (n + 1) * 8 / 1e9:.1f} GB; pass keep_paths=False."
            )
        rng = as_generator(seed)
        t0 = time.perf_counter()
        rows = max(1, chunk // n)
        finals = np.empty(m)
        paths = np.empty((m, n + 1)) if keep_paths else None
        a = self.alpha
        for s in range(0, m, rows):
            e = min(m, s + rows)
            u = rng.random((e - s, n))
            steps = (u > 1.0 - a).astype(np.int16) - (u < a).astype(np.int16)
            if keep_paths:
                cs = np.cumsum(steps, axis=1, dtype=np.int32)
                paths[s:e, 0] = x0  # type: ignore[index]
                paths[s:e, 1:] = x0 + self.dy * cs  # type: ignore[index]
                finals[s:e] = paths[s:e, -1]  # type: ignore[index]
            else:
                finals[s:e] = x0 + self.dy * steps.sum(axis=1, dtype=np.int64)
        return WalkSample(self, self.dt * np.arange(n + 1, dtype=float), finals, paths, seed,
                          time.perf_counter() - t0, x0)


# =============================================================================
# Hull–White trinomial trees
# =============================================================================
#: process class name -> how the tree treats it (state transform)
TREE_KINDS: dict[str, str] = {
    "OrnsteinUhlenbeck": "identity",
    "BrownianMotion": "identity",
    "GeometricBrownianMotion": "log",
}


def _tree_family(process: Any) -> str | None:
    """The :data:`TREE_KINDS` key of ``process``'s class or of its nearest registered base class."""
    for cls in type(process).__mro__:
        if cls.__name__ in TREE_KINDS:
            return cls.__name__
    return None


@dataclass(frozen=True, eq=False)
class TreeValue:
    """Result of backward induction on a lattice.

    Attributes
    ----------
    value : float
        Value at the root (time 0, state ``x0``).
    n_steps : int
    exercise_boundary : ndarray or None
        Per level, the largest (put-like) or smallest state where exercising is optimal (NaN if none).
    elapsed : float
    """

    value: float
    n_steps: int
    exercise_boundary: NDArray[np.float64] | None = None
    elapsed: float = 0.0

    def __float__(self) -> float:
        return self.value


class TrinomialTree:
    r"""Hull–White trinomial tree for a Gaussian (or log-Gaussian) diffusion.

    The state :math:`Y = X` (OU, Brownian motion) or :math:`Y = \ln X` (GBM)
    is written :math:`Y_t = m(t) + x_t` with :math:`m(t) = E[Y_t \mid Y_0]`
    exact, so :math:`x` is an OU process with zero mean (rate :math:`\kappa`,
    0 for Brownian motion) started at 0. The tree for :math:`x` has nodes
    :math:`j\,\delta x` and in one step :math:`\Delta t`

    .. math::

        E[\Delta x] = M x, \quad M = e^{-\kappa\Delta t} - 1, \qquad
        \operatorname{Var}[\Delta x] = V = \frac{\sigma^2}{2\kappa}(1 - e^{-2\kappa\Delta t}),
        \qquad \delta x = \sqrt{3V}.

    From node :math:`j` the tree branches to :math:`k+1, k, k-1` with
    :math:`k = j` (standard), :math:`k = j - 1` at :math:`j = j_{\max}` and
    :math:`k = j + 1` at :math:`j = -j_{\max}` (switched branching),
    :math:`j_{\max} = \lceil 0.184/|M| \rceil` (Hull and White 1994; with the
    exact :math:`|M| = 1 - e^{-\kappa\Delta t}` this is their
    :math:`\lceil 0.184/(\kappa\Delta t) \rceil` to first order, and it keeps
    :math:`p_m \ge 0` at the switched nodes for every :math:`\Delta t`). With
    :math:`\eta = j + jM - k` and :math:`v = V/\delta x^2 = 1/3`, the
    probabilities that match the two moments are

    .. math::

        p_u = \tfrac12(v + \eta^2 + \eta),\quad p_m = 1 - v - \eta^2,\quad
        p_d = \tfrac12(v + \eta^2 - \eta),

    i.e. :math:`p_u = \tfrac16 + \tfrac12(j^2M^2 + jM)`, :math:`p_m = \tfrac23 - j^2M^2`, ...
    at standard nodes. Node values are :math:`m(t_i) + j\,\delta x` (OU,
    Brownian motion) or :math:`\exp` of it (GBM).

    Parameters
    ----------
    process : OrnsteinUhlenbeck, BrownianMotion or GeometricBrownianMotion
    x0 : float
        Starting state (the root node).
    horizon : float
        Length of the tree in years, > 0.
    n_steps : int
        Number of time steps (>= 1).
    j_max : int, optional
        Override the switching level (must keep the probabilities >= 0).

    Raises
    ------
    TypeError
        If ``process`` is not one of :data:`TREE_KINDS` (use :class:`GeneratorLattice`).
    ValueError
        On a bad ``x0``, ``horizon``, ``n_steps`` or a ``j_max`` giving negative probabilities.

    Examples
    --------
    >>> from gelav.processes import OrnsteinUhlenbeck
    >>> tree = TrinomialTree(OrnsteinUhlenbeck(0.45, 1.0, 0.32), -0.5, 2.0, 200)
    >>> tree.j_max, round(float(tree.probabilities[0].min()), 3) >= 0
    (41, True)
    """

    def __init__(self, process: Any, x0: float, horizon: float, n_steps: int, *, j_max: int | None = None) -> None:
        family = _tree_family(process)
        kind = TREE_KINDS.get(family) if family is not None else None
        if kind is None:
            raise TypeError(
                f"TrinomialTree needs a Gaussian process; got {type(process).__name__}. Registered kinds are "
                + ", ".join(TREE_KINDS) + ". Use GeneratorLattice for any other process."
            )
        self.process = process
        self.kind = kind
        self.family = family
        self.x0 = check_finite("x0", x0)
        if kind == "log" and self.x0 <= 0:
            raise ValueError(f"`x0` must be > 0 for {type(process).__name__}, got {self.x0}.")
        self.horizon = check_positive("horizon", horizon)
        self.n_steps = check_int("n_steps", n_steps, minimum=1)
        dt = self.horizon / self.n_steps
        self.dt = dt
        sigma = float(process.sigma)
        kappa = float(process.kappa) if family == "OrnsteinUhlenbeck" else 0.0
        self.kappa = kappa
        if kappa > 0:
            self.M = math.expm1(-kappa * dt)
            self.V = sigma**2 / (2 * kappa) * -math.expm1(-2 * kappa * dt)
        else:
            self.M = 0.0
            self.V = sigma**2 * dt
        self.dx = math.sqrt(3.0 * self.V)
        if j_max is None:
            jm = math.ceil(0.184 / -self.M) if self.M < 0 else self.n_steps
        else:
            jm = check_int("j_max", j_max, minimum=1)
        self.j_max = int(min(jm, self.n_steps)) if (j_max is None and self.M == 0) else int(jm)
        self.J = int(min(self.j_max, self.n_steps))
        J = self.J
        j = np.arange(-J, J + 1)
        k = j.copy()
        if self.M < 0 and J == self.j_max:
            k[-1] = J - 1
            k[0] = -J + 1
        eta = j + j * self.M - k
        v = self.V / self.dx**2
        pu = 0.5 * (v + eta**2 + eta)
        pm = 1.0 - v - eta**2
        pd = 0.5 * (v + eta**2 - eta)
        P = np.vstack((pd, pm, pu))
        if np.any(P < -1e-14):
            bad = int(np.argmin(P.min(axis=0)))
            raise ValueError(
                f"`j_max` = {self.j_max} gives negative branching probabilities at node j = {bad - J} "
                f"(min {P.min():.3g}); use j_max between 0.184/|M| and 0.816/|M| (|M| = {-self.M:.4g})."
            )
        P = np.maximum(P, 0.0)
        self._k = k
        self._P = P  # rows: down, middle, up
        # child columns, clipped: only unreachable edge nodes of an unbounded tree are affected
        self._child = np.clip(np.vstack((k - 1, k, k + 1)) + J, 0, 2 * J)
        self._times = np.linspace(0.0, self.horizon, self.n_steps + 1)

    # -- geometry -----------------------------------------------------------
    @property
    def probabilities(self) -> NDArray[np.float64]:
        """Branching probabilities, shape (3, 2J+1): rows down, middle, up; column j + J."""
        return self._P

    @property
    def branch_centres(self) -> NDArray[np.int_]:
        """Middle child :math:`k(j)` of every node (``j`` at standard nodes, ``j ∓ 1`` at ``±j_max``)."""
        return self._k

    @property
    def times(self) -> NDArray[np.float64]:
        return self._times

    def _mean_path(self, t: float) -> float:
        p = self.process
        if self.kind == "log":
            return math.log(self.x0) + (p.mu - 0.5 * p.sigma**2) * t
        if self.family == "OrnsteinUhlenbeck":
            return p.mean + (self.x0 - p.mean) * math.exp(-p.kappa * t)
        return self.x0 + p.mu * t

    def offsets(self, i: int) -> NDArray[np.float64]:
        """Transformed node positions :math:`m(t_i) + j\\,\\delta x` at level ``i`` (all 2J+1 columns)."""
        return np.asarray(self._mean_path(float(self._times[i])) + self.dx * np.arange(-self.J, self.J + 1), dtype=float)

    def states(self, i: int) -> NDArray[np.float64]:
        """Node states at level ``i`` (all 2J+1 columns; columns beyond ``min(i, J)`` are unreachable)."""
        y = self.offsets(i)
        return np.exp(y) if self.kind == "log" else y

    @property
    def half_width(self) -> float:
        """Half-width :math:`J\\,\\delta x` of the tree around the mean path (transformed coordinate)."""
        return self.J * self.dx

    @property
    def terminal_std(self) -> float:
        """Exact standard deviation of the (transformed) state at the horizon."""
        T = self.horizon
        if self.kappa > 0:
            return math.sqrt(self.process.sigma**2 / (2 * self.kappa) * -math.expm1(-2 * self.kappa * T))
        return float(self.process.sigma) * math.sqrt(T)

    def covers(self, level: float, *, n_std: float = 2.0) -> bool:
        """Whether ``level`` (transformed coordinate) lies at least ``n_std`` terminal
        standard deviations inside the truncated tree, where truncation does not bias
        the mass below or above it."""
        if self.J >= self.n_steps:  # never truncated
            return True
        gap = abs(level - self._mean_path(self.horizon))
        return gap + n_std * self.terminal_std <= self.half_width

    def moment_errors(self) -> dict[str, float]:
        r"""Largest deviation of the tree's one-step conditional moments from the exact ones.

        Checks :math:`\sum p = 1`, :math:`E[\Delta x] = Mx` and
        :math:`E[(\Delta x - Mx)^2] = V` at every node (all should be ~1e-16).
        """
        J = self.J
        j = np.arange(-J, J + 1)
        ch = np.vstack((self._k - 1, self._k, self._k + 1)) * self.dx
        x = j * self.dx
        mean = (self._P * ch).sum(axis=0)
        var = (self._P * (ch - (x + self.M * x)) ** 2).sum(axis=0)
        return {
            "sum": float(np.max(np.abs(self._P.sum(axis=0) - 1.0))),
            "mean": float(np.max(np.abs(mean - (x + self.M * x)))) / self.dx,
            "variance": float(np.max(np.abs(var - self.V))) / self.V,
            "min_probability": float(self._P.min()),
        }

    # -- induction ---------------------------------------------------------
    def _step_forward(self, q: NDArray[np.float64]) -> NDArray[np.float64]:
        n = q.size
        out = np.zeros(n)
        for r in range(3):
            # children outside the array only come from unreachable (zero-mass) edge nodes
            out += np.bincount(self._child[r], weights=q * self._P[r], minlength=n)
        return out

    def _discount_factors(self, discount: float | Callable[..., ArrayLike] | None, i: int) -> NDArray[np.float64] | float:
        if discount is None:
            return 1.0
        if callable(discount):
            r = np.asarray(discount(self._times[i], self.states(i)), dtype=float)
            return np.exp(-r * self.dt)
        return math.exp(-check_finite("discount", discount) * self.dt)

    def forward(self, *, discount: float | Callable[..., ArrayLike] | None = None, keep: bool = False
                ) -> NDArray[np.float64]:
        r"""Forward induction: state probabilities (or Arrow–Debreu prices) level by level.

        .. math:: Q_{i+1}(k) = \sum_j Q_i(j)\, p_{j\to k}\, e^{-r(t_i, x_{ij})\Delta t},
            \qquad Q_0 = \delta_{\text{root}}.

        Without ``discount`` the :math:`Q_i` are the probabilities of the nodes.

        Parameters
        ----------
        discount : float or callable ``(t, x) -> r``, optional
            Short rate per year for Arrow–Debreu prices.
        keep : bool
            Return every level, shape (n_steps + 1, 2J + 1); else only the last, shape (2J + 1,).
        """
        q = np.zeros(2 * self.J + 1)
        q[self.J] = 1.0
        levels = [q] if keep else None
        for i in range(self.n_steps):
            q = self._step_forward(q * self._discount_factors(discount, i))
            if keep:
                levels.append(q)  # type: ignore[union-attr]
        return np.array(levels) if keep else q

    def backward(
        self,
        payoff: Callable[[NDArray[np.float64]], ArrayLike],
        *,
        discount: float | Callable[..., ArrayLike] | None = None,
        exercise: Callable[[float, NDArray[np.float64]], ArrayLike] | bool | None = None,
    ) -> TreeValue:
        r"""Backward induction of a terminal payoff, with optional early exercise.

        .. math:: u_i(j) = \max\Big(e^{-r\Delta t}\sum_{c} p_{j\to c}\,u_{i+1}(c),\ g(t_i, x_{ij})\Big),
            \qquad u_N = \text{payoff}(x_N).

        Parameters
        ----------
        payoff : callable ``x -> value``
            Terminal payoff at the leaves (vectorised).
        discount : float or callable ``(t, x) -> r``, optional
            Discount (short) rate per year.
        exercise : callable ``(t, x) -> value`` or True, optional
            Exercise value at every node (``True``: the payoff itself, an
            American option). Omitted: European.
        """
        t0 = time.perf_counter()
        u = np.asarray(payoff(self.states(self.n_steps)), dtype=float) * np.ones(2 * self.J + 1)
        if not np.all(np.isfinite(u)):
            raise ValueError("`payoff` returned non-finite values on the tree.")
        ex = None
        if exercise is True:
            ex = lambda t, x: payoff(x)  # noqa: E731
        elif callable(exercise):
            ex = exercise
        elif exercise not in (None, False):
            raise TypeError("`exercise` must be a callable (t, x) -> value, True or None.")
        cd, cm, cu = self._child
        boundary = np.full(self.n_steps + 1, np.nan) if ex is not None else None
        for i in range(self.n_steps - 1, -1, -1):
            cont = self._P[0] * u[cd] + self._P[1] * u[cm] + self._P[2] * u[cu]
            cont = cont * self._discount_factors(discount, i)
            if ex is not None:
                xs = self.states(i)
                g = np.asarray(ex(self._times[i], xs), dtype=float) * np.ones_like(cont)
                exer = g > cont
                w = min(i, self.J)
                reach = slice(self.J - w, self.J + w + 1)
                if np.any(exer[reach]):
                    boundary[i] = float(xs[reach][exer[reach]].max())  # type: ignore[index]
                cont = np.maximum(cont, g)
            u = cont
        return TreeValue(float(u[self.J]), self.n_steps, boundary, time.perf_counter() - t0)

    def law(self) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """``(states, probabilities)`` at the horizon (reachable nodes only)."""
        q = self.forward()
        return self.states(self.n_steps), q

    def prob(self, *, below: float | None = None, above: float | None = None) -> float:
        r""":math:`P(X_T < \text{below})` or :math:`P(X_T > \text{above})` with smooth counting.

        Counting is done in the tree's own (possibly log) coordinate, where
        the nodes are uniform, by :func:`lattice_cdf`.
        """
        if (below is None) == (above is None):
            raise ValueError("Give exactly one of `below` and `above`.")
        c = check_finite("below" if below is not None else "above", below if below is not None else above)
        q = self.forward()
        y = self.offsets(self.n_steps)
        if self.kind == "log":
            if c <= 0:
                return 0.0 if below is not None else 1.0
            c = math.log(c)
        # beyond 8.5 sd the exact tail is < 1e-17 and the truncated tree's is no larger: no bias to report
        if not self.covers(c) and abs(c - self._mean_path(self.horizon)) < 8.5 * self.terminal_std:
            import warnings

            from gelav.errors import AccuracyWarning

            warnings.warn(
                f"The threshold lies {abs(c - self._mean_path(self.horizon)) / self.terminal_std:.2f} standard "
                f"deviations from the mean but the tree truncated at j_max = {self.j_max} spans only "
                f"{self.half_width / self.terminal_std:.2f}; the probability is biased. Use more steps "
                "(the width grows like sqrt(n_steps)).",
                AccuracyWarning,
                stacklevel=2,
            )
        F = float(lattice_cdf(y, q, c))
        return F if below is not None else float(q.sum()) - F

    def __repr__(self) -> str:
        return (f"TrinomialTree({type(self.process).__name__}, x0={self.x0:g}, horizon={self.horizon:g}, "
                f"n_steps={self.n_steps}, j_max={self.j_max}, dx={self.dx:.4g})")


# =============================================================================
# lattices from the generator
# =============================================================================
class GeneratorLattice:
    r"""The lattice of any process: a Markov chain built from its generator :math:`Q` on a grid.

    ``method="explicit"``: the trinomial chain :math:`P = I + \Delta t\,Q`
    (:math:`Q` from :class:`gelav.generator.Generator`, tridiagonal with
    non-negative off-diagonals and rows summing to minus the killing rate),
    with :math:`\Delta t \le \text{safety}/\max_i |q_{ii}|` so that every
    entry of :math:`P` is a probability. Its up/stay/down probabilities match
    the drift and variance of the diffusion to :math:`O(h)` (Scharfetter–Gummel
    fluxes); the lattice is the explicit Euler scheme of the Fokker–Planck
    equation, first order in :math:`\Delta t = O(h^2)`, i.e. second order in
    the grid spacing.

    ``method="exact"``: the embedded continuous-time chain,
    :math:`P = e^{\Delta t\, Q}` (no time error; second order in the spacing).

    Forward induction: :math:`p_{n+1} = P^\top p_n`; backward:
    :math:`u_n = \max(P u_{n+1}, g)`. Killing (e.g. a discount rate ``r``)
    enters :math:`Q` as :math:`-r` on the diagonal.

    Parameters
    ----------
    process : Process
    grid : Grid
    lower, upper : {"reflecting", "absorbing"}
    killing : float, array or callable, optional
        Killing / discount rate :math:`k(t, x) \ge 0`.
    method : {"explicit", "exact"}
    safety : float
        Fraction (0, 1] of the largest positive step.

    Examples
    --------
    >>> from gelav.processes import OrnsteinUhlenbeck
    >>> from gelav.grid import Grid
    >>> lat = GeneratorLattice(OrnsteinUhlenbeck(0.45, 1.0, 0.32), Grid.uniform(-2, 3, 100))
    >>> p = lat.forward(lat.grid.point_mass(-0.5), 2.0)
    >>> bool(p.min() >= 0 and abs(p.sum() - 1) < 1e-12)
    True
    """

    METHODS = ("explicit", "exact")

    def __init__(self, process: Any, grid: Grid, *, lower: str = "reflecting", upper: str = "reflecting",
                 killing: Any = None, method: str = "explicit", safety: float = 1.0) -> None:
        from gelav.generator import Generator

        if method not in self.METHODS:
            raise ValueError(f"Unknown `method` {method!r}; registered methods are " + ", ".join(map(repr, self.METHODS)) + ".")
        safety = check_positive("safety", safety)
        if safety > 1:
            raise ValueError(f"`safety` must be in (0, 1] (a larger step makes P negative), got {safety}.")
        self.generator = Generator(process, grid, lower=lower, upper=upper, killing=killing)
        self.process = process
        self.grid = grid
        self.method = method
        self.safety = safety

    def max_step(self, t: float = 0.0) -> float:
        r"""Largest :math:`\Delta t` with :math:`I + \Delta t\,Q(t) \ge 0`: :math:`1/\max_i|q_{ii}|`."""
        d = np.abs(self.generator.bands(t).diag).max()
        return math.inf if d == 0 else 1.0 / float(d)

    def n_steps_for(self, horizon: float) -> int:
        """Steps the explicit chain takes over ``horizon``."""
        horizon = check_positive("horizon", horizon)
        if self.method == "exact":
            return 1
        return max(1, math.ceil(horizon / (self.safety * self.max_step()) - 1e-12))

    def transition(self, dt: float, t: float = 0.0) -> sparse.csr_array:
        r"""The one-step matrix :math:`P` (sparse; dense-backed for ``exact``)."""
        dt = check_positive("dt", dt)
        Q = self.generator.matrix(t)
        if self.method == "exact":
            from scipy.linalg import expm

            return sparse.csr_array(expm(dt * Q.toarray()))
        P = sparse.identity(Q.shape[0], format="csr") + dt * Q
        if P.min() < -1e-13:
            raise ValueError(f"`dt` = {dt:g} exceeds the largest positive step {self.max_step(t):g}.")
        return sparse.csr_array(P)

    def forward(self, p0: ArrayLike, horizon: float, *, n_steps: int | None = None) -> NDArray[np.float64]:
        """Node masses at ``horizon`` by forward induction from masses ``p0``.

        ``n_steps`` (explicit chain) fixes the number of steps; it must keep
        :math:`P \\ge 0`. Default: the fewest steps allowed by ``safety``.
        """
        p = np.asarray(p0, dtype=float).copy()
        if p.shape != (self.grid.n_nodes,):
            raise ValueError(f"`p0` must have shape ({self.grid.n_nodes},), got {p.shape}.")
        horizon = check_positive("horizon", horizon)
        if self.method == "exact" and self.generator.time_homogeneous:
            from scipy.sparse.linalg import expm_multiply

            A = horizon * self.generator.matrix(0.0).T.tocsr()
            if p.size <= 2000 and abs(A).sum(axis=0).max() > 1e4:  # expm_multiply's cost grows with ‖A‖
                from scipy.linalg import expm

                return np.asarray(expm(A.toarray()) @ p)
            return np.asarray(expm_multiply(A, p))
        if n_steps is not None and self.method == "explicit":
            n = check_int("n_steps", n_steps, minimum=1)
            need = self.n_steps_for(horizon)
            if n < need:
                raise ValueError(
                    f"`n_steps` = {n} makes I + dt Q negative; at least {need} steps are needed on this grid."
                )
        else:
            n = self.n_steps_for(horizon) if self.method == "explicit" else max(1, math.ceil(horizon / 0.01))
        dt = horizon / n
        homog = self.generator.time_homogeneous
        b = self.generator.bands(0.0)
        for i in range(n):
            if not homog:
                b = self.generator.bands((i + 0.5) * dt)
            if self.method == "explicit":
                p = p + dt * b.rmatvec(p)
            else:  # pragma: no cover - time-dependent exact chain
                from scipy.sparse.linalg import expm_multiply

                p = np.asarray(expm_multiply(dt * b.to_sparse().T.tocsr(), p))
        return p

    def backward(self, payoff: ArrayLike | Callable[..., ArrayLike], horizon: float, *,
                 exercise: ArrayLike | Callable[..., ArrayLike] | bool | None = None,
                 n_steps: int | None = None) -> NDArray[np.float64]:
        r"""Nodal values at time 0 by backward induction, :math:`u_n = \max(P u_{n+1}, g)`.

        ``payoff`` is an array on the nodes or a callable of x; ``exercise``
        (``True`` = the payoff) makes it an optimal-stopping problem exercised
        at every lattice step. ``n_steps`` sets the steps (exercise dates):
        default the fewest with :math:`P \\ge 0` (explicit), 1 or 200 (exact,
        without / with exercise).
        """
        horizon = check_positive("horizon", horizon)
        x = self.grid.nodes
        g = np.asarray(payoff(x) if callable(payoff) else payoff, dtype=float) * np.ones_like(x)
        if exercise is True:
            ex = g
        elif exercise is None or exercise is False:
            ex = None
        else:
            ex = np.asarray(exercise(x) if callable(exercise) else exercise, dtype=float) * np.ones_like(x)
        if self.method == "exact":
            n = check_int("n_steps", n_steps, minimum=1) if n_steps is not None else (1 if ex is None else 200)
        else:
            need = self.n_steps_for(horizon)
            n = need if n_steps is None else check_int("n_steps", n_steps, minimum=1)
            if n < need:
                raise ValueError(
                    f"`n_steps` = {n} makes I + dt Q negative; at least {need} steps are needed on this grid."
                )
        dt = horizon / n
        homog = self.generator.time_homogeneous
        P = self.transition(dt) if (self.method == "exact" and homog) else None
        u = g.copy()
        b = self.generator.bands(0.0)
        for i in range(n - 1, -1, -1):
            tm = (i + 0.5) * dt
            if self.method == "exact":
                u = (P if P is not None else self.transition(dt, tm)) @ u
            else:
                if not homog:
                    b = self.generator.bands(tm)
                u = u + dt * b.matvec(u)
            if ex is not None:
                u = np.maximum(u, ex)
        return u


# =============================================================================
# stress probabilities
# =============================================================================
@dataclass(frozen=True)
class StressEstimate:
    r"""A lattice probability with its error estimate (iterates as ``(probability, error_estimate)``).

    Attributes
    ----------
    probability : float
        Richardson-extrapolated value :math:`p_{2N} + (p_{2N} - p_N)/(2^q - 1)`.
    error_estimate : float
        :math:`|p_{2N} - p_N|/(2^q - 1)`, the estimated error of the finer
        lattice value :math:`p_{2N}`; a conservative bound for ``probability``.
    values : tuple of float
        :math:`(p_N, p_{2N})`.
    sizes : tuple of int
        :math:`(N, 2N)`: steps of the tree, or cells of the generator lattice.
    method : str
        ``"tree"`` or ``"generator"``.
    order : float
        Order :math:`q` assumed in the extrapolation (1 in steps for the tree,
        2 in cells for the generator lattice).
    elapsed : float
    """

    probability: float
    error_estimate: float
    values: tuple[float, float]
    sizes: tuple[int, int]
    method: str
    order: float
    elapsed: float = field(default=0.0, compare=False)

    def __iter__(self) -> Iterator[float]:
        return iter((self.probability, self.error_estimate))


def _generator_prob(process: Any, x0: float, horizon: float, threshold: float, below: bool, n_cells: int,
                    domain: tuple[float, float]) -> float:
    lo, hi = domain
    grid = Grid.aligned(lo, hi, n_cells, node=x0)
    d_lo, d_hi = getattr(process, "domain", (-math.inf, math.inf))
    if grid.lower < d_lo or grid.upper > d_hi:  # keep the aligned nodes that lie in the domain
        x = grid.nodes
        grid = Grid(x[(x >= d_lo) & (x <= d_hi)])
    lat = GeneratorLattice(process, grid, method="exact")
    p = lat.forward(grid.point_mass(x0), horizon)
    F = float(lattice_cdf(grid.nodes, p, threshold))
    return F if below else float(p.sum()) - F


def stress_probability(
    process: Any,
    x0: float,
    horizon: float,
    threshold: float,
    *,
    below: bool = True,
    n_steps: int = 800,
    method: str = "auto",
    n_cells: int = 200,
) -> StressEstimate:
    r"""Probability :math:`P(X_T < c \mid X_0 = x_0)` (or :math:`>`) from a lattice, with an error estimate.

    The lattice is solved at two resolutions, :math:`N` and :math:`2N`, with
    smooth counting (:func:`lattice_cdf`), so the error is
    :math:`e_N \approx a/N^q` and Richardson extrapolation applies:

    .. math:: \hat p = p_{2N} + \frac{p_{2N} - p_N}{2^q - 1}, \qquad
        \text{error estimate} = \frac{|p_{2N} - p_N|}{2^q - 1}.

    Methods: ``"tree"`` (Hull–White :class:`TrinomialTree`, :math:`N` = time
    steps, :math:`q = 1`) for OU, Brownian motion and GBM; ``"generator"``
    (:class:`GeneratorLattice` with the exact embedded chain
    :math:`e^{TQ}`, :math:`N` = cells, :math:`q = 2`) for any process. ``"auto"``
    picks the tree when it applies.

    Parameters
    ----------
    process : Process
    x0 : float
    horizon : float
        Years, > 0.
    threshold : float
        The level :math:`c`.
    below : bool
        ``True`` for :math:`P(X_T < c)`, ``False`` for :math:`P(X_T > c)`.
    n_steps : int
        Tree steps :math:`2N` of the finer tree (the coarse one has half). Doubled
        as needed until the truncated mean-reverting tree spans the threshold with
        two standard deviations to spare (its half-width grows like
        :math:`\sqrt{N}`; see :meth:`TrinomialTree.covers`).
    method : {"auto", "tree", "generator"}
    n_cells : int
        Cells of the finer generator lattice.

    Returns
    -------
    StressEstimate
        Unpacks as ``(probability, error_estimate)``.

    Raises
    ------
    ValueError
        On bad arguments or an unknown ``method``.

    Examples
    --------
    >>> from gelav.processes import OrnsteinUhlenbeck
    >>> p, err = stress_probability(OrnsteinUhlenbeck(0.45, 1.0, 0.32), -0.5, 2.0, -0.5)
    >>> abs(p - 0.0019356) < 1e-6 and err < 1e-5
    True
    """
    x0 = check_finite("x0", x0)
    horizon = check_positive("horizon", horizon)
    threshold = check_finite("threshold", threshold)
    methods = ("auto", "tree", "generator")
    if method not in methods:
        raise ValueError(f"Unknown `method` {method!r}; registered methods are " + ", ".join(map(repr, methods)) + ".")
    t0 = time.perf_counter()
    tree_ok = _tree_family(process) is not None
    if method == "tree" and not tree_ok:
        raise TypeError(f"method='tree' needs one of {', '.join(TREE_KINDS)}; got {type(process).__name__}.")
    use_tree = method == "tree" or (method == "auto" and tree_ok)
    if use_tree:
        n2 = check_int("n_steps", n_steps, minimum=4)
        n1 = n2 // 2
        kw = {"below": threshold} if below else {"above": threshold}
        probe = TrinomialTree(process, x0, horizon, n1)
        level = math.log(threshold) if (probe.kind == "log" and threshold > 0) else threshold
        # a mean-reverting tree is truncated at ±j_max·δx ∝ sqrt(n): refine until it covers the threshold,
        # unless the threshold is so far out (> 8.5 sd, tail < 1e-17) that truncation cannot matter.
        # "auto" stops at 2**13 steps (the cost grows like n²: long horizons need n ∝ κT) and falls
        # back to the generator lattice.
        cap = 2**22 if method == "tree" else 2**13
        far = abs(level - probe._mean_path(horizon)) >= 8.5 * probe.terminal_std
        while not far and not probe.covers(level) and n1 < cap:
            n1 *= 2
            probe = TrinomialTree(process, x0, horizon, n1)
        use_tree = method == "tree" or far or probe.covers(level)
    if use_tree:
        p1 = probe.prob(**kw)
        p2 = TrinomialTree(process, x0, horizon, 2 * n1).prob(**kw)
        q, sizes, name = 1.0, (n1, 2 * n1), "tree"
    else:
        m2 = check_int("n_cells", n_cells, minimum=8)
        m1 = m2 // 2
        dom = auto_domain(process, x0, horizon, tail=1e-12, include=(threshold,))
        p1 = _generator_prob(process, x0, horizon, threshold, below, m1, dom)
        p2 = _generator_prob(process, x0, horizon, threshold, below, 2 * m1, dom)
        q, sizes, name = 2.0, (m1, 2 * m1), "generator"
    corr = (p2 - p1) / (2.0**q - 1.0)
    return StressEstimate(p2 + corr, abs(corr), (p1, p2), sizes, name, q, time.perf_counter() - t0)


# =============================================================================
# convergence of lattice answers
# =============================================================================
@dataclass(frozen=True, eq=False)
class ConvergenceStudy:
    r"""Errors of a lattice answer on refinement, with the fitted order.

    Attributes
    ----------
    sizes : ndarray
        Tree steps (``"tree"``) or grid cells (``"generator"``, ``"generator-explicit"``).
    values : ndarray
        Lattice answers.
    errors : ndarray
        ``values - reference``.
    order : float
        Least-squares slope of :math:`\log|e|` against :math:`\log N` (see :func:`fit_order`).
    reference : float
    reference_kind : str
        ``"analytic"`` or ``"pde"`` (gelav.forward on a fine grid, Richardson-extrapolated).
    seconds : ndarray
        Wall time of each lattice solve.
    method : str
    """

    sizes: NDArray[np.float64]
    values: NDArray[np.float64]
    errors: NDArray[np.float64]
    order: float
    reference: float
    reference_kind: str
    seconds: NDArray[np.float64]
    method: str

    def summary(self) -> dict[str, Any]:
        return {
            "method": self.method, "order": self.order, "reference": self.reference,
            "reference_kind": self.reference_kind, "sizes": self.sizes, "values": self.values,
            "errors": self.errors, "seconds": self.seconds,
        }

    def plot(self, *, ax: Any = None) -> Any:
        """Log-log error against size with the fitted slope."""
        from gelav.plot import new_axes

        fig, ax = new_axes(ax)
        e = np.abs(self.errors)
        ax.loglog(self.sizes, e, "o-", label=f"{self.method} (fitted order {self.order:.2f})")
        ref = e[0] * (self.sizes / self.sizes[0]) ** (-round(self.order))
        ax.loglog(self.sizes, ref, "--", color="0.5", label=f"slope −{round(self.order)}")
        unit = "time steps" if self.method == "tree" else "grid cells"
        ax.set_xlabel(f"N [{unit}]")
        ax.set_ylabel(f"|error| vs {self.reference_kind} [probability]")
        ax.set_title("Lattice convergence")
        ax.legend()
        return fig


def lattice_convergence(
    process: Any,
    x0: float,
    horizon: float,
    threshold: float,
    *,
    sizes: ArrayLike = (100, 200, 400, 800),
    method: str = "tree",
    below: bool = True,
    reference: str = "auto",
) -> ConvergenceStudy:
    r"""Measure the convergence order of a lattice probability :math:`P(X_T < c)`.

    Parameters
    ----------
    process, x0, horizon, threshold, below
        As in :func:`stress_probability`.
    sizes : sequence of int
        Tree steps (``method="tree"``) or grid cells (generator lattices).
    method : {"tree", "generator", "generator-explicit"}
        Hull–White tree (order 1 in steps), exact chain :math:`e^{TQ}` (order 2
        in cells), or the explicit chain :math:`I + \Delta t Q` with
        :math:`\Delta t \propto h^2` (order 2 in cells).
    reference : {"auto", "analytic", "pde"}
        The exact value from the process's transition law, or the PDE
        (:func:`gelav.forward`, Crank–Nicolson, 1600 and 3200 cells,
        Richardson-extrapolated at order 2). ``"auto"``: analytic when known.

    Returns
    -------
    ConvergenceStudy
    """
    x0 = check_finite("x0", x0)
    horizon = check_positive("horizon", horizon)
    threshold = check_finite("threshold", threshold)
    ns = [check_int("sizes", int(n), minimum=4) for n in np.atleast_1d(np.asarray(sizes))]
    if len(ns) < 2:
        raise ValueError("`sizes` must hold at least two sizes.")
    methods = ("tree", "generator", "generator-explicit")
    if method not in methods:
        raise ValueError(f"Unknown `method` {method!r}; registered methods are " + ", ".join(map(repr, methods)) + ".")
    if reference not in ("auto", "analytic", "pde"):
        raise ValueError(f"Unknown `reference` {reference!r}; use 'auto', 'analytic' or 'pde'.")
    has_law = bool(getattr(process, "has_transition", False))
    if reference == "analytic" and not has_law:
        raise ValueError(f"{getattr(process, 'name', process)} has no closed-form law; use reference='pde'.")
    if reference == "analytic" or (reference == "auto" and has_law):
        d = process.transition(x0, horizon)
        ref = float(d.cdf(threshold)) if below else float(d.sf(threshold))
        kind = "analytic"
    else:
        from gelav.forward import forward

        vals = []
        for m in (1600, 3200):
            dens = forward(process, x0, horizon, n_cells=m, n_steps=m // 2, include=(threshold,))
            vals.append(dens.prob(below=threshold) if below else dens.prob(above=threshold))
        ref = vals[1] + (vals[1] - vals[0]) / 3.0
        kind = "pde"
    dom = auto_domain(process, x0, horizon, tail=1e-12, include=(threshold,)) if method != "tree" else None
    values, secs = [], []
    for n in ns:
        t0 = time.perf_counter()
        if method == "tree":
            tree = TrinomialTree(process, x0, horizon, n)
            v = tree.prob(below=threshold) if below else tree.prob(above=threshold)
        else:
            lo, hi = dom  # type: ignore[misc]
            grid = Grid.aligned(lo, hi, n, node=x0)
            d_lo, d_hi = getattr(process, "domain", (-math.inf, math.inf))
            x = grid.nodes
            grid = Grid(x[(x >= d_lo) & (x <= d_hi)])
            if method == "generator":
                p = GeneratorLattice(process, grid, method="exact").forward(grid.point_mass(x0), horizon)
            else:
                # Δt = λh² with λ fixed by the coarsest grid (its P ≥ 0 bound is the tightest)
                lat = GeneratorLattice(process, grid)
                if n == ns[0]:
                    ratio = lat.n_steps_for(horizon) / n**2
                steps = max(lat.n_steps_for(horizon), math.ceil(ratio * n * n))
                p = lat.forward(grid.point_mass(x0), horizon, n_steps=steps)
            F = float(lattice_cdf(grid.nodes, p, threshold))
            v = F if below else float(p.sum()) - F
        secs.append(time.perf_counter() - t0)
        values.append(v)
    vals_a = np.asarray(values)
    err = vals_a - ref
    return ConvergenceStudy(np.asarray(ns, dtype=float), vals_a, err, fit_order(ns, err), ref, kind,
                            np.asarray(secs), method)
