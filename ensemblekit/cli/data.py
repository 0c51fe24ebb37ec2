"""Tables for the command line: reading, target checks, splitting, metrics.

Every problem with the user's data raises :class:`click.ClickException` with
one line that names the file or column and says what to do.
"""

from __future__ import annotations

import csv
import difflib
import importlib.util
import io
import json
import re
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click
import numpy as np
import pandas as pd
from sklearn.base import is_classifier
from sklearn.compose import TransformedTargetRegressor
from sklearn.inspection import permutation_importance
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    f1_score,
    log_loss,
    mean_absolute_error,
    mean_squared_error,
    precision_recall_fscore_support,
    r2_score,
)
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline

from ..io import atomic_write
from ..metrics import expected_calibration_error, gaussian_nll
from ..schema import ColumnSchema, SchemaError, SchemaWarning, check_unique_names

__all__ = [
    "MAX_AUTO_CLASSES",
    "IMPORTANCE_REPEATS",
    "MAX_MAGNITUDE",
    "ScoringTable",
    "TrainingTable",
    "check_column",
    "check_magnitudes",
    "classification_metrics",
    "drop_missing_target",
    "FORMATS",
    "feature_columns",
    "final_estimator",
    "importance",
    "infer_task",
    "load_training_table",
    "model_input",
    "parse_sep",
    "read_table",
    "regression_metrics",
    "schema_messages",
    "scaled_input_errors",
    "score_table",
    "scores",
    "scoring_table",
    "split",
    "table_format",
    "target_scale",
    "target_values",
    "uncertainty",
    "write_table",
]

#: An integer target with at most this many distinct values is a classification target.
MAX_AUTO_CLASSES = 20

#: Largest magnitude a numeric column (or regression target) may hold: squaring it for
#: the standard deviation must not overflow float64 (about 1.8e308).
MAX_MAGNITUDE = 1e150


def check_magnitudes(values: pd.DataFrame, what: str = "column", action: str = "train on",
                     source: str | None = None) -> None:
    """Refuse numeric columns with infinite values or values too large to scale.

    Parameters
    ----------
    values : pandas.DataFrame
        Numeric columns.
    what : str, default="column"
        What a column is called in the message (``"target column"``).
    action : str, default="train on"
        What the values were for, in the message (``"predict with"``).
    source : str or None, default=None
        The file the values came from, named first in the message.

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
            f"{source + ': ' if source else ''}{what} {names}{more} {verb} values too large "
            f"to scale and {action} in float64 (limit {MAX_MAGNITUDE:.0e}); rescale it "
            "(e.g. divide by a power of ten or take a log)")


#: Table formats by file extension (``ensemblekit`` reads and writes these).
FORMATS: dict[str, str] = {
    ".csv": "CSV", ".txt": "CSV", ".tsv": "TSV", ".tab": "TSV", ".parquet": "Parquet",
    ".pq": "Parquet", ".feather": "Feather", ".arrow": "Feather", ".jsonl": "JSON lines",
    ".ndjson": "JSON lines"}

#: Leading bytes of the binary formats, to read them whatever their extension.
_MAGIC = {b"PAR1": "Parquet", b"ARROW1": "Feather"}

_SEPARATORS = {";": "semicolon", "\t": "tab", "|": "pipe", ",": "comma"}


def parse_sep(text: str | None) -> str | None:
    """The one-character column separator of ``--sep`` (``tab`` or ``\\t`` for a tab).

    Parameters
    ----------
    text : str or None
        What was given (None: the format's own, ``,`` or a tab).

    Returns
    -------
    str or None
        The separator.

    Raises
    ------
    click.BadParameter
        For anything but one character.
    """
    if text is None:
        return None
    sep = {"tab": "\t", "\\t": "\t"}.get(text.lower(), text)
    if len(sep) != 1:
        raise click.BadParameter(f"expected one character (or 'tab'), got {text!r}",
                                 param_hint="--sep")
    return sep


def table_format(path: str, writing: bool = False) -> str:
    """The format of a table file: by its extension, else (reading) its first bytes.

    Parameters
    ----------
    path : str
        The file.
    writing : bool, default=False
        Whether it is to be written: an unknown extension is refused then; a file
        read with one is CSV unless it starts like Parquet or Feather.

    Returns
    -------
    str
        A value of :data:`FORMATS`.

    Raises
    ------
    click.BadParameter
        When writing to a file whose extension is not in :data:`FORMATS`.
    """
    found = FORMATS.get(Path(path).suffix.lower())
    if found is not None:
        return found
    if writing:
        raise click.BadParameter(
            f"cannot tell the format of {path} from its extension; use one of "
            f"{', '.join(FORMATS)}", param_hint="--out")
    with open(path, "rb") as fh:
        start = fh.read(6)
    return next((fmt for magic, fmt in _MAGIC.items() if start.startswith(magic)), "CSV")


def _needs_pyarrow(fmt: str, path: str) -> None:
    if importlib.util.find_spec("pyarrow") is None:  # pandas' engine for both
        raise click.ClickException(
            f"{path}: {fmt} files need pyarrow (pip install pyarrow), or use a .csv "
            "file")


@contextmanager
def schema_messages(source: str, quiet: bool = False) -> Iterator[None]:
    """Report what the column schema says of the table read from ``source``.

    A :class:`~ensemblekit.schema.SchemaError` becomes one line naming
    ``source``; a :class:`~ensemblekit.schema.SchemaWarning` (categories the
    training table lacked) one line on stderr, ``warning: SOURCE: ...``, once
    however often the block repeats it.  Other warnings pass through.

    Parameters
    ----------
    source : str
        The file the table came from.
    quiet : bool, default=False
        Drop the schema's warnings (``--quiet``).

    Yields
    ------
    None
        The block whose errors become :class:`click.ClickException`.
    """
    caught: list[warnings.WarningMessage] = []
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", SchemaWarning)
            yield
    except SchemaError as exc:
        raise click.ClickException(f"{source}: {exc}") from None
    finally:
        _warn_again([w for w in caught if not issubclass(w.category, SchemaWarning)])
        for message in dict.fromkeys(str(w.message) for w in caught if not quiet
                                     and issubclass(w.category, SchemaWarning)):
            click.echo(f"warning: {source}: {message}", err=True)


def _warn_again(caught: list[warnings.WarningMessage]) -> None:
    """Issue recorded warnings again, where they were first raised, to the filters outside."""
    for w in caught:
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)


def _header(file: Path, sep: str) -> list[str]:
    with open(file, newline="", encoding="utf-8") as fh:
        return next(csv.reader(fh, delimiter=sep), [])


def read_table(path: str, sep: str | None = None) -> pd.DataFrame:
    """Read a table file by its format, refusing missing, empty, unreadable files.

    Parameters
    ----------
    path : str
        The file (see :func:`table_format`).
    sep : str or None, default=None
        The column separator of a CSV (``,``) or TSV (a tab) file.

    Returns
    -------
    pandas.DataFrame
        At least one row, every column name once.

    Raises
    ------
    click.ClickException
        For a missing, empty or unreadable file, columns named twice (pandas
        would rename the copy ``NAME.1``), or a file of one column whose name
        holds another separator (``a;b;c`` read with ``,``).
    """
    file = Path(path)
    if not file.is_file():
        raise click.ClickException(f"data file not found: {path}")
    fmt = table_format(path)
    try:
        if fmt in ("CSV", "TSV"):
            delimiter = sep or ("\t" if fmt == "TSV" else ",")
            header = _header(file, delimiter)
            with schema_messages(path):
                check_unique_names(header, "the header")
            frame = pd.read_csv(file, sep=delimiter)
            other = next((s for s in _SEPARATORS if s != delimiter and s in header[0]), None)
            if sep is None and frame.shape[1] == 1 and other:
                raise click.ClickException(
                    f"{path} has a single column {header[0][:60]!r}: it looks "
                    f"{_SEPARATORS[other]}-separated; give --sep '{other}'")
        elif fmt == "JSON lines":
            frame = pd.read_json(file, lines=True)
        else:
            _needs_pyarrow(fmt, path)
            frame = pd.read_parquet(file) if fmt == "Parquet" else pd.read_feather(file)
    except pd.errors.EmptyDataError:
        raise click.ClickException(f"{path} is empty: expected a CSV file with a header "
                                   "row and data rows") from None
    except UnicodeDecodeError:
        raise click.ClickException(
            f"cannot read {path}: it is not UTF-8 text; save it as UTF-8 CSV or give it "
            f"the extension of its format ({', '.join(FORMATS)})") from None
    except (pd.errors.ParserError, ValueError, ImportError, OSError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise click.ClickException(f"cannot read {path}: {first}") from None
    if frame.empty:
        raise click.ClickException(f"{path} has no data rows (only a header)")
    with schema_messages(path):
        check_unique_names(frame.columns, "the table")
    return frame


def write_table(frame: pd.DataFrame, out: str | None) -> None:
    """Print ``frame`` as CSV, or write it to ``out`` in the format of its extension.

    Parameters
    ----------
    frame : pandas.DataFrame
        The table.
    out : str or None
        The file (CSV, TSV, Parquet, Feather or JSON lines, see :data:`FORMATS`);
        None prints CSV to stdout.  Written atomically.
    """
    if out is None:
        click.echo(frame.to_csv(index=False), nl=False)
        return
    fmt = table_format(out, writing=True)
    if fmt in ("CSV", "TSV"):
        data = frame.to_csv(index=False, sep="," if fmt == "CSV" else "\t").encode()
    elif fmt == "JSON lines":
        data = _json_lines(frame).encode()
    else:
        _needs_pyarrow(fmt, out)
        buffer = io.BytesIO()
        if fmt == "Parquet":
            frame.to_parquet(buffer, index=False)
        else:
            frame.reset_index(drop=True).to_feather(buffer)
        data = buffer.getvalue()
    with atomic_write(out) as fh:
        fh.write(data)


def _json_lines(frame: pd.DataFrame) -> str:
    """``frame`` as JSON lines, every number at its own precision.

    pandas' ``to_json`` keeps at most 15 significant digits (a float64 may
    need 17) and writes a float32 as the float64 it widens to.  Here a
    float32 is written by the shortest decimal that reads back to it as
    float32, a float64 by the shortest that reads back to it as float64
    (Python's ``repr``), a missing value as ``null``.
    """
    table = pd.DataFrame({c: [float(str(v)) for v in frame[c].to_numpy()]
                          if frame[c].dtype == np.float32 else frame[c]
                          for c in frame.columns}, index=frame.index).astype(object)
    records = table.where(table.notna(), None).to_dict(orient="records")
    return "".join(json.dumps(record, default=str) + "\n" for record in records)


def _closest(name: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(name, choices, n=3, cutoff=0.5)
    if close:
        return "did you mean " + " or ".join(repr(c) for c in close) + "?"
    shown = ", ".join(repr(c) for c in choices[:12])
    return f"columns are {shown}{', ...' if len(choices) > 12 else ''}"


def check_column(frame: pd.DataFrame, column: str, source: str,
                 what: str = "target column") -> None:
    """Raise a one-line error, with the closest names, if ``column`` is missing.

    Parameters
    ----------
    frame : pandas.DataFrame
        The table.
    column : str
        The column it must have.
    source : str
        The table's file, named in the error.
    what : str, default="target column"
        What the column is, in the error (``"--id column"``).
    """
    columns = [str(c) for c in frame.columns]
    if column not in columns:
        raise click.ClickException(
            f"{what} {column!r} is not in {source}: {_closest(column, columns)}")


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


@dataclass
class TrainingTable:
    """DATA read for ``train`` and ``search``: features, target and what was found.

    Parameters
    ----------
    X : pandas.DataFrame
        Feature columns as read (the model's :class:`~ensemblekit.schema.ColumnSchema`
        normalises them).
    y : numpy.ndarray
        Target values (labels or numbers).
    task : {"classification", "regression"}
        The task asked for, or inferred from the target.
    target : str
        The target column.
    source : str
        DATA's path, or ``"digits (bundled)"``.
    numeric, categorical : list of str
        Feature columns of each kind (categorical: boolean, category or text).
    n_rows : int
        Rows kept: those with a target.
    dropped : int
        Rows dropped because their target is missing.
    notes : list of str
        Warnings about the data, to print before training.
    ids : pandas.Series or None
        The ``--id`` column, when one was named.
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
    notes: list[str] = field(default_factory=list)
    ids: pd.Series | None = None


def _names(columns: list[str]) -> str:
    return ", ".join(repr(c) for c in columns[:10]) + (", ..." if len(columns) > 10 else "")


def _looks_like_id(name: str, column: pd.Series) -> bool:
    """An ``id``-named column whose values are all different."""
    named = re.search(r"(^|[^a-z])id$|^id[^a-z]|identifier|uuid", name.lower()) or (
        name.endswith("Id") or name.endswith("ID"))
    return bool(named) and len(column) > 1 and column.nunique(dropna=False) == len(column)


def _schema_of(features: pd.DataFrame, source: str,
               notes: list[str]) -> tuple[list[str], list[str]]:
    """Infer the feature columns' kinds; warnings (huge integers) go to ``notes``."""
    with schema_messages(source), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        schema = ColumnSchema().fit(features)
        check_magnitudes(schema.transform(features)[schema.split_columns()[0]])
    notes.extend(f"{source}: {w.message}" for w in caught)
    return schema.split_columns()


def load_training_table(data: str | None, target: str | None, task: str,
                        sep: str | None = None, drop: tuple[str, ...] = (),
                        id_column: str | None = None) -> TrainingTable:
    """Read DATA (default: the bundled digits) and check its target and features.

    Parameters
    ----------
    data : str or None
        A table file (:func:`read_table`); ``None`` is scikit-learn's digits.
    target : str or None
        The target column; ``None`` means a column called ``target``.
    task : {"auto", "classification", "regression"}
        ``auto`` infers it from the target (:func:`infer_task`).
    sep : str or None, default=None
        The column separator of a CSV file.
    drop : tuple of str, default=()
        Columns that are not features (``--drop``).
    id_column : str or None, default=None
        A row identifier: not a feature, carried into ``predict``'s output.

    Returns
    -------
    TrainingTable
        The features, the target and what was read.

    Raises
    ------
    click.UsageError
        If no target is named and DATA has no ``target`` column.
    click.ClickException
        For a missing column, a classification target with one class, no
        feature columns, or feature columns that are all empty.
    """
    if data is None:
        from sklearn.datasets import load_digits

        frame, source = load_digits(as_frame=True).frame, "digits (bundled)"
    else:
        frame, source = read_table(data, sep), data
    if target is None:
        if "target" not in frame.columns:
            raise click.UsageError("name the target column with --target (DATA has no "
                                   "column called 'target')")
        target = "target"
    check_column(frame, target, source)
    for option, names in (("--drop", drop), ("--id", (id_column,) if id_column else ())):
        for name in names:
            check_column(frame, name, source, f"{option} column")
    frame, dropped = drop_missing_target(frame, target)
    if task == "auto":
        task = infer_task(frame[target])
    y = target_values(frame, target, task)
    if task == "classification" and len(pd.unique(y)) < 2:
        raise click.ClickException(
            f"target column {target!r} has a single class ({y[0]!r}); a classifier "
            "needs at least two (use --task regression for a numeric target)")
    excluded = [target, *drop, *([id_column] if id_column else [])]
    features = frame.drop(columns=list(dict.fromkeys(excluded)))
    if features.shape[1] == 0:
        raise click.ClickException(f"{source} has no feature columns besides "
                                   f"{_names(excluded)}")
    notes: list[str] = []
    empty = [str(c) for c in features.columns if features[c].isna().all()]
    if len(empty) == features.shape[1]:
        raise click.ClickException(
            f"{source}: every feature column is empty ({_names(empty)}); nothing to "
            "learn from")
    if empty:
        notes.append(f"{source}: column(s) {_names(empty)} have no values; not used as "
                     "features")
        features = features.drop(columns=empty)
    notes.extend(
        f"{source}: column {str(c)!r} looks like an identifier (all {len(features)} "
        f"values differ); give --id {c} (carried into predict's output) or --drop {c}"
        for c in features.columns if _looks_like_id(str(c), features[c]))
    numeric, categorical = _schema_of(features, source, notes)
    if task == "regression":
        check_magnitudes(pd.DataFrame({target: y}), "target column")
    return TrainingTable(features, y, task, target, source, numeric, categorical,
                         len(frame), dropped, notes,
                         frame[id_column] if id_column else None)


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


def model_input(model: Any, metadata: dict, frame: pd.DataFrame,
                source: str) -> pd.DataFrame:
    """What to give ``model``'s predict for the table ``frame`` read from ``source``.

    A pipeline starting with a :class:`~ensemblekit.schema.ColumnSchema` (every
    model ``train`` writes) takes the table as read, exactly as from Python;
    for another model the columns of :func:`feature_columns` are normalised by
    a schema of those columns.  Numeric columns holding infinite values or
    values too large to scale are refused, as in training
    (:func:`check_magnitudes`).

    Parameters
    ----------
    model : estimator
        The loaded model.
    metadata : dict
        Its model file's metadata.
    frame : pandas.DataFrame
        The table (other columns are ignored).
    source : str
        The table's file, named in errors.

    Returns
    -------
    pandas.DataFrame
        The table, or its normalised feature columns.
    """
    if isinstance(model, Pipeline) and isinstance(model[0], ColumnSchema):
        schema = model[0]
        numeric = [c for c in schema.columns_ if schema.kinds_[c] == "numeric"
                   and c in frame.columns]
        # values the schema will not take are named by it; here the numbers it would pass
        check_magnitudes(frame[numeric].apply(
            lambda column: column if pd.api.types.is_numeric_dtype(column.dtype)
            else pd.to_numeric(column.astype(object), errors="coerce")),
            action="predict with", source=source)
        return frame
    numeric, categorical = feature_columns(model, metadata, frame)
    with schema_messages(source):
        table = ColumnSchema(numeric, categorical).fit_transform(frame)
    check_magnitudes(table[numeric], action="predict with", source=source)
    return table


#: The start of scikit-learn's error for values a network's dtype cannot hold.
_OVERFLOW = "Input X contains infinity or a value too large for dtype"


@contextmanager
def scaled_input_errors(model: Any, X: Any, source: str) -> Iterator[None]:
    """Name the columns when the model's scaling leaves values beyond its network's dtype.

    A float32 network cannot take 1e60, however it is scaled, though float64
    scales it; scikit-learn then says "Input X contains infinity or a value
    too large for dtype('float32')" after numpy's overflow warning.  Only when
    that error comes, ``X`` is transformed once more to name the columns, and
    the overflow warning is dropped; any other warning of the block is shown.

    Parameters
    ----------
    model : estimator
        The loaded model; a :class:`~sklearn.pipeline.Pipeline` whose
        preprocessing has feature names is diagnosed.
    X : pandas.DataFrame
        What its predictions are made from.
    source : str
        The file ``X`` came from, named first.

    Yields
    ------
    None
        The block that predicts.

    Raises
    ------
    click.ClickException
        Naming the columns and their largest scaled magnitude.
    """
    caught: list[warnings.WarningMessage] = []
    named: click.ClickException | None = None
    try:
        with warnings.catch_warnings(record=True) as caught:
            yield
    except ValueError as exc:
        named = _overflowing_columns(model, X, source) if _OVERFLOW in str(exc) else None
        if named is None:
            raise
    finally:  # the block's warnings, but numpy's overflow when the columns are named
        _warn_again([w for w in caught if named is None or not (
            issubclass(w.category, RuntimeWarning)
            and "overflow encountered in cast" in str(w.message))])
    if named is not None:
        raise named


def _overflowing_columns(model: Any, X: Any, source: str) -> click.ClickException | None:
    """The error naming the columns ``model`` scales beyond its network's dtype, if any."""
    if not isinstance(model, Pipeline) or not hasattr(model[:-1], "get_feature_names_out"):
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SchemaWarning)  # reported by the predict block
        features = model[:-1].transform(X)
    estimator = final_estimator(model)
    network = estimator.estimators_[0] if hasattr(estimator, "estimators_") else estimator
    coefs = getattr(network, "coefs_", None)
    dtype = coefs[0].dtype if coefs else np.dtype(np.float64)
    limit = float(np.finfo(dtype).max)
    largest = np.asarray(abs(features).max(axis=0), dtype=np.float64).ravel()
    bad = [(str(name).split("__", 1)[-1], value) for name, value
           in zip(model[:-1].get_feature_names_out(), largest) if not value <= limit]
    if not bad:
        return None
    shown = ", ".join(f"{name!r} (up to {value:.3g} once scaled)" for name, value in bad[:5])
    return click.ClickException(
        f"{source}: column(s) {shown}{' and more' if len(bad) > 5 else ''} hold values "
        f"too large for the model's {dtype} (largest {limit:.3g}); rescale them, or "
        "train the model with --dtype float64")


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
    """Accuracy, macro F1, log-loss, ECE, per-class scores and the confusion matrix.

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
        ``n_samples``, the scores, ``labels``, ``per_class`` (precision,
        recall, F1 and support of each label, as scikit-learn's
        ``classification_report``) and ``confusion_matrix`` (rows: true labels).
    """
    known = set(classes.tolist())
    unseen = sorted({str(v) for v in pd.unique(y_true) if v not in known})
    if unseen:
        raise click.ClickException(
            f"the target holds labels the model never saw: {', '.join(unseen[:10])}")
    pred = classes[proba.argmax(axis=1)]
    per_class = precision_recall_fscore_support(y_true, pred, labels=classes,
                                                zero_division=0)
    return {
        "n_samples": int(len(y_true)),
        "accuracy": float(accuracy_score(y_true, pred)),
        "f1_macro": float(f1_score(y_true, pred, average="macro", labels=classes,
                                   zero_division=0)),
        "log_loss": float(log_loss(y_true, proba, labels=classes)),
        "ece": float(expected_calibration_error(y_true, proba, labels=classes)),
        "labels": [_plain(c) for c in classes],
        "per_class": {str(label): {"precision": float(p), "recall": float(r), "f1": float(f),
                                   "support": int(n)}
                      for label, p, r, f, n in zip(classes, *per_class)},
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
          random_state: int, notes: list[str] | None = None) -> tuple:
    """Hold out ``test_size`` of the rows, stratified by class for a classification.

    A class with a single row cannot be stratified: its row is kept in the
    training part (none of it in the test part) and a note says so.

    Parameters
    ----------
    X : pandas.DataFrame
        The features.
    y : numpy.ndarray
        The target.
    task : {"classification", "regression"}
        Classes are stratified.
    test_size : float
        Share of rows held out; 0 holds out none.
    random_state : int
        Seed of the split.
    notes : list of str or None, default=None
        Where the note about single-row classes is appended.

    Returns
    -------
    tuple
        ``X_train, X_test, y_train, y_test`` (the test parts None for 0).
    """
    if test_size == 0:
        return X, None, y, None
    single = np.zeros(len(y), dtype=bool)
    if task == "classification":
        labels, counts = np.unique(y.astype(str), return_counts=True)
        alone = labels[counts < 2]
        single = np.isin(y.astype(str), alone)
        if len(alone) and notes is not None:
            notes.append(f"class(es) {_names([str(a) for a in alone])} have a single row: "
                         "kept in training, not in the test split")
    rest_X, rest_y = X[~single], y[~single]
    stratify = rest_y if task == "classification" and len(np.unique(rest_y)) > 1 else None
    try:
        parts = train_test_split(rest_X, rest_y, test_size=test_size,
                                 random_state=random_state, stratify=stratify)
    except ValueError as exc:
        raise click.ClickException(f"cannot hold out --test-size {test_size} of "
                                   f"{len(y)} rows: {exc}") from None
    if single.any():
        parts[0] = pd.concat([parts[0], X[single]])
        parts[2] = np.concatenate([parts[2], y[single]])
    return tuple(parts)


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


@dataclass
class ScoringTable:
    """A table file read to score a model on: what ``evaluate`` and ``report --data`` use.

    Parameters
    ----------
    X : pandas.DataFrame
        What the model's ``predict`` takes (:func:`model_input`).
    y : numpy.ndarray
        The target, rows without one dropped.
    task : {"classification", "regression"}
        The model's task.
    source : str
        The file, named in errors.
    """

    X: pd.DataFrame
    y: np.ndarray
    task: str
    source: str


def scoring_table(model: Any, metadata: dict, data: str, target: str | None,
                  sep: str | None = None) -> ScoringTable:
    """Read the table file ``data`` to score a loaded model on.

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
    sep : str or None, default=None
        The column separator of a CSV file.

    Returns
    -------
    ScoringTable
        The features, the target and the task.
    """
    target = target or metadata.get("target")
    if target is None:
        raise click.UsageError("name the target column with --target")
    frame = read_table(data, sep)
    check_column(frame, target, data)
    frame, _ = drop_missing_target(frame, target)
    X = model_input(model, metadata, frame.drop(columns=[target]), data)
    task = "classification" if is_classifier(final_estimator(model)) else "regression"
    with schema_messages(data):
        return ScoringTable(X, target_values(frame, target, task), task, data)


def score_table(model: Any, table: ScoringTable) -> dict[str, Any]:
    """Score a loaded model on a table read by :func:`scoring_table`.

    Parameters
    ----------
    model : estimator
        A loaded model.
    table : ScoringTable
        The features and target.

    Returns
    -------
    dict
        See :func:`scores`.
    """
    return scores(model, table.X, table.y, table.task)


#: Times each column is shuffled by :func:`importance`.
IMPORTANCE_REPEATS = 5


def importance(model: Any, table: ScoringTable) -> dict[str, dict[str, float]]:
    """Permutation importance of every input column, most important first.

    Each feature column of the table, as read (not its one-hot columns), is
    shuffled :data:`IMPORTANCE_REPEATS` times and the model scored on the
    result through its whole pipeline, exactly as ``predict`` sees the table;
    the importance is the drop of the score (accuracy, or R²). The shuffles
    are seeded by the model's ``random_state`` (0 when it has no integer
    seed), so the numbers are the same on every run.

    Parameters
    ----------
    model : estimator
        A loaded model.
    table : ScoringTable
        The table to score it on (:func:`scoring_table`).

    Returns
    -------
    dict of str to dict
        Column name to ``{"mean": ..., "std": ...}`` of the score's drop over
        the repeats.
    """
    schema = model[0] if isinstance(model, Pipeline) else None
    columns = (list(schema.columns_) if isinstance(schema, ColumnSchema)
               else [str(c) for c in table.X.columns])
    seed = getattr(final_estimator(model), "random_state", None)
    found = permutation_importance(
        model, table.X[columns], table.y, n_repeats=IMPORTANCE_REPEATS,
        random_state=seed if isinstance(seed, int) else 0)
    order = np.argsort(-found.importances_mean, kind="stable")
    return {columns[i]: {"mean": float(found.importances_mean[i]),
                         "std": float(found.importances_std[i])} for i in order}
