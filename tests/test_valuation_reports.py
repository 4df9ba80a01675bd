"""Report hooks of the valuation layer: each returns JSON-ready key numbers and a figure (issue 12)."""

from __future__ import annotations

import json

import numpy as np

from gelav.cli._common import jsonable
from gelav.valuation import report_exit_boundary, report_jensen, report_premium


def test_report_hooks_return_numbers_and_a_figure() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rng = np.random.default_rng(0)
    L, T = rng.normal(1, 1, 200), rng.uniform(1, 10, 200)
    pi = (0.045 - 0.025 * L + 0.021 * L**2) * np.sqrt(T) + rng.normal(0, 0.005, 200)
    for numbers, fig in (report_premium(L=L, T=T, observed=pi),
                         report_exit_boundary(n_cells=60, n_steps=40),
                         report_jensen(n_cells=60, n_steps=60)):
        json.dumps(jsonable(numbers))
        assert isinstance(fig, plt.Figure)
        plt.close(fig)
    numbers, _ = report_jensen(n_cells=60, n_steps=60)
    assert round(numbers["table"]["rows"][0]["exact"], 6) == 0.059827
    assert set(numbers["models"]) == {"static", "vasicek", "cir", "liquidity"}
