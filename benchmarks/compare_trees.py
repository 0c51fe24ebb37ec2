"""Interleaved epoch times of the same workload in two or more checkouts.

Each round runs one process per checkout (``PYTHONPATH`` set to it), in turn, so
that load on the machine hits every checkout alike; each process warms up
(numba compilation, caches), then times three epochs (``partial_fit`` over the
mnist-like float32 workload: 20,000 x 784, 784-256-256-10, Adam, batch 128) and
reports its fastest.  BLAS and ensemblekit are held to one thread, so that the
comparison is of the code, not of the thread count, and the time is the
process's CPU time: on a machine other work keeps busy, wall time measures the
other work as much as the code.  Prints every round and,
per checkout, the fastest and the median round.

Run: ``python -m benchmarks.compare_trees OLD_CHECKOUT NEW_CHECKOUT [--rounds 5]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys

EPOCH = """
import time, warnings
import numpy as np
warnings.simplefilter("ignore")
from ensemblekit import MLPClassifier
rng = np.random.default_rng(0)
X = rng.random((20000, 784), dtype=np.float32)
y = rng.integers(0, 10, 20000)
clf = MLPClassifier(hidden_layer_sizes=(256, 256), batch_size=128, alpha=0.0,
                    random_state=0)
clf.partial_fit(X[:2000], y[:2000], classes=np.arange(10))
times = []
for _ in range(3):
    start = time.process_time()
    clf.partial_fit(X, y)
    times.append(time.process_time() - start)
print(min(times))
"""


def epoch_time(checkout: str) -> float:
    """The fastest of three epochs (CPU seconds), in a fresh process importing ``checkout``."""
    env = dict(os.environ, PYTHONPATH=checkout, OPENBLAS_NUM_THREADS="1",
               OMP_NUM_THREADS="1", ENSEMBLEKIT_NUM_THREADS="1")
    out = subprocess.run([sys.executable, "-c", EPOCH], env=env, capture_output=True,
                         text=True, check=True, timeout=600)
    return float(out.stdout.split()[-1])


def main() -> None:
    """Run the rounds and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkouts", nargs="+")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    times: dict[str, list[float]] = {c: [] for c in args.checkouts}
    for r in range(args.rounds):
        for checkout in args.checkouts:
            times[checkout].append(epoch_time(checkout))
        print(f"round {r + 1}: " + "  ".join(f"{t[-1]:.3f}" for t in times.values()))
    first = args.checkouts[0]
    for checkout, values in times.items():
        print(f"{checkout}: fastest {min(values):.3f} s, median {statistics.median(values):.3f} s"
              f" ({min(values) / min(times[first]):.2f}x the first's fastest)")


if __name__ == "__main__":
    main()
