"""Does training in float32 cost accuracy?  Scores at float32 and float64, same seeds.

Run: ``python -m benchmarks.dtype_accuracy``.  Bundled data only (digits with a
75/25 split, the 300-digit split of chapter 6, diabetes regression), the
estimators' defaults except ``dtype``, five seeds each; prints a Markdown
table of mean ± std test scores and the mean fit time per dtype (the times
are only comparable within one run).
"""

from __future__ import annotations

import time
import warnings

import numpy as np
from sklearn.datasets import load_diabetes, load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from ensemblekit import MLPClassifier, MLPRegressor

SEEDS = range(5)


def _tasks() -> dict[str, tuple]:
    X, y = load_digits(return_X_y=True)
    X = X / 16
    Xa, Xb, ya, yb = train_test_split(X, y, test_size=0.25, random_state=0, stratify=y)
    Xd, yd = load_diabetes(return_X_y=True)
    Xd = StandardScaler().fit_transform(Xd)
    yd = (yd - yd.mean()) / yd.std()
    Xr, Xs, yr, ys = train_test_split(Xd, yd, test_size=0.25, random_state=0)
    return {
        "digits 75/25, accuracy": (MLPClassifier, {}, Xa, ya, Xb, yb),
        "digits first 300, accuracy": (MLPClassifier, {"max_iter": 1000}, X[:300], y[:300],
                                       X[300:], y[300:]),
        "diabetes, R²": (MLPRegressor, {"hidden_layer_sizes": (16,), "alpha": 1.0,
                                        "max_iter": 1000}, Xr, yr, Xs, ys),
    }


def main() -> None:
    """Print the table."""
    warnings.simplefilter("ignore", ConvergenceWarning)
    print("| task | float64 | float32 | fit s float64 | fit s float32 |")
    print("|---|---|---|---|---|")
    for name, (cls, params, Xa, ya, Xb, yb) in _tasks().items():
        scores: dict[str, list[float]] = {"float64": [], "float32": []}
        times: dict[str, list[float]] = {"float64": [], "float32": []}
        for seed in SEEDS:
            for dtype in ("float64", "float32"):  # interleaved: drift hits both alike
                model = cls(random_state=seed, dtype=dtype, **params)
                start = time.perf_counter()
                model.fit(Xa, ya)
                times[dtype].append(time.perf_counter() - start)
                scores[dtype].append(model.score(Xb, yb))
        cells = [f"{np.mean(scores[d]):.4f} ± {np.std(scores[d]):.4f}"
                 for d in ("float64", "float32")]
        print(f"| {name} | {cells[0]} | {cells[1]} | {np.mean(times['float64']):.2f} | "
              f"{np.mean(times['float32']):.2f} |")


if __name__ == "__main__":
    main()
