"""Regularisation on little data: the book's overfitting setting on bundled digits.

Trains the chapter-6 network (6 x 100 ReLU, He init, plain SGD, batch 100) on the
first 300 digits, without regularisation, with weight decay, with dropout and with
batch normalisation, and prints train/test accuracy per configuration.  With
``--plot FILE`` it also draws the per-epoch validation curves from ``history_``
(needs matplotlib).

Run: ``python examples/regularisation_on_digits.py [--epochs 100] [--plot curves.png]``
"""

from __future__ import annotations

import argparse
import warnings

from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning

from ensemblekit import Dropout, MLPClassifier, WeightDecay


def main() -> None:
    """Train each configuration and report its accuracies."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--plot", default=None, help="write validation curves to this PNG")
    args = parser.parse_args()

    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    X_train, y_train, X_test, y_test = X[:300], y[:300], X[300:], y[300:]
    base = dict(hidden_layer_sizes=(100,) * 6, weight_init="he", solver="sgd", momentum=0,
                learning_rate_init=0.01, batch_size=100, alpha=0, max_iter=args.epochs,
                tol=0, n_iter_no_change=args.epochs, random_state=0)
    configs = {
        "none": {},
        "weight decay (book, 0.01)": {"plugins": [WeightDecay(0.01, convention="book")]},
        "dropout 0.1": {"plugins": [Dropout(0.1)]},
        "batch norm": {"batch_norm": True},
    }
    curves = {}
    print(f"{'configuration':28s} {'train':>6s} {'test':>6s}")
    for name, extra in configs.items():
        clf = MLPClassifier(**base, **extra)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            clf.fit(X_train, y_train)
        print(f"{name:28s} {clf.score(X_train, y_train):6.3f} {clf.score(X_test, y_test):6.3f}")
        curves[name] = clf.loss_curve_
    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(6, 4))
        for name, curve in curves.items():
            ax.plot(range(1, len(curve) + 1), curve, label=name)
        ax.set_xlabel("epoch")
        ax.set_ylabel("training loss")
        ax.set_yscale("log")
        ax.legend()
        fig.tight_layout()
        fig.savefig(args.plot, dpi=120)
        print(f"wrote {args.plot}")


if __name__ == "__main__":
    main()
