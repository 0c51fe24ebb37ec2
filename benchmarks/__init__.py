"""Benchmark harness of ensemblekit: ``python -m benchmarks [--quick] [--write-docs]``.

Every comparison runs **in one process, side by side and interleaved**: each
round runs one epoch of every contender (in a rotated order), a ratio is taken
between two contenders *within* a round, and the median, minimum and maximum
of those per-round ratios are reported.  The machine's speed drifts by up to
1.7x over minutes here, so numbers from different runs are not comparable;
ratios from the same round are.

Sections (``--only NAME``)
--------------------------
``gemm``
    The float32 / float64 GEMM peak of numpy's BLAS, the roof for GFLOP/s.
``mnist-like``, ``digits``, ``wide``
    Seconds per epoch of ensemblekit, scikit-learn, PyTorch CPU (optional)
    and the bare numpy matrix products of the same network, at float32 and
    float64.
``plugins``
    The cost of the Dropout and WeightDecay plugins.
``predict``
    ``predict`` latency for one row and throughput for 100,000 rows.
``memory``
    Peak memory of one training epoch on 200,000 x 784 float32 rows, one
    subprocess per contender.
``profile``
    Where one ensemblekit epoch spends its time (cProfile).
``ensemble``
    Speed-up of fitting a 4-member ensemble with ``n_jobs=2`` over
    ``n_jobs=1`` (ensemblekit and scikit-learn's bagging, loky) and the BLAS
    threads per worker (``benchmarks/bench_ensemble.py``, also runnable
    alone: ``python -m benchmarks.bench_ensemble``).
"""
