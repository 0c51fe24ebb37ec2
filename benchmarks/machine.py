"""The machine a run measured, and numpy's GEMM peak on it."""

from __future__ import annotations

import datetime
import importlib.metadata
import importlib.util
import os
import platform
import time
from typing import Any

import numpy as np
from threadpoolctl import threadpool_info

from ensemblekit._threads import usable_cores

from .report import Table

_LIBRARIES = ("numpy", "scipy", "scikit-learn", "ensemblekit", "torch", "threadpoolctl")


def cpu_model() -> str:
    """The CPU's model name from ``/proc/cpuinfo`` (or the platform's word).

    Returns
    -------
    str
    """
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"



def numpy_blas() -> dict[str, Any]:
    """threadpoolctl's record of the BLAS numpy itself links.

    Returns
    -------
    dict
        ``internal_api``, ``version``, ``architecture`` (the kernel OpenBLAS
        chose), ``num_threads``...; empty if threadpoolctl finds none.
    """
    blas = [i for i in threadpool_info() if i.get("user_api") == "blas"]
    for info in blas:
        if "numpy" in info.get("filepath", ""):
            return info
    return blas[0] if blas else {}


def library_versions() -> dict[str, str]:
    """Installed versions of the libraries the numbers depend on.

    Returns
    -------
    dict
        Distribution name to version, ``"not installed"`` when absent.
    """
    out = {"python": platform.python_version()}
    for name in _LIBRARIES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def machine_table(with_torch: bool) -> Table:
    """Describe the machine, BLAS and library versions of this run.

    Parameters
    ----------
    with_torch : bool
        Also report PyTorch's thread count (imports it, when installed).

    Returns
    -------
    Table
    """
    blas = numpy_blas()
    coretype = os.environ.get("OPENBLAS_CORETYPE")
    rows = [
        ["date (UTC)", datetime.datetime.now(datetime.timezone.utc).strftime(
            "%Y-%m-%d %H:%M")],
        ["CPU", cpu_model()],
        ["cores usable", str(usable_cores())],
        ["numpy BLAS", f"{blas.get('internal_api', '?')} {blas.get('version', '?')}, "
                       f"kernel {blas.get('architecture', '?')}, "
                       f"{blas.get('num_threads', '?')} threads"],
        ["OPENBLAS_CORETYPE", coretype if coretype else "unset"],
        ["load average at start (1 min)", f"{os.getloadavg()[0]:.2f}"],
    ]
    rows += [[name, version] for name, version in library_versions().items()]
    if with_torch and importlib.util.find_spec("torch") is not None:
        import torch

        rows.append(["torch threads", str(torch.get_num_threads())])
    return Table("Machine", ["what", "value"], rows)


def gemm_gflops(dtype: Any, n: int, repeats: int) -> float:
    """Best GFLOP/s of an ``n x n`` by ``n x n`` product over ``repeats`` runs.

    Parameters
    ----------
    dtype : numpy dtype
        ``float32`` or ``float64``.
    n : int
        Matrix size.
    repeats : int
        Timed products; the fastest counts (a peak, not a typical value).

    Returns
    -------
    float
    """
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n)).astype(dtype)
    b = rng.standard_normal((n, n)).astype(dtype)
    out = np.empty((n, n), dtype=dtype)
    np.matmul(a, b, out=out)  # warm-up: threads started, pages touched
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        np.matmul(a, b, out=out)
        best = min(best, time.perf_counter() - start)
    return 2.0 * n ** 3 / best / 1e9
