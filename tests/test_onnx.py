"""ONNX export (ensemblekit.onnx): ONNX Runtime agrees with predict/predict_proba.

Every configuration of the matrix is fitted briefly (agreement does not need
a good model), converted, run with onnxruntime and compared with the
estimator's own outputs: to 1e-5 in float32, 1e-12 in float64 (ONNX Runtime
computes in float64 then).  Labels must be equal except on rows whose
probabilities are within the tolerance of a tie.  What cannot be exported is
refused with an error naming it.
"""

import warnings

import numpy as np
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.datasets import (
    load_breast_cancer,
    load_diabetes,
    load_digits,
    load_iris,
    make_multilabel_classification,
)
from sklearn.exceptions import ConvergenceWarning
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from ensemblekit import (
    Dropout,
    EnsembleClassifier,
    EnsembleRegressor,
    MLPClassifier,
    MLPRegressor,
    Plugin,
    hookimpl,
    save,
)
from ensemblekit.default_plugins.combiners import WeightedMean

ort = pytest.importorskip("onnxruntime", reason="the onnx extra (onnxruntime) is not installed")
skl2onnx = pytest.importorskip("skl2onnx", reason="the onnx extra (skl2onnx) is not installed")
eonnx = pytest.importorskip("ensemblekit.onnx")

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

ACTIVATIONS = ["identity", "logistic", "tanh", "relu"]
DTYPES = ["float32", "float64"]
TOL = {"float32": 1e-5, "float64": 1e-12}


# --------------------------------------------------------------------------
# data and helpers
# --------------------------------------------------------------------------
def _data(problem):
    if problem == "binary":
        X, y = load_breast_cancer(return_X_y=True)
        X, y = X[::3], y[::3]
        return StandardScaler().fit_transform(X), y
    if problem == "multiclass":
        X, y = load_iris(return_X_y=True)
        return StandardScaler().fit_transform(X), y
    if problem == "digits":
        X, y = load_digits(return_X_y=True)
        return X[:300] / 16, y[:300]
    if problem == "multilabel":
        return make_multilabel_classification(n_samples=150, n_features=8, n_classes=4,
                                              random_state=0)
    X, y = load_diabetes(return_X_y=True)
    X, y = X[::2] * 10, y[::2] / 100
    if problem == "multioutput":
        return X, np.column_stack([y, y ** 2 / 3, -y])
    return X, y


def _run(onx, X):
    """Every output of the model on X, by name."""
    session = ort.InferenceSession(onx.SerializeToString(), providers=["CPUExecutionProvider"])
    feeds = X if isinstance(X, dict) else {session.get_inputs()[0].name: X}
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(None, feeds)))


def _close(got, expected, dtype):
    got, expected = np.asarray(got), np.asarray(expected)
    assert got.shape == expected.shape, (got.shape, expected.shape)
    assert got.dtype == expected.dtype, (got.dtype, expected.dtype)
    tol = TOL[dtype]
    np.testing.assert_allclose(got, expected, rtol=tol, atol=tol)


def _labels_agree(got, expected, proba, dtype, threshold=False):
    """Labels equal, except on rows the tolerance cannot decide (near-ties)."""
    got, expected = np.asarray(got), np.asarray(expected)
    assert got.shape == expected.shape
    tol = 10 * TOL[dtype]
    if threshold:  # binary / multilabel: p > 0.5
        p = proba[:, 1:] if proba.shape[1] == 2 and got.ndim == 1 else proba
        decided = (np.abs(p - 0.5) > tol).all(axis=1)
    else:
        top2 = np.sort(proba, axis=1)[:, -2:]
        decided = top2[:, 1] - top2[:, 0] > tol
    assert decided.mean() > 0.5
    np.testing.assert_array_equal(got[decided], expected[decided])


def _mlp(cls, dtype, **params):
    defaults = {"hidden_layer_sizes": (7, 5), "max_iter": 15, "random_state": 0,
                "learning_rate_init": 0.01}
    return cls(dtype=dtype, **{**defaults, **params})


# --------------------------------------------------------------------------
# networks
# --------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("batch_norm", [False, True])
@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("problem", ["binary", "multiclass", "digits", "multilabel"])
def test_classifier_matches_predict_proba(problem, activation, batch_norm, dtype):
    X, y = _data(problem)
    X = X.astype(dtype)
    clf = _mlp(MLPClassifier, dtype, activation=activation, batch_norm=batch_norm).fit(X, y)
    out = _run(eonnx.to_onnx(clf, X.shape[1]), X)
    assert list(out) == ["label", "probabilities"]
    proba = clf.predict_proba(X)
    _close(out["probabilities"], proba, dtype)
    _labels_agree(out["label"], clf.predict(X), proba, dtype,
                  threshold=problem in ("binary", "multilabel"))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("batch_norm", [False, True])
@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("problem", ["single", "multioutput", "poisson"])
def test_regressor_matches_predict(problem, activation, batch_norm, dtype):
    X, y = _data(problem)
    X = X.astype(dtype)
    loss = "poisson" if problem == "poisson" else "squared_error"
    reg = _mlp(MLPRegressor, dtype, activation=activation, batch_norm=batch_norm,
               loss=loss).fit(X, y)
    out = _run(eonnx.to_onnx(reg, X.shape[1]), X)
    assert list(out) == ["variable"]
    _close(out["variable"], reg.predict(X).reshape(len(X), -1), dtype)


def test_batch_norm_is_folded_not_ignored():
    """The bug of issue 19: scikit-learn's converter ignores batch norm."""
    X, y = _data("multiclass")
    clf = _mlp(MLPClassifier, "float64", batch_norm=True, max_iter=60).fit(X, y)
    layers = eonnx.folded_layers(clf)
    assert not np.allclose(layers[0][0], clf.coefs_[0])
    _close(_run(eonnx.to_onnx(clf, 4), X)["probabilities"], clf.predict_proba(X), "float64")


@pytest.mark.parametrize("mode", ["inverted", "book"])
def test_dropout_is_exported_its_book_mode_scale_folded(mode):
    X, y = _data("multiclass")
    X = X.astype(np.float32)
    clf = _mlp(MLPClassifier, "float32", batch_norm=True,
               plugins=[Dropout(rate=0.3, mode=mode)]).fit(X, y)
    _close(_run(eonnx.to_onnx(clf, 4), X)["probabilities"], clf.predict_proba(X), "float32")


def test_mixed_dtypes_compute_as_predict_does():
    """float32 weights on float64 input compute in float64, as numpy does ..."""
    X, y = _data("multiclass")
    clf = _mlp(MLPClassifier, None, batch_norm=True).fit(X.astype(np.float32), y)
    assert clf.coefs_[0].dtype == np.float32
    onx = skl2onnx.to_onnx(clf, X[:1], options={"zipmap": False})
    _close(_run(onx, X)["probabilities"], clf.predict_proba(X), "float64")
    # ... unless the dtype parameter casts the input
    clf.set_params(dtype="float32")
    onx = skl2onnx.to_onnx(clf, X[:1], options={"zipmap": False})
    _close(_run(onx, X)["probabilities"], clf.predict_proba(X), "float32")


def test_string_labels_and_zipmap():
    X, y = _data("multiclass")
    names = np.array(["setosa", "versicolor", "virginica"])[y]
    clf = _mlp(MLPClassifier, "float32").fit(X.astype(np.float32), names)
    X32 = X.astype(np.float32)
    out = _run(eonnx.to_onnx(clf, 4), X32)
    proba = clf.predict_proba(X32)
    _labels_agree(out["label"], clf.predict(X32), proba, "float32")
    # skl2onnx's own default for classifiers: probabilities as a list of dicts
    zipped = _run(skl2onnx.to_onnx(clf, X32[:1]), X32)
    first = zipped["output_probability"][0]
    assert sorted(first) == list(clf.classes_)
    np.testing.assert_allclose([first[c] for c in clf.classes_], proba[0], atol=1e-5)


def test_register_is_idempotent():
    eonnx.register()
    eonnx.register()
    X, y = _data("single")
    reg = _mlp(MLPRegressor, "float64").fit(X, y)
    out = _run(skl2onnx.to_onnx(reg, X[:1]), X)
    _close(out["variable"], reg.predict(X)[:, None], "float64")


# --------------------------------------------------------------------------
# ensembles
# --------------------------------------------------------------------------
def _member_probas(ens, X):
    return np.stack([ens._member_output(m, X) for m in ens.estimators_])


COMBINERS = ["mean", "geometric_mean", "vote", WeightedMean(weights=[3, 1, 2])]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("combiner", COMBINERS, ids=lambda c: getattr(c, "name", c))
@pytest.mark.parametrize("problem", ["binary", "multiclass"])
def test_ensemble_classifier_matches_with_spread(problem, combiner, dtype):
    X, y = _data(problem)
    X = X.astype(dtype)
    member = _mlp(MLPClassifier, dtype, batch_norm=True)
    ens = EnsembleClassifier(member, n_estimators=3, combiner=combiner,
                             random_state=0).fit(X, y)
    out = _run(eonnx.to_onnx(ens, X.shape[1]), X)
    assert list(out) == ["label", "probabilities", "probabilities_std", "mutual_information"]
    proba = ens.predict_proba(X)
    _close(out["probabilities"], proba, dtype)
    _labels_agree(out["label"], ens.predict(X), proba, dtype)
    _close(out["probabilities_std"], _member_probas(ens, X).std(axis=0), dtype)
    _close(out["mutual_information"], ens.predict_uncertainty(X).mutual_information, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("combiner", ["mean", WeightedMean(weights=[1, 0, 2])],
                         ids=["mean", "weighted_mean"])
@pytest.mark.parametrize("problem", ["single", "multioutput"])
def test_ensemble_regressor_matches_with_std(problem, combiner, dtype):
    X, y = _data(problem)
    X = X.astype(dtype)
    ens = EnsembleRegressor(_mlp(MLPRegressor, dtype, batch_norm=True), n_estimators=3,
                            combiner=combiner, random_state=0).fit(X, y)
    out = _run(eonnx.to_onnx(ens, X.shape[1]), X)
    assert list(out) == ["variable", "std"]
    mean, std = ens.predict(X, return_std=True)
    _close(out["variable"], mean.reshape(len(X), -1), dtype)
    _close(out["std"], std.reshape(len(X), -1), dtype)


def test_ensemble_without_uncertainty_outputs():
    X, y = _data("single")
    ens = EnsembleRegressor(_mlp(MLPRegressor, "float64"), n_estimators=2,
                            random_state=0).fit(X, y)
    assert list(_run(eonnx.to_onnx(ens, X.shape[1], uncertainty=False), X)) == ["variable"]


def test_ensemble_member_missing_a_class_is_aligned():
    """A member that never saw a class (a bootstrap sample missed it) gets its column at 0."""
    X, y = _data("multiclass")
    ens = EnsembleClassifier(_mlp(MLPClassifier, "float64"), n_estimators=2,
                             random_state=0).fit(X, y)
    seen = y != 1
    ens.estimators_[1] = _mlp(MLPClassifier, "float64").fit(X[seen], y[seen])
    out = _run(eonnx.to_onnx(ens, 4), X)
    _close(out["probabilities"], ens.predict_proba(X), "float64")
    _close(out["mutual_information"], ens.predict_uncertainty(X).mutual_information,
           "float64")


def test_snapshot_ensemble_and_scikit_learn_members():
    X, y = _data("multiclass")
    snap = EnsembleClassifier(_mlp(MLPClassifier, "float64", max_iter=6), n_estimators=2,
                              strategy="snapshot", random_state=0).fit(X, y)
    _close(_run(eonnx.to_onnx(snap, 4), X)["probabilities"], snap.predict_proba(X),
           "float64")
    logistic = EnsembleClassifier(LogisticRegression(max_iter=50), n_estimators=2,
                                  bootstrap=True, random_state=0).fit(X, y)
    out = _run(eonnx.to_onnx(logistic, X), X)
    # skl2onnx computes LogisticRegression in float64 here, its own accuracy
    np.testing.assert_allclose(out["probabilities"], logistic.predict_proba(X), atol=1e-6)


# --------------------------------------------------------------------------
# pipelines and model files
# --------------------------------------------------------------------------
def test_pipeline_with_scaler_converts_with_skl2onnx():
    X, y = load_iris(return_X_y=True)
    X = X.astype(np.float32)
    pipe = make_pipeline(StandardScaler(), _mlp(MLPClassifier, "float32", batch_norm=True))
    pipe.fit(X, y)
    onx = skl2onnx.to_onnx(pipe, X[:1], options={MLPClassifier: {"zipmap": False}})
    out = _run(onx, X)
    _close(out["probabilities"], pipe.predict_proba(X), "float32")


def test_cli_like_pipeline_model_file(tmp_path):
    """ColumnTransformer preprocessing + an ensemble, saved, exported from the file."""
    import pandas as pd

    X, y = load_iris(return_X_y=True, as_frame=True)
    X = X.rename(columns=lambda c: c.split(" (")[0].replace(" ", "_"))
    X["colour"] = np.array(["red", "green", "blue"], dtype=object)[np.arange(len(X)) % 3]
    X.iloc[0, 0] = np.nan  # missing values: NaN in a numeric column, "" in ONNX's strings
    X.loc[1, "colour"] = np.nan
    numeric, categorical = list(X.columns[:4]), ["colour"]
    preprocess = ColumnTransformer([
        ("numeric", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()),
         numeric),
        ("categorical", make_pipeline(SimpleImputer(strategy="most_frequent"),
                                      OneHotEncoder(handle_unknown="ignore")), categorical)])
    model = Pipeline([("preprocess", preprocess),
                      ("model", EnsembleClassifier(_mlp(MLPClassifier, "float64"),
                                                   n_estimators=2, random_state=0))])
    model.fit(X, y)
    path = tmp_path / "model.ekm"
    save(model, path, metadata={"numeric_columns": numeric, "categorical_columns": categorical})
    eonnx.export_model_file(path, tmp_path / "model.onnx")
    onx = __import__("onnx").load(str(tmp_path / "model.onnx"))
    assert [i.name for i in onx.graph.input] == [*numeric, *categorical]
    feeds = {c: X[[c]].to_numpy(dtype=np.float32) for c in numeric}
    feeds["colour"] = X[["colour"]].fillna("").to_numpy(dtype=object)
    out = _run(onx, feeds)
    # the numeric columns enter as float32 (ONNX Runtime has no float64 Imputer)
    np.testing.assert_allclose(out["probabilities"], model.predict_proba(pd.DataFrame(X)),
                               atol=1e-5)


@pytest.mark.parametrize("ensemble", [False, True])
def test_standardised_target_model_file(tmp_path, ensemble):
    """``ensemblekit train --scale-target``: the network learns a standardised target."""
    from sklearn.compose import TransformedTargetRegressor

    X, y = _data("single")
    net = _mlp(MLPRegressor, "float64", batch_norm=True)
    if ensemble:
        net = EnsembleRegressor(net, n_estimators=2, random_state=0)
    model = make_pipeline(StandardScaler(), TransformedTargetRegressor(
        regressor=net, transformer=StandardScaler())).fit(X, y * 100)
    save(model, tmp_path / "model.ekm")
    onx = eonnx.export_model_file(tmp_path / "model.ekm", tmp_path / "model.onnx")
    out = _run(onx, X)
    assert list(out) == (["variable", "std"] if ensemble else ["variable"])
    _close(out["variable"], model.predict(X)[:, None], "float64")
    if ensemble:
        scale = model[-1].transformer_.scale_
        _, std = model[-1].regressor_.predict(model[0].transform(X), return_std=True)
        _close(out["std"], std[:, None] * scale, "float64")


def test_refuses_another_target_transformer():
    from sklearn.compose import TransformedTargetRegressor
    from sklearn.preprocessing import MinMaxScaler

    X, y = _data("single")
    model = TransformedTargetRegressor(regressor=_mlp(MLPRegressor, "float64"),
                                       transformer=MinMaxScaler()).fit(X, y)
    with pytest.raises(eonnx.OnnxExportError, match="transformer MinMaxScaler"):
        eonnx.to_onnx(model, X)


def test_model_file_of_a_network(tmp_path):
    X, y = _data("single")
    reg = _mlp(MLPRegressor, "float32", batch_norm=True).fit(X.astype(np.float32), y)
    save(reg, tmp_path / "net.ekm")
    onx = eonnx.export_model_file(tmp_path / "net.ekm", tmp_path / "net.onnx")
    assert (tmp_path / "net.onnx").read_bytes() == onx.SerializeToString()
    X32 = X.astype(np.float32)
    _close(_run(onx, X32)["variable"], reg.predict(X32)[:, None], "float32")


# --------------------------------------------------------------------------
# refusals: an error naming what cannot be exported
# --------------------------------------------------------------------------
class Jitter(Plugin):
    """A third-party plugin with an inference hook."""

    name = "jitter"

    @hookimpl
    def ensemblekit_predict_hidden(self, activation):
        activation += 0.01


class Median(Plugin):
    """A third-party combiner."""

    name = "median"

    @hookimpl
    def ensemblekit_combine(self, outputs):
        return np.median(outputs, axis=0)


def test_refuses_a_plugin_with_an_inference_hook():
    X, y = _data("multiclass")
    clf = _mlp(MLPClassifier, "float64", plugins=[Jitter()]).fit(X, y)
    with pytest.raises(eonnx.OnnxExportError, match=r"plugin 'jitter' \(Jitter\)"):
        eonnx.to_onnx(clf, 4)
    ens = EnsembleClassifier(_mlp(MLPClassifier, "float64", plugins=[Jitter()]),
                             n_estimators=2, random_state=0).fit(X, y)
    with pytest.raises(eonnx.OnnxExportError, match="member 0: plugin 'jitter'"):
        eonnx.to_onnx(ens, 4)


def test_refuses_mc_dropout():
    X, y = _data("multiclass")
    ens = EnsembleClassifier(_mlp(MLPClassifier, "float64", plugins=[Dropout(rate=0.2)]),
                             n_estimators=3, strategy="mc_dropout", random_state=0).fit(X, y)
    with pytest.raises(eonnx.OnnxExportError, match="strategy 'mc_dropout'"):
        eonnx.to_onnx(ens, 4)


def test_refuses_an_unknown_combiner():
    X, y = _data("single")
    ens = EnsembleRegressor(_mlp(MLPRegressor, "float64"), n_estimators=2,
                            combiner=Median(), random_state=0).fit(X, y)
    with pytest.raises(eonnx.OnnxExportError, match=r"combiner 'median' \(Median\)"):
        eonnx.to_onnx(ens, X.shape[1])


class Majority:
    """A classifier skl2onnx knows nothing of."""

    def __init__(self, random_state=None):
        self.random_state = random_state

    def get_params(self, deep=True):
        return {"random_state": self.random_state}

    def set_params(self, **params):
        self.random_state = params.get("random_state", self.random_state)
        return self

    def fit(self, X, y, sample_weight=None):
        self.classes_, counts = np.unique(y, return_counts=True)
        self.prior_ = counts / counts.sum()
        self.n_features_in_ = X.shape[1]
        return self

    def predict_proba(self, X):
        return np.tile(self.prior_, (len(X), 1))

    def predict(self, X):
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]

    def __sklearn_tags__(self):
        from sklearn.utils import ClassifierTags, Tags, TargetTags

        return Tags(estimator_type="classifier", target_tags=TargetTags(required=True),
                    classifier_tags=ClassifierTags())


def test_refuses_a_member_skl2onnx_cannot_convert():
    X, y = _data("multiclass")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ens = EnsembleClassifier(Majority(), n_estimators=2, random_state=0).fit(X, y)
    with pytest.raises(eonnx.OnnxExportError, match=r"member 0 \(Majority\)"):
        eonnx.to_onnx(ens, 4)


def test_convergence_warnings_are_the_only_ones():
    """Conversion itself warns about nothing (a warning would hide a different graph)."""
    X, y = _data("multiclass")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = _mlp(MLPClassifier, "float32").fit(X.astype(np.float32), y)
        warnings.simplefilter("error")
        eonnx.to_onnx(clf, 4)


@pytest.mark.parametrize("n_estimators", [1, 2])
def test_cli_train_then_export_agrees_with_cli_predict(tmp_path, n_estimators):
    """The real command line: train on a CSV with a text and a boolean column, export."""
    import io

    import pandas as pd
    from click.testing import CliRunner

    from ensemblekit.cli import cli

    X, y = load_iris(return_X_y=True, as_frame=True)
    table = X.rename(columns=lambda c: c.split(" (")[0].replace(" ", "_"))
    table["colour"] = np.array(["red", "green", "blue"], dtype=object)[np.arange(150) % 3]
    table["member"] = np.arange(150) % 2 == 0
    table.loc[3, "colour"] = np.nan
    table["species"] = y
    data = tmp_path / "iris.csv"
    table.to_csv(data, index=False)
    runner = CliRunner()
    model, onnx_file = tmp_path / "m.ekm", tmp_path / "m.onnx"
    train = runner.invoke(cli, ["train", str(data), "--target", "species", "--hidden", "8",
                                "--max-iter", "30", "--n-estimators", str(n_estimators),
                                "-q", "--out", str(model)])
    assert train.exit_code == 0, train.output
    export = runner.invoke(cli, ["export", str(model), "--onnx", str(onnx_file)])
    assert export.exit_code == 0, export.output
    # the graph leaves the schema out and cannot warn: the strings it takes are listed
    assert export.stderr.splitlines()[1:] == [
        "categorical inputs take exactly these strings; any other is encoded as none of "
        "the column's categories, and ONNX Runtime cannot warn of it:",
        "  colour: blue, green, red", "  member: False, True"]
    predicted = runner.invoke(cli, ["predict", str(model), str(data), "--proba"])
    expected = pd.read_csv(io.StringIO(predicted.stdout))
    onx = __import__("onnx").load(str(onnx_file))
    feeds = {}
    for node in onx.graph.input:
        column = table[node.name]
        if node.type.tensor_type.elem_type == 1:  # float
            feeds[node.name] = column.to_numpy(dtype=np.float32).reshape(-1, 1)
        else:
            feeds[node.name] = column.map(
                lambda v: "" if v is None or v != v else str(v)).to_numpy(object).reshape(-1, 1)
    out = _run(onx, feeds)
    proba = expected[[c for c in expected.columns if c.startswith("proba_")]].to_numpy()
    np.testing.assert_allclose(out["probabilities"], proba, atol=1e-5)
    assert (out["label"].ravel() == expected["species"].to_numpy()).mean() > 0.99


def test_cli_export_names_what_cannot_be_exported(tmp_path):
    from click.testing import CliRunner

    from ensemblekit.cli import cli

    X, y = load_iris(return_X_y=True)
    member = MLPClassifier(hidden_layer_sizes=(4,), max_iter=5, random_state=0,
                           plugins=[Dropout(rate=0.2)])
    model = EnsembleClassifier(member, n_estimators=2, strategy="mc_dropout",
                               random_state=0).fit(X, y)
    path = tmp_path / "mc.ekm"
    save(model, path)
    result = CliRunner().invoke(cli, ["export", str(path), "--onnx", str(tmp_path / "x.onnx")])
    assert result.exit_code == 1
    assert "mc_dropout" in result.output and not (tmp_path / "x.onnx").exists()
