"""Mock-release benchmark: generate, ingest, build and plan the mock Med-MAT release at a scale.

Run:  .venv/bin/python benchmarks/bench_release.py [--scales 0.01,0.05] [--seed 0]

For each scale, each step runs in its own Python process (so peak memory is the step's own
``ru_maxrss``, imports included) on the same release, in order:

1. ``generate``: ``write_release`` (JSON files + tiny PNGs, staged and swapped in);
2. baselines for what ingest must at least do, measured in the same run on the same files:
   ``json parse`` (read every Med-MAT JSON file with ``json.load``) and ``png decode+encode+hash``
   (open each image, decode it, re-encode it as PNG, sha256 it: ingest's per-image minimum);
3. ``ingest``: ``medmat.ingest.ingest(..., "medmat-json")`` into records;
4. ``build``: ``medmat.qa.build`` (one VQA item per record);
5. ``plan``: sizes counted from the records + ``plan_pairwise`` on the catalog;
6. ``import only``: the interpreter and medmat's imports, the floor under every peak memory.

Prints a markdown table: seconds, rows or items per second, peak RSS. Wall-clock on a shared
machine varies; compare rows of the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

STEPS = ("generate", "json parse", "png decode+encode+hash", "ingest", "build", "plan",
         "import only")


def run_step(step: str, scale: float, seed: int, work: Path) -> dict:
    """Do one step in this process; return its count, seconds and peak RSS (MiB)."""
    os.environ["MEDMAT_PROGRESS"] = "0"
    release, records, items = work / "release", work / "records", work / "items"
    start = time.perf_counter()
    if step == "generate":
        from medmat.synth.release import write_release

        summary = write_release(release, scale, seed=seed)
        count, unit = summary["total"]["rows"], "rows"
    elif step == "json parse":
        files = sorted((release / "Aggregated_Subsets").glob("*.json"))
        count = sum(len(json.loads(f.read_text("utf-8"))) for f in files)
        unit = "rows"
    elif step == "png decode+encode+hash":
        import hashlib
        import io

        from PIL import Image

        count, unit = 0, "images"
        for path in (release / "images").rglob("*.png"):
            with Image.open(path) as im:
                buf = io.BytesIO()
                im.convert("L").save(buf, format="PNG")
            hashlib.sha256(buf.getvalue()).hexdigest()
            count += 1
    elif step == "ingest":
        from medmat.ingest import ingest

        report = ingest(release / "Aggregated_Subsets", "medmat-json", records,
                        images_root=str(release))
        count, unit = report["counts"]["records"], "records"
    elif step == "build":
        from medmat.qa import build

        count, unit = build(records, items, progress=False)["n_items"], "items"
    elif step == "plan":
        from medmat.study.catalog_plan import plan_pairwise, sizes_from_records

        plan = plan_pairwise(sizes=sizes_from_records(str(records)))
        count, unit = len(plan.skipped) + len(plan.targets), "targets"
    else:  # import only
        import medmat.ingest  # noqa: F401
        import medmat.qa  # noqa: F401
        import medmat.synth.release  # noqa: F401

        count, unit = 0, "-"
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    return {"count": count, "unit": unit, "seconds": seconds, "peak_mib": peak}


def measure(step: str, scale: float, seed: int, work: Path) -> dict:
    cmd = [sys.executable, __file__, "--step", step, "--scales", str(scale), "--seed", str(seed),
           "--work", str(work)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scales", default="0.01,0.05")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--step", choices=STEPS, help=argparse.SUPPRESS)  # child process
    ap.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    scales = [float(s) for s in args.scales.split(",")]
    if args.step:
        print(json.dumps(run_step(args.step, scales[0], args.seed, args.work)))
        return

    rows = []
    for scale in scales:
        with tempfile.TemporaryDirectory(prefix="bench-release-") as tmp:
            for step in STEPS:
                r = measure(step, scale, args.seed, Path(tmp))
                rows.append((scale, step, r))
                print(f"scale {scale} {step}: {r['count']} {r['unit']} in "
                      f"{r['seconds']:.2f} s, peak {r['peak_mib']:.0f} MiB", file=sys.stderr)

    print(f"\nmock release, seed {args.seed}, 16x16 PNGs; {os.cpu_count()} CPUs\n")
    print("| scale | step | count | seconds | per second | peak RSS (MiB) |")
    print("|---|---|---|---|---|---|")
    for scale, step, r in rows:
        rate = f"{r['count'] / r['seconds']:,.0f} {r['unit']}/s" if r["count"] else "-"
        count = f"{r['count']:,} {r['unit']}" if r["count"] else "-"
        print(f"| {scale} | {step} | {count} | {r['seconds']:.2f} | {rate} | "
              f"{r['peak_mib']:.0f} |")


if __name__ == "__main__":
    main()
