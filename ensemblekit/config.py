"""Train settings: read a config file, check the settings, build the model.

The settings are those of ``ensemblekit train`` (:data:`SETTINGS`: each one's
default, kind and allowed values), so a config file means the same thing to
the command line and to a Python caller: :func:`model_from_config` returns the
unfitted pipeline ``ensemblekit train --config FILE`` would train
(preprocessing, then the network or an ensemble of networks).  The command
line builds its options from :data:`SETTINGS` and calls :func:`read_config`
and :func:`build_model` itself.

Config files are TOML (or YAML with PyYAML installed) of ``KEY = VALUE``
lines; keys are the settings' names with dashes or underscores
(``max-iter = 50``), ``plugin`` lists the training plugins
(``[plugin.dropout]`` tables or ``"NAME:KEY=VALUE"`` strings).

Errors are :class:`ValueError` / :class:`TypeError` naming the setting;
:class:`SettingError` (a :class:`ValueError`) marks a value of the wrong form,
which the command line reports as a usage error of its option.
"""

from __future__ import annotations

import ast
import difflib
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sklearn.compose import ColumnTransformer, TransformedTargetRegressor
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import MaxAbsScaler, MinMaxScaler, OneHotEncoder, StandardScaler

from .ensemble import EnsembleClassifier, EnsembleRegressor
from .exceptions import SettingError
from .mlp import MLPClassifier, MLPRegressor
from .plugins import Plugin, get_registry, plugin_role
from .schema import ColumnSchema

__all__ = [
    "ENSEMBLE_ONLY",
    "SCALERS",
    "SETTINGS",
    "Setting",
    "SettingError",
    "build_model",
    "build_preprocessor",
    "check_settings",
    "config_key",
    "literal",
    "make_plugin",
    "model_from_config",
    "n_jobs",
    "parse_batch_size",
    "parse_hidden",
    "parse_weight_init",
    "read_config",
    "split_top_level",
    "uses_dask",
]


def config_key(name: str) -> str:
    """The config file key of setting ``name``: dashes, and ``plugin`` for ``plugins``.

    Parameters
    ----------
    name : str
        A setting's name (``"max_iter"``).

    Returns
    -------
    str
        ``"max-iter"``; the command line's option is ``"--"`` and this key.
    """
    return "plugin" if name == "plugins" else name.replace("_", "-")


def split_top_level(text: str) -> list[str]:
    """Split ``text`` on commas outside brackets and quotes.

    Parameters
    ----------
    text : str
        E.g. ``"rate=0.2,weights=[1, 2]"``.

    Returns
    -------
    list of str
        The stripped, non-empty parts (``["rate=0.2", "weights=[1, 2]"]``).
    """
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


def literal(raw: str) -> Any:
    """A Python/JSON literal (never evaluated as code), or the text itself.

    Parameters
    ----------
    raw : str
        ``"0.2"``, ``"[1, 2]"``, ``"true"``, ``"none"``, ``"relu"`` ...

    Returns
    -------
    object
        The literal's value (``true``/``false``/``none``/``null`` in any case
        too), else ``raw``.
    """
    lowered = {"true": True, "false": False, "none": None, "null": None}
    if raw.lower() in lowered:
        return lowered[raw.lower()]
    try:
        return ast.literal_eval(raw)
    except (ValueError, SyntaxError):
        return raw


def parse_hidden(text: Any) -> tuple[int, ...]:
    """Hidden layer sizes from ``"100,50"`` (or a single number).

    Parameters
    ----------
    text : str or int
        Positive integers separated by commas.

    Returns
    -------
    tuple of int
        The sizes.

    Raises
    ------
    SettingError
        For anything else.
    """
    try:
        sizes = tuple(int(h) for h in str(text).split(",") if h.strip())
    except ValueError:
        sizes = ()
    if not sizes or min(sizes) < 1:
        raise SettingError(f"expected positive integers separated by commas, got {text!r}",
                           "hidden")
    return sizes


def parse_batch_size(text: Any) -> str | int:
    """A mini-batch size: a positive integer or ``"auto"``.

    Parameters
    ----------
    text : str or int
        ``"auto"`` or a positive whole number.

    Returns
    -------
    str or int
        ``"auto"`` or the number.

    Raises
    ------
    SettingError
        For anything else.
    """
    if str(text) == "auto":
        return "auto"
    if str(text).isdigit() and int(text) > 0:
        return int(text)
    raise SettingError(f"expected a positive integer or 'auto', got {text!r}", "batch_size")


def parse_weight_init(text: Any) -> str | float:
    """A weight initialisation: ``glorot``, ``he``, ``xavier`` or a normal's std.

    Parameters
    ----------
    text : str or float
        A scheme's name or a positive number.

    Returns
    -------
    str or float
        The name, or the standard deviation.

    Raises
    ------
    SettingError
        For anything else.
    """
    if text in ("glorot", "he", "xavier"):
        return str(text)
    try:
        value = float(text)
    except (TypeError, ValueError):
        value = -1.0
    if value <= 0:
        raise SettingError(f"expected glorot, he, xavier or a positive std, got {text!r}",
                           "weight_init")
    return value


#: ``scale`` choices: how numeric columns are scaled after imputation.
SCALERS: dict[str, Any] = {"standard": StandardScaler, "maxabs": MaxAbsScaler,
                           "minmax": MinMaxScaler, "none": None}


@dataclass(frozen=True)
class Setting:
    """One train setting: its default, its kind and the values it may take.

    Parameters
    ----------
    default : object
        The value when the setting is not given.
    kind : {"text", "path", "int", "float", "flag", "choice", "specs"}
        What a value is: a string (or number), a file name, an integer, a
        number, true/false, one of ``choices``, or a list of
        ``NAME[:KEY=VALUE,...]`` plugin specs.
    choices : tuple of str, default=()
        The values of a ``choice`` setting.
    low, high : float or None, default=None
        Bounds of a number (inclusive unless ``low_open`` / ``high_open``).
    low_open, high_open : bool, default=False
        Whether a bound itself is excluded.
    parse : callable or None, default=None
        Turns the given text (or number) into the value, raising
        :class:`SettingError` (``hidden``, ``batch_size``, ``weight_init``).
    """

    default: Any
    kind: str = "text"
    choices: tuple[str, ...] = ()
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    parse: Callable[[Any], Any] | None = None


#: Every setting of ``ensemblekit train`` (its options, in their order), by name.
SETTINGS: dict[str, Setting] = {
    "target": Setting(None),
    "out": Setting(None, "path"),
    "task": Setting("auto", "choice", ("auto", "classification", "regression")),
    "hidden": Setting("100", parse=parse_hidden),
    "activation": Setting("relu", "choice", ("relu", "tanh", "logistic", "identity")),
    "solver": Setting("adam", "choice", ("adam", "sgd", "adagrad", "rmsprop", "lbfgs")),
    "max_iter": Setting(200, "int", low=1),
    "n_iter_no_change": Setting(10, "int", low=1),
    "tol": Setting(1e-4, "float", low=0),
    "batch_size": Setting("auto", parse=parse_batch_size),
    "learning_rate": Setting(0.001, "float", low=0, low_open=True),
    "learning_rate_schedule": Setting("constant", "choice",
                                      ("constant", "invscaling", "adaptive")),
    "alpha": Setting(0.0001, "float", low=0),
    "weight_init": Setting("glorot", parse=parse_weight_init),
    "batch_norm": Setting(False, "flag"),
    "early_stopping": Setting(False, "flag"),
    # None: 0.1 with early_stopping, nothing held out without it; given without
    # early_stopping, the share held out to monitor the validation score
    "validation_fraction": Setting(None, "float", low=0, high=1, low_open=True,
                                   high_open=True),
    "dtype": Setting("float32", "choice", ("float32", "float64")),
    "scale": Setting("standard", "choice", tuple(SCALERS)),
    "scale_target": Setting(True, "flag"),
    "plugins": Setting((), "specs"),
    "test_size": Setting(0.2, "float", low=0, high=1, high_open=True),
    "random_state": Setting(0, "int", low=0, high=2**32 - 1),
    "n_estimators": Setting(1, "int", low=1),
    "combiner": Setting("mean"),
    "bootstrap": Setting(False, "flag"),
    "strategy": Setting(None),
    "n_jobs": Setting(None, "int"),
    "backend": Setting("loky", "choice", ("loky", "threading", "dask")),
    "scheduler": Setting(None),
    "timeout": Setting(None, "float", low=0, low_open=True),
    "quiet": Setting(False, "flag"),
    "verbose": Setting(False, "flag"),
}

#: Settings that only mean something for an ensemble, with their defaults.
ENSEMBLE_ONLY: dict[str, Any] = {
    name: SETTINGS[name].default
    for name in ("combiner", "bootstrap", "strategy", "n_jobs", "backend", "scheduler",
                 "timeout")}


def read_config(path: str | Path,
                settings: Mapping[str, Setting] | None = None) -> dict[str, Any]:
    """Read a TOML (or YAML) file of settings; return them by name, type-checked.

    Parameters
    ----------
    path : str or Path
        The file; ``.yaml`` / ``.yml`` files are YAML (PyYAML needed), others TOML.
    settings : mapping of str to Setting, optional
        The settings the file may give (default: :data:`SETTINGS`).

    Returns
    -------
    dict
        Setting name to value, in the form of a command-line value: plugin
        tables become ``"NAME:KEY=VALUE,..."`` specs, a combiner table one spec,
        a list of hidden sizes ``"100,50"``.  Empty (YAML) values are left out.

    Raises
    ------
    FileNotFoundError
        If there is no such file.
    ImportError
        For a YAML file without PyYAML (or TOML on Python 3.10 without tomli).
    ValueError
        If the file cannot be parsed, or names an unknown setting.
    TypeError
        If a value has the wrong type (the message names the setting and the
        type it needs).
    """
    settings = SETTINGS if settings is None else settings
    file = Path(path)
    if not file.is_file():
        raise FileNotFoundError(f"config file not found: {path}")
    try:
        if file.suffix.lower() in (".yaml", ".yml"):
            import yaml  # optional: only YAML configs need it

            given = yaml.safe_load(file.read_text()) or {}
        else:
            if sys.version_info >= (3, 11):
                import tomllib
            else:
                import tomli as tomllib
            given = tomllib.loads(file.read_text())
    except ImportError as exc:
        raise ImportError(
            f"cannot read {path}: {exc.name} is not installed (pip install "
            f"{'pyyaml' if exc.name == 'yaml' else 'tomli'})") from None
    except Exception as exc:
        raise ValueError(f"cannot parse {path}: {exc}") from None
    if not isinstance(given, dict):
        raise ValueError(f"{path} must hold KEY = VALUE settings")
    names = list(settings)
    found: dict[str, Any] = {}
    for key, value in given.items():
        key = str(key)
        name = {"plugin": "plugins"}.get(key.replace("-", "_"), key.replace("-", "_"))
        if name not in names:
            close = difflib.get_close_matches(name, names, n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"settings are {', '.join(names)}"
            raise ValueError(f"{path}: unknown setting {key!r}; {hint}")
        if value is None:  # YAML's empty value: the default
            continue
        found[name] = _typed(key, name, value, settings[name], str(path))
    return found


def _typed(key: str, name: str, value: Any, setting: Setting, source: str) -> Any:
    """A config file's ``value`` of ``setting``, type-checked, in command-line form.

    Raises
    ------
    TypeError
        Naming the setting (as ``key``) and the type it should have.
    """
    def wrong(expected: str, got: Any = value) -> TypeError:
        return TypeError(f"config file {source}: {key!r} must be {expected}, got {got!r}")

    def scalar(item: Any) -> bool:
        return isinstance(item, (int, float, str)) and not isinstance(item, bool)

    if name == "plugins":
        if isinstance(value, str):
            return [value]
        if isinstance(value, list) and all(isinstance(s, str) for s in value):
            return value
        if not isinstance(value, dict):
            raise wrong('a table of plugins ([plugin.dropout] rate = 0.2) or a list of '
                        '"NAME:KEY=VALUE" strings')
        specs = []
        for plugin, opts in value.items():
            if opts is None:
                opts = {}
            if not isinstance(opts, dict):
                raise TypeError(
                    f"config file {source}: '{key}.{plugin}' must be a table of the "
                    f"plugin's parameters (e.g. [{key}.{plugin}] with KEY = VALUE lines, "
                    f"or {plugin} = {{}} for none), got {opts!r}")
            specs.append(f"{plugin}:" + ",".join(f"{k}={v!r}" for k, v in opts.items()))
        return specs
    if name == "combiner" and isinstance(value, dict):
        combiner = dict(value)
        plugin = combiner.pop("name", None)
        if not isinstance(plugin, str):
            raise wrong('a combiner name or a table with its name and parameters '
                        '({name = "weighted_mean", weights = [1, 2]})')
        return f"{plugin}:" + ",".join(f"{k}={v!r}" for k, v in combiner.items())
    if name == "hidden" and isinstance(value, list):
        if not all(isinstance(s, int) and not isinstance(s, bool) for s in value):
            raise wrong("a list of positive integers (e.g. [100, 50])")
        return ",".join(str(s) for s in value)
    if setting.kind == "flag":
        if not isinstance(value, bool):
            raise wrong("true or false")
    elif setting.kind == "int":
        if not isinstance(value, int) or isinstance(value, bool):
            raise wrong("an integer")
    elif setting.kind == "float":
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            raise wrong("a number")
    elif setting.kind in ("choice", "path"):
        if not isinstance(value, str):
            raise wrong("one of " + ", ".join(setting.choices) if setting.kind == "choice"
                        else "a string (a path)")
    elif not scalar(value):
        raise wrong("a string or a number" if name != "hidden" else
                    "a list of positive integers (e.g. [100, 50])")
    return value


def check_settings(given: Mapping[str, Any]) -> dict[str, Any]:
    """Every setting of :data:`SETTINGS`: the given values checked, defaults for the rest.

    Parameters
    ----------
    given : mapping of str to object
        Setting name (underscores) to value, as :func:`read_config` returns them.

    Returns
    -------
    dict
        All settings, with parsed values (``hidden`` as a tuple of int, ...).

    Raises
    ------
    SettingError
        For an unknown setting, a value outside its choices or bounds, or one
        its parser refuses.
    """
    unknown = [name for name in given if name not in SETTINGS]
    if unknown:
        raise SettingError(f"unknown setting {unknown[0]!r}; settings are "
                           f"{', '.join(SETTINGS)}", unknown[0])
    checked = {}
    for name, setting in SETTINGS.items():
        value = given.get(name, setting.default)
        if value is not None and setting.kind == "choice" and value not in setting.choices:
            raise SettingError(f"expected one of {', '.join(setting.choices)}, got "
                               f"{value!r}", name)
        if value is not None and setting.kind in ("int", "float"):
            low = setting.low is not None and (
                value <= setting.low if setting.low_open else value < setting.low)
            high = setting.high is not None and (
                value >= setting.high if setting.high_open else value > setting.high)
            if low or high:
                raise SettingError(f"{value!r} is out of range: {config_key(name)} must be "
                                   f"{_bounds(setting)}", name)
        if value is not None and setting.parse is not None:
            value = setting.parse(value)
        if setting.kind == "specs":
            value = [value] if isinstance(value, str) else list(value)
        checked[name] = value
    return checked


def _bounds(setting: Setting) -> str:
    parts = []
    if setting.low is not None:
        parts.append(f"{'>' if setting.low_open else '>='} {setting.low:g}")
    if setting.high is not None:
        parts.append(f"{'<' if setting.high_open else '<='} {setting.high:g}")
    return " and ".join(parts)


def make_plugin(spec: str, setting: str = "plugins",
                spell: Callable[[str], str] = config_key) -> Plugin:
    """Build a plugin from ``NAME`` or ``NAME:KEY=VALUE[,KEY=VALUE...]``.

    Parameters
    ----------
    spec : str
        The plugin's registered name and, after a colon, its parameters as
        literals (``dropout:rate=0.2``).
    setting : {"plugins", "combiner"}, default="plugins"
        The setting that gave ``spec``, named in the errors.
    spell : callable, default=config_key
        How errors spell a setting's name (the command line: ``--plugin``).

    Returns
    -------
    Plugin
        A new instance, its parameters validated.

    Raises
    ------
    SettingError
        If ``spec`` does not have that form.
    ValueError
        For an unknown plugin or parameter, or parameters the plugin refuses.
    """
    name, _, rest = spec.partition(":")
    name = name.strip()
    params = {}
    for item in split_top_level(rest):
        key, eq, raw = item.partition("=")
        if not eq or not key.strip().isidentifier():
            raise SettingError(f"expected NAME:KEY=VALUE[,KEY=VALUE...], got {spec!r}",
                               setting)
        params[key.strip()] = literal(raw.strip())
    registry = get_registry()
    if name not in registry.plugins:  # suggest only plugins that can go in this setting
        role = "combiner" if setting == "combiner" else "training"
        fitting = [n for n in registry.names() if plugin_role(registry.plugins[n]) == role]
        close = difflib.get_close_matches(name, fitting, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise ValueError(
            f"unknown plugin {name!r}: {hint}installed {role} plugins are "
            f"{', '.join(fitting) or '(none)'} (see 'ensemblekit plugins')")
    cls = registry.plugins[name]
    accepted = sorted(cls().get_params())
    unknown = [k for k in params if k not in accepted]
    if unknown:
        raise ValueError(
            f"plugin {name!r} has no parameter {unknown[0]!r}; its parameters are "
            f"{', '.join(accepted) or '(none)'}")
    plugin = registry.create(name, **params)
    try:
        plugin.validate()
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{spell(setting)} {spec}: {exc}") from None
    return plugin


def build_preprocessor(numeric: list[str], categorical: list[str],
                       scale: str = "standard") -> ColumnTransformer:
    """Impute and scale numbers, impute and one-hot encode categories.

    Parameters
    ----------
    numeric, categorical : list of str
        The columns of each kind.
    scale : {"standard", "maxabs", "minmax", "none"}, default="standard"
        Scaling of the numeric columns: zero mean and unit variance, division
        by the largest absolute value (keeps zeros at zero and a constant
        column at most 1: suited to pixels and counts), to [0, 1], or none.

    Returns
    -------
    sklearn.compose.ColumnTransformer
        Unfitted.

    Raises
    ------
    SettingError
        For another ``scale``.
    """
    if scale not in SCALERS:
        raise SettingError(f"expected one of {', '.join(SCALERS)}, got {scale!r}", "scale")
    parts = []
    if numeric:
        scaler = SCALERS[scale]
        steps = [SimpleImputer(strategy="median")] + ([scaler()] if scaler else [])
        parts.append(("numeric", make_pipeline(*steps), numeric))
    if categorical:
        parts.append(("categorical", make_pipeline(
            SimpleImputer(strategy="most_frequent"),
            OneHotEncoder(handle_unknown="ignore")), categorical))
    return ColumnTransformer(parts)


def uses_dask(settings: Mapping[str, Any]) -> bool:
    """Whether the settings train an ensemble's members on Dask.

    Parameters
    ----------
    settings : mapping
        Checked settings (``backend`` and ``scheduler``).

    Returns
    -------
    bool
        True for ``backend = "dask"`` or a ``scheduler`` address.
    """
    return settings["backend"] == "dask" or settings["scheduler"] is not None


def n_jobs(settings: Mapping[str, Any]) -> int | None:
    """The ensemble's ``n_jobs``: as given, else one job per Dask worker on Dask.

    Parameters
    ----------
    settings : mapping
        Checked settings (``n_jobs``, ``backend`` and ``scheduler``).

    Returns
    -------
    int or None
        ``n_jobs``; -1 on Dask when not given; None otherwise.

    Raises
    ------
    SettingError
        For ``n_jobs = 0``.
    """
    if settings["n_jobs"] is not None:
        if settings["n_jobs"] == 0:
            raise SettingError("0 workers cannot train anything; give a positive "
                               "number or -1 for all", "n_jobs")
        return int(settings["n_jobs"])
    return -1 if uses_dask(settings) else None


def _ensemble(task: str, estimator: Any, settings: Mapping[str, Any],
              spell: Callable[[str], str]) -> Any:
    """Wrap ``estimator`` in an ensemble when ``n_estimators`` > 1; check its plugins."""
    if settings["n_estimators"] == 1:
        given = [spell(name) for name, default in ENSEMBLE_ONLY.items()
                 if settings[name] != default]
        if given:
            many = spell("n_estimators")
            raise SettingError(f"{', '.join(given)}: an ensemble setting, but {many} is 1; "
                               f"add {many} N (N > 1)")
        return estimator
    combiner = settings["combiner"]
    if ":" in str(combiner):  # NAME:KEY=VALUE,... e.g. weighted_mean:weights=[3,1]
        combiner = make_plugin(combiner, "combiner", spell)
    cls = EnsembleClassifier if task == "classification" else EnsembleRegressor
    ensemble = cls(estimator=estimator, n_estimators=settings["n_estimators"],
                   combiner=combiner, bootstrap=settings["bootstrap"],
                   strategy=settings["strategy"], n_jobs=n_jobs(settings),
                   timeout=settings["timeout"], random_state=settings["random_state"])
    ensemble.check_plugins()  # a typo or bad weights fail before training
    return ensemble


def _validation(settings: Mapping[str, Any], spell: Callable[[str], str]) -> dict[str, Any]:
    """The network's validation parameters: early stopping, or monitoring only.

    ``validation_fraction`` given without ``early_stopping`` holds that share
    out to record its score every epoch (``monitor_validation``).

    Raises
    ------
    SettingError
        For monitoring with L-BFGS, which has no epochs.
    """
    fraction = settings["validation_fraction"]
    params: dict[str, Any] = {"early_stopping": settings["early_stopping"]}
    if fraction is None:
        return params
    params.update(validation_fraction=fraction,
                  monitor_validation=not settings["early_stopping"])
    if params["monitor_validation"] and settings["solver"] == "lbfgs":
        raise SettingError(
            f"{spell('validation_fraction')} without {spell('early_stopping')} records the "
            f"validation score every epoch, and {spell('solver')} lbfgs has no epochs; use "
            "a stochastic solver (adam, sgd, adagrad, rmsprop)", "validation_fraction")
    return params


def build_model(task: str, settings: Mapping[str, Any], numeric: list[str],
                categorical: list[str] | None = None,
                spell: Callable[[str], str] = config_key) -> Pipeline:
    """The unfitted pipeline ``ensemblekit train`` trains with these settings.

    Parameters
    ----------
    task : {"classification", "regression"}
        The model's task.
    settings : mapping
        Checked settings (:func:`check_settings`; the command line's options).
    numeric, categorical : list of str
        The feature columns of each kind.
    spell : callable, default=config_key
        How errors spell a setting's name (the command line: ``--max-iter``).

    Returns
    -------
    sklearn.pipeline.Pipeline
        ``schema`` (a :class:`~ensemblekit.schema.ColumnSchema` of these
        columns: every table, however read, normalised to the kinds seen in
        training), ``preprocess`` (imputation, scaling, one-hot encoding) then ``model``:
        the network, an ensemble of them (``n_estimators`` > 1), and for a
        regression with ``scale_target`` a standardised-target wrapper.

    Raises
    ------
    SettingError
        For a malformed plugin spec, a plugin given twice, ensemble settings
        with one member, or ``n_jobs = 0``.
    ValueError, TypeError
        For unknown plugins or parameters, and settings a plugin refuses.
    """
    preprocessor = build_preprocessor(numeric, categorical or [], settings["scale"])
    plugins = [make_plugin(spec, "plugins", spell) for spec in settings["plugins"]]
    names = [plugin.name for plugin in plugins]
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        raise SettingError(
            f"{', '.join(twice)} given more than once; give each plugin once, with all its "
            "parameters: NAME:KEY=VALUE,KEY=VALUE", "plugins")
    cls = MLPClassifier if task == "classification" else MLPRegressor
    estimator = cls(**_validation(settings, spell),
        hidden_layer_sizes=settings["hidden"],
        activation=settings["activation"], solver=settings["solver"],
        alpha=settings["alpha"], batch_size=settings["batch_size"],
        learning_rate=settings["learning_rate_schedule"],
        learning_rate_init=settings["learning_rate"], max_iter=settings["max_iter"],
        n_iter_no_change=settings["n_iter_no_change"], tol=settings["tol"],
        random_state=settings["random_state"],
        weight_init=settings["weight_init"],
        batch_norm=settings["batch_norm"], plugins=plugins or None, dtype=settings["dtype"])
    network = _ensemble(task, estimator, settings, spell)
    if task == "regression" and settings["scale_target"]:
        network = TransformedTargetRegressor(regressor=network, transformer=StandardScaler())
    schema = ColumnSchema(numeric=list(numeric), categorical=list(categorical or []))
    return Pipeline([("schema", schema), ("preprocess", preprocessor), ("model", network)])


def model_from_config(config: str | Path, task: str, numeric: list[str],
                      categorical: list[str] | None = None, **overrides: Any) -> Pipeline:
    """The unfitted pipeline ``ensemblekit train --config CONFIG`` would train.

    Parameters
    ----------
    config : str or Path
        A TOML (or YAML) file of ``train`` settings.
    task : {"classification", "regression"}
        The model's task.
    numeric, categorical : list of str
        The feature columns of each kind.
    **overrides
        More settings by name; they win over the file (``random_state=1``).

    Returns
    -------
    sklearn.pipeline.Pipeline
        The column schema, the preprocessing and the network (or ensemble).

    Raises
    ------
    ValueError, TypeError
        For a file that cannot be read, unknown settings, and values of the
        wrong type or form (:class:`SettingError` names the setting).
    """
    given = read_config(config)
    given.update({name: _typed(config_key(name), name, value, SETTINGS[name], "overrides")
                  for name, value in overrides.items() if name in SETTINGS})
    given.update({name: value for name, value in overrides.items() if name not in SETTINGS})
    return build_model(task, check_settings(given), numeric, categorical)
