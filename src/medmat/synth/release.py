"""A mock Med-MAT release in the published layout, at a chosen scale (``medmat mock-release``).

What the real release looks like (see ``../shared/medmat/paper-facts.md`` and the catalog's
``qa_file`` column) and what the mock copies of it::

    OUT/Aggregated_Subsets/Subset--NN-train.json   one JSON list of QA items per subset and split
    OUT/Aggregated_Subsets/Subset--NN-test.json    (keys id, caption, image, Question, Answer,
                                                    Question-choice, Answer-choice, data-no)
    OUT/images/NN Modality Area/Dataset (no)/Training/Label/label (i).png    tiny PNGs
    OUT/mock-release.json, README.md, manifest.json                          what was generated

Image paths are relative to OUT (``medmat ingest OUT/Aggregated_Subsets --format medmat-json
--images-root OUT``) and carry spaces and parentheses in folder and file names, like upstream.
Every released classification subset of the catalog (01-37) is written with the catalog's MAT
triplet and source datasets (``data-no``); the label spaces and sizes, which neither the catalog
nor the study published, come from ``release.yaml`` (mock values; see its header). ``--scale``
multiplies the sizes (1 = about 2.36 million rows); every subset keeps at least three rows per
label so each label reaches both splits.

Images are tiny (16x16 grey by default): a modality- and area-dependent background, one bright
grid cell per label (so a model can learn the label) and seeded noise (so no two images are
equal and near-duplicate checks see distinct images). The same seed gives byte-identical files.
"""

from __future__ import annotations

import json
import math
import random
import re
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from medmat.errors import MedmatError

SPEC_FILE = "release.yaml"
KIND = "mock-release"  # manifest kind of a mock release folder
QA_DIR = "Aggregated_Subsets"
SUMMARY_FILE = "mock-release.json"
TEST_SHARE = 0.1  # the study: the original split where one exists, else 9:1
MIN_ROWS_PER_LABEL = 3
SPLITS = ("train", "test")
SPLIT_FOLDERS = {"train": "Training", "test": "Testing"}  # Kaggle-style, as upstream paths
CLOSING = "Answer with the option's letter from the given choices directly."
# Six instructions per subset, like the study's six hand-written ones.
TEMPLATES = (
    "What does this {modality} image of the {area} show?",
    "Which finding is visible in this {area} {modality} image?",
    "Classify this {modality} image of the {area}.",
    "What is the diagnosis for this image of the {area} taken by {modality}?",
    "Which category best describes this {modality} scan of the {area}?",
    "Look at the {area} in this {modality} image: which label applies?",
)
GRID = 4  # labels light one cell of a GRID x GRID grid: at most 16 labels per subset
_UNSAFE = re.compile(r"[^A-Za-z0-9 ._()+,'-]+")


@dataclass(frozen=True)
class SubsetPlan:
    """One subset of the mock: catalog MAT triplet and datasets, mock labels, rows per split."""

    no: str
    modality: str
    area: str
    task: str
    labels: tuple[str, ...]
    multi_label: bool
    datasets: tuple[tuple[int, str], ...]  # (data-no, dataset name) from the catalog
    rows: dict[str, int]
    ood: bool  # cannot supply the 3,000-item training cap at --scale 1 (mock assumption)

    @property
    def mat(self) -> str:
        return f"{self.modality} / {self.area} / {self.task}"

    def file(self, split: str) -> str:
        return f"{QA_DIR}/Subset--{self.no}-{split}.json"


def load_spec() -> dict[str, dict[str, Any]]:
    """``release.yaml``'s subsets, checked against the catalog (every released classification
    subset present with >= 2 distinct labels, >= 3 for multi-label, at most GRID**2)."""
    from medmat.catalog import load_catalog

    where = f"medmat.synth/{SPEC_FILE}"
    raw = yaml.safe_load((resources.files("medmat.synth") / SPEC_FILE).read_text("utf-8"))
    subsets = raw.get("subsets") if isinstance(raw, dict) else None
    if not isinstance(subsets, dict):
        raise MedmatError(f"{where}: expected a mapping 'subsets: {{NN: {{rows, labels}}}}'")
    released = {s.no: s for s in load_catalog().subsets if released_classification(s)}
    if sorted(subsets) != sorted(released):
        raise MedmatError(f"{where}: subsets {sorted(subsets)} differ from the catalog's released "
                          f"classification subsets {sorted(released)}; list each exactly once")
    for no, entry in subsets.items():
        labels = entry.get("labels") if isinstance(entry, dict) else None
        rows = entry.get("rows") if isinstance(entry, dict) else None
        need = 3 if is_multi_label(released[no].task) else 2
        if (not isinstance(labels, list) or len(set(map(str, labels))) != len(labels)
                or not need <= len(labels) <= GRID * GRID):
            raise MedmatError(f"{where}: subsets.{no}.labels: give {need}..{GRID * GRID} "
                              "distinct labels")
        if not isinstance(rows, int) or isinstance(rows, bool) or rows < 1:
            raise MedmatError(f"{where}: subsets.{no}.rows: give a whole number of rows >= 1")
    return subsets


def released_classification(entry: Any) -> bool:
    return bool(entry.released) and entry.task != "Detection/segmentation"


def is_multi_label(task: str) -> bool:
    return task.strip().lower() in ("multi-label", "multilabel")


def split_rows(rows_at_1: int, scale: float, n_labels: int) -> dict[str, int]:
    """Rows per split at ``scale``: round(rows x scale) with at least 3 per label; a 10% test
    share with at least one row per label (test sets are label-balanced in the study)."""
    n = max(MIN_ROWS_PER_LABEL * n_labels, round(rows_at_1 * scale))
    test = max(n_labels, round(n * TEST_SHARE))
    return {"train": n - test, "test": test}


def plan_release(scale: float, subsets: Iterable[str] | None = None) -> list[SubsetPlan]:
    """The subsets to write at ``scale`` (all released classification subsets, or ``subsets``)."""
    from medmat.catalog import load_catalog

    if not (isinstance(scale, int | float) and math.isfinite(scale) and 0 < scale <= 1):
        raise MedmatError(f"--scale {scale}: choose a scale in (0, 1] (1 = about 2.36 million "
                          "rows, 0.01 for CI)")
    spec = load_spec()
    wanted = sorted(spec) if subsets is None else _subset_ids(subsets, spec)
    cat = load_catalog()
    plans = []
    for no in wanted:
        entry, labels = cat.subset(no), tuple(str(x) for x in spec[no]["labels"])
        datasets = tuple((d, cat.dataset(d).name) for d in entry.dataset_nos)
        plans.append(SubsetPlan(no, entry.modality, entry.area, entry.task, labels,
                                is_multi_label(entry.task), datasets,
                                split_rows(spec[no]["rows"], scale, len(labels)),
                                bool(spec[no].get("ood", False))))
    return plans


def _subset_ids(given: Iterable[str], spec: dict[str, Any]) -> list[str]:
    out = []
    for text in given:
        t = str(text).strip()
        if not t.isdigit() or f"{int(t):02d}" not in spec:
            raise MedmatError(f"--subsets {t!r}: not a released classification subset; choose "
                              f"among {min(spec)}..{max(spec)} (see `medmat catalog`)")
        out.append(f"{int(t):02d}")
    if not out:
        raise MedmatError("--subsets: no subset given; write e.g. --subsets 03,04,28")
    return sorted(set(out))


def image_labels(plan: SubsetPlan, split: str) -> list[tuple[str, ...]]:
    """The labels of each image of one split, so that the rows add up exactly.

    Labels cycle (every split label-balanced by first label); in a multi-label subset every
    third image also carries the next label, which makes it one more row.
    """
    out: list[tuple[str, ...]] = []
    left, n_labels = plan.rows[split], len(plan.labels)
    j = 0
    while left > 0:
        first = plan.labels[j % n_labels]
        if plan.multi_label and j % 3 == 2 and left >= 2:
            out.append((first, plan.labels[(j + 1) % n_labels]))
        else:
            out.append((first,))
        left -= len(out[-1])
        j += 1
    return out


def safe_name(text: str) -> str:
    """A folder/file name keeping spaces and parentheses (like upstream) but nothing risky."""
    return _UNSAFE.sub("_", text).strip(" .") or "_"


def image_path(plan: SubsetPlan, split: str, j: int, labels: tuple[str, ...]) -> str:
    no, name = plan.datasets[j % len(plan.datasets)]
    parts = (f"{plan.no} {plan.modality} {plan.area}", f"{name} ({no})", SPLIT_FOLDERS[split],
             labels[0], f"{labels[0].lower()} ({j + 1}).png")
    return "images/" + "/".join(safe_name(p) for p in parts)


def render_image(plan: SubsetPlan, labels: tuple[str, ...], seed: int, split: str, j: int,
                 size: int) -> np.ndarray:
    """A ``size`` x ``size`` uint8 image; depends only on (seed, subset, split, j, labels)."""
    rng = np.random.default_rng([seed, int(plan.no), SPLITS.index(split), j])
    base = 40 + zlib.crc32(plan.modality.encode()) % 100  # the modality sets the brightness
    ramp = np.linspace(0, 30, size)  # the area sets the direction of a gentle gradient
    grad = ramp[:, None] if zlib.crc32(plan.area.encode()) % 2 else ramp[None, :]
    img = base + grad + rng.normal(0, 12, (size, size))
    cell = size // GRID
    for label in labels:
        k = plan.labels.index(label)
        r, c = divmod(k, GRID)
        img[r * cell:(r + 1) * cell, c * cell:(c + 1) * cell] += 90
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def qa_item(plan: SubsetPlan, idx: int, image: str, answer: str, labels: tuple[str, ...],
            dataset_no: int, rng: random.Random) -> dict[str, Any]:
    """One published-format item: the answer and up to three distractors from the subset's
    other labels (never the image's other true labels), in random order."""
    others = [x for x in plan.labels if x not in labels]
    options = [answer, *rng.sample(others, min(3, len(others)))]
    rng.shuffle(options)
    question = rng.choice(TEMPLATES).format(modality=plan.modality, area=plan.area.lower())
    choice = "\n".join([question, *(f"{chr(65 + i)}: {o}" for i, o in enumerate(options)),
                        CLOSING])
    return {"id": idx, "caption": answer.lower().replace(" ", "_"), "image": image,
            "Question": question, "Answer": answer, "Question-choice": choice,
            "Answer-choice": chr(65 + options.index(answer)), "data-no": str(dataset_no)}


def subset_rows(plan: SubsetPlan, split: str, seed: int
                ) -> Iterator[tuple[str, tuple[str, ...], int, dict[str, Any]]]:
    """(image path, image labels, image index, item) for every row of one subset and split."""
    rng = random.Random(f"{seed}|{plan.no}|{split}")
    idx = 0
    for j, labels in enumerate(image_labels(plan, split)):
        path = image_path(plan, split, j, labels)
        dataset_no = plan.datasets[j % len(plan.datasets)][0]
        for answer in labels:
            yield path, labels, j, qa_item(plan, idx, path, answer, labels, dataset_no, rng)
            idx += 1


def write_release(out: str | Path, scale: float, *, seed: int = 0, size: int = 16,
                  subsets: Iterable[str] | None = None, force: bool = False) -> dict[str, Any]:
    """Write the mock release to ``out`` (staged beside it and swapped in: never half-written).

    ``out`` must be new or empty, or hold a mock release and ``force`` (medmat.outdir's rules).
    Returns the summary also written to ``OUT/mock-release.json``.
    """
    from medmat.io import staged_dir, write_json, write_text
    from medmat.manifest import Manifest, output_digests, write_manifest
    from medmat.outdir import check_out_dir
    from medmat.progress import progress_bar

    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise MedmatError(f"--seed {seed}: use a whole number >= 0")
    if not 8 <= size <= 64:
        raise MedmatError(f"--size {size}: the mock's images are tiny; choose 8..64 pixels")
    plans = plan_release(scale, subsets)  # checks scale and subsets before anything is written
    check_out_dir(out, KIND, force=force)
    config = {"scale": scale, "seed": seed, "size": size, "subsets": [p.no for p in plans]}
    summary: dict[str, Any] = {**config, "layout": _LAYOUT, "subsets": {}}
    total = sum(sum(p.rows.values()) for p in plans)
    with staged_dir(out) as stage, progress_bar("mock release", total) as advance:
        for plan in plans:
            images = {s: _write_split(stage, plan, s, seed, size, advance) for s in SPLITS}
            summary["subsets"][plan.no] = {
                "mat": plan.mat, "multi_label": plan.multi_label, "labels": list(plan.labels),
                "data_no": [no for no, _ in plan.datasets], "rows": plan.rows,
                "images": images, "ood_at_scale_1": plan.ood,
                "files": [plan.file(s) for s in SPLITS]}
        summary["total"] = {"rows": total, "images": sum(
            sum(s["images"].values()) for s in summary["subsets"].values())}
        write_json(stage / SUMMARY_FILE, summary)
        write_text(stage / "README.md", readme(summary))
        names = [p.file(s) for p in plans for s in SPLITS] + [SUMMARY_FILE, "README.md"]
        # Images are not hashed (millions at --scale 1); the JSON files name every one of them.
        write_manifest(stage, Manifest(KIND, config).with_outputs(output_digests(stage, names)))
    return summary


_LAYOUT = {"qa": f"{QA_DIR}/Subset--NN-{{train,test}}.json", "images": "images/ (relative to "
           "the release folder: ingest with --images-root RELEASE)"}


def _write_split(stage: Path, plan: SubsetPlan, split: str, seed: int, size: int,
                 advance: Any) -> int:
    """Write one subset's JSON file for ``split`` and its PNGs; return the number of images."""
    from PIL import Image

    made: set[Path] = set()
    n_images, pending = 0, 0
    qa = stage / plan.file(split)
    qa.parent.mkdir(parents=True, exist_ok=True)
    with open(qa, "w", encoding="utf-8") as fh:  # inside the stage: swapped in whole at the end
        fh.write("[")
        last = None
        for k, (path, labels, j, item) in enumerate(subset_rows(plan, split, seed)):
            if path != last:  # a multi-label image has several rows but one file
                dest = stage / path
                if dest.parent not in made:
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    made.add(dest.parent)
                pixels = render_image(plan, labels, seed, split, j, size)
                Image.fromarray(pixels, mode="L").save(dest, format="PNG")
                n_images, last = n_images + 1, path
            fh.write(("\n" if k == 0 else ",\n") + json.dumps(item, ensure_ascii=False))
            pending += 1
            if pending == 512:  # a bar update per row would cost more than the row
                advance(pending)
                pending = 0
        fh.write("\n]\n")
    advance(pending)
    return n_images


def readme(summary: dict[str, Any]) -> str:
    """A human summary of a mock release: what it is, how to ingest it, a table of subsets."""
    lines = [
        "# A mock Med-MAT release (medmat mock-release)", "",
        f"Scale {summary['scale']}, seed {summary['seed']}, {summary['size']}x{summary['size']} "
        f"px images: {summary['total']['rows']} rows, {summary['total']['images']} images.", "",
        "MOCK DATA: the layout, item keys, subset ids, MAT triplets and data-no are the real "
        "release's (the catalog's); labels and sizes are mock values (medmat/synth/release.yaml)"
        ".", "",
        "    medmat ingest RELEASE/Aggregated_Subsets --format medmat-json \\",
        "        --images-root RELEASE --out records", "",
        "| subset | MAT | labels | train rows | test rows | train images | test images |",
        "|---|---|---|---|---|---|---|",
    ]
    for no, s in summary["subsets"].items():
        lines.append(f"| {no} | {s['mat']} | {len(s['labels'])} | {s['rows']['train']} | "
                     f"{s['rows']['test']} | {s['images']['train']} | {s['images']['test']} |")
    return "\n".join(lines) + "\n"
