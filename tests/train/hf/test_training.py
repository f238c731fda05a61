from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file

from medmat.errors import MedmatError
from medmat.train.backend import make_backend
from medmat.train.hf import HFBackend
from medmat.train.hf.encoding import IGNORE

FAST = {"lr": 2e-2, "epochs": 10, "batch_size": 4, "warmup_ratio": 0.0}


class Interrupt(Exception):
    pass


def test_loss_is_computed_on_answer_tokens_only(qwen_path, image_root, items):
    # on CPU everywhere: the collated batch stays on the host, and the check is exact float32
    backend = HFBackend(model=str(qwen_path), device="cpu")
    enc = backend.encoder
    feats = [enc.encode(it, enc.load_image(it, image_root), it.answer_choice) for it in items[:3]]
    batch = enc.collate(feats)
    with torch.no_grad():
        out = backend.model(**batch)
    logits, labels = out.logits[:, :-1].float(), batch["labels"][:, 1:]
    keep = labels != IGNORE
    manual = torch.nn.functional.cross_entropy(logits[keep], labels[keep])
    assert torch.allclose(out.loss, manual, atol=1e-5)
    assert int(keep.sum()) == 3 * 2  # letter + <|im_end|> per item


def test_fit_learns_and_both_modes_answer(qwen_path, image_root, items_all_b, tmp_path):
    backend = make_backend("hf", {"model": str(qwen_path), **FAST})
    assert isinstance(backend, HFBackend)
    calls = []
    backend.fit(items_all_b, image_root, tmp_path / "w", seed=0,
                progress=lambda d, t: calls.append((d, t)))
    assert calls == [(s, 20) for s in range(1, 21)]
    losses = backend.last_train.losses
    assert len(losses) == 20 and losses[-1] < losses[0]

    preds = backend.score(items_all_b, image_root)
    assert [p.predicted for p in preds] == ["B"] * 8
    assert [p.item_id for p in preds] == [it.id for it in items_all_b]
    backend.opts.mode = "generate"
    preds = backend.score(items_all_b, image_root)
    assert [p.predicted for p in preds] == ["B"] * 8
    assert set(backend.last_replies.values()) == {"B"}

    work = tmp_path / "w"
    assert (work / "hf_done.json").is_file() and not (work / "checkpoint").exists()
    adapter = load_file(str(work / "adapter" / "adapter_model.safetensors"))
    assert adapter and all("lora_" in k for k in adapter)
    # LoRA went into the language model only; the vision tower stays frozen and unadapted
    assert all("language_model" in k for k in adapter)
    assert not any("visual" in k for k in adapter)
    log = json.loads((work / "train_log.json").read_text())
    assert log["steps"] == 20


def test_lora_round_trip_and_reuse(qwen_path, image_root, items, tmp_path):
    opts = {"model": str(qwen_path), **FAST, "epochs": 2}
    trained = HFBackend(**opts)
    trained.fit(items, image_root, tmp_path, seed=1)
    before = trained.score(items, image_root)

    reloaded = HFBackend(**opts)
    calls = []
    reloaded.fit(items, image_root, tmp_path, seed=1, progress=lambda d, t: calls.append(d))
    assert calls == []  # finished work dir: no retraining
    after = reloaded.score(items, image_root)
    assert [p.predicted for p in after] == [p.predicted for p in before]
    for a, b in zip(after, before, strict=True):
        assert a.scores == pytest.approx(b.scores, abs=1e-6)
    # and the adapter actually changed the model
    base = HFBackend(**opts).score(items, image_root)
    assert any(abs(a - b) > 1e-4 for p, q in zip(base, before, strict=True)
               for a, b in zip(p.scores, q.scores, strict=True))

    with pytest.raises(MedmatError, match="other options, seed or items"):
        HFBackend(**{**opts, "lr": 1e-3}).fit(items, image_root, tmp_path, seed=1)
    with pytest.raises(MedmatError, match="other options, seed or items"):
        HFBackend(**opts).fit(items, image_root, tmp_path, seed=2)


@pytest.mark.parametrize(
    ("save_every", "grad_accum", "stop_at", "resume_step"),
    [
        (3, 1, 7, 6),  # mid-epoch checkpoint (4 steps per epoch; saves at 3, 4, 6)
        (100, 1, 6, 4),  # epoch-boundary checkpoint
        (1, 2, 3, 3),  # gradient accumulation (2 steps per epoch), saved just before the stop
    ],
)
def test_resume_matches_uninterrupted(qwen_path, image_root, items, tmp_path, save_every,
                                      grad_accum, stop_at, resume_step):
    opts = {"model": str(qwen_path), "lr": 1e-2, "epochs": 2, "batch_size": 2,
            "grad_accum": grad_accum, "save_every": save_every, "lora_dropout": 0.2}
    HFBackend(**opts).fit(items, image_root, tmp_path / "a", seed=3)
    reference = load_file(str(tmp_path / "a" / "adapter" / "adapter_model.safetensors"))

    def stop(done, total):
        if done == stop_at:
            raise Interrupt

    with pytest.raises(Interrupt):
        HFBackend(**opts).fit(items, image_root, tmp_path / "b", seed=3, progress=stop)
    state = json.loads((tmp_path / "b" / "checkpoint" / "state.json").read_text())
    assert state["step"] == resume_step
    assert not (tmp_path / "b" / "hf_done.json").exists()

    steps = []
    resumed = HFBackend(**opts)
    resumed.fit(items, image_root, tmp_path / "b", seed=3, progress=lambda d, t: steps.append(d))
    assert steps[0] == resume_step + 1 and steps[-1] == 8 // grad_accum
    assert resumed.last_train.resumed_from == resume_step
    result = load_file(str(tmp_path / "b" / "adapter" / "adapter_model.safetensors"))
    assert result.keys() == reference.keys()
    for key in reference:
        assert torch.equal(result[key], reference[key]), key


def test_resume_refuses_other_config(qwen_path, image_root, items, tmp_path):
    opts = {"model": str(qwen_path), "epochs": 1, "batch_size": 2, "save_every": 1}

    def stop(done, total):
        if done == 2:
            raise Interrupt

    with pytest.raises(Interrupt):
        HFBackend(**opts).fit(items, image_root, tmp_path, seed=0, progress=stop)
    with pytest.raises(MedmatError, match="partial checkpoint from different options"):
        HFBackend(**{**opts, "lora_rank": 4}).fit(items, image_root, tmp_path, seed=0)


def test_same_seed_same_weights_other_seed_differs(qwen_path, image_root, items, tmp_path):
    opts = {"model": str(qwen_path), "epochs": 1, "batch_size": 4, "lr": 1e-2}
    for name, seed in (("a", 5), ("b", 5), ("c", 6)):
        HFBackend(**opts).fit(items, image_root, tmp_path / name, seed=seed)
    read = [(tmp_path / n / "adapter" / "adapter_model.safetensors").read_bytes()
            for n in "abc"]
    assert read[0] == read[1]
    assert read[0] != read[2]


def test_full_finetuning_keeps_vision_frozen(qwen_path, image_root, items_all_b, tmp_path):
    # CPU even on a GPU machine: reload must reproduce scores to 1e-6, which bf16 does not
    opts = {"model": str(qwen_path), "lora": False, **FAST, "epochs": 4, "device": "cpu"}
    backend = HFBackend(**opts)
    backend.fit(items_all_b, image_root, tmp_path, seed=0)
    saved = load_file(str(tmp_path / "model" / "model.safetensors"))
    base = load_file(str(qwen_path / "model.safetensors"))
    # checkpoints keep the hub layout: "visual.*" and "model.layers.*"
    visual = [k for k in base if k.startswith("visual.")]
    language = [k for k in base if k.startswith("model.layers.")]
    assert visual and language
    assert all(torch.equal(saved[k], base[k]) for k in visual)
    assert any(not torch.equal(saved[k], base[k]) for k in language)
    assert (tmp_path / "model" / "tokenizer.json").is_file()
    preds = backend.score(items_all_b, image_root)
    reloaded = HFBackend(**opts)
    reloaded.fit(items_all_b, image_root, tmp_path, seed=0)
    again = reloaded.score(items_all_b, image_root)
    flat = [s for p in preds for s in p.scores]
    assert [s for p in again for s in p.scores] == pytest.approx(flat, abs=1e-6)


def test_llava_trains_and_answers(llava_path, image_root, items_all_b, tmp_path):
    backend = HFBackend(model=str(llava_path), **FAST)
    backend.fit(items_all_b, image_root, tmp_path, seed=0)
    assert [p.predicted for p in backend.score(items_all_b, image_root)] == ["B"] * 8
    backend.opts.mode = "generate"
    assert [p.predicted for p in backend.score(items_all_b, image_root)] == ["B"] * 8
    adapter = load_file(str(tmp_path / "adapter" / "adapter_model.safetensors"))
    assert not any("vision_tower" in k for k in adapter)


def test_qwen2_5_vl_from_hub_layout(qwen25_hub_like, image_root, items_all_b, tmp_path):
    from medmat.train.hf.loading import ImageOnlyQwenVLProcessor

    backend = HFBackend(model=str(qwen25_hub_like), **FAST)
    assert isinstance(backend.processor, ImageOnlyQwenVLProcessor)  # no torchvision needed
    backend.fit(items_all_b, image_root, tmp_path, seed=0)
    assert [p.predicted for p in backend.score(items_all_b, image_root)] == ["B"] * 8
    backend.opts.mode = "generate"
    assert [p.predicted for p in backend.score(items_all_b, image_root)] == ["B"] * 8


def test_empty_training_set_is_an_error(qwen_path, image_root, tmp_path):
    with pytest.raises(MedmatError, match="no training items"):
        HFBackend(model=str(qwen_path)).fit([], image_root, tmp_path, seed=0)


def test_gpu_settings_run_on_cpu(qwen_path, image_root, items_all_b, tmp_path):
    """The GPU defaults (bf16 autocast, gradient checkpointing) exercised on CPU."""
    opts = {"model": str(qwen_path), **FAST, "epochs": 4, "lora_dropout": 0.1}
    plain = HFBackend(**opts)
    plain.fit(items_all_b, image_root, tmp_path / "plain", seed=0)
    ckpt = HFBackend(**opts, gradient_checkpointing=True)
    ckpt.fit(items_all_b, image_root, tmp_path / "ckpt", seed=0)
    a = load_file(str(tmp_path / "plain" / "adapter" / "adapter_model.safetensors"))
    b = load_file(str(tmp_path / "ckpt" / "adapter" / "adapter_model.safetensors"))
    # recomputation replays dropout with the saved RNG state: identical weights
    assert all(torch.equal(a[k], b[k]) for k in a)

    bf16 = HFBackend(**opts, bf16=True, gradient_checkpointing=True)
    bf16.fit(items_all_b, image_root, tmp_path / "bf16", seed=0)
    assert next(bf16.model.parameters()).dtype == torch.bfloat16
    assert [p.predicted for p in bf16.score(items_all_b, image_root)] == ["B"] * 8
    bf16.opts.mode = "generate"
    assert [p.predicted for p in bf16.score(items_all_b, image_root)] == ["B"] * 8
