"""Bad input to the MLP estimators: each case names its problem; valid input works."""

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import load_iris
from sklearn.exceptions import NotFittedError

from ensemblekit import Dropout, MLPClassifier, MLPRegressor, WeightDecay

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

X, Y = load_iris(return_X_y=True)


def _clf(**kw):
    return MLPClassifier(hidden_layer_sizes=(4,), max_iter=3, random_state=0, **kw)


def _with(value, where=(0, 0)):
    out = X.copy()
    out[where] = value
    return out


BAD_FIT = [
    ("nan in X", lambda: _clf().fit(_with(np.nan), Y), ValueError, "NaN"),
    ("inf in X", lambda: _clf().fit(_with(np.inf), Y), ValueError, "infinity"),
    ("-inf in X", lambda: _clf().fit(_with(-np.inf), Y), ValueError, "infinity"),
    ("complex X", lambda: _clf().fit(X + 1j, Y), ValueError, "Complex data"),
    ("string X", lambda: _clf().fit(np.array([["a", "b"]] * 150), Y), ValueError,
     "could not convert string"),
    ("1-D X", lambda: _clf().fit(X[:, 0], Y), ValueError, "Expected 2D array"),
    ("3-D X", lambda: _clf().fit(X[:, :, None], Y), ValueError, "dim 3"),
    ("zero rows", lambda: _clf().fit(X[:0], Y[:0]), ValueError, "0 sample"),
    ("zero columns", lambda: _clf().fit(X[:, :0], Y), ValueError, "0 feature"),
    ("continuous y for a classifier", lambda: _clf().fit(X, np.linspace(0, 1, 150)),
     ValueError, "Unknown label type"),
    ("nan in y", lambda: _clf().fit(X, np.where(Y == 0, np.nan, Y)), ValueError, "NaN"),
    ("nan in y (regressor)", lambda: MLPRegressor().fit(X, np.full(150, np.nan)),
     ValueError, "NaN"),
    ("string y for a regressor", lambda: MLPRegressor().fit(X, np.array(["a"] * 150, dtype=object)),
     ValueError, "could not convert|numeric"),
    ("mismatched lengths", lambda: _clf().fit(X, Y[:-1]), ValueError,
     "inconsistent numbers of samples"),
    ("negative sample_weight", lambda: _clf().fit(X, Y, sample_weight=-np.ones(150)),
     ValueError, "Negative values"),
    ("sample_weight of wrong length", lambda: _clf().fit(X, Y, sample_weight=np.ones(3)),
     ValueError, "sample_weight.shape"),
    ("max_iter=0", lambda: _clf().set_params(max_iter=0).fit(X, Y), ValueError, "max_iter"),
    ("negative alpha", lambda: _clf(alpha=-1.0).fit(X, Y), ValueError, "alpha"),
    ("batch_size=0", lambda: _clf(batch_size=0).fit(X, Y), ValueError, "batch_size"),
    ("learning_rate_init=0", lambda: _clf(learning_rate_init=0).fit(X, Y), ValueError,
     "learning_rate_init"),
    ("unknown solver", lambda: _clf(solver="adamw").fit(X, Y), ValueError, "solver"),
    ("unknown activation", lambda: _clf(activation="gelu").fit(X, Y), ValueError,
     "activation"),
    ("zero-width layer", lambda: MLPClassifier(hidden_layer_sizes=(5, 0)).fit(X, Y),
     ValueError, "hidden_layer_sizes"),
    ("fractional layer width", lambda: MLPClassifier(hidden_layer_sizes=(2.5,)).fit(X, Y),
     ValueError, "hidden_layer_sizes"),
    ("unknown weight_init", lambda: _clf(weight_init="lecun").fit(X, Y), ValueError,
     "weight_init"),
    ("negative init std", lambda: _clf(weight_init=-0.1).fit(X, Y), ValueError, "weight_init"),
    ("momentum > 1", lambda: _clf(momentum=1.5).fit(X, Y), ValueError, "momentum"),
    ("validation_fraction=1", lambda: _clf(early_stopping=True, validation_fraction=1.0)
     .fit(X, Y), ValueError, "validation_fraction"),
    ("validation set too small", lambda: _clf(early_stopping=True).fit(X[:5], Y[:5]),
     ValueError, "least populated class|validation set is too small"),
    ("unknown on_divergence", lambda: _clf(on_divergence="ignore").fit(X, Y), ValueError,
     "on_divergence"),
    ("dropout rate 1.0", lambda: _clf(plugins=[Dropout(rate=1.0)]).fit(X, Y), ValueError,
     "rate"),
    ("dropout rate as string", lambda: _clf(plugins=[Dropout(rate="0.2")]).fit(X, Y),
     ValueError, "rate"),
    ("unknown plugin name", lambda: _clf(plugins=["drop_out"]).fit(X, Y), ValueError,
     "unknown plugin 'drop_out'"),
    ("plugin of the wrong type", lambda: _clf(plugins=[object()]).fit(X, Y), TypeError,
     "plugins must hold"),
    ("weight decay of the wrong type", lambda: _clf(plugins=[WeightDecay(alpha="big")])
     .fit(X, Y), ValueError, "alpha"),
    ("poisson with negative y", lambda: MLPRegressor(loss="poisson").fit(X, -X[:, 0]),
     ValueError, "non-negative"),
]


@pytest.mark.parametrize("label, call, exc, match", BAD_FIT, ids=[c[0] for c in BAD_FIT])
def test_bad_fit_input_is_named(label, call, exc, match):
    with pytest.raises(exc, match=match):
        call()


@pytest.fixture(scope="module")
def fitted():
    return _clf().fit(X, Y)


def test_bad_predict_input_is_named(fitted):
    with pytest.raises(ValueError, match="X has 2 features, but MLPClassifier is expecting 4"):
        fitted.predict(X[:, :2])
    with pytest.raises(ValueError, match="NaN"):
        fitted.predict_proba(_with(np.nan))
    with pytest.raises(ValueError, match="Expected 2D array"):
        fitted.predict(X[0])
    with pytest.raises(NotFittedError, match="not fitted yet"):
        _clf().predict(X)
    with pytest.raises(NotFittedError):
        _clf().predict_proba(X)


def test_partial_fit_with_unseen_labels(fitted):
    inc = _clf()
    inc.partial_fit(X[Y < 2], Y[Y < 2], classes=[0, 1])
    with pytest.raises(ValueError, match="classes not in"):
        inc.partial_fit(X, Y)


def test_warm_start_with_other_classes():
    clf = _clf(warm_start=True).fit(X, Y)
    with pytest.raises(ValueError, match="same classes"):
        clf.fit(X, Y % 2)


def test_early_stopping_with_partial_fit():
    clf = _clf(early_stopping=True).fit(X, Y)
    with pytest.raises(ValueError, match="partial_fit does not support early_stopping"):
        clf.partial_fit(X, Y)


VALID = [
    ("float32", X.astype(np.float32)),
    ("int", X.astype(np.int64)),
    ("bool", X > 3),
    ("object of numbers", X.astype(object)),
    ("read-only", np.require(X, requirements="C").copy()),
    ("Fortran-ordered", np.asfortranarray(X)),
    ("list of lists", X.tolist()),
    ("constant column", np.c_[X, np.ones(len(X))]),
    ("subnormal values", X * 1e-310),
    ("huge but finite", X * 1e300),
    ("csr", sp.csr_matrix(X)),
    ("csc", sp.csc_matrix(X)),
    ("coo (converted)", sp.coo_matrix(X)),
]


@pytest.mark.parametrize("label, data", VALID, ids=[v[0] for v in VALID])
def test_valid_input_works(label, data):
    if label == "read-only":
        data.flags.writeable = False
    clf = _clf().fit(data, Y)
    proba = clf.predict_proba(data)
    assert proba.shape == (150, 3) and np.isfinite(proba).all()


def test_one_row_and_one_class_train_like_sklearn():
    assert _clf().fit(X[:1], Y[:1]).predict(X[:3]).tolist() == [0, 0, 0]
    assert set(_clf().fit(X, np.zeros(150)).predict(X)) == {0.0}


def test_column_vector_y_warns_and_works():
    from sklearn.exceptions import DataConversionWarning

    with pytest.warns(DataConversionWarning):
        _clf().fit(X, Y[:, None])


@pytest.mark.parametrize("name, role, where", [
    ("mean", "combiner", "combiner='mean'"), ("vote", "combiner", "combiner='vote'"),
    ("bootstrap", "sampler", "bootstrap='bootstrap'"),
    ("snapshot", "strategy", "strategy='snapshot'"),
    ("mc_dropout", "strategy", "strategy='mc_dropout'"),
])
def test_an_ensembles_part_in_a_networks_plugins_is_named(name, role, where):
    """They would do nothing in a single network; the error says where they belong."""
    with pytest.raises(ValueError, match=rf"plugin '{name}' is an ensemble {role}, not a "
                                         rf"training plugin: pass it as .*\({where}\)"):
        _clf(plugins=[name]).fit(X, Y)
