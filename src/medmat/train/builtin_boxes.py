"""The built-in model's box head: grounding items trained jointly with classification items.

box(image, question) = corners of sigmoid(MLP([flatten(conv1x1(feature map)), words(question)]))

The head reads the CNN's *feature map* (flattened, so every position has its own weights; the
pooled vector the option scorer uses has averaged positions away) and the question's words (the
same bag-of-words table as the scorer, so "where is the glioma" and "where is the nodule" can
ask for different boxes). Four sigmoids give two x and two y values in 0-1, ordered into
corners, so every output is a valid normalised box. The loss is L1 on the corners plus the
generalised IoU loss (1 - GIoU), which still has a gradient when the boxes do not overlap.

The head is attached to a :class:`~medmat.train.builtin_model.BuiltinScorer` as ``box_head``
only when there are grounding items, *after* the scorer is built, so a classification-only fit
draws the same initial weights and saves the same state as before the head existed.

Grounding items train in their own mini-batches of at most :data:`BATCH` items, interleaved with
the classification batches (:func:`epoch_batches`). Box regression needs many more optimizer
steps than option scoring: on the lab's ``xray-brain-detseg`` cell (500 items, 8 epochs) batches
of 128 (4 steps an epoch) left the head near its random start in two of three seeds (cIoU 0.001,
0.001, 0.198 against the whole-image box's 0.036); box batches of 32 reached 0.43-0.53 in five
seeds, of 16 0.52-0.54 (and 0.31-0.36 instead of 0.05-0.17 with 200 items).
Classification items keep their own batch size and steps, so adding grounding items to a
classification target's arm adds box steps only, not more classification steps.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

from medmat.qa.boxes import canonical, format_box
from medmat.records import Prediction, QAItem
from medmat.train.builtin_model import BuiltinConfig, BuiltinScorer, encode_texts
from medmat.train.images import image_batch

HEAD = "box_head"
BATCH = 16  # most grounding items per mini-batch (module docstring)
_REDUCED = 8  # channels kept per position before flattening (keeps the head small)
_EPS = 1e-7


class BoxHead(nn.Module):
    def __init__(self, cfg: BuiltinConfig) -> None:
        super().__init__()
        side = cfg.image_size // 4  # two 2x2 max-pools in the scorer's CNN
        self.reduce = nn.Sequential(nn.Conv2d(2 * cfg.width, _REDUCED, 1), nn.ReLU(inplace=True))
        self.where = nn.Sequential(nn.Linear(_REDUCED * side * side, cfg.hidden),
                                   nn.ReLU(inplace=True))
        self.out = nn.Sequential(nn.Linear(cfg.hidden + cfg.text_dim, cfg.hidden),
                                 nn.ReLU(inplace=True), nn.Linear(cfg.hidden, 4))

    def forward(self, fmap: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
        """Boxes (B, 4) ``x1, y1, x2, y2`` in 0-1 from feature maps and question vectors."""
        h = self.where(self.reduce(fmap).flatten(1))
        raw = torch.sigmoid(self.out(torch.cat([h, q], dim=1)))
        xs, ys = raw[:, 0::2], raw[:, 1::2]
        return torch.stack([xs.amin(1), ys.amin(1), xs.amax(1), ys.amax(1)], dim=1)


def attach_head(model: BuiltinScorer) -> BoxHead:
    """Give ``model`` a box head (registered as a submodule, so it is saved and optimised)."""
    head = BoxHead(model.cfg)
    setattr(model, HEAD, head)
    return head


def has_head(model: BuiltinScorer) -> bool:
    return isinstance(getattr(model, HEAD, None), BoxHead)


def box_loss(pred: torch.Tensor, gold: torch.Tensor) -> torch.Tensor:
    """Mean L1 on the corners + mean (1 - GIoU)."""
    lo, hi = torch.maximum(pred[:, :2], gold[:, :2]), torch.minimum(pred[:, 2:], gold[:, 2:])
    inter = (hi - lo).clamp(min=0).prod(dim=1)
    area_p = (pred[:, 2:] - pred[:, :2]).prod(dim=1)
    area_g = (gold[:, 2:] - gold[:, :2]).prod(dim=1)
    union = area_p + area_g - inter
    hull = (torch.maximum(pred[:, 2:], gold[:, 2:])
            - torch.minimum(pred[:, :2], gold[:, :2])).prod(dim=1)
    giou = inter / (union + _EPS) - (hull - union) / (hull + _EPS)
    return F.l1_loss(pred, gold) + (1.0 - giou).mean()


class BoxData:
    """Tensors for grounding items: images, question texts and true boxes."""

    def __init__(self, items: Sequence[QAItem], image_root: Path, cfg: BuiltinConfig) -> None:
        self.images = image_batch(image_root, [it.image for it in items], cfg.image_size)
        self.q_texts = [it.question for it in items]
        self.target = torch.tensor([list(it.answer_box or ()) for it in items],
                                   dtype=torch.float32).reshape(len(items), 4)
        self.buckets = cfg.text_buckets

    def __len__(self) -> int:
        return len(self.q_texts)

    def boxes(self, model: BuiltinScorer, fmap: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        q_ids, q_off = encode_texts([self.q_texts[i] for i in rows.tolist()], self.buckets)
        return getattr(model, HEAD)(fmap, model.words(q_ids, q_off))


def epoch_batches(cls_batches: list[torch.Tensor], n_box: int, batch_size: int,
                  gen: torch.Generator) -> list[tuple[bool, torch.Tensor]]:
    """One epoch's mini-batches as ``(is_box, rows)``: the classification batches as given, the
    grounding items shuffled into batches of at most ``min(batch_size, BATCH)``, and the two
    kinds interleaved in a shuffled order (all draws from ``gen``)."""
    size = min(batch_size, BATCH)
    order = torch.randperm(n_box, generator=gen)
    steps = [(False, rows) for rows in cls_batches]
    steps += [(True, order[lo:lo + size]) for lo in range(0, n_box, size)]
    return [steps[i] for i in torch.randperm(len(steps), generator=gen).tolist()]


def batch_loss(model: BuiltinScorer, box_data: BoxData, rows: torch.Tensor) -> torch.Tensor:
    """Box loss of one mini-batch of grounding items."""
    fmap, _ = model.features(box_data.images[rows])
    return box_loss(box_data.boxes(model, fmap, rows), box_data.target[rows])


@torch.no_grad()
def predict_boxes(model: BuiltinScorer, items: Sequence[QAItem], image_root: Path,
                  cfg: BuiltinConfig) -> list[Prediction]:
    """Canonical box predictions for grounding items (``model`` in eval mode, with a head)."""
    data = BoxData(items, image_root, cfg)
    preds: list[Prediction] = []
    for lo in range(0, len(data), 512):
        rows = torch.arange(lo, min(len(data), lo + 512))
        fmap, _ = model.features(data.images[rows])
        for it, box in zip(items[lo:lo + 512], data.boxes(model, fmap, rows).tolist(),
                           strict=True):
            box = canonical(box)
            preds.append(Prediction(item_id=it.id, answer=it.answer, predicted=format_box(box),
                                    n_options=0, box=box, answer_box=it.answer_box))
    return preds
