"""``gelav report``: run a scenario file and write one self-contained HTML page."""

from __future__ import annotations

import click

from gelav.cli._common import dump_json, fail, handle_errors


@click.command()
@click.option("--config", "config", type=click.Path(dir_okay=False), required=True,
              help="Scenario TOML file: [process] plus one table per analysis ([stress], [calibration], ...).")
@click.option("-o", "--output", "output", type=click.Path(dir_okay=False), default="report.html", show_default=True,
              help="The HTML file to write.")
@click.option("--section", "sections", default=None,
              help="Comma-separated sections to run [default: every table of the scenario that has one].")
@click.option("--dpi", type=int, default=110, show_default=True, help="Resolution of the embedded figures.")
@click.option("--plot", "plot", type=click.Path(file_okay=False), default=None,
              help="Also write every figure as a PNG file into this folder.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object (sections, key numbers, status).")
@click.option("--quiet", "-q", is_flag=True, help="Print nothing but errors.")
@handle_errors
def report(config, output, sections, dpi, plot, as_json, quiet):
    """Run what the scenario file asks and write one HTML report (figures embedded, no network needed).

    Sections: the model always; then calibration, stress, feynman_kac, exit_time,
    ... for each table present in the file. Exit code 1 if a section failed
    (the page is still written and shows the error).
    """
    from gelav.report import build_report

    names = [s.strip() for s in sections.split(",") if s.strip()] if sections else None
    rep = build_report(config, sections=names, dpi=dpi)
    path = rep.write(output)
    if plot:
        import base64
        import re
        from pathlib import Path

        folder = Path(plot)
        folder.mkdir(parents=True, exist_ok=True)
        for i, b64 in enumerate(re.findall(r'src="data:image/png;base64,([^"]+)"', rep.html), start=1):
            (folder / f"figure_{i:02d}.png").write_bytes(base64.b64decode(b64))
    if as_json:
        dump_json({"output": str(path), **rep.summary()})
    elif not quiet:
        for name, s in rep.sections.items():
            click.echo(f"  {s.status:7s} {name:14s} {s.seconds:6.2f} s  {s.title}")
        click.echo(f"report written to {path} ({path.stat().st_size / 1024:.0f} kB, {rep.seconds:.1f} s)")
    if rep.failed:
        fail(f"section(s) failed: {', '.join(rep.failed)} (see the report)", code=1)
