"""``medmat study DESIGN --out DIR`` plans a study design; ``medmat study run DIR`` runs it.

A design is planned on the catalog of the 53 upstream subsets (``--catalog``, no images
needed), on the synthetic lab (``--lab``) or on a records table's own subsets (``--records``);
the plan folder holds plan.csv, plan.md and one experiment config per experiment. ``study run``
runs every config (resumable) and writes the study's metrics.json, report.md and gains.png.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from medmat.errors import MedmatError

if TYPE_CHECKING:
    from medmat.study.setup import Planned

PLAN_KIND = "study-plan"  # the manifest kind of a plan folder (medmat.study.run.PLAN_KIND)


def _runnable() -> tuple[str, ...]:
    """The designs marked available in designs.yaml (planned, run and reported)."""
    from medmat.study import load_designs

    reg = load_designs()
    return tuple(n for n in reg.names() if reg.design(n).status == "available")


def _ints(text: str | None, flag: str) -> tuple[int, ...] | None:
    if text is None:
        return None
    parts = [p.strip() for p in text.split(",") if p.strip()]
    if not parts or not all(p.lstrip("-").isdigit() for p in parts):
        raise MedmatError(f"{flag} {text!r}: give whole numbers separated by commas, e.g. 0,1,2")
    return tuple(int(p) for p in parts)


def _mapping(text: str | None, flag: str) -> dict[str, Any] | None:
    import yaml

    if text is None:
        return None
    try:
        obj = yaml.safe_load(text)
    except yaml.YAMLError:
        obj = None
    if not isinstance(obj, dict):
        raise MedmatError(f"{flag} {text!r}: give a YAML mapping, e.g. '{{epochs: 4}}'")
    return obj


_PLAN_OPTIONS = [
    click.option("--catalog", "use_catalog", is_flag=True,
                 help="Plan on the catalog of the 53 upstream subsets alone (no images needed)."),
    click.option("--lab", "use_lab", is_flag=True,
                 help="Plan on the synthetic MAT lab (default cells and targets: docs/study.md)."),
    click.option("--records", "records", default=None,
                 type=click.Path(exists=True, dir_okay=True, path_type=Path),
                 help="A records table: plan on its own subsets, or with --catalog count the "
                      "release's sizes from it (test-only rule)."),
    click.option("--out", "out", required=True, type=click.Path(path_type=Path),
                 help="Plan folder: plan.csv, plan.md, configs/NAME.yaml (replaced only with "
                      "--force)."),
    click.option("--targets", default=None,
                 help="Comma-separated target subsets (catalog: numbers such as 03; lab and "
                      "records: subset ids). Default: every eligible one (lab: its 3 targets)."),
    click.option("--null", "null", is_flag=True,
                 help="--lab: the null lab (negative control: nothing shared between cells)."),
    click.option("--lab-seed", default=0, show_default=True, type=int, help="--lab: lab seed."),
    click.option("--cells", default=None,
                 help="--lab: comma-separated lab cells instead of the default set."),
    click.option("--n-train", default=None, type=int,
                 help="--lab: training items per cell (default 500; also the cap per source)."),
    click.option("--n-test", default=None, type=int,
                 help="--lab: test items per cell (default 200)."),
    click.option("--lab-size", default=64, show_default=True, type=int,
                 help="--lab: image size in pixels."),
    click.option("--cap", default=None, type=int,
                 help="Training items per source subset (lab: --n-train; records: 3000, the "
                      "study's; subsets with fewer are test-only)."),
    click.option("--general-items", default=None, type=int,
                 help="General-domain items in every trained arm (lab: 0.8 x --n-train when the "
                      "lab has photo-scene cells; else 0)."),
    click.option("--sizes", "sizes_csv", default=None,
                 type=click.Path(exists=True, dir_okay=False, path_type=Path),
                 help="--catalog: CSV subset,n_train: training sizes to plan with."),
    click.option("--backend", default=None,
                 help="Backend of the configs (default: builtin for --lab/--records, hf for "
                      "--catalog)."),
    click.option("--model", default=None,
                 help="backend_options.model (hf; default Qwen/Qwen2-VL-2B-Instruct)."),
    click.option("--backend-options", "backend_options", default=None,
                 help="YAML mapping merged into the backend options, e.g. '{epochs: 4}'."),
    click.option("--seeds", default=None,
                 help="Training seeds of every config (default 0,1,2; --catalog: 0)."),
    click.option("--seed", default=0, show_default=True, type=int,
                 help="Seed of the unrelated-arm draw."),
    click.option("--primary-only", is_flag=True,
                 help="pairwise: configs for the primary combination of each target and "
                      "direction only (the table lists all)."),
    click.option("--test-only", "test_only", default=None,
                 help="multitask: comma-separated subsets that never train (out-of-"
                      "distribution targets); default: those below the cap (--lab: "
                      "xray-lung-lesion,ct-brain-lesion unless --cells)."),
    click.option("--backbones", default=None,
                 help="backbones: a YAML list (or a YAML file) of {name, backend, model, "
                      "options}, the first the reference; default --lab/--records: builtin and "
                      "builtin-wide, --catalog: Qwen2-VL-2B, Qwen2-VL-7B, LLaVA-1.5-7B (hf)."),
    click.option("--force", is_flag=True, help="Replace an existing plan in --out."),
]  # fmt: skip


def _plan_command(design: str) -> click.Command:
    def callback(**kwargs: Any) -> None:
        plan_design(design, **kwargs)

    for option in reversed(_PLAN_OPTIONS):
        callback = option(callback)
    state = "" if design in _runnable() else " (declared in designs.yaml; not plannable yet)"
    return click.command(name=design, help=f"Plan the {design!r} design{state}.")(callback)


class StudyGroup(click.Group):
    """Subcommands: ``run`` and one planning command per design of the registry."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        from medmat.study import load_designs

        return ["run", *load_designs().names()]

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        from medmat.study import load_designs

        if name == "run":
            return run_command
        load_designs().design(name)  # an unknown design: MedmatError with the closest name
        return _plan_command(name)


@click.group(name="study", cls=StudyGroup)
def command() -> None:
    """Plan a Med-MAT study DESIGN (pairwise, ablation, three-source, multitask, efficiency,
    backbones, cls-det) and run it.

    \b
      medmat study pairwise --lab --out runs/study        # the synthetic lab
      medmat study run runs/study                         # metrics.json, report.md, gains.png
      medmat study pairwise --lab --null --out runs/null  # the negative control
      medmat study pairwise --records data/records.parquet --out runs/mine
      medmat study pairwise --catalog --out runs/plan-pairwise   # the real release (configs)
      medmat study ablation --catalog --targets 03,28 --out runs/plan-ablation
      medmat study multitask --lab --out runs/mt      # single vs multi-task, ID and OOD
      medmat study three-source --lab --out runs/ts   # one source per target element
      medmat study efficiency --lab --out runs/ef     # curves and efficiency.png
      medmat study backbones --lab --out runs/bb      # the pairwise arms per backend/model
    """


def plan_design(design: str, *, use_catalog: bool, use_lab: bool, records: Path | None,
                out: Path, targets: str | None, null: bool, lab_seed: int, cells: str | None,
                n_train: int | None, n_test: int | None, lab_size: int, cap: int | None,
                general_items: int | None, sizes_csv: Path | None, backend: str | None,
                model: str | None, backend_options: str | None, seeds: str | None, seed: int,
                primary_only: bool, test_only: str | None, force: bool,
                backbones: str | None = None) -> None:
    """Plan ``design`` and write the plan folder (see the module docstring)."""
    from medmat.study import load_designs
    from medmat.study import setup as st
    from medmat.study.backbones import read_backbones

    spec = load_designs().design(design)
    where = "the catalog" if use_catalog else "a lab or records"
    if not (use_catalog or use_lab or records is not None):
        raise MedmatError("say what to plan on: --catalog (the 53 upstream subsets), --lab (the "
                          "synthetic lab) or --records PATH (a records table)")  # fmt: skip
    if design not in _runnable() or (use_catalog and not spec.catalog):
        can = [n for n in _runnable() if not use_catalog or load_designs().design(n).catalog]
        raise MedmatError(f"design {design!r} (status: {spec.status}) cannot be planned from "
                          f"{where} yet; designs that can: {', '.join(can)}")  # fmt: skip
    if test_only is not None and design != "multitask":
        raise MedmatError("--test-only applies to the multitask design only")
    if use_lab and (use_catalog or records is not None):
        raise MedmatError("--lab plans on the synthetic lab: give it without --catalog/--records")
    lab_only = {"--null": null, "--lab-seed": lab_seed != 0, "--cells": cells,
                "--n-train": n_train is not None, "--n-test": n_test is not None,
                "--lab-size": lab_size != 64}  # fmt: skip
    misplaced = [flag for flag, given in lab_only.items() if given and not use_lab]
    if misplaced:
        raise MedmatError(f"{', '.join(misplaced)} apply to --lab only")
    if sizes_csv is not None and not use_catalog:
        raise MedmatError("--sizes applies to --catalog only (records bring their own sizes)")
    if records is not None and sizes_csv is not None:
        raise MedmatError("give either --records or --sizes, not both")
    if primary_only and design not in ("pairwise", "three-source"):
        raise MedmatError("--primary-only applies to the pairwise and three-source designs only")
    _check_out(out, [p for p in (records, sizes_csv) if p is not None], force)
    req = st.PlanRequest(
        design=design, targets=[t for t in targets.split(",") if t.strip()] if targets else None,
        seed=seed, backend=backend, model=model,
        backend_options=_mapping(backend_options, "--backend-options"),
        seeds=_ints(seeds, "--seeds"), cap=cap, general_items=general_items,
        primary_only=primary_only,
        test_only=[t.strip() for t in test_only.split(",") if t.strip()] if test_only else None,
        backbones=read_backbones(backbones))
    if use_catalog:
        planned = st.plan_catalog(req, records, sizes_csv)
    elif use_lab:
        chosen = [c.strip() for c in cells.split(",")] if cells else None
        planned = st.plan_lab(req, lab_seed=lab_seed, null=null, n_train=n_train, n_test=n_test,
                              size=lab_size, cells=chosen)
    else:
        assert records is not None
        planned = st.plan_records(req, records)
    settings = {"design": design, "source": planned.plan.source, "targets": req.targets,
                "seed": seed, "seeds": list(req.seeds) if req.seeds else None,
                **planned.settings}  # fmt: skip
    _write(planned, out, settings)
    _summary(planned, design, out)


def _summary(planned: Planned, design: str, out: Path) -> None:
    from medmat.study.plan_output import plan_markdown

    plan = planned.plan
    n_rows = (len(plan.combinations) or len(plan.ablation) or len(plan.clsdet)
              or len(plan.rows))
    click.echo(f"planned {design} on {plan.source}: {len(plan.targets)} target(s), {n_rows} "
               f"row(s), {len(planned.configs)} config(s), {len(plan.skipped)} skipped -> {out}")
    if design == "pairwise" and plan.source == "catalog":
        for line in plan_markdown(plan).splitlines():
            if "reproduced by" in line or "NOT in the plan" in line:
                click.echo(line)
    if not plan.sizes_known:
        click.echo("note: training sizes ASSUMED (the catalog has none); pass --records or "
                   "--sizes to apply the test-only rule")
    if plan.source != "catalog":
        click.echo(f"run it: medmat study run {out}")


@click.command(name="run")
@click.argument("plan_dir", type=click.Path(path_type=Path))
def run_command(plan_dir: Path) -> None:
    """Run every experiment of a plan folder (resumable) and write the study's results:
    PLAN_DIR/metrics.json, report.md and gains.png (pairwise); experiments in PLAN_DIR/runs."""
    from medmat.study.run import run_study

    result = run_study(plan_dir)
    m = result.multiplicity
    if m is not None:
        click.echo(f"{result.n_succeed} of {result.n_combinations} combinations succeed "
                   f"(informative, interval above 0); gains after correction: "
                   f"{m.n_gain_holm} (Holm), {m.n_gain_bh} (Benjamini-Hochberg) at alpha "
                   f"{m.alpha}")  # fmt: skip
    for b in result.backbones:
        click.echo(f"{b.name}: {b.n_succeed} of {len(b.combinations)} combinations succeed")
    click.echo(f"report: {plan_dir / 'report.md'}")


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
                          "--force to replace it (its runs go with it)")


def _write(planned: Planned, out: Path, settings: dict) -> None:
    """Build the whole folder beside ``out`` and swap it in: never a half-written plan."""
    from medmat.io import staged_dir
    from medmat.manifest import Manifest, output_digests, write_manifest
    from medmat.study.plan_output import write_plan

    with staged_dir(out) as stage:
        written = write_plan(planned.plan, stage, planned.configs)
        names = [p.relative_to(stage).as_posix() for p in written]
        manifest = Manifest(PLAN_KIND, {k: v for k, v in settings.items() if v is not None})
        write_manifest(stage, manifest.with_outputs(output_digests(stage, names)))
