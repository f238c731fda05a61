"""Train an experiment's distinct built-in models in parallel processes before its arms run.

The built-in model is small: one training keeps about 1.5 CPU cores busy with two threads, and
each extra thread helps less. Training the experiment's models side by side, one thread each,
uses the cores better (measured on two cores: two one-thread trainings at once finish in 8.7 s,
one after the other with two threads in 11 s). Every model trains with one thread whether it
runs here or in the serial path (``BuiltinBackend``'s default), so the metrics do not depend on
how many processes ran, nor on the machine's core count.

Only models whose arm is not already current are trained here; each lands in ``OUT/models/KEY``
exactly where :func:`medmat.experiment.arms.run_arm` looks, so run_arm then finds it finished
and only scores. A killed run leaves per-epoch checkpoints there and resumes from them.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

from medmat.progress import progress_bar
from medmat.records import QAItem

# backends whose models are cheap CPU models worth training side by side (the hf backend
# trains one large model on the accelerator, or across processes through accelerate)
PARALLEL_BACKENDS = ("builtin",)
MAX_WORKERS = 8
# Below this much work (training items x epochs over all jobs) the models train in this process:
# a spawned worker first spends ~3-5 CPU-seconds importing torch and medmat, about what 20,000
# item-epochs of training cost on one thread (a study's tiny experiment of four 170-item models
# took 13.8 s through the pool, ~3 s in process). The weights are the same either way.
MIN_PARALLEL_WORK = 20_000


@dataclass(frozen=True)
class FitJob:
    model_dir: Path
    train: list[QAItem]
    seed: int


def default_jobs() -> int:
    """CPUs this process may run on, at most :data:`MAX_WORKERS`."""
    try:
        n = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        n = os.cpu_count() or 1
    return max(1, min(n, MAX_WORKERS))


def _fit(backend: str, options: dict, image_root: Path, job: FitJob) -> Path:
    from medmat.train.backend import make_backend

    make_backend(backend, options).fit(job.train, image_root, job.model_dir, seed=job.seed)
    return job.model_dir


def prefit(backend: str, options: dict, image_root: Path, jobs: Sequence[FitJob],
           workers: int | None, log) -> None:
    """Train ``jobs`` (distinct model folders) in up to ``workers`` processes.

    Does nothing for other backends, for a single model, with one worker or for less work than
    :data:`MIN_PARALLEL_WORK`: run_arm then trains in this process, with the same one-thread
    setting and so the same weights.
    """
    workers = min(default_jobs() if workers is None else workers, len(jobs))
    work = sum(len(job.train) for job in jobs) * int(options.get("epochs", 1))
    if backend not in PARALLEL_BACKENDS or workers < 2 or work < MIN_PARALLEL_WORK:
        return
    from medmat.procs import terminate_pool, worker_init

    log(f"models: training {len(jobs)} in {workers} processes (one thread each)")
    # spawn: a fork of this process (which may have run torch's thread pools) is unsafe, and a
    # forkserver child's parent is the server, which medmat.procs' watchdog would not recognise
    context = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(workers, mp_context=context, initializer=worker_init,
                               initargs=(os.getpid(),))
    try:
        with progress_bar(f"train {len(jobs)} models", len(jobs)) as advance:
            futures = [pool.submit(_fit, backend, options, image_root, job) for job in jobs]
            for future in as_completed(futures):
                future.result()  # a worker's error is raised here, in the parent
                advance()
    except BaseException:
        terminate_pool(pool)
        raise
    pool.shutdown()
