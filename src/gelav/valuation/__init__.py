"""The GE-LAV framework's own quantities (GELAV.md): premium π(L, T), exit boundary L*(t), Jensen bias, ...

Each name loads its module on first use, so ``import gelav.valuation`` stays light.
"""

from __future__ import annotations

import sys

from gelav._package import Package as _Package
from gelav._package import lazy_getattr
from gelav.valuation.premium import SCALINGS, IlliquidityPremium

_LAZY: dict[str, str] = {
    # illiquidity premium, exit boundary, Jensen bias (VAL-A)
    "PremiumFit": "gelav.valuation.fit",
    "fit_premium": "gelav.valuation.fit",
    "read_trades": "gelav.valuation.fit",
    "report_premium": "gelav.valuation.fit",
    "ExitBoundary": "gelav.valuation.exit_boundary",
    "exit_boundary": "gelav.valuation.exit_boundary",
    "report_exit_boundary": "gelav.valuation.exit_boundary",
    "JensenBias": "gelav.valuation.jensen",
    "JensenTable": "gelav.valuation.jensen",
    "jensen_bias": "gelav.valuation.jensen",
    "jensen_table": "gelav.valuation.jensen",
    "report_jensen": "gelav.valuation.jensen",
}


# the function exit_boundary keeps its name once the submodule of the same name is imported
sys.modules[__name__].__class__ = _Package


__getattr__ = lazy_getattr(__name__, globals(), _LAZY)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = ["SCALINGS", "IlliquidityPremium", *sorted(_LAZY)]
