"""Clear errors for bad arguments and bad records; nothing partial is written."""

from __future__ import annotations

import pyarrow as pa
import pytest

from medmat.errors import MedmatError
from medmat.qa import build, format_question_choice, iter_items
from medmat.records import ImageRecord, records_to_table


def _rec(rid="r1", labels=("a",), multi=False, split="train", subset="s") -> ImageRecord:
    return ImageRecord(record_id=rid, image="x.png", labels=tuple(labels), modality="CT",
                       area="Lung", task="COVID-19", subset=subset, split=split,
                       multi_label=multi)


def _base():
    return [_rec("ok1", ["a"]), _rec("ok2", ["b"])]


def test_missing_records_file(tmp_path):
    with pytest.raises(MedmatError, match="records table not found"):
        build(tmp_path / "nowhere", tmp_path / "qa")


def test_unreadable_records_file(tmp_path):
    bad = tmp_path / "records.parquet"
    bad.write_text("not parquet")
    with pytest.raises(MedmatError, match="not a readable Parquet"):
        build(bad, tmp_path / "qa")


@pytest.mark.parametrize("seed", [-1, "1", 1.5, True, 2**64])
def test_bad_seed(records_dir, tmp_path, seed, table):
    with pytest.raises(MedmatError, match="seed"):
        build(records_dir, tmp_path / "qa", seed=seed)
    with pytest.raises(MedmatError, match="seed"):
        iter_items(table, seed=seed)


@pytest.mark.parametrize("bs", [0, -5, "10"])
def test_bad_batch_size(records_dir, tmp_path, bs):
    with pytest.raises(MedmatError, match="batch_size"):
        build(records_dir, tmp_path / "qa", batch_size=bs)


def test_out_is_a_file(records_dir, tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(MedmatError, match="not a directory"):
        build(records_dir, tmp_path / "file")


def test_iter_items_wants_a_table():
    with pytest.raises(MedmatError, match="pyarrow.Table"):
        iter_items([_rec()])


def test_missing_columns(tmp_path, write):
    table = records_to_table(_base()).drop_columns(["labels"])
    with pytest.raises(MedmatError, match=r"lacks column\(s\) \['labels'\]"):
        build(write(tmp_path / "r", table), tmp_path / "qa")


def test_empty_table(tmp_path, write):
    with pytest.raises(MedmatError, match="empty"):
        build(write(tmp_path / "r", records_to_table([])), tmp_path / "qa")


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (_rec("x", ["a", "b"], multi=False), r"row 2 \(record 'x'\) has 2 labels but multi_label"),
        (_rec("x", []), r"row 2 \(record 'x'\) has no label"),
        (_rec("x", ["  "]), "empty or multi-line label"),
        (_rec("x", ["two\nlines"]), "empty or multi-line label"),
        (_rec("x", split="holdout"), "split 'holdout'"),
        (_rec("ok1", ["b"]), "duplicate record_id 'ok1'"),
        (_rec("x", ["a", "a"], multi=True), "lists the same label twice"),
    ],
)
def test_bad_records_are_named(tmp_path, write, bad, message):
    root = write(tmp_path / "r", [*_base(), bad])
    with pytest.raises(MedmatError, match=message):
        build(root, tmp_path / "qa")
    # atomic: neither the files nor their temporaries survive a failed build
    assert not list((tmp_path / "qa").glob("*items*"))


def test_null_subset_is_named(tmp_path, write):
    table = records_to_table(_base())
    table = table.set_column(table.schema.get_field_index("subset"), "subset",
                             pa.array(["s", None]))
    with pytest.raises(MedmatError, match=r"row 1 \(record 'ok2'\) has no subset"):
        build(write(tmp_path / "r", table), tmp_path / "qa")


def test_unknown_modality_names_the_subset(tmp_path, write):
    recs = [ImageRecord(record_id=f"r{i}", image="x.png", labels=(lab,), modality="Telepathy",
                        area="Lung", task="COVID-19", subset="07", split="train")
            for i, lab in enumerate("ab")]
    with pytest.raises(MedmatError, match="subset '07'.*Telepathy"):
        build(write(tmp_path / "r", recs), tmp_path / "qa")


@pytest.mark.parametrize("options", [[], "AB", ["a"] * 27, ["ok", ""], ["two\nlines"], [3]])
def test_format_question_choice_rejects_bad_options(options):
    with pytest.raises(MedmatError):
        format_question_choice("Q?", options)


def test_format_question_choice_layout():
    text = format_question_choice("Which?", ["x", "y", "z"])
    assert text.splitlines() == ["Which?", "A: x", "B: y", "C: z",
                                 "Answer with the option's letter from the given choices "
                                 "directly."]
