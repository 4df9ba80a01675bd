"""gelav's module type for packages whose functions share their submodules' names (``gelav``, ``gelav.valuation``)."""

from __future__ import annotations

import types

__all__ = ["Package"]


class Package(types.ModuleType):
    """gelav's module type: a function named like its module (``backward``, ``pdepe``) keeps the name.

    Importing the submodule ``gelav.backward`` would otherwise bind the *module*
    to ``gelav.backward`` and hide the function of the same name; the module
    stays reachable as ``sys.modules["gelav.backward"]`` and through
    ``from gelav.backward import ...``. Subpackages with the same clash use it
    too (``gelav.valuation.exit_boundary``); each lists its lazy names in ``_LAZY``.
    """

    def __setattr__(self, name: str, value: object) -> None:
        # a submodule gelav.<name> (e.g. the old-path shim gelav.backward) never hides the function <name>
        if isinstance(value, types.ModuleType) and value.__name__ == f"{self.__name__}.{name}" and (
                name in self.__dict__.get("_LAZY", ()) or isinstance(self.__dict__.get(name), types.FunctionType)):
            return
        super().__setattr__(name, value)
