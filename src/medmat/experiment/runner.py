"""Run a CG experiment: data -> QA items -> plans -> train/score every arm -> metrics -> report.

Every stage carries a manifest of what it was made from (see :mod:`medmat.manifest` and
docs/experiments.md, "What is cached"): the lab, the items, each arm and the experiment's own
metrics and report are reused only when their fingerprints match the config *now*, and the run
log (``run-log.txt``, and stderr) says for every stage what was reused or recomputed and why. A
backend killed mid-training resumes from its last checkpoint. Every file is written atomically;
the experiment's ``manifest.json`` is written last.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from rich.console import Console

from medmat.evaluate.results import (
    METRICS_SCHEMA_VERSION,
    Cell,
    ExperimentResult,
    LabInfo,
    load_result,
)
from medmat.experiment.arms import (
    MODELS,
    arm_manifest,
    arm_training_items,
    guard_test_items,
    model_key,
    run_arm,
)
from medmat.experiment.config import ExperimentConfig, load_config
from medmat.experiment.planning import LATTICE_COLUMNS, plan_experiment, plan_json, plan_table
from medmat.experiment.prefit import FitJob, prefit
from medmat.experiment.stages import prepare_items, prepare_lab
from medmat.experiment.summary import summarise_target
from medmat.experiment.summary_boxes import box_examples
from medmat.io import read_json, write_text
from medmat.manifest import (
    Manifest,
    file_digest,
    fingerprint,
    is_current,
    output_digests,
    write_manifest,
)
from medmat.records import Prediction, QAItem, read_records_table, records_path
from medmat.report.box_figure import BOXES_PNG
from medmat.splits import Plan, lattice_from_table

console = Console(stderr=True)
METRICS = "metrics.json"
PLAN = "plan.json"
RUN_LOG = "run-log.txt"
REPORT_FILES = ("report.md", "accuracy.png", "lattice.png")


def _distributed() -> bool:
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def _main_process_first() -> contextlib.AbstractContextManager:
    """Under `accelerate launch` the main process prepares data first; the others then reuse it."""
    if _distributed():
        from accelerate import PartialState

        return PartialState().main_process_first()
    return contextlib.nullcontext()


def _is_main_process() -> bool:
    return os.environ.get("RANK", "0") == "0"


class RunLog:
    """One line per stage decision, to stderr and to ``run-log.txt`` (this run's only)."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def __call__(self, line: str) -> None:
        self.lines.append(line)
        console.print(f"[dim]{line}[/dim]", highlight=False)

    def decisions(self, prefix: str) -> list[str]:
        return [ln for ln in self.lines if ln.startswith(prefix)]


def experiment_manifest(cfg: ExperimentConfig, inputs: dict[str, str]) -> Manifest:
    return Manifest("experiment", cfg.to_dict(), inputs)


def _arm_dir(out: Path, plan: Plan, arm: str, seed: int) -> Path:
    return out / "runs" / plan.target.subset / arm / f"seed{seed}"


def _stale_models(cfg: ExperimentConfig, out: Path, plans: list[Plan],
                  work: dict[tuple[str, int], tuple[list[list[QAItem]], list[QAItem]]],
                  item_digests: dict[int, str]) -> list[FitJob]:
    """One job per distinct model that an arm still needs (arms already current need none)."""
    jobs: dict[str, FitJob] = {}
    for plan in plans:
        for seed in cfg.seeds:
            trains, test = work[plan.target.subset, seed]
            for arm, train in zip(plan.arms, trains, strict=True):
                if not train or is_current(_arm_dir(out, plan, arm.name, seed),
                                           arm_manifest(cfg, seed, train, test, item_digests))[0]:
                    continue
                key = model_key(cfg, seed, train, item_digests)
                jobs.setdefault(key, FitJob(out / MODELS / key, train, seed))
    return list(jobs.values())


def run_experiment(
    config: str | Path | dict, out_dir: str | Path, *, log: RunLog | None = None,
    jobs: int | None = None,
) -> ExperimentResult:
    """Run (or resume) an experiment; return its typed results (also written to metrics.json).

    ``jobs``: processes that train built-in models side by side (default: the CPUs available,
    at most 8; the metrics do not depend on it, see :mod:`medmat.experiment.prefit`)."""
    from medmat.outdir import check_out_dir, claim_dir

    cfg = load_config(config)
    log = log if log is not None else RunLog()
    out = Path(out_dir)
    # The output-folder contract (docs/guarantees.md): never inside an input, never over a folder
    # of another kind; an existing experiment folder is resumed.
    inputs = [p for p in (config if not isinstance(config, dict) else None, cfg.templates) if p]
    if cfg.records is not None:
        inputs.append(records_path(cfg.records).parent)
    check_out_dir(out, "experiment", inputs, resume_ok=True)
    if _is_main_process():
        # Claimed at once, so a run killed before its manifest exists is recognised and resumed.
        claim_dir(out, "experiment")
    with _main_process_first():
        records = prepare_lab(cfg, out, log)
    rec_table = read_records_table(records, columns=[*LATTICE_COLUMNS, "pixel_sha1"])
    lattice = lattice_from_table(rec_table)
    sha1 = dict(
        zip(
            rec_table.column("record_id").to_pylist(),
            rec_table.column("pixel_sha1").to_pylist(),
            strict=True,
        )
    )
    with _main_process_first():
        stage = prepare_items(cfg, records, out, log)
    by_subset_split: dict[tuple[str, str], list[QAItem]] = {}
    for it in stage.items:
        by_subset_split.setdefault((it.subset, it.split), []).append(it)

    plans = plan_experiment(cfg, lattice)
    plan_text = plan_json(plans)
    if _is_main_process():
        write_text(out / PLAN, plan_text)
    console.print(plan_table(plans))

    # First every arm's training and test items (cheap), so the models that still need
    # training can be trained side by side before any arm is scored.
    work: dict[tuple[str, int], tuple[list[list[QAItem]], list[QAItem]]] = {}
    dropped: dict[str, int] = {}
    for plan in plans:
        test_all = by_subset_split.get((plan.target.subset, "test"), [])
        for seed in cfg.seeds:
            trains = [
                arm_training_items(plan, i, by_subset_split, seed) for i in range(len(plan.arms))
            ]
            test = test_all
            for train in trains:
                test = guard_test_items(test, train, sha1, plan.target, cfg.drop_leaky)
            work[plan.target.subset, seed] = (trains, test)
            dropped[plan.target.subset] = max(dropped.get(plan.target.subset, 0),
                                              len(test_all) - len(test))
    prefit(cfg.backend, cfg.backend_options, stage.image_root,
           _stale_models(cfg, out, plans, work, stage.item_digests), jobs, log)

    targets_out = []
    examples = []  # grounding targets' test images with their boxes (boxes.png)
    arm_fingerprints: list[str] = []
    trained: dict[str, str] = {}  # model key -> the first arm that trains it
    for plan in plans:
        test_all = by_subset_split.get((plan.target.subset, "test"), [])
        arm_preds: dict[str, list[list[Prediction]]] = {a.name: [] for a in plan.arms}
        arm_shuffled: dict[str, list[list[Prediction] | None]] = {a.name: [] for a in plan.arms}
        for seed in cfg.seeds:
            trains, test = work[plan.target.subset, seed]
            for arm, train in zip(plan.arms, trains, strict=True):
                run_dir = _arm_dir(out, plan, arm.name, seed)
                label = f"{plan.target.subset} / {arm.name} / seed {seed}"
                preds, shuffled, fp = run_arm(cfg, run_dir, train, test, stage.image_root, seed,
                                              label, stage.item_digests, log, trained)
                arm_preds[arm.name].append(preds)
                arm_shuffled[arm.name].append(shuffled)
                arm_fingerprints.append(fp)
        options = {it.id: tuple(it.options) for it in test_all}
        targets_out.append((plan, arm_preds, dropped[plan.target.subset], arm_shuffled, options))
        examples += box_examples(plan, arm_preds, test_all, stage.image_root)

    want = experiment_manifest(cfg, {
        "records": file_digest(records),
        "items": stage.fingerprint,
        "plan": fingerprint(plan_text),
        "arms": fingerprint(arm_fingerprints),
    })
    ok, why = is_current(out, want)
    if ok:
        log(f"metrics and report: reused ({why})")
        result = load_result(read_json(out / METRICS), str(out / METRICS))
    else:
        log(f"metrics and report: computing ({why})")
        result = ExperimentResult(
            schema_version=METRICS_SCHEMA_VERSION,
            name=cfg.name,
            seeds=tuple(cfg.seeds),
            backend=cfg.backend,
            lab=(LabInfo(null=cfg.lab.null, seed=cfg.lab.seed, size=cfg.lab.size)
                 if cfg.lab is not None else None),
            config=cfg.to_dict(),
            lattice=tuple(
                Cell(subset=s.subset, modality=s.modality, area=s.area, task=s.task,
                     n_train=s.n_train, n_test=s.n_test)
                for s in lattice.values()
            ),
            targets=tuple(summarise_target(cfg, p, a, d, shuffled=s, options=o)
                          for p, a, d, s, o in targets_out),
        )
        if _is_main_process():  # every process holds the same metrics; one writes them
            from medmat.report import write_report

            write_text(out / METRICS, result.to_json())
            write_report(result, out, box_examples=examples)
            figures = [BOXES_PNG] if examples else []
            outputs = output_digests(out, [METRICS, PLAN, *REPORT_FILES, *figures])
            write_manifest(out, want.with_outputs(outputs))
    if _is_main_process():
        write_text(out / RUN_LOG, "\n".join(log.lines) + "\n")
    return result
