"""Shared helpers for the sub-commands: output (table or JSON), errors, plots."""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Callable
from functools import wraps
from typing import Any

import click
import numpy as np

__all__ = ["dump_json", "fail", "handle_errors", "jsonable", "print_table", "save_figure"]


def jsonable(obj: Any) -> Any:
    """Convert numpy scalars/arrays, tuples and non-finite floats for json.dumps."""
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return jsonable(obj.tolist())
    if isinstance(obj, (np.floating, float)):
        v = float(obj)
        return v if math.isfinite(v) else (None if math.isnan(v) else ("inf" if v > 0 else "-inf"))
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.bool_):
        return bool(obj)
    return obj


def dump_json(obj: Any) -> None:
    """Print one JSON object to stdout."""
    click.echo(json.dumps(jsonable(obj), indent=2))


def print_table(title: str, columns: list[str], rows: list[list[Any]], *, caption: str | None = None) -> None:
    """A Rich table on stdout (numbers formatted by the caller)."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, caption=caption)
    for i, c in enumerate(columns):
        table.add_column(c, justify="left" if i == 0 else "right")
    for r in rows:
        table.add_row(*[str(v) for v in r])
    Console().print(table)


def fail(message: str, code: int = 1) -> None:
    """Print an error to stderr and exit with ``code``."""
    click.echo(f"Error: {message}", err=True)
    sys.exit(code)


def handle_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    """Turn gelav's exceptions into clean messages and meaningful exit codes."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from gelav.errors import ConvergenceError, DivergenceError

        try:
            return func(*args, **kwargs)
        except (ValueError, TypeError, FileNotFoundError, KeyError) as exc:
            fail(str(exc), code=2)
        except (ConvergenceError, DivergenceError) as exc:
            fail(str(exc), code=1)
        except MemoryError:  # was a traceback (e.g. --particles 1000000000)
            fail("Out of memory: the problem is too large for this machine; reduce the cells, steps, "
                 "paths or particles.", code=1)
        except OSError as exc:  # e.g. a --plot or --save path that cannot be written
            fail(str(exc), code=2)
        except ArithmeticError as exc:
            fail(f"Numerical failure: {exc}", code=1)

    return wrapper


def save_figure(fig: Any, path: str) -> None:
    """Save a Matplotlib figure, creating parent folders."""
    from pathlib import Path

    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(p, dpi=120, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
