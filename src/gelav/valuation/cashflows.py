r"""A fund's cash-flow record (:class:`FundCashflows`), its metrics (:class:`FundMetrics`) and :func:`read_cashflows`.

The course's fund file is quarterly with columns ``date, year, cashflow, L_t,
benchmark_index``: the signed cash flow (contributions < 0), the liquidity
state and a total-return benchmark level on each date. Other layouts are
detected by column name (see :func:`read_cashflows`).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from gelav.valuation import metrics

__all__ = ["FundCashflows", "FundMetrics", "read_cashflows", "report_metrics"]

_TIME_NAMES = ("date", "dates", "quarter_end", "period_end", "year", "years", "t", "time")
_FLOW_NAMES = ("cashflow", "cash_flow", "cashflows", "net_cashflow", "net_cash_flow", "cf", "flow", "amount")
_CALL_NAMES = ("contribution", "contributions", "call", "calls", "capital_call", "capital_calls", "paid_in")
_DIST_NAMES = ("distribution", "distributions", "dist")
_L_NAMES = ("l_t", "l", "liquidity", "liquidity_state", "lt")
_INDEX_NAMES = ("benchmark_index", "benchmark", "index", "index_level", "total_return_index", "tri", "r_t")
_NAV_NAMES = ("nav", "residual_nav", "nav_t")


@dataclass(frozen=True)
class FundMetrics:
    """All metrics of one fund (see :mod:`gelav.valuation.metrics` for the formulas).

    ``irr``, ``direct_alpha`` and ``la_irr`` are :class:`~gelav.valuation.metrics.IRRResult`
    (``.rate`` is None unless the root is unique); index-based metrics are None
    without an index, liquidity-adjusted ones without ``L`` or a premium.
    """

    irr: metrics.IRRResult
    tvpi: float
    dpi: float
    rvpi: float
    pme: float | None = None
    direct_alpha: metrics.IRRResult | None = None
    la_irr: metrics.IRRResult | None = None
    la_pme: float | None = None
    premium: Any = None

    def as_dict(self) -> dict[str, Any]:
        """Plain numbers (None where a metric is undefined) plus the IRR roots."""
        def rate(r: metrics.IRRResult | None) -> float | None:
            return None if r is None else r.rate

        out: dict[str, Any] = {
            "irr": rate(self.irr), "tvpi": self.tvpi, "dpi": self.dpi, "rvpi": self.rvpi, "pme": self.pme,
            "direct_alpha": rate(self.direct_alpha), "la_irr": rate(self.la_irr), "la_pme": self.la_pme,
            "irr_roots": list(self.irr.roots), "irr_status": self.irr.status,
        }
        if self.la_irr is not None:
            out["la_irr_roots"] = list(self.la_irr.roots)
        if self.premium is not None and hasattr(self.premium, "to_dict"):
            out["premium"] = self.premium.to_dict()
        return out


@dataclass(frozen=True, eq=False)
class FundCashflows:
    """A fund's signed cash flows with the liquidity state and benchmark index on each date.

    Attributes
    ----------
    times : ndarray
        Years since the first date (non-decreasing).
    flows : ndarray
        Signed cash flows (contributions < 0, distributions > 0).
    L : ndarray or None
        Liquidity state on each date.
    index : ndarray or None
        Total-return benchmark level on each date (> 0).
    nav : float
        Residual NAV at the last date (0 for a liquidated fund).
    dates : ndarray of datetime64 or None
    source : str
    notes : tuple of str
        What the reader did (columns chosen, rows dropped).
    """

    times: NDArray[np.float64]
    flows: NDArray[np.float64]
    L: NDArray[np.float64] | None = None
    index: NDArray[np.float64] | None = None
    nav: float = 0.0
    dates: NDArray[Any] | None = None
    source: str = ""
    notes: tuple[str, ...] = ()
    columns: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        cf, t = metrics.flows_and_times(self.flows, self.times)
        object.__setattr__(self, "flows", cf)
        object.__setattr__(self, "times", t)
        if self.L is not None:
            object.__setattr__(self, "L", metrics.as_vector("L", self.L, cf.size))
        if self.index is not None:
            object.__setattr__(self, "index", metrics.index_levels(self.index, cf.size))
        object.__setattr__(self, "nav", metrics.residual_nav(self.nav))

    def __len__(self) -> int:
        return int(self.flows.size)

    def metrics(self, premium: Any = None) -> FundMetrics:
        """Every metric; LA-IRR and LA-PME need ``premium`` (e.g. ``gelav.IlliquidityPremium()``) and ``L``."""
        cf, t, nav = self.flows, self.times, self.nav
        full, tf = metrics.with_residual_nav(cf, t, nav)
        out: dict[str, Any] = {"irr": metrics.irr(full, tf), "tvpi": metrics.tvpi(cf, nav), "dpi": metrics.dpi(cf),
                               "rvpi": metrics.rvpi(cf, nav)}
        if self.index is not None:
            out["pme"] = metrics.pme(cf, self.index, nav=nav)
            out["direct_alpha"] = metrics.direct_alpha(cf, t, self.index, nav=nav)
        if premium is not None and self.L is not None:
            out["la_irr"] = metrics.la_irr(cf, t, self.L, premium=premium, nav=nav)
            if self.index is not None:
                out["la_pme"] = metrics.la_pme(cf, t, self.L, self.index, premium=premium, nav=nav)
            out["premium"] = premium
        return FundMetrics(**out)

    def plot(self, *, ax: Any = None) -> Any:
        """Bar chart of the flows with cumulative net cash (and L on a second axis when known)."""
        from gelav.plot import new_axes

        fig, ax = new_axes(ax)
        width = 0.8 * float(np.min(np.diff(self.times))) if self.times.size > 1 and np.all(np.diff(self.times) > 0) else 0.2
        ax.bar(self.times, self.flows, width=width, color=np.where(self.flows < 0, "tab:red", "tab:green"),
               label="cash flow")
        ax.plot(self.times, np.cumsum(self.flows), color="black", label="cumulative net cash")
        ax.set_xlabel("t [years]")
        ax.set_ylabel("cash flow [currency]")
        ax.set_title(f"Fund cash flows{(' — ' + Path(self.source).name) if self.source else ''}")
        from gelav.plot import legend_below

        twins = []
        if self.L is not None:
            ax2 = ax.twinx()
            ax2.plot(self.times, self.L, color="tab:blue", lw=1, ls="--", label="L_t")
            ax2.set_ylabel("liquidity state L")
            twins.append(ax2)
        legend_below(ax, *twins)  # under the axes: the curves run through every corner
        return fig


# ---------------------------------------------------------------------------
# reading
# ---------------------------------------------------------------------------
def _header(p: Path) -> list[str]:
    if p.suffix.lower() in (".parquet", ".pq"):
        try:
            import pyarrow.parquet as pq
        except ImportError as exc:  # pragma: no cover - optional dependency
            raise ImportError("Reading Parquet needs pyarrow: pip install 'gelav[parquet]'.") from exc
        try:
            return list(pq.read_schema(p).names)
        except Exception as exc:  # pyarrow raises several types
            raise ValueError(f"{p}: cannot be read as Parquet: {exc}") from None
    try:
        text = p.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{p}: not a UTF-8 text (CSV) file ({exc.reason} at byte {exc.start}).") from None
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if not lines:
        raise ValueError(f"{p}: the file is empty.")
    try:
        dialect: Any = csv.Sniffer().sniff(text[:4096], delimiters=",;\t|")
    except csv.Error:
        dialect = csv.excel
    return [h.strip() for h in next(csv.reader([lines[0]], dialect))]


def _find(header: list[str], names: tuple[str, ...], given: str | None, option: str, p: Path) -> str | None:
    if given is not None:
        if given not in header:
            raise ValueError(f"{p}: `{option}` {given!r} is not a column; columns are {', '.join(map(repr, header))}.")
        return given
    low = {h.lower().strip(): h for h in header}
    return next((low[n] for n in names if n in low), None)


def read_cashflows(path: str | Path, *, time_column: str | None = None, flow_column: str | None = None,
                   liquidity_column: str | None = None, index_column: str | None = None,
                   nav_column: str | None = None, nav: float | None = None) -> FundCashflows:
    """Read a fund's cash flows from a CSV or Parquet file.

    Columns are detected by name (case-insensitive) unless given:

    - time: ``date`` (calendar dates; times are years since the first date) or a
      numeric ``year``/``t``/``time`` column (years);
    - flows: ``cashflow``/``cash_flow``/``cf``/``flow``/``amount`` (signed), or
      a pair ``contributions`` + ``distributions`` (both ≥ 0; kept gross: a row
      with both is two flows, −C and +D, on its date, so TVPI, PME and the
      liquidity-adjusted metrics see the paid-in capital and distributions as given);
    - optional: ``L_t``/``liquidity`` (liquidity state), ``benchmark_index``/
      ``index`` (total-return level), ``nav`` (the last value is the residual NAV).

    Each column is read by :func:`gelav.read_series` (same date formats,
    delimiters and Parquet support). A missing entry in any used column is an
    error naming its row and column (a cash flow is never silently dropped).

    Parameters
    ----------
    path : str or Path
    time_column, flow_column, liquidity_column, index_column, nav_column : str, optional
        Column names (case-sensitive), detected when omitted.
    nav : float, optional
        Residual NAV at the last date (overrides a ``nav`` column; default 0).

    Returns
    -------
    FundCashflows

    Raises
    ------
    FileNotFoundError
    ValueError
        No time or flow column, an unparsable entry or a missing value (naming the
        row and the column), a non-positive index level, a liquidity state beyond
        ``MAX_STATE`` (1e12), a negative NAV.
    """
    from gelav.calibrate import read_series

    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"Cash-flow file {str(p)!r} does not exist.")
    header = _header(p)
    tcol = _find(header, _TIME_NAMES, time_column, "time_column", p)
    if tcol is None:
        raise ValueError(f"{p}: no time column (date/year/t) among {', '.join(map(repr, header))}; "
                         "name it with `time_column`.")
    fcol = _find(header, _FLOW_NAMES, flow_column, "flow_column", p)
    ccol = dcol = None
    if fcol is None:
        ccol = _find(header, _CALL_NAMES, None, "flow_column", p)
        dcol = _find(header, _DIST_NAMES, None, "flow_column", p)
        if ccol is None or dcol is None:
            raise ValueError(f"{p}: no cash-flow column (cashflow/cf/flow, or contributions + distributions) "
                             f"among {', '.join(map(repr, header))}; name it with `flow_column`.")
    lcol = _find(header, _L_NAMES, liquidity_column, "liquidity_column", p)
    icol = _find(header, _INDEX_NAMES, index_column, "index_column", p)
    ncol = _find(header, _NAV_NAMES, nav_column, "nav_column", p) if nav is None else None

    wanted = [c for c in (fcol, ccol, dcol, lcol, icol, ncol) if c is not None]
    # a missing entry is an error naming its row and column: read_series drops such rows (a
    # missing cash flow was dropped with a note, and the IRR printed for the rest)
    from gelav.calibrate.io import is_missing, read_columns

    _, cells = read_columns(p)
    for c in (tcol, *wanted):
        for i, v in enumerate(cells[c], start=1):
            if is_missing(v):
                hint = " (write 0 for no flow)" if c in (fcol, ccol, dcol) else ""
                raise ValueError(f"{p}: row {i}, column {c!r}: missing value ({v!r}); a cash-flow file may not "
                                 f"skip an entry{hint}.")
    series = {c: read_series(p, date_column=tcol, value_column=c) for c in wanted}
    first = series[wanted[0]]
    rows_all = np.unique(np.concatenate([s.rows for s in series.values() if s.rows is not None]))
    for c, s in series.items():
        missing = np.setdiff1d(rows_all, s.rows if s.rows is not None else rows_all)
        if missing.size:
            raise ValueError(f"{p}: row {int(missing[0])}, column {c!r}: missing value.")
    # read_series returns every column on the same sorted rows
    rows = np.arange(first.times.size)
    if fcol is not None:
        flows = series[fcol].values
    else:
        C, D = series[ccol].values, series[dcol].values  # type: ignore[index]
        for c, v in ((str(ccol), C), (str(dcol), D)):
            if np.any(v < 0):
                i = int(np.flatnonzero(v < 0)[0])
                raise ValueError(f"{p}: row {int(first.rows[i])}, column {c!r}: {v[i]:g} < 0 (contributions and "  # type: ignore[index]
                                 "distributions are given as non-negative amounts in this layout).")
        # gross: a row with both is two flows on its date, the contribution first (netting them would
        # shrink paid-in capital and distributions alike, changing TVPI, PME and the LA metrics)
        keep = np.column_stack(((C > 0) | (D == 0), D > 0)).ravel()
        flows = np.column_stack((0.0 - C, D)).ravel()[keep]
        rows = np.repeat(np.arange(C.size), 2)[keep]
    index = None
    if icol is not None:
        index = series[icol].values
        if np.any(index <= 0):
            i = int(np.flatnonzero(index <= 0)[0])
            raise ValueError(f"{p}: row {int(first.rows[i])}, column {icol!r}: index level {index[i]:g} "  # type: ignore[index]
                             "must be > 0.")
    if lcol is not None:
        from gelav._validation import MAX_STATE

        Lv = series[lcol].values
        if np.any(np.abs(Lv) > MAX_STATE):  # the premium's range: π(L, T) is not defined beyond it
            i = int(np.flatnonzero(np.abs(Lv) > MAX_STATE)[0])
            raise ValueError(f"{p}: row {int(first.rows[i])}, column {lcol!r}: liquidity state {Lv[i]:g} is out "  # type: ignore[index]
                             f"of range (|L| must be <= {MAX_STATE:g}).")
    resid = 0.0 if nav is None else float(nav)
    if ncol is not None:
        resid = float(series[ncol].values[-1])
        if resid < 0:
            raise ValueError(f"{p}: row {int(first.rows[-1])}, column {ncol!r}: residual NAV {resid:g} < 0.")  # type: ignore[index]
    notes = list(first.notes)
    if rows.size > first.times.size:
        notes.append(f"{rows.size - first.times.size} row(s) with both a contribution and a distribution: "
                     "kept as two flows on the date (not netted)")
    cols: dict[str, str] = {"time": tcol, **({"flow": fcol} if fcol else {"contributions": str(ccol),
                                                                          "distributions": str(dcol)})}
    cols.update({k: c for k, c in (("L", lcol), ("index", icol), ("nav", ncol)) if c})
    return FundCashflows(times=first.times[rows], flows=flows,
                         L=None if lcol is None else series[lcol].values[rows],
                         index=None if index is None else index[rows], nav=resid,
                         dates=None if first.dates is None else first.dates[rows], source=str(p),
                         notes=tuple(notes), columns=cols)


def report_metrics(cashflows: FundCashflows | str | Path, premium: Any = None) -> tuple[dict[str, Any], Any]:
    """Report hook: the metrics of a fund (a :class:`FundCashflows` or a file path) and its cash-flow figure."""
    fc = cashflows if isinstance(cashflows, FundCashflows) else read_cashflows(cashflows)
    return fc.metrics(premium).as_dict(), fc.plot()
