"""The synthetic MAT lab: a procedural world where modality, area and task are controlled.

``image = render_M(anatomy_A carrying finding_T)``; see :mod:`medmat.synth.spec` for what can be
drawn, :mod:`medmat.synth.lab` for the per-item determinism, :mod:`medmat.synth.generate` for
writing a lab to disk. :func:`general_cells` is the general-domain part (photos of scenes with
the same findings), mixed into every trained arm rather than planned as CG data.
"""

from medmat.synth.generate import generate_lab, write_contact_sheet
from medmat.synth.lab import LabConfig, render_item, render_item_regions
from medmat.synth.spec import (
    AREAS,
    DETECTION_TASKS,
    GENERAL_AREAS,
    GENERAL_MODALITIES,
    MODALITIES,
    TASKS,
    Cell,
    full_lattice,
    general_cells,
    parse_cell,
)

__all__ = [
    "AREAS", "DETECTION_TASKS", "GENERAL_AREAS", "GENERAL_MODALITIES", "MODALITIES", "TASKS",
    "Cell", "LabConfig", "full_lattice", "general_cells", "generate_lab", "parse_cell",
    "render_item", "render_item_regions", "write_contact_sheet",
]
