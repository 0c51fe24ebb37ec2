"""Parallel training: the same bits on every backend, Dask, timeouts and dead workers.

Members are tiny (32 units, 20 epochs); the slow part is starting worker
processes (loky, a multi-process Dask cluster), a few seconds in all.
"""

import os
import threading
import time

import joblib
import numpy as np
import pytest
from sklearn.datasets import load_digits

from ensemblekit import EnsembleClassifier, EnsembleFitError, MLPClassifier, Plugin, hookimpl

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

distributed = pytest.importorskip("distributed")


class WhereAmI(Plugin):
    """Records the process and thread each epoch ran in, in ``history_``."""

    name = "where"

    @hookimpl
    def ensemblekit_epoch_end(self, record):
        record["pid"] = os.getpid()
        record["thread"] = threading.get_ident()


class Stall(Plugin):
    """Sleeps (or kills its worker process) when the run has a given seed."""

    name = "stall"

    def __init__(self, seed=None, seconds=0.0, kill=False):
        self.seed = seed
        self.seconds = seconds
        self.kill = kill

    @hookimpl
    def ensemblekit_fit_start(self, estimator):
        if estimator.random_state == self.seed:
            if self.kill:
                os._exit(1)
            time.sleep(self.seconds)


@pytest.fixture(scope="module")
def data():
    X, y = load_digits(return_X_y=True)
    return X[:300] / 16, y[:300], X[300:600] / 16


def make(**params):
    member = MLPClassifier(hidden_layer_sizes=(32,), max_iter=20, plugins=[WhereAmI()])
    return EnsembleClassifier(member, n_estimators=4, bootstrap=True, random_state=0, **params)


@pytest.fixture(scope="module")
def reference(data):
    X, y, Xte = data
    ens = make(n_jobs=1).fit(X, y)
    return ens, ens.predict_proba(Xte)


def _pids(ens):
    return {m.history_[0]["pid"] for m in ens.estimators_}


def test_loky_gives_the_same_bits_as_sequential(data, reference):
    X, y, Xte = data
    ref, proba = reference
    assert _pids(ref) == {os.getpid()}
    ens = make(n_jobs=2).fit(X, y)
    assert os.getpid() not in _pids(ens)  # trained in worker processes
    assert ens.member_seeds_ == ref.member_seeds_
    assert np.array_equal(ens.predict_proba(Xte), proba)
    assert all(s["blas_threads"] == 1 for s in ens.member_status_)


def test_n_jobs_none_honours_the_callers_joblib_config(data, reference):
    X, y, Xte = data
    _, proba = reference
    with joblib.parallel_config(backend="threading", n_jobs=2):
        ens = make().fit(X, y)
    threads = {m.history_[0]["thread"] for m in ens.estimators_}
    assert _pids(ens) == {os.getpid()} and threading.get_ident() not in threads
    assert np.array_equal(ens.predict_proba(Xte), proba)
    with joblib.parallel_config(backend="loky", n_jobs=2):
        ens = make().fit(X, y)
    assert os.getpid() not in _pids(ens)
    assert np.array_equal(ens.predict_proba(Xte), proba)


def test_dask_in_process_cluster_gives_the_same_bits(data, reference):
    X, y, Xte = data
    _, proba = reference
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster), joblib.parallel_config(backend="dask"):
        ens = make().fit(X, y)
    assert np.array_equal(ens.predict_proba(Xte), proba)


@pytest.mark.slow
def test_dask_multi_process_cluster_smoke(data, reference):
    X, y, Xte = data
    _, proba = reference
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=None) as cluster, \
            distributed.Client(cluster), joblib.parallel_config(backend="dask"):
        ens = make().fit(X, y)
    assert os.getpid() not in _pids(ens)
    assert np.array_equal(ens.predict_proba(Xte), proba)


def test_a_stalled_member_times_out_with_a_clear_error(data, reference):
    X, y, _ = data
    ref, _ = reference
    ens = make(timeout=0.5)
    ens.set_params(estimator__plugins=[Stall(seed=ref.member_seeds_[2], seconds=3)])
    start = time.perf_counter()
    with joblib.parallel_config(backend="threading", n_jobs=2):
        with pytest.raises(EnsembleFitError, match=r"did not finish within timeout=0.5 s"):
            ens.fit(X, y)
    assert time.perf_counter() - start < 30
    assert not hasattr(ens, "estimators_")


def test_a_dead_loky_worker_is_an_error_and_loky_stays_usable(data, reference):
    X, y, Xte = data
    ref, proba = reference
    ens = make(n_jobs=2)
    ens.set_params(estimator__plugins=[Stall(seed=ref.member_seeds_[1], kill=True)])
    with pytest.raises(EnsembleFitError, match="a worker process died"):
        ens.fit(X, y)
    assert not hasattr(ens, "estimators_")
    again = make(n_jobs=2).fit(X, y)
    assert np.array_equal(again.predict_proba(Xte), proba)
