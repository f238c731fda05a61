"""Med-MAT JSON: the published item format, one file per split.

Each file is a JSON list of objects with exactly the eight published keys, in the published
order: ``id``, ``caption``, ``image``, ``Question``, ``Answer``, ``Question-choice``,
``Answer-choice``, ``data-no``. Files are named like the upstream ones
(``Subset--01-train.json``): ``{NAME}--{split}.json``, or with ``by_subset`` one file per subset
and split, ``Subset--{subset}-{split}.json`` (the upstream Aggregated_Subsets layout, which
``medmat ingest DIR --format medmat-json`` reads back for two-digit catalog subsets). ``image``
is relative to the data root: the export folder (images copied under ``images/``) or the
records' image root (referenced).

Extension field: a grounding item (``medmat build`` on records with regions) also carries
``answer_box``, its true box as four numbers ``[x1, y1, x2, y2]`` (fractions of the image width
and height, three decimals: :mod:`medmat.qa.boxes`), after the eight published keys; its
``Answer`` is the same box as text and its ``Answer-choice`` is empty (no options). Readers of
the published format ignore the extra key; classification items are unchanged.
"""

from __future__ import annotations

import json

from medmat.export.common import check_name
from medmat.export.registry import WriteContext
from medmat.records import MEDMAT_KEYS


def to_medmat(row: dict, image_path: str) -> dict:
    out = {key: row[key] for key in MEDMAT_KEYS}
    out["id"] = int(out["id"])
    out["data-no"] = str(out["data-no"])
    out["image"] = image_path
    if row.get("answer_box") is not None:
        out["answer_box"] = [float(v) for v in row["answer_box"]]
    return out


def write_medmat_json(ctx: WriteContext) -> list[str]:
    inp = ctx.inp
    for split in inp.splits:
        rows = inp.rows(split)
        if ctx.by_subset:
            groups: dict[str, list[dict]] = {}
            for r in rows:
                groups.setdefault(r["subset"], []).append(r)
            files = {f"Subset--{check_name(sub)}-{split}.json": rs
                     for sub, rs in sorted(groups.items())}
        else:
            files = {f"{ctx.name}--{split}.json": rows}
        for file_name, rs in files.items():
            out = [to_medmat(r, ctx.images[r["image"]].path_in_export(ctx.copied)) for r in rs]
            (ctx.stage / file_name).write_text(
                json.dumps(out, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
            )
    root = "the export folder" if ctx.copied else str(inp.image_root)
    return [f"Med-MAT JSON: image paths are relative to {root}"]
