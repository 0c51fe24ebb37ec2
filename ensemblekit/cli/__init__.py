"""The ``ensemblekit`` command line (click): the group and its commands.

Commands: ``train`` (:mod:`.train`), ``predict`` and ``evaluate``
(:mod:`.predict`), ``plugins`` and ``report`` (:mod:`.inspect`), ``search``
and ``reproduce`` (:mod:`.research`), ``export`` (:mod:`.export`).
Registration points one way: this module imports the commands and adds them
to the group; no command imports the group.  What the commands share (errors
and exit codes, files, the options of ``train``) is in :mod:`.common`, the
tables in :mod:`.data`.
Model files are read and written by :mod:`ensemblekit.io`, never with pickle.
Usage errors exit with status 2, problems with the user's files or settings
with status 1 and one line on stderr; ``--debug`` (before the command) shows
the traceback of an unexpected error instead.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import click

from .. import __version__
from . import export, inspect, predict, research, train

__all__ = ["cli"]


class _Group(click.Group):
    """A group that turns any unexpected exception into one line (exit 1)."""

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


for _command in (train.train, predict.predict, predict.evaluate, inspect.plugins,
                 inspect.report, research.search, research.reproduce, export.export):
    cli.add_command(_command)
