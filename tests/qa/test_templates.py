"""Templates are data: six per family, overridable per task / subset, validated on load."""

from __future__ import annotations

import json

import pytest
import yaml

from medmat.errors import MedmatError
from medmat.qa import N_TEMPLATES, build, iter_items, load_templates
from medmat.qa.templates import BUILTIN_FILE
from medmat.taxonomy import load_taxonomy

SIX = [f"Question {i} about this {{area}} {{modality}}?" for i in range(6)]


def test_builtin_has_six_distinct_templates_per_canonical_family():
    tset = load_templates()
    tax = load_taxonomy()
    assert len(tset.generic) == N_TEMPLATES
    assert set(tset.tasks) <= set(tax.names("task"))
    for family, templates in tset.tasks.items():
        assert len(set(templates)) == N_TEMPLATES, family
        assert all("{modality}" in t and "{area}" in t for t in templates), family
    # every canonical family of the published study has its own wording
    for family in ("COVID-19", "Cancer", "Lesion type", "Severity grade", "Abnormality",
                   "Location", "Multi-label", "Quality", "Cell type"):
        assert family in tset.tasks


def test_resolution_order_and_fallback():
    tset = load_templates({"subsets": {"22": SIX}})
    assert tset.choose("22", "Lesion type") == ("subset:22", tuple(SIX))
    assert tset.choose("07", "Lesion type")[0] == "task:Lesion type"
    assert tset.choose("07", "lesion")[0] == "task:Lesion type"  # any taxonomy spelling
    assert tset.choose("99", "Something nobody knows") == ("generic", tset.generic)


def test_render_uses_taxonomy_phrases():
    q = load_templates().render("03", "COVID-19", "CT", "Lung")
    assert len(q) == 6 and all("lung CT scan" in t for t in q)
    assert load_templates().render("x", "Grade", "xray", "teeth")[0].count("X-ray") == 1


def test_user_file_overrides_per_task_and_subset(tmp_path, table, records_dir):
    path = tmp_path / "t.yaml"
    custom_task = [f"T{i}: {{modality}} of {{area}}?" for i in range(6)]
    path.write_text(yaml.safe_dump({"tasks": {"covid": custom_task},
                                    "subsets": {"22": SIX}}), encoding="utf-8")
    items = list(iter_items(table, templates=path))
    assert {i.question for i in items if i.subset == "22"} == {
        t.format(area="brain", modality="MRI scan") for t in SIX}
    assert {i.question for i in items if i.subset == "03"} == {
        t.format(area="lung", modality="CT scan") for t in custom_task}
    summary = build(records_dir, tmp_path / "qa", templates_file=path)
    assert summary["templates"]["sources"] == ["builtin", str(path)]
    assert summary["templates"]["by_subset"]["03"] == ["task:COVID-19"]
    assert summary["templates"]["texts"]["subset:22"] == SIX
    line = json.loads((tmp_path / "qa" / "items.jsonl").read_text().splitlines()[0])
    assert 0 <= line["template"] < 6


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ({"tasks": {"COVID-19": SIX[:5]}}, "has 5 template"),
        ({"subsets": {"07": [*SIX[:5], "Which {organ}?"]}}, r"unknown placeholder \{organ\}"),
        ({"generic": [*SIX[:5], "Which {area!r}?"]}, r"unknown placeholder \{area!r\}"),
        ({"generic": [*SIX[:5], "Broken {area"]}, "not a valid template"),
        ({"generic": [*SIX[:5], SIX[0]]}, "distinct"),
        ({"generic": [*SIX[:5], ""]}, "empty template"),
        ({"subsets": {7: SIX}}, "not a string; quote it"),
        ({"tasks": {"Astrology": SIX}}, "unknown task family 'Astrology'"),
        ({"families": {}}, r"unknown key\(s\) \['families'\]"),
        ({"tasks": ["x"]}, "must map names"),
        (["a list"], "expected a mapping"),
    ],
)
def test_bad_templates_file(tmp_path, content, message, records_dir):
    path = tmp_path / "t.yaml"
    path.write_text(yaml.safe_dump(content), encoding="utf-8")
    with pytest.raises(MedmatError, match=message):
        load_templates(path)
    with pytest.raises(MedmatError, match=message):
        build(records_dir, tmp_path / "qa", templates_file=path)
    assert not (tmp_path / "qa").exists()


def test_templates_file_not_found_or_not_yaml(tmp_path):
    with pytest.raises(MedmatError, match="templates file not found"):
        load_templates(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("generic: [unclosed", encoding="utf-8")
    with pytest.raises(MedmatError, match="not valid YAML"):
        load_templates(bad)


def test_builtin_file_is_plain_yaml():
    data = yaml.safe_load(BUILTIN_FILE.read_text(encoding="utf-8"))
    assert set(data) == {"generic", "tasks", "grounding"}
