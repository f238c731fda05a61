"""The built-in backend: training, scoring, determinism, checkpoints and resume."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file

from medmat.errors import MedmatError
from medmat.evaluate import wilson_interval
from medmat.qa import iter_items
from medmat.records import read_records_table
from medmat.synth import Cell, LabConfig, generate_lab
from medmat.train.backend import BACKENDS, make_backend
from medmat.train.builtin import BuiltinBackend
from medmat.train.interface import Backend

OPTS = {"epochs": 3, "batch_size": 16, "image_size": 16, "width": 8, "hidden": 32}


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    root = tmp_path_factory.mktemp("lab")
    cells = [Cell("CT", "Lung", "Lesion type"), Cell("CT", "Brain", "Abnormality")]
    generate_lab(root, cells, n_train=40, n_test=12, cfg=LabConfig(size=32), workers=1,
                 contact_sheet=False)
    items = list(iter_items(read_records_table(root), seed=0))
    return root, [i for i in items if i.split == "train"], [i for i in items if i.split == "test"]


def weights(path):
    return load_file(str(path / "model.safetensors"))


def test_implements_the_backend_interface(lab):
    backend = make_backend("builtin", OPTS)
    assert isinstance(backend, Backend) and type(backend) is BuiltinBackend
    assert backend.cfg.width == OPTS["width"]  # the options reach the backend
    # an unknown name lists every registered backend with its description
    with pytest.raises(MedmatError, match="unknown backend 'nope'") as err:
        make_backend("nope")
    for name, entry in BACKENDS.items():
        assert f"{name} ({entry.description})" in str(err.value)


def test_fit_then_score_returns_one_prediction_per_item(lab, tmp_path):
    root, train, test = lab
    backend = BuiltinBackend(**OPTS)
    backend.fit(train, root, tmp_path, seed=0)
    preds = backend.score(test, root)
    assert [p.item_id for p in preds] == [it.id for it in test]
    for p, it in zip(preds, test, strict=True):
        assert p.n_options == len(it.options)
        assert p.predicted in "ABCD"[: len(it.options)]
        assert p.answer == it.answer_choice
        assert sum(p.scores) == pytest.approx(1.0, abs=1e-4)
        assert p.predicted == "ABCD"[max(range(p.n_options), key=lambda k: p.scores[k])]


def test_training_learns_the_training_set(lab, tmp_path):
    root, train, _ = lab
    backend = BuiltinBackend(**{**OPTS, "epochs": 40, "lr": 5e-3})
    backend.fit(train, root, tmp_path, seed=0)
    acc = sum(p.correct for p in backend.score(train, root)) / len(train)
    chance = sum(1 / len(it.options) for it in train) / len(train)  # 2- and 4-option items
    assert acc > chance + 0.2, (acc, chance)  # it really fits


def test_same_seed_same_weights_other_seed_other_weights(lab, tmp_path):
    root, train, _ = lab
    for name, seed in (("a", 1), ("b", 1), ("c", 2)):
        BuiltinBackend(**OPTS).fit(train, root, tmp_path / name, seed=seed)
    a, b, c = (weights(tmp_path / n) for n in "abc")
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)


def test_killed_training_resumes_to_identical_weights(lab, tmp_path):
    root, train, _ = lab
    BuiltinBackend(**OPTS).fit(train, root, tmp_path / "full", seed=0)

    def die(epoch):
        if epoch == 1:
            raise KeyboardInterrupt  # what a kill after the first checkpoint looks like

    with pytest.raises(KeyboardInterrupt):
        BuiltinBackend(**OPTS, on_epoch_end=die).fit(train, root, tmp_path / "cut", seed=0)
    assert json.loads((tmp_path / "cut" / "checkpoint.json").read_text())["epoch"] == 1
    assert not (tmp_path / "cut" / "model.safetensors").exists()
    seen = []
    BuiltinBackend(**OPTS, on_epoch_end=seen.append).fit(train, root, tmp_path / "cut", seed=0)
    assert seen == [2, 3]  # resumed after epoch 1, did not start over
    full, cut = weights(tmp_path / "full"), weights(tmp_path / "cut")
    assert all(torch.equal(full[k], cut[k]) for k in full)


def test_resume_trusts_the_checkpoint_not_the_json_beside_it(lab, tmp_path):
    """A kill between the weights and checkpoint.json must not replay an epoch."""
    root, train, _ = lab
    BuiltinBackend(**OPTS).fit(train, root, tmp_path / "full", seed=0)

    def die(epoch):
        if epoch == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        BuiltinBackend(**OPTS, on_epoch_end=die).fit(train, root, tmp_path / "cut", seed=0)
    stale = tmp_path / "cut" / "checkpoint.json"
    stale.write_text(json.dumps({**json.loads(stale.read_text()), "epoch": 1}))
    seen = []
    BuiltinBackend(**OPTS, on_epoch_end=seen.append).fit(train, root, tmp_path / "cut", seed=0)
    assert seen == [3]
    full, cut = weights(tmp_path / "full"), weights(tmp_path / "cut")
    assert all(torch.equal(full[k], cut[k]) for k in full)


def test_finished_model_is_not_retrained_and_foreign_one_is_refused(lab, tmp_path):
    root, train, _ = lab
    BuiltinBackend(**OPTS).fit(train, root, tmp_path, seed=0)
    stamp = (tmp_path / "model.safetensors").stat().st_mtime_ns
    seen = []
    BuiltinBackend(**OPTS, on_epoch_end=seen.append).fit(train, root, tmp_path, seed=0)
    assert seen == [] and (tmp_path / "model.safetensors").stat().st_mtime_ns == stamp
    with pytest.raises(MedmatError, match="other items or settings"):
        BuiltinBackend(**OPTS).fit(train[:-1], root, tmp_path, seed=0)


def test_untrained_backend_scores_at_chance_level(lab):
    root, train, test = lab
    items = train + test  # scoring needs no training: more items, a tighter check
    preds = BuiltinBackend(**OPTS).score(items, root)
    assert [p.item_id for p in preds] == [it.id for it in items]
    # word vectors start at zero, so an untrained model cannot tell the options apart ...
    for p in preds:
        assert p.scores == pytest.approx([1 / p.n_options] * p.n_options, abs=1e-6)
    # ... and its accuracy is chance's (the 2- and 4-option mix), on every item and on the
    # gold-"A" items alone: breaking ties by always answering "A" would score 1.0 there.
    for subset in (preds, [p for p in preds if p.answer == "A"]):
        n, n_correct = len(subset), sum(p.correct for p in subset)
        chance = sum(1 / p.n_options for p in subset) / n
        low, high = wilson_interval(n_correct, n, 0.99)
        assert n >= 30 and low <= chance <= high, (n_correct, n, chance)


@pytest.mark.parametrize(("opts", "message"), [
    ({"epochs": 0}, "epochs"), ({"image_size": 20}, "multiple of 8"), ({"lr": 0}, "lr"),
])
def test_bad_options_have_clear_errors(opts, message):
    with pytest.raises(MedmatError, match=message):
        BuiltinBackend(**opts)


def test_empty_training_set_is_an_error(lab, tmp_path):
    root, _, _ = lab
    with pytest.raises(MedmatError, match="no training items"):
        BuiltinBackend(**OPTS).fit([], root, tmp_path, seed=0)
