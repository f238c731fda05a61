"""Repairs applied while building the catalog: each one records what it changed.

Generic repairs (spelling, missing numbers, duplicate sources, subset membership) work on any
version of the upstream tables; row-specific knowledge comes from ``curation.yaml``. Rows are
plain ``dict[str, str]`` keyed by the output column names, so the build stays a table transform.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from medmat.catalog.membership import DatasetKey, SubsetKey, assign
from medmat.catalog.model import join_list
from medmat.errors import MedmatError
from medmat.taxonomy import Taxonomy, fold

_QA_NUMBER = re.compile(r"--0*(\d+)-")
Row = dict[str, str]


@dataclass
class Recorder:
    """Collects fixes/flags in a deterministic order."""

    rows: list[dict[str, str]] = field(default_factory=list)

    def add(
        self, table: str, row: object, fld: str, old: object, new: object, kind: str, reason: str
    ) -> None:
        self.rows.append(
            {
                "id": str(len(self.rows) + 1),
                "table": table,
                "row": str(row),
                "field": fld,
                "old": str(old),
                "new": str(new),
                "kind": kind,
                "reason": " ".join(reason.split()),
            }
        )


def fix_typos(text: str, typos: dict[str, str]) -> str:
    for wrong, right in typos.items():
        text = re.sub(rf"(?<![A-Za-z]){re.escape(wrong)}(?![A-Za-z])", right, text)
    return text


def released_flag(raw: str) -> bool | None:
    low = raw.strip().lower()
    if low.startswith(("yes", "true")):
        return True
    if low.startswith(("no", "false")) or not low:
        return False
    return None


def recover_numbers(rows: list[dict[str, str]], rec: Recorder) -> None:
    """Give rows without a number one, from their QA file name or their neighbours."""
    used = {int(r["no"]) for r in rows if r["no"].isdigit()}
    for i, row in enumerate(rows):
        if row["no"].isdigit():
            continue
        guess, how = None, ""
        m = _QA_NUMBER.search(row["qa_file"])
        if m and int(m.group(1)) not in used:
            guess, how = int(m.group(1)), f"its QA file name {row['qa_file']!r}"
        else:
            prev = rows[i - 1]["no"] if i > 0 else ""
            nxt = rows[i + 1]["no"] if i + 1 < len(rows) else ""
            if (
                prev.isdigit()
                and nxt.isdigit()
                and int(nxt) - int(prev) == 2
                and int(prev) + 1 not in used
            ):
                guess, how = int(prev) + 1, f"its neighbours {prev} and {nxt}"
        label = f"line {i + 2}"
        if guess is None:
            rec.add(
                "datasets",
                label,
                "no",
                row["no"],
                "",
                "flag",
                f"row {row['name']!r} has no number and none can be inferred; it is kept "
                "without one (look it up by name)",
            )
            continue
        used.add(guess)
        rec.add(
            "datasets",
            guess,
            "no",
            row["no"],
            guess,
            "fix",
            f"row {row['name']!r} ({label}) has no number upstream; inferred from {how}",
        )
        row["no"] = str(guess)


def released_value(raw: str, table: str, row: str, rec: Recorder) -> str:
    flag = released_flag(raw)
    if flag is None:
        rec.add(
            table,
            row,
            "released",
            raw,
            "false",
            "flag",
            "released value is neither yes nor no; treated as not released",
        )
        return "false"
    return "true" if flag else "false"


def row_of(rows: dict[str, dict[str, str]], table: str, key: str) -> dict[str, str]:
    if key not in rows:
        raise MedmatError(
            f"curation.yaml names {table} row {key!r}, which the upstream table "
            "does not have; fix or drop the curation entry"
        )
    return rows[key]


def add_flag(row: dict[str, str], flag: str) -> None:
    flags = [f for f in row.get("flags", "").split(";") if f]
    if flag not in flags:
        flags.append(flag)
    row["flags"] = join_list(flags)


def apply_fix(
    rows: dict[str, dict[str, str]],
    table: str,
    key: str,
    f: dict[str, Any],
    tax: Taxonomy,
    rec: Recorder,
) -> None:
    row = row_of(rows, table, key)
    fld, new = str(f["field"]), str(f.get("new") if f.get("new") is not None else "")
    if fld in ("modality", "area", "task"):
        new = tax.normalize(fld, new, where=f"curation.yaml {table} row {key}")
    if fld not in row:
        raise MedmatError(f"curation.yaml: {table} has no field {fld!r} (row {key})")
    rec.add(table, key, fld, row[fld], new, "fix", str(f["reason"]))
    row[fld] = new
    add_flag(row, f"fixed-{fld.replace('_', '-')}")


def link_same_source(datasets: dict[str, Row], cur: dict[str, Any], rec: Recorder) -> None:
    """Group rows built from the same images: same URL, same base name, or curated groups."""
    groups: list[tuple[set[str], str]] = []
    by_url: dict[str, set[str]] = defaultdict(set)
    by_name: dict[str, set[str]] = defaultdict(set)
    for key, d in datasets.items():
        if d["source_url"]:
            by_url[d["source_url"].split("?")[0].rstrip("/")].add(key)
        by_name[fold(re.sub(r"\(.*?\)", "", d["name"]))].add(key)
    groups += [(g, "same source URL") for g in by_url.values() if len(g) > 1]
    groups += [(g, "same dataset name") for g in by_name.values() if len(g) > 1]
    groups += [
        ({str(x) for x in g["rows"]}, str(g["reason"])) for g in cur.get("same_source") or []
    ]
    links: dict[str, set[str]] = defaultdict(set)
    reasons: dict[str, list[str]] = defaultdict(list)
    for members, why in groups:
        for key in members:
            row_of(datasets, "datasets", key)
            links[key] |= members - {key}
            reasons[key].append(why)
    for key in sorted(links, key=lambda k: int(k) if k.isdigit() else 10**9):
        others = sorted(links[key], key=lambda k: int(k) if k.isdigit() else 10**9)
        datasets[key]["same_source"] = join_list(others)
        add_flag(datasets[key], "same-source")
        rec.add(
            "datasets",
            key,
            "same_source",
            "",
            join_list(others),
            "flag",
            f"{'; '.join(r.rstrip('.') for r in dict.fromkeys(reasons[key]))}: "
            f"row(s) {', '.join(others)} hold the same images; keep them on the same side "
            "of any train/test split",
        )


def assign_subsets(
    datasets: dict[str, dict[str, str]],
    subsets: dict[str, dict[str, str]],
    cur: dict[str, Any],
    rec: Recorder,
) -> None:
    curated = {str(m["row"]): m for m in cur.get("membership") or []}
    skeys = [
        SubsetKey(
            s["no"], s["modality"], s["area"], s["task"], s["task_raw"], s["released"] == "true"
        )
        for s in subsets.values()
    ]
    members: dict[str, list[str]] = defaultdict(list)
    ambiguous: set[str] = set()
    for key, d in datasets.items():
        pick = curated.get(key)
        if pick is not None and f"{int(pick['subset']):02d}" not in subsets:
            raise MedmatError(f"curation.yaml membership: subset {pick['subset']!r} does not exist")
        a = assign(
            DatasetKey(
                int(d["no"]) if d["no"] else None,
                d["name"],
                d["modality"],
                d["area"],
                d["task"] or None,
                d["task_text"],
                d["released"] == "true",
            ),
            skeys,
            f"{int(pick['subset']):02d}" if pick else None,
        )
        d["subset"] = a.subset or ""
        d["candidates"] = join_list(a.candidates)
        d["ambiguous"] = "true" if a.ambiguous else "false"
        if a.subset is None:
            add_flag(d, "no-subset")
            rec.add(
                "datasets",
                key,
                "subset",
                "",
                "",
                "flag",
                f"no subset has the MAT pair {d['modality']} / {d['area']}",
            )
            if not d["task"]:
                raise MedmatError(_unknown_task(d, key))
            continue
        members[a.subset].append(key)
        if a.ambiguous:
            ambiguous.update(a.candidates)
            add_flag(d, "ambiguous-subset")
        sub = subsets[a.subset]
        if pick is not None:
            rec.add("datasets", key, "subset", "", a.subset, "fix", str(pick["reason"]))
        elif a.ambiguous:
            rec.add(
                "datasets",
                key,
                "subset",
                "",
                a.subset,
                "flag",
                f"several candidate subsets {a.candidates}; picked by {a.how} of task text",
            )
        if not d["task"]:
            rec.add(
                "datasets",
                key,
                "task",
                "",
                sub["task"],
                "fix",
                f"task text {d['task_raw']!r} names no task family; took subset "
                f"{a.subset}'s ({sub['task_raw']!r})",
            )
            d["task"] = sub["task"]
        elif d["task"] != sub["task"]:
            add_flag(d, "task-differs-from-subset")
            rec.add(
                "datasets",
                key,
                "task",
                d["task"],
                d["task"],
                "flag",
                f"task family {d['task']!r} differs from subset {a.subset}'s "
                f"{sub['task']!r} ({sub['task_raw']!r}); kept the dataset's own",
            )
    for no, s in subsets.items():
        nos = sorted(members.get(no, []), key=lambda k: int(k) if k.isdigit() else 10**9)
        s["dataset_nos"] = join_list(k for k in nos if k.isdigit())
        s["ambiguous"] = "true" if no in ambiguous else "false"
        if not nos:
            add_flag(s, "no-dataset")
            rec.add(
                "subsets",
                no,
                "dataset_nos",
                "",
                "",
                "flag",
                "no dataset was derived to belong to this subset",
            )


def _unknown_task(d: dict[str, str], key: str) -> str:
    return (
        f"upstream datasets.csv row {key}: task {d['task_raw']!r} matches no task family and "
        "no subset shares its modality/area; add a rule or synonym to the taxonomy or a "
        "dataset_fixes entry (field: task) to curation.yaml"
    )
