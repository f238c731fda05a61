"""find_duplicates: exact and near groups across splits and sources, on real PNGs."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest

from medmat.errors import MedmatError
from medmat.leakage import find_duplicates
from medmat.records import read_records_table


def _groups(report, kind):
    return [{m.record_id for m in g.members} for g in report.of_kind(kind)]


def test_planted_copies_are_grouped(planted):
    report = find_duplicates([planted["a"], planted["b"]], threshold=6)
    assert _groups(report, "exact") == [{"a-train-00", "t-exact"}]
    near = _groups(report, "near")
    assert {"a-train-01", "t-jpeg"} in near
    assert {"a-train-03", "t-small"} in near
    assert {"a-train-02", "b-big"} in near
    assert len(near) == 3, f"false positives among distinct images: {near}"
    s = report.summary()
    assert s["records"] == 20 and s["exact_groups"] == 1 and s["near_groups"] == 3
    assert s["train_vs_eval_groups"] == {"exact": 1, "near": 3}
    assert s["leaky_eval_records"] == 4
    assert report.leaky_eval_records() == sorted(
        [(str(planted["a"]), "t-exact"), (str(planted["a"]), "t-jpeg"),
         (str(planted["a"]), "t-small"), (str(planted["b"]), "b-big")])
    cross = next(g for g in report.of_kind("near") if "b-big" in {m.record_id for m in g.members})
    assert cross.crosses_sources and cross.crosses_tables and cross.crosses_splits
    assert cross.sources == ["isbi2016", "isic2016"]
    exact = report.of_kind("exact")[0]
    assert exact.max_distance == 0 and not exact.crosses_sources
    # table b had no stored hashes: they were computed from its images
    assert [t["hashed_now"] for t in report.tables] == [0, 5]


def test_report_json_is_deterministic_and_complete(planted, tmp_path):
    r1 = find_duplicates([planted["a"], planted["b"]])
    r2 = find_duplicates([planted["a"], planted["b"]])
    p1, p2 = r1.write(tmp_path / "r1.json"), r2.write(tmp_path / "r2.json")
    assert p1.read_bytes() == p2.read_bytes()
    data = json.loads(p1.read_text())
    assert data["threshold"] == 8 and data["near"] is True
    assert data["verified"] is True and data["crops"] is True and data["min_similarity"] == 0.5
    near = [g for g in data["groups"] if g["kind"] == "near"]
    assert all(0.5 <= g["similarity"] <= 1 for g in near)
    assert [g["id"] for g in data["groups"]] == ["exact-00001", "near-00001", "near-00002",
                                                 "near-00003"]
    member = data["groups"][0]["members"][0]
    assert set(member) == {"table", "source", "record_id", "image", "split", "subset",
                           "pixel_sha1", "phash"}
    assert len(member["phash"]) == 16 and member["image"].endswith(".png")
    assert all(g["train_vs_eval"] for g in data["groups"])
    assert data["summary"]["groups_crossing_tables"] == 1


def test_no_near_and_threshold(planted):
    report = find_duplicates([planted["a"]], near=False)
    assert report.of_kind("near") == [] and len(report.of_kind("exact")) == 1
    assert report.to_dict()["threshold"] is None
    strict = find_duplicates([planted["a"]], threshold=0)
    # at threshold 0 only hash-identical copies remain (resizes of smooth images often are)
    for g in strict.of_kind("near"):
        assert g.max_distance == 0


def test_stored_and_recomputed_hashes_agree(planted):
    stored = find_duplicates([planted["a"]])
    recomputed = find_duplicates([planted["a"]], rehash=True)
    assert recomputed.tables[0]["hashed_now"] == 15
    assert _groups(stored, "exact") == _groups(recomputed, "exact")
    assert _groups(stored, "near") == _groups(recomputed, "near")


def test_in_memory_table_and_parquet_path(planted):
    table = read_records_table(planted["a"])
    with pytest.raises(MedmatError, match="in-memory table has no image folder"):
        find_duplicates([table, planted["a"] / "records.parquet"])  # pixels cannot be checked
    report = find_duplicates([table, planted["a"] / "records.parquet"], verify=False,
                             crops=False)
    # the same records twice through different inputs: every record pairs with itself, and
    # the planted exact copy joins its original (15 records, 14 distinct pixel contents)
    sizes = sorted(len(g.members) for g in report.of_kind("exact"))
    assert sizes == [2] * 13 + [4]
    assert report.tables[0]["label"] == "table0"


def test_errors(planted, tmp_path):
    with pytest.raises(MedmatError, match="given twice"):
        find_duplicates([planted["a"], planted["a"] / "records.parquet"])
    with pytest.raises(MedmatError, match="between 0 and 32"):
        find_duplicates([planted["a"]], threshold=40)
    with pytest.raises(MedmatError, match="no records tables"):
        find_duplicates([])
    with pytest.raises(MedmatError, match="records table not found"):
        find_duplicates([tmp_path / "nowhere"])
    table = read_records_table(planted["b"])
    with pytest.raises(MedmatError, match="no image root"):
        find_duplicates([table])
    with pytest.raises(MedmatError, match=r"lacks column\(s\) \['split'\]"):
        find_duplicates([read_records_table(planted["a"]).drop_columns(["split"])])
    # a missing image is reported with its table and record id
    (planted["b"] / "images/22/test/b-13.png").unlink()
    with pytest.raises(MedmatError, match=r"record 'b-13' \(row 1\).*image file not found"):
        find_duplicates([planted["b"]])
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "records.parquet").write_bytes(b"not parquet")
    with pytest.raises(MedmatError, match="not a readable Parquet"):
        find_duplicates([bad])


def test_distinct_images_make_no_groups(tmp_path, helpers):
    entries = [(f"r{i}", "train" if i % 2 else "test", helpers.distinct_image(100 + i), "01")
               for i in range(40)]
    root = helpers.write_table(tmp_path / "d", entries)
    report = find_duplicates([root])
    assert report.groups == []
    assert pq.read_table(root / "records.parquet").num_rows == 40
