r"""A light frozen normal law, numerically identical to ``scipy.stats.norm(loc, scale)``.

``scipy.stats`` costs seconds to import; the normal law needs only :math:`\Phi`
and :math:`\Phi^{-1}` (``scipy.special.ndtr`` / ``ndtri``, which ``scipy.stats.norm``
itself evaluates, in the same order of operations, so the numbers agree to the
last bit). Used where a solver needs a starting or exact Gaussian law on the
command line's default path (the mean-field game's starting laws and domain).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["Normal"]


@dataclass(frozen=True)
class Normal:
    r"""The normal law :math:`N(\text{loc}, \text{scale}^2)` with the frozen-distribution methods solvers use.

    ``cdf``, ``sf``, ``pdf``, ``ppf``, ``isf``, ``mean``, ``std``, ``var``: as
    ``scipy.stats.norm(loc, scale)``; ``scipy()`` returns that frozen law for anything else.
    """

    loc: float = 0.0
    scale: float = 1.0

    def __post_init__(self) -> None:
        if not (math.isfinite(self.loc) and math.isfinite(self.scale) and self.scale > 0):
            raise ValueError(f"Normal law needs a finite `loc` and a positive finite `scale`, "
                             f"got loc={self.loc}, scale={self.scale}.")

    def _z(self, x: ArrayLike) -> Any:
        return (np.asarray(x, dtype=float) - self.loc) / self.scale

    def cdf(self, x: ArrayLike) -> Any:
        from scipy.special import ndtr

        return ndtr(self._z(x))

    def sf(self, x: ArrayLike) -> Any:
        from scipy.special import ndtr

        return ndtr(-self._z(x))

    def pdf(self, x: ArrayLike) -> Any:
        z = self._z(x)
        return np.exp(-(z**2) / 2.0) / np.sqrt(2 * np.pi) / self.scale

    def ppf(self, q: ArrayLike) -> Any:
        from scipy.special import ndtri

        return ndtri(np.asarray(q, dtype=float)) * self.scale + self.loc

    def isf(self, q: ArrayLike) -> Any:
        from scipy.special import ndtri

        return -ndtri(np.asarray(q, dtype=float)) * self.scale + self.loc

    def mean(self) -> float:
        return self.loc

    def std(self) -> float:
        return self.scale

    def var(self) -> float:
        return self.scale**2

    def scipy(self) -> Any:
        """The same law as a ``scipy.stats`` frozen distribution (imports ``scipy.stats``)."""
        from scipy import stats

        return stats.norm(self.loc, self.scale)
