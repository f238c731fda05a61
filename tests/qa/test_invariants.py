"""QA invariants of the built items, checked on the files `build` writes."""

from __future__ import annotations

import itertools
import json
from collections import Counter, defaultdict

import pyarrow.parquet as pq
import pytest

from medmat.qa import CLOSING, build, format_question_choice
from medmat.records import ITEMS_SCHEMA, MEDMAT_KEYS


@pytest.fixture
def built(records_dir, tmp_path):
    summary = build(records_dir, tmp_path / "qa", seed=3)
    lines = (tmp_path / "qa" / "items.jsonl").read_text(encoding="utf-8").splitlines()
    return summary, [json.loads(line) for line in lines], tmp_path / "qa"


def test_items_have_the_published_keys_first(built):
    _, items, _ = built
    assert items
    for item in items:
        assert list(item)[: len(MEDMAT_KEYS)] == list(MEDMAT_KEYS)
        assert list(item) == ITEMS_SCHEMA.names
        assert isinstance(item["id"], int) and isinstance(item["data-no"], str)


def test_answer_is_among_options_and_letter_points_at_it(built, records):
    _, items, _ = built
    by_id = {r.record_id: r for r in records}
    for item in items:
        opts = item["options"]
        assert 2 <= len(opts) <= 4 and len(set(opts)) == len(opts)
        assert item["Answer-choice"] in "ABCD"[: len(opts)]
        assert opts["ABCD".index(item["Answer-choice"])] == item["Answer"]
        assert item["Answer"] in by_id[item["record_id"]].labels
        assert item["Question-choice"] == format_question_choice(item["Question"], opts)
        assert item["Question-choice"].endswith("\n" + CLOSING)
        rec = by_id[item["record_id"]]
        assert item["image"] == rec.image and item["data-no"] == rec.source
        assert (item["subset"], item["split"], item["modality"]) == (rec.subset, rec.split,
                                                                     rec.modality)


def test_distractors_come_from_the_subset_and_are_never_true(built, records):
    summary, items, _ = built
    by_id = {r.record_id: r for r in records}
    for item in items:
        rec = by_id[item["record_id"]]
        space = set(summary["label_spaces"][rec.subset])
        assert set(item["options"]) <= space
        true_options = [o for o in item["options"] if o in rec.labels]
        assert true_options == [item["Answer"]]  # exactly one option is true
        assert item["caption"] == ", ".join(rec.labels)


def test_option_count_follows_label_space(built):
    summary, items, _ = built
    for item in items:
        space = summary["label_spaces"][item["subset"]]
        if item["subset"] != "31":  # single-label: all other labels are candidates
            assert len(item["options"]) == min(4, len(space))
    assert {len(i["options"]) for i in items if i["subset"] == "26"} == {2}
    assert {len(i["options"]) for i in items if i["subset"] == "03"} == {3}


def test_label_space_is_sorted_union_over_all_splits(built, records):
    summary, _, _ = built
    for subset, labels in summary["label_spaces"].items():
        expected = sorted({lab for r in records if r.subset == subset for lab in r.labels})
        assert labels == expected


def test_letters_balanced_within_each_group(built, records):
    summary, items, _ = built
    groups: dict[tuple, Counter] = defaultdict(Counter)
    for item in items:
        groups[(item["subset"], item["split"], len(item["options"]), item["Answer"])][
            item["Answer-choice"]] += 1
    for (_, _, n, _), counts in groups.items():
        full = [counts.get(letter, 0) for letter in "ABCD"[:n]]
        assert max(full) - min(full) <= 1, counts
    overall = Counter(i["Answer-choice"] for i in items)
    assert summary["letters"]["overall"] == {k: overall.get(k, 0) for k in "ABCD"}
    for n, chi in summary["letters"]["chi_square"].items():
        assert chi["n_items"] == sum(1 for i in items if len(i["options"]) == int(n))
        assert chi["p_value"] > 0.5  # balanced by construction, far from any bias


def test_parquet_and_jsonl_hold_the_same_items(built):
    _, items, out = built
    table = pq.read_table(out / "items.parquet")
    assert table.schema == ITEMS_SCHEMA
    assert table.to_pylist() == items


def test_summary_counts_and_metadata(built, records_dir):
    summary, items, _ = built
    assert summary["n_items"] == len(items) and summary["n_records"] == 600
    counts = Counter((i["subset"], i["split"]) for i in items)
    assert {(s, sp): n for s, d in summary["counts"].items() for sp, n in d.items()} == counts
    assert summary["image_root"] == str(records_dir.resolve())
    assert summary["seed"] == 3 and summary["medmat_version"]
    assert summary["leakage"] == {"drop_leaky": False, "dropped": 0, "dropped_record_ids": []}
    assert summary["templates"]["by_subset"]["22"] == ["task:Lesion type"]
    assert len(summary["templates"]["texts"]["task:Lesion type"]) == 6


def test_ids_are_record_rows(built, records):
    _, items, _ = built
    rows = {r.record_id: i for i, r in enumerate(records)}
    assert all(item["id"] == rows[item["record_id"]] for item in items)
    assert [i["id"] for i in items] == sorted(i["id"] for i in items)


def test_templates_vary_and_name_modality_and_area(built):
    _, items, _ = built
    for subset in ("22", "03", "14"):
        questions = {i["Question"] for i in items if i["subset"] == subset}
        assert len(questions) == 6
    brain = {i["Question"] for i in items if i["subset"] == "22"}
    assert all("brain MRI scan" in q for q in brain)
    fundus = {i["Question"] for i in items if i["subset"] == "14"}
    assert all("fundus photograph" in q and "fundus fundus" not in q for q in fundus)
    assert all(q[0].isupper() for q in itertools.chain(brain, fundus))
