"""Boxes in grounding items: one canonical form, per-backbone rendering, and a reply parser.

Canonical form
    A box is ``(x1, y1, x2, y2)``: the left, top, right and bottom *edges* as fractions of the
    image width/height, with ``0 <= x1 <= x2 <= 1`` and ``0 <= y1 <= y2 <= 1``, each rounded to
    :data:`PRECISION` (3) decimals. Its text (:func:`format_box`) is
    ``[0.123, 0.456, 0.789, 0.900]``: always three decimals, so equal boxes are equal strings.
    Three decimals is exactly Qwen2-VL's 0-1000 integer grid, so canonical -> Qwen -> canonical
    is lossless.

Pixel boxes
    Pixel boxes use edge coordinates too: a box covering pixel columns ``c0..c1`` (inclusive)
    has ``x1 = c0`` and ``x2 = c1 + 1``, so the whole ``W x H`` image is ``(0, 0, W, H)`` and
    maps to ``(0, 0, 1, 1)``. COCO's ``[x, y, w, h]`` is ``(x, y, x + w, y + h)`` here.

Rendering (:func:`render_box`)
    ``"qwen2-vl"``: ``<|box_start|>(123,456),(789,900)<|box_end|>``, integers 0-1000, optionally
    preceded by ``<|object_ref_start|>label<|object_ref_end|>``; ``"llava"``: the canonical text.

Parsing (:func:`parse_box`)
    A model reply becomes a canonical box or ``None`` (a *miss*, to be counted, never guessed).
    Accepted: Qwen box tokens (with or without the special tokens, which decoding may strip),
    bracketed or bare runs of four numbers (``[a, b, c, d]``, ``(a,b),(c,d)``, ``a b c d``,
    ``from (a, b) to (c, d)``), keyed values (``x1=..``/``xmin: ..``/``left ..``), percentages,
    swapped corners, and surrounding words. The scale is read as: all four values <= 1 -> 0-1;
    else the backbone's own convention (``style="qwen2-vl"`` -> 0-1000); else, given the image
    size, pixels if the box fits in the image, else 0-1000 if all values <= 1000; without an
    image size, 0-1000 if all values <= 1000. Anything else (no run of exactly four numbers, two
    different candidate boxes, values beyond every scale) is ``None``. Coordinates a little
    outside the image are clipped to it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

from medmat.errors import MedmatError

PRECISION = 3
STYLES = ("qwen2-vl", "llava")

Box = tuple[float, float, float, float]

# A number not glued to a word: the "1" of "x1", the "2" of "bbox_2d" and "512x512" are not
# coordinates. A trailing "%" is kept (as group 2) to mark a percentage.
_NUM = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_NUMBER = re.compile(rf"(?<!\w)(?<!\d\.)({_NUM})(%?)(?!\w|\.\d)")
# What may stand between two numbers of one box: separators, brackets, "to"/"and" and corner
# names ("top-left (a, b), bottom-right (c, d)").
_GLUE = re.compile(
    r"^(?:[\s,;:()\[\]{}]|\bto\b|\band\b|\bcorner\b"
    r"|\b(?:top|bottom|upper|lower)[\s-]?(?:left|right)\b)*$",
    re.IGNORECASE,
)
_QWEN = re.compile(
    rf"<\|box_start\|>\s*\(\s*({_NUM})\s*,\s*({_NUM})\s*\)\s*,?\s*"
    rf"\(\s*({_NUM})\s*,\s*({_NUM})\s*\)\s*<\|box_end\|>"
)
# Keyed coordinates, in canonical order; each key group lists accepted spellings.
_KEYS = (
    r"x_?1|x_?min|left", r"y_?1|y_?min|top", r"x_?2|x_?max|right", r"y_?2|y_?max|bottom",
)
_KEYED = [re.compile(rf"(?<![A-Za-z_])(?:{k})[\"']?\s*[:=]?\s*({_NUM})(?!\w|\.\d)",
                    re.IGNORECASE)
          for k in _KEYS]


def _check_size(width: float, height: float) -> None:
    if not (width > 0 and height > 0 and math.isfinite(width) and math.isfinite(height)):
        raise MedmatError(f"image size {width!r} x {height!r}: width and height must be > 0")


def canonical(box: Sequence[float]) -> Box:
    """The canonical form of a normalised box: corners ordered, clipped to 0-1, 3 decimals."""
    vals = [float(v) for v in box]
    if len(vals) != 4 or not all(math.isfinite(v) for v in vals):
        raise MedmatError(f"box {list(box)!r}: need four finite numbers x1, y1, x2, y2")
    x1, x2 = sorted(min(max(v, 0.0), 1.0) for v in (vals[0], vals[2]))
    y1, y2 = sorted(min(max(v, 0.0), 1.0) for v in (vals[1], vals[3]))
    # "+ 0.0" turns a rounded -0.0 into 0.0 so the text never reads "-0.000".
    return tuple(round(v, PRECISION) + 0.0 for v in (x1, y1, x2, y2))  # type: ignore[return-value]


def from_pixels(box: Sequence[float], width: float, height: float) -> Box:
    """Canonical box from a pixel-edge box ``(x1, y1, x2, y2)`` of a ``width x height`` image."""
    _check_size(width, height)
    x1, y1, x2, y2 = (float(v) for v in box)
    return canonical((x1 / width, y1 / height, x2 / width, y2 / height))


def to_pixels(box: Sequence[float], width: float, height: float) -> tuple[float, ...]:
    """Pixel-edge box of a canonical box on a ``width x height`` image (floats, not rounded)."""
    _check_size(width, height)
    x1, y1, x2, y2 = canonical(box)
    return (x1 * width, y1 * height, x2 * width, y2 * height)


def format_box(box: Sequence[float]) -> str:
    """The canonical text ``[x1, y1, x2, y2]`` with exactly three decimals each."""
    return "[" + ", ".join(f"{v:.{PRECISION}f}" for v in canonical(box)) + "]"


def render_box(box: Sequence[float], style: str, label: str | None = None) -> str:
    """A box as the backbone ``style`` (one of :data:`STYLES`) writes it in prompts/answers."""
    if style == "qwen2-vl":
        x1, y1, x2, y2 = (round(v * 1000) for v in canonical(box))
        ref = f"<|object_ref_start|>{label}<|object_ref_end|>" if label else ""
        return f"{ref}<|box_start|>({x1},{y1}),({x2},{y2})<|box_end|>"
    if style == "llava":
        return f"{label}: {format_box(box)}" if label else format_box(box)
    raise MedmatError(f"box style {style!r}: unknown; use one of {', '.join(STYLES)}")


def _runs(text: str) -> list[list[tuple[float, bool]]]:
    """Maximal runs of numbers joined only by separators: [(value, is_percent), ...] each."""
    runs: list[list[tuple[float, bool]]] = []
    prev_end = None
    for m in _NUMBER.finditer(text):
        item = (float(m.group(1)), m.group(2) == "%")
        if prev_end is not None and _GLUE.match(text[prev_end:m.start()]):
            runs[-1].append(item)
        else:
            runs.append([item])
        prev_end = m.end()
    return runs


def _candidates(text: str) -> list[tuple[list[float], str | None]]:
    """Candidate boxes (four values and a forced scale or None), in order of trust."""
    qwen = [[float(v) for v in m.groups()] for m in _QWEN.finditer(text)]
    if qwen:
        return [(v, "thousand") for v in qwen]
    keyed = [k.search(text) for k in _KEYED]
    if all(keyed):
        return [([float(m.group(1)) for m in keyed if m], None)]
    out: list[tuple[list[float], str | None]] = []
    for run in _runs(text):
        if len(run) != 4:
            continue
        percents = [p for _, p in run]
        if any(percents) and not all(percents):
            continue  # "10%, 20, 30%, 40" mixes scales: no box
        out.append(([v for v, _ in run], "percent" if all(percents) else None))
    return out


def _scale(vals: list[float], forced: str | None, style: str | None,
           image_size: tuple[float, float] | None) -> tuple[float, float] | None:
    """Divisors (x, y) that bring ``vals`` to 0-1, or None when no scale fits."""
    if forced == "thousand":
        return (1000.0, 1000.0)
    if forced == "percent":
        return (100.0, 100.0)
    top = max(vals)
    if top <= 1.0:
        return (1.0, 1.0)
    if style == "qwen2-vl":
        return (1000.0, 1000.0) if top <= 1000.0 else None
    if image_size is not None:
        w, h = image_size
        if max(vals[0], vals[2]) <= w and max(vals[1], vals[3]) <= h:
            return (float(w), float(h))
    return (1000.0, 1000.0) if top <= 1000.0 else None


def parse_box(reply: object, *, image_size: tuple[float, float] | None = None,
              style: str | None = None) -> Box | None:
    """The canonical box in a model ``reply``, or None for a miss (see the module docstring).

    ``image_size`` is ``(width, height)`` in pixels, for replies in pixel coordinates;
    ``style`` is the backbone's convention (:data:`STYLES`), which settles 0-1000 vs pixels.
    """
    if style is not None and style not in STYLES:
        raise MedmatError(f"box style {style!r}: unknown; use one of {', '.join(STYLES)}")
    if image_size is not None:
        _check_size(*image_size)
    if not isinstance(reply, str):
        return None
    found = []
    for vals, forced in _candidates(reply):
        div = _scale(vals, forced, style, image_size)
        if div is None:
            continue
        box = canonical((vals[0] / div[0], vals[1] / div[1], vals[2] / div[0], vals[3] / div[1]))
        if box not in found:
            found.append(box)
    # Two different boxes in one reply: no way to tell which is the answer, so it is a miss.
    return found[0] if len(found) == 1 else None
