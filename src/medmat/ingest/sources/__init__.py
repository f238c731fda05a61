"""One module per source format; each turns a dataset into :class:`~medmat.ingest.model.Candidate`
rows. Decoders (``Path -> PIL image``) are separate so the folder and table layouts can carry
plain images, DICOM or NIfTI alike."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PIL import Image

from medmat.imaging import open_image

Decoder = Callable[[Path], Image.Image]

HIDDEN_NAMES = frozenset({"thumbs.db", "desktop.ini", "__macosx", "dicomdir"})


def decode_image(path: Path) -> Image.Image:
    """Plain image files: Pillow, with the bomb guard on; conversion happens later."""
    return open_image(path, mode=None)


def is_hidden(name: str) -> bool:
    return name.startswith(".") or name.lower() in HIDDEN_NAMES
