"""Instruction templates as data: six per task family, overridable per task or per subset.

Resolution order for a record (first hit wins): the user's per-subset templates, the user's
per-task templates, the built-in family templates (``templates.yaml``), then ``generic``. Every
entry must hold exactly :data:`N_TEMPLATES` distinct templates using only the placeholders
``{modality}`` and ``{area}``, which are filled with the taxonomy's natural phrases
(``tax.phrase``), so "CT" reads "CT scan" and "Lung" reads "lung" in a question.

Grounding items (records with regions, see :mod:`medmat.qa.grounding`) take their questions
from the ``grounding`` section instead: six templates that may also use ``{label}``, the name of
the finding to locate. A user file's ``grounding`` list replaces the built-in one.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from medmat.errors import MedmatError, UnknownTermError

N_TEMPLATES = 6
PLACEHOLDERS = ("modality", "area")
GROUNDING_PLACEHOLDERS = ("label", "modality", "area")
BUILTIN_FILE = Path(__file__).with_name("templates.yaml")
_TOP_KEYS = ("generic", "tasks", "subsets", "grounding")
# "this fundus fundus photograph" -> "this fundus photograph" (area phrase repeats the modality's)
_REPEATED_WORD = re.compile(r"\b(\w+)(\s+\1\b)+", re.IGNORECASE)


def _taxonomy():  # imported lazily: the taxonomy loads its vocabularies on first use
    from medmat import taxonomy

    return taxonomy.load_taxonomy()


def phrase(kind: str, name: str) -> str:
    """Natural lowercase phrase for a modality / area name (via medmat.taxonomy)."""
    tax = _taxonomy()
    return tax.phrase(kind, tax.normalize(kind, name))


def label_phrase(label: str) -> str:
    """A label as it reads inside a sentence: "Lesion" -> "lesion", "No tumor" -> "no tumor",
    while acronyms and names with capitals further in ("COVID-19", "MRI") keep their case."""
    if label[:1].isupper() and (len(label) == 1 or label[1:2].islower()):
        return label[:1].lower() + label[1:]
    return label


def canonical_task(name: str) -> str | None:
    try:
        return _taxonomy().normalize("task", name)
    except UnknownTermError:
        return None


@dataclass(frozen=True)
class TemplateSet:
    """Resolved templates; ``sources`` names the files merged (built-in first)."""

    generic: tuple[str, ...]
    tasks: Mapping[str, tuple[str, ...]]
    subsets: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    sources: tuple[str, ...] = ()
    grounding: tuple[str, ...] = ()
    _cache: dict = field(default_factory=dict, compare=False, repr=False)

    def choose(self, subset: str, task: str) -> tuple[str, tuple[str, ...]]:
        """(where the templates came from, the six raw templates) for a subset / task."""
        if subset in self.subsets:
            return f"subset:{subset}", self.subsets[subset]
        if task in self.tasks:
            return f"task:{task}", self.tasks[task]
        canon = canonical_task(task)
        if canon is not None and canon in self.tasks:
            return f"task:{canon}", self.tasks[canon]
        return "generic", self.generic

    def render(self, subset: str, task: str, modality: str, area: str) -> tuple[str, ...]:
        """The six questions for one (subset, task, modality, area), cached."""
        key = (subset, task, modality, area)
        hit = self._cache.get(key)
        if hit is None:
            _, raw = self.choose(subset, task)
            try:
                phrases = {"modality": phrase("modality", modality), "area": phrase("area", area)}
            except UnknownTermError as exc:
                raise MedmatError(
                    f"subset {subset!r}: {exc}. Use canonical MAT names in the records table "
                    "(see `medmat catalog`) or fix the taxonomy."
                ) from None
            hit = tuple(_finish(t.format(**phrases)) for t in raw)
            self._cache[key] = hit
        return hit

    def render_grounding(self, modality: str, area: str, label: str) -> tuple[str, ...]:
        """The six grounding questions asking for ``label`` in a (modality, area) image."""
        key = ("grounding", modality, area, label)
        hit = self._cache.get(key)
        if hit is None:
            try:
                phrases = {"modality": phrase("modality", modality), "area": phrase("area", area),
                           "label": label_phrase(label)}
            except UnknownTermError as exc:
                raise MedmatError(
                    f"grounding item for {label!r}: {exc}. Use canonical MAT names in the "
                    "records table (see `medmat catalog`) or fix the taxonomy."
                ) from None
            hit = tuple(_finish(t.format(**phrases)) for t in self.grounding)
            self._cache[key] = hit
        return hit

    def describe(self) -> dict[str, Any]:
        return {"sources": list(self.sources), "tasks": sorted(self.tasks),
                "subsets": sorted(self.subsets)}


def _finish(text: str) -> str:
    text = _REPEATED_WORD.sub(r"\1", " ".join(text.split()))
    return text[:1].upper() + text[1:]


def _check_templates(value: object, where: str,
                     placeholders: tuple[str, ...] = PLACEHOLDERS) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(t, str) for t in value):
        raise MedmatError(f"{where}: expected a list of {N_TEMPLATES} template strings")
    if len(value) != N_TEMPLATES:
        raise MedmatError(
            f"{where}: has {len(value)} template(s); exactly {N_TEMPLATES} are required"
        )
    cleaned = tuple(" ".join(t.split()) for t in value)
    for i, text in enumerate(cleaned):
        if not text:
            raise MedmatError(f"{where}[{i}]: empty template")
        try:
            fields = list(string.Formatter().parse(text))
        except ValueError as exc:
            raise MedmatError(
                f"{where}[{i}]: {text!r} is not a valid template ({exc}); write a literal "
                "brace as '{{' or '}}'"
            ) from None
        for _, name, spec, conv in fields:
            if name is None:
                continue
            if name not in placeholders or spec or conv:
                raise MedmatError(
                    f"{where}[{i}]: unknown placeholder {{{name}{'!' + conv if conv else ''}"
                    f"{':' + spec if spec else ''}}} in {text!r}; only "
                    f"{', '.join('{' + p + '}' for p in placeholders)} are allowed"
                )
    if len(set(cleaned)) != N_TEMPLATES:
        raise MedmatError(f"{where}: the {N_TEMPLATES} templates must be distinct")
    return cleaned


def _parse(data: object, source: str, *, builtin: bool) -> dict[str, Any]:
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise MedmatError(f"{source}: expected a mapping with keys {list(_TOP_KEYS)}")
    unknown = [k for k in data if k not in _TOP_KEYS]
    if unknown:
        raise MedmatError(f"{source}: unknown key(s) {unknown}; allowed: {list(_TOP_KEYS)}")
    out: dict[str, Any] = {"tasks": {}, "subsets": {}}
    if "generic" in data:
        out["generic"] = _check_templates(data["generic"], f"{source}: generic")
    if "grounding" in data:
        out["grounding"] = _check_templates(data["grounding"], f"{source}: grounding",
                                            GROUNDING_PLACEHOLDERS)
    for section in ("tasks", "subsets"):
        entries = data.get(section) or {}
        if not isinstance(entries, dict):
            raise MedmatError(f"{source}: `{section}` must map names to template lists")
        for key, value in entries.items():
            if not isinstance(key, str):
                raise MedmatError(
                    f"{source}: {section} key {key!r} is not a string; quote it "
                    "(e.g. '07' for subset 07)"
                )
            name = key
            if section == "tasks":
                canon = canonical_task(key)
                if canon is None:
                    raise MedmatError(
                        f"{source}: unknown task family {key!r} under `tasks`; use a canonical "
                        "task name (see `medmat catalog`) or a `subsets:` entry instead"
                    )
                if builtin and canon != key:
                    raise MedmatError(f"{source}: task {key!r} is not canonical ({canon!r})")
                name = canon
            out[section][name] = _check_templates(value, f"{source}: {section}.{key}")
    return out


def _read_yaml(path: Path) -> object:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise MedmatError(f"{path}: templates file not found") from None
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise MedmatError(f"{path}: not valid YAML ({exc})") from None


def load_templates(path: str | Path | Mapping | None = None) -> TemplateSet:
    """The built-in templates, with a user file (or an already-parsed mapping) merged on top."""
    base = _parse(_read_yaml(BUILTIN_FILE), BUILTIN_FILE.name, builtin=True)
    for key in ("generic", "grounding"):
        if key not in base:
            raise MedmatError(f"{BUILTIN_FILE}: the built-in templates lack `{key}`")
    sources = ["builtin"]
    if path is not None:
        if isinstance(path, Mapping):
            user, label = dict(path), "templates"
        else:
            label = str(Path(path))
            user = _read_yaml(Path(path))
        parsed = _parse(user, label, builtin=False)
        base["generic"] = parsed.get("generic", base["generic"])
        base["grounding"] = parsed.get("grounding", base["grounding"])
        base["tasks"].update(parsed["tasks"])
        base["subsets"].update(parsed["subsets"])
        sources.append(label)
    return TemplateSet(
        generic=base["generic"], tasks=base["tasks"], subsets=base["subsets"],
        sources=tuple(sources), grounding=base["grounding"],
    )


def resolve_templates(templates: TemplateSet | str | Path | Mapping | None) -> TemplateSet:
    if isinstance(templates, TemplateSet):
        return templates
    return load_templates(templates)
