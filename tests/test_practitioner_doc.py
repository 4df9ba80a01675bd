"""Every number the practitioner track quotes is produced by examples/practitioner_track.py (issue 12)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_practitioner_page_quotes_the_script_numbers():
    spec = importlib.util.spec_from_file_location("practitioner_track", ROOT / "examples" / "practitioner_track.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    res = mod.compute()
    page = (ROOT / "docs" / "tutorials" / "practitioner.md").read_text(encoding="utf-8")
    missing = {k: v for k, v in mod.quoted(res).items() if v not in page}
    assert not missing, f"docs/tutorials/practitioner.md does not quote these numbers of the script: {missing}"
    # the course's table rows are there, with gelav's numbers beside them
    for course in ("14.1 %", "1.94×", "1.44", "10.2 %", "1.21", "−10.9 %"):
        assert course in page
    # the LAV Monte Carlo check on the page is within 4 s.e.
    for v in res["lav"].values():
        assert abs(v["value"] - v["mc"]) < 4 * v["mc_se"]
