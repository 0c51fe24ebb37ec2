"""Optuna pruning: reports reach the study's own trial, pruned trials are PRUNED, not FAIL.

Real Optuna (an optional test dependency); skipped only when it cannot be imported.
"""

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.model_selection import GridSearchCV

from ensemblekit import MLPClassifier, Plugin, PluginError, hookimpl
from ensemblekit.exceptions import TrainingAborted
from ensemblekit.integration.optuna import OptunaPruningCallback
from ensemblekit.testing import check_pickle, plugin_checks

optuna = pytest.importorskip("optuna", reason="optuna is not installed (the test extra)")

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X / 16, y


@pytest.fixture
def trial():
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna.create_study(direction="maximize").ask()


@pytest.mark.filterwarnings("ignore:The reported value is ignored:UserWarning")
def test_the_trial_survives_clone_and_search_cloning(trial, digits):
    callback = OptunaPruningCallback(trial)
    assert clone(callback).trial is trial
    net = MLPClassifier(plugins=[callback])
    assert clone(net).plugins[0].trial is trial
    assert clone(net).get_params()["plugins"][0] is not callback  # still a new plugin
    # GridSearchCV-style: the estimator cloned, then its plugins cloned by fit
    X, y = digits
    search = GridSearchCV(MLPClassifier(hidden_layer_sizes=(8,), max_iter=2,
                                        early_stopping=True, plugins=[callback]),
                          {"alpha": [1e-4]}, cv=2, n_jobs=1).fit(X[:200], y[:200])
    fitted = search.best_estimator_
    assert dict(fitted.plugins_)["optuna_pruning"].trial is trial
    # every fit reported to the one trial: steps 0 and 1 (later reports of a step are ignored)
    frozen = trial.study.trials[0]
    assert sorted(frozen.intermediate_values) == [0, 1]


def test_each_epoch_is_reported_to_the_trial(trial, digits):
    X, y = digits
    net = MLPClassifier(hidden_layer_sizes=(8,), max_iter=4, early_stopping=True,
                        random_state=0, plugins=[OptunaPruningCallback(trial)])
    net.fit(X[:300], y[:300])
    reported = trial.study.trials[0].intermediate_values
    assert reported == {i: net.validation_scores_[i] for i in range(4)}
    loss = optuna.create_study().ask()
    net.set_params(plugins=[OptunaPruningCallback(loss, monitor="loss")]).fit(X[:300], y[:300])
    assert list(loss.study.trials[0].intermediate_values.values()) == net.loss_curve_


def test_a_pruned_fit_raises_trial_pruned_unwrapped_and_leaves_the_net_unfitted(digits):
    X, y = digits
    study = optuna.create_study(direction="maximize",
                                pruner=optuna.pruners.ThresholdPruner(lower=0.99))
    trial = study.ask()
    net = MLPClassifier(hidden_layer_sizes=(8,), max_iter=5, early_stopping=True,
                        plugins=[OptunaPruningCallback(trial)])
    with pytest.raises(optuna.TrialPruned, match="trial was pruned at epoch 1") as info:
        net.fit(X[:300], y[:300])
    assert not isinstance(info.value, PluginError)
    assert not hasattr(net, "coefs_")


def test_a_study_with_a_median_pruner_prunes_trials(digits):
    """Some trials of a real study end PRUNED (not FAIL); the others complete."""
    X, y = digits
    optuna.logging.set_verbosity(optuna.logging.WARNING)

    def objective(trial):
        lr = trial.suggest_float("learning_rate_init", 1e-5, 1e-1, log=True)
        net = MLPClassifier(hidden_layer_sizes=(16,), learning_rate_init=lr, max_iter=12,
                            early_stopping=True, n_iter_no_change=50, random_state=0,
                            plugins=[OptunaPruningCallback(trial)])
        return net.fit(X[:800], y[:800]).best_validation_score_

    study = optuna.create_study(
        direction="maximize", sampler=optuna.samplers.RandomSampler(seed=0),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=2))
    study.optimize(objective, n_trials=10, n_jobs=1)
    states = [t.state for t in study.trials]
    assert states.count(optuna.trial.TrialState.PRUNED) >= 2, states
    assert optuna.trial.TrialState.FAIL not in states
    assert states.count(optuna.trial.TrialState.COMPLETE) >= 3


def test_misuse_is_a_clear_error(trial, digits):
    X, y = digits
    with pytest.raises(TypeError, match="trial must be an Optuna trial"):
        MLPClassifier(plugins=[OptunaPruningCallback("trial-1")]).fit(X[:50], y[:50])
    with pytest.raises(PluginError, match="needs early_stopping=True"):
        MLPClassifier(max_iter=1, plugins=[OptunaPruningCallback(trial)]).fit(X[:50], y[:50])
    with pytest.warns(UserWarning, match="does nothing with solver='lbfgs'"):
        MLPClassifier(solver="lbfgs", max_iter=2, plugins=[
            OptunaPruningCallback(trial, monitor="loss")]).fit(X[:50], y[:50])


def test_conformance():
    """The plugin kit's checks but pickling: a pickled trial is a copy, by design not equal."""
    plugin = OptunaPruningCallback(optuna.trial.FixedTrial({}), monitor="loss")
    for check in plugin_checks(plugin):
        if check is not check_pickle:
            check(plugin)


class Abort(TrainingAborted):
    """An exception of a plugin author's, meant for the caller of fit."""


class AbortAt(Plugin):
    name = "abort_at"

    def __init__(self, epoch=0, error=None):
        self.epoch = epoch
        self.error = error

    @hookimpl
    def ensemblekit_epoch_end(self, epoch):
        if epoch == self.epoch:
            raise self.error


@pytest.mark.parametrize("error, reaches_caller", [
    (Abort("stop here"), Abort),
    (optuna.TrialPruned("pruned"), optuna.TrialPruned),
    (RuntimeError("a bug"), PluginError),
])
def test_which_hook_exceptions_pass_through(digits, error, reaches_caller):
    X, y = digits
    net = MLPClassifier(hidden_layer_sizes=(4,), max_iter=3, plugins=[AbortAt(1, error)])
    with pytest.raises(reaches_caller) as info:
        net.fit(X[:100], y[:100])
    # the plugin was cloned, and its error with it: the same class and message
    raised = info.value.__cause__ if reaches_caller is PluginError else info.value
    assert type(raised) is type(error) and str(raised) == str(error)
    assert np.all([not hasattr(net, a) for a in ("coefs_", "n_iter_")])
