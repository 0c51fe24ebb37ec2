"""Bad input to the other public entry points: ensembles, search, save/load.

The estimators' own table is in ``test_bad_input_estimators.py``; the
command line's in ``test_cli.py`` and ``test_search.py``.  Here the same kinds
of bad data reach :class:`~ensemblekit.EnsembleClassifier`,
:class:`~ensemblekit.EnsembleRegressor` and
:class:`~ensemblekit.CoarseToFineSearchCV` (every exception names the
problem, raised before any training), and :func:`ensemblekit.save` /
:func:`ensemblekit.load` get wrong arguments.
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_diabetes, load_iris
from sklearn.exceptions import NotFittedError

import ensemblekit
from ensemblekit import (
    CoarseToFineSearchCV,
    EnsembleClassifier,
    EnsembleRegressor,
    MLPClassifier,
    MLPRegressor,
)

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

X, Y = load_iris(return_X_y=True)
XR, YR = load_diabetes(return_X_y=True)


def _ens_clf(**kw):
    return EnsembleClassifier(MLPClassifier(hidden_layer_sizes=(4,), max_iter=3),
                              n_estimators=2, random_state=0, **kw)


def _ens_reg(**kw):
    return EnsembleRegressor(MLPRegressor(hidden_layer_sizes=(4,), max_iter=3),
                             n_estimators=2, random_state=0, **kw)


def _search(**kw):
    return CoarseToFineSearchCV(MLPClassifier(hidden_layer_sizes=(4,), max_iter=3),
                                {"alpha": (1e-5, 1e-1, "log")}, n_rounds=1,
                                n_candidates=2, top_k=1, cv=2, random_state=0, **kw)


def _with(data, value):
    out = data.copy()
    out[0, 0] = value
    return out


def _overflowed_float32():
    """X with 1e308 cast to float32 (where it becomes inf), quietly."""
    with np.errstate(over="ignore"):
        return _with(X, 1e308).astype(np.float32)


#: (label, bad X, bad y or None for the good one, exception, message)
BAD_DATA = [
    ("nan in X", _with(X, np.nan), None, ValueError, "NaN"),
    ("inf in X", _with(X, np.inf), None, ValueError, "infinity"),
    ("-inf in X", _with(X, -np.inf), None, ValueError, "infinity"),
    ("1e308 overflows float32", _overflowed_float32(), None, ValueError,
     "infinity"),
    ("complex X", X + 1j, None, ValueError, "Complex data"),
    ("string X", np.array([["a", "b"]] * 150), None, ValueError, "could not convert string"),
    ("1-D X", X[:, 0], None, ValueError, "Expected 2D array"),
    ("3-D X", X[:, :, None], None, ValueError, "dim 3"),
    ("zero rows", X[:0], Y[:0], ValueError, "0 sample"),
    ("zero columns", X[:, :0], None, ValueError, "0 feature"),
    ("mismatched lengths", X, Y[:-1], ValueError, "inconsistent numbers of samples"),
    ("nan in y", X, np.where(Y == 0, np.nan, Y), ValueError, "NaN|Unknown label type"),
    ("continuous y", X, np.linspace(0, 1, 150), ValueError, "Unknown label type"),
]

ESTIMATORS = {"EnsembleClassifier": _ens_clf, "CoarseToFineSearchCV": _search}


@pytest.mark.parametrize("make", list(ESTIMATORS.values()), ids=list(ESTIMATORS))
@pytest.mark.parametrize("label, data, target, exc, match", BAD_DATA,
                         ids=[c[0] for c in BAD_DATA])
def test_bad_training_data_is_named(make, label, data, target, exc, match):
    with pytest.raises(exc, match=match):
        make().fit(data, Y if target is None else target)


@pytest.mark.parametrize("label, target, match", [
    ("string y", np.array(["a"] * len(YR), dtype=object), "could not convert|numeric"),
    ("nan in y", np.full(len(YR), np.nan), "NaN"),
    ("inf in y", np.full(len(YR), np.inf), "infinity"),
], ids=["string y", "nan in y", "inf in y"])
def test_bad_regression_target_is_named(label, target, match):
    with pytest.raises(ValueError, match=match):
        _ens_reg().fit(XR, target)


@pytest.fixture(scope="module")
def fitted():
    return _ens_clf().fit(X, Y), _ens_reg().fit(XR, YR)


@pytest.mark.parametrize("method", ["predict", "predict_proba", "predict_log_proba",
                                    "predict_uncertainty", "score"])
def test_bad_prediction_input_is_named(fitted, method):
    clf, _ = fitted
    call = getattr(clf, method)
    args = (Y,) if method == "score" else ()
    with pytest.raises(ValueError, match="X has 2 features, but EnsembleClassifier is "
                                         "expecting 4"):
        call(X[:, :2], *args)
    with pytest.raises(ValueError, match="NaN"):
        call(_with(X, np.nan), *args)
    with pytest.raises(ValueError, match="Expected 2D array"):
        call(X[0], *args)
    with pytest.raises(NotFittedError, match="not fitted yet"):
        getattr(_ens_clf(), method)(X, *args)


def test_regressor_prediction_input_is_named(fitted):
    _, reg = fitted
    with pytest.raises(ValueError, match="X has 3 features, but EnsembleRegressor is "
                                         "expecting 10"):
        reg.predict(XR[:, :3], return_std=True)
    with pytest.raises(NotFittedError):
        _ens_reg().predict(XR, return_std=True)


def test_feature_names_must_match_at_prediction():
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    ens = _ens_clf().fit(frame, Y)
    with pytest.raises(ValueError, match="Feature names"):
        ens.predict(frame.rename(columns={"a": "z"}))


@pytest.mark.parametrize("data", [
    X.astype(np.float32), X.astype(int), X > 3, np.asfortranarray(X), X.tolist(),
], ids=["float32", "int", "bool", "fortran", "list of lists"])
def test_valid_input_works_for_ensembles(data):
    ens = _ens_clf().fit(data, Y)
    proba = ens.predict_proba(data)
    assert proba.shape == (150, 3) and np.allclose(proba.sum(axis=1), 1)


def test_read_only_input_works_for_ensembles():
    frozen = X.copy()
    frozen.flags.writeable = False
    assert _ens_clf().fit(frozen, Y).predict(frozen).shape == (150,)


# --------------------------------------------------------------------------
# save / load
# --------------------------------------------------------------------------
def test_save_refuses_what_is_not_an_estimator(tmp_path):
    with pytest.raises(ValueError, match="cannot save dict: dict is not one of the classes"):
        ensemblekit.save({"coefs": [1, 2]}, tmp_path / "m.ekm")
    assert not (tmp_path / "m.ekm").exists()


def test_save_to_a_directory_or_a_missing_folder_is_named(fitted, tmp_path):
    clf, _ = fitted
    with pytest.raises(IsADirectoryError, match=str(tmp_path)):
        ensemblekit.save(clf, tmp_path)
    with pytest.raises(FileNotFoundError, match="no-such-folder"):
        ensemblekit.save(clf, tmp_path / "no-such-folder" / "m.ekm")


def test_load_of_a_directory_or_an_empty_file_is_named(tmp_path):
    with pytest.raises(IsADirectoryError, match=str(tmp_path)):
        ensemblekit.load(tmp_path)
    (tmp_path / "empty.ekm").write_bytes(b"")
    with pytest.raises(ensemblekit.ModelFileError, match="empty.ekm"):
        ensemblekit.load(tmp_path / "empty.ekm")
