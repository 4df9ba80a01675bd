"""OU calibration: gelav.calibrate.fit_ou against statsmodels on the same series.

Equal weekly steps (20 years, κ = 0.45, L̄ = 1, σ = 0.32): the conditional MLE of
gelav equals OLS of x_{i+1} on x_i (statsmodels AutoReg); statsmodels ARIMA(1,0,0)
maximises the exact (stationary-start) likelihood. Irregular steps: statsmodels has
no exact unequal-step OU likelihood; gelav is compared with scipy's Nelder–Mead on
the full three-parameter likelihood.

Run:  python benchmarks/bench_calibrate.py     (needs statsmodels, a benchmark-only peer)
"""

from __future__ import annotations

import math
import time
import warnings

import numpy as np
from scipy import optimize

from gelav.calibrate import fit_ou

K, M, S = 0.45, 1.0, 0.32


def simulate(t, seed):
    rng = np.random.default_rng(seed)
    dt = np.diff(t)
    x = np.empty(t.size)
    x[0] = M + S / math.sqrt(2 * K) * rng.standard_normal()
    for i, d in enumerate(dt):
        x[i + 1] = M + (x[i] - M) * math.exp(-K * d) + S * math.sqrt(-math.expm1(-2 * K * d) / (2 * K)) * rng.standard_normal()
    return x


def ar_to_ou(phi, c, s2, dt):
    k = -math.log(phi) / dt
    return k, c / (1 - phi), math.sqrt(s2 * 2 * k / (1 - phi**2))


def timed(f, repeat=5):
    best = math.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = f()
        best = min(best, time.perf_counter() - t0)
    return out, best


def main():
    from statsmodels.tsa.ar_model import AutoReg
    from statsmodels.tsa.arima.model import ARIMA

    dt = 1 / 52
    t = np.arange(20 * 52 + 1) * dt
    x = simulate(t, 1)
    rows = []
    fit, tg = timed(lambda: fit_ou(t, x))
    rows.append(("gelav fit_ou (exact MLE + profile CIs)", fit.kappa, fit.mean, fit.sigma, tg))
    ar, ta = timed(lambda: AutoReg(x, lags=1, trend="c").fit())
    c, phi = ar.params
    s2 = float(np.mean(ar.resid**2))
    rows.append(("statsmodels AutoReg (OLS)", *ar_to_ou(phi, c, s2, dt), ta))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ari, tr = timed(lambda: ARIMA(x, order=(1, 0, 0)).fit(), repeat=2)
    const, phi2, s22 = ari.params
    rows.append(("statsmodels ARIMA(1,0,0) (exact MLE)", *ar_to_ou(phi2, const * (1 - phi2), s22, dt), tr))
    print("Equal weekly steps, 20 years (1041 observations)")
    print(f"{'method':42s} {'kappa':>9s} {'mean':>9s} {'sigma':>9s} {'time [ms]':>10s}")
    for r in rows:
        print(f"{r[0]:42s} {r[1]:9.5f} {r[2]:9.5f} {r[3]:9.5f} {1e3 * r[4]:10.1f}")
    print(f"|gelav - AutoReg| kappa {abs(rows[0][1] - rows[1][1]):.1e}, mean {abs(rows[0][2] - rows[1][2]):.1e}, "
          f"sigma {abs(rows[0][3] - rows[1][3]):.1e}")

    rng = np.random.default_rng(5)
    t2 = np.cumsum(np.concatenate(([0.0], rng.choice([1, 2, 3, 7, 14], size=1500) / 365.25)))
    x2 = simulate(t2, 2)
    fit2, tg3 = timed(lambda: fit_ou(t2, x2))

    def negll(p):
        k, m, s = p
        if k <= 0 or s <= 0:
            return np.inf
        d = np.diff(t2)
        v = s * s * -np.expm1(-2 * k * d) / (2 * k)
        r = x2[1:] - m - (x2[:-1] - m) * np.exp(-k * d)
        return 0.5 * np.sum(np.log(2 * np.pi * v) + r * r / v)

    nm, tn = timed(lambda: optimize.minimize(negll, [1.0, 0.5, 0.5], method="Nelder-Mead",
                                            options={"xatol": 1e-10, "fatol": 1e-12, "maxiter": 20000}), repeat=2)
    print("\nIrregular steps (1 to 14 days), 1501 observations")
    print(f"{'gelav fit_ou':42s} {fit2.kappa:9.5f} {fit2.mean:9.5f} {fit2.sigma:9.5f} {1e3 * tg3:10.1f}")
    print(f"{'scipy Nelder-Mead on the full likelihood':42s} {nm.x[0]:9.5f} {nm.x[1]:9.5f} {nm.x[2]:9.5f} {1e3 * tn:10.1f}")
    print(f"log-likelihood: gelav {fit2.loglik:.6f}, Nelder-Mead {-nm.fun:.6f}")


if __name__ == "__main__":
    main()
