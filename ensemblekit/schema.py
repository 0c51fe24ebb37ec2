"""The column schema: what each feature column holds, learnt once, applied everywhere.

:class:`ColumnSchema` is the first step of the pipeline :func:`ensemblekit.config.build_model`
builds.  Fitted on the training table, it records every feature column's name and
kind — ``numeric``, ``boolean``, ``categorical`` (a pandas ``category`` column) or
``text`` — and the categories seen, and it is saved in the model file.  At
prediction time it normalises the columns to those kinds, however the table was
read: ``ensemblekit predict``, :func:`pandas.read_csv`, Parquet, polars or a numpy
array give the model the same values.

* numeric: numbers of any dtype, numbers written as text, ``True``/``False``
  (as 1/0) become float64; anything else is an error naming column and value.
  Integers too large for int64 (pandas then keeps them as Python ints) are
  numbers, with a :class:`SchemaWarning` that float64 keeps about 15 digits.
* boolean: ``True``/``False`` in any spelling pandas or a user gives
  (``bool``, ``"true"``, ``"False"``, and 1/0 at prediction time) become the
  strings ``"True"``/``"False"``; anything else is an error.
* categorical, text: strings.  A value read as a number or a boolean is written
  back as the training category it stands for: ``1.0`` is ``"1"`` when ``"1"`` was
  seen (one empty cell makes pandas read a column of digits as floats), ``True``
  is ``"true"`` when ``"true"`` was seen.  Categories never seen (in these
  kinds and in booleans) are passed on as they are, and the one-hot encoder
  encodes them as none of the column's categories, with a :class:`SchemaWarning`
  naming the column, the values and their row counts.

Missing values stay missing (NaN) in every kind.  Columns named more than once
are refused, naming them.
"""

from __future__ import annotations

import math
import numbers
import warnings
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from .exceptions import SchemaError, SchemaWarning

__all__ = ["KINDS", "ColumnSchema", "SchemaError", "SchemaWarning", "check_fitted",
           "check_unique_names"]

#: The kinds of column a schema knows.
KINDS = ("numeric", "boolean", "categorical", "text")

_INT64_MAX = 2**63 - 1


def check_unique_names(names: Iterable[Any], source: str = "the table") -> None:
    """Refuse column names given more than once.

    Parameters
    ----------
    names : iterable
        The column names, in order.
    source : str, default="the table"
        What holds them, named in the error (a file name).

    Raises
    ------
    SchemaError
        Naming every duplicated column.
    """
    seen: set[str] = set()
    twice: list[str] = []
    for name in map(str, names):
        if name in seen and name not in twice:
            twice.append(name)
        seen.add(name)
    if twice:
        raise SchemaError(
            f"{source} names column(s) {', '.join(repr(n) for n in twice)} more than "
            "once; rename or remove the copies (a duplicate target would leak the "
            "label into the features)")


def _missing(value: Any) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, (float, np.floating)) and math.isnan(value)


def _is_bool(value: Any) -> bool:
    return isinstance(value, (bool, np.bool_))


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Number) and not _is_bool(value)


def _bool_text(value: Any) -> bool | None:
    """True/False for a boolean or its spelling as text, else None."""
    if _is_bool(value):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return None


def _integer_text(value: Any) -> bool:
    return isinstance(value, str) and value.strip().lstrip("+-").isdigit()


def _number_text(value: Any) -> str:
    """A number as a CSV file would spell it: ``2.0`` as ``"2"``."""
    if isinstance(value, numbers.Integral):
        return str(int(value))
    number = float(value)
    return str(int(number)) if number.is_integer() else str(value)


def _lookup(categories: Iterable[str]) -> dict[tuple[str, Any], str]:
    """The training category a number or a boolean stands for."""
    found: dict[tuple[str, Any], str] = {}
    for category in categories:
        try:
            found.setdefault(("number", float(category)), category)
        except ValueError:
            pass
        truth = _bool_text(category)
        if truth is not None:
            found.setdefault(("bool", truth), category)
    return found


def _text(value: Any, lookup: dict[tuple[str, Any], str]) -> str:
    if isinstance(value, str):
        return value
    if _is_bool(value):
        return lookup.get(("bool", bool(value)), str(bool(value)))
    if _is_number(value):
        try:
            key = float(value)
        except OverflowError:
            return str(value)
        return lookup.get(("number", key), _number_text(value))
    return str(value)


def _uniques(column: pd.Series) -> tuple[np.ndarray, list[Any]]:
    """Codes (-1: missing) and the distinct non-missing values of ``column``."""
    codes, uniques = pd.factorize(column.astype(object), use_na_sentinel=True)
    values = list(uniques)
    missing = [i for i, v in enumerate(values) if _missing(v)]
    if missing:  # pd.NA / NaT that factorize kept as values
        codes = np.where(np.isin(codes, missing), -1, codes)
    return codes, values


def _mapped(column: pd.Series, convert: Any, dtype: Any) -> np.ndarray:
    """Apply ``convert`` to each distinct non-missing value of ``column``."""
    codes, values = _uniques(column)
    missing: Any = np.nan
    table = np.array([missing if _missing(v) else convert(v) for v in values] + [missing],
                     dtype=dtype)
    return table[codes]


def _infer(column: pd.Series) -> str:
    """The kind of a training column."""
    if pd.api.types.is_bool_dtype(column):
        return "boolean"
    if isinstance(column.dtype, pd.CategoricalDtype):
        return "categorical"
    if pd.api.types.is_numeric_dtype(column):
        return "numeric"
    if pd.api.types.is_datetime64_any_dtype(column) or pd.api.types.is_timedelta64_dtype(
            column):
        raise SchemaError(
            f"column {column.name!r} holds dates or durations ({column.dtype}), which "
            "cannot be a feature as they are; convert them to numbers (e.g. days since "
            "a date) or drop the column")
    _, values = _uniques(column)
    values = [v for v in values if not _missing(v)]
    if values and all(_bool_text(v) is not None for v in values):
        return "boolean"
    if values and all(_is_number(v) for v in values):
        return "numeric"
    if values and all(isinstance(v, numbers.Integral) or _integer_text(v) for v in values) \
            and any(abs(int(v)) > _INT64_MAX for v in values):
        return "numeric"
    return "text"


def _numbers(column: pd.Series, name: str) -> np.ndarray:
    """A numeric column as float64, or a SchemaError naming the value."""
    if pd.api.types.is_numeric_dtype(column) and not isinstance(column.dtype,
                                                                pd.CategoricalDtype):
        return column.to_numpy(dtype=np.float64, na_value=np.nan)

    def number(value: Any) -> float:
        if _is_bool(value):
            return float(value)
        if isinstance(value, str) and not value.strip():
            return np.nan
        try:
            return float(value)
        except (TypeError, ValueError, OverflowError):
            raise SchemaError(
                f"column {name!r} holds {value!r}, which is not a number; the model "
                "was trained on numbers in this column") from None

    return _mapped(column, number, np.float64)


def _booleans(column: pd.Series, name: str) -> np.ndarray:
    """A boolean column as "True"/"False" strings, or a SchemaError naming the value."""
    def truth(value: Any) -> str:
        found = _bool_text(value)
        if found is None and _is_number(value) and float(value) in (0.0, 1.0):
            found = bool(value)
        if found is None:
            raise SchemaError(
                f"column {name!r} holds {value!r}; the model was trained on true/false "
                "values in this column (True, False, true, false, 1 or 0)")
        return str(found)

    return _mapped(column, truth, object)


class ColumnSchema(TransformerMixin, BaseEstimator):
    """Learn each feature column's kind; normalise tables to it.

    Parameters
    ----------
    numeric : list of str or None, default=None
        Columns to treat as numbers.  With ``numeric`` or ``categorical``
        given, only the columns they list are used (in the table's order); with
        neither, every column of the training table, of the kind inferred
        from its values.
    categorical : list of str or None, default=None
        Columns to treat as categories (their kind is ``boolean``,
        ``categorical`` or ``text``, inferred).

    Attributes
    ----------
    columns_ : list of str
        The columns the schema passes on, in order.
    kinds_ : dict of str to str
        Each column's kind, one of :data:`KINDS`.
    categories_ : dict of str to list of str
        The sorted distinct values seen in each non-numeric column.
    n_features_in_ : int
        Columns of the training table.
    feature_names_in_ : numpy.ndarray
        Their names, when the training table had string names.

    Examples
    --------
    >>> import pandas as pd
    >>> schema = ColumnSchema().fit(pd.DataFrame({"a": [1, 2], "b": ["1", "x"]}))
    >>> schema.kinds_
    {'a': 'numeric', 'b': 'text'}
    >>> schema.transform(pd.DataFrame({"a": ["3"], "b": [1.0]}))["b"].tolist()
    ['1']
    """

    def __init__(self, numeric: list[str] | None = None,
                 categorical: list[str] | None = None) -> None:
        self.numeric = numeric
        self.categorical = categorical

    def __sklearn_tags__(self) -> Any:
        """Tags: takes missing values, strings and categories."""
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.input_tags.string = True
        tags.input_tags.categorical = True
        if tags.transformer_tags is not None:
            tags.transformer_tags.preserves_dtype = []  # numbers become float64
        return tags

    @staticmethod
    def _frame(X: Any) -> pd.DataFrame:
        """``X`` as a DataFrame (polars and pyarrow tables through ``to_pandas``)."""
        if isinstance(X, pd.DataFrame):
            frame = X
        elif hasattr(X, "to_pandas"):
            frame = X.to_pandas()
        else:
            if hasattr(X, "toarray") or hasattr(X, "tocsr"):
                raise TypeError("sparse input is not supported: give a table or a dense "
                                "array")
            array = np.asarray(X)
            if array.ndim != 2:
                raise SchemaError(f"expected a table (2-D), got an array of shape "
                                  f"{array.shape}; Reshape your data")
            if np.iscomplexobj(array):
                raise SchemaError("Complex data not supported")
            frame = pd.DataFrame(array)
        if frame.shape[1] == 0:
            raise SchemaError(f"the table has 0 feature(s) (shape={frame.shape}) while a "
                              "minimum of 1 is required.")
        if frame.shape[0] == 0:
            raise SchemaError(f"the table has 0 rows (shape {frame.shape}); a minimum of 1 "
                              "is required")
        check_unique_names(frame.columns)
        return frame.rename(columns=str)

    def fit(self, X: Any, y: Any = None) -> ColumnSchema:
        """Learn the columns, their kinds and categories from the training table.

        Parameters
        ----------
        X : pandas.DataFrame, polars/pyarrow table or 2-D array
            The training features.
        y : ignored
            Accepted for pipelines.

        Returns
        -------
        ColumnSchema
            ``self``, fitted.

        Raises
        ------
        SchemaError
            For duplicated, absent or unusable columns, or values that are not
            numbers in a ``numeric`` column.
        TypeError
            For a sparse matrix.
        """
        frame = self._frame(X)
        self.n_features_in_ = frame.shape[1]
        if isinstance(X, pd.DataFrame) and all(isinstance(c, str) for c in X.columns):
            self.feature_names_in_ = np.asarray(list(X.columns), dtype=object)
        elif hasattr(self, "feature_names_in_"):
            del self.feature_names_in_
        given = self.numeric is not None or self.categorical is not None
        numeric = [str(c) for c in self.numeric or []]
        categorical = [str(c) for c in self.categorical or []]
        columns = [*numeric, *categorical] if given else list(frame.columns)
        check_unique_names(columns, "the schema's column lists")
        self._check_present(frame, columns)
        columns = [c for c in frame.columns if c in set(columns)]  # the table's order
        kinds: dict[str, str] = {}
        for name in columns:
            kind = "numeric" if name in numeric else _infer(frame[name])
            if kind == "numeric" and name in categorical:
                kind = "text"
            kinds[name] = kind
        self.columns_ = columns
        self.kinds_ = kinds
        self.categories_: dict[str, list[str]] = {}
        out = self._normalise(frame, fitting=True)
        for name in columns:
            if kinds[name] != "numeric":
                self.categories_[name] = sorted(set(out[name].dropna().tolist()))
        self._warn_huge(frame)
        return self

    def _warn_huge(self, frame: pd.DataFrame) -> None:
        huge = []
        for name in self.columns_:
            column = frame[name]
            if self.kinds_[name] == "numeric" and not pd.api.types.is_numeric_dtype(column):
                _, values = _uniques(column)
                digits = [len(str(abs(int(v)))) for v in values
                          if isinstance(v, numbers.Integral) and not _is_bool(v)
                          or _integer_text(v)]
                if digits and max(digits) > 18:
                    huge.append(f"{name!r} (up to {max(digits)} digits)")
        if huge:
            warnings.warn(
                f"column(s) {', '.join(huge)} hold integers too large for int64: used "
                "as numbers (float64, about 15 significant digits kept); if they are "
                "identifiers, drop the column", SchemaWarning, stacklevel=3)

    def _check_present(self, frame: pd.DataFrame, columns: list[str]) -> None:
        absent = [c for c in columns if c not in frame.columns]
        if absent:
            shown = ", ".join(repr(c) for c in absent[:10])
            raise SchemaError(
                f"the table lacks {len(absent)} column(s) the model needs: {shown}"
                f"{', ...' if len(absent) > 10 else ''}")

    def _normalise(self, frame: pd.DataFrame, fitting: bool = False) -> pd.DataFrame:
        out: dict[str, np.ndarray] = {}
        for name in self.columns_:
            column, kind = frame[name], self.kinds_[name]
            if kind == "numeric":
                out[name] = _numbers(column, name)
            elif kind == "boolean":
                out[name] = _booleans(column, name)
            else:
                lookup = {} if fitting else _lookup(self.categories_.get(name, []))
                out[name] = _mapped(column, lambda v, t=lookup: _text(v, t), object)
        return pd.DataFrame(out, index=frame.index, columns=self.columns_)

    def transform(self, X: Any) -> pd.DataFrame:
        """Normalise a table to the schema: its columns, in order, of their kinds.

        Parameters
        ----------
        X : pandas.DataFrame, polars/pyarrow table or 2-D array
            Columns are found by name (other columns are ignored); an array's
            columns are all the training table's columns, or the schema's
            columns, in the training table's order.

        Returns
        -------
        pandas.DataFrame
            Numeric columns as float64, the others as strings; missing values
            as NaN.

        Raises
        ------
        SchemaError
            For duplicated or absent columns and values that do not fit their
            column's kind (the message names both).
        TypeError
            For a sparse matrix.

        Warns
        -----
        SchemaWarning
            For categories (or a boolean value) the training table did not
            hold, naming each column, the values and their row counts.
        """
        check_is_fitted(self, "columns_")
        frame = self._frame(X)
        if not isinstance(X, pd.DataFrame) and not hasattr(X, "to_pandas"):
            if frame.shape[1] == self.n_features_in_:
                names = [str(c) for c in getattr(self, "feature_names_in_",
                                                 range(self.n_features_in_))]
            elif frame.shape[1] == len(self.columns_):
                names = self.columns_
            else:
                raise SchemaError(
                    f"X has {frame.shape[1]} features, but ColumnSchema is expecting "
                    f"{self.n_features_in_} features as input (or the "
                    f"{len(self.columns_)} it passes on: "
                    f"{', '.join(self.columns_[:10])}{', ...' if len(self.columns_) > 10 else ''}"
                    "), in the training table's order")
            frame.columns = names
        self._check_present(frame, self.columns_)
        out = self._normalise(frame)
        self._warn_unseen(out)
        return out

    def _warn_unseen(self, out: pd.DataFrame) -> None:
        """Warn, naming column and values, of categories the training table lacked."""
        found = []
        for name, seen in self.categories_.items():
            column = out[name]
            new = column[column.notna() & ~column.isin(seen)]
            if len(new):
                counts = new.value_counts(sort=True)
                shown = ", ".join(f"{value!r} ({n} row{'s' if n > 1 else ''})"
                                  for value, n in counts.iloc[:5].items())
                more = f" and {len(counts) - 5} more" if len(counts) > 5 else ""
                found.append(f"column {name!r}: {shown}{more}")
        if found:
            warnings.warn(
                f"categories never seen in training, encoded as none of their column's "
                f"categories: {'; '.join(found)}", SchemaWarning, stacklevel=3)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """The columns passed on.

        Parameters
        ----------
        input_features : ignored
            Accepted for scikit-learn's API.

        Returns
        -------
        numpy.ndarray
            :attr:`columns_`, as an object array.
        """
        check_is_fitted(self, "columns_")
        return np.asarray(self.columns_, dtype=object)

    def split_columns(self) -> tuple[list[str], list[str]]:
        """The numeric columns and the others (boolean, categorical, text).

        Returns
        -------
        numeric, categorical : list of str
            Column names of each group, in schema order.
        """
        check_is_fitted(self, "columns_")
        numeric = [c for c in self.columns_ if self.kinds_[c] == "numeric"]
        return numeric, [c for c in self.columns_ if self.kinds_[c] != "numeric"]


def check_fitted(schema: ColumnSchema) -> None:
    """Check a schema read from a model file; raise ``ValueError`` if inconsistent.

    Parameters
    ----------
    schema : ColumnSchema
        A schema rebuilt from a file.

    Raises
    ------
    ValueError
        For columns without a kind, unknown kinds, or categories that are not
        lists of strings.
    """
    columns = getattr(schema, "columns_", None)
    kinds = getattr(schema, "kinds_", None)
    categories = getattr(schema, "categories_", None)
    if not (isinstance(columns, list) and all(isinstance(c, str) for c in columns)):
        raise ValueError("ColumnSchema.columns_ must be a list of column names")
    if not isinstance(kinds, dict) or set(kinds) != set(columns) or any(
            k not in KINDS for k in kinds.values()):
        raise ValueError(f"ColumnSchema.kinds_ must give each column one of {KINDS}")
    if not isinstance(categories, dict) or any(
            not isinstance(v, list) or not all(isinstance(s, str) for s in v)
            for v in categories.values()):
        raise ValueError("ColumnSchema.categories_ must map columns to lists of strings")
