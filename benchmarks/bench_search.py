"""Coarse-to-fine search vs RandomizedSearchCV at the same number of fits.

Run on demand (pytest does not collect it)::

    python benchmarks/bench_search.py                 # 3 seeds, 4 rounds x 10
    python benchmarks/bench_search.py --seeds 5 --rounds 3 --candidates 20
    python benchmarks/bench_search.py --quick         # a smoke run in seconds

On two bundled datasets -- digits (an ``MLPClassifier`` trained with SGD,
accuracy) and diabetes (standardised inputs into an ``MLPRegressor`` trained
with Adam for ten times the epochs, R²) -- each seed splits off a quarter of
the rows for testing, then both searches
get the same budget, ``rounds x candidates`` settings cross-validated on the
same folds: :class:`~sklearn.model_selection.RandomizedSearchCV` draws them
from log-uniform distributions over the ranges, and
:class:`~ensemblekit.CoarseToFineSearchCV` draws ``candidates`` per round and
narrows the ranges to its ``top_k`` best.  Prints, per dataset and seed, the
best mean cross-validation score each search reached and the test score of
its refit best setting, then their mean and std and how often each search
came out ahead.
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings
from typing import Any

from scipy.stats import loguniform
from sklearn.datasets import load_diabetes, load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import KFold, RandomizedSearchCV, StratifiedKFold, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from ensemblekit import CoarseToFineSearchCV, MLPClassifier, MLPRegressor


def _problems(epochs: int) -> dict[str, dict[str, Any]]:
    """Data, estimator, ranges and splitter of each benchmark problem."""
    X, y = load_digits(return_X_y=True)
    diabetes_X, diabetes_y = load_diabetes(return_X_y=True)
    return {
        "digits": {
            "X": X / 16, "y": y, "stratify": True, "score": "accuracy",
            "estimator": MLPClassifier(hidden_layer_sizes=(64,), solver="sgd", momentum=0.0,
                                       batch_size=50, max_iter=epochs, random_state=0),
            "ranges": {"learning_rate_init": (1e-5, 1.0, "log"),
                       "alpha": (1e-7, 1.0, "log")},
        },
        "diabetes": {
            "X": diabetes_X, "y": diabetes_y, "stratify": False, "score": "R²",
            "estimator": make_pipeline(StandardScaler(), MLPRegressor(
                hidden_layer_sizes=(32,), solver="adam", max_iter=10 * epochs,
                random_state=0)),
            "ranges": {"mlpregressor__learning_rate_init": (1e-5, 1e-1, "log"),
                       "mlpregressor__alpha": (1e-6, 1e2, "log")},
        },
    }


def _run(problem: dict, seed: int, args: argparse.Namespace) -> dict[str, tuple]:
    """Both searches on one seed's split: (best cv score, test score) each."""
    X_train, X_test, y_train, y_test = train_test_split(
        problem["X"], problem["y"], test_size=0.25, random_state=seed,
        stratify=problem["y"] if problem["stratify"] else None)
    splitter = StratifiedKFold if problem["stratify"] else KFold
    cv = splitter(n_splits=3, shuffle=True, random_state=seed)
    searches = {
        "random": RandomizedSearchCV(
            problem["estimator"],
            {n: loguniform(lo, hi) for n, (lo, hi, _) in problem["ranges"].items()},
            n_iter=args.rounds * args.candidates, cv=cv, random_state=seed),
        "coarse-to-fine": CoarseToFineSearchCV(
            problem["estimator"], problem["ranges"], n_rounds=args.rounds,
            n_candidates=args.candidates, top_k=args.top_k, cv=cv, random_state=seed),
    }
    out = {}
    for name, search in searches.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            search.fit(X_train, y_train)
        out[name] = (float(search.best_score_), float(search.score(X_test, y_test)))
    return out


def _spread(values: list[float]) -> str:
    std = statistics.pstdev(values) if len(values) > 1 else 0.0
    return f"{statistics.fmean(values):.4f} ± {std:.4f}"


def main(argv: list[str] | None = None) -> dict[str, dict[str, list[tuple]]]:
    """Run the benchmark and print its report.

    Parameters
    ----------
    argv : list of str, optional
        Command-line arguments (default: ``sys.argv[1:]``).

    Returns
    -------
    scores : dict
        Dataset -> search -> one ``(best cv score, test score)`` per seed.
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3, help="splits and search seeds")
    parser.add_argument("--rounds", type=int, default=4, help="coarse-to-fine rounds")
    parser.add_argument("--candidates", type=int, default=10, help="settings per round")
    parser.add_argument("--top-k", type=int, default=3, help="best settings kept per round")
    parser.add_argument("--epochs", type=int, default=30, help="epochs per fit")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: 1 seed, 2 rounds x 4 settings, 5 epochs")
    args = parser.parse_args(argv)
    if args.quick:
        args.seeds, args.rounds, args.candidates, args.top_k, args.epochs = 1, 2, 4, 2, 5
    budget = args.rounds * args.candidates
    print(f"budget: {budget} settings x 3 folds per search "
          f"(coarse-to-fine: {args.rounds} rounds of {args.candidates}, best "
          f"{args.top_k}); {args.epochs} epochs per fit; seeds 0..{args.seeds - 1}")
    scores: dict[str, dict[str, list[tuple]]] = {}
    # small networks: one BLAS thread each is fastest and keeps the timing steady
    with threadpool_limits(limits=1, user_api="blas"):
        for dataset, problem in _problems(args.epochs).items():
            start = time.perf_counter()
            runs = [_run(problem, seed, args) for seed in range(args.seeds)]
            scores[dataset] = {m: [r[m] for r in runs] for m in runs[0]}
            print(f"\n== {dataset} ({problem['score']}; {time.perf_counter() - start:.0f}s)")
            print(f"{'seed':>4}  {'search':<15} {'best cv':>8} {'test':>8}")
            for seed, run in enumerate(runs):
                for method, (cv_score, test) in run.items():
                    print(f"{seed:>4}  {method:<15} {cv_score:8.4f} {test:8.4f}")
            for method, pairs in scores[dataset].items():
                print(f"mean  {method:<15} best cv {_spread([p[0] for p in pairs])}   "
                      f"test {_spread([p[1] for p in pairs])}")
            for index, label in ((0, "best cv"), (1, "test")):
                wins = sum(c[index] > r[index] for c, r in zip(scores[dataset]["coarse-to-fine"],
                                                               scores[dataset]["random"]))
                ties = sum(c[index] == r[index] for c, r in zip(
                    scores[dataset]["coarse-to-fine"], scores[dataset]["random"]))
                print(f"coarse-to-fine ahead on {label}: {wins} of {args.seeds} seeds"
                      + (f" ({ties} tied)" if ties else ""))
    return scores


if __name__ == "__main__":
    main()
