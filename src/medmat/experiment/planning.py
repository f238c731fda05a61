"""One planner for `experiment plan` and `experiment run`: same function, same arguments.

:func:`plan_experiment` turns a validated config and a lattice into the arms of every target;
:func:`plan_json` is the exact text of ``plan.json``, which `medmat experiment plan` prints, so
what a user previews is byte for byte what a run trains.
"""

from __future__ import annotations

import json
from pathlib import Path

from rich.table import Table

from medmat.errors import MedmatError
from medmat.experiment.config import ExperimentConfig, LabSpec
from medmat.records import read_records_table
from medmat.splits import Plan, SubsetInfo, find_target, lattice_from_table, plan_target

# What the lattice is read from; the runner reads the same columns (labels feed the tie rule).
LATTICE_COLUMNS = ["record_id", "subset", "modality", "area", "task", "split", "labels"]


def lattice_from_lab(lab: LabSpec) -> dict[str, SubsetInfo]:
    """The lattice a lab config will have, without rendering a single image."""
    from medmat.synth import parse_cell

    cells = sorted({parse_cell(c) for c in lab.cells}, key=lambda c: c.subset)
    most = max(lab.n_train, lab.n_val, lab.n_test)
    out = {}
    for c in cells:
        # labels cycle through the label space (synth.lab.item_label): these are the ones drawn
        labels = tuple(sorted({c.labels[i % len(c.labels)] for i in range(most)}))
        out[c.subset] = SubsetInfo(c.subset, c.modality, c.area, c.task, n_train=lab.n_train,
                                   n_test=lab.n_test, labels=labels)
    return out


def lattice_for(cfg: ExperimentConfig, records: str | Path | None = None) -> dict[str, SubsetInfo]:
    """The lattice to plan on: ``records`` if given, else the config's records or lab."""
    source = records if records is not None else cfg.records
    if source is not None:
        return lattice_from_table(read_records_table(source, columns=LATTICE_COLUMNS))
    assert cfg.lab is not None  # the config validator guarantees one of the two
    return lattice_from_lab(cfg.lab)


def plan_experiment(cfg: ExperimentConfig, lattice: dict[str, SubsetInfo]) -> list[Plan]:
    """Every target's plan. Each target's CG arms avoid the *other* targets' subsets."""
    targets = [
        find_target(lattice, t if isinstance(t, str) else t.model_dump()) for t in cfg.targets
    ]
    names = [t.subset for t in targets]
    if len(set(names)) != len(names):
        raise MedmatError(f"{cfg.name}: targets name the same subset twice: {names}")
    others = frozenset(names)
    arms = [a if isinstance(a, str) else a.model_dump() for a in cfg.arms]
    return [
        plan_target(
            t,
            lattice,
            arms,
            budget_per_subset=cfg.budget_per_subset,
            target_items=cfg.target_items,
            seed=cfg.seeds[0],
            avoid=others - {t.subset},
            general_items=cfg.general_items,
        )
        for t in targets
    ]


def plan_document(plans: list[Plan]) -> dict:
    return {"plans": [p.to_dict() for p in plans]}


def plan_json(plans: list[Plan]) -> str:
    """The exact text of ``plan.json`` (deterministic: sorted keys, trailing newline)."""
    return json.dumps(plan_document(plans), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def plan_table(plans: list[Plan]) -> Table:
    table = Table(title="CG experiment plan")
    for col in ("target", "arm", "training subsets (items)", "target items", "total"):
        table.add_column(col)
    for plan in plans:
        for arm in plan.arms:
            subsets = ", ".join(f"{s} ({n})" for s, n in sorted(arm.budgets.items())) or "-"
            table.add_row(
                plan.target.subset, arm.name, subsets, str(arm.target_items), str(arm.n_train)
            )
    return table
