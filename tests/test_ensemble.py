"""Ensembles on real data: accuracy, uncertainty, combiners, strategies, bad input.

Members are small (32 hidden units, at most 50 epochs) so the whole file runs in
seconds; parallel backends and faults are in ``test_ensemble_parallel.py``.
"""

import pickle
import re
import warnings
from pathlib import Path

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import load_diabetes, load_digits, load_iris
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import brier_score_loss, log_loss
from sklearn.model_selection import GridSearchCV, cross_val_score, cross_validate
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from ensemblekit import (
    DivergenceWarning,
    Dropout,
    EnsembleClassifier,
    EnsembleFitError,
    EnsembleRegressor,
    MLPClassifier,
    MLPRegressor,
    Plugin,
    TrainingDiverged,
    hookimpl,
)
from ensemblekit.default_plugins.bagging import Bootstrap
from ensemblekit.default_plugins.combiners import WeightedMean
from ensemblekit.metrics import (
    SCORERS,
    brier_scorer,
    ece_scorer,
    expected_calibration_error,
    multiclass_brier_score,
    nll_scorer,
)

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    X = X / 16
    return X[:300], y[:300], X[300:], y[300:]


@pytest.fixture(scope="module")
def diabetes():
    X, y = load_diabetes(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    return X, (y - y.mean()) / y.std()


def book_member(**params):
    """A small plain-SGD network: the seed's 6 x 100 book-shaped nets, scaled down."""
    params = {"hidden_layer_sizes": (32, 32), "solver": "sgd", "momentum": 0,
              "learning_rate_init": 0.1, "batch_size": 32, "max_iter": 50, **params}
    return MLPClassifier(**params)


# --------------------------------------------------------------------------
# the seed's claim: averaging members beats a member
# --------------------------------------------------------------------------
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_five_members_beat_one_on_digits_accuracy_and_nll(digits, seed):
    Xtr, ytr, Xte, yte = digits
    ens = EnsembleClassifier(book_member(), n_estimators=5, random_state=seed).fit(Xtr, ytr)
    member_acc = [m.score(Xte, yte) for m in ens.estimators_]
    member_nll = [log_loss(yte, m.predict_proba(Xte), labels=ens.classes_)
                  for m in ens.estimators_]
    acc = ens.score(Xte, yte)
    nll = log_loss(yte, ens.predict_proba(Xte))
    assert acc > member_acc[0] and acc > np.mean(member_acc)
    assert nll < member_nll[0] and nll < np.mean(member_nll)
    # the members really are different networks
    assert len({round(a, 6) for a in member_acc}) > 1


def test_members_are_reproducible_from_their_seeds(digits):
    Xtr, ytr, Xte, _ = digits
    ens = EnsembleClassifier(book_member(), n_estimators=3, random_state=7).fit(Xtr, ytr)
    again = EnsembleClassifier(book_member(), n_estimators=3, random_state=7).fit(Xtr, ytr)
    assert np.array_equal(ens.predict_proba(Xte), again.predict_proba(Xte))
    # one member, retrained alone from its recorded seed, is the same network
    alone = book_member(random_state=ens.member_seeds_[1]).fit(Xtr, ytr)
    assert np.array_equal(alone.predict_proba(Xte), ens.estimators_[1].predict_proba(Xte))
    other = EnsembleClassifier(book_member(), n_estimators=3, random_state=8).fit(Xtr, ytr)
    assert ens.member_seeds_ != other.member_seeds_


def test_member_status_is_recorded_as_data(digits):
    Xtr, ytr, _, _ = digits
    ens = EnsembleClassifier(book_member(max_iter=5), n_estimators=2, random_state=0)
    with pytest.warns(ConvergenceWarning, match=r"ensemble member 0 \(seed \d+\)"):
        ens.fit(Xtr, ytr)
    for status in ens.member_status_:
        assert status["n_iter"] == 5 and len(status["loss_curve"]) == 5
        assert status["converged"] is False and status["diverged"] is False
        assert status["blas_threads"] == 1
        assert any(issubclass(c, ConvergenceWarning) for c, _ in status["warnings"])
    assert ens.diverged_members_ == []


# --------------------------------------------------------------------------
# uncertainty
# --------------------------------------------------------------------------
def test_regressor_std_is_larger_far_outside_the_training_range(diabetes):
    X, y = diabetes
    member = MLPRegressor(hidden_layer_sizes=(32,), learning_rate_init=0.01, max_iter=200)
    for seed in (0, 1):
        ens = EnsembleRegressor(member, n_estimators=5, random_state=seed).fit(X[:300], y[:300])
        mean, std_in = ens.predict(X[300:], return_std=True)
        _, std_far = ens.predict(X[300:] + 6.0, return_std=True)  # 6 sd away in every feature
        assert np.array_equal(mean, ens.predict(X[300:]))
        assert std_in.shape == mean.shape == (len(X) - 300,)
        assert std_far.mean() > 3 * std_in.mean()
        assert (std_far > std_in).mean() > 0.9
        members = np.stack([m.predict(X[300:]) for m in ens.estimators_])
        assert np.allclose(std_in, members.std(axis=0))


def test_classifier_uncertainty_decomposes_and_flags_unknown_inputs(digits):
    Xtr, ytr, Xte, _ = digits
    ens = EnsembleClassifier(book_member(), n_estimators=5, random_state=0).fit(Xtr, ytr)
    known = ens.predict_uncertainty(Xte)
    noise = ens.predict_uncertainty(np.random.default_rng(0).random((200, 64)))
    assert np.array_equal(known.proba, ens.predict_proba(Xte))
    assert np.allclose(known.predictive_entropy,
                       known.expected_entropy + known.mutual_information)
    assert (known.mutual_information >= 0).all()
    assert ((known.disagreement >= 0) & (known.disagreement <= 1)).all()
    # members disagree more on pictures of noise than on digits (epistemic)
    assert noise.mutual_information.mean() > 2 * known.mutual_information.mean()
    assert noise.disagreement.mean() > known.disagreement.mean()
    # the rows where members disagree most are misclassified more often
    wrong = ens.predict(Xte) != digits[3]
    top = np.argsort(known.mutual_information)[-len(Xte) // 10:]
    assert wrong[top].mean() > 2 * wrong.mean()


def test_probability_scorers_in_cross_validation_and_grid_search(digits):
    Xtr, ytr, Xte, yte = digits
    ens = EnsembleClassifier(book_member(max_iter=20), n_estimators=2, random_state=0)
    scores = cross_validate(ens, Xtr, ytr, cv=3, scoring=SCORERS)
    for name in SCORERS:
        assert (scores[f"test_{name}"] < 0).all()
    fitted = ens.fit(Xtr, ytr)
    proba = fitted.predict_proba(Xte)
    assert nll_scorer(fitted, Xte, yte) == pytest.approx(-log_loss(yte, proba))
    onehot = (yte[:, None] == fitted.classes_).astype(float)
    assert brier_scorer(fitted, Xte, yte) == pytest.approx(
        -np.mean(np.sum((proba - onehot) ** 2, axis=1)))
    assert -1 <= ece_scorer(fitted, Xte, yte) < 0
    # a test fold that misses a class is scored against the estimator's classes
    only_some = np.isin(yte, [0, 1, 2])
    assert np.isfinite(nll_scorer(fitted, Xte[only_some], yte[only_some]))
    search = GridSearchCV(ens, {"n_estimators": [1, 2]}, cv=2, scoring=nll_scorer).fit(Xtr, ytr)
    for i, n in enumerate((1, 2)):
        by_hand = cross_val_score(clone(ens).set_params(n_estimators=n), Xtr, ytr, cv=2,
                                  scoring=nll_scorer)
        assert search.cv_results_["mean_test_score"][i] == pytest.approx(by_hand.mean())


def test_expected_calibration_error_values():
    y = np.array([0, 1, 1, 0])
    perfect = np.eye(2)[y]
    assert expected_calibration_error(y, perfect) == 0
    # every row 70 % confident and right half the time: |0.5 - 0.7|
    proba = np.array([[0.7, 0.3], [0.7, 0.3], [0.3, 0.7], [0.3, 0.7]])
    assert expected_calibration_error(y, proba) == pytest.approx(0.2)
    # Brier's original score: both classes' squared errors, twice scikit-learn's binary one
    assert multiclass_brier_score(y, proba, labels=[0, 1]) == pytest.approx(
        2 * brier_score_loss(y, proba[:, 1]))
    with pytest.raises(ValueError, match="one column per class"):
        expected_calibration_error(y, proba[:, :1])
    with pytest.raises(ValueError, match=r"labels \[5\]"):
        expected_calibration_error([5, 0], proba[:2], labels=[0, 1])


# --------------------------------------------------------------------------
# combiners and bagging
# --------------------------------------------------------------------------
def test_combiners_on_the_same_members(digits):
    Xtr, ytr, Xte, yte = digits
    params = dict(estimator=book_member(max_iter=30), n_estimators=5, random_state=3)
    mean = EnsembleClassifier(**params).fit(Xtr, ytr)
    outputs = np.stack([m.predict_proba(Xte) for m in mean.estimators_])
    assert np.allclose(mean.predict_proba(Xte), outputs.mean(axis=0))

    vote = EnsembleClassifier(combiner="vote", **params).fit(Xtr, ytr)
    shares = vote.predict_proba(Xte)
    winners = outputs.argmax(axis=2)
    counts = np.stack([(winners == k).sum(axis=0) for k in range(10)], axis=1)
    assert np.array_equal(shares * 5, counts)
    assert np.array_equal(vote.predict(Xte), vote.classes_[counts.argmax(axis=1)])

    geo = EnsembleClassifier(combiner="geometric_mean", **params).fit(Xtr, ytr).predict_proba(Xte)
    expected = np.exp(np.log(outputs).mean(axis=0))
    assert np.allclose(geo, expected / expected.sum(axis=1, keepdims=True))

    weights = [5, 0, 0, 0, 0]
    first = EnsembleClassifier(combiner=WeightedMean(weights=weights), **params).fit(Xtr, ytr)
    assert np.allclose(first.predict_proba(Xte), outputs[0])
    huge = clone(first).set_params(combiner=WeightedMean(weights=[1e308] * 5)).fit(Xtr, ytr)
    np.testing.assert_allclose(huge.predict_proba(Xte), mean.predict_proba(Xte))  # no overflow
    for ens in (mean, vote, first):
        assert ens.score(Xte, yte) > 0.6


def test_bootstrap_members_that_miss_a_class_are_aligned():
    X, y = load_iris(return_X_y=True)
    order = np.argsort(y, kind="stable")
    X, y = X[order], y[order]
    member = MLPClassifier(hidden_layer_sizes=(8,), solver="lbfgs", max_iter=50)
    ens = EnsembleClassifier(member, n_estimators=8, bootstrap=Bootstrap(max_samples=0.02),
                             random_state=0).fit(X, y)
    seen = [len(m.classes_) for m in ens.estimators_]
    assert min(seen) < 3  # three rows cannot always hold three classes
    proba = ens.predict_proba(X)
    assert proba.shape == (150, 3) and np.allclose(proba.sum(axis=1), 1)
    # a class a member never saw gets none of that member's vote
    aligned = np.zeros((len(ens.estimators_), 150, 3))
    for i, m in enumerate(ens.estimators_):
        columns = np.searchsorted(ens.classes_, m.classes_)
        aligned[i][:, columns] = m.predict_proba(X) if len(columns) > 1 else 1
    assert np.allclose(proba, aligned.mean(axis=0))


def test_bagging_draws_different_rows_per_member(digits):
    Xtr, ytr, Xte, _ = digits
    plain = EnsembleClassifier(book_member(max_iter=20), n_estimators=3, random_state=0)
    bagged = clone(plain).set_params(bootstrap=True)
    p1 = plain.fit(Xtr, ytr).predict_proba(Xte)
    p2 = bagged.fit(Xtr, ytr).predict_proba(Xte)
    assert not np.allclose(p1, p2)
    assert np.array_equal(p2, clone(bagged).fit(Xtr, ytr).predict_proba(Xte))
    assert bagged.sampler_.max_samples == 1.0


# --------------------------------------------------------------------------
# strategies: snapshot ensembles and MC dropout
# --------------------------------------------------------------------------
def test_snapshot_ensemble_takes_one_member_per_cycle(digits):
    Xtr, ytr, Xte, yte = digits
    member = MLPClassifier(hidden_layer_sizes=(32,), solver="sgd", momentum=0.9,
                           learning_rate_init=0.05, batch_size=32, max_iter=52)
    ens = EnsembleClassifier(member, n_estimators=4, strategy="snapshot",
                             random_state=0).fit(Xtr, ytr)
    assert len(ens.estimators_) == 4 and len(ens.member_seeds_) == 1
    assert ens.member_status_[0]["n_iter"] == 52  # 4 cycles of 13 epochs, no early stop
    firsts = [m.coefs_[0] for m in ens.estimators_]
    assert all(not np.array_equal(a, b) for a, b in zip(firsts, firsts[1:]))
    curve = ens.member_status_[0]["loss_curve"]
    # each restart at the full learning rate raises the loss above the cycle's end
    ends = [curve[13 * k - 1] for k in (1, 2, 3)]
    assert all(curve[13 * k] > end for k, end in zip((1, 2, 3), ends))
    assert ens.score(Xte, yte) > 0.8
    assert member.plugins is None  # the user's estimator is untouched


def test_mc_dropout_passes_are_a_deterministic_ensemble(digits):
    Xtr, ytr, Xte, yte = digits
    member = book_member(plugins=[Dropout(rate=0.2)])
    ens = EnsembleClassifier(member, n_estimators=10, strategy="mc_dropout",
                             random_state=0).fit(Xtr, ytr)
    assert len(ens.estimators_) == 1
    proba = ens.predict_proba(Xte)
    assert np.array_equal(proba, ens.predict_proba(Xte))
    # a row's prediction does not depend on the rows predicted with it
    assert np.allclose(ens.predict_proba(Xte[::-1][:50]), proba[::-1][:50])
    u = ens.predict_uncertainty(Xte)
    assert u.mutual_information.mean() > 0.01
    # the network without MC passes is the ordinary dropout-off prediction
    plain = ens.estimators_[0].predict_proba(Xte)
    assert not np.allclose(plain, proba)
    assert ens.score(Xte, yte) > 0.6
    # rate 0 keeps every unit: every pass is the plain network
    none = clone(ens).set_params(estimator__plugins__dropout__rate=0.0).fit(Xtr, ytr)
    assert np.allclose(none.predict_uncertainty(Xte).mutual_information, 0, atol=1e-12)


def test_strategies_refuse_members_they_cannot_use(digits):
    Xtr, ytr, _, _ = digits
    with pytest.raises(ValueError, match="exactly one Dropout plugin"):
        EnsembleClassifier(book_member(), n_estimators=2, strategy="mc_dropout").fit(Xtr, ytr)
    with pytest.raises(ValueError, match="mode='inverted'"):
        EnsembleClassifier(book_member(plugins=[Dropout(mode="book")]), n_estimators=2,
                           strategy="mc_dropout").fit(Xtr, ytr)
    with pytest.raises(ValueError, match="stochastic solver"):
        EnsembleClassifier(MLPClassifier(solver="lbfgs"), strategy="snapshot").fit(Xtr, ytr)
    with pytest.raises(ValueError, match="max_iter >= n_estimators"):
        EnsembleClassifier(book_member(max_iter=3), n_estimators=5,
                           strategy="snapshot").fit(Xtr, ytr)


# --------------------------------------------------------------------------
# scikit-learn conventions: clone, Pipeline, nested parameters, pickle, dtype
# --------------------------------------------------------------------------
def test_grid_search_over_the_members_dropout_rate(digits):
    Xtr, ytr, _, _ = digits
    ens = EnsembleClassifier(book_member(max_iter=20, plugins=[Dropout(rate=0.1)]),
                             n_estimators=2, random_state=0)
    assert ens.get_params()["estimator__plugins__dropout__rate"] == 0.1
    search = GridSearchCV(ens, {"estimator__plugins__dropout__rate": [0.0, 0.9]}, cv=2)
    search.fit(Xtr, ytr)
    means = search.cv_results_["mean_test_score"]
    assert means[0] != means[1]  # the rate reached the members
    best = search.best_params_["estimator__plugins__dropout__rate"]
    for member in search.best_estimator_.estimators_:
        assert dict(member.plugins_)["dropout"].rate == best
    assert ens.estimator.plugins[0].rate == 0.1  # the user's plugin is untouched


def test_clone_pipeline_and_pickle(digits):
    Xtr, ytr, Xte, _ = digits
    ens = EnsembleClassifier(book_member(max_iter=20), n_estimators=2, random_state=0,
                             strategy="mc_dropout")
    ens.set_params(estimator__plugins=[Dropout(rate=0.1)])
    pipe = make_pipeline(StandardScaler(), ens).fit(Xtr, ytr)
    proba = pipe.predict_proba(Xte)
    restored = pickle.loads(pickle.dumps(pipe))
    assert np.array_equal(restored.predict_proba(Xte), proba)
    fresh = clone(pipe)
    assert not hasattr(fresh[-1], "estimators_")
    assert np.array_equal(fresh.fit(Xtr, ytr).predict_proba(Xte), proba)


def test_float32_stays_float32(digits):
    Xtr, ytr, Xte, _ = digits
    ens = EnsembleClassifier(book_member(max_iter=10), n_estimators=2, random_state=0)
    ens.fit(Xtr.astype(np.float32), ytr)
    assert ens.estimators_[0].coefs_[0].dtype == np.float32
    assert ens.predict_proba(Xte.astype(np.float32)).dtype == np.float32
    u = ens.predict_uncertainty(Xte.astype(np.float32))
    assert u.mutual_information.dtype == np.float32


def test_default_estimator_is_an_ensemblekit_mlp():
    X, y = load_iris(return_X_y=True)
    ens = EnsembleClassifier(n_estimators=2, random_state=0).fit(X, y)
    assert all(type(m) is MLPClassifier for m in ens.estimators_)
    reg = EnsembleRegressor(n_estimators=2, random_state=0).fit(X[:, :3], X[:, 3])
    assert all(type(m) is MLPRegressor for m in reg.estimators_)
    assert ens.score(X, y) > 0.9


def test_any_scikit_learn_estimator_can_be_a_member():
    X, y = load_iris(return_X_y=True)
    ens = EnsembleClassifier(LogisticRegression(max_iter=500), n_estimators=3, bootstrap=True,
                             random_state=0).fit(X, y)
    assert ens.diverged_members_ == [] and ens.score(X, y) > 0.9
    assert all(s["converged"] and s["loss_curve"] == [] for s in ens.member_status_)
    reg = EnsembleRegressor(Ridge(), n_estimators=2, bootstrap=True, random_state=0)
    mean, std = reg.fit(X[:, :3], X[:, 3]).predict(X[:, :3], return_std=True)
    assert (std > 0).all() and mean.shape == (150,)


# --------------------------------------------------------------------------
# bad input and faults
# --------------------------------------------------------------------------
class Sabotage(Plugin):
    """Makes the run with a given seed diverge (``mode='diverge'``) or raise."""

    name = "sabotage"

    def __init__(self, seeds=(), mode="diverge"):
        self.seeds = seeds
        self.mode = mode

    @hookimpl
    def ensemblekit_epoch_end(self, estimator, epoch):
        if estimator.random_state in self.seeds and epoch == 2:
            if self.mode == "raise":
                raise RuntimeError("boom")
            for coef in estimator.coefs_:
                coef *= 1e300


def _seeds(n, random_state=0):
    X, y = load_iris(return_X_y=True)
    return EnsembleClassifier(MLPClassifier(max_iter=1), n_estimators=n,
                              random_state=random_state).fit(X, y).member_seeds_


@pytest.mark.filterwarnings("ignore::ensemblekit.DivergenceWarning")
def test_a_diverging_member_raises_or_is_dropped(digits):
    Xtr, ytr, Xte, _ = digits
    seeds = _seeds(3)
    member = book_member(max_iter=10, plugins=[Sabotage(seeds=(seeds[1],))])
    ens = EnsembleClassifier(member, n_estimators=3, random_state=0)
    with pytest.raises(TrainingDiverged, match=rf"ensemble member 1 \(seed {seeds[1]}\) diverged"):
        ens.fit(Xtr, ytr)
    assert not hasattr(ens, "estimators_")  # nothing half-written
    ens.set_params(on_member_divergence="drop")
    with pytest.warns(DivergenceWarning, match=r"members \[1\]"):
        ens.fit(Xtr, ytr)
    assert ens.diverged_members_ == [1] and len(ens.estimators_) == 2
    assert ens.member_status_[1]["diverged"] and ens.member_status_[1]["reason"]
    assert np.isfinite(ens.predict_proba(Xte)).all()
    ens.set_params(estimator__plugins=[Sabotage(seeds=tuple(seeds))])
    with pytest.raises(TrainingDiverged, match="all 3 ensemble training runs diverged"):
        ens.fit(Xtr, ytr)


@pytest.mark.parametrize("policy", ["raise", "drop"])
def test_a_member_diverging_by_a_huge_learning_rate_is_named_with_its_seed(policy):
    """SGD with a step of 3 and momentum on standardised digits: the loss runs away.

    Whatever the member's own policy does (here: stop after the epoch before
    the loss ran away, and warn), every warning and error the ensemble passes
    on names the member and its seed.  (With a step of 1e4 the first epoch
    already runs away, and the member raises instead of warning.)
    """
    X, y = load_digits(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    seeds = _seeds(2)
    member = MLPClassifier(hidden_layer_sizes=(32,), solver="sgd", learning_rate_init=3.0,
                           momentum=0.9, max_iter=20)
    ens = EnsembleClassifier(member, n_estimators=2, random_state=0,
                             on_member_divergence=policy)
    expected = (rf"ensemble member 0 \(seed {seeds[0]}\) diverged" if policy == "raise" else
                rf"all 2 ensemble training runs diverged \(seeds \[{seeds[0]}, {seeds[1]}\]\)")
    with warnings.catch_warnings(record=True) as caught, \
            pytest.raises(TrainingDiverged, match=expected):
        warnings.simplefilter("always")
        ens.fit(X, y)
    assert not hasattr(ens, "estimators_")
    divergence = [str(w.message) for w in caught if issubclass(w.category, DivergenceWarning)]
    for i, seed in enumerate(seeds):
        assert any(m.startswith(f"ensemble member {i} (seed {seed}): ") for m in divergence), \
            divergence

def test_a_member_that_raises_is_named_with_its_seed(digits):
    Xtr, ytr, _, _ = digits
    seeds = _seeds(3)
    member = book_member(max_iter=5, plugins=[Sabotage(seeds=(seeds[2],), mode="raise")])
    ens = EnsembleClassifier(member, n_estimators=3, random_state=0)
    with pytest.raises(EnsembleFitError, match=rf"member 2 \(seed {seeds[2]}\).*boom") as info:
        ens.fit(Xtr, ytr)
    assert info.value.member == 2 and info.value.seed == seeds[2]
    assert "boom" in str(info.value.__cause__)


@pytest.mark.parametrize("params, match", [
    ({"n_estimators": 0}, "'n_estimators' parameter"),
    ({"combiner": "median"}, r"unknown combiner 'median' \(did you mean 'mean'\?\). "
                             "Registered combiners: "
                             "geometric_mean, mean, vote, weighted_mean"),
    ({"combiner": "dropout"}, "combiner='dropout' is not a combiner"),
    ({"combiner": "weighted_mean"}, "needs weights"),
    ({"combiner": WeightedMean(weights=[1, 2])}, "2 weight.*for 3 member"),
    ({"combiner": WeightedMean(weights=[1, -1, 1])}, "non-negative"),
    ({"strategy": "vote"}, "strategy='vote' is not a strategy"),
    ({"bootstrap": Bootstrap(max_samples=0)}, "max_samples"),
    ({"estimator": MLPRegressor()}, "EnsembleClassifier needs a classifier"),
    ({"on_member_divergence": "ignore"}, "on_member_divergence"),
])
def test_bad_configuration_is_a_clear_value_error(params, match):
    X, y = load_iris(return_X_y=True)
    ens = EnsembleClassifier(MLPClassifier(max_iter=5), n_estimators=3).set_params(**params)
    with pytest.raises(ValueError, match=match):
        ens.fit(X, y)


def test_classification_only_combiners_refuse_a_regressor(diabetes):
    X, y = diabetes
    for combiner in ("vote", "geometric_mean"):
        with pytest.raises(ValueError, match=f"'{combiner}' combiner merges class probabilities"):
            EnsembleRegressor(MLPRegressor(max_iter=5), combiner=combiner).fit(X, y)
    with pytest.raises(ValueError, match="EnsembleRegressor needs a regressor"):
        EnsembleRegressor(MLPClassifier()).fit(X, y)


def test_member_warnings_do_not_leak_filters(digits):
    Xtr, ytr, _, _ = digits
    before = list(warnings.filters)
    EnsembleClassifier(book_member(max_iter=2), n_estimators=2).fit(Xtr, ytr)
    assert warnings.filters == before


@pytest.mark.slow
@pytest.mark.parametrize("page", ["ensembles.md", "dask.md"])
def test_the_examples_of_the_ensemble_pages_run(page):
    """Every fenced ``python`` block of the page runs, in order, in one namespace."""
    pytest.importorskip("distributed")
    text = (Path(__file__).resolve().parent.parent / "docs" / page).read_text()
    blocks = re.findall(r"^```python\n(.*?)^```", text, flags=re.S | re.M)
    assert blocks
    namespace = {"__name__": f"docs_{page[:-3]}"}
    with warnings.catch_warnings():
        for i, block in enumerate(blocks):
            exec(compile(block, f"{page}, python block {i + 1}", "exec"), namespace)


def test_members_without_a_random_state_are_bagged_all_the_same():
    """Any scikit-learn regressor may be a member; one without a seed differs by its rows."""
    from sklearn.datasets import load_diabetes
    from sklearn.linear_model import LinearRegression

    X, y = load_diabetes(return_X_y=True)
    bagged = EnsembleRegressor(LinearRegression(), n_estimators=3, bootstrap=True,
                               random_state=0).fit(X, y)
    coefs = [member.coef_ for member in bagged.estimators_]
    assert not np.allclose(coefs[0], coefs[1])  # other rows, other fits
    again = clone(bagged).fit(X, y)
    np.testing.assert_array_equal(bagged.predict(X), again.predict(X))
    assert bagged.score(X, y) > 0.4
