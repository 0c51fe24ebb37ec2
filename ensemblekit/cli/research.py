"""``ensemblekit search`` and ``ensemblekit reproduce``: hyper-parameters and chapter 6.

``search`` runs :class:`~ensemblekit.CoarseToFineSearchCV` over the model that
``train`` builds (same options, same preprocessing pipeline); ``reproduce``
runs the chapter-6 experiments of :mod:`ensemblekit.reproduce`.
"""

from __future__ import annotations

import json
import time
import warnings
from pathlib import Path
from typing import Any

import click
import numpy as np
from sklearn.exceptions import ConvergenceWarning

from .. import reproduce as reproduce_
from .._figures import figure
from ..config import ENSEMBLE_ONLY, literal, split_top_level
from ..exceptions import SchemaWarning
from ..io import atomic_write
from ..search import CoarseToFineSearchCV
from . import common
from . import data as data_

__all__ = ["reproduce", "search"]

_PARAM_HELP = ("NAME=LOW:HIGH:log|linear[:int] (a range) or NAME=A,B,... (choices); "
               "repeatable, e.g. learning_rate_init=1e-6:1e-2:log")


def _parse_param(spec: str) -> tuple[str, tuple | list]:
    """``NAME=LOW:HIGH:KIND[:int]`` to a range, ``NAME=A,B,...`` to a list of choices."""
    name, eq, text = spec.partition("=")
    name, text = name.strip(), text.strip()
    if not eq or not name or not text:
        raise click.BadParameter(f"expected NAME=LOW:HIGH:log|linear or NAME=A,B,..., got "
                                 f"{spec!r}", param_hint="--param")
    if ":" not in text:
        return name, [literal(v) for v in split_top_level(text)]
    parts = [p.strip() for p in text.split(":")]
    if len(parts) not in (3, 4):
        raise click.BadParameter(f"a range is LOW:HIGH:log|linear[:int], got {text!r} for "
                                 f"{name!r}", param_hint="--param")
    try:
        low, high = float(parts[0]), float(parts[1])
    except ValueError:
        raise click.BadParameter(f"the bounds of {name!r} must be numbers, got {text!r}",
                                 param_hint="--param") from None
    return name, (low, high, *parts[2:])


#: Where the network's parameters sit in the model ``train`` builds: a plain
#: network, one inside a standardised-target wrapper, inside an ensemble, or both.
_NETWORK_PREFIXES = ("model__regressor__estimator__", "model__regressor__",
                     "model__estimator__", "model__")


def _full_name(name: str, valid: dict) -> str:
    """The pipeline parameter a short ``--param`` name means (as given if none)."""
    if name in valid:
        return name
    return next((p + name for p in _NETWORK_PREFIXES if p + name in valid), name)


def _shown(name: str) -> str:
    prefix = next((p for p in _NETWORK_PREFIXES if name.startswith(p)), "")
    return name.removeprefix(prefix)


def _fit_failure(message: str) -> str:
    """One line from scikit-learn's "All the N fits failed." and the first failure's reason.

    That message holds each distinct failure's traceback; the last line of the
    first one (the exception, without its module path) says what was wrong.
    """
    lines = [line for line in message.replace("model__", "").splitlines() if line.strip()]
    if not lines:
        return "the search failed"
    head = lines[0].strip()
    start = next((i for i, line in enumerate(lines) if line.startswith("Traceback")), None)
    if start is None:
        return head
    reason = ""
    for line in lines[start + 1:]:
        if line.startswith("-----") or "fits failed with the following error" in line:
            break
        reason = line.strip()
    name, colon, text = reason.partition(": ")
    if colon and " " not in name:  # "pkg.module.SomeError: text" -> "SomeError: text"
        reason = f"{name.rsplit('.', 1)[-1]}: {text}"
    return f"{head} {reason}" if reason else head


def _describe(spec: tuple | list) -> str:
    if isinstance(spec, list):
        return repr(spec)  # the choices, as the list the range was given as
    return f"[{spec[0]:.4g}, {spec[1]:.4g}] {' '.join(spec[2:])}"


@click.command("search", params=[
    *common.train_params(exclude=("out", "quiet", "verbose", "n_jobs", "backend", "scheduler",
                                  "timeout")),
    click.Option(["--param", "params"], multiple=True, metavar="SPEC", help=_PARAM_HELP),
    click.Option(["--rounds"], type=click.IntRange(min=1), default=3, show_default=True,
                 help="Sample-and-narrow rounds."),
    click.Option(["--candidates"], type=click.IntRange(min=1), default=10,
                 show_default=True, help="Settings sampled per round."),
    click.Option(["--top-k"], type=click.IntRange(min=1), default=3, show_default=True,
                 help="Best settings whose span is the next round's range."),
    click.Option(["--margin"], type=click.FloatRange(min=0), default=0.1,
                 show_default=True, help="Widening of that span, share of the width."),
    click.Option(["--cv", "folds"], type=click.IntRange(min=2), default=3,
                 show_default=True, help="Cross-validation folds."),
    click.Option(["--scoring"], default=None,
                 help="A scikit-learn scorer name (default: accuracy / R²)."),
    click.Option(["--n-jobs"], type=int, default=None, help="Parallel fits (joblib)."),
    click.Option(["--out", "-o", "results_out"], type=click.Path(dir_okay=False),
                 help="Write the rounds, trials and best setting to this JSON file."),
    click.Option(["--plot"], type=click.Path(dir_okay=False),
                 help="Draw the rounds to this PNG (needs matplotlib)."),
], short_help="Coarse-to-fine hyper-parameter search on a CSV (or digits).")
def search(data: str | None, params: tuple[str, ...], rounds: int, candidates: int,
            top_k: int, margin: float, folds: int, scoring: str | None,
            n_jobs: int | None, results_out: str | None, plot: str | None,
            **options: Any) -> None:
    """Coarse-to-fine search over the model 'train' would build on DATA.

    Without DATA, searches on scikit-learn's bundled digits.  Each --param is
    searched; other model settings come from the options (as for 'train').
    Rounds sample --candidates settings, score them by --cv-fold cross
    validation on the training rows, and narrow every range to the best
    --top-k; the best setting is refit and scored on the held-out --test-size.
    """
    common.check_out(results_out, "--out", data)
    common.check_out(plot, "--plot", data)
    if not params:
        raise click.UsageError("give at least one --param to search, e.g. "
                               "--param learning_rate_init=1e-5:1e-1:log")
    ranges = dict(_parse_param(p) for p in params)
    # an ensemble being searched trains its members in sequence, inside the search's jobs
    options = {**ENSEMBLE_ONLY, **options}
    table = common.read_training(data, options)
    for note in table.notes:
        click.echo(f"warning: {note}", err=True)
    X, y, task, source = table.X, table.y, table.task, table.source
    plugin_names = {s.partition(":")[0].strip() for s in options["plugins"]}
    needed = [n.split("__")[1] for n in ranges if n.startswith("plugins__") and
              n.count("__") >= 2 and n.split("__")[1] not in plugin_names]
    options["plugins"] = (*options["plugins"], *dict.fromkeys(needed))
    model = common.build_model(task, options, table.numeric, table.categorical)
    valid = model.get_params()
    ranges = {_full_name(n, valid): spec for n, spec in ranges.items()}
    X_train, X_test, y_train, y_test = data_.split(X, y, task, options["test_size"],
                                                   options["random_state"])
    searcher = CoarseToFineSearchCV(
        model, ranges, n_rounds=rounds, n_candidates=candidates, top_k=top_k, margin=margin,
        scoring=scoring, cv=folds, n_jobs=n_jobs, random_state=options["random_state"])
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        # a category held by one fold only is unseen by the fits that score that fold:
        # the data's nature, not the user's input; the test split's are reported below
        warnings.simplefilter("ignore", SchemaWarning)
        try:
            searcher.fit(X_train, y_train)
        except ValueError as exc:
            raise click.ClickException(_fit_failure(str(exc))) from None
    elapsed = time.perf_counter() - start
    results = searcher.cv_results_
    click.echo(f"data:   {source}, {len(y)} rows, {task}; {len(y_train)} rows searched "
               f"with {folds}-fold cross-validation")
    scores = np.asarray(results["mean_test_score"], dtype=float)
    for r, ranges_r in enumerate(searcher.ranges_):
        done = np.asarray(results["round"]) <= r
        best = np.nanmax(np.where(done, scores, np.nan))
        shown = ", ".join(f"{_shown(n)} {_describe(s)}" for n, s in ranges_r.items())
        click.echo(f"round {r + 1}: {shown}  best so far {best:.4f}")
    best_params = {_shown(k): v for k, v in searcher.best_params_.items()}
    click.echo(f"best:   {best_params}  mean cv score {searcher.best_score_:.4f} "
               f"({len(scores)} settings x {folds} folds, {elapsed:.1f}s)")
    record: dict[str, Any] = {
        "data": source, "task": task, "best_params": best_params,
        "best_score": float(searcher.best_score_),
        "ranges": [{_shown(k): v for k, v in r.items()} for r in searcher.ranges_],
        "final_ranges": {_shown(k): v for k, v in searcher.final_ranges_.items()},
        "trials": [{"round": int(r), "params": {_shown(k): v for k, v in p.items()},
                    "mean_test_score": float(s)}
                   for r, p, s in zip(results["round"], results["params"], scores)],
    }
    if X_test is not None:
        with data_.schema_messages(f"{source} (test split)"):
            metrics = data_.scores(searcher.best_estimator_, X_test, y_test, task)
        common.echo_metrics("test", metrics)
        record["test"] = metrics
    if results_out:
        with atomic_write(results_out) as handle:
            handle.write((json.dumps(reproduce_.jsonable(record), indent=1) + "\n").encode())
        click.echo(f"results written to {results_out}")
    continuous = sum(isinstance(s, tuple) for s in searcher.final_ranges_.values())
    if plot and not continuous:
        raise click.ClickException("--plot draws the ranges of LOW:HIGH parameters, and "
                                   "every --param here is a list of choices")
    if plot:
        fig, axes = figure(1, continuous, size=(4.5 * continuous, 3.8))
        # the axes name the parameters as --param does, without the pipeline's step
        searcher.plot_rounds(ax=axes[0], labels={
            name: name.removeprefix("model__") for name in searcher.final_ranges_})
        fig.savefig(plot, dpi=110)
        click.echo(f"plot written to {plot}")




@click.command()
@click.argument("name", metavar="NAME", type=click.Choice([*reproduce_.EXPERIMENTS, "all"]))
@click.option("--out", "-o", default="reproduce", show_default=True,
              type=click.Path(file_okay=False),
              help="Folder for the PNG figures, results.json and summary.txt.")
@click.option("--seeds", type=click.IntRange(min=1), default=None,
              help="Seeds per measurement (default 3, or 1 with --quick).")
@click.option("--quick", is_flag=True, help="A few seconds per experiment (for CI).")
def reproduce(name: str, out: str, seeds: int | None, quick: bool) -> None:
    """Rerun a chapter-6 experiment (or all) on the bundled digits data.

    NAME is one of optimizers, init, batch-norm, overfitting, weight-decay,
    dropout, ensemble, search, or all.  Writes the figures as PNG files and
    every plotted number to results.json in --out (other experiments' entries
    there are kept), and prints each experiment's headline table.
    """
    names = list(reproduce_.EXPERIMENTS) if name == "all" else [name]
    for experiment in names:
        start = time.perf_counter()
        results = reproduce_.run(experiment, out, seeds=seeds, quick=quick)
        click.echo(reproduce_.summary_markdown(results).rstrip())
        figures = ", ".join(results[experiment].get("figures", []))
        click.echo(f"({time.perf_counter() - start:.1f}s; figures: {figures})\n")
    click.echo(f"results written to {Path(out) / 'results.json'}")
