"""The ``gelav`` command.

Sub-commands are registered by dotted path in :data:`COMMANDS` and imported
only when invoked, so ``gelav stress`` does not pay for SymPy, Matplotlib or
Dask. Exit codes: 0 success, 1 numerical failure (non-convergence, divergence),
2 bad usage or input (Click's convention).
"""

from __future__ import annotations

import importlib
from typing import Any

import click

__all__ = ["COMMANDS", "main"]

#: name -> "module:attribute" of a click.Command
COMMANDS: dict[str, str] = {
    "stress": "gelav.cli.stress:stress",
    "feynman-kac": "gelav.cli.feynman_kac:feynman_kac",
    "exit-time": "gelav.cli.exit_time:exit_time",
    "ito": "gelav.cli.ito:ito",
    "trinomial": "gelav.cli.trinomial:trinomial",
    "mckean-vlasov": "gelav.cli.mckean_vlasov:mckean_vlasov",
    "mfg": "gelav.cli.mfg:mfg",
    "n-player": "gelav.cli.n_player:n_player",  # issue 14: the N-player game and the master field
    "master-field": "gelav.cli.master_field:master_field",
    "calibrate": "gelav.cli.calibrate:calibrate",
    "report": "gelav.cli.report:report",
    # valuation layer: fund metrics and portfolio stress (issue 12, VAL-B)
    "metrics": "gelav.cli.metrics:metrics",
    "portfolio": "gelav.cli.portfolio:portfolio",
    # valuation layer: premium fit, exit boundary, Jensen bias (issue 12, VAL-A)
    "premium": "gelav.cli.premium:premium",
    "exit-boundary": "gelav.cli.exit_boundary:exit_boundary",
    "jensen": "gelav.cli.jensen:jensen",
    "welfare": "gelav.cli.welfare:welfare",  # the planner, the Pigouvian tax and the welfare gap
}


#: allocations between two collections of the youngest generation while a command runs (Python's default: 700)
COLLECT_EVERY = 10_000


def _skip_exit_collections() -> None:
    """Freeze the garbage collector's objects when the process exits (issue 16, start-up latency).

    At shutdown CPython runs full collections that walk every object still alive
    (SciPy's, Rich's and the command's: hundreds of thousands), 50-65 ms of a 0.5 s
    command here, none of it needed for the answer; :func:`gc.freeze` from :mod:`atexit`
    (it runs before the interpreter's teardown) leaves them to reference counting.
    Python does not promise to collect cycles at exit anyway; the commands close their
    files, and temporary folders have their own exit handlers. The same handler as
    ``gelav report``'s, registered once however often commands run in one process (tests).
    """
    import atexit
    import gc

    atexit.unregister(gc.freeze)
    atexit.register(gc.freeze)


def _available(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(COMMANDS[name].split(":")[0]) is not None


class LazyGroup(click.Group):
    """A group whose sub-commands are imported on first use."""

    def main(self, *args: Any, **kwargs: Any) -> Any:
        import gc

        _skip_exit_collections()
        # A command's objects are nearly all its modules' (SciPy's, Rich's, gelav's), alive to its end: at
        # the default threshold (700 allocations) the collector walks them ~10 times and once in full during
        # the imports, 15-35 ms of welfare's 0.42 s here; collect young objects every 10,000 allocations
        # instead, for the command only (restored after it: in-process callers and tests keep theirs)
        thresholds = gc.get_threshold()
        gc.set_threshold(max(thresholds[0], COLLECT_EVERY), *thresholds[1:])
        try:
            return super().main(*args, **kwargs)
        finally:
            gc.set_threshold(*thresholds)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(n for n in COMMANDS if _available(n))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None or not _available(cmd_name):
            return None
        module, attr = target.split(":")
        cmd: Any = getattr(importlib.import_module(module), attr)
        return cmd


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="gelav")
def main() -> None:
    """gelav — Fokker–Planck, Feynman–Kac, lattices, Monte Carlo and the GE-LAV mean-field game.

    Start with `gelav stress` (the seed's OU stress test, four ways).
    """
