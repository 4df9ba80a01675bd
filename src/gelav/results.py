r"""The two vocabularies every gelav result shares: :class:`Estimate` and :class:`Diagnostics`.

An :class:`Estimate` is a number with its error and what kind of error it is
(``"exact"``, ``"stderr"`` for a Monte Carlo standard error, ``"a-priori"`` for
a discretisation estimate such as Richardson's, ``"bound"`` for a one-sided
confidence bound). A :class:`Diagnostics` records how a result was computed:
wall-clock timings, iteration counts, residual history, a mass ledger and the
warnings raised. Both are frozen; :class:`Diagnostics` also reads like the
plain ``dict`` that results carried before (``diag["seconds"]``).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from gelav._validation import check_finite

__all__ = ["ESTIMATE_KINDS", "Diagnostics", "Estimate"]

EstimateKind = Literal["exact", "stderr", "a-priori", "bound"]
#: The kinds of error an :class:`Estimate` can carry.
ESTIMATE_KINDS: tuple[str, ...] = ("exact", "stderr", "a-priori", "bound")


@dataclass(frozen=True)
class Estimate:
    r"""A value with its error: :math:`\hat\theta \pm e`.

    Attributes
    ----------
    value : float
        The estimate.
    stderr : float
        Its error: the standard error :math:`s/\sqrt{n}` for ``kind="stderr"``
        (the default, so ``Estimate(value, se, n)`` is a Monte Carlo estimate),
        an a-priori error estimate for ``"a-priori"``, 0 for ``"exact"``, the
        distance to a one-sided confidence bound for ``"bound"``.
    n : int or None
        Number of i.i.d. terms behind a Monte Carlo estimate (antithetic pairs count once).
    kind : {"exact", "stderr", "a-priori", "bound"}
        What ``stderr`` means.
    hits : float or None
        For the frequency of an event (a Monte Carlo probability): the number of
        the ``n`` i.i.d. draws in the event (with antithetic pairs, the sum of the
        pair averages). :meth:`ci` is then the exact Clopper–Pearson interval,
        which covers at its level also for tiny probabilities and near 1, where
        the normal interval ``value ± z·stderr`` does not (3 hits in 10,000:
        85 % instead of 95 %; every draw a hit: ``(1, 1)``, 0 % below 1).

    Examples
    --------
    >>> e = Estimate(0.25, 0.01, 1000)
    >>> [round(v, 4) for v in e.ci(0.95)]
    [0.2304, 0.2696]
    >>> Estimate(0.1, 0.0, kind="exact").error
    0.0
    """

    value: float
    stderr: float
    n: int | None = None
    kind: str = "stderr"
    hits: float | None = None

    def __post_init__(self) -> None:
        if self.kind not in ESTIMATE_KINDS:
            raise ValueError(f"`kind` must be one of {ESTIMATE_KINDS}, got {self.kind!r}.")
        if self.hits is not None and not (self.n and 0.0 <= self.hits <= self.n):
            raise ValueError(f"`hits` must lie in [0, n] with n >= 1, got hits={self.hits!r}, n={self.n!r}.")

    @property
    def error(self) -> float:
        """The error, whatever its kind (an alias of ``stderr``)."""
        return self.stderr

    def ci(self, level: float = 0.95) -> tuple[float, float]:
        r"""Two-sided confidence interval at ``level`` (in (0, 1)).

        For a frequency (``hits`` given) the exact Clopper–Pearson interval: with
        :math:`k` hits in :math:`n` draws and :math:`\alpha = 1 - \text{level}`,
        :math:`[B^{-1}(\alpha/2; k, n-k+1),\ B^{-1}(1-\alpha/2; k+1, n-k)]` (beta
        quantiles; 0 below when :math:`k = 0`, 1 above when :math:`k = n`), so
        a zero-hit answer gets :math:`[0,\ 1 - (\alpha/2)^{1/n}]`. Otherwise the
        normal interval :math:`\hat\theta \pm z\,e` (a standard-error estimate).

        Returns
        -------
        (float, float)
            Lower and upper ends.
        """
        level = check_finite("level", level)
        if not 0.0 < level < 1.0:
            raise ValueError(f"`level` must lie in (0, 1), got {level}.")
        if self.kind == "exact":
            return (self.value, self.value)
        if self.hits is not None and self.n:
            from scipy.special import betaincinv

            k, n, a = float(self.hits), float(self.n), 1.0 - level
            lo = 0.0 if k <= 0.0 else float(betaincinv(k, n - k + 1.0, a / 2))
            hi = 1.0 if k >= n else float(betaincinv(k + 1.0, n - k, 1.0 - a / 2))
            return (lo, hi)
        from scipy.special import ndtri  # lighter than scipy.stats

        h = float(ndtri(0.5 + level / 2)) * self.stderr
        return (self.value - h, self.value + h)

    def zscore(self, exact: float) -> float:
        """:math:`(\\hat\\theta - \\theta)/e` against a known value (inf when e = 0 and they differ)."""
        d = self.value - float(exact)
        if self.stderr == 0:
            return 0.0 if d == 0 else math.copysign(math.inf, d)
        return d / self.stderr

    @property
    def relative_error(self) -> float:
        """stderr / |value|."""
        return self.stderr / abs(self.value) if self.value else math.inf

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"value": self.value, "stderr": self.stderr, "kind": self.kind}
        if self.n is not None:
            out["n"] = self.n
        if self.hits is not None:
            out["hits"] = self.hits
        if self.kind == "stderr" or self.hits is not None:
            lo, hi = self.ci(0.95)
            out.update(ci95_low=lo, ci95_high=hi)
        return out

    def __float__(self) -> float:
        return float(self.value)

    def __format__(self, spec: str) -> str:
        spec = spec or ".6g"
        if self.kind == "exact":
            return f"{self.value:{spec}} (exact)"
        sign = "≤" if self.kind == "bound" else "±"
        return f"{self.value:{spec}} {sign} {self.stderr:.2g}"

    def __str__(self) -> str:
        return format(self, "")


@dataclass(frozen=True)
class Diagnostics(Mapping[str, Any]):
    """How a result was computed.

    Attributes
    ----------
    timings : dict
        Wall-clock seconds per phase; ``timings["total"]`` for the whole call.
    iterations : int or None
        Iterations of the outer solver, where there is one.
    residuals : tuple of float
        The residual after each iteration.
    mass : dict
        The mass ledger: ``{"initial", "final", "absorbed", "killed", "lost"}`` as they apply.
    warnings : tuple of str
        The messages of the warnings raised while computing.
    extra : dict
        Anything else the method records (grid sizes, scheme, seeds, ...).

    The mapping interface reads ``extra`` first, then the named fields, and
    ``"seconds"`` is ``timings["total"]``, so code that treated diagnostics as
    a ``dict`` keeps working.
    """

    timings: Mapping[str, float] = field(default_factory=dict)
    iterations: int | None = None
    residuals: tuple[float, ...] = ()
    mass: Mapping[str, float] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def seconds(self) -> float | None:
        """Total wall-clock time, if recorded."""
        t = self.timings.get("total")
        return None if t is None else float(t)

    def _flat(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.seconds is not None:
            out["seconds"] = self.seconds
        if self.iterations is not None:
            out["iterations"] = self.iterations
        if self.residuals:
            out["residuals"] = list(self.residuals)
        if self.mass:
            out["mass"] = dict(self.mass)
        if self.warnings:
            out["warnings"] = list(self.warnings)
        if self.timings:
            out["timings"] = dict(self.timings)
        out.update(self.extra)
        return out

    def __getitem__(self, key: str) -> Any:
        return self._flat()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._flat())

    def __len__(self) -> int:
        return len(self._flat())

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dictionary."""
        return self._flat()
