"""The finite-difference core: grids, the generator, boundaries, time schemes and tridiagonal algebra.

Modules (each imports only the ones listed before it):

- :mod:`gelav.fd.linalg` — every tridiagonal solve: factor, solve, transposed solve,
  one-shot solve, batches, LCP; LAPACK or Numba backend (:mod:`gelav.fd._numba`);
- :mod:`gelav.fd.grid` — space grids and time grids;
- :mod:`gelav.fd.boundaries` — boundary conditions as classes with hooks, registry ``BOUNDARIES``;
- :mod:`gelav.fd.generator` — the discrete generator :math:`Q` (the one caller of the flux rates);
- :mod:`gelav.fd.schemes` — time schemes with their order as data, registry ``SCHEMES``;
- :mod:`gelav.fd.stepping` — the factorised steps the solvers walk;
- :mod:`gelav.fd.conditions` — step conditions (early exercise; hooks for exit intensities and controls);
- :mod:`gelav.fd.discretization` — the ``Discretization`` settings and the set-up shared by the solvers.
"""

from gelav._package import submodule_getattr as _submodule_getattr

__getattr__ = _submodule_getattr(__name__)
