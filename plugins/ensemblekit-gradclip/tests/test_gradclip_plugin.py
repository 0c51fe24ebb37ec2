"""ensemblekit-gradclip: gradient-norm clipping, trained on scikit-learn's diabetes."""

import numpy as np
import pytest
from ensemblekit_gradclip import GradClip
from sklearn.datasets import load_diabetes
from sklearn.exceptions import ConvergenceWarning

from ensemblekit import MLPRegressor, Plugin, PluginError, get_registry, hookimpl
from ensemblekit.testing import parametrize_with_plugin_checks

pytestmark = pytest.mark.filterwarnings("ignore", category=ConvergenceWarning)

LR = 0.01


@pytest.fixture(scope="module")
def diabetes():
    X, y = load_diabetes(return_X_y=True)
    X = (X - X.mean(0)) / X.std(0)
    return X, (y - y.mean()) / y.std()


class _StepMeter(Plugin):
    """Measures each optimizer step: the parameters' change and the gradient's norm."""

    name = "meter"

    def __init__(self):
        pass

    @hookimpl(trylast=True)  # after every other plugin's before_step (the clipping)
    def ensemblekit_before_step(self, params, grads):
        self._before = [p.copy() for p in params]
        self.grad_norms_ = [*getattr(self, "grad_norms_", []),
                            np.sqrt(sum(float(np.vdot(g, g)) for g in grads))]

    @hookimpl
    def ensemblekit_after_step(self, params):
        step = np.sqrt(sum(float(np.sum((p - b) ** 2)) for p, b in zip(params, self._before)))
        self.steps_ = [*getattr(self, "steps_", []), step]


def _fit(X, y, plugins, **params):
    params = {"hidden_layer_sizes": (16,), "solver": "sgd", "momentum": 0.0,
              "learning_rate_init": LR, "max_iter": 5, "random_state": 0,
              "batch_size": 32, **params}
    return MLPRegressor(plugins=plugins, **params).fit(X, y)


def test_registered_under_its_name():
    assert get_registry().plugins["gradclip"] is GradClip
    assert get_registry().sources["gradclip"][0] == "ensemblekit-gradclip"


def test_clipping_bounds_every_step(diabetes):
    X, y = diabetes
    free = _fit(X, y, [_StepMeter()]).plugins_[0][1]
    bound = float(np.median(free.grad_norms_))  # half of the steps must be clipped
    clf = _fit(X, y, [GradClip(max_norm=bound), _StepMeter()])
    clip, meter = clf.plugins_[0][1], clf.plugins_[1][1]
    assert max(meter.grad_norms_) <= bound * (1 + 1e-6)
    assert max(meter.steps_) <= LR * bound * (1 + 1e-6)
    assert max(free.steps_) > LR * bound * 1.5  # without the plugin steps are longer
    assert 0 < clip.n_clipped_ < len(meter.steps_)
    assert clf.loss_curve_[-1] < 0.8 * clf.loss_curve_[0]  # still learns


def test_clipping_keeps_the_direction(diabetes):
    X, y = diabetes
    # one step from the same start: the clipped step is parallel to the free one
    free = _fit(X[:32], y[:32], [_StepMeter()], max_iter=1, shuffle=False)
    clipped = _fit(X[:32], y[:32], [GradClip(max_norm=1e-3)], max_iter=1, shuffle=False)
    start = _fit(X[:32], y[:32], [], max_iter=1, learning_rate_init=1e-12, shuffle=False)
    d_free = np.concatenate([(a - s).ravel() for a, s in zip(free.coefs_, start.coefs_)])
    d_clip = np.concatenate([(a - s).ravel() for a, s in zip(clipped.coefs_, start.coefs_)])
    cosine = d_free @ d_clip / np.linalg.norm(d_free) / np.linalg.norm(d_clip)
    assert cosine == pytest.approx(1.0, abs=1e-4)


def test_infinite_bound_changes_nothing(diabetes):
    X, y = diabetes
    a = _fit(X, y, [])
    b = _fit(X, y, [GradClip(max_norm=float("inf"))])
    np.testing.assert_array_equal(a.coefs_[0], b.coefs_[0])


def test_float32_stays_float32(diabetes):
    X, y = diabetes
    clf = _fit(X.astype(np.float32), y.astype(np.float32), [GradClip(0.1)], max_iter=1)
    assert all(W.dtype == np.float32 for W in clf.coefs_)


def test_lbfgs_is_refused_with_a_reason(diabetes):
    X, y = diabetes
    with pytest.raises(PluginError, match="GradClip needs a stochastic solver"):
        _fit(X, y, [GradClip()], solver="lbfgs")


@pytest.mark.parametrize("max_norm", [0, -1.0, "1", None])
def test_bad_max_norm_is_named(diabetes, max_norm):
    X, y = diabetes
    with pytest.raises(ValueError, match=r"GradClip: max_norm must be a real number > 0"):
        _fit(X, y, [GradClip(max_norm=max_norm)], max_iter=1)


@parametrize_with_plugin_checks([GradClip(max_norm=0.1)])
def test_conformance(plugin, check):
    check(plugin)
