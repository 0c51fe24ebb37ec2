"""ensemblekit: regularised neural-network ensembles in numpy.

Public API
----------
MLPClassifier, MLPRegressor
    scikit-learn's multi-layer perceptrons, extended with plugins, more
    optimizers, initialisations and batch normalisation.
Plugin, hookimpl
    What a plugin author subclasses and decorates hooks with.
WeightDecay, Dropout
    The built-in regularisation plugins.
EnsembleClassifier, EnsembleRegressor
    Ensembles of networks trained in parallel (joblib, Dask), with uncertainty.
CoarseToFineSearchCV
    Random hyper-parameter search that narrows its ranges round by round.
exceptions
    Every public error and warning (:mod:`ensemblekit.exceptions`).
ColumnSchema
    Each feature column's kind, learnt in training and applied to every table.
save, load
    Safe model files (JSON + arrays, never a pickle); see :mod:`ensemblekit.io`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# Public name -> the module defining it.  Nothing below is imported until first
# used (module ``__getattr__``, PEP 562): ``import ensemblekit`` costs
# milliseconds, while scikit-learn and scipy take seconds to import, and the
# command line's ``--help`` needs neither.
_PUBLIC = {
    "CoarseToFineSearchCV": "search",
    "ColumnSchema": "schema",
    "DivergenceWarning": "exceptions",
    "Dropout": "default_plugins.dropout",
    "EnsembleClassifier": "ensemble",
    "EnsembleFitError": "exceptions",
    "EnsembleRegressor": "ensemble",
    "MLPClassifier": "mlp",
    "MLPRegressor": "mlp",
    "ModelFileError": "exceptions",
    "Plugin": "plugins",
    "PluginError": "exceptions",
    "PluginLoadWarning": "exceptions",
    "TrainingDiverged": "exceptions",
    "TrainingInterrupted": "exceptions",
    "WeightDecay": "default_plugins.weight_decay",
    "get_registry": "plugins",
    "hookimpl": "hookspecs",
    "load": "io",
    "save": "io",
}

__all__ = [
    "CoarseToFineSearchCV",
    "ColumnSchema",
    "DivergenceWarning",
    "Dropout",
    "EnsembleClassifier",
    "EnsembleFitError",
    "EnsembleRegressor",
    "MLPClassifier",
    "MLPRegressor",
    "ModelFileError",
    "Plugin",
    "PluginError",
    "PluginLoadWarning",
    "TrainingDiverged",
    "TrainingInterrupted",
    "WeightDecay",
    "__version__",
    "get_registry",
    "hookimpl",
    "load",
    "save",
]

if TYPE_CHECKING:  # what type checkers and IDEs see: the same names, eagerly
    from .default_plugins.dropout import Dropout
    from .default_plugins.weight_decay import WeightDecay
    from .ensemble import EnsembleClassifier, EnsembleRegressor
    from .exceptions import (
        DivergenceWarning,
        EnsembleFitError,
        ModelFileError,
        PluginError,
        PluginLoadWarning,
        TrainingDiverged,
        TrainingInterrupted,
    )
    from .hookspecs import hookimpl
    from .io import load, save
    from .mlp import MLPClassifier, MLPRegressor
    from .plugins import Plugin, get_registry
    from .schema import ColumnSchema
    from .search import CoarseToFineSearchCV


def __getattr__(name: str) -> Any:
    """Import a public name, or a submodule, on first access (PEP 562).

    Parameters
    ----------
    name : str
        A name of ``__all__`` or of a submodule (``ensemblekit.mlp``).

    Returns
    -------
    object

    Raises
    ------
    AttributeError
        If ``name`` is neither.
    """
    if name in _PUBLIC:
        value = getattr(importlib.import_module(f".{_PUBLIC[name]}", __name__), name)
    else:
        try:
            value = importlib.import_module(f".{name}", __name__)
        except ModuleNotFoundError as exc:
            if exc.name != f"{__name__}.{name}":
                raise
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    globals()[name] = value  # later accesses skip this function
    return value


def __dir__() -> list[str]:
    """The module's names, the not yet imported public ones included."""
    return sorted(set(globals()) | set(_PUBLIC))
