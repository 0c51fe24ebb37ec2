"""Fused kernels (numba) against the numpy passes they replace: the same bits."""

import numpy as np
import pytest

from ensemblekit import _compiled, _layers

pytest.importorskip("numba")


def _pre_activations(dtype, shape=(37, 300), seed=0):
    rng = np.random.default_rng(seed)
    Z = rng.standard_normal(shape).astype(dtype)
    Z[0, :4] = [np.nan, -0.0, 0.0, np.inf]  # the edge cases np.maximum defines
    Z[-1, :2] = [-np.inf, -1e-45]
    return Z, rng.standard_normal(shape[1]).astype(dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", ["relu", "tanh", "identity", "logistic"])
def test_bias_activation_fused_and_plain_agree_bit_for_bit(kernels, dtype, name):
    Z, b = _pre_activations(dtype)
    kernels("numpy")
    plain = Z.copy()
    _layers.bias_activation(plain, b, name)
    kernels("compiled")
    fused = Z.copy()
    _layers.bias_activation(fused, b, name)
    assert fused.dtype == dtype
    np.testing.assert_array_equal(fused, plain)
    if name == "relu":
        assert callable(_compiled._cache[_layers._bias_relu_loop])  # the loop ran


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", ["relu", "tanh", "identity", "logistic"])
@pytest.mark.parametrize("rows", [1, 7, 128, 1000])
def test_derivative_and_bias_grad_fused_and_plain_agree_bit_for_bit(kernels, dtype, name,
                                                                     rows):
    A, _ = _pre_activations(dtype, (rows, 300), seed=1)
    A = np.nan_to_num(A)
    _layers.ACTIVATIONS[name](A)
    delta, _ = _pre_activations(dtype, (rows, 300), seed=2)
    delta = np.nan_to_num(delta, posinf=3.0, neginf=-3.0)
    results = []
    for kind in ("numpy", "compiled"):
        kernels(kind)
        d, g = delta.copy(), np.full(300, np.nan, dtype=dtype)
        _layers.derivative_and_bias_grad(name, A, d, g)
        results.append((d, g))
    (d_plain, g_plain), (d_fused, g_fused) = results
    np.testing.assert_array_equal(d_fused, d_plain)
    np.testing.assert_array_equal(g_fused, g_plain)  # numpy sums axis 0 row by row too
    assert g_fused.dtype == dtype


def test_non_contiguous_arrays_take_the_numpy_passes(kernels):
    kernels("compiled")
    Z, b = _pre_activations(np.float64, (10, 8))
    view = Z[:, ::2]
    expected = np.maximum(view + b[:4], 0)
    _layers.bias_activation(view, b[:4].copy(), "relu")
    np.testing.assert_array_equal(view, expected)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_whole_fit_and_predict_give_the_same_bits_with_and_without_numba(kernels, dtype):
    from sklearn.datasets import load_digits

    from ensemblekit import MLPClassifier, _optimizers

    X, y = load_digits(return_X_y=True)
    X = (X[:600] / 16).astype(dtype)
    params = dict(hidden_layer_sizes=(300, 200), max_iter=3, random_state=0)
    loops = [_layers._bias_relu_loop, _layers._relu_delta_sum_loop, _optimizers._adam_loop]
    fits = []
    for kind in ("numpy", "compiled"):
        kernels(kind)
        model = MLPClassifier(**params).fit(X, y[:600])
        fits.append((model, model.predict_proba(X)))
        assert all((_compiled._cache[loop] is None) == (kind == "numpy") for loop in loops)
    (plain, p_plain), (fused, p_fused) = fits
    assert plain.loss_curve_ == fused.loss_curve_
    for a, b in zip(plain.coefs_ + plain.intercepts_, fused.coefs_ + fused.intercepts_):
        assert a.dtype == dtype and np.array_equal(a, b)
    np.testing.assert_array_equal(p_plain, p_fused)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_the_fast_predict_path_gives_what_the_checked_one_gives():
    import pandas as pd
    from sklearn.datasets import load_digits

    from ensemblekit import MLPClassifier

    X, y = load_digits(return_X_y=True)
    X = X[:300] / 16
    model = MLPClassifier(hidden_layer_sizes=(32,), max_iter=5, random_state=0).fit(X, y[:300])
    fast = model.predict(X), model.predict_proba(X)
    # a list takes scikit-learn's validate_data and LabelBinarizer path
    np.testing.assert_array_equal(fast[1], model.predict_proba(X.tolist()))
    np.testing.assert_array_equal(fast[0], model.classes_[fast[1].argmax(axis=1)])
    with pytest.raises(ValueError, match="NaN"):
        model.predict(np.full_like(X[:2], np.nan))
    with pytest.raises(ValueError, match="features"):
        model.predict(X[:, :10])
    named = MLPClassifier(hidden_layer_sizes=(8,), max_iter=2).fit(
        pd.DataFrame(X).add_prefix("f"), y[:300])
    with pytest.warns(UserWarning, match="feature names"):
        named.predict(X)  # the fast path steps aside for fitted feature names
