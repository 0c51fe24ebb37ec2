"""The ``ensemblekit`` command line (click)."""

from __future__ import annotations

import time

import click
import numpy as np

from . import __version__

__all__ = ["cli"]


@click.group()
@click.version_option(__version__, prog_name="ensemblekit")
def cli() -> None:
    """Train and use regularised neural-network ensembles."""


@cli.command()
@click.option("--hidden", default="100", show_default=True,
              help="Hidden layer sizes, comma-separated (e.g. 100,100).")
@click.option("--max-iter", default=200, show_default=True, type=click.IntRange(min=1),
              help="Maximum number of epochs.")
@click.option("--random-state", default=0, show_default=True, type=int,
              help="Seed of the split and of training.")
def train(hidden: str, max_iter: int, random_state: int) -> None:
    """Train an MLPClassifier on the bundled digits data and report its scores."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    from .mlp import MLPClassifier

    try:
        sizes = tuple(int(h) for h in hidden.split(",") if h.strip())
    except ValueError:
        raise click.BadParameter(f"expected integers separated by commas, got {hidden!r}",
                                 param_hint="--hidden") from None
    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, random_state=random_state, stratify=y)
    clf = MLPClassifier(hidden_layer_sizes=sizes, max_iter=max_iter,
                        random_state=random_state)
    start = time.perf_counter()
    try:
        clf.fit(X_train, y_train)
    except (ValueError, TypeError) as exc:
        raise click.ClickException(str(exc)) from exc
    elapsed = time.perf_counter() - start
    click.echo(f"data: digits, {X.shape[0]} samples x {X.shape[1]} features, "
               f"{len(clf.classes_)} classes")
    click.echo(f"train accuracy: {clf.score(X_train, y_train):.4f}")
    click.echo(f"test accuracy:  {clf.score(X_test, y_test):.4f}")
    click.echo(f"epochs: {clf.n_iter_}, time: {elapsed:.2f}s")
