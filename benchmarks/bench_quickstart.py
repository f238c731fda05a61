"""Wall time of `medmat quickstart` (target: <= 3 minutes on a 2-core CPU).

Runs the quickstart from scratch in a temporary folder, then once more in the same folder (the
resume path: every arm is already finished) as the baseline for fixed costs, and prints a table
with the wall time of each stage-carrying run and the headline accuracies. Usage:

    python benchmarks/bench_quickstart.py [--null]
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time

os.environ.setdefault("MEDMAT_PROGRESS", "0")


def _cpu() -> float:
    """CPU seconds of this process and its finished children (user + system): comparable
    across runs when other jobs share the machine, unlike the wall time."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def _gain_verdict(target: dict) -> str:
    said = [v["verdict"] for v in target.get("verdicts", [])
            if v["contrast"] == "related_minus_unrelated"]
    return said[0].split(":")[0] if said else ""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--null", action="store_true", help="benchmark the negative-control lab")
    args = ap.parse_args()
    from medmat.cli.quickstart_cmd import quickstart_config
    from medmat.experiment import run_experiment

    cfg = quickstart_config(null=args.null)
    rows = []
    with tempfile.TemporaryDirectory() as out:
        for label in ("from scratch", "rerun (all arms cached)"):
            t0, c0 = time.perf_counter(), _cpu()
            metrics = run_experiment(cfg, out).to_dict()
            rows.append((label, time.perf_counter() - t0, _cpu() - c0, metrics))
    print(
        f"medmat quickstart{' --null' if args.null else ''}: {os.cpu_count()} CPUs visible, "
        "target <= 180 s from scratch"
    )
    print(f"{'run':26} {'wall s':>8} {'CPU s':>8}  target: related / unrelated / target_trained "
          "[gain 95% CI] verdict")
    for label, wall, cpu, m in rows:
        parts = []
        for t in m["targets"]:
            a = t["arms"]
            lo, hi = t["diffs"]["related_minus_unrelated"]["ci95"]
            parts.append(
                f"{t['target']['subset']}: {a['related']['accuracy']:.3f} / "
                f"{a['unrelated']['accuracy']:.3f} / {a['target_trained']['accuracy']:.3f}"
                f" [{lo:+.3f}, {hi:+.3f}] {_gain_verdict(t)}"
            )
        print(f"{label:26} {wall:8.1f} {cpu:8.1f}  " + "; ".join(parts))
    print(f"target met: {rows[0][1] <= 180}")


if __name__ == "__main__":
    main()
