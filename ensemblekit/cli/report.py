"""``ensemblekit report``: learning-curve and confusion-matrix PNGs plus index.md.

matplotlib is optional (``pip install 'ensemblekit[plot]'``); figures come
from :func:`ensemblekit._figures.figure` (no pyplot state).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
import numpy as np

from .._figures import figure
from ..io import atomic_write
from .data import final_estimator

__all__ = ["describe_model", "epochs_trained", "write_report"]


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


def _curves(history: list[dict], keys: tuple[str, ...], ylabel: str, title: str,
            path: Path) -> Path | None:
    present = [k for k in keys if any(k in record for record in history)]
    if not present:
        return None
    fig, axes = figure(size=(6, 4))
    ax = axes[0, 0]
    for key in present:
        epochs = [r["epoch"] for r in history if key in r]
        ax.plot(epochs, [r[key] for r in history if key in r], label=key.replace("_", " "))
    ax.set(xlabel="epoch", ylabel=ylabel, title=title)
    ax.grid(alpha=0.3)
    ax.legend()
    return _save(fig, path)


def _member_curves(histories: list[list[dict]], key: str, title: str,
                   path: Path) -> Path | None:
    """One line per ensemble member (a snapshot ensemble's members share one run)."""
    if not any(key in record for history in histories for record in history):
        return None
    fig, axes = figure(size=(6, 4))
    ax = axes[0, 0]
    for i, history in enumerate(histories):
        epochs = [r["epoch"] for r in history if key in r]
        ax.plot(epochs, [r[key] for r in history if key in r], label=f"member {i}",
                linewidth=1, alpha=0.8)
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


def write_report(model: Any, metadata: dict, out_dir: Path, model_name: str,
                 metrics: dict | None) -> list[Path]:
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
    if members is None:
        plots = {
            "Training and validation loss": _curves(
                history, ("loss", "val_loss"), "loss", "loss per epoch",
                out_dir / "loss.png"),
            "Validation score": _curves(
                history, ("val_score",), "score",
                "validation score per epoch (early stopping)", out_dir / "validation.png"),
        }
    else:
        histories = [getattr(m, "history_", []) for m in members]
        plots = {
            "Training loss of every member": _member_curves(
                histories, "loss", "training loss per epoch", out_dir / "loss.png"),
            "Validation score of every member": _member_curves(
                histories, "val_score", "validation score per epoch (early stopping)",
                out_dir / "validation.png"),
        }
    if metrics is not None and "confusion_matrix" in metrics:
        plots["Confusion matrix"] = _confusion(metrics, out_dir / "confusion.png")
    lines = [f"# Report: {model_name}", "",
             f"- model: {describe_model(estimator)}",
             f"- epochs: {epochs_trained(estimator)}"]
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
    index = out_dir / "index.md"
    with atomic_write(index) as fh:
        fh.write(("\n".join(lines) + "\n").encode())
    return [*written, index]
