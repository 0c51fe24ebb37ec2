"""ensemblekit-noise: Gaussian noise while training, trained on scikit-learn's digits."""

import numpy as np
import pytest
from ensemblekit_noise import GaussianNoise
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning

from ensemblekit import MLPClassifier, Plugin, get_registry, hookimpl
from ensemblekit.testing import parametrize_with_plugin_checks

pytestmark = pytest.mark.filterwarnings("ignore", category=ConvergenceWarning)


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return (X[:600] / 16.0).astype(np.float32), y[:600]


def _fit(X, y, plugins, max_iter=5, random_state=0):
    return MLPClassifier(hidden_layer_sizes=(32,), alpha=0.0, max_iter=max_iter,
                         random_state=random_state, plugins=plugins).fit(X, y)


class _Spy(Plugin):
    """Keeps a copy of what the first hidden layer outputs, after the noise."""

    name = "spy"

    def __init__(self):
        pass

    @hookimpl(trylast=True)
    def ensemblekit_forward_hidden(self, layer, activation):
        if layer == 0 and not hasattr(self, "seen_"):
            self.seen_ = activation.copy()


def test_registered_under_its_name():
    assert get_registry().plugins["noise"] is GaussianNoise
    assert get_registry().sources["noise"][0] == "ensemblekit-noise"


def test_noise_changes_training(digits):
    X, y = digits
    plain = _fit(X, y, [], max_iter=30)
    noisy = _fit(X, y, [GaussianNoise(stddev=0.2)], max_iter=30)
    assert not np.allclose(plain.coefs_[0], noisy.coefs_[0], atol=1e-3)
    assert noisy.score(X, y) > 0.75  # still learns


def test_noise_has_the_requested_spread(digits):
    X, y = digits
    # relu outputs are >= 0 without noise; with it about half the zeros go negative
    clf = _fit(X, y, [GaussianNoise(stddev=0.5), _Spy()], max_iter=1)
    seen = clf.plugins_[1][1].seen_
    assert seen.dtype == np.float32
    negatives = seen[seen < 0]
    assert negatives.size > 0.1 * seen.size
    # the negatives are the lower half of N(0, 0.5**2): their mean is -0.5 * sqrt(2/pi)
    assert negatives.mean() == pytest.approx(-0.5 * np.sqrt(2 / np.pi), rel=0.1)


def test_nothing_at_predict(digits):
    X, y = digits
    clf = _fit(X, y, [GaussianNoise(stddev=1.0)])
    first = clf.predict_proba(X)
    np.testing.assert_array_equal(first, clf.predict_proba(X))
    # predict equals the noiseless network with the same weights
    twin = _fit(X, y, [], max_iter=1)
    for attr in ("coefs_", "intercepts_"):
        for dst, src in zip(getattr(twin, attr), getattr(clf, attr)):
            dst[...] = src
    np.testing.assert_array_equal(twin.predict_proba(X), first)


def test_fixed_random_state_is_reproducible_and_draws_from_it(digits):
    X, y = digits
    state = np.random.get_state()[1].copy()  # noqa: NPY002 - probing the global RNG
    a = _fit(X, y, [GaussianNoise(stddev=0.5)])
    b = _fit(X, y, [GaussianNoise(stddev=0.5)])
    c = _fit(X, y, [GaussianNoise(stddev=0.5)], random_state=1)
    np.testing.assert_array_equal(a.coefs_[0], b.coefs_[0])
    assert not np.array_equal(a.coefs_[0], c.coefs_[0])
    np.testing.assert_array_equal(np.random.get_state()[1], state)  # noqa: NPY002


def test_zero_stddev_is_no_plugin(digits):
    X, y = digits
    a = _fit(X, y, [])
    b = _fit(X, y, [GaussianNoise(stddev=0.0)])
    np.testing.assert_array_equal(a.coefs_[0], b.coefs_[0])


def test_per_fit_state_is_dropped(digits):
    X, y = digits
    clf = _fit(X, y, [GaussianNoise()], max_iter=1)
    assert set(vars(clf.plugins_[0][1])) == {"stddev"}


@pytest.mark.parametrize("stddev", [-0.1, float("inf"), "x"])
def test_bad_stddev_is_named(digits, stddev):
    X, y = digits
    with pytest.raises(ValueError, match=r"stddev must be a finite real number >= 0, got"):
        _fit(X, y, [GaussianNoise(stddev=stddev)], max_iter=1)


@parametrize_with_plugin_checks([GaussianNoise(stddev=0.3)])
def test_conformance(plugin, check):
    check(plugin)
