"""The fixed-point methods of the mean-field game live in a registry: adding one is one class + one line."""

from __future__ import annotations

import numpy as np
import pytest

from gelav.errors import ConvergenceError
from gelav.mfg import METHODS, Numerics, SolverOptions, solve
from gelav.mfg.fixed_point import (
    FIXED_POINT_REGISTRY,
    Evaluator,
    FixedPointMethod,
    fixed_point_method,
)
from gelav.mfg.scenarios import SCENARIOS

COARSE = Numerics(n_cells=50, n_steps=50)


class Halving(FixedPointMethod):
    """Z <- (Z + Phi(Z)) / 2: damped Picard with weight 1/2 and no cycle detection."""

    description = "averaging with weight 1/2"

    def iterate(self, ev: Evaluator, Z: np.ndarray, tol: float, options: SolverOptions,
                notes: list[str]) -> np.ndarray:
        for _ in range(options.max_iter):
            Zn = ev(Z, "halving")
            assert ev.last is not None
            if ev.last.residual < tol:
                return Z
            Z = 0.5 * (Z + Zn)
        raise ConvergenceError(f"halving did not reach tol={tol:g}", ev.history)


def test_a_method_defined_here_solves_a_preset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(FIXED_POINT_REGISTRY, "halving", Halving())  # the one registry line
    assert METHODS["halving"] == "averaging with weight 1/2"  # the public view follows the registry
    model = SCENARIOS["stress"].model
    eq = solve(model, numerics=COARSE, method="halving", no_feedback=False)
    assert eq.converged and eq.residual < 1e-8
    assert {h["method"] for h in eq.history} == {"halving"}
    # the same iterates as damped Picard with damping 1/2: the same equilibrium to rounding
    ref = solve(model, numerics=COARSE, options=SolverOptions(method="picard", damping=0.5), no_feedback=False)
    assert eq.iterations == ref.iterations
    np.testing.assert_allclose(eq.price, ref.price, rtol=1e-12, atol=0)
    np.testing.assert_allclose(eq.value, ref.value, rtol=1e-12, atol=1e-14)
    # the residual history travels in the diagnostics
    assert eq.diagnostics.residuals == tuple(h["residual"] for h in eq.history)
    assert eq.diagnostics.timings["total"] == eq.timings["total"]


def test_a_new_method_honours_its_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(FIXED_POINT_REGISTRY, "halving", Halving())
    with pytest.raises(ConvergenceError, match="halving did not reach") as info:
        solve(SCENARIOS["crisis"].model, numerics=COARSE, options=SolverOptions(method="halving", max_iter=3),
              no_feedback=False)
    assert len(info.value.history) == 3


def test_unknown_method_lists_the_registered_ones() -> None:
    with pytest.raises(ValueError, match=r"Unknown `method` 'halley'.*'auto', 'picard', 'fictitious', 'anderson'"):
        SolverOptions(method="halley")
    with pytest.raises(ValueError, match="registered methods"):
        fixed_point_method("halley")
    assert list(METHODS) == list(FIXED_POINT_REGISTRY)
