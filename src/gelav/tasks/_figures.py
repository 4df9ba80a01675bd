"""Saving figures (no click here: the report uses it too)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["figure_targets", "save_figure"]


def save_figure(fig: Any, path: str | Path) -> None:
    """Save a Matplotlib figure, creating parent folders, and close it."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    from gelav._io import atomic_path

    with atomic_path(p) as tmp:  # a kill mid-write never leaves a truncated figure
        fig.savefig(tmp, dpi=120, bbox_inches="tight", format=p.suffix.lstrip(".") or "png")
    import matplotlib.pyplot as plt

    plt.close(fig)


def is_folder(path: str | Path) -> bool:
    """``--plot figs/``, ``--plot figs`` (no suffix) or an existing folder name a folder."""
    s = str(path)
    p = Path(s)
    return s.endswith(("/", "\\")) or p.is_dir() or p.suffix == ""


def figure_targets(path: str | Path, command: str, names: list[str]) -> dict[str, Path]:
    """Where each named figure goes for ``--plot PATH``.

    A file: the first figure goes there, the others beside it as
    ``<stem>_<name><suffix>``. A folder: ``<folder>/<command>.png`` for the
    first figure and ``<folder>/<command>_<name>.png`` for the others.
    """
    p = Path(path)
    out: dict[str, Path] = {}
    for i, name in enumerate(names):
        if is_folder(path):
            out[name] = p / (f"{command}.png" if i == 0 else f"{command}_{name}.png")
        else:
            out[name] = p if i == 0 else p.with_name(f"{p.stem}_{name}{p.suffix}")
    return out
