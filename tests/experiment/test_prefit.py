"""Built-in models trained side by side in processes give the same files as one by one."""

from __future__ import annotations

import pyarrow.parquet as pq
import pytest

from medmat.experiment import prefit, run_experiment
from medmat.experiment.runner import RunLog


@pytest.mark.slow
def test_parallel_training_gives_the_same_predictions_as_serial(config, tmp_path, monkeypatch):
    # this config is far below the work that pays for spawning workers: force the pool
    monkeypatch.setattr(prefit, "MIN_PARALLEL_WORK", 0)
    cfg = config(seeds=[0, 1])
    serial_log, parallel_log = RunLog(), RunLog()
    serial = run_experiment(cfg, tmp_path / "serial", log=serial_log, jobs=1)
    parallel = run_experiment(cfg, tmp_path / "parallel", log=parallel_log, jobs=2)
    assert not serial_log.decisions("models:")
    # related, unrelated, target_trained per seed: 6 distinct models, trained by the pool
    assert parallel_log.decisions("models: training 6 in 2 processes")
    assert serial == parallel
    runs = sorted((tmp_path / "serial" / "runs").rglob("predictions*.parquet"))
    assert len(runs) == 16  # 4 arms x 2 seeds, each scored and shuffled-image scored
    for path in runs:
        other = tmp_path / "parallel" / path.relative_to(tmp_path / "serial")
        assert pq.read_table(path).equals(pq.read_table(other)), path
    # the models are where run_arm looks: it scores them, and says so, trains none again
    assert sum("is reused" in line for line in parallel_log.lines) == 0
    assert sum("scoring the model trained in parallel" in line
               for line in parallel_log.lines) == 6
    assert not [line for line in parallel_log.lines if ": training (" in line]
    assert len(list((tmp_path / "parallel" / "models").glob("*/model.safetensors"))) == 6


def test_little_work_trains_in_process(config, tmp_path):
    cfg = config(seeds=[0, 1])
    log = RunLog()
    run_experiment(cfg, tmp_path / "out", log=log, jobs=2)
    # six small models: spawning workers would cost more than training them here
    assert not log.decisions("models:")
    assert len(list((tmp_path / "out" / "models").glob("*/model.safetensors"))) == 6
