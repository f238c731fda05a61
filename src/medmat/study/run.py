"""``medmat study run DIR``: run every experiment of a plan folder, then the study's results.

Each config ``DIR/configs/NAME.yaml`` runs as an experiment in ``DIR/runs/NAME``
(:func:`medmat.experiment.runner.run_experiment`, resumable and fingerprinted per stage), so a
killed study resumes where it stopped: finished experiments and arms are reused, only what is
missing is trained. Configs planned on the synthetic lab share one lab: it is generated once in
``DIR/lab`` (the experiment's own lab stage, reused while current) and every experiment reads it
as ``data.records``. The study's results are then written, each file atomically: the old
``metrics.json`` is removed first and the new one written last, so a ``metrics.json`` always
belongs with the ``gains.png`` (pairwise) and ``report.md`` beside it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from medmat.errors import MedmatError
from medmat.evaluate.results import ExperimentResult, LabInfo
from medmat.experiment.config import ExperimentConfig, load_config
from medmat.io import write_bytes, write_text
from medmat.manifest import read_manifest
from medmat.study.results import StudyResult

PLAN_KIND = "study-plan"  # the manifest kind of a plan folder
METRICS = "metrics.json"
REPORT = "report.md"
GAINS = "gains.png"
Log = Callable[[str], None]


def _configs(plan_dir: Path) -> dict[str, ExperimentConfig]:
    paths = sorted((plan_dir / "configs").glob("*.yaml"))
    if not paths:
        raise MedmatError(f"{plan_dir / 'configs'}: no experiment configs; plan the study first "
                          "(medmat study pairwise --lab --out DIR)")  # fmt: skip
    from medmat.study.aggregate import read_plan_rows

    order = {r["experiment"]: i for i, r in enumerate(read_plan_rows(plan_dir))}
    paths.sort(key=lambda p: (order.get(p.stem, len(order)), p.stem))  # the plan table's order
    return {p.stem: load_config(p) for p in paths}


def _shared_records(plan_dir: Path, configs: dict[str, ExperimentConfig], log: Log) -> Path | None:
    """Generate the one lab every lab config names (None when the configs read records)."""
    from medmat.experiment.stages import prepare_lab

    labs = {name: cfg.lab for name, cfg in configs.items() if cfg.lab is not None}
    if not labs:
        return None
    distinct = {lab.model_dump_json() for lab in labs.values()}
    if len(labs) != len(configs) or len(distinct) > 1:
        raise MedmatError(f"{plan_dir / 'configs'}: the configs name different data (labs or "
                          "records); a study shares one lab: replan with --force")  # fmt: skip
    first = next(iter(configs.values()))
    return prepare_lab(first, plan_dir, log)


def experiment_config(cfg: ExperimentConfig, records: Path | None) -> dict[str, Any]:
    """The config an experiment of the study runs: the shared lab read as records."""
    obj = cfg.to_dict()
    if records is not None:
        obj["data"] = {"records": str(records.resolve())}
    return obj


def run_study(plan_dir: str | Path, *, log: Log | None = None) -> StudyResult:
    """Run (or resume) every experiment of the plan folder and write the study's results."""
    from medmat.experiment.runner import RunLog, run_experiment
    from medmat.study.aggregate import study_result
    from medmat.study.report import gains_png, report_markdown

    base = Path(plan_dir)
    say: Log = log if log is not None else RunLog()
    manifest = read_manifest(base) if base.is_dir() else None
    if manifest is None or manifest.kind != PLAN_KIND:
        raise MedmatError(f"{base}: not a study plan folder (no manifest.json of kind "
                          f"{PLAN_KIND!r}); plan one with `medmat study pairwise --lab --out "
                          f"{base}`")  # fmt: skip
    settings = manifest.config
    design, source = str(settings.get("design", "")), str(settings.get("source", "catalog"))
    from medmat.study import designs

    mod = designs.module(design)
    if design not in ("pairwise", "ablation", "cls-det") and mod is None:
        raise MedmatError(f"{base}/manifest.json: design {design!r} cannot run; replan")
    configs = _configs(base)
    records = _shared_records(base, configs, say)
    results: dict[str, ExperimentResult] = {}
    for i, (name, cfg) in enumerate(configs.items(), start=1):
        say(f"study: experiment {i}/{len(configs)}: {name}")
        results[name] = run_experiment(experiment_config(cfg, records), base / "runs" / name,
                                       log=RunLog())  # fmt: skip
    lab = next(iter(configs.values())).lab
    info = None if lab is None else LabInfo(null=lab.null, seed=lab.seed, size=lab.size)
    result = study_result(base, design, source, results, lab=info)
    # metrics.json goes first and comes back last: present means the three files are one set
    (base / METRICS).unlink(missing_ok=True)
    if design in ("pairwise", "three-source"):
        write_bytes(base / GAINS, gains_png(result))
    figures = getattr(mod, "figures", None)  # three-source draws gains.png, as pairwise
    for name, png in (figures(result) if figures else {}).items():
        write_bytes(base / name, png)
    write_text(base / REPORT, report_markdown(result))
    write_text(base / METRICS, result.to_json())
    say(f"study: {len(results)} experiment(s) -> {base / METRICS}")
    return result
