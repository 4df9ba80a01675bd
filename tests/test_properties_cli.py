"""Property-based suite, invalid command lines, scenario files and CSV files (issue 11).

Hypothesis draws

* a command and one of its options with a bad value (NaN, ±inf, overflow,
  out-of-range numbers, non-numbers, unparsable model text);
* a scenario file (``--config``) whose table holds one bad field (wrong
  type, NaN/inf, out of range, a date, an unknown key);
* a CSV file for ``gelav calibrate``, ``gelav premium`` or ``gelav metrics``
  with one bad cell, a missing column or too few rows.

Every run must exit with code 2, print a message naming the option, key,
row or column, and no traceback. Runs use small grids so that a wrongly
accepted input would still finish quickly (and then fail the test).
"""

from __future__ import annotations

import math

import numpy as np
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from _properties import PROPS, alarm
from gelav.cli import main

#: examples per property (the issue asks for >= 300 command lines, scenario files and CSV files in all)
N_OPTIONS = 180
N_TOML = 120
N_CSV = 90

#: small runs, so that a wrongly accepted value still returns quickly
FAST = {
    "stress": ["--method", "analytic,pde,mc", "--cells", "40", "--paths", "200"],
    "feynman-kac": ["--n-cells", "30", "--n-steps", "20", "--no-pdepe"],
    "exit-time": ["--n-cells", "40"],
    "trinomial": ["--paths", "200", "--steps", "10"],
    "mckean-vlasov": ["--particles", "100", "--systems", "2", "--steps", "10", "--cells", "30"],
    "mfg": ["--scenario", "calm", "--n-cells", "20", "--n-steps", "20"],
    "jensen": ["--cells", "40", "--steps", "40"],
    "exit-boundary": ["--cells", "40", "--steps", "40"],
}

NUMBER_BAD = ["nan", "inf", "-inf", "1e999", "abc", ""]
INT_BAD = ["abc", "2.5", "nan", "", "-1"]
#: option -> further bad values (its own range)
RANGE_BAD = {
    "--kappa": ["0", "-1", "1e308"],
    "--sigma": ["0", "-1", "1e308"],
    "--sigma-r": ["-1", "1e308"],
    "--sigma0": ["0", "-1", "1e308"],
    "--horizon": ["0", "-1", "1e308"],
    "--fund-life": ["0", "-1", "1e308"],
    "--cells": ["0", "1000000000000"],
    "--n-cells": ["0", "1000000000000"],
    "--n-steps": ["0", "1000000000000"],
    "--steps": ["0", "1000000000000"],
    "--paths": ["0", "1000000000000"],
    "--particles": ["0", "1000000000000"],
    "--tol": ["0", "-1"],
    "--epsilon": ["0", "-1"],
    "--dy": ["0", "-1", "1e308"],
    "--dt": ["0", "-1", "1e308"],
}
#: (command, option, bad values) for options whose values are text
TEXT_BAD = [
    ("stress", "--method", ["bogus", "pde,bogus", ""]),
    ("stress", "--drift", ["x +", "__import__('os')", "1/0*x", "y"]),
    ("stress", "--domain", ["abc", "1", "1,0", "nan,1"]),
    ("stress", "--param", ["k", "k=abc", "k=nan"]),
    ("exit-time", "--drift", ["x +", "lambda: 1"]),
    ("mfg", "--scenario", ["bogus"]),
    ("mfg", "--at", ["abc", "nan"]),
]


def _option_cases():
    import importlib

    import click

    from gelav.cli import COMMANDS

    cases = []
    for name in FAST:
        module, attr = COMMANDS[name].split(":")
        cmd = getattr(importlib.import_module(module), attr)
        for p in cmd.params:
            if (
                not isinstance(p, click.Option)
                or p.is_flag
                or p.opts[0] in ("--config", "--plot", "--export")
            ):
                continue
            opt = p.opts[0]
            if isinstance(p.type, click.types.FloatParamType):
                bad = NUMBER_BAD + RANGE_BAD.get(opt, [])
            elif isinstance(p.type, click.types.IntParamType):
                bad = INT_BAD + RANGE_BAD.get(opt, [])
            else:
                continue
            cases += [(name, opt, v) for v in bad]
    cases += [(c, o, v) for c, o, vs in TEXT_BAD for v in vs]
    return cases


OPTION_CASES = _option_cases()


def _run(args):
    with alarm(30):
        return CliRunner().invoke(main, [str(a) for a in args])


def _assert_usage_error(r, *names):
    out = r.output
    assert r.exit_code == 2, f"exit {r.exit_code}: {out[-600:]} {r.exception!r}"
    assert "Traceback" not in out, out
    assert any(n in out for n in names), f"no mention of {names}: {out[-600:]}"


@settings(PROPS, max_examples=N_OPTIONS)
@given(case=st.sampled_from(OPTION_CASES))
def test_bad_option_exits_2_naming_the_option(case):
    name, opt, value = case
    r = _run([name, *FAST[name], "-q", f"{opt}={value}"])
    _assert_usage_error(r, opt, f"`{opt[2:].replace('-', '_')}", f" {opt[2:]}")


# -- scenario files ---------------------------------------------------------------
def _toml_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    if isinstance(v, int):
        return str(v)
    if isinstance(v, str) and v.startswith("@"):
        return v[1:]  # raw TOML (dates, arrays, inline tables)
    return '"' + v + '"'


TOML_NUMBER_BAD = [math.nan, math.inf, -math.inf, "abc", True, "@[1, 2]", "@{a = 1}", "@1979-05-27"]
TOML_INT_BAD = [*TOML_NUMBER_BAD, 2.5, -1, 10**15]
TOML_POSITIVE_BAD = [*TOML_NUMBER_BAD, 0.0, -1.0, 1e308]
#: `[stress] threshold` and `horizon` take lists (a table over thresholds x horizons): bad lists instead
TOML_LISTS_BAD = ["@[1, 'x']", "@[]", "@[1, nan]", "@[[1, 2]]"]
TOML_NUMBERS_BAD = [v for v in TOML_NUMBER_BAD if v != "@[1, 2]"] + TOML_LISTS_BAD
TOML_POSITIVES_BAD = [v for v in TOML_POSITIVE_BAD if v != "@[1, 2]"] + [*TOML_LISTS_BAD, "@[1, -2]"]
#: (command, table, field, bad values)
TOML_CASES = [
    *[("stress", "process", f, TOML_POSITIVE_BAD) for f in ("kappa", "sigma")],
    ("stress", "process", "mean", [*TOML_NUMBER_BAD, 1e308]),
    ("stress", "process", "kind", ["bogus", 3, True]),
    ("stress", "stress", "horizon", TOML_POSITIVES_BAD),
    ("stress", "stress", "x0", TOML_NUMBER_BAD),
    ("stress", "stress", "threshold", TOML_NUMBERS_BAD),
    ("stress", "stress", "direction", ["sideways", 1, True]),
    ("stress", "stress", "methods", ["bogus", "@['pde', 3]", 1]),
    ("stress", "stress", "paths", TOML_INT_BAD),
    ("stress", "stress", "cells", TOML_INT_BAD),
    ("stress", "stress", "seed", [*TOML_NUMBER_BAD, 2.5, -1]),
    ("stress", "stress", "horizn", [1.0]),
    ("stress", "process", "kapa", [1.0]),
    ("trinomial", "trinomial", "alpha", [*TOML_POSITIVE_BAD, 0.7]),
    ("trinomial", "trinomial", "dy", TOML_POSITIVE_BAD),
    ("trinomial", "trinomial", "steps", TOML_INT_BAD),
    ("mckean-vlasov", "mckean_vlasov", "sigma", TOML_POSITIVE_BAD),
    ("mckean-vlasov", "mckean_vlasov", "particles", TOML_INT_BAD),
    ("exit-time", "exit_time", "a", TOML_NUMBER_BAD),
    ("exit-time", "exit_time", "horizon", TOML_POSITIVE_BAD),
    ("feynman-kac", "feynman_kac", "horizon", TOML_POSITIVE_BAD),
    ("feynman-kac", "feynman_kac", "n_cells", TOML_INT_BAD),
    ("feynman-kac", "feynman_kac", "payoff", ["bogus", 1]),
    ("mfg", "mfg.numerics", "n_cells", TOML_INT_BAD),
    ("mfg", "mfg.numerics", "epsilon", TOML_POSITIVE_BAD),
    ("mfg", "mfg.solver", "tol", [*TOML_NUMBER_BAD, 0.0, -1.0]),
    ("mfg", "mfg.solver", "max_seconds", [*TOML_NUMBER_BAD, 0.0, -1.0]),
    ("mfg", "mfg.market", "horizon", TOML_POSITIVE_BAD),
    ("mfg", "mfg.market", "distress_impact", [*TOML_NUMBER_BAD, -1.0, 1e308]),
    ("mfg", "mfg.types", "feedback", [*TOML_NUMBER_BAD, -1.0, 1e12]),
    ("mfg", "mfg.types", "initial", [math.nan, math.inf, True, "@[1, 2]", 1e12]),
    ("mfg", "mfg.types", "sigma", TOML_POSITIVE_BAD),
]
#: tables written as arrays of tables (``[[mfg.types]]``)
ARRAY_TABLES = ("mfg.types",)
TOML_FLAT = [(c, t, f, v) for c, t, f, vs in TOML_CASES for v in vs]
#: small runs from the file itself (command-line options would override the field under test)
TOML_BASE = {
    "stress": {"stress": {"methods": "@['analytic', 'pde', 'mc']", "cells": 40, "paths": 200}},
    "trinomial": {"trinomial": {"steps": 10, "paths": 200}},
    "mckean-vlasov": {"mckean_vlasov": {"particles": 100, "systems": 2, "steps": 10, "cells": 30}},
    "exit-time": {"exit_time": {"n_cells": 40}},
    "feynman-kac": {"feynman_kac": {"n_cells": 30, "n_steps": 20, "pdepe": False}},
    "mfg": {"mfg": {"preset": "calm"}, "mfg.numerics": {"n_cells": 20, "n_steps": 20}},
}


def _write_toml(path, command, table, field, value):
    tables = {t: dict(fields) for t, fields in TOML_BASE.get(command, {}).items()}
    tables.setdefault(table, {})[field] = value
    lines = []
    for t, fields in tables.items():
        lines.append(f"[[{t}]]" if t in ARRAY_TABLES else f"[{t}]")
        lines += [f"{k} = {_toml_value(v)}" for k, v in fields.items()]
    path.write_text("\n".join(lines) + "\n")


@settings(PROPS, max_examples=N_TOML)
@given(case=st.sampled_from(TOML_FLAT))
def test_bad_scenario_field_exits_2_naming_the_key(tmp_path, case):
    command, table, field, value = case
    f = tmp_path / "bad.toml"
    _write_toml(f, command, table, field, value)
    r = _run([command, "-q", "--config", f])
    _assert_usage_error(r, field)


# -- CSV files --------------------------------------------------------------------
def _series_rows(n=40):
    t = np.arange(n)
    x = 1.0 + 0.3 * np.sin(t / 3.0)
    return ["date,value"] + [
        f"2020-{1 + i // 28:02d}-{1 + i % 28:02d},{v:.6f}" for i, v in zip(t, x, strict=True)
    ]


def _trade_rows(n=40):
    rng = np.random.default_rng(1)
    L, T = rng.normal(1.0, 1.0, n), rng.uniform(0.5, 12.0, n)
    pi = (0.045 - 0.025 * L + 0.021 * L**2) * np.sqrt(T)
    return ["L_t,T_remaining,pi_observed"] + [
        f"{a:.6f},{b:.6f},{c:.6f}" for a, b, c in zip(L, T, pi, strict=True)
    ]


def _flow_rows(n=24):
    flows = [-1.0] * 4 + [0.1] * (n - 8) + [0.6] * 4
    return ["t,cashflow,l_t"] + [f"{0.25 * i:.2f},{f:.4f},{0.5:.2f}" for i, f in enumerate(flows)]


CSV_KINDS = {
    "calibrate": (_series_rows, "value"),
    "premium": (_trade_rows, "pi_observed"),
    "metrics": (_flow_rows, "cashflow"),
}
#: bad cells; "" and "nan" are missing values, which the time-series reader drops with a note
CELL_BAD = ["abc", "inf", "-inf", "1e999", "1,2", "0x1p3", "1.2.3"]
CELL_BAD_TRADES = [*CELL_BAD, "", "nan"]


@st.composite
def bad_csv(draw):
    command = draw(st.sampled_from(sorted(CSV_KINDS)))
    rows_of, column = CSV_KINDS[command]
    rows = rows_of()
    header = rows[0].split(",")
    how = draw(
        st.sampled_from(["cell", "cell", "cell", "missing column", "too few rows", "header only"])
    )
    if how == "cell":
        col = draw(st.sampled_from(header if command != "calibrate" else ["value"]))
        i = draw(st.integers(1, len(rows) - 1))
        cells = rows[i].split(",")
        cells[header.index(col)] = draw(
            st.sampled_from(CELL_BAD_TRADES if command == "premium" else CELL_BAD)
        )
        rows[i] = ",".join(cells)
        return command, "\n".join(rows) + "\n", (col, f"row {i}")
    if how == "missing column":
        j = header.index(column)
        rows = [",".join(c for k, c in enumerate(r.split(",")) if k != j) for r in rows]
        return command, "\n".join(rows) + "\n", (column,)
    if how == "too few rows" and command != "metrics":  # one cash flow is a valid (if short) fund
        return command, "\n".join(rows[:2]) + "\n", ("row", "observation", "trades", column)
    return command, rows[0] + "\n", ("row", "observation", "trades", "empty", "no data", column)


@settings(PROPS, max_examples=N_CSV)
@given(case=bad_csv())
def test_bad_csv_exits_2_naming_the_row_or_column(tmp_path, case):
    command, text, names = case
    f = tmp_path / "bad.csv"
    f.write_text(text)
    r = _run([command, f, "-q"])
    _assert_usage_error(r, *names)


def test_the_tables_cover_more_cases_than_examples_drawn():
    assert len(OPTION_CASES) >= 150 and len(TOML_FLAT) >= 150
    assert N_OPTIONS + N_TOML + N_CSV >= 300


def test_docs_quote_the_example_counts():
    """docs/validation.md quotes the example counts of the three property files (they must agree)."""
    import importlib
    from pathlib import Path

    page = (Path(__file__).resolve().parent.parent / "docs" / "validation.md").read_text()
    api = importlib.import_module("test_properties_api")
    models = importlib.import_module("test_properties_models")
    rows = page.split("## The property-based suite")[1].split("## Class 6")[0]
    assert f"a table of {len(api.CASES)} (" in rows
    counts = [
        int(line.rsplit("|", 2)[1])
        for line in rows.splitlines()
        if line.startswith("|") and line.rstrip().rsplit("|", 2)[1].strip().isdigit()
    ]
    expected = [models.N_MODELS] * 2 + [models.N_NEGATIVE_CN, models.N_MODELS, models.N_STOPPING, api.N_CALLS,
                                          N_OPTIONS, N_TOML, N_CSV]
    assert counts == expected
    assert f"`test_no_negative_mass_crank_nicolson`\n({models.N_NEGATIVE_CN} examples" in rows
