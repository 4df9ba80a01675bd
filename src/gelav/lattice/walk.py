"""The trinomial walk of seed 003 and its exact lattice law.

Part of :mod:`gelav.lattice` (see the package docstring for the methods).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from gelav._random import SeedLike, as_generator
from gelav._stats import ks_sf
from gelav._validation import MAX_HORIZON, MAX_STATE, check_finite, check_int, check_positive
from gelav.lattice.counting import KSResult, lattice_cdf
from gelav.processes.laws import Normal


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
        # about the middle point: the probabilities sum to 1 only to rounding, and Σ p·y far from 0
        # carries that rounding times |y| (x0 = 1e12: 0.01 off, a z-score of 0.08)
        c = float(self.positions[self.positions.size // 2])
        return c + float(self.probabilities @ (self.positions - c))

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
        return self.moment(4) / v**2 - 3.0 if v * v > 0 else math.nan  # v² underflows before v (α = 1e-308)

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

    def reachable_law(self) -> tuple[LatticeLaw, float]:
        r"""The exact law on the sites reachable after ``n_steps`` steps, and their spacing.

        For :math:`\alpha = 1/2` (period 2, :attr:`TrinomialWalk.period`) only the sites
        :math:`y_0 + j\,\delta y` with :math:`j \equiv n \pmod 2` carry mass: their spacing is
        :math:`2\delta y`, so a density on them is :math:`P_j / (2\delta y)` and a continuity
        correction is half of :math:`2\delta y`. Otherwise all sites, spacing :math:`\delta y`.
        """
        law = self.exact_law()
        per = self.walk.period
        if per == 1:
            return law, self.walk.dy
        j = np.arange(-self.n_steps, self.n_steps + 1)
        keep = (j - self.n_steps) % per == 0
        return LatticeLaw(law.positions[keep], law.probabilities[keep], law.time, law.n_steps), per * self.walk.dy

    def ks_lattice(self) -> KSResult:
        r"""KS distance between the empirical law and the exact lattice law.

        Both CDFs are steps on the same lattice, so the supremum is taken on
        the lattice points. The p-value uses the exact continuous KS distribution
        (:func:`gelav._stats.ks_sf`),
        which is conservative for a discrete law (the true level is below the
        nominal one).
        """
        law = self.exact_law()
        emp = np.searchsorted(np.sort(self.final), law.positions, side="right") / self.n_paths
        d = float(np.max(np.abs(emp - np.cumsum(law.probabilities))))
        return KSResult(d, ks_sf(self.n_paths, d), "exact lattice law", self.n_paths)

    def ks_gaussian(self) -> KSResult:
        r"""KS distance to the Gaussian limit :math:`N(y_0, 2C^2t)` with continuity correction.

        The empirical CDF at lattice point :math:`y_j` is compared with
        :math:`\Phi` at the face :math:`y_j + h/2`, on the sites reachable after
        :math:`n` steps (:meth:`reachable_law`: spacing :math:`h = 2\delta y` for
        :math:`\alpha = 1/2`, where every other site is empty; :math:`h = \delta y` otherwise). The p-value is
        approximate: the Gaussian is the limit law, not the exact one (see
        :meth:`lattice_gap` for the exact lattice-to-Gaussian distance).
        """
        law, h = self.reachable_law()  # parity: on the reachable sub-lattice (spacing 2δy for α = 1/2)
        emp = np.searchsorted(np.sort(self.final), law.positions, side="right") / self.n_paths
        g = self.walk.normal_limit(self.horizon, x0=self.x0)
        d = float(np.max(np.abs(emp - g.cdf(law.positions + 0.5 * h))))
        return KSResult(d, ks_sf(self.n_paths, d), "Gaussian limit (continuity-corrected)", self.n_paths)

    def lattice_gap(self) -> float:
        """Exact sup-distance between the lattice law and its Gaussian limit at the faces (reachable sites)."""
        law, h = self.reachable_law()
        g = self.walk.normal_limit(self.horizon, x0=self.x0)
        return float(np.max(np.abs(np.cumsum(law.probabilities) - g.cdf(law.positions + 0.5 * h))))

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
            "period": self.walk.period,
            "moments": self.moments(),
            "ks_lattice": {"statistic": ksl.statistic, "pvalue": ksl.pvalue},
            "ks_gaussian": {"statistic": ksg.statistic, "pvalue": ksg.pvalue},
            "lattice_gaussian_gap": self.lattice_gap(),
            "elapsed": self.elapsed,
        }

    def plot(self, *, ax: Any = None, n_show: int = 20) -> Any:
        r"""Histogram of final positions against the exact lattice law and the Gaussian limit.

        Bins and the lattice density are on the reachable sites (:meth:`reachable_law`), so for
        :math:`\alpha = 1/2` the density is :math:`P_j/(2\delta y)`, not twice the Gaussian.

        When ``paths`` were kept a second panel shows ``n_show`` sample paths.
        """
        from gelav.plot import new_axes

        fig, ax1 = new_axes(ax)
        law, dy = self.reachable_law()  # α = 1/2: every other site is empty, bins and density on 2δy
        s = math.sqrt(2 * self.walk.c2 * self.horizon)
        xs = np.linspace(self.x0 - 4.5 * s, self.x0 + 4.5 * s, 400)
        # bars only for the sites in view (one patch each; thousands past the axes cost time, not ink),
        # each walk weighing 1/(n δy): the density of all the walks, as density=True on every site
        sites = law.positions[(law.positions > xs[0] - dy) & (law.positions < xs[-1] + dy)]
        edges = np.r_[sites - 0.5 * dy, sites[-1] + 0.5 * dy]
        ax1.hist(self.final, bins=edges, weights=np.full(self.final.size, 1.0 / (self.final.size * dy)),
                 alpha=0.45, color="C0", label=f"simulated ({self.n_paths:,} walks)")
        keep = law.probabilities > 1e-7
        ax1.plot(law.positions[keep], law.probabilities[keep] / dy, ".", color="k", ms=3, zorder=4,
                 label="exact lattice law (master equation)")
        ax1.plot(xs, Normal(self.x0, s).pdf(xs), color="C3",  # the light law: no scipy.stats import
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
        object.__setattr__(self, "dy", check_positive("dy", self.dy, maximum=MAX_STATE))  # dy² stays finite
        object.__setattr__(self, "dt", check_positive("dt", self.dt, maximum=MAX_HORIZON))

    @property
    def c2(self) -> float:
        r""":math:`C^2 = \alpha\,\delta y^2/\delta t`, the diffusion coefficient of the limit heat equation."""
        return self.alpha * self.dy**2 / self.dt

    @property
    def period(self) -> int:
        r"""2 for :math:`\alpha = 1/2` (no stay move: after :math:`n` steps only the sites of the parity
        of :math:`n` are reached, every other one), else 1."""
        return 2 if self.alpha == 0.5 else 1

    @property
    def probabilities(self) -> tuple[float, float, float]:
        """``(p_down, p_stay, p_up)`` = ``(α, 1 − 2α, α)``."""
        return (self.alpha, 1.0 - 2.0 * self.alpha, self.alpha)

    def variance(self, t: float) -> float:
        r"""Variance :math:`2C^2 t` (exact on the lattice at :math:`t = n\,\delta t`)."""
        return 2.0 * self.c2 * check_finite("t", t)

    def limit(self, t: float, *, x0: float = 0.0) -> Any:
        r"""The Gaussian limit law :math:`N(x_0, 2C^2t)` (frozen SciPy distribution)."""
        return self.normal_limit(t, x0=x0).scipy()

    def normal_limit(self, t: float, *, x0: float = 0.0) -> Normal:
        """:meth:`limit` as a light :class:`~gelav.processes.laws.Normal` (the same numbers, no ``scipy.stats``
        import: start-up cost)."""
        t = check_positive("t", t)
        return Normal(x0, math.sqrt(2.0 * self.c2 * t))

    def law(self, n_steps: int, *, x0: float = 0.0) -> LatticeLaw:
        r"""Exact law after ``n_steps`` steps: the master equation solved by repeated convolution.

        :math:`P_n = k^{*n} * \delta_{x_0}` with kernel :math:`k = (\alpha, 1-2\alpha, \alpha)`,
        computed by binary powering of the convolution (exact up to rounding;
        the probabilities are the trinomial coefficients
        :math:`\sum_u \frac{n!}{u!\,d!\,(n-u-d)!}\alpha^{u+d}(1-2\alpha)^{n-u-d}`).
        """
        n = check_int("n_steps", n_steps, minimum=0)
        x0 = check_finite("x0", x0, maximum=MAX_STATE)
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
        from scipy import stats  # lazy: keeps `import gelav` light
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
        x0 = check_finite("x0", x0, maximum=MAX_STATE)
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
