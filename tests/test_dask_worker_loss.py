"""A Dask worker process killed under an ensemble fit: rerun, or an error naming the member.

The members train on a real multi-process ``distributed.LocalCluster`` through
joblib's Dask backend, and a plugin SIGKILLs the worker process training one
member (never this process).  Before ``ensemblekit._dask_watch``, a member that
killed its worker too often made Dask give up on it (``KilledWorker``), which
joblib's backend never reported: the fit waited for its timeout (an hour by
default); and a dead worker that held the data joblib had scattered to it
cancelled every member, even those Dask would have rerun.

Every test gives the ensemble a timeout far above what the test needs and
checks that the error did *not* come from it (its cause is Dask's own report,
or the watchdog's), so none depends on timing.  Starting clusters and waiting
for nannies takes seconds per test: the module is ``slow``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from contextlib import contextmanager

import numpy as np
import pytest
from faulty_plugins import KillWorker
from sklearn.datasets import load_digits

import ensemblekit.ensemble
from ensemblekit import EnsembleClassifier, EnsembleFitError, MLPClassifier

distributed = pytest.importorskip("distributed")
dask = pytest.importorskip("dask")
joblib = pytest.importorskip("joblib")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX signals"),
    pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning"),
]

#: The ensembles' timeout: a guard against a hang, never reached by a passing test.
GUARD = 600


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X[:300] / 16, y[:300]


def _seeds(n=4, random_state=0):
    """The seeds an ensemble with this random_state gives its runs (drawn in the driver)."""
    children = np.random.SeedSequence(random_state).spawn(n)
    return [int(c.generate_state(1)[0]) for c in children]


def _ensemble(*plugins, bootstrap=False):
    member = MLPClassifier(hidden_layer_sizes=(16,), max_iter=8, plugins=list(plugins))
    return EnsembleClassifier(member, n_estimators=4, bootstrap=bootstrap, random_state=0,
                              timeout=GUARD)


def _cluster(n_workers=2):
    return distributed.LocalCluster(n_workers=n_workers, threads_per_worker=1,
                                    processes=True, host="127.0.0.1",
                                    dashboard_address=None)


@contextmanager
def _client_of_workers_without_nanny(n_workers=2):
    """A scheduler and ``n_workers`` worker processes no nanny restarts, as on lost machines."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}  # they unpickle KillWorker
    with _cluster(n_workers=0) as cluster:
        command = [sys.executable, "-m", "distributed.cli.dask_worker",
                   cluster.scheduler_address, "--no-nanny", "--nthreads", "1",
                   "--host", "127.0.0.1", "--no-dashboard"]
        workers = [subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL) for _ in range(n_workers)]
        try:
            with distributed.Client(cluster) as client:
                client.wait_for_workers(n_workers, timeout=GUARD)
                yield client
        finally:
            for worker in workers:
                worker.kill()
                worker.wait()


@pytest.mark.parametrize("bootstrap", [False, True])
def test_a_member_whose_worker_dies_once_is_rerun_to_the_same_bits(digits, tmp_path,
                                                                   bootstrap):
    X, y = digits
    marker = tmp_path / "killed"
    reference = _ensemble(bootstrap=bootstrap).set_params(n_jobs=1).fit(X, y)
    ens = _ensemble(KillWorker(seed=_seeds()[1], marker=str(marker), driver=os.getpid()),
                    bootstrap=bootstrap)
    with _cluster() as cluster, distributed.Client(cluster), \
            joblib.parallel_config(backend="dask"):
        ens.fit(X, y)
    assert marker.exists()  # a worker did die under member 1
    np.testing.assert_array_equal(ens.predict_proba(X), reference.predict_proba(X))


def test_a_member_killing_every_worker_it_reaches_is_named(digits):
    X, y = digits
    seeds = _seeds()
    ens = _ensemble(KillWorker(seed=seeds[1], driver=os.getpid()))
    with _cluster() as cluster, distributed.Client(cluster), \
            joblib.parallel_config(backend="dask"):
        with pytest.raises(EnsembleFitError, match=rf"\b1 \(seed {seeds[1]}\)") as info:
            ens.fit(X, y)
    # Dask's report (its data went with the workers, or it killed too many), not the timeout
    assert isinstance(info.value.__cause__, (distributed.scheduler.KilledWorker,
                                             distributed.client.FutureCancelledError))
    assert not hasattr(ens, "estimators_")


def test_killed_worker_reaches_joblib_at_once_instead_of_the_timeout(digits):
    """Dask gives up on the member at its first dead worker; joblib alone waited ``GUARD`` s."""
    X, y = digits
    seeds = _seeds()
    ens = _ensemble(KillWorker(seed=seeds[1], driver=os.getpid()))
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}), \
            _cluster() as cluster, distributed.Client(cluster), \
            joblib.parallel_config(backend="dask"):
        with pytest.raises(EnsembleFitError, match=rf"\b1 \(seed {seeds[1]}\)") as info:
            ens.fit(X, y)
    assert isinstance(info.value.__cause__, distributed.scheduler.KilledWorker)
    assert "lost on the Dask cluster" in str(info.value)


def test_a_member_whose_workers_never_come_back_fails_after_the_grace(digits, monkeypatch):
    """No nanny restarts the workers the member kills: it would wait for a worker forever."""
    X, y = digits
    seeds = _seeds()
    monkeypatch.setattr(ensemblekit.ensemble, "LOST_MEMBER_GRACE", 3.0)
    ens = _ensemble(KillWorker(seed=seeds[1], driver=os.getpid()))
    with _client_of_workers_without_nanny(), joblib.parallel_config(backend="dask"):
        with pytest.raises(EnsembleFitError, match=rf"\b1 \(seed {seeds[1]}\)") as info:
            ens.fit(X, y)
    assert "none of their runs was processing on any of its 0 workers for 3 s" in str(info.value)
