"""Workloads and the contenders that train them one epoch at a time.

A contender is built on a data set, trains its first epoch in :meth:`start`
(initialisation and warm-up, never timed) and then exactly one epoch per
:meth:`epoch` call.  The scikit-learn API contenders use ``partial_fit``,
which runs one epoch per call by definition; :meth:`epoch` checks that
through ``t_`` (samples seen) so a silent multi-epoch call cannot skew a
ratio.
"""

from __future__ import annotations

import importlib.util
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning

from ensemblekit import MLPClassifier


@dataclass(frozen=True)
class Workload:
    """A classification data set and the network trained on it.

    Parameters
    ----------
    name : str
        Its ``--only`` name.
    n_samples : int
        Rows (ignored by ``source="digits"``, which has 1,797).
    hidden : tuple of int
        Hidden layer widths.
    batch_size : int
        Mini-batch size.
    epochs_per_round : int
        Epochs timed per contender and round (more for tiny workloads, whose
        epochs are too short to time one by one).
    source : {"synthetic", "digits"}
        Random features with labels from a linear teacher, or sklearn's
        bundled digits scaled to ``[0, 1]``.
    n_features : int
        Columns of synthetic data.
    n_classes : int
        Classes of synthetic data.
    """

    name: str
    n_samples: int
    hidden: tuple[int, ...]
    batch_size: int
    epochs_per_round: int = 1
    source: str = "synthetic"
    n_features: int = 784
    n_classes: int = 10

    def data(self, dtype: Any) -> tuple[np.ndarray, np.ndarray]:
        """Return ``(X, y)`` with ``X`` in ``dtype`` and integer labels ``y``.

        Parameters
        ----------
        dtype : numpy dtype
            ``float32`` or ``float64``.

        Returns
        -------
        X : ndarray of shape (n_samples, n_features)
        y : ndarray of shape (n_samples,)
        """
        if self.source == "digits":
            X, y = load_digits(return_X_y=True)
            return (X / 16.0).astype(dtype), y
        X, y = synthetic(self.n_samples, self.n_features, self.n_classes)
        return X.astype(dtype, copy=False), y

    def layer_units(self, n_features: int, n_classes: int) -> list[int]:
        """Widths of every layer, input and output included.

        Parameters
        ----------
        n_features, n_classes : int
            Input width and number of classes of the data.

        Returns
        -------
        list of int
        """
        return [n_features, *self.hidden, n_classes]

    def describe(self, n_samples: int, n_features: int, n_classes: int) -> str:
        """One line: rows x network, batch.

        Parameters
        ----------
        n_samples, n_features, n_classes : int
            Shape of the data.

        Returns
        -------
        str
        """
        net = "-".join(str(u) for u in self.layer_units(n_features, n_classes))
        return f"{n_samples:,} x {n_features}, {net} ReLU, Adam, batch {self.batch_size}"


def synthetic(n_samples: int, n_features: int = 784, n_classes: int = 10,
              seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """MNIST-shaped random data: float32 features in [0, 1), teacher labels.

    Built without any float64 temporary the size of ``X``, so the memory
    benchmark's baseline holds ``X`` once.

    Parameters
    ----------
    n_samples, n_features, n_classes : int
        Shape of the data.
    seed : int
        Seed of the generator.

    Returns
    -------
    X : ndarray of shape (n_samples, n_features), float32
    y : ndarray of shape (n_samples,), int
    """
    rng = np.random.default_rng(seed)
    X = rng.random((n_samples, n_features), dtype=np.float32)
    teacher = rng.standard_normal((n_features, n_classes)).astype(np.float32)
    # labels of the centred features, (X - 0.5) @ W, without the copy of X
    scores = X @ teacher - 0.5 * teacher.sum(axis=0)
    return X, scores.argmax(axis=1)


def torch_available() -> bool:
    """Whether PyTorch can be imported (it is optional).

    Returns
    -------
    bool
    """
    return importlib.util.find_spec("torch") is not None


class SklearnAPIContender:
    """An estimator with ``partial_fit``, one epoch per call.

    Parameters
    ----------
    name : str
        Label in the tables.
    factory : callable
        Returns a fresh, unfitted estimator.
    """

    def __init__(self, name: str, factory: Any) -> None:
        self.name = name
        self.factory = factory

    def start(self, X: np.ndarray, y: np.ndarray) -> None:
        """Build the estimator and train its first (untimed) epoch.

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_features)
        y : ndarray of shape (n_samples,)
        """
        self.X, self.y = X, y
        self.estimator = self.factory()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            self.estimator.partial_fit(X, y, classes=np.unique(y))

    def epoch(self) -> None:
        """Train exactly one more epoch."""
        seen = self.estimator.t_
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            self.estimator.partial_fit(self.X, self.y)
        if self.estimator.t_ - seen != self.X.shape[0]:
            raise RuntimeError(f"{self.name}: partial_fit did not run exactly one epoch.")


def ensemblekit_contender(hidden: tuple[int, ...], batch_size: int, name: str = "ensemblekit",
                          plugins: list | None = None,
                          alpha: float = 0.0) -> SklearnAPIContender:
    """ensemblekit's MLPClassifier, Adam, no L2 unless ``plugins`` or ``alpha`` add one.

    Parameters
    ----------
    hidden : tuple of int
        Hidden layer widths.
    batch_size : int
        Mini-batch size.
    name : str
        Label in the tables.
    plugins : list or None
        Training plugins.
    alpha : float
        The estimator's L2 penalty (0 here; scikit-learn's default is 1e-4).

    Returns
    -------
    SklearnAPIContender
    """
    return SklearnAPIContender(name, lambda: MLPClassifier(
        hidden_layer_sizes=hidden, solver="adam", batch_size=batch_size, alpha=alpha,
        plugins=plugins, random_state=0))


def sklearn_contender(hidden: tuple[int, ...], batch_size: int) -> SklearnAPIContender:
    """scikit-learn's MLPClassifier with the same architecture and optimizer.

    Parameters
    ----------
    hidden : tuple of int
        Hidden layer widths.
    batch_size : int
        Mini-batch size.

    Returns
    -------
    SklearnAPIContender
    """
    from sklearn.neural_network import MLPClassifier as SkMLPClassifier

    return SklearnAPIContender("sklearn", lambda: SkMLPClassifier(
        hidden_layer_sizes=hidden, solver="adam", batch_size=batch_size, alpha=0.0,
        random_state=0))


class TorchContender:
    """The same network in PyTorch (CPU), with the usual hand-written loop.

    Parameters
    ----------
    hidden : tuple of int
        Hidden layer widths.
    batch_size : int
        Mini-batch size.
    fused : bool
        Adam's fused CPU kernel instead of the default implementation.
    """

    def __init__(self, hidden: tuple[int, ...], batch_size: int, fused: bool = False) -> None:
        self.hidden = hidden
        self.batch_size = batch_size
        self.fused = fused
        self.name = "torch (fused Adam)" if fused else "torch"

    def start(self, X: np.ndarray, y: np.ndarray) -> None:
        """Build the model and train its first (untimed) epoch.

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_features)
        y : ndarray of shape (n_samples,)
        """
        import torch

        torch.manual_seed(0)
        dtype = torch.float32 if X.dtype == np.float32 else torch.float64
        self.X = torch.from_numpy(X)  # shares memory: no copy of X
        self.y = torch.from_numpy(y.astype(np.int64))
        units = [X.shape[1], *self.hidden, int(y.max()) + 1]
        layers: list[Any] = []
        for fan_in, fan_out in zip(units[:-1], units[1:]):
            layers += [torch.nn.Linear(fan_in, fan_out), torch.nn.ReLU()]
        self.model = torch.nn.Sequential(*layers[:-1]).to(dtype)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=1e-3,
                                          fused=True if self.fused else None)
        self.generator = torch.Generator().manual_seed(0)
        self.epoch()

    def epoch(self) -> None:
        """Train exactly one more epoch (shuffled mini-batches, loss summed)."""
        import torch
        import torch.nn.functional as F

        n = self.X.shape[0]
        order = torch.randperm(n, generator=self.generator)
        total = 0.0
        for start in range(0, n, self.batch_size):
            idx = order[start:start + self.batch_size]
            self.optimizer.zero_grad(set_to_none=True)
            loss = F.cross_entropy(self.model(self.X.index_select(0, idx)), self.y[idx])
            loss.backward()
            self.optimizer.step()
            total += loss.item() * len(idx)
        self.loss = total / n


class MatmulFloor:
    """Only the matrix products of the same training, in numpy.

    Per mini-batch: the forward products, the weight-gradient products and
    the delta products, into preallocated buffers.  The time of one epoch of
    these is the floor a numpy MLP cannot go under with this BLAS.

    Parameters
    ----------
    hidden : tuple of int
        Hidden layer widths.
    batch_size : int
        Mini-batch size.
    """

    name = "numpy matmuls only"

    def __init__(self, hidden: tuple[int, ...], batch_size: int) -> None:
        self.hidden = hidden
        self.batch_size = batch_size

    def start(self, X: np.ndarray, y: np.ndarray) -> None:
        """Allocate weights and buffers at the workload's shapes, run one epoch.

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_features)
        y : ndarray of shape (n_samples,)
        """
        rng = np.random.default_rng(0)
        units = [X.shape[1], *self.hidden, int(y.max()) + 1]
        self.n_samples = X.shape[0]
        b = min(self.batch_size, self.n_samples)
        self.x = np.ascontiguousarray(X[:b])
        self.weights = [(rng.standard_normal((i, o)) / np.sqrt(i)).astype(X.dtype)
                        for i, o in zip(units[:-1], units[1:])]
        self.grads = [np.empty_like(w) for w in self.weights]
        self.acts = [np.empty((b, o), dtype=X.dtype) for o in units[1:]]
        # ordinary values: uninitialised memory may hold denormals, which are slow
        self.deltas = [rng.standard_normal((b, o)).astype(X.dtype) for o in units[1:]]
        self.epoch()

    def epoch(self) -> None:
        """The products of one epoch's mini-batches."""
        last = len(self.weights) - 1
        for start in range(0, self.n_samples, self.batch_size):
            n = min(self.batch_size, self.n_samples - start)
            a = self.x[:n]
            for i, w in enumerate(self.weights):
                np.matmul(a, w, out=self.acts[i][:n])
                a = self.acts[i][:n]
            for i in range(last, -1, -1):
                a_prev = self.x[:n] if i == 0 else self.acts[i - 1][:n]
                np.matmul(a_prev.T, self.deltas[i][:n], out=self.grads[i])
                if i:
                    np.matmul(self.deltas[i][:n], self.weights[i].T,
                              out=self.deltas[i - 1][:n])


class GemmProbe:
    """One square product per :meth:`epoch`, timed among the contenders.

    Measuring the GEMM peak inside every round, next to the epochs, makes the
    "% of GEMM peak" of a round immune to what else the machine was doing.

    Parameters
    ----------
    n : int
        Matrix size.
    """

    def __init__(self, n: int) -> None:
        self.n = n
        self.name = f"numpy GEMM {n}x{n} (peak probe)"
        self.flops = 2.0 * n ** 3

    def start(self, X: np.ndarray, y: np.ndarray) -> None:
        """Allocate the operands in ``X``'s dtype and run one product.

        Parameters
        ----------
        X : ndarray
            Only its dtype is used.
        y : ndarray
            Unused.
        """
        rng = np.random.default_rng(0)
        self.a = rng.standard_normal((self.n, self.n)).astype(X.dtype)
        self.b = rng.standard_normal((self.n, self.n)).astype(X.dtype)
        self.out = np.empty_like(self.a)
        self.epoch()

    def epoch(self) -> None:
        """One product."""
        np.matmul(self.a, self.b, out=self.out)


def training_contenders(hidden: tuple[int, ...], batch_size: int,
                        with_torch: bool) -> list[Any]:
    """Every contender of the epoch comparison, PyTorch only when asked and installed.

    Parameters
    ----------
    hidden : tuple of int
        Hidden layer widths.
    batch_size : int
        Mini-batch size.
    with_torch : bool
        Include the two PyTorch contenders (default and fused Adam).

    Returns
    -------
    list
        Contenders, ensemblekit first.
    """
    out: list[Any] = [ensemblekit_contender(hidden, batch_size),
                      sklearn_contender(hidden, batch_size)]
    if with_torch:
        out += [TorchContender(hidden, batch_size), TorchContender(hidden, batch_size, True)]
    out.append(MatmulFloor(hidden, batch_size))
    return out

