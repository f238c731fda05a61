"""Exports of a build with grounding items: box text, typed box columns, an IoU-scored lmms-eval
task (run outside medmat), the Med-MAT JSON extension field, VLMEvalKit leaving them out."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from medmat.export import export
from medmat.records import ImageRecord, write_records
from medmat.regions import Region

W, H = 40, 32
# pixel-edge boxes per grounding record (two regions on the last: the outer extent is the answer)
REGIONS = {
    0: [(4, 2, 20, 18)],
    1: [(10, 8, 40, 32)],
    2: [(0, 0, 5, 7), (30, 20, 35, 30)],
}


def _image(seed: int) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, size=(H, W, 3), dtype=np.uint8), "RGB")


def _canonical(box):
    """The expected canonical box, computed here by hand: edges / size, three decimals."""
    x1, y1, x2, y2 = box
    return [round(x1 / W, 3), round(y1 / H, 3), round(x2 / W, 3), round(y2 / H, 3)]


def _extent(boxes):
    return (min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes),
            max(b[3] for b in boxes))


EXPECTED = {f"det-test-{i}": _canonical(_extent(b)) for i, b in REGIONS.items()}


@pytest.fixture(scope="module")
def grounding_items(tmp_path_factory) -> Path:
    from medmat.imaging import open_image, phash, pixel_sha1
    from medmat.qa import build

    root = tmp_path_factory.mktemp("grounding")
    records_dir = root / "records"
    records = []
    seed = 100
    for sub, task, labels in (("det", "Detection/segmentation", ["Nodule"]),
                              ("cls", "Lesion type", ["Nodule", "Cyst"])):
        for split, n in (("train", 2), ("test", 3)):
            for i in range(n):
                seed += 1
                rel = f"{sub}/{split}/img {i}.png"
                (records_dir / rel).parent.mkdir(parents=True, exist_ok=True)
                _image(seed).save(records_dir / rel)
                decoded = open_image(records_dir / rel)
                regions = (tuple(Region(box=tuple(float(v) for v in b))
                                 for b in REGIONS[i]) if sub == "det" else None)
                records.append(ImageRecord(
                    record_id=f"{sub}-{split}-{i}", image=rel, labels=(labels[i % len(labels)],),
                    modality="X-ray", area="Lung", task=task, subset=sub, split=split,
                    source="7", pixel_sha1=pixel_sha1(decoded), phash=phash(decoded),
                    regions=regions))
    write_records(records_dir, records)
    build(records_dir, root / "items", seed=0)
    return root / "items"


def _by_record(items: Path) -> dict[int, str]:
    import pyarrow.parquet as pq

    table = pq.read_table(items / "items.parquet", columns=["id", "record_id"]).to_pylist()
    return {r["id"]: r["record_id"] for r in table}


def test_llamafactory_answer_is_the_canonical_box_text(grounding_items, tmp_path):
    export(grounding_items, "llamafactory", tmp_path / "lf", splits=["test"], name="g")
    rows = json.loads((tmp_path / "lf" / "g.json").read_text())
    texts = [r["messages"][1]["content"] for r in rows]
    boxes = [t for t in texts if t.startswith("[")]
    want = sorted("[" + ", ".join(f"{v:.3f}" for v in b) + "]" for b in EXPECTED.values())
    assert sorted(boxes) == want
    # the three classification rows keep their letter; grounding prompts ask for a box
    assert sorted(t for t in texts if not t.startswith("[")) in (["A", "A", "B"], ["A", "B", "B"])
    assert all("bounding box" in r["messages"][0]["content"]
               for r in rows if r["messages"][1]["content"].startswith("["))


def test_medmat_json_extension_field(grounding_items, tmp_path):
    export(grounding_items, "medmat-json", tmp_path / "mj", splits=["test"], name="g")
    rows = json.loads((tmp_path / "mj" / "g--test.json").read_text())
    ids = _by_record(grounding_items)
    published = ["id", "caption", "image", "Question", "Answer", "Question-choice",
                 "Answer-choice", "data-no"]
    got = {}
    for r in rows:
        keys = list(r)
        assert keys[:8] == published
        if "answer_box" in r:
            assert keys[8:] == ["answer_box"] and r["Answer-choice"] == ""
            got[ids[r["id"]]] = r["answer_box"]
        else:
            assert keys == published
    assert got == EXPECTED


def test_hf_typed_box_column_read_back_with_datasets(grounding_items, tmp_path):
    datasets = pytest.importorskip("datasets")
    out = tmp_path / "hf"
    export(grounding_items, "hf", out, splits=["test"], name="g")
    ds = datasets.load_dataset("parquet", data_files={"test": str(out / "data" /
                               "test-00000-of-00001.parquet")}, cache_dir=str(tmp_path / "c"))
    feats = ds["test"].features
    assert feats["answer_box"] == datasets.List(datasets.Value("float64"), length=4)
    ids = _by_record(grounding_items)
    got = {}
    for row in ds["test"]:
        if row["answer_box"] is None:
            assert feats["label"].int2str(row["label"]) == row["Answer"]
        else:
            assert row["label"] == -1 and row["options"] == []
            got[ids[row["id"]]] = row["answer_box"]
    assert got == EXPECTED
    # the card's features are the files' own: load_dataset(folder) gives the same types
    again = datasets.load_dataset(str(out), cache_dir=str(tmp_path / "c2"))
    assert again["test"].features == feats
    assert "answer_box" in (out / "README.md").read_text()


_RUNNER = r"""
import importlib.util, json, sys
assert importlib.util.find_spec("medmat") is None, "medmat must not be importable here"
spec = importlib.util.spec_from_file_location("utils", sys.argv[1])
utils = importlib.util.module_from_spec(spec)
spec.loader.exec_module(utils)
assert "medmat" not in sys.modules  # the stand-in error module is gone again
class Img:
    size = (40, 32)
table = json.loads(sys.stdin.read())
results = [utils.process_results_grounding({"answer_box": gold, "image": Img()}, [reply])
           for reply, gold in table]
print(json.dumps({"results": results,
                  "ciou": utils.ciou_aggregation([r["ciou"] for r in results])}))
"""

REPLIES = [
    ("[0.100, 0.063, 0.500, 0.563]", [0.1, 0.063, 0.5, 0.563]),  # exact
    ("<|box_start|>(250,250),(1000,1000)<|box_end|>", [0.25, 0.25, 1.0, 1.0]),  # 0-1000
    ("The lesion is at x1=4, y1=2, x2=20, y2=18.", [0.1, 0.063, 0.5, 0.563]),  # pixels
    ("no idea", [0.0, 0.0, 0.5, 0.5]),  # a miss
    ("[0.5, 0.5, 1.0, 1.0]", [0.0, 0.0, 0.5, 0.5]),  # touching corners: IoU 0
]


def test_lmms_eval_grounding_task_scores_iou_outside_medmat(grounding_items, tmp_path):
    from medmat.evaluate.boxes import box_metrics
    from medmat.qa import boxes

    out = tmp_path / "lm"
    export(grounding_items, "lmms-eval", out, splits=["test"], name="g")
    assert (out / "medmat_boxes.py").read_bytes() == Path(boxes.__file__).read_bytes()
    cfg = yaml.safe_load((out / "g_grounding.yaml").read_text().replace("!function", ""))
    assert [m["metric"] for m in cfg["metric_list"]] == ["ciou", "miou", "acc50", "miss"]
    assert (out / "g.yaml").is_file()  # the classification items keep their own task
    res = subprocess.run([sys.executable, "-I", "-S", "-c", _RUNNER, str(out / "utils.py")],
                         input=json.dumps(REPLIES), capture_output=True, text=True, timeout=60,
                         check=False)
    assert res.returncode == 0, res.stderr
    got = json.loads(res.stdout)
    # inside medmat: the same parser and the study's metrics
    preds = [boxes.parse_box(r, image_size=(W, H)) for r, _ in REPLIES]
    golds = [g for _, g in REPLIES]
    m = box_metrics(preds, golds, n_boot=10)
    assert got["ciou"] == pytest.approx(m.ciou)
    assert sum(r["miou"] for r in got["results"]) / len(REPLIES) == pytest.approx(m.miou)
    assert sum(r["acc50"] for r in got["results"]) / len(REPLIES) == pytest.approx(m.acc50)
    assert [r["miss"] for r in got["results"]] == [0.0, 0.0, 0.0, 1.0, 0.0]
    assert got["results"][0]["miou"] == pytest.approx(1.0)


def test_vlmevalkit_leaves_grounding_items_out(grounding_items, tmp_path):
    result = export(grounding_items, "vlmevalkit", tmp_path / "vk", splits=["test"], name="g")
    import csv
    import io

    text = (tmp_path / "vk" / "g.tsv").read_text()
    rows = list(csv.reader(io.StringIO(text), delimiter="\t"))
    assert len(rows) == 1 + 3  # the header and the three classification items
    assert all(r[rows[0].index("answer")] in "AB" for r in rows[1:])
    assert any("3 grounding item(s) left out" in n for n in result.notes)
