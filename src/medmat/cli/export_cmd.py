"""``medmat export ITEMS_DIR --format ... --out DIR``: items for other training/eval tools."""

from __future__ import annotations

from pathlib import Path

import click

from medmat.export import DEFAULT_LICENSE, DEFAULT_NAME, FORMATS, IMAGE_MODES, REGISTRY

_FORMAT_HELP = "Target format: " + "; ".join(f"{f.name} ({f.summary})" for f in REGISTRY.values())


@click.command(name="export")
@click.argument("items_dir", type=click.Path(path_type=Path))
@click.option("--format", "fmt", required=True, type=click.Choice(FORMATS), help=_FORMAT_HELP)
@click.option("--out", "out", required=True, type=click.Path(path_type=Path),
              help="Output folder (created; an existing export replaced only with --force).")
@click.option("--split", "splits", multiple=True, type=click.Choice(["train", "val", "test"]),
              help="Export only this split (repeatable). Default: every split present.")
@click.option("--name", default=DEFAULT_NAME, show_default=True,
              help="Dataset / task / file name (NAME_SPLIT when several splits).")
@click.option("--images", "images", default="copy", show_default=True,
              type=click.Choice(IMAGE_MODES),
              help="llamafactory / medmat-json: copy images under OUT/images/ or reference "
                   "them in place (relative to the build's image_root).")
@click.option("--by-subset", is_flag=True,
              help="medmat-json: one Subset--NN-SPLIT.json per subset and split (the upstream "
                   "Aggregated_Subsets layout) instead of NAME--SPLIT.json.")
@click.option("--force", "--overwrite", "overwrite", is_flag=True,
              help="Replace an existing export in --out (--overwrite: same).")
@click.option("--license", "license_id", default=None,
              help=f"hf: the dataset card's licence identifier (e.g. cc-by-4.0). Default: "
                   f"{DEFAULT_LICENSE} (the card then says to check each source's terms).")
def command(items_dir: Path, fmt: str, out: Path, splits: tuple[str, ...], name: str,
            images: str, by_subset: bool, overwrite: bool, license_id: str | None) -> None:
    """Export the VQA items in ITEMS_DIR (the output of `medmat build`) to another tool.

    \b
    Examples:
      medmat export runs/items --format llamafactory --split train --out runs/lf
      medmat export runs/items --format hf --out runs/hf --license cc-by-4.0
      medmat export runs/items --format vlmevalkit --split test --out runs/vlmeval
      medmat export runs/items --format lmms-eval --split test --out runs/lmms
      medmat export runs/items --format medmat-json --out runs/medmat-json
      medmat export runs/items --format medmat-json --by-subset --out runs/Aggregated_Subsets
    """
    from medmat.export import export

    result = export(items_dir, fmt, out, splits=list(splits) or None, name=name, images=images,
                    overwrite=overwrite, by_subset=by_subset, license=license_id)
    counts = ", ".join(f"{s}: {n}" for s, n in result.counts.items())
    click.echo(f"exported {sum(result.counts.values())} item(s) ({counts}), "
               f"{result.images} image(s) as {fmt} to {result.out}")
    shown = [f for f in result.files if not f.startswith("images/")]
    n_img = len(result.files) - len(shown)
    for f in shown:
        click.echo(f"  {f}")
    if n_img:
        click.echo(f"  images/ ({n_img} file(s))")
    for note in result.notes:
        click.echo(note)
