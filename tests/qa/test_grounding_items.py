"""Grounding items: records with regions -> one box question each, in the canonical box form."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image

from medmat.errors import MedmatError
from medmat.qa import build, iter_items
from medmat.qa.build import items_manifest
from medmat.qa.grounding import GROUNDING_CLOSING, GROUNDING_SCHEMA
from medmat.qa.rng import DRAW_TRUE_LABEL, draw, item_key
from medmat.qa.templates import load_templates
from medmat.records import ImageRecord, read_items, records_to_table, write_records
from medmat.regions import Region

from .conftest import make_records

SIZES = [(200, 100), (64, 64), (120, 300), (333, 222)]


def _region_records(root: Path, n: int, seed: int = 0, prefix: str = "g") -> list[ImageRecord]:
    """Region records with PNGs of several sizes; one or two labelled boxes each."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        w, h = SIZES[i % len(SIZES)]
        rel = f"det/{prefix}{i}.png"
        (root / "det").mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (w, h), (i % 255, 0, 0)).save(root / rel)
        regions = []
        for _ in range(rng.randint(1, 2)):
            x1, y1 = rng.randrange(0, w // 2), rng.randrange(0, h // 2)
            regions.append(Region((x1, y1, rng.randint(x1 + 5, w), rng.randint(y1 + 5, h)),
                                  "Lesion", None))
        out.append(ImageRecord(
            record_id=f"{prefix}{i:04d}", image=rel, labels=("Lesion",), modality="MRI",
            area="Brain", task="Detection/segmentation",
            subset="40", split=rng.choice(["train", "train", "val", "test"]), source="40",
            pixel_sha1=f"{prefix}{i:038x}"[-40:], regions=tuple(regions)))
    return out


def _extent(regions, name=None) -> tuple[float, ...]:
    boxes = [r.box for r in regions if name is None or r.label == name]
    return (min(b[0] for b in boxes), min(b[1] for b in boxes),
            max(b[2] for b in boxes), max(b[3] for b in boxes))


def _norm(box, w, h) -> list[float]:
    # independent of medmat.qa.boxes: divide and round to three decimals
    return [round(box[0] / w, 3), round(box[1] / h, 3), round(box[2] / w, 3), round(box[3] / h, 3)]


@pytest.fixture
def mixed(tmp_path):
    root = tmp_path / "lab"
    cls = make_records(300, seed=1)
    ground = _region_records(root, 40)
    records = cls[:150] + ground + cls[150:]  # region rows in the middle of the table
    write_records(root / "records.parquet", records)
    return root, records, cls


def test_region_records_become_grounding_items(mixed, tmp_path):
    root, records, _ = mixed
    summary = build(root, tmp_path / "qa", seed=4, batch_size=64)
    items = read_items(tmp_path / "qa")
    by_record = {it.record_id: it for it in items}
    assert len(items) == len(records) == len(by_record)
    assert [it.id for it in items] == list(range(len(records)))  # id = row, in order
    ground = [r for r in records if r.regions]
    for rec in ground:
        it = by_record[rec.record_id]
        w, h = Image.open(root / rec.image).size
        want = _norm(_extent(rec.regions), w, h)
        assert it.is_grounding and list(it.answer_box) == want
        assert it.answer == "[" + ", ".join(f"{v:.3f}" for v in want) + "]"
        assert it.options == () and it.answer_choice == ""
        assert it.split == rec.split and it.task == rec.task and it.subset == "40"
        assert "lesion" in it.question and "brain MRI" in it.question
        assert it.question_choice == it.question + "\n" + GROUNDING_CLOSING
        assert it.question in load_templates().render_grounding("MRI", "Brain", "Lesion")
    assert sum(it.is_grounding for it in items) == len(ground)
    g = summary["grounding"]
    assert g["n_items"] == len(ground) and len(g["templates"]) == 6
    # region records stay out of the multiple-choice label spaces
    assert "40" not in summary["label_spaces"] and "40" not in summary["n_options"]


def test_classification_items_do_not_change_when_region_records_join(mixed, tmp_path):
    root, records, cls = mixed
    alone = tmp_path / "alone"
    write_records(alone / "records.parquet", cls)
    build(alone, tmp_path / "qa_cls", seed=4)
    build(root, tmp_path / "qa_mix", seed=4)
    plain = read_items(tmp_path / "qa_cls")
    mixed_items = [it for it in read_items(tmp_path / "qa_mix") if not it.is_grounding]
    # same questions, options and letters (ids differ: the region rows sit in between)
    strip = [(i.record_id, i.question_choice, i.answer_choice, i.split) for i in plain]
    assert strip == [(i.record_id, i.question_choice, i.answer_choice, i.split)
                     for i in mixed_items]
    assert pq.read_table(tmp_path / "qa_cls" / "items.parquet").schema.names == \
        GROUNDING_SCHEMA.names[:-1]


def test_jsonl_equals_parquet_and_batches_do_not_matter(mixed, tmp_path):
    root, _, _ = mixed
    build(root, tmp_path / "a", seed=9, batch_size=1)
    build(root, tmp_path / "b", seed=9, batch_size=10_000)
    for name in ("items.jsonl", "summary.json"):  # parquet row groups follow the batches
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    table = pq.read_table(tmp_path / "a" / "items.parquet")
    assert table.equals(pq.read_table(tmp_path / "b" / "items.parquet"))
    assert table.schema == GROUNDING_SCHEMA
    lines = (tmp_path / "a" / "items.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(x) for x in lines] == table.to_pylist()
    assert lines[0].endswith('"answer_box": null}')  # a classification row of a grounding build


def test_iter_items_matches_build_and_needs_the_image_root(mixed, tmp_path):
    root, records, _ = mixed
    build(root, tmp_path / "qa", seed=2)
    table = records_to_table(records)
    assert list(iter_items(table, seed=2, image_root=root)) == read_items(tmp_path / "qa")
    with pytest.raises(MedmatError, match="image_root"):
        list(iter_items(table, seed=2))


def test_several_names_pick_one_by_the_item_stream_and_unlabelled_take_the_caption(tmp_path):
    root = tmp_path / "lab"
    (root / "det").mkdir(parents=True)
    records = []
    for i in range(30):
        Image.new("L", (100, 100)).save(root / "det" / f"{i}.png")
        regions = (Region((10, 10, 20, 20), "Tumor"), Region((50, 50, 90, 70), "Cyst"),
                   Region((30, 5, 40, 30), "Tumor"), Region((0, 80, 10, 100), None))
        records.append(ImageRecord(
            record_id=f"m{i}", image=f"det/{i}.png", labels=("Kidney lesion",), modality="CT",
            area="Kidney", task="Detection/segmentation", subset="45", split="test",
            regions=regions))
    write_records(root / "records.parquet", records)
    build(root, tmp_path / "qa", seed=5)
    names = sorted({"Tumor", "Cyst", "Kidney lesion"})
    seen = set()
    for it, rec in zip(read_items(tmp_path / "qa"), records, strict=True):
        name = names[draw(item_key(5, rec.record_id), DRAW_TRUE_LABEL) % len(names)]
        seen.add(name)
        want = {"Tumor": [0.1, 0.05, 0.4, 0.3], "Cyst": [0.5, 0.5, 0.9, 0.7],
                "Kidney lesion": [0.0, 0.8, 0.1, 1.0]}[name]
        assert list(it.answer_box) == want
        assert f"the {name[0].lower() + name[1:]}" in it.question
    assert seen == set(names)


def test_same_image_in_a_classification_and_a_grounding_record_shares_the_split(tmp_path):
    root = tmp_path / "lab"
    (root / "img").mkdir(parents=True)
    Image.new("RGB", (50, 40)).save(root / "img" / "a.png")
    base = make_records(20, seed=3, subsets=["03"])
    sha = base[0].pixel_sha1
    cls = ImageRecord(**{**base[0].__dict__, "image": "img/a.png", "split": "test"})
    det = ImageRecord(record_id="det0", image="img/a.png", labels=("Nodule",), modality="CT",
                      area="Lung", task="Detection/segmentation", subset="41", split="test",
                      pixel_sha1=sha, regions=(Region((5, 4, 25, 20), "Nodule"),))
    write_records(root / "records.parquet", [cls, *base[1:], det])
    build(root, tmp_path / "qa", seed=0)
    items = {it.record_id: it for it in read_items(tmp_path / "qa")}
    pair = (items[cls.record_id], items["det0"])
    assert not pair[0].is_grounding and pair[1].is_grounding
    assert pair[0].split == pair[1].split == "test"
    assert list(pair[1].answer_box) == [0.1, 0.1, 0.5, 0.5]
    # the same pixels on both sides of the split are refused, whichever item kind they feed
    det_train = ImageRecord(**{**det.__dict__, "split": "train"})
    write_records(root / "records.parquet", [cls, *base[1:], det_train])
    with pytest.raises(MedmatError, match="pixel"):
        build(root, tmp_path / "qa2", seed=0)


def test_bad_and_tiny_boxes(tmp_path):
    root = tmp_path / "lab"
    (root / "det").mkdir(parents=True)
    Image.new("RGB", (4000, 100)).save(root / "det" / "wide.png")
    cls = make_records(10, seed=2, subsets=["03"])

    def rec(box, rid="d0"):
        return ImageRecord(record_id=rid, image="det/wide.png", labels=("Lesion",),
                           modality="CT", area="Lung", task="Detection/segmentation",
                           subset="41", split="train", regions=(Region(box, "Lesion"),))

    write_records(root / "records.parquet", [*cls, rec((10, 10, 4001, 50))])
    with pytest.raises(MedmatError, match=r"record 'd0'.*outside the 4000 x 100 image"):
        build(root, tmp_path / "qa", seed=0)
    # one pixel column of a 4000-pixel-wide image rounds to zero width: skipped, counted
    write_records(root / "records.parquet", [*cls, rec((100, 10, 101, 50)),
                                             rec((100, 10, 300, 50), "d1")])
    summary = build(root, tmp_path / "qa", seed=0)
    assert summary["skipped"]["count"] == 1 and summary["skipped"]["items"][0]["record_id"] == "d0"
    assert summary["grounding"]["n_items"] == 1
    assert [it.record_id for it in read_items(tmp_path / "qa") if it.is_grounding] == ["d1"]


def test_grounding_templates_are_data_and_fingerprinted(tmp_path):
    user = tmp_path / "t.yaml"
    six = [f"Box {k}: the {{label}} in this {{area}} {{modality}}." for k in range(6)]
    user.write_text(json.dumps({"grounding": six}), encoding="utf-8")
    tset = load_templates(user)
    assert tset.render_grounding("MRI", "Brain", "Glioma")[2] == "Box 2: the glioma in this " \
                                                                   "brain MRI scan."
    records = tmp_path / "r"
    write_records(records / "records.parquet", make_records(20, subsets=["03"]))
    fp = [items_manifest(records, 0, t, False).fingerprint for t in (load_templates(), tset)]
    assert fp[0] != fp[1]
    bad = tmp_path / "bad.yaml"
    bad.write_text(json.dumps({"grounding": [s.replace("{label}", "{finding}") for s in six]}))
    with pytest.raises(MedmatError, match=r"grounding\[0\]: unknown placeholder \{finding\}"):
        load_templates(bad)
    bad.write_text(json.dumps({"generic": six}))  # {label} means nothing to a choice question
    with pytest.raises(MedmatError, match=r"unknown placeholder \{label\}"):
        load_templates(bad)


def test_label_phrases():
    from medmat.qa.templates import label_phrase

    assert [label_phrase(x) for x in ("Lesion", "No tumor", "COVID-19", "MRI", "X", "polyp")] \
        == ["lesion", "no tumor", "COVID-19", "MRI", "x", "polyp"]


def test_region_rows_without_boxes_stay_classification(tmp_path):
    # an empty regions list is not a grounding record (nothing to locate)
    recs = make_records(30, seed=4, subsets=["03"])
    table = records_to_table(recs)
    empty = pa.array([[] for _ in recs], type=pa.list_(records_to_table(
        _region_records(tmp_path, 1)).schema.field("regions").type.value_type))
    items = list(iter_items(table.append_column("regions", empty), seed=1))
    assert items == list(iter_items(table, seed=1))
