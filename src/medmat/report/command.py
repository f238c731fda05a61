"""A click command that rebuilds the report from a saved metrics.json.

Run it as ``python -m medmat.report RUN_DIR``; the CLI can register it as a subcommand by
re-exporting :data:`command` from a ``medmat/cli/report_cmd.py``.
"""

from __future__ import annotations

from pathlib import Path

import click

from medmat.report.bias import DEFAULT_THRESHOLD


@click.command(name="report")
@click.argument("metrics", type=click.Path(exists=True, path_type=Path))
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Report folder (default: the folder holding metrics.json).")  # fmt: skip
@click.option("--letter-bias-threshold", type=click.FloatRange(0, 1), default=DEFAULT_THRESHOLD,
              show_default=True, help="Flag arms whose letter share gap exceeds this.")  # fmt: skip
@click.option("--quiet", "-q", is_flag=True, help="Do not print the summary table.")
def command(metrics: Path, out_dir: Path | None, letter_bias_threshold: float, quiet: bool) -> None:
    """Write report.md, accuracy.png and lattice.png from METRICS (metrics.json or its folder)."""
    from rich.console import Console

    from medmat.errors import MedmatError
    from medmat.report.tables import rich_table
    from medmat.report.write import load_metrics, write_report

    data = load_metrics(metrics)
    if out_dir is None:
        out_dir = metrics if metrics.is_dir() else metrics.parent
    try:
        path = write_report(data, out_dir, letter_bias_threshold=letter_bias_threshold)
    except MedmatError as exc:  # name the file the bad key came from
        source = metrics / "metrics.json" if metrics.is_dir() else metrics
        raise MedmatError(f"{source}: {exc}") from None
    if not quiet:
        Console().print(rich_table(data))
    click.echo(f"wrote {path}")
