"""Every knob of ``medmat ingest`` in one frozen dataclass (the CLI and the Python API share it)."""

from __future__ import annotations

from dataclasses import dataclass, field, fields

from medmat.errors import MedmatError
from medmat.records import text_problem

ON_ERROR = ("fail", "skip")
PLANES = ("axial", "coronal", "sagittal")


@dataclass(frozen=True)
class IngestOptions:
    """Options for :func:`medmat.ingest.ingest`; defaults match the CLI's."""

    # MAT triplet and naming (flags override what a catalog / mapping table says)
    modality: str | None = None
    area: str | None = None
    task: str | None = None
    subset: str | None = None
    source_name: str | None = None
    # where images live for table / Med-MAT JSON sources (default: the table's folder)
    images_root: str | None = None
    on_error: str = "fail"
    force: bool = False
    # label space: any label outside it is an error (or a skipped row)
    labels: tuple[str, ...] = ()
    # table sources
    file_column: str | None = None
    label_column: str | None = None
    label_sep: str | None = None
    onehot_columns: tuple[str, ...] = ()
    none_label: str | None = None
    split_column: str | None = None
    group_column: str | None = None
    delimiter: str | None = None
    # derived splits (only when the source has no test split)
    val_frac: float = 0.0
    test_frac: float = 0.1
    seed: int = 0
    # medmnist
    flag: str | None = None
    # budget on an archive's decompressed arrays, checked from their headers before anything is
    # read (the largest official MedMNIST+ file, pathmnist_224, is ~15,400 MB)
    max_archive_mb: float = 20480
    # dicom / nifti
    frame: int | None = None
    plane: str = "axial"
    slice_index: int | None = None
    window: tuple[float, float] | None = None
    slices: str = "middle"  # middle | every:K | even:N | mask:N (see sources/volume_rows.py)
    group_by: str = "auto"
    mask_pattern: str | None = None
    # regions (see medmat.ingest.masks): from the masks named by mask_pattern, or a box table
    box_per: str = "image"  # image (outer extent, as the study) | component
    min_area: int = 1
    mask_labels: str | None = None  # "1=Tumor,2=Cyst": a label map's values named
    boxes: str | None = None
    max_volume_mb: float = 512  # decoded size a volume's header may declare
    extra: dict = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        if self.on_error not in ON_ERROR:
            raise MedmatError(f"--on-error {self.on_error!r}: use one of {', '.join(ON_ERROR)}")
        budget = self.max_archive_mb
        if isinstance(budget, bool) or not isinstance(budget, int | float) or not budget > 0:
            raise MedmatError(f"--max-archive-mb {self.max_archive_mb!r}: use a positive number "
                              "of megabytes")
        for name in ("subset", "source_name", "none_label"):  # written into every record
            value = getattr(self, name)
            problem = None if value is None else text_problem(value, f"--{name.replace('_', '-')}")
            if problem:
                raise MedmatError(problem)
        if self.plane not in PLANES:
            raise MedmatError(f"--plane {self.plane!r}: use one of {', '.join(PLANES)}")
        for name in ("val_frac", "test_frac"):
            value = getattr(self, name)
            if not 0.0 <= value < 1.0:
                raise MedmatError(f"--{name.replace('_', '-')} {value}: must be in [0, 1)")
        if self.val_frac + self.test_frac >= 1.0:
            raise MedmatError(
                f"--val-frac {self.val_frac} + --test-frac {self.test_frac} leave no training "
                "images; lower them"
            )
        if self.window is not None:
            centre, width = self.window
            if width <= 0:
                raise MedmatError(f"--window {centre},{width}: the width must be positive")
        from medmat.ingest.masks import check_region_options
        from medmat.ingest.sources.volumes import check_volume_options

        check_volume_options(self)
        check_region_options(self)

    @classmethod
    def from_kwargs(cls, **kwargs: object) -> IngestOptions:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(kwargs) - known)
        if unknown:
            raise MedmatError(f"unknown ingest option(s) {unknown}; known: {sorted(known)}")
        for name in ("labels", "onehot_columns"):
            if isinstance(kwargs.get(name), str):  # tuple("abc") would be three labels
                raise MedmatError(f"{name}={kwargs[name]!r}: pass a list of names, not one string")
            if name in kwargs and kwargs[name] is not None:
                kwargs[name] = tuple(kwargs[name])  # type: ignore[arg-type]
        return cls(**kwargs)  # type: ignore[arg-type]
