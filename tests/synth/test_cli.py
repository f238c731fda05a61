"""`medmat synth --out DIR ...` through the CLI entry point: selection, summary, errors."""

from __future__ import annotations

import json

import pytest

from medmat.cli import main
from medmat.records import read_records


def run(argv, capsys):
    try:
        main(argv)
        code = 0
    except SystemExit as exc:
        code = exc.code
    out = capsys.readouterr()
    return code, out.out, out.err


def synth(out, *extra):
    return ["synth", "--out", str(out), "--n-train", "4", "--n-test", "2", "--size", "32",
            "--workers", "1", *extra]


def subsets(out):
    return sorted({r.subset for r in read_records(out)})


def test_cells_as_ids_and_names_with_summary(tmp_path, capsys):
    out = tmp_path / "lab"
    code, stdout, err = run(synth(out, "--cells", "xray-lung-lesion, CT/brain/severity",
                                  "--cells", "Fundus/Kidney/location,XRAY-LUNG-LESION"), capsys)
    assert code == 0, err
    assert subsets(out) == ["ct-brain-severity", "fp-kidney-location", "xray-lung-lesion"]
    for name in ("records.parquet", "lab.json", "contact_sheet.png"):
        assert (out / name).is_file()
    assert "3 cells, 18 images" in stdout and "ct-brain-severity" in stdout
    assert str(out / "records.parquet") in stdout and str(out / "contact_sheet.png") in stdout


def test_filters_give_the_product_and_restrict_a_source(tmp_path, capsys):
    out = tmp_path / "product"
    code, _, err = run(synth(out, "--modalities", "X-ray,us", "--areas", "lung",
                             "--areas", "Kidneys", "--tasks", "location", "-q"), capsys)
    assert code == 0, err
    assert subsets(out) == ["us-kidney-location", "us-lung-location", "xray-kidney-location",
                            "xray-lung-location"]
    out = tmp_path / "restricted"
    code, _, err = run(synth(out, "--all", "--modalities", "mic", "--tasks", "abnormal", "-q"),
                       capsys)
    assert code == 0, err
    assert subsets(out) == [f"mic-{a}-abnormal" for a in
                            ("bones", "brain", "breast", "kidney", "lung")]


def test_lattice_file(tmp_path, capsys):
    lattice = tmp_path / "lattice.yaml"
    lattice.write_text("cells:\n  - mri-brain-lesion\n  - X-ray/Bones/Severity grade\n"
                       "  - {modality: Microscopy, area: Breast, task: Location}\n")
    out = tmp_path / "lab"
    code, stdout, err = run(synth(out, "--lattice", str(lattice), "--n-val", "1", "--null",
                                  "--no-contact-sheet"), capsys)
    assert code == 0, err
    assert subsets(out) == ["mic-breast-location", "mri-brain-lesion", "xray-bones-severity"]
    assert not (out / "contact_sheet.png").exists() and "contact sheet" not in stdout
    assert json.loads((out / "lab.json").read_text())["config"]["null"] is True
    assert "null (negative control)" in stdout


def test_quiet_prints_nothing(tmp_path, capsys):
    code, stdout, _ = run(synth(tmp_path / "q", "--cells", "ct-lung-location", "-q"), capsys)
    assert code == 0 and stdout == ""


def test_big_lattice_summary_is_per_modality(tmp_path, capsys):
    code, stdout, err = run(["synth", "--out", str(tmp_path / "all"), "--all", "--n-train", "1",
                             "--n-test", "0", "--size", "16", "--workers", "1"], capsys)
    assert code == 0, err
    assert "150 cells, 150 images" in stdout and "Fundus photography" in stdout
    assert "xray-lung-lesion" not in stdout  # rows are modalities, not 150 cells


def test_help_explains_the_lab(capsys):
    code, stdout, _ = run(["synth", "--help"], capsys)
    assert code == 0
    for phrase in ("negative control", "Deterministic", "--null", "--lattice", "render_M"):
        assert phrase in stdout


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--cells", "xray-lung-tumour"], "unknown code"),
        (["--cells", "xray-lung"], "not a lab subset id"),
        (["--cells", "X-ray/Lung"], "'Modality/Area/Task'"),
        (["--cells", "Dermoscopy/Skin/Lesion type"], "cannot draw modality 'Dermoscopy'"),
        (["--cells", ","], "no cell given"),
        (["--modalities", "banana"], "unknown modality 'banana'"),
        (["--modalities", "OCT"], "cannot draw modality 'OCT'; it draws: X-ray (xray)"),
        (["--areas", "liver"], "cannot draw area 'Liver'"),
        (["--tasks", "covid"], "cannot draw task 'COVID-19'"),
        (["--all", "--cells", "ct-lung-lesion"], "give only one of"),
        ([], "choose what to generate"),
        (["--cells", "ct-lung-lesion", "--size", "8"], "--size 8"),
        (["--cells", "ct-lung-lesion", "--size", "1024"], "between 16 and 512"),
        (["--cells", "ct-lung-lesion", "--n-train", "0", "--n-test", "0"], "all 0"),
        (["--cells", "ct-lung-lesion", "--n-val", "-1"], "--n-val -1"),
        (["--cells", "ct-lung-lesion", "--seed", "-2"], "--seed -2"),
        (["--cells", "ct-lung-lesion", "--workers", "0"], "--workers 0"),
        (["--cells", "ct-lung-lesion", "--modalities", "mri"], "matches the"),
    ],
)
def test_errors_exit_2_and_write_nothing(tmp_path, capsys, extra, message):
    out = tmp_path / "lab"
    code, stdout, err = run(synth(out, *extra), capsys)
    assert code == 2 and err.startswith("error: ") and message in err, err
    assert not out.exists()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "file not found"),
        ("cells: [unclosed", "not valid YAML"),
        ("[]", "non-empty YAML list"),
        ("xray-lung-lesion", "non-empty YAML list"),
        ("- ct-lung-lesion\n- 42\n", "entry 2"),
        ("- ct-lung-lesion\n- {modality: CT, area: Lung}\n", "entry 2"),
        ("- ct-lung-lesion\n- ct-lung-nope\n", "entry 2: 'ct-lung-nope'"),
    ],
)
def test_lattice_errors(tmp_path, capsys, content, message):
    lattice = tmp_path / "lattice.yaml"
    if content is not None:
        lattice.write_text(content)
    out = tmp_path / "lab"
    code, _, err = run(synth(out, "--lattice", str(lattice)), capsys)
    assert code == 2 and message in err, err
    assert not out.exists()


def test_rerun_with_another_config_is_refused(tmp_path, capsys, helpers):
    out = tmp_path / "lab"
    assert run(synth(out, "--cells", "us-breast-lesion", "-q"), capsys)[0] == 0
    before = helpers.tree_bytes(out)
    code, _, err = run(synth(out, "--cells", "us-breast-lesion", "--null"), capsys)
    assert code == 2 and "holds a lab made with" in err
    assert helpers.tree_bytes(out) == before
