"""The records table's optional regions / mask columns round-trip and are checked."""

from __future__ import annotations

import pyarrow.parquet as pq
import pytest

from medmat.errors import MedmatError
from medmat.records import ImageRecord, read_records, write_records
from medmat.regions import Region, box_problem


def _record(i: int, **extra) -> ImageRecord:
    return ImageRecord(record_id=f"r{i}", image=f"img/{i}.png", labels=("Nodule",),
                       modality="X-ray", area="Lung", task="Lesion location", subset="s",
                       split="train", **extra)


def test_regions_and_mask_round_trip(tmp_path):
    boxes = (Region((1.0, 2.0, 10.0, 12.0), "Nodule", 90), Region((0, 0, 64, 64)))
    records = [_record(0, regions=boxes, mask="masks/0.png"), _record(1)]
    write_records(tmp_path, records)
    table = pq.read_table(tmp_path / "records.parquet")
    assert {"regions", "mask"} <= set(table.column_names)
    assert table.column("regions").to_pylist()[0][0] == {
        "label": "Nodule", "x1": 1.0, "y1": 2.0, "x2": 10.0, "y2": 12.0, "area": 90}
    back = read_records(tmp_path)
    assert back[0].regions == (Region((1.0, 2.0, 10.0, 12.0), "Nodule", 90),
                               Region((0.0, 0.0, 64.0, 64.0), None, None))
    assert back[0].mask == "masks/0.png"
    assert back[1].regions is None and back[1].mask is None


def test_tables_without_regions_keep_their_columns(tmp_path):
    write_records(tmp_path, [_record(0)])
    names = pq.read_table(tmp_path / "records.parquet").column_names
    assert "regions" not in names and "mask" not in names


@pytest.mark.parametrize(("box", "words"), [
    ((5, 5, 5, 9), "empty"), ((-1, 0, 3, 3), "negative"), ((0, 0, float("nan"), 3), "finite"),
])
def test_an_invalid_box_names_the_record(tmp_path, box, words):
    with pytest.raises(MedmatError, match=rf"'r0'.*{words}"):
        write_records(tmp_path, [_record(0, regions=(Region(box),))])


def test_box_problem_checks_the_image_size():
    assert box_problem((0, 0, 64, 64), (64, 64)) is None
    assert "outside" in box_problem((0, 0, 65, 64), (64, 64))
