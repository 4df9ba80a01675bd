"""gelav's module type for packages whose functions share their submodules' names (``gelav``, ``gelav.valuation``)."""

from __future__ import annotations

import types
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["Package", "lazy_getattr", "submodule_getattr"]


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


def submodule_getattr(package: str) -> Callable[[str], types.ModuleType]:
    """A module ``__getattr__`` that imports ``package.<name>`` on first access (``gelav.fd.linalg`` after a
    bare ``import gelav``, which loads no submodule eagerly any more)."""

    def __getattr__(name: str) -> types.ModuleType:
        import importlib
        import importlib.util

        if not name.startswith("__") and importlib.util.find_spec(f"{package}.{name}") is not None:
            return importlib.import_module(f"{package}.{name}")
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__


def lazy_getattr(package: str, namespace: dict[str, Any], lazy: Mapping[str, str],
                 fallback: Callable[[str], Any] | None = None) -> Callable[[str], Any]:
    """The module ``__getattr__`` of a package with lazy exports (``gelav``, ``gelav.tasks``, ...).

    ``lazy`` maps an exported name to the module defining it (a full ``gelav.…`` path, or a submodule of
    ``package``); the value is imported on first access and cached in ``namespace`` (the package's
    ``globals()``), so later look-ups skip ``__getattr__``. Other names go to ``fallback`` (else
    :class:`AttributeError`)."""

    def __getattr__(name: str) -> Any:
        import importlib

        if name in lazy:
            where = lazy[name]
            value = getattr(importlib.import_module(where if where.startswith("gelav") else f"{package}.{where}"),
                            name)
            namespace[name] = value
            return value
        if fallback is not None:
            return fallback(name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__
