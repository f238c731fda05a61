"""Synonym normalisation over the built-in vocabularies."""

from __future__ import annotations

import pytest

from medmat.errors import MedmatError, UnknownTermError
from medmat.taxonomy import KINDS, fold, load_taxonomy, normalize

# The canonical names and codes other modules rely on (common.md contract).
MODALITY_CODES = {
    "CT": "ct", "MRI": "mri", "X-ray": "xray", "Ultrasound": "us", "Fundus photography": "fp",
    "OCT": "oct", "Dermoscopy": "der", "Endoscopy": "end", "Microscopy": "mic",
    "Colposcopy": "co", "Dental photography": "dp",
}  # fmt: skip
AREAS = ["Lung", "Brain", "Skin", "Fundus", "Retina", "Kidney", "Bones", "Breast", "Cell",
         "Cervix", "Mouth", "Intestine", "Bladder", "Chest", "Liver", "Thyroid", "Abdomen",
         "Colon", "Blood"]  # fmt: skip
TASK_CODES = {
    "COVID-19": "covid", "Cancer": "cancer", "Disease classification": "disease",
    "Grade": "grade", "Quality": "quality", "Multi-label": "multilabel", "Cell type": "celltype",
    "Lesion type": "lesion", "Severity grade": "severity", "Abnormality": "abnormal",
    "Location": "location", "Fracture": "fracture", "Hemorrhage": "hemorrhage",
    "Tuberculosis": "tb", "Pneumonia": "pneumonia", "Detection/segmentation": "detseg",
}  # fmt: skip


@pytest.fixture(scope="module")
def tax():
    return load_taxonomy()


def test_contract_names_and_codes(tax):
    for name, code in MODALITY_CODES.items():
        assert tax.normalize("modality", name) == name
        assert tax.code("modality", name) == code
    for name in AREAS:
        assert tax.normalize("area", name) == name
        assert tax.code("area", name) == name.lower()
    for name, code in TASK_CODES.items():
        assert tax.normalize("task", name) == name
        assert tax.code("task", name) == code


@pytest.mark.parametrize(
    ("kind", "text", "expected"),
    [
        ("modality", "X-Ray", "X-ray"),
        ("modality", "X-ray", "X-ray"),
        ("modality", "  x ray ", "X-ray"),
        ("modality", "XRAY", "X-ray"),
        ("modality", "US", "Ultrasound"),
        ("modality", "Ultrasound", "Ultrasound"),
        ("modality", "FP", "Fundus photography"),
        ("modality", "Der", "Dermoscopy"),
        ("modality", "Mic", "Microscopy"),
        ("modality", "End", "Endoscopy"),
        ("modality", "Co", "Colposcopy"),
        ("modality", "DP", "Dental photography"),
        ("modality", "computed tomography", "CT"),
        ("modality", "Optical Coherence Tomography", "OCT"),
        ("modality", "histopathology", "Microscopy"),
        ("area", "Teeth", "Mouth"),
        ("area", "lungs", "Lung"),
        ("area", "bone", "Bones"),
        ("area", "RENAL", "Kidney"),
        ("task", "covid19", "COVID-19"),
        ("task", "Multi-label", "Multi-label"),
        ("task", "tb", "Tuberculosis"),
        ("task", "Det/Seg", "Detection/segmentation"),
        ("task", "severity", "Severity grade"),
    ],
)
def test_synonyms_normalise(tax, kind, text, expected):
    assert tax.normalize(kind, text) == expected
    assert normalize(kind, text) == expected  # module-level helper, default taxonomy


@pytest.mark.parametrize(
    ("text", "family"),
    [
        ("COVID19, Classification Dataset.", "COVID-19"),
        ("COVID and Pneumonia", "COVID-19"),
        ("Blindness Level Identification 0~4", "Grade"),
        ("Cancer Degree Classification", "Grade"),  # grading beats cancer (rule order)
        ("Cleanliness level", "Quality"),  # quality beats level (rule order)
        ("Melanoma Segmentation", "Detection/segmentation"),
        ("Multi-label Classification", "Multi-label"),
        ("Multiple-labels Eye Diseases Classification", "Multi-label"),
        ("Head Hemorrhage", "Hemorrhage"),
        ("Fractured Classification", "Fracture"),
        ("Pituitary or Glioma or Meningioma or Notumor", "Cancer"),
        ("Bone Marrow Cell Classification", "Cell type"),
        ("Quality Testing of Retinal Images", "Quality"),
        ("Multi Classification of eye diseases", "Disease classification"),
        ("Spinal Anomaly Det", "Detection/segmentation"),
    ],
)
def test_free_text_tasks_map_to_families(tax, text, family):
    match = tax.match("task", text)
    assert match.term.name == family
    assert match.via in {"name", "code", "synonym", "rule"}


def test_match_reports_how(tax):
    assert tax.match("modality", "X-ray").via == "name"
    assert tax.match("modality", "us").via == "code"
    assert tax.match("area", "teeth").via == "synonym"
    assert tax.match("task", "Head Hemorrhage").via == "rule"


def test_phrases_for_prompts(tax):
    assert tax.phrase("modality", "CT") == "CT scan"
    assert tax.phrase("modality", "X-Ray") == "X-ray"
    assert tax.phrase("modality", "fp") == "fundus photograph"
    assert tax.phrase("modality", "US") == "ultrasound image"
    assert tax.phrase("area", "Bones") == "bone"
    assert tax.phrase("area", "Lung") == "lung"
    for kind in KINDS:
        for name in tax.names(kind):
            phrase = tax.phrase(kind, name)
            assert phrase and phrase.strip() == phrase


def test_names_keep_vocabulary_order(tax):
    assert tax.names("modality")[:3] == ["CT", "MRI", "X-ray"]
    assert set(tax.names("area")) >= set(AREAS)
    assert set(tax.names("task")) >= set(TASK_CODES)


def test_no_spelling_claimed_twice(tax):
    for kind in KINDS:
        seen: dict[str, str] = {}
        for term in tax.terms[kind]:
            for label in (term.name, term.code, *term.synonyms):
                owner = seen.setdefault(fold(label), term.name)
                assert owner == term.name, f"{kind} {label!r}: {owner} vs {term.name}"


def test_term_object(tax):
    term = tax.term("modality", "Ultrasound")
    assert (term.name, term.code, term.kind) == ("Ultrasound", "us", "modality")
    assert "sonography" in term.synonyms


def test_unknown_kind_is_clear(tax):
    with pytest.raises(MedmatError, match="vocabulary kind 'organ'.*modality, area, task"):
        tax.normalize("organ", "Lung")


@pytest.mark.parametrize("text", ["", "   ", "!!"])
def test_empty_text_is_unknown(tax, text):
    with pytest.raises(UnknownTermError):
        tax.normalize("modality", text)


def test_is_known(tax):
    assert tax.is_known("area", "Teeth")
    assert not tax.is_known("area", "Elbow")


def test_docstring_examples_hold():
    import doctest

    import medmat.catalog
    import medmat.taxonomy

    for module in (medmat.taxonomy, medmat.catalog):
        result = doctest.testmod(module)
        assert result.attempted > 0 and result.failed == 0, module.__name__


def test_memo_gives_the_same_answers(tax):
    first = [tax.match("task", t) for t in ("Head Hemorrhage", "Level", "covid")]
    again = [tax.match("task", t) for t in ("Head Hemorrhage", "Level", "covid")]
    assert first == again == [tax.lookup("task", t) for t in ("Head Hemorrhage", "Level", "covid")]
