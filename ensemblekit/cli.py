"""The ``ensemblekit`` command line (click).

Commands: ``train``, ``predict``, ``evaluate``, ``plugins`` and ``report``.
Usage errors exit with status 2 (click's rule), problems with the user's
files or settings with status 1 and one line on stderr; ``--debug`` (before
the command) shows the traceback instead.  Model files are read and written
by :mod:`ensemblekit.io`, never with pickle.
"""

from __future__ import annotations

import ast
import difflib
import json
import os
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import click
import numpy as np
import pandas as pd
from tqdm import tqdm

from . import __version__
from . import _cli_data as data_
from . import _cli_ensemble as ensemble_
from ._cli_report import describe_model, epochs_trained
from .hookspecs import hookimpl
from .io import ModelFileError, atomic_write, load, save
from .mlp import INTERRUPTED, TrainingInterrupted
from .plugins import Plugin, get_registry, plugin_role

__all__ = ["cli"]

_PROGRESS = "_cli_progress"
_LABEL = {"accuracy": "accuracy", "f1_macro": "F1 (macro)", "log_loss": "log-loss",
          "ece": "ECE", "r2": "R²", "rmse": "RMSE", "mae": "MAE", "nll": "NLL"}


class _Group(click.Group):
    """A group that turns any unexpected exception into one line (exit 1)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except BrokenPipeError:  # the reader went away (``... | head``): not an error
            # point stdout at devnull so the interpreter's final flush stays quiet
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            raise click.exceptions.Exit(0) from None
        except Exception as exc:
            if ctx.params.get("debug"):
                raise
            lines = str(exc).strip().splitlines()
            text = lines[0] if lines else ""
            raise click.ClickException(
                f"{type(exc).__name__}: {text} (run 'ensemblekit --debug ...' for the "
                "traceback)") from exc


@click.group(cls=_Group)
@click.version_option(__version__, prog_name="ensemblekit")
@click.option("--debug", is_flag=True, help="Show the full traceback of an error.")
def cli(debug: bool) -> None:
    """Train and use regularised neural-network ensembles from CSV files."""


# --------------------------------------------------------------------------
# helpers shared by the commands
# --------------------------------------------------------------------------
def _load_model(path: str) -> tuple[Any, dict]:
    try:
        return load(path, return_metadata=True)
    except FileNotFoundError:
        raise click.ClickException(f"model file not found: {path}") from None
    except ModelFileError as exc:
        raise click.ClickException(str(exc)) from None


def _check_out(out: str | None, option: str = "--out", *inputs: str | None) -> None:
    """Refuse, before any work, an output file in a missing folder or on an input file.

    Raises
    ------
    click.BadParameter
        If ``out`` is empty, its folder does not exist, or it is one of ``inputs``.
    """
    if out is None:
        return
    if not out.strip():
        raise click.BadParameter("an empty file name; give a file to write",
                                 param_hint=option)
    target = Path(out)
    if not target.resolve().parent.is_dir():
        raise click.BadParameter(
            f"the folder of {out} does not exist; create it first", param_hint=option)
    for given in inputs:
        if given is not None and Path(given).exists() and target.exists() and (
                os.path.samefile(given, target)):
            raise click.BadParameter(
                f"{out} is the input file {given}; writing there would overwrite it: "
                "choose another file", param_hint=option)


def _split_top_level(text: str) -> list[str]:
    """Split ``text`` on commas outside brackets and quotes."""
    parts, depth, quote, start = [], 0, "", 0
    for i, ch in enumerate(text):
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return [p.strip() for p in parts if p.strip()]


def _literal(raw: str) -> Any:
    """A Python/JSON literal (never evaluated as code), or the text itself."""
    lowered = {"true": True, "false": False, "none": None, "null": None}
    if raw.lower() in lowered:
        return lowered[raw.lower()]
    try:
        return ast.literal_eval(raw)
    except (ValueError, SyntaxError):
        return raw


def _make_plugin(spec: str, option: str = "--plugin") -> Plugin:
    """Build a plugin from ``NAME`` or ``NAME:KEY=VALUE[,KEY=VALUE...]``.

    ``option`` is the option that gave ``spec`` (``--plugin`` or ``--combiner``),
    named in the errors.
    """
    name, _, rest = spec.partition(":")
    name = name.strip()
    params = {}
    for item in _split_top_level(rest):
        key, eq, raw = item.partition("=")
        if not eq or not key.strip().isidentifier():
            raise click.BadParameter(
                f"expected NAME:KEY=VALUE[,KEY=VALUE...], got {spec!r}",
                param_hint=option)
        params[key.strip()] = _literal(raw.strip())
    registry = get_registry()
    if name not in registry.plugins:
        close = difflib.get_close_matches(name, registry.names(), n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise click.ClickException(
            f"unknown plugin {name!r}: {hint}installed plugins are "
            f"{', '.join(registry.names())} (see 'ensemblekit plugins')")
    cls = registry.plugins[name]
    accepted = sorted(cls().get_params())
    unknown = [k for k in params if k not in accepted]
    if unknown:
        raise click.ClickException(
            f"plugin {name!r} has no parameter {unknown[0]!r}; its parameters are "
            f"{', '.join(accepted) or '(none)'}")
    plugin = registry.create(name, **params)
    try:
        plugin.validate()
    except (TypeError, ValueError) as exc:
        raise click.ClickException(f"{option} {spec}: {exc}") from None
    return plugin


def _hidden_sizes(ctx: click.Context, param: click.Parameter, text: str) -> tuple[int, ...]:
    try:
        sizes = tuple(int(h) for h in str(text).split(",") if h.strip())
    except ValueError:
        sizes = ()
    if not sizes or min(sizes) < 1:
        raise click.BadParameter(
            f"expected positive integers separated by commas, got {text!r}",
            param_hint="--hidden")
    return sizes


def _batch_size(ctx: click.Context, param: click.Parameter, text: str) -> str | int:
    if str(text) == "auto":
        return "auto"
    if str(text).isdigit() and int(text) > 0:
        return int(text)
    raise click.BadParameter(f"expected a positive integer or 'auto', got {text!r}",
                             param_hint="--batch-size")


def _weight_init(ctx: click.Context, param: click.Parameter, text: str) -> str | float:
    if text in ("glorot", "he", "xavier"):
        return text
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if value <= 0:
        raise click.BadParameter(
            f"expected glorot, he, xavier or a positive std, got {text!r}",
            param_hint="--weight-init")
    return value


def _read_config(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    """Eager callback of ``--config``: its settings become the option defaults."""
    if value is None:
        return
    file = Path(value)
    if not file.is_file():
        raise click.ClickException(f"config file not found: {value}")
    try:
        if file.suffix.lower() in (".yaml", ".yml"):
            import yaml  # optional: only YAML configs need it

            settings = yaml.safe_load(file.read_text()) or {}
        else:
            if sys.version_info >= (3, 11):
                import tomllib
            else:
                import tomli as tomllib
            settings = tomllib.loads(file.read_text())
    except ImportError as exc:
        raise click.ClickException(
            f"cannot read {value}: {exc.name} is not installed (pip install "
            f"{'pyyaml' if exc.name == 'yaml' else 'tomli'})") from None
    except Exception as exc:
        raise click.ClickException(f"cannot parse {value}: {exc}") from None
    if not isinstance(settings, dict):
        raise click.ClickException(f"{value} must hold KEY = VALUE settings")
    params = {p.name: p for p in ctx.command.params if p.name not in ("config", None)}
    names = list(params)
    mapped: dict[str, Any] = {}
    for key, setting in settings.items():
        key = str(key)
        name = {"plugin": "plugins"}.get(key.replace("-", "_"), key.replace("-", "_"))
        if name not in names:
            close = difflib.get_close_matches(name, names, n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"settings are {', '.join(names)}"
            raise click.ClickException(f"{value}: unknown setting {key!r}; {hint}")
        if setting is None:  # YAML's empty value: the option's default
            continue
        mapped[name] = _config_setting(key, name, setting, params[name], value)
    ctx.default_map = {**(ctx.default_map or {}), **mapped}


def _config_setting(key: str, name: str, setting: Any, param: click.Parameter,
                    source: str) -> Any:
    """A config file's value for option ``param``, type-checked and made click-ready.

    Raises
    ------
    click.ClickException
        Naming the setting and the type it should have.
    """
    def wrong(expected: str, got: Any = setting) -> click.ClickException:
        return click.ClickException(
            f"config file {source}: {key!r} must be {expected}, got {got!r}")

    def scalar(value: Any) -> bool:
        return isinstance(value, (int, float, str)) and not isinstance(value, bool)

    if name == "plugins":
        if isinstance(setting, str):
            return [setting]
        if isinstance(setting, list) and all(isinstance(s, str) for s in setting):
            return setting
        if not isinstance(setting, dict):
            raise wrong('a table of plugins ([plugin.dropout] rate = 0.2) or a list of '
                        '"NAME:KEY=VALUE" strings')
        specs = []
        for plugin, opts in setting.items():
            if opts is None:
                opts = {}
            if not isinstance(opts, dict):
                raise click.ClickException(
                    f"config file {source}: '{key}.{plugin}' must be a table of the "
                    f"plugin's parameters (e.g. [{key}.{plugin}] with KEY = VALUE lines, "
                    f"or {plugin} = {{}} for none), got {opts!r}")
            specs.append(f"{plugin}:" + ",".join(f"{k}={v!r}" for k, v in opts.items()))
        return specs
    if name == "combiner" and isinstance(setting, dict):
        combiner = dict(setting)
        plugin = combiner.pop("name", None)
        if not isinstance(plugin, str):
            raise wrong('a combiner name or a table with its name and parameters '
                        '({name = "weighted_mean", weights = [1, 2]})')
        return f"{plugin}:" + ",".join(f"{k}={v!r}" for k, v in combiner.items())
    if name == "hidden" and isinstance(setting, list):
        if not all(isinstance(s, int) and not isinstance(s, bool) for s in setting):
            raise wrong("a list of positive integers (e.g. [100, 50])")
        return ",".join(str(s) for s in setting)
    kind = param.type
    if isinstance(param, click.Option) and param.is_flag:
        if not isinstance(setting, bool):
            raise wrong("true or false")
    elif isinstance(kind, (click.types.IntParamType, click.IntRange)):
        if not isinstance(setting, int) or isinstance(setting, bool):
            raise wrong("an integer")
    elif isinstance(kind, (click.types.FloatParamType, click.FloatRange)):
        if not isinstance(setting, (int, float)) or isinstance(setting, bool):
            raise wrong("a number")
    elif isinstance(kind, (click.Choice, click.Path)):
        if not isinstance(setting, str):
            expected = ("one of " + ", ".join(map(str, kind.choices))
                        if isinstance(kind, click.Choice) else "a string (a path)")
            raise wrong(expected)
    elif not scalar(setting):
        raise wrong("a string or a number" if name != "hidden" else
                    "a list of positive integers (e.g. [100, 50])")
    return setting


class _Progress(Plugin):
    """Training-time observer: a progress bar or one line per epoch on stderr.

    Added by ``train`` for the fit only and removed from the fitted model
    before it is saved.

    Parameters
    ----------
    mode : {"bar", "lines"}
        A tqdm bar or a line per epoch.
    total : int
        Maximum number of epochs.
    """

    name = _PROGRESS

    def __init__(self, mode: str = "bar", total: int = 0) -> None:
        self.mode = mode
        self.total = total

    @hookimpl
    def ensemblekit_fit_start(self) -> None:
        """Open the bar."""
        self._bar = None
        if self.mode == "bar":
            self._bar = tqdm(total=self.total, unit="epoch", file=sys.stderr, leave=False)

    @hookimpl
    def ensemblekit_epoch_end(self, epoch: int, record: dict) -> None:
        """Advance the bar or print the epoch's record."""
        shown = {k: f"{v:.4g}" for k, v in record.items()
                 if k != "epoch" and isinstance(v, float)}
        if self._bar is not None:
            self._bar.set_postfix(shown, refresh=False)
            self._bar.update(1)
        elif self.mode == "lines":
            values = " ".join(f"{k}={v}" for k, v in shown.items())
            click.echo(f"epoch {epoch + 1}/{self.total} {values}", err=True)

    @hookimpl
    def ensemblekit_fit_end(self) -> None:
        """Close the bar."""
        if self._bar is not None:
            self._bar.close()
        del self._bar


def _fit_with_progress(model: Any, X: Any, y: Any, mode: str | None) -> list:
    """Fit ``model`` (a pipeline); return the warnings raised while fitting.

    A single network reports epochs (its ``_Progress`` plugin is removed
    again before the model is saved); an ensemble reports finished members.

    Raises
    ------
    KeyboardInterrupt
        When an ensemble's fit is interrupted (a single network stops, keeps
        its last epoch and warns instead).
    """
    from .ensemble import member_progress

    estimator = data_.final_estimator(model)
    if hasattr(estimator, "n_estimators"):
        report, close = ensemble_.member_reporter(mode)
        try:
            with warnings.catch_warnings(record=True) as caught, member_progress(report):
                warnings.simplefilter("always")
                model.fit(X, y)
        finally:
            close()
        return caught
    configured = estimator.plugins
    if mode is not None:
        observer = _Progress(mode=mode, total=estimator.max_iter)
        estimator.plugins = [*(configured or []), observer]
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            model.fit(X, y)
    finally:
        estimator.plugins = configured
    fitted = data_.final_estimator(model)  # a clone of ``estimator`` under --scale-target
    fitted.plugins = configured
    fitted.plugins_ = [(n, p) for n, p in fitted.plugins_ if n != _PROGRESS]
    return caught


def _echo_metrics(label: str, metrics: dict) -> None:
    shown = "  ".join(f"{_LABEL[k]} {metrics[k]:.4f}" for k in _LABEL if k in metrics)
    click.echo(f"{label:<6} {metrics['n_samples']:>6} rows  {shown}")


def _scores(model: Any, X: pd.DataFrame, y: np.ndarray, task: str) -> dict:
    if task == "classification":
        return data_.classification_metrics(y, model.predict_proba(X),
                                            data_.final_estimator(model).classes_)
    estimator = data_.final_estimator(model)
    if hasattr(estimator, "estimators_") and len(estimator.estimators_) > 1:
        mean = model.predict(X)
        return data_.regression_metrics(y, mean, _uncertainty(model, X)["std"])
    return data_.regression_metrics(y, model.predict(X))


# --------------------------------------------------------------------------
# train
# --------------------------------------------------------------------------
@cli.command()
@click.argument("data", required=False, metavar="[DATA]")
@click.option("--target", "-t", help="Target column (default: a column named 'target').")
@click.option("--out", "-o", type=click.Path(dir_okay=False),
              help="Write the trained model to this file (e.g. model.ekm).")
@click.option("--task", type=click.Choice(["auto", "classification", "regression"]),
              default="auto", show_default=True,
              help="auto: labels and whole numbers with few values are classes.")
@click.option("--hidden", default="100", show_default=True, callback=_hidden_sizes,
              help="Hidden layer sizes, comma-separated (e.g. 100,100).")
@click.option("--activation", type=click.Choice(["relu", "tanh", "logistic", "identity"]),
              default="relu", show_default=True)
@click.option("--solver", type=click.Choice(["adam", "sgd", "adagrad", "rmsprop", "lbfgs"]),
              default="adam", show_default=True)
@click.option("--max-iter", type=click.IntRange(min=1), default=200, show_default=True,
              help="Maximum number of epochs.")
@click.option("--n-iter-no-change", type=click.IntRange(min=1), default=10,
              show_default=True,
              help="Stop after this many epochs without an improvement of more than --tol "
                   "(of the training loss, or of the validation score with "
                   "--early-stopping); set it to --max-iter to train every epoch.")
@click.option("--tol", type=click.FloatRange(min=0), default=1e-4, show_default=True,
              help="Smallest improvement that counts for --n-iter-no-change.")
@click.option("--batch-size", default="auto", show_default=True, callback=_batch_size,
              help="Mini-batch size, or auto = min(200, rows).")
@click.option("--learning-rate", type=click.FloatRange(min=0, min_open=True),
              default=0.001, show_default=True, help="Initial step size.")
@click.option("--learning-rate-schedule",
              type=click.Choice(["constant", "invscaling", "adaptive"]),
              default="constant", show_default=True, help="Step-size schedule (sgd).")
@click.option("--alpha", type=click.FloatRange(min=0), default=0.0001, show_default=True,
              help="L2 strength (scikit-learn's convention).")
@click.option("--weight-init", default="glorot", show_default=True, callback=_weight_init,
              help="glorot, he, xavier, or the std of a normal.")
@click.option("--batch-norm/--no-batch-norm", default=False, show_default=True)
@click.option("--early-stopping/--no-early-stopping", default=False, show_default=True,
              help="Hold out --validation-fraction and keep the best epoch.")
@click.option("--validation-fraction", type=click.FloatRange(0, 1, min_open=True,
                                                             max_open=True),
              default=0.1, show_default=True)
@click.option("--dtype", type=click.Choice(["float32", "float64"]), default="float32",
              show_default=True,
              help="Compute dtype: float32 trains faster with the same scores "
                   "(docs/performance.md); float64 for the last digits.")
@click.option("--scale", type=click.Choice(list(data_.SCALERS)), default="standard",
              show_default=True,
              help="Scaling of numeric columns: standard (z-score), maxabs (divide by the "
                   "largest |value|: pixels, counts), minmax (to [0, 1]) or none.")
@click.option("--scale-target/--no-scale-target", default=True, show_default=True,
              help="Regression: train on the standardised target (predictions come "
                   "back in its units).")
@click.option("--plugin", "plugins", multiple=True, metavar="NAME[:KEY=VALUE,...]",
              help="A training plugin, e.g. dropout:rate=0.2 (repeatable).")
@click.option("--test-size", type=click.FloatRange(0, 1, max_open=True), default=0.2,
              show_default=True, help="Share of rows held out for the test score (0: none).")
@click.option("--random-state", type=click.IntRange(0, 2**32 - 1), default=0,
              show_default=True, help="Seed of the split and of training (0 to 2**32 - 1).")
@ensemble_.ensemble_options
@click.option("--config", type=click.Path(dir_okay=False), is_eager=True,
              expose_value=False, callback=_read_config,
              help="TOML (or YAML) file of these settings; options given here win.")
@click.option("--quiet", "-q", is_flag=True, help="Print nothing but errors.")
@click.option("--verbose", "-v", is_flag=True, help="Print one line per epoch.")
def train(data: str | None, **options: Any) -> None:
    """Train a model on DATA (a CSV file) and report its scores.

    Without DATA, trains a classifier on scikit-learn's bundled digits data.
    Numeric columns are imputed (median) and standardised, other columns
    imputed (most frequent) and one-hot encoded; that preprocessing is saved
    inside the model, so 'predict' applies it too.
    """
    quiet = options["quiet"]
    _check_out(options["out"], "--out", data)
    table = data_.load_training_table(data, options["target"], options["task"])
    X, y, task, target = table.X, table.y, table.task, table.target
    numeric, categorical, source = table.numeric, table.categorical, table.source
    model = _build_model(task, options,
                         data_.build_preprocessor(numeric, categorical, options["scale"]))
    X_train, X_test, y_train, y_test = _split(X, y, task, options)

    mode = None if quiet else ("lines" if options["verbose"] else (
        "bar" if sys.stderr.isatty() else None))
    start = time.perf_counter()
    try:
        with ensemble_.parallel_backend(options) as where:
            caught = _fit_with_progress(model, X_train, y_train, mode)
    except KeyboardInterrupt:  # an ensemble stops with it; a network warns
        caught = [warnings.WarningMessage(INTERRUPTED, TrainingInterrupted, "", 0)]
    elapsed = time.perf_counter() - start
    if any(issubclass(w.category, TrainingInterrupted) for w in caught):
        click.echo("interrupted: no model written", err=True)
        raise click.exceptions.Exit(130)
    scores = {"train": _scores(model, X_train, y_train, task)}
    if X_test is not None:
        scores["test"] = _scores(model, X_test, y_test, task)
    if options["out"]:
        save(model, options["out"], metadata={
            "target": target, "task": task, "numeric_columns": numeric,
            "categorical_columns": categorical, "trained_on": source,
            "scores": {k: {m: v for m, v in s.items() if m in _LABEL}
                       for k, s in scores.items()}})
    if quiet:
        return
    for w in caught:
        click.echo(f"warning: {w.message}", err=True)
    estimator = data_.final_estimator(model)
    click.echo(f"data:   {source}, {table.n_rows} rows x {X.shape[1]} features "
               f"({len(numeric)} numeric, {len(categorical)} categorical)"
               + (f", {table.dropped} rows without a target dropped" if table.dropped
                  else ""))
    kind = (f"{len(estimator.classes_)} classes" if task == "classification"
            else "numeric target")
    click.echo(f"task:   {task} of {target!r}, {kind}")
    click.echo(f"model:  {describe_model(estimator)}")
    click.echo(f"epochs: {epochs_trained(estimator)}, time: {elapsed:.2f}s on {where}")
    for split, metrics in scores.items():
        _echo_metrics(split, metrics)
    if options["out"]:
        click.echo(f"model written to {options['out']}")


def model_from_config(config: str | Path, task: str, numeric: list[str],
                      categorical: list[str] | None = None, args: tuple[str, ...] = ()) -> Any:
    """The unfitted pipeline ``ensemblekit train --config CONFIG ARGS`` would train.

    The file is read by the ``train`` command itself, so its settings are
    checked exactly as on the command line.

    Parameters
    ----------
    config : str or Path
        A TOML (or YAML) file of ``train`` settings.
    task : {"classification", "regression"}
        The model's task.
    numeric, categorical : list of str
        The feature columns of each kind.
    args : tuple of str, default=()
        More ``train`` options; they win over the file (``("--random-state", "1")``).

    Returns
    -------
    sklearn.pipeline.Pipeline
        The preprocessing and the network (or ensemble).
    """
    options = train.make_context("train", ["--config", str(config), *args]).params
    return _build_model(task, options, data_.build_preprocessor(
        numeric, categorical or [], options["scale"]))


def _build_model(task: str, options: dict, preprocessor: Any) -> Any:
    from sklearn.compose import TransformedTargetRegressor
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    from .mlp import MLPClassifier, MLPRegressor

    cls = MLPClassifier if task == "classification" else MLPRegressor
    plugins = [_make_plugin(spec) for spec in options["plugins"]]
    names = [plugin.name for plugin in plugins]
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        raise click.BadParameter(
            f"{', '.join(twice)} given more than once; give each plugin once, with all its "
            "parameters: NAME:KEY=VALUE,KEY=VALUE", param_hint="--plugin")
    estimator = cls(
        hidden_layer_sizes=options["hidden"],
        activation=options["activation"], solver=options["solver"],
        alpha=options["alpha"], batch_size=options["batch_size"],
        learning_rate=options["learning_rate_schedule"],
        learning_rate_init=options["learning_rate"], max_iter=options["max_iter"],
        n_iter_no_change=options["n_iter_no_change"], tol=options["tol"],
        random_state=options["random_state"], early_stopping=options["early_stopping"],
        validation_fraction=options["validation_fraction"],
        weight_init=options["weight_init"],
        batch_norm=options["batch_norm"], plugins=plugins or None, dtype=options["dtype"])
    if ":" in str(options["combiner"]):  # NAME:KEY=VALUE,... e.g. weighted_mean:weights=[3,1]
        options = {**options, "combiner": _make_plugin(options["combiner"], "--combiner")}
    network = ensemble_.build_ensemble(task, estimator, options)
    if task == "regression" and options["scale_target"]:
        network = TransformedTargetRegressor(regressor=network, transformer=StandardScaler())
    return Pipeline([("preprocess", preprocessor), ("model", network)])


def _split(X: pd.DataFrame, y: np.ndarray, task: str, options: dict) -> tuple:
    from sklearn.model_selection import train_test_split

    if options["test_size"] == 0:
        return X, None, y, None
    stratify = None
    if task == "classification":
        _, counts = np.unique(y.astype(str), return_counts=True)
        stratify = y if counts.min() >= 2 else None
    try:
        return train_test_split(X, y, test_size=options["test_size"],
                                random_state=options["random_state"], stratify=stratify)
    except ValueError as exc:
        raise click.ClickException(f"cannot hold out --test-size {options['test_size']} of "
                                   f"{len(y)} rows: {exc}") from None


# --------------------------------------------------------------------------
# predict / evaluate
# --------------------------------------------------------------------------
def _features_for(model: Any, metadata: dict, path: str) -> pd.DataFrame:
    frame = data_.read_table(path)
    numeric, categorical = data_.feature_columns(model, metadata, frame)
    return data_.prepare_features(frame, numeric, categorical, path)


def _write_text(text: str, out: str | None) -> None:
    if out is None:
        click.echo(text, nl=False)
        return
    with atomic_write(out) as fh:
        fh.write(text.encode())


@cli.command()
@click.argument("model_file", metavar="MODEL")
@click.argument("data", metavar="DATA")
@click.option("--out", "-o", type=click.Path(dir_okay=False),
              help="Write the predictions to this CSV file instead of stdout.")
@click.option("--proba", is_flag=True, help="Add one probability column per class.")
@click.option("--uncertainty", is_flag=True,
              help="Add the ensemble's uncertainty: 'std' for regressors; "
                   "'predictive_entropy', 'expected_entropy', 'mutual_information' "
                   "and 'disagreement' for classifiers.")
def predict(model_file: str, data: str, out: str | None, proba: bool,
            uncertainty: bool) -> None:
    """Predict every row of DATA (CSV) with MODEL; print CSV.

    The output has one row per input row, in order, and a column named after
    the target (or 'prediction'); with --proba also 'proba_<class>' columns,
    with --uncertainty the ensemble's uncertainty columns.
    """
    _check_out(out, "--out", data, model_file)
    model, metadata = _load_model(model_file)
    estimator = data_.final_estimator(model)
    if proba and not hasattr(estimator, "predict_proba"):
        raise click.UsageError("--proba needs a classifier; this model is a regressor")
    if uncertainty and not hasattr(estimator, "estimators_"):
        raise click.UsageError("--uncertainty needs an ensemble; this model is a single "
                               "network (train with --n-estimators N, N > 1)")
    X = _features_for(model, metadata, data)
    result = pd.DataFrame({metadata.get("target", "prediction"): model.predict(X)})
    if proba:
        for label, column in zip(estimator.classes_, model.predict_proba(X).T):
            result[f"proba_{label}"] = column
    if uncertainty:
        for name, column in _uncertainty(model, X).items():
            result[name] = column
    # float32 printed by its shortest repr reads back as another float64; widened
    # first, every value in the CSV reads back exactly as the model computed it
    result = result.astype({c: np.float64 for c in result.columns
                            if result[c].dtype == np.float32})
    _write_text(result.to_csv(index=False), out)


def _uncertainty(model: Any, X: pd.DataFrame) -> dict[str, np.ndarray]:
    """The ensemble's per-row uncertainty columns (``model`` may be a pipeline)."""
    estimator = data_.final_estimator(model)
    features = model[:-1].transform(X) if estimator is not model else X
    if hasattr(estimator, "predict_uncertainty"):
        found = estimator.predict_uncertainty(features)
        return {k: found[k] for k in ("predictive_entropy", "expected_entropy",
                                      "mutual_information", "disagreement")}
    std = estimator.predict(features, return_std=True)[1]
    return {"std": std * data_.target_scale(model)}


@cli.command()
@click.argument("model_file", metavar="MODEL")
@click.argument("data", metavar="DATA")
@click.option("--target", "-t", help="Target column (default: the one trained on).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def evaluate(model_file: str, data: str, target: str | None, as_json: bool) -> None:
    """Score MODEL on DATA (CSV with the target column).

    Classifiers: accuracy, f1_macro, log_loss, ece (15-bin expected
    calibration error) and the confusion matrix (rows: true labels).
    Regressors: r2, rmse, mae, and for ensembles nll (mean Gaussian negative
    log-likelihood with the members' spread as the standard deviation).
    """
    model, metadata = _load_model(model_file)
    metrics = _evaluate(model, metadata, data, target)
    if as_json:
        click.echo(json.dumps(metrics))
        return
    for key, value in metrics.items():
        if key in _LABEL or key == "n_samples":
            click.echo(f"{_LABEL.get(key, 'rows')}: {value:.6g}")
    if "confusion_matrix" in metrics:
        click.echo("confusion matrix (rows: true, columns: predicted):")
        click.echo(pd.DataFrame(metrics["confusion_matrix"], index=metrics["labels"],
                                columns=metrics["labels"]).to_string())


def _evaluate(model: Any, metadata: dict, data: str, target: str | None) -> dict:
    from sklearn.base import is_classifier

    target = target or metadata.get("target")
    if target is None:
        raise click.UsageError("name the target column with --target")
    frame = data_.read_table(data)
    data_.check_column(frame, target, data)
    frame, _ = data_.drop_missing_target(frame, target)
    numeric, categorical = data_.feature_columns(model, metadata,
                                                 frame.drop(columns=[target]))
    X = data_.prepare_features(frame, numeric, categorical, data)
    task = ("classification" if is_classifier(data_.final_estimator(model))
            else "regression")
    return _scores(model, X, data_.target_values(frame, target, task), task)


# --------------------------------------------------------------------------
# plugins / report
# --------------------------------------------------------------------------
def _plugin_rows() -> list[dict[str, Any]]:
    """One description per registered plugin, for ``plugins``."""
    registry = get_registry()
    rows = []
    for name in registry.names():
        cls = registry.plugins[name]
        hooks = sorted(h for h in dir(cls) if h.startswith("ensemblekit_"))
        dist, version = registry.sources[name]
        role = plugin_role(cls)
        rows.append({"name": name, "role": role, "distribution": dist, "version": version,
                     "class": f"{cls.__module__}.{cls.__qualname__}", "hooks": hooks,
                     "parameters": {k: _jsonable(v) for k, v in cls().get_params().items()}})
    return rows


def _jsonable(value: Any) -> Any:
    return value if isinstance(value, (str, int, float, bool, type(None))) else repr(value)


def _not_loaded() -> list[dict[str, str]]:
    """Installed entry points that discovery skipped on purpose, and why."""
    import importlib.metadata
    import os

    from .plugins import ENTRY_POINT_GROUP, env_flag

    registry = get_registry()
    loaded = {n for n, _ in registry.manager.list_name_plugin()} if registry.manager else set()
    failed = {f["name"] for f in registry.failures}
    allow = os.environ.get("ENSEMBLEKIT_LOAD_PLUGINS")
    reason = ("ENSEMBLEKIT_DISABLE_PLUGIN_AUTOLOAD is set"
              if env_flag("ENSEMBLEKIT_DISABLE_PLUGIN_AUTOLOAD")
              else f"not listed in ENSEMBLEKIT_LOAD_PLUGINS={allow}")
    skipped = []
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        module = ep.value.split(":")[0]
        if ep.name in loaded or module in loaded or ep.name in failed:
            continue
        dist = ep.dist.metadata["Name"] if ep.dist is not None else module
        skipped.append({"name": ep.name, "distribution": dist, "module": module,
                        "reason": reason})
    return skipped


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("--all", "show_all", is_flag=True,
              help="Also show each plugin's hooks and class, and the installed plugins "
                   "that were not loaded (autoload off or not allowed) with the reason.")
def plugins(as_json: bool, show_all: bool) -> None:
    """List installed plugins, their role and parameters, and failures to load.

    Roles: training plugins go in --plugin; combiners, samplers and strategies
    in --combiner, --bootstrap and --strategy of an ensemble.
    """
    rows = _plugin_rows()
    failures = get_registry().failures
    skipped = _not_loaded() if show_all else []
    if as_json:
        listing = {"plugins": rows, "failures": failures}
        if show_all:
            listing["not_loaded"] = skipped
        click.echo(json.dumps(listing, indent=2))
        return
    for row in rows:
        params = ", ".join(f"{k}={v}" for k, v in row["parameters"].items()) or "-"
        source = f"{row['distribution']} {row['version']}"
        click.echo(f"{row['name']:<18} {row['role']:<9} {source:<27} {params}")
        if show_all:
            hooks = ", ".join(h[len("ensemblekit_"):] for h in row["hooks"])
            click.echo(f"{'':<18} {row['class']}; hooks: {hooks}")
    for failure in failures:
        click.echo(f"FAILED {failure['name']} from {failure['distribution']}: "
                   f"{failure['error']}")
    for entry in skipped:
        click.echo(f"NOT LOADED {entry['name']} from {entry['distribution']}: "
                   f"{entry['reason']}")


@cli.command()
@click.argument("model_file", metavar="MODEL")
@click.option("--out", "-o", "out_dir", required=True, type=click.Path(file_okay=False),
              help="Folder to write the plots and index.md into.")
@click.option("--data", "data", help="CSV to score the model on (adds a confusion matrix).")
@click.option("--target", "-t", help="Target column of --data (default: the one trained on).")
def report(model_file: str, out_dir: str, data: str | None, target: str | None) -> None:
    """Plot MODEL's learning curves (and scores on --data) into a folder.

    Writes loss.png, validation.png (with early stopping), confusion.png
    (a classifier scored on --data) and an index.md that shows them.
    Needs matplotlib: pip install 'ensemblekit[plot]'.
    """
    from . import _cli_report

    model, metadata = _load_model(model_file)
    metrics = _evaluate(model, metadata, data, target) if data else None
    written = _cli_report.write_report(model, metadata, Path(out_dir), Path(model_file).name,
                                       metrics)
    for path in written:
        click.echo(str(path))


from . import _cli_research  # noqa: E402,F401  (adds the search and reproduce commands)
