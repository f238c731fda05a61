"""Pass 1: validate the records stream and collect each subset's label space.

The label space of a subset is the sorted union of labels over all its records (all splits), so
distractors for a test item can be any label the subset knows. Only the narrow columns below are
read, batch by batch; memory grows with the number of distinct (subset, label) pairs, not records.

Records with regions (grounding records, see :mod:`medmat.qa.grounding`) are validated like the
others but do not enter the label spaces: they give box questions, not multiple choice. Pass the
``regions`` column with the batches when the table has one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from medmat.errors import MedmatError
from medmat.records import SPLITS

PASS1_COLUMNS = ["record_id", "subset", "labels", "multi_label", "split", "modality", "area",
                 "task"]
MAX_LABELS = 1 << 16  # distractor scores keep the label index in their 16 low bits


@dataclass
class LabelSpaces:
    """Sorted label space per subset, laid out end to end as one global label list."""

    labels: dict[str, tuple[str, ...]]
    subsets: list[str] = field(init=False)
    index: dict[str, int] = field(init=False)
    offset: np.ndarray = field(init=False)
    size: np.ndarray = field(init=False)
    global_labels: list[str] = field(init=False)
    subset_of_label: list[str] = field(init=False)
    value_sets: list[pa.Array] = field(init=False)

    def __post_init__(self) -> None:
        self.subsets = sorted(self.labels)
        self.index = {s: i for i, s in enumerate(self.subsets)}
        sizes = [len(self.labels[s]) for s in self.subsets]
        self.size = np.array(sizes, dtype=np.int64)
        self.offset = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
        self.global_labels = [lab for s in self.subsets for lab in self.labels[s]]
        self.subset_of_label = [s for s in self.subsets for _ in self.labels[s]]
        self.value_sets = [pa.array(self.labels[s], type=pa.string()) for s in self.subsets]


def _first(mask: np.ndarray) -> int:
    return int(np.flatnonzero(mask)[0])


class LabelScanner:
    """Feed record batches with :meth:`add`, then call :meth:`finish`."""

    def __init__(self, source: str = "records") -> None:
        self.source = source
        self.rows = 0
        self._pairs: dict[str, set[str]] = {}
        self._counts: dict[str, int] = {}
        self.grounding = 0  # records with regions seen

    def _fail(self, batch: pa.RecordBatch, row: int, what: str) -> None:
        rid = batch.column("record_id")[row].as_py()
        raise MedmatError(f"{self.source}: row {self.rows + row} (record {rid!r}) {what}")

    def add(self, batch: pa.RecordBatch) -> None:
        n = batch.num_rows
        if n == 0:
            return
        for col in ("record_id", "subset", "split", "modality", "area", "task", "labels"):
            arr = batch.column(col)
            if arr.null_count:
                row = _first(np.asarray(arr.is_null()))
                if col == "record_id":
                    raise MedmatError(f"{self.source}: row {self.rows + row} has no record_id")
                self._fail(batch, row, f"has no {col}; every record needs one")
        split_ok = np.asarray(pc.is_in(batch.column("split"), value_set=pa.array(SPLITS)))
        if not split_ok.all():
            row = _first(~split_ok)
            self._fail(batch, row, f"has split {batch.column('split')[row].as_py()!r}; "
                                   f"use one of {list(SPLITS)}")
        labels = batch.column("labels")
        lens = np.asarray(pc.list_value_length(labels))
        if (lens == 0).any():
            self._fail(batch, _first(lens == 0), "has no label")
        multi = np.asarray(batch.column("multi_label").fill_null(False))
        if ((lens > 1) & ~multi).any():
            row = _first((lens > 1) & ~multi)
            self._fail(batch, row, f"has {lens[row]} labels but multi_label is false; set "
                                   "multi_label=true or keep a single label")
        flat = pc.list_flatten(labels)
        parents = np.asarray(pc.list_parent_indices(labels))
        bad = pc.or_(pc.is_null(flat), pc.equal(pc.utf8_trim_whitespace(flat.fill_null("")), ""))
        bad = np.asarray(pc.or_(bad, pc.match_substring_regex(flat.fill_null(""), r"[\r\n]")))
        if bad.any():
            i = _first(bad)
            self._fail(batch, int(parents[i]), f"has an empty or multi-line label "
                                               f"{flat[i].as_py()!r}")
        subsets = batch.column("subset")
        if "regions" in batch.schema.names:
            lens = pc.list_value_length(batch.column("regions")).fill_null(0)
            ground = np.asarray(lens, dtype=np.int64) > 0
            if ground.any():
                self.grounding += int(ground.sum())
                flat = flat.filter(pa.array(~ground[parents]))
                parents = parents[~ground[parents]]
                subsets = subsets.filter(pa.array(~ground))
        self.rows += n
        if len(subsets) == 0:
            return
        uniq = pa.table({"s": batch.column("subset").take(pa.array(parents)), "l": flat}).group_by(
            ["s", "l"]).aggregate([])
        for s, lab in zip(uniq.column("s").to_pylist(), uniq.column("l").to_pylist(), strict=True):
            self._pairs.setdefault(s, set()).add(lab)
        for row in pa.table({"s": subsets}).group_by("s").aggregate([("s", "count")]).to_pylist():
            self._counts[row["s"]] = self._counts.get(row["s"], 0) + row["s_count"]

    def finish(self) -> LabelSpaces:
        for s in sorted(self._pairs):
            labs = self._pairs[s]
            if len(labs) < 2:
                raise MedmatError(
                    f"{self.source}: subset {s!r} has a single label ({next(iter(labs))!r}) "
                    f"across its {self._counts[s]} record(s); a multiple-choice question needs "
                    "at least two labels. Add records with other labels, merge the subset into "
                    "a related one, or leave it out of the records table."
                )
            if len(labs) > MAX_LABELS:
                raise MedmatError(f"{self.source}: subset {s!r} has {len(labs)} labels; "
                                  f"at most {MAX_LABELS} are supported")
        return LabelSpaces({s: tuple(sorted(labs)) for s, labs in self._pairs.items()})


def scan_label_spaces(batches: Iterable[pa.RecordBatch], source: str = "records") -> LabelSpaces:
    scanner = LabelScanner(source)
    for batch in batches:
        scanner.add(batch)
    return scanner.finish()
