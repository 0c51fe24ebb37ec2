"""Finite-difference gradient checks, in float64, of every analytic gradient.

Each analytic gradient is compared with central differences
``(f(x + eps) - f(x - eps)) / (2 eps)`` with ``eps = 1e-6``.  The relative error
of a check is ``max |analytic - numeric| / max |numeric|`` over the checked
coordinates, and must stay below ``1e-6`` (it is ~1e-9 when the gradient is
right; a wrong factor anywhere gives errors of order one).

Covered: the hidden activations' derivative kernels, every loss with its
output activation (with and without sample weights), batch normalisation
(unweighted and weighted), and the whole network through the estimator's own
``ensemblekit._network.loss_and_grad``, called directly on a fitted
estimator's parameters -- classifiers and regressors, every hidden activation, batch
norm on and off, :class:`~ensemblekit.WeightDecay` in both conventions, sample
weights, multi-output targets, sparse input, and :class:`~ensemblekit.Dropout`
in both modes with its mask held fixed.  One float32 run checks that float32
gradients stay float32 and agree with float64.

A forward-only hidden transform (a plugin implementing ``forward_hidden`` but
not ``backward_hidden``, like additive noise) is checked too; it once got a wrong gradient, and
that check covers the fix in ``_network.backward`` (derivative at the kept output).

ReLU kinks are ruled out by construction: the kernel check draws inputs away
from zero, and the network checks record which ReLU inputs are positive on
every evaluation and assert that no finite-difference step changed that
pattern.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from scipy import sparse
from sklearn.datasets import load_diabetes, load_iris

from ensemblekit import (
    Dropout,
    MLPClassifier,
    MLPRegressor,
    Plugin,
    WeightDecay,
    _layers,
    _network,
    hookimpl,
)
from ensemblekit.mlp import BaseMLP
from ensemblekit.plugins import Hooks

EPS = 1e-6
RTOL = 1e-6
N_SAMPLES = 24
HIDDEN = (5, 4)

HIDDEN_ACTIVATIONS = ("identity", "relu", "tanh", "logistic")


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------
def relative_error(analytic: np.ndarray, numeric: np.ndarray) -> float:
    """Largest absolute difference relative to the numeric gradient's scale."""
    analytic, numeric = np.ravel(analytic), np.ravel(numeric)
    scale = np.max(np.abs(numeric))
    assert scale > 0, "the numeric gradient is zero: the check would be vacuous"
    return float(np.max(np.abs(analytic - numeric)) / scale)


def numeric_gradient(f: Callable[[], float], x: np.ndarray,
                     coords: np.ndarray | None = None) -> np.ndarray:
    """Central differences of ``f()`` w.r.t. ``x`` (changed in place, restored)."""
    flat = x.reshape(-1)
    coords = np.arange(flat.size) if coords is None else coords
    out = np.empty(len(coords))
    for k, j in enumerate(coords):
        old = flat[j]
        flat[j] = old + EPS
        up = f()
        flat[j] = old - EPS
        down = f()
        flat[j] = old
        out[k] = (up - down) / (2 * EPS)
    return out


def test_relative_error_detects_a_wrong_gradient():
    """The criterion flags a gradient off by one part in 1e5 on one coordinate."""
    rng = np.random.default_rng(0)
    g = rng.normal(size=30)
    assert relative_error(g, g) == 0.0
    wrong = g.copy()
    wrong[3] += 1e-5 * np.abs(g).max()
    assert relative_error(wrong, g) > RTOL


# --------------------------------------------------------------------------
# 1. hidden activations: DERIVATIVES[name](A, delta) == delta * d/dz ACTIVATIONS
# --------------------------------------------------------------------------
def test_every_hidden_activation_has_a_derivative():
    options = BaseMLP._parameter_constraints["activation"][0].options
    assert set(_layers.DERIVATIVES) == set(options) == set(HIDDEN_ACTIVATIONS)


@pytest.mark.parametrize("name", HIDDEN_ACTIVATIONS)
def test_activation_derivative_matches_finite_differences(name):
    rng = np.random.default_rng(1)
    # magnitudes in [0.1, 3]: far from ReLU's kink at 0 compared with EPS
    Z = rng.choice([-1.0, 1.0], size=(7, 5)) * rng.uniform(0.1, 3.0, size=(7, 5))
    upstream = rng.normal(size=Z.shape)
    A = Z.copy()
    _layers.ACTIVATIONS[name](A)
    analytic = upstream.copy()
    _layers.DERIVATIVES[name](A, analytic)

    def activated(z: np.ndarray) -> np.ndarray:
        out = z.copy()
        _layers.ACTIVATIONS[name](out)
        return out

    # element-wise activations: one vectorised central difference per element
    numeric = upstream * (activated(Z + EPS) - activated(Z - EPS)) / (2 * EPS)
    assert relative_error(analytic, numeric) < RTOL


# --------------------------------------------------------------------------
# 2. losses: d loss / d z == (y_pred - y) * w / sum(w) for the output activation
# --------------------------------------------------------------------------
def _targets(kind: str, rng: np.random.Generator, n: int, k: int) -> np.ndarray:
    if kind == "onehot":
        return np.eye(k)[rng.integers(0, k, n)]
    if kind == "binary":
        return rng.integers(0, 2, (n, k)).astype(float)
    if kind == "counts":
        return rng.poisson(2.0, (n, k)).astype(float)
    return rng.normal(size=(n, k))


LOSS_CASES = [
    # (loss, output activation, target kind, n_outputs)
    ("squared_error", "identity", "real", 1),
    ("squared_error", "identity", "real", 3),
    ("poisson", "exp", "counts", 1),
    ("poisson", "exp", "counts", 2),
    ("log_loss", "softmax", "onehot", 4),
    ("binary_log_loss", "logistic", "binary", 1),
    ("binary_log_loss", "logistic", "binary", 3),  # multilabel
]


def test_every_loss_is_checked():
    assert {case[0] for case in LOSS_CASES} == set(_layers.LOSSES)


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("loss, out_activation, kind, k", LOSS_CASES,
                         ids=[f"{c[0]}-{c[3]}" for c in LOSS_CASES])
def test_loss_gradient_wrt_output_pre_activation(loss, out_activation, kind, k, weighted):
    rng = np.random.default_rng(2)
    n = 9
    Z = rng.normal(size=(n, k))
    y = _targets(kind, rng, n, k)
    sw = rng.uniform(0.2, 3.0, n) if weighted else None

    def output(z: np.ndarray) -> np.ndarray:
        out = z.copy()
        _layers.ACTIVATIONS[out_activation](out)
        return out

    def value() -> float:
        return _layers.LOSSES[loss](y, output(Z), sw)

    weights = np.full(n, 1.0 / n) if sw is None else sw / sw.sum()
    analytic = (output(Z) - y) * weights[:, None]
    numeric = numeric_gradient(value, Z)
    assert relative_error(analytic, numeric) < RTOL


# --------------------------------------------------------------------------
# 3. batch normalisation, unweighted and weighted
# --------------------------------------------------------------------------
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
def test_batch_norm_gradients(weighted):
    rng = np.random.default_rng(3)
    n, d = 8, 3
    Z = rng.normal(size=(n, d)) * [1.0, 0.3, 2.0] + [0.5, -1.0, 0.0]
    gamma = rng.uniform(0.5, 2.0, d)
    beta = rng.normal(size=d)
    w = rng.uniform(0.1, 2.0, n) if weighted else None
    weights = None if w is None else w / w.sum()
    upstream = rng.normal(size=(n, d))  # d loss / d output of a linear loss

    def value() -> float:
        out = Z.copy()
        _layers.batch_norm_forward(out, gamma, beta, np.zeros(d), np.ones(d),
                                   _layers.BatchNormCache(), 0.9, weights)
        return float(np.sum(upstream * out))

    cache = _layers.BatchNormCache()
    out = Z.copy()
    _layers.batch_norm_forward(out, gamma, beta, np.zeros(d), np.ones(d), cache,
                               0.9, weights)
    d_z = upstream.copy()
    d_gamma, d_beta = np.empty(d), np.empty(d)
    _layers.batch_norm_backward(d_z, gamma, cache, d_gamma, d_beta)

    assert relative_error(d_z, numeric_gradient(value, Z)) < RTOL
    assert relative_error(d_gamma, numeric_gradient(value, gamma)) < RTOL
    assert relative_error(d_beta, numeric_gradient(value, beta)) < RTOL


def test_weighted_batch_norm_counts_a_weight_of_two_as_two_copies():
    """Integer weights give the gradient of the data with duplicated rows."""
    rng = np.random.default_rng(4)
    Z = rng.normal(size=(5, 2))
    counts = np.array([1, 2, 1, 3, 1])
    gamma, beta = np.array([1.5, 0.7]), np.array([0.1, -0.2])
    upstream = rng.normal(size=(5, 2))

    def grad(z: np.ndarray, g: np.ndarray, weights: np.ndarray | None) -> np.ndarray:
        cache = _layers.BatchNormCache()
        _layers.batch_norm_forward(z.copy(), gamma, beta, np.zeros(2), np.ones(2),
                                   cache, 0.9, weights)
        delta = g.copy()
        _layers.batch_norm_backward(delta, gamma, cache, np.empty(2), np.empty(2))
        return delta

    weighted = grad(Z, upstream * (counts / counts.sum())[:, None],
                    counts / counts.sum())
    rows = np.repeat(np.arange(5), counts)
    duplicated = grad(Z[rows], upstream[rows] / counts.sum(), None)
    # the gradient w.r.t. one original row is the sum over its copies
    summed = np.zeros_like(Z)
    np.add.at(summed, rows, duplicated)
    np.testing.assert_allclose(weighted, summed, rtol=1e-10, atol=1e-12)


# --------------------------------------------------------------------------
# 4-5. the whole network, through the estimator's own loss and gradient
# --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def data() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Small standardised slices of iris and diabetes, one per target kind."""
    rng = np.random.default_rng(5)
    X_iris, y_iris = load_iris(return_X_y=True)
    rows = rng.choice(len(y_iris), N_SAMPLES, replace=False)
    Xi = X_iris[rows]
    long_sepals = Xi[:, 0] > 5.8
    Xi = (Xi - Xi.mean(axis=0)) / Xi.std(axis=0)
    yi = y_iris[rows]
    X_diab, y_diab = load_diabetes(return_X_y=True)
    rows = rng.choice(len(y_diab), N_SAMPLES, replace=False)
    Xd = X_diab[rows]
    Xd = (Xd - Xd.mean(axis=0)) / Xd.std(axis=0)
    yd = y_diab[rows]
    return {
        "multiclass": (Xi, yi),
        "binary": (Xi, (yi == 2).astype(int)),
        "multilabel": (Xi, np.column_stack([yi == 2, long_sepals]).astype(int)),
        "squared_error": (Xd, (yd - yd.mean()) / yd.std()),
        "squared_error-2": (Xd, np.column_stack([yd / 100, np.sqrt(yd) / 5])),
        "poisson": (Xd, yd / 100),
        "poisson-2": (Xd, np.column_stack([yd / 100, np.sqrt(yd) / 5])),
    }


TARGETS = ("multiclass", "binary", "multilabel", "squared_error", "squared_error-2",
           "poisson", "poisson-2")


class ReluRecorder:
    """Wraps the ReLU kernel to record which inputs were positive."""

    def __init__(self) -> None:
        self.patterns: list[np.ndarray] = []
        self.relu = _layers.ACTIVATIONS["relu"]

    def __call__(self, Z: np.ndarray) -> None:
        self.patterns.append(Z > 0)
        self.relu(Z)


class NetworkCheck:
    """The flat loss-and-gradient function of a fitted estimator, as in L-BFGS.

    Set up exactly as a fit does, from :mod:`ensemblekit._network`: one flat
    parameter buffer (``Layout.pack``), preallocated buffers, a flat gradient
    viewed per layer (``Layout.grads``) and the fit's ``Hooks`` as the
    network's callbacks.  ``dropout_seed`` hands the plugins a generator
    seeded identically before every evaluation, so Dropout draws the same
    mask on every forward pass.
    """

    def __init__(self, est: BaseMLP, X: np.ndarray, y: np.ndarray,
                 sample_weight: np.ndarray | None, dropout_seed: int | None = None):
        self.est = est
        self.X, self.y = est._validate_input(X, y, incremental=True, reset=False)
        if self.y.ndim == 1:
            self.y = self.y.reshape(-1, 1)
        self.sw = None if sample_weight is None else sample_weight.astype(self.X.dtype)
        layer_units = [X.shape[1], *HIDDEN, self.y.shape[1]]
        self.layout = _network.Layout(layer_units, est.batch_norm)
        self.flat, self.params = self.layout.pack(
            _network.Params(est.coefs_, est.intercepts_, est.bn_gammas_, est.bn_betas_,
                            est.bn_running_means_, est.bn_running_vars_), self.X.dtype)
        self.arch = _network.Architecture(est.activation, est.out_activation_,
                                          est._output_loss(), est.batch_norm)
        self.hooks = Hooks(est.plugins_)
        self.callbacks = est._callbacks(self.hooks)
        self.bufs = _network.make_buffers(layer_units, X.shape[0], self.X.dtype,
                                          self.hooks.forward_hidden is not None,
                                          est.batch_norm)
        self.gflat = np.zeros(self.layout.n_trainable, dtype=self.X.dtype)
        self.grads = self.layout.grads(self.gflat)
        self.dropout_seed = dropout_seed
        self._start(0)

    def _start(self, seed: int) -> None:
        if self.hooks.fit_start is not None:
            self.hooks.fit_start(estimator=self.est, rng=np.random.default_rng(seed),
                                 n_samples=self.X.shape[0], dtype=self.X.dtype)

    def loss(self) -> float:
        """The training loss (penalties included) at the current parameters."""
        if self.dropout_seed is not None:
            self._start(self.dropout_seed)
        # bn_momentum=0: running statistics are overwritten, never read in training
        return _network.loss_and_grad(self.arch, self.params, self.X, self.y, self.sw,
                                      self.bufs, self.grads, 0.0, *self.callbacks)

    def coordinates(self, rng: np.random.Generator, per_array: int = 3) -> np.ndarray:
        """A few random coordinates of every trainable array (~30 in all)."""
        coords, start = [], 0
        n_arrays = 2 * self.layout.n_coefs + 2 * self.layout.n_bn
        for shape in self.layout.shapes[:n_arrays]:
            size = int(np.prod(shape))
            coords += list(start + rng.choice(size, min(size, per_array), replace=False))
            start += size
        assert start == self.layout.n_trainable
        return np.array(coords)

    def check(self, rng: np.random.Generator) -> float:
        """Relative error of the analytic gradient on random coordinates."""
        self.loss()
        analytic = self.gflat.copy()
        coords = self.coordinates(rng)
        numeric = numeric_gradient(self.loss, self.flat[:self.layout.n_trainable], coords)
        return relative_error(analytic[coords], numeric)


def fitted(target: str, data, activation: str, batch_norm: bool,
           plugins: list | None = None, sample_weight: np.ndarray | None = None,
           dtype=np.float64) -> tuple[BaseMLP, np.ndarray, np.ndarray]:
    """An estimator after one epoch of ``partial_fit`` on ``data[target]``."""
    X, y = data[target]
    X = X.astype(dtype)  # a sparse X stays sparse
    params = dict(hidden_layer_sizes=HIDDEN, activation=activation, alpha=0.0,
                  batch_norm=batch_norm, plugins=plugins, learning_rate_init=0.01,
                  random_state=0)
    if target in ("multiclass", "binary", "multilabel", "sparse"):
        est = MLPClassifier(**params)
        est.partial_fit(X, y, sample_weight=sample_weight, classes=np.unique(y))
    else:
        est = MLPRegressor(loss=target.split("-")[0], **params)
        est.partial_fit(X, y, sample_weight=sample_weight)
    return est, X, y


def check_network(monkeypatch, target, data, activation, batch_norm, plugins=None,
                  weighted=False, dropout_seed=None) -> NetworkCheck:
    """Fit, then assert the analytic gradient matches central differences."""
    rng = np.random.default_rng(6)
    sw = rng.uniform(0.2, 3.0, N_SAMPLES) if weighted else None
    est, X, y = fitted(target, data, activation, batch_norm, plugins, sw)
    recorder = ReluRecorder()
    monkeypatch.setitem(_layers.ACTIVATIONS, "relu", recorder)
    net = NetworkCheck(est, X, y, sw, dropout_seed)
    error = net.check(rng)
    if activation == "relu":
        # no finite-difference step crossed a kink: every evaluation saw the
        # same positive/negative pattern of ReLU inputs as the first
        per_eval = len(HIDDEN)
        first = recorder.patterns[:per_eval]
        assert len(recorder.patterns) > per_eval
        for k, pattern in enumerate(recorder.patterns):
            np.testing.assert_array_equal(pattern, first[k % per_eval])
    assert error < RTOL, f"relative error {error:.3g}"
    return net


@pytest.mark.parametrize("batch_norm", [False, True], ids=["plain", "bn"])
@pytest.mark.parametrize("activation", HIDDEN_ACTIVATIONS)
@pytest.mark.parametrize("target", TARGETS)
def test_network_gradient(monkeypatch, data, target, activation, batch_norm):
    check_network(monkeypatch, target, data, activation, batch_norm)


@pytest.mark.parametrize("penalty", [None, "sklearn", "book"])
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("target", TARGETS)
def test_network_gradient_weights_and_weight_decay(monkeypatch, data, target, weighted,
                                                   penalty):
    # strong enough that a wrong penalty gradient would dominate the error
    plugins = None if penalty is None else [
        WeightDecay(alpha=2.0 if penalty == "sklearn" else 0.1, convention=penalty)]
    net = check_network(monkeypatch, target, data, "tanh", True, plugins, weighted)
    assert (net.hooks.penalty is None) == (penalty is None)


@pytest.mark.parametrize("mode", ["inverted", "book"])
@pytest.mark.parametrize("batch_norm", [False, True], ids=["plain", "bn"])
@pytest.mark.parametrize("activation", ["relu", "tanh", "logistic"])
@pytest.mark.parametrize("target", ["multiclass", "squared_error-2"])
def test_network_gradient_with_fixed_dropout_mask(monkeypatch, data, target, activation,
                                                  batch_norm, mode):
    plugins = [Dropout(rate=0.3, mode=mode), WeightDecay(alpha=0.5)]
    net = check_network(monkeypatch, target, data, activation, batch_norm, plugins,
                        weighted=True, dropout_seed=7)
    dropout = net.est.plugins_[0][1]
    masks = [dropout._masks[layer][:N_SAMPLES] for layer in range(len(HIDDEN))]
    assert all((m == 0).any() and (m != 0).any() for m in masks)
    # the rate is applied in steps of 2**-16, and the scaling uses that keep ratio
    kept = 1.0 / (1.0 - round(0.3 * 2**16) / 2**16) if mode == "inverted" else 1.0
    assert all(np.isin(m, [0.0, kept]).all() for m in masks)
    # the mask is fixed: re-evaluating gives the very same loss
    assert net.loss() == net.loss()


class Shift(Plugin):
    """Adds a constant to hidden activations in training: derivative one.

    Like additive Gaussian noise, it needs no ``backward_hidden``: the
    forward-hidden contract says the loop keeps the untransformed output for
    the activation's derivative, "so any element-wise transform is allowed".
    """

    name = "shift"

    def __init__(self, offset: float = 0.3) -> None:
        self.offset = offset

    @hookimpl
    def ensemblekit_forward_hidden(self, activation):
        """Add ``offset`` in place."""
        activation += self.offset


@pytest.mark.parametrize("activation", ["tanh", "logistic"])
def test_network_gradient_with_forward_only_plugin(monkeypatch, data, activation):
    check_network(monkeypatch, "multiclass", data, activation, False, [Shift()])


def test_network_gradient_with_observing_forward_plugin(monkeypatch, data):
    """A forward hook that leaves the activation unchanged keeps the gradient exact."""
    check_network(monkeypatch, "multiclass", data, "tanh", True, [Shift(offset=0.0)])


@pytest.mark.parametrize("batch_norm", [False, True], ids=["plain", "bn"])
def test_network_gradient_with_sparse_input(monkeypatch, data, batch_norm):
    X, y = data["multiclass"]
    X_sparse = sparse.csr_matrix(np.where(np.abs(X) < 0.5, 0.0, X))
    check_network(monkeypatch, "sparse", {"sparse": (X_sparse, y)}, "tanh", batch_norm,
                  [WeightDecay(alpha=1.0)], weighted=True)


def test_fresh_dropout_mask_changes_the_loss(monkeypatch, data):
    """Without re-seeding, each forward pass draws a new mask (the check is real)."""
    est, X, y = fitted("multiclass", data, "tanh", False, [Dropout(rate=0.3)])
    net = NetworkCheck(est, X, y, None, dropout_seed=None)
    assert net.loss() != net.loss()


def test_float32_gradient_stays_float32_and_matches_float64(data):
    """A float32 network computes float32 gradients, equal to float64's to ~1e-6."""
    plugins = [WeightDecay(alpha=1.0)]
    est, X, y = fitted("multiclass", data, "tanh", True, plugins)
    net64 = NetworkCheck(est, X, y, None)
    net64.loss()
    est32, X32, y32 = fitted("multiclass", data, "tanh", True, plugins, dtype=np.float32)
    assert est32.coefs_[0].dtype == np.float32
    net32 = NetworkCheck(est32, X32, y32, None)
    net32.flat[:] = net64.flat  # evaluate at the float64 run's parameters
    loss = net32.loss()
    assert np.isfinite(loss)
    assert net32.gflat.dtype == np.float32
    assert all(g.dtype == np.float32 for group in net32.grads for g in group)
    assert all(a.dtype == np.float32 for a in net32.bufs[0])
    assert relative_error(net32.gflat, net64.gflat) < 1e-4
