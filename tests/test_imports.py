"""Every module of medmat imports on its own, in a fresh interpreter.

A module that only imports after some other module was imported first (an import cycle, a
missing import hidden by a test's import order) fails here. A module may be skipped only when a
*third-party* optional dependency is absent (``medmat[hf]``, ``medmat[dicom]``...), and the
ImportError must name that package: a broken medmat import never turns into a skip.

Modules are found on disk rather than by ``pkgutil.walk_packages``, which imports each package
to look inside it, so a package whose ``__init__`` fails would hide its modules from the test.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import medmat

PACKAGE_DIR = Path(medmat.__file__).parent
# top-level names of the optional extras' packages (pyproject.toml [project.optional-dependencies])
OPTIONAL = frozenset({"transformers", "peft", "accelerate", "tokenizers", "pydicom", "nibabel",
                      "datasets", "pandas"})

# Files in the package that are templates for other programs, not medmat modules.
NOT_MODULES = {
    # copied into an lmms-eval export as utils.py; it loads medmat_answers.py from its own folder
    "medmat.export.lmms_eval_utils",
}

# One interpreter imports the third-party packages once, then forks a child per module: the
# child imports that medmat module into an interpreter holding no medmat module at all, which is
# what "alone" means here, without paying torch's import ~170 times (measured on two loaded
# cores: 169 CPU-s and 2 min 44 s with one interpreter per module, 35 CPU-s and 67 s this way).
# Missing modules are reported by name so the test can judge them.
SCAN = """
import importlib, sys
for name in sys.argv[1:]:
    try:
        importlib.import_module(name)
    except BaseException:
        pass
print("\\n".join(m for m in list(sys.modules) if m.split(".")[0] != "medmat"))
"""
SERVER = """
import importlib, json, os, sys, traceback
out_dir, preload = sys.argv[1], sys.argv[2]
for name in open(preload).read().split():
    if name not in sys.modules:
        try:
            importlib.import_module(name)
        except BaseException:
            pass
assert not [m for m in sys.modules if m.split(".")[0] == "medmat"]
for module in sys.stdin.read().split():
    pid = os.fork()
    if pid == 0:
        fd = os.open(os.path.join(out_dir, module + ".txt"), os.O_WRONLY | os.O_CREAT)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        code = 0
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            print(json.dumps({"missing": exc.name}))
            code = 3
        except BaseException:
            traceback.print_exc()
            code = 1
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    print(json.dumps({"module": module, "code": os.waitstatus_to_exitcode(status)}), flush=True)
"""


def _modules() -> list[str]:
    names = []
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE_DIR.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        name = ".".join(parts)
        if name not in NOT_MODULES:
            names.append(name)
    return names


MODULES = _modules()


ENV = {**os.environ, "MEDMAT_PROGRESS": "0", "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg"}


def _run_main(module: str) -> subprocess.CompletedProcess:
    # importing a __main__ runs it: run the package as a command, asking only for help
    cmd = [sys.executable, "-m", module.removesuffix(".__main__"), "--help"]
    return subprocess.run(cmd, capture_output=True, text=True, env=ENV, timeout=600)


def _import_each(modules: list[str], out_dir: Path) -> dict[str, subprocess.CompletedProcess]:
    """Import each module in its own fork of one server interpreter (see SERVER), which first
    loads the third-party modules a full import of medmat loads (SCAN), in that order."""
    scan = subprocess.run([sys.executable, "-c", SCAN, *modules], capture_output=True, text=True,
                          env=ENV, timeout=900)
    preload = out_dir / "preload.txt"
    preload.write_text(scan.stdout, encoding="utf-8")
    proc = subprocess.run([sys.executable, "-c", SERVER, str(out_dir), str(preload)],
                          input="\n".join(modules), capture_output=True, text=True, env=ENV,
                          timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    done = {}
    for line in proc.stdout.splitlines():
        row = json.loads(line)
        text = (out_dir / f"{row['module']}.txt").read_text(encoding="utf-8")
        done[row["module"]] = subprocess.CompletedProcess(row["module"], row["code"], text, text)
    return done


def _import_selected(selected: list[str], out_dir: Path) -> dict[str, tuple[int, str, str]]:
    mains = [m for m in selected if m.endswith(".__main__")]
    done = {m: _run_main(m) for m in mains}
    done.update(_import_each([m for m in selected if m not in mains], out_dir))
    return {m: (p.returncode, p.stdout, p.stderr) for m, p in done.items()}


@pytest.fixture(scope="module")
def results(request: pytest.FixtureRequest,
            tmp_path_factory: pytest.TempPathFactory) -> dict[str, subprocess.CompletedProcess]:
    # every selected module up front; `-k` selections import only what they select
    selected = [item.callspec.params["module"] for item in request.session.items
                if item.originalname == "test_module_imports_alone"]
    run_id = os.environ.get("PYTEST_XDIST_TESTRUNUID")
    if run_id is None:
        found = _import_selected(selected, tmp_path_factory.mktemp("imports"))
    else:
        # pytest-xdist: each worker that draws one of these tests would build this fixture, so
        # the first does the imports for the whole run and the others read its file (the
        # workers' temp folders share a parent); the lock makes them wait for it
        import fcntl

        shared = tmp_path_factory.getbasetemp().parent
        cache = shared / f"imports-{run_id}.json"
        with open(shared / f"imports-{run_id}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not cache.exists():
                found = _import_selected(selected, tmp_path_factory.mktemp("imports"))
                tmp = cache.with_suffix(".tmp")
                tmp.write_text(json.dumps(found), encoding="utf-8")
                tmp.replace(cache)
            found = json.loads(cache.read_text(encoding="utf-8"))
    return {m: subprocess.CompletedProcess(m, code, out, err)
            for m, (code, out, err) in found.items()}


def test_modules_are_found():
    assert {"medmat", "medmat.cli", "medmat.cli.__main__", "medmat.train.backend",
            "medmat.train.hf.backend", "medmat.testing.tiny_models"} <= set(MODULES)
    assert all((PACKAGE_DIR.parent / (m.replace(".", "/") + ".py")).is_file()
               or (PACKAGE_DIR.parent / m.replace(".", "/") / "__init__.py").is_file()
               for m in NOT_MODULES)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="the import server forks (POSIX only)")
@pytest.mark.parametrize("module", MODULES)
def test_module_imports_alone(module, results):
    proc = results[module]
    if proc.returncode == 3:
        missing = json.loads(proc.stdout.strip().splitlines()[-1])["missing"] or ""
        top = missing.split(".")[0]
        assert top in OPTIONAL, f"{module}: import failed on {missing!r}\n{proc.stderr}"
        pytest.skip(f"optional dependency {top} is not installed")
    assert proc.returncode == 0, f"{module}:\n{proc.stderr[-3000:]}"
