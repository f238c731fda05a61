"""Faults without tracebacks: a full disk and a read-only folder for every command that writes,
truncated and foreign checkpoints, non-UTF-8 and deeply nested files, resource limits, bugs.

The disk faults are real where the machine allows it (a tiny or read-only tmpfs mounted by root,
or chmod for other users) and stubbed otherwise, so each case always runs. Everything the
commands read is generated here.
"""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import save_file

from medmat.cli import main
from medmat.errors import MedmatError
from medmat.failures import explain, run_guarded

MAT = ["--modality", "X-ray", "--area", "Lung", "--task", "COVID-19"]
CELLS = ["ct-brain-lesion", "ct-lung-lesion", "mri-brain-lesion", "us-kidney-severity",
         "fp-bones-location"]
TINY = {"epochs": 1, "batch_size": 16, "image_size": 16, "width": 4, "hidden": 8}


@pytest.fixture(autouse=True)
def _quiet(monkeypatch):
    monkeypatch.setenv("MEDMAT_PROGRESS", "0")


def call(argv) -> int:
    try:
        main([str(a) for a in argv])
    except SystemExit as exc:
        return exc.code
    return 0


def run(argv, capsys):
    code = call(argv)
    captured = capsys.readouterr()
    return code, captured.err


def one_line(code, err, *fragments, status=2):
    """The failure is one last line 'error: ...' (progress lines before it are the run log)."""
    assert code == status, err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert lines and lines[-1].startswith("error: "), err
    assert [ln for ln in lines if "error" in ln.lower()] == lines[-1:], err
    for fragment in fragments:
        assert fragment in err, (fragment, err)


def png(path: Path, seed: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 256, (12, 12, 3), dtype=np.uint8)).save(path)


def tree(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """Inputs for every command: a folder dataset, a lab, its items, a config, its metrics."""
    root = tmp_path_factory.mktemp("world")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MEDMAT_PROGRESS", "0")
        for i in range(6):
            png(root / "data" / ("covid" if i % 2 else "normal") / f"{i}.png", i)
        assert call(["synth", "--out", root / "lab", "--cells", ",".join(CELLS), "--n-train",
                     "16", "--n-test", "8", "--size", "16", "--workers", "1", "-q"]) == 0
        assert call(["build", root / "lab", "--out", root / "items", "-q"]) == 0
        config = {"name": "tiny", "data": {"records": "lab"}, "targets": ["ct-brain-lesion"],
                  "arms": ["related", "unrelated"], "budget_per_subset": 16,
                  "backend": "builtin", "backend_options": TINY, "seeds": [0],
                  "bootstrap": 50}
        (root / "tiny.json").write_text(json.dumps(config), encoding="utf-8")
        (root / "tiny.yaml").write_text(json.dumps(config), encoding="utf-8")  # JSON is YAML
        assert call(["experiment", "run", root / "tiny.yaml", "--out", root / "exp"]) == 0
    return root


def commands(w: Path, out: Path) -> dict[str, list]:
    """Every command that writes, aimed at ``out`` (a folder, or out.json / out.csv)."""
    return {
        "synth": ["synth", "--out", out, "--cells", "xray-lung-lesion", "--n-train", "40",
                  "--n-test", "4", "--size", "64", "--workers", "1", "-q"],
        "ingest": ["ingest", w / "data", "--format", "folder", "--out", out, *MAT],
        "build": ["build", w / "lab", "--out", out, "-q"],
        "export": ["export", w / "items", "--format", "vlmevalkit", "--out", out],
        "experiment": ["experiment", "run", w / "tiny.yaml", "--out", out],
        "quickstart": ["quickstart", "--out", out],
        "report": ["report", w / "exp" / "metrics.json", "--out", out],
        "leakage": ["leakage", w / "lab", "--out", out.with_suffix(".json")],
        "catalog": ["catalog", "--csv", out.with_suffix(".csv"), "-q"],
    }


COMMANDS = list(commands(Path("w"), Path("o")))


# ------------------------------------------------------------------ disk faults (real or stub)
def _mount_tmpfs(where: Path, options: str) -> bool:
    if os.geteuid() != 0:
        return False
    where.mkdir(parents=True, exist_ok=True)
    res = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)],
                         capture_output=True)
    return res.returncode == 0


def _umount(where: Path) -> None:
    subprocess.run(["umount", str(where)], capture_output=True)


def _stub(monkeypatch, root: Path, code: int) -> None:
    """Writes under ``root`` fail with ``code``: creating folders/files and renaming into it."""
    real_replace, real_mkdir, real_open = os.replace, os.mkdir, os.open
    prefix = str(root)

    def inside(path) -> bool:
        return os.path.abspath(os.fspath(path)).startswith(prefix)

    def replace(src, dst, *a, **k):
        if inside(dst):
            raise OSError(code, os.strerror(code), os.fspath(src))
        return real_replace(src, dst, *a, **k)

    def mkdir(path, *a, **k):
        if inside(path) and code == errno.EROFS:
            raise OSError(code, os.strerror(code), os.fspath(path))
        return real_mkdir(path, *a, **k)

    def open_(path, flags, *a, **k):
        if inside(path) and flags & os.O_CREAT and code == errno.EROFS:
            raise OSError(code, os.strerror(code), os.fspath(path))
        return real_open(path, flags, *a, **k)

    monkeypatch.setattr(os, "replace", replace)
    monkeypatch.setattr(os, "mkdir", mkdir)
    monkeypatch.setattr(os, "open", open_)


@pytest.fixture(params=["tmpfs", "stub"])
def full_disk(request, tmp_path, monkeypatch):
    """A folder on a full disk: a 256 KiB tmpfs filled up, or a stubbed ENOSPC."""
    root = tmp_path / "full"
    if request.param == "tmpfs":
        if not _mount_tmpfs(root, "size=256k"):
            pytest.skip("cannot mount a tmpfs here (the 'stub' variant covers this case)")
        request.addfinalizer(lambda: _umount(root))
        try:  # fill it to the brim: folders still appear, the first byte of data fails
            with open(root / "filler", "wb") as fh:
                fh.write(b"\0" * (512 * 1024))
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
    else:
        root.mkdir()
        _stub(monkeypatch, root, errno.ENOSPC)
    return root


@pytest.fixture
def read_only(tmp_path, monkeypatch, request):
    """A folder nobody may write to: chmod 0o555 (non-root), a read-only tmpfs (root), or a
    stub (root without mount). Root ignores chmod, so it is never used as root."""
    root = tmp_path / "ro"
    if os.geteuid() != 0:
        root.mkdir()
        root.chmod(0o555)
        request.addfinalizer(lambda: root.chmod(0o755))
    elif _mount_tmpfs(root, "ro,size=64k"):
        request.addfinalizer(lambda: _umount(root))
    else:
        root.mkdir()
        _stub(monkeypatch, root, errno.EROFS)
    return root


@pytest.mark.parametrize("name", COMMANDS)
def test_a_full_disk_is_one_line_for_every_command(name, world, full_disk, capsys):
    before = tree(world / "lab")
    code, err = run(commands(world, full_disk / name)[name], capsys)
    one_line(code, err, "disk full", str(full_disk))
    assert tree(world / "lab") == before  # inputs untouched
    # nothing half-written is visible under a temporary name either
    leftovers = [p.name for p in full_disk.rglob("*") if p.name.endswith(".tmp")]
    assert leftovers == [], leftovers


@pytest.mark.parametrize("name", COMMANDS)
def test_a_read_only_folder_is_one_line_for_every_command(name, world, read_only, capsys):
    code, err = run(commands(world, read_only / name)[name], capsys)
    one_line(code, err, str(read_only))
    assert "read-only" in err or "permission denied" in err


def test_report_into_a_read_only_experiment_folder(world, tmp_path, capsys, request):
    """Redrawing the report in place, in an experiment folder that became read-only: a
    read-only bind mount of a copy (root), chmod (other users), or a stub."""
    import shutil

    target = shutil.copytree(world / "exp", tmp_path / "exp-copy")
    with pytest.MonkeyPatch.context() as mp:
        if os.geteuid() != 0:
            target.chmod(0o555)
            request.addfinalizer(lambda: target.chmod(0o755))
        elif _bind_read_only(target):
            request.addfinalizer(lambda: _umount(target))
        else:
            _stub(mp, target, errno.EROFS)
        before = tree(target)
        code, err = run(["report", target / "metrics.json"], capsys)
    one_line(code, err, str(target))
    assert "read-only" in err or "permission denied" in err
    assert tree(target) == before


def _bind_read_only(folder: Path) -> bool:
    if subprocess.run(["mount", "--bind", str(folder), str(folder)],
                      capture_output=True).returncode != 0:
        return False
    if subprocess.run(["mount", "-o", "remount,ro,bind", str(folder)],
                      capture_output=True).returncode != 0:
        _umount(folder)
        return False
    return True


# ---------------------------------------------------------------- corrupt and foreign files
@pytest.fixture(scope="module")
def trained(world, tmp_path_factory):
    from medmat.qa import iter_items
    from medmat.records import read_records_table
    from medmat.train.builtin import BuiltinBackend

    items = [i for i in iter_items(read_records_table(world / "lab"), seed=0)
             if i.split == "train"][:32]
    work = tmp_path_factory.mktemp("work")
    BuiltinBackend(**TINY).fit(items, world / "lab", work, seed=0)
    return items, work


def _copy(work: Path, dest: Path) -> Path:
    import shutil

    shutil.copytree(work, dest)
    return dest


CORRUPTIONS = {
    "truncated": lambda data: data[: len(data) // 3],
    "empty": lambda data: b"",
    "foreign bytes": lambda data: b"PK\x03\x04" + bytes(range(256)) * 4,  # "header too large"
}


@pytest.mark.parametrize("how", list(CORRUPTIONS))
@pytest.mark.parametrize("which", ["model.safetensors", "checkpoint.safetensors"])
def test_a_corrupt_checkpoint_is_named_with_its_fix(trained, world, tmp_path, which, how):
    from medmat.train.builtin import BuiltinBackend

    items, work = trained
    work = _copy(work, tmp_path / "w")
    if which == "checkpoint.safetensors":  # no final weights: the run resumes from here
        (work / "model.safetensors").unlink()
    path = work / which
    path.write_bytes(CORRUPTIONS[how](path.read_bytes()))
    with pytest.raises(MedmatError) as info:
        BuiltinBackend(**TINY).fit(items, world / "lab", work, seed=0)
    message = str(info.value)
    assert str(path) in message and "delete it to retrain" in message
    assert len(message.splitlines()) == 1
    # and through the top-level handler: exit 2, one line
    with pytest.raises(SystemExit) as exit_info:
        run_guarded(lambda: BuiltinBackend(**TINY).fit(items, world / "lab", work, seed=0), [])
    assert exit_info.value.code == 2


def test_a_foreign_but_valid_safetensors_file_is_refused(trained, world, tmp_path):
    """Well-formed safetensors from another model (other tensor names and shapes)."""
    from medmat.train.builtin import BuiltinBackend

    items, work = trained
    work = _copy(work, tmp_path / "w")
    save_file({"some.other.weight": torch.zeros(3, 3)}, str(work / "model.safetensors"))
    with pytest.raises(MedmatError, match="model.safetensors: corrupt, truncated or foreign"):
        BuiltinBackend(**TINY).fit(items, world / "lab", work, seed=0)
    # a resume checkpoint carrying the right fingerprint but foreign tensors
    (work / "model.safetensors").unlink()
    fp = json.loads((work / "config.json").read_text())["fingerprint"]
    save_file({"x": torch.zeros(2)}, str(work / "checkpoint.safetensors"),
              metadata={"epoch": "1", "fingerprint": fp})
    with pytest.raises(MedmatError, match="checkpoint.safetensors: corrupt, truncated or foreign"):
        BuiltinBackend(**TINY).fit(items, world / "lab", work, seed=0)


def test_a_truncated_hf_checkpoint_is_named(tmp_path):
    from medmat.train.hf.checkpoint import load_trainable

    model = torch.nn.Linear(4, 2)
    path = tmp_path / "trainable.safetensors"
    save_file({k: v.detach().clone() for k, v in model.state_dict().items()}, str(path))
    path.write_bytes(path.read_bytes()[:40])
    with pytest.raises(MedmatError, match="trainable.safetensors: corrupt, truncated or foreign"):
        load_trainable(model, path)


def _latin1(path: Path, text: str) -> Path:
    path.write_bytes(text.encode("latin-1"))
    return path


def _nested(path: Path, depth: int = 100_000, prefix: str = "") -> Path:
    path.write_text(prefix + "[" * depth + "]" * depth, encoding="utf-8")
    return path


def test_non_utf8_and_deeply_nested_configs_are_one_line(world, tmp_path, capsys):
    out = tmp_path / "o"
    cases = [
        (["experiment", "run", _latin1(tmp_path / "a.yaml", "name: café\n"), "--out", out],
         "a.yaml"),
        (["experiment", "run", _nested(tmp_path / "b.yaml", 20_000, "name: "), "--out", out],
         "b.yaml"),
        (["report", _latin1(tmp_path / "c.json", '{"name": "café"}')], "c.json"),
        (["report", _nested(tmp_path / "d.json")], "d.json"),
        (["synth", "--out", out, "--lattice", _latin1(tmp_path / "e.yaml", "- café\n")],
         "e.yaml"),
        (["synth", "--out", out, "--lattice", _nested(tmp_path / "f.yaml", 20_000, "- ")],
         "f.yaml"),
        (["build", world / "lab", "--out", out, "--templates",
          _latin1(tmp_path / "g.yaml", "generic: ['café {question}']\n")], "g.yaml"),
    ]
    for argv, name in cases:
        code, err = run(argv, capsys)
        one_line(code, err, name)
    assert not out.exists()


# ------------------------------------------------------------ resources, interrupts and bugs
@pytest.mark.parametrize(("exc", "words"), [
    (MemoryError(), "out of memory"),
    (RecursionError("maximum recursion depth exceeded"), "nested too deeply"),
    (OSError(errno.EMFILE, "Too many open files"), "too many open files"),
    (OSError(errno.EACCES, "Permission denied", "/x/y"), "/x/y: permission denied"),
    (RuntimeError("write failed: No space left on device"), "disk full"),
])
def test_expected_failures_become_one_line(exc, words, world, monkeypatch, capsys):
    import medmat.qa

    def boom(*args, **kwargs):
        raise exc

    monkeypatch.setattr(medmat.qa, "build", boom)
    code, err = run(["build", world / "lab", "--out", world / "never", "-q"], capsys)
    one_line(code, err, words)


def test_ctrl_c_in_process_is_130_and_one_line(world, monkeypatch, capsys):
    import medmat.qa

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(medmat.qa, "build", interrupted)
    code, err = run(["build", world / "lab", "--out", world / "never", "-q"], capsys)
    assert code == 130 and err == "interrupted\n"


def test_a_bug_prints_one_line_and_saves_the_traceback(world, monkeypatch, capsys, tmp_path):
    import medmat.qa

    def bug(*args, **kwargs):
        return 1 // 0

    monkeypatch.setattr(medmat.qa, "build", bug)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    code, err = run(["build", world / "lab", "--out", world / "never", "-q"], capsys)
    one_line(code, err, "unexpected ZeroDivisionError", "full traceback saved to", status=1)
    crash = next(tmp_path.glob("medmat-crash-*.txt"))
    assert str(crash) in err
    text = crash.read_text(encoding="utf-8")
    assert "Traceback" in text and "ZeroDivisionError" in text and "'build'" in text
    assert explain(ZeroDivisionError()) is None  # a bug is never dressed up as user error


def test_a_file_size_limit_is_one_line(tmp_path):
    """A real resource limit: ulimit -f 1 (KiB); the write fails with EFBIG, not SIGXFSZ."""
    import resource

    def limit():
        resource.setrlimit(resource.RLIMIT_FSIZE, (1024, 1024))

    res = subprocess.run([sys.executable, "-m", "medmat.cli", "catalog", "--csv",
                          str(tmp_path / "c.csv"), "-q"], capture_output=True, text=True,
                         preexec_fn=limit, timeout=120)
    one_line(res.returncode, res.stderr, "c.csv", "ulimit -f")
    assert not (tmp_path / "c.csv").exists()


def test_python_m_entry_points_share_the_handler(tmp_path):
    bad = _latin1(tmp_path / "metrics.json", '{"name": "café"}')
    res = subprocess.run([sys.executable, "-m", "medmat.report", str(bad)],
                         capture_output=True, text=True, timeout=120)
    one_line(res.returncode, res.stderr, "metrics.json", "UTF-8")
    res = subprocess.run([sys.executable, "-m", "medmat.catalog.build", str(tmp_path / "no"),
                          "--out", str(tmp_path / "cat")], capture_output=True, text=True,
                         timeout=120)
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1
