"""``ensemblekit report``: what a model learnt, in plots and one page."""

from __future__ import annotations

from pathlib import Path

import click

from . import common
from . import data as data_
from .report import write_report

__all__ = ["report"]


@click.command()
@click.argument("model_file", metavar="MODEL")
@click.option("--out", "-o", "out_dir", required=True, type=click.Path(file_okay=False),
              help="Folder to write the plots and index.md into.")
@click.option("--data", "data", help="CSV to score the model on (adds a confusion matrix).")
@click.option("--target", "-t", help="Target column of --data (default: the one trained on).")
@common.with_sep
def report(model_file: str, out_dir: str, data: str | None, target: str | None,
           sep: str | None) -> None:
    """Plot MODEL's learning curves (and scores on --data) into a folder.

    Writes loss.png, validation.png (with early stopping), confusion.png
    (a classifier scored on --data) and an index.md that shows them.
    Needs matplotlib: pip install 'ensemblekit[plot]'.
    """
    model, metadata = common.load_model(model_file)
    metrics = data_.score_file(model, metadata, data, target, sep) if data else None
    try:
        written = write_report(model, metadata, Path(out_dir), Path(model_file).name,
                               metrics)
    except ImportError:  # matplotlib, drawn only here
        raise click.ClickException(
            "report needs matplotlib: pip install 'ensemblekit[plot]'") from None
    for path in written:
        click.echo(str(path))
