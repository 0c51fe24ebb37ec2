"""``ensemblekit predict`` and ``ensemblekit evaluate``: use a trained model on a CSV file."""

from __future__ import annotations

import json

import click
import pandas as pd

from . import common
from . import data as data_

__all__ = ["evaluate", "predict"]


@click.command()
@click.argument("model_file", metavar="MODEL")
@click.argument("data", metavar="DATA")
@click.option("--out", "-o", type=click.Path(dir_okay=False),
              help="Write the predictions to this file instead of stdout (CSV); its "
                   "extension chooses the format: .csv, .tsv, .parquet, .feather, .jsonl.")
@click.option("--proba", is_flag=True, help="Add one probability column per class.")
@click.option("--uncertainty", is_flag=True,
              help="Add the ensemble's uncertainty: 'std' for regressors; "
                   "'predictive_entropy', 'expected_entropy', 'mutual_information' "
                   "and 'disagreement' for classifiers.")
@common.with_sep
def predict(model_file: str, data: str, out: str | None, proba: bool,
            uncertainty: bool, sep: str | None) -> None:
    """Predict every row of DATA (CSV) with MODEL; print CSV.

    The output has one row per input row, in order: the --id column the model
    was trained with (when DATA has it), a column named after the target (or
    'prediction'); with --proba also 'proba_<class>' columns, with
    --uncertainty the ensemble's uncertainty columns.
    """
    common.check_out(out, "--out", data, model_file)
    if out is not None:
        data_.table_format(out, writing=True)
    model, metadata = common.load_model(model_file)
    estimator = data_.final_estimator(model)
    if proba and not hasattr(estimator, "predict_proba"):
        raise click.UsageError("--proba needs a classifier; this model is a regressor")
    if uncertainty and not hasattr(estimator, "estimators_"):
        raise click.UsageError("--uncertainty needs an ensemble; this model is a single "
                               "network (train with --n-estimators N, N > 1)")
    frame = data_.read_table(data, sep)
    X = data_.model_input(model, metadata, frame, data)
    result = pd.DataFrame(index=range(len(frame)))
    id_column = metadata.get("id_column")
    if id_column and id_column in frame.columns:
        result[id_column] = frame[id_column].to_numpy()
    with data_.schema_messages(data), data_.scaled_input_errors(model, X, data):
        result[metadata.get("target", "prediction")] = model.predict(X)
        if proba:
            for label, column in zip(estimator.classes_, model.predict_proba(X).T):
                result[f"proba_{label}"] = column
        if uncertainty:
            for name, column in data_.uncertainty(model, X).items():
                result[name] = column
    # written at the model's precision: a float32 value by the shortest decimal that
    # reads back (as float32) to the same float32, a float64 value by its own
    data_.write_table(result, out)


@click.command()
@click.argument("model_file", metavar="MODEL")
@click.argument("data", metavar="DATA")
@click.option("--target", "-t", help="Target column (default: the one trained on).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("--importance", is_flag=True,
              help="Add each input column's permutation importance: the drop of the "
                   "score (accuracy, or R²) when the column is shuffled (seeded by the "
                   "model's random state).")
@common.with_sep
def evaluate(model_file: str, data: str, target: str | None, as_json: bool,
             importance: bool, sep: str | None) -> None:
    """Score MODEL on DATA (CSV with the target column).

    Classifiers: accuracy, f1_macro, log_loss, ece (15-bin expected
    calibration error), precision, recall, F1 and support per class, and the
    confusion matrix (rows: true labels).
    Regressors: r2, rmse, mae, and for ensembles nll (mean Gaussian negative
    log-likelihood with the members' spread as the standard deviation).
    With --importance, the permutation importance of every input column.
    """
    model, metadata = common.load_model(model_file)
    scored = data_.scoring_table(model, metadata, data, target, sep)
    with data_.schema_messages(data), data_.scaled_input_errors(model, scored.X, data):
        metrics = data_.score_table(model, scored)
        if importance:
            metrics["importance"] = data_.importance(model, scored)
    if as_json:
        click.echo(json.dumps(metrics))
        return
    for key, value in metrics.items():
        if key in common.LABEL or key == "n_samples":
            click.echo(f"{common.LABEL.get(key, 'rows')}: {value:.6g}")
    if "per_class" in metrics:
        click.echo("per class:")
        table = pd.DataFrame(metrics["per_class"]).T
        click.echo(table.to_string(formatters={
            "precision": "{:.4f}".format, "recall": "{:.4f}".format,
            "f1": "{:.4f}".format, "support": "{:.0f}".format}))
    if "confusion_matrix" in metrics:
        click.echo("confusion matrix (rows: true, columns: predicted):")
        click.echo(pd.DataFrame(metrics["confusion_matrix"], index=metrics["labels"],
                                columns=metrics["labels"]).to_string())
    if importance:
        score = "accuracy" if scored.task == "classification" else "R²"
        click.echo(f"permutation importance (drop of {score} when the column is "
                   "shuffled):")
        click.echo(pd.DataFrame(metrics["importance"]).T.to_string(
            float_format="{:.4f}".format))
