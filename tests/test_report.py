"""HTML reports: sections from a scenario, self-contained page, rendered in a real browser."""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import numpy as np
import pytest
from click.testing import CliRunner

from gelav.report import SECTIONS, ReportSection, build_report, html_table
from gelav.scenario import ScenarioError

SCENARIO = """
title = "Seed 000 stress test"

[process]
kind = "ornstein-uhlenbeck"
kappa = 0.45
mean = 1.0
sigma = 0.32

[calibration]
data = "series.csv"

[stress]
x0 = -0.5
horizon = 2.0
threshold = -0.5
methods = ["analytic", "pde", "mc"]
paths = 100000
seed = 1
"""


def _series_csv(path, n=300, seed=3):
    rng = np.random.default_rng(seed)
    k, m, s, dt = 0.45, 1.0, 0.32, 7 / 365.25
    x = np.empty(n)
    x[0] = m
    for i in range(n - 1):
        x[i + 1] = m + (x[i] - m) * np.exp(-k * dt) + s * np.sqrt(-np.expm1(-2 * k * dt) / (2 * k)) * rng.standard_normal()
    d0 = np.datetime64("2015-01-02")
    lines = ["date,liquidity"] + [f"{d0 + np.timedelta64(7 * i, 'D')},{x[i]:.6f}" for i in range(n)]
    path.write_text("\n".join(lines) + "\n")


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    d = tmp_path_factory.mktemp("report")
    _series_csv(d / "series.csv")
    (d / "scenario.toml").write_text(SCENARIO)
    rep = build_report(d / "scenario.toml")
    out = rep.write(d / "report.html")
    return rep, out


def test_report_runs_each_table_and_matches_the_seed(rendered):
    rep, _out = rendered
    assert list(rep.sections) == ["model", "calibration", "stress"]
    assert rep.failed == []
    st = rep.sections["stress"].numbers
    exact = 0.0019356
    assert st["P[analytic]"] == pytest.approx(exact, abs=5e-8)
    assert abs(st["P[pde]"] - st["P[analytic]"]) < 2e-5  # second-order PDE at 800 cells: ~1e-6
    # Monte Carlo agrees within 4 standard errors (p(1-p)/N with N = 1e5)
    se = np.sqrt(exact * (1 - exact) / 1e5)
    assert abs(st["P[mc]"] - exact) < 4 * se
    cal = rep.sections["calibration"].numbers
    assert cal["n_obs"] == 300 and cal["kappa"] > 0


def test_page_is_self_contained(rendered):
    _rep, out = rendered
    html = out.read_text()
    assert html.startswith("<!DOCTYPE html>")
    # no external resources: every src/href is a data URI or an in-page anchor
    for attr in re.findall(r'(?:src|href)="([^"]*)"', html):
        assert attr.startswith(("data:", "#")), attr
    assert "http://" not in html.replace("http://www.w3.org", "") and "https://" not in html
    assert len(re.findall(r'<img class="gelav-figure"', html)) == 2  # calibration + stress figures
    assert "gelav 0.1.0" in html and "0.00193" in html
    assert "∂<sub>t</sub>ρ" in html  # the Fokker–Planck equation is written out
    assert "[process]" in html  # inputs echoed


def test_sections_registry_and_errors(tmp_path):
    assert {"calibration", "stress"} <= set(SECTIONS)
    with pytest.raises(ScenarioError, match=r"unknown report section.*registered sections are"):
        build_report({"process": {"kind": "ou"}}, sections=["nope"])
    with pytest.raises(ScenarioError, match=r"\[stress\] field `horizon` = -1"):
        build_report({"stress": {"horizon": -1}})
    with pytest.raises(ScenarioError, match=r"\[stress\] has unknown field\(s\) horizn"):
        build_report({"stress": {"horizn": 2}})
    with pytest.raises(ScenarioError, match=r"\[calibration\] field `data`"):
        build_report({"calibration": {"data": str(tmp_path / "missing.csv")}})
    with pytest.raises(ScenarioError, match=r"top-level field `title` = 3: expected a string"):
        build_report({"title": 3})  # was printed as the page's title
    with pytest.raises(ScenarioError, match=r"\[report\] field `title` = \['a'\]: expected a string"):
        build_report({"report": {"title": ["a"]}})

    def boom(scenario):
        raise RuntimeError("solver exploded")

    def extra(scenario):
        return ReportSection(title="Extra", html=html_table(["a", "b"], [[1, 2.5]]), numbers={"answer": 42})

    SECTIONS["boom"] = boom
    SECTIONS["extra"] = extra
    try:
        rep = build_report({"boom": {}, "extra": {}})
    finally:
        del SECTIONS["boom"], SECTIONS["extra"]
    assert rep.failed == ["boom"]
    assert "solver exploded" in rep.html and rep.sections["extra"].numbers == {"answer": 42}


def test_cli_report_json_and_exit_codes(tmp_path):
    from gelav.cli import main

    _series_csv(tmp_path / "series.csv")
    (tmp_path / "s.toml").write_text(SCENARIO.replace("paths = 100000", "paths = 1000").replace(
        '"analytic", "pde", "mc"', '"analytic", "pde"'))
    r = CliRunner().invoke(main, ["report", "--config", str(tmp_path / "s.toml"), "-o", str(tmp_path / "r.html"),
                                  "--json", "--plot", str(tmp_path / "figs")])
    assert r.exit_code == 0, r.output
    import json

    out = json.loads(r.output)
    assert out["sections"]["stress"]["status"] == "ok" and out["failed"] == []
    assert len(list((tmp_path / "figs").glob("*.png"))) == 2
    r = CliRunner().invoke(main, ["report", "--config", str(tmp_path / "missing.toml")])
    assert r.exit_code == 2 and "does not exist" in r.output
    # regression: --dpi 0 ran every section, then failed in Matplotlib with "dpi must be positive"
    r = CliRunner().invoke(main, ["report", "--config", str(tmp_path / "s.toml"), "-o", str(tmp_path / "r.html"),
                                  "--dpi", "0"])
    assert r.exit_code == 2 and "`dpi` must be >= 30" in r.output


def _chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        p = shutil.which(name)
        if p:
            return p
    return None


def _require_chromium() -> str:
    """Chromium's path; a missing browser fails in CI (where .ci/run installs it) and skips elsewhere."""
    exe = _chromium()
    if exe is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("chromium is required in CI (apt-get install -y chromium)")
        pytest.skip("chromium not installed")
    return exe


def _headless(exe: str, tmp_path) -> list[str]:
    """Headless Chromium with no network traffic of its own and a fresh profile."""
    return [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            f"--user-data-dir={tmp_path / 'profile'}"]


def _dump_dom(exe: str, page, tmp_path) -> str:
    """The page's DOM after its scripts ran."""
    cmd = [*_headless(exe, tmp_path), "--virtual-time-budget=5000", "--dump-dom", page.as_uri()]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120).stdout


@pytest.mark.browser
def test_report_renders_in_headless_chromium(rendered, tmp_path):
    exe = _require_chromium()
    _rep, out = rendered
    dom = _dump_dom(exe, out, tmp_path)
    m = re.search(r'<div id="gelav-status" data-figures-total="(\d+)" data-figures-ok="(\d+)" data-errors="(\d+)"', dom)
    assert m, dom[-2000:]
    total, ok, errors = map(int, m.groups())
    assert total == 2 and ok == total and errors == 0
    # the numbers are in the rendered page
    assert "0.00193" in dom and "Stress test (Fokker–Planck)" in dom
    shot = tmp_path / "page.png"
    subprocess.run([*_headless(exe, tmp_path), "--virtual-time-budget=5000", f"--screenshot={shot}",
                    "--window-size=1200,3000", out.as_uri()],
                   capture_output=True, timeout=120)
    assert shot.exists() and shot.stat().st_size > 10_000


ALL_SECTIONS = """
title = "Every section"

[process]
kind = "ornstein-uhlenbeck"
kappa = 0.45
mean = 1.0
sigma = 0.32

[stress]
methods = ["analytic", "pde"]

[feynman_kac]
n_cells = 60
n_steps = 60
pdepe = false

[exit_time]
a = -0.5
b = 2.5
x0 = 1.0

[trinomial]
paths = 1000
steps = 50

[mckean_vlasov]
particles = 500
systems = 3
steps = 50
cells = 100

[ito]
drift = "kappa*(theta - x)"
diffusion = "sigma"
transform = "exp(x)"

[mfg]
preset = "calm"

[mfg.numerics]
n_cells = 80
n_steps = 40

[calibration]
data = "series.csv"
model = ["ou", "cir", "gbm"]

[premium]
data = "trades.csv"

[exit_boundary]
fund_life = 6.0
cells = 60
steps = 60

[metrics]
data = "fund.csv"

[jensen]

[[funds]]
name = "Buyout IX"
nav = 100.0
remaining_life = 5.87

[portfolio]
scenario = "covid"
horizon = 1.0
cells = 150
steps = 60
equilibrium = true

[lav]
cells = 60
steps = 4

[welfare]
preset = "fire-sale"
n_cells = 16
n_steps = 12
epsilon = 0.01
"""


@pytest.fixture(scope="module")
def all_sections(tmp_path_factory):
    from gelav.datasets import fund_cashflows, secondary_trades

    d = tmp_path_factory.mktemp("all")
    _series_csv(d / "series.csv")
    secondary_trades(200, seed=2).to_csv(d / "trades.csv")
    fund_cashflows(seed=3).to_csv(d / "fund.csv")
    (d / "all.toml").write_text(ALL_SECTIONS)
    rep = build_report(d / "all.toml")
    return rep, rep.write(d / "all.html")


@pytest.mark.slow
def test_every_registered_section_runs(all_sections):
    """Each section of the registry runs on a small scenario and contributes numbers and figures
    (sections whose solver is not installed are reported as skipped, never as errors)."""
    rep, _ = all_sections
    assert rep.failed == [], {k: s.html[:500] for k, s in rep.sections.items() if s.status == "error"}
    ran = [k for k, s in rep.sections.items() if s.status == "ok"]
    assert {"model", "stress"} <= set(ran)
    for name in ran:
        if name == "ito":  # symbolic: expressions, no figures
            assert "Derivative(p(t, x), t)" in rep.sections[name].html
        elif name != "model":
            assert rep.sections[name].figures, name
            assert rep.sections[name].numbers, name


@pytest.mark.browser
@pytest.mark.slow
def test_full_report_renders_every_figure_in_chromium(all_sections, tmp_path):
    exe = _require_chromium()
    rep, out = all_sections
    n_fig = sum(len(s.figures) for s in rep.sections.values())
    dom = _dump_dom(exe, out, tmp_path)
    m = re.search(r'data-figures-total="(\d+)" data-figures-ok="(\d+)" data-errors="(\d+)"', dom)
    assert m and tuple(map(int, m.groups())) == (n_fig, n_fig, 0), dom[-1000:]


# -- the page reads well: no paths, no dotted JSON keys, no rounding noise, key numbers, every figure ----------
_PATH = re.compile(r"(?:[A-Za-z]:)?(?:[\\/][\w.-]+){2,}")  # /tmp/x/y, C:\a\b
_DOTTED = re.compile(r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+)*(?:\.[a-z][a-z0-9_]*){2,}\b")  # boundaries.lower.scale_finite
_NOISE = re.compile(r"\de-(?:1[3-9]|[2-9]\d)\b")  # -1.09979e-17


def _page_problems(dom: str) -> list[str]:
    """What a committee reader should not see in the rendered page."""
    body = re.sub(r"<(script|style)\b.*?</\1>", " ", dom, flags=re.S)
    body = re.sub(r'<pre class="inputs">.*?</pre>', " ", body, flags=re.S)  # the scenario as typed is echoed
    text = _html_text(body)
    problems = [f"path {m!r}" for m in _PATH.findall(text)]
    problems += [f"dotted key {m!r}" for m in _DOTTED.findall(text)]
    problems += [f"rounding noise {m!r}" for m in _NOISE.findall(text)]
    for sec in re.findall(r'<section id="s-(\w+)" data-status="ok">(.*?)</section>', body, flags=re.S):
        name, html = sec
        tables = re.findall(r"<caption>Key numbers</caption>(.*?)</table>", html, flags=re.S)
        if name != "ito" and not tables:
            problems.append(f"section {name}: no key-number table")
        for t in tables:
            cells = re.findall(r"<td>(.*?)</td>", t, flags=re.S)
            if not cells or any(not c.strip() for c in cells):
                problems.append(f"section {name}: empty key-number table or cell")
    return problems


def _figure_status(dom: str) -> tuple[int, int, int]:
    """(figures, figures decoded, script errors) that the page's status script wrote into the DOM."""
    m = re.search(r'data-figures-total="(\d+)" data-figures-ok="(\d+)" data-errors="(\d+)"', dom)
    assert m, dom[-1000:]
    total, ok, errors = map(int, m.groups())
    return total, ok, errors


def _html_text(html: str) -> str:
    import html as _h

    return _h.unescape(re.sub(r"<[^>]+>", " ", html))


def test_page_checks_catch_paths_keys_noise_and_empty_tables():
    """The checks below can fail: each defect of the old report is caught."""
    bad = ('<section id="s-mfg" data-status="ok"><p>figure at /tmp/gelav_report_x/figures/a.png</p>'
           '<table class="data"><caption>Key numbers</caption><tr><td>boundaries.lower.scale_finite</td>'
           '<td>-1.09979e-17</td></tr></table></section><section id="s-stress" data-status="ok"></section>')
    found = " ".join(_page_problems(bad))
    assert "path" in found and "dotted key" in found and "rounding noise" in found
    assert "section stress: no key-number table" in found


@pytest.mark.browser
def test_rendered_page_reads_well_in_chromium(rendered, tmp_path):
    exe = _require_chromium()
    _rep, out = rendered
    dom = _dump_dom(exe, out, tmp_path)
    assert _page_problems(dom) == []
    m = re.search(r'data-figures-total="(\d+)" data-figures-ok="(\d+)" data-errors="(\d+)"', dom)
    assert m and int(m.group(1)) == int(m.group(2)) == 2 and m.group(3) == "0"


@pytest.mark.browser
@pytest.mark.slow
def test_full_report_reads_well_in_chromium(all_sections, tmp_path):
    exe = _require_chromium()
    rep, out = all_sections
    dom = _dump_dom(exe, out, tmp_path)
    assert _page_problems(dom) == []
    n_fig = sum(len(s.figures) for s in rep.sections.values())
    m = re.search(r'data-figures-total="(\d+)" data-figures-ok="(\d+)" data-errors="(\d+)"', dom)
    assert m and tuple(map(int, m.groups())) == (n_fig, n_fig, 0)
    # the equilibrium's key numbers carry its economics, not solver timings
    mfg = rep.sections["mfg"].table
    assert {"discount to NAV now", "total exits [share of holders]", "value there [NAV]"} <= set(mfg)
    assert not any("time" in k or "seconds" in k for k in mfg)


@pytest.mark.slow
def test_full_report_reads_well_without_a_browser(all_sections):
    """The page checks on the HTML as written (where Chromium is missing), and no section carries
    Matplotlib's too-many-figures warning (each section's figures are drawn and closed before the next)."""
    rep, _ = all_sections
    assert _page_problems(rep.html) == []
    assert not any("figures have been opened" in n for s in rep.sections.values() for n in s.notes)
