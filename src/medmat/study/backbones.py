"""The ``backbones`` design: the pairwise plan run with several backends or models, side by side.

The Med-MAT study's sixth experiment re-ran pairwise combinations with other MLLMs (Qwen2-VL,
Llama-3.2-Vision, HuatuoGPT-Vision besides LLaVA): two combinations per direction type, drawn
with seed 42. Here the pairwise planner (:mod:`medmat.study.planner`) plans every combination,
``combinations_per_direction`` of each direction type are drawn with ``draw_seed``
(designs.yaml; all of them when a direction has no more), and every drawn combination runs once
per backbone with the pairwise arms (related, unrelated, untrained) on the same test items.

Results per backbone are the pairwise design's (rows, "k of n", Holm and Benjamini-Hochberg
within the backbone's family). Between backbones, each combination gets a paired comparison to
the *reference* backbone (the first one listed): the difference of the two CG gains,
``(related_B - unrelated_B) - (related_ref - unrelated_ref)``, with a two-level bootstrap (each
arm's training seeds drawn on their own, the test items once for all four arms:
:func:`medmat.evaluate.two_level_contrast`).

A backbone is ``{name, backend, model, options}``: the lab and records default to two built-in
models of different capacity (CPU), the catalog to Hugging Face models the hf backend loads.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from medmat.errors import MedmatError
from medmat.evaluate.results import ExperimentResult
from medmat.splits import SubsetInfo
from medmat.study.lattice_plan import DEFAULT_LAB_CELLS, DEFAULT_LAB_TARGETS
from medmat.study.planner import DIRECTIONS, CatalogPlan, Combination, Source, plan_pairwise_on
from medmat.study.registry import load_designs
from medmat.study.results import BackboneComparison, BackboneResult, Estimate, StudyResult

# the pairwise default lab: three targets, one source pair per direction type and target
__all__ = ["DEFAULT_LAB_CELLS", "DEFAULT_LAB_TARGETS", "Backbone", "plan_on", "draw"]

SEP = "--"  # experiment name: BACKBONE--pairwise-...
_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
DRAW_RULE = ("per direction type, {k} combination(s) drawn with seed {seed} from the planned "
             "ones sorted by name (all of them when a direction has no more)")  # fmt: skip
COMPARE_RULE = ("difference of CG gains, (related - unrelated) of the backbone minus that of the "
                "reference, on the same test items: two-level bootstrap (each arm's training "
                "seeds drawn on their own, test items once for all four arms)")  # fmt: skip


@dataclass(frozen=True)
class Backbone:
    """One backend or model of the study (``options``: its backend options, validated)."""

    name: str
    backend: str
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def model(self) -> str:
        return str(self.options.get("model", "")) if self.backend == "hf" else ""


# built-in models of two capacities (CPU), and the catalog's Hugging Face models
LAB_BACKBONES = ({"name": "builtin", "backend": "builtin"},
                 {"name": "builtin-wide", "backend": "builtin",
                  "options": {"width": 32, "hidden": 256}})  # fmt: skip
CATALOG_BACKBONES = (
    {"name": "qwen2-vl-2b", "backend": "hf", "model": "Qwen/Qwen2-VL-2B-Instruct"},
    {"name": "qwen2-vl-7b", "backend": "hf", "model": "Qwen/Qwen2-VL-7B-Instruct"},
    {"name": "llava-1.5-7b", "backend": "hf", "model": "llava-hf/llava-1.5-7b-hf"},
)


def read_backbones(text: str | None) -> list[dict[str, Any]] | None:
    """``--backbones``: a YAML list of mappings, or the path of a YAML file holding one."""
    if text is None:
        return None
    where = "--backbones"
    if not text.lstrip().startswith(("[", "-", "{")) and Path(text).is_file():
        where, text = text, Path(text).read_text(encoding="utf-8")
    try:
        obj = yaml.safe_load(text)
    except yaml.YAMLError:
        obj = None
    if not isinstance(obj, list) or not all(isinstance(b, dict) for b in obj):
        raise MedmatError(f"{where}: give a YAML list of backbones, e.g. '[{{name: small, "
                          "backend: builtin}, {name: qwen, backend: hf, model: "
                          "Qwen/Qwen2-VL-2B-Instruct}]'")  # fmt: skip
    return obj


def resolve_backbones(specs: Sequence[Mapping[str, Any]] | None, *, source: str,
                      base_options: Mapping[str, Mapping[str, Any]]) -> list[Backbone]:
    """Validated backbones (the source's defaults when ``specs`` is None). ``base_options``:
    backend -> options every backbone of that backend starts from (the lab's epochs)."""
    from medmat.experiment.config import validate_backend_options

    raw = list(specs) if specs is not None else list(
        CATALOG_BACKBONES if source == "catalog" else LAB_BACKBONES)
    if len(raw) < 2:
        raise MedmatError(f"--backbones: {len(raw)} given; the design compares at least two")
    out: list[Backbone] = []
    for i, spec in enumerate(raw):
        unknown = set(spec) - {"name", "backend", "model", "options"}
        name, backend = spec.get("name"), spec.get("backend")
        if unknown or not isinstance(name, str) or not isinstance(backend, str):
            extra = f"; unknown key(s) {sorted(unknown)}" if unknown else ""
            raise MedmatError(f"--backbones entry {i + 1}: give name and backend (and optionally "
                              f"model, options){extra}")
        if not _NAME.match(name):
            raise MedmatError(f"--backbones entry {i + 1}: name {name!r}: use lower-case letters, "
                              "digits, '.', '_' or '-' (it names the experiment folders)")
        options = {**base_options.get(backend, {}), **dict(spec.get("options") or {})}
        if spec.get("model") is not None:
            if backend != "hf":
                raise MedmatError(f"--backbones entry {name!r}: model applies to the hf backend")
            options["model"] = spec["model"]
        options = validate_backend_options(backend, options, f"--backbones entry {name!r}")
        out.append(Backbone(name, backend, options))
    names = [b.name for b in out]
    if len(set(names)) != len(names):
        raise MedmatError(f"--backbones: names must be unique, got {names}")
    return out


def plan_on(plan: CatalogPlan, sources: Mapping[str, Source],
            lattice: Mapping[str, SubsetInfo] | None, targets: Iterable[Source], *,
            seed: int = 0, test_only: Iterable[str] = ()) -> CatalogPlan:
    """The pairwise plan, then the seeded draw per direction type (module docstring)."""
    del lattice, test_only
    params = load_designs().design("backbones").params
    paired = set() if plan.source == "lab" else None  # the lab renders every pair
    plan_pairwise_on(plan, sources, list(targets), seed=seed, paired=paired)
    planned, plan.combinations = plan.combinations, []
    plan.rows = draw(planned, params["combinations_per_direction"], params["draw_seed"])
    return plan


def draw(combos: Sequence[Combination], k: int, seed: int) -> list[Combination]:
    """``k`` combinations per direction type (DRAW_RULE), in the planner's order."""
    rng = random.Random(seed)
    chosen: set[str] = set()
    for direction in DIRECTIONS:
        names = sorted(c.name for c in combos if c.direction == direction)
        chosen.update(names if len(names) <= k else rng.sample(names, k))
    return [c for c in combos if c.name in chosen]


def experiment_name(backbone: Backbone, combo: Combination) -> str:
    return f"{backbone.name}{SEP}{combo.name}"


COLUMNS = ("backbone", "backend", "model", "target", "target_mat", "direction", "fixed",
           "source_a", "source_a_mat", "source_b", "source_b_mat", "task_match",
           "related_items", "unrelated", "unrelated_items", "primary", "sizes",
           "experiment")  # fmt: skip


def plan_rows(plan: CatalogPlan) -> list[dict[str, Any]]:
    from medmat.study.plan_output import pairwise_row

    return [{"backbone": b.name, "backend": b.backend, "model": b.model or "-",
             **{k: v for k, v in pairwise_row(c, plan.sizes_known).items()
                if k in COLUMNS},
             "experiment": experiment_name(b, c)}
            for b in plan.backbones for c in plan.rows]  # fmt: skip


def summary_lines(plan: CatalogPlan) -> list[str]:
    params = load_designs().design("backbones").params
    names = ", ".join(f"`{b.name}` ({b.backend}{': ' + b.model if b.model else ''})"
                      for b in plan.backbones)  # fmt: skip
    return [f"- combinations: {len(plan.rows)} ("
            + DRAW_RULE.format(k=params["combinations_per_direction"],
                               seed=params["draw_seed"]) + ")",
            f"- backbones: {names}; reference (compared against): `{plan.backbones[0].name}`"]


def experiment_configs(plan: CatalogPlan, common: Mapping[str, Any]) -> dict[str, dict]:
    from medmat.study.plan_output import cg_arms

    out = {}
    for b in plan.backbones:
        for c in plan.rows:
            name = experiment_name(b, c)
            out[name] = {**common, "name": name, "targets": [c.target.no],
                         "backend": b.backend, "backend_options": dict(b.options),
                         "arms": cg_arms(c.related, c.unrelated)}
    return out


def _tables(run_dir: Path, result: ExperimentResult, arms: Sequence[str],
            ids: list[int] | None) -> tuple[list[int], list, dict[int, str]]:
    from medmat.evaluate import correct_table
    from medmat.experiment.arms import PREDICTIONS, read_predictions

    t = result.targets[0]
    tables, gold = [], {}
    for arm in arms:
        runs = [read_predictions(run_dir / "runs" / t.target.subset / arm / f"seed{s}" /
                                 PREDICTIONS) for s in result.seeds]  # fmt: skip
        ids, table = correct_table(runs, item_ids=ids, what=f"{run_dir.name} {arm}")
        tables.append(table)
        gold.update({p.item_id: p.answer for p in runs[0]})
    assert ids is not None
    return ids, tables, gold


def compare(plan_dir: Path, ref: tuple[str, ExperimentResult],
            other: tuple[str, ExperimentResult]) -> tuple[Estimate, float]:
    """The difference of CG gains (COMPARE_RULE) of ``other`` over ``ref``."""
    from medmat.evaluate import two_level_contrast

    (ref_name, ref_result), (name, result) = ref, other
    if list(ref_result.seeds) != list(result.seeds):
        raise MedmatError(f"experiments {ref_name} and {name} trained other seeds; replan")
    arms = ("related", "unrelated")
    ids, ref_tables, ref_gold = _tables(plan_dir / "runs" / ref_name, ref_result, arms, None)
    _, tables, gold = _tables(plan_dir / "runs" / name, result, arms, ids)
    if any(ref_gold[i] != gold[i] for i in ids):
        raise MedmatError(f"experiments {ref_name} and {name} scored other test items (gold "
                          "answers differ); both must read the same records and QA seed")
    n_boot = int(result.config.get("bootstrap", 2000))
    c = two_level_contrast([*tables, *ref_tables], [1.0, -1.0, -1.0, 1.0], n_boot=n_boot,
                           seed=result.seeds[0])
    return Estimate(value=c.estimate, ci95=c.ci95, per_seed=c.per_seed), c.p_value


def study_fields(plan_dir: Path, results: Mapping[str, ExperimentResult],
                 rows: Mapping[str, Mapping[str, str]]) -> dict[str, Any]:
    from medmat.study.aggregate import combination, with_multiplicity

    missing = [n for n in results if n not in rows]
    if missing:
        raise MedmatError(f"{plan_dir / 'plan.csv'}: no row for experiment(s) {missing}; "
                          "replan with --force")
    by_backbone: dict[str, list[str]] = {}  # in the plan's order: the reference first
    for name in results:
        by_backbone.setdefault(rows[name]["backbone"], []).append(name)
    order = list(by_backbone)
    backbones = []
    for b in order:
        combos, multi = with_multiplicity([combination(rows[n], results[n])
                                           for n in by_backbone[b]])
        first = rows[by_backbone[b][0]]
        backbones.append(BackboneResult(
            name=b, backend=first["backend"], model=first["model"],
            n_succeed=sum(c.succeeds for c in combos), multiplicity=multi,
            combinations=tuple(combos)))  # fmt: skip
    ref = order[0]
    comparisons = []
    for b in order[1:]:
        for name in by_backbone[b]:
            combo = name.split(SEP, 1)[1]
            ref_name = f"{ref}{SEP}{combo}"
            if ref_name not in results:
                raise MedmatError(f"{plan_dir / 'configs'}: {name} has no reference experiment "
                                  f"{ref_name}; replan with --force")
            diff, p = compare(plan_dir, (ref_name, results[ref_name]), (name, results[name]))
            ref_combo = next(c for c in backbones[0].combinations if c.experiment == ref_name)
            this = next(c for bb in backbones if bb.name == b for c in bb.combinations
                        if c.experiment == name)  # fmt: skip
            comparisons.append(BackboneComparison(
                combination=combo, target=this.target, direction=this.direction,
                backbone=b, reference=ref, gain=this.gain, reference_gain=ref_combo.gain,
                difference=diff, p_value=p))  # fmt: skip
    return {"backbones": tuple(backbones), "backbone_comparisons": tuple(comparisons),
            "backbone_rule": COMPARE_RULE}


def markdown(result: StudyResult) -> list[str]:
    from medmat.study.report import _acc, _diff, _p, _short

    lines = [f"- backbones: {', '.join(f'`{b.name}`' for b in result.backbones)}; reference "
             f"`{result.backbones[0].name}`" if result.backbones else "- no backbones"]
    for b in result.backbones:
        m = b.multiplicity
        holm = ("" if m is None else
                f"; {m.n_gain_holm} (Holm), {m.n_gain_bh} (BH) after correction")
        lines.append(f"- **{b.name}**: {b.n_succeed} of {len(b.combinations)} combinations "
                     f"succeed (informative, interval above 0){holm}")
    lines += ["", "## Gains per backbone", "",
              "Gain = related - unrelated (points, paired on the same test items), two-level "
              "intervals over training seeds then test items.", "",
              "| backbone | combination | direction | untrained | unrelated | related | gain "
              "[95% CI] | verdict | Holm |", "|---|---|---|---|---|---|---|---|---|"]
    for b in result.backbones:
        for c in b.combinations:
            combo = c.experiment.split(SEP, 1)[1]
            lines.append(f"| {b.name} | {combo} | {c.direction} | {_acc(c.untrained)} | "
                         f"{_acc(c.unrelated)} | {_acc(c.related)} | {_diff(c.gain)} | "
                         f"{_short(c.verdict)} | {_short(c.verdict_holm)} |")
    if result.backbone_comparisons:
        lines += ["", "## Paired comparison with the reference", "", f"- {result.backbone_rule}",
                  "", "| combination | backbone | gain | reference gain | difference [95% CI] | "
                  "p (two-sided) |", "|---|---|---|---|---|---|"]
        for c in result.backbone_comparisons:
            lines.append(f"| {c.combination} | {c.backbone} vs {c.reference} | {_diff(c.gain)} "
                         f"| {_diff(c.reference_gain)} | {_diff(c.difference)} | "
                         f"{_p(c.p_value)} |")
    return [*lines, "", "![gains per backbone](backbones.png)"]


def figures(result: StudyResult) -> dict[str, bytes]:
    """backbones.png: a forest plot, one row per combination, one marker per backbone."""
    from medmat.report.plots import new_figure, plot_style, png_bytes

    combos = list(dict.fromkeys(c.experiment.split(SEP, 1)[1] for b in result.backbones
                                for c in b.combinations))  # fmt: skip
    n_b = max(len(result.backbones), 1)
    with plot_style():
        fig = new_figure(9.5, 1.6 + 0.45 * max(len(combos), 1))
        ax = fig.add_subplot(1, 1, 1)
        for j, b in enumerate(result.backbones):
            offset = (j - (n_b - 1) / 2) * 0.6 / n_b
            by_combo = {c.experiment.split(SEP, 1)[1]: c for c in b.combinations}
            xs, ys, lows, highs = [], [], [], []
            for y, name in enumerate(reversed(combos)):
                c = by_combo.get(name)
                if c is None or c.gain.value is None:
                    continue
                xs.append(100 * c.gain.value)
                ys.append(y + offset)
                lo, hi = c.gain.ci95 or (c.gain.value, c.gain.value)
                lows.append(100 * (c.gain.value - lo))
                highs.append(100 * (hi - c.gain.value))
            ax.errorbar(xs, ys, xerr=[lows, highs], fmt="o", markersize=5, capsize=2,
                        label=b.name)
        ax.axvline(0.0, color="#333", linewidth=0.8, linestyle="--")
        ax.set_yticks(range(len(combos)))
        ax.set_yticklabels(list(reversed(combos)), fontsize=7)
        ax.set_xlabel("related - unrelated accuracy (points), seed-level 95% interval")
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
        fig.tight_layout()
        return {"backbones.png": png_bytes(fig)}
