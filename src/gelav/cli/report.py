"""``gelav report``: run a scenario file and write one self-contained HTML page (a thin layer over
:func:`gelav.report.build_report`)."""

from __future__ import annotations

import click

from gelav._io import atomic_write
from gelav.cli._common import Output, dump_json, fail, shared_options


@click.command()
@click.option("-o", "--output", "output", type=click.Path(dir_okay=False), default="report.html", show_default=True,
              help="The HTML file to write.")
@click.option("--section", "sections", default=None,
              help="Comma-separated sections to run [default: every table of the scenario that has one].")
@click.option("--dpi", type=int, default=110, show_default=True, help="Resolution of the embedded figures.")
@shared_options("report", export=False,
                config_help="Scenario TOML file (required): [process] plus one table per analysis ([stress], "
                            "[calibration], ...).",
                plot_help="Also write every figure as a PNG file into this FOLDER (figure_01.png, ...).")
def report(output: str, sections: str | None, dpi: int, out: Output) -> None:
    """Run what the scenario file asks and write one HTML report (figures embedded, no network needed).

    Sections: the model always; then calibration, stress, feynman_kac, exit_time,
    ... for each table present in the file. Exit code 1 if a section failed
    (the page is still written and shows the error).
    """
    from gelav.report import build_report

    if out.config is None:
        raise click.UsageError("Missing option '--config': the scenario file to report on.")
    names = [s.strip() for s in sections.split(",") if s.strip()] if sections else None
    rep = build_report(out.config, sections=names, dpi=dpi)
    path = rep.write(output)
    if out.plot:
        import base64
        import re
        from pathlib import Path

        folder = Path(out.plot)
        folder.mkdir(parents=True, exist_ok=True)
        for i, b64 in enumerate(re.findall(r'src="data:image/png;base64,([^"]+)"', rep.html), start=1):
            atomic_write(folder / f"figure_{i:02d}.png", base64.b64decode(b64))
    if out.as_json:
        dump_json({"output": str(path), **rep.summary()})
    elif not out.quiet:
        for name, s in rep.sections.items():
            click.echo(f"  {s.status:7s} {name:14s} {s.seconds:6.2f} s  {s.title}")
        click.echo(f"report written to {path} ({path.stat().st_size / 1024:.0f} kB, {rep.seconds:.1f} s)")
    import atexit
    import gc

    # at the exit, leave the objects the report made (~300,000: SciPy, SymPy, Matplotlib) out of the
    # interpreter's last collections: 0.15 s of the command's exit
    atexit.unregister(gc.freeze)  # once, however often the command runs in one process (tests)
    atexit.register(gc.freeze)
    if rep.failed:
        fail(f"section(s) failed: {', '.join(rep.failed)} (see the report)", code=1)
