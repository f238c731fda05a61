"""`medmat quickstart`: the main job on the embedded default."""

from __future__ import annotations

import time
from importlib import resources
from pathlib import Path

import click
import yaml


def quickstart_config(null: bool = False, seed: int = 0, epochs: int | None = None) -> dict:
    cfg = yaml.safe_load(
        resources.files("medmat.experiment").joinpath("quickstart.yaml").read_text()
    )
    cfg["data"]["lab"]["null"] = null
    cfg["data"]["lab"]["seed"] = seed
    # --seed N shifts the config's training seeds (0, 1, 2 -> N, N+1, N+2): same count
    cfg["seeds"] = [seed + s for s in cfg["seeds"]]
    cfg["name"] = "quickstart-null" if null else "quickstart"
    if epochs is not None:
        cfg["backend_options"]["epochs"] = epochs
    return cfg


@click.command(name="quickstart")
@click.option(
    "--out",
    "out",
    default=Path("runs/quickstart"),
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Output folder (resumable).",
)
@click.option(
    "--null",
    "null",
    is_flag=True,
    help="Run on the negative-control lab, where nothing is shared between MAT "
    "combinations: the related-minus-unrelated gain should include zero.",
)
@click.option("--seed", default=0, show_default=True, help="Lab, sampling and training seed.")
def command(out: Path, null: bool, seed: int) -> None:
    """Synthetic MAT lab -> VQA items -> CG plan for two unseen targets -> train related /
    unrelated / target-trained arms of the built-in CPU model -> accuracy with 95% intervals ->
    OUT/report.md, OUT/metrics.json and plots. Takes a few minutes on two CPU cores.
    """
    from medmat.experiment import run_experiment
    from medmat.report.tables import rich_table, table_console

    started = time.perf_counter()
    result = run_experiment(quickstart_config(null=null, seed=seed), out)
    table_console().print(rich_table(result))
    click.echo(f"finished in {time.perf_counter() - started:.0f} s; report: {out / 'report.md'}")
