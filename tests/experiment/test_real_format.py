"""A dataset in a real published format goes straight through ingest -> build -> experiment."""

from __future__ import annotations

import json

import numpy as np
from PIL import Image

from medmat.experiment import run_experiment
from medmat.ingest import ingest

# catalog subsets: 32 X-ray/Brain/Cancer (target), 06 CT/Brain/Cancer and 28 X-ray/Lung/COVID-19
# (related), 03 CT/Lung/COVID-19 and 14 Fundus photography/Fundus/Disease classification
SUBSETS = {
    "32": ("63", ["Tumor", "No tumor"]),
    "06": ("8", ["Tumor", "No tumor"]),
    "28": ("55", ["COVID-19", "Pneumonia", "Normal"]),
    "03": ("3", ["COVID-19", "Non-COVID"]),
    "14": ("21", ["Glaucoma", "Normal"]),
}
CLOSING = "Answer with the option's letter from the given choices directly."


def write_release(root, n_train=24, n_test=8):
    rng = np.random.default_rng(0)
    for no, (data_no, labels) in SUBSETS.items():
        for split, n in (("train", n_train), ("test", n_test)):
            items = []
            for i in range(n):
                label = labels[i % len(labels)]
                # awkward upstream-style names: spaces and parentheses
                rel = f"med-mat/Subset {no}/{split}/{label} ({i}).png"
                path = root / rel
                path.parent.mkdir(parents=True, exist_ok=True)
                pixels = rng.integers(0, 255, (32, 32), dtype=np.uint8)
                pixels[:4, :4] = i  # no two images identical
                Image.fromarray(pixels).save(path)
                opts = labels[i % len(labels):] + labels[: i % len(labels)]
                q = "What does this image show?"
                qc = "\n".join([q] + [f"{'ABCD'[k]}: {o}" for k, o in enumerate(opts)] + [CLOSING])
                items.append({"id": i, "caption": label, "image": rel, "Question": q,
                              "Answer": label, "Question-choice": qc, "Answer-choice": "A",
                              "data-no": data_no})
            (root / "release").mkdir(exist_ok=True)
            (root / "release" / f"Subset--{no}-{split}.json").write_text(json.dumps(items))


def test_medmat_json_release_runs_as_an_experiment(tmp_path):
    data = tmp_path / "data"  # --out may not sit inside an input, so the release has its own
    write_release(data)
    ingest(data / "release", "medmat-json", tmp_path / "ingested", images_root=data)
    cfg = {
        "data": {"records": str(tmp_path / "ingested")},
        "targets": [{"modality": "X-ray", "area": "Brain", "task": "Cancer"}],
        "arms": ["related", "unrelated", "target_trained", "untrained"],
        "budget_per_subset": 12,
        "backend": "builtin",
        "backend_options": {"epochs": 1, "batch_size": 8, "image_size": 16, "width": 8,
                            "hidden": 16},
        "bootstrap": 100,
    }
    m = run_experiment(cfg, tmp_path / "exp").to_dict()
    (target,) = m["targets"]
    assert target["target"]["subset"] == "32"
    assert target["arms"]["related"]["train_subsets"] == ["06", "28"]
    assert set(target["arms"]["unrelated"]["train_subsets"]) <= {"03", "14"}
    assert target["arms"]["unrelated"]["n_train"] == target["arms"]["related"]["n_train"] == 24
    assert target["arms"]["related"]["n"] == 8
    assert m["lab"] is None and (tmp_path / "exp" / "report.md").exists()
