"""What a source hands to the validator: one :class:`Candidate` per image-label row.

Sources only *describe* rows (where the image is, which labels, which split); they never decode
images. Decoding happens once, in :mod:`medmat.ingest.validate`, so every format gets the same
checks, the same conversions and the same error messages.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from medmat.regions import Region


@dataclass
class Candidate:
    """One row of a source, before validation.

    ``key`` becomes the record id (unique within the ingest); ``where`` names the row in messages
    (``labels.csv row 7``, ``train/cat/a.png``); ``image_rel`` is the image's path as the source
    spells it (used to name the converted PNG); ``load`` decodes the image or raises MedmatError;
    ``error`` is a problem the source already found (duplicate row, bad label index...).
    ``load_mask`` decodes the row's segmentation mask (a 2-D integer array aligned with the
    stored image) and ``regions`` are boxes from a box table; ``regions_from`` names the mask or
    table in messages (see :mod:`medmat.ingest.masks`).
    """

    key: str
    where: str
    image_rel: str
    load: Callable[[], Image.Image] | None
    labels: tuple[str, ...] = ()
    split: str | None = None
    group: str | None = None
    modality: str | None = None
    area: str | None = None
    task: str | None = None
    subset: str | None = None
    source: str | None = None
    multi_label: bool = False
    error: str | None = None
    load_mask: Callable[[], np.ndarray] | None = None
    regions: tuple[Region, ...] | None = None
    regions_from: str | None = None


@dataclass
class SourceResult:
    """Everything a source found: candidates, files it ignored, and label-space knowledge."""

    candidates: list[Candidate]
    source_name: str
    ignored: list[str] = field(default_factory=list)
    # labels the source itself declares (MedMNIST mapping, Med-MAT options); None = open set
    label_space: dict[str, list[str]] | None = None
    notes: list[str] = field(default_factory=list)
    # the folder the candidates' image paths are relative to (folder and table sources)
    root: Path | None = None


@dataclass(frozen=True)
class Problem:
    """A row that could not be ingested, with the reason (goes to ingest-report.json)."""

    where: str
    reason: str

    def as_dict(self) -> dict[str, str]:
        return {"item": self.where, "reason": self.reason}

    def __str__(self) -> str:
        return f"{self.where}: {self.reason}"
