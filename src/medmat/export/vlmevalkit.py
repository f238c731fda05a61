"""VLMEvalKit MCQ TSV: ``index``, base64 ``image``, ``question``, ``A``..``D``, ``answer``,
``category`` (modality), ``l2-category`` (area), ``split``.

VLMEvalKit loads an unknown local TSV with these columns as a custom MCQ dataset (name = file
stem, placed in ``$LMUData``) and ``report_acc`` groups accuracy by ``category`` and
``l2-category``. A repeated identical image is stored once: later rows hold the ``index`` of the
first row with that image (a short string), which VLMEvalKit resolves.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import string
from pathlib import Path

from medmat.export.common import ExportInput, ImageFile, dataset_name, image_bytes

MIN_LETTERS = 4  # always write A-D (empty cells read back as NaN = "no such option")


def write_vlmevalkit(
    inp: ExportInput, stage: Path, images: dict[str, ImageFile], *, name: str
) -> list[str]:
    n_letters = max([MIN_LETTERS] + [len(o) for o in inp.table.column("options").to_pylist()])
    n_letters = min(n_letters, 26)  # the builder never makes more than a handful of options
    letters = list(string.ascii_uppercase[:n_letters])
    header = ["index", "image", "question", *letters, "answer", "category", "l2-category",
              "split"]
    files = []
    for split in inp.splits:
        ds = dataset_name(name, split, len(inp.splits))
        first_index: dict[str, int] = {}  # image content sha1 -> index of the row that holds it
        buf = io.StringIO()
        writer = csv.writer(buf, delimiter="\t", lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
        writer.writerow(header)
        for r in inp.rows(split):
            data, _ = image_bytes(images[r["image"]])
            key = hashlib.sha1(data).hexdigest()
            if key in first_index:
                image_cell = str(first_index[key])
            else:
                first_index[key] = r["id"]
                image_cell = base64.b64encode(data).decode("ascii")
            options = list(r["options"]) + [""] * (n_letters - len(r["options"]))
            writer.writerow([r["id"], image_cell, r["Question"], *options, r["Answer-choice"],
                             r["modality"], r["area"], split])
        (stage / f"{ds}.tsv").write_text(buf.getvalue(), encoding="utf-8")
        files.append(f"{ds}.tsv")
    return [f"VLMEvalKit: copy {', '.join(files)} into $LMUData and run with --data "
            f"{' '.join(f.removesuffix('.tsv') for f in files)}"]
