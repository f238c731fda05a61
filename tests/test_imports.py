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
from concurrent.futures import ThreadPoolExecutor
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

# Import the module; report a missing module by name so the parent can judge it.
CHILD = """
import importlib, json, sys
try:
    importlib.import_module(sys.argv[1])
except ModuleNotFoundError as exc:
    print(json.dumps({"missing": exc.name}))
    sys.exit(3)
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


def _run(module: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "MEDMAT_PROGRESS": "0", "OMP_NUM_THREADS": "1"}
    if module.endswith(".__main__"):
        # importing a __main__ runs it: run the package as a command, asking only for help
        cmd = [sys.executable, "-m", module.removesuffix(".__main__"), "--help"]
    else:
        cmd = [sys.executable, "-c", CHILD, module]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)


@pytest.fixture(scope="module")
def results(request: pytest.FixtureRequest) -> dict[str, subprocess.CompletedProcess]:
    # One fresh interpreter per selected module, run a few at a time up front (torch and
    # transformers imports are slow); `-k` selections import only what they select.
    selected = [item.callspec.params["module"] for item in request.session.items
                if item.originalname == "test_module_imports_alone"]
    with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 2)) as pool:
        return dict(zip(selected, pool.map(_run, selected), strict=True))


def test_modules_are_found():
    assert {"medmat", "medmat.cli", "medmat.cli.__main__", "medmat.train.backend",
            "medmat.train.hf.backend", "medmat.testing.tiny_models"} <= set(MODULES)
    assert all((PACKAGE_DIR.parent / (m.replace(".", "/") + ".py")).is_file()
               or (PACKAGE_DIR.parent / m.replace(".", "/") / "__init__.py").is_file()
               for m in NOT_MODULES)


@pytest.mark.slow  # about 130 interpreters, a dozen of them importing transformers
@pytest.mark.parametrize("module", MODULES)
def test_module_imports_alone(module, results):
    proc = results[module]
    if proc.returncode == 3:
        missing = json.loads(proc.stdout.strip().splitlines()[-1])["missing"] or ""
        top = missing.split(".")[0]
        assert top in OPTIONAL, f"{module}: import failed on {missing!r}\n{proc.stderr}"
        pytest.skip(f"optional dependency {top} is not installed")
    assert proc.returncode == 0, f"{module}:\n{proc.stderr[-3000:]}"
