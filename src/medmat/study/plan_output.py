"""A catalog plan as files: the plan table (CSV and markdown) and ready-to-run experiment configs.

The configs use the keys of :class:`medmat.experiment.config.ExperimentConfig`; ``data.records``
is a placeholder path for the ingested Med-MAT release (``medmat ingest``), relative to the
config file, and every arm is explicit (``{name, subsets: {subset: budget}}``) so what runs is
exactly what the plan table shows.
"""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path
from types import ModuleType
from typing import Any

import yaml

from medmat.study.catalog_plan import PRIMARY_RULE, CatalogPlan, published_examples
from medmat.study.planner import Combination

RECORDS_PLACEHOLDER = "../records.parquet"
SOURCE_WORDS = {"catalog": "the Med-MAT catalog", "lab": "the synthetic MAT lab",
                "records": "a records table"}  # fmt: skip
DEFAULT_MODEL = "Qwen/Qwen2-VL-2B-Instruct"
PAIRWISE_COLUMNS = (
    "target", "target_mat", "direction", "fixed", "source_a", "source_a_mat", "source_b",
    "source_b_mat", "task_match", "items_a", "items_b", "related_items", "unrelated",
    "unrelated_items", "primary", "sizes", "experiment",
)  # fmt: skip
ABLATION_COLUMNS = (
    "target", "target_mat", "arm", "n_subsets", "subsets", "items", "available", "capped",
    "sizes", "experiment",
)  # fmt: skip


def _budgets(budgets: dict[str, int]) -> str:
    return " ".join(f"{s}:{n}" for s, n in sorted(budgets.items()))


def plan_rows(plan: CatalogPlan) -> list[dict[str, Any]]:
    """One row per combination (pairwise) or per target and arm (ablation)."""
    sizes = "counted" if plan.sizes_known else "assumed"
    mod = _module(plan)
    if mod is not None:
        return mod.plan_rows(plan)
    if plan.design == "pairwise":
        return [pairwise_row(c, plan.sizes_known) for c in plan.combinations]
    return [
        {"target": a.target.no, "target_mat": a.target.mat(), "arm": a.name,
         "n_subsets": len(a.budgets), "subsets": _budgets(a.budgets),
         "items": sum(a.budgets.values()), "available": a.available,
         "capped": a.available > sum(a.budgets.values()), "sizes": sizes,
         "experiment": f"ablation-{a.target.no}"}
        for a in plan.ablation
    ]  # fmt: skip


def cg_arms(related: dict[str, int], unrelated: dict[str, int]) -> list[Any]:
    """The CG contrast's arms (pairwise, three-source, backbones): explicit budgets per subset,
    so what runs is exactly what the plan table shows."""
    return [{"name": "related", "subsets": dict(sorted(related.items()))},
            {"name": "unrelated", "subsets": dict(unrelated)}, "untrained"]


def pairwise_row(c: Combination, sizes_known: bool) -> dict[str, Any]:
    """One pairwise combination as a plan-table row (PAIRWISE_COLUMNS)."""
    return {"target": c.target.no, "target_mat": c.target.mat(), "direction": c.direction,
            "fixed": c.fixed, "source_a": c.source_a.no, "source_a_mat": c.source_a.mat(),
            "source_b": c.source_b.no, "source_b_mat": c.source_b.mat(),
            "task_match": c.task_match, "items_a": c.related[c.source_a.no],
            "items_b": c.related[c.source_b.no], "related_items": sum(c.related.values()),
            "unrelated": _budgets(c.unrelated), "unrelated_items": sum(c.unrelated.values()),
            "primary": c.primary, "sizes": "counted" if sizes_known else "assumed",
            "experiment": c.name}  # fmt: skip


def _module(plan: CatalogPlan) -> ModuleType | None:
    """The module of a design planned outside the planner (cls-det and medmat.study.designs)."""
    from medmat.study import clsdet, designs

    return clsdet if plan.design == "cls-det" else designs.module(plan.design)


def _columns(plan: CatalogPlan) -> tuple[str, ...]:
    mod = _module(plan)
    if mod is not None:
        return mod.COLUMNS
    return PAIRWISE_COLUMNS if plan.design == "pairwise" else ABLATION_COLUMNS


def plan_csv(plan: CatalogPlan) -> str:
    columns = _columns(plan)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(plan_rows(plan))
    return buf.getvalue()


def plan_markdown(plan: CatalogPlan) -> str:
    """A readable plan: summary, the published examples (pairwise), the table, skipped targets."""
    rows = plan_rows(plan)
    columns = _columns(plan)
    shown = [c for c in columns if c not in ("sizes",)]
    lines = [f"# `{plan.design}` planned on {SOURCE_WORDS.get(plan.source, plan.source)}", ""]
    lines.append(f"- targets planned: {len(plan.targets)}; skipped: {len(plan.skipped)}")
    if plan.design == "pairwise":
        n_primary = sum(c.primary for c in plan.combinations)
        lines.append(f"- combinations: {len(plan.combinations)} ({n_primary} primary: "
                     f"{PRIMARY_RULE})")  # fmt: skip
    elif _module(plan) is not None:
        lines += _module(plan).summary_lines(plan)
    else:
        lines.append(f"- arms: {len(rows)}; arm cap {plan.arm_cap} items")
    lines.append(f"- training cap per subset: {plan.cap} items")
    lines.append("- training sizes: " + ("counted from the data; subsets below the cap "
                 "are test-only" if plan.sizes_known else "ASSUMED (the catalog records no "
                 "sizes): every released classification subset is taken to supply the cap; "
                 "replan with --sizes to apply the test-only rule"))  # fmt: skip
    if plan.design == "pairwise" and plan.source == "catalog":
        lines += ["", "## The study's published examples", ""]
        for name, found in published_examples(plan).items():
            got = ", ".join(f"`{c.name}`" + (" (primary)" if c.primary else "") for c in found)
            lines.append(f"- {name}: " + (f"reproduced by {got}" if found else "NOT in the plan"))
    lines += ["", "## Plan", "", "| " + " | ".join(shown) + " |",
              "|" + "---|" * len(shown)]  # fmt: skip
    lines += ["| " + " | ".join(str(r[c]) for c in shown) + " |" for r in rows]
    if plan.skipped:
        lines += ["", "## Targets without an experiment", ""]
        lines += [f"- {no}: {why}" for no, why in sorted(plan.skipped.items())]
    return "\n".join(lines) + "\n"


def experiment_configs(
    plan: CatalogPlan,
    *,
    records: str = RECORDS_PLACEHOLDER,
    backend: str = "hf",
    backend_options: dict[str, Any] | None = None,
    primary_only: bool = False,
    seeds: tuple[int, ...] = (0,),
    data: dict[str, Any] | None = None,
    general_items: int = 0,
) -> dict[str, dict[str, Any]]:
    """Experiment name -> an ExperimentConfig dict (pairwise: one per combination, with arms
    related / unrelated / untrained; ablation: one per target with the ablation arms).

    ``data`` replaces ``{"records": records}`` (e.g. ``{"lab": {...}}``); ``general_items``
    general-domain items go into every trained arm."""
    if backend_options is None:
        backend_options = {"model": DEFAULT_MODEL} if backend == "hf" else {}
    common = {"data": dict(data) if data is not None else {"records": records},
              "budget_per_subset": plan.cap, "general_items": general_items,
              "backend": backend, "backend_options": dict(backend_options),
              "seeds": list(seeds)}  # fmt: skip
    out: dict[str, dict[str, Any]] = {}
    if _module(plan) is not None:
        extra = {"primary_only": primary_only} if plan.design == "three-source" else {}
        return _module(plan).experiment_configs(plan, common, **extra)
    if plan.design == "pairwise":
        for c in plan.combinations:
            if primary_only and not c.primary:
                continue
            out[c.name] = {"name": c.name, "targets": [c.target.no],
                           "arms": cg_arms(c.related, c.unrelated), **common}
        return out
    for arm in plan.ablation:
        name = f"ablation-{arm.target.no}"
        cfg = out.setdefault(name, {"name": name, "targets": [arm.target.no], "arms": [],
                                    **common})  # fmt: skip
        if arm.name == "untrained":
            cfg["arms"].append("untrained")
        elif arm.budgets:  # an empty arm would train nothing: it is the untrained arm again
            cfg["arms"].append({"name": arm.name, "subsets": dict(arm.budgets)})
    return out


class _Dumper(yaml.SafeDumper):
    """Quotes every all-digit string: subset ids such as 08 stay strings in any YAML reader
    (PyYAML leaves 08 and 09 bare, which YAML 1.2 readers take for numbers)."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "'" if value.isdigit() else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def config_yaml(config: dict[str, Any], source: str = "catalog") -> str:
    if source == "catalog":
        head = ("# Planned by `medmat study` on the Med-MAT catalog. data.records: the ingested "
                "release\n# (medmat ingest), relative to this file.")  # fmt: skip
    else:
        head = f"# Planned by `medmat study` on {SOURCE_WORDS.get(source, source)}."
    head += (" Run the whole plan: medmat study run PLAN_DIR;\n# this experiment alone: "
             "medmat experiment run THIS.yaml --out DIR\n")  # fmt: skip
    return head + yaml.dump(config, Dumper=_Dumper, sort_keys=False, allow_unicode=True)


def write_plan(
    plan: CatalogPlan, out: str | os.PathLike[str], configs: dict[str, dict[str, Any]]
) -> list[Path]:
    """Write plan.csv, plan.md and configs/NAME.yaml under ``out``, each file atomically."""
    from medmat.io import write_text

    base = Path(out)
    written = [write_text(base / "plan.csv", plan_csv(plan)),
               write_text(base / "plan.md", plan_markdown(plan))]  # fmt: skip
    written += [write_text(base / "configs" / f"{name}.yaml", config_yaml(cfg, plan.source))
                for name, cfg in configs.items()]  # fmt: skip
    return written
