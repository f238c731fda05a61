"""`medmat experiment run|plan CONFIG.yaml`."""

from __future__ import annotations

from pathlib import Path

import click


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
    from medmat.report.tables import rich_table, table_console

    result = run_experiment(config, out)
    table_console().print(rich_table(result))
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
    """Print plan.json exactly as `experiment run` will write it (a table goes to stderr).

    A lab config is planned from its cells and counts, without rendering images.
    """
    from rich.console import Console

    from medmat.experiment import load_config
    from medmat.experiment.planning import lattice_for, plan_experiment, plan_json, plan_table

    cfg = load_config(config)
    plans = plan_experiment(cfg, lattice_for(cfg, records))
    Console(stderr=True).print(plan_table(plans))
    click.echo(plan_json(plans), nl=False)
