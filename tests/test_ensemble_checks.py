"""scikit-learn's own estimator checks for both ensembles, with no expected failure.

Small members (16 or 32 hidden units, two members) keep the suite fast; the
regressor's members need 32 units and 200 epochs to pass
``check_regressors_train`` (R² > 0.5 on its training set), exactly as a single
``MLPRegressor`` does.
"""

import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from ensemblekit import EnsembleClassifier, EnsembleRegressor, MLPClassifier, MLPRegressor


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@parametrize_with_checks([
    EnsembleClassifier(MLPClassifier(hidden_layer_sizes=(16,), max_iter=100), n_estimators=2),
    EnsembleRegressor(MLPRegressor(hidden_layer_sizes=(32,), max_iter=200), n_estimators=2),
])
def test_sklearn_compatible(estimator, check):
    check(estimator)
