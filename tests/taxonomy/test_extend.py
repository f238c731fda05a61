"""The unknown-term error and user extension files (extra_files and MEDMAT_TAXONOMY)."""

from __future__ import annotations

import os
import re

import pytest

from medmat.errors import MedmatError, UnknownTermError
from medmat.taxonomy import ENV_VAR, load_taxonomy, normalize


@pytest.fixture(autouse=True)
def _no_env(monkeypatch):
    monkeypatch.delenv(ENV_VAR, raising=False)


def _write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


def test_unknown_term_error_names_input_closest_and_how_to_extend():
    with pytest.raises(UnknownTermError) as info:
        load_taxonomy().normalize("modality", "Ultrasond")
    msg = str(info.value)
    assert "unknown modality 'Ultrasond'" in msg
    assert "Closest known terms: 'Ultrasound'" in msg
    assert "extra_files" in msg and ENV_VAR in msg
    assert "modality:" in msg and "synonyms:" in msg
    # It is also a MedmatError (CLI prints it) and a KeyError (mapping-like lookups).
    assert isinstance(info.value, MedmatError) and isinstance(info.value, KeyError)


@pytest.mark.parametrize(
    ("kind", "text", "closest"),
    [
        ("modality", "Dermoscpy", "Dermoscopy"),
        ("modality", "Endoscopic imaging", "Endoscopy"),
        ("area", "Kindney", "Kidney"),
        ("area", "Brian", "Brain"),
        ("task", "Hemorrage", "Hemorrhage"),
    ],
)
def test_closest_terms_are_suggested(kind, text, closest):
    with pytest.raises(UnknownTermError) as info:
        load_taxonomy().normalize(kind, text)
    line = next(x for x in str(info.value).splitlines() if x.startswith("Closest"))
    assert repr(closest) in line


def test_error_names_the_place_when_given():
    with pytest.raises(UnknownTermError, match=r"in upstream datasets\.csv row 7"):
        load_taxonomy().normalize("area", "Elbow", where="upstream datasets.csv row 7")


def test_suggested_snippet_really_extends_the_taxonomy(tmp_path):
    """Copying the YAML from the error message into a file makes the term known."""
    with pytest.raises(UnknownTermError) as info:
        load_taxonomy().normalize("area", "Pancreas")
    msg = str(info.value)
    snippet = msg[msg.index("  # my_terms.yaml") : msg.index("and pass it")]
    path = _write(tmp_path / "my_terms.yaml", "\n".join(x[2:] for x in snippet.splitlines()))
    tax = load_taxonomy(extra_files=[path])
    assert tax.normalize("area", "pancreas") == "Pancreas"
    assert tax.code("area", "Pancreas") == "pancreas"


def test_extra_file_adds_terms_and_synonyms(tmp_path):
    path = _write(
        tmp_path / "extra.yaml",
        """
modality:
  - name: PET
    code: pet
    phrase: PET scan
    synonyms: [positron emission tomography]
  - name: CT            # existing term: only adds spellings
    synonyms: [cat-scan image]
area:
  - {name: Pancreas, synonyms: [pancreatic]}
task_rules:
  - {family: Location, keywords: [which side]}
""",
    )
    tax = load_taxonomy(extra_files=[path])
    assert tax.normalize("modality", "Positron Emission Tomography") == "PET"
    assert tax.phrase("modality", "pet") == "PET scan"
    assert tax.normalize("modality", "CAT scan image") == "CT"
    assert tax.code("modality", "CT") == "ct"  # existing code untouched
    assert tax.normalize("area", "pancreatic") == "Pancreas"
    assert tax.code("area", "Pancreas") == "pancreas"  # default code: folded name
    assert tax.normalize("task", "Which side is the lesion on") == "Location"
    # The built-in taxonomy is unchanged.
    assert not load_taxonomy().is_known("modality", "PET")


def test_user_rules_run_before_builtin_rules(tmp_path):
    # Built-in rules call "Cancer Degree Classification" a grade; a user may disagree.
    path = _write(
        tmp_path / "r.yaml", "task_rules:\n  - {family: Cancer, keywords: [cancer degree]}\n"
    )
    assert load_taxonomy().normalize("task", "Cancer Degree Classification") == "Grade"
    assert load_taxonomy([path]).normalize("task", "Cancer Degree Classification") == "Cancer"


def test_conflicting_synonym_is_a_clear_error(tmp_path):
    path = _write(tmp_path / "bad.yaml", "modality:\n  - {name: PET, synonyms: [US]}\n")
    with pytest.raises(MedmatError) as info:
        load_taxonomy(extra_files=[path])
    msg = str(info.value)
    assert "'US'" in msg and "Ultrasound" in msg and str(path) in msg


def test_conflicting_code_is_a_clear_error(tmp_path):
    path = _write(tmp_path / "bad.yaml", "modality:\n  - {name: CT, code: cat}\n")
    with pytest.raises(MedmatError, match=r"already has code 'ct'"):
        load_taxonomy(extra_files=[path])


def test_env_var_is_read_by_default_taxonomy(tmp_path, monkeypatch):
    a = _write(tmp_path / "a.yaml", "modality:\n  - {name: PET, code: pet}\n")
    b = _write(tmp_path / "b.yaml", "area:\n  - {name: Pancreas}\n")
    monkeypatch.setenv(ENV_VAR, os.pathsep.join([str(a), "", str(b)]))
    assert normalize("modality", "pet") == "PET"
    assert normalize("area", "PANCREAS") == "Pancreas"
    monkeypatch.delenv(ENV_VAR)
    assert not load_taxonomy().is_known("modality", "PET")


def test_edited_file_is_picked_up(tmp_path):
    path = _write(tmp_path / "e.yaml", "area:\n  - {name: Pancreas}\n")
    assert load_taxonomy([path]).is_known("area", "Pancreas")
    _write(path, "area:\n  - {name: Spleen}\n")
    os.utime(path, ns=(1, 10**18))  # make sure the mtime differs even on coarse clocks
    tax = load_taxonomy([path])
    assert tax.is_known("area", "Spleen") and not tax.is_known("area", "Pancreas")


def test_default_taxonomy_is_cached():
    assert load_taxonomy() is load_taxonomy()


@pytest.mark.parametrize(
    ("text", "pattern"),
    [
        ("- just a list\n", "must be a mapping"),
        ("organ:\n  - {name: Lung}\n", r"unknown top-level key\(s\) \['organ'\]"),
        ("area:\n  - {code: x}\n", "needs a `name` string"),
        ("area:\n  - {name: X, colour: red}\n", r"unknown key\(s\) \['colour'\]"),
        ("area: Lung\n", "must be a list"),
        ("area:\n  - {name: X, synonyms: {a: b}}\n", "must be a list of strings"),
        ("task_rules:\n  - {family: Nope, keywords: [x]}\n", "family 'Nope'"),
        ("task_rules:\n  - {family: Grade}\n", "non-empty `keywords`"),
        ("area: [unclosed\n", "not valid YAML"),
        ("!!python/object:os.system {}\n", "not valid YAML"),  # safe_load refuses tags
    ],
)
def test_bad_extension_files_are_clear_errors(tmp_path, text, pattern):
    path = _write(tmp_path / "bad.yaml", text)
    with pytest.raises(MedmatError, match=pattern) as info:
        load_taxonomy(extra_files=[path])
    assert str(path) in str(info.value)


def test_missing_extension_file(tmp_path):
    missing = tmp_path / "nope.yaml"
    with pytest.raises(MedmatError, match=re.escape(str(missing)) + ".*not found"):
        load_taxonomy(extra_files=[missing])
