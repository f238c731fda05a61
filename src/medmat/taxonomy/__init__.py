"""The MAT taxonomy: controlled vocabularies for modality, anatomical area and task family.

>>> from medmat.taxonomy import normalize, load_taxonomy
>>> normalize("modality", "X-Ray"), normalize("modality", "US"), normalize("area", "Teeth")
('X-ray', 'Ultrasound', 'Mouth')
>>> normalize("task", "COVID19, Classification Dataset.")
'COVID-19'
>>> load_taxonomy().phrase("modality", "fp")
'fundus photograph'

The vocabularies are YAML files in this package; users extend them with their own files
(``load_taxonomy(extra_files=[...])`` or the ``MEDMAT_TAXONOMY`` environment variable).
"""

from __future__ import annotations

from medmat.errors import UnknownTermError
from medmat.taxonomy.core import ENV_VAR, KINDS, Match, Rule, Taxonomy, Term, fold, words
from medmat.taxonomy.loader import load_taxonomy, merge_file

__all__ = [
    "ENV_VAR",
    "KINDS",
    "Match",
    "Rule",
    "Taxonomy",
    "Term",
    "UnknownTermError",
    "code",
    "fold",
    "load_taxonomy",
    "merge_file",
    "normalize",
    "phrase",
    "words",
]


def normalize(kind: str, text: str) -> str:
    """Canonical name of ``text`` in the default taxonomy (built-in + ``MEDMAT_TAXONOMY``)."""
    return load_taxonomy().normalize(kind, text)


def code(kind: str, text: str) -> str:
    """Short code of ``text`` in the default taxonomy."""
    return load_taxonomy().code(kind, text)


def phrase(kind: str, text: str) -> str:
    """Prompt phrase of ``text`` in the default taxonomy."""
    return load_taxonomy().phrase(kind, text)
