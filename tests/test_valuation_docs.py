"""Every number docs/valuation.md quotes is produced by the three valuation examples (issue 12)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "examples" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.slow
@pytest.mark.parametrize("name", ["valuation_premium", "valuation_exit_boundary", "valuation_jensen"])
def test_valuation_page_quotes_the_script_numbers(name: str) -> None:
    mod = _load(name)
    res = mod.compute()
    page = (ROOT / "docs" / "valuation.md").read_text(encoding="utf-8")
    missing = {k: v for k, v in mod.quoted(res).items() if v not in page}
    assert not missing, f"docs/valuation.md does not quote these numbers of examples/{name}.py: {missing}"
