"""Dask runs give the same numbers as local runs, for 1 or 2 workers, even when a worker dies."""

from __future__ import annotations

import contextlib
import threading
import time

import numpy as np
import pytest

distributed = pytest.importorskip("dask.distributed")

from gelav import OrnsteinUhlenbeck  # noqa: E402
from gelav.montecarlo import simulate, stress_probability  # noqa: E402

OU = OrnsteinUhlenbeck(0.45, 1.0, 0.32)
KW = dict(scheme="euler", seed=2026, save="all")


@pytest.fixture(scope="module")
def cluster():
    cl = distributed.LocalCluster(processes=True, n_workers=2, threads_per_worker=1, host="127.0.0.1",
                                  dashboard_address=None, silence_logs=50)
    client = distributed.Client(cl)
    yield cl, client
    # a nanny may still be restarting the killed worker: closing must not fail the test run
    with contextlib.suppress(Exception):
        client.close()
    with contextlib.suppress(Exception):
        cl.close()


def test_local_vs_one_and_two_workers(cluster):
    cl, client = cluster
    ref = simulate(OU, -0.5, 1.0, 20, 30_000, chunk_size=30_000, workers=1, **KW)
    two = simulate(OU, -0.5, 1.0, 20, 30_000, chunk_size=8192, client=client, **KW)
    assert two.diagnostics["executor"] == "dask"
    np.testing.assert_array_equal(two.values, ref.values)
    cl.scale(1)
    client.wait_for_workers(1)
    deadline = time.time() + 10
    while len(client.scheduler_info()["workers"]) > 1 and time.time() < deadline:
        time.sleep(0.05)
    one = simulate(OU, -0.5, 1.0, 20, 30_000, chunk_size=16_384, client=client, **KW)
    np.testing.assert_array_equal(one.values, ref.values)
    e_local = stress_probability(OU, -0.5, 2.0, -0.5, n_paths=100_000, seed=1)
    e_dask = stress_probability(OU, -0.5, 2.0, -0.5, n_paths=100_000, seed=1, client=client)
    assert e_local == e_dask
    cl.scale(2)
    client.wait_for_workers(2, timeout=20)


def test_worker_killed_mid_run(cluster):
    cl, client = cluster
    client.wait_for_workers(2, timeout=20)
    args = (OU, -0.5, 1.0, 1500, 16 * 8192)  # ~1 s of work per worker: the kill lands mid-run
    kw = dict(scheme="euler", seed=7, chunk_size=8192)
    ref = simulate(*args, **kw)

    killed = {}

    def kill_one() -> None:
        # wait until tasks are running, then kill one worker process hard
        deadline = time.time() + 10
        while time.time() < deadline:
            proc = client.run_on_scheduler(lambda dask_scheduler: sum(
                len(ws.processing) for ws in dask_scheduler.workers.values()))
            if proc:
                break
            time.sleep(0.01)
        time.sleep(0.02)
        nanny = next(iter(cl.workers.values()))
        pid = nanny.process.pid
        import os
        import signal

        os.kill(pid, signal.SIGKILL)
        killed["pid"] = pid
        killed["at"] = time.perf_counter()

    th = threading.Thread(target=kill_one)
    th.start()
    res = simulate(*args, client=client, **kw)
    done = time.perf_counter()
    th.join()
    assert "pid" in killed
    assert killed["at"] < done  # the worker died while the run was in flight
    np.testing.assert_array_equal(res.values, ref.values)
    client.wait_for_workers(2, timeout=30)  # the nanny restarts the worker
