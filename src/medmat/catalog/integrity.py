"""Integrity checks of a catalog: normalised values, recorded fixes, consistent membership.

Used by the tests and available to anyone who edits the catalog CSVs by hand:

    from medmat.catalog import load_catalog
    from medmat.catalog.integrity import problems
    assert not problems(load_catalog("my_catalog_dir"))
"""

from __future__ import annotations

from medmat.catalog.model import Catalog
from medmat.taxonomy import Taxonomy, load_taxonomy


def problems(catalog: Catalog, taxonomy: Taxonomy | None = None) -> list[str]:
    """Every integrity violation found, as readable sentences (empty list = all good)."""
    tax = taxonomy or load_taxonomy()
    out: list[str] = []
    out += _normalised(catalog, tax)
    out += _fixes_recorded(catalog, tax)
    out += _membership(catalog)
    ids = [f.id for f in catalog.fixes]
    if ids != list(range(1, len(ids) + 1)):
        out.append("fix ids are not 1..N in order")
    return out


def _normalised(cat: Catalog, tax: Taxonomy) -> list[str]:
    out = []
    for table, entries in (("datasets", cat.datasets), ("subsets", cat.subsets)):
        for e in entries:
            for kind in ("modality", "area", "task"):
                if getattr(e, kind) not in tax.names(kind):
                    out.append(f"{table} row {e.no}: {kind} {getattr(e, kind)!r} is not canonical")
    return out


def _has(cat: Catalog, table: str, row: object, field: str, kinds: tuple[str, ...]) -> bool:
    return any(f.field == field and f.kind in kinds for f in cat.fixes_for(table, str(row)))


def _fixes_recorded(cat: Catalog, tax: Taxonomy) -> list[str]:
    """A value that differs from its normalised upstream text must have a recorded fix."""
    out = []
    for d in cat.datasets:
        row = d.no if d.no is not None else ""
        pairs = [("modality", d.modality_raw), ("area", d.area_raw)]
        for field, raw in pairs:
            if tax.is_known(field, raw) and tax.normalize(field, raw) == getattr(d, field):
                if tax.match(field, raw).via == "synonym" and not _has(
                    cat, "datasets", row, field, ("synonym", "fix")
                ):
                    out.append(f"datasets row {row}: synonym {raw!r} for {field} not recorded")
            elif not _has(cat, "datasets", row, field, ("fix",)):
                out.append(
                    f"datasets row {row}: {field} {raw!r} -> {getattr(d, field)!r} unrecorded"
                )
        for field, raw, now in (
            ("name", d.name_raw, d.name),
            ("source_url", d.source_url_raw, d.source_url),
            ("no", d.no_raw, "" if d.no is None else str(d.no)),
        ):
            if raw != now and not _has(cat, "datasets", row, field, ("fix",)):
                out.append(f"datasets row {row}: {field} {raw!r} -> {now!r} unrecorded")
        family = tax.normalize("task", d.task_raw) if tax.is_known("task", d.task_raw) else None
        if family != d.task and not (
            _has(cat, "datasets", row, "task", ("fix",))
            or _has(cat, "datasets", row, "task_raw", ("flag",))
        ):
            out.append(f"datasets row {row}: task {d.task_raw!r} -> {d.task!r} unrecorded")
    for s in cat.subsets:
        for field, raw in (("modality", s.modality_raw), ("area", s.area_raw)):
            if not (tax.is_known(field, raw) and tax.normalize(field, raw) == getattr(s, field)):
                if not _has(cat, "subsets", s.no, field, ("fix",)):
                    out.append(f"subsets row {s.no}: {field} {raw!r} -> {getattr(s, field)!r} "
                               "unrecorded")  # fmt: skip
    return out


def _membership(cat: Catalog) -> list[str]:
    out = []
    by_no = {d.no: d for d in cat.datasets if d.no is not None}
    subsets = {s.no: s for s in cat.subsets}
    for s in cat.subsets:
        if not s.dataset_nos and "no-dataset" not in s.flags:
            out.append(f"subset {s.no} has no dataset and is not flagged")
        for no in s.dataset_nos:
            d = by_no.get(no)
            if d is None or d.subset != s.no:
                out.append(f"subset {s.no} lists dataset {no}, which does not point back")
            elif (d.modality, d.area, d.released) != (s.modality, s.area, s.released):
                out.append(f"dataset {no} and its subset {s.no} differ in modality/area/release")
    for d in cat.datasets:
        if d.subset is None:
            if "no-subset" not in d.flags:
                out.append(f"dataset {d.no} has no subset and is not flagged")
            continue
        if d.subset not in subsets or d.no not in subsets[d.subset].dataset_nos:
            out.append(f"dataset {d.no} points at subset {d.subset}, which does not list it")
        if d.subset not in d.candidates:
            out.append(f"dataset {d.no}: subset {d.subset} is not among its candidates")
        if d.ambiguous != (len(d.candidates) > 1):
            out.append(f"dataset {d.no}: ambiguous flag disagrees with its candidates")
        if d.ambiguous and not _has(cat, "datasets", d.no, "subset", ("fix", "flag")):
            out.append(f"dataset {d.no}: ambiguous subset assignment not recorded")
    return out
