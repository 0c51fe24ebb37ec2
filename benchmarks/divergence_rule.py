"""False-positive rate of the runaway-loss rule (``mlp.EXPLOSION_FACTOR``).

Trains a grid of ordinary configurations -- scikit-learn's bundled datasets,
every stochastic solver at its default and a 10x learning rate, batch norm on
and off -- once with the rule and once without it (``EXPLOSION_FACTOR =
inf``).  A *false positive* is a run the rule stops although, left alone, it
ends finite and better than the constant predictor.  Prints one line per
dataset and the totals; ``docs/reliability.md`` quotes them.

Run: ``python -m benchmarks.divergence_rule`` (``--quick`` for the subset the
test suite runs).
"""

from __future__ import annotations

import argparse
import itertools
import warnings

import numpy as np
from sklearn.datasets import load_breast_cancer, load_diabetes, load_digits, load_iris, load_wine
from sklearn.preprocessing import StandardScaler

from ensemblekit import MLPClassifier, MLPRegressor, mlp
from ensemblekit.exceptions import DivergenceWarning, TrainingDiverged

DATASETS = {
    "iris": (load_iris, MLPClassifier),
    "wine": (load_wine, MLPClassifier),
    "breast_cancer": (load_breast_cancer, MLPClassifier),
    "digits": (load_digits, MLPClassifier),
    "diabetes": (load_diabetes, MLPRegressor),
}
#: (solver, default learning rate); each is also run at 10x.
SOLVERS = (("sgd", 0.01), ("adam", 0.001), ("adagrad", 0.01), ("rmsprop", 0.001))


def _fit(cls, X, y, factor: float, **params) -> tuple[str, float]:
    """('ok' | 'stopped' | 'raised', score) of one fit with the rule at ``factor``."""
    old, mlp.EXPLOSION_FACTOR = mlp.EXPLOSION_FACTOR, factor
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            est = cls(hidden_layer_sizes=(32,), max_iter=30, random_state=0, **params)
            est.fit(X, y)
        stopped = any(issubclass(w.category, DivergenceWarning) for w in caught)
        try:
            with np.errstate(all="ignore"):
                score = float(est.score(X, y))
        except ValueError:  # predictions that overflowed: not a usable model
            score = float("nan")
        return ("stopped" if stopped else "ok"), score
    except TrainingDiverged:
        return "raised", float("nan")
    finally:
        mlp.EXPLOSION_FACTOR = old


def run(quick: bool = False) -> dict[str, tuple[int, int, int]]:
    """Per dataset: (runs, runs the rule stopped, false positives among them)."""
    results = {}
    names = ("iris", "diabetes") if quick else tuple(DATASETS)
    for name in names:
        load, cls = DATASETS[name]
        X, y = load(return_X_y=True)
        X = StandardScaler().fit_transform(X)  # the regression target stays raw
        baseline = 0.0  # R^2 and accuracy of a constant predictor are <= 0 and 1/k
        if cls is MLPClassifier:
            baseline = np.bincount(y).max() / len(y)
        runs = stopped = false = 0
        for (solver, lr), scale, bn in itertools.product(SOLVERS, (1, 10), (False, True)):
            if quick and bn:
                continue
            params = dict(solver=solver, learning_rate_init=lr * scale, batch_norm=bn)
            outcome, _ = _fit(cls, X, y, mlp.EXPLOSION_FACTOR, **params)
            runs += 1
            if outcome == "ok":
                continue
            stopped += 1
            free, score = _fit(cls, X, y, np.inf, **params)
            false += free == "ok" and np.isfinite(score) and score > baseline
        results[name] = (runs, stopped, false)
    return results


def main() -> None:
    """Print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    results = run(args.quick)
    print(f"{'dataset':<14} {'runs':>5} {'stopped':>8} {'false positives':>16}")
    for name, (runs, stopped, false) in results.items():
        print(f"{name:<14} {runs:>5} {stopped:>8} {false:>16}")
    total = [sum(col) for col in zip(*results.values())]
    print(f"{'total':<14} {total[0]:>5} {total[1]:>8} {total[2]:>16}")


if __name__ == "__main__":
    main()
