"""Hostile input refused at the door by `medmat ingest` (issue 9, "Validate at the door" and the
archive half of "Bounded resources").

Every dataset is generated here. Each case checks the message (the file or row named, and the
fix) and that nothing was written: no output folder, no staging folder left beside it. With
``--on-error skip`` the bad rows are dropped and counted, with their reasons, in the report.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from medmat.errors import MedmatError
from medmat.ingest import ingest
from medmat.ingest.options import IngestOptions
from medmat.ingest.sources.medmnist import scan_medmnist
from medmat.records import ImageRecord, read_records, write_records

MAT = {"modality": "X-ray", "area": "Lung", "task": "COVID-19"}
OPTIONS = "A: Glioma\nB: Meningioma\nC: No tumor"


@pytest.fixture(autouse=True)
def _quiet(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEDMAT_PROGRESS", "0")


@pytest.fixture
def src(tmp_path: Path) -> Path:
    """The dataset folder (outputs go to tmp_path/out, outside it)."""
    folder = tmp_path / "data"
    folder.mkdir()
    return folder


def _image(path: Path, seed: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(seed).integers(0, 256, (8, 8, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path, format="PNG")
    return path


def _images(src: Path, n: int) -> list[str]:
    return [_image(src / f"{i}.png", i).name for i in range(n)]


def _csv(path: Path, rows: list[list[str]]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(rows)
    return path


def _jsonl(path: Path, rows: list[object]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def _fails(tmp_path: Path, source: Path, fmt: str, *needles: str, **kwargs: object) -> str:
    """Ingest must raise MedmatError containing every needle and leave no output at all."""
    out = tmp_path / "out"
    with pytest.raises(MedmatError) as err:
        ingest(source, fmt, out, **kwargs)
    msg = str(err.value)
    for needle in needles:
        assert needle in msg, (needle, msg)
    assert "Traceback" not in msg
    assert not out.exists(), "a failed ingest created its output folder"
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".out.")], "staging left"
    return msg


def _skips(tmp_path: Path, source: Path, fmt: str, **kwargs: object) -> tuple[dict, dict]:
    """Ingest with --on-error skip; returns the report as written and the records by id."""
    out = tmp_path / "out"
    ingest(source, fmt, out, on_error="skip", test_frac=0.0, **kwargs)
    report = json.loads((out / "ingest-report.json").read_text(encoding="utf-8"))
    assert report["counts"]["skipped"] == len(report["skipped"])
    return report, {r.record_id: r for r in read_records(out)}


# --- labels ---------------------------------------------------------------------------------


def test_label_with_a_newline_would_forge_an_option_line(tmp_path, src):
    names = _images(src, 3)
    table = _csv(src / "t.csv", [["file", "label"], [names[0], "normal"],
                                 [names[1], "covid\nB: normal"], [names[2], "covid"]])
    msg = _fails(tmp_path, table, "csv", "1 of 3 row(s) cannot be ingested", "t.csv line ",
                 "1.png", "U+000A", "must be one line", "--on-error skip", **MAT)
    assert "\nB: normal" not in msg  # the label is shown escaped, never as a second line
    report, recs = _skips(tmp_path, table, "csv", **MAT)
    assert report["counts"] == {**report["counts"], "rows": 3, "records": 2, "skipped": 1}
    assert report["skipped"][0]["item"].endswith(": 1.png")
    assert sorted(r.labels[0] for r in recs.values()) == ["covid", "normal"]


@pytest.mark.parametrize("char", ["\x00", "\t", "\x1b", "\x85", "\u2028"])
def test_label_with_a_control_character(tmp_path, src, char):
    names = _images(src, 2)
    table = _jsonl(src / "m.jsonl", [{"file": names[0], "label": f"co{char}vid"},
                                     {"file": names[1], "label": "normal"}])
    _fails(tmp_path, table, "csv", "m.jsonl line 1: 0.png", f"U+{ord(char):04X}",
           "one line of printable text", **MAT)
    report, recs = _skips(tmp_path, table, "csv", **MAT)
    assert report["counts"]["skipped"] == 1 and list(recs) == ["1.png"]


def test_label_repeated_in_a_multi_label_record(tmp_path, src):
    names = _images(src, 3)
    table = _csv(src / "t.csv", [["file", "labels"], [names[0], "mass|effusion|mass"],
                                 [names[1], "mass"], [names[2], "effusion|mass"]])
    _fails(tmp_path, table, "csv", "t.csv line 2: 0.png", "label 'mass' is listed twice",
           "list each label once", label_sep="|", **MAT)
    jsonl = _jsonl(src / "m.jsonl", [{"file": names[0], "labels": ["a", "b", "a"]},
                                     {"file": names[1], "labels": ["a"]}])
    _fails(tmp_path, jsonl, "csv", "m.jsonl line 1: 0.png", "label 'a' is listed twice", **MAT)
    report, recs = _skips(tmp_path, table, "csv", label_sep="|", **MAT)
    assert report["counts"]["skipped"] == 1
    assert recs["2.png"].labels == ("effusion", "mass") and "0.png" not in recs


@pytest.mark.parametrize(("value", "kind"), [({"name": "covid"}, "an object"), (3, "a number"),
                                             (2.5, "a number"), (True, "a boolean")])
def test_json_value_where_a_label_string_is_expected(tmp_path, src, value, kind):
    names = _images(src, 2)
    table = _jsonl(src / "m.jsonl", [{"file": names[0], "label": "normal"},
                                     {"file": names[1], "label": "covid", "finding": value}])
    _fails(tmp_path, table, "csv", "m.jsonl line 2: 1.png",
           f"label in column 'finding' is {kind}, not text", "write the label as a JSON string",
           label_column="finding", none_label="none", **MAT)
    # a list is a multi-label cell: its elements must be strings too
    listed = _jsonl(src / "l.jsonl", [{"file": names[0], "labels": ["a", value]},
                                      {"file": names[1], "labels": ["a", ["b"]]}])
    _fails(tmp_path, listed, "csv", "2 of 2 row(s)", f"l.jsonl line 1: 0.png: label in column "
           f"'labels' is {kind}, not text", "l.jsonl line 2: 1.png: label in column 'labels' is "
           "a list, not text", **MAT)


def test_medmat_json_answer_that_is_not_a_string(tmp_path, src):
    _image(src / "a.png", 1)
    _image(src / "b.png", 2)
    items = [{"id": 0, "image": "a.png", "Answer": {"text": "Glioma"}, "data-no": "45",
              "Question-choice": OPTIONS, "Answer-choice": "A"},
             {"id": 1, "image": "b.png", "Answer": "Glioma", "data-no": 45,
              "Question-choice": OPTIONS, "Answer-choice": "A"},
             {"id": 2, "image": ["a.png"], "Answer": "Glioma", "data-no": "45",
              "Question-choice": OPTIONS, "Answer-choice": "A"},
             {"id": 3, "image": "b.png", "Answer": "Glioma", "data-no": "45",
              "Question-choice": OPTIONS.replace("Meningioma", "Menin\tgioma"),
              "Answer-choice": "A"}]
    qa = src / "ori--45-train.json"
    qa.write_text(json.dumps(items), encoding="utf-8")
    _fails(tmp_path, qa, "medmat-json", "3 of 4 row(s)", "ori--45-train.json item 0 (id 0)",
           "'Answer' is an object, not text; write the label as a JSON string",
           "item 2 (id 2): 'image' is a list, not text", "option 'Menin\\tgioma' contains U+0009")
    report, recs = _skips(tmp_path, qa, "medmat-json")
    assert report["counts"]["skipped"] == 3 and report["counts"]["records"] == 1
    assert [r.labels for r in recs.values()] == [("Glioma",)]  # data-no 45 as a number is fine


def test_nul_byte_in_a_csv_names_the_file_and_row(tmp_path, src):
    names = _images(src, 3)
    text = f"file,label\n{names[0]},normal\n{names[1]},cov\x00id\n{names[2]},covid\n"
    (src / "t.csv").write_text(text, encoding="utf-8")
    _fails(tmp_path, src / "t.csv", "csv", "t.csv line 3", "NUL byte",
           "re-save the table as UTF-8 text", **MAT)
    (src / "h.csv").write_text("fi\x00le,label\n0.png,a\n", encoding="utf-8")
    _fails(tmp_path, src / "h.csv", "csv", "h.csv: the header row contains a NUL byte", **MAT)
    report, recs = _skips(tmp_path, src / "t.csv", "csv", **MAT)
    assert report["skipped"] == [{"item": "t.csv line 3", "reason": report["skipped"][0]["reason"]}]
    assert sorted(recs) == ["0.png", "2.png"]


def test_duplicate_column_names_in_a_csv_header(tmp_path, src):
    names = _images(src, 1)
    _csv(src / "t.csv", [["file", "label", "label"], [names[0], "a", "b"]])
    _fails(tmp_path, src / "t.csv", "csv", "t.csv: column name(s) ['label'] appear more than once",
           "rename them", **MAT)


def test_folder_named_with_a_newline_is_not_a_label(tmp_path, src):
    _image(src / "normal" / "a.png", 1)
    _image(src / "covid" / "b.png", 2)
    _image(src / "covid\nB: normal" / "c.png", 3)
    _fails(tmp_path, src, "folder", "1 of 3 row(s)", "U+000A", "rename the file", **MAT)
    report, recs = _skips(tmp_path, src, "folder", **MAT)
    assert report["counts"]["skipped"] == 1 and sorted(recs) == ["covid/b.png", "normal/a.png"]


def test_dataset_folder_name_is_checked_as_the_source_column(tmp_path):
    src = tmp_path / "x\ry"  # the default source name is the dataset folder's name
    _image(src / "normal" / "a.png", 1)
    _image(src / "covid" / "b.png", 2)
    _fails(tmp_path, src, "folder", "2 of 2 row(s)", "source 'x\\ry' contains U+000D",
           "(pass --source-name)", **MAT)
    ingest(src, "folder", tmp_path / "out", source_name="xy", test_frac=0.0, **MAT)
    assert {r.source for r in read_records(tmp_path / "out")} == {"xy"}


def test_file_name_that_is_not_utf8(tmp_path, src):
    _image(src / "normal" / "a.png", 1)
    _image(src / "covid" / "b.png", 2)
    bad = os.fsencode(src / "covid") + b"/caf\xe9.png"
    with open(bad, "wb") as f:
        f.write((src / "covid" / "b.png").read_bytes())
    _fails(tmp_path, src, "folder", "1 of 3 row(s)", "'covid/caf\\udce9.png'", "rename the file",
           **MAT)
    report, recs = _skips(tmp_path, src, "folder", **MAT)  # the report is still valid UTF-8
    assert report["skipped"][0]["item"] == "'covid/caf\\udce9.png'" and len(recs) == 2


# --- MedMNIST archives ----------------------------------------------------------------------


def _npz(path: Path, labels: np.ndarray, n: int | None = None, **extra: np.ndarray) -> Path:
    n = len(labels) if n is None else n
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
    np.savez_compressed(path, train_images=images, train_labels=labels, **extra)
    return path


def _zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def _npy(shape: tuple[int, ...], descr: str, payload: bytes) -> bytes:
    """A .npy member whose header declares ``shape`` whatever the payload holds."""
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buf, {"descr": descr, "fortran_order": False, "shape": shape})
    return buf.getvalue() + payload


@pytest.mark.parametrize(("labels", "needle"), [
    (np.array([[1], [9], [0]], np.uint8), "unknown label index [9]; octmnist has 4 classes"),
    (np.array([[1], [-1], [0]], np.int64), "unknown label index [-1]"),
    (np.array([[1.0], [np.nan], [0.0]]), "label row [nan] holds NaN"),
    (np.array([[1.0], [2.5], [0.0]]), "label row [2.5] holds a non-integer value"),
])
def test_medmnist_label_out_of_range_nan_or_fractional(tmp_path, src, labels, needle):
    archive = _npz(src / "octmnist.npz", labels)
    _fails(tmp_path, archive, "medmnist", "1 of 3 row(s)", f"octmnist.npz train[1]: {needle}",
           "--on-error skip")
    report, recs = _skips(tmp_path, archive, "medmnist")
    assert report["counts"]["skipped"] == 1 and report["counts"]["records"] == 2
    assert report["skipped"][0]["item"] == "octmnist.npz train[1]"
    assert {k: r.labels[0] for k, r in recs.items()} == {
        "octmnist/train/000000": "diabetic macular edema",
        "octmnist/train/000002": "choroidal neovascularization",
    }


def test_medmnist_integral_float_labels_are_indices(tmp_path, src):
    archive = _npz(src / "octmnist.npz", np.array([[2.0], [0.0]]))
    _, recs = _skips(tmp_path, archive, "medmnist")
    assert [r.labels for r in recs.values()] == [("drusen",), ("choroidal neovascularization",)]


def test_medmnist_string_labels(tmp_path, src):
    archive = _npz(src / "octmnist.npz", np.array([["drusen"], ["normal"]]))
    _fails(tmp_path, archive, "medmnist", "octmnist.npz: train_labels has dtype <U6",
           "labels are integer class indices")


def test_medmnist_object_array_is_never_unpickled(tmp_path, src):
    archive = src / "octmnist.npz"
    np.savez(archive, train_images=np.zeros((1, 28, 28), np.uint8),
             train_labels=np.array([[{"x": 1}]], dtype=object))
    _fails(tmp_path, archive, "medmnist", "octmnist.npz: train_labels.npy: holds Python objects",
           "never unpickles")


def test_medmnist_huge_declared_shape_is_refused_before_allocation(tmp_path, src):
    shape = (10**9, 28, 28)  # 784 GB declared, 784 bytes present
    archive = _zip(src / "octmnist.npz", {
        "train_images.npy": _npy(shape, "|u1", bytes(784)),
        "train_labels.npy": _npy((1, 1), "|u1", bytes(1)),
    })
    tracemalloc.start()
    try:
        msg = _fails(tmp_path, archive, "medmnist", "octmnist.npz: train_images.npy",
                     "declares shape (1000000000, 28, 28) of uint8 (784,000,000,000 bytes)",
                     "holds 784 bytes", "truncated or forged")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 32 * 2**20, (peak, msg)


def test_medmnist_archive_over_the_budget(tmp_path, src):
    archive = _npz(src / "octmnist.npz", np.zeros((200, 1), np.uint8))  # 156,800 + 200 bytes
    _fails(tmp_path, archive, "medmnist", "octmnist.npz: its arrays hold 0.15 MB",
           "--max-archive-mb budget of 0.1 MB", "raise --max-archive-mb", max_archive_mb=0.1)
    with pytest.raises(MedmatError, match="--max-archive-mb 0: use a positive number"):
        IngestOptions(max_archive_mb=0)


def test_medmnist_archive_is_streamed_not_loaded(tmp_path, src):
    n, side = 1000, 256  # 65.5 MB of pixels, a few hundred kB compressed
    archive = src / "octmnist.npz"
    np.savez_compressed(archive, train_images=np.zeros((n, side, side), np.uint8),
                        train_labels=np.zeros((n, 1), np.uint8))
    tracemalloc.start()
    try:
        result = scan_medmnist(archive, IngestOptions())
        # in order, skipping ahead (rows with bad labels are never loaded), then back again
        first = [np.asarray(result.candidates[i].load()) for i in (0, 1, n - 1, 5)]
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(result.candidates) == n and all(a.shape == (side, side) for a in first)
    assert peak < 16 * 2**20, f"peak {peak / 2**20:.1f} MB while the archive holds 65.5 MB"


# --- paths ----------------------------------------------------------------------------------


@pytest.mark.parametrize("spelling", ["./a.png", "sub/../a.png", ".//a.png", "a.png"])
def test_same_image_spelt_twice_is_a_duplicate(tmp_path, src, spelling):
    _image(src / "a.png", 1)
    _image(src / "sub" / "b.png", 2)
    table = _csv(src / "t.csv", [["file", "label"], ["a.png", "x"], ["sub//b.png", "y"],
                                 [spelling, "y"], ["sub\\b.png", "x"]])
    if spelling == "sub/../a.png":  # '..' stays refused, whatever it resolves to
        needles = ["escapes the dataset root"]
    else:
        needles = [f"t.csv line 4: {spelling}: listed again (first at t.csv line 2: a.png",
                   "list each image once"]
    _fails(tmp_path, table, "csv", "2 of 4 row(s)", *needles,
           "t.csv line 5: sub\\b.png: listed again (first at t.csv line 3: sub//b.png, the "
           "same path as 'sub/b.png')", **MAT)
    report, recs = _skips(tmp_path, table, "csv", **MAT)
    assert report["counts"]["skipped"] == 2 and sorted(recs) == ["a.png", "sub/b.png"]
    assert recs["a.png"].labels == ("x",) and recs["sub/b.png"].labels == ("y",)


def test_medmat_json_merges_spellings_of_one_image(tmp_path, src):
    _image(src / "im" / "a.png", 1)
    _image(src / "im" / "b.png", 2)
    items = [{"id": i, "image": path, "Answer": ans, "data-no": "45", "Question-choice": OPTIONS}
             for i, (path, ans) in enumerate([("im/a.png", "Glioma"), ("./im//a.png", "Glioma"),
                                              ("im/b.png", "No tumor")])]
    qa = src / "ori--45-train.json"
    qa.write_text(json.dumps(items), encoding="utf-8")
    ingest(qa, "medmat-json", tmp_path / "out", test_frac=0.0)
    recs = {r.record_id: r for r in read_records(tmp_path / "out")}
    assert sorted(recs) == ["ori--45-train/im/a.png", "ori--45-train/im/b.png"]
    assert recs["ori--45-train/im/a.png"].labels == ("Glioma",)


def test_paths_outside_the_root_stay_refused(tmp_path, src):
    _image(tmp_path / "secret.png", 9)
    _images(src, 1)
    table = _csv(src / "t.csv", [["file", "label"], ["0.png", "a"], ["../secret.png", "b"],
                                 [str(tmp_path / "secret.png"), "b"]])
    _fails(tmp_path, table, "csv", "2 of 3 row(s)", "escapes the dataset root",
           "absolute image paths are refused", **MAT)


# --- source files: encoding, nesting, huge integers -----------------------------------------


def _medmat_file(src: Path, text: str | bytes) -> Path:
    path = src / "ori--45-train.json"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def test_non_utf8_source_files(tmp_path, src):
    qa = _medmat_file(src, '[{"image": "a.png", "Answer": "Caf\xe9"}]'.encode("latin-1"))
    _fails(tmp_path, qa, "medmat-json", f"{qa}: not UTF-8 text", "re-save it as UTF-8")
    (src / "m.jsonl").write_bytes('{"file": "a.png", "label": "caf\xe9"}\n'.encode("cp1252"))
    _fails(tmp_path, src / "m.jsonl", "csv", "m.jsonl: not UTF-8 text", **MAT)
    (src / "t.csv").write_bytes("file,label\na.png,caf\xe9\n".encode("latin-1"))
    _fails(tmp_path, src / "t.csv", "csv", "t.csv: not UTF-8 text", "re-save it as UTF-8", **MAT)


def test_deeply_nested_json(tmp_path, src):
    deep = "[" * 100_000 + "]" * 100_000
    qa = _medmat_file(src, deep)
    _fails(tmp_path, qa, "medmat-json", f"{qa}: JSON nested too deeply to read",
           "flatten the structure")
    _images(src, 1)
    line = '{"file": "0.png", "label": ' + "[" * 100_000 + "]" * 100_000 + "}"
    (src / "m.jsonl").write_text('{"file": "0.png", "label": "a"}\n' + line + "\n", "utf-8")
    _fails(tmp_path, src / "m.jsonl", "csv", "m.jsonl line 2: JSON nested too deeply", **MAT)
    report, recs = _skips(tmp_path, src / "m.jsonl", "csv", **MAT)
    assert report["counts"]["skipped"] == 1 and list(recs) == ["0.png"]


def test_huge_integers(tmp_path, src):
    qa = _medmat_file(src, '[{"image": "a.png", "Answer": "Glioma", "data-no": '
                      + "9" * 5000 + "}]")
    _fails(tmp_path, qa, "medmat-json", f"{qa}: holds an integer with more than",
           "remove it or store it as a string")
    _images(src, 2)
    _jsonl(src / "m.jsonl", [{"file": "0.png", "label": "a"}])
    with open(src / "m.jsonl", "a", encoding="utf-8") as f:
        f.write('{"file": "1.png", "label": ' + "1" * 5000 + "}\n")
    _fails(tmp_path, src / "m.jsonl", "csv", "m.jsonl line 2: holds an integer with more than",
           **MAT)


def test_cli_reports_hostile_input_in_one_line(tmp_path, src, capsys):
    from medmat.cli import main

    qa = _medmat_file(src, "[" * 100_000 + "]" * 100_000)
    with pytest.raises(SystemExit) as exit_info:
        main(["ingest", str(qa), "--format", "medmat-json", "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and "Traceback" not in err
    assert "JSON nested too deeply" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_text_options_written_into_every_record(tmp_path, src):
    _images(src, 2)
    table = _csv(src / "t.csv", [["file", "label"], ["0.png", "a"], ["1.png", "b"]])
    for name in ("source_name", "subset", "none_label"):
        _fails(tmp_path, table, "csv", f"--{name.replace('_', '-')} 'x\\nB: y' contains U+000A",
               **{name: "x\nB: y"}, **MAT)
    _fails(tmp_path, table, "csv", "labels='a': pass a list of names, not one string",
           labels="a", **MAT)


# --- the records schema itself --------------------------------------------------------------


@pytest.mark.parametrize(("labels", "needle"), [
    (("a\nB: b",), "U+000A"), (("a", "a"), "listed twice"), ((), "empty label"),
    (("",), "empty label"),
])
def test_records_table_refuses_what_ingest_refuses(tmp_path, labels, needle):
    rec = ImageRecord("r1", "images/a.png", labels, "X-ray", "Lung", "COVID-19", "s", "train")
    with pytest.raises(MedmatError, match=re.escape(needle)):
        write_records(tmp_path / "records", [rec])
    assert not (tmp_path / "records" / "records.parquet").exists()
