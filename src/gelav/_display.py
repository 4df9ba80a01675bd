"""Rich display of results in notebooks: a title, a table of key numbers, and notes.

Every result type can get Jupyter's rich display in three lines::

    from gelav._display import KeyTable

    def _display(self) -> KeyTable:
        return KeyTable("OU fit", [("κ [1/y]", self.kappa, self.stderr["kappa"]), ...],
                        columns=("", "estimate", "std. error"), notes=self.notes)

    def _repr_html_(self) -> str:
        return self._display().html()

    def _repr_markdown_(self) -> str:
        return self._display().markdown()

:class:`KeyTable` renders the same content as an HTML table (escaped, numbers
rounded to ``digits`` significant figures, tiny rounding noise shown as 0,
infinities as ∞) or a Markdown table, so notebooks, Markdown exports and reports
agree. :func:`fmt_number` is the number formatter used; :func:`short_repr` builds
the one-line ``__repr__`` of a result (``Name(key=value, ...)``, never whole arrays).
:func:`fmt_probability` is the one formatter of probabilities (fixed point, or
scientific notation when small, so a tail probability of 4e-10 never prints as
``0.000000000`` / ``0.0000%``); a :class:`Probability` in a :class:`KeyTable` is
printed by it and never rounded to 0.
"""

from __future__ import annotations

import html as _html
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["SMALL_PROBABILITY", "KeyTable", "Probability", "fmt_fixed", "fmt_number", "fmt_probability", "fmt_rate", "short_repr"]

#: below this a probability is printed in scientific notation
SMALL_PROBABILITY = 1e-3


class Probability(float):
    """A float that is a probability: :func:`fmt_number` prints it with :func:`fmt_probability`."""

    __slots__ = ()


def fmt_probability(p: Any, decimals: int = 9, *, percent: bool = False, digits: int = 4) -> str:
    """A probability as text: ``decimals`` fixed decimals (``percent``: ``p`` as a percentage with 4
    decimals), or ``digits`` significant figures in scientific notation when ``0 < |p| <`` 1e-3.

    >>> fmt_probability(0.0019356), fmt_probability(4.301e-10), fmt_probability(4.301e-10, percent=True)
    ('0.001935600', '4.301e-10', '4.301e-08 %')
    >>> fmt_probability(0.0019356, percent=True), fmt_probability(0.0)
    ('0.1936%', '0')
    """
    if p is None:
        return "–"
    f = float(p)
    if math.isnan(f):
        return "–"
    if f == 0.0:
        return "0"
    if abs(f) < SMALL_PROBABILITY:
        return f"{100 * f:.{digits - 1}e} %" if percent else f"{f:.{digits - 1}e}"
    return f"{f:.4%}" if percent else f"{f:.{decimals}f}"


def fmt_fixed(v: float, decimals: int = 6, *, small: float | None = None) -> str:
    """``decimals`` fixed decimals, or scientific notation with ``decimals`` significant figures where the fixed
    form would show fewer than four of them or more than seven integer digits (an expected discount of 1.8e-35
    printed 0.000000, a price of 1e99 as 100 digits); "–" for NaN. ``small`` (default ``10**(3 - decimals)``)
    moves the lower switch: ``small=1e-3`` with 3 decimals prints a multiple of 0.5 as 0.500.

    >>> fmt_fixed(0.449329), fmt_fixed(3.7e-11), fmt_fixed(0.0), fmt_fixed(2.5e99)
    ('0.449329', '3.70000e-11', '0.000000', '2.50000e+99')
    >>> fmt_fixed(0.5, 3, small=1e-3), fmt_fixed(1e306, 3, small=1e-3)
    ('0.500', '1.00e+306')
    """
    f = float(v)
    if f != f:
        return "–"
    if math.isinf(f):
        return "∞" if f > 0 else "−∞"
    lower = 10.0 ** (3 - decimals) if small is None else small
    if f == 0 or lower <= abs(f) < 1e7:
        return f"{f:.{decimals}f}"
    return f"{f:.{decimals - 1}e}"


def fmt_rate(r: float, decimals: int = 4) -> str:
    """An annual rate as a percentage with ``decimals`` decimals, or in scientific notation beyond
    1 000 000 % (an IRR of 2.47e41 would otherwise print 42 digits).

    >>> fmt_rate(0.1), fmt_rate(-0.99999), fmt_rate(2.4699e41), fmt_rate(2.4699e41, 2)
    ('10.0000%', '-99.9990%', '2.470e+43 %', '2.5e+43 %')
    """
    if abs(r) < 1e4:
        return f"{r:.{decimals}%}"
    return f"{100 * r:.{max(decimals - 1, 1)}e} %"


def fmt_number(v: Any, digits: int = 4, *, scale: float | None = None) -> str:
    """A number as text: ``digits`` significant figures, ∞/−∞, ``nan`` as "–", and values
    below ``1e-12 × scale`` (rounding noise relative to the table's largest entry) as 0."""
    if v is None:
        return "–"
    if isinstance(v, Probability):
        return fmt_probability(v, digits=digits) if abs(v) < SMALL_PROBABILITY else f"{float(v):.{digits}g}"
    if isinstance(v, (bool, np.bool_)):
        return "yes" if v else "no"
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        f = float(v)
        if math.isnan(f):
            return "–"
        if math.isinf(f):
            return "∞" if f > 0 else "−∞"
        if scale is not None and scale > 0 and abs(f) < 1e-12 * scale:
            return "0"
        return f"{f:.{digits}g}"
    if isinstance(v, (tuple, list)) and len(v) == 2 and all(isinstance(u, (int, float, np.number)) for u in v):
        return f"[{fmt_number(v[0], digits)}, {fmt_number(v[1], digits)}]"
    return str(v)


@dataclass(frozen=True)
class KeyTable:
    """A titled table of key numbers with optional notes, rendered as HTML or Markdown.

    Parameters
    ----------
    title : str
        Heading (plain text).
    rows : sequence of sequences
        One row per quantity: a label followed by values (numbers, intervals as
        2-tuples, strings).
    columns : sequence of str, optional
        Column headings (the first for the labels).
    notes : iterable of str
        Shown below the table.
    digits : int
        Significant figures of numbers.
    """

    title: str
    rows: Sequence[Sequence[Any]]
    columns: Sequence[str] = ()
    notes: Iterable[str] = field(default_factory=tuple)
    digits: int = 4

    def _cells(self) -> list[list[str]]:
        nums = [abs(float(v)) for r in self.rows for v in r[1:]
                if isinstance(v, (float, np.floating)) and math.isfinite(float(v))]
        scale = max(nums) if nums else None
        return [[str(r[0])] + [fmt_number(v, self.digits, scale=scale) for v in r[1:]] for r in self.rows]

    def html(self) -> str:
        """An HTML fragment (title, table, notes), every text escaped."""
        e = _html.escape
        out = [f"<div class='gelav-result'><strong>{e(self.title)}</strong>",
               "<table style='border-collapse:collapse'>"]
        if self.columns:
            out.append("<thead><tr>" + "".join(f"<th style='text-align:left;padding:0 .8em 0 0'>{e(c)}</th>"
                                               for c in self.columns) + "</tr></thead>")
        out.append("<tbody>")
        for r in self._cells():
            out.append("<tr>" + f"<td style='text-align:left;padding:0 .8em 0 0'>{e(r[0])}</td>"
                       + "".join(f"<td style='text-align:right;padding:0 .8em 0 0'>{e(c)}</td>" for c in r[1:])
                       + "</tr>")
        out.append("</tbody></table>")
        notes = list(self.notes)
        if notes:
            out.append("<ul>" + "".join(f"<li>{e(n)}</li>" for n in notes) + "</ul>")
        out.append("</div>")
        return "".join(out)

    def markdown(self) -> str:
        """A Markdown fragment: bold title, pipe table, bulleted notes."""
        def cell(s: str) -> str:
            return s.replace("|", "\\|").replace("\n", " ")

        cells = self._cells()
        width = max([len(self.columns)] + [len(r) for r in cells]) if (cells or self.columns) else 1
        head = list(self.columns) + [""] * (width - len(self.columns))
        lines = [f"**{cell(self.title)}**", ""]
        lines.append("| " + " | ".join(cell(h) for h in head) + " |")
        lines.append("|" + "|".join([":--"] + ["--:"] * (width - 1)) + "|")
        for r in cells:
            r = r + [""] * (width - len(r))
            lines.append("| " + " | ".join(cell(c) for c in r) + " |")
        notes = list(self.notes)
        if notes:
            lines.append("")
            lines += [f"- {cell(n)}" for n in notes]
        return "\n".join(lines)


def short_repr(name: str, items: Iterable[tuple[str, Any]], digits: int = 4) -> str:
    """``Name(key=value, ...)`` with numbers rounded; arrays shown by their shape only."""
    parts = []
    for k, v in items:
        if isinstance(v, np.ndarray):
            parts.append(f"{k}=<array {'×'.join(map(str, v.shape))}>")
        else:
            parts.append(f"{k}={fmt_number(v, digits) if isinstance(v, (int, float, np.number)) else v}")
    return f"{name}({', '.join(parts)})"
