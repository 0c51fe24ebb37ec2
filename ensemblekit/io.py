"""Safe model files: one zip holding a JSON document and ``.npz`` arrays.

``save(estimator, path)`` writes, and ``load(path)`` reads, a single file
that never contains a pickle:

``model.json``
    Format name and version, the ensemblekit / scikit-learn / numpy versions
    that wrote it, the estimator as a tree of *allowlisted* class names with
    their constructor parameters and fitted attributes, plugins by their
    *registered names* and parameters, free-form metadata, and SHA-256
    digests of the document and of the arrays.
``arrays.npz``
    Every numeric array, read back with ``allow_pickle=False``.

Loading never extracts anything to disk and refuses an archive holding any
other member (a path such as ``../x`` included) or a member twice.  One
budget, ``max_bytes`` (:data:`MAX_BYTES`), bounds what a file can make
:func:`load` allocate: the bytes its members decompress to plus the bytes
every array and scalar in it *declares* (itemsize times shape, at least one
byte an element), plus what parsing ``model.json`` may take (a bound from its
length and its JSON values, :data:`PARSE_BYTES_PER_CHAR` and
:data:`PARSE_BYTES_PER_VALUE`), each counted before it is allocated; members are
decompressed a chunk at a time, never beyond the size they declare.
``model.json`` may nest at most :data:`MAX_DEPTH` levels.
Loading never imports anything named in the file: an estimator class is
looked up in this module's allowlist (:func:`register_estimator` adds to it)
and a plugin by :func:`ensemblekit.plugins.find_plugin_class` (the file records
each plugin's distribution and version: a built-in is found without importing
any third-party plugin, a third-party one through its own distribution's entry
points, and a missing one is named with what to ``pip install``), then checked: a
plugin by its ``validate``, an estimator's parameters against the rules of
its class (a cache folder or a worker count is reset, a callable refused).  Array dtypes and
shapes are checked against the document, and each estimator's ``restore``
step checks its own invariants (the MLPs: layer shapes, finite weights).
The digests catch a truncated, corrupted or hand-edited file; they are not a
signature (anyone can recompute them), the safety comes from loading no code.

``pickle`` and ``joblib`` keep working on every estimator, as in
scikit-learn, but only for files you trust: unpickling runs code.
"""

from __future__ import annotations

import builtins
import contextlib
import hashlib
import io
import json
import os
import re
import reprlib
import secrets
import stat
import tokenize
import warnings
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import joblib
import numpy as np
import sklearn
from sklearn.compose import ColumnTransformer, TransformedTargetRegressor
from sklearn.exceptions import ConvergenceWarning, DataConversionWarning
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import (
    LabelBinarizer,
    MaxAbsScaler,
    MinMaxScaler,
    OneHotEncoder,
    StandardScaler,
)

from . import ensemble, mlp, schema
from ._optimizers import AdaGradOptimizer, AdamOptimizer, RMSpropOptimizer, SGDOptimizer
from .ensemble import EnsembleClassifier, EnsembleRegressor
from .exceptions import DivergenceWarning, ModelFileError, PluginLoadWarning
from .mlp import MLPClassifier, MLPRegressor
from .plugins import Plugin, find_plugin_class, get_registry
from .schema import ColumnSchema

__all__ = [
    "FORMAT_VERSION",
    "MAX_BYTES",
    "MAX_DEPTH",
    "PARSE_BYTES_PER_CHAR",
    "PARSE_BYTES_PER_VALUE",
    "ModelFileError",
    "atomic_write",
    "load",
    "register_estimator",
    "save",
]

FORMAT = "ensemblekit-model"
#: Version of the file layout written by :func:`save`; :func:`load` reads it only.
FORMAT_VERSION = 1
#: Default ``max_bytes`` of :func:`load` (1 GiB): the largest model file it
#: reads, and its budget: the most the file's members may decompress to plus the
#: bytes its arrays and scalars declare.
MAX_BYTES = 1 << 30
#: Bytes parsing and checking ``model.json`` may allocate, counted against
#: ``max_bytes`` before it is parsed: this many per byte of its text ...
PARSE_BYTES_PER_CHAR = 16
#: ... plus this many per structural character (``,`` ``:`` ``[`` ``{``: a JSON
#: value takes at least one).  The worst documents measured (a long string of
#: 4-byte characters, a list of short distinct strings, a list of empty objects:
#: ``tests/test_model_file_budget.py``) take 9 bytes a character and 215 a value.
PARSE_BYTES_PER_VALUE = 256
#: Deepest nesting of lists and objects that ``model.json`` may have; the files
#: :func:`save` writes stay below a third of it.
MAX_DEPTH = 100
_MAX_INT_DIGITS = 100  # longest integer literal in model.json (int64 needs 19 digits)
_CHUNK = 1 << 20  # members are decompressed this many bytes at a time
# what a damaged archive raises while it is read: zlib for corrupt deflate data,
# NotImplementedError / RuntimeError for flipped compression or encryption flags,
# OSError for offsets that point outside the file
_DAMAGED = (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, zlib.error,
            NotImplementedError, RuntimeError)
_DOCUMENT = "model.json"
_ARRAYS = "arrays.npz"
_ARRAY_KINDS = "biufcU"  # bool, ints, floats, complex, fixed-width unicode
_BUILTIN_TYPES: dict[str, type] = {"bool": bool, "int": int, "float": float,
                                   "str": str, "object": object}
_FIXED_TIME = (1980, 1, 1, 0, 0, 0)  # same model, same bytes
# warning categories that may appear in fitted diagnostics (ensembles' member_status_)
_WARNINGS: dict[str, type] = {
    c.__name__: c for c in (
        *(v for v in vars(builtins).values()
          if isinstance(v, type) and issubclass(v, Warning)),
        ConvergenceWarning, DataConversionWarning, DivergenceWarning, PluginLoadWarning)}


# --------------------------------------------------------------------------
# the allowlist
# --------------------------------------------------------------------------
@dataclass(frozen=True)
class Serializer:
    """How one allowlisted class is written and read back.

    Attributes
    ----------
    name : str
        The name stored in the file (looked up in the allowlist, never
        imported).
    cls : type
        The class; only instances of exactly this class use this entry.
    fitted : tuple of str
        Fitted attributes written when present and the only attributes a
        file may set on a loaded instance.
    ignore : tuple of str
        Attributes deliberately not written (caches, rebuilt by ``restore``).
    restore : callable or None
        Called with the rebuilt instance; rebuilds derived state and raises
        ``ValueError`` when the stored state is inconsistent.
    """

    name: str
    cls: type
    fitted: tuple[str, ...]
    ignore: tuple[str, ...] = ()
    restore: Callable[[Any], None] | None = None


_BY_NAME: dict[str, Serializer] = {}
_BY_CLASS: dict[type, Serializer] = {}


def register_estimator(name: str, cls: type, *, fitted: Iterable[str],
                       ignore: Iterable[str] = (),
                       restore: Callable[[Any], None] | None = None) -> None:
    """Allow instances of ``cls`` in model files.

    The instance is written as its ``get_params(deep=False)`` plus the listed
    fitted attributes; values may be numbers, strings, arrays, lists, tuples,
    dicts, slices, numpy dtypes, registered plugins and other allowlisted
    estimators.  An attribute that is neither a parameter, nor ``fitted``, nor
    ``ignore`` makes :func:`save` fail rather than silently drop state.

    Parameters
    ----------
    name : str
        Name stored in files, e.g. ``"ensemblekit.EnsembleClassifier"``.
    cls : type
        The estimator class.
    fitted : iterable of str
        Fitted attributes to write and to accept when reading.
    ignore : iterable of str, default=()
        Attributes not to write.
    restore : callable, optional
        ``restore(estimator)`` after the attributes are set: rebuild caches,
        check invariants (raise ``ValueError``).

    Raises
    ------
    ValueError
        If ``name`` or ``cls`` is already registered with another entry.
    """
    spec = Serializer(name, cls, tuple(fitted), tuple(ignore), restore)
    for key, registered in ((name, _BY_NAME.get(name)), (cls, _BY_CLASS.get(cls))):
        if registered is not None and registered != spec:
            raise ValueError(f"{key!r} is already registered for model files")
    _BY_NAME[name] = spec
    _BY_CLASS[cls] = spec


for _optimizer in (SGDOptimizer, AdamOptimizer, AdaGradOptimizer, RMSpropOptimizer):
    register_estimator(f"ensemblekit.{_optimizer.__name__}", _optimizer,
                       fitted=_optimizer.STATE, ignore=("_tmp",))
register_estimator("ensemblekit.MLPClassifier", MLPClassifier,
                   fitted=mlp.CLASSIFIER_FITTED_ATTRIBUTES,
                   ignore=mlp.RUNTIME_ATTRIBUTES, restore=mlp.restore_fitted)
register_estimator("ensemblekit.MLPRegressor", MLPRegressor,
                   fitted=mlp.FITTED_ATTRIBUTES, ignore=mlp.RUNTIME_ATTRIBUTES,
                   restore=mlp.restore_fitted)



register_estimator("ensemblekit.EnsembleClassifier", EnsembleClassifier,
                   fitted=ensemble.CLASSIFIER_FITTED_ATTRIBUTES,
                   ignore=ensemble.RUNTIME_ATTRIBUTES, restore=ensemble.restore_fitted)
register_estimator("ensemblekit.EnsembleRegressor", EnsembleRegressor,
                   fitted=ensemble.FITTED_ATTRIBUTES, ignore=ensemble.RUNTIME_ATTRIBUTES,
                   restore=ensemble.restore_fitted)
register_estimator("ensemblekit.ColumnSchema", ColumnSchema, fitted=(
    "n_features_in_", "feature_names_in_", "columns_", "kinds_", "categories_"),
                   restore=schema.check_fitted)
register_estimator("sklearn.LabelBinarizer", LabelBinarizer,
                   fitted=("classes_", "y_type_", "sparse_input_"))
# the preprocessing ``ensemblekit train`` builds: every fitted attribute these
# classes set in the supported scikit-learn versions
_SK_IN = ("n_features_in_", "feature_names_in_")
register_estimator("sklearn.Pipeline", Pipeline, fitted=())
# ``ensemblekit train`` standardises a regression target around the network
register_estimator("sklearn.TransformedTargetRegressor", TransformedTargetRegressor,
                   fitted=("_training_dim", "transformer_", "regressor_"))
register_estimator("sklearn.ColumnTransformer", ColumnTransformer, fitted=(
    *_SK_IN, "_columns", "_transformer_to_input_indices", "_remainder", "_n_features",
    "sparse_output_", "transformers_", "output_indices_", "_name_to_fitted_passthrough"))
register_estimator("sklearn.SimpleImputer", SimpleImputer, fitted=(
    *_SK_IN, "_fit_dtype", "_fill_dtype", "indicator_", "statistics_"))
register_estimator("sklearn.StandardScaler", StandardScaler, fitted=(
    *_SK_IN, "n_samples_seen_", "mean_", "var_", "scale_"))
register_estimator("sklearn.MaxAbsScaler", MaxAbsScaler, fitted=(
    *_SK_IN, "n_samples_seen_", "max_abs_", "scale_"))
register_estimator("sklearn.MinMaxScaler", MinMaxScaler, fitted=(
    *_SK_IN, "n_samples_seen_", "scale_", "min_", "data_min_", "data_max_", "data_range_"))
register_estimator("sklearn.OneHotEncoder", OneHotEncoder, fitted=(
    *_SK_IN, "categories_", "_infrequent_enabled", "_drop_idx_after_grouping",
    "drop_idx_", "_n_features_outs", "infrequent_categories_", "_infrequent_indices",
    "_default_to_infrequent_mappings"))


# --------------------------------------------------------------------------
# parameters a file may not choose
# --------------------------------------------------------------------------
@dataclass(frozen=True)
class _ParameterRule:
    """Which values of one parameter a file may set, and what happens to others.

    A value outside ``allowed`` is reset to ``default`` with a warning
    (``reset``), or refused with a :class:`ModelFileError`.
    """

    allowed: Callable[[Any], bool]
    allowed_text: str
    reason: str
    reset: bool
    default: Any = None


def _within_the_cores(value: Any) -> bool:
    cores = joblib.cpu_count()  # what n_jobs=-1 means: the cores this process may use
    return value is None or (type(value) is int and value != 0 and abs(value) <= cores)


_N_JOBS = _ParameterRule(
    _within_the_cores, "None or a worker count within this machine's cores",
    "a file does not choose how many processes your machine starts", reset=True)
_NO_FUNCTION = _ParameterRule(
    lambda value: value is None, "None",
    "it names a function to call, and model files hold no code", reset=False)
#: The decision for every parameter of the allowlisted classes that names a
#: cache, a path, a callable or a resource; the others hold plain values.  On
#: top of these, no parameter but ``dtype`` may hold a callable (a class).
_PARAMETER_RULES: dict[type, dict[str, _ParameterRule]] = {
    MLPClassifier: {}, MLPRegressor: {},  # plugins: validated by their ``validate``
    EnsembleClassifier: {"n_jobs": _N_JOBS}, EnsembleRegressor: {"n_jobs": _N_JOBS},
    LabelBinarizer: {},
    Pipeline: {"memory": _ParameterRule(
        lambda value: value is None, "None",
        "it is a cache folder that a refit writes joblib files to and later unpickles, "
        "so whoever can write there could run code in your process", reset=True)},
    TransformedTargetRegressor: {"func": _NO_FUNCTION, "inverse_func": _NO_FUNCTION},
    ColumnTransformer: {"n_jobs": _N_JOBS},
    SimpleImputer: {}, StandardScaler: {}, MaxAbsScaler: {}, MinMaxScaler: {},
    OneHotEncoder: {},
    ColumnSchema: {},  # column names and kinds: data, checked by schema.check_fitted
    # numbers and moment arrays, checked against the weights by mlp.restore_fitted
    SGDOptimizer: {}, AdamOptimizer: {}, AdaGradOptimizer: {}, RMSpropOptimizer: {},
}


def _callable_in(value: Any) -> Any:
    """The first callable inside a parameter value (not inside estimators), or None."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, (list, tuple)):
            stack.extend(item)
        elif isinstance(item, dict):
            stack.extend((*item.keys(), *item.values()))
        elif isinstance(item, np.ndarray) and item.dtype.kind == "O":
            stack.extend(item.ravel())
        elif isinstance(item, type):
            return item
    return None


def _checked_parameters(cls: type, params: dict[str, Any], where: str) -> dict[str, Any]:
    """``params`` read from a file for ``cls``, after the rules of its class.

    Raises ``ValueError`` for a refused value; warns for a value reset.
    """
    rules = _PARAMETER_RULES.get(cls, {})
    checked = dict(params)
    for name, value in params.items():
        rule = rules.get(name)
        if rule is not None and not rule.allowed(value):
            said = (f"{where}: {cls.__name__} parameter {name!r} from the file "
                    f"({reprlib.repr(value)})")
            if not rule.reset:
                raise ValueError(f"{said} must be {rule.allowed_text}: {rule.reason}; "
                                 "refused")
            warnings.warn(f"{said} is reset to {rule.default!r} ({rule.allowed_text} "
                          f"allowed): {rule.reason}. If you trust the file, set it after "
                          "loading", UserWarning, stacklevel=2)
            checked[name] = rule.default
        elif name != "dtype" and (function := _callable_in(value)) is not None:
            raise ValueError(f"{where}: {cls.__name__} parameter {name!r} holds the callable "
                             f"{function.__name__}; model files hold no functions or classes "
                             "there; refused")
    return checked


# --------------------------------------------------------------------------
# encoding: Python values -> JSON + arrays
# --------------------------------------------------------------------------
class _Encoder:
    """Turns a value tree into JSON, collecting numeric arrays on the side."""

    def __init__(self) -> None:
        self.arrays: dict[str, np.ndarray] = {}

    def __call__(self, value: Any, where: str) -> Any:
        if value is None or isinstance(value, (bool, int, float, str)):
            return value
        if isinstance(value, np.generic):
            if value.dtype.kind not in _ARRAY_KINDS:
                raise ValueError(f"cannot save {where}: numpy scalars of dtype "
                                 f"{value.dtype} are not supported")
            return {"$": "scalar", "dtype": value.dtype.str, "value": value.item()}
        if isinstance(value, np.ndarray):
            return self._array(value, where)
        if isinstance(value, np.dtype):
            return {"$": "dtype", "dtype": value.str}
        if isinstance(value, type) and issubclass(value, Warning):
            # an unknown category is stored as its nearest standard base class
            known = next(c for c in value.__mro__ if c.__name__ in _WARNINGS)
            return {"$": "warning", "name": known.__name__}
        if isinstance(value, type):
            return self._type(value, where)
        if isinstance(value, slice):
            return {"$": "slice", "args": [self(value.start, where),
                                           self(value.stop, where),
                                           self(value.step, where)]}
        if isinstance(value, list):
            return [self(v, f"{where}[{i}]") for i, v in enumerate(value)]
        if isinstance(value, tuple):
            return {"$": "tuple", "items": [self(v, f"{where}[{i}]")
                                            for i, v in enumerate(value)]}
        if isinstance(value, dict):
            return self._dict(value, where)
        if isinstance(value, Plugin):
            return self._plugin(value, where)
        if type(value) in _BY_CLASS:
            return self.estimator(value, where)
        if isinstance(value, (np.random.RandomState, np.random.Generator)):
            raise ValueError(f"cannot save {where}: a {type(value).__name__} is not "
                             "stored in model files; set random_state to an int or None")
        raise ValueError(
            f"cannot save {where}: values of type {type(value).__name__} are not "
            "supported in model files (allowed: numbers, strings, arrays, lists, "
            "tuples, dicts, registered plugins, and estimators of the classes "
            f"{', '.join(sorted(_BY_NAME))})"
        )

    def _array(self, arr: np.ndarray, where: str) -> dict:
        if arr.dtype.kind == "O":
            items = [self(v, f"{where}[{i}]") for i, v in enumerate(arr.ravel())]
            return {"$": "objects", "shape": list(arr.shape), "items": items}
        if arr.dtype.kind not in _ARRAY_KINDS or arr.dtype.fields is not None:
            raise ValueError(f"cannot save {where}: arrays of dtype {arr.dtype} are "
                             "not supported")
        key = f"a{len(self.arrays)}"
        self.arrays[key] = arr
        return {"$": "array", "key": key, "dtype": arr.dtype.str, "shape": list(arr.shape)}

    @staticmethod
    def _type(value: type, where: str) -> dict:
        if issubclass(value, np.generic) and np.dtype(value).kind in _ARRAY_KINDS:
            return {"$": "scalar_type", "dtype": np.dtype(value).str}
        for name, builtin in _BUILTIN_TYPES.items():
            if value is builtin:
                return {"$": "builtin_type", "name": name}
        raise ValueError(f"cannot save {where}: the type {value.__name__} is not "
                         "supported in model files")

    def _dict(self, value: dict, where: str) -> dict:
        if all(isinstance(k, str) for k in value) and "$" not in value:
            return {k: self(v, f"{where}[{k!r}]") for k, v in value.items()}
        return {"$": "dict", "items": [[self(k, where), self(v, f"{where}[{k!r}]")]
                                       for k, v in value.items()]}

    def _plugin(self, plugin: Plugin, where: str) -> dict:
        registry = get_registry()
        names = sorted(n for n, c in registry.plugins.items() if c is type(plugin))
        if not names:
            raise ValueError(
                f"cannot save {where}: plugin class {type(plugin).__name__} is not in "
                "the plugin registry; install it as a plugin (entry point group "
                "'ensemblekit') so that a model file can name it"
            )
        name = plugin.name if plugin.name in names else names[0]
        params = plugin.get_params(deep=False)
        fitted = {k: v for k, v in vars(plugin).items()
                  if k.endswith("_") and not k.startswith("_") and k not in params}
        distribution, version = registry.sources[name]
        return {"$": "plugin", "name": name, "distribution": distribution, "version": version,
                "params": {k: self(v, f"{where}.{k}") for k, v in params.items()},
                "fitted": {k: self(v, f"{where}.{k}") for k, v in fitted.items()}}

    def estimator(self, est: Any, where: str) -> dict:
        """Encode an allowlisted estimator: parameters and fitted attributes."""
        spec = _BY_CLASS.get(type(est))
        if spec is None:
            raise ValueError(
                f"cannot save {where}: {type(est).__name__} is not one of the classes "
                f"model files allow ({', '.join(sorted(_BY_NAME))}); see "
                "ensemblekit.io.register_estimator"
            )
        params = est.get_params(deep=False)
        state = vars(est)
        unknown = sorted(k for k in state
                         if k not in params and k not in spec.fitted and k not in spec.ignore)
        if unknown:
            raise ValueError(
                f"cannot save {where}: {type(est).__name__} has attributes "
                f"{unknown} that its model-file entry does not list; update the "
                "allowlist in ensemblekit.io for this scikit-learn version"
            )
        return {
            "$": "estimator", "class": spec.name,
            "params": {k: self(v, f"{where}.{k}") for k, v in params.items()},
            "fitted": {k: self(state[k], f"{where}.{k}") for k in spec.fitted if k in state},
        }


# --------------------------------------------------------------------------
# decoding: JSON + arrays -> Python values
# --------------------------------------------------------------------------
class _Decoder:
    """Rebuilds a value tree; every class comes from an allowlist."""

    #: The value kinds (``"$"``) a document may use, each read by ``_<kind>``;
    #: any other name is refused, never looked up on the decoder.
    KINDS = frozenset({"scalar", "array", "objects", "dtype", "scalar_type", "builtin_type",
                       "warning", "slice", "tuple", "dict", "plugin", "estimator"})

    def __init__(self, arrays: Mapping[str, np.ndarray], budget: _Budget) -> None:
        self.arrays = arrays
        self.budget = budget

    def __call__(self, obj: Any, where: str) -> Any:
        if obj is None or isinstance(obj, (bool, int, float, str)):
            return obj
        if isinstance(obj, list):
            return [self(v, f"{where}[{i}]") for i, v in enumerate(obj)]
        if not isinstance(obj, dict):
            raise ValueError(f"{where}: unexpected JSON value {obj!r}")
        kind = obj.get("$")
        if kind is None:
            return {k: self(v, f"{where}[{k!r}]") for k, v in obj.items()}
        method = (getattr(self, f"_{kind}", None)
                  if isinstance(kind, str) and kind in self.KINDS else None)
        if method is None:
            raise ValueError(f"{where}: unknown value kind {kind!r}")
        try:
            return method(obj, where)
        except (KeyError, TypeError, OverflowError) as exc:
            raise ValueError(f"{where}: malformed {kind!r} entry ({exc})") from None

    @staticmethod
    def _dtype_of(text: str, where: str, kinds: str) -> np.dtype:
        try:
            dtype = np.dtype(text)
        except TypeError:
            raise ValueError(f"{where}: invalid dtype {text!r}") from None
        if dtype.kind not in kinds or dtype.fields is not None:
            raise ValueError(f"{where}: dtype {text!r} is not allowed")
        return dtype

    def _scalar(self, obj: dict, where: str) -> np.generic:
        dtype = self._dtype_of(obj["dtype"], where, _ARRAY_KINDS)
        value = obj["value"]
        if not isinstance(value, (bool, int, float, str)):
            raise ValueError(f"{where}: a scalar's value must be a number or a string, "
                             f"not {type(value).__name__}")
        # numpy builds the scalar through a 0-d array: twice its size at the peak
        cost = 2 * max(dtype.itemsize, 1)
        self.budget.spend(cost, f"{where}: a scalar of dtype {dtype.str} takes {cost} bytes "
                                "to build")
        if dtype.itemsize == 0:
            raise ValueError(f"{where}: a scalar of the zero-size dtype {dtype.str}; refused")
        try:
            # numpy's stubs type any ndarray index as an array; () on a 0-d one is a scalar
            return np.array(value, dtype=dtype)[()]  # type: ignore[return-value]
        except (OverflowError, ValueError, TypeError) as exc:
            raise ValueError(f"{where}: {value!r} is not a valid {dtype.str} ({exc})") from None

    def _array(self, obj: dict, where: str) -> np.ndarray:
        key = obj["key"]
        if key not in self.arrays:
            raise ValueError(f"{where}: array {key!r} is missing from {_ARRAYS}")
        arr = self.arrays[key]
        if arr.dtype.str != obj["dtype"] or list(arr.shape) != obj["shape"]:
            raise ValueError(f"{where}: array {key!r} is {arr.dtype.str} {list(arr.shape)}, "
                             f"the document says {obj['dtype']} {obj['shape']}")
        return arr

    def _objects(self, obj: dict, where: str) -> np.ndarray:
        items = [self(v, f"{where}[{i}]") for i, v in enumerate(obj["items"])]
        out = np.empty(len(items), dtype=object)
        out[:] = items
        shape = tuple(obj["shape"])
        if int(np.prod(shape)) != len(items):
            raise ValueError(f"{where}: {len(items)} items do not fill shape {shape}")
        return out.reshape(shape)

    def _dtype(self, obj: dict, where: str) -> np.dtype:
        return self._dtype_of(obj["dtype"], where, _ARRAY_KINDS + "O")

    def _scalar_type(self, obj: dict, where: str) -> type:
        return self._dtype_of(obj["dtype"], where, _ARRAY_KINDS).type

    def _builtin_type(self, obj: dict, where: str) -> type:
        if obj["name"] not in _BUILTIN_TYPES:
            raise ValueError(f"{where}: type {obj['name']!r} is not allowed")
        return _BUILTIN_TYPES[obj["name"]]

    def _warning(self, obj: dict, where: str) -> type:
        if obj["name"] not in _WARNINGS:
            raise ValueError(f"{where}: warning category {obj['name']!r} is not allowed")
        return _WARNINGS[obj["name"]]

    def _slice(self, obj: dict, where: str) -> slice:
        args = [self(a, where) for a in obj["args"]]
        if len(args) != 3 or not all(a is None or isinstance(a, int) for a in args):
            raise ValueError(f"{where}: invalid slice {obj['args']!r}")
        return slice(*args)

    def _tuple(self, obj: dict, where: str) -> tuple:
        return tuple(self(obj["items"], where))

    def _dict(self, obj: dict, where: str) -> dict:
        return {self(k, where): self(v, f"{where}[{k!r}]") for k, v in obj["items"]}

    def _plugin(self, obj: dict, where: str) -> Plugin:
        params = self(obj["params"], where)
        rejected = f"{where}: plugin {obj['name']!r} rejects the stored parameters"
        provenance = (obj.get("distribution", ""), obj.get("version", ""))  # "": older files
        if not all(isinstance(v, str) for v in (obj["name"], *provenance)):
            raise ValueError(f"{where}: a plugin's name, distribution and version must "
                             "be strings")
        try:
            cls = find_plugin_class(obj["name"], *provenance)
        except ValueError as exc:
            raise ValueError(f"{where}: the model needs a plugin that is not "
                             f"installed. {exc}") from None
        try:
            plugin = cls(**params)
        except TypeError as exc:
            raise ValueError(f"{rejected}: {exc}") from None
        try:
            plugin.validate()
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{rejected}: {exc}") from None
        fitted = self(obj["fitted"], where)
        if not isinstance(fitted, dict):
            raise ValueError(f"{where}: a plugin's fitted attributes must be an object")
        for key, value in fitted.items():
            if not (key.endswith("_") and not key.startswith("_") and key.isidentifier()):
                raise ValueError(f"{where}: {key!r} is not a fitted plugin attribute")
            setattr(plugin, key, value)
        return plugin

    def _estimator(self, obj: dict, where: str) -> Any:
        spec = _BY_NAME.get(obj["class"])
        if spec is None:
            raise ValueError(f"{where}: class {obj['class']!r} is not one of the classes "
                             f"model files allow ({', '.join(sorted(_BY_NAME))})")
        where = f"{where}({spec.cls.__name__})"
        fitted = obj["fitted"]
        if not isinstance(obj["params"], dict) or not isinstance(fitted, dict):
            raise ValueError(f"{where}: params and fitted must be objects")
        params = _checked_parameters(spec.cls, {
            k: self(v, f"{where}.{k}") for k, v in obj["params"].items()}, where)
        try:
            est = spec.cls(**params)
        except TypeError as exc:
            raise ValueError(f"{where}: invalid parameters: {exc}") from None
        for key, value in fitted.items():
            if key not in spec.fitted:
                raise ValueError(f"{where}: {key!r} is not a fitted attribute of "
                                 f"{spec.cls.__name__}")
            setattr(est, key, self(value, f"{where}.{key}"))
        if spec.restore is not None:
            try:
                spec.restore(est)
            except (AttributeError, IndexError, TypeError, ValueError) as exc:
                raise ValueError(f"{where}: inconsistent fitted state: {exc}") from None
        return est


# --------------------------------------------------------------------------
# files
# --------------------------------------------------------------------------
def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _canonical(document: Mapping[str, Any]) -> bytes:
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode()


def _zip_member(zf: zipfile.ZipFile, name: str, data: bytes) -> None:
    info = zipfile.ZipInfo(name, date_time=_FIXED_TIME)
    info.compress_type = zipfile.ZIP_DEFLATED
    zf.writestr(info, data)


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike) -> Iterator[BinaryIO]:
    """Open ``path`` for binary writing so that it is replaced only on success.

    The data goes to a temporary file in the same folder, which is flushed to
    disk and renamed over ``path`` when the block ends without an exception
    (``KeyboardInterrupt`` included); otherwise it is deleted and ``path`` is
    left as it was.  An ``OSError`` (a read-only folder, a full disk) is
    re-raised with the same type and ``errno``, its message naming ``path``.

    Parameters
    ----------
    path : str or path-like
        The file to write.

    Yields
    ------
    file
        A binary file object.
    """
    path = Path(path)
    try:
        fd, tmp = _create_temporary(path)
        existing = os.stat(path).st_mode if path.exists() else None
    except OSError as exc:
        raise _naming(exc, path) from exc
    try:
        with os.fdopen(fd, "wb") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        if existing is not None:  # replacing a file keeps its permissions
            os.chmod(tmp, stat.S_IMODE(existing))
        os.replace(tmp, path)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise _naming(exc, path) from exc
        raise


def _create_temporary(path: Path) -> tuple[int, str]:
    """A new, uniquely named file beside ``path``, with the permissions of a plain ``open``.

    ``tempfile.mkstemp`` would create it readable by its owner only (0600), and
    the rename would pass that on to every model file and report; created
    with mode 0666 the process's umask applies, as for any file it writes.
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    while True:
        tmp = str(path.parent / f".{path.name}.{secrets.token_hex(6)}.tmp")
        try:
            return os.open(tmp, flags, 0o666), tmp
        except FileExistsError:  # pragma: no cover - 48 random bits collided
            continue


def _naming(exc: OSError, path: Path) -> OSError:
    """The same error (type and errno), its message naming the file being written.

    A full disk fails a write with ENOSPC and no file name, and a read-only
    folder fails on the temporary file's name: both now say which file the
    caller asked for.
    """
    if exc.errno is None:
        return type(exc)(f"cannot write {path}: {exc}")
    return type(exc)(exc.errno, f"cannot write {path}: {exc.strerror}")


def save(estimator: Any, path: str | os.PathLike, *,
         metadata: Mapping[str, Any] | None = None) -> None:
    """Write a fitted (or unfitted) estimator to a safe model file.

    The file is written to a temporary name in the same folder and renamed
    into place, so ``path`` never holds a half-written model.

    Parameters
    ----------
    estimator : estimator
        An ensemblekit estimator, or a scikit-learn :class:`~sklearn.pipeline.Pipeline`
        of allowlisted steps (the preprocessing ``ensemblekit train`` builds).
    path : str or path-like
        Where to write; conventionally ending in ``.ekm`` (a zip file).
    metadata : mapping, optional
        Extra JSON-compatible information stored beside the model (the command
        line keeps the target column and the task there).

    Raises
    ------
    ValueError
        If the estimator, one of its plugins or one of its values cannot be
        stored; the message names the attribute.

    See Also
    --------
    load : Read the file back.

    Examples
    --------
    >>> import tempfile, os
    >>> from sklearn.datasets import load_iris
    >>> from ensemblekit import MLPClassifier, save, load
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = MLPClassifier((8,), solver="lbfgs", random_state=0).fit(X, y)
    >>> path = os.path.join(tempfile.mkdtemp(), "iris.ekm")
    >>> save(clf, path)
    >>> (load(path).predict(X) == clf.predict(X)).all()
    np.True_
    """
    from . import __version__

    encode = _Encoder()
    tree = encode.estimator(estimator, type(estimator).__name__)
    meta = encode(dict(metadata or {}), "metadata")
    buffer = io.BytesIO()
    # only numeric and unicode arrays reach the archive (objects go to the JSON tree), so
    # nothing needs pickle; load reads with allow_pickle=False.  (numpy < 2.1 would store
    # an allow_pickle=False keyword as an array of that name, so none is passed; numpy's
    # stubs read the arrays' names as that keyword.)
    np.savez(buffer, **encode.arrays)  # type: ignore[arg-type]
    arrays = buffer.getvalue()
    document = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "ensemblekit_version": __version__,
        "sklearn_version": sklearn.__version__,
        "numpy_version": np.__version__,
        "class": tree["class"],
        "metadata": meta,
        "estimator": tree,
        "arrays_sha256": _sha256(arrays),
    }
    document["document_sha256"] = _sha256(_canonical(document))
    with atomic_write(path) as fh, zipfile.ZipFile(fh, "w") as zf:
        _zip_member(zf, _DOCUMENT, json.dumps(document, indent=1).encode())
        _zip_member(zf, _ARRAYS, arrays)


class _Budget:
    """What one file may make :func:`load` allocate: a single sum against ``max_bytes``.

    Everything is counted *before* it is allocated, from the sizes the file
    declares: the archive's members decompressed, every array (itemsize times
    shape, at least one byte an element) and every scalar.
    """

    def __init__(self, path: Path, limit: int) -> None:
        self.path = path
        self.limit = limit
        self.spent = 0

    def spend(self, nbytes: int, what: str, *, keep: bool = True) -> None:
        """Count ``nbytes`` (described by ``what``); refuse the file past the limit.

        With ``keep=False`` the bytes must fit but are not counted (a step
        whose bytes are counted again by what it produces).
        """
        if self.spent + nbytes > self.limit:
            before = f" after {self.spent} bytes counted before" if self.spent else ""
            raise ModelFileError(
                f"{self.path}: {what}, more than max_bytes={self.limit}{before}; refused "
                "(a memory bomb?). Pass a larger max_bytes to load a model this big that "
                "you trust")
        if keep:
            self.spent += nbytes


def _check_sizes(where: str, infos: list[zipfile.ZipInfo], budget: _Budget,
                 keep: bool = True) -> None:
    total = sum(info.file_size for info in infos)
    budget.spend(total, f"{where} would decompress to {total} bytes", keep=keep)


def _read_bounded(zf: zipfile.ZipFile, name: str) -> bytes:
    """A member's bytes, decompressed a chunk at a time.

    zipfile stops at the size the member declares (and checks its CRC), so
    data that decompresses to more than that never reaches memory.
    """
    out = bytearray()
    with zf.open(name) as fh:
        while chunk := fh.read(_CHUNK):
            out += chunk
    return bytes(out)


def _read_members(path: Path, budget: _Budget) -> tuple[bytes, bytes]:
    with open(path, "rb") as fh:
        head = fh.read(4)
        size = os.fstat(fh.fileno()).st_size
    if head[:1] == b"\x80":
        raise ModelFileError(
            f"{path} is a pickle (or joblib) file, not an ensemblekit model file; "
            "ensemblekit never loads pickles because unpickling runs code. Load it "
            "with joblib only if you trust its origin, then save it with "
            "ensemblekit.save"
        )
    if head[:2] != b"PK":
        raise ModelFileError(f"{path} is not an ensemblekit model file (not a zip archive)")
    if size > budget.limit:
        raise ModelFileError(f"{path} is {size} bytes, more than max_bytes={budget.limit}; "
                             "refused. Pass a larger max_bytes to load a model this big "
                             "that you trust")
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
            names = [info.filename for info in infos]
            missing = {_DOCUMENT, _ARRAYS} - set(names)
            if missing:
                raise ModelFileError(f"{path} is a zip file but not an ensemblekit model "
                                     f"file: it lacks {', '.join(sorted(missing))}")
            extra = [n for n in names if n not in (_DOCUMENT, _ARRAYS)]
            if extra:
                raise ModelFileError(
                    f"{path}: unexpected archive member {extra[0]!r}; a model file holds "
                    f"only {_DOCUMENT} and {_ARRAYS} (refused; nothing is ever extracted)")
            if len(names) > 2:
                twice = next(n for n in names if names.count(n) > 1)
                raise ModelFileError(f"{path}: archive member {twice!r} appears more than "
                                     "once; refused")
            _check_sizes("the archive", infos, budget)
            return _read_bounded(zf, _DOCUMENT), _read_bounded(zf, _ARRAYS)
    except _DAMAGED as exc:
        raise ModelFileError(f"{path} is truncated or corrupted ({type(exc).__name__}: "
                             f"{exc}); write the model again") from None


class _LongInteger:
    """Stands for an integer literal of more than ``_MAX_INT_DIGITS`` digits."""

    def __init__(self, digits: int) -> None:
        self.digits = digits


def _parse_int(text: str) -> int | _LongInteger:
    # json would call int(text): quadratic in its length, or the interpreter's
    # ValueError past sys.get_int_max_str_digits(); the long ones are named below
    digits = len(text) - text.startswith("-")
    return int(text) if digits <= _MAX_INT_DIGITS else _LongInteger(digits)


def _check_tree(path: Path, document: Any) -> None:
    """Refuse nesting deeper than MAX_DEPTH and over-long integers, naming where they are.

    Walks with a stack of its own: the document may be too deep for recursion.
    """
    stack: list[tuple[Any, str, int]] = [(document, "", 0)]
    while stack:
        value, where, depth = stack.pop()
        if isinstance(value, _LongInteger):
            raise ModelFileError(
                f"{path}: {_DOCUMENT} at {where} holds an integer of {value.digits} digits; "
                f"model files hold integers of at most {_MAX_INT_DIGITS}; refused")
        if not isinstance(value, (dict, list)):
            continue
        if depth == MAX_DEPTH:
            raise ModelFileError(f"{path}: {_DOCUMENT} nests deeper than {MAX_DEPTH} "
                                 f"levels, at {where}; refused")
        if isinstance(value, dict):
            stack.extend((v, f"{where}.{k}" if where else k, depth + 1)
                         for k, v in value.items())
        else:
            stack.extend((v, f"{where}[{i}]", depth + 1) for i, v in enumerate(value))


_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"')


def _deepest_path(raw: bytes) -> str:
    """Where in a JSON text nesting first goes deeper than MAX_DEPTH, as a document path.

    Used when the text is too deep for ``json.loads``: the text up to that
    point, its open brackets closed, is parsed instead, and the path follows
    the last item of every container.
    """
    # strings blanked out (same length), so that only structural brackets count
    text = _STRING.sub(lambda m: b'"' + b"_" * (len(m.group()) - 2) + b'"', raw)
    depth, opened = 0, []
    for offset in range(len(text)):
        char = text[offset]
        if char in b"[{":
            if depth == MAX_DEPTH:
                break
            depth += 1
            opened.append(char)
        elif char in b"]}" and opened:
            depth -= 1
            opened.pop()
    else:
        return "an unknown place"
    closing = b"".join(b"]" if c == ord("[") else b"}" for c in reversed(opened))
    try:
        value = json.loads(raw[:offset] + b"null" + closing)
    except (ValueError, RecursionError):
        return f"byte {offset}"
    where = ""
    while isinstance(value, (dict, list)) and value:
        if isinstance(value, dict):
            key = list(value)[-1]
            where, value = (f"{where}.{key}" if where else key), value[key]
        else:
            where, value = f"{where}[{len(value) - 1}]", value[-1]
    return where


def _parse_cost(raw: bytes) -> tuple[int, int]:
    """``(values, bytes)``: the JSON values ``raw`` may hold, and what parsing it may take."""
    values = sum(raw.count(c) for c in (b",", b":", b"[", b"{"))
    return values, PARSE_BYTES_PER_CHAR * len(raw) + PARSE_BYTES_PER_VALUE * values


def _read_document(path: Path, raw: bytes, arrays: bytes) -> dict:
    try:
        document = json.loads(raw, parse_int=_parse_int)
    except RecursionError:
        raise ModelFileError(f"{path}: {_DOCUMENT} nests deeper than {MAX_DEPTH} levels, "
                             f"at {_deepest_path(raw)}; refused") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelFileError(f"{path}: {_DOCUMENT} is not valid JSON ({exc})") from None
    _check_tree(path, document)
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise ModelFileError(f"{path} is not an ensemblekit model file "
                             f"({_DOCUMENT} does not declare format {FORMAT!r})")
    version = document.get("format_version")
    if type(version) is not int or version != FORMAT_VERSION:
        raise ModelFileError(
            f"{path} has model format version {version!r} (written by ensemblekit "
            f"{document.get('ensemblekit_version', '?')}); this ensemblekit reads "
            f"version {FORMAT_VERSION}: install the ensemblekit version that wrote it"
        )
    claimed = document.pop("document_sha256", None)
    if claimed != _sha256(_canonical(document)):
        raise ModelFileError(f"{path}: {_DOCUMENT} does not match its SHA-256 digest; "
                             "the file was modified after it was written")
    if document.get("arrays_sha256") != _sha256(arrays):
        raise ModelFileError(f"{path}: {_ARRAYS} does not match its SHA-256 digest; "
                             "the file was modified after it was written")
    return document


def _read_arrays(path: Path, data: bytes, budget: _Budget) -> dict[str, np.ndarray]:
    arrays: dict[str, np.ndarray] = {}
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as inner:
            infos = inner.infolist()
            names = [info.filename for info in infos]
            for name in names:
                if not (name.endswith(".npy") and name[:-4].isidentifier()):
                    raise ModelFileError(f"{path}: {_ARRAYS} has an unexpected member "
                                         f"{name!r}; refused")
                if names.count(name) > 1:  # numpy would read the last copy, others the first
                    raise ModelFileError(f"{path}: {_ARRAYS} member {name!r} appears more "
                                         "than once; refused")
            # the arrays these decompress to are counted below, by what they declare
            _check_sizes(_ARRAYS, infos, budget, keep=False)
            for info in infos:
                arrays[info.filename[:-4]] = _read_array(path, inner, info, budget)
    except ModelFileError:
        raise
    # numpy parses a .npy header with the tokenizer: damaged ones raise its errors
    except (ValueError, SyntaxError, tokenize.TokenError) as exc:
        raise ModelFileError(f"{path}: {_ARRAYS} is unreadable ({exc}); refused") from None
    except MemoryError:
        raise ModelFileError(f"{path}: {_ARRAYS} declares an array too large for "
                             "memory; refused") from None
    except _DAMAGED as exc:
        raise ModelFileError(f"{path}: {_ARRAYS} is unreadable ({type(exc).__name__}: "
                             f"{exc})") from None
    return arrays


def _read_array(path: Path, inner: zipfile.ZipFile, info: zipfile.ZipInfo,
                budget: _Budget) -> np.ndarray:
    """One ``.npy`` member, its header checked against the budget before its data is read."""
    key = info.filename[:-4]
    with inner.open(info) as fh:
        try:
            version = np.lib.format.read_magic(fh)
        except ValueError:
            raise ModelFileError(f"{path}: {_ARRAYS} member {key!r} is not a .npy array; "
                                 "refused") from None
        read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                       else np.lib.format.read_array_header_2_0)
        shape, _, dtype = read_header(fh)
        if dtype.hasobject:
            raise ModelFileError(f"{path}: {_ARRAYS} holds an array that needs pickle "
                                 f"({key!r}, dtype {dtype}); refused")
        if dtype.kind not in _ARRAY_KINDS or dtype.fields is not None:
            raise ModelFileError(f"{path}: array {key!r} has dtype {dtype}, "
                                 "which model files do not use")
        if any(n < 0 for n in shape):
            raise ModelFileError(f"{path}: array {key!r} declares the shape {list(shape)}; "
                                 "refused")
        count = 1
        for n in shape:
            count *= n
        declared = max(dtype.itemsize, 1) * count
        budget.spend(declared, f"array {key!r} declares {dtype.str} {list(shape)}: at least "
                               f"{declared} bytes")
        if dtype.itemsize == 0:
            raise ModelFileError(f"{path}: array {key!r} has the zero-size dtype "
                                 f"{dtype.str}, which model files do not use; refused")
        held = info.file_size - fh.tell()
        if held != dtype.itemsize * count:
            raise ModelFileError(f"{path}: array {key!r} declares {dtype.itemsize * count} "
                                 f"bytes of data but holds {held}; refused")
        fh.seek(0)
        return np.lib.format.read_array(fh, allow_pickle=False)


def load(path: str | os.PathLike, *, return_metadata: bool = False,
         max_bytes: int = MAX_BYTES) -> Any:
    """Read an estimator written by :func:`save`, without running stored code.

    Parameters
    ----------
    path : str or path-like
        The model file.
    return_metadata : bool, default=False
        Also return the metadata stored by :func:`save`.
    max_bytes : int, default=MAX_BYTES
        The largest file, and the most its contents may decompress to, that
        is read (1 GiB); a bigger file is refused before anything is
        decompressed.  It is also the budget of everything the file makes
        this function allocate, counted beforehand (the module's docstring
        says how).  Raise it for a model you trust that is this big.

    Returns
    -------
    estimator : estimator
        The estimator, predicting exactly as the one saved.
    metadata : dict
        Only when ``return_metadata``: the stored metadata, plus the versions
        that wrote the file under ``"written_by"``.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ModelFileError
        (a ``ValueError``) if the file is a pickle, not a model file,
        truncated or corrupted, modified after it was written (digest
        mismatch), bigger than ``max_bytes`` or decompressing to more (a zip
        bomb), holds an archive member other than the model's two (a path
        such as ``../x`` included), is from an unknown format version, names
        a class outside the
        allowlist or a plugin that is not installed, or holds inconsistent
        arrays (shapes, dtypes, non-finite weights).

    See Also
    --------
    save : Write a model file.
    """
    if isinstance(max_bytes, bool) or not isinstance(max_bytes, (int, np.integer)) or (
            max_bytes < 1):
        raise ValueError(f"max_bytes must be a positive integer, got {max_bytes!r}")
    path = Path(path)
    budget = _Budget(path, int(max_bytes))
    raw, array_bytes = _read_members(path, budget)
    values, cost = _parse_cost(raw)
    budget.spend(cost, f"{_DOCUMENT} ({len(raw)} bytes, up to {values} JSON values) may "
                       f"take {cost} bytes to parse")
    document = _read_document(path, raw, array_bytes)
    decode = _Decoder(_read_arrays(path, array_bytes, budget), budget)
    try:
        if not isinstance(document.get("estimator"), dict) or (
                document["estimator"].get("$") != "estimator"):
            raise ValueError("the document holds no estimator")
        estimator = decode(document["estimator"], "estimator")
        metadata = decode(document.get("metadata", {}), "metadata")
    except ModelFileError:
        raise
    except (ValueError, RecursionError) as exc:
        raise ModelFileError(f"{path}: {exc}") from None
    if not return_metadata:
        return estimator
    metadata["written_by"] = {k: document.get(f"{k}_version")
                              for k in ("ensemblekit", "sklearn", "numpy")}
    return estimator, metadata
