"""MedMNIST .npz archives in the published layout, written here with numpy."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from medmat.errors import MedmatError
from medmat.ingest import ingest
from medmat.ingest.sources.medmnist import mapping
from medmat.records import read_records


def _npz(path, n, size, channels, labels_fn, splits=("train", "val", "test"), seed=0):
    """Write an archive (in tmp_path/src: --out may not sit inside an input's folder)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    arrays = {}
    for s in splits:
        shape = (n, size, size) + ((channels,) if channels == 3 else ())
        arrays[f"{s}_images"] = rng.integers(0, 256, shape, dtype=np.uint8)
        arrays[f"{s}_labels"] = labels_fn(rng, n)
    np.savez_compressed(path, **arrays)
    return arrays


def test_pathmnist_64_rgb(tmp_path):
    src = tmp_path / "src"
    arrays = _npz(src / "pathmnist_64.npz", 4, 64, 3,
                  lambda rng, n: rng.integers(0, 9, (n, 1), dtype=np.uint8))
    report = ingest(src / "pathmnist_64.npz", "medmnist", tmp_path / "out")
    recs = {r.record_id: r for r in read_records(tmp_path / "out")}
    assert len(recs) == 12 and report["splits"]["origin"] == "source"
    rec = recs["pathmnist/val/000002"]
    assert rec.split == "val" and rec.image == "images/pathmnist_64/val/000002.png"
    assert rec.labels == (mapping()["pathmnist"].labels[int(arrays["val_labels"][2, 0])],)
    assert (rec.modality, rec.area, rec.task) == ("Microscopy", "Colon", "Cell type")
    with Image.open(tmp_path / "out" / rec.image) as im:
        assert im.mode == "RGB" and im.size == (64, 64)
        assert np.array_equal(np.asarray(im), arrays["val_images"][2])  # lossless


def test_breastmnist_28_grey_label_with_comma(tmp_path):
    src = tmp_path / "src"
    _npz(src / "breastmnist.npz", 6, 28, 1,
         lambda rng, n: (np.arange(n) % 2).reshape(n, 1).astype(np.uint8))
    ingest(src / "breastmnist.npz", "medmnist", tmp_path / "out")
    recs = read_records(tmp_path / "out")
    assert {r.labels for r in recs} == {("malignant",), ("normal, benign",)}
    assert {r.task for r in recs} == {"Cancer"} and {r.modality for r in recs} == {"Ultrasound"}
    with Image.open(tmp_path / "out" / recs[0].image) as im:
        assert im.mode == "L" and im.size == (28, 28)


def test_chestmnist_multilabel_and_no_finding(tmp_path):
    src = tmp_path / "src"
    def labels(rng, n):
        out = np.zeros((n, 14), dtype=np.uint8)
        out[0, [2, 4]] = 1
        return out

    _npz(src / "chestmnist_128.npz", 3, 128, 1, labels, splits=("train", "test"))
    ingest(src / "chestmnist_128.npz", "medmnist", tmp_path / "out")
    recs = {r.record_id: r for r in read_records(tmp_path / "out")}
    assert recs["chestmnist/train/000000"].labels == ("effusion", "mass")
    assert recs["chestmnist/train/000001"].labels == ("no finding",)
    assert all(r.multi_label for r in recs.values())


def test_flag_override_and_mat_flags_win(tmp_path):
    src = tmp_path / "src"
    _npz(src / "mydata.npz", 2, 28, 1, lambda rng, n: np.ones((n, 1), dtype=np.uint8),
         splits=("train", "test"))
    ingest(src / "mydata.npz", "medmnist", tmp_path / "out", flag="pneumoniamnist",
           area="Chest")
    recs = read_records(tmp_path / "out")
    assert {(r.modality, r.area, r.task) for r in recs} == {("X-ray", "Chest", "Pneumonia")}
    assert {r.labels for r in recs} == {("pneumonia",)}


def test_bad_label_index_unknown_flag_and_broken_archive(tmp_path):
    src = tmp_path / "src"
    _npz(src / "octmnist.npz", 3, 28, 1,
         lambda rng, n: np.array([[0], [7], [3]], dtype=np.uint8))
    with pytest.raises(MedmatError, match=r"octmnist.npz train\[1\]: unknown label index \[7\]"):
        ingest(src / "octmnist.npz", "medmnist", tmp_path / "out")
    report = ingest(src / "octmnist.npz", "medmnist", tmp_path / "out", on_error="skip")
    assert report["counts"]["skipped"] == 3 and report["counts"]["records"] == 6

    _npz(src / "organmnist3d.npz", 1, 28, 1, lambda rng, n: np.zeros((n, 1), np.uint8))
    with pytest.raises(MedmatError, match="3D flags are not supported"):
        ingest(src / "organmnist3d.npz", "medmnist", tmp_path / "o2")
    (src / "dermamnist.npz").write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(MedmatError, match="not a readable MedMNIST .npz"):
        ingest(src / "dermamnist.npz", "medmnist", tmp_path / "o3")
    # object arrays would need pickle, which is never allowed
    np.savez(src / "bloodmnist.npz", train_images=np.array([{"x": 1}], dtype=object),
             train_labels=np.zeros((1, 1), np.uint8))
    with pytest.raises(MedmatError, match="train_images.npy: holds Python objects"):
        ingest(src / "bloodmnist.npz", "medmnist", tmp_path / "o4")


def test_mapping_table_covers_every_2d_flag():
    flags = mapping()
    assert set(flags) == {
        "pathmnist", "chestmnist", "dermamnist", "octmnist", "pneumoniamnist", "retinamnist",
        "breastmnist", "bloodmnist", "tissuemnist", "organamnist", "organcmnist", "organsmnist",
    }
    counts = {f: len(i.labels) for f, i in flags.items()}
    assert counts == {"pathmnist": 9, "chestmnist": 14, "dermamnist": 7, "octmnist": 4,
                      "pneumoniamnist": 2, "retinamnist": 5, "breastmnist": 2, "bloodmnist": 8,
                      "tissuemnist": 8, "organamnist": 11, "organcmnist": 11, "organsmnist": 11}
    from medmat.taxonomy import normalize

    for info in flags.values():  # every triplet is canonical already
        assert normalize("modality", info.modality) == info.modality
        assert normalize("area", info.area) == info.area
        assert normalize("task", info.task) == info.task


def test_stored_and_fortran_ordered_archives_give_the_same_pixels(tmp_path):
    """Uncompressed members and Fortran-ordered arrays are read as faithfully as the default."""
    src = tmp_path / "src"
    src.mkdir()
    imgs = np.random.default_rng(3).integers(0, 256, (5, 28, 28, 3), dtype=np.uint8)
    np.savez(src / "pathmnist.npz", train_images=imgs,
             train_labels=np.arange(5, dtype=np.int64).reshape(5, 1),
             test_images=np.asfortranarray(imgs), test_labels=np.zeros((5, 1), np.uint8))
    ingest(src / "pathmnist.npz", "medmnist", tmp_path / "out")
    recs = {r.record_id: r for r in read_records(tmp_path / "out")}
    names = mapping()["pathmnist"].labels
    for split in ("train", "test"):
        for i in range(5):
            rec = recs[f"pathmnist/{split}/{i:06d}"]
            with Image.open(tmp_path / "out" / rec.image) as im:
                assert np.array_equal(np.asarray(im), imgs[i]), (split, i)
            assert rec.labels == ((names[i] if split == "train" else names[0]),)


def test_damaged_archive_data_is_reported_not_raised(tmp_path):
    src = tmp_path / "src"
    _npz(src / "octmnist.npz", 40, 28, 1, lambda rng, n: np.zeros((n, 1), np.uint8),
         splits=("train",))
    data = bytearray((src / "octmnist.npz").read_bytes())
    mid = len(data) // 2
    data[mid:mid + 64] = bytes(64)  # zeros in the middle of the deflated images
    (src / "octmnist.npz").write_bytes(bytes(data))
    # a damaged archive is one error, even in skip mode: images before the damage are suspect
    for on_error in ("fail", "skip"):
        with pytest.raises(MedmatError) as err:
            ingest(src / "octmnist.npz", "medmnist", tmp_path / "out", on_error=on_error)
        assert str(err.value).startswith(f"{src / 'octmnist.npz'}: not a readable MedMNIST")
        assert "download it again" in str(err.value)  # (CRC or zlib error: zlib decides)
        assert not (tmp_path / "out").exists()
