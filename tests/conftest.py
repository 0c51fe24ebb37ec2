"""Fixtures shared by the test modules."""

import pytest

from ensemblekit import _compiled


@pytest.fixture(autouse=True)
def one_blas_thread(monkeypatch):
    """Run every test's fits and predicts on one BLAS thread unless the test sets another.

    Many tests compare two fits or two predictions bit for bit.  Under the default
    ``ENSEMBLEKIT_NUM_THREADS=auto`` a large fit or predict takes as many BLAS threads as
    the machine has idle cores at that moment, and OpenBLAS rounds float64 products
    differently at 1 and 2 threads, so such a comparison would depend on the load of
    the machine running the suite (a CI run failed that way).  The tests of the policy
    itself (``tests/test_threads.py``) set the variable they need.
    """
    monkeypatch.setenv("ENSEMBLEKIT_NUM_THREADS", "1")


@pytest.fixture
def kernels(monkeypatch):
    """Choose ``"numpy"`` passes or ``"compiled"`` numba loops for the next calls."""
    def use(kind):
        # an empty cache looks for numba again at the next call
        monkeypatch.setattr(_compiled, "_cache", {})
        monkeypatch.setenv("ENSEMBLEKIT_DISABLE_NUMBA", "1" if kind == "numpy" else "0")
    return use
