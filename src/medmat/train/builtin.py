"""The built-in backend: train and score :class:`BuiltinScorer` on CPU in seconds.

Read top to bottom: prepare tensors -> (resume) -> epochs of shuffled mini-batches -> checkpoint
after every epoch -> final weights. Checkpoints are safetensors (weights and optimizer moments)
plus JSON (progress); nothing is ever unpickled. Each epoch's shuffle is seeded by (seed, epoch),
so a resumed run follows exactly the batches an uninterrupted run would have.

Grounding items (``answer_box``) train a box head in the same fit
(:mod:`medmat.train.builtin_boxes`): each epoch's classification batches (as without them) are
interleaved with smaller batches of grounding items, whose loss is the box loss (box regression
needs more steps). Without grounding items nothing of that runs: the same random draws, steps
and weights as a classification-only model.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import random
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file
from torch.nn import functional as F

from medmat.errors import MedmatError
from medmat.io import atomic_path, write_json
from medmat.records import Prediction, QAItem
from medmat.train import builtin_boxes as boxes
from medmat.train.builtin_model import BuiltinConfig, BuiltinScorer, encode_texts
from medmat.train.images import image_batch
from medmat.train.interface import ProgressFn

MAX_OPTIONS = 4
LETTERS = "ABCD"
_MALLOC_TUNED = False


@contextlib.contextmanager
def _threads(n: int) -> Iterator[None]:
    """torch's intra-op threads for one fit or score, restored after (the setting is global to
    the process, and tests or an hf backend in the same process must not inherit it)."""
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _tune_malloc() -> None:
    """Stop glibc from returning freed tensor memory to the OS after every batch.

    Small-batch CPU training otherwise pays for page faults on every step; measured gain on this
    model: 1.14x training, 1.55x scoring (benchmarks/bench_builtin.py, 2 cores).
    """
    global _MALLOC_TUNED
    if _MALLOC_TUNED:
        return
    _MALLOC_TUNED = True
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        m_trim_threshold, m_top_pad, m_mmap_threshold = -1, -2, -3
        libc.mallopt(m_mmap_threshold, 32 * 1024 * 1024)
        libc.mallopt(m_trim_threshold, 2**31 - 1)
        libc.mallopt(m_top_pad, 256 * 1024 * 1024)
    except (OSError, AttributeError):  # not glibc (macOS, musl): nothing to tune
        pass


@contextlib.contextmanager
def _readable(path: Path) -> Iterator[None]:
    """Turn a truncated, corrupt or foreign checkpoint file into one message naming it."""
    try:
        yield
    except MedmatError:
        raise
    except (SafetensorError, RuntimeError, KeyError, ValueError) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:160]
        raise MedmatError(
            f"{path}: corrupt, truncated or foreign checkpoint ({first}); delete it to retrain"
        ) from None


def _fingerprint(items: Sequence[QAItem], seed: int, extra: dict) -> str:
    h = hashlib.sha256(json.dumps(extra, sort_keys=True).encode())
    h.update(str(seed).encode())
    for it in items:
        h.update(f"{it.id}|{it.image}|{it.answer_choice}|{'|'.join(it.options)}\n".encode())
        if it.is_grounding:  # only then, so classification fingerprints stay what they were
            h.update(f"box|{it.answer}|{it.question}\n".encode())
    return h.hexdigest()[:16]


def _argmax_fair(probs: torch.Tensor, item_id: int) -> int:
    """Best option; exact ties (e.g. options the model has never read) are broken by a per-item
    seeded draw, so an uninformed model scores chance instead of always answering "A"."""
    best = torch.nonzero(probs >= probs.max() - 1e-7).flatten().tolist()
    if len(best) == 1:
        return best[0]
    return best[random.Random(item_id).randrange(len(best))]


class _Batch:
    """Tensors for a list of items (options padded to four, masked)."""

    def __init__(self, items: Sequence[QAItem], image_root: Path, cfg: BuiltinConfig) -> None:
        for it in items:
            if not 2 <= len(it.options) <= MAX_OPTIONS:
                raise MedmatError(
                    f"item {it.id}: {len(it.options)} options; the built-in model takes 2 to 4"
                )
        self.images = image_batch(image_root, [it.image for it in items], cfg.image_size)
        self.q_texts = [it.question for it in items]
        self.o_texts = [(list(it.options) + [""] * MAX_OPTIONS)[:MAX_OPTIONS] for it in items]
        self.mask = torch.tensor(
            [[k < len(it.options) for k in range(MAX_OPTIONS)] for it in items], dtype=torch.bool
        )
        self.target = torch.tensor([it.answer_index for it in items], dtype=torch.long)
        self.buckets = cfg.text_buckets

    def __len__(self) -> int:
        return len(self.q_texts)

    def inputs(self, idx: torch.Tensor) -> tuple[torch.Tensor, ...]:
        rows = idx.tolist()
        q_ids, q_off = encode_texts([self.q_texts[i] for i in rows], self.buckets)
        o_ids, o_off = encode_texts([t for i in rows for t in self.o_texts[i]], self.buckets)
        return self.images[idx], q_ids, q_off, o_ids, o_off, self.mask[idx]


class BuiltinBackend:
    """Options: epochs, batch_size, lr, weight_decay, image_size, width, hidden, threads
    (torch threads per fit/score; default 1)."""

    name = "builtin"

    def __init__(
        self,
        *,
        epochs: int = 10,
        batch_size: int = 128,
        lr: float = 1e-3,
        weight_decay: float = 1e-4,
        image_size: int = 32,
        width: int = 16,
        hidden: int = 128,
        threads: int | None = None,
        on_epoch_end: Callable[[int], None] | None = None,
    ) -> None:
        if epochs < 1 or batch_size < 1 or lr <= 0:
            raise MedmatError("builtin backend: epochs and batch_size must be >= 1 and lr > 0")
        if image_size % 8 or image_size < 16:
            raise MedmatError(
                f"builtin backend: image_size {image_size} must be a multiple of 8, >= 16"
            )
        self.epochs, self.batch_size, self.lr, self.weight_decay = (
            epochs,
            batch_size,
            lr,
            weight_decay,
        )
        self.cfg = BuiltinConfig(image_size=image_size, width=width, hidden=hidden)
        # One thread by default: results then do not depend on the machine's core count (a
        # float reduction split over more threads rounds differently), and experiments train
        # their models side by side in processes instead (medmat.experiment.prefit).
        self.threads = threads or 1
        self.on_epoch_end = on_epoch_end
        self.model: BuiltinScorer | None = None

    # ------------------------------------------------------------------ training
    def fit(
        self,
        items: Sequence[QAItem],
        image_root: Path,
        work_dir: Path,
        *,
        seed: int,
        progress: ProgressFn | None = None,
    ) -> None:
        with _threads(self.threads):
            self._fit(items, image_root, work_dir, seed=seed, progress=progress)

    def _fit(
        self,
        items: Sequence[QAItem],
        image_root: Path,
        work_dir: Path,
        *,
        seed: int,
        progress: ProgressFn | None,
    ) -> None:
        _tune_malloc()
        work_dir = Path(work_dir)
        work_dir.mkdir(parents=True, exist_ok=True)
        hyper = {
            "epochs": self.epochs,
            "batch_size": self.batch_size,
            "lr": self.lr,
            "weight_decay": self.weight_decay,
            **self.cfg.to_dict(),
        }
        if any(it.is_grounding for it in items):  # only then: classification fits keep their fp
            hyper["box_batch_size"] = min(self.batch_size, boxes.BATCH)
        fp = _fingerprint(items, seed, hyper)
        if self._load_finished(work_dir, fp):
            return
        if not items:
            raise MedmatError("builtin backend: no training items (the arm is empty)")
        grounding = [it for it in items if it.is_grounding]
        if grounding:
            items = [it for it in items if not it.is_grounding]
        torch.manual_seed(seed)
        model = BuiltinScorer(self.cfg)
        if grounding:
            boxes.attach_head(model)  # after the scorer: its initial draws stay the same
        opt = torch.optim.AdamW(model.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        start_epoch = self._resume(work_dir, fp, model, opt)
        data = _Batch(items, Path(image_root), self.cfg)
        box_data = boxes.BoxData(grounding, Path(image_root), self.cfg) if grounding else None
        n = len(data)
        # grounding items train in their own, smaller batches (builtin_boxes.epoch_batches)
        box_steps = -(-len(grounding) // min(self.batch_size, boxes.BATCH))
        steps_per_epoch = -(-n // self.batch_size) + box_steps
        total = self.epochs * steps_per_epoch
        for epoch in range(start_epoch, self.epochs):
            model.train()
            gen = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
            order = torch.randperm(n, generator=gen)
            batches = [order[lo : lo + self.batch_size] for lo in range(0, n, self.batch_size)]
            steps = ([(False, idx) for idx in batches] if box_data is None else
                     boxes.epoch_batches(batches, len(box_data), self.batch_size, gen))
            for step, (is_box, idx) in enumerate(steps):
                if is_box and box_data is not None:
                    loss = boxes.batch_loss(model, box_data, idx)
                else:
                    loss = F.cross_entropy(model(*data.inputs(idx)), data.target[idx])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                if progress:
                    progress(epoch * steps_per_epoch + step + 1, total)
            self._save_checkpoint(work_dir, fp, epoch + 1, model, opt)
            if self.on_epoch_end:
                self.on_epoch_end(epoch + 1)
        with atomic_path(work_dir / "model.safetensors") as tmp:
            save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(tmp))
        write_json(
            work_dir / "config.json",
            {"backend": self.name, "fingerprint": fp, "seed": seed,
             "n_items": len(items) + len(grounding), **hyper},
        )
        self.model = model

    def _load_finished(self, work_dir: Path, fp: str) -> bool:
        cfg_path, weights = work_dir / "config.json", work_dir / "model.safetensors"
        if not (cfg_path.exists() and weights.exists()):
            return False
        with _readable(cfg_path):
            meta = json.loads(cfg_path.read_text(encoding="utf-8"))
        if not isinstance(meta, dict):
            raise MedmatError(f"{cfg_path}: not a checkpoint config; delete it to retrain")
        if meta.get("fingerprint") != fp:
            raise MedmatError(
                f"{work_dir}: holds a model trained on other items or settings; delete the folder "
                "or use another output folder"
            )
        model = BuiltinScorer(self.cfg)
        with _readable(weights):
            state = load_file(str(weights))
            if any(k.startswith(boxes.HEAD + ".") for k in state):
                boxes.attach_head(model)
            model.load_state_dict(state)
        self.model = model
        return True

    def _resume(
        self, work_dir: Path, fp: str, model: BuiltinScorer, opt: torch.optim.Optimizer
    ) -> int:
        ckpt = work_dir / "checkpoint.safetensors"
        if not ckpt.exists():
            return 0
        # Progress lives in the safetensors header, written in the same atomic rename as the
        # weights: a kill can never pair epoch-N weights with an epoch-(N-1) counter.
        with _readable(ckpt):
            with safe_open(str(ckpt), framework="pt") as fh:
                meta = fh.metadata() or {}
        if meta.get("fingerprint") != fp:
            raise MedmatError(f"{work_dir}: checkpoint belongs to another run; delete the folder")
        with _readable(ckpt):
            tensors = load_file(str(ckpt))
            model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
            state = opt.state_dict()
            for i in range(len(list(model.parameters()))):
                state["state"][i] = {
                    key: tensors[f"optim.{i}.{key}"] for key in ("step", "exp_avg", "exp_avg_sq")
                }
            opt.load_state_dict(state)
            return int(meta["epoch"])

    def _save_checkpoint(
        self, work_dir: Path, fp: str, epoch: int, model: BuiltinScorer, opt: torch.optim.Optimizer
    ) -> None:
        tensors = {
            f"model.{k}": v.detach().clone().contiguous() for k, v in model.state_dict().items()
        }
        for i, st in opt.state_dict()["state"].items():
            for key, val in st.items():
                tensors[f"optim.{i}.{key}"] = val.detach().clone().contiguous()
        with atomic_path(work_dir / "checkpoint.safetensors") as tmp:
            save_file(tensors, str(tmp), metadata={"epoch": str(epoch), "fingerprint": fp})
        # for people and tools only; resuming trusts the safetensors header above
        write_json(work_dir / "checkpoint.json", {"epoch": epoch, "fingerprint": fp})

    # ------------------------------------------------------------------ scoring
    def score(
        self, items: Sequence[QAItem], image_root: Path, *, progress: ProgressFn | None = None
    ) -> list[Prediction]:
        with _threads(self.threads):
            return self._score(items, image_root, progress)

    def _score(self, items: Sequence[QAItem], image_root: Path,
               progress: ProgressFn | None) -> list[Prediction]:
        model = self.model
        if model is None:
            # untrained backend: a fresh random model is the "untrained" (chance) arm
            torch.manual_seed(0)
            model = self.model = BuiltinScorer(self.cfg)
        model.eval()
        if any(it.is_grounding for it in items):
            return self._score_mixed(model, items, Path(image_root), progress)
        data = _Batch(items, Path(image_root), self.cfg)
        preds: list[Prediction] = []
        with torch.no_grad():
            for lo in range(0, len(data), 512):
                idx = torch.arange(lo, min(len(data), lo + 512))
                probs = torch.softmax(model(*data.inputs(idx)), dim=1)
                for j, i in enumerate(idx.tolist()):
                    it = items[i]
                    k = len(it.options)
                    p = probs[j, :k]
                    preds.append(
                        Prediction(
                            item_id=it.id,
                            answer=it.answer_choice,
                            predicted=LETTERS[_argmax_fair(p, it.id)],
                            n_options=k,
                            scores=tuple(float(x) for x in p),
                        )
                    )
                if progress:
                    progress(len(preds), len(data))
        return preds

    def _score_mixed(self, model: BuiltinScorer, items: Sequence[QAItem], image_root: Path,
                     progress: ProgressFn | None) -> list[Prediction]:
        """Classification items as usual, grounding items by the box head, in item order.

        A model never trained on boxes (untrained, or trained on classification only) answers
        with a fresh head drawn from seed 0: the box counterpart of the untrained arm. The draw
        is made in a forked generator so scoring never moves the global random state.
        """
        if not boxes.has_head(model):
            with torch.random.fork_rng():
                torch.manual_seed(0)
                boxes.attach_head(model)
            model.eval()
        ground = [i for i, it in enumerate(items) if it.is_grounding]
        cls = [i for i, it in enumerate(items) if not it.is_grounding]
        out: list[Prediction | None] = [None] * len(items)
        for i, p in zip(ground, boxes.predict_boxes(model, [items[i] for i in ground],
                                                     image_root, self.cfg), strict=True):
            out[i] = p
        if cls:
            for i, p in zip(cls, self.score([items[i] for i in cls], image_root), strict=True):
                out[i] = p
        if progress:
            progress(len(items), len(items))
        return [p for p in out if p is not None]
