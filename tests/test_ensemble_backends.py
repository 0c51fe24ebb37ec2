"""Ensembles train under any joblib backend, also one that cannot return a generator.

joblib refuses ``return_as="generator"`` on a backend whose
``supports_return_generator`` is false (Ray's ``RayBackend``, joblib's
``multiprocessing``); the ensemble then asks for a list.  A fake backend with the
flag off always runs; real Ray runs when it is installed (the ``ray`` extra).
"""

import joblib
import numpy as np
import pytest
from joblib._parallel_backends import ThreadingBackend
from sklearn.datasets import load_digits
from sklearn.utils.parallel import Parallel, delayed

from ensemblekit import EnsembleClassifier, MLPClassifier, Plugin, hookimpl
from ensemblekit.ensemble import member_progress

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


class NoGeneratorBackend(ThreadingBackend):
    """joblib's threading backend, claiming (like Ray's) it cannot return a generator."""

    supports_return_generator = False


joblib.register_parallel_backend("no_generator", NoGeneratorBackend)


@pytest.fixture(scope="module")
def data():
    X, y = load_digits(return_X_y=True)
    return X[:300] / 16, y[:300], X[300:600] / 16


def make(**params):
    member = MLPClassifier(hidden_layer_sizes=(32,), max_iter=20)
    return EnsembleClassifier(member, n_estimators=4, bootstrap=True, random_state=0, **params)


@pytest.fixture(scope="module")
def reference(data):
    X, y, Xte = data
    return make(n_jobs=1).fit(X, y).predict_proba(Xte)


def test_the_fake_backend_refuses_a_generator():
    """What the ensemble works around: joblib's own error, before any work starts."""
    with joblib.parallel_config(backend="no_generator", n_jobs=2):
        with pytest.raises(ValueError, match="does not support return_as=generator"):
            Parallel(return_as="generator")(delayed(abs)(-1) for _ in range(2))


def test_a_backend_without_generators_trains_the_same_bits_and_reports_progress(
        data, reference):
    X, y, Xte = data
    reports = []
    with joblib.parallel_config(backend="no_generator", n_jobs=2), \
            member_progress(lambda done, total, status: reports.append((done, total))):
        ens = make().fit(X, y)
    assert np.array_equal(ens.predict_proba(Xte), reference)
    assert reports == [(1, 4), (2, 4), (3, 4), (4, 4)]
    # n_jobs given to the ensemble, the backend from the caller's config
    with joblib.parallel_config(backend="no_generator"):
        ens = make(n_jobs=2).fit(X, y)
    assert np.array_equal(ens.predict_proba(Xte), reference)


STARTED: list[int] = []


class CountStarts(Plugin):
    """Counts the members whose training started (in this process)."""

    name = "count_starts"

    @hookimpl
    def ensemblekit_fit_start(self, estimator):
        STARTED.append(estimator.random_state)


def test_the_sequential_backend_still_reports_member_by_member(data):
    """The sequential backend returns a generator although its flag is off."""
    X, y, _ = data
    STARTED.clear()
    started_when_reported = []
    ens = make()
    ens.set_params(estimator__plugins=[CountStarts()])
    with joblib.parallel_config(backend="sequential"), member_progress(
            lambda done, total, status: started_when_reported.append(len(STARTED))):
        ens.fit(X, y)
    # each member reported before the next one started
    assert started_when_reported == [1, 2, 3, 4]


@pytest.fixture(scope="module")
def ray_joblib():
    """A local Ray with two CPUs and its joblib backend registered; shut down after."""
    ray = pytest.importorskip(
        "ray", reason="ray is not installed (pip install 'ensemblekit[ray]')")
    from ray.util.joblib import register_ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    register_ray()
    yield ray
    ray.shutdown()


def test_ray_gives_the_same_bits_as_loky(data, ray_joblib):
    X, y, Xte = data
    with joblib.parallel_config(backend="loky"):
        on_loky = make(n_jobs=2).fit(X, y)
    reports = []
    with joblib.parallel_config(backend="ray"), \
            member_progress(lambda done, total, status: reports.append(done)):
        on_ray = make(n_jobs=2).fit(X, y)
    assert on_ray.member_seeds_ == on_loky.member_seeds_
    assert np.array_equal(on_ray.predict_proba(Xte), on_loky.predict_proba(Xte))
    assert reports == [1, 2, 3, 4]
    assert all(s["blas_threads"] <= 1 for s in on_ray.member_status_)
