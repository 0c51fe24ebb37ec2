"""The one importer of scikit-learn's private API.

scikit-learn keeps these names under underscore modules or names, so they may
move or change between releases without a deprecation cycle.  Every module of
ensemblekit imports them from here, so a scikit-learn release that moves one
breaks this file alone, and the test on the oldest supported scikit-learn
(``tests/test_minimum_versions.py``) shows whether the minimum still holds.

Names
-----
Interval, StrOptions, Options, HasMethods
    Constraint objects of ``_parameter_constraints`` (estimators, plugins);
    the same declarations scikit-learn's own estimators use, so a bad
    parameter raises scikit-learn's ``InvalidParameterError`` with its
    message.  In ``sklearn.utils._param_validation`` since scikit-learn 1.2.
validate_parameter_constraints
    The check behind ``BaseEstimator._validate_params``: a plugin's
    parameters against its ``_parameter_constraints``
    (:mod:`ensemblekit._constraints`; plugins are not estimators).  In
    ``sklearn.utils._param_validation`` since scikit-learn 1.2.
validate_params
    The decorator that checks the arguments of the public functions of
    :mod:`ensemblekit.metrics` against the same constraints.  In
    ``sklearn.utils._param_validation`` since scikit-learn 1.2.
BaseSearchCV
    The base class of :class:`~ensemblekit.CoarseToFineSearchCV`: it gives
    the search its cross-validation, refit and ``cv_results_`` (its
    ``_run_search`` is the documented extension point).  In
    ``sklearn.model_selection._search`` since scikit-learn 0.18.
safe_indexing
    ``sklearn.utils._safe_indexing``: rows of an array, sparse matrix, list
    or DataFrame, as ensemble members take them (bootstrap samples).  Under
    this name since scikit-learn 0.22.
check_sample_weight
    ``sklearn.utils.validation._check_sample_weight``: a ``sample_weight``
    checked and converted as scikit-learn's estimators do.  Since
    scikit-learn 0.22; its ``ensure_non_negative`` keyword since 1.6 (it was
    ``only_non_negative`` before).
routing_enabled, raise_for_params
    ``sklearn.utils.metadata_routing._routing_enabled`` (whether
    ``enable_metadata_routing`` is on) and ``_raise_for_params`` (scikit-learn's
    error for metadata given to a router's method while routing is off): what
    every scikit-learn router (``BaggingClassifier``) calls in ``fit``.  Since
    scikit-learn 1.3 and 1.4.
check_method_params
    ``sklearn.utils.validation._check_method_params``: a method's metadata,
    sample-aligned values taken at the given rows (a bagged member's
    ``sample_weight`` and any routed metadata), others passed through.  Since
    scikit-learn 1.4.
fit_context
    ``sklearn.base._fit_context``: the decorator scikit-learn's estimators put
    on ``fit`` -- it validates ``_parameter_constraints`` once and honours
    ``sklearn.config_context(skip_parameter_validation=...)`` for the nested
    estimators an ensemble fits.  Since scikit-learn 1.3.
"""

from __future__ import annotations

from sklearn.base import _fit_context as fit_context
from sklearn.model_selection._search import BaseSearchCV
from sklearn.utils import _safe_indexing as safe_indexing
from sklearn.utils._param_validation import (
    HasMethods,
    Interval,
    Options,
    StrOptions,
    validate_parameter_constraints,
    validate_params,
)
from sklearn.utils.metadata_routing import _raise_for_params as raise_for_params
from sklearn.utils.metadata_routing import _routing_enabled as routing_enabled
from sklearn.utils.validation import _check_method_params as check_method_params
from sklearn.utils.validation import _check_sample_weight as check_sample_weight

__all__ = [
    "BaseSearchCV",
    "HasMethods",
    "Interval",
    "Options",
    "StrOptions",
    "check_method_params",
    "check_sample_weight",
    "fit_context",
    "raise_for_params",
    "routing_enabled",
    "safe_indexing",
    "validate_parameter_constraints",
    "validate_params",
]
