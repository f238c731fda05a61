"""``python -m medmat.report METRICS [--out DIR]``: rebuild a report from a saved metrics.json."""

from __future__ import annotations

import sys

import click

from medmat.errors import MedmatError
from medmat.report.command import command


def main(argv: list[str] | None = None) -> None:
    # Same contract as the medmat CLI: a MedmatError is a message, not a traceback.
    try:
        command.main(args=argv, prog_name="python -m medmat.report", standalone_mode=False)
    except MedmatError as exc:
        click.secho(f"error: {exc}", fg="red", err=True)
        sys.exit(2)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)


if __name__ == "__main__":
    main()
