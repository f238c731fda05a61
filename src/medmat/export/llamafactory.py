"""LLaMA-Factory: sharegpt-style JSON (``messages`` + ``images``) and its dataset_info.json entry.

One ``<image>`` placeholder per image, in order, at the start of the user turn. Image paths are
relative to LLaMA-Factory's ``media_dir`` (default: the dataset dir, i.e. the export folder when
images are copied, or the records' image root when they are referenced).

Grounding items (an ``answer_box``) have no answer letter: the assistant turn is the box text in
medmat's canonical form (``[x1, y1, x2, y2]``, fractions of the image with three decimals,
:mod:`medmat.qa.boxes`), which the user turn's closing asks for. The exporter has no model option,
so no backbone convention (e.g. Qwen2-VL's 0-1000 box tokens) is applied here; a LLaMA-Factory
template that wants one converts the canonical text (``medmat.qa.boxes.render_box``).
"""

from __future__ import annotations

import json

from medmat.export.common import dataset_name
from medmat.export.registry import WriteContext

IMAGE_TOKEN = "<image>"


def dataset_info_entry(file_name: str) -> dict:
    """The registration LLaMA-Factory expects for a multimodal sharegpt file."""
    return {
        "file_name": file_name,
        "formatting": "sharegpt",
        "columns": {"messages": "messages", "images": "images"},
        "tags": {
            "role_tag": "role",
            "content_tag": "content",
            "user_tag": "user",
            "assistant_tag": "assistant",
        },
    }


def to_sharegpt(row: dict, image_path: str) -> dict:
    # a grounding item's answer is its canonical box text (its Answer-choice is empty)
    answer = row["Answer"] if row.get("answer_box") is not None else row["Answer-choice"]
    return {
        "messages": [
            {"role": "user", "content": IMAGE_TOKEN + row["Question-choice"]},
            {"role": "assistant", "content": answer},
        ],
        "images": [image_path],
    }


def write_llamafactory(ctx: WriteContext) -> list[str]:
    inp, images = ctx.inp, ctx.images
    info = {}
    for split in inp.splits:
        ds = dataset_name(ctx.name, split, len(inp.splits))
        rows = [to_sharegpt(r, images[r["image"]].path_in_export(ctx.copied))
                for r in inp.rows(split)]
        (ctx.stage / f"{ds}.json").write_text(
            json.dumps(rows, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
        )
        info[ds] = dataset_info_entry(f"{ds}.json")
    (ctx.stage / "dataset_info.json").write_text(
        json.dumps(info, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )
    notes = [f"LLaMA-Factory: dataset_dir: <export folder>; dataset: {', '.join(info)}"]
    if not ctx.copied:
        notes.append(f"images are referenced, not copied: set media_dir: {inp.image_root}")
    return notes
