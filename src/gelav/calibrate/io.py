"""Reading a univariate time series (dates or times in years, and values) from CSV or Parquet.

:func:`read_series` detects the date and value columns, parses ISO 8601 and common
day/month/year dates, drops rows with missing entries (with a note) and sorts by
time; every error names the row and the column. Times are in years since the
first observation (365.25 days a year).
"""

from __future__ import annotations

import csv
import datetime as _dt
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["DAYS_PER_YEAR", "TimeSeries", "is_missing", "parse_float", "read_columns", "read_csv_columns",
           "read_parquet_columns",
           "read_series"]

DAYS_PER_YEAR = 365.25
_MISSING = {"", "na", "n/a", "nan", "null", "none", "-", "#n/a", "nat", "."}
_DATE_NAMES = ("date", "time", "timestamp", "datetime", "day", "period", "t", "as_of", "asof")
_VALUE_NAMES = ("value", "l", "liquidity", "level", "x", "y", "observation", "obs")
_DATE_FORMATS = ("%Y/%m/%d", "%d/%m/%Y", "%m/%d/%Y", "%d.%m.%Y", "%Y%m%d", "%d-%m-%Y", "%Y-%m", "%b %d %Y", "%d %b %Y")


# ---------------------------------------------------------------------------
# reading series
# ---------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class TimeSeries:
    """A univariate series read by :func:`read_series`.

    Attributes
    ----------
    times : ndarray
        Observation times in years since the first observation.
    values : ndarray
        Observed values.
    dates : ndarray of datetime64 or None
        Calendar dates when the time column held dates.
    date_column, value_column : str
        The columns used.
    source : str
        The file read.
    notes : tuple of str
        What was done to the data (rows dropped, sorting).
    rows : ndarray of int
        File row number (1-based data rows) of each kept observation.
    """

    times: NDArray[np.float64]
    values: NDArray[np.float64]
    dates: NDArray[Any] | None
    date_column: str
    value_column: str
    source: str = ""
    notes: tuple[str, ...] = ()
    rows: NDArray[np.int64] | None = None

    def __len__(self) -> int:
        return int(self.values.size)


def is_missing(v: Any) -> bool:
    """Whether a cell is missing (None, NaN, or a text such as "", "NA", "null")."""
    if v is None:
        return True
    if isinstance(v, float) and math.isnan(v):
        return True
    return isinstance(v, str) and v.strip().lower() in _MISSING


def parse_float(s: Any) -> float | None:
    """The cell as a float, or None when it is not a number (bools are not numbers)."""
    if isinstance(s, bool):
        return None
    if isinstance(s, (int, float, np.integer, np.floating)):
        return float(s)
    try:
        return float(str(s).strip().replace("_", ""))
    except ValueError:
        return None


def _parse_date(s: Any, fmt: str | None) -> _dt.datetime | None:
    if isinstance(s, _dt.datetime):
        return s if s.tzinfo is None else s.astimezone(_dt.timezone.utc).replace(tzinfo=None)
    if isinstance(s, _dt.date):
        return _dt.datetime(s.year, s.month, s.day)
    if isinstance(s, np.datetime64):
        return _dt.datetime.fromisoformat(str(s.astype("datetime64[s]")))
    text = str(s).strip()
    try:
        if fmt == "iso":
            d = _dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
            return d.replace(tzinfo=None) if d.tzinfo is None else d.astimezone(_dt.timezone.utc).replace(tzinfo=None)
        if fmt is not None:
            return _dt.datetime.strptime(text, fmt)
    except ValueError:
        return None
    return None


def _date_format(texts: Sequence[str]) -> str | None:
    """The first format (ISO 8601 first) that parses every entry, else the one parsing most."""
    sample = [t for t in texts if not is_missing(t)]
    if not sample:
        return None
    best, best_n = None, 0
    for fmt in ("iso", *_DATE_FORMATS):
        n = sum(_parse_date(t, fmt) is not None for t in sample)
        if n == len(sample):
            return fmt
        if n > best_n:
            best, best_n = fmt, n
    return best if best_n >= max(1, len(sample) // 2) else None


def _looks_numeric(col: Sequence[Any]) -> bool:
    vals = [v for v in col if not is_missing(v)]
    return bool(vals) and all(parse_float(v) is not None for v in vals)


def _looks_date(col: Sequence[Any]) -> bool:
    vals = [v for v in col if not is_missing(v)]
    if not vals:
        return False
    if all(isinstance(v, (_dt.date, np.datetime64)) for v in vals):
        return True
    if all(isinstance(v, str) for v in vals) and not _looks_numeric(vals):
        return _date_format(vals[:200]) is not None
    return False


def read_csv_columns(path: Path) -> tuple[list[str], dict[str, list[Any]]]:
    """A CSV file as ``(header, {column: cells})``: delimiter sniffed, decimal commas of ``;`` files read."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            text = fh.read()
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path}: not a UTF-8 text (CSV) file ({exc.reason} at byte {exc.start}).") from None
    if not text.strip():
        raise ValueError(f"{path}: the file is empty.")
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t|")
    except csv.Error:
        dialect = csv.excel
    rows = list(csv.reader(text.splitlines(), dialect))
    while rows and not any(c.strip() for c in rows[0]):  # leading blank lines
        rows.pop(0)
    while rows and not any(c.strip() for c in rows[-1]):  # trailing blank lines
        rows.pop()
    # blank lines inside the data stay as (missing) rows, so row numbers match the file
    header = [h.strip() for h in rows[0]]
    if len(set(header)) != len(header) or any(not h for h in header):
        raise ValueError(f"{path}: the first line must be a header of distinct column names, got {header}.")
    cols: dict[str, list[Any]] = {h: [] for h in header}
    for i, r in enumerate(rows[1:], start=1):
        if len(r) > len(header) and any(c.strip() for c in r[len(header):]):
            raise ValueError(f"{path}: row {i} has {len(r)} fields but the header has {len(header)} columns.")
        r = r + [""] * (len(header) - len(r))
        for h, c in zip(header, r, strict=False):
            cols[h].append(c)
    if getattr(dialect, "delimiter", ",") == ";":  # European export: decimal commas, e.g. 0,25 or -1,5e-3
        import re

        dec = re.compile(r"\s*[+-]?\d+,\d+(?:[eE][+-]?\d+)?\s*")
        cols = {h: [c.replace(",", ".") if isinstance(c, str) and dec.fullmatch(c) else c for c in v]
                for h, v in cols.items()}
    return header, cols


def read_parquet_columns(path: Path) -> tuple[list[str], dict[str, list[Any]]]:
    """A Parquet file as ``(header, {column: cells})`` (needs pyarrow)."""
    try:
        import pyarrow.parquet as pq
    except ImportError as exc:  # pragma: no cover - optional dependency
        raise ImportError("Reading Parquet needs pyarrow: pip install 'gelav[parquet]'.") from exc
    try:
        table = pq.read_table(path)
    except Exception as exc:  # pyarrow raises several types for corrupt files
        raise ValueError(f"{path}: cannot be read as Parquet: {exc}") from None
    header = list(table.column_names)
    return header, {h: table.column(h).to_pylist() for h in header}


def read_columns(path: Path) -> tuple[list[str], dict[str, list[Any]]]:
    """A CSV or Parquet file (by its suffix) as ``(header, {column: cells})``."""
    suffix = path.suffix.lower()
    if suffix in (".parquet", ".pq"):
        return read_parquet_columns(path)
    if suffix in (".csv", ".txt", ".tsv", ".dat", ""):
        return read_csv_columns(path)
    raise ValueError(f"{path}: unknown file type {suffix!r}; use a .csv or .parquet file.")


def _pick(header: list[str], names: Sequence[str]) -> str | None:
    low = {h.lower().strip(): h for h in header}
    for n in names:
        if n in low:
            return low[n]
    return None


def read_series(
    path: str | Path,
    date_column: str | None = None,
    value_column: str | None = None,
) -> TimeSeries:
    """Read a date column and a value column from a CSV or Parquet file.

    Columns are detected when not given: the date column is one named like
    ``date``/``time``/``t`` or the first whose entries parse as dates; the value
    column is the only other numeric column (or one named ``value``,
    ``liquidity``, ``L``...). Dates may be ISO 8601 (``2024-03-31``,
    ``2024-03-31T12:00``) or common day/month/year forms, one format per column;
    a numeric time column is taken as years. Missing entries (empty, ``NA``,
    ``NaN``, ``null``...) drop their row with a note; rows are sorted by time.

    Parameters
    ----------
    path : str or Path
        A ``.csv`` / ``.txt`` / ``.tsv`` file (delimiter sniffed) or ``.parquet`` / ``.pq``.
    date_column, value_column : str, optional
        Column names (case-sensitive); detected when omitted.

    Returns
    -------
    TimeSeries

    Raises
    ------
    ValueError
        Unknown column, unparsable date or non-numeric value (naming the row and
        the column), duplicate dates, or no usable rows.
    FileNotFoundError
        The file does not exist.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "l.csv"
    >>> _ = p.write_text("date,L\\n2024-01-05,0.1\\n2024-01-12,\\n2024-01-19,0.3\\n")
    >>> s = read_series(p)
    >>> s.value_column, len(s), s.notes[0][:17]
    ('L', 2, 'dropped 1 row wit')
    """
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"Data file {str(p)!r} does not exist.")
    header, cols = read_columns(p)
    n_rows = len(next(iter(cols.values()))) if cols else 0
    if n_rows == 0:
        raise ValueError(f"{p}: no data rows below the header.")
    for name, opt in ((date_column, "date_column"), (value_column, "value_column")):
        if name is not None and name not in cols:
            raise ValueError(f"{p}: `{opt}` {name!r} is not a column; columns are {', '.join(map(repr, header))}.")

    # -- detect columns -----------------------------------------------------
    if date_column is None:
        date_column = _pick([h for h in header if h != value_column], _DATE_NAMES)
        if date_column is None:
            date_column = next((h for h in header if h != value_column and _looks_date(cols[h])), None)
        if date_column is None:
            raise ValueError(
                f"{p}: no date column found among {', '.join(map(repr, header))}; name it with --date-column."
            )
    if value_column is None:
        others = [h for h in header if h != date_column]
        numeric = [h for h in others if _looks_numeric(cols[h])]
        if len(numeric) == 1:
            value_column = numeric[0]
        else:
            value_column = _pick(numeric or others, _VALUE_NAMES)
            if value_column is None:
                if not others:
                    raise ValueError(f"{p}: only one column ({date_column!r}); a value column is needed.")
                if len(others) == 1:
                    value_column = others[0]
                else:
                    raise ValueError(
                        f"{p}: cannot tell which column holds the values among "
                        f"{', '.join(map(repr, numeric or others))}; choose one with --value-column."
                    )
    if date_column == value_column:
        raise ValueError(f"{p}: the date and value columns are both {date_column!r}.")

    # -- parse ----------------------------------------------------------------
    raw_d, raw_v = cols[date_column], cols[value_column]
    is_num_time = _looks_numeric(raw_d) and not any(isinstance(v, (_dt.date, np.datetime64)) for v in raw_d)
    fmt = None if is_num_time else _date_format([v for v in raw_d if isinstance(v, str)][:500])
    if not is_num_time and fmt is None and any(isinstance(v, str) and not is_missing(v) for v in raw_d):
        bad = next(i for i, v in enumerate(raw_d) if isinstance(v, str) and not is_missing(v))
        raise ValueError(
            f"{p}: row {bad + 1}, column {date_column!r}: cannot parse {raw_d[bad]!r} as a date "
            "(expected ISO 8601 such as 2024-03-31, or a numeric time in years)."
        )
    times_: list[float] = []
    dates: list[_dt.datetime] = []
    values: list[float] = []
    rows: list[int] = []
    dropped: list[int] = []
    for i, (d, v) in enumerate(zip(raw_d, raw_v, strict=False)):
        row = i + 1
        if is_missing(d) or is_missing(v):
            dropped.append(row)
            continue
        x = parse_float(v)
        if x is None or not math.isfinite(x):
            raise ValueError(f"{p}: row {row}, column {value_column!r}: {v!r} is not a finite number.")
        if is_num_time:
            tv = parse_float(d)
            if tv is None or not math.isfinite(tv):
                raise ValueError(f"{p}: row {row}, column {date_column!r}: {d!r} is not a finite time.")
            times_.append(tv)
        else:
            dd = _parse_date(d, fmt) if isinstance(d, str) else _parse_date(d, None)
            if dd is None:
                raise ValueError(
                    f"{p}: row {row}, column {date_column!r}: cannot parse {d!r} as a date "
                    f"(the column's format is {'ISO 8601' if fmt == 'iso' else fmt})."
                )
            dates.append(dd)
        values.append(x)
        rows.append(row)
    notes: list[str] = []
    if dropped:
        shown = ", ".join(map(str, dropped[:10])) + (", ..." if len(dropped) > 10 else "")
        notes.append(f"dropped {len(dropped)} row{'s' if len(dropped) > 1 else ''} with missing values (rows {shown})")
    if not values:
        raise ValueError(f"{p}: no rows with both a date in {date_column!r} and a value in {value_column!r}.")
    r = np.asarray(rows, dtype=np.int64)
    vals = np.asarray(values, dtype=float)
    t: NDArray[np.float64]
    dts: NDArray[Any] | None
    if is_num_time:
        t = np.asarray(times_, dtype=float)
        dts = None
    else:
        dts = np.array([np.datetime64(d.replace(microsecond=0), "s") for d in dates])
        t = (dts - dts.min()) / np.timedelta64(1, "D") / DAYS_PER_YEAR
    order = np.argsort(t, kind="stable")
    if np.any(np.diff(order) < 0):
        notes.append("sorted the rows by date")
        t, vals, r = t[order], vals[order], r[order]
        dts = dts[order] if dts is not None else None
    dup = np.flatnonzero(np.diff(t) <= 0)
    if dup.size:
        a, b = r[dup[0]], r[dup[0] + 1]
        raise ValueError(
            f"{p}: rows {min(a, b)} and {max(a, b)}, column {date_column!r}: duplicate date "
            f"{(str(dts[dup[0]]) if dts is not None else t[dup[0]])!r}; keep one observation per date."
        )
    t = np.asarray(t, dtype=float) - float(t[0])
    return TimeSeries(times=t, values=vals, dates=dts, date_column=date_column, value_column=value_column,
                      source=str(p), notes=tuple(notes), rows=r)



def to_years(times_or_dates: Any) -> tuple[NDArray[np.float64], NDArray[Any] | None]:
    arr = np.asarray(times_or_dates)
    if arr.ndim != 1:
        raise ValueError(f"`times_or_dates` must be one-dimensional, got shape {arr.shape}.")
    if np.issubdtype(arr.dtype, np.datetime64):
        d = arr.astype("datetime64[s]")
        if np.any(np.isnat(d)):
            raise ValueError(f"`times_or_dates` holds a missing date at index {int(np.flatnonzero(np.isnat(d))[0])}.")
        return (d - d[0]) / np.timedelta64(1, "D") / DAYS_PER_YEAR, d
    if arr.dtype == object or arr.dtype.kind in "US":
        out = []
        for i, v in enumerate(arr.tolist()):
            dd = _parse_date(v, "iso") if isinstance(v, str) else _parse_date(v, None)
            if dd is None:
                raise ValueError(f"`times_or_dates`[{i}] = {v!r} is neither a number nor a date.")
            out.append(np.datetime64(dd.replace(microsecond=0), "s"))
        d = np.array(out)
        return (d - d[0]) / np.timedelta64(1, "D") / DAYS_PER_YEAR, d
    try:
        t = arr.astype(float)
    except (TypeError, ValueError):
        raise ValueError("`times_or_dates` must hold numbers (years) or dates.") from None
    return t, None


