"""Integrity of the packaged catalog: normalised rows, recorded fixes, derived membership."""

from __future__ import annotations

import csv
import io
from importlib import resources

import pytest

from medmat.catalog import (
    DatasetEntry,
    SubsetEntry,
    filter_entries,
    lattice_counts,
    load_catalog,
)
from medmat.catalog.integrity import problems
from medmat.errors import MedmatError
from medmat.taxonomy import load_taxonomy

TAX = load_taxonomy()


def test_shape_and_types(catalog):
    assert [s.no for s in catalog.subsets] == [f"{i:02d}" for i in range(1, 54)]
    assert all(isinstance(s, SubsetEntry) for s in catalog.subsets)
    assert all(isinstance(d, DatasetEntry) for d in catalog.datasets)
    nos = [d.no for d in catalog.datasets if d.no is not None]
    assert len(nos) == len(set(nos)) and len(nos) >= 106
    released = [s for s in catalog.subsets if s.released]
    assert [s.no for s in released] == [f"{i:02d}" for i in range(1, 38)]  # 37 classification
    assert all(isinstance(s.dataset_nos, list) for s in catalog.subsets)


def test_every_row_is_normalised(catalog):
    for e in [*catalog.datasets, *catalog.subsets]:
        assert e.modality in TAX.names("modality"), e
        assert e.area in TAX.names("area"), e
        assert e.task in TAX.names("task"), e


def _recorded(catalog, table, row, field):
    return [f for f in catalog.fixes_for(table, row) if f.field == field and f.kind == "fix"]


def test_integrity_checker_finds_nothing_in_the_package(catalog):
    assert problems(catalog) == []


def _tampered(tmp_path, edit):
    pkg = resources.files("medmat.catalog")
    tables = {}
    for name in ("datasets.csv", "subsets.csv", "fixes.csv"):
        with io.StringIO(pkg.joinpath(name).read_text(encoding="utf-8")) as fh:
            tables[name] = list(csv.DictReader(fh))
    edit(tables)
    for name, rows in tables.items():
        with open(tmp_path / name, "w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(rows[0]), lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)
    return load_catalog(tmp_path)


def test_integrity_checker_catches_unrecorded_changes(tmp_path):
    def edit(t):
        # Drop the record of the subset 43 area fix, silently retag a dataset, break membership.
        t["fixes.csv"] = [
            f for f in t["fixes.csv"] if not (f["row"] == "43" and f["field"] == "area")
        ]
        for i, f in enumerate(t["fixes.csv"], start=1):
            f["id"] = str(i)
        d5 = next(d for d in t["datasets.csv"] if d["no"] == "5")
        d5["modality"] = "MRI"
        s24 = next(s for s in t["subsets.csv"] if s["no"] == "24")
        s24["dataset_nos"] = ""
        s24["flags"] = ""

    found = "\n".join(problems(_tampered(tmp_path, edit)))
    assert "subsets row 43: area 'Chest' -> 'Breast' unrecorded" in found
    assert "datasets row 5: modality 'CT' -> 'MRI' unrecorded" in found
    assert "subset 24 has no dataset and is not flagged" in found
    assert "dataset 48 points at subset 24, which does not list it" in found


def test_every_change_to_an_upstream_value_is_recorded(catalog):
    """Spot checks of the rule the integrity checker enforces for every row."""
    assert _recorded(catalog, "subsets", "43", "area")
    assert _recorded(catalog, "datasets", "54", "task")
    assert _recorded(catalog, "datasets", "2", "name")
    assert _recorded(catalog, "datasets", "50", "source_url")


def test_synonym_normalisations_are_listed(catalog):
    syn = [f for f in catalog.fixes if f.kind == "synonym"]
    assert {(f.row, f.old, f.new) for f in syn} >= {
        ("16", "Teeth", "Mouth"),
        ("17", "Teeth", "Mouth"),
    }
    for f in syn:
        assert TAX.normalize(f.field, f.old) == f.new


def test_fix_records_are_complete(catalog):
    ids = [f.id for f in catalog.fixes]
    assert ids == list(range(1, len(ids) + 1))
    for f in catalog.fixes:
        assert f.table in {"datasets", "subsets"} and f.kind in {"fix", "flag", "synonym"}
        assert f.field and f.reason.strip(), f


def test_known_upstream_inconsistencies_are_handled(catalog):
    # Row 46: named like row 41 (lymphoma, microscopy) but tagged OCT / Retina.
    d46 = catalog.dataset(46)
    assert d46.name_raw == catalog.dataset(41).name
    assert d46.name != d46.name_raw and "name-contradicts-modality" in d46.flags
    assert (d46.modality, d46.area, d46.subset) == ("OCT", "Retina", "23")
    # Row 50 points at a brain-tumour URL.
    assert "brian-tumor" in catalog.dataset(50).source_url_raw
    assert "brian-tumor" not in catalog.dataset(50).source_url
    # Upstream spellings.
    assert catalog.dataset(49).modality_raw == "X-Ray" and catalog.dataset(49).modality == "X-ray"
    assert (
        catalog.dataset(97).modality_raw == "Ultrasound"
        and catalog.dataset(48).modality_raw == "US"
    )
    assert catalog.dataset(97).modality == catalog.dataset(48).modality == "Ultrasound"
    assert catalog.dataset(16).area == "Mouth" == catalog.subset("09").area
    # Typos: names corrected, task_raw verbatim.
    assert catalog.dataset(2).name == "CT Kidney Dataset"
    assert catalog.dataset(19).task_raw.startswith("Canser")
    # Subset 43 "US, Chest" holds BUSI (breast).
    s43 = catalog.subset(43)
    assert s43.area == "Breast" and s43.area_raw == "Chest" and 97 in s43.dataset_nos
    assert _recorded(catalog, "subsets", "43", "area")


@pytest.mark.parametrize(
    "group", [(34, 96), (48, 97), (79, 99), (86, 100), (87, 101), (73, 102), (26, 27),
              (13, 89, 90), (37, 70), (72, 91), (104, 105)]
)  # fmt: skip
def test_duplicated_sources_are_linked(catalog, group):
    for no in group:
        d = catalog.dataset(no)
        assert set(group) - {no} <= set(d.same_source), (no, d.same_source)
        assert "same-source" in d.flags


def test_membership_is_consistent(catalog):
    by_no = {d.no: d for d in catalog.datasets}
    for s in catalog.subsets:
        assert s.dataset_nos, f"subset {s.no} has no dataset"
        for no in s.dataset_nos:
            d = by_no[no]
            assert d.subset == s.no
            assert (d.modality, d.area, d.released) == (s.modality, s.area, s.released)
    for d in catalog.datasets:
        if d.subset is not None:
            assert d.no in catalog.subset(d.subset).dataset_nos
            assert d.subset in d.candidates
        assert d.ambiguous == (len(d.candidates) > 1)
        if d.ambiguous:
            assert all(catalog.subset(c).ambiguous for c in d.candidates)
            assert [f for f in catalog.fixes_for("datasets", d.no) if f.field == "subset"]


def test_lookup_helpers(catalog):
    assert catalog.subset("3") is catalog.subset(3) is catalog.subset("03")
    assert catalog.dataset(45).subset == "22"
    with pytest.raises(MedmatError, match="no dataset number 999"):
        catalog.dataset(999)
    with pytest.raises(MedmatError, match="no subset '54'"):
        catalog.subset("54")
    with pytest.raises(MedmatError, match="whole number"):
        catalog.subset("three")


def test_filters_go_through_the_taxonomy(catalog):
    a = filter_entries(catalog, "subsets", modality="X-Ray", area="lungs")
    b = filter_entries(catalog, "subsets", modality="xray", area="Lung")
    assert [s.no for s in a] == [s.no for s in b] == ["28", "30", "47", "48"]
    covid = filter_entries(catalog, "datasets", task="covid")
    assert covid and all(d.task == "COVID-19" for d in covid)
    with pytest.raises(MedmatError, match="--kind must be one of"):
        filter_entries(catalog, "tables")


def test_lattice_counts_match_entries(catalog):
    mods, areas, counts = lattice_counts(catalog.subsets)
    assert sum(map(sum, counts)) == len(catalog.subsets)
    xray, lung = mods.index("X-ray"), areas.index("Lung")
    expected = sum(1 for s in catalog.subsets if (s.modality, s.area) == ("X-ray", "Lung"))
    assert counts[xray][lung] == expected
    assert all(any(row) for row in counts) and all(any(col) for col in zip(*counts, strict=True))
