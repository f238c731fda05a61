"""The published Med-MAT QA files: ``ori--NN-{train,test}.json`` and ``Subset--NN-*.json``.

Each file is a JSON list of items with the keys ``id, caption, image, Question, Answer,
Question-choice, Answer-choice, data-no``. One record per distinct image per file: the label is
``Answer`` (the merged label; ``caption`` is the dataset's original wording); when an image is
asked several times with different answers (multi-label sets) the answers are united. The MAT
triplet comes from the catalog: ``Subset--NN`` files use subset NN, ``ori--NN`` files (and files
with other names) use dataset ``data-no``. The label space is the union of the option texts.
Images are resolved under ``--images-root`` (default: the JSON file's folder); upstream paths
contain spaces and parentheses, which is fine. ``image``, ``Answer``, ``Question-choice`` and
``Answer-choice`` must be JSON strings (``data-no`` may be a number); image paths are
normalised (``./a.png`` is ``a.png``) before items are merged.
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

from medmat.errors import MedmatError
from medmat.imaging import resolve_under_root
from medmat.ingest.labels import clean_label, label_value, normalise_rel
from medmat.ingest.model import Candidate, SourceResult
from medmat.ingest.options import IngestOptions
from medmat.ingest.sources import Decoder
from medmat.ingest.textio import read_json
from medmat.records import text_problem

NAME_RE = re.compile(r"^(?P<kind>ori|subset)--(?P<no>\d+)-(?P<split>train|val|test)\.json$", re.I)
OPTION_RE = re.compile(r"^([A-Z]):\s?(.*)$")


def parse_options(question_choice: str) -> list[str]:
    """Option texts in letter order from ``Question-choice`` (lines ``A: text``)."""
    found: dict[str, str] = {}
    for line in str(question_choice).splitlines():
        m = OPTION_RE.match(line.strip())
        if m and m.group(1) not in found:
            found[m.group(1)] = clean_label(m.group(2))
    letters = sorted(found)
    # Only a run starting at A counts ("A:", "B:", ...); a stray "X: ..." in the question is text.
    out = []
    for expected, letter in zip("ABCDEFGHIJKLMNOPQRSTUVWXYZ", letters, strict=False):
        if letter != expected:
            break
        out.append(found[letter])
    return out


def _files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    if path.is_dir():
        files = sorted(p for p in path.rglob("*.json") if NAME_RE.match(p.name))
        if files:
            return files
        raise MedmatError(
            f"{path}: no Med-MAT files (ori--NN-train.json, Subset--NN-test.json, ...) inside"
        )
    raise MedmatError(f"{path}: file not found")


class _Catalog:
    """Lazy catalog look-ups with user-facing errors (one row's bad data-no skips one row)."""

    def __init__(self) -> None:
        from medmat.catalog import load_catalog

        self.cat = load_catalog()

    def dataset(self, no: object) -> tuple[tuple[str, str, str], str | None]:
        try:
            entry = self.cat.dataset(int(str(no).strip()))
        except (KeyError, LookupError, ValueError, TypeError, MedmatError):
            raise MedmatError(
                f"data-no {no!r} is not a dataset in the Med-MAT catalog (`medmat catalog`)"
            ) from None
        return (entry.modality, entry.area, entry.task), entry.subset

    def subset(self, no: str) -> tuple[str, str, str]:
        try:
            entry = self.cat.subset(f"{int(no):02d}")
        except (KeyError, LookupError, ValueError, MedmatError):
            raise MedmatError(f"subset {no!r} is not in the Med-MAT catalog") from None
        return entry.modality, entry.area, entry.task


def _string(item: dict, key: str, numbers: bool = False) -> str:
    """A string field ('' when absent); a number only where ``numbers`` (``data-no``)."""
    value = item.get(key)
    if value is None:
        return ""
    if numbers and isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str):
        raise MedmatError(f"{text_problem(value, repr(key))}; write it as a JSON string")
    return value.strip()


def _fields(item: dict) -> tuple[str, str, list[str], str, str | None]:
    """(image path, label, options, Answer-choice, data-no), type-checked and normalised."""
    image = _string(item, "image")
    image = normalise_rel(image) if image else ""
    label = label_value(item.get("Answer"), "'Answer'")
    options = parse_options(_string(item, "Question-choice"))
    for opt in options:  # the label space comes from the options: same rule as labels
        problem = text_problem(opt, "option")
        if problem:
            raise MedmatError(f"'Question-choice': {problem}")
    return image, label, options, _string(item, "Answer-choice"), \
        _string(item, "data-no", numbers=True) or None


def _item(cat: _Catalog, file: Path, m: re.Match | None, idx: int, item: object,
          root: Path, decode: Decoder) -> tuple[Candidate, list[str]]:
    where = f"{file.name} item {idx}"
    if not isinstance(item, dict):
        return Candidate(where, where, where, None, error="not a JSON object"), []
    item_id = item.get("id")
    if isinstance(item_id, str | int) and not isinstance(item_id, bool):
        where += f" (id {str(item_id)[:40]!s})" if text_problem(str(item_id)) is None else ""
    try:
        image, label, options, letter, no = _fields(item)
    except MedmatError as exc:
        return Candidate(where, where, where, None, error=str(exc)), []
    cand = Candidate(
        key=f"{file.stem}/{image}", where=f"{where}: {image}" if image else where,
        image_rel=image or where, labels=(label,) if label else (),
        load=(lambda: decode(resolve_under_root(root, image))) if image else None,
        split=m.group("split").lower() if m else None,
    )
    try:
        if not image:
            raise MedmatError("no 'image' path")
        if m and m.group("kind").lower() == "subset":
            mat, subset = cat.subset(m.group("no")), f"{int(m.group('no')):02d}"
            if no is not None:
                cat.dataset(no)  # validates data-no
        else:
            no = no or (str(int(m.group("no"))) if m else None)
            if no is None:
                raise MedmatError("no 'data-no' (the source dataset number)")
            mat, subset = cat.dataset(no)
        if label and options and label not in options:
            raise MedmatError(
                f"unknown label: Answer {label!r} is not one of its options {options}"
            )
        if label and options and letter:
            pos = ord(letter[0].upper()) - ord("A") if len(letter) == 1 else -1
            if not 0 <= pos < len(options) or options[pos] != label:
                raise MedmatError(
                    f"Answer-choice {letter!r} does not point at Answer {label!r} "
                    f"(options {options})"
                )
    except MedmatError as exc:
        return replace(cand, error=str(exc)), options
    # source = data-no, which is what `medmat build` writes back as the items' "data-no"
    cand = replace(cand, modality=mat[0], area=mat[1], task=mat[2], subset=subset, source=no,
                   multi_label=str(mat[2]).strip().lower() in ("multi-label", "multilabel"))
    return cand, options


def scan_medmat_json(path: str | Path, decode: Decoder, opts: IngestOptions) -> SourceResult:
    files = _files(Path(path))
    cat = _Catalog()
    merged: dict[str, Candidate] = {}
    order: list[Candidate] = []
    spaces: dict[str, set[str]] = {}
    for file in files:
        data = read_json(file)
        if not isinstance(data, list):
            raise MedmatError(
                f"{file}: expected a JSON list of QA items, got {type(data).__name__}"
            )
        root = Path(opts.images_root) if opts.images_root else file.parent
        if not root.is_dir():
            raise MedmatError(f"--images-root {root}: not a folder")
        m = NAME_RE.match(file.name)
        for idx, item in enumerate(data):
            cand, options = _item(cat, file, m, idx, item, root, decode)
            if cand.error is None and cand.key in merged:
                first = merged[cand.key]
                labels = tuple(dict.fromkeys(first.labels + cand.labels))
                # several answers for one image = a multi-label image
                merged[cand.key] = replace(
                    first, labels=labels, multi_label=first.multi_label or len(labels) > 1
                )
            elif cand.error is None:
                merged[cand.key] = cand
                order.append(cand)
            else:
                order.append(cand)
            if cand.error is None:
                space = spaces.setdefault(cand.subset or str(cand.source), set())
                space.update(options or cand.labels)
    cands = [merged.get(c.key, c) if c.error is None else c for c in order]
    name = ", ".join(f.stem for f in files[:3]) + (", ..." if len(files) > 3 else "")
    return SourceResult(
        cands,
        opts.source_name or name,
        label_space={k: sorted(v) for k, v in sorted(spaces.items())},
    )
