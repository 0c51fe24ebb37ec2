"""``ensemblekit predict`` and ``ensemblekit evaluate``: use a trained model on a CSV file."""

from __future__ import annotations

import json
from typing import Any

import click
import numpy as np
import pandas as pd

from . import common
from . import data as data_

__all__ = ["evaluate", "predict"]


def _features_for(model: Any, metadata: dict, path: str) -> pd.DataFrame:
    frame = data_.read_table(path)
    numeric, categorical = data_.feature_columns(model, metadata, frame)
    return data_.prepare_features(frame, numeric, categorical, path)


@click.command()
@click.argument("model_file", metavar="MODEL")
@click.argument("data", metavar="DATA")
@click.option("--out", "-o", type=click.Path(dir_okay=False),
              help="Write the predictions to this CSV file instead of stdout.")
@click.option("--proba", is_flag=True, help="Add one probability column per class.")
@click.option("--uncertainty", is_flag=True,
              help="Add the ensemble's uncertainty: 'std' for regressors; "
                   "'predictive_entropy', 'expected_entropy', 'mutual_information' "
                   "and 'disagreement' for classifiers.")
def predict(model_file: str, data: str, out: str | None, proba: bool,
            uncertainty: bool) -> None:
    """Predict every row of DATA (CSV) with MODEL; print CSV.

    The output has one row per input row, in order, and a column named after
    the target (or 'prediction'); with --proba also 'proba_<class>' columns,
    with --uncertainty the ensemble's uncertainty columns.
    """
    common.check_out(out, "--out", data, model_file)
    model, metadata = common.load_model(model_file)
    estimator = data_.final_estimator(model)
    if proba and not hasattr(estimator, "predict_proba"):
        raise click.UsageError("--proba needs a classifier; this model is a regressor")
    if uncertainty and not hasattr(estimator, "estimators_"):
        raise click.UsageError("--uncertainty needs an ensemble; this model is a single "
                               "network (train with --n-estimators N, N > 1)")
    X = _features_for(model, metadata, data)
    result = pd.DataFrame({metadata.get("target", "prediction"): model.predict(X)})
    if proba:
        for label, column in zip(estimator.classes_, model.predict_proba(X).T):
            result[f"proba_{label}"] = column
    if uncertainty:
        for name, column in data_.uncertainty(model, X).items():
            result[name] = column
    # float32 printed by its shortest repr reads back as another float64; widened
    # first, every value in the CSV reads back exactly as the model computed it
    result = result.astype({c: np.float64 for c in result.columns
                            if result[c].dtype == np.float32})
    common.write_text(result.to_csv(index=False), out)


@click.command()
@click.argument("model_file", metavar="MODEL")
@click.argument("data", metavar="DATA")
@click.option("--target", "-t", help="Target column (default: the one trained on).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def evaluate(model_file: str, data: str, target: str | None, as_json: bool) -> None:
    """Score MODEL on DATA (CSV with the target column).

    Classifiers: accuracy, f1_macro, log_loss, ece (15-bin expected
    calibration error) and the confusion matrix (rows: true labels).
    Regressors: r2, rmse, mae, and for ensembles nll (mean Gaussian negative
    log-likelihood with the members' spread as the standard deviation).
    """
    model, metadata = common.load_model(model_file)
    metrics = data_.score_file(model, metadata, data, target)
    if as_json:
        click.echo(json.dumps(metrics))
        return
    for key, value in metrics.items():
        if key in common.LABEL or key == "n_samples":
            click.echo(f"{common.LABEL.get(key, 'rows')}: {value:.6g}")
    if "confusion_matrix" in metrics:
        click.echo("confusion matrix (rows: true, columns: predicted):")
        click.echo(pd.DataFrame(metrics["confusion_matrix"], index=metrics["labels"],
                                columns=metrics["labels"]).to_string())
