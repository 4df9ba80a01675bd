"""Every script in examples/ runs to completion (each checks its own numbers)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = sorted((Path(__file__).resolve().parent.parent / "examples").glob("*.py"))


@pytest.mark.slow
@pytest.mark.parametrize("script", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_runs(script, tmp_path):
    env = {**os.environ, "GELAV_EXAMPLE_OUT": str(tmp_path), "MPLBACKEND": "Agg"}
    r = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, f"{script.name} failed:\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
    # examples write only under GELAV_EXAMPLE_OUT
    assert any(tmp_path.iterdir()), f"{script.name} wrote nothing to GELAV_EXAMPLE_OUT"


def test_there_are_examples():
    names = {p.name for p in EXAMPLES}
    assert {"seed000_stress_test.py", "calibrate_and_report.py"} <= names
