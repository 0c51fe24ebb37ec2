"""ensemblekit-maxnorm: the max-norm constraint, trained on scikit-learn's digits."""

import math

import numpy as np
import pytest
from ensemblekit_maxnorm import MaxNorm
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning

from ensemblekit import Dropout, MLPClassifier, PluginError, get_registry
from ensemblekit.testing import parametrize_with_plugin_checks

pytestmark = pytest.mark.filterwarnings("ignore", category=ConvergenceWarning)


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return (X[:600] / 16.0).astype(np.float32), y[:600]


def _fit(X, y, plugins, max_iter=20, **params):
    params = {"hidden_layer_sizes": (32,), "alpha": 0.0, "solver": "sgd",
              "learning_rate_init": 0.5, "max_iter": max_iter, "random_state": 0,
              **params}
    return MLPClassifier(plugins=plugins, **params).fit(X, y)


def _column_norms(clf):
    return [np.linalg.norm(W.astype(np.float64), axis=0) for W in clf.coefs_]


def test_registered_under_its_name():
    assert get_registry().plugins["maxnorm"] is MaxNorm
    assert get_registry().sources["maxnorm"][0] == "ensemblekit-maxnorm"


def test_bound_holds_after_fit_and_binds(digits):
    X, y = digits
    plain = _fit(X, y, [])
    bound = 1.0
    assert max(n.max() for n in _column_norms(plain)) > 2 * bound  # it has work to do
    clf = _fit(X, y, [Dropout(0.2), MaxNorm(max_norm=bound)])
    norms = _column_norms(clf)
    assert all(n.max() <= bound * (1 + 1e-5) for n in norms)
    assert any(np.isclose(n, bound, rtol=1e-4).any() for n in norms)  # some are at it
    assert clf.score(X, y) > 0.8


def test_bound_holds_with_early_stopping(digits):
    X, y = digits
    clf = _fit(X, y, [MaxNorm(max_norm=1.0)], early_stopping=True, solver="adam",
               learning_rate_init=0.05)
    assert all(n.max() <= 1.0 + 1e-5 for n in _column_norms(clf))


def test_include_output_false_leaves_the_output_layer_free(digits):
    X, y = digits
    clf = _fit(X, y, [MaxNorm(max_norm=0.5, include_output=False)])
    hidden, output = _column_norms(clf)
    assert hidden.max() <= 0.5 * (1 + 1e-5)
    assert output.max() > 0.5


def test_infinite_bound_changes_nothing(digits):
    X, y = digits
    a = _fit(X, y, [], max_iter=3)
    b = _fit(X, y, [MaxNorm(max_norm=math.inf)], max_iter=3)
    for wa, wb in zip(a.coefs_, b.coefs_):
        np.testing.assert_array_equal(wa, wb)


def test_float32_stays_float32(digits):
    X, y = digits
    clf = _fit(X, y, [MaxNorm(max_norm=1.0)], max_iter=2)
    assert all(W.dtype == np.float32 for W in clf.coefs_)


def test_lbfgs_is_refused_with_a_reason(digits):
    X, y = digits
    with pytest.raises(PluginError, match="MaxNorm needs a stochastic solver"):
        _fit(X, y, [MaxNorm()], solver="lbfgs")


@pytest.mark.parametrize("params, match", [
    ({"max_norm": 0}, "max_norm must be a real number > 0, got 0"),
    ({"max_norm": None}, "max_norm must be a real number > 0, got None"),
    ({"include_output": "yes"}, "include_output must be True or False, got 'yes'"),
])
def test_bad_parameters_are_named(digits, params, match):
    X, y = digits
    with pytest.raises(ValueError, match=match):
        _fit(X, y, [MaxNorm(**params)], max_iter=1)


@parametrize_with_plugin_checks([MaxNorm(max_norm=0.5),
                                 MaxNorm(max_norm=0.5, include_output=False)])
def test_conformance(plugin, check):
    check(plugin)
