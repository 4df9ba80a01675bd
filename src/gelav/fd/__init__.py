"""The finite-difference core: grids, the generator, time schemes, boundaries and tridiagonal algebra.

Layers (each imports only the ones above it):

- :mod:`gelav.fd.linalg` — tridiagonal factor/solve/transposed solve/LCP (LAPACK or numba);
"""
