"""Determinism: item i of a cell is the same whatever else is generated, however it is run."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from medmat.errors import MedmatError
from medmat.imaging import pixel_sha1
from medmat.records import read_records
from medmat.synth import LabConfig, full_lattice, generate_lab, parse_cell, render_item

CELL = parse_cell("ct-kidney-severity")
OTHERS = [parse_cell(c) for c in ("xray-lung-lesion", "us-breast-location", "fp-brain-abnormal")]


def _files(root, cell, split, n):
    return [(root / f"images/{cell.subset}/{split}/{i:06d}.png").read_bytes() for i in range(n)]


def test_render_item_is_a_pure_function():
    for cfg in (LabConfig(size=32), LabConfig(size=32, null=True), LabConfig(seed=7, size=48)):
        for cell in full_lattice()[::7]:
            a, la = render_item(cell, "train", 3, cfg)
            b, lb = render_item(cell, "train", 3, cfg)
            assert la == lb and a.dtype == np.uint8 and np.array_equal(a, b)
            assert a.shape[:2] == (cfg.size, cfg.size)
            assert a.ndim == (3 if cell.modality in ("Fundus photography", "Microscopy") else 2)


def test_every_seed_component_matters():
    base, _ = render_item(CELL, "train", 5, LabConfig(size=32))
    for cell, split, index, cfg in [
        (CELL, "train", 5, LabConfig(size=32, seed=1)),
        (CELL, "train", 5, LabConfig(size=32, null=True)),
        (CELL, "test", 5, LabConfig(size=32)),
        (CELL, "train", 8, LabConfig(size=32)),  # same label (index mod 3), another image
        (parse_cell("ct-kidney-lesion"), "train", 5, LabConfig(size=32)),
    ]:
        assert not np.array_equal(render_item(cell, split, index, cfg)[0], base)


@pytest.mark.parametrize("null", [False, True])
def test_item_is_independent_of_the_rest_of_the_lab(tmp_path, null):
    cfg = LabConfig(size=32, null=null)
    alone, big = tmp_path / "alone", tmp_path / "big"
    generate_lab(alone, [CELL], n_train=5, n_test=0, cfg=cfg, workers=1,
                 contact_sheet=False)
    generate_lab(big, [*OTHERS, CELL], n_train=9, n_val=2, n_test=3, cfg=cfg, workers=1,
                 contact_sheet=False)
    assert _files(alone, CELL, "train", 5) == _files(big, CELL, "train", 5)
    small_recs = {r.record_id: r for r in read_records(alone)}
    for rec in read_records(big):
        if rec.record_id in small_recs:
            assert rec == small_recs[rec.record_id]


def test_workers_do_not_change_a_single_byte(tmp_path, helpers):
    """Two runs (1 vs 2 worker processes, several chunks) give byte-identical trees."""
    import medmat.synth.generate as gen

    cells = [CELL, *OTHERS]
    trees = []
    for workers in (1, 2):
        root = tmp_path / f"w{workers}"
        old = gen.CHUNK
        gen.CHUNK = 3  # many chunks, so the pool really interleaves work
        try:
            generate_lab(root, cells, n_train=7, n_val=1, n_test=4, cfg=LabConfig(size=32),
                         workers=workers)
        finally:
            gen.CHUNK = old
        trees.append(helpers.tree_bytes(root))
    assert trees[0].keys() == trees[1].keys()
    assert {"records.parquet", "lab.json", "contact_sheet.png"} <= set(trees[0])
    assert len([k for k in trees[0] if k.endswith(".png")]) == 4 * 12 + 1
    for name in trees[0]:
        assert trees[0][name] == trees[1][name], name


def test_incremental_growth_keeps_existing_files(tmp_path):
    cfg = LabConfig(size=32)
    generate_lab(tmp_path, [CELL], n_train=10, n_test=2, cfg=cfg, workers=1)
    first = sorted((tmp_path / "images" / CELL.subset / "train").iterdir())
    stamp = {p.name: (p.stat().st_ino, p.stat().st_mtime_ns, p.read_bytes()) for p in first}
    rows_10 = read_records(tmp_path)
    generate_lab(tmp_path, [CELL], n_train=20, n_test=2, cfg=cfg, workers=2)
    now = sorted((tmp_path / "images" / CELL.subset / "train").iterdir())
    assert len(first) == 10 and len(now) == 20
    for p in first:  # untouched: same inode, same mtime, same bytes
        assert (p.stat().st_ino, p.stat().st_mtime_ns, p.read_bytes()) == stamp[p.name]
    rows_20 = {r.record_id: r for r in read_records(tmp_path)}
    assert len(rows_20) == 22
    assert all(rows_20[r.record_id] == r for r in rows_10)


def test_a_stale_image_is_replaced_so_hashes_describe_the_files(tmp_path):
    cfg = LabConfig(size=32)
    generate_lab(tmp_path, [CELL], n_train=3, n_test=0, cfg=cfg, workers=1)
    victim = tmp_path / "images" / CELL.subset / "train" / "000001.png"
    good = victim.read_bytes()
    Image.new("L", (32, 32), 7).save(victim)  # e.g. left by an older renderer
    generate_lab(tmp_path, [CELL], n_train=3, n_test=0, cfg=cfg, workers=1)
    assert victim.read_bytes() == good
    for rec in read_records(tmp_path):
        with Image.open(tmp_path / rec.image) as img:
            assert pixel_sha1(img.convert("RGB")) == rec.pixel_sha1


def test_another_config_in_the_same_folder_is_refused(tmp_path, helpers):
    generate_lab(tmp_path, [CELL], n_train=2, n_test=1, cfg=LabConfig(size=32), workers=1)
    before = helpers.tree_bytes(tmp_path)
    for cfg in (LabConfig(size=32, seed=1), LabConfig(size=32, null=True), LabConfig(size=48)):
        with pytest.raises(MedmatError, match="holds a lab made with"):
            generate_lab(tmp_path, [CELL], n_train=4, n_test=1, cfg=cfg, workers=1)
    assert helpers.tree_bytes(tmp_path) == before
    (tmp_path / "lab.json").write_text("{not json")
    with pytest.raises(MedmatError, match="not valid JSON"):
        generate_lab(tmp_path, [CELL], n_train=2, n_test=1, cfg=LabConfig(size=32), workers=1)
