"""`medmat report`: (re)draw report.md and plots from a metrics.json."""

from medmat.report.command import command

__all__ = ["command"]
