"""The one tridiagonal solve of the control-game sweeps (LAPACK ``?gttrf``/``?gttrs``).

Kept behind a single private function so the solver can be re-pointed at the
package's shared tridiagonal module without touching the sweeps.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy.linalg import lapack


def _solve_tridiagonal(sub: NDArray[np.float64], diag: NDArray[np.float64], sup: NDArray[np.float64],
                       b: NDArray[np.float64], *, transpose: bool = False) -> NDArray[np.float64]:
    """Solve :math:`M x = b` (or :math:`M^\\top x = b`) for the tridiagonal ``M``.

    ``sub[i] = M[i, i-1]`` (``sub[0]`` unused), ``diag[i] = M[i, i]``,
    ``sup[i] = M[i, i+1]`` (``sup[-1]`` unused), the layout of
    :class:`gelav.generator.Bands`.
    """
    dl, d, du, du2, ipiv, info = lapack.dgttrf(sub[1:], diag, sup[:-1])
    if info != 0:
        raise np.linalg.LinAlgError(f"Step matrix is singular (LAPACK dgttrf info={info}).")
    x, info = lapack.dgttrs(dl, d, du, du2, ipiv, b, trans="T" if transpose else "N")
    if info != 0:  # pragma: no cover - LAPACK argument error
        raise RuntimeError(f"LAPACK dgttrs failed (info={info}).")
    return np.asarray(x, dtype=np.float64)
