"""VLMEvalKit MCQ TSV: ``index``, base64 ``image``, ``question``, ``A``..``D``, ``answer``,
``category`` (modality), ``l2-category`` (area), ``split``, ``medmat_prompt``.

VLMEvalKit loads an unknown local TSV with these columns as a custom MCQ dataset (name = file
stem, placed in ``$LMUData``) and ``report_acc`` groups accuracy by ``category`` and
``l2-category``. A repeated identical image is stored once: later rows hold the ``index`` of the
first row with that image (a short string), which VLMEvalKit resolves.

VLMEvalKit renders its own MCQ prompt from the letter columns (and parses replies its own way),
so the letter columns hold the options exactly as :mod:`medmat.qa.answers` letters them, and
``medmat_prompt`` carries medmat's prompt verbatim (question, ``A: text`` lines, closing) for a
custom ``build_prompt`` that should see what medmat trains and scores with.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io

from medmat.export.common import dataset_name, image_bytes
from medmat.export.registry import WriteContext
from medmat.qa.answers import LETTERS, format_question_choice

MIN_LETTERS = 4  # always write A-D (empty cells read back as NaN = "no such option")


def write_vlmevalkit(ctx: WriteContext) -> list[str]:
    inp = ctx.inp
    n_letters = max([MIN_LETTERS] + [len(o) for o in inp.table.column("options").to_pylist()])
    letters = list(LETTERS[:n_letters])
    header = ["index", "image", "question", *letters, "answer", "category", "l2-category",
              "split", "medmat_prompt"]
    files = []
    skipped = 0  # grounding items: VLMEvalKit's MCQ format has no box answers
    for split in inp.splits:
        ds = dataset_name(ctx.name, split, len(inp.splits))
        first_index: dict[str, int] = {}  # image content sha1 -> index of the row that holds it
        buf = io.StringIO()
        writer = csv.writer(buf, delimiter="\t", lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
        writer.writerow(header)
        for r in inp.rows(split):
            if r.get("answer_box") is not None:
                skipped += 1
                continue
            data, _ = image_bytes(ctx.images[r["image"]])
            key = hashlib.sha1(data).hexdigest()
            if key in first_index:
                image_cell = str(first_index[key])
            else:
                first_index[key] = r["id"]
                image_cell = base64.b64encode(data).decode("ascii")
            options = list(r["options"])
            prompt = format_question_choice(r["Question"], options)
            cells = options + [""] * (n_letters - len(options))
            writer.writerow([r["id"], image_cell, r["Question"], *cells, r["Answer-choice"],
                             r["modality"], r["area"], split, prompt])
        (ctx.stage / f"{ds}.tsv").write_text(buf.getvalue(), encoding="utf-8")
        files.append(f"{ds}.tsv")
    notes = [f"VLMEvalKit: copy {', '.join(files)} into $LMUData and run with --data "
             f"{' '.join(f.removesuffix('.tsv') for f in files)}"]
    if skipped:
        notes.append(f"VLMEvalKit: {skipped} grounding item(s) left out (its MCQ format has no "
                     "box answers; export them with --format lmms-eval, hf or llamafactory)")
    return notes
