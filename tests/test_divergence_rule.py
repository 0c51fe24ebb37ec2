"""A loss that runs away while finite is divergence (issue 17): the rule and its costs.

Before, ``MLPClassifier(solver="sgd", learning_rate_init=3, momentum=0.9)`` on
scaled digits trained on through losses of 5.8e6, 1.4e13, ... 3.5e50 without a
word (as scikit-learn does) until "no improvement" stopped it.  The rule
(``mlp.EXPLOSION_FACTOR``): an epoch whose loss exceeds 10 times the larger of
the loss of the call's first mini-batch and the constant predictor's loss has
diverged, and ``on_divergence`` decides.
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_diabetes, load_digits
from sklearn.preprocessing import StandardScaler

from benchmarks import divergence_rule
from ensemblekit import (
    DivergenceWarning,
    EnsembleClassifier,
    MLPClassifier,
    MLPRegressor,
    TrainingDiverged,
    mlp,
)

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return StandardScaler().fit_transform(X), y


RUNAWAY = dict(solver="sgd", learning_rate_init=3.0, momentum=0.9, max_iter=8,
               random_state=0)


def test_a_runaway_loss_stops_training_and_keeps_the_epoch_before(digits):
    X, y = digits
    with pytest.warns(DivergenceWarning, match=r"training diverged at epoch 2: the loss is "
                                               r"[0-9.e+]+, above [0-9.]+ \(10 times"):
        clf = MLPClassifier(**RUNAWAY).fit(X, y)
    assert clf.n_iter_ == 2 and len(clf.loss_curve_) == 2
    assert clf.loss_curve_[1] > 1e6  # finite, but running away
    assert np.isfinite(clf.predict_proba(X)).all()
    # the weights kept are those the first epoch ended with
    first = MLPClassifier(**{**RUNAWAY, "max_iter": 1}).fit(X, y)
    np.testing.assert_array_equal(clf.coefs_[0], first.coefs_[0])


def test_a_runaway_loss_raises_under_on_divergence_raise(digits):
    X, y = digits
    clf = MLPClassifier(**RUNAWAY, on_divergence="raise")
    with pytest.raises(TrainingDiverged, match="training diverged at epoch 2"):
        clf.fit(X, y)
    assert not hasattr(clf, "coefs_")  # a failed fit leaves the estimator as it was


def test_a_first_epoch_that_runs_away_leaves_nothing_to_keep(digits):
    """The issue's own case: learning_rate_init=1e4 explodes within the first epoch."""
    X, y = digits
    with pytest.raises(TrainingDiverged, match="training diverged in its first epoch"):
        MLPClassifier(**{**RUNAWAY, "learning_rate_init": 1e4}).fit(X, y)


def test_a_regression_that_runs_away_is_stopped_before_it_overflows():
    X, y = load_diabetes(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    with pytest.warns(DivergenceWarning, match="training diverged at epoch 2"):
        reg = MLPRegressor(solver="sgd", learning_rate_init=0.01, momentum=0.9,
                           max_iter=8, random_state=0).fit(X, y)
    assert np.isfinite(reg.predict(X)).all()


def test_partial_fit_that_runs_away_keeps_the_weights_from_before_the_call(digits):
    X, y = digits
    clf = MLPClassifier(solver="sgd", learning_rate_init=0.01, random_state=0)
    clf.partial_fit(X, y, classes=np.unique(y))
    before = [c.copy() for c in clf.coefs_]
    clf.set_params(learning_rate_init=1e4)
    clf.optimizer_.set_learning_rate(1e4)
    with pytest.warns(DivergenceWarning, match="training diverged at epoch 1"):
        clf.partial_fit(X, y)
    for kept, old in zip(clf.coefs_, before):
        np.testing.assert_array_equal(kept, old)


def test_an_ensemble_names_the_member_whose_loss_ran_away(digits):
    X, y = digits
    member = MLPClassifier(hidden_layer_sizes=(16,), **RUNAWAY)
    with pytest.raises(TrainingDiverged, match=r"ensemble member 0 \(seed \d+\) diverged: "
                                               r"training diverged at epoch 2"):
        EnsembleClassifier(member, n_estimators=2, random_state=0).fit(X, y)
    ens = EnsembleClassifier(member, n_estimators=2, random_state=0,
                             on_member_divergence="drop")
    with pytest.warns(DivergenceWarning, match=r"ensemble member [01] \(seed \d+\)"):
        with pytest.raises(Exception, match=r"all 2 ensemble training runs diverged"):
            ens.fit(X, y)


def test_the_rule_stops_no_ordinary_run():
    """No false positive on the quick grid (all: ``python -m benchmarks.divergence_rule``)."""
    results = divergence_rule.run(quick=True)
    assert sum(false for _, _, false in results.values()) == 0
    assert sum(runs for runs, _, _ in results.values()) >= 16


def test_the_constant_predictor_loss_is_the_class_prior_entropy():
    from ensemblekit._network import constant_loss

    y = np.eye(3)[[0, 0, 1, 2]]
    priors = np.array([0.5, 0.25, 0.25])
    assert constant_loss("log_loss", y) == pytest.approx(-(priors * np.log(priors)).sum())
    reg = np.array([[1.0], [3.0]])
    assert constant_loss("squared_error", reg) == pytest.approx(0.5)  # half the variance
    assert mlp.EXPLOSION_FACTOR == 10.0
