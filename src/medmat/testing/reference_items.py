"""A plain per-record implementation of the builder, written for clarity, not speed.

It states the algorithm with scalar code (python ints, one dict and one ``json.dumps`` per item)
and must give exactly the same JSON lines as the vectorised path; the tests compare the two on
many random tables and ``benchmarks/bench_qa.py`` uses it as the naive baseline.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator

from medmat.errors import MedmatError
from medmat.qa.balance import MAX_OPTIONS, group_key, position
from medmat.qa.fmt import format_question_choice
from medmat.qa.rng import DRAW_LABEL0, DRAW_TEMPLATE, DRAW_TRUE_LABEL, draw, item_key
from medmat.qa.templates import N_TEMPLATES, TemplateSet
from medmat.records import ITEMS_SCHEMA


def reference_lines(rows: Iterable[dict], *, seed: int, templates: TemplateSet) -> Iterator[str]:
    """JSON lines (without newline) for records given as dicts in table order."""
    rows = list(rows)
    spaces: dict[str, list[str]] = {}
    for row in rows:
        spaces.setdefault(row["subset"], set()).update(row["labels"])  # type: ignore[union-attr]
    spaces = {s: sorted(labs) for s, labs in spaces.items()}
    for s, labs in spaces.items():
        if len(labs) < 2:
            raise MedmatError(f"subset {s!r} has a single label")
    counters: dict[tuple, int] = {}
    for i, row in enumerate(rows):
        labels, space = list(row["labels"]), spaces[row["subset"]]
        if len(set(labels)) != len(labels):
            raise MedmatError(f"record {row['record_id']!r} lists the same label twice")
        key = item_key(seed, row["record_id"])
        template = draw(key, DRAW_TEMPLATE) % N_TEMPLATES
        correct = labels[draw(key, DRAW_TRUE_LABEL) % len(labels)]
        scored = sorted(
            ((draw(key, DRAW_LABEL0 + j) >> 16 << 16) | j, lab)
            for j, lab in enumerate(space) if lab not in labels
        )
        distractors = [lab for _, lab in scored[: MAX_OPTIONS - 1]]
        if not distractors:
            continue  # skipped: every label of the subset is true for this image
        n = len(distractors) + 1
        group = (row["subset"], row["split"], n, correct)
        count = counters.get(group, 0)
        counters[group] = count + 1
        pos = position(group_key(seed, *group), count, n)
        options = distractors[:pos] + [correct] + distractors[pos:]
        question = templates.render(row["subset"], row["task"], row["modality"],
                                    row["area"])[template]
        item = {
            "id": i, "caption": ", ".join(labels), "image": row["image"] or "",
            "Question": question, "Answer": correct,
            "Question-choice": format_question_choice(question, options),
            "Answer-choice": "ABCD"[pos], "data-no": row["source"] or "", "options": options,
            "modality": row["modality"], "area": row["area"], "task": row["task"],
            "subset": row["subset"], "split": row["split"], "record_id": row["record_id"],
            "template": template,
        }
        assert list(item) == ITEMS_SCHEMA.names
        yield json.dumps(item, ensure_ascii=False)
