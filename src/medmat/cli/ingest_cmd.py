"""``medmat ingest PATH --format F --out DIR``: a real dataset -> records.parquet + report."""

from __future__ import annotations

import click

from medmat.errors import MedmatError
from medmat.ingest.formats import FORMATS


def _window(value: str | None) -> tuple[float, float] | None:
    if not value:
        return None
    try:
        centre, width = (float(v) for v in value.split(","))
    except ValueError:
        raise MedmatError(f"--window {value!r}: expected CENTRE,WIDTH (e.g. 40,400)") from None
    return centre, width


@click.command(name="ingest")
@click.argument("path", type=click.Path(path_type=str))
@click.option("--format", "fmt", required=True,
              type=click.Choice(list(FORMATS)),
              help="Source layout (see docs/ingest.md).")
@click.option("--out", required=True, type=click.Path(path_type=str),
              help="Output folder: records.parquet, ingest-report.json, images/.")
@click.option("--modality", help="MAT modality (e.g. X-ray); overrides catalog/mapping.")
@click.option("--area", help="MAT anatomical area (e.g. Lung).")
@click.option("--task", help="MAT task family (e.g. COVID-19).")
@click.option("--subset", help="Subset name for the records (default: catalog number or "
              "modality-area-task codes).")
@click.option("--source-name", help="Name stored in the records' source column.")
@click.option("--images-root", type=click.Path(path_type=str),
              help="Folder the table's / JSON's image paths are relative to (default: its folder).")
@click.option("--on-error", type=click.Choice(["fail", "skip"]), default="fail", show_default=True,
              help="fail: write nothing if any row is bad; skip: drop bad rows, list them in "
              "the report.")
@click.option("--force", is_flag=True, help="Replace a non-empty --out folder.")
@click.option("--labels", help="Allowed labels, comma-separated; others are errors.")
@click.option("--labels-file", type=click.Path(path_type=str),
              help="Allowed labels, one per line (for labels containing commas).")
@click.option("--file-column", help="Table column with the image path (default: auto).")
@click.option("--label-column", help="Table column with the label(s) (default: auto).")
@click.option("--label-sep", help="Separator inside the label column for multi-label rows.")
@click.option("--onehot-column", "onehot_columns", multiple=True,
              help="A 0/1 column whose name is a label (repeat for each label).")
@click.option("--none-label", help="Label for rows with no positive label (multi-label).")
@click.option("--split-column", help="Table column with train/val/test (default: 'split').")
@click.option("--group-column", help="Table column with a patient/group id: split by group.")
@click.option("--delimiter", help="Table delimiter (default: ',' or tab for .tsv).")
@click.option("--val-frac", type=float, default=0.0, show_default=True,
              help="Validation share when medmat makes the split.")
@click.option("--test-frac", type=float, default=0.1, show_default=True,
              help="Test share when the source has no test split (9:1 like the study).")
@click.option("--seed", type=int, default=0, show_default=True, help="Split seed.")
@click.option("--flag", help="MedMNIST flag when the file name does not say (e.g. pathmnist).")
@click.option("--max-archive-mb", type=float, default=20480, show_default=True,
              help="MedMNIST .npz: refuse archives whose arrays decompress to more than this.")
@click.option("--frame", type=int, help="DICOM multi-frame: frame index (default: middle).")
@click.option("--plane", type=click.Choice(["axial", "coronal", "sagittal"]), default="axial",
              show_default=True, help="NIfTI slice plane.")
@click.option("--slice", "slice_index", type=int, help="NIfTI slice index (default: middle).")
@click.option("--window", help="CENTRE,WIDTH intensity window for DICOM/NIfTI, in the units "
              "after the modality LUT (Hounsfield units for CT); overrides the file's window and "
              "the percentile default.")
@click.option("--slices", default="middle", show_default=True,
              help="NIfTI / multi-frame DICOM: middle, every:K, even:N (N evenly spaced) or "
              "mask:N (the N slices where --mask-pattern's mask is largest).")
@click.option("--mask-pattern", help="Each image's segmentation mask, e.g. '{stem}_mask.png' "
              "(folder/csv: a PNG) or '{stem}_seg.nii.gz' (nifti: a label volume): records get "
              "its boxes as regions; also what --slices mask:N measures. {stem} = file name "
              "without .png/.nii.gz/.dcm, {name} = file name, {dir} = the file's folder; "
              "relative to the file's folder, or to the dataset root when it starts with '/'.")
@click.option("--box-per", type=click.Choice(["image", "component"]), default="image",
              show_default=True, help="Masks: one box per class (outer extent, as the study) or "
              "one per connected component.")
@click.option("--min-area", type=int, default=1, show_default=True,
              help="Masks: drop regions with fewer foreground pixels.")
@click.option("--mask-labels", help="Masks: name a label map's values, e.g. '1=Tumor,2=Cyst' "
              "(default: binary mask, boxes without a label).")
@click.option("--boxes", type=click.Path(path_type=str), help="folder/csv: a box table "
              "(CSV/JSON with image,x_min,y_min,x_max,y_max or bbox=[x,y,w,h], or a COCO "
              "document) giving records regions; pixel coordinates of the image as stored.")
@click.option("--group-by", type=click.Choice(["auto", "patient", "study", "series", "volume",
                                               "folder", "none"]),
              default="auto", show_default=True,
              help="DICOM/NIfTI: the group kept on one side of the split and stored in the "
              "records (auto: DICOM Patient ID, NIfTI the volume file).")
@click.option("--max-volume-mb", type=float, default=512, show_default=True,
              help="DICOM/NIfTI: refuse files whose header declares more decoded data than this.")
def command(path: str, fmt: str, out: str, labels: str | None, labels_file: str | None,
            window: str | None, **kwargs: object) -> None:
    """Bring a real dataset in as a records table (OUT/records.parquet).

    Every image is opened, converted to an 8-bit PNG under OUT/images/ and hashed; bad rows
    stop the run (nothing written) or, with --on-error skip, are dropped and listed in
    OUT/ingest-report.json. Then run `medmat build OUT --out ITEMS`.

    \b
    Examples:
      medmat ingest data/xray --format folder --out runs/xray \\
          --modality X-ray --area Lung --task COVID-19
      medmat ingest data/meta.csv --format csv --out runs/skin --label-sep '|' \\
          --modality Dermoscopy --area Skin --task "Lesion type"
      medmat ingest pathmnist_64.npz --format medmnist --out runs/path
      medmat ingest Med-MAT/ori--45-train.json --format medmat-json \\
          --images-root Med-MAT/images --out runs/d45
    """
    from medmat.ingest import REPORT_FILE, IngestOptions, ingest
    from medmat.ingest.labels import parse_labels_option

    opts = IngestOptions.from_kwargs(
        labels=parse_labels_option(labels, labels_file), window=_window(window), **kwargs
    )
    report = ingest(path, fmt, out, opts)
    counts = report["counts"]
    splits = ", ".join(f"{k} {v}" for k, v in counts["by_split"].items())
    click.echo(
        f"ingested {counts['records']} record(s) from {counts['rows']} row(s) "
        f"({splits}; splits: {report['splits']['origin']}) -> {out}/records.parquet"
    )
    for m in report["mat"]:
        click.echo(f"  {m['modality']} / {m['area']} / {m['task']} (subset {m['subset']}): "
                   f"{m['records']}")
    if counts.get("regions"):
        click.echo(f"regions: {counts['regions']} box(es) on {counts['with_regions']} record(s)")
    if counts["skipped"]:
        click.echo(f"skipped {counts['skipped']} bad row(s); reasons in {out}/{REPORT_FILE}")
    spread = report["splits"]["groups_across_splits"]
    if spread:
        click.echo(
            f"warning: {len(spread)} group(s) (patients / volumes) have records in more than one "
            f"of the source's splits, e.g. {spread[0]!r}; see `medmat leakage {out}`", err=True,
        )
    if report["cross_split_duplicates"]:
        click.echo(
            f"warning: {len(report['cross_split_duplicates'])} evaluation image(s) are "
            "pixel-identical to training images in the source splits; see "
            f"`medmat leakage {out}`", err=True,
        )
