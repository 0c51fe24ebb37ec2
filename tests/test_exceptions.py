"""Every public error and warning lives in ensemblekit.exceptions; old paths still work."""

from __future__ import annotations

import importlib
import importlib.util
import inspect

import pytest

import ensemblekit
from ensemblekit import exceptions

# the module each class was defined in before ensemblekit.exceptions existed
OLD_PATHS = {
    "DivergenceWarning": "ensemblekit.mlp",
    "TrainingInterrupted": "ensemblekit.mlp",
    "TrainingDiverged": "ensemblekit.mlp",
    "PluginLoadWarning": "ensemblekit.plugins",
    "PluginError": "ensemblekit.plugins",
    "EnsembleFitError": "ensemblekit.ensemble",
    "ModelFileError": "ensemblekit.io",
}

# defined in ensemblekit.exceptions from the start (no old path, not re-exported at the top)
NEW = {
    "OnnxExportError": "ValueError",
    "SchemaError": "ValueError",
    "SchemaWarning": "UserWarning",
    "SettingError": "ValueError",
    "TrainingAborted": "Exception",
}

BASES = {
    "DivergenceWarning": "ConvergenceWarning",
    "TrainingInterrupted": "UserWarning",
    "TrainingDiverged": "ValueError",
    "PluginLoadWarning": "UserWarning",
    "PluginError": "RuntimeError",
    "EnsembleFitError": "RuntimeError",
    "ModelFileError": "ValueError",
}


# classes added since, importable from the module that raises them too
NEW_PATHS = {
    "OnnxExportError": "ensemblekit.onnx",
    "SchemaError": "ensemblekit.schema",
    "SchemaWarning": "ensemblekit.schema",
    "SettingError": "ensemblekit.config",
}


def _public_exception_classes(module) -> set[str]:
    return {name for name, obj in vars(module).items()
            if inspect.isclass(obj) and issubclass(obj, (Exception, Warning))
            and obj.__module__ == module.__name__ and not name.startswith("_")}


def test_exceptions_defines_exactly_the_public_errors_and_warnings():
    assert _public_exception_classes(exceptions) == set(OLD_PATHS) | set(NEW_PATHS) | set(NEW)
    assert set(OLD_PATHS) | set(NEW_PATHS) | set(NEW) <= set(exceptions.__all__)
    for name, path in NEW_PATHS.items():
        if path == "ensemblekit.onnx" and importlib.util.find_spec("skl2onnx") is None:
            continue  # the onnx extra is not installed (the minimum-versions venv)
        assert getattr(importlib.import_module(path), name) is getattr(exceptions, name)
    for name, base in NEW.items():
        assert base in [cls.__name__ for cls in getattr(exceptions, name).__mro__[1:]]


@pytest.mark.parametrize("module_name", sorted(
    {"ensemblekit.mlp", "ensemblekit.plugins", "ensemblekit.ensemble", "ensemblekit.io",
     "ensemblekit.search", "ensemblekit.metrics", "ensemblekit.reproduce",
     "ensemblekit.hookspecs", "ensemblekit.testing", "ensemblekit.default_plugins.dropout",
     "ensemblekit.default_plugins.weight_decay", "ensemblekit.default_plugins.bagging",
     "ensemblekit.default_plugins.combiners", "ensemblekit.default_plugins.snapshot",
     "ensemblekit.default_plugins.mc_dropout", "ensemblekit.default_plugins.schedules",
     "ensemblekit.schema", "ensemblekit.onnx", "ensemblekit.config"}))
def test_no_other_module_defines_a_public_error_or_warning(module_name):
    if module_name == "ensemblekit.onnx":
        pytest.importorskip("skl2onnx", reason="the onnx extra is not installed")
    # a class that a module merely re-exports keeps __module__ == "ensemblekit.exceptions"
    assert _public_exception_classes(importlib.import_module(module_name)) == set()


@pytest.mark.parametrize("name", sorted(OLD_PATHS))
def test_old_and_top_level_paths_give_the_same_class(name):
    cls = getattr(exceptions, name)
    assert cls.__module__ == "ensemblekit.exceptions"
    assert getattr(importlib.import_module(OLD_PATHS[name]), name) is cls
    assert getattr(ensemblekit, name) is cls
    assert name in ensemblekit.__all__
    assert BASES[name] in [base.__name__ for base in cls.__mro__[1:]]


def test_from_imports_of_the_old_paths():
    from ensemblekit.ensemble import EnsembleFitError
    from ensemblekit.io import ModelFileError
    from ensemblekit.mlp import (
        INTERRUPTED,
        DivergenceWarning,
        TrainingDiverged,
        TrainingInterrupted,
    )
    from ensemblekit.plugins import PluginError, PluginLoadWarning

    assert (DivergenceWarning, TrainingDiverged, TrainingInterrupted) == (
        exceptions.DivergenceWarning, exceptions.TrainingDiverged,
        exceptions.TrainingInterrupted)
    assert (PluginError, PluginLoadWarning, EnsembleFitError, ModelFileError) == (
        exceptions.PluginError, exceptions.PluginLoadWarning, exceptions.EnsembleFitError,
        exceptions.ModelFileError)
    assert INTERRUPTED == exceptions.INTERRUPTED


def test_the_estimator_raises_the_class_of_exceptions():
    import numpy as np

    from ensemblekit import MLPRegressor

    X = np.ones((4, 1)) * 1e300
    with pytest.raises(exceptions.TrainingDiverged):
        MLPRegressor(hidden_layer_sizes=(2,), max_iter=3, on_divergence="raise",
                     random_state=0).fit(X, np.ones(4) * 1e300)


def test_ensemble_fit_error_keeps_member_and_seed():
    exc = exceptions.EnsembleFitError("member 2 failed", member=2, seed=7)
    assert (str(exc), exc.member, exc.seed) == ("member 2 failed", 2, 7)
