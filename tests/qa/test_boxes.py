"""Canonical boxes, per-backbone rendering and the reply parser (a table of tricky replies)."""

from __future__ import annotations

import pytest

from medmat.errors import MedmatError
from medmat.qa.boxes import (
    canonical,
    format_box,
    from_pixels,
    parse_box,
    render_box,
    to_pixels,
)

# (reply, image_size, style, expected canonical box or None for a miss)
REPLIES = [
    # plain normalised floats, with and without words around them
    ("[0.123, 0.456, 0.789, 0.900]", None, None, (0.123, 0.456, 0.789, 0.9)),
    ("The lesion is at [0.1, 0.2, 0.5, 0.6].", None, None, (0.1, 0.2, 0.5, 0.6)),
    ("0.1 0.2 0.5 0.6", None, None, (0.1, 0.2, 0.5, 0.6)),
    ("Box: (0.1,0.2),(0.5,0.6)", None, None, (0.1, 0.2, 0.5, 0.6)),
    ("from (0.1, 0.2) to (0.5, 0.6)", None, None, (0.1, 0.2, 0.5, 0.6)),
    ("top-left (0.1, 0.2), bottom-right (0.5, 0.6)", None, None, (0.1, 0.2, 0.5, 0.6)),
    ("The box is 0.1, 0.2, 0.5, 0.6.", None, None, (0.1, 0.2, 0.5, 0.6)),
    (".1, .2, .5, .6", None, None, (0.1, 0.2, 0.5, 0.6)),
    ("[1e-1, 2e-1, 5e-1, 6e-1]", None, None, (0.1, 0.2, 0.5, 0.6)),
    # more than three decimals are rounded to three
    ("[0.12345, 0.2, 0.5, 0.66666]", None, None, (0.123, 0.2, 0.5, 0.667)),
    # integers 0/1 are the 0-1 scale (whole image)
    ("[0, 0, 1, 1]", None, None, (0.0, 0.0, 1.0, 1.0)),
    # swapped corners are ordered
    ("[0.5, 0.6, 0.1, 0.2]", None, None, (0.1, 0.2, 0.5, 0.6)),
    ("[0.1, 0.6, 0.5, 0.2]", None, None, (0.1, 0.2, 0.5, 0.6)),
    # slightly outside the image: clipped
    ("[-0.01, 0.2, 1.0, 0.6]", None, None, (0.0, 0.2, 1.0, 0.6)),
    # Qwen2-VL box tokens (always 0-1000), with a reference and spaces
    ("<|box_start|>(123,456),(789,900)<|box_end|>", None, None, (0.123, 0.456, 0.789, 0.9)),
    ("<|object_ref_start|>lesion<|object_ref_end|><|box_start|>( 100 , 200 ), (500,600)"
     "<|box_end|>", (100, 100), None, (0.1, 0.2, 0.5, 0.6)),
    # Qwen tokens stripped by decoding: the backbone's convention settles 0-1000 vs pixels
    ("lesion(100,200),(500,600)", (800, 800), "qwen2-vl", (0.1, 0.2, 0.5, 0.6)),
    ("lesion(100,200),(500,600)", (800, 800), None, (0.125, 0.25, 0.625, 0.75)),
    # 0-1000 without an image size
    ("[100, 200, 500, 600]", None, None, (0.1, 0.2, 0.5, 0.6)),
    # pixels, given the image size (width 200, height 400)
    ("[20, 40, 100, 200]", (200, 400), None, (0.1, 0.1, 0.5, 0.5)),
    ("[20, 40, 100, 200]", (200, 400), "llava", (0.1, 0.1, 0.5, 0.5)),
    # does not fit the image but fits 0-1000
    ("[20, 40, 300, 200]", (200, 400), None, (0.02, 0.04, 0.3, 0.2)),
    # pixels beyond 1000 need the image size
    ("[100, 200, 1500, 1800]", (2000, 2000), None, (0.05, 0.1, 0.75, 0.9)),
    ("[100, 200, 1500, 1800]", None, None, None),
    ("[100, 200, 1500, 1800]", (1000, 1000), None, None),
    # percentages
    ("10%, 20%, 50%, 60%", None, None, (0.1, 0.2, 0.5, 0.6)),
    ("10%, 20, 50%, 60", None, None, None),
    # keyed values, JSON-like and prose
    ('{"x_min": 0.1, "y_min": 0.2, "x_max": 0.5, "y_max": 0.6}', None, None,
     (0.1, 0.2, 0.5, 0.6)),
    ("x1=10, y1=20, x2=50, y2=60", (100, 100), None, (0.1, 0.2, 0.5, 0.6)),
    ("left: 0.1, top: 0.2, right: 0.5, bottom: 0.6", None, None, (0.1, 0.2, 0.5, 0.6)),
    ('{"bbox_2d": [10, 20, 50, 60]}', (100, 100), None, (0.1, 0.2, 0.5, 0.6)),
    # digits glued to words are not coordinates
    ("In this 512x512 image the box is [0.1, 0.2, 0.5, 0.6]", None, None, (0.1, 0.2, 0.5, 0.6)),
    # the same box twice is one answer; two different boxes are a miss
    ("[0.1, 0.2, 0.5, 0.6] i.e. (0.1, 0.2), (0.5, 0.6)", None, None, (0.1, 0.2, 0.5, 0.6)),
    ("[0.1, 0.2, 0.5, 0.6] or [0.3, 0.3, 0.4, 0.4]", None, None, None),
    # unparseable replies are misses
    ("", None, None, None),
    ("There is no lesion.", None, None, None),
    ("B", None, None, None),
    ("[0.1, 0.2, 0.5]", None, None, None),
    ("[0.1, 0.2, 0.5, 0.6, 0.7]", None, None, None),
    ("0.1 0.2 then later 0.5 0.6", None, None, None),
    (None, None, None, None),
    (12, None, None, None),
]


@pytest.mark.parametrize(("reply", "size", "style", "expected"), REPLIES)
def test_parse_box_table(reply, size, style, expected):
    got = parse_box(reply, image_size=size, style=style)
    if expected is None:
        assert got is None
    else:
        assert got == pytest.approx(expected, abs=1e-12)


def test_canonical_orders_clips_rounds():
    assert canonical((0.8, 0.9, 0.2, 0.1)) == (0.2, 0.1, 0.8, 0.9)
    assert canonical((-0.5, 0.00049, 1.7, 0.99951)) == (0.0, 0.0, 1.0, 1.0)
    assert canonical((-0.0001, 0.0, 0.5, 0.5))[0] == 0.0
    with pytest.raises(MedmatError, match="four finite"):
        canonical((0.1, float("nan"), 0.2, 0.3))
    with pytest.raises(MedmatError, match="four finite"):
        canonical((0.1, 0.2, 0.3))


def test_format_box_fixed_precision():
    assert format_box((0.1, 0.25, 0.5, 1)) == "[0.100, 0.250, 0.500, 1.000]"
    assert format_box((-0.0001, 0, 0.0004, 0.0006)) == "[0.000, 0.000, 0.000, 0.001]"


def test_pixels_round_trip():
    # pixel columns 10..29 and rows 5..44 of a 200 x 100 image: edges (10, 5, 30, 45)
    box = from_pixels((10, 5, 30, 45), 200, 100)
    assert box == (0.05, 0.05, 0.15, 0.45)
    assert to_pixels(box, 200, 100) == pytest.approx((10, 5, 30, 45))
    assert from_pixels((0, 0, 640, 480), 640, 480) == (0.0, 0.0, 1.0, 1.0)
    with pytest.raises(MedmatError, match="must be > 0"):
        from_pixels((0, 0, 1, 1), 0, 10)


def test_render_qwen_and_llava():
    box = (0.123, 0.456, 0.789, 0.9)
    assert render_box(box, "qwen2-vl") == "<|box_start|>(123,456),(789,900)<|box_end|>"
    assert render_box(box, "qwen2-vl", label="lesion") == (
        "<|object_ref_start|>lesion<|object_ref_end|><|box_start|>(123,456),(789,900)<|box_end|>")
    assert render_box(box, "llava") == "[0.123, 0.456, 0.789, 0.900]"
    with pytest.raises(MedmatError, match="unknown"):
        render_box(box, "blip")


@pytest.mark.parametrize("style", ["qwen2-vl", "llava"])
def test_render_parse_round_trip_is_lossless(style):
    # every point of the 0.001 grid survives render -> parse (Qwen's 0-1000 grid included)
    for i in range(0, 1001, 7):
        v = i / 1000
        box = canonical((v / 3, v / 2, v, min(1.0, v + 0.001)))
        assert parse_box(render_box(box, style), style=style) == box


def test_parse_rejects_bad_arguments():
    with pytest.raises(MedmatError, match="unknown"):
        parse_box("[0.1, 0.2, 0.3, 0.4]", style="blip")
    with pytest.raises(MedmatError, match="must be > 0"):
        parse_box("[1, 2, 3, 4]", image_size=(0, 10))
