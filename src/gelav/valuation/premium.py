r"""The illiquidity premium term structure :math:`\pi(L, T)` of a fund stake (GELAV.md §2).

.. math::

    \pi(L, T) = a(L)\, f(T), \qquad a(L) = \alpha + \beta L + \gamma L^2,

a fraction of NAV, with :math:`T` the fund's remaining life in years and
:math:`f(T) = \sqrt T` (``scaling="sqrt"``, the default), :math:`T`
(``"linear"``) or :math:`1` (``"none"``). The secondary-market price of a stake
is :math:`\mathrm{NAV}\,(1 - \pi)`. Book-calibrated defaults (Table 5.2):
:math:`\alpha = 0.045`, :math:`\beta = -0.025`, :math:`\gamma = 0.021`.

Two caveats the course does not report and :meth:`IlliquidityPremium.check`
does: with :math:`\gamma > 0` the premium is non-monotone in :math:`L`
(minimum at :math:`L = -\beta/2\gamma \approx 0.595`, so a boom carries a
*higher* discount than :math:`L \approx 0.6`), and it exceeds 1 (a negative
price) for deep stress and long lives (:math:`\pi(-3, 12) = 0.309\sqrt{12} \approx 1.070`).

The instantaneous premium
-------------------------
A discount that depends on the *path* of :math:`L` (the LAV operator,
GELAV.md §5) needs a rate :math:`\lambda(L, \tau)`, :math:`\tau` the remaining
life. gelav defines it as the rate whose integral over the remaining life,
with :math:`L` frozen, *is* the premium:

.. math::

    \lambda(L, \tau) = a(L)\, f'(\tau), \qquad
    \int_0^T \lambda(L, \tau)\, d\tau = a(L)\,(f(T) - f(0)) = \pi(L, T),

so :math:`\lambda = a(L)` for ``"linear"`` and :math:`a(L)/(2\sqrt\tau)` for
``"sqrt"`` (an integrable singularity at the fund's end: most of a √T premium
accrues close to maturity *in remaining-life terms*, i.e. a stake with little
life left is discounted at a high rate for a short time). Why this choice:
(i) it is additive over the life, so the discount accrued between two dates
is :meth:`~IlliquidityPremium.accrued` :math:`= a(L)(f(\tau_1) - f(\tau_0))`,
exact for any step, which is what a time-stepping solver should use near the
singularity; (ii) with :math:`L` frozen it reproduces the premium as a
continuously-compounded discount, :math:`e^{-\int\lambda} = e^{-\pi} = 1 - \pi
+ O(\pi^2)`; (iii) it is linear in :math:`a(L)`, defined for every
:math:`L` (also where :math:`\pi \ge 1`). ``exact=True`` gives instead the
forward rate of the discount curve :math:`P(L, \tau) = 1 - \pi(L, \tau)`,
:math:`\lambda = -\partial_\tau \ln(1 - \pi) = a f'/(1 - a f)`, for which
:math:`e^{-\int\lambda} = 1 - \pi` exactly with :math:`L` frozen, defined only
where :math:`\pi < 1`. ``scaling="none"`` is a lump haircut independent of
the remaining life and has no instantaneous form (:math:`f' = 0`): asking for
it raises.
"""

from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from gelav._validation import MAX_HORIZON, MAX_RATE, MAX_STATE, check_finite
from gelav.errors import PremiumWarning

__all__ = ["SCALINGS", "IlliquidityPremium", "as_array"]


def _sqrt(t: NDArray[np.float64]) -> NDArray[np.float64]:
    return np.sqrt(t)


def _sqrt_prime(t: NDArray[np.float64]) -> NDArray[np.float64]:
    with np.errstate(divide="ignore"):
        return 0.5 / np.sqrt(t)


def _sqrt_inverse(y: float) -> float:
    return y * y


def _identity(t: NDArray[np.float64]) -> NDArray[np.float64]:
    return np.asarray(t, dtype=float)


def _ones(t: NDArray[np.float64]) -> NDArray[np.float64]:
    return np.ones_like(t, dtype=float)


def _zeros(t: NDArray[np.float64]) -> NDArray[np.float64]:
    return np.zeros_like(t, dtype=float)


#: scaling name -> (f, f', f⁻¹ or None): the term-structure shapes of π(L, T)
SCALINGS: dict[str, tuple[Callable[[Any], Any], Callable[[Any], Any], Callable[[float], float] | None]] = {
    "sqrt": (_sqrt, _sqrt_prime, _sqrt_inverse),
    "linear": (_identity, _ones, lambda y: y),
    "none": (_ones, _zeros, None),
}


def as_array(name: str, value: Any, *, nonnegative: bool = False, maximum: float | None = None) -> NDArray[np.float64]:
    """``value`` as a float array, or a ValueError/TypeError naming ``name`` (no bools, strings or complex
    numbers, no NaN/inf; ``|value| <= maximum`` when given)."""
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"`{name}` must be a number or an array of numbers, got a bool.")
    try:
        arr = np.asarray(value)
    except ValueError:  # ragged nested sequences
        raise ValueError(f"`{name}` must be a number or a regular array of numbers, got {value!r:.40}.") from None
    if arr.dtype == bool:
        raise TypeError(f"`{name}` must be a number or an array of numbers, got booleans.")
    if arr.dtype.kind not in "iufO":  # strings ("1.0") and complex numbers are not real numbers
        raise TypeError(f"`{name}` must be a number or an array of real numbers, got {value!r:.40}.")
    try:
        out = np.asarray(arr, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"`{name}` must be a number or an array of numbers, got {value!r}.") from None
    if not np.all(np.isfinite(out)):
        bad = np.flatnonzero(~np.isfinite(out.ravel()))
        raise ValueError(f"`{name}` must be finite; entry {int(bad[0])} is {out.ravel()[bad[0]]}.")
    if maximum is not None and out.size and float(np.max(np.abs(out))) > maximum:
        raise ValueError(f"`{name}` is out of range: |{name}| must be <= {maximum:g}.")
    if nonnegative and np.any(out < 0):
        bad = np.flatnonzero(out.ravel() < 0)
        raise ValueError(f"`{name}` must be >= 0 (a remaining life in years); entry {int(bad[0])} is "
                         f"{out.ravel()[bad[0]]}.")
    return out


def _param(name: str, value: Any) -> float:
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"`{name}` must be a real number, got a bool.")
    return check_finite(name, value, maximum=MAX_RATE)


def _range(name: str, value: Any, *, nonnegative: bool = False) -> tuple[float, float]:
    try:
        lo, hi = value
    except (TypeError, ValueError):
        raise ValueError(f"`{name}` must be a pair (low, high), got {value!r}.") from None
    lo, hi = _param(f"{name}[0]", lo), _param(f"{name}[1]", hi)
    if not lo < hi:
        raise ValueError(f"`{name}` must have low < high, got ({lo}, {hi}).")
    if nonnegative and lo < 0:
        raise ValueError(f"`{name}` must lie in [0, inf) (remaining lives in years), got ({lo}, {hi}).")
    return lo, hi


def _scalar_or_array(x: NDArray[np.float64]) -> Any:
    return float(x) if x.ndim == 0 else x


@dataclass(frozen=True)
class IlliquidityPremium:
    r"""The illiquidity premium :math:`\pi(L, T) = (\alpha + \beta L + \gamma L^2)\, f(T)`, a fraction of NAV.

    Parameters
    ----------
    alpha, beta, gamma : float
        Coefficients of the level :math:`a(L)` (defaults: book Table 5.2).
    scaling : {"sqrt", "linear", "none"}
        :math:`f(T) = \sqrt T`, :math:`T` or :math:`1` (registry :data:`SCALINGS`).

    Examples
    --------
    >>> p = IlliquidityPremium()
    >>> round(p(0.0, 4.0), 4)          # 0.045 * sqrt(4)
    0.09
    >>> round(p.argmin, 4)             # -beta / (2 gamma)
    0.5952
    >>> round(p.price(-1.0, 9.0, nav=100.0), 3)
    72.7
    >>> str(p)
    'π(L, T) = (0.045 − 0.025L + 0.021L²)·√T'
    """

    alpha: float = 0.045
    beta: float = -0.025
    gamma: float = 0.021
    scaling: str = "sqrt"

    def __post_init__(self) -> None:
        for name in ("alpha", "beta", "gamma"):
            object.__setattr__(self, name, _param(name, getattr(self, name)))
        if not isinstance(self.scaling, str) or self.scaling not in SCALINGS:
            raise ValueError(f"Unknown `scaling` {self.scaling!r}; the scalings are "
                             f"{', '.join(map(repr, SCALINGS))}.")

    def __str__(self) -> str:
        """The formula with its numbers, e.g. ``π(L, T) = (0.045 − 0.025L + 0.021L²)·√T``."""
        def term(c: float, x: str) -> str:
            return f" {'−' if c < 0 else '+'} {abs(c):g}{x}"

        f = {"sqrt": "·√T", "linear": "·T", "none": ""}[self.scaling]
        return f"π(L, T) = ({self.alpha:g}{term(self.beta, 'L')}{term(self.gamma, 'L²')}){f}"

    # -- the formula -------------------------------------------------------------------------
    def level(self, L: ArrayLike) -> Any:
        r""":math:`a(L) = \alpha + \beta L + \gamma L^2` (the premium per unit of :math:`f(T)`)."""
        x = as_array("L", L, maximum=MAX_STATE)
        return _scalar_or_array(self.alpha + self.beta * x + self.gamma * x * x)

    def term(self, T: ArrayLike) -> Any:
        r""":math:`f(T)` for remaining lives ``T`` ≥ 0 (years)."""
        t = as_array("T", T, nonnegative=True, maximum=MAX_HORIZON)
        return _scalar_or_array(np.asarray(SCALINGS[self.scaling][0](t), dtype=float))

    def premium(self, L: ArrayLike, T: ArrayLike) -> Any:
        r""":math:`\pi(L, T)` (fraction of NAV), broadcast over ``L`` and ``T`` (``T`` ≥ 0 in years)."""
        x = as_array("L", L, maximum=MAX_STATE)
        t = as_array("T", T, nonnegative=True, maximum=MAX_HORIZON)
        a = self.alpha + self.beta * x + self.gamma * x * x
        return _scalar_or_array(a * SCALINGS[self.scaling][0](t))

    __call__ = premium

    def price(self, L: ArrayLike, T: ArrayLike, nav: ArrayLike = 1.0) -> Any:
        r"""Secondary-market price :math:`\mathrm{NAV}\,(1 - \pi(L, T))` (negative where :math:`\pi > 1`)."""
        n = as_array("nav", nav)
        return _scalar_or_array(n * (1.0 - np.asarray(self.premium(L, T))))

    def instantaneous(self, L: ArrayLike, remaining: ArrayLike | None = None, *, exact: bool = False) -> Any:
        r"""The instantaneous premium :math:`\lambda(L, \tau)` [1/year] at remaining life ``remaining`` = τ.

        Default (additive) form :math:`\lambda = a(L) f'(\tau)`, whose integral over
        the remaining life with :math:`L` frozen is :math:`\pi(L, T)`; ``exact=True``
        the forward rate :math:`-\partial_\tau \ln(1 - \pi(L, \tau))`, for which
        :math:`\exp(-\int_0^T\lambda) = 1 - \pi(L, T)` exactly (see the module notes).

        ``remaining`` is required for ``scaling="sqrt"`` (τ > 0: the rate is
        :math:`a/(2\sqrt\tau)`) and optional for ``"linear"`` (:math:`\lambda = a(L)`,
        independent of τ, unless ``exact=True``). ``"none"`` raises: a lump
        haircut has no rate. A time-stepping solver should discount a step
        :math:`[\tau_0, \tau_1]` by :meth:`accrued` (exact) rather than by a
        point value of the singular √-rate.
        """
        if self.scaling == "none":
            raise ValueError("`scaling='none'` is a lump haircut independent of the remaining life: it has no "
                             "instantaneous rate (f'(T) = 0). Use scaling 'sqrt' or 'linear'.")
        if not isinstance(exact, (bool, np.bool_)):
            raise TypeError(f"`exact` must be True or False, got {exact!r}.")
        a = np.asarray(self.level(L), dtype=float)
        if remaining is None:
            if self.scaling == "sqrt" or exact:
                raise ValueError("`remaining` (the remaining life τ in years) is required: the rate a(L)/(2√τ) "
                                 "of scaling 'sqrt' (and the exact form) depends on it.")
            return _scalar_or_array(a)
        tau = as_array("remaining", remaining, nonnegative=True)
        f, fp, _ = SCALINGS[self.scaling]
        if self.scaling == "sqrt" and np.any(tau <= 0):
            raise ValueError("`remaining` must be > 0 for scaling 'sqrt' (the rate a(L)/(2√τ) is infinite at τ = 0; "
                             "use `accrued` for a step ending at the fund's end).")
        lam = a * fp(tau)
        if exact:
            pi = a * f(tau)
            if np.any(pi >= 1.0):
                raise ValueError(f"The exact instantaneous premium needs π(L, τ) < 1; max π here is "
                                 f"{float(np.max(pi)):.4g}. Use the additive form (`exact=False`).")
            lam = lam / (1.0 - pi)
        return _scalar_or_array(lam)

    def accrued(self, L: ArrayLike, tau0: ArrayLike, tau1: ArrayLike) -> Any:
        r"""Premium accrued while the remaining life runs from ``tau1`` down to ``tau0``: :math:`a(L)(f(\tau_1) - f(\tau_0))`.

        Equal to :math:`\int_{\tau_0}^{\tau_1}\lambda(L, \tau)\,d\tau` for the additive
        :meth:`instantaneous` form, exactly (also across the √-singularity at τ = 0).
        """
        a = np.asarray(self.level(L), dtype=float)
        t0 = as_array("tau0", tau0, nonnegative=True)
        t1 = as_array("tau1", tau1, nonnegative=True)
        f = SCALINGS[self.scaling][0]
        return _scalar_or_array(a * (f(t1) - f(t0)))

    # -- properties and checks -------------------------------------------------------------
    @property
    def argmin(self) -> float | None:
        r"""The state :math:`L = -\beta/2\gamma` where the premium is smallest (None unless :math:`\gamma > 0`)."""
        return -self.beta / (2.0 * self.gamma) if self.gamma > 0 else None

    @property
    def params(self) -> dict[str, float]:
        """``{"alpha", "beta", "gamma"}``."""
        return {"alpha": self.alpha, "beta": self.beta, "gamma": self.gamma}

    def to_dict(self) -> dict[str, Any]:
        """Parameters and scaling, as plain Python values (for JSON / TOML)."""
        return {**self.params, "scaling": self.scaling}

    def check(self, L_range: tuple[float, float] = (-3.0, 3.0), T_range: tuple[float, float] = (0.0, 12.0), *,
              warn: bool = True) -> dict[str, Any]:
        r"""Where on ``L_range`` × ``T_range`` the premium misbehaves; warns (:class:`PremiumWarning`) with numbers.

        Reports (and warns about) (i) non-monotonicity in :math:`L`: the minimum
        :math:`L = -\beta/2\gamma` (or maximum, for :math:`\gamma < 0`) of
        :math:`a(L)` inside the range; (ii) :math:`\pi \ge 1` (a non-positive
        price), with the states at the longest life and the shortest life at
        the worst state where it happens; (iii) :math:`\pi < 0` (a price above NAV).
        The extremes are exact: :math:`a` is quadratic and :math:`f \ge 0` monotone.

        Returns
        -------
        dict
            ``monotone`` (bool), ``turning_point`` (L or None), ``min_premium``,
            ``max_premium`` with ``argmax`` (L, T), ``negative_price`` (bool),
            ``negative_price_L`` (list of (low, high) intervals of L at the
            longest T where π ≥ 1), ``negative_price_from_T`` (shortest T with
            π ≥ 1 at the worst L, or None), ``negative_premium`` (bool).
        """
        lo, hi = _range("L_range", L_range)
        tlo, thi = _range("T_range", T_range, nonnegative=True)
        f, _, finv = SCALINGS[self.scaling]
        cands = [lo, hi]
        turning = -self.beta / (2.0 * self.gamma) if self.gamma != 0 else None
        inside = turning is not None and lo < turning < hi
        if inside:
            cands.append(float(turning))  # type: ignore[arg-type]
        a_vals = {c: float(self.level(c)) for c in cands}
        f_lo, f_hi = float(f(np.asarray(tlo))), float(f(np.asarray(thi)))
        pts = [(a * fv, c, t) for c, a in a_vals.items() for fv, t in ((f_lo, tlo), (f_hi, thi))]
        pmax, Lmax, Tmax = max(pts)
        pmin, Lmin, Tmin = min(pts)
        out: dict[str, Any] = {
            "L_range": (lo, hi), "T_range": (tlo, thi), "monotone": not inside,
            "turning_point": turning if inside else None,
            "min_premium": pmin, "argmin": (Lmin, Tmin), "max_premium": pmax, "argmax": (Lmax, Tmax),
            "negative_price": pmax >= 1.0, "negative_price_L": [], "negative_price_from_T": None,
            "negative_premium": pmin < 0.0,
        }
        msgs = []
        if inside:
            kind = "minimum" if self.gamma > 0 else "maximum"
            msgs.append(
                f"π(L, T) is non-monotone in L on [{lo:g}, {hi:g}]: a(L) = α + βL + γL² has its {kind} at "
                f"L = −β/(2γ) = {turning:.4g} (a = {a_vals[turning]:.4g}, against a({lo:g}) = {a_vals[lo]:.4g} "  # type: ignore[index]
                f"and a({hi:g}) = {a_vals[hi]:.4g}), so a higher L does not always mean a smaller discount.")
        if pmax >= 1.0:
            out["negative_price_L"] = self._level_at_least(1.0 / f_hi, lo, hi) if f_hi > 0 else []
            a_worst = a_vals[Lmax]
            if finv is not None and a_worst > 0:
                out["negative_price_from_T"] = max(tlo, float(finv(1.0 / a_worst)))
            where = ", ".join(f"[{a:.4g}, {b:.4g}]" for a, b in out["negative_price_L"])
            msgs.append(
                f"π reaches {pmax:.4g} ≥ 1 at (L, T) = ({Lmax:g}, {Tmax:g}): a non-positive secondary price "
                f"NAV·(1 − π). At T = {thi:g} this happens for L in {where or '—'}"
                + (f"; at L = {Lmax:g} for T ≥ {out['negative_price_from_T']:.4g}."
                   if out["negative_price_from_T"] is not None else "."))
        if pmin < 0.0:
            msgs.append(f"π is negative ({pmin:.4g} at (L, T) = ({Lmin:g}, {Tmin:g})): a price above NAV.")
        if warn:
            for m in msgs:
                warnings.warn(m, PremiumWarning, stacklevel=2)
        out["messages"] = msgs
        return out

    def _level_at_least(self, c: float, lo: float, hi: float) -> list[tuple[float, float]]:
        """Intervals of [lo, hi] where a(L) ≥ c (a quadratic inequality, solved exactly)."""
        coeffs = [self.gamma, self.beta, self.alpha - c]
        if self.gamma == 0:
            roots = [] if self.beta == 0 else [(c - self.alpha) / self.beta]
        else:
            disc = self.beta**2 - 4 * self.gamma * (self.alpha - c)
            roots = [] if disc < 0 else sorted(((-self.beta - math.sqrt(disc)) / (2 * self.gamma),
                                                 (-self.beta + math.sqrt(disc)) / (2 * self.gamma)))
        pts = sorted({lo, hi, *[r for r in roots if lo < r < hi]})
        out: list[tuple[float, float]] = []
        for a, b in itertools.pairwise(pts):
            m = 0.5 * (a + b)
            if np.polyval(coeffs, m) >= 0:
                if out and out[-1][1] == a:
                    out[-1] = (out[-1][0], b)
                else:
                    out.append((a, b))
        return out

    def plot(self, T: ArrayLike = (1.0, 3.0, 5.0, 10.0), *, L_range: tuple[float, float] = (-3.0, 3.0),
             ax: Any = None) -> Any:
        """π against L for a few remaining lives, the minimum marked."""
        from gelav.plot import new_axes

        lo, hi = _range("L_range", L_range)
        fig, ax = new_axes(ax)
        x = np.linspace(lo, hi, 301)
        for t in np.atleast_1d(as_array("T", T, nonnegative=True)):
            ax.plot(x, self.premium(x, t), label=f"T = {t:g} y")
        if self.argmin is not None and lo < self.argmin < hi:
            ax.axvline(self.argmin, color="0.5", ls=":", lw=1, label=f"argmin L = {self.argmin:.3f}")
        ax.axhline(1.0, color="C3", ls="--", lw=1, label="π = 1 (zero price)")
        ax.set_xlabel("liquidity state L")
        ax.set_ylabel("premium π [fraction of NAV]")
        ax.set_title(f"Illiquidity premium π(L, T), scaling {self.scaling!r}")
        ax.legend()
        return fig
