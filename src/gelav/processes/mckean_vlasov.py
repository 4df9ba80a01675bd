r"""McKean–Vlasov diffusions: drift that depends on the law of the process itself.

.. math::

    dX_t = b\big(t, X_t, m_t\big)\,dt + \sigma(t, X_t)\,dW_t, \qquad m_t = \Phi(\mu_t),

where :math:`\mu_t` is the law of :math:`X_t` and :math:`\Phi` a functional of
a measure (the mean by default). Seed 001's model is

.. math::

    dL = \kappa(\bar L - L)\,dt + \sigma\,dW + \lambda\big(E[L] - L\big)\,dt

(:class:`MeanFieldOU`): each LP's liquidity drifts towards the long-run level
and towards the cross-sectional mean. Its law stays Gaussian for a Gaussian
start: the mean follows the OU mean, :math:`m' = \kappa(\bar L - m)`, and the
variance solves :math:`v' = -2(\kappa+\lambda)v + \sigma^2`.

Three views, which the tests check against each other:

- :func:`simulate_particles` — the interacting particle system
  :math:`dX^i = b(t, X^i, \Phi(\mu^N_t))dt + \sigma dW^i` with the empirical
  measure :math:`\mu^N = \frac1N\sum_i\delta_{X^i}`;
- :func:`solve_fokker_planck` — the nonlinear Fokker–Planck equation
  :math:`\partial_t\rho = -\partial_x(b(t,x,\Phi(\rho))\rho) + \frac12\partial_x^2(\sigma^2\rho)`
  with gelav's forward machinery, the law-dependent drift updated every step by
  a predictor–corrector on :math:`m_t` (second order in time);
- :meth:`MeanFieldOU.law` — the exact Gaussian law.

:func:`propagation_of_chaos` measures how the particle system's empirical law
approaches the McKean–Vlasov law, :math:`O(1/\sqrt N)`, and fits the slope.
"""

from __future__ import annotations

import contextlib
import functools
import math
import time as _time
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from gelav._random import SeedLike, as_generator
from gelav._validation import (
    MAX_RATE,
    MAX_STATE,
    check_callable,
    check_finite,
    check_int,
    check_nonnegative,
    check_positive,
    check_rate,
)
from gelav.errors import ConvergenceError
from gelav.processes.base import Parametrised, Process
from gelav.processes.families import OrnsteinUhlenbeck
from gelav.processes.laws import Normal

__all__ = [
    "ChaosResult",
    "McKeanVlasov",
    "MeanFieldOU",
    "ParticleSystem",
    "check_euler_steps",
    "propagation_of_chaos",
    "simulate_particles",
    "solve_fokker_planck",
]

Functional = Callable[[NDArray[np.float64], NDArray[np.float64]], Any]


def mean_functional(x: NDArray[np.float64], w: NDArray[np.float64]) -> NDArray[np.float64]:
    r""":math:`\Phi(\mu) = \int x\,\mu(dx)` along the last axis (weights sum to 1)."""
    return np.sum(x * w, axis=-1)


class McKeanVlasov(Parametrised):
    r"""A diffusion whose drift reads a functional of its own law.

    .. math::

        dX_t = b(t, X_t, m_t)\,dt + \sigma(t, X_t)\,dW_t,\qquad m_t = \Phi(\mu_t).

    Parameters
    ----------
    drift : callable ``(t, x, m) -> array``
        :math:`b(t, x, m)`, vectorised in ``x``; ``m`` is the functional's value,
        broadcastable against ``x`` (shape ``(..., 1)`` for a batch of systems).
    diffusion : callable ``(t, x) -> array``
        :math:`\sigma(t, x)` (may not depend on the law).
    functional : callable ``(x, w) -> array``, optional
        :math:`\Phi` of a discrete measure :math:`\sum_i w_i\delta_{x_i}`, reducing the
        last axis (``w`` sums to 1 along it). Default the mean. It sees the
        particles (weights 1/N) and the PDE's node masses alike.
    domain : (float, float)
        State space.
    name : str, optional

    Examples
    --------
    >>> import numpy as np
    >>> mv = McKeanVlasov(lambda t, x, m: m - x, lambda t, x: 0.3 + 0 * x)
    >>> float(mv.measure(np.array([1.0, 3.0])))
    2.0
    """

    def __init__(
        self,
        drift: Callable[[float, NDArray[np.float64], Any], ArrayLike],
        diffusion: Callable[[float, NDArray[np.float64]], ArrayLike],
        *,
        functional: Functional | None = None,
        domain: tuple[float, float] = (-math.inf, math.inf),
        name: str | None = None,
    ) -> None:
        self._drift = check_callable("drift", drift)
        self._diffusion = check_callable("diffusion", diffusion)
        self.functional = mean_functional if functional is None else check_callable("functional", functional)
        lo, hi = float(domain[0]), float(domain[1])
        if math.isnan(lo) or math.isnan(hi) or not lo < hi:
            raise ValueError(f"`domain` must be an interval (lo, hi) with lo < hi, got {domain!r}.")
        self.domain = (lo, hi)
        self.name = name or type(self).__name__

    def drift(self, t: float, x: ArrayLike, m: Any) -> NDArray[np.float64]:
        """:math:`b(t, x, m)` broadcast to the shape of ``x``."""
        x = np.asarray(x, dtype=float)
        return np.broadcast_to(np.asarray(self._drift(t, x, m), dtype=float), x.shape).copy()

    def diffusion(self, t: float, x: ArrayLike) -> NDArray[np.float64]:
        x = np.asarray(x, dtype=float)
        return np.broadcast_to(np.asarray(self._diffusion(t, x), dtype=float), x.shape).copy()

    def measure(self, x: ArrayLike, w: ArrayLike | None = None) -> NDArray[np.float64]:
        """:math:`\\Phi` of the discrete measure with atoms ``x`` (last axis) and weights ``w`` (default uniform)."""
        x = np.asarray(x, dtype=float)
        if w is None:
            w = np.full(x.shape[-1], 1.0 / x.shape[-1])
        return np.asarray(self.functional(x, np.asarray(w, dtype=float)), dtype=float)

    def frozen(self, m: Callable[[float], Any] | float, *, name: str | None = None) -> Process:
        r"""The ordinary (time-dependent) diffusion with the law's functional given as :math:`m(t)`."""
        mf = m if callable(m) else (lambda t, _m=float(m): _m)  # type: ignore[misc]
        return Process(lambda t, x: self._drift(t, x, mf(t)), self._diffusion, domain=self.domain,
                       time_homogeneous=not callable(m), name=name or f"{self.name} (frozen law)")

    def law(self, t: float, initial: Any = 0.0) -> Any:
        """Exact law of :math:`X_t` when known (None otherwise)."""
        return None

    def normal_law(self, t: float, initial: Any = 0.0) -> Normal | None:
        """The exact law of :math:`X_t` as a :class:`~gelav.processes.laws.Normal` when it is Gaussian and
        known (None otherwise; needs ``t > 0`` or a spread-out ``initial``)."""
        return None

    def _euler_step(self, t: float, x: NDArray[np.float64], m: Any, dt: float, z: NDArray[np.float64],
                    work: NDArray[np.float64]) -> None:
        r"""One Euler step of the particles in place: :math:`x \mathrel{+}= b(t, x, m)\Delta t + \sigma(t, x)\sqrt{\Delta t}\,z`.

        ``m`` is the functional's value shaped to broadcast against ``x`` and
        ``work`` two scratch arrays shaped like ``x`` (a model may compute in them)."""
        b = self.drift(t, x, m)
        s = self.diffusion(t, x)
        x += b * dt + s * math.sqrt(dt) * z

    def cover_process(self) -> Process | None:
        """A process whose law covers this one's (for automatic domains), if known."""
        return None

    def euler_step_limit(self) -> float | None:
        r"""The Euler step :math:`\Delta t` at and beyond which the particles' deviations no longer contract
        monotonically (:math:`1 + \Delta t\,\partial_x b \le 0`), if known: :func:`simulate_particles`
        refuses such steps."""
        return None



def _initial_moments(initial: Any) -> tuple[float, float]:
    if isinstance(initial, (int, float, np.integer, np.floating)):
        return check_finite("initial", initial), 0.0
    if hasattr(initial, "mean") and hasattr(initial, "var") and hasattr(initial, "rvs"):
        return float(initial.mean()), float(initial.var())
    raise TypeError(f"`initial` must be a number or a frozen SciPy distribution, got {type(initial).__name__}.")


class MeanFieldOU(McKeanVlasov):
    r"""Seed 001's mean-field Ornstein–Uhlenbeck model.

    .. math::

        dL = \kappa(\bar L - L)\,dt + \lambda\big(E[L] - L\big)\,dt + \sigma\,dW.

    For :math:`L_0 \sim N(m_0, v_0)` the law stays Gaussian with

    .. math::

        m(t) = \bar L + (m_0 - \bar L)e^{-\kappa t}, \qquad
        v(t) = v_0 e^{-2(\kappa+\lambda)t} + \frac{\sigma^2}{2(\kappa+\lambda)}\big(1 - e^{-2(\kappa+\lambda)t}\big):

    the interaction leaves the mean on the OU path and tightens the spread.

    Parameters
    ----------
    kappa : float
        Mean reversion to :math:`\bar L`, per year, > 0.
    mean : float
        :math:`\bar L`.
    sigma : float
        Volatility per square-root year, > 0.
    lam : float
        Herding strength :math:`\lambda \ge 0` per year.

    Examples
    --------
    >>> mv = MeanFieldOU(0.45, 1.0, 0.32, lam=0.5)
    >>> law = mv.law(2.0, -0.5)
    >>> round(float(law.mean()), 4), round(float(law.var()), 5)
    (0.3901, 0.05269)
    """

    def __init__(self, kappa: float = 0.45, mean: float = 1.0, sigma: float = 0.32, lam: float = 0.5) -> None:
        # the bounds of OrnsteinUhlenbeck's (σ = 1e308 overflowed in the exact variance)
        self.kappa = check_rate("kappa", kappa)
        self.mean = check_finite("mean", mean, maximum=MAX_STATE)
        self.sigma = check_rate("sigma", sigma)
        if self.sigma**2 < np.finfo(float).tiny:  # the laws' variances underflow (1e-308: "scale=0.0")
            raise ValueError(f"`sigma` = {self.sigma:g} is too small: σ² underflows (use σ >= 1.5e-154).")
        self.lam = check_nonnegative("lam", lam)
        if self.lam > MAX_RATE:
            raise ValueError(f"`lam` = {self.lam:g} is out of range: it must be <= {MAX_RATE:g}.")
        k, m, s, lm = self.kappa, self.mean, self.sigma, self.lam
        super().__init__(lambda t, x, mu: k * (m - x) + lm * (mu - x), lambda t, x: np.full_like(x, s),
                         name="MeanFieldOU")
        self._coefficients = (k, m, s, lm)  # what the drift and diffusion above read

    def _euler_step(self, t: float, x: NDArray[np.float64], m: Any, dt: float, z: NDArray[np.float64],
                    work: NDArray[np.float64]) -> None:
        if type(self).drift is not McKeanVlasov.drift or type(self).diffusion is not McKeanVlasov.diffusion:
            return super()._euler_step(t, x, m, dt, z, work)  # a subclass with its own coefficients
        # The operations of the generic step, in the same order (the same bits), in two scratch arrays
        # instead of eight new ones: 9 passes over the particles instead of 17 (half the time of a step
        # but for the normal draws).
        k, mean, s, lm = self._coefficients
        b, c = work
        np.subtract(mean, x, out=b)
        b *= k  # κ(L̄ − x)
        np.subtract(m, x, out=c)
        c *= lm  # λ(m − x)
        b += c
        b *= dt
        np.multiply(z, s * math.sqrt(dt), out=c)  # σ√Δt z, as (σ√Δt)·z elementwise
        b += c
        x += b

    def exact_mean(self, t: float, m0: float) -> float:
        return self.mean + (m0 - self.mean) * math.exp(-self.kappa * t)

    def exact_var(self, t: float, v0: float = 0.0) -> float:
        r = self.kappa + self.lam
        return v0 * math.exp(-2 * r * t) + self.sigma**2 / (2 * r) * -math.expm1(-2 * r * t)

    def law(self, t: float, initial: Any = 0.0) -> Any:
        """Frozen normal law of :math:`L_t` for ``initial`` a point or a normal distribution."""
        loc, scale = self._law_moments(t, initial)
        from scipy import stats  # lazy: keeps `import gelav` light

        return stats.norm(loc=loc, scale=scale)

    def normal_law(self, t: float, initial: Any = 0.0) -> Normal:
        """:meth:`law` as a light :class:`~gelav.processes.laws.Normal` (the same numbers, no ``scipy.stats``
        import: start-up cost); needs a positive variance (``t > 0`` or a spread-out ``initial``)."""
        return Normal(*self._law_moments(t, initial))

    def _law_moments(self, t: float, initial: Any) -> tuple[float, float]:
        """Mean and standard deviation of :math:`L_t`."""
        t = check_nonnegative("t", t)
        m0, v0 = _initial_moments(initial)
        return self.exact_mean(t, m0), math.sqrt(self.exact_var(t, v0))

    def euler_moments(self, horizon: float, n_steps: int, initial: Any = 0.0) -> tuple[NDArray[np.float64],
                                                                                       NDArray[np.float64]]:
        r"""Mean and variance of the Euler particles' own law at every step (what :func:`simulate_particles`
        with ``scheme="euler"`` estimates; exact for this linear model).

        .. math::

            m_{n+1} = m_n + \Delta t\,\kappa(\bar L - m_n), \qquad
            v_{n+1} = (1 - (\kappa+\lambda)\Delta t)^2 v_n + \sigma^2\Delta t

        (the interaction leaves the mean alone; the sample variance about the empirical mean, with
        ``ddof=1``, has this expectation for any number of particles). Their distance from
        :meth:`exact_mean` and :meth:`exact_var` is the time-step bias, which the particles' standard
        errors do not include.
        """
        horizon = check_positive("horizon", horizon)
        n = check_int("n_steps", n_steps)
        dt = horizon / n
        m0, v0 = _initial_moments(initial)
        a = (1.0 - (self.kappa + self.lam) * dt) ** 2
        mean, var = np.empty(n + 1), np.empty(n + 1)
        mean[0], var[0] = m0, v0
        for k in range(n):
            mean[k + 1] = mean[k] + dt * self.kappa * (self.mean - mean[k])
            var[k + 1] = a * var[k] + self.sigma**2 * dt
        return mean, var

    def euler_step_limit(self) -> float:
        r""":math:`1/(\kappa + \lambda)`: an Euler step multiplies a deviation by :math:`1 - (\kappa+\lambda)\Delta t`
        (λ = 3e9 on 200 steps over 2 years overflowed to NaN)."""
        return 1.0 / (self.kappa + self.lam)

    def cover_process(self) -> Process:
        # Same mean path, larger variance: its quantiles cover the McKean–Vlasov law.
        return OrnsteinUhlenbeck(self.kappa, self.mean, self.sigma)

    def params(self) -> dict[str, float]:
        return {"kappa": self.kappa, "mean": self.mean, "sigma": self.sigma, "lam": self.lam}


# -----------------------------------------------------------------------------
# Interacting particles
# -----------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class ParticleSystem:
    """Result of :func:`simulate_particles`.

    Attributes
    ----------
    times : ndarray (n_steps + 1,)
        Step dates (years).
    m : ndarray (n_steps + 1, n_systems)
        The functional :math:`\\Phi(\\mu^N_t)` of the empirical measure at every step.
    mean, var : ndarray (n_steps + 1, n_systems)
        Empirical mean and variance of the particles at every step.
    final : ndarray (n_systems, n_particles)
        Particle positions at the horizon.
    """

    times: NDArray[np.float64]
    m: NDArray[np.float64]
    mean: NDArray[np.float64]
    var: NDArray[np.float64]
    final: NDArray[np.float64]
    process: McKeanVlasov
    scheme: str
    diagnostics: dict[str, Any] = field(default_factory=dict)

    @property
    def n_particles(self) -> int:
        return int(self.final.shape[-1])

    def plot(self, *, initial: Any = None, ax: Any = None) -> Any:
        """Histogram of the particles at the horizon against the exact law (when known)."""
        from gelav.plot import new_axes

        fig, ax = new_axes(ax)
        x = self.final[0]
        ax.hist(x, bins=60, density=True, alpha=0.45, color="C0", label=f"{self.n_particles:,} particles")
        law = self.process.law(float(self.times[-1]), initial) if initial is not None else None
        if law is not None:
            g = np.linspace(x.min(), x.max(), 300)
            ax.plot(g, law.pdf(g), color="C3", label="exact McKean–Vlasov law")
        ax.set_xlabel("state x")
        ax.set_ylabel("density [1/unit of x]")
        ax.set_title(f"{self.process.name}: particles at t = {self.times[-1]:g} y")
        ax.legend()
        return fig


def _check_mv(process: McKeanVlasov) -> McKeanVlasov:
    if not isinstance(process, McKeanVlasov):
        raise TypeError(f"`process` must be a McKeanVlasov process, got {type(process).__name__}.")
    return process


def _sample_initial(initial: Any, shape: tuple[int, ...], rng: np.random.Generator) -> NDArray[np.float64]:
    if isinstance(initial, (int, float, np.integer, np.floating)):
        return np.full(shape, check_finite("initial", initial))
    if hasattr(initial, "ppf"):
        return np.asarray(initial.ppf(rng.random(shape)), dtype=float)
    raise TypeError(f"`initial` must be a number or a frozen SciPy distribution, got {type(initial).__name__}.")


#: normal draws from which :func:`_normal_draws` draws ahead in a thread
DRAW_AHEAD = 2**20


def _normal_draws(rng: np.random.Generator, shape: tuple[int, ...], n_steps: int
                  ) -> Generator[NDArray[np.float64], None, None]:
    """``n_steps`` arrays of standard normals of ``shape``: ``rng.standard_normal`` step after step (the same
    numbers), each valid until the next is asked for.

    From :data:`DRAW_AHEAD` draws on, with two CPUs, a thread draws a few steps ahead while the caller
    computes: the draws are most of a particle step's time (2·10⁷ of the default run: 0.2 s of its 0.28 s)
    and NumPy draws without the interpreter lock. The generator is only drawn from in that thread until
    the last draw; closing early stops it (the generator is then some blocks further on)."""
    size = math.prod(shape)
    if size * n_steps < DRAW_AHEAD or _usable_cpus() < 2:
        z = np.empty(shape)
        for _ in range(n_steps):
            rng.standard_normal(out=z)
            yield z
        return
    import queue
    import threading

    per = max(1, 2**18 // size)  # steps per block: blocks of ~2 MB, three of them
    blocks = [np.empty((per, *shape)) for _ in range(3)]
    free, stop = threading.Semaphore(len(blocks)), threading.Event()
    ready: queue.SimpleQueue[NDArray[np.float64] | BaseException] = queue.SimpleQueue()

    def fill() -> None:
        try:
            for i, start in enumerate(range(0, n_steps, per)):
                free.acquire()
                if stop.is_set():
                    return
                block = blocks[i % len(blocks)][:min(per, n_steps - start)]
                rng.standard_normal(out=block)
                ready.put(block)
        except BaseException as exc:  # raised in the caller
            ready.put(exc)

    thread = threading.Thread(target=fill, name="gelav-normal-draws", daemon=True)
    thread.start()
    try:
        for _ in range(0, n_steps, per):
            block = ready.get()
            if isinstance(block, BaseException):
                raise block
            yield from block
            free.release()  # the caller asked for the next draws: it is done with this block
    finally:
        stop.set()
        free.release()
        thread.join()


def _usable_cpus() -> int:
    from gelav._forked import usable_cpus

    return usable_cpus()


def check_euler_steps(mv: McKeanVlasov, horizon: float, n_steps: int, name: str = "n_steps") -> None:
    """Raise, naming ``name``, when Euler steps of ``horizon / n_steps`` reach the model's
    :meth:`McKeanVlasov.euler_step_limit` (no limit known: nothing to check)."""
    limit = mv.euler_step_limit()
    dt = horizon / n_steps
    if limit is not None and not dt < limit:
        raise ValueError(f"`{name}` = {n_steps} is too few for the Euler particles: Δt = {dt:.3g} is at least "
                         f"{limit:.3g}, where a step no longer contracts the deviations monotonically (they "
                         f"oscillate, and grow beyond twice it); take {name} > {math.floor(horizon / limit)}, "
                         f"or scheme='exact'.")


def simulate_particles(
    process: McKeanVlasov,
    initial: Any,
    horizon: float,
    n_steps: int,
    n_particles: int,
    *,
    n_systems: int = 1,
    scheme: str = "euler",
    seed: SeedLike = None,
) -> ParticleSystem:
    r"""Simulate ``n_systems`` independent systems of ``n_particles`` interacting particles.

    .. math::

        X^i_{n+1} = X^i_n + b\big(t_n, X^i_n, \Phi(\mu^N_{t_n})\big)\Delta t + \sigma(t_n, X^i_n)\sqrt{\Delta t}\,Z^i_n

    (``scheme="euler"``; weak order 1 in time). For :class:`MeanFieldOU`,
    ``scheme="exact"`` samples the exact transition of the linear particle
    system: the particle mean is an OU process with rate :math:`\kappa` driven by
    :math:`\bar W`, the deviations decay at :math:`\kappa+\lambda`, so the
    only error left is the :math:`O(1/\sqrt N)` of finitely many particles.

    Raises
    ------
    ValueError
        Bad sizes, an unknown scheme, ``scheme="exact"`` for another model, or Euler steps at or beyond
        :meth:`McKeanVlasov.euler_step_limit` (naming ``n_steps``).
    TypeError
        ``process`` is not a :class:`McKeanVlasov`.

    Examples
    --------
    >>> ps = simulate_particles(MeanFieldOU(lam=0.5), -0.5, 2.0, 50, 2000, seed=1)
    >>> bool(abs(ps.mean[-1, 0] - 0.390) < 0.03)
    True
    """
    t0 = _time.perf_counter()
    mv = _check_mv(process)
    horizon = check_positive("horizon", horizon)
    n_steps = check_int("n_steps", n_steps)
    n_particles = check_int("n_particles", n_particles, minimum=2)
    n_systems = check_int("n_systems", n_systems)
    if scheme not in ("euler", "exact"):
        raise ValueError(f"Unknown `scheme` {scheme!r}; particle schemes are 'euler', 'exact'.")
    if scheme == "exact" and not isinstance(mv, MeanFieldOU):
        raise ValueError("`scheme='exact'` is available for MeanFieldOU only; use scheme='euler'.")
    dt = horizon / n_steps
    if scheme == "euler":
        check_euler_steps(mv, horizon, n_steps)
    rng = as_generator(seed)
    shape = (n_systems, n_particles)
    x = _sample_initial(initial, shape, rng)
    w = np.full(n_particles, 1.0 / n_particles)
    times = np.linspace(0.0, horizon, n_steps + 1)
    M = np.empty((n_steps + 1, n_systems))
    mean = np.empty((n_steps + 1, n_systems))
    var = np.empty((n_steps + 1, n_systems))
    work = np.empty((2, *shape))

    def record(n: int, m: NDArray[np.float64]) -> None:
        M[n] = np.broadcast_to(m, (n_systems,))
        # x.mean(axis=1) and x.var(axis=1, ddof=1) as NumPy computes them (the same bits), sharing the sum
        total = np.add.reduce(x, axis=1)
        np.true_divide(total, n_particles, out=mean[n])
        dev = np.subtract(x, mean[n][:, None], out=work[0])
        np.multiply(dev, dev, out=dev)
        np.true_divide(np.add.reduce(dev, axis=1), n_particles - 1, out=var[n])

    if scheme == "exact":
        assert isinstance(mv, MeanFieldOU)
        ou_mv: MeanFieldOU = mv
        k, r = mv.kappa, mv.kappa + mv.lam
        ek, er = math.exp(-k * dt), math.exp(-r * dt)
        sk = mv.sigma * math.sqrt(-math.expm1(-2 * k * dt) / (2 * k))
        sr = mv.sigma * math.sqrt(-math.expm1(-2 * r * dt) / (2 * r))
    with contextlib.closing(_normal_draws(rng, shape, n_steps)) as draws:
        for n, z in enumerate(draws):
            m = np.asarray(mv.functional(x, w), dtype=float)
            record(n, m)
            if scheme == "euler":
                mv._euler_step(times[n], x, m[..., None] if m.ndim else m, dt, z, work)
            else:
                xbar = x.mean(axis=1, keepdims=True)
                zbar = z.mean(axis=1, keepdims=True)
                new_bar = ou_mv.mean + (xbar - ou_mv.mean) * ek + sk * zbar
                x = new_bar + (x - xbar) * er + sr * (z - zbar)
    record(n_steps, np.asarray(mv.functional(x, w), dtype=float))
    return ParticleSystem(times=times, m=M, mean=mean, var=var, final=x, process=mv, scheme=scheme,
                          diagnostics={"n_particles": n_particles, "n_systems": n_systems, "n_steps": n_steps,
                                       "dt": dt, "seconds": _time.perf_counter() - t0})


# -----------------------------------------------------------------------------
# Nonlinear Fokker–Planck
# -----------------------------------------------------------------------------
#: the corrector's passes per step at most (each a step with the law's value at its θ-point)
CORRECTOR_ITERATIONS = 50
#: it stops when the law's value at the step's end moves by at most this, relative to max(1, |m|)
CORRECTOR_TOL = 1e-12


def _law_domain(mv: McKeanVlasov, initial: Any, pts: NDArray[np.float64], horizon: float, tail: float
                ) -> tuple[float, float] | None:
    """The interval holding all but ``tail`` of an exact Gaussian law (:meth:`McKeanVlasov.normal_law`) at 40
    times over the horizon and the start's ``pts``, widened by 2 % as :func:`gelav.fd.grid.auto_domain` does;
    None without an exact law. The cover process's domain is far wider where the interaction tightens the
    law (λ = 100: the OU of κ alone spans 5.6 against 1.2, 1.8 PDE cells per standard deviation, the mean
    20 % off)."""
    lo, hi = float(pts.min()), float(pts.max())
    for t in horizon * np.linspace(0.0, 1.0, 41)[1:]:
        law = mv.normal_law(float(t), initial)
        if law is None:
            return None
        lo, hi = min(lo, float(law.ppf(tail / 2))), max(hi, float(law.isf(tail / 2)))
    width = hi - lo
    lo, hi = max(lo - 0.02 * width, mv.domain[0]), min(hi + 0.02 * width, mv.domain[1])
    return (lo, hi) if lo < hi else None


def solve_fokker_planck(
    process: McKeanVlasov,
    initial: Any,
    horizon: float,
    *,
    n_cells: int = 400,
    n_steps: int = 200,
    domain: tuple[float, float] | None = None,
    scheme: str = "cn",
    corrector: bool = True,
    tail: float = 1e-10,
) -> Any:
    r"""Solve the nonlinear Fokker–Planck equation of a McKean–Vlasov process.

    .. math::

        \partial_t\rho = -\partial_x\big(b(t, x, \Phi(\rho_t))\,\rho\big)
        + \tfrac12\partial_x^2\big(\sigma^2\rho\big).

    Each step :math:`[t_n, t_{n+1}]` of gelav's θ-scheme (Crank–Nicolson with
    Rannacher start, generator at the step midpoint, :mod:`gelav.fd.stepping`) is
    first taken with :math:`m = \Phi(p_n)` (the predictor). The corrector then finds the
    law's value :math:`y` at the step's end that reproduces itself,
    :math:`y = \Phi(p_{n+1})` with :math:`p_{n+1}` the step taken with the θ-point value
    :math:`(1-\theta)\Phi(p_n) + \theta y` (secant iterations from the predictor, to
    :data:`CORRECTOR_TOL`, at most :data:`CORRECTOR_ITERATIONS`). For a drift linear in
    :math:`x` and the mean, the interaction then drops out of the mean's update exactly as
    in the dynamics, at any :math:`\lambda\Delta t`. (A single midpoint pass slowed the mean
    by :math:`1/(1 + \lambda\Delta t/2)` in the damping steps: 20 % off at λ = 100 on 200
    steps.) Order 2 in space and time (``corrector=False``: order 1 in time).

    Parameters
    ----------
    process : McKeanVlasov
    initial : float or frozen SciPy distribution
        Point mass or initial law.
    horizon : float
        Years, > 0.
    n_cells, n_steps : int
        Space cells and time steps.
    domain : (float, float), optional
        Default: automatic, from the exact law where the model has a Gaussian one
        (:meth:`McKeanVlasov.normal_law`: all but ``tail`` of it over the horizon), else
        from :meth:`McKeanVlasov.cover_process` (required for a model that has neither).
    scheme : {"cn", "euler"}
    corrector : bool
        Use the predictor–corrector (default True).

    Returns
    -------
    Density
        With ``diagnostics["m"]`` the functional :math:`\Phi(p_n)` at every saved time.

    Raises
    ------
    ValueError
        Bad sizes or no domain for a model without an exact law or a cover process.
    gelav.errors.ConvergenceError
        The corrector did not settle within :data:`CORRECTOR_ITERATIONS` passes (``history``: the time and
        the last change).

    Examples
    --------
    >>> mv = MeanFieldOU(lam=0.5)
    >>> d = solve_fokker_planck(mv, -0.5, 2.0, n_cells=200, n_steps=100)
    >>> abs(d.var() - mv.exact_var(2.0)) < 1e-3
    True
    """
    from gelav.density import Density
    from gelav.fd.generator import Generator
    from gelav.fd.grid import TimeGrid, auto_domain, grid_for
    from gelav.fd.stepping import Stepper
    from gelav.pde.forward import initial_masses

    t_start = _time.perf_counter()
    mv = _check_mv(process)
    horizon = check_positive("horizon", horizon)
    n_cells = check_int("n_cells", n_cells, minimum=4)
    n_steps = check_int("n_steps", n_steps)
    if domain is None:
        if isinstance(initial, (int, float, np.integer, np.floating)):
            pts = np.array([float(initial)])
        else:
            pts = np.array([float(initial.ppf(tail / 2)), float(initial.isf(tail / 2))])
        exact = _law_domain(mv, initial, pts, horizon, tail)
        if exact is not None:
            lo, hi = exact
        else:
            cover = mv.cover_process()
            if cover is None:
                raise ValueError(f"{mv.name} has no automatic domain; pass `domain=(lo, hi)`.")
            lo, hi = auto_domain(cover, pts, horizon, tail=tail)
    else:
        lo, hi = check_finite("domain[0]", domain[0]), check_finite("domain[1]", domain[1])
        if not lo < hi:
            raise ValueError(f"`domain` must satisfy lo < hi, got {domain!r}.")
    grid = grid_for(initial, lo, hi, n_cells)
    p = initial_masses(initial, grid)
    tg = TimeGrid.build(horizon, n_steps, scheme=scheme)
    x = grid.nodes

    def phi(masses: NDArray[np.float64]) -> Any:
        return mv.functional(x, masses / masses.sum())

    def step(p0: NDArray[np.float64], t0: float, t1: float, theta: float, m: Any) -> NDArray[np.float64]:
        gen = Generator(mv.frozen(m), grid)  # fresh chain: the law's value changes every step
        return Stepper(gen).step(t0, t1, theta).forward(p0)

    def corrected(p0: NDArray[np.float64], t0: float, t1: float, theta: float, m0: NDArray[np.float64],
                  y: Any) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """The step from ``p0`` with the θ-point value of the law's end value ``y``, and its Φ."""
        mid = (1.0 - theta) * m0 + theta * y
        q = step(p0, t0, t1, theta, mid if np.ndim(mid) else float(mid))
        return q, np.asarray(phi(q), dtype=float)

    masses = np.empty((tg.n_steps + 1, grid.n_nodes))
    ms = [phi(p)]
    masses[0] = p
    slope: Any = None  # dΦ(p_{n+1})/dy of the last step, and the (θ, Δt) it was measured at
    slope_at: tuple[float, float] | None = None
    for n in range(tg.n_steps):
        t0, t1, th = float(tg.times[n]), float(tg.times[n + 1]), float(tg.theta[n])
        m0 = np.asarray(ms[-1], dtype=float)
        taken = functools.partial(corrected, p, t0, t1, th, m0)
        if not corrector:
            p = step(p, t0, t1, th, m0 if np.ndim(m0) else float(m0))
        else:
            # The law's value at the step's end, y, solves y = Φ(step with the θ-point value (1 − θ)m₀ + θy):
            # then the interaction term of the mean's own update vanishes, as in the exact dynamics (one midpoint
            # pass slowed the mean by 1/(1 + λΔt/2) in the damping steps: λ = 100, 20 % off). Secant steps
            # (Picard contracts by only ~1 - 1/(λΔt) at a large λΔt). From the second step on, they start from
            # the extrapolated value and a Newton step with the last step's slope (the map is nearly linear in
            # y: two solves a step, as the plain corrector took); else from the predictor, Φ at y = m₀.
            if slope is not None and slope_at == (th, t1 - t0):
                y_prev = 2.0 * m0 - np.asarray(ms[-2], dtype=float)
                new, fx = taken(y_prev)
                g_prev = fx - y_prev
                with np.errstate(divide="ignore", invalid="ignore"):
                    y = np.where(slope != 1.0, y_prev - g_prev / (slope - 1.0), fx)
            else:
                new = step(p, t0, t1, th, m0 if np.ndim(m0) else float(m0))
                y_prev, y = m0, np.asarray(phi(new), dtype=float)
                g_prev = y - y_prev
            for _ in range(CORRECTOR_ITERATIONS):
                if not np.any(np.abs(g_prev) > CORRECTOR_TOL * max(1.0, float(np.max(np.abs(y_prev + g_prev))))):
                    y = y_prev  # the starting value reproduced itself
                    break
                new, fx = taken(y)
                g = fx - y
                change = float(np.max(np.abs(g)))
                dy = y - y_prev
                with np.errstate(divide="ignore", invalid="ignore"):
                    slope = np.where(dy != 0.0, 1.0 + (g - g_prev) / dy, 0.0)
                slope_at = (th, t1 - t0)
                if change <= CORRECTOR_TOL * max(1.0, float(np.max(np.abs(fx)))):
                    break
                dg = g - g_prev
                with np.errstate(divide="ignore", invalid="ignore"):
                    y_next = np.where(dg != 0.0, y - g * dy / dg, fx)
                y_prev, g_prev, y = y, g, y_next
            else:
                raise ConvergenceError(f"The corrector for the law's value did not settle in {CORRECTOR_ITERATIONS} "
                                       f"passes at t = {t1:g} (last change {change:.3g}); raise `n_steps`.",
                                       {"t": t1, "change": change})
            p = new
        masses[n + 1] = p
        ms.append(phi(p))
    zeros = np.zeros(tg.n_steps + 1)
    diag = {"n_nodes": grid.n_nodes, "n_steps": tg.n_steps, "scheme": scheme, "corrector": corrector,
            "m": np.asarray(ms, dtype=float), "mass_balance_error": abs(float(p.sum()) - float(masses[0].sum())),
            "min_mass": float(masses.min()), "seconds": _time.perf_counter() - t_start}
    return Density(grid=grid, times=np.asarray(tg.times).copy(), masses=masses, absorbed_lower=zeros,
                   absorbed_upper=zeros.copy(), killed=zeros.copy(), process=mv, diagnostics=diag,
                   inputs={"initial": initial if isinstance(initial, (int, float)) else type(initial).__name__,
                           "horizon": horizon, "domain": (grid.lower, grid.upper)})


# -----------------------------------------------------------------------------
# Propagation of chaos
# -----------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class ChaosResult:
    r"""Error of the N-particle empirical law against the McKean–Vlasov law.

    Attributes
    ----------
    n_particles : ndarray
        The system sizes N.
    mean_error : ndarray
        Root-mean-square over systems of :math:`\bar X^N_T - m(T)`.
    var_error : ndarray
        Root-mean-square of the empirical variance minus :math:`v(T)`.
    ks : ndarray
        Mean Kolmogorov–Smirnov distance between the empirical law and the exact law.
    ks_stderr : ndarray
        Standard error of ``ks`` over the systems.
    slope, slope_mean, slope_var : float
        Fitted log–log slopes of ``ks``, ``mean_error`` and ``var_error`` against N (theory −1/2).
    n_systems : int
        Independent systems per size (the root-mean-squares and standard errors are over them).
    diagnostics : dict
        The scheme, the time steps and the run time (``seconds``).
    """

    n_particles: NDArray[np.int64]
    mean_error: NDArray[np.float64]
    var_error: NDArray[np.float64]
    ks: NDArray[np.float64]
    ks_stderr: NDArray[np.float64]
    slope: float
    slope_mean: float
    slope_var: float
    n_systems: int
    diagnostics: dict[str, Any] = field(default_factory=dict)

    def table(self) -> list[dict[str, float]]:
        return [{"N": int(n), "ks": float(k), "ks_stderr": float(s), "mean_rmse": float(a), "var_rmse": float(b)}
                for n, k, s, a, b in zip(self.n_particles, self.ks, self.ks_stderr, self.mean_error, self.var_error, strict=True)]

    def plot(self, *, ax: Any = None) -> Any:
        """Log–log error against N with the fitted slopes and a 1/√N guide."""
        from gelav.plot import new_axes

        fig, ax = new_axes(ax)
        N = self.n_particles.astype(float)
        ax.errorbar(N, self.ks, yerr=2 * self.ks_stderr, marker="o", label=f"KS distance (slope {self.slope:.3f})")
        ax.loglog(N, self.mean_error, marker="s", label=f"RMS error of the mean (slope {self.slope_mean:.3f})")
        ax.loglog(N, self.var_error, marker="^", label=f"RMS error of the variance (slope {self.slope_var:.3f})")
        ax.loglog(N, self.ks[0] * np.sqrt(N[0] / N), "k--", lw=1, label=r"$\propto 1/\sqrt{N}$")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("number of particles N")
        ax.set_ylabel("error at the horizon [units of x]")
        ax.set_title("Propagation of chaos: particles → McKean–Vlasov law")
        ax.legend(fontsize=8)
        return fig


def _ks_distance(x: NDArray[np.float64], cdf: Callable[[NDArray[np.float64]], NDArray[np.float64]]) -> NDArray[np.float64]:
    xs = np.sort(x, axis=-1)
    n = xs.shape[-1]
    F = cdf(xs)
    i = np.arange(1, n + 1)
    return np.maximum((i / n - F).max(axis=-1), (F - (i - 1) / n).max(axis=-1))


def propagation_of_chaos(
    process: McKeanVlasov,
    initial: Any,
    horizon: float,
    *,
    n_particles: Sequence[int] = (100, 400, 1600, 6400),
    n_systems: int = 40,
    n_steps: int = 50,
    scheme: str | None = None,
    reference: Any = None,
    seed: SeedLike = None,
) -> ChaosResult:
    r"""Measure the :math:`O(1/\sqrt N)` convergence of N interacting particles to the McKean–Vlasov law.

    For each N, ``n_systems`` independent particle systems are run to the
    horizon; their empirical laws are compared with the exact law (or
    ``reference``, a frozen distribution, e.g. from :func:`solve_fokker_planck`)
    by the Kolmogorov–Smirnov distance and the errors of the mean and the
    variance, and the log–log slopes against N are fitted (theory: −1/2).

    Examples
    --------
    >>> r = propagation_of_chaos(MeanFieldOU(lam=0.5), -0.5, 2.0, n_particles=(100, 400, 1600), n_systems=20, seed=1)
    >>> abs(r.slope + 0.5) < 0.15
    True
    """
    t0 = _time.perf_counter()
    mv = _check_mv(process)
    Ns = np.asarray([check_int("n_particles", n, minimum=2) for n in n_particles], dtype=np.int64)
    if Ns.size < 2:
        raise ValueError("`n_particles` needs at least two sizes to fit a slope.")
    n_systems = check_int("n_systems", n_systems, minimum=2)
    law = reference if reference is not None else mv.law(horizon, initial)
    if law is None:
        raise ValueError(f"{mv.name} has no exact law; pass `reference=` (e.g. a frozen distribution).")
    if scheme is None:
        scheme = "exact" if isinstance(mv, MeanFieldOU) else "euler"
    rng = as_generator(seed)
    ks, ks_se, me, ve = [], [], [], []
    m_T, v_T = float(law.mean()), float(law.var())
    for N in Ns:
        ps = simulate_particles(mv, initial, horizon, n_steps, int(N), n_systems=n_systems, scheme=scheme, seed=rng)
        d = _ks_distance(ps.final, law.cdf)
        ks.append(d.mean())
        ks_se.append(d.std(ddof=1) / math.sqrt(n_systems))
        me.append(math.sqrt(np.mean((ps.mean[-1] - m_T) ** 2)))
        ve.append(math.sqrt(np.mean((ps.var[-1] - v_T) ** 2)))
    logN = np.log(Ns.astype(float))
    fit = lambda e: float(np.polyfit(logN, np.log(e), 1)[0])  # noqa: E731
    return ChaosResult(n_particles=Ns, mean_error=np.asarray(me), var_error=np.asarray(ve), ks=np.asarray(ks),
                       ks_stderr=np.asarray(ks_se), slope=fit(ks), slope_mean=fit(me), slope_var=fit(ve),
                       n_systems=n_systems,
                       diagnostics={"scheme": scheme, "n_steps": n_steps, "seconds": _time.perf_counter() - t0})
