"""Multi-label policy, label-space edge cases, and the leakage guard."""

from __future__ import annotations

import json

import pytest

from medmat.errors import MedmatError
from medmat.qa import build, iter_items
from medmat.qa.core import SKIP_ALL_TRUE
from medmat.records import ImageRecord, records_to_table


def rec(rid, labels, subset="m", split="train", multi=True, sha=None, **kw) -> ImageRecord:
    return ImageRecord(record_id=rid, image=f"{rid}.png", labels=tuple(labels), modality="X-ray",
                       area="Chest", task=kw.get("task", "Multi-label"), subset=subset,
                       split=split, source="7", multi_label=multi, pixel_sha1=sha)


def test_multilabel_options_hold_exactly_one_true_label():
    space = ["a", "b", "c", "d", "e", "f"]
    recs = [rec(f"r{i}", space[i % 6: i % 6 + 1 + i % 3]) for i in range(60)]
    for item in iter_items(records_to_table(recs), seed=4):
        labels = next(r.labels for r in recs if r.record_id == item.record_id)
        assert [o for o in item.options if o in labels] == [item.answer]
        assert item.caption == ", ".join(labels)
        assert len(item.options) == min(4, 1 + 6 - len(labels))


def test_multilabel_correct_label_varies_over_true_labels():
    recs = [rec(f"r{i}", ["a", "b", "c"]) for i in range(60)] + [rec("x", ["d", "e"])]
    answers = {i.answer for i in iter_items(records_to_table(recs), seed=0)
               if i.record_id != "x"}
    assert answers == {"a", "b", "c"}


def test_few_false_labels_give_fewer_options_and_none_skips(tmp_path, write):
    recs = [rec("all", ["a", "b", "c"]), rec("two", ["a", "b"]), rec("one", ["a"])]
    summary = build(write(tmp_path / "recs", recs), tmp_path / "qa")
    items = {json.loads(line)["record_id"]: json.loads(line)
             for line in (tmp_path / "qa" / "items.jsonl").read_text().splitlines()}
    assert len(items["two"]["options"]) == 2 and items["two"]["options"].count("c") == 1
    assert len(items["one"]["options"]) == 3
    assert "all" not in items
    assert summary["skipped"]["count"] == 1
    assert summary["skipped"]["items"] == [
        {"id": 0, "record_id": "all", "subset": "m", "reason": SKIP_ALL_TRUE}]
    assert summary["n_items"] == 2 and "false" in summary["multi_label_policy"]


def test_single_label_subset_is_an_error_naming_it(tmp_path, write):
    recs = [rec("r1", ["a"], subset="ok"), rec("r2", ["b"], subset="ok"),
            rec("r3", ["only"], subset="lonely", multi=False),
            rec("r4", ["only"], subset="lonely", multi=False)]
    with pytest.raises(MedmatError, match=r"subset 'lonely' has a single label \('only'\)"):
        build(write(tmp_path / "recs", recs), tmp_path / "qa")
    assert not (tmp_path / "qa" / "items.jsonl").exists()
    with pytest.raises(MedmatError, match="lonely"):
        list(iter_items(records_to_table(recs)))


def _leaky(tmp_path, write):
    recs = [rec(f"t{i}", ["a" if i % 2 else "b"], multi=False, sha=f"{i:040x}")
            for i in range(10)]
    recs.append(rec("leak", ["a"], split="test", multi=False, sha=f"{3:040x}"))
    recs.append(rec("fine", ["b"], split="val", multi=False, sha=f"{99:040x}"))
    return write(tmp_path / "recs", recs)


def test_leaky_evaluation_image_is_refused(tmp_path, write):
    root = _leaky(tmp_path, write)
    with pytest.raises(MedmatError, match="pixel-identical.*--drop-leaky"):
        build(root, tmp_path / "qa")
    assert not (tmp_path / "qa").exists() or not any((tmp_path / "qa").iterdir())


def test_drop_leaky_removes_and_counts(tmp_path, write):
    summary = build(_leaky(tmp_path, write), tmp_path / "qa", drop_leaky=True)
    ids = [json.loads(line)["record_id"]
           for line in (tmp_path / "qa" / "items.jsonl").read_text().splitlines()]
    assert "leak" not in ids and "fine" in ids and len(ids) == 11
    assert summary["leakage"] == {"drop_leaky": True, "dropped": 1,
                                  "dropped_record_ids": ["leak"]}
    assert summary["n_records"] == 12 and summary["n_items"] == 11
    # ids stay the records-table rows even after dropping
    assert json.loads((tmp_path / "qa" / "items.jsonl").read_text().splitlines()[-1])["id"] == 11


def test_unknown_pixels_and_eval_only_duplicates_are_not_leaks(tmp_path, write):
    recs = [rec("a1", ["a"], multi=False), rec("b1", ["b"], multi=False),  # no pixel hash
            rec("a2", ["a"], split="test", multi=False),
            rec("t1", ["a"], split="test", multi=False, sha="f" * 40),
            rec("t2", ["b"], split="val", multi=False, sha="f" * 40)]  # test == val: allowed
    summary = build(write(tmp_path / "recs", recs), tmp_path / "qa")
    assert summary["n_items"] == 5 and summary["leakage"]["dropped"] == 0
