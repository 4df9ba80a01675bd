"""`gelav ito` and the symbolic layer on hostile or degenerate input (the session-10 audit of the symbolic
layer): every refusal exits 2 naming the field, nothing prints nan or a traceback, nothing hangs."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp
from click.testing import CliRunner
from scipy import stats

from gelav.cli import main


@pytest.mark.parametrize("args, field", [
    (["--drift", "exp(exp(exp(1000)))", "--diffusion", "1"], "drift"),       # exit 1: int too large
    (["--drift", "acos(2)", "--diffusion", "1"], "drift"),                   # complex, printed as a drift
    (["--drift", "(-8)^(1/3)", "--diffusion", "1"], "drift"),                # complex principal root
    (["--drift", "mu", "--diffusion", "1", "--exit-time", "nan,1"], "exit"),  # 'nan' taken as a symbol
    (["--drift", "mu", "--diffusion", "1", "--exit-time", "0,inf"], "exit"),
    (["--drift", "-x", "--diffusion", "1", "--transform", "x^(9^9)"], "transform"),  # hung > 120 s
    (["--drift", "mu", "--diffusion", "sigma", "--exit-time", "a,b", "--limit", "a->-oo"], "limit"),  # traceback
])
def test_refused_with_exit_code_2_naming_the_field(args, field):
    r = CliRunner().invoke(main, ["ito", *args])
    assert r.exit_code == 2 and field in r.output and "Traceback" not in r.output


def test_a_substitution_into_a_removable_singularity_is_its_limit():
    # --limit mu=0 gave E[τ](x) = nan with exit 0; the value at mu = 0 is the limit (x - a)(b - x)/σ²
    r = CliRunner().invoke(main, ["ito", "--drift", "mu", "--diffusion", "sigma", "--exit-time", "a,b",
                                  "--limit", "mu=0", "--plain"])
    assert r.exit_code == 0 and "nan" not in r.output
    assert "E[tau](x) = -(-a + x)*(-b + x)/sigma**2" in r.output


def test_a_density_with_negative_bases_is_read_in_complex_arithmetic():
    # Jacobi's Beta(2.4, 5.6) comes out of SymPy as -C·(-1)**(2/5)·x**(7/5)·(x-1)**(23/5): NaN in real arithmetic on
    # (0, 1), so the stationary law "did not integrate to a positive finite mass". (The symbolic normalisation of
    # that model takes SymPy ~100 s, so the lambdified form is tested directly, with its exact constant.)
    from gelav.symbolic._ito import _real_on_domain
    from gelav.symbolic._laws import density_distribution

    x = sp.Symbol("x", real=True)
    a, b = sp.Rational(12, 5), sp.Rational(28, 5)
    dens = -(-1) ** sp.Rational(2, 5) * x ** (a - 1) * (x - 1) ** (b - 1) * sp.gamma(a + b) / (sp.gamma(a) * sp.gamma(b))
    raw = sp.lambdify(x, dens, modules=["numpy", "scipy"])
    with np.errstate(all="ignore"):
        assert np.isnan(np.real_if_close(raw(np.array([0.3])))).any() or np.iscomplexobj(raw(np.array([0.3])))
    law, ref = density_distribution(_real_on_domain(raw), 0.0, 1.0, name="beta"), stats.beta(2.4, 5.6)
    xs = np.array([0.05, 0.3, 0.7, 0.95])
    np.testing.assert_allclose(law.pdf(xs), ref.pdf(xs), rtol=1e-12)
    assert law.mean() == pytest.approx(0.3, rel=1e-10)


def test_mckean_vlasov_extreme_inputs_name_their_option():
    for args, name in ((["--x0", "1e308"], "--x0"), (["--sigma", "1e-308"], "--sigma")):
        r = CliRunner().invoke(main, ["mckean-vlasov", *args])
        assert r.exit_code == 2 and name in r.output and "RuntimeWarning" not in r.output
