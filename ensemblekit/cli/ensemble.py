"""Where ``ensemblekit train`` trains an ensemble's members, and its progress.

``--n-estimators N`` (N > 1) makes the model an ensemble
(:func:`ensemblekit.config.build_model`); ``--backend`` / ``--scheduler``
choose where joblib trains the members (``loky`` processes, threads, or a
Dask cluster through joblib's ``dask`` backend).  Progress is reported per
finished member through :func:`ensemblekit.ensemble.member_progress`.
"""

from __future__ import annotations

import sys
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

    Parameters
    ----------
    mode : {"bar", "lines"} or None
        How to report.

    Returns
    -------
    report : callable or None
        Called with (members done, members in all, the member's status).
    close : callable
        Closes the bar.
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
