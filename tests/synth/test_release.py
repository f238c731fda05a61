"""The mock Med-MAT release: size model, label spaces, published layout, determinism, errors."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from medmat.catalog import load_catalog
from medmat.cli import main
from medmat.errors import MedmatError
from medmat.ingest.sources.medmat_json import NAME_RE, parse_options
from medmat.synth import release
from medmat.synth.release import image_labels, plan_release, write_release

KEYS = {"id", "caption", "image", "Question", "Answer", "Question-choice", "Answer-choice",
        "data-no"}
CLOSING = "Answer with the option's letter from the given choices directly."
SPEC = yaml.safe_load((Path(release.__file__).parent / "release.yaml").read_text("utf-8"))
SUBSETS = ("03", "05", "15", "28")  # a single-class-size, a tiny, a multi-label, a big one
SCALE = 0.002


def expected_rows(no: str, scale: float) -> dict[str, int]:
    """The documented size model, written out again: >= 3 rows per label, 10% test >= 1/label."""
    entry = SPEC["subsets"][no]
    n_labels = len(entry["labels"])
    n = max(3 * n_labels, round(entry["rows"] * scale))
    test = max(n_labels, round(n * 0.1))
    return {"train": n - test, "test": test}


def read_items(out: Path, no: str, split: str) -> list[dict]:
    return json.loads((out / "Aggregated_Subsets" / f"Subset--{no}-{split}.json").read_text())


def tree_digests(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def mock(tmp_path_factory):
    out = tmp_path_factory.mktemp("mock") / "release"
    summary = write_release(out, SCALE, seed=3, subsets=SUBSETS)
    return out, summary


def test_size_model_at_scale_1_is_the_release_shape():
    plans = plan_release(1.0)
    released = sorted(s.no for s in load_catalog().subsets
                      if s.released and s.task != "Detection/segmentation")
    assert [p.no for p in plans] == released and len(plans) == 37
    assert sum(sum(p.rows.values()) for p in plans) == 2_360_000
    # images in train, as the records will count them (multi-label: fewer images than rows)
    train = {p.no: len(image_labels(p, "train")) for p in plans}
    test_only = sorted(no for no, n in train.items() if n < 3000)
    assert len(test_only) == 12 and "05" in test_only  # the study: 25 in-distribution + 12 OOD
    assert not {"02", "13", "04", "06", "26", "28"} & set(test_only)
    assert test_only == sorted(p.no for p in plans if p.ood)


@pytest.mark.parametrize("scale", [1.0, 0.01, 0.0001])
def test_rows_per_split_follow_the_size_model(scale):
    for p in plan_release(scale):
        assert p.rows == expected_rows(p.no, scale), p.no


def test_catalog_triplets_datasets_and_label_spaces(mock):
    out, summary = mock
    cat = load_catalog()
    for no in SUBSETS:
        entry, s = cat.subset(no), summary["subsets"][no]
        assert s["mat"] == f"{entry.modality} / {entry.area} / {entry.task}"
        assert s["labels"] == SPEC["subsets"][no]["labels"]
        options, answers, data_nos = set(), set(), set()
        for split in ("train", "test"):
            for it in read_items(out, no, split):
                options.update(parse_options(it["Question-choice"]))
                answers.add(it["Answer"])
                data_nos.add(int(it["data-no"]))
        assert options == answers == set(SPEC["subsets"][no]["labels"])
        assert data_nos <= set(entry.dataset_nos) and data_nos


def test_items_have_the_published_shape(mock):
    out, summary = mock
    for no in SUBSETS:
        for split in ("train", "test"):
            items = read_items(out, no, split)
            assert NAME_RE.match(f"Subset--{no}-{split}.json")
            assert len(items) == expected_rows(no, SCALE)[split] == summary["subsets"][no][
                "rows"][split]
            assert [it["id"] for it in items] == list(range(len(items)))
            for it in items:
                assert set(it) == KEYS and isinstance(it["data-no"], str)
                lines = it["Question-choice"].split("\n")
                assert lines[0] == it["Question"] and lines[-1] == CLOSING
                opts = parse_options(it["Question-choice"])
                assert 2 <= len(opts) <= 4 and len(set(opts)) == len(opts)
                assert opts[ord(it["Answer-choice"]) - 65] == it["Answer"]


def test_test_split_is_label_balanced_and_multilabel_rows_share_images(mock):
    out, summary = mock
    for no in SUBSETS:
        labels = SPEC["subsets"][no]["labels"]
        firsts = {}
        for it in read_items(out, no, "test"):
            firsts.setdefault(it["image"], it["Answer"])  # an image's first row: its first label
        counts = [list(firsts.values()).count(lab) for lab in labels]
        assert max(counts) - min(counts) <= 1, (no, counts)
    rows = read_items(out, "15", "train")
    images = {it["image"] for it in rows}
    assert len(images) == summary["subsets"]["15"]["images"]["train"] < len(rows)
    by_image: dict[str, list[str]] = {}
    for it in rows:
        by_image.setdefault(it["image"], []).append(it["Answer"])
        # a distractor is never another true label of the same image
    for it in rows:
        assert not set(parse_options(it["Question-choice"])) - {it["Answer"]} & set(
            by_image[it["image"]])


def test_paths_have_spaces_and_parentheses_and_resolve_to_distinct_pngs(mock):
    out, summary = mock
    paths = {it["image"] for no in SUBSETS for s in ("train", "test")
             for it in read_items(out, no, s)}
    assert len(paths) == sum(sum(s["images"].values()) for s in summary["subsets"].values())
    digests = set()
    for rel in paths:
        folder, name = rel.rsplit("/", 1)
        assert " " in folder and "(" in folder and " (" in name and name.endswith(").png"), rel
        with Image.open(out / rel) as im:
            assert im.size == (16, 16) and im.mode == "L"
        digests.add(hashlib.sha256((out / rel).read_bytes()).hexdigest())
    assert len(digests) == len(paths)  # noise: no two images are equal


def test_the_label_is_in_the_pixels(mock):
    """The label's grid cell is the brightest: a model can learn the label from the image."""
    out, _ = mock
    labels = SPEC["subsets"]["28"]["labels"]
    for it in read_items(out, "28", "train"):
        img = np.asarray(Image.open(out / it["image"]), dtype=float)
        cells = [img[r * 4:(r + 1) * 4, c * 4:(c + 1) * 4].mean()
                 for r in range(4) for c in range(4)]
        assert int(np.argmax(cells)) == labels.index(it["Answer"])


def test_same_seed_byte_identical_other_seed_differs(tmp_path, mock):
    out, _ = mock
    again = tmp_path / "again"
    write_release(again, SCALE, seed=3, subsets=SUBSETS)
    assert tree_digests(again) == tree_digests(out)
    other = tmp_path / "other"
    write_release(other, SCALE, seed=4, subsets=SUBSETS)
    a, b = tree_digests(out), tree_digests(other)
    assert a.keys() == b.keys()  # same layout ...
    pngs = [k for k in a if k.endswith(".png")]
    assert sum(a[k] != b[k] for k in pngs) == len(pngs)  # ... other pixels


def test_summary_manifest_and_readme(mock):
    out, summary = mock
    assert json.loads((out / "mock-release.json").read_text()) == summary
    man = json.loads((out / "manifest.json").read_text())
    assert man["kind"] == "mock-release" and man["config"]["subsets"] == list(SUBSETS)
    assert "Aggregated_Subsets/Subset--28-test.json" in man["outputs"]
    readme = (out / "README.md").read_text()
    assert "| 28 | X-ray / Lung / COVID-19 | 4 |" in readme and "MOCK DATA" in readme


def test_a_failure_leaves_nothing_behind(tmp_path, monkeypatch):
    calls = {"n": 0}
    real = release.render_image

    def flaky(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] > 5:
            raise OSError(28, "No space left on device")
        return real(*args, **kwargs)

    monkeypatch.setattr(release, "render_image", flaky)
    with pytest.raises(OSError):
        write_release(tmp_path / "rel", 0.001, subsets=["03"])
    assert list(tmp_path.iterdir()) == []  # no folder, no staging leftovers


@pytest.mark.parametrize("kwargs, words", [
    ({"scale": 0}, "(0, 1]"), ({"scale": 1.5}, "(0, 1]"), ({"scale": float("nan")}, "(0, 1]"),
    ({"scale": 0.01, "size": 4}, "8..64"), ({"scale": 0.01, "seed": -1}, ">= 0"),
    ({"scale": 0.01, "subsets": ["40"]}, "'40': not a released"),
    ({"scale": 0.01, "subsets": ["x"]}, "'x'"),
])
def test_bad_arguments_name_the_fix_and_write_nothing(tmp_path, kwargs, words):
    with pytest.raises(MedmatError, match=None) as err:
        write_release(tmp_path / "rel", **kwargs)
    assert words in str(err.value)
    assert not (tmp_path / "rel").exists()


def test_cli_refuses_a_foreign_folder_and_replaces_only_with_force(tmp_path, capsys):
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep")
    with pytest.raises(SystemExit) as exc:
        main(["mock-release", "--scale", "0.001", "--subsets", "05", "--out", str(foreign)])
    assert exc.value.code == 2 and "not made by medmat" in capsys.readouterr().err
    assert (foreign / "notes.txt").read_text() == "keep"
    out = tmp_path / "rel"
    argv = ["mock-release", "--scale", "0.001", "--subsets", "5,03", "--out", str(out)]
    main(argv)
    stdout = capsys.readouterr().out
    assert "2 subsets, 26 rows, 26 images" in stdout and "--images-root" in stdout
    with pytest.raises(SystemExit):
        main(argv)
    assert "--force" in capsys.readouterr().err
    main([*argv[:-3], "05", "--out", str(out), "--force", "-q"])
    assert sorted(p.name for p in (out / "Aggregated_Subsets").iterdir()) == [
        "Subset--05-test.json", "Subset--05-train.json"]


def test_png_bytes_decode_to_the_rendered_pixels(mock):
    out, _ = mock
    plans = {p.no: p for p in plan_release(SCALE, SUBSETS)}
    it = read_items(out, "03", "test")[2]
    labels = image_labels(plans["03"], "test")[2]
    want = release.render_image(plans["03"], labels, 3, "test", 2, 16)
    got = np.asarray(Image.open(io.BytesIO((out / it["image"]).read_bytes())))
    assert np.array_equal(got, want)
