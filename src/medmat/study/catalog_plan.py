"""Plan the ``pairwise`` and ``ablation`` designs on the catalog of the 53 upstream subsets alone.

No images are read: the plan is what the Med-MAT study's rules (``designs.yaml``) allow on the
catalog's MAT triplets, optionally with the training sizes of the subsets a user actually has
(``sizes``; the catalog itself records no sizes or splits, so without them every released
classification subset is *assumed* to supply the 3,000-item cap, and the plan says so).

The planner itself (the direction types, the unrelated arm, the ablation arms) is
:mod:`medmat.study.planner`; this module feeds it the catalog's subsets.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from medmat.catalog import Catalog, load_catalog
from medmat.errors import MedmatError
from medmat.study.planner import (
    DIRECTIONS,
    PRIMARY_RULE,
    AblationArm,
    CatalogPlan,
    Combination,
    Source,
    paired_modality_areas,
    plan_ablation_on,
    plan_pairwise_on,
    size_matched,
    water_fill,
)
from medmat.study.registry import DesignRegistry, load_designs

# re-exported: callers plan on the catalog with these names
__all__ = ["DETSEG", "DIRECTIONS", "PRIMARY_RULE", "AblationArm", "CatalogPlan", "Combination",
           "Source", "catalog_sources", "eligible_targets", "paired_modality_areas",
           "plan_ablation", "plan_pairwise", "published_examples", "read_sizes_csv",
           "size_matched", "sizes_from_records", "water_fill"]  # fmt: skip
DETSEG = "Detection/segmentation"
# The study's published pairwise examples, as MAT fragments: (name, target, source, source).
PUBLISHED_EXAMPLES = (
    ("X-ray Bones + CT Brain -> X-ray Brain", {"modality": "X-ray", "area": "Brain"},
     {"modality": "X-ray", "area": "Bones"}, {"modality": "CT", "area": "Brain"}),
    ("CT Cancer + X-ray COVID -> CT COVID", {"modality": "CT", "task": "COVID-19"},
     {"modality": "CT", "task": "Cancer"}, {"modality": "X-ray", "task": "COVID-19"}),
)  # fmt: skip


def catalog_sources(
    catalog: Catalog | None = None,
    sizes: Mapping[str, int] | None = None,
    registry: DesignRegistry | None = None,
) -> dict[str, Source]:
    """Every catalog subset as a :class:`Source`; with ``sizes`` a subset missing there has 0."""
    cat = catalog or load_catalog()
    reg = registry or load_designs()
    if sizes is not None:
        unknown = sorted(set(sizes) - {s.no for s in cat.subsets})
        if unknown:
            raise MedmatError(f"sizes name subsets not in the catalog: {unknown}; "
                              "use the catalog's two-digit subset ids (01..53)")  # fmt: skip
    return {
        s.no: Source(s.no, s.modality, s.area, s.task, reg.task_kind(s.task),
                     classification=s.released and s.task != DETSEG,
                     n_train=None if sizes is None else int(sizes.get(s.no, 0)))
        for s in cat.subsets
    }  # fmt: skip


def eligible_targets(
    sources: Mapping[str, Source], targets: Iterable[str] | None
) -> tuple[list[Source], dict[str, str]]:
    """Targets to plan (classification subsets with data) and why the others are skipped."""
    skipped: dict[str, str] = {}
    wanted = list(sources) if targets is None else [f"{int(t):02d}" for t in _ids(targets)]
    chosen = []
    for no in wanted:
        if no not in sources:
            raise MedmatError(f"target {no!r} is not a catalog subset (01..53)")
        src = sources[no]
        if not src.classification:
            skipped[no] = "detection/segmentation: no released QA (the cls-det design)"
        elif src.n_train == 0:
            skipped[no] = "not in the given sizes"
        else:
            chosen.append(src)
    return chosen, skipped


def _ids(targets: Iterable[str]) -> list[str]:
    out = []
    for t in targets:
        if not str(t).strip().isdigit():
            raise MedmatError(f"target {t!r}: give catalog subset numbers such as 03 or 28")
        out.append(str(t).strip())
    return out


def plan_pairwise(
    catalog: Catalog | None = None,
    *,
    sizes: Mapping[str, int] | None = None,
    targets: Iterable[str] | None = None,
    seed: int = 0,
    registry: DesignRegistry | None = None,
) -> CatalogPlan:
    """Every pairwise combination of every eligible target (see :mod:`medmat.study.planner`)."""
    reg = registry or load_designs()
    cap = reg.design("pairwise").params["cap_per_subset"]
    sources = catalog_sources(catalog, sizes, reg)
    chosen, skipped = eligible_targets(sources, targets)
    plan = CatalogPlan("pairwise", cap, sizes is not None, skipped=skipped)
    # pairs that always go together are judged over every catalog subset, released or not
    return plan_pairwise_on(plan, sources, chosen, seed=seed,
                            paired=paired_modality_areas(sources.values()))


def plan_ablation(
    catalog: Catalog | None = None,
    *,
    sizes: Mapping[str, int] | None = None,
    targets: Iterable[str] | None = None,
    registry: DesignRegistry | None = None,
) -> CatalogPlan:
    """The multi-task ablation arms of every eligible target (capped per subset and per arm)."""
    reg = registry or load_designs()
    params = reg.design("ablation").params
    cap, arm_cap = params["cap_per_subset"], params["arm_cap"]
    sources = catalog_sources(catalog, sizes, reg)
    chosen, skipped = eligible_targets(sources, targets)
    plan = CatalogPlan("ablation", cap, sizes is not None, skipped=skipped, arm_cap=arm_cap)
    return plan_ablation_on(plan, sources, chosen, [a.name for a in reg.design("ablation").arms])


def plan_design(
    design: str,
    catalog: Catalog | None = None,
    *,
    sizes: Mapping[str, int] | None = None,
    targets: Iterable[str] | None = None,
    seed: int = 0,
    test_only: Iterable[str] = (),
    registry: DesignRegistry | None = None,
) -> CatalogPlan:
    """A design with its own module (multitask, three-source) on the catalog's subsets."""
    from medmat.study import designs

    reg = registry or load_designs()
    mod = designs.module(design)
    if mod is None or not reg.design(design).catalog:
        raise MedmatError(f"design {design!r} cannot be planned from the catalog; plan it on "
                          "--lab or --records")  # fmt: skip
    sources = catalog_sources(catalog, sizes, reg)
    chosen, skipped = eligible_targets(sources, targets)
    plan = CatalogPlan(design, reg.design(design).params["cap_per_subset"], sizes is not None,
                       skipped=skipped)  # fmt: skip
    named = [f"{int(t):02d}" for t in _ids(test_only)]
    return mod.plan_on(plan, sources, None, chosen, seed=seed, test_only=named)


def _fits(src: Source, spec: Mapping[str, str]) -> bool:
    return all(getattr(src, k) == v for k, v in spec.items())


def published_examples(plan: CatalogPlan) -> dict[str, list[Combination]]:
    """Each published example -> the planned combinations that reproduce it (empty: missing)."""
    out: dict[str, list[Combination]] = {}
    for name, target, one, two in PUBLISHED_EXAMPLES:
        out[name] = [
            c for c in plan.combinations
            if _fits(c.target, target)
            and ((_fits(c.source_a, one) and _fits(c.source_b, two))
                 or (_fits(c.source_a, two) and _fits(c.source_b, one)))
        ]  # fmt: skip
    return out


def sizes_from_records(path: str) -> dict[str, int]:
    """Training items per catalog subset in a records table (e.g. the ingested release)."""
    from medmat.records import read_records_table
    from medmat.splits import lattice_from_table

    columns = ["record_id", "subset", "modality", "area", "task", "split"]
    lattice = lattice_from_table(read_records_table(path, columns=columns))
    catalog = {s.no: (s.modality, s.area, s.task) for s in load_catalog().subsets}
    for sub, info in lattice.items():
        if catalog.get(sub) != info.triplet:
            raise MedmatError(
                f"{path}: subset {sub!r} ({' / '.join(info.triplet)}) is not the catalog's "
                f"{catalog[sub] if sub in catalog else 'subset list (01..53)'}; plan from records "
                "ingested from the Med-MAT release (medmat ingest), or give --sizes"
            )
    return {sub: info.n_train for sub, info in lattice.items()}


def read_sizes_csv(path: str) -> dict[str, int]:
    """``subset,n_train`` rows (subset ids as in the catalog: 03 or 3) -> sizes."""
    import csv

    with open(path, encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        if not {"subset", "n_train"} <= set(reader.fieldnames or ()):
            raise MedmatError(f"{path}: a sizes CSV needs the columns subset,n_train")
        sizes: dict[str, int] = {}
        for line, row in enumerate(reader, start=2):
            sub, n = (row["subset"] or "").strip(), (row["n_train"] or "").strip()
            if not sub.isdigit() or not n.isdigit():
                raise MedmatError(f"{path} line {line}: subset and n_train must be whole "
                                  f"numbers, got {sub!r}, {n!r}")  # fmt: skip
            sizes[f"{int(sub):02d}"] = int(n)
    return sizes
