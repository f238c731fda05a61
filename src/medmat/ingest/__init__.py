"""``medmat ingest``: bring a real dataset in as a records table (``records.parquet``).

Pipeline: a *source* (folder, table, MedMNIST, DICOM, NIfTI, Med-MAT JSON) lists candidate rows
-> every row's MAT triplet is normalised through the taxonomy -> every image is opened, converted
to an 8-bit PNG under ``OUT/images/`` and hashed (:mod:`.validate`) -> image-level splits
(:mod:`.splitting`) -> ``records.parquet`` + ``ingest-report.json``, built in a staging folder
and renamed into place only when everything succeeded (:mod:`.writer`).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import fields
from pathlib import Path, PurePath

from medmat.errors import MedmatError
from medmat.ingest.formats import FORMATS, scanner
from medmat.ingest.masks import PNG_MASK_FORMATS, attach_boxes, attach_masks, check_format
from medmat.ingest.mat import canonical_mat, default_subset
from medmat.ingest.model import Candidate, Problem, SourceResult
from medmat.ingest.options import IngestOptions
from medmat.ingest.splitting import SplitRow, assign_splits, groups_across_splits
from medmat.ingest.validate import Accepted, process
from medmat.ingest.writer import check_ingest_out, write_ingest_manifest
from medmat.io import staged_dir, write_json
from medmat.records import RECORDS_FILE, ImageRecord, records_to_table, write_records

__all__ = ["FORMATS", "IngestOptions", "REPORT_FILE", "ingest"]

REPORT_FILE = "ingest-report.json"
SHOWN_PROBLEMS = 10


def _apply_mat(cands: list[Candidate], opts: IngestOptions, source_name: str) -> None:
    """Fill each healthy row's canonical MAT triplet, subset and source (flags win)."""
    cache: dict[tuple, tuple[str, str, str]] = {}
    subsets: dict[tuple[str, str, str], str] = {}
    for c in cands:
        if c.error:
            continue
        raw = (opts.modality or c.modality, opts.area or c.area, opts.task or c.task)
        if raw not in cache:
            cache[raw] = canonical_mat(*raw, where=source_name)
        mat = cache[raw]
        c.modality, c.area, c.task = mat
        if opts.subset or not c.subset:
            if mat not in subsets:
                subsets[mat] = opts.subset or default_subset(*mat)
            c.subset = opts.subset or subsets[mat]
        c.source = opts.source_name or c.source or source_name


def _failure(problems: list[Problem], total: int, out: Path) -> MedmatError:
    lines = [f"  - {p}" for p in problems[:SHOWN_PROBLEMS]]
    if len(problems) > SHOWN_PROBLEMS:
        lines.append(f"  ... and {len(problems) - SHOWN_PROBLEMS} more")
    return MedmatError(
        f"{len(problems)} of {total} row(s) cannot be ingested; nothing was written to {out}:\n"
        + "\n".join(lines)
        + "\nFix them, or pass --on-error skip to drop them (each is then listed with its reason "
        f"in {out / REPORT_FILE})."
    )


def _report(fmt: str, path: Path, opts: IngestOptions, result: SourceResult,
            records: list[ImageRecord], problems: list[Problem], origin: str,
            n_rows: int) -> dict:
    from medmat.leakage.guard import exact_cross_split_pairs

    by_label: Counter[str] = Counter(lab for r in records for lab in r.labels)
    mats = Counter((r.modality, r.area, r.task, r.subset) for r in records)
    observed: dict[str, set[str]] = {}
    for r in records:
        observed.setdefault(r.subset, set()).update(r.labels)
    defaults = IngestOptions()
    options = {
        f.name: getattr(opts, f.name)
        for f in fields(IngestOptions)
        if f.name != "extra" and getattr(opts, f.name) != getattr(defaults, f.name)
    }
    return {
        "format": fmt,
        "input": str(path),
        "source": result.source_name,
        "options": {k: _jsonable(v) for k, v in options.items()},
        "counts": {
            "rows": n_rows,
            "records": len(records),
            "skipped": len(problems),
            "images": len({r.image for r in records}),
            "by_split": dict(sorted(Counter(r.split for r in records).items())),
            "by_label": dict(sorted(by_label.items())),
            **_region_counts(records),
        },
        "skipped": [p.as_dict() for p in problems],
        "ignored": result.ignored,
        "splits": {
            "origin": origin,
            "test_frac": opts.test_frac,
            "val_frac": opts.val_frac,
            "seed": opts.seed,
            "group_column": opts.group_column,
            "groups": len({r.group for r in records if r.group is not None}),
            "groups_across_splits": groups_across_splits((r.group, r.split) for r in records),
        },
        "mat": [
            {"modality": m, "area": a, "task": t, "subset": s, "records": n}
            for (m, a, t, s), n in sorted(mats.items())
        ],
        "label_space": result.label_space
        or {k: sorted(v) for k, v in sorted(observed.items())},
        "multi_label": any(r.multi_label for r in records),
        "cross_split_duplicates": [
            list(p) for p in exact_cross_split_pairs(records_to_table(records))
        ],
        "notes": result.notes,
    }


def _region_counts(records: list[ImageRecord]) -> dict[str, int]:
    """Boxes and masks stored, when the ingest has any (tables without regions say nothing)."""
    with_regions = [r for r in records if r.regions is not None]
    if not with_regions:
        return {}
    return {"with_regions": len(with_regions),
            "regions": sum(len(r.regions or ()) for r in with_regions),
            "masks": len({r.mask for r in records if r.mask is not None})}


def _records(accepted: list[Accepted], splits: list[str]) -> list[ImageRecord]:
    return [
        ImageRecord(
            record_id=a.cand.key,
            image=a.image,
            labels=a.cand.labels,
            modality=a.cand.modality or "",
            area=a.cand.area or "",
            task=a.cand.task or "",
            subset=a.cand.subset or "",
            split=split,
            source=a.cand.source or "",
            multi_label=a.cand.multi_label or len(a.cand.labels) > 1,
            pixel_sha1=a.pixel_sha1,
            phash=a.phash,
            group=a.cand.group,
            regions=a.regions,
            mask=a.mask,
        )
        for a, split in zip(accepted, splits, strict=True)
    ]


def _jsonable(value: object) -> object:
    """Options as JSON: tuples become lists, paths strings (the Python API accepts Path)."""
    if isinstance(value, tuple | list):
        return [_jsonable(v) for v in value]
    return str(value) if isinstance(value, PurePath) else value


def ingest(path: str | Path, fmt: str, out: str | Path,
           options: IngestOptions | None = None, **kwargs: object) -> dict:
    """Ingest ``path`` (a ``fmt`` source) into ``out``; returns the report that was written.

    Keyword arguments are :class:`IngestOptions` fields (``modality=``, ``on_error=``...).
    With ``on_error="fail"`` any bad row raises :class:`MedmatError` and ``out`` is untouched.
    """
    opts = options or IngestOptions.from_kwargs(**kwargs)
    path, out = Path(path), Path(out)
    scan = scanner(fmt)
    check_format(fmt, opts)
    if not path.exists():
        raise MedmatError(f"{path}: not found; give the dataset folder or file to ingest")
    check_ingest_out(out, path, opts.images_root, opts.force)
    result = scan(path, opts)
    if opts.mask_pattern and fmt in PNG_MASK_FORMATS:  # nifti: the volume rows attach label slices
        attach_masks(result, opts.mask_pattern)
    if opts.boxes:
        attach_boxes(result, opts.boxes)
    cands = result.candidates
    _apply_mat(cands, opts, result.source_name)
    allowed = frozenset(opts.labels) if opts.labels else None
    with staged_dir(out) as staging:
        accepted, problems = process(cands, staging, allowed, opts)
        if problems and opts.on_error == "fail":
            raise _failure(problems, len(cands), out)
        if not accepted:
            raise MedmatError(
                f"{path}: none of the {len(cands)} row(s) could be ingested "
                f"(first problem: {problems[0] if problems else 'none'}); nothing was written"
            )
        rows = [SplitRow(a.cand.key, a.cand.labels, a.pixel_sha1, a.cand.group, a.cand.split)
                for a in accepted]
        splits, origin = assign_splits(
            rows, test_frac=opts.test_frac, val_frac=opts.val_frac, seed=opts.seed
        )
        records = _records(accepted, splits)
        write_records(staging, records)
        report = _report(fmt, path, opts, result, records, problems, origin, len(cands))
        write_json(staging / REPORT_FILE, report)
        config = {"format": fmt, "options": {k: v for k, v in report["options"].items()
                                             if k != "force"}}
        write_ingest_manifest(staging, config, path, ((r.record_id, r.pixel_sha1) for r in records),
                              [RECORDS_FILE, REPORT_FILE])
        # again: something may have appeared while we worked
        check_ingest_out(out, path, opts.images_root, opts.force)
    return report

