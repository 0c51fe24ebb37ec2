"""The flat-buffer optimizers: reference formulas, threads and chunks change no bit."""

import pickle

import numpy as np
import pytest
from sklearn.datasets import load_digits
from threadpoolctl import threadpool_limits

from ensemblekit import MLPClassifier, WeightDecay, _compiled, _optimizers
from ensemblekit._optimizers import (
    CHUNK_SIZE,
    PARALLEL_MIN_SIZE,
    AdaGradOptimizer,
    AdamOptimizer,
    RMSpropOptimizer,
    SGDOptimizer,
    threads_for,
)
from ensemblekit.default_plugins.weight_decay import _add_scaled_loop

# larger than one chunk and than the parallel threshold, not a multiple of either
SIZE = 2 * CHUNK_SIZE + PARALLEL_MIN_SIZE + 77


@pytest.fixture
def threads(monkeypatch):
    """Force ``n`` optimizer threads whatever the machine and its BLAS say."""
    def force(n: int) -> None:
        monkeypatch.setattr(_optimizers, "_blas_threads", lambda: n)
        monkeypatch.setattr(_optimizers, "_usable_cores", lambda: n)
    return force


def _steps(optimizer, dtype, n_steps=5, seed=0):
    rng = np.random.default_rng(seed)
    params = rng.standard_normal(SIZE).astype(dtype)
    for _ in range(n_steps):
        optimizer.update(params, rng.standard_normal(SIZE).astype(dtype))
    return params


def _reference(name, dtype, n_steps=5, seed=0):
    """The textbook update rules, whole arrays, float64, no scratch buffers."""
    rng = np.random.default_rng(seed)
    p = rng.standard_normal(SIZE).astype(dtype).astype(np.float64)
    m = np.zeros_like(p)
    v = np.zeros_like(p)
    for t in range(1, n_steps + 1):
        g = rng.standard_normal(SIZE).astype(dtype).astype(np.float64)
        if name == "adam":
            m = 0.9 * m + 0.1 * g
            v = 0.999 * v + 0.001 * g * g
            lr = 1e-3 * np.sqrt(1 - 0.999 ** t) / (1 - 0.9 ** t)
            p = p - lr * m / (np.sqrt(v) + 1e-8)
        elif name == "nesterov":
            v = 0.9 * v - 0.1 * g
            p = p + 0.9 * v - 0.1 * g
        elif name == "adagrad":
            v = v + g * g
            p = p - 0.01 * g / (np.sqrt(v) + 1e-8)
        else:  # rmsprop
            v = 0.99 * v + 0.01 * g * g
            p = p - 0.01 * g / (np.sqrt(v) + 1e-8)
    return p


OPTIMIZERS = {
    "adam": lambda: AdamOptimizer(1e-3),
    "nesterov": lambda: SGDOptimizer(0.1, momentum=0.9, nesterov=True),
    "adagrad": lambda: AdaGradOptimizer(0.01),
    "rmsprop": lambda: RMSpropOptimizer(0.01, rho=0.99),
}


@pytest.mark.parametrize("name", list(OPTIMIZERS))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_steps_match_the_textbook_rule(name, dtype):
    got = _steps(OPTIMIZERS[name](), dtype)
    assert got.dtype == dtype
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(got, _reference(name, dtype), rtol=tol, atol=tol)


@pytest.mark.parametrize("name", list(OPTIMIZERS) + ["sgd", "momentum"])
@pytest.mark.parametrize("n_threads", [2, 3])
def test_threads_change_no_bit(threads, name, n_threads):
    make = {**OPTIMIZERS, "sgd": lambda: SGDOptimizer(0.1, momentum=0.0),
            "momentum": lambda: SGDOptimizer(0.1, momentum=0.9)}[name]
    threads(1)
    alone = _steps(make(), np.float32, n_steps=70)  # past a subnormal flush (64)
    threads(n_threads)
    assert threads_for(SIZE) == n_threads
    assert np.array_equal(_steps(make(), np.float32, n_steps=70), alone)


def test_small_buffers_and_capped_blas_use_one_thread():
    assert threads_for(PARALLEL_MIN_SIZE - 1) == 1
    with threadpool_limits(limits=1, user_api="blas"):
        assert threads_for(10 * PARALLEL_MIN_SIZE) == 1


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_a_digits_fit_is_identical_with_one_or_two_optimizer_threads(threads):
    X, y = load_digits(return_X_y=True)
    X = (X[:600] / 16).astype(np.float32)
    # 64-300-200-10: 81,710 parameters, above the parallel threshold
    params = dict(hidden_layer_sizes=(300, 200), max_iter=3, random_state=0)
    threads(1)
    one = MLPClassifier(**params).fit(X, y[:600])
    threads(2)
    two = MLPClassifier(**params).fit(X, y[:600])
    assert one.loss_curve_ == two.loss_curve_
    for a, b in zip(one.coefs_ + one.intercepts_, two.coefs_ + two.intercepts_):
        assert a.dtype == np.float32 and np.array_equal(a, b)
    # the helper threads live outside the estimator: it still pickles
    again = pickle.loads(pickle.dumps(two))
    np.testing.assert_array_equal(again.predict_proba(X), two.predict_proba(X))


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("plugins", [None, "weight_decay"])
def test_compiled_loops_give_the_numpy_passes_bit_for_bit(kernels, dtype, plugins):
    """Adam's step and WeightDecay's gradient: the same bits with or without numba."""
    pytest.importorskip("numba")
    X, y = load_digits(return_X_y=True)
    X = (X[:600] / 16).astype(dtype)
    # 64-300-200-10: 81,710 parameters, above FUSED_MIN_SIZE
    params = dict(hidden_layer_sizes=(300, 200), max_iter=3, random_state=0,
                  plugins=[WeightDecay(alpha=0.5)] if plugins else None, alpha=0.0)
    loops = [_optimizers._adam_loop] + ([_add_scaled_loop] if plugins else [])
    kernels("numpy")
    plain = MLPClassifier(**params).fit(X, y[:600])
    assert all(_compiled._cache[loop] is None for loop in loops)
    kernels("compiled")
    fused = MLPClassifier(**params).fit(X, y[:600])
    assert all(callable(_compiled._cache[loop]) for loop in loops)  # they did the steps
    assert plain.loss_curve_ == fused.loss_curve_
    for a, b in zip(plain.coefs_ + plain.intercepts_, fused.coefs_ + fused.intercepts_):
        assert a.dtype == dtype and np.array_equal(a, b)


def test_the_environment_switches_the_compiled_loops_off(kernels, monkeypatch):
    kernels("compiled")
    monkeypatch.setenv("ENSEMBLEKIT_DISABLE_NUMBA", "1")
    assert _compiled.compiled(_optimizers._adam_loop) is None
    got = _steps(OPTIMIZERS["adam"](), np.float32)  # the numpy passes still step
    np.testing.assert_allclose(got, _reference("adam", np.float32), rtol=1e-5, atol=1e-5)
