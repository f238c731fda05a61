"""Two-stage near duplicates: hash candidates, then the pixels decide. Look-alike medical images
(noise + one blob, low contrast) hash alike but are not paired; re-encoded, resized and cropped
copies are. Also: record groups across splits, and the popcount fallback for NumPy 1."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from medmat.cli import main
from medmat.imaging import phash, pixel_sha1
from medmat.leakage import enforce_no_test_in_train_near, find_duplicates, nearpairs
from medmat.leakage.neardup import candidate_pairs
from medmat.leakage.similarity import crop_hashes, picture, similarity
from medmat.records import ImageRecord, read_records_table, write_records


def scan(seed: int, size: int = 128) -> Image.Image:
    """Low-contrast grey 'scan': background, sensor noise, one soft blob."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size]
    img = 90 + 10 * rng.normal(0, 1, (size, size))
    cy, cx = rng.uniform(0.3, 0.7, 2) * size
    img += 25 * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * (0.1 * size) ** 2))
    return Image.fromarray(np.clip(img, 0, 255).astype(np.uint8), "L")


def jpeg(img: Image.Image) -> Image.Image:
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=75)
    buf.seek(0)
    with Image.open(buf) as out:
        return out.convert("L")


def write(root, entries, groups=None):
    records = []
    for k, (rid, split, img) in enumerate(entries):
        rel = f"images/{rid}.png"
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        img.save(root / rel)
        records.append(ImageRecord(record_id=rid, image=rel, labels=("a",), modality="CT",
                                   area="Lung", task="COVID-19", subset="01", split=split,
                                   pixel_sha1=pixel_sha1(img.convert("RGB")), phash=phash(img),
                                   group=None if groups is None else groups[k]))
    write_records(root, records)
    return root


@pytest.fixture(scope="module")
def lookalikes(tmp_path_factory):
    """60 distinct scans (train/test alternating) and three planted copies in test."""
    base = [scan(s) for s in range(60)]
    entries = [(f"s{i:02d}", "train" if i % 2 == 0 else "test", im) for i, im in enumerate(base)]
    entries += [("c-jpeg", "test", jpeg(base[0])),
                ("c-half", "test", base[2].resize((64, 64), Image.Resampling.BILINEAR)),
                ("c-crop", "test", base[4].crop((3, 5, 125, 127)))]  # 122 of 128: ~5% cropped
    return write(tmp_path_factory.mktemp("lookalike") / "t", entries)


def _pairs(report):
    return sorted(sorted(m.record_id for m in g.members) for g in report.of_kind("near"))


def test_hash_candidates_flood_lookalikes_but_pixels_do_not(lookalikes):
    hash_only = find_duplicates([lookalikes], verify=False, crops=False)
    planted = [["c-jpeg", "s00"], ["c-half", "s02"]]
    false = [p for p in _pairs(hash_only) if p not in planted]
    assert false, "the look-alike family should produce hash-only false pairs"
    checked = find_duplicates([lookalikes])
    assert _pairs(checked) == [["c-crop", "s04"], ["c-half", "s02"], ["c-jpeg", "s00"]]
    assert all(g.similarity >= 0.5 for g in checked.of_kind("near"))
    # the crop is found through the crop-box hashes only
    assert ["c-crop", "s04"] not in _pairs(find_duplicates([lookalikes], crops=False))


def test_near_guard_checks_pixels_when_given_the_image_root(lookalikes):
    table = read_records_table(lookalikes)
    _, hash_only = enforce_no_test_in_train_near(table, 8, drop=True)
    kept, checked = enforce_no_test_in_train_near(table, 8, drop=True, root=lookalikes)
    assert checked == ["c-half", "c-jpeg"]  # the crop needs the full report (crop hashes)
    assert set(checked) < set(hash_only)  # hash-only also drops look-alike test images
    assert kept.num_rows == table.num_rows - 2


def test_candidate_pairs_mark_crop_candidates():
    far = 0xAAAAAAAAAAAAAAAA  # 32 bits from 0 and from the other hashes below
    full = np.array([0, 0b111, 2**40 - 1, 0xF0F0F0F0F0F0F0F0], dtype=np.uint64)
    crops = np.full((4, 2), far, dtype=np.uint64)
    crops[2, 1] = full[3] ^ np.uint64(1)  # image 3's full hash is 1 bit from a box of image 2
    pairs = {(p.a, p.b): p for p in candidate_pairs(full, 3, crops)}
    assert sorted(pairs) == [(0, 1), (2, 3)]
    assert pairs[(0, 1)].plain and not pairs[(0, 1)].crops and pairs[(0, 1)].distance == 3
    assert not pairs[(2, 3)].plain and pairs[(2, 3)].crops == {2: (1, 1)}


def test_similarity_of_copies_blanks_and_small_images():
    a = scan(1)
    assert similarity(picture(a), picture(jpeg(a))) > 0.8
    assert similarity(picture(a), picture(scan(2))) < 0.2
    grey, darker = Image.new("L", (50, 40), 120), Image.new("L", (100, 80), 60)
    assert similarity(picture(grey), picture(grey.resize((100, 80)))) == 1.0
    assert similarity(picture(grey), picture(darker)) == 0.0  # both blank, other level
    assert similarity(picture(grey), picture(a)) == 0.0
    tiny = scan(3, size=24)  # smaller than the 64-px thumbnails: compared at its own size
    assert similarity(picture(tiny), picture(tiny.resize((48, 48)))) > 0.8
    assert len(crop_hashes(a)) == 16


def test_popcount_fallback_without_numpy2(monkeypatch):
    rng = np.random.default_rng(0)
    values = np.unique(rng.integers(0, 2**63, 300, dtype=np.int64).view(np.uint64))
    expected = [bin(int(v)).count("1") for v in values]
    assert nearpairs.popcount(values).tolist() == expected
    reference = nearpairs.distinct_near_pairs(values, 24, bands=0)
    monkeypatch.delattr(np, "bitwise_count", raising=False)
    assert nearpairs.popcount(values).tolist() == expected
    for got, want in zip(nearpairs.distinct_near_pairs(values, 24, bands=0), reference,
                         strict=True):
        assert np.array_equal(got, want)


def test_record_groups_across_splits_are_counted_and_fail_the_check(tmp_path, capsys):
    imgs = [scan(100 + k) for k in range(4)]
    root = write(tmp_path / "t", [("p1-a", "train", imgs[0]), ("p1-b", "test", imgs[1]),
                                  ("p2-a", "train", imgs[2]), ("p2-b", "train", imgs[3])],
                 groups=["patient:1", "patient:1", "patient:2", "patient:2"])
    s = find_duplicates([root]).summary()
    assert s["record_groups"] == {"total": 2, "across_splits": 1, "train_vs_eval": 1}
    assert s["leaky_eval_records"] == 0  # no duplicate pixels: only the group leaks
    with pytest.raises(SystemExit) as exit_:
        main(["leakage", str(root), "--out", str(tmp_path / "r.json"), "--fail-on-leak"])
    assert exit_.value.code == 2
    assert "1 record group(s) sit in train and val/test" in capsys.readouterr().err
