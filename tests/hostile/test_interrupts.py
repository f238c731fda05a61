"""Interrupts: `kill -9` of a parent leaves no worker behind, Ctrl-C exits 130 with one line.

Each test starts its own process group (start_new_session) and finds the processes of that group
by scanning /proc (no psutil), so a leftover worker is seen even after it was re-parented.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(),
                                reason="needs /proc to find the processes of a group")

# Big enough that the run is still rendering when it is interrupted.
SYNTH = ["-m", "medmat.cli", "synth", "--all", "--n-train", "2000", "--n-test", "0",
         "--size", "64", "--workers", "2", "-q"]


def group_members(pgid: int) -> list[int]:
    """Live (non-zombie) processes whose process group is ``pgid``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:  # exited while we looked
            continue
        state, _ppid, group = stat[stat.rindex(")") + 2:].split()[:3]
        if int(group) == pgid and state not in ("Z", "X"):
            found.append(int(entry.name))
    return found


def children_of(pid: int) -> list[int]:
    out = []
    for member in group_members(pid):
        try:
            stat = Path(f"/proc/{member}/stat").read_text()
        except OSError:
            continue
        if int(stat[stat.rindex(")") + 2:].split()[1]) == pid:
            out.append(member)
    return out


def wait_for(predicate, timeout: float, step: float = 0.05):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    return predicate()


def start(argv: list[str], tmp_path: Path) -> subprocess.Popen:
    env = {**os.environ, "MEDMAT_PROGRESS": "0", "TMPDIR": str(tmp_path)}
    # A shell without job control starts background jobs with SIGINT ignored (`(pytest &)` in a
    # script), and Python keeps an ignored SIGINT: give the child a terminal's default instead.
    return subprocess.Popen([sys.executable, *argv], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def reap(pgid: int) -> None:
    """Kill whatever of *our* process group is still alive (so a failing test leaks nothing)."""
    for pid in group_members(pgid):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def started_workers(proc: subprocess.Popen, n: int, out: Path) -> list[int]:
    workers = wait_for(lambda: len(children_of(proc.pid)) >= n and any(out.rglob("*.png"))
                       and children_of(proc.pid), timeout=60)
    assert workers and len(workers) >= n, proc.stderr.read().decode() if proc.poll() else ""
    return workers


def test_no_worker_outlives_a_killed_synth(tmp_path):
    out = tmp_path / "lab"
    proc = start([*SYNTH, "--out", str(out)], tmp_path)
    try:
        workers = started_workers(proc, 2, out)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        left = wait_for(lambda: not group_members(proc.pid), timeout=2.0)
        assert left, f"workers {workers} still running 2 s after kill -9"
    finally:
        reap(proc.pid)
        proc.communicate()


@pytest.mark.parametrize("delay", [0.0, 1.5])  # as soon as workers run, and mid-run
def test_ctrl_c_exits_130_with_one_line_and_no_traceback(tmp_path, delay):
    out = tmp_path / "lab"
    proc = start([*SYNTH, "--out", str(out)], tmp_path)
    try:
        started_workers(proc, 2, out)
        time.sleep(delay)
        os.killpg(proc.pid, signal.SIGINT)  # what a terminal does: the whole foreground group
        _, err = proc.communicate(timeout=30)
        assert proc.returncode == 130
        assert err.decode() == "interrupted\n"  # nothing from the workers, no traceback
        assert wait_for(lambda: not group_members(proc.pid), timeout=2.0)
    finally:
        reap(proc.pid)


def test_workers_die_with_their_parent_without_prctl(tmp_path):
    """The portable fallback (no PR_SET_PDEATHSIG): workers poll their parent and exit."""
    script = textwrap.dedent("""
        import os, sys, time
        from concurrent.futures import ProcessPoolExecutor
        import medmat.procs as procs
        procs._die_with_parent_linux = lambda: False  # force the watchdog path

        def pid_then_sleep(_):
            return os.getpid()

        def sleep(_):
            time.sleep(60)

        if __name__ == "__main__":
            pool = ProcessPoolExecutor(2, initializer=procs.worker_init,
                                       initargs=(os.getpid(),))
            pids = set()
            while len(pids) < 2:
                pids |= set(pool.map(pid_then_sleep, range(8)))
            print(" ".join(map(str, sorted(pids))), flush=True)
            list(pool.map(sleep, range(2)))
    """)
    path = tmp_path / "pool.py"
    path.write_text(script, encoding="utf-8")
    proc = start([str(path)], tmp_path)
    try:
        workers = [int(p) for p in proc.stdout.readline().split()]
        assert len(workers) == 2 and set(workers) <= set(group_members(proc.pid))
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        gone = wait_for(lambda: not any(w in group_members(proc.pid) for w in workers),
                        timeout=2.5)
        assert gone, f"workers {workers} outlived their parent"
    finally:
        reap(proc.pid)
        proc.communicate()


def test_a_worker_ignores_sigint_and_exits_when_its_parent_is_gone():
    """worker_init in this very process: SIGINT ignored; a wrong parent pid means exit now."""
    script = textwrap.dedent("""
        import os, signal
        import medmat.procs as procs
        procs.worker_init(os.getppid())
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
        os.kill(os.getpid(), signal.SIGINT)  # ignored: we are still here
        print("alive", flush=True)
        procs.worker_init(os.getppid() + 12345)  # 'parent already gone' -> os._exit(1)
        print("not reached", flush=True)
    """)
    res = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=60)
    assert res.stdout.decode() == "alive\n" and res.returncode == 1, res.stderr.decode()
