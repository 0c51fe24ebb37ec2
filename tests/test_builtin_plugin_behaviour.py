"""WeightDecay, Dropout and the ``plugins`` parameter, through the public API."""

import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import load_digits, load_iris
from sklearn.model_selection import GridSearchCV

from ensemblekit import (
    Dropout,
    MLPClassifier,
    MLPRegressor,
    Plugin,
    PluginError,
    WeightDecay,
    hookimpl,
)
from ensemblekit.plugins import Hooks

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def small_digits():
    X, y = load_digits(return_X_y=True)
    return X[:300] / 16.0, y[:300], X[1000:1500] / 16.0, y[1000:1500]


# --------------------------------------------------------------------------
# the plugins parameter
# --------------------------------------------------------------------------
def test_plugins_by_name_object_and_pair():
    X, y = load_iris(return_X_y=True)
    clf = MLPClassifier(hidden_layer_sizes=(4,), max_iter=2, alpha=0,
                        plugins=["dropout", ("l2", WeightDecay(1e-3))]).fit(X, y)
    names = [n for n, _ in clf.plugins_]
    assert names == ["dropout", "l2"]
    assert isinstance(clf.plugins_[0][1], Dropout)


def test_fit_clones_plugins_and_never_modifies_params():
    X, y = load_iris(return_X_y=True)
    drop = Dropout(0.2)
    plugins = [drop]
    clf = MLPClassifier(hidden_layer_sizes=(4,), max_iter=2, plugins=plugins).fit(X, y)
    assert clf.plugins is plugins and plugins == [drop]
    assert clf.plugins_[0][1] is not drop
    assert vars(drop) == {"rate": 0.2, "mode": "inverted"}


def test_unknown_plugin_name_lists_registered_names():
    X, y = load_iris(return_X_y=True)
    with pytest.raises(ValueError, match=r"unknown plugin 'dropuot'.*dropout.*weight_decay"):
        MLPClassifier(plugins=["dropuot"]).fit(X, y)


@pytest.mark.parametrize("plugins, match", [
    ([42], "plugins must hold"),
    ([("a", 1)], "must be \\(name, plugin\\)"),
    ("dropout", "'plugins' parameter"),
])
def test_wrong_plugin_types(plugins, match):
    X, y = load_iris(return_X_y=True)
    with pytest.raises((TypeError, ValueError), match=match):
        MLPClassifier(plugins=plugins).fit(X, y)


@pytest.mark.parametrize("plugin, match", [
    (Dropout(rate=1.0), "rate"), (Dropout(rate=-0.1), "rate"), (Dropout(rate="high"), "rate"),
    (Dropout(mode="keras"), "mode"), (WeightDecay(alpha=-1), "alpha"),
    (WeightDecay(convention="keras"), "convention"),
])
def test_plugin_parameter_errors_name_the_parameter(plugin, match):
    X, y = load_iris(return_X_y=True)
    with pytest.raises((ValueError, TypeError), match=match):
        MLPClassifier(plugins=[plugin]).fit(X, y)


def test_duplicate_plugin_names():
    X, y = load_iris(return_X_y=True)
    with pytest.raises(ValueError, match="two plugins are named 'dropout'"):
        MLPClassifier(plugins=[Dropout(), Dropout()]).fit(X, y)


def test_nested_params_get_set_and_switch_off():
    clf = MLPClassifier(plugins=[Dropout(0.1), WeightDecay()])
    params = clf.get_params()
    assert params["plugins__dropout__rate"] == 0.1
    assert params["plugins__weight_decay__alpha"] == 1e-4
    original = clf.plugins
    clf.set_params(plugins__dropout__rate=0.3)
    assert clf.get_params()["plugins__dropout__rate"] == 0.3
    clf.set_params(plugins__dropout=None)
    assert clf.plugins is not original
    X, y = load_iris(return_X_y=True)
    clf.set_params(max_iter=2).fit(X, y)
    assert [n for n, _ in clf.plugins_] == ["weight_decay"]
    with pytest.raises(ValueError, match="no plugin named 'noise'"):
        clf.set_params(plugins__noise__std=1.0)


def test_nested_params_on_a_plugin_given_by_name():
    clf = MLPClassifier(plugins=["dropout"]).set_params(plugins__dropout__rate=0.4)
    assert isinstance(clf.plugins[0], Dropout) and clf.plugins[0].rate == 0.4


def test_grid_search_over_dropout_rate(small_digits):
    X, y, _, _ = small_digits
    search = GridSearchCV(
        MLPClassifier(hidden_layer_sizes=(32,), max_iter=20, random_state=0,
                      plugins=[Dropout()]),
        {"plugins__dropout__rate": [0.1, 0.3]}, cv=2)
    search.fit(X, y)
    assert search.best_params_["plugins__dropout__rate"] in (0.1, 0.3)
    assert len(search.cv_results_["params"]) == 2
    rates = {est.plugins_[0][1].rate for est in [search.best_estimator_]}
    assert rates == {search.best_params_["plugins__dropout__rate"]}


# --------------------------------------------------------------------------
# weight decay
# --------------------------------------------------------------------------
def test_alpha_is_served_by_the_weight_decay_plugin(small_digits):
    X, y, _, _ = small_digits
    kw = dict(hidden_layer_sizes=(16,), max_iter=5, random_state=0)
    by_alpha = MLPClassifier(alpha=0.01, **kw).fit(X, y)
    by_plugin = MLPClassifier(alpha=0, plugins=[WeightDecay(alpha=0.01)], **kw).fit(X, y)
    for a, b in zip(by_alpha.coefs_, by_plugin.coefs_):
        np.testing.assert_array_equal(a, b)
    assert [type(p) for _, p in by_alpha.plugins_] == [WeightDecay]
    none = MLPClassifier(alpha=0, **kw).fit(X, y)
    assert none.plugins_ == []


def test_explicit_weight_decay_takes_precedence_over_alpha(small_digits):
    X, y, _, _ = small_digits
    kw = dict(hidden_layer_sizes=(16,), max_iter=3, random_state=0)
    with pytest.warns(UserWarning, match="alpha=0.5 is ignored"):
        clf = MLPClassifier(alpha=0.5, plugins=[WeightDecay(1e-3)], **kw).fit(X, y)
    assert len([p for _, p in clf.plugins_ if isinstance(p, WeightDecay)]) == 1
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        MLPClassifier(plugins=[WeightDecay(1e-3)], **kw).fit(X, y)  # default alpha: silent
    assert not [w for w in caught if "is ignored" in str(w.message)]


def test_book_convention_equals_sklearn_times_batch_size(small_digits):
    X, y, _, _ = small_digits
    kw = dict(hidden_layer_sizes=(16,), max_iter=4, batch_size=300, alpha=0, random_state=0)
    book = MLPClassifier(plugins=[WeightDecay(0.01, convention="book")], **kw).fit(X, y)
    skl = MLPClassifier(plugins=[WeightDecay(0.01 * 300)], **kw).fit(X, y)
    for a, b in zip(book.coefs_, skl.coefs_):
        np.testing.assert_allclose(a, b, rtol=1e-10)


def test_weight_decay_shrinks_weights(small_digits):
    X, y, _, _ = small_digits
    kw = dict(hidden_layer_sizes=(100,) * 3, solver="sgd", momentum=0, learning_rate_init=0.05,
              max_iter=150, alpha=0, weight_init="he", random_state=0, tol=0,
              n_iter_no_change=1000)
    free = MLPClassifier(**kw).fit(X, y)
    decayed = MLPClassifier(plugins=[WeightDecay(0.05, convention="book")], **kw).fit(X, y)
    norm = lambda m: sum(float((c ** 2).sum()) for c in m.coefs_)  # noqa: E731
    assert norm(decayed) < 0.5 * norm(free)
    assert decayed.score(X, y) > 0.9


# --------------------------------------------------------------------------
# dropout
# --------------------------------------------------------------------------
def test_dropout_is_off_at_predict_and_on_while_training(small_digits):
    X, y, X_test, _ = small_digits
    kw = dict(hidden_layer_sizes=(32,), max_iter=5, random_state=0)
    clf = MLPClassifier(plugins=[Dropout(0.5)], **kw).fit(X, y)
    np.testing.assert_array_equal(clf.predict_proba(X_test), clf.predict_proba(X_test))
    plain = MLPClassifier(plugins=[Dropout(0.0)], **kw).fit(X, y)
    base = MLPClassifier(**kw).fit(X, y)
    np.testing.assert_array_equal(plain.coefs_[0], base.coefs_[0])  # rate 0 = no plugin
    assert not np.allclose(clf.coefs_[0], base.coefs_[0])


def test_book_mode_scales_by_keep_ratio_at_predict(small_digits):
    X, y, X_test, _ = small_digits
    clf = MLPRegressor(hidden_layer_sizes=(32,), max_iter=3, random_state=0,
                       plugins=[Dropout(0.25, mode="book")]).fit(X, y.astype(float))
    manual = np.maximum(X_test @ clf.coefs_[0] + clf.intercepts_[0], 0) * 0.75
    expected = (manual @ clf.coefs_[1] + clf.intercepts_[1]).ravel()
    np.testing.assert_allclose(clf.predict(X_test), expected)
    import pickle

    np.testing.assert_allclose(pickle.loads(pickle.dumps(clf)).predict(X_test), expected)


class _MaskRecorder(Plugin):
    """Records which units were zeroed in each training forward pass."""

    name = "recorder"

    def __init__(self):
        pass

    @hookimpl(trylast=True)
    def ensemblekit_forward_hidden(self, layer, activation):
        self.__dict__.setdefault("masks", []).append((activation == 0).copy())


def test_dropout_draws_a_fresh_mask_every_pass():
    X = np.abs(np.random.default_rng(0).normal(size=(50, 5))) + 1
    y = np.arange(50) % 2
    clf = MLPClassifier(hidden_layer_sizes=(40,), activation="identity", max_iter=3,
                        batch_size=50, alpha=0,
                        plugins=[Dropout(0.5), _MaskRecorder()], random_state=0)
    # identity units are never exactly 0, so zeros are the dropout mask
    clf.set_params(weight_init=1.0).fit(X, y)
    masks = clf.plugins_[1][1].masks
    assert len(masks) == 3
    assert 0.35 < masks[0].mean() < 0.65
    assert not np.array_equal(masks[0], masks[1])


@pytest.mark.parametrize("rate", [0.05, 0.2, 0.5, 0.9])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dropout_masks_drop_the_rate_and_keep_the_expected_activation(rate, dtype):
    """Masks come from 16 random bits a unit: the rate holds, the mean stays 1."""
    dropout = Dropout(rate=rate)
    dropout.ensemblekit_fit_start(estimator=None, rng=np.random.default_rng(0))
    ones = np.ones((400, 250), dtype=dtype)  # 100,000 units
    dropout.ensemblekit_forward_hidden(layer=0, activation=ones)
    assert ones.dtype == dtype
    dropped = (ones == 0).mean()
    assert abs(dropped - rate) < 4 * np.sqrt(rate * (1 - rate) / ones.size)
    kept = np.unique(ones[ones != 0])
    # 1 / keep ratio, the rate rounded to a multiple of 2**-16
    assert kept.size == 1 and abs(kept[0] * (1 - rate) - 1) < 2**-17 / (1 - rate) + 1e-6
    assert abs(ones.mean() - 1) < 4 * np.sqrt(rate / (1 - rate) / ones.size)
    delta = np.ones_like(ones)
    dropout.ensemblekit_backward_hidden(layer=0, delta=delta)
    np.testing.assert_array_equal(delta, ones)  # the same mask gates the gradient


# --------------------------------------------------------------------------
# hooks mechanics
# --------------------------------------------------------------------------
def test_no_plugins_means_no_hook_calls():
    hooks = Hooks([])
    assert hooks.any is False
    assert all(getattr(hooks, name) is None for name in
               ("forward_hidden", "backward_hidden", "penalty", "before_step", "after_step",
                "epoch_end", "batch_start", "should_stop"))
    only_decay = Hooks([("weight_decay", WeightDecay())])
    assert only_decay.penalty is not None and only_decay.forward_hidden is None


class _Exploding(Plugin):
    name = "exploding"

    def __init__(self):
        pass

    @hookimpl
    def ensemblekit_epoch_end(self, epoch):
        if epoch == 1:
            raise RuntimeError("boom")


def test_plugin_exception_names_plugin_and_hook():
    X, y = load_iris(return_X_y=True)
    with pytest.raises(PluginError, match=r"plugin 'exploding' failed in hook "
                                          r"ensemblekit_epoch_end: RuntimeError: boom"):
        MLPClassifier(hidden_layer_sizes=(4,), plugins=[_Exploding()]).fit(X, y)


class _StopAtThree(Plugin):
    name = "stop3"

    def __init__(self):
        pass

    @hookimpl
    def ensemblekit_should_stop(self, epoch):
        return epoch >= 2


def test_should_stop_hook_stops_training():
    X, y = load_iris(return_X_y=True)
    clf = MLPClassifier(hidden_layer_sizes=(4,), plugins=[_StopAtThree()]).fit(X, y)
    assert clf.n_iter_ == 3


def test_misspelled_hook_is_an_error():
    class Typo(Plugin):
        name = "typo"

        def __init__(self):
            pass

        @hookimpl
        def ensemblekit_epoch_ends(self, epoch):
            pass

    X, y = load_iris(return_X_y=True)
    with pytest.raises(PluginError, match="plugin 'typo' .*method ensemblekit_epoch_ends is "
                                          "not an ensemblekit hook; did you mean "
                                          "ensemblekit_epoch_end"):
        MLPClassifier(plugins=[Typo()]).fit(X, y)


def test_fitted_estimator_with_plugins_clones_and_pickles():
    import pickle

    X, y = load_iris(return_X_y=True)
    clf = MLPClassifier(hidden_layer_sizes=(4,), max_iter=2, plugins=[Dropout(0.2)]).fit(X, y)
    assert clone(clf).get_params()["plugins__dropout__rate"] == 0.2
    pickle.loads(pickle.dumps(clf)).predict(X)
    assert not hasattr(clf.plugins_[0][1], "_rng")  # per-fit state is dropped


class _Rebinder(Plugin):
    """Breaks the contract: replaces a weight array instead of changing it in place."""

    name = "rebinder"

    def __init__(self, hook="after_step"):
        self.hook = hook

    def _rebind(self, estimator, hook):
        if hook == self.hook:
            estimator.coefs_[0] = estimator.coefs_[0] * 0.5

    @hookimpl
    def ensemblekit_after_step(self, estimator):
        self._rebind(estimator, "after_step")

    @hookimpl
    def ensemblekit_epoch_start(self, estimator):
        self._rebind(estimator, "epoch_start")

    @hookimpl
    def ensemblekit_batch_start(self, estimator):
        self._rebind(estimator, "batch_start")


class _GradRebinder(Plugin):
    name = "gradrebinder"

    def __init__(self):
        pass

    @hookimpl
    def ensemblekit_before_step(self, grads):
        grads[0] = np.zeros((3, 3))


@pytest.mark.parametrize("plugin, hook", [(_Rebinder(), "after_step"),
                                          (_Rebinder("epoch_start"), "epoch_start"),
                                          (_Rebinder("batch_start"), "batch_start"),
                                          (_GradRebinder(), "before_step")])
def test_rebinding_training_state_is_a_clear_error(plugin, hook):
    X, y = load_iris(return_X_y=True)
    with pytest.raises(PluginError, match=f"ensemblekit_{hook} replaced a parameter"):
        MLPClassifier(hidden_layer_sizes=(4,), plugins=[plugin]).fit(X, y)


class _ListRebinder(Plugin):
    """Changes ``estimator.coefs_`` inside the penalty hook, whose ``coefs`` argument is
    that same list (the guard records it once, as the argument)."""

    name = "list_rebinder"

    def __init__(self, how="new list"):
        self.how = how

    @hookimpl
    def ensemblekit_penalty(self, estimator):
        if self.how == "new list":  # the argument untouched, the attribute rebound
            estimator.coefs_ = [W * 0.5 for W in estimator.coefs_]
        elif self.how == "item":
            estimator.coefs_[0] = estimator.coefs_[0] * 0.5
        else:  # a new list of the same arrays: nothing the loop uses has changed
            estimator.coefs_ = list(estimator.coefs_)
        return 0.0


@pytest.mark.parametrize("how, match", [
    ("new list", r"estimator\.coefs_\[0\] was rebound"),
    ("item", r"coefs\[0\] was rebound"),
    ("same arrays", None),
])
def test_an_estimator_list_that_is_also_an_argument_is_checked_both_ways(how, match):
    X, y = load_iris(return_X_y=True)
    clf = MLPClassifier(hidden_layer_sizes=(4,), max_iter=3, alpha=0.0,
                        plugins=[_ListRebinder(how)])
    if match is None:
        assert clf.fit(X, y).n_iter_ == 3
        return
    with pytest.raises(PluginError, match=r"ensemblekit_penalty replaced a parameter or "
                                          r"gradient array: " + match):
        clf.fit(X, y)


class _PredictProbe(Plugin):
    """Checks, while training, that predict applies the book-mode scaling."""

    name = "predict_probe"

    def __init__(self):
        pass

    @hookimpl
    def ensemblekit_epoch_end(self, estimator, record):
        X = load_iris(return_X_y=True)[0][:5]
        hidden = np.maximum(X @ estimator.coefs_[0] + estimator.intercepts_[0], 0) * 0.5
        logits = hidden @ estimator.coefs_[1] + estimator.intercepts_[1]
        expected = np.exp(logits - logits.max(axis=1, keepdims=True))
        expected /= expected.sum(axis=1, keepdims=True)
        record["predict_matches"] = bool(np.allclose(estimator.predict_proba(X), expected))


def test_inference_hooks_apply_during_training_too():
    """Early stopping scores the validation split with the inference hooks."""
    X, y = load_iris(return_X_y=True)
    clf = MLPClassifier(hidden_layer_sizes=(8,), max_iter=3, early_stopping=True, random_state=0,
                        plugins=[Dropout(0.5, mode="book"), _PredictProbe()]).fit(X, y)
    assert [r["predict_matches"] for r in clf.history_] == [True, True, True]


def test_dropout_with_lbfgs_warns_that_the_line_search_cannot_work():
    X, y = load_iris(return_X_y=True)
    with pytest.warns(UserWarning, match="Dropout\\(rate=0.2\\) with solver='lbfgs'"):
        MLPClassifier(solver="lbfgs", plugins=[Dropout(rate=0.2)], max_iter=20,
                      random_state=0).fit(X, y)
