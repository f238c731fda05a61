"""MAT triplets for ingested rows, always passed through the taxonomy.

Whatever spelling a flag, the catalog or the MedMNIST table uses ("X-Ray", "xray", "CT scan"),
records carry the taxonomy's canonical names, so an ingested table and the synthetic lab's
table speak the same vocabulary.
"""

from __future__ import annotations

import re

from medmat.errors import MedmatError

KINDS = ("modality", "area", "task")


def canonical_mat(
    modality: str | None, area: str | None, task: str | None, *, where: str
) -> tuple[str, str, str]:
    """Normalise a triplet; a missing element is a user error that names the flag to pass."""
    from medmat import taxonomy

    missing = [k for k, v in zip(KINDS, (modality, area, task), strict=True) if not v]
    if missing:
        flags = " ".join(f"--{k} ..." for k in missing)
        raise MedmatError(
            f"{where}: no {'/'.join(missing)} known for this source; pass {flags} "
            "(see `medmat catalog` for the canonical names)"
        )
    out = []
    for kind, value in zip(KINDS, (modality, area, task), strict=True):
        try:
            out.append(taxonomy.normalize(kind, str(value)))
        except MedmatError as exc:
            raise MedmatError(f"{where}: {exc}") from None
    return out[0], out[1], out[2]


def default_subset(modality: str, area: str, task: str) -> str:
    """Subset name for a MAT combination without a catalog number: 'xray-lung-covid'."""
    from medmat import taxonomy

    tax = taxonomy.load_taxonomy()
    codes = [tax.code(k, v) for k, v in zip(KINDS, (modality, area, task), strict=True)]
    return "-".join(re.sub(r"[^a-z0-9]+", "", c.lower()) or "x" for c in codes)
