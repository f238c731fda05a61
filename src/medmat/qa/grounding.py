"""Grounding items: a record with regions becomes one "where is the finding?" question.

Which records: a record whose ``regions`` column holds at least one box is a detection /
grounding record and gives a grounding item *instead of* a classification item (its task is to
locate, and a detection subset usually has a single label, which a multiple-choice question
cannot use). Records without regions are classification records, as before.

One item per record (like classification, so the item ``id`` stays the record's row):

* a region's name is its ``label``; an unlabelled region (a plain binary mask) is named by the
  record's labels joined with ", " (the caption), i.e. it is the record's own finding;
* when the regions carry several names, one is picked by the item's random stream
  (``draw(1) mod n_names`` over the sorted names, as the multi-label policy picks the correct
  label); the answer is the *outer extent* of all regions of that name (the study's rule: one
  box per image, from the masks' outer extent);
* the box is normalised by the stored image's size (read from the image header) into the
  canonical form of :mod:`medmat.qa.boxes`; a box too small to show at three decimals (zero
  width or height once rounded) makes no item and is listed as skipped.

The question is ``draw(0) mod 6``-th of the ``grounding`` templates (:mod:`medmat.qa.templates`)
naming the finding, modality and anatomy; ``Question-choice`` adds :data:`GROUNDING_CLOSING`;
``Answer`` is the canonical box text and ``answer_box`` the same numbers; there are no options
and no answer letter. The item has the record's split, like every item.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from PIL import Image

from medmat.errors import MedmatError
from medmat.imaging import require_nonempty_file, resolve_under_root
from medmat.qa.boxes import format_box, from_pixels
from medmat.qa.core import BatchItems, ItemFactory
from medmat.qa.rng import DRAW_TEMPLATE, DRAW_TRUE_LABEL, draw, item_key
from medmat.qa.templates import N_TEMPLATES, TemplateSet
from medmat.records import ANSWER_BOX_FIELD, ITEMS_SCHEMA
from medmat.regions import REGIONS_FIELD, box_problem

GROUNDING_SCHEMA = ITEMS_SCHEMA.append(ANSWER_BOX_FIELD)
GROUNDING_CLOSING = (
    "Answer with the bounding box [x1, y1, x2, y2] as fractions of the image width and height, "
    "with three decimals."
)
GROUNDING_POLICY = (
    "A record with regions gives one grounding item and no classification item. Its regions "
    "are named by their label (an unlabelled region by the record's labels); with several "
    "names one is picked by the item's random stream; the answer is the outer extent of all "
    "regions of that name, normalised to the image size: [x1, y1, x2, y2] in 0-1, three "
    "decimals."
)
SKIP_TINY = "the box is too small to show at three decimals (zero width or height once rounded)"


def region_rows(batch: pa.RecordBatch | pa.Table) -> np.ndarray:
    """Boolean mask of the rows that carry at least one region (grounding records)."""
    if REGIONS_FIELD.name not in batch.schema.names:
        return np.zeros(batch.num_rows, dtype=bool)
    lens = pc.list_value_length(batch.column(REGIONS_FIELD.name)).fill_null(0)
    return np.asarray(lens, dtype=np.int64) > 0


def image_size(root: Path, rel: str) -> tuple[int, int]:
    """(width, height) of a stored image from its header (no pixel decoding)."""
    path = resolve_under_root(root, rel)
    require_nonempty_file(path, "image file")
    try:
        with Image.open(path) as img:
            return img.size
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise MedmatError(f"{path}: not a readable image ({exc})") from None


def target_box(record_id: str, labels: Sequence[str], regions: Sequence[dict], key: int,
               size: tuple[int, int]) -> tuple[str, tuple[float, float, float, float]]:
    """(name of the finding, its canonical box) for one region record (module docstring)."""
    caption = ", ".join(labels)
    by_name: dict[str, list[tuple[float, ...]]] = {}
    for reg in regions:
        box = (reg["x1"], reg["y1"], reg["x2"], reg["y2"])
        problem = box_problem(box, size)
        if problem:
            raise MedmatError(f"record {record_id!r}: {problem}; fix its regions or re-ingest")
        by_name.setdefault(reg.get("label") or caption, []).append(box)
    names = sorted(by_name)
    name = names[draw(key, DRAW_TRUE_LABEL) % len(names)]
    boxes = np.asarray(by_name[name], dtype=float)
    extent = (*boxes[:, :2].min(axis=0), *boxes[:, 2:].max(axis=0))
    return name, from_pixels(extent, *size)


class GroundingMaker:
    """Grounding items for the region rows of record batches (per row; such rows are few)."""

    def __init__(self, templates: TemplateSet, seed: int, image_root: Path | None) -> None:
        self.templates, self.seed, self.image_root = templates, seed, image_root

    def make(self, batch: pa.RecordBatch, ids: np.ndarray) -> BatchItems:
        if self.image_root is None:
            raise MedmatError("records with regions need their images to normalise the boxes; "
                              "pass image_root (the folder the image paths are relative to)")
        rows, kept_ids, skipped = [], [], []
        for i, rec in zip(ids.tolist(), batch.to_pylist(), strict=True):
            key = item_key(self.seed, rec["record_id"])
            size = image_size(self.image_root, rec["image"])
            name, box = target_box(rec["record_id"], rec["labels"], rec[REGIONS_FIELD.name],
                                   key, size)
            if box[2] <= box[0] or box[3] <= box[1]:
                skipped.append({"id": i, "record_id": rec["record_id"], "subset": rec["subset"],
                                "reason": SKIP_TINY})
                continue
            template = draw(key, DRAW_TEMPLATE) % N_TEMPLATES
            question = self.templates.render_grounding(rec["modality"], rec["area"],
                                                       name)[template]
            rows.append({
                "id": i, "caption": ", ".join(rec["labels"]), "image": rec["image"] or "",
                "Question": question, "Answer": format_box(box),
                "Question-choice": question + "\n" + GROUNDING_CLOSING, "Answer-choice": "",
                "data-no": rec["source"] or "", "options": [],
                **{c: rec[c] for c in ("modality", "area", "task", "subset", "split",
                                       "record_id")},
                "template": template, "answer_box": list(box),
            })
            kept_ids.append(i)
        table = pa.Table.from_pylist(rows, schema=GROUNDING_SCHEMA)
        lines = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in table.to_pylist())
        return BatchItems(table, pa.py_buffer(lines.encode("utf-8")), skipped)


def _lines(buf: pa.Buffer) -> list[bytes]:
    # JSON escapes every line break inside a value, so b"\n" only ends lines
    return buf.to_pybytes().splitlines(keepends=True)


def merge(a: BatchItems, b: BatchItems) -> BatchItems:
    """Two batches' items (each in id order) as one, in id order."""
    if b.table.num_rows == 0:
        return BatchItems(a.table, a.jsonl, a.skipped + b.skipped)
    if a.table.num_rows == 0:
        return BatchItems(b.table, b.jsonl, a.skipped + b.skipped)
    table = pa.concat_tables([a.table, b.table])
    order = np.argsort(np.asarray(table.column("id")), kind="stable")
    lines = _lines(a.jsonl) + _lines(b.jsonl)
    jsonl = pa.py_buffer(b"".join(lines[i] for i in order.tolist()))
    skipped = sorted(a.skipped + b.skipped, key=lambda s: s["id"])
    return BatchItems(table.take(pa.array(order)), jsonl, skipped)


def make_items(factory: ItemFactory, grounder: GroundingMaker, batch: pa.RecordBatch,
               ids: np.ndarray) -> BatchItems:
    """Items of one records batch: classification rows by the vectorised factory, region rows
    by the grounding maker, merged in id order."""
    ground = region_rows(batch)
    if not ground.any():
        return factory.make(batch, ids)
    idx = np.flatnonzero(ground)
    boxes = grounder.make(batch.take(pa.array(idx)), ids[idx])
    rest = np.flatnonzero(~ground)
    if len(rest) == 0:
        return boxes
    return merge(factory.make(batch.take(pa.array(rest)), ids[rest]), boxes)
