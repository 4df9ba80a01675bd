r"""The Jensen bias of DCF (GELAV.md §6; book Ch. 23): discounting at the expected rate undervalues.

Static model (the course's)
---------------------------
One normal rate :math:`r \sim N(\mu, \sigma_r^2)` held for :math:`T` years:

.. math::

    E[e^{-rT}] = e^{-\mu T + \frac12\sigma_r^2T^2},\qquad
    \text{bias} = E[e^{-rT}] - e^{-\mu T} = e^{-\mu T}\big(e^{\frac12\sigma_r^2T^2} - 1\big),

to second order :math:`\tfrac12 T^2\sigma_r^2 e^{-\mu T}`; annualised (as a yield),
:math:`-\tfrac1T\ln E[e^{-rT}] = \mu - \tfrac12\sigma_r^2 T`, a bias of :math:`\tfrac12 T\sigma_r^2`
per year. A single persistent draw makes the bias grow like :math:`T^2`.

A rate driven by a process
--------------------------
With :math:`r_t` a diffusion the discount factor is :math:`D = E[\exp(-\int_0^T r_s\,ds)]`,
the price of a zero-coupon bond. gelav computes it

- by **Feynman–Kac**: :math:`u_t + \mathcal L u - r u = 0`, :math:`u(T) = 1`, :math:`D = u(0, x_0)`
  (:func:`gelav.backward` with ``discount = r(x)``). The solver's killing rate must be
  :math:`\ge 0`, but a Gaussian rate is negative on part of any wide grid: gelav
  solves for :math:`\tilde u = e^{-cT}u` with discount :math:`r + c \ge 0` on the grid
  (:math:`c = \max(0, -\min r)`) and multiplies back :math:`e^{cT}` — exact, since
  a constant rate factors out of the expectation;
- by the **affine closed form** (Vasicek: :math:`B = (1 - e^{-\kappa T})/\kappa`,
  :math:`\ln A = (\bar r - \tfrac{\sigma^2}{2\kappa^2})(B - T) - \tfrac{\sigma^2B^2}{4\kappa}`;
  CIR: :math:`\gamma = \sqrt{\kappa^2 + 2\sigma^2}`, :math:`B = 2(e^{\gamma T}-1)/\Delta`,
  :math:`A = (2\gamma e^{(\kappa+\gamma)T/2}/\Delta)^{2\kappa\bar r/\sigma^2}`,
  :math:`\Delta = (\gamma+\kappa)(e^{\gamma T}-1) + 2\gamma`; :math:`D = A e^{-B r_0}`),

against DCF at the expected rate, :math:`e^{-\int_0^T E[r_s]ds} = e^{-\bar r T - (r_0 - \bar r)B}`.
Models: ``"vasicek"`` (OU rate), ``"cir"``, and ``"liquidity"``: :math:`r = \bar r + \theta(L - \bar L)`
with :math:`L` the liquidity OU — an OU rate with speed :math:`\kappa_L` and volatility
:math:`|\theta|\sigma_L` (so Vasicek's closed form applies), solved by Feynman–Kac
on the liquidity generator itself. Mean reversion averages the rate over the
horizon, so the bias grows like :math:`T` (not :math:`T^2`) for :math:`T \gg 1/\kappa`:
the static model overstates it.

Unless ``sigma`` is given, a process model's volatility is set so the rate's
*stationary* standard deviation equals ``sigma_r`` (Vasicek :math:`\sigma = \sigma_r\sqrt{2\kappa}`,
CIR :math:`\sigma = \sigma_r\sqrt{2\kappa/\bar r}`, liquidity :math:`\theta = -\sigma_r/\mathrm{sd}(L)`,
stress raising the rate), so the static and dynamic biases are comparable.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gelav._validation import (
    MAX_CELLS,
    MAX_HORIZON,
    MAX_RATE,
    check_finite,
    check_int,
    check_nonnegative,
    check_positive,
)
from gelav.errors import AccuracyWarning, FellerConditionWarning

__all__ = ["ASSET_CLASSES", "JENSEN_MODELS", "JensenBias", "JensenTable", "jensen_bias", "jensen_table",
           "report_jensen"]

#: book Table 23.1: asset class -> (holding period T [years], rate uncertainty σ_r)
ASSET_CLASSES: dict[str, tuple[float, float]] = {
    "Venture Capital": (10.0, 0.05),
    "Growth Equity": (8.0, 0.04),
    "Buyout": (7.0, 0.035),
    "Infrastructure": (12.0, 0.025),
    "Real Estate": (9.0, 0.03),
    "Private Credit": (5.0, 0.02),
    "Public Equity": (1.0, 0.05),
}
#: the rate models of :func:`jensen_bias`
JENSEN_MODELS = ("static", "vasicek", "cir", "liquidity")


def _number(name: str, value: Any, kind: str = "finite") -> float:
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"`{name}` must be a real number, got a bool.")
    # rates and horizons bounded: exp(-mu T) and sigma² T must not overflow
    bound = MAX_HORIZON if name == "horizon" else MAX_RATE
    return {"finite": check_finite, "positive": check_positive,
            "nonnegative": check_nonnegative}[kind](name, value, maximum=bound)


@dataclass(frozen=True)
class JensenBias:
    r"""The Jensen bias of discounting at the expected rate, for one model and horizon.

    Attributes
    ----------
    model : str
        ``"static"``, ``"vasicek"``, ``"cir"`` or ``"liquidity"``.
    horizon : float
        :math:`T` [years].
    expected_discount : float
        :math:`E[\text{discount factor}]` (static: exact; process models: the affine closed form).
    dcf : float
        The discount factor at the expected rate, :math:`e^{-\mu T}` or :math:`e^{-\int E[r]}`.
    bias : float
        ``expected_discount - dcf`` (≥ 0 by Jensen's inequality).
    second_order : float or None
        Static model: :math:`\tfrac12T^2\sigma_r^2e^{-\mu T}`.
    annualised : float
        :math:`\tfrac1T\ln(\text{expected\_discount}/\text{dcf})`, the yield bias per year
        (static: :math:`\tfrac12T\sigma_r^2`).
    feynman_kac : float or None
        Process models: the Feynman–Kac value of the discount factor on the grid (None, with
        ``diagnostics["feynman_kac_unresolved"]`` saying why, when it misses the closed form by
        more than a tenth of the bias).
    params : dict
        The model's parameters (after defaults).
    diagnostics : dict
        Grid, shift, Feynman–Kac error against the closed form.
    """

    model: str
    horizon: float
    expected_discount: float
    dcf: float
    bias: float
    annualised: float
    second_order: float | None = None
    feynman_kac: float | None = None
    params: dict[str, Any] = field(default_factory=dict)
    diagnostics: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def relative(self) -> float:
        """``bias / dcf``: how much DCF at the expected rate undervalues, as a fraction."""
        return self.bias / self.dcf

    def to_dict(self) -> dict[str, Any]:
        """Plain Python values (JSON-ready)."""
        return {"model": self.model, "horizon": self.horizon, "expected_discount": self.expected_discount,
                "dcf": self.dcf, "bias": self.bias, "relative": self.relative, "annualised": self.annualised,
                "second_order": self.second_order, "feynman_kac": self.feynman_kac, "params": dict(self.params),
                "diagnostics": {k: v for k, v in self.diagnostics.items() if isinstance(v, (int, float, str))}}


#: largest |ln| of a discount factor (or of its Jensen ratio) gelav reports: e^±700 is still a float
_MAX_LOG = 700.0


def _exp_in_range(log_value: float, what: str, names: str) -> float:
    """``exp(log_value)``, or a ValueError naming ``names`` when it over- or underflows a float."""
    if not abs(log_value) <= _MAX_LOG:
        raise ValueError(f"{what} = e^{log_value:.6g} is beyond the floating-point range (|ln| > {_MAX_LOG:g}): "
                         f"reduce {names}.")
    return math.exp(log_value)


def _static(T: float, mu: float, s: float) -> JensenBias:
    dcf = _exp_in_range(-mu * T, "The discount factor e^(−μT)", "`mu` or `horizon`")
    half_var = 0.5 * s * s * T * T
    _exp_in_range(half_var, "The Jensen ratio e^(σ_r²T²/2)", "`sigma_r` or `horizon`")
    bias = dcf * math.expm1(half_var)
    return JensenBias("static", T, dcf + bias, dcf, bias, 0.5 * T * s * s, 0.5 * T * T * s * s * dcf,
                      params={"mu": mu, "sigma_r": s})


def _vasicek_half_var(T: float, kappa: float, sigma: float) -> float:
    r""":math:`\tfrac12\mathrm{Var}(\int_0^T r)` of a Vasicek rate: the log of :math:`E[e^{-\int r}]` over the DCF."""
    # ln A - B r0 = -r̄T - (r0 - r̄)B + Var(∫r)/2, Var = σ²T³·h(κT)/(2y³), h(y) = 2y - 3 + 4e^{-y} - e^{-2y}.
    # The textbook lnA cancels two terms of size σ²T²/4κ down to σ²T³/6: for κT = 1e-8 its "bias" had the
    # wrong sign; for small y, h/y³ is summed as its series Σ_{n≥3} (4 - 2ⁿ)(-y)ⁿ⁻³/n! (never κ³, which
    # underflows: κ = 1e-110 divided by zero).
    y = kappa * T
    if y < 0.5:
        h_y3, term, n = 0.0, -1.0 / 6.0, 3
        while True:
            add = (4.0 - 2.0**n) * term
            h_y3 += add
            if abs(add) <= 1e-17 * abs(h_y3):
                break
            n += 1
            term *= -y / n
    else:
        h_y3 = (2 * y - 3 + 4 * math.exp(-y) - math.exp(-2 * y)) / y / y / y  # y³ overflows past 1e102
    return sigma * sigma * T**3 / 4 * h_y3


def vasicek_bond(T: float, r0: float, kappa: float, mean: float, sigma: float) -> float:
    r"""Vasicek zero-coupon bond :math:`E[e^{-\int_0^T r}]`, :math:`dr = \kappa(\bar r - r)dt + \sigma dW`."""
    B = -math.expm1(-kappa * T) / kappa
    half_var = _vasicek_half_var(T, kappa, sigma)
    return _exp_in_range(-mean * T - (r0 - mean) * B + half_var, "The Vasicek discount factor",
                         "`horizon`, the rates or the volatility")


def cir_bond(T: float, r0: float, kappa: float, mean: float, sigma: float) -> float:
    r"""CIR zero-coupon bond :math:`E[e^{-\int_0^T r}]`, :math:`dr = \kappa(\bar r - r)dt + \sigma\sqrt r dW`."""
    g = math.sqrt(kappa * kappa + 2 * sigma * sigma)
    # Δ = (γ + κ)(e^{γT} − 1) + 2γ written as e^{γT}·d: no overflow of e^{γT} for long horizons
    q = -math.expm1(-g * T)
    d = (g + kappa) * q + 2 * g * math.exp(-g * T)
    B = 2 * q / d
    lnA = (2 * kappa * mean / (sigma * sigma)) * (math.log(2 * g) + 0.5 * (kappa - g) * T - math.log(d))
    return _exp_in_range(lnA - B * r0, "The CIR discount factor", "`horizon`, the rates or the volatility")


def jensen_bias(
    horizon: float = 10.0,
    mu: float = 0.08,
    sigma_r: float = 0.05,
    *,
    model: str = "static",
    kappa: float | None = None,
    sigma: float | None = None,
    r0: float | None = None,
    theta: float | None = None,
    liquidity: Any = None,
    L0: float | None = None,
    n_cells: int = 400,
    n_steps: int = 400,
) -> JensenBias:
    r"""The Jensen bias of DCF at the expected rate (see the module notes for the formulas).

    Parameters
    ----------
    horizon : float
        :math:`T` > 0 [years].
    mu : float
        Expected rate :math:`\mu` (static), the long-run rate :math:`\bar r` (process models).
    sigma_r : float
        Rate uncertainty :math:`\sigma_r` ≥ 0 (static: of the single draw; process
        models: the stationary standard deviation, unless ``sigma``/``theta`` is given).
    model : {"static", "vasicek", "cir", "liquidity"}
    kappa : float, optional
        Mean-reversion speed of the rate (Vasicek/CIR; default 0.45, the liquidity state's).
    sigma : float, optional
        The rate's instantaneous volatility (Vasicek/CIR), overriding ``sigma_r``.
    r0 : float, optional
        Starting rate (default ``mu``); for ``"liquidity"`` implied by ``L0``.
    theta : float, optional
        ``"liquidity"``: :math:`\partial r/\partial L` (default :math:`-\sigma_r/\mathrm{sd}(L)`).
    liquidity : OrnsteinUhlenbeck, optional
        ``"liquidity"``: the state (default OU(0.45, 1.0, 0.32)); ``L0`` its start (default its mean).
    n_cells, n_steps : int
        Feynman–Kac grid (second order in both).

    Returns
    -------
    JensenBias

    Examples
    --------
    >>> vc = jensen_bias(10, 0.08, 0.05)
    >>> round(vc.bias, 6), round(vc.second_order, 6), round(vc.annualised, 4)
    (0.059827, 0.056166, 0.0125)
    """
    T = _number("horizon", horizon, "positive")
    mu = _number("mu", mu)
    s = _number("sigma_r", sigma_r, "nonnegative")
    # checked for every model (the static one ignores them, but a bad value is still an error)
    n_cells = check_int("n_cells", n_cells, minimum=8, maximum=MAX_CELLS)
    n_steps = check_int("n_steps", n_steps, minimum=2, maximum=MAX_CELLS)
    if not isinstance(model, str) or model not in JENSEN_MODELS:
        raise ValueError(f"Unknown `model` {model!r}; the models are {', '.join(map(repr, JENSEN_MODELS))}.")
    if model == "static":
        for name, v in (("kappa", kappa), ("sigma", sigma), ("r0", r0), ("theta", theta), ("liquidity", liquidity),
                        ("L0", L0)):
            if v is not None:
                raise ValueError(f"`{name}` applies to the process models, not to `model='static'`.")
        return _static(T, mu, s)
    from gelav.backward import backward
    from gelav.processes import CIR, OrnsteinUhlenbeck

    if model == "liquidity":
        for name, v in (("kappa", kappa), ("sigma", sigma), ("r0", r0)):
            if v is not None:
                raise ValueError(f"`{name}` does not apply to `model='liquidity'`: the rate is r̄ + θ(L − L̄); "
                                 "set the liquidity process, `theta` and `L0`.")
        proc = OrnsteinUhlenbeck(0.45, 1.0, 0.32) if liquidity is None else liquidity
        if not isinstance(proc, OrnsteinUhlenbeck):
            raise TypeError(f"`liquidity` must be an OrnsteinUhlenbeck process, got {type(proc).__name__}.")
        k_L, Lbar, s_L = float(proc.kappa), float(proc.mean), float(proc.sigma)
        sd_L = s_L / math.sqrt(2 * k_L)
        th = -s / sd_L if theta is None else _number("theta", theta)
        x0 = Lbar if L0 is None else _number("L0", L0)
        rate0 = mu + th * (x0 - Lbar)
        k, vol = k_L, abs(th) * s_L
        closed = vasicek_bond(T, rate0, k, mu, vol)
        log_ratio = _vasicek_half_var(T, k, vol)
        w = 8.0 * sd_L + abs(x0 - Lbar)
        domain = (Lbar - w, Lbar + w)
        process: OrnsteinUhlenbeck | CIR = proc

        def rate(x: Any) -> Any:
            return mu + th * (np.asarray(x, dtype=float) - Lbar)

        params = {"mu": mu, "theta": th, "L0": x0, "r0": rate0, "kappa_L": k_L, "mean_L": Lbar, "sigma_L": s_L,
                  "rate_sigma": vol}
    else:
        if theta is not None or liquidity is not None or L0 is not None:
            raise ValueError("`theta`, `liquidity` and `L0` apply to `model='liquidity'` only.")
        k = 0.45 if kappa is None else _number("kappa", kappa, "positive")
        rate0 = mu if r0 is None else _number("r0", r0)
        if model == "vasicek":
            vol = s * math.sqrt(2 * k) if sigma is None else _number("sigma", sigma, "positive")
            if vol <= 0:
                raise ValueError("`sigma_r` must be > 0 for a process model (or give `sigma`).")
            closed = vasicek_bond(T, rate0, k, mu, vol)
            log_ratio = _vasicek_half_var(T, k, vol)
            sd = vol / math.sqrt(2 * k)
            w = 8.0 * sd + abs(rate0 - mu)
            domain = (mu - w, mu + w)
            process = OrnsteinUhlenbeck(k, mu, vol)
        else:
            if mu <= 0:
                raise ValueError(f"`mu` must be > 0 for a CIR rate, got {mu}.")
            if rate0 < 0:
                raise ValueError(f"`r0` must be >= 0 for a CIR rate, got {rate0}.")
            vol = s * math.sqrt(2 * k / mu) if sigma is None else _number("sigma", sigma, "positive")
            if vol <= 0:
                raise ValueError("`sigma_r` must be > 0 for a process model (or give `sigma`).")
            if vol**2 == 0 or not math.isfinite(2 * k * mu / vol**2):
                # σ² underflows (σ = 1e-308 divided by zero): the closed form's exponent 2κr̄/σ² is no float
                raise ValueError(f"`{'sigma' if sigma is not None else 'sigma_r'}` gives a CIR volatility "
                                 f"{vol:.3g} whose square underflows against 2κr̄ = {2 * k * mu:.3g}: the rate is "
                                 "deterministic to float precision (use a larger volatility, or model='vasicek').")
            closed = cir_bond(T, rate0, k, mu, vol)
            log_ratio = None
            sd = vol * math.sqrt(mu / (2 * k))
            domain = (0.0, max(mu, rate0) + 12.0 * sd)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", FellerConditionWarning)  # the closed form is exact either way
                process = CIR(k, mu, vol)
        x0 = rate0

        def rate(x: Any) -> Any:
            return np.asarray(x, dtype=float)

        params = {"mu": mu, "kappa": k, "sigma": vol, "r0": rate0}
    B = -math.expm1(-k * T) / k
    dcf = _exp_in_range(-(mu * T + (rate0 - mu) * B), "The discount factor at the expected rate",
                        "`mu`, the starting rate or `horizon`")
    # Feynman–Kac: the solver's killing rate must be >= 0, so discount at r + c and multiply back e^{cT}
    nodes = np.linspace(domain[0], domain[1], n_cells + 1)
    c = max(0.0, -float(np.min(rate(nodes))))

    diagnostics: dict[str, Any] = {"n_cells": n_cells, "n_steps": n_steps, "shift": c, "domain_lo": domain[0],
                                   "domain_hi": domain[1], "static_annualised": 0.5 * T * s * s}
    fk: float | None = None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FellerConditionWarning)  # the closed form is exact either way
            # the grid's accuracy is judged against the closed form below, not by the solver's own warning
            warnings.simplefilter("ignore", AccuracyWarning)
            v = backward(process, 1.0, T, discount=lambda t, x: rate(x) + c, domain=domain, x0=x0,
                         n_cells=n_cells, n_steps=n_steps)
        u = float(v.value(x0))
        # e^{cT} multiplied back in logs; a grid value that underflowed carries no Feynman–Kac number
        fk = math.exp(math.log(u) + c * T) if u > 0 and math.log(u) + c * T <= _MAX_LOG else None
    except ValueError as exc:
        # the cross-check cannot be built for this process (κ = 1e-308: the scale–speed rates at CIR's
        # singular end are not finite); the closed form stands, the check is left out and says why
        diagnostics["feynman_kac_unresolved"] = f"the Feynman–Kac solve failed: {exc}"
    # Gaussian rates: ln(E/DCF) is Var(∫r)/2 exactly, so the bias keeps its digits when it is far below
    # the DCF's rounding (κ = 1e-110: closed − dcf was 0 for a bias of 3.7e-111)
    bias = closed - dcf if log_ratio is None else dcf * math.expm1(log_ratio)
    if fk is not None:
        diagnostics["fk_minus_closed_form"] = fk - closed
        # The shift multiplies the grid's error by e^{cT} (u~ is largest where r + c ~ 0, far from x0): past
        # some horizon the FK value is noise (T = 200: 0.91 against E = 3.4e-7). A check that cannot resolve
        # a tenth of the bias it is meant to check is not reported as a value.
        if abs(fk - closed) > 0.1 * abs(closed - dcf):
            why = (f" (the shift e^(cT) = e^{c * T:.3g} amplifies the grid's error)" if c > 0 else "")
            diagnostics["feynman_kac_unresolved"] = (
                f"Feynman–Kac differs from the closed form by {fk - closed:.3g}, more than a tenth of the bias "
                f"{closed - dcf:.3g}{why}: refine `n_cells`/`n_steps`" + (" or shorten `horizon`" if c > 0 else ""))
            fk = None
    try:  # the static comparison overflows first (it grows like T²): then it is left out, not the answer
        diagnostics["static_bias"] = _static(T, mu, s).bias
    except ValueError:
        pass
    annualised = (math.log(closed / dcf) if log_ratio is None else log_ratio) / T
    return JensenBias(model, T, closed, dcf, bias, annualised, None, fk, params=params,
                      diagnostics=diagnostics)


@dataclass(frozen=True)
class JensenTable:
    r"""The course's asset-class table (book Table 23.1) with each row's static Jensen bias.

    ``rows``: tuples ``(asset_class, horizon, sigma_r, exact, second_order, annualised)``.
    """

    mu: float
    rows: tuple[tuple[str, float, float, float, float, float], ...]

    COLUMNS = ("asset_class", "horizon", "sigma_r", "exact", "second_order", "annualised")

    def to_dict(self) -> dict[str, Any]:
        """``{"mu": ..., "rows": [{column: value}, ...]}``."""
        return {"mu": self.mu, "rows": [dict(zip(self.COLUMNS, r, strict=True)) for r in self.rows]}

    def row(self, asset_class: str) -> dict[str, Any]:
        """One row as a dict (``KeyError`` listing the classes)."""
        for r in self.rows:
            if r[0] == asset_class:
                return dict(zip(self.COLUMNS, r, strict=True))
        raise KeyError(f"No asset class {asset_class!r}; the classes are {[r[0] for r in self.rows]}.")

    def __repr__(self) -> str:
        head = f"{'asset class':<18}{'T [y]':>7}{'σ_r':>8}{'exact':>10}{'2nd order':>11}{'annualised':>12}"
        lines = [f"JensenTable(mu={self.mu:g})", head]
        for name, T, s, ex, so, an in self.rows:
            lines.append(f"{name:<18}{T:>7g}{s:>8.2%}{ex:>10.6f}{so:>11.6f}{an:>12.4%}")
        return "\n".join(lines)

    def __rich__(self) -> Any:
        from rich.table import Table

        t = Table(title=f"Jensen bias of DCF at μ = {self.mu:.2%} (book Table 23.1)")
        for c, j in zip(("asset class", "T [y]", "σ_r", "exact bias", "2nd order", "annualised"),
                        ("left", "right", "right", "right", "right", "right"), strict=True):
            t.add_column(c, justify=j)  # type: ignore[arg-type]
        for name, T, s, ex, so, an in self.rows:
            t.add_row(name, f"{T:g}", f"{s:.2%}", f"{ex:.6f}", f"{so:.6f}", f"{an:.4%}")
        return t

    def plot(self, *, ax: Any = None) -> Any:
        """Exact and second-order static bias per asset class."""
        from gelav.plot import new_axes

        fig, ax = new_axes(ax)
        names = [r[0] for r in self.rows]
        x = np.arange(len(names))
        ax.bar(x - 0.2, [r[3] for r in self.rows], 0.4, label="exact")
        ax.bar(x + 0.2, [r[4] for r in self.rows], 0.4, label="second order")
        ax.set_xticks(x, names, rotation=30, ha="right")
        ax.set_ylabel("bias of the discount factor [per unit]")
        ax.set_title(f"Jensen bias of DCF, static model, μ = {self.mu:.1%}")
        ax.legend()
        fig.tight_layout()
        return fig


def jensen_table(mu: float = 0.08, classes: dict[str, tuple[float, float]] | None = None) -> JensenTable:
    r"""Static Jensen bias for each asset class of book Table 23.1 (or ``classes``: name → (T, σ_r)) at rate ``mu``.

    Examples
    --------
    >>> round(jensen_table().row("Venture Capital")["exact"], 6)
    0.059827
    """
    mu = _number("mu", mu)
    classes = ASSET_CLASSES if classes is None else classes
    if not isinstance(classes, dict) or not classes:
        raise ValueError("`classes` must be a non-empty dict name -> (horizon, sigma_r).")
    rows = []
    for name, spec in classes.items():
        try:
            T, s = spec
        except (TypeError, ValueError):
            raise ValueError(f"`classes[{name!r}]` must be a pair (horizon, sigma_r), got {spec!r}.") from None
        b = jensen_bias(T, mu, s)
        rows.append((str(name), b.horizon, float(s), b.bias, float(b.second_order), b.annualised))  # type: ignore[arg-type]
    return JensenTable(mu, tuple(rows))


def report_jensen(mu: float = 0.08, **kwargs: Any) -> tuple[dict[str, Any], Any]:
    """Report hook: the asset-class table and, for each process model, the VC-horizon bias; with a figure."""
    table = jensen_table(mu)
    out: dict[str, Any] = {"table": table.to_dict()}
    out["models"] = {m: jensen_bias(10.0, mu, 0.05, model=m, **kwargs).to_dict() for m in JENSEN_MODELS}
    return out, table.plot()
