"""What the synthetic MAT lab can draw: modalities, anatomical areas, tasks and their labels.

The lab is a controlled world for compositional generalization: an image is
``render_M(anatomy_A carrying finding_T)``. Modality, area and task are independent factors, so a
model that learned "what a cyst looks like" on lung CT and "what a brain looks like" on MRI has
the elements it needs for an unseen brain-CT cyst question, and nothing more.

Names are the canonical taxonomy names (medmat.taxonomy), codes are the taxonomy codes; the
subset id of a lab cell is ``"{modality code}-{area code}-{task code}"``.

Besides the medical lattice the lab has a *general-domain* part: photographs of everyday scenes
(modality "Photo", area "Scene") carrying the same findings under the same label names. It stands
for what a real multimodal LLM knows before any medical training (what a "nodule" or a "cyst"
generically looks like), so it is never a CG target or a related/unrelated source; an experiment
mixes the same amount of it into every trained arm (:func:`general_cells`).
"""

from __future__ import annotations

from dataclasses import dataclass

from medmat.errors import MedmatError

# canonical name -> code
MODALITIES: dict[str, str] = {
    "X-ray": "xray",
    "CT": "ct",
    "MRI": "mri",
    "Ultrasound": "us",
    "Fundus photography": "fp",
    "Microscopy": "mic",
}
AREAS: dict[str, str] = {
    "Lung": "lung",
    "Brain": "brain",
    "Bones": "bones",
    "Breast": "breast",
    "Kidney": "kidney",
}
# task family -> (code, labels); a label is also the option text shown to the model
TASKS: dict[str, tuple[str, tuple[str, ...]]] = {
    "Lesion type": ("lesion", ("Nodule", "Cyst", "Calcification", "Linear lesion")),
    "Severity grade": ("severity", ("Mild", "Moderate", "Severe")),
    "Abnormality": ("abnormal", ("Normal", "Abnormal")),
    "Location": ("location", ("Left side", "Right side")),
    # detection: one lesion of the label's kind per image, and its exact box (records' regions)
    "Detection/segmentation": ("detseg", ("Nodule", "Cyst", "Calcification", "Linear lesion")),
}
# tasks whose records carry regions (the box of the painted finding)
DETECTION_TASKS = frozenset({"Detection/segmentation"})
# the general-domain part: a photo of a scene is the only combination (no photo of a lung)
GENERAL_MODALITIES: dict[str, str] = {"Photo": "photo"}
GENERAL_AREAS: dict[str, str] = {"Scene": "scene"}
COLOUR_MODALITIES = frozenset({"Fundus photography", "Microscopy", "Photo"})


@dataclass(frozen=True, order=True)
class Cell:
    """One MAT combination of the lab (one subset)."""

    modality: str
    area: str
    task: str

    def __post_init__(self) -> None:
        for value, table, kind in (
            (self.modality, MODALITIES, "modality"),
            (self.area, AREAS, "area"),
            (self.task, TASKS, "task"),
        ):
            general = GENERAL_MODALITIES if kind == "modality" else GENERAL_AREAS
            if value not in table and (kind == "task" or value not in general):
                raise MedmatError(
                    f"the synthetic lab has no {kind} {value!r}; available: {sorted(table)}"
                    + ("" if kind == "task" else f" (general domain: {sorted(general)})")
                )
        if (self.modality in GENERAL_MODALITIES) != (self.area in GENERAL_AREAS):
            raise MedmatError(
                f"{self.modality}/{self.area}: the general-domain modality Photo goes only with "
                "the general-domain area Scene, medical modalities only with medical areas "
                "(e.g. photo-scene-lesion, xray-lung-lesion)"
            )

    @property
    def general(self) -> bool:
        """True for the general-domain part (photos of scenes), not a medical MAT combination."""
        return self.modality in GENERAL_MODALITIES

    @property
    def detection(self) -> bool:
        """True for a detection cell: its records carry the finding's box as regions."""
        return self.task in DETECTION_TASKS

    @property
    def subset(self) -> str:
        mod = {**MODALITIES, **GENERAL_MODALITIES}[self.modality]
        area = {**AREAS, **GENERAL_AREAS}[self.area]
        return f"{mod}-{area}-{TASKS[self.task][0]}"

    @property
    def labels(self) -> tuple[str, ...]:
        return TASKS[self.task][1]

    @classmethod
    def from_subset(cls, subset: str) -> Cell:
        parts = subset.split("-")
        if len(parts) != 3:
            raise MedmatError(f"{subset!r} is not a lab subset id (expected modality-area-task)")
        inv_m = {v: k for k, v in {**MODALITIES, **GENERAL_MODALITIES}.items()}
        inv_a = {v: k for k, v in {**AREAS, **GENERAL_AREAS}.items()}
        inv_t = {v[0]: k for k, v in TASKS.items()}
        try:
            return cls(inv_m[parts[0]], inv_a[parts[1]], inv_t[parts[2]])
        except KeyError:
            raise MedmatError(
                f"{subset!r}: unknown code; modality codes {sorted(inv_m)}, area codes "
                f"{sorted(inv_a)}, task codes {sorted(inv_t)}"
            ) from None


def full_lattice() -> list[Cell]:
    """Every medical cell (6 x 5 x 5 = 150); the general-domain part is :func:`general_cells`."""
    return [Cell(m, a, t) for m in MODALITIES for a in AREAS for t in TASKS]


def general_cells(tasks: tuple[str, ...] | None = None) -> list[Cell]:
    """The general-domain cells (photo-scene-*), one per task (default: every task).

    Together they show every label word with the generic look of its finding, as a general
    four-option VQA set does for a real model.
    """
    tasks = tuple(TASKS) if tasks is None else tasks
    return [Cell(m, a, t) for m in GENERAL_MODALITIES for a in GENERAL_AREAS for t in tasks]


def parse_cell(text: str) -> Cell:
    """Accept 'xray-brain-lesion' or 'X-ray/Brain/Lesion type' (taxonomy synonyms allowed)."""
    if "/" not in text:
        return Cell.from_subset(text)
    # at most two splits: the task name "Detection/segmentation" has a slash of its own
    parts = [p.strip() for p in text.split("/", 2)]
    if len(parts) != 3:
        raise MedmatError(f"{text!r}: write a cell as 'Modality/Area/Task' or 'mod-area-task'")
    try:
        from medmat.taxonomy import normalize

        parts = [normalize(k, p) for k, p in zip(("modality", "area", "task"), parts, strict=True)]
    except ImportError:  # taxonomy is optional for the lab's own names
        pass
    return Cell(*parts)
