r"""Confidence bands for stress probabilities from the uncertainty of calibrated parameters.

A calibration (:mod:`gelav.calibrate`) gives estimates :math:`\hat\theta` with the
covariance :math:`\hat\Sigma` of their asymptotic normal law (inverse observed
information). The stress probability :math:`p(\theta) = P_\theta(X_T < c \mid X_0 = x_0)`
inherits that uncertainty; :func:`stress_band` reports it two ways:

- **parametric bootstrap** (the band): draw :math:`\theta^{(k)} \sim N(\hat\theta, \tilde\Sigma)`,
  keep the draws inside the parameter space (κ > 0, σ > 0, CIR's L̄ > 0, i.e. the
  normal law truncated to it), compute :math:`p(\theta^{(k)})` and take the
  :math:`(1 \mp \text{level})/2` quantiles of the draws. :math:`\tilde\Sigma` is
  :math:`\hat\Sigma` with each standard deviation widened, where it is wider, to the
  half-width over :math:`z` of the fit's reported interval (correlations kept): the
  OU fit's intervals correct the observed information's small-sample optimism
  (κ̂'s upward bias, L̄'s few effective observations), which otherwise makes the band
  cover too rarely (measured coverage: docs/calibration.md, "Stress probabilities with
  a confidence band");
- **delta method** (a check): :math:`\operatorname{se}(\hat p)^2 = \nabla p^\top \tilde\Sigma\, \nabla p`
  with a central-difference gradient (steps :math:`10^{-3}` standard errors), and
  :math:`\hat p \pm z\,\operatorname{se}` clipped to [0, 1].

The two agree when :math:`p` is close to linear over the confidence region of
:math:`\theta`; where they differ (small probabilities, poorly identified κ) the
bootstrap band is the one to read. The probability at each draw comes from the
``analytic`` method when the model has a closed-form law (OU, CIR, GBM), else from
the ``pde`` method. Draws are seeded (:class:`numpy.random.SeedSequence`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from gelav._random import SeedLike, as_seed_sequence
from gelav._validation import check_int

__all__ = ["FitParameters", "StressBand", "read_fit", "stress_band", "stress_bands"]

#: parameters that must stay positive, by model (the rest are free)
POSITIVE = {"ou": ("kappa", "sigma"), "cir": ("kappa", "mean", "sigma"), "gbm": ("sigma",)}
#: model key of a fit -> process kind of :data:`gelav.scenario.PROCESS_KINDS`
KINDS = {"ou": "ornstein-uhlenbeck", "cir": "cir", "gbm": "gbm"}


@dataclass(frozen=True, eq=False)
class FitParameters:
    """What a calibration says about the parameters: names, estimates and their covariance."""

    model: str
    names: tuple[str, ...]
    estimates: NDArray[np.float64]
    cov: NDArray[np.float64]
    level: float = 0.95
    source: str = "fit"
    #: the fit's reported interval of each parameter (at ``level``), or None
    intervals: tuple[tuple[float, float] | None, ...] | None = None

    @property
    def band_cov(self) -> NDArray[np.float64]:
        """The covariance the bootstrap draws from: ``cov`` with each sd widened to its interval's
        half-width over :math:`z_{(1+\text{level})/2}` where that is wider (correlations kept)."""
        if self.intervals is None:
            return self.cov
        from scipy.special import ndtri

        z = float(ndtri(0.5 + self.level / 2))
        se = np.sqrt(np.clip(np.diag(self.cov), 0.0, None))
        scale = np.ones(len(self.names))
        for i, ci in enumerate(self.intervals):
            if ci is not None and all(np.isfinite(ci)) and se[i] > 0:
                scale[i] = max(1.0, (ci[1] - ci[0]) / (2 * z * se[i]))
        return self.cov * np.outer(scale, scale)

    def process(self, theta: Sequence[float] | NDArray[np.float64] | None = None) -> Any:
        """The model's process at ``theta`` (default the estimates)."""
        from gelav.scenario import process_from_config

        vals = self.estimates if theta is None else theta
        return process_from_config(
            {"kind": KINDS[self.model], **dict(zip(self.names, map(float, vals), strict=True))},
            source=self.source,
        )

    def admissible(self, theta: NDArray[np.float64]) -> NDArray[np.bool_]:
        """Which rows of ``theta`` (draws × parameters) lie in the parameter space."""
        ok = np.all(np.isfinite(theta), axis=1)
        for name in POSITIVE.get(self.model, ()):
            ok &= theta[:, self.names.index(name)] > 0
        return ok


def read_fit(fit: Any) -> FitParameters:
    """The parameters of ``fit``: a calibration result (:class:`~gelav.calibrate.OUFit`, ``CIRFit``,
    ``GBMFit``), the scenario file ``gelav calibrate --save`` writes (a path), or its parsed dict
    (or just its ``[fit]`` table).

    Raises
    ------
    ValueError
        No ``[fit]`` table, an unknown model, or a covariance that is not a finite symmetric
        positive semi-definite matrix of the right size.
    """
    if isinstance(fit, FitParameters):
        return fit
    source = "fit"
    if isinstance(fit, (str, Path)):
        from gelav.scenario import load

        source = str(fit)
        fit = load(fit)
    if isinstance(fit, Mapping):
        table = fit.get("fit", fit)
        source = str(fit.get("_path", source))
        if not isinstance(table, Mapping) or "covariance" not in table:
            raise ValueError(
                f"`fit`: {source} has no [fit] table with a `covariance` (write it with "
                "`gelav calibrate --save FIT.toml`)."
            )
        model, names = (
            str(table.get("model", "")).lower(),
            tuple(str(n) for n in table.get("parameters", ())),
        )
        est, cov, level = table.get("estimates"), table.get("covariance"), table.get("level", 0.95)
        cal = fit.get("calibration")
        result = cal.get("result", {}) if isinstance(cal, Mapping) else {}
        cis = [result.get(f"{n}_ci") if isinstance(result, Mapping) else None for n in names]
    elif hasattr(fit, "cov") and hasattr(fit, "parameters"):
        model, names = str(fit.model), tuple(fit.parameters)
        est = [
            float(getattr(fit, n)) if hasattr(fit, n) else float(fit.estimates[n]) for n in names
        ]
        cov, level = fit.cov, fit.level
        cis = (
            [fit.conf_int.get(n) for n in names]
            if hasattr(fit, "conf_int")
            else [None] * len(names)
        )
    else:
        raise TypeError(
            f"`fit` must be a calibration result, a FIT.toml path or its dict, got {type(fit).__name__}."
        )
    if model not in KINDS:
        raise ValueError(
            f"`fit`: unknown model {model!r} in {source}; expected one of {', '.join(KINDS)}."
        )
    try:
        e = np.asarray(est, dtype=float)
        c = np.asarray(cov, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(
            f"`fit`: the estimates and covariance in {source} must be numbers."
        ) from None
    k = len(names)
    if k == 0 or e.shape != (k,) or c.shape != (k, k):
        raise ValueError(
            f"`fit`: {source} needs {k or 'some'} parameter names, as many estimates and a "
            f"{k}×{k} covariance; got estimates {e.shape} and covariance {c.shape}."
        )
    if not (np.all(np.isfinite(e)) and np.all(np.isfinite(c))):
        raise ValueError(
            f"`fit`: the estimates or covariance in {source} are not finite (the fit's information "
            "matrix was singular); no band can be computed."
        )
    if not np.allclose(c, c.T, rtol=1e-8, atol=1e-14 * max(1.0, float(np.abs(c).max()))):
        raise ValueError(f"`fit`: the covariance in {source} is not symmetric.")
    if float(np.linalg.eigvalsh(0.5 * (c + c.T)).min()) < -1e-10 * max(1.0, float(np.abs(c).max())):
        raise ValueError(f"`fit`: the covariance in {source} is not positive semi-definite.")
    lv = float(level)
    if not 0.0 < lv < 1.0:
        raise ValueError(f"`fit`: level {level!r} in {source} must lie in (0, 1).")
    intervals = tuple(_interval(ci) for ci in cis)
    return FitParameters(
        model,
        names,
        e,
        0.5 * (c + c.T),
        lv,
        source,
        intervals if any(ci is not None for ci in intervals) else None,
    )


def _interval(ci: Any) -> tuple[float, float] | None:
    """A reported interval ``[lo, hi]`` as floats, or None when absent or malformed (then unused)."""
    try:
        lo, hi = (float(v) for v in ci)
    except (TypeError, ValueError):
        return None
    return (lo, hi) if lo <= hi else None


@dataclass(frozen=True)
class StressBand:
    r"""A stress probability with its confidence band from parameter uncertainty.

    Attributes
    ----------
    value : float
        :math:`p(\hat\theta)`, the probability at the estimates.
    lower, upper : float
        The parametric-bootstrap band at ``level`` (percentiles of :math:`p(\theta^{(k)})`).
    level : float
        Its confidence level.
    stderr : float
        Standard deviation of the bootstrap draws of :math:`p`.
    delta_stderr : float
        The delta method's :math:`\sqrt{\nabla p^\top \tilde\Sigma \nabla p}`.
    delta_lower, delta_upper : float
        :math:`\hat p \pm z\,\mathrm{se}`, clipped to [0, 1].
    draws : int
        Bootstrap draws used (all inside the parameter space).
    rejected : int
        Draws outside it, discarded (the truncation of the normal law).
    method : str
        How each :math:`p(\theta)` was computed (``"analytic"`` or ``"pde"``).
    """

    value: float
    lower: float
    upper: float
    level: float
    stderr: float
    delta_stderr: float
    delta_lower: float
    delta_upper: float
    draws: int
    rejected: int
    method: str

    @property
    def interval(self) -> tuple[float, float]:
        """``(lower, upper)``."""
        return (self.lower, self.upper)

    def ci(self, level: float | None = None) -> tuple[float, float]:
        """The band (only at its own ``level``: the draws are not kept)."""
        if level is not None and abs(level - self.level) > 1e-12:
            raise ValueError(
                f"`level`: this band was computed at {self.level}; recompute it with "
                f"band_level={level}."
            )
        return self.interval

    @property
    def estimate(self) -> Any:
        """The probability as a :class:`gelav.results.Estimate`: ``value`` ± ``stderr`` (the spread of
        :math:`p` over the parameters' uncertainty)."""
        from gelav.results import Estimate

        return Estimate(self.value, self.stderr, kind="stderr")

    def covers(self, p: float) -> bool:
        """Whether ``p`` lies in the band."""
        return self.lower <= p <= self.upper

    def to_dict(self) -> dict[str, Any]:
        return {
            "value": self.value,
            "lower": self.lower,
            "upper": self.upper,
            "level": self.level,
            "stderr": self.stderr,
            "method": f"parametric bootstrap ({self.method} probability)",
            "draws": self.draws,
            "rejected": self.rejected,
            "delta_method": {
                "stderr": self.delta_stderr,
                "lower": self.delta_lower,
                "upper": self.delta_upper,
            },
        }

    def __str__(self) -> str:
        from gelav._display import fmt_number

        return (
            f"{fmt_number(self.value)} [{fmt_number(self.lower)}, {fmt_number(self.upper)}] "
            f"({self.level:.0%} band, {self.draws} draws)"
        )


def _draw(fp: FitParameters, n: int, seed: SeedLike) -> tuple[NDArray[np.float64], int]:
    """``n`` draws from N(θ̂, Σ̃) inside the parameter space (rejection: the normal law truncated to it),
    and the number rejected (Σ̃: :attr:`FitParameters.band_cov`).

    (Drawing log κ and log σ instead, from the delta method's covariance of the logs, covered
    the true probability less often in seeded calibrate-then-stress repetitions.)
    """
    rng = np.random.Generator(np.random.PCG64(as_seed_sequence(seed)))
    # eigen-factor: works for a semi-definite Σ (a fixed parameter), where Cholesky fails
    w, v = np.linalg.eigh(fp.band_cov)
    root = v * np.sqrt(np.clip(w, 0.0, None))
    out: list[NDArray[np.float64]] = []
    kept = tried = rejected = 0
    while kept < n:
        if tried > 100 * n:
            raise ValueError(
                f"`fit`: fewer than 1 % of the parameter draws from {fp.source} lie in the parameter "
                f"space ({', '.join(POSITIVE[fp.model])} > 0): the estimates are too uncertain for a "
                "normal-approximation band."
            )
        m = max(2 * (n - kept), 64)
        th = fp.estimates + rng.standard_normal((m, len(fp.names))) @ root.T
        ok = fp.admissible(th)
        out.append(th[ok])
        kept += int(ok.sum())
        rejected += int((~ok).sum())
        tried += m
    return np.concatenate(out)[:n], rejected


def stress_bands(
    fit: Any,
    x0: float,
    horizons: Sequence[float],
    thresholds: Sequence[float],
    *,
    direction: str = "below",
    draws: int = 1000,
    seed: SeedLike = 0,
    level: float | None = None,
    method: str | None = None,
    cells: int = 800,
) -> list[list[StressBand]]:
    """:func:`stress_band` for every horizon (rows) and threshold (columns), from one set of draws."""
    from gelav.stress import run_method

    fp = read_fit(fit)
    draws = check_int("draws", draws, minimum=20)
    lv = fp.level if level is None else float(level)
    if not 0.0 < lv < 1.0:
        raise ValueError(f"`band_level` must lie in (0, 1), got {level!r}.")
    proc = fp.process()
    if method is None:
        from gelav.processes.protocol import has_exact_law

        method = "analytic" if has_exact_law(proc) else "pde"
    if method not in ("analytic", "pde"):
        raise ValueError(f"`band_method` must be 'analytic' or 'pde', got {method!r}.")
    below = direction == "below"
    opts = {"cells": cells, "levels": ()}
    hs, cs = [float(t) for t in horizons], [float(c) for c in thresholds]

    def probs(theta: NDArray[np.float64]) -> NDArray[np.float64]:
        p = fp.process(theta)
        return np.array(
            [[run_method(method, p, x0, t, c, below, opts).probability for c in cs] for t in hs]
        )

    import warnings

    value = probs(fp.estimates)
    theta, rejected = _draw(fp, draws, seed)
    with warnings.catch_warnings():  # a draw near the Feller edge of CIR must not flood the output
        warnings.simplefilter("ignore")
        sample = np.stack([probs(th) for th in theta])
    lo, hi = np.quantile(sample, [(1 - lv) / 2, (1 + lv) / 2], axis=0)
    sd = sample.std(axis=0, ddof=1)
    # delta method with the same covariance as the draws (so the two differ only by p's curvature):
    # central differences, steps of 1e-3 standard errors (inside the parameter space)
    cov = fp.band_cov
    se = np.sqrt(np.diag(cov))
    grad = np.zeros((len(hs), len(cs), len(fp.names)))
    for i in range(len(fp.names)):
        h = 1e-3 * se[i] if se[i] > 0 else 0.0
        if h == 0.0:
            continue
        up, dn = fp.estimates.copy(), fp.estimates.copy()
        up[i] += h
        dn[i] -= h
        grad[..., i] = (probs(up) - probs(dn)) / (2 * h)
    dse = np.sqrt(np.maximum(np.einsum("...i,ij,...j->...", grad, cov, grad), 0.0))
    from scipy.special import ndtri

    z = float(ndtri(0.5 + lv / 2))
    return [
        [
            StressBand(
                float(value[a, b]),
                float(lo[a, b]),
                float(hi[a, b]),
                lv,
                float(sd[a, b]),
                float(dse[a, b]),
                max(0.0, float(value[a, b] - z * dse[a, b])),
                min(1.0, float(value[a, b] + z * dse[a, b])),
                draws,
                rejected,
                method,
            )
            for b in range(len(cs))
        ]
        for a in range(len(hs))
    ]


def stress_band(
    fit: Any,
    x0: float,
    horizon: float,
    threshold: float,
    *,
    direction: str = "below",
    draws: int = 1000,
    seed: SeedLike = 0,
    level: float | None = None,
    method: str | None = None,
    cells: int = 800,
) -> StressBand:
    r"""The stress probability at the fitted parameters with its confidence band from their uncertainty.

    .. math:: p(\theta) = P_\theta(X_T < c \mid X_0 = x_0), \qquad
        \theta^{(k)} \sim N(\hat\theta, \tilde\Sigma) \text{ truncated to the parameter space}

    Parameters
    ----------
    fit : calibration result, path or mapping
        See :func:`read_fit` (``gelav calibrate --save FIT.toml`` writes the file).
    x0, horizon, threshold, direction
        The stress question, as in :func:`gelav.stress.stress_test`.
    draws : int
        Parametric-bootstrap draws (≥ 20; default 1000).
    seed : int, SeedSequence or Generator
        Seed of the draws.
    level : float, optional
        Confidence level of the band (default the fit's, 0.95).
    method : {"analytic", "pde"}, optional
        How :math:`p(\theta)` is computed (default ``analytic`` when the model has a
        closed-form law).
    cells : int
        PDE cells (``method="pde"`` only).

    Returns
    -------
    StressBand
        ``value``, the bootstrap band ``lower``/``upper`` and the delta method's
        ``delta_stderr``, ``delta_lower``, ``delta_upper``.
    """
    return stress_bands(
        fit,
        x0,
        [horizon],
        [threshold],
        direction=direction,
        draws=draws,
        seed=seed,
        level=level,
        method=method,
        cells=cells,
    )[0][0]


def band_seed(seed: SeedLike) -> np.random.SeedSequence:
    """The seed of the band's draws, derived from a run's seed without consuming it (a fixed child key)."""
    ss = as_seed_sequence(seed)
    return np.random.SeedSequence(ss.entropy, spawn_key=(*ss.spawn_key, 0xBA5D))
