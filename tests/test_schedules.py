"""Learning-rate schedules through the public seam (``ensemblekit_learning_rate``).

The rates a fit trains with are read back at every step by a recording plugin
(``optimizer_.learning_rate`` at ``batch_start``, with plain SGD, where it is
the step size itself) and compared with the formulas written out here.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.datasets import load_digits, load_iris
from sklearn.exceptions import ConvergenceWarning

from ensemblekit import EnsembleClassifier, MLPClassifier, Plugin, PluginError, hookimpl
from ensemblekit.default_plugins.schedules import (
    CosineWarmRestarts,
    LinearWarmup,
    OneCycle,
    StepDecay,
)
from ensemblekit.testing import check_plugin

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

X, Y = load_iris(return_X_y=True)
BATCH = 50  # 3 steps per epoch on iris


class RateRecorder(Plugin):
    """Records (step, global_epoch, step size) at every batch start."""

    name = "rate_recorder"

    def __init__(self):
        pass

    @hookimpl
    def ensemblekit_batch_start(self, estimator, step):
        self.__dict__.setdefault("rates_", []).append(
            (step, estimator.n_epochs_, estimator.optimizer_.learning_rate))


def rates(schedule, max_iter=6, **params):
    """The step sizes a plain-SGD fit of ``max_iter`` epochs trains with."""
    clf = MLPClassifier(hidden_layer_sizes=(4,), solver="sgd", momentum=0.0,
                        learning_rate_init=0.1, batch_size=BATCH, max_iter=max_iter,
                        n_iter_no_change=1000, random_state=0,
                        plugins=[schedule, RateRecorder()], **params).fit(X, Y)
    recorded = clf.plugins_[1][1].rates_
    assert [s for s, _, _ in recorded] == list(range(3 * max_iter))
    return np.array([r for _, _, r in recorded]), clf


def test_step_decay_by_epoch():
    got, _ = rates(StepDecay(step_epochs=2, gamma=0.5))
    want = [0.1 * 0.5 ** (e // 2) for e in range(6) for _ in range(3)]
    np.testing.assert_allclose(got, want, rtol=1e-15)


def test_linear_warmup_then_constant():
    got, _ = rates(LinearWarmup(warmup_steps=4, start_factor=0.2))
    want = [0.1 * (0.2 + 0.8 * min(1, (k + 1) / 4)) for k in range(18)]
    np.testing.assert_allclose(got, want, rtol=1e-15)
    assert got[3:].tolist() == [0.1] * 15


def test_cosine_with_warm_restarts_per_step():
    got, _ = rates(CosineWarmRestarts(cycle_epochs=2, lr_min=0.01))
    t = np.arange(18) / 3 % 2  # fractional epochs into each 2-epoch cycle
    want = 0.01 + 0.09 / 2 * (1 + np.cos(np.pi * t / 2))
    np.testing.assert_allclose(got, want, rtol=1e-13)
    assert got[0] == got[6] == got[12] == pytest.approx(0.1)  # the restarts


def test_cosine_cycles_grow_by_cycle_mult_after_warmup():
    got, _ = rates(CosineWarmRestarts(cycle_epochs=1, cycle_mult=2, warmup_steps=3),
                   max_iter=8)
    np.testing.assert_allclose(got[:3], [0.1 / 3, 0.2 / 3, 0.1])
    # cycles of 1, 2 and 4 epochs start at epochs 0, 1 and 3 after the warm-up
    starts = [3 + 3 * e for e in (0, 1, 3)]
    np.testing.assert_allclose(got[starts], 0.1)
    t = (np.arange(3, 24) - 3) / 3
    length = np.where(t < 1, 1.0, np.where(t < 3, 2.0, 4.0))
    into = t - np.where(t < 1, 0.0, np.where(t < 3, 1.0, 3.0))
    np.testing.assert_allclose(got[3:], 0.05 * (1 + np.cos(np.pi * into / length)),
                               rtol=1e-13, atol=1e-17)


def test_one_cycle_rises_then_anneals():
    got, _ = rates(OneCycle(lr_max=0.4, pct_start=0.25, div_factor=10,
                            final_div_factor=100), max_iter=4)
    k = np.arange(12)  # 12 steps; the peak at 0.25 * 11 = 2.75 steps
    up = 0.4 + 0.5 * (0.04 - 0.4) * (1 + np.cos(np.pi * k / 2.75))
    down = 0.0004 + 0.5 * (0.4 - 0.0004) * (1 + np.cos(np.pi * (k - 2.75) / 8.25))
    np.testing.assert_allclose(got, np.where(k <= 2.75, up, down), rtol=1e-13)
    assert got[0] == pytest.approx(0.04) and got[-1] == pytest.approx(0.0004)
    assert np.all(np.diff(got[:3]) > 0) and np.all(np.diff(got[3:]) < 0)


def test_the_schedule_goes_on_across_partial_fit_calls():
    """Global counters: three partial_fit calls decay like three epochs of one fit."""
    clf = MLPClassifier(hidden_layer_sizes=(4,), solver="sgd", momentum=0.0,
                        learning_rate_init=0.1, batch_size=BATCH, random_state=0,
                        plugins=[StepDecay(step_epochs=1, gamma=0.5), RateRecorder()])
    for _ in range(3):
        clf.partial_fit(X, Y, classes=np.unique(Y))
    recorded = clf.plugins_[1][1].rates_  # plugins_ is re-cloned per call: the last one
    assert [(s, e) for s, e, _ in recorded] == [(6, 2), (7, 2), (8, 2)]
    assert [r for _, _, r in recorded] == [0.025] * 3
    assert (clf.n_steps_, clf.n_epochs_, clf.n_iter_) == (9, 3, 1)
    clf.fit(X, Y)  # a fresh fit restarts the counters
    assert clf.n_epochs_ == clf.n_iter_ and clf.n_steps_ == 3 * clf.n_iter_


def test_two_schedules_are_an_error_naming_both():
    clf = MLPClassifier(solver="sgd", plugins=[StepDecay(), LinearWarmup()])
    with pytest.raises(PluginError, match=r"plugins 'step_decay', 'warmup' all implement "
                                          r"ensemblekit_learning_rate"):
        clf.fit(X, Y)


def test_a_schedule_beside_the_snapshot_strategy_is_an_error_naming_both():
    member = MLPClassifier(hidden_layer_sizes=(4,), solver="sgd", max_iter=4,
                           plugins=[CosineWarmRestarts()])
    ens = EnsembleClassifier(member, n_estimators=2, strategy="snapshot", random_state=0)
    with pytest.raises(Exception, match=r"'cosine_restarts', 'snapshot_collector' all "
                                        r"implement ensemblekit_learning_rate"):
        ens.fit(X, Y)


class _BadRate(Plugin):
    name = "bad_rate"

    def __init__(self, rate=float("nan")):
        self.rate = rate

    @hookimpl
    def ensemblekit_learning_rate(self):
        return self.rate


@pytest.mark.parametrize("rate", [float("nan"), -0.1, float("inf"), "0.1"])
def test_a_bad_rate_is_an_error_naming_the_plugin(rate):
    with pytest.raises(PluginError, match=r"plugin 'bad_rate' returned the learning rate"):
        MLPClassifier(solver="sgd", plugins=[_BadRate(rate)]).fit(X, Y)


@pytest.mark.parametrize("plugin, match", [
    (StepDecay(gamma=0.0), "gamma must be a finite number > 0"),
    (StepDecay(step_epochs=1.5), "step_epochs must be an integer"),
    (LinearWarmup(warmup_steps=0), "warmup_steps must be an integer >= 1"),
    (CosineWarmRestarts(cycle_epochs=-1), "cycle_epochs must be a finite number > 0"),
    (CosineWarmRestarts(cycle_mult=0), "cycle_mult must be an integer >= 1"),
    (OneCycle(pct_start=1.5), r"pct_start must be a finite number > 0 and <= 1"),
    (OneCycle(lr_max=float("inf")), "lr_max must be a finite number > 0 or None"),
])
def test_bad_parameters_are_named(plugin, match):
    with pytest.raises(ValueError, match=match):
        MLPClassifier(solver="sgd", plugins=[plugin]).fit(X, Y)


def test_a_schedule_with_lbfgs_warns_that_it_does_nothing():
    with pytest.warns(UserWarning, match="StepDecay does nothing with solver='lbfgs'"):
        MLPClassifier(solver="lbfgs", max_iter=5, plugins=[StepDecay()]).fit(X, Y)


@pytest.mark.parametrize("name", ["cosine_restarts", "warmup", "one_cycle", "step_decay"])
def test_schedules_are_registered_and_pass_the_conformance_kit(name):
    clf = MLPClassifier(hidden_layer_sizes=(4,), solver="sgd", max_iter=3, plugins=[name],
                        random_state=0).fit(X, Y)
    plugin = clf.plugins_[0][1]
    assert plugin.name == name
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        check_plugin(plugin)


def test_an_ensemble_with_a_schedule_is_bitwise_the_same_for_any_n_jobs():
    X_d, y_d = load_digits(return_X_y=True)
    member = MLPClassifier(hidden_layer_sizes=(16,), solver="sgd", learning_rate_init=0.2,
                           max_iter=5, plugins=[OneCycle()])
    fits = [EnsembleClassifier(member, n_estimators=2, n_jobs=n_jobs, random_state=1)
            .fit(X_d / 16, y_d) for n_jobs in (1, 2)]
    np.testing.assert_array_equal(fits[0].predict_proba(X_d / 16),
                                  fits[1].predict_proba(X_d / 16))
    assert fits[0].score(X_d / 16, y_d) > 0.8
