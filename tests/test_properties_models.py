"""Property-based suite, valid models (issue 11): random OU/CIR/GBM/BM models on random grids.

Hypothesis draws the family and its parameters, the domain, a uniform or a
stretched grid, the time grid and scheme, the boundaries (reflecting or
absorbing at each end), a killing rate (none, constant or state dependent)
and the start. For every model the discrete solutions must satisfy, to
rounding:

* mass balance: mass in the domain + absorbed at each end + killed = 1 (1e-10),
  at every saved time;
* positivity: no node mass, absorbed or killed mass below -1e-12;
* duality: the forward law against the backward (Feynman–Kac) solution of the
  same discretisation, ∫ p_T g + Σ absorbed·φ = ∫ p_0 u_0 (1e-10 relative);
* optimal stopping: the value is >= the reward and >= the European value
  (the backward solution of the same discretisation) at every node and time.

The runs are derandomised (the same examples on every run, no example
database) with small grids, so the suite is deterministic and fast.
"""

from __future__ import annotations

import warnings

import numpy as np
from hypothesis import Phase, given, settings
from hypothesis import strategies as st

from _properties import PROPS
from gelav import (
    CIR,
    BrownianMotion,
    GeometricBrownianMotion,
    Grid,
    OrnsteinUhlenbeck,
    TimeGrid,
    forward,
)
from gelav.fd.boundaries import Dirichlet
from gelav.pde.backward import backward, duality_gap
from gelav.pde.stopping import optimal_stopping

#: examples per property (the issue asks for >= 300 random valid models)
N_MODELS = 320
N_STOPPING = 300
#: Crank–Nicolson models for the positivity property (expected to fail until class 3 is fixed)
N_NEGATIVE_CN = 60


@st.composite
def models(draw, scheme=None):
    """A random model: process, grid, time grid (``scheme``, default drawn), boundaries, killing and start."""
    family = draw(st.sampled_from(["ou", "cir", "gbm", "bm"]))
    if family in ("ou", "bm"):
        lo = draw(st.floats(-3.0, 0.5))
        hi = lo + draw(st.floats(0.5, 4.0))
    else:  # positive families on a domain away from 0 (the singular end is issue 11 class 1)
        lo = draw(st.floats(0.05, 1.0))
        hi = lo + draw(st.floats(0.5, 4.0))
    mid = 0.5 * (lo + hi)
    if family == "ou":
        proc = OrnsteinUhlenbeck(
            draw(st.floats(0.01, 3.0)), draw(st.floats(lo, hi)), draw(st.floats(0.05, 1.5))
        )
    elif family == "bm":
        proc = BrownianMotion(draw(st.floats(-1.0, 1.0)), draw(st.floats(0.05, 1.5)))
    elif family == "gbm":
        proc = GeometricBrownianMotion(draw(st.floats(-0.5, 0.5)), draw(st.floats(0.05, 0.8)))
    else:
        kappa, mean = draw(st.floats(0.1, 3.0)), draw(st.floats(lo, hi))
        sigma = draw(st.floats(0.05, 1.0)) * np.sqrt(2.0 * kappa * mean)  # Feller: 2κθ >= σ²
        proc = CIR(kappa, mean, sigma)
    n_cells = draw(st.integers(12, 40))
    if draw(st.booleans()):
        grid = Grid.uniform(lo, hi, n_cells)
    else:
        grid = Grid.stretched(
            lo,
            hi,
            n_cells,
            center=lo + (hi - lo) * draw(st.floats(0.05, 0.95)),
            intensity=draw(st.floats(0.5, 5.0)),
        )
    scheme = scheme or draw(st.sampled_from(["cn", "euler"]))
    horizon = draw(st.floats(0.05, 2.0))
    tg = TimeGrid.build(horizon, draw(st.integers(4, 20)), scheme=scheme)
    ends = [draw(st.sampled_from(["reflecting", "absorbing"])) for _ in range(2)]
    kill = draw(st.sampled_from(["none", "constant", "state"]))
    if kill == "none":
        killing = None
    elif kill == "constant":
        killing = draw(st.floats(0.0, 2.0))
    else:
        k0, k1 = draw(st.floats(0.0, 1.0)), draw(st.floats(0.0, 1.0))
        killing = np.asarray(k0 + k1 * (grid.nodes - mid) ** 2, dtype=float)
    x0 = float(grid.nodes[draw(st.integers(1, grid.n_nodes - 2))])
    return {
        "process": proc,
        "grid": grid,
        "time_grid": tg,
        "ends": ends,
        "killing": killing,
        "x0": x0,
    }


def _forward(m):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # coarse on purpose: invariants, not accuracy
        tg = m["time_grid"]
        return forward(
            m["process"],
            m["x0"],
            tg.end,
            grid=m["grid"],
            time_grid=tg,
            times=tg.times,
            lower=m["ends"][0],
            upper=m["ends"][1],
            killing=m["killing"],
        )


def _check_mass(d):
    """Mass in the domain + absorbed at each end + killed = 1 at every saved time, all finite."""
    assert np.all(np.isfinite(d.masses))
    total = d.masses.sum(axis=1) + d.absorbed_lower + d.absorbed_upper + d.killed
    assert np.max(np.abs(total - 1.0)) < 1e-10


def _check_positivity(d):
    """No node mass below zero; absorbed and killed masses never decrease."""
    assert d.masses.min() >= -1e-12
    for acc in (d.absorbed_lower, d.absorbed_upper, d.killed):
        assert acc.min() >= -1e-12 and np.all(np.diff(acc) >= -1e-12)


@settings(PROPS, max_examples=N_MODELS)
@given(m=models())
def test_mass_including_absorbed_and_killed_is_one(m):
    _check_mass(_forward(m))


@settings(PROPS, max_examples=N_MODELS)
@given(m=models(scheme="euler"))
def test_no_negative_mass_backward_euler(m):
    """Backward Euler (an M-matrix step) with any ends and killing: no mass below zero."""
    _check_positivity(_forward(m))


@settings(
    PROPS, max_examples=N_NEGATIVE_CN, phases=[Phase.explicit, Phase.generate]
)  # no shrinking
@given(m=models(scheme="cn"))
def test_no_negative_mass_crank_nicolson(m):
    """Crank–Nicolson (coarse steps, absorbing ends, killing): no negative node or absorbed masses either
    (the positivity check of issue 11 class 3 takes offending steps again as implicit half steps)."""
    _check_positivity(_forward(m))


@settings(PROPS, max_examples=N_MODELS)
@given(
    m=models(), phi=st.tuples(st.floats(-2.0, 2.0), st.floats(-2.0, 2.0)), freq=st.floats(0.5, 4.0)
)
def test_forward_backward_duality(m, phi, freq):
    tg = m["time_grid"]
    bcs = [
        Dirichlet(v) if e == "absorbing" else "reflecting"
        for e, v in zip(m["ends"], phi, strict=True)
    ]

    def values(time_grid):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return backward(
                m["process"],
                lambda x: np.cos(freq * x),
                time_grid.end,
                grid=m["grid"],
                time_grid=time_grid,
                times=time_grid.times,
                lower=bcs[0],
                upper=bcs[1],
                discount=m["killing"],
            )

    v = values(tg)
    d = _forward({**m, "killing": v.killing})
    if not np.array_equal(d.time_grid.times, tg.times):
        # the forward solve took some Crank–Nicolson steps again as implicit half steps (positivity,
        # issue 11 class 3): the dual backward solve is the one on the steps actually taken
        d = _forward({**m, "time_grid": d.time_grid, "killing": v.killing})
        v = values(d.time_grid)
    gap = duality_gap(v, d, m["x0"])
    assert abs(gap["gap"]) < 1e-10 * max(1.0, abs(gap["backward"]))


@settings(PROPS, max_examples=N_STOPPING)
@given(m=models(), strike=st.floats(0.0, 1.0), call=st.booleans())
def test_stopping_value_dominates_reward_and_european(m, strike, call):
    grid, tg = m["grid"], m["time_grid"]
    k = grid.lower + strike * (grid.upper - grid.lower)

    def reward(x):
        return np.maximum(x - k, 0.0) if call else np.maximum(k - x, 0.0)

    kw = {"grid": grid, "time_grid": tg, "times": tg.times, "discount": m["killing"]}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        s = optimal_stopping(m["process"], reward, tg.end, **kw)
        e = backward(m["process"], reward, tg.end, **kw)
    scale = max(1.0, float(np.max(np.abs(e.values))))
    assert np.all(np.isfinite(s.values))
    assert np.min(s.values - reward(grid.nodes)[None, :]) >= -1e-10 * scale
    assert np.min(s.values - e.values) >= -1e-10 * scale
