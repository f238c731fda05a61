"""Hugging Face datasets: Parquet with the image embedded (``Image`` feature) + a dataset card.

Layout ``data/{split}-00000-of-00001.parquet`` (the hub's own naming) plus a README whose YAML
header maps files to splits and declares the features, so both
``load_dataset("parquet", data_files=...)`` and ``load_dataset(EXPORT_DIR)`` work and give the
same types. Rows are written in row groups through ``Features``' Arrow schema (which carries the
``huggingface`` metadata), so memory stays bounded and no ``datasets`` cache is touched.

Typed columns: ``label`` is a ``ClassLabel`` over the build's label space (the sorted union of
every subset's labels, from summary.json), so the same label has the same index in every split
and every export of one build. The Med-MAT keys stay strings, as published.

Grounding builds (items with a true box) add ``answer_box``: four float64 (a fixed-size list,
``[x1, y1, x2, y2]`` as fractions of the image, :mod:`medmat.qa.boxes`), null for classification
items; a grounding item's ``label`` is -1 (``ClassLabel``'s "no label": its answer is a box).
Builds without grounding items are written exactly as before (no box column).
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from medmat.errors import MedmatError
from medmat.export.common import SUMMARY_FILE, ExportInput, ImageFile, image_bytes
from medmat.export.registry import WriteContext

ROW_GROUP = 100  # datasets uses small row groups for image data too (fast random access)
METADATA_COLUMNS = ("id", "caption", "Question", "Answer", "Question-choice", "Answer-choice",
                    "data-no", "options", "modality", "area", "task", "subset", "split",
                    "record_id", "template")


def _datasets():
    try:
        import datasets
    except ImportError:
        raise MedmatError(
            "this export needs the `datasets` library; install it with "
            "`pip install 'medmat[export]'`"
        ) from None
    return datasets


def label_names(inp: ExportInput) -> list[str]:
    """The closed label set: the sorted union of the build's per-subset label spaces."""
    spaces = inp.summary.get("label_spaces")
    if not isinstance(spaces, dict) or not all(isinstance(v, list) for v in spaces.values()):
        raise MedmatError(
            f"{inp.items_dir / SUMMARY_FILE}: no 'label_spaces' entry; rebuild the items with "
            "`medmat build`"
        )
    return sorted({str(lab) for labels in spaces.values() for lab in labels})


BOX_COLUMN = "answer_box"
NO_LABEL = -1  # ClassLabel's "no label" (datasets' convention), for grounding items


def has_boxes(inp: ExportInput) -> bool:
    """Does the build hold grounding items (a non-null ``answer_box``)?"""
    table = inp.table
    return BOX_COLUMN in table.column_names and table.column(BOX_COLUMN).null_count < len(table)


def hf_features(labels: list[str], boxes: bool = False):
    ds = _datasets()
    string = ds.Value("string")
    box = {BOX_COLUMN: ds.List(ds.Value("float64"), length=4)} if boxes else {}
    return ds.Features(
        {
            "image": ds.Image(),
            "image_path": string,
            "id": ds.Value("int64"),
            "caption": string,
            "Question": string,
            "Answer": string,
            "Question-choice": string,
            "Answer-choice": string,
            "data-no": string,
            "options": ds.List(string),
            "label": ds.ClassLabel(names=labels),
            "modality": string,
            "area": string,
            "task": string,
            "subset": string,
            "split": string,
            "record_id": string,
            "template": ds.Value("int32"),
            **box,
        }
    )


def write_image_parquet(rows: list[dict], images: dict[str, ImageFile], dest: Path,
                        features) -> None:
    """Write items with embedded image bytes as a datasets-loadable Parquet file."""
    schema = features.arrow_schema
    index = {name: i for i, name in enumerate(features["label"].names)}
    dest.parent.mkdir(parents=True, exist_ok=True)
    with pq.ParquetWriter(dest, schema) as writer:
        for start in range(0, max(len(rows), 1), ROW_GROUP):
            chunk = rows[start : start + ROW_GROUP]
            batch: dict[str, list] = {name: [] for name in schema.names}
            for r in chunk:
                img = images[r["image"]]
                data, _ = image_bytes(img)
                batch["image"].append({"bytes": data, "path": img.rel})
                batch["image_path"].append(img.rel)
                box = r.get(BOX_COLUMN)
                if BOX_COLUMN in batch:
                    batch[BOX_COLUMN].append(None if box is None else [float(v) for v in box])
                if box is not None:  # a grounding item: its answer is a box, not a label
                    batch["label"].append(NO_LABEL)
                elif r["Answer"] not in index:
                    raise MedmatError(
                        f"item {r['id']}: answer {r['Answer']!r} is not in the build's label "
                        f"spaces (summary.json); rebuild the items with `medmat build`"
                    )
                else:
                    batch["label"].append(index[r["Answer"]])
                for col in METADATA_COLUMNS:
                    batch[col].append(r[col])
            writer.write_table(pa.Table.from_pydict(features.encode_batch(batch), schema=schema))


def shard_name(split: str) -> str:
    return f"data/{split}-00000-of-00001.parquet"


def write_hf(ctx: WriteContext) -> list[str]:
    from medmat.export.hf_card import dataset_card

    inp = ctx.inp
    features = hf_features(label_names(inp), boxes=has_boxes(inp))
    for split in inp.splits:
        write_image_parquet(inp.rows(split), ctx.images, ctx.stage / shard_name(split), features)
    card = dataset_card(inp, features, name=ctx.name, license=ctx.license,
                        shards={s: shard_name(s) for s in inp.splits})
    (ctx.stage / "README.md").write_text(card, encoding="utf-8")
    return [f'load with datasets.load_dataset("parquet", data_files={{"{inp.splits[0]}": '
            f'"<out>/{shard_name(inp.splits[0])}"}}) or load_dataset("<out>")']
