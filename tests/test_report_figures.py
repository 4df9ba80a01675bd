"""How reports draw their figures: the one-pass tight crop gives savefig's bytes."""

from __future__ import annotations

import io

import numpy as np
import pytest

from gelav.report import SECTIONS, figure_png, tight_bbox

matplotlib = pytest.importorskip("matplotlib")

SCENARIO = {
    "process": {"kind": "ou", "kappa": 0.45, "mean": 1.0, "sigma": 0.32},
    "stress": {"x0": -0.5, "threshold": -0.5, "horizon": 2.0, "methods": ["analytic", "pde"]},
    "trinomial": {"paths": 1000, "steps": 50},
    "mfg": {"preset": "calm", "numerics": {"n_cells": 40, "n_steps": 20}},
    "exit_time": {"a": -0.5, "b": 2.5, "x0": 1.0},
}


def _savefig_tight(fig, dpi=110):
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def _synthetic(kind):
    """Figures with what the crop must get right: artists outside the axes and the figure, fixed
    aspect, twin axes, a colorbar, a layout engine, a Figure made without pyplot."""
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure

    from gelav.plot import legend_below, new_axes

    x = np.linspace(0.0, 1.0, 200)
    if kind == "figure-without-pyplot":
        fig = Figure(figsize=(5, 3))
        ax = fig.add_subplot()
        ax.plot(x, x**2, label="x²")
        ax.set_title("no pyplot canvas")
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2))
        return fig
    if kind == "constrained":
        fig, axs = plt.subplots(1, 2, figsize=(6, 3), layout="constrained")
        axs[0].plot(x, np.sin(9 * x))
        axs[1].hist(np.sin(40 * x), bins=12)
        fig.suptitle("constrained layout keeps bbox_inches='tight'")
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
    else:  # image with a fixed aspect ratio and a colorbar
        im = ax.imshow(np.outer(x[:50], x[:40]), aspect="equal", origin="lower")
        fig.colorbar(im, ax=ax, label="value")
        ax.set_title("fixed aspect")
    return fig


@pytest.mark.parametrize("kind", ["legend-below-twin", "image-colorbar", "figure-without-pyplot", "constrained"])
@pytest.mark.parametrize("dpi", [72, 110])
def test_figure_png_is_savefig_tight(kind, dpi):
    """The crop computed without savefig's layout pass gives the same PNG bytes as bbox_inches="tight"
    (on a second, identical figure: drawing a figure may change it, e.g. constrained layout)."""
    assert figure_png(_synthetic(kind), dpi=dpi) == _savefig_tight(_synthetic(kind), dpi=dpi)
    fig = _synthetic(kind)
    assert (tight_bbox(fig, dpi) == "tight") == (kind == "constrained")  # only a layout engine needs the pass
    _savefig_tight(fig)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["stress", "trinomial", "mfg", "exit_time"])
def test_section_figures_are_savefig_tight(name):
    """Every figure of these sections: the same bytes as savefig(bbox_inches="tight")."""
    a, b = SECTIONS[name](SCENARIO), SECTIONS[name](SCENARIO)
    assert a.figures and len(a.figures) == len(b.figures)
    for (cap, fa), (_, fb) in zip(a.figures, b.figures, strict=True):
        assert figure_png(fa) == _savefig_tight(fb), cap


def test_figure_png_closes_the_figure_and_passes_bytes_through():
    import matplotlib.pyplot as plt

    fig = _synthetic("legend-below-twin")
    n = len(plt.get_fignums())
    png = figure_png(fig)
    assert png.startswith(b"\x89PNG") and len(plt.get_fignums()) == n - 1
    assert figure_png(png) == png
