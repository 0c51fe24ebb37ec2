"""The ``ensemblekit`` command line (click): the group and its commands.

Commands: ``train`` (:mod:`.train`), ``predict`` and ``evaluate``
(:mod:`.predict`), ``plugins`` and ``report`` (:mod:`.inspect`), ``search``
and ``reproduce`` (:mod:`.research`).  Registration points one way: this
module imports the commands and adds them to the group; no command imports
the group.  What the commands share (errors and exit codes, files, the
options of ``train``) is in :mod:`.common`, the tables in :mod:`.data`.
Model files are read and written by :mod:`ensemblekit.io`, never with pickle.
"""

from __future__ import annotations

import click

from .. import __version__
from . import inspect, predict, research, train
from .common import Group

__all__ = ["cli"]


@click.group(cls=Group)
@click.version_option(__version__, prog_name="ensemblekit")
@click.option("--debug", is_flag=True, help="Show the full traceback of an error.")
def cli(debug: bool) -> None:
    """Train and use regularised neural-network ensembles from CSV files."""


for _command in (train.train, predict.predict, predict.evaluate, inspect.plugins,
                 inspect.report, research.search, research.reproduce):
    cli.add_command(_command)
