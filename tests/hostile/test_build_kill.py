"""`medmat build` killed at every rename point leaves the old build or the new one, never a mix.

Each case runs a build in a fresh process that dies with ``os._exit`` (as ``kill -9`` would:
no cleanup, no ``finally``) at the k-th rename or folder exchange, then checks the folder: either
the complete old build (seed 0, bytes unchanged) or the complete new one (seed 1), readable.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from medmat.qa import build
from medmat.records import read_items
from medmat.synth import generate_lab, parse_cell

FILES = ("items.parquet", "items.jsonl", "summary.json", "manifest.json")

CHILD = textwrap.dedent(
    """
    import os, sys
    import medmat.io as mio
    from medmat.qa import build

    limit = int(sys.argv[3])
    calls = {"n": 0}

    def dying(real):
        def wrapper(*args, **kwargs):
            calls["n"] += 1
            if calls["n"] == limit:
                os._exit(137)
            return real(*args, **kwargs)
        return wrapper

    os.replace = dying(os.replace)
    mio.swap_dirs = dying(mio.swap_dirs)
    build(sys.argv[1], sys.argv[2], seed=1)
    print("finished", calls["n"])
    """
)


@pytest.fixture(scope="module")
def lab(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("lab") / "lab"
    cells = [parse_cell(c) for c in ("ct-brain-lesion", "xray-lung-lesion")]
    generate_lab(out, cells, n_train=12, n_test=4, workers=1, contact_sheet=False)
    return out


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {name: (folder / name).read_bytes() for name in FILES}


def _run(lab: Path, out: Path, limit: int) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", CHILD, str(lab), str(out), str(limit)],
                          capture_output=True, text=True, timeout=300)


def test_kill_at_every_rename_point_leaves_old_or_new(lab, tmp_path):
    reference_new = tmp_path / "new"
    build(lab, reference_new, seed=1)
    new = _snapshot(reference_new)
    out = tmp_path / "items"
    build(lab, out, seed=0)
    old = _snapshot(out)
    assert old != new
    probe = _run(lab, tmp_path / "probe", 10_000)  # count the rename points of one build
    assert probe.returncode == 0, probe.stderr
    n_points = int(probe.stdout.split()[-1])
    assert n_points >= 4  # files inside the stage, then the swap
    for k in range(1, n_points + 1):
        result = _run(lab, out, k)
        assert result.returncode == 137, (k, result.stderr[-2000:])
        now = _snapshot(out)
        assert now in (old, new), f"kill at rename {k} left a mix"
        assert len(read_items(out)) > 0  # readable: the manifest matches the files
        if now == new:  # once swapped in, restore the old build for the next kill point
            build(lab, out, seed=0)
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.startswith(".items.")]
    # a killed build may leave its hidden staging folder behind; it never replaces ``out``
    assert all(name.endswith(".tmp") for name in leftovers), leftovers
