"""Safe model files: exact round trips, and refusal of anything unsafe or damaged."""

from __future__ import annotations

import hashlib
import io
import json
import os
import pickle
import warnings
import zipfile
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
from scipy import sparse
from sklearn.compose import ColumnTransformer
from sklearn.datasets import load_diabetes, load_digits, load_iris
from sklearn.exceptions import ConvergenceWarning
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from ensemblekit import (
    Dropout,
    MLPClassifier,
    MLPRegressor,
    ModelFileError,
    Plugin,
    WeightDecay,
    load,
    save,
)
from ensemblekit.io import register_estimator

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def iris():
    X, y = load_iris(return_X_y=True)
    return X, y


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X[:400] / 16, y[:400]


@pytest.fixture(scope="module")
def diabetes():
    return load_diabetes(return_X_y=True)


def _round_trip(est, X, tmp_path):
    path = tmp_path / "model.ekm"
    save(est, path)
    loaded = load(path)
    assert type(loaded) is type(est)
    before, after = est.predict(X), loaded.predict(X)
    assert before.dtype == after.dtype
    np.testing.assert_array_equal(before, after)
    if hasattr(est, "predict_proba"):
        np.testing.assert_array_equal(est.predict_proba(X), loaded.predict_proba(X))
    return loaded


def _kw(**extra):
    return dict(hidden_layer_sizes=(8,), max_iter=15, random_state=0, **extra)


@pytest.mark.parametrize("case", [
    "multiclass", "binary", "string-labels", "multilabel", "float32", "batch-norm",
    "plugins", "book-dropout", "early-stopping", "lbfgs", "sparse",
])
def test_classifier_round_trip_is_exact(case, digits, tmp_path):
    X, y = digits
    kw = _kw()
    if case == "binary":
        y = y % 2 == 0
    elif case == "string-labels":
        y = np.array([f"digit {v}" for v in y], dtype=object)
    elif case == "multilabel":
        y = np.c_[y % 2 == 0, y > 4, y == 3].astype(int)
    elif case == "float32":
        X = X.astype(np.float32)
    elif case == "batch-norm":
        kw.update(hidden_layer_sizes=(8, 6), batch_norm=True)
    elif case == "plugins":
        kw.update(plugins=[Dropout(rate=0.2), ("l2", WeightDecay(alpha=1e-3))])
    elif case == "book-dropout":  # changes inference: rebuilt from plugins_ on load
        kw.update(plugins=[Dropout(rate=0.3, mode="book")])
    elif case == "early-stopping":
        kw.update(early_stopping=True, batch_norm=True)
    elif case == "lbfgs":
        kw.update(solver="lbfgs")
    elif case == "sparse":
        X = sparse.csr_matrix(X)
    est = MLPClassifier(**kw).fit(X, y)
    loaded = _round_trip(est, X, tmp_path)
    np.testing.assert_array_equal(loaded.classes_, est.classes_)
    assert loaded.history_ == est.history_
    assert [n for n, _ in loaded.plugins_] == [n for n, _ in est.plugins_]
    assert repr(loaded) == repr(est)


def test_registered_plugin_names_in_params_survive(iris, tmp_path):
    X, y = iris
    est = MLPClassifier(**_kw(plugins=["dropout", ("wd", WeightDecay(alpha=0.01))]))
    loaded = _round_trip(est.fit(X, y), X, tmp_path)
    assert loaded.plugins[0] == "dropout"
    assert loaded.plugins[1][0] == "wd" and loaded.plugins[1][1].alpha == 0.01


@pytest.mark.parametrize("case", ["single", "multi-output", "float32", "batch-norm",
                                  "poisson-lbfgs", "dataframe"])
def test_regressor_round_trip_is_exact(case, diabetes, tmp_path):
    X, y = diabetes
    kw = _kw()
    if case == "multi-output":
        y = np.c_[y, X[:, 2]]
    elif case == "float32":
        X, y = X.astype(np.float32), y.astype(np.float32)
    elif case == "batch-norm":
        kw.update(batch_norm=True, hidden_layer_sizes=(8, 8))
    elif case == "poisson-lbfgs":
        kw.update(loss="poisson", solver="lbfgs")
        y = y / 100
    elif case == "dataframe":
        X = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    est = MLPRegressor(**kw).fit(X, y)
    loaded = _round_trip(est, X, tmp_path)
    if case == "dataframe":
        np.testing.assert_array_equal(loaded.feature_names_in_, est.feature_names_in_)


def test_unfitted_estimator_round_trips_its_parameters(tmp_path):
    est = MLPClassifier(hidden_layer_sizes=(3, 4), n_iter_no_change=np.inf, weight_init=0.1,
                        plugins=[Dropout(0.1)])
    save(est, tmp_path / "m.ekm")
    loaded = load(tmp_path / "m.ekm")
    assert repr(loaded) == repr(est)
    assert loaded.hidden_layer_sizes == (3, 4) and loaded.n_iter_no_change == np.inf


def _mixed_frame(n=120, seed=0):
    rng = np.random.default_rng(seed)
    colour = rng.choice(np.array(["red", "green", "blue"], dtype=object), n)
    size = rng.normal(size=n)
    frame = pd.DataFrame({"colour": colour, "size": size, "count": rng.integers(0, 5, n)})
    frame.loc[::7, "colour"] = np.nan
    frame.loc[::5, "size"] = np.nan
    y = np.where((colour == "red") ^ (np.nan_to_num(size) > 0), "yes", "no")
    return frame, y


def test_preprocessing_pipeline_round_trip_is_exact(tmp_path):
    X, y = _mixed_frame()
    pre = ColumnTransformer([
        ("num", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()),
         ["size", "count"]),
        ("cat", make_pipeline(SimpleImputer(strategy="most_frequent"),
                              OneHotEncoder(handle_unknown="ignore")), ["colour"]),
    ])
    pipe = Pipeline([("preprocess", pre),
                     ("model", MLPClassifier(**_kw(plugins=[Dropout(0.1)])))]).fit(X, y)
    loaded = _round_trip(pipe, X, tmp_path)
    unseen = X.copy()
    unseen.loc[:3, "colour"] = "purple"  # handle_unknown="ignore" kept
    np.testing.assert_array_equal(loaded.predict_proba(unseen), pipe.predict_proba(unseen))
    with pytest.raises(ValueError, match="size"):
        loaded.predict(X.drop(columns="size"))


def test_metadata_is_returned_with_versions(iris, tmp_path):
    X, y = iris
    save(MLPClassifier(**_kw()).fit(X, y), tmp_path / "m.ekm",
         metadata={"target": "species", "columns": ("a", "b")})
    _, meta = load(tmp_path / "m.ekm", return_metadata=True)
    assert meta["target"] == "species" and meta["columns"] == ("a", "b")
    assert meta["written_by"]["ensemblekit"]


def test_loaded_model_keeps_training(iris, tmp_path):
    X, y = iris
    est = MLPClassifier(**_kw()).fit(X, y)
    save(est, tmp_path / "m.ekm")
    loaded = load(tmp_path / "m.ekm")
    loaded.partial_fit(X, y)
    assert loaded.n_iter_ == 1 and len(loaded.history_) == len(est.history_) + 1


def test_same_model_same_bytes(iris, tmp_path):
    X, y = iris
    est = MLPClassifier(**_kw()).fit(X, y)
    save(est, tmp_path / "a.ekm")
    save(est, tmp_path / "b.ekm")
    assert (tmp_path / "a.ekm").read_bytes() == (tmp_path / "b.ekm").read_bytes()


# --------------------------------------------------------------------------
# what save refuses
# --------------------------------------------------------------------------
class _Unregistered(Plugin):
    name = "not_in_registry"


@pytest.mark.parametrize("est, match", [
    (LogisticRegression(), "LogisticRegression is not one of the classes"),
    (MLPClassifier(random_state=np.random.RandomState(0)), "random_state to an int"),
    (MLPClassifier(plugins=[_Unregistered()]), "not in the plugin registry"),
    (MLPClassifier(weight_init=object()), "MLPClassifier.weight_init"),
])
def test_save_refuses_what_it_cannot_store_and_keeps_the_old_file(est, match, tmp_path):
    path = tmp_path / "m.ekm"
    path.write_bytes(b"previous")
    with pytest.raises(ValueError, match=match):
        save(est, path)
    assert path.read_bytes() == b"previous"
    assert os.listdir(tmp_path) == ["m.ekm"]  # no temporary file left behind


def test_save_refuses_unknown_fitted_attributes(iris, tmp_path):
    X, y = iris
    scaler = StandardScaler().fit(X)
    scaler.surprise_ = 1
    with pytest.raises(ValueError, match=r"\['surprise_'\].*does not list"):
        save(scaler, tmp_path / "m.ekm")


def test_register_estimator_refuses_a_conflicting_entry():
    with pytest.raises(ValueError, match="already registered"):
        register_estimator("sklearn.StandardScaler", LogisticRegression, fitted=())


# --------------------------------------------------------------------------
# what load refuses
# --------------------------------------------------------------------------
class _Booby:
    """Unpickling this creates the marker file: proof that code ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_pickle_is_refused_without_being_executed(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "model.ekm"
    path.write_bytes(pickle.dumps(_Booby(marker)))
    with pytest.raises(ModelFileError, match="is a pickle .* never loads pickles"):
        load(path)
    assert not marker.exists()
    pickle.loads(path.read_bytes()).close()  # the file really was booby-trapped
    assert marker.exists()


def test_joblib_file_is_refused_without_being_executed(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "model.joblib"
    joblib.dump(_Booby(marker), path)
    with pytest.raises(ModelFileError, match="pickle"):
        load(path)
    assert not marker.exists()


def _rewrite(src: Path, dst: Path, edit_document=None, arrays: bytes | None = None,
             redigest: bool = True) -> None:
    """Copy a model file, editing it; recompute its digests like an attacker would."""
    with zipfile.ZipFile(src) as zf:
        document = json.loads(zf.read("model.json"))
        array_bytes = zf.read("arrays.npz") if arrays is None else arrays
    if edit_document is not None:
        edit_document(document)
    if redigest:
        document["arrays_sha256"] = hashlib.sha256(array_bytes).hexdigest()
        document.pop("document_sha256")
        canonical = json.dumps(document, sort_keys=True, separators=(",", ":")).encode()
        document["document_sha256"] = hashlib.sha256(canonical).hexdigest()
    with zipfile.ZipFile(dst, "w") as zf:
        zf.writestr("model.json", json.dumps(document))
        zf.writestr("arrays.npz", array_bytes)


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    X, y = load_iris(return_X_y=True)
    path = tmp_path_factory.mktemp("saved") / "model.ekm"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        save(MLPClassifier(**_kw(batch_norm=True, plugins=[Dropout(0.1)])).fit(X, y), path)
    return path


def test_pickled_array_inside_a_model_file_is_refused_without_being_executed(
        saved, tmp_path):
    marker = tmp_path / "pwned"
    buffer = io.BytesIO()
    np.savez(buffer, a0=np.array([_Booby(marker)], dtype=object))
    _rewrite(saved, tmp_path / "bad.ekm", arrays=buffer.getvalue())
    with pytest.raises(ModelFileError, match="needs pickle"):
        load(tmp_path / "bad.ekm")
    assert not marker.exists()


def test_tampered_arrays_fail_the_digest(saved, tmp_path):
    X, y = load_iris(return_X_y=True)
    with zipfile.ZipFile(saved) as zf:
        npz = dict(np.load(io.BytesIO(zf.read("arrays.npz"))))
    npz["a0"] = npz["a0"] * 2
    buffer = io.BytesIO()
    np.savez(buffer, **npz)
    _rewrite(saved, tmp_path / "bad.ekm", arrays=buffer.getvalue(), redigest=False)
    with pytest.raises(ModelFileError, match="arrays.npz does not match its SHA-256"):
        load(tmp_path / "bad.ekm")


def test_tampered_document_fails_the_digest(saved, tmp_path):
    def edit(doc):
        doc["estimator"]["params"]["activation"] = "tanh"

    _rewrite(saved, tmp_path / "bad.ekm", edit, redigest=False)
    with pytest.raises(ModelFileError, match="model.json does not match its SHA-256"):
        load(tmp_path / "bad.ekm")


def _set_first_array(saved, tmp_path, value):
    with zipfile.ZipFile(saved) as zf:
        npz = dict(np.load(io.BytesIO(zf.read("arrays.npz"))))
    npz["a0"] = value(npz["a0"])
    buffer = io.BytesIO()
    np.savez(buffer, **npz)
    return buffer.getvalue()


@pytest.mark.parametrize("edit, arrays, match", [
    (lambda d: d.update(format_version=99), None, "format version 99 .* reads version 1"),
    (lambda d: d.update(format="something-else"), None, "not an ensemblekit model file"),
    (lambda d: d["estimator"].update({"class": "os.system"}), None,
     "'os.system' is not one of the classes"),
    (lambda d: d["estimator"]["fitted"].update(__class__=None), None,
     "'__class__' is not a fitted attribute"),
    (lambda d: d["estimator"]["params"]["plugins"][0].update(name="evil"), None,
     "needs a plugin that is not installed.*'evil'"),
    (lambda d: d["estimator"]["params"]["plugins"][0]["params"].update(speed=1), None,
     "plugin 'dropout' rejects the stored parameters"),
    (lambda d: d["estimator"]["params"].update(solver="warp"), None,
     "inconsistent fitted state.*solver"),
    (lambda d: d["estimator"]["fitted"].update(n_layers_=7), None, "n_layers_=7"),
    (lambda d: d["estimator"]["fitted"].update(out_activation_="exec"), None,
     "unknown output activation"),
    (lambda d: d["estimator"]["fitted"]["coefs_"][0].update(dtype="|O"), None,
     "is <f8 .* the document says"),
    (None, lambda a: np.full_like(a, np.nan), "coefs_\\[0\\] holds non-finite values"),
    (None, lambda a: a[:2], "array 'a0' is <f8 \\[2, 8\\]"),
    (lambda d: d["estimator"]["fitted"]["intercepts_"][0].update(key="a0", shape=[4, 8]),
     None,
     "intercepts_ has shapes"),
])
def test_inconsistent_files_are_refused_with_a_clear_error(saved, tmp_path, edit, arrays,
                                                           match):
    data = _set_first_array(saved, tmp_path, arrays) if arrays is not None else None
    _rewrite(saved, tmp_path / "bad.ekm", edit, arrays=data)
    with pytest.raises(ModelFileError, match=match):
        load(tmp_path / "bad.ekm")


def test_truncated_file_is_refused(saved, tmp_path):
    data = saved.read_bytes()
    (tmp_path / "cut.ekm").write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelFileError, match="truncated or corrupted"):
        load(tmp_path / "cut.ekm")


@pytest.mark.parametrize("content, match", [
    (b"colour,size\nred,1\n", "not an ensemblekit model file \\(not a zip"),
    (b"", "not a zip"),
])
def test_other_files_are_refused(tmp_path, content, match):
    (tmp_path / "x.ekm").write_bytes(content)
    with pytest.raises(ModelFileError, match=match):
        load(tmp_path / "x.ekm")


def test_zip_without_a_model_is_refused(tmp_path):
    with zipfile.ZipFile(tmp_path / "x.ekm", "w") as zf:
        zf.writestr("readme.txt", "hello")
    with pytest.raises(ModelFileError, match="lacks arrays.npz, model.json"):
        load(tmp_path / "x.ekm")


def test_missing_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        load(tmp_path / "nope.ekm")


@pytest.mark.parametrize("kw", [
    {}, {"bootstrap": True, "combiner": "vote"}, {"combiner": "geometric_mean"},
    {"strategy": "snapshot"}, {"strategy": "mc_dropout"},
])
def test_ensemble_classifier_round_trip_is_exact(kw, iris, tmp_path):
    from ensemblekit import EnsembleClassifier

    X, y = iris
    member = MLPClassifier(hidden_layer_sizes=(4,), max_iter=5, plugins=[Dropout(0.2)])
    ens = EnsembleClassifier(member, n_estimators=3, random_state=0, **kw).fit(X, y)
    loaded = _round_trip(ens, X, tmp_path)
    assert loaded.member_seeds_ == ens.member_seeds_
    assert loaded.member_status_[0]["warnings"] == ens.member_status_[0]["warnings"]


def test_ensemble_regressor_round_trip_keeps_the_spread(diabetes, tmp_path):
    from ensemblekit import EnsembleRegressor

    X, y = diabetes
    ens = EnsembleRegressor(MLPRegressor(hidden_layer_sizes=(4,), max_iter=5),
                            n_estimators=3, bootstrap=True, random_state=0).fit(X, y)
    loaded = _round_trip(ens, X, tmp_path)
    np.testing.assert_array_equal(loaded.predict(X, return_std=True)[1],
                                  ens.predict(X, return_std=True)[1])


@pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")
def test_model_files_get_the_permissions_of_a_plain_open(iris, tmp_path):
    """Written through a temporary file, a model is still 0666 & ~umask, not 0600."""
    X, y = iris
    model = MLPClassifier(hidden_layer_sizes=(3,), max_iter=5).fit(X, y)
    previous = os.umask(0o022)
    try:
        save(model, tmp_path / "new.ekm")
        with open(tmp_path / "plain", "wb"):
            pass
    finally:
        os.umask(previous)
    assert (tmp_path / "new.ekm").stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "plain").stat().st_mode & 0o777 == 0o644
    # replacing an existing file keeps that file's permissions
    (tmp_path / "private.ekm").write_bytes(b"")
    os.chmod(tmp_path / "private.ekm", 0o600)
    save(model, tmp_path / "private.ekm")
    assert (tmp_path / "private.ekm").stat().st_mode & 0o777 == 0o600
    assert not list(tmp_path.glob(".*.tmp"))  # no temporary left behind


@pytest.mark.parametrize("solver", ["adam", "sgd", "adagrad", "rmsprop"])
def test_partial_fit_after_load_continues_exactly(tmp_path, solver):
    """The optimizer's state (moments, step counts) is in the file: bit for bit."""
    from ensemblekit.default_plugins.schedules import StepDecay

    X, y = load_digits(return_X_y=True)
    X = X / 16
    params = dict(hidden_layer_sizes=(16,), solver=solver, random_state=0,
                  plugins=[StepDecay(step_epochs=1, gamma=0.5)])
    here = MLPClassifier(**params)
    for _ in range(2):
        here.partial_fit(X, y, classes=np.unique(y))
    save(here, tmp_path / "m.ekm")
    loaded = load(tmp_path / "m.ekm")
    assert type(loaded.optimizer_) is type(here.optimizer_)
    for estimator in (here, loaded):
        estimator.partial_fit(X, y)
    for a, b in zip([*here.coefs_, *here.intercepts_], [*loaded.coefs_, *loaded.intercepts_]):
        np.testing.assert_array_equal(a, b)
    assert (loaded.n_steps_, loaded.n_epochs_) == (here.n_steps_, here.n_epochs_)
    assert loaded.optimizer_.learning_rate == here.optimizer_.learning_rate


def test_an_optimizer_state_that_does_not_fit_the_weights_is_refused(tmp_path, iris):
    X, y = iris
    clf = MLPClassifier(hidden_layer_sizes=(4,), max_iter=3, random_state=0).fit(X, y)
    clf.optimizer_.m = np.zeros(3)  # a file written by something else
    save(clf, tmp_path / "bad.ekm")
    with pytest.raises(ModelFileError, match=r"optimizer_\.m must be \d+ finite float64"):
        load(tmp_path / "bad.ekm")
