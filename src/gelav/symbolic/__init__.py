r"""Symbolic Itô calculus with SymPy, bridged to gelav's numerical solvers.

A model written as on paper gives its equations and its numbers from one object::

    >>> import sympy as sp
    >>> from gelav.symbolic import ItoProcess
    >>> t, x = sp.symbols("t x", real=True)
    >>> k, m, s = sp.symbols("kappa m sigma", positive=True)
    >>> ou = ItoProcess(k * (m - x), s, t, x)
    >>> print(ou.fokker_planck_equation())
    Fokker–Planck (forward Kolmogorov) equation: Derivative(p(t, x), t) = -kappa*(m - x)*Derivative(p(t, x), x) + kappa*p(t, x) + sigma**2*Derivative(p(t, x), (x, 2))/2
    >>> proc = ou.to_process(kappa=0.45, m=1.0, sigma=0.32)   # a gelav.Process for forward(), backward(), ...

Contents: :class:`ItoProcess` (Itô's lemma, generator, adjoint, Fokker–Planck, backward and
Feynman–Kac equations, exit time and hitting probability (``dsolve`` or the scale-function
Green's representation), scale, speed and stationary densities, transition-density
checks, :meth:`~ItoProcess.to_process` with exact laws for recognised families), :func:`time_reversal`, :func:`pdepe_form`,
:class:`MultiItoProcess` (Itô's lemma with correlated Brownian motions), the teaching views of
the seeds (:func:`ou_fokker_planck_terms`, :func:`ou_heat_transform`,
:func:`trinomial_derivation`, :func:`seed002_walkthrough`) and the safe string parser
:func:`parse_expression`. SymPy is imported only here.
"""

from __future__ import annotations

from gelav.symbolic._assume import Bound, parse_assumptions
from gelav.symbolic._equation import Equation, is_zero
from gelav.symbolic._ito import (
    ExitTime,
    HittingProbability,
    ItoLemma,
    ItoProcess,
    PdepeForm,
    SymbolicProcess,
    TransitionCheck,
    default_symbols,
    ito_lemma,
    ito_rule,
    pdepe_form,
    time_reversal,
)
from gelav.symbolic._multi import ItoLemmaND, MultiItoProcess
from gelav.symbolic._teaching import (
    FokkerPlanckTerms,
    HeatTransform,
    Seed002Walkthrough,
    TrinomialDerivation,
    ou_fokker_planck_terms,
    ou_heat_transform,
    seed002_walkthrough,
    trinomial_derivation,
)
from gelav.symbolic.parsing import parse_expression

__all__ = [
    "Bound",
    "Equation",
    "ExitTime",
    "FokkerPlanckTerms",
    "HeatTransform",
    "HittingProbability",
    "ItoLemma",
    "ItoLemmaND",
    "ItoProcess",
    "MultiItoProcess",
    "PdepeForm",
    "Seed002Walkthrough",
    "SymbolicProcess",
    "TransitionCheck",
    "TrinomialDerivation",
    "default_symbols",
    "is_zero",
    "ito_lemma",
    "ito_rule",
    "ou_fokker_planck_terms",
    "ou_heat_transform",
    "parse_assumptions",
    "parse_expression",
    "pdepe_form",
    "seed002_walkthrough",
    "time_reversal",
    "trinomial_derivation",
]
