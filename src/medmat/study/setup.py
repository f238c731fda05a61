"""What `medmat study DESIGN` plans on: the catalog, the synthetic lab or a records table.

Each source gives a plan (one planner: :mod:`medmat.study.planner`) and the experiment configs
that run it; every config is validated as `medmat experiment run` will read it, and for a lab or
records also planned against the data's lattice, so a plan that is written can run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from medmat.errors import MedmatError
from medmat.study.planner import CatalogPlan

CATALOG_SEEDS = (0,)  # one seed per config on the release: each arm is a GPU fine-tune


@dataclass
class PlanRequest:
    """The planning options of the command line (None: the source's default)."""

    design: str
    targets: list[str] | None = None
    seed: int = 0
    backend: str | None = None
    model: str | None = None
    backend_options: dict[str, Any] | None = None
    seeds: tuple[int, ...] | None = None
    cap: int | None = None
    general_items: int | None = None
    primary_only: bool = False
    test_only: list[str] | None = None  # subsets that never train (multitask)
    backbones: list[dict[str, Any]] | None = None  # backbones design (None: the source's)


@dataclass
class Planned:
    plan: CatalogPlan
    configs: dict[str, dict[str, Any]]
    settings: dict[str, Any] = field(default_factory=dict)


def _options(req: PlanRequest, default_backend: str, lab_defaults: bool) -> tuple[str, dict]:
    from medmat.experiment.config import validate_backend_options
    from medmat.study.lattice_plan import LAB_BACKEND_OPTIONS
    from medmat.study.plan_output import DEFAULT_MODEL

    backend = req.backend or default_backend
    if req.model is not None and backend != "hf":
        raise MedmatError("--model applies to the hf backend only")
    options: dict[str, Any] = {}
    if backend == "hf":
        options["model"] = req.model or DEFAULT_MODEL
    elif backend == "builtin" and lab_defaults:
        options.update(LAB_BACKEND_OPTIONS)
    options.update(req.backend_options or {})
    validate_backend_options(backend, options, "--backend/--backend-options")
    return backend, options


def _set_backbones(req: PlanRequest, plan: CatalogPlan,
                   base_options: dict[str, dict[str, Any]]) -> None:
    """The backbones design: the validated backbones every row runs with (plan.backbones)."""
    if req.design != "backbones":
        if req.backbones is not None:
            raise MedmatError("--backbones applies to the backbones design only")
        return
    given = [flag for flag, v in (("--backend", req.backend), ("--model", req.model),
                                  ("--backend-options", req.backend_options)) if v is not None]
    if given:
        raise MedmatError(f"{', '.join(given)}: the backbones design takes its backends from "
                          "--backbones (a YAML list of {name, backend, model, options})")
    from medmat.study.backbones import resolve_backbones

    plan.backbones = resolve_backbones(req.backbones, source=plan.source,
                                       base_options=base_options)


def _validated(configs: dict[str, dict[str, Any]], lattice: Any | None) -> None:
    """Every config as `experiment run` reads it (and planned on the lattice when given)."""
    from medmat.experiment.config import ExperimentConfig
    from medmat.experiment.planning import plan_experiment

    for name, cfg in configs.items():
        try:
            model = ExperimentConfig.model_validate(cfg)
        except ValueError as exc:
            raise MedmatError(f"planned config {name} is not valid ({exc})") from None
        if lattice is not None:
            plan_experiment(model, lattice)


def plan_catalog(req: PlanRequest, records: Path | None, sizes_csv: Path | None) -> Planned:
    """The design on the catalog of the 53 upstream subsets (sizes from records or a CSV)."""
    from medmat.study import catalog_plan
    from medmat.study.plan_output import RECORDS_PLACEHOLDER, experiment_configs

    if req.cap is not None:
        raise MedmatError("--cap: the catalog plans with the study's cap (3,000 per subset); "
                          "plan on --records without --catalog to choose another")  # fmt: skip
    sizes = None
    if records is not None:
        sizes = catalog_plan.sizes_from_records(str(records))
    elif sizes_csv is not None:
        sizes = catalog_plan.read_sizes_csv(str(sizes_csv))
    if req.design == "pairwise":
        plan = catalog_plan.plan_pairwise(sizes=sizes, targets=req.targets, seed=req.seed)
    elif req.design != "ablation":
        plan = catalog_plan.plan_design(req.design, sizes=sizes, targets=req.targets,
                                        seed=req.seed, test_only=req.test_only or ())
    else:
        plan = catalog_plan.plan_ablation(sizes=sizes, targets=req.targets)
    _set_backbones(req, plan, {})
    backend, options = _options(req, "hf", lab_defaults=False)
    path = str(records.resolve()) if records is not None else RECORDS_PLACEHOLDER
    configs = experiment_configs(plan, records=path, backend=backend, backend_options=options,
                                 primary_only=req.primary_only, seeds=req.seeds or CATALOG_SEEDS,
                                 general_items=req.general_items or 0)  # fmt: skip
    _validated(configs, None)
    return Planned(plan, configs, {"sizes": sizes, "backend": backend})


def plan_lab(req: PlanRequest, *, lab_seed: int, null: bool, cells: Sequence[str] | None,
             n_train: int | None, n_test: int | None, size: int = 64) -> Planned:
    """The design on the synthetic lab (default cells and targets unless given)."""
    from medmat.experiment.planning import lattice_from_lab
    from medmat.study import clsdet, designs
    from medmat.study import lattice_plan as lp
    from medmat.study.plan_output import experiment_configs

    mod = clsdet if req.design == "cls-det" else designs.module(req.design) or lp
    default_cells, default_targets = mod.DEFAULT_LAB_CELLS, mod.DEFAULT_LAB_TARGETS
    test_only = req.test_only
    if test_only is None and not cells:  # the default lab's test-only cells (multitask)
        test_only = list(getattr(mod, "DEFAULT_LAB_TEST_ONLY", ()))
    spec = lp.lab_spec(seed=lab_seed, null=null, cells=cells or default_cells, size=size,
                       n_train=lp.LAB_N_TRAIN if n_train is None else n_train,
                       n_test=lp.LAB_N_TEST if n_test is None else n_test)  # fmt: skip
    lattice = lattice_from_lab(spec)
    targets = req.targets if req.targets or cells else list(default_targets)
    cap = spec.n_train if req.cap is None else req.cap
    plan = lp.plan_on_lattice(req.design, lattice, source="lab", targets=targets, cap=cap,
                              seed=req.seed, test_only=test_only or ())  # fmt: skip
    general = req.general_items
    if general is None:  # the quickstart's mix: 400 general items for 500 per source
        has_general = any(s.general for s in lattice.values())
        general = round(lp.GENERAL_SHARE * spec.n_train) if has_general else 0
    _set_backbones(req, plan, {"builtin": lp.LAB_BACKEND_OPTIONS})
    backend, options = _options(req, "builtin", lab_defaults=True)
    configs = experiment_configs(plan, data={"lab": spec.model_dump(mode="json")},
                                 backend=backend, backend_options=options,
                                 primary_only=req.primary_only, general_items=general,
                                 seeds=req.seeds or lp.LAB_SEEDS)  # fmt: skip
    _validated(configs, lattice)
    return Planned(plan, configs, {"lab": spec.model_dump(mode="json"), "backend": backend,
                                   "cap": cap, "general_items": general})  # fmt: skip


def plan_records(req: PlanRequest, records: Path) -> Planned:
    """The design on a records table's own subsets (any ingested dataset)."""
    from medmat.records import read_records_table
    from medmat.splits import lattice_from_table
    from medmat.study import lattice_plan as lp
    from medmat.study.plan_output import experiment_configs

    columns = ["record_id", "subset", "modality", "area", "task", "split"]  # no labels needed
    lattice = lattice_from_table(read_records_table(str(records), columns=columns))
    plan = lp.plan_on_lattice(req.design, lattice, source="records", targets=req.targets,
                              cap=req.cap, seed=req.seed,
                              test_only=req.test_only or ())  # fmt: skip
    _set_backbones(req, plan, {})
    backend, options = _options(req, "builtin", lab_defaults=False)
    general = req.general_items or 0
    configs = experiment_configs(plan, data={"records": str(records.resolve())},
                                 backend=backend, backend_options=options,
                                 primary_only=req.primary_only, general_items=general,
                                 seeds=req.seeds or lp.LAB_SEEDS)  # fmt: skip
    _validated(configs, lattice)
    return Planned(plan, configs, {"backend": backend, "cap": plan.cap,
                                   "general_items": general})  # fmt: skip
