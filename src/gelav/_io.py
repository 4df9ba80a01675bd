"""Atomic file writes: a reader (or a second writer, or a kill) never sees a truncated file.

Every file gelav writes goes through :func:`atomic_write`: the content is
written to a temporary file in the target's folder, flushed, and moved over
the target with :func:`os.replace` (atomic on POSIX and Windows).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

__all__ = ["atomic_path", "atomic_write"]


@contextlib.contextmanager
def atomic_path(path: str | Path, *, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success it replaces ``path``, on error it is removed.

    ``suffix`` (default: ``path``'s own) keeps writers that infer the format from the name working.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=suffix if suffix is not None else target.suffix,
                               dir=target.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def atomic_write(path: str | Path, data: str | bytes | Callable[[IO[Any]], None], *, encoding: str = "utf-8",
                 newline: str | None = None) -> Path:
    """Write ``data`` (text, bytes, or a function writing to an open file) to ``path`` atomically."""
    target = Path(path)
    binary = isinstance(data, bytes)
    with atomic_path(target) as tmp:
        mode = "wb" if binary else "w"
        kwargs: dict[str, Any] = {} if binary else {"encoding": encoding, "newline": newline}
        with open(tmp, mode, **kwargs) as fh:
            if callable(data):
                data(fh)
            else:
                fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
    return target
