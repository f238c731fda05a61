"""``medmat build``: records table -> multiple-choice VQA items (Med-MAT format)."""

from __future__ import annotations

from pathlib import Path

import click


@click.command(name="build")
@click.argument("records", type=click.Path(path_type=Path))
@click.option("--out", "out_dir", required=True, type=click.Path(path_type=Path),
              help="Folder for items.jsonl, items.parquet and summary.json.")
@click.option("--seed", default=0, show_default=True, type=int,
              help="Seed of every random choice (same seed and records: identical files).")
@click.option("--templates", "templates_file", type=click.Path(path_type=Path),
              help="YAML file of instruction templates overriding the built-in ones "
                   "per task family or per subset (see docs/qa.md).")
@click.option("--drop-leaky", is_flag=True,
              help="Drop val/test records whose pixels equal a training image's (counted in "
                   "summary.json) instead of refusing to build.")
@click.option("--batch-size", default=65536, show_default=True, type=int,
              help="Records per streamed batch (memory vs. speed).")
@click.option("--force", is_flag=True, help="Replace an existing build in --out.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar and no summary table.")
def command(records: Path, out_dir: Path, seed: int, templates_file: Path | None,
            drop_leaky: bool, batch_size: int, force: bool, quiet: bool) -> None:
    """Turn a records table into single-choice VQA items.

    RECORDS is a records.parquet file or the folder holding it (made by `medmat synth` or
    `medmat ingest`). Each image becomes one question with up to four options (A-D), the
    answer letters balanced; a subset with a single label is refused. Examples:

    \b
      medmat build runs/lab --out runs/lab/qa
      medmat build runs/lab/records.parquet --out qa --seed 1 --templates my_templates.yaml
      medmat build data/chest --out qa --drop-leaky
    """
    from medmat.outdir import check_out_dir
    from medmat.qa import build
    from medmat.records import records_path

    # build reads the records table (and a templates file), not the folder around it, so
    # `medmat build runs/lab --out runs/lab/qa` is fine; `--out runs/lab` is not.
    inputs = [records_path(records), *([templates_file] if templates_file else [])]
    check_out_dir(out_dir, "items", inputs, force=force)
    summary = build(records, out_dir, seed=seed, templates_file=templates_file,
                    drop_leaky=drop_leaky, batch_size=batch_size, progress=not quiet)
    if not quiet:
        _print_summary(summary, out_dir)


def _print_summary(summary: dict, out_dir: Path) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    table = Table(title=f"{summary['n_items']} items from {summary['n_records']} records")
    for col in ("subset", "train", "val", "test", "options"):
        table.add_column(col, justify="right" if col != "subset" else "left")
    for subset in sorted(summary["counts"]):
        c = summary["counts"][subset]
        opts = ", ".join(f"{k}:{v}" for k, v in summary["n_options"].get(subset, {}).items())
        table.add_row(subset, *(str(c.get(s, 0)) for s in ("train", "val", "test")), opts)
    console.print(table)
    letters = summary["letters"]
    console.print("answer letters: " + "  ".join(f"{k}={v}" for k, v in
                                                 letters["overall"].items()))
    for n, chi in letters["chi_square"].items():
        console.print(f"  {n} options: chi-square {chi['statistic']:.3f}, "
                      f"p = {chi['p_value']:.3f} over {chi['n_items']} items")
    if summary["skipped"]["count"]:
        console.print(f"skipped {summary['skipped']['count']} multi-label record(s) whose "
                      "labels cover their whole subset (listed in summary.json)")
    if summary["leakage"]["dropped"]:
        console.print(f"dropped {summary['leakage']['dropped']} leaky evaluation record(s)")
    console.print(f"wrote {out_dir}/items.jsonl, items.parquet, summary.json")
