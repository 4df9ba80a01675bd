"""Smooth counting: the cdf of a lattice law read between nodes, and fitted orders.

Part of :mod:`gelav.lattice` (see the package docstring for the methods).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray


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
