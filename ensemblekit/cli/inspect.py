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
@click.option("--data", "data",
              help="CSV to score the model on: adds its scores, the permutation importance "
                   "of its columns, and a confusion matrix (classifier) or a "
                   "predicted-vs-actual plot (regressor).")
@click.option("--target", "-t", help="Target column of --data (default: the one trained on).")
@common.with_sep
def report(model_file: str, out_dir: str, data: str | None, target: str | None,
           sep: str | None) -> None:
    """Plot MODEL's learning curves (and scores on --data) into a folder.

    Writes loss.png, validation.png (when a validation score was recorded),
    and with --data importance.png (permutation importance), confusion.png
    (a classifier) or predicted.png (a regressor), and an index.md that shows
    them. Needs matplotlib: pip install 'ensemblekit[plot]'.
    """
    model, metadata = common.load_model(model_file)
    metrics = importance = predicted = None
    if data:
        scored = data_.scoring_table(model, metadata, data, target, sep)
        with data_.schema_messages(data), data_.scaled_input_errors(model, scored.X, data):
            metrics = data_.score_table(model, scored)
            importance = data_.importance(model, scored)
            if scored.task == "regression":
                predicted = (scored.y, model.predict(scored.X))
    try:
        written = write_report(model, metadata, Path(out_dir), Path(model_file).name,
                               metrics, importance, predicted)
    except ImportError:  # matplotlib, drawn only here
        raise click.ClickException(
            "report needs matplotlib: pip install 'ensemblekit[plot]'") from None
    for path in written:
        click.echo(str(path))
