"""Each export format, checked with the library that will read it (where it installs here)."""

from __future__ import annotations

import base64
import importlib.util
import io
import json
import string
import sys

import numpy as np
import pyarrow.parquet as pq
import pytest
import yaml
from PIL import Image

from medmat.export import export
from medmat.imaging import open_image
from medmat.records import MEDMAT_KEYS


def _items(items_dir, split=None):
    rows = pq.read_table(items_dir / "items.parquet").to_pylist()
    return [r for r in rows if split is None or r["split"] == split]


def _root(items_dir):
    return json.loads((items_dir / "summary.json").read_text())["image_root"]


def _pixels(img: Image.Image) -> np.ndarray:
    return np.asarray(img.convert("RGB"))


def test_llamafactory(items_dir, tmp_path):
    out = tmp_path / "lf"
    res = export(items_dir, "llamafactory", out, splits=["train", "test"], name="cg")
    assert res.counts == {"train": 12, "test": 10}
    info = json.loads((out / "dataset_info.json").read_text())
    assert list(info) == ["cg_train", "cg_test"]
    assert info["cg_test"] == {
        "file_name": "cg_test.json",
        "formatting": "sharegpt",
        "columns": {"messages": "messages", "images": "images"},
        "tags": {"role_tag": "role", "content_tag": "content", "user_tag": "user",
                 "assistant_tag": "assistant"},
    }
    rows = json.loads((out / "cg_test.json").read_text())
    items = _items(items_dir, "test")
    assert len(rows) == len(items)
    for row, item in zip(rows, items, strict=True):
        assert set(row) == {"messages", "images"}
        user, assistant = row["messages"]
        assert user == {"role": "user", "content": "<image>" + item["Question-choice"]}
        assert assistant == {"role": "assistant", "content": item["Answer-choice"]}
        assert user["content"].count("<image>") == len(row["images"]) == 1
        # relative to the dataset dir (LLaMA-Factory's default media_dir)
        assert row["images"][0] == "images/" + item["image"]
        copied = open_image(out / row["images"][0])
        assert np.array_equal(_pixels(copied), _pixels(open_image(f"{_root(items_dir)}/"
                                                                   f"{item['image']}")))
    # LLaMA-Factory reads the file through datasets' json builder: it must load as rows
    import datasets

    ds = datasets.load_dataset("json", data_files=str(out / "cg_test.json"), split="train",
                               cache_dir=str(tmp_path / "cache"))
    assert ds.num_rows == 10 and ds[0]["messages"][0]["role"] == "user"


def test_copied_image_paths_are_not_doubled(ingest_layout_items, tmp_path):
    # records from `medmat ingest` keep their files under images/: the copies must not read
    # images/images/...
    items = ingest_layout_items
    assert all(i["image"].startswith("images/") for i in _items(items))
    export(items, "llamafactory", tmp_path / "lf", splits=["val"])
    rows = json.loads((tmp_path / "lf" / "medmat.json").read_text())
    by_id = {i["id"]: i for i in _items(items, "val")}
    paths = [row["images"][0] for row in rows]
    assert paths == ["images/" + i["image"].removeprefix("images/") for i in by_id.values()]
    assert not any(p.startswith("images/images/") for p in paths)
    for p, item in zip(paths, by_id.values(), strict=True):
        assert np.array_equal(_pixels(open_image(tmp_path / "lf" / p)),
                              _pixels(open_image(f"{_root(items)}/{item['image']}")))
    export(items, "medmat-json", tmp_path / "mm", splits=["val"])
    rows = json.loads((tmp_path / "mm" / "medmat--val.json").read_text())
    assert [r["image"] for r in rows] == paths
    # referenced images keep their path relative to the records folder
    export(items, "llamafactory", tmp_path / "ref", splits=["val"], images="reference")
    rows = json.loads((tmp_path / "ref" / "medmat.json").read_text())
    assert [row["images"][0] for row in rows] == [i["image"] for i in by_id.values()]


def test_copy_paths_drop_only_a_prefix_every_image_has():
    from medmat.export.common import _copy_paths

    assert _copy_paths(["images/a.png", "images/b/c.png"]) == {
        "images/a.png": "images/a.png", "images/b/c.png": "images/b/c.png"}
    mixed = _copy_paths(["images/a.png", "a.png"])  # stripping would make these collide
    assert mixed == {"images/a.png": "images/images/a.png", "a.png": "images/a.png"}
    assert _copy_paths(["x/a.png"]) == {"x/a.png": "images/x/a.png"}


def test_llamafactory_single_split_and_reference(items_dir, tmp_path):
    out = tmp_path / "lf"
    res = export(items_dir, "llamafactory", out, splits=["val"], images="reference")
    assert res.files == ["dataset_info.json", "medmat.json"]
    assert any("media_dir" in n for n in res.notes)
    rows = json.loads((out / "medmat.json").read_text())
    for row in rows:
        assert (tmp_path / _root(items_dir) / row["images"][0]).is_file()


def _front_matter(readme: str) -> dict:
    assert readme.startswith("---\n")
    return yaml.safe_load(readme.split("---\n")[1])


def test_hf_parquet_loads_with_datasets(items_dir, tmp_path):
    import datasets

    out = tmp_path / "hf"
    res = export(items_dir, "hf", out)
    assert "data/test-00000-of-00001.parquet" in res.files and "README.md" in res.files
    ds = datasets.load_dataset(
        "parquet", data_files={"test": str(out / "data/test-00000-of-00001.parquet")},
        split="test", cache_dir=str(tmp_path / "cache"))
    assert isinstance(ds.features["image"], datasets.Image)
    # the closed label set is a ClassLabel over every label of the build, sorted
    names = sorted({"COVID-19", "Normal", "Pneumonia", "Glioma", "Meningioma", "No tumor",
                    "Pituitary", "Fractured", "Not fractured"})
    label = ds.features["label"]
    assert isinstance(label, datasets.ClassLabel) and label.names == names
    assert ds.features["id"] == datasets.Value("int64")
    assert ds.features["template"] == datasets.Value("int32")
    assert ds.features["Answer-choice"] == datasets.Value("string")
    assert ds.features["options"] == datasets.List(datasets.Value("string"))
    items = _items(items_dir, "test")
    assert ds.num_rows == len(items)
    for row, item in zip(ds, items, strict=True):
        assert isinstance(row["image"], Image.Image)
        source = open_image(f"{_root(items_dir)}/{item['image']}")
        assert np.array_equal(_pixels(row["image"]), _pixels(source))
        assert row["image_path"] == item["image"]
        for key in [*MEDMAT_KEYS[:2], *MEDMAT_KEYS[3:], "options", "modality", "area", "task",
                    "subset", "split", "record_id", "template"]:
            assert row[key] == item[key], key
        assert row["label"] == names.index(item["Answer"])
        assert label.int2str(row["label"]) == item["Answer"]
    # the README's config makes the folder itself loadable, with every split and the same types
    full = datasets.load_dataset(str(out), cache_dir=str(tmp_path / "cache2"))
    assert sorted(full) == ["test", "train", "val"]
    assert full["train"].num_rows == 12
    assert full["train"].features == ds.features
    assert [full["val"].features["label"].int2str(v) for v in full["val"]["label"]] == [
        i["Answer"] for i in _items(items_dir, "val")]
    # the bytes are embedded, not a path to the original files
    raw = pq.read_table(out / "data/train-00000-of-00001.parquet").column("image").to_pylist()
    assert all(r["bytes"] for r in raw)


def test_hf_dataset_card(items_dir, tmp_path):
    import datasets

    out = tmp_path / "hf"
    export(items_dir, "hf", out, splits=["train", "test"], name="medmat_cg")
    readme = (out / "README.md").read_text()
    meta = _front_matter(readme)
    assert meta["license"] == "unknown"
    assert meta["task_categories"] == ["visual-question-answering"]
    assert meta["size_categories"] == ["n<1K"]
    assert meta["configs"] == [{"config_name": "default", "data_files": [
        {"split": "train", "path": "data/train-00000-of-00001.parquet"},
        {"split": "test", "path": "data/test-00000-of-00001.parquet"}]}]
    info = meta["dataset_info"]
    assert info["splits"] == [{"name": "train", "num_examples": 12},
                              {"name": "test", "num_examples": 10}]
    features = {f["name"]: f for f in info["features"]}
    assert features["image"] == {"name": "image", "dtype": "image"}
    assert features["id"] == {"name": "id", "dtype": "int64"}
    assert features["Question-choice"] == {"name": "Question-choice", "dtype": "string"}
    assert features["label"]["dtype"]["class_label"]["names"]["0"] == "COVID-19"
    assert len(features["label"]["dtype"]["class_label"]["names"]) == 9
    # the hub's own reader turns the header back into the features of the data files
    card_info = datasets.DatasetInfo._from_yaml_dict(info)
    data = datasets.load_dataset("parquet", data_files=str(out / "data/test-*.parquet"),
                                 split="train", cache_dir=str(tmp_path / "cache"))
    assert card_info.features == data.features
    # the body: per-subset table, every column explained, how it was made, the licence caveat
    assert "| 22 | MRI | Brain | Lesion type | Glioma, Meningioma, No tumor, Pituitary | 62 | "\
           "4 | 3 |" in readme
    for col in data.features:
        assert f"- `{col}`: " in readme
    assert "## How it was made" in readme and "seed 0" in readme
    assert "Records skipped this way: 0." in readme
    assert "check them before using or redistributing" in readme
    assert str(tmp_path) not in readme  # nothing machine-specific


def test_hf_license_option(items_dir, tmp_path):
    from medmat.errors import MedmatError

    export(items_dir, "hf", tmp_path / "hf", splits=["val"], license="cc-by-4.0")
    readme = (tmp_path / "hf" / "README.md").read_text()
    assert _front_matter(readme)["license"] == "cc-by-4.0"
    assert "`cc-by-4.0`, as stated by whoever exported it" in readme
    with pytest.raises(MedmatError, match="--license 'CC BY': give a Hugging Face licence"):
        export(items_dir, "hf", tmp_path / "x", license="CC BY")
    with pytest.raises(MedmatError, match="--license applies to --format hf only"):
        export(items_dir, "vlmevalkit", tmp_path / "x", license="cc-by-4.0")
    assert not (tmp_path / "x").exists()


def test_vlmevalkit_tsv(items_dir, tmp_path):
    import pandas as pd

    out = tmp_path / "vlm"
    export(items_dir, "vlmevalkit", out, splits=["test"], name="MedMAT_CG")
    df = pd.read_csv(out / "MedMAT_CG.tsv", sep="\t")
    assert list(df.columns) == ["index", "image", "question", "A", "B", "C", "D", "answer",
                                "category", "l2-category", "split", "medmat_prompt"]
    items = _items(items_dir, "test")
    assert df["index"].tolist() == [i["id"] for i in items]
    assert df["index"].is_unique
    by_index = {str(i): img for i, img in zip(df["index"], df["image"], strict=True)}
    reused = 0
    for (_, row), item in zip(df.iterrows(), items, strict=True):
        cell = str(row["image"])
        if len(cell) <= 64:  # VLMEvalKit's rule: a short string is the index of another row
            reused += 1
            cell = by_index[cell]
        img = Image.open(io.BytesIO(base64.b64decode(cell)))
        source = open_image(f"{_root(items_dir)}/{item['image']}")
        assert np.array_equal(_pixels(img), _pixels(source))
        assert row["question"] == item["Question"]
        for k, letter in enumerate("ABCD"):
            if k < len(item["options"]):
                assert row[letter] == item["options"][k]
            else:
                assert pd.isna(row[letter])
        assert row["answer"] == item["Answer-choice"]
        assert row[row["answer"]] == item["Answer"]
        # medmat's own prompt, in the published layout, survives the TSV round trip
        assert row["medmat_prompt"] == item["Question-choice"]
        assert "\nA: " + item["options"][0] + "\n" in row["medmat_prompt"]
        assert (row["category"], row["l2-category"], row["split"]) == (
            item["modality"], item["area"], "test")
    assert reused == 1  # the duplicated test image is stored once


def _load_lmms_yaml(path):
    # lmms-eval's loader = yaml safe loading + its one custom tag, `!function module.name`
    class Loader(yaml.SafeLoader):
        pass

    Loader.add_constructor("!function", lambda loader, node: ("function",
                                                               loader.construct_scalar(node)))
    return yaml.load(path.read_text(), Loader=Loader)


def test_lmms_eval_task(items_dir, tmp_path):
    import datasets

    out = tmp_path / "lmms"
    res = export(items_dir, "lmms-eval", out, splits=["test"], name="medmat_cg")
    assert res.files == ["medmat_answers.py", "medmat_cg.parquet", "medmat_cg.yaml", "utils.py"]
    cfg = _load_lmms_yaml(out / "medmat_cg.yaml")
    assert cfg["task"] == "medmat_cg" and cfg["test_split"] == "test"
    assert cfg["dataset_path"] == "parquet" and cfg["output_type"] == "generate_until"
    assert cfg["doc_to_visual"] == ("function", "utils.doc_to_visual")
    assert cfg["metric_list"] == [{"metric": "exact_match", "aggregation": "mean",
                                   "higher_is_better": True}]
    assert cfg["generation_kwargs"]["do_sample"] is False
    data_file = cfg["dataset_kwargs"]["data_files"]["test"]
    assert data_file == str((out / "medmat_cg.parquet").resolve())
    ds = datasets.load_dataset(cfg["dataset_path"], data_files=cfg["dataset_kwargs"]["data_files"],
                               split=cfg["test_split"], cache_dir=str(tmp_path / "cache"))
    spec = importlib.util.spec_from_file_location("medmat_export_utils", out / "utils.py")
    utils = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(utils)
    assert "medmat" not in sys.modules.get("medmat_export_utils", utils).__dict__  # standalone
    kwargs = cfg["lmms_eval_specific_kwargs"]["default"]
    items = _items(items_dir, "test")
    for doc, item in zip(ds, items, strict=True):
        visuals = utils.doc_to_visual(doc)
        assert len(visuals) == 1 and visuals[0].mode == "RGB"
        text = utils.doc_to_text(doc, kwargs)
        letters = string.ascii_uppercase[: len(item["options"])]
        for letter, opt in zip(letters, item["options"], strict=True):
            assert f"\n{letter}: {opt}\n" in text
        # the prompt lmms-eval shows is exactly the one medmat trains and scores with
        assert text == item["Question-choice"]
        assert utils.doc_to_text(doc, {"pre_prompt": "Look. ", "post_prompt": ""}) == (
            "Look. " + item["Question-choice"].rsplit("\n", 1)[0])
        target = utils.doc_to_target(doc)
        assert target == item["Answer-choice"]
        assert utils.process_results(doc, [target]) == {"exact_match": 1.0}
        wrong = next(c for c in letters if c != target)
        assert utils.process_results(doc, [f"({wrong})"]) == {"exact_match": 0.0}
        assert utils.process_results(doc, [f"The answer is {target}."]) == {"exact_match": 1.0}
        assert utils.process_results(doc, [item["Answer"]]) == {"exact_match": 1.0}
        assert utils.process_results(doc, [""]) == {"exact_match": 0.0}


def test_medmat_json(items_dir, tmp_path):
    out = tmp_path / "mm"
    res = export(items_dir, "medmat-json", out)
    names = [f for f in res.files if not f.startswith("images/")]
    assert names == ["medmat--test.json", "medmat--train.json", "medmat--val.json"]
    for split in ("train", "val", "test"):
        rows = json.loads((out / f"medmat--{split}.json").read_text())
        items = _items(items_dir, split)
        assert len(rows) == len(items)
        for row, item in zip(rows, items, strict=True):
            assert list(row) == list(MEDMAT_KEYS)  # exactly the published keys, in order
            assert isinstance(row["id"], int) and isinstance(row["data-no"], str)
            assert row["image"] == "images/" + item["image"]
            assert (out / row["image"]).is_file()
            assert {k: row[k] for k in MEDMAT_KEYS if k != "image"} == {
                k: item[k] for k in MEDMAT_KEYS if k != "image"}
    # 25 items, 24 distinct image files
    assert len([f for f in res.files if f.startswith("images/")]) == res.images == 24


def test_medmat_json_by_subset_reads_back_with_ingest(items_dir, tmp_path):
    from medmat.errors import MedmatError
    from medmat.ingest import ingest
    from medmat.records import read_records_table

    out = tmp_path / "Aggregated_Subsets"
    res = export(items_dir, "medmat-json", out, by_subset=True, splits=["train", "test"])
    names = [f for f in res.files if not f.startswith("images/")]
    assert names == [f"Subset--{s}-{sp}.json" for s in ("03", "22", "26")
                     for sp in ("test", "train")]
    for name in names:
        rows = json.loads((out / name).read_text())
        assert {r["image"].split("/")[1] for r in rows} == {
            {"03": "Lung_CT", "22": "Brain_MRI", "26": "Bones_X-ray"}[name[8:10]]}
    ingest(out, "medmat-json", tmp_path / "back", images_root=str(out))
    back = read_records_table(tmp_path / "back").to_pylist()
    items = _items(items_dir)
    # ingest stores non-PNG images as PNG: compare paths without their extension
    expected = {(i["image"].rsplit(".", 1)[0], i["split"], i["Answer"])
                for i in items if i["split"] != "val"}
    assert {(r["image"].removeprefix("images/").rsplit(".", 1)[0], r["split"], r["labels"][0])
            for r in back} == expected
    with pytest.raises(MedmatError, match="--by-subset applies to --format medmat-json only"):
        export(items_dir, "hf", tmp_path / "x", by_subset=True)
