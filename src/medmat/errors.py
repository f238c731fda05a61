"""One exception type for every user-facing failure.

The CLI catches :class:`MedmatError` and prints its message without a traceback, so every
message must say *what* was wrong, *where* (file, row, argument) and *how to fix it*.
"""

from __future__ import annotations


class MedmatError(Exception):
    """A user-facing error: bad input, bad arguments, or a refused (unsafe) operation."""


class UnknownTermError(MedmatError, KeyError):
    """A modality / area / task term that the taxonomy does not know."""

    def __str__(self) -> str:  # KeyError would quote the message otherwise
        return str(self.args[0]) if self.args else ""
