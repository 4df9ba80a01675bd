r"""Self-contained HTML reports of the runs a scenario file asks for.

:func:`build_report` reads a scenario (see :mod:`gelav.scenario`), runs one
*section* per table it knows, and returns a :class:`Report` whose
:meth:`Report.write` saves **one** HTML file: figures embedded as base64 PNG,
tables, the equations solved (plain Unicode/HTML, no MathJax, no CDN), the
inputs, solver diagnostics and the gelav version. It opens in any browser
without a network.

Sections live in the :data:`SECTIONS` registry (table name -> function). A
section is one small function::

    def my_section(scenario: dict) -> ReportSection:
        table = scenario["my_table"]            # the scenario's own table
        ...                                     # run the solver
        return ReportSection(
            title="My analysis",
            html="<p>...</p>" + html_table(["a", "b"], [[1, 2]]),
            figures=(("caption", fig),),         # Matplotlib figures or PNG bytes
            numbers={"answer": 0.42},            # shown in a table and in --json
        )

    SECTIONS["my_table"] = my_section

Sections whose module is not installed (e.g. a solver still being written)
render as a short note instead of failing the report; a section that raises
renders its error message, and :attr:`Report.failed` lists it.

Sections after the model run in forked worker processes where that is safe
(``build_report(workers=)``, :mod:`gelav._forked`), several at once; each sends
back its text, numbers and PNG figures, and the page is the one drawn in a
single process.
"""

from __future__ import annotations

import base64
import datetime as _dt
import html as _html
import io
import math
import platform
import sys
import time as _time
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gelav._display import Probability, fmt_probability
from gelav.scenario import ScenarioError
from gelav.scenario import Section as _Table

if TYPE_CHECKING:
    from gelav.processes import Process

__all__ = [
    "SECTIONS",
    "TRIGGERS",
    "Report",
    "ReportSection",
    "SectionUnavailable",
    "build_report",
    "figure_html",
    "html_table",
    "render_report",
]


class SectionUnavailable(Exception):
    """Raised by a section whose solver module is not installed; the report shows a note."""


@dataclass(frozen=True)
class ReportSection:
    """What one section contributes to the report.

    Attributes
    ----------
    title : str
        Heading.
    html : str
        Body (trusted HTML built with :func:`html_table` and escaped text).
    figures : tuple of (caption, figure), or a function returning one
        Matplotlib figures or PNG bytes; embedded as base64 images. A function
        (no arguments) is called after the section ran, where :func:`build_report`
        draws figures: possibly in a worker process while the next section runs
        (build the figures in it, not in the section). In a built :class:`Report`
        the figures are PNG bytes.
    numbers : dict
        Key results (name -> number or short text), shown as a table and
        returned by ``gelav report --json``.
    notes : tuple of str
        Caveats (warnings raised while running, skipped parts).
    seconds : float
        Run time (filled in by :func:`build_report`).
    status : str
        ``"ok"``, ``"skipped"`` or ``"error"``.
    table : dict
        The "Key numbers" table as shown: readable label -> number (default: ``numbers``).
    """

    title: str
    html: str = ""
    figures: tuple[tuple[str, Any], ...] | Callable[[], Sequence[tuple[str, Any]]] = ()
    numbers: dict[str, Any] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    seconds: float = 0.0
    status: str = "ok"
    table: dict[str, Any] = field(default_factory=dict)


#: Brief name used by the brief; the scenario module already has a ``Section``.
Section = ReportSection

SectionFunc = Callable[[Mapping[str, Any]], ReportSection]


# ---------------------------------------------------------------------------
# HTML helpers
# ---------------------------------------------------------------------------
def esc(x: Any) -> str:
    """HTML-escape ``str(x)``."""
    return _html.escape(str(x), quote=True)


def fmt(v: Any, digits: int = 6, *, error: float | None = None) -> str:
    """Numbers to short text: ``digits`` significant digits, ∞ for inf, and 0 for rounding noise.

    A value below ``error`` (its own error estimate) or below 1e-12 in absolute
    value prints as 0: ``-1.09979e-17`` is zero to the accuracy of any solver here.
    """
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, Probability):  # a tail probability is the answer, never rounding noise
        return fmt_probability(v, digits=min(digits, 6)) if abs(v) < 1e-3 else f"{float(v):.{digits}g}"
    if isinstance(v, (int,)) and not isinstance(v, bool):
        return str(v)
    try:
        f = float(v)
    except (TypeError, ValueError):
        return str(v)
    if math.isnan(f):
        return "–"
    if math.isinf(f):
        return "∞" if f > 0 else "−∞"
    if abs(f) < max(1e-12, error or 0.0):
        return "0"
    return f"{f:.{digits}g}"


def html_table(columns: Sequence[str], rows: Sequence[Sequence[Any]], *, caption: str | None = None,
               digits: int = 6) -> str:
    """An HTML table (cells escaped; numbers formatted to ``digits`` significant digits)."""
    head = "".join(f"<th>{esc(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{esc(fmt(c, digits))}</td>" for c in r) + "</tr>" for r in rows)
    cap = f"<caption>{esc(caption)}</caption>" if caption else ""
    return f'<table class="data">{cap}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def dict_table(d: Mapping[str, Any], *, caption: str | None = None, key: str = "item", value: str = "value",
               digits: int = 6) -> str:
    """A two-column table of a flat dict (nested values written as text)."""
    return html_table([key, value], [[k, v if not isinstance(v, (dict, list, tuple)) else str(v)] for k, v in d.items()],
                      caption=caption, digits=digits)


def figure_png(fig: Any, *, dpi: int = 110) -> bytes:
    """PNG bytes of a Matplotlib figure cropped to what it draws, with savefig's padding (the figure is closed).

    ``savefig(bbox_inches="tight")`` lays the figure out in one pass and draws it
    in a second; here it is drawn once, at ``dpi`` on its full canvas, and the
    pixels of :func:`tight_box` are cut out: the PNG ``savefig(bbox_inches=box)``
    writes (tests compare the pixels), in about two thirds of the time.
    The box is savefig's tight box rounded out to whole pixels, so the picture is
    the tight one moved by under a pixel. A figure that draws outside its canvas
    (a legend below the figure's edge) is drawn again by ``savefig`` onto a
    canvas that holds the box.
    """
    if isinstance(fig, (bytes, bytearray)):
        return bytes(fig)
    import matplotlib as mpl
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    try:
        rc = mpl.rcParams
        if not (rc["savefig.facecolor"] == "auto" and rc["savefig.edgecolor"] == "auto"
                and not rc["savefig.transparent"] and isinstance(rc["savefig.pad_inches"], (int, float))
                and mpl.colors.to_rgba(fig.get_facecolor())[3] == 1.0):  # what the crop reproduces
            fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
            return buf.getvalue()
        drawn, box = _boxes(fig, dpi)
        png = _crop(fig, drawn, box, dpi)
        if png is not None:
            return png
        engine = fig.get_layout_engine()
        placeholder = engine is not None and type(engine).__name__ == "PlaceHolderLayoutEngine"  # tight_layout()
        fig.savefig(buf, format="png", dpi=dpi, bbox_inches=box if engine is None or placeholder else "tight")
        return buf.getvalue()
    finally:
        plt.close(fig)


def tight_box(fig: Any, dpi: float) -> Any:
    """Draw ``fig`` at ``dpi`` on an Agg canvas; the box [inches] ``savefig(bbox_inches="tight")`` crops
    to, rounded out to whole pixels (:meth:`matplotlib.figure.Figure.get_tightbbox`, padded by
    ``rcParams["savefig.pad_inches"]``)."""
    return _boxes(fig, dpi)[1]


def _boxes(fig: Any, dpi: float) -> tuple[Any, Any]:
    """(what ``fig`` draws, :func:`tight_box`) [inches], drawing ``fig`` on an Agg canvas at ``dpi``."""
    import matplotlib as mpl
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.transforms import Bbox

    # a plain Agg canvas (a GUI canvas may scale pixels for its screen); the figure is drawn for a file
    canvas = fig.canvas if type(fig.canvas) is FigureCanvasAgg else FigureCanvasAgg(fig)
    fig.dpi = dpi
    canvas.draw()  # lays the figure out (any layout engine too) and renders it
    drawn = fig.get_tightbbox(canvas.get_renderer())
    box = drawn.padded(mpl.rcParams["savefig.pad_inches"])
    return drawn, Bbox.from_extents(math.floor(box.x0 * dpi) / dpi, math.floor(box.y0 * dpi) / dpi,
                                    math.ceil(box.x1 * dpi) / dpi, math.ceil(box.y1 * dpi) / dpi)


def _crop(fig: Any, drawn: Any, box: Any, dpi: float) -> bytes | None:
    """The pixels of ``box`` from the canvas :func:`_boxes` drew, as PNG (Matplotlib's encoder and
    metadata, as savefig's); padding past the canvas edge in the figure's colour. None when some of
    what the figure draws (``drawn``) lies off the canvas."""
    import matplotlib as mpl
    import numpy as np

    canvas = fig.canvas
    width, height = canvas.get_width_height()
    if drawn.x0 < 0 or drawn.y0 < 0 or drawn.x1 * dpi > width or drawn.y1 * dpi > height:
        return None
    x0, y0, x1, y1 = (round(v * dpi) for v in box.extents)
    rows = (height - y1, height - y0)  # the buffer's rows run down from the top
    out = np.empty((y1 - y0, x1 - x0, 4), np.uint8)
    out[...] = [math.floor(c * 255 + 0.5) for c in mpl.colors.to_rgba(fig.get_facecolor())]  # as Agg rounds
    r0, r1, c0, c1 = max(rows[0], 0), min(rows[1], height), max(x0, 0), min(x1, width)
    out[r0 - rows[0]:r1 - rows[0], c0 - x0:c1 - x0] = np.asarray(canvas.buffer_rgba())[r0:r1, c0:c1]
    buf = io.BytesIO()
    mpl.image.imsave(buf, out.data, format="png", origin="upper", dpi=dpi)
    return buf.getvalue()


def figure_html(caption: str, png: bytes) -> str:
    """An embedded ``<figure>`` with a base64 PNG."""
    b64 = base64.b64encode(png).decode("ascii")
    return (f'<figure><img class="gelav-figure" alt="{esc(caption)}" src="data:image/png;base64,{b64}">'
            f"<figcaption>{esc(caption)}</figcaption></figure>")


def equation(text: str) -> str:
    """A displayed equation (trusted HTML with <i>, <sub>, <sup>)."""
    return f'<div class="eq">{text}</div>'


# ---------------------------------------------------------------------------
# sections
# ---------------------------------------------------------------------------
def _source(scenario: Mapping[str, Any]) -> str:
    return str(scenario.get("_path", "scenario"))


def _process(scenario: Mapping[str, Any]) -> Any:
    from gelav.processes import OrnsteinUhlenbeck
    from gelav.scenario import process_from_config

    if "process" in scenario:
        return process_from_config(scenario["process"], source=_source(scenario))
    return OrnsteinUhlenbeck()


#: readable names of the built-in processes' parameters
PARAMETER_LABELS = {"kappa": "κ mean reversion [1/y]", "mean": "long-run level", "sigma": "σ volatility",
                    "mu": "μ drift [1/y]"}


def _process_equation(process: Process) -> str:
    name = type(process).__name__
    p = process.params()
    if name == "OrnsteinUhlenbeck":
        return (f"dL<sub>t</sub> = κ(L̄ − L<sub>t</sub>)&#8202;dt + σ&#8202;dW<sub>t</sub>, "
                f"&nbsp; κ = {fmt(p['kappa'], 4)}/y, L̄ = {fmt(p['mean'], 4)}, σ = {fmt(p['sigma'], 4)}/√y")
    if name == "BrownianMotion":
        return f"dX<sub>t</sub> = μ&#8202;dt + σ&#8202;dW<sub>t</sub>, &nbsp; μ = {fmt(p['mu'], 4)}, σ = {fmt(p['sigma'], 4)}"
    if name == "GeometricBrownianMotion":
        return (f"dX<sub>t</sub> = μX<sub>t</sub>&#8202;dt + σX<sub>t</sub>&#8202;dW<sub>t</sub>, &nbsp; "
                f"μ = {fmt(p['mu'], 4)}, σ = {fmt(p['sigma'], 4)}")
    if name == "CIR":
        return (f"dX<sub>t</sub> = κ(θ − X<sub>t</sub>)&#8202;dt + σ√X<sub>t</sub>&#8202;dW<sub>t</sub>, &nbsp; "
                f"κ = {fmt(p['kappa'], 4)}, θ = {fmt(p['mean'], 4)}, σ = {fmt(p['sigma'], 4)}")
    return esc(repr(process))


def section_model(scenario: Mapping[str, Any]) -> ReportSection:
    """The process: its SDE, the Fokker–Planck equation, exact laws."""
    proc = _process(scenario)
    parts = [
        "<p>The state follows the Itô diffusion</p>",
        equation(_process_equation(proc)),
        "<p>whose density ρ(t, x) solves the Fokker–Planck (forward Kolmogorov) equation</p>",
        equation("∂<sub>t</sub>ρ = −∂<sub>x</sub>[b(x)ρ] + ½∂<sub>x</sub><sup>2</sup>[σ<sup>2</sup>(x)ρ]"),
    ]
    numbers: dict[str, Any] = {**proc.params()}
    light = getattr(proc, "stationary_normal", None)  # the same numbers without importing scipy.stats
    stat = light() if light is not None else proc.stationary()
    if stat is not None:
        numbers["stationary mean"] = float(stat.mean())
        numbers["stationary sd"] = float(stat.std())
    if type(proc).__name__ == "OrnsteinUhlenbeck":
        numbers["half-life [y]"] = proc.half_life
        parts.append("<p>with exact transition law</p>")
        parts.append(equation(
            "L<sub>t</sub> | L<sub>0</sub> ~ N( L̄ + (L<sub>0</sub> − L̄)e<sup>−κt</sup>, "
            "σ<sup>2</sup>(1 − e<sup>−2κt</sup>)/(2κ) ), &nbsp; stationary law N(L̄, σ<sup>2</sup>/2κ)"))
    notes = () if "process" in scenario else (
        "The scenario has no [process] table: the seed-000 liquidity model (the default of every command) is shown.",)
    table = {PARAMETER_LABELS.get(k, k): v for k, v in numbers.items()}
    return ReportSection(title=f"Model: {type(proc).__name__}", html="".join(parts), numbers=numbers, notes=notes,
                         table=table)


#: readable names of the Fokker–Planck solver's diagnostics
_DIAGNOSTIC_LABELS = {"n_nodes": "grid nodes", "n_steps": "time steps", "scheme": "time scheme",
                      "mass_balance_error": "mass balance error", "min_mass": "smallest cell mass",
                      "boundary_mass": "mass at the boundaries", "seconds": "solver time [s]"}


def section_stress(scenario: Mapping[str, Any]) -> ReportSection:
    """Stress test P(L_T < c | L_0 = x0) from :func:`gelav.tasks.stress` (the same numbers as ``gelav stress``)."""
    from gelav import tasks

    rep = tasks.stress(scenario)
    res = rep.result
    inp = res.inputs
    x0, horizon, c = inp["x0"], inp["horizon"], inp["threshold"]
    below = inp["direction"] == "below"
    sym = "&lt;" if below else "&gt;"
    rows: list[list[Any]] = []
    numbers: dict[str, Any] = {}
    for name, r in res.results.items():
        rows.append([name, fmt_probability(r.probability), fmt_probability(r.probability, percent=True),
                     r.error_text(long=True), f"{r.seconds * 1e3:.1f} ms"])
        numbers[f"P[{name}]"] = Probability(r.probability)
    html = [
        f"<p>Starting from L<sub>0</sub> = {fmt(x0)}, the probability that the state ends "
        f"{'below' if below else 'above'} c = {fmt(c)} after T = {fmt(horizon)} years:</p>",
        equation(f"P(L<sub>T</sub> {sym} c | L<sub>0</sub> = x<sub>0</sub>) = "
                 f"∫<sub>{'−∞' if below else 'c'}</sub><sup>{'c' if below else '∞'}</sup> ρ(T, x)&#8202;dx"),
        "<p>computed from the exact transition law (where known), by the Fokker–Planck PDE solved as the master "
        "equation dp/dt = Q<sup>⊤</sup>p of the Scharfetter–Gummel chain with Crank–Nicolson/Rannacher steps "
        "on three nested grids with Richardson extrapolation (the error estimate is the difference of the "
        "two extrapolations over 7, checked by the observed order), by Monte Carlo with the exact sampler "
        "(± one standard error; with no hit, the 95 % upper bound) and "
        "on a trinomial lattice.</p>",
        html_table(["method", "probability", "percent", "error", "time"], rows,
                   caption=f"P(L_T {'<' if below else '>'} {fmt(c)} | L_0 = {fmt(x0)}), T = {fmt(horizon)} y"),
    ]
    ex = rep.worked_example
    if ex:
        z = f", z = (c − mean)/sd = {fmt(ex['z'], 4)}" if "z" in ex else ""
        html.append(f"<p>Exact law: mean {fmt(ex['mean'], 5)}, standard deviation {fmt(ex['sd'], 5)}{z}.</p>")
        numbers.update({"conditional mean": ex["mean"], "conditional sd": ex["sd"]})
        if "z" in ex:
            numbers["z"] = ex["z"]
    diag = res.density.diagnostics if res.density is not None else {}
    if diag:
        keep = {label: diag[k] for k, label in _DIAGNOSTIC_LABELS.items() if k in diag}
        html.append(dict_table(keep, caption="Fokker–Planck solver diagnostics", key="diagnostic", digits=3))
    def figures() -> tuple[tuple[str, Any], ...]:
        return tuple(("Density at the horizon (PDE, exact law dashed; threshold region shaded), its tail on a "
                      "log scale, and the fan chart", f) for f in rep.figures().values())

    return ReportSection(title="Stress test (Fokker–Planck)", html="".join(html), figures=figures,
                         numbers=numbers, table=rep.key_numbers())


def section_calibration(scenario: Mapping[str, Any]) -> ReportSection:
    """Calibration (:func:`gelav.tasks.calibrate`): re-fit the data file when present, else show the saved result.

    ``[calibration] model = "ou,cir,gbm"`` (or a list) fits every model and shows the comparison table
    (log-likelihood, AIC, BIC, residual tests) and each model's estimates with intervals."""
    from gelav import tasks
    from gelav.tasks.calibrate import data_path, read_calibration_table

    table = read_calibration_table(scenario)
    path = data_path(scenario, table.get("data"))
    saved = table.get("result")
    if (path is None or not path.exists()) and isinstance(saved, Mapping):
        proc = scenario.get("process", {})
        fit_table = scenario.get("fit")
        names = (list(fit_table["parameters"]) if isinstance(fit_table, Mapping)
                 and isinstance(fit_table.get("parameters"), list) else ["kappa", "mean", "sigma"])

        def interval(v: Any) -> str:
            ok = isinstance(v, (list, tuple)) and len(v) == 2
            return f"[{fmt(v[0], 4)}, {fmt(v[1], 4)}]" if ok else "–"

        rows = [[PARAMETER_LABELS.get(k, k), proc.get(k), saved.get(f"{k}_stderr"), interval(saved.get(f"{k}_ci"))]
                for k in names]
        saved_html = ("<p>The data file is not available; the estimates saved in the scenario are shown.</p>"
                      + html_table(["parameter", "estimate", "std. error", "interval"], rows))
        numbers = {k: proc.get(k) for k in names}
        return ReportSection(title="Calibration (saved)", html=saved_html, numbers=numbers,
                             table={PARAMETER_LABELS.get(k, k): v for k, v in numbers.items()},
                             notes=(f"data file {Path(str(table['data'])).name!r} not found",) if table.get("data") else ())
    rep = tasks.calibrate(scenario)
    fit, series, comparison = rep.fit, rep.series, rep.comparison
    g = fit.goodness_of_fit
    gof = [[name, g[k]["statistic"], g[k]["pvalue"]] for name, k in
           (("Ljung–Box (autocorrelation)", "ljung_box"), ("Kolmogorov–Smirnov (normality)", "ks"),
            ("Jarque–Bera (normality)", "jarque_bera"))]
    html: list[str] = [
        f"<p>Data: <code>{esc(rep.path.name)}</code>, column <code>{esc(series.value_column)}</code> against "
        f"<code>{esc(series.date_column)}</code>: {fit.n_obs} observations over {fmt(fit.span, 4)} years "
        f"({'irregular' if fit.diagnostics.get('irregular_steps') else 'regular'} steps). "
        "Exact maximum likelihood on the transition law with unequal steps Δ<sub>i</sub>:</p>",
    ]
    fits = [fit] if comparison is None else list(comparison.fits.values())
    for f in fits:
        html.append(equation(_CALIBRATION_LAWS[f.model]))
    if comparison is not None:
        html.append(_comparison_table(comparison))
    for f in fits:
        best = comparison is not None and f.model == comparison.best
        html.append(html_table(["parameter", "estimate", "std. error", f"{f.level:.0%} interval"], _estimate_rows(f),
                               caption=f"{f.model.upper()} estimates{' (best)' if best else ''}: observed "
                                       "information; " + _INTERVALS[f.model]))
    html.append(html_table(["test", "statistic", "p-value"], gof,
                           caption=f"{fit.model.upper()} residuals: " + ("no test rejects at 1 %" if fit.adequate
                                                                         else "at least one test rejects at 1 %")))
    fitted: dict[str, Any] = {"model": fit.model, **{k: float(v) for k, v in fit.estimates.items()},
                              "n_obs": fit.n_obs} if fit.model != "ou" else {
        "kappa": fit.kappa, "mean": fit.mean, "sigma": fit.sigma, "half_life": fit.half_life,
        "stationary_sd": fit.stationary_sd, "n_obs": fit.n_obs}
    if comparison is not None:
        fitted["best_model"] = comparison.best
        fitted["models"] = {r["model"]: {k: r[k] for k in ("loglik", "aic", "bic")} for r in comparison.rows}
    def figures() -> tuple[tuple[str, Any], ...]:
        return tuple((f"{fit.model.upper()} fit: data with fitted level and stationary band; residuals; QQ plot; "
                      "residual autocorrelation", f) for f in rep.figures().values())

    title = (f"Calibration of the {fit.model.upper()} model" if comparison is None else
             "Calibration: " + ", ".join(r["model"].upper() for r in comparison.rows) + " compared")
    notes = tuple(fit.notes) if comparison is None else (
        tuple(f"{fit.model.upper()}: {n}" for n in fit.notes)
        + tuple(f"{r['model'].upper()}: {r['note']}" for r in comparison.rows if r["note"]))
    return ReportSection(title=title, html="".join(html), figures=figures, numbers=fitted, notes=notes,
                         table=rep.key_numbers())


#: the transition laws the calibration maximises (HTML)
_CALIBRATION_LAWS = {
    "ou": ("OU: L<sub>i+1</sub> = L̄ + (L<sub>i</sub> − L̄)e<sup>−κΔ<sub>i</sub></sup> + ε<sub>i</sub>, &nbsp; "
           "ε<sub>i</sub> ~ N(0, σ<sup>2</sup>(1 − e<sup>−2κΔ<sub>i</sub></sup>)/(2κ))"),
    "cir": ("CIR: dL = κ(L̄ − L)dt + σ√L&#8202;dW, &nbsp; 2c&#8202;L<sub>i+1</sub> | L<sub>i</sub> ~ non-central "
            "χ<sup>2</sup>(4κL̄/σ<sup>2</sup>, 2c&#8202;L<sub>i</sub>e<sup>−κΔ<sub>i</sub></sup>), &nbsp; "
            "c = 2κ/(σ<sup>2</sup>(1 − e<sup>−κΔ<sub>i</sub></sup>))"),
    "gbm": ("GBM: dL = μL&#8202;dt + σL&#8202;dW, &nbsp; ln(L<sub>i+1</sub>/L<sub>i</sub>) ~ "
            "N((μ − σ<sup>2</sup>/2)Δ<sub>i</sub>, σ<sup>2</sup>Δ<sub>i</sub>)"),
}
_INTERVALS = {"ou": "profile-likelihood intervals with small-sample adjustment",
              "cir": "log-scale Wald intervals, κ and L̄ widened for the small-sample bias of κ",
              "gbm": "Wald interval for μ, exact χ² and Student-t intervals for σ and the log drift"}


def _estimate_rows(fit: Any) -> list[list[Any]]:
    """Parameter, estimate, standard error and interval of a fit (OU: with the half-life and stationary sd)."""
    se, ci = fit.stderr, fit.conf_int
    keys: tuple[tuple[str, str], ...]
    if fit.model == "ou":
        keys = (("κ mean reversion [1/y]", "kappa"), ("L̄ long-run level", "mean"), ("σ volatility [1/√y]", "sigma"),
                ("half-life ln2/κ [y]", "half_life"), ("stationary sd σ/√(2κ)", "stationary_sd"))
        values = {k: getattr(fit, k) for _, k in keys}
    else:
        keys = tuple((fit.labels.get(k, k), k) for k in fit.estimates)
        values = dict(fit.estimates)
    return [[label, values[k], se[k], f"[{fmt(ci[k][0], 4)}, {fmt(ci[k][1], 4)}]"] for label, k in keys
            if k in se and k in ci]


def _comparison_table(c: Any) -> str:
    """The model comparison: log-likelihood, AIC, BIC, distance to the best and the residual tests."""
    crit = c.criterion
    finite = [r[crit] for r in c.rows if math.isfinite(r[crit])]
    low = min(finite) if finite else math.nan
    rows = [[r["model"].upper() + (" ★" if r["model"] == c.best else ""), r["loglik"], r["aic"], r["bic"],
             r[crit] - low, r["ljung_box_p"], r["ks_p"], r["jarque_bera_p"]] for r in c.rows]
    return html_table(["model", "log-likelihood", "AIC", "BIC", f"Δ{crit.upper()}", "Ljung–Box p", "KS p",
                       "Jarque–Bera p"], rows, digits=5,
                      caption=f"Model comparison on the same {c.n_obs} observations (likelihoods of the same data "
                              f"are comparable); ★ best by {crit.upper()} (smallest); – the model does not apply")


def _caption(title: str, name: str) -> str:
    return f"{title}: {name.replace('_', ' ')}"


@dataclass(frozen=True)
class TaskSection:
    """A report section drawn from a task of :mod:`gelav.tasks` (the same numbers as the command).

    The key numbers are the task's :meth:`key_numbers` (readable labels), the
    figures its :meth:`figures`, plus the equation solved and a description.
    """

    table: str
    title: str
    equation: str
    description: str

    def __call__(self, scenario: Mapping[str, Any]) -> ReportSection:
        from gelav.tasks import TASKS

        rep = TASKS[self.table](scenario)
        key = rep.key_numbers()
        title = getattr(rep, "title", None) or self.title  # e.g. a put is not the seed's selling price
        def figures() -> tuple[tuple[str, Any], ...]:
            return tuple((_caption(title, n), f) for n, f in rep.figures().items())

        body = f"<p>{self.description}</p>" + equation(self.equation)
        return ReportSection(title=title, html=body, figures=figures, numbers=dict(key), table=key)


def section_ito(scenario: Mapping[str, Any]) -> ReportSection:
    """Itô calculus in SymPy (:func:`gelav.tasks.ito`): Itô's lemma, generator, Fokker–Planck and Feynman–Kac PDEs."""
    from gelav import tasks

    rep = tasks.ito(scenario)
    rows = [[title, text] for title, text in rep.texts().items()]
    html = ("<p>Symbolic Itô calculus (SymPy) for the process "
            f"dX = ({esc(rep.inputs['drift'])}) dt + ({esc(rep.inputs['diffusion'])}) dW"
            + (f", parameters {esc(', '.join(rep.parameters))}" if rep.parameters else "") + ":</p>"
            + html_table(["result", "expression"], rows))
    return ReportSection(title="Symbolic Itô calculus", html=html, numbers={})


#: table name -> section function; the report runs them in the order of this dict
SECTIONS: dict[str, SectionFunc] = {
    "calibration": section_calibration,
    "stress": section_stress,
    "feynman_kac": TaskSection(
        "feynman_kac", "Feynman–Kac: expected selling price (seed 002)",
        "∂<sub>t</sub>u + μy&#8202;∂<sub>y</sub>u + ½σ<sub>0</sub><sup>2</sup>y<sup>2</sup>∂<sub>y</sub><sup>2</sup>u "
        "− r&#8202;u = 0, &nbsp; u(T, y) = g(y), &nbsp; u = g at the limits",
        "The value of a payoff received at the horizon or when a limit price is hit, solved backwards on the "
        "generator (Crank–Nicolson with Rannacher start) and cross-checked with the MATLAB-compatible pdepe; "
        "the ratio compares it with the same payoff without limits.",
    ),
    "exit_time": TaskSection(
        "exit_time", "Exit times and hitting probabilities",
        "½σ<sup>2</sup>(x)y″ + b(x)y′ = −1 on (a, b), y(a) = y(b) = 0; &nbsp; "
        "½σ<sup>2</sup>h″ + b&#8202;h′ = 0, h(a) = 0, h(b) = 1",
        "Expected time to leave (a, b) and the probability of leaving through b, solved as Q&#8202;y = −1 and "
        "Q&#8202;h = 0 on the generator, with each end classified (Feller) and infinite answers explained.",
    ),
    "trinomial": TaskSection(
        "trinomial", "Trinomial walk and its Gaussian limit (seed 003)",
        "∂<sub>t</sub>P = C<sup>2</sup>∂<sub>y</sub><sup>2</sup>P, &nbsp; C<sup>2</sup> = αδy<sup>2</sup>/δt, "
        "&nbsp; y<sub>t</sub> ~ N(x<sub>0</sub>, 2C<sup>2</sup>t)",
        "Walks that move ±δy with probability α and stay with 1 − 2α, against the exact lattice law and the "
        "Gaussian limit of the forward equation.",
    ),
    "mckean_vlasov": TaskSection(
        "mckean_vlasov", "McKean–Vlasov herding (seed 001)",
        "dL = κ(L̄ − L)dt + λ(E[L] − L)dt + σ&#8202;dW, &nbsp; v′ = −2(κ + λ)v + σ<sup>2</sup>",
        "Interacting particles against the exact Gaussian law and the nonlinear Fokker–Planck equation.",
    ),
    "ito": section_ito,
    "mfg": TaskSection(
        "mfg", "Mean-field game of LP exits (equilibrium)",
        "−∂<sub>t</sub>V = max(ℋV − ρV + f, π − V) (HJB obstacle problem); &nbsp; "
        "∂<sub>t</sub>μ = ℒ*μ − (exits) μ; &nbsp; π = π(t, L; μ<sub>t</sub>)",
        "The backward obstacle problem gives the exit region, the forward equation the distribution of LPs "
        "still holding, and the distribution the secondary-market price; the fixed point is the equilibrium. "
        "The key numbers give the discount to NAV, the exits, and the value where the holders' mass is.",
    ),
    "premium": TaskSection(
        "premium", "Illiquidity premium π(L, T)",
        "π(L, T) = (α + βL + γL<sup>2</sup>)&#8202;f(T), &nbsp; f(T) = √T (sqrt), T (linear) or 1 (none)",
        "The discount to NAV at which a stake with T years left trades in liquidity state L. With a trades file "
        "(<code>data</code>) the parameters are fitted by least squares on [f, L·f, L²·f] with HC3 "
        "heteroskedasticity-robust standard errors (a Huber M-estimate with <code>robust = true</code>); "
        "without one, the premium the other sections use is shown.",
    ),
    "exit_boundary": TaskSection(
        "exit_boundary", "Exit boundary L*(t) of a fund stake",
        "min( −V<sub>t</sub> − 𝓛V + (r − g + δ)V − (δ − c(L)), &nbsp; V − (1 − π(L, T − t)) ) = 0, &nbsp; "
        "V(T, L) = 1",
        "The value per unit NAV of holding a stake that may be sold at NAV·(1 − π) at any time, while the NAV "
        "earns g, pays out δ and costs c(L) in stress: an obstacle problem solved as a linear complementarity "
        "problem in every Crank–Nicolson step. The LP sells when L ≤ L*(t).",
    ),
    "metrics": TaskSection(
        "metrics", "Fund metrics and their liquidity-adjusted versions",
        "Σ<sub>i</sub> CF<sub>i</sub>(1 + IRR)<sup>−t<sub>i</sub></sup> = 0, &nbsp; "
        "PME = Σ D<sub>i</sub>/I<sub>i</sub> ÷ Σ C<sub>i</sub>/I<sub>i</sub>, &nbsp; "
        "LA: D<sub>i</sub>(1 − π(L<sub>t<sub>i</sub></sub>, T<sub>N</sub> − t<sub>i</sub>)), "
        "C<sub>i</sub>(1 + π(L<sub>t<sub>i</sub></sub>, T<sub>N</sub> − t<sub>i</sub>))",
        "IRR (every root when there are several), TVPI, DPI, RVPI, the Kaplan–Schoar PME and Direct Alpha "
        "against the benchmark index, and LA-IRR and LA-PME with distributions marked down and contributions "
        "marked up by the premium at the liquidity state of their date (residual NAV as a final distribution).",
    ),
    "jensen": TaskSection(
        "jensen", "Jensen bias of DCF at the expected rate",
        "bias = E[e<sup>−∫<sub>0</sub><sup>T</sup> r dt</sup>] − e<sup>−∫<sub>0</sub><sup>T</sup> E[r] dt</sup>, "
        "&nbsp; static: e<sup>−μT</sup>(e<sup>½σ<sub>r</sub><sup>2</sup>T<sup>2</sup></sup> − 1)",
        "Discounting at the expected rate undervalues a stake when the rate is uncertain (the discount factor is "
        "convex in the rate): exactly for one normal rate, and for a rate process by Feynman–Kac on the "
        "generator against the affine closed form.",
    ),
    "portfolio": TaskSection(
        "portfolio", "Portfolio stress under a liquidity scenario",
        "M<sub>i</sub>(t) = N<sub>i</sub>(1 − π(L<sub>t</sub>, T<sub>i</sub> − t)), &nbsp; "
        "DD(t) = Π(t)/Π(0) − 1, &nbsp; "
        "P(Π(0) − Π(h, L<sub>h</sub>) ≤ ℓ) = ∫ 1{Π(0) − Π(h, x) ≤ ℓ} ρ<sub>h</sub>(x)&#8202;dx",
        "Each fund is marked at its NAV less the premium along the monthly liquidity path; the drawdown is "
        "measured from the t = 0 mark (the course's measure from book NAV, which includes the starting "
        "discount, is shown beside it). With a horizon, the law of the loss comes from the Fokker–Planck "
        "density ρ<sub>h</sub> of the liquidity state, integrated over the level sets of the non-monotone loss; "
        "with <code>equilibrium = true</code> the marks also carry the crowding discount of the scenario's "
        "mean-field equilibrium.",
    ),
    "lav": TaskSection(
        "lav", "Liquidity-adjusted value of a fund stake (LAV)",
        "V(t<sub>0</sub>, L<sub>0</sub>) = E[ Σ<sub>t<sub>k</sub> &gt; t<sub>0</sub></sub> "
        "e<sup>−∫(r + λ(L<sub>u</sub>, T − u))du</sup> (D<sub>k</sub> − C<sub>k</sub>) | L<sub>t<sub>0</sub></sub> "
        "= L<sub>0</sub> ]",
        "The value of the stake's future distributions D less calls C (a Takahashi–Alexander fund) discounted "
        "at the rate plus the premium's instantaneous form λ along the liquidity path, by Feynman–Kac on the "
        "generator; beside it the DCF value with L frozen at its mean and, with <code>monte_carlo</code> "
        "paths, a Monte Carlo cross-check.",
    ),
    "welfare": TaskSection(
        "welfare", "Welfare and the Pigouvian tax",
        "W = Σ<sub>k</sub> w<sub>k</sub>∫V<sub>k</sub>&#8202;dμ<sub>0,k</sub>, &nbsp; "
        "gap = W<sub>P</sub> − W<sub>E</sub>, &nbsp; price of anarchy W<sub>P</sub>/W<sub>E</sub>, &nbsp; "
        "τ*(t, L): the charge on a sale that makes each LP's best response the planner's",
        "The planner's exit policy maximises the LPs' total welfare, internalising what one sale does to the "
        "price every other seller gets; the Pigouvian tax τ* decentralises it (tax revenue rebated lump-sum). "
        "Welfare per unit of LP population in NAV, shown to 10<sup>−6</sup>.",
    ),
}

#: a section also runs when the scenario has one of these tables (default: the section's own table)
TRIGGERS: dict[str, tuple[str, ...]] = {"portfolio": ("portfolio", "funds")}


#: sections always included (first); run in the report's process
ALWAYS: tuple[str, ...] = ("model",)

#: What a section uses of the modules the report's process imports once for all its workers:
#: "matplotlib" (figures: pyplot, the PNG encoder, fonts) and "scipy.stats" (0.35 s: imported here when
#: two or more sections need it, else by the one that does). Default: both. Only a hint for when a worker
#: may start it: sections that need neither start at once, those that need Matplotlib only before the
#: model section runs (into a free worker). A section that imports more imports it itself: slower, the
#: same page.
NEEDS: dict[str, tuple[str, ...]] = {"ito": (), **dict.fromkeys(
    ("stress", "feynman_kac", "exit_time", "mfg", "mckean_vlasov", "exit_boundary", "jensen", "portfolio", "lav",
     "welfare", "trinomial"), ("matplotlib",))}
_BOTH = ("matplotlib", "scipy.stats")

#: Typical seconds [s] of a section in a worker (its run, what it imports, its figures) with its table's
#: defaults on the 2-core development machine. Workers start sections longest first, so that the last
#: to end are short ones: the report ends about when its CPUs have done all the work. Only a hint for
#: the order sections start in (a section not listed counts as :data:`_COST`); the page is the same.
COST: dict[str, float] = {"mckean_vlasov": 0.65, "welfare": 0.5, "mfg": 0.45, "trinomial": 0.45, "stress": 0.4,
                          "feynman_kac": 0.35, "calibration": 0.3, "exit_boundary": 0.3, "lav": 0.3, "ito": 0.2,
                          "portfolio": 0.2, "exit_time": 0.15, "jensen": 0.1, "premium": 0.1, "metrics": 0.1}
_COST = 0.2
_BUILTIN: dict[str, SectionFunc] = {"model": section_model}


# ---------------------------------------------------------------------------
# the report
# ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Report:
    """A rendered report: the page and what each section produced."""

    title: str
    sections: dict[str, ReportSection]
    html: str
    inputs: dict[str, Any]
    seconds: float

    @property
    def failed(self) -> list[str]:
        """Names of sections that raised."""
        return [k for k, s in self.sections.items() if s.status == "error"]

    def write(self, path: str | Path) -> Path:
        """Write the HTML page (creating parent folders); returns the path."""
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        from gelav._io import atomic_write

        atomic_write(p, self.html)
        return p

    def summary(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "seconds": self.seconds,
            "sections": {k: {"title": s.title, "status": s.status, "seconds": s.seconds, "numbers": s.numbers,
                             "notes": list(s.notes)} for k, s in self.sections.items()},
            "failed": self.failed,
        }


_CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,'DejaVu Sans',sans-serif;max-width:1100px;margin:2em auto;
padding:0 1em;color:#1b1f24;line-height:1.45}
h1{font-size:1.7em;border-bottom:2px solid #2b6cb0;padding-bottom:.2em}h2{font-size:1.3em;margin-top:2em;color:#2b6cb0}
table.data{border-collapse:collapse;margin:.8em 0;font-size:.92em}table.data caption{text-align:left;font-style:italic;
padding:.2em 0;color:#444}table.data th,table.data td{border:1px solid #ccd;padding:.25em .6em;text-align:right}
table.data th:first-child,table.data td:first-child{text-align:left}table.data thead{background:#eef3fa}
.eq{font-family:'STIX Two Math','Cambria Math','DejaVu Serif',serif;font-size:1.1em;margin:.7em 2em;padding:.4em .8em;
background:#f7f9fc;border-left:3px solid #2b6cb0;overflow-x:auto}
figure{margin:1em 0}figure img{max-width:100%;height:auto;border:1px solid #e2e8f0}figcaption{font-size:.9em;color:#444}
.note{background:#fffbea;border-left:3px solid #d69e2e;padding:.4em .8em;margin:.5em 0;font-size:.92em}
.error{background:#fff5f5;border-left:3px solid #c53030;padding:.4em .8em;margin:.5em 0;white-space:pre-wrap}
.skipped{color:#666;font-style:italic}nav ol{columns:2}pre.inputs{background:#f7f7f7;padding:.8em;overflow-x:auto}
#gelav-status{font-size:.8em;color:#666;margin-top:3em}footer{font-size:.85em;color:#555;margin-top:2em}
"""

# Written into the page: after load, count decoded figures and record errors in #gelav-status
# (used by tests in a headless browser; harmless for readers).
_STATUS_JS = """
(function(){
  var errors=[];
  window.addEventListener('error',function(e){errors.push(String(e.message||e));});
  function check(){
    var imgs=Array.prototype.slice.call(document.querySelectorAll('img.gelav-figure'));
    var ok=imgs.filter(function(i){return i.complete&&i.naturalWidth>0;}).length;
    var s=document.getElementById('gelav-status');
    s.setAttribute('data-figures-total',String(imgs.length));
    s.setAttribute('data-figures-ok',String(ok));
    s.setAttribute('data-errors',String(errors.length));
    s.textContent='figures rendered: '+ok+' of '+imgs.length+(errors.length?'; script errors: '+errors.join('; '):'');
  }
  if(document.readyState==='complete'){check();}else{window.addEventListener('load',check);}
})();
"""


def _versions() -> dict[str, str]:
    import numpy
    import scipy

    from gelav import __version__

    out = {"gelav": __version__, "python": platform.python_version(), "numpy": numpy.__version__,
           "scipy": scipy.__version__}
    try:
        import matplotlib

        out["matplotlib"] = matplotlib.__version__
    except ImportError:  # pragma: no cover
        pass
    return out


def _scenario_text(scenario: Mapping[str, Any]) -> str:
    from gelav.scenario import dump_toml

    try:
        return dump_toml(scenario)
    except ScenarioError:
        return repr({k: v for k, v in scenario.items() if not k.startswith("_")})


def _notes(caught: Sequence[Any]) -> tuple[str, ...]:
    """The warnings a section raised, as notes (deprecations are for developers, not readers)."""
    return tuple(f"{w.category.__name__}: {w.message}" for w in caught
                 if not issubclass(w.category, (DeprecationWarning, PendingDeprecationWarning)))


def _failed(name: str, exc: Exception, seconds: float) -> ReportSection:
    """The section that replaces one that raised: skipped (a module not installed) or an error."""
    title = name.replace("_", " ").capitalize()
    if isinstance(exc, (SectionUnavailable, ImportError)):
        return ReportSection(title=title, status="skipped", html=f'<p class="skipped">Not run: {esc(exc)}</p>',
                             seconds=seconds)
    tb = traceback.format_exception_only(type(exc), exc)
    return ReportSection(title=title, status="error", html=f'<div class="error">{esc("".join(tb).strip())}</div>',
                         seconds=seconds)


def _run_section(name: str, func: SectionFunc, scenario: Mapping[str, Any]) -> ReportSection:
    import dataclasses
    import warnings

    t0 = _time.perf_counter()
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            s = func(scenario)
        return dataclasses.replace(s, seconds=_time.perf_counter() - t0, notes=tuple(s.notes) + _notes(caught))
    except ScenarioError:
        raise
    except Exception as exc:
        return _failed(name, exc, _time.perf_counter() - t0)


def _draw(name: str, figures: Any, dpi: int) -> tuple[Any, ...]:
    """Build a section's figures (when deferred) and draw them to PNG.

    Returns ``("ok", ((caption, PNG bytes), ...), notes, seconds)``, the notes being the warnings
    raised while building, or ``("failed", section)`` when building or drawing raised (the section
    :func:`_run_section` makes of an error). The same in a worker process as here: what travels back
    is bytes and text."""
    import warnings

    t0 = _time.perf_counter()
    figs: tuple[tuple[str, Any], ...] = ()
    try:
        with warnings.catch_warnings(record=True) as caught, _at_dpi(dpi if callable(figures) else None):
            warnings.simplefilter("always")
            figs = tuple(figures() if callable(figures) else figures)
        pngs = tuple((cap, figure_png(fig, dpi=dpi)) for cap, fig in figs)
        return "ok", pngs, _notes(caught), _time.perf_counter() - t0
    except ScenarioError:
        raise
    except Exception as exc:
        return "failed", _failed(name, exc, _time.perf_counter() - t0)
    finally:  # figures an error left undrawn (drawn ones are closed already)
        if figs and "matplotlib.pyplot" in sys.modules:
            for _, fig in figs:
                if not isinstance(fig, (bytes, bytearray)):
                    sys.modules["matplotlib.pyplot"].close(fig)


def _at_dpi(dpi: int | None) -> Any:
    """Figures made at the resolution they are drawn at: what a figure measures while it is built
    (``tight_layout``) is measured as the PNG draws it, on the same renderer, so its texts and mathtext are
    laid out once (the stress figure: 0.43 -> 0.33 s)."""
    import contextlib

    if dpi is None:
        return contextlib.nullcontext()
    import matplotlib

    return matplotlib.rc_context({"figure.dpi": dpi})


def _with_figures(sec: ReportSection, drawn: tuple[Any, ...]) -> ReportSection:
    """``sec`` with the outcome of :func:`_draw`: its PNG figures and notes, or the failure."""
    import dataclasses

    if drawn[0] == "failed":
        return dataclasses.replace(drawn[1], seconds=sec.seconds + drawn[1].seconds)
    _, pngs, notes, seconds = drawn
    return dataclasses.replace(sec, figures=pngs, notes=tuple(sec.notes) + notes, seconds=sec.seconds + seconds)


def _section(name: str, func: SectionFunc, scenario: Mapping[str, Any], dpi: int, *, draw: bool = True
             ) -> ReportSection:
    """Run one section and (with ``draw``) draw its figures: what the page shows of it. The same in a
    worker process as here (a worker sends back the section: text, numbers and PNG bytes)."""
    sec = _run_section(name, func, scenario)
    return _with_figures(sec, _draw(name, sec.figures, dpi)) if draw else sec


def _workers(workers: int | None) -> Any:
    """A :class:`gelav._forked.ForkPool` of ``workers`` processes (default: one per CPU where there are
    several), or None to run every section here: one CPU, ``workers=0``, not Linux, other Python threads."""
    from gelav import _forked

    n = (_forked.usable_cpus() if _forked.usable_cpus() > 1 else 0) if workers is None else workers
    return _forked.ForkPool(n) if n >= 1 and _forked.fork_safe() else None


def _gc_paused(fn: Callable[[], Any]) -> Callable[[], Any]:
    """``fn`` run with the cyclic garbage collector off: imports make many objects and hardly any
    garbage, and the collector's passes over them took a fifth of the report process's imports
    (Matplotlib and the FD core: 0.49 s with it, 0.40 s without)."""
    import functools
    import gc

    @functools.wraps(fn)
    def run() -> Any:
        was = gc.isenabled()
        gc.disable()
        try:
            return fn()
        finally:
            if was:
                gc.enable()

    return run


@_gc_paused
def _prepare_workers() -> bool:
    """Import here, once, what every worker would otherwise import again (the tasks, pyplot, the PNG
    encoder, mathtext and the fonts: a tiny figure is drawn), and say whether workers may draw figures:
    with Matplotlib's Agg backend only (an interactive backend's figures must not be made in a forked
    child)."""
    import gelav.tasks  # noqa: F401 - every task section's module

    try:
        import matplotlib.pyplot  # noqa: F401
        from matplotlib.figure import Figure

        from gelav.plot import headless_backend
    except ImportError:  # the sections report it
        return False
    if headless_backend() != "agg":
        return False
    warm = Figure(figsize=(1.0, 1.0))
    warm.text(0.1, 0.5, "x $x^2$")
    figure_png(warm, dpi=30)
    return True


@_gc_paused
def _prepare_solvers() -> bool:
    """Import here, once, the finite-difference core the PDE sections share (SciPy's LAPACK and special
    functions, the generator, the θ-steps, the forward equation: 0.2 s a process), so that the workers
    forked after it do not import it again each."""
    import scipy.special  # noqa: F401

    import gelav.fd.generator
    import gelav.fd.stepping
    import gelav.pde.forward  # noqa: F401

    return True


def build_report(scenario: Mapping[str, Any] | str | Path, *, sections: Sequence[str] | None = None,
                 dpi: int = 110, title: str | None = None, workers: int | None = None) -> Report:
    """Run the sections a scenario asks for and render the HTML page.

    Parameters
    ----------
    scenario : dict or path
        A scenario dict (as from :func:`gelav.scenario.load`) or the path of a TOML file.
    sections : sequence of str, optional
        Sections to run, by name (see :data:`SECTIONS`); default: every table of
        the scenario that has a section, or ``[report] sections``.
    dpi : int
        Resolution of the embedded figures.
    title : str, optional
        Page title (default the scenario's ``title``).
    workers : int, optional
        Worker processes running sections (and drawing their figures) at once,
        forked on Linux with Matplotlib's Agg backend; default one per CPU this
        process may use when there are several; 0 runs everything here. The page
        is the same either way (but for run times).

    Returns
    -------
    Report

    Raises
    ------
    ScenarioError
        An unknown section name, or an invalid field in a table.

    Examples
    --------
    >>> r = build_report({"process": {"kind": "ou", "kappa": 0.45, "mean": 1.0, "sigma": 0.32}})
    >>> list(r.sections), "<html" in r.html
    (['model'], True)
    """
    from gelav.scenario import load

    t0 = _time.perf_counter()
    if isinstance(scenario, (str, Path)):
        scenario = load(scenario)
    src = _source(scenario)
    rep = _Table(scenario.get("report"), "report", source=src)
    wanted = list(sections) if sections is not None else rep.string_list("sections", default=None)
    top = _Table({"title": scenario["title"]} if "title" in scenario else None, "", source=src)
    title = title or rep.string("title") or top.string("title") or "gelav report"
    dpi = rep.integer("dpi", default=dpi, minimum=30) or dpi
    from gelav._validation import check_int

    dpi = check_int("dpi", dpi, minimum=30)  # the argument too, not only the file's [report] dpi
    rep.check_unknown(("sections", "title", "dpi"))
    if workers is not None:
        workers = check_int("workers", workers, minimum=0)
    registry = {**_BUILTIN, **SECTIONS}
    if wanted is None:
        wanted = [n for n in SECTIONS if any(t in scenario for t in TRIGGERS.get(n, (n,)))]
    unknown = [n for n in wanted if n not in registry]
    if unknown:
        raise ScenarioError(f"{src}: unknown report section(s) {', '.join(map(repr, unknown))}; "
                            f"registered sections are {', '.join(map(repr, registry))}.")
    order = [n for n in ALWAYS if n not in wanted] + list(wanted)
    # Sections run in worker processes where they can (workers=): each is forked when its turn comes and
    # inherits what the report's process has imported and computed, so workers share the imports (SciPy,
    # Matplotlib, done once here) and only text, numbers and PNG bytes come back; the page is the same.
    done: dict[str, Any] = {}  # name -> section, or a worker's ticket
    pool = _workers(workers) if any(n not in ALWAYS for n in order) else None
    drawing: bool | None = None  # whether workers may draw figures (asked once, when the first needs it)
    import functools
    import gc
    import importlib

    freeze = gc.get_freeze_count() == 0  # (a caller's own frozen objects are left alone)
    # with workers, the sections start longest first (COST); the page keeps `order`
    starts = order if pool is None else [*(n for n in order if n in ALWAYS), *sorted(
        (n for n in order if n not in ALWAYS), key=lambda n: -COST.get(n, _COST))]
    try:
        if pool is not None:
            for name in (n for n in starts if n not in ALWAYS and not NEEDS.get(n, _BOTH)):  # SymPy only, say
                done[name] = pool.submit(functools.partial(_section, name, registry[name], scenario, dpi, draw=False))
            if any(NEEDS.get(n, _BOTH) == ("matplotlib",) for n in starts if n not in done and n not in ALWAYS):
                drawing = _prepare_workers()
                solvers = False
                for name in (n for n in starts if NEEDS.get(n, _BOTH) == ("matplotlib",) and n not in ALWAYS):
                    if not drawing or pool.idle() < 1:  # never wait here: the model section is next
                        break
                    done[name] = pool.submit(functools.partial(_section, name, registry[name], scenario, dpi))
                    if not solvers:  # while the first runs: what the next ones share
                        solvers = _prepare_solvers()
        statistics = [n for n in starts if n not in done and n not in ALWAYS and "scipy.stats" in NEEDS.get(n, _BOTH)]
        for name in starts:
            if name in done:
                continue
            if drawing is None and pool is not None and name not in ALWAYS:
                drawing = _prepare_workers()
            if pool is not None and name not in ALWAYS and drawing:
                if name in statistics and len(statistics) > 1:  # once here rather than in each of them
                    _gc_paused(lambda: importlib.import_module("scipy.stats"))()
                done[name] = pool.submit(functools.partial(_section, name, registry[name], scenario, dpi))
                continue
            if freeze:  # what earlier sections imported and made (SciPy, SymPy, Matplotlib: ~200,000 objects)
                gc.freeze()  # stays out of the collector's full passes, each of which would walk it all again
            # drawn to PNG (and closed) at once: a report with many sections never holds more than one
            # section's figures open (Matplotlib warns past 20, and the warning landed in a section's notes)
            done[name] = _section(name, registry[name], scenario, dpi)
        for name, got in done.items():
            if isinstance(got, int):  # a ticket: only handed out by a pool
                assert pool is not None
                sec = pool.result(got)
                if not NEEDS.get(name, _BOTH):  # run but not drawn there (they draw nothing)
                    sec = _with_figures(sec, _draw(name, sec.figures, dpi))
                done[name] = sec
        done = {name: done[name] for name in order}  # the page's order
    finally:
        if pool is not None:
            pool.close()
        if freeze:
            gc.unfreeze()

    # -- render ------------------------------------------------------------------
    versions = _versions()
    now = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    toc = "".join(f'<li><a href="#s-{esc(n)}">{esc(s.title)}</a>{" (skipped)" if s.status == "skipped" else ""}'
                  f'{" (error)" if s.status == "error" else ""}</li>' for n, s in done.items())
    body = []
    for name, s in done.items():
        parts = [f'<section id="s-{esc(name)}" data-status="{esc(s.status)}"><h2>{esc(s.title)}</h2>', s.html]
        for cap, png in s.figures:  # type: ignore[union-attr]  # drawn above: PNG bytes
            parts.append(figure_html(cap, png))
        key_numbers = s.table or s.numbers
        if key_numbers and s.status == "ok":
            parts.append(dict_table(key_numbers, caption="Key numbers", key="quantity", digits=5))
        for n in s.notes:
            parts.append(f'<div class="note">{esc(n)}</div>')
        parts.append(f'<p class="timing">Section run time {s.seconds:.2f} s.</p></section>')
        body.append("".join(parts))
    inputs = {k: v for k, v in scenario.items() if not str(k).startswith("_")}
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="gelav {esc(versions['gelav'])}">
<title>{esc(title)}</title><style>{_CSS}</style></head>
<body>
<h1>{esc(title)}</h1>
<p>Generated by gelav {esc(versions['gelav'])} on {esc(now)} from <code>{esc(Path(src).name)}</code>.
Everything on this page is embedded: it needs no network.</p>
<nav><ol>{toc}</ol></nav>
{''.join(body)}
<section id="s-inputs"><h2>Inputs</h2><p>The scenario as run:</p><pre class="inputs">{esc(_scenario_text(inputs))}</pre></section>
<footer>{dict_table(versions, caption="Software", key="package", value="version")}
<p>Total run time {_time.perf_counter() - t0:.2f} s.</p></footer>
<div id="gelav-status" data-figures-total="?" data-figures-ok="?" data-errors="?">figures not checked (scripts disabled)</div>
<script>{_STATUS_JS}</script>
</body></html>
"""
    return Report(title=title, sections=done, html=page, inputs=inputs, seconds=_time.perf_counter() - t0)


def render_report(scenario: Mapping[str, Any] | str | Path, path: str | Path, **kwargs: Any) -> Report:
    """Build the report of ``scenario`` and write it to ``path``."""
    r = build_report(scenario, **kwargs)
    r.write(path)
    return r
