"""The ``medmat`` command line: one lazily imported module per subcommand.

Subcommands live in ``medmat/cli/<name>_cmd.py`` and each defines a click command called
``command``. Importing lazily keeps ``medmat --help`` fast (torch is only imported by commands
that train).
"""

from __future__ import annotations

import importlib
import signal
import sys
import threading

import click

# subcommand -> (module, one-line help shown by `medmat --help`)
COMMANDS: dict[str, tuple[str, str]] = {
    "catalog": ("medmat.cli.catalog_cmd", "Browse the Med-MAT catalog; CSV/JSON, lattice PNG."),
    "synth": ("medmat.cli.synth_cmd", "Generate the synthetic MAT lab (images + records table)."),
    "build": ("medmat.cli.build_cmd", "Turn a records table into multiple-choice VQA items."),
    "ingest": ("medmat.cli.ingest_cmd", "Bring a real dataset in as a records table."),
    "leakage": ("medmat.cli.leakage_cmd", "Find exact / near duplicate images across splits."),
    "export": ("medmat.cli.export_cmd", "Export items: LLaMA-Factory, HF datasets, VLMEvalKit..."),
    "experiment": ("medmat.cli.experiment_cmd", "Plan and run CG experiments from a YAML config."),
    "study": (
        "medmat.cli.study_cmd",
        "Med-MAT study designs (pairwise, ablation, multitask...) on lab, records or catalog.",
    ),
    "mock-release": (
        "medmat.cli.mock_release_cmd",
        "Generate a mock Med-MAT release (published layout) at a chosen scale.",
    ),
    "report": ("medmat.cli.report_cmd", "Redraw report.md and plots from a metrics.json."),
    "quickstart": (
        "medmat.cli.quickstart_cmd",
        "Main job: synthetic lab -> CG experiment -> report.",
    ),
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS:
            return None
        module_name, short_help = COMMANDS[name]
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:
                msg = f"command {name!r} is not available in this build"
                raise click.ClickException(msg) from None
            raise
        cmd = module.command
        cmd.short_help = cmd.short_help or short_help
        return cmd

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # Use the static one-liners so `medmat --help` imports nothing heavy.
        rows = [(name, COMMANDS[name][1]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="medmat")
def cli() -> None:
    """medmat: compositional generalization of multimodal LLMs in medical imaging.

    A medical image is described by its MAT triplet (Modality, Anatomical area, Task).
    The pipeline: catalog -> synth/ingest -> build (VQA items) -> experiment -> report.
    Start with `medmat quickstart --out runs/quickstart`.
    """


def _invoke(args: list[str]) -> None:
    """Run the click group without click's own exception handling (``main`` owns it)."""
    try:
        with cli.make_context("medmat", args) as ctx:
            cli.invoke(ctx)
    except click.exceptions.Exit as exc:  # --help, --version
        if exc.exit_code:
            sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        raise KeyboardInterrupt from None
    except click.ClickException as exc:  # usage errors: click's own message, exit 2
        exc.show()
        sys.exit(exc.exit_code)


def main(argv: list[str] | None = None) -> None:
    """The ``medmat`` entry point: every failure becomes one line and an exit status.

    MedmatError and expected failures (disk full, permissions, corrupt or non-UTF-8 files,
    resource limits) -> ``error: ...``, exit 2; Ctrl-C -> ``interrupted``, exit 130; a bug ->
    one line plus the path of the saved traceback, exit 1 (see :mod:`medmat.failures`).
    """
    from medmat.failures import run_guarded

    args = sys.argv[1:] if argv is None else list(argv)
    # A file-size limit (ulimit -f) should fail the write with EFBIG, not kill the process.
    if hasattr(signal, "SIGXFSZ") and threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    run_guarded(lambda: _invoke(args), args)
