"""Faults survived: dead workers (loky, Dask), Ctrl-C, full disks, damaged model files.

Each test provokes one fault for real — a worker process killed with SIGKILL
in the middle of an epoch, a ``KeyboardInterrupt`` raised from a training hook
as Ctrl-C would, SIGINT sent to the command line, a write failing with ENOSPC,
a model file with a flipped bit — and checks the documented outcome: a clear
error within bounded time, nothing half-written, and pools, clusters and
estimators left usable.  ``docs/reliability.md`` lists every fault with the
test that covers it.  No test sleeps or measures time; the timeouts are guards
against a hang, never part of what passes.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import signal
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from faulty_plugins import KillWorker
from interrupts import imported, interrupt_at, sigint_default
from sklearn.base import clone
from sklearn.datasets import load_digits, load_iris
from sklearn.exceptions import NotFittedError

import ensemblekit.io as ekio
from ensemblekit import (
    EnsembleClassifier,
    EnsembleFitError,
    MLPClassifier,
    ModelFileError,
    Plugin,
    hookimpl,
    load,
    save,
)
from ensemblekit.mlp import INTERRUPTED, TrainingInterrupted

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

posix_signals = pytest.mark.skipif(not hasattr(signal, "SIGKILL"),
                                   reason="needs POSIX signals")


# --------------------------------------------------------------------------
# plugins that misbehave on purpose
# --------------------------------------------------------------------------
class Interrupt(Plugin):
    """Raises ``KeyboardInterrupt`` as Ctrl-C would.

    At the start of epoch ``epoch`` (0-based, so after ``epoch`` finished
    epochs), or after batch ``batch`` of it; only in the run whose
    ``random_state`` is ``seed`` (``None``: every run).
    """

    name = "interrupt"

    def __init__(self, epoch=2, batch=None, seed=None):
        self.epoch = epoch
        self.batch = batch
        self.seed = seed

    def _mine(self, estimator) -> bool:
        return self.seed is None or estimator.random_state == self.seed

    @hookimpl
    def ensemblekit_epoch_start(self, estimator, epoch):
        if self.batch is None and epoch == self.epoch and self._mine(estimator):
            raise KeyboardInterrupt

    @hookimpl
    def ensemblekit_batch_end(self, estimator, batch):
        if (self.batch is not None and estimator.n_iter_ == self.epoch
                and batch == self.batch and self._mine(estimator)):
            raise KeyboardInterrupt


class WeightsAt(Plugin):
    """Copies the weights right after batch ``batch`` of epoch ``epoch``."""

    name = "weights_at"

    def __init__(self, epoch=2, batch=1):
        self.epoch = epoch
        self.batch = batch

    @hookimpl
    def ensemblekit_batch_end(self, estimator, batch):
        if estimator.n_iter_ == self.epoch and batch == self.batch:
            self.coefs_ = [c.copy() for c in estimator.coefs_]


STARTED: list[int] = []


class RecordStart(Plugin):
    """Appends each run's seed to ``STARTED`` (meaningful in the driver process only)."""

    name = "record_start"

    @hookimpl
    def ensemblekit_fit_start(self, estimator):
        STARTED.append(estimator.random_state)


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X[:300] / 16, y[:300]


@pytest.fixture(scope="module")
def iris():
    return load_iris(return_X_y=True)


def _member(*plugins, **params):
    return MLPClassifier(hidden_layer_sizes=(16,), max_iter=params.pop("max_iter", 8),
                         plugins=list(plugins), **params)


def _seeds(n=4, random_state=0):
    """The seeds an ensemble with this random_state gives its runs (drawn in the driver)."""
    children = np.random.SeedSequence(random_state).spawn(n)
    return [int(c.generate_state(1)[0]) for c in children]


def _fitted_on_iris(iris, **params):
    ens = EnsembleClassifier(_member(), n_estimators=4, random_state=0, **params)
    ens.fit(*iris)
    return ens, ens.predict_proba(iris[0])


def _assert_unchanged(ens, iris, proba):
    """The ensemble is still the one fitted on iris: no digits classes beside iris members."""
    assert ens.n_features_in_ == 4
    np.testing.assert_array_equal(ens.classes_, [0, 1, 2])
    np.testing.assert_array_equal(ens.predict_proba(iris[0]), proba)


# --------------------------------------------------------------------------
# dead workers
# --------------------------------------------------------------------------
@posix_signals
def test_a_loky_worker_killed_mid_epoch_fails_the_refit_and_keeps_the_old_fit(digits, iris):
    ens, proba = _fitted_on_iris(iris)
    ens.set_params(estimator=_member(KillWorker(seed=_seeds()[1], driver=os.getpid())),
                   n_jobs=2)
    with pytest.raises(EnsembleFitError, match="(?s)a worker process died .* no member was kept"):
        ens.fit(*digits)
    _assert_unchanged(ens, iris, proba)
    # loky replaced its broken pool: the next parallel fit works, bit for bit
    ens.set_params(estimator=_member()).fit(*digits)
    sequential = clone(ens).set_params(n_jobs=1).fit(*digits)
    np.testing.assert_array_equal(ens.predict_proba(digits[0]),
                                  sequential.predict_proba(digits[0]))


@pytest.mark.slow
@posix_signals
def test_a_worker_killed_on_a_dask_cluster_is_an_error_and_the_cluster_recovers(digits):
    distributed = pytest.importorskip("distributed")
    import joblib

    X, y = digits
    reference = EnsembleClassifier(_member(), n_estimators=4, random_state=0).fit(X, y)
    # the run is retried on another worker and kills that one too: every attempt dies
    killer = EnsembleClassifier(_member(KillWorker(seed=_seeds()[1], driver=os.getpid())),
                                n_estimators=4, random_state=0, timeout=120)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client, joblib.parallel_config(backend="dask"):
        # joblib on dask once hung here; now a clear error, at the latest at `timeout`
        with pytest.raises(EnsembleFitError, match="worker"):
            killer.fit(X, y)
        assert not hasattr(killer, "estimators_")
        client.wait_for_workers(2, timeout=120)  # the nannies restart the dead workers
        again = EnsembleClassifier(_member(), n_estimators=4, random_state=0,
                                   timeout=120).fit(X, y)
    np.testing.assert_array_equal(again.predict_proba(X), reference.predict_proba(X))


# --------------------------------------------------------------------------
# Ctrl-C
# --------------------------------------------------------------------------
def test_an_interrupt_between_epochs_keeps_exactly_the_finished_epochs(digits):
    X, y = digits
    with pytest.warns(TrainingInterrupted, match=INTERRUPTED):
        stopped = _member(Interrupt(epoch=3), max_iter=50, random_state=0).fit(X, y)
    three = _member(max_iter=3, random_state=0).fit(X, y)
    assert stopped.n_iter_ == 3 and len(stopped.loss_curve_) == 3
    assert [r["loss"] for r in stopped.history_] == stopped.loss_curve_ == three.loss_curve_
    for got, want in zip(stopped.coefs_ + stopped.intercepts_,
                         three.coefs_ + three.intercepts_):
        np.testing.assert_array_equal(got, want)
    # a usable model: it predicts, saves, and a new fit trains from scratch
    np.testing.assert_array_equal(stopped.predict_proba(X), three.predict_proba(X))
    stopped.set_params(plugins=[], max_iter=8).fit(X, y)
    assert stopped.n_iter_ == 8


def test_an_interrupt_mid_epoch_keeps_the_last_completed_step(digits):
    X, y = digits
    reference = _member(WeightsAt(epoch=2, batch=0), batch_size=100, max_iter=5,
                        random_state=0).fit(X, y)
    snapshot = dict(reference.plugins_)["weights_at"].coefs_
    with pytest.warns(TrainingInterrupted, match=INTERRUPTED):
        stopped = _member(Interrupt(epoch=2, batch=0), batch_size=100, max_iter=5,
                          random_state=0).fit(X, y)
    # epochs count finished epochs; the weights include the interrupted epoch's steps
    assert stopped.n_iter_ == 2 and len(stopped.loss_curve_) == 2
    for got, want in zip(stopped.coefs_, snapshot):
        np.testing.assert_array_equal(got, want)
    assert np.isfinite(stopped.predict_proba(X)).all()


def test_an_interrupt_stops_a_sequential_ensemble_at_once_and_leaves_it_as_it_was(
        digits, iris):
    ens, proba = _fitted_on_iris(iris)
    seeds = _seeds()
    ens.set_params(estimator=_member(RecordStart(), Interrupt(epoch=2, seed=seeds[1])))
    STARTED.clear()
    with pytest.raises(KeyboardInterrupt):
        ens.fit(*digits)
    assert STARTED == seeds[:2]  # members 2 and 3 never started
    _assert_unchanged(ens, iris, proba)
    fresh = EnsembleClassifier(ens.estimator, n_estimators=4, random_state=0)
    with pytest.raises(KeyboardInterrupt):
        fresh.fit(*digits)
    with pytest.raises(NotFittedError):
        fresh.predict(digits[0])


def test_an_interrupt_in_a_loky_worker_stops_the_ensemble_and_loky_stays_usable(digits):
    X, y = digits
    ens = EnsembleClassifier(_member(Interrupt(epoch=2, seed=_seeds()[0])), n_estimators=4,
                             n_jobs=2, random_state=0)
    with pytest.raises(KeyboardInterrupt):
        ens.fit(X, y)
    assert not hasattr(ens, "estimators_")
    # joblib terminated the pool on the interrupt; the next fit gets a new one
    ens.set_params(estimator=_member()).fit(X, y)
    assert len(ens.estimators_) == 4


class InterruptEvaluation(Plugin):
    """Ctrl-C in the first loss evaluation after L-BFGS's second accepted iterate."""

    name = "interrupt_evaluation"

    @hookimpl
    def ensemblekit_penalty(self, estimator):
        if len(estimator.history_) == 2:
            raise KeyboardInterrupt


def test_an_interrupted_lbfgs_fit_keeps_the_last_accepted_iterate(iris):
    X, y = iris
    with pytest.warns(TrainingInterrupted, match=INTERRUPTED):
        stopped = _member(InterruptEvaluation(), solver="lbfgs", max_iter=20,
                          random_state=0).fit(X, y)
    # not the line search's trial point: exactly the fit that stops after 2 iterations
    reference = _member(solver="lbfgs", max_iter=2, random_state=0).fit(X, y)
    assert stopped.n_iter_ == 2 and stopped.loss_ == stopped.history_[-1]["loss"]
    for got, want in zip(stopped.coefs_, reference.coefs_):
        np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(stopped.predict_proba(X), reference.predict_proba(X))


def test_an_interrupted_lbfgs_member_stops_the_ensemble_too(iris):
    """The member warns that it was interrupted; the ensemble stops, unchanged."""
    ens, proba = _fitted_on_iris(iris)
    ens.set_params(estimator=_member(InterruptEvaluation(), solver="lbfgs", max_iter=20))
    with pytest.raises(KeyboardInterrupt):
        ens.fit(*iris)
    _assert_unchanged(ens, iris, proba)


@pytest.mark.skipif(sys.platform == "win32", reason="sends SIGINT")
class Explode(Plugin):
    """Raises ``RuntimeError`` at the end of epoch ``epoch`` (a plugin's bug)."""

    name = "explode"

    def __init__(self, epoch=1):
        self.epoch = epoch

    @hookimpl
    def ensemblekit_epoch_end(self, epoch):
        if epoch == self.epoch:
            raise RuntimeError("boom")


class Poison(Plugin):
    """Writes NaN into the first weight matrix during epoch ``epoch``: the loss diverges."""

    name = "poison"

    def __init__(self, epoch=1):
        self.epoch = epoch

    @hookimpl
    def ensemblekit_epoch_start(self, epoch):
        self._epoch = epoch

    @hookimpl
    def ensemblekit_after_step(self, params):
        if self._epoch == self.epoch:
            params[0][...] = np.nan


def _state(net):
    """What a fit gives a network (not its parameters), arrays as bytes, comparable."""
    def plain(value):
        if isinstance(value, np.ndarray):
            return (value.dtype.str, value.shape, value.tobytes())
        if isinstance(value, list):
            return [plain(v) for v in value]
        return value if isinstance(value, (int, float, str, type(None))) else type(value)
    params = net.get_params(deep=False)
    return {k: plain(v) for k, v in vars(net).items() if k not in params}


@pytest.mark.parametrize("failure", ["bad input", "divergence", "plugin error"])
@pytest.mark.parametrize("warm_start", [False, True])
def test_a_failing_refit_leaves_the_fitted_network_as_it_was(failure, warm_start, iris):
    X, y = iris
    net = MLPClassifier(hidden_layer_sizes=(8,), max_iter=5, random_state=0, batch_norm=True,
                        warm_start=warm_start, on_divergence="raise").fit(X, y)
    before, proba = _state(net), net.predict_proba(X)
    if failure == "bad input":  # new classes, and too few rows for early stopping
        net.set_params(early_stopping=True)
        call, error = (lambda: net.fit(X[:4], [0, 1, 2, 3])), "too small|same classes"
    elif failure == "divergence":
        net.set_params(plugins=[Poison(epoch=2)])
        call, error = (lambda: net.fit(X, y)), "diverged"
    else:
        net.set_params(plugins=[Explode(epoch=2)])
        call, error = (lambda: net.fit(X, y)), "boom"
    with pytest.raises(Exception, match=error):
        call()
    assert _state(net) == before
    np.testing.assert_array_equal(net.predict_proba(X), proba)
    # and it trains on from there as if nothing had happened
    net.set_params(early_stopping=False, plugins=None)
    again = clone(net).set_params(warm_start=False).fit(X, y)
    assert net.fit(X, y).n_iter_ == again.n_iter_


def test_a_failing_first_partial_fit_leaves_the_network_unfitted(iris):
    X, y = iris
    net = MLPClassifier(hidden_layer_sizes=(8,))
    with pytest.raises(ValueError, match="has classes not in"):
        net.partial_fit(X[:3], [0, 1, 5], classes=[0, 1, 2])
    assert vars(net) == vars(MLPClassifier(hidden_layer_sizes=(8,)))
    with pytest.raises(NotFittedError):
        net.predict(X)
    net.partial_fit(X, y, classes=[0, 1, 2])  # and the next call is a first call


def test_ctrl_c_in_the_command_line_exits_130_and_writes_no_model(tmp_path):
    data = tmp_path / "digits.csv"
    load_digits(as_frame=True).frame.to_csv(data, index=False)
    out = tmp_path / "model.ekm"
    out.write_bytes(b"previous model")
    # the console script's entry point, run as a real process; thousands of epochs,
    # so the signal lands long before training could finish
    proc = subprocess.Popen(
        [sys.executable, "-c", "from ensemblekit.cli import cli; cli()", "train", str(data),
         "--out", str(out), "--verbose", "--hidden", "32", "--max-iter", "100000"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=sigint_default)
    stdout, stderr = interrupt_at(proc, lambda line, seen: line.startswith("epoch 1/100000"),
                                  lambda: proc.send_signal(signal.SIGINT), "no first epoch")
    assert proc.returncode == 130, stderr
    assert stderr[-1] == "interrupted: no model written"  # after any epoch lines
    assert not any("Traceback" in line for line in stderr), stderr
    assert "model written" not in stdout
    assert out.read_bytes() == b"previous model"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["digits.csv", "model.ekm"]


def _entry_point(how: str) -> list[str]:
    """The command line as installed: the console script pip writes, or ``python -m``.

    The script is the one pip generates from ``[project.scripts]`` of
    ``pyproject.toml``, run with this interpreter (so it imports this tree);
    ``-X importtime`` makes each import report itself on stderr as it ends.
    """
    if how == "python -m ensemblekit":
        return [sys.executable, "-X", "importtime", "-m", "ensemblekit"]
    pyproject = (Path(__file__).resolve().parents[1] / "pyproject.toml").read_text()
    module, function = re.search(r'^ensemblekit = "([\w.]+):(\w+)"', pyproject, re.M).groups()
    script = (f"import re, sys; from {module} import {function}; "
              f"sys.argv[0] = re.sub(r'(-script\\.pyw|\\.exe)?$', '', sys.argv[0]); "
              f"sys.exit({function}())")
    return [sys.executable, "-X", "importtime", "-c", script]


@posix_signals
@pytest.mark.parametrize("how", ["console script", "python -m ensemblekit"])
@pytest.mark.parametrize("when", ["numpy", "sklearn.base", "ensemblekit.cli.train", "epoch 1/"])
def test_ctrl_c_at_any_moment_of_the_command_line_exits_130_in_one_line(how, when, tmp_path):
    """SIGINT while the command line imports numpy, scikit-learn, itself, or trains.

    The signal is sent when stderr shows the point reached (the import of a
    module has ended, or the first epoch), never after a delay.
    """
    out = tmp_path / "model.ekm"
    proc = subprocess.Popen(
        [*_entry_point(how), "train", "--verbose", "--hidden", "32", "--max-iter", "100000",
         "--out", str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=sigint_default)
    stdout, stderr = interrupt_at(
        proc, lambda line, seen: imported(line) == when or line.startswith(when),
        lambda: proc.send_signal(signal.SIGINT), f"{when!r} never reached")
    assert proc.returncode == 130, (proc.returncode, stderr)
    assert stderr == ["interrupted: no model written" if when == "epoch 1/" else "interrupted"]
    assert not out.exists() and "model written" not in stdout


@posix_signals
@pytest.mark.parametrize("when", ["numpy", "ensemblekit.mlp"])
def test_ctrl_c_to_the_process_group_while_loky_workers_start_is_one_line(when, tmp_path):
    """A terminal's Ctrl-C: SIGINT to the command line and its loky workers at once.

    Sent while the first worker imports numpy (where workers used to print a
    ``KeyboardInterrupt`` traceback each), or unpickles its first member: the
    second time a process reports that import (``PYTHONPROFILEIMPORTTIME``
    reaches the workers through their environment).  Only the parent answers.
    """
    out = tmp_path / "model.ekm"
    proc = subprocess.Popen(
        [*_entry_point("console script"), "train", "--n-estimators", "4", "--n-jobs", "2",
         "--backend", "loky", "--hidden", "32", "--max-iter", "100000", "--out", str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=sigint_default,
        start_new_session=True, env={**os.environ, "PYTHONPROFILEIMPORTTIME": "1"})
    imports = []
    stdout, stderr = interrupt_at(
        proc, lambda line, seen: imports.append(imported(line)) or imports.count(when) == 2,
        lambda: os.killpg(proc.pid, signal.SIGINT), f"no worker imported {when}")
    assert proc.returncode == 130, (proc.returncode, stderr)
    assert stderr == ["interrupted: no model written"]
    assert not out.exists() and "model written" not in stdout

# --------------------------------------------------------------------------
# saving: read-only directories, full disks
# --------------------------------------------------------------------------
def _can_create_in(folder: Path) -> bool:
    try:
        (folder / "probe").touch()
    except OSError:
        return False
    (folder / "probe").unlink()
    return True


@pytest.fixture
def read_only_dir(tmp_path):
    """A folder nobody can create files in (chmod; ``chattr +i`` when running as root)."""
    folder = tmp_path / "ro"
    folder.mkdir()
    (folder / "model.ekm").write_bytes(b"previous model")
    folder.chmod(0o555)
    immutable = False
    if _can_create_in(folder) and shutil.which("chattr"):  # root ignores permissions
        immutable = subprocess.run(["chattr", "+i", str(folder)], capture_output=True,
                                   check=False).returncode == 0
    try:
        if _can_create_in(folder):
            pytest.skip("cannot make a read-only folder here (root, and no chattr +i)")
        yield folder
    finally:
        if immutable:
            subprocess.run(["chattr", "-i", str(folder)], check=True)
        folder.chmod(0o755)


def test_saving_into_a_read_only_folder_names_the_path_and_keeps_the_old_file(
        read_only_dir, iris):
    target = read_only_dir / "model.ekm"
    clf = _member(max_iter=2, random_state=0).fit(*iris)
    with pytest.raises(PermissionError, match=f"cannot write {target}") as info:
        save(clf, target)
    assert info.value.errno in (errno.EACCES, errno.EPERM)
    assert target.read_bytes() == b"previous model"
    assert os.listdir(read_only_dir) == ["model.ekm"]


@pytest.mark.parametrize("stage", ["write", "fsync"])
def test_a_full_disk_names_the_path_and_leaves_no_temporary_file(stage, tmp_path,
                                                                  monkeypatch, iris):
    target = tmp_path / "model.ekm"
    target.write_bytes(b"previous model")
    if stage == "write":
        # the temporary file is created for real, then its descriptor points at
        # /dev/full: every write that reaches the kernel fails with ENOSPC
        if not os.path.exists("/dev/full"):
            pytest.skip("needs /dev/full")
        fdopen = os.fdopen

        def full_fdopen(fd, *args, **kwargs):
            full = os.open("/dev/full", os.O_WRONLY)
            os.dup2(full, fd)
            os.close(full)
            return fdopen(fd, *args, **kwargs)

        monkeypatch.setattr(ekio.os, "fdopen", full_fdopen)
    else:  # the data fit in the page cache; the disk is found full at fsync
        def full_fsync(fd):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

        monkeypatch.setattr(ekio.os, "fsync", full_fsync)
    clf = _member(max_iter=2, random_state=0).fit(*iris)
    with pytest.raises(OSError, match=f"cannot write {target}: No space left") as info:
        save(clf, target)
    assert info.value.errno == errno.ENOSPC
    assert target.read_bytes() == b"previous model"
    assert os.listdir(tmp_path) == ["model.ekm"]


# --------------------------------------------------------------------------
# damaged model files (test_io.py covers a half file, a bumped format version,
# tampered arrays and documents, and pickles)
# --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def small_model(iris, tmp_path_factory):
    clf = MLPClassifier(hidden_layer_sizes=(3,), max_iter=3, random_state=0).fit(*iris)
    path = tmp_path_factory.mktemp("small") / "model.ekm"
    save(clf, path)
    return path, clf.predict_proba(iris[0])


def test_every_single_bit_flip_is_refused_or_harmless(small_model, iris, tmp_path):
    path, proba = small_model
    data = path.read_bytes()
    bad = tmp_path / "flipped.ekm"
    harmless = 0
    for i in range(0, len(data), 3):  # every third byte, each time another bit
        flipped = bytearray(data)
        flipped[i] ^= 1 << (i % 8)
        bad.write_bytes(flipped)
        try:
            loaded = load(bad)
        except ModelFileError:
            continue
        # only bytes nobody reads (zip timestamps, version-made-by...) may change
        np.testing.assert_array_equal(loaded.predict_proba(iris[0]), proba)
        harmless += 1
    assert harmless < len(data) // 30


def test_a_file_cut_at_any_length_is_refused(small_model, tmp_path):
    data = small_model[0].read_bytes()
    cut = tmp_path / "cut.ekm"
    # every length in the trailing records (end of central directory), every 5th before
    for n in sorted({*range(0, len(data), 5), *range(len(data) - 64, len(data))}):
        cut.write_bytes(data[:n])
        with pytest.raises(ModelFileError):
            load(cut)


def test_an_interrupt_while_saving_keeps_the_old_file(iris, tmp_path, monkeypatch):
    target = tmp_path / "model.ekm"
    target.write_bytes(b"previous model")

    def interrupted_fsync(fd):
        raise KeyboardInterrupt

    monkeypatch.setattr(ekio.os, "fsync", interrupted_fsync)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf = _member(max_iter=2, random_state=0).fit(*iris)
    with pytest.raises(KeyboardInterrupt):
        save(clf, target)
    assert target.read_bytes() == b"previous model"
    assert os.listdir(tmp_path) == ["model.ekm"]


# --------------------------------------------------------------------------
# the reliability page names real tests
# --------------------------------------------------------------------------
def test_the_fault_table_names_existing_tests_and_every_fault_test():
    tests = Path(__file__).resolve().parent
    page = (tests.parent / "docs" / "reliability.md").read_text()
    named = set(re.findall(r"`(test_\w+\.py)::(test_\w+)`", page))
    assert len(named) > 40
    missing = [f"{file}::{name}" for file, name in sorted(named)
               if not re.search(rf"^def {name}\(", (tests / file).read_text(), re.M)]
    assert not missing, f"docs/reliability.md names tests that do not exist: {missing}"
    for file in ("test_faults.py", "test_model_file_security.py"):
        defined = re.findall(r"^def (test_\w+)\(", (tests / file).read_text(), re.M)
        unlisted = [t for t in defined if (file, t) not in named
                    and t != "test_the_fault_table_names_existing_tests_and_every_fault_test"]
        assert not unlisted, f"{file}: not in the fault table of docs/reliability.md: {unlisted}"
