from __future__ import annotations

import pytest
from transformers import AutoProcessor

from medmat.errors import MedmatError
from medmat.train.hf import HFBackend
from medmat.train.hf.encoding import IGNORE
from medmat.train.hf.loading import ImageOnlyQwenVLProcessor

from .conftest import make_item


def _encoder(path, **opts):
    return HFBackend(model=str(path), **opts).encoder


def test_qwen_labels_mask_prompt_image_and_padding(qwen_path, image_root, items):
    enc = _encoder(qwen_path)
    tok = enc.tok
    item = items[1]  # answer B
    feat = enc.encode(item, enc.load_image(item, image_root), item.answer_choice)
    ids, labels = feat.input_ids, feat.labels
    assert len(ids) == len(labels)

    supervised = [i for i, lab in enumerate(labels) if lab != IGNORE]
    # the answer tokens are exactly the letter and <|im_end|>, at the very end
    assert tok.decode([ids[i] for i in supervised]) == "B<|im_end|>"
    assert supervised == list(range(len(ids) - len(supervised), len(ids)))
    assert [labels[i] for i in supervised] == [ids[i] for i in supervised]
    # everything before is masked and ends with the assistant header
    n_prompt = supervised[0]
    prompt = tok.decode(ids[:n_prompt])
    assert prompt.startswith("<|im_start|>user\n<|vision_start|>")
    assert prompt.endswith("<|im_end|>\n<|im_start|>assistant\n")
    assert item.question_choice in prompt
    # a 56x56 image is 4x4 patches merged 2x2 -> 4 image tokens, all masked
    pad_id = tok.convert_tokens_to_ids("<|image_pad|>")
    image_pos = [i for i, t in enumerate(ids) if t == pad_id]
    assert len(image_pos) == 4
    assert all(labels[i] == IGNORE for i in image_pos)
    # transformers 5 wants mm_token_type_ids: 1 exactly on the image tokens
    mm = feat.token_extras["mm_token_type_ids"]
    assert [i for i, v in enumerate(mm) if v == 1] == image_pos


def test_batch_padding_is_masked(qwen_path, image_root):
    enc = _encoder(qwen_path)
    small = make_item(0, "A", "img/0.png")
    big = make_item(1, "C", "big.png")  # 16 image tokens: a longer sequence
    feats = [enc.encode(it, enc.load_image(it, image_root), it.answer_choice)
             for it in (small, big)]
    for pad_left in (False, True):
        batch = enc.collate(feats, pad_left=pad_left)
        n_small = len(feats[0].input_ids)
        width = batch["input_ids"].shape[1]
        assert width == len(feats[1].input_ids) > n_small
        pads = range(width - n_small) if pad_left else range(n_small, width)
        assert all(batch["labels"][0, p] == IGNORE for p in pads)
        assert all(batch["attention_mask"][0, p] == 0 for p in pads)
        assert all(batch["input_ids"][0, p] == enc.pad_id for p in pads)
        assert int(batch["attention_mask"][0].sum()) == n_small
        # supervised tokens survive padding unchanged
        assert (batch["labels"] != IGNORE).sum(dim=1).tolist() == [2, 2]
    assert batch["pixel_values"].shape[0] == 16 + 64  # patches of both images, concatenated
    assert batch["image_grid_thw"].tolist() == [[1, 4, 4], [1, 8, 8]]


def test_llava_labels(llava_path, image_root, items):
    enc = _encoder(llava_path)
    item = items[2]  # answer C
    feat = enc.encode(item, enc.load_image(item, image_root), item.answer_choice)
    supervised = [i for i, lab in enumerate(feat.labels) if lab != IGNORE]
    assert enc.tok.decode([feat.input_ids[i] for i in supervised]).strip() == "C</s>"
    assert supervised[-1] == len(feat.input_ids) - 1
    prompt = enc.tok.decode(feat.input_ids[:supervised[0]])
    assert prompt.startswith("USER: <image>") and prompt.endswith("ASSISTANT:")
    image_id = enc.tok.convert_tokens_to_ids("<image>")
    assert feat.input_ids.count(image_id) == 4  # 2x2 patches, CLS dropped
    assert all(lab == IGNORE for t, lab in zip(feat.input_ids, feat.labels, strict=True)
               if t == image_id)


def test_overlong_item_is_an_error_naming_it(qwen_path, image_root):
    big = make_item(42, "A", "big.png")
    enc = _encoder(qwen_path, max_length=55)
    with pytest.raises(MedmatError, match=r"item 42 .*big\.png.*max_length=55.*max_pixels"):
        enc.encode(big, enc.load_image(big, image_root), "A")
    # the preflight finds it from the image size alone, before any training
    ok = make_item(1, "B", "img/1.png")
    with pytest.raises(MedmatError, match=r"item 42 .*16 image tokens"):
        enc.preflight([ok, big], image_root, with_answer=True)
    # the fix the message suggests works: a smaller pixel budget fits
    enc_small = _encoder(qwen_path, max_length=55, max_pixels=56 * 56)
    enc_small.preflight([ok, big], image_root, with_answer=True)
    feat = enc_small.encode(big, enc_small.load_image(big, image_root), "A")
    assert len(feat.input_ids) <= 55


def test_preflight_matches_exact_length(qwen_path, image_root):
    big = make_item(5, "D", "big.png")
    enc = _encoder(qwen_path)
    exact = len(enc.encode(big, enc.load_image(big, image_root), "D").input_ids)
    enc.max_length = exact
    enc.preflight([big], image_root, with_answer=True)  # fits exactly
    enc.max_length = exact - 1
    with pytest.raises(MedmatError, match="item 5"):
        enc.preflight([big], image_root, with_answer=True)


def test_image_outside_root_is_refused(qwen_path, image_root):
    enc = _encoder(qwen_path)
    with pytest.raises(MedmatError, match="item 7"):
        enc.load_image(make_item(7, "A", "../escape.png"), image_root)


def test_processor_without_torchvision(qwen_hub_like):
    # What a hub Qwen2-VL checkpoint does here: AutoProcessor wants the torchvision video
    # processor and fails; the backend loads tokenizer + PIL image processor separately.
    with pytest.raises((OSError, ImportError, ValueError)):
        AutoProcessor.from_pretrained(qwen_hub_like)
    backend = HFBackend(model=str(qwen_hub_like), min_pixels=112 * 112, max_pixels=112 * 112)
    proc = backend.processor
    assert isinstance(proc, ImageOnlyQwenVLProcessor)
    assert proc.image_processor.size["shortest_edge"] == 112 * 112
    assert proc.chat_template


def test_unknown_and_invalid_options(qwen_path):
    with pytest.raises(MedmatError, match="unknown hf option.*lora_rnak"):
        HFBackend(model=str(qwen_path), lora_rnak=4)
    with pytest.raises(MedmatError, match="mode"):
        HFBackend(model=str(qwen_path), mode="beam")
    with pytest.raises(MedmatError, match="model is required"):
        HFBackend()
    with pytest.raises(MedmatError, match="folder not found"):
        _ = HFBackend(model="./no/such/checkpoint").processor


def test_older_chat_template_json_is_found(qwen_hub_like, tmp_path):
    # older hub repos keep the template in chat_template.json ({"chat_template": "..."})
    import json
    import shutil

    dest = tmp_path / "old"
    shutil.copytree(qwen_hub_like, dest)
    jinja = dest / "chat_template.jinja"
    (dest / "chat_template.json").write_text(json.dumps({"chat_template": jinja.read_text()}))
    jinja.unlink()
    proc = HFBackend(model=str(dest)).processor
    assert proc.chat_template and "<|im_start|>" in proc.chat_template
