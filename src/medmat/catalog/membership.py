"""Which aggregated subset does each source dataset belong to?

Upstream does not publish it, so it is derived: a dataset's candidates are the subsets with the
same modality and area and the same release status (classification subsets are released,
detection/segmentation ones are not), preferring those with the same task family. One
candidate: assigned. Several: the one whose task text shares most words with the dataset's task
text and name is taken and the assignment is marked ambiguous, with every candidate recorded.
A curated decision (curation.yaml) overrides the pick but not the candidate list.
"""

from __future__ import annotations

from dataclasses import dataclass

from medmat.taxonomy import words

# Words that say nothing about *which* subset (every task text is a "classification").
_STOP = frozenset(
    "a an and or of the in with to for only classification classifications dataset datasets "
    "image images det seg segmentation detection".split()
)


@dataclass
class DatasetKey:
    no: int | None
    name: str
    modality: str
    area: str
    task: str | None  # None when the task text matched no rule
    task_text: str
    released: bool


@dataclass
class SubsetKey:
    no: str
    modality: str
    area: str
    task: str
    task_text: str
    released: bool


@dataclass
class Assignment:
    subset: str | None
    candidates: list[str]
    how: str  # "unique", "similarity", "tie", "curated", "none"
    family_matched: bool

    @property
    def ambiguous(self) -> bool:
        return len(self.candidates) > 1


def stems(text: str) -> set[str]:
    """Content-word stems (first 4 letters), so 'Diseases'/'disease' and 'Seg'/'Segm' meet."""
    return {w[:4] for w in words(text).split() if w not in _STOP and not w.isdigit()}


def similarity(a: str, b: str) -> float:
    sa, sb = stems(a), stems(b)
    if not sa or not sb:
        return 0.0
    return len(sa & sb) / len(sa | sb)


def assign(ds: DatasetKey, subsets: list[SubsetKey], curated: str | None = None) -> Assignment:
    """Derive the subset of one dataset (see the module docstring)."""
    same_ma = [
        s
        for s in subsets
        if (s.modality, s.area, s.released) == (ds.modality, ds.area, ds.released)
    ]
    same_t = [s for s in same_ma if ds.task is not None and s.task == ds.task]
    pool = same_t or same_ma
    candidates = [s.no for s in pool]
    if curated is not None:
        if curated not in candidates:
            candidates.append(curated)
        return Assignment(curated, sorted(candidates), "curated", bool(same_t))
    if not pool:
        return Assignment(None, [], "none", False)
    if len(pool) == 1:
        return Assignment(pool[0].no, candidates, "unique", bool(same_t))
    text = f"{ds.task_text} {ds.name}"
    scored = sorted(((similarity(text, s.task_text), s.no) for s in pool), key=lambda t: -t[0])
    best = scored[0]
    how = "tie" if len(scored) > 1 and scored[1][0] == best[0] else "similarity"
    return Assignment(best[1], sorted(candidates), how, bool(same_t))
