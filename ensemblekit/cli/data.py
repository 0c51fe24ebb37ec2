"""Tables for the command line: reading, target checks, splitting, metrics.

Every problem with the user's data raises :class:`click.ClickException` with
one line that names the file or column and says what to do.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import numpy as np
import pandas as pd
from sklearn.base import is_classifier
from sklearn.compose import TransformedTargetRegressor
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    f1_score,
    log_loss,
    mean_absolute_error,
    mean_squared_error,
    r2_score,
)
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline

from ..metrics import expected_calibration_error, gaussian_nll

__all__ = [
    "MAX_AUTO_CLASSES",
    "MAX_MAGNITUDE",
    "TrainingTable",
    "check_column",
    "check_magnitudes",
    "classification_metrics",
    "drop_missing_target",
    "feature_columns",
    "final_estimator",
    "infer_task",
    "load_training_table",
    "prepare_features",
    "read_table",
    "regression_metrics",
    "score_file",
    "scores",
    "split",
    "split_kinds",
    "target_scale",
    "target_values",
    "uncertainty",
]

#: An integer target with at most this many distinct values is a classification target.
MAX_AUTO_CLASSES = 20

#: Largest magnitude a numeric column (or regression target) may hold: squaring it for
#: the standard deviation must not overflow float64 (about 1.8e308).
MAX_MAGNITUDE = 1e150


def check_magnitudes(values: pd.DataFrame, what: str = "column") -> None:
    """Refuse numeric columns with infinite values or values too large to scale.

    Parameters
    ----------
    values : pandas.DataFrame
        Numeric columns.
    what : str, default="column"
        What a column is called in the message (``"target column"``).

    Raises
    ------
    click.ClickException
        Naming the columns and their largest magnitude.
    """
    bad = []
    for name in values.columns:
        column = np.abs(values[name].to_numpy(dtype=np.float64, na_value=np.nan))
        largest = np.nanmax(column) if (~np.isnan(column)).any() else 0.0
        if largest > MAX_MAGNITUDE:
            bad.append((str(name), float(largest)))
    if bad:
        names = ", ".join(f"{name!r} (up to {largest:.3g})" for name, largest in bad[:5])
        more = f" and {len(bad) - 5} more" if len(bad) > 5 else ""
        what, verb = (f"{what}s", "hold") if len(bad) > 1 else (what, "holds")
        raise click.ClickException(
            f"{what} {names}{more} {verb} values too large to scale and train on in "
            f"float64 (limit {MAX_MAGNITUDE:.0e}); rescale it (e.g. divide by a power "
            "of ten or take a log)")


def read_table(path: str) -> pd.DataFrame:
    """Read a CSV (or Parquet) file, refusing missing, empty and unreadable files.

    Parameters
    ----------
    path : str
        The file; ``.parquet`` / ``.pq`` files are read as Parquet.

    Returns
    -------
    pandas.DataFrame
        At least one row.
    """
    file = Path(path)
    if not file.is_file():
        raise click.ClickException(f"data file not found: {path}")
    try:
        if file.suffix.lower() in (".parquet", ".pq"):
            frame = pd.read_parquet(file)
        else:
            frame = pd.read_csv(file)
    except pd.errors.EmptyDataError:
        raise click.ClickException(f"{path} is empty: expected a CSV file with a header "
                                   "row and data rows") from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError, ImportError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise click.ClickException(f"cannot read {path}: {first}") from None
    if frame.empty:
        raise click.ClickException(f"{path} has no data rows (only a header)")
    return frame


def _closest(name: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(name, choices, n=3, cutoff=0.5)
    if close:
        return "did you mean " + " or ".join(repr(c) for c in close) + "?"
    shown = ", ".join(repr(c) for c in choices[:12])
    return f"columns are {shown}{', ...' if len(choices) > 12 else ''}"


def check_column(frame: pd.DataFrame, column: str, source: str) -> None:
    """Raise a one-line error, with the closest names, if ``column`` is missing.

    Parameters
    ----------
    frame : pandas.DataFrame
        The table.
    column : str
        The column it must have.
    source : str
        The table's file, named in the error.
    """
    columns = [str(c) for c in frame.columns]
    if column not in columns:
        raise click.ClickException(
            f"target column {column!r} is not in {source}: {_closest(column, columns)}")


def infer_task(target: pd.Series) -> str:
    """Guess ``"classification"`` or ``"regression"`` from a target column.

    Non-numeric or boolean targets are class labels; numbers are a class
    label when they are all whole and take at most :data:`MAX_AUTO_CLASSES`
    distinct values, and a quantity otherwise.

    Parameters
    ----------
    target : pandas.Series
        The target column.

    Returns
    -------
    str
        ``"classification"`` or ``"regression"``.
    """
    values = target.dropna()
    if not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        return "classification"
    numbers = values.to_numpy(dtype=float)
    whole = bool(np.all(np.mod(numbers, 1) == 0))
    return ("classification" if whole and values.nunique() <= MAX_AUTO_CLASSES
            else "regression")


def target_values(frame: pd.DataFrame, column: str, task: str) -> np.ndarray:
    """Return the target column as labels or floats, checked for ``task``.

    Parameters
    ----------
    frame : pandas.DataFrame
        Rows with a non-missing target (see :func:`drop_missing_target`).
    column : str
        The target column.
    task : {"classification", "regression"}
        What the values must be.

    Returns
    -------
    numpy.ndarray
        Labels (strings as an object array) or float64 values.
    """
    target = frame[column]
    if task == "regression":
        if pd.api.types.is_bool_dtype(target) or not pd.api.types.is_numeric_dtype(target):
            example = target.iloc[0]
            raise click.ClickException(
                f"target column {column!r} is not numeric (e.g. {example!r}); a "
                "regression needs numbers: use --task classification for labels")
        return target.to_numpy(dtype=np.float64)
    if pd.api.types.is_numeric_dtype(target) and not pd.api.types.is_bool_dtype(target):
        numbers = target.to_numpy(dtype=np.float64)
        fractional = ~np.isfinite(numbers) | (np.mod(numbers, 1) != 0)
        if fractional.any():
            raise click.ClickException(
                f"target column {column!r} holds non-integer numbers (e.g. "
                f"{numbers[fractional][0]:.4g}); classification needs labels: use "
                "--task regression")
        return target.to_numpy()
    return target.astype(str).to_numpy(dtype=object)


def drop_missing_target(frame: pd.DataFrame, column: str) -> tuple[pd.DataFrame, int]:
    """Drop rows whose target is missing; return the rest and how many went.

    Parameters
    ----------
    frame : pandas.DataFrame
        The table.
    column : str
        The target column.

    Returns
    -------
    frame : pandas.DataFrame
        The rows with a target.
    dropped : int
        How many rows were dropped.
    """
    keep = frame[column].notna()
    if not keep.any():
        raise click.ClickException(f"target column {column!r} has no values")
    return frame[keep], int((~keep).sum())


def split_kinds(features: pd.DataFrame) -> tuple[list[str], list[str]]:
    """Split feature columns into numeric and categorical (anything else, bools too).

    Parameters
    ----------
    features : pandas.DataFrame
        The feature columns.

    Returns
    -------
    numeric, categorical : list of str
        The column names of each kind.
    """
    numeric, categorical = [], []
    for name in features.columns:
        column = features[name]
        if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
            numeric.append(str(name))
        else:
            categorical.append(str(name))
    return numeric, categorical


def prepare_features(frame: pd.DataFrame, numeric: list[str], categorical: list[str],
                     source: str) -> pd.DataFrame:
    """Select and normalise the feature columns, identically at fit and predict time.

    Numeric columns become float64 (missing values as NaN); categorical ones
    become objects holding strings (missing values as NaN), so a category
    reads the same whether pandas parsed the column as numbers or text.

    Parameters
    ----------
    frame : pandas.DataFrame
        The table read.
    numeric, categorical : list of str
        The feature columns of each kind.
    source : str
        The table's file, named in the errors.

    Returns
    -------
    pandas.DataFrame
        The feature columns, numeric ones first.

    Raises
    ------
    click.ClickException
        If columns are missing, or a numeric column holds text.
    """
    present = {str(c) for c in frame.columns}
    missing = [c for c in (*numeric, *categorical) if c not in present]
    if missing:
        raise click.ClickException(
            f"{source} lacks {len(missing)} column(s) the model needs: "
            f"{', '.join(repr(c) for c in missing[:10])}{', ...' if len(missing) > 10 else ''}")
    frame = frame.rename(columns=str)
    out = {}
    for name in numeric:
        column = frame[name]
        if pd.api.types.is_bool_dtype(column) or not pd.api.types.is_numeric_dtype(column):
            coerced = pd.to_numeric(column, errors="coerce")
            bad = column[coerced.isna() & column.notna()]
            if len(bad) or pd.api.types.is_bool_dtype(column):
                raise click.ClickException(
                    f"column {name!r} of {source} must be numeric (it was when the "
                    f"model was trained) but holds {bad.iloc[0] if len(bad) else column.iloc[0]!r}")
            column = coerced
        out[name] = column.to_numpy(dtype=np.float64, na_value=np.nan)
    for name in categorical:
        column = frame[name]
        values = np.full(len(column), np.nan, dtype=object)
        notna = column.notna().to_numpy()
        values[notna] = column[notna].astype(str).to_numpy(dtype=object)
        out[name] = values
    return pd.DataFrame(out, index=frame.index, columns=[*numeric, *categorical])


@dataclass
class TrainingTable:
    """DATA read for ``train`` and ``search``: features, target and what was found.

    Parameters
    ----------
    X : pandas.DataFrame
        Feature columns, numbers as floats and the rest as strings.
    y : numpy.ndarray
        Target values (labels or numbers).
    task : {"classification", "regression"}
        The task asked for, or inferred from the target.
    target : str
        The target column.
    source : str
        DATA's path, or ``"digits (bundled)"``.
    numeric, categorical : list of str
        Feature columns of each kind.
    n_rows : int
        Rows kept: those with a target.
    dropped : int
        Rows dropped because their target is missing.
    """

    X: pd.DataFrame
    y: np.ndarray
    task: str
    target: str
    source: str
    numeric: list[str]
    categorical: list[str]
    n_rows: int
    dropped: int


def load_training_table(data: str | None, target: str | None, task: str) -> TrainingTable:
    """Read DATA (default: the bundled digits) and check its target and features.

    Parameters
    ----------
    data : str or None
        A CSV or Parquet file; ``None`` is scikit-learn's digits.
    target : str or None
        The target column; ``None`` means a column called ``target``.
    task : {"auto", "classification", "regression"}
        ``auto`` infers it from the target (:func:`infer_task`).

    Returns
    -------
    TrainingTable
        The features, the target and what was read.

    Raises
    ------
    click.UsageError
        If no target is named and DATA has no ``target`` column.
    click.ClickException
        For a missing column, a classification target with one class, or no
        feature columns.
    """
    if data is None:
        from sklearn.datasets import load_digits

        frame, source = load_digits(as_frame=True).frame, "digits (bundled)"
    else:
        frame, source = read_table(data), data
    if target is None:
        if "target" not in frame.columns:
            raise click.UsageError("name the target column with --target (DATA has no "
                                   "column called 'target')")
        target = "target"
    check_column(frame, target, source)
    frame, dropped = drop_missing_target(frame, target)
    if task == "auto":
        task = infer_task(frame[target])
    y = target_values(frame, target, task)
    if task == "classification" and len(pd.unique(y)) < 2:
        raise click.ClickException(
            f"target column {target!r} has a single class ({y[0]!r}); a classifier "
            "needs at least two (use --task regression for a numeric target)")
    features = frame.drop(columns=[target])
    if features.shape[1] == 0:
        raise click.ClickException(f"{source} has no feature columns besides {target!r}")
    numeric, categorical = split_kinds(features)
    X = prepare_features(features, numeric, categorical, source)
    check_magnitudes(X[numeric])
    if task == "regression":
        check_magnitudes(pd.DataFrame({target: y}), "target column")
    return TrainingTable(X, y, task, target, source, numeric, categorical, len(frame),
                         dropped)


def feature_columns(model: Any, metadata: dict,
                    frame: pd.DataFrame) -> tuple[list[str], list[str]]:
    """The (numeric, categorical) columns a loaded model reads from ``frame``.

    A model trained by ``ensemblekit train`` records them; a model saved from
    Python reads the columns it was fitted on (``feature_names_in_``) as
    numbers, or, fitted on an unnamed array, every column of ``frame`` in
    order when their number matches.

    Parameters
    ----------
    model : estimator
        The loaded model.
    metadata : dict
        Its model file's metadata.
    frame : pandas.DataFrame
        The feature columns given.

    Returns
    -------
    numeric, categorical : list of str
        The columns of each kind the model reads.
    """
    if "numeric_columns" in metadata:
        return list(metadata["numeric_columns"]), list(metadata["categorical_columns"])
    names = getattr(model, "feature_names_in_", None)
    if names is not None:
        return [str(n) for n in names], []
    expected = getattr(model, "n_features_in_", None)
    if expected != frame.shape[1]:
        raise click.ClickException(
            f"the model was fitted on {expected} unnamed columns and the data has "
            f"{frame.shape[1]}; give it exactly the feature columns, in training order")
    return [str(c) for c in frame.columns], []


def final_estimator(model: Any) -> Any:
    """The network or ensemble at the end of a pipeline (or the model itself).

    A :class:`~sklearn.compose.TransformedTargetRegressor` (the standardised
    target of ``train --scale-target``) is looked through.

    Parameters
    ----------
    model : estimator
        A model, or a pipeline ending in one.

    Returns
    -------
    estimator
        The network or ensemble.
    """
    last = model[-1] if isinstance(model, Pipeline) else model
    if isinstance(last, TransformedTargetRegressor):
        return getattr(last, "regressor_", last.regressor)
    return last


def target_scale(model: Any) -> float:
    """Factor from the network's target units to the data's (1 when unscaled).

    Parameters
    ----------
    model : estimator
        A fitted model, or a pipeline ending in one.

    Returns
    -------
    float
        The standardised target's scale, or 1.
    """
    last = model[-1] if isinstance(model, Pipeline) else model
    if isinstance(last, TransformedTargetRegressor):
        return float(last.transformer_.scale_[0])
    return 1.0


def classification_metrics(y_true: np.ndarray, proba: np.ndarray,
                           classes: np.ndarray) -> dict[str, Any]:
    """Accuracy, macro F1, log-loss, ECE and the confusion matrix.

    Parameters
    ----------
    y_true : numpy.ndarray
        The true labels.
    proba : numpy.ndarray
        Predicted probabilities, one column per class.
    classes : numpy.ndarray
        The model's classes, in the columns' order.

    Returns
    -------
    dict
        ``n_samples``, the scores, ``labels`` and ``confusion_matrix`` (rows:
        true labels).
    """
    known = set(classes.tolist())
    unseen = sorted({str(v) for v in pd.unique(y_true) if v not in known})
    if unseen:
        raise click.ClickException(
            f"the target holds labels the model never saw: {', '.join(unseen[:10])}")
    pred = classes[proba.argmax(axis=1)]
    return {
        "n_samples": int(len(y_true)),
        "accuracy": float(accuracy_score(y_true, pred)),
        "f1_macro": float(f1_score(y_true, pred, average="macro", labels=classes,
                                   zero_division=0)),
        "log_loss": float(log_loss(y_true, proba, labels=classes)),
        "ece": float(expected_calibration_error(y_true, proba, labels=classes)),
        "labels": [_plain(c) for c in classes],
        "confusion_matrix": confusion_matrix(y_true, pred, labels=classes).tolist(),
    }


def regression_metrics(y_true: np.ndarray, pred: np.ndarray,
                       std: np.ndarray | None = None) -> dict[str, Any]:
    """R², RMSE and MAE; with a predictive ``std`` also the Gaussian NLL.

    Parameters
    ----------
    y_true : numpy.ndarray
        The true values.
    pred : numpy.ndarray
        The predictions.
    std : numpy.ndarray or None, default=None
        Predicted standard deviations (an ensemble's spread).

    Returns
    -------
    dict
        ``n_samples``, ``r2``, ``rmse``, ``mae`` and maybe ``nll``.
    """
    metrics = {
        "n_samples": int(len(y_true)),
        "r2": float(r2_score(y_true, pred)),
        "rmse": float(np.sqrt(mean_squared_error(y_true, pred))),
        "mae": float(mean_absolute_error(y_true, pred)),
    }
    if std is not None:
        metrics["nll"] = float(gaussian_nll(y_true, pred, std))
    return metrics


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def split(X: pd.DataFrame, y: np.ndarray, task: str, test_size: float,
          random_state: int) -> tuple:
    """Hold out ``test_size`` of the rows (stratified for classes when possible).

    Parameters
    ----------
    X : pandas.DataFrame
        The features.
    y : numpy.ndarray
        The target.
    task : {"classification", "regression"}
        Classes are stratified when each has at least two rows.
    test_size : float
        Share of rows held out; 0 holds out none.
    random_state : int
        Seed of the split.

    Returns
    -------
    tuple
        ``X_train, X_test, y_train, y_test`` (the test parts None for 0).
    """
    if test_size == 0:
        return X, None, y, None
    stratify = None
    if task == "classification":
        _, counts = np.unique(y.astype(str), return_counts=True)
        stratify = y if counts.min() >= 2 else None
    try:
        return train_test_split(X, y, test_size=test_size, random_state=random_state,
                                stratify=stratify)
    except ValueError as exc:
        raise click.ClickException(f"cannot hold out --test-size {test_size} of "
                                   f"{len(y)} rows: {exc}") from None


def uncertainty(model: Any, X: pd.DataFrame) -> dict[str, np.ndarray]:
    """The ensemble's per-row uncertainty columns (``model`` may be a pipeline).

    Parameters
    ----------
    model : estimator
        A fitted ensemble, or a pipeline ending in one.
    X : pandas.DataFrame
        The features.

    Returns
    -------
    dict of str to numpy.ndarray
        ``std`` (in the target's units) for a regressor; the entropy terms and
        ``disagreement`` for a classifier.
    """
    estimator = final_estimator(model)
    features = model[:-1].transform(X) if estimator is not model else X
    if hasattr(estimator, "predict_uncertainty"):
        found = estimator.predict_uncertainty(features)
        return {k: found[k] for k in ("predictive_entropy", "expected_entropy",
                                      "mutual_information", "disagreement")}
    std = estimator.predict(features, return_std=True)[1]
    return {"std": std * target_scale(model)}


def scores(model: Any, X: pd.DataFrame, y: np.ndarray, task: str) -> dict[str, Any]:
    """Score a fitted model on ``X``, ``y``.

    Parameters
    ----------
    model : estimator
        A fitted network, ensemble or pipeline.
    X : pandas.DataFrame
        The features.
    y : numpy.ndarray
        The target.
    task : {"classification", "regression"}
        Which metrics.

    Returns
    -------
    dict
        :func:`classification_metrics` or :func:`regression_metrics` (with
        the Gaussian NLL for an ensemble regressor).
    """
    if task == "classification":
        return classification_metrics(y, model.predict_proba(X),
                                      final_estimator(model).classes_)
    estimator = final_estimator(model)
    if hasattr(estimator, "estimators_") and len(estimator.estimators_) > 1:
        mean = model.predict(X)
        return regression_metrics(y, mean, uncertainty(model, X)["std"])
    return regression_metrics(y, model.predict(X))


def score_file(model: Any, metadata: dict, data: str, target: str | None) -> dict[str, Any]:
    """Score a loaded model on the CSV (or Parquet) file ``data``.

    Parameters
    ----------
    model : estimator
        A loaded model.
    metadata : dict
        Its model file's metadata (the target and feature columns of ``train``).
    data : str
        The file, with the target column.
    target : str or None
        The target column; None means the one trained on.

    Returns
    -------
    dict
        See :func:`scores`.
    """
    target = target or metadata.get("target")
    if target is None:
        raise click.UsageError("name the target column with --target")
    frame = read_table(data)
    check_column(frame, target, data)
    frame, _ = drop_missing_target(frame, target)
    numeric, categorical = feature_columns(model, metadata, frame.drop(columns=[target]))
    X = prepare_features(frame, numeric, categorical, data)
    task = "classification" if is_classifier(final_estimator(model)) else "regression"
    return scores(model, X, target_values(frame, target, task), task)
