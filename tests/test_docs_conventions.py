"""Docs that cannot drift from the registries: the preset lists are the registry's."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("page", ["cli.md", "scenarios.md"])
def test_preset_lists_in_docs_are_the_registry(page):
    """Regenerate with: python -c "from gelav.tasks.mfg import preset_table; print(preset_table())"."""
    from gelav.tasks.mfg import preset_table

    text = (ROOT / "docs" / page).read_text(encoding="utf-8")
    m = re.search(r"<!-- presets:[^>]*-->\n(.*?)<!-- /presets -->", text, flags=re.S)
    assert m, f"docs/{page} has no generated preset block"
    assert m.group(1) == preset_table()
    assert "thin-market" in m.group(1)


def test_task_layer_page_is_in_the_nav():
    assert "tasks.md" in (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    assert (ROOT / "docs" / "tasks.md").exists()
