"""Ensembles are metadata routers, as scikit-learn's ``VotingClassifier`` is.

With ``enable_metadata_routing=True`` each member's ``fit`` gets the metadata its
estimator requested (``set_fit_request``; a ``Pipeline`` per step).  Passing
what the member has not said whether it wants, or what no one takes (a member
that refuses or does not accept it), is scikit-learn's own error, word for word
``VotingClassifier``'s.  With routing off (the default) nothing changes:
``sample_weight`` goes to every member, bit for bit as before.
"""

import numpy as np
import pytest
import sklearn
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.ensemble import VotingClassifier
from sklearn.exceptions import UnsetMetadataPassedError
from sklearn.model_selection import cross_validate
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.metadata_routing import MetadataRouter

from ensemblekit import EnsembleClassifier, EnsembleRegressor, MLPClassifier, MLPRegressor

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def data():
    X, y = load_digits(return_X_y=True)
    X, y = X[:300] / 16, y[:300]
    w = np.random.default_rng(0).uniform(0.1, 3, size=len(y))
    return X, y, w


@pytest.fixture
def routing():
    with sklearn.config_context(enable_metadata_routing=True):
        yield


def member(**params):
    return MLPClassifier(hidden_layer_sizes=(16,), max_iter=8, **params)


def ensemble(estimator, **params):
    return EnsembleClassifier(estimator, **{"n_estimators": 3, "random_state": 0, **params})


def proba(ens, X):
    return ens.predict_proba(X)


@pytest.mark.parametrize("cls, estimator", [(EnsembleClassifier, MLPClassifier()),
                                            (EnsembleRegressor, MLPRegressor()),
                                            (EnsembleClassifier, None)])
def test_get_metadata_routing_is_a_router_to_the_member(cls, estimator, routing):
    router = cls(estimator).get_metadata_routing()
    assert isinstance(router, MetadataRouter)
    assert not hasattr(cls(estimator), "set_fit_request")  # a router, not a consumer
    assert router.owner == cls.__name__
    # the member asked for nothing: nothing is consumed; once it asks, fit routes it
    assert not router.consumes("fit", ["sample_weight"])
    requested = MLPClassifier().set_fit_request(sample_weight=True)
    assert cls(requested).get_metadata_routing().consumes("fit", ["sample_weight"]) == {
        "sample_weight"}


def test_a_member_that_refuses_weights_gets_none(data, routing):
    """Weights another step takes do not reach members that refused them."""
    X, y, w = data
    pipe = Pipeline([("scale", StandardScaler().set_fit_request(sample_weight=True)),
                     ("ens", ensemble(member().set_fit_request(sample_weight=False)))])
    pipe.fit(X, y, sample_weight=w)
    scaled = pipe["scale"].transform(X)
    assert not np.allclose(pipe["scale"].mean_, X.mean(axis=0))  # the scaler got them
    unweighted = ensemble(member()).fit(scaled, y)
    assert np.array_equal(proba(pipe["ens"], scaled), proba(unweighted, scaled))


@pytest.mark.parametrize("bootstrap", [False, True])
def test_requested_weights_give_the_bits_of_routing_off(data, bootstrap):
    X, y, w = data
    off = ensemble(member(), bootstrap=bootstrap).fit(X, y, sample_weight=w)
    with sklearn.config_context(enable_metadata_routing=True):
        on = ensemble(member().set_fit_request(sample_weight=True),
                      bootstrap=bootstrap).fit(X, y, sample_weight=w)
    assert np.array_equal(proba(on, X), proba(off, X))
    assert not np.array_equal(proba(off, X), proba(ensemble(member(), bootstrap=bootstrap)
                                                   .fit(X, y), X))  # the weights matter


def test_routing_off_gives_every_member_the_weights_as_before(data):
    """Each member is its estimator, seeded, fitted on the weighted rows: bit for bit."""
    X, y, w = data
    ens = ensemble(member()).fit(X, y, sample_weight=w)
    for fitted, seed in zip(ens.estimators_, ens.member_seeds_):
        alone = member(random_state=seed).fit(X, y, sample_weight=w)
        for a, b in zip(fitted.coefs_, alone.coefs_):
            assert np.array_equal(a, b)


def test_a_pipeline_member_routes_per_step(data, routing):
    X, y, w = data
    pipe = Pipeline([("scale", StandardScaler().set_fit_request(sample_weight=False)),
                     ("mlp", member(random_state=0).set_fit_request(sample_weight=True))])
    ens = ensemble(pipe, n_estimators=2).fit(X, y, sample_weight=w)
    fitted = ens.estimators_[0]
    assert np.allclose(fitted["scale"].mean_, X.mean(axis=0))  # the scaler got no weights
    # the network did: as the pipeline fitted alone with the weights routed to it
    alone = clone(pipe).fit(X, y, sample_weight=w)
    assert np.array_equal(fitted.predict_proba(X), alone.predict_proba(X))
    unweighted = clone(pipe).fit(X, y)
    assert not np.array_equal(fitted.predict_proba(X), unweighted.predict_proba(X))


def _error(estimator, X, y, **params):
    with pytest.raises(Exception) as info:
        estimator.fit(X, y, **params)
    return info.value


@pytest.mark.parametrize("request_, kind", [
    (None, UnsetMetadataPassedError),  # accepts weights, did not say whether it wants them
    (False, TypeError),  # refuses them, and nothing else takes them
    ("knn", TypeError),  # does not accept weights at all
])
def test_weights_the_member_cannot_take_are_scikit_learns_error(data, routing, request_,
                                                               kind):
    X, y, w = data
    if request_ == "knn":
        estimator = KNeighborsClassifier()
        with pytest.raises(AttributeError):  # no weights to ask for
            estimator.set_fit_request(sample_weight=True)
    else:
        estimator = member().set_fit_request(sample_weight=request_)
    ours = _error(ensemble(estimator), X, y, sample_weight=w)
    theirs = _error(VotingClassifier([("m", estimator)]), X, y, sample_weight=w)
    assert type(ours) is type(theirs)
    assert isinstance(ours, kind)
    assert str(ours).replace("EnsembleClassifier", "VotingClassifier") == str(theirs)


def test_other_metadata_is_routed_or_refused(data):
    X, y, w = data
    with pytest.raises(ValueError, match="only supported if enable_metadata_routing=True"):
        ensemble(member()).fit(X, y, groups=w)
    with sklearn.config_context(enable_metadata_routing=True), \
            pytest.raises(TypeError, match="unexpected argument"):
        ensemble(member()).fit(X, y, groups=w)


def test_an_ensemble_routes_weights_inside_cross_validate(data, routing):
    X, y, w = data
    ens = ensemble(member().set_fit_request(sample_weight=True), n_estimators=2)
    scores = cross_validate(ens, X, y, cv=2, params={"sample_weight": w})
    assert len(scores["test_score"]) == 2
