"""Conformance kit for plugin authors.

:func:`check_plugin` runs every check on one plugin instance, as
scikit-learn's ``check_estimator`` does for estimators;
:func:`parametrize_with_plugin_checks` turns the same checks into one pytest
test each.  The helpers register a plugin class for one test
(:func:`registered_plugin`), build an isolated registry from chosen entry
points (:func:`isolated_registry`) and load small datasets
(:func:`toy_classification`, :func:`toy_regression`).

Examples
--------
In a plugin distribution's tests::

    from ensemblekit.testing import check_plugin, parametrize_with_plugin_checks
    from ensemblekit_maxnorm import MaxNorm

    def test_conformance():
        check_plugin(MaxNorm(max_norm=2.0))

    @parametrize_with_plugin_checks([MaxNorm(), MaxNorm(include_output=False)])
    def test_each_check(plugin, check):
        check(plugin)
"""

from ._checks import (
    Skipped,
    check_determinism,
    check_float32,
    check_hook_signatures,
    check_init_and_params,
    check_penalty_gradient,
    check_pickle,
    check_plugin,
    check_train_vs_predict,
    check_zero_strength,
    parametrize_with_plugin_checks,
    plugin_checks,
)
from ._helpers import isolated_registry, registered_plugin, toy_classification, toy_regression

__all__ = [
    "Skipped",
    "check_determinism",
    "check_float32",
    "check_hook_signatures",
    "check_init_and_params",
    "check_penalty_gradient",
    "check_pickle",
    "check_plugin",
    "check_train_vs_predict",
    "check_zero_strength",
    "isolated_registry",
    "parametrize_with_plugin_checks",
    "plugin_checks",
    "registered_plugin",
    "toy_classification",
    "toy_regression",
]
