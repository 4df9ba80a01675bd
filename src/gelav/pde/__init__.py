"""The PDE solvers on the finite-difference core :mod:`gelav.fd`.

- :mod:`gelav.pde.forward` — Fokker–Planck (:func:`gelav.forward`);
- :mod:`gelav.pde.backward` — Feynman–Kac (:func:`gelav.backward`);
- :mod:`gelav.pde.refinement` — a backward or stopping value to a tolerance (``tol=``);
- :mod:`gelav.pde.stopping` — optimal stopping = backward + an early-exercise step condition;
- :mod:`gelav.pde.exits` — exit times and probabilities, boundary classification;
- :mod:`gelav.pde.pdepe` — MATLAB-compatible ``pdepe``.

The functions are exported from :mod:`gelav` itself; this package holds the modules.
"""

from gelav._package import submodule_getattr as _submodule_getattr

__getattr__ = _submodule_getattr(__name__)
