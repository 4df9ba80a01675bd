r"""One-dimensional Itô diffusions: the process protocol, the general :class:`Process` and the built-in families.

- :mod:`gelav.processes.protocol` — :class:`ProcessLike` (what solvers need) and capability checks;
- :mod:`gelav.processes.base` — :class:`Process`, a diffusion from two coefficient functions;
- :mod:`gelav.processes.families` — Brownian motion, Ornstein–Uhlenbeck, GBM, CIR with their closed forms;
- :mod:`gelav.processes.mckean_vlasov` — McKean–Vlasov (mean-field) diffusions and particle systems.

Adding a process with an exact law is one subclass of :class:`Process` that
overrides ``transition``/``has_transition`` (and ``exact_step`` for exact Monte
Carlo) plus one line in :data:`PROCESSES`; every solver then takes it.
"""

from __future__ import annotations

from typing import Any

from gelav._package import submodule_getattr as _submodule_getattr
from gelav.processes.base import Coefficient, Process, Step
from gelav.processes.families import CIR, BrownianMotion, GeometricBrownianMotion, OrnsteinUhlenbeck
from gelav.processes.protocol import (
    ProcessLike,
    domain_of,
    has_exact_law,
    has_exact_step,
    is_process,
    name_of,
)

__all__ = [
    "CIR",
    "PROCESSES",
    "BrownianMotion",
    "Coefficient",
    "GeometricBrownianMotion",
    "OrnsteinUhlenbeck",
    "Process",
    "ProcessLike",
    "Step",
    "domain_of",
    "has_exact_law",
    "has_exact_step",
    "is_process",
    "make_process",
    "name_of",
]

#: name -> process class (register a new family with one line: ``PROCESSES["name"] = MyProcess``)
PROCESSES: dict[str, type[Process]] = {
    "brownian": BrownianMotion,
    "ou": OrnsteinUhlenbeck,
    "gbm": GeometricBrownianMotion,
    "cir": CIR,
}


def make_process(kind: str, **params: Any) -> Process:
    """The registered process family ``kind`` with parameters ``params``.

    Raises
    ------
    ValueError
        For an unknown ``kind`` (the message lists the registered ones).
    """
    cls = PROCESSES.get(kind.lower()) if isinstance(kind, str) else None
    if cls is None:
        raise ValueError(f"Unknown process `kind` {kind!r}; registered kinds are "
                         + ", ".join(repr(k) for k in PROCESSES) + ".")
    return cls(**params)


__getattr__ = _submodule_getattr(__name__)  # submodules on first access (gelav.processes.laws)
