"""The ``ensemblekit`` command line (click): the group and its commands.

Commands: ``train`` (:mod:`.train`), ``predict`` and ``evaluate``
(:mod:`.predict`), ``plugins`` (:mod:`.plugins`), ``report`` (:mod:`.inspect`), ``search``
and ``reproduce`` (:mod:`.research`), ``export`` (:mod:`.export`).
Registration points one way: this module imports the commands and adds them
to the group; no command imports the group.  What the commands share (errors
and exit codes, files, the options of ``train``) is in :mod:`.common`, the
tables in :mod:`.data`.
Model files are read and written by :mod:`ensemblekit.io`, never with pickle.
Usage errors exit with status 2, problems with the user's files or settings
with status 1 and one line on stderr; ``--debug`` (before the command) shows
the traceback of an unexpected error instead.  Ctrl-C exits with status 130
and one line (``interrupted``), never a traceback nor click's ``Aborted!``.

A command's module is imported only when that command runs (or its own
``--help`` is asked for): they import scikit-learn, pandas and scipy, which
take seconds, and ``ensemblekit --help`` or ``--version`` needs none of them.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import click

from .. import __version__
from .._interrupt import exit_interrupted

__all__ = ["COMMANDS", "cli"]

#: Every command: its name, the module of this package and the function that
#: define it, and the line ``ensemblekit --help`` shows for it (the command's
#: own short help; tests/test_cli.py checks that the two agree).
COMMANDS: dict[str, tuple[str, str, str]] = {
    "train": ("train", "train", "Train a model on DATA (a CSV file) and report its scores."),
    "predict": ("predict", "predict", "Predict every row of DATA (CSV) with MODEL; print CSV."),
    "evaluate": ("predict", "evaluate", "Score MODEL on DATA (CSV with the target column)."),
    "plugins": ("plugins", "plugins",
                "List installed plugins, their role and parameters, and failures to load."),
    "report": ("inspect", "report",
               "Plot MODEL's learning curves (and scores on --data) into a folder."),
    "search": ("research", "search",
               "Coarse-to-fine hyper-parameter search on a CSV (or digits)."),
    "reproduce": ("research", "reproduce",
                  "Rerun a chapter-6 experiment (or all) on the bundled digits data."),
    "export": ("export", "export", "Write MODEL (a file of 'ensemblekit train') as an ONNX graph."),
}


class _Group(click.Group):
    """A group that imports a command on first use and turns any unexpected
    exception into one line (exit 1), and Ctrl-C into status 130."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Every command's name, sorted, without importing any.

        Parameters
        ----------
        ctx : click.Context
            The group's context.

        Returns
        -------
        list of str
        """
        return sorted({*COMMANDS, *self.commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """The command ``cmd_name``, its module imported now.

        Parameters
        ----------
        ctx : click.Context
            The group's context.
        cmd_name : str
            A command's name.

        Returns
        -------
        click.Command or None
            ``None`` for an unknown name.
        """
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            module, function, _ = COMMANDS[cmd_name]
            # the import statement's machinery (not importlib.import_module, which
            # bypasses it), so that ``python -X importtime`` reports the command too
            loaded = __import__(f"{__name__}.{module}", fromlist=[function])
            command = getattr(loaded, function)
            self.add_command(command, cmd_name)
        return self.commands.get(cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The commands section of ``--help``, from :data:`COMMANDS` (nothing imported).

        Parameters
        ----------
        ctx : click.Context
            The group's context.
        formatter : click.HelpFormatter
            Where the section is written.
        """
        names = self.list_commands(ctx)
        limit = formatter.width - 6 - max(len(name) for name in names)
        # a command not imported yet is shortened as click shortens a loaded one's help
        rows = [(name, (click.Command(name, help=COMMANDS[name][2]) if name in COMMANDS
                        else self.commands[name]).get_short_help_str(limit))
                for name in names]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def make_context(self, info_name: str | None, args: list[str],
                     parent: click.Context | None = None, **extra: Any) -> click.Context:
        """Parse the command line; Ctrl-C meanwhile exits 130, as during a command.

        Parameters
        ----------
        info_name : str or None
            The program's name.
        args : list of str
            The arguments.
        parent : click.Context or None, default=None
            The parent context.
        **extra
            Settings of the context.

        Returns
        -------
        click.Context
            The group's context.
        """
        try:
            return super().make_context(info_name, args, parent, **extra)
        except KeyboardInterrupt:  # click would print "Aborted!" and exit 1
            exit_interrupted()

    def invoke(self, ctx: click.Context) -> Any:
        """Run the command; report an unexpected exception in one line.

        Parameters
        ----------
        ctx : click.Context
            The group's context (``--debug`` shows the traceback instead).

        Returns
        -------
        object
            What the command returns.
        """
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:  # click would print "Aborted!" and exit 1
            exit_interrupted()
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except BrokenPipeError:  # the reader went away (``... | head``): not an error
            # point stdout at devnull so the interpreter's final flush stays quiet
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            raise click.exceptions.Exit(0) from None
        except Exception as exc:
            if ctx.params.get("debug"):
                raise
            lines = str(exc).strip().splitlines()
            text = lines[0] if lines else ""
            raise click.ClickException(
                f"{type(exc).__name__}: {text} (run 'ensemblekit --debug ...' for the "
                "traceback)") from exc


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="ensemblekit")
@click.option("--debug", is_flag=True, help="Show the full traceback of an error.")
def cli(debug: bool) -> None:
    """Train and use regularised neural-network ensembles from CSV files."""

