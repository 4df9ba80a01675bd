"""The documentation builds with `mkdocs build --strict` (no warnings: broken links, missing pages, bad docstrings)."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_mkdocs_build_strict(tmp_path):
    missing = [m for m in ("mkdocs", "material", "mkdocstrings") if importlib.util.find_spec(m) is None]
    if missing:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{', '.join(missing)} must be installed in CI (pip install -e '.[docs]')")
        pytest.skip(f"docs extra not installed ({', '.join(missing)})")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    r = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(ROOT / "mkdocs.yml"),
                        "-d", str(tmp_path / "site")], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-4000:]
    assert (tmp_path / "site" / "index.html").exists()
    assert (tmp_path / "site" / "calibration" / "index.html").exists()


def test_every_command_is_documented():
    from gelav.cli import COMMANDS

    text = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    for name in COMMANDS:
        assert f"`gelav {name}" in text, f"docs/cli.md does not document `gelav {name}`"


def test_nav_pages_exist_or_are_listed_as_pending():
    """Every page in the nav is a file in docs/ (pages owned by other parts may still be pending)."""
    import re

    nav = re.findall(r":\s*([\w\-/]+\.md)\s*$", (ROOT / "mkdocs.yml").read_text(encoding="utf-8"), flags=re.M)
    assert "index.md" in nav and "calibration.md" in nav
    mine = ["index.md", "cli.md", "calibration.md", "scenarios.md", "reports.md", "methods.md",
            "tutorials/stress-test.md", "api.md"]
    for page in mine:
        assert (ROOT / "docs" / page).exists(), page
