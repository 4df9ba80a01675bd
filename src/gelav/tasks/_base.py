"""What every task shares: reading a scenario, the defaults table, the result base class, exports."""

from __future__ import annotations

import math
import sys
import warnings
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, ClassVar

if sys.version_info >= (3, 11):
    from typing import dataclass_transform
else:  # pragma: no cover - Python 3.10: the base still makes every subclass a frozen dataclass
    def dataclass_transform(**_: Any) -> Callable[[type], type]:
        return lambda cls: cls

import numpy as np

from gelav.results import Diagnostics

__all__ = ["DEFAULTS", "ScenarioLike", "TaskResult", "check_options", "export_tables", "merge", "read_scenario",
           "read_table", "recorded_warnings", "settings", "source_of", "warning_texts"]

ScenarioLike = Mapping[str, Any] | str | Path | None

#: The defaults of every task, shared by the command line, the report and Python: each task
#: applies them once (defaults < scenario table < keyword arguments / command-line options).
DEFAULTS: dict[str, dict[str, Any]] = {
    "stress": {"kappa": 0.45, "mean": 1.0, "sigma": 0.32, "x0": -0.5, "horizon": 2.0, "threshold": -0.5,
               "direction": "below", "methods": None, "paths": 1_000_000, "seed": 0, "cells": 800},
    "feynman_kac": {"mu0": 0.0, "sigma0": 1.0, "horizon": 1.0, "lower": 0.0, "upper": 1.0, "n_cells": 100,
                    "n_steps": 200, "n_times": 21, "payoff": "price", "strike": 0.5, "boundary": "sold",
                    "discount": 0.0, "pdepe": True},
    "exit_time": {"process": {"kind": "gbm", "mu": 0.5, "sigma": 1.0}, "a": 0.0, "b": 1.0, "x0": None,
                  "horizon": None, "n_cells": 400, "n_steps": 200},
    "trinomial": {"alpha": 0.3, "dy": 1.0, "dt": 1.0, "steps": 252, "paths": 10_000, "seed": 2023, "x0": 0.0},
    "mckean_vlasov": {"kappa": 0.45, "mean": 1.0, "sigma": 0.32, "lam": 0.5, "x0": -0.5, "horizon": 2.0,
                      "particles": 10_000, "systems": 10, "steps": 200, "scheme": "euler", "cells": 400, "seed": 0,
                      "chaos": False},
    "mfg": {"preset": "stress", "at": (-0.5, 0.0, 1.0)},
    "n_player": {"preset": "crisis", "n_players": (10, 100, 1000, 10_000), "replications": 100,
                 "gain_replications": 8, "seed": 0, "n_cells": None, "n_steps": None, "scheme": "euler"},
    "master_field": {"preset": "stress", "means": (-2.0, -1.0, 0.0, 1.0), "spreads": (0.2, 0.5), "t0": 0.0,
                     "at": (0.0,), "n_cells": None, "n_steps": None, "scheme": None, "workers": 1,
                     "warm_start": "neighbour"},
    "ito": {"transform": None, "rate": "r", "source": "0"},
    "calibration": {"level": 0.95, "date_column": None, "value_column": None, "model": "ou", "criterion": "aic"},
}


def read_scenario(scenario: ScenarioLike) -> dict[str, Any]:
    """A scenario as a dict: ``None`` is empty, a path is read with :func:`gelav.scenario.load`."""
    if scenario is None:
        return {}
    if isinstance(scenario, (str, Path)):
        from gelav.scenario import load

        return load(scenario)
    if not isinstance(scenario, Mapping):
        raise TypeError(f"`scenario` must be a mapping, a path or None, got {type(scenario).__name__}.")
    return dict(scenario)


def source_of(scenario: Mapping[str, Any]) -> str:
    """The name errors use for the scenario (its file, else ``"scenario"``)."""
    return str(scenario.get("_path", "scenario"))


def read_table(scenario: Mapping[str, Any], name: str, fields: Mapping[str, str] | tuple[str, ...],
               read: Callable[[Any], Mapping[str, Any]] | None = None) -> dict[str, Any]:
    """The fields given in the ``[name]`` table, validated. Either ``fields`` maps key -> kind
    (``number``, ``positive``, ``integer`` (>= 1), ``natural`` (>= 0), ``bool``, ``string``, or ``any``:
    checked by the caller), or ``fields`` names the keys and ``read(section)`` reads them from the
    :class:`gelav.scenario.Section` (``None``: not in the file). Unknown fields raise
    :class:`~gelav.scenario.ScenarioError` naming the file, the table and the field."""
    from gelav.scenario import ScenarioError, Section

    src = source_of(scenario)
    sec = Section(scenario.get(name), name, source=src)
    if read is not None:
        vals = read(sec)
        sec.check_unknown(tuple(fields))
        return {k: v for k, v in vals.items() if v is not None}
    if not isinstance(fields, Mapping):
        raise TypeError("read_table: give `fields` as a mapping key -> kind, or a `read` function.")
    out: dict[str, Any] = {}
    for key, kind in fields.items():
        if not sec.has(key):
            sec.get(key)
            continue
        if kind == "number":
            out[key] = sec.number(key)
        elif kind == "any":
            out[key] = sec.get(key)
        elif kind == "positive":
            out[key] = sec.positive(key)
        elif kind == "integer":
            out[key] = sec.integer(key, minimum=1)
        elif kind == "natural":
            out[key] = sec.integer(key, minimum=0)
        elif kind == "bool":
            v = sec.get(key)
            if not isinstance(v, bool):
                raise ScenarioError(f"{src}: [{name}] field `{key}` = {v!r}: expected true or false.")
            out[key] = v
        else:
            v = sec.get(key)
            if not isinstance(v, str):
                raise ScenarioError(f"{src}: [{name}] field `{key}` = {v!r}: expected a string.")
            out[key] = v
    sec.check_unknown(tuple(fields))
    return out


def check_options(task: str, options: Mapping[str, Any], fields: tuple[str, ...], *,
                  extra: tuple[str, ...] = ()) -> None:
    """A ``TypeError`` naming the unknown keyword options of ``task()`` and the known ones."""
    unknown = sorted(set(options) - set(fields))
    if unknown:
        raise TypeError(f"{task}() got unknown option(s) {', '.join(map(repr, unknown))}; "
                        f"known options are {', '.join((*fields, *extra))}.")


def merge(task: str, from_file: Mapping[str, Any], options: Mapping[str, Any]) -> dict[str, Any]:
    """Defaults < the scenario's table < the options given (``None`` means "not given")."""
    out = dict(DEFAULTS[task])
    out.update({k: v for k, v in from_file.items() if v is not None})
    out.update({k: v for k, v in options.items() if v is not None})
    return out


def settings(task: str, scenario: ScenarioLike, options: Mapping[str, Any], fields: tuple[str, ...],
             read: Callable[[Mapping[str, Any]], Mapping[str, Any]], *, table: str | None = None,
             extra: tuple[str, ...] = ()) -> tuple[dict[str, Any], dict[str, Any]]:
    """What a task starts with: its keyword options checked, the scenario read, and the settings
    defaults < the scenario's table (``read(scenario)``) < the options; returns ``(scenario, settings)``.

    ``table``: the name of the defaults and of the table when it is not ``task``.
    """
    check_options(task, options, fields, extra=extra)
    sc = read_scenario(scenario)
    return sc, merge(table or task, read(sc), options)


@contextmanager
def recorded_warnings() -> Iterator[list[warnings.WarningMessage]]:
    """Record the warnings of the block (for the result's ``Diagnostics``) and show them again after it, to
    the caller, who decides how to print them (not again when the block raises)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield caught
    for w in caught:
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)


def warning_texts(caught: list[warnings.WarningMessage]) -> tuple[str, ...]:
    """The messages of :func:`recorded_warnings`, for ``Diagnostics(warnings=...)``."""
    return tuple(str(w.message) for w in caught)


@dataclass_transform(frozen_default=True, field_specifiers=(field,))
@dataclass(frozen=True)
class TaskResult:
    """Base of every task's result: each subclass is a frozen dataclass of its fields.

    Subclasses fill :meth:`to_dict` (the JSON of ``gelav <command> --json``),
    :meth:`key_numbers` (readable label -> number: the tables of the CLI and
    the report), :meth:`figures` (name -> Matplotlib figure, drawn on request)
    and :meth:`tables` (name -> columns of equal length, for ``--export``), or
    declare them at a field: ``data: Any = TaskResult.json_field()`` (its mapping is
    the JSON; ``json`` then names it), ``result: Any = TaskResult.plotted_field()`` (its
    ``plot()`` is the one figure, ``{name: <field>.plot()}``; ``plotted`` names it).
    """

    inputs: dict[str, Any]
    diagnostics: Diagnostics = field(default_factory=Diagnostics)

    #: the command (and figure file) name
    name: ClassVar[str] = "task"
    #: the field holding the JSON as a mapping (:meth:`to_dict`), or None
    json: ClassVar[str | None] = None
    #: the field whose ``plot()`` draws the task's one figure (:meth:`figures`), or None
    plotted: ClassVar[str | None] = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        dataclass(frozen=True)(cls)  # in place: the subclass's annotations become its fields
        for f in fields(cls):
            if "role" in f.metadata:
                setattr(cls, f.metadata["role"], f.name)

    @staticmethod
    def json_field() -> Any:
        """A field (default None) whose mapping is the task's JSON (:meth:`to_dict`); ``json`` names it."""
        return field(default=None, metadata={"role": "json"})

    @staticmethod
    def plotted_field() -> Any:
        """A field (default None) whose ``plot()`` is the task's one figure (:meth:`figures`); ``plotted``
        names it."""
        return field(default=None, metadata={"role": "plotted"})

    def to_dict(self) -> dict[str, Any]:
        if self.json is not None:
            return dict(getattr(self, self.json))
        return {"inputs": self.inputs, "diagnostics": self.diagnostics.to_dict()}

    def key_numbers(self) -> dict[str, Any]:
        return {}

    def figures(self) -> dict[str, Any]:
        if self.plotted is not None:
            return {self.name: getattr(self, self.plotted).plot()}
        return {}

    def tables(self) -> dict[str, dict[str, Any]]:
        return {}

    def figure_paths(self, path: str | Path, names: list[str]) -> dict[str, Path]:
        """Where ``--plot PATH`` puts each figure (a folder: ``<name>.png`` and ``<name>_<figure>.png``)."""
        from gelav.tasks._figures import figure_targets

        return figure_targets(path, self.name, names)

    def save_figures(self, path: str | Path) -> list[Path]:
        """Draw every figure and save it for ``--plot PATH``; returns the files."""
        from gelav.tasks._figures import save_figure

        figs = self.figures()
        if not figs:
            raise ValueError(f"`--plot`: the {self.name} result has no figure.")
        targets = self.figure_paths(path, list(figs))
        for name, fig in figs.items():
            save_figure(fig, targets[name])
        return [targets[n] for n in figs]

    def plot(self) -> Any:
        """The main figure."""
        figs = self.figures()
        if not figs:
            raise ValueError(f"The {self.name} result has no figure.")
        first, *rest = figs.values()
        import matplotlib.pyplot as plt

        for f in rest:
            plt.close(f)
        return first


def export_tables(tables: Mapping[str, Mapping[str, Any]], path: str | Path) -> list[Path]:
    """Write named tables (columns of equal length) to CSV, Parquet or NetCDF; returns the files written.

    A ``.nc`` file holds every table (NetCDF-3, written with SciPy: dimension
    ``<table>`` and variables ``<table>_<column>``). CSV and Parquet hold one
    table per file: ``FILE`` itself when there is one table, else
    ``<stem>_<table><suffix>`` beside it.
    """
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix not in (".csv", ".parquet", ".nc"):
        raise ValueError(f"`--export` must end in .csv, .parquet or .nc, got {str(p)!r}.")
    if not tables:
        raise ValueError("This command has no arrays to export.")
    p.parent.mkdir(parents=True, exist_ok=True)
    clean = {name: {c: np.asarray(v) for c, v in cols.items()} for name, cols in tables.items()}
    for name, cols in clean.items():
        sizes = {v.size for v in cols.values()}
        if len(sizes) != 1:  # pragma: no cover - a programming error in a task
            raise ValueError(f"table {name!r} has columns of different lengths {sorted(sizes)}")
    if suffix == ".nc":
        from scipy.io import netcdf_file

        from gelav._io import atomic_path

        with atomic_path(p) as tmp, netcdf_file(str(tmp), "w") as nc:
            for name, cols in clean.items():
                n = next(iter(cols.values())).size
                nc.createDimension(name, n)
                for c, v in cols.items():
                    if v.dtype.kind in "USO":
                        continue  # NetCDF-3 has no variable-length strings; the labels are in the CSV/Parquet
                    var = nc.createVariable(f"{name}_{c}"[:250], "f8", (name,))
                    var[:] = v.astype(float)
        return [p]
    files = []
    for name, cols in clean.items():
        target = p if len(clean) == 1 else p.with_name(f"{p.stem}_{name}{p.suffix}")
        if suffix == ".csv":
            header = ",".join(cols)
            rows = zip(*(v.tolist() for v in cols.values()), strict=False)
            lines = [header] + [",".join(_csv(x) for x in r) for r in rows]
            from gelav._io import atomic_write

            atomic_write(target, "\n".join(lines) + "\n")
        else:
            try:
                import pyarrow as pa
                import pyarrow.parquet as pq
            except ImportError:
                raise ValueError("Parquet export needs pyarrow: pip install 'gelav[parquet]'.") from None
            from gelav._io import atomic_path

            with atomic_path(target) as tmp:
                pq.write_table(pa.table({c: v for c, v in cols.items()}), str(tmp))
        files.append(target)
    return files


def _csv(x: Any) -> str:
    if isinstance(x, float):
        return repr(x) if math.isfinite(x) else ("nan" if math.isnan(x) else ("inf" if x > 0 else "-inf"))
    s = str(x)
    return f'"{s}"' if ("," in s or '"' in s) else s
