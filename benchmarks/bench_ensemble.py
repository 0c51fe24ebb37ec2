"""Speed-up of training ensemble members in parallel, and BLAS threads per worker.

The harness runs it as the section ``ensemble`` (``python -m benchmarks --only
ensemble``); it also runs on its own::

    python -m benchmarks.bench_ensemble            # 4 members, n_jobs=1 vs 2
    python -m benchmarks.bench_ensemble --members 8 --rounds 5 --epochs 60

Trains the same 4-member ensemble of MLPs on the bundled digits with
``n_jobs=1`` and with ``n_jobs=2`` (loky), both for ensemblekit's
:class:`~ensemblekit.EnsembleClassifier` and, as the reference, for
scikit-learn's ``BaggingClassifier`` of its ``MLPClassifier`` (no bootstrap,
so both train four networks on all rows).  Every round fits all four in a
rotated order, after one untimed warm-up fit each that starts the loky
workers; the speed-up is ``n_jobs=1`` time over ``n_jobs=2`` time within a
round.  It also reports the BLAS threads each ensemblekit member ran with
(threadpoolctl inside the worker, from ``member_status_``), the BLAS threads a
plain task sees in a loky worker (what scikit-learn's members get), and
whether workers x BLAS threads ever exceeded the cores.  The target on a
2-core machine is a speed-up of at least 1.85 for 4 members.
"""

from __future__ import annotations

import argparse
import os
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
from joblib import Parallel, delayed
from sklearn.datasets import load_digits
from sklearn.ensemble import BaggingClassifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier as SkMLPClassifier
from threadpoolctl import threadpool_info

from ensemblekit import EnsembleClassifier, MLPClassifier

from .machine import usable_cores
from .report import RunConfig, SectionResult, Spread, Table, per_round_ratios
from .sections import interleave


@dataclass(frozen=True)
class EnsembleSetup:
    """What every contender trains.

    Parameters
    ----------
    members : int
        Ensemble members.
    epochs : int
        Epochs per member (all of them run: no early stop).
    hidden : tuple of int
        Hidden layer widths of each member.
    jobs : int
        Workers of the parallel fit, compared with one.
    """

    members: int = 4
    epochs: int = 40
    hidden: tuple[int, ...] = (256, 256)
    jobs: int = 2

    def member_params(self) -> dict[str, Any]:
        """Constructor arguments shared by both libraries' MLPs.

        Returns
        -------
        dict
        """
        return {"hidden_layer_sizes": self.hidden, "max_iter": self.epochs,
                "n_iter_no_change": self.epochs + 1, "random_state": 0}


class EnsembleFit:
    """One contender: fits a fresh ensemble with ``n_jobs`` workers per :meth:`epoch`.

    Parameters
    ----------
    name : str
        Label in the tables.
    factory : callable
        ``factory(n_jobs)`` returns an unfitted ensemble.
    n_jobs : int
        Workers.
    """

    def __init__(self, name: str, factory: Any, n_jobs: int) -> None:
        self.name = name
        self.factory = factory
        self.n_jobs = n_jobs
        self.last: Any = None

    def start(self, X: np.ndarray, y: np.ndarray) -> None:
        """Keep the data and fit once, untimed (starts the loky workers).

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_features)
        y : ndarray of shape (n_samples,)
        """
        self.X, self.y = X, y
        self.epoch()

    def epoch(self) -> None:
        """Fit the whole ensemble once (the harness times this call)."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            self.last = self.factory(self.n_jobs).fit(self.X, self.y)


def _blas_threads_here() -> int:
    return max((i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"),
               default=0)


def contenders(setup: EnsembleSetup) -> list[EnsembleFit]:
    """ensemblekit's and scikit-learn's ensembles, each with 1 and ``setup.jobs`` workers.

    Parameters
    ----------
    setup : EnsembleSetup
        What to train.

    Returns
    -------
    list of EnsembleFit
    """
    params = setup.member_params()

    def ours(n_jobs: int) -> EnsembleClassifier:
        return EnsembleClassifier(MLPClassifier(**params), n_estimators=setup.members,
                                  n_jobs=n_jobs, random_state=0)

    def theirs(n_jobs: int) -> BaggingClassifier:
        return BaggingClassifier(SkMLPClassifier(**params), n_estimators=setup.members,
                                 bootstrap=False, n_jobs=n_jobs, random_state=0)

    return [EnsembleFit(f"{lib} n_jobs={jobs}", factory, jobs)
            for lib, factory in (("ensemblekit", ours), ("sklearn", theirs))
            for jobs in (1, setup.jobs)]


def measure(setup: EnsembleSetup, rounds: int, emit: Any = print) -> SectionResult:
    """Time the contenders interleaved and build the section's table and metrics.

    Parameters
    ----------
    setup : EnsembleSetup
        What to train.
    rounds : int
        Timed rounds.
    emit : callable
        Where the finished table is printed.

    Returns
    -------
    SectionResult
        Metrics ``"ensemble/speedup"`` and ``"ensemble/sklearn_speedup"``
        (median per-round ratios) and ``"ensemble/threads_per_core"``
        (workers x BLAS threads per member over the cores; above 1 means
        oversubscribed).
    """
    X, y = load_digits(return_X_y=True)
    X = X / 16
    load_start = os.getloadavg()[0]
    fits = contenders(setup)
    for fit in fits:
        fit.start(X, y)
    times = interleave(fits, rounds)
    load_end = os.getloadavg()[0]
    cores = usable_cores()
    # what a plain task sees in a loky worker: scikit-learn's members' BLAS threads
    worker_blas = Parallel(n_jobs=setup.jobs)(
        delayed(_blas_threads_here)() for _ in range(setup.jobs))
    ours_blas = [s["blas_threads"] for s in fits[1].last.member_status_]
    busiest = {"ensemblekit": min(setup.jobs, setup.members) * max(ours_blas),
               "sklearn": min(setup.jobs, setup.members) * max(worker_blas)}
    table = Table(
        f"Ensemble training in parallel: {setup.members} members, n_jobs={setup.jobs} "
        "vs 1 (loky)",
        ["ensemble", "n_jobs=1: s / fit", f"n_jobs={setup.jobs}: s / fit",
         "speed-up", "BLAS threads per member", f"workers x threads on {cores} cores"],
        note=(f"Digits ({X.shape[0]} x {X.shape[1]}), each member "
              f"{'-'.join(map(str, setup.hidden))} ReLU, Adam, {setup.epochs} epochs "
              "(no early stop), no bootstrap; sklearn is BaggingClassifier of its "
              "MLPClassifier. Speed-up: n_jobs=1 time / parallel time within a round, "
              f"median [min\u2013max] of {rounds} interleaved rounds. Load average "
              f"(1 min) {load_start:.2f} at the start, {load_end:.2f} at the end."))
    result = SectionResult("ensemble", [table])
    for lib, sequential, parallel, threads in (
            ("ensemblekit", fits[0], fits[1], ours_blas),
            ("sklearn", fits[2], fits[3], worker_blas)):
        speedup = per_round_ratios(times[sequential.name], times[parallel.name])
        verdict = "oversubscribed" if busiest[lib] > cores else "never oversubscribed"
        table.rows.append([lib, Spread.of(times[sequential.name]).fmt(".3g"),
                           Spread.of(times[parallel.name]).fmt(".3g"),
                           speedup.fmt(".2f", "x"), ", ".join(map(str, threads)),
                           f"{busiest[lib]} ({verdict})"])
        key = "ensemble/speedup" if lib == "ensemblekit" else f"ensemble/{lib}_speedup"
        result.metrics[key] = speedup.median
    result.metrics["ensemble/threads_per_core"] = busiest["ensemblekit"] / cores
    emit(table.text())
    return result


def run_section(config: RunConfig) -> SectionResult:
    """The harness's ``ensemble`` section.

    Parameters
    ----------
    config : RunConfig
        The run; ``--quick`` trains tiny members for a few epochs.

    Returns
    -------
    SectionResult
        See :func:`measure`.
    """
    setup = EnsembleSetup(epochs=3, hidden=(16,)) if config.quick else EnsembleSetup()
    return measure(setup, config.rounds, config.emit)


def main(argv: list[str] | None = None) -> float:
    """Run the benchmark on its own and print its table.

    Parameters
    ----------
    argv : list of str, optional
        Command-line arguments (default: ``sys.argv[1:]``).

    Returns
    -------
    ratio : float
        Median of the rounds' ``n_jobs=1`` / ``n_jobs=2`` wall-time ratios of
        ensemblekit's ensemble.
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=4, help="ensemble members")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved timing rounds")
    parser.add_argument("--epochs", type=int, default=40, help="epochs per member")
    parser.add_argument("--jobs", type=int, default=2, help="parallel workers to compare")
    args = parser.parse_args(argv)
    setup = EnsembleSetup(members=args.members, epochs=args.epochs, jobs=args.jobs)
    return measure(setup, args.rounds).metrics["ensemble/speedup"]


if __name__ == "__main__":
    main()
