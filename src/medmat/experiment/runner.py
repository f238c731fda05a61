"""Run a CG experiment: data -> QA items -> plans -> train/score every arm -> metrics -> report.

Resumable at two levels: an arm whose predictions exist (with the same fingerprint) is not
retrained, and a backend killed mid-training resumes from its last checkpoint. Every file is
written atomically.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import random
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from medmat import evaluate
from medmat.errors import MedmatError
from medmat.experiment.config import ExperimentConfig, load_config
from medmat.io import read_json, write_json
from medmat.progress import progress_bar
from medmat.records import (
    Prediction,
    QAItem,
    read_items,
    read_records_table,
    write_predictions,
)
from medmat.splits import Plan, SubsetInfo, find_target, lattice_from_table, plan_target
from medmat.train.backend import make_backend

console = Console(stderr=True)


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


def prepare_data(cfg: ExperimentConfig, out: Path) -> Path:
    """Return the records table path, generating the synthetic lab if the config asks for one."""
    if cfg.records is not None:
        return Path(cfg.records)
    from medmat.synth import LabConfig, generate_lab, parse_cell

    lab = cfg.lab or {}
    lab_dir = out / "lab"
    lab_cfg = LabConfig(
        seed=int(lab.get("seed", 0)),
        null=bool(lab.get("null", False)),
        size=int(lab.get("size", 64)),
    )
    cells = [parse_cell(c) for c in lab["cells"]]
    counts = {k: int(lab.get(k, d)) for k, d in (("n_train", 1000), ("n_val", 0), ("n_test", 200))}
    manifest = lab_dir / "lab.json"
    if (lab_dir / "records.parquet").exists() and manifest.exists():
        done = read_json(manifest)
        if done.get("cells") == sorted(c.subset for c in set(cells)) and done.get("counts") == {
            "train": counts["n_train"],
            "val": counts["n_val"],
            "test": counts["n_test"],
        }:
            return lab_dir / "records.parquet"
    return generate_lab(lab_dir, cells, cfg=lab_cfg, **counts)


def prepare_items(cfg: ExperimentConfig, records: Path, out: Path) -> tuple[list[QAItem], Path]:
    from medmat.qa import build

    items_dir = out / "items"
    summary_path = items_dir / "summary.json"
    key = {
        "records": str(Path(records).resolve()),
        "seed": cfg.qa_seed,
        "templates": cfg.templates,
        "drop_leaky": cfg.drop_leaky,
        "records_mtime": Path(records).stat().st_mtime_ns,
    }
    stamp = items_dir / "build-key.json"
    if not (summary_path.exists() and stamp.exists() and read_json(stamp) == key):
        build(
            records,
            items_dir,
            seed=cfg.qa_seed,
            templates_file=cfg.templates,
            drop_leaky=cfg.drop_leaky,
        )
        write_json(stamp, key)
    summary = read_json(summary_path)
    return read_items(items_dir), Path(summary["image_root"])


def _select(items: list[QAItem], n: int, seed: int, salt: str) -> list[QAItem]:
    """A seeded, order-independent choice of ``n`` items (by id)."""
    items = sorted(items, key=lambda it: it.id)
    random.Random(f"{seed}|{salt}").shuffle(items)
    return sorted(items[:n], key=lambda it: it.id)


def arm_training_items(
    plan: Plan, arm_index: int, by_subset_split: dict, seed: int
) -> list[QAItem]:
    arm = plan.arms[arm_index]
    chosen: list[QAItem] = []
    for sub, budget in sorted(arm.budgets.items()):
        chosen += _select(by_subset_split.get((sub, "train"), []), budget, seed, sub)
    if arm.target_items:
        chosen += _select(
            by_subset_split.get((plan.target.subset, "train"), []), arm.target_items, seed, "target"
        )
    return chosen


def guard_test_items(
    test: list[QAItem],
    train: list[QAItem],
    sha1: dict[str, str | None],
    target: SubsetInfo,
    drop: bool,
) -> list[QAItem]:
    """Refuse (or drop) target test items whose image is also a training image of an arm."""
    train_ids = {it.record_id for it in train}
    train_hashes = {sha1.get(r) for r in train_ids} - {None}
    leaky = [
        it for it in test if it.record_id in train_ids or sha1.get(it.record_id) in train_hashes
    ]
    if leaky and not drop:
        raise MedmatError(
            f"target {target.subset}: {len(leaky)} test item(s) use images that are also in an "
            f"arm's training data (e.g. {leaky[0].image}). Fix the splits or set drop_leaky: true."
        )
    bad = {it.id for it in leaky}
    return [it for it in test if it.id not in bad]


def _fingerprint(*parts: object) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


def run_arm(
    cfg: ExperimentConfig,
    run_dir: Path,
    train: list[QAItem],
    test: list[QAItem],
    image_root: Path,
    seed: int,
    label: str,
) -> list[Prediction]:
    """Train (unless done) and score one arm; predictions are cached with a fingerprint."""
    fp = _fingerprint(
        cfg.backend, cfg.backend_options, seed, [it.id for it in train], [it.id for it in test]
    )
    meta_path, pred_path = run_dir / "arm.json", run_dir / "predictions.parquet"
    if meta_path.exists() and pred_path.exists() and read_json(meta_path).get("fingerprint") == fp:
        import pyarrow.parquet as pq

        rows = pq.read_table(pred_path).to_pylist()
        return [
            Prediction(
                r["item_id"], r["answer"], r["predicted"], r["n_options"], tuple(r["scores"])
            )
            for r in rows
        ]
    backend = make_backend(cfg.backend, cfg.backend_options)
    if train:
        with progress_bar(f"train {label}", None) as advance:
            state = {"done": 0}

            def progress(done: int, total: int) -> None:
                advance(done - state["done"], total=total)
                state["done"] = done

            backend.fit(train, image_root, run_dir / "model", seed=seed, progress=progress)
    preds = backend.score(test, image_root)
    write_predictions(pred_path, preds)
    write_json(meta_path, {"fingerprint": fp, "n_train": len(train), "n_test": len(test)})
    return preds


def run_experiment(config: str | Path | dict, out_dir: str | Path) -> dict:
    """Run (or resume) an experiment and return its metrics (also written to metrics.json)."""
    started = time.perf_counter()
    cfg = load_config(config)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with _main_process_first():
        records = prepare_data(cfg, out)
    rec_table = read_records_table(
        records, columns=["record_id", "subset", "modality", "area", "task", "split", "pixel_sha1"]
    )
    lattice = lattice_from_table(rec_table)
    sha1 = dict(
        zip(
            rec_table.column("record_id").to_pylist(),
            rec_table.column("pixel_sha1").to_pylist(),
            strict=True,
        )
    )
    with _main_process_first():
        items, image_root = prepare_items(cfg, records, out)
    by_subset_split: dict[tuple[str, str], list[QAItem]] = {}
    for it in items:
        by_subset_split.setdefault((it.subset, it.split), []).append(it)

    targets = [find_target(lattice, t) for t in cfg.targets]
    others = frozenset(t.subset for t in targets)
    plans = [
        plan_target(
            t,
            lattice,
            cfg.arms,
            budget_per_subset=cfg.budget_per_subset,
            target_items=cfg.target_items,
            seed=cfg.seeds[0],
            avoid=others - {t.subset},
        )
        for t in targets
    ]
    write_json(out / "plan.json", {"plans": [p.to_dict() for p in plans]})
    console.print(plan_table(plans))

    targets_out = []
    for plan in plans:
        test_all = by_subset_split.get((plan.target.subset, "test"), [])
        arm_preds: dict[str, list[list[Prediction]]] = {a.name: [] for a in plan.arms}
        dropped = 0
        for seed in cfg.seeds:
            trains = [
                arm_training_items(plan, i, by_subset_split, seed) for i in range(len(plan.arms))
            ]
            test = test_all
            for train in trains:
                test = guard_test_items(test, train, sha1, plan.target, cfg.drop_leaky)
            dropped = max(dropped, len(test_all) - len(test))
            for arm, train in zip(plan.arms, trains, strict=True):
                run_dir = out / "runs" / plan.target.subset / arm.name / f"seed{seed}"
                label = f"{plan.target.subset} / {arm.name} / seed {seed}"
                arm_preds[arm.name].append(
                    run_arm(cfg, run_dir, train, test, image_root, seed, label)
                )
        targets_out.append(summarise_target(cfg, plan, arm_preds, dropped))

    metrics = {
        "name": cfg.name,
        "seed": cfg.seeds[0],
        "seeds": cfg.seeds,
        "backend": cfg.backend,
        "lab": (
            {
                "null": bool(cfg.lab.get("null", False)),
                "seed": int(cfg.lab.get("seed", 0)),
                "size": int(cfg.lab.get("size", 64)),
            }
            if cfg.lab is not None
            else None
        ),
        "config": cfg.to_dict(),
        "lattice": [
            {
                "subset": s.subset,
                "modality": s.modality,
                "area": s.area,
                "task": s.task,
                "n_train": s.n_train,
                "n_test": s.n_test,
            }
            for s in lattice.values()
        ],
        "targets": targets_out,
        "wall_seconds": round(time.perf_counter() - started, 1),
    }
    if _is_main_process():  # every process holds the same metrics; one writes them
        write_json(out / "metrics.json", metrics)
        from medmat.report import write_report

        write_report(metrics, out)
    return metrics


def summarise_target(cfg: ExperimentConfig, plan: Plan, arm_preds: dict, dropped: int) -> dict:
    t = plan.target
    arms = {}
    for arm in plan.arms:
        runs = arm_preds[arm.name]
        pooled = [p for run in runs for p in run]
        acc = evaluate.accuracy_over_seeds(runs, n_boot=cfg.bootstrap, seed=cfg.seeds[0])
        acc = acc.to_dict()
        per_seed = [evaluate.accuracy(run).accuracy for run in runs]
        arms[arm.name] = {
            **acc,
            "train_subsets": sorted(arm.budgets),
            "budgets": dict(sorted(arm.budgets.items())),
            "target_items": arm.target_items,
            "n_train": arm.n_train,
            "letter_bias": evaluate.letter_bias(pooled),
            "per_seed": per_seed,
            **{k: v for k, v in evaluate.seed_summary(per_seed).items() if k in ("mean", "sd")},
        }
    out = {
        "target": {"subset": t.subset, "modality": t.modality, "area": t.area, "task": t.task},
        "arms": arms,
        "dropped_leaky_test_items": dropped,
        "diffs": {},
    }
    names = [a.name for a in plan.arms]
    pairs = [
        (a, b)
        for a in names
        for b in names
        if a != b
        and ((a, b) == ("related", "unrelated") or b == "untrained" or a == "target_trained")
    ]
    for a, b in pairs:
        # one row per seed: the bootstrap resamples whole test items, not (seed, item) pairs
        rows = [evaluate.align(ra, rb) for ra, rb in zip(arm_preds[a], arm_preds[b], strict=True)]
        diff = evaluate.paired_bootstrap_diff(
            [x for x, _ in rows], [y for _, y in rows], n_boot=cfg.bootstrap, seed=cfg.seeds[0]
        )
        out["diffs"][f"{a}_minus_{b}"] = diff.to_dict()
    if "related_minus_unrelated" in out["diffs"]:
        d = out["diffs"]["related_minus_unrelated"]
        out["gain"] = {
            "related_minus_unrelated": d["diff"],
            "ci95": d["ci95"],
            "p_value": d.get("p_value"),
        }
    return out


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
