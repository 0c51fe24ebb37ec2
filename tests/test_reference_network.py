"""A few epochs of training against a plain, unoptimised numpy reference.

The training loop is built for speed: one flat parameter buffer, preallocated
activation and delta buffers, in-place kernels, a fused (optionally compiled)
Adam step split across threads.  This test re-derives the same training from
the textbook formulas -- whole arrays, fresh allocations, no buffers, float64
or float32 throughout -- and checks that the weights after three epochs agree
to within float tolerance, for ReLU and tanh networks, with L2 and without.
"""

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning

from ensemblekit import MLPClassifier


def reference_fit(X, Y, coefs, intercepts, activation, alpha, epochs, batch_size,
                  lr=1e-3, beta_1=0.9, beta_2=0.999, epsilon=1e-8):
    """Mini-batch Adam on a softmax MLP, written out plainly (no shuffling)."""
    params = [*coefs, *intercepts]
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    act = {"relu": lambda z: np.maximum(z, 0), "tanh": np.tanh}[activation]
    d_act = {"relu": lambda a: (a > 0).astype(a.dtype), "tanh": lambda a: 1 - a * a}[activation]
    n_layers = len(coefs)
    t = 0
    for _ in range(epochs):
        for start in range(0, X.shape[0], batch_size):
            xb, yb = X[start:start + batch_size], Y[start:start + batch_size]
            n = xb.shape[0]
            outs = [xb]
            for i in range(n_layers):
                z = outs[-1] @ coefs[i] + intercepts[i]
                if i < n_layers - 1:
                    outs.append(act(z))
                else:
                    z = np.exp(z - z.max(axis=1, keepdims=True))
                    outs.append(z / z.sum(axis=1, keepdims=True))
            delta = (outs[-1] - yb) / n
            grads_w, grads_b = [None] * n_layers, [None] * n_layers
            for i in range(n_layers - 1, -1, -1):
                grads_w[i] = outs[i].T @ delta + alpha / n * coefs[i]
                grads_b[i] = delta.sum(axis=0)
                if i:
                    delta = (delta @ coefs[i].T) * d_act(outs[i])
            t += 1
            step = lr * np.sqrt(1 - beta_2 ** t) / (1 - beta_1 ** t)
            for p, g, m_p, v_p in zip(params, [*grads_w, *grads_b], m, v):
                m_p[...] = beta_1 * m_p + (1 - beta_1) * g
                v_p[...] = beta_2 * v_p + (1 - beta_2) * g * g
                p -= step * m_p / (np.sqrt(v_p) + epsilon)
    return coefs, intercepts


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("dtype, rtol", [(np.float64, 1e-9), (np.float32, 2e-3)])
@pytest.mark.parametrize("activation, alpha", [("relu", 0.0), ("relu", 0.5), ("tanh", 1e-4)])
def test_three_epochs_match_the_plain_reference(dtype, rtol, activation, alpha):
    X, y = load_digits(return_X_y=True)
    X = (X[:500] / 16).astype(dtype)
    y = y[:500]
    Y = np.eye(10, dtype=dtype)[y]
    # 64-300-200-10: 81,710 parameters, so Adam takes the fused (and threaded) path
    est = MLPClassifier(hidden_layer_sizes=(300, 200), activation=activation, alpha=alpha,
                        batch_size=64, shuffle=False, max_iter=1, random_state=0,
                        warm_start=True)
    est.fit(X, y)  # builds the network; its weights are then set to a known start
    rng = np.random.default_rng(1)
    start = [rng.normal(0, 0.05, W.shape).astype(dtype) for W in est.coefs_]
    start_b = [rng.normal(0, 0.05, b.shape).astype(dtype) for b in est.intercepts_]
    for W, W0 in zip(est.coefs_ + est.intercepts_, start + start_b):
        W[...] = W0
    est.set_params(max_iter=3)
    with pytest.warns(ConvergenceWarning):
        est.fit(X, y)
    assert est.n_iter_ == 3
    coefs, intercepts = reference_fit(X, Y, [W.copy() for W in start],
                                      [b.copy() for b in start_b], activation, alpha,
                                      epochs=3, batch_size=64)
    for got, want in zip(est.coefs_ + est.intercepts_, coefs + intercepts):
        assert got.dtype == want.dtype == dtype
        moved = np.abs(want).max()
        np.testing.assert_allclose(got, want, rtol=0, atol=rtol * moved)
