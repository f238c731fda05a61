"""Volumes: one display convention for DICOM and NIfTI, several slices per volume, groups that
keep a volume / patient on one side of the split, and a budget on a volume's decoded size."""

from __future__ import annotations

import gzip
import tracemalloc

import numpy as np
import pytest
from PIL import Image

from medmat.errors import MedmatError
from medmat.ingest import ingest
from medmat.ingest.sources.nifti import read_nifti
from medmat.leakage.report import find_duplicates

pydicom = pytest.importorskip("pydicom")
nib = pytest.importorskip("nibabel")
from pydicom.dataset import Dataset, FileMetaDataset  # noqa: E402
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid  # noqa: E402

MRI = {"modality": "MRI", "area": "Brain", "task": "Cancer"}
LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0])


def ct_slice(path, stored, *, iop, ipp, spacing, patient="p1"):
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID = CTImageStorage, generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID = CTImageStorage, meta.MediaStorageSOPInstanceUID
    ds.PatientID, ds.Modality = patient, "CT"
    ds.Rows, ds.Columns = stored.shape[-2:]
    if stored.ndim == 3:
        ds.NumberOfFrames = stored.shape[0]
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
    ds.RescaleSlope, ds.RescaleIntercept = 1, -1024
    ds.ImageOrientationPatient = [float(v) for v in iop]
    ds.ImagePositionPatient = [float(v) for v in ipp]
    ds.PixelSpacing = [float(v) for v in spacing]
    ds.PixelData = stored.astype(np.uint16).tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)


def test_same_slice_via_dicom_and_nifti_gives_identical_pngs(tmp_path, h):
    rows, cols, thick = 12, 16, 2.5
    stored = np.random.default_rng(3).integers(900, 1200, (rows, cols)).astype(np.uint16)
    stored[5, 13] = 2500  # bright dot at high column = toward the patient's left (LPS +x)
    a = np.deg2rad(10)
    row_cos, col_cos = np.array([np.cos(a), np.sin(a), 0]), np.array([-np.sin(a), np.cos(a), 0])
    normal, ipp, (rs, cs) = np.cross(row_cos, col_cos), np.array([-50.0, 20, 30]), (0.7, 0.9)
    ct_slice(tmp_path / "dcm" / "bleed" / "s.dcm", stored, iop=[*row_cos, *col_cos], ipp=ipp,
             spacing=(rs, cs))
    # The NIfTI stores the same slice in another voxel order: axis 0 = rows reversed, axis 1 =
    # slices (ours is the middle of 3), axis 2 = columns. Its affine follows from the geometry.
    hu = stored.astype(np.float32) - 1024
    vol = np.stack([hu - 300, hu, hu + 300], axis=1)[::-1]  # (rows reversed, slice, cols)
    lps = np.eye(4)
    lps[:3, 0], lps[:3, 1], lps[:3, 2] = -col_cos * rs, normal * thick, row_cos * cs
    lps[:3, 3] = ipp + col_cos * rs * (rows - 1) - normal * thick
    affine = np.eye(4)
    affine[:3] = LPS_TO_RAS @ lps[:3]
    (tmp_path / "nii" / "bleed").mkdir(parents=True)
    nib.save(nib.Nifti1Image(vol, affine), tmp_path / "nii" / "bleed" / "s.nii.gz")
    pngs = []
    for fmt, src in (("dicom", "dcm"), ("nifti", "nii")):
        out = tmp_path / f"out-{fmt}"
        ingest(tmp_path / src, fmt, out, window=(100.0, 1000.0), test_frac=0.0,
               modality="CT", area="Brain", task="Hemorrhage")
        (rec,) = h.by_id(out).values()
        with Image.open(out / rec.image) as im:
            pngs.append(np.asarray(im))
    assert pngs[0].shape == (rows, cols)
    assert np.array_equal(pngs[0], pngs[1])
    for png in pngs:  # the patient's left is on the image's right (radiological)
        assert np.unravel_index(np.argmax(png), png.shape) == (5, 13)


def _labelled(shape=(10, 12, 8)):
    """Axial slices hold their own index; a bright voxel marks the patient's left (x index 9
    in an RAS-identity volume, +x = patient's right, so x = 0 is the far left)."""
    vol = np.zeros(shape, np.float32) + np.arange(shape[2], dtype=np.float32)
    vol[0, 3, :] = 100.0  # x = 0: the patient's left-most column, y = 3 (posterior half)
    return vol


@pytest.mark.parametrize("flip_x", [False, True])
def test_nifti_display_convention_whatever_the_voxel_order(tmp_path, flip_x):
    vol = _labelled()
    affine = np.diag([1.5, 1.0, 3.0, 1.0])  # anisotropic
    if flip_x:  # stored right-to-left: same anatomy, mirrored voxel order
        vol, affine = vol[::-1].copy(), affine @ np.array(
            [[-1, 0, 0, 9], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]], float)
    nib.save(nib.Nifti1Image(vol, affine), tmp_path / "v.nii")
    ax = np.asarray(read_nifti(tmp_path / "v.nii", window=(50, 100)))
    assert ax.shape == (12, 10)  # rows: anterior -> posterior (y), cols: right -> left (x)
    assert np.unravel_index(np.argmax(ax), ax.shape) == (12 - 1 - 3, 10 - 1)
    cor = np.asarray(read_nifti(tmp_path / "v.nii", plane="coronal", index=3))
    assert cor.shape == (8, 10) and cor[:, -1].max() == 255  # left on the right
    assert cor[0, 0] > cor[-1, 0]  # superior (higher slice values) at the top


def _brats(root, n_volumes=8, n_slices=10):
    """tumour/caseK.nii.gz with masks caseK_seg.nii.gz (a blob on slices 4-6, widest at 5)."""
    for k in range(n_volumes):
        vol = np.random.default_rng(k).normal(100, 10, (12, 12, n_slices)).astype(np.float32)
        mask = np.zeros(vol.shape, np.uint8)
        mask[2:10, 2:10, 5] = 1
        mask[4:8, 4:8, 4] = 1
        mask[5:7, 5:7, 6] = 1
        label = "tumour" if k % 2 else "normal"
        (root / label).mkdir(parents=True, exist_ok=True)
        nib.save(nib.Nifti1Image(vol, np.eye(4)), root / label / f"case{k}.nii.gz")
        nib.save(nib.Nifti1Image(mask, np.eye(4)), root / label / f"case{k}_seg.nii.gz")


def test_several_slices_per_volume_stay_in_one_split(tmp_path, h):
    _brats(tmp_path / "brats")
    out = tmp_path / "out"
    report = ingest(tmp_path / "brats", "nifti", out, slices="mask:2",
                    mask_pattern="{stem}_seg.nii.gz", test_frac=0.3, **MRI)
    recs = h.by_id(out)
    assert len(recs) == 16 and report["splits"]["groups"] == 8
    assert sorted(k for k in recs if k.startswith("tumour/case1.")) == [
        "tumour/case1.nii.gz#axial4", "tumour/case1.nii.gz#axial5"]  # the two widest
    assert len(report["ignored"]) == 8 and all("mask of" in i for i in report["ignored"])
    by_group: dict[str, set[str]] = {}
    for r in recs.values():
        by_group.setdefault(r.group, set()).add(r.split)
    assert all(len(s) == 1 for s in by_group.values())
    assert {s for (s,) in by_group.values()} == {"train", "test"}
    assert report["splits"]["groups_across_splits"] == []
    leak = find_duplicates([out], near=False).summary()
    assert leak["record_groups"] == {"total": 8, "across_splits": 0, "train_vs_eval": 0}
    # even:3 without masks: the mask files are then ordinary volumes of the class folders
    even = ingest(tmp_path / "brats", "nifti", tmp_path / "even", slices="even:3",
                  test_frac=0.0, **MRI)
    assert even["counts"]["records"] == 16 * 3


def test_cli_slices_and_source_splits_that_split_a_volume(tmp_path, h, capsys):
    from medmat.cli import main

    _brats(tmp_path / "b", n_volumes=2)
    rows = ["file,label,split", "normal/case0.nii.gz,normal,train",
            "tumour/case1.nii.gz,tumour,test", "tumour/case1_seg.nii.gz,tumour,train"]
    (tmp_path / "b" / "t.csv").write_text("\n".join(rows) + "\n")
    # the seg file is its own volume here: --group-by folder puts case1 and its seg together
    main(["ingest", str(tmp_path / "b" / "t.csv"), "--format", "nifti", "--out",
          str(tmp_path / "o"), "--slices", "every:4", "--group-by", "folder", "--modality",
          "MRI", "--area", "Brain", "--task", "Cancer"])
    recs = h.by_id(tmp_path / "o")
    assert sorted(recs) == [f"{f}#axial{k}" for f in ("normal/case0.nii.gz",
                            "tumour/case1.nii.gz", "tumour/case1_seg.nii.gz") for k in (0, 4, 8)]
    assert recs["tumour/case1.nii.gz#axial4"].group == "folder:tumour"
    assert "warning: 1 group(s) (patients / volumes) have records in more than one" in (
        capsys.readouterr().err)


def test_slice_options_are_checked(tmp_path):
    _brats(tmp_path / "b", n_volumes=1)
    for kwargs, msg in (({"slices": "every:0"}, "at least 1"), ({"slices": "all"}, "use middle"),
                        ({"slices": "mask:2"}, "needs --mask-pattern"),
                        ({"slices": "even:2", "slice_index": 3}, "give one"),
                        ({"group_by": "patient"}, "NIfTI files carry no")):
        with pytest.raises(MedmatError, match=msg):
            ingest(tmp_path / "b", "nifti", tmp_path / "o", **kwargs, **MRI)


def test_dicom_patients_are_groups(tmp_path, h):
    rng = np.random.default_rng(0)
    for p in range(6):
        for s in range(3):  # three files (slices) per patient
            img = rng.integers(0, 2000, (4, 4)).astype(np.uint16)
            ct_slice(tmp_path / "d" / f"c{p % 2}" / f"p{p}s{s}.dcm", img, iop=[1, 0, 0, 0, 1, 0],
                     ipp=[0, 0, s], spacing=(1, 1), patient=f"P{p}")
    out = tmp_path / "out"
    ingest(tmp_path / "d", "dicom", out, test_frac=0.34, modality="CT", area="Brain",
           task="Hemorrhage")
    recs = h.by_id(out).values()
    splits = {}
    for r in recs:
        splits.setdefault(r.group, set()).add(r.split)
    assert sorted(splits) == [f"patient:P{p}" for p in range(6)]
    assert all(len(s) == 1 for s in splits.values())
    assert {next(iter(s)) for s in splits.values()} == {"train", "test"}


def test_dicom_frames_where_the_mask_is_largest(tmp_path, h):
    frames = np.random.default_rng(1).integers(0, 3000, (6, 8, 8)).astype(np.uint16)
    mask = np.zeros((6, 8, 8), np.uint16)
    mask[2, :3, :3], mask[4, :5, :5] = 1, 1  # frame 4 largest, then 2; the others empty
    geo = {"iop": [1, 0, 0, 0, 1, 0], "ipp": [0, 0, 0], "spacing": (1, 1)}
    ct_slice(tmp_path / "d" / "bleed" / "v.dcm", frames, **geo)
    ct_slice(tmp_path / "d" / "bleed" / "v.mask.dcm", mask, **geo)
    ct_slice(tmp_path / "d" / "bleed" / "one.dcm", frames[0], **geo)  # single frame: one row
    ct_slice(tmp_path / "d" / "bleed" / "one.mask.dcm", mask[4], **geo)
    report = ingest(tmp_path / "d", "dicom", tmp_path / "o", slices="mask:2",
                    mask_pattern="{stem}.mask.dcm", test_frac=0.0, modality="CT", area="Brain",
                    task="Hemorrhage")
    assert sorted(h.by_id(tmp_path / "o")) == ["bleed/one.dcm", "bleed/v.dcm#frame2",
                                               "bleed/v.dcm#frame4"]
    assert sorted(report["ignored"]) == ["bleed/one.mask.dcm (mask of bleed/one.dcm)",
                                         "bleed/v.mask.dcm (mask of bleed/v.dcm)"]
    hu = frames[4].astype(float) - 1024
    lo, hi = np.percentile(hu, [0.5, 99.5])
    with Image.open(tmp_path / "o" / h.by_id(tmp_path / "o")["bleed/v.dcm#frame4"].image) as im:
        assert np.array_equal(np.asarray(im), np.rint(np.clip((hu - lo) / (hi - lo), 0, 1) * 255))


def test_volume_budget_is_checked_before_inflating(tmp_path):
    hdr = nib.Nifti1Header()
    hdr.set_data_shape((1024, 1024, 256))  # 1 GiB of float32 declared ...
    hdr.set_data_dtype(np.float32)
    img = nib.Nifti1Image(np.zeros((1, 1, 1), np.float32), np.eye(4))
    raw = bytearray(img.header.binaryblock)
    raw[:] = hdr.binaryblock
    (tmp_path / "bomb").mkdir()
    with gzip.open(tmp_path / "bomb" / "big.nii.gz", "wb") as f:  # ... in a tiny file
        f.write(bytes(raw) + b"\0" * 4 + b"\0" * 4096)
    with pytest.raises(MedmatError, match=r"1,024 MB of decoded pixels, over the "
                                          r"--max-volume-mb budget of 512 MB"):
        read_nifti(tmp_path / "bomb" / "big.nii.gz")


def test_only_the_slice_is_read(tmp_path):
    vol = np.zeros((256, 256, 128), np.float32)  # 32 MB declared, a few KB gzipped
    vol[:, :, 64] = np.arange(256, dtype=np.float32)[:, None]
    nib.save(nib.Nifti1Image(vol, np.eye(4)), tmp_path / "v.nii.gz")
    del vol
    with pytest.raises(MedmatError, match="over the --max-volume-mb budget of 16 MB"):
        read_nifti(tmp_path / "v.nii.gz", max_volume_mb=16)
    tracemalloc.start()
    img = read_nifti(tmp_path / "v.nii.gz")
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert np.asarray(img).std() > 0  # the middle slice (64) is the one with the ramp
    assert peak < 8 * 2**20, peak
