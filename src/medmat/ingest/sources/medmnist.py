"""MedMNIST ``.npz`` archives (2D flags, any size): ``{flag}.npz`` or ``{flag}_{size}.npz``.

Keys ``{train,val,test}_images`` (uint8, N×H×W or N×H×W×3) and ``{split}_labels`` (N×L). The
archive has no modality/anatomy and only label indices, so names and the MAT triplet come from
medmat's own table (``ingest/data/medmnist.csv``, label names as in MedMNIST's ``INFO``).
ChestMNIST is multi-label; an all-zero row gets the table's ``none_label`` ("no finding").

The archive is read lazily and never unpickled: each ``.npy`` member's header is read first
(shape, dtype) and checked against the member's size and the ``--max-archive-mb`` budget
before anything is allocated; object arrays (which need pickle) are refused; images are then
streamed one at a time, in order, so memory stays at one image whatever the archive's size
(after one checksum pass over the used members, so a damaged archive fails as a whole).
Labels must be integer class indices (integral floats are accepted; NaN, fractions and text
are errors).
"""

from __future__ import annotations

import csv
import io
import math
import re
import weakref
import zipfile
import zlib
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
HEADER_READERS = {(1, 0): np.lib.format.read_array_header_1_0,
                  (2, 0): np.lib.format.read_array_header_2_0}
# What a broken or hostile zip raises while it is read.
ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, NotImplementedError)
MB = 1 << 20


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


@dataclass(frozen=True)
class Member:
    """One ``NAME.npy`` member of the archive, described by its header (no data read yet)."""

    name: str
    shape: tuple[int, ...]
    dtype: np.dtype
    fortran: bool
    offset: int  # where the array data starts inside the (uncompressed) member

    @property
    def nbytes(self) -> int:
        return math.prod(self.shape) * self.dtype.itemsize


def _unreadable(path: Path, exc: BaseException) -> MedmatError:
    detail = str(exc) if len(str(exc)) <= 200 else str(exc)[:200] + "..."  # forged headers
    return MedmatError(
        f"{path}: not a readable MedMNIST .npz archive ({type(exc).__name__}: {detail}); "
        "download it again"
    )


def _member(path: Path, zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> Member:
    where = f"{path}: {info.filename}"
    with zf.open(info) as f:
        version = np.lib.format.read_magic(f)
        if version not in HEADER_READERS:
            raise MedmatError(f"{where}: .npy format version {version} is not supported; "
                              "re-save the arrays with numpy.savez")
        shape, fortran, dtype = HEADER_READERS[version](f)
        offset = f.tell()
    if dtype.hasobject:
        raise MedmatError(f"{where}: holds Python objects, which only pickle can read and medmat "
                          "never unpickles; store plain numeric arrays")
    if any(d < 0 for d in shape):
        raise MedmatError(f"{where}: declares the impossible shape {shape}")
    member = Member(info.filename[:-4], tuple(shape), dtype, bool(fortran), offset)
    if info.file_size != offset + member.nbytes:
        raise MedmatError(
            f"{where}: declares shape {member.shape} of {dtype} ({member.nbytes:,} bytes) but "
            f"holds {max(info.file_size - offset, 0):,} bytes; the archive is truncated or "
            "forged, download it again"
        )
    return member


def read_members(path: Path) -> tuple[dict[str, Member], list[str]]:
    """The headers of the split arrays (``train_images.npy``...), checked, and every member's
    name; nothing else is read (an archive of a million members costs one directory read)."""
    if not path.is_file():
        raise MedmatError(f"{path}: file not found")
    wanted = {f"{s}_{kind}.npy" for s in SPLITS for kind in ("images", "labels")}
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
            members = {m.name: m for m in (_member(path, zf, info) for info in infos
                                           if info.filename in wanted)}
    except ZIP_ERRORS as exc:
        raise _unreadable(path, exc) from None
    return members, [info.filename for info in infos]


def _verify(path: Path, members: list[Member]) -> None:
    """Read every used member once, in 1 MB chunks, so zipfile checks its CRC-32.

    Streaming alone would notice a damaged member only at its end, after the images before the
    damage were accepted; one extra pass (bounded memory, fast next to PNG encoding) makes a
    damaged archive one error before any image is used.
    """
    try:
        with zipfile.ZipFile(path) as zf:
            for m in members:
                with zf.open(f"{m.name}.npy") as f:
                    while f.read(MB):
                        pass
    except ZIP_ERRORS as exc:
        raise _unreadable(path, exc) from None


def _read_whole(path: Path, member: Member) -> np.ndarray:
    try:
        with zipfile.ZipFile(path) as zf, zf.open(f"{member.name}.npy") as f:
            return np.lib.format.read_array(f, allow_pickle=False)
    except ZIP_ERRORS as exc:
        raise _unreadable(path, exc) from None


class ImageStream:
    """Images of one member, read one at a time front to back (the order ingest asks for).

    The member stays open between calls, so reading N images decompresses the member once;
    skipped images are read past in small chunks, and a request behind the current position
    reopens the member (correct, only slower). Fortran-ordered arrays (an image is not
    contiguous) are read whole; the budget already allowed that.
    """

    def __init__(self, path: Path, member: Member) -> None:
        self.path, self.member = path, member
        self.size = math.prod(member.shape[1:]) * member.dtype.itemsize
        self._whole: np.ndarray | None = None
        self._zf: zipfile.ZipFile | None = None
        self._fh: io.BufferedIOBase | None = None
        weakref.finalize(self, ImageStream._close_files, self.__dict__)

    @staticmethod
    def _close_files(state: dict) -> None:
        for key in ("_fh", "_zf"):
            if state.get(key) is not None:
                state[key].close()
                state[key] = None

    def __call__(self, i: int) -> Image.Image:
        m = self.member
        if m.fortran:
            if self._whole is None:
                self._whole = _read_whole(self.path, m)
            return _to_image(self._whole[i])
        target = m.offset + i * self.size
        try:
            if self._fh is not None and self._fh.tell() > target:
                self._close_files(self.__dict__)
            if self._fh is None:
                self._zf = zipfile.ZipFile(self.path)
                self._fh = self._zf.open(f"{m.name}.npy")
            # ZipExtFile.seek would skip ahead in 16 MB reads; skip in 1 MB ones instead
            while (gap := target - self._fh.tell()) > 0 and self._fh.read(min(gap, MB)):
                pass
            data = self._fh.read(self.size)
        except ZIP_ERRORS as exc:
            self._close_files(self.__dict__)
            raise MedmatError(f"{m.name}[{i}]: unreadable ({type(exc).__name__}: {exc}); "
                              "the archive is damaged, download it again") from None
        if len(data) != self.size:
            raise MedmatError(f"{m.name}[{i}]: the archive ends early; download it again")
        if i == m.shape[0] - 1:
            self._close_files(self.__dict__)
        return _to_image(np.frombuffer(data, dtype=m.dtype).reshape(m.shape[1:]))


def _shown(row: np.ndarray) -> str:
    values = row[:20].tolist()
    return f"{values}"[:-1] + (", ...]" if row.size > 20 else "]")


def _label_names(info: FlagInfo, row: np.ndarray) -> tuple[tuple[str, ...], str | None]:
    row = np.asarray(row).reshape(-1)
    if row.dtype.kind == "f":
        if np.isnan(row).any():
            return (), f"label row {_shown(row)} holds NaN; every image needs a class index"
        if (row != np.round(row)).any() or np.isinf(row).any():
            return (), (f"label row {_shown(row)} holds a non-integer value; labels are "
                        "integer class indices")
    if info.multi_label:
        if row.size != len(info.labels) or not np.isin(row, (0, 1)).all():
            return (), (
                f"label row {_shown(row)} is not a 0/1 vector of {len(info.labels)} "
                f"{info.flag} findings"
            )
        names = tuple(n for n, v in zip(info.labels, row, strict=True) if v)
        return names or (info.none_label,), None
    if row.size != 1 or not 0 <= row[0] < len(info.labels):
        return (), (
            f"unknown label index {_shown(row)}; {info.flag} has {len(info.labels)} classes "
            f"(0..{len(info.labels) - 1})"
        )
    return (info.labels[int(row[0])],), None


def _to_image(arr: np.ndarray) -> Image.Image:
    if arr.ndim == 3 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    return Image.fromarray(np.ascontiguousarray(arr), "L" if arr.ndim == 2 else "RGB")


def _check_split(path: Path, split: str, images: Member, labels: Member | None) -> None:
    if labels is None or labels.shape[:1] != images.shape[:1]:
        raise MedmatError(
            f"{path}: {split}_labels is missing or has a different length than "
            f"{split}_images; the archive is incomplete"
        )
    shape = images.shape
    if images.dtype != np.uint8 or len(shape) not in (3, 4) or (
        len(shape) == 4 and shape[-1] not in (1, 3)
    ):
        raise MedmatError(
            f"{path}: {split}_images has dtype {images.dtype} and shape {shape}; "
            "expected uint8 N×H×W or N×H×W×3 (a 2D MedMNIST flag)"
        )
    if shape[1] * shape[2] > (Image.MAX_IMAGE_PIXELS or math.inf):
        raise MedmatError(f"{path}: {split}_images are {shape[1]}×{shape[2]} pixels each, over "
                          f"the {Image.MAX_IMAGE_PIXELS:,}-pixel image limit")
    if labels.dtype.kind not in "biuf":
        raise MedmatError(
            f"{path}: {split}_labels has dtype {labels.dtype}; MedMNIST labels are integer class "
            "indices (text or other labels cannot be mapped to the flag's classes)"
        )


def _check_budget(path: Path, members: list[Member], budget_mb: float) -> None:
    def mb(n: float) -> str:
        return f"{n:,.2f}".rstrip("0").rstrip(".")

    total = sum(m.nbytes for m in members)
    if total > budget_mb * MB:
        raise MedmatError(
            f"{path}: its arrays hold {mb(total / MB)} MB once decompressed, over the "
            f"--max-archive-mb budget of {mb(budget_mb)} MB; raise --max-archive-mb if the "
            "archive is genuine"
        )


def scan_medmnist(path: str | Path, opts: IngestOptions) -> SourceResult:
    path = Path(path)
    info = detect_flag(path, opts.flag)
    members, names = read_members(path)
    present = [s for s in SPLITS if f"{s}_images" in members]
    if not present:
        shown = sorted(names)[:10] + (["..."] if len(names) > 10 else [])
        raise MedmatError(
            f"{path}: no train_images / val_images / test_images arrays (found {shown})"
        )
    for split in present:
        _check_split(path, split, members[f"{split}_images"], members.get(f"{split}_labels"))
    used = [members[f"{s}_{kind}"] for s in present for kind in ("images", "labels")]
    _check_budget(path, used, opts.max_archive_mb)
    _verify(path, used)
    cands: list[Candidate] = []
    for split in present:
        images = members[f"{split}_images"]
        labels = _read_whole(path, members[f"{split}_labels"])
        stream = ImageStream(path, images)
        for i in range(images.shape[0]):
            names, error = _label_names(info, labels[i])
            rel = f"{path.stem}/{split}/{i:06d}.png"
            cands.append(
                Candidate(
                    key=f"{info.flag}/{split}/{i:06d}",
                    where=f"{path.name} {split}[{i}]",
                    image_rel=rel,
                    load=lambda s=stream, i=i: s(i),
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
