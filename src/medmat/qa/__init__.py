"""VQA builder: records table -> single-choice QA items in the Med-MAT format.

Each record (one image) becomes one item with the published Med-MAT keys (``id``, ``caption``,
``image``, ``Question``, ``Answer``, ``Question-choice``, ``Answer-choice``, ``data-no``) plus our
metadata (options, modality, area, task, subset, split, record_id, template).

* Questions: six instruction templates per task family (``templates.yaml``, overridable per task
  or per subset), naming the modality and anatomy with the taxonomy's phrases.
* Options: up to four, ``A: text`` one per line, then "Answer with the option's letter from the
  given choices directly."; distractors drawn from the other labels of the same subset (label
  space = sorted union of the subset's labels over all splits); fewer options when the subset
  has fewer labels; a subset with a single label is an error naming it.
* Multi-label policy: one item per record; the correct option is one of the image's true labels;
  distractors come only from labels that are false for the image (no option but one is true);
  with fewer false labels the item has fewer options, and a record whose labels cover its whole
  subset yields no item and is listed as skipped in the summary.
* Determinism: template, correct label and distractors are functions of (seed, record_id)
  (:mod:`medmat.qa.rng`); answer letters are balanced per (subset, split, n_options, label) group
  (:mod:`medmat.qa.balance`). Same inputs and seed give byte-identical files.
* Grounding: a record with regions becomes one box question instead (:mod:`medmat.qa.grounding`):
  the ``grounding`` templates, the answer a box in the canonical form of :mod:`medmat.qa.boxes`.
* Leakage: :func:`build` refuses evaluation records pixel-identical to training ones unless
  ``drop_leaky`` (then counted in summary.json). Splits are taken as they are, never re-made.
"""

from medmat.qa.build import MULTI_LABEL_POLICY, build, iter_items
from medmat.qa.fmt import CLOSING, format_question_choice
from medmat.qa.templates import N_TEMPLATES, TemplateSet, load_templates

__all__ = [
    "CLOSING",
    "MULTI_LABEL_POLICY",
    "N_TEMPLATES",
    "TemplateSet",
    "build",
    "format_question_choice",
    "iter_items",
    "load_templates",
]
