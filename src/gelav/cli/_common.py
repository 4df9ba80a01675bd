"""The shared command-line layer: options every command has, output (table or JSON), errors, plots.

:func:`shared_options` gives a command ``--config FILE``, ``--json``,
``--plot PATH``, ``-q/--quiet`` and (where it has arrays) ``--export
FILE.{csv,parquet,nc}``, honoured the same way everywhere by :class:`Output`:
the command parses its own options, calls its task (:mod:`gelav.tasks`) and
hands the result and a table printer to :meth:`Output.emit`. Warnings print
as one line each (``Warning: <Category>: <message>``), errors as
``Error: <message>`` with exit code 2 (bad input) or 1 (numerical failure),
and Python keyword advice in messages (``method='picard'``) is rewritten as
the command's option (``--method picard``).
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Callable
from functools import wraps
from typing import Any

import click
import numpy as np

__all__ = ["Output", "dump_json", "fail", "handle_errors", "jsonable", "print_table", "save_figure", "shared_options",
           "warning_line"]


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


def handle_errors(func: Callable[..., Any] | None = None, *,
                  options: Callable[[], Any] | None = None) -> Callable[..., Any]:
    """Turn gelav's exceptions into clean messages and meaningful exit codes.

    ``options`` (a callable giving the command's parameter names) lets
    messages that give Python keyword advice name the option instead.
    """
    if func is None:
        return lambda f: handle_errors(f, options=options)

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from gelav.errors import ConvergenceError, DivergenceError

        def msg(exc: BaseException, hints: bool = False) -> str:
            return _as_options(str(exc), options() if options is not None else (), hints=hints)

        try:
            return func(*args, **kwargs)
        except (ValueError, TypeError, FileNotFoundError, KeyError) as exc:
            fail(_name_options(msg(exc), options() if options is not None else ()), code=2)
        except RecursionError:  # e.g. a pathologically nested input that slipped past the checks
            fail("Input too deeply nested to process.", code=2)
        except (ConvergenceError, DivergenceError) as exc:
            fail(msg(exc, hints=True), code=1)
        except MemoryError:  # was a traceback (e.g. --particles 1000000000)
            fail("Out of memory: the problem is too large for this machine; reduce the cells, steps, "
                 "paths or particles.", code=1)
        except OSError as exc:  # e.g. a --plot or --save path that cannot be written
            fail(str(exc), code=2)
        except ArithmeticError as exc:
            fail(f"Numerical failure: {exc}", code=1)

    return wrapper


def option_flags(command: Any) -> dict[str, str]:
    """The command's parameter names mapped to the option a user types (``n_players`` -> ``--n``):
    the longest ``--`` spelling of each option, else ``--name-with-dashes``."""
    flags: dict[str, str] = {}
    for p in command.params:
        if not p.name:
            continue
        longs = [o for o in getattr(p, "opts", []) if o.startswith("--")]
        flags[p.name] = max(longs, key=len) if longs else f"--{p.name.replace('_', '-')}"
    return flags


def _flags(names: Any) -> dict[str, str]:
    """``names`` as a mapping parameter -> option: a mapping is kept, a list of names spelled
    ``--name-with-dashes``."""
    if isinstance(names, dict):
        return dict(names)
    return {n: f"--{n.replace('_', '-')}" for n in names}


def _name_options(message: str, names: Any) -> str:
    """Append the command-line option(s) a bad-input message names in backticks (`` `horizon` `` ->
    ``... (option --horizon)``; `` `n_players` `` of ``gelav n-player`` -> ``(option --n)``), unless the
    message already spells them."""
    import re

    flags = _flags(names)
    found = [m for m in dict.fromkeys(re.findall(r"`([a-z][a-z0-9_]*)`", message)) if m in flags]
    opts = [flags[m] for m in found if not re.search(re.escape(flags[m]) + r"(?![\w-])", message)]
    if not opts:
        return message
    return f"{message} (option {', '.join(opts)})"


def _as_options(message: str, names: Any, *, hints: bool = False) -> str:
    """``method='picard'`` -> ``--method picard`` for the command's own parameters; with ``hints``
    (advice after a numerical failure) also `` `epsilon` `` -> `` `epsilon` (--epsilon) ``."""
    import re

    flags = _flags(names)
    if not flags:
        return message
    if hints:
        message = re.sub(r"`([a-z][a-z0-9_]*)`", lambda m: (f"{m.group(0)} ({flags[m.group(1)]})"
                                                            if m.group(1) in flags else m.group(0)), message)

    def repl(m: re.Match[str]) -> str:
        name = m.group(1)
        if name not in flags:
            return m.group(0)
        return f"{flags[name]} {m.group(3)}"

    return re.sub(r"\b([a-z][a-z0-9_]*)=(['\"]?)([\w.+-]+)\2", repl, message)


def save_figure(fig: Any, path: str) -> None:
    """Save a Matplotlib figure, creating parent folders."""
    from gelav.tasks._figures import save_figure as _save

    _save(fig, path)


def warning_line(w: Any) -> str:
    """One line for a caught warning: ``Warning: <Category>: <message>`` (no source line)."""
    text = " ".join(str(w.message).split())
    return f"Warning: {w.category.__name__}: {text}"


EXPORT_HELP = "Write the arrays (densities, fans, values, paths) to FILE.csv, FILE.parquet or FILE.nc."


def figure_and_json(figure: Callable[[], Any], plot: str | None, as_json: bool, quiet: bool,
                    payload: Callable[[], Any]) -> bool:
    """The output steps of a command that handles ``--plot``/``--json``/``--quiet`` itself: write
    ``figure()`` to ``plot`` when given, print ``payload()`` as JSON with ``--json``; True when the
    command should go on to print its table (neither ``--json`` nor ``--quiet``)."""
    if plot:
        save_figure(figure(), plot)
    if as_json:
        dump_json(payload())
        return False
    return not quiet


class Output:
    """How a command's results leave it: figures (``--plot``), files (``--export``), JSON or tables."""

    def __init__(self, command: str, *, config: str | None, as_json: bool, plot: str | None, quiet: bool,
                 export: str | None) -> None:
        self.command, self.config, self.as_json, self.plot, self.quiet, self.export = (
            command, config, as_json, plot, quiet, export)
        self.files: list[str] = []
        self.caught: list[Any] = []  # warnings caught so far (filled by shared_options)
        self.warnings_in_json = False

    @property
    def tables(self) -> bool:
        """Whether to print tables (not with ``--json`` or ``--quiet``)."""
        return not (self.as_json or self.quiet)

    def write_files(self, result: Any) -> list[str]:
        """The figures for ``--plot`` and the arrays for ``--export``; returns the files written."""
        if self.plot:
            self.files += [str(p) for p in result.save_figures(self.plot)]
        if self.export:
            from gelav.tasks import export_tables

            self.files += [str(p) for p in export_tables(result.tables(), self.export)]
        return self.files

    def emit(self, result: Any, table: Callable[[], None] | None = None, *,
             json_extra: Callable[[list[str]], dict[str, Any]] | None = None) -> None:
        """Write the files, then print the JSON (``--json``), nothing (``--quiet``) or the tables."""
        files = self.write_files(result)
        if self.as_json:
            out = result.to_dict()
            if json_extra is not None:
                out.update(json_extra(files))
            if self.caught:  # one JSON object on stdout: the warnings go inside it
                out.setdefault("warnings", [warning_line(w)[len("Warning: "):] for w in self.caught])
                self.warnings_in_json = True
            dump_json(out)
            return
        if self.quiet:
            return
        if table is not None:
            table()
        if files:
            click.echo("Files written: " + ", ".join(files))


def output_options(*, config_help: str, plot_help: str, json_help: str = "Print one JSON object instead of a table.",
                   quiet_help: str = "Print nothing but errors (with --plot).",
                   ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """The ``--config``, ``--json``, ``--plot`` and ``--quiet`` options of a command that handles them itself.

    The function receives them as ``config``, ``as_json``, ``plot``, ``quiet`` (commands that take one
    :class:`Output` instead use :func:`shared_options`)::

        @click.command("premium")
        @click.argument("file")
        @output_options(config_help="Scenario TOML file with a [premium] table.", plot_help="Write ...")
        @handle_errors
        def premium(file, config, as_json, plot, quiet): ...
    """
    opts = [
        click.option("--config", "config", type=click.Path(dir_okay=False), default=None, help=config_help),
        click.option("--json", "as_json", is_flag=True, help=json_help),
        click.option("--plot", "plot", type=click.Path(dir_okay=False), default=None, help=plot_help),
        click.option("--quiet", "-q", is_flag=True, help=quiet_help),
    ]

    def deco(f: Callable[..., Any]) -> Callable[..., Any]:
        for o in reversed(opts):
            f = o(f)
        return f

    return deco


def shared_options(command: str, *, export: bool = True, config_help: str | None = None,
                   plot_help: str | None = None) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Give a command the shared options; the function receives them as one ``out: Output`` argument.

    Use under ``@click.command``::

        @click.command("stress")
        @click.option("--x0", type=float)
        @shared_options("stress")
        def stress(x0, out): ...
    """

    def deco(func: Callable[..., Any]) -> Callable[..., Any]:
        import warnings

        @wraps(func)
        def run(*args: Any, config: str | None, as_json: bool, plot: str | None, quiet: bool,
                export_path: str | None = None, **kwargs: Any) -> Any:
            out = Output(command, config=config, as_json=as_json, plot=plot, quiet=quiet, export=export_path)
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("default")
                warnings.filterwarnings("ignore", category=DeprecationWarning)
                warnings.filterwarnings("ignore", category=PendingDeprecationWarning)
                out.caught = caught
                try:
                    return func(*args, out=out, **kwargs)
                finally:
                    if not (out.warnings_in_json or out.quiet):  # --quiet: nothing but errors
                        for w in caught:
                            click.echo(warning_line(w), err=True)

        def names() -> dict[str, str]:
            ctx = click.get_current_context(silent=True)
            return option_flags(ctx.command) if ctx is not None else {}

        f: Callable[..., Any] = handle_errors(run, options=names)
        opts = [
            click.option("--config", "config", type=click.Path(dir_okay=False), default=None,
                         help=config_help or f"Scenario TOML file (its [{command.replace('-', '_')}] table; "
                         "options override it)."),
            click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of tables."),
            click.option("--plot", "plot", type=click.Path(), default=None,
                         help=plot_help or f"Write the figures to FILE, or to FOLDER/{command.replace('-', '_')}.png."),
            click.option("--quiet", "-q", "quiet", is_flag=True, help="Print nothing but errors (files are still written)."),
        ]
        if export:
            opts.append(click.option("--export", "export_path", type=click.Path(dir_okay=False), default=None,
                                     help=EXPORT_HELP))
        for o in reversed(opts):
            f = o(f)
        return f

    return deco
