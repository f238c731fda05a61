"""``medmat leakage RECORDS... --out REPORT.json``: duplicate groups across splits and sources."""

from __future__ import annotations

from pathlib import Path

import click

from medmat.errors import MedmatError

LARGE_GROUP = 20  # near groups beyond this are more likely hash collisions than copies


@click.command(name="leakage")
@click.argument("records", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--out", "out", required=True, type=click.Path(path_type=Path),
              help="Where to write the JSON report (written atomically).")
@click.option("--threshold", default=8, show_default=True, type=click.IntRange(0, 32),
              help="Near-duplicate candidates: max Hamming distance between 64-bit perceptual "
                   "hashes (each candidate is then checked on pixels).")
@click.option("--min-similarity", default=0.5, show_default=True, type=click.FloatRange(-1, 1),
              help="Pixel check: detail correlation a candidate must reach (see docs/leakage.md).")
@click.option("--no-verify", is_flag=True,
              help="Keep every hash candidate without the pixel check (fast, many false pairs "
                   "on look-alike images).")
@click.option("--no-crops", is_flag=True,
              help="Do not look for cropped copies (they need every image read once).")
@click.option("--no-near", is_flag=True, help="Only exact (pixel-identical) duplicates.")
@click.option("--rehash", is_flag=True,
              help="Recompute hashes from the images even where the table stores them.")
@click.option("--fail-on-leak", is_flag=True,
              help="Exit with status 2 (after writing the report) if a val/test image "
                   "duplicates a training image, or a record group (patient, volume) sits in "
                   "train and val/test.")
@click.option("--show", default=10, show_default=True, type=click.IntRange(0),
              help="How many train-vs-eval groups to list on the terminal.")
def command(records: tuple[Path, ...], out: Path, threshold: int, min_similarity: float,
            no_verify: bool, no_crops: bool, no_near: bool, rehash: bool, fail_on_leak: bool,
            show: int) -> None:
    """Report exact and near duplicate images across RECORDS tables and their splits.

    Each RECORDS argument is a dataset folder (holding records.parquet) or a records.parquet
    file; several tables are compared with each other as different sources. Stored
    pixel_sha1/phash columns are used when present, otherwise the images are hashed.

    \b
    Example:
      medmat leakage runs/isic2016 runs/isbi2016 --out runs/leakage.json
    """
    from rich.console import Console
    from rich.table import Table

    from medmat.leakage.report import find_duplicates
    from medmat.outdir import check_out_file

    # Never into a dataset (a missing one is reported by find_duplicates).
    tables = [p / "records.parquet" if p.is_dir() else p for p in records if p.exists()]
    check_out_file(out, [*tables, *(t.parent for t in tables)])
    report = find_duplicates(list(records), threshold=threshold, near=not no_near,
                             rehash=rehash, verify=not no_verify, crops=not no_crops,
                             min_similarity=min_similarity)
    report.write(out)
    s = report.summary()
    console = Console(stderr=False)
    table = Table(title=f"Leakage report ({s['records']} records, "
                        f"{len(report.tables)} table(s))")
    table.add_column("groups")
    table.add_column("exact", justify="right")
    table.add_column("near", justify="right")
    rows = [
        ("all", s["exact_groups"], s["near_groups"]),
        ("train vs val/test", s["train_vs_eval_groups"]["exact"],
         s["train_vs_eval_groups"]["near"]),
        ("crossing sources", sum(g.crosses_sources for g in report.of_kind("exact")),
         sum(g.crosses_sources for g in report.of_kind("near"))),
    ]
    for name, e, n in rows:
        table.add_row(name, str(e), str(n) if report.near else "-")
    console.print(table)
    leaky = report.leaky_groups
    for g in leaky[:show]:
        parts = ", ".join(f"{m.split}:{m.record_id}" for m in g.members[:6])
        more = f", ... (+{len(g.members) - 6})" if len(g.members) > 6 else ""
        console.print(f"  {g.kind} (d<={g.max_distance}): {parts}{more}")
    biggest = max((len(g.members) for g in report.of_kind("near")), default=0)
    if biggest > LARGE_GROUP:
        console.print(
            f"[yellow]warning:[/] a near group has {biggest} members: perceptual hashes of very "
            "uniform images (synthetic renders, blank scans) collide. Check the report, lower "
            "--threshold (e.g. 2) or use --no-near for such data (see docs/leakage.md)."
        )
    groups = s["record_groups"]
    if groups["total"]:
        console.print(f"record groups (patients / volumes): {groups['total']}, "
                      f"{groups['across_splits']} in more than one split "
                      f"({groups['train_vs_eval']} in train and val/test)")
    console.print(f"{s['leaky_eval_records']} val/test record(s) duplicate a training image; "
                  f"report written to {out}")
    if fail_on_leak and (leaky or groups["train_vs_eval"]):
        raise MedmatError(
            f"{s['leaky_eval_records']} val/test record(s) duplicate training images and "
            f"{groups['train_vs_eval']} record group(s) sit in train and val/test (see {out}); "
            "fix the splits (ingest with --group-by / --group-column) or drop them when building "
            "(--drop-leaky)"
        )
