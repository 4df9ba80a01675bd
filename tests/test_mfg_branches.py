"""Branches of equilibria by pseudo-arclength continuation (issue 14, item 2)."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
from click.testing import CliRunner

from gelav.cli import main
from gelav.errors import AccuracyWarning
from gelav.mfg import SCENARIOS, Numerics, continuation, find_equilibria
from gelav.mfg.branches import set_parameter


def _multi_start(model, parameter, value, numerics, grid, time_grid):  # type: ignore[no-untyped-def]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AccuracyWarning)
        eqs = find_equilibria(set_parameter(model, parameter, value), numerics=numerics, grid=grid,
                              time_grid=time_grid)  # calm, no-feedback and panic starts
    out: list[np.ndarray] = []
    for e in eqs:
        if all(np.max(np.abs(e.path - y)) > 1e-5 for y in out):
            out.append(e.path)
    return out


def _covers(a, b, tol):  # type: ignore[no-untyped-def]
    """Every path of ``b`` (multi-start) matches one of ``a`` (the branches), max-norm distance < tol."""
    return all(min(np.max(np.abs(x.reshape(y.shape) - y)) for x in a) < tol for y in b)


@pytest.mark.slow
def test_thin_market_branches_find_every_multistart_equilibrium_and_the_fold() -> None:
    # the thick-market externality: a no-trade branch and an S of selling waves whose upper and middle
    # parts meet at a fold near d_thin = 0.257; multi-start finds three equilibria below the fold, one above
    model = SCENARIOS["thin-market"].model
    num = Numerics(n_cells=40, n_steps=40, epsilon=0.05)
    br = continuation(model, "thin_discount", [0.2, 0.3], numerics=num, step=0.02)
    fam = br._family
    assert len(br.folds) == 1 and 0.25 < br.folds[0].parameter < 0.26
    for value, n in ((0.2, 3), (0.25, 3), (0.3, 1)):
        ms = _multi_start(model, "thin_discount", value, num, fam.grid, fam.tg)
        cont = br.paths_at(value)
        assert len(cont) == n and 1 <= len(ms) <= n
        # same fixed points: both are solved to ||G|| < 1e-8, |I - DPhi|^-1 is O(10) here
        assert _covers(cont, ms, 1e-6)
    # stability: the branch through the fold changes stability there (the eigenvalue of DPhi crosses 1)
    b = br.branches[br.folds[0].branch]
    j = br.folds[0].index
    lam = b.eigenvalue.real
    assert (lam[j] - 1.0) * (lam[j + 1] - 1.0) < 0 or (lam[j - 1] - 1.0) * (lam[j + 2] - 1.0) < 0
    # two stable and one unstable equilibrium where there are three
    at = [(br2.scalars["exits"][k], br2.stable[k]) for br2 in br.branches for k in range(len(br2))
          if br2.parameter[k] == 0.2]
    assert sorted(s for _, s in at) == [False, True, True]
    unstable = next(e for e, s in at if not s)
    assert min(e for e, _ in at) < unstable < max(e for e, _ in at)  # the middle one
    # full equilibria at a value, checked by the solver
    eqs = br.equilibria_at(0.25)
    assert len(eqs) == 3 and all(e.residual < 1e-8 for e in eqs)


@pytest.mark.slow
def test_thin_market_at_the_preset_relaxation_matches_multistart() -> None:
    # epsilon = 1e-3 (the preset's): on [0.2, 0.3] the no-trade market and the selling wave are two branches
    # without folds (the unstable middle branch is born at the no-trade fold near 0.18, outside the range)
    model = SCENARIOS["thin-market"].model
    num = Numerics(n_cells=40, n_steps=40)
    br = continuation(model, "thin_discount", [0.2, 0.3], numerics=num, step=0.02)
    assert len(br.branches) == 2 and not br.folds
    assert all(b.parameter.min() == 0.2 and b.parameter.max() == 0.3 for b in br.branches)
    assert all(b.stable.all() for b in br.branches)
    ms = _multi_start(model, "thin_discount", 0.25, num, br._family.grid, br._family.tg)
    cont = br.paths_at(0.25)
    assert len(cont) == len(ms) == 2 and _covers(cont, ms, 1e-6)


def test_fire_sale_one_branch_no_fold_matches_multistart() -> None:
    model = SCENARIOS["fire-sale"].model
    num = Numerics(n_cells=30, n_steps=30)
    br = continuation(model, "feedback", [0.0, 0.6], numerics=num, stability=False)
    assert len(br.branches) == 1 and not br.folds
    b = br.branches[0]
    assert b.parameter[0] == 0.0 and b.parameter[-1] == 0.6 and np.all(np.diff(b.parameter) > 0)
    assert np.all(b.residual < 1e-8)
    for value in (0.3, 0.6):
        ms = _multi_start(model, "feedback", value, num, br._family.grid, br._family.tg)
        cont = br.paths_at(value)
        assert len(cont) == len(ms) == 1 and _covers(cont, ms, 1e-6)
    # fire-sale feedback raises exits along the branch
    assert np.all(np.diff(b.scalars["exits"]) > 0)


def test_continuation_bad_input() -> None:
    model = SCENARIOS["fire-sale"].model
    with pytest.raises(ValueError, match="Unknown `parameter` 'nope'"):
        continuation(model, "nope", [0, 1])
    with pytest.raises(ValueError, match="`values`") as exc:
        continuation(model, "feedback", [1.0, 1.0])
    assert "array(" not in str(exc.value) and "[1.0, 1.0]" in str(exc.value)
    with pytest.raises(ValueError, match=r"got 21 values from 0\.2 to 0\.2"):
        continuation(model, "feedback", np.linspace(0.2, 0.2, 21))
    with pytest.raises(ValueError, match="`feedback`"):
        continuation(model, "feedback", [-1.0, 1.0])
    with pytest.raises(TypeError, match="`model`"):
        continuation("fire-sale", "feedback", [0, 1])  # type: ignore[arg-type]


def test_cli_continue_json_and_bad_spec(tmp_path) -> None:  # type: ignore[no-untyped-def]
    r = CliRunner().invoke(main, ["mfg", "--scenario", "fire-sale", "--continue", "feedback=0:0.6:3", "--n-cells",
                                  "30", "--n-steps", "30", "--no-stability", "--json", "--export",
                                  str(tmp_path / "b.csv")])
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert out["parameter"] == "feedback" and out["range"] == [0.0, 0.6] and out["folds"] == []
    assert len(out["branches"]) == 1 and out["branches"][0]["parameter_values"][-1] == 0.6
    # --no-stability: stability is unknown, never reported as unstable
    assert out["branches"][0]["stable_points"] is None and set(out["branches"][0]["stable"]) == {None}
    assert (tmp_path / "b.csv").read_text().startswith("branch,parameter,exits")
    for bad in ("feedback", "feedback=0", "feedback=a:b", "feedback=0:1:1"):
        r = CliRunner().invoke(main, ["mfg", "--continue", bad])
        assert r.exit_code == 2 and "`--continue`" in r.output, r.output

    # START = STOP named the Python `values` and printed a numpy array repr
    r = CliRunner().invoke(main, ["mfg", "--continue", "thin_discount=0.2:0.2"])
    assert r.exit_code == 2 and "`--continue` START and STOP must differ" in r.output and "array(" not in r.output
    # a model that fails inside the range said only "The user `coupling` returned non-finite prices."
    r = CliRunner().invoke(main, ["mfg", "--scenario", "thin-market", "--continue", "thin_discount=0.2:1e9:3",
                                  "--n-cells", "20", "--n-steps", "20"])
    assert r.exit_code == 2 and "`--continue` thin_discount=0.2:1e9:3: the model fails at thin_discount =" in r.output
    assert "non-finite prices" in r.output and "Traceback" not in r.output


def test_budget_ends_in_convergence_error_with_history() -> None:
    from gelav.errors import ConvergenceError

    model = SCENARIOS["fire-sale"].model
    with pytest.raises(ConvergenceError, match="budget") as exc:
        continuation(model, "feedback", [0.0, 1.0], numerics=Numerics(n_cells=30, n_steps=30), stability=False,
                     max_points=3)
    hist = exc.value.history
    assert hist and all({"branch", "step", "accepted", "residual"} <= set(h) for h in hist)


def test_exact_tangent_products_same_branch_fewer_evaluations() -> None:
    """The corrector's, the tangent's and the eigenvalue's products DΦ v by the exact tangent (no
    evaluation of Φ each) against forward differences of Φ (one each): the same branch to the
    corrector's tolerance, under a third of the evaluations (measured 104 against 334)."""
    model = SCENARIOS["fire-sale"].model
    num = Numerics(n_cells=30, n_steps=30)
    kw = dict(numerics=num, stability=False)
    tan = continuation(model, "feedback", [0.0, 0.6], **kw)
    fd = continuation(model, "feedback", [0.0, 0.6], jacobian="fd", **kw)
    assert tan.diagnostics["jacobian"] == "tangent" and tan.diagnostics["tangent_products"] > 0
    assert fd.diagnostics["tangent_products"] == 0
    for value in (0.15, 0.3, 0.45):
        a, b = tan.paths_at(value), fd.paths_at(value)
        assert len(a) == len(b) == 1 and np.max(np.abs(a[0] - b[0])) < 1e-6
    assert 3 * tan.diagnostics["evaluations"] < fd.diagnostics["evaluations"]
    with pytest.raises(ValueError, match="`jacobian`"):
        continuation(model, "feedback", [0.0, 0.6], numerics=num, jacobian="exact")


def test_branch_points_with_negative_holder_masses_are_said(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The branch's own fixed point keeps the grid's θ (issue 11, class 3): when its forward sweeps carry
    a negative holder mass (coarse Crank–Nicolson steps), the result says so in its diagnostics and warns;
    the same run without one stays silent."""
    import dataclasses

    from gelav.mfg import branches

    model = SCENARIOS["fire-sale"].model
    num = Numerics(n_cells=30, n_steps=30)
    with warnings.catch_warnings():
        warnings.simplefilter("error", AccuracyWarning)
        clean = continuation(model, "feedback", [0.0, 0.3], numerics=num, stability=False)
    assert "negative_masses" not in clean.diagnostics
    phi = branches._Family.phi

    def dented(self, x, p):  # type: ignore[no-untyped-def]
        z, bw, fw = phi(self, x, p)
        P = fw.P.copy()
        P[-1, 0, 3] = -1e-6 * np.abs(P[-1]).max()  # a negative mass at the last time level
        return z, bw, dataclasses.replace(fw, P=P)

    monkeypatch.setattr(branches._Family, "phi", dented)
    with pytest.warns(AccuracyWarning, match="negative holder masses"):
        br = continuation(model, "feedback", [0.0, 0.3], numerics=num, stability=False)
    low = br.diagnostics["negative_masses"]["lowest_relative"]
    assert -1.1e-6 < low < -0.9e-6



@pytest.mark.slow
def test_range_end_at_the_parameter_bound_and_starts_on_the_grids_steps() -> None:
    """Two defects of a coarse crisis run from feedback = 0 (session 5): the predictor stepped below the
    range's end, where a negative feedback does not exist ("`feedback` must be >= 0" instead of a branch);
    and a start found by ``solve`` on re-stepped times (backward-Euler steps for positivity) was put on the
    branch although it is no fixed point of the branch's map (residual 0.038). Now the branch lands on 0,
    and every point of every branch is a fixed point of the one map to the tolerance."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AccuracyWarning)
        br = continuation(SCENARIOS["crisis"].model, "feedback", [0.0, 1.0], numerics=Numerics(n_cells=40, n_steps=10),
                          stability=False)
    assert br.branches
    ends = sorted(float(p) for b in br.branches for p in (b.parameter[0], b.parameter[-1]))
    assert ends[0] == pytest.approx(0.0, abs=1e-12) and ends[-1] == pytest.approx(1.0, abs=1e-12)
    for b in br.branches:
        assert np.all(b.parameter >= 0.0)
        assert np.max(b.residual) < 1e-8
