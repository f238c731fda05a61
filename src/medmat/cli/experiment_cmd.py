"""`medmat experiment run|plan CONFIG.yaml`."""

from __future__ import annotations

from pathlib import Path

import click

from medmat.errors import MedmatError


@click.group(name="experiment")
def command() -> None:
    """Plan and run compositional-generalization experiments declared in a YAML config.

    The config names the data (a synthetic lab or a records table), the target subsets, the
    arms (related, unrelated, only_modality, only_area, only_task, target_trained, untrained,
    or explicit {name, subsets, target_items}), the backend (builtin or hf) and the seeds.
    See docs/experiments.md for every key.
    """


@command.command("run")
@click.argument("config", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Output folder; rerunning with the same folder resumes (finished arms are "
    "not retrained, a killed training continues from its last checkpoint).",
)
def run_cmd(config: Path, out: Path) -> None:
    """Run (or resume) the experiment in CONFIG and write metrics.json and report.md to OUT."""
    from medmat.experiment import run_experiment
    from medmat.report import rich_table

    metrics = run_experiment(config, out)
    from rich.console import Console

    Console().print(rich_table(metrics))
    click.echo(f"report: {out / 'report.md'}  metrics: {out / 'metrics.json'}")


@command.command("plan")
@click.argument("config", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--records",
    type=click.Path(path_type=Path),
    default=None,
    help="Records table to plan on (default: the config's data.records).",
)
def plan_cmd(config: Path, records: Path | None) -> None:
    """Print the arms each target would train on, without training anything."""
    from rich.console import Console

    from medmat.experiment import load_config
    from medmat.experiment.runner import plan_table
    from medmat.records import read_records_table
    from medmat.splits import find_target, lattice_from_table, plan_target

    cfg = load_config(config)
    source = records or cfg.records
    if source is None:
        raise MedmatError(
            "this config generates a synthetic lab; plan it with `medmat experiment run` or pass "
            "--records DIR of an existing lab (e.g. OUT/lab)"
        )
    lattice = lattice_from_table(
        read_records_table(
            source, columns=["record_id", "subset", "modality", "area", "task", "split"]
        )
    )
    plans = [
        plan_target(
            find_target(lattice, t),
            lattice,
            cfg.arms,
            budget_per_subset=cfg.budget_per_subset,
            target_items=cfg.target_items,
            seed=cfg.seeds[0],
        )
        for t in cfg.targets
    ]
    Console().print(plan_table(plans))
