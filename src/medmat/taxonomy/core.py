"""The MAT vocabularies in memory: terms, exact lookup, free-text task rules, helpful errors.

Upstream tables spell one thing many ways ("X-Ray", "X-ray", "XRAY"; "US", "Ultrasound"), so
every lookup goes through :func:`fold` which drops case, whitespace and punctuation. Terms,
synonyms and rules are *data* (YAML next to this module, plus user files); this module holds no
vocabulary of its own.
"""

from __future__ import annotations

import difflib
import json
import re
import unicodedata
from dataclasses import dataclass, field

from medmat.errors import MedmatError, UnknownTermError

KINDS: tuple[str, ...] = ("modality", "area", "task")
ENV_VAR = "MEDMAT_TAXONOMY"

_NON_ALNUM = re.compile(r"[^0-9a-z]+")


def words(text: str) -> str:
    """Lowercase ``text`` and turn every run of non-alphanumerics into one space."""
    text = unicodedata.normalize("NFKC", str(text)).casefold()
    return _NON_ALNUM.sub(" ", text).strip()


def fold(text: str) -> str:
    """The lookup key: letters and digits only (``"X-Ray"`` -> ``"xray"``)."""
    return words(text).replace(" ", "")


@dataclass(frozen=True)
class Term:
    """One vocabulary entry. ``synonyms`` never repeats the name or the code."""

    kind: str
    name: str
    code: str
    phrase: str
    synonyms: tuple[str, ...] = ()
    source: str = "built-in"


@dataclass(frozen=True)
class Rule:
    """A free-text task rule: any keyword occurring as whole words selects ``family``."""

    family: str
    keywords: tuple[str, ...]
    source: str = "built-in"


@dataclass(frozen=True)
class Match:
    """How a text was recognised: ``via`` is name, code, synonym or rule; ``key`` what matched."""

    term: Term
    via: str
    key: str


@dataclass
class Taxonomy:
    """The three vocabularies (modality, area, task) plus the task rules.

    Build one with :func:`medmat.taxonomy.load_taxonomy`; the instance is treated as read-only.
    """

    terms: dict[str, list[Term]] = field(default_factory=dict)
    rules: list[Rule] = field(default_factory=list)
    sources: tuple[str, ...] = ()
    _index: dict[str, dict[str, Match]] = field(default_factory=dict, repr=False)
    _memo: dict[tuple[str, str], Match] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self.reindex()

    # -- construction --------------------------------------------------------------------------
    def reindex(self) -> None:
        """Rebuild the folded-key index; raises on a key that two terms both claim."""
        self._index = {}
        self._memo = {}
        for kind in KINDS:
            index: dict[str, Match] = {}
            for term in self.terms.get(kind, []):
                labels = [(term.name, "name"), (term.code, "code")]
                labels += [(s, "synonym") for s in term.synonyms]
                for label, via in labels:
                    key = fold(label)
                    if not key:
                        continue
                    old = index.get(key)
                    if old is not None and old.term.name != term.name:
                        raise MedmatError(
                            f"taxonomy conflict in {kind} vocabulary: {label!r} ({term.source}) "
                            f"is already a spelling of {old.term.name!r} ({old.term.source}); "
                            "remove it from one of the two terms"
                        )
                    if old is None or _VIA_RANK[via] < _VIA_RANK[old.via]:
                        index[key] = Match(term, via, label)
            self._index[kind] = index
        for rule in self.rules:
            if fold(rule.family) not in self._index["task"]:
                raise MedmatError(
                    f"task rule in {rule.source} names family {rule.family!r}, which is not a "
                    "task term; add the term under `task:` or fix the family name"
                )

    # -- lookups -------------------------------------------------------------------------------
    def match(self, kind: str, text: str, *, where: str | None = None) -> Match:
        """Recognise ``text`` as a term of ``kind``; raise :class:`UnknownTermError` if unknown.

        Successful lookups are memoised: records tables repeat a handful of spellings millions
        of times.
        """
        hit = self._memo.get((kind, text))
        if hit is not None:
            return hit
        hit = self.lookup(kind, text, where=where)
        if len(self._memo) < _MEMO_LIMIT:
            self._memo[(kind, text)] = hit
        return hit

    def lookup(self, kind: str, text: str, *, where: str | None = None) -> Match:
        """:meth:`match` without the memo (index lookup, then the task rules)."""
        kind = self._check_kind(kind)
        key = fold(text) if text is not None else ""
        hit = self._index[kind].get(key) if key else None
        if hit is not None:
            return hit
        if kind == "task" and key:
            padded = f" {words(text)} "
            for rule in self.rules:
                for keyword in rule.keywords:
                    if f" {words(keyword)} " in padded:
                        term = self._index["task"][fold(rule.family)].term
                        return Match(term, "rule", keyword)
        raise UnknownTermError(self._unknown_message(kind, text, where))

    def normalize(self, kind: str, text: str, *, where: str | None = None) -> str:
        """Canonical name for ``text`` (any known spelling, code or synonym)."""
        return self.match(kind, text, where=where).term.name

    def term(self, kind: str, text: str) -> Term:
        """The full :class:`Term` for any known spelling of it."""
        return self.match(kind, text).term

    def code(self, kind: str, name: str) -> str:
        """Short code of a term given by any known spelling (``code("modality", "X-Ray")``)."""
        return self.match(kind, name).term.code

    def phrase(self, kind: str, name: str) -> str:
        """Natural wording for prompts (``phrase("modality", "CT")`` -> ``"CT scan"``)."""
        return self.match(kind, name).term.phrase

    def names(self, kind: str) -> list[str]:
        """Canonical names of ``kind`` in vocabulary order."""
        return [t.name for t in self.terms[self._check_kind(kind)]]

    def is_known(self, kind: str, text: str) -> bool:
        try:
            self.match(kind, text)
        except UnknownTermError:
            return False
        return True

    # -- errors --------------------------------------------------------------------------------
    def closest(self, kind: str, text: str, n: int = 3) -> list[str]:
        """Up to ``n`` canonical names whose spellings look most like ``text`` (difflib)."""
        kind = self._check_kind(kind)
        index = self._index[kind]
        key = fold(text or "")
        hits = difflib.get_close_matches(key, list(index), n=n * 4, cutoff=0.5)
        # Also compare word by word, so "Ultrasond image" still suggests Ultrasound.
        for token in words(text or "").split():
            hits += difflib.get_close_matches(token, list(index), n=2, cutoff=0.75)
        out: list[str] = []
        for hit in hits:
            name = index[hit].term.name
            if name not in out:
                out.append(name)
        return out[:n]

    def _unknown_message(self, kind: str, text: str, where: str | None) -> str:
        closest = self.closest(kind, text)
        place = f" (in {where})" if where else ""
        lines = [f"unknown {kind} {text!r}{place}."]
        if closest:
            lines.append("Closest known terms: " + ", ".join(repr(c) for c in closest) + ".")
        lines.append(f"Known {kind} terms: " + ", ".join(self.names(kind)) + ".")
        example = _EXTEND_EXAMPLE.format(
            kind=kind,
            name=json.dumps(str(text) if text else "NewTerm"),
            code=fold(text or "") or "new",
        )
        lines.append(
            "If it is a new term or a new spelling, extend the taxonomy with a YAML file:\n"
            f"{example}\n"
            f"and pass it with load_taxonomy(extra_files=['my_terms.yaml']) or set {ENV_VAR}="
            "/path/my_terms.yaml (several files separated by ':' on POSIX, ';' on Windows)."
        )
        return "\n".join(lines)

    def _check_kind(self, kind: str) -> str:
        if kind not in KINDS:
            raise MedmatError(f"unknown vocabulary kind {kind!r}; use one of {', '.join(KINDS)}")
        return kind


_VIA_RANK = {"name": 0, "code": 1, "synonym": 2}
_MEMO_LIMIT = 100_000  # distinct spellings remembered per taxonomy (bounded memory)

_EXTEND_EXAMPLE = """\
  # my_terms.yaml
  {kind}:
    - name: {name}            # a new term (or an existing name, to add spellings)
      code: {code}
      phrase: {name}
      synonyms: [another spelling]"""
