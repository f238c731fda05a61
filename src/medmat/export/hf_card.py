"""The dataset card (README.md) of the Hugging Face export.

YAML front matter the hub and ``datasets`` read (licence, task categories, size category,
``configs`` mapping files to splits, ``dataset_info`` with the features and split sizes), then
what the data is, its columns, how to load it, how it was made (from the build's summary.json)
and its licence. Nothing machine-specific (no absolute paths, no dates), so one build gives the
same card byte for byte.
"""

from __future__ import annotations

import importlib.metadata

import yaml

from medmat.export.common import ExportInput
from medmat.qa.answers import CLOSING

_SIZES = ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"),
          (1_000_000, "100K<n<1M"), (10_000_000, "1M<n<10M"))
_COLUMNS = {
    "image": "the image, embedded (the file's own PNG/JPEG bytes; other formats as PNG)",
    "image_path": "the image's path relative to the records folder it came from",
    "id": "item id (the record's row number in the records table)",
    "caption": "the image's label; for multi-label images all true labels, joined by `, `",
    "Question": "the instruction, naming modality and anatomy",
    "Answer": "text of the correct option",
    "Question-choice": "the prompt: question, one `A: text` line per option, then "
                       f"\"{CLOSING}\"",
    "Answer-choice": "the correct letter",
    "data-no": "number of the source dataset the image comes from",
    "options": "option texts in letter order",
    "label": "`ClassLabel` of `Answer` over every label of the build (the sorted union of the "
             "subsets' label spaces)",
    "modality": "imaging modality",
    "area": "anatomical area",
    "task": "task (what the label describes)",
    "subset": "subset id (one modality, area and task)",
    "split": "train / val / test, as given by the source records",
    "record_id": "the record's id in the records table",
    "template": "which of the six question templates was used (0-5)",
    "answer_box": "grounding items: the true box `[x1, y1, x2, y2]` as fractions of the image "
                  "width and height (three decimals; `Answer` is the same box as text, "
                  "`label` is -1); null for classification items",
}


def _size_category(n: int) -> str:
    return next((cat for limit, cat in _SIZES if n < limit), "n>10M")


def _version() -> str:
    try:
        return importlib.metadata.version("medmat")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def _front_matter(inp: ExportInput, features, *, license: str, name: str,
                  shards: dict[str, str]) -> str:
    import datasets

    counts = {s: len(inp.rows(s)) for s in inp.splits}
    # datasets' own YAML form of the features (what push_to_hub writes), so the hub and
    # load_dataset(folder) read back exactly these types
    info = datasets.DatasetInfo(features=features)._to_yaml_dict()
    info["splits"] = [{"name": s, "num_examples": n} for s, n in counts.items()]
    meta = {
        "license": license,
        "pretty_name": name,
        "language": ["en"],
        "task_categories": ["visual-question-answering"],
        "tags": ["medical", "multiple-choice", "medmat"],
        "size_categories": [_size_category(sum(counts.values()))],
        "configs": [{"config_name": "default",
                     "data_files": [{"split": s, "path": p} for s, p in shards.items()]}],
        "dataset_info": info,
    }
    return yaml.safe_dump(meta, sort_keys=False, allow_unicode=True, width=1000)


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|")


def _subsets_table(inp: ExportInput) -> list[str]:
    rows: dict[str, dict] = {}
    for r in inp.table.select(["subset", "modality", "area", "task", "data-no", "split"]
                              ).to_pylist():
        entry = rows.setdefault(r["subset"], {**r, "n": dict.fromkeys(inp.splits, 0),
                                              "sources": set()})
        entry["n"][r["split"]] += 1
        entry["sources"].add(r["data-no"])
    spaces = inp.summary.get("label_spaces", {})
    lines = ["| subset | modality | area | task | labels | source (data-no) | "
             + " | ".join(inp.splits) + " |",
             "|---" * (6 + len(inp.splits)) + "|"]
    for sub, e in sorted(rows.items()):
        cells = [sub, e["modality"], e["area"], e["task"], ", ".join(spaces.get(sub, [])),
                 ", ".join(sorted(e["sources"])), *(e["n"][s] for s in inp.splits)]
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return lines


def _how_made(inp: ExportInput) -> list[str]:
    s = inp.summary
    leak = s.get("leakage", {}) if isinstance(s.get("leakage"), dict) else {}
    skipped = s.get("skipped", {}) if isinstance(s.get("skipped"), dict) else {}
    return [
        "## How it was made",
        "",
        "1. **Records.** Each image and its label(s) come from a records table made by "
        "`medmat ingest` (from a public dataset, named by `data-no`) or `medmat synth` "
        "(synthetic images). Labels are the source's own; splits are the source's own and were "
        "never re-made.",
        f"2. **Items.** `medmat build` (medmat {s.get('medmat_version', 'unknown')}, seed "
        f"{s.get('seed', 'unknown')}) made one item per record ({s.get('n_records', '?')} "
        f"records, {s.get('n_items', '?')} items): a question from six instruction templates "
        "per task, the correct label plus up to three distractors drawn from the other labels "
        "of the same subset, laid out as `A: text` lines.",
        *([f"   {s['letter_balance']}"] if s.get("letter_balance") else []),
        f"   Multi-label images: {s.get('multi_label_policy', 'one item per record.')} "
        f"Records skipped this way: {skipped.get('count', 0)}.",
        "3. **Leakage check.** Validation and test images pixel-identical to a training image "
        + ("were dropped" if leak.get("drop_leaky") else "make the build refuse to run")
        + f" ({leak.get('dropped', 0)} dropped).",
        f"4. **Export.** `medmat export --format hf` (medmat {_version()}) embedded the image "
        "files and wrote these Parquet files and this card.",
        "",
        "Score free-text replies with `medmat.qa.answers.extract_answer` (the rules are in its "
        "docstring and in medmat's `docs/qa.md`); an unparseable reply is \"no answer\", never a "
        "letter.",
    ]


def _license_section(license: str) -> list[str]:
    if license in ("unknown", "other"):
        text = (f"`{license}`: the exporter did not state a licence. The images and labels "
                "come from the source datasets listed by `data-no`, each under its own terms; "
                "check them before using or redistributing this dataset. Set the licence with "
                "`medmat export --license ID`.")
    else:
        text = (f"`{license}`, as stated by whoever exported it. The images and labels come "
                "from the source datasets listed by `data-no`, whose own terms also apply.")
    return ["## License", "", text]


def dataset_card(inp: ExportInput, features, *, name: str, license: str,
                 shards: dict[str, str]) -> str:
    counts = {s: len(inp.rows(s)) for s in inp.splits}
    body = [
        f"# {name}",
        "",
        "Single-choice medical visual question answering items (one image, up to four "
        "options, one correct letter) in the Med-MAT format, organised by MAT: modality, "
        "anatomical area and task. Made with medmat.",
        "",
        "Items per split: " + ", ".join(f"{s} {n}" for s, n in counts.items()) + ".",
        "",
        *_subsets_table(inp),
        "",
        "## Columns",
        "",
        *[f"- `{col}`: {_COLUMNS[col]}" for col in features],
        "",
        "## Loading",
        "",
        "```python",
        "import datasets",
        'ds = datasets.load_dataset("path/to/this/folder")  # every split',
        f'row = ds["{inp.splits[0]}"][0]',
        'row["image"]  # a PIL image',
        f'ds["{inp.splits[0]}"].features["label"].int2str(row["label"])  # == row["Answer"]',
        "```",
        "",
        *_how_made(inp),
        "",
        *_license_section(license),
    ]
    front = _front_matter(inp, features, license=license, name=name, shards=shards)
    return f"---\n{front}---\n\n" + "\n".join(body) + "\n"
