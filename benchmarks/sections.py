"""The measured sections: GEMM peak, epoch comparisons, plugins, predict, profile."""

from __future__ import annotations

import cProfile
import gc
import pstats
import time
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import numpy as np

from ensemblekit import Dropout, WeightDecay

from .contenders import (
    GemmProbe,
    Workload,
    ensemblekit_contender,
    sklearn_contender,
    synthetic,
    torch_available,
    training_contenders,
)
from .machine import gemm_gflops
from .report import RunConfig, SectionResult, Spread, Table, per_round_ratios

DTYPES = (np.float32, np.float64)


def workloads(quick: bool) -> list[Workload]:
    """The epoch-comparison workloads, full size or ``--quick``.

    Parameters
    ----------
    quick : bool
        Small sizes for the smoke test.

    Returns
    -------
    list of Workload
        mnist-like, digits and wide.
    """
    if quick:
        return [Workload("mnist-like", 1024, (64, 64), 128),
                Workload("digits", 0, (32,), 128, source="digits"),
                Workload("wide", 512, (256, 256), 256)]
    return [Workload("mnist-like", 20_000, (256, 256), 128),
            # an epoch of digits takes milliseconds: time six per round
            Workload("digits", 0, (128, 128), 128, epochs_per_round=6, source="digits"),
            Workload("wide", 2048, (2048, 2048), 512)]


def interleave(contenders: Sequence[Any], rounds: int,
               epochs_per_round: int = 1) -> dict[str, list[float]]:
    """Seconds per epoch of every contender, round by round.

    Each round runs every contender once, in an order rotated by one each
    round, so slow drift of the machine and any order effect hit all alike.

    Parameters
    ----------
    contenders : sequence
        Started contenders (``name`` and ``epoch()``).
    rounds : int
        Timed rounds.
    epochs_per_round : int
        Epochs timed back to back per contender and round; their mean counts.

    Returns
    -------
    dict
        Contender name to one time per round.
    """
    times: dict[str, list[float]] = {c.name: [] for c in contenders}
    for r in range(rounds):
        gc.collect()
        k = r % len(contenders)
        for contender in [*contenders[k:], *contenders[:k]]:
            start = time.perf_counter()
            for _ in range(epochs_per_round):
                contender.epoch()
            times[contender.name].append((time.perf_counter() - start) / epochs_per_round)
    return times


def _probe_size(config: RunConfig) -> int:
    return 256 if config.quick else 2048


def gemm_section(config: RunConfig) -> SectionResult:
    """Measure numpy's GEMM peaks alone (each epoch table probes its own per round).

    Parameters
    ----------
    config : RunConfig
        The run.

    Returns
    -------
    SectionResult
    """
    n = _probe_size(config)
    table = Table("numpy GEMM peak", ["dtype", "GFLOP/s"],
                  note=f"Best of five {n} x {n} products (2 n^3 FLOPs each), measured "
                       "alone; the epoch tables take their peak from a product timed in "
                       "every round instead.")
    result = SectionResult("gemm", [table])
    for dtype in DTYPES:
        peak = gemm_gflops(dtype, n, 5)
        table.rows.append([np.dtype(dtype).name, f"{peak:.0f}"])
        result.metrics[f"gemm/{np.dtype(dtype).name}"] = peak
    config.emit(table.text())
    return result


def _flops_per_epoch(units: list[int], n_samples: int) -> float:
    # forward 2 and backward 4 FLOPs per weight and sample
    return 6.0 * n_samples * sum(a * b for a, b in zip(units[:-1], units[1:]))


def epochs_section(config: RunConfig, workload: Workload) -> SectionResult:
    """Seconds per epoch of every contender on ``workload``, float32 and float64.

    Parameters
    ----------
    config : RunConfig
        The run.
    workload : Workload
        What to train.

    Returns
    -------
    SectionResult
        One table per dtype; metrics ``"<workload>/<dtype>/ensemblekit/<name>"``
        (median per-round time ratio) and ``".../peak_fraction"``.
    """
    result = SectionResult(workload.name)
    with_torch = config.torch and torch_available()
    for dtype in DTYPES:
        X, y = workload.data(dtype)
        units = workload.layer_units(X.shape[1], int(y.max()) + 1)
        probe = GemmProbe(_probe_size(config))
        contenders = [*training_contenders(workload.hidden, workload.batch_size, with_torch),
                      probe]
        for contender in contenders:
            contender.start(X, y)
        name = np.dtype(dtype).name
        config.emit(f"  {workload.name} {name}: {config.rounds} rounds of "
                    f"{len(contenders)} contenders")
        times = interleave(contenders, config.rounds, workload.epochs_per_round)
        flops = _flops_per_epoch(units, X.shape[0])
        ours = times[contenders[0].name]
        table = Table(
            f"{workload.name}, {name}: "
            + workload.describe(X.shape[0], X.shape[1], units[-1]),
            ["contender", "s / epoch", "GFLOP/s", "% of GEMM peak",
             "ensemblekit time \u00f7 this"],
            note=(f"{flops / 1e9:.2f} GFLOP per epoch (6 x weights x samples); the peak "
                  f"is the {probe.n}x{probe.n} product timed in the same round "
                  f"(median {probe.flops / Spread.of(times[probe.name]).median / 1e9:.0f}"
                  f" GFLOP/s); median [min\u2013max] of {config.rounds} interleaved "
                  "rounds."
                  + ("" if with_torch else " PyTorch not installed (or --no-torch): "
                     "skipped.")))
        for contender in contenders[:-1]:
            t = Spread.of(times[contender.name])
            # flops / t_contender over probe flops / t_probe, round by round
            share = Spread.of([100 * flops * tp / (probe.flops * tc) for tc, tp in zip(
                times[contender.name], times[probe.name])])
            ratio = per_round_ratios(ours, times[contender.name])
            table.rows.append([contender.name, t.fmt(".3g"), f"{flops / t.median / 1e9:.1f}",
                               share.fmt(".0f", " %"),
                               "\u2014" if contender is contenders[0] else ratio.fmt(".2f", "x")])
            key = f"{workload.name}/{name}/ensemblekit/{contender.name}"
            result.metrics[key] = ratio.median
            if contender is contenders[0]:
                result.metrics[f"{workload.name}/{name}/peak_fraction"] = share.median / 100
        result.tables.append(table)
        config.emit(table.text())
    return result


def plugins_section(config: RunConfig) -> SectionResult:
    """The cost of Dropout and WeightDecay on the mnist-like float32 workload.

    Parameters
    ----------
    config : RunConfig
        The run.

    Returns
    -------
    SectionResult
        Metrics ``"plugins/dropout+weight_decay"`` and
        ``"plugins/default_alpha"``: median per-round time ratios of both
        plugins, and of the estimator's default ``alpha=1e-4``, over none.
    """
    workload = workloads(config.quick)[0]
    X, y = workload.data(np.float32)
    h, b = workload.hidden, workload.batch_size
    both = ensemblekit_contender(h, b, "Dropout(0.2) + WeightDecay(1e-4)",
                                 [Dropout(rate=0.2), WeightDecay(alpha=1e-4)])
    default_alpha = ensemblekit_contender(h, b, "default alpha=1e-4 (no plugins)",
                                          alpha=1e-4)
    contenders = [
        ensemblekit_contender(h, b, "no plugins"),
        ensemblekit_contender(h, b, "WeightDecay(1e-4)", [WeightDecay(alpha=1e-4)]),
        ensemblekit_contender(h, b, "Dropout(0.2)", [Dropout(rate=0.2)]),
        both,
        default_alpha,
    ]
    for contender in contenders:
        contender.start(X, y)
    times = interleave(contenders, config.rounds)
    base = times[contenders[0].name]
    table = Table("Plugin overhead (ensemblekit, mnist-like, float32)",
                  ["plugins", "s / epoch", "time \u00f7 no plugins"],
                  note="Dropout on both hidden layers; median [min\u2013max] of per-round "
                       "ratios.")
    result = SectionResult("plugins", [table])
    for contender in contenders:
        ratio = per_round_ratios(times[contender.name], base)
        table.rows.append([contender.name, Spread.of(times[contender.name]).fmt(),
                           ratio.fmt(".3f", "x")])
        if contender is both:
            result.metrics["plugins/dropout+weight_decay"] = ratio.median
        if contender is default_alpha:
            result.metrics["plugins/default_alpha"] = ratio.median
    config.emit(table.text())
    return result


def _ensemble_of(n_members: int, hidden: tuple[int, ...], batch_size: int,
                 X: np.ndarray, y: np.ndarray) -> Any:
    """An ensemble of ``n_members`` one-epoch networks of the predict workload."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning

    from ensemblekit import EnsembleClassifier, MLPClassifier

    member = MLPClassifier(hidden_layer_sizes=hidden, solver="adam", batch_size=batch_size,
                           alpha=0.0, max_iter=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return EnsembleClassifier(member, n_estimators=n_members, random_state=0).fit(X, y)


def predict_section(config: RunConfig) -> SectionResult:
    """``predict`` latency (1 row) and throughput (100,000 rows) vs scikit-learn.

    Also an ensemble of 5 such networks against one, on the same rows.

    Parameters
    ----------
    config : RunConfig
        The run.

    Returns
    -------
    SectionResult
        Metrics ``"predict/latency_ratio/sklearn"``,
        ``"predict/throughput_ratio/sklearn"`` and ``"predict/ensemble_of_5"``
        (the ensemble's time over one network's, median of per-round ratios).
    """
    workload = workloads(config.quick)[0]
    X, y = synthetic(min(workload.n_samples, 5000))
    n_big, calls = (2000, 20) if config.quick else (100_000, 300)
    X_big, _ = synthetic(n_big, seed=1)
    one = X[:1]
    models = [ensemblekit_contender(workload.hidden, workload.batch_size),
              sklearn_contender(workload.hidden, workload.batch_size)]
    for model in models:
        model.start(X, y)
    ensemble = _ensemble_of(5, workload.hidden, workload.batch_size, X, y)
    latency: dict[str, list[float]] = defaultdict(list)
    bulk: dict[str, list[float]] = defaultdict(list)
    for r in range(config.rounds):
        for model in models[r % 2:] + models[:r % 2]:
            single = []
            for _ in range(calls):
                start = time.perf_counter()
                model.estimator.predict(one)
                single.append(time.perf_counter() - start)
            latency[model.name].append(float(np.median(single)))
            start = time.perf_counter()
            model.estimator.predict(X_big)
            bulk[model.name].append(time.perf_counter() - start)
        start = time.perf_counter()
        ensemble.predict(X_big)
        bulk["ensemble of 5"].append(time.perf_counter() - start)
    ours = models[0].name
    table = Table(f"predict, float32, {'-'.join(map(str, workload.hidden))} hidden",
                  ["contender", "1 row: \u00b5s", "ensemblekit \u00f7 this",
                   f"{n_big:,} rows: rows/s", "ensemblekit time \u00f7 this"],
                  note=f"1-row latency: median of {calls} calls per round; then one "
                       f"{n_big:,}-row call per round.  The ensemble of 5 such networks "
                       "(mean of probabilities) predicts the same rows once per round.")
    result = SectionResult("predict", [table])
    for model in models:
        lat = Spread.of([1e6 * t for t in latency[model.name]])
        rows_per_s = n_big / Spread.of(bulk[model.name]).median
        table.rows.append([
            model.name, lat.fmt(".0f"),
            per_round_ratios(latency[ours], latency[model.name]).fmt(".2f", "x"),
            f"{rows_per_s:,.0f}", per_round_ratios(bulk[ours], bulk[model.name]).fmt(
                ".2f", "x")])
        result.metrics[f"predict/latency_ratio/{model.name}"] = per_round_ratios(
            latency[ours], latency[model.name]).median
        # throughput ratio: their time over ours
        result.metrics[f"predict/throughput_ratio/{model.name}"] = per_round_ratios(
            bulk[model.name], bulk[ours]).median
    five = per_round_ratios(bulk["ensemble of 5"], bulk[ours])
    table.rows.append(["ensemblekit, ensemble of 5", "\u2014", "\u2014",
                       f"{n_big / Spread.of(bulk['ensemble of 5']).median:,.0f}",
                       f"{1 / five.median:.2f}x (its time: {five.median:.2f}x one network)"])
    result.metrics["predict/ensemble_of_5"] = five.median
    config.emit(table.text())
    return result


# Where a profiled function's own time goes: (bucket, file part, function part).
# The first match wins; everything else is attributed to its callers.
_BUCKETS: tuple[tuple[str, str, str], ...] = (
    ("optimizer update", "_optimizers.py", ""),  # update() and its pass kernels
    ("activation kernels (ReLU, softmax)", "_layers.py", "_relu"),
    ("activation kernels (ReLU, softmax)", "_layers.py", "_softmax"),
    ("activation derivative (ReLU mask)", "_layers.py", "_d_relu"),
    ("loss value (log-loss)", "_layers.py", "loss"),
    ("activation kernels (ReLU, softmax)", "_layers.py", "bias_activation"),
    ("activation derivative (ReLU mask)", "_layers.py", "derivative_and_bias_grad"),
    ("forward: matmuls + bias add", "_network.py", "forward_train"),
    ("backward: matmuls, output delta, bias sums", "_network.py", "backward"),
    ("forward: matmuls + bias add", "mlp.py", "_forward_train"),
    ("backward: matmuls, output delta, bias sums", "mlp.py", "_backward"),
    ("batch gather (np.take of X, y)", "fromnumeric.py", "take"),
    ("shuffle (permutation)", "~", "permutation"),
    ("input validation per partial_fit", "validation.py", "validate_data"),
    ("input validation per partial_fit", "label.py", "transform"),
    ("hooks and plugin manager", "plugins.py", ""),
    ("training loop (Python)", "mlp.py", "_fit_stochastic"),
    ("training loop (Python)", "mlp.py", "_train_step"),
    ("training loop (Python)", "_network.py", "loss_and_grad"),
    ("training loop (Python)", "mlp.py", "_loss_and_grad"),
)


def _bucket(func: tuple[str, int, str]) -> str | None:
    filename, _, name = func
    for bucket, file_part, name_part in _BUCKETS:
        if file_part in filename and name_part in name:
            return bucket
    return None


def attribute(stats: dict) -> dict[str, float]:
    """Split profiled time into buckets.

    A function named in the bucket list owns its own time; any other
    function's own time (numpy's reductions, built-ins) goes to its callers in
    proportion to the time spent under each, recursively, until a bucket is
    reached.

    Parameters
    ----------
    stats : dict
        :attr:`pstats.Stats.stats`.

    Returns
    -------
    dict
        Bucket to seconds (``"other"`` for what reaches no bucket).
    """
    memo: dict[Any, dict[str, float]] = {}

    def shares(func: Any, seen: frozenset) -> dict[str, float]:
        if func in memo:
            return memo[func]
        own = _bucket(func)
        callers = stats[func][4] if func in stats else {}
        if own is not None or not callers or func in seen:
            out = {own or "other": 1.0}
        else:
            weights = {caller: v[2] for caller, v in callers.items()}
            if not any(weights.values()):  # too fast to time: split evenly
                weights = dict.fromkeys(weights, 1.0)
            total = sum(weights.values())
            out = defaultdict(float)
            for caller, w in weights.items():
                for bucket, f in shares(caller, seen | {func}).items():
                    out[bucket] += w / total * f
            out = dict(out)
        memo[func] = out
        return out

    seconds: dict[str, float] = defaultdict(float)
    for func, (_, _, tottime, _, _) in stats.items():
        for bucket, f in shares(func, frozenset()).items():
            seconds[bucket] += f * tottime
    return dict(seconds)


def profile_section(config: RunConfig) -> SectionResult:
    """cProfile one ensemblekit epoch of the mnist-like float32 workload.

    Parameters
    ----------
    config : RunConfig
        The run.

    Returns
    -------
    SectionResult
        Metrics ``"profile/<bucket>"``: share of the profiled epoch.
    """
    workload = workloads(config.quick)[0]
    X, y = workload.data(np.float32)
    model = ensemblekit_contender(workload.hidden, workload.batch_size)
    model.start(X, y)
    start = time.perf_counter()
    model.epoch()
    plain = time.perf_counter() - start
    profiler = cProfile.Profile()
    profiler.enable()
    model.epoch()
    profiler.disable()
    stats = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    seconds = attribute(stats)
    total = sum(seconds.values())
    n_steps = -(-X.shape[0] // workload.batch_size)
    buckets = Table(
        f"Where one ensemblekit epoch goes (mnist-like, float32, {n_steps} steps)",
        ["part", "ms / epoch", "share", "\u00b5s / step"],
        note=f"cProfile, attributed to the named functions (numpy reductions and "
             f"built-ins charged to their callers). Profiled epoch {1e3 * total:.0f} ms, "
             f"unprofiled {1e3 * plain:.0f} ms.")
    result = SectionResult("profile", [buckets])
    for bucket, s in sorted(seconds.items(), key=lambda kv: -kv[1]):
        buckets.rows.append([bucket, f"{1e3 * s:.1f}", f"{100 * s / total:.1f} %",
                             f"{1e6 * s / n_steps:.0f}"])
        result.metrics[f"profile/{bucket}"] = s / total
    top = Table("Top functions by own time (same profile)",
                ["function", "calls", "own ms", "cumulative ms"])
    ranked = sorted(stats.items(), key=lambda kv: -kv[1][2])[:12]
    for (filename, line, name), (_, calls, tottime, cumtime, _) in ranked:
        where = name if filename == "~" else f"{filename.rsplit('/', 1)[-1]}:{line} {name}"
        top.rows.append([where.replace("|", "/"), str(calls), f"{1e3 * tottime:.1f}",
                         f"{1e3 * cumtime:.1f}"])
    result.tables.append(top)
    config.emit(buckets.text())
    config.emit(top.text())
    return result

