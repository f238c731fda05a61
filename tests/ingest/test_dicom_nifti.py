"""DICOM (written with pydicom) and NIfTI (written with nibabel) sources."""

from __future__ import annotations

import csv
import sys

import numpy as np
import pytest
from PIL import Image

from medmat.errors import MedmatError
from medmat.ingest import ingest

pydicom = pytest.importorskip("pydicom")
nib = pytest.importorskip("nibabel")
from pydicom.dataset import Dataset, FileMetaDataset  # noqa: E402
from pydicom.uid import ExplicitVRLittleEndian, SecondaryCaptureImageStorage, generate_uid  # noqa: E402

CT = {"modality": "CT", "area": "Brain", "task": "Hemorrhage"}


def write_dicom(path, arr, *, slope=1.0, intercept=0.0, window=None, photometric="MONOCHROME2",
                signed=False):
    """Minimal valid DICOM (explicit VR little endian) with 16-bit pixels, 2D or multi-frame."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = SecondaryCaptureImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.Modality = "CT"
    ds.PatientID = "anon"
    frames = arr.shape[0] if arr.ndim == 3 else 1
    ds.Rows, ds.Columns = arr.shape[-2:]
    if frames > 1:
        ds.NumberOfFrames = frames
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = photometric
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, 16, 15
    ds.PixelRepresentation = 1 if signed else 0
    ds.RescaleSlope, ds.RescaleIntercept = slope, intercept
    if window:
        ds.WindowCenter, ds.WindowWidth = window
    ds.PixelData = arr.astype(np.int16 if signed else np.uint16).tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)
    return path


def _pixels(out, rec):
    with Image.open(out / rec.image) as im:
        return np.asarray(im)


def test_dicom_rescale_window_invert_and_frames(tmp_path, h):
    ramp = np.tile(np.arange(16, dtype=np.uint16) * 100, (16, 1))  # 0..1500 stored
    root = tmp_path / "dcm"
    # stored*2 - 1000 -> -1000..2000 HU; window 0 +- 500 -> columns below 250 stored are black
    write_dicom(root / "bleed" / "IM0001", ramp, slope=2.0, intercept=-1000.0, window=(0, 1000))
    write_dicom(root / "bleed" / "inv.dcm", ramp, photometric="MONOCHROME1")
    frames = np.stack([np.full((8, 8), v, np.uint16) for v in (0, 10, 20)])
    frames[:, 0, 0] = 0
    frames[:, -1, -1] = 30
    write_dicom(root / "normal" / "multi.dcm", frames, window=(15, 30))  # 0..30 -> 0..255
    (root / "normal" / "notes.dcm").write_text("not dicom")
    out = tmp_path / "out"
    report = ingest(root, "dicom", out, on_error="skip", test_frac=0.0, **CT)
    recs = h.by_id(out)
    assert report["counts"]["skipped"] == 1
    assert "not a DICOM file" in report["skipped"][0]["reason"]
    win = _pixels(out, recs["bleed/IM0001"])[0]
    hu = np.arange(16) * 200 - 1000
    assert (win[hu <= -500] == 0).all() and (win[hu >= 500] == 255).all()
    assert 0 < win[5] < 255  # 0 HU sits mid-window
    inv = _pixels(out, recs["bleed/inv.dcm"])[0]
    assert inv[0] > inv[-1]  # MONOCHROME1: high values dark
    assert recs["normal/multi.dcm"].image == "images/normal/multi.png"
    mid = _pixels(out, recs["normal/multi.dcm"])
    # default: the middle frame (value 10), through the file's window by the DICOM LINEAR rule
    assert mid[3, 3] == round(((10 - (15 - 0.5)) / (30 - 1) + 0.5) * 255)
    ingest(root, "dicom", tmp_path / "f0", on_error="skip", test_frac=0.0, frame=0, **CT)
    first = _pixels(tmp_path / "f0", h.by_id(tmp_path / "f0")["normal/multi.dcm"])
    assert first[3, 3] == 0
    with pytest.raises(MedmatError, match="--frame 9 out of range"):
        ingest(root, "dicom", tmp_path / "f9", frame=9, **CT)


def test_dicom_truncated_and_labels_from_table(tmp_path, h):
    ramp = np.tile(np.arange(16, dtype=np.uint16), (16, 1))
    src = tmp_path / "src"
    good = write_dicom(src / "a.dcm", ramp)
    data = good.read_bytes()
    (src / "cut.dcm").write_bytes(data[: len(data) - 300])
    with open(src / "map.csv", "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([["file", "label"], ["a.dcm", "hémorragie, aiguë"],
                                 ["cut.dcm", "normal"]])
    report = ingest(src / "map.csv", "dicom", tmp_path / "out", on_error="skip",
                    test_frac=0.0, **CT)
    assert h.by_id(tmp_path / "out")["a.dcm"].labels == ("hémorragie, aiguë",)
    assert report["skipped"][0]["item"].endswith("cut.dcm")
    assert "truncated DICOM file: the pixel data has 212 of the 512 bytes" in (
        report["skipped"][0]["reason"])


def _volume(shape=(6, 8, 10)):
    vol = np.zeros(shape, dtype=np.float32)
    for k in range(shape[2]):
        vol[:, :, k] = k * 10.0  # intensity grows along the superior axis
    vol[1, 2, :] += 5.0
    return vol


def test_nifti_planes_slices_and_normalisation(tmp_path, h):
    root = tmp_path / "nii"
    (root / "tumour").mkdir(parents=True)
    nib.save(nib.Nifti1Image(_volume(), np.eye(4)), root / "tumour" / "brain.nii.gz")
    nib.save(nib.Nifti1Image(_volume(), np.eye(4)), root / "tumour" / "raw.nii")
    (root / "tumour" / "empty.nii").write_bytes(b"")
    report = ingest(root, "nifti", tmp_path / "ax", on_error="skip", test_frac=0.0, **CT)
    assert report["counts"]["records"] == 2
    assert "empty file" in report["skipped"][0]["reason"]
    recs = h.by_id(tmp_path / "ax")
    assert recs["tumour/brain.nii.gz"].image == "images/tumour/brain.png"
    with Image.open(tmp_path / "ax" / recs["tumour/brain.nii.gz"].image) as im:
        assert im.size == (6, 8) and im.mode == "L"  # axial: x by y
    ingest(root, "nifti", tmp_path / "cor", plane="coronal", on_error="skip", test_frac=0.0, **CT)
    cor = _pixels(tmp_path / "cor", h.by_id(tmp_path / "cor")["tumour/brain.nii.gz"])
    assert cor.shape == (10, 6)  # superior-inferior rows by x columns
    assert cor[0].mean() > cor[-1].mean()  # superior (high values) at the top
    assert cor.min() == 0 and cor.max() == 255  # normalised to the full range
    with pytest.raises(MedmatError, match="--slice 50 out of range"):
        ingest(root, "nifti", tmp_path / "bad", slice_index=50, **CT)
    means = []
    for k in (0, 9):  # a fixed window keeps absolute intensities: slice 9 is brighter
        ingest(root, "nifti", tmp_path / f"s{k}", slice_index=k, window=(50.0, 100.0),
               on_error="skip", test_frac=0.0, **CT)
        rec = h.by_id(tmp_path / f"s{k}")["tumour/raw.nii"]
        means.append(_pixels(tmp_path / f"s{k}", rec).mean())
    assert means[0] < 20 and means[1] > 200


def test_missing_extra_gives_install_hint(tmp_path, monkeypatch, h):
    h.write_image(tmp_path / "d" / "a" / "x.dcm", 1)
    for name in ("pydicom", "nibabel"):
        monkeypatch.setitem(sys.modules, name, None)  # what an install without the extra sees
    for fmt in ("dicom", "nifti"):
        with pytest.raises(MedmatError, match=r"pip install 'medmat\[dicom\]'"):
            ingest(tmp_path / "d", fmt, tmp_path / "out", **CT)
