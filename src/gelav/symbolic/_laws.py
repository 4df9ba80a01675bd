r"""Exact laws for lambdified processes: recognised families and SciPy distributions from densities.

A symbolic model with numeric parameters is matched against the built-in families

* ``"ou"``: :math:`b = \alpha + \beta x` with :math:`\beta < 0`, constant :math:`\sigma` --
  :class:`~gelav.processes.OrnsteinUhlenbeck` with :math:`\kappa = -\beta`, :math:`\bar x = \alpha/\kappa`
  (stationary law :math:`N(\bar x, \sigma^2/2\kappa)`);
* ``"bm"``: constant :math:`b` and :math:`\sigma` -- :class:`~gelav.processes.BrownianMotion`;
* ``"gbm"``: :math:`b = \mu x`, :math:`\sigma = s x` on :math:`(0, \infty)` --
  :class:`~gelav.processes.GeometricBrownianMotion`;
* ``"cir"``: :math:`b = \alpha + \beta x` with :math:`\beta < 0 < \alpha`, :math:`\sigma^2 = c\,x` on
  :math:`(0, \infty)` -- :class:`~gelav.processes.CIR` (stationary law
  Gamma(:math:`2\kappa\theta/\sigma^2`, scale :math:`\sigma^2/2\kappa`)),

whose transition and stationary laws are then the built-ins' SciPy distributions. Any other
density (a stationary density :math:`m/\int m` or a transition density carried by the model)
becomes a :class:`scipy.stats.rv_continuous` built from the lambdified pdf, with a cdf by
adaptive quadrature between sorted evaluation points (relative tolerance 1e-12).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
import sympy as sp

if TYPE_CHECKING:  # pragma: no cover
    from gelav.symbolic._ito import ItoProcess

__all__ = ["density_distribution", "recognise_family"]


def _number(e: Any) -> sp.Expr | None:
    """``e`` when it is a finite real SymPy number (exact arithmetic kept), else None."""
    e = sp.sympify(e)
    if e.free_symbols or not e.is_real or not e.is_finite:
        return None
    return e


def _linear(expr: sp.Expr, x: sp.Symbol) -> tuple[sp.Expr, sp.Expr] | None:
    """``(alpha, beta)`` when ``expr = alpha + beta x`` with numeric coefficients."""
    e = sp.expand(expr)
    if e.free_symbols - {x}:
        return None
    try:
        poly = sp.Poly(e, x)
    except sp.PolynomialError:
        return None
    if poly.degree() > 1:
        return None
    alpha, beta = _number(poly.coeff_monomial(1)), _number(poly.coeff_monomial(x))
    if alpha is None or beta is None:
        return None
    return alpha, beta


def recognise_family(ito: ItoProcess) -> tuple[str, dict[str, float]] | None:
    """The built-in family (``"ou"``, ``"bm"``, ``"gbm"``, ``"cir"``) and its parameters, or None.

    Ratios and square roots are taken in exact arithmetic before rounding, so a model made by
    :meth:`ItoProcess.from_process` gets back exactly the built-in's parameters.
    """
    if not ito.time_homogeneous or ito.parameters:
        return None
    x = ito.x
    lo, hi = ito.domain
    b, s = ito.drift, ito.diffusion
    lin = _linear(b, x)
    if lin is None:
        return None
    alpha, beta = lin
    if x not in s.free_symbols:
        sig = _number(s)
        if sig is None or not sig.is_positive or not (lo == -sp.oo and hi == sp.oo):
            return None
        if beta.is_negative:
            return "ou", {"kappa": float(-beta), "mean": float(alpha / -beta), "sigma": float(sig)}
        if beta.is_zero:
            return "bm", {"mu": float(alpha), "sigma": float(sig)}
        return None
    if not (lo == 0 and hi == sp.oo):
        return None
    a2 = _linear(sp.expand(s**2), x)
    if a2 is not None and a2[0].is_zero and a2[1].is_positive and beta.is_negative and alpha.is_positive:
        return "cir", {"kappa": float(-beta), "mean": float(alpha / -beta), "sigma": float(sp.sqrt(a2[1]))}
    q = sp.simplify(s / x)
    sq = _number(q)
    if alpha.is_zero and sq is not None and sq.is_positive:
        return "gbm", {"mu": float(beta), "sigma": float(sq)}
    return None


def builtin_twin(family: str, params: dict[str, float]) -> Any:
    """The built-in :class:`~gelav.processes.Process` of a recognised family."""
    from gelav import processes as P

    cls = {"ou": P.OrnsteinUhlenbeck, "bm": P.BrownianMotion, "gbm": P.GeometricBrownianMotion, "cir": P.CIR}[family]
    with warnings.catch_warnings():  # the Feller warning belongs to the model, not to its laws
        warnings.simplefilter("ignore")
        return cls(**params)


def _quad(f: Callable[[float], float], lo: float, hi: float) -> float:
    from scipy.integrate import quad

    return float(quad(f, lo, hi, epsabs=0.0, epsrel=1e-12, limit=500)[0])


def density_distribution(pdf: Callable[[Any], Any], lo: float, hi: float, *, name: str = "symbolic",
                         normalise: bool = True) -> Any:
    r"""Frozen :class:`scipy.stats.rv_continuous` with density ``pdf`` on ``(lo, hi)``.

    The cdf at sorted points :math:`x_1 < \dots < x_n` is the running sum of
    :math:`\int_{x_{k-1}}^{x_k} p` by adaptive quadrature (relative tolerance 1e-12), so a whole
    grid costs one pass; the survival function is accumulated from the upper end (accurate
    upper tails). ``normalise`` divides by :math:`\int_{lo}^{hi} p` computed the same way.
    """
    from scipy import stats

    def f(z: float) -> float:
        with np.errstate(all="ignore"):
            v = float(np.asarray(pdf(np.asarray([z], dtype=float)), dtype=float).reshape(-1)[0])
        return v if math.isfinite(v) else 0.0

    total = _quad(f, lo, hi) if normalise else 1.0
    if not (math.isfinite(total) and total > 0):
        raise ValueError(f"The density does not integrate to a positive finite mass on ({lo}, {hi}): {total}.")

    def cumulative(x: Any, upper: bool) -> Any:
        x = np.asarray(x, dtype=float)
        flat = x.reshape(-1)
        order = np.argsort(-flat if upper else flat, kind="stable")
        out = np.empty(flat.size)
        acc, prev = 0.0, (hi if upper else lo)
        for i in order:
            xi = min(max(flat[i], lo), hi)
            acc += _quad(f, xi, prev) if upper else _quad(f, prev, xi)
            prev = xi
            out[i] = acc / total
        return np.clip(out, 0.0, 1.0).reshape(x.shape)

    def _pdf(self: Any, x: Any) -> Any:
        x = np.asarray(x, dtype=float)
        with np.errstate(all="ignore"):
            v = np.broadcast_to(np.asarray(pdf(x), dtype=float), x.shape) / total
        return np.where(np.isfinite(v), v, 0.0)

    def _cdf(self: Any, x: Any) -> Any:
        return cumulative(x, upper=False)

    def _sf(self: Any, x: Any) -> Any:
        return cumulative(x, upper=True)

    def _munp(self: Any, n: int) -> float:
        return _quad(lambda z: z**n * f(z), lo, hi) / total

    # a finite point inside the support, near the bulk, to start the quantile searches from
    centre = _quad(lambda z: z * f(z), lo, hi) / total
    if not (math.isfinite(centre) and lo < centre < hi):  # pragma: no cover - heavy tails
        centre = 0.5 * (lo + hi) if math.isfinite(lo + hi) else (lo + 1.0 if math.isfinite(lo) else hi - 1.0)

    def quantile(q: float, upper: bool) -> float:
        from scipy.optimize import brentq

        def g(z: float) -> float:  # decreasing in z for the upper tail, increasing otherwise
            v = _quad(f, z, hi) if upper else _quad(f, lo, z)
            return v / total - q

        left, right, step = centre, centre, 1.0
        for _ in range(64):  # bracket by doubling steps (64 doublings reach 1.8e19)
            if (g(left) > 0) == upper or left <= lo:
                break
            left, step = max(left - step, lo), 2 * step
        step = 1.0
        for _ in range(64):
            if (g(right) < 0) == upper or right >= hi:
                break
            right, step = min(right + step, hi), 2 * step
        if left == right:
            return left
        return float(brentq(g, left, right, xtol=1e-14, rtol=8.9e-16, maxiter=200))

    def _ppf(self: Any, q: Any) -> Any:
        return np.vectorize(lambda v: quantile(float(v), upper=False), otypes=[float])(q)

    def _isf(self: Any, q: Any) -> Any:
        return np.vectorize(lambda v: quantile(float(v), upper=True), otypes=[float])(q)

    ns = {"_pdf": _pdf, "_cdf": _cdf, "_sf": _sf, "_munp": _munp, "_ppf": _ppf, "_isf": _isf}
    cls = type("SymbolicDensityDistribution", (stats.rv_continuous,), ns)
    dist = cls(a=lo, b=hi, name=name)
    frozen = dist()
    frozen.normalising_constant = total
    return frozen
