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


# --------------------------------------------------------------------------
# members' warnings and epochs, the same on every backend (issue 16)
# --------------------------------------------------------------------------
def _fit_recording(backend, X, y, **config):
    """Fit ``make()`` under ``backend``; return it and every warning that reached us."""
    import warnings

    with joblib.parallel_config(backend=backend, **config), \
            warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ens = make(n_jobs=2).fit(X, y)
    return ens, list(caught)


@pytest.fixture(scope="module")
def dask_client():
    """A Dask cluster in this process: two workers of two threads each."""
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=2, processes=False,
                                  dashboard_address=None,
                                  scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
                                  ) as cluster, \
            distributed.Client(cluster) as client:
        yield client


@pytest.mark.parametrize("backend", ["sequential", "threading", "loky", "dask"])
def test_every_backend_names_the_member_of_each_warning(data, reference, backend, request):
    """Members in threads (threading, a Dask worker's pool) record their own warnings."""
    if backend == "dask":
        request.getfixturevalue("dask_client")
    X, y, Xte = data
    ens, caught = _fit_recording(backend, X, y)
    assert np.array_equal(ens.predict_proba(Xte), reference)
    convergence = [str(w.message) for w in caught
                   if "Maximum iterations (20)" in str(w.message)]
    assert convergence == [f"ensemble member {i} (seed {seed}): Stochastic Optimizer: "
                           "Maximum iterations (20) reached and the optimization hasn't "
                           "converged yet." for i, seed in enumerate(ens.member_seeds_)]
    assert all("site-packages" not in w.filename for w in caught), \
        [w.filename for w in caught]
    for status in ens.member_status_:
        assert [m for _, m in status["warnings"] if "Maximum iterations" in m]


def test_warnings_of_threads_that_train_no_member_still_reach_the_caller(data):
    """While members record theirs, a warning of another thread goes where it went before."""
    import threading
    import warnings

    X, y, _ = data
    gate = threading.Event()

    class WarnElsewhere(Plugin):
        name = "warn_elsewhere"

        @hookimpl
        def ensemblekit_fit_start(self, estimator):
            if not gate.is_set():
                gate.set()
                thread = threading.Thread(target=warnings.warn,
                                          args=("not a member's warning",))
                thread.start()
                thread.join()

    ens = make(n_jobs=2).set_params(estimator__plugins=[WarnElsewhere()])
    with joblib.parallel_config(backend="threading"), \
            warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        before = list(warnings.filters)
        ens.fit(X, y)
        assert warnings.filters == before
    assert "not a member's warning" in [str(w.message) for w in caught]


@pytest.mark.parametrize("backend", ["sequential", "threading", "loky"])
def test_epochs_are_reported_as_they_end_and_change_nothing(data, reference, backend):
    X, y, Xte = data
    epochs, members = [], []
    with joblib.parallel_config(backend=backend), member_progress(
            lambda done, total, status: members.append((done, epochs[-1][0])),
            epochs=lambda done, total: epochs.append((done, total))):
        ens = make(n_jobs=2).fit(X, y)
    assert np.array_equal(ens.predict_proba(Xte), reference)
    assert epochs[0] == (0, 80) and epochs[-1] == (80, 80)
    done = [d for d, _ in epochs]
    assert done == sorted(done)
    assert len(set(done)) > 5, done  # epochs in between, not only 20 per finished member
    assert [m for m, _ in members] == [1, 2, 3, 4]
    # when a member is reported, the epochs reported count all of its own
    assert all(counted >= 20 * m for m, counted in members), members
    # the reporting plugin is gone from the fitted members
    assert all(m.plugins is None and "_ensemble_epoch_progress" not in dict(m.plugins_)
               for m in ens.estimators_)


def test_dask_reports_members_and_no_epochs(data, reference, dask_client):
    X, y, Xte = data
    epochs, members = [], []
    with joblib.parallel_config(backend="dask"), member_progress(
            lambda done, total, status: members.append(done),
            epochs=lambda done, total: epochs.append(done)):
        ens = make(n_jobs=2).fit(X, y)
    assert np.array_equal(ens.predict_proba(Xte), reference)
    assert members == [1, 2, 3, 4] and epochs == []
