"""DICOM decoding fidelity: every image is compared with a reference decoding written here with
numpy from the file's own tags (palette, functional groups, MONOCHROME1, rescale + window), or
must fail with the message that names the real problem (truncation, missing decoder, no DICM).
Fixtures are written with pydicom; pydicom's bundled test files are used where present."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from medmat.errors import MedmatError
from medmat.ingest import ingest
from medmat.ingest.sources.dicom import read_dicom

pydicom = pytest.importorskip("pydicom")
from pydicom.data import get_testdata_file  # noqa: E402
from pydicom.dataset import Dataset, FileMetaDataset  # noqa: E402
from pydicom.sequence import Sequence  # noqa: E402
from pydicom.uid import (  # noqa: E402
    EnhancedCTImageStorage,
    ExplicitVRLittleEndian,
    SecondaryCaptureImageStorage,
    UltrasoundImageStorage,
    generate_uid,
)

CT = {"modality": "CT", "area": "Brain", "task": "Hemorrhage"}


def dataset(arr: np.ndarray, sop=SecondaryCaptureImageStorage, **tags) -> Dataset:
    """A native little-endian image dataset (1 frame or arr.shape[0] frames) plus ``tags``."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID = sop, generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID = sop, meta.MediaStorageSOPInstanceUID
    ds.PatientID = "p1"
    ds.Rows, ds.Columns = arr.shape[-2:]
    if arr.ndim == 3:
        ds.NumberOfFrames = arr.shape[0]
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    bits = 8 * arr.dtype.itemsize
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = bits, bits, bits - 1
    ds.PixelRepresentation = int(arr.dtype.kind == "i")
    for key, value in tags.items():
        setattr(ds, key, value)
    ds.PixelData = np.ascontiguousarray(arr).tobytes()
    return ds


def save(ds: Dataset, path) -> object:
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)
    return path


def linear(values: np.ndarray, centre: float, width: float) -> np.ndarray:
    """DICOM PS3.3 C.11.2.1.2.1 LINEAR window, as 8 bits."""
    y = np.clip((values - (centre - 0.5)) / (width - 1) + 0.5, 0.0, 1.0)
    return np.rint(y * 255).astype(np.uint8)


def user_window(values: np.ndarray, centre: float, width: float) -> np.ndarray:
    """medmat's documented --window rule: [C - W/2, C + W/2] -> 0..255, in modality units."""
    return np.rint(np.clip((values - (centre - width / 2)) / width, 0, 1) * 255).astype(np.uint8)


def pixels(img: Image.Image) -> np.ndarray:
    return np.asarray(img)


def test_palette_colour_applies_the_palette(tmp_path):
    rng = np.random.default_rng(0)
    idx = rng.integers(0, 256, (12, 20), dtype=np.uint8)
    lut = (rng.integers(0, 65536, (3, 256))).astype(np.uint16)
    ds = dataset(idx, UltrasoundImageStorage, PhotometricInterpretation="PALETTE COLOR")
    for colour, table in zip(("Red", "Green", "Blue"), lut, strict=True):
        setattr(ds, f"{colour}PaletteColorLookupTableDescriptor", [256, 0, 16])
        setattr(ds, f"{colour}PaletteColorLookupTableData", table.tobytes())
    img = read_dicom(save(ds, tmp_path / "pal.dcm"))
    want = np.rint(np.stack([lut[c][idx] for c in range(3)], axis=-1) / 65535 * 255)
    assert img.mode == "RGB" and np.array_equal(pixels(img), want.astype(np.uint8))


def test_real_palette_file_from_pydicom():
    path = get_testdata_file("examples_palette.dcm")
    ds = pydicom.dcmread(path)
    first = ds.RedPaletteColorLookupTableDescriptor[1]
    idx = np.clip(ds.pixel_array.astype(int) - first, 0, 255)
    luts = [np.frombuffer(getattr(ds, f"{c}PaletteColorLookupTableData"), "<u2").astype(float)
            for c in ("Red", "Green", "Blue")]
    want = np.rint(np.stack([lut[idx] for lut in luts], axis=-1) / 65535 * 255).astype(np.uint8)
    got = pixels(read_dicom(path))
    assert np.array_equal(got, want)
    assert np.corrcoef(got[..., 0].ravel(), idx.ravel())[0, 1] < 0.99  # not the indices


def _enhanced(tmp_path, frames: np.ndarray):
    """Enhanced CT: rescale in the shared functional groups, a window per frame, none on top."""
    ds = dataset(frames, EnhancedCTImageStorage)
    shared = Dataset()
    pvt = Dataset()
    pvt.RescaleSlope, pvt.RescaleIntercept, pvt.RescaleType = 1, -1024, "HU"
    shared.PixelValueTransformationSequence = Sequence([pvt])
    orient = Dataset()
    orient.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    shared.PlaneOrientationSequence = Sequence([orient])
    ds.SharedFunctionalGroupsSequence = Sequence([shared])
    windows = [(40, 400), (300, 1500), (-600, 1200)]
    per_frame = []
    for centre, width in windows:
        item, voi = Dataset(), Dataset()
        voi.WindowCenter, voi.WindowWidth = centre, width
        item.FrameVOILUTSequence = Sequence([voi])
        per_frame.append(item)
    ds.PerFrameFunctionalGroupsSequence = Sequence(per_frame)
    return save(ds, tmp_path / "src" / "bleed" / "enh.dcm"), windows


def test_enhanced_multiframe_uses_functional_groups(tmp_path, h):
    rng = np.random.default_rng(1)
    frames = rng.integers(0, 2400, (3, 16, 16)).astype(np.uint16)
    path, windows = _enhanced(tmp_path, frames)
    hu = frames.astype(float) - 1024
    for k, (centre, width) in enumerate(windows):
        assert np.array_equal(pixels(read_dicom(path, frame=k)), linear(hu[k], centre, width))
    # --window is in Hounsfield units (after the functional groups' rescale), not stored values
    got = pixels(read_dicom(path, frame=1, window=(49.0, 102.0)))
    assert np.array_equal(got, user_window(hu[1], 49.0, 102.0))
    # --slices every:1: one record per frame, each through its own window
    out = tmp_path / "out"
    ingest(tmp_path / "src", "dicom", out, slices="every:1", test_frac=0.0, **CT)
    recs = h.by_id(out)
    assert sorted(recs) == [f"bleed/enh.dcm#frame{k}" for k in range(3)]
    for k, (centre, width) in enumerate(windows):
        with Image.open(out / recs[f"bleed/enh.dcm#frame{k}"].image) as im:
            assert np.array_equal(np.asarray(im), linear(hu[k], centre, width))
        assert recs[f"bleed/enh.dcm#frame{k}"].group == "patient:p1"


def test_monochrome1_is_inverted_after_rescale_and_window(tmp_path):
    stored = np.tile(np.arange(0, 4000, 250, dtype=np.uint16), (4, 1))
    ds = dataset(stored, PhotometricInterpretation="MONOCHROME1", RescaleSlope=0.5,
                 RescaleIntercept=100, WindowCenter=600, WindowWidth=800)
    got = pixels(read_dicom(save(ds, tmp_path / "cr.dcm")))
    assert np.array_equal(got, 255 - linear(stored * 0.5 + 100, 600, 800))
    assert got[0, 0] == 255 and got[0, -1] == 0  # low values bright, high values dark


def test_real_ct_in_hounsfield_units():
    path = get_testdata_file("CT_small.dcm")
    ds = pydicom.dcmread(path)
    hu = ds.pixel_array * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
    assert np.array_equal(pixels(read_dicom(path, window=(40, 400))), user_window(hu, 40, 400))


def test_preamble_less_files_are_read_with_force(tmp_path):
    ramp = np.arange(64, dtype=np.uint16).reshape(8, 8) * 10
    full = save(dataset(ramp, WindowCenter=315, WindowWidth=640), tmp_path / "full.dcm")
    want = linear(ramp.astype(float), 315, 640)
    data = full.read_bytes()
    assert data[128:132] == b"DICM"
    (tmp_path / "nopre.dcm").write_bytes(data[132:])  # File Meta header, no preamble
    bare = dataset(ramp, WindowCenter=315, WindowWidth=640)
    del bare.file_meta
    pydicom.dcmwrite(tmp_path / "bare.dcm", bare, implicit_vr=True, little_endian=True)
    for name in ("full.dcm", "nopre.dcm", "bare.dcm"):
        assert np.array_equal(pixels(read_dicom(tmp_path / name)), want), name
    (tmp_path / "notes.dcm").write_text("not dicom at all\n" * 20)
    with pytest.raises(MedmatError, match="not a DICOM file"):
        read_dicom(tmp_path / "notes.dcm")


def test_truncation_and_missing_decoder_messages(tmp_path, monkeypatch):
    with pytest.raises(MedmatError, match="truncated DICOM file: the pixel data has 8130 of the "
                                          "8192 bytes"):
        read_dicom(get_testdata_file("MR_truncated.dcm"))
    full = save(dataset(np.zeros((32, 32), np.uint16)), tmp_path / "a.dcm")
    (tmp_path / "cut.dcm").write_bytes(full.read_bytes()[:-1000])
    with pytest.raises(MedmatError, match="truncated DICOM file") as exc:
        read_dicom(tmp_path / "cut.dcm")
    assert "pylibjpeg" not in str(exc.value)  # not blamed on a codec
    lossless = get_testdata_file("SC_rgb_jpeg_gdcm.dcm")  # JPEG Lossless SV1
    from pydicom.pixels.decoders.base import Decoder

    with monkeypatch.context() as m:
        m.setattr(Decoder, "is_available", property(lambda self: False))
        with pytest.raises(MedmatError, match=r"no decoder installed for JPEG Lossless.*"
                                              r"pip install 'medmat\[dicom\]'"):
            read_dicom(lossless)


@pytest.mark.parametrize(("compressed", "reference"), [
    ("SC_rgb_jpeg_gdcm.dcm", "SC_rgb_rle.dcm"),  # JPEG Lossless SV1 vs RLE (native decoder)
    ("MR_small_jpeg_ls_lossless.dcm", "MR_small.dcm"),  # JPEG-LS lossless vs uncompressed
])
def test_lossless_syntaxes_decode_like_their_uncompressed_twin(compressed, reference):
    pytest.importorskip("pylibjpeg")
    pytest.importorskip("libjpeg")
    got = pixels(read_dicom(get_testdata_file(compressed)))
    assert np.array_equal(got, pixels(read_dicom(get_testdata_file(reference))))
    ds = pydicom.dcmread(get_testdata_file(reference))
    if ds.PhotometricInterpretation == "MONOCHROME2":  # file window 600/1600, LINEAR
        assert np.array_equal(got, linear(ds.pixel_array.astype(float), 600, 1600))
    else:
        assert np.array_equal(got, ds.pixel_array)


def test_jpeg_extended_12bit_and_truncated_codestream(tmp_path):
    pytest.importorskip("pylibjpeg")
    pytest.importorskip("libjpeg")
    path = get_testdata_file("JPGExtended.dcm")
    stored = pydicom.dcmread(path).pixel_array.astype(float)
    lo, hi = np.percentile(stored, [0.5, 99.5])  # no window in the file: percentile range
    want = np.rint(np.clip((stored - lo) / (hi - lo), 0, 1) * 255).astype(np.uint8)
    assert np.array_equal(pixels(read_dicom(path)), want)
    data = open(path, "rb").read()
    (tmp_path / "cut.dcm").write_bytes(data[: len(data) * 2 // 3])
    with pytest.raises(MedmatError, match="truncated DICOM file: it ends inside its pixel data"):
        read_dicom(tmp_path / "cut.dcm")


def test_orientation_puts_patient_left_on_image_right(tmp_path):
    img = np.zeros((6, 8), np.uint16)
    img[2, 1] = 1000  # stored near column 0
    stored = dataset(img, ImageOrientationPatient=[1, 0, 0, 0, 1, 0], WindowCenter=500,
                     WindowWidth=1000)
    flipped = dataset(img, ImageOrientationPatient=[-1, 0, 0, 0, 1, 0], WindowCenter=500,
                      WindowWidth=1000)
    a = pixels(read_dicom(save(stored, tmp_path / "a.dcm")))
    b = pixels(read_dicom(save(flipped, tmp_path / "b.dcm")))
    assert np.array_equal(a, linear(img.astype(float), 500, 1000))  # standard: as stored
    assert np.array_equal(b, a[:, ::-1])  # columns ran toward the patient's right: mirrored
