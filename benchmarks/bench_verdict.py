"""Does the quickstart's CG verdict measure composition? The table of issue 10 over lab seeds.

Runs the quickstart config (``src/medmat/experiment/quickstart.yaml``) for lab seeds 0-9 on the
default lab and on the null lab, then recomputes every verdict from the saved predictions with
``medmat.evaluate`` (two-level intervals over training seeds, degenerate-arm flags, the
learnability of each target) and prints one row per (lab, lab seed, target):

- accuracies of the arms the config runs (mean over training seeds);
- ``tied``: share of the unrelated arm's items whose top option score is shared by two or more
  options (the answer then comes from the tie-break, not from the model);
- related - unrelated with its two-level 95% interval and the verdict;
- related - its best single component (arms named ``only_*`` or ``component_*``), when the
  config runs such arms: "recombination" when related beats it, else plain transfer;
- flags: constant answers (>= 95% one answer text) and targets that were not learnable.

Then a summary: default lab, targets whose interval lies above 0; null lab, false "CG gain"
verdicts among the informative tests (nominal: at most 2.5% one-sided) and the uninformative
ones; the median tied share. Usage (minutes per lab seed on two cores):

    python benchmarks/bench_verdict.py [--lab-seeds 0-9] [--labs default,null]
        [--train-seeds 0,1,2] [--out runs/bench_verdict] [--jobs N]

``--jobs N`` runs N quickstarts at once, each with ``CPUs // N`` torch threads (set in the
built-in backend's options, so those runs' fingerprints differ from a plain quickstart's).

Finished runs are reused (the runner resumes), so an interrupted benchmark continues.
"""

from __future__ import annotations

import argparse
import copy
import os
import statistics
import time
from collections.abc import Callable
from importlib import resources
from pathlib import Path

os.environ.setdefault("MEDMAT_PROGRESS", "0")

COMPONENT_PREFIXES = ("only_", "component_")
Runner = Callable[[dict, Path], dict]


def quickstart_config(lab_seed: int, null: bool, train_seeds: list[int] | None,
                      arms: list[str] | None = None) -> dict:
    import yaml

    text = resources.files("medmat.experiment").joinpath("quickstart.yaml").read_text()
    cfg = yaml.safe_load(text)
    cfg["data"]["lab"]["seed"] = lab_seed
    cfg["data"]["lab"]["null"] = null
    cfg["name"] = f"bench-verdict-{'null' if null else 'default'}-{lab_seed}"
    if train_seeds:
        cfg["seeds"] = train_seeds
    if arms:
        cfg["arms"] = arms
    return cfg


def run_quickstart(config: dict, out: Path) -> dict:
    """The default runner: medmat.experiment.run_experiment, metrics as a plain dict."""
    import json

    from medmat.experiment import run_experiment

    run_experiment(config, out)
    return json.loads((out / "metrics.json").read_text(encoding="utf-8"))


def _predictions(run_dir: Path) -> list:
    import pyarrow.parquet as pq

    from medmat.records import Prediction

    rows = pq.read_table(run_dir / "predictions.parquet").to_pylist()
    return [Prediction(r["item_id"], r["answer"], r["predicted"], r["n_options"],
                       tuple(r["scores"] or ())) for r in rows]


def tied_share(runs: list[list]) -> float | None:
    """Share of items whose highest option score is shared by two or more options."""
    scored = [p for run in runs for p in run if p.scores]
    if not scored:
        return None
    return sum(p.scores.count(max(p.scores)) >= 2 for p in scored) / len(scored)


def target_row(out: Path, metrics: dict, target: dict, items: dict) -> dict:
    """Recompute the verdicts of one target from its predictions."""
    from medmat import evaluate

    subset = target["target"]["subset"]
    seeds = metrics["seeds"]
    arms = list(target["arms"])
    runs = {a: [_predictions(out / "runs" / subset / a / f"seed{s}") for s in seeds] for a in arms}
    acc = {a: evaluate.seed_accuracy(runs[a], what=a) for a in arms}
    const = {a: evaluate.constant_answer(runs[a], items, what=a) for a in arms}
    learn = (evaluate.learnability(acc["target_trained"], what="target_trained")
             if "target_trained" in acc else None)
    row = {"target": subset, "acc": {a: acc[a].estimate for a in arms},
           "tied": tied_share(runs["unrelated"]) if "unrelated" in runs else None,
           "const": [c.reason for c in const.values() if c.flagged],
           "learnable": None if learn is None else not learn.flagged, "n_seeds": len(seeds)}
    if {"related", "unrelated"} <= set(arms):
        diff = evaluate.seed_diff(runs["related"], runs["unrelated"],
                                  names=("related", "unrelated"))
        # as the experiment summary: only the arm under test and learnability can make the
        # contrast uninformative (a constant control scores chance; its flag is listed below)
        flags = [const["related"], *([learn] if learn else [])]
        row["gain"] = (diff.estimate, diff.ci95, evaluate.verdict(diff, *flags))
        old = target.get("diffs", {}).get("related_minus_unrelated")
        row["gain_item_only"] = tuple(old["ci95"]) if old else None
    components = [a for a in arms if a.startswith(COMPONENT_PREFIXES)]
    if "related" in arms and components:
        best = max(components, key=lambda a: acc[a].estimate)
        diff = evaluate.seed_diff(runs["related"], runs[best], names=("related", best))
        said = evaluate.verdict(diff, const["related"],
                                positive="recombination", negative="component better")
        row["recomb"] = (best, diff.estimate, diff.ci95, said)
    return row


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:5.1f}"


def _ci(est: float, ci: tuple[float, float]) -> str:
    return f"{100 * est:+5.1f} [{100 * ci[0]:+5.1f}, {100 * ci[1]:+5.1f}]"


def _short(verdict: str) -> str:
    """The verdict word; an uninformative verdict's reasons follow as flag lines."""
    return "uninformative (*)" if verdict.startswith("uninformative") else verdict


def print_table(rows: list[dict]) -> None:
    arm_names = list(dict.fromkeys(a for r in rows for a in r["acc"]))
    head = (f"{'lab':7} {'seed':>4} {'target':20} " + " ".join(f"{a[:9]:>9}" for a in arm_names)
            + f" {'tied':>5}  {'related - unrelated [95% CI]':29} {'verdict':18}"
            + "  related - best component")
    print(head)
    for r in rows:
        cells = " ".join(f"{_pct(r['acc'].get(a)):>9}" for a in arm_names)
        gain = r.get("gain")
        line = (f"{r['lab']:7} {r['lab_seed']:>4} {r['target']:20} {cells} {_pct(r['tied']):>5}  "
                + (f"{_ci(gain[0], gain[1]):29} {_short(gain[2]):18}" if gain else f"{'-':48}"))
        rec = r.get("recomb")
        line += (f"  {rec[0]}: {_ci(rec[1], rec[2])} {_short(rec[3])}" if rec
                 else "  (no component arms)")
        print(line)
        for why in r["const"]:
            print(f"{'':33}(*) {why}")
        if r["learnable"] is False:
            print(f"{'':33}(*) target_trained not above chance: the target was not learnable")


def print_summary(rows: list[dict], walls: dict) -> None:
    for lab in ("default", "null"):
        mine = [r for r in rows if r["lab"] == lab and "gain" in r]
        if not mine:
            continue
        said = [r["gain"][2] for r in mine]
        informative = [v for v in said if not v.startswith("uninformative")]
        gains = sum(v == "CG gain" for v in said)
        wall = walls.get(lab, [])
        print(f"\n{lab} lab: {len(mine)} target tests, {len(informative)} informative, "
              f"{len(mine) - len(informative)} uninformative; 'CG gain' {gains}; "
              f"'no evidence' {said.count('no evidence')}; "
              f"'negative transfer' {said.count('negative transfer')}")
        if lab == "null":
            share = gains / len(informative) if informative else 0.0
            print(f"  false CG verdicts: {gains} of {len(informative)} informative tests "
                  f"({100 * share:.1f}%; nominal at most 2.5% one-sided)")
        else:
            above = sum(r["gain"][1][0] > 0 for r in mine)
            print(f"  related - unrelated interval above 0 on {above} of {len(mine)} targets; "
                  f"'CG gain' verdicts {gains}")
        recs = [r["recomb"] for r in rows if r["lab"] == lab and "recomb" in r]
        if recs:
            print(f"  recombination (related beats its best component): "
                  f"{sum(x[3] == 'recombination' for x in recs)} of {len(recs)}")
        tied = [r["tied"] for r in rows if r["lab"] == lab and r["tied"] is not None]
        if tied:
            print(f"  unrelated arm, items with tied top options: median "
                  f"{100 * statistics.median(tied):.1f}% (max {100 * max(tied):.1f}%)")
        if wall:
            print(f"  wall time per quickstart: median {statistics.median(wall):.0f} s, "
                  f"max {max(wall):.0f} s ({os.cpu_count()} CPUs visible)")


def seed_list(text: str) -> list[int]:
    """'0-9' or '0,3,5' -> list of ints."""
    if "-" in text:
        lo, hi = text.split("-")
        return list(range(int(lo), int(hi) + 1))
    return [int(x) for x in text.split(",") if x.strip()]


def _timed_run(cfg: dict, out: Path) -> tuple[dict, float]:
    t0 = time.perf_counter()
    metrics = run_quickstart(cfg, out)
    return metrics, time.perf_counter() - t0


def _run_all(jobs: list[tuple[dict, Path]], run: Runner, workers: int):
    """(metrics, wall seconds) per job, in order; a process pool when workers > 1."""
    if workers <= 1:
        for cfg, out in jobs:
            t0 = time.perf_counter()
            metrics = run(copy.deepcopy(cfg), out)
            yield metrics, time.perf_counter() - t0
        return
    from concurrent.futures import ProcessPoolExecutor

    from medmat.procs import worker_init

    threads = max(1, (os.cpu_count() or 1) // workers)
    for cfg, _ in jobs:
        cfg.setdefault("backend_options", {})["threads"] = threads
    with ProcessPoolExecutor(workers, initializer=worker_init, initargs=(os.getpid(),)) as pool:
        yield from pool.map(_timed_run, *zip(*jobs, strict=True))


def main(run: Runner = run_quickstart, argv: list[str] | None = None) -> list[dict]:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--lab-seeds", default="0-9", help="e.g. 0-9 or 0,3,5")
    ap.add_argument("--labs", default="default,null", help="default, null or both")
    ap.add_argument("--train-seeds", default="", help="override the config's seeds, e.g. 0,1,2")
    ap.add_argument("--out", type=Path, default=Path("runs/bench_verdict"))
    ap.add_argument("--jobs", type=int, default=1, help="quickstarts run at once")
    ap.add_argument("--arms", default="",
                    help="override the config's arms, e.g. related,unrelated,components,"
                         "target_trained,untrained (what the table's verdicts need)")
    args = ap.parse_args(argv)
    from medmat.records import read_items

    # lab seeds outermost, so a partial run (rerun later: finished runs are reused) covers
    # both labs for the first seeds
    keys = [(lab, lab_seed) for lab_seed in seed_list(args.lab_seeds)
            for lab in args.labs.split(",")]
    arms = [a for a in args.arms.split(",") if a] or None
    jobs = [(quickstart_config(seed, lab == "null", seed_list(args.train_seeds) or None, arms),
             args.out / f"{lab}-{seed}") for lab, seed in keys]
    rows, walls = [], {}
    for (lab, lab_seed), (_, out), (metrics, wall) in zip(
            keys, jobs, _run_all(jobs, run, args.jobs), strict=True):
        walls.setdefault(lab, []).append(wall)
        items = read_items(out / "items")
        for target in metrics["targets"]:
            rows.append({"lab": lab, "lab_seed": lab_seed,
                         **target_row(out, metrics, target, items)})
        print(f"{lab} lab seed {lab_seed}: {wall:.0f} s", flush=True)
    print()
    print_table(rows)
    print_summary(rows, walls)
    return rows


if __name__ == "__main__":
    main()
