"""ensemblekit-l1: the L1 / elastic-net penalty, trained on scikit-learn's digits."""

import numpy as np
import pytest
from ensemblekit_l1 import L1
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning

from ensemblekit import MLPClassifier, WeightDecay, get_registry
from ensemblekit.testing import parametrize_with_plugin_checks

pytestmark = pytest.mark.filterwarnings("ignore", category=ConvergenceWarning)


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return (X[:600] / 16.0).astype(np.float32), y[:600]


def _fit(X, y, plugins, solver="adam", max_iter=30):
    return MLPClassifier(hidden_layer_sizes=(32,), alpha=0.0, solver=solver,
                         max_iter=max_iter, random_state=0, plugins=plugins).fit(X, y)


def test_registered_under_its_name():
    registry = get_registry()
    assert registry.plugins["l1"] is L1
    assert registry.sources["l1"][0] == "ensemblekit-l1"


def test_l1_gives_more_near_zero_weights(digits):
    X, y = digits
    plain = _fit(X, y, [])
    sparse = _fit(X, y, [L1(alpha=0.5)])

    def near_zero(clf):
        return np.mean(np.abs(clf.coefs_[0]) < 1e-2)

    assert near_zero(sparse) > 4 * near_zero(plain)
    assert sparse.score(X, y) > 0.8  # still learns


def test_l1_ratio_zero_is_weight_decay(digits):
    X, y = digits
    elastic = _fit(X, y, [L1(alpha=0.3, l1_ratio=0.0)], solver="sgd", max_iter=5)
    decay = _fit(X, y, [WeightDecay(alpha=0.3)], solver="sgd", max_iter=5)
    for a, b in zip(elastic.coefs_, decay.coefs_):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(elastic.loss_curve_, decay.loss_curve_, rtol=1e-5)


def test_penalty_value_is_added_to_the_loss(digits):
    X, y = digits
    plain = _fit(X, y, [], solver="sgd", max_iter=1)
    penalised = _fit(X, y, [L1(alpha=1.0)], solver="sgd", max_iter=1)
    # the first epoch starts from the same weights: the L1 term raises the loss
    assert penalised.loss_curve_[0] > plain.loss_curve_[0]


def test_subgradient_at_zero_is_zero():
    W = np.array([[0.0, 2.0], [-3.0, 0.0]])
    G = np.zeros_like(W)
    value = L1(alpha=1.0).ensemblekit_penalty(coefs=[W], coef_grads=[G], n_samples=1)
    assert value == 5.0
    np.testing.assert_array_equal(G, [[0.0, 1.0], [-1.0, 0.0]])


def test_float32_training_stays_float32(digits):
    X, y = digits
    clf = _fit(X, y, [L1(alpha=0.1, l1_ratio=0.5)], max_iter=2)
    assert all(W.dtype == np.float32 for W in clf.coefs_)


@pytest.mark.parametrize("params, match", [
    ({"alpha": -1.0}, "alpha must be a finite real number >= 0, got -1.0"),
    ({"alpha": float("inf")}, "alpha must be a finite real number >= 0, got inf"),
    ({"alpha": "big"}, "alpha must be a finite real number >= 0, got 'big'"),
    ({"l1_ratio": 1.5}, r"l1_ratio must be a real number in \[0, 1\], got 1.5"),
])
def test_bad_parameters_are_named(digits, params, match):
    X, y = digits
    with pytest.raises(ValueError, match=match):
        _fit(X, y, [L1(**params)], max_iter=1)


@parametrize_with_plugin_checks([L1(alpha=0.01), L1(alpha=0.01, l1_ratio=0.3)])
def test_conformance(plugin, check):
    check(plugin)
