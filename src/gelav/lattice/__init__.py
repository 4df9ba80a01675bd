r"""Trinomial walks and lattices: the forward and backward equations on a tree.

Three objects, one idea (DESIGN.md, "the lattice view"): a diffusion is
approximated by a Markov chain that, in one step :math:`\Delta t`, moves up,
stays or moves down, with probabilities that match the first two conditional
moments of the diffusion.

:class:`TrinomialWalk`
    The walk of seed 003: :math:`y \to y \pm \delta y` with probability
    :math:`\alpha` each, :math:`y \to y` with probability :math:`1 - 2\alpha`.
    Its master equation

    .. math:: P_{n+1}(j) = \alpha P_n(j-1) + (1-2\alpha) P_n(j) + \alpha P_n(j+1)

    is solved exactly (repeated convolution, :meth:`TrinomialWalk.law`); its
    limit is the heat equation :math:`\partial_t P = C^2 \partial_y^2 P` with
    :math:`C^2 = \alpha\,\delta y^2/\delta t`, i.e. :math:`y_t \sim N(0, 2C^2 t)`.
    The lattice variance :math:`2\alpha n\,\delta y^2 = 2C^2 t_n` is exact at
    every step; the kurtosis approaches 3 like :math:`1/n`.

:class:`TrinomialTree`
    The Hull–White mean-reverting trinomial tree for Gaussian processes
    (Ornstein–Uhlenbeck; Brownian motion; geometric Brownian motion in log
    space). Nodes :math:`m(t_i) + j\,\delta x` around the exact mean
    :math:`m(t)`, :math:`\delta x = \sqrt{3V}`, branching switched at
    :math:`\pm j_{\max}` with :math:`j_{\max} = \lceil 0.184 / |M| \rceil`,
    :math:`M = e^{-\kappa\Delta t} - 1 \approx -\kappa\Delta t`; probabilities
    match the exact conditional mean and variance of every step. Forward
    induction gives state probabilities (or Arrow–Debreu prices with
    discounting); backward induction gives values, with optimal stopping as a
    ``max`` with the exercise value at every node. Weak order 1 in
    :math:`\Delta t`.

:class:`GeneratorLattice`
    A lattice for *any* process from its generator :math:`Q` on a gelav
    :class:`~gelav.fd.grid.Grid`: the chain :math:`P = I + \Delta t\,Q` with
    :math:`\Delta t \le 1/\max_i |q_{ii}|` (so :math:`P \ge 0`, a trinomial
    chain on a non-uniform grid), or the embedded exact continuous-time chain
    :math:`P = e^{\Delta t Q}`. Second order in the grid spacing.

Probabilities such as :math:`P(X_T < c)` are read from a lattice law by
*smooth counting* (:func:`lattice_cdf`): the cumulative mass is known exactly
at the faces between nodes (midpoints), and a cubic through the four faces
nearest :math:`c` interpolates it. Counting whole nodes instead makes the
error jump by one node's mass, :math:`O(1/\sqrt N)`, as the nodes move past
:math:`c`; counted smoothly the error falls like :math:`1/N` and
Richardson extrapolation works (:func:`stress_probability`).

Modules (one job each): :mod:`~gelav.lattice.counting` (smooth counting, fitted
orders), :mod:`~gelav.lattice.walk` (the trinomial walk),
:mod:`~gelav.lattice.tree` (Hull–White trees), :mod:`~gelav.lattice.generator_lattice`
(lattices from the generator) and :mod:`~gelav.lattice.stress` (extrapolated stress
probabilities, convergence studies).
"""

from gelav.lattice.counting import KSResult, fit_order, lattice_cdf
from gelav.lattice.generator_lattice import GeneratorLattice
from gelav.lattice.stress import (
    ConvergenceStudy,
    StressEstimate,
    lattice_convergence,
    stress_probability,
)
from gelav.lattice.tree import TREE_KINDS, TreeValue, TrinomialTree, tree_family
from gelav.lattice.walk import LatticeLaw, TrinomialWalk, WalkSample

__all__ = [
    "TREE_KINDS",
    "ConvergenceStudy",
    "GeneratorLattice",
    "KSResult",
    "LatticeLaw",
    "StressEstimate",
    "TreeValue",
    "TrinomialTree",
    "TrinomialWalk",
    "WalkSample",
    "fit_order",
    "lattice_cdf",
    "lattice_convergence",
    "stress_probability",
    "tree_family",
]
