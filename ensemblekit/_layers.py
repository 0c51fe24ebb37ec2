"""Numerical kernels: activations, losses, batch normalisation, initialisation.

Every kernel works in place on arrays of the caller's dtype, so ``float32``
stays ``float32`` and the training loop allocates nothing per mini-batch.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy.special import expit, xlogy

from ._compiled import compiled

# --------------------------------------------------------------------------
# activations (in place) and their derivatives, written from the output
# --------------------------------------------------------------------------


def _identity(Z: np.ndarray) -> None:
    """Leave ``Z`` as it is."""


def _relu(Z: np.ndarray) -> None:
    np.maximum(Z, 0, out=Z)


def _tanh(Z: np.ndarray) -> None:
    np.tanh(Z, out=Z)


def _logistic(Z: np.ndarray) -> None:
    expit(Z, out=Z)


def _exp(Z: np.ndarray) -> None:
    np.exp(Z, out=Z)


def _softmax(Z: np.ndarray) -> None:
    Z -= Z.max(axis=1, keepdims=True)
    np.exp(Z, out=Z)
    Z /= Z.sum(axis=1, keepdims=True)


ACTIVATIONS: dict[str, Callable[[np.ndarray], None]] = {
    "identity": _identity,
    "relu": _relu,
    "tanh": _tanh,
    "logistic": _logistic,
    "exp": _exp,
    "softmax": _softmax,
}


def _d_identity(A: np.ndarray, delta: np.ndarray) -> None:
    """The identity's derivative is one."""


def _d_relu(A: np.ndarray, delta: np.ndarray) -> None:
    # a multiply by the 0/1 mask is ~13x faster than boolean-index assignment
    np.multiply(delta, A > 0, out=delta)


def _d_tanh(A: np.ndarray, delta: np.ndarray) -> None:
    delta *= 1 - A * A


def _d_logistic(A: np.ndarray, delta: np.ndarray) -> None:
    delta *= A
    delta *= 1 - A


DERIVATIVES: dict[str, Callable[[np.ndarray, np.ndarray], None]] = {
    "identity": _d_identity,
    "relu": _d_relu,
    "tanh": _d_tanh,
    "logistic": _d_logistic,
}

# --------------------------------------------------------------------------
# fused kernels: what runs between two matrix products, one pass instead of
# two or three.  Each compiled loop does the same float operations, in the
# same order, as the numpy passes beside it (numba contracts nothing into
# FMAs without ``fastmath``), so both paths give the same bits
# (tests/test_fused.py).  Only ReLU has loops: numba's tanh and exp are not
# numpy's (other roundings), so those activations keep the numpy passes.
# --------------------------------------------------------------------------


def _bias_relu_loop(Z, b, zero):  # pragma: no cover - compiled by numba
    """``Z += b; np.maximum(Z, 0, out=Z)`` in one pass (NaN passes, as in numpy)."""
    for i in range(Z.shape[0]):
        for j in range(Z.shape[1]):
            v = Z[i, j] + b[j]
            if v < zero:
                v = zero
            Z[i, j] = v


def _relu_delta_sum_loop(A, delta, bias_grad, zero):  # pragma: no cover - numba
    """``_d_relu(A, delta)`` then ``np.sum(delta, axis=0, out=bias_grad)`` in one pass.

    numpy sums a C-ordered array over axis 0 row after row, as here.
    """
    for j in range(delta.shape[1]):
        bias_grad[j] = zero
    for i in range(delta.shape[0]):
        for j in range(delta.shape[1]):
            d = delta[i, j] * (A[i, j] > zero)
            delta[i, j] = d
            bias_grad[j] += d


# keyed by the numpy kernel each loop replaces: an entry of ACTIVATIONS or
# DERIVATIVES swapped for another function (a test's recorder) runs as it is
_BIAS_ACTIVATION_LOOPS: dict[Callable[..., None], Callable[..., None]] = {
    _relu: _bias_relu_loop}
_DELTA_SUM_LOOPS: dict[Callable[..., None], Callable[..., None]] = {
    _d_relu: _relu_delta_sum_loop}


def _fusable(*arrays: np.ndarray) -> bool:
    return all(a.flags.c_contiguous and a.dtype.kind == "f" for a in arrays)


def bias_activation(Z: np.ndarray, bias: np.ndarray, name: str) -> None:
    """``Z += bias`` then the activation ``name``, in place.

    One compiled pass where there is a loop for ``name`` (ReLU) and numba is
    on; else the numpy passes.  Both give the same bits.

    Parameters
    ----------
    Z : ndarray of shape (n, units)
        Pre-activations, overwritten with the activations.
    bias : ndarray of shape (units,)
        The layer's biases, of ``Z``'s dtype.
    name : str
        A key of :data:`ACTIVATIONS`.
    """
    kernel = ACTIVATIONS[name]
    loop = _BIAS_ACTIVATION_LOOPS.get(kernel)
    fused = compiled(loop) if loop is not None and _fusable(Z, bias) else None
    if fused is None:
        Z += bias
        kernel(Z)
    else:
        fused(Z, bias, Z.dtype.type(0))


def derivative_and_bias_grad(name: str, A: np.ndarray, delta: np.ndarray,
                             bias_grad: np.ndarray) -> None:
    """Apply the derivative of ``name`` to ``delta``; sum the result into ``bias_grad``.

    One compiled pass where there is a loop for ``name`` (ReLU) and numba is
    on; else the numpy passes.  Both give the same bits.

    Parameters
    ----------
    name : str
        A key of :data:`DERIVATIVES`.
    A : ndarray of shape (n, units)
        The layer's (untransformed) activations.
    delta : ndarray of shape (n, units)
        The gradient with respect to the activations, turned in place into the
        gradient with respect to the pre-activations.
    bias_grad : ndarray of shape (units,)
        Receives ``delta.sum(axis=0)``.
    """
    kernel = DERIVATIVES[name]
    loop = _DELTA_SUM_LOOPS.get(kernel)
    fused = compiled(loop) if loop is not None and _fusable(A, delta, bias_grad) else None
    if fused is None:
        kernel(A, delta)
        np.sum(delta, axis=0, out=bias_grad)
    else:
        fused(A, delta, bias_grad, delta.dtype.type(0))

# --------------------------------------------------------------------------
# losses: value of the (weighted) mean loss, from the output activation.
# For each (output activation, loss) pair used here the gradient with respect
# to the output layer's pre-activation is ``y_pred - y_true`` (canonical link).
# --------------------------------------------------------------------------


def _per_sample_mean(values: np.ndarray, sample_weight: np.ndarray | None) -> float:
    per_sample = values.sum(axis=1) if values.ndim == 2 else values
    if sample_weight is None:
        return float(per_sample.mean())
    return float(np.dot(per_sample, sample_weight) / sample_weight.sum())


def squared_loss(y_true: np.ndarray, y_pred: np.ndarray,
                 sample_weight: np.ndarray | None = None) -> float:
    """Half squared error, summed over outputs, averaged over samples."""
    diff = y_pred - y_true
    return 0.5 * _per_sample_mean(diff * diff, sample_weight)


def poisson_loss(y_true: np.ndarray, y_pred: np.ndarray,
                 sample_weight: np.ndarray | None = None) -> float:
    """Half Poisson deviance, summed over outputs, averaged over samples."""
    with np.errstate(divide="ignore", invalid="ignore"):
        values = xlogy(y_true, y_true / y_pred) - y_true + y_pred
    return _per_sample_mean(values, sample_weight)


def log_loss(y_true: np.ndarray, y_prob: np.ndarray,
             sample_weight: np.ndarray | None = None) -> float:
    """Categorical cross-entropy of softmax outputs (log clipped at eps)."""
    eps = np.finfo(y_prob.dtype).eps
    logp = np.log(np.clip(y_prob, eps, 1.0))
    return -_per_sample_mean(y_true * logp, sample_weight)


def binary_log_loss(y_true: np.ndarray, y_prob: np.ndarray,
                    sample_weight: np.ndarray | None = None) -> float:
    """Binary cross-entropy of logistic outputs, summed over labels."""
    eps = np.finfo(y_prob.dtype).eps
    p = np.clip(y_prob, eps, 1 - eps)
    values = y_true * np.log(p) + (1 - y_true) * np.log1p(-p)
    return -_per_sample_mean(values, sample_weight)


LOSSES: dict[str, Callable[..., float]] = {
    "squared_error": squared_loss,
    "poisson": poisson_loss,
    "log_loss": log_loss,
    "binary_log_loss": binary_log_loss,
}

# --------------------------------------------------------------------------
# batch normalisation
# --------------------------------------------------------------------------
BN_EPSILON = 1e-5
BN_MOMENTUM = 0.9


class BatchNormCache:
    """Per-layer buffers the backward pass needs (normalised input, 1/std)."""

    __slots__ = ("xhat", "inv_std", "weights")

    def __init__(self) -> None:
        self.xhat: np.ndarray | None = None
        self.inv_std: np.ndarray | None = None
        self.weights: np.ndarray | None = None


def batch_norm_forward(Z: np.ndarray, gamma: np.ndarray, beta: np.ndarray,
                       running_mean: np.ndarray, running_var: np.ndarray,
                       cache: BatchNormCache, momentum: float,
                       weights: np.ndarray | None = None) -> None:
    """Normalise ``Z`` in place with batch statistics; update running ones.

    ``momentum`` is the weight of the old running statistics (0 sets them to
    this batch's statistics).  ``weights`` (sample weights summing to one)
    make the statistics weighted, so that a sample of weight 2 counts as two
    copies of it.
    """
    if weights is None:
        mean = Z.mean(axis=0)
        Z -= mean
        var = np.mean(Z * Z, axis=0)
    else:
        mean = weights @ Z
        Z -= mean
        var = weights @ (Z * Z)
    inv_std = 1.0 / np.sqrt(var + BN_EPSILON)
    Z *= inv_std
    if cache.xhat is None or cache.xhat.shape != Z.shape:
        cache.xhat = np.empty_like(Z)
    np.copyto(cache.xhat, Z)
    cache.inv_std = inv_std.astype(Z.dtype, copy=False)
    cache.weights = weights
    Z *= gamma
    Z += beta
    running_mean *= momentum
    running_mean += (1 - momentum) * mean
    running_var *= momentum
    running_var += (1 - momentum) * var


def batch_norm_backward(delta: np.ndarray, gamma: np.ndarray, cache: BatchNormCache,
                        d_gamma: np.ndarray, d_beta: np.ndarray) -> None:
    """Turn ``delta`` (gradient w.r.t. the output) into the input's gradient.

    Writes the gradients of ``gamma`` and ``beta`` into ``d_gamma``/``d_beta``.
    With normalised weights ``w`` (``1/n`` without sample weights) the input
    gradient is ``gamma / std * (dy - w * (sum(dy) + xhat * sum(dy * xhat)))``.
    """
    xhat = cache.xhat
    np.sum(delta, axis=0, out=d_beta)
    np.sum(delta * xhat, axis=0, out=d_gamma)
    correction = xhat * d_gamma
    correction += d_beta
    if cache.weights is None:
        correction *= 1.0 / delta.shape[0]
    else:
        correction *= cache.weights[:, None]
    delta -= correction
    delta *= gamma * cache.inv_std


def batch_norm_inference(Z: np.ndarray, gamma: np.ndarray, beta: np.ndarray,
                         running_mean: np.ndarray, running_var: np.ndarray) -> None:
    """Normalise ``Z`` in place with the running statistics."""
    Z -= running_mean
    Z *= gamma / np.sqrt(running_var + BN_EPSILON)
    Z += beta


# --------------------------------------------------------------------------
# initialisation
# --------------------------------------------------------------------------


def init_layer(rng: np.random.Generator, fan_in: int, fan_out: int, weight_init,
               activation: str, dtype) -> tuple[np.ndarray, np.ndarray]:
    """Draw one layer's weights and biases.

    ``"glorot"`` is scikit-learn's uniform Glorot scheme (bound
    ``sqrt(6 / (fan_in + fan_out))``, ``sqrt(2 / ...)`` for logistic units), with
    biases drawn from the same range.  ``"he"`` (normal, std
    ``sqrt(2 / fan_in)``) and ``"xavier"`` (normal, std ``sqrt(1 / fan_in)``) are
    the book's, and a float is the std of a normal; these start biases at zero.
    """
    if weight_init == "glorot":
        factor = 2.0 if activation == "logistic" else 6.0
        bound = np.sqrt(factor / (fan_in + fan_out))
        coef = rng.uniform(-bound, bound, (fan_in, fan_out))
        intercept = rng.uniform(-bound, bound, fan_out)
    else:
        if weight_init == "he":
            std = np.sqrt(2.0 / fan_in)
        elif weight_init == "xavier":
            std = np.sqrt(1.0 / fan_in)
        else:
            std = float(weight_init)
        coef = rng.normal(0.0, std, (fan_in, fan_out))
        intercept = np.zeros(fan_out)
    return coef.astype(dtype, copy=False), intercept.astype(dtype, copy=False)
