"""Ensemble fits on joblib's Dask backend that end in bounded time when a worker dies.

joblib's ``DaskDistributedBackend`` schedules the members; this module only
changes what it is given and watches it, because two things go wrong with it
when a worker process dies (joblib 1.4-1.6, measured in
``tests/test_dask_worker_loss.py``):

* **lost data**: joblib scatters each large argument (``X``, ``y``, a member's
  rows) to *one* worker.  Scattered data cannot be recomputed, so when that
  worker dies, Dask cancels every task that needs it -- the member that was
  running there and all the others -- even though Dask would have rerun the
  member elsewhere.  (Broadcasting it, joblib's ``scatter=`` option, does not
  last: Dask's active memory manager drops the replicas no task needs.)  Here
  the data are the results of tasks instead, which Dask recomputes when their
  workers die; joblib passes their futures through untouched.
* **a failure joblib never hears of**: when Dask gives up on a task (a member
  that killed ``distributed.scheduler.allowed-failures`` + 1 workers raises
  ``KilledWorker``), joblib's backend stores the error in the batch's future
  but never calls the batch's completion callback, and ``Parallel`` waits for
  it until its timeout.  Here the error is handed to that callback at once.

A watchdog thread covers what Dask itself does not report: after a worker has
left during the fit, if none of the fit's pending runs is processing on any
worker for ``grace`` seconds (no worker came back, or none that can run them),
the fit fails.  Every failure reaches ``Parallel`` as :class:`LostMembers`
naming the members whose runs were lost.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import CancelledError, Future
from contextlib import contextmanager
from functools import partial
from typing import Any

from joblib import parallel_config

#: Seconds a fit waits, after a worker left the cluster, for one of its pending
#: runs to be processing again before it fails (``ensemblekit.ensemble.LOST_MEMBER_GRACE``).
LOST_MEMBER_GRACE = 60.0

#: Seconds between two looks of the watchdog at the cluster.
POLL_INTERVAL = 1.0


class LostMembers(Exception):
    """The runs of some members were lost on the Dask cluster.

    Parameters
    ----------
    members : set of int
        Indices of the training runs lost: the fit's own set, which goes on
        growing while reports about other batches arrive (Dask reports the
        tasks of a dead worker one by one).
    reason : str
        What happened to the first of them.
    """

    def __init__(self, members: set[int], reason: str) -> None:
        super().__init__(f"members lost: {reason}")
        self.members = members
        self.reason = reason


def is_dask_backend(backend: Any) -> bool:
    """Whether ``backend`` is joblib's Dask backend (or a subclass of it).

    Parameters
    ----------
    backend : joblib.parallel.ParallelBackendBase
        The active joblib backend.

    Returns
    -------
    bool
        True for ``joblib.parallel_config(backend="dask")``.
    """
    return any(cls.__name__ == "DaskDistributedBackend" for cls in type(backend).__mro__)


class _Watchdog:
    """Hands joblib the Dask failures it would wait for, and fails a fit that stalls.

    Parameters
    ----------
    client : distributed.Client
        The client of joblib's backend.
    members : dict
        ``id(run) -> index`` of the training runs given to ``Parallel``.
    grace : float
        Seconds of stall tolerated after a worker left.
    """

    def __init__(self, client: Any, members: dict[int, int], grace: float) -> None:
        self.client = client
        self.members = members
        self.grace = grace
        self.backend: Any = None
        self.lost: set[int] = set()
        self._batches: list[tuple[list[int], Future, Any]] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="ensemblekit-dask-watchdog",
                                        daemon=True)

    def submitted(self, func: Any, future: Future, callback: Any) -> None:
        """Record a batch joblib has just submitted, with its members and callback."""
        members = [self.members[id(args[0])] for _, args, _ in func.items]
        with self._lock:
            self._batches.append((members, future, callback))
        future.add_done_callback(partial(self._done, members, callback))

    def _done(self, members: list[int], callback: Any, future: Future) -> None:
        # joblib's backend sets an exception on the future for a Dask-level
        # failure (KilledWorker) and never calls the callback: call it; a task
        # Dask cancelled (its data lost) comes as a result, before joblib's call
        error = future.exception()
        if error is None and isinstance(future.result(), CancelledError):
            error = future.result()
        if error is not None and callback is not None:
            self._fail(members, callback, f"{type(error).__name__}: {error}", error)

    def _fail(self, members: list[int], callback: Any, reason: str,
              cause: BaseException | None = None) -> None:
        with self._lock:
            self.lost.update(members)
        lost = LostMembers(self.lost, reason)
        lost.__cause__ = cause
        callback(lost)

    def _pending(self) -> list[tuple[list[int], Any]]:
        with self._lock:
            return [(members, callback) for members, future, callback in self._batches
                    if not future.done()]

    def _keys_pending_on_the_cluster(self) -> set[Any]:
        waiting = self.backend.waiting_futures
        with waiting.lock:
            return {future.key for future in waiting.futures}

    def _watch(self) -> None:
        workers = set(self.client.nthreads())
        departed = False
        stalled_since: float | None = None
        while not self._stop.wait(POLL_INTERVAL):
            try:
                now_workers = set(self.client.nthreads())
                processing = {key for keys in self.client.processing().values()
                              for key in keys}
            except Exception:  # the client is closing: Parallel reports it itself
                return
            departed = departed or bool(workers - now_workers) or not now_workers
            workers = now_workers
            pending = self._pending()
            if not departed or not pending or processing & self._keys_pending_on_the_cluster():
                stalled_since = None
                continue
            stalled_since = stalled_since or time.monotonic()
            if time.monotonic() - stalled_since >= self.grace:
                members = sorted(m for batch, _ in pending for m in batch)
                self._fail(members, pending[0][1],
                           f"a worker left the cluster and none of their runs was processing "
                           f"on any of its {len(now_workers)} workers for {self.grace:g} s")
                stalled_since = None

    def __enter__(self) -> _Watchdog:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()


def _supervised(backend_class: Any) -> Any:
    """``backend_class`` whose ``submit`` also tells a watchdog about each batch."""

    class Supervised(backend_class):  # type: ignore[valid-type, misc]
        watchdog: _Watchdog

        def submit(self, func: Any, callback: Any = None) -> Any:
            future = super().submit(func, callback)
            self.watchdog.submitted(func, future, callback)
            return future

    Supervised.__name__ = Supervised.__qualname__ = f"Supervised{backend_class.__name__}"
    return Supervised


def ensemble_data(value: Any) -> Any:
    """Return ``value``: the Dask task that holds a fit's data on the cluster.

    Parameters
    ----------
    value : object
        ``X``, ``y`` or a member's rows.

    Returns
    -------
    object
        ``value`` itself, in the worker that ran the task.
    """
    return value


@contextmanager
def supervised(backend: Any, n_workers: int, runs: Sequence[Any],
               grace: float) -> Iterator[Callable[[Any], Any]]:
    """Run the ``Parallel`` calls of the block on a supervised copy of joblib's Dask backend.

    The copy has the same client, worker timeout and submit options as
    ``backend``.  Any other backend is used as it is.

    Parameters
    ----------
    backend : joblib.parallel.ParallelBackendBase
        The active joblib backend.
    n_workers : int
        Workers of the fit; with one, joblib runs the members in this process.
    runs : sequence of estimator
        The training runs, each the first argument of its call, in member order.
    grace : float
        Seconds of stall tolerated after a worker left (:data:`LOST_MEMBER_GRACE`).

    Yields
    ------
    callable
        ``ship(value)``: what to give ``Parallel`` instead of a large argument
        (``X``, ``y``, a member's rows).  On Dask, the future of a task
        returning it (:func:`ensemble_data`), made once per object: a task
        Dask recomputes when the workers holding its result die, where data
        joblib scattered itself would be lost, and every member needing it
        cancelled.  Elsewhere, ``value`` itself; ``None`` stays ``None``.
    """
    if n_workers == 1 or not is_dask_backend(backend):
        yield _unchanged
        return
    client = backend.client
    futures: dict[int, Any] = {}

    def ship(value: Any) -> Any:
        if value is None:
            return None
        if id(value) not in futures:
            futures[id(value)] = client.submit(ensemble_data, value, pure=False)
        return futures[id(value)]

    watchdog = _Watchdog(client, {id(run): i for i, run in enumerate(runs)}, grace)
    copy = _supervised(type(backend))(
        client=client, wait_for_workers_timeout=backend.wait_for_workers_timeout,
        **backend.submit_kwargs)
    copy.watchdog = watchdog
    watchdog.backend = copy
    with watchdog, parallel_config(backend=copy):
        yield ship


def _unchanged(value: Any) -> Any:
    return value
