"""How reports draw their figures: the one-pass tight crop gives savefig's bytes, and figures drawn in
forked workers give the same page as figures drawn in the report's process."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from gelav import _forked
from gelav.report import SECTIONS, ReportSection, build_report, figure_png, tight_box

matplotlib = pytest.importorskip("matplotlib")

SCENARIO = {
    "process": {"kind": "ou", "kappa": 0.45, "mean": 1.0, "sigma": 0.32},
    "stress": {"x0": -0.5, "threshold": -0.5, "horizon": 2.0, "methods": ["analytic", "pde"]},
    "trinomial": {"paths": 1000, "steps": 50},
    "mfg": {"preset": "calm", "numerics": {"n_cells": 40, "n_steps": 20}},
    "exit_time": {"a": -0.5, "b": 2.5, "x0": 1.0},
}


def _savefig(fig, bbox_inches, dpi=110):
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches=bbox_inches)
    plt.close(fig)
    return buf.getvalue()


def _synthetic(kind):
    """Figures with what the crop must get right: artists outside the axes and the figure, fixed
    aspect, twin axes, a colorbar, a layout engine, a Figure made without pyplot."""
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure

    from gelav.plot import legend_below, new_axes

    x = np.linspace(0.0, 1.0, 200)
    if kind == "legend-below-the-figure":  # drawn off the canvas: savefig draws it again
        fig = Figure(figsize=(5, 3))  # and made without pyplot
        ax = fig.add_subplot()
        ax.plot(x, x**2, label="x²")
        ax.set_title("no pyplot canvas")
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.3))
        return fig
    if kind == "constrained":
        fig, axs = plt.subplots(1, 2, figsize=(6, 3), layout="constrained")
        axs[0].plot(x, np.sin(9 * x))
        axs[1].hist(np.sin(40 * x), bins=12)
        fig.suptitle("constrained layout")
        return fig
    fig, ax = new_axes()
    if kind == "legend-below-twin":
        ax.plot(x, np.exp(x), label="exp")
        tw = ax.twinx()
        tw.semilogy(x, np.exp(20 * x), color="C1", label="exp(20x)")
        tw.set_ylabel("log axis [unit]")
        ax.set_xlabel("$x$ [years]")
        legend_below(ax, tw)
        ax.annotate("far note", xy=(1, 1), xytext=(1.15, 1.1), xycoords="axes fraction",
                    textcoords="axes fraction", arrowprops={"arrowstyle": "->"})
        fig.tight_layout()
    else:  # image with a fixed aspect ratio and a colorbar, on a coloured figure
        im = ax.imshow(np.outer(x[:50], x[:40]), aspect="equal", origin="lower")
        fig.colorbar(im, ax=ax, label="value")
        ax.set_title("fixed aspect")
        fig.set_facecolor((0.3, 0.6, 0.9))
    return fig


def _box(fig, dpi):
    import matplotlib.pyplot as plt

    box = tight_box(fig, dpi)
    plt.close(fig)
    return box


def _tight_extent(fig, dpi):
    """savefig's own tight box [inches] (a layout pass, as savefig makes)."""
    import matplotlib
    import matplotlib.pyplot as plt
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)
    fig.dpi = dpi
    fig.draw_without_rendering()
    box = fig.get_tightbbox(canvas.get_renderer()).padded(matplotlib.rcParams["savefig.pad_inches"])
    plt.close(fig)
    return box


def _same_picture(a, b):
    """Two PNGs show the same picture: the same size and pixels, but for a glyph's antialiasing (one or
    two levels of 255 on at most 0.1 % of the pixels: Matplotlib places text by its last draw)."""
    from PIL import Image

    pa, pb = (np.asarray(Image.open(io.BytesIO(p))).astype(int) for p in (a, b))
    assert pa.shape == pb.shape
    diff = np.abs(pa - pb).max(axis=-1)
    assert diff.max() <= 2 and np.count_nonzero(diff) <= 1e-3 * diff.size
    return True


KINDS = ["legend-below-twin", "image-colorbar", "legend-below-the-figure", "constrained"]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("dpi", [72, 110])
def test_figure_png_is_savefig_of_the_tight_box(kind, dpi):
    """One draw and a crop give the picture savefig draws for the same box, which is savefig's tight box
    rounded out to whole pixels (so the picture moves by under a pixel). Each on a fresh, identical
    figure: drawing a figure may change it (constrained layout)."""
    box = _box(_synthetic(kind), dpi)
    assert _same_picture(figure_png(_synthetic(kind), dpi=dpi), _savefig(_synthetic(kind), box, dpi=dpi))
    tight = _tight_extent(_synthetic(kind), dpi)
    for edge, exact in zip(box.extents * dpi, tight.extents * dpi, strict=True):
        assert abs(edge - round(edge)) < 1e-9 and abs(edge - exact) < 1.0
    assert box.x0 <= tight.x0 and box.y0 <= tight.y0 and box.x1 >= tight.x1 and box.y1 >= tight.y1


@pytest.mark.slow
@pytest.mark.parametrize("name", ["stress", "trinomial", "mfg", "exit_time"])
def test_section_figures_are_savefig_of_the_tight_box(name):
    """Every figure of these sections: the picture savefig draws for the box."""
    a, b, c = (SECTIONS[name](SCENARIO).figures() for _ in range(3))  # built when drawn
    assert a and len(a) == len(b) == len(c)
    for (cap, fa), (_, fb), (_, fc) in zip(a, b, c, strict=True):
        box = _box(fc, 110)
        assert _same_picture(figure_png(fa), _savefig(fb, box)), cap


def test_figure_png_closes_the_figure_and_passes_bytes_through():
    import matplotlib.pyplot as plt

    fig = _synthetic("legend-below-twin")
    n = len(plt.get_fignums())
    png = figure_png(fig)
    assert png.startswith(b"\x89PNG") and len(plt.get_fignums()) == n - 1
    assert figure_png(png) == png


# ---------------------------------------------------------------------------
# figures drawn in forked workers
# ---------------------------------------------------------------------------
needs_fork = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="workers fork on Linux only")


def _ran_elsewhere(request):
    """Tests of forking need a process with one Python thread, as the report does (else it runs every
    section in its own process): where an earlier test left threads behind (a Dask client), the test is
    run in a new pytest process, whose result is this test's (True: the caller returns)."""
    if _forked.fork_safe():
        return False
    assert not os.environ.get("GELAV_TEST_ONE_THREAD"), "threads running in a new pytest process"
    env = {**os.environ, "GELAV_TEST_ONE_THREAD": "1"}
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:xdist", "-p", "no:cacheprovider",
                           f"{request.node.nodeid}"], env=env, capture_output=True, text=True,
                          cwd=request.config.rootpath)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    return True

#: what differs from run to run: run times, the date
_VARYING = (r"Section run time [0-9.]+ s", r"Total run time [0-9.]+ s", r" on \d{4}-\d\d-\d\d \d\d:\d\d UTC",
            r"<td>[0-9.]+ ms</td>", r"<td>solver time \[s\]</td><td>[0-9.e+-]+</td>")


def _record_pools(monkeypatch):
    """The worker pools made from here on (``_forked.ForkPool`` patched to record each)."""
    pools = []

    class Pool(_forked.ForkPool):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            pools.append(self)

    monkeypatch.setattr(_forked, "ForkPool", Pool)
    return pools


def _page(rep):
    html = rep.html
    for pattern in _VARYING:
        html = re.sub(pattern, "", html)
    return html


@needs_fork
@pytest.mark.slow
def test_workers_draw_the_same_page(request, monkeypatch):
    """Every section of the scenario run here or by 1 or 2 workers (sections and figures): the same page,
    byte for byte but for run times and the date (numbers, figures, notes)."""
    if _ran_elsewhere(request):
        return
    pools = _record_pools(monkeypatch)
    pages = {w: build_report(SCENARIO, workers=w) for w in (0, 1, 2)}
    assert len(pools) == 2 and [p.fallbacks for p in pools] == [0, 0]  # every section came from a worker
    assert pages[0].failed == [] and sum(len(s.figures) for s in pages[0].sections.values()) >= 5
    for w in (1, 2):
        assert _page(pages[w]) == _page(pages[0])
        for name, sec in pages[w].sections.items():
            assert sec.figures == pages[0].sections[name].figures, name
            assert sec.notes == pages[0].sections[name].notes, name


@needs_fork
def test_workers_start_the_longest_sections_first(request, monkeypatch):
    """With workers, sections start longest first (report.COST) among those that may start at the same
    point; the page keeps its order and is the page drawn here."""
    if _ran_elsewhere(request):
        return
    from gelav import report

    started = []

    class Pool(_forked.ForkPool):
        def submit(self, fn):
            started.append(fn.args[0])
            return super().submit(fn)

    monkeypatch.setattr(_forked, "ForkPool", Pool)
    # costs against the page's order (stress, exit_time, trinomial, mfg): every one of them needs Matplotlib
    # only (trinomial's KS p-values and normal limit take no scipy.stats), so all start longest first
    monkeypatch.setattr(report, "COST", {**report.COST, "exit_time": 0.1, "mfg": 0.9, "trinomial": 0.8,
                                          "stress": 0.2})
    par = build_report(SCENARIO, workers=2)
    assert list(par.sections) == ["model", "stress", "exit_time", "trinomial", "mfg"]
    assert started == ["mfg", "trinomial", "stress", "exit_time"]
    assert _page(par) == _page(build_report(SCENARIO, workers=0))


@needs_fork
@pytest.mark.slow
def test_report_imports_scipy_stats_only_for_the_sections_that_need_it(tmp_path):
    """A new process: the model section, the stress figure and the trinomial walk's limit take their normal
    laws without scipy.stats (0.35 s), and the KS p-values are gelav._stats's, so a report of sections that
    do not need it never imports it, with workers or without."""
    code = ("import sys; from gelav.report import build_report; "
            "from test_report_figures import SCENARIO; "
            "r = build_report(SCENARIO, workers=int(sys.argv[1])); "
            "assert r.failed == [] and len(r.sections) == 5, r.summary(); "
            "print('scipy.stats' in sys.modules)")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).parent), *sys.path])}
    for workers in (0, 2):
        done = subprocess.run([sys.executable, "-c", code, str(workers)], capture_output=True, text=True, env=env)
        assert done.returncode == 0, done.stderr[-2000:]
        assert done.stdout.strip() == "False", workers


def _drawn_by(pid_box):
    """A section whose figure caption says which process drew it."""
    def section(scenario):
        def figures():
            return (("drawn by " + ("this process" if os.getpid() == pid_box[0] else "a worker"), b"\x89PNG"),)

        return ReportSection(title="Where", figures=figures, numbers={"n": 1})

    return section


def _with_sections(extra, **kwargs):
    SECTIONS.update(extra)
    try:
        return build_report({name: {} for name in extra}, **kwargs)
    finally:
        for name in extra:
            del SECTIONS[name]


@needs_fork
def test_figures_are_drawn_in_a_worker_and_fall_back_here(request):
    """Deferred figures go to a worker (workers >= 1), are drawn here with workers=0, and when a worker
    dies or hangs past the timeout the figures are drawn here: the page never misses them."""
    if _ran_elsewhere(request):
        return
    me = [os.getpid()]

    def dies(scenario):
        def figures():
            if os.getpid() != me[0]:
                os._exit(3)
            return (("survived", b"\x89PNG"),)
        return ReportSection(title="Dies", figures=figures)

    def hangs(scenario):
        def figures():
            if os.getpid() != me[0]:
                time.sleep(60)
            return (("waited", b"\x89PNG"),)
        return ReportSection(title="Hangs", figures=figures)

    def caption(rep, name):
        return [c for c, _ in rep.sections[name].figures]

    assert caption(_with_sections({"where": _drawn_by(me)}, workers=1), "where") == ["drawn by a worker"]
    assert caption(_with_sections({"where": _drawn_by(me)}, workers=0), "where") == ["drawn by this process"]
    old = _forked.TIMEOUT
    _forked.TIMEOUT = 1.0
    try:
        t0 = time.monotonic()
        rep = _with_sections({"dies": dies, "hangs": hangs}, workers=2)
        assert time.monotonic() - t0 < 30
    finally:
        _forked.TIMEOUT = old
    assert rep.failed == [] and caption(rep, "dies") == ["survived"] and caption(rep, "hangs") == ["waited"]


@pytest.mark.parametrize("workers", [0, 1])
def test_a_figure_that_raises_is_the_section_error(workers):
    """Building figures that raises makes the section an error (the page says why), drawn here or in
    a worker; its warnings become notes either way."""
    import warnings

    def broken(scenario):
        def figures():
            warnings.warn("about to fail", UserWarning, stacklevel=1)
            raise RuntimeError("no figure today")
        return ReportSection(title="Broken", figures=figures, numbers={"x": 1.0})

    def warns(scenario):
        def figures():
            warnings.warn("figure note", UserWarning, stacklevel=1)
            return (("fine", b"\x89PNG"),)
        return ReportSection(title="Warns", figures=figures, notes=("own note",))

    rep = _with_sections({"broken": broken, "warns": warns}, workers=workers)
    assert rep.failed == ["broken"] and "RuntimeError: no figure today" in rep.sections["broken"].html
    assert rep.sections["warns"].notes == ("own note", "UserWarning: figure note")


def test_workers_argument_is_checked():
    with pytest.raises(ValueError, match="workers"):
        build_report({}, workers=-1)


@needs_fork
@pytest.mark.parametrize("workers", [1, 3])
def test_fork_pool_results_in_order_and_failures_run_here(request, workers):
    """Results come back from the children in any number at once; a function that raises, or whose
    result cannot be pickled, is run again here (so its exception is raised here)."""
    if _ran_elsewhere(request):
        return
    me = os.getpid()

    def boom():
        raise KeyError("here" if os.getpid() == me else "child")

    with _forked.ForkPool(workers) as pool:
        assert pool.idle() == workers
        sleeper = pool.submit(lambda: time.sleep(1.0))
        assert pool.idle() == workers - 1  # busy until the child ends
        pool.result(sleeper)
        assert pool.idle() == workers
        tickets = [pool.submit(lambda i=i: (i, os.getpid() != me)) for i in range(5)]
        bad = pool.submit(boom)
        unpicklable = pool.submit(lambda: (lambda: os.getpid()))
        assert [pool.result(t) for t in tickets] == [(i, True) for i in range(5)]
        with pytest.raises(KeyError, match="here"):
            pool.result(bad)
        assert pool.result(unpicklable)() == me


@needs_fork
def test_fork_pool_close_ends_running_children(request):
    if _ran_elsewhere(request):
        return
    pool = _forked.ForkPool(2, timeout=60)
    pool.submit(lambda: time.sleep(60))
    pids = [j.pid for j in pool._jobs.values()]
    pool.close()
    for pid in pids:
        with pytest.raises(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)  # reaped: no such child any more


@needs_fork
def test_beside_runs_fn_in_a_child_or_here(request, monkeypatch):
    """``beside`` returns what ``fn`` returns, from a child (here with ``fork=False``); a failure in the child
    runs ``fn`` here (its exception is raised here); leaving the block ends a child still running."""
    if _ran_elsewhere(request):
        return
    me = os.getpid()
    with _forked.beside(lambda: (os.getpid(), [1.5, "x"])) as got:
        pid, value = got()
    assert pid != me and value == [1.5, "x"]
    with _forked.beside(lambda: os.getpid(), fork=False) as got:
        assert got() == me

    def boom():
        raise KeyError("here" if os.getpid() == me else "child")

    with _forked.beside(boom) as got, pytest.raises(KeyError, match="here"):
        got()

    def nested():  # in a pool's child: run there, not in a child more (the pool has the other CPUs)
        with _forked.beside(os.getpid) as got:
            return got() == os.getpid() != me

    with _forked.ForkPool(1) as pool:
        assert pool.result(pool.submit(nested)) is True
    pools = _record_pools(monkeypatch)
    with _forked.beside(lambda: time.sleep(60)):
        pids = [j.pid for j in pools[0]._jobs.values()]
    assert len(pids) == 1
    with pytest.raises(ChildProcessError):
        os.waitpid(pids[0], os.WNOHANG)  # killed and reaped


@needs_fork
@pytest.mark.slow
def test_every_registered_section_comes_back_from_a_worker(request, tmp_path, monkeypatch):
    """The every-section scenario of test_report: each section's result pickles back from its worker
    (none is run again here), and the page is the one drawn without workers."""
    if _ran_elsewhere(request):
        return
    from gelav.datasets import fund_cashflows, secondary_trades
    from test_report import ALL_SECTIONS, _series_csv

    _series_csv(tmp_path / "series.csv")
    secondary_trades(200, seed=2).to_csv(tmp_path / "trades.csv")
    fund_cashflows(seed=3).to_csv(tmp_path / "fund.csv")
    (tmp_path / "all.toml").write_text(ALL_SECTIONS)
    pools = _record_pools(monkeypatch)
    par = build_report(tmp_path / "all.toml", workers=2)
    assert len(pools) == 1 and pools[0].fallbacks == 0 and par.failed == []
    assert _page(par) == _page(build_report(tmp_path / "all.toml", workers=0))
