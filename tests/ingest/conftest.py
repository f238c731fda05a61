"""Fixture builders for the ingest tests: every dataset is written here, nothing downloaded."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image

from medmat.records import read_records


@pytest.fixture(autouse=True)
def _quiet(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEDMAT_PROGRESS", "0")


def pixels(seed: int, size: int = 12, channels: int = 3) -> np.ndarray:
    """Distinct random pixels per seed, so every fixture image has its own hash."""
    rng = np.random.default_rng(seed)
    shape = (size, size, channels) if channels > 1 else (size, size)
    return rng.integers(0, 256, shape, dtype=np.uint8)


def write_image(path: Path, seed: int, fmt: str = "PNG", mode: str = "RGB") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    img = Image.fromarray(pixels(seed, channels=1 if mode in ("L", "P") else 3))
    if mode == "P":
        img = img.convert("P")
    elif mode != img.mode:
        img = img.convert(mode)
    img.save(path, format=fmt)
    return path


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def write_bomb_png(path: Path, side: int = 100_000) -> Path:
    """A tiny PNG whose header claims side x side pixels (Pillow's bomb guard must refuse it)."""
    ihdr = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat)
                     + _chunk(b"IEND", b""))
    return path


def write_truncated_png(path: Path, seed: int) -> Path:
    write_image(path, seed)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def by_id(out: Path) -> dict:
    return {r.record_id: r for r in read_records(out)}


def tree(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` with its bytes (to compare runs byte for byte)."""
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


MAT = {"modality": "X-ray", "area": "Lung", "task": "COVID-19"}


@pytest.fixture
def h() -> SimpleNamespace:
    """The helpers above, as a fixture (importlib import mode cannot import conftest)."""
    return SimpleNamespace(
        pixels=pixels, write_image=write_image, write_bomb_png=write_bomb_png,
        write_truncated_png=write_truncated_png, by_id=by_id, tree=tree, MAT=dict(MAT),
    )
