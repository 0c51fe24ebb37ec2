"""Speed-up of training ensemble members in parallel, and BLAS threads per worker.

Run on demand (pytest does not collect it)::

    python benchmarks/bench_ensemble.py            # 4 members, n_jobs=1 vs 2
    python benchmarks/bench_ensemble.py --members 8 --rounds 5 --epochs 60

Trains the same ensemble with ``n_jobs=1`` and ``n_jobs=2`` (loky), rounds
interleaved so that a noisy neighbour slows both alike, after one warm-up fit
that starts the loky workers.  Prints every round's wall times and their
ratio, the median ratio, the BLAS threads each member ran with (from its
``member_status_``, measured with threadpoolctl inside the worker) and
whether workers x BLAS threads ever exceeded the cores.  The target on a
2-core machine is a ratio of at least 1.85 for 4 members.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import warnings

import numpy as np
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from threadpoolctl import threadpool_info

from ensemblekit import EnsembleClassifier, MLPClassifier


def _fit_seconds(ens: EnsembleClassifier, X: np.ndarray, y: np.ndarray) -> float:
    start = time.perf_counter()
    ens.fit(X, y)
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> float:
    """Run the benchmark and print its report.

    Parameters
    ----------
    argv : list of str, optional
        Command-line arguments (default: ``sys.argv[1:]``).

    Returns
    -------
    ratio : float
        Median of the rounds' ``n_jobs=1`` / ``n_jobs=2`` wall-time ratios.
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=4, help="ensemble members")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved timing rounds")
    parser.add_argument("--epochs", type=int, default=40, help="epochs per member")
    parser.add_argument("--jobs", type=int, default=2, help="parallel workers to compare")
    args = parser.parse_args(argv)

    X, y = load_digits(return_X_y=True)
    X = X / 16
    member = MLPClassifier(hidden_layer_sizes=(100, 100), max_iter=args.epochs)
    cores = os.cpu_count() or 1
    blas = [(i["internal_api"], i["num_threads"]) for i in threadpool_info()
            if i["user_api"] == "blas"]
    print(f"cores: {cores}; BLAS in the driver: {blas}")
    print(f"{args.members} members of MLPClassifier(100, 100), {args.epochs} epochs, "
          f"digits ({X.shape[0]} x {X.shape[1]})")

    def ensemble(n_jobs: int) -> EnsembleClassifier:
        return EnsembleClassifier(member, n_estimators=args.members, n_jobs=n_jobs,
                                  random_state=0)

    ratios = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ensemble(args.jobs).fit(X, y)  # warm-up: start the loky workers
        for r in range(args.rounds):
            sequential = _fit_seconds(ensemble(1), X, y)
            parallel_ens = ensemble(args.jobs)
            parallel = _fit_seconds(parallel_ens, X, y)
            ratios.append(sequential / parallel)
            print(f"round {r + 1}: n_jobs=1 {sequential:6.2f} s   n_jobs={args.jobs} "
                  f"{parallel:6.2f} s   speed-up {ratios[-1]:.2f}x")
    threads = [s["blas_threads"] for s in parallel_ens.member_status_]
    busiest = min(args.jobs, args.members) * max(threads)
    print(f"BLAS threads per member (in the workers): {threads}")
    print(f"workers x BLAS threads = {busiest} on {cores} cores: "
          f"{'oversubscribed' if busiest > cores else 'never oversubscribed'}")
    ratio = statistics.median(ratios)
    print(f"median speed-up n_jobs={args.jobs} over n_jobs=1: {ratio:.2f}x")
    return ratio


if __name__ == "__main__":
    main()
