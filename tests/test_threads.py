"""The thread policy of single fits: the knob, the rules, and that threads change no bit."""

import numpy as np
import pytest
from sklearn.datasets import load_digits
from threadpoolctl import threadpool_limits

from ensemblekit import MLPClassifier, _threads
from ensemblekit.hookspecs import hookimpl
from ensemblekit.plugins import Plugin

BIG = [784, 2048, 2048, 10]  # the largest product of a 512-row step: 2.1e9 multiply-adds


SEEN: list[int] = []  # module-level: the estimator fits a clone of its plugins


class _SeeThreads(Plugin):
    """Records the BLAS limit in force while the fit trains."""

    name = "see_threads"

    @hookimpl
    def ensemblekit_epoch_start(self, estimator, epoch):
        SEEN.append(_threads.blas_threads())


def test_the_environment_variable_sets_the_threads(monkeypatch):
    monkeypatch.setattr(_threads, "blas_threads", lambda: 8)
    monkeypatch.setenv(_threads.ENV_VAR, "3")
    assert _threads.threads_for_work(BIG, 512) == 3
    assert _threads.threads_for_work([4, 2], 1) == 3  # a number is obeyed at any size
    monkeypatch.setenv(_threads.ENV_VAR, "16")
    assert _threads.threads_for_work(BIG, 512) == 8  # never above the current limit
    for bad in ("0", "-1", "two"):
        monkeypatch.setenv(_threads.ENV_VAR, bad)
        with pytest.raises(ValueError, match="ENSEMBLEKIT_NUM_THREADS"):
            _threads.threads_for_work(BIG, 512)


@pytest.mark.parametrize("value", ["", "auto", "AUTO"])
def test_auto_gives_small_layers_one_thread_and_large_ones_the_idle_cores(monkeypatch,
                                                                          value):
    monkeypatch.setenv(_threads.ENV_VAR, value)
    monkeypatch.setattr(_threads, "blas_threads", lambda: 4)
    monkeypatch.setattr(_threads, "idle_cores", lambda: 2.6)
    assert _threads.threads_for_work([64, 128, 10], 128) == 1  # 1e6 < SMALL_PRODUCT
    assert _threads.threads_for_work(BIG, 512) == 3  # 2.6 idle cores: 3 threads
    monkeypatch.setattr(_threads, "idle_cores", lambda: 1.2)  # one core in use elsewhere
    assert _threads.threads_for_work(BIG, 512) == 1
    monkeypatch.setattr(_threads, "idle_cores", lambda: 0.0)  # a fully busy machine
    assert _threads.threads_for_work(BIG, 512) == 1
    monkeypatch.setattr(_threads, "idle_cores", lambda: 16.0)
    assert _threads.threads_for_work(BIG, 512) == 4  # never above the current limit


def test_idle_cores_is_a_share_of_the_usable_cores():
    first = _threads.idle_cores()
    second = _threads.idle_cores()  # the second look compares with the first
    for value in (first, second):
        assert 0.0 <= value <= _threads.usable_cores()


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_a_fit_runs_under_the_policy_and_restores_the_limit(monkeypatch):
    X, y = load_digits(return_X_y=True)
    seer = _SeeThreads()
    SEEN.clear()
    monkeypatch.setenv(_threads.ENV_VAR, "1")
    before = _threads.blas_threads()
    MLPClassifier(hidden_layer_sizes=(16,), max_iter=2, plugins=[seer]).fit(X[:200] / 16,
                                                                             y[:200])
    assert SEEN == [1, 1]
    assert _threads.blas_threads() == before
    # a caller's lower cap is kept, whatever the policy would choose
    monkeypatch.setenv(_threads.ENV_VAR, "auto")
    SEEN.clear()
    with threadpool_limits(limits=1, user_api="blas"):
        MLPClassifier(hidden_layer_sizes=(16,), max_iter=1, plugins=[seer]).fit(
            X[:200] / 16, y[:200])
    assert SEEN == [1]


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_number_of_threads_changes_only_the_blas_last_bits(monkeypatch, dtype):
    """1 vs 2 threads: OpenBLAS sums small products in another order with one thread."""
    if _threads.usable_cores() < 2:
        pytest.skip("one core: nothing to compare")
    X, y = load_digits(return_X_y=True)
    X = (X[:600] / 16).astype(dtype)
    params = dict(hidden_layer_sizes=(300, 200), max_iter=3, random_state=0, batch_size=300)
    fits = []
    for n in ("1", "2"):
        monkeypatch.setenv(_threads.ENV_VAR, n)
        with threadpool_limits(limits=2, user_api="blas"):
            fits.append(MLPClassifier(**params).fit(X, y[:600]))
    one, two = fits
    rtol = 1e-12 if dtype == np.float64 else 1e-4
    np.testing.assert_allclose(one.loss_curve_, two.loss_curve_, rtol=rtol)
    for a, b in zip(one.coefs_ + one.intercepts_, two.coefs_ + two.intercepts_):
        np.testing.assert_allclose(a, b, rtol=0, atol=rtol * np.abs(a).max())
