"""Property-based tests (hypothesis) over random finite data and hyper-parameters.

CI runs a bounded, fixed (derandomized) set of examples, so that a run's result
does not depend on its luck; set ``ENSEMBLEKIT_HYPOTHESIS=thorough`` for many
more, drawn afresh each run -- that is how new edge cases are found (one is
kept below as a test of its own).
"""

import os
import pickle
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from sklearn.base import clone

from ensemblekit import DivergenceWarning, Dropout, MLPClassifier, MLPRegressor, WeightDecay

settings.register_profile("ci", max_examples=25, deadline=None, derandomize=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("thorough", max_examples=500, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("ENSEMBLEKIT_HYPOTHESIS", "ci"))

finite = st.floats(min_value=-1e3, max_value=1e3, allow_nan=False, allow_infinity=False,
                   width=32)


@st.composite
def datasets(draw, classification=True):
    n = draw(st.integers(min_value=2, max_value=40))
    d = draw(st.integers(min_value=1, max_value=6))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    X = draw(arrays(dtype, (n, d), elements=finite))
    if classification:
        k = draw(st.integers(min_value=1, max_value=4))
        y = draw(arrays(np.int64, n, elements=st.integers(0, k - 1)))
    else:
        y = draw(arrays(np.float64, n, elements=finite))
    return X, y


@st.composite
def configs(draw):
    return dict(
        hidden_layer_sizes=tuple(draw(st.lists(st.integers(1, 8), min_size=0, max_size=2))),
        activation=draw(st.sampled_from(["identity", "logistic", "tanh", "relu"])),
        solver=draw(st.sampled_from(["sgd", "adam", "adagrad", "rmsprop", "lbfgs"])),
        learning_rate_init=draw(st.floats(1e-4, 0.5)),
        batch_size=draw(st.sampled_from(["auto", 1, 7])),
        batch_norm=draw(st.booleans()),
        weight_init=draw(st.sampled_from(["glorot", "he", "xavier", 0.1])),
        plugins=draw(st.sampled_from([None, [Dropout(0.3)], [WeightDecay(1e-2)]])),
        max_iter=draw(st.integers(1, 5)),
        random_state=draw(st.integers(0, 2**16)),
    )


def _fit_or_diverge(est, X, y):
    """Fit; a diverging fit must warn or raise, never leave non-finite weights."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            est.fit(X, y)
        except ValueError as exc:
            assert "non-finite" in str(exc) or "diverged" in str(exc), exc
            return None
    for arr in est.coefs_ + est.intercepts_ + est.bn_gammas_ + est.bn_running_vars_:
        assert np.isfinite(arr).all()
        assert arr.dtype == X.dtype
    return [w for w in caught if issubclass(w.category, DivergenceWarning)]


@given(data=datasets(), config=configs())
def test_classifier_probabilities_are_distributions(data, config):
    X, y = data
    clf = MLPClassifier(**config)
    if _fit_or_diverge(clf, X, y) is None:
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        proba = clf.predict_proba(X)
    n_cols = max(2, len(clf.classes_)) if len(clf.classes_) > 2 else 2
    assert proba.shape == (len(X), n_cols)
    assert proba.dtype == X.dtype
    assert np.isfinite(proba).all()
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-4 if X.dtype == np.float32 else 1e-10)
    assert set(clf.predict(X)) <= set(clf.classes_)


@pytest.mark.parametrize("on_divergence", ["stop", "raise"])
def test_a_last_step_that_overflows_the_outputs_is_caught(on_divergence, monkeypatch):
    """Found by hypothesis: a final step leaving finite weights whose outputs overflow.

    (Identity units and a step of 0.5 grow the weights to ~1e13; float32 logits
    become inf - inf = nan.)  No epoch's loss sees a fit's final step, so it is
    judged by one inference pass at the end.  The runaway-loss rule would stop
    this run one epoch earlier (its second epoch's loss is 4e7); it is switched
    off here so that the end-of-fit check is what is tested.
    """
    monkeypatch.setattr("ensemblekit.mlp.EXPLOSION_FACTOR", np.inf)
    X = np.full((8, 1), 35.0, dtype=np.float32)
    y = np.array([1, 0, 0, 0, 0, 0, 0, 0])
    clf = MLPClassifier(hidden_layer_sizes=(1, 4), activation="identity", solver="sgd",
                        learning_rate_init=0.5, batch_size=7, max_iter=2, random_state=0,
                        on_divergence=on_divergence)
    if on_divergence == "raise":
        with pytest.raises(ValueError, match="its last update made the network's outputs "
                                             "overflow"):
            clf.fit(X, y)
        return
    caught = _fit_or_diverge(clf, X, y)
    assert any("kept the weights from before that epoch" in str(w.message) for w in caught)
    assert np.isfinite(clf.predict_proba(X)).all()
    one_epoch = clone(clf).set_params(max_iter=1).fit(X, y)  # the weights it kept
    for a, b in zip(clf.coefs_, one_epoch.coefs_):
        np.testing.assert_array_equal(a, b)


@given(data=datasets(classification=False), config=configs())
def test_regressor_predictions_have_the_right_shape(data, config):
    X, y = data
    reg = MLPRegressor(**config)
    if _fit_or_diverge(reg, X, y) is None:
        return
    pred = reg.predict(X)
    assert pred.shape == (len(X),) and pred.dtype == X.dtype


@given(data=datasets(), config=configs())
@settings(max_examples=10)
def test_pickle_round_trip_and_refit_determinism(data, config):
    X, y = data
    clf = MLPClassifier(**config)
    if _fit_or_diverge(clf, X, y) is None:
        return
    again = pickle.loads(pickle.dumps(clf))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        np.testing.assert_array_equal(again.predict_proba(X), clf.predict_proba(X))
        twin = MLPClassifier(**config).fit(X, y)
    for a, b in zip(twin.coefs_, clf.coefs_):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_extreme_finite_logits_do_not_overflow(dtype):
    """Softmax and the log-loss stay finite for inputs that make huge logits."""
    X = np.array([[1e4, -1e4], [-1e4, 1e4], [1e4, 1e4]], dtype=dtype)
    clf = MLPClassifier(hidden_layer_sizes=(3,), activation="identity", max_iter=1,
                        learning_rate_init=1e-6, random_state=0).fit(X, [0, 1, 2])
    proba = clf.predict_proba(X * 10)
    assert np.isfinite(proba).all() and proba.dtype == dtype
    assert np.isfinite(clf.loss_)


@given(data=datasets(), config=configs())
@settings(max_examples=10)
def test_model_file_round_trip_is_exact(tmp_path_factory, data, config):
    import ensemblekit

    X, y = data
    clf = MLPClassifier(**config)
    if _fit_or_diverge(clf, X, y) is None:
        return
    path = tmp_path_factory.mktemp("property") / "m.ekm"
    ensemblekit.save(clf, path)
    loaded = ensemblekit.load(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))
    assert loaded.get_params().keys() == clf.get_params().keys()


@given(data=datasets(), config=configs(), n_jobs=st.sampled_from([2, -1]))
@settings(max_examples=8)
def test_ensembles_do_not_depend_on_n_jobs(data, config, n_jobs):
    import joblib

    from ensemblekit import EnsembleClassifier

    X, y = data
    config.pop("random_state")
    member = MLPClassifier(**config)

    def fit(jobs):
        ens = EnsembleClassifier(member, n_estimators=3, n_jobs=jobs, random_state=0,
                                 on_member_divergence="drop")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                return ens.fit(X, y).predict_proba(X)
            except ValueError as exc:  # every member diverged: the same for both
                return type(exc).__name__

    with joblib.parallel_config(backend="threading"):  # processes would be slow here
        parallel = fit(n_jobs)
    sequential = fit(1)
    if isinstance(sequential, str):
        assert parallel == sequential
    else:
        np.testing.assert_array_equal(parallel, sequential)


# --------------------------------------------------------------------------
# model files: random edits of a valid file load or are a ModelFileError
# --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def model_file_parts(tmp_path_factory):
    from forge import read_parts
    from sklearn.datasets import load_iris

    import ensemblekit

    X, y = load_iris(return_X_y=True)
    path = tmp_path_factory.mktemp("mutator") / "m.ekm"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf = MLPClassifier((4,), max_iter=3, random_state=0, batch_norm=True,
                            plugins=[Dropout(0.1), WeightDecay(1e-3)]).fit(X, y)
    ensemblekit.save(clf, path)
    return read_parts(path)


_HOSTILE_VALUES = [None, True, -1, 0, 2**63, 10**40, -1e308, 1e30, float("nan"), "", "x" * 64,
                   [], {}, {"$": "scalar", "dtype": "<U536870911", "value": "a"},
                   {"$": "scalar", "dtype": "<i8", "value": 1e30},
                   {"$": "objects", "shape": [2**64, 0], "items": []},
                   {"$": "tuple", "items": "abc"}, {"$": "builtin_type", "name": "object"},
                   {"$": "estimator", "class": "sklearn.Pipeline", "params": {}, "fitted": {}}]
_HOSTILE_DTYPES = ["<U0", "<f8", "|O", "<i2", "|b1", "<U536870911", "V8", "<c16"]


def _json_nodes(tree, at=()):
    """Every (container, key) in a JSON tree, in a fixed order."""
    items = tree.items() if isinstance(tree, dict) else enumerate(tree)
    for key, value in items:
        yield tree, key
        if isinstance(value, (dict, list)):
            yield from _json_nodes(value, at + (key,))


@st.composite
def model_file_edits(draw):
    """A list of edits; each a (kind, choices) pair applied by _mutate."""
    kinds = st.sampled_from(["value", "dtype", "shape", "nest", "duplicate", "delete",
                             "flip", "header"])
    return draw(st.lists(st.tuples(kinds, st.integers(0, 2**16), st.integers(0, 2**16)),
                         min_size=1, max_size=3))


def _mutate(document, arrays, edits):
    """Apply ``edits`` to a parsed document and its npz bytes (returns the new pair)."""
    import json as _json

    from forge import npy_header, npz, npz_members

    members = npz_members(arrays)
    for kind, a, b in edits:
        nodes = list(_json_nodes(document))
        parent, key = nodes[a % len(nodes)]
        if kind == "value":
            parent[key] = _json.loads(_json.dumps(_HOSTILE_VALUES[b % len(_HOSTILE_VALUES)]))
        elif kind == "dtype":
            entries = [n for n in nodes if isinstance(n[0][n[1]], dict) and "dtype" in n[0][n[1]]]
            if entries:
                p, k = entries[a % len(entries)]
                p[k]["dtype"] = _HOSTILE_DTYPES[b % len(_HOSTILE_DTYPES)]
        elif kind == "shape":
            entries = [n for n in nodes if isinstance(n[0][n[1]], dict) and "shape" in n[0][n[1]]]
            if entries:
                p, k = entries[a % len(entries)]
                p[k]["shape"] = [[10**12], [0, 2**62], [-1], [3, 4], []][b % 5]
        elif kind == "nest":
            parent[key] = _json.loads("[" * (b % 1200) + "0" + "]" * (b % 1200))
        elif kind == "duplicate":
            members.append(members[a % len(members)])
        elif kind == "delete" and members:
            members.pop(a % len(members))
        elif kind == "flip" and members:
            name, data = members[a % len(members)]
            data = bytearray(data)
            data[b % len(data)] ^= 1 << (a % 8)
            members[a % len(members)] = (name, bytes(data))
        elif kind == "header" and members:
            name, data = members[a % len(members)]
            shape = [(10**10,), (2**20, 2**20), (0,), (3,)][b % 4]
            header = npy_header(_HOSTILE_DTYPES[a % len(_HOSTILE_DTYPES)], shape)
            members[a % len(members)] = (name, header + data[128:])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # npz() warns about duplicate names
        return document, npz(members)


@given(edits=model_file_edits())
@settings(max_examples=10 * settings().max_examples)  # cheap: 250 take ~15 s in CI
def test_random_edits_of_a_model_file_load_or_are_a_model_file_error(
        tmp_path_factory, model_file_parts, edits):
    """Whatever a forger changes (digests recomputed): a model, or a ModelFileError."""
    import copy
    import sys

    from forge import craft, peak_mib

    import ensemblekit

    document, arrays = _mutate(copy.deepcopy(model_file_parts[0]), model_file_parts[1],
                               edits)
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(10_000)  # the forger's json.dumps of a deep document
    try:
        path = craft(tmp_path_factory.mktemp("mutated") / "m.ekm", document, arrays)
    except RecursionError:
        return
    finally:
        sys.setrecursionlimit(limit)

    def load():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                ensemblekit.load(path)
            except ensemblekit.ModelFileError:
                pass

    assert peak_mib(load) < 50
