"""Peak memory of one training epoch, one fresh subprocess per contender.

The child (``python -m benchmarks.memory NAME ROWS``) builds float32 data,
records its peak RSS, then trains one epoch (initialisation included) under
:mod:`tracemalloc`, which sees every numpy allocation.  What the epoch
allocated beyond ``X`` tells whether the library copied ``X`` (a float64
copy is twice its size).  PyTorch's allocations are invisible to
tracemalloc: its row reports the RSS growth only.
"""

from __future__ import annotations

import gc
import json
import os
import resource
import subprocess
import sys
import tracemalloc

from .contenders import (
    TorchContender,
    ensemblekit_contender,
    sklearn_contender,
    synthetic,
    torch_available,
)
from .report import RunConfig, SectionResult, Table
from .sections import workloads

_MB = 1024.0 ** 2


def _max_rss() -> int:
    # ru_maxrss is in KiB on Linux
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def measure(name: str, rows: int) -> dict:
    """Train one epoch of contender ``name`` on ``rows`` x 784 float32 rows.

    Parameters
    ----------
    name : {"ensemblekit", "sklearn", "torch"}
        The contender.
    rows : int
        Training rows.

    Returns
    -------
    dict
        ``x_bytes``; ``traced_peak`` (bytes numpy allocated at the peak,
        ``None`` for PyTorch); ``rss_growth`` (peak RSS over the peak before
        training).
    """
    mnist = workloads(quick=False)[0]  # the 784-256-256-10 network, batch 128
    hidden, batch = mnist.hidden, mnist.batch_size
    factories = {"ensemblekit": lambda: ensemblekit_contender(hidden, batch),
                 "sklearn": lambda: sklearn_contender(hidden, batch),
                 "torch": lambda: TorchContender(hidden, batch)}
    if name not in factories:
        raise ValueError(f"unknown contender {name!r}; expected one of {sorted(factories)}.")
    # a first tiny fit pays imports and lazy initialisation (PyTorch's kernels,
    # thread pools) before the baseline, so the growth measured is the epoch's
    factories[name]().start(*synthetic(256, seed=1))
    contender = factories[name]()
    X, y = synthetic(rows)
    gc.collect()
    before = _max_rss()
    traced = name != "torch"  # tracemalloc sees none of PyTorch's memory, and slows it
    if traced:
        tracemalloc.start()
    contender.start(X, y)
    peak = tracemalloc.get_traced_memory()[1] if traced else None
    tracemalloc.stop()
    return {"contender": name, "x_bytes": X.nbytes, "traced_peak": peak,
            "rss_growth": _max_rss() - before}


def _verdict(record: dict) -> str:
    if record["x_bytes"] < 64 * _MB:
        return "X too small to tell (the network's own buffers dominate)"
    extra = record["traced_peak"]
    if extra is None:
        extra = record["rss_growth"]
    ratio = extra / record["x_bytes"]
    if ratio >= 1.9:
        return "a float64 (or double) copy of X"
    if ratio >= 0.9:
        return "a copy of X"
    return "no copy of X"


def memory_section(config: RunConfig) -> SectionResult:
    """Run :func:`measure` for every contender, each in its own process.

    ``--quick`` measures ensemblekit alone, on 2,000 rows.

    Parameters
    ----------
    config : RunConfig
        The run.

    Returns
    -------
    SectionResult
        Metric ``"memory/<name>"``: peak extra memory over ``X``'s size.
    """
    rows = 2000 if config.quick else 200_000
    names = ["ensemblekit"]
    if not config.quick:  # a fresh interpreter each costs seconds: --quick keeps one
        names += ["sklearn"] + (["torch"] if config.torch and torch_available() else [])
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    table = Table(f"Peak memory of one training epoch, {rows:,} x 784 float32",
                  ["contender", "X", "numpy peak during fit", "peak RSS growth", "verdict"],
                  note="One fresh process per contender; the first epoch, initialisation "
                       "included. 'numpy peak' is tracemalloc's; PyTorch's allocations "
                       "are not traced, so its verdict reads the RSS growth.")
    result = SectionResult("memory", [table])
    for name in names:
        config.emit(f"  memory: {name}")
        done = subprocess.run([sys.executable, "-m", "benchmarks.memory", name, str(rows)],
                              cwd=root, capture_output=True, text=True, timeout=900,
                              check=False)
        if done.returncode:
            raise RuntimeError(f"memory benchmark of {name} failed:\n{done.stderr}")
        record = json.loads(done.stdout.strip().splitlines()[-1])
        traced = record["traced_peak"]
        table.rows.append([
            name, f"{record['x_bytes'] / _MB:.0f} MB",
            "n/a" if traced is None else f"{traced / _MB:.0f} MB",
            f"{record['rss_growth'] / _MB:.0f} MB", _verdict(record)])
        extra = record["rss_growth"] if traced is None else traced
        result.metrics[f"memory/{name}"] = extra / record["x_bytes"]
    config.emit(table.text())
    return result


if __name__ == "__main__":
    print(json.dumps(measure(sys.argv[1], int(sys.argv[2]))))
