"""Ensembles of networks: members trained in parallel with joblib, combined by plugins.

:class:`EnsembleClassifier` and :class:`EnsembleRegressor` train several
copies of an estimator (an ensemblekit MLP by default) and combine their
outputs.  What the ensemble does is made of plugins, found through the same
registry as any training plugin:

* a **combiner** merges the members' outputs (``"mean"``, ``"weighted_mean"``,
  ``"vote"``, ``"geometric_mean"``: hook :func:`ensemblekit_combine`);
* a **sampler** chooses each member's training rows (``bootstrap=True`` is
  bagging: hook :func:`ensemblekit_sample_member`);
* a **strategy** decides how members come out of training runs (the default
  is one independent run per member, a deep ensemble; ``"snapshot"`` and
  ``"mc_dropout"`` get every member out of one run).

The driver (this process) draws every run's seed from
``np.random.SeedSequence(random_state).spawn`` and every run's rows before
anything is dispatched, ships plain data (an unfitted estimator with its seed,
``X``, ``y``, row indices) to :func:`fit_member` through
:class:`sklearn.utils.parallel.Parallel`, and combines the members' outputs
itself, in member order.  Results are therefore the same bit for bit for any
``n_jobs`` and any joblib backend (sequential, loky, threading, dask, ray).  No
plugin manager ever crosses a process boundary.
"""

from __future__ import annotations

import difflib
import signal
import socket
import struct
import threading
import traceback
import warnings
from collections.abc import Callable, Iterator
from concurrent.futures import BrokenExecutor, CancelledError
from contextlib import contextmanager, suppress
from multiprocessing import TimeoutError as PoolTimeoutError
from numbers import Integral, Real
from typing import Any

import numpy as np
from joblib import effective_n_jobs
from joblib.parallel import SequentialBackend, get_active_backend
from sklearn.base import (
    BaseEstimator,
    ClassifierMixin,
    RegressorMixin,
    clone,
    is_classifier,
)
from sklearn.utils import Bunch
from sklearn.utils.metadata_routing import (
    UNUSED,
    MetadataRouter,
    MethodMapping,
    process_routing,
)
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.parallel import Parallel, delayed
from sklearn.utils.validation import check_is_fitted, validate_data
from threadpoolctl import threadpool_info, threadpool_limits

from ._dask_watch import LOST_MEMBER_GRACE, LostMembers, supervised
from ._random import make_rng
from ._sklearn import (
    HasMethods,
    Interval,
    StrOptions,
    check_method_params,
    check_sample_weight,
    fit_context,
    raise_for_params,
    routing_enabled,
    safe_indexing,
)
from ._stack import user_stacklevel
from ._state import unchanged_on_failure
from ._typing import ArrayLike, MatrixLike, RandomStateLike
from .exceptions import (
    DivergenceWarning,
    EnsembleFitError,
    TrainingDiverged,
    TrainingInterrupted,
)
from .hookspecs import hookimpl
from .mlp import EXPLOSION_FACTOR, BaseMLP, MLPClassifier, MLPRegressor
from .plugins import (
    ENSEMBLE_ROLES,
    EnsembleHooks,
    Plugin,
    PluginError,
    get_registry,
    read_only,
)

__all__ = [
    "CLASSIFIER_FITTED_ATTRIBUTES",
    "FITTED_ATTRIBUTES",
    "RUNTIME_ATTRIBUTES",
    "EnsembleClassifier",
    "EnsembleFitError",
    "EnsembleRegressor",
    "fit_member",
    "member_progress",
    "restore_fitted",
]

#: Timeout (seconds) of a fit on a backend other than sequential, threading
#: and loky when ``timeout=None``: the last resort against runs that never end
#: (lost Dask members end the fit sooner: ``LOST_MEMBER_GRACE``).
DEFAULT_TIMEOUT = 3600.0

# --------------------------------------------------------------------------
# the member function (runs in a worker)
# --------------------------------------------------------------------------
def _training_status(member: Any) -> dict[str, Any]:
    """Loss curve, convergence and divergence of a fitted member, as data."""
    curve = getattr(member, "loss_curve_", None)
    if curve is None:  # L-BFGS: the final loss; an estimator that is no MLP: nothing
        curve = [member.loss_] if hasattr(member, "loss_") else []
    curve = [float(v) for v in curve]
    finite = bool(np.isfinite(curve).all())
    history = getattr(member, "history_", None)
    if history is not None:  # an ensemblekit MLP judged its own epochs (mlp.EXPLOSION_FACTOR)
        verdict = history[-1].get("diverged") if history else None
        exploded = finite and verdict is not None
        if verdict is not None:  # what happened, without the advice that follows it
            verdict = verdict.split(";")[0]
    else:  # another estimator: the same factor, on its loss curve
        verdict = None
        exploded = finite and bool(curve) and (
            curve[-1] > EXPLOSION_FACTOR * max(curve[0], np.finfo(float).tiny))
    n_iter = getattr(member, "n_iter_", None)  # an array for some estimators, or None
    n_iter = 0 if n_iter is None else int(np.max(n_iter))
    max_iter = getattr(member, "max_iter", None)
    return {
        "loss_curve": curve,
        "n_iter": n_iter,
        "converged": max_iter is None or n_iter < max_iter,
        "diverged": (not finite) or exploded,
        "reason": ("non-finite training loss" if not finite else
                   verdict or f"the loss exploded from {curve[0]:.4g} to {curve[-1]:.4g}"
                   if exploded else None),
    }


_CAPTURE_LOCK = threading.Lock()
_CAPTURE = threading.local()
#: the process-wide part of :func:`_member_warnings`: how many blocks are open, the
#: ``catch_warnings`` that restores the filters, and the function it replaced
_CAPTURING: dict[str, Any] = {"blocks": 0, "saved": None, "shown": None}


def _dispatch_warning(msg: warnings.WarningMessage) -> None:
    """``warnings._showwarnmsg`` while members train: to the thread's record, or as before."""
    log = getattr(_CAPTURE, "log", None)
    if log is not None:
        log.append((msg.category, str(msg.message)))
        return
    # None: the last block closed meanwhile, and the module's own function is back
    (_CAPTURING["shown"] or warnings._showwarnmsg)(msg)  # type: ignore[attr-defined]


@contextmanager
def _capturing() -> Iterator[None]:
    """Show every warning, and let each thread record its own, inside the block.

    ``warnings.catch_warnings`` is process-wide, not thread-safe, and entered
    around every call by scikit-learn's ``Parallel`` in the worker (to give it
    the caller's filters): a member trained in a thread (joblib's threading
    backend, a Dask worker's thread pool) cannot use it without losing its
    warnings to, or stealing them from, another member.  The first block to
    open therefore replaces ``warnings._showwarnmsg`` -- the function every
    warning that passes the filters goes through, and which no
    ``catch_warnings`` saves or restores -- by one that sends the warning to
    the record of the thread that raised it (:func:`_member_warnings`), or
    where it went before, and puts an ``"always"`` filter first (two members
    raising the same warning both record it; a driver that opens the block
    before dispatching hands the filter to the workers too).  The last block
    to close restores both.
    """
    with _CAPTURE_LOCK:
        if _CAPTURING["blocks"] == 0:
            saved = warnings.catch_warnings()
            saved.__enter__()
            warnings.simplefilter("always")
            _CAPTURING.update(saved=saved, shown=warnings._showwarnmsg)  # type: ignore[attr-defined]
            warnings._showwarnmsg = _dispatch_warning  # type: ignore[attr-defined]
        _CAPTURING["blocks"] += 1
    try:
        yield
    finally:
        with _CAPTURE_LOCK:
            _CAPTURING["blocks"] -= 1
            if _CAPTURING["blocks"] == 0:
                warnings._showwarnmsg = _CAPTURING["shown"]  # type: ignore[attr-defined]
                _CAPTURING["saved"].__exit__(None, None, None)
                _CAPTURING.update(saved=None, shown=None)


@contextmanager
def _member_warnings() -> Iterator[list[tuple[type[Warning], str]]]:
    """Record, as ``(category, message)``, every warning this thread raises in the block."""
    log: list[tuple[type[Warning], str]] = []
    outer = getattr(_CAPTURE, "log", None)  # a member that is itself an ensemble
    with _capturing():
        _CAPTURE.log = log
        try:
            yield log
        finally:
            _CAPTURE.log = outer


class _EpochReporter(Plugin):
    """Reports the epochs of an ensemble member as they end.

    Added by :func:`fit_member` for the fit only, and removed from the fitted
    member again: it reads the epoch and changes nothing.

    Parameters
    ----------
    report : callable or None
        ``report(epochs_done)``.
    """

    name = "_ensemble_epoch_progress"

    def __init__(self, report: Callable[[int], None] | None = None) -> None:
        self.report = report

    @hookimpl
    def ensemblekit_epoch_end(self, epoch: int) -> None:
        """Report the epoch."""
        if self.report is not None:
            self.report(epoch + 1)


#: an epoch's report: the run's number and the epochs it has trained
_EPOCH_DATAGRAM = struct.Struct("!II")


def _observed_fit(member: Any, run: int, progress: tuple[str, int] | None, X: Any,
                  y: np.ndarray, params: dict[str, Any]) -> None:
    """``member.fit``; an ensemblekit MLP sends ``(run, epochs)`` to ``progress`` per epoch."""
    if progress is None or not isinstance(member, BaseMLP):
        member.fit(X, y, **params)
        return
    configured = member.plugins
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:

        def report(epoch: int) -> None:
            with suppress(OSError):  # a report lost is a bar behind, never a member lost
                sock.sendto(_EPOCH_DATAGRAM.pack(run, epoch), progress)

        member.plugins = [*(configured or []), _EpochReporter(report)]
        try:
            member.fit(X, y, **params)
        finally:
            member.plugins = configured
            if hasattr(member, "plugins_"):
                member.plugins_ = [(n, p) for n, p in member.plugins_
                                   if n != _EpochReporter.name]


def fit_member(member: Any, X: Any, y: np.ndarray, sample_weight: np.ndarray | None = None,
               indices: np.ndarray | None = None, fit_params: dict[str, Any] | None = None,
               *, run: int = 0, progress: tuple[str, int] | None = None,
               ) -> tuple[Any, dict[str, Any]]:
    """Train one ensemble member; the function every joblib backend runs.

    It receives plain data and returns plain data: nothing in it refers to
    the ensemble, so it pickles for process and cluster workers.  BLAS is
    limited to one thread (results do not depend on the thread count, and
    members never oversubscribe the cores).  Failures come back as data, not
    as exceptions, so the driver can name the member and its seed; so do the
    warnings the member raises, on every backend (in a process's main thread
    as in a worker thread: each thread records its own).

    Parameters
    ----------
    member : estimator
        An unfitted estimator whose ``random_state`` is this member's seed.
    X : {ndarray, sparse matrix} of shape (n_samples, n_features)
        Training data, validated by the driver.
    y : ndarray of shape (n_samples,) or (n_samples, n_outputs)
        Targets.
    sample_weight : ndarray of shape (n_samples,), default=None
        Sample weights.
    indices : ndarray of int, default=None
        Rows to train on (bagging); ``None`` for all rows.
    fit_params : dict, default=None
        Further keyword arguments of the member's ``fit`` (the metadata routed
        to it); values with one entry per row of ``X`` are taken at
        ``indices`` too.
    run : int, default=0
        The training run's number, reported with each epoch.
    progress : (str, int) or None, default=None
        Address of the driver's UDP socket (on the loopback interface): an
        ensemblekit MLP member sends it ``(run, epochs done)`` at the end of
        every epoch, from any thread or process of this machine; a report
        that cannot be sent is skipped.  The fitted member is the same with
        or without it.

    Returns
    -------
    member : estimator or None
        The fitted estimator, ``None`` when training raised.
    status : dict
        ``loss_curve``, ``n_iter``, ``converged``, ``diverged``, ``reason``
        (why it diverged), ``warnings`` (list of ``(category, message)``),
        ``error`` and ``traceback`` (the exception and its text when training
        raised) and ``blas_threads`` (BLAS threads the member ran with).

    Raises
    ------
    KeyboardInterrupt
        When the member's training was interrupted (Ctrl-C): an MLP stops and
        warns :class:`TrainingInterrupted`, and the ensemble stops with it rather
        than going on to train the other members.
    """
    params = dict(fit_params or {})
    if sample_weight is not None:
        params["sample_weight"] = sample_weight
    if indices is not None:
        params = check_method_params(X, params=params, indices=indices)
        X, y = safe_indexing(X, indices), safe_indexing(y, indices)
    status: dict[str, Any] = {"loss_curve": [], "n_iter": 0, "converged": False,
                              "diverged": False, "reason": None, "warnings": [],
                              "error": None, "traceback": None}
    with threadpool_limits(limits=1, user_api="blas"), _member_warnings() as caught:
        status["blas_threads"] = max(
            (i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"),
            default=0)
        try:
            _observed_fit(member, run, progress, X, y, params)
            status.update(_training_status(member))
        except TrainingDiverged as exc:
            member = None
            status.update(diverged=True, reason=str(exc))
        except Exception as exc:  # returned as data: the driver names the member
            member = None
            status.update(error=exc, traceback=traceback.format_exc())
    status["warnings"] = caught
    if any(issubclass(category, TrainingInterrupted) for category, _ in caught):
        # the member stopped and kept its weights; the ensemble stops too
        raise KeyboardInterrupt("an ensemble member's training was interrupted")
    return member, status


# --------------------------------------------------------------------------
# helpers of the driver
# --------------------------------------------------------------------------
def _seed_sequence(random_state: Any) -> np.random.SeedSequence:
    """The root of every run's seed; an int seeds it directly."""
    if isinstance(random_state, Integral) and not isinstance(random_state, bool):
        return np.random.SeedSequence(int(random_state))
    return np.random.SeedSequence(int(make_rng(random_state).integers(2**63)))


def _implements(plugin: Plugin, hook: str) -> bool:
    return callable(getattr(type(plugin), hook, None))


def _resolve_role(value: Any, role: str) -> Plugin:
    """A plugin given by name or as an object, checked to implement ``role``'s hook."""
    hook = next(h for h, r, _ in ENSEMBLE_ROLES if r == role)
    registry = get_registry()
    fitting = sorted(n for n, cls in registry.plugins.items() if callable(getattr(cls, hook, None)))
    plural = "strategies" if role == "strategy" else f"{role}s"
    if isinstance(value, str):
        if value not in registry.plugins:
            close = difflib.get_close_matches(value, fitting, n=1)
            raise ValueError(f"unknown {role} {value!r}"
                             + (f" (did you mean {close[0]!r}?)" if close else "")
                             + f". Registered {plural}: {', '.join(fitting) or '(none)'}.")
        plugin = registry.create(value)
    else:
        plugin = clone(value)
    if not _implements(plugin, hook):
        raise ValueError(
            f"{role}={value!r} is not a {role}: {type(plugin).__name__} does not "
            f"implement {hook}. Registered {plural}: {', '.join(fitting) or '(none)'}."
        )
    plugin.validate()
    return plugin


@contextmanager
def _configuration_errors():
    """A plugin's ValueError/TypeError about the configuration stays one."""
    try:
        yield
    except PluginError as exc:
        for kind in (ValueError, TypeError):
            if isinstance(exc.__cause__, kind):
                raise kind(str(exc)) from exc.__cause__
        raise


#: A worker died under joblib: loky's BrokenProcessPool, a backend's cancelled
#: future (on Dask, KilledWorker and cancellations come as LostMembers: _dask_watch).
_WORKER_DEATH_ERRORS = (BrokenExecutor, CancelledError)


#: joblib backends whose workers are processes this one starts (a Dask cluster's are not).
_PROCESS_BACKENDS = ("LokyBackend", "MultiprocessingBackend")


@contextmanager
def _workers_started_deaf_to_ctrl_c(n_workers: int) -> Iterator[None]:
    """Start joblib's worker processes with SIGINT blocked: only this process gets Ctrl-C.

    A process inherits the signal mask of the thread that starts it, across
    ``fork`` and ``exec``, and so do the threads created meanwhile (loky's
    manager thread, which replaces dead workers).  Workers started inside the
    block therefore never see a Ctrl-C sent to the whole process group (a
    terminal's): none prints a traceback from the middle of its imports or
    its member, and this process, which does get the signal, stops them all
    (joblib terminates its workers on ``KeyboardInterrupt``).  A Ctrl-C that
    arrives inside the block waits until its end, which comes as soon as the
    first runs are handed to the workers (asynchronous on these backends).
    Nothing is blocked for in-process backends, where runs may execute while
    they are dispatched.

    Parameters
    ----------
    n_workers : int
        Workers of the fit; with one, joblib runs the members in this process.
    """
    backend = type(get_active_backend()[0]).__name__
    if n_workers == 1 or backend not in _PROCESS_BACKENDS or not hasattr(
            signal, "pthread_sigmask"):
        yield
        return
    # the workers need multiprocessing's and loky's resource trackers; started
    # inside the block, they would unblock SIGINT when up (CPython < 3.14 and
    # joblib < 1.5 unblock rather than restore the mask they found): start them first
    from multiprocessing import resource_tracker

    from joblib.externals.loky.backend import resource_tracker as loky_resource_tracker

    resource_tracker.ensure_running()
    loky_resource_tracker.ensure_running()
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


_PROGRESS = threading.local()


@contextmanager
def member_progress(
    callback: Callable[[int, int, dict[str, Any]], None] | None,
    epochs: Callable[[int, int], None] | None = None,
) -> Iterator[None]:
    """Call ``callback(done, total, status)`` as each ensemble member finishes.

    Fits in this thread inside the ``with`` block report every finished
    training run, in member order, as soon as it and all runs before it are
    done (joblib returns results in order).  On a joblib backend that cannot
    return results one by one (``return_as="generator"``: Ray's), every run is
    reported, still in order, once the last one is done.  The callback runs in
    the driver, so it may update a progress bar; ``status`` is the run's
    :func:`fit_member` status (loss curve, convergence, divergence).

    With ``epochs``, the runs' epochs are reported too, as they end:
    ``epochs(done, total)`` gets the epochs trained by all runs together and
    the most they can train (every run's ``max_iter``); a run that stops
    early counts as complete when it finishes.  Epochs are reported for
    ensemblekit MLP members on the sequential, threading and loky (or
    multiprocessing) backends -- worker processes send them through a
    ``multiprocessing`` manager's queue -- and not on Dask or Ray, where only
    ``callback`` reports.  ``epochs(0, total)`` comes first, before any
    member trains, so a display knows whether epochs will follow.  Both
    callbacks run in threads of the driver, never at the same time; the
    members are the same with or without them.

    Parameters
    ----------
    callback : callable or None
        ``callback(done: int, total: int, status: dict) -> None``; ``None``
        reports nothing (inside the block, an outer callback is off too).
    epochs : callable or None, default=None
        ``epochs(done: int, total: int) -> None``, called as epochs end.

    Examples
    --------
    >>> from ensemblekit import EnsembleClassifier
    >>> from ensemblekit.ensemble import member_progress
    >>> with member_progress(lambda done, total, status: print(done, total)):
    ...     EnsembleClassifier(n_estimators=2).fit(X, y)  # doctest: +SKIP
    """
    previous = (getattr(_PROGRESS, "callback", None), getattr(_PROGRESS, "epochs", None))
    _PROGRESS.callback, _PROGRESS.epochs = callback, epochs
    try:
        yield
    finally:
        _PROGRESS.callback, _PROGRESS.epochs = previous


class _Reporter:
    """The driver's side of :func:`member_progress` for one fit.

    Counts every run's epochs from the datagrams the members send to a UDP
    socket of this process (:func:`fit_member`), read by a thread of its own,
    and calls the callbacks, one at a time.

    Parameters
    ----------
    runs : list of estimator
        The training runs (an ensemblekit MLP's ``max_iter`` bounds its epochs).
    n_workers : int
        Workers of the fit.
    """

    def __init__(self, runs: list[Any], n_workers: int) -> None:
        self.callback = getattr(_PROGRESS, "callback", None)
        self.epochs = getattr(_PROGRESS, "epochs", None)
        self.limits = [int(r.max_iter) if isinstance(r, BaseMLP) else 0 for r in runs]
        self.counts = [0] * len(runs)
        self.lock = threading.Lock()
        self.address: tuple[str, int] | None = None
        self._socket: socket.socket | None = None
        self._reader: threading.Thread | None = None
        backend = type(get_active_backend()[0]).__name__
        local = n_workers == 1 or backend in ("SequentialBackend", "ThreadingBackend",
                                              *_PROCESS_BACKENDS)
        if self.epochs is None or not sum(self.limits) or not local:
            return  # Dask, Ray (workers maybe elsewhere): members only
        try:
            self._socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self._socket.bind(("127.0.0.1", 0))
        except OSError:  # no loopback interface: members only
            self._socket = None
            return
        self.address = self._socket.getsockname()
        self._reader = threading.Thread(target=self._read, daemon=True,
                                        name="ensemblekit-epochs")
        self._reader.start()
        with self.lock:
            self.epochs(0, sum(self.limits))

    def _read(self) -> None:
        assert self._socket is not None and self.epochs is not None
        while True:
            try:
                datagram = self._socket.recv(64)
            except OSError:
                return
            if len(datagram) != _EPOCH_DATAGRAM.size:  # close()'s, or not ours
                return
            run, epoch = _EPOCH_DATAGRAM.unpack(datagram)
            with self.lock:
                if run < len(self.counts) and epoch > self.counts[run]:
                    self.counts[run] = min(epoch, self.limits[run])
                    self.epochs(sum(self.counts), sum(self.limits))

    def finished(self, done: int, total: int, status: dict[str, Any]) -> None:
        """Report run ``done - 1`` as finished: all its epochs, then the member."""
        with self.lock:
            run = done - 1
            if self.epochs is not None and self._reader is not None and (
                    self.counts[run] < self.limits[run]):
                self.counts[run] = self.limits[run]
                self.epochs(sum(self.counts), sum(self.limits))
            if self.callback is not None:
                self.callback(done, total, status)

    def close(self) -> None:
        """Stop the reading thread; later reports go nowhere."""
        if self._socket is None:
            return
        with suppress(OSError):
            self._socket.sendto(b"", self._socket.getsockname())
        if self._reader is not None:
            self._reader.join(timeout=10)
        self._socket.close()


def _return_as(backend: Any) -> str:
    """``"generator"`` when joblib's ``backend`` can return one, ``"list"`` otherwise.

    joblib refuses ``return_as="generator"`` (a ``ValueError`` before any work
    starts) on a backend whose ``supports_return_generator`` is false -- Ray's
    ``RayBackend``, joblib's ``multiprocessing`` -- except the sequential
    backend, which runs the calls one by one anyway.  Members are the same bit
    for bit either way: their seeds and rows are drawn before dispatch.

    Parameters
    ----------
    backend : joblib.parallel.ParallelBackendBase
        The active backend (``joblib.parallel.get_active_backend()[0]``).

    Returns
    -------
    str
        The ``return_as`` to give :class:`~sklearn.utils.parallel.Parallel`.
    """
    if isinstance(backend, SequentialBackend) or getattr(
            backend, "supports_return_generator", False):
        return "generator"
    return "list"


def _first(results: list[Any] | None) -> Any:
    """The first non-``None`` result of a :class:`~ensemblekit.plugins.DirectHook`."""
    return results[0] if results else None


# --------------------------------------------------------------------------
# the estimators
# --------------------------------------------------------------------------
class _BaseEnsemble(BaseEstimator):
    """Shared machinery of :class:`EnsembleClassifier` and :class:`EnsembleRegressor`."""

    _parameter_constraints: dict = {
        "estimator": [HasMethods(["fit", "predict"]), None],
        "n_estimators": [Interval(Integral, 1, None, closed="left")],
        "combiner": [str, Plugin],
        "bootstrap": ["boolean", str, Plugin],
        "strategy": [str, Plugin, None],
        "on_member_divergence": [StrOptions({"raise", "drop"})],
        "n_jobs": [Integral, None],
        "timeout": [Interval(Real, 0, None, closed="neither"), None],
        "random_state": ["random_state", np.random.Generator],
        "verbose": ["verbose"],
    }

    _default_estimator: type = MLPClassifier

    # a router, not a consumer: fit's sample_weight goes to the members as they
    # request it (get_metadata_routing), so the ensemble has no set_fit_request
    __metadata_request__fit = {"sample_weight": UNUSED}

    def __init__(self, estimator: BaseEstimator | None = None, n_estimators: int = 5, *,
                 combiner: str = "mean", bootstrap: bool = False, strategy: str | None = None,
                 on_member_divergence: str = "raise", n_jobs: int | None = None,
                 timeout: float | None = None, random_state: RandomStateLike = None,
                 verbose: int = 0) -> None:
        self.estimator = estimator
        self.n_estimators = n_estimators
        self.combiner = combiner
        self.bootstrap = bootstrap
        self.strategy = strategy
        self.on_member_divergence = on_member_divergence
        self.n_jobs = n_jobs
        self.timeout = timeout
        self.random_state = random_state
        self.verbose = verbose

    # ------------------------------------------------------------------
    # fit
    # ------------------------------------------------------------------
    def _template(self) -> Any:
        template = (self._default_estimator() if self.estimator is None
                    else clone(self.estimator))
        if is_classifier(template) != is_classifier(self):
            kind = "a classifier" if is_classifier(self) else "a regressor"
            raise ValueError(
                f"{type(self).__name__} needs {kind} as its estimator; got "
                f"{type(template).__name__}."
            )
        if is_classifier(self) and not hasattr(template, "predict_proba"):
            raise ValueError(
                f"EnsembleClassifier combines probabilities: its estimator must have "
                f"predict_proba, and {type(template).__name__} has not."
            )
        if hasattr(template, "_validate_params"):
            template._validate_params()
        return template

    def _plugins(self) -> list[tuple[str, Plugin]]:
        plugins = [("combiner", _resolve_role(self.combiner, "combiner"))]
        if self.bootstrap is not False:
            sampler = "bootstrap" if self.bootstrap is True else self.bootstrap
            plugins.append(("sampler", _resolve_role(sampler, "sampler")))
        if self.strategy is not None:
            plugins.append(("strategy", _resolve_role(self.strategy, "strategy")))
        return plugins

    def check_plugins(self) -> tuple[list[tuple[str, Plugin]], EnsembleHooks]:
        """Resolve the combiner, sampler and strategy, and let them check this ensemble.

        Called by ``fit``; call it first to refuse a misspelled plugin or
        settings a plugin rejects before any member is trained.

        Returns
        -------
        plugins : list of (str, Plugin)
            The combiner, and the sampler and strategy if any, by role.
        hooks : EnsembleHooks
            Their hooks.

        Raises
        ------
        ValueError, TypeError
            From ``ensemblekit_check_ensemble`` (e.g. weights that are not one
            per member), before any member is trained.
        """
        plugins = self._plugins()
        hooks = EnsembleHooks(plugins)
        with _configuration_errors():
            if hooks.check_ensemble is not None:
                hooks.check_ensemble(estimator=self, n_members=self.n_estimators)
        return plugins, hooks

    def _timeout(self, n_workers: int) -> float | None:
        backend = get_active_backend()[0]
        if n_workers == 1 or not backend.supports_timeout:
            return None
        if self.timeout is not None:
            return float(self.timeout)
        local = type(backend).__name__ in ("LokyBackend", "ThreadingBackend")
        return None if local else DEFAULT_TIMEOUT

    def _train(self, runs: list[Any], seeds: list[int], X, y, fit_params: dict[str, Any],
               indices: list[np.ndarray | None]) -> list[tuple[Any, dict[str, Any]]]:
        n_workers = effective_n_jobs(self.n_jobs)
        timeout = self._timeout(n_workers)
        backend = get_active_backend()[0]
        try:
            # in-process backends (sequential, threading, dask without processes)
            # share this process's BLAS: cap it here, around every member at once.
            # _capturing: the workers' filters (scikit-learn hands them the caller's)
            # show every warning, and members in this process's threads record theirs.
            # On Dask, lost members end the fit (ensemblekit._dask_watch).
            with threadpool_limits(limits=1, user_api="blas"), _capturing(), \
                    supervised(backend, n_workers, runs, grace=LOST_MEMBER_GRACE) as ship:
                # a generator reports each member as it finishes; a backend that cannot
                # return one (Ray's) returns the list, reported once it is complete
                parallel = Parallel(n_jobs=self.n_jobs, verbose=self.verbose, timeout=timeout,
                                    return_as=_return_as(backend))
                results = []
                reporter = _Reporter(runs, n_workers)
                try:
                    data, target, rows = ship(X), ship(y), [ship(idx) for idx in indices]
                    with _workers_started_deaf_to_ctrl_c(n_workers):
                        outputs = parallel(
                            delayed(fit_member)(run, data, target, indices=idx,
                                                fit_params=fit_params, run=r,
                                                progress=reporter.address)
                            for r, (run, idx) in enumerate(zip(runs, rows)))
                    for result in outputs:
                        results.append(result)
                        reporter.finished(len(results), len(runs), result[1])
                finally:
                    reporter.close()
        except PoolTimeoutError as exc:
            raise EnsembleFitError(
                f"the ensemble's {len(runs)} training runs did not finish within "
                f"timeout={timeout} s on joblib's {type(backend).__name__}; "
                "a worker may have died. Raise timeout= if the members are just slow."
            ) from exc
        except LostMembers as exc:
            lost = sorted(exc.members.copy())  # the watchdog may still add to it
            named = ", ".join(f"{i} (seed {seeds[i]})" for i in lost)
            raise EnsembleFitError(
                f"ensemble member{'s' * (len(lost) > 1)} {named} lost on the Dask cluster "
                f"({exc.reason}); no member was kept.", member=lost[0], seed=seeds[lost[0]],
            ) from exc.__cause__
        except _WORKER_DEATH_ERRORS as exc:
            raise EnsembleFitError(
                f"a worker process died (or the cluster cancelled the runs) while "
                f"training the ensemble's {len(runs)} members ({type(exc).__name__}: "
                f"{exc}); no member was kept."
            ) from exc
        for i, (_, status) in enumerate(results):
            if status["error"] is not None:
                err = status["error"]
                raise EnsembleFitError(
                    f"ensemble member {i} (seed {seeds[i]}) failed: "
                    f"{type(err).__name__}: {err}", member=i, seed=seeds[i]
                ) from err
        return results

    def _drop_diverged(self, results, seeds) -> tuple[list[Any], list[int]]:
        diverged = [i for i, (_, s) in enumerate(results) if s["diverged"]]
        if diverged and self.on_member_divergence == "raise":
            i = diverged[0]
            raise TrainingDiverged(
                f"ensemble member {i} (seed {seeds[i]}) diverged: {results[i][1]['reason']}. "
                "Lower the estimator's learning_rate_init, scale X, or set "
                "on_member_divergence='drop'."
            )
        if len(diverged) == len(results):
            raise TrainingDiverged(
                f"all {len(results)} ensemble training runs diverged (seeds {seeds}); "
                f"the first: {results[0][1]['reason']}."
            )
        if diverged:
            warnings.warn(
                f"ensemble members {diverged} (seeds {[seeds[i] for i in diverged]}) "
                f"diverged and were dropped; {len(results) - len(diverged)} remain.",
                DivergenceWarning, stacklevel=user_stacklevel(),
            )
        kept = [m for i, (m, _) in enumerate(results) if i not in diverged]
        return kept, diverged

    def _fit(self, X, y, sample_weight=None, **fit_params):
        with unchanged_on_failure(self):
            return self._fit_members(X, y, sample_weight, fit_params)

    def get_metadata_routing(self) -> MetadataRouter:
        """How ``fit``'s metadata reaches the members: the ensemble is a router.

        Used with ``sklearn.set_config(enable_metadata_routing=True)``: each
        member's ``fit`` gets the metadata (``sample_weight`` among them) that
        the estimator requested (``set_fit_request``; a ``Pipeline`` requests
        what its steps request), as in scikit-learn's ``VotingClassifier``:
        metadata nothing requested is scikit-learn's ``TypeError``, metadata a
        member has not said whether it wants its ``UnsetMetadataPassedError``.
        With routing off (the default) ``sample_weight`` goes to every member's
        ``fit``, and other metadata is an error.

        Returns
        -------
        routing : MetadataRouter
            ``fit`` routed to the estimator's ``fit``, under the name ``estimator``.
        """
        member = self._default_estimator() if self.estimator is None else self.estimator
        return MetadataRouter(owner=type(self).__name__).add(
            estimator=member, method_mapping=MethodMapping().add(caller="fit", callee="fit"))

    def _member_fit_params(self, sample_weight, fit_params: dict[str, Any]) -> dict[str, Any]:
        """The keyword arguments of every member's ``fit``: routed, or ``sample_weight``."""
        if routing_enabled():
            if sample_weight is not None:  # None is no metadata, as in VotingClassifier
                fit_params = {"sample_weight": sample_weight, **fit_params}
            routed = process_routing(self, "fit", **fit_params)
            return dict(routed["estimator"]["fit"])
        return {} if sample_weight is None else {"sample_weight": sample_weight}

    def _fit_members(self, X, y, sample_weight, fit_params):
        raise_for_params(fit_params, self, "fit")
        classifier = is_classifier(self)
        X, y = validate_data(self, X, y, accept_sparse=["csr", "csc"],
                             dtype=(np.float64, np.float32), multi_output=not classifier,
                             y_numeric=not classifier)
        if classifier:
            check_classification_targets(y)
            self.classes_ = np.unique(y)
        if sample_weight is not None:
            sample_weight = check_sample_weight(sample_weight, X, dtype=X.dtype,
                                                ensure_non_negative=True)
        member_params = self._member_fit_params(sample_weight, fit_params)
        template = self._template()
        plugins, hooks = self.check_plugins()
        with _configuration_errors():
            n_runs = None
            if hooks.prepare_runs is not None:
                n_runs = hooks.prepare_runs(estimator=self, template=template,
                                            n_estimators=self.n_estimators)
        n_runs = self.n_estimators if n_runs is None else int(n_runs)
        children = _seed_sequence(self.random_state).spawn(n_runs)
        seeds = [int(child.generate_state(1)[0]) for child in children]
        indices = [None] * n_runs
        if hooks.sample_member is not None:
            indices = [hooks.sample_member(estimator=self, run=r, n_samples=X.shape[0],
                                           y=read_only(y),
                                           rng=np.random.default_rng(children[r].spawn(1)[0]))
                       for r in range(n_runs)]
        # an estimator without a random_state (LinearRegression) differs only by its rows
        seeded = "random_state" in template.get_params()
        runs = [clone(template).set_params(random_state=seed) if seeded else clone(template)
                for seed in seeds]
        results = self._train(runs, seeds, X, y, member_params, indices)
        for i, (_, status) in enumerate(results):
            for category, message in status["warnings"]:
                warnings.warn(f"ensemble member {i} (seed {seeds[i]}): {message}", category,
                              stacklevel=user_stacklevel())
        fitted, diverged = self._drop_diverged(results, seeds)
        members = None
        if hooks.collect_members is not None:
            members = hooks.collect_members(estimator=self, runs=fitted)
        members = fitted if members is None else list(members)
        if not members:
            raise EnsembleFitError("the strategy produced no member from the training runs.")
        self.estimators_ = members
        self.member_seeds_ = seeds
        self.member_status_ = [{k: v for k, v in s.items() if k not in ("error", "traceback")}
                               for _, s in results]
        self.diverged_members_ = diverged
        roles = dict(plugins)
        self.combiner_ = roles["combiner"]
        self.sampler_ = roles.get("sampler")
        self.strategy_ = roles.get("strategy")
        # resolved once: predict needs no plugin manager, and the ensemble pickles
        self._combine = hooks.direct("ensemblekit_combine")
        self._member_outputs = hooks.direct("ensemblekit_member_outputs")
        return self

    # ------------------------------------------------------------------
    # predict
    # ------------------------------------------------------------------
    def _member_output(self, member: Any, X) -> np.ndarray:
        raise NotImplementedError

    def _outputs(self, X) -> tuple[np.ndarray, np.ndarray]:
        """Every member's output (n_members, n_samples, n_outputs) and the combined one."""
        check_is_fitted(self)
        X = validate_data(self, X, accept_sparse=["csr", "csc"], reset=False,
                          dtype=(np.float64, np.float32))
        outputs = None
        if self._member_outputs is not None:
            # the caller's own X when validation did not copy it: a strategy must
            # not be able to write into the user's data
            outputs = _first(self._member_outputs(estimator=self, members=self.estimators_,
                                                  X=read_only(X), output=self._member_output))
        if outputs is None:
            outputs = np.stack([self._member_output(m, X) for m in self.estimators_])
        combined = _first(self._combine(estimator=self, outputs=outputs))
        return outputs, combined

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags


_COMMON_PARAMETERS = """
    n_estimators : int, default=5
        Number of members (for ``strategy="mc_dropout"``, of stochastic
        passes; for ``"snapshot"``, of learning-rate cycles).
    combiner : str or Plugin, default="mean"
        How member outputs are merged: a registered combiner name
        (``"mean"``, ``"weighted_mean"``, ``"vote"``, ``"geometric_mean"``)
        or a combiner plugin object (``WeightedMean(weights=[...])``).
    bootstrap : bool, str or Plugin, default=False
        ``True`` trains each member on a bootstrap sample of the rows
        (bagging, the ``"bootstrap"`` sampler); a sampler name or plugin
        object chooses the rows another way.
    strategy : str, Plugin or None, default=None
        ``None`` trains one independent run per member (a deep ensemble);
        ``"snapshot"`` takes the members from the cycles of one run with a
        cyclic cosine learning rate; ``"mc_dropout"`` keeps the estimator's
        dropout on at inference and averages ``n_estimators`` passes.
    on_member_divergence : {"raise", "drop"}, default="raise"
        A member whose training loss became non-finite or exploded:
        ``"raise"`` raises :class:`~ensemblekit.TrainingDiverged` naming the
        member and its seed; ``"drop"`` drops it (listed in
        ``diverged_members_``, with a :class:`~ensemblekit.DivergenceWarning`)
        and fails only if no member is left.
    n_jobs : int or None, default=None
        Members trained in parallel, through joblib.  ``None`` honours the
        caller's ``joblib.parallel_config(...)`` (``backend="dask"`` with a
        ``distributed.Client`` trains on a cluster) and is 1 otherwise.  The
        result does not depend on it.
    timeout : float or None, default=None
        Seconds the training runs may take on a parallel backend before a
        clear :class:`EnsembleFitError`.  ``None``: no limit with loky and
        threading (loky reports a dead worker itself), ``DEFAULT_TIMEOUT``
        (one hour) on any other backend, where a dead worker could otherwise
        hang the fit.
    random_state : int, RandomState, Generator or None, default=None
        Seeds ``np.random.SeedSequence``, whose spawned children give every
        training run its ``random_state`` and its rows (the estimator's own
        ``random_state`` is overridden).  An int makes fits reproducible.
    verbose : int, default=0
        joblib's progress messages."""

_COMMON_ATTRIBUTES = """
    estimators_ : list of estimator
        The fitted members, in a fixed order (for ``"snapshot"``, one per
        cycle; for ``"mc_dropout"``, the one network whose passes are the
        members).
    member_seeds_ : list of int
        The ``random_state`` of every training run.
    member_status_ : list of dict
        Per training run: ``loss_curve``, ``n_iter``, ``converged``,
        ``diverged``, ``reason``, ``warnings`` (``(category, message)``
        pairs raised in the worker) and ``blas_threads``.
    diverged_members_ : list of int
        Training runs dropped because they diverged.
    combiner_ : Plugin
        The combiner used.
    sampler_ : Plugin or None
        The sampler used (``bootstrap``).
    strategy_ : Plugin or None
        The strategy used.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Feature names, when X had string column names."""


class EnsembleClassifier(ClassifierMixin, _BaseEnsemble):
    __doc__ = f"""An ensemble of classifiers whose probabilities are combined.

    Parameters
    ----------
    estimator : classifier or None, default=None
        The member to copy: any classifier with ``predict_proba``.  ``None``
        is ``MLPClassifier()``.  Nested parameters are reached as
        ``estimator__<param>`` (``estimator__plugins__dropout__rate``).  Each
        member gets its own seed as ``random_state``; a classifier without
        that parameter is copied as it is (its members then differ only by
        ``bootstrap``).
    {_COMMON_PARAMETERS}

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels; every member's probability columns are aligned to
        them, also when a bootstrap sample missed a class.
    {_COMMON_ATTRIBUTES}

    See Also
    --------
    EnsembleRegressor : The regression ensemble.
    ensemblekit.metrics : NLL, Brier and calibration-error scorers.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from ensemblekit import EnsembleClassifier, MLPClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> member = MLPClassifier(hidden_layer_sizes=(16,), solver="lbfgs", max_iter=300)
    >>> ens = EnsembleClassifier(member, n_estimators=3, random_state=0).fit(X, y)
    >>> ens.predict_proba(X[:2]).shape
    (2, 3)
    >>> sorted(ens.predict_uncertainty(X[:2]))
    ['disagreement', 'expected_entropy', 'mutual_information', 'predictive_entropy', 'proba']
    """

    _default_estimator = MLPClassifier

    @fit_context(prefer_skip_nested_validation=False)
    def fit(self, X: MatrixLike, y: ArrayLike, sample_weight: ArrayLike | None = None,
            **fit_params: Any) -> EnsembleClassifier:
        """Train the members (in parallel with ``n_jobs``) and keep them.

        A fit that fails (:class:`EnsembleFitError`, :class:`~ensemblekit.TrainingDiverged`)
        or is interrupted (``KeyboardInterrupt``: no further member starts)
        leaves the ensemble as it was before the call, fitted or not.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data.
        y : array-like of shape (n_samples,)
            Class labels.
        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights, passed to every member's ``fit``; with metadata
            routing on, only to a member that requested them
            (:meth:`get_metadata_routing`).
        **fit_params : dict
            Further metadata for the members' ``fit``, routed as requested;
            only with ``sklearn.set_config(enable_metadata_routing=True)``.

        Returns
        -------
        self : EnsembleClassifier
            The fitted ensemble.
        """
        return self._fit(X, y, sample_weight, **fit_params)

    def _member_output(self, member: Any, X) -> np.ndarray:
        proba = member.predict_proba(X)
        if len(member.classes_) == len(self.classes_):
            return proba
        # the member never saw some classes (a bootstrap sample missed them)
        aligned = np.zeros((proba.shape[0], len(self.classes_)), dtype=proba.dtype)
        columns = np.searchsorted(self.classes_, member.classes_)
        if len(columns) == 1:
            aligned[:, columns[0]] = 1
        else:
            aligned[:, columns] = proba
        return aligned

    def predict_proba(self, X: MatrixLike) -> np.ndarray:
        """Combined class probabilities.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Input data.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Probabilities in the order of ``classes_`` (for ``combiner="vote"``,
            the share of members voting for each class).
        """
        return self._outputs(X)[1]

    def predict(self, X: MatrixLike) -> np.ndarray:
        """Predict the class with the highest combined probability.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Input data.

        Returns
        -------
        y : ndarray of shape (n_samples,)
            Predicted labels.
        """
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]

    def predict_log_proba(self, X: MatrixLike) -> np.ndarray:
        """Log of the combined class probabilities.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Input data.

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
            ``log(predict_proba(X))`` (``-inf`` where a probability is 0).
        """
        proba = self.predict_proba(X)
        with np.errstate(divide="ignore"):
            return np.log(proba, out=proba)

    def predict_uncertainty(self, X: MatrixLike) -> Bunch:
        """How much the members agree, sample by sample.

        The entropies are in nats and decompose the uncertainty of the
        members' *arithmetic* mean (whatever the combiner):
        ``predictive_entropy = expected_entropy + mutual_information``.
        The expected entropy is the aleatoric part (each member is unsure);
        the mutual information is the epistemic part (members disagree).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Input data.

        Returns
        -------
        result : Bunch
            ``proba`` (the combined probabilities, as :meth:`predict_proba`),
            ``predictive_entropy`` (entropy of the mean prediction),
            ``expected_entropy`` (mean entropy of the members),
            ``mutual_information`` (their difference, >= 0) and
            ``disagreement`` (share of members whose predicted class is not
            the ensemble's), each an ndarray of shape (n_samples,).
        """
        outputs, combined = self._outputs(X)
        tiny = np.finfo(outputs.dtype).eps

        def entropy(p: np.ndarray) -> np.ndarray:
            return -np.sum(p * np.log(np.clip(p, tiny, 1)), axis=-1)

        predictive = entropy(outputs.mean(axis=0))
        expected = entropy(outputs).mean(axis=0)
        votes = np.argmax(outputs, axis=2)
        disagreement = (votes != np.argmax(combined, axis=1)).mean(axis=0)
        return Bunch(proba=combined, predictive_entropy=predictive, expected_entropy=expected,
                     mutual_information=np.maximum(predictive - expected, 0),
                     disagreement=disagreement)


class EnsembleRegressor(RegressorMixin, _BaseEnsemble):
    __doc__ = f"""An ensemble of regressors whose predictions are combined.

    Parameters
    ----------
    estimator : regressor or None, default=None
        The member to copy.  ``None`` is ``MLPRegressor()``.  Nested
        parameters are reached as ``estimator__<param>``.  Each member gets
        its own seed as ``random_state``; a regressor without that parameter
        is copied as it is (its members then differ only by ``bootstrap``).
    {_COMMON_PARAMETERS}

    Attributes
    ----------
    {_COMMON_ATTRIBUTES}

    See Also
    --------
    EnsembleClassifier : The classification ensemble.

    Examples
    --------
    >>> from sklearn.datasets import load_diabetes
    >>> from ensemblekit import EnsembleRegressor, MLPRegressor
    >>> X, y = load_diabetes(return_X_y=True)
    >>> member = MLPRegressor(hidden_layer_sizes=(16,), solver="lbfgs", max_iter=200)
    >>> ens = EnsembleRegressor(member, n_estimators=3, random_state=0).fit(X, y / 100)
    >>> mean, std = ens.predict(X[:4], return_std=True)
    >>> bool((std >= 0).all())
    True
    """

    _default_estimator = MLPRegressor

    @fit_context(prefer_skip_nested_validation=False)
    def fit(self, X: MatrixLike, y: ArrayLike, sample_weight: ArrayLike | None = None,
            **fit_params: Any) -> EnsembleRegressor:
        """Train the members (in parallel with ``n_jobs``) and keep them.

        A fit that fails (:class:`EnsembleFitError`, :class:`~ensemblekit.TrainingDiverged`)
        or is interrupted (``KeyboardInterrupt``: no further member starts)
        leaves the ensemble as it was before the call, fitted or not.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Targets.
        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights, passed to every member's ``fit``; with metadata
            routing on, only to a member that requested them
            (:meth:`get_metadata_routing`).
        **fit_params : dict
            Further metadata for the members' ``fit``, routed as requested;
            only with ``sklearn.set_config(enable_metadata_routing=True)``.

        Returns
        -------
        self : EnsembleRegressor
            The fitted ensemble.
        """
        return self._fit(X, y, sample_weight, **fit_params)

    def _member_output(self, member: Any, X) -> np.ndarray:
        out = np.asarray(member.predict(X))
        return out.reshape(out.shape[0], -1)

    def predict(self, X: MatrixLike, return_std: bool = False
                ) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
        """Combined prediction, optionally with the members' spread.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Input data.
        return_std : bool, default=False
            Also return the members' spread around the combined prediction
            (root mean squared deviation; the standard deviation of the
            members for ``combiner="mean"``), scikit-learn's
            ``GaussianProcessRegressor`` convention.

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_outputs)
            Combined prediction.
        std : ndarray of the same shape
            Only with ``return_std=True``.
        """
        outputs, combined = self._outputs(X)
        one = combined.shape[1] == 1  # as MLPRegressor: one output comes back 1-D
        mean = combined.ravel() if one else combined
        if not return_std:
            return mean
        std = np.sqrt(np.mean((outputs - combined) ** 2, axis=0))
        return mean, (std.ravel() if one else std)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags


# --------------------------------------------------------------------------
# what a model file holds of an ensemble (ensemblekit.io reads these, never privates)
# --------------------------------------------------------------------------
def restore_fitted(est: _BaseEnsemble) -> None:
    """Check an ensemble whose attributes were set from a model file; rebuild its hooks.

    Parameters
    ----------
    est : EnsembleClassifier or EnsembleRegressor
        The ensemble, its parameters and :data:`FITTED_ATTRIBUTES` set.

    Raises
    ------
    ValueError
        If the parameters are invalid or the members disagree with the
        ensemble (no members, other features or classes).
    """
    est._validate_params()
    if not hasattr(est, "estimators_"):
        return
    if not est.estimators_:
        raise ValueError("the ensemble has no members")
    for i, member in enumerate(est.estimators_):
        if getattr(member, "n_features_in_", None) != est.n_features_in_:
            raise ValueError(f"member {i} reads {getattr(member, 'n_features_in_', None)} "
                             f"features, the ensemble {est.n_features_in_}")
        if hasattr(est, "classes_") and not np.array_equal(member.classes_, est.classes_):
            raise ValueError(f"member {i} has classes {member.classes_}, the ensemble "
                             f"{est.classes_}")
    roles = [(role, plugin) for role, plugin in (
        ("combiner", est.combiner_), ("sampler", est.sampler_),
        ("strategy", est.strategy_)) if plugin is not None]
    hooks = EnsembleHooks(roles)
    est._combine = hooks.direct("ensemblekit_combine")
    est._member_outputs = hooks.direct("ensemblekit_member_outputs")


#: The fitted state of an ensemble that a model file stores.
FITTED_ATTRIBUTES = ("n_features_in_", "feature_names_in_", "estimators_", "member_seeds_",
                    "member_status_", "diverged_members_", "combiner_", "sampler_",
                    "strategy_")
#: A classifier's: the above and its classes.
CLASSIFIER_FITTED_ATTRIBUTES = (*FITTED_ATTRIBUTES, "classes_")
#: State ``fit`` and :func:`restore_fitted` rebuild from the plugins, never stored.
RUNTIME_ATTRIBUTES = ("_combine", "_member_outputs")
