"""``medmat mock-release --scale S --out DIR``: a mock Med-MAT release in the published layout.

A separate command rather than an option of ``medmat synth``: that one is a single command
whose options all describe the synthetic lab, while the mock release has its own (scale,
subsets) and its own output kind.
"""

from __future__ import annotations

import time
from pathlib import Path

import click

from medmat.errors import MedmatError


@click.command(name="mock-release")
@click.option("--out", "out_dir", required=True, type=click.Path(path_type=Path),
              help="Output folder: Aggregated_Subsets/*.json, images/, mock-release.json, "
                   "README.md (replaced only with --force).")
@click.option("--scale", required=True, type=float,
              help="Share of the release's size: 1 = about 2.36 million rows, 0.01 for CI.")
@click.option("--seed", default=0, show_default=True, type=int,
              help="Seed of the images and questions (same seed: byte-identical files).")
@click.option("--subsets", default=None, metavar="LIST",
              help="Comma-separated subset numbers (default: every released classification "
                   "subset, 01-37).")
@click.option("--size", default=16, show_default=True, type=int,
              help="Image side in pixels (8-64).")
@click.option("--force", is_flag=True, help="Replace a mock release already in --out.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar and no summary line.")
def command(out_dir: Path, scale: float, seed: int, subsets: str | None, size: int,
            force: bool, quiet: bool) -> None:
    """Generate a mock Med-MAT release: the published JSON layout with tiny images.

    Every released classification subset of the catalog (01-37) gets
    Aggregated_Subsets/Subset--NN-train.json and -test.json with the published item keys,
    the catalog's MAT triplet and data-no, and PNGs under paths with spaces and parentheses.
    Label spaces and sizes are mock values (docs/synth.md, "A mock Med-MAT release").

    \b
      medmat mock-release --scale 0.01 --out runs/release
      medmat ingest runs/release/Aggregated_Subsets --format medmat-json \\
          --images-root runs/release --out runs/records
      medmat study pairwise --catalog --records runs/records --out runs/plan
    """
    from medmat.cli.synth_cmd import _progress_off
    from medmat.synth.release import write_release

    wanted = None
    if subsets is not None:
        wanted = [s.strip() for s in subsets.split(",") if s.strip()]
        if not wanted:
            raise MedmatError("--subsets: no subset given; write e.g. --subsets 03,04,28")
    start = time.perf_counter()
    with _progress_off(quiet):
        summary = write_release(out_dir, scale, seed=seed, size=size, subsets=wanted,
                                force=force)
    if not quiet:
        took = time.perf_counter() - start
        total = summary["total"]
        click.echo(f"wrote a mock release: {len(summary['subsets'])} subsets, {total['rows']} "
                   f"rows, {total['images']} images in {took:.1f} s -> {out_dir}")
        click.echo(f"next: medmat ingest {out_dir}/Aggregated_Subsets --format medmat-json "
                   f"--images-root {out_dir} --out RECORDS")
