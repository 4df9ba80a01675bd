r"""Calibration of the Cox–Ingersoll–Ross model by exact maximum likelihood.

For :math:`dL = \kappa(\bar L - L)\,dt + \sigma\sqrt{L}\,dW` observed at
:math:`t_0 < \dots < t_n` with any steps :math:`\Delta_i`, the transition law is a
scaled non-central :math:`\chi^2`: with

.. math::

    c_i = \frac{2\kappa}{\sigma^2(1 - e^{-\kappa\Delta_i})},\quad
    u_i = c_i x_i e^{-\kappa\Delta_i},\quad v_i = c_i x_{i+1},\quad
    q = \frac{2\kappa\bar L}{\sigma^2} - 1,

.. math::

    \log p(x_{i+1} \mid x_i) = \log c_i - (\sqrt{u_i} - \sqrt{v_i})^2
        + \tfrac q2 \log\frac{v_i}{u_i} + \log \tilde I_q\big(2\sqrt{u_i v_i}\big),

where :math:`\tilde I_q(z) = e^{-z} I_q(z)` is the exponentially scaled Bessel function
(``scipy.special.ive``), so the evaluation stays finite for arguments in the
thousands; entries where it under- or overflows fall back to
``scipy.stats.ncx2.logpdf``. The log-likelihood is maximised over
:math:`(\log\kappa, \log\bar L, \log\sigma)` by L-BFGS-B, with Nelder–Mead as fallback (budgeted; a failure
raises :class:`~gelav.errors.ConvergenceError` with the history). Standard errors
come from the observed information (central-difference Hessian), intervals are
Wald intervals on the log scale (the parameters are positive) with the
small-sample adjustments of :func:`~gelav.calibrate.fit_ou` for the upward bias
of :math:`\hat\kappa` (about :math:`4/T` on a span of :math:`T` years): the lower
end of the :math:`\kappa` interval is moved down by it, and the :math:`\bar L`
interval joined with a Student-t interval at the bias-corrected :math:`\tilde\kappa`
with :math:`\tilde\kappa T/2` degrees of freedom. The residuals
are probability-integral transforms :math:`\Phi^{-1}(F(x_{i+1} \mid x_i))`,
iid N(0, 1) under the model.

Units: years; :math:`\kappa` per year, :math:`\sigma` per square-root year and
square-root unit of the data.
"""

from __future__ import annotations

import math
import time as _time
import warnings
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from numpy.typing import ArrayLike, NDArray

from gelav.calibrate._common import observed_information, prepare, residual_tests, step_diagnostics
from gelav.calibrate._result import Named, ParametricFit
from gelav.errors import AccuracyWarning, ConvergenceError

__all__ = ["CIRFit", "cir_loglik", "fit_cir"]

#: Nelder–Mead iteration budget of :func:`fit_cir` (per start)
MAX_ITERATIONS = 4000


def cir_loglik(kappa: float, mean: float, sigma: float, dt: NDArray[np.float64], x0: NDArray[np.float64],
               x1: NDArray[np.float64]) -> NDArray[np.float64]:
    """Exact CIR transition log-densities :math:`\\log p(x_1 \\mid x_0)` over steps ``dt`` (per entry)."""
    from scipy import stats

    em = -np.expm1(-kappa * dt)
    c = 2.0 * kappa / (sigma**2 * em)
    u = c * x0 * np.exp(-kappa * dt)
    v = c * x1
    q = 2.0 * kappa * mean / sigma**2 - 1.0
    z = 2.0 * np.sqrt(u * v)
    with np.errstate(all="ignore"):
        out = np.log(c) - (np.sqrt(u) - np.sqrt(v)) ** 2 + 0.5 * q * np.log(v / u) + log_ive(q, z)
    bad = ~np.isfinite(out)
    if np.any(bad):  # last resort: the non-central χ² density of 2v (df 2q + 2, nc 2u)
        out[bad] = stats.ncx2.logpdf(2.0 * v[bad], 2.0 * q + 2.0, 2.0 * u[bad]) + np.log(2.0 * c[bad])
    return np.asarray(out, dtype=np.float64)


def log_ive(q: float, z: NDArray[np.float64]) -> NDArray[np.float64]:
    r""":math:`\log(e^{-z} I_q(z))`, finite for any order and argument.

    ``scipy.special.ive`` where it neither underflows nor overflows; elsewhere (large
    order :math:`q` with :math:`z \ll q`, e.g. :math:`\sigma \to 0`) Debye's uniform
    expansion, with :math:`s = \sqrt{q^2 + z^2}`, :math:`p = q/s`:

    .. math::

        \log I_q(z) = s + q\log\frac{z}{q + s} - \tfrac12\log(2\pi s)
        + \log\Big(1 + \frac{u_1(p)}{q} + \frac{u_2(p)}{q^2}\Big) + O(q^{-3}),

    :math:`u_1 = (3p - 5p^3)/24`, :math:`u_2 = (81p^2 - 462p^4 + 385p^6)/1152`.
    """
    from scipy import special

    z = np.asarray(z, dtype=float)
    with np.errstate(all="ignore"):
        b = special.ive(q, z)
        out = np.log(b)
    bad = ~np.isfinite(out) | (b < 1e-290)
    if np.any(bad) and q > 0:
        zb = z[bad]
        sq = np.hypot(q, zb)
        pp = q / sq
        u1 = (3 * pp - 5 * pp**3) / 24
        u2 = (81 * pp**2 - 462 * pp**4 + 385 * pp**6) / 1152
        with np.errstate(all="ignore"):
            out[bad] = (sq + q * np.log(zb / (q + sq)) - 0.5 * np.log(2 * np.pi * sq)
                        + np.log1p(u1 / q + u2 / q**2) - zb)
    return np.asarray(out, dtype=np.float64)


def _pit(kappa: float, mean: float, sigma: float, dt: NDArray[np.float64], x0: NDArray[np.float64],
         x1: NDArray[np.float64]) -> NDArray[np.float64]:
    """:math:`\\Phi^{-1}(F(x_1 \\mid x_0))`, computed from the lower or the upper tail for accuracy.

    Where the non-central :math:`\\chi^2` has more than :data:`NCX2_NORMAL` degrees of
    freedom plus non-centrality (a very smooth series: :math:`\\sigma^2` tiny against
    :math:`\\kappa\\bar L`), SciPy's distribution fails (NaN, or a wrong tail: 0.16 for
    0.31 at 1e12) and the standardised variable is used: the law is normal there to a
    skewness of :math:`2^{3/2}/\\sqrt{df + nc} < 10^{-4}`.
    """
    from scipy import special, stats

    em = -np.expm1(-kappa * dt)
    c = 2.0 * kappa / (sigma**2 * em)
    shape = np.shape(x1)
    df = np.broadcast_to(4.0 * kappa * mean / sigma**2, shape)
    nc = np.broadcast_to(2.0 * c * x0 * np.exp(-kappa * dt), shape)
    y = np.broadcast_to(2.0 * c * x1, shape)
    big = df + nc > NCX2_NORMAL
    z = np.empty(shape)
    if np.any(~big):
        lo = stats.ncx2.cdf(y[~big], df[~big], nc[~big])
        hi = stats.ncx2.sf(y[~big], df[~big], nc[~big])
        with np.errstate(all="ignore"):
            z[~big] = np.where(lo < 0.5, special.ndtri(lo), -special.ndtri(hi))
    if np.any(big):
        z[big] = (y[big] - (df[big] + nc[big])) / np.sqrt(2.0 * (df[big] + 2.0 * nc[big]))
    return np.asarray(np.clip(z, -38.0, 38.0), dtype=np.float64)


#: degrees of freedom plus non-centrality beyond which the CIR residuals use the normal limit
NCX2_NORMAL = 1e9


@dataclass(frozen=True, eq=False, repr=False)
class CIRFit(ParametricFit):
    r"""Exact maximum-likelihood fit of :math:`dL = \kappa(\bar L - L)\,dt + \sigma\sqrt{L}\,dW`.

    ``estimates`` holds ``kappa`` [1/year], ``mean`` (:math:`\bar L`, units of the data),
    ``sigma`` [√(units)/√year] and the derived ``half_life`` (:math:`\ln 2/\kappa`, years),
    ``stationary_sd`` (:math:`\sigma\sqrt{\bar L/2\kappa}`) and ``feller``
    (:math:`2\kappa\bar L/\sigma^2`; zero is unattainable when it is ≥ 1). See
    :class:`~gelav.calibrate._result.ParametricFit` for the other attributes.
    """

    model: ClassVar[str] = "cir"
    parameters: ClassVar[tuple[str, ...]] = ("kappa", "mean", "sigma")
    equation: ClassVar[str] = "dL = κ(L̄ − L)dt + σ√L dW"
    labels: ClassVar[dict[str, str]] = {
        "kappa": "κ mean reversion [1/y]", "mean": "L̄ long-run level", "sigma": "σ volatility [√units/√y]",
        "half_life": "half-life ln2/κ [y]", "stationary_sd": "stationary sd σ√(L̄/2κ)",
        "feller": "Feller ratio 2κL̄/σ²"}

    kappa = Named()
    mean = Named()
    sigma = Named()
    half_life = Named()
    stationary_sd = Named()
    feller = Named(r""":math:`2\kappa\bar L/\sigma^2` (≥ 1: the origin is unattainable).""")

    @property
    def process(self) -> Any:
        """The fitted :class:`~gelav.processes.CIR` (warns when the Feller condition fails)."""
        from gelav.processes import CIR

        return CIR(kappa=self.kappa, mean=self.mean, sigma=self.sigma)


def fit_cir(
    times_or_dates: ArrayLike | Any,
    values: ArrayLike | None = None,
    *,
    level: float = 0.95,
    lags: int | None = None,
    max_iterations: int = MAX_ITERATIONS,
) -> CIRFit:
    r"""Fit a CIR process by exact (non-central :math:`\chi^2`) maximum likelihood.

    .. math::

        dL_t = \kappa(\bar L - L_t)\,dt + \sigma\sqrt{L_t}\,dW_t,\qquad
        2c_iL_{t_{i+1}} \mid L_{t_i} \sim \chi'^2\Big(\tfrac{4\kappa\bar L}{\sigma^2},\
        2c_iL_{t_i}e^{-\kappa\Delta_i}\Big),\quad c_i = \tfrac{2\kappa}{\sigma^2(1 - e^{-\kappa\Delta_i})},

    with any (unequal) steps (see :mod:`gelav.calibrate.cir` for the stable evaluation).

    Parameters
    ----------
    times_or_dates : array_like or TimeSeries
        Times in years or dates (as for :func:`~gelav.calibrate.fit_ou`), strictly
        increasing; a :class:`~gelav.calibrate.TimeSeries` may be passed alone.
    values : array_like
        The observations, finite and > 0.
    level : float
        Confidence level of the intervals, in (0, 1).
    lags : int, optional
        Ljung–Box lags (default ``min(20, n // 5)``).
    max_iterations : int
        Nelder–Mead iteration budget per start.

    Returns
    -------
    CIRFit

    Raises
    ------
    ValueError
        Fewer than 10 points, a constant series, non-finite or non-positive values
        (naming the entry, or the file row for a TimeSeries), times not increasing,
        or a bad ``level``.
    ConvergenceError
        The optimiser did not converge within its budget (``history``: the objective).

    Warns
    -----
    AccuracyWarning
        The observed information is not positive definite, or the estimate lies at
        an extreme (no mean reversion detected).

    Examples
    --------
    >>> import numpy as np
    >>> from gelav import CIR
    >>> from gelav.calibrate import fit_cir
    >>> rng, proc = np.random.default_rng(1), CIR(kappa=1.5, mean=0.8, sigma=0.3)
    >>> x = [0.8]
    >>> for _ in range(1040): x.append(float(proc.transition(x[-1], 1 / 52).rvs(random_state=rng)))
    >>> fit = fit_cir(np.arange(1041) / 52, x)
    >>> bool(fit.conf_int["sigma"][0] < 0.3 < fit.conf_int["sigma"][1])
    True
    """
    t_start = _time.perf_counter()
    level = check_level(level)
    t, dates, x, src, notes = prepare(times_or_dates, values, model="CIR", positive=True)
    dt, x0, x1 = np.diff(t), x[:-1], x[1:]
    evals = [0]

    def ll(kappa: float, mean: float, sigma: float) -> float:
        evals[0] += 1
        if not (kappa > 0 and mean > 0 and sigma > 0):
            return -math.inf
        v = float(np.sum(cir_loglik(kappa, mean, sigma, dt, x0, x1)))
        return v if math.isfinite(v) else -math.inf

    start = _start(dt, x0, x1)
    p_hat, ll_hat, history, n_iter = _maximise_log(ll, start, max_iterations)
    kappa, mean, sigma = (float(v) for v in np.exp(p_hat))
    span = float(t[-1] - t[0])
    if kappa * span < 0.1 or kappa * float(dt.min()) > 20:
        msg = (f"κ̂ = {kappa:.3g}/y: " + ("no mean reversion detected over the span; L̄ is not identified."
                                         if kappa * span < 0.1 else "the series looks like white noise at this sampling."))
        warnings.warn(msg, AccuracyWarning, stacklevel=2)
        notes.append(msg)
    theta = np.array([kappa, mean, sigma])
    cov, ok = observed_information(lambda p: ll(float(p[0]), float(p[1]), float(p[2])), theta)
    if not ok:
        msg = "The observed information is not positive definite at the estimate; standard errors are not available."
        warnings.warn(msg, AccuracyWarning, stacklevel=2)
        notes.append(msg)
    from scipy import stats

    zq = float(stats.norm.ppf(0.5 + level / 2))
    se = np.sqrt(np.diag(cov))
    hl, ssd, fel = math.log(2) / kappa, sigma * math.sqrt(mean / (2 * kappa)), 2 * kappa * mean / sigma**2
    grads = {  # gradients in (kappa, mean, sigma) for the delta method
        "half_life": np.array([-math.log(2) / kappa**2, 0.0, 0.0]),
        "stationary_sd": np.array([-ssd / (2 * kappa), ssd / (2 * mean), ssd / sigma]),
        "feller": np.array([fel / kappa, fel / mean, -2 * fel / sigma]),
    }
    est = {"kappa": kappa, "mean": mean, "sigma": sigma, "half_life": hl, "stationary_sd": ssd, "feller": fel}
    stderr = {k: float(s) for k, s in zip(("kappa", "mean", "sigma"), se, strict=True)}
    for k, g in grads.items():
        stderr[k] = float(math.sqrt(max(float(g @ cov @ g), 0.0))) if ok else math.nan
    conf_int = {k: _log_wald(est[k], stderr[k], zq) for k in est}
    # Small-sample bias of κ̂, as for OU: E[κ̂] − κ ≈ b = (5 + 2e^{κΔ} + e^{2κΔ})/2T (Tang & Chen 2009), about
    # 4/T. The κ interval is widened downwards by it, and the L̄ interval joined with a Student-t interval
    # whose spread uses the bias-corrected κ̃ = κ̂²/(κ̂ + b) (sd of L̂ ∝ 1/κ) with N_eff = κ̃T/2 degrees of freedom.
    dbar = span / dt.size
    bias = (5.0 + 2.0 * math.exp(min(kappa * dbar, 50.0)) + math.exp(min(2 * kappa * dbar, 100.0))) / (2.0 * span)
    kappa_bc = kappa**2 / (kappa + bias)
    if ok:
        lo_k, hi_k = conf_int["kappa"]
        conf_int["kappa"] = (lo_k**2 / (lo_k + bias), hi_k)
        conf_int["half_life"] = (math.log(2) / hi_k, math.log(2) / conf_int["kappa"][0])
        n_eff = max(kappa_bc * span / 2.0, 1.0)
        tq = float(stats.t.ppf(0.5 + level / 2, n_eff))
        se_m = stderr["mean"] * kappa / kappa_bc
        lo_m, hi_m = conf_int["mean"]
        conf_int["mean"] = (max(min(lo_m, mean - tq * se_m), 0.0), max(hi_m, mean + tq * se_m))
    if kappa_bc * span / 2.0 < 2.0:
        notes.append(f"the series spans only {kappa_bc * span / 2.0:.2g} effective independent observations of the "
                     f"level (κ̃T/2 with T = {span:.3g} y): L̄ is poorly determined")
    z = _pit(kappa, mean, sigma, dt, x0, x1)
    gof = residual_tests(z, lags)
    if fel < 1:
        notes.append(f"the Feller condition fails (2κL̄/σ² = {fel:.3g} < 1): the process can touch 0")
    diagnostics = {
        "kappa_bias_first_order": bias, "kappa_bias_corrected": kappa_bc,
        "method": "exact maximum likelihood (non-central chi-square), L-BFGS-B (Nelder–Mead fallback) on "
                  "log-parameters; "
                  "observed information; log-scale Wald intervals",
        "likelihood_evaluations": evals[0], "iterations": n_iter, "start": list(map(float, start)),
        "information_positive_definite": ok, "objective_history_tail": history[-5:],
        **step_diagnostics(dt),
        "seconds": _time.perf_counter() - t_start,
    }
    return CIRFit(estimates=est, stderr=stderr, conf_int=conf_int, cov=cov, level=level, loglik=ll_hat,
                  times=t - t[0], values=x, dates=dates, residuals=z, goodness_of_fit=gof, notes=tuple(notes),
                  diagnostics=diagnostics, source=src)


def _grad_hess(f: Any, p: NDArray[np.float64], h: float) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Central-difference gradient and Hessian of ``f`` at ``p`` (step ``h`` in every coordinate)."""
    from gelav.calibrate._common import hessian

    k = p.size
    hs = np.full(k, h)
    g = np.array([(f(p + h * e) - f(p - h * e)) / (2 * h) for e in np.eye(k)])
    return g, hessian(f, p, hs)


def check_level(level: Any) -> float:
    if isinstance(level, bool) or not isinstance(level, (int, float, np.integer, np.floating)):
        raise TypeError(f"`level` must be a number in (0, 1), got {type(level).__name__}.")
    lv = float(level)
    if not (math.isfinite(lv) and 0.0 < lv < 1.0):
        raise ValueError(f"`level` must lie in (0, 1), got {level}.")
    return lv


def _log_wald(v: float, se: float, zq: float) -> tuple[float, float]:
    """Wald interval on the log scale, :math:`v\\,e^{\\pm z\\,se/v}` (positive quantities)."""
    if not (math.isfinite(se) and v > 0):
        return (math.nan, math.nan)
    r = min(zq * se / v, 700.0)
    return (v * math.exp(-r), v * math.exp(r))


def _start(dt: NDArray[np.float64], x0: NDArray[np.float64], x1: NDArray[np.float64]) -> NDArray[np.float64]:
    """Log-parameters from the AR(1) regression x1 = a + b x0 (mean step), for Nelder–Mead."""
    d = float(np.mean(dt))
    v0 = float(np.var(x0))
    b = float(np.cov(x0, x1, bias=True)[0, 1] / v0) if v0 > 0 else 0.5
    b = min(max(b, 1e-4), 1 - 1e-6)
    a = float(np.mean(x1) - b * np.mean(x0))
    kappa = -math.log(b) / d
    mean = a / (1 - b)
    if not mean > 0:
        mean = float(np.mean(x1))
    res = x1 - a - b * x0
    s2 = float(np.mean(res**2))
    sigma2 = s2 * 2 * kappa / max((1 - b * b) * mean, 1e-300)
    return np.log(np.array([kappa, mean, math.sqrt(max(sigma2, 1e-300))]))


def _maximise_log(ll: Any, start: NDArray[np.float64], max_iterations: int
                  ) -> tuple[NDArray[np.float64], float, list[float], int]:
    """Maximise ``ll(*exp(p))`` by Nelder–Mead from ``start`` (one restart); ConvergenceError on failure."""
    from scipy import optimize

    if isinstance(max_iterations, bool) or not isinstance(max_iterations, (int, np.integer)) or max_iterations < 10:
        raise ValueError(f"`max_iterations` must be an integer ≥ 10, got {max_iterations!r}.")
    history: list[float] = []

    def f(p: NDArray[np.float64]) -> float:
        with np.errstate(over="ignore"):  # a trial step to exp(p) = inf is a point of -inf likelihood, not noise
            u = np.exp(p)
        v = ll(*(float(w) for w in u))
        history.append(-v)
        return -v if math.isfinite(v) else 1e300

    p = np.asarray(start, dtype=float)
    # quasi-Newton first (about 70 evaluations from the regression start) ...
    res = optimize.minimize(f, p, method="L-BFGS-B",
                            options={"ftol": 1e-14, "gtol": 1e-8, "maxiter": int(max_iterations)})
    total = int(res.nit)
    # ... polished by Newton steps on central differences: L-BFGS-B's forward-difference gradient often stops
    # it ("abnormal termination in line search") a little short of the maximum
    q, fq = np.asarray(res.x, dtype=float), float(res.fun)
    for _ in range(4):
        g, H = _grad_hess(f, q, 1e-4)
        if not np.all(np.isfinite(H)) or np.any(np.linalg.eigvalsh(0.5 * (H + H.T)) <= 0):
            break
        step = -np.linalg.solve(H, g)
        f_new = f(q + step)
        if not f_new <= fq + 1e-9 * abs(fq):
            break
        q, fq = q + step, f_new
        total += 1
        if float(np.max(np.abs(step))) < 1e-7:
            return q, -fq, history, total
    # ... and Nelder–Mead with restarts as the fallback (they reset the simplex, which helps on curved ridges)
    p = q
    for _ in range(3):
        res = optimize.minimize(f, p, method="Nelder-Mead",
                                options={"xatol": 1e-8, "fatol": 1e-10, "maxiter": int(max_iterations),
                                         "maxfev": 4 * int(max_iterations)})
        total += int(res.nit)
        moved = float(np.max(np.abs(res.x - p)))
        p = res.x
        if res.success and moved < 1e-6:
            break
    assert res is not None
    if not res.success or not res.fun < 1e299:
        raise ConvergenceError(
            f"The likelihood maximisation did not converge in {max_iterations} iterations ({res.message}); "
            "raise `max_iterations` or check the data (units, outliers).", history=history)
    return p, float(-res.fun), history, total
