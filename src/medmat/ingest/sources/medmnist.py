"""MedMNIST ``.npz`` archives (2D flags, any size): ``{flag}.npz`` or ``{flag}_{size}.npz``.

Keys ``{train,val,test}_images`` (uint8, N×H×W or N×H×W×3) and ``{split}_labels`` (N×L). The
archive has no modality/anatomy and only label indices, so names and the MAT triplet come from
medmat's own table (``ingest/data/medmnist.csv``, label names as in MedMNIST's ``INFO``).
ChestMNIST is multi-label; an all-zero row gets the table's ``none_label`` ("no finding").
The archive is read with ``allow_pickle=False`` (a pickled array could run code).
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

import numpy as np
from PIL import Image

from medmat.errors import MedmatError
from medmat.ingest.model import Candidate, SourceResult
from medmat.ingest.options import IngestOptions

SPLITS = ("train", "val", "test")
NAME_RE = re.compile(r"^(?P<flag>[a-z0-9]+?)(?:_(?P<size>\d+))?\.npz$", re.IGNORECASE)


@dataclass(frozen=True)
class FlagInfo:
    flag: str
    modality: str
    area: str
    task: str
    multi_label: bool
    none_label: str
    labels: tuple[str, ...]


@cache
def mapping() -> dict[str, FlagInfo]:
    """The packaged flag -> (MAT triplet, label names) table."""
    text = resources.files("medmat.ingest").joinpath("data/medmnist.csv").read_text("utf-8")
    out = {}
    for row in csv.DictReader(io.StringIO(text)):
        out[row["flag"]] = FlagInfo(
            row["flag"], row["modality"], row["area"], row["task"], row["multi_label"] == "yes",
            row["none_label"], tuple(row["labels"].split("|")),
        )
    return out


def detect_flag(path: Path, flag: str | None) -> FlagInfo:
    known = mapping()
    if flag is None:
        m = NAME_RE.match(path.name)
        flag = m.group("flag").lower() if m else path.stem.lower()
    flag = flag.lower()
    if flag in known:
        return known[flag]
    hint = " (3D flags are not supported; use the 2D ones)" if flag.endswith("3d") else ""
    raise MedmatError(
        f"{path}: unknown MedMNIST flag {flag!r}{hint}; name the file {{flag}}.npz or "
        f"{{flag}}_{{size}}.npz, or pass --flag, with one of {', '.join(known)}"
    )


def _load_arrays(path: Path) -> dict[str, np.ndarray]:
    if not path.is_file():
        raise MedmatError(f"{path}: file not found")
    try:
        with np.load(path, allow_pickle=False) as npz:
            return {k: npz[k] for k in npz.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise MedmatError(
            f"{path}: not a readable MedMNIST .npz archive ({type(exc).__name__}: {exc})"
        ) from None


def _label_names(info: FlagInfo, row: np.ndarray) -> tuple[tuple[str, ...], str | None]:
    row = np.asarray(row).reshape(-1)
    if info.multi_label:
        if row.size != len(info.labels) or not np.isin(row, (0, 1)).all():
            return (), (
                f"label row {row.tolist()} is not a 0/1 vector of {len(info.labels)} "
                f"{info.flag} findings"
            )
        names = tuple(n for n, v in zip(info.labels, row, strict=True) if v)
        return names or (info.none_label,), None
    if row.size != 1 or not 0 <= int(row[0]) < len(info.labels):
        return (), (
            f"unknown label index {row.tolist()}; {info.flag} has {len(info.labels)} classes "
            f"(0..{len(info.labels) - 1})"
        )
    return (info.labels[int(row[0])],), None


def _to_image(arr: np.ndarray) -> Image.Image:
    if arr.ndim == 3 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    return Image.fromarray(np.ascontiguousarray(arr), "L" if arr.ndim == 2 else "RGB")


def scan_medmnist(path: str | Path, opts: IngestOptions) -> SourceResult:
    path = Path(path)
    info = detect_flag(path, opts.flag)
    arrays = _load_arrays(path)
    present = [s for s in SPLITS if f"{s}_images" in arrays]
    if not present:
        raise MedmatError(
            f"{path}: no train_images / val_images / test_images arrays (found {sorted(arrays)})"
        )
    cands: list[Candidate] = []
    for split in present:
        images = arrays[f"{split}_images"]
        labels = arrays.get(f"{split}_labels")
        if labels is None or len(labels) != len(images):
            raise MedmatError(
                f"{path}: {split}_labels is missing or has a different length than "
                f"{split}_images; the archive is incomplete"
            )
        if images.dtype != np.uint8 or images.ndim not in (3, 4) or (
            images.ndim == 4 and images.shape[-1] not in (1, 3)
        ):
            raise MedmatError(
                f"{path}: {split}_images has dtype {images.dtype} and shape {images.shape}; "
                "expected uint8 N×H×W or N×H×W×3 (a 2D MedMNIST flag)"
            )
        for i in range(len(images)):
            names, error = _label_names(info, labels[i])
            rel = f"{path.stem}/{split}/{i:06d}.png"
            cands.append(
                Candidate(
                    key=f"{info.flag}/{split}/{i:06d}",
                    where=f"{path.name} {split}[{i}]",
                    image_rel=rel,
                    load=lambda a=images, i=i: _to_image(a[i]),
                    labels=names,
                    split=split,
                    modality=info.modality,
                    area=info.area,
                    task=info.task,
                    multi_label=info.multi_label,
                    error=error,
                )
            )
    space = list(info.labels) + ([info.none_label] if info.multi_label else [])
    return SourceResult(
        cands,
        opts.source_name or f"MedMNIST {path.stem}",
        label_space={info.flag: space},
    )
