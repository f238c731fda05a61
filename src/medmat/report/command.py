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
@click.option("--force", is_flag=True, help="Replace an existing report folder given as --out.")
@click.option("--quiet", "-q", is_flag=True, help="Do not print the summary table.")
def command(metrics: Path, out_dir: Path | None, letter_bias_threshold: float, force: bool,
            quiet: bool) -> None:
    """Write report.md, accuracy.png and lattice.png from METRICS (metrics.json or its folder)."""

    from medmat.errors import MedmatError
    from medmat.outdir import real
    from medmat.report.tables import rich_table, table_console
    from medmat.report.write import load_metrics

    data = load_metrics(metrics)
    source = metrics / "metrics.json" if metrics.is_dir() else metrics
    here = metrics if metrics.is_dir() else metrics.parent
    try:
        if out_dir is None or real(out_dir) == real(here):
            # Redraw the experiment's own report beside its metrics.json (file by file, atomic).
            from medmat.report.write import write_report

            path = write_report(data, here, letter_bias_threshold=letter_bias_threshold)
        else:
            path = _write_report_folder(data, source, out_dir, letter_bias_threshold, force)
    except MedmatError as exc:  # name the file the bad key came from
        if str(exc).startswith("--out"):
            raise
        raise MedmatError(f"{source}: {exc}") from None
    if not quiet:
        table_console().print(rich_table(data))
    click.echo(f"wrote {path}")


def _write_report_folder(data: dict, source: Path, out_dir: Path, threshold: float,
                         force: bool) -> Path:
    """A separate report folder (kind "report"): checked by the output-folder contract, built
    in a staging folder with its manifest and swapped in whole."""
    from medmat.io import staged_dir
    from medmat.manifest import Manifest, file_digest, output_digests, write_manifest
    from medmat.outdir import check_out_dir
    from medmat.report.markdown import ACCURACY_PNG, LATTICE_PNG
    from medmat.report.write import REPORT_MD, write_report

    check_out_dir(out_dir, "report", [source], force=force)
    with staged_dir(out_dir) as stage:
        write_report(data, stage, letter_bias_threshold=threshold)
        man = Manifest(kind="report", config={"letter_bias_threshold": threshold},
                       inputs={"metrics": file_digest(source)})
        write_manifest(stage, man.with_outputs(
            output_digests(stage, [REPORT_MD, ACCURACY_PNG, LATTICE_PNG])))
        check_out_dir(out_dir, "report", [source], force=force)
    return out_dir / REPORT_MD
