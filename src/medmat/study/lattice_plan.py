"""Plan a design on data a user has: the synthetic lab or any records table (not the catalog).

The subsets are the lattice's (:func:`medmat.experiment.planning.lattice_from_lab` for a lab, no
image rendered; :func:`medmat.splits.lattice_from_table` for records) and the planner is the
catalog's (:mod:`medmat.study.planner`), with the sizes counted from the data. General-domain
subsets (Photo) are never targets or sources: the configs mix them into every trained arm
(``general_items``), as the Med-MAT study mixed general VQA data into every run.

The default lab is small enough for CI at small sizes and gives nine pairwise combinations:
three Lesion-type targets, each with one pair of sources per direction type (fixed modality,
fixed area, fixed task; the lab renders every modality on every area, so no modality-area pair
always goes together), three cells that share nothing with any target (the unrelated arms), and
the general-domain cell.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from pydantic import ValidationError

from medmat.errors import MedmatError
from medmat.experiment.config import LabSpec
from medmat.splits import SubsetInfo
from medmat.study import designs
from medmat.study.planner import (
    CatalogPlan,
    Source,
    paired_modality_areas,
    plan_ablation_on,
    plan_pairwise_on,
)
from medmat.study.registry import DesignRegistry, load_designs

DETSEG = "Detection/segmentation"  # the catalog's and the lab's detection task
DEFAULT_LAB_TARGETS = ("xray-brain-lesion", "mic-breast-lesion", "ct-lung-lesion")
DEFAULT_LAB_CELLS = (
    *DEFAULT_LAB_TARGETS,
    # sources: (M, A, other task) and the target's task on another area / another modality
    "xray-brain-severity", "xray-breast-lesion", "ct-brain-lesion",     # xray-brain-lesion
    "mic-breast-location", "mic-bones-lesion",                          # mic-breast-lesion
    "ct-lung-abnormal", "us-lung-lesion",                               # ct-lung-lesion
    # share no modality, area or task with any target: the unrelated arms draw from these
    "mri-kidney-abnormal", "us-bones-location", "fp-kidney-severity",
    # general-domain photos, mixed into every trained arm (general_items)
    "photo-scene-lesion",
)  # fmt: skip
# sizes of the default lab: each source trains its whole training split (the cap)
LAB_N_TRAIN = 500
LAB_N_TEST = 200
LAB_SEEDS = (0, 1, 2)
LAB_BACKEND_OPTIONS = {"epochs": 8}
GENERAL_SHARE = 0.8  # general-domain items per trained arm, as a share of the lab's n_train


def lab_spec(*, seed: int = 0, null: bool = False, cells: Sequence[str] | None = None,
             n_train: int = LAB_N_TRAIN, n_test: int = LAB_N_TEST, size: int = 64) -> LabSpec:
    """The lab a study plans on (the default cells unless ``cells``)."""
    try:
        return LabSpec(seed=seed, null=null, size=size, n_train=n_train, n_test=n_test,
                       cells=list(cells or DEFAULT_LAB_CELLS))  # fmt: skip
    except ValidationError as exc:
        err = exc.errors()[0]
        key = ".".join(str(p) for p in err["loc"])
        raise MedmatError(f"lab option {key}: {err['msg']}") from None


def lattice_sources(
    lattice: Mapping[str, SubsetInfo], registry: DesignRegistry | None = None
) -> dict[str, Source]:
    """Every medical subset of a lattice as a planner :class:`Source` (sizes counted);
    detection/segmentation subsets are not classification data (the cls-det design)."""
    reg = registry or load_designs()
    return {
        s.subset: Source(s.subset, s.modality, s.area, s.task, reg.task_kind(s.task),
                         classification=s.task != DETSEG, n_train=s.n_train)
        for s in lattice.values() if not s.general
    }  # fmt: skip


def choose_targets(
    lattice: Mapping[str, SubsetInfo], sources: Mapping[str, Source], targets: Iterable[str] | None
) -> tuple[list[Source], dict[str, str]]:
    """The targets to plan (default: every medical subset) and why some get no experiment."""
    wanted = list(sources) if targets is None else [t.strip() for t in targets if t.strip()]
    chosen, skipped = [], {}
    for name in wanted:
        if name not in lattice:
            raise MedmatError(f"target {name!r} is not a subset of the data; subsets: "
                              f"{', '.join(sorted(lattice))}")  # fmt: skip
        if name not in sources:
            raise MedmatError(f"target {name!r} is general-domain data (mixed into every arm), "
                              "never a target; choose a medical subset")  # fmt: skip
        if not sources[name].classification:
            skipped[name] = "detection/segmentation: not a classification target (cls-det)"
        elif lattice[name].n_test == 0:
            skipped[name] = "no test items"
        else:
            chosen.append(sources[name])
    return chosen, skipped


def plan_on_lattice(
    design: str,
    lattice: Mapping[str, SubsetInfo],
    *,
    source: str,
    targets: Iterable[str] | None = None,
    cap: int | None = None,
    seed: int = 0,
    registry: DesignRegistry | None = None,
    test_only: Iterable[str] = (),
) -> CatalogPlan:
    """Plan ``design`` on a lab's or a records table's lattice.

    ``cap``: training items per subset (default the study's 3,000; a subset with fewer is
    test-only). The ablation's arm cap keeps the study's ratio (15,000 / 3,000 = 5 subsets).
    ``source`` is "lab" (every modality renders on every area: no modality-area pair always goes
    together) or "records" (such pairs are read from the records' own subsets).
    """
    reg = registry or load_designs()
    params = reg.design(design).params
    cap = params["cap_per_subset"] if cap is None else cap
    if cap < 1:
        raise MedmatError(f"--cap {cap}: give at least 1 training item per subset")
    sources = lattice_sources(lattice, reg)
    if design == "cls-det":  # detection subsets are targets and helpers here (its own planner)
        from medmat.study.clsdet import plan_clsdet_on

        return plan_clsdet_on(CatalogPlan("cls-det", cap, True, source=source), sources,
                              targets, lattice, seed=seed)
    chosen, skipped = choose_targets(lattice, sources, targets)
    mod = designs.module(design)
    if mod is not None:  # the designs with their own modules (medmat.study.designs)
        plan = CatalogPlan(design, cap, True, skipped=skipped, source=source)
        return mod.plan_on(plan, sources, lattice, chosen, seed=seed, test_only=test_only)
    if design == "pairwise":
        plan = CatalogPlan("pairwise", cap, True, skipped=skipped, source=source)
        paired = set() if source == "lab" else paired_modality_areas(sources.values())
        return plan_pairwise_on(plan, sources, chosen, seed=seed, paired=paired)
    ratio = params["arm_cap"] // params["cap_per_subset"]
    plan = CatalogPlan("ablation", cap, True, skipped=skipped, arm_cap=cap * ratio, source=source)
    return plan_ablation_on(plan, sources, chosen, [a.name for a in reg.design(design).arms])
