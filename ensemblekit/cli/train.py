"""``ensemblekit train``: train a network (or an ensemble) on a CSV file.

The model is the pipeline :func:`ensemblekit.config.build_model` builds from
the options (:func:`ensemblekit.cli.common.train_params`): preprocessing,
then the network or ensemble; progress is shown per epoch (a network) or per
finished member (an ensemble) on stderr.
"""

from __future__ import annotations

import sys
import time
import warnings
from typing import Any

import click
import numpy as np
from tqdm import tqdm

from .._interrupt import exit_interrupted
from ..ensemble import member_progress
from ..exceptions import INTERRUPTED, TrainingInterrupted
from ..hookspecs import hookimpl
from ..io import save
from ..plugins import Plugin
from . import common
from . import data as data_
from .ensemble import member_reporter, parallel_backend
from .report import describe_model, epochs_trained, validation_summary

__all__ = ["train"]

_PROGRESS = "_cli_progress"


class _Progress(Plugin):
    """Training-time observer: a progress bar or one line per epoch on stderr.

    Added by ``train`` for the fit only and removed from the fitted model
    before it is saved.

    Parameters
    ----------
    mode : {"bar", "lines"}
        A tqdm bar or a line per epoch.
    total : int
        Maximum number of epochs.
    """

    name = _PROGRESS

    def __init__(self, mode: str = "bar", total: int = 0) -> None:
        self.mode = mode
        self.total = total

    @hookimpl
    def ensemblekit_fit_start(self) -> None:
        """Open the bar."""
        self._bar = None
        if self.mode == "bar":
            self._bar = tqdm(total=self.total, unit="epoch", file=sys.stderr, leave=False)

    @hookimpl
    def ensemblekit_epoch_end(self, epoch: int, record: dict) -> None:
        """Advance the bar or print the epoch's record."""
        shown = {k: f"{v:.4g}" for k, v in record.items()
                 if k != "epoch" and isinstance(v, float)}
        if self._bar is not None:
            self._bar.set_postfix(shown, refresh=False)
            self._bar.update(1)
        elif self.mode == "lines":
            values = " ".join(f"{k}={v}" for k, v in shown.items())
            click.echo(f"epoch {epoch + 1}/{self.total} {values}", err=True)

    @hookimpl
    def ensemblekit_fit_end(self) -> None:
        """Close the bar."""
        if self._bar is not None:
            self._bar.close()
        del self._bar


def _fit_with_progress(model: Any, X: Any, y: Any, mode: str | None) -> list:
    """Fit ``model`` (a pipeline); return the warnings raised while fitting.

    A single network reports epochs (its ``_Progress`` plugin is removed
    again before the model is saved); an ensemble reports finished members.

    Raises
    ------
    KeyboardInterrupt
        When an ensemble's fit is interrupted (a single network stops, keeps
        its last epoch and warns instead).
    """
    estimator = data_.final_estimator(model)
    if hasattr(estimator, "n_estimators"):
        report, epochs, close = member_reporter(mode)
        try:
            with warnings.catch_warnings(record=True) as caught, member_progress(report,
                                                                                 epochs):
                warnings.simplefilter("always")
                model.fit(X, y)
        finally:
            close()
        return caught
    configured = estimator.plugins
    if mode is not None:
        observer = _Progress(mode=mode, total=estimator.max_iter)
        estimator.plugins = [*(configured or []), observer]
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            model.fit(X, y)
    finally:
        estimator.plugins = configured
    fitted = data_.final_estimator(model)  # a clone of ``estimator`` under --scale-target
    fitted.plugins = configured
    fitted.plugins_ = [(n, p) for n, p in fitted.plugins_ if n != _PROGRESS]
    return caught



@click.command(params=common.train_params())
def train(data: str | None, **options: Any) -> None:
    """Train a model on DATA (a CSV file) and report its scores.

    Without DATA, trains a classifier on scikit-learn's bundled digits data.
    Each column's kind (numeric, boolean, categorical, text) is recorded in
    the model's column schema; numeric columns are imputed (median) and
    standardised, other columns imputed (most frequent) and one-hot encoded;
    that preprocessing is saved inside the model, so 'predict' applies it too.
    """
    quiet = options["quiet"]
    common.check_out(options["out"], "--out", data)
    table = common.read_training(data, options)
    X, y, task, target = table.X, table.y, table.task, table.target
    numeric, categorical, source = table.numeric, table.categorical, table.source
    model = common.build_model(task, options, numeric, categorical)
    notes = table.notes
    X_train, X_test, y_train, y_test = data_.split(X, y, task, options["test_size"],
                                                   options["random_state"], notes)
    if not quiet:  # what was read, before the wait for training
        for note in notes:
            click.echo(f"warning: {note}", err=True)
        click.echo(f"data:   {source}, {table.n_rows} rows x {X.shape[1]} features "
                   f"({len(numeric)} numeric, {len(categorical)} categorical)"
                   + (f", {table.dropped} rows without a target dropped" if table.dropped
                      else ""))
        kind = (f"{len(np.unique(y_train))} classes" if task == "classification"
                else "numeric target")
        click.echo(f"task:   {task} of {target!r}, {kind}")

    mode = None if quiet else ("lines" if options["verbose"] else (
        "bar" if sys.stderr.isatty() else None))
    start = time.perf_counter()
    try:
        with parallel_backend(options) as where:
            caught = _fit_with_progress(model, X_train, y_train, mode)
    except KeyboardInterrupt:  # an ensemble stops with it; a network warns
        caught = [warnings.WarningMessage(INTERRUPTED, TrainingInterrupted, "", 0)]
    elapsed = time.perf_counter() - start
    if any(issubclass(w.category, TrainingInterrupted) for w in caught):
        exit_interrupted("interrupted: no model written")
    scores = {"train": data_.scores(model, X_train, y_train, task)}
    if X_test is not None:
        with data_.schema_messages(f"{source} (test split)", quiet):
            scores["test"] = data_.scores(model, X_test, y_test, task)
    if options["out"]:
        save(model, options["out"], metadata={
            "target": target, "task": task, "numeric_columns": numeric,
            "categorical_columns": categorical, "trained_on": source,
            "id_column": options["id_column"],
            "scores": {k: {m: v for m, v in s.items() if m in common.LABEL}
                       for k, s in scores.items()}})
    if quiet:
        return
    for w in caught:
        if not any(str(w.message) in note for note in notes):  # shown before training
            click.echo(f"warning: {w.message}", err=True)
    estimator = data_.final_estimator(model)
    click.echo(f"model:  {describe_model(estimator)}")
    click.echo(f"epochs: {epochs_trained(estimator)}, time: {elapsed:.2f}s on {where}")
    summary = validation_summary(estimator)
    if summary is not None:
        click.echo(f"        {summary}")
    for split, metrics in scores.items():
        common.echo_metrics(split, metrics)
    if options["out"]:
        click.echo(f"model written to {options['out']}")


