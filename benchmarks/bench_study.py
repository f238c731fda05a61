"""Study planning benchmark: planning the catalog (pairwise and ablation) vs naive all pairs.

Run:  .venv/bin/python benchmarks/bench_study.py [--repeat 3] [--synthetic 4] [--seed 0]

1. The real catalog (53 subsets): time to plan ``pairwise`` and ``ablation`` for every eligible
   target with medmat's planner (candidate lists per direction type), and time to write the
   plan folder (plan.csv, plan.md, one config YAML per combination).
2. The same pairwise design by a naive enumeration, measured in the same run: every unordered
   pair of training subsets, both orders, checked against every direction type's rules. Its
   combinations must equal the planner's (the run fails otherwise), so the benchmark also
   cross-checks the planner.
3. A synthetic catalog ``--synthetic`` times larger (random MAT triplets drawn from the real
   catalog's vocabularies) to show how both scale with the number of subsets.
Timings are medians over ``--repeat`` runs; sizes are the catalog's assumed 3,000 per subset.
4. ``--run-lab N`` (0: skip): `medmat study pairwise --lab` planned and run end to end at N
   training items per cell (the tiny model of the tests, 2 seeds, one target: 3 experiments),
   then run again (every experiment reused): wall and CPU seconds (children included), so the
   cost of a study and of resuming a finished one are on record.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from itertools import combinations

from medmat.catalog import Catalog, SubsetEntry, load_catalog
from medmat.study.catalog_plan import (
    DETSEG,
    catalog_sources,
    paired_modality_areas,
    plan_ablation,
    plan_pairwise,
)
from medmat.study.plan_output import experiment_configs, write_plan
from medmat.study.registry import load_designs


def naive_pairwise(catalog: Catalog) -> set[tuple[str, str, str, str]]:
    """(target, direction, source_a, source_b) by checking every pair of training subsets."""
    kind = load_designs().task_kind
    sources = catalog_sources(catalog)
    paired = paired_modality_areas(sources.values())
    train = [s for s in sources.values() if s.classification]
    found = set()
    for t in train:
        pool = [s for s in train if s.triplet != t.triplet]
        for x, y in combinations(pool, 2):
            for a, b in ((x, y), (y, x)):
                m = (a.modality == t.modality, b.modality == t.modality)
                ar = (a.area == t.area, b.area == t.area)
                tk = (a.task == t.task, b.task == t.task)
                if (t.modality, t.area) in paired:
                    if m[0] and ar[0] and not tk[0] and not m[1] and not ar[1] and tk[1]:
                        found.add((t.no, "modality_area_pair", a.no, b.no))
                    continue
                if all(m) and ar[0] and not tk[0] and not ar[1] and tk[1]:
                    found.add((t.no, "fixed_modality", a.no, b.no))
                if all(ar) and m[0] and not tk[0] and not m[1] and tk[1]:
                    found.add((t.no, "fixed_area", a.no, b.no))
                if (kind(a.task) == kind(b.task) == kind(t.task) and m[0] and not ar[0]
                        and ar[1] and not m[1] and any(tk)):
                    found.add((t.no, "fixed_task", a.no, b.no))
    return found


def synthetic_catalog(scale: int, seed: int) -> Catalog:
    """``scale`` x 37 classification subsets with MAT triplets drawn from the real ones."""
    real = [s for s in load_catalog().subsets if s.task != DETSEG]
    rng = random.Random(seed)
    mods = sorted({s.modality for s in real})
    areas = sorted({s.area for s in real})
    tasks = sorted({s.task for s in real})
    subsets = [
        SubsetEntry(f"{i:04d}", rng.choice(mods), rng.choice(areas), rng.choice(tasks), "",
                    released=True)
        for i in range(1, scale * len(real) + 1)
    ]  # fmt: skip
    return Catalog([], subsets, [], "synthetic")


def timed(fn: Callable[[], object], repeat: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def bench_lab_run(n_train: int) -> None:
    """Plan and run a small lab study twice (fresh, then every experiment reused)."""
    import os

    from click.testing import CliRunner

    from medmat.cli.study_cmd import command
    from medmat.study.run import run_study

    def cpu() -> float:
        t = os.times()
        return t.user + t.system + t.children_user + t.children_system

    os.environ.setdefault("MEDMAT_PROGRESS", "0")
    with tempfile.TemporaryDirectory() as tmp:
        out = f"{tmp}/study"
        res = CliRunner().invoke(command, [
            "pairwise", "--lab", "--targets", "xray-brain-lesion", "--n-train", str(n_train),
            "--n-test", "24", "--lab-size", "32", "--seeds", "0,1", "--backend-options",
            "{epochs: 2, batch_size: 16, image_size: 16, width: 8, hidden: 32}", "--out", out])
        if res.exit_code:
            raise SystemExit(res.output)
        print(f"\n| lab study (n_train {n_train}, 3 experiments, 2 seeds) | wall s | CPU s |"
              "\n|---|---|---|")
        for label in ("fresh run", "rerun (all reused)"):
            wall, cpu0 = time.perf_counter(), cpu()
            result = run_study(out, log=lambda _line: None)
            print(f"| {label} | {time.perf_counter() - wall:.1f} | {cpu() - cpu0:.1f} |")
        print(f"({result.n_succeed} of {result.n_combinations} intervals above 0)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--synthetic", type=int, default=4, help="size of the synthetic catalog "
                    "in multiples of the real one's 37 classification subsets (0: skip)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--run-lab", type=int, default=0, metavar="N",
                    help="also plan and run a lab pairwise study at N training items per cell")
    args = ap.parse_args()

    catalogs = [("catalog (53 subsets)", load_catalog())]
    if args.synthetic:
        syn = synthetic_catalog(args.synthetic, args.seed)
        catalogs.append((f"synthetic ({len(syn.subsets)} subsets)", syn))

    rows = []
    for label, cat in catalogs:
        sec, plan = timed(lambda c=cat: plan_pairwise(c), args.repeat)
        planned = {(c.target.no, c.direction, c.source_a.no, c.source_b.no)
                   for c in plan.combinations}  # fmt: skip
        rows.append((label, "pairwise (medmat)", len(plan.targets), len(planned), sec))
        naive_sec, naive = timed(lambda c=cat: naive_pairwise(c), args.repeat)
        # the planner drops a combination only when no size-matched unrelated arm exists
        missing = naive - planned
        if planned - naive:
            raise SystemExit(f"{label}: planner and naive enumeration differ: "
                             f"{sorted(planned ^ naive)[:5]}")  # fmt: skip
        rows.append((label, "pairwise (naive all pairs)", len({n[0] for n in naive}),
                     len(naive), naive_sec))  # fmt: skip
        if missing:
            print(f"{label}: {len(missing)} combination(s) without a size-matched unrelated arm")
        sec, abl = timed(lambda c=cat: plan_ablation(c), args.repeat)
        rows.append((label, "ablation (medmat)", len(abl.targets), len(abl.ablation), sec))
        if cat is catalogs[0][1]:
            def write(p=plan) -> None:
                with tempfile.TemporaryDirectory() as tmp:
                    write_plan(p, tmp, experiment_configs(p, backend="builtin"))

            sec, _ = timed(write, args.repeat)
            rows.append((label, "pairwise plan folder written", len(plan.targets),
                         len(plan.combinations), sec))  # fmt: skip

    if args.run_lab:
        bench_lab_run(args.run_lab)
    print(f"\n| catalog | design | targets | combinations / arms | seconds (median of "
          f"{args.repeat}) |\n|---|---|---|---|---|")
    for label, design, n_t, n_c, sec in rows:
        print(f"| {label} | {design} | {n_t} | {n_c} | {sec:.4f} |")


if __name__ == "__main__":
    main()
