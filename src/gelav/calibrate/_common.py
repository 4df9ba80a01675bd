"""Numerics shared by the estimators: bounded maximisation, finite-difference Hessian, interval search."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

#: fewest observations the estimators accept (up to three parameters plus residual checks)
MIN_OBSERVATIONS = 10


#: the size range of a series' values a fit accepts (its sums of squares stay floats)
MIN_SCALE, MAX_SCALE = 1e-100, 1e100

def maximise(f: Any, lo: float, hi: float) -> tuple[float, float]:
    """Maximise f on [lo, hi] (Brent, bounded); returns (argmax, max)."""
    from scipy import optimize  # lazy: start-up cost

    res = optimize.minimize_scalar(lambda u: -f(u), bounds=(lo, hi), method="bounded",
                                   options={"xatol": 1e-9 * max(1.0, abs(hi - lo))})
    return float(res.x), float(-res.fun)


def hessian(f: Any, theta: NDArray[np.float64], h: NDArray[np.float64]) -> NDArray[np.float64]:
    """Central-difference Hessian (error O(h²))."""
    k = theta.size
    H = np.empty((k, k))
    f0 = f(theta)
    for i in range(k):
        ei = np.zeros(k)
        ei[i] = h[i]
        H[i, i] = (f(theta + ei) - 2 * f0 + f(theta - ei)) / h[i] ** 2
        for j in range(i + 1, k):
            ej = np.zeros(k)
            ej[j] = h[j]
            H[i, j] = H[j, i] = (
                f(theta + ei + ej) - f(theta + ei - ej) - f(theta - ei + ej) + f(theta - ei - ej)
            ) / (4 * h[i] * h[j])
    return H


def interval_side(g: Any, start: float, step: float, limit: float, n_expand: int = 60) -> float:
    """Root of g (negative at ``start``) moving from ``start`` in direction sign(step) up to ``limit``.

    Raises
    ------
    ValueError
        ``g(start)`` is not negative: the profile likelihood is not maximal at the estimate, so no
        interval can be read off it (seen where the series varies near the rounding of its values:
        ``1.5 + 1e-13 i`` brought SciPy's bare "f(a) and f(b) must have different signs").
    """
    g0 = g(start)
    if not g0 < 0:
        raise ValueError(
            "The likelihood is not maximal at the estimate to the precision of the data, so no confidence "
            "interval can be computed: the series varies by too little against the size of its values "
            "(subtract a level or change units), or it is not a path of the model.")
    a = start
    b = start + step
    for _ in range(n_expand):
        if (step > 0 and b >= limit) or (step < 0 and b <= limit):
            b = limit
            if g(b) <= 0:
                return float("nan")  # not bounded on this side
            break
        if g(b) > 0:
            break
        a, b = b, b + 2 * (b - a)
    else:
        return float("nan")
    from scipy import optimize

    if not g(b) > 0:  # NaN at the far end: the side cannot be closed
        return float("nan")
    return float(optimize.brentq(g, a, b, xtol=1e-10 * max(1.0, abs(b)), rtol=1e-9))



def acf(z: NDArray[np.float64], nlags: int) -> NDArray[np.float64]:
    zc = z - z.mean()
    d = float(zc @ zc)
    return np.array([float(zc[:-k] @ zc[k:]) / d for k in range(1, nlags + 1)])




# ---------------------------------------------------------------------------
# data preparation and diagnostics shared by fit_cir, fit_gbm and compare_models
# ---------------------------------------------------------------------------
def prepare(times_or_dates: Any, values: Any, *, model: str, positive: bool = False
            ) -> tuple[NDArray[np.float64], NDArray[Any] | None, NDArray[np.float64], dict[str, Any], list[str]]:
    """Validated ``(t, dates, x, source, notes)`` from a TimeSeries or from times and values.

    ``positive`` requires every value > 0 (CIR, GBM) and names the first offending entry.
    """
    from gelav.calibrate.io import TimeSeries, to_years

    src: dict[str, Any] = {}
    notes: list[str] = []
    rows: NDArray[np.int64] | None = None
    if isinstance(times_or_dates, TimeSeries):
        if values is not None:
            raise TypeError("Pass either a TimeSeries alone or `times_or_dates` and `values`.")
        ts = times_or_dates
        t, dates, x = ts.times.astype(float), ts.dates, ts.values.astype(float)
        src = {"data": ts.source, "date_column": ts.date_column, "value_column": ts.value_column}
        notes.extend(ts.notes)
        rows = ts.rows
    else:
        if values is None:
            raise TypeError("`values` is required unless a TimeSeries is passed.")
        t, dates = to_years(times_or_dates)
        if isinstance(values, (bool, np.bool_)):
            raise TypeError("`values` must be an array of numbers, got a bool.")
        try:
            x = np.asarray(values, dtype=float)
        except (TypeError, ValueError):
            raise ValueError("`values` must hold numbers.") from None
        if x.ndim != 1 or x.shape != t.shape:
            raise ValueError(f"`values` must be 1-D with one entry per time ({t.size}), got shape {x.shape}.")
    bad = np.flatnonzero(~np.isfinite(x))
    if bad.size:
        raise ValueError(f"`values`[{int(bad[0])}] = {x[bad[0]]} is not finite; drop missing values first.")
    bad = np.flatnonzero(~np.isfinite(t))
    if bad.size:
        raise ValueError(f"`times_or_dates`[{int(bad[0])}] is not finite.")
    if x.size < MIN_OBSERVATIONS:
        raise ValueError(f"The series is too short: {x.size} observation{'s' if x.size != 1 else ''}, at least "
                         f"{MIN_OBSERVATIONS} are needed to fit the {model} model and check the residuals.")
    steps = np.diff(t)
    bad = np.flatnonzero(steps <= 0)
    if bad.size:
        i = int(bad[0])
        raise ValueError(
            f"`times_or_dates` must be strictly increasing: entry {i + 1} ({t[i + 1]:.6g} y) does not come after "
            f"entry {i} ({t[i]:.6g} y); sort the data and keep one observation per date.")
    size = float(np.max(np.abs(x)))
    if not MIN_SCALE <= size <= MAX_SCALE:
        # the likelihood's sums of squares leave the float range (1e200: SciPy's "function value is NaN";
        # 1e-200: a math domain error)
        raise ValueError(f"The series' values reach {size:.3g}: fits need values within {MIN_SCALE:g} to "
                         f"{MAX_SCALE:g} in size; express the series in other units.")
    # relative to the series' own size (an absolute 1e-12 called a series of range 1.1e-13 constant)
    if float(np.ptp(x)) <= 1e-12 * float(np.max(np.abs(x))):
        raise ValueError(f"The series is constant (every value is {x[0]:g} to 12 digits); the {model} model "
                         "cannot be fitted.")
    if positive:
        bad = np.flatnonzero(x <= 0)
        if bad.size:
            i = int(bad[0])
            where = f"row {int(rows[i])} of {src.get('data')}" if rows is not None else f"`values`[{i}]"
            raise ValueError(f"The {model} model needs values > 0, but {where} is {x[i]:g} "
                             f"({bad.size} value{'s' if bad.size > 1 else ''} ≤ 0); fit the OU model instead.")
    return t, dates, x, src, notes


def residual_tests(z: NDArray[np.float64], lags: int | None, n_ar: int = 1) -> dict[str, dict[str, float]]:
    """Ljung–Box, Kolmogorov–Smirnov (vs N(0, 1), exact finite-n p-value) and Jarque–Bera of standardised
    residuals ``z`` (no ``scipy.stats``: start-up cost, see :mod:`gelav._stats`)."""
    from scipy.special import chdtrc

    from gelav._stats import jarque_bera, ks_normal

    n = z.size
    nl = int(lags) if lags is not None else max(1, min(20, n // 5))
    if isinstance(lags, bool) or nl < 1 or nl >= n:
        raise ValueError(f"`lags` must be between 1 and {n - 1}, got {lags}.")
    if not np.all(np.isfinite(z)) or float(np.ptp(z)) == 0.0:
        raise ValueError(
            f"The standardised residuals of the fitted model are {'not all finite' if not np.all(np.isfinite(z)) else f'all equal ({float(z[0]):.3g})'}: "
            "the series is not a path of this model (a deterministic trend, or noise below the values' "
            "rounding?); fit another model or check the data.")
    rho = acf(z, nl)
    q_lb = float(n * (n + 2) * np.sum(rho**2 / (n - np.arange(1, nl + 1))))
    df_lb = max(nl - n_ar, 1)
    ks, ks_p = ks_normal(z)
    jb, jb_p = jarque_bera(z)
    return {
        "ljung_box": {"statistic": q_lb, "pvalue": float(chdtrc(df_lb, q_lb)), "lags": float(nl), "df": float(df_lb)},
        "ks": {"statistic": ks, "pvalue": ks_p},
        "jarque_bera": {"statistic": jb, "pvalue": jb_p},
    }


def observed_information(f: Any, theta: NDArray[np.float64], rel: float = 1e-4,
                         steps: NDArray[np.float64] | None = None) -> tuple[NDArray[np.float64], bool]:
    """Inverse of minus the central-difference Hessian of the log-likelihood ``f`` at ``theta``.

    ``steps`` (default ``rel`` times each parameter; an exact zero steps by ``rel``) are also the
    parameters' scales: positive definiteness is tested and the inverse taken on the information in those
    scaled units, so parameters of very different sizes (a κ of 0.8 beside a CIR mean of 5e19) do not turn
    rounding into a negative eigenvalue. Returns ``(cov, ok)``; ``ok`` is False (and ``cov`` all NaN) when
    the information is not positive definite.
    """
    # steps relative to each parameter (an absolute floor of 1e-8 swamped a CIR mean of 1e-30)
    h = rel * np.where(theta != 0, np.abs(theta), 1.0) if steps is None else np.asarray(steps, dtype=float)
    H = hessian(f, theta, h)
    info = -0.5 * (H + H.T)
    d = h / rel
    scaled = info * np.outer(d, d)
    try:
        ok = bool(np.all(np.isfinite(scaled)) and np.all(np.linalg.eigvalsh(scaled) > 0))
        cov = np.linalg.inv(scaled) * np.outer(d, d) if ok else np.full(info.shape, np.nan)
        cov = 0.5 * (cov + cov.T)
    except np.linalg.LinAlgError:  # pragma: no cover - eigvalsh of a finite symmetric matrix
        ok, cov = False, np.full(info.shape, np.nan)
    return np.asarray(cov, dtype=np.float64), ok


def step_diagnostics(dt: NDArray[np.float64]) -> dict[str, Any]:
    """``min_step_years``, ``max_step_years`` and ``irregular_steps`` (spread of the steps over 1 % of
    their mean) of the observation steps ``dt`` [years], for a fit's diagnostics."""
    return {"min_step_years": float(dt.min()), "max_step_years": float(dt.max()),
            "irregular_steps": bool(float(np.ptp(dt) / np.mean(dt)) > 0.01)}


def aic_bic(loglik: float, k: int, n: int) -> tuple[float, float]:
    """Akaike and Bayesian (Schwarz) information criteria, ``2k − 2ℓ`` and ``k log n − 2ℓ``."""
    import math

    return 2.0 * k - 2.0 * loglik, k * math.log(n) - 2.0 * loglik
