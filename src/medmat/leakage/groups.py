"""Record groups (a patient, a study, a volume: the records' optional ``group`` column) found in
more than one split. Slices of one volume are different images, so no pixel hash links them;
only the group says they must stay on one side of the split."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from medmat.leakage.sources import HashedRows


@dataclass(frozen=True)
class GroupSpan:
    """One table's group and the splits its records sit in."""

    table: str
    group: str
    splits: tuple[str, ...]
    records: int

    @property
    def train_vs_eval(self) -> bool:
        return "train" in self.splits and len(self.splits) > 1

    def to_dict(self) -> dict[str, Any]:
        return {"table": self.table, "group": self.group, "splits": list(self.splits),
                "records": self.records, "train_vs_eval": self.train_vs_eval}


def group_spans(rows: list[HashedRows]) -> tuple[int, list[GroupSpan]]:
    """(number of groups, the groups that cross splits), per table (ids are table-local)."""
    total, spans = 0, []
    for r in rows:
        splits: dict[str, set[str]] = {}
        counts: dict[str, int] = {}
        for group, split in zip(r.group, r.split, strict=True):
            if group is not None:
                splits.setdefault(group, set()).add(split)
                counts[group] = counts.get(group, 0) + 1
        total += len(splits)
        spans += [GroupSpan(r.label, g, tuple(sorted(s)), counts[g])
                  for g, s in sorted(splits.items()) if len(s) > 1]
    return total, spans
