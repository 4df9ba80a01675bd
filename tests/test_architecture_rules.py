"""The layering rules of docs/architecture.md, checked on the source (issue 10, "how it is checked").

Each rule reads every module of ``src/gelav`` as text or syntax tree, so a change that breaks one
fails here by name: the tridiagonal solves go through one module (``gelav.fd.linalg``, plus the
compiled kernels of its numba backend), the flux rates are computed in one place
(``gelav.fd.generator``), no module imports another's private names, and the report does not run
the command line.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "gelav"
MODULES = sorted(SRC.rglob("*.py"))


def _name(path: Path) -> str:
    return ".".join(("gelav", *path.relative_to(SRC).with_suffix("").parts)).removesuffix(".__init__")


def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def test_the_rules_read_the_whole_package() -> None:
    assert len(MODULES) > 100 and (SRC / "fd" / "linalg.py") in MODULES


# LAPACK's banded and tridiagonal drivers, SciPy's banded solvers, and a hand-written sweep's name
TRIDIAGONAL = re.compile(r"\b(?:[sdcz]gt(?:sv|trf|trs)|[sdcz]pt(?:sv|trf|trs)|[sdcz]gb(?:sv|trf|trs)|solve_banded|"
                         r"solveh_banded|spsolve_triangular|thomas)\b")
#: where the solves live: the one module and its compiled backends (fd/_numba.py holds the kernels
#: fd.linalg dispatches to; mfg/_numba.py fuses them into the equilibrium's sweeps)
SOLVERS = {"gelav.fd.linalg", "gelav.fd._numba", "gelav.mfg._numba"}


def test_tridiagonal_solves_go_through_fd_linalg() -> None:
    offenders = {}
    for path in MODULES:
        if _name(path) in SOLVERS:
            continue
        code = "\n".join(line.split("#", 1)[0] for line in path.read_text(encoding="utf-8").splitlines())
        # docstrings may name the routines; calls and imports may not
        tree = _tree(path)
        names = {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
        names |= {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
        names |= {a.name for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) for a in n.names}
        used = {m for m in names if TRIDIAGONAL.fullmatch(m.lstrip("_"))}
        if used and any(m in code for m in used):
            offenders[_name(path)] = sorted(used)
    assert not offenders, f"tridiagonal solves outside gelav.fd.linalg: {offenders}"


def test_the_flux_rates_are_computed_in_fd_generator_only() -> None:
    callers = set()
    for path in MODULES:
        for n in ast.walk(_tree(path)):
            if isinstance(n, ast.Call):
                f = n.func
                name = f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", "")
                if name in ("fitted_rates", "sqra_rates", "_sg_rates"):
                    callers.add(_name(path))
    assert callers <= {"gelav.fd.generator"}, callers


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


@pytest.mark.parametrize("path", MODULES, ids=_name)
def test_no_module_imports_another_modules_private_names(path: Path) -> None:
    """``from gelav.x import _y`` (a private name of another module) is a layering defect; a private
    *module* (``gelav._package``, ``gelav.fd._numba``) is the package's own and may be imported."""
    bad = []
    for n in ast.walk(_tree(path)):
        if isinstance(n, ast.ImportFrom) and n.module and n.module.split(".")[0] == "gelav":
            for a in n.names:
                if not _private(a.name):
                    continue
                target = f"{n.module}.{a.name}"
                is_module = (SRC.joinpath(*target.split(".")[1:]).with_suffix(".py").exists()
                             or SRC.joinpath(*target.split(".")[1:], "__init__.py").exists())
                if not is_module:
                    bad.append(target)
    # and ``module._y`` on a gelav module imported by name (``from gelav.mfg import kernels``)
    tree = _tree(path)
    modules = {}
    for n in ast.walk(tree):
        if isinstance(n, ast.ImportFrom) and n.module and n.module.split(".")[0] == "gelav":
            for a in n.names:
                target = f"{n.module}.{a.name}".split(".")[1:]
                if SRC.joinpath(*target).with_suffix(".py").exists() or SRC.joinpath(*target, "__init__.py").exists():
                    modules[a.asname or a.name] = f"{n.module}.{a.name}"
    for n in ast.walk(tree):
        if (isinstance(n, ast.Attribute) and _private(n.attr) and isinstance(n.value, ast.Name)
                and n.value.id in modules and modules[n.value.id] != _name(path)):
            target = f"{modules[n.value.id]}.{n.attr}".split(".")[1:]
            if not (SRC.joinpath(*target).with_suffix(".py").exists() or SRC.joinpath(*target, "__init__.py").exists()):
                bad.append(f"{modules[n.value.id]}.{n.attr}")
    assert not bad, f"{_name(path)} uses private names of other modules: {bad}"


def test_the_report_does_not_run_the_command_line() -> None:
    for name in ("report.py",):
        tree = _tree(SRC / name)
        imported = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        imported |= {(n.module or "").split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        imported |= {(n.module or "") for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        assert "click" not in imported and "gelav.cli" not in imported, name
