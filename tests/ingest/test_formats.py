"""The ingest format registry is the one list of formats: the CLI and ingest() both read it."""

from __future__ import annotations

import click
import pytest

from medmat.cli.ingest_cmd import command
from medmat.errors import MedmatError
from medmat.ingest import FORMATS, ingest


def test_cli_choices_are_the_registry():
    (fmt,) = [p for p in command.params if p.name == "fmt"]
    assert isinstance(fmt.type, click.Choice)
    assert list(fmt.type.choices) == list(FORMATS)
    assert set(FORMATS) == {"folder", "csv", "medmnist", "dicom", "nifti", "medmat-json"}


def test_unknown_format_lists_every_format_with_its_description(tmp_path):
    with pytest.raises(MedmatError, match="--format 'zip'") as err:
        ingest(tmp_path, "zip", tmp_path / "out")
    for name, entry in FORMATS.items():
        assert f"{name} ({entry.description})" in str(err.value)
    assert not (tmp_path / "out").exists()
