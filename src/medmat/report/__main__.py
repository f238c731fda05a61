"""``python -m medmat.report METRICS [--out DIR]``: same as ``medmat report``."""

from __future__ import annotations

import sys

from medmat.cli import main as cli_main


def main(argv: list[str] | None = None) -> None:
    # The medmat CLI owns the error contract (MedmatError -> "error: ..." and exit 2).
    cli_main(["report", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    main()
