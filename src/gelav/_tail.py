r"""Value at risk and expected shortfall of the state at a horizon, from the exact law or from PDE densities.

The conventions are those of :meth:`gelav.density.Density.value_at_risk`: on the
``"lower"`` side (stress is *low* :math:`L`) the VaR at level :math:`\alpha` is the
:math:`1 - \alpha` quantile and the ES is :math:`E[L \mid L \le \mathrm{VaR}_\alpha]`;
on the ``"upper"`` side the :math:`\alpha` quantile and :math:`E[L \mid L \ge \mathrm{VaR}_\alpha]`.
Values are in units of the state.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from gelav.processes.protocol import ProcessLike

__all__ = ["check_levels", "density_tail", "exact_tail"]


def check_levels(levels: Sequence[float] | None) -> tuple[float, ...]:
    """The VaR/ES confidence levels as floats in (0, 1), without repeats (``ValueError`` naming `levels`)."""
    if levels is None:
        return ()
    out: list[float] = []
    for v in levels:
        if (
            isinstance(v, bool)
            or not isinstance(v, (int, float))
            or not (math.isfinite(v) and 0.0 < v < 1.0)
        ):
            raise ValueError(
                f"`levels` (VaR/ES confidence levels) must lie in (0, 1), e.g. 0.95,0.99; got {v!r}."
            )
        if float(v) in out:
            raise ValueError(f"`levels` names {v!r} twice.")
        out.append(float(v))
    return tuple(out)


def exact_tail(process: ProcessLike, x0: float, t: float, level: float, side: str) -> tuple[float, float]:
    r"""(VaR, ES) of the exact transition law :math:`X_t \mid X_0 = x_0`.

    Gaussian laws in closed form: with :math:`m, s` the conditional mean and sd,
    :math:`z = \Phi^{-1}(1 - \alpha)`, lower :math:`\mathrm{VaR} = m + s z`,
    :math:`\mathrm{ES} = m - s\,\varphi(z)/(1 - \alpha)` (the upper side by symmetry);
    other laws (GBM, CIR) by SciPy's ``ppf`` and the conditional expectation
    :math:`\int x\,p(x)\,dx / (1 - \alpha)` over the tail (adaptive quadrature).
    """
    from scipy import stats

    from gelav.processes.protocol import gaussian_law

    normal = gaussian_law(process, x0, t)
    tail = 1.0 - level
    if normal is not None:
        m, s = float(normal[0]), float(normal[1])
        z = float(stats.norm.ppf(level))
        sign = -1.0 if side == "lower" else 1.0
        return m + sign * s * z, m + sign * s * float(stats.norm.pdf(z)) / tail
    law = cast(Any, process).transition(x0, t)  # the exact law (a capability, checked by the caller)
    if side == "lower":
        var = float(law.ppf(tail))
        es = float(law.expect(lambda x: x, ub=var, conditional=True))
    else:
        var = float(law.ppf(level))
        es = float(law.expect(lambda x: x, lb=var, conditional=True))
    return var, es


def density_tail(densities: Sequence[Any], t: float, level: float, side: str) -> dict[str, float]:
    r"""VaR and ES at saved time ``t`` of the finest of three nested-grid densities (N/4, N/2, N cells),
    with refinement error estimates.

    Both are second order in the cell width, but the VaR's error constant depends on
    where the quantile falls in its cell (see ``tests/test_tail_risk.py``), so the
    differences :math:`d_1 = v_{N/2} - v_{N/4}`, :math:`d_2 = v_N - v_{N/2}` do not
    shrink by a steady factor 4. The estimate is the larger of :math:`|d_2|` and
    :math:`|d_1|/4` (the fine error if the second order held from the coarse pair):
    about 2-3 times the error of the ES, and an upper bound of the VaR's scattered error
    in the OU and CIR checks.
    """

    def estimate(f: Any) -> tuple[float, float]:
        v = [f(d) for d in densities[-3:]]
        return v[-1], max(abs(v[2] - v[1]), abs(v[1] - v[0]) / 4.0)

    var, var_err = estimate(lambda d: d.value_at_risk(level, t, side=side))
    es, es_err = estimate(lambda d: d.expected_shortfall(level, t, side=side))
    return {"var": var, "es": es, "var_error_estimate": var_err, "es_error_estimate": es_err}
