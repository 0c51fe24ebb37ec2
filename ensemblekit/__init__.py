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

__version__ = "0.1.0"

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
