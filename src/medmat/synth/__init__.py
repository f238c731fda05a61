"""The synthetic MAT lab: a procedural world where modality, area and task are controlled.

``image = render_M(anatomy_A carrying finding_T)``; see :mod:`medmat.synth.spec` for what can be
drawn, :mod:`medmat.synth.lab` for the per-item determinism, :mod:`medmat.synth.generate` for
writing a lab to disk.
"""

from medmat.synth.generate import generate_lab, write_contact_sheet
from medmat.synth.lab import LabConfig, render_item
from medmat.synth.spec import AREAS, MODALITIES, TASKS, Cell, full_lattice, parse_cell

__all__ = [
    "AREAS", "MODALITIES", "TASKS", "Cell", "LabConfig", "full_lattice", "generate_lab",
    "parse_cell", "render_item", "write_contact_sheet",
]
