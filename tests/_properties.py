"""Shared settings of the property-based suite (tests/test_properties_*.py, issue 11)."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager

from hypothesis import HealthCheck, settings

#: every property: the same examples on every run (derandomised, no example database), no deadline
PROPS = settings(
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.function_scoped_fixture,
    ],
)


class Hang(Exception):
    """A call did not return within its alarm."""


@contextmanager
def alarm(seconds: int) -> Iterator[None]:
    """Raise :class:`Hang` if the block runs longer than ``seconds`` (a hang is a failure, not a wait)."""

    def raise_hang(*_: object) -> None:
        raise Hang(f"no answer within {seconds} s")

    old = signal.signal(signal.SIGALRM, raise_hang)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
