"""Read the vocabularies from YAML: the built-in files plus any user files.

User files extend the taxonomy without touching the package: new terms, extra spellings of
existing terms, and extra task rules. They come from ``load_taxonomy(extra_files=[...])`` and
from the ``MEDMAT_TAXONOMY`` environment variable (paths separated by ``os.pathsep``).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from medmat.errors import MedmatError
from medmat.taxonomy.core import ENV_VAR, KINDS, Rule, Taxonomy, Term, fold

BUILTIN_FILES: dict[str, str] = {
    "modality": "modalities.yaml",
    "area": "areas.yaml",
    "task": "tasks.yaml",
}
_TERM_KEYS = {"name", "code", "phrase", "synonyms"}
_CACHE: dict[tuple[Any, ...], Taxonomy] = {}
_LOCK = threading.Lock()


def load_taxonomy(extra_files: Iterable[str | os.PathLike[str]] = ()) -> Taxonomy:
    """The built-in vocabularies merged with user files.

    Files listed in ``MEDMAT_TAXONOMY`` are merged first, then ``extra_files`` in order. The
    result is cached per set of files (and their modification times), so calling this in a loop
    is cheap and an edited user file is picked up.
    """
    paths = [Path(p) for p in env_files()] + [Path(p) for p in extra_files]
    key = tuple((str(p), _mtime(p)) for p in paths)
    with _LOCK:
        cached = _CACHE.get(key)
    if cached is not None:
        return cached
    tax = _build(paths)
    with _LOCK:
        _CACHE[key] = tax
    return tax


def env_files() -> list[str]:
    """Paths named in ``MEDMAT_TAXONOMY`` (empty entries ignored)."""
    raw = os.environ.get(ENV_VAR, "")
    return [p for p in raw.split(os.pathsep) if p.strip()]


def _mtime(path: Path) -> int | None:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return None  # reported properly by _read_yaml


def _build(paths: list[Path]) -> Taxonomy:
    terms: dict[str, list[Term]] = {}
    rules: list[Rule] = []
    pkg = resources.files("medmat.taxonomy")
    for kind, filename in BUILTIN_FILES.items():
        source = f"built-in {filename}"
        data = _parse_yaml((pkg / filename).read_text(encoding="utf-8"), source)
        terms[kind] = [_term(kind, raw, source) for raw in _list(data, "terms", source)]
        if kind == "task":
            rules = [_rule(raw, source) for raw in _list(data, "rules", source, required=False)]
    tax = Taxonomy(terms=terms, rules=rules, sources=tuple(BUILTIN_FILES.values()))
    for path in paths:
        tax = merge_file(tax, path)
    return tax


def merge_file(tax: Taxonomy, path: str | os.PathLike[str]) -> Taxonomy:
    """A new :class:`Taxonomy` with the user file at ``path`` merged into ``tax``.

    The file maps ``modality`` / ``area`` / ``task`` to lists of terms (``name`` required;
    ``code``, ``phrase``, ``synonyms`` optional) and may hold ``task_rules`` (``family`` +
    ``keywords``), which are tried *before* the built-in rules. A term whose name or code is
    already known adds its synonyms to that term; a synonym that already means another term is
    an error.
    """
    path = Path(path)
    source = str(path)
    data = _read_yaml(path)
    if not isinstance(data, Mapping):
        raise MedmatError(f"{path}: a taxonomy file must be a mapping with keys {_allowed()}")
    unknown = set(data) - set(KINDS) - {"task_rules"}
    if unknown:
        raise MedmatError(
            f"{path}: unknown top-level key(s) {sorted(map(str, unknown))}; allowed: {_allowed()}"
        )
    terms = {kind: list(tax.terms[kind]) for kind in KINDS}
    for kind in KINDS:
        for raw in _list(data, kind, source, required=False):
            _merge_term(terms[kind], _term(kind, raw, source, partial=True), raw, source)
    new_rules = [_rule(raw, source) for raw in _list(data, "task_rules", source, required=False)]
    return Taxonomy(terms=terms, rules=new_rules + list(tax.rules), sources=tax.sources + (source,))


def _merge_term(terms: list[Term], new: Term, raw: Mapping[str, Any], source: str) -> None:
    for i, old in enumerate(terms):
        if fold(new.name) in (fold(old.name), fold(old.code)):
            if "code" in raw and fold(new.code) != fold(old.code):
                raise MedmatError(
                    f"{source}: {new.kind} {old.name!r} already has code {old.code!r}; "
                    f"drop `code: {new.code}` or use a new name"
                )
            extra = tuple(s for s in new.synonyms if fold(s) not in {fold(x) for x in old.synonyms})
            terms[i] = Term(
                kind=old.kind,
                name=old.name,
                code=old.code,
                phrase=new.phrase if "phrase" in raw else old.phrase,
                synonyms=old.synonyms + extra,
                source=f"{old.source} + {source}",
            )
            return
    terms.append(new)


def _term(kind: str, raw: Any, source: str, partial: bool = False) -> Term:
    if not isinstance(raw, Mapping) or not isinstance(raw.get("name"), str) or not raw["name"]:
        raise MedmatError(
            f"{source}: every {kind} entry needs a `name` string, got {raw!r}; "
            "write e.g. `- {name: PET, code: pet, synonyms: [positron emission tomography]}`"
        )
    extra = set(raw) - _TERM_KEYS
    if extra:
        raise MedmatError(
            f"{source}: {kind} {raw['name']!r} has unknown key(s) {sorted(map(str, extra))}; "
            f"allowed: {', '.join(sorted(_TERM_KEYS))}"
        )
    name = raw["name"].strip()
    code = raw.get("code")
    if code is None and not partial:
        raise MedmatError(f"{source}: built-in {kind} {name!r} lacks a `code`")
    code = str(code).strip() if code is not None else fold(name)
    synonyms = raw.get("synonyms") or []
    if isinstance(synonyms, str):
        synonyms = [synonyms]
    if not isinstance(synonyms, list) or not all(isinstance(s, str | int) for s in synonyms):
        raise MedmatError(f"{source}: synonyms of {kind} {name!r} must be a list of strings")
    own = {fold(name), fold(code)}
    seen: set[str] = set()
    kept: list[str] = []
    for syn in map(str, synonyms):
        key = fold(syn)
        if key and key not in own and key not in seen:
            seen.add(key)
            kept.append(syn.strip())
    phrase = str(raw.get("phrase") or name)
    return Term(kind, name, code, phrase, tuple(kept), source)


def _rule(raw: Any, source: str) -> Rule:
    if (
        not isinstance(raw, Mapping)
        or not isinstance(raw.get("family"), str)
        or not isinstance(raw.get("keywords"), list)
        or not raw["keywords"]
    ):
        raise MedmatError(
            f"{source}: a task rule needs `family` (a task name) and a non-empty `keywords` "
            f"list, got {raw!r}; write e.g. `- {{family: Cancer, keywords: [carcinoma]}}`"
        )
    return Rule(raw["family"], tuple(str(k) for k in raw["keywords"]), source)


def _list(data: Any, key: str, source: str, required: bool = True) -> list[Any]:
    value = data.get(key) if isinstance(data, Mapping) else None
    if value is None:
        if required:
            raise MedmatError(f"{source}: missing `{key}:` list")
        return []
    if not isinstance(value, list):
        raise MedmatError(f"{source}: `{key}:` must be a list, got {type(value).__name__}")
    return value


def _read_yaml(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise MedmatError(
            f"taxonomy file {path} not found (from extra_files or {ENV_VAR}); fix the path"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise MedmatError(f"taxonomy file {path} cannot be read: {exc}") from None
    return _parse_yaml(text, str(path))


def _parse_yaml(text: str, source: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise MedmatError(f"{source}: not valid YAML ({exc}); fix the file") from None


def _allowed() -> str:
    return ", ".join((*KINDS, "task_rules"))
