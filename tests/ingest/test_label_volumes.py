"""NIfTI label volumes: every slice row gets the label slice aligned with its image slice (same
plane, orientation and index), and its boxes are the outer extent of the mask as stored.

The image volumes are black with the lesion bright (its voxels hold 1000, windowed to 255), so
where the stored *image* is white is an independent view of where the stored mask must be.
"""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from medmat.errors import MedmatError
from medmat.ingest import ingest
from medmat.regions import Region

nib = pytest.importorskip("nibabel")

MRI = {"modality": "MRI", "area": "Brain", "task": "Cancer", "window": (500.0, 1000.0)}
SHAPE = (10, 8, 6)
# voxel i runs to the patient's right (-x), j to superior (+z), k to anterior (+y)
ODD_AFFINE = np.array([[-1.2, 0, 0, 30], [0, 0, 0.9, -5], [0, 2.0, 0, 7], [0, 0, 0, 1]])


def _extent(fg: np.ndarray) -> tuple[float, float, float, float]:
    cols, rows = np.flatnonzero(fg.any(axis=0)), np.flatnonzero(fg.any(axis=1))
    return (float(cols[0]), float(rows[0]), float(cols[-1] + 1), float(rows[-1] + 1))


def _volumes(root, affine, label_dtype=np.uint8):
    """lesion/v.nii.gz and lesion/v_seg.nii.gz: an asymmetric L-shaped lesion (class 1) in
    several slices of every plane, plus a class-2 block, at voxel positions that flips move."""
    seg = np.zeros(SHAPE, label_dtype)
    seg[1:4, 1:6, 1:5] = 1
    seg[1:2, 1:2, 1:5] = 0  # notch one corner: no symmetry for a flip to hide behind
    seg[6:9, 5:7, 2:4] = 2
    vol = np.where(seg > 0, 1000.0, 0.0).astype(np.float32)
    (root / "lesion").mkdir(parents=True)
    nib.save(nib.Nifti1Image(vol, affine), root / "lesion" / "v.nii.gz")
    nib.save(nib.Nifti1Image(seg, affine), root / "lesion" / "v_seg.nii.gz")


@pytest.mark.parametrize("plane", ["axial", "coronal", "sagittal"])
@pytest.mark.parametrize("affine", [np.eye(4), ODD_AFFINE], ids=["identity", "odd"])
def test_label_slices_follow_their_image_slices(tmp_path, h, plane, affine):
    _volumes(tmp_path / "d", affine)
    out = tmp_path / "o"
    report = ingest(tmp_path / "d", "nifti", out, slices="every:1", plane=plane,
                    mask_pattern="{stem}_seg.nii.gz", mask_labels="1=Tumor,2=Cyst",
                    on_error="skip", test_frac=0.0, **MRI)
    recs = h.by_id(out)
    assert report["ignored"] == ["lesion/v_seg.nii.gz (mask of lesion/v.nii.gz)"]
    checked = 0
    for rec in recs.values():
        with Image.open(out / rec.image) as im, Image.open(out / rec.mask) as m:
            white, mask = np.asarray(im) == 255, np.asarray(m)
        assert np.array_equal(white, mask > 0)  # mask pixel (r, c) is image pixel (r, c)
        boxes = [Region(_extent(mask == v), name, int((mask == v).sum()))
                 for v, name in ((1, "Tumor"), (2, "Cyst")) if (mask == v).any()]
        assert rec.regions == tuple(boxes) and boxes
        checked += 1
    # slices without lesion have an empty mask: counted skips, named by their slice
    skipped = report["skipped"]
    assert checked + len(skipped) == report["counts"]["rows"] and checked >= 3
    assert all("v_seg.nii.gz [" in s["reason"] and "no foreground" in s["reason"]
               for s in skipped)


def test_middle_slice_box_is_known_in_display_orientation(tmp_path, h):
    """Identity affine, axial middle slice k=3: display rows run anterior->posterior (j
    reversed) and columns right->left (i reversed), so voxel (i, j) lands at (row 7-j, col 9-i)."""
    _volumes(tmp_path / "d", np.eye(4))
    ingest(tmp_path / "d", "nifti", tmp_path / "o", mask_pattern="{stem}_seg.nii.gz",
           test_frac=0.0, **MRI)
    rec = h.by_id(tmp_path / "o")["lesion/v.nii.gz"]
    # class 1 occupies i 1..3, j 1..5 (less the notch, which is one column of i=1 at j=1);
    # class 2 occupies i 6..8, j 5..6; binary mask: one box over both, 9-8..9-1, 7-6..7-1
    assert rec.regions == (Region((1.0, 1.0, 9.0, 7.0), None, 14 + 6),)


def test_float_label_volumes_and_grids_are_checked(tmp_path, h):
    _volumes(tmp_path / "d", np.eye(4), label_dtype=np.float32)
    seg = tmp_path / "d" / "lesion" / "v_seg.nii.gz"
    data = np.asarray(nib.load(seg).dataobj) * 0.5  # 0.5 and 1.0: not class numbers
    nib.save(nib.Nifti1Image(data, np.eye(4)), seg)
    with pytest.raises(MedmatError, match="v_seg.nii.gz: label volume has non-integer values"):
        ingest(tmp_path / "d", "nifti", tmp_path / "o", mask_pattern="{stem}_seg.nii.gz",
               test_frac=0.0, **MRI)
    nib.save(nib.Nifti1Image(np.ones((10, 8, 5), np.uint8), np.eye(4)), seg)
    with pytest.raises(MedmatError, match="voxel grid"):
        ingest(tmp_path / "d", "nifti", tmp_path / "o", mask_pattern="{stem}_seg.nii.gz",
               test_frac=0.0, **MRI)
