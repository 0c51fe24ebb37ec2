"""The network as plain functions over a layout and a flat parameter buffer.

A multi-layer perceptron here is an :class:`Architecture` (activations, loss,
batch norm), a :class:`Layout` saying where each parameter array sits in one
flat buffer, :class:`Params` (the per-layer views of that buffer) and
preallocated :class:`Buffers`.  The functions below compute the training
forward pass, the backward pass, the loss and its gradient, and the
inference forward pass -- nothing else: no estimator, no plugin manager, no
scikit-learn.  Hooks arrive as plain callbacks (``on_hidden``, ``on_delta``,
``penalty``); the estimator binds them to its plugins.

Every kernel works in place in the caller's dtype (``float32`` stays
``float32``) and the training functions allocate nothing per mini-batch
beyond what the kernels of :mod:`ensemblekit._layers` need.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
from scipy import sparse

from . import _layers

#: ``on_hidden(layer=i, activation=a)``: called on each hidden activation, may
#: change it in place.
HiddenCallback = Callable[..., Any]
#: ``penalty(params, grads, n_samples)``: adds penalty gradients in place and
#: returns the penalty terms' total.
PenaltyCallback = Callable[["Params", "Grads", float], float]


@dataclass(frozen=True)
class Architecture:
    """What the network computes, apart from its parameters.

    Parameters
    ----------
    activation : str
        Hidden activation, a key of ``_layers.ACTIVATIONS``.
    out_activation : str
        Output activation (``"softmax"``, ``"logistic"``, ``"identity"``, ``"exp"``).
    loss : str
        Loss, a key of ``_layers.LOSSES``, matching ``out_activation``.
    batch_norm : bool
        Batch normalisation after every hidden affine map.
    """

    activation: str
    out_activation: str
    loss: str
    batch_norm: bool


class Params(NamedTuple):
    """The parameter arrays of a network, one list per kind, one entry per layer."""

    coefs: list[np.ndarray]
    intercepts: list[np.ndarray]
    gammas: list[np.ndarray]
    betas: list[np.ndarray]
    running_means: list[np.ndarray]
    running_vars: list[np.ndarray]

    def trainable(self) -> list[np.ndarray]:
        """The arrays an optimizer updates, in the flat buffer's order."""
        return [*self.coefs, *self.intercepts, *self.gammas, *self.betas]


#: Gradients have the shape of :class:`Params` without running statistics: the
#: same named lists (``running_means`` and ``running_vars`` empty), so
#: :meth:`Params.trainable` lists every gradient array in the flat gradient's order.
Grads = Params


class Buffers(NamedTuple):
    """Preallocated per-batch arrays of the training passes."""

    acts: list[np.ndarray]
    raws: list[np.ndarray]
    deltas: list[np.ndarray]
    caches: list[_layers.BatchNormCache]


class Layout:
    """Where each parameter array sits inside the flat buffer.

    The buffer holds the weight matrices, the biases, then (with batch norm)
    the scales and shifts -- the trainable part, ``flat[:n_trainable]`` --
    and last the running means and variances.

    Parameters
    ----------
    layer_units : list of int
        Units per layer, input and output included.
    batch_norm : bool
        Whether the hidden layers carry batch-norm parameters.
    """

    def __init__(self, layer_units: list[int], batch_norm: bool) -> None:
        shapes: list[tuple[int, ...]] = []
        shapes += [(a, b) for a, b in zip(layer_units[:-1], layer_units[1:])]
        shapes += [(b,) for b in layer_units[1:]]
        hidden = layer_units[1:-1] if batch_norm else []
        shapes += [(h,) for h in hidden] * 2  # gammas, betas: trainable
        self.layer_units = list(layer_units)
        self.n_coefs = len(layer_units) - 1
        self.n_bn = len(hidden)
        self.n_trainable = int(sum(int(np.prod(s)) for s in shapes))
        shapes += [(h,) for h in hidden] * 2  # running means, vars: state
        self.shapes = shapes
        self.size = int(sum(int(np.prod(s)) for s in shapes))

    def _views(self, flat: np.ndarray, shapes: list[tuple[int, ...]]) -> list[np.ndarray]:
        out, start = [], 0
        for shape in shapes:
            n = int(np.prod(shape))
            out.append(flat[start:start + n].reshape(shape))
            start += n
        return out

    def _groups(self, views: list[np.ndarray]) -> list[list[np.ndarray]]:
        L, B = self.n_coefs, self.n_bn
        bounds = [0, L, 2 * L, 2 * L + B, 2 * L + 2 * B, 2 * L + 3 * B, len(views)]
        return [views[a:b] for a, b in zip(bounds[:-1], bounds[1:])]

    def params(self, flat: np.ndarray) -> Params:
        """Per-layer views of a flat parameter buffer of ``size`` entries.

        Parameters
        ----------
        flat : ndarray of shape (size,)
            The parameter buffer.

        Returns
        -------
        Params
            Views into ``flat``: writing to them writes to the buffer.
        """
        return Params(*self._groups(self._views(flat, self.shapes)))

    def grads(self, gflat: np.ndarray) -> Grads:
        """Per-layer views of a flat gradient of ``n_trainable`` entries.

        Parameters
        ----------
        gflat : ndarray of shape (n_trainable,)
            The gradient buffer.

        Returns
        -------
        Grads
            Views into ``gflat`` (no running statistics).
        """
        trainable = self.shapes[:len(self.shapes) - 2 * self.n_bn]
        return Grads(*self._groups(self._views(gflat, trainable)))  # no statistics: empty

    def pack(self, params: Params, dtype: Any) -> tuple[np.ndarray, Params]:
        """Copy parameter arrays into a new flat buffer.

        Parameters
        ----------
        params : Params
            The arrays to copy (any array-likes of the layout's shapes).
        dtype : numpy dtype
            The buffer's dtype.

        Returns
        -------
        flat : ndarray of shape (size,)
            The new buffer.
        views : Params
            Its per-layer views, holding the copied values.

        Raises
        ------
        ValueError
            If an array's shape is not the layout's.
        """
        flat = np.empty(self.size, dtype=dtype)
        views = self.params(flat)
        arrays = [a for group in params for a in group]
        for view, arr in zip([v for group in views for v in group], arrays):
            arr = np.asarray(arr)
            if arr.shape != view.shape:
                raise ValueError(
                    f"a parameter array has shape {arr.shape}, expected {view.shape}; "
                    "coefs_/intercepts_ do not match hidden_layer_sizes and the data."
                )
            view[...] = arr
        return flat, views


def make_buffers(layer_units: list[int], rows: int, dtype: Any, with_raw: bool,
                 batch_norm: bool) -> Buffers:
    """Allocate the training passes' per-batch arrays for up to ``rows`` rows.

    Parameters
    ----------
    layer_units : list of int
        Units per layer, input and output included.
    rows : int
        The largest batch.
    dtype : numpy dtype
        The compute dtype.
    with_raw : bool
        Keep a copy of each hidden activation before ``on_hidden`` changes it
        (the derivative is taken at the untransformed output).
    batch_norm : bool
        Allocate batch-norm caches.

    Returns
    -------
    Buffers
    """
    acts = [np.empty((rows, u), dtype=dtype) for u in layer_units[1:]]
    raws = ([np.empty((rows, u), dtype=dtype) for u in layer_units[1:-1]]
            if with_raw else [])
    deltas = [np.empty((rows, u), dtype=dtype) for u in layer_units[1:]]
    caches = [_layers.BatchNormCache() for _ in layer_units[1:-1]] if batch_norm else []
    return Buffers(acts, raws, deltas, caches)


def _affine(a: Any, coef: np.ndarray, out: np.ndarray) -> None:
    """``out = a @ coef`` for a dense or a scipy-sparse ``a``."""
    if sparse.issparse(a):
        out[...] = a @ coef
    else:
        np.matmul(a, coef, out=out)


def forward_train(arch: Architecture, params: Params, X: Any, bufs: Buffers,
                  bn_momentum: float, sample_weight: np.ndarray | None = None,
                  on_hidden: HiddenCallback | None = None) -> np.ndarray:
    """Training forward pass into the preallocated activation buffers.

    Parameters
    ----------
    arch : Architecture
    params : Params
    X : ndarray or sparse matrix of shape (n, n_features)
        The batch.
    bufs : Buffers
        Buffers of at least ``n`` rows; ``bufs.raws`` non-empty exactly when
        ``on_hidden`` is given.
    bn_momentum : float
        Weight of the old running statistics (0 overwrites them).
    sample_weight : ndarray of shape (n,) or None
        Weights batch statistics are computed with.
    on_hidden : callable or None
        ``on_hidden(layer=i, activation=a)`` after each hidden activation.

    Returns
    -------
    ndarray of shape (n, n_outputs)
        The output activations (a view of ``bufs.acts[-1]``).
    """
    hidden_act = _layers.ACTIVATIONS[arch.activation]
    n = X.shape[0]
    a = X
    last = len(params.coefs) - 1
    bn_weights = None
    if arch.batch_norm and sample_weight is not None:
        bn_weights = (sample_weight / sample_weight.sum()).astype(X.dtype, copy=False)
    for i in range(last + 1):
        z = bufs.acts[i][:n]
        _affine(a, params.coefs[i], z)
        if i == last:
            z += params.intercepts[i]
            _layers.ACTIVATIONS[arch.out_activation](z)
            return z
        if arch.batch_norm:
            z += params.intercepts[i]
            _layers.batch_norm_forward(
                z, params.gammas[i], params.betas[i], params.running_means[i],
                params.running_vars[i], bufs.caches[i], bn_momentum, bn_weights)
            hidden_act(z)
        else:
            _layers.bias_activation(z, params.intercepts[i], arch.activation)
        if on_hidden is not None:
            np.copyto(bufs.raws[i][:n], z)
            on_hidden(layer=i, activation=z)
        a = z
    raise AssertionError("unreachable")


def backward(arch: Architecture, params: Params, X: Any, y: np.ndarray,
             sample_weight: np.ndarray | None, sw_sum: float, bufs: Buffers,
             grads: Grads, on_delta: HiddenCallback | None = None) -> None:
    """Fill ``grads`` with the gradient of the mean loss (no penalty).

    Reads the activations :func:`forward_train` left in ``bufs``.

    Parameters
    ----------
    arch : Architecture
    params : Params
    X : ndarray or sparse matrix of shape (n, n_features)
    y : ndarray of shape (n, n_outputs)
        Targets (binarised labels for classifiers).
    sample_weight : ndarray of shape (n,) or None
    sw_sum : float
        ``n``, or the sum of ``sample_weight``.
    bufs : Buffers
    grads : Grads
        Written in place.
    on_delta : callable or None
        ``on_delta(layer=i, delta=d)`` on each hidden delta before the
        activation's derivative is applied.
    """
    n = X.shape[0]
    last = len(params.coefs) - 1
    derivative = _layers.DERIVATIVES[arch.activation]
    delta = bufs.deltas[last][:n]
    np.subtract(bufs.acts[last][:n], y, out=delta)
    if sample_weight is None:
        delta *= 1.0 / n
    else:
        delta *= (sample_weight / sw_sum).astype(delta.dtype, copy=False)[:, None]
    summed = False  # whether the bias gradient of the layer at hand is written
    for i in range(last, -1, -1):
        a_prev = X if i == 0 else bufs.acts[i - 1][:n]
        _affine(a_prev.T, delta, grads.coefs[i])
        if not summed:
            np.sum(delta, axis=0, out=grads.intercepts[i])
        if i == 0:
            break
        prev = bufs.deltas[i - 1][:n]
        np.matmul(delta, params.coefs[i].T, out=prev)
        if on_delta is not None:
            on_delta(layer=i - 1, delta=prev)
        # the derivative is taken at the untransformed output whenever a
        # forward callback transformed it (raws is filled exactly then)
        out = bufs.raws[i - 1][:n] if bufs.raws else bufs.acts[i - 1][:n]
        summed = not arch.batch_norm
        if summed:  # the derivative and the bias gradient in one pass
            _layers.derivative_and_bias_grad(arch.activation, out, prev,
                                             grads.intercepts[i - 1])
        else:
            derivative(out, prev)
            _layers.batch_norm_backward(prev, params.gammas[i - 1], bufs.caches[i - 1],
                                        grads.gammas[i - 1], grads.betas[i - 1])
        delta = prev


def loss_and_grad(arch: Architecture, params: Params, X: Any, y: np.ndarray,
                  sample_weight: np.ndarray | None, bufs: Buffers, grads: Grads,
                  bn_momentum: float, on_hidden: HiddenCallback | None = None,
                  on_delta: HiddenCallback | None = None,
                  penalty: PenaltyCallback | None = None) -> float:
    """Forward, loss (penalties included) and backward for one batch.

    Parameters
    ----------
    arch, params, X, y, sample_weight, bufs, grads, bn_momentum
        As in :func:`forward_train` and :func:`backward`.
    on_hidden, on_delta : callable or None
        The forward and backward callbacks.
    penalty : callable or None
        ``penalty(params, grads, n_samples)`` adds the penalties' gradients to
        ``grads`` in place and returns their total loss.

    Returns
    -------
    float
        The batch's mean loss, penalties included.
    """
    out = forward_train(arch, params, X, bufs, bn_momentum, sample_weight, on_hidden)
    loss = _layers.LOSSES[arch.loss](y, out, sample_weight)
    sw_sum = X.shape[0] if sample_weight is None else float(sample_weight.sum())
    backward(arch, params, X, y, sample_weight, sw_sum, bufs, grads, on_delta)
    if penalty is not None:
        loss += penalty(params, grads, sw_sum)
    return loss


def forward_predict(arch: Architecture, params: Params, X: Any,
                    on_hidden: HiddenCallback | None = None) -> np.ndarray:
    """Inference forward pass: running batch-norm statistics, new output arrays.

    Parameters
    ----------
    arch : Architecture
    params : Params
    X : ndarray or sparse matrix of shape (n, n_features)
    on_hidden : callable or None
        ``on_hidden(layer=i, activation=a)`` after each hidden activation.

    Returns
    -------
    ndarray of shape (n, n_outputs)
        The output activations.
    """
    hidden_act = _layers.ACTIVATIONS[arch.activation]
    a = X
    last = len(params.coefs) - 1
    for i in range(last + 1):
        z = a @ params.coefs[i]
        if i == last:
            z += params.intercepts[i]
        else:
            if arch.batch_norm:
                z += params.intercepts[i]
                _layers.batch_norm_inference(
                    z, params.gammas[i], params.betas[i], params.running_means[i],
                    params.running_vars[i])
                hidden_act(z)
            else:
                _layers.bias_activation(z, params.intercepts[i], arch.activation)
            if on_hidden is not None:
                on_hidden(layer=i, activation=z)
        a = z
    _layers.ACTIVATIONS[arch.out_activation](a)
    return a


def constant_loss(loss: str, y: np.ndarray, sample_weight: np.ndarray | None = None) -> float:
    """The loss of the best constant prediction: the (weighted) column means of ``y``.

    For classifiers these are the class frequencies, for regressors the
    target means; it is what a network that learnt nothing about ``X``
    scores, the yardstick the training loop measures a runaway loss against.

    Parameters
    ----------
    loss : str
        A key of ``_layers.LOSSES``.
    y : ndarray of shape (n, n_outputs)
        Targets (binarised labels for classifiers).
    sample_weight : ndarray of shape (n,) or None

    Returns
    -------
    float
    """
    if sample_weight is not None and not sample_weight.sum() > 0:
        sample_weight = None
    mean = np.average(y, axis=0, weights=sample_weight)
    return float(_layers.LOSSES[loss](y, np.broadcast_to(mean, y.shape), sample_weight))
