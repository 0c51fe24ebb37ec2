"""How many BLAS threads one fit (or one large predict) uses: the thread policy.

On a machine whose cores other processes also use, a multi-threaded BLAS
slows down badly: its threads wait for each other at every matrix product,
and a thread that is not scheduled stalls the others.  Measured on a 2-core
machine with other test suites running, one epoch of a 784-256-256-10
network took 22 s with 2 BLAS threads and 0.94 s with one.  On a quiet
machine, large layers do gain from every core.  So each fit chooses:

``ENSEMBLEKIT_NUM_THREADS=N`` (a positive integer)
    At most ``N`` BLAS threads, whatever the machine does.
``ENSEMBLEKIT_NUM_THREADS=auto`` (the default, also when unset or empty)
    * **1 thread for small layers**: when the largest matrix product of a
      step has fewer than :data:`SMALL_PRODUCT` multiply-adds, handing work
      to a second thread costs about what it saves;
    * otherwise **as many threads as there are idle cores**, measured from
      ``/proc/stat`` (the CPU time the *other* processes used since the last
      look, or over :data:`SAMPLE_SECONDS` on the first one), at least 1.
      Where ``/proc/stat`` does not exist (macOS, Windows) the 1-minute load
      average stands in.

Either way the limit is **never raised**: a caller that already capped the
BLAS (``threadpoolctl.threadpool_limits(1)``, an ensemble worker, a job
scheduler's ``OPENBLAS_NUM_THREADS``) keeps its cap, as threadpoolctl's and
scikit-learn's conventions ask.  The limit applies to the BLAS only
(``user_api="blas"``) and is lifted when the fit returns.

The number of threads can change the **last bits** of a result, as with any
BLAS: OpenBLAS runs small products through other kernels with one thread
than with several, which sum in another order (measured: float64 weights
differ by ~1e-16 after three epochs; float32 ones matched bit for bit here).
With ``auto`` that number depends on the machine's load, so a run that must
be bit-reproducible across loads sets ``ENSEMBLEKIT_NUM_THREADS=1`` (ensemble
members always run with one BLAS thread).
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator, Sequence
from typing import Any

#: The environment variable of the policy: ``auto`` or a positive integer.
ENV_VAR = "ENSEMBLEKIT_NUM_THREADS"
#: Below this many multiply-adds in the largest product of a step, one thread.
SMALL_PRODUCT = 1 << 21
#: How long the first look at ``/proc/stat`` watches the cores.
SAMPLE_SECONDS = 0.02
#: A core counts as idle when the others leave at least this share of it.
_IDLE_SHARE = 0.5

_controller: Any = None
# (monotonic time, total busy jiffies, this process's CPU seconds) of the last look
_last_look: tuple[float, float, float] | None = None


def _blas_controller() -> Any:
    """threadpoolctl's controller of the loaded BLAS libraries, found once per process."""
    global _controller
    if _controller is None:
        from threadpoolctl import ThreadpoolController

        _controller = ThreadpoolController().select(user_api="blas")
    return _controller


def blas_threads() -> int:
    """The number of threads the BLAS libraries may use now (the smallest limit).

    Finding the libraries costs ~2 ms once per process; reading their limit
    afterwards about a microsecond, so a limit set later is seen at once.

    Returns
    -------
    int
        At least 1.
    """
    return max(1, min((lib.num_threads for lib in _blas_controller().lib_controllers),
                      default=1))


def usable_cores() -> int:
    """Cores this process may run on.

    Returns
    -------
    int
    """
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _busy_jiffies() -> tuple[float, int] | None:
    """All cores' busy time from ``/proc/stat`` (seconds) and their number, or None."""
    try:
        with open("/proc/stat", encoding="ascii") as fh:
            lines = fh.read().splitlines()
    except OSError:
        return None
    fields = [float(v) for v in lines[0].split()[1:]]
    # user nice system idle iowait irq softirq steal (guest time is inside user)
    busy = sum(fields[:8]) - fields[3] - fields[4]
    cores = sum(1 for line in lines[1:] if line.startswith("cpu"))
    return busy / os.sysconf("SC_CLK_TCK"), cores


def idle_cores() -> float:
    """Cores that processes other than this one left idle, lately.

    Compares the machine's busy CPU time with this process's own CPU time
    since the previous call (over :data:`SAMPLE_SECONDS` on the first call).

    Returns
    -------
    float
        Between 0 and :func:`usable_cores`.
    """
    global _last_look
    cores = usable_cores()
    first = _busy_jiffies()
    if first is None:  # no /proc/stat: the 1-minute load average instead
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0  # counts us too
        return float(min(cores, max(0.0, cores - load)))
    now = (time.monotonic(), first[0], time.process_time())
    if _last_look is None or now[0] - _last_look[0] < SAMPLE_SECONDS:
        time.sleep(SAMPLE_SECONDS)
        _last_look = now
        second = _busy_jiffies()
        assert second is not None
        now = (time.monotonic(), second[0], time.process_time())
    elapsed = now[0] - _last_look[0]
    others = (now[1] - _last_look[1]) - (now[2] - _last_look[2])
    _last_look = now
    # /proc/stat counts every core of the machine, this process may use fewer
    return float(min(cores, max(0.0, first[1] - others / elapsed)))


def _requested() -> int | None:
    """``ENSEMBLEKIT_NUM_THREADS`` as a number, or None for ``auto``."""
    value = os.environ.get(ENV_VAR, "").strip().lower()
    if value in ("", "auto"):
        return None
    try:
        n = int(value)
    except ValueError:
        n = 0
    if n < 1:
        raise ValueError(f"{ENV_VAR} must be 'auto' or a positive integer, got {value!r}.")
    return n


def largest_product(layer_units: Sequence[int], rows: int) -> int:
    """Multiply-adds of the largest matrix product of a step over ``rows`` rows.

    Parameters
    ----------
    layer_units : sequence of int
        Units per layer, input and output included.
    rows : int
        Rows of the batch.

    Returns
    -------
    int
    """
    return rows * max((a * b for a, b in zip(layer_units[:-1], layer_units[1:])), default=0)


def threads_for_work(layer_units: Sequence[int], rows: int) -> int:
    """The BLAS threads the policy gives a fit (or a predict) of this size.

    Parameters
    ----------
    layer_units : sequence of int
        Units per layer, input and output included.
    rows : int
        Rows of one batch (the mini-batch of a fit, all rows of a predict).

    Returns
    -------
    int
        Never more than the current BLAS limit, at least 1.

    Raises
    ------
    ValueError
        If ``ENSEMBLEKIT_NUM_THREADS`` is neither ``auto`` nor a positive integer.
    """
    current = blas_threads()
    requested = _requested()
    if requested is not None:
        return min(requested, current)
    if current == 1 or largest_product(layer_units, rows) < SMALL_PRODUCT:
        return 1
    return max(1, min(current, int(idle_cores() + 1 - _IDLE_SHARE)))


@contextlib.contextmanager
def limit_for_work(layer_units: Sequence[int], rows: int,
                   small: bool = True) -> Iterator[None]:
    """Cap the BLAS at :func:`threads_for_work` threads for the ``with`` block.

    Parameters
    ----------
    layer_units : sequence of int
        Units per layer, input and output included.
    rows : int
        Rows of one batch.
    small : bool
        Also cap work below :data:`SMALL_PRODUCT` (a fit).  ``False`` leaves
        it alone (a predict: setting a limit costs ~25 us, more than a
        one-row predict, and OpenBLAS runs such small products on one thread
        by itself); ``ENSEMBLEKIT_NUM_THREADS=N`` is obeyed either way.

    Yields
    ------
    None
    """
    if not small and largest_product(layer_units, rows) < SMALL_PRODUCT and (
            _requested() is None):
        yield
        return
    threads = threads_for_work(layer_units, rows)
    if threads >= blas_threads():  # nothing to lower: no library call at all
        yield
        return
    with _blas_controller().limit(limits=threads):
        yield
