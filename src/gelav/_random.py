"""Seed handling: every random result in gelav takes a seed and is reproducible.

A seed is normalised once into a :class:`numpy.random.SeedSequence`; work split
into chunks draws from ``seed_sequence.spawn(n_chunks)`` so the numbers depend
on the seed and the chunk *boundaries fixed by the problem*, never on how many
workers run them.
"""

from __future__ import annotations

import numpy as np

SeedLike = int | np.random.SeedSequence | np.random.Generator | None

__all__ = ["SeedLike", "as_generator", "as_seed_sequence"]


def as_seed_sequence(seed: SeedLike) -> np.random.SeedSequence:
    """Normalise ``seed`` into a SeedSequence (never touches global state)."""
    if isinstance(seed, np.random.SeedSequence):
        return seed
    if isinstance(seed, np.random.Generator):
        # Derive a child sequence from the generator's own stream.
        return np.random.SeedSequence(seed.integers(0, 2**63 - 1, size=4).tolist())
    if seed is None or isinstance(seed, (int, np.integer)):
        if seed is not None and int(seed) < 0:
            raise ValueError(f"`seed` must be a non-negative integer, got {seed}.")
        return np.random.SeedSequence(None if seed is None else int(seed))
    raise TypeError(
        "`seed` must be an int, a numpy SeedSequence, a numpy Generator or None, "
        f"got {type(seed).__name__}."
    )


def as_generator(seed: SeedLike) -> np.random.Generator:
    """Return a Generator for ``seed`` (a Generator passes through unchanged)."""
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.Generator(np.random.PCG64(as_seed_sequence(seed)))
