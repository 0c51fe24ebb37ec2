"""Command line of the harness and the generated ``docs/performance.md``.

``python -m benchmarks [--quick] [--rounds N] [--only NAME ...] [--no-torch]
[--threads N] [--write-docs [--docs-path PATH]]``
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import os
import re
import time
from collections.abc import Callable
from pathlib import Path

from threadpoolctl import threadpool_limits

from .bench_ensemble import run_section as ensemble_section
from .bench_startup import compile_section, startup_section, threads_section
from .contenders import torch_available
from .machine import machine_table
from .memory import memory_section
from .report import RunConfig, SectionResult, Table
from .sections import (
    epochs_section,
    gemm_section,
    plugins_section,
    predict_section,
    profile_section,
    workloads,
)

DOCS_PATH = Path(__file__).resolve().parent.parent / "docs" / "performance.md"
NOTES_START, NOTES_END = "<!-- notes:start -->", "<!-- notes:end -->"

# (label, metric key, goal, "max": at most the goal / "min": at least the goal,
#  shown as "x": a ratio / "%": a share)
TARGETS: tuple[tuple[str, str, float, str, str], ...] = (
    ("mnist-like float32: ensemblekit \u00f7 numpy-matmul floor epoch time",
     "mnist-like/float32/ensemblekit/numpy matmuls only", 1.35, "max", "x"),
    ("mnist-like float32: ensemblekit \u00f7 sklearn epoch time",
     "mnist-like/float32/ensemblekit/sklearn", 0.35, "max", "x"),
    ("mnist-like float32: ensemblekit \u00f7 PyTorch (fused Adam) epoch time",
     "mnist-like/float32/ensemblekit/torch (fused Adam)", 0.75, "max", "x"),
    ("mnist-like float64: ensemblekit \u00f7 sklearn epoch time",
     "mnist-like/float64/ensemblekit/sklearn", 0.45, "max", "x"),
    ("Dropout + WeightDecay \u00f7 no plugins epoch time",
     "plugins/dropout+weight_decay", 1.08, "max", "x"),
    ("default alpha (1e-4) \u00f7 alpha=0 epoch time",
     "plugins/default_alpha", 1.03, "max", "x"),
    ("Ensemble of 4: n_jobs=2 speed-up over n_jobs=1",
     "ensemble/speedup", 1.85, "min", "x"),
    ("Ensemble: workers x BLAS threads \u00f7 cores (never oversubscribed)",
     "ensemble/threads_per_core", 1.0, "max", "x"),
    ("predict 1 row: ensemblekit \u00f7 sklearn latency",
     "predict/latency_ratio/sklearn", 0.25, "max", "x"),
    ("predict 100,000 rows (--quick: 2,000): ensemblekit \u00f7 sklearn throughput",
     "predict/throughput_ratio/sklearn", 1.5, "min", "x"),
    ("predict 100,000 rows: ensemble of 5 \u00f7 one network time",
     "predict/ensemble_of_5", 5.5, "max", "x"),
    ("import ensemblekit \u00f7 import sklearn.neural_network",
     "startup/import_ratio", 1.0, "max", "x"),
    ("ensemblekit --help: seconds", "startup/ensemblekit --help", 0.3, "max", "s"),
    ("ensemblekit plugins: seconds", "startup/ensemblekit plugins", 0.6, "max", "s"),
    ("Single fit beside a busy core: default \u00f7 1-thread epoch time",
     "threads/ensemblekit", 1.3, "max", "x"),
)


def sections(quick: bool) -> dict[str, Callable[[RunConfig], SectionResult]]:
    """Every section by its ``--only`` name, in run order.

    Parameters
    ----------
    quick : bool
        Picks the workload sizes.

    Returns
    -------
    dict
        Name to a function of the run's :class:`RunConfig`.
    """
    out: dict[str, Callable[[RunConfig], SectionResult]] = {"gemm": gemm_section}
    for workload in workloads(quick):
        out[workload.name] = functools.partial(epochs_section, workload=workload)
    out.update(plugins=plugins_section, predict=predict_section, memory=memory_section,
               profile=profile_section, ensemble=ensemble_section, startup=startup_section,
               compile=compile_section, threads=threads_section)
    return out


def _show(value: float, unit: str) -> str:
    if unit == "%":
        return f"{100 * value:.0f} %"
    return f"{value:.2f} s" if unit == "s" else f"{value:.2f}x"


def targets_table(metrics: dict[str, float]) -> Table:
    """Compare the measured medians with the issue's targets.

    Parameters
    ----------
    metrics : dict
        Every section's metrics, merged.

    Returns
    -------
    Table
        One row per target; "not measured" for a section that did not run
        (``--only``) or a contender that is not installed (PyTorch).
    """
    table = Table("Targets", ["target", "goal", "measured (median)", "status"],
                  note="Ratios are medians of per-round ratios; a target is met when the "
                       "median meets it.")
    for label, key, goal, kind, unit in TARGETS:
        wanted = ("\u2264 " if kind == "max" else "\u2265 ") + _show(goal, unit)
        if key not in metrics:
            table.rows.append([label, wanted, "\u2014", "not measured"])
            continue
        value = metrics[key]
        shown = _show(value, unit)
        if (value <= goal) if kind == "max" else (value >= goal):
            status = "met"
        elif kind == "max":
            status = f"missed: {100 * (value / goal - 1):.0f} % over"
        else:
            status = f"missed: {100 * (1 - value / goal):.0f} % short"
        table.rows.append([label, wanted, shown, status])
    return table


def _notes(path: Path) -> str:
    if path.exists():
        found = re.search(re.escape(NOTES_START) + r"\n(.*?)" + re.escape(NOTES_END),
                          path.read_text(encoding="utf-8"), flags=re.S)
        if found:
            return found.group(1)
    return "_No notes yet._\n"


def render_docs(tables: list[Table], config: RunConfig, ran: list[str], notes: str) -> str:
    """The Markdown of ``docs/performance.md``.

    Parameters
    ----------
    tables : list of Table
        Machine, targets and every section's tables, in order.
    config : RunConfig
        The run (rounds, quick).
    ran : list of str
        Section names run.
    notes : str
        Hand-written notes, kept across regenerations.

    Returns
    -------
    str
    """
    size = ", --quick sizes" if config.quick else ""
    head = f"""# Performance

This page is generated by `python -m benchmarks --write-docs`; only the text between
the notes markers at the end is written by hand (regenerating keeps it). Sections run:
{", ".join(f"`{name}`" for name in ran)}; {config.rounds} timed round(s){size}.

## How it measures

* **Interleaved, in one process.** Each round trains one epoch of every contender, in an
  order rotated each round; a ratio is taken between two contenders *within* a round, and
  the tables give the median and the [min\u2013max] of those per-round ratios. The
  machine's speed drifts (by up to 1.7x here), so only numbers from the same run compare.
* **The same training.** scikit-learn's `MLPClassifier` and ensemblekit's get the same
  architecture, Adam, batch size, `alpha=0` and dtype; each timed epoch is one
  `partial_fit` call (checked: `t_` grows by exactly one epoch of samples), after one
  untimed warm-up epoch. PyTorch (optional) trains the same network with its default
  Adam and with `fused=True`, shuffled mini-batches gathered by `index_select`.
* **The roof.** *numpy matmuls only* runs just the matrix products of the same training
  (forward, weight gradients, deltas) into preallocated buffers: the floor for a numpy
  MLP with this BLAS. GFLOP/s counts 6 x weights x samples per epoch (forward 2, backward
  4), against a 2048 x 2048 numpy product timed in every round (so what else the machine
  was doing hits the peak and the contenders alike).

Run it: `python -m benchmarks` (all sections, a few minutes), `--quick` (small sizes),
`--only mnist-like --only profile`, `--rounds 9`, `--no-torch`, `--threads 1`,
`--write-docs`. PyTorch is never a dependency; install it (`pip install torch`) to
include it. `--threads N` caps every contender (numpy's BLAS and OpenMP through
threadpoolctl, PyTorch's intra-op threads) at N threads: on a machine shared with other
CPU-bound processes, multi-threaded BLAS slows down by an order of magnitude (see the
notes) and a one-thread run is the comparison that still means something.
"""
    body = "\n\n".join(t.markdown() for t in tables)
    return (f"{head}\n## Results\n\n{body}\n\n## Notes\n\n{NOTES_START}\n{notes}"
            f"{NOTES_END}\n")


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Interleaved benchmarks of ensemblekit against scikit-learn and "
                    "PyTorch; see docs/performance.md.")
    parser.add_argument("--quick", action="store_true",
                        help="small sizes and 2 rounds (the smoke test)")
    parser.add_argument("--rounds", type=int, default=None,
                        help="timed rounds per comparison (default 4, --quick 2)")
    parser.add_argument("--only", action="append", default=[], metavar="NAME",
                        help="run only this section (repeatable, or comma-separated)")
    parser.add_argument("--no-torch", action="store_true",
                        help="leave PyTorch out even when it is installed")
    parser.add_argument("--threads", type=int, default=None, metavar="N",
                        help="cap every contender's BLAS/OpenMP/PyTorch threads at N "
                             "(default: the libraries' own defaults)")
    parser.add_argument("--write-docs", action="store_true",
                        help="regenerate docs/performance.md from this run")
    parser.add_argument("--docs-path", type=Path, default=DOCS_PATH,
                        help="where --write-docs writes (default docs/performance.md)")
    args = parser.parse_args(argv)
    if args.rounds is not None and args.rounds < 1:
        parser.error(f"--rounds must be at least 1, got {args.rounds}.")
    if args.threads is not None and args.threads < 1:
        parser.error(f"--threads must be at least 1, got {args.threads}.")
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the harness.

    Parameters
    ----------
    argv : list of str or None
        Command-line arguments (``sys.argv[1:]`` when ``None``).

    Returns
    -------
    int
        Exit status: 0 on success, 2 for an unknown section name.
    """
    args = _parse(argv)
    config = RunConfig(quick=args.quick,
                       rounds=args.rounds or (2 if args.quick else 4),
                       torch=not args.no_torch)
    available = sections(args.quick)
    wanted = [n.strip() for item in args.only for n in item.split(",") if n.strip()]
    unknown = [n for n in wanted if n not in available]
    if unknown:
        print(f"unknown section(s) {unknown}; choose from {list(available)}.")
        return 2
    ran = wanted or list(available)
    with _thread_cap(args.threads, config.torch and torch_available()):
        return _run(args, config, available, ran)


@contextlib.contextmanager
def _thread_cap(threads: int | None, with_torch: bool):
    """Cap BLAS, OpenMP and PyTorch threads at ``threads`` for the run (None: no cap)."""
    if threads is None:
        yield
        return
    torch_before = None
    if with_torch:
        import torch

        torch_before = torch.get_num_threads()
        torch.set_num_threads(threads)
    try:
        with threadpool_limits(limits=threads):
            yield
    finally:
        if torch_before is not None:
            torch.set_num_threads(torch_before)


def _run(args: argparse.Namespace, config: RunConfig,
         available: dict[str, Callable[[RunConfig], SectionResult]], ran: list[str]) -> int:
    machine = machine_table(config.torch)
    if args.threads is not None:
        machine.rows.append(["threads per contender (--threads)", str(args.threads)])
    print(machine.text())
    if not (config.torch and torch_available()):
        print("PyTorch is not installed (or --no-torch): its contenders are skipped.")
    results = []
    for name in ran:
        print(f"\n# {name}")
        start = time.perf_counter()
        results.append(available[name](config))
        print(f"({name}: {time.perf_counter() - start:.0f} s)")
    # other work on the machine skews a run: say how busy it was at the end too
    machine.rows.append(["load average at end (1 min)", f"{os.getloadavg()[0]:.2f}"])
    metrics = {k: v for r in results for k, v in r.metrics.items()}
    targets = targets_table(metrics)
    if targets.rows:
        print("\n" + targets.text())
    if args.write_docs:
        tables = [machine] + ([targets] if targets.rows else []) + [
            t for r in results for t in r.tables]
        text = render_docs(tables, config, ran, _notes(args.docs_path))
        args.docs_path.parent.mkdir(parents=True, exist_ok=True)
        args.docs_path.write_text(text, encoding="utf-8")
        print(f"\nwrote {args.docs_path}")
    return 0
