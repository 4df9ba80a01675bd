"""Workflow: the Jensen bias of DCF at the expected rate (GELAV.md §6).

1. The course's static model and book Table 23.1 (exact, second order, annualised).
2. A mean-reverting rate with the same stationary uncertainty (Vasicek, CIR, and a
   rate driven by the liquidity state): Feynman–Kac against the affine bond price.

Every number docs/valuation.md quotes comes from ``compute()`` (tests/test_valuation_docs.py).
Run:  MPLBACKEND=Agg python examples/valuation_jensen.py   (figures to $GELAV_EXAMPLE_OUT)
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import gelav


def compute() -> dict[str, Any]:
    return {"table": gelav.jensen_table(),
            "models": {m: gelav.jensen_bias(10.0, 0.08, 0.05, model=m) for m in ("static", "vasicek", "cir",
                                                                               "liquidity")},
            "stressed": gelav.jensen_bias(10.0, 0.08, 0.05, model="liquidity", L0=-0.5)}


def quoted(res: dict[str, Any]) -> dict[str, str]:
    out = {}
    for name, _T, _s, exact, second, ann in res["table"].rows:
        out[f"{name}_exact"] = f"{exact:.6f}"
        out[f"{name}_second"] = f"{second:.6f}"
        out[f"{name}_ann"] = f"{ann:.4%}"
    for m, b in res["models"].items():
        out[f"{m}_bias"] = f"{b.bias:.6f}"
        out[f"{m}_ann"] = f"{b.annualised:.4%}"
        if b.feynman_kac is not None:
            out[f"{m}_fk"] = f"{b.diagnostics['fk_minus_closed_form']:.1e}"
    out["stressed_bias"] = f"{res['stressed'].bias:.6f}"
    out["stressed_r0"] = f"{res['stressed'].params['r0']:.4f}"
    return out


def main() -> Path:
    out = Path(os.environ.get("GELAV_EXAMPLE_OUT") or tempfile.mkdtemp(prefix="gelav_jensen_"))
    out.mkdir(parents=True, exist_ok=True)
    res = compute()
    print(res["table"])
    assert round(res["models"]["static"].bias, 6) == 0.059827
    for m in ("vasicek", "cir", "liquidity"):
        b = res["models"][m]
        assert abs(b.feynman_kac - b.expected_discount) < 1e-4 and b.bias < res["models"]["static"].bias
    for k, v in quoted(res).items():
        print(f"{k:>26}: {v}")
    res["table"].plot().savefig(out / "jensen_table.png", dpi=100)
    return out


if __name__ == "__main__":
    print(f"figures in {main()}")
