"""Stage manifests: what an output was made from, so it is reused only when that still holds.

Every stage output folder (a lab, an ingested records table, built items, one arm of an
experiment, the experiment itself, an export) carries a ``manifest.json``::

    {"kind": "items", "schema": 1, "medmat_version": "0.1.0",
     "config": {...the stage's own settings...},
     "inputs": {"records": "<sha256 of the records table's bytes>", ...},
     "outputs": {"items.parquet": "<sha256>", ...},
     "fingerprint": "<sha256 of kind, schema, version, config and inputs>"}

Inputs are *content* fingerprints (hashes of bytes, never paths or modification times), so an
edited file is noticed even when its path and mtime are restored. A stage is reused only when
the fingerprint it would have now equals the stored one and its outputs still hash to what the
manifest recorded; otherwise it is recomputed and replaced. :func:`explain` says why, in words,
for the run log.

The manifest also tells the output-folder contract which *kind* of medmat output a folder holds
(:func:`read_kind`), so a command never replaces a folder it did not make.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MANIFEST_NAME = "manifest.json"
# Bump when the meaning of a stage's outputs changes in a way old outputs cannot satisfy.
SCHEMA_VERSION = 1
_CHUNK = 1 << 20


def medmat_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("medmat")
    except PackageNotFoundError:  # running from a source tree without installing
        return "0+unknown"


def canonical_json(obj: Any) -> bytes:
    """One byte string per value: sorted keys, no whitespace, non-JSON types via ``str``."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True,
                      default=str).encode()


def fingerprint(obj: Any) -> str:
    """SHA-256 (hex) of a JSON-able value's canonical form."""
    return hashlib.sha256(canonical_json(obj)).hexdigest()


def file_digest(path: str | os.PathLike[str]) -> str:
    """SHA-256 (hex) of a file's bytes, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def source_digest(*patterns: str) -> str:
    """Digest (16 hex) of the medmat source files matching ``patterns`` (globs under the package,
    e.g. ``"synth/*.py"``): their paths and bytes. A stage fingerprints the code that decides its
    outputs, so outputs made by an older version of that code are recomputed, never reused."""
    package = Path(__file__).resolve().parent
    files = sorted({f for pattern in patterns for f in package.glob(pattern)})
    if not files:
        raise ValueError(f"no medmat source file matches {patterns}")
    h = hashlib.sha256()
    for f in files:
        h.update(f.relative_to(package).as_posix().encode() + b"\0" + f.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def files_digest(root: str | os.PathLike[str], relpaths: Iterable[str]) -> str:
    """One fingerprint over many files: their relative paths and contents, order-independent.

    A missing file hashes as missing (not an error): the caller decides whether that matters.
    """
    root = Path(root)
    h = hashlib.sha256()
    for rel in sorted(set(relpaths)):
        path = root / rel
        digest = file_digest(path) if path.is_file() else "missing"
        h.update(f"{rel}\0{digest}\n".encode())
    return h.hexdigest()


@dataclass(frozen=True)
class Manifest:
    """What one stage output was made from (config + input fingerprints) and what it holds."""

    kind: str
    config: Mapping[str, Any]
    inputs: Mapping[str, str] = field(default_factory=dict)
    outputs: Mapping[str, str] = field(default_factory=dict)
    schema: int = SCHEMA_VERSION
    medmat_version: str = field(default_factory=medmat_version)

    @property
    def fingerprint(self) -> str:
        # Outputs are not part of it: the fingerprint says what the stage *should* produce.
        return fingerprint(
            {
                "kind": self.kind,
                "schema": self.schema,
                "medmat_version": self.medmat_version,
                "config": self.config,
                "inputs": self.inputs,
            }
        )

    def with_outputs(self, outputs: Mapping[str, str]) -> Manifest:
        return Manifest(self.kind, self.config, self.inputs, dict(outputs), self.schema,
                        self.medmat_version)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "schema": self.schema,
            "medmat_version": self.medmat_version,
            "config": json.loads(canonical_json(self.config)),
            "inputs": dict(sorted(self.inputs.items())),
            "outputs": dict(sorted(self.outputs.items())),
            "fingerprint": self.fingerprint,
        }

    @classmethod
    def from_dict(cls, obj: Any) -> Manifest | None:
        """The manifest in ``obj``, or None when it is not a well-formed medmat manifest."""
        if not isinstance(obj, dict):
            return None
        try:
            man = cls(
                kind=str(obj["kind"]),
                config=dict(obj["config"]),
                inputs={str(k): str(v) for k, v in dict(obj.get("inputs", {})).items()},
                outputs={str(k): str(v) for k, v in dict(obj.get("outputs", {})).items()},
                schema=int(obj["schema"]),
                medmat_version=str(obj["medmat_version"]),
            )
        except (KeyError, TypeError, ValueError):
            return None
        # A manifest whose stored fingerprint does not match its content was edited by hand
        # or truncated: never trust it.
        return man if obj.get("fingerprint") == man.fingerprint else None


def manifest_path(folder: str | os.PathLike[str]) -> Path:
    return Path(folder) / MANIFEST_NAME


def read_manifest(folder: str | os.PathLike[str]) -> Manifest | None:
    """The folder's manifest; None when absent, unreadable or not a valid manifest."""
    path = manifest_path(folder)
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return None
    return Manifest.from_dict(obj)


def read_kind(folder: str | os.PathLike[str]) -> str | None:
    """Which kind of medmat output ``folder`` holds, by its manifest (None: not one of ours)."""
    man = read_manifest(folder)
    return man.kind if man is not None else None


def write_manifest(folder: str | os.PathLike[str], manifest: Manifest) -> Path:
    """Write ``manifest.json`` atomically; write it *last*, after the outputs it describes."""
    from medmat.io import write_json

    return write_json(manifest_path(folder), manifest.to_dict())


def output_digests(folder: str | os.PathLike[str], names: Iterable[str]) -> dict[str, str]:
    """``{name: sha256}`` for files under ``folder`` (for :meth:`Manifest.with_outputs`)."""
    folder = Path(folder)
    return {name: file_digest(folder / name) for name in sorted(names)}


def changed_outputs(folder: str | os.PathLike[str], manifest: Manifest) -> list[str]:
    """Recorded outputs that are missing or whose bytes changed since the manifest was written."""
    folder = Path(folder)
    bad = []
    for name, digest in sorted(manifest.outputs.items()):
        path = folder / name
        if not path.is_file() or file_digest(path) != digest:
            bad.append(name)
    return bad


def _diff(old: Mapping[str, Any], new: Mapping[str, Any], prefix: str = "") -> list[str]:
    out = []
    for key in sorted(set(old) | set(new), key=str):
        a, b = old.get(key, "<unset>"), new.get(key, "<unset>")
        if a == b:
            continue
        if isinstance(a, Mapping) and isinstance(b, Mapping):
            out += _diff(a, b, f"{prefix}{key}.")
        else:
            sa, sb = json.dumps(a, default=str), json.dumps(b, default=str)
            if len(sa) + len(sb) > 60:
                out.append(f"{prefix}{key}")
            else:
                out.append(f"{prefix}{key} {sa} -> {sb}")
    return out


def explain(old: Manifest | None, new: Manifest) -> str:
    """Why ``old`` cannot stand for ``new``, in words ('' when it can, outputs aside)."""
    if old is None:
        return "no previous output"
    if old.kind != new.kind:
        return f"the folder holds a {old.kind!r} output, not {new.kind!r}"
    reasons = []
    if old.schema != new.schema:
        reasons.append(f"schema {old.schema} -> {new.schema}")
    if old.medmat_version != new.medmat_version:
        reasons.append(f"medmat {old.medmat_version} -> {new.medmat_version}")
    cfg = _diff(dict(old.config), dict(new.config))
    if cfg:
        reasons.append("config changed: " + ", ".join(cfg))
    inputs = sorted(k for k in set(old.inputs) | set(new.inputs)
                    if old.inputs.get(k) != new.inputs.get(k))
    if inputs:
        reasons.append("input content changed: " + ", ".join(inputs))
    return "; ".join(reasons)


def is_current(folder: str | os.PathLike[str], want: Manifest) -> tuple[bool, str]:
    """(reusable?, why) for the output in ``folder`` against the manifest it should have."""
    old = read_manifest(folder)
    why = explain(old, want)
    if why:
        return False, why
    assert old is not None
    if old.fingerprint != want.fingerprint:  # belt and braces: explain() missed a difference
        return False, "fingerprint differs"
    bad = changed_outputs(folder, old)
    if bad:
        return False, f"output(s) changed or missing: {', '.join(bad[:3])}"
    return True, f"fingerprint {want.fingerprint[:12]} matches"
