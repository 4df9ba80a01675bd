r"""Fitting the illiquidity premium :math:`\pi(L, T)` to secondary-market trades (GELAV.md §2).

The model :math:`\pi_i = (\alpha + \beta L_i + \gamma L_i^2) f(T_i) + \varepsilon_i` is
linear in :math:`\theta = (\alpha, \beta, \gamma)` with the regressors
:math:`x_i = (f_i,\ L_i f_i,\ L_i^2 f_i)`, :math:`f_i = f(T_i)`, and no intercept.

- ``robust=False`` (default): ordinary least squares, :math:`\hat\theta = (X^\top X)^{-1}X^\top\pi`,
  with **HC3** heteroskedasticity-robust standard errors (MacKinnon–White 1985)

  .. math::

      \widehat{\mathrm{Cov}}(\hat\theta) = (X^\top X)^{-1}\Big(\sum_i \frac{e_i^2}{(1-h_{ii})^2}
      x_i x_i^\top\Big)(X^\top X)^{-1},\qquad h_{ii} = x_i^\top (X^\top X)^{-1} x_i .

  The errors of a premium grow with :math:`f(T)` in any realistic data set, so the
  textbook :math:`s^2 (X^\top X)^{-1}` would be wrong; HC3 is the variant with
  the best small-sample coverage.
- ``robust=True``: Huber's M-estimate (tuning constant :math:`c = 1.345`, 95 %
  efficiency at the normal), by iteratively re-weighted least squares with the
  scale re-estimated each iteration as the normalised MAD of the residuals,
  :math:`s = \mathrm{median}|e - \mathrm{median}(e)|/0.6745`; weights
  :math:`w_i = \min(1, c\,s/|e_i|)`; :math:`s` is at least :math:`64\varepsilon\max_i|\pi_i|`
  (the rounding of the observations), so an exact fit is returned as least squares. Stops when the parameters change by less
  than ``tol`` (relative); :class:`~gelav.errors.ConvergenceError` after
  ``max_iter``. Standard errors from the M-estimation sandwich
  :math:`s^2 A^{-1} B A^{-1}\,n/(n-3)`, :math:`A = \sum\psi'(u_i)x_ix_i^\top`,
  :math:`B = \sum\psi(u_i)^2 x_ix_i^\top`, :math:`u_i = e_i/s`.

Intervals use Student's t with :math:`n - 3` degrees of freedom. :math:`R^2` is
the centred :math:`1 - \sum e_i^2/\sum(\pi_i - \bar\pi)^2` (the convention of
the course's reported R² ≈ 0.96).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from gelav._validation import MAX_HORIZON, MAX_RATE, MAX_STATE, check_int, check_positive
from gelav.errors import ConvergenceError
from gelav.valuation.premium import SCALINGS, IlliquidityPremium, as_array

__all__ = ["TRADE_COLUMNS", "PremiumFit", "fit_premium", "read_trades", "report_premium"]

_NAMES = ("alpha", "beta", "gamma")
#: the course's secondary-trades layout
TRADE_COLUMNS = ("trade_year", "fund_type", "L_t", "T_remaining", "pi_observed")


@dataclass(frozen=True, eq=False)
class PremiumFit:
    r"""A fitted illiquidity premium with its uncertainty.

    Attributes
    ----------
    premium : IlliquidityPremium
        The fitted :math:`\pi(L, T)`.
    params, stderr : dict
        ``{"alpha", "beta", "gamma"}`` estimates and their (HC3 or Huber-sandwich) standard errors.
    cov : ndarray (3, 3)
        Their covariance.
    r_squared : float
        Centred :math:`R^2`; NaN when every observed discount is the same (there is
        no variation to explain; ``summary()`` gives None, the CLI "–").
    residuals, fitted : ndarray
        :math:`\pi_i - \hat\pi_i` and :math:`\hat\pi_i` in the order of the data.
    n : int
        Number of trades.
    method : str
        ``"ols-hc3"`` or ``"huber"``.
    weights : ndarray or None
        Final Huber weights (``None`` for OLS).
    groups : dict
        Per-group fits (label → PremiumFit) when ``groups`` was given; empty otherwise.
    diagnostics : dict
        Iterations and scale history (Huber), condition number of the design.
    """

    premium: IlliquidityPremium
    params: dict[str, float]
    stderr: dict[str, float]
    cov: NDArray[np.float64]
    r_squared: float
    residuals: NDArray[np.float64]
    fitted: NDArray[np.float64]
    n: int
    method: str
    data: dict[str, NDArray[Any]] = field(repr=False)
    weights: NDArray[np.float64] | None = None
    groups: dict[str, PremiumFit] = field(default_factory=dict)
    diagnostics: dict[str, Any] = field(default_factory=dict)
    label: str | None = None

    @property
    def dof(self) -> int:
        """Residual degrees of freedom :math:`n - 3`."""
        return self.n - 3

    def conf_int(self, level: float = 0.95) -> dict[str, tuple[float, float]]:
        """Two-sided Student-t confidence intervals at ``level`` ∈ (0, 1) for α, β, γ."""
        if isinstance(level, bool):
            raise TypeError("`level` must be a number in (0, 1), got a bool.")
        level = check_positive("level", level)
        if not level < 1.0:
            raise ValueError(f"`level` must lie in (0, 1), got {level}.")
        from scipy.stats import t as student_t

        q = float(student_t.ppf(0.5 + level / 2, self.dof))
        return {k: (self.params[k] - q * self.stderr[k], self.params[k] + q * self.stderr[k]) for k in _NAMES}

    def by_group(self, label: Any) -> PremiumFit:
        """The fit of one group (``KeyError`` listing the groups if unknown)."""
        key = str(label)
        if key not in self.groups:
            raise KeyError(f"No group {key!r}; the groups are {sorted(self.groups)}.")
        return self.groups[key]

    def summary(self) -> dict[str, Any]:
        """Key numbers as plain Python values (JSON-ready), groups included."""
        ci = self.conf_int()
        out: dict[str, Any] = {
            "method": self.method, "scaling": self.premium.scaling, "n": self.n,
            "params": dict(self.params), "stderr": dict(self.stderr),
            "conf_int_95": {k: list(v) for k, v in ci.items()},
            "r_squared": self.r_squared if math.isfinite(self.r_squared) else None,
            "argmin_L": self.premium.argmin,
        }
        if self.groups:
            out["groups"] = {k: g.summary() for k, g in self.groups.items()}
        return out

    def __repr__(self) -> str:
        ps = ", ".join(f"{k}={self.params[k]:.4g}±{self.stderr[k]:.2g}" for k in _NAMES)
        g = f", groups={sorted(self.groups)}" if self.groups else ""
        return (f"PremiumFit({self.method}, scaling={self.premium.scaling!r}, n={self.n}, {ps}, "
                f"R²={self.r_squared:.4f}{g})")

    def plot(self, *, ax: Any = None) -> Any:
        r"""Observed premium per unit of :math:`f(T)` against :math:`L`, with the fitted :math:`a(L)` (per group)."""
        from gelav.plot import new_axes

        fig, ax = new_axes(ax)
        fits = list(self.groups.values()) if self.groups else [self]
        for i, fit in enumerate(fits):
            L, f, y = fit.data["L"], fit.data["f"], fit.data["observed"]
            ok = f > 0
            ax.scatter(L[ok], y[ok] / f[ok], s=6, alpha=0.35, color=f"C{i}")
            x = np.linspace(float(L.min()), float(L.max()), 200)
            ax.plot(x, fit.premium.level(x), color=f"C{i}",
                    label=f"{fit.label or 'fit'}: R² = {fit.r_squared:.3f}" if math.isfinite(fit.r_squared)
                    else f"{fit.label or 'fit'}")
        ax.set_xlabel("liquidity state L")
        ax.set_ylabel("π / f(T)  [fraction of NAV per unit f]")
        ax.set_title(f"Illiquidity premium fit ({self.method}, scaling {self.premium.scaling!r})")
        from gelav.plot import legend_below

        legend_below(ax)  # under the axes: the trades fill the plot
        return fig


def _design(L: NDArray[np.float64], f: NDArray[np.float64]) -> NDArray[np.float64]:
    return np.column_stack([f, L * f, L * L * f])


#: the smallest largest entry of a design column (tiny/eps: below it the entries are subnormal)
_SMALLEST_COLUMN = float(np.finfo(float).tiny / np.finfo(float).eps)


def _check_design(X: NDArray[np.float64], L: NDArray[np.float64], f: NDArray[np.float64], where: str) -> float:
    n = X.shape[0]
    if n < 4:
        raise ValueError(f"{where}at least 4 trades are needed to fit 3 parameters with standard errors, got {n}.")
    if not np.any(f > 0):
        raise ValueError(f"{where}f(T) is 0 for every trade (all `T` = 0): the premium is not identified.")
    Lp = L[f > 0]
    n_distinct = np.unique(Lp).size
    if n_distinct < 3:
        raise ValueError(
            f"{where}the design is degenerate: `L` takes only {n_distinct} distinct value(s) "
            f"({', '.join(f'{v:g}' for v in np.unique(Lp)[:3])}) among trades with f(T) > 0, so α, β, γ "
            "(a quadratic in L) cannot be separated. Provide trades at three or more liquidity states.")
    # L² underflowing (|L| ~ 1e-200) left a zero column and SVD failed on 0/0 ("SVD did not converge")
    big = np.max(np.abs(X), axis=0)
    for j, col in enumerate(("f", "L·f", "L²·f")):
        if not big[j] >= _SMALLEST_COLUMN and j == 0:
            raise ValueError(f"{where}the design [f, L·f, L²·f] is degenerate: f(`T`) is at most {big[0]:.3g}, "
                             f"below {_SMALLEST_COLUMN:.0e}, where floating point loses its digits.")
        if not big[j] >= _SMALLEST_COLUMN:
            raise ValueError(
                f"{where}the design [f, L·f, L²·f] is degenerate: the column {col} is at most {big[j]:.3g} in size "
                f"(max |`L`| = {float(np.max(np.abs(L))):.3g}), below {_SMALLEST_COLUMN:.0e}, where floating point "
                "loses its digits; rescale `L` (a liquidity state of order 1).")
    Xs = X / big  # scale first: the 2-norm squares the entries (1e-200 underflowed to 0)
    s = np.linalg.svd(Xs / np.linalg.norm(Xs, axis=0), compute_uv=False)
    cond = float(s[0] / s[-1]) if s[-1] > 0 else math.inf
    if not math.isfinite(cond) or cond > 1e10:
        raise ValueError(f"{where}the design [f, L·f, L²·f] is numerically singular (condition number {cond:.3g}).")
    return cond


def _ols(X: NDArray[np.float64], y: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    theta, *_ = np.linalg.lstsq(X, y, rcond=None)
    XtX_inv = np.linalg.inv(X.T @ X)
    e = y - X @ theta
    h = np.einsum("ij,jk,ik->i", X, XtX_inv, X)
    w = (e / np.maximum(1.0 - h, 1e-12)) ** 2
    meat = (X * w[:, None]).T @ X
    return np.asarray(theta, dtype=float), np.asarray(XtX_inv @ meat @ XtX_inv, dtype=float)


def _mad_scale(e: NDArray[np.float64]) -> float:
    return float(np.median(np.abs(e - np.median(e)))) / 0.6744897501960817


#: the Huber scale is at least this times max |observed| (rounding of the observations)
_SCALE_FLOOR = 64 * float(np.finfo(float).eps)

#: the largest |observed discount| accepted, as a fraction of NAV: 1e308 overflowed the fit's sums, and a
#: discount typed in percent (12 for 12 %) is the usual slip; a stake can trade below zero, not at -9 NAV
MAX_DISCOUNT = 10.0


def _huber(X: NDArray[np.float64], y: NDArray[np.float64], c: float, max_iter: int,
           tol: float) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64], dict[str, Any]]:
    theta, _ = _ols(X, y)
    history: list[dict[str, float]] = []
    n, p = X.shape
    # The scale is floored at the rounding of the observations: on an exactly fitting data set the
    # MAD is ~1e-18 (rounding alone), every trade fell outside the Huber band and the fit was refused;
    # there the Huber solution is the least-squares one.
    floor = _SCALE_FLOOR * float(np.max(np.abs(y)))
    for it in range(1, max_iter + 1):
        e = y - X @ theta
        s = _mad_scale(e)
        if s <= floor:  # more than half the residuals equal to rounding: an exact fit of the bulk
            s = max(float(np.sqrt(np.mean(e * e))) if s <= 0 else s, floor) or 1e-300
        u = np.abs(e) / s
        w = np.where(u <= c, 1.0, c / np.maximum(u, 1e-300))
        sw = np.sqrt(w)
        new, *_ = np.linalg.lstsq(X * sw[:, None], y * sw, rcond=None)
        step = float(np.max(np.abs(new - theta) / (np.abs(new) + 1e-8)))
        history.append({"iteration": it, "scale": s, "relative_step": step})
        theta = np.asarray(new, dtype=float)
        if step < tol:
            break
    else:
        raise ConvergenceError(
            f"Huber IRLS did not converge in `max_iter` = {max_iter} iterations (last relative step "
            f"{history[-1]['relative_step']:.3g} > `tol` = {tol:g}); raise `max_iter` or look for a "
            "degenerate data set.", history)
    e = y - X @ theta
    s = _mad_scale(e)
    if s <= floor:
        s = max(float(np.sqrt(np.mean(e * e))) if s <= 0 else s, floor) or 1e-300
    u = e / s
    psi = np.clip(u, -c, c)
    dpsi = (np.abs(u) <= c).astype(float)
    if dpsi.sum() <= p:
        raise ValueError("Huber fit: fewer trades than parameters lie inside the Huber band; use `robust=False`.")
    A = (X * dpsi[:, None]).T @ X
    B = (X * (psi * psi)[:, None]).T @ X
    A_inv = np.linalg.inv(A)
    cov = s * s * (A_inv @ B @ A_inv) * n / (n - p)
    w = np.where(np.abs(u) <= c, 1.0, c / np.maximum(np.abs(u), 1e-300))
    return theta, cov, w, {"iterations": len(history), "history": history, "scale": s, "huber_c": c}


def _fit_one(L: NDArray[np.float64], T: NDArray[np.float64], y: NDArray[np.float64], scaling: str, robust: bool,
             huber_c: float, max_iter: int, tol: float, label: str | None) -> PremiumFit:
    f = np.asarray(SCALINGS[scaling][0](T), dtype=float)
    X = _design(L, f)
    cond = _check_design(X, L, f, f"group {label!r}: " if label is not None else "")
    # solve on the design with columns scaled to a largest entry of 1 (the fit, its leverages and
    # residuals do not change; X^T X of |L| ~ 1e-100 underflowed), then undo the scaling
    scale = np.max(np.abs(X), axis=0)
    if robust:
        theta, cov, w, diag = _huber(X / scale, y, huber_c, max_iter, tol)
    else:
        theta, cov = _ols(X / scale, y)
        w, diag = None, {}
    fitted = (X / scale) @ theta
    with np.errstate(over="ignore"):
        theta = theta / scale
        cov = cov / np.outer(scale, scale)
    where = f"group {label!r}: " if label is not None else ""
    for name, v in zip(_NAMES, theta, strict=True):
        if not abs(v) <= MAX_RATE:  # what IlliquidityPremium accepts
            raise ValueError(f"{where}the fitted `{name}` = {v:.3g} is beyond ±{MAX_RATE:g} (the premium's range): "
                             f"the liquidity states `L` (up to {float(np.max(np.abs(L))):.3g} in size) are on another "
                             "scale than the discounts; rescale `L` (a liquidity state of order 1).")
    if not np.all(np.isfinite(cov)):
        raise ValueError(f"{where}the standard errors overflow: rescale `L` (a liquidity state of order 1).")
    diag["condition_number"] = cond
    e = y - fitted
    sst = float(np.sum((y - y.mean()) ** 2))
    # discounts that are all the same (to rounding: their mean is not exact) leave nothing to explain
    flat = sst <= y.size * (64 * np.finfo(float).eps * float(np.max(np.abs(y)))) ** 2
    r2 = math.nan if flat else 1.0 - float(e @ e) / sst
    se = np.sqrt(np.maximum(np.diag(cov), 0.0))
    prem = IlliquidityPremium(float(theta[0]), float(theta[1]), float(theta[2]), scaling=scaling)
    return PremiumFit(premium=prem, params=dict(zip(_NAMES, map(float, theta), strict=True)),
                      stderr=dict(zip(_NAMES, map(float, se), strict=True)), cov=cov, r_squared=r2,
                      residuals=e, fitted=fitted, n=int(y.size), method="huber" if robust else "ols-hc3",
                      data={"L": L, "T": T, "f": f, "observed": y}, weights=w, diagnostics=diag, label=label)


def fit_premium(L: ArrayLike, T: ArrayLike, observed: ArrayLike, *, scaling: str = "sqrt", robust: bool = False,
                groups: ArrayLike | Sequence[Any] | None = None, huber_c: float = 1.345, max_iter: int = 100,
                tol: float = 1e-10) -> PremiumFit:
    r"""Fit :math:`\pi(L, T) = (\alpha + \beta L + \gamma L^2) f(T)` to observed secondary-market discounts.

    Parameters
    ----------
    L, T, observed : array_like, same length
        Liquidity state at the trade, remaining fund life [years, ≥ 0] and the
        observed discount to NAV (fraction; a 12 % discount is 0.12; above 1 a
        negative price, as for stakes with large unfunded commitments; at most
        ``MAX_DISCOUNT`` = 10 in size).
    scaling : {"sqrt", "linear", "none"}
        :math:`f(T)`.
    robust : bool
        Huber M-estimate by IRLS (see the module notes) instead of least squares.
    groups : array_like, optional
        A label per trade (e.g. fund type): the fit is then also done per group
        (``PremiumFit.groups`` / ``by_group(label)``); the top-level fit pools all trades.
    huber_c, max_iter, tol :
        Huber tuning constant, IRLS iteration budget and relative tolerance.

    Returns
    -------
    PremiumFit

    Raises
    ------
    ValueError
        Arrays of different lengths, non-finite entries, negative ``T`` or ``T`` above 1e6 years,
        :math:`|L|` above 1e12 (:math:`L^2 f` would overflow the sums), an observed discount
        beyond ±``MAX_DISCOUNT`` (a percentage typed for a fraction), fewer than 4 trades, or
        a degenerate design (fewer than three distinct ``L``, a column :math:`f, Lf, L^2 f`
        whose largest entry is below ~1e-292, e.g. :math:`|L| \sim 10^{-200}`, or a condition
        number above 1e10).
    ConvergenceError
        The Huber IRLS did not converge within ``max_iter``.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> L, T = rng.normal(1, 0.5, 300), rng.uniform(1, 10, 300)
    >>> pi = (0.045 - 0.025 * L + 0.021 * L**2) * np.sqrt(T) + rng.normal(0, 0.005, 300)
    >>> fit = fit_premium(L, T, pi)
    >>> round(fit.params["alpha"], 3), fit.r_squared > 0.9
    (0.045, True)
    """
    x = as_array("L", L, maximum=MAX_STATE).ravel()
    t = as_array("T", T, nonnegative=True, maximum=MAX_HORIZON).ravel()
    y = as_array("observed", observed).ravel()
    if not (x.size == t.size == y.size):
        raise ValueError(f"`L`, `T` and `observed` must have the same length, got {x.size}, {t.size}, {y.size}.")
    out_of_range = np.flatnonzero(np.abs(y) > MAX_DISCOUNT)
    if out_of_range.size:
        i = int(out_of_range[0])
        raise ValueError(f"`observed` is a discount as a fraction of NAV (a 12 % discount is 0.12; above 1 a negative "
                         f"price), at most {MAX_DISCOUNT:g} in size, but trade {i} has {y[i]:g}.")
    if not isinstance(scaling, str) or scaling not in SCALINGS:
        raise ValueError(f"Unknown `scaling` {scaling!r}; the scalings are {', '.join(map(repr, SCALINGS))}.")
    if not isinstance(robust, (bool, np.bool_)):
        raise TypeError(f"`robust` must be True or False, got {robust!r}.")
    if isinstance(huber_c, bool):
        raise TypeError("`huber_c` must be a positive number, got a bool.")
    huber_c = check_positive("huber_c", huber_c)
    max_iter = check_int("max_iter", max_iter, minimum=1)
    tol = check_positive("tol", tol)
    pooled = _fit_one(x, t, y, scaling, bool(robust), huber_c, max_iter, tol, None)
    if groups is None:
        return pooled
    labels = np.asarray(groups, dtype=object).ravel()
    if labels.size != x.size:
        raise ValueError(f"`groups` must have one label per trade ({x.size}), got {labels.size}.")
    keys = [str(v) for v in labels]
    per: dict[str, PremiumFit] = {}
    for key in sorted(set(keys)):
        m = np.array([k == key for k in keys])
        per[key] = _fit_one(x[m], t[m], y[m], scaling, bool(robust), huber_c, max_iter, tol, key)
    return PremiumFit(**{**{f: getattr(pooled, f) for f in pooled.__dataclass_fields__}, "groups": per})


def read_trades(path: str | Path) -> dict[str, NDArray[Any] | None]:
    """Read secondary trades in the course layout ``trade_year, fund_type, L_t, T_remaining, pi_observed``.

    A ``.csv`` (delimiter sniffed) or ``.parquet`` file. ``trade_year`` and
    ``fund_type`` are optional. Returns ``{"L", "T", "observed", "fund_type", "trade_year"}``
    (the last two ``None`` when absent). Errors name the file, the column and the row.
    """
    from gelav.calibrate.io import is_missing, parse_float, read_columns

    p = Path(path)
    if not p.exists():
        raise ValueError(f"Trades file {str(p)!r} does not exist.")
    header, cols = read_columns(p)
    low = {h.strip().lower(): h for h in header}
    missing = [c for c in ("L_t", "T_remaining", "pi_observed") if c.lower() not in low]
    if missing:
        raise ValueError(f"{p}: missing column(s) {missing}; the layout is {', '.join(TRADE_COLUMNS)} "
                         f"(found {header}).")

    def numeric(name: str) -> NDArray[np.float64]:
        col = cols[low[name.lower()]]
        out = np.empty(len(col))
        for i, v in enumerate(col, start=1):
            z = None if is_missing(v) else parse_float(v)
            if z is None or not math.isfinite(z):
                raise ValueError(f"{p}: column {name!r}, row {i}: {v!r} is not a finite number.")
            out[i - 1] = z
        return out

    L, T, y = numeric("L_t"), numeric("T_remaining"), numeric("pi_observed")
    if np.any(np.abs(y) > MAX_DISCOUNT):
        i = int(np.flatnonzero(np.abs(y) > MAX_DISCOUNT)[0]) + 1
        raise ValueError(f"{p}: column 'pi_observed', row {i}: {y[i - 1]:g} is not a discount as a fraction of NAV "
                         f"(a 12 % discount is 0.12; at most {MAX_DISCOUNT:g} in size).")
    if np.any(T < 0):
        i = int(np.flatnonzero(T < 0)[0]) + 1
        raise ValueError(f"{p}: column 'T_remaining', row {i}: {T[i - 1]} is negative (a remaining life in years).")
    if np.any(T > MAX_HORIZON):
        i = int(np.flatnonzero(T > MAX_HORIZON)[0]) + 1
        raise ValueError(f"{p}: column 'T_remaining', row {i}: {T[i - 1]:g} is beyond {MAX_HORIZON:g} years "
                         "(a remaining life in years).")
    if np.any(np.abs(L) > MAX_STATE):
        i = int(np.flatnonzero(np.abs(L) > MAX_STATE)[0]) + 1
        raise ValueError(f"{p}: column 'L_t', row {i}: {L[i - 1]:g} is beyond ±{MAX_STATE:g} (a liquidity state; "
                         "L²·f(T) would overflow the fit).")
    if L.size == 0:
        raise ValueError(f"{p}: the file has no trades.")
    ft = cols[low["fund_type"]] if "fund_type" in low else None
    if ft is not None:
        for i, v in enumerate(ft, start=1):
            if is_missing(v):
                raise ValueError(f"{p}: column 'fund_type', row {i} is empty.")
    yr = numeric("trade_year") if "trade_year" in low else None
    return {"L": L, "T": T, "observed": y, "fund_type": None if ft is None else np.asarray([str(v).strip() for v in ft],
                                                                                      dtype=object),
            "trade_year": yr}


def report_premium(fit: PremiumFit | None = None, **kwargs: Any) -> tuple[dict[str, Any], Any]:
    """Report hook: the key numbers of a premium fit (``fit``, or ``fit_premium(**kwargs)``) and its figure."""
    if fit is None:
        fit = fit_premium(**kwargs)
    return fit.summary(), fit.plot()
