"""Worker processes that never outlive their parent and never print on Ctrl-C.

``ProcessPoolExecutor(initializer=worker_init, initargs=(os.getpid(),))`` gives workers that

* ignore SIGINT: the terminal sends Ctrl-C to the whole process group, and only the parent
  should react (one "interrupted" line, exit 130), not every worker with a traceback;
* die with the parent: on Linux the kernel sends SIGKILL when the parent dies
  (``prctl(PR_SET_PDEATHSIG)``), even after ``kill -9``; elsewhere a watchdog thread polls
  ``os.getppid()`` and exits once the parent is gone.

:func:`terminate_pool` stops a pool's workers at once (instead of letting them finish their
chunks) when the parent fails or is interrupted.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor

_PR_SET_PDEATHSIG = 1  # linux/prctl.h
POLL_SECONDS = 0.5


def _die_with_parent_linux() -> bool:
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _watch_parent(parent_pid: int) -> None:
    while True:
        if os.getppid() != parent_pid:
            os._exit(1)  # the parent is gone; nobody will collect our results
        time.sleep(POLL_SECONDS)


def worker_init(parent_pid: int) -> None:
    """Pool initializer: ignore Ctrl-C and exit when ``parent_pid`` dies."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if not (sys.platform == "linux" and _die_with_parent_linux()):
        threading.Thread(target=_watch_parent, args=(parent_pid,), daemon=True).start()
    # The parent may have died before prctl took effect: then no signal will come.
    if os.getppid() != parent_pid:
        os._exit(1)


def terminate_pool(pool: ProcessPoolExecutor) -> None:
    """Kill the workers now (a failed or interrupted run) instead of letting them finish.

    Pending futures are deliberately *not* cancelled: the executor's manager thread then marks
    them broken (on Python 3.11 it raises InvalidStateError, with a traceback on stderr, when
    it finds a cancelled one).
    """
    terminate = getattr(pool, "terminate_workers", None)  # Python >= 3.14
    if terminate is not None:
        with contextlib.suppress(Exception):
            terminate()
        return
    # Older Pythons: the executor keeps its worker processes in a private dict.
    for proc in list((getattr(pool, "_processes", None) or {}).values()):
        with contextlib.suppress(Exception):
            proc.terminate()
    pool.shutdown(wait=False)
