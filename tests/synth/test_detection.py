"""The lab's detection task: every modality and area (and the photo scene) draws one lesion per
image and its records carry the lesion's exact pixel-edge box; adding the task moved no other
cell's pixels."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from medmat.records import read_records
from medmat.regions import Region
from medmat.synth import (
    AREAS,
    MODALITIES,
    LabConfig,
    full_lattice,
    general_cells,
    generate_lab,
    parse_cell,
    render_item,
)
from medmat.synth.findings import DEFAULT_APPEARANCE
from medmat.synth.lab import appearances, render_item_regions

DETECTION = [c for c in full_lattice() + general_cells() if c.detection]


def _edges(fg: np.ndarray) -> tuple[float, float, float, float]:
    """Outer extent in pixel edges, from the row / column projections."""
    cols, rows = np.flatnonzero(fg.any(axis=0)), np.flatnonzero(fg.any(axis=1))
    return (float(cols[0]), float(rows[0]), float(cols[-1]) + 1, float(rows[-1]) + 1)


def test_every_modality_and_area_has_a_detection_cell():
    assert {(c.modality, c.area) for c in DETECTION} == {
        *((m, a) for m in MODALITIES for a in AREAS), ("Photo", "Scene")}
    assert {c.subset for c in DETECTION} >= {"xray-brain-detseg", "photo-scene-detseg"}
    assert all(c.labels == ("Nodule", "Cyst", "Calcification", "Linear lesion")
               for c in DETECTION)
    # the taxonomy's name for Med-MAT's detection subsets, in either spelling of a cell
    assert parse_cell("X-ray/Brain/Detection/segmentation") == parse_cell("xray-brain-detseg")
    assert parse_cell("x-ray/brain/detection").task == "Detection/segmentation"


@pytest.mark.parametrize("null", [False, True])
def test_boxes_are_the_extent_of_what_the_finding_changed(helpers, null):
    """Against the test-side re-derivation: the class map with and without the finding, and the
    image rendered with and without it under the same noise."""
    checked = 0
    for size in (32, 64):
        cfg = LabConfig(size=size, null=null)
        for cell in DETECTION[:: 3 if size == 64 else 1]:
            for index in range(4):
                arr, label, regions = render_item_regions(cell, "test", index, cfg)
                drawn = helpers.rederive(cell, "test", index, cfg, label)
                changed = drawn.changed
                assert regions == (Region(_edges(changed), label, int(changed.sum())),)
                assert np.array_equal(arr, drawn.image)
                # what the modality shows of the finding stays near the box (blur spreads it;
                # ultrasound also shadows / enhances the columns below it)
                diff = np.abs(drawn.image.astype(int) - drawn.image_without.astype(int))
                strong = (diff.max(axis=-1) if diff.ndim == 3 else diff) > 60
                x1, y1, x2, y2 = regions[0].box
                ys, xs = np.nonzero(strong)
                below = size if cell.modality == "Ultrasound" else y2 + 3
                assert ((xs >= x1 - 3) & (xs < x2 + 3) & (ys >= y1 - 3) & (ys < below)).all()
                checked += 1
    assert checked == 4 * (len(DETECTION) + len(DETECTION[::3]))


def test_null_lab_detection_draws_its_own_stamps():
    cell = parse_cell("ct-kidney-detseg")
    null = appearances(cell, LabConfig(null=True))
    assert {a.kind for a in null.values()} == {"stamp"}
    assert appearances(cell, LabConfig()) == DEFAULT_APPEARANCE["Lesion type"]
    # another pair draws other stamps: nothing shared to recombine, as for classification
    other = appearances(parse_cell("ct-brain-detseg"), LabConfig(null=True))
    assert {a.count for a in null.values()}.isdisjoint(a.count for a in other.values())


def test_detection_records_on_disk(tmp_path):
    cells = [parse_cell("mri-lung-detseg"), parse_cell("mri-lung-lesion")]
    generate_lab(tmp_path, cells, n_train=4, n_test=2, cfg=LabConfig(size=32, null=True),
                 workers=1, contact_sheet=False)
    records = read_records(tmp_path)
    for rec in records:
        cell = parse_cell(rec.subset)
        expected = render_item_regions(cell, rec.split, int(rec.record_id[-6:]),
                                       LabConfig(size=32, null=True))[2]
        assert rec.regions == expected and (expected is not None) == cell.detection
        if expected:
            assert rec.labels == (expected[0].label,)  # classification still reads the label
            assert rec.source == "synthetic-lab-null"


def test_other_cells_are_byte_identical_to_before_the_task():
    """Digest of classification cells' pixels and labels, taken before detection was added:
    per-item seeds hash the subset, so a new task cannot move another cell's stream."""
    digest = hashlib.sha1()
    for null in (False, True):
        for subset in ("xray-lung-lesion", "ct-kidney-severity", "mri-brain-location",
                       "fp-breast-abnormal", "us-bones-lesion", "mic-lung-severity",
                       "photo-scene-lesion"):
            for index in range(4):
                arr, label = render_item(parse_cell(subset), "train", index,
                                         LabConfig(size=32, null=null))
                digest.update(arr.tobytes())
                digest.update(label.encode())
    assert digest.hexdigest() == "0b9239f89b25c9b500f8694a0b8809dc2665f221"


def test_cli_draws_detection_cells_by_name_or_code(tmp_path):
    from medmat.cli import main

    main(["synth", "--out", str(tmp_path / "lab"), "--cells",
          "X-ray/Lung/Detection/segmentation", "--tasks", "detseg,lesion", "--areas", "lung",
          "--modalities", "xray", "--n-train", "2", "--n-test", "0", "--size", "16",
          "--workers", "1"])
    records = read_records(tmp_path / "lab")
    assert {r.subset for r in records} == {"xray-lung-detseg"}
    assert all(r.regions and r.regions[0].label == r.labels[0] for r in records)
