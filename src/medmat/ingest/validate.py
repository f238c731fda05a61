"""Open every image once: check labels, decode, convert to PNG in the staging folder, hash.

All formats funnel through :func:`process`, so a truncated PNG, a text file called ``.dcm`` and
a missing NIfTI get the same kind of message: ``<row>: <file>: <reason>``.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from PIL import Image

from medmat.errors import MedmatError
from medmat.imaging import phash, pixel_sha1, to_mode
from medmat.ingest.labels import check_labels
from medmat.ingest.masks import region_fields
from medmat.ingest.model import Candidate, Problem
from medmat.progress import progress_bar
from medmat.records import text_problem
from medmat.regions import Region

IMAGES_DIR = "images"
# Grey-level modes are stored as 8-bit 'L' PNGs (a third of the bytes of RGB); everything else
# (CMYK, palette, alpha, YCbCr...) becomes RGB. Hashes are always taken on the RGB view, which is
# what ``open_image(path)`` returns to every later stage.
GREY_MODES = frozenset({"1", "L", "LA", "La", "I", "I;16", "I;16B", "I;16L", "I;16N", "F"})


@dataclass(frozen=True)
class Accepted:
    """A candidate that passed: where its PNG is (relative to the output folder), its hashes,
    and its regions and stored mask when it has any (:mod:`medmat.ingest.masks`)."""

    cand: Candidate
    image: str
    pixel_sha1: str
    phash: int
    regions: tuple[Region, ...] | None = None
    mask: str | None = None


def _safe_parts(rel: str) -> list[str]:
    # Only used to *name* the output file; hostile paths never get here with a readable image
    # (resolve_under_root refuses them first), but the name must be safe regardless.
    parts = PurePosixPath(rel.replace("\\", "/")).parts
    return [p for p in parts if p not in ("", ".", "..", "/") and not p.endswith(":")] or ["image"]


def _png_name(rel: str, keep_suffix: bool) -> str:
    parts = _safe_parts(rel)
    name = parts[-1]
    if not keep_suffix:
        lower = name.lower()
        for ext in (".nii.gz", ".nii"):
            if lower.endswith(ext):
                name = name[: -len(ext)]
                break
        else:
            stem = PurePosixPath(name).stem
            name = stem if stem and "." in name else name
    # A path that already starts with images/ (re-ingesting a medmat export) keeps its place, so
    # import -> build -> export -> import gives back the same image paths.
    prefix = [] if len(parts) > 1 and parts[0] == IMAGES_DIR else [IMAGES_DIR]
    return "/".join([*prefix, *parts[:-1], f"{name}.png"])


def plan_outputs(rels: Iterable[str]) -> dict[str, str]:
    """Map each source image path to a PNG path under ``images/``, collision-free.

    ``a/b (1).jpg`` -> ``images/a/b (1).png``; when two sources would share a name
    (``x.jpg`` and ``x.png``) both keep their suffix (``x.jpg.png``, ``x.png.png``).
    """
    uniq = sorted(set(rels))
    plain = {r: _png_name(r, keep_suffix=False) for r in uniq}
    counts = Counter(plain.values())
    out = {r: plain[r] if counts[plain[r]] == 1 else _png_name(r, keep_suffix=True) for r in uniq}
    counts = Counter(out.values())
    for r in uniq:
        if counts[out[r]] > 1:  # pathological ('a.png' + 'a.jpg' + 'a.png.png'): add a hash
            digest = hashlib.sha1(r.encode()).hexdigest()[:10]
            out[r] = f"{out[r][:-4]}.{digest}.png"
    return out


def storage_image(img: Image.Image) -> Image.Image:
    """8-bit L or RGB, whatever came in (16-bit, CMYK, palette, alpha are converted)."""
    return to_mode(img, "L" if img.mode in GREY_MODES else "RGB")


def _text_problem(cand: Candidate) -> str | None:
    """The other free-text fields a record stores verbatim must be one line of text too."""
    for what, value in (("record id", cand.key), ("source", cand.source),
                        ("subset", cand.subset), ("group", cand.group)):
        problem = text_problem(value, what) if value else None
        if problem:
            return problem + (" (pass --source-name)" if what == "source" else "")
    return None


def _decode(cand: Candidate) -> Image.Image:
    if cand.load is None:
        raise MedmatError("no image")
    try:
        return cand.load()
    except MedmatError:
        raise
    except Exception as exc:  # noqa: BLE001 - hostile files raise anything; name it, go on
        raise MedmatError(
            f"{cand.image_rel}: could not decode ({type(exc).__name__}: {exc})"
        ) from None


def process(
    cands: Sequence[Candidate], staging: Path, allowed: frozenset[str] | None,
    options: Any = None,
) -> tuple[list[Accepted], list[Problem]]:
    """Validate and convert every candidate; returns accepted rows and problems, in input order.

    ``options`` (an :class:`~medmat.ingest.options.IngestOptions`) says how rows with a mask
    become regions; rows without a mask or boxes need none.
    """
    plan = plan_outputs(c.image_rel for c in cands)
    # out path -> (hashes, stored size), or the decode error
    done: dict[str, tuple[str, int, tuple[int, int]] | str] = {}
    accepted: list[Accepted] = []
    problems: list[Problem] = []
    with progress_bar("ingest: checking images", total=len(cands)) as advance:
        for cand in cands:
            advance(1)
            reason = cand.error or check_labels(cand.labels, allowed) or _text_problem(cand)
            if reason:
                problems.append(Problem(cand.where, reason))
                continue
            out_rel = plan[cand.image_rel]
            if out_rel not in done:
                try:
                    stored = storage_image(_decode(cand))
                except MedmatError as exc:
                    done[out_rel] = str(exc)
                else:
                    dest = staging / out_rel
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    # The staging folder is invisible until the final rename, which is what makes
                    # these writes atomic as a set (no per-file temp needed).
                    stored.save(dest, format="PNG")
                    done[out_rel] = (pixel_sha1(to_mode(stored, "RGB")), phash(stored),
                                     stored.size)
            result = done[out_rel]
            if isinstance(result, str):
                problems.append(Problem(cand.where, result))
                continue
            try:
                regions, mask = region_fields(cand, result[2], staging, out_rel, options)
            except MedmatError as exc:
                problems.append(Problem(cand.where, str(exc)))
                continue
            accepted.append(Accepted(cand, out_rel, result[0], result[1], regions, mask))
    return accepted, problems
