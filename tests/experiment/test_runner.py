"""The experiment runner: outputs, determinism, resume, config errors."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pyarrow.parquet as pq
import pytest
import yaml

from medmat.errors import MedmatError
from medmat.experiment import load_config, run_experiment


def test_outputs_have_the_documented_shape(config, tmp_path):
    result = run_experiment(config(), tmp_path)
    m = result.to_dict()
    on_disk = json.loads((tmp_path / "metrics.json").read_text())
    assert on_disk == m and on_disk["schema_version"] == 3
    assert m["seeds"] == [0] and m["lab"] == {"null": False, "seed": 0, "size": 32}
    assert "wall_seconds" not in m  # metrics are a pure function of the predictions
    (target,) = m["targets"]
    assert target["target"] == {"subset": "ct-brain-lesion", "modality": "CT", "area": "Brain",
                                "task": "Lesion type", "n_train": None, "n_test": None}
    for name, arm in target["arms"].items():
        lo, hi = arm["ci95"]
        assert 0 <= lo <= arm["accuracy"] <= hi <= 1, name
        assert arm["n"] == 16 and arm["name"] == name
    assert target["arms"]["related"]["train_subsets"] == ["ct-lung-lesion", "mri-brain-lesion"]
    assert target["arms"]["untrained"]["train_subsets"] == []
    gain = result.targets[0].gain
    assert gain.ci95[0] <= gain.diff <= gain.ci95[1]
    for name in ("report.md", "accuracy.png", "lattice.png", "plan.json", "items/items.jsonl",
                 "lab/records.parquet", "lab/contact_sheet.png", "manifest.json",
                 "lab/manifest.json", "items/manifest.json", "run-log.txt"):
        assert (tmp_path / name).exists(), name
    # no target test image ever reached a training arm
    plan = json.loads((tmp_path / "plan.json").read_text())["plans"][0]
    for arm in plan["arms"]:
        if arm["name"] != "target_trained":
            assert "ct-brain-lesion" not in arm["budgets"]


def test_same_seed_same_files_and_metrics(config, tmp_path):
    a = run_experiment(config(), tmp_path / "a")
    b = run_experiment(config(), tmp_path / "b")
    assert a == b
    for rel in ("items/items.jsonl", "plan.json", "report.md", "metrics.json", "manifest.json"):
        assert (tmp_path / "a" / rel).read_bytes() == (tmp_path / "b" / rel).read_bytes(), rel
    for pa_ in (tmp_path / "a" / "runs").rglob("predictions.parquet"):
        pb = tmp_path / "b" / pa_.relative_to(tmp_path / "a")
        assert pq.read_table(pa_).equals(pq.read_table(pb))


def test_rerun_reuses_finished_arms(config, tmp_path):
    first = run_experiment(config(), tmp_path)
    stamps = {p: p.stat().st_mtime_ns for p in (tmp_path / "models").rglob("*.safetensors")}
    stamps[tmp_path / "metrics.json"] = (tmp_path / "metrics.json").stat().st_mtime_ns
    second = run_experiment(config(), tmp_path)
    assert len(stamps) > 1 and all(p.stat().st_mtime_ns == t for p, t in stamps.items())
    assert first == second
    log = (tmp_path / "run-log.txt").read_text()
    assert "training" not in log and log.count("reused") == 7, log


@pytest.mark.slow
def test_killed_run_resumes_to_the_same_metrics(config, tmp_path):
    cfg = config(backend_options={"epochs": 40, "batch_size": 16, "image_size": 16, "width": 8,
                                  "hidden": 32}, arms=["related", "unrelated"])
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(cfg))
    env = {**os.environ, "MEDMAT_PROGRESS": "0"}

    def cli(out):  # every run in a fresh process, as a user would run it
        return [sys.executable, "-m", "medmat.cli", "experiment", "run", str(path), "--out",
                str(out)]

    subprocess.run(cli(tmp_path / "reference"), env=env, check=True, capture_output=True)
    reference = json.loads((tmp_path / "reference" / "metrics.json").read_text())

    out = tmp_path / "killed"
    proc = subprocess.Popen(cli(out), env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    ckpt = None
    while time.time() < deadline and proc.poll() is None:
        # models live in OUT/models/KEY (one per distinct training)
        found = (list((out / "models").rglob("checkpoint.json"))
                 if (out / "models").exists() else [])
        if found:
            ckpt = found[0]
            break
        time.sleep(0.05)
    assert ckpt is not None, "the run finished or stalled before its first checkpoint"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (out / "metrics.json").exists()
    assert json.loads(ckpt.read_text())["epoch"] < 40

    subprocess.run(cli(out), env=env, check=True, capture_output=True)
    resumed = json.loads((out / "metrics.json").read_text())
    assert resumed == reference


@pytest.mark.parametrize(("mutate", "message"), [
    (lambda c: c.update(bogus=1), "key 'bogus': unknown key"),
    (lambda c: c.update(targets=[]), "key 'targets'"),
    (lambda c: c.update(data={}), "exactly one"),
    (lambda c: c.update(seeds=["a"]), "key 'seeds.0'"),
    (lambda c: c.update(budget_per_subset=0), "key 'budget_per_subset'"),
    (lambda c: c["data"]["lab"].pop("cells"), "key 'data.lab.cells': required key is missing"),
    (lambda c: c["data"]["lab"].update(size="64"), "key 'data.lab.size'.*got '64'"),
    (lambda c: c.update(drop_leaky="no"), "key 'drop_leaky'"),
    (lambda c: c["data"].update(records="x/records.parquet"), "exactly one of 'lab' or"),
    (lambda c: c.update(data={"records": 5}), "key 'data.records'"),
    (lambda c: c.update(arms=["relatd"]), "unknown arm 'relatd'"),
    (lambda c: c.update(seeds=[0, 0]), "unique"),
    (lambda c: c["backend_options"].update(epochs="8"), "backend_options key 'epochs'"),
    (lambda c: c["backend_options"].update(epoch=8), "backend_options key 'epoch': unknown"),
    (lambda c: c.update(backend="gpt"), "unknown backend 'gpt'"),
])
def test_bad_configs_name_the_problem(config, mutate, message):
    cfg = config()
    mutate(cfg)
    with pytest.raises(MedmatError, match=message):
        load_config(cfg)


def test_yaml_config_errors_name_the_file(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("targets: [unclosed\n")
    with pytest.raises(MedmatError, match="bad.yaml: not valid YAML"):
        load_config(bad)
    with pytest.raises(MedmatError, match="not found"):
        load_config(tmp_path / "missing.yaml")


def test_unquoted_null_key_is_understood(tmp_path, config):
    cfg = config()
    text = yaml.safe_dump(cfg).replace("'null': false", "null: true")
    path = tmp_path / "c.yaml"
    path.write_text(text)
    assert load_config(path).lab.null is True


def test_unknown_target_is_a_clear_error(config, tmp_path):
    with pytest.raises(MedmatError, match="not a subset"):
        run_experiment(config(targets=["xray-brain-lesion"]), tmp_path)


def test_cli_run_and_plan(config, tmp_path):
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(config()))
    env = {**os.environ, "MEDMAT_PROGRESS": "0"}
    run = subprocess.run([sys.executable, "-m", "medmat.cli", "experiment", "run", str(path),
                          "--out", str(tmp_path / "out")], env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert (tmp_path / "out" / "metrics.json").exists()
    plan = subprocess.run([sys.executable, "-m", "medmat.cli", "experiment", "plan", str(path),
                           "--records", str(tmp_path / "out" / "lab")], env=env,
                          capture_output=True, text=True)
    assert plan.returncode == 0 and "related" in plan.stderr
    # the plan printed is, byte for byte, the plan.json the run wrote; a lab config is planned
    # from its cells and counts alone, with the same result
    assert plan.stdout == (tmp_path / "out" / "plan.json").read_text()
    from_spec = subprocess.run([sys.executable, "-m", "medmat.cli", "experiment", "plan",
                                str(path)], env=env, capture_output=True, text=True)
    assert from_spec.returncode == 0, from_spec.stderr
    assert from_spec.stdout == plan.stdout
    bad = subprocess.run([sys.executable, "-m", "medmat.cli", "experiment", "run",
                          str(tmp_path / "nope.yaml"), "--out", str(tmp_path / "x")], env=env,
                         capture_output=True, text=True)
    assert bad.returncode == 2 and "not found" in bad.stderr
    assert not (tmp_path / "x").exists()
