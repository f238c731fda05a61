"""The catalog build: generic repairs on a made-up upstream, and freshness of the package CSVs."""

from __future__ import annotations

import csv
from importlib import resources

import pytest

from medmat.catalog import load_catalog
from medmat.catalog.build import build, main
from medmat.catalog.membership import similarity, stems
from medmat.errors import MedmatError, UnknownTermError


def _built(tmp_path, upstream, curation):
    out = tmp_path / "out"
    build(upstream, out, curation=curation)
    return load_catalog(out)


def test_mini_build_normalises_and_records(tmp_path, mini_upstream, empty_curation):
    cat = _built(tmp_path, mini_upstream, empty_curation)
    # Missing number inferred from the QA file name, and recorded.
    knee = next(d for d in cat.datasets if d.name == "Knee X-Ray")
    assert knee.no == 3 and knee.no_raw == ""
    assert [f.new for f in cat.fixes_for("datasets", 3) if f.field == "no"] == ["3"]
    # Spellings.
    assert knee.modality == "X-ray" and cat.dataset(5).area == "Mouth"
    assert any(f.kind == "synonym" and f.old == "Teeth" for f in cat.fixes_for("datasets", 5))
    # Typo in the task text: family from the corrected text, task_raw verbatim.
    assert cat.dataset(2).task == "Cancer" and cat.dataset(2).task_raw == "Canser Classification"
    assert cat.dataset(2).name == "Lung CT Cancer" and cat.dataset(2).name_raw == "Lung CT Canser"
    # Membership: unique, by family, and by text similarity when ambiguous.
    assert cat.dataset(1).subset == "01" and not cat.dataset(1).ambiguous
    assert cat.dataset(2).subset == "02"
    assert knee.subset == "03" and knee.ambiguous and knee.candidates == ("03", "04")
    assert cat.dataset(6).subset == "06" and not cat.dataset(6).released
    # Bone age shares no word with either grading subset: a tie, recorded as such.
    assert cat.dataset(4).candidates == ("03", "04") and cat.dataset(4).subset == "03"
    assert "tie" in next(f.reason for f in cat.fixes_for("datasets", 4) if f.field == "subset")
    assert cat.subset("03").ambiguous and cat.subset("03").dataset_nos == [3, 4]
    assert "no-dataset" in cat.subset("04").flags
    # Same URL => same source images, both directions.
    assert cat.dataset(2).same_source == (6,) and cat.dataset(6).same_source == (2,)


def test_unassigned_subset_and_unmatched_dataset_are_flagged(
    tmp_path, empty_curation, mini_rows, write_up
):
    datasets, subsets = mini_rows
    subsets.append(["07", "CT", "Brain", "Brain Cancer Classification", "", "yes"])
    datasets.append(["7", "Liver MR", "https://x.org/z", "MRI", "Liver", "Cancer", "", "yes"])
    up = write_up(tmp_path / "up", datasets, subsets)
    cat = _built(tmp_path, up, empty_curation)
    assert "no-dataset" in cat.subset("07").flags
    assert cat.dataset(7).subset is None and "no-subset" in cat.dataset(7).flags
    assert "missing-qa-file" in cat.dataset(7).flags


def test_number_that_cannot_be_inferred_is_kept_and_flagged(
    tmp_path, empty_curation, mini_rows, write_up
):
    rows = mini_rows[0]
    rows[2][6] = "ori--01-train.json"  # number 1 is taken: no inference from the QA file
    rows[3][0] = "7"  # and the neighbours (2, 7) no longer bracket a single number
    up = write_up(tmp_path / "up", rows)
    cat = _built(tmp_path, up, empty_curation)
    unnumbered = [d for d in cat.datasets if d.no is None]
    assert {d.name for d in unnumbered} == {"Knee X-Ray"}
    assert [f for f in cat.fixes if f.field == "no" and f.kind == "flag"]


def test_neighbour_inference(tmp_path, empty_curation, mini_rows, write_up):
    rows = mini_rows[0]
    rows[2][6] = ""  # no QA file: only neighbours 2 and 4 are left
    rows[2][7] = "no"
    up = write_up(tmp_path / "up", rows)
    cat = _built(tmp_path, up, empty_curation)
    assert cat.dataset(3).name == "Knee X-Ray"
    assert "neighbours" in next(f.reason for f in cat.fixes_for("datasets", 3) if f.field == "no")


def test_curation_overrides_are_recorded(tmp_path, mini_upstream):
    cur = tmp_path / "cur.yaml"
    cur.write_text(
        """
dataset_fixes:
  - {row: 1, field: area, new: chest, reason: test area fix}
dataset_flags:
  - {row: 2, flag: odd, reason: test flag}
subset_fixes:
  - {row: "05", field: modality, new: Colposcopy, reason: test subset fix}
membership:
  - {row: 4, subset: "04", reason: bone age is the other grading subset}
same_source:
  - {rows: [1, 5], reason: test group}
""",
        encoding="utf-8",
    )
    cat = _built(tmp_path, mini_upstream, cur)
    assert cat.dataset(1).area == "Chest"
    fix = next(f for f in cat.fixes_for("datasets", 1) if f.field == "area")
    assert (fix.old, fix.new, fix.kind, fix.reason) == ("Lung", "Chest", "fix", "test area fix")
    assert "odd" in cat.dataset(2).flags
    assert cat.subset("05").modality == "Colposcopy" and cat.subset("05").dataset_nos == []
    assert cat.dataset(4).subset == "04"
    assert any(f.reason.startswith("bone age") for f in cat.fixes_for("datasets", 4))
    assert cat.dataset(1).same_source == (5,)


@pytest.mark.parametrize(
    ("curation", "pattern"),
    [
        ("dataset_fixes:\n  - {row: 99, field: area, new: Lung, reason: x}\n", "row '99'"),
        ("dataset_fixes:\n  - {row: 1, field: colour, new: x, reason: x}\n", "no field 'colour'"),
        ("dataset_fixes:\n  - {row: 1, field: area, new: Elbow, reason: x}\n", "area 'Elbow'"),
        ("membership:\n  - {row: 1, subset: '77', reason: x}\n", "subset '77' does not exist"),
        ("typos: [unclosed\n", "invalid YAML"),
    ],
)  # fmt: skip
def test_bad_curation_is_a_clear_error(tmp_path, mini_upstream, curation, pattern):
    cur = tmp_path / "cur.yaml"
    cur.write_text(curation, encoding="utf-8")
    out = tmp_path / "out"
    with pytest.raises(MedmatError, match=pattern):
        build(mini_upstream, out, curation=cur)
    assert not out.exists()  # nothing partial


def test_unknown_upstream_term_names_file_row_and_column(
    tmp_path, empty_curation, mini_rows, write_up
):
    rows = mini_rows[0]
    rows[0][3] = "PETT"
    up = write_up(tmp_path / "up", rows)
    where = r"\(in upstream datasets\.csv row 1, column modality\)"
    with pytest.raises(UnknownTermError, match=r"unknown modality 'PETT' " + where):
        build(up, tmp_path / "out", curation=empty_curation)
    assert not (tmp_path / "out").exists()


def test_bad_upstream_tables(tmp_path, empty_curation, mini_rows, write_up):
    with pytest.raises(MedmatError, match="not found"):
        build(tmp_path / "nowhere", None, curation=empty_curation)
    up = write_up(tmp_path / "dup", [mini_rows[0][0], mini_rows[0][0]])
    with pytest.raises(MedmatError, match=r"repeats number\(s\) \['1'\]"):
        build(up, None, curation=empty_curation)
    bad = tmp_path / "cols"
    write_up(bad)
    (bad / "subsets.csv").write_text("no,modality\n01,CT\n", encoding="utf-8")
    with pytest.raises(MedmatError, match=r"missing column\(s\) \['area'"):
        build(bad, None, curation=empty_curation)


def test_build_is_deterministic(tmp_path, mini_upstream, empty_curation):
    a, b = tmp_path / "a", tmp_path / "b"
    build(mini_upstream, a, curation=empty_curation)
    build(mini_upstream, b, curation=empty_curation)
    for name in ("datasets.csv", "subsets.csv", "fixes.csv"):
        assert (a / name).read_bytes() == (b / name).read_bytes()


def test_main_cli(tmp_path, mini_upstream, capsys):
    assert main([str(tmp_path / "missing"), "--out", str(tmp_path / "o")]) == 2
    assert "error:" in capsys.readouterr().err


def test_similarity_helpers():
    assert stems("Multiple Diseases Segmentation of the 2 lungs") == {"mult", "dise", "lung"}
    assert similarity("Optic Disc Segmentation", "Optic Disc Seg") == 1.0
    assert similarity("Optic Disc Segmentation", "Optic Disc and Cup Seg") < 1.0
    assert similarity("", "x") == 0.0


def test_package_csvs_are_up_to_date(tmp_path, shared_catalog):
    """The committed CSVs equal a fresh build from the upstream facts (rebuild if this fails:
    python -m medmat.catalog.build /work/shared/medmat/catalog)."""
    build(shared_catalog, tmp_path)
    pkg = resources.files("medmat.catalog")
    for name in ("datasets.csv", "subsets.csv", "fixes.csv"):
        assert (tmp_path / name).read_text(encoding="utf-8") == (pkg / name).read_text(
            encoding="utf-8"
        ), name
    with open(shared_catalog / "datasets.csv", encoding="utf-8") as fh:
        assert len(list(csv.DictReader(fh))) == len(load_catalog().datasets)
