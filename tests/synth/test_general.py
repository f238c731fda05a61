"""The general-domain part of the lab: photos of scenes carrying every finding under its label.

It stands for what a model knows before medical training, so it must (1) teach every label word
with the generic look of its finding, (2) stay out of the medical lattice, and (3) be the same
world in the default and the null lab.
"""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from medmat.errors import MedmatError
from medmat.records import read_records
from medmat.synth import (
    TASKS,
    Cell,
    LabConfig,
    full_lattice,
    general_cells,
    generate_lab,
    parse_cell,
    render_item,
)
from medmat.synth.findings import DEFAULT_APPEARANCE
from medmat.synth.lab import appearances

SCENE_LESION = parse_cell("photo-scene-lesion")


def test_general_cells_cover_every_label_and_stay_out_of_the_medical_lattice():
    cells = general_cells()
    assert [c.subset for c in cells] == [
        "photo-scene-lesion", "photo-scene-severity", "photo-scene-abnormal",
        "photo-scene-location", "photo-scene-detseg",
    ]
    assert all(c.general for c in cells)
    labels = {lab for c in cells for lab in c.labels}
    assert labels == {lab for _, labs in TASKS.values() for lab in labs}
    medical = full_lattice()
    assert len(medical) == 150 and not any(c.general for c in medical)
    assert general_cells(("Location",)) == [parse_cell("Photo/Scene/Location")]


@pytest.mark.parametrize(("modality", "area"), [("Photo", "Lung"), ("CT", "Scene")])
def test_photo_goes_only_with_scene(modality, area):
    with pytest.raises(MedmatError, match="only with"):
        Cell(modality, area, "Lesion type")


def test_names_and_codes_parse_through_the_taxonomy():
    assert parse_cell("photograph/scenes/lesion type") == SCENE_LESION
    assert Cell.from_subset("photo-scene-lesion") == SCENE_LESION
    with pytest.raises(MedmatError, match="general domain"):
        Cell("Painting", "Scene", "Lesion type")


def test_every_general_finding_means_its_label_in_both_labs(helpers):
    """The label checks of the medical lab (shape, count, side, tissue) hold for the scenes,
    in the null lab too: general knowledge keeps the generic looks there."""
    problems, seen = [], set()
    for null in (False, True):
        cfg = LabConfig(size=64, null=null)
        for cell in general_cells():
            for index in range(3 * len(cell.labels)):
                _, label = render_item(cell, "train", index, cfg)
                drawn = helpers.rederive(cell, "train", index, cfg, label)
                problem = helpers.semantic_problem(label, drawn)
                if problem:
                    problems.append(f"null={null} {cell.subset}#{index} {label}: {problem}")
                seen.add(label)
    assert not problems, problems[:10]
    assert seen == {lab for _, labs in TASKS.values() for lab in labs}


def test_general_findings_are_visible_objects(helpers):
    """A finding contrasts with the scene behind it (same noise both ways), and its colour
    varies between items, so the shape is what identifies a label."""
    cfg = LabConfig(size=32)
    strength, colours = [], set()
    for cell in general_cells():
        for index in range(16):
            _, label = render_item(cell, "train", index, cfg)
            drawn = helpers.rederive(cell, "train", index, cfg, label)
            if label == "Normal":
                assert not drawn.changed.any()
                continue
            diff = np.abs(drawn.image.astype(float) - drawn.image_without.astype(float))
            strength.append(diff.mean(axis=-1)[drawn.changed].mean())
            rgb = drawn.image[drawn.changed].mean(axis=0)
            colours.add(tuple((rgb // 64).astype(int)))  # coarse colour bins
    assert min(strength) >= 20, sorted(strength)[:5]
    assert len(colours) >= 4, colours


def test_general_part_is_the_same_world_in_default_and_null_lab():
    for cell in general_cells():
        for index in range(4):
            a, la = render_item(cell, "test", index, LabConfig(seed=3, size=32))
            b, lb = render_item(cell, "test", index, LabConfig(seed=3, size=32, null=True))
            assert la == lb and np.array_equal(a, b), cell.subset
        assert appearances(cell, LabConfig(null=True)) == DEFAULT_APPEARANCE[cell.task]
    # ... while the medical cells do change (the null lab's point), and the lab seed still counts
    medical = parse_cell("ct-brain-lesion")
    assert appearances(medical, LabConfig(null=True)) != DEFAULT_APPEARANCE["Lesion type"]
    a, _ = render_item(SCENE_LESION, "test", 0, LabConfig(seed=3, size=32))
    assert not np.array_equal(a, render_item(SCENE_LESION, "test", 0, LabConfig(size=32))[0])


def test_general_cells_on_disk(tmp_path):
    cells = [parse_cell("xray-lung-lesion"), *general_cells(("Lesion type", "Location"))]
    roots = {}
    for null in (False, True):
        roots[null] = tmp_path / f"null{int(null)}"
        generate_lab(roots[null], cells, n_train=4, n_test=2, cfg=LabConfig(size=32, null=null),
                     workers=1)
    recs = {null: {r.record_id: r for r in read_records(root)} for null, root in roots.items()}
    for rid, rec in recs[False].items():
        other = recs[True][rid]
        if rec.subset.startswith("photo-"):
            assert rec.source == other.source == "synthetic-lab-general"
            assert (rec.modality, rec.area) == ("Photo", "Scene")
            assert rec == other  # same pixels, same hashes, same label
            assert (roots[False] / rec.image).read_bytes() == (roots[True] / rec.image).read_bytes()
            with Image.open(roots[False] / rec.image) as img:
                assert img.mode == "RGB"
        else:
            assert (rec.source, other.source) == ("synthetic-lab", "synthetic-lab-null")
            assert rec.pixel_sha1 != other.pixel_sha1
    # the contact sheet has a Photo row and a Scene block next to the medical ones
    generate_lab(tmp_path / "medical", cells[:1], n_train=4, n_test=0, cfg=LabConfig(size=32),
                 workers=1)
    with Image.open(roots[False] / "contact_sheet.png") as both, \
            Image.open(tmp_path / "medical" / "contact_sheet.png") as alone:
        assert both.size[0] == alone.size[0] + 4 * 32 + 4 and both.size[1] > alone.size[1]
