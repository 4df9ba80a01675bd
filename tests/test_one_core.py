"""Issue 10, "one core": the process protocol's capability functions, the declarative task result base and
the warnings helper of the tasks, and the defects found on the way (each test fails on the code before)."""

from __future__ import annotations

import dataclasses
import math
import warnings

import numpy as np
import pytest

from gelav import CIR, OrnsteinUhlenbeck, Process, exit_boundary
from gelav.processes.protocol import (
    check_process,
    exact_uses_normals,
    has_exact_law,
    params_of,
    stationary_law,
)
from gelav.tasks._base import TaskResult, recorded_warnings, warning_texts


def _general_ou(k: float = 0.45, m: float = 1.0, s: float = 0.32) -> Process:
    """The OU written as a general process: no exact law, no exact step."""
    return Process(lambda t, x: k * (m - np.asarray(x)), lambda t, x: s + 0 * np.asarray(x), time_homogeneous=True)


def test_capability_functions_answer_for_any_process() -> None:
    ou, gen = OrnsteinUhlenbeck(0.45, 1.0, 0.32), _general_ou()
    assert params_of(ou) == {"kappa": 0.45, "mean": 1.0, "sigma": 0.32}
    assert params_of(gen) == {} and params_of(object()) == {}
    assert has_exact_law(ou) and not has_exact_law(gen)
    law = stationary_law(ou)
    assert law is not None and math.isclose(law.mean(), 1.0) and math.isclose(law.std(), 0.32 / math.sqrt(0.9))
    assert stationary_law(gen) is None
    assert exact_uses_normals(ou) and not exact_uses_normals(CIR(0.5, 1.0, 0.3))
    assert check_process(gen) is gen
    with pytest.raises(TypeError, match="`process` must be a gelav Process, got str"):
        check_process("ou")


def test_exit_rule_monte_carlo_of_a_general_process_uses_euler_steps() -> None:
    """The rule's Monte Carlo asked every process with a ``transition`` method (all of them) for exact steps,
    so a general process failed; it now takes Euler steps and matches the PDE value like the OU does."""
    eb = exit_boundary(process=_general_ou(), n_cells=150, n_steps=200)
    ref = exit_boundary(process=OrnsteinUhlenbeck(0.45, 1.0, 0.32), n_cells=150, n_steps=200)
    assert eb.value(0.0, 0.0) == ref.value(0.0, 0.0)  # the same generator: the same PDE numbers
    mc = eb.monte_carlo(0.0, 20_000, seed=12)
    assert abs(mc.value - eb.value(0.0, 0.0)) < 4 * mc.stderr + 1e-4, (mc, eb.value(0.0, 0.0))


class _Drawn:
    def plot(self) -> str:
        return "figure"


class _Declared(TaskResult):
    data: dict[str, float] | None = None
    shown: _Drawn | None = None

    name = "declared"
    json = "data"
    plotted = "shown"


def test_task_results_are_frozen_dataclasses_with_declared_json_and_figure() -> None:
    r = _Declared(inputs={"a": 1}, data={"x": 1.0}, shown=_Drawn())
    assert [f.name for f in dataclasses.fields(r)] == ["inputs", "diagnostics", "data", "shown"]
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.data = {}  # type: ignore[misc]
    out = r.to_dict()
    assert out == {"x": 1.0} and out is not r.data  # a copy: the caller may add keys
    assert r.figures() == {"declared": "figure"}
    plain = TaskResult(inputs={"a": 1})
    assert plain.figures() == {} and plain.to_dict()["inputs"] == {"a": 1}


def test_recorded_warnings_are_kept_and_shown_again_once() -> None:
    with warnings.catch_warnings(record=True) as outer:
        warnings.simplefilter("always")
        with recorded_warnings() as caught:
            warnings.warn("slow convergence", RuntimeWarning, stacklevel=1)
        assert warning_texts(caught) == ("slow convergence",)
        assert [str(w.message) for w in outer] == ["slow convergence"]
        with pytest.raises(ValueError), recorded_warnings() as caught:
            warnings.warn("before the error", RuntimeWarning, stacklevel=1)
            raise ValueError("bad input")
        assert len(outer) == 1  # not shown again when the block raises


def test_symbolic_check_without_a_process_says_so() -> None:
    import sympy as sp

    from gelav.symbolic import ItoProcess

    t, x = sp.symbols("t x", real=True)
    et = ItoProcess(x * (1 - x), sp.sqrt(x * (1 - x)), t, x).exit_time(0, 1, method="green")
    if not sp.sympify(et.expression).has(sp.Integral):  # pragma: no cover - the Green form keeps integrals here
        pytest.skip("closed form: no integral to check against the generator")
    assert et.check()
    with pytest.raises(ValueError, match="no `process`"):
        dataclasses.replace(et, process=None).check()
