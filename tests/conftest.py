"""Fixtures shared by the test modules."""

import pytest

from ensemblekit import _compiled


@pytest.fixture
def kernels(monkeypatch):
    """Choose ``"numpy"`` passes or ``"compiled"`` numba loops for the next calls.

    The tests that use it compare two fits bit for bit, so it also pins one BLAS thread:
    under ``ENSEMBLEKIT_NUM_THREADS=auto`` the thread count follows the machine's load,
    and OpenBLAS rounds float64 products differently at 1 and 2 threads (a CI run failed
    that way; docs/getting-started.md and docs/performance.md describe the policy).
    """
    monkeypatch.setenv("ENSEMBLEKIT_NUM_THREADS", "1")

    def use(kind):
        # an empty cache looks for numba again at the next call
        monkeypatch.setattr(_compiled, "_cache", {})
        monkeypatch.setenv("ENSEMBLEKIT_DISABLE_NUMBA", "1" if kind == "numpy" else "0")
    return use
