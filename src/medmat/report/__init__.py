"""The experiment report: metrics dict -> report.md, accuracy.png, lattice.png.

>>> from medmat.report import write_report, format_table
>>> path = write_report(metrics, "runs/exp1")        # doctest: +SKIP
>>> print(format_table(metrics))                      # doctest: +SKIP

``metrics`` is the dict the experiment runner returns (and saves as metrics.json); see
docs/report.md for the keys read. Every output is deterministic and written atomically.
"""

from __future__ import annotations

from medmat.report.bias import DEFAULT_THRESHOLD, LetterGap, letter_gap
from medmat.report.lattice_plot import render_lattice_png
from medmat.report.markdown import build_markdown
from medmat.report.plots import render_accuracy_png
from medmat.report.schema import CANONICAL_ARMS, Report, parse_metrics
from medmat.report.tables import format_table, rich_table, verdict
from medmat.report.write import REPORT_MD, load_metrics, write_report

__all__ = [
    "CANONICAL_ARMS",
    "DEFAULT_THRESHOLD",
    "REPORT_MD",
    "LetterGap",
    "Report",
    "build_markdown",
    "format_table",
    "letter_gap",
    "load_metrics",
    "parse_metrics",
    "render_accuracy_png",
    "render_lattice_png",
    "rich_table",
    "verdict",
    "write_report",
]
