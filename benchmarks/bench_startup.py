"""Start-up, first-call compile time, and single fits beside a competing process.

Sections (``--only NAME``)
--------------------------
``startup``
    Wall time of fresh interpreters: ``python -c pass``, ``import ensemblekit``,
    ``import sklearn.neural_network``, ``ensemblekit --help`` and ``ensemblekit
    plugins``, interleaved (hyperfine-style: every command once per round,
    median of the rounds).
``compile``
    What the first fit pays for numba: importing it and compiling the fused
    loops into an empty on-disk cache, then loading them from that cache in
    a second process.
``threads``
    One epoch of a single fit while a busy loop runs on one core: the
    default thread policy against one BLAS thread, and scikit-learn at its
    default against one thread, interleaved.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from unittest import mock

import numpy as np
from threadpoolctl import threadpool_limits

from .contenders import ensemblekit_contender, sklearn_contender, synthetic
from .report import RunConfig, SectionResult, Spread, Table, per_round_ratios

_CLI = [sys.executable, "-m", "ensemblekit"]
STARTUP_COMMANDS: dict[str, list[str]] = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "import ensemblekit": [sys.executable, "-c", "import ensemblekit"],
    "import sklearn.neural_network": [sys.executable, "-c", "import sklearn.neural_network"],
    "ensemblekit --help": [*_CLI, "--help"],
    "ensemblekit plugins": [*_CLI, "plugins"],
}


def _wall(command: list[str], env: dict[str, str] | None = None) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, env=env, timeout=300)
    return time.perf_counter() - start


def startup_section(config: RunConfig) -> SectionResult:
    """Wall time of fresh interpreters, every command once per round.

    Parameters
    ----------
    config : RunConfig
        The run.

    Returns
    -------
    SectionResult
        Metrics ``"startup/<command>"`` (median seconds) and
        ``"startup/import_ratio"`` (``import ensemblekit`` over
        ``import sklearn.neural_network``, per round).
    """
    rounds = config.rounds if config.quick else max(config.rounds, 5)
    times: dict[str, list[float]] = defaultdict(list)
    names = list(STARTUP_COMMANDS)
    for r in range(rounds):
        for name in names[r % len(names):] + names[:r % len(names)]:
            times[name].append(_wall(STARTUP_COMMANDS[name]))
    base = times["python -c pass"]
    table = Table("Start-up: fresh interpreters",
                  ["command", "s (median [min\u2013max])", "minus python -c pass"],
                  note=f"{rounds} interleaved rounds, one run of each command per round; "
                       "`ensemblekit` run as `python -m ensemblekit`.")
    result = SectionResult("startup", [table])
    for name in names:
        spread = Spread.of(times[name])
        extra = Spread.of([a - b for a, b in zip(times[name], base)])
        table.rows.append([name, spread.fmt(".3f"), extra.fmt(".3f")])
        result.metrics[f"startup/{name}"] = spread.median
    result.metrics["startup/import_ratio"] = per_round_ratios(
        times["import ensemblekit"], times["import sklearn.neural_network"]).median
    config.emit(table.text())
    return result


_COMPILE_PROBE = """
import time
start = time.perf_counter()
import numpy as np
from ensemblekit import _compiled, _layers, _optimizers
from ensemblekit.default_plugins import weight_decay
loops = [_layers._bias_relu_loop, _layers._relu_delta_sum_loop, _optimizers._adam_loop,
         weight_decay._add_scaled_loop]
t0 = time.perf_counter()
for dtype in (np.float32, np.float64):
    Z = np.ones((4, 3), dtype); b = np.ones(3, dtype); g = np.ones(3, dtype)
    flat = np.ones(8, dtype); s = dtype(0.5)
    _compiled.compiled(loops[0])(Z, b, s)
    _compiled.compiled(loops[1])(Z, Z.copy(), g, s)
    _compiled.compiled(loops[2])(flat, flat.copy(), flat.copy(), flat.copy(), s, s, s, s, s, s)
    _compiled.compiled(loops[3])(flat, flat.copy(), s)
print(time.perf_counter() - t0)
"""


def compile_section(config: RunConfig) -> SectionResult:
    """First-call cost of the compiled loops: cold (empty cache) and warm (cached).

    Parameters
    ----------
    config : RunConfig
        The run.

    Returns
    -------
    SectionResult
        Metrics ``"compile/cold"`` and ``"compile/warm"`` (seconds, median).
    """
    cold, warm = [], []
    for _ in range(1 if config.quick else 3):
        with tempfile.TemporaryDirectory() as cache:
            env = {**os.environ, "NUMBA_CACHE_DIR": cache, "ENSEMBLEKIT_DISABLE_NUMBA": "0"}
            for store in (cold, warm):
                out = subprocess.run([sys.executable, "-c", _COMPILE_PROBE], env=env,
                                     check=True, capture_output=True, text=True, timeout=600)
                store.append(float(out.stdout.split()[-1]))
    table = Table("First use of the compiled loops (numba import + compile or cache load)",
                  ["cache", "s (median [min\u2013max])"],
                  note="4 loops x float32 and float64, in a fresh process with an empty "
                       "NUMBA_CACHE_DIR (cold), then a second process on that cache (warm). "
                       "`import ensemblekit` and `ensemblekit --help` pay neither: numba is "
                       "imported on the first training step.")
    table.rows += [["cold: import numba, compile, write the cache", Spread.of(cold).fmt(".2f")],
                   ["warm: import numba, load from the cache", Spread.of(warm).fmt(".2f")]]
    config.emit(table.text())
    return SectionResult("compile", [table], {"compile/cold": Spread.of(cold).median,
                                              "compile/warm": Spread.of(warm).median})


def _busy_loop() -> subprocess.Popen:
    """A CPU-bound competitor pinned to the last core (stopped by the caller)."""
    code = ("import os\n"
            "if hasattr(os, 'sched_setaffinity'):\n"
            "    os.sched_setaffinity(0, {max(os.sched_getaffinity(0))})\n"
            "while True:\n    pass\n")
    return subprocess.Popen([sys.executable, "-c", code])


def threads_section(config: RunConfig) -> SectionResult:
    """Single-fit epochs beside a busy loop: default threads over one thread.

    Parameters
    ----------
    config : RunConfig
        The run.

    Returns
    -------
    SectionResult
        Metrics ``"threads/<contender>"``: median per-round ratio of the
        default's epoch time over the one-thread epoch time.
    """
    n_rows = 1024 if config.quick else 4000
    X, y = synthetic(n_rows)
    hidden, batch = ((64, 64), 128) if config.quick else ((256, 256), 128)
    pairs = {"ensemblekit": ensemblekit_contender, "sklearn": sklearn_contender}
    contenders = []
    for name, make in pairs.items():
        for threads in (None, 1):
            contender = make(hidden, batch)
            contender.name = f"{name}, {'default threads' if threads is None else '1 thread'}"
            contenders.append((contender, threads))
    competitor = _busy_loop()
    times: dict[str, list[float]] = defaultdict(list)
    # "default threads" is the thread policy, whatever the caller's environment sets
    policy = mock.patch.dict(os.environ, {"ENSEMBLEKIT_NUM_THREADS": "auto"})
    policy.start()
    try:
        time.sleep(0.5)  # the competitor is running
        for contender, threads in contenders:
            with threadpool_limits(limits=threads, user_api="blas"):
                contender.start(X, y)
        for r in range(config.rounds):
            k = r % len(contenders)
            for contender, threads in contenders[k:] + contenders[:k]:
                with threadpool_limits(limits=threads, user_api="blas"):
                    start = time.perf_counter()
                    contender.epoch()
                    times[contender.name].append(time.perf_counter() - start)
    finally:
        policy.stop()
        competitor.kill()
        competitor.wait()
    table = Table(
        f"Single fit beside a busy loop on one core ({n_rows:,} x 784, "
        f"{'-'.join(map(str, hidden))} ReLU, Adam, batch {batch})",
        ["contender", "s / epoch", "default \u00f7 1 thread"],
        note=f"A `while True: pass` process pinned to one core runs throughout; "
             f"{config.rounds} interleaved rounds. ensemblekit's default is its thread "
             "policy (ENSEMBLEKIT_NUM_THREADS=auto); scikit-learn's is the BLAS's own "
             f"{np.__name__} default. 1 thread: threadpool_limits(1) around the epoch.")
    result = SectionResult("threads", [table])
    for name in pairs:
        default, single = (times[f"{name}, default threads"], times[f"{name}, 1 thread"])
        ratio = per_round_ratios(default, single)
        table.rows.append([f"{name}, default threads", Spread.of(default).fmt(),
                           ratio.fmt(".2f", "x")])
        table.rows.append([f"{name}, 1 thread", Spread.of(single).fmt(), "\u2014"])
        result.metrics[f"threads/{name}"] = ratio.median
    config.emit(table.text())
    return result
