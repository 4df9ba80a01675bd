r"""Issue 11, class 1: one Feller classification in the package.

``gelav.pde.exits.classify_boundary`` and ``gelav.fd.singular.end_kinds`` (which chooses the
generator's boundary rows and grids) must agree with the textbook test: scale density
:math:`s' = \exp(-\int 2b/\sigma^2)`, speed density :math:`m = 2/(\sigma^2 s')`,
:math:`\Sigma = \int (s - s(l))\,m`, :math:`N = \int M\,ds`:
regular (Σ, N finite), exit (Σ finite, N infinite), entrance (Σ infinite, N finite), natural
(both infinite). With :math:`\sigma^2 \sim d^\alpha`, :math:`2b/\sigma^2 \sim \beta/d`:
regular iff β < 1 and β − α > −1; exit iff β < 1, β − α ≤ −1, α < 2; entrance iff β ≥ 1, α < 2;
natural iff α ≥ 2 (GBM: α = 2 for every μ, σ).

Before: GBM(0.05, 0.4)'s 0 was "exit", Jacobi with 2ab/σ² = 0.95 at 0 "entrance" and with
2a(1-b)/σ² = 0.05 at 1 "exit" (both regular), CIR with 2κθ/σ² = 1 was "regular" in end_kinds.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from gelav import CIR, GeometricBrownianMotion, OrnsteinUhlenbeck, Process
from gelav.errors import FellerConditionWarning
from gelav.fd.singular import end_kinds
from gelav.pde.exits import classify_boundary


def _both(proc, a, b):
    """The classes of (a, b) by classify_boundary, checked equal to end_kinds' where it has one."""
    cls = classify_boundary(proc, a, b)
    for c, k in zip(cls, end_kinds(proc, (a, b)), strict=True):
        if k is not None:
            assert c.kind == k[0]
    return cls[0].kind, cls[1].kind


def jacobi(a: float, b: float, s: float) -> Process:
    """dX = a(b - X)dt + s sqrt(X(1-X)) dW on [0, 1]: α = 1, β = 2ab/s² at 0, 2a(1-b)/s² at 1."""
    return Process(lambda t, x: a * (b - x), lambda t, x: s * np.sqrt(np.clip(x * (1 - x), 0.0, None)),
                   domain=(0.0, 1.0), time_homogeneous=True)


def _textbook(beta: float, alpha: float) -> str:
    if alpha >= 2:
        return "natural"
    if beta < 1:
        return "regular" if beta - alpha > -1 else "exit"
    return "entrance"


@pytest.mark.parametrize("mu, sigma", [(0.05, 0.4), (0.0, 1.0), (0.5, 1.0), (1.0, 1.0), (-0.3, 0.2), (2.0, 0.5)])
def test_gbm_zero_is_natural_for_every_mu_sigma(mu, sigma):
    assert _both(GeometricBrownianMotion(mu, sigma), 0.0, 5.0)[0] == "natural"


@pytest.mark.parametrize("k, m, s", [(0.2, 0.1, 0.5), (1.0, 0.1, 1.0), (1.0, 0.5, 1.0), (1.0, 0.5, 0.5),
                                     (2.0, 0.1, 0.3), (0.5, 0.3, 0.55)])
def test_cir_zero_regular_below_one_entrance_from_one(k, m, s):
    nu = 2 * k * m / s**2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FellerConditionWarning)
        proc = CIR(k, m, s)
    assert _both(proc, 0.0, 2.0)[0] == ("regular" if nu < 1 else "entrance")


@pytest.mark.parametrize("a, b, s", [(1.0, 0.3, 1.0), (0.95, 0.5, 1.0), (1.05, 0.5, 1.0), (0.5, 0.95, 1.0),
                                     (1.0, 0.3, 0.5), (3.0, 0.1, 1.0), (1.0, 0.9, 1.0)])
def test_jacobi_ends_by_their_exponents(a, b, s):
    lo, hi = _both(jacobi(a, b, s), 0.0, 1.0)
    assert lo == _textbook(2 * a * b / s**2, 1.0)
    assert hi == _textbook(2 * a * (1 - b) / s**2, 1.0)


def test_a_user_process_with_an_exit_end():
    r"""dX = -dt + sqrt(2X) dW on (0, ∞): σ² = 2x (α = 1), 2b/σ² = -1/x (β = -1).

    s'(x) = exp(∫ 1/x) = x, so S(0, x] = x²/2 is finite; m = 2/(2x · x) = x⁻², so M(0, x] = ∞;
    Σ = ∫ (y²/2) y⁻² dy < ∞: 0 is an exit (reached, never left), and the end's part of E[τ] is finite.
    """
    proc = Process(lambda t, x: -1.0 + 0 * x, lambda t, x: np.sqrt(2 * np.clip(x, 0.0, None)),
                   domain=(0.0, math.inf), time_homogeneous=True)
    assert _both(proc, 0.0, 1.0)[0] == "exit"
    lo = classify_boundary(proc, 0.0, 1.0)[0]
    assert lo.accessible and lo.scale_finite and lo.exit_time_finite


def test_power_law_ends_of_a_general_exponent():
    """σ² = x^α near 0 with the drift that gives β: the class follows the exponents (α = 0.5, 1.5)."""
    for alpha, beta in ((0.5, 0.2), (1.5, 0.3), (1.5, -0.6), (1.5, 1.2), (2.5, 0.5)):
        proc = Process(lambda t, x, b=beta, al=alpha: 0.5 * b * np.clip(x, 0, None) ** (al - 1.0),
                       lambda t, x, al=alpha: np.clip(x, 0, None) ** (al / 2.0), domain=(0.0, math.inf),
                       time_homogeneous=True)
        assert _both(proc, 0.0, 1.0)[0] == _textbook(beta, alpha), (alpha, beta)


def test_interior_ends_and_gaussian_processes_are_regular():
    from gelav import BrownianMotion, OrnsteinUhlenbeck

    for proc in (BrownianMotion(0.1, 1.0), OrnsteinUhlenbeck(1.0, 0.0, 1.0)):
        assert _both(proc, -1.0, 1.0) == ("regular", "regular")
        assert end_kinds(proc, (-1.0, 1.0)) == (None, None)


# -- the integral test (gelav.fd.feller): infinite ends, and a second implementation for the finite ones --

def _user(b, s, domain=(-math.inf, math.inf)):
    return Process(b, s, domain=domain, time_homogeneous=True)


@pytest.mark.parametrize(("name", "proc", "a", "b", "kinds"), [
    # OU: s' = e^{κx²/σ²} (S = ∞), M finite, N = ∫ M(ξ, ∞) s'(ξ) dξ ~ ∫ dξ/ξ = ∞: natural at both ends
    ("OU", lambda: OrnsteinUhlenbeck(1.0, 0.0, 0.5), -math.inf, math.inf, ("natural", "natural")),
    ("OU, other parameters", lambda: OrnsteinUhlenbeck(0.2, 3.0, 2.0), -math.inf, math.inf, ("natural", "natural")),
    # BM with drift 0.3: S finite towards +∞ but Σ = ∫ (e^{-0.6ξ}/0.6) 2e^{0.6ξ} dξ = ∞; towards -∞ N = ∞
    ("BM with drift", lambda: _user(lambda t, x: 0.3 + 0 * x, lambda t, x: 1.0 + 0 * x), -math.inf, math.inf,
     ("natural", "natural")),
    # dX = X² dt + dW explodes to +∞ (Σ ~ ∫ ξ⁻² dξ < ∞) and comes down from -∞ (x' = x² from -∞)
    ("x² drift", lambda: _user(lambda t, x: x**2, lambda t, x: 1.0 + 0 * x), -math.inf, math.inf,
     ("entrance", "exit")),
    # dX = -X³ dt + dW comes down from ±∞: S = ∞, N ~ ∫ ξ⁻³ dξ < ∞
    ("-x³ drift", lambda: _user(lambda t, x: -(x**3), lambda t, x: 1.0 + 0 * x), -math.inf, math.inf,
     ("entrance", "entrance")),
    # GBM and CIR: +∞ natural
    ("GBM", lambda: GeometricBrownianMotion(0.05, 0.4), 0.0, math.inf, ("natural", "natural")),
    ("CIR", lambda: CIR(2.0, 0.1, 0.3), 0.0, math.inf, ("entrance", "natural")),
    # dX = X² dt + X dW: 2b/σ² = 2, S finite, m = 2e^{2x}/x², Σ ~ ∫ ξ⁻² < ∞: explodes
    ("X² dt + X dW", lambda: _user(lambda t, x: x**2, lambda t, x: x, (0.0, math.inf)), 1.0, math.inf,
     ("regular", "exit")),
    # CEV with σ² = x³ and drift x: scale ~ x, speed ~ x⁻³, ∫ x m < ∞: +∞ is an entrance
    ("CEV 3/2", lambda: _user(lambda t, x: x, lambda t, x: np.abs(x) ** 1.5, (0.0, math.inf)), 1.0, math.inf,
     ("regular", "entrance")),
])
def test_infinite_ends_are_classified_by_the_feller_integrals(name, proc, a, b, kinds):
    lo, hi = classify_boundary(proc(), a, b)
    assert (lo.kind, hi.kind) == kinds, name
    for c in (lo, hi):
        if not math.isfinite(c.point):
            assert c.singular and c.accessible == (c.kind == "exit")


def test_the_integral_test_agrees_with_the_exponent_test_on_power_law_ends():
    """Two implementations of Feller's test: exponents (fd.singular.feller_kind) and integrals (fd.feller),
    over a grid of σ² ~ x^α, 2b/σ² ~ β/x away from the class borders (where the per-decade test needs
    more decades than it has)."""
    from gelav.fd.feller import feller_integrals
    from gelav.fd.singular import EndExponents, feller_kind

    seen, n = set(), 0
    for alpha in (0.0, 0.5, 1.0, 1.5, 2.5, 3.0):
        for beta in (-2.0, -0.8, -0.3, 0.2, 0.6, 1.4, 2.5):
            if min(abs(beta - 1), abs(beta - alpha + 1), abs(alpha - 2)) < 0.15:
                continue
            proc = _user(lambda t, x, b=beta, al=alpha: 0.5 * b * np.clip(x, 0, None) ** (al - 1.0),
                         lambda t, x, al=alpha: np.clip(x, 0, None) ** (al / 2.0), (0.0, math.inf))
            kind = feller_kind(EndExponents((alpha, beta)))
            assert feller_integrals(proc, 0.0, 1.0).kind == kind == _textbook(beta, alpha), (alpha, beta)
            seen.add(kind)
            n += 1
    assert seen == {"regular", "exit", "entrance", "natural"} and n == 40  # docs/validation.md: 40 pairs


def test_infinite_ends_outside_the_state_space_or_not_infinite_are_refused():
    with pytest.raises(ValueError, match="`a`"):
        classify_boundary(GeometricBrownianMotion(0.05, 0.4), -math.inf, 1.0)
    with pytest.raises(ValueError, match="`a`"):
        classify_boundary(OrnsteinUhlenbeck(1.0, 0.0, 0.5), math.nan, 1.0)
    with pytest.raises(ValueError, match="`b`"):
        classify_boundary(OrnsteinUhlenbeck(1.0, 0.0, 0.5), 0.0, -math.inf)
    # coefficients that overflow on the way to infinity: said, not guessed
    proc = _user(lambda t, x: np.exp(x), lambda t, x: 1.0 + 0 * x)
    with pytest.raises(ValueError, match="Cannot classify the end at infinity"):
        classify_boundary(proc, 0.0, math.inf)


def test_backward_says_when_an_automatic_domain_truncates_an_explosion():
    """dX = X² dt + dW explodes: E[1{no explosion by 2}] ≈ 0.689 (absorbing ends at R = 10, 20, 40 give
    0.666, 0.677, 0.683, first order in 1/R, the time to explode from R), while the reflecting end of an
    automatic domain returns 1 — said with a MassLossWarning naming the end. Natural ends stay silent."""
    import warnings

    from gelav import backward
    from gelav.errors import MassLossWarning

    explosive = _user(lambda t, x: x**2, lambda t, x: 1.0 + 0 * x)
    with pytest.warns(MassLossWarning, match="explodes towards \\+inf.*upper end"):
        reflected = backward(explosive, 1.0, 2.0, x0=0.0, n_cells=100, n_steps=50)
    assert abs(reflected.value(0.0) - 1.0) < 1e-12  # the wrong number the warning is about
    assert round(reflected.grid.upper, 1) == 14.3  # the automatic end docs/validation.md quotes
    killed = [backward(explosive, 1.0, 2.0, domain=(-R, R), upper=0.0, n_cells=40 * R, n_steps=200).value(0.0)
              for R in (10, 20, 40)]
    assert [round(k, 3) for k in killed] == [0.666, 0.677, 0.683]  # the numbers docs/validation.md quotes
    # the truncation error is first order in 1/R (the time to explode from R): differences halve, and
    # the extrapolation to R = ∞ is the survival P(no explosion by 2) ≈ 0.689, well below 1
    ratio = (killed[1] - killed[0]) / (killed[2] - killed[1])
    assert 1.8 < ratio < 2.2
    assert abs(2 * killed[2] - killed[1] - 0.689) < 2e-3
    with warnings.catch_warnings():
        warnings.simplefilter("error", MassLossWarning)
        for proc in (_user(lambda t, x: -x, lambda t, x: 1.0 + 0 * x), OrnsteinUhlenbeck(1.0, 0.0, 0.5),
                     _user(lambda t, x: -(x**3), lambda t, x: 1.0 + 0 * x)):
            backward(proc, 1.0, 1.0, x0=0.0, n_cells=100, n_steps=50)


def test_cir_without_feller_automatic_mode_is_silent_and_within_its_estimate() -> None:
    """An empty interval in the singular end's integrals (lo = hi) gave log(0) = -inf correctly but with a
    RuntimeWarning on every CIR grid (session 5); the answer is the exact noncentral-χ² law's."""
    import math
    import warnings

    from scipy import stats as sps

    from gelav import stress_test
    from gelav.errors import FellerConditionWarning
    from gelav.processes import CIR

    k, th, s, x0, T, c0 = 0.5, 0.04, 0.3, 0.04, 1.0, 0.02
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        warnings.simplefilter("ignore", FellerConditionWarning)
        r = stress_test(CIR(k, th, s), x0, T, c0, methods=["pde"], tol=1e-6).results["pde"]
    c = 2 * k / (s * s * (1 - math.exp(-k * T)))
    exact = float(sps.ncx2.cdf(2 * c * c0, 4 * k * th / s**2, 2 * c * x0 * math.exp(-k * T)))
    assert abs(r.probability - exact) <= r.error <= 1e-6
