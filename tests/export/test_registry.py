"""The export-format registry is the one list of formats: the CLI and export() both use it."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from medmat.cli.export_cmd import command
from medmat.errors import MedmatError
from medmat.export import FORMATS, REGISTRY, export


def test_cli_choices_are_the_registry():
    fmt = next(p for p in command.params if p.name == "fmt")
    assert isinstance(fmt.type, click.Choice)
    assert list(fmt.type.choices) == list(REGISTRY) == list(FORMATS)
    assert list(REGISTRY) == ["llamafactory", "hf", "vlmevalkit", "lmms-eval", "medmat-json"]
    result = CliRunner().invoke(command, ["--help"], terminal_width=200)
    for spec in REGISTRY.values():
        assert spec.name in result.output


@pytest.mark.parametrize("name", list(REGISTRY))
def test_every_entry_names_a_writer(name):
    spec = REGISTRY[name]
    assert spec.name == name
    write = spec.load()
    assert callable(write) and write.__name__ == spec.writer.split(":")[1]


def test_capabilities_come_from_the_registry(items_dir, tmp_path):
    by_subset = [n for n, f in REGISTRY.items() if f.by_subset]
    assert by_subset == ["medmat-json"]
    for name in REGISTRY:
        if name not in by_subset:
            with pytest.raises(MedmatError, match="--by-subset applies to --format medmat-json"):
                export(items_dir, name, tmp_path / "x", by_subset=True)
    with pytest.raises(MedmatError, match=r"--format 'csv': unknown; choose one of "
                                          r"llamafactory, hf, vlmevalkit, lmms-eval, medmat-json"):
        export(items_dir, "csv", tmp_path / "x")
    # --images reference only changes the path-based formats
    res = export(items_dir, "vlmevalkit", tmp_path / "v", splits=["val"], images="reference")
    assert res.files == ["medmat.tsv"]
    assert not (tmp_path / "x").exists()


def test_cli_license(items_dir, tmp_path):
    out = tmp_path / "hf"
    result = CliRunner().invoke(command, [str(items_dir), "--format", "hf", "--out", str(out),
                                          "--split", "val", "--license", "cc-by-4.0"])
    assert result.exit_code == 0, result.output
    assert (out / "README.md").read_text().startswith("---\nlicense: cc-by-4.0\n")
    assert (out / "data/val-00000-of-00001.parquet").is_file()
