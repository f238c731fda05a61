"""The data stages of an experiment: the lab (or a given records table) and the QA items.

Each stage is reused only when its manifest matches what the config asks for now (see
:mod:`medmat.manifest`); otherwise it is rebuilt in a staging folder and swapped in whole. The
run log gets one line per stage saying what happened and why.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from medmat.errors import MedmatError
from medmat.experiment.config import ExperimentConfig
from medmat.io import staged_dir
from medmat.manifest import fingerprint, is_current
from medmat.records import QAItem, item_to_row, read_items, read_records_table, records_path

Log = Callable[[str], None]


def prepare_lab(cfg: ExperimentConfig, out: Path, log: Log) -> Path:
    """Return the records table: the config's, or the synthetic lab (generated if stale)."""
    if cfg.records is not None:
        path = records_path(cfg.records)
        log(f"records: {path} (given)")
        return path
    from medmat.synth import LabConfig, generate_lab, parse_cell
    from medmat.synth.generate import lab_manifest

    lab = cfg.lab
    assert lab is not None
    lab_dir = out / "lab"
    cells = [parse_cell(c) for c in lab.cells]
    lab_cfg = LabConfig(seed=lab.seed, null=lab.null, size=lab.size)
    counts = {"n_train": lab.n_train, "n_val": lab.n_val, "n_test": lab.n_test}
    want = lab_manifest(cells, lab_cfg, lab.n_train, lab.n_val, lab.n_test)
    ok, why = is_current(lab_dir, want)
    if ok:
        log(f"lab: reused ({why})")
        return lab_dir / "records.parquet"
    log(f"lab: generating ({why})")
    # a stale or half-written lab (no manifest yet) is replaced whole
    with staged_dir(lab_dir) as stage:
        generate_lab(stage, cells, cfg=lab_cfg, **counts)
    return lab_dir / "records.parquet"


@dataclass(frozen=True)
class ItemsStage:
    items: list[QAItem]
    image_root: Path
    item_digests: dict[int, str]  # item id -> fingerprint of its content and its image's bytes
    fingerprint: str


def image_digests(records: Path) -> tuple[Path, dict[str, str]]:
    """(image root, {relative image path: sha256 of its bytes}) for every record."""
    from medmat.manifest import file_digest

    root = records.parent.resolve()
    paths = read_records_table(records, columns=["image"]).column("image").to_pylist()
    digests = {}
    for rel in sorted(set(paths)):
        try:
            digests[rel] = file_digest(root / rel)
        except FileNotFoundError:
            raise MedmatError(
                f"{records}: image {rel!r} listed in the records table is missing under {root}; "
                "restore it or re-ingest the dataset"
            ) from None
    return root, digests


def prepare_items(cfg: ExperimentConfig, records: Path, out: Path, log: Log) -> ItemsStage:
    """Build (or reuse) the QA items; their fingerprint covers the records and image bytes."""
    from medmat.qa import build
    from medmat.qa.build import items_manifest
    from medmat.qa.templates import load_templates

    items_dir = out / "items"
    root, images = image_digests(records)
    extra = {"images": fingerprint(images)}
    tset = load_templates(cfg.templates)
    want = items_manifest(records, cfg.qa_seed, tset, cfg.drop_leaky, extra)
    ok, why = is_current(items_dir, want)
    if ok:
        log(f"items: reused ({why})")
    else:
        log(f"items: building ({why})")
        build(records, items_dir, seed=cfg.qa_seed, templates_file=cfg.templates,  # staged
              drop_leaky=cfg.drop_leaky, extra_inputs=extra)
    items = read_items(items_dir)
    digests = {
        it.id: fingerprint([item_to_row(it), images.get(it.image, "missing")]) for it in items
    }
    return ItemsStage(items, root, digests, want.fingerprint)


def remove_stale(path: Path) -> None:
    """Delete a stale stage output (a file or a folder) that is about to be recomputed."""
    if path.is_dir():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)
