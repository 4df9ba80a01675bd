r"""Goodness-of-fit tests of the command-line defaults without ``scipy.stats`` (issue 16: start-up latency).

``import scipy.stats`` costs about 0.4 s, 1.7× a bare ``import scipy.linalg``, and the
residual tests and lattice checks that ``gelav calibrate`` and ``gelav trinomial``
print need only three things from it: the finite-n law of the two-sided
Kolmogorov–Smirnov statistic, the Jarque–Bera statistic and χ² tails
(``scipy.special.chdtrc``, which ``scipy.stats`` itself evaluates).

``scipy.special`` has the one-sided finite-n law (``smirnov``) and the two-sided
*limit* law (``kolmogorov``), not the two-sided finite-n one, and
``scipy.stats._ksstats`` (private) runs ``scipy.stats.__init__`` on import. So
:func:`ks_sf` evaluates the published exact formula itself: Durbin's matrix
(Durbin 1973, evaluated as Marsaglia, Tsang & Wang 2003, J. Stat. Softw. 8(18)),
about 30 lines. ``scipy.stats.kstwo`` (Simard & L'Ecuyer 2011) evaluates the same
matrix, or Pomeranz's exact recursion, where it is cheap (n ≤ 140, or
:math:`n d^{3/2} \le 1.4`) and approximations elsewhere (Pelz–Good,
:math:`2P(D_n^+ \ge d)`): tests/test_stats.py checks :func:`ks_sf` against it to
1e-10 where it is exact, against a 40-digit evaluation (and an extended-precision one
at n = 10⁴) where it approximates, and measures the approximations' error (Pelz–Good:
3.7e-10 at n = 10⁴ and d ≈ 0.009, 1.5e-7 at n = 500), which the exact value removes.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["jarque_bera", "ks_normal", "ks_sf"]

#: largest Durbin matrix (``2⌈nd⌉ − 1`` rows) and sample size evaluated exactly (~0.25 s at 801 rows); beyond,
#: ``scipy.stats.kstwo``
DURBIN_MAX_ROWS = 801
DURBIN_MAX_N = 1_000_000
#: above this n d², P(D_n ≥ d) is 2 P(D_n⁺ ≥ d) (``scipy.special.smirnov``): the probability of crossing both
#: bands, which that counts twice, is about e^{-6 n d²} ≈ 4e-11 of the answer there, while 1 − P(D_n < d)
#: would lose relative accuracy in the small tail (tests/test_stats.py checks both agree at the switch)
ONE_SIDED_FROM = 4.0


def ks_sf(n: int, d: float) -> float:
    r"""Exact :math:`P(D_n \ge d)` of the two-sided one-sample Kolmogorov–Smirnov statistic.

    :math:`D_n = \sup_x |F_n(x) - F(x)|` for ``n`` independent draws from a continuous
    law :math:`F` (distribution-free). Closed forms at the ends: 1 for
    :math:`d \le 1/(2n)` (:math:`D_n \ge 1/(2n)` always) and 0 for :math:`d \ge 1`;
    :math:`2P(D_n^+ \ge d)` for :math:`d \ge 1/2` (the two one-sided events are then
    disjoint) and for :math:`n d^2 > 4` (their overlap is below 1e-10 of the answer);
    otherwise :math:`1 - P(D_n < d)` by Durbin's matrix (:func:`_durbin_cdf`), exact up
    to rounding (about :math:`10^{-13}` at :math:`n = 10^4`). Matrices over
    :data:`DURBIN_MAX_ROWS` rows (:math:`n d \gtrsim 400`) or ``n`` over
    :data:`DURBIN_MAX_N` fall back on ``scipy.stats.kstwo``.

    Parameters
    ----------
    n : int
        Sample size, ≥ 1.
    d : float
        The statistic's value (dimensionless, a difference of probabilities).

    Returns
    -------
    float
        The p-value :math:`P(D_n \ge d)` in [0, 1] (NaN for NaN ``d``).
    """
    from gelav._validation import check_int

    n = check_int("n", n)
    d = float(d)
    if math.isnan(d):
        return math.nan
    if d >= 1.0:
        return 0.0
    if n * d <= 0.5:
        return 1.0
    if d >= 0.5 or n * d * d > ONE_SIDED_FROM:
        from scipy.special import smirnov

        return 2.0 * float(smirnov(n, d))
    if 2 * math.ceil(n * d) - 1 > DURBIN_MAX_ROWS or n > DURBIN_MAX_N:
        from scipy import (
            stats,  # Simard & L'Ecuyer's approximations: the exact matrix would take seconds
        )

        return float(stats.kstwo(n).sf(d))
    return min(1.0, max(0.0, 1.0 - _durbin_cdf(n, d)))


def _durbin_cdf(n: int, d: float) -> float:
    r""":math:`P(D_n < d)` by Durbin's matrix formula (Marsaglia, Tsang & Wang 2003).

    With :math:`t = nd`, :math:`k = \lceil t \rceil`, :math:`m = 2k - 1` and
    :math:`h = k - t \in [0, 1)`,

    .. math::

        P(D_n < d) = \frac{n!}{n^n}\,(H^n)_{kk}, \qquad
        H_{ij} = \frac{1}{(i - j + 1)!}\ (i - j + 1 \ge 0), \text{ else } 0,

    for :math:`1 \le i, j \le m`, except the first column :math:`H_{i1} = (1 - h^i)/i!`, the
    last row :math:`H_{mj} = (1 - h^{m-j+1})/(m-j+1)!` and the corner
    :math:`H_{m1} = (1 - 2h^m + \max(0, 2h - 1)^m)/m!`. :math:`H^n` grows like :math:`e^n`
    and :math:`n!/n^n` shrinks like :math:`e^{-n}`: both are carried as a mantissa and a
    binary exponent (rescaling by powers of 2 is exact), and only the column
    :math:`H^n e_k` is formed (repeated squaring, :math:`\lceil\log_2 n\rceil` products of
    :math:`m \times m` matrices).
    """
    t = n * d
    k = math.ceil(t)
    m = 2 * k - 1
    h = k - t
    inv_fact = np.empty(m + 1)  # 1/j!, each correctly rounded (exact integer factorials)
    f = 1
    for j in range(m + 1):
        f *= max(j, 1)
        inv_fact[j] = 1 / f
    i = np.arange(m)
    lag = i[:, None] - i[None, :] + 1
    H = np.where(lag >= 0, inv_fact[np.clip(lag, 0, m)], 0.0)
    h_pow = h ** np.arange(1, m + 1)  # h^1 .. h^m
    H[:, 0] -= h_pow * inv_fact[1:]
    H[-1, :] -= h_pow[::-1] * inv_fact[:0:-1]
    H[-1, 0] = (1.0 - 2.0 * h_pow[-1] + max(0.0, 2.0 * h - 1.0) ** m) * inv_fact[m]
    col, col_exp = np.zeros(m), 0
    col[k - 1] = 1.0
    power, power_exp = H, 0  # H^(2^j) = power · 2^power_exp
    rest = n
    while True:
        if rest & 1:
            col = power @ col
            col_exp += power_exp
            col, col_exp = _rescaled(col, col_exp)
        rest >>= 1
        if not rest:
            break
        power, power_exp = _rescaled(_square(power), 2 * power_exp)
    mant, exp = _factorial_over_power(n)
    return math.ldexp(float(col[k - 1]) * mant, col_exp + exp)


#: OpenBLAS (NumPy's and SciPy's wheels) multiplies on one thread when m·n·k ≤ 2^18, on every core above;
#: for products this small the second thread gains little on a quiet machine and, spinning between calls,
#: costs 30× the CPU when the cores are shared (0.2 ms → 6.7 ms for 181 rows at load 4)
_ONE_THREAD_PRODUCT = 1 << 18


def _square(a: np.ndarray) -> np.ndarray:
    """``a @ a`` for a square ``a``, in column blocks of at most :data:`_ONE_THREAD_PRODUCT` multiplications
    each when there are at most 512 rows (the same sums, each on one thread)."""
    m = a.shape[0]
    width = _ONE_THREAD_PRODUCT // (m * m)
    if width < 1 or width >= m:
        return a @ a
    out = np.empty_like(a)
    for j in range(0, m, width):
        out[:, j:j + width] = a @ a[:, j:j + width]
    return out


def _rescaled(a: np.ndarray, exp: int) -> tuple[np.ndarray, int]:
    """``a · 2^exp`` as ``(a', exp')`` with the largest entry of ``a'`` in [1/2, 1)."""
    _, e = math.frexp(float(np.max(np.abs(a))))
    return np.ldexp(a, -e), exp + e


def _factorial_over_power(n: int) -> tuple[float, int]:
    r""":math:`n!/n^n = \prod_{i=1}^n i/n` as ``(mantissa, binary exponent)`` (it underflows for n ≳ 750)."""
    mant, ex = np.frexp(np.arange(1, n + 1) / n)
    exp = int(ex.sum())
    while mant.size > 1:  # products of 64 mantissas in [1/2, 1) stay above 2^-64: no underflow
        mant = np.concatenate([mant, np.ones(-mant.size % 64)]).reshape(-1, 64).prod(axis=1)
        mant, ex = np.frexp(mant)
        exp += int(ex.sum())
    return float(mant[0]), exp


def _sample(z: ArrayLike, test: str) -> NDArray[np.float64]:
    """``z`` as a flat float array: at least one value, all finite (a NaN would give a NaN p-value)."""
    x = np.asarray(z, dtype=float).ravel()
    if x.size == 0:
        raise ValueError(f"`z` is empty: {test} needs at least one value.")
    if not np.all(np.isfinite(x)):
        i = int(np.flatnonzero(~np.isfinite(x))[0])
        raise ValueError(f"`z` must be finite for {test}, got {x[i]} at index {i}.")
    return x


def ks_normal(z: ArrayLike) -> tuple[float, float]:
    r"""Kolmogorov–Smirnov test of a sample against :math:`N(0, 1)`: ``(statistic, p-value)``.

    :math:`D_n = \max(D_n^+, D_n^-)` with :math:`D_n^+ = \max_i (i/n - \Phi(z_{(i)}))` and
    :math:`D_n^- = \max_i (\Phi(z_{(i)}) - (i - 1)/n)` over the sorted sample; the
    p-value is the exact :func:`ks_sf`. The statistic is that of
    ``scipy.stats.kstest(z, "norm")`` to the last bit; its p-value agrees with it
    where SciPy's is exact (tests/test_stats.py).
    """
    from scipy.special import ndtr

    x = np.sort(_sample(z, "the Kolmogorov–Smirnov test"))
    n = x.size
    cdf = ndtr(x)
    d_plus = float(np.max(np.arange(1.0, n + 1.0) / n - cdf))
    d_minus = float(np.max(cdf - np.arange(0.0, n) / n))
    d = max(d_plus, d_minus)
    return d, ks_sf(n, d)


def jarque_bera(z: ArrayLike) -> tuple[float, float]:
    r"""Jarque–Bera normality test: ``(statistic, p-value)``.

    :math:`JB = \frac n6\big(S^2 + \frac{K^2}{4}\big)` with the sample skewness
    :math:`S = m_3/m_2^{3/2}` and excess kurtosis :math:`K = m_4/m_2^2 - 3` (central
    moments :math:`m_r = \frac1n\sum (z_i - \bar z)^r`); p-value :math:`P(\chi^2_2 \ge JB)`.
    The numbers of ``scipy.stats.jarque_bera`` (tests/test_stats.py).
    """
    from scipy.special import chdtrc

    x = _sample(z, "the Jarque–Bera test")
    n = x.size
    dev = x - x.mean()
    dev = dev - dev.mean()  # a second pass removes the first mean's rounding (as scipy.stats does: the same bits)
    with np.errstate(over="ignore"):  # an overflowing variance is refused just below
        sq = dev**2
        m2 = float(np.mean(sq))
    if not 0.0 < m2 < math.inf:
        raise ValueError(f"`z` has {'no spread' if m2 == 0.0 else 'a variance that overflows'}: the Jarque–Bera "
                         "test needs a sample with a finite, positive variance.")
    skew = float(np.mean(sq * dev)) / m2**1.5
    kurt = float(np.mean(sq**2)) / m2**2 - 3.0
    jb = n / 6.0 * (skew**2 + kurt**2 / 4.0)
    return jb, float(chdtrc(2, jb))
