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
"""

from __future__ import annotations

import base64
import datetime as _dt
import html as _html
import io
import math
import platform
import time as _time
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gelav.scenario import ScenarioError
from gelav.scenario import Section as _Table

__all__ = [
    "SECTIONS",
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
    figures : tuple of (caption, figure)
        Matplotlib figures or PNG bytes; embedded as base64 images.
    numbers : dict
        Key results (name -> number or short text), shown as a table and
        returned by ``gelav report --json``.
    notes : tuple of str
        Caveats (warnings raised while running, skipped parts).
    seconds : float
        Run time (filled in by :func:`build_report`).
    status : str
        ``"ok"``, ``"skipped"`` or ``"error"``.
    """

    title: str
    html: str = ""
    figures: tuple[tuple[str, Any], ...] = ()
    numbers: dict[str, Any] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    seconds: float = 0.0
    status: str = "ok"


#: Brief name used by the brief; the scenario module already has a ``Section``.
Section = ReportSection

SectionFunc = Callable[[Mapping[str, Any]], ReportSection]


# ---------------------------------------------------------------------------
# HTML helpers
# ---------------------------------------------------------------------------
def esc(x: Any) -> str:
    """HTML-escape ``str(x)``."""
    return _html.escape(str(x), quote=True)


def fmt(v: Any, digits: int = 6) -> str:
    """Numbers to short text (inf as ∞)."""
    if isinstance(v, bool):
        return "yes" if v else "no"
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
    return f"{f:.{digits}g}"


def html_table(columns: Sequence[str], rows: Sequence[Sequence[Any]], *, caption: str | None = None,
               digits: int = 6) -> str:
    """An HTML table (cells escaped; numbers formatted to ``digits`` significant digits)."""
    head = "".join(f"<th>{esc(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{esc(fmt(c, digits))}</td>" for c in r) + "</tr>" for r in rows)
    cap = f"<caption>{esc(caption)}</caption>" if caption else ""
    return f'<table class="data">{cap}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def dict_table(d: Mapping[str, Any], *, caption: str | None = None, key: str = "item", value: str = "value") -> str:
    """A two-column table of a flat dict (nested values written as text)."""
    return html_table([key, value], [[k, v if not isinstance(v, (dict, list, tuple)) else str(v)] for k, v in d.items()],
                      caption=caption)


def figure_png(fig: Any, *, dpi: int = 110) -> bytes:
    """PNG bytes of a Matplotlib figure (the figure is closed)."""
    if isinstance(fig, (bytes, bytearray)):
        return bytes(fig)
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)
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


def _process_equation(process: Any) -> str:
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
    stat = proc.stationary()
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
    return ReportSection(title=f"Model: {type(proc).__name__}", html="".join(parts), numbers=numbers, notes=notes)


def section_stress(scenario: Mapping[str, Any]) -> ReportSection:
    """Stress test P(L_T < c | L_0 = x0): exact law, Fokker–Planck PDE (and Monte Carlo when asked)."""
    src = _source(scenario)
    sec = _Table(scenario.get("stress"), "stress", source=src)
    x0 = float(sec.number("x0", default=-0.5) or 0.0)
    horizon = float(sec.positive("horizon", default=2.0) or 2.0)
    c = float(sec.number("threshold", default=-0.5) or 0.0)
    direction = str(sec.choice("direction", ("below", "above"), default="below"))
    methods = sec.string_list("methods", default=None)
    paths = int(sec.integer("paths", default=200_000, minimum=100) or 200_000)
    seed = int(sec.integer("seed", default=0, minimum=0) or 0)
    cells = int(sec.integer("cells", default=800, minimum=16) or 800)
    sec.check_unknown(("x0", "horizon", "threshold", "direction", "methods", "paths", "seed", "cells"))
    proc = _process(scenario)
    below = direction == "below"
    sym = "&lt;" if below else "&gt;"
    figures: list[tuple[str, Any]] = []
    notes: list[str] = []
    rows: list[list[Any]] = []
    numbers: dict[str, Any] = {}
    from gelav.stress import METHODS, stress_test

    if methods is None:
        methods = [m for m in ("analytic", "pde", "mc") if m in METHODS]
        if not getattr(proc, "has_transition", False):
            methods = ["pde"]
    bad = [m for m in methods if m not in METHODS]
    if bad:
        raise ScenarioError(f"{src}: [stress] field `methods` = {methods!r}: expected items among "
                            + ", ".join(repr(m) for m in METHODS) + ".")
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = stress_test(proc, float(x0), float(horizon), float(c), direction=str(direction), methods=methods,
                          paths=int(paths), seed=seed, cells=int(cells))
    notes += [f"{w.category.__name__}: {w.message}" for w in caught]
    for name, r in res.results.items():
        err = "exact" if name == "analytic" else (f"± {r.error:.2e} (standard error)" if r.error_kind == "stderr"
                                                  else f"≈ {r.error:.1e} (refinement estimate)")
        rows.append([name, r.probability, f"{r.probability:.4%}", err, f"{r.seconds * 1e3:.1f} ms"])
        numbers[f"P[{name}]"] = r.probability
    diag: dict[str, Any] = {}
    if res.density is not None:
        figures.append(("Density at the horizon (PDE, exact law dashed; threshold region shaded) and fan chart",
                        res.plot()))
        diag = res.density.diagnostics
    html = [
        f"<p>Starting from L<sub>0</sub> = {fmt(x0)}, the probability that the state ends "
        f"{'below' if below else 'above'} c = {fmt(c)} after T = {fmt(horizon)} years:</p>",
        equation(f"P(L<sub>T</sub> {sym} c | L<sub>0</sub> = x<sub>0</sub>) = "
                 f"∫<sub>{'−∞' if below else 'c'}</sub><sup>{'c' if below else '∞'}</sup> ρ(T, x)&#8202;dx"),
        "<p>computed from the exact transition law (where known), by the Fokker–Planck PDE solved as the master "
        "equation dp/dt = Q<sup>⊤</sup>p of the Scharfetter–Gummel chain with Crank–Nicolson/Rannacher steps "
        "on three nested grids with Richardson extrapolation (the error estimate is the difference of the "
        "two extrapolations over 15), by Monte Carlo with the exact sampler (± one standard error) and, "
        "when asked, on a trinomial lattice.</p>",
        html_table(["method", "probability", "percent", "error", "time"], rows,
                   caption=f"P(L_T {'<' if below else '>'} {fmt(c)} | L_0 = {fmt(x0)}), T = {fmt(horizon)} y"),
    ]
    if proc.has_transition and type(proc).__name__ == "OrnsteinUhlenbeck":
        m, v = proc.conditional_mean(x0, horizon), proc.conditional_var(x0, horizon)
        z = (c - m) / math.sqrt(v)
        html.append(f"<p>Exact law: mean {fmt(m, 5)}, standard deviation {fmt(math.sqrt(v), 5)}, "
                    f"z = (c − mean)/sd = {fmt(z, 4)}.</p>")
        numbers.update({"conditional mean": m, "conditional sd": math.sqrt(v), "z": z})
    if diag:
        keep: dict[str, Any] = {k: diag[k] for k in ("n_nodes", "n_steps", "scheme", "mass_balance_error", "min_mass",
                                     "boundary_mass", "seconds") if k in diag}
        html.append(dict_table(keep, caption="Fokker–Planck solver diagnostics", key="diagnostic"))
    return ReportSection(title="Stress test (Fokker–Planck)", html="".join(html), figures=tuple(figures),
                         numbers=numbers, notes=tuple(notes))


def section_calibration(scenario: Mapping[str, Any]) -> ReportSection:
    """OU calibration: re-fit the data file when present, else show the saved result."""
    src = _source(scenario)
    sec = _Table(scenario.get("calibration"), "calibration", source=src)
    data = sec.get("data")
    date_column = sec.get("date_column")
    value_column = sec.get("value_column")
    level = float(sec.number("level", default=0.95, check=lambda v: 0 < v < 1, expected="a number in (0, 1)") or 0.95)
    saved = sec.get("result")
    sec.check_unknown(("data", "date_column", "value_column", "level", "result"))
    path = None
    if data is not None:
        path = Path(str(data))
        if not path.is_absolute() and "_path" in scenario:
            path = Path(scenario["_path"]).parent / path
    if path is None or not path.exists():
        if not isinstance(saved, Mapping):
            raise ScenarioError(f"{src}: [calibration] field `data` = {data!r}: expected an existing CSV or "
                                "Parquet file (relative paths are relative to the scenario file).")
        proc = scenario.get("process", {})
        rows = [[k, proc.get(k), saved.get(f"{k}_stderr"), str(saved.get(f"{k}_ci"))] for k in ("kappa", "mean", "sigma")]
        saved_html = ("<p>The data file is not available; the estimates saved in the scenario are shown.</p>"
                      + html_table(["parameter", "estimate", "std. error", "interval"], rows))
        return ReportSection(title="Calibration (saved)", html=saved_html,
                             numbers={k: proc.get(k) for k in ("kappa", "mean", "sigma")},
                             notes=(f"data file {str(data)!r} not found",) if data else ())
    from gelav.calibrate import fit_ou, read_series

    series = read_series(path, date_column=date_column, value_column=value_column)
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit = fit_ou(series, level=level)
    se, ci = fit.stderr, fit.conf_int
    lv = f"{fit.level:.0%} interval"
    rows = [
        ["κ mean reversion [1/y]", fit.kappa, se["kappa"], f"[{fmt(ci['kappa'][0], 4)}, {fmt(ci['kappa'][1], 4)}]"],
        ["L̄ long-run level", fit.mean, se["mean"], f"[{fmt(ci['mean'][0], 4)}, {fmt(ci['mean'][1], 4)}]"],
        ["σ volatility [1/√y]", fit.sigma, se["sigma"], f"[{fmt(ci['sigma'][0], 4)}, {fmt(ci['sigma'][1], 4)}]"],
        ["half-life ln2/κ [y]", fit.half_life, se["half_life"],
         f"[{fmt(ci['half_life'][0], 4)}, {fmt(ci['half_life'][1], 4)}]"],
        ["stationary sd σ/√(2κ)", fit.stationary_sd, se["stationary_sd"],
         f"[{fmt(ci['stationary_sd'][0], 4)}, {fmt(ci['stationary_sd'][1], 4)}]"],
    ]
    g = fit.goodness_of_fit
    gof = [[name, g[k]["statistic"], g[k]["pvalue"]] for name, k in
           (("Ljung–Box (autocorrelation)", "ljung_box"), ("Kolmogorov–Smirnov (normality)", "ks"),
            ("Jarque–Bera (normality)", "jarque_bera"))]
    html: list[str] = [
        f"<p>Data: <code>{esc(path.name)}</code>, column <code>{esc(series.value_column)}</code> against "
        f"<code>{esc(series.date_column)}</code>: {fit.n_obs} observations over {fmt(fit.span, 4)} years "
        f"({'irregular' if fit.diagnostics['irregular_steps'] else 'regular'} steps). "
        "Exact maximum likelihood on the transition law with unequal steps Δ<sub>i</sub>:</p>",
        equation("L<sub>i+1</sub> = L̄ + (L<sub>i</sub> − L̄)e<sup>−κΔ<sub>i</sub></sup> + ε<sub>i</sub>, &nbsp; "
                 "ε<sub>i</sub> ~ N(0, σ<sup>2</sup>(1 − e<sup>−2κΔ<sub>i</sub></sup>)/(2κ))"),
        html_table(["parameter", "estimate", "std. error", lv], rows, caption="Estimates (observed information; "
                   "profile-likelihood intervals with small-sample adjustment)"),
        html_table(["test", "statistic", "p-value"], gof,
                   caption="Standardised residuals: " + ("no test rejects at 1 %" if fit.adequate
                                                         else "at least one test rejects at 1 %")),
    ]
    numbers = {"kappa": fit.kappa, "mean": fit.mean, "sigma": fit.sigma, "half_life": fit.half_life,
               "stationary_sd": fit.stationary_sd, "n_obs": fit.n_obs}
    notes = list(fit.notes) + [f"{w.category.__name__}: {w.message}" for w in caught]
    return ReportSection(title="Calibration of the OU model", html="".join(html),
                         figures=(("Data with fitted level and stationary band; residuals; QQ plot; residual "
                                   "autocorrelation", fit.plot()),), numbers=numbers, notes=tuple(notes))


def _flatten(obj: Any, prefix: str = "", out: dict[str, Any] | None = None, depth: int = 0) -> dict[str, Any]:
    """Scalar leaves of a JSON object (short numeric lists as text), for the key-numbers table."""
    out = {} if out is None else out
    if isinstance(obj, Mapping):
        for k, v in obj.items():
            if depth < 3:
                _flatten(v, f"{prefix}.{k}" if prefix else str(k), out, depth + 1)
    elif isinstance(obj, list):
        if 0 < len(obj) <= 4 and all(isinstance(v, (int, float, str)) or v is None for v in obj):
            out[prefix] = ", ".join(fmt(v) for v in obj)
    elif isinstance(obj, (int, float, str, bool)) or obj is None:
        if not (isinstance(obj, str) and len(obj) > 120):
            out[prefix] = obj
    return out


@dataclass(frozen=True)
class CommandSection:
    """A report section that runs a ``gelav`` sub-command on the scenario's table.

    Every command accepts ``--config FILE --json --plot PATH``, so a section is
    the command's JSON (key numbers) and its figures, plus the equation it solves.
    """

    command: str
    table: str
    title: str
    equation: str
    description: str
    plot: str = "dir"  # "dir": --plot takes a folder; "file": --plot takes an image file
    extra_args: tuple[str, ...] = ()
    max_numbers: int = 40

    def __call__(self, scenario: Mapping[str, Any]) -> ReportSection:
        import importlib.util
        import json
        import tempfile

        from click.testing import CliRunner

        from gelav.cli import COMMANDS
        from gelav.scenario import dump_toml

        target = COMMANDS.get(self.command)
        if target is None or importlib.util.find_spec(target.split(":")[0]) is None:
            raise SectionUnavailable(f"the `gelav {self.command}` command is not installed")
        module, attr = target.split(":")
        import importlib

        cmd = getattr(importlib.import_module(module), attr)
        with tempfile.TemporaryDirectory(prefix="gelav_report_") as tmp:
            cfg = Path(tmp) / "scenario.toml"
            cfg.write_text(dump_toml(scenario), encoding="utf-8")
            figdir = Path(tmp) / "figures"
            figdir.mkdir()
            plot_arg = str(figdir) if self.plot == "dir" else str(figdir / f"{self.table}.png")
            args = ["--config", str(cfg), "--json", "--plot", plot_arg, *self.extra_args]
            res = CliRunner().invoke(cmd, args, catch_exceptions=True)
            if res.exit_code != 0:
                msg = (res.output or "").strip() or repr(res.exception)
                raise RuntimeError(f"`gelav {self.command} {' '.join(args[2:])}` exited with code {res.exit_code}: {msg}")
            text = res.stdout if hasattr(res, "stdout") else res.output
            start = text.find("{")
            data = json.loads(text[start:]) if start >= 0 else {}
            figures = tuple((f"{self.title}: {p.stem.replace('_', ' ')}", p.read_bytes())
                            for p in sorted(figdir.rglob("*.png")))
        flat = _flatten(data)
        numbers = dict(list(flat.items())[: self.max_numbers])
        body: list[str] = [f"<p>{self.description}</p>", equation(self.equation)]
        body.append(f"<details><summary>Full output of <code>gelav {esc(self.command)} --json</code></summary>"
                    f'<pre class="inputs">{esc(json.dumps(data, indent=1)[:200_000])}</pre></details>')
        notes = (f"{len(flat) - self.max_numbers} more numbers in the full output",) if len(flat) > self.max_numbers else ()
        return ReportSection(title=self.title, html="".join(body), figures=figures, numbers=numbers, notes=notes)


def section_ito(scenario: Mapping[str, Any]) -> ReportSection:
    """Itô calculus in SymPy (``gelav ito``): Itô's lemma, generator, Fokker–Planck and Feynman–Kac PDEs."""
    import importlib.util
    import json

    from click.testing import CliRunner

    if importlib.util.find_spec("gelav.cli.ito") is None:
        raise SectionUnavailable("the `gelav ito` command is not installed")
    from gelav.cli.ito import ito

    src = _source(scenario)
    sec = _Table(scenario.get("ito"), "ito", source=src)
    args: list[str] = []
    for key in ("drift", "diffusion", "transform", "rate", "source"):
        v = sec.get(key)
        if v is None:
            if key in ("drift", "diffusion"):
                raise ScenarioError(f"{src}: [ito] is missing the field `{key}` (an expression in t and x).")
            continue
        if not isinstance(v, str):
            raise ScenarioError(f"{src}: [ito] field `{key}` = {v!r}: expected an expression as a string.")
        args += [f"--{key}", v]
    sec.check_unknown(("drift", "diffusion", "transform", "rate", "source"))
    res = CliRunner().invoke(ito, [*args, "--json"], catch_exceptions=True)
    if res.exit_code != 0:
        raise RuntimeError(f"`gelav ito` exited with code {res.exit_code}: {(res.output or '').strip()}")
    data = json.loads(res.output[res.output.find("{"):])
    rows = []
    for key, label in (("ito_lemma", "Itô's lemma"), ("generator", "generator"), ("fokker_planck", "Fokker–Planck"),
                       ("feynman_kac", "Feynman–Kac")):
        part = data.get(key)
        if isinstance(part, Mapping):
            text = part.get("text") or " = ".join(str(part[k]) for k in ("lhs", "rhs") if k in part) or \
                " ".join(f"{k}: {v}" for k, v in part.items() if k in ("drift", "diffusion"))
            rows.append([label, text])
    html = ("<p>Symbolic Itô calculus (SymPy) for the process "
            f"dX = ({esc(sec.get('drift'))}) dt + ({esc(sec.get('diffusion'))}) dW:</p>"
            + html_table(["result", "expression"], rows)
            + f'<details><summary>Full output</summary><pre class="inputs">{esc(json.dumps(data, indent=1))}</pre></details>')
    return ReportSection(title="Symbolic Itô calculus", html=html, numbers={})


#: table name -> section function; the report runs them in the order of this dict
SECTIONS: dict[str, SectionFunc] = {
    "calibration": section_calibration,
    "stress": section_stress,
    "feynman_kac": CommandSection(
        "feynman-kac", "feynman_kac", "Feynman–Kac: expected selling price (seed 002)",
        "∂<sub>t</sub>u + μy&#8202;∂<sub>y</sub>u + ½σ<sub>0</sub><sup>2</sup>y<sup>2</sup>∂<sub>y</sub><sup>2</sup>u "
        "− r&#8202;u = 0, &nbsp; u(T, y) = g(y), &nbsp; u = g at the limits",
        "The value of a payoff received at the horizon or when a limit price is hit, solved backwards on the "
        "generator (Crank–Nicolson with Rannacher start) and cross-checked with the MATLAB-compatible pdepe.",
    ),
    "exit_time": CommandSection(
        "exit-time", "exit_time", "Exit times and hitting probabilities",
        "½σ<sup>2</sup>(x)y″ + b(x)y′ = −1 on (a, b), y(a) = y(b) = 0; &nbsp; "
        "½σ<sup>2</sup>h″ + b&#8202;h′ = 0, h(a) = 0, h(b) = 1",
        "Expected time to leave (a, b) and the probability of leaving through b, solved as Q&#8202;y = −1 and "
        "Q&#8202;h = 0 on the generator, with each end classified (Feller) and infinite answers explained.",
        plot="file",
    ),
    "trinomial": CommandSection(
        "trinomial", "trinomial", "Trinomial walk and its Gaussian limit (seed 003)",
        "∂<sub>t</sub>P = C<sup>2</sup>∂<sub>y</sub><sup>2</sup>P, &nbsp; C<sup>2</sup> = αδy<sup>2</sup>/δt, "
        "&nbsp; y<sub>t</sub> ~ N(x<sub>0</sub>, 2C<sup>2</sup>t)",
        "Walks that move ±δy with probability α and stay with 1 − 2α, against the exact lattice law and the "
        "Gaussian limit of the forward equation.",
        plot="file",
    ),
    "mckean_vlasov": CommandSection(
        "mckean-vlasov", "mckean_vlasov", "McKean–Vlasov herding (seed 001)",
        "dL = κ(L̄ − L)dt + λ(E[L] − L)dt + σ&#8202;dW, &nbsp; v′ = −2(κ + λ)v + σ<sup>2</sup>",
        "Interacting particles against the exact Gaussian law and the nonlinear Fokker–Planck equation.",
        plot="file",
    ),
    "ito": section_ito,
    "mfg": CommandSection(
        "mfg", "mfg", "Mean-field game of LP exits (equilibrium)",
        "−∂<sub>t</sub>V = max(ℋV − ρV + f, π − V) (HJB obstacle problem); &nbsp; "
        "∂<sub>t</sub>μ = ℒ*μ − (exits) μ; &nbsp; π = π(t, L; μ<sub>t</sub>)",
        "The backward obstacle problem gives the exit region, the forward equation the distribution of LPs "
        "still holding, and the distribution the secondary-market price; the fixed point is the equilibrium.",
        extra_args=("--quiet",),
    ),
}

#: sections always included (first)
ALWAYS: tuple[str, ...] = ("model",)
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
        p.write_text(self.html, encoding="utf-8")
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


def _run_section(name: str, func: SectionFunc, scenario: Mapping[str, Any]) -> ReportSection:
    import dataclasses
    import warnings

    t0 = _time.perf_counter()
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            s = func(scenario)
        extra = tuple(f"{w.category.__name__}: {w.message}" for w in caught
                      if not issubclass(w.category, (DeprecationWarning, PendingDeprecationWarning)))
        return dataclasses.replace(s, seconds=_time.perf_counter() - t0, notes=tuple(s.notes) + extra)
    except (SectionUnavailable, ImportError, ModuleNotFoundError) as exc:
        return ReportSection(title=name.replace("_", " ").capitalize(), status="skipped",
                             html=f'<p class="skipped">Not run: {esc(exc)}</p>', seconds=_time.perf_counter() - t0)
    except ScenarioError:
        raise
    except Exception as exc:
        tb = traceback.format_exception_only(type(exc), exc)
        return ReportSection(title=name.replace("_", " ").capitalize(), status="error",
                             html=f'<div class="error">{esc("".join(tb).strip())}</div>',
                             seconds=_time.perf_counter() - t0)


def build_report(scenario: Mapping[str, Any] | str | Path, *, sections: Sequence[str] | None = None,
                 dpi: int = 110, title: str | None = None) -> Report:
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
    title = title or rep.get("title") or scenario.get("title") or "gelav report"
    dpi = rep.integer("dpi", default=dpi, minimum=30) or dpi
    from gelav._validation import check_int

    dpi = check_int("dpi", dpi, minimum=30)  # the argument too, not only the file's [report] dpi
    rep.check_unknown(("sections", "title", "dpi"))
    registry = {**_BUILTIN, **SECTIONS}
    if wanted is None:
        wanted = [n for n in SECTIONS if n in scenario]
    unknown = [n for n in wanted if n not in registry]
    if unknown:
        raise ScenarioError(f"{src}: unknown report section(s) {', '.join(map(repr, unknown))}; "
                            f"registered sections are {', '.join(map(repr, registry))}.")
    order = [n for n in ALWAYS if n not in wanted] + list(wanted)
    done: dict[str, ReportSection] = {}
    for name in order:
        done[name] = _run_section(name, registry[name], scenario)

    # -- render ------------------------------------------------------------------
    versions = _versions()
    now = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    toc = "".join(f'<li><a href="#s-{esc(n)}">{esc(s.title)}</a>{" (skipped)" if s.status == "skipped" else ""}'
                  f'{" (error)" if s.status == "error" else ""}</li>' for n, s in done.items())
    body = []
    for name, s in done.items():
        parts = [f'<section id="s-{esc(name)}" data-status="{esc(s.status)}"><h2>{esc(s.title)}</h2>', s.html]
        for cap, fig in s.figures:
            parts.append(figure_html(cap, figure_png(fig, dpi=dpi)))
        if s.numbers and s.status == "ok":
            parts.append(dict_table(s.numbers, caption="Key numbers", key="quantity"))
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
<p>Generated by gelav {esc(versions['gelav'])} on {esc(now)} from <code>{esc(src)}</code>.
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
