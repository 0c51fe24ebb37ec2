"""Ensemble options of ``ensemblekit train``: building the ensemble and its backend.

``--n-estimators N`` (N > 1) wraps the network ``train`` builds in an
:class:`~ensemblekit.EnsembleClassifier` or :class:`~ensemblekit.EnsembleRegressor`;
``--backend`` / ``--scheduler`` choose where joblib trains the members
(``loky`` processes, threads, or a Dask cluster through joblib's ``dask``
backend).  Progress is reported per finished member through
:func:`ensemblekit.ensemble.member_progress`.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import click
import joblib
from tqdm import tqdm

__all__ = ["ENSEMBLE_ONLY", "build_ensemble", "ensemble_options", "member_reporter",
           "parallel_backend"]

#: Options that only mean something for an ensemble, with their defaults.
ENSEMBLE_ONLY = {"combiner": "mean", "bootstrap": False, "strategy": None, "n_jobs": None,
                 "backend": "loky", "scheduler": None, "timeout": None}


def ensemble_options(command: Callable) -> Callable:
    """Add the ensemble options to a click command (``train``)."""
    options = [
        click.option("--n-estimators", type=click.IntRange(min=1), default=1,
                     show_default=True,
                     help="Networks averaged into an ensemble (1: a single network)."),
        click.option("--combiner", default="mean", show_default=True,
                     metavar="NAME[:KEY=VALUE,...]",
                     help="How members' outputs are merged: mean, vote, geometric_mean, "
                          "weighted_mean:weights=[W1,W2,...] (one weight per member) or "
                          "an installed combiner plugin."),
        click.option("--bootstrap/--no-bootstrap", default=False, show_default=True,
                     help="Train each member on a bootstrap sample (bagging)."),
        click.option("--strategy", default=None,
                     help="Ensemble strategy plugin: snapshot (members from one cyclic "
                          "run) or mc_dropout (dropout kept on at inference)."),
        click.option("--n-jobs", type=int, default=None,
                     help="Members trained at once (-1: one per core or Dask worker)."),
        click.option("--backend", type=click.Choice(["loky", "threading", "dask"]),
                     default="loky", show_default=True,
                     help="Where joblib trains the members."),
        click.option("--scheduler", metavar="ADDRESS", default=None,
                     help="Address of a running Dask scheduler (implies --backend dask), "
                          "e.g. tcp://10.0.0.5:8786."),
        click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=None,
                     help="Seconds the members may take on a parallel backend before "
                          "the fit fails (a dead worker otherwise hangs Dask)."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def build_ensemble(task: str, estimator: Any, options: dict) -> Any:
    """Wrap ``estimator`` in an ensemble when ``--n-estimators`` > 1.

    Parameters
    ----------
    task : {"classification", "regression"}
        Chooses :class:`~ensemblekit.EnsembleClassifier` or
        :class:`~ensemblekit.EnsembleRegressor`.
    estimator : estimator
        The unfitted network (one member's settings).
    options : dict
        ``train``'s options.

    Returns
    -------
    estimator
        ``estimator`` itself for one member, else the ensemble.

    Raises
    ------
    click.UsageError
        For ensemble options given with ``--n-estimators 1``.
    click.ClickException
        For an unknown combiner or strategy (the message lists the installed ones).
    """
    from .ensemble import EnsembleClassifier, EnsembleRegressor

    if options["n_estimators"] == 1:
        given = [f"--{name.replace('_', '-')}" for name, default in ENSEMBLE_ONLY.items()
                 if options[name] != default]
        if given:
            raise click.UsageError(f"{', '.join(given)}: an ensemble setting, but "
                                   "--n-estimators is 1; add --n-estimators N (N > 1)")
        return estimator
    cls = EnsembleClassifier if task == "classification" else EnsembleRegressor
    ensemble = cls(estimator=estimator, n_estimators=options["n_estimators"],
                   combiner=options["combiner"], bootstrap=options["bootstrap"],
                   strategy=options["strategy"], n_jobs=_n_jobs(options),
                   timeout=options["timeout"], random_state=options["random_state"])
    try:  # resolve and check the plugins now: a typo or bad weights fail before training
        ensemble.check_plugins()
    except (ValueError, TypeError) as exc:
        raise click.ClickException(str(exc)) from None
    return ensemble


def _n_jobs(options: dict) -> int | None:
    if options["n_jobs"] is not None:
        if options["n_jobs"] == 0:
            raise click.BadParameter("0 workers cannot train anything; give a positive "
                                     "number or -1 for all", param_hint="--n-jobs")
        return options["n_jobs"]
    return -1 if _uses_dask(options) else None


def _uses_dask(options: dict) -> bool:
    return options["backend"] == "dask" or options["scheduler"] is not None


@contextmanager
def parallel_backend(options: dict) -> Iterator[str]:
    """Run the block under the joblib backend the options ask for.

    Yields a short description of where the members train.  With
    ``--backend dask`` and no ``--scheduler`` a local cluster (one
    single-threaded worker process per core, on 127.0.0.1, no dashboard) is
    started for the block and closed after it.
    """
    if options["n_estimators"] == 1:
        yield "this process"
        return
    if not _uses_dask(options):
        with joblib.parallel_config(backend=options["backend"]):
            yield f"joblib {options['backend']}"
        return
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise click.ClickException(
            "--backend dask needs dask.distributed: pip install 'ensemblekit[dask]'"
        ) from None
    if options["scheduler"] is not None:
        try:
            client = Client(options["scheduler"], timeout="10s")
        except (OSError, TimeoutError, ValueError) as exc:
            raise click.ClickException(
                f"cannot reach the Dask scheduler at {options['scheduler']}: {exc}"
            ) from None
        where = f"Dask scheduler {options['scheduler']}"
        cluster = None
    else:
        workers = options["n_jobs"] if (options["n_jobs"] or 0) > 0 else None
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                               host="127.0.0.1", dashboard_address=None)
        client = Client(cluster)
        where = f"local Dask cluster ({len(cluster.workers)} workers)"
    try:
        with joblib.parallel_config(backend="dask"):
            yield where
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def member_reporter(
    mode: str | None,
) -> tuple[Callable[[int, int, dict[str, Any]], None] | None, Callable[[], None]]:
    """A :func:`~ensemblekit.ensemble.member_progress` callback for ``mode``, and a closer.

    ``"bar"`` advances a tqdm bar over the members,
    ``"lines"`` prints one line per finished member on stderr, ``None``
    reports nothing.
    """
    if mode is None:
        return None, lambda: None
    state: dict[str, Any] = {"bar": None}

    def report(done: int, total: int, status: dict) -> None:
        if mode == "bar":
            if state["bar"] is None:
                state["bar"] = tqdm(total=total, unit="member", file=sys.stderr, leave=False)
            state["bar"].update(1)
            return
        curve = status.get("loss_curve") or [float("nan")]
        click.echo(f"member {done}/{total}: {status.get('n_iter', 0)} epochs, final loss "
                   f"{curve[-1]:.4g}" + (" (diverged)" if status.get("diverged") else ""),
                   err=True)

    def close() -> None:
        if state["bar"] is not None:
            state["bar"].close()

    return report, close
