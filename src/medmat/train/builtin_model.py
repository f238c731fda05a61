"""The built-in multimodal scorer: a small CNN + bag-of-words text encoder.

score(option k | image, question) = <fuse(cnn(image), text(question)), proj(text(option_k))>

Because options are scored from their *text*, a label learned in one MAT combination can be
recognised when it is offered in another: the property compositional generalization needs.
Words are hashed into a fixed number of buckets (no vocabulary file), so the model can read any
text; word vectors start at zero, so a word never seen in training (one whose bucket no training
word shares) contributes nothing to a score.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import asdict, dataclass

import torch
from torch import nn

_WORD = re.compile(r"[a-z0-9]+")


@dataclass(frozen=True)
class BuiltinConfig:
    image_size: int = 32
    width: int = 16
    text_buckets: int = 4096
    text_dim: int = 64
    hidden: int = 128

    def to_dict(self) -> dict:
        return asdict(self)


def word_ids(text: str, buckets: int) -> list[int]:
    """Stable hashed word ids (crc32, so they do not change between processes)."""
    return [zlib.crc32(w.encode()) % buckets for w in _WORD.findall(text.lower())] or [0]


def encode_texts(texts: list[str], buckets: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Flatten word ids + offsets for nn.EmbeddingBag."""
    ids: list[int] = []
    offsets: list[int] = []
    for t in texts:
        offsets.append(len(ids))
        ids.extend(word_ids(t, buckets))
    return torch.tensor(ids, dtype=torch.long), torch.tensor(offsets, dtype=torch.long)


class BuiltinScorer(nn.Module):
    def __init__(self, cfg: BuiltinConfig) -> None:
        super().__init__()
        self.cfg = cfg
        w = cfg.width

        def block(cin: int, cout: int) -> list[nn.Module]:
            return [
                nn.Conv2d(cin, cout, 3, padding=1, bias=False),
                nn.BatchNorm2d(cout),
                nn.ReLU(inplace=True),
            ]

        # Two coordinate channels (CoordConv) let translation-invariant features still tell left
        # from right; global max+mean pooling makes a lesion detector learned in one anatomy fire
        # wherever the lesion sits in another, which recombination needs.
        self.cnn = nn.Sequential(
            *block(5, w),
            nn.MaxPool2d(2),
            *block(w, 2 * w),
            nn.MaxPool2d(2),
            *block(2 * w, 2 * w),
            *block(2 * w, 2 * w),
        )
        # channels-last memory (NHWC) for the CNN's weights and inputs: on one CPU thread a
        # training step is 1.4x faster than in NCHW, mostly in max-pooling (its NCHW CPU kernel
        # is slow); measured on 1,400 lab items, 3 epochs: 2.58 s -> 1.80 s. Same model, but
        # floats are summed in another order, so weights differ from the NCHW layout's.
        self.cnn.to(memory_format=torch.channels_last)
        axis = torch.linspace(-1.0, 1.0, cfg.image_size)
        yy, xx = torch.meshgrid(axis, axis, indexing="ij")
        self.register_buffer("coords", torch.stack([xx, yy])[None], persistent=False)
        self.img_proj = nn.Sequential(nn.Linear(4 * w, cfg.hidden), nn.ReLU(inplace=True))
        self.words = nn.EmbeddingBag(cfg.text_buckets, cfg.text_dim, mode="mean")
        self.fuse = nn.Sequential(
            nn.Linear(cfg.hidden + cfg.text_dim, cfg.hidden),
            nn.ReLU(inplace=True),
            nn.Linear(cfg.hidden, cfg.hidden),
        )
        self.opt_proj = nn.Linear(cfg.text_dim, cfg.hidden)
        # Word vectors start at zero: a word never seen in training then carries no information
        # (all unseen options tie) instead of a random preference that can land above or below
        # chance by luck. Seen words move away from zero through opt_proj's gradient.
        nn.init.zeros_(self.words.weight)

    def forward(
        self,
        images: torch.Tensor,  # (B, 3, S, S) uint8
        q_ids: torch.Tensor,
        q_offsets: torch.Tensor,
        o_ids: torch.Tensor,
        o_offsets: torch.Tensor,
        option_mask: torch.Tensor,  # (B, K) bool, True where an option is offered
    ) -> torch.Tensor:
        return self.scores(self.features(images)[1], q_ids, q_offsets, o_ids, o_offsets,
                           option_mask)

    def features(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(feature map (B, 2w, S/4, S/4), pooled image vector (B, H)) of uint8 images; the map
        keeps the positions a box head needs, which the pooled vector averages away."""
        x = images.float().div_(127.5).sub_(1.0)
        x = torch.cat([x, self.coords.expand(x.shape[0], -1, -1, -1)], dim=1)
        f = self.cnn(x.contiguous(memory_format=torch.channels_last))
        return f, self.img_proj(torch.cat([f.amax(dim=(2, 3)), f.mean(dim=(2, 3))], dim=1))

    def scores(self, img: torch.Tensor, q_ids: torch.Tensor, q_offsets: torch.Tensor,
               o_ids: torch.Tensor, o_offsets: torch.Tensor,
               option_mask: torch.Tensor) -> torch.Tensor:
        """Option logits (B, K) from pooled image vectors; -inf where no option is offered."""
        q = self.words(q_ids, q_offsets)
        h = self.fuse(torch.cat([img, q], dim=1))  # (B, H)
        opts = self.opt_proj(self.words(o_ids, o_offsets))  # (B*K, H)
        opts = opts.view(option_mask.shape[0], option_mask.shape[1], -1)
        logits = torch.einsum("bh,bkh->bk", h, opts) / (h.shape[1] ** 0.5)
        return logits.masked_fill(~option_mask, float("-inf"))
