"""write_report: metrics dict -> report.md + accuracy.png + lattice.png in one folder."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from medmat.errors import MedmatError
from medmat.io import read_json, write_bytes, write_text
from medmat.report.bias import DEFAULT_THRESHOLD
from medmat.report.box_figure import BOXES_PNG, BoxExample, render_boxes_png
from medmat.report.lattice_plot import render_lattice_png
from medmat.report.markdown import ACCURACY_PNG, LATTICE_PNG, build_markdown
from medmat.report.plots import render_accuracy_png
from medmat.report.schema import parse_metrics

REPORT_MD = "report.md"


def write_report(
    metrics: Any,
    out_dir: str | os.PathLike[str],
    *,
    letter_bias_threshold: float = DEFAULT_THRESHOLD,
    box_examples: Sequence[BoxExample] | None = None,
) -> Path:
    """Write report.md, accuracy.png and lattice.png into ``out_dir``; return report.md's path.

    ``box_examples`` (grounding targets' test images with true and predicted boxes, which only
    the experiment run has) add boxes.png; without them report.md links a boxes.png already in
    ``out_dir`` (a redrawn report keeps the run's figure) and none otherwise.

    The metrics are validated and everything is rendered in memory first, so bad metrics raise
    :class:`MedmatError` before any file is touched; each file is then written atomically, the
    markdown last (a report.md on disk always has its images beside it). The same metrics give
    byte-identical files.
    """
    if not 0 <= letter_bias_threshold <= 1:
        raise MedmatError(
            f"letter_bias_threshold={letter_bias_threshold}: must be a share between 0 and 1"
        )
    report = parse_metrics(metrics)
    out = Path(out_dir)
    boxes = render_boxes_png(box_examples) if box_examples else None
    text = build_markdown(report, letter_bias_threshold,
                          box_figure=boxes is not None or (out / BOXES_PNG).is_file())
    accuracy = render_accuracy_png(report)
    lattice = render_lattice_png(report)
    if out.exists() and not out.is_dir():
        raise MedmatError(f"{out}: exists and is not a folder; choose another report folder")
    write_bytes(out / ACCURACY_PNG, accuracy)
    write_bytes(out / LATTICE_PNG, lattice)
    if boxes is not None:
        write_bytes(out / BOXES_PNG, boxes)
    return write_text(out / REPORT_MD, text)


def load_metrics(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a metrics.json (or the folder holding one) written by the experiment runner."""
    path = Path(path)
    if path.is_dir():
        path = path / "metrics.json"
    data = read_json(path)
    if not isinstance(data, dict):
        raise MedmatError(f"{path}: expected a JSON object of experiment metrics")
    return data
