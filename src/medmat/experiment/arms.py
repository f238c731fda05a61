"""One arm of one target and seed: choose its training items, train, score, cache.

An arm's manifest fingerprints the backend, its validated options, the seed and the *content* of
every training and test item (question, options, answer and the image's bytes), and the digest of
the backend's source files, so changing the QA seed, the templates, an image, a backend option or
the model code retrains exactly the arms it touches.
Training that was killed resumes from the backend's checkpoint only if that checkpoint was made
for the same fingerprint (``pending.json``); otherwise the stale model folder is discarded.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from functools import cache
from pathlib import Path

import pyarrow.parquet as pq

from medmat.errors import MedmatError
from medmat.evaluate.degenerate import shuffled_images
from medmat.experiment.config import ExperimentConfig
from medmat.experiment.stages import remove_stale
from medmat.io import read_json, write_json
from medmat.manifest import (
    MANIFEST_NAME,
    Manifest,
    file_digest,
    fingerprint,
    is_current,
    output_digests,
    write_manifest,
)
from medmat.predictions import row_to_prediction
from medmat.progress import progress_bar
from medmat.records import Prediction, QAItem, write_predictions
from medmat.splits import Plan, SubsetInfo
from medmat.train.backend import backend_code_digest

PREDICTIONS = "predictions.parquet"
# the shuffled-image control: the same test items with every image moved to another item; an
# arm that answers them as it answers the real ones does not look at the image
PREDICTIONS_SHUFFLED = "predictions_shuffled.parquet"
CONTROLS = "shuffled-images-v1"
PENDING = "pending.json"
# OUT/models/KEY: one model per distinct training (backend, options, seed, training items), so
# arms that train on exactly the same items share it (the quickstart's two targets share their
# lesion-type-only arm and the X-ray·Breast component arm) instead of training it twice.
MODELS = "models"


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
    # the salt names the general subset only (not the arm): every arm of a seed gets the same
    # general-domain items, so arms differ only in their medical data
    for sub, budget in sorted(arm.general.items()):
        chosen += _select(by_subset_split.get((sub, "train"), []), budget, seed, f"general|{sub}")
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


def arm_manifest(
    cfg: ExperimentConfig,
    seed: int,
    train: list[QAItem],
    test: list[QAItem],
    item_digests: dict[int, str],
) -> Manifest:
    config = {"backend": cfg.backend, "backend_options": cfg.backend_options, "seed": seed,
              "backend_code": backend_code_digest(cfg.backend),
              "answer_protocol": _answer_protocol_digest(), "controls": CONTROLS}
    inputs = {
        "train": fingerprint([item_digests[it.id] for it in train]),
        "test": fingerprint([item_digests[it.id] for it in test]),
    }
    return Manifest("arm", config, inputs)


def model_key(cfg: ExperimentConfig, seed: int, train: list[QAItem],
              item_digests: dict[int, str]) -> str:
    """The training's identity: arms with equal keys train equal models (given the seed, the
    backends are deterministic on CPU), so one folder serves them all."""
    return fingerprint({"backend": cfg.backend, "backend_options": cfg.backend_options,
                        "backend_code": backend_code_digest(cfg.backend), "seed": seed,
                        "train": fingerprint([item_digests[it.id] for it in train])})[:16]


@cache
def _answer_protocol_digest() -> str:
    """The answer-extraction rules decide what a reply scores: a change re-scores every arm."""
    from medmat.qa import answers

    return file_digest(Path(answers.__file__))[:16]


def read_predictions(path: Path) -> list[Prediction]:
    # row_to_prediction keeps a grounding table's boxes, so a resumed run scores them too
    return [row_to_prediction(r) for r in pq.read_table(path).to_pylist()]


def run_arm(
    cfg: ExperimentConfig,
    run_dir: Path,
    train: list[QAItem],
    test: list[QAItem],
    image_root: Path,
    seed: int,
    label: str,
    item_digests: dict[int, str],
    log: Callable[[str], None],
    trained: dict[str, str] | None = None,
) -> tuple[list[Prediction], list[Prediction] | None, str]:
    """Train (unless current) and score one arm on the test items and on the shuffled-image
    control; return both prediction lists (the control is None with fewer than two test items)
    and the arm's fingerprint. The model lives in ``run_dir/../../../../models/KEY`` (see
    :data:`MODELS`); ``trained`` maps the keys trained in this run to the first arm's label."""
    from medmat.train.backend import make_backend

    want = arm_manifest(cfg, seed, train, test, item_digests)
    ok, why = is_current(run_dir, want)
    if ok:
        log(f"{label}: reused ({why})")
        shuffled = run_dir / PREDICTIONS_SHUFFLED
        return (read_predictions(run_dir / PREDICTIONS),
                read_predictions(shuffled) if shuffled.is_file() else None, want.fingerprint)
    pending = run_dir / PENDING
    resumable = pending.is_file() and _pending_fingerprint(pending) == want.fingerprint
    if resumable:
        log(f"{label}: resuming an interrupted run")
    else:
        # a model trained ahead by medmat.experiment.prefit only needs scoring here
        ready = bool(train) and _finished(models_dir(run_dir) /
                                          model_key(cfg, seed, train, item_digests))
        verb = "scoring the model trained in parallel" if ready else (
            "training" if train else "scoring")
        log(f"{label}: {verb} ({why})")
        for stale in (run_dir / MANIFEST_NAME, run_dir / PREDICTIONS, run_dir / "model",
                      run_dir / "arm.json", run_dir / PREDICTIONS_SHUFFLED):
            remove_stale(stale)
        write_json(pending, {"fingerprint": want.fingerprint})
    (run_dir / MANIFEST_NAME).unlink(missing_ok=True)
    backend = make_backend(cfg.backend, cfg.backend_options)
    if train:
        key = model_key(cfg, seed, train, item_digests)
        trained = {} if trained is None else trained
        if key in trained:
            log(f"{label}: same training items as {trained[key]}: its model {key} is reused")
        trained.setdefault(key, label)
        with progress_bar(f"train {label}", None) as advance:
            state = {"done": 0}

            def progress(done: int, total: int) -> None:
                advance(done - state["done"], total=total)
                state["done"] = done

            backend.fit(train, image_root, models_dir(run_dir) / key, seed=seed,
                        progress=progress)
    preds = backend.score(test, image_root)
    write_predictions(run_dir / PREDICTIONS, preds)
    outputs = [PREDICTIONS]
    shuffled = None
    if len(test) >= 2:
        shuffled = backend.score(shuffled_images(test, seed), image_root)
        write_predictions(run_dir / PREDICTIONS_SHUFFLED, shuffled)
        outputs.append(PREDICTIONS_SHUFFLED)
    write_manifest(run_dir, want.with_outputs(output_digests(run_dir, outputs)))
    pending.unlink(missing_ok=True)
    return preds, shuffled, want.fingerprint


def _finished(model_dir: Path) -> bool:
    """A built-in model folder holding final weights (its config.json is written after them;
    the hf backend never trains ahead, see medmat.experiment.prefit)."""
    return (model_dir / "config.json").is_file() and (model_dir / "model.safetensors").is_file()


def models_dir(run_dir: Path) -> Path:
    """OUT/models for an arm folder OUT/runs/TARGET/ARM/seedN."""
    return run_dir.parents[3] / MODELS


def _pending_fingerprint(path: Path) -> str | None:
    try:
        obj = read_json(path)
    except MedmatError:
        return None
    return obj.get("fingerprint") if isinstance(obj, dict) else None
