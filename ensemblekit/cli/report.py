"""``ensemblekit report``: learning-curve and confusion-matrix PNGs plus index.md.

matplotlib is optional (``pip install 'ensemblekit[plot]'``); figures come
from :func:`ensemblekit._figures.figure` (no pyplot state).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, NamedTuple

import click
import numpy as np
from sklearn.base import is_classifier

from .._figures import figure
from ..io import atomic_write
from .data import final_estimator

__all__ = ["describe_model", "epochs_trained", "validation_summary", "write_report"]


def describe_model(estimator: Any) -> str:
    """One line naming the network (and the ensemble around it).

    Parameters
    ----------
    estimator : estimator
        A fitted ensemblekit network or ensemble.

    Returns
    -------
    str
        E.g. ``EnsembleClassifier of 5 x MLPClassifier hidden=(100,) ...``.
    """
    network = getattr(estimator, "estimators_", [estimator])[0]
    plugins = ", ".join(n for n, _ in getattr(network, "plugins_", [])) or "none"
    line = (f"{type(network).__name__} hidden={network.hidden_layer_sizes} "
            f"solver={network.solver} plugins: {plugins}")
    if network is estimator:
        return line
    extras = [f"combiner={estimator.combiner_.name}"]
    if estimator.sampler_ is not None:
        extras.append(f"sampler={estimator.sampler_.name}")
    if estimator.strategy_ is not None:
        extras.append(f"strategy={estimator.strategy_.name}")
    if estimator.diverged_members_:
        extras.append(f"dropped diverged runs {estimator.diverged_members_}")
    return (f"{type(estimator).__name__} of {len(estimator.estimators_)} x {line}; "
            + " ".join(extras))


def _save(fig: Any, path: Path) -> Path:
    with atomic_write(path) as fh:
        fig.savefig(fh, format="png", dpi=100)
    return path


_KEPT = "kept by early stopping"


def _curves(history: list[dict], keys: tuple[str, ...], ylabel: str, title: str,
            path: Path, kept: int | None) -> Path | None:
    """One line per key of ``history``; a vertical line at the ``kept`` epoch."""
    present = [k for k in keys if any(k in record for record in history)]
    if not present:
        return None
    fig, axes = figure(size=(6, 4))
    ax = axes[0, 0]
    for key in present:
        epochs = [r["epoch"] for r in history if key in r]
        ax.plot(epochs, [r[key] for r in history if key in r], label=key.replace("_", " "))
    if kept is not None:
        ax.axvline(kept, color="black", linestyle="--", linewidth=1,
                   label=f"epoch {kept}, {_KEPT}")
    ax.set(xlabel="epoch", ylabel=ylabel, title=title)
    ax.grid(alpha=0.3)
    ax.legend()
    return _save(fig, path)


def _member_curves(histories: list[list[dict]], key: str, title: str,
                   path: Path, kept: list[int] | None) -> Path | None:
    """One line per ensemble member (a snapshot ensemble's members share one run).

    The epoch early stopping kept (``kept``, one per member) is marked on each.
    """
    if not any(key in record for history in histories for record in history):
        return None
    fig, axes = figure(size=(6, 4))
    ax = axes[0, 0]
    for i, history in enumerate(histories):
        epochs = [r["epoch"] for r in history if key in r]
        values = [r[key] for r in history if key in r]
        (line,) = ax.plot(epochs, values, label=f"member {i}", linewidth=1, alpha=0.8)
        if kept is not None and kept[i] in epochs:
            ax.plot(kept[i], values[epochs.index(kept[i])], "o", color=line.get_color(),
                    markeredgecolor="black",
                    label=_KEPT if i == 0 else None)
    ax.set(xlabel="epoch", ylabel=key.replace("_", " "), title=title)
    ax.grid(alpha=0.3)
    if len(histories) <= 10:
        ax.legend(fontsize=7)
    return _save(fig, path)


def epochs_trained(estimator: Any) -> str:
    """Epochs trained: one number, or one per ensemble member.

    Parameters
    ----------
    estimator : estimator
        A fitted ensemblekit network or ensemble.

    Returns
    -------
    str
        ``"42"`` or ``"42, 40, 45"``.
    """
    if hasattr(estimator, "estimators_"):
        return ", ".join(str(m.n_iter_) for m in estimator.estimators_)
    return str(estimator.n_iter_)


class _Validation(NamedTuple):
    """One network's monitored validation score."""

    best_epoch: int  # the first epoch of the best score, as history_ numbers it
    epochs: int
    best: float
    last: float


def _validation(network: Any) -> _Validation | None:
    """Where a network's validation score peaked; None when it was not monitored."""
    records = [r for r in getattr(network, "history_", [])
               if np.isfinite(r.get("val_score", np.nan))]
    if not records:
        return None
    best = max(records, key=lambda r: r["val_score"])  # the first of equal ones
    return _Validation(best["epoch"], network.n_iter_, best["val_score"],
                       records[-1]["val_score"])


def _kept_epochs(estimator: Any) -> list[int] | None:
    """The epoch early stopping kept, per network; None without early stopping."""
    networks = getattr(estimator, "estimators_", [estimator])
    found = [_validation(n) for n in networks]
    if not all(getattr(n, "early_stopping", False) for n in networks) or None in found:
        return None
    return [f.best_epoch for f in found if f is not None]


def validation_summary(estimator: Any) -> str | None:
    """One line on the validation score: the epoch early stopping kept, or the last one's.

    Parameters
    ----------
    estimator : estimator
        A fitted ensemblekit network or ensemble.

    Returns
    -------
    str or None
        E.g. ``"early stopping kept epoch 17 of 27 (best validation accuracy
        0.9500)"``, or for a validation score monitored without early stopping
        its last and best values; None when no validation score was recorded.
        An ensemble gives one value per member.
    """
    networks = getattr(estimator, "estimators_", [estimator])
    found = [_validation(n) for n in networks]
    if None in found:
        return None
    rows = [f for f in found if f is not None]
    metric = "accuracy" if is_classifier(networks[0]) else "R²"
    s = "s" if len(rows) > 1 else ""
    best = ", ".join(f"{f.best:.4f}" for f in rows)
    if _kept_epochs(estimator) is not None:
        kept = ", ".join(f"{f.best_epoch} of {f.epochs}" for f in rows)
        return f"early stopping kept epoch{s} {kept} (best validation {metric} {best})"
    last = ", ".join(f"{f.last:.4f}" for f in rows)
    at = ", ".join(str(f.best_epoch) for f in rows)
    return (f"validation {metric} {last} at the last epoch, the one kept (best {best} at "
            f"epoch{s} {at})")


def _confusion(metrics: dict, path: Path) -> Path:
    matrix = np.asarray(metrics["confusion_matrix"])
    labels = [str(label) for label in metrics["labels"]]
    fig, axes = figure(size=(6, 4))
    ax = axes[0, 0]
    image = ax.imshow(matrix, cmap="Blues")
    fig.colorbar(image, ax=ax)
    ticks = np.arange(len(labels))
    ax.set_xticks(ticks, labels, rotation=45 if len(labels) > 6 else 0)
    ax.set_yticks(ticks, labels)
    ax.set(xlabel="predicted", ylabel="true",
           title=f"confusion matrix (accuracy {metrics['accuracy']:.3f})")
    threshold = matrix.max() / 2 if matrix.size else 0
    for (i, j), count in np.ndenumerate(matrix):
        ax.text(j, i, str(count), ha="center", va="center", fontsize=8,
                color="white" if count > threshold else "black")
    return _save(fig, path)


def _importance(importance: dict[str, dict[str, float]], score: str,
                path: Path) -> Path:
    """Horizontal bars of the permutation importance, the most important on top."""
    names = list(importance)[::-1]
    fig, axes = figure(size=(6, max(2.5, 0.3 * len(names) + 1.2)))
    ax = axes[0, 0]
    ax.barh(names, [importance[n]["mean"] for n in names],
            xerr=[importance[n]["std"] for n in names], color="tab:blue", capsize=3)
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set(xlabel=f"drop of {score} when the column is shuffled",
           title="permutation importance")
    ax.grid(alpha=0.3, axis="x")
    return _save(fig, path)


def _predicted_vs_actual(actual: np.ndarray, predicted: np.ndarray, r2: float,
                         path: Path) -> Path:
    """A regression's predictions against the true values, with the identity line."""
    fig, axes = figure(size=(5, 5))
    ax = axes[0, 0]
    ax.scatter(actual, predicted, s=10, alpha=0.6, label="rows")
    ends = [float(min(actual.min(), predicted.min())),
            float(max(actual.max(), predicted.max()))]
    ax.plot(ends, ends, color="black", linestyle="--", linewidth=1,
            label="predicted = actual")
    ax.set(xlabel="actual", ylabel="predicted", title=f"predicted vs actual (R² {r2:.3f})")
    ax.set_aspect("equal", adjustable="datalim")
    ax.grid(alpha=0.3)
    ax.legend()
    return _save(fig, path)


def write_report(model: Any, metadata: dict, out_dir: Path, model_name: str,
                 metrics: dict | None,
                 importance: dict[str, dict[str, float]] | None = None,
                 predicted: tuple[np.ndarray, np.ndarray] | None = None) -> list[Path]:
    """Write the plots and ``index.md`` into ``out_dir``; return the files written.

    Parameters
    ----------
    model : estimator
        A loaded model (an MLP or a pipeline ending in one).
    metadata : dict
        The model file's metadata (target, task, training scores).
    out_dir : pathlib.Path
        Created if needed.
    model_name : str
        Shown in the page's title.
    metrics : dict or None
        Scores on extra data (``evaluate``'s), adding a confusion matrix for
        classifiers and a table.
    importance : dict or None, default=None
        Permutation importance on that data
        (:func:`ensemblekit.cli.data.importance`): a bar plot and a table.
    predicted : tuple of numpy.ndarray or None, default=None
        A regression's true values and predictions on that data: a
        predicted-vs-actual plot.

    Returns
    -------
    list of pathlib.Path
        The PNG files written, then ``index.md``.
    """
    estimator = final_estimator(model)
    members = getattr(estimator, "estimators_", None)
    history = getattr(members[0] if members else estimator, "history_", None)
    if history is None:
        raise click.ClickException("the model is not fitted: it has no training history")
    out_dir.mkdir(parents=True, exist_ok=True)
    kept = _kept_epochs(estimator)
    network = members[0] if members else estimator
    score = "accuracy" if is_classifier(network) else "R²"
    watched = f"validation {score} per epoch" + (
        " (early stopping)" if getattr(network, "early_stopping", False) else "")
    if members is None:
        first = kept[0] if kept else None
        plots = {
            "Training and validation loss": _curves(
                history, ("loss", "val_loss"), "loss", "loss per epoch",
                out_dir / "loss.png", first),
            "Validation score": _curves(
                history, ("val_score",), score, watched, out_dir / "validation.png",
                first),
        }
    else:
        histories = [getattr(m, "history_", []) for m in members]
        plots = {
            "Training loss of every member": _member_curves(
                histories, "loss", "training loss per epoch", out_dir / "loss.png", kept),
            "Validation score of every member": _member_curves(
                histories, "val_score", watched, out_dir / "validation.png", kept),
        }
    if metrics is not None and "confusion_matrix" in metrics:
        plots["Confusion matrix"] = _confusion(metrics, out_dir / "confusion.png")
    if metrics is not None and predicted is not None:
        plots["Predicted vs actual"] = _predicted_vs_actual(
            *predicted, metrics["r2"], out_dir / "predicted.png")
    if importance is not None:
        plots["Permutation importance"] = _importance(importance, score,
                                                      out_dir / "importance.png")
    lines = [f"# Report: {model_name}", "",
             f"- model: {describe_model(estimator)}",
             f"- epochs: {epochs_trained(estimator)}"]
    summary = validation_summary(estimator)
    if summary is not None:
        lines.append(f"- {summary}")
    if "target" in metadata:
        lines.append(f"- target: `{metadata['target']}` ({metadata['task']}), trained on "
                     f"{metadata.get('trained_on', '?')}")
    tables = dict(metadata.get("scores", {}))
    if metrics is not None:
        tables["data"] = metrics
    names = [k for k in ("accuracy", "f1_macro", "log_loss", "ece", "r2", "rmse", "mae")
             if any(k in s for s in tables.values())]
    if tables and names:
        lines += ["", "## Scores", "", "| split | " + " | ".join(names) + " |",
                  "|---" * (len(names) + 1) + "|"]
        for split, scores in tables.items():
            cells = [f"{scores[k]:.4f}" if k in scores else "" for k in names]
            lines.append(f"| {split} | " + " | ".join(cells) + " |")
    written = []
    for title, path in plots.items():
        if path is not None:
            lines += ["", f"## {title}", "", f"![{title}]({path.name})"]
            written.append(path)
    if importance is not None:
        lines += ["", f"Drop of {score} on `--data` when a column is shuffled (mean and "
                  "standard deviation over the repeats):", "", "| column | mean | std |",
                  "|---|---|---|"]
        lines += [f"| {name} | {v['mean']:.4f} | {v['std']:.4f} |"
                  for name, v in importance.items()]
    index = out_dir / "index.md"
    with atomic_write(index) as fh:
        fh.write(("\n".join(lines) + "\n").encode())
    return [*written, index]
