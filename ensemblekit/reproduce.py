"""Chapter 6 of *Deep Learning from Scratch*, reproduced on scikit-learn's digits.

Each experiment of the chapter is a function that trains the networks, returns
every number it measured (and plots) as a JSON-ready dict, and, given an
output folder, writes its figures there as PNG files:

============  ==============================================================
optimizers    SGD, Momentum, Nesterov, AdaGrad, RMSprop, Adam loss curves
init          std 0.01 vs Xavier vs He: activation histograms, loss curves
batch-norm    with vs without batch norm over a grid of initial weight scales
overfitting   the first 300 samples, 6 x 100 ReLU: train vs test per epoch
weight-decay  a sweep of the book's lambda (``1/2 lambda ||W||^2`` per batch)
dropout       a sweep of the book's (non-inverted) dropout ratio
ensemble      test accuracy of the average of 1 ... N independently seeded nets
search        the book's 100-trial random search vs coarse-to-fine search
============  ==============================================================

:func:`run` runs one experiment or all of them and writes ``results.json``
(every plotted number, keyed by experiment) and ``summary.txt`` (the headline
tables in Markdown).  MNIST cannot be downloaded here: the data is the 1,797
bundled 8 x 8 digits scaled to ``[0, 1]``; the book's overfitting setting
trains on the first 300 and tests on the other 1,497.  Full runs repeat every
measurement over several seeds and report mean and standard deviation;
``quick=True`` shrinks epochs, grids and budgets so each experiment runs in
seconds (for CI), which keeps the qualitative picture, not the exact numbers.
"""

from __future__ import annotations

import json
import os
import re
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import numpy as np
from scipy.stats import loguniform
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import RandomizedSearchCV, ShuffleSplit
from threadpoolctl import threadpool_limits

from ._figures import figure
from .config import model_from_config
from .default_plugins.dropout import Dropout
from .default_plugins.weight_decay import WeightDecay
from .ensemble import EnsembleClassifier
from .exceptions import DivergenceWarning, TrainingDiverged
from .hookspecs import hookimpl
from .io import atomic_write
from .mlp import MLPClassifier
from .plugins import Plugin, get_registry
from .search import CoarseToFineSearchCV, draw_rounds

__all__ = [
    "EXPERIMENTS",
    "batch_norm",
    "dropout",
    "ensemble",
    "init",
    "jsonable",
    "optimizers",
    "overfitting",
    "redraw",
    "run",
    "search",
    "summary_markdown",
    "weight_decay",
]

#: The book's overfitting setting: train on the first 300 samples, test on the rest.
N_TRAIN = 300

#: The chapter's network and optimiser: 6 x 100 ReLU, He init, plain SGD (lr 0.01),
#: mini-batches of 100, no L2 term besides the one an experiment adds.
BOOK_NET: dict[str, Any] = {
    "hidden_layer_sizes": (100,) * 6,
    "activation": "relu",
    "weight_init": "he",
    "solver": "sgd",
    "momentum": 0.0,
    "learning_rate_init": 0.01,
    "batch_size": 100,
    "alpha": 0.0,
}

#: The book's optimiser settings (``common/optimizer.py`` defaults, ch. 6.1.8).
OPTIMIZERS: dict[str, dict[str, Any]] = {
    "SGD": {"solver": "sgd", "momentum": 0.0, "learning_rate_init": 0.01},
    "Momentum": {"solver": "sgd", "momentum": 0.9, "nesterovs_momentum": False,
                 "learning_rate_init": 0.01},
    "Nesterov": {"solver": "sgd", "momentum": 0.9, "nesterovs_momentum": True,
                 "learning_rate_init": 0.01},
    "AdaGrad": {"solver": "adagrad", "learning_rate_init": 0.01},
    "RMSprop": {"solver": "rmsprop", "learning_rate_init": 0.01, "beta_2": 0.99},
    "Adam": {"solver": "adam", "learning_rate_init": 0.001},
}

_INITS: dict[str, str | float] = {"std=0.01": 0.01, "Xavier": "xavier", "He": "he"}


# --------------------------------------------------------------------------
# shared helpers
# --------------------------------------------------------------------------
def _digits() -> tuple[np.ndarray, np.ndarray]:
    """The bundled digits, scaled to [0, 1], in float32."""
    X, y = load_digits(return_X_y=True)
    return (X / 16.0).astype(np.float32), y


def _seeds(seeds: int | None, quick: bool) -> list[int]:
    n = (1 if quick else 3) if seeds is None else seeds
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"seeds must be a positive integer, got {seeds!r}.")
    return list(range(int(n)))


def _net(random_state: Any, epochs: int | None = None, **params: Any) -> MLPClassifier:
    """The book's network with ``params`` changed; ``epochs`` full epochs when fitted."""
    settings = {**BOOK_NET, **params}
    if epochs is not None:  # run every epoch: no early end on a flat loss
        settings.update(max_iter=epochs, tol=0.0, n_iter_no_change=epochs)
    return MLPClassifier(random_state=random_state, **settings)


def _fit(clf: MLPClassifier, X: np.ndarray, y: np.ndarray) -> MLPClassifier:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return clf.fit(X, y)


def _curves(clf: MLPClassifier, X: np.ndarray, y: np.ndarray, epochs: int,
            X_test: np.ndarray | None = None,
            y_test: np.ndarray | None = None) -> dict[str, Any]:
    """Train one epoch at a time (``partial_fit``), scoring after every epoch.

    ``clf.random_state`` should be a Generator, so that shuffling and dropout
    masks go on drawing from one stream across epochs.  A run whose loss is
    non-finite from the first epoch on has no scores (NaN); a later
    divergence keeps the last finite weights (``on_divergence="stop"``) and is
    reported in ``"diverged"``.
    """
    train = np.full(epochs, np.nan)
    test = np.full(epochs, np.nan)
    classes = np.unique(y)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DivergenceWarning)
        try:
            for epoch in range(epochs):
                clf.partial_fit(X, y, classes=classes)
                train[epoch] = clf.score(X, y)
                if X_test is not None:
                    test[epoch] = clf.score(X_test, y_test)
            diverged = False
        except TrainingDiverged:
            diverged = True
    diverged = diverged or any(issubclass(w.category, DivergenceWarning) for w in caught)
    return {"train": train, "test": test, "diverged": diverged}


def _stats(values: Any) -> dict[str, Any]:
    """Mean and std over the first axis (the seeds), ignoring NaN (diverged runs)."""
    a = np.asarray(values, dtype=float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns stay NaN
        return {"mean": np.nanmean(a, axis=0), "std": np.nanstd(a, axis=0)}


def jsonable(value: Any) -> Any:
    """Plain Python for ``json``: arrays to lists, floats to 6 digits, NaN to ``None``.

    Parameters
    ----------
    value : object
        Nested dicts, lists and tuples of numbers, arrays and numpy scalars.

    Returns
    -------
    object
        The same structure in ``json``-ready types (dict keys as strings).
    """
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return jsonable(value.tolist())
    if isinstance(value, np.generic):
        return jsonable(value.item())
    if isinstance(value, float):  # 6 significant digits: enough for every plot
        return float(f"{value:.6g}") if np.isfinite(value) else None
    return value


def _save(fig: Any, out: Path, name: str) -> str:
    fig.savefig(out / f"{name}.png", dpi=110)
    return f"{name}.png"


def _band(ax: Any, x: Any, stats: dict, label: str, **style: Any) -> None:
    """A mean line with a +- one std band."""
    # float: a JSON null (a diverged run's NaN) is NaN again
    mean, std = (np.asarray(stats[k], dtype=float) for k in ("mean", "std"))
    (line,) = ax.plot(x, mean, label=label, **style)
    ax.fill_between(x, mean - std, mean + std, color=line.get_color(), alpha=0.2,
                    linewidth=0)


def _final(curves: list[dict], key: str) -> np.ndarray:
    """The last epoch's score of each seed."""
    return np.asarray([c[key][-1] for c in curves], dtype=float)


# --------------------------------------------------------------------------
# the experiments
# --------------------------------------------------------------------------
def optimizers(out: str | Path | None = None, *, seeds: int | None = None,
               quick: bool = False) -> dict[str, Any]:
    """Training loss per epoch of the book's six optimisers (ch. 6.1).

    A 4 x 100 ReLU network with He initialisation, mini-batches of 100, on all
    1,797 digits; each optimiser with the book's learning rate.

    Parameters
    ----------
    out : str or Path, default=None
        Folder for ``optimizers.png``; no figure when None.
    seeds : int, default=None
        Number of seeds (0, 1, ...); default 3, or 1 with ``quick``.
    quick : bool, default=False
        10 epochs instead of 100.

    Returns
    -------
    results : dict
        ``loss[name]`` mean and std per epoch, ``final_loss[name]``, settings.
    """
    X, y = _digits()
    epochs = 10 if quick else 100
    loss, final = {}, {}
    for name, params in OPTIMIZERS.items():
        curves = []
        for seed in _seeds(seeds, quick):
            clf = _fit(_net(seed, epochs, hidden_layer_sizes=(100,) * 4, **params), X, y)
            curves.append(clf.loss_curve_)
        loss[name] = _stats(curves)
        final[name] = _stats(np.asarray(curves)[:, -1])
    results = {
        "settings": {"data": "digits, all 1797 samples", "hidden_layer_sizes": [100] * 4,
                     "weight_init": "he", "batch_size": 100, "epochs": epochs,
                     "seeds": len(_seeds(seeds, quick)), "optimizers": OPTIMIZERS},
        "epochs": list(range(1, epochs + 1)),
        "loss": loss,
        "final_loss": final,
        "summary": [{"optimizer": n, "final training loss": final[n]} for n in OPTIMIZERS],
    }
    if out is not None:
        results["figures"] = _draw_optimizers(jsonable(results), Path(out))
    return results


class _ActivationProbe(Plugin):
    """Keeps a copy of each hidden layer's output on the first training forward pass.

    With one full batch, that pass sees the whole data at initialisation,
    before any update.
    """

    name = "activation_probe"
    #: hidden layer index -> its output on the first pass (set by the hook)
    activations_: dict[int, np.ndarray]

    @hookimpl
    def ensemblekit_forward_hidden(self, layer: int, activation: np.ndarray) -> None:
        """Copy ``activation`` the first time ``layer`` is seen."""
        seen = self.__dict__.setdefault("activations_", {})
        if layer not in seen:
            seen[layer] = activation.copy()


def init(out: str | Path | None = None, *, seeds: int | None = None,
         quick: bool = False) -> dict[str, Any]:
    """Weight initialisation: std 0.01 vs Xavier vs He with ReLU units (ch. 6.2).

    Activation histograms of a 5 x 100 ReLU network at initialisation (all
    digits in one batch, seed 0), and training-loss curves of a 4 x 100 ReLU
    network with plain SGD (lr 0.01, batches of 100) on all digits.

    Parameters
    ----------
    out : str or Path, default=None
        Folder for ``init_activations.png`` and ``init_loss.png``.
    seeds : int, default=None
        Seeds of the loss curves; default 3, or 1 with ``quick``.
    quick : bool, default=False
        10 epochs instead of 100.

    Returns
    -------
    results : dict
        Per initialisation: per-layer activation std, share of zeros and
        histogram counts; loss per epoch (mean, std) and final loss.
    """
    X, y = _digits()
    epochs = 10 if quick else 100
    edges = np.linspace(0.0, 2.0, 31)
    activations: dict[str, dict[str, list]] = {}
    loss, final = {}, {}
    for name, weight_init in _INITS.items():
        probe = _net(0, 1, hidden_layer_sizes=(100,) * 5, weight_init=weight_init,
                     batch_size=len(X), plugins=[_ActivationProbe()])
        fitted_probe = dict(_fit(probe, X, y).plugins_)["activation_probe"]
        layers = cast(_ActivationProbe, fitted_probe).activations_
        activations[name] = {
            "std": [float(layers[i].std()) for i in sorted(layers)],
            "zero_fraction": [float((layers[i] == 0).mean()) for i in sorted(layers)],
            "histogram": [np.histogram(layers[i][layers[i] > 0], bins=edges)[0]
                          for i in sorted(layers)],
        }
        curves = [_fit(_net(seed, epochs, hidden_layer_sizes=(100,) * 4,
                            weight_init=weight_init), X, y).loss_curve_
                  for seed in _seeds(seeds, quick)]
        loss[name] = _stats(curves)
        final[name] = _stats(np.asarray(curves)[:, -1])
    results = {
        "settings": {"data": "digits, all 1797 samples", "activation": "relu",
                     "histogram_network": [100] * 5, "training_network": [100] * 4,
                     "solver": "sgd", "learning_rate_init": 0.01, "batch_size": 100,
                     "epochs": epochs, "seeds": len(_seeds(seeds, quick)),
                     "inits": {k: v if isinstance(v, str) else f"normal, std {v}"
                               for k, v in _INITS.items()}},
        "histogram_edges": edges,
        "activations": activations,
        "epochs": list(range(1, epochs + 1)),
        "loss": loss,
        "final_loss": final,
        "summary": [{"initialisation": n, "activation std, layer 1": activations[n]["std"][0],
                     "activation std, layer 5": activations[n]["std"][-1],
                     "final training loss": final[n]} for n in _INITS],
    }
    if out is not None:
        results["figures"] = _draw_init(jsonable(results), Path(out))
    return results


def batch_norm(out: str | Path | None = None, *, seeds: int | None = None,
               quick: bool = False) -> dict[str, Any]:
    """Batch normalisation over a grid of initial weight scales (ch. 6.3).

    A 5 x 100 ReLU network, plain SGD (lr 0.01, batches of 100) on the first
    1,000 digits, weights drawn from a normal with each std of the grid, with
    and without batch norm; training accuracy after every epoch.

    Parameters
    ----------
    out : str or Path, default=None
        Folder for ``batch_norm.png`` (one panel per scale) and
        ``batch_norm_final.png`` (final accuracy against the scale).
    seeds : int, default=None
        Default 3, or 1 with ``quick``.
    quick : bool, default=False
        4 scales and 10 epochs instead of the book's 16 scales and 20 epochs.

    Returns
    -------
    results : dict
        Per scale and variant, training accuracy per epoch and at the end; the
        scales at which only the batch-norm network trains.
    """
    X, y = _digits()
    X, y = X[:1000], y[:1000]
    epochs = 10 if quick else 20
    scales = [1.0, 0.1, 0.01, 0.001] if quick else np.logspace(0, -4, 16).tolist()
    runs: dict[str, list[dict]] = {"plain": [], "batch_norm": []}
    for scale in scales:
        for variant, flag in (("plain", False), ("batch_norm", True)):
            curves = [_curves(_net(np.random.default_rng(seed), hidden_layer_sizes=(100,) * 5,
                                   weight_init=scale, batch_norm=flag), X, y, epochs)
                      for seed in _seeds(seeds, quick)]
            runs[variant].append({
                "train_accuracy": _stats([c["train"] for c in curves]),
                "final_train_accuracy": _stats(_final(curves, "train")),
                "diverged_seeds": sum(c["diverged"] for c in curves),
            })
    finals = {v: np.asarray([r["final_train_accuracy"]["mean"] for r in runs[v]])
              for v in runs}
    only_bn = [s for s, p, b in zip(scales, finals["plain"], finals["batch_norm"])
               if b >= 0.9 and not p >= 0.5]  # NaN (diverged) plain runs count as failed
    results = {
        "settings": {"data": "digits, first 1000 samples", "hidden_layer_sizes": [100] * 5,
                     "solver": "sgd", "learning_rate_init": 0.01, "batch_size": 100,
                     "epochs": epochs, "seeds": len(_seeds(seeds, quick))},
        "scales": scales,
        "epochs": list(range(1, epochs + 1)),
        **runs,
        "scales_only_batch_norm_trains": only_bn,
        "summary": [{"init std": s, "final train accuracy, plain": p["final_train_accuracy"],
                     "final train accuracy, batch norm": b["final_train_accuracy"]}
                    for s, p, b in zip(scales, runs["plain"], runs["batch_norm"])],
    }
    if out is not None:
        results["figures"] = _draw_batch_norm(jsonable(results), Path(out))
    return results


def _regularisation_sweep(values: list[float], make: Callable[[float], dict],
                          epochs: int, seeds: list[int]) -> list[dict[str, Any]]:
    """Train the book's network on the first 300 digits for each strength."""
    X, y = _digits()
    X_train, y_train, X_test, y_test = X[:N_TRAIN], y[:N_TRAIN], X[N_TRAIN:], y[N_TRAIN:]
    rows = []
    for value in values:
        curves = [_curves(_net(np.random.default_rng(seed), **make(value)), X_train, y_train,
                          epochs, X_test, y_test) for seed in seeds]
        train, test = _final(curves, "train"), _final(curves, "test")
        rows.append({
            "value": value,
            "train_accuracy": _stats([c["train"] for c in curves]),
            "test_accuracy": _stats([c["test"] for c in curves]),
            "final_train_accuracy": _stats(train),
            "final_test_accuracy": _stats(test),
            "final_gap": _stats(train - test),
            "per_seed": {"train": train, "test": test},
        })
    return rows


#: A sweep value "helps" when, against no regularisation on the same seeds, it raises
#: mean test accuracy and shrinks the mean train/test gap by at least this much each
#: (0.5 points: 7 of the 1,497 test digits).
MIN_EFFECT = 0.005


def _sweep_results(rows: list[dict], label: str, book_value: float,
                   settings: dict) -> dict[str, Any]:
    """Results of a regularisation sweep, with where it helps over no regularisation."""
    base = rows[0]["per_seed"]
    base_gap = base["train"] - base["test"]
    for row in rows:  # paired with the unregularised run of the same seed
        seeds = row["per_seed"]
        row["test_change"] = _stats(seeds["test"] - base["test"])
        row["gap_change"] = _stats(seeds["train"] - seeds["test"] - base_gap)
    helps = [r["value"] for r in rows[1:] if r["test_change"]["mean"] >= MIN_EFFECT
             and r["gap_change"]["mean"] <= -MIN_EFFECT]
    best = max(rows, key=lambda r: r["final_test_accuracy"]["mean"])
    return {
        "settings": settings,
        "epochs": list(range(1, settings["epochs"] + 1)),
        "sweep": rows,
        "book_value": book_value,
        "values_that_shrink_gap_and_raise_test": helps,
        "min_effect": MIN_EFFECT,
        "best_value_by_test": best["value"],
        "summary": [{label: r["value"], "train accuracy": r["final_train_accuracy"],
                     "test accuracy": r["final_test_accuracy"], "gap": r["final_gap"],
                     "test change": r["test_change"], "gap change": r["gap_change"]}
                    for r in rows],
    }


def _plot_sweep(results: dict, out: Path, name: str, label: str) -> list[str]:
    rows = {r["value"]: r for r in results["sweep"]}
    fig, axes = figure(1, 2, size=(11, 3.8))
    ax = axes[0, 0]
    for value, style in ((0.0, "--"), (results["book_value"], "-")):
        _band(ax, results["epochs"], rows[value]["train_accuracy"],
              f"train, {label} {value:g}", linestyle=style, color="C0")
        _band(ax, results["epochs"], rows[value]["test_accuracy"],
              f"test, {label} {value:g}", linestyle=style, color="C1")
    ax.set(xlabel="epoch", ylabel="accuracy", ylim=(0, 1.02),
           title=f"first {N_TRAIN} digits, 6 x 100 ReLU")
    ax.legend(fontsize=8)
    ax = axes[0, 1]
    x = np.arange(len(rows))
    for key, text in (("final_train_accuracy", "train"), ("final_test_accuracy", "test"),
                      ("final_gap", "train - test gap")):
        ax.errorbar(x, [r[key]["mean"] for r in rows.values()],
                    yerr=[r[key]["std"] for r in rows.values()], marker="o", capsize=3,
                    label=text)
    ax.set_xticks(x, [f"{v:g}" for v in rows])
    ax.set(xlabel=label, ylabel=f"after {results['settings']['epochs']} epochs",
           title=f"sweep of {label}")
    ax.legend(fontsize=8)
    return [_save(fig, out, name)]


def _sweep_experiment(out: str | Path | None, seeds: int | None, quick: bool, *, name: str,
                      label: str, book_value: float, values: list[float], epochs: int,
                      make: Callable[[float], dict], note: dict[str, str]) -> dict[str, Any]:
    """Run one regularisation sweep, summarise it and draw ``<name>.png``."""
    rows = _regularisation_sweep(values, make, epochs, _seeds(seeds, quick))
    results = _sweep_results(rows, label, book_value, {
        "data": f"digits, first {N_TRAIN} train / {1797 - N_TRAIN} test", **BOOK_NET,
        **note, "epochs": epochs, "seeds": len(_seeds(seeds, quick))})
    if out is not None:
        results["figures"] = _plot_sweep(results, Path(out), name, label)
    return results


def overfitting(out: str | Path | None = None, *, seeds: int | None = None,
                quick: bool = False) -> dict[str, Any]:
    """A big network on little data overfits (ch. 6.4.1).

    The book's setting: the first 300 digits, a 6 x 100 ReLU network with He
    initialisation, plain SGD (lr 0.01, batches of 100); train and test
    (the other 1,497 digits) accuracy after every epoch.

    Parameters
    ----------
    out : str or Path, default=None
        Folder for ``overfitting.png``.
    seeds : int, default=None
        Default 3, or 1 with ``quick``.
    quick : bool, default=False
        50 epochs instead of 200.

    Returns
    -------
    results : dict
        Train and test accuracy per epoch (mean, std), at the end, and the gap.
    """
    epochs = 50 if quick else 200
    (row,) = _regularisation_sweep([0.0], lambda _: {}, epochs, _seeds(seeds, quick))
    results = {
        "settings": {"data": f"digits, first {N_TRAIN} train / {1797 - N_TRAIN} test",
                     **BOOK_NET, "epochs": epochs, "seeds": len(_seeds(seeds, quick))},
        "epochs": list(range(1, epochs + 1)),
        **{k: v for k, v in row.items() if k != "value"},
        "summary": [{"setting": "6 x 100 ReLU, no regularisation",
                     "train accuracy": row["final_train_accuracy"],
                     "test accuracy": row["final_test_accuracy"], "gap": row["final_gap"]}],
    }
    if out is not None:
        results["figures"] = _draw_overfitting(jsonable(results), Path(out))
    return results


def weight_decay(out: str | Path | None = None, *, seeds: int | None = None,
                 quick: bool = False) -> dict[str, Any]:
    """Weight decay against overfitting: a sweep of the book's lambda (ch. 6.4.2).

    The overfitting setting (first 300 digits, 6 x 100 ReLU, SGD lr 0.01,
    batches of 100) with :class:`~ensemblekit.WeightDecay` in the book's
    convention, ``1/2 lambda ||W||^2`` per batch (scikit-learn's ``alpha`` is
    ``lambda * batch_size``).  The book's lambda is 0.1.

    Parameters
    ----------
    out : str or Path, default=None
        Folder for ``weight_decay.png``.
    seeds : int, default=None
        Default 3, or 1 with ``quick``.
    quick : bool, default=False
        lambda in {0, 0.01, 0.1} for 50 epochs instead of six values for 200.

    Returns
    -------
    results : dict
        Per lambda, train/test accuracy per epoch and at the end, the gap, and
        the changes of test accuracy and gap against lambda = 0 on the same
        seeds; the lambdas that raise test accuracy *and* shrink the gap by at
        least :data:`MIN_EFFECT` each.
    """
    return _sweep_experiment(
        out, seeds, quick, name="weight_decay", label="lambda", book_value=0.1,
        values=[0.0, 0.01, 0.1] if quick else [0.0, 0.001, 0.003, 0.01, 0.03, 0.1],
        epochs=50 if quick else 200,
        make=lambda v: {"plugins": [WeightDecay(alpha=v, convention="book")]},
        note={"convention": "book: 1/2 lambda ||W||^2 per batch; sklearn alpha = "
                            "lambda * 100"})


def dropout(out: str | Path | None = None, *, seeds: int | None = None,
            quick: bool = False) -> dict[str, Any]:
    """Dropout against overfitting: a sweep of the dropout ratio (ch. 6.4.3).

    The overfitting setting with :class:`~ensemblekit.Dropout` in the book's
    non-inverted mode (units dropped while training, outputs scaled by the
    keep ratio at inference) after every hidden layer.  The book's ratio is
    0.2, trained for 301 epochs.

    Parameters
    ----------
    out : str or Path, default=None
        Folder for ``dropout.png``.
    seeds : int, default=None
        Default 3, or 1 with ``quick``.
    quick : bool, default=False
        Ratios {0, 0.1, 0.2} for 50 epochs instead of six ratios for 300.

    Returns
    -------
    results : dict
        As :func:`weight_decay`, per dropout ratio.
    """
    return _sweep_experiment(
        out, seeds, quick, name="dropout", label="ratio", book_value=0.2,
        values=[0.0, 0.1, 0.2] if quick else [0.0, 0.05, 0.1, 0.15, 0.2, 0.3],
        epochs=50 if quick else 300,
        make=lambda v: {"plugins": [Dropout(rate=v, mode="book")]},
        note={"mode": "book (non-inverted): scale by 1 - ratio at inference"})


def ensemble(out: str | Path | None = None, *, seeds: int | None = None,
             quick: bool = False) -> dict[str, Any]:
    """Averaging 1 ... N independently seeded networks (ch. 6.4.3, ensemble learning).

    An :class:`~ensemblekit.EnsembleClassifier` trains N copies of the
    overfitting network (first 300 digits, 6 x 100 ReLU, SGD) that differ only
    in their seed, drawn from a :class:`numpy.random.SeedSequence` seeded by
    the repetition's seed; the ensemble of its first k members averages their
    ``predict_proba`` on the 1,497 test digits (the ``"mean"`` combiner).

    Parameters
    ----------
    out : str or Path, default=None
        Folder for ``ensemble.png``.
    seeds : int, default=None
        Repetitions; default 3, or 1 with ``quick``.
    quick : bool, default=False
        5 members trained 50 epochs instead of 10 members trained 200.

    Returns
    -------
    results : dict
        Test accuracy of the first-k average for k = 1 ... N, each member's
        own test accuracy, and the gain of the full ensemble over its members.
    """
    X, y = _digits()
    X_train, y_train, X_test, y_test = X[:N_TRAIN], y[:N_TRAIN], X[N_TRAIN:], y[N_TRAIN:]
    n_members, epochs = (5, 50) if quick else (10, 200)
    averaged, members = [], []
    for seed in _seeds(seeds, quick):
        fitted = _fit(EnsembleClassifier(_net(None, epochs), n_estimators=n_members,
                                         random_state=seed), X_train, y_train)
        probas = [m.predict_proba(X_test) for m in fitted.estimators_]
        labels = [fitted.classes_[p.argmax(axis=1)] for p in probas]
        members.append([float(np.mean(p == y_test)) for p in labels])
        running = np.cumsum(probas, axis=0)  # the first k members' mean, up to a factor
        averaged.append([float(np.mean(fitted.classes_[r.argmax(axis=1)] == y_test))
                         for r in running])
    averaged_a, members_a = np.asarray(averaged), np.asarray(members)
    recipe = _best_recipe(_seeds(seeds, quick), quick)
    results: dict[str, Any] = {
        "settings": {"data": f"digits, first {N_TRAIN} train / {1797 - N_TRAIN} test",
                     **BOOK_NET, "members": n_members, "epochs": epochs,
                     "seeds": len(_seeds(seeds, quick)),
                     "combination": "EnsembleClassifier members (SeedSequence seeds), "
                                    "mean of the first k members' predict_proba"},
        "n_members": list(range(1, n_members + 1)),
        "ensemble_test_accuracy": _stats(averaged_a),
        "member_test_accuracy": _stats(members_a.mean(axis=1)),
        "member_test_accuracy_per_seed": members_a,
        "gain_over_members": _stats(averaged_a[:, -1] - members_a.mean(axis=1)),
        "summary": [*({"networks averaged": k, "test accuracy": {
            "mean": averaged_a[:, k - 1].mean(), "std": averaged_a[:, k - 1].std()}}
            for k in range(1, n_members + 1)),
            {"networks averaged": f"recipe {recipe['file']}",
             "test accuracy": recipe.get("test_accuracy", recipe.get("skipped"))}],
        "best_recipe": recipe,
    }
    if out is not None:
        results["figures"] = _draw_ensemble(jsonable(results), Path(out))
    return results


def _best_recipe(seeds: list[int], quick: bool) -> dict[str, Any]:
    """Train the shipped small-data recipe (``digits300.toml``) and score it on the test digits.

    The recipe is built from its file by :func:`ensemblekit.config.model_from_config`,
    which the ``train`` command's ``--config`` shares, so this is what
    ``ensemblekit train TRAIN.csv --config examples/digits300.toml`` trains;
    its preprocessing sees the raw pixels (0-16), as the CLI would.  With
    ``quick`` it trains at most 30 epochs (a smoke run, not the recipe's number).
    When the recipe names plugins that are not installed (it uses the example
    distributions of ``plugins/``), it is not trained and ``"skipped"`` says
    why, so the rest of the experiment still runs.
    """
    from .recipes import RECIPES

    config = RECIPES["digits300"]
    text = config.read_text()
    settings = [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
    # the recipe's [plugin.NAME] tables may name plugins from other distributions
    needed = re.findall(r"^\[plugin\.([\w-]+)\]", text, flags=re.MULTILINE)
    missing = [name for name in needed if name not in get_registry().plugins]
    if missing:
        return {"file": "examples/digits300.toml", "settings": settings,
                "skipped": f"not trained: it needs the plugin(s) {', '.join(missing)}, not "
                           "installed (pip install ./plugins/*/ in a checkout of "
                           "ensemblekit)"}
    digits = load_digits(as_frame=True)
    X, y = digits.data, digits.target.to_numpy()
    shortened: dict[str, Any] = {"max_iter": 30} if quick else {}
    scores = []
    for seed in seeds:
        model = model_from_config(config, "classification", list(X.columns),
                                  random_state=seed, **shortened)
        _fit(model, X.iloc[:N_TRAIN], y[:N_TRAIN])
        scores.append(float(np.mean(model.predict(X.iloc[N_TRAIN:]) == y[N_TRAIN:])))
    return {"file": "examples/digits300.toml", "settings": settings,
            "test_accuracy": _stats(scores), "per_seed": scores,
            "shortened": "30 epochs (--quick)" if quick else None}


def search(out: str | Path | None = None, *, seeds: int | None = None,
           quick: bool = False) -> dict[str, Any]:
    """The book's random search vs coarse-to-fine search at the same budget (ch. 6.5).

    The book's setting: the first 500 digits, 20 % of them held out for
    validation, the 6 x 100 ReLU network trained with SGD for 50 epochs per
    trial, learning rate 10^U(-6, -2) and weight-decay lambda 10^U(-8, -4).
    :class:`~sklearn.model_selection.RandomizedSearchCV` samples 100 trials
    from those distributions; :class:`~ensemblekit.CoarseToFineSearchCV`
    spends the same 100 in 4 rounds of 25, narrowing to the best 5.  Both
    refit their best setting on the 500 samples and are tested on the other
    1,297.

    Parameters
    ----------
    out : str or Path, default=None
        Folder for ``search.png`` (trials of both searches, seed 0) and
        ``search_rounds.png`` (the coarse-to-fine rounds).
    seeds : int, default=None
        Repetitions (seed of the split, the sampling and the networks);
        default 3, or 1 with ``quick``.
    quick : bool, default=False
        15 trials (3 rounds of 5, best 2) of 10 epochs.

    Returns
    -------
    results : dict
        Per method: best validation accuracy, test accuracy and best
        parameters per seed (mean and std), and every trial of seed 0.
    """
    X, y = _digits()
    X_search, y_search, X_test, y_test = X[:500], y[:500], X[500:], y[500:]
    epochs, rounds, per_round, top_k = (10, 3, 5, 2) if quick else (50, 4, 25, 5)
    budget = rounds * per_round
    ranges: dict[str, tuple | list] = {"learning_rate_init": (1e-6, 1e-2, "log"),
                                       "plugins__weight_decay__alpha": (1e-8, 1e-4, "log")}
    methods: dict[str, dict[str, list]] = {
        m: {"validation": [], "test": [], "params": []} for m in ("random", "coarse_to_fine")}
    trials: dict[str, dict] = {}
    for seed in _seeds(seeds, quick):
        net = _net(seed, epochs, plugins=[WeightDecay(alpha=0.0, convention="book")])
        cv = ShuffleSplit(n_splits=1, test_size=0.2, random_state=seed)
        searches = {
            "random": RandomizedSearchCV(
                net, {n: loguniform(lo, hi) for n, (lo, hi, _) in ranges.items()},
                n_iter=budget, cv=cv, random_state=seed),
            "coarse_to_fine": CoarseToFineSearchCV(
                net, ranges, n_rounds=rounds, n_candidates=per_round, top_k=top_k, cv=cv,
                random_state=seed),
        }
        for method, searcher in searches.items():
            _fit(searcher, X_search, y_search)
            methods[method]["validation"].append(searcher.best_score_)
            methods[method]["test"].append(searcher.score(X_test, y_test))
            methods[method]["params"].append({k: float(v)
                                              for k, v in searcher.best_params_.items()})
            if seed == 0:
                res = searcher.cv_results_
                trials[method] = {
                    "learning_rate_init": [p["learning_rate_init"] for p in res["params"]],
                    "weight_decay_lambda": [p["plugins__weight_decay__alpha"]
                                            for p in res["params"]],
                    "validation_accuracy": res["mean_test_score"],
                    **({"round": res["round"], "ranges": searcher.ranges_}
                       if method == "coarse_to_fine" else {}),
                }
    summary = {m: {"best_validation_accuracy": _stats(v["validation"]),
                   "test_accuracy": _stats(v["test"]), "best_params": v["params"]}
               for m, v in methods.items()}
    results: dict[str, Any] = {
        "settings": {"data": "digits, first 500 (400 train / 100 validation), test on the "
                     "other 1297", **BOOK_NET, "epochs_per_trial": epochs,
                     "budget": budget, "coarse_to_fine": {"n_rounds": rounds,
                                                          "n_candidates": per_round,
                                                          "top_k": top_k, "margin": 0.1},
                     "ranges": ranges, "seeds": len(_seeds(seeds, quick))},
        **summary,
        "trials_seed0": trials,
        "summary": [{"search": m, "trials": budget,
                     "best validation accuracy": summary[m]["best_validation_accuracy"],
                     "test accuracy of the refit best": summary[m]["test_accuracy"]}
                    for m in methods],
    }
    if out is not None:
        results["figures"] = _draw_search(jsonable(results), Path(out))
    return results


# --------------------------------------------------------------------------
# the figures, drawn from an experiment's JSON-ready results
# --------------------------------------------------------------------------
def _draw_loss_bands(results: dict, out: Path, name: str, title: str) -> str:
    """``<name>.png``: each curve of ``results["loss"]`` as a band over the seeds."""
    fig, axes = figure()
    for label, stats in results["loss"].items():
        _band(axes[0, 0], results["epochs"], stats, label)
    axes[0, 0].set(xlabel="epoch", ylabel="training loss", yscale="log", title=title)
    axes[0, 0].legend()
    return _save(fig, out, name)


def _draw_optimizers(results: dict, out: Path) -> list[str]:
    return [_draw_loss_bands(results, out, "optimizers", "Optimisers on digits (4 x 100 ReLU)")]


def _draw_init(results: dict, out: Path) -> list[str]:
    activations, edges = results["activations"], results["histogram_edges"]
    layers = len(next(iter(activations.values()))["histogram"])
    fig, axes = figure(len(activations), layers, size=(11, 6))
    for row, name in enumerate(activations):
        for col, counts in enumerate(activations[name]["histogram"]):
            ax = axes[row, col]
            ax.stairs(counts, edges, fill=True)
            ax.set_title(f"{name}, layer {col + 1}", fontsize=8)
            ax.tick_params(labelsize=7)
    fig.suptitle("Positive ReLU activations at initialisation (zeros left out)")
    fig.supxlabel("activation (ReLU output)")
    fig.supylabel("units x samples (count)")
    return [_save(fig, out, "init_activations"),
            _draw_loss_bands(results, out, "init_loss", "Initialisation, 4 x 100 ReLU, SGD")]


def _draw_batch_norm(results: dict, out: Path) -> list[str]:
    scales, runs = results["scales"], {v: results[v] for v in ("plain", "batch_norm")}
    seeds = results["settings"]["seeds"]
    ncols = 4
    nrows = -(-len(scales) // ncols)
    fig, axes = figure(nrows, ncols, size=(11, 2.4 * nrows))
    for i, scale in enumerate(scales):
        ax = axes.flat[i]
        _band(ax, results["epochs"], runs["batch_norm"][i]["train_accuracy"], "batch norm")
        _band(ax, results["epochs"], runs["plain"][i]["train_accuracy"], "plain",
              linestyle="--")
        diverged = runs["plain"][i]["diverged_seeds"]
        note = f"\nplain diverged ({diverged}/{seeds} seeds)" if diverged else ""
        ax.set_title(f"init std {scale:.2g}{note}", fontsize=9,
                     color="C3" if diverged else "black")
        ax.set_ylim(0, 1.02)
        ax.tick_params(labelsize=7)
    for ax in axes.flat[len(scales):]:
        ax.set_visible(False)
    axes.flat[0].legend(fontsize=7)
    fig.supxlabel("epoch")
    fig.supylabel("training accuracy")
    figures = [_save(fig, out, "batch_norm")]
    fig, axes = figure()
    for variant, label in (("batch_norm", "batch norm"), ("plain", "plain")):
        stats = {k: np.asarray([r["final_train_accuracy"][k] for r in runs[variant]],
                               dtype=float) for k in ("mean", "std")}
        axes[0, 0].errorbar(scales, stats["mean"], yerr=stats["std"], marker="o",
                            label=label, capsize=3)
    diverged = [s for s, r in zip(scales, runs["plain"]) if r["diverged_seeds"]]
    if diverged:  # no accuracy to plot there: say so
        axes[0, 0].plot(diverged, [0.02] * len(diverged), "x", color="C1",
                        label="plain diverged")
    axes[0, 0].set(xscale="log", xlabel="initial weight std",
                   ylabel=f"training accuracy after {results['settings']['epochs']} epochs",
                   ylim=(0, 1.02))
    axes[0, 0].legend()
    return [*figures, _save(fig, out, "batch_norm_final")]


def _draw_overfitting(results: dict, out: Path) -> list[str]:
    fig, axes = figure()
    ax = axes[0, 0]
    _band(ax, results["epochs"], results["train_accuracy"], "train")
    _band(ax, results["epochs"], results["test_accuracy"], "test")
    ax.set(xlabel="epoch", ylabel="accuracy", ylim=(0, 1.02),
           title=f"Overfitting: first {N_TRAIN} digits, 6 x 100 ReLU")
    ax.legend()
    return [_save(fig, out, "overfitting")]


def _draw_ensemble(results: dict, out: Path) -> list[str]:
    from matplotlib.ticker import MaxNLocator

    fig, axes = figure()
    ax = axes[0, 0]
    _band(ax, results["n_members"], results["ensemble_test_accuracy"],
          "average of the first k networks", marker="o")
    m = results["member_test_accuracy"]
    ax.axhline(m["mean"], color="C1", linestyle="--", label="single network (mean)")
    ax.axhspan(m["mean"] - m["std"], m["mean"] + m["std"], color="C1", alpha=0.15)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # a count of networks
    ax.set(xlabel="networks averaged", ylabel=f"test accuracy ({1797 - N_TRAIN} digits)",
           title="Ensembles of the overfitting network")
    ax.legend()
    return [_save(fig, out, "ensemble")]


#: Axis labels of the searched parameters (not their nested names).
_SEARCH_LABELS = {"learning_rate_init": "learning rate",
                  "plugins__weight_decay__alpha": "weight decay λ"}


def _draw_search(results: dict, out: Path) -> list[str]:
    trials = results["trials_seed0"]
    budget = results["settings"]["budget"]
    fig, axes = figure(1, 2, size=(11, 4))
    scores = np.concatenate([trials[m]["validation_accuracy"] for m in trials])
    points = None
    for ax, (method, title) in zip(axes[0], (("random", "random search (book)"),
                                             ("coarse_to_fine", "coarse-to-fine"))):
        t = trials[method]
        points = ax.scatter(t["weight_decay_lambda"], t["learning_rate_init"],
                            c=t["validation_accuracy"], cmap="viridis", s=20,
                            vmin=scores.min(), vmax=scores.max())
        ax.set(xscale="log", yscale="log", xlabel=_SEARCH_LABELS["plugins__weight_decay__alpha"],
               ylabel=_SEARCH_LABELS["learning_rate_init"], title=f"{title}: {budget} trials")
    fig.colorbar(points, ax=axes[0, 1], label="validation accuracy")
    figures = [_save(fig, out, "search")]
    shown = trials["coarse_to_fine"]
    settings = [{"learning_rate_init": lr, "plugins__weight_decay__alpha": lam}
                for lr, lam in zip(shown["learning_rate_init"], shown["weight_decay_lambda"])]
    fig, axes = figure(1, 2, size=(10, 3.8))
    draw_rounds(axes[0], list(_SEARCH_LABELS), shown["round"], settings,
                shown["validation_accuracy"], shown["ranges"],
                results["settings"]["coarse_to_fine"]["n_candidates"], labels=_SEARCH_LABELS,
                score_label="validation accuracy")
    return [*figures, _save(fig, out, "search_rounds")]


#: Experiment name -> function, in the chapter's order.
EXPERIMENTS: dict[str, Callable[..., dict[str, Any]]] = {
    "optimizers": optimizers,
    "init": init,
    "batch-norm": batch_norm,
    "overfitting": overfitting,
    "weight-decay": weight_decay,
    "dropout": dropout,
    "ensemble": ensemble,
    "search": search,
}


#: Experiment name -> the function drawing its figures from its JSON-ready results.
_DRAW: dict[str, Callable[[dict, Path], list[str]]] = {
    "optimizers": _draw_optimizers,
    "init": _draw_init,
    "batch-norm": _draw_batch_norm,
    "overfitting": _draw_overfitting,
    "weight-decay": lambda results, out: _plot_sweep(results, out, "weight_decay", "lambda"),
    "dropout": lambda results, out: _plot_sweep(results, out, "dropout", "ratio"),
    "ensemble": _draw_ensemble,
    "search": _draw_search,
}


def redraw(out: str | Path) -> dict[str, list[str]]:
    """Draw the figures of every experiment in ``out/results.json`` again, without training.

    Every plotted number is in ``results.json``, so a change to a figure's
    drawing needs no rerun: this rewrites the PNG files :func:`run` wrote there.

    Parameters
    ----------
    out : str or Path
        A folder :func:`run` wrote into (``docs/chapter6`` for the docs).

    Returns
    -------
    figures : dict
        Experiment name -> the PNG files written.
    """
    folder = Path(out)
    results = json.loads((folder / "results.json").read_text())
    return {name: _DRAW[name](result, folder) for name, result in results.items()}


def _cell(value: Any) -> str:
    if isinstance(value, dict) and "mean" in value:
        if value["mean"] is None or not np.isfinite(value["mean"]):
            return "no finite value (diverged)"
        return f"{value['mean']:.3f} ± {value['std']:.3f}".replace("-0.000 ", "0.000 ")
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def summary_markdown(results: dict[str, dict[str, Any]]) -> str:
    """The headline table of each experiment in ``results``, as Markdown.

    Parameters
    ----------
    results : dict
        Experiment name -> the dict its function returned.

    Returns
    -------
    text : str
        One section per experiment: its settings line and a table.
    """
    parts = []
    for name, result in results.items():
        rows = result.get("summary")
        if not rows:
            continue
        settings = result["settings"]
        parts.append(f"### {name}\n\n{settings['seeds']} seed(s), mean ± std over seeds; "
                     f"data: {settings['data']}.\n")
        header = list(rows[0])
        parts.append("| " + " | ".join(header) + " |")
        parts.append("|" + "---|" * len(header))
        parts.extend("| " + " | ".join(_cell(row[k]) for k in header) + " |" for row in rows)
        parts.append("")
    return "\n".join(parts)


def run(name: str, out: str | Path | None = None, *, seeds: int | None = None,
        quick: bool = False) -> dict[str, dict[str, Any]]:
    """Run one experiment, or ``"all"``, and write its figures and results.

    Parameters
    ----------
    name : str
        A key of :data:`EXPERIMENTS` or ``"all"``.
    out : str or Path, default=None
        Folder for the figures, ``results.json`` and ``summary.txt`` (created
        if needed).  An existing ``results.json`` there keeps the other
        experiments' entries, so experiments can be run one at a time.
        Nothing is written when None.
    seeds : int, default=None
        Seeds per measurement; default 3, or 1 with ``quick``.
    quick : bool, default=False
        The few-seconds version of each experiment.

    Returns
    -------
    results : dict
        Experiment name -> its JSON-ready results, each with ``seconds``: the
        wall and CPU time the experiment took and the machine's core count.
    """
    if name != "all" and name not in EXPERIMENTS:
        raise ValueError(f"unknown experiment {name!r}; valid names are "
                         f"{', '.join([*EXPERIMENTS, 'all'])}.")
    _seeds(seeds, quick)
    names = list(EXPERIMENTS) if name == "all" else [name]
    folder = None if out is None else Path(out)
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
    # the networks are small: one BLAS thread is fastest, and threads competing
    # for busy cores made single fits 50 times slower here
    results = {}
    with threadpool_limits(limits=1, user_api="blas"):
        for n in names:
            wall, cpu = time.perf_counter(), time.process_time()
            result = EXPERIMENTS[n](folder, seeds=seeds, quick=quick)
            # what the docs' statement of a full run's duration is read from
            took = {"wall": time.perf_counter() - wall, "cpu": time.process_time() - cpu,
                    "cpu_cores": os.cpu_count()}
            results[n] = jsonable({**result, "quick": quick, "seconds": took})
    if folder is not None:
        path = folder / "results.json"
        try:
            stored = json.loads(path.read_text()) if path.is_file() else {}
        except json.JSONDecodeError:
            stored = {}
        stored = {**(stored if isinstance(stored, dict) else {}), **results}
        stored = {n: stored[n] for n in EXPERIMENTS if n in stored}
        with atomic_write(path) as handle:
            handle.write((json.dumps(stored, indent=1, allow_nan=False) + "\n").encode())
        with atomic_write(folder / "summary.txt") as handle:
            handle.write(summary_markdown(stored).encode())
    return results
