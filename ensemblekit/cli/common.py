"""What the commands share: errors, files, and the options of ``train``.

Usage errors exit with status 2 (click's rule), problems with the user's
files or settings with status 1 and one line on stderr
(:class:`click.ClickException`).  The model options of ``train``
(also those of ``search``) are built from :data:`ensemblekit.config.SETTINGS`,
and their values turned into a model by :func:`ensemblekit.config.build_model`;
this module turns that library's errors into click's.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from .. import config
from ..io import ModelFileError, atomic_write, load
from ..plugins import ENSEMBLE_ROLES, get_registry, plugin_role
from . import data as data_

__all__ = ["LABEL", "build_model", "check_out", "echo_metrics", "load_model",
           "option_name", "read_training", "sep_option", "setting_errors", "train_params",
           "with_sep", "write_text"]

#: Metric keys and how the commands print them.
LABEL = {"accuracy": "accuracy", "f1_macro": "F1 (macro)", "log_loss": "log-loss",
         "ece": "ECE", "r2": "R²", "rmse": "RMSE", "mae": "MAE", "nll": "NLL"}


# --------------------------------------------------------------------------
# files
# --------------------------------------------------------------------------
def load_model(path: str) -> tuple[Any, dict]:
    """Load a model file, or fail with one line (exit 1).

    Parameters
    ----------
    path : str
        The model file.

    Returns
    -------
    model : estimator
        The fitted model.
    metadata : dict
        What ``train`` recorded with it.
    """
    try:
        return load(path, return_metadata=True)
    except FileNotFoundError:
        raise click.ClickException(f"model file not found: {path}") from None
    except ModelFileError as exc:
        raise click.ClickException(str(exc)) from None


def check_out(out: str | None, option: str = "--out", *inputs: str | None) -> None:
    """Refuse, before any work, an output file in a missing folder or on an input file.

    Parameters
    ----------
    out : str or None
        The file to write (None: nothing to check).
    option : str, default="--out"
        The option that gave it, named in the errors.
    *inputs : str or None
        The command's input files.

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


def write_text(text: str, out: str | None) -> None:
    """Print ``text``, or write it to the file ``out`` (atomically).

    Parameters
    ----------
    text : str
        What to write.
    out : str or None
        The file; None prints to stdout.
    """
    if out is None:
        click.echo(text, nl=False)
        return
    with atomic_write(out) as fh:
        fh.write(text.encode())


def echo_metrics(label: str, metrics: dict) -> None:
    """Print one line of scores (``train 120 rows accuracy 0.9667 ...``).

    Parameters
    ----------
    label : str
        The split (``train``, ``test``).
    metrics : dict
        Scores by :data:`LABEL` key, and ``n_samples``.
    """
    shown = "  ".join(f"{LABEL[k]} {metrics[k]:.4f}" for k in LABEL if k in metrics)
    click.echo(f"{label:<6} {metrics['n_samples']:>6} rows  {shown}")


# --------------------------------------------------------------------------
# the train settings as options, and their errors
# --------------------------------------------------------------------------
def option_name(name: str) -> str:
    """The option that sets setting ``name`` (``max_iter`` -> ``--max-iter``).

    Parameters
    ----------
    name : str
        A setting of :data:`ensemblekit.config.SETTINGS`.

    Returns
    -------
    str
        ``--`` and its config key (``--plugin`` for ``plugins``).
    """
    return "--" + config.config_key(name)


@contextmanager
def setting_errors() -> Iterator[None]:
    """Turn :mod:`ensemblekit.config`'s errors into click's.

    A :class:`~ensemblekit.config.SettingError` becomes a usage error of its
    option (exit 2); another :class:`ValueError` or :class:`TypeError` one
    line (exit 1).

    Yields
    ------
    None
        The block whose errors are turned.
    """
    try:
        yield
    except config.SettingError as exc:
        if exc.setting is None:
            raise click.UsageError(str(exc)) from None
        raise click.BadParameter(str(exc), param_hint=option_name(exc.setting)) from None
    except (ValueError, TypeError) as exc:
        raise click.ClickException(str(exc)) from None


def _parsed(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    """Callback of an option whose setting has a parser (``--hidden``, ...)."""
    setting = config.SETTINGS[str(param.name)]
    assert setting.parse is not None
    with setting_errors():
        return setting.parse(value)


def _option(*decls: str, name: str, **attrs: Any) -> click.Option:
    """The option for setting ``name``: type, default and parser from its Setting."""
    setting = config.SETTINGS[name]
    flag = setting.kind == "flag"
    attrs.setdefault("show_default", setting.default is not None and setting.kind != "specs"
                     and (not flag or "/" in decls[0]))
    if setting.kind == "int" and (setting.low is not None or setting.high is not None):
        attrs["type"] = click.IntRange(
            None if setting.low is None else int(setting.low),
            None if setting.high is None else int(setting.high))
    elif setting.kind == "int":
        attrs["type"] = click.INT
    elif setting.kind == "float" and (setting.low is not None or setting.high is not None):
        attrs["type"] = click.FloatRange(setting.low, setting.high,
                                         min_open=setting.low_open,
                                         max_open=setting.high_open)
    elif setting.kind == "choice":
        attrs["type"] = click.Choice(list(setting.choices))
    elif setting.kind == "path":
        attrs["type"] = click.Path(dir_okay=False)
    if setting.kind == "specs":
        attrs["multiple"] = True
    elif flag and "/" not in decls[0]:
        attrs["is_flag"] = True
    else:
        attrs["default"] = setting.default
    if setting.parse is not None:
        attrs["callback"] = _parsed
    return click.Option([*decls, name], **attrs)


def _setting_of(param: click.Parameter) -> config.Setting:
    """The kind of value a config file may give ``param``."""
    kind = param.type
    if isinstance(param, click.Option) and param.is_flag:
        return config.Setting(param.default, "flag")
    if getattr(param, "multiple", False):
        return config.Setting((), "specs")
    if isinstance(kind, click.types.IntParamType):
        return config.Setting(param.default, "int")
    if isinstance(kind, click.types.FloatParamType):
        return config.Setting(param.default, "float")
    if isinstance(kind, click.Choice):
        return config.Setting(param.default, "choice", tuple(map(str, kind.choices)))
    if isinstance(kind, click.Path):
        return config.Setting(param.default, "path")
    return config.Setting(param.default)


def _read_config(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    """Eager callback of ``--config``: its settings become the option defaults."""
    if value is None:
        return
    params = {str(p.name): _setting_of(p) for p in ctx.command.params
              if p.name not in ("config", None)}
    try:
        found = config.read_config(value, params)
    except (OSError, ImportError, ValueError, TypeError) as exc:
        raise click.ClickException(str(exc)) from None
    ctx.default_map = {**(ctx.default_map or {}), **found}


def train_params(exclude: Collection[str] = ()) -> list[click.Parameter]:
    """The arguments and options of ``train``, new objects for one command.

    Parameters
    ----------
    exclude : collection of str, default=()
        Names of parameters to leave out (``search`` has its own ``--out``).

    Returns
    -------
    list of click.Parameter
        DATA, the model and data options, the ensemble options, ``--config``
        (a TOML or YAML file of them), ``--quiet`` and ``--verbose``.
    """
    params: list[click.Parameter] = [
        click.Argument(["data"], required=False, metavar="[DATA]"),
        _option("--target", "-t", name="target",
                help="Target column (default: a column named 'target')."),
        _option("--out", "-o", name="out",
                help="Write the trained model to this file (e.g. model.ekm)."),
        _option("--task", name="task",
                help="auto: labels and whole numbers with few values are classes."),
        _option("--hidden", name="hidden",
                help="Hidden layer sizes, comma-separated (e.g. 100,100)."),
        _option("--activation", name="activation"),
        _option("--solver", name="solver"),
        _option("--max-iter", name="max_iter", help="Maximum number of epochs."),
        _option("--n-iter-no-change", name="n_iter_no_change",
                help="Stop after this many epochs without an improvement of more than "
                     "--tol (of the training loss, or of the validation score with "
                     "--early-stopping); set it to --max-iter to train every epoch."),
        _option("--tol", name="tol",
                help="Smallest improvement that counts for --n-iter-no-change."),
        _option("--batch-size", name="batch_size",
                help="Mini-batch size, or auto = min(200, rows)."),
        _option("--learning-rate", name="learning_rate", help="Initial step size."),
        _option("--learning-rate-schedule", name="learning_rate_schedule",
                help="Step-size schedule (sgd)."),
        _option("--alpha", name="alpha", help="L2 strength (scikit-learn's convention)."),
        _option("--weight-init", name="weight_init",
                help="glorot, he, xavier, or the std of a normal."),
        _option("--batch-norm/--no-batch-norm", name="batch_norm"),
        _option("--early-stopping/--no-early-stopping", name="early_stopping",
                help="Hold out --validation-fraction and keep the best epoch."),
        _option("--validation-fraction", name="validation_fraction",
                help="Share of the training rows held out and scored every epoch "
                     "(default 0.1 with --early-stopping; given without it, the score "
                     "is recorded and the last epoch kept)."),
        _option("--dtype", name="dtype",
                help="Compute dtype: float32 trains faster with the same scores "
                     "(docs/performance.md); float64 for the last digits."),
        _option("--scale", name="scale",
                help="Scaling of numeric columns: standard (z-score), maxabs (divide by "
                     "the largest |value|: pixels, counts), minmax (to [0, 1]) or none."),
        _option("--scale-target/--no-scale-target", name="scale_target",
                help="Regression: train on the standardised target (predictions come "
                     "back in its units)."),
        _option("--plugin", name="plugins", metavar="NAME[:KEY=VALUE,...]",
                help="A training plugin, e.g. dropout:rate=0.2 (repeatable)."),
        _option("--test-size", name="test_size",
                help="Share of rows held out for the test score (0: none)."),
        _option("--random-state", name="random_state",
                help="Seed of the split and of training (0 to 2**32 - 1)."),
        _option("--n-estimators", name="n_estimators",
                help="Networks averaged into an ensemble (1: a single network)."),
        _option("--combiner", name="combiner", metavar="NAME[:KEY=VALUE,...]",
                help="How members' outputs are merged: mean, vote, geometric_mean, "
                     "weighted_mean:weights=[W1,W2,...] (one weight per member) or "
                     "an installed combiner plugin."),
        _option("--bootstrap/--no-bootstrap", name="bootstrap",
                help="Train each member on a bootstrap sample (bagging)."),
        _option("--strategy", name="strategy",
                help="Ensemble strategy plugin: snapshot (members from one cyclic "
                     "run) or mc_dropout (dropout kept on at inference)."),
        _option("--n-jobs", name="n_jobs",
                help="Members trained at once (-1: one per core or Dask worker)."),
        _option("--backend", name="backend", help="Where joblib trains the members."),
        _option("--scheduler", name="scheduler", metavar="ADDRESS",
                help="Address of a running Dask scheduler (implies --backend dask), "
                     "e.g. tcp://10.0.0.5:8786."),
        _option("--timeout", name="timeout",
                help="Seconds the members may take on a parallel backend before "
                     "the fit fails (a dead worker otherwise hangs Dask)."),
        click.Option(["--drop"], multiple=True, metavar="COL",
                     help="A column that is not a feature (repeatable)."),
        click.Option(["--id", "id_column"], metavar="COL",
                     help="A row identifier: not a feature, carried into predict's "
                          "output."),
        sep_option(),
        click.Option(["--config"], type=click.Path(dir_okay=False), is_eager=True,
                     expose_value=False, callback=_read_config,
                     help="TOML (or YAML) file of these settings; options given here win."),
        _option("--quiet", "-q", name="quiet", help="Print nothing but errors."),
        _option("--verbose", "-v", name="verbose", help="Print one line per epoch."),
    ]
    return [p for p in params if p.name not in exclude]


_SEP: dict[str, Any] = {
    "metavar": "CHAR", "callback": lambda ctx, param, value: data_.parse_sep(value),
    "help": "Column separator of a CSV file (default ','; a tab for .tsv files)."}


def sep_option() -> click.Option:
    """The ``--sep`` option of the commands that read a CSV file.

    Returns
    -------
    click.Option
        A new ``--sep`` option (one character, or ``tab``).
    """
    return click.Option(["--sep"], **_SEP)


def with_sep(command: Any) -> Any:
    """Decorator: add ``--sep`` to a command (``predict``, ``evaluate``).

    Parameters
    ----------
    command : callable
        The command's function (below ``@click.command``).

    Returns
    -------
    callable
        The function, with the option.
    """
    return click.option("--sep", **_SEP)(command)


def read_training(data: str | None, options: dict) -> data_.TrainingTable:
    """DATA read with the data options of ``train`` (or ``search``), checked.

    Parameters
    ----------
    data : str or None
        The table file (None: the bundled digits).
    options : dict
        The command's options: ``target``, ``task``, ``sep``, ``drop``,
        ``id_column``.

    Returns
    -------
    ensemblekit.cli.data.TrainingTable
        See :func:`ensemblekit.cli.data.load_training_table`.
    """
    return data_.load_training_table(data, options["target"], options["task"],
                                     options["sep"], tuple(options["drop"]),
                                     options["id_column"])


def _check_roles(specs: Collection[str]) -> None:
    """Refuse an ensemble's combiner, sampler or strategy given as ``--plugin``.

    Raises
    ------
    click.BadParameter
        Naming the option that takes it (``--bootstrap``, ``--combiner vote``).
    """
    registry = get_registry()
    for spec in specs:
        name = spec.partition(":")[0].strip()
        if name not in registry.plugins:
            continue  # an unknown name is reported with its close matches
        role = plugin_role(registry.plugins[name])
        if role == "training":
            continue
        setting = next(s for _, r, s in ENSEMBLE_ROLES if r == role)
        use = option_name(setting) + ("" if role == "sampler" else f" {name}")
        raise click.BadParameter(
            f"plugin {name!r} is an ensemble {role}, not a training plugin: use {use} "
            "(with --n-estimators N) instead", param_hint="--plugin")


def build_model(task: str, options: dict, numeric: list[str],
                categorical: list[str]) -> Any:
    """The unfitted pipeline ``train`` trains with ``options``, or a click error.

    Parameters
    ----------
    task : {"classification", "regression"}
        The model's task.
    options : dict
        The command's options (``train``'s, or ``search``'s).
    numeric, categorical : list of str
        The feature columns of each kind.

    Returns
    -------
    sklearn.pipeline.Pipeline
        See :func:`ensemblekit.config.build_model`.
    """
    _check_roles(options["plugins"])
    with setting_errors():
        return config.build_model(task, options, numeric, categorical, spell=option_name)

