"""Plugin discovery, the registry of named plugins, and the per-fit hook caller.

Discovery follows pytest and llm: built-in plugin modules are registered
first, by module name; then the modules named by the ``ensemblekit``
entry-point group are loaded **one at a time**, so that one broken
distribution is reported by name (a :class:`PluginLoadWarning`) and does not
take the others down.

Environment variables
---------------------
``ENSEMBLEKIT_DISABLE_PLUGIN_AUTOLOAD``
    Any non-empty value other than ``0``: load no third-party entry points
    (built-ins are still available).
``ENSEMBLEKIT_LOAD_PLUGINS``
    Comma-separated entry-point or distribution names: load only these
    third-party plugins.  An empty string loads none.
``ENSEMBLEKIT_STRICT_PLUGINS``
    Non-empty and not ``0``: a plugin that fails to load raises instead of
    warning (for plugin authors and CI).
``ENSEMBLEKIT_TRACE_PLUGINS``
    Non-empty and not ``0``: print every training-hook call to stderr.
``ENSEMBLEKIT_PLUGIN_IMPORT_WARN_SECONDS``
    Seconds a third-party plugin's import may take before discovery names it,
    and where it is, on stderr (default 5; ``0`` turns the watchdog off).

A plugin whose import raises anything but ``KeyboardInterrupt`` -- an
``Exception``, ``SystemExit`` from ``sys.exit()``, another ``BaseException`` --
is skipped with a :class:`PluginLoadWarning` naming its distribution.
"""

from __future__ import annotations

import difflib
import importlib
import importlib.metadata
import inspect
import operator
import os
import re
import sys
import threading
import traceback
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import pluggy

from . import hookspecs
from .exceptions import PluginError, PluginLoadWarning, TrainingAborted

__all__ = [
    "BUILTIN_PLUGIN_MODULES",
    "PASS_THROUGH_EXCEPTIONS",
    "Plugin",
    "PluginError",
    "PluginLoadWarning",
    "env_flag",
    "get_registry",
    "plugin_role",
    "resolve_plugins",
]

BUILTIN_PLUGIN_MODULES: tuple[str, ...] = (
    "ensemblekit.default_plugins.weight_decay",
    "ensemblekit.default_plugins.dropout",
    "ensemblekit.default_plugins.combiners",
    "ensemblekit.default_plugins.bagging",
    "ensemblekit.default_plugins.snapshot",
    "ensemblekit.default_plugins.mc_dropout",
    "ensemblekit.default_plugins.schedules",
)

ENTRY_POINT_GROUP = "ensemblekit"


def env_flag(name: str) -> bool:
    """Whether the switch in environment variable ``name`` is on.

    Parameters
    ----------
    name : str
        The variable, e.g. ``"ENSEMBLEKIT_DISABLE_PLUGIN_AUTOLOAD"``.

    Returns
    -------
    bool
        False when the variable is unset, empty or ``"0"``; True otherwise.
    """
    value = os.environ.get(name, "")
    return value not in ("", "0")


class Plugin:
    """Base class of every training plugin, built-in or third-party.

    Subclass it, give the class a ``name`` (the name it is registered and
    referred to by), keep ``__init__`` to storing its arguments (scikit-learn
    rules: the plugin is cloned with ``sklearn.base.clone`` and its parameters
    are set through ``get_params`` / ``set_params``), and implement hooks from
    :mod:`ensemblekit.hookspecs` as methods decorated with
    :data:`ensemblekit.hookimpl`.

    ``Plugin`` has scikit-learn's parameter protocol (``get_params``,
    ``set_params``, a repr of the changed parameters, ``_parameter_constraints``)
    but is not a ``BaseEstimator``: plugin discovery imports every plugin
    module, and ``sklearn.base`` alone took seconds to import.

    A plugin instance configured on an estimator is never trained: ``fit``
    clones it into ``estimator.plugins_``, so state set in hooks (masks,
    generators) lives on the clone.

    Attributes
    ----------
    name : str
        Name under which the plugin is registered and addressed (a class
        attribute).
    zero_strength_params : dict, callable or None
        A class attribute: the parameter values that switch the plugin off,
        e.g. ``{"alpha": 0.0}`` (training with them must equal training
        without the plugin); the conformance kit's
        :func:`~ensemblekit.testing.check_zero_strength` uses them.  When the
        off value depends on the network, a function (a ``staticmethod``)
        ``zero_strength_params(estimator)`` returning the values, or None when
        that estimator has none.  None (the default) = the plugin has no off
        value; the kit then reports the check as skipped.  The former name
        ``_zero_strength_params`` is still read, with a ``DeprecationWarning``.
    """

    #: Name under which the plugin is registered and addressed.
    name: str = ""

    #: Parameter values that switch the plugin off (or a function of the
    #: estimator returning them); None = no off value.
    zero_strength_params: ClassVar[
        Mapping[str, Any] | Callable[[Any], Mapping[str, Any] | None] | None] = None

    @classmethod
    def _get_param_names(cls) -> list[str]:
        """The parameters of ``__init__``, sorted (scikit-learn's rule)."""
        if cls.__init__ is object.__init__:
            return []
        params = list(inspect.signature(cls.__init__).parameters.values())[1:]
        if any(p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) for p in params):
            raise RuntimeError(
                f"plugin {cls.__name__} takes *args or **kwargs in __init__; list its "
                "parameters explicitly so that it can be cloned")
        return sorted(p.name for p in params)

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The plugin's parameters, as scikit-learn's ``get_params``.

        Parameters
        ----------
        deep : bool, default=True
            Also return the parameters of parameter values that have
            ``get_params``, as ``<name>__<parameter>``.

        Returns
        -------
        dict
            Parameter name to value.
        """
        out: dict[str, Any] = {}
        for name in self._get_param_names():
            value = getattr(self, name)
            if deep and hasattr(value, "get_params") and not isinstance(value, type):
                out.update((f"{name}__{k}", v) for k, v in value.get_params().items())
            out[name] = value
        return out

    def set_params(self, **params: Any) -> Plugin:
        """Set parameters, as scikit-learn's ``set_params``.

        Parameters
        ----------
        **params
            ``name=value``; ``<name>__<parameter>=value`` sets a parameter of
            a parameter value.

        Returns
        -------
        Plugin
            This plugin.

        Raises
        ------
        ValueError
            For a name that is not a parameter of the plugin.
        """
        valid = self._get_param_names()
        for key, value in params.items():
            name, _, sub = key.partition("__")
            if name not in valid:
                raise ValueError(f"invalid parameter {name!r} for plugin "
                                 f"{type(self).__name__}; its parameters are {valid}")
            if sub:
                getattr(self, name).set_params(**{sub: value})
            else:
                setattr(self, name, value)
        return self

    def __repr__(self) -> str:
        """``Class(param=value, ...)`` with the parameters that differ from the defaults."""
        defaults = {name: p.default for name, p in
                    inspect.signature(type(self).__init__).parameters.items()}
        changed = [f"{name}={value!r}" for name, value in self.get_params(deep=False).items()
                   if not _same_default(value, defaults.get(name, inspect.Parameter.empty))]
        return f"{type(self).__name__}({', '.join(changed)})"

    def validate(self) -> None:
        """Check the plugin's parameters; raise ``ValueError``/``TypeError``.

        Called by the estimator's ``fit`` before training.  The default checks
        ``_parameter_constraints`` when the subclass declares them (with
        scikit-learn's checker: an ``InvalidParameterError`` names the
        parameter and what it accepts).
        """
        constraints = getattr(self, "_parameter_constraints", None)
        if constraints:
            from ._constraints import check_parameters

            check_parameters(self, constraints)


def _same_default(value: Any, default: Any) -> bool:
    """Whether a parameter still has its default value, for the repr."""
    if value is default:
        return True
    simple = (str, int, float, bool, type(None))
    return (isinstance(value, simple) and isinstance(default, simple)
            and type(value) is type(default) and value == default)



# --------------------------------------------------------------------------
# discovery
# --------------------------------------------------------------------------
@dataclass
class Registry:
    """Named plugin classes, and what happened while loading them.

    Attributes
    ----------
    plugins : dict
        ``name -> plugin class``.
    sources : dict
        ``name -> (distribution or module, version)`` that registered it.
    failures : list of dict
        One entry per plugin module that failed to load: ``name``,
        ``distribution``, ``error``.
    """

    plugins: dict[str, type] = field(default_factory=dict)
    sources: dict[str, tuple[str, str]] = field(default_factory=dict)
    failures: list[dict[str, str]] = field(default_factory=list)
    manager: pluggy.PluginManager | None = None

    def names(self) -> list[str]:
        """Return the registered names, sorted."""
        return sorted(self.plugins)

    def add(self, name: str, plugin_class: type, source: tuple[str, str]) -> None:
        """Register ``plugin_class`` under ``name``.

        Parameters
        ----------
        name : str
            The name users refer to the plugin by.
        plugin_class : type
            A subclass of :class:`Plugin`.
        source : (str, str)
            Distribution (or module) and version registering it.

        Raises
        ------
        TypeError
            For an empty name or a class that is not a :class:`Plugin`.
        PluginError
            If another class is registered under ``name``; the message names
            both sources.
        """
        if not isinstance(name, str) or not name:
            raise TypeError(f"plugin name must be a non-empty string, got {name!r}")
        if not (isinstance(plugin_class, type) and issubclass(plugin_class, Plugin)):
            raise TypeError(
                f"plugin {name!r} must be a subclass of ensemblekit.Plugin, "
                f"got {plugin_class!r}"
            )
        if name in self.plugins and self.plugins[name] is not plugin_class:
            raise PluginError(
                f"plugin name {name!r} is registered twice: by "
                f"{self.sources[name][0]} and by {source[0]}"
            )
        self.plugins[name] = plugin_class
        self.sources[name] = source

    def remove(self, name: str) -> None:
        """Forget the plugin registered as ``name`` (no error if there is none)."""
        self.plugins.pop(name, None)
        self.sources.pop(name, None)

    def create(self, name: str, **params: Any) -> Plugin:
        """Instantiate the plugin registered as ``name``.

        Raises
        ------
        ValueError
            If nothing is registered under ``name``; the message lists what is.
        """
        try:
            cls = self.plugins[name]
        except KeyError:
            raise ValueError(
                f"unknown plugin {name!r}. Registered plugins: "
                f"{', '.join(self.names()) or '(none)'}."
            ) from None
        return cls(**params)


class _Manager(pluggy.PluginManager):
    """A plugin manager that only looks at ``ensemblekit_*`` attributes.

    Plugin instances are scikit-learn estimators with dozens of attributes;
    pluggy would otherwise inspect every one of them on each registration
    (pytest filters on its ``pytest_`` prefix the same way).
    """

    def parse_hookimpl_opts(self, plugin, name):  # noqa: D102 - pluggy's hook
        if not name.startswith("ensemblekit_"):
            return None
        return super().parse_hookimpl_opts(plugin, name)


def _new_manager() -> pluggy.PluginManager:
    pm = _Manager("ensemblekit")
    pm.add_hookspecs(hookspecs)
    return pm


def _dist_name(ep: importlib.metadata.EntryPoint) -> tuple[str, str]:
    dist = getattr(ep, "dist", None)
    if dist is None:
        return ep.value.split(":")[0], ""
    return dist.metadata["Name"] or ep.name, dist.version or ""


def _registering_callback(registry: Registry, source: tuple[str, str]) -> Callable:
    def register(name: str, plugin_class: type) -> None:
        registry.add(name, plugin_class, source)

    return register


def _register_module(registry: Registry, pm: pluggy.PluginManager, module: Any,
                     name: str, source: tuple[str, str]) -> None:
    """Register one plugin module; roll back on failure."""
    before = dict(registry.plugins)
    pm.register(module, name=name)
    try:
        pm.check_pending()
        others = [p for p in pm.get_plugins() if p is not module]
        caller = pm.subset_hook_caller("ensemblekit_register_plugins", others)
        caller(register=_registering_callback(registry, source))
    except BaseException:
        pm.unregister(module)
        registry.plugins = before
        registry.sources = {k: v for k, v in registry.sources.items() if k in before}
        raise


def _allowed(ep: importlib.metadata.EntryPoint, dist: str) -> bool:
    allow = os.environ.get("ENSEMBLEKIT_LOAD_PLUGINS")
    if allow is None:
        return True
    wanted = {w.strip() for w in allow.split(",") if w.strip()}
    return ep.name in wanted or dist in wanted


def build_registry(entry_points: Iterable[importlib.metadata.EntryPoint] | None = None
                   ) -> Registry:
    """Load the built-in plugins and then every allowed entry point.

    Parameters
    ----------
    entry_points : iterable of EntryPoint, optional
        Entry points to load instead of those installed in group
        ``ensemblekit`` (used by tests and :mod:`ensemblekit.testing`).

    Returns
    -------
    Registry
        A fresh registry; the process-wide one is :func:`get_registry`.
    """
    registry = Registry()
    pm = _new_manager()
    registry.manager = pm
    for modname in BUILTIN_PLUGIN_MODULES:
        module = importlib.import_module(modname)
        _register_module(registry, pm, module, modname, ("ensemblekit", _version()))
    if entry_points is None:
        if env_flag("ENSEMBLEKIT_DISABLE_PLUGIN_AUTOLOAD"):
            return registry
        entry_points = importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)
    strict = env_flag("ENSEMBLEKIT_STRICT_PLUGINS")
    for ep in entry_points:
        dist, version = _dist_name(ep)
        if ep.value.split(":")[0] in BUILTIN_PLUGIN_MODULES or pm.has_plugin(ep.name):
            continue
        if not _allowed(ep, dist):
            continue
        try:
            module = _load_entry_point(ep, dist)
            _register_module(registry, pm, module, ep.name, (dist, version))
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # a broken plugin (even sys.exit()) must not
            # take the others, or the process, down
            if strict:
                raise PluginError(
                    f"plugin {ep.name!r} from distribution {dist!r} failed to load: "
                    f"{type(exc).__name__}: {exc}"
                ) from exc
            registry.failures.append(
                {"name": ep.name, "distribution": dist,
                 "error": f"{type(exc).__name__}: {exc}"}
            )
            warnings.warn(
                f"ensemblekit plugin {ep.name!r} from distribution {dist!r} failed "
                f"to load and was skipped: {type(exc).__name__}: {exc}",
                PluginLoadWarning,
                stacklevel=2,
            )
    return registry


#: Default of ``ENSEMBLEKIT_PLUGIN_IMPORT_WARN_SECONDS``.
IMPORT_WARN_SECONDS = 5.0


def _import_warn_seconds() -> float:
    value = os.environ.get("ENSEMBLEKIT_PLUGIN_IMPORT_WARN_SECONDS", "")
    try:
        return float(value) if value.strip() else IMPORT_WARN_SECONDS
    except ValueError:
        return IMPORT_WARN_SECONDS


def _load_entry_point(ep: importlib.metadata.EntryPoint, dist: str) -> Any:
    """Import one entry point's module; name it on stderr if it takes too long.

    A watchdog thread waits ``ENSEMBLEKIT_PLUGIN_IMPORT_WARN_SECONDS`` (default
    :data:`IMPORT_WARN_SECONDS`; ``0`` or less: no watchdog); if the import is
    still running then, it writes which plugin and distribution is importing,
    and where the import is at, to standard error.  The import itself is not
    interrupted.
    """
    limit = _import_warn_seconds()
    if limit <= 0:
        return ep.load()
    importer = threading.get_ident()

    def report() -> None:
        frame = sys._current_frames().get(importer)
        where = "".join(traceback.format_stack(frame)[-3:]) if frame is not None else ""
        sys.stderr.write(
            f"ensemblekit: importing plugin {ep.name!r} from distribution {dist!r} has "
            f"taken more than {limit:g} s (ENSEMBLEKIT_PLUGIN_IMPORT_WARN_SECONDS); it "
            f"is at:\n{where}"
        )
        sys.stderr.flush()

    watchdog = threading.Timer(limit, report)
    watchdog.daemon = True
    watchdog.start()
    try:
        return ep.load()
    finally:
        watchdog.cancel()


def entry_point_listing() -> list[dict[str, str]]:
    """Describe the installed ``ensemblekit`` entry points without importing them.

    Read from the distributions' metadata only: no plugin code runs.

    Returns
    -------
    list of dict
        One per entry point, sorted by name: ``name`` (the entry point's),
        ``distribution``, ``version`` and ``module``.
    """
    rows = []
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        dist, version = _dist_name(ep)
        rows.append({"name": ep.name, "distribution": dist, "version": version,
                     "module": ep.value.split(":")[0].strip()})
    return sorted(rows, key=lambda r: (r["name"], r["distribution"]))


def _version() -> str:
    from . import __version__

    return __version__


_REGISTRY: Registry | None = None
_LOCK = threading.Lock()


def get_registry() -> Registry:
    """Return the process-wide registry, building it on first use.

    Returns
    -------
    Registry
        Named plugin classes from ensemblekit and installed distributions.
    """
    global _REGISTRY
    with _LOCK:
        if _REGISTRY is None:
            _REGISTRY = build_registry()
        return _REGISTRY


def set_registry(registry: Registry | None) -> Registry | None:
    """Make ``registry`` the process-wide one (``None``: rebuild on next use).

    Used by :func:`ensemblekit.testing.isolated_registry`.

    Parameters
    ----------
    registry : Registry or None
        The registry :func:`get_registry` returns from now on.

    Returns
    -------
    Registry or None
        The one it replaces.
    """
    global _REGISTRY
    with _LOCK:
        previous, _REGISTRY = _REGISTRY, registry
        _PARTIAL.clear()
    return previous


# --------------------------------------------------------------------------
# one plugin by name, importing no more than it needs (model files)
# --------------------------------------------------------------------------
#: The distribution recorded for the built-in plugins.
BUILTIN_DISTRIBUTION = "ensemblekit"

_PARTIAL: dict[str, Registry] = {}  # "" = built-ins only; else built-ins + one distribution


def _canonical(distribution: str) -> str:
    """A distribution name as packaging normalises it (PEP 503)."""
    return re.sub(r"[-_.]+", "-", distribution).lower()


def _partial_registry(distribution: str) -> Registry:
    """The built-ins plus the entry points of one installed distribution, cached."""
    key = "" if distribution == BUILTIN_DISTRIBUTION else _canonical(distribution)
    with _LOCK:
        cached = _PARTIAL.get(key)
    if cached is not None:
        return cached
    eps = [] if not key or env_flag("ENSEMBLEKIT_DISABLE_PLUGIN_AUTOLOAD") else [
        ep for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)
        if _canonical(_dist_name(ep)[0]) == key]
    registry = build_registry(entry_points=eps)
    with _LOCK:
        return _PARTIAL.setdefault(key, registry)


def install_hint(name: str, distribution: str, version: str) -> str:
    """Say what to install for a plugin a model file names.

    The version rule: at least the *major.minor* release series that wrote the
    file (``0.1.3`` gives ``>=0.1``).  Patch releases keep a plugin's parameters
    and fitted attributes, and pip installs the newest release that matches.

    Parameters
    ----------
    name : str
        The plugin's registered name.
    distribution : str
        The distribution the file records for it; ``""`` when it records none.
    version : str
        That distribution's version when the file was written (may be ``""``).

    Returns
    -------
    str
        E.g. ``"plugin 'orthoreg' is not installed: pip install
        'ensemblekit-orthoreg>=0.1'"``.
    """
    if not distribution or distribution == BUILTIN_DISTRIBUTION:
        return f"plugin {name!r} is not installed"
    series = re.match(r"\d+(\.\d+)?", version or "")
    spec = f">={series.group(0)}" if series else ""
    return f"plugin {name!r} is not installed: pip install '{distribution}{spec}'"


def find_plugin_class(name: str, distribution: str = "", version: str = "") -> type[Plugin]:
    """Look up one plugin class, importing only what it needs.

    Used by :func:`ensemblekit.load`, which knows from the model file the
    distribution each plugin came from.  When the process-wide registry
    (:func:`get_registry`) is already built it is used as it is.  Otherwise a
    built-in is found without importing any third-party plugin, and a
    third-party plugin through the entry points of its recorded distribution
    only; a file that records no distribution (written before provenance was
    recorded), or one whose distribution does not provide the name, falls back
    to the full registry.

    Parameters
    ----------
    name : str
        The plugin's registered name.
    distribution : str, default=""
        The distribution the file records (``"ensemblekit"`` for built-ins).
    version : str, default=""
        Its recorded version, for the error message.

    Returns
    -------
    type
        The plugin class.

    Raises
    ------
    ValueError
        If no installed plugin has that name; the message says what to
        ``pip install`` when the distribution is known, and lists the
        registered plugins.
    """
    with _LOCK:
        built = _REGISTRY
    if built is None:
        if distribution in ("", BUILTIN_DISTRIBUTION):
            builtins = _partial_registry(BUILTIN_DISTRIBUTION)
            if name in builtins.plugins:
                return builtins.plugins[name]
        else:
            own = _partial_registry(distribution)
            if name in own.plugins:
                return own.plugins[name]
    registry = get_registry()
    if name in registry.plugins:
        return registry.plugins[name]
    raise ValueError(f"{install_hint(name, distribution, version)}. Registered plugins: "
                     f"{', '.join(registry.names()) or '(none)'}.")


# --------------------------------------------------------------------------
# resolving an estimator's ``plugins`` parameter
# --------------------------------------------------------------------------
#: The ensemble-level roles, from the hook that defines each (first match wins), and
#: the ensemble parameter a plugin of that role belongs in.
ENSEMBLE_ROLES = (("ensemblekit_combine", "combiner", "combiner"),
                  ("ensemblekit_sample_member", "sampler", "bootstrap"),
                  ("ensemblekit_prepare_runs", "strategy", "strategy"))


def plugin_role(plugin: type | Plugin) -> str:
    """The role a plugin plays: ``"training"``, or an ensemble's part.

    Parameters
    ----------
    plugin : Plugin subclass or instance
        The plugin.

    Returns
    -------
    str
        ``"combiner"``, ``"sampler"`` or ``"strategy"`` for a plugin that
        implements that ensemble-level hook (it belongs in an ensemble's
        ``combiner``, ``bootstrap`` or ``strategy``), else ``"training"``
        (it belongs in a network's ``plugins``).
    """
    cls = plugin if isinstance(plugin, type) else type(plugin)
    return next((role for hook, role, _ in ENSEMBLE_ROLES if hasattr(cls, hook)), "training")


def plugin_name(entry: Any) -> str:
    """Return the name of one entry of a ``plugins`` list."""
    if isinstance(entry, str):
        return entry
    if isinstance(entry, tuple):
        return entry[0]
    name = getattr(entry, "name", "") or type(entry).__name__.lower()
    return name


def _check_entry(entry: Any) -> None:
    if isinstance(entry, tuple):
        if (len(entry) != 2 or not isinstance(entry[0], str)
                or not (entry[1] is None or isinstance(entry[1], (Plugin, str)))):
            raise TypeError(
                "a plugins entry given as a tuple must be (name, plugin) with a "
                f"str name and an ensemblekit.Plugin (or None), got {entry!r}"
            )
    elif not isinstance(entry, (str, Plugin)):
        raise TypeError(
            "plugins must hold ensemblekit.Plugin instances, (name, plugin) pairs "
            f"or registered names; got {type(entry).__name__} {entry!r}"
        )


def resolve_plugins(plugins: Any) -> list[tuple[str, Plugin]]:
    """Turn an estimator's ``plugins`` parameter into fresh ``(name, plugin)``.

    Plugin objects are cloned (the user's objects are never modified),
    registered names are instantiated with default parameters, ``None``
    entries (a plugin switched off with ``set_params(plugins__x=None)``) are
    dropped.

    Parameters
    ----------
    plugins : list or None
        Plugin objects, registered names or ``(name, plugin)`` pairs.

    Returns
    -------
    list of (str, Plugin)
        One fresh plugin per entry, under its name, in the given order.

    Raises
    ------
    TypeError
        For an entry of the wrong type.
    ValueError
        For an unknown registered name or two entries with the same name.
    """
    from sklearn.base import clone

    if plugins is None:
        return []
    if isinstance(plugins, (str, Plugin, tuple)) or not isinstance(plugins, Iterable):
        raise TypeError(
            "plugins must be a list of plugins, (name, plugin) pairs or names; got "
            f"{type(plugins).__name__}"
        )
    resolved: list[tuple[str, Plugin]] = []
    seen: set[str] = set()
    for entry in plugins:
        _check_entry(entry)
        name = plugin_name(entry)
        obj = entry[1] if isinstance(entry, tuple) else entry
        if name in seen:
            raise ValueError(
                f"two plugins are named {name!r}; give them distinct names with "
                "(name, plugin) pairs"
            )
        seen.add(name)
        if obj is None:
            continue
        if isinstance(obj, str):
            obj = get_registry().create(obj)
        else:
            obj = clone(obj)
        obj.validate()
        resolved.append((name, obj))
    return resolved


# --------------------------------------------------------------------------
# per-fit hook caller
# --------------------------------------------------------------------------
def _specs(ensemble: bool) -> tuple[str, ...]:
    """The names of the per-fit hook specs of one kind, in alphabetical order."""
    return tuple(
        n for n in dir(hookspecs)
        if n.startswith("ensemblekit_") and n != "ensemblekit_register_plugins"
        and getattr(getattr(hookspecs, n), "ensemblekit_ensemble_hook", False) is ensemble
    )


#: The hooks a network's training loop calls (wired by :class:`Hooks`).
TRAINING_HOOKS: tuple[str, ...] = _specs(ensemble=False)

#: The hooks an ensemble calls on its combiner, sampler and strategy (wired by
#: :class:`EnsembleHooks`).
ENSEMBLE_HOOKS: tuple[str, ...] = _specs(ensemble=True)

#: Hooks at most one plugin of a network may implement, and why.
_EXCLUSIVE_HOOKS = {
    "ensemblekit_learning_rate": "a network follows one learning-rate schedule, and "
                                 "each would overwrite the other's step size",
}


#: Every hook name of :mod:`ensemblekit.hookspecs`, discovery hook included.
ALL_HOOKS: tuple[str, ...] = tuple(n for n in dir(hookspecs) if n.startswith("ensemblekit_"))

#: The attribute pluggy's :data:`~ensemblekit.hookimpl` marker sets on a function.
HOOKIMPL_MARKER = "ensemblekit_impl"


def hook_name_problems(plugin_class: type) -> list[str]:
    """Say which ``ensemblekit_*`` methods of a plugin class would never be called.

    The prefix ``ensemblekit_`` is reserved for hooks: pluggy silently ignores a
    method that carries it but is not decorated with
    :data:`ensemblekit.hookimpl`, and a name that is no hook at all (a typo such
    as ``ensemblekit_epoch_ned``) would never be called either.  Decorated
    methods with unknown names are caught by pluggy itself.

    Parameters
    ----------
    plugin_class : type
        The plugin's class.

    Returns
    -------
    list of str
        One sentence per problem, naming the method and, for an unknown name,
        the nearest hook (``difflib``); empty when there is none.
    """
    problems = []
    for attr in sorted(dir(plugin_class)):
        method = getattr(plugin_class, attr, None)
        if not attr.startswith("ensemblekit_") or not callable(method):
            continue
        if attr not in ALL_HOOKS:
            close = difflib.get_close_matches(attr, ALL_HOOKS, n=1)
            hint = f"; did you mean {close[0]}?" if close else ""
            problems.append(f"method {attr} is not an ensemblekit hook{hint} (the prefix "
                            "ensemblekit_ is reserved for hooks)")
        elif not hasattr(method, HOOKIMPL_MARKER):
            problems.append(f"method {attr} is not decorated with @hookimpl (from "
                            "ensemblekit import hookimpl), so it would never be called")
    return problems


def read_only(data: Any) -> Any:
    """Return user data in a form a hook cannot change the caller's copy through.

    Parameters
    ----------
    data : ndarray, sparse matrix, DataFrame or other
        The caller's data, e.g. the ``X`` given to ``predict``.

    Returns
    -------
    object
        An ndarray: a view of it with ``flags.writeable`` False (writing raises
        ``ValueError``; no copy).  Anything with a ``copy`` method (a sparse
        matrix, a DataFrame): a copy.  Anything else: ``data`` itself.
    """
    if isinstance(data, np.ndarray):
        view = data.view()
        view.flags.writeable = False
        return view
    copy = getattr(data, "copy", None)
    return copy() if callable(copy) else data


class _HookCaller:
    """The hooks of one kind for one fit, with unimplemented hooks set to ``None``.

    Subclasses name their hooks in ``HOOKS`` and declare one attribute per hook
    (the name without its ``ensemblekit_`` prefix).

    Parameters
    ----------
    plugins : list of (str, Plugin)
        The resolved plugins of the fit.
    owned : callable or None, default=None
        Returns the arrays the caller owns beyond the hooks' arguments (an
        estimator's ``{"estimator.coefs_": est.coefs_, ...}``), looked up
        afresh before and after every call but ``fit_end``'s: the same
        in-place rule holds for them, checked by the same code.
    """

    #: The full names of the hooks this caller wires.
    HOOKS: tuple[str, ...] = ()

    def __init__(self, plugins: list[tuple[str, Plugin]],
                 owned: Callable[[], Mapping[str, Any]] | None = None) -> None:
        self.any = False
        for hook in self.HOOKS:
            setattr(self, hook[len("ensemblekit_"):], None)
        if not plugins:
            return
        pm = _new_manager()
        for name, plugin in plugins:
            problems = hook_name_problems(type(plugin))
            if problems:
                raise PluginError(f"plugin {name!r} ({type(plugin).__name__}): "
                                  f"{'; '.join(problems)}")
            try:
                pm.register(plugin, name=name)
            except pluggy.PluginValidationError as exc:
                raise PluginError(
                    f"plugin {name!r} implements a hook with arguments its "
                    f"specification does not have: {exc}"
                ) from None
        try:
            pm.check_pending()
        except pluggy.PluginValidationError as exc:
            raise PluginError(
                f"plugin {exc.plugin!r} implements a hook that does not exist: {exc}"
            ) from None
        self._pm = pm
        for hook in _EXCLUSIVE_HOOKS:  # a second one would silently override the first
            names = self.implementers(hook)
            if len(names) > 1:
                raise PluginError(
                    f"plugins {', '.join(map(repr, sorted(names)))} all implement {hook}: "
                    f"{_EXCLUSIVE_HOOKS[hook]}; keep one of them."
                )
        if env_flag("ENSEMBLEKIT_TRACE_PLUGINS"):
            pm.add_hookcall_monitoring(_trace_call, lambda *args: None)
        for hook in self.HOOKS:
            caller = getattr(pm.hook, hook)
            if caller.get_hookimpls():
                # after fit_end the loop no longer uses the arrays it owned
                guard = owned if hook != "ensemblekit_fit_end" else None
                setattr(self, hook[len("ensemblekit_"):], _guarded(caller, pm, guard))
                self.any = True

    def implementers(self, hook: str) -> list[str]:
        """Name the plugins that implement ``hook``, in pluggy's call order.

        Parameters
        ----------
        hook : str
            Full hook name, e.g. ``"ensemblekit_learning_rate"``.

        Returns
        -------
        list of str
            The plugins' names (empty when none does).
        """
        if not hasattr(self, "_pm"):
            return []
        return [i.plugin_name for i in reversed(getattr(self._pm.hook, hook).get_hookimpls())]

    def direct(self, hook: str) -> DirectHook | None:
        """Return a picklable caller of ``hook`` that needs no plugin manager.

        Used for inference hooks, which run on every ``predict`` long after the
        fit's plugin manager is gone.  The implementations are called in
        pluggy's order (``tryfirst``/``trylast`` respected); hook wrappers are
        not supported there.

        Parameters
        ----------
        hook : str
            Full hook name, e.g. ``"ensemblekit_predict_hidden"``.

        Returns
        -------
        DirectHook or None
            ``None`` when no plugin implements the hook.
        """
        if not hasattr(self, "_pm"):
            return None
        impls = getattr(self._pm.hook, hook).get_hookimpls()
        if not impls:
            return None
        for impl in impls:
            if impl.wrapper or impl.hookwrapper:
                raise PluginError(
                    f"plugin {impl.plugin_name!r} implements {hook} as a wrapper; "
                    "inference hooks must be plain implementations"
                )
        calls = [(i.plugin_name, getattr(i.plugin, i.function.__name__), tuple(i.argnames))
                 for i in reversed(impls)]
        return DirectHook(hook, calls)


class Hooks(_HookCaller):
    """The training hooks of one fit, with unimplemented hooks set to ``None``.

    Built from a fresh :class:`pluggy.PluginManager` holding the resolved
    plugin instances.  It is a local of ``fit`` and is never stored on the
    estimator (a plugin manager does not pickle).  Each attribute named like a
    training hook without its ``ensemblekit_`` prefix is either ``None`` (no
    plugin implements it; the loop skips it) or a callable taking the hook's
    keyword arguments; an exception raised inside a plugin is re-raised as
    :class:`PluginError` naming the plugin and the hook (except the ones that
    stop a fit for its caller, :func:`passes_through`), and so is a call
    after which an array argument of the loop's (``activation``, ``delta``,
    ``coefs``, ``params``, ``grads``, ...) was replaced, resized or retyped.
    """

    HOOKS = TRAINING_HOOKS

    # one per name in TRAINING_HOOKS, set in __init__ (tests/test_typing.py checks the
    # two agree); declared so that the loop's calls are type-checked
    after_step: Callable[..., Any] | None
    backward_hidden: Callable[..., Any] | None
    batch_end: Callable[..., Any] | None
    batch_start: Callable[..., Any] | None
    before_step: Callable[..., Any] | None
    epoch_end: Callable[..., Any] | None
    epoch_start: Callable[..., Any] | None
    fit_end: Callable[..., Any] | None
    fit_start: Callable[..., Any] | None
    forward_hidden: Callable[..., Any] | None
    learning_rate: Callable[..., Any] | None
    penalty: Callable[..., Any] | None
    predict_hidden: Callable[..., Any] | None
    should_stop: Callable[..., Any] | None


class EnsembleHooks(_HookCaller):
    """The ensemble hooks of one ensemble fit, with unimplemented hooks set to ``None``.

    Built, like :class:`Hooks`, from a fresh :class:`pluggy.PluginManager`
    holding the ensemble's combiner, sampler and strategy; each attribute named
    like an ensemble hook without its ``ensemblekit_`` prefix is ``None`` or a
    guarded callable.  A network's fit never sees these hooks.
    """

    HOOKS = ENSEMBLE_HOOKS

    # one per name in ENSEMBLE_HOOKS (tests/test_typing.py checks the two agree)
    check_ensemble: Callable[..., Any] | None
    collect_members: Callable[..., Any] | None
    combine: Callable[..., Any] | None
    member_outputs: Callable[..., Any] | None
    prepare_runs: Callable[..., Any] | None
    sample_member: Callable[..., Any] | None


class DirectHook:
    """Calls a hook's implementations directly, in a fixed order (picklable).

    Parameters
    ----------
    name : str
        The hook's name, for error messages.
    calls : list of (str, callable, tuple of str)
        Plugin name, bound hook method and the argument names it takes.
    """

    def __init__(self, name: str, calls: list[tuple[str, Callable, tuple[str, ...]]]
                 ) -> None:
        self.name = name
        self.calls = calls

    def __call__(self, **kwargs: Any) -> list[Any]:
        """Call every implementation with the arguments it asks for."""
        results = []
        for plugin, function, argnames in self.calls:
            state = _record(_state_args(self.name, kwargs))
            try:
                result = function(**{a: kwargs[a] for a in argnames})
            except Exception as exc:
                if passes_through(exc):
                    raise
                raise PluginError(f"plugin {plugin!r} failed in hook {self.name}: "
                                  f"{type(exc).__name__}: {exc}") from exc
            problem = _state_problem(state, self.name)
            if problem:
                raise _state_error(f"plugin {plugin!r}", problem)
            if result is not None:
                results.append(result)
        return results


#: Third-party exceptions that a hook may raise to stop a fit for the caller, as
#: ``(module, class name)``: like :class:`~ensemblekit.exceptions.TrainingAborted`
#: they are re-raised unchanged, not wrapped in :class:`PluginError`.  A class is
#: looked up only when its module has been imported (this module imports none).
#: ``optuna.TrialPruned``: Optuna marks a trial pruned only when its objective
#: raises it (:mod:`ensemblekit.integration.optuna`).
PASS_THROUGH_EXCEPTIONS: tuple[tuple[str, str], ...] = (
    ("optuna.exceptions", "TrialPruned"),
)


def passes_through(exc: BaseException) -> bool:
    """Whether an exception raised in a hook reaches the caller of ``fit`` unchanged.

    Parameters
    ----------
    exc : BaseException
        What a hook implementation raised.

    Returns
    -------
    bool
        True for a :class:`~ensemblekit.exceptions.TrainingAborted` and for the
        classes of :data:`PASS_THROUGH_EXCEPTIONS`; False for anything else,
        which the hook caller wraps in :class:`PluginError`.
    """
    if isinstance(exc, TrainingAborted):
        return True
    for module, name in PASS_THROUGH_EXCEPTIONS:
        cls = getattr(sys.modules.get(module), name, None)
        if isinstance(cls, type) and isinstance(exc, cls):
            return True
    return False


def _guarded(caller: pluggy.HookCaller, pm: pluggy.PluginManager,
             owned: Callable[[], Mapping[str, Any]] | None) -> Callable:
    def call(**kwargs: Any) -> Any:
        state = _record(_state_args(caller.name, kwargs))
        owned_state = _record(owned(), state) if owned is not None else []
        try:
            result = caller(**kwargs)
        except PluginError:
            raise
        except Exception as exc:
            if passes_through(exc):
                raise
            culprit = _culprit(exc, caller, pm)
            raise PluginError(
                f"plugin {culprit!r} failed in hook {caller.name}: "
                f"{type(exc).__name__}: {exc}"
            ) from exc
        problem = _state_problem(state, caller.name) or (
            _state_problem(owned_state, caller.name, owned()) if owned is not None
            else None)
        if problem:
            names = [i.plugin_name for i in caller.get_hookimpls()]
            who = (f"plugin {names[0]!r}" if len(names) == 1 else
                   f"one of the plugins implementing {caller.name} "
                   f"({', '.join(map(repr, names))})")
            raise _state_error(who, problem)
        return result

    return call


#: Hook arguments that are the training loop's own arrays, or lists of them.
#: A hook may change their values (in place) but must not replace, resize or
#: retype them: the loop and the optimizer keep using the original arrays.
_STATE_ARGS = ("activation", "delta", "coefs", "intercepts", "coef_grads",
               "intercept_grads", "params", "grads", "X")

_STATE_ARGS_OF: dict[str, tuple[str, ...]] = {}

#: name, the value (an array or a list of arrays), its arrays, their (shape, dtype) pairs,
#: and whether the value is also a hook argument (then checked as that argument)
_Entry = tuple[str, Any, tuple, list, bool]
_Snapshot = list[_Entry]


def _state_args(hook: str, kwargs: dict[str, Any]) -> dict[str, Any]:
    """The arguments of a call to ``hook`` that are the loop's own arrays."""
    names = _STATE_ARGS_OF.get(hook)
    if names is None:
        spec = getattr(hookspecs, hook, None)
        params = inspect.signature(spec).parameters if spec is not None else {}
        names = _STATE_ARGS_OF[hook] = tuple(a for a in _STATE_ARGS if a in params)
    return {name: kwargs[name] for name in names}


def _record(named: Mapping[str, Any], arguments: Sequence[_Entry] = ()) -> _Snapshot:
    """Record identity, shape and dtype of arrays (or lists of arrays) by name.

    A value that is one of the recorded ``arguments`` (an estimator's list
    given to the hook as an argument) shares that record.
    """
    # runs twice per hook call, every training step: one comprehension per value
    same = {id(entry[1]): entry for entry in arguments}
    state = []
    for name, value in named.items():
        twin = same.get(id(value))
        if twin is not None:
            state.append((name, value, twin[2], twin[3], True))
            continue
        arrays = tuple(value) if type(value) is list else (value,)
        try:
            layout = [(a.shape, a.dtype) for a in arrays]
        except AttributeError:
            continue  # not an array (a DataFrame given to an ensemble hook): nothing to hold
        state.append((name, value, arrays, layout, False))
    return state


def _state_problem(state: _Snapshot, hook: str,
                   now: Mapping[str, Any] | None = None) -> str | None:
    """Say how a recorded array was replaced, resized or retyped, if it was.

    ``now`` holds the values as they are after the call, looked up afresh
    (an estimator's attribute lists); without it the recorded values
    themselves are compared with what they held (the hook's arguments).
    """
    for name, value, before, layout, argument in state:
        if now is not None:
            if argument and now[name] is value:
                continue  # the arguments' check has compared its arrays
            value = now[name]
        arrays = value if type(value) is list else (value,)
        if (len(arrays) == len(before) and all(map(operator.is_, arrays, before))
                and [(a.shape, a.dtype) for a in arrays] == layout):
            continue
        problem = (f"{hook} replaced a parameter or gradient array: the list {name} "
                   f"now holds {len(arrays)} arrays instead of {len(before)}")
        for i, (array, orig, (shape, dtype)) in enumerate(zip(arrays, before, layout)):
            where = f"{name}[{i}]" if type(value) is list else name
            if array is not orig:
                problem = (f"{hook} replaced a parameter or gradient array: {where} "
                           "was rebound to a new array")
            elif array.shape != shape:
                problem = f"{hook} resized {where} from {shape} to {array.shape}"
            elif array.dtype != dtype:
                problem = f"{hook} changed the dtype of {where} from {dtype} to {array.dtype}"
            else:
                continue
            break
        return problem
    return None


def _state_error(who: str, problem: str) -> PluginError:
    return PluginError(
        f"{who} changed training state it must not: {problem}. "
        "Hooks must modify the arrays they are given in place (W *= s, "
        "np.clip(g, a, b, out=g)), never replace, resize or retype them."
    )


def _describe(value: Any) -> str:
    if isinstance(value, (bool, int, float, str)) or value is None:
        return repr(value)
    if hasattr(value, "shape") and hasattr(value, "dtype"):
        return f"<{type(value).__name__} {value.shape} {value.dtype}>"
    if isinstance(value, list):
        return f"<list of {len(value)}>"
    return f"<{type(value).__name__}>"


def _trace_call(hook: str, impls: Sequence[pluggy.HookImpl], kwargs: Mapping[str, Any]) -> None:
    """``ENSEMBLEKIT_TRACE_PLUGINS``: one line per hook call, to standard error."""
    args = ", ".join(f"{k}={_describe(v)}" for k, v in kwargs.items())
    plugins = ", ".join(i.plugin_name for i in reversed(impls))
    sys.stderr.write(f"ensemblekit: {hook}({args}) -> {plugins}\n")


def _culprit(exc: BaseException, caller: pluggy.HookCaller,
             pm: pluggy.PluginManager) -> str:
    codes = {}
    for impl in caller.get_hookimpls():
        func = getattr(impl.function, "__func__", impl.function)
        codes[func.__code__] = impl.plugin_name
    tb = exc.__traceback__
    found = None
    while tb is not None:
        if tb.tb_frame.f_code in codes:
            found = codes[tb.tb_frame.f_code]
        tb = tb.tb_next
    if found is None:
        found = ", ".join(i.plugin_name for i in caller.get_hookimpls())
    return found
