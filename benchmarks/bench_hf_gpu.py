"""GPU benchmark of the hf backend with a Qwen2-VL-2B-shaped random model (no download).

    python benchmarks/bench_hf_gpu.py                      # on a CUDA machine
    python benchmarks/bench_hf_gpu.py --shape tiny --train-items 8 --eval-items 8   # CPU smoke

Builds a randomly initialised model with Qwen2-VL-2B-Instruct's public dimensions (text 1536 x
28 layers, 12 heads / 2 KV heads, MLP 8960, vocab 151,936, tied embeddings; vision 1280 x 32
layers), bf16, then through HFBackend (the code path users run):

* training: LoRA (default targets) on synthetic items with ``--image-size`` px images, reports
  LM tokens/s and model FLOPs utilisation (MFU) over the steps after ``--warmup-steps``;
* evaluation: items/s for option likelihood, and for generation both with 2 new tokens (what a
  fine-tuned model answering "B<|im_end|>" costs) and ``--max-new-tokens`` (the random model
  never stops, the cost of a verbose model).

MFU counts the FLOPs the model needs (recomputation by gradient checkpointing is not counted):
language model linears forward 2*N*T, backward 2*N*T for activation gradients (+ 2*N*T weight
gradients for full fine-tuning, LoRA's own being negligible), causal-free attention 4*L*d*s per
token forward and twice that backward; the frozen vision tower and merger forward only. Peak
is the dense bf16 figure of the GPU (H100 SXM/H200 989 TFLOP/s, H100 PCIe 756, A100 312) or
``--peak-tflops``.
Generation/likelihood speed-ups are relative to generation in the same run.
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

import torch

from medmat.testing.tiny_models import SHAPES, build_tiny_model, synthetic_items
from medmat.train.hf import HFBackend

# dense bf16 peaks (no sparsity), most specific names first
PEAK_BF16_TFLOPS = (("H100 PCIe", 756.0), ("H100 NVL", 835.0), ("H200", 989.4),
                    ("H100", 989.4), ("A100", 312.0), ("L40S", 362.1), ("A10G", 70.0))


def peak_tflops(name: str, override: float | None) -> float | None:
    if override:
        return override
    return next((v for k, v in PEAK_BF16_TFLOPS if k in name), None)


def flops_per_item(config: dict, seq_len: int, image_tokens: int, lora: bool) -> float:
    """Model FLOPs to train on one item (see the module docstring for the accounting)."""
    text = config["text_config"]
    vision = config["vision_config"]
    d, layers, ff = text["hidden_size"], text["num_hidden_layers"], text["intermediate_size"]
    kv = d // text["num_attention_heads"] * text["num_key_value_heads"]
    n_lm = layers * (2 * d * d + 2 * d * kv + 3 * d * ff) + d * text["vocab_size"]
    attn_fwd = 4 * layers * d * seq_len * seq_len
    lm_fwd = 2 * n_lm * seq_len + attn_fwd
    lm_train = lm_fwd + 2 * n_lm * seq_len + 2 * attn_fwd
    if not lora:
        lm_train += 2 * n_lm * seq_len
    dv, depth = vision["embed_dim"], vision["depth"]
    patch_dim = 3 * vision["temporal_patch_size"] * vision["patch_size"] ** 2
    merge = vision["spatial_merge_size"] ** 2
    patches = image_tokens * merge
    n_vis = depth * (4 * dv * dv + 2 * vision["mlp_ratio"] * dv * dv) + patch_dim * dv
    n_merger = (dv * merge) ** 2 + dv * merge * d
    vis_fwd = 2 * n_vis * patches + 4 * depth * dv * patches * patches
    vis_fwd += 2 * n_merger * image_tokens
    return float(lm_train + vis_fwd)


def rate(backend: HFBackend, items, root: Path) -> float:
    backend.score(items[: min(len(items), backend.opts.eval_batch_size)], root)  # warm-up
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    start = time.perf_counter()
    backend.score(items, root)
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return len(items) / (time.perf_counter() - start)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", choices=sorted(SHAPES), default="qwen2-vl-2b")
    parser.add_argument("--train-items", type=int, default=384)
    parser.add_argument("--eval-items", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--eval-batch-size", type=int, default=16)
    parser.add_argument("--image-size", type=int, default=448,
                        help="square synthetic images; 448 px -> 256 image tokens")
    parser.add_argument("--max-new-tokens", type=int, default=16)
    parser.add_argument("--warmup-steps", type=int, default=3)
    parser.add_argument("--full", action="store_true", help="full fine-tuning instead of LoRA")
    parser.add_argument("--gradient-checkpointing", choices=("auto", "on", "off"),
                        default="auto")
    parser.add_argument("--workers", type=int, default=4, help="DataLoader worker processes")
    parser.add_argument("--peak-tflops", type=float, default=None)
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args(argv)

    cuda = torch.cuda.is_available()
    device_name = torch.cuda.get_device_name(0) if cuda else f"CPU ({platform.machine()})"
    dtype = "bfloat16" if cuda else "float32"
    gc = {"auto": "auto", "on": True, "off": False}[args.gradient_checkpointing]
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        t0 = time.perf_counter()
        model = build_tiny_model(tmp_path / "model", "qwen2_vl", shape=args.shape, dtype=dtype,
                                 device="cuda" if cuda else "cpu")
        if cuda:
            torch.cuda.empty_cache()
        build_s = time.perf_counter() - t0
        config = json.loads((model / "config.json").read_text())
        root = tmp_path / "images"
        n = max(args.train_items, args.eval_items)
        items = synthetic_items(root, n, size=args.image_size, answer="B")
        common = {"model": str(model), "batch_size": args.batch_size,
                  "eval_batch_size": args.eval_batch_size, "num_workers": args.workers,
                  "max_length": 4096, "max_pixels": max(args.image_size ** 2, 56 * 56)}

        backend = HFBackend(**common, lora=not args.full, epochs=1, lr=1e-4,
                            gradient_checkpointing=gc, save_every=10**9)
        if cuda:
            torch.cuda.reset_peak_memory_stats()
        backend.fit(items[: args.train_items], root, tmp_path / "work", seed=0)
        run = backend.last_train
        marks = run.marks
        skip = min(args.warmup_steps, len(marks) - 1)
        (t_a, tok_a), (t_b, tok_b) = ((0.0, 0) if skip == 0 else marks[skip - 1]), marks[-1]
        steps = len(marks) - skip
        tokens_s = (tok_b - tok_a) / (t_b - t_a)
        items_s = steps * args.batch_size / (t_b - t_a)
        probe = backend.encoder.encode(items[0], backend.encoder.load_image(items[0], root), "B")
        seq_len = len(probe.input_ids)
        image_tokens = sum(t in backend.encoder.image_token_ids for t in probe.input_ids)
        flops = flops_per_item(config, seq_len, image_tokens, lora=not args.full) * items_s
        peak = peak_tflops(device_name, args.peak_tflops)
        mfu = f"{100 * flops / (peak * 1e12):.1f}%" if peak and cuda else "n/a"
        train_mem = torch.cuda.max_memory_allocated() / 2**30 if cuda else 0.0

        eval_items = items[: args.eval_items]
        likelihood = rate(backend, eval_items, root)
        backend.opts.mode = "generate"
        backend.opts.max_new_tokens = 2
        gen2 = rate(backend, eval_items, root)
        backend.opts.max_new_tokens = args.max_new_tokens
        gen_long = rate(backend, eval_items, root)

    n_params = sum(p.numel() for p in backend.model.parameters())
    mode = "full fine-tuning" if args.full else "LoRA r=8 (LM linears)"
    print(f"hf backend GPU benchmark: {device_name}; torch {torch.__version__}; "
          f"random {args.shape} Qwen2-VL ({n_params / 1e6:,.1f}M params, {dtype}); "
          f"built in {build_s:.0f} s")
    print(f"training: {mode}, batch {args.batch_size}, {seq_len} tokens/item "
          f"({image_tokens} image tokens, {args.image_size}px), gradient checkpointing "
          f"{backend.use_gradient_checkpointing}, {steps} timed steps after {skip} warm-up; "
          f"peak memory {train_mem:.1f} GiB")
    print()
    print("| measurement | value | vs generation (baseline) |")
    print("|---|---:|---:|")
    print(f"| training tokens/s | {tokens_s:,.0f} | - |")
    print(f"| training items/s | {items_s:,.2f} | - |")
    print(f"| training model TFLOP/s (MFU) | {flops / 1e12:,.1f} ({mfu}) | - |")
    print(f"| eval generation, {args.max_new_tokens} new tokens, items/s | {gen_long:,.1f} "
          f"| 1.00x |")
    print(f"| eval generation, 2 new tokens, items/s | {gen2:,.1f} | {gen2 / gen_long:.2f}x |")
    print(f"| eval option likelihood, items/s | {likelihood:,.1f} "
          f"| {likelihood / gen_long:.2f}x |")
    if args.json:
        args.json.write_text(json.dumps({
            "device": device_name, "shape": args.shape, "params": n_params,
            "train_tokens_per_s": tokens_s, "train_items_per_s": items_s,
            "train_tflops": flops / 1e12, "mfu": mfu, "peak_memory_gib": train_mem,
            "eval_likelihood_items_per_s": likelihood, "eval_generate2_items_per_s": gen2,
            "eval_generate_items_per_s": gen_long, "max_new_tokens": args.max_new_tokens,
        }, indent=2))


if __name__ == "__main__":
    main()
