"""Static checks run with the tests: the linter and the type checker on the package."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _require(module: str) -> None:
    import importlib.util

    if importlib.util.find_spec(module) is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{module} must be installed in CI (pip install -e '.[test]')")
        pytest.skip(f"{module} is not installed")


def test_ruff_is_clean():
    _require("ruff")
    exe = shutil.which("ruff") or "ruff"
    r = subprocess.run([exe, "check", "src", "tests", "examples", "benchmarks"], cwd=ROOT,
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


@pytest.mark.slow
def test_mypy_is_clean(tmp_path):
    _require("mypy")
    r = subprocess.run([sys.executable, "-m", "mypy", "src/gelav", "--cache-dir", str(tmp_path / "cache")],
                       cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
