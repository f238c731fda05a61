"""CPU benchmark of the hf backend on tiny random models: training and both evaluation modes.

    .venv/bin/python benchmarks/bench_hf_cpu.py [--items 64] [--shapes tiny,small] [--threads 1]

For each model shape (``tiny``: hidden 32, 3 layers, vocab 600, the test model; ``small``:
hidden 256, 4 layers, vocab 32000) a random Qwen2-VL checkpoint is built
(medmat.testing.tiny_models), LoRA is trained on synthetic four-option items whose answer is
always B (so the trained model replies "B<|im_end|>" and generation stops after two tokens, as a
fine-tuned model does), then the same items are scored by option likelihood and by generation.
The baselines are the two generation rows measured in the same run: the trained model (stops
after 2 tokens, the cheapest generation can be) and the untrained model, which never emits the
end-of-turn token and decodes all ``--max-new-tokens`` (a verbose zero-shot model); the last
two columns say how many times faster than each a row is. Model loading is not
timed; every evaluation is warmed up once and the best of ``--repeats`` runs is reported.
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time
from pathlib import Path

import torch

from medmat.testing.tiny_models import SHAPES, build_tiny_model, synthetic_items
from medmat.train.hf import HFBackend


def best_rates(runs: list[tuple[HFBackend, str]], items, root: Path,
               repeats: int) -> list[float]:
    """items/s of each (backend, mode), best of ``repeats``; runs are interleaved so that load
    from other processes on a shared machine hits every mode alike."""
    for backend, mode in runs:  # warm-up (first-call allocations, lazy init)
        backend.opts.mode = mode
        backend.score(items[:4], root)
    best = [float("inf")] * len(runs)
    for _ in range(repeats):
        for k, (backend, mode) in enumerate(runs):
            backend.opts.mode = mode
            start = time.perf_counter()
            preds = backend.score(items, root)
            best[k] = min(best[k], time.perf_counter() - start)
            assert len(preds) == len(items)
    return [len(items) / b for b in best]


def bench_shape(shape: str, args: argparse.Namespace,
                tmp: Path) -> tuple[list[tuple[str, str, str, float]], tuple[float, float]]:
    model = build_tiny_model(tmp / shape, "qwen2_vl", shape=shape)
    root = tmp / "images"
    items = synthetic_items(root, args.items, size=56, answer="B")
    common = {"model": str(model), "batch_size": args.batch_size,
              "eval_batch_size": args.batch_size, "max_new_tokens": args.max_new_tokens,
              "device": "cpu"}
    trained = HFBackend(**common, epochs=args.epochs, lr=2e-2 if shape == "tiny" else 2e-3,
                        warmup_ratio=0.0)
    trained.fit(items, root, tmp / f"work-{shape}", seed=0)
    run = trained.last_train
    rows = [("training (LoRA)", f"{run.tokens / run.seconds:,.0f} tokens/s",
             len(items) * args.epochs / run.seconds)]
    untrained = HFBackend(**common)
    likelihood, generate, generate_full = best_rates(
        [(trained, "likelihood"), (trained, "generate"), (untrained, "generate")],
        items, root, args.repeats)
    trained.opts.mode = "generate"
    trained.score(items, root)
    replies = sorted(set(trained.last_replies.values()))
    rows += [
        ("eval: generation, trained", f"replies {replies}", generate),
        ("eval: generation, untrained", f"{args.max_new_tokens} new tokens", generate_full),
        ("eval: option likelihood", "1 forward pass", likelihood),
    ]
    return [(shape, *row) for row in rows], (generate, generate_full)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=64)
    parser.add_argument("--shapes", default="tiny,small", help=f"comma list of {sorted(SHAPES)}")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--max-new-tokens", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads (1 is fastest for tiny models on a shared box)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)

    print(f"hf backend on CPU ({platform.machine()}, torch {torch.__version__}, "
          f"{args.threads} thread(s)); random Qwen2-VL; {args.items} items of 56x56 px "
          f"(4 image tokens), batch {args.batch_size}")
    print()
    n = args.max_new_tokens
    print(f"| shape | measurement | detail | items/s | vs generation, 2 tokens | "
          f"vs generation, {n} tokens |")
    print("|---|---|---|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as tmp:
        for shape in args.shapes.split(","):
            rows, (short, full) = bench_shape(shape.strip(), args, Path(tmp))
            for name, what, detail, rate in rows:
                if what.startswith("training"):
                    ratios = "- | -"
                else:
                    ratios = f"{rate / short:.2f}x | {rate / full:.2f}x"
                print(f"| {name} | {what} | {detail} | {rate:,.1f} | {ratios} |", flush=True)


if __name__ == "__main__":
    main()
