"""``medmat study DESIGN --catalog --out DIR``: plan a study design on the Med-MAT catalog."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import click

from medmat.errors import MedmatError

if TYPE_CHECKING:
    from medmat.study.catalog_plan import CatalogPlan

PLAN_KIND = "study-plan"  # the manifest kind of a plan folder


@click.command(name="study")
@click.argument("design")
@click.option("--catalog", "use_catalog", is_flag=True,
              help="Plan on the catalog of the 53 upstream subsets alone (no images needed).")
@click.option("--out", "out", required=True, type=click.Path(path_type=Path),
              help="Output folder: plan.csv, plan.md, configs/NAME.yaml (replaced only with "
                   "--force).")
@click.option("--targets", default=None,
              help="Comma-separated subset numbers to plan for (default: every eligible one).")
@click.option("--records", "records", default=None,
              type=click.Path(exists=True, dir_okay=True, path_type=Path),
              help="The ingested release: sizes are counted from it (test-only rule) and the "
                   "configs point at it.")
@click.option("--sizes", "sizes_csv", default=None,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="CSV subset,n_train: training sizes to plan with (instead of --records).")
@click.option("--backend", default="hf", show_default=True, help="Backend of the configs.")
@click.option("--model", default=None,
              help="backend_options.model of the configs (hf; default Qwen/Qwen2-VL-2B-Instruct).")
@click.option("--seed", default=0, show_default=True, type=int,
              help="Seed of the unrelated-arm draw.")
@click.option("--primary-only", is_flag=True,
              help="pairwise: write configs for the primary combination of each target and "
                   "direction only (the table lists all).")
@click.option("--force", is_flag=True, help="Replace an existing plan in --out.")
def command(
    design: str,
    use_catalog: bool,
    out: Path,
    targets: str | None,
    records: Path | None,
    sizes_csv: Path | None,
    backend: str,
    model: str | None,
    seed: int,
    primary_only: bool,
    force: bool,
) -> None:
    """Plan a Med-MAT study DESIGN (pairwise, ablation) and write ready-to-run configs.

    \b
      medmat study pairwise --catalog --out runs/plan-pairwise
      medmat study ablation --catalog --targets 03,28 --out runs/plan-ablation
      medmat study pairwise --catalog --records release/records.parquet --out runs/plan
    """
    from medmat.experiment.config import ExperimentConfig, validate_backend_options
    from medmat.study import catalog_plan
    from medmat.study.plan_output import (
        DEFAULT_MODEL,
        RECORDS_PLACEHOLDER,
        experiment_configs,
        plan_markdown,
    )
    from medmat.study.registry import load_designs

    spec = load_designs().design(design)
    if not use_catalog:
        raise MedmatError("running a design on records is not built yet; plan it from the "
                          f"catalog with `medmat study {design} --catalog --out DIR`")
    if not spec.catalog:
        planned = ", ".join(n for n in load_designs().names() if load_designs().design(n).catalog)
        raise MedmatError(f"design {design!r} (status: {spec.status}) cannot be planned from the "
                          f"catalog yet; catalog designs: {planned}")
    if records is not None and sizes_csv is not None:
        raise MedmatError("give either --records or --sizes, not both")
    if primary_only and design != "pairwise":
        raise MedmatError("--primary-only applies to the pairwise design only")
    inputs = [p for p in (records, sizes_csv) if p is not None]
    _check_out(out, inputs, force)

    sizes = None
    if records is not None:
        sizes = catalog_plan.sizes_from_records(str(records))
    elif sizes_csv is not None:
        sizes = catalog_plan.read_sizes_csv(str(sizes_csv))
    wanted = [t for t in targets.split(",") if t.strip()] if targets else None
    if design == "pairwise":
        plan = catalog_plan.plan_pairwise(sizes=sizes, targets=wanted, seed=seed)
    else:
        plan = catalog_plan.plan_ablation(sizes=sizes, targets=wanted)
    options = {"model": model or DEFAULT_MODEL} if backend == "hf" else {}
    if model is not None and backend != "hf":
        raise MedmatError("--model applies to the hf backend only")
    validate_backend_options(backend, options, "--backend/--model")
    target_path = str(records.resolve()) if records is not None else RECORDS_PLACEHOLDER
    configs = experiment_configs(plan, records=target_path, backend=backend,
                                 backend_options=options, primary_only=primary_only)  # fmt: skip
    for name, cfg in configs.items():  # what is written is what `experiment run` accepts
        try:
            ExperimentConfig.model_validate(cfg)
        except ValueError as exc:
            raise MedmatError(f"planned config {name} is not valid ({exc})") from None
    _write(plan, configs, out, {"design": design, "targets": wanted, "seed": seed,
                                       "backend": backend, "sizes": sizes})  # fmt: skip
    n_rows = len(plan.combinations) or len(plan.ablation)
    click.echo(f"planned {design} on the catalog: {len(plan.targets)} target(s), {n_rows} "
               f"row(s), {len(configs)} config(s), {len(plan.skipped)} skipped -> {out}")
    if design == "pairwise":
        for line in plan_markdown(plan).splitlines():
            if "reproduced by" in line or "NOT in the plan" in line:
                click.echo(line)
    if not plan.sizes_known:
        click.echo("note: training sizes ASSUMED (the catalog has none); pass --records or "
                   "--sizes to apply the test-only rule")


def _check_out(out: Path, inputs: list[Path], force: bool) -> None:
    """The output-folder contract (medmat.outdir) for a plan folder: a new or empty folder, or
    a previous plan with --force; never a folder medmat did not make."""
    from medmat.manifest import read_kind
    from medmat.outdir import check_inputs, real

    check_inputs(out, inputs)
    dest = real(out)
    if dest == Path(dest.anchor) or dest in (real(Path.cwd()), real(Path.home())):
        raise MedmatError(f"--out {out}: is the current, home or root folder; choose a "
                          "dedicated output folder (e.g. runs/plan)")
    if not os.path.lexists(dest):
        return
    if not dest.is_dir():
        raise MedmatError(f"--out {out}: exists and is not a folder; choose a folder path")
    if next(os.scandir(dest), None) is None:
        return
    if read_kind(dest) != PLAN_KIND:
        raise MedmatError(f"--out {out}: folder is not empty and holds no study plan; medmat "
                          "never replaces it: choose a new folder")
    if not force:
        raise MedmatError(f"--out {out}: holds a study plan; choose a new folder or pass "
                          "--force to replace it")


def _write(plan: CatalogPlan, configs: dict, out: Path, settings: dict) -> None:
    """Build the whole folder beside ``out`` and swap it in: never a half-written plan."""
    from medmat.io import staged_dir
    from medmat.manifest import Manifest, output_digests, write_manifest
    from medmat.study.plan_output import write_plan

    with staged_dir(out) as stage:
        written = write_plan(plan, stage, configs)
        names = [p.relative_to(stage).as_posix() for p in written]
        manifest = Manifest(PLAN_KIND, {k: v for k, v in settings.items() if v is not None})
        write_manifest(stage, manifest.with_outputs(output_digests(stage, names)))
