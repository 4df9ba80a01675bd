r"""Multi-dimensional Itô's lemma with correlated Brownian motions.

For :math:`dX_i = b_i\,dt + \sum_k \Sigma_{ik}\,dW_k` with :math:`d\langle W_k, W_l\rangle = \rho_{kl}\,dt`,

.. math::

    dG = \Big(\partial_t G + \sum_i b_i\,\partial_i G
          + \tfrac12 \sum_{ij} (\Sigma\rho\Sigma^\top)_{ij}\,\partial_{ij} G\Big)dt
         + \sum_k \Big(\sum_i \partial_i G\,\Sigma_{ik}\Big) dW_k .
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sympy as sp

from gelav.symbolic._equation import Equation, LatexRepr

__all__ = ["ItoLemmaND", "MultiItoProcess"]


@dataclass(frozen=True)
class ItoLemmaND(LatexRepr):
    r"""Itô's lemma for :math:`G(t, X_1, \dots, X_n)`: drift, loadings on each :math:`W_k`, variance rate."""

    G: Any
    drift: Any
    diffusion: Any  # 1 x m Matrix: coefficient of each dW_k
    variance_rate: Any  # d<G>/dt
    noises: tuple[Any, ...]

    @property
    def equation(self) -> Equation:
        rhs = self.drift * sp.Symbol("dt") + sum(
            (self.diffusion[k] * w for k, w in enumerate(self.noises)), sp.Integer(0)
        )
        return Equation(sp.Symbol("dG"), rhs, "Itô's lemma (multi-dimensional)")

    def latex(self) -> str:
        return rf"d\left({sp.latex(self.G)}\right) = " + sp.latex(self.equation.rhs)

    def __str__(self) -> str:
        return f"Itô's lemma: d({sp.sstr(self.G)}) = {sp.sstr(self.equation.rhs)}"


@dataclass(frozen=True)
class MultiItoProcess:
    r"""A vector diffusion :math:`dX = b\,dt + \Sigma\,dW` with :math:`dW` correlated by :math:`\rho`.

    Parameters
    ----------
    drift : sequence of expressions, length n
    diffusion : n x m matrix (or a length-n sequence for one Brownian motion per component)
    xs : sequence of n symbols
    t : symbol
    correlation : m x m symmetric matrix, optional (identity by default)

    Examples
    --------
    >>> import sympy as sp
    >>> t, x, y, rho = sp.symbols("t x y rho")
    >>> p = MultiItoProcess([0, 0], [1, 1], [x, y], t, correlation=[[1, rho], [rho, 1]])
    >>> p.ito_lemma(x * y).drift
    rho
    """

    drift: Any
    diffusion: Any
    xs: Any
    t: Any
    correlation: Any = None

    def __post_init__(self) -> None:
        b = sp.Matrix([sp.sympify(v) for v in self.drift])
        n = b.shape[0]
        raw = self.diffusion
        flat = isinstance(raw, (list, tuple)) and all(not isinstance(v, (list, tuple, sp.MatrixBase)) for v in raw)
        S = sp.diag(*[sp.sympify(v) for v in raw]) if flat else sp.Matrix(raw)
        if S.shape[0] != n:
            raise ValueError(f"`diffusion` must have {n} rows (one per component), got shape {S.shape}.")
        m = S.shape[1]
        R = sp.eye(m) if self.correlation is None else sp.Matrix(self.correlation)
        if R.shape != (m, m) or R != R.T:
            raise ValueError(f"`correlation` must be a symmetric {m}x{m} matrix, got {R.shape}.")
        if any(R[i, i] != 1 for i in range(m)):
            raise ValueError("`correlation` must have ones on its diagonal.")
        xs = tuple(self.xs)
        if len(xs) != n:
            raise ValueError(f"`xs` must hold {n} symbols, got {len(xs)}.")
        object.__setattr__(self, "drift", b)
        object.__setattr__(self, "diffusion", S)
        object.__setattr__(self, "correlation", R)
        object.__setattr__(self, "xs", xs)

    @classmethod
    def from_processes(cls, processes: Sequence[Any], correlation: Any = None) -> MultiItoProcess:
        """Stack scalar :class:`~gelav.symbolic.ItoProcess` es (one Brownian motion each) with correlation."""
        t = processes[0].t
        if any(p.t != t for p in processes):
            raise ValueError("All processes must share the same time symbol.")
        xs = [p.x for p in processes]
        if len(set(xs)) != len(xs):
            raise ValueError("The processes must have distinct state symbols.")
        return cls([p.drift for p in processes], [p.diffusion for p in processes], xs, t, correlation)

    @property
    def covariance_rate(self) -> sp.Matrix:
        r""":math:`\Sigma\rho\Sigma^\top`, the instantaneous covariance of :math:`dX`."""
        return sp.simplify(self.diffusion * self.correlation * self.diffusion.T)

    def generator(self, f: Any) -> sp.Expr:
        r""":math:`\mathcal{L}f = \sum_i b_i \partial_i f + \tfrac12\sum_{ij} C_{ij}\partial_{ij}f`."""
        C = self.diffusion * self.correlation * self.diffusion.T
        n = len(self.xs)
        g = sum((self.drift[i] * sp.diff(f, self.xs[i]) for i in range(n)), sp.Integer(0))
        h = sum((C[i, j] * sp.diff(f, self.xs[i], self.xs[j]) for i in range(n) for j in range(n)), sp.Integer(0))
        return g + h / 2

    def ito_lemma(self, G: Any) -> ItoLemmaND:
        """Drift, Brownian loadings and variance rate of :math:`G(t, X)`."""
        G = sp.sympify(G)
        grad = sp.Matrix([[sp.diff(G, xi) for xi in self.xs]])
        drift = sp.diff(G, self.t) + self.generator(G)
        load = grad * self.diffusion
        var = (load * self.correlation * load.T)[0, 0]
        m = self.diffusion.shape[1]
        noises = tuple(sp.Symbol(f"dW{k + 1}") for k in range(m))
        return ItoLemmaND(G=G, drift=sp.expand(drift), diffusion=load, variance_rate=sp.expand(var), noises=noises)
