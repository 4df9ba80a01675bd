"""Rich notebook display (issue 17, item 8): the shared KeyTable and the results that use it."""

from __future__ import annotations

import math

import numpy as np

from gelav import OrnsteinUhlenbeck, forward
from gelav._display import KeyTable, fmt_number, short_repr


def test_key_table_html_and_markdown():
    t = KeyTable("A <b>title</b>", [("x & y", 1.23456789, (0.5, math.inf)), ("noise", -1.09979e-17, None),
                                    ("n", 7, "a|b")], columns=("", "value", "extra"), notes=["note <1>"])
    h = t.html()
    assert "A &lt;b&gt;title&lt;/b&gt;" in h and "x &amp; y" in h and "note &lt;1&gt;" in h
    assert "1.235" in h and "[0.5, ∞]" in h and "e-17" not in h and ">0<" in h
    m = t.markdown()
    assert m.splitlines()[0] == "**A <b>title</b>**"
    assert "| noise | 0 | – |" in m and "a\\|b" in m and "- note <1>" in m


def test_formatting_helpers():
    assert fmt_number(math.nan) == "–" and fmt_number(-math.inf) == "−∞" and fmt_number(True) == "yes"
    assert fmt_number(3) == "3" and fmt_number(0.000123456, 3) == "0.000123"
    assert short_repr("R", [("a", 1.0 / 3), ("v", np.zeros((3, 4)))]) == "R(a=0.3333, v=<array 3×4>)"


def test_density_rich_display_and_short_repr():
    d = forward(OrnsteinUhlenbeck(kappa=0.45, mean=1.0, sigma=0.32), -0.5, 2.0, n_cells=200, n_steps=50)
    h = d._repr_html_()
    assert "<table" in h and "VaR 99%" in h and f"{d.value_at_risk(0.99):.4g}" in h
    assert "ES 99%" in d._repr_markdown_()
    assert len(repr(d)) < 200 and "array" not in repr(d)


def test_fmt_fixed_small_switch_for_multiples():
    from gelav._display import fmt_fixed

    assert fmt_fixed(0.5, 3, small=1e-3) == "0.500"
    assert fmt_fixed(1.2189e306, 3, small=1e-3) == "1.22e+306"
    assert fmt_fixed(4e-4, 3, small=1e-3) == "4.00e-04"
    assert fmt_fixed(9999999.0, 3, small=1e-3) == "9999999.000"
    assert fmt_fixed(0.5, 3) == "5.00e-01"  # the default switch is unchanged
