"""Where ``ensemblekit train`` trains an ensemble's members, and its progress.

``--n-estimators N`` (N > 1) makes the model an ensemble
(:func:`ensemblekit.config.build_model`); ``--backend`` / ``--scheduler``
choose where joblib trains the members (``loky`` processes, threads, or a
Dask cluster through joblib's ``dask`` backend).  Progress is reported per
epoch of all members together (per finished member on Dask) through
:func:`ensemblekit.ensemble.member_progress`.
"""

from __future__ import annotations

import logging
import sys
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import click
import joblib
from tqdm import tqdm

from ..config import uses_dask

__all__ = ["member_reporter", "parallel_backend"]

@contextmanager
def parallel_backend(options: dict) -> Iterator[str]:
    """Run the block under the joblib backend the options ask for.

    Yields a short description of where the members train.  With
    ``--backend dask`` and no ``--scheduler`` a local cluster (one
    single-threaded worker process per core, on 127.0.0.1, no dashboard) is
    started for the block and closed after it.

    Parameters
    ----------
    options : dict
        ``train``'s options (``n_estimators``, ``backend``, ``scheduler``,
        ``n_jobs``).

    Yields
    ------
    str
        Where the members train.
    """
    if options["n_estimators"] == 1:
        yield "this process"
        return
    if not uses_dask(options):
        with joblib.parallel_config(backend=options["backend"]):
            yield f"joblib {options['backend']}"
        return
    try:
        from distributed import Client, LocalCluster
        from distributed.utils import silence_logging_cmgr
    except ImportError:
        raise click.ClickException(
            "--backend dask needs dask.distributed: pip install 'ensemblekit[dask]'"
        ) from None
    # distributed logs to stderr (cluster start, workers shutting down): errors only,
    # nothing with --quiet; its warnings (a port in use...) become our one-liners
    level = logging.CRITICAL + 1 if options["quiet"] else logging.ERROR
    with silence_logging_cmgr(level), warnings.catch_warnings(record=True) as caught:
        try:
            yield from _dask_cluster(options, level, Client, LocalCluster)
        finally:
            if not options["quiet"]:
                for w in caught:
                    click.echo(f"warning: {str(w.message).splitlines()[0]}", err=True)


def _dask_cluster(options: dict, level: int, client_class: Any,
                  cluster_class: Any) -> Iterator[str]:
    """Connect to the scheduler or start a local cluster; yield where members train."""
    if options["scheduler"] is not None:
        try:
            client = client_class(options["scheduler"], timeout="10s")
        except (OSError, TimeoutError, ValueError) as exc:
            raise click.ClickException(
                f"cannot reach the Dask scheduler at {options['scheduler']}: {exc}"
            ) from None
        where = f"Dask scheduler {options['scheduler']}"
        cluster = None
    else:
        workers = options["n_jobs"] if (options["n_jobs"] or 0) > 0 else None
        # no dashboard; the scheduler's HTTP server (health checks) on a free port
        cluster = cluster_class(n_workers=workers, threads_per_worker=1, processes=True,
                                host="127.0.0.1", dashboard_address=None,
                                scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
                                silence_logs=level)
        client = client_class(cluster)
        where = f"local Dask cluster ({len(cluster.workers)} workers)"
    try:
        with joblib.parallel_config(backend="dask"):
            yield where
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def member_reporter(mode: str | None) -> tuple[
        Callable[[int, int, dict[str, Any]], None] | None,
        Callable[[int, int], None] | None, Callable[[], None]]:
    """:func:`~ensemblekit.ensemble.member_progress` callbacks for ``mode``, and a closer.

    ``"bar"`` draws a tqdm bar over the epochs of all members together
    (``members 2/5 done`` beside it), or over the members on a backend that
    reports no epochs (Dask); ``"lines"`` prints one line per finished member
    on stderr; ``None`` reports nothing.

    Parameters
    ----------
    mode : {"bar", "lines"} or None
        How to report.

    Returns
    -------
    report : callable or None
        Called with (members done, members in all, the member's status).
    epochs : callable or None
        Called with (epochs done, epochs in all); ``None`` but for ``"bar"``.
    close : callable
        Closes the bar.
    """
    if mode is None:
        return None, None, lambda: None
    bars: list[tqdm] = []

    def epochs(done: int, total: int) -> None:
        if not bars:
            bars.append(tqdm(total=total, unit="epoch", file=sys.stderr, leave=False,
                             desc="members 0 done"))
        bars[0].update(done - bars[0].n)

    def report(done: int, total: int, status: dict) -> None:
        if mode == "bar":
            if not bars:  # no epochs came first: the backend reports members only
                bars.append(tqdm(total=total, unit="member", file=sys.stderr, leave=False))
            if bars[0].unit == "member":
                bars[0].update(1)
            else:
                bars[0].set_description(f"members {done}/{total} done")
            return
        curve = status.get("loss_curve") or [float("nan")]
        click.echo(f"member {done}/{total}: {status.get('n_iter', 0)} epochs, final loss "
                   f"{curve[-1]:.4g}" + (" (diverged)" if status.get("diverged") else ""),
                   err=True)

    def close() -> None:
        for bar in bars:
            bar.close()

    return report, (epochs if mode == "bar" else None), close
