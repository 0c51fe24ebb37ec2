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
other member (a path such as ``../x`` included), a member twice, or more than
``max_bytes`` (:data:`MAX_BYTES`) once decompressed: members are
decompressed a chunk at a time, never beyond the size they declare.
Loading never imports anything named in the file: an estimator class is
looked up in this module's allowlist (:func:`register_estimator` adds to it)
and a plugin in :func:`ensemblekit.plugins.get_registry`.  Array dtypes and
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
import secrets
import stat
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

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
from .ensemble import EnsembleClassifier, EnsembleRegressor
from .mlp import DivergenceWarning, MLPClassifier, MLPRegressor
from .plugins import Plugin, PluginLoadWarning, get_registry
from .schema import ColumnSchema

__all__ = [
    "FORMAT_VERSION",
    "MAX_BYTES",
    "ModelFileError",
    "atomic_write",
    "load",
    "register_estimator",
    "save",
]

FORMAT = "ensemblekit-model"
#: Version of the file layout written by :func:`save`; :func:`load` reads it only.
FORMAT_VERSION = 1
#: Default ``max_bytes`` of :func:`load`: the largest model file it reads, and
#: the most the file's members, and the arrays in them, may decompress to (1 GiB).
MAX_BYTES = 1 << 30
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


class ModelFileError(ValueError):
    """A file is not a model :func:`load` can read; the message says why."""


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
        return {"$": "plugin", "name": name,
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

    def __init__(self, arrays: Mapping[str, np.ndarray]) -> None:
        self.arrays = arrays

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
        except (KeyError, TypeError) as exc:
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
        # numpy's stubs type any ndarray index as an array; () on a 0-d one is a scalar
        return np.array(obj["value"], dtype=dtype)[()]  # type: ignore[return-value]

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
        try:
            plugin = get_registry().create(obj["name"], **params)
        except TypeError as exc:
            raise ValueError(f"{where}: plugin {obj['name']!r} rejects the stored "
                             f"parameters: {exc}") from None
        except ValueError as exc:
            raise ValueError(f"{where}: the model needs a plugin that is not "
                             f"installed. {exc}") from None
        for key, value in self(obj["fitted"], where).items():
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
        params = self(obj["params"], where)
        fitted = obj["fitted"]
        if not isinstance(params, dict) or not isinstance(fitted, dict):
            raise ValueError(f"{where}: params and fitted must be objects")
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


def _check_sizes(path: Path, where: str, infos: list[zipfile.ZipInfo],
                 max_bytes: int) -> None:
    total = sum(info.file_size for info in infos)
    if total > max_bytes:
        raise ModelFileError(
            f"{path}: {where} would decompress to {total} bytes, more than "
            f"max_bytes={max_bytes}; refused (a zip bomb?). Pass a larger max_bytes "
            "to load a model this big that you trust"
        )


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


def _read_members(path: Path, max_bytes: int) -> tuple[bytes, bytes]:
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
    if size > max_bytes:
        raise ModelFileError(f"{path} is {size} bytes, more than max_bytes={max_bytes}; "
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
            _check_sizes(path, "the archive", infos, max_bytes)
            return _read_bounded(zf, _DOCUMENT), _read_bounded(zf, _ARRAYS)
    except _DAMAGED as exc:
        raise ModelFileError(f"{path} is truncated or corrupted ({type(exc).__name__}: "
                             f"{exc}); write the model again") from None


def _read_document(path: Path, raw: bytes, arrays: bytes) -> dict:
    try:
        document = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise ModelFileError(f"{path}: {_DOCUMENT} is not valid JSON ({exc})") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise ModelFileError(f"{path} is not an ensemblekit model file "
                             f"({_DOCUMENT} does not declare format {FORMAT!r})")
    version = document.get("format_version")
    if version != FORMAT_VERSION:
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


def _read_arrays(path: Path, data: bytes, max_bytes: int) -> dict[str, np.ndarray]:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as inner:
            infos = inner.infolist()
        for info in infos:
            if not (info.filename.endswith(".npy") and info.filename[:-4].isidentifier()):
                raise ModelFileError(f"{path}: {_ARRAYS} has an unexpected member "
                                     f"{info.filename!r}; refused")
        _check_sizes(path, _ARRAYS, infos, max_bytes)
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            arrays = {key: npz[key] for key in npz.files}
    except ModelFileError:
        raise
    except ValueError as exc:
        reason = ("holds an array that needs pickle" if "allow_pickle" in str(exc)
                  else "is unreadable")
        raise ModelFileError(f"{path}: {_ARRAYS} {reason} ({exc}); refused") from None
    except MemoryError:
        raise ModelFileError(f"{path}: {_ARRAYS} declares an array too large for "
                             "memory; refused") from None
    except _DAMAGED as exc:
        raise ModelFileError(f"{path}: {_ARRAYS} is unreadable ({type(exc).__name__}: "
                             f"{exc})") from None
    for key, arr in arrays.items():
        if not isinstance(arr, np.ndarray):  # numpy hands back the raw bytes
            raise ModelFileError(f"{path}: {_ARRAYS} member {key!r} is not a .npy array; "
                                 "refused")
        if arr.dtype.kind not in _ARRAY_KINDS or arr.dtype.fields is not None:
            raise ModelFileError(f"{path}: array {key!r} has dtype {arr.dtype}, "
                                 "which model files do not use")
    return arrays


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
        decompressed.  Raise it for a model you trust that is this big.

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
    raw, array_bytes = _read_members(path, int(max_bytes))
    document = _read_document(path, raw, array_bytes)
    decode = _Decoder(_read_arrays(path, array_bytes, int(max_bytes)))
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
