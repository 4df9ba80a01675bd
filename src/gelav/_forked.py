"""Run zero-argument functions in forked child processes and get their (pickled) results back.

Used by :func:`gelav.report.build_report` to draw a section's figures while the
next section runs: the child is forked *after* the section ran, so it inherits
everything the section computed and only the result (PNG bytes, short text)
travels back through a pipe. A child runs exactly the code the parent would
have run, so results do not depend on where they were made.

Forking is used only where it is safe (:func:`fork_safe`). A child that raises
outside the function, dies, or takes longer than ``timeout`` seconds is killed
and the function is run again in the parent: the pool can make a run faster,
never different, never stuck.
"""

from __future__ import annotations

import os
import pickle
import select
import signal
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

__all__ = ["ForkPool", "beside", "fork_safe", "usable_cpus"]

T = TypeVar("T")

#: seconds a child may take before it is killed and its function run in the parent
TIMEOUT = 120.0

_in_pool_child = False  # True in a child of a ForkPool


def usable_cpus() -> int:
    """CPUs this process may run on (its affinity mask where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def fork_safe() -> bool:
    """Whether forking this process is safe: Linux (macOS system libraries are not fork-safe), and no
    other Python thread (it could hold a lock the child needs). Native thread pools (OpenBLAS) re-create
    their threads in the child."""
    return sys.platform.startswith("linux") and hasattr(os, "fork") and threading.active_count() == 1


@contextmanager
def beside(fn: Callable[[], T], *, fork: bool = True) -> Iterator[Callable[[], T]]:
    """Start ``fn()`` in a forked child, to run beside the caller's own work; yields the function that
    returns its result.

    With one usable CPU, where forking is unsafe (:func:`fork_safe`), in a child of a :class:`ForkPool`
    (its siblings have the other CPUs: a child more would only share them) or with ``fork=False``,
    ``fn`` runs here when its result is asked for; a child that fails is replaced by ``fn()`` run here
    (:meth:`ForkPool.result`). Leaving the block kills a child still running.
    """
    if not (fork and not _in_pool_child and usable_cpus() > 1 and fork_safe()):
        yield fn
        return
    with ForkPool(1) as pool:
        ticket = pool.submit(fn)
        yield lambda: pool.result(ticket)


@dataclass
class _Job:
    fn: Callable[[], Any]
    pid: int
    fd: int
    data: bytearray
    started: float
    done: bool = False  # the pipe reached its end
    exit: int | None = None  # exit code once reaped (negative: killed by that signal)


class ForkPool:
    """At most ``workers`` children at a time, each running one function.

    Parameters
    ----------
    workers : int
        Children alive at once (>= 1); :meth:`submit` waits for the oldest when all are busy.
    timeout : float
        Seconds [s] a child may take (default :data:`TIMEOUT`).
    """

    def __init__(self, workers: int, *, timeout: float | None = None) -> None:
        self.workers = max(1, int(workers))
        self.timeout = TIMEOUT if timeout is None else float(timeout)
        self._jobs: dict[int, _Job] = {}
        self._next = 0
        self.fallbacks = 0  #: functions run here because their child failed

    def submit(self, fn: Callable[[], Any]) -> int:
        """Fork a child that runs ``fn()``; returns a ticket for :meth:`result`."""
        while len(running := [j for j in self._jobs.values() if not j.done]) >= self.workers:
            self._wait_any(running)
        ticket, self._next = self._next, self._next + 1
        r, w = os.pipe()
        for stream in (sys.stdout, sys.stderr):  # nothing buffered in the parent is written twice
            try:
                stream.flush()
            except (AttributeError, OSError, ValueError):  # pragma: no cover - closed or odd streams
                pass
        with warnings.catch_warnings():
            # Python >= 3.12 warns on fork() with any other OS thread; the only ones here are native
            # pools (fork_safe() refuses other Python threads), which re-create themselves in the child.
            warnings.filterwarnings("ignore", message=r".*use of fork\(\) may lead to deadlocks",
                                    category=DeprecationWarning)
            pid = os.fork()
        if pid == 0:  # the child: run, send, leave without running the parent's exit handlers
            code = 1
            global _in_pool_child
            _in_pool_child = True
            try:
                os.close(r)
                import gc

                gc.disable()  # short-lived: its garbage goes with it, and no pass touches the parent's pages
                payload = pickle.dumps(fn(), protocol=pickle.HIGHEST_PROTOCOL)
                view = memoryview(payload)
                while view:
                    view = view[os.write(w, view):]
                code = 0
            except BaseException:  # any failure: the parent runs fn itself
                pass
            finally:
                os._exit(code)
        os.close(w)
        os.set_blocking(r, False)
        self._jobs[ticket] = _Job(fn, pid, r, bytearray(), time.monotonic())
        return ticket

    def idle(self) -> int:
        """Workers free now (children that ended are noticed without waiting)."""
        running = [j for j in self._jobs.values() if not j.done]
        for job in running:
            self._read(job, block=False)
        return self.workers - sum(not j.done for j in running)

    def result(self, ticket: int) -> Any:
        """The child's result for ``ticket``, or ``fn()`` run here when the child failed."""
        job = self._jobs.pop(ticket)
        if self._read(job, block=True) and self._reap(job) == 0:
            try:
                return pickle.loads(bytes(job.data))
            except Exception:  # a truncated or odd payload: run it here
                pass
        self.fallbacks += 1
        return job.fn()

    def close(self) -> None:
        """Kill and reap children still running (after an error in the parent)."""
        for job in self._jobs.values():
            self._kill(job)
        self._jobs.clear()

    def __enter__(self) -> ForkPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals ---------------------------------------------------------------
    def _wait_any(self, running: list[_Job]) -> None:
        """Read from whichever children send, until one of them ends (or is killed: its time is up)."""
        left = min(j.started for j in running) + self.timeout - time.monotonic()
        ready, _, _ = select.select([j.fd for j in running], [], [], max(left, 0.0))
        for job in running:
            if job.fd in ready or time.monotonic() > job.started + self.timeout:
                self._read(job, block=False)

    def _read(self, job: _Job, *, block: bool) -> bool:
        """Read what the child sent; with ``block`` until the pipe ends. False when it timed out."""
        while not job.done:
            left = job.started + self.timeout - time.monotonic()
            if left <= 0:
                self._kill(job)
                return False
            if block:
                select.select([job.fd], [], [], left)
            try:
                chunk = os.read(job.fd, 1 << 20)
            except BlockingIOError:
                if not block:
                    return True
                continue
            if not chunk:
                job.done = True
                os.close(job.fd)
            else:
                job.data += chunk
        return True

    def _reap(self, job: _Job) -> int:
        if job.exit is None:
            _, status = os.waitpid(job.pid, 0)
            job.exit = os.waitstatus_to_exitcode(status)
        return job.exit

    def _kill(self, job: _Job) -> None:
        if job.exit is None:
            try:
                os.kill(job.pid, signal.SIGKILL)
            except ProcessLookupError:  # pragma: no cover - it had just ended
                pass
            try:
                os.waitpid(job.pid, 0)
            except ChildProcessError:  # pragma: no cover
                pass
            job.exit = -signal.SIGKILL
        if not job.done:
            job.done = True
            os.close(job.fd)
