"""How often does the pairwise design find CG on the lab? The "k of n" over lab seeds.

Runs ``medmat study pairwise --lab [--null] --lab-seed S`` then ``medmat study run`` for every
lab seed and lab, exactly as a user would (default sizes: 500 training items per source cell,
200 test items, 400 general-domain items per trained arm), and prints:

- one row per (lab, lab seed): combinations, how many succeed (informative verdict, seed-level
  95% interval above 0), how many are gains after Holm and after Benjamini-Hochberg, how many
  are uninformative, and wall / CPU seconds of that run;
- one row per (lab, target, direction type): in how many lab seeds that combination succeeds;
- the summary: on the default lab, the share of combinations that succeed and the lab seeds on
  which most do; on the null lab, the false gains among the informative tests (per combination:
  nominally at most 2.5% one-sided; Holm and BH: at most 5% of families with any).

Usage (about 4 minutes per lab seed and lab on two idle cores at three training seeds):

    python benchmarks/bench_pairwise.py [--lab-seeds 0-4] [--labs default,null]
        [--seeds 0,1,2] [--out runs/bench_pairwise]

Each run lives in ``OUT/LAB-SEED`` (``OUT/LAB-SEED-seedsN`` when ``--seeds`` is not 0,1,2);
finished experiments are reused (the study resumes), so an interrupted benchmark continues and
a finished one only re-reads its results.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

from bench_verdict import seed_list  # this folder is on sys.path when run as a script

DEFAULT_SEEDS = "0,1,2"


def medmat(*args: str) -> None:
    # the console script installed beside this interpreter (the package has no __main__)
    cmd = [str(Path(sys.executable).parent / "medmat"), *args]
    done = subprocess.run(cmd, capture_output=True, text=True,
                          env={**os.environ, "MEDMAT_PROGRESS": "0"})
    if done.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stderr[-2000:]}")


def run_one(out: Path, lab: str, lab_seed: int, seeds: str) -> tuple[dict, float, float]:
    """Plan (once) and run one study; (metrics, wall s, CPU s of the run's processes)."""
    if not (out / "plan.csv").exists():
        medmat("study", "pairwise", "--lab", *(["--null"] if lab == "null" else []),
               "--lab-seed", str(lab_seed), "--seeds", seeds, "--out", str(out))
    t0, c0 = time.perf_counter(), os.times()
    medmat("study", "run", str(out))
    c1 = os.times()
    cpu = (c1.children_user + c1.children_system) - (c0.children_user + c0.children_system)
    return json.loads((out / "metrics.json").read_text()), time.perf_counter() - t0, cpu


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lab-seeds", default="0-4")
    ap.add_argument("--labs", default="default,null")
    ap.add_argument("--seeds", default=DEFAULT_SEEDS, help="training seeds of every experiment")
    ap.add_argument("--out", type=Path, default=Path("runs/bench_pairwise"))
    args = ap.parse_args()
    suffix = "" if args.seeds == DEFAULT_SEEDS else f"-seeds{len(args.seeds.split(','))}"

    rows: dict[str, list[tuple[int, dict]]] = defaultdict(list)
    print(f"pairwise on the lab, training seeds {args.seeds}, {os.cpu_count()} CPUs visible")
    print("\n| lab | lab seed | combinations | succeed | Holm | BH | uninformative | wall s "
          "| CPU s |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for lab in args.labs.split(","):
        for s in seed_list(args.lab_seeds):
            m, wall, cpu = run_one(args.out / f"{lab}-{s}{suffix}", lab, s, args.seeds)
            combos = m["combinations"]
            unin = sum(c["verdict"].startswith("uninformative") for c in combos)
            mult = m["multiplicity"]
            print(f"| {lab} | {s} | {len(combos)} | {m['n_succeed']} | {mult['n_gain_holm']} "
                  f"| {mult['n_gain_bh']} | {unin} | {wall:.0f} | {cpu:.0f} |", flush=True)
            rows[lab].append((s, m))

    print("\n| lab | target | direction | mean gain, points (min, max) | succeeds in lab seeds "
          "| uninformative in |\n|---|---|---|---|---|---|")
    for lab, runs in rows.items():
        per: dict[tuple[str, str], list[list]] = defaultdict(lambda: [[], [], []])
        for s, m in runs:
            for c in m["combinations"]:
                # every combination gets a row, also one that never succeeds
                succeeded, uninformative, gains = per[(c["target"]["subset"], c["direction"])]
                gains.append(100 * c["gain"]["value"])
                if c["succeeds"]:
                    succeeded.append(s)
                if c["verdict"].startswith("uninformative"):
                    uninformative.append(s)
        for (target, direction), (ok, unin, gains) in sorted(per.items()):
            spread = f"{sum(gains) / len(gains):+.1f} ({min(gains):+.1f}, {max(gains):+.1f})"
            print(f"| {lab} | {target} | {direction} | {spread} "
                  f"| {len(ok)} of {len(runs)} {ok or ''} | {len(unin)} of {len(runs)} |")

    print()
    for lab, runs in rows.items():
        n = sum(len(m["combinations"]) for _, m in runs)
        ok = sum(m["n_succeed"] for _, m in runs)
        informative = sum(not c["verdict"].startswith("uninformative")
                          for _, m in runs for c in m["combinations"])
        holm = sum(m["multiplicity"]["n_gain_holm"] for _, m in runs)
        bh = sum(m["multiplicity"]["n_gain_bh"] for _, m in runs)
        most = [s for s, m in runs if m["n_succeed"] > len(m["combinations"]) / 2]
        if lab == "null":
            print(f"null lab: {ok} false gains of {informative} informative tests "
                  f"({n - informative} uninformative); after Holm {holm}, after BH {bh}")
        else:
            print(f"{lab} lab: {ok} of {n} combinations succeed ({ok / n:.0%}; Holm {holm}, "
                  f"BH {bh}); most of a lab seed's combinations succeed on {len(most)} of "
                  f"{len(runs)} lab seeds {most}")


if __name__ == "__main__":
    main()
